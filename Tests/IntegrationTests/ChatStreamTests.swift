import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceKit
import SupportCodec
import SwiftProtobuf
import Synchronization
import TestSupport
import Testing

typealias ChatEvent = Support_Chat_V1_ConversationEvent
typealias ChatClient = Support_Chat_V1_ConversationService.Client<HTTP2ClientTransport.Posix>

extension MeshTests {
  /// WatchConversation, WatchInbox, SendTypingIndicator and MarkRead through the gateway (and
  /// a second chat process on the same database).
  @Suite("Chat watch streams")
  struct ChatStreamTests {
    static func start(_ chat: ChatClient, shopper: String, skillGroup: String = "") async throws -> Support_Chat_V1_Conversation {
      try await chat.startConversation(.with {
        $0.requestID = uniqueID("req"); $0.shopperID = shopper; $0.channel = .web; $0.skillGroupID = skillGroup
        $0.initialMessage = "您好, is anyone there?"
      })
    }

    @discardableResult
    static func send(_ chat: ChatClient, _ conversationID: String, shopper: String, _ text: String) async throws -> Support_Chat_V1_Message {
      try await chat.sendMessage(.with {
        $0.requestID = uniqueID("msg"); $0.conversationID = conversationID
        $0.sender = .with { $0.kind = .shopper; $0.id = shopper }; $0.text = text
      })
    }

    static func stored(_ events: [ChatEvent]) -> [ChatEvent] {
      events.filter {
        switch $0.event {
        case .typing, .caughtUp, .heartbeat, .queuePosition, .none: false
        default: true
        }
      }
    }

    @Test("a watcher gets replay, CaughtUp, then messages, read markers and typing live, in order")
    func orderedDelivery() async throws {
      let shopper = uniqueID("shopper")
      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let chat = ChatClient(wrapping: grpc)
        let conversation = try await Self.start(chat, shopper: shopper)
        let id = conversation.conversationID
        let watcher = Watch.conversation(chat, id, after: 0)
        defer { watcher.stop() }
        let caughtUp = try await watcher.wait { $0.contains(where: \.isCaughtUp) }
        #expect(Self.stored(caughtUp).map(\.sequence) == Array(1...conversation.lastSequence))
        #expect(caughtUp.first?.statusChanged.status == .queued && caughtUp.last?.sequence == conversation.lastSequence)

        let message = try await Self.send(chat, id, shopper: shopper, "order E1, please")
        let read = try await chat.markRead(.with {
          $0.conversationID = id; $0.reader = .with { $0.kind = .shopper }; $0.readUpToSequence = message.sequence
        })
        #expect(read.readUpToSequence == message.sequence && read.sequence == message.sequence + 1)
        let typing = try await chat.sendTypingIndicator(.with { $0.conversationID = id; $0.actor = .with { $0.kind = .shopper }; $0.typing = true })
        let expiry = typing.expireTime.date.timeIntervalSinceNow
        #expect(expiry > 3 && expiry <= 5.5, "a typing indicator lasts about 5 s")

        let events = try await watcher.wait { $0.contains { $0.isTyping } }
        let live = events.drop { !$0.isCaughtUp }.dropFirst().filter { !$0.isHeartbeat }
        #expect(live.map(\.sequence) == [message.sequence, read.sequence, read.sequence], "typing carries the latest stored sequence")
        #expect(live[0].messagePosted.messageID == message.messageID)
        #expect(live[1].read.readUpToSequence == message.sequence && live[1].read.reader.id == shopper)
        #expect(live[2].typing.typing && live[2].typing.actor.id == shopper && live[2].conversationID == id)

        // Stored: the read marker is on the conversation and replays; typing does not.
        let after = try await chat.getConversation(.with { $0.conversationID = id })
        #expect(after.shopperReadSequence == message.sequence && after.lastSequence == read.sequence)
        #expect(after.version == conversation.version, "read markers do not change the resource version")
        let replay = Watch.conversation(chat, id, after: message.sequence - 1)
        defer { replay.stop() }
        let replayed = try await replay.wait { $0.contains(where: \.isCaughtUp) }
        #expect(replayed.filter { !$0.isHeartbeat }.map(\.sequence) == [message.sequence, read.sequence, read.sequence])
        #expect(replayed.contains(where: \.isRead) && !replayed.contains(where: \.isTyping))

        // A lower marker is a no-op that reports the current one.
        let lower = try await chat.markRead(.with { $0.conversationID = id; $0.reader = .with { $0.kind = .shopper }; $0.readUpToSequence = 1 })
        #expect(lower.readUpToSequence == message.sequence && lower.sequence == 0)
      }
    }

    @Test("concurrent messages (written in batches): every call gets its own answer, sequences stay consecutive, retries return the first message")
    func concurrentMessages() async throws {
      try await mesh.withGateway(as: .admin) { grpc in
        let chat = ChatClient(wrapping: grpc)
        let shoppers = (0..<4).map { _ in uniqueID("shopper") }
        var conversations: [Support_Chat_V1_Conversation] = []
        for shopper in shoppers { conversations.append(try await Self.start(chat, shopper: shopper)) }
        let closedShopper = uniqueID("shopper")
        let closed = try await Self.start(chat, shopper: closedShopper)
        _ = try await chat.closeConversation(.with {
          $0.conversationID = closed.conversationID; $0.reason = .resolved; $0.skipRatingInvitation = true
        })
        let closedSequence = try await chat.getConversation(.with { $0.conversationID = closed.conversationID }).lastSequence
        // One message each, written before: its request id is then retried (same content) and
        // reused (other content) among the concurrent calls.
        var earlier: [Support_Chat_V1_Message] = []
        for (conversation, shopper) in zip(conversations, shoppers) {
          earlier.append(try await Self.send(chat, conversation.conversationID, shopper: shopper, "before"))
        }
        let watcher = Watch.conversation(chat, conversations[0].conversationID, after: earlier[0].sequence)
        defer { watcher.stop() }
        _ = try await watcher.wait { $0.contains(where: \.isCaughtUp) }

        enum Call: Sendable { case new(Int, String), pair(Int, String), retry(Int), reuse(Int), closed }
        func request(_ call: Call) -> Support_Chat_V1_SendMessageRequest {
          .with {
            switch call {
            case .new(let index, let text), .pair(let index, let text):
              $0.conversationID = conversations[index].conversationID; $0.text = text
              $0.sender = .with { $0.kind = .shopper; $0.id = shoppers[index] }
              if case .pair = call { $0.requestID = "pair-\(conversations[index].conversationID)-\(text)" } else { $0.requestID = uniqueID("msg") }
            case .retry(let index), .reuse(let index):
              $0.conversationID = conversations[index].conversationID; $0.requestID = earlier[index].requestID
              $0.sender = .with { $0.kind = .shopper; $0.id = shoppers[index] }
              if case .retry = call { $0.text = "before" } else { $0.text = "other content" }
            case .closed:
              $0.conversationID = closed.conversationID; $0.requestID = uniqueID("msg"); $0.text = "too late"
              $0.sender = .with { $0.kind = .shopper; $0.id = closedShopper }
            }
          }
        }
        var calls: [Call] = []
        for index in 0..<4 {
          calls += (0..<15).map { .new(index, "m\($0)") }
          // The same request id twice at once: one message, both calls answered with it.
          calls += [.pair(index, "p"), .pair(index, "p"), .retry(index), .reuse(index), .closed]
        }
        let requests = calls.map(request)
        let m = try mesh
        func rolledBack() async throws -> Double {
          let metrics = try await m.http(m.httpPort("chat"), "/metrics").1
          let line = metrics.split(separator: "\n").first { $0.hasPrefix("db_transactions_total{outcome=\"rolled_back\"}") }
          return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        let rolledBackBefore = try await rolledBack()
        let answers = await withTaskGroup(of: (Int, Result<Support_Chat_V1_Message, any Error>).self) { group in
          for (position, sent) in requests.enumerated() {
            group.addTask {
              do { return (position, .success(try await chat.sendMessage(sent))) } catch { return (position, .failure(error)) }
            }
          }
          var answers: [Int: Result<Support_Chat_V1_Message, any Error>] = [:]
          for await (position, result) in group { answers[position] = result }
          return answers
        }

        // A refused message (closed conversation, reused request id) is an answer, not a failure of
        // the batch it was written with: nothing was rolled back and written again.
        #expect(try await rolledBack() == rolledBackBefore, "no batch rolled back")
        var pairIDs: [Int: Set<String>] = [:]
        for (position, call) in calls.enumerated() {
          let answer = answers[position]!
          switch call {
          case .new(let index, let text):
            let message = try answer.get()
            #expect(message.text == text && message.conversationID == conversations[index].conversationID)
          case .pair(let index, _):
            pairIDs[index, default: []].insert(try answer.get().messageID)
          case .retry(let index):
            #expect(try answer.get() == earlier[index], "a retry returns the first message")
          case .reuse:
            #expect((answer.failure as? RPCError)?.code == .alreadyExists, "\(String(describing: answer.failure))")
          case .closed:
            #expect((answer.failure as? RPCError)?.code == .failedPrecondition, "\(String(describing: answer.failure))")
          }
        }
        for index in 0..<4 {
          #expect(pairIDs[index]?.count == 1, "the two calls with one request id got one message")
          let messages = try await chat.listMessages(.with {
            $0.conversationID = conversations[index].conversationID; $0.pageSize = 100
          }).messages.filter { $0.sequence > earlier[index].sequence }
          #expect(messages.count == 15 + 1, "no message lost, none twice")
          let current = try await chat.getConversation(.with { $0.conversationID = conversations[index].conversationID })
          #expect(messages.map(\.sequence) == Array((earlier[index].sequence + 1)...current.lastSequence), "consecutive sequences, no gap")
          #expect(Set(messages.map(\.text)) == Set(["p"] + (0..<15).map { "m\($0)" }))
        }
        #expect(try await chat.getConversation(.with { $0.conversationID = closed.conversationID }).lastSequence == closedSequence)
        // The watcher got every new message, in sequence order, once.
        let last = try await chat.getConversation(.with { $0.conversationID = conversations[0].conversationID }).lastSequence
        let live = try await watcher.wait { Self.stored($0).last?.sequence == last }
        #expect(Self.stored(live).map(\.sequence) == Array((earlier[0].sequence + 1)...last))
      }
    }

    @Test("a watcher that reconnects with the last sequence it saw gets exactly what it missed")
    func resume() async throws {
      let shopper = uniqueID("shopper")
      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let chat = ChatClient(wrapping: grpc)
        let conversation = try await Self.start(chat, shopper: shopper)
        let id = conversation.conversationID
        let first = Watch.conversation(chat, id, after: 0)
        let total = 40
        // Messages keep coming while the first watcher disconnects mid-stream.
        let sending = Task {
          for index in 0..<total { try await Self.send(chat, id, shopper: shopper, "message \(index)") }
        }
        _ = try await first.wait { Self.stored($0).count >= Int(conversation.lastSequence) + 10 }
        first.stop()
        let firstEvents = Self.stored(first.events)
        let seenFirst = firstEvents.map(\.sequence)
        try await sending.value
        let final = try await chat.getConversation(.with { $0.conversationID = id }).lastSequence
        #expect(final == conversation.lastSequence + Int64(total))

        let second = Watch.conversation(chat, id, after: seenFirst.last ?? 0)
        defer { second.stop() }
        let resumed = try await second.wait { Self.stored($0).last?.sequence == final }
        let seenSecond = Self.stored(resumed).map(\.sequence)
        #expect(seenFirst + seenSecond == Array(1...final), "no gap and no duplicate across the reconnect")
        let messages = try await chat.listMessages(.with { $0.conversationID = id; $0.pageSize = 100 }).messages
        #expect((firstEvents + Self.stored(resumed)).compactMap { $0.isMessagePosted ? $0.messagePosted.messageID : nil } == messages.map(\.messageID))
      }
    }

    @Test("a watch of a conversation already CLOSED ends OK after the replay, also when asked only for what follows the close")
    func watchClosed() async throws {
      let shopper = uniqueID("shopper")
      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let chat = ChatClient(wrapping: grpc)
        let id = try await Self.start(chat, shopper: shopper).conversationID
        let closed = try await chat.closeConversation(.with { $0.conversationID = id; $0.reason = .shopperEnded })
        #expect(closed.status == .closed)
        for after in [Int64(0), closed.lastSequence] {
          let watch = Watch.conversation(chat, id, after: after)
          defer { watch.stop() }
          let error = try await watch.waitForEnd()
          #expect(error == nil, "after \(after): ended \(String(describing: error))")
          #expect(Self.stored(watch.events).last?.sequence ?? after == closed.lastSequence)
        }
      }
    }

    @Test("watch, typing and read refuse bad input and strangers, and change nothing")
    func refusals() async throws {
      let shopper = uniqueID("shopper")
      let conversation = try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        try await Self.start(ChatClient(wrapping: grpc), shopper: shopper)
      }
      let id = conversation.conversationID
      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let chat = ChatClient(wrapping: grpc)
        await expectCode(.invalidArgument, containing: "conversation_id") { try await Watch.first(chat, "", after: 0) }
        await expectCode(.invalidArgument, containing: "after_sequence") { try await Watch.first(chat, id, after: -1) }
        await expectCode(.outOfRange) { try await Watch.first(chat, id, after: conversation.lastSequence + 1) }
        await expectCode(.notFound) { try await Watch.first(chat, UUID().uuidString, after: 0) }
        await expectCode(.outOfRange) {
          try await chat.markRead(.with { $0.conversationID = id; $0.reader = .with { $0.kind = .shopper }; $0.readUpToSequence = conversation.lastSequence + 1 })
        }
        await expectCode(.invalidArgument, containing: "read_up_to_sequence") {
          try await chat.markRead(.with { $0.conversationID = id; $0.reader = .with { $0.kind = .shopper }; $0.readUpToSequence = 0 })
        }
        await expectCode(.invalidArgument, containing: "reader") {
          try await chat.markRead(.with { $0.conversationID = id; $0.readUpToSequence = 1 })
        }
        await expectCode(.invalidArgument, containing: "actor") {
          try await chat.sendTypingIndicator(.with { $0.conversationID = id; $0.typing = true })
        }
        await expectCode(.notFound) {
          try await chat.sendTypingIndicator(.with { $0.conversationID = UUID().uuidString; $0.actor = .with { $0.kind = .shopper }; $0.typing = true })
        }
        await expectCode(.permissionDenied) {
          try await chat.watchInbox(.with { $0.skillGroupIds = ["general"] }) { for try await _ in $0.messages {} }
        }
      }
      try await mesh.withGateway(as: .shopper(uniqueID("stranger"))) { grpc in
        let chat = ChatClient(wrapping: grpc)
        await expectCode(.permissionDenied) { try await Watch.first(chat, id, after: 0) }
        await expectCode(.permissionDenied) {
          try await chat.markRead(.with { $0.conversationID = id; $0.reader = .with { $0.kind = .shopper }; $0.readUpToSequence = 1 })
        }
        await expectCode(.permissionDenied) {
          try await chat.sendTypingIndicator(.with { $0.conversationID = id; $0.actor = .with { $0.kind = .shopper }; $0.typing = true })
        }
      }
      try await mesh.withGateway(as: .agent(uniqueID("agent"))) { grpc in
        let chat = ChatClient(wrapping: grpc)
        await expectCode(.permissionDenied) { try await Watch.first(chat, id, after: 0) }
        await expectCode(.permissionDenied, containing: "agent_id") {
          try await chat.watchInbox(.with { $0.agentID = "someone-else" }) { for try await _ in $0.messages {} }
        }
        await expectCode(.invalidArgument, containing: "agent_id") {
          try await chat.watchInbox(.with { _ in }) { for try await _ in $0.messages {} }
        }
      }
      try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
        let chat = ChatClient(wrapping: grpc)
        await expectCode(.invalidArgument, containing: "after_sequence") {
          try await chat.watchInbox(.with { $0.skillGroupIds = ["general"]; $0.afterSequence = -1 }) { for try await _ in $0.messages {} }
        }
        await expectCode(.outOfRange) {
          try await chat.watchInbox(.with { $0.skillGroupIds = ["general"]; $0.afterSequence = Int64.max / 2 }) { for try await _ in $0.messages {} }
        }
        // A supervisor watches any conversation.
        let first = try await Watch.first(chat, id, after: 0)
        #expect(first.sequence == 1)
      }
      let unchanged = try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        try await ChatClient(wrapping: grpc).getConversation(.with { $0.conversationID = id })
      }
      #expect(unchanged.lastSequence == conversation.lastSequence && unchanged.shopperReadSequence == 0)
    }

    @Test("an inbox watching a queue gets its events by position and resumes after the last one")
    func inbox() async throws {
      let shopper = uniqueID("shopper")
      try await mesh.withGateway(as: .supervisor(uniqueID("supervisor"))) { grpc in
        let chat = ChatClient(wrapping: grpc)
        let watcher = Watch.inbox(chat, groups: ["general"], after: 0)
        let start = try await watcher.wait { $0.contains { $0.event.isCaughtUp } }
        #expect(start.count == 1, "after_sequence 0: no replay, just the position to resume from")
        let from = start[0].sequence

        let conversation = try await mesh.withGateway(as: .shopper(shopper)) { try await Self.start(ChatClient(wrapping: $0), shopper: shopper) }
        let id = conversation.conversationID
        let mine: @Sendable ([Support_Chat_V1_InboxEvent]) -> [Support_Chat_V1_InboxEvent] = { $0.filter { $0.event.conversationID == id } }
        let live = try await watcher.wait { mine($0).count == Int(conversation.lastSequence) }
        watcher.stop()
        #expect(mine(live).map(\.event.sequence) == Array(1...conversation.lastSequence))
        let positions = live.filter { !$0.event.isCaughtUp && !$0.event.isHeartbeat }.map(\.sequence)
        #expect(positions == positions.sorted() && Set(positions).count == positions.count && positions.allSatisfy { $0 > from })

        // Disconnected: a message; the resumed inbox starts right after the last position seen.
        let message = try await mesh.withGateway(as: .shopper(shopper)) { try await Self.send(ChatClient(wrapping: $0), id, shopper: shopper, "still waiting") }
        let resumed = Watch.inbox(chat, groups: ["general"], after: live.last!.sequence)
        defer { resumed.stop() }
        let more = try await resumed.wait { mine($0).contains { $0.event.messagePosted.messageID == message.messageID } }
        // Events after the last position seen; the CaughtUp marker may still say that position
        // (the message is numbered a moment after its commit, then arrives live).
        #expect(more.filter { !$0.event.isCaughtUp && !$0.event.isHeartbeat }.allSatisfy { $0.sequence > live.last!.sequence })
        #expect(more.allSatisfy { $0.sequence >= live.last!.sequence })
        #expect(mine(more).map(\.event.sequence) == [message.sequence])
      }
    }

    @Test("a second chat process: watchers see writes made through the other, and streams end UNAVAILABLE on shutdown")
    func secondInstance() async throws {
      let mesh = try mesh
      let second = try await SecondChat.start(mesh)
      defer { second.kill() }
      let shopper = uniqueID("shopper")
      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let viaGateway = ChatClient(wrapping: grpc)
        let conversation = try await Self.start(viaGateway, shopper: shopper)
        let id = conversation.conversationID
        try await second.withClient(as: Caller(subject: shopper, role: .shopper, scopes: [])) { direct in
          let onFirst = Watch.conversation(viaGateway, id, after: conversation.lastSequence)
          defer { onFirst.stop() }
          let onSecond = Watch.conversation(direct, id, after: conversation.lastSequence)
          _ = try await onFirst.wait { $0.contains(where: \.isCaughtUp) }
          _ = try await onSecond.wait { $0.contains(where: \.isCaughtUp) }

          let written2 = try await Self.send(direct, id, shopper: shopper, "written through the second process")
          let written1 = try await Self.send(viaGateway, id, shopper: shopper, "written through the first process")
          _ = try await direct.sendTypingIndicator(.with { $0.conversationID = id; $0.actor = .with { $0.kind = .shopper }; $0.typing = true })
          for watcher in [onFirst, onSecond] {
            let events = try await watcher.wait { $0.contains(where: \.isTyping) && Self.stored($0).count == 2 }
            #expect(Self.stored(events).map(\.messagePosted.messageID) == [written2.messageID, written1.messageID])
          }
          // Heartbeats (1 s on the second process) keep a quiet stream visibly alive.
          _ = try await onSecond.wait { $0.contains { $0.isHeartbeat && $0.sequence == written1.sequence } }
          // A stream that carries events gets none: a message every 200 ms for 3 s.
          let busyFrom = onSecond.events.count
          var lastSequence = written1.sequence
          for index in 0..<15 {
            lastSequence = try await Self.send(direct, id, shopper: shopper, "busy \(index)").sequence
            try await Task.sleep(for: .milliseconds(200))
          }
          let busy = Array(onSecond.events.dropFirst(busyFrom).drop { !$0.isMessagePosted })
          let posted = busy.filter { $0.isMessagePosted }.count, heartbeats = busy.filter { $0.isHeartbeat }.count
          #expect(posted == 15)
          #expect(heartbeats == 0, "heartbeats between messages 200 ms apart: \(busy.map { $0.event })")
          // Quiet again: heartbeats come back.
          let quietFrom = onSecond.events.count
          _ = try await onSecond.wait { $0.dropFirst(quietFrom).contains(where: \.isHeartbeat) }

          // SIGTERM: the open stream ends UNAVAILABLE at once instead of holding up the drain.
          let stopped = ContinuousClock.now
          second.terminate()
          let error = try await onSecond.waitForEnd()
          #expect((error as? RPCError)?.code == .unavailable, "\(String(describing: error))")
          #expect((error as? RPCError)?.message.contains("resume after sequence \(lastSequence)") == true)
          #expect(try await second.waitForExit() == 0)
          #expect(ContinuousClock.now - stopped < .seconds(10), "open streams do not hold up the drain")
        }
      }
    }
  }
}

extension Support_Chat_V1_ConversationEvent {
  var isCaughtUp: Bool { if case .caughtUp = event { true } else { false } }
  var isTyping: Bool { if case .typing = event { true } else { false } }
  var isHeartbeat: Bool { if case .heartbeat = event { true } else { false } }
  var isRead: Bool { if case .read = event { true } else { false } }
  var isMessagePosted: Bool { if case .messagePosted = event { true } else { false } }
}

/// Starts watch streams recorded by a WatchRecorder.
enum Watch {
  static func conversation(_ chat: ChatClient, _ id: String, after: Int64) -> WatchRecorder<ChatEvent> {
    WatchRecorder<ChatEvent> { record in
      try await chat.watchConversation(.with { $0.conversationID = id; $0.afterSequence = after }) { response in
        for try await event in response.messages { record(event) }
      }
    }
  }

  static func inbox(_ chat: ChatClient, groups: [String], after: Int64) -> WatchRecorder<Support_Chat_V1_InboxEvent> {
    WatchRecorder<Support_Chat_V1_InboxEvent> { record in
      try await chat.watchInbox(.with { $0.skillGroupIds = groups; $0.afterSequence = after }) { response in
        for try await event in response.messages { record(event) }
      }
    }
  }

  /// The first event of a watch (errors surface as thrown RPCErrors).
  static func first(_ chat: ChatClient, _ id: String, after: Int64) async throws -> ChatEvent {
    try await chat.watchConversation(.with { $0.conversationID = id; $0.afterSequence = after }) { response in
      for try await event in response.messages { return event }
      throw RPCError(code: .internalError, message: "the stream ended without an event")
    }
  }
}

/// Records what a watch stream delivers, from a task, until stopped or ended.
final class WatchRecorder<Event: Sendable>: Sendable {
  private let state = Mutex<(events: [Event], ended: Bool, error: (any Error)?)>(([], false, nil))
  private let task = Mutex<Task<Void, Never>?>(nil)

  var events: [Event] { state.withLock { $0.events } }

  init(_ body: @escaping @Sendable (@escaping @Sendable (Event) -> Void) async throws -> Void) {
    let started = Task { [self] in
      do {
        try await body { event in self.state.withLock { $0.events.append(event) } }
        self.state.withLock { $0.ended = true }
      } catch {
        self.state.withLock { $0.ended = true; $0.error = error }
      }
    }
    task.withLock { $0 = started }
  }

  /// Waits (up to 15 s) until the events satisfy `condition`; returns them.
  func wait(
    until condition: @Sendable ([Event]) -> Bool, sourceLocation: SourceLocation = #_sourceLocation
  ) async throws -> [Event] {
    let deadline = ContinuousClock.now + .seconds(15)
    while true {
      let (events, ended, error) = state.withLock { ($0.events, $0.ended, $0.error) }
      if condition(events) { return events }
      if ended || ContinuousClock.now > deadline {
        Issue.record("watch condition not met (ended: \(ended), error: \(String(describing: error))); got \(events)", sourceLocation: sourceLocation)
        throw MeshError("watch condition not met")
      }
      try await Task.sleep(for: .milliseconds(20))
    }
  }

  /// Waits (up to 15 s) for the stream to end by itself; its error, nil for OK.
  func waitForEnd() async throws -> (any Error)? {
    let deadline = ContinuousClock.now + .seconds(15)
    while ContinuousClock.now < deadline {
      let (ended, error) = state.withLock { ($0.ended, $0.error) }
      if ended { return error }
      try await Task.sleep(for: .milliseconds(20))
    }
    throw MeshError("the watch did not end within 15 s")
  }

  func stop() {
    task.withLock { $0?.cancel() }
  }
}

/// A second chat process on the mesh's database (the launcher runs one per service), reached
/// directly with a caller header signed with the mesh's shared secret, as the gateway would.
final class SecondChat: Sendable {
  let pid: pid_t
  let port: Int
  let signer: SignedCallerHeader
  /// Set once the process was reaped, so its pid is never signalled again.
  private let exited = Mutex<Int32?>(nil)

  init(pid: pid_t, port: Int, signer: SignedCallerHeader) {
    self.pid = pid
    self.port = port
    self.signer = signer
  }

  static func start(_ mesh: Mesh) async throws -> SecondChat {
    let config = ProcessInfo.processInfo.environment["SUPPORTMESH_BUILD_CONFIG"] ?? "debug"
    let binary = mesh.root.appendingPathComponent(".build/\(config)/supportmesh-chat").path
    let port = mesh.portBase + 60
    let secret = mesh.secrets.appendingPathComponent("caller-secret").path
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "DATABASE_URL")
    environment["SUPPORTMESH_GRPC_ADDR"] = "127.0.0.1:\(port)"
    environment["SUPPORTMESH_HTTP_ADDR"] = "127.0.0.1:\(port + 1)"
    environment["SUPPORTMESH_CALLER_SECRET_FILE"] = secret
    environment["SUPPORTMESH_DATABASE_URL"] = "postgres://chat:\(try mesh.databasePassword("chat"))@127.0.0.1:\(mesh.pgPort)/supportmesh"
    environment["SUPPORTMESH_CHAT_WATCH_HEARTBEAT_SECONDS"] = "1"
    environment["SUPPORTMESH_SHUTDOWN_GRACE_SECONDS"] = "20"
    let log = mesh.state.appendingPathComponent("second-chat.log").path
    let pid = try Mesh.spawn(binary, [], environment: environment, output: log)
    let second = SecondChat(pid: pid, port: port, signer: try SignedCallerHeader(secretFile: secret))
    let deadline = ContinuousClock.now + .seconds(60)
    while true {
      if let health = try? await mesh.http(port + 1, "/healthz"), health.0 == 200 { return second }
      if ContinuousClock.now > deadline {
        second.kill()
        throw MeshError("the second chat process was not healthy within 60 s:\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
      }
      try await Task.sleep(for: .milliseconds(200))
    }
  }

  func withClient<T: Sendable>(as caller: Caller, _ body: (ChatClient) async throws -> T) async throws -> T {
    try await withGRPCClient(
      transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext),
      interceptors: [SignedCallerInterceptor(signer: signer, caller: caller)]
    ) { client in try await body(ChatClient(wrapping: client)) }
  }

  func terminate() {
    exited.withLock { if $0 == nil { _ = Foundation.kill(pid, SIGTERM) } }
  }

  func kill() {
    exited.withLock { exited in
      guard exited == nil else { return }
      Foundation.kill(pid, SIGKILL)
      var status: Int32 = 0
      waitpid(pid, &status, 0)
      exited = status
    }
  }

  /// The exit status once the process ends (up to 30 s).
  func waitForExit() async throws -> Int32 {
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
      let reaped = exited.withLock { exited -> Int32? in
        if let exited { return exited }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        exited = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return exited
      }
      if let reaped { return reaped }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw MeshError("the second chat process did not exit within 30 s")
  }
}

/// Signs every call as `caller` for its method, as the gateway does.
struct SignedCallerInterceptor: ClientInterceptor {
  let signer: SignedCallerHeader
  let caller: Caller

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingClientRequest<Input>,
    context: ClientContext,
    next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
  ) async throws -> StreamingClientResponse<Output> {
    var request = request
    request.metadata.replaceOrAddString(
      signer.sign(caller, method: context.descriptor.fullyQualifiedMethod), forKey: SignedCallerHeader.metadataKey)
    return try await next(request, context)
  }
}

extension Result {
  /// The error of a failed result; nil for a success.
  fileprivate var failure: Failure? {
    if case .failure(let error) = self { error } else { nil }
  }
}
