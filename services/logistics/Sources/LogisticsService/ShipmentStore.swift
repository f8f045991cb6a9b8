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

  static let cancelled = Int16(Support_Logistics_V1_ShipmentStatus.cancelled.rawValue)

  func create(_ shipment: Shipment, requestID: String, fingerprint: String, logger: Logger) async throws -> Shipment {
    try await database.withTransaction(logger: logger) { connection in
      try await Idempotency.lock(requestID: requestID, scope: "logistics", on: connection, logger: logger)
      if let existing = try await Idempotency.firstResult(
        of: Shipment.self, "SELECT request_fingerprint, body FROM shipments WHERE request_id = \(requestID)",
        fingerprint: fingerprint, describe: { "shipment \($0.shipmentID)" }, on: connection, logger: logger
      ) {
        return try await Self.withTimeline(existing, connection, logger)
      }
      for try await other in try await connection.query(
        """
        SELECT shipment_id::text FROM shipments
        WHERE carrier_code = \(shipment.carrierCode) AND tracking_number = \(shipment.trackingNumber) AND status <> \(Self.cancelled)
        """, logger: logger
      ).decode(String.self) {
        throw ServiceError.alreadyExists("shipment \(other) already has carrier \(shipment.carrierCode) tracking number \(shipment.trackingNumber)")
      }
      try await connection.query(
        """
        INSERT INTO shipments (shipment_id, request_id, request_fingerprint, kind, order_id, ticket_id, carrier_code,
          tracking_number, status, created_at, updated_at, version, body)
        VALUES (\(UUID(uuidString: shipment.shipmentID)!), \(requestID), \(fingerprint), \(Int16(shipment.kind.rawValue)),
          \(shipment.orderID), \(shipment.ticketID), \(shipment.carrierCode), \(shipment.trackingNumber),
          \(Int16(shipment.status.rawValue)), \(shipment.createTime.date), \(shipment.updateTime.date), \(shipment.version),
          \(try shipment.bytea()))
        """, logger: logger)
      return shipment
    }
  }

  func get(_ id: UUID, logger: Logger) async throws -> Shipment? {
    try await database.withConnection(logger: logger) { connection in
      for try await body in try await connection.query("SELECT body FROM shipments WHERE shipment_id = \(id)", logger: logger).decode(ByteBuffer.self) {
        return try await Self.withTimeline(try Shipment(bytea: body), connection, logger)
      }
      return nil
    }
  }

  struct RecordOutcome {
    var shipment: Shipment
    var accepted: Int
    var duplicates: Int
  }

  /// Records a batch of carrier events atomically and recomputes the shipment from its whole
  /// timeline. `recompute` turns (shipment, ordered timeline) into the updated shipment.
  func record(
    carrier: String, trackingNumber: String, events: [TrackingEvent], logger: Logger,
    recompute: @Sendable (Shipment, [TrackingEvent]) -> Shipment
  ) async throws -> RecordOutcome {
    try await database.withTransaction(logger: logger) { connection in
      var found: (UUID, Shipment)?
      for try await (id, body) in try await connection.query(
        """
        SELECT shipment_id, body FROM shipments
        WHERE carrier_code = \(carrier) AND tracking_number = \(trackingNumber) AND status <> \(Self.cancelled)
        FOR UPDATE
        """, logger: logger
      ).decode((UUID, ByteBuffer).self) {
        found = (id, try Shipment(bytea: body))
      }
      guard let (id, shipment) = found else {
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
        throw ServiceError.failedPrecondition("carrier event \(eventID) is already recorded for another shipment (\(owner.uuidString.lowercased())) of carrier \(carrier)")
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
      var updated = shipment
      if !stored.isEmpty {
        updated = recompute(shipment, timeline)
        updated.lastSequence = sequence
        try await connection.query(
          """
          UPDATE shipments SET status = \(Int16(updated.status.rawValue)), last_sequence = \(sequence),
            updated_at = \(updated.updateTime.date), version = \(updated.version), body = \(try updated.bytea())
          WHERE shipment_id = \(id)
          """, logger: logger)
      }
      updated.timeline = timeline
      return RecordOutcome(shipment: updated, accepted: stored.count, duplicates: events.count - stored.count)
    }
  }

  private static func withTimeline(_ shipment: Shipment, _ connection: PostgresConnection, _ logger: Logger) async throws -> Shipment {
    var result = shipment
    result.timeline = try await timeline(UUID(uuidString: shipment.shipmentID)!, connection, logger)
    return result
  }

  private static func timeline(_ id: UUID, _ connection: PostgresConnection, _ logger: Logger) async throws -> [TrackingEvent] {
    var events: [TrackingEvent] = []
    for try await body in try await connection.query(
      "SELECT body FROM tracking_events WHERE shipment_id = \(id) ORDER BY event_time, sequence", logger: logger
    ).decode(ByteBuffer.self) {
      events.append(try TrackingEvent(bytea: body))
    }
    return events
  }
}
