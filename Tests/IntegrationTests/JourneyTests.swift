import Foundation
import GRPCCore
import GRPCProtobuf
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

/// One after-sales case driven through the gateway the way the desk's callers drive it: the
/// shopper files, an agent decides, the carrier integration reports scans, an agent records the
/// follow-up visit. Everything between the services happens on the event logs (docs/journeys.md).
struct Journey {
  typealias Ticket = Support_Tickets_V1_Ticket
  typealias Action = Support_Tickets_V1_TicketAction

  let mesh: Mesh
  let shopper = uniqueID("shopper")
  let agent = uniqueID("agent")
  let order = uniqueID("order")

  /// A request of `type` for one line of this journey's order, delivered two days ago.
  func request(_ type: Support_Tickets_V1_TicketType) -> Support_Tickets_V1_CreateTicketRequest {
    var request = MeshTests.Tickets.returnRequest(shopper: shopper, order: order)
    request.type = type
    if type != .returnAndRefund { request.clearRequestedRefund() }
    return request
  }

  /// The order system registers the order's delivery (logistics takes a LABEL or PICKUP
  /// return's origin from it).
  func registerOutbound() async throws {
    try await mesh.withGateway { grpc in
      _ = try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).createShipment(
        MeshTests.LogisticsListAndWatch.outbound(order: order))
    }
  }

  func file(_ type: Support_Tickets_V1_TicketType) async throws -> Ticket {
    try await mesh.withGateway(as: .shopper(shopper)) { grpc in
      try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).createTicket(request(type))
    }
  }

  /// An agent's action on the case as it is now.
  @discardableResult
  func act(_ ticketID: String, _ action: Action) async throws -> Ticket {
    try await mesh.withGateway(as: .agent(agent)) { grpc in
      let tickets = Support_Tickets_V1_TicketService.Client(wrapping: grpc)
      let current = try await tickets.getTicket(.with { $0.ticketID = ticketID })
      return try await tickets.transitionTicket(MeshTests.TicketWorkflow.transition(current, action))
    }
  }

  func ticket(_ ticketID: String) async throws -> Ticket {
    try await mesh.withGateway { grpc in
      try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).getTicket(.with { $0.ticketID = ticketID })
    }
  }

  /// Waits until the case reaches `status` on its own (an event moved it).
  @discardableResult
  func await(_ ticketID: String, _ status: Support_Tickets_V1_TicketStatus, seconds: Int = 40) async throws -> Ticket {
    var last = Ticket()
    do {
      try await waitFor(seconds: seconds) {
        last = try await ticket(ticketID)
        return last.status == status
      }
    } catch {
      Issue.record("case \(ticketID) stayed \(last.status), expected \(status)")
      throw error
    }
    return last
  }

  /// The carrier integration reports the parcel picked up, then signed for.
  func deliver(_ shipmentID: String) async throws {
    try await mesh.withGateway { grpc in
      let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
      let shipment = try await shipments.getShipment(.with { $0.shipmentID = shipmentID })
      let start = Date().addingTimeInterval(-600)
      _ = try await shipments.recordTrackingEvents(.with {
        $0.carrierCode = shipment.carrierCode
        $0.trackingNumber = shipment.trackingNumber
        $0.events = [
          .with { $0.carrierEventID = "\(shipment.trackingNumber)-1"; $0.status = .pickedUp; $0.eventTime = Google_Protobuf_Timestamp(date: start) },
          .with { $0.carrierEventID = "\(shipment.trackingNumber)-2"; $0.status = .delivered; $0.eventTime = Google_Protobuf_Timestamp(date: start.addingTimeInterval(300)) },
        ]
      })
    }
  }

  func returnAuthorizations(_ ticketID: String) async throws -> [Support_Logistics_V1_ReturnAuthorization] {
    try await mesh.withGateway { grpc in
      try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).listReturnAuthorizations(.with { $0.ticketID = ticketID }).returnAuthorizations
    }
  }

  func followUps(_ ticketID: String) async throws -> [Support_Feedback_V1_FollowUp] {
    try await mesh.withGateway { grpc in
      try await Support_Feedback_V1_FollowUpService.Client(wrapping: grpc).listFollowUps(.with { $0.ticketID = ticketID }).followUps
    }
  }

  /// Waits for the case's PENDING follow-up visit other than `except`.
  func pendingFollowUp(_ ticketID: String, except: Set<String> = []) async throws -> Support_Feedback_V1_FollowUp {
    var found: Support_Feedback_V1_FollowUp?
    try await waitFor(seconds: 40) {
      found = try await followUps(ticketID).first { $0.status == .pending && !except.contains($0.followUpID) }
      return found != nil
    }
    return try #require(found)
  }

  /// An agent records the follow-up visit: the shopper was reached and is (not) satisfied.
  func recordVisit(_ followUp: Support_Feedback_V1_FollowUp, satisfied: Bool, reason: String = "") async throws {
    try await mesh.withGateway(as: .agent(agent)) { grpc in
      _ = try await Support_Feedback_V1_FollowUpService.Client(wrapping: grpc).recordFollowUpOutcome(.with {
        $0.followUpID = followUp.followUpID
        $0.requestID = uniqueID("req")
        $0.reached = true
        $0.satisfaction = satisfied ? .satisfied : .dissatisfied
        $0.reason = reason
        $0.notes = satisfied ? "happy with the refund" : "unhappy"
      })
    }
  }

  func surveyCount(_ ticketID: String) throws -> String {
    try mesh.query("SELECT count(*) FROM feedback.surveys WHERE subject_kind = 2 AND subject_id = '\(ticketID)'")
  }

  static let refundWithReturn: Action = .with {
    $0.agreeSolution = .with {
      $0.refund = .with { $0.amount = .with { $0.amountMinor = 9_900; $0.currencyCode = "CNY" } }
      $0.returnMethod = .selfShip
    }
  }

  /// Return and refund, the whole loop: self-shipped return tracked to DELIVERED, inspection,
  /// refund, survey and follow-up, dissatisfied → reopened → resolved → satisfied → closed.
  /// `midway` runs after the case was approved (the kill test stops a consumer there).
  func returnAndRefund(midway: () async throws -> Void = {}) async throws -> Ticket {
    let filed = try await file(.returnAndRefund)
    let id = filed.ticketID
    // The agent takes the case: the follow-up visit goes to whoever it is assigned to.
    try await mesh.withGateway(as: .agent(agent)) { grpc in
      _ = try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).assignTicket(.with { $0.ticketID = id; $0.agentID = agent })
    }
    try await act(id, .with { $0.startReview = .init() })
    try await act(id, .with { $0.approve = .init() })
    try await act(id, Self.refundWithReturn)
    try await midway()
    // Logistics authorises the return; tickets waits for the goods with the clock paused.
    let waiting = try await self.await(id, .awaitingReturn)
    #expect(waiting.sla.paused)
    let authorizations = try await returnAuthorizations(id)
    let authorization = try #require(authorizations.first)
    #expect(authorizations.count == 1 && authorization.method == .selfShip && authorization.status == .issued)
    // The shopper ships it and reports the waybill; the carrier delivers it to the warehouse.
    let parcel = try await mesh.withGateway { grpc in
      try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).createShipment(.with {
        $0.requestID = uniqueID("req"); $0.kind = .return; $0.orderID = order; $0.ticketID = id
        $0.carrierCode = "sf"; $0.trackingNumber = uniqueID("SF"); $0.items = filed.items.map { item in .with { $0.orderItemID = item.orderItemID; $0.quantity = item.quantity } }
        $0.destination = authorization.destination; $0.returnAuthorizationID = authorization.returnAuthorizationID
      })
    }
    try await deliver(parcel.shipmentID)
    let received = try await self.await(id, .goodsReceived)
    #expect(!received.sla.paused && received.returnShipmentID == parcel.shipmentID)
    try await act(id, .with { $0.inspect = .with { $0.result = .pass } })
    try await act(id, .with {
      $0.resolve = .with { $0.outcome = .refunded; $0.refundedAmount = .with { $0.amountMinor = 9_900; $0.currencyCode = "CNY" }; $0.refundID = "rf-\(id.prefix(8))" }
    })
    // Feedback: a survey and a follow-up visit; the shopper is not happy.
    let first = try await pendingFollowUp(id)
    #expect(first.agentID == agent)
    try await recordVisit(first, satisfied: false, reason: "the refund is short of the shipping I paid")
    let reopened = try await self.await(id, .reopened)
    #expect(reopened.reopenCount == 1 && reopened.statusReason == "the refund is short of the shipping I paid")
    try await act(id, .with { $0.resolve = .with { $0.outcome = .answered; $0.summary = "shipping refunded separately" } })
    let second = try await pendingFollowUp(id, except: [first.followUpID])
    try await recordVisit(second, satisfied: true)
    return try await self.await(id, .closed)
  }
}

extension MeshTests {
  @Suite("After-sales journeys across the mesh")
  struct Journeys {
    @Test("return and refund: RMA, return parcel tracked to DELIVERED, goods received, inspected, refunded, survey and follow-up, reopened when dissatisfied, closed when satisfied")
    func returnAndRefund() async throws {
      let journey = Journey(mesh: try mesh)
      let closed = try await journey.returnAndRefund()
      let id = closed.ticketID
      #expect(try journey.surveyCount(id) == "1", "one survey: the second resolution found the first still pending")
      let visits = try await journey.followUps(id)
      #expect(visits.count == 2 && visits.allSatisfy { $0.status == .completed })
      // The history names the system for every step another service caused.
      let history = try await journey.mesh.withGateway { grpc in
        try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).listTicketHistory(.with { $0.ticketID = id; $0.pageSize = 100 })
      }
      let automatic = history.entries.filter { $0.kind == .transitioned && $0.actor.kind == .system }
      #expect(automatic.map(\.toStatus) == [.awaitingReturn, .goodsReceived, .reopened, .closed])
      #expect(automatic.map(\.actor.id) == ["tickets.logistics", "tickets.logistics", "tickets.feedback", "tickets.feedback"])
    }

    @Test("an event naming a case tickets does not have is skipped: the subscription goes on to the next case's events")
    func eventForUnknownCase() async throws {
      let journey = Journey(mesh: try mesh)
      // A return authorisation issued for a case id tickets never had (another desk's, a typo).
      let unknown = UUID().uuidString.lowercased()
      _ = try await journey.mesh.withGateway { grpc in
        try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).createReturnAuthorization(.with {
          $0.requestID = uniqueID("rma"); $0.ticketID = unknown; $0.orderID = journey.order
          $0.shipmentKind = .return; $0.method = .selfShip; $0.shippingPayer = .shopper
          $0.items = [.with { $0.orderID = journey.order; $0.orderItemID = "line-1"; $0.sku = "SKU-1"; $0.quantity = 1 }]
        })
      }
      // A real case's authorisation comes after it on the same subscription.
      let id = try await journey.file(.returnAndRefund).ticketID
      try await journey.act(id, .with { $0.startReview = .init() })
      try await journey.act(id, .with { $0.approve = .init() })
      try await journey.act(id, Journey.refundWithReturn)
      _ = try await journey.await(id, .awaitingReturn)
      // Skipped at once, not retried until parked as a failure.
      #expect(try journey.mesh.query("SELECT count(*) FROM tickets.event_parked WHERE position(convert_to('\(unknown)', 'UTF8') IN envelope) > 0") == "0")
    }

    @Test("a pickup logistics cannot book (no known origin) falls back to self-ship, and the case's return instructions say why")
    func pickupFallsBackToSelfShip() async throws {
      let journey = Journey(mesh: try mesh)
      // No outbound shipment registered for the order: logistics has no address to collect from.
      let id = try await journey.file(.exchange).ticketID
      try await journey.act(id, .with { $0.startReview = .init() })
      try await journey.act(id, .with { $0.approve = .init() })
      try await journey.act(id, .with {
        $0.agreeSolution = .with {
          $0.exchange = .with { $0.replacementItems = [.with { $0.sku = "SKU-9"; $0.quantity = 1 }] }
          $0.returnMethod = .pickup
          $0.pickupWindow = .with { $0.startTime = daysAgo(-1); $0.endTime = daysAgo(-1.2) }
        }
      })
      let waiting = try await journey.await(id, .awaitingReturn)
      let authorization = try #require(try await journey.returnAuthorizations(id).first)
      #expect(authorization.method == .selfShip && authorization.requestedMethod == .pickup && !authorization.methodNote.isEmpty)
      #expect(waiting.sla.paused)
      let history = try await journey.mesh.withGateway { grpc in
        try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).listTicketHistory(.with { $0.ticketID = id; $0.pageSize = 100 }).entries
      }
      let instructions = history.last { $0.toStatus == .awaitingReturn }?.reason ?? ""
      #expect(instructions.contains(authorization.rmaNumber) && instructions.contains(authorization.methodNote),
        "the shopper's instructions carry logistics' reason: \(instructions)")
    }

    @Test("exchange: a pickup return, inspection passed, the replacement shipped resolves the case; the replacement is tracked to the shopper")
    func exchange() async throws {
      let journey = Journey(mesh: try mesh)
      try await journey.registerOutbound()
      let id = try await journey.file(.exchange).ticketID
      try await journey.act(id, .with { $0.startReview = .init() })
      try await journey.act(id, .with { $0.approve = .init() })
      try await journey.act(id, .with {
        $0.agreeSolution = .with {
          $0.exchange = .with { $0.replacementItems = [.with { $0.sku = "SKU-9"; $0.quantity = 1 }] }
          $0.returnMethod = .pickup
          $0.pickupWindow = .with { $0.startTime = daysAgo(-1); $0.endTime = daysAgo(-1.2) }
        }
      })
      let waiting = try await journey.await(id, .awaitingReturn)
      let authorization = try #require(try await journey.returnAuthorizations(id).first)
      #expect(authorization.method == .pickup && authorization.shipmentID == waiting.returnShipmentID && !waiting.returnShipmentID.isEmpty)
      try await journey.deliver(waiting.returnShipmentID)
      try await journey.await(id, .goodsReceived)
      try await journey.act(id, .with { $0.inspect = .with { $0.result = .pass; $0.notes = "unused, complete" } })
      let resolved = try await journey.await(id, .resolved)
      #expect(resolved.resolution.outcome == .replacementShipped && !resolved.resolution.outboundShipmentID.isEmpty)
      let replacement = try await journey.mesh.withGateway { grpc in
        try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).getShipment(.with { $0.shipmentID = resolved.resolution.outboundShipmentID })
      }
      #expect(replacement.kind == .exchangeReplacement && replacement.ticketID == id && replacement.items.first?.sku == "SKU-9")
      try await journey.deliver(replacement.shipmentID)
      _ = try await journey.pendingFollowUp(id)
      #expect(try journey.surveyCount(id) == "1")
    }

    @Test("reship (补发): a lost parcel's refund-only case agreed as an exchange without a return ships the replacement at once and resolves")
    func reship() async throws {
      let journey = Journey(mesh: try mesh)
      try await journey.registerOutbound()
      var request = journey.request(.refundOnly)
      request.category = .logistics
      request.clearDeliveredTime()
      let id = try await journey.mesh.withGateway(as: .shopper(journey.shopper)) { grpc in
        try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).createTicket(request).ticketID
      }
      try await journey.act(id, .with { $0.startReview = .init() })
      try await journey.act(id, .with { $0.approve = .init() })
      try await journey.act(id, .with {
        $0.agreeSolution = .with { $0.exchange = .with { $0.replacementItems = [.with { $0.sku = "SKU-9"; $0.quantity = 1 }] } }
      })
      let resolved = try await journey.await(id, .resolved)
      #expect(resolved.resolution.outcome == .replacementShipped && !resolved.goodsReturnRequired)
      let replacement = try await journey.mesh.withGateway { grpc in
        try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).getShipment(.with { $0.shipmentID = resolved.resolution.outboundShipmentID })
      }
      #expect(replacement.kind == .exchangeReplacement && replacement.destination == Logistics.address && replacement.orderID == journey.order)
      #expect(try await journey.returnAuthorizations(id).isEmpty, "nothing comes back")
    }

    @Test("repair: a labelled inbound parcel to the repair centre, inspection passed, the repaired item's delivery back resolves the case")
    func repair() async throws {
      let journey = Journey(mesh: try mesh)
      try await journey.registerOutbound()
      let id = try await journey.file(.repair).ticketID
      try await journey.act(id, .with { $0.startReview = .init() })
      try await journey.act(id, .with { $0.approve = .init() })
      try await journey.act(id, .with { $0.agreeSolution = .with { $0.repair = .with { $0.notes = "replace the screen" }; $0.returnMethod = .label } })
      let waiting = try await journey.await(id, .awaitingReturn)
      let authorization = try #require(try await journey.returnAuthorizations(id).first)
      #expect(authorization.method == .label && authorization.shipmentKind == .repairInbound && !authorization.label.trackingNumber.isEmpty)
      try await journey.deliver(waiting.returnShipmentID)
      try await journey.await(id, .goodsReceived)
      try await journey.act(id, .with { $0.inspect = .with { $0.result = .pass; $0.notes = "screen replaced" } })
      // Logistics sends the repaired item back; the case stays INSPECTED until it arrives.
      var outbound: Support_Logistics_V1_Shipment?
      try await waitFor(seconds: 40) {
        outbound = try await journey.mesh.withGateway { grpc in
          try await Support_Logistics_V1_ShipmentService.Client(wrapping: grpc).listShipments(.with { $0.ticketID = id }).shipments
        }.first { $0.kind == .repairOutbound }
        return outbound != nil
      }
      let repaired = try #require(outbound)
      #expect(try await journey.ticket(id).status == .inspected)
      try await journey.deliver(repaired.shipmentID)
      let resolved = try await journey.await(id, .resolved)
      #expect(resolved.resolution.outcome == .repaired && resolved.resolution.outboundShipmentID == repaired.shipmentID)
      _ = try await journey.pendingFollowUp(id)
    }
  }
}
