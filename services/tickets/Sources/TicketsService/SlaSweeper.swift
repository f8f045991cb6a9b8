import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import SupportCodec

/// Announces SLA crossings every SUPPORTMESH_TICKETS_SLA_SWEEP_SECONDS (default 10): each
/// running clock whose at-risk or due time passed gets, once, in one transaction with the
/// clock row's update, a history entry (SLA_AT_RISK / SLA_BREACHED) and an event
/// (TicketSlaAtRiskEvent / TicketSlaBreachedEvent). It reads only clocks whose next_check_at
/// passed (a partial index), never the open cases. With several tickets processes, one sweeps
/// at a time (a transaction-scoped advisory lock; the others skip the pass), and each clock is
/// re-read after its case is locked, so a crossing is never announced twice.
struct SlaSweeper: Service {
  let database: Database
  let outbox: EventOutbox
  let interval: Duration
  let logger: Logger
  static let batchSize = 200

  func run() async throws {
    // The schema is migrated while the server starts: begin a little later.
    await PeriodicWork.run("SLA sweep", every: interval, firstAfter: .seconds(1), logger: logger) {
      while try await sweepOnce() == Self.batchSize, !Task.isCancelled {}
    }
  }

  /// One batch; returns how many clocks it checked (0 when another instance holds the sweep).
  func sweepOnce(now: Date = Date.nowMicroseconds) async throws -> Int {
    let (checked, announced) = try await database.withTransaction(logger: logger) { connection -> (Int, Int) in
      let locked = try await connection.query("SELECT pg_try_advisory_xact_lock(hashtext('tickets.sla_sweeper'))", logger: logger).decode(Bool.self)
      for try await held in locked where !held { return (0, 0) }
      let checks = try await SlaStore.dueChecks(now: now, limit: Self.batchSize, on: connection, logger: logger)
      var events: [PendingEvent] = []
      for check in checks {
        try await announce(check.ticketID, check.milestone, now: now, into: &events, on: connection)
      }
      // Last in the transaction, as EventOutbox asks: the append holds the event log's head
      // lock until commit, and taking it before the next case's row lock would deadlock with a
      // ticket change (case row, then head) and hold up every tickets write for the batch.
      for event in events {
        try await outbox.append(event.payload, subject: event.subject, eventID: event.eventID, occurredAt: now, on: connection, logger: logger)
      }
      return (checks.count, events.count)
    }
    if announced > 0 { logger.info("SLA crossings announced", metadata: ["count": "\(announced)"]) }
    return checked
  }

  /// An event of a crossing, appended to the outbox at the end of the batch.
  private struct PendingEvent {
    var payload: EventEnvelope.OneOf_Payload
    var subject: String
    var eventID: UUID
  }

  /// Records what a clock crossed by `now` and not yet announced; its events join `events`.
  private func announce(
    _ id: UUID, _ milestone: SlaMilestone, now: Date, into events: inout [PendingEvent], on connection: PostgresConnection
  ) async throws {
    // The case first, then its clock row: the order every change of a case takes.
    guard let ticket = try await TicketStore.lockedTicket(id, connection, logger),
      let row = try await SlaStore.clockRow(id, milestone, on: connection, logger: logger),
      let clock = ticket.liveSlaClocks(at: now).first(where: { $0.milestone == milestone })
    else { return }
    guard row.running else {
      try await SlaStore.scheduleNextCheck(id, on: connection, logger: logger)
      return
    }
    let atRisk = !row.atRiskAlerted && row.atRiskAt < row.dueAt && now >= row.atRiskAt
    let breach = !row.breachAlerted && now >= row.dueAt
    if atRisk { events.append(try await record(.slaAtRisk, clock: clock, ticket: ticket, now: now, on: connection)) }
    if breach { events.append(try await record(.slaBreached, clock: clock, ticket: ticket, now: now, on: connection)) }
    try await SlaStore.markAlerted(id, milestone, atRisk: atRisk, breach: breach, at: now, on: connection, logger: logger)
  }

  /// The history entry of one crossing, and its event (appended by the caller). The case's
  /// version does not change: the crossing is time passing, not a change of the case.
  private func record(
    _ kind: Support_Tickets_V1_HistoryEntryKind, clock: SlaClock, ticket: Ticket, now: Date, on connection: PostgresConnection
  ) async throws -> PendingEvent {
    var entry = TicketHandlers.entry(kind, ticket: ticket, actor: .with { $0.kind = .system }, reason: "", now: now)
    entry.sla = .with { $0.clock = clock }
    try await TicketStore.appendHistory(entry, ticketID: UUID(uuidString: ticket.ticketID)!, connection, logger)
    let eventID = UUID()
    let payload = kind == .slaAtRisk ? SlaEvents.atRisk(clock, ticket: ticket, eventID: eventID, now: now) : SlaEvents.breached(clock, ticket: ticket, eventID: eventID, now: now)
    return PendingEvent(payload: payload, subject: ticket.ticketID, eventID: eventID)
  }
}

/// TicketSlaAtRiskEvent and TicketSlaBreachedEvent (tickets_events.proto).
enum SlaEvents {
  static func atRisk(_ clock: SlaClock, ticket: Ticket, eventID: UUID, now: Date) -> EventEnvelope.OneOf_Payload {
    .ticketSlaAtRisk(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.ticketID = ticket.ticketID
      $0.ticketVersion = ticket.version
      $0.milestone = clock.milestone
      $0.dueTime = clock.dueTime
      $0.atRiskTime = clock.atRiskTime
      $0.target = clock.target
      $0.assigneeAgentID = ticket.assigneeAgentID
      $0.skillGroupID = ticket.skillGroupID
      $0.type = ticket.type
      $0.priority = ticket.priority
      $0.category = ticket.category
      $0.shopperID = ticket.shopperID
      $0.occurTime = now.timestamp
    })
  }

  static func breached(_ clock: SlaClock, ticket: Ticket, eventID: UUID, now: Date) -> EventEnvelope.OneOf_Payload {
    .ticketSlaBreached(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.ticketID = ticket.ticketID
      $0.ticketVersion = ticket.version
      $0.milestone = clock.milestone
      $0.dueTime = clock.dueTime
      $0.breachTime = clock.dueTime
      $0.breachedBy = .init(rounding: max(0, now.timeIntervalSince(clock.dueTime.date)), rule: .toNearestOrAwayFromZero)
      $0.target = clock.target
      $0.assigneeAgentID = ticket.assigneeAgentID
      $0.skillGroupID = ticket.skillGroupID
      $0.type = ticket.type
      $0.priority = ticket.priority
      $0.category = ticket.category
      $0.shopperID = ticket.shopperID
      $0.occurTime = now.timestamp
    })
  }
}
