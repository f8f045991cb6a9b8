import Foundation
import GRPCCore
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// support.chat.v1.AgentService: agents, skill groups, presence and capacity. SQL in
/// AgentStore.swift, schema in AgentSchema.swift; presence and capacity changes pull waiting
/// conversations through Routing in the same transaction.
struct AgentHandlers: RegistrableRPCService {
  typealias Methods = Support_Chat_V1_AgentService.Method
  let database: Database
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.CreateAgent.descriptor, createAgent)
    router.registerUnary(Methods.GetAgent.descriptor, getAgent)
    router.registerUnary(Methods.ListAgents.descriptor, listAgents)
    router.registerUnary(Methods.UpdateAgent.descriptor, updateAgent)
    router.registerUnary(Methods.SetAgentPresence.descriptor, setAgentPresence)
    router.registerUnary(Methods.CreateSkillGroup.descriptor, createSkillGroup)
    router.registerUnary(Methods.GetSkillGroup.descriptor, getSkillGroup)
    router.registerUnary(Methods.ListSkillGroups.descriptor, listSkillGroups)
  }

  static let defaultCapacity: Int32 = 5
  static let capacityRange: ClosedRange<Int32> = 1...50
  static let maxNameLength = 100
  static let maxGroupsPerAgent = 50

  /// Staffing the desk (creating agents and groups, changing profiles) is for supervisors and
  /// services; agents read it.
  static func requireSupervisor(_ action: String) throws {
    let caller = try Permissions.requireStaff(action)
    guard caller.role == .supervisor || caller.role == .service else {
      throw Permissions.denied("only supervisors and services may \(action)")
    }
  }

  /// The agent's groups in the order given, without repeats.
  static func groupIDs(_ ids: [String], field: String) throws -> [String] {
    try Validate.maxCount(ids, field, maxGroupsPerAgent)
    var seen = Set<String>()
    var result: [String] = []
    for (index, id) in ids.enumerated() {
      try Validate.required(id, "\(field)[\(index)]")
      if seen.insert(id).inserted { result.append(id) }
    }
    return result
  }

  static func capacity(_ value: Int32, field: String = "max_concurrent_conversations") throws -> Int32 {
    guard capacityRange.contains(value) else {
      throw ServiceError.invalidArgument(field, "must be between 1 and 50")
    }
    return value
  }

  // MARK: agents

  @Sendable func createAgent(_ request: Support_Chat_V1_CreateAgentRequest) async throws -> Agent {
    try Self.requireSupervisor("create agents")
    try Validate.requestID(request.requestID)
    try Validate.required(request.displayName, "display_name", maxLength: Self.maxNameLength)
    try Validate.maxLength(request.employeeID, "employee_id", Validate.maxIDLength)
    try Validate.specified(request.role, "role")
    let capacity = try request.maxConcurrentConversations == 0
      ? Self.defaultCapacity : Self.capacity(request.maxConcurrentConversations)
    let groups = try Self.groupIDs(request.skillGroupIds, field: "skill_group_ids")
    let fingerprint = try Fingerprint.of(request)
    let now = Date.nowMicroseconds
    return try await database.withTransaction(logger: log) { connection in
      try await Idempotency.lock(requestID: request.requestID, scope: "chat.agent", on: connection, logger: self.log)
      if let first = try await AgentRows.agentCreated(requestID: request.requestID, fingerprint: fingerprint, on: connection, logger: self.log) {
        return first
      }
      try await AgentRows.requireGroups(groups, field: "skill_group_ids", on: connection, logger: self.log)
      try await AgentRows.requireUniqueEmployeeID(request.employeeID, except: nil, on: connection, logger: self.log)
      var agent = Agent()
      agent.agentID = UUID().uuidString.lowercased()
      agent.displayName = request.displayName
      agent.employeeID = request.employeeID
      agent.role = request.role
      agent.skillGroupIds = groups
      agent.maxConcurrentConversations = capacity
      agent.presence = .offline
      agent.presenceTime = now.timestamp
      agent.createTime = now.timestamp
      agent.updateTime = now.timestamp
      agent.version = 1
      try await AgentRows.insert(agent, requestID: request.requestID, fingerprint: fingerprint, on: connection, logger: self.log)
      // As stored (timestamps at the column's precision), so a retry returns the same agent.
      return try await AgentRows.agent(UUID(uuidString: agent.agentID)!, on: connection, logger: self.log) ?? agent
    }
  }

  @Sendable func getAgent(_ request: Support_Chat_V1_GetAgentRequest) async throws -> Agent {
    try Permissions.requireStaff("read agents")
    guard let id = try Validate.resourceID(request.agentID, "agent_id"),
      let agent = try await database.withConnection(logger: log, { try await AgentRows.agent(id, on: $0, logger: self.log) })
    else { throw ServiceError.notFound("agent", request.agentID) }
    return agent
  }

  @Sendable func listAgents(_ request: Support_Chat_V1_ListAgentsRequest) async throws -> Support_Chat_V1_ListAgentsResponse {
    try Permissions.requireStaff("list agents")
    let pageSize = try PageCursor.pageSize(request.pageSize)
    try Validate.known(request.presence, "presence")
    try Validate.maxLength(request.skillGroupID, "skill_group_id", Validate.maxIDLength)
    let filterKey = "\(request.skillGroupID)|\(request.presence.rawValue)|\(request.withFreeCapacityOnly)"
    var after: (name: String, id: UUID)?
    if let cursor = try PageCursor.decode(request.pageToken, filter: filterKey, validKeys: 0...0) {
      guard let split = cursor.id.lastIndex(of: Self.cursorSeparator),
        let id = UUID(uuidString: String(cursor.id[cursor.id.index(after: split)...]))
      else { throw ServiceError.invalidArgument("page_token", "is not a token this service issued") }
      after = (String(cursor.id[..<split]), id)
    }
    let filter = AgentRows.AgentFilter(
      skillGroupID: request.skillGroupID, presence: request.presence, freeCapacityOnly: request.withFreeCapacityOnly)
    let position = after
    var agents = try await database.withConnection(logger: log) {
      try await AgentRows.listAgents(filter, after: position, limit: pageSize + 1, on: $0, logger: self.log)
    }
    var response = Support_Chat_V1_ListAgentsResponse()
    if agents.count > pageSize {
      agents.removeLast(agents.count - pageSize)
      let last = agents[agents.count - 1]
      response.nextPageToken = PageCursor(key: 0, id: "\(last.displayName)\(Self.cursorSeparator)\(last.agentID)", filter: filterKey).token
    }
    response.agents = agents
    return response
  }

  /// Separates the name from the id in name-ordered page tokens (ids never contain it).
  static let cursorSeparator: Character = "\u{1F}"

  static let updatableAgentFields: Set<String> = ["display_name", "employee_id", "role", "skill_group_ids", "max_concurrent_conversations"]
  static let readOnlyAgentFields: Set<String> = [
    "agent_id", "current_load", "presence", "presence_time", "create_time", "update_time", "version", "last_assign_time",
  ]

  @Sendable func updateAgent(_ request: Support_Chat_V1_UpdateAgentRequest) async throws -> Agent {
    try Self.requireSupervisor("change agents")
    let paths = request.updateMask.paths
    guard !paths.isEmpty else { throw ServiceError.invalidArgument("update_mask", "is required: name the fields to change") }
    for path in paths where !Self.updatableAgentFields.contains(path) {
      throw ServiceError.invalidArgument(
        "update_mask", Self.readOnlyAgentFields.contains(path) ? "\(path) is read-only" : "\(path) is not a field of Agent")
    }
    let changes = request.agent
    if paths.contains("display_name") { try Validate.required(changes.displayName, "agent.display_name", maxLength: Self.maxNameLength) }
    if paths.contains("employee_id") { try Validate.maxLength(changes.employeeID, "agent.employee_id", Validate.maxIDLength) }
    if paths.contains("role") { try Validate.specified(changes.role, "agent.role") }
    if paths.contains("max_concurrent_conversations") {
      _ = try Self.capacity(changes.maxConcurrentConversations, field: "agent.max_concurrent_conversations")
    }
    let groups = try paths.contains("skill_group_ids") ? Self.groupIDs(changes.skillGroupIds, field: "agent.skill_group_ids") : nil
    guard let id = try Validate.resourceID(changes.agentID, "agent.agent_id") else {
      throw ServiceError.notFound("agent", changes.agentID)
    }
    let now = Date.nowMicroseconds
    return try await database.withTransaction(logger: log) { connection in
      // Groups before the agent (Routing's lock order), old and new: both queues may move.
      let before = try await AgentRows.agent(id, on: connection, logger: self.log)
      guard let before else { throw ServiceError.notFound("agent", changes.agentID) }
      try await Routing.lockGroups(before.skillGroupIds + (groups ?? []), on: connection, logger: self.log)
      guard var agent = try await AgentRows.agent(id, forUpdate: true, on: connection, logger: self.log) else {
        throw ServiceError.notFound("agent", changes.agentID)
      }
      if request.expectedVersion != 0 && request.expectedVersion != agent.version {
        throw ServiceError.versionMismatch("agent \(agent.agentID)", expected: request.expectedVersion, actual: agent.version)
      }
      if paths.contains("display_name") { agent.displayName = changes.displayName }
      if paths.contains("employee_id") {
        try await AgentRows.requireUniqueEmployeeID(changes.employeeID, except: id, on: connection, logger: self.log)
        agent.employeeID = changes.employeeID
      }
      if paths.contains("role") { agent.role = changes.role }
      if paths.contains("max_concurrent_conversations") { agent.maxConcurrentConversations = changes.maxConcurrentConversations }
      if let groups {
        try await AgentRows.requireGroups(groups, field: "agent.skill_group_ids", on: connection, logger: self.log)
        try await AgentRows.replaceMembership(of: id, with: groups, on: connection, logger: self.log)
        agent.skillGroupIds = groups
      }
      agent.version += 1
      agent.updateTime = now.timestamp
      try await AgentRows.saveProfile(agent, on: connection, logger: self.log)
      // More capacity or a new group: the agent may take waiting conversations at once.
      return try await Routing.pullForAgent(agent, on: connection, logger: self.log)
    }
  }

  @Sendable func setAgentPresence(_ request: Support_Chat_V1_SetAgentPresenceRequest) async throws -> Agent {
    let caller = try Permissions.requireStaff("set an agent's presence")
    _ = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    try Validate.specified(request.presence, "presence")
    guard let id = try Validate.resourceID(request.agentID, "agent_id") else {
      throw ServiceError.notFound("agent", request.agentID)
    }
    if caller.role == .agent && caller.subject.lowercased() != id.uuidString.lowercased() {
      throw Permissions.denied("an agent may set only their own presence (supervisors may set anyone's)")
    }
    let now = Date.nowMicroseconds
    return try await database.withTransaction(logger: log) { connection in
      guard let before = try await AgentRows.agent(id, on: connection, logger: self.log) else {
        throw ServiceError.notFound("agent", request.agentID)
      }
      try await Routing.lockGroups(before.skillGroupIds, on: connection, logger: self.log)
      guard var agent = try await AgentRows.agent(id, forUpdate: true, on: connection, logger: self.log) else {
        throw ServiceError.notFound("agent", request.agentID)
      }
      if request.expectedVersion != 0 && request.expectedVersion != agent.version {
        throw ServiceError.versionMismatch("agent \(agent.agentID)", expected: request.expectedVersion, actual: agent.version)
      }
      // Setting the presence it already has changes nothing (a safe retry).
      guard agent.presence != request.presence else { return agent }
      agent.presence = request.presence
      agent.presenceTime = now.timestamp
      agent.updateTime = now.timestamp
      agent.version += 1
      try await AgentRows.saveProfile(agent, on: connection, logger: self.log)
      return try await Routing.pullForAgent(agent, on: connection, logger: self.log)
    }
  }

  // MARK: skill groups

  static let maxDescriptionLength = 1_000

  static func duration(_ value: Google_Protobuf_Duration, _ field: String, within range: ClosedRange<Int64>) throws {
    let micros = value.microseconds
    guard value.nanos >= 0 || value.seconds <= 0, range.contains(micros) else {
      throw ServiceError.invalidArgument(field, "must be between \(range.lowerBound / 1_000_000) and \(range.upperBound / 1_000_000) seconds")
    }
  }

  @Sendable func createSkillGroup(_ request: Support_Chat_V1_CreateSkillGroupRequest) async throws -> SkillGroup {
    try Self.requireSupervisor("create skill groups")
    try Validate.requestID(request.requestID)
    try Validate.required(request.name, "name", maxLength: Self.maxNameLength)
    let id = SkillGroupID.from(name: request.name)
    guard !id.isEmpty else { throw ServiceError.invalidArgument("name", "must contain a letter or digit") }
    try Validate.maxLength(request.description_p, "description", Self.maxDescriptionLength)
    try Validate.known(request.role, "role")
    try Validate.specified(request.assignmentPolicy, "assignment_policy")
    try Validate.specified(request.offlinePolicy, "offline_policy")
    let day: Int64 = 86_400_000_000
    if request.hasOfflineTicketDelay { try Self.duration(request.offlineTicketDelay, "offline_ticket_delay", within: 0...(30 * day)) }
    if request.hasFirstResponseTarget { try Self.duration(request.firstResponseTarget, "first_response_target", within: 1...day) }
    if request.hasInactivityTimeout { try Self.duration(request.inactivityTimeout, "inactivity_timeout", within: 1_000_000...(7 * day)) }
    try Validate.maxLength(request.greetingCannedResponseID, "greeting_canned_response_id", Validate.maxIDLength)
    let fingerprint = try Fingerprint.of(request)
    let now = Date.nowMicroseconds
    return try await database.withTransaction(logger: log) { connection in
      try await Idempotency.lock(requestID: request.requestID, scope: "chat.skill_group", on: connection, logger: self.log)
      if let first = try await SkillGroupRows.created(requestID: request.requestID, fingerprint: fingerprint, on: connection, logger: self.log) {
        return first
      }
      if !request.greetingCannedResponseID.isEmpty {
        // Held FOR SHARE until commit: DeleteCannedResponse cannot remove it meanwhile.
        guard let greetingID = UUID(uuidString: request.greetingCannedResponseID),
          try await !connection.query(
            "SELECT 1 FROM canned_responses WHERE canned_response_id = \(greetingID) AND deleted_at IS NULL FOR SHARE", logger: self.log
          ).collect().isEmpty
        else { throw ServiceError.notFound("canned response (greeting_canned_response_id)", request.greetingCannedResponseID) }
      }
      if let clash = try await SkillGroupRows.clashing(name: request.name, id: id, on: connection, logger: self.log) {
        throw ServiceError.alreadyExists(
          reason: "SKILL_GROUP_NAME_TAKEN", domain: ConversationHandlers.errorDomain,
          "skill group \(clash) already has the name \(request.name) (or the id it makes, \(id))", metadata: ["skill_group_id": clash])
      }
      var group = SkillGroup()
      group.skillGroupID = id
      group.name = request.name
      group.description_p = request.description_p
      group.role = request.role
      group.assignmentPolicy = request.assignmentPolicy
      group.offlinePolicy = request.offlinePolicy
      if request.hasOfflineTicketDelay { group.offlineTicketDelay = request.offlineTicketDelay }
      group.firstResponseTarget = request.hasFirstResponseTarget ? request.firstResponseTarget : .microseconds(6_000_000)
      group.inactivityTimeout = request.hasInactivityTimeout ? request.inactivityTimeout : .microseconds(1_800_000_000)
      group.greetingCannedResponseID = request.greetingCannedResponseID
      group.createTime = now.timestamp
      group.updateTime = now.timestamp
      group.version = 1
      try await SkillGroupRows.insert(group, requestID: request.requestID, fingerprint: fingerprint, on: connection, logger: self.log)
      return try await SkillGroupRows.group(id, on: connection, logger: self.log) ?? group
    }
  }

  @Sendable func getSkillGroup(_ request: Support_Chat_V1_GetSkillGroupRequest) async throws -> SkillGroup {
    try Permissions.requireStaff("read skill groups")
    try Validate.required(request.skillGroupID, "skill_group_id")
    guard let group = try await database.withConnection(logger: log, { try await SkillGroupRows.group(request.skillGroupID, on: $0, logger: self.log) })
    else { throw ServiceError.notFound("skill group", request.skillGroupID) }
    return group
  }

  @Sendable func listSkillGroups(_ request: Support_Chat_V1_ListSkillGroupsRequest) async throws -> Support_Chat_V1_ListSkillGroupsResponse {
    try Permissions.requireStaff("list skill groups")
    let pageSize = try PageCursor.pageSize(request.pageSize)
    let filterKey = "skill_groups"
    var after: (name: String, id: String)?
    if let cursor = try PageCursor.decode(request.pageToken, filter: filterKey, validKeys: 0...0) {
      guard let split = cursor.id.lastIndex(of: Self.cursorSeparator) else {
        throw ServiceError.invalidArgument("page_token", "is not a token this service issued")
      }
      after = (String(cursor.id[..<split]), String(cursor.id[cursor.id.index(after: split)...]))
    }
    let position = after
    var groups = try await database.withConnection(logger: log) {
      try await SkillGroupRows.list(after: position, limit: pageSize + 1, on: $0, logger: self.log)
    }
    var response = Support_Chat_V1_ListSkillGroupsResponse()
    if groups.count > pageSize {
      groups.removeLast(groups.count - pageSize)
      let last = groups[groups.count - 1]
      response.nextPageToken = PageCursor(key: 0, id: "\(last.name)\(Self.cursorSeparator)\(last.skillGroupID)", filter: filterKey).token
    }
    response.skillGroups = groups
    return response
  }
}
