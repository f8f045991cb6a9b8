import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

typealias ReturnStatus = Support_Logistics_V1_ReturnAuthorizationStatus

/// The SQL of return authorisations. The functions that change something work on a
/// connection inside the caller's transaction (the RPC's own, or the tickets subscription's,
/// so an event's effect commits with its cursor) and collect the events to announce in
/// `events`, which the caller appends last.
enum ReturnAuthorizationStore {
  static let issued = Int16(ReturnStatus.issued.rawValue)
  static let inTransit = Int16(ReturnStatus.inTransit.rawValue)

  /// What a new authorisation needs; the store assigns the id, RMA number and waybill.
  struct Issue: Sendable {
    var requestID: String
    var fingerprint: String
    var ticketID: String
    var orderID: String
    var shipmentKind: ShipmentKind
    var method: Support_Logistics_V1_ReturnMethod
    var requestedMethod: Support_Logistics_V1_ReturnMethod = .unspecified
    var methodNote = ""
    var items: [Support_Common_V1_OrderItemRef]
    var origin: Address?
    var destination: Address
    var shippingPayer: Support_Logistics_V1_ShippingPayer
    var carrier: String
    var pickupWindow: Support_Common_V1_TimeRange?
    /// The shopper the return parcel is registered for (empty when the caller named none).
    var shopperID: String = ""
    var expireTime: Date
    var actor: Support_Common_V1_Actor
    var carriers: CarrierCatalog
  }

  /// Issues a return authorisation, with its RETURN / REPAIR_INBOUND shipment for LABEL and
  /// PICKUP. A request id seen before returns the first result (ALREADY_EXISTS when the content
  /// differs); a ticket with an ISSUED or IN_TRANSIT authorisation is FAILED_PRECONDITION.
  static func issue(_ issue: Issue, events: inout PendingEvents, on connection: PostgresConnection, logger: Logger) async throws -> ReturnAuthorization {
    try await Idempotency.lock(requestID: issue.requestID, scope: "logistics.rma", on: connection, logger: logger)
    if let existing = try await Idempotency.firstResult(
      of: ReturnAuthorization.self,
      "SELECT request_fingerprint, body FROM return_authorizations WHERE request_id = \(issue.requestID)",
      fingerprint: issue.fingerprint, describe: { "return authorisation \($0.returnAuthorizationID)" }, on: connection, logger: logger
    ) {
      return existing
    }
    // One live authorisation per ticket: concurrent issues for a ticket are serialised.
    let ticketLock = "logistics.ticket-rma:\(issue.ticketID)"
    try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(ticketLock)))", logger: logger)
    if let active = try await active(ticketID: issue.ticketID, on: connection, logger: logger) {
      throw ServiceError.failedPrecondition(
        reason: "ACTIVE_RETURN_AUTHORIZATION_EXISTS", domain: ShipmentStore.errorDomain,
        "ticket \(issue.ticketID) already has return authorisation \(active.rmaNumber) (\(name(active.status)))",
        metadata: ["return_authorization_id": active.returnAuthorizationID, "status": name(active.status)])
    }

    let now = Date.nowMicroseconds
    var authorization = ReturnAuthorization()
    authorization.returnAuthorizationID = UUID().uuidString.lowercased()
    authorization.rmaNumber = try await rmaNumber(now, on: connection, logger: logger)
    authorization.ticketID = issue.ticketID
    authorization.orderID = issue.orderID
    authorization.shipmentKind = issue.shipmentKind
    authorization.method = issue.method
    authorization.requestedMethod = issue.requestedMethod
    authorization.methodNote = issue.methodNote
    authorization.items = issue.items
    if let origin = issue.origin { authorization.origin = origin }
    authorization.destination = issue.destination
    authorization.shippingPayer = issue.shippingPayer
    authorization.expireTime = issue.expireTime.timestamp
    authorization.status = .issued
    authorization.createTime = now.timestamp
    authorization.updateTime = now.timestamp
    authorization.version = 1
    authorization.createdBy = issue.actor

    if issue.method == .label || issue.method == .pickup, let origin = issue.origin {
      let waybill = try await bookWaybill(carrier: issue.carrier, now, on: connection, logger: logger)
      switch issue.method {
      case .pickup:
        authorization.pickup = .with {
          $0.carrierCode = issue.carrier
          $0.trackingNumber = waybill
          if let window = issue.pickupWindow { $0.window = window }
        }
      default:
        authorization.label = .with { $0.carrierCode = issue.carrier; $0.trackingNumber = waybill }
      }
      var shipment = Shipment()
      shipment.shipmentID = UUID().uuidString.lowercased()
      shipment.kind = issue.shipmentKind
      shipment.orderID = issue.orderID
      shipment.ticketID = issue.ticketID
      shipment.shopperID = issue.shopperID
      shipment.carrierCode = issue.carrier
      shipment.trackingNumber = waybill
      shipment.status = .labelCreated
      shipment.items = issue.items
      shipment.origin = origin
      shipment.destination = issue.destination
      shipment.returnAuthorizationID = authorization.returnAuthorizationID
      shipment.createdBy = issue.actor
      shipment.createTime = now.timestamp
      shipment.updateTime = now.timestamp
      shipment.version = 1
      shipment.lastSequence = 1
      (shipment.expectedDeliveryTime, shipment.expectedDeliverySource) = try await RouteHistory.estimate(
        shipment, carriers: issue.carriers, on: connection, logger: logger)
      try await ShipmentStore.insert(
        shipment, requestID: "\(issue.requestID):shipment", fingerprint: issue.fingerprint, on: connection, logger: logger)
      authorization.shipmentID = shipment.shipmentID
      events.add(subject: shipment.shipmentID) { ShipmentEvents.created(shipment, eventID: $0) }
    }
    try await connection.query(
      """
      INSERT INTO return_authorizations (return_authorization_id, request_id, request_fingerprint, rma_number, ticket_id,
        order_id, status, expire_at, created_at, version, body)
      VALUES (\(UUID(uuidString: authorization.returnAuthorizationID)!), \(issue.requestID), \(issue.fingerprint),
        \(authorization.rmaNumber), \(authorization.ticketID), \(authorization.orderID), \(issued),
        \(authorization.expireTime.date), \(now), 1, \(try authorization.bytea()))
      """, logger: logger)
    events.add(subject: authorization.returnAuthorizationID) { ShipmentEvents.returnAuthorizationIssued(authorization, eventID: $0) }
    logger.info("return authorisation issued", metadata: [
      "return_authorization_id": "\(authorization.returnAuthorizationID)", "rma_number": "\(authorization.rmaNumber)",
      "ticket_id": "\(authorization.ticketID)", "method": "\(authorization.method)", "shipment_id": "\(authorization.shipmentID)",
    ])
    return authorization
  }

  /// The status as the contract spells it, e.g. IN_TRANSIT.
  static func name(_ status: ReturnStatus) -> String {
    switch status {
    case .issued: "ISSUED"
    case .inTransit: "IN_TRANSIT"
    case .received: "RECEIVED"
    case .expired: "EXPIRED"
    case .cancelled: "CANCELLED"
    case .unspecified, .UNRECOGNIZED: "UNSPECIFIED"
    }
  }

  /// "RMA-20261126-000123": the day, then a number no other authorisation has.
  static func rmaNumber(_ now: Date, on connection: PostgresConnection, logger: Logger) async throws -> String {
    let next = try await nextValue("rma_number_seq", on: connection, logger: logger)
    return "RMA-\(dayStamp(now))-\(String(format: "%06lld", next))"
  }

  /// A waybill logistics books itself (no carrier booking system is called in this release):
  /// "SFR2026112600000042", the carrier, R, the day and a number unique across carriers.
  static func bookWaybill(carrier: String, _ now: Date, on connection: PostgresConnection, logger: Logger) async throws -> String {
    let next = try await nextValue("booked_waybill_seq", on: connection, logger: logger)
    return "\(carrier.uppercased())R\(dayStamp(now))\(String(format: "%08lld", next))"
  }

  private static func nextValue(_ sequence: String, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
    for try await value in try await connection.query("SELECT nextval(\(sequence)::regclass)", logger: logger).decode(Int64.self) {
      return value
    }
    throw RPCError(code: .internalError, message: "sequence \(sequence) returned nothing")
  }

  static func dayStamp(_ date: Date) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let parts = calendar.dateComponents([.year, .month, .day], from: date)
    return String(format: "%04d%02d%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
  }

  /// The ticket's ISSUED or IN_TRANSIT authorisation, if any.
  static func active(ticketID: String, on connection: PostgresConnection, logger: Logger) async throws -> ReturnAuthorization? {
    for try await body in try await connection.query(
      """
      SELECT body FROM return_authorizations
      WHERE ticket_id = \(ticketID) AND status IN (\(issued), \(inTransit))
      ORDER BY created_at DESC LIMIT 1
      """, logger: logger
    ).decode(ByteBuffer.self) {
      return try ReturnAuthorization(bytea: body)
    }
    return nil
  }

  /// One authorisation, locked for a change when `forUpdate`.
  static func load(_ id: UUID, forUpdate: Bool, on connection: PostgresConnection, logger: Logger) async throws -> ReturnAuthorization? {
    let query: PostgresQuery = forUpdate
      ? "SELECT body FROM return_authorizations WHERE return_authorization_id = \(id) FOR UPDATE"
      : "SELECT body FROM return_authorizations WHERE return_authorization_id = \(id)"
    for try await body in try await connection.query(query, logger: logger).decode(ByteBuffer.self) {
      return try ReturnAuthorization(bytea: body)
    }
    return nil
  }

  static func load(rmaNumber: String, on connection: PostgresConnection, logger: Logger) async throws -> ReturnAuthorization? {
    for try await body in try await connection.query(
      "SELECT body FROM return_authorizations WHERE rma_number = \(rmaNumber)", logger: logger
    ).decode(ByteBuffer.self) {
      return try ReturnAuthorization(bytea: body)
    }
    return nil
  }

  static func save(_ authorization: ReturnAuthorization, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query(
      """
      UPDATE return_authorizations SET status = \(Int16(authorization.status.rawValue)), version = \(authorization.version),
        body = \(try authorization.bytea())
      WHERE return_authorization_id = \(UUID(uuidString: authorization.returnAuthorizationID)!)
      """, logger: logger)
  }

  /// Cancels an ISSUED authorisation and its shipment (CancelReturnAuthorization, or the case no
  /// longer needs it). Another status is FAILED_PRECONDITION RETURN_AUTHORIZATION_NOT_ISSUED; a
  /// stale expected_version (not 0) ABORTED.
  static func cancel(
    _ id: UUID, expectedVersion: Int64, reason: String, actor: Support_Common_V1_Actor, on connection: PostgresConnection, logger: Logger
  ) async throws -> ReturnAuthorization {
    // Locks in RecordTrackingEvents' order, the shipment first, then the authorisation (its
    // shipment id, once set, never changes).
    guard let peek = try await load(id, forUpdate: false, on: connection, logger: logger) else {
      throw ServiceError.notFound("return authorisation", id.uuidString.lowercased())
    }
    if let shipmentID = UUID(uuidString: peek.shipmentID) {
      _ = try await ShipmentStore.load(shipmentID, forUpdate: true, on: connection, logger: logger)
    }
    guard var authorization = try await load(id, forUpdate: true, on: connection, logger: logger) else {
      throw ServiceError.notFound("return authorisation", id.uuidString.lowercased())
    }
    if expectedVersion != 0 && expectedVersion != authorization.version {
      throw ServiceError.versionMismatch("return authorisation", expected: expectedVersion, actual: authorization.version)
    }
    guard authorization.status == .issued else {
      throw ServiceError.failedPrecondition(
        reason: "RETURN_AUTHORIZATION_NOT_ISSUED", domain: ShipmentStore.errorDomain,
        "return authorisation \(authorization.rmaNumber) is \(name(authorization.status)), not ISSUED: it can no longer be cancelled",
        metadata: ["status": name(authorization.status)])
    }
    let now = Date.nowMicroseconds
    authorization.status = .cancelled
    authorization.cancelReason = reason
    authorization.updateTime = now.timestamp
    authorization.version += 1
    try await save(authorization, on: connection, logger: logger)
    if let shipmentID = UUID(uuidString: authorization.shipmentID) {
      _ = try await ShipmentStore.cancel(shipmentID, reason: "return authorisation \(authorization.rmaNumber) cancelled: \(reason)", now: now, on: connection, logger: logger)
    }
    logger.info("return authorisation cancelled", metadata: ["return_authorization_id": "\(authorization.returnAuthorizationID)"])
    return authorization
  }

  /// Expires up to `limit` ISSUED authorisations whose expiry passed (their label or pickup is
  /// voided: the shipment cancelled) and announces each, in a fixed number of statements.
  /// Locks are taken in RecordTrackingEvents' order (shipment, then authorisation) and with SKIP
  /// LOCKED, so the sweep never waits on, or deadlocks with, a tracking batch or another
  /// sweeper: what it cannot lock now it expires at its next run.
  static func expireDue(now: Date, limit: Int, events: inout PendingEvents, on connection: PostgresConnection, logger: Logger) async throws -> Int {
    var candidates: [(id: UUID, shipmentID: UUID?)] = []
    for try await (id, body) in try await connection.query(
      """
      SELECT return_authorization_id, body FROM return_authorizations WHERE status = \(issued) AND expire_at <= \(now)
      ORDER BY expire_at LIMIT \(Int64(limit))
      """, logger: logger
    ).decode((UUID, ByteBuffer).self) {
      candidates.append((id, UUID(uuidString: try ReturnAuthorization(bytea: body).shipmentID)))
    }
    guard !candidates.isEmpty else { return 0 }
    var shipments: [UUID: Shipment] = [:]
    let shipmentIDs = candidates.compactMap(\.shipmentID)
    if !shipmentIDs.isEmpty {
      for try await (id, body) in try await connection.query(
        "SELECT shipment_id, body FROM shipments WHERE shipment_id = ANY(\(shipmentIDs)::uuid[]) FOR UPDATE SKIP LOCKED", logger: logger
      ).decode((UUID, ByteBuffer).self) {
        shipments[id] = try Shipment(bytea: body).normalised
      }
    }
    let lockable = candidates.filter { $0.shipmentID.map { shipments[$0] != nil } ?? true }.map(\.id)
    var due: [ReturnAuthorization] = []
    for try await body in try await connection.query(
      """
      SELECT body FROM return_authorizations
      WHERE return_authorization_id = ANY(\(lockable)::uuid[]) AND status = \(issued) AND expire_at <= \(now)
      FOR UPDATE SKIP LOCKED
      """, logger: logger
    ).decode(ByteBuffer.self) {
      var authorization = try ReturnAuthorization(bytea: body)
      authorization.status = .expired
      authorization.cancelReason = "expired unused at \(authorization.expireTime.date)"
      authorization.updateTime = now.timestamp
      authorization.version += 1
      due.append(authorization)
    }
    guard !due.isEmpty else { return 0 }
    try await connection.query(
      """
      UPDATE return_authorizations r SET status = \(Int16(ReturnStatus.expired.rawValue)), version = u.version, body = u.body
      FROM unnest(\(due.map { UUID(uuidString: $0.returnAuthorizationID)! })::uuid[], \(due.map(\.version))::bigint[],
        \(try due.map { try $0.bytea() })::bytea[]) AS u(id, version, body)
      WHERE r.return_authorization_id = u.id
      """, logger: logger)
    var voided: [Shipment] = []
    for authorization in due {
      guard let shipmentID = UUID(uuidString: authorization.shipmentID), var shipment = shipments[shipmentID], shipment.status != .cancelled
      else { continue }
      ShipmentStore.markCancelled(&shipment, reason: "return authorisation \(authorization.rmaNumber) expired", now: now)
      voided.append(shipment)
    }
    try await ShipmentStore.saveCancelled(voided, now: now, on: connection, logger: logger)
    for authorization in due {
      events.add(subject: authorization.returnAuthorizationID) { ShipmentEvents.returnAuthorizationExpired(authorization, eventID: $0) }
    }
    return due.count
  }

  /// Moves a return shipment's authorisation along with the parcel: ISSUED → IN_TRANSIT at the
  /// first scan past LABEL_CREATED, → RECEIVED once DELIVERED. Returns its RMA number ("" when
  /// the shipment has none).
  static func follow(shipment: Shipment, on connection: PostgresConnection, logger: Logger) async throws -> String {
    guard let id = UUID(uuidString: shipment.returnAuthorizationID),
      var authorization = try await load(id, forUpdate: true, on: connection, logger: logger)
    else { return "" }
    let target: ReturnStatus? =
      switch (authorization.status, shipment.status) {
      case (.issued, .delivered), (.inTransit, .delivered): .received
      case (.issued, .pickedUp), (.issued, .inTransit), (.issued, .outForDelivery), (.issued, .deliveryFailed),
        (.issued, .exception), (.issued, .damaged), (.issued, .lost), (.issued, .returnedToSender):
        // The carrier has the parcel (or had it): the shopper handed it over.
        .inTransit
      default: nil
      }
    if let target {
      authorization.status = target
      authorization.updateTime = shipment.updateTime
      authorization.version += 1
      try await save(authorization, on: connection, logger: logger)
    }
    return authorization.rmaNumber
  }

  /// CreateShipment with return_authorization_id (a SELF_SHIP parcel reported with its waybill):
  /// the authorisation must be ISSUED, without a shipment, for the same ticket; it takes the
  /// shipment and becomes IN_TRANSIT.
  static func attachReportedShipment(_ shipment: inout Shipment, on connection: PostgresConnection, logger: Logger) async throws {
    guard let id = UUID(uuidString: shipment.returnAuthorizationID),
      var authorization = try await load(id, forUpdate: true, on: connection, logger: logger)
    else { throw ServiceError.notFound("return authorisation", shipment.returnAuthorizationID) }
    func refuse(_ reason: String, _ message: String) -> GoogleRPCStatus {
      ServiceError.failedPrecondition(
        reason: reason, domain: ShipmentStore.errorDomain, message,
        metadata: ["return_authorization_id": authorization.returnAuthorizationID, "status": name(authorization.status)])
    }
    guard authorization.status == .issued else {
      throw refuse("RETURN_AUTHORIZATION_NOT_ISSUED", "return authorisation \(authorization.rmaNumber) is \(name(authorization.status)), not ISSUED")
    }
    guard authorization.shipmentID.isEmpty else {
      throw refuse("RETURN_AUTHORIZATION_HAS_SHIPMENT", "return authorisation \(authorization.rmaNumber) already has shipment \(authorization.shipmentID)")
    }
    guard authorization.ticketID == shipment.ticketID else {
      throw refuse("RETURN_AUTHORIZATION_OF_OTHER_TICKET", "return authorisation \(authorization.rmaNumber) belongs to ticket \(authorization.ticketID)")
    }
    authorization.shipmentID = shipment.shipmentID
    authorization.status = .inTransit
    authorization.updateTime = shipment.createTime
    authorization.version += 1
    try await save(authorization, on: connection, logger: logger)
  }

  /// One page of a ticket's or an order's authorisations, newest first; `after` is the last
  /// (created_at µs, id) of the previous page.
  static func list(
    ticketID: String, orderID: String, after: (micros: Int64, id: UUID)?, limit: Int, on connection: PostgresConnection, logger: Logger
  ) async throws -> [(authorization: ReturnAuthorization, micros: Int64)] {
    var bindings = PostgresBindings()
    var conditions: [String] = []
    func bind<T: PostgresNonThrowingEncodable & Sendable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    if !ticketID.isEmpty { conditions.append("ticket_id = \(bind(ticketID))") }
    if !orderID.isEmpty { conditions.append("order_id = \(bind(orderID))") }
    if let after {
      conditions.append(
        "(created_at, return_authorization_id) < ('epoch'::timestamptz + \(bind(after.micros)) * interval '1 microsecond', \(bind(after.id)))")
    }
    let sql = """
      SELECT body, (extract(epoch FROM created_at) * 1000000)::int8 FROM return_authorizations
      WHERE \(conditions.joined(separator: " AND "))
      ORDER BY created_at DESC, return_authorization_id DESC LIMIT \(bind(Int64(limit)))
      """
    var page: [(authorization: ReturnAuthorization, micros: Int64)] = []
    for try await (body, micros) in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
      .decode((ByteBuffer, Int64).self)
    {
      page.append((try ReturnAuthorization(bytea: body), micros))
    }
    return page
  }
}
