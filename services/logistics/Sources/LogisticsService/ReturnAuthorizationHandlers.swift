import Foundation
import GRPCCore
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// Return authorisations (logistics.proto: CreateReturnAuthorization, GetReturnAuthorization,
/// ListReturnAuthorizations, CancelReturnAuthorization), for agents, supervisors and services.
extension ShipmentHandlers {
  @Sendable func createReturnAuthorization(_ request: Support_Logistics_V1_CreateReturnAuthorizationRequest) async throws -> ReturnAuthorization {
    try Permissions.requireStaff("issue return authorisations")
    try Validate.requestID(request.requestID)
    try Validate.required(request.ticketID, "ticket_id")
    try Validate.required(request.orderID, "order_id")
    guard request.shipmentKind == .return || request.shipmentKind == .repairInbound else {
      throw ServiceError.invalidArgument("shipment_kind", "must be SHIPMENT_KIND_RETURN or SHIPMENT_KIND_REPAIR_INBOUND")
    }
    try Validate.specified(request.method, "method")
    try Validate.specified(request.shippingPayer, "shipping_payer")
    let items = try validatedItems(request.items, orderID: request.orderID)
    let books = request.method == .label || request.method == .pickup
    if books {
      guard request.hasOrigin else { throw ServiceError.invalidArgument("origin", "is required for LABEL and PICKUP") }
    }
    if request.hasOrigin { try validate(request.origin, "origin") }
    if request.hasDestination { try validate(request.destination, "destination") }
    let now = Date.nowMicroseconds
    if request.method == .pickup {
      guard request.hasRequestedPickupWindow else {
        throw ServiceError.invalidArgument("requested_pickup_window", "is required for PICKUP")
      }
      try Self.validateWindow(request.requestedPickupWindow, "requested_pickup_window", now: now)
    } else if request.hasRequestedPickupWindow {
      throw ServiceError.invalidArgument("requested_pickup_window", "applies only to PICKUP")
    }
    var carrier = returns.defaultCarrier
    if books && !request.carrierCode.isEmpty {
      try Validate.maxLength(request.carrierCode, "carrier_code", 32)
      guard let known = carriers.known(request.carrierCode) else {
        throw ServiceError.invalidArgument("carrier_code", "\(request.carrierCode) is not a configured carrier")
      }
      carrier = known
    }
    var expireTime = now.addingTimeInterval(Double(returns.validityDays) * 86_400)
    if request.hasExpireTime {
      try Validate.timestamp(request.expireTime, "expire_time")
      guard request.expireTime.date > now else { throw ServiceError.invalidArgument("expire_time", "is in the past") }
      expireTime = request.expireTime.microsecondDate
    }
    if request.hasActor { try Validate.known(request.actor.kind, "actor.kind") }

    let issue = ReturnAuthorizationStore.Issue(
      requestID: request.requestID, fingerprint: try Fingerprint.of(request), ticketID: request.ticketID, orderID: request.orderID,
      shipmentKind: request.shipmentKind, method: request.method, items: items, origin: request.hasOrigin ? request.origin : nil,
      destination: request.hasDestination ? request.destination : returns.destination(for: request.shipmentKind),
      shippingPayer: request.shippingPayer, carrier: carrier,
      pickupWindow: request.hasRequestedPickupWindow ? request.requestedPickupWindow : nil, expireTime: expireTime,
      actor: try Permissions.actor(claimed: request.hasActor ? request.actor : nil), carriers: carriers)
    let outbox = store.outbox
    return try await store.database.withTransaction(logger: log) { connection in
      var events = PendingEvents()
      let authorization = try await ReturnAuthorizationStore.issue(issue, events: &events, on: connection, logger: log)
      try await events.append(to: outbox, on: connection, logger: log)
      return authorization
    }
  }

  @Sendable func getReturnAuthorization(_ request: Support_Logistics_V1_GetReturnAuthorizationRequest) async throws -> ReturnAuthorization {
    try Permissions.requireStaff("read return authorisations")
    let byID = !request.returnAuthorizationID.isEmpty
    guard byID != !request.rmaNumber.isEmpty else {
      throw ServiceError.invalidArgument("return_authorization_id", "set exactly one of return_authorization_id and rma_number")
    }
    let found = try await store.database.withConnection(logger: log) { connection -> ReturnAuthorization? in
      if byID {
        guard let id = UUID(uuidString: request.returnAuthorizationID) else { return nil }
        return try await ReturnAuthorizationStore.load(id, forUpdate: false, on: connection, logger: log)
      }
      return try await ReturnAuthorizationStore.load(rmaNumber: request.rmaNumber, on: connection, logger: log)
    }
    guard let found else {
      throw ServiceError.notFound("return authorisation", byID ? request.returnAuthorizationID : request.rmaNumber)
    }
    return found
  }

  @Sendable func listReturnAuthorizations(
    _ request: Support_Logistics_V1_ListReturnAuthorizationsRequest
  ) async throws -> Support_Logistics_V1_ListReturnAuthorizationsResponse {
    try Permissions.requireStaff("list return authorisations")
    if request.ticketID.isEmpty && request.orderID.isEmpty {
      throw ServiceError.invalidArgument("ticket_id", "set ticket_id, order_id or both")
    }
    try Validate.maxLength(request.ticketID, "ticket_id", Validate.maxIDLength)
    try Validate.maxLength(request.orderID, "order_id", Validate.maxIDLength)
    let pageSize = try PageCursor.pageSize(request.pageSize)
    var filterOnly = request
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    let after = try Self.pageCursor(request.pageToken, filter: try Fingerprint.of(filterOnly))
    var rows = try await store.database.withConnection(logger: log) { connection in
      try await ReturnAuthorizationStore.list(
        ticketID: request.ticketID, orderID: request.orderID, after: after, limit: pageSize + 1, on: connection, logger: log)
    }
    var response = Support_Logistics_V1_ListReturnAuthorizationsResponse()
    if rows.count > pageSize {
      rows.removeLast(rows.count - pageSize)
      let last = rows[rows.count - 1]
      response.nextPageToken = PageCursor(key: last.micros, id: last.authorization.returnAuthorizationID, filter: try Fingerprint.of(filterOnly)).token
    }
    response.returnAuthorizations = rows.map(\.authorization)
    return response
  }

  @Sendable func cancelReturnAuthorization(_ request: Support_Logistics_V1_CancelReturnAuthorizationRequest) async throws -> ReturnAuthorization {
    try Permissions.requireStaff("cancel return authorisations")
    guard let id = try Validate.resourceID(request.returnAuthorizationID, "return_authorization_id") else {
      throw ServiceError.notFound("return authorisation", request.returnAuthorizationID)
    }
    try Validate.maxLength(request.reason, "reason", 1000)
    if request.expectedVersion < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative") }
    if request.hasActor { try Validate.known(request.actor.kind, "actor.kind") }
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    return try await store.database.withTransaction(logger: log) { connection in
      try await ReturnAuthorizationStore.cancel(
        id, expectedVersion: request.expectedVersion, reason: request.reason, actor: actor, on: connection, logger: log)
    }
  }

  /// Items of one order: at least one, at most 100, each naming `orderID` or no order (filled in).
  func validatedItems(_ items: [Support_Common_V1_OrderItemRef], orderID: String) throws -> [Support_Common_V1_OrderItemRef] {
    if items.isEmpty { throw ServiceError.invalidArgument("items", "at least one item is required") }
    try Validate.maxCount(items, "items", 100)
    return try items.enumerated().map { index, item in
      if !item.orderID.isEmpty && item.orderID != orderID {
        throw ServiceError.invalidArgument("items[\(index)].order_id", "names order \(item.orderID), not \(orderID)")
      }
      if item.quantity < 0 { throw ServiceError.invalidArgument("items[\(index)].quantity", "must not be negative") }
      var item = item
      item.orderID = orderID
      return item
    }
  }

  /// A pickup window: both ends, start before end, end in the future.
  static func validateWindow(_ window: Support_Common_V1_TimeRange, _ field: String, now: Date) throws {
    guard window.hasStartTime, window.hasEndTime else {
      throw ServiceError.invalidArgument(field, "needs start_time and end_time")
    }
    try Validate.timestamp(window.startTime, "\(field).start_time")
    try Validate.timestamp(window.endTime, "\(field).end_time")
    guard window.startTime.date < window.endTime.date else {
      throw ServiceError.invalidArgument(field, "start_time must be before end_time")
    }
    guard window.endTime.date > now else { throw ServiceError.invalidArgument("\(field).end_time", "is in the past") }
  }

  /// The keyset position a page token carries (nil for the first page).
  static func pageCursor(_ token: String, filter: String) throws -> (micros: Int64, id: UUID)? {
    let cursor = try PageCursor.decode(
      token, filter: filter,
      validKeys: Validate.timestampSeconds.lowerBound * 1_000_000...Validate.timestampSeconds.upperBound * 1_000_000)
    guard let cursor else { return nil }
    guard let id = UUID(uuidString: cursor.id) else { throw ServiceError.invalidArgument("page_token", "is not a token this service issued") }
    return (cursor.key, id)
  }
}
