import Synchronization

/// `operation`'s result, or nil when it takes longer than `limit`.
///
/// For work that may never finish: postgres-nio (1.33.2) leaves a query written to a connection
/// the server just closed waiting for good, and a hung server answers nothing. `operation` runs
/// in a task of its own that is left behind when the limit wins (nothing can stop a hung
/// query), and that does not inherit the caller's cancellation.
public func withTimeLimit<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
  let outcome = FirstOutcome<T?>()
  return await withCheckedContinuation { continuation in
    outcome.waiting(continuation)
    let timer = Task {
      try? await Task.sleep(for: limit)
      outcome.resume(nil)
    }
    Task {
      outcome.resume(await operation())
      timer.cancel()
    }
  }
}

/// Resumes a continuation with whichever outcome comes first; later ones are dropped.
final class FirstOutcome<Value: Sendable>: Sendable {
  private let state = Mutex<(continuation: CheckedContinuation<Value, Never>?, done: Bool)>((nil, false))

  /// Set before either outcome can arrive (in `withCheckedContinuation`'s body).
  func waiting(_ continuation: CheckedContinuation<Value, Never>) {
    state.withLock { $0.continuation = continuation }
  }

  func resume(_ value: Value) {
    let continuation = state.withLock { state -> CheckedContinuation<Value, Never>? in
      guard !state.done else { return nil }
      state.done = true
      defer { state.continuation = nil }
      return state.continuation
    }
    continuation?.resume(returning: value)
  }
}
