import Synchronization

/// Lets one StartConversation per skill group at a time into the database in this process.
///
/// Starts of one group serialise on the group's row lock anyway (Routing's lock order); a
/// burst would otherwise park every pooled connection on that lock, starving the pool (and
/// the database probe, which then reports the database unreachable). Waiting here holds no
/// connection. The row lock still orders starts across processes.
final class GroupGate: Sendable {
  static let shared = GroupGate()

  /// Per held group, the callers waiting for it in arrival order.
  private let waiting = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])

  func serialize<T: Sendable>(_ group: String, _ body: () async throws -> T) async throws -> T {
    await acquire(group)
    defer { release(group) }
    return try await body()
  }

  private func acquire(_ group: String) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let enterNow = waiting.withLock { waiting -> Bool in
        guard waiting[group] != nil else {
          waiting[group] = []
          return true
        }
        waiting[group]!.append(continuation)
        return false
      }
      if enterNow { continuation.resume() }
    }
  }

  private func release(_ group: String) {
    let next = waiting.withLock { waiting -> CheckedContinuation<Void, Never>? in
      guard var queue = waiting[group], !queue.isEmpty else {
        waiting[group] = nil
        return nil
      }
      let first = queue.removeFirst()
      waiting[group] = queue
      return first
    }
    next?.resume()
  }
}
