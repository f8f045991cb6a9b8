import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

typealias Ticket = Support_Tickets_V1_Ticket
typealias TicketStatus = Support_Tickets_V1_TicketStatus

/// All SQL of the tickets service. Every write runs in one transaction with its history entry.
struct TicketStore: Sendable {
  let database: Database
  /// Where CreateTicket announces TicketCreatedEvent (support.events.v1.EventLog).
  var outbox: EventOutbox? = nil
  /// The resolution window (hours), for the timings the resolved event reports.
  var resolutionHours = 72
  /// The SLA policy before any UpdateSlaPolicy (SlaPolicies.defaultPolicy).
  var slaDefaults = SlaPolicies.defaultPolicy(TicketsPolicy())

  /// Statuses in which a case no longer blocks a new one for the same order item.
  static let finishedStatuses: [TicketStatus] = [.rejected, .cancelled, .closed]
  /// Types whose cases concern specific goods (one open case per order item).
  static let goodsTypes: [TicketType] = [.returnAndRefund, .refundOnly, .exchange, .repair]

  enum CreateOutcome {
    case created(Ticket)
    case retried(Ticket)
  }

  /// Inserts a new case, or returns the case first created with the same request id.
  /// `candidate` is the case to file, or why it may not be filed (NOT_ELIGIBLE): a check that
  /// depends on the time of the call (an eligibility window), so it refuses only a new request
  /// id. A retry returns its first result even after the window closed.
  func create(_ candidate: Result<Ticket, any Error>, requestID: String, fingerprint: String, logger: Logger) async throws -> CreateOutcome {
    try await database.withTransaction(logger: logger) { connection in
      try await create(candidate, requestID: requestID, fingerprint: fingerprint, on: connection, logger: logger)
    }
  }

  /// `create` in the caller's transaction (an event consumer's, which moves its cursor in it).
  func create(
    _ candidate: Result<Ticket, any Error>, requestID: String, fingerprint: String, on connection: PostgresConnection, logger: Logger
  ) async throws -> CreateOutcome {
    try await Idempotency.lock(requestID: requestID, scope: "tickets", on: connection, logger: logger)
    if let existing = try await Self.firstResult(requestID, fingerprint, connection, logger) {
      return .retried(existing)
    }
    let filed = try candidate.get()
    if Self.goodsTypes.contains(filed.type) {
      try await Self.rejectOverlappingOpenCase(filed, connection, logger)
    }
    let ticket = try await SlaStore.startClocks(filed, defaults: slaDefaults, on: connection, logger: logger)
    let id = UUID(uuidString: ticket.ticketID)!
    let body = try ticket.bytea()
    let inserted = try await connection.query(
      """
      INSERT INTO tickets (ticket_id, request_id, request_fingerprint, type, category, status, priority,
        shopper_id, assignee_agent_id, first_response_due_at, resolution_due_at, created_at, updated_at, version, body)
      VALUES (\(id), \(requestID), \(fingerprint), \(Int16(ticket.type.rawValue)), \(Int16(ticket.category.rawValue)),
        \(Int16(ticket.status.rawValue)), \(Int16(ticket.priority.rawValue)), \(ticket.shopperID), \(ticket.assigneeAgentID),
        \(ticket.sla.firstResponseDueTime.date), \(ticket.sla.resolutionDueTime.date),
        'epoch'::timestamptz + \(ticket.createTime.unixMicroseconds) * interval '1 microsecond',
        \(ticket.updateTime.date), \(ticket.version), \(body))
      ON CONFLICT (request_id) DO NOTHING
      RETURNING ticket_id
      """, logger: logger
    ).collect()
    if inserted.isEmpty {
      // A concurrent call with the same request id committed first.
      guard let existing = try await Self.firstResult(requestID, fingerprint, connection, logger) else {
        throw RPCError(code: .aborted, message: "concurrent create with the same request_id, retry")
      }
      return .retried(existing)
    }
    if !ticket.items.isEmpty {
      let positions = ticket.items.indices.map { Int32($0) }
      try await connection.query(
        """
        INSERT INTO ticket_items (ticket_id, position, order_id, order_item_id)
        SELECT \(id), * FROM unnest(\(positions)::integer[], \(ticket.items.map(\.orderID))::text[], \(ticket.items.map(\.orderItemID))::text[])
        """, logger: logger)
    }
    var entry = Support_Tickets_V1_HistoryEntry()
    entry.ticketID = ticket.ticketID
    entry.kind = .created
    entry.actor = ticket.createdBy
    entry.fromStatus = .unspecified
    entry.toStatus = ticket.status
    entry.occurTime = ticket.createTime
    entry.ticketVersion = ticket.version
    // A case filed against the policy says why in its first entry.
    entry.reason = ticket.eligibilityOverrideReason
    try await Self.appendHistory(entry, ticketID: id, connection, logger)
    try await SlaStore.sync(ticket, on: connection, logger: logger)
    // Announced in the same transaction, last: the append holds the event log's position lock.
    if let outbox {
      let eventID = UUID()
      try await outbox.append(
        .ticketCreated(ticket.createdEvent(eventID: eventID, requestID: requestID)), subject: ticket.ticketID, eventID: eventID,
        occurredAt: ticket.createTime.date, on: connection, logger: logger)
    }
    return .created(ticket)
  }

  func get(_ id: UUID, logger: Logger) async throws -> Ticket? {
    try await database.withConnection(logger: logger) { connection in
      for try await body in try await connection.execute(TicketByID(ticketID: id), logger: logger) {
        return try Ticket(bytea: body)
      }
      return nil
    }
  }

  struct ListFilter {
    var statuses: [TicketStatus] = []
    var types: [TicketType] = []
    var categories: [ProblemCategory] = []
    var assigneeAgentID = ""
    var shopperID = ""
    var orderID = ""
    var slaBreachedOnly = false
  }

  /// One page, newest first, each ticket with its created_at in exact microseconds (the cursor
  /// key); `after` is the last (created_at µs, id) of the previous page. Only the filters
  /// given become SQL, so each query can use the index for its filter.
  func list(_ filter: ListFilter, after: (micros: Int64, id: UUID)?, limit: Int, logger: Logger) async throws -> [(ticket: Ticket, micros: Int64)] {
    var bindings = PostgresBindings()
    var conditions: [String] = []
    func bind<T: PostgresNonThrowingEncodable & Sendable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    if !filter.statuses.isEmpty { conditions.append("status = ANY(\(bind(filter.statuses.map { Int16($0.rawValue) })))") }
    if !filter.types.isEmpty { conditions.append("type = ANY(\(bind(filter.types.map { Int16($0.rawValue) })))") }
    if !filter.categories.isEmpty { conditions.append("category = ANY(\(bind(filter.categories.map { Int16($0.rawValue) })))") }
    if !filter.assigneeAgentID.isEmpty { conditions.append("assignee_agent_id = \(bind(filter.assigneeAgentID))") }
    if !filter.shopperID.isEmpty { conditions.append("shopper_id = \(bind(filter.shopperID))") }
    if !filter.orderID.isEmpty {
      conditions.append("EXISTS (SELECT 1 FROM ticket_items i WHERE i.ticket_id = t.ticket_id AND i.order_id = \(bind(filter.orderID)))")
    }
    if filter.slaBreachedOnly {
      // The same rule as Ticket.sla's flags (withLiveSLA): a clock breaches when its due time
      // passes before it is met; a paused clock stops at the start of its pause; REJECTED and
      // CANCELLED cases have no breach.
      conditions.append(
        """
        (status <> ALL(\(bind([Int16(TicketStatus.rejected.rawValue), Int16(TicketStatus.cancelled.rawValue)])))
          AND (coalesce(first_responded_at, sla_paused_since, now()) > first_response_due_at
            OR coalesce(resolved_at, sla_paused_since, now()) > resolution_due_at))
        """)
    }
    if let after {
      conditions.append(
        "(created_at, ticket_id) < ('epoch'::timestamptz + \(bind(after.micros)) * interval '1 microsecond', \(bind(after.id)))")
    }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    let sql = """
      SELECT body, (extract(epoch FROM created_at) * 1000000)::int8 FROM tickets t \(whereClause)
      ORDER BY created_at DESC, ticket_id DESC LIMIT \(bind(Int64(limit)))
      """
    let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
    return try await database.withConnection(logger: logger) { connection in
      var tickets: [(ticket: Ticket, micros: Int64)] = []
      for try await (body, micros) in try await connection.query(query, logger: logger).decode((ByteBuffer, Int64).self) {
        tickets.append((try Ticket(bytea: body), micros))
      }
      return tickets
    }
  }

  // MARK: - helpers

  private static func firstResult(_ requestID: String, _ fingerprint: String, _ connection: PostgresConnection, _ logger: Logger) async throws -> Ticket? {
    try await Idempotency.firstResult(
      of: Ticket.self, "SELECT request_fingerprint, body FROM tickets WHERE request_id = \(requestID)",
      fingerprint: fingerprint, describe: { "ticket \($0.ticketID)" }, on: connection, logger: logger
    )
  }

  /// One open case per order item: a case for the whole order (empty order_item_id) overlaps
  /// every item of it. Serialised per order by an advisory lock so two concurrent creates
  /// cannot both pass the check.
  private static func rejectOverlappingOpenCase(_ ticket: Ticket, _ connection: PostgresConnection, _ logger: Logger) async throws {
    for orderID in Set(ticket.items.map(\.orderID)).sorted() {
      let lockKey = "tickets.order:\(orderID)"
      try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(lockKey)))", logger: logger)
      let itemIDs = ticket.items.filter { $0.orderID == orderID }.map(\.orderItemID)
      if let other = try await openGoodsCase(orderID: orderID, itemIDs: itemIDs, shopperID: nil, on: connection, logger: logger) {
        throw ServiceError.alreadyExists(
          reason: "OPEN_CASE_EXISTS", domain: TicketHandlers.errorDomain,
          "open case \(other) already covers order \(orderID); add to that case instead",
          metadata: ["ticket_id": other, "order_id": orderID]
        )
      }
    }
  }

  /// The open goods case (RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE, REPAIR) covering an order
  /// item, if any: CheckEligibility's answer to what CreateTicket's OPEN_CASE_EXISTS refuses
  /// (no lock: it answers, it does not file). `shopperID` limits it to that shopper's cases (a
  /// shopper asking learns nothing of other shoppers' cases).
  func openGoodsCase(covering item: Support_Common_V1_OrderItemRef, shopperID: String?, logger: Logger) async throws -> String? {
    try await database.withConnection(logger: logger) { connection in
      try await Self.openGoodsCase(orderID: item.orderID, itemIDs: [item.orderItemID], shopperID: shopperID, on: connection, logger: logger)
    }
  }

  /// An open goods case of `orderID` covering any of `itemIDs` (an empty id, on either side,
  /// is the whole order), of `shopperID` when given.
  static func openGoodsCase(
    orderID: String, itemIDs: [String], shopperID: String?, on connection: PostgresConnection, logger: Logger
  ) async throws -> String? {
    let finished = finishedStatuses.map { Int16($0.rawValue) }
    let goods = goodsTypes.map { Int16($0.rawValue) }
    let wholeOrder = itemIDs.contains("")
    let rows = try await connection.query(
      """
      SELECT t.ticket_id::text FROM ticket_items i JOIN tickets t ON t.ticket_id = i.ticket_id
      WHERE i.order_id = \(orderID)
        AND (\(wholeOrder) OR i.order_item_id = '' OR i.order_item_id = ANY(\(itemIDs)::text[]))
        AND t.status <> ALL(\(finished)::smallint[]) AND t.type = ANY(\(goods)::smallint[])
        AND (\(shopperID)::text IS NULL OR t.shopper_id = \(shopperID))
      LIMIT 1
      """, logger: logger
    ).decode(String.self)
    for try await id in rows { return id }
    return nil
  }

  static func appendHistory(_ entry: Support_Tickets_V1_HistoryEntry, ticketID: UUID, _ connection: PostgresConnection, _ logger: Logger) async throws {
    let body = try entry.bytea()
    try await connection.query(
      "INSERT INTO ticket_history (ticket_id, occurred_at, body) VALUES (\(ticketID), \(entry.occurTime.date), \(body))",
      logger: logger)
  }
}

/// GetTicket's query, prepared once per connection.
struct TicketByID: PostgresPreparedStatement {
  static let sql = "SELECT body FROM tickets WHERE ticket_id = $1"
  typealias Row = ByteBuffer
  var ticketID: UUID

  func makeBindings() throws -> PostgresBindings {
    var bindings = PostgresBindings()
    bindings.append(ticketID)
    return bindings
  }

  func decodeRow(_ row: PostgresRow) throws -> ByteBuffer {
    try row.decode(ByteBuffer.self)
  }
}

extension Ticket {
  /// The TicketCreatedEvent announcing this new case.
  func createdEvent(eventID: UUID, requestID: String) -> Support_Tickets_V1_TicketCreatedEvent {
    .with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.requestID = requestID
      $0.ticketID = ticketID
      $0.ticketVersion = version
      $0.type = type
      $0.category = category
      $0.priority = priority
      $0.shopperID = shopperID
      $0.items = items
      if hasSource { $0.source = source }
      $0.channel = channel
      $0.skillGroupID = skillGroupID
      $0.createdBy = createdBy
      $0.firstResponseDueTime = sla.firstResponseDueTime
      $0.resolutionDueTime = sla.resolutionDueTime
      $0.occurTime = createTime
    }
  }
}
