import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceKit
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  /// The complaint-reply, repair-completion and promised clocks, and a shopper's chat reply
  /// ending a wait on the shopper, through the gateway (tickets.proto "Service levels").
  @Suite("Tickets: complaint, repair and promised clocks; chat replies resume")
  struct TicketSlaClocks {
    typealias Tickets = Support_Tickets_V1_TicketService.Client<HTTP2ClientTransport.Posix>
    typealias Sla = Support_Tickets_V1_SlaService.Client<HTTP2ClientTransport.Posix>

    /// Seconds-long complaint replies for LOW complaints, hour-long everything else of LOW
    /// complaints and repairs, so no other test's cases are affected.
    static let policy = Support_Tickets_V1_SlaPolicy.with {
      $0.targets = [
        .with { $0.milestone = .complaintReply; $0.type = .complaint; $0.priority = .low; $0.target = .init(seconds: 4) },
        .with { $0.milestone = .firstResponse; $0.type = .complaint; $0.priority = .low; $0.target = .init(seconds: 3600) },
        .with { $0.milestone = .repairCompletion; $0.type = .repair; $0.priority = .low; $0.target = .init(seconds: 3600) },
      ]
      $0.atRiskShare = 0.5
    }

    static func setPolicy() async throws {
      try await mesh.withGateway(as: .supervisor("clocks-supervisor")) { grpc in
        _ = try await Sla(wrapping: grpc).updateSlaPolicy(.with { $0.policy = policy })
      }
    }

    static func complaint(_ shopper: String) -> Support_Tickets_V1_CreateTicketRequest {
      .with {
        $0.requestID = uniqueID("complaint")
        $0.type = .complaint
        $0.category = .serviceAttitude
        $0.priority = .low
        $0.shopperID = shopper
        $0.title = "The agent hung up on me"
        $0.channel = .app
        $0.skillGroupID = "clocks-it"
      }
    }

    static func clock(_ ticket: Support_Tickets_V1_Ticket, _ milestone: Support_Tickets_V1_SlaMilestone) throws -> Support_Tickets_V1_SlaClock {
      try #require(ticket.sla.clocks.first { $0.milestone == milestone }, "clock \(milestone) on \(ticket.sla)")
    }

    /// Polls GetTicket until the clock reaches `state`.
    static func waitForClock(
      _ id: String, _ milestone: Support_Tickets_V1_SlaMilestone, _ state: Support_Tickets_V1_SlaClockState, seconds: Int = 30
    ) async throws -> Support_Tickets_V1_Ticket {
      try await mesh.withGateway(as: .agent("clocks-agent")) { grpc in
        var ticket = Support_Tickets_V1_Ticket()
        try await waitFor(seconds: seconds) {
          ticket = try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = id })
          return ticket.sla.clocks.first { $0.milestone == milestone }?.state == state
        }
        return ticket
      }
    }

    /// The breach events of one clock of a case, after the sweeper had several passes.
    static func breaches(_ id: String, _ milestone: Support_Tickets_V1_SlaMilestone) async throws -> [Support_Tickets_V1_TicketSlaBreachedEvent] {
      try await Task.sleep(for: .seconds(3))
      return try await TicketSla.slaEvents(try mesh, subject: id).compactMap { event in
        if case .ticketSlaBreached(let breach)? = event.payload, breach.milestone == milestone { return breach }
        return nil
      }
    }

    @Test("a complaint's reply clock breaches unanswered (announced once, in the queue); another is met by a reply with a proposal")
    func complaintReply() async throws {
      try await Self.setPolicy()
      let shopper = uniqueID("shopper")
      let (late, answered) = try await mesh.withGateway(as: .agent("clocks-agent")) { grpc in
        let tickets = Tickets(wrapping: grpc)
        let late = try await tickets.createTicket(Self.complaint(shopper))
        let reply = try Self.clock(late, .complaintReply)
        #expect(abs(reply.dueTime.date.timeIntervalSince(late.createTime.date) - 4) < 0.001 && reply.state == .active)
        let answered = try await tickets.createTicket(Self.complaint(shopper))
        // Only COMPLAINT cases track it.
        let inquiry = try await tickets.createTicket(.with {
          $0.requestID = uniqueID("inquiry"); $0.type = .inquiry; $0.category = .technicalSupport; $0.shopperID = shopper; $0.title = "How?"
        })
        #expect(!inquiry.sla.clocks.contains { $0.milestone == .complaintReply })
        await expectCode(.invalidArgument, containing: "proposes_solution") {
          try await tickets.addComment(.with {
            $0.ticketID = answered.ticketID; $0.requestID = uniqueID("c"); $0.visibility = .internalNote; $0.body = "x"; $0.proposesSolution = true
          })
        }
        // A plain reply is a first response, not the proposal.
        _ = try await tickets.addComment(.with {
          $0.ticketID = answered.ticketID; $0.requestID = uniqueID("c"); $0.visibility = .publicReply; $0.body = "We are looking into it."
        })
        let acknowledged = try await tickets.getTicket(.with { $0.ticketID = answered.ticketID })
        #expect(try Self.clock(acknowledged, .firstResponse).state == .met)
        #expect(try Self.clock(acknowledged, .complaintReply).state != .met)
        let comment = try await tickets.addComment(.with {
          $0.ticketID = answered.ticketID; $0.requestID = uniqueID("c"); $0.visibility = .publicReply; $0.proposesSolution = true
          $0.body = "We apologise: a 20 CNY coupon, and the agent is retrained this week."
        })
        #expect(comment.proposesSolution)
        return (late, answered)
      }
      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        await expectCode(.invalidArgument, containing: "proposes_solution") {
          try await Tickets(wrapping: grpc).addComment(.with {
            $0.ticketID = answered.ticketID; $0.requestID = uniqueID("c"); $0.visibility = .publicReply; $0.body = "I propose"; $0.proposesSolution = true
          })
        }
      }

      let breached = try await Self.waitForClock(late.ticketID, .complaintReply, .breached)
      #expect(try Self.clock(breached, .firstResponse).state == .active, "only the reply clock is short")
      let events = try await Self.breaches(late.ticketID, .complaintReply)
      let lateDue = try Self.clock(late, .complaintReply).dueTime
      #expect(events.count == 1 && events.first?.dueTime == lateDue)
      #expect(events.first?.type == .complaint && events.first?.skillGroupID == "clocks-it")

      try await mesh.withGateway(as: .agent("clocks-agent")) { grpc in
        let met = try Self.clock(try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = answered.ticketID }), .complaintReply)
        #expect(met.state == .met && met.breachedBy.seconds == 0 && met.hasMetTime)
        let queue = try await Sla(wrapping: grpc).listSlaWorkQueue(.with {
          $0.milestones = [.complaintReply]; $0.skillGroupID = "clocks-it"; $0.pageSize = 500
        })
        #expect(queue.items.allSatisfy { $0.clock.milestone == .complaintReply })
        #expect(queue.items.contains { $0.ticket.ticketID == late.ticketID && $0.clock.state == .breached })
        #expect(!queue.items.contains { $0.ticket.ticketID == answered.ticketID }, "a met clock leaves the queue")
        let history = try await Tickets(wrapping: grpc).listTicketHistory(.with { $0.ticketID = late.ticketID; $0.pageSize = 100 })
        #expect(history.entries.filter { $0.kind == .slaBreached && $0.sla.clock.milestone == .complaintReply }.count == 1)
      }
      try await TicketSla.restoreDefaultPolicy()
    }

    @Test("a repair's completion clock pauses like the others and is met when the repair completes (RESOLVED)")
    func repairCompletion() async throws {
      try await Self.setPolicy()
      let order = uniqueID("order")
      try await mesh.withGateway(as: .agent("clocks-agent")) { grpc in
        let tickets = Tickets(wrapping: grpc)
        let sla = Sla(wrapping: grpc)
        let repair = try await tickets.createTicket(.with {
          $0.requestID = uniqueID("repair"); $0.type = .repair; $0.category = .productQuality; $0.priority = .low
          $0.shopperID = uniqueID("shopper"); $0.title = "Kettle does not heat"; $0.deliveredTime = daysAgo(5)
          $0.items = [.with { $0.orderID = order; $0.orderItemID = "line-1"; $0.sku = "KETTLE-1"; $0.quantity = 1 }]
        })
        let started = try Self.clock(repair, .repairCompletion)
        #expect(started.state == .active && abs(started.dueTime.date.timeIntervalSince(repair.createTime.date) - 3600) < 0.001)

        _ = try await sla.pauseSla(.with { $0.ticketID = repair.ticketID; $0.note = "repair centre quote" })
        try await Task.sleep(for: .seconds(2))
        let resumed = try await sla.resumeSla(.with { $0.ticketID = repair.ticketID })
        let moved = try Self.clock(resumed, .repairCompletion)
        let paused = Double(resumed.sla.pausedDuration.seconds)
        #expect(paused >= 2 && abs(moved.dueTime.date.timeIntervalSince(started.dueTime.date) - paused) < 0.001, "due moved by the pause")
        #expect(abs(moved.atRiskTime.date.timeIntervalSince(started.atRiskTime.date) - paused) < 0.001, "at-risk moved with it")

        func act(_ action: Support_Tickets_V1_TicketAction) async throws -> Support_Tickets_V1_Ticket {
          try await tickets.transitionTicket(.with { $0.ticketID = repair.ticketID; $0.action = action })
        }
        _ = try await act(.with { $0.startReview = .init() })
        _ = try await act(.with { $0.approve = .init() })
        let agreed = try await act(.with { $0.agreeSolution = .with { $0.repair = .with { $0.notes = "replace the element" }; $0.waiveGoodsReturn = true } })
        #expect(try Self.clock(agreed, .repairCompletion).state == .active, "agreeing a repair does not complete it")
        let resolved = try await act(.with { $0.resolve = .with { $0.outcome = .repaired; $0.summary = "repaired on site" } })
        let met = try Self.clock(resolved, .repairCompletion)
        #expect(met.state == .met && met.metTime == resolved.resolveTime && met.breachedBy.seconds == 0)
        let queue = try await sla.listSlaWorkQueue(.with { $0.milestones = [.repairCompletion]; $0.pageSize = 500 })
        #expect(!queue.items.contains { $0.ticket.ticketID == repair.ticketID })
      }
      try await TicketSla.restoreDefaultPolicy()
    }

    @Test("a promised time is set, moved (history each time), breaches once, and the resolution meets it late")
    func promisedTime() async throws {
      let shopper = uniqueID("shopper")
      let ticket = try await mesh.withGateway(as: .agent("clocks-agent")) { grpc in
        let tickets = Tickets(wrapping: grpc)
        let sla = Sla(wrapping: grpc)
        let created = try await tickets.createTicket(.with {
          $0.requestID = uniqueID("inquiry"); $0.type = .inquiry; $0.category = .technicalSupport; $0.shopperID = shopper
          $0.title = "When is my invoice corrected?"; $0.skillGroupID = "clocks-it"
        })
        #expect(!created.sla.clocks.contains { $0.milestone == .promised }, "no promise, no clock")
        func promise(_ seconds: Double, _ change: (inout Support_Tickets_V1_SetPromisedTimeRequest) -> Void = { _ in }) async throws -> Support_Tickets_V1_Ticket {
          var request = Support_Tickets_V1_SetPromisedTimeRequest.with {
            $0.ticketID = created.ticketID; $0.promisedTime = .init(date: Date().addingTimeInterval(seconds)); $0.note = "told the shopper"
          }
          change(&request)
          return try await sla.setPromisedTime(request)
        }
        await expectCode(.invalidArgument, containing: "promised_time") { try await promise(60) { $0.clearPromisedTime() } }
        await expectCode(.invalidArgument, containing: "in the future") { try await promise(-60) }
        await expectCode(.invalidArgument, containing: "PROMISED target") { try await promise(800 * 3600) }
        await expectCode(.notFound) { try await promise(60) { $0.ticketID = UUID().uuidString } }

        let first = try await promise(3600)
        let set = try Self.clock(first, .promised)
        #expect(set.state == .active && first.version == created.version + 1)
        #expect(abs(set.dueTime.date.timeIntervalSince(set.startTime.date) - 3600) < 1 && set.target.seconds >= 3599)
        let again = try await sla.setPromisedTime(.with { $0.ticketID = created.ticketID; $0.promisedTime = set.dueTime })
        #expect(again.version == first.version, "the same promise changes nothing")
        let moved = try await promise(3)
        #expect(try Self.clock(moved, .promised).dueTime.date < set.dueTime.date)
        let history = try await tickets.listTicketHistory(.with { $0.ticketID = created.ticketID; $0.pageSize = 100 })
        let promises = history.entries.filter { $0.kind == .slaPromised }
        let movedDue = try Self.clock(moved, .promised).dueTime
        #expect(promises.count == 2 && promises.last?.sla.clock.dueTime == movedDue)
        #expect(promises.first?.reason == "told the shopper" && promises.first?.actor.id == "clocks-agent")
        return moved
      }
      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        await expectCode(.permissionDenied) {
          try await Sla(wrapping: grpc).setPromisedTime(.with { $0.ticketID = ticket.ticketID; $0.promisedTime = .init(date: Date().addingTimeInterval(60)) })
        }
      }

      let breached = try await Self.waitForClock(ticket.ticketID, .promised, .breached)
      #expect(try Self.clock(breached, .resolution).state == .active)
      let events = try await Self.breaches(ticket.ticketID, .promised)
      let promisedDue = try Self.clock(ticket, .promised).dueTime
      #expect(events.count == 1 && events.first?.dueTime == promisedDue)

      try await mesh.withGateway(as: .agent("clocks-agent")) { grpc in
        let tickets = Tickets(wrapping: grpc)
        func act(_ action: Support_Tickets_V1_TicketAction) async throws -> Support_Tickets_V1_Ticket {
          try await tickets.transitionTicket(.with { $0.ticketID = ticket.ticketID; $0.action = action })
        }
        _ = try await act(.with { $0.startReview = .init() })
        _ = try await act(.with { $0.approve = .init() })
        _ = try await act(.with { $0.agreeSolution = .with { $0.answer = .with { $0.notes = "corrected invoice sent" } } })
        let resolved = try await act(.with { $0.resolve = .with { $0.outcome = .answered } })
        let met = try Self.clock(resolved, .promised)
        #expect(met.state == .met && met.breachedBy.seconds >= 1, "met late: \(met)")
        await expectCode(.failedPrecondition, containing: "RESOLVED") {
          try await Sla(wrapping: grpc).setPromisedTime(.with { $0.ticketID = ticket.ticketID; $0.promisedTime = .init(date: Date().addingTimeInterval(60)) })
        }
      }
    }

    @Test("a shopper's reply in the chat a case was escalated from ends the case's wait on the shopper, one event per shopper turn")
    func chatReplyResumes() async throws {
      let (shopper, conversation) = try await ChatEscalation.conversation()
      let escalation = try await mesh.withGateway(as: .supervisor("clocks-supervisor")) { grpc in
        try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).escalateConversation(.with {
          $0.requestID = uniqueID("escalate"); $0.conversationID = conversation.conversationID
          $0.ticketType = .complaint; $0.category = .serviceAttitude; $0.priority = .normal
          $0.summary = "Shopper unhappy with the delivery call"
        })
      }
      let answered = try await ChatEscalation.answered(escalation.escalationID)
      let ticketID = answered.ticketID
      #expect(answered.status == .ticketCreated && !ticketID.isEmpty)
      try await mesh.withGateway(as: .agent("clocks-agent")) { grpc in
        _ = try await Tickets(wrapping: grpc).addComment(.with {
          $0.ticketID = ticketID; $0.requestID = uniqueID("c"); $0.visibility = .publicReply; $0.awaitingShopper = true
          $0.body = "Which day did the courier call you?"
        })
        let paused = try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = ticketID })
        #expect(paused.sla.paused && paused.sla.pauseReason == .waitingOnShopper)
      }
      try await Task.sleep(for: .seconds(1))
      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let chat = Support_Chat_V1_ConversationService.Client(wrapping: grpc)
        for text in ["It was Tuesday", "around 3 pm"] {
          _ = try await chat.sendMessage(.with { $0.requestID = uniqueID("m"); $0.conversationID = conversation.conversationID; $0.text = text
            $0.sender = .with { $0.kind = .shopper; $0.id = shopper }
          })
        }
      }
      var resumed = Support_Tickets_V1_Ticket()
      try await mesh.withGateway(as: .agent("clocks-agent")) { grpc in
        try await waitFor(seconds: 30) {
          resumed = try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = ticketID })
          return !resumed.sla.paused
        }
        #expect(resumed.sla.pauseReason == .unspecified && resumed.sla.pausedDuration.seconds >= 1)
        let history = try await Tickets(wrapping: grpc).listTicketHistory(.with { $0.ticketID = ticketID; $0.pageSize = 100 })
        let resumes = history.entries.filter { $0.kind == .slaResumed }
        #expect(resumes.count == 1 && resumes.first?.actor.kind == .shopper && resumes.first?.actor.id == shopper)
        #expect(resumes.first?.sla.pauseReason == .waitingOnShopper && resumes.first?.reason.contains(conversation.conversationID) == true)
      }
      // Two lines in one turn, and the message before the escalation: one event.
      let replies = try await Self.chatReplies(conversation.conversationID)
      #expect(replies.count == 1 && replies.first?.ticketIds == [ticketID] && replies.first?.shopperID == shopper, "\(replies)")
    }

    @Test("an acknowledgement counts in GetServiceMetrics when it happens, for the assignee TicketAssignedEvent names, before the case resolves")
    func acknowledgementCountsAtOnce() async throws {
      let skill = uniqueID("ack-skill"), agent = uniqueID("ack-agent")
      let started = Date()
      let created = try await mesh.withGateway(as: .supervisor("clocks-supervisor")) { grpc in
        let tickets = Tickets(wrapping: grpc)
        let created = try await tickets.createTicket(.with {
          $0.requestID = uniqueID("inquiry"); $0.type = .inquiry; $0.category = .technicalSupport; $0.shopperID = uniqueID("shopper")
          $0.title = "Pairing the watch"; $0.skillGroupID = skill
        })
        _ = try await tickets.assignTicket(.with { $0.ticketID = created.ticketID; $0.agentID = agent })
        return created
      }
      let acknowledged = try await mesh.withGateway(as: .agent(agent)) { grpc in
        _ = try await Tickets(wrapping: grpc).addComment(.with {
          $0.ticketID = created.ticketID; $0.requestID = uniqueID("c"); $0.visibility = .publicReply; $0.body = "Hold the crown for 5 s."
        })
        return try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = created.ticketID })
      }
      #expect(acknowledged.status == .submitted && acknowledged.sla.hasFirstResponseTime)
      let expected = ServiceQuality.millis(created.createTime, acknowledged.sla.firstResponseTime)
      let seeded = Date()
      var response = Support_Feedback_V1_GetServiceMetricsResponse()
      try await mesh.withGateway(as: .supervisor("clocks-supervisor")) { grpc in
        try await waitFor(seconds: 60) {
          response = try await Support_Feedback_V1_ServiceQualityService.Client(wrapping: grpc).getServiceMetrics(.with {
            $0.timeRange = .with {
              $0.startTime = .init(seconds: Int64(started.timeIntervalSince1970) - 60, nanos: 0)
              $0.endTime = .init(seconds: Int64(seeded.timeIntervalSince1970) + 60, nanos: 0)
            }
            $0.groupBy = [.agent]
            $0.filter = .with { $0.skillGroups = [skill] }
          })
          return response.dataThroughTime.date > seeded
        }
      }
      #expect(response.rows.map(\.key.agentID) == [agent], "the case counts for its assignee: \(response.rows)")
      let stats = response.total.ticketFirstResponse
      #expect(stats.count == 1 && abs(ServiceQuality.millisOf(stats.average) - expected) <= 1 && stats.withinTargetRate == 1, "\(stats)")
      #expect(response.total.resolution.handledCount == 0, "not resolved, yet acknowledged")
    }

    /// The ShopperRepliedEvents of one conversation in chat's event log, read until caught up.
    static func chatReplies(_ conversationID: String) async throws -> [Support_Chat_V1_ShopperRepliedEvent] {
      try await mesh.withEventLog("chat", caller: "it-clocks") { eventLog, metadata, options in
        try await eventLog.streamEvents(
          .with { $0.afterPosition = 0; $0.types = [Support_Chat_V1_ShopperRepliedEvent.protoMessageName] }, metadata: metadata, options: options
        ) { response in
          var replies: [Support_Chat_V1_ShopperRepliedEvent] = []
          for try await message in response.messages {
            switch message.item {
            case .event(let event):
              if event.subject == conversationID, case .shopperReplied(let reply)? = event.payload { replies.append(reply) }
            case .heartbeat(let beat): if beat.position >= beat.headPosition { return replies }
            case nil: continue
            }
          }
          return replies
        }
      }
    }
  }
}
