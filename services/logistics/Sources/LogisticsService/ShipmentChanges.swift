import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

typealias ShipmentWatchEvent = Support_Logistics_V1_ShipmentWatchEvent

/// A shipment's watch stream as stored: every change, by sequence (table shipment_changes),
/// written in the change's transaction so WatchShipment can replay from any sequence.
enum ShipmentChanges {
  /// Signalled (on commit) by every transaction that stores changes; WatchShipment streams wait
  /// on it through one LISTEN per process (ServiceKit's EventLogNotifier), polling as fallback.
  static let channel = "supportmesh_shipment_changes_logistics"

  static func notify(on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query("SELECT pg_notify(\(channel), '')", logger: logger)
  }

  static func change(
    _ kind: Support_Logistics_V1_ShipmentWatchEventKind, sequence: Int64, shipment: Shipment, at time: Google_Protobuf_Timestamp,
    trackingEvent: TrackingEvent? = nil, exception: ShipmentException? = nil
  ) -> ShipmentWatchEvent {
    var snapshot = shipment
    snapshot.timeline = []
    return .with {
      $0.sequence = sequence
      $0.kind = kind
      $0.occurTime = time
      $0.shipment = snapshot
      if let trackingEvent { $0.trackingEvent = trackingEvent }
      if let exception { $0.exception = exception }
    }
  }

  /// Stores changes of one shipment in one statement.
  static func insert(_ changes: [ShipmentWatchEvent], shipmentID: String, on connection: PostgresConnection, logger: Logger) async throws {
    guard !changes.isEmpty else { return }
    try await connection.query(
      """
      INSERT INTO shipment_changes (shipment_id, sequence, body)
      SELECT \(UUID(uuidString: shipmentID)!), c.seq, c.body
      FROM unnest(\(changes.map(\.sequence))::bigint[], \(try changes.map { try $0.bytea() })::bytea[]) AS c(seq, body)
      """, logger: logger)
    try await notify(on: connection, logger: logger)
  }

  /// The changes after `sequence`, oldest first, at most `limit`.
  static func after(_ sequence: Int64, shipmentID: UUID, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [ShipmentWatchEvent] {
    var changes: [ShipmentWatchEvent] = []
    for try await body in try await connection.query(
      """
      SELECT body FROM shipment_changes WHERE shipment_id = \(shipmentID) AND sequence > \(sequence)
      ORDER BY sequence LIMIT \(Int64(limit))
      """, logger: logger
    ).decode(ByteBuffer.self) {
      changes.append(try ShipmentWatchEvent(bytea: body))
    }
    return changes
  }
}

/// The events of one transaction, appended to the outbox together at its end (the outbox's
/// position lock is held from the first append to the commit: appending last keeps it short).
struct PendingEvents {
  private var events: [(payload: EventEnvelope.OneOf_Payload, subject: String, eventID: UUID)] = []

  /// `payload` builds the event for its id: the payload's event_id equals the envelope's.
  mutating func add(subject: String, _ payload: (UUID) -> EventEnvelope.OneOf_Payload) {
    let eventID = UUID()
    events.append((payload(eventID), subject, eventID))
  }

  func append(to outbox: EventOutbox, on connection: PostgresConnection, logger: Logger) async throws {
    for event in events {
      try await outbox.append(
        event.payload, subject: event.subject, eventID: event.eventID, occurredAt: Self.emitTime(event.payload) ?? Date(),
        on: connection, logger: logger)
    }
  }

  /// The payload's emit_time: the envelope's occur_time is the same moment.
  static func emitTime(_ payload: EventEnvelope.OneOf_Payload) -> Date? {
    switch payload {
    case .shipmentCreated(let event): event.emitTime.date
    case .shipmentDelivered(let event): event.emitTime.date
    case .shipmentException(let event): event.emitTime.date
    case .shipmentExceptionResolved(let event): event.emitTime.date
    case .returnAuthorizationIssued(let event): event.emitTime.date
    case .returnAuthorizationExpired(let event): event.emitTime.date
    default: nil
    }
  }
}
