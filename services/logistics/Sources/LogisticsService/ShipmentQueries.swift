import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

/// Shipment reads and changes beyond create and tracking: cancel, list, and the lookups the
/// reverse legs need (where goods came from and go back to).
extension ShipmentStore {
  /// Cancels a shipment: status CANCELLED (which frees its waybill), no expected delivery, one
  /// CANCELLED watch change. Returns nil when it does not exist; an already cancelled one is
  /// returned unchanged.
  static func cancel(_ id: UUID, reason: String, now: Date, on connection: PostgresConnection, logger: Logger) async throws -> Shipment? {
    guard var shipment = try await load(id, forUpdate: true, on: connection, logger: logger) else { return nil }
    if shipment.status == .cancelled { return shipment }
    markCancelled(&shipment, reason: reason, now: now)
    try await save(shipment, on: connection, logger: logger)
    try await ShipmentChanges.insert(
      [ShipmentChanges.change(.cancelled, sequence: shipment.lastSequence, shipment: shipment, at: now.timestamp)],
      shipmentID: shipment.shipmentID, on: connection, logger: logger)
    return shipment
  }

  /// The cancelled state of a shipment: no expected delivery, the next version and sequence.
  static func markCancelled(_ shipment: inout Shipment, reason: String, now: Date) {
    shipment.status = .cancelled
    shipment.cancelReason = reason
    shipment.clearExpectedDeliveryTime()
    shipment.expectedDeliverySource = .unspecified
    shipment.updateTime = now.timestamp
    shipment.version += 1
    shipment.lastSequence += 1
  }

  /// Writes shipments already marked cancelled (and locked by the caller) and their CANCELLED
  /// watch changes, in two statements whatever their number.
  static func saveCancelled(_ shipments: [Shipment], now: Date, on connection: PostgresConnection, logger: Logger) async throws {
    guard !shipments.isEmpty else { return }
    let ids = shipments.map { UUID(uuidString: $0.shipmentID)! }
    let bodies = try shipments.map { shipment -> ByteBuffer in
      var body = shipment
      body.timeline = []
      body.openExceptions = []
      return try body.bytea()
    }
    try await connection.query(
      """
      UPDATE shipments s SET status = \(cancelled), last_sequence = u.seq, version = u.version, updated_at = \(now), body = u.body
      FROM unnest(\(ids)::uuid[], \(shipments.map(\.lastSequence))::bigint[], \(shipments.map(\.version))::bigint[],
        \(bodies)::bytea[]) AS u(id, seq, version, body)
      WHERE s.shipment_id = u.id
      """, logger: logger)
    let changes = try shipments.map { try ShipmentChanges.change(.cancelled, sequence: $0.lastSequence, shipment: $0, at: now.timestamp).bytea() }
    try await connection.query(
      """
      INSERT INTO shipment_changes (shipment_id, sequence, body)
      SELECT * FROM unnest(\(ids)::uuid[], \(shipments.map(\.lastSequence))::bigint[], \(changes)::bytea[])
      """, logger: logger)
    try await ShipmentChanges.notify(on: connection, logger: logger)
  }

  static func load(_ id: UUID, forUpdate: Bool, on connection: PostgresConnection, logger: Logger) async throws -> Shipment? {
    let query: PostgresQuery = forUpdate
      ? "SELECT body FROM shipments WHERE shipment_id = \(id) FOR UPDATE"
      : "SELECT body FROM shipments WHERE shipment_id = \(id)"
    for try await body in try await connection.query(query, logger: logger).decode(ByteBuffer.self) {
      return try Shipment(bytea: body).normalised
    }
    return nil
  }

  /// Writes a changed shipment (its body without timeline and open exceptions).
  static func save(_ shipment: Shipment, on connection: PostgresConnection, logger: Logger) async throws {
    var body = shipment
    body.timeline = []
    body.openExceptions = []
    try await connection.query(
      """
      UPDATE shipments SET status = \(Int16(shipment.status.rawValue)), last_sequence = \(shipment.lastSequence),
        ticket_id = \(shipment.ticketID), carrier_code = \(shipment.carrierCode), tracking_number = \(shipment.trackingNumber),
        updated_at = \(shipment.updateTime.date), version = \(shipment.version), body = \(try body.bytea())
      WHERE shipment_id = \(UUID(uuidString: shipment.shipmentID)!)
      """, logger: logger)
  }

  /// Where a return for the order is collected from: the destination of the order's latest
  /// OUTBOUND shipment that was not cancelled (nil when logistics knows none).
  static func outboundDestination(orderID: String, on connection: PostgresConnection, logger: Logger) async throws -> Address? {
    let outbound = Int16(ShipmentKind.outbound.rawValue)
    for try await body in try await connection.query(
      """
      SELECT body FROM shipments WHERE order_id = \(orderID) AND kind = \(outbound) AND status <> \(cancelled)
      ORDER BY created_at DESC LIMIT 1
      """, logger: logger
    ).decode(ByteBuffer.self) {
      let shipment = try Shipment(bytea: body)
      return shipment.hasDestination ? shipment.destination : nil
    }
    return nil
  }

  /// Where a ticket's goods came from: the origin of `shipmentID` when given and known, else of
  /// the ticket's latest RETURN or REPAIR_INBOUND shipment that was not cancelled.
  static func returnOrigin(ticketID: String, shipmentID: String, on connection: PostgresConnection, logger: Logger) async throws -> Address? {
    if let id = UUID(uuidString: shipmentID), let shipment = try await load(id, forUpdate: false, on: connection, logger: logger),
      shipment.hasOrigin, shipment.ticketID == ticketID
    {
      return shipment.origin
    }
    let kinds = [Int16(ShipmentKind.return.rawValue), Int16(ShipmentKind.repairInbound.rawValue)]
    for try await body in try await connection.query(
      """
      SELECT body FROM shipments WHERE ticket_id = \(ticketID) AND kind = ANY(\(kinds)::smallint[]) AND status <> \(cancelled)
      ORDER BY created_at DESC LIMIT 1
      """, logger: logger
    ).decode(ByteBuffer.self) {
      let shipment = try Shipment(bytea: body)
      if shipment.hasOrigin { return shipment.origin }
    }
    return nil
  }

  struct ListFilter: Sendable {
    var orderID = ""
    var ticketID = ""
    var statuses: [ShipmentStatus] = []
    var kinds: [ShipmentKind] = []
    var withOpenExceptionsOnly = false
    var carrierCode = ""
    var trackingNumber = ""
    var shopperID = ""
  }

  /// One page, newest first, each shipment with its created_at in exact microseconds (the
  /// cursor key); `after` is the last (created_at µs, id) of the previous page. Only the
  /// filters given become SQL, so each query can use the index for its filter. The open
  /// exceptions of the whole page are read in one more query.
  func list(_ filter: ListFilter, after: (micros: Int64, id: UUID)?, limit: Int, logger: Logger) async throws -> [(shipment: Shipment, micros: Int64)] {
    var bindings = PostgresBindings()
    var conditions: [String] = []
    func bind<T: PostgresNonThrowingEncodable & Sendable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    if !filter.orderID.isEmpty { conditions.append("s.order_id = \(bind(filter.orderID))") }
    if !filter.shopperID.isEmpty { conditions.append("s.shopper_id = \(bind(filter.shopperID))") }
    if !filter.ticketID.isEmpty { conditions.append("s.ticket_id = \(bind(filter.ticketID))") }
    if !filter.statuses.isEmpty { conditions.append("s.status = ANY(\(bind(filter.statuses.map { Int16($0.rawValue) })))") }
    if !filter.kinds.isEmpty { conditions.append("s.kind = ANY(\(bind(filter.kinds.map { Int16($0.rawValue) })))") }
    if !filter.carrierCode.isEmpty { conditions.append("s.carrier_code = \(bind(filter.carrierCode))") }
    if !filter.trackingNumber.isEmpty { conditions.append("s.tracking_number = \(bind(filter.trackingNumber))") }
    if filter.withOpenExceptionsOnly {
      conditions.append("EXISTS (SELECT 1 FROM shipment_exceptions e WHERE e.shipment_id = s.shipment_id AND e.state = 1)")
    }
    if let after {
      conditions.append(
        "(s.created_at, s.shipment_id) < ('epoch'::timestamptz + \(bind(after.micros)) * interval '1 microsecond', \(bind(after.id)))")
    }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    let sql = """
      SELECT s.body, (extract(epoch FROM s.created_at) * 1000000)::int8 FROM shipments s \(whereClause)
      ORDER BY s.created_at DESC, s.shipment_id DESC LIMIT \(bind(Int64(limit)))
      """
    let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
    return try await database.withConnection(logger: logger) { connection in
      var page: [(shipment: Shipment, micros: Int64)] = []
      for try await (body, micros) in try await connection.query(query, logger: logger)
        .decode((ByteBuffer, Int64).self)
      {
        page.append((try Shipment(bytea: body).normalised, micros))
      }
      guard !page.isEmpty else { return page }
      var open: [String: [ShipmentException]] = [:]
      for try await body in try await connection.query(
        """
        SELECT body FROM shipment_exceptions WHERE shipment_id = ANY(\(page.map { UUID(uuidString: $0.shipment.shipmentID)! })::uuid[])
          AND state = 1 ORDER BY detected_at, exception_id
        """, logger: logger
      ).decode(ByteBuffer.self) {
        let exception = try ShipmentException(bytea: body)
        open[exception.shipmentID, default: []].append(exception)
      }
      return page.map { entry in
        var shipment = entry.shipment
        shipment.openExceptions = open[shipment.shipmentID] ?? []
        return (shipment, entry.micros)
      }
    }
  }
}
