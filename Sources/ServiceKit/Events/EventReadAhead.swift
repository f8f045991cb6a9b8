import Synchronization
import SupportCodec

/// The stream's messages read ahead of the subscription's applier, so that the applier takes
/// whatever has arrived and applies it in one transaction: one commit for many events when
/// behind, one per event when caught up. Bounded: the reader waits while it is full, which
/// keeps HTTP/2 flow control pushing back on the producer.
final class EventReadAhead: Sendable {
  enum Item: Sendable {
    case event(EventEnvelope)
    case heartbeat(Support_Events_V1_Heartbeat)
  }

  private struct State {
    var items: [Item] = []
    var closed = false
    var taker: CheckedContinuation<Void, Never>?
    var pusher: CheckedContinuation<Void, Never>?
  }

  private let state = Mutex(State())
  let capacity: Int

  init(capacity: Int) {
    self.capacity = max(1, capacity)
  }

  /// Adds an item, waiting while full; false once closed (the item is dropped).
  func push(_ item: Item) async -> Bool {
    while true {
      let (accepted, closed, taker) = state.withLock { state -> (Bool, Bool, CheckedContinuation<Void, Never>?) in
        if state.closed { return (false, true, nil) }
        guard state.items.count < capacity else { return (false, false, nil) }
        state.items.append(item)
        defer { state.taker = nil }
        return (true, false, state.taker)
      }
      taker?.resume()
      if accepted { return true }
      if closed { return false }
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let now = state.withLock { state -> Bool in
          if state.closed || state.items.count < capacity { return true }
          state.pusher = continuation
          return false
        }
        if now { continuation.resume() }
      }
    }
  }

  /// Waits for at least one item and returns up to `limit`, oldest first; empty once closed
  /// and drained.
  func take(limit: Int) async -> [Item] {
    while true {
      let (batch, closed, pusher) = state.withLock { state -> ([Item], Bool, CheckedContinuation<Void, Never>?) in
        guard !state.items.isEmpty else { return ([], state.closed, nil) }
        let count = min(limit, state.items.count)
        let batch = Array(state.items.prefix(count))
        state.items.removeFirst(count)
        defer { state.pusher = nil }
        return (batch, false, state.pusher)
      }
      pusher?.resume()
      if !batch.isEmpty || closed { return batch }
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let now = state.withLock { state -> Bool in
          if state.closed || !state.items.isEmpty { return true }
          state.taker = continuation
          return false
        }
        if now { continuation.resume() }
      }
    }
  }

  /// Ends the read-ahead: wakes both sides; `take` drains what is left, then returns empty.
  func close() {
    let (taker, pusher) = state.withLock { state -> (CheckedContinuation<Void, Never>?, CheckedContinuation<Void, Never>?) in
      state.closed = true
      defer { state.taker = nil; state.pusher = nil }
      return (state.taker, state.pusher)
    }
    taker?.resume()
    pusher?.resume()
  }
}
