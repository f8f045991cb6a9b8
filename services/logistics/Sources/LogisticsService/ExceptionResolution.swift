import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// Resolving one exception in the caller's transaction: ResolveException, and the reship the
/// tickets event path ships for a lost parcel's case (RESHIPPED). The resolution is the
/// shipment's next watch change and announces ShipmentExceptionResolvedEvent (added to
/// `events`, which the caller appends to the outbox last).
enum ExceptionResolution {
  enum Outcome {
    case resolved(ShipmentException)
    /// Already RESOLVED: as it stands (the caller decides whether that is a safe retry).
    case alreadyResolved(ShipmentException)
  }

  static func resolve(
    _ id: UUID, resolution: Support_Logistics_V1_ShipmentExceptionResolution, note: String, actor: Support_Common_V1_Actor,
    expectedVersion: Int64 = 0, events: inout PendingEvents, on connection: PostgresConnection, logger: Logger
  ) async throws -> Outcome? {
    // Locks in RecordTrackingEvents' order: the shipment first, then its exception.
    guard let peek = try await ExceptionStore.load(id, forUpdate: false, on: connection, logger: logger),
      let shipmentID = UUID(uuidString: peek.shipmentID),
      var shipment = try await ShipmentStore.load(shipmentID, forUpdate: true, on: connection, logger: logger),
      var exception = try await ExceptionStore.load(id, forUpdate: true, on: connection, logger: logger)
    else { return nil }
    if exception.state == .resolved { return .alreadyResolved(exception) }
    if expectedVersion != 0 && expectedVersion != exception.version {
      throw ServiceError.versionMismatch("shipment exception", expected: expectedVersion, actual: exception.version)
    }
    let now = Date.nowMicroseconds
    exception.state = .resolved
    exception.resolution = resolution
    exception.resolutionNote = note
    exception.resolvedBy = actor
    exception.resolveTime = now.timestamp
    exception.version += 1
    exception.updateTime = now.timestamp
    try await ExceptionStore.save(exception, on: connection, logger: logger)
    shipment.lastSequence += 1
    shipment.version += 1
    shipment.updateTime = now.timestamp
    try await ShipmentStore.save(shipment, on: connection, logger: logger)
    shipment.openExceptions = try await ShipmentStore.openExceptions(shipmentID, connection, logger)
    try await ShipmentChanges.insert(
      [ShipmentChanges.change(.exceptionResolved, sequence: shipment.lastSequence, shipment: shipment, at: now.timestamp, exception: exception)],
      shipmentID: shipment.shipmentID, on: connection, logger: logger)
    let resolved = exception
    let snapshot = shipment
    events.add(subject: shipment.shipmentID) { ShipmentEvents.exception(resolved, change: .resolved, shipment: snapshot, eventID: $0) }
    return .resolved(exception)
  }
}
