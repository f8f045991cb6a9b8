// The live chat streams' benchmark (scripts/bench-chat runs it; docs/benchmarks.md has results).
//
// Runs against a started mesh (./mesh run), through the gateway, with its admin API key.
//
// 1. Fan-out: WATCHERS concurrent WatchConversation streams on one conversation; messages are
//    sent one at a time, 20 a second; per message and watcher, the time from just before the
//    SendMessage call (an upper bound of its commit) to the message's arrival at the watcher.
// 2. Throughput: RATE messages a second for SECONDS over 100 conversations, each with two
//    watchers attached; the rate reached, SendMessage latency, whether every watcher got every
//    message, and the chat process's resident memory (sampled from /proc).
//
//   supportmesh-chatbench GATEWAY_PORT ADMIN_API_KEY_FILE CHAT_PID [WATCHERS=1000] [MESSAGES=200] [RATE=2000] [SECONDS=30]
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SupportCodec
import Synchronization

typealias Chat = Support_Chat_V1_ConversationService.Client<HTTP2ClientTransport.Posix>

func milliseconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func percentile(_ sorted: [Duration], _ p: Double) -> Double {
  guard !sorted.isEmpty else { return .nan }
  return milliseconds(sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))])
}

func summary(_ latencies: [Duration]) -> String {
  let sorted = latencies.sorted()
  return String(
    format: "n=%d p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms", sorted.count, percentile(sorted, 0.5), percentile(sorted, 0.9),
    percentile(sorted, 0.99), percentile(sorted, 1.0))
}

/// Resident memory of a process in MiB, from /proc/PID/status (VmRSS, or VmHWM for the peak).
func memory(_ pid: Int32, _ field: String) -> Double {
  guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
    let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
    let kib = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
  else { return .nan }
  return kib / 1024
}

/// A value shared by tasks (a Mutex itself cannot be captured by them).
final class Shared<Value: Sendable>: Sendable {
  private let mutex: Mutex<Value>
  init(_ value: Value) { mutex = Mutex(value) }
  func withLock<R: Sendable>(_ body: (inout sending Value) throws -> sending R) rethrows -> R { try mutex.withLock(body) }
}

/// Adds the API key to every call.
struct APIKey: ClientInterceptor {
  let key: String
  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingClientRequest<Input>, context: ClientContext,
    next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
  ) async throws -> StreamingClientResponse<Output> {
    var request = request
    request.metadata.replaceOrAddString(key, forKey: "x-api-key")
    return try await next(request, context)
  }
}

/// Arrival instants per message sequence, from every watcher.
final class Arrivals: Sendable {
  private let state = Mutex<(arrivals: [Int64: [ContinuousClock.Instant]], caughtUp: Int, messages: Int)>(([:], 0, 0))
  func caughtUp() { state.withLock { $0.caughtUp += 1 } }
  func arrived(_ sequence: Int64, at instant: ContinuousClock.Instant) {
    state.withLock { $0.arrivals[sequence, default: []].append(instant) }
  }
  func counted(_ count: Int) { state.withLock { $0.messages += count } }
  var caughtUpCount: Int { state.withLock { $0.caughtUp } }
  var messageCount: Int { state.withLock { $0.messages } }
  var all: [Int64: [ContinuousClock.Instant]] { state.withLock { $0.arrivals } }
}

@main
enum ChatBench {
  static func main() async throws {
    let arguments = CommandLine.arguments.dropFirst().map { $0 }
    guard arguments.count >= 3, let port = Int(arguments[0]), let chatPID = Int32(arguments[2]) else {
      FileHandle.standardError.write(Data(
        "usage: supportmesh-chatbench GATEWAY_PORT ADMIN_API_KEY_FILE CHAT_PID [WATCHERS=1000] [MESSAGES=200] [RATE=2000] [SECONDS=30]\n".utf8))
      exit(2)
    }
    // From a file, so the key never shows in the process list.
    let key = try String(contentsOfFile: arguments[1], encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    func number(_ index: Int, _ fallback: Int) -> Int { arguments.count > index ? Int(arguments[index]) ?? fallback : fallback }
    let watchers = number(3, 1000), messages = number(4, 200), rate = number(5, 2000), seconds = number(6, 30)

    // Several connections: one HTTP/2 connection's stream limit would queue the watchers.
    let clients = (0..<8).map { _ in
      GRPCClient(
        transport: try! HTTP2ClientTransport.Posix(
          target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext,
          config: .defaults { $0.http2.targetWindowSize = 8 * 1024 * 1024 }),
        interceptors: [APIKey(key: key)])
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      for client in clients { group.addTask { try await client.runConnections() } }
      let chats = clients.map { Chat(wrapping: $0) }
      print("chat RSS at start: \(String(format: "%.1f", memory(chatPID, "VmRSS"))) MiB")
      try await fanOut(chats, watchers: watchers, messages: messages, chatPID: chatPID)
      try await throughput(chats, rate: rate, seconds: seconds, chatPID: chatPID)
      for client in clients { client.beginGracefulShutdown() }
      try await group.waitForAll()
    }
  }

  static func start(_ chat: Chat, shopper: String) async throws -> Support_Chat_V1_Conversation {
    try await chat.startConversation(.with {
      $0.requestID = UUID().uuidString; $0.shopperID = shopper; $0.channel = .web; $0.initialMessage = "bench"
    })
  }

  static func send(_ chat: Chat, _ conversation: Support_Chat_V1_Conversation, _ text: String) async throws -> Support_Chat_V1_Message {
    try await chat.sendMessage(.with {
      $0.requestID = UUID().uuidString; $0.conversationID = conversation.conversationID
      $0.sender = .with { $0.kind = .shopper; $0.id = conversation.shopperID }; $0.text = text
    })
  }

  /// Watches `conversation` from its current end, reporting message arrivals, until cancelled.
  static func watch(_ chat: Chat, _ conversation: Support_Chat_V1_Conversation, into arrivals: Arrivals, keepInstants: Bool) async {
    do {
      try await chat.watchConversation(.with {
        $0.conversationID = conversation.conversationID; $0.afterSequence = conversation.lastSequence
      }) { response in
        // Each arrival is recorded as it comes: a watcher cancelled at the end loses nothing.
        for try await event in response.messages {
          switch event.event {
          case .caughtUp: arrivals.caughtUp()
          case .messagePosted:
            if keepInstants { arrivals.arrived(event.sequence, at: .now) } else { arrivals.counted(1) }
          default: break
          }
        }
      }
    } catch is CancellationError {
    } catch let error as RPCError where error.code == .cancelled {
    } catch {
      FileHandle.standardError.write(Data("watch ended: \(error)\n".utf8))
    }
  }

  static func fanOut(_ chats: [Chat], watchers: Int, messages: Int, chatPID: Int32) async throws {
    print("\n== fan-out: \(watchers) watchers on one conversation, \(messages) messages at 20/s ==")
    let conversation = try await start(chats[0], shopper: "bench-fanout")
    let arrivals = Arrivals()
    let sent = Shared<[Int64: ContinuousClock.Instant]>([:])
    try await withThrowingTaskGroup(of: Void.self) { group in
      for index in 0..<watchers {
        group.addTask { await watch(chats[index % chats.count], conversation, into: arrivals, keepInstants: true) }
      }
      let ready = ContinuousClock.now
      while arrivals.caughtUpCount < watchers {
        if ContinuousClock.now - ready > .seconds(60) { throw CancellationError() }
        try await Task.sleep(for: .milliseconds(50))
      }
      print("all watchers caught up in \(ContinuousClock.now - ready); chat RSS \(String(format: "%.1f", memory(chatPID, "VmRSS"))) MiB")
      var lastSequence: Int64 = 0
      for index in 0..<messages {
        let before = ContinuousClock.now
        let message = try await send(chats[index % chats.count], conversation, "fan-out \(index)")
        sent.withLock { $0[message.sequence] = before }
        lastSequence = message.sequence
        try await Task.sleep(until: before + .milliseconds(50))
      }
      let waiting = ContinuousClock.now
      while (arrivals.all[lastSequence]?.count ?? 0) < watchers && ContinuousClock.now - waiting < .seconds(30) {
        try await Task.sleep(for: .milliseconds(100))
      }
      group.cancelAll()
    }
    let starts = sent.withLock { $0 }
    let all = arrivals.all
    var latencies: [Duration] = []
    var missing = 0
    for (sequence, start) in starts {
      let got = all[sequence] ?? []
      missing += watchers - got.count
      latencies += got.map { $0 - start }
    }
    print("send start -> arrival at every watcher: \(summary(latencies)); deliveries missing: \(missing)")
    // One slow message is 1,000 slow deliveries, half a percentile: name the slowest ones.
    let first = starts.keys.min() ?? 1
    let slowest = starts.map { sequence, start -> (Int64, Double, Double) in
      let each = (all[sequence] ?? []).map { $0 - start }.sorted()
      return (sequence - first + 1, percentile(each, 0.5), percentile(each, 1.0))
    }.sorted { $0.2 > $1.2 }.prefix(5)
    print("slowest messages (number: p50 / last arrival): " + slowest.map { String(format: "%d: %.0f / %.0f ms", $0.0, $0.1, $0.2) }.joined(separator: ", "))
    print(String(format: "chat RSS %.1f MiB, peak %.1f MiB", memory(chatPID, "VmRSS"), memory(chatPID, "VmHWM")))
  }

  static func throughput(_ chats: [Chat], rate: Int, seconds: Int, chatPID: Int32) async throws {
    let conversationCount = 100, watchersEach = 2
    print("\n== throughput: \(rate) messages/s for \(seconds) s over \(conversationCount) conversations, \(watchersEach) watchers each ==")
    var conversations: [Support_Chat_V1_Conversation] = []
    for index in 0..<conversationCount { conversations.append(try await start(chats[index % chats.count], shopper: "bench-\(index)")) }
    let arrivals = Arrivals()
    let total = rate * seconds
    let next = Shared<Int>(0)
    let results = Shared<(latencies: [Duration], errors: Int, last: String)>(([], 0, ""))
    let peak = Shared<Double>(0)
    let targets = conversations
    var elapsed: Duration = .zero
    try await withThrowingTaskGroup(of: Void.self) { watching in
      for (index, conversation) in targets.enumerated() {
        for copy in 0..<watchersEach {
          watching.addTask { await watch(chats[(index + copy) % chats.count], conversation, into: arrivals, keepInstants: false) }
        }
      }
      while arrivals.caughtUpCount < conversationCount * watchersEach { try await Task.sleep(for: .milliseconds(50)) }
      watching.addTask {
        while !Task.isCancelled {
          let rss = memory(chatPID, "VmRSS")
          peak.withLock { $0 = max($0, rss) }
          try await Task.sleep(for: .milliseconds(250))
        }
      }
      let begin = ContinuousClock.now
      let interval = Duration.seconds(1) / rate
      try await withThrowingTaskGroup(of: Void.self) { senders in
        for sender in 0..<256 {
          senders.addTask {
            while true {
              let index = next.withLock { value in defer { value += 1 }; return value }
              guard index < total else { return }
              let due = begin + interval * index
              if due > .now { try await Task.sleep(until: due) }
              let before = ContinuousClock.now
              do {
                _ = try await send(chats[sender % chats.count], targets[index % targets.count], "throughput \(index)")
                let took = ContinuousClock.now - before
                results.withLock { $0.latencies.append(took) }
              } catch {
                results.withLock { $0.errors += 1; $0.last = "\(error)" }
              }
            }
          }
        }
        try await senders.waitForAll()
      }
      elapsed = ContinuousClock.now - begin
      let expected = (total - results.withLock { $0.errors }) * watchersEach
      let waiting = ContinuousClock.now
      while arrivals.messageCount < expected && ContinuousClock.now - waiting < .seconds(30) { try await Task.sleep(for: .milliseconds(100)) }
      watching.cancelAll()
    }
    let (latencies, errors, last) = results.withLock { ($0.latencies, $0.errors, $0.last) }
    let reached = Double(latencies.count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    print(String(format: "sent %d OK, %d failed in %.1f s: %.0f messages/s", latencies.count, errors, milliseconds(elapsed) / 1000, reached))
    if errors > 0 { print("last error: \(last)") }
    print("SendMessage latency: \(summary(latencies))")
    print("deliveries: \(arrivals.messageCount) of \(latencies.count * watchersEach) expected")
    print(String(format: "chat RSS: peak sampled %.1f MiB, VmHWM %.1f MiB", peak.withLock { $0 }, memory(chatPID, "VmHWM")))
  }
}
