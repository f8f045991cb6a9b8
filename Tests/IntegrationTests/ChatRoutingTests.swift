import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import SupportCodec
import ServiceKit
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  /// Agents, skill groups and routing (AgentService; Assign/Transfer/Close/GetQueuePosition/
  /// ListConversations). Each test makes its own skill groups and agents: the mesh is shared,
  /// and the default "general" group must keep nobody online for the other suites.
  @Suite("Chat routing through the gateway")
  struct ChatRouting {
    typealias Chat = Support_Chat_V1_ConversationService.Client<HTTP2ClientTransport.Posix>
    typealias Agents = Support_Chat_V1_AgentService.Client<HTTP2ClientTransport.Posix>

    static func group(
      _ agents: Agents, policy: Support_Chat_V1_AssignmentPolicy = .leastLoaded
    ) async throws -> Support_Chat_V1_SkillGroup {
      try await agents.createSkillGroup(.with {
        $0.requestID = uniqueID("req"); $0.name = uniqueID("Routing Group"); $0.assignmentPolicy = policy; $0.offlinePolicy = .keep
      })
    }

    static func agent(_ agents: Agents, _ name: String, capacity: Int32, groups: [String]) async throws -> Support_Chat_V1_Agent {
      try await agents.createAgent(.with {
        $0.requestID = uniqueID("req"); $0.displayName = name; $0.role = .afterSales
        $0.maxConcurrentConversations = capacity; $0.skillGroupIds = groups
      })
    }

    static func start(_ chat: Chat, group: String, shopper: String = uniqueID("shopper")) async throws -> Support_Chat_V1_Conversation {
      try await chat.startConversation(.with {
        $0.requestID = uniqueID("req"); $0.shopperID = shopper; $0.channel = .web; $0.skillGroupID = group
        $0.initialMessage = "您好, I have a question"
      })
    }

    @Test("two agents (capacity 1 and 2), four shoppers: assignment order, queue position, a close pulls the next, transfers")
    func scenario() async throws {
      try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
        let agents = Agents(wrapping: grpc)
        let chat = Chat(wrapping: grpc)
        let group = try await Self.group(agents)
        let one = try await Self.agent(agents, "Agent One", capacity: 1, groups: [group.skillGroupID])
        let two = try await Self.agent(agents, "Agent Two", capacity: 2, groups: [group.skillGroupID])
        #expect(one.presence == .offline && one.currentLoad == 0 && one.version == 1 && one.skillGroupIds == [group.skillGroupID])
        #expect(group.skillGroupID.hasPrefix("routing-group-") && group.firstResponseTarget.seconds == 6)

        // Nobody online: an offline message, kept in the queue.
        let early = try await Self.start(chat, group: group.skillGroupID)
        #expect(early.status == .queued && early.offline && early.queuePosition == 1)

        // Agents set their own presence; going ONLINE pulls the offline message at once.
        let online1 = try await mesh.withGateway(as: .agent(one.agentID)) { agentCall in
          try await Agents(wrapping: agentCall).setAgentPresence(.with { $0.agentID = one.agentID; $0.presence = .online })
        }
        #expect(online1.presence == .online && online1.version == 2 && online1.currentLoad == 1)
        let pulled = try await chat.getConversation(.with { $0.conversationID = early.conversationID })
        #expect(pulled.status == .active && pulled.assignedAgentID == one.agentID && pulled.hasFirstAssignTime)
        _ = try await chat.closeConversation(.with {
          $0.conversationID = early.conversationID; $0.reason = .resolved; $0.skipRatingInvitation = true
        })
        let reloaded = try await agents.getAgent(.with { $0.agentID = one.agentID })
        #expect(reloaded.currentLoad == 0, "closing gives the slot back")
        _ = try await agents.setAgentPresence(.with { $0.agentID = two.agentID; $0.presence = .online })

        // Least loaded, ties by longest idle: two has never been assigned, one just was.
        let s1 = try await Self.start(chat, group: group.skillGroupID)
        #expect(s1.status == .active && s1.assignedAgentID == two.agentID && !s1.offline && s1.queuePosition == 0)
        // one is at 0/1, two at 1/2: one is less loaded.
        let s2 = try await Self.start(chat, group: group.skillGroupID)
        #expect(s2.status == .active && s2.assignedAgentID == one.agentID)
        let s3 = try await Self.start(chat, group: group.skillGroupID)
        #expect(s3.status == .active && s3.assignedAgentID == two.agentID)
        let shopper4 = uniqueID("shopper")
        let s4 = try await Self.start(chat, group: group.skillGroupID, shopper: shopper4)
        #expect(s4.status == .queued && s4.queuePosition == 1 && !s4.offline)

        // The shopper reads their place in line.
        let position = try await mesh.withGateway(as: .shopper(shopper4)) { shopperCall in
          try await Chat(wrapping: shopperCall).getQueuePosition(.with { $0.conversationID = s4.conversationID })
        }
        #expect(position.position == 1 && position.queueLength == 1 && position.onlineAgentCount == 2)
        #expect(position.skillGroupID == group.skillGroupID && position.hasEstimatedWait && position.hasComputeTime)
        let loads = try await agents.listAgents(.with { $0.skillGroupID = group.skillGroupID })
        #expect(loads.agents.map(\.displayName) == ["Agent One", "Agent Two"])
        #expect(loads.agents.map(\.currentLoad) == [1, 2])
        let free = try await agents.listAgents(.with { $0.skillGroupID = group.skillGroupID; $0.withFreeCapacityOnly = true })
        #expect(free.agents.isEmpty)

        // The inbox and the queue, through ListConversations.
        let inbox = try await chat.listConversations(.with { $0.agentID = two.agentID; $0.statuses = [.active] })
        #expect(Set(inbox.conversations.map(\.conversationID)) == [s1.conversationID, s3.conversationID])
        let queue = try await chat.listConversations(.with { $0.skillGroupID = group.skillGroupID; $0.statuses = [.queued] })
        #expect(queue.conversations.map(\.conversationID) == [s4.conversationID] && queue.conversations[0].queuePosition == 1)

        // Agent one closes s2: the freed slot pulls s4 at once.
        let closed = try await mesh.withGateway(as: .agent(one.agentID)) { agentCall in
          try await Chat(wrapping: agentCall).closeConversation(.with {
            $0.conversationID = s2.conversationID; $0.reason = .resolved; $0.closingNote = "answered"
          })
        }
        #expect(closed.status == .closed && closed.closeReason == .resolved && closed.closedBy.id == one.agentID)
        #expect(closed.version == s2.version + 1 && closed.assignedAgentID == one.agentID)
        let retried = try await chat.closeConversation(.with { $0.conversationID = s2.conversationID; $0.reason = .spam })
        #expect(retried == closed, "closing a CLOSED conversation returns it unchanged")
        let transcript = try await chat.listMessages(.with { $0.conversationID = s2.conversationID })
        #expect(transcript.messages.last?.sender.id == one.agentID && transcript.messages.last?.text.contains("Thank you") == true)
        let next = try await chat.getConversation(.with { $0.conversationID = s4.conversationID })
        #expect(next.status == .active && next.assignedAgentID == one.agentID && next.queuePosition == 0)
        await expectCode(.failedPrecondition) { try await chat.getQueuePosition(.with { $0.conversationID = s4.conversationID }) }

        // Transfer to a group with nobody online: back in a queue; the agent's load drops.
        let other = try await Self.group(agents)
        let requeued = try await chat.transferConversation(.with {
          $0.conversationID = s3.conversationID; $0.toSkillGroupID = other.skillGroupID; $0.reason = "needs after-sales"
        })
        #expect(requeued.status == .queued && requeued.skillGroupID == other.skillGroupID && requeued.assignedAgentID.isEmpty)
        #expect(requeued.transferCount == 1 && requeued.queuePosition == 1 && requeued.enqueueTime == s3.enqueueTime)
        #expect(try await agents.getAgent(.with { $0.agentID = two.agentID }).currentLoad == 1)

        // An agent of the other group coming online takes it; then a transfer agent to agent.
        let three = try await Self.agent(agents, "Agent Three", capacity: 3, groups: [other.skillGroupID, group.skillGroupID])
        let online3 = try await agents.setAgentPresence(.with { $0.agentID = three.agentID; $0.presence = .online })
        #expect(online3.currentLoad == 1)
        let taken = try await chat.getConversation(.with { $0.conversationID = s3.conversationID })
        #expect(taken.status == .active && taken.assignedAgentID == three.agentID)
        let moved = try await chat.transferConversation(.with {
          $0.conversationID = s1.conversationID; $0.toAgentID = three.agentID; $0.reason = "specialist"
        })
        #expect(moved.status == .active && moved.assignedAgentID == three.agentID && moved.transferCount == 1)
        #expect(moved.version == s1.version + 1)
        let finalLoads = try await agents.listAgents(.with { $0.skillGroupID = group.skillGroupID })
        #expect(finalLoads.agents.map(\.displayName) == ["Agent One", "Agent Three", "Agent Two"])
        #expect(finalLoads.agents.map(\.currentLoad) == [1, 2, 0], "one: s4; three: s3 and s1; two: none")

        // AWAY receives nothing; a full agent receives nothing.
        let away = try await mesh.withGateway(as: .agent(two.agentID)) { agentCall in
          try await Agents(wrapping: agentCall).setAgentPresence(.with { $0.agentID = two.agentID; $0.presence = .away })
        }
        #expect(away.presence == .away && away.presenceTime.seconds >= online1.presenceTime.seconds)
        let notOnline = await richError(.failedPrecondition) {
          try await chat.transferConversation(.with { $0.conversationID = s3.conversationID; $0.toAgentID = two.agentID; $0.reason = "x" })
        }
        #expect(notOnline?.details.compactMap(\.errorInfo).first?.reason == "AGENT_NOT_ONLINE")
        let atCapacity = await richError(.failedPrecondition) {
          try await chat.transferConversation(.with { $0.conversationID = s3.conversationID; $0.toAgentID = one.agentID; $0.reason = "x" })
        }
        #expect(atCapacity?.details.compactMap(\.errorInfo).first?.reason == "AGENT_AT_CAPACITY")
        #expect(try await chat.getConversation(.with { $0.conversationID = s3.conversationID }) == taken, "refused transfers change nothing")
      }
    }

    @Test("a queued shopper's watch stream hears its place in line as the line moves")
    func queuePositionPushes() async throws {
      try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
        let agents = Agents(wrapping: grpc)
        let chat = Chat(wrapping: grpc)
        let group = try await Self.group(agents)
        let agent = try await Self.agent(agents, "Queue Agent", capacity: 1, groups: [group.skillGroupID])
        let first = try await Self.start(chat, group: group.skillGroupID)
        let second = try await Self.start(chat, group: group.skillGroupID)
        let shopper = uniqueID("shopper")
        let third = try await Self.start(chat, group: group.skillGroupID, shopper: shopper)
        #expect(third.queuePosition == 3)
        try await mesh.withGateway(as: .shopper(shopper)) { shopperCall in
          let watcher = Watch.conversation(ChatClient(wrapping: shopperCall), third.conversationID, after: third.lastSequence)
          defer { watcher.stop() }
          _ = try await watcher.wait { $0.contains(where: \.isCaughtUp) }
          @Sendable func places(_ events: [ChatEvent]) -> [Int32] {
            events.compactMap { if case .queuePosition(let place) = $0.event { place.position } else { nil } }
          }
          // The conversation ahead closes: 3 → 2.
          _ = try await chat.closeConversation(.with { $0.conversationID = first.conversationID; $0.reason = .resolved })
          var events = try await watcher.wait { places($0) == [2] }
          let pushed = try #require(events.last { if case .queuePosition = $0.event { true } else { false } })
          #expect(pushed.queuePosition.queueLength == 2 && pushed.queuePosition.skillGroupID == group.skillGroupID)
          #expect(pushed.queuePosition.onlineAgentCount == 0 && !pushed.queuePosition.hasEstimatedWait, "nobody online: no estimate")
          #expect(pushed.sequence == third.lastSequence, "ephemeral: it carries the latest stored sequence")
          // An agent comes online and takes the next in line: 2 → 1.
          _ = try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online })
          events = try await watcher.wait { places($0) == [2, 1] }
          #expect(try await chat.getConversation(.with { $0.conversationID = second.conversationID }).status == .active)
          // Its own assignment ends its wait: no further place is pushed.
          _ = try await chat.closeConversation(.with { $0.conversationID = second.conversationID; $0.reason = .resolved })
          events = try await watcher.wait { $0.contains { $0.assigned.agentID == agent.agentID } }
          #expect(places(events) == [2, 1])
          let replay = Watch.conversation(ChatClient(wrapping: shopperCall), third.conversationID, after: 0)
          defer { replay.stop() }
          #expect(places(try await replay.wait { $0.contains(where: \.isCaughtUp) }).isEmpty, "queue positions are never replayed")
        }
      }
    }

    @Test("the group's greeting is posted on the assigned agent's behalf, rendered, and is not the first reply")
    func greetingAtAssignment() async throws {
      try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
        let agents = Agents(wrapping: grpc)
        let chat = Chat(wrapping: grpc)
        let greeting = try await Support_Chat_V1_CannedResponseService.Client(wrapping: grpc).createCannedResponse(.with {
          $0.requestID = uniqueID("canned"); $0.title = "Hello"; $0.body = "您好 {shopper_name}, 我是 {agent_name}"
          $0.purpose = .greeting; $0.scope = .team
        })
        let group = try await agents.createSkillGroup(.with {
          $0.requestID = uniqueID("req"); $0.name = uniqueID("Greeting Group"); $0.offlinePolicy = .keep; $0.assignmentPolicy = .leastLoaded
          $0.greetingCannedResponseID = greeting.cannedResponseID
        })
        let agent = try await Self.agent(agents, "Greeter", capacity: 1, groups: [group.skillGroupID])
        _ = try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online })
        let conversation = try await chat.startConversation(.with {
          $0.requestID = uniqueID("req"); $0.shopperID = uniqueID("shopper"); $0.shopperDisplayName = "小王"; $0.channel = .web
          $0.skillGroupID = group.skillGroupID; $0.initialMessage = "在吗?"
        })
        #expect(conversation.status == .active && conversation.assignedAgentID == agent.agentID)
        let messages = try await chat.listMessages(.with { $0.conversationID = conversation.conversationID }).messages
        #expect(messages.map(\.sender.kind) == [.shopper, .agent])
        #expect(messages.last?.text == "您好 小王, 我是 Greeter" && messages.last?.sender.id == agent.agentID)
        #expect(messages.last?.cannedResponseID == greeting.cannedResponseID)
        #expect(!conversation.hasFirstResponseTime && !conversation.hasFirstAgentMessageTime, "a greeting is not the first reply")

        // A transfer to an agent is an assignment too: the next agent greets.
        let second = try await Self.agent(agents, "Second", capacity: 1, groups: [group.skillGroupID])
        _ = try await agents.setAgentPresence(.with { $0.agentID = second.agentID; $0.presence = .online })
        let moved = try await chat.transferConversation(.with {
          $0.conversationID = conversation.conversationID; $0.toAgentID = second.agentID; $0.reason = "knows the product"
        })
        #expect(moved.assignedAgentID == second.agentID)
        let afterTransfer = try await chat.listMessages(.with { $0.conversationID = conversation.conversationID }).messages
        #expect(afterTransfer.last?.text == "您好 小王, 我是 Second" && afterTransfer.last?.sender.id == second.agentID)
        try await mesh.withGateway(as: .person(.agent, second.agentID, scope: nil)) { grpc in
          // {agent_name} without a display_name in the request: the agent's name on file.
          let sent = try await Chat(wrapping: grpc).sendMessage(.with {
            $0.requestID = uniqueID("m"); $0.conversationID = conversation.conversationID
            $0.sender = .with { $0.kind = .agent; $0.id = second.agentID }; $0.cannedResponseID = greeting.cannedResponseID
          })
          #expect(sent.text == "您好 小王, 我是 Second")
        }
        // The inbox is what the agent holds now; closed conversations only when asked for.
        let inbox = { (statuses: [Support_Chat_V1_ConversationStatus]) in
          try await chat.listConversations(.with { $0.agentID = second.agentID; $0.statuses = statuses }).conversations.map(\.conversationID)
        }
        #expect(try await inbox([]) == [conversation.conversationID])
        _ = try await chat.closeConversation(.with { $0.conversationID = conversation.conversationID; $0.reason = .resolved })
        #expect(try await inbox([]).isEmpty)
        #expect(try await inbox([.closed]) == [conversation.conversationID])
      }
    }

    @Test("a shopper's messages are part of the offline message (offline) only until an agent takes it")
    func offlineMessagesUntilTaken() async throws {
      try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
        let agents = Agents(wrapping: grpc)
        let chat = Chat(wrapping: grpc)
        let group = try await agents.createSkillGroup(.with {
          $0.requestID = uniqueID("req"); $0.name = uniqueID("Offline Group"); $0.offlinePolicy = .keep; $0.assignmentPolicy = .leastLoaded
        })
        let shopper = uniqueID("shopper")
        let conversation = try await Self.start(chat, group: group.skillGroupID, shopper: shopper)
        #expect(conversation.offline && conversation.status == .queued)
        func say(_ text: String) async throws -> Support_Chat_V1_Message {
          try await mesh.withGateway(as: .shopper(shopper)) { grpc in
            try await Chat(wrapping: grpc).sendMessage(.with {
              $0.requestID = uniqueID("m"); $0.conversationID = conversation.conversationID; $0.text = text
              $0.sender = .with { $0.kind = .shopper; $0.id = shopper }
            })
          }
        }
        #expect(try await say("订单号 123").offline)
        let agent = try await Self.agent(agents, "Late", capacity: 1, groups: [group.skillGroupID])
        _ = try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online })
        #expect(try await chat.getConversation(.with { $0.conversationID = conversation.conversationID }).status == .active)
        #expect(try await !say("还在吗?").offline)
      }
    }

    @Test("a shopper silent past the group's inactivity timeout after the agent wrote is closed INACTIVITY_TIMEOUT; one who wrote last is not")
    func inactivityTimeout() async throws {
      try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
        let agents = Agents(wrapping: grpc)
        let chat = Chat(wrapping: grpc)
        let group = try await agents.createSkillGroup(.with {
          $0.requestID = uniqueID("req"); $0.name = uniqueID("Inactivity Group"); $0.offlinePolicy = .keep; $0.assignmentPolicy = .leastLoaded
          $0.inactivityTimeout = .init(seconds: 2)
        })
        let agent = try await Self.agent(agents, "Inactivity Agent", capacity: 2, groups: [group.skillGroupID])
        _ = try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online })
        let answered = try await Self.start(chat, group: group.skillGroupID)
        let waiting = try await Self.start(chat, group: group.skillGroupID)
        #expect(answered.status == .active && waiting.status == .active)
        try await mesh.withGateway(as: .agent(agent.agentID)) { agentCall in
          let agentChat = Chat(wrapping: agentCall)
          for conversation in [answered, waiting] {
            _ = try await agentChat.sendMessage(.with {
              $0.requestID = uniqueID("msg"); $0.conversationID = conversation.conversationID
              $0.sender = .with { $0.kind = .agent; $0.id = agent.agentID }; $0.text = "Could you send the order number?"
            })
          }
        }
        // The second shopper answers: the desk owes the next reply, so it never times out.
        _ = try await mesh.withGateway(as: .shopper(waiting.shopperID)) { shopperCall in
          try await Chat(wrapping: shopperCall).sendMessage(.with {
            $0.requestID = uniqueID("msg"); $0.conversationID = waiting.conversationID
            $0.sender = .with { $0.kind = .shopper; $0.id = waiting.shopperID }; $0.text = "E12345"
          })
        }
        var closed = try await chat.getConversation(.with { $0.conversationID = answered.conversationID })
        let deadline = ContinuousClock.now + .seconds(15)
        while closed.status != .closed && ContinuousClock.now < deadline {
          try await Task.sleep(for: .milliseconds(200))
          closed = try await chat.getConversation(.with { $0.conversationID = answered.conversationID })
        }
        #expect(closed.status == .closed && closed.closeReason == .inactivityTimeout)
        #expect(closed.closedBy.kind == .system && closed.closedBy.id == "chat-inactivity")
        let seconds = closed.closeTime.date.timeIntervalSince(closed.createTime.date)
        #expect(seconds >= 2, "not before the timeout")
        let messages = try await chat.listMessages(.with { $0.conversationID = answered.conversationID }).messages
        #expect(messages.last?.sender.kind == .agent && messages.last?.requestID == "closing-greeting:\(answered.conversationID)")
        let still = try await chat.getConversation(.with { $0.conversationID = waiting.conversationID })
        #expect(still.status == .active, "the shopper wrote last")
        #expect(try await agents.getAgent(.with { $0.agentID = agent.agentID }).currentLoad == 1, "the timed-out chat freed its slot")
      }
    }

    /// The ConversationClosedEvent of one conversation, from chat's event log, read service to
    /// service (signed as a service), as feedback reads it.
    static func closedEnvelope(_ m: Mesh, _ conversationID: String) async throws -> EventEnvelope? {
      try await m.withEventLog("chat") { eventLog, metadata, options in
        try await eventLog.streamEvents(
          .with { $0.afterPosition = 0; $0.types = [Support_Chat_V1_ConversationClosedEvent.protoMessageName] },
          metadata: metadata, options: options
        ) { response -> EventEnvelope? in
          for try await message in response.messages {
            guard case .event(let event) = message.item else { continue }
            if event.subject == conversationID { return event }
          }
          return nil
        }
      }
    }

    @Test("a conversation transferred back to a queue and closed there names its last agent in ConversationClosedEvent")
    func closedAfterTransferToQueue() async throws {
      let m = try mesh
      try await m.withGateway { grpc in
        let agents = Agents(wrapping: grpc)
        let chat = Chat(wrapping: grpc)
        let group = try await Self.group(agents)
        let empty = try await Self.group(agents)
        let agent = try await Self.agent(agents, "Agent Before Transfer", capacity: 1, groups: [group.skillGroupID])
        _ = try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online })
        let shopper = uniqueID("shopper")
        let started = try await Self.start(chat, group: group.skillGroupID, shopper: shopper)
        #expect(started.assignedAgentID == agent.agentID)
        _ = try await chat.sendMessage(.with {
          $0.requestID = uniqueID("msg"); $0.conversationID = started.conversationID; $0.text = "Let me pass you on"
          $0.sender = .with { $0.kind = .agent; $0.id = agent.agentID }
        })
        let requeued = try await chat.transferConversation(.with {
          $0.conversationID = started.conversationID; $0.toSkillGroupID = empty.skillGroupID; $0.reason = "billing"
        })
        #expect(requeued.status == .queued && requeued.assignedAgentID.isEmpty)
        _ = try await chat.closeConversation(.with { $0.conversationID = started.conversationID; $0.reason = .abandoned })
        let envelope = try #require(try await Self.closedEnvelope(m, started.conversationID))
        guard case .conversationClosed(let closed) = envelope.payload else {
          Issue.record("not a ConversationClosedEvent: \(envelope)")
          return
        }
        #expect(closed.agentID == agent.agentID && closed.agentDisplayName == "Agent Before Transfer")
        #expect(closed.participatingAgentIds == [agent.agentID])
      }
    }

    @Test("the first reply is measured on the conversation; closing publishes ConversationClosedEvent with the transcript's facts")
    func closedEvent() async throws {
      let m = try mesh
      let (group, agent) = try await m.withGateway { grpc in
        let agents = Agents(wrapping: grpc)
        let group = try await Self.group(agents)
        let agent = try await Self.agent(agents, "Agent Event", capacity: 1, groups: [group.skillGroupID])
        _ = try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online })
        return (group, agent)
      }
      let shopper = uniqueID("shopper")
      let conversation = try await m.withGateway(as: .shopper(shopper)) { grpc in
        let chat = Chat(wrapping: grpc)
        let started = try await Self.start(chat, group: group.skillGroupID, shopper: shopper)
        #expect(started.status == .active && started.firstResponseTarget.seconds == 6 && !started.hasFirstResponseTime)
        _ = try await chat.sendMessage(.with {
          $0.requestID = uniqueID("msg"); $0.conversationID = started.conversationID; $0.text = "And the invoice?"
          $0.sender = .with { $0.kind = .shopper; $0.id = shopper }
        })
        return started
      }
      try await m.withGateway(as: .agent(agent.agentID)) { grpc in
        let chat = Chat(wrapping: grpc)
        for text in ["您好, looking into it", "Invoice sent"] {
          _ = try await chat.sendMessage(.with {
            $0.requestID = uniqueID("msg"); $0.conversationID = conversation.conversationID; $0.text = text
            $0.sender = .with { $0.kind = .agent; $0.id = agent.agentID }
          })
        }
        let replied = try await chat.getConversation(.with { $0.conversationID = conversation.conversationID })
        #expect(replied.hasFirstResponseTime && replied.firstResponseTargetMet == (replied.firstResponseTime.seconds < 6))
        _ = try await chat.closeConversation(.with { $0.conversationID = conversation.conversationID; $0.reason = .resolved })
      }
      let envelope = try await Self.closedEnvelope(m, conversation.conversationID)
      let event = try #require(envelope)
      #expect(event.producer == "chat")
      guard case .conversationClosed(let closed) = event.payload else {
        Issue.record("not a ConversationClosedEvent: \(event)")
        return
      }
      #expect(closed.eventID == event.eventID, "the payload repeats its envelope's event id")
      #expect(closed.conversationID == conversation.conversationID && closed.shopperID == shopper && closed.skillGroupID == group.skillGroupID)
      #expect(closed.agentID == agent.agentID && closed.agentDisplayName == "Agent Event" && closed.participatingAgentIds == [agent.agentID])
      #expect(closed.closeReason == .resolved && closed.closedBy.id == agent.agentID && closed.inviteRating && !closed.offline)
      #expect(closed.shopperMessageCount == 2 && closed.agentMessageCount == 3 && closed.systemMessageCount == 0,
              "two shopper messages; two replies and the closing greeting")
      #expect(closed.hasQueueWait && closed.hasFirstResponseTime && closed.firstResponseTarget.seconds == 6 && closed.hasTotalDuration)
      #expect(closed.firstResponseTargetMet == (closed.firstResponseTime.seconds < 6))
      #expect(closed.hasAverageResponseTime && closed.hasMaxResponseTime)
      #expect(closed.maxResponseTime.microsecondsForTest >= closed.averageResponseTime.microsecondsForTest)
      #expect(closed.createTime == conversation.createTime && closed.hasCloseTime && closed.transferCount == 0)
    }

    @Test("bad input gets a clear status and changes nothing")
    func badInput() async throws {
      try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
        let agents = Agents(wrapping: grpc)
        let chat = Chat(wrapping: grpc)
        let group = try await Self.group(agents)
        let valid = Support_Chat_V1_CreateAgentRequest.with {
          $0.requestID = uniqueID("req"); $0.displayName = "Agent Bad"; $0.role = .preSales; $0.skillGroupIds = [group.skillGroupID]
          $0.employeeID = uniqueID("E")
        }
        let agent = try await agents.createAgent(valid)
        #expect(agent.maxConcurrentConversations == 5, "0 means the default, 5")
        #expect(try await agents.createAgent(valid) == agent, "a retry returns the first result")
        var reused = valid
        reused.displayName = "Someone else"
        await expectCode(.alreadyExists) { try await agents.createAgent(reused) }
        var sameEmployee = valid
        sameEmployee.requestID = uniqueID("req")
        await expectCode(.alreadyExists, containing: "employee_id") { try await agents.createAgent(sameEmployee) }
        var noName = valid
        noName.requestID = uniqueID("req"); noName.displayName = ""
        await expectCode(.invalidArgument, containing: "display_name") { try await agents.createAgent(noName) }
        var tooMany = valid
        tooMany.requestID = uniqueID("req"); tooMany.employeeID = ""; tooMany.maxConcurrentConversations = 51
        await expectCode(.invalidArgument, containing: "max_concurrent_conversations") { try await agents.createAgent(tooMany) }
        var noRole = valid
        noRole.requestID = uniqueID("req"); noRole.employeeID = ""; noRole.role = .unspecified
        await expectCode(.invalidArgument, containing: "role") { try await agents.createAgent(noRole) }
        var unknownGroup = valid
        unknownGroup.requestID = uniqueID("req"); unknownGroup.employeeID = ""; unknownGroup.skillGroupIds = ["no-such-group"]
        await expectCode(.notFound, containing: "no-such-group") { try await agents.createAgent(unknownGroup) }
        let members = try await agents.listAgents(.with { $0.skillGroupID = group.skillGroupID })
        #expect(members.agents.map(\.agentID) == [agent.agentID], "refused creates left nothing behind")

        await expectCode(.invalidArgument, containing: "update_mask") {
          try await agents.updateAgent(.with { $0.agent = .with { $0.agentID = agent.agentID } })
        }
        await expectCode(.invalidArgument, containing: "read-only") {
          try await agents.updateAgent(.with { $0.agent = .with { $0.agentID = agent.agentID; $0.currentLoad = 3 }; $0.updateMask.paths = ["current_load"] })
        }
        await expectCode(.aborted) {
          try await agents.updateAgent(.with {
            $0.agent = .with { $0.agentID = agent.agentID; $0.displayName = "Renamed" }; $0.updateMask.paths = ["display_name"]; $0.expectedVersion = 7
          })
        }
        await expectCode(.notFound) {
          try await agents.updateAgent(.with { $0.agent = .with { $0.agentID = UUID().uuidString; $0.displayName = "X" }; $0.updateMask.paths = ["display_name"] })
        }
        #expect(try await agents.getAgent(.with { $0.agentID = agent.agentID }) == agent, "refused updates changed nothing")
        let renamed = try await agents.updateAgent(.with {
          $0.agent = .with { $0.agentID = agent.agentID; $0.displayName = "Renamed"; $0.maxConcurrentConversations = 2 }
          $0.updateMask.paths = ["display_name", "max_concurrent_conversations"]; $0.expectedVersion = 1
        })
        #expect(renamed.displayName == "Renamed" && renamed.maxConcurrentConversations == 2 && renamed.version == 2)

        await expectCode(.invalidArgument, containing: "presence") {
          try await agents.setAgentPresence(.with { $0.agentID = agent.agentID })
        }
        await expectCode(.notFound) { try await agents.setAgentPresence(.with { $0.agentID = UUID().uuidString; $0.presence = .online }) }
        await expectCode(.permissionDenied) {
          try await mesh.withGateway(as: .agent(uniqueID("another-agent"))) { other in
            try await Agents(wrapping: other).setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online })
          }
        }
        await expectCode(.permissionDenied) {
          try await mesh.withGateway(as: .agent(agent.agentID)) { own in
            try await Agents(wrapping: own).createSkillGroup(.with {
              $0.requestID = uniqueID("req"); $0.name = uniqueID("Nope"); $0.assignmentPolicy = .manual; $0.offlinePolicy = .keep
            })
          }
        }
        #expect(try await agents.getAgent(.with { $0.agentID = agent.agentID }).presence == .offline)

        await expectCode(.invalidArgument, containing: "name") {
          try await agents.createSkillGroup(.with { $0.requestID = uniqueID("req"); $0.assignmentPolicy = .manual; $0.offlinePolicy = .keep })
        }
        await expectCode(.invalidArgument, containing: "assignment_policy") {
          try await agents.createSkillGroup(.with { $0.requestID = uniqueID("req"); $0.name = uniqueID("G"); $0.offlinePolicy = .keep })
        }
        await expectCode(.alreadyExists) {
          try await agents.createSkillGroup(.with {
            $0.requestID = uniqueID("req"); $0.name = group.name.uppercased(); $0.assignmentPolicy = .manual; $0.offlinePolicy = .keep
          })
        }
        await expectCode(.notFound) { try await agents.getSkillGroup(.with { $0.skillGroupID = "no-such-group" }) }
        await expectCode(.invalidArgument, containing: "page_size") { try await agents.listSkillGroups(.with { $0.pageSize = 501 }) }
        await expectCode(.invalidArgument, containing: "page_token") { try await agents.listAgents(.with { $0.pageToken = "garbage" }) }

        // StartConversation names a group that does not exist: NOT_FOUND, nothing stored.
        let shopper = uniqueID("shopper")
        await expectCode(.notFound, containing: "no-such-group") {
          try await chat.startConversation(.with {
            $0.requestID = uniqueID("req"); $0.shopperID = shopper; $0.channel = .web; $0.skillGroupID = "no-such-group"; $0.initialMessage = "hi"
          })
        }
        #expect(try await chat.listConversations(.with { $0.shopperID = shopper }).conversations.isEmpty)

        // Assign, transfer, close, queue position.
        let queued = try await Self.start(chat, group: group.skillGroupID)
        let notOnline = await richError(.failedPrecondition) {
          try await chat.assignConversation(.with { $0.conversationID = queued.conversationID; $0.agentID = agent.agentID })
        }
        #expect(notOnline?.details.compactMap(\.errorInfo).first?.reason == "AGENT_NOT_ONLINE")
        let nobody = await richError(.failedPrecondition) {
          try await chat.assignConversation(.with { $0.conversationID = queued.conversationID })
        }
        #expect(nobody?.details.compactMap(\.errorInfo).first?.reason == "NO_AVAILABLE_AGENT")
        await expectCode(.permissionDenied, containing: "override_capacity") {
          try await mesh.withGateway(as: .agent(agent.agentID)) { own in
            try await Chat(wrapping: own).assignConversation(.with {
              $0.conversationID = queued.conversationID; $0.agentID = agent.agentID; $0.overrideCapacity = true
            })
          }
        }
        await expectCode(.invalidArgument, containing: "reason") {
          try await chat.transferConversation(.with { $0.conversationID = queued.conversationID; $0.toSkillGroupID = group.skillGroupID })
        }
        await expectCode(.invalidArgument, containing: "target") {
          try await chat.transferConversation(.with { $0.conversationID = queued.conversationID; $0.reason = "x" })
        }
        await expectCode(.notFound) {
          try await chat.transferConversation(.with { $0.conversationID = queued.conversationID; $0.toSkillGroupID = "no-such-group"; $0.reason = "x" })
        }
        await expectCode(.invalidArgument, containing: "reason") {
          try await chat.closeConversation(.with { $0.conversationID = queued.conversationID })
        }
        await expectCode(.aborted) {
          try await chat.closeConversation(.with { $0.conversationID = queued.conversationID; $0.reason = .abandoned; $0.expectedVersion = 99 })
        }
        await expectCode(.invalidArgument, containing: "page_size") { try await chat.listConversations(.with { $0.pageSize = 501 }) }
        let unchanged = try await chat.getConversation(.with { $0.conversationID = queued.conversationID })
        #expect(unchanged.status == .queued && unchanged.version == queued.version && unchanged.lastSequence == queued.lastSequence)

        // A supervisor assigns it explicitly once the agent is online.
        _ = try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online })
        let assigned = try await chat.getConversation(.with { $0.conversationID = queued.conversationID })
        #expect(assigned.status == .active && assigned.assignedAgentID == agent.agentID, "going online pulled it")
        let notQueued = await richError(.failedPrecondition) {
          try await chat.assignConversation(.with { $0.conversationID = queued.conversationID; $0.agentID = agent.agentID })
        }
        #expect(notQueued?.details.compactMap(\.errorInfo).first?.reason == "CONVERSATION_NOT_QUEUED")
        let same = await richError(.failedPrecondition) {
          try await chat.transferConversation(.with { $0.conversationID = queued.conversationID; $0.toAgentID = agent.agentID; $0.reason = "x" })
        }
        #expect(same?.details.compactMap(\.errorInfo).first?.reason == "TRANSFER_TO_CURRENT_AGENT")
        _ = try await chat.closeConversation(.with { $0.conversationID = queued.conversationID; $0.reason = .spam })
        let closedTransfer = await richError(.failedPrecondition) {
          try await chat.transferConversation(.with { $0.conversationID = queued.conversationID; $0.toSkillGroupID = group.skillGroupID; $0.reason = "x" })
        }
        #expect(closedTransfer?.details.compactMap(\.errorInfo).first?.reason == "CONVERSATION_CLOSED")
        _ = try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .offline })
      }
    }

    @Test("50 conversations started at once against 10 slots: exactly 10 assigned, 40 queued in distinct places")
    func concurrentStarts() async throws {
      try await mesh.withGateway { grpc in
        let agents = Agents(wrapping: grpc)
        let chat = Chat(wrapping: grpc)
        let group = try await Self.group(agents)
        var staff: [Support_Chat_V1_Agent] = []
        for index in 0..<5 {
          let agent = try await Self.agent(agents, "Slot Agent \(index)", capacity: 2, groups: [group.skillGroupID])
          staff.append(try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online }))
        }
        let started = try await withThrowingTaskGroup(of: Support_Chat_V1_Conversation.self) { tasks in
          for _ in 0..<50 { tasks.addTask { try await Self.start(chat, group: group.skillGroupID) } }
          var all: [Support_Chat_V1_Conversation] = []
          for try await conversation in tasks { all.append(conversation) }
          return all
        }
        #expect(started.count == 50)
        var current: [Support_Chat_V1_Conversation] = []
        for conversation in started {
          current.append(try await chat.getConversation(.with { $0.conversationID = conversation.conversationID }))
        }
        let active = current.filter { $0.status == .active }
        let queued = current.filter { $0.status == .queued }
        #expect(active.count == 10 && queued.count == 40)
        #expect(queued.map(\.queuePosition).sorted() == Array(1...40))
        let perAgent = Dictionary(grouping: active, by: \.assignedAgentID).mapValues(\.count)
        #expect(perAgent.count == 5 && perAgent.values.allSatisfy { $0 == 2 })
        let loads = try await agents.listAgents(.with { $0.skillGroupID = group.skillGroupID })
        #expect(loads.agents.count == 5 && loads.agents.allSatisfy { $0.currentLoad == 2 && $0.currentLoad <= $0.maxConcurrentConversations })
        let skillGroup = try await agents.getSkillGroup(.with { $0.skillGroupID = group.skillGroupID })
        #expect(skillGroup.onlineAgentCount == 5 && skillGroup.queuedConversationCount == 40)
        // The queue pages in order: positions 1..40 over pages of 15.
        var positions: [Int32] = []
        var token = ""
        repeat {
          let page = try await chat.listConversations(.with {
            $0.skillGroupID = group.skillGroupID; $0.statuses = [.queued]; $0.pageSize = 15; $0.pageToken = token
          })
          positions += page.conversations.map(\.queuePosition)
          token = page.nextPageToken
        } while !token.isEmpty
        #expect(positions == Array(1...40))
        for agent in staff { _ = try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .offline }) }
      }
    }
  }
}

extension Google_Protobuf_Duration {
  var microsecondsForTest: Int64 { seconds * 1_000_000 + Int64(nanos / 1000) }
}
