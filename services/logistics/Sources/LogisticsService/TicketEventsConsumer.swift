import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// Logistics' subscription to the tickets event log ("logistics.tickets"): the reverse legs of
/// an after-sales case (logistics_events.proto, "Consumed"). Each effect runs on the
/// subscription's transaction, which also moves its cursor, so a redelivered event changes
/// nothing; the events logistics announces meanwhile are appended last in that transaction.
/// An event whose effect cannot apply (no order, no address known, an authorisation already
/// live) is skipped with a log line, never retried forever.
struct TicketEventsConsumer: Sendable {
  static let name = "logistics.tickets"
  static let types = [
    Support_Tickets_V1_TicketApprovedEvent.protoMessageName, Support_Tickets_V1_TicketSolutionChangedEvent.protoMessageName,
    Support_Tickets_V1_TicketInspectedEvent.protoMessageName, Support_Tickets_V1_TicketCancelledEvent.protoMessageName,
  ]

  let outbox: EventOutbox
  let returns: ReturnSettings
  let carriers: CarrierCatalog
  let logger: Logger

  static func subscription(producer: HostPort, resources: ServiceResources, consumer: TicketEventsConsumer) -> EventSubscription {
    EventSubscription(
      name: name, producer: producer, types: types, consumer: "logistics", database: resources.database!,
      callerHeader: resources.config.callerHeader, logger: resources.logger
    ) { envelope, connection in
      try await consumer.apply(envelope, on: connection)
    }
  }

  func apply(_ envelope: EventEnvelope, on connection: PostgresConnection) async throws {
    var events = PendingEvents()
    switch envelope.payload {
    case .ticketApproved(let approved)?:
      guard approved.goodsReturnRequired else {
        // A reship (补发: a lost parcel's case agreed as an exchange without a return): the
        // replacement goes out at once, to where the order was delivered.
        guard approved.solutionKind == .exchange else { return }
        let orderID = approved.orderID.isEmpty ? (approved.replacementItems.first?.orderID ?? "") : approved.orderID
        let reship = try await shipOut(
          .exchangeReplacement, ticketID: approved.ticketID, orderID: orderID, items: approved.replacementItems, returnShipmentID: "",
          requestID: "\(envelope.eventID):outbound", shopperID: approved.shopperID, events: &events, on: connection)
        if let reship, let exceptionID = UUID(uuidString: approved.shipmentExceptionID) {
          // The case was opened for a lost (or damaged) parcel: the replacement settles it.
          _ = try await ExceptionResolution.resolve(
            exceptionID, resolution: .reshipped,
            note: "replacement shipped for case \(approved.ticketID): \(reship.carrierCode) \(reship.trackingNumber)",
            actor: .with { $0.kind = .system; $0.id = Self.name }, events: &events, on: connection, logger: logger)
        }
        break
      }
      try await issueReturn(
        ReturnNeed(approved), requestID: "\(envelope.eventID):rma", events: &events, on: connection)
    case .ticketSolutionChanged(let changed)?:
      try await solutionChanged(changed, eventID: envelope.eventID, events: &events, on: connection)
    case .ticketInspected(let inspected)?:
      guard inspected.result == .pass else { return }
      try await shipBack(inspected, requestID: "\(envelope.eventID):outbound", events: &events, on: connection)
    case .ticketCancelled(let cancelled)?:
      try await cancelIssued(ticketID: cancelled.ticketID, reason: "the case was cancelled", on: connection)
    default:
      return  // types this consumer does not know: skipped (the cursor moves on)
    }
    try await events.append(to: outbox, on: connection, logger: logger)
  }

  /// What an authorisation for a case needs, from TicketApprovedEvent or TicketSolutionChangedEvent.
  struct ReturnNeed {
    var ticketID: String
    var orderID: String
    var solution: Support_Tickets_V1_SolutionKind
    var items: [Support_Common_V1_OrderItemRef]
    var payer: Support_Tickets_V1_ShippingPayer
    var method: Support_Tickets_V1_ReturnMethod
    var pickupWindow: Support_Common_V1_TimeRange?
    /// The case's shopper: the return parcel is theirs to follow (GetShipment, WatchShipment).
    var shopperID: String

    init(_ event: Support_Tickets_V1_TicketApprovedEvent) {
      shopperID = event.shopperID
      ticketID = event.ticketID
      orderID = event.orderID.isEmpty ? (event.returnItems.first?.orderID ?? "") : event.orderID
      solution = event.solutionKind
      items = event.returnItems
      payer = event.returnShippingPayer
      method = event.returnMethod
      pickupWindow = event.hasPickupWindow ? event.pickupWindow : nil
    }

    init(_ event: Support_Tickets_V1_TicketSolutionChangedEvent) {
      shopperID = event.shopperID
      ticketID = event.ticketID
      orderID = event.orderID.isEmpty ? (event.returnItems.first?.orderID ?? "") : event.orderID
      solution = event.solutionKind
      items = event.returnItems
      payer = event.returnShippingPayer
      method = event.returnMethod
      pickupWindow = event.hasPickupWindow ? event.pickupWindow : nil
    }

    var shipmentKind: ShipmentKind { solution == .repair ? .repairInbound : .return }
  }

  func issueReturn(_ need: ReturnNeed, requestID: String, events: inout PendingEvents, on connection: PostgresConnection) async throws {
    let context: Logger.Metadata = ["ticket_id": "\(need.ticketID)", "request_id": "\(requestID)"]
    guard !need.orderID.isEmpty, !need.items.isEmpty else {
      logger.warning("no return authorisation: the case names no order or no items to return", metadata: context)
      return
    }
    if let active = try await ReturnAuthorizationStore.active(ticketID: need.ticketID, on: connection, logger: logger) {
      logger.info("no new return authorisation: the case already has one", metadata: context.merging(["rma_number": "\(active.rmaNumber)"]) { $1 })
      return
    }
    let now = Date.nowMicroseconds
    var method: Support_Logistics_V1_ReturnMethod =
      switch need.method {
      case .label: .label
      case .pickup: .pickup
      default: .selfShip
      }
    let requested = method
    var note = ""
    var window = need.pickupWindow
    if method == .pickup, window == nil || !(window!.startTime.date < window!.endTime.date) || window!.endTime.date <= now {
      // The carrier cannot collect in a window that is missing or over: a prepaid label instead.
      method = .label
      window = nil
      note = "the pickup window was missing or over when the authorisation was issued: a prepaid label was issued instead"
    }
    var origin: Address?
    if method != .selfShip {
      origin = try await ShipmentStore.outboundDestination(orderID: need.orderID, on: connection, logger: logger)
      if origin == nil {
        method = .selfShip
        window = nil
        note = "logistics knows no outbound shipment of order \(need.orderID) to collect from: the shopper ships the parcel and reports the waybill"
      }
    }
    let issue = ReturnAuthorizationStore.Issue(
      requestID: requestID, fingerprint: requestID, ticketID: need.ticketID, orderID: need.orderID, shipmentKind: need.shipmentKind,
      method: method, requestedMethod: method == requested ? .unspecified : requested, methodNote: note,
      items: need.items.map { item in
        var item = item
        if item.orderID.isEmpty { item.orderID = need.orderID }
        return item
      },
      origin: origin, destination: returns.destination(for: need.shipmentKind),
      shippingPayer: need.payer == .shopper ? .shopper : .seller, carrier: returns.defaultCarrier, pickupWindow: window,
      shopperID: need.shopperID,
      expireTime: now.addingTimeInterval(Double(returns.validityDays) * 86_400), actor: .with { $0.kind = .system; $0.id = Self.name },
      carriers: carriers)
    _ = try await ReturnAuthorizationStore.issue(issue, events: &events, on: connection, logger: logger)
  }

  /// A changed solution: an ISSUED authorisation that no longer fits is cancelled; one is issued
  /// when goods must now come back and none is live (only while the goods have not arrived).
  func solutionChanged(
    _ changed: Support_Tickets_V1_TicketSolutionChangedEvent, eventID: String, events: inout PendingEvents, on connection: PostgresConnection
  ) async throws {
    let need = ReturnNeed(changed)
    if let active = try await ReturnAuthorizationStore.active(ticketID: changed.ticketID, on: connection, logger: logger),
      active.status == .issued, !changed.goodsReturnRequired || active.shipmentKind != need.shipmentKind
    {
      _ = try await ReturnAuthorizationStore.cancel(
        UUID(uuidString: active.returnAuthorizationID)!, expectedVersion: 0, reason: "the agreed solution changed",
        actor: .with { $0.kind = .system; $0.id = Self.name }, on: connection, logger: logger)
    }
    guard changed.goodsReturnRequired, changed.status == .solutionAgreed else { return }
    try await issueReturn(need, requestID: "\(eventID):rma", events: &events, on: connection)
  }

  /// After a passed inspection: the replacement of an exchange, or the repaired item, goes back
  /// to where the goods came from.
  func shipBack(
    _ inspected: Support_Tickets_V1_TicketInspectedEvent, requestID: String, events: inout PendingEvents, on connection: PostgresConnection
  ) async throws {
    let kind: ShipmentKind
    var items: [Support_Common_V1_OrderItemRef]
    switch inspected.solutionKind {
    case .exchange:
      kind = .exchangeReplacement
      items = inspected.replacementItems.isEmpty ? inspected.items : inspected.replacementItems
    case .repair:
      kind = .repairOutbound
      items = inspected.items
    default:
      return
    }
    let orderID = inspected.orderID.isEmpty ? (inspected.items.first?.orderID ?? "") : inspected.orderID
    try await shipOut(
      kind, ticketID: inspected.ticketID, orderID: orderID, items: items, returnShipmentID: inspected.returnShipmentID,
      requestID: requestID, shopperID: inspected.shopperID, events: &events, on: connection)
  }

  /// An outbound leg for a case (replacement, reship or repaired item), booked by logistics, to
  /// where the goods came from (the return parcel's sender) or else where the order was delivered.
  /// Returns the shipment, or nil when nothing could be shipped.
  @discardableResult
  func shipOut(
    _ kind: ShipmentKind, ticketID: String, orderID: String, items: [Support_Common_V1_OrderItemRef], returnShipmentID: String,
    requestID: String, shopperID: String = "", events: inout PendingEvents, on connection: PostgresConnection
  ) async throws -> Shipment? {
    let context: Logger.Metadata = ["ticket_id": "\(ticketID)", "request_id": "\(requestID)"]
    guard !orderID.isEmpty, !items.isEmpty else {
      logger.warning("nothing shipped: the case names no order or no items", metadata: context)
      return nil
    }
    let destination: Address?
    if let origin = try await ShipmentStore.returnOrigin(
      ticketID: ticketID, shipmentID: returnShipmentID, on: connection, logger: logger)
    {
      destination = origin
    } else {
      destination = try await ShipmentStore.outboundDestination(orderID: orderID, on: connection, logger: logger)
    }
    guard let destination else {
      logger.warning("nothing shipped: logistics knows no address the goods came from or the order went to", metadata: context)
      return nil
    }
    let now = Date.nowMicroseconds
    var shipment = Shipment()
    shipment.shipmentID = UUID().uuidString.lowercased()
    shipment.kind = kind
    shipment.orderID = orderID
    shipment.ticketID = ticketID
    shipment.shopperID = shopperID
    shipment.carrierCode = returns.defaultCarrier
    shipment.trackingNumber = try await ReturnAuthorizationStore.bookWaybill(carrier: returns.defaultCarrier, now, on: connection, logger: logger)
    shipment.status = .labelCreated
    shipment.items = items.map { item in
      var item = item
      if item.orderID.isEmpty { item.orderID = orderID }
      return item
    }
    shipment.origin = returns.destination(for: kind)
    shipment.destination = destination
    shipment.createdBy = .with { $0.kind = .system; $0.id = Self.name }
    shipment.createTime = now.timestamp
    shipment.updateTime = now.timestamp
    shipment.version = 1
    shipment.lastSequence = 1
    (shipment.expectedDeliveryTime, shipment.expectedDeliverySource) = try await RouteHistory.estimate(
      shipment, carriers: carriers, on: connection, logger: logger)
    try await ShipmentStore.insert(shipment, requestID: requestID, fingerprint: requestID, on: connection, logger: logger)
    events.add(subject: shipment.shipmentID) { ShipmentEvents.created(shipment, eventID: $0) }
    logger.info("outbound leg shipped for an inspected case", metadata: context.merging([
      "shipment_id": "\(shipment.shipmentID)", "kind": "\(kind)", "tracking_number": "\(shipment.trackingNumber)",
    ]) { $1 })
    return shipment
  }

  func cancelIssued(ticketID: String, reason: String, on connection: PostgresConnection) async throws {
    guard let active = try await ReturnAuthorizationStore.active(ticketID: ticketID, on: connection, logger: logger),
      active.status == .issued
    else { return }
    _ = try await ReturnAuthorizationStore.cancel(
      UUID(uuidString: active.returnAuthorizationID)!, expectedVersion: 0, reason: reason,
      actor: .with { $0.kind = .system; $0.id = Self.name }, on: connection, logger: logger)
  }
}
