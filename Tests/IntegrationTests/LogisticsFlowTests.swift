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

extension MeshTests {
  /// Logistics follows the tickets event log ("logistics.tickets"): the reverse legs of a case.
  @Suite("Logistics follows the tickets events")
  struct LogisticsFollowsTickets {
    typealias TicketsClient = Support_Tickets_V1_TicketService.Client

    static func returnAuthorizations(ticket: String, atLeast count: Int = 1) async throws -> [ReturnAuthorization] {
      var found: [ReturnAuthorization] = []
      try await waitFor(seconds: 30) {
        found = try await mesh.withGateway { grpc in
          try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).listReturnAuthorizations(.with { $0.ticketID = ticket }).returnAuthorizations
        }
        return found.count >= count
      }
      return found
    }

    @Test("a case approved through the gateway with goods coming back gets its return authorisation")
    func approvedThroughTheGateway() async throws {
      let shopper = uniqueID("shopper")
      let created = try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        try await TicketsClient(wrapping: grpc).createTicket(MeshTests.Tickets.returnRequest(shopper: shopper))
      }
      try await mesh.withGateway(as: .agent(uniqueID("agent"))) { grpc in
        let tickets = TicketsClient(wrapping: grpc)
        var ticket = try await tickets.transitionTicket(TicketWorkflow.transition(created, .with { $0.startReview = .init() }))
        ticket = try await tickets.transitionTicket(TicketWorkflow.transition(ticket, .with { $0.approve = .init() }))
        ticket = try await tickets.transitionTicket(TicketWorkflow.transition(ticket, TicketWorkflow.refund))
        #expect(ticket.status == .solutionAgreed && ticket.goodsReturnRequired)
      }
      let found = try await Self.returnAuthorizations(ticket: created.ticketID)
      #expect(found.count == 1)
      let issued = try #require(found.first)
      // No return method recorded on the case means SELF_SHIP; the seller pays for a quality problem.
      #expect(issued.status == .issued && issued.shipmentKind == .return && issued.method == .selfShip && issued.shippingPayer == .seller)
      #expect(issued.orderID == created.items[0].orderID && issued.items.map(\.orderItemID) == ["line-1"])
      #expect(issued.createdBy.kind == .system && issued.createdBy.id == "logistics.tickets")
      let announced = try await LogisticsEventLog.first(Support_Logistics_V1_ReturnAuthorizationIssuedEvent.self, subject: issued.returnAuthorizationID)
      if case .returnAuthorizationIssued(let payload) = announced.payload {
        #expect(payload.ticketID == created.ticketID && payload.rmaNumber == issued.rmaNumber && payload.method == .selfShip)
      } else {
        Issue.record("not a ReturnAuthorizationIssuedEvent: \(announced)")
      }
      #expect(try mesh.query("SELECT count(*) FROM logistics.return_authorizations WHERE ticket_id = '\(created.ticketID)'") == "1")
    }

    @Test("exchange: a LABEL return collected from the order's delivery address, then the replacement after a passed inspection")
    func exchangeLegs() async throws {
      let order = uniqueID("order")
      let ticket = uniqueID("ticket")
      let shopper = uniqueID("shopper")
      var home = LogisticsReturns.shopperAddress
      home.street = "\(uniqueID("street")) 8 号"
      try await mesh.withGateway { grpc in
        _ = try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).createShipment(.with {
          $0.requestID = uniqueID("req"); $0.kind = .outbound; $0.orderID = order; $0.carrierCode = "zto"
          $0.trackingNumber = uniqueID("ZTO"); $0.items = [.with { $0.orderItemID = "line-1"; $0.quantity = 1 }]; $0.destination = home
        })
      }
      let items: [Support_Common_V1_OrderItemRef] = [.with { $0.orderID = order; $0.orderItemID = "line-1"; $0.sku = "SKU-RED"; $0.quantity = 1 }]
      let replacement: [Support_Common_V1_OrderItemRef] = [.with { $0.orderID = order; $0.orderItemID = "line-1"; $0.sku = "SKU-BLUE"; $0.quantity = 1 }]
      try await TicketsLog.publish(subject: ticket, .ticketApproved(.with {
        $0.eventID = UUID().uuidString.lowercased(); $0.ticketID = ticket; $0.orderID = order; $0.type = .exchange
        $0.solutionKind = .exchange; $0.goodsReturnRequired = true; $0.returnItems = items; $0.replacementItems = replacement
        $0.returnShippingPayer = .shopper; $0.returnMethod = .label; $0.shopperID = shopper
      }))
      let issued = try #require(try await Self.returnAuthorizations(ticket: ticket).first)
      #expect(issued.method == .label && issued.origin == home && issued.shippingPayer == .shopper && issued.requestedMethod == .unspecified)
      #expect(issued.shipmentKind == .return && !issued.shipmentID.isEmpty)
      // The case's shopper follows the return parcel and, later, the replacement.
      let returnParcel = try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).getShipment(.with { $0.shipmentID = issued.shipmentID })
      }
      #expect(returnParcel.shopperID == shopper)

      try await TicketsLog.publish(subject: ticket, .ticketInspected(.with {
        $0.eventID = UUID().uuidString.lowercased(); $0.ticketID = ticket; $0.orderID = order; $0.type = .exchange
        $0.result = .pass; $0.solutionKind = .exchange; $0.items = items; $0.replacementItems = replacement
        $0.returnShipmentID = issued.shipmentID; $0.shopperID = shopper
      }))
      var legs: [Shipment] = []
      try await waitFor(seconds: 30) {
        legs = try await mesh.withGateway { grpc in
          try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).listShipments(.with {
            $0.ticketID = ticket; $0.kinds = [.exchangeReplacement]
          }).shipments
        }
        return !legs.isEmpty
      }
      #expect(legs.count == 1)
      let leg = try #require(legs.first)
      #expect(leg.destination == home && leg.origin.street == ReturnDefaults.warehouseStreet && leg.items.map(\.sku) == ["SKU-BLUE"])
      #expect(leg.carrierCode == "sf" && leg.trackingNumber.hasPrefix("SFR") && leg.status == .labelCreated && leg.orderID == order)
      #expect(leg.shopperID == shopper)
      let created = try await LogisticsEventLog.first(Support_Logistics_V1_ShipmentCreatedEvent.self, subject: leg.shipmentID)
      if case .shipmentCreated(let payload) = created.payload {
        #expect(payload.kind == .exchangeReplacement && payload.ticketID == ticket && payload.trackingNumber == leg.trackingNumber)
      } else {
        Issue.record("not a ShipmentCreatedEvent: \(created)")
      }
    }

    @Test("repair: the repaired item goes back from the repair centre after a passed inspection, nothing after a failed one")
    func repairLegs() async throws {
      let order = uniqueID("order")
      let ticket = uniqueID("ticket")
      var home = LogisticsReturns.shopperAddress
      home.street = "\(uniqueID("street")) 9 号"
      try await mesh.withGateway { grpc in
        _ = try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).createShipment(.with {
          $0.requestID = uniqueID("req"); $0.kind = .outbound; $0.orderID = order; $0.carrierCode = "sf"
          $0.trackingNumber = uniqueID("SF"); $0.items = [.with { $0.orderItemID = "line-1"; $0.quantity = 1 }]; $0.destination = home
        })
      }
      let items: [Support_Common_V1_OrderItemRef] = [.with { $0.orderID = order; $0.orderItemID = "line-1"; $0.quantity = 1 }]
      try await TicketsLog.publish(subject: ticket, .ticketApproved(.with {
        $0.eventID = UUID().uuidString.lowercased(); $0.ticketID = ticket; $0.orderID = order; $0.type = .repair
        $0.solutionKind = .repair; $0.goodsReturnRequired = true; $0.returnItems = items; $0.returnShippingPayer = .seller
        $0.returnMethod = .pickup; $0.pickupWindow = .with { $0.startTime = daysAgo(2); $0.endTime = daysAgo(1) }
      }))
      let issued = try #require(try await Self.returnAuthorizations(ticket: ticket).first)
      // The window was over: a prepaid label instead, said so.
      #expect(issued.shipmentKind == .repairInbound && issued.method == .label && issued.requestedMethod == .pickup && !issued.methodNote.isEmpty)
      #expect(issued.origin == home)

      // A failed inspection ships nothing back; a passed one ships the repaired item.
      try await TicketsLog.publish(subject: ticket, .ticketInspected(.with {
        $0.eventID = UUID().uuidString.lowercased(); $0.ticketID = ticket; $0.orderID = order; $0.type = .repair
        $0.result = .fail; $0.solutionKind = .repair; $0.items = items; $0.returnShipmentID = issued.shipmentID
      }))
      try await TicketsLog.publish(subject: ticket, .ticketInspected(.with {
        $0.eventID = UUID().uuidString.lowercased(); $0.ticketID = ticket; $0.orderID = order; $0.type = .repair
        $0.result = .pass; $0.solutionKind = .repair; $0.items = items
      }))
      var legs: [Shipment] = []
      try await waitFor(seconds: 30) {
        legs = try await mesh.withGateway { grpc in
          try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).listShipments(.with {
            $0.ticketID = ticket; $0.kinds = [.repairOutbound, .exchangeReplacement]
          }).shipments
        }
        return !legs.isEmpty
      }
      #expect(legs.count == 1)
      let leg = try #require(legs.first)
      #expect(leg.kind == .repairOutbound && leg.destination == home && leg.origin.street == ReturnDefaults.warehouseStreet)
      #expect(leg.items == items && leg.createdBy.kind == .system)
    }

    @Test("repair: a PICKUP without a known delivery address is issued as SELF_SHIP; a changed solution or a cancelled case cancels it")
    func repairFallbackAndCancellations() async throws {
      let order = uniqueID("order")
      let ticket = uniqueID("ticket")
      let items: [Support_Common_V1_OrderItemRef] = [.with { $0.orderID = order; $0.orderItemID = "line-1"; $0.quantity = 1 }]
      try await TicketsLog.publish(subject: ticket, .ticketApproved(.with {
        $0.eventID = UUID().uuidString.lowercased(); $0.ticketID = ticket; $0.orderID = order; $0.type = .repair
        $0.solutionKind = .repair; $0.goodsReturnRequired = true; $0.returnItems = items; $0.returnShippingPayer = .seller
        $0.returnMethod = .pickup; $0.pickupWindow = .with { $0.startTime = daysAgo(-1); $0.endTime = daysAgo(-1.2) }
      }))
      let issued = try #require(try await Self.returnAuthorizations(ticket: ticket).first)
      #expect(issued.shipmentKind == .repairInbound && issued.method == .selfShip && issued.requestedMethod == .pickup)
      #expect(issued.methodNote.contains(order) && issued.shipmentID.isEmpty && issued.destination.street == ReturnDefaults.warehouseStreet)

      // The repair becomes a refund without a return: the authorisation is no longer needed.
      try await TicketsLog.publish(subject: ticket, .ticketSolutionChanged(.with {
        $0.eventID = UUID().uuidString.lowercased(); $0.ticketID = ticket; $0.orderID = order; $0.type = .repair
        $0.status = .solutionAgreed; $0.previousSolutionKind = .repair; $0.solutionKind = .refund; $0.goodsReturnRequired = false
      }))
      try await waitFor(seconds: 30) { try await Self.returnAuthorizations(ticket: ticket).first?.status == .cancelled }

      // A refund that needs the goods back after all: a new authorisation; the case is then
      // cancelled, and so is the authorisation.
      try await TicketsLog.publish(subject: ticket, .ticketSolutionChanged(.with {
        $0.eventID = UUID().uuidString.lowercased(); $0.ticketID = ticket; $0.orderID = order; $0.type = .repair
        $0.status = .solutionAgreed; $0.previousSolutionKind = .refund; $0.solutionKind = .refund; $0.goodsReturnRequired = true
        $0.returnItems = items; $0.returnShippingPayer = .seller
      }))
      let both = try await Self.returnAuthorizations(ticket: ticket, atLeast: 2)
      #expect(both.map(\.status) == [.issued, .cancelled] && both[0].shipmentKind == .return && both[0].method == .selfShip)
      try await TicketsLog.publish(subject: ticket, .ticketCancelled(.with {
        $0.eventID = UUID().uuidString.lowercased(); $0.ticketID = ticket; $0.orderID = order; $0.previousStatus = .solutionAgreed
      }))
      try await waitFor(seconds: 30) { try await Self.returnAuthorizations(ticket: ticket).first?.status == .cancelled }
      let rows = "SELECT status FROM logistics.return_authorizations WHERE ticket_id = '\(ticket)' ORDER BY created_at"
      #expect(try mesh.query(rows) == "5\n5", "both cancelled, nothing else issued")
    }
  }

  @Suite("Logistics lists and watches shipments")
  struct LogisticsListAndWatch {
    static func outbound(order: String, carrier: String = "sf") -> Support_Logistics_V1_CreateShipmentRequest {
      .with {
        $0.requestID = uniqueID("req"); $0.kind = .outbound; $0.orderID = order; $0.carrierCode = carrier
        $0.trackingNumber = uniqueID(carrier.uppercased()); $0.items = [.with { $0.orderItemID = "line-1"; $0.quantity = 1 }]
        $0.destination = Logistics.address
      }
    }

    @Test("filters by order, ticket, status, kind and waybill; pages newest first; tokens are bound to their filters")
    func listFiltersAndPaging() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let order = uniqueID("order")
        let first = try await shipments.createShipment(Self.outbound(order: order))
        let second = try await shipments.createShipment(Self.outbound(order: order, carrier: "zto"))
        var returnLeg = Self.outbound(order: order)
        returnLeg.kind = .return
        returnLeg.ticketID = uniqueID("ticket")
        let third = try await shipments.createShipment(returnLeg)
        _ = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "sf"; $0.trackingNumber = first.trackingNumber
          $0.events = [.with { $0.carrierEventID = "\(first.trackingNumber)-l1"; $0.status = .lost; $0.eventTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(-60)) }]
        })

        let all = try await shipments.listShipments(.with { $0.orderID = order })
        #expect(all.shipments.map(\.shipmentID) == [third.shipmentID, second.shipmentID, first.shipmentID] && all.nextPageToken.isEmpty)
        #expect(all.shipments.allSatisfy { $0.timeline.isEmpty })
        let page1 = try await shipments.listShipments(.with { $0.orderID = order; $0.pageSize = 2 })
        #expect(page1.shipments.map(\.shipmentID) == [third.shipmentID, second.shipmentID] && !page1.nextPageToken.isEmpty)
        let page2 = try await shipments.listShipments(.with { $0.orderID = order; $0.pageSize = 2; $0.pageToken = page1.nextPageToken })
        #expect(page2.shipments.map(\.shipmentID) == [first.shipmentID] && page2.nextPageToken.isEmpty)

        #expect(try await shipments.listShipments(.with { $0.ticketID = returnLeg.ticketID }).shipments.map(\.shipmentID) == [third.shipmentID])
        let lost = try await shipments.listShipments(.with { $0.orderID = order; $0.statuses = [.lost] })
        #expect(lost.shipments.map(\.shipmentID) == [first.shipmentID] && lost.shipments[0].openExceptions.map(\.kind) == [.lost])
        #expect(try await shipments.listShipments(.with { $0.orderID = order; $0.withOpenExceptionsOnly = true }).shipments.map(\.shipmentID) == [first.shipmentID])
        #expect(try await shipments.listShipments(.with { $0.orderID = order; $0.kinds = [.return] }).shipments.map(\.shipmentID) == [third.shipmentID])
        let waybill = try await shipments.listShipments(.with { $0.carrierCode = "ZTO"; $0.trackingNumber = second.trackingNumber })
        #expect(waybill.shipments.map(\.shipmentID) == [second.shipmentID])
        let byStatus = try await shipments.listShipments(.with { $0.statuses = [.lost]; $0.pageSize = 500 })
        #expect(byStatus.shipments.contains { $0.shipmentID == first.shipmentID } && byStatus.shipments.allSatisfy { $0.status == .lost })

        await expectCode(.invalidArgument, containing: "tracking_number") {
          try await shipments.listShipments(.with { $0.trackingNumber = second.trackingNumber })
        }
        await expectCode(.invalidArgument, containing: "page_token") {
          try await shipments.listShipments(.with { $0.orderID = uniqueID("order"); $0.pageToken = page1.nextPageToken })
        }
        await expectCode(.invalidArgument, containing: "page_token") { try await shipments.listShipments(.with { $0.pageToken = "garbage!" }) }
        await expectCode(.invalidArgument, containing: "page_size") { try await shipments.listShipments(.with { $0.pageSize = 501 }) }
        await expectCode(.invalidArgument, containing: "statuses[0]") { try await shipments.listShipments(.with { $0.statuses = [.unspecified] }) }
      }
    }

    @Test("watch replays from any sequence, then follows live changes; a reconnect resumes without gap or repeat")
    func watchResumes() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let shipment = try await shipments.createShipment(Self.outbound(order: uniqueID("order")))
        let t0 = Date().addingTimeInterval(-3600)
        let record: @Sendable (String, Support_Logistics_V1_ShipmentStatus, Double) async throws -> Void = { id, status, minutes in
          _ = try await shipments.recordTrackingEvents(.with {
            $0.carrierCode = "sf"; $0.trackingNumber = shipment.trackingNumber
            $0.events = [.with { $0.carrierEventID = "\(shipment.trackingNumber)-\(id)"; $0.status = status; $0.eventTime = Google_Protobuf_Timestamp(date: t0.addingTimeInterval(minutes * 60)) }]
          })
        }
        try await record("w1", .pickedUp, 0)
        try await record("w2", .deliveryFailed, 10)  // a tracking change, then an exception opened
        var callOptions = CallOptions.defaults
        callOptions.timeout = .seconds(30)
        let options = callOptions
        let watch: @Sendable (Int64, Int) async throws -> [ShipmentWatchEvent] = { after, count in
          try await shipments.watchShipment(.with { $0.shipmentID = shipment.shipmentID; $0.afterSequence = after }, options: options) { response in
            var seen: [ShipmentWatchEvent] = []
            for try await change in response.messages {
              seen.append(change)
              if seen.count == count { break }
            }
            return seen
          }
        }
        let replay = try await watch(0, 4)
        #expect(replay.map(\.sequence) == [1, 2, 3, 4])
        #expect(replay.map(\.kind) == [.created, .trackingEventRecorded, .trackingEventRecorded, .exceptionOpened])
        #expect(replay[1].trackingEvent.carrierEventID == "\(shipment.trackingNumber)-w1" && replay[3].exception.kind == .deliveryFailed)
        #expect(replay.allSatisfy { $0.shipment.shipmentID == shipment.shipmentID && $0.shipment.timeline.isEmpty })

        // Resume after 2, and receive a change made while watching.
        let live = try await withThrowingTaskGroup(of: [ShipmentWatchEvent]?.self) { group in
          group.addTask { try await watch(2, 4) }
          group.addTask {
            try await Task.sleep(for: .milliseconds(500))
            try await record("w3", .delivered, 20)  // tracking change 5, the failed attempt resolved 6
            return nil
          }
          var live: [ShipmentWatchEvent] = []
          for try await result in group { if let result { live = result } }
          return live
        }
        #expect(live.map(\.sequence) == [3, 4, 5, 6])
        #expect(live[2].trackingEvent.carrierEventID == "\(shipment.trackingNumber)-w3" && live[3].kind == .exceptionResolved && live[2].shipment.status == .delivered)

        await expectCode(.outOfRange) { try await watch(99, 1) }
        await expectCode(.invalidArgument, containing: "after_sequence") { try await watch(-1, 1) }
        await expectCode(.notFound) {
          try await shipments.watchShipment(.with { $0.shipmentID = UUID().uuidString }) { response in
            for try await _ in response.messages {}
          }
        }
      }
    }

    @Test("exceptions: announced when opened, read, listed as a queue, resolved once by an agent")
    func exceptions() async throws {
      let order = uniqueID("order")
      let (shipment, exception) = try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let shipment = try await shipments.createShipment(Self.outbound(order: order))
        let recorded = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "sf"; $0.trackingNumber = shipment.trackingNumber
          $0.events = [.with { $0.carrierEventID = "\(shipment.trackingNumber)-dm1"; $0.status = .damaged; $0.eventTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(-60)) }]
        })
        let exception = try #require(recorded.shipment.openExceptions.first)
        #expect(try await shipments.getException(.with { $0.exceptionID = exception.exceptionID }) == exception)
        await expectCode(.notFound) { try await shipments.getException(.with { $0.exceptionID = UUID().uuidString }) }
        let queue = try await shipments.listOpenExceptions(.with { $0.orderID = order })
        #expect(queue.exceptions.map(\.exceptionID) == [exception.exceptionID])
        #expect(try await shipments.listOpenExceptions(.with { $0.orderID = order; $0.kinds = [.lost] }).exceptions.isEmpty)
        await expectCode(.invalidArgument, containing: "detected_time_range") {
          try await shipments.listOpenExceptions(.with { $0.detectedTimeRange = .with { $0.startTime = daysAgo(1); $0.endTime = daysAgo(2) } })
        }
        await expectCode(.invalidArgument, containing: "resolution") {
          try await shipments.resolveException(.with { $0.exceptionID = exception.exceptionID })
        }
        await expectCode(.aborted) {
          try await shipments.resolveException(.with { $0.exceptionID = exception.exceptionID; $0.resolution = .carrierClaimSettled; $0.expectedVersion = 5 })
        }
        let resolved = try await shipments.resolveException(.with {
          $0.exceptionID = exception.exceptionID; $0.resolution = .carrierClaimSettled; $0.note = "carrier paid"; $0.expectedVersion = 1
        })
        #expect(resolved.state == .resolved && resolved.version == 2 && resolved.resolvedBy.kind == .service && resolved.resolutionNote == "carrier paid")
        #expect(try await shipments.resolveException(.with {
          $0.exceptionID = exception.exceptionID; $0.resolution = .carrierClaimSettled; $0.expectedVersion = 1
        }) == resolved, "the same resolution again is a safe retry")
        let other = try #require(await richError(.failedPrecondition) {
          try await shipments.resolveException(.with { $0.exceptionID = exception.exceptionID; $0.resolution = .refunded })
        })
        #expect(other.details.compactMap(\.errorInfo).first?.reason == "EXCEPTION_ALREADY_RESOLVED")
        #expect(other.details.compactMap(\.errorInfo).first?.metadata["resolution"] == "CARRIER_CLAIM_SETTLED")
        #expect(other.details.compactMap(\.preconditionFailure).first?.violations.first?.subject == "exception_id=\(exception.exceptionID)")
        #expect(try await shipments.listOpenExceptions(.with { $0.orderID = order }).exceptions.isEmpty)
        let after = try await shipments.getShipment(.with { $0.shipmentID = shipment.shipmentID })
        #expect(after.openExceptions.isEmpty && after.lastSequence == 4, "created, the scan, opened, resolved")
        return (shipment, exception)
      }
      let opened = try await LogisticsEventLog.first(Support_Logistics_V1_ShipmentExceptionEvent.self, subject: shipment.shipmentID)
      if case .shipmentException(let payload) = opened.payload {
        #expect(payload.exceptionID == exception.exceptionID && payload.change == .opened && payload.kind == .damaged && payload.orderID == order)
      } else {
        Issue.record("not a ShipmentExceptionEvent: \(opened)")
      }
      let resolved = try await LogisticsEventLog.first(Support_Logistics_V1_ShipmentExceptionResolvedEvent.self, subject: shipment.shipmentID)
      if case .shipmentExceptionResolved(let payload) = resolved.payload {
        #expect(payload.exceptionID == exception.exceptionID && payload.resolution == .carrierClaimSettled && payload.exceptionVersion == 2)
      } else {
        Issue.record("not a ShipmentExceptionResolvedEvent: \(resolved)")
      }
    }

    @Test("update links a ticket once, corrects a waybill before any scan, redirects only an unfinished parcel")
    func update() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let shipment = try await shipments.createShipment(Self.outbound(order: uniqueID("order")))
        func update(_ paths: [String], expected: Int64 = 0, _ change: (inout Shipment) -> Void) async throws -> Shipment {
          var wanted = Shipment.with { $0.shipmentID = shipment.shipmentID }
          change(&wanted)
          return try await shipments.updateShipment(.with {
            $0.shipment = wanted; $0.updateMask = .with { $0.paths = paths }; $0.expectedVersion = expected
          })
        }
        let ticket = uniqueID("ticket")
        var updated = try await update(["ticket_id"], expected: 1) { $0.ticketID = ticket }
        #expect(updated.ticketID == ticket && updated.version == 2 && updated.lastSequence == 2)
        let linked = try #require(await richError(.failedPrecondition) { try await update(["ticket_id"]) { $0.ticketID = "another" } })
        #expect(linked.details.compactMap(\.errorInfo).first?.reason == "TICKET_ALREADY_LINKED")
        await expectCode(.aborted) { try await update(["ticket_id"], expected: 1) { $0.ticketID = ticket } }
        await expectCode(.invalidArgument, containing: "update_mask") { try await update(["status"]) { $0.status = .delivered } }
        await expectCode(.invalidArgument, containing: "update_mask") { try await update(["carrier_code"]) { $0.carrierCode = "zto" } }
        await expectCode(.invalidArgument, containing: "update_mask") { try await update([]) { _ in } }
        let waybill = uniqueID("ZTO")
        updated = try await update(["carrier_code", "tracking_number"]) { $0.carrierCode = "ZTO"; $0.trackingNumber = waybill }
        #expect(updated.carrierCode == "zto" && updated.trackingNumber == waybill && updated.version == 3)
        #expect(try await shipments.listShipments(.with { $0.ticketID = ticket }).shipments.map(\.trackingNumber) == [waybill])
        // A promise becomes the estimate; taking it back falls back to the route or the default.
        let promise = Google_Protobuf_Timestamp(seconds: Int64(Date().timeIntervalSince1970) + 2 * 86_400)
        updated = try await update(["promised_delivery_time"]) { $0.promisedDeliveryTime = promise }
        #expect(updated.expectedDeliveryTime == promise && updated.expectedDeliverySource == .promise)
        updated = try await update(["promised_delivery_time"]) { _ in }
        #expect(!updated.hasPromisedDeliveryTime && updated.hasExpectedDeliveryTime && updated.expectedDeliverySource != .promise)

        _ = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "zto"; $0.trackingNumber = waybill
          $0.events = [.with { $0.carrierEventID = "\(waybill)-d"; $0.status = .delivered; $0.eventTime = Google_Protobuf_Timestamp(date: Date()) }]
        })
        var elsewhere = Logistics.address
        elsewhere.street = "another street 2"
        let finished = try #require(await richError(.failedPrecondition) { try await update(["destination"]) { $0.destination = elsewhere } })
        #expect(finished.details.compactMap(\.errorInfo).first?.reason == "SHIPMENT_FINISHED")
        let scanned = try #require(await richError(.failedPrecondition) {
          try await update(["carrier_code", "tracking_number"]) { $0.carrierCode = "sf"; $0.trackingNumber = uniqueID("SF") }
        })
        #expect(scanned.details.compactMap(\.errorInfo).first?.reason == "TIMELINE_NOT_EMPTY")
        let after = try await shipments.getShipment(.with { $0.shipmentID = shipment.shipmentID })
        #expect(after.version == 6 && after.destination == Logistics.address, "the refused updates changed nothing")
      }
    }

    @Test("cancel voids a label not yet handed over, and refuses one the carrier has")
    func cancel() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let shipment = try await shipments.createShipment(Self.outbound(order: uniqueID("order")))
        #expect(shipment.hasOrigin && !shipment.origin.city.isEmpty, "an OUTBOUND parcel leaves from the configured warehouse")
        await expectCode(.aborted) { try await shipments.cancelShipment(.with { $0.shipmentID = shipment.shipmentID; $0.expectedVersion = 9 }) }
        let cancelled = try await shipments.cancelShipment(.with { $0.shipmentID = shipment.shipmentID; $0.reason = "order cancelled" })
        #expect(cancelled.status == .cancelled && cancelled.cancelReason == "order cancelled" && cancelled.version == 2 && cancelled.lastSequence == 2)
        #expect(!cancelled.hasExpectedDeliveryTime && cancelled.expectedDeliverySource == .unspecified)
        // A carrier code nobody mapped does not move a cancelled shipment.
        let unmapped = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "sf"; $0.trackingNumber = shipment.trackingNumber
          $0.events = [.with {
            $0.carrierEventID = "\(shipment.trackingNumber)-odd"; $0.carrierStatusCode = "ZZ-UNKNOWN"
            $0.eventTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(-1))
          }]
        })
        #expect(unmapped.shipment.status == .cancelled && !unmapped.shipment.hasExpectedDeliveryTime)
        let again = try #require(await richError(.failedPrecondition) { try await shipments.cancelShipment(.with { $0.shipmentID = shipment.shipmentID }) })
        #expect(again.details.compactMap(\.errorInfo).first?.reason == "SHIPMENT_NOT_CANCELLABLE")
        // A scan that still arrives is recorded on the cancelled shipment and moves it.
        let late = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "sf"; $0.trackingNumber = shipment.trackingNumber
          $0.events = [.with { $0.carrierEventID = "\(shipment.trackingNumber)-late"; $0.status = .pickedUp; $0.eventTime = Google_Protobuf_Timestamp(date: Date()) }]
        })
        #expect(late.shipment.shipmentID == shipment.shipmentID && late.shipment.status == .pickedUp)
        let handedOver = try #require(await richError(.failedPrecondition) { try await shipments.cancelShipment(.with { $0.shipmentID = shipment.shipmentID }) })
        #expect(handedOver.details.compactMap(\.errorInfo).first?.metadata["status"] == "PICKED_UP")
        // A cancelled label's waybill is free for another shipment.
        let other = try await shipments.createShipment(Self.outbound(order: shipment.orderID))
        _ = try await shipments.cancelShipment(.with { $0.shipmentID = other.shipmentID })
        var reuse = Self.outbound(order: shipment.orderID)
        reuse.trackingNumber = other.trackingNumber
        #expect(try await shipments.createShipment(reuse).shipmentID != other.shipmentID)
      }
    }
  }
}

/// Writes an event into the tickets process's event log exactly as the tickets producer does
/// (ServiceKit's EventOutbox, as the tickets role, in one transaction). The tickets side of this
/// branch does not yet announce TicketInspected, TicketSolutionChanged or TicketCancelled, nor
/// the return method on TicketApproved; logistics' reaction to them is what is tested.
enum TicketsLog {
  static func publish(subject: String, _ payload: EventEnvelope.OneOf_Payload) async throws {
    let logger = Logger(label: "tickets-log")
    var config = PostgresClient.Configuration(
      host: "127.0.0.1", port: try mesh.pgPort, username: "tickets", password: try mesh.databasePassword("tickets"),
      database: "supportmesh", tls: .disable)
    config.options.maximumConnections = 1
    let client = PostgresClient(configuration: config, backgroundLogger: logger)
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask { await client.run() }
      try await client.withConnection { connection in
        try await connection.query("BEGIN", logger: logger)
        try await EventOutbox(producer: "tickets", schema: "tickets").append(payload, subject: subject, on: connection, logger: logger)
        try await connection.query("COMMIT", logger: logger)
      }
      group.cancelAll()
    }
  }
}
