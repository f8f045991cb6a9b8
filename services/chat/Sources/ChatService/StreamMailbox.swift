import Synchronization

/// What a watch stream asked the hub for.
enum WatchTarget: Sendable, Hashable {
  /// Every event of one conversation (lower-cased id), stored and ephemeral.
  case conversation(String)
  /// The stored events an inbox filter accepts.
  case inbox(InboxFilter)
}

/// Which stored events concern an inbox (WatchInbox): the agent's, and the queue events of the
/// listed skill groups.
struct InboxFilter: Sendable, Hashable {
  var agentID: String
  var skillGroupIDs: Set<String>

  /// Kinds (ConversationEvent oneof field numbers) that move a conversation in or out of a queue.
  static let assigned = 7, transferred = 8, statusChanged = 9

  /// The agent is named by the event (assigned after it, or moved to or away from them), or
  /// the conversation is QUEUED in a listed group after it, or it leaves a listed group's
  /// queue (assigned, status changed, or transferred, also away to another group).
  @Sendable func concerns(_ row: TimelineRow) -> Bool {
    if !agentID.isEmpty && row.agentIDs.contains(agentID) { return true }
    guard !skillGroupIDs.isEmpty else { return false }
    if skillGroupIDs.contains(row.skillGroupID) {
      if row.status == .queued { return true }
      switch row.event.event {
      case .assigned, .transferred, .statusChanged: return true
      default: break
      }
    }
    if case .transferred(let transfer) = row.event.event, skillGroupIDs.contains(transfer.fromSkillGroupID) { return true }
    return false
  }
}

/// One watch stream's queue of deliveries from the hub, drained by the stream's handler.
///
/// Bounded: a stream that falls more than `capacity` deliveries behind (a slow client) is
/// marked lagged and its queue dropped, so the process's memory does not grow with it; the
/// handler then reads what it missed from the table (the truth), in order, and carries on.
final class StreamMailbox: Sendable {
  enum Delivery: Sendable {
    case event(TimelineRow)
    /// Time for a heartbeat; `position` is the hub's position when it was queued: every stored
    /// event up to it that concerns this stream was queued before it.
    case heartbeat(position: Int64)
  }

  struct Batch: Sendable {
    var deliveries: [Delivery]
    /// Deliveries were dropped since the last batch: catch up from storage.
    var lagged: Bool
  }

  private struct State {
    var queue: [Delivery] = []
    var lagged = false
    var finished = false
    var waiter: CheckedContinuation<Batch?, Never>?
  }

  let capacity: Int
  private let state = Mutex<State>(State())

  init(capacity: Int) {
    self.capacity = capacity
  }

  /// Queues one delivery and wakes the handler if it waits (resuming only schedules it).
  func push(_ delivery: Delivery) {
    state.withLock { state in
      guard !state.finished else { return }
      if state.queue.count >= capacity {
        state.lagged = true
        state.queue.removeAll(keepingCapacity: false)
      } else {
        state.queue.append(delivery)
      }
      guard let waiter = state.waiter else { return }
      state.waiter = nil
      let batch = Batch(deliveries: state.queue, lagged: state.lagged)
      state.queue = []
      state.lagged = false
      waiter.resume(returning: batch)
    }
  }

  /// Everything queued since the last call, waiting for at least one delivery; nil once the
  /// task is cancelled (the caller left, or the server drains).
  func next() async -> Batch? {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Batch?, Never>) in
        state.withLock { state in
          if state.finished || Task.isCancelled {
            continuation.resume(returning: nil)
          } else if !state.queue.isEmpty || state.lagged {
            let batch = Batch(deliveries: state.queue, lagged: state.lagged)
            state.queue = []
            state.lagged = false
            continuation.resume(returning: batch)
          } else {
            state.waiter = continuation
          }
        }
      }
    } onCancel: {
      finish()
    }
  }

  /// Ends the mailbox: a waiting or later `next()` returns nil.
  func finish() {
    state.withLock { state in
      state.finished = true
      state.queue = []
      state.waiter?.resume(returning: nil)
      state.waiter = nil
    }
  }
}
