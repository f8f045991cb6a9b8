import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import SupportCodec

/// Opens a DELAYED exception for every shipment in transit (PICKED_UP, IN_TRANSIT,
/// OUT_FOR_DELIVERY) whose last carrier scan is older than its carrier's threshold
/// (DelaySettings), once per silence: while that exception is OPEN nothing more is opened, one
/// resolved by hand is not opened again until a new scan ends the silence, and a later scan
/// resolves an open one RECOVERED (ExceptionRules). Each opening is the shipment's next watch
/// change and announces ShipmentExceptionEvent OPENED, in the sweep's transaction.
///
/// One instance sweeps at a time (a transaction-scoped advisory lock; the others skip the
/// round), and rows a RecordTrackingEvents call holds are skipped (SKIP LOCKED) for the next
/// round. The candidates come from the partial index on last_scan_at (migration 10).
struct DelayedShipmentSweeper: Service {
  let database: Database
  let outbox: EventOutbox
  let settings: DelaySettings
  let logger: Logger
  static let batchSize = 100
  static let lockKey = "logistics.delayed-shipment-sweep"
  static let inTransit: [ShipmentStatus] = [.pickedUp, .inTransit, .outForDelivery]

  static let migration = Migration(
    version: 10, name: "last scan time of shipments, for the DELAYED sweep",
    sql: """
      ALTER TABLE shipments ADD COLUMN last_scan_at timestamptz;
      UPDATE shipments s SET last_scan_at = (SELECT max(t.event_time) FROM tracking_events t WHERE t.shipment_id = s.shipment_id);
      -- Parcels in transit (PICKED_UP 2, IN_TRANSIT 3, OUT_FOR_DELIVERY 4), oldest scan first.
      CREATE INDEX shipments_silent_idx ON shipments (last_scan_at) WHERE status IN (2, 3, 4);
      """
  )

  func run() async throws {
    // The schema is migrated while the server starts: begin a little later.
    await PeriodicWork.run("delayed shipment sweep", every: settings.sweepInterval, firstAfter: .seconds(2), logger: logger) {
      while try await sweepOnce() == Self.batchSize, !Task.isCancelled {}
    }
  }

  /// One batch; returns how many shipments became DELAYED.
  func sweepOnce() async throws -> Int {
    let now = Date.nowMicroseconds
    let opened = try await database.withTransaction(logger: logger) { connection -> Int in
      var locked = false
      for try await held in try await connection.query(
        "SELECT pg_try_advisory_xact_lock(hashtext(\(Self.lockKey)))", logger: logger
      ).decode(Bool.self) {
        locked = held
      }
      guard locked else { return 0 }
      let carriers = Array(settings.byCarrier.keys)
      let cutoffs = carriers.map { now.addingTimeInterval(-settings.byCarrier[$0]!) }
      let loosest = now.addingTimeInterval(-([settings.defaultThreshold] + settings.byCarrier.values).min()!)
      let statuses = Self.inTransit.map { Int16($0.rawValue) }
      var silent: [Shipment] = []
      for try await body in try await connection.query(
        """
        SELECT s.body FROM shipments s
        WHERE s.status = ANY(\(statuses)::smallint[]) AND s.last_scan_at < \(loosest)
          AND s.last_scan_at < COALESCE(
            (SELECT c.cutoff FROM unnest(\(carriers)::text[], \(cutoffs)::timestamptz[]) AS c(code, cutoff) WHERE c.code = s.carrier_code),
            \(now.addingTimeInterval(-settings.defaultThreshold)))
          AND NOT EXISTS (
            SELECT 1 FROM shipment_exceptions e WHERE e.shipment_id = s.shipment_id AND e.kind = 1 -- DELAYED (a literal: the partial index)
              AND (e.state = 1 OR e.detected_at > s.last_scan_at))
        ORDER BY s.last_scan_at LIMIT \(Int64(Self.batchSize))
        FOR UPDATE OF s SKIP LOCKED
        """, logger: logger
      ).decode(ByteBuffer.self) {
        silent.append(try Shipment(bytea: body).normalised)
      }
      var events = PendingEvents()
      for shipment in silent {
        try await open(shipment, now: now, events: &events, on: connection)
      }
      try await events.append(to: outbox, on: connection, logger: logger)
      return silent.count
    }
    if opened > 0 { logger.info("shipments became DELAYED", metadata: ["count": "\(opened)"]) }
    return opened
  }

  func open(_ silent: Shipment, now: Date, events: inout PendingEvents, on connection: PostgresConnection) async throws {
    var shipment = silent
    let since = shipment.lastScanTime.date
    var exception = ShipmentException()
    exception.exceptionID = UUID().uuidString.lowercased()
    exception.shipmentID = shipment.shipmentID
    exception.kind = .delayed
    exception.state = .open
    exception.shipmentKind = shipment.kind
    exception.orderID = shipment.orderID
    exception.ticketID = shipment.ticketID
    exception.carrierCode = shipment.carrierCode
    exception.trackingNumber = shipment.trackingNumber
    exception.detectedTime = now.timestamp
    exception.lastDetectedTime = now.timestamp
    exception.occurrenceCount = 1
    exception.detail = "no scan for \(DelaySettings.describe(now.timeIntervalSince(since))) since \(since.formatted(.iso8601)) (threshold \(DelaySettings.describe(settings.threshold(carrier: shipment.carrierCode))))"
    exception.version = 1
    exception.updateTime = now.timestamp
    try await connection.query(
      """
      INSERT INTO shipment_exceptions (exception_id, shipment_id, kind, state, detected_at, version, body)
      VALUES (\(UUID(uuidString: exception.exceptionID)!), \(UUID(uuidString: shipment.shipmentID)!), \(Int16(exception.kind.rawValue)),
        \(Int16(exception.state.rawValue)), \(now), \(exception.version), \(try exception.bytea()))
      """, logger: logger)
    shipment.lastSequence += 1
    shipment.version += 1
    shipment.updateTime = now.timestamp
    try await ShipmentStore.save(shipment, on: connection, logger: logger)
    shipment.openExceptions = try await ShipmentStore.openExceptions(UUID(uuidString: shipment.shipmentID)!, connection, logger)
    try await ShipmentChanges.insert(
      [ShipmentChanges.change(.exceptionOpened, sequence: shipment.lastSequence, shipment: shipment, at: now.timestamp, exception: exception)],
      shipmentID: shipment.shipmentID, on: connection, logger: logger)
    let snapshot = shipment
    events.add(subject: shipment.shipmentID) { ShipmentEvents.exception(exception, change: .opened, shipment: snapshot, eventID: $0) }
  }
}
