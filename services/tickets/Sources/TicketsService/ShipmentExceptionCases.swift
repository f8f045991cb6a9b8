import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// Shipment exceptions become after-sales cases without anyone asking (tickets_events.proto,
/// "Consumed"; docs/api.md, "Shipment exceptions become cases"). Runs on the "tickets.logistics"
/// subscription's transaction, so a redelivered event changes nothing; every write below also
/// carries a request id derived from the event id.
///
/// - ShipmentExceptionEvent (OPENED or UPDATED) for an exception with no case yet: when a case
///   is open for the shipment (opened by another of its exceptions) or for the same order lines
///   (the one-open-case rule), that case gets an internal note and the link; otherwise a
///   REFUND_ONLY / LOGISTICS case is filed for the event's shopper by ACTOR_KIND_SYSTEM, source =
///   the shipment, shipment_exception_id = the exception, and the shop's remedy for the kind
///   (ExceptionRemedies) is agreed at once. An exception already linked gets a note per event.
/// - ShipmentExceptionResolvedEvent: a note on the linked case; when the parcel RECOVERED and
///   the case this exception opened is untouched (SUBMITTED, nobody assigned), it is cancelled.
struct ShipmentExceptionCases: Sendable {
  static let subscription = TicketEventConsumers.logisticsName
  let store: TicketStore
  let policy: TicketsPolicy
  let remedies: ExceptionRemedies
  let automation: TicketAutomation
  let logger: Logger

  static let migration = Migration(
    version: 20, name: "cases opened for shipment exceptions",
    sql: """
      -- Which case handles each shipment exception; `opened` when the exception filed it (as
      -- opposed to being attached to a case already open for the shipment or order).
      CREATE TABLE exception_cases (
        exception_id text PRIMARY KEY,
        shipment_id text NOT NULL,
        ticket_id uuid NOT NULL REFERENCES tickets (ticket_id),
        opened boolean NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX exception_cases_shipment_idx ON exception_cases (shipment_id);
      """
  )

  struct Link {
    var ticketID: UUID
    var opened: Bool
  }

  func apply(_ envelope: EventEnvelope, on connection: PostgresConnection) async throws {
    switch envelope.payload {
    case .shipmentException(let event)?: try await detected(event, eventID: envelope.eventID, on: connection)
    case .shipmentExceptionResolved(let event)?: try await resolved(event, eventID: envelope.eventID, on: connection)
    default: return
    }
  }

  // MARK: - opened or detected again

  func detected(_ event: Support_Logistics_V1_ShipmentExceptionEvent, eventID: String, on connection: PostgresConnection) async throws {
    let kind = ExceptionRemedies.name(event.kind)
    let what = "Shipment exception \(event.exceptionID) (\(kind)) on \(event.carrierCode) \(event.trackingNumber)"
    if let link = try await Self.link(event.exceptionID, on: connection, logger: logger) {
      try await automation.note(
        "\(what) detected again (\(event.occurrenceCount) times): \(event.detail)", on: link.ticketID, event: eventID,
        subscription: Self.subscription, connection: connection)
      return
    }
    if let open = try await openCase(for: event, on: connection) {
      try await Self.insertLink(event, ticketID: open, opened: false, on: connection, logger: logger)
      try await automation.note(
        "\(what): \(event.detail). Handled in this case, already open for the shipment or order.", on: open, event: eventID,
        subscription: Self.subscription, connection: connection)
      return
    }
    guard !event.shopperID.isEmpty else {
      logger.warning("no case for a shipment exception: the shipment names no shopper", metadata: [
        "exception_id": "\(event.exceptionID)", "shipment_id": "\(event.shipmentID)",
      ])
      return
    }
    let request = createRequest(for: event, eventID: eventID)
    let now = Date.nowMicroseconds
    let ticket: Ticket
    do {
      try TicketHandlers.validate(request, now: now)
      let delivered = try await DeliveryFacts.lookup(request.items, shopperID: nil, on: connection, logger: logger)
      var filed = try TicketHandlers.newTicket(request, createdBy: request.actor, policy: policy, now: now, delivered: delivered)
      filed.shipmentExceptionID = event.exceptionID
      switch try await store.create(.success(filed), requestID: request.requestID, fingerprint: request.requestID, on: connection, logger: logger) {
      case .created(let created): ticket = created
      case .retried: return
      }
    } catch let status as GoogleRPCStatus where TicketEscalations.refusable.contains(status.code) {
      // The facts cannot become a case (e.g. a concurrent case took the order): retrying
      // cannot help, so it is logged and the exception stays in logistics' queue.
      logger.warning("no case for a shipment exception", metadata: ["exception_id": "\(event.exceptionID)", "reason": "\(status.message)"])
      return
    }
    let id = UUID(uuidString: ticket.ticketID)!
    try await Self.insertLink(event, ticketID: id, opened: true, on: connection, logger: logger)
    logger.info("case opened for a shipment exception", metadata: ["ticket_id": "\(ticket.ticketID)", "exception_id": "\(event.exceptionID)"])
    try await agreeRemedy(remedies.remedy(for: event.kind), on: ticket, eventID: eventID, on: connection)
  }

  /// The CreateTicket request the exception stands for (request id derived from the event).
  func createRequest(for event: Support_Logistics_V1_ShipmentExceptionEvent, eventID: String) -> Support_Tickets_V1_CreateTicketRequest {
    let kind = ExceptionRemedies.name(event.kind)
    return .with {
      $0.requestID = "shipment-exception:\(eventID)"
      $0.type = .refundOnly
      $0.category = .logistics
      $0.shopperID = event.shopperID
      $0.items = event.items.isEmpty ? [.with { $0.orderID = event.orderID }] : event.items
      $0.title = String("Parcel \(kind.lowercased().replacingOccurrences(of: "_", with: " ")): \(event.carrierCode) \(event.trackingNumber)".prefix(200))
      $0.description_p = String(
        ("\(event.detail)\n\n(opened by the system for shipment exception \(event.exceptionID) of shipment \(event.shipmentID))").prefix(5000))
      $0.priority = event.kind == .lost || event.kind == .damaged ? .high : .normal
      $0.source = .with { $0.kind = .shipment; $0.id = event.shipmentID }
      $0.actor = TicketAutomation.actor(Self.subscription)
    }
  }

  /// The shop's remedy, agreed by the system on the new case (StartReview, Approve,
  /// AgreeSolution), or a note saying why a person must decide.
  func agreeRemedy(_ remedy: ExceptionRemedies.Remedy, on ticket: Ticket, eventID: String, on connection: PostgresConnection) async throws {
    let id = UUID(uuidString: ticket.ticketID)!
    let solution: Support_Tickets_V1_AgreeSolutionAction
    switch remedy {
    case .agent:
      return
    case .reship:
      guard ticket.items.allSatisfy({ !$0.sku.isEmpty }) else {
        try await automation.note(
          "The shop reships this kind of exception, but the shipment's items name no sku: an agent decides.", on: id,
          event: "\(eventID):remedy", subscription: Self.subscription, connection: connection)
        return
      }
      solution = .with {
        $0.exchange = .with { exchange in
          exchange.replacementItems = ticket.items.map { item in
            var item = item
            item.quantity = max(item.quantity, 1)
            return item
          }
        }
      }
    case .refund:
      guard let paid = TicketWorkflow.paid(for: ticket), paid.amountMinor > 0 else {
        try await automation.note(
          "The shop refunds this kind of exception, but the shipment's items carry no price: an agent decides the amount.", on: id,
          event: "\(eventID):remedy", subscription: Self.subscription, connection: connection)
        return
      }
      solution = .with { $0.refund = .with { $0.amount = paid } }
    }
    let why = "the shop's remedy for this exception kind is \(remedy.rawValue)"
    let steps: [(String, TicketAction.OneOf_Action)] = [
      ("review", .startReview(.with { $0.note = why })),
      ("approve", .approve(.with { $0.note = why })),
      ("solution", .agreeSolution(solution)),
    ]
    for (step, action) in steps {
      try await automation.apply(action, to: ticket.ticketID, event: "\(eventID):\(step)", subscription: Self.subscription, on: connection)
    }
  }

  // MARK: - resolved

  func resolved(_ event: Support_Logistics_V1_ShipmentExceptionResolvedEvent, eventID: String, on connection: PostgresConnection) async throws {
    guard let link = try await Self.link(event.exceptionID, on: connection, logger: logger) else { return }
    let resolution = Self.name(event.resolution)
    var text = "Shipment exception \(event.exceptionID) (\(ExceptionRemedies.name(event.kind))) resolved: \(resolution)"
    if !event.resolutionNote.isEmpty { text += " (\(event.resolutionNote))" }
    try await automation.note(text + ".", on: link.ticketID, event: eventID, subscription: Self.subscription, connection: connection)
    guard link.opened, event.resolution == .recovered else { return }
    // The parcel turned up before anyone worked on the case the exception opened: nothing is
    // left to do for it, so the system cancels it (a touched case is left to its agent).
    let actor = TicketAutomation.actor(Self.subscription)
    let reason = "the parcel was recovered (\(resolution)) before anyone worked on the case"
    let requestID = "event:\(eventID):cancel"
    let now = Date.nowMicroseconds
    _ = try await store.change(link.ticketID, requestID: requestID, fingerprint: requestID, on: connection, logger: logger) { ticket in
      guard ticket.status == .submitted, ticket.assigneeAgentID.isEmpty, ticket.createdBy.kind == .system else { return nil }
      let action = TicketAction.OneOf_Action.cancel(.with { $0.reason = reason })
      var (next, why) = TicketWorkflow.apply(action, to: ticket, target: .cancelled, by: actor, now: now)
      next.version = ticket.version + 1
      next.updateTime = now.timestamp
      var entry = TicketHandlers.entry(.transitioned, ticket: next, actor: actor, reason: why, now: now)
      entry.fromStatus = ticket.status
      entry.action = .with { $0.action = action }
      return (next, entry)
    }
  }

  static func name(_ resolution: Support_Logistics_V1_ShipmentExceptionResolution) -> String {
    switch resolution {
    case .recovered: "RECOVERED"
    case .reshipped: "RESHIPPED"
    case .refunded: "REFUNDED"
    case .carrierClaimSettled: "CARRIER_CLAIM_SETTLED"
    case .noActionNeeded: "NO_ACTION_NEEDED"
    default: "UNSPECIFIED"
    }
  }

  // MARK: - SQL

  static func link(_ exceptionID: String, on connection: PostgresConnection, logger: Logger) async throws -> Link? {
    for try await (ticketID, opened) in try await connection.query(
      "SELECT ticket_id, opened FROM exception_cases WHERE exception_id = \(exceptionID)", logger: logger
    ).decode((UUID, Bool).self) {
      return Link(ticketID: ticketID, opened: opened)
    }
    return nil
  }

  static func insertLink(
    _ event: Support_Logistics_V1_ShipmentExceptionEvent, ticketID: UUID, opened: Bool, on connection: PostgresConnection, logger: Logger
  ) async throws {
    try await connection.query(
      """
      INSERT INTO exception_cases (exception_id, shipment_id, ticket_id, opened)
      VALUES (\(event.exceptionID), \(event.shipmentID), \(ticketID), \(opened)) ON CONFLICT (exception_id) DO NOTHING
      """, logger: logger)
  }

  /// A case still open for the shipment (filed for another of its exceptions), else an open
  /// goods case covering the same order lines (the one-open-case rule), serialised with
  /// CreateTicket by the same per-order advisory lock.
  func openCase(for event: Support_Logistics_V1_ShipmentExceptionEvent, on connection: PostgresConnection) async throws -> UUID? {
    let finished = TicketStore.finishedStatuses.map { Int16($0.rawValue) }
    for try await id in try await connection.query(
      """
      SELECT t.ticket_id FROM exception_cases c JOIN tickets t ON t.ticket_id = c.ticket_id
      WHERE c.shipment_id = \(event.shipmentID) AND t.status <> ALL(\(finished)::smallint[])
      ORDER BY c.created_at DESC LIMIT 1
      """, logger: logger
    ).decode(UUID.self) {
      return id
    }
    let items = event.items.isEmpty ? [Support_Common_V1_OrderItemRef.with { $0.orderID = event.orderID }] : event.items
    let goods = TicketStore.goodsTypes.map { Int16($0.rawValue) }
    for orderID in Set(items.map(\.orderID).filter { !$0.isEmpty }).sorted() {
      let lockKey = "tickets.order:\(orderID)"
      try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(lockKey)))", logger: logger)
      let lines = items.filter { $0.orderID == orderID }.map(\.orderItemID)
      let wholeOrder = lines.contains("")
      for try await id in try await connection.query(
        """
        SELECT t.ticket_id FROM ticket_items i JOIN tickets t ON t.ticket_id = i.ticket_id
        WHERE i.order_id = \(orderID)
          AND (\(wholeOrder) OR i.order_item_id = '' OR i.order_item_id = ANY(\(lines)::text[]))
          AND t.status <> ALL(\(finished)::smallint[]) AND t.type = ANY(\(goods)::smallint[])
        ORDER BY t.created_at DESC LIMIT 1
        """, logger: logger
      ).decode(UUID.self) {
        return id
      }
    }
    return nil
  }
}
