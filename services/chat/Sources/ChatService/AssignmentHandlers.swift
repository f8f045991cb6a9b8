import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// ConversationService methods that move a conversation between the queue and agents:
/// AssignConversation, TransferConversation, GetQueuePosition. Routing.swift holds the engine
/// and its lock order; every write here is one transaction ending with the timeline flush.
struct AssignmentHandlers: RegistrableRPCService {
  typealias Methods = Support_Chat_V1_ConversationService.Method
  static let errorDomain = ConversationHandlers.errorDomain
  let database: Database
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.AssignConversation.descriptor, assignConversation)
    router.registerUnary(Methods.TransferConversation.descriptor, transferConversation)
    router.registerUnary(Methods.GetQueuePosition.descriptor, getQueuePosition)
  }

  static func refused(_ reason: String, _ message: String, _ metadata: [String: String] = [:]) -> GoogleRPCStatus {
    ServiceError.failedPrecondition(reason: reason, domain: errorDomain, message, metadata: metadata)
  }

  /// The conversation locked, after the common checks (exists, version).
  static func lockConversation(
    _ rawID: String, expectedVersion: Int64, on connection: PostgresConnection, logger: Logger
  ) async throws -> Conversation {
    guard let id = UUID(uuidString: rawID), let conversation = try await ConversationRows.lock(id, on: connection, logger: logger) else {
      throw ServiceError.notFound("conversation", rawID)
    }
    if expectedVersion != 0 && expectedVersion != conversation.version {
      throw ServiceError.versionMismatch("conversation \(conversation.conversationID)", expected: expectedVersion, actual: conversation.version)
    }
    return conversation
  }

  /// The skill groups an agent belongs to (read without locking, to lock them in order next).
  static func groupsOf(_ agentID: String, on connection: PostgresConnection, logger: Logger) async throws -> [String] {
    guard let id = UUID(uuidString: agentID) else { return [] }
    var groups: [String] = []
    for try await group in try await connection.query(
      "SELECT skill_group_id FROM agent_skill_groups WHERE agent_id = \(id) ORDER BY position", logger: logger
    ).decode(String.self) { groups.append(group) }
    return groups
  }

  /// The agent a conversation is given to explicitly, locked, with the checks the contract
  /// names (ONLINE, member when required, free capacity unless overridden).
  static func lockTarget(
    _ rawID: String, field: String, memberOf groupID: String?, overrideCapacity: Bool, on connection: PostgresConnection, logger: Logger
  ) async throws -> Agent {
    guard let id = UUID(uuidString: rawID), let agent = try await AgentRows.agent(id, forUpdate: true, on: connection, logger: logger) else {
      throw ServiceError.notFound("agent (\(field))", rawID)
    }
    let facts = ["agent_id": agent.agentID]
    guard agent.presence == .online else {
      throw refused("AGENT_NOT_ONLINE", "agent \(agent.agentID) is \(agent.presence), not ONLINE", facts)
    }
    if let groupID = groupID, !agent.skillGroupIds.contains(groupID) {
      throw refused("AGENT_NOT_IN_SKILL_GROUP", "agent \(agent.agentID) is not a member of skill group \(groupID)", facts.merging(["skill_group_id": groupID]) { a, _ in a })
    }
    if !overrideCapacity && agent.currentLoad >= agent.maxConcurrentConversations {
      throw refused(
        "AGENT_AT_CAPACITY", "agent \(agent.agentID) has no free capacity (\(agent.currentLoad) of \(agent.maxConcurrentConversations))", facts)
    }
    return agent
  }

  @Sendable func assignConversation(_ request: Support_Chat_V1_AssignConversationRequest) async throws -> Conversation {
    let caller = try Permissions.requireStaff("assign conversations")
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    try Validate.required(request.conversationID, "conversation_id")
    try Validate.maxLength(request.agentID, "agent_id", Validate.maxIDLength)
    if request.overrideCapacity && caller.role != .supervisor {
      throw Permissions.denied("override_capacity: only supervisors may assign beyond an agent's capacity")
    }
    // An agent takes a conversation for themselves; a supervisor or service picks anyone.
    if caller.role == .agent && !request.agentID.isEmpty && request.agentID.lowercased() != caller.subject.lowercased() {
      throw Permissions.denied("agent_id: an agent may assign a conversation only to themselves")
    }
    let now = Date.nowMicroseconds
    return try await database.withTransaction(logger: log) { connection in
      var conversation = try await Self.lockConversation(request.conversationID, expectedVersion: request.expectedVersion, on: connection, logger: self.log)
      guard conversation.status == .queued else {
        throw Self.refused(
          "CONVERSATION_NOT_QUEUED", "conversation \(conversation.conversationID) is \(conversation.status), not QUEUED",
          ["conversation_id": conversation.conversationID])
      }
      let targetGroups = request.agentID.isEmpty ? [] : try await Self.groupsOf(request.agentID.lowercased(), on: connection, logger: self.log)
      let groups = try await Routing.lockGroups([conversation.skillGroupID] + targetGroups, on: connection, logger: self.log)
      var writer = TimelineWriter()
      if request.agentID.isEmpty {
        // Re-run the group's policy; MANUAL groups, asked explicitly, get the least loaded.
        let group = groups[conversation.skillGroupID]
        let policy = group.map { $0.policy == .manual ? .leastLoaded : $0.policy } ?? .leastLoaded
        let candidates = try await Routing.candidates(in: conversation.skillGroupID, on: connection, logger: self.log)
        guard let agent = Routing.choose(from: candidates, policy: policy, after: group?.lastAssignedAgentID ?? "") else {
          throw Self.refused(
            "NO_AVAILABLE_AGENT", "no ONLINE agent of skill group \(conversation.skillGroupID) has free capacity",
            ["skill_group_id": conversation.skillGroupID])
        }
        try await Routing.assign(
          &conversation, to: agent.agentID, displayName: agent.displayName, policy: policy,
          targetMicros: group?.firstResponseTargetMicros ?? Routing.defaultTargetMicros, actor: actor, writer: &writer, at: now,
          on: connection, logger: self.log)
      } else {
        let agent = try await Self.lockTarget(
          request.agentID.lowercased(), field: "agent_id", memberOf: conversation.skillGroupID, overrideCapacity: request.overrideCapacity,
          on: connection, logger: self.log)
        try await Routing.assign(
          &conversation, to: agent.agentID, displayName: agent.displayName, policy: .unspecified,
          targetMicros: groups[conversation.skillGroupID]?.firstResponseTargetMicros ?? Routing.defaultTargetMicros, actor: actor,
          writer: &writer, at: now,
          on: connection, logger: self.log)
      }
      try await writer.flush(on: connection, logger: self.log)
      return conversation
    }
  }

  static let maxReasonLength = 500

  @Sendable func transferConversation(_ request: Support_Chat_V1_TransferConversationRequest) async throws -> Conversation {
    let caller = try Permissions.requireStaff("transfer conversations")
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    try Validate.required(request.conversationID, "conversation_id")
    switch request.target {
    case .toAgentID(let id)?: try Validate.required(id, "to_agent_id")
    case .toSkillGroupID(let id)?: try Validate.required(id, "to_skill_group_id")
    case nil: throw ServiceError.invalidArgument("target", "is required: set to_agent_id or to_skill_group_id")
    }
    try Validate.required(request.reason, "reason", maxLength: Self.maxReasonLength)
    let now = Date.nowMicroseconds
    return try await database.withTransaction(logger: log) { connection in
      var conversation = try await Self.lockConversation(request.conversationID, expectedVersion: request.expectedVersion, on: connection, logger: self.log)
      if caller.role == .agent && conversation.assignedAgentID != caller.subject.lowercased() {
        throw Permissions.denied("only the assigned agent, a supervisor or a service may transfer this conversation")
      }
      guard conversation.status != .closed else {
        throw Self.refused(
          "CONVERSATION_CLOSED", "conversation \(conversation.conversationID) is CLOSED", ["conversation_id": conversation.conversationID])
      }
      let fromAgent = conversation.assignedAgentID
      let fromGroup = conversation.skillGroupID
      let previous = conversation.status
      var writer = TimelineWriter()
      var transferred = Support_Chat_V1_ConversationTransferred()
      transferred.fromAgentID = fromAgent
      transferred.fromSkillGroupID = fromGroup
      transferred.reason = request.reason
      transferred.actor = actor
      // Lock every group whose queue may move (source, target, the freed agent's), then agents.
      var touched = [fromGroup]
      if !fromAgent.isEmpty { touched += try await Self.groupsOf(fromAgent, on: connection, logger: self.log) }
      switch request.target {
      case .toAgentID(let rawTarget)?:
        let targetID = rawTarget.lowercased()
        guard targetID != fromAgent else {
          throw Self.refused(
            "TRANSFER_TO_CURRENT_AGENT", "conversation \(conversation.conversationID) is already assigned to agent \(targetID)",
            ["agent_id": targetID])
        }
        let targetGroups = try await Self.groupsOf(targetID, on: connection, logger: self.log)
        touched += targetGroups
        let groups = try await Routing.lockGroups(touched, on: connection, logger: self.log)
        let agent = try await Self.lockTarget(targetID, field: "to_agent_id", memberOf: nil, overrideCapacity: false, on: connection, logger: self.log)
        if !fromAgent.isEmpty { try await Routing.changeLoad(of: fromAgent, by: -1, on: connection, logger: self.log) }
        // The group after the transfer: the current one if the agent works for it, else theirs.
        if !agent.skillGroupIds.contains(fromGroup), let first = agent.skillGroupIds.first { conversation.skillGroupID = first }
        transferred.toAgentID = agent.agentID
        transferred.toSkillGroupID = conversation.skillGroupID
        try await Routing.changeLoad(of: agent.agentID, by: 1, assignedAt: now, on: connection, logger: self.log)
        conversation.status = .active
        conversation.assignedAgentID = agent.agentID
        if !conversation.hasFirstAssignTime { conversation.firstAssignTime = now.timestamp }
        FirstResponseSLA.assigned(
          &conversation, targetMicros: groups[conversation.skillGroupID]?.firstResponseTargetMicros ?? Routing.defaultTargetMicros)
        conversation.transferCount += 1
        conversation.updateTime = now.timestamp
        conversation.version += 1
        writer.record(.transferred(transferred), in: &conversation, at: now, concerning: [fromAgent])
        if previous != .active {
          writer.record(.statusChanged(.with { $0.previousStatus = previous; $0.status = .active; $0.actor = actor }), in: &conversation, at: now)
        }
        try await Routing.recordAssignment(conversation, agentID: agent.agentID, at: now, on: connection, logger: self.log)
        // As at every assignment to an agent: no inactivity clock runs for the new agent, and the
        // group's greeting is posted on their behalf.
        try await InactivitySweeper.clear(conversation, on: connection, logger: self.log)
        try await AssignmentGreeting.post(
          in: &conversation, agentID: agent.agentID, displayName: agent.displayName, writer: &writer, at: now, on: connection, logger: self.log)
        try await ConversationRows.save(conversation, on: connection, logger: self.log)
        // The previous agent's freed slot pulls the next waiting conversation at once.
        try await Routing.drain(Array(groups.values), writer: &writer, at: now, on: connection, logger: self.log)
      case .toSkillGroupID(let targetGroup)?:
        touched.append(targetGroup)
        let groups = try await Routing.lockGroups(touched, on: connection, logger: self.log)
        guard groups[targetGroup] != nil else { throw ServiceError.notFound("skill group (to_skill_group_id)", targetGroup) }
        if !fromAgent.isEmpty { try await Routing.changeLoad(of: fromAgent, by: -1, on: connection, logger: self.log) }
        transferred.toSkillGroupID = targetGroup
        // Back in line with its original enqueue time: it keeps its place by age.
        conversation.status = .queued
        conversation.assignedAgentID = ""
        conversation.skillGroupID = targetGroup
        conversation.transferCount += 1
        conversation.updateTime = now.timestamp
        conversation.version += 1
        writer.record(.transferred(transferred), in: &conversation, at: now, concerning: [fromAgent])
        if previous != .queued {
          writer.record(.statusChanged(.with { $0.previousStatus = previous; $0.status = .queued; $0.actor = actor }), in: &conversation, at: now)
        }
        try await ConversationRows.save(conversation, on: connection, logger: self.log)
        let assigned = try await Routing.drain(Array(groups.values), writer: &writer, at: now, on: connection, logger: self.log)
        if let again = assigned.first(where: { $0.conversationID == conversation.conversationID }) { conversation = again }
      case nil:
        throw ServiceError.invalidArgument("target", "is required")
      }
      try await writer.flush(on: connection, logger: self.log)
      if conversation.status == .queued {
        conversation.queuePosition = try await QueueRows.position(of: conversation, on: connection, logger: self.log)
      }
      return conversation
    }
  }

  @Sendable func getQueuePosition(_ request: Support_Chat_V1_GetQueuePositionRequest) async throws -> Support_Chat_V1_QueuePosition {
    guard let id = try Validate.resourceID(request.conversationID, "conversation_id") else {
      throw ServiceError.notFound("conversation", request.conversationID)
    }
    return try await database.withConnection(logger: log) { connection in
      guard let conversation = try await QueueRows.conversation(id, on: connection, logger: self.log) else {
        throw ServiceError.notFound("conversation", request.conversationID)
      }
      try ConversationHandlers.requireParticipant(conversation.shopperID)
      guard conversation.status == .queued else {
        throw Self.refused(
          "CONVERSATION_NOT_QUEUED", "conversation \(conversation.conversationID) is \(conversation.status), not QUEUED",
          ["conversation_id": conversation.conversationID])
      }
      return try await QueueRows.snapshot(of: conversation, on: connection, logger: self.log)
    }
  }
}
