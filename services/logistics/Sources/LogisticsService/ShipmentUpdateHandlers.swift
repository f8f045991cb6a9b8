import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// UpdateShipment (logistics.proto): the few facts a person may correct or add; status,
/// timeline and expected delivery stay derived from tracking events.
extension ShipmentHandlers {
  static let updatablePaths: Set<String> = ["ticket_id", "destination", "promised_delivery_time", "carrier_code", "tracking_number"]
  /// Statuses after which the parcel goes nowhere new: no redirect.
  static let finishedStatuses: Set<ShipmentStatus> = [.delivered, .returnedToSender, .lost, .cancelled]

  @Sendable func updateShipment(_ request: Support_Logistics_V1_UpdateShipmentRequest) async throws -> Shipment {
    try Permissions.requireStaff("update shipments")
    guard let id = try Validate.resourceID(request.shipment.shipmentID, "shipment.shipment_id") else {
      throw ServiceError.notFound("shipment", request.shipment.shipmentID)
    }
    let paths = try Validate.updateMask(request.updateMask.paths, updatable: Self.updatablePaths)
    if paths.contains("carrier_code") != paths.contains("tracking_number") {
      throw ServiceError.invalidArgument("update_mask", "carrier_code and tracking_number are updated together")
    }
    if request.expectedVersion < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative") }
    let wanted = request.shipment
    if paths.contains("ticket_id") { try Validate.required(wanted.ticketID, "shipment.ticket_id") }
    if paths.contains("destination") {
      guard wanted.hasDestination else { throw ServiceError.invalidArgument("shipment.destination", "is required") }
      try validate(wanted.destination, "shipment.destination")
    }
    if paths.contains("promised_delivery_time") && wanted.hasPromisedDeliveryTime {
      try Validate.timestamp(wanted.promisedDeliveryTime, "shipment.promised_delivery_time")
    }
    var newCarrier = ""
    if paths.contains("carrier_code") {
      try Validate.required(wanted.carrierCode, "shipment.carrier_code", maxLength: 32)
      guard let known = carriers.known(wanted.carrierCode) else {
        throw ServiceError.invalidArgument("shipment.carrier_code", "\(wanted.carrierCode) is not a configured carrier")
      }
      newCarrier = known
      try Validate.required(wanted.trackingNumber, "shipment.tracking_number", maxLength: 64)
    }
    let carrier = newCarrier
    if request.hasActor { try Validate.known(request.actor.kind, "actor.kind") }
    _ = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let logger = log
    return try await store.database.withTransaction(logger: logger) { connection in
      guard var shipment = try await ShipmentStore.load(id, forUpdate: true, on: connection, logger: logger) else {
        throw ServiceError.notFound("shipment", request.shipment.shipmentID)
      }
      if request.expectedVersion != 0 && request.expectedVersion != shipment.version {
        throw ServiceError.versionMismatch("shipment", expected: request.expectedVersion, actual: shipment.version)
      }
      let before = shipment
      func refuse(_ reason: String, _ message: String) -> GoogleRPCStatus {
        ServiceError.failedPrecondition(
          reason: reason, domain: ShipmentStore.errorDomain, message,
          metadata: ["shipment_id": shipment.shipmentID, "status": ExceptionRules.name(shipment.status)])
      }
      if paths.contains("ticket_id") && wanted.ticketID != shipment.ticketID {
        guard shipment.ticketID.isEmpty else {
          throw refuse("TICKET_ALREADY_LINKED", "shipment \(shipment.shipmentID) already serves ticket \(shipment.ticketID)")
        }
        shipment.ticketID = wanted.ticketID
      }
      if paths.contains("destination") && wanted.destination != shipment.destination {
        guard !Self.finishedStatuses.contains(shipment.status) else {
          throw refuse("SHIPMENT_FINISHED", "shipment \(shipment.shipmentID) is \(ExceptionRules.name(shipment.status)): it can no longer be redirected")
        }
        shipment.destination = wanted.destination
      }
      if paths.contains("promised_delivery_time") {
        if wanted.hasPromisedDeliveryTime {
          shipment.promisedDeliveryTime = wanted.promisedDeliveryTime.microsecondDate.timestamp
        } else {
          shipment.clearPromisedDeliveryTime()
        }
      }
      if paths.contains("carrier_code") && (carrier != shipment.carrierCode || wanted.trackingNumber != shipment.trackingNumber) {
        let scans = try await ShipmentStore.timeline(id, connection, logger)
        guard scans.isEmpty else {
          throw refuse("TIMELINE_NOT_EMPTY", "shipment \(shipment.shipmentID) already has carrier events: its waybill can no longer be corrected")
        }
        for try await other in try await connection.query(
          """
          SELECT shipment_id::text FROM shipments
          WHERE carrier_code = \(carrier) AND tracking_number = \(wanted.trackingNumber) AND status <> \(ShipmentStore.cancelled)
            AND shipment_id <> \(id)
          """, logger: logger
        ).decode(String.self) {
          throw ServiceError.alreadyExists(
            reason: "WAYBILL_EXISTS", domain: ShipmentStore.errorDomain,
            "shipment \(other) already has carrier \(carrier) tracking number \(wanted.trackingNumber)",
            metadata: ["shipment_id": other, "carrier_code": carrier, "tracking_number": wanted.trackingNumber])
        }
        shipment.carrierCode = carrier
        shipment.trackingNumber = wanted.trackingNumber
      }
      // A new promise, route or carrier: the expected delivery by the same rules as a scan (a
      // carrier's estimate, else the promise, else the route's history, else the default).
      if shipment.promisedDeliveryTime != before.promisedDeliveryTime || shipment.destination != before.destination
        || shipment.carrierCode != before.carrierCode
      {
        try await reestimate(&shipment, on: connection, logger: logger)
      }
      if shipment != before {
        let now = Date.nowMicroseconds
        shipment.version += 1
        shipment.lastSequence += 1
        shipment.updateTime = now.timestamp
        try await ShipmentStore.save(shipment, on: connection, logger: logger)
        // The change carries the shipment as it stands, open exceptions included.
        let detailed = try await ShipmentStore.withDetails(shipment, connection, logger)
        try await ShipmentChanges.insert(
          [ShipmentChanges.change(.updated, sequence: shipment.lastSequence, shipment: detailed, at: now.timestamp)],
          shipmentID: shipment.shipmentID, on: connection, logger: logger)
        return detailed
      }
      return try await ShipmentStore.withDetails(shipment, connection, logger)
    }
  }

  /// Recomputes expected_delivery_time from the shipment's timeline, promise and route history
  /// (RouteHistory.expected), unless the parcel was delivered or will not arrive.
  func reestimate(_ shipment: inout Shipment, on connection: PostgresConnection, logger: Logger) async throws {
    guard !Self.noExpectedDelivery.contains(shipment.status), !shipment.hasDeliveredTime else { return }
    let timeline = try await ShipmentStore.timeline(UUID(uuidString: shipment.shipmentID)!, connection, logger)
    (shipment.expectedDeliveryTime, shipment.expectedDeliverySource) = try await RouteHistory.estimate(
      shipment, timeline: timeline, carriers: carriers, on: connection, logger: logger)
  }
}
