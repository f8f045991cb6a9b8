import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// support.logistics.v1.ShipmentService: the methods this release serves (shipments, tracking,
/// watch, return authorisations, exceptions; ReturnAuthorizationHandlers.swift,
/// ShipmentListHandlers.swift, ShipmentUpdateHandlers.swift, ExceptionHandlers.swift).
struct ShipmentHandlers: RegistrableRPCService {
  typealias Methods = Support_Logistics_V1_ShipmentService.Method
  let store: ShipmentStore
  let carriers: CarrierCatalog
  let returns: ReturnSettings
  /// Wakes WatchShipment streams when shipment changes commit.
  let watchNotifier: EventLogNotifier
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.CreateShipment.descriptor, createShipment)
    router.registerUnary(Methods.GetShipment.descriptor, getShipment)
    router.registerUnary(Methods.ListShipments.descriptor, listShipments)
    router.registerUnary(Methods.UpdateShipment.descriptor, updateShipment)
    router.registerUnary(Methods.CancelShipment.descriptor, cancelShipment)
    router.registerUnary(Methods.RecordTrackingEvents.descriptor, recordTrackingEvents)
    router.registerServerStreaming(Methods.WatchShipment.descriptor, watchShipment)
    router.registerUnary(Methods.CreateReturnAuthorization.descriptor, createReturnAuthorization)
    router.registerUnary(Methods.GetReturnAuthorization.descriptor, getReturnAuthorization)
    router.registerUnary(Methods.ListReturnAuthorizations.descriptor, listReturnAuthorizations)
    router.registerUnary(Methods.CancelReturnAuthorization.descriptor, cancelReturnAuthorization)
    router.registerUnary(Methods.GetException.descriptor, getException)
    router.registerUnary(Methods.ListOpenExceptions.descriptor, listOpenExceptions)
    router.registerUnary(Methods.ResolveException.descriptor, resolveException)
  }

  /// How far in the future a carrier's event time may be (clocks differ).
  static let clockSkewAllowance: TimeInterval = 15 * 60
  static let maxEventsPerBatch = 500
  /// Statuses in which the parcel is not expected to reach its destination.
  static let noExpectedDelivery: Set<ShipmentStatus> = [.returnedToSender, .lost, .cancelled]

  @Sendable func createShipment(_ request: Support_Logistics_V1_CreateShipmentRequest) async throws -> Shipment {
    try Permissions.requireStaff("create shipments")
    try Validate.requestID(request.requestID)
    try Validate.specified(request.kind, "kind")
    try Validate.required(request.orderID, "order_id")
    try Validate.required(request.carrierCode, "carrier_code", maxLength: 32)
    // Any case is accepted; the documented lower-case form is stored and returned.
    guard let carrier = carriers.known(request.carrierCode) else {
      throw ServiceError.invalidArgument("carrier_code", "\(request.carrierCode) is not a configured carrier")
    }
    try Validate.required(request.trackingNumber, "tracking_number", maxLength: 64)
    guard request.hasDestination else { throw ServiceError.invalidArgument("destination", "is required") }
    try validate(request.destination, "destination")
    if request.hasOrigin { try validate(request.origin, "origin") }
    if request.kind != .outbound { try Validate.required(request.ticketID, "ticket_id") }
    try Validate.maxLength(request.ticketID, "ticket_id", Validate.maxIDLength)
    try Validate.maxLength(request.shopperID, "shopper_id", Validate.maxIDLength)
    if request.items.isEmpty { throw ServiceError.invalidArgument("items", "at least one item is required") }
    try Validate.maxCount(request.items, "items", 100)
    for (index, item) in request.items.enumerated() {
      if !item.orderID.isEmpty && item.orderID != request.orderID {
        throw ServiceError.invalidArgument("items[\(index)].order_id", "names order \(item.orderID), not \(request.orderID)")
      }
      if item.quantity < 0 { throw ServiceError.invalidArgument("items[\(index)].quantity", "must not be negative") }
    }
    if !request.returnAuthorizationID.isEmpty {
      guard request.kind == .return || request.kind == .repairInbound else {
        throw ServiceError.invalidArgument("return_authorization_id", "applies only to RETURN and REPAIR_INBOUND shipments")
      }
      // The authorisation itself (exists, ISSUED, no shipment yet, same ticket) is checked in
      // the create's transaction.
      guard UUID(uuidString: request.returnAuthorizationID) != nil else {
        throw ServiceError.notFound("return authorisation", request.returnAuthorizationID)
      }
    }
    if request.hasActor { try Validate.known(request.actor.kind, "actor.kind") }
    if request.hasPromisedDeliveryTime { try Validate.timestamp(request.promisedDeliveryTime, "promised_delivery_time") }

    let now = Date.nowMicroseconds
    var shipment = Shipment()
    shipment.shipmentID = UUID().uuidString.lowercased()
    shipment.kind = request.kind
    shipment.orderID = request.orderID
    shipment.ticketID = request.ticketID
    shipment.shopperID = request.shopperID
    shipment.carrierCode = carrier
    shipment.trackingNumber = request.trackingNumber
    shipment.status = .labelCreated
    shipment.items = request.items.map { item in
      var item = item
      if item.orderID.isEmpty { item.orderID = request.orderID }
      return item
    }
    if request.hasOrigin {
      shipment.origin = request.origin
    } else if [.outbound, .exchangeReplacement, .repairOutbound].contains(request.kind) {
      // Goods leave from the configured warehouse (the repair centre for a repaired item).
      shipment.origin = returns.destination(for: request.kind)
    }
    shipment.destination = request.destination
    shipment.returnAuthorizationID = request.returnAuthorizationID.lowercased()
    if request.hasPromisedDeliveryTime { shipment.promisedDeliveryTime = request.promisedDeliveryTime.microsecondDate.timestamp }
    shipment.createdBy = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    shipment.createTime = now.timestamp
    shipment.updateTime = now.timestamp
    shipment.version = 1
    // Registering the shipment is the first change of its watch stream (CREATED, sequence 1).
    shipment.lastSequence = 1
    let registered = shipment
    let (carriers, logger) = (self.carriers, log)
    (shipment.expectedDeliveryTime, shipment.expectedDeliverySource) = try await store.database.withConnection(logger: logger) { connection in
      try await RouteHistory.estimate(registered, carriers: carriers, on: connection, logger: logger)
    }
    // A retry that spells the carrier in another case is the same request.
    var canonicalRequest = request
    canonicalRequest.carrierCode = carrier
    let created = try await store.create(shipment, requestID: request.requestID, fingerprint: Fingerprint.of(canonicalRequest), logger: log)
    log.info("shipment created", metadata: ["shipment_id": "\(created.shipmentID)", "kind": "\(created.kind)"])
    return created
  }

  func validate(_ address: Support_Logistics_V1_Address, _ field: String) throws {
    try Validate.required(address.recipientName, "\(field).recipient_name", maxLength: 100)
    try Validate.required(address.street, "\(field).street", maxLength: 300)
    try Validate.required(address.city, "\(field).city", maxLength: 100)
    try Validate.maxLength(address.phone, "\(field).phone", 32)
    try Validate.maxLength(address.countryCode, "\(field).country_code", 2)
    try Validate.maxLength(address.province, "\(field).province", 100)
    try Validate.maxLength(address.district, "\(field).district", 100)
    try Validate.maxLength(address.postalCode, "\(field).postal_code", 16)
  }

  @Sendable func getShipment(_ request: Support_Logistics_V1_GetShipmentRequest) async throws -> Shipment {
    // A shopper reads only the shipments registered for them (NOT_FOUND otherwise, so other
    // shoppers' ids cannot be probed).
    guard let id = try Validate.resourceID(request.shipmentID, "shipment_id"),
      let shipment = try await store.get(id, logger: log), try Permissions.mayRead(shopperID: shipment.shopperID)
    else { throw ServiceError.notFound("shipment", request.shipmentID) }
    return shipment
  }

  @Sendable func recordTrackingEvents(_ request: Support_Logistics_V1_RecordTrackingEventsRequest) async throws -> Support_Logistics_V1_RecordTrackingEventsResponse {
    try Permissions.requireStaff("record tracking events")
    try Validate.required(request.carrierCode, "carrier_code", maxLength: 32)
    let carrier = CarrierCatalog.canonical(request.carrierCode)
    try Validate.required(request.trackingNumber, "tracking_number", maxLength: 64)
    if request.events.isEmpty { throw ServiceError.invalidArgument("events", "at least one event is required") }
    try Validate.maxCount(request.events, "events", Self.maxEventsPerBatch)
    let now = Date.nowMicroseconds
    var events: [TrackingEvent] = []
    for (index, carrierEvent) in request.events.enumerated() {
      let field = "events[\(index)]"
      try Validate.required(carrierEvent.carrierEventID, "\(field).carrier_event_id")
      try Validate.maxLength(carrierEvent.carrierStatusCode, "\(field).carrier_status_code", 64)
      try Validate.maxLength(carrierEvent.description_p, "\(field).description", 1000)
      try Validate.maxLength(carrierEvent.location, "\(field).location", 300)
      try Validate.known(carrierEvent.status, "\(field).status")
      if carrierEvent.status == .cancelled {
        throw ServiceError.invalidArgument("\(field).status", "CANCELLED is set by CancelShipment, never by a carrier event")
      }
      guard carrierEvent.hasEventTime else { throw ServiceError.invalidArgument("\(field).event_time", "is required") }
      try Validate.timestamp(carrierEvent.eventTime, "\(field).event_time")
      if carrierEvent.hasEstimatedDeliveryTime {
        try Validate.timestamp(carrierEvent.estimatedDeliveryTime, "\(field).estimated_delivery_time")
      }
      if carrierEvent.eventTime.date > now.addingTimeInterval(Self.clockSkewAllowance) {
        throw ServiceError.invalidArgument("\(field).event_time", "is in the future")
      }
      var event = TrackingEvent()
      event.carrierEventID = carrierEvent.carrierEventID
      event.carrierStatusCode = carrierEvent.carrierStatusCode
      event.status = carriers.status(carrier: carrier, code: carrierEvent.carrierStatusCode, hint: carrierEvent.status)
      event.description_p = carrierEvent.description_p
      event.location = carrierEvent.location
      event.eventTime = carrierEvent.eventTime.microsecondDate.timestamp
      event.receivedTime = now.timestamp
      if carrierEvent.hasEstimatedDeliveryTime { event.estimatedDeliveryTime = carrierEvent.estimatedDeliveryTime.microsecondDate.timestamp }
      events.append(event)
    }
    let transitTime = Double(carriers.defaultTransitDays) * 86_400
    let outcome = try await store.record(
      carrier: carrier, trackingNumber: request.trackingNumber, events: events, carriers: carriers, logger: log
    ) { shipment, timeline, routeMedian in
      var updated = shipment
      // The status of the latest mapped event; unmapped events stay in the timeline only. A
      // cancelled shipment stays CANCELLED until a mapped event arrives after the cancellation
      // (this batch's events are the ones received now).
      let reopensCancelled = timeline.contains { $0.receivedTime == now.timestamp && $0.status != .unspecified }
      if shipment.status != .cancelled || reopensCancelled, let latest = timeline.last(where: { $0.status != .unspecified }) {
        updated.status = latest.status
      }
      if let delivered = timeline.first(where: { $0.status == .delivered }), updated.status == .delivered {
        updated.deliveredTime = delivered.eventTime
      } else {
        updated.clearDeliveredTime()
      }
      if let lastScan = timeline.last { updated.lastScanTime = lastScan.eventTime }
      // Expected delivery (logistics.proto, Shipment.expected_delivery_time): none once the
      // parcel will not arrive (returned, lost); the delivery itself once delivered; else
      // recomputed from the whole timeline (RouteHistory.expected).
      if Self.noExpectedDelivery.contains(updated.status) {
        updated.clearExpectedDeliveryTime()
        updated.expectedDeliverySource = .unspecified
      } else if updated.hasDeliveredTime {
        updated.expectedDeliveryTime = updated.deliveredTime
        updated.expectedDeliverySource = .delivered
      } else {
        (updated.expectedDeliveryTime, updated.expectedDeliverySource) = RouteHistory.expected(
          updated, timeline: timeline, routeMedian: routeMedian, defaultTransit: transitTime)
      }
      updated.updateTime = now.timestamp
      updated.version += 1
      return updated
    }
    log.info("tracking events recorded", metadata: [
      "shipment_id": "\(outcome.shipment.shipmentID)", "accepted": "\(outcome.accepted)", "duplicates": "\(outcome.duplicates)",
    ])
    return .with {
      $0.shipment = outcome.shipment
      $0.acceptedCount = Int32(outcome.accepted)
      $0.duplicateCount = Int32(outcome.duplicates)
    }
  }
}
