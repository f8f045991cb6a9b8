import Foundation
import GRPCCore
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

typealias Agent = Support_Chat_V1_Agent
typealias SkillGroup = Support_Chat_V1_SkillGroup

/// Skill group ids are readable slugs of the group's name ("After Sales" -> "after-sales"), so
/// configuration (SUPPORTMESH_CHAT_DEFAULT_SKILL_GROUP) and clients can name a group without a
/// lookup. Names are unique case-insensitively, so two groups cannot share a slug silently: a
/// clash is ALREADY_EXISTS at create.
enum SkillGroupID {
  static func from(name: String) -> String {
    var slug = ""
    var pendingDash = false
    for character in name.lowercased() {
      if character.isLetter || character.isNumber {
        if pendingDash && !slug.isEmpty { slug.append("-") }
        pendingDash = false
        slug.append(character)
      } else {
        pendingDash = true
      }
    }
    return slug
  }
}

/// The SQL of AgentService: agents, skill groups, membership. Every function runs on the
/// caller's connection so handlers can combine it with routing in one transaction.
enum AgentRows {
  /// The agent columns in `Agent` order, for every query that returns agents (membership in
  /// the same statement: no query per agent).
  static let agentColumns = """
    a.agent_id, a.display_name, a.employee_id, a.role, a.max_concurrent_conversations, a.current_load, a.presence,
    a.presence_at, a.last_assign_at, a.created_at, a.updated_at, a.version,
    ARRAY(SELECT m.skill_group_id FROM agent_skill_groups m WHERE m.agent_id = a.agent_id ORDER BY m.position)
    """

  static func agents(_ rows: PostgresRowSequence) async throws -> [Agent] {
    var agents: [Agent] = []
    for try await (id, name, employee, role, capacity, load, presence, presenceAt, lastAssign, created, updated, version, groups)
      in rows.decode((UUID, String, String, Int16, Int32, Int32, Int16, Date, Date?, Date, Date, Int64, [String]).self)
    {
      var agent = Agent()
      agent.agentID = id.uuidString.lowercased()
      agent.displayName = name
      agent.employeeID = employee
      agent.role = Support_Chat_V1_AgentRole(rawValue: Int(role)) ?? .unspecified
      agent.maxConcurrentConversations = capacity
      agent.currentLoad = load
      agent.presence = Support_Chat_V1_AgentPresence(rawValue: Int(presence)) ?? .unspecified
      agent.presenceTime = presenceAt.timestamp
      if let lastAssign { agent.lastAssignTime = lastAssign.timestamp }
      agent.createTime = created.timestamp
      agent.updateTime = updated.timestamp
      agent.version = version
      agent.skillGroupIds = groups
      agents.append(agent)
    }
    return agents
  }

  static func agent(_ id: UUID, forUpdate: Bool = false, on connection: PostgresConnection, logger: Logger) async throws -> Agent? {
    let lock = forUpdate ? " FOR UPDATE OF a" : ""
    return try await agents(
      connection.query("SELECT \(unescaped: agentColumns) FROM agents a WHERE a.agent_id = \(id)\(unescaped: lock)", logger: logger)
    ).first
  }

  /// The groups among `ids` that do not exist, in the order given.
  static func missingGroups(_ ids: [String], on connection: PostgresConnection, logger: Logger) async throws -> [String] {
    guard !ids.isEmpty else { return [] }
    var found = Set<String>()
    for try await id in try await connection.query(
      "SELECT skill_group_id FROM skill_groups WHERE skill_group_id = ANY(\(ids))", logger: logger
    ).decode(String.self) { found.insert(id) }
    return ids.filter { !found.contains($0) }
  }

  static func requireGroups(_ ids: [String], field: String, on connection: PostgresConnection, logger: Logger) async throws {
    if let missing = try await missingGroups(ids, on: connection, logger: logger).first {
      throw ServiceError.notFound("skill group (\(field))", missing)
    }
  }

  static func requireUniqueEmployeeID(_ employeeID: String, except agentID: UUID?, on connection: PostgresConnection, logger: Logger) async throws {
    guard !employeeID.isEmpty else { return }
    for try await other in try await connection.query(
      "SELECT agent_id FROM agents WHERE employee_id = \(employeeID)", logger: logger
    ).decode(UUID.self) where other != agentID {
      throw ServiceError.alreadyExists(
        reason: "EMPLOYEE_ID_TAKEN", domain: ConversationHandlers.errorDomain,
        "employee_id \(employeeID) already belongs to agent \(other.uuidString.lowercased())",
        metadata: ["agent_id": other.uuidString.lowercased()])
    }
  }

  /// The agent first created with `requestID`: nil when new; ALREADY_EXISTS when the request id
  /// was used with different content.
  static func agentCreated(requestID: String, fingerprint: String, on connection: PostgresConnection, logger: Logger) async throws -> Agent? {
    for try await (stored, id) in try await connection.query(
      "SELECT request_fingerprint, agent_id FROM agents WHERE request_id = \(requestID)", logger: logger
    ).decode((String, UUID).self) {
      guard stored == fingerprint else {
        throw ServiceError.alreadyExists("request_id was already used for agent \(id.uuidString.lowercased()) with different content")
      }
      return try await agent(id, on: connection, logger: logger)
    }
    return nil
  }

  static func insert(_ agent: Agent, requestID: String, fingerprint: String, on connection: PostgresConnection, logger: Logger) async throws {
    let id = UUID(uuidString: agent.agentID)!
    try await connection.query(
      """
      INSERT INTO agents (agent_id, request_id, request_fingerprint, display_name, employee_id, role,
        max_concurrent_conversations, current_load, presence, presence_at, created_at, updated_at, version)
      VALUES (\(id), \(requestID), \(fingerprint), \(agent.displayName), \(agent.employeeID), \(Int16(agent.role.rawValue)),
        \(agent.maxConcurrentConversations), 0, \(Int16(agent.presence.rawValue)), \(agent.presenceTime.microsecondDate),
        \(agent.createTime.microsecondDate), \(agent.updateTime.microsecondDate), \(agent.version))
      """, logger: logger)
    try await replaceMembership(of: id, with: agent.skillGroupIds, on: connection, logger: logger)
  }

  /// Writes the profile and presence columns (never the load: only routing moves it).
  static func saveProfile(_ agent: Agent, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query(
      """
      UPDATE agents SET display_name = \(agent.displayName), employee_id = \(agent.employeeID), role = \(Int16(agent.role.rawValue)),
        max_concurrent_conversations = \(agent.maxConcurrentConversations), presence = \(Int16(agent.presence.rawValue)),
        presence_at = \(agent.presenceTime.microsecondDate), updated_at = \(agent.updateTime.microsecondDate), version = \(agent.version)
      WHERE agent_id = \(UUID(uuidString: agent.agentID)!)
      """, logger: logger)
  }

  static func replaceMembership(of id: UUID, with groups: [String], on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query("DELETE FROM agent_skill_groups WHERE agent_id = \(id)", logger: logger)
    guard !groups.isEmpty else { return }
    let positions = (0..<groups.count).map { Int32($0) }
    try await connection.query(
      """
      INSERT INTO agent_skill_groups (agent_id, skill_group_id, position)
      SELECT \(id), g.id, g.position FROM unnest(\(groups)::text[], \(positions)::int[]) AS g(id, position)
      """, logger: logger)
  }

  struct AgentFilter {
    var skillGroupID: String
    var presence: Support_Chat_V1_AgentPresence
    var freeCapacityOnly: Bool
  }

  /// A page of agents by (display_name, agent_id) after the cursor's position.
  static func listAgents(
    _ filter: AgentFilter, after: (name: String, id: UUID)?, limit: Int, on connection: PostgresConnection, logger: Logger
  ) async throws -> [Agent] {
    var sql = "SELECT \(agentColumns) FROM agents a WHERE true"
    var bindings = PostgresBindings()
    func bind<T: PostgresNonThrowingEncodable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    if !filter.skillGroupID.isEmpty {
      sql += " AND EXISTS (SELECT 1 FROM agent_skill_groups m WHERE m.agent_id = a.agent_id AND m.skill_group_id = \(bind(filter.skillGroupID)))"
    }
    if filter.presence != .unspecified { sql += " AND a.presence = \(bind(Int16(filter.presence.rawValue)))" }
    if filter.freeCapacityOnly { sql += " AND a.current_load < a.max_concurrent_conversations" }
    if let after { sql += " AND (a.display_name, a.agent_id) > (\(bind(after.name)), \(bind(after.id)))" }
    sql += " ORDER BY a.display_name, a.agent_id LIMIT \(bind(Int64(limit)))"
    return try await agents(connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger))
  }

}

/// The SQL of skill groups.
enum SkillGroupRows {
  /// Columns in `SkillGroup` order, with the live counts in the same statement.
  static let columns = """
    g.skill_group_id, g.name, g.description, g.role, g.assignment_policy, g.offline_policy, g.offline_ticket_delay_us,
    g.first_response_target_us, g.greeting_canned_response_id, g.inactivity_timeout_us,
    (SELECT count(*) FROM agent_skill_groups m JOIN agents a ON a.agent_id = m.agent_id
      WHERE m.skill_group_id = g.skill_group_id AND a.presence = 1),
    (SELECT count(*) FROM conversations c WHERE c.status = 1 AND c.skill_group_id = g.skill_group_id),
    g.created_at, g.updated_at, g.version
    """

  static func groups(_ rows: PostgresRowSequence) async throws -> [SkillGroup] {
    var groups: [SkillGroup] = []
    for try await (id, name, description, role, assignment, offline, offlineDelay, target, greeting, inactivity, online, queued, created, updated, version)
      in rows.decode((String, String, String, Int16, Int16, Int16, Int64?, Int64, String, Int64, Int64, Int64, Date, Date, Int64).self)
    {
      var group = SkillGroup()
      group.skillGroupID = id
      group.name = name
      group.description_p = description
      group.role = Support_Chat_V1_AgentRole(rawValue: Int(role)) ?? .unspecified
      group.assignmentPolicy = Support_Chat_V1_AssignmentPolicy(rawValue: Int(assignment)) ?? .unspecified
      group.offlinePolicy = Support_Chat_V1_OfflinePolicy(rawValue: Int(offline)) ?? .unspecified
      if let offlineDelay { group.offlineTicketDelay = .microseconds(offlineDelay) }
      group.firstResponseTarget = .microseconds(target)
      group.greetingCannedResponseID = greeting
      group.inactivityTimeout = .microseconds(inactivity)
      group.onlineAgentCount = Int32(clamping: online)
      group.queuedConversationCount = Int32(clamping: queued)
      group.createTime = created.timestamp
      group.updateTime = updated.timestamp
      group.version = version
      groups.append(group)
    }
    return groups
  }

  static func group(_ id: String, on connection: PostgresConnection, logger: Logger) async throws -> SkillGroup? {
    try await groups(connection.query("SELECT \(unescaped: columns) FROM skill_groups g WHERE g.skill_group_id = \(id)", logger: logger)).first
  }

  static func list(after: (name: String, id: String)?, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [SkillGroup] {
    var bindings = PostgresBindings()
    var sql = "SELECT \(columns) FROM skill_groups g"
    if let after {
      bindings.append(after.name)
      bindings.append(after.id)
      sql += " WHERE (g.name, g.skill_group_id) > ($1, $2)"
    }
    bindings.append(Int64(limit))
    sql += " ORDER BY g.name, g.skill_group_id LIMIT $\(bindings.count)"
    return try await groups(connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger))
  }

  /// The group first created with `requestID`: nil when new; ALREADY_EXISTS when the request
  /// id was used with different content.
  static func created(requestID: String, fingerprint: String, on connection: PostgresConnection, logger: Logger) async throws -> SkillGroup? {
    for try await (stored, id) in try await connection.query(
      "SELECT request_fingerprint, skill_group_id FROM skill_groups WHERE request_id = \(requestID)", logger: logger
    ).decode((String, String).self) {
      guard stored == fingerprint else {
        throw ServiceError.alreadyExists("request_id was already used for skill group \(id) with different content")
      }
      return try await group(id, on: connection, logger: logger)
    }
    return nil
  }

  /// The group that already has this name (case-insensitively) or id.
  static func clashing(name: String, id: String, on connection: PostgresConnection, logger: Logger) async throws -> String? {
    for try await existing in try await connection.query(
      "SELECT skill_group_id FROM skill_groups WHERE lower(name) = lower(\(name)) OR skill_group_id = \(id)", logger: logger
    ).decode(String.self) { return existing }
    return nil
  }

  static func insert(_ group: SkillGroup, requestID: String, fingerprint: String, on connection: PostgresConnection, logger: Logger) async throws {
    let offlineDelay: Int64? = group.hasOfflineTicketDelay ? group.offlineTicketDelay.microseconds : nil
    try await connection.query(
      """
      INSERT INTO skill_groups (skill_group_id, request_id, request_fingerprint, name, description, role, assignment_policy,
        offline_policy, offline_ticket_delay_us, first_response_target_us, greeting_canned_response_id, inactivity_timeout_us,
        created_at, updated_at, version)
      VALUES (\(group.skillGroupID), \(requestID), \(fingerprint), \(group.name), \(group.description_p), \(Int16(group.role.rawValue)),
        \(Int16(group.assignmentPolicy.rawValue)), \(Int16(group.offlinePolicy.rawValue)), \(offlineDelay),
        \(group.firstResponseTarget.microseconds), \(group.greetingCannedResponseID), \(group.inactivityTimeout.microseconds),
        \(group.createTime.microsecondDate), \(group.updateTime.microsecondDate), \(group.version))
      """, logger: logger)
  }
}

extension Google_Protobuf_Duration {
  static func microseconds(_ value: Int64) -> Google_Protobuf_Duration {
    Google_Protobuf_Duration(seconds: value / 1_000_000, nanos: Int32((value % 1_000_000) * 1000))
  }

  /// Whole microseconds (the precision stored), saturating.
  var microseconds: Int64 {
    let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
    if overflow { return seconds < 0 ? .min : .max }
    return whole.addingReportingOverflow(Int64(nanos / 1000)).partialValue
  }
}
