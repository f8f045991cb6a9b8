import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

/// The routing engine: which agent gets which queued conversation, and when.
///
/// Everything runs inside the caller's transaction, and every transaction that moves
/// conversations between queue and agents takes its row locks in one order, so concurrent
/// routing cannot deadlock and never gives away a slot twice:
/// 1. the conversation rows it changes by id (`ConversationRows.lock`), except queued
///    conversations it pulls, which it takes with SKIP LOCKED (never waits for them);
/// 2. the skill group rows concerned, in id order (`lockGroups`): routing of one group is
///    serialised, so queue order is assignment order;
/// 3. the agent rows, in agent_id order (`candidates`). `FOR UPDATE` re-checks the capacity
///    condition after waiting for a concurrent transaction, so an agent whose last slot was
///    just taken is no longer a candidate (two chats never take an agent's last slot);
/// 4. the event outbox's position lock (an announcement), last. No writer takes the timeline
///    head: `TimelineSequencer` does, in transactions of its own.
/// A batch of messages (`ChatStore.writeMessages`) locks its conversations in one statement, in
/// conversation_id order, and takes nothing else but the outbox.
enum Routing {
  /// What routing needs to know about a skill group.
  struct Group: Sendable {
    var id: String
    var policy: Support_Chat_V1_AssignmentPolicy
    var lastAssignedAgentID: String
    var firstResponseTargetMicros: Int64
  }

  /// An ONLINE agent with free capacity, its row locked.
  struct Candidate: Sendable {
    var agentID: String
    var displayName: String
    var load: Int32
    var capacity: Int32
    var lastAssign: Date?
  }

  /// Locks the groups' rows in id order; returns the groups that exist by id.
  @discardableResult
  static func lockGroups(_ ids: [String], on connection: PostgresConnection, logger: Logger) async throws -> [String: Group] {
    let sorted = Array(Set(ids.filter { !$0.isEmpty })).sorted()
    guard !sorted.isEmpty else { return [:] }
    var groups: [String: Group] = [:]
    for try await (id, policy, last, target) in try await connection.query(
      """
      SELECT skill_group_id, assignment_policy, last_assigned_agent_id, first_response_target_us FROM skill_groups
      WHERE skill_group_id = ANY(\(sorted)) ORDER BY skill_group_id FOR UPDATE
      """, logger: logger
    ).decode((String, Int16, String, Int64).self) {
      groups[id] = Group(
        id: id, policy: Support_Chat_V1_AssignmentPolicy(rawValue: Int(policy)) ?? .leastLoaded, lastAssignedAgentID: last,
        firstResponseTargetMicros: target)
    }
    return groups
  }

  /// How many members of the group are ONLINE now.
  static func onlineCount(_ groupID: String, on connection: PostgresConnection, logger: Logger) async throws -> Int {
    for try await count in try await connection.query(
      """
      SELECT count(*) FROM agent_skill_groups m JOIN agents a ON a.agent_id = m.agent_id
      WHERE m.skill_group_id = \(groupID) AND a.presence = 1
      """, logger: logger
    ).decode(Int64.self) { return Int(count) }
    return 0
  }

  /// The group's ONLINE members with free capacity, their rows locked in agent_id order.
  static func candidates(in groupID: String, on connection: PostgresConnection, logger: Logger) async throws -> [Candidate] {
    var result: [Candidate] = []
    for try await (id, name, load, capacity, lastAssign) in try await connection.query(
      """
      SELECT a.agent_id, a.display_name, a.current_load, a.max_concurrent_conversations, a.last_assign_at
      FROM agents a JOIN agent_skill_groups m ON m.agent_id = a.agent_id
      WHERE m.skill_group_id = \(groupID) AND a.presence = 1 AND a.current_load < a.max_concurrent_conversations
      ORDER BY a.agent_id FOR UPDATE OF a
      """, logger: logger
    ).decode((UUID, String, Int32, Int32, Date?).self) {
      result.append(Candidate(agentID: id.uuidString.lowercased(), displayName: name, load: load, capacity: capacity, lastAssign: lastAssign))
    }
    return result
  }

  /// The candidate the policy picks; nil for MANUAL or when there is none.
  static func choose(
    from candidates: [Candidate], policy: Support_Chat_V1_AssignmentPolicy, after lastAssigned: String
  ) -> Candidate? {
    switch policy {
    case .roundRobin:
      // The fixed rotation is agent_id order; candidates are sorted by it already.
      return candidates.first { $0.agentID > lastAssigned } ?? candidates.first
    case .manual:
      return nil
    default:
      return candidates.min { a, b in
        // load/capacity compared exactly (cross-multiplied): no floating-point ties.
        let left = Int64(a.load) * Int64(b.capacity)
        let right = Int64(b.load) * Int64(a.capacity)
        if left != right { return left < right }
        let aIdle = a.lastAssign ?? .distantPast
        let bIdle = b.lastAssign ?? .distantPast
        if aIdle != bIdle { return aIdle < bIdle }
        return a.agentID < b.agentID
      }
    }
  }

  /// The oldest QUEUED conversation of the group that no other transaction holds, locked.
  static func nextQueued(in groupID: String, offlineFirst: Bool, on connection: PostgresConnection, logger: Logger) async throws -> Conversation? {
    let order = offlineFirst ? "offline DESC, enqueued_at, conversation_id" : "enqueued_at, conversation_id"
    for try await body in try await connection.query(
      """
      SELECT body FROM conversations WHERE status = 1 AND skill_group_id = \(groupID)
      ORDER BY \(unescaped: order) LIMIT 1 FOR UPDATE SKIP LOCKED
      """, logger: logger
    ).decode(ByteBuffer.self) {
      return try Conversation(bytea: body)
    }
    return nil
  }

  /// The assigned agent's load changed by `delta` (close, transfer, assignment).
  static func changeLoad(of agentID: String, by delta: Int32, assignedAt: Date? = nil, on connection: PostgresConnection, logger: Logger) async throws {
    guard let id = UUID(uuidString: agentID) else { return }
    try await connection.query(
      """
      UPDATE agents SET current_load = greatest(current_load + \(delta), 0),
        last_assign_at = coalesce(\(assignedAt), last_assign_at)
      WHERE agent_id = \(id)
      """, logger: logger)
  }

  /// Makes a locked QUEUED (or, for a transfer, ACTIVE) conversation ACTIVE with `agent`: the
  /// agent's load rises by one, the assignment is recorded for history and wait estimates,
  /// and the events are queued on `writer`. The caller saves nothing: this saves the row.
  static func assign(
    _ conversation: inout Conversation, to agentID: String, displayName: String, policy: Support_Chat_V1_AssignmentPolicy,
    targetMicros: Int64, actor: Support_Common_V1_Actor, writer: inout TimelineWriter, at now: Date, on connection: PostgresConnection, logger: Logger
  ) async throws {
    let previous = conversation.status
    try await changeLoad(of: agentID, by: 1, assignedAt: now, on: connection, logger: logger)
    if policy == .roundRobin {
      try await connection.query(
        "UPDATE skill_groups SET last_assigned_agent_id = \(agentID) WHERE skill_group_id = \(conversation.skillGroupID)",
        logger: logger)
    }
    conversation.status = .active
    conversation.assignedAgentID = agentID
    if !conversation.hasFirstAssignTime { conversation.firstAssignTime = now.timestamp }
    FirstResponseSLA.assigned(&conversation, targetMicros: targetMicros)
    conversation.updateTime = now.timestamp
    conversation.version += 1
    conversation.queuePosition = 0
    let groupID = conversation.skillGroupID
    writer.record(
      .assigned(.with {
        $0.agentID = agentID; $0.agentDisplayName = displayName; $0.skillGroupID = groupID; $0.policy = policy; $0.actor = actor
      }), in: &conversation, at: now)
    if previous != .active {
      writer.record(
        .statusChanged(.with { $0.previousStatus = previous; $0.status = .active; $0.actor = actor }), in: &conversation, at: now)
    }
    try await recordAssignment(conversation, agentID: agentID, at: now, on: connection, logger: logger)
    // A new agent starts with the shopper waiting on the desk: no inactivity clock runs.
    try await InactivitySweeper.clear(conversation, on: connection, logger: logger)
    try await AssignmentGreeting.post(
      in: &conversation, agentID: agentID, displayName: displayName, writer: &writer, at: now, on: connection, logger: logger)
    try await ConversationRows.save(conversation, on: connection, logger: logger)
  }

  /// History of who handled the conversation (participating agents, wait estimates).
  static func recordAssignment(_ conversation: Conversation, agentID: String, at now: Date, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query(
      """
      INSERT INTO conversation_assignments (conversation_id, sequence, agent_id, skill_group_id, assigned_at)
      VALUES (\(UUID(uuidString: conversation.conversationID)!), \(conversation.lastSequence), \(agentID),
        \(conversation.skillGroupID), \(now))
      """, logger: logger)
  }

  /// The first reply target of a group that does not say (6 seconds).
  static let defaultTargetMicros: Int64 = 6_000_000

  /// The system as the actor of automatic assignments.
  static let system = Support_Common_V1_Actor.with { $0.kind = .system; $0.id = "chat-routing" }

  /// Assigns the groups' queued conversations, oldest first, while their policies find an
  /// agent with free capacity. The groups must be locked (`lockGroups`). Returns the
  /// conversations it assigned.
  @discardableResult
  static func drain(
    _ groups: [Group], writer: inout TimelineWriter, at now: Date, on connection: PostgresConnection, logger: Logger
  ) async throws -> [Conversation] {
    var assigned: [Conversation] = []
    for var group in groups.sorted(by: { $0.id < $1.id }) where group.policy != .manual {
      while true {
        let candidates = try await candidates(in: group.id, on: connection, logger: logger)
        guard let agent = choose(from: candidates, policy: group.policy, after: group.lastAssignedAgentID),
          var conversation = try await nextQueued(in: group.id, offlineFirst: false, on: connection, logger: logger)
        else { break }
        try await assign(
          &conversation, to: agent.agentID, displayName: agent.displayName, policy: group.policy,
          targetMicros: group.firstResponseTargetMicros, actor: system, writer: &writer,
          at: now, on: connection, logger: logger)
        group.lastAssignedAgentID = agent.agentID
        assigned.append(conversation)
      }
    }
    return assigned
  }

  /// After an agent's presence or profile changed (row locked, groups locked): an ONLINE agent
  /// with free capacity takes waiting conversations of its groups, offline messages first,
  /// then oldest first, up to capacity (MANUAL groups excepted). Flushes the timeline (so it
  /// is the last thing the transaction does) and returns the agent as stored then.
  static func pullForAgent(_ agent: Agent, on connection: PostgresConnection, logger: Logger) async throws -> Agent {
    let pulled = try await pullWaiting(for: agent, on: connection, logger: logger)
    // As stored (load, times at the column's precision), read before the flush that ends it.
    let stored = try await AgentRows.agent(UUID(uuidString: agent.agentID)!, on: connection, logger: logger) ?? agent
    try await pulled.flush(on: connection, logger: logger)
    return stored
  }

  private static func pullWaiting(for agent: Agent, on connection: PostgresConnection, logger: Logger) async throws -> TimelineWriter {
    var writer = TimelineWriter()
    guard agent.presence == .online else { return writer }
    let groups = try await lockGroups(agent.skillGroupIds, on: connection, logger: logger)
    let eligible = groups.values.filter { $0.policy != .manual }.map(\.id).sorted()
    let free = agent.maxConcurrentConversations - agent.currentLoad
    guard free > 0, !eligible.isEmpty else { return writer }
    let now = Date.nowMicroseconds
    var pulled: [Conversation] = []
    for try await body in try await connection.query(
      """
      SELECT body FROM conversations WHERE status = 1 AND skill_group_id = ANY(\(eligible))
      ORDER BY offline DESC, enqueued_at, conversation_id LIMIT \(Int64(free)) FOR UPDATE SKIP LOCKED
      """, logger: logger
    ).decode(ByteBuffer.self) {
      pulled.append(try Conversation(bytea: body))
    }
    for var conversation in pulled {
      let group = groups[conversation.skillGroupID]
      try await assign(
        &conversation, to: agent.agentID, displayName: agent.displayName, policy: group?.policy ?? .leastLoaded,
        targetMicros: group?.firstResponseTargetMicros ?? defaultTargetMicros, actor: system, writer: &writer,
        at: now, on: connection, logger: logger)
    }
    return writer
  }
}

extension Routing {
  /// StartConversation, inside its transaction before the insert: the skill group exists
  /// (NOT_FOUND otherwise) and is locked, and how many of its agents are ONLINE (none: the
  /// conversation is an offline message).
  static func admit(groupID: String, field: String, on connection: PostgresConnection, logger: Logger) async throws -> (group: Group, online: Int) {
    guard let group = try await lockGroups([groupID], on: connection, logger: logger)[groupID] else {
      throw ServiceError.notFound("skill group (\(field))", groupID)
    }
    return (group, try await onlineCount(groupID, on: connection, logger: logger))
  }

  /// StartConversation, after the insert and its events: stores the columns lists filter on,
  /// then runs the group's policy, which may assign this conversation at once (it is then
  /// returned ACTIVE) or an older one first.
  static func routeStarted(
    _ conversation: inout Conversation, group: Group, writer: inout TimelineWriter, at now: Date, on connection: PostgresConnection, logger: Logger
  ) async throws {
    try await connection.query(
      """
      UPDATE conversations SET offline = \(conversation.offline), order_id = \(conversation.orderID)
      WHERE conversation_id = \(UUID(uuidString: conversation.conversationID)!)
      """, logger: logger)
    let assigned = try await drain([group], writer: &writer, at: now, on: connection, logger: logger)
    if let mine = assigned.first(where: { $0.conversationID == conversation.conversationID }) { conversation = mine }
  }
}
