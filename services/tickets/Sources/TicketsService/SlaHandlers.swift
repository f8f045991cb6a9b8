import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// support.tickets.v1.SlaService (sla.proto): the SLA policy, the work queue of running
/// clocks, and agents' third-party pauses. SQL in SlaStore.swift, clock rules in SlaClocks.swift.
struct SlaHandlers: RegistrableRPCService {
  typealias Methods = Support_Tickets_V1_SlaService.Method
  let store: TicketStore
  let defaults: SlaPolicy
  let logger: Logger

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.GetSlaPolicy.descriptor, getSlaPolicy)
    router.registerUnary(Methods.UpdateSlaPolicy.descriptor, updateSlaPolicy)
    router.registerUnary(Methods.ListSlaWorkQueue.descriptor, listSlaWorkQueue)
    router.registerUnary(Methods.PauseSla.descriptor, pauseSla)
    router.registerUnary(Methods.ResumeSla.descriptor, resumeSla)
  }
  var log: Logger { RequestContext.current?.logger ?? logger }

  @Sendable func getSlaPolicy(_ request: Support_Tickets_V1_GetSlaPolicyRequest) async throws -> SlaPolicy {
    try Permissions.requireStaff("read the SLA policy")
    return try await store.database.withConnection(logger: log) { connection in
      try await SlaStore.storedPolicy(on: connection, logger: log) ?? defaults
    }
  }

  @Sendable func updateSlaPolicy(_ request: Support_Tickets_V1_UpdateSlaPolicyRequest) async throws -> SlaPolicy {
    // Who may ask first: an agent learns nothing from a policy they may not set.
    let caller = try Permissions.caller()
    guard caller.role == .supervisor || caller.role == .service else {
      throw Permissions.denied("only supervisors and services may change the SLA policy")
    }
    try TicketHandlers.validateVersion(request.expectedVersion)
    if request.hasActor { try TicketHandlers.validateActor(request.actor) }
    try SlaPolicies.validate(request.policy)
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let stored = try await SlaStore.updatePolicy(request.policy, expectedVersion: request.expectedVersion, by: actor, database: store.database, logger: log)
    log.info("SLA policy updated", metadata: ["version": "\(stored.version)"])
    return stored
  }

  // MARK: - work queue

  @Sendable func listSlaWorkQueue(_ request: Support_Tickets_V1_ListSlaWorkQueueRequest) async throws -> Support_Tickets_V1_ListSlaWorkQueueResponse {
    let pageSize = try PageCursor.pageSize(request.pageSize)
    for (index, priority) in request.priorities.enumerated() { try Validate.specified(priority, "priorities[\(index)]") }
    for (index, milestone) in request.milestones.enumerated() { try Validate.specified(milestone, "milestones[\(index)]") }
    try Validate.maxLength(request.skillGroupID, "skill_group_id", Validate.maxIDLength)
    try Permissions.requireStaff("list the SLA work queue")
    var filterOnly = request
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    let filterKey = try Fingerprint.of(filterOnly)
    let cursor = try PageCursor.decode(
      request.pageToken, filter: filterKey,
      validKeys: Validate.timestampSeconds.lowerBound * 1_000_000...Validate.timestampSeconds.upperBound * 1_000_000)
    var after: (priority: Int16, micros: Int64, id: UUID, milestone: Int16)?
    if let cursor {
      // The cursor's id is "<ticket id>/<milestone number>/<priority number>".
      let parts = cursor.id.split(separator: "/")
      guard parts.count == 3, let id = UUID(uuidString: String(parts[0])), let milestone = Int16(parts[1]), let priority = Int16(parts[2])
      else {
        throw ServiceError.invalidArgument("page_token", "is not a token this service issued")
      }
      after = (priority, cursor.key, id, milestone)
    }
    let filter = SlaStore.QueueFilter(
      atRiskOnly: request.atRiskOnly, breachedOnly: request.breachedOnly, unassignedOnly: request.unassignedOnly,
      skillGroupID: request.skillGroupID, priorities: request.priorities, milestones: request.milestones)
    let now = Date.nowMicroseconds
    var rows = try await SlaStore.queue(filter, now: now, after: after, limit: pageSize + 1, database: store.database, logger: log)
    var response = Support_Tickets_V1_ListSlaWorkQueueResponse()
    if rows.count > pageSize {
      rows.removeLast(rows.count - pageSize)
      let last = rows[rows.count - 1]
      response.nextPageToken = PageCursor(
        key: last.micros, id: "\(last.ticket.ticketID)/\(last.milestone.rawValue)/\(last.priority)", filter: filterKey
      ).token
    }
    response.items = rows.map { row in
      let ticket = row.ticket.withLiveSLA(at: now)
      return .with {
        $0.ticket = ticket
        if let clock = ticket.sla.clocks.first(where: { $0.milestone == row.milestone }) { $0.clock = clock }
      }
    }
    return response
  }

  // MARK: - third-party pauses

  @Sendable func pauseSla(_ request: Support_Tickets_V1_PauseSlaRequest) async throws -> Ticket {
    let id = try TicketHandlers.ticketID(request.ticketID)
    try TicketHandlers.validateVersion(request.expectedVersion)
    try Validate.required(request.note, "note", maxLength: 1000)
    if request.hasActor { try TicketHandlers.validateActor(request.actor) }
    try Permissions.requireStaff("pause a case's SLA clocks")
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let now = Date.nowMicroseconds
    let changed = try await store.change(id, requestID: "", fingerprint: "", logger: log) { ticket in
      try TicketHandlers.checkVersion(request.expectedVersion, of: ticket)
      if [.resolved, .closed, .rejected, .cancelled].contains(ticket.status) {
        let status = TicketHandlers.statusName(ticket.status)
        throw ServiceError.failedPrecondition(
          reason: "CASE_FINISHED", domain: TicketHandlers.errorDomain, "cannot pause the clocks of a \(status) case", metadata: ["status": status])
      }
      if ticket.sla.paused {
        throw ServiceError.failedPrecondition(
          reason: "SLA_ALREADY_PAUSED", domain: TicketHandlers.errorDomain, "the clocks are already paused (\(ticket.sla.pauseReason))",
          metadata: ["pause_reason": "\(ticket.sla.pauseReason)"])
      }
      var next = ticket
      next.pauseSLA(at: now, reason: .waitingOnThirdParty)
      next.version = ticket.version + 1
      next.updateTime = now.timestamp
      var entry = TicketHandlers.entry(.slaPaused, ticket: next, actor: actor, reason: request.note, now: now)
      entry.sla = .with { $0.pauseReason = .waitingOnThirdParty }
      return (next, entry)
    }
    return changed.withLiveSLA(at: Date())
  }

  @Sendable func resumeSla(_ request: Support_Tickets_V1_ResumeSlaRequest) async throws -> Ticket {
    let id = try TicketHandlers.ticketID(request.ticketID)
    try TicketHandlers.validateVersion(request.expectedVersion)
    try Validate.maxLength(request.note, "note", 1000)
    if request.hasActor { try TicketHandlers.validateActor(request.actor) }
    try Permissions.requireStaff("resume a case's SLA clocks")
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let now = Date.nowMicroseconds
    let changed = try await store.change(id, requestID: "", fingerprint: "", logger: log) { ticket in
      try TicketHandlers.checkVersion(request.expectedVersion, of: ticket)
      guard ticket.sla.paused && ticket.sla.pauseReason == .waitingOnThirdParty else {
        throw ServiceError.failedPrecondition(
          reason: "SLA_NOT_PAUSED_BY_AGENT", domain: TicketHandlers.errorDomain,
          "the clocks are not paused for a third party (the shopper's and the goods' waits end by themselves)")
      }
      var next = ticket
      let paused = max(0, now.timeIntervalSince(ticket.sla.pausedSinceTime.date)).rounded(.down)
      next.resumeSLA(at: now)
      next.version = ticket.version + 1
      next.updateTime = now.timestamp
      var entry = TicketHandlers.entry(.slaResumed, ticket: next, actor: actor, reason: request.note, now: now)
      entry.sla = .with {
        $0.pauseReason = .waitingOnThirdParty
        $0.pausedDuration = .init(rounding: paused, rule: .down)
      }
      return (next, entry)
    }
    return changed.withLiveSLA(at: Date())
  }
}
