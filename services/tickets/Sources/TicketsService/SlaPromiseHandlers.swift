import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// SlaService.SetPromisedTime (sla.proto): the time an agent promised the shopper becomes the
/// case's PROMISED clock. Clock rules in SlaMilestoneClocks.swift; the write is a case change
/// (TicketChangeStore.swift), so the clock row is synced in the same transaction.
struct SlaPromiseHandlers: RegistrableRPCService {
  typealias Methods = Support_Tickets_V1_SlaService.Method
  let store: TicketStore
  let defaults: SlaPolicy
  let logger: Logger

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.SetPromisedTime.descriptor, setPromisedTime)
  }
  var log: Logger { RequestContext.current?.logger ?? logger }

  @Sendable func setPromisedTime(_ request: Support_Tickets_V1_SetPromisedTimeRequest) async throws -> Ticket {
    let id = try TicketHandlers.ticketID(request.ticketID)
    try TicketHandlers.validateVersion(request.expectedVersion)
    guard request.hasPromisedTime else { throw ServiceError.invalidArgument("promised_time", "is required") }
    try Validate.timestamp(request.promisedTime, "promised_time")
    try Validate.maxLength(request.note, "note", 1000)
    if request.hasActor { try TicketHandlers.validateActor(request.actor) }
    try Permissions.requireStaff("promise a shopper a time")
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let now = Date.nowMicroseconds
    let promised = request.promisedTime.date
    guard promised > now else { throw ServiceError.invalidArgument("promised_time", "must be in the future") }
    let defaults = self.defaults
    let policy = try await store.database.withConnection(logger: log) { connection in
      try await SlaStore.storedPolicy(on: connection, logger: log) ?? defaults
    }
    let changed = try await store.change(id, requestID: "", fingerprint: "", logger: log) { ticket in
      try TicketHandlers.checkVersion(request.expectedVersion, of: ticket)
      if [.resolved, .closed, .rejected, .cancelled].contains(ticket.status) {
        let status = TicketHandlers.statusName(ticket.status)
        throw ServiceError.failedPrecondition(
          reason: "CASE_FINISHED", domain: TicketHandlers.errorDomain, "cannot promise a time on a \(status) case", metadata: ["status": status])
      }
      try Self.checkWithinPolicy(promised, for: ticket, now: now, policy: policy, defaults: defaults)
      if let current = ticket.sla.clocks.first(where: { $0.milestone == .promised }), !current.hasMetTime, current.dueTime.date == promised {
        return nil
      }
      var next = ticket
      next.promise(promised, at: now)
      next.version = ticket.version + 1
      next.updateTime = now.timestamp
      var entry = TicketHandlers.entry(.slaPromised, ticket: next, actor: actor, reason: request.note, now: now)
      if let clock = next.liveSlaClocks(at: now).first(where: { $0.milestone == .promised }) { entry.sla = .with { $0.clock = clock } }
      return (next, entry)
    }
    return changed.withLiveSLA(at: Date())
  }

  /// INVALID_ARGUMENT when `promised` is further ahead than the policy's PROMISED target for
  /// the case, counted from now like the other targets (on the calendar for business time).
  static func checkWithinPolicy(_ promised: Date, for ticket: Ticket, now: Date, policy: SlaPolicy, defaults: SlaPolicy) throws {
    guard let rule = SlaPolicies.target(.promised, type: ticket.type, priority: ticket.priority, in: policy, defaults: defaults) else { return }
    let seconds = TimeInterval(rule.target.seconds) + TimeInterval(rule.target.nanos) / 1e9
    let counting = rule.businessTime ? SlaPolicies.calendar(policy) : .wallClock
    let latest = counting.add(seconds, to: now) ?? now.addingTimeInterval(seconds)
    guard promised <= latest else {
      throw ServiceError.invalidArgument(
        "promised_time", "is further ahead than the SLA policy's PROMISED target allows (latest \(latest.formatted(.iso8601)))")
    }
  }
}
