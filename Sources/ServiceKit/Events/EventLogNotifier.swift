import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Wakes the process's event streams when its outbox gets new events: ONE connection per
/// process LISTENs on the schema's channel and fans each notification out to every waiting
/// stream (not one listening connection per stream).
///
/// A notification is only a wake-up: streams also poll (every second), so a notification lost
/// while the listening connection is re-established delays an event by at most a poll, and
/// after every (re)connect all streams are woken, since events may have committed meanwhile.
public final class EventLogNotifier: Service, Sendable {
  let client: PostgresClient
  public let channel: String
  let logger: Logger
  private let state = Mutex<State>(State())

  struct State {
    var generation: UInt64 = 0
    var nextID = 0
    var waiters: [Int: WakeSlot] = [:]
    var listening = false
  }

  public init(client: PostgresClient, channel: String, logger: Logger) {
    self.client = client
    self.channel = channel
    self.logger = logger
  }

  /// Counts wake-ups; a stream reads it before each read and waits for it to move.
  public var generation: UInt64 { state.withLock { $0.generation } }

  /// Whether the LISTEN is established right now (for tests and health of the fast path).
  public var isListening: Bool { state.withLock { $0.listening } }

  /// Returns once the generation has moved past `seen` (a notification arrived), after
  /// `timeout`, or when the task is cancelled, whichever comes first.
  public func wait(after seen: UInt64, timeout: Duration) async {
    let slot = WakeSlot()
    let id: Int? = state.withLock { state in
      guard state.generation == seen else { return nil }
      state.nextID += 1
      state.waiters[state.nextID] = slot
      return state.nextID
    }
    guard let id else { return }
    defer { _ = state.withLock { $0.waiters.removeValue(forKey: id) } }
    let timer = Task {
      try? await Task.sleep(for: timeout)
      slot.fire()
    }
    defer { timer.cancel() }
    await withTaskCancellationHandler {
      await slot.wait()
    } onCancel: {
      slot.fire()
    }
  }

  /// Wakes every waiting stream.
  public func signal() {
    let slots = state.withLock { state in
      state.generation &+= 1
      return Array(state.waiters.values)
    }
    for slot in slots { slot.fire() }
  }

  public func run() async throws {
    await cancelWhenGracefulShutdown { await self.listen() }
  }

  /// Listens until cancelled, re-establishing the LISTEN after any failure.
  func listen() async {
    while !Task.isCancelled {
      do {
        try await client.withOpenConnection { connection in
          try await connection.listen(on: self.channel) { notifications in
            self.state.withLock { $0.listening = true }
            defer { self.state.withLock { $0.listening = false } }
            self.signal()
            for try await _ in notifications { self.signal() }
          }
        }
      } catch {
        if Task.isCancelled { break }
        logger.warning("event notifications interrupted; streams poll meanwhile", metadata: ["channel": "\(channel)", "error": "\(String(reflecting: error))"])
      }
      try? await Task.sleep(for: .seconds(1))
    }
  }
}

/// One waiter: fired once by a notification, its timeout or its cancellation.
final class WakeSlot: Sendable {
  private let state = Mutex<(continuation: CheckedContinuation<Void, Never>?, fired: Bool)>((nil, false))

  func fire() {
    let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
      state.fired = true
      defer { state.continuation = nil }
      return state.continuation
    }
    continuation?.resume()
  }

  func wait() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let now = state.withLock { state -> Bool in
        if state.fired { return true }
        state.continuation = continuation
        return false
      }
      if now { continuation.resume() }
    }
  }
}
