import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

/// GetException, ListOpenExceptions and ResolveException (logistics.proto), for agents,
/// supervisors and services.
extension ShipmentHandlers {
  @Sendable func getException(_ request: Support_Logistics_V1_GetExceptionRequest) async throws -> ShipmentException {
    try Permissions.requireStaff("read shipment exceptions")
    let logger = log
    guard let id = try Validate.resourceID(request.exceptionID, "exception_id"),
      let exception = try await store.database.withConnection(logger: logger, { connection in
        try await ExceptionStore.load(id, forUpdate: false, on: connection, logger: logger)
      })
    else { throw ServiceError.notFound("shipment exception", request.exceptionID) }
    return exception
  }

  @Sendable func listOpenExceptions(_ request: Support_Logistics_V1_ListOpenExceptionsRequest) async throws -> Support_Logistics_V1_ListOpenExceptionsResponse {
    try Permissions.requireStaff("list shipment exceptions")
    let pageSize = try PageCursor.pageSize(request.pageSize)
    for (index, kind) in request.kinds.enumerated() { try Validate.specified(kind, "kinds[\(index)]") }
    for (index, kind) in request.shipmentKinds.enumerated() { try Validate.specified(kind, "shipment_kinds[\(index)]") }
    try Validate.maxLength(request.carrierCode, "carrier_code", 32)
    try Validate.maxLength(request.orderID, "order_id", Validate.maxIDLength)
    try Validate.maxLength(request.ticketID, "ticket_id", Validate.maxIDLength)
    let range = request.hasDetectedTimeRange ? request.detectedTimeRange : nil
    if let range {
      if range.hasStartTime { try Validate.timestamp(range.startTime, "detected_time_range.start_time") }
      if range.hasEndTime { try Validate.timestamp(range.endTime, "detected_time_range.end_time") }
      if range.hasStartTime && range.hasEndTime && range.endTime.date < range.startTime.date {
        throw ServiceError.invalidArgument("detected_time_range", "ends before it starts")
      }
    }
    var filterOnly = request
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    filterOnly.carrierCode = CarrierCatalog.canonical(request.carrierCode)
    let filterKey = try Fingerprint.of(filterOnly)
    let after = try Self.pageCursor(request.pageToken, filter: filterKey)
    var filter = ExceptionStore.Filter()
    filter.kinds = request.kinds
    filter.shipmentKinds = request.shipmentKinds
    filter.carrierCode = filterOnly.carrierCode
    filter.orderID = request.orderID
    filter.ticketID = request.ticketID
    filter.detectedFrom = range?.hasStartTime == true ? range?.startTime.date : nil
    filter.detectedUntil = range?.hasEndTime == true ? range?.endTime.date : nil
    let logger = log
    let query = filter
    var rows = try await store.database.withConnection(logger: logger) { connection in
      try await ExceptionStore.listOpen(query, after: after, limit: pageSize + 1, on: connection, logger: logger)
    }
    var response = Support_Logistics_V1_ListOpenExceptionsResponse()
    if rows.count > pageSize {
      rows.removeLast(rows.count - pageSize)
      let last = rows[rows.count - 1]
      response.nextPageToken = PageCursor(key: last.micros, id: last.exception.exceptionID, filter: filterKey).token
    }
    response.exceptions = rows.map(\.exception)
    return response
  }

  @Sendable func resolveException(_ request: Support_Logistics_V1_ResolveExceptionRequest) async throws -> ShipmentException {
    try Permissions.requireStaff("resolve shipment exceptions")
    guard let id = try Validate.resourceID(request.exceptionID, "exception_id") else {
      throw ServiceError.notFound("shipment exception", request.exceptionID)
    }
    try Validate.specified(request.resolution, "resolution")
    try Validate.maxLength(request.note, "note", 2000)
    if request.expectedVersion < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative") }
    if request.hasActor { try Validate.known(request.actor.kind, "actor.kind") }
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let logger = log
    let outbox = store.outbox
    return try await store.database.withTransaction(logger: logger) { connection in
      var events = PendingEvents()
      switch try await ExceptionResolution.resolve(
        id, resolution: request.resolution, note: request.note, actor: actor, expectedVersion: request.expectedVersion,
        events: &events, on: connection, logger: logger)
      {
      case nil:
        throw ServiceError.notFound("shipment exception", request.exceptionID)
      case .alreadyResolved(let exception):
        // A retry of the same resolution is answered with the exception as it stands.
        if exception.resolution == request.resolution { return exception }
        throw ServiceError.failedPrecondition(
          reason: "EXCEPTION_ALREADY_RESOLVED", domain: ShipmentStore.errorDomain,
          "exception \(exception.exceptionID) is already resolved with another resolution (\(exception.resolution.contractName))",
          metadata: ["exception_id": exception.exceptionID, "resolution": exception.resolution.contractName])
      case .resolved(let exception):
        try await events.append(to: outbox, on: connection, logger: logger)
        return exception
      }
    }
  }
}

/// The SQL of shipment exceptions beyond what RecordTrackingEvents writes.
enum ExceptionStore {
  static func load(_ id: UUID, forUpdate: Bool, on connection: PostgresConnection, logger: Logger) async throws -> ShipmentException? {
    let query: PostgresQuery = forUpdate
      ? "SELECT body FROM shipment_exceptions WHERE exception_id = \(id) FOR UPDATE"
      : "SELECT body FROM shipment_exceptions WHERE exception_id = \(id)"
    for try await body in try await connection.query(query, logger: logger).decode(ByteBuffer.self) {
      return try ShipmentException(bytea: body)
    }
    return nil
  }

  static func save(_ exception: ShipmentException, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query(
      """
      UPDATE shipment_exceptions SET state = \(Int16(exception.state.rawValue)), version = \(exception.version), body = \(try exception.bytea())
      WHERE exception_id = \(UUID(uuidString: exception.exceptionID)!)
      """, logger: logger)
  }

  struct Filter: Sendable {
    var kinds: [ShipmentExceptionKind] = []
    var shipmentKinds: [ShipmentKind] = []
    var carrierCode = ""
    var orderID = ""
    var ticketID = ""
    var detectedFrom: Date?
    var detectedUntil: Date?
  }

  /// One page of OPEN exceptions, oldest detection first; `after` is the last (detected_at µs,
  /// id) of the previous page. The shipment's facts (order, ticket, kind, carrier) filter
  /// through a join on the shipment's primary key.
  static func listOpen(
    _ filter: Filter, after: (micros: Int64, id: UUID)?, limit: Int, on connection: PostgresConnection, logger: Logger
  ) async throws -> [(exception: ShipmentException, micros: Int64)] {
    var bindings = PostgresBindings()
    var conditions = ["e.state = 1"]
    func bind<T: PostgresNonThrowingEncodable & Sendable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    if !filter.kinds.isEmpty { conditions.append("e.kind = ANY(\(bind(filter.kinds.map { Int16($0.rawValue) })))") }
    if !filter.shipmentKinds.isEmpty { conditions.append("s.kind = ANY(\(bind(filter.shipmentKinds.map { Int16($0.rawValue) })))") }
    if !filter.carrierCode.isEmpty { conditions.append("s.carrier_code = \(bind(filter.carrierCode))") }
    if !filter.orderID.isEmpty { conditions.append("s.order_id = \(bind(filter.orderID))") }
    if !filter.ticketID.isEmpty { conditions.append("s.ticket_id = \(bind(filter.ticketID))") }
    if let from = filter.detectedFrom { conditions.append("e.detected_at >= \(bind(from))") }
    if let until = filter.detectedUntil { conditions.append("e.detected_at < \(bind(until))") }
    if let after {
      conditions.append(
        "(e.detected_at, e.exception_id) > ('epoch'::timestamptz + \(bind(after.micros)) * interval '1 microsecond', \(bind(after.id)))")
    }
    let sql = """
      SELECT e.body, (extract(epoch FROM e.detected_at) * 1000000)::int8
      FROM shipment_exceptions e JOIN shipments s ON s.shipment_id = e.shipment_id
      WHERE \(conditions.joined(separator: " AND "))
      ORDER BY e.detected_at, e.exception_id LIMIT \(bind(Int64(limit)))
      """
    var page: [(exception: ShipmentException, micros: Int64)] = []
    for try await (body, micros) in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
      .decode((ByteBuffer, Int64).self)
    {
      page.append((try ShipmentException(bytea: body), micros))
    }
    return page
  }

}

extension Support_Logistics_V1_ShipmentExceptionResolution {
  /// The resolution as the contract spells it, e.g. RECOVERED.
  var contractName: String {
    switch self {
    case .recovered: "RECOVERED"
    case .reshipped: "RESHIPPED"
    case .refunded: "REFUNDED"
    case .carrierClaimSettled: "CARRIER_CLAIM_SETTLED"
    case .noActionNeeded: "NO_ACTION_NEEDED"
    case .unspecified, .UNRECOGNIZED: "UNSPECIFIED"
    }
  }
}
