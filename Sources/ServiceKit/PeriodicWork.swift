import Logging
import ServiceLifecycle

/// The loop every sweeper and folder runs: wait, work, wait again, until graceful shutdown.
///
/// A failed pass is logged as a warning and retried at the next interval (a database that is
/// down comes back; the work is idempotent by design, so a retry repeats nothing). Shutdown
/// cancels the wait and the pass in progress; a pass cut short by cancellation is not an error
/// and is not logged.
public enum PeriodicWork {
  /// Runs `pass` after `firstDelay`, then `interval` after each pass ends, until graceful
  /// shutdown. `what` names the work in the warning ("SLA sweep", "quality daily fold").
  public static func run(
    _ what: String, every interval: Duration, firstAfter firstDelay: Duration, logger: Logger,
    pass: @escaping @Sendable () async throws -> Void
  ) async {
    await cancelWhenGracefulShutdown {
      try? await Task.sleep(for: firstDelay)
      while !Task.isCancelled {
        do {
          try await pass()
        } catch {
          if Task.isCancelled { return }
          logger.warning("\(what) failed; retrying at the next interval", metadata: ["error": "\(String(reflecting: error))"])
        }
        try? await Task.sleep(for: interval)
      }
    }
  }
}
