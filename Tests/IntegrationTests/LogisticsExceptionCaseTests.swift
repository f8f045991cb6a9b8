import Foundation
import GRPCCore
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  /// Shipment exceptions open after-sales cases by themselves (tickets' "tickets.logistics"
  /// subscription), the DELAYED sweeper, and eligibility counted from logistics' deliveries.
  /// The mesh runs with LOST → RESHIP (the default), DAMAGED → REFUND, and "ems" parcels DELAYED
  /// after 3 s without a scan (WholeMesh in Mesh.swift).
  @Suite("Shipment exceptions become cases")
  struct LogisticsExceptionCases {
    typealias Shipments = Support_Logistics_V1_ShipmentService.Client
    typealias Tickets = Support_Tickets_V1_TicketService.Client

    static func outbound(order: String, shopper: String, carrier: String = "sf") -> Support_Logistics_V1_CreateShipmentRequest {
      .with {
        $0.requestID = uniqueID("req"); $0.kind = .outbound; $0.orderID = order; $0.carrierCode = carrier
        $0.trackingNumber = uniqueID(carrier.uppercased()); $0.shopperID = shopper
        $0.items = [.with {
          $0.orderItemID = "line-1"; $0.sku = "SKU-7"; $0.quantity = 1
          $0.unitPrice = .with { $0.amountMinor = 12_900; $0.currencyCode = "CNY" }
        }]
        $0.destination = Logistics.address
      }
    }

    static func scan(_ id: String, _ status: Support_Logistics_V1_ShipmentStatus, at date: Date) -> Support_Logistics_V1_CarrierTrackingEvent {
      .with { $0.carrierEventID = id; $0.status = status; $0.eventTime = Google_Protobuf_Timestamp(date: date) }
    }

    static func record(_ shipment: Shipment, _ events: [Support_Logistics_V1_CarrierTrackingEvent]) async throws -> Shipment {
      try await mesh.withGateway { grpc in
        try await Shipments(wrapping: grpc).recordTrackingEvents(.with {
          $0.carrierCode = shipment.carrierCode; $0.trackingNumber = shipment.trackingNumber; $0.events = events
        }).shipment
      }
    }

    /// The order's cases, as an agent lists them.
    static func cases(order: String) async throws -> [Support_Tickets_V1_Ticket] {
      try await mesh.withGateway(as: .agent("agent-exc")) { grpc in
        try await Tickets(wrapping: grpc).listTickets(.with { $0.orderID = order }).tickets
      }
    }

    /// Waits for the order's only case to satisfy `condition`.
    static func awaitCase(order: String, _ condition: @escaping (Support_Tickets_V1_Ticket) -> Bool) async throws -> Support_Tickets_V1_Ticket {
      var found: Support_Tickets_V1_Ticket?
      try await waitFor(seconds: 40) {
        let all = try await cases(order: order)
        found = all.count == 1 && condition(all[0]) ? all[0] : nil
        return found != nil
      }
      return try #require(found)
    }

    static func notes(_ ticketID: String) async throws -> [String] {
      try await mesh.withGateway(as: .agent("agent-exc")) { grpc in
        try await Tickets(wrapping: grpc).listComments(.with { $0.ticketID = ticketID; $0.visibilities = [.internalNote] }).comments.map(\.body)
      }
    }

    static func exception(_ id: String) async throws -> ShipmentExceptionMessage {
      try await mesh.withGateway { grpc in try await Shipments(wrapping: grpc).getException(.with { $0.exceptionID = id }) }
    }

    @Test("a LOST scan opens a case by itself; the shop's RESHIP ships the replacement, resolves the case and the exception RESHIPPED")
    func lostParcelReships() async throws {
      let (order, shopper) = (uniqueID("order"), uniqueID("shopper"))
      let shipment = try await mesh.withGateway { grpc in try await Shipments(wrapping: grpc).createShipment(Self.outbound(order: order, shopper: shopper)) }
      #expect(shipment.shopperID == shopper)
      let now = Date()
      let lost = try await Self.record(shipment, [
        Self.scan("\(shipment.trackingNumber)-p", .pickedUp, at: now.addingTimeInterval(-7200)),
        Self.scan("\(shipment.trackingNumber)-l", .lost, at: now.addingTimeInterval(-3600)),
      ])
      let exception = try #require(lost.openExceptions.first { $0.kind == .lost })
      let announced = try await LogisticsEventLog.first(Support_Logistics_V1_ShipmentExceptionEvent.self, subject: shipment.shipmentID)
      if case .shipmentException(let payload) = announced.payload {
        #expect(payload.shopperID == shopper && payload.exceptionID == exception.exceptionID)
      } else {
        Issue.record("not a ShipmentExceptionEvent: \(announced)")
      }

      let resolved = try await Self.awaitCase(order: order) { $0.status == .resolved }
      #expect(resolved.type == .refundOnly && resolved.category == .logistics && resolved.shopperID == shopper)
      #expect(resolved.createdBy.kind == .system && resolved.shipmentExceptionID == exception.exceptionID)
      #expect(resolved.source.kind == .shipment && resolved.source.id == shipment.shipmentID)
      #expect(resolved.solution.kind == .exchange && !resolved.goodsReturnRequired)
      #expect(resolved.resolution.outcome == .replacementShipped && !resolved.resolution.outboundShipmentID.isEmpty)

      let replacement = try await mesh.withGateway { grpc in
        try await Shipments(wrapping: grpc).getShipment(.with { $0.shipmentID = resolved.resolution.outboundShipmentID })
      }
      #expect(replacement.kind == .exchangeReplacement && replacement.ticketID == resolved.ticketID && replacement.orderID == order)
      #expect(replacement.items.map(\.sku) == ["SKU-7"] && replacement.shopperID == shopper)
      #expect(replacement.destination.street == Logistics.address.street, "the reship goes where the lost parcel was going")

      let settled = try await Self.exception(exception.exceptionID)
      #expect(settled.state == .resolved && settled.resolution == .reshipped && settled.resolvedBy.kind == .system)
      try await waitFor(seconds: 20) { try await Self.notes(resolved.ticketID).contains { $0.contains("resolved: RESHIPPED") } }
      // The shopper sees the case the system opened for them.
      let own = try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = resolved.ticketID })
      }
      #expect(own.ticketID == resolved.ticketID)
    }

    @Test("a recurring exception notes the same case; a copy of the event opens no second case; recovery cancels the untouched case")
    func recurringExceptionUpdatesTheCase() async throws {
      let (order, shopper) = (uniqueID("order"), uniqueID("shopper"))
      let shipment = try await mesh.withGateway { grpc in try await Shipments(wrapping: grpc).createShipment(Self.outbound(order: order, shopper: shopper)) }
      let now = Date()
      let failed = try await Self.record(shipment, [
        Self.scan("\(shipment.trackingNumber)-o", .outForDelivery, at: now.addingTimeInterval(-4 * 3600)),
        Self.scan("\(shipment.trackingNumber)-f1", .deliveryFailed, at: now.addingTimeInterval(-3 * 3600)),
      ])
      let exception = try #require(failed.openExceptions.first { $0.kind == .deliveryFailed })
      // DELIVERY_FAILED is left to an agent (the default remedy): the case waits, SUBMITTED.
      let opened = try await Self.awaitCase(order: order) { $0.status == .submitted }
      #expect(opened.shipmentExceptionID == exception.exceptionID && opened.priority == .normal && !opened.hasSolution)

      _ = try await Self.record(shipment, [Self.scan("\(shipment.trackingNumber)-f2", .deliveryFailed, at: now.addingTimeInterval(-2 * 3600))])
      try await waitFor(seconds: 20) { try await Self.notes(opened.ticketID).contains { $0.contains("detected again (2 times)") } }

      // The same facts announced again under another envelope: noted, never a second case.
      let first = try await LogisticsEventLog.first(Support_Logistics_V1_ShipmentExceptionEvent.self, subject: shipment.shipmentID)
      let before = try await Self.notes(opened.ticketID).count
      try await LogisticsLog.publish(subject: shipment.shipmentID, try #require(first.payload))
      try await waitFor(seconds: 20) { try await Self.notes(opened.ticketID).count == before + 1 }
      #expect(try await Self.cases(order: order).count == 1)

      // Delivered after all: the exception recovers, and the case nobody touched is cancelled.
      _ = try await Self.record(shipment, [Self.scan("\(shipment.trackingNumber)-d", .delivered, at: now.addingTimeInterval(-3600))])
      #expect(try await Self.exception(exception.exceptionID).resolution == .recovered)
      let cancelled = try await Self.awaitCase(order: order) { $0.status == .cancelled }
      #expect(cancelled.statusReason.contains("recovered"))
      #expect(try await Self.notes(opened.ticketID).contains { $0.contains("resolved: RECOVERED") })
    }

    @Test("DAMAGED with the shop's REFUND remedy agrees a refund of what the items cost")
    func damagedParcelRefund() async throws {
      let (order, shopper) = (uniqueID("order"), uniqueID("shopper"))
      let shipment = try await mesh.withGateway { grpc in try await Shipments(wrapping: grpc).createShipment(Self.outbound(order: order, shopper: shopper)) }
      _ = try await Self.record(shipment, [Self.scan("\(shipment.trackingNumber)-dm", .damaged, at: Date().addingTimeInterval(-600))])
      let agreed = try await Self.awaitCase(order: order) { $0.status == .solutionAgreed }
      #expect(agreed.solution.kind == .refund && agreed.solution.refundAmount.amountMinor == 12_900 && agreed.priority == .high)
    }

    @Test("a parcel with no scan for its carrier's threshold becomes DELAYED once, by the sweeper, and recovers on the next scan")
    func delayedBySweeper() async throws {
      let (order, shopper) = (uniqueID("order"), uniqueID("shopper"))
      let shipment = try await mesh.withGateway { grpc in
        try await Shipments(wrapping: grpc).createShipment(Self.outbound(order: order, shopper: shopper, carrier: "ems"))
      }
      let picked = try await Self.record(shipment, [Self.scan("\(shipment.trackingNumber)-p", .pickedUp, at: Date())])
      #expect(picked.openExceptions.isEmpty)
      var delayed: ShipmentExceptionMessage?
      try await waitFor(seconds: 30) {
        delayed = try await mesh.withGateway { grpc in
          try await Shipments(wrapping: grpc).getShipment(.with { $0.shipmentID = shipment.shipmentID })
        }.openExceptions.first { $0.kind == .delayed }
        return delayed != nil
      }
      let exception = try #require(delayed)
      #expect(exception.detail.contains("no scan for") && exception.carrierEventID.isEmpty)
      let opened = try await Self.awaitCase(order: order) { $0.status == .submitted }
      #expect(opened.shipmentExceptionID == exception.exceptionID)
      // Several sweeps later there is still one DELAYED exception for this silence.
      try await Task.sleep(for: .seconds(3))
      #expect(try mesh.query("SELECT count(*) FROM logistics.shipment_exceptions WHERE shipment_id = '\(shipment.shipmentID)' AND kind = 1") == "1")

      let moving = try await Self.record(shipment, [Self.scan("\(shipment.trackingNumber)-d", .delivered, at: Date())])
      #expect(!moving.openExceptions.contains { $0.kind == .delayed })
      let recovered = try await Self.exception(exception.exceptionID)
      #expect(recovered.state == .resolved && recovered.resolution == .recovered)
      _ = try await Self.awaitCase(order: order) { $0.status == .cancelled }
    }

    @Test("a DELAYED exception resolved by hand is not opened again for the same silence; a new scan and a new silence open one")
    func delayedOncePerSilence() async throws {
      let (order, shopper) = (uniqueID("order"), uniqueID("shopper"))
      let shipment = try await mesh.withGateway { grpc in
        try await Shipments(wrapping: grpc).createShipment(Self.outbound(order: order, shopper: shopper, carrier: "ems"))
      }
      _ = try await Self.record(shipment, [Self.scan("\(shipment.trackingNumber)-p", .pickedUp, at: Date())])
      func delayedCount() throws -> String {
        try mesh.query("SELECT count(*) FROM logistics.shipment_exceptions WHERE shipment_id = '\(shipment.shipmentID)' AND kind = 1")
      }
      func openDelayed() async throws -> ShipmentExceptionMessage? {
        try await mesh.withGateway { grpc in
          try await Shipments(wrapping: grpc).getShipment(.with { $0.shipmentID = shipment.shipmentID })
        }.openExceptions.first { $0.kind == .delayed }
      }
      var first: ShipmentExceptionMessage?
      try await waitFor(seconds: 30) {
        first = try await openDelayed()
        return first != nil
      }
      let exception = try #require(first)
      let resolved = try await mesh.withGateway(as: .agent("agent-exc")) { grpc in
        try await Shipments(wrapping: grpc).resolveException(.with {
          $0.exceptionID = exception.exceptionID; $0.resolution = .noActionNeeded; $0.note = "the depot is closed for the holiday"
        })
      }
      #expect(resolved.state == .resolved)
      // Several sweeps later (1 s each in the tests): still that one, resolved.
      try await Task.sleep(for: .seconds(3))
      #expect(try delayedCount() == "1")
      #expect(try await openDelayed() == nil)

      // A scan ends the silence; the next silence opens a new DELAYED.
      _ = try await Self.record(shipment, [Self.scan("\(shipment.trackingNumber)-t", .inTransit, at: Date())])
      try await waitFor(seconds: 30) { try await openDelayed() != nil }
      #expect(try delayedCount() == "2")
    }

    @Test("expected delivery: the route's median transit from past deliveries, moving with the first scan, then the carrier's estimate")
    func expectedDeliveryFromRouteHistory() async throws {
      let city = uniqueID("city")
      func routed() -> Support_Logistics_V1_CreateShipmentRequest {
        var request = Self.outbound(order: uniqueID("order"), shopper: uniqueID("shopper"), carrier: "yto")
        request.origin = .with { $0.recipientName = "仓库"; $0.province = "浙江"; $0.city = "杭州"; $0.street = "仓前街道 1 号" }
        request.destination.city = city
        return request
      }
      let transit: TimeInterval = 48 * 3600
      try await mesh.withGateway { grpc in
        let shipments = Shipments(wrapping: grpc)
        let first = try await shipments.createShipment(routed())
        #expect(first.expectedDeliverySource == .defaultTransit, "no history for a new route yet")
        for index in 0..<3 {
          var past = first
          if index > 0 { past = try await shipments.createShipment(routed()) }
          let pickup = Date().addingTimeInterval(-6 * 86_400 + Double(index) * 3600)
          let delivered = try await Self.record(past, [
            Self.scan("\(past.trackingNumber)-p", .pickedUp, at: pickup),
            Self.scan("\(past.trackingNumber)-d", .delivered, at: pickup.addingTimeInterval(transit)),
          ])
          #expect(delivered.expectedDeliverySource == .delivered)
        }
        let created = try await shipments.createShipment(routed())
        #expect(created.expectedDeliverySource == .routeHistory)
        #expect(abs(created.expectedDeliveryTime.date.timeIntervalSince(created.createTime.date) - transit) < 1)
        let pickup = Date().addingTimeInterval(-3600)
        let moving = try await Self.record(created, [Self.scan("\(created.trackingNumber)-p", .pickedUp, at: pickup)])
        #expect(moving.expectedDeliverySource == .routeHistory)
        #expect(abs(moving.expectedDeliveryTime.date.timeIntervalSince(pickup) - transit) < 1, "counted from the first scan")
        let estimate = Date().addingTimeInterval(86_400)
        var withEstimate = Self.scan("\(created.trackingNumber)-t", .inTransit, at: Date())
        withEstimate.estimatedDeliveryTime = Google_Protobuf_Timestamp(date: estimate)
        let estimated = try await Self.record(created, [withEstimate])
        #expect(estimated.expectedDeliverySource == .carrier)
        #expect(abs(estimated.expectedDeliveryTime.date.timeIntervalSince(estimate)) < 0.001)
      }
    }

    @Test("logistics' delivery decides eligibility: a caller's later delivered_time cannot reopen the 7-day window")
    func deliveredEventsDecideEligibility() async throws {
      let (order, shopper) = (uniqueID("order"), uniqueID("shopper"))
      let shipment = try await mesh.withGateway { grpc in try await Shipments(wrapping: grpc).createShipment(Self.outbound(order: order, shopper: shopper)) }
      let deliveredAt = Date().addingTimeInterval(-10 * 86_400)
      _ = try await Self.record(shipment, [
        Self.scan("\(shipment.trackingNumber)-p", .pickedUp, at: deliveredAt.addingTimeInterval(-86_400)),
        Self.scan("\(shipment.trackingNumber)-d", .delivered, at: deliveredAt),
      ])
      let item = Support_Common_V1_OrderItemRef.with { $0.orderID = order; $0.orderItemID = "line-1"; $0.sku = "SKU-7"; $0.quantity = 1 }
      let claim = Support_Tickets_V1_CheckEligibilityRequest.with {
        $0.type = .returnAndRefund; $0.category = .transaction; $0.item = item; $0.deliveredTime = daysAgo(2); $0.goodsCondition = .intact
      }
      var answer = Support_Tickets_V1_CheckEligibilityResponse()
      try await waitFor(seconds: 30) {
        answer = try await mesh.withGateway(as: .shopper(shopper)) { grpc in try await Tickets(wrapping: grpc).checkEligibility(claim) }
        return answer.deliveredTimeSource == .logistics
      }
      #expect(!answer.eligible && answer.reasons == [.windowExpired] && answer.policyWindow == .noReasonReturn)
      #expect(abs(answer.deadlineTime.date.timeIntervalSince(deliveredAt.addingTimeInterval(7 * 86_400))) < 1)
      // Another shopper naming this order learns nothing of its delivery: their own time counts.
      let stranger = try await mesh.withGateway(as: .shopper(uniqueID("shopper"))) { grpc in try await Tickets(wrapping: grpc).checkEligibility(claim) }
      #expect(stranger.eligible && stranger.deliveredTimeSource == .caller)
      // Staff see the facts of any order.
      #expect(try await mesh.withGateway { grpc in try await Tickets(wrapping: grpc).checkEligibility(claim) }.deliveredTimeSource == .logistics)

      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let tickets = Tickets(wrapping: grpc)
        // A line logistics never delivered: the caller's time, said so.
        var unknown = claim
        unknown.item.orderID = uniqueID("order")
        let caller = try await tickets.checkEligibility(unknown)
        #expect(caller.eligible && caller.deliveredTimeSource == .caller)
        unknown.clearDeliveredTime()
        #expect(try await tickets.checkEligibility(unknown).deliveredTimeSource == .none)

        var request = MeshTests.Tickets.returnRequest(shopper: shopper, order: order)
        request.category = .transaction
        request.deliveredTime = daysAgo(2)
        let refused = try #require(await richError(.failedPrecondition) { try await tickets.createTicket(request) })
        #expect(refused.details.compactMap(\.errorInfo).first?.metadata["reasons"] == "WINDOW_EXPIRED")

        // Within the 15-day exchange window the case is filed, counted from logistics' time.
        var exchange = request
        exchange.requestID = uniqueID("req")
        exchange.type = .exchange
        exchange.clearRequestedRefund()
        let filed = try await tickets.createTicket(exchange)
        #expect(filed.eligibility.map(\.deliveredTimeSource) == [.logistics])
        #expect(abs(filed.deliveredTime.date.timeIntervalSince(deliveredAt)) < 1)
      }
    }
  }
}

typealias ShipmentExceptionMessage = Support_Logistics_V1_ShipmentException

/// Writes an event into the logistics process's event log as the logistics producer does
/// (ServiceKit's EventOutbox, as the logistics role, in one transaction): a producer announcing
/// the same facts twice under two envelopes.
enum LogisticsLog {
  static func publish(subject: String, _ payload: EventEnvelope.OneOf_Payload) async throws {
    let logger = Logger(label: "logistics-log")
    var config = PostgresClient.Configuration(
      host: "127.0.0.1", port: try mesh.pgPort, username: "logistics", password: try mesh.databasePassword("logistics"),
      database: "supportmesh", tls: .disable)
    config.options.maximumConnections = 1
    let client = PostgresClient(configuration: config, backgroundLogger: logger)
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask { await client.run() }
      try await client.withConnection { connection in
        try await connection.query("BEGIN", logger: logger)
        _ = try await EventOutbox(producer: "logistics", schema: "logistics").append(payload, subject: subject, on: connection, logger: logger)
        try await connection.query("COMMIT", logger: logger)
      }
      group.cancelAll()
    }
  }
}
