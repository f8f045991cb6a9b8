import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

typealias Shipment = Support_Logistics_V1_Shipment
typealias TrackingEvent = Support_Logistics_V1_TrackingEvent

/// All SQL of the logistics service. The shipment row's `body` holds the shipment without its
/// timeline; the timeline is the shipment's rows in tracking_events, read in one query.
struct ShipmentStore: Sendable {
  let database: Database
  /// Where every change's events go, in the change's transaction (logistics_events.proto).
  let outbox: EventOutbox

  static let cancelled = Int16(Support_Logistics_V1_ShipmentStatus.cancelled.rawValue)

  /// The error domain of the logistics service's ErrorInfo details.
  static let errorDomain = "support.logistics.v1"

  func create(_ shipment: Shipment, requestID: String, fingerprint: String, logger: Logger) async throws -> Shipment {
    try await database.withTransaction(logger: logger) { connection in
      try await Idempotency.lock(requestID: requestID, scope: "logistics", on: connection, logger: logger)
      if let existing = try await Idempotency.firstResult(
        of: Shipment.self, "SELECT request_fingerprint, body FROM shipments WHERE request_id = \(requestID)",
        fingerprint: fingerprint, describe: { "shipment \($0.shipmentID)" }, on: connection, logger: logger
      ) {
        return try await Self.withDetails(existing.normalised, connection, logger)
      }
      for try await other in try await connection.query(
        """
        SELECT shipment_id::text FROM shipments
        WHERE carrier_code = \(shipment.carrierCode) AND tracking_number = \(shipment.trackingNumber) AND status <> \(Self.cancelled)
        """, logger: logger
      ).decode(String.self) {
        throw ServiceError.alreadyExists(
          reason: "WAYBILL_EXISTS", domain: Self.errorDomain,
          "shipment \(other) already has carrier \(shipment.carrierCode) tracking number \(shipment.trackingNumber)",
          metadata: ["shipment_id": other, "carrier_code": shipment.carrierCode, "tracking_number": shipment.trackingNumber]
        )
      }
      var events = PendingEvents()
      var shipment = shipment
      if !shipment.returnAuthorizationID.isEmpty {
        // A SELF_SHIP return reported with its waybill: the authorisation takes the shipment
        // and is on its way (IN_TRANSIT).
        try await ReturnAuthorizationStore.attachReportedShipment(&shipment, on: connection, logger: logger)
      }
      try await Self.insert(shipment, requestID: requestID, fingerprint: fingerprint, on: connection, logger: logger)
      events.add(subject: shipment.shipmentID) { ShipmentEvents.created(shipment, eventID: $0) }
      try await events.append(to: outbox, on: connection, logger: logger)
      return shipment
    }
  }

  /// Inserts a new shipment and its CREATED watch change (sequence 1). The caller announces
  /// it (ShipmentEvents.created) last in its transaction.
  static func insert(_ shipment: Shipment, requestID: String, fingerprint: String, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query(
      """
      INSERT INTO shipments (shipment_id, request_id, request_fingerprint, kind, order_id, ticket_id, carrier_code,
        tracking_number, status, last_sequence, created_at, updated_at, version, body, shopper_id)
      VALUES (\(UUID(uuidString: shipment.shipmentID)!), \(requestID), \(fingerprint), \(Int16(shipment.kind.rawValue)),
        \(shipment.orderID), \(shipment.ticketID), \(shipment.carrierCode), \(shipment.trackingNumber),
        \(Int16(shipment.status.rawValue)), \(shipment.lastSequence), \(shipment.createTime.date), \(shipment.updateTime.date), \(shipment.version),
        \(try shipment.bytea()), \(shipment.shopperID))
      """, logger: logger)
    try await ShipmentChanges.insert(
      [ShipmentChanges.change(.created, sequence: 1, shipment: shipment, at: shipment.createTime)],
      shipmentID: shipment.shipmentID, on: connection, logger: logger)
  }

  func get(_ id: UUID, logger: Logger) async throws -> Shipment? {
    try await database.withConnection(logger: logger) { connection in
      for try await body in try await connection.query("SELECT body FROM shipments WHERE shipment_id = \(id)", logger: logger).decode(ByteBuffer.self) {
        return try await Self.withDetails(try Shipment(bytea: body).normalised, connection, logger)
      }
      return nil
    }
  }

  struct RecordOutcome {
    var shipment: Shipment
    var accepted: Int
    var duplicates: Int
  }

  /// Records a batch of carrier events atomically, recomputes the shipment from its whole
  /// timeline (`recompute` turns (shipment, ordered timeline) into the updated shipment) and
  /// opens, updates or resolves its exceptions (ExceptionRules), all in one transaction.
  /// Sequences: each new tracking event, then each exception change, takes the next one.
  func record(
    carrier: String, trackingNumber: String, events: [TrackingEvent], carriers: CarrierCatalog, logger: Logger,
    recompute: @escaping @Sendable (Shipment, [TrackingEvent], _ routeMedian: TimeInterval?) -> Shipment
  ) async throws -> RecordOutcome {
    try await database.withTransaction(logger: logger) { connection in
      var found: (UUID, Shipment, Bool)?
      for try await (id, body, announced) in try await connection.query(
        """
        SELECT shipment_id, body, delivery_announced FROM shipments
        WHERE carrier_code = \(carrier) AND tracking_number = \(trackingNumber)
        ORDER BY status = \(Self.cancelled), created_at DESC LIMIT 1
        FOR UPDATE
        """, logger: logger
      ).decode((UUID, ByteBuffer, Bool).self) {
        found = (id, try Shipment(bytea: body).normalised, announced)
      }
      guard let (id, shipment, deliveryAnnounced) = found else {
        throw RPCError(code: .notFound, message: "no shipment has carrier \(carrier) tracking number \(trackingNumber) (not registered yet: retry later)")
      }
      // The first copy of an event id wins, within the batch and across calls.
      var seen = Set<String>()
      let unique = events.filter { seen.insert($0.carrierEventID).inserted }
      var recorded: [String: UUID] = [:]
      for try await (eventID, owner) in try await connection.query(
        """
        SELECT carrier_event_id, shipment_id FROM tracking_events
        WHERE carrier_code = \(carrier) AND carrier_event_id = ANY(\(unique.map(\.carrierEventID))::text[])
        """, logger: logger
      ).decode((String, UUID).self) {
        recorded[eventID] = owner
      }
      if let (eventID, owner) = recorded.first(where: { $0.value != id }) {
        let index = events.firstIndex { $0.carrierEventID == eventID } ?? 0
        throw ServiceError.failedPrecondition(
          reason: "CARRIER_EVENT_OF_OTHER_SHIPMENT", domain: ShipmentStore.errorDomain,
          "carrier event \(eventID) is already recorded for another shipment (\(owner.uuidString.lowercased())) of carrier \(carrier)",
          metadata: ["carrier_code": carrier, "carrier_event_id": eventID, "shipment_id": owner.uuidString.lowercased()],
          violations: [.init(
            reason: "CARRIER_EVENT_OF_OTHER_SHIPMENT", subject: "events[\(index)].carrier_event_id",
            description: "already recorded for shipment \(owner.uuidString.lowercased())")]
        )
      }
      let new = unique.filter { recorded[$0.carrierEventID] == nil }
      var sequence = shipment.lastSequence
      var stored: [TrackingEvent] = []
      for var event in new {
        sequence += 1
        event.sequence = sequence
        stored.append(event)
      }
      if !stored.isEmpty {
        try await connection.query(
          """
          INSERT INTO tracking_events (carrier_code, carrier_event_id, shipment_id, sequence, event_time, received_at, body)
          SELECT \(carrier), e.id, \(id), e.seq, e.at, e.received, e.body
          FROM unnest(\(stored.map(\.carrierEventID))::text[], \(stored.map(\.sequence))::bigint[],
            \(stored.map(\.eventTime.date))::timestamptz[], \(stored.map(\.receivedTime.date))::timestamptz[],
            \(try stored.map { try $0.bytea() })::bytea[]) AS e(id, seq, at, received, body)
          """, logger: logger)
      }
      let timeline = try await Self.timeline(id, connection, logger)
      let open = try await Self.openExceptions(id, connection, logger)
      var updated = shipment
      updated.openExceptions = open
      if !stored.isEmpty {
        // The route's past deliveries, for the expected delivery when no carrier estimate exists.
        let routeMedian = try await RouteHistory.median(
          carrier: shipment.carrierCode, route: RouteHistory.route(shipment), samples: carriers.routeSamples,
          minimum: carriers.routeMinSamples, on: connection, logger: logger)
        updated = recompute(shipment, timeline, routeMedian)
        let now = updated.updateTime.date
        let exceptions = ExceptionRules.apply(
          shipment: updated, open: open, newEvents: stored, timeline: timeline, now: now,
          previousLastScan: shipment.hasLastScanTime ? shipment.lastScanTime.date : nil)
        for exception in exceptions.changed.values.sorted(by: { $0.exceptionID < $1.exceptionID }) {
          if exceptions.created.contains(exception.exceptionID) {
            try await connection.query(
              """
              INSERT INTO shipment_exceptions (exception_id, shipment_id, kind, state, detected_at, version, body)
              VALUES (\(UUID(uuidString: exception.exceptionID)!), \(id), \(Int16(exception.kind.rawValue)),
                \(Int16(exception.state.rawValue)), \(exception.detectedTime.date), \(exception.version), \(try exception.bytea()))
              """, logger: logger)
          } else {
            try await connection.query(
              """
              UPDATE shipment_exceptions SET state = \(Int16(exception.state.rawValue)), version = \(exception.version),
                body = \(try exception.bytea())
              WHERE exception_id = \(UUID(uuidString: exception.exceptionID)!)
              """, logger: logger)
          }
        }
        sequence += Int64(exceptions.changes.count)
        updated.lastSequence = sequence
        var body = updated
        body.openExceptions = []
        let announceDelivery = updated.status == .delivered && !deliveryAnnounced
        try await connection.query(
          """
          UPDATE shipments SET status = \(Int16(updated.status.rawValue)), last_sequence = \(sequence),
            updated_at = \(updated.updateTime.date), version = \(updated.version), body = \(try body.bytea()),
            delivery_announced = delivery_announced OR \(announceDelivery),
            last_scan_at = \(updated.hasLastScanTime ? updated.lastScanTime.date : nil)
          WHERE shipment_id = \(id)
          """, logger: logger)
        updated.openExceptions = exceptions.open

        // The watch stream: one change per new tracking event (sharing the batch's snapshot),
        // then one per exception change, in the sequences taken above.
        var snapshot = updated
        snapshot.timeline = []
        var changes = stored.map { ShipmentChanges.change(.trackingEventRecorded, sequence: $0.sequence, shipment: snapshot, at: updated.updateTime, trackingEvent: $0) }
        var events = PendingEvents()
        for (offset, change) in exceptions.changes.enumerated() {
          guard let exception = exceptions.changed[change.exceptionID] else { continue }
          let kind: Support_Logistics_V1_ShipmentWatchEventKind =
            switch change.change {
            case .opened: .exceptionOpened
            case .updated: .exceptionUpdated
            case .resolved: .exceptionResolved
            }
          changes.append(ShipmentChanges.change(
            kind, sequence: (stored.last?.sequence ?? shipment.lastSequence) + Int64(offset) + 1, shipment: snapshot,
            at: updated.updateTime, exception: exception))
          events.add(subject: updated.shipmentID) { ShipmentEvents.exception(exception, change: change.change, shipment: updated, eventID: $0) }
        }
        try await ShipmentChanges.insert(changes, shipmentID: updated.shipmentID, on: connection, logger: logger)
        // A return parcel moves its authorisation along (IN_TRANSIT, then RECEIVED).
        let rmaNumber = try await ReturnAuthorizationStore.follow(shipment: updated, on: connection, logger: logger)
        if announceDelivery {
          try await RouteHistory.record(updated, timeline, on: connection, logger: logger)
          events.add(subject: updated.shipmentID) { ShipmentEvents.delivered(updated, rmaNumber: rmaNumber, eventID: $0) }
        }
        try await events.append(to: outbox, on: connection, logger: logger)
      }
      updated.timeline = timeline
      return RecordOutcome(shipment: updated, accepted: stored.count, duplicates: events.count - stored.count)
    }
  }

  /// The shipment with its timeline and its OPEN exceptions (neither is kept in the body).
  static func withDetails(_ shipment: Shipment, _ connection: PostgresConnection, _ logger: Logger) async throws -> Shipment {
    var result = shipment
    let id = UUID(uuidString: shipment.shipmentID)!
    result.timeline = try await timeline(id, connection, logger)
    result.openExceptions = try await openExceptions(id, connection, logger)
    return result
  }

  /// A shipment's OPEN exceptions, oldest detection first.
  static func openExceptions(_ id: UUID, _ connection: PostgresConnection, _ logger: Logger) async throws -> [ShipmentException] {
    var exceptions: [ShipmentException] = []
    for try await body in try await connection.query(
      "SELECT body FROM shipment_exceptions WHERE shipment_id = \(id) AND state = 1 ORDER BY detected_at, exception_id", logger: logger
    ).decode(ByteBuffer.self) {
      exceptions.append(try ShipmentException(bytea: body))
    }
    return exceptions
  }

  static func timeline(_ id: UUID, _ connection: PostgresConnection, _ logger: Logger) async throws -> [TrackingEvent] {
    var events: [TrackingEvent] = []
    for try await body in try await connection.query(
      "SELECT body FROM tracking_events WHERE shipment_id = \(id) ORDER BY event_time, sequence", logger: logger
    ).decode(ByteBuffer.self) {
      events.append(try TrackingEvent(bytea: body))
    }
    return events
  }
}

extension Shipment {
  /// A stored shipment in the contract's current form: carrier codes written before they were
  /// normalised to lower case read back in lower case.
  var normalised: Shipment {
    var shipment = self
    shipment.carrierCode = CarrierCatalog.canonical(carrierCode)
    return shipment
  }
}
