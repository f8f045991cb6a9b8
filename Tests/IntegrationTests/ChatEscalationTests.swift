import Foundation
import GRPCCore
import GRPCProtobuf
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  /// Escalating a chat to after-sales (chat.proto EscalateConversation): chat announces the
  /// escalation, tickets files the case (or refuses it), chat shows the answer.
  @Suite("Chat escalation to an after-sales case")
  struct ChatEscalation {
    typealias Escalation = Support_Chat_V1_Escalation

    /// A conversation about an order, started by a new shopper.
    static func conversation(order: String = uniqueID("order")) async throws -> (shopper: String, conversation: Support_Chat_V1_Conversation) {
      let shopper = uniqueID("shopper")
      let conversation = try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).startConversation(.with {
          $0.requestID = uniqueID("start"); $0.shopperID = shopper; $0.channel = .app; $0.orderID = order
          $0.shopperDisplayName = "王小明"; $0.initialMessage = "耳机左边没有声音 / the left earbud is silent"
        })
      }
      return (shopper, conversation)
    }

    static func escalation(_ id: String) async throws -> Escalation {
      try await mesh.withGateway { grpc in
        try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).getEscalation(.with { $0.escalationID = id })
      }
    }

    /// Waits until tickets has answered the escalation.
    static func answered(_ id: String) async throws -> Escalation {
      var last = Escalation()
      try await waitFor(seconds: 30) {
        last = try await escalation(id)
        return last.status != .pending
      }
      return last
    }

    @Test("a supervisor escalates a repair: tickets files the case from the event, chat shows its id and a notice; a retry changes nothing")
    func escalationCreatesTheCase() async throws {
      let order = uniqueID("order")
      let (shopper, conversation) = try await Self.conversation(order: order)
      let request = Support_Chat_V1_EscalateConversationRequest.with {
        $0.requestID = uniqueID("escalate"); $0.conversationID = conversation.conversationID
        $0.ticketType = .repair; $0.category = .productQuality; $0.priority = .high
        $0.summary = "Left earbud silent since day 3\nShopper tried re-pairing; wants a repair."
        $0.orderItems = [.with { $0.orderID = order; $0.orderItemID = "line-1"; $0.sku = "EARBUDS-1"; $0.quantity = 1 }]
        $0.deliveredTime = daysAgo(10)
        $0.attachments = [.with { $0.uri = "https://files.example/earbud.jpg"; $0.kind = .photo }]
      }
      let supervisor = uniqueID("supervisor")
      let escalation = try await mesh.withGateway(as: .supervisor(supervisor)) { grpc in
        let chat = Support_Chat_V1_ConversationService.Client(wrapping: grpc)
        let escalation = try await chat.escalateConversation(request)
        // A retry returns the same escalation as it stands (tickets may already have answered it).
        let retried = try await chat.escalateConversation(request)
        #expect(retried.escalationID == escalation.escalationID && retried.createTime == escalation.createTime, "a retry returns the first escalation")
        #expect(retried.summary == escalation.summary && retried.requestedBy == escalation.requestedBy)
        return escalation
      }
      #expect(escalation.status == .pending && escalation.version == 1)
      #expect(escalation.title == "Left earbud silent since day 3", "the title defaults to the summary's first line")
      #expect(escalation.transcript.upToSequence == 2 && escalation.transcript.messageCount == 1)
      #expect(escalation.requestedBy.kind == .supervisor && escalation.requestedBy.id == supervisor)

      let answered = try await Self.answered(escalation.escalationID)
      #expect(answered.status == .ticketCreated && !answered.ticketID.isEmpty && answered.version == 2)

      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let ticket = try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).getTicket(.with { $0.ticketID = answered.ticketID })
        #expect(ticket.type == .repair && ticket.category == .productQuality && ticket.priority == .high)
        #expect(ticket.shopperID == shopper && ticket.items.map(\.orderItemID) == ["line-1"] && ticket.evidence.count == 1)
        #expect(ticket.source.kind == .conversation && ticket.source.id == conversation.conversationID)
        #expect(ticket.createdBy.kind == .supervisor && ticket.createdBy.id == supervisor)
        #expect(ticket.title == "Left earbud silent since day 3" && ticket.channel == .app)

        let chat = Support_Chat_V1_ConversationService.Client(wrapping: grpc)
        let current = try await chat.getConversation(.with { $0.conversationID = conversation.conversationID })
        #expect(current.escalationIds == [escalation.escalationID] && current.version == 2, "escalating changes the conversation")
        let messages = try await chat.listMessages(.with { $0.conversationID = conversation.conversationID }).messages
        let notice = messages.last
        #expect(notice?.sender.kind == .system && notice?.text.contains(answered.ticketID) == true, "the shopper is told the case number")
        #expect(current.lastSequence == 5, "queued, message, escalation pending, escalation answered, notice")
        #expect(try await chat.getEscalation(.with { $0.escalationID = escalation.escalationID }).ticketID == answered.ticketID)
      }
      // One case only, however often the event was delivered.
      let cases = try await mesh.withGateway { grpc in
        try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).listTickets(.with { $0.shopperID = shopper }).tickets
      }
      #expect(cases.map(\.ticketID) == [answered.ticketID])
    }

    @Test("a case tickets refuses (return window over) fails the escalation with the reason; escalating again with other facts works")
    func refusedEscalationFails() async throws {
      let (shopper, conversation) = try await Self.conversation()
      let supervisor = TestCaller.supervisor(uniqueID("supervisor"))
      let late = try await mesh.withGateway(as: supervisor) { grpc in
        try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).escalateConversation(.with {
          $0.requestID = uniqueID("escalate"); $0.conversationID = conversation.conversationID
          $0.ticketType = .returnAndRefund; $0.category = .transaction; $0.summary = "changed their mind"
          $0.deliveredTime = daysAgo(60)
        })
      }
      let failed = try await Self.answered(late.escalationID)
      #expect(failed.status == .failed && failed.ticketID.isEmpty && failed.failureReason.contains("WINDOW_EXPIRED"))
      #expect(late.orderItems.isEmpty && late.orderID == conversation.orderID, "the conversation's order")

      let inquiry = try await mesh.withGateway(as: supervisor) { grpc in
        try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).escalateConversation(.with {
          $0.requestID = uniqueID("escalate"); $0.conversationID = conversation.conversationID
          $0.ticketType = .complaint; $0.category = .serviceAttitude; $0.summary = "unhappy with the return policy"
        })
      }
      #expect(try await Self.answered(inquiry.escalationID).status == .ticketCreated)
      let listed = try await mesh.withGateway { grpc in
        try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).listEscalations(.with {
          $0.conversationID = conversation.conversationID; $0.pageSize = 1
        })
      }
      #expect(listed.escalations.map(\.escalationID) == [inquiry.escalationID] && !listed.nextPageToken.isEmpty, "newest first, paged")
      let failedOnly = try await mesh.withGateway { grpc in
        try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).listEscalations(.with {
          $0.shopperID = shopper; $0.statuses = [.failed]
        })
      }
      #expect(failedOnly.escalations.map(\.escalationID) == [late.escalationID])
    }

    @Test("an agent answers and closes the chat: feedback invites the shopper to rate it; escalating with close_conversation closes it ESCALATED and still files the case")
    func closingSurveysAndEscalateAndClose() async throws {
      typealias Routing = MeshTests.ChatRouting
      let supervisor = TestCaller.supervisor(uniqueID("supervisor"))
      let (group, agent) = try await mesh.withGateway(as: supervisor) { grpc in
        let agents = Routing.Agents(wrapping: grpc)
        let group = try await Routing.group(agents)
        let agent = try await Routing.agent(agents, "小李", capacity: 2, groups: [group.skillGroupID])
        return (group, agent)
      }
      try await mesh.withGateway(as: .agent(agent.agentID)) { grpc in
        _ = try await Routing.Agents(wrapping: grpc).setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online })
      }
      let shopper = uniqueID("shopper")
      let (answered, escalatedChat) = try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let chat = Routing.Chat(wrapping: grpc)
        let first = try await chat.startConversation(.with {
          $0.requestID = uniqueID("start"); $0.shopperID = shopper; $0.channel = .web; $0.skillGroupID = group.skillGroupID
          $0.orderID = uniqueID("order"); $0.initialMessage = "where is my parcel?"
        })
        let second = try await chat.startConversation(.with {
          $0.requestID = uniqueID("start"); $0.shopperID = shopper; $0.channel = .web; $0.skillGroupID = group.skillGroupID
          $0.orderID = uniqueID("order"); $0.initialMessage = "the parcel arrived broken"
        })
        return (first, second)
      }
      #expect(answered.status == .active && escalatedChat.status == .active && answered.assignedAgentID == agent.agentID)
      try await mesh.withGateway(as: .agent(agent.agentID)) { grpc in
        let chat = Routing.Chat(wrapping: grpc)
        _ = try await chat.sendMessage(.with {
          $0.requestID = uniqueID("msg"); $0.conversationID = answered.conversationID; $0.text = "It is out for delivery today."
          $0.sender = .with { $0.kind = .agent; $0.id = agent.agentID }
        })
        let closed = try await chat.closeConversation(.with { $0.conversationID = answered.conversationID; $0.reason = .resolved })
        #expect(closed.status == .closed && closed.closeReason == .resolved)

        let escalation = try await chat.escalateConversation(.with {
          $0.requestID = uniqueID("escalate"); $0.conversationID = escalatedChat.conversationID
          $0.ticketType = .refundOnly; $0.category = .logistics; $0.summary = "parcel arrived broken, refund without return"
          $0.deliveredTime = daysAgo(1); $0.closeConversation = true
        })
        #expect(escalation.status == .pending && escalation.requestedBy.id == agent.agentID)
        let after = try await chat.getConversation(.with { $0.conversationID = escalatedChat.conversationID })
        #expect(after.status == .closed && after.closeReason == .escalated && after.escalationIds == [escalation.escalationID])
        // The agent's slots are both free again.
        let freed = try await Routing.Agents(wrapping: grpc).getAgent(.with { $0.agentID = agent.agentID })
        #expect(freed.currentLoad == 0)
        let filed = try await Self.answered(escalation.escalationID)
        #expect(filed.status == .ticketCreated, "the case is filed even though the chat closed")
        let messages = try await chat.listMessages(.with { $0.conversationID = escalatedChat.conversationID }).messages
        #expect(!messages.contains { $0.sender.kind == .system && $0.text.contains(filed.ticketID) }, "nothing is posted to a closed conversation")
      }
      // Feedback surveys the answered chat (agent = the one who answered), once.
      var surveys: [Support_Feedback_V1_Survey] = []
      try await waitFor(seconds: 30) {
        surveys = try await mesh.withGateway(as: .shopper(shopper)) { grpc in
          try await Support_Feedback_V1_SurveyService.Client(wrapping: grpc).listSurveys(.with {
            $0.subject = .with { $0.kind = .conversation; $0.id = answered.conversationID }
          }).surveys
        }
        return !surveys.isEmpty
      }
      #expect(surveys.count == 1 && surveys[0].agentID == agent.agentID && surveys[0].shopperID == shopper && surveys[0].channel == .web)
    }

    @Test("an offline message of a CREATE_TICKET group becomes an INQUIRY case after the group's delay and closes ESCALATED; a kept one does not")
    func offlineMessageBecomesACase() async throws {
      typealias Routing = MeshTests.ChatRouting
      let shopper = uniqueID("shopper")
      let (ticketing, keeping) = try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
        let agents = Routing.Agents(wrapping: grpc)
        let ticketing = try await agents.createSkillGroup(.with {
          $0.requestID = uniqueID("req"); $0.name = uniqueID("Night Desk"); $0.assignmentPolicy = .leastLoaded
          $0.offlinePolicy = .createTicket; $0.offlineTicketDelay = .init(seconds: 1)
        })
        return (ticketing, try await Routing.group(agents))
      }
      let (left, kept) = try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let chat = Routing.Chat(wrapping: grpc)
        let left = try await Routing.start(chat, group: ticketing.skillGroupID, shopper: shopper)
        let kept = try await Routing.start(chat, group: keeping.skillGroupID, shopper: shopper)
        return (left, kept)
      }
      #expect(left.offline && left.status == .queued)
      var closed = Support_Chat_V1_Conversation()
      try await waitFor(seconds: 30) {
        closed = try await mesh.withGateway { grpc in
          try await Routing.Chat(wrapping: grpc).getConversation(.with { $0.conversationID = left.conversationID })
        }
        return closed.status == .closed
      }
      #expect(closed.closeReason == .escalated && closed.closedBy.kind == .system && closed.escalationIds.count == 1)
      let escalation = try await Self.answered(closed.escalationIds[0])
      #expect(escalation.status == .ticketCreated && escalation.ticketType == .inquiry && escalation.summary == "您好, I have a question")
      let ticket = try await mesh.withGateway { grpc in
        try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).getTicket(.with { $0.ticketID = escalation.ticketID })
      }
      #expect(ticket.type == .inquiry && ticket.shopperID == shopper && ticket.source.id == left.conversationID && ticket.createdBy.kind == .system)
      let stillKept = try await mesh.withGateway { grpc in
        try await Routing.Chat(wrapping: grpc).getConversation(.with { $0.conversationID = kept.conversationID })
      }
      #expect(stillKept.status == .queued && stillKept.escalationIds.isEmpty, "OFFLINE_POLICY_KEEP keeps the message")
    }

    @Test("bad escalations are refused with the documented status and change nothing")
    func badInput() async throws {
      let (shopper, conversation) = try await Self.conversation()
      func request(_ change: (inout Support_Chat_V1_EscalateConversationRequest) -> Void) -> Support_Chat_V1_EscalateConversationRequest {
        var request = Support_Chat_V1_EscalateConversationRequest.with {
          $0.requestID = uniqueID("escalate"); $0.conversationID = conversation.conversationID
          $0.ticketType = .exchange; $0.category = .productQuality; $0.summary = "wrong size"; $0.deliveredTime = daysAgo(2)
        }
        change(&request)
        return request
      }
      try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
        let chat = Support_Chat_V1_ConversationService.Client(wrapping: grpc)
        await expectCode(.invalidArgument, containing: "delivered_time") { try await chat.escalateConversation(request { $0.clearDeliveredTime() }) }
        await expectCode(.invalidArgument, containing: "summary") { try await chat.escalateConversation(request { $0.summary = "" }) }
        await expectCode(.invalidArgument, containing: "summary") {
          try await chat.escalateConversation(request { $0.summary = String(repeating: "长", count: 2_001) })
        }
        await expectCode(.invalidArgument, containing: "ticket_type") { try await chat.escalateConversation(request { $0.ticketType = .unspecified }) }
        await expectCode(.invalidArgument, containing: "category") { try await chat.escalateConversation(request { $0.category = .unspecified }) }
        await expectCode(.invalidArgument, containing: "request_id") { try await chat.escalateConversation(request { $0.requestID = "" }) }
        await expectCode(.invalidArgument, containing: "delivered_time") {
          try await chat.escalateConversation(request { $0.deliveredTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(86_400)) })
        }
        await expectCode(.notFound) { try await chat.escalateConversation(request { $0.conversationID = UUID().uuidString }) }
        await expectCode(.aborted) { try await chat.escalateConversation(request { $0.expectedVersion = 7 }) }
        await expectCode(.notFound) { try await chat.getEscalation(.with { $0.escalationID = UUID().uuidString }) }
        await expectCode(.invalidArgument, containing: "page_token") { try await chat.listEscalations(.with { $0.pageToken = "forged" }) }
      }
      // An agent not assigned to the conversation may not escalate it; a shopper may not at all.
      await expectCode(.permissionDenied) {
        try await mesh.withGateway(as: .agent(uniqueID("agent"))) { grpc in
          try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).escalateConversation(request { _ in })
        }
      }
      await expectCode(.permissionDenied) {
        try await mesh.withGateway(as: .shopper(shopper)) { grpc in
          try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).escalateConversation(request { _ in })
        }
      }
      // A pre-sales conversation has no order: a goods case cannot be escalated from it.
      let presales = try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).startConversation(.with {
          $0.requestID = uniqueID("start"); $0.shopperID = shopper; $0.channel = .web; $0.initialMessage = "does it come in blue?"
        })
      }
      let orderless = await richError(.failedPrecondition) {
        try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
          try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).escalateConversation(request { $0.conversationID = presales.conversationID })
        }
      }
      #expect(orderless?.details.compactMap(\.errorInfo).first?.reason == "ORDER_REQUIRED")
      let unchanged = try await mesh.withGateway { grpc in
        try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).getConversation(.with { $0.conversationID = conversation.conversationID })
      }
      #expect(unchanged.escalationIds.isEmpty && unchanged.version == 1 && unchanged.lastSequence == 2)
    }
  }
}
