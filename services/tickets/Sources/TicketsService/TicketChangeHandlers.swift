import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// TransitionTicket, AssignTicket and SetPriority: changes to an existing case, each checked
/// against the caller, the case's current version and status, and recorded in its history.
extension TicketHandlers {
  /// Statuses after which a case takes no more assignment or priority changes.
  static let finishedForWork: [TicketStatus] = [.rejected, .cancelled, .closed]

  @Sendable func transitionTicket(_ request: Support_Tickets_V1_TransitionTicketRequest) async throws -> Ticket {
    let id = try Self.ticketID(request.ticketID)
    if !request.requestID.isEmpty { try Validate.requestID(request.requestID) }
    guard let action = request.action.action else {
      throw ServiceError.invalidArgument("action", "set exactly one action")
    }
    try Self.validateVersion(request.expectedVersion)
    if request.hasActor { try Self.validateActor(request.actor) }
    let caller = try Permissions.caller()
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let now = Date.nowMicroseconds
    let changed = try await store.change(id, requestID: request.requestID, fingerprint: Fingerprint.of(request), logger: log) { ticket in
      guard caller.isStaff || caller.subject == ticket.shopperID else { throw ServiceError.notFound("ticket", request.ticketID) }
      try TicketWorkflow.authorize(action, on: ticket, caller: caller, actor: actor)
      try Self.checkVersion(request.expectedVersion, of: ticket)
      let name = TicketWorkflow.name(of: action)
      guard let target = TicketWorkflow.target(of: action, from: ticket.status, goodsReturn: ticket.goodsReturnRequired) else {
        let status = Self.statusName(ticket.status)
        let hint = ticket.status == .solutionAgreed && !ticket.goodsReturnRequired && name == "AwaitReturn"
          ? " (no goods come back for this case)" : ""
        throw ServiceError.failedPrecondition(
          reason: "TRANSITION_NOT_ALLOWED", domain: Self.errorDomain,
          "\(name) is not allowed from \(status)\(hint)", metadata: ["status": status, "action": name]
        )
      }
      try TicketWorkflow.validate(action, for: ticket)
      var (next, reason) = TicketWorkflow.apply(action, to: ticket, target: target, by: actor, now: now)
      // The shopper acting ends a wait on the shopper (a reply that asked them for something).
      if caller.role == .shopper && next.shopperEndsPause { next.resumeSLA(at: now) }
      next.version = ticket.version + 1
      next.updateTime = now.timestamp
      var entry = Self.entry(.transitioned, ticket: next, actor: actor, reason: reason, now: now)
      entry.fromStatus = ticket.status
      entry.action = request.action
      return (next, entry)
    }
    return changed.withLiveSLA(at: Date())
  }

  @Sendable func assignTicket(_ request: Support_Tickets_V1_AssignTicketRequest) async throws -> Ticket {
    let id = try Self.ticketID(request.ticketID)
    try Self.validateVersion(request.expectedVersion)
    try Validate.maxLength(request.agentID, "agent_id", Validate.maxIDLength)
    try Validate.maxLength(request.skillGroupID, "skill_group_id", Validate.maxIDLength)
    try Validate.maxLength(request.reason, "reason", 1000)
    if request.agentID.isEmpty && request.skillGroupID.isEmpty {
      throw ServiceError.invalidArgument("agent_id", "name an agent or a skill group (or both)")
    }
    if request.hasActor { try Self.validateActor(request.actor) }
    try Permissions.requireStaff("assign cases")
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let now = Date.nowMicroseconds
    let changed = try await store.change(id, requestID: "", fingerprint: "", logger: log) { ticket in
      try Self.checkVersion(request.expectedVersion, of: ticket)
      try Self.requireOpenForWork(ticket, "assign")
      var next = ticket
      next.assigneeAgentID = request.agentID
      if !request.skillGroupID.isEmpty { next.skillGroupID = request.skillGroupID }
      guard next.assigneeAgentID != ticket.assigneeAgentID || next.skillGroupID != ticket.skillGroupID else { return nil }
      next.version = ticket.version + 1
      next.updateTime = now.timestamp
      var entry = Self.entry(.assigned, ticket: next, actor: actor, reason: request.reason, now: now)
      entry.assignment = .with {
        $0.fromAgentID = ticket.assigneeAgentID
        $0.toAgentID = next.assigneeAgentID
        $0.fromSkillGroupID = ticket.skillGroupID
        $0.toSkillGroupID = next.skillGroupID
      }
      return (next, entry)
    }
    return changed.withLiveSLA(at: Date())
  }

  @Sendable func setPriority(_ request: Support_Tickets_V1_SetPriorityRequest) async throws -> Ticket {
    let id = try Self.ticketID(request.ticketID)
    try Self.validateVersion(request.expectedVersion)
    try Validate.specified(request.priority, "priority")
    try Validate.maxLength(request.reason, "reason", 1000)
    if request.hasActor { try Self.validateActor(request.actor) }
    try Permissions.requireStaff("set a case's priority")
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let now = Date.nowMicroseconds
    let changed = try await store.change(id, requestID: "", fingerprint: "", logger: log) { ticket in
      try Self.checkVersion(request.expectedVersion, of: ticket)
      try Self.requireOpenForWork(ticket, "change the priority of")
      guard ticket.priority != request.priority else { return nil }
      var next = ticket
      next.priority = request.priority
      next.version = ticket.version + 1
      next.updateTime = now.timestamp
      var entry = Self.entry(.priorityChanged, ticket: next, actor: actor, reason: request.reason, now: now)
      entry.priorityChange = .with {
        $0.fromPriority = ticket.priority
        $0.toPriority = request.priority
      }
      return (next, entry)
    }
    return changed.withLiveSLA(at: Date())
  }

  // MARK: - shared checks

  static func ticketID(_ value: String) throws -> UUID {
    guard let id = try Validate.resourceID(value, "ticket_id") else { throw ServiceError.notFound("ticket", value) }
    return id
  }

  static func validateVersion(_ version: Int64) throws {
    if version < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative (0 = do not check)") }
  }

  static func validateActor(_ actor: Actor) throws {
    try Validate.known(actor.kind, "actor.kind")
    try Validate.maxLength(actor.id, "actor.id", Validate.maxIDLength)
    try Validate.maxLength(actor.displayName, "actor.display_name", 200)
  }

  static func checkVersion(_ expected: Int64, of ticket: Ticket) throws {
    if expected != 0 && expected != ticket.version {
      throw ServiceError.versionMismatch("ticket \(ticket.ticketID)", expected: expected, actual: ticket.version)
    }
  }

  static func requireOpenForWork(_ ticket: Ticket, _ verb: String) throws {
    guard !finishedForWork.contains(ticket.status) else {
      let status = statusName(ticket.status)
      throw ServiceError.failedPrecondition(
        reason: "CASE_FINISHED", domain: errorDomain, "cannot \(verb) a \(status) case", metadata: ["status": status]
      )
    }
  }

  /// The status as the contract names it, without its prefix, e.g. "UNDER_REVIEW".
  static func statusName(_ status: TicketStatus) -> String {
    switch status {
    case .unspecified: "UNSPECIFIED"
    case .submitted: "SUBMITTED"
    case .underReview: "UNDER_REVIEW"
    case .approved: "APPROVED"
    case .rejected: "REJECTED"
    case .solutionAgreed: "SOLUTION_AGREED"
    case .awaitingReturn: "AWAITING_RETURN"
    case .goodsReceived: "GOODS_RECEIVED"
    case .inspected: "INSPECTED"
    case .resolved: "RESOLVED"
    case .closed: "CLOSED"
    case .reopened: "REOPENED"
    case .cancelled: "CANCELLED"
    case .UNRECOGNIZED(let value): "UNRECOGNIZED_\(value)"
    }
  }

  /// A history entry for a change that left `ticket` as it is now (from and to: its status).
  static func entry(_ kind: Support_Tickets_V1_HistoryEntryKind, ticket: Ticket, actor: Actor, reason: String, now: Date) -> HistoryEntry {
    var entry = HistoryEntry()
    entry.ticketID = ticket.ticketID
    entry.kind = kind
    entry.actor = actor
    entry.fromStatus = ticket.status
    entry.toStatus = ticket.status
    entry.reason = reason
    entry.occurTime = now.timestamp
    entry.ticketVersion = ticket.version
    return entry
  }
}
