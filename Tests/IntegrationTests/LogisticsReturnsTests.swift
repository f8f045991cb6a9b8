import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

typealias Shipment = Support_Logistics_V1_Shipment
typealias ReturnAuthorization = Support_Logistics_V1_ReturnAuthorization
typealias ShipmentWatchEvent = Support_Logistics_V1_ShipmentWatchEvent

/// Logistics' reverse legs through the gateway: return authorisations, the events logistics
/// announces (read from its EventLog), the tickets events it follows, list, watch.
extension MeshTests {
  @Suite("Logistics return authorisations")
  struct LogisticsReturns {
    static let shopperAddress = Logistics.address

    static func request(ticket: String = uniqueID("ticket"), order: String = uniqueID("order"), method: Support_Logistics_V1_ReturnMethod = .label)
      -> Support_Logistics_V1_CreateReturnAuthorizationRequest
    {
      .with {
        $0.requestID = uniqueID("rma-req"); $0.ticketID = ticket; $0.orderID = order; $0.shipmentKind = .return
        $0.method = method; $0.shippingPayer = .seller
        $0.items = [.with { $0.orderItemID = "line-1"; $0.sku = "SKU-9"; $0.quantity = 1 }]
        if method != .selfShip { $0.origin = shopperAddress }
      }
    }

    @Test("bad input names the field and creates nothing")
    func validation() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let order = uniqueID("order")
        func refused(_ field: String, _ change: (inout Support_Logistics_V1_CreateReturnAuthorizationRequest) -> Void) async {
          var request = Self.request(order: order)
          change(&request)
          let status = await richError(.invalidArgument) { try await shipments.createReturnAuthorization(request) }
          let fields = status?.details.compactMap(\.badRequest).first?.violations.map(\.field) ?? []
          #expect(fields == [field], "\(field): \(String(describing: status?.message))")
        }
        await refused("request_id") { $0.requestID = "" }
        await refused("ticket_id") { $0.ticketID = "" }
        await refused("order_id") { $0.orderID = "" }
        await refused("shipment_kind") { $0.shipmentKind = .outbound }
        await refused("method") { $0.method = .unspecified }
        await refused("shipping_payer") { $0.shippingPayer = .unspecified }
        await refused("items") { $0.items = [] }
        await refused("items[0].order_id") { $0.items[0].orderID = "another-order" }
        await refused("origin") { $0.clearOrigin() }
        await refused("requested_pickup_window") { $0.method = .pickup }
        // Set for another method than PICKUP, or ending before it starts.
        await refused("requested_pickup_window") {
          $0.requestedPickupWindow = .with { $0.startTime = daysAgo(-1); $0.endTime = daysAgo(-1.1) }
        }
        await refused("requested_pickup_window") {
          $0.method = .pickup; $0.requestedPickupWindow = .with { $0.startTime = daysAgo(-1.1); $0.endTime = daysAgo(-1) }
        }
        await refused("requested_pickup_window.end_time") {
          $0.method = .pickup; $0.requestedPickupWindow = .with { $0.startTime = daysAgo(2); $0.endTime = daysAgo(1) }
        }
        await refused("carrier_code") { $0.carrierCode = "nope" }
        await refused("expire_time") { $0.expireTime = daysAgo(1) }
        let none = try await shipments.listReturnAuthorizations(.with { $0.orderID = order })
        #expect(none.returnAuthorizations.isEmpty, "nothing was kept")

        await expectCode(.invalidArgument, containing: "return_authorization_id") {
          try await shipments.getReturnAuthorization(.with { $0.returnAuthorizationID = "x"; $0.rmaNumber = "RMA-1" })
        }
        await expectCode(.invalidArgument, containing: "return_authorization_id") { try await shipments.getReturnAuthorization(.init()) }
        await expectCode(.notFound) { try await shipments.getReturnAuthorization(.with { $0.rmaNumber = "RMA-00000000-000000" }) }
        await expectCode(.invalidArgument, containing: "ticket_id") { try await shipments.listReturnAuthorizations(.init()) }
        await expectCode(.invalidArgument, containing: "return_authorization_id") { try await shipments.cancelReturnAuthorization(.init()) }
        await expectCode(.notFound) { try await shipments.cancelReturnAuthorization(.with { $0.returnAuthorizationID = UUID().uuidString }) }
      }
      // Shoppers may not issue or read authorisations.
      try await mesh.withGateway(as: .shopper(uniqueID("shopper"))) { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        await expectCode(.permissionDenied) { try await shipments.createReturnAuthorization(Self.request()) }
        await expectCode(.permissionDenied) { try await shipments.listReturnAuthorizations(.with { $0.ticketID = "t" }) }
      }
    }

    @Test("a LABEL authorisation books a waybill and creates the RETURN shipment; retries, one live per ticket, get, list, cancel")
    func labelLifecycle() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let request = Self.request()
        let issued = try await shipments.createReturnAuthorization(request)
        #expect(issued.status == .issued && issued.version == 1 && issued.method == .label)
        #expect(issued.rmaNumber.range(of: #"^RMA-\d{8}-\d{6,}$"#, options: .regularExpression) != nil, "\(issued.rmaNumber)")
        #expect(issued.destination.street == ReturnDefaults.warehouseStreet && issued.origin == Self.shopperAddress)
        guard case .label(let label)? = issued.booking else {
          Issue.record("a LABEL authorisation carries its label: \(issued)")
          return
        }
        #expect(label.carrierCode == "sf" && label.trackingNumber.hasPrefix("SFR") && label.trackingNumber.count == 19)
        let expiry = issued.expireTime.date.timeIntervalSince(issued.createTime.date)
        #expect(abs(expiry - 7 * 86_400) < 5, "valid for the configured 7 days")
        #expect(try await shipments.createReturnAuthorization(request) == issued, "a retry returns the first result")
        var reused = request
        reused.orderID = uniqueID("order")
        await expectCode(.alreadyExists) { try await shipments.createReturnAuthorization(reused) }

        let shipment = try await shipments.getShipment(.with { $0.shipmentID = issued.shipmentID })
        #expect(shipment.kind == .return && shipment.ticketID == request.ticketID && shipment.returnAuthorizationID == issued.returnAuthorizationID)
        #expect(shipment.carrierCode == "sf" && shipment.trackingNumber == label.trackingNumber && shipment.status == .labelCreated)
        #expect(shipment.origin == Self.shopperAddress && shipment.destination == issued.destination && shipment.lastSequence == 1)

        var second = Self.request(ticket: request.ticketID, order: request.orderID, method: .selfShip)
        second.requestID = uniqueID("rma-req")
        let live = try #require(await richError(.failedPrecondition) { try await shipments.createReturnAuthorization(second) })
        let info = try #require(live.details.compactMap(\.errorInfo).first)
        #expect(info.reason == "ACTIVE_RETURN_AUTHORIZATION_EXISTS" && info.domain == "support.logistics.v1")
        #expect(info.metadata["return_authorization_id"] == issued.returnAuthorizationID && info.metadata["status"] == "ISSUED")

        #expect(try await shipments.getReturnAuthorization(.with { $0.rmaNumber = issued.rmaNumber }) == issued)
        #expect(try await shipments.getReturnAuthorization(.with { $0.returnAuthorizationID = issued.returnAuthorizationID }) == issued)

        await expectCode(.aborted) {
          try await shipments.cancelReturnAuthorization(.with { $0.returnAuthorizationID = issued.returnAuthorizationID; $0.expectedVersion = 7 })
        }
        let cancelled = try await shipments.cancelReturnAuthorization(.with {
          $0.returnAuthorizationID = issued.returnAuthorizationID; $0.expectedVersion = 1; $0.reason = "shopper kept the item"
        })
        #expect(cancelled.status == .cancelled && cancelled.cancelReason == "shopper kept the item" && cancelled.version == 2)
        let voided = try await shipments.getShipment(.with { $0.shipmentID = issued.shipmentID })
        #expect(voided.status == .cancelled && !voided.hasExpectedDeliveryTime && voided.lastSequence == 2)
        let again = try #require(await richError(.failedPrecondition) {
          try await shipments.cancelReturnAuthorization(.with { $0.returnAuthorizationID = issued.returnAuthorizationID })
        })
        #expect(again.details.compactMap(\.errorInfo).first?.reason == "RETURN_AUTHORIZATION_NOT_ISSUED")

        // With the first one cancelled the ticket may have a new one; newest first, paged.
        let replacement = try await shipments.createReturnAuthorization(second)
        #expect(replacement.method == .selfShip && replacement.booking == nil && replacement.shipmentID.isEmpty)
        let page1 = try await shipments.listReturnAuthorizations(.with { $0.ticketID = request.ticketID; $0.pageSize = 1 })
        #expect(page1.returnAuthorizations.map(\.returnAuthorizationID) == [replacement.returnAuthorizationID] && !page1.nextPageToken.isEmpty)
        let page2 = try await shipments.listReturnAuthorizations(.with {
          $0.ticketID = request.ticketID; $0.pageSize = 1; $0.pageToken = page1.nextPageToken
        })
        #expect(page2.returnAuthorizations.map(\.returnAuthorizationID) == [issued.returnAuthorizationID] && page2.nextPageToken.isEmpty)
        await expectCode(.invalidArgument, containing: "page_token") {
          try await shipments.listReturnAuthorizations(.with { $0.orderID = request.orderID; $0.pageToken = page1.nextPageToken })
        }
        let byOrder = try await shipments.listReturnAuthorizations(.with { $0.orderID = request.orderID })
        #expect(byOrder.returnAuthorizations.count == 2)

        // SELF_SHIP: the shopper reports the waybill; the authorisation is on its way.
        var reported = Support_Logistics_V1_CreateShipmentRequest.with {
          $0.requestID = uniqueID("req"); $0.kind = .return; $0.orderID = request.orderID; $0.ticketID = request.ticketID
          $0.carrierCode = "zto"; $0.trackingNumber = uniqueID("ZTO"); $0.items = request.items
          $0.origin = Self.shopperAddress; $0.destination = replacement.destination
          $0.returnAuthorizationID = replacement.returnAuthorizationID
        }
        let selfShipped = try await shipments.createShipment(reported)
        #expect(selfShipped.returnAuthorizationID == replacement.returnAuthorizationID)
        let moving = try await shipments.getReturnAuthorization(.with { $0.returnAuthorizationID = replacement.returnAuthorizationID })
        #expect(moving.status == .inTransit && moving.shipmentID == selfShipped.shipmentID)
        reported.requestID = uniqueID("req")
        reported.trackingNumber = uniqueID("ZTO")
        let taken = try #require(await richError(.failedPrecondition) { try await shipments.createShipment(reported) })
        #expect(taken.details.compactMap(\.errorInfo).first?.reason == "RETURN_AUTHORIZATION_NOT_ISSUED")
        reported.returnAuthorizationID = UUID().uuidString
        await expectCode(.notFound) { try await shipments.createShipment(reported) }
      }
    }

    @Test("a PICKUP authorisation books the carrier in the requested window; a REPAIR_INBOUND goes to the repair centre")
    func pickup() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        var request = Self.request(method: .pickup)
        request.shipmentKind = .repairInbound
        request.carrierCode = "JD"
        request.requestedPickupWindow = .with { $0.startTime = daysAgo(-1); $0.endTime = daysAgo(-1.1) }
        let issued = try await shipments.createReturnAuthorization(request)
        guard case .pickup(let pickup)? = issued.booking else {
          Issue.record("a PICKUP authorisation carries its appointment: \(issued)")
          return
        }
        #expect(pickup.carrierCode == "jd" && pickup.trackingNumber.hasPrefix("JDR") && pickup.window == request.requestedPickupWindow)
        #expect(issued.shipmentKind == .repairInbound && issued.destination.street == ReturnDefaults.warehouseStreet)
        let shipment = try await shipments.getShipment(.with { $0.shipmentID = issued.shipmentID })
        #expect(shipment.kind == .repairInbound && shipment.carrierCode == "jd" && shipment.trackingNumber == pickup.trackingNumber)
        // Another ticket's SELF_SHIP authorisation cannot take a shipment of this ticket.
        let other = try await shipments.createReturnAuthorization(Self.request(method: .selfShip))
        let refused = try #require(await richError(.failedPrecondition) {
          try await shipments.createShipment(.with {
            $0.requestID = uniqueID("req"); $0.kind = .return; $0.orderID = request.orderID; $0.ticketID = request.ticketID
            $0.carrierCode = "sf"; $0.trackingNumber = uniqueID("SF"); $0.items = request.items; $0.destination = issued.destination
            $0.returnAuthorizationID = other.returnAuthorizationID
          })
        })
        #expect(refused.details.compactMap(\.errorInfo).first?.reason == "RETURN_AUTHORIZATION_OF_OTHER_TICKET")
      }
    }

    @Test("a return parcel whose first scan is LOST moves its authorisation to IN_TRANSIT: the shopper handed it over")
    func lostAtFirstScan() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let issued = try await shipments.createReturnAuthorization(Self.request())
        let shipment = try await shipments.getShipment(.with { $0.shipmentID = issued.shipmentID })
        _ = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "sf"; $0.trackingNumber = shipment.trackingNumber
          $0.events = [.with {
            $0.carrierEventID = "\(shipment.trackingNumber)-lost"; $0.status = .lost; $0.eventTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(-60))
          }]
        })
        #expect(try await shipments.getReturnAuthorization(.with { $0.rmaNumber = issued.rmaNumber }).status == .inTransit)
      }
    }

    @Test("the return parcel tracked to DELIVERED moves its authorisation and announces ShipmentDeliveredEvent once")
    func deliveredAnnounced() async throws {
      let m = try mesh
      let request = Self.request()
      let (issued, shipment) = try await m.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let issued = try await shipments.createReturnAuthorization(request)
        let shipment = try await shipments.getShipment(.with { $0.shipmentID = issued.shipmentID })
        let t0 = Date().addingTimeInterval(-3600)
        func record(_ id: String, _ status: Support_Logistics_V1_ShipmentStatus, _ minutes: Double) async throws -> Shipment {
          try await shipments.recordTrackingEvents(.with {
            $0.carrierCode = "sf"; $0.trackingNumber = shipment.trackingNumber
            $0.events = [.with { $0.carrierEventID = "\(shipment.trackingNumber)-\(id)"; $0.status = status; $0.eventTime = Google_Protobuf_Timestamp(date: t0.addingTimeInterval(minutes * 60)) }]
          }).shipment
        }
        _ = try await record("p1", .pickedUp, 0)
        #expect(try await shipments.getReturnAuthorization(.with { $0.rmaNumber = issued.rmaNumber }).status == .inTransit)
        let delivered = try await record("d1", .delivered, 30)
        #expect(delivered.status == .delivered)
        #expect(try await shipments.getReturnAuthorization(.with { $0.rmaNumber = issued.rmaNumber }).status == .received)
        // A second DELIVERED scan (another carrier event) announces nothing more.
        _ = try await record("d2", .delivered, 31)
        return (issued, shipment)
      }
      let delivered = try await LogisticsEventLog.first(Support_Logistics_V1_ShipmentDeliveredEvent.self, subject: shipment.shipmentID)
      guard case .shipmentDelivered(let payload) = delivered.payload else {
        Issue.record("not a ShipmentDeliveredEvent: \(delivered)")
        return
      }
      #expect(delivered.producer == "logistics" && payload.eventID == delivered.eventID)
      #expect(payload.kind == .return && payload.ticketID == request.ticketID && payload.orderID == request.orderID)
      #expect(payload.returnAuthorizationID == issued.returnAuthorizationID && payload.rmaNumber == issued.rmaNumber)
      #expect(payload.trackingNumber == shipment.trackingNumber && payload.hasDeliveredTime)
      let count = "SELECT count(*) FROM logistics.event_outbox WHERE subject = '\(shipment.shipmentID)' AND event_type = '\(Support_Logistics_V1_ShipmentDeliveredEvent.protoMessageName)'"
      #expect(try m.query(count) == "1", "announced once per shipment")
      let created = try await LogisticsEventLog.first(Support_Logistics_V1_ShipmentCreatedEvent.self, subject: shipment.shipmentID)
      if case .shipmentCreated(let payload) = created.payload {
        #expect(payload.kind == .return && payload.ticketID == request.ticketID && payload.returnAuthorizationID == issued.returnAuthorizationID)
        #expect(payload.eventID == created.eventID && abs(created.occurTime.date.timeIntervalSince(payload.emitTime.date)) < 0.001)
      } else {
        Issue.record("not a ShipmentCreatedEvent: \(created)")
      }
      let announced = try await LogisticsEventLog.first(Support_Logistics_V1_ReturnAuthorizationIssuedEvent.self, subject: issued.returnAuthorizationID)
      if case .returnAuthorizationIssued(let payload) = announced.payload {
        #expect(payload.rmaNumber == issued.rmaNumber && payload.shipmentID == shipment.shipmentID && payload.label == issued.label)
        #expect(payload.eventID == announced.eventID && payload.returnAuthorizationVersion == 1)
      } else {
        Issue.record("not a ReturnAuthorizationIssuedEvent: \(announced)")
      }
    }

    @Test("an unused authorisation expires: EXPIRED, its shipment cancelled, ReturnAuthorizationExpiredEvent")
    func expiry() async throws {
      var request = Self.request()
      request.expireTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(2))
      let issued = try await mesh.withGateway { grpc in
        try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).createReturnAuthorization(request)
      }
      let expired = try await LogisticsEventLog.first(Support_Logistics_V1_ReturnAuthorizationExpiredEvent.self, subject: issued.returnAuthorizationID)
      if case .returnAuthorizationExpired(let payload) = expired.payload {
        #expect(payload.rmaNumber == issued.rmaNumber && payload.ticketID == request.ticketID && payload.shipmentID == issued.shipmentID)
        #expect(payload.returnAuthorizationVersion == 2)
      } else {
        Issue.record("not a ReturnAuthorizationExpiredEvent: \(expired)")
      }
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let now = try await shipments.getReturnAuthorization(.with { $0.returnAuthorizationID = issued.returnAuthorizationID })
        #expect(now.status == .expired && now.version == 2)
        #expect(try await shipments.getShipment(.with { $0.shipmentID = issued.shipmentID }).status == .cancelled)
      }
    }
  }
}

/// What the deployment's return warehouse looks like by default (ReturnSettings).
enum ReturnDefaults {
  static let warehouseStreet = "仓前街道 1 号 退货仓"
}

/// Reads logistics' event log through the gateway (x-supportmesh-producer: logistics).
enum LogisticsEventLog {
  /// The first event of `type` about `subject`, waiting for it up to `seconds`.
  static func first<Payload: SwiftProtobuf.Message>(_ type: Payload.Type, subject: String, seconds: Int64 = 40) async throws -> EventEnvelope {
    try await mesh.withGateway { grpc in
      var metadata = Metadata()
      metadata.addString("logistics", forKey: "x-supportmesh-producer")
      var options = CallOptions.defaults
      options.timeout = .seconds(seconds)
      return try await Support_Events_V1_EventLog.Client(wrapping: grpc).streamEvents(
        .with { $0.types = [Payload.protoMessageName] }, metadata: metadata, options: options
      ) { response in
        for try await message in response.messages {
          if case .event(let event) = message.item, event.subject == subject { return event }
        }
        throw MeshError("the logistics event log ended without a \(Payload.protoMessageName) for \(subject)")
      }
    }
  }
}
