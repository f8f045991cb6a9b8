import Foundation
import GRPCCore
import GRPCProtobuf
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// ListShipments, WatchShipment and CancelShipment (logistics.proto).
extension ShipmentHandlers {
  /// How often a caught-up watch looks for new changes when no notification wakes it.
  static let watchPollInterval: Duration = .seconds(1)
  static let watchBatchSize = 200

  @Sendable func listShipments(_ request: Support_Logistics_V1_ListShipmentsRequest) async throws -> Support_Logistics_V1_ListShipmentsResponse {
    // A shopper lists their own shipments only: shopper_id is theirs, whether given or not.
    let caller = try Permissions.caller()
    var request = request
    if !caller.isStaff {
      try Permissions.requireSelf(shopperID: request.shopperID.isEmpty ? caller.subject : request.shopperID, field: "shopper_id")
      request.shopperID = caller.subject
    }
    let pageSize = try PageCursor.pageSize(request.pageSize)
    try Validate.maxLength(request.shopperID, "shopper_id", Validate.maxIDLength)
    try Validate.maxLength(request.orderID, "order_id", Validate.maxIDLength)
    try Validate.maxLength(request.ticketID, "ticket_id", Validate.maxIDLength)
    try Validate.maxLength(request.carrierCode, "carrier_code", 32)
    try Validate.maxLength(request.trackingNumber, "tracking_number", 64)
    for (index, status) in request.statuses.enumerated() { try Validate.specified(status, "statuses[\(index)]") }
    for (index, kind) in request.kinds.enumerated() { try Validate.specified(kind, "kinds[\(index)]") }
    if !request.trackingNumber.isEmpty && request.carrierCode.isEmpty {
      throw ServiceError.invalidArgument("tracking_number", "requires carrier_code")
    }
    var filterOnly = request
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    filterOnly.carrierCode = CarrierCatalog.canonical(request.carrierCode)
    let filterKey = try Fingerprint.of(filterOnly)
    let after = try Self.pageCursor(request.pageToken, filter: filterKey)
    let filter = ShipmentStore.ListFilter(
      orderID: request.orderID, ticketID: request.ticketID, statuses: request.statuses, kinds: request.kinds,
      withOpenExceptionsOnly: request.withOpenExceptionsOnly, carrierCode: filterOnly.carrierCode, trackingNumber: request.trackingNumber,
      shopperID: request.shopperID)
    var rows = try await store.list(filter, after: after, limit: pageSize + 1, logger: log)
    var response = Support_Logistics_V1_ListShipmentsResponse()
    if rows.count > pageSize {
      rows.removeLast(rows.count - pageSize)
      let last = rows[rows.count - 1]
      response.nextPageToken = PageCursor(key: last.micros, id: last.shipment.shipmentID, filter: filterKey).token
    }
    response.shipments = rows.map(\.shipment)
    return response
  }

  /// Replays the stored changes after `after_sequence`, then waits for new ones (woken by the
  /// process's LISTEN on ShipmentChanges.channel, or a poll) until the caller leaves or the
  /// process drains (the caller resumes from the last sequence it saw). Sequences of one
  /// shipment are taken under its row lock, so they commit in order: nothing is skipped.
  @Sendable func watchShipment(_ request: Support_Logistics_V1_WatchShipmentRequest, _ writer: RPCWriter<ShipmentWatchEvent>) async throws {
    guard let id = try Validate.resourceID(request.shipmentID, "shipment_id") else {
      throw ServiceError.notFound("shipment", request.shipmentID)
    }
    guard request.afterSequence >= 0 else { throw ServiceError.invalidArgument("after_sequence", "must not be negative") }
    let logger = log
    guard let shipment = try await store.database.withConnection(logger: logger, { connection in
      try await ShipmentStore.load(id, forUpdate: false, on: connection, logger: logger)
    }), try Permissions.mayRead(shopperID: shipment.shopperID) else { throw ServiceError.notFound("shipment", request.shipmentID) }
    guard request.afterSequence <= shipment.lastSequence else {
      throw RPCError(code: .outOfRange, message: "after_sequence \(request.afterSequence) is above the shipment's last_sequence \(shipment.lastSequence)")
    }
    var after = request.afterSequence
    do {
      while !Task.isCancelled && !ServerDrain.isDraining {
        let from = after
        let seen = watchNotifier.generation
        let changes = try await store.database.withConnection(logger: logger) { connection in
          try await ShipmentChanges.after(from, shipmentID: id, limit: Self.watchBatchSize, on: connection, logger: logger)
        }
        for change in changes {
          try await writer.write(change)
          after = change.sequence
        }
        if changes.count < Self.watchBatchSize { await watchNotifier.wait(after: seen, timeout: Self.watchPollInterval) }
      }
    } catch where Task.isCancelled || ServerDrain.isDraining {
      // The caller left, or the process drains: the stream ends; the caller resumes after `after`.
    }
  }

  @Sendable func cancelShipment(_ request: Support_Logistics_V1_CancelShipmentRequest) async throws -> Shipment {
    try Permissions.requireStaff("cancel shipments")
    guard let id = try Validate.resourceID(request.shipmentID, "shipment_id") else {
      throw ServiceError.notFound("shipment", request.shipmentID)
    }
    if request.expectedVersion < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative") }
    try Validate.maxLength(request.reason, "reason", 1000)
    if request.hasActor { try Validate.known(request.actor.kind, "actor.kind") }
    _ = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let logger = log
    return try await store.database.withTransaction(logger: logger) { connection in
      guard let current = try await ShipmentStore.load(id, forUpdate: true, on: connection, logger: logger) else {
        throw ServiceError.notFound("shipment", request.shipmentID)
      }
      if request.expectedVersion != 0 && request.expectedVersion != current.version {
        throw ServiceError.versionMismatch("shipment", expected: request.expectedVersion, actual: current.version)
      }
      guard current.status == .labelCreated else {
        throw ServiceError.failedPrecondition(
          reason: "SHIPMENT_NOT_CANCELLABLE", domain: ShipmentStore.errorDomain,
          "shipment \(current.shipmentID) is \(ExceptionRules.name(current.status)), not LABEL_CREATED: only a label never handed to the carrier can be cancelled",
          metadata: ["shipment_id": current.shipmentID, "status": ExceptionRules.name(current.status)])
      }
      let cancelled = try await ShipmentStore.cancel(id, reason: request.reason, now: Date.nowMicroseconds, on: connection, logger: logger)
      return try await ShipmentStore.withDetails(cancelled ?? current, connection, logger)
    }
  }
}

extension RPCRouter {
  /// Registers one server-streaming protobuf handler (request message in, messages written to
  /// the writer until the handler returns).
  mutating func registerServerStreaming<Input: SwiftProtobuf.Message & Sendable, Output: SwiftProtobuf.Message & Sendable>(
    _ method: MethodDescriptor,
    _ handler: @escaping @Sendable (Input, RPCWriter<Output>) async throws -> Void
  ) {
    registerHandler(
      forMethod: method, deserializer: LimitedDeserializer(CheckedProtobufDeserializer<Input>()), serializer: ProtobufSerializer<Output>()
    ) { request, _ in
      let single = try await ServerRequest(stream: request)
      return StreamingServerResponse(of: Output.self) { writer in
        try await handler(single.message, writer)
        return [:]
      }
    }
  }
}
