import Foundation
import GRPCCore
import GRPCProtobuf
import SupportCodec
import TestSupport
import Testing

extension MeshTests {
  /// The case state machine, assignment, priority, comments and history, through the gateway
  /// with real callers (agents and shoppers with tokens, a service with the admin key).
  @Suite("Ticket workflow through the gateway")
  struct TicketWorkflow {
    typealias Client = Support_Tickets_V1_TicketService.Client
    typealias Action = Support_Tickets_V1_TicketAction

    static func transition(_ ticket: Support_Tickets_V1_Ticket, _ action: Action, requestID: String = "", expected: Int64? = nil) -> Support_Tickets_V1_TransitionTicketRequest {
      .with {
        $0.ticketID = ticket.ticketID
        $0.action = action
        $0.requestID = requestID
        $0.expectedVersion = expected ?? ticket.version
      }
    }

    static let refund: Action = .with {
      $0.agreeSolution = .with { $0.refund = .with { $0.amount = .with { $0.amountMinor = 9_900; $0.currencyCode = "CNY" } } }
    }

    @Test("a return and refund walks every step to CLOSED, is reopened by its shopper and resolved again; history records each step")
    func returnAndRefundJourney() async throws {
      let shopper = uniqueID("shopper")
      let agent = uniqueID("agent")
      let created = try await mesh.withGateway(as: .person(.shopper, shopper, scope: nil)) { grpc in
        try await Client(wrapping: grpc).createTicket(MeshTests.Tickets.returnRequest(shopper: shopper))
      }
      let resolved = try await mesh.withGateway(as: .person(.agent, agent, scope: nil)) { grpc in
        let tickets = Client(wrapping: grpc)
        var ticket = try await tickets.transitionTicket(Self.transition(created, .with { $0.startReview = .init() }))
        #expect(ticket.status == .underReview && ticket.version == 2 && ticket.sla.hasFirstResponseTime)
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.approve = .init() }))
        ticket = try await tickets.transitionTicket(Self.transition(ticket, Self.refund))
        #expect(ticket.status == .solutionAgreed && ticket.goodsReturnRequired && ticket.solution.returnShippingPayer == .seller)
        // Logistics issues the return authorisation; tickets then waits for the goods by itself.
        let id = ticket.ticketID
        try await waitFor(seconds: 30) {
          ticket = try await tickets.getTicket(.with { $0.ticketID = id })
          return ticket.status == .awaitingReturn
        }
        #expect(ticket.sla.paused, "waiting for the goods pauses the clock")
        // Resolving before the goods are inspected is not in the machine.
        let refused = await richError(.failedPrecondition) {
          try await tickets.transitionTicket(Self.transition(ticket, .with { $0.inspect = .with { $0.result = .pass } }))
        }
        #expect(refused?.details.compactMap(\.errorInfo).first?.reason == "TRANSITION_NOT_ALLOWED")
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.markGoodsReceived = .init() }))
        #expect(ticket.status == .goodsReceived && !ticket.sla.paused)
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.inspect = .with { $0.result = .pass } }))
        // More than was paid cannot be refunded.
        await expectCode(.invalidArgument, containing: "refunded_amount") {
          try await tickets.transitionTicket(Self.transition(ticket, .with {
            $0.resolve = .with { $0.outcome = .refunded; $0.refundedAmount = .with { $0.amountMinor = 99_000; $0.currencyCode = "CNY" } }
          }))
        }
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with {
          $0.resolve = .with { $0.outcome = .refunded; $0.refundedAmount = .with { $0.amountMinor = 9_900; $0.currencyCode = "CNY" }; $0.refundID = "rf-1" }
        }))
        #expect(ticket.status == .resolved && ticket.hasResolveTime && ticket.resolution.refundID == "rf-1")
        return try await tickets.transitionTicket(Self.transition(ticket, .with { $0.close = .init() }))
      }
      #expect(resolved.status == Support_Tickets_V1_TicketStatus.closed && resolved.version == 9)

      // The shopper is not satisfied: reopens; an agent resolves again.
      let reopened = try await mesh.withGateway(as: .person(.shopper, shopper, scope: nil)) { grpc in
        let tickets = Client(wrapping: grpc)
        await expectCode(.permissionDenied) {
          try await tickets.transitionTicket(Self.transition(resolved, .with { $0.close = .init() }))
        }
        return try await tickets.transitionTicket(Self.transition(resolved, .with { $0.reopen = .with { $0.reason = "still broken" } }))
      }
      // resolve_time and close_time say when it was last resolved and closed: a reopen keeps them.
      #expect(reopened.status == Support_Tickets_V1_TicketStatus.reopened && reopened.reopenCount == 1 && reopened.hasCloseTime && reopened.hasResolveTime)
      #expect(!reopened.sla.resolutionBreached)
      // Feedback follows the tickets event log: the resolved case got one satisfaction survey.
      let m = try mesh
      let surveys = "SELECT count(*) FROM feedback.surveys WHERE subject_kind = 2 AND subject_id = '\(created.ticketID)'"
      try await waitFor(seconds: 30) { try m.query(surveys) == "1" }
      #expect(try m.query("SELECT shopper_id FROM feedback.surveys WHERE subject_id = '\(created.ticketID)'") == shopper)
      try await mesh.withGateway(as: .person(.agent, agent, scope: nil)) { grpc in
        let tickets = Client(wrapping: grpc)
        let again = try await tickets.transitionTicket(Self.transition(reopened, .with {
          $0.resolve = .with { $0.outcome = .answered; $0.summary = "explained the warranty" }
        }))
        #expect(again.status == .resolved)
        let history = try await tickets.listTicketHistory(.with { $0.ticketID = created.ticketID })
        #expect(history.entries.map(\.sequence) == Array(1...11))
        #expect(history.entries.map(\.toStatus) == [
          .submitted, .underReview, .approved, .solutionAgreed, .awaitingReturn, .goodsReceived, .inspected, .resolved, .closed,
          .reopened, .resolved,
        ])
        #expect(history.entries[9].actor.kind == .shopper && history.entries[9].reason == "still broken")
        #expect(history.entries[1].actor.id == agent && history.entries[1].ticketVersion == 2)
        // Paging through the history gives the same entries.
        // Each announced step is in the tickets event log, read through the gateway (the
        // producer named by x-supportmesh-producer), in order.
        var metadata = Metadata()
        metadata.addString("tickets", forKey: "x-supportmesh-producer")
        var options = CallOptions.defaults
        options.timeout = .seconds(30)
        let (announced, lastPosition) = try await Support_Events_V1_EventLog.Client(wrapping: grpc).streamEvents(
          .with {
            $0.types = [
              Support_Tickets_V1_TicketApprovedEvent.protoMessageName, Support_Tickets_V1_TicketResolvedEvent.protoMessageName,
              Support_Tickets_V1_TicketClosedEvent.protoMessageName, Support_Tickets_V1_TicketReopenedEvent.protoMessageName,
            ]
          }, metadata: metadata, options: options
        ) { response in
          var mine: [String] = []
          var lastPosition: Int64 = 0
          for try await message in response.messages {
            guard case .event(let event) = message.item, event.subject == created.ticketID else { continue }
            mine.append(event.type.replacingOccurrences(of: "support.tickets.v1.", with: ""))
            lastPosition = event.position
            if case .ticketResolved(let resolved) = event.payload, mine.count == 2 {
              #expect(resolved.refundedAmount.amountMinor == 9_900 && resolved.outcome == .refunded && resolved.timeToResolve.seconds >= 0)
            }
            if mine.count == 5 { break }
          }
          return (mine, lastPosition)
        }
        #expect(announced == ["TicketApprovedEvent", "TicketResolvedEvent", "TicketClosedEvent", "TicketReopenedEvent", "TicketResolvedEvent"])
        // Resolved again while its first survey is pending: still one survey.
        let resolvedAgain = lastPosition
        try await waitFor(seconds: 30) {
          (Int64(try m.query("SELECT position FROM feedback.event_cursors WHERE subscription = 'feedback.tickets'")) ?? 0) >= resolvedAgain
        }
        #expect(try m.query(surveys) == "1")
        let first = try await tickets.listTicketHistory(.with { $0.ticketID = created.ticketID; $0.pageSize = 4 })
        let second = try await tickets.listTicketHistory(.with { $0.ticketID = created.ticketID; $0.pageSize = 4; $0.pageToken = first.nextPageToken })
        #expect((first.entries + second.entries).map(\.sequence) == Array(1...8))
      }
    }

    @Test("the wait for the goods ends when the parcel arrived: the clock resumes at receive_time (bounded by the pause's start), not at the call")
    func goodsReceivedResumesAtReceiveTime() async throws {
      let agent = uniqueID("agent")
      for early in [false, true] {
        let shopper = uniqueID("shopper")
        let created = try await mesh.withGateway(as: .person(.shopper, shopper, scope: nil)) { grpc in
          try await Client(wrapping: grpc).createTicket(MeshTests.Tickets.returnRequest(shopper: shopper))
        }
        try await mesh.withGateway(as: .person(.agent, agent, scope: nil)) { grpc in
          let tickets = Client(wrapping: grpc)
          var ticket = try await tickets.transitionTicket(Self.transition(created, .with { $0.startReview = .init() }))
          ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.approve = .init() }))
          ticket = try await tickets.transitionTicket(Self.transition(ticket, Self.refund))
          let id = ticket.ticketID
          try await waitFor(seconds: 30) {
            ticket = try await tickets.getTicket(.with { $0.ticketID = id })
            return ticket.status == .awaitingReturn
          }
          #expect(ticket.sla.paused && ticket.sla.pauseReason == .waitingForReturnedGoods)
          let pausedSince = ticket.sla.pausedSinceTime.date
          let dueBefore = ticket.sla.resolutionDueTime.date
          let pausedBefore = ticket.sla.pausedDuration.seconds
          // Not in the future.
          await expectCode(.invalidArgument, containing: "receive_time") {
            try await tickets.transitionTicket(Self.transition(ticket, .with {
              $0.markGoodsReceived = .with { $0.receiveTime = Date().addingTimeInterval(3600).timestamp }
            }))
          }
          try await Task.sleep(for: .seconds(2.5))
          // The parcel arrived 1.5 s into the wait (or, reported wrongly, before the wait began:
          // the wait then counts nothing).
          let arrived = early ? pausedSince.addingTimeInterval(-60) : pausedSince.addingTimeInterval(1.5)
          ticket = try await tickets.transitionTicket(Self.transition(ticket, .with {
            $0.markGoodsReceived = .with { $0.receiveTime = arrived.timestamp }
          }))
          #expect(ticket.status == .goodsReceived && !ticket.sla.paused)
          let counted = ticket.sla.pausedDuration.seconds - pausedBefore
          #expect(counted == (early ? 0 : 1), "paused until the parcel arrived (whole seconds), not the 2.5 s until the call")
          #expect(abs(ticket.sla.resolutionDueTime.date.timeIntervalSince(dueBefore) - Double(counted)) < 0.001, "the due time moved by the counted wait")
        }
      }
    }

    @Test("a stale expected_version is ABORTED; a retry with the same request_id returns the first result; other pairs change nothing")
    func versionsAndRetries() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let created = try await tickets.createTicket(MeshTests.Tickets.returnRequest(shopper: uniqueID("shopper")))
        let request = Self.transition(created, .with { $0.startReview = .init() }, requestID: uniqueID("tr"))
        let first = try await tickets.transitionTicket(request)
        #expect(try await tickets.transitionTicket(request) == first, "a retry returns the first result")
        var reused = request
        reused.action = .with { $0.approve = .init() }
        await expectCode(.alreadyExists) { try await tickets.transitionTicket(reused) }
        await expectCode(.aborted, containing: "version 2") {
          try await tickets.transitionTicket(Self.transition(created, .with { $0.approve = .init() }))
        }
        await expectCode(.failedPrecondition, containing: "Close is not allowed from UNDER_REVIEW") {
          try await tickets.transitionTicket(Self.transition(first, .with { $0.close = .init() }))
        }
        await expectCode(.invalidArgument, containing: "action.reject.reason") {
          try await tickets.transitionTicket(Self.transition(first, .with { $0.reject = .init() }))
        }
        await expectCode(.invalidArgument, containing: "action") {
          try await tickets.transitionTicket(.with { $0.ticketID = first.ticketID })
        }
        await expectCode(.failedPrecondition, containing: "AgreeSolution is not allowed from UNDER_REVIEW") {
          try await tickets.transitionTicket(Self.transition(first, .with { $0.agreeSolution = .with { $0.answer = .with { $0.notes = "x" } } }))
        }
        let approved = try await tickets.transitionTicket(Self.transition(first, .with { $0.approve = .init() }))
        await expectCode(.invalidArgument, containing: "does not fit") {
          try await tickets.transitionTicket(Self.transition(approved, .with { $0.agreeSolution = .with { $0.answer = .with { $0.notes = "x" } } }))
        }
        await expectCode(.notFound) {
          try await tickets.transitionTicket(.with { $0.ticketID = UUID().uuidString; $0.action = .with { $0.approve = .init() } })
        }
        let unchanged = try await tickets.getTicket(.with { $0.ticketID = created.ticketID })
        #expect(unchanged == approved, "refused changes left the case as it was")
      }
    }

    @Test("only the case's shopper cancels; shoppers take no agent actions and see no other shopper's case")
    func cancelAndPermissions() async throws {
      let shopper = uniqueID("shopper")
      let created = try await mesh.withGateway { grpc in
        try await Client(wrapping: grpc).createTicket(MeshTests.Tickets.returnRequest(shopper: shopper))
      }
      try await mesh.withGateway(as: .person(.agent, uniqueID("agent"), scope: nil)) { grpc in
        await expectCode(.permissionDenied, containing: "shopper") {
          try await Client(wrapping: grpc).transitionTicket(Self.transition(created, .with { $0.cancel = .with { $0.reason = "x" } }))
        }
      }
      try await mesh.withGateway(as: .person(.shopper, uniqueID("other"), scope: nil)) { grpc in
        await expectCode(.notFound) {
          try await Client(wrapping: grpc).transitionTicket(Self.transition(created, .with { $0.cancel = .with { $0.reason = "x" } }))
        }
      }
      try await mesh.withGateway(as: .person(.shopper, shopper, scope: nil)) { grpc in
        let tickets = Client(wrapping: grpc)
        await expectCode(.permissionDenied) {
          try await tickets.transitionTicket(Self.transition(created, .with { $0.startReview = .init() }))
        }
        let cancelled = try await tickets.transitionTicket(Self.transition(created, .with { $0.cancel = .with { $0.reason = "changed my mind" } }))
        #expect(cancelled.status == .cancelled && cancelled.statusReason == "changed my mind")
        await expectCode(.failedPrecondition) {
          try await tickets.transitionTicket(Self.transition(cancelled, .with { $0.reopen = .with { $0.reason = "x" } }))
        }
      }
    }

    @Test("refund only for a lost parcel can be reshipped (补发) without goods coming back")
    func reshipForLostParcel() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        var request = MeshTests.Tickets.returnRequest(shopper: uniqueID("shopper"))
        request.type = .refundOnly
        request.category = .logistics
        request.clearDeliveredTime()
        var ticket = try await tickets.createTicket(request)
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.startReview = .init() }))
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.approve = .init() }))
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with {
          $0.agreeSolution = .with { $0.exchange = .with { $0.replacementItems = [.with { $0.sku = "SKU-9"; $0.quantity = 1 }] } }
        }))
        #expect(ticket.status == .solutionAgreed && !ticket.goodsReturnRequired && ticket.solution.kind == .exchange)
        await expectCode(.failedPrecondition, containing: "no goods come back") {
          try await tickets.transitionTicket(Self.transition(ticket, .with { $0.awaitReturn = .init() }))
        }
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with {
          $0.resolve = .with { $0.outcome = .replacementShipped; $0.outboundShipmentID = "shp-reship" }
        }))
        #expect(ticket.status == .resolved && ticket.resolution.outboundShipmentID == "shp-reship")
      }
    }

    /// The payloads a producer's event log holds for `subject`, read through the gateway
    /// until `count` of them arrived.
    static func events(
      _ grpc: GRPCClient<some ClientTransport>, producer: String, subject: String, types: [String], count: Int
    ) async throws -> [Support_Events_V1_EventEnvelope] {
      var metadata = Metadata()
      metadata.addString(producer, forKey: "x-supportmesh-producer")
      var options = CallOptions.defaults
      options.timeout = .seconds(30)
      return try await Support_Events_V1_EventLog.Client(wrapping: grpc).streamEvents(
        .with { $0.types = types }, metadata: metadata, options: options
      ) { response in
        var mine: [Support_Events_V1_EventEnvelope] = []
        for try await message in response.messages {
          guard case .event(let event) = message.item, event.subject == subject else { continue }
          mine.append(event)
          if mine.count == count { break }
        }
        return mine
      }
    }

    @Test("the shopper's return method travels with the agreed solution; inspections, solution changes, rejections and cancellations are announced")
    func returnMethodAndAnnouncements() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let order = uniqueID("order")
        var ticket = try await tickets.createTicket(MeshTests.Tickets.returnRequest(shopper: uniqueID("shopper"), order: order))
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.startReview = .init() }))
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.approve = .init() }))
        // A pickup needs a window that can still happen; the other methods take none.
        var pickup = Self.refund
        pickup.agreeSolution.returnMethod = .pickup
        await expectCode(.invalidArgument, containing: "pickup_window") {
          try await tickets.transitionTicket(Self.transition(ticket, pickup))
        }
        pickup.agreeSolution.pickupWindow = .with { $0.startTime = daysAgo(2); $0.endTime = daysAgo(1) }
        await expectCode(.invalidArgument, containing: "pickup_window.end_time") {
          try await tickets.transitionTicket(Self.transition(ticket, pickup))
        }
        var label = Self.refund
        label.agreeSolution.returnMethod = .label
        label.agreeSolution.pickupWindow = .with { $0.startTime = daysAgo(-1); $0.endTime = daysAgo(-2) }
        await expectCode(.invalidArgument, containing: "only a PICKUP") {
          try await tickets.transitionTicket(Self.transition(ticket, label))
        }
        pickup.agreeSolution.pickupWindow = .with { $0.startTime = daysAgo(-1); $0.endTime = daysAgo(-2) }
        ticket = try await tickets.transitionTicket(Self.transition(ticket, pickup))
        #expect(ticket.solution.returnMethod == .pickup && ticket.solution.pickupWindow == pickup.agreeSolution.pickupWindow)
        // Logistics authorises the return and tickets waits for the goods; they arrive by hand.
        let id = ticket.ticketID
        try await waitFor(seconds: 30) {
          ticket = try await tickets.getTicket(.with { $0.ticketID = id })
          return ticket.status == .awaitingReturn
        }
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.markGoodsReceived = .init() }))
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.inspect = .with { $0.result = .pass; $0.notes = "as new" } }))
        // After inspection the refund becomes an exchange: announced with the new solution in full.
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with {
          $0.agreeSolution = .with { $0.exchange = .with { $0.replacementItems = [.with { $0.sku = "SKU-9"; $0.quantity = 1 }] } }
        }))
        #expect(ticket.status == .inspected && ticket.solution.kind == .exchange && ticket.solution.returnMethod == .pickup)

        let announced = try await Self.events(grpc, producer: "tickets", subject: ticket.ticketID, types: [
          Support_Tickets_V1_TicketApprovedEvent.protoMessageName, Support_Tickets_V1_TicketSolutionChangedEvent.protoMessageName,
          Support_Tickets_V1_TicketInspectedEvent.protoMessageName,
        ], count: 3)
        guard announced.count == 3, case .ticketApproved(let approved) = announced[0].payload,
          case .ticketInspected(let inspected) = announced[1].payload, case .ticketSolutionChanged(let changed) = announced[2].payload
        else {
          Issue.record("expected approved, inspected, solution changed; got \(announced.map(\.type))")
          return
        }
        #expect(approved.orderID == order && approved.returnMethod == .pickup && approved.pickupWindow == pickup.agreeSolution.pickupWindow)
        #expect(inspected.result == .pass && inspected.solutionKind == .refund && inspected.notes == "as new")
        #expect(ticket.inspection.inspector.kind == .service && inspected.inspector == ticket.inspection.inspector, "the inspector is recorded")
        #expect(inspected.items.first?.orderID == order && inspected.returnShipmentID == ticket.returnShipmentID)
        #expect(changed.previousSolutionKind == .refund && changed.solutionKind == .exchange && changed.goodsReturnRequired)
        #expect(changed.replacementItems.first?.sku == "SKU-9" && changed.status == .inspected && changed.orderID == order)

        // Rejected at review, and cancelled by the shopper's service: both announced.
        var rejected = try await tickets.createTicket(MeshTests.Tickets.returnRequest(shopper: uniqueID("shopper")))
        rejected = try await tickets.transitionTicket(Self.transition(rejected, .with { $0.startReview = .init() }))
        rejected = try await tickets.transitionTicket(Self.transition(rejected, .with { $0.reject = .with { $0.reason = "outside policy" } }))
        let cancelShopper = uniqueID("shopper")
        var cancelled = try await tickets.createTicket(MeshTests.Tickets.returnRequest(shopper: cancelShopper))
        // A service cancels only for the case's shopper, named as actor.
        await expectCode(.permissionDenied, containing: "shopper") {
          try await tickets.transitionTicket(Self.transition(cancelled, .with { $0.cancel = .with { $0.reason = "changed my mind" } }))
        }
        var forShopper = Self.transition(cancelled, .with { $0.cancel = .with { $0.reason = "changed my mind" } })
        forShopper.actor = .with { $0.kind = .shopper; $0.id = cancelShopper }
        cancelled = try await tickets.transitionTicket(forShopper)
        let rejection = try await Self.events(grpc, producer: "tickets", subject: rejected.ticketID, types: [Support_Tickets_V1_TicketRejectedEvent.protoMessageName], count: 1)
        let cancellation = try await Self.events(grpc, producer: "tickets", subject: cancelled.ticketID, types: [Support_Tickets_V1_TicketCancelledEvent.protoMessageName], count: 1)
        guard case .ticketRejected(let r)? = rejection.first?.payload, case .ticketCancelled(let c)? = cancellation.first?.payload else {
          Issue.record("expected a rejection and a cancellation")
          return
        }
        #expect(r.reason == "outside policy" && r.ticketVersion == 3)
        #expect(c.reason == "changed my mind" && c.previousStatus == .submitted && c.cancelledBy.kind != .unspecified)
      }
    }

    @Test("assignment and priority: staff only, recorded with from and to; not on a finished case")
    func assignAndPriority() async throws {
      let shopper = uniqueID("shopper")
      let created = try await mesh.withGateway { grpc in
        try await Client(wrapping: grpc).createTicket(MeshTests.Tickets.returnRequest(shopper: shopper))
      }
      try await mesh.withGateway(as: .person(.shopper, shopper, scope: nil)) { grpc in
        await expectCode(.permissionDenied) {
          try await Client(wrapping: grpc).setPriority(.with { $0.ticketID = created.ticketID; $0.priority = .urgent })
        }
      }
      try await mesh.withGateway(as: .person(.supervisor, uniqueID("lead"), scope: nil)) { grpc in
        let tickets = Client(wrapping: grpc)
        var ticket = try await tickets.assignTicket(.with {
          $0.ticketID = created.ticketID; $0.agentID = "agent-7"; $0.skillGroupID = "after-sales"; $0.reason = "specialist"
        })
        #expect(ticket.assigneeAgentID == "agent-7" && ticket.skillGroupID == "after-sales" && ticket.version == 2)
        ticket = try await tickets.setPriority(.with { $0.ticketID = created.ticketID; $0.priority = .urgent; $0.expectedVersion = 2 })
        #expect(ticket.priority == .urgent && ticket.version == 3)
        await expectCode(.aborted) {
          try await tickets.setPriority(.with { $0.ticketID = created.ticketID; $0.priority = .low; $0.expectedVersion = 2 })
        }
        await expectCode(.invalidArgument, containing: "agent_id") { try await tickets.assignTicket(.with { $0.ticketID = created.ticketID }) }
        let listed = try await tickets.listTickets(.with { $0.assigneeAgentID = "agent-7"; $0.shopperID = shopper })
        #expect(listed.tickets.map(\.ticketID) == [created.ticketID], "the assignee column follows the case")
        let history = try await tickets.listTicketHistory(.with { $0.ticketID = created.ticketID })
        #expect(history.entries.map(\.kind) == [.created, .assigned, .priorityChanged])
        #expect(history.entries[1].assignment.toAgentID == "agent-7" && history.entries[1].reason == "specialist")
        #expect(history.entries[2].priorityChange.fromPriority == .normal && history.entries[2].priorityChange.toPriority == .urgent)
      }
    }

    @Test("goods defective on arrival are the seller's fault whatever the category; a wait on the shopper becomes the wait for the goods")
    func defectiveGoodsAndReturnWait() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        var request = MeshTests.Tickets.returnRequest(shopper: uniqueID("shopper"))
        request.category = .transaction
        request.goodsCondition = .defective
        var ticket = try await tickets.createTicket(request)
        #expect(ticket.eligibility[0].shippingRefundable && ticket.eligibility[0].returnShippingPayer == .seller)
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.startReview = .init() }))
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with { $0.approve = .init() }))
        // An agent's question pauses the clocks for the shopper.
        _ = try await tickets.addComment(.with {
          $0.requestID = uniqueID("c"); $0.ticketID = ticket.ticketID; $0.visibility = .publicReply
          $0.body = "Which colour would you like instead?"; $0.awaitingShopper = true
        })
        ticket = try await tickets.getTicket(.with { $0.ticketID = ticket.ticketID })
        #expect(ticket.sla.paused && ticket.sla.pauseReason == .waitingOnShopper)
        let pausedSince = ticket.sla.pausedSinceTime
        // The shipping refund AgreeSolution allows follows the eligibility answer, not the category alone.
        ticket = try await tickets.transitionTicket(Self.transition(ticket, .with {
          $0.agreeSolution = .with {
            $0.refund = .with {
              $0.amount = .with { $0.amountMinor = 9_900; $0.currencyCode = "CNY" }
              $0.shippingRefund = .with { $0.amountMinor = 1_200; $0.currencyCode = "CNY" }
            }
          }
        }))
        #expect(ticket.status == .solutionAgreed && ticket.solution.shippingRefund.amountMinor == 1_200)
        // Logistics issues the return authorisation and the case moves to AWAITING_RETURN: the
        // wait is now for the goods.
        let id = ticket.ticketID
        try await waitFor(seconds: 30) { try await tickets.getTicket(.with { $0.ticketID = id }).status == .awaitingReturn }
        ticket = try await tickets.getTicket(.with { $0.ticketID = id })
        #expect(ticket.sla.paused && ticket.sla.pauseReason == .waitingForReturnedGoods)
        #expect(ticket.sla.pausedSinceTime == pausedSince, "one pause, from the shopper's wait on")
      }
    }

    @Test("comments: public replies and internal notes, the first reply meets the first response, awaiting the shopper pauses the clock")
    func comments() async throws {
      let shopper = uniqueID("shopper")
      let agent = uniqueID("agent")
      let created = try await mesh.withGateway { grpc in
        try await Client(wrapping: grpc).createTicket(MeshTests.Tickets.returnRequest(shopper: shopper))
      }
      func comment(_ visibility: Support_Tickets_V1_CommentVisibility, _ body: String, awaiting: Bool = false) -> Support_Tickets_V1_AddCommentRequest {
        .with { $0.requestID = uniqueID("c"); $0.ticketID = created.ticketID; $0.visibility = visibility; $0.body = body; $0.awaitingShopper = awaiting }
      }
      try await mesh.withGateway(as: .person(.agent, agent, scope: nil)) { grpc in
        let tickets = Client(wrapping: grpc)
        _ = try await tickets.addComment(comment(.internalNote, "looks like transit damage"))
        let request = comment(.publicReply, "Please send a photo of the box", awaiting: true)
        let reply = try await tickets.addComment(request)
        #expect(try await tickets.addComment(request) == reply, "a retry returns the first comment")
        let ticket = try await tickets.getTicket(.with { $0.ticketID = created.ticketID })
        #expect(ticket.sla.hasFirstResponseTime && ticket.sla.paused && ticket.version == 2)
        await expectCode(.invalidArgument, containing: "awaiting_shopper") {
          try await tickets.addComment(comment(.internalNote, "x", awaiting: true))
        }
      }
      try await mesh.withGateway(as: .person(.shopper, shopper, scope: nil)) { grpc in
        let tickets = Client(wrapping: grpc)
        await expectCode(.permissionDenied) { try await tickets.addComment(comment(.internalNote, "sneaky")) }
        _ = try await tickets.addComment(comment(.publicReply, "photo attached"))
        let ticket = try await tickets.getTicket(.with { $0.ticketID = created.ticketID })
        #expect(!ticket.sla.paused && ticket.sla.pausedDuration.seconds >= 0, "the shopper's answer resumes the clock")
        let visible = try await tickets.listComments(.with { $0.ticketID = created.ticketID })
        #expect(visible.comments.map(\.body) == ["Please send a photo of the box", "photo attached"], "shoppers see public replies only")
        await expectCode(.permissionDenied) {
          try await tickets.listComments(.with { $0.ticketID = created.ticketID; $0.visibilities = [.internalNote] })
        }
        await expectCode(.permissionDenied) { try await tickets.listTicketHistory(.with { $0.ticketID = created.ticketID }) }
      }
      try await mesh.withGateway(as: .person(.agent, agent, scope: nil)) { grpc in
        let tickets = Client(wrapping: grpc)
        let all = try await tickets.listComments(.with { $0.ticketID = created.ticketID; $0.pageSize = 2 })
        let rest = try await tickets.listComments(.with { $0.ticketID = created.ticketID; $0.pageSize = 2; $0.pageToken = all.nextPageToken })
        #expect((all.comments + rest.comments).map(\.visibility) == [.internalNote, .publicReply, .publicReply])
        let history = try await tickets.listTicketHistory(.with { $0.ticketID = created.ticketID })
        #expect(history.entries.filter { $0.kind == .commented }.count == 3)
      }
    }
  }
}
