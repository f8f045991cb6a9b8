import Logging
import Synchronization
import PostgresNIO

/// Asks the database `SELECT 1` every second. When it does not answer within a second the
/// process reports NOT_SERVING and its calls fail at once with UNAVAILABLE (see
/// `Database.reachability`) instead of each waiting for its deadline; when it answers again,
/// SERVING and calls flow.
///
/// The probe asks on a connection of its own (`client`, a pool of one), never the service's
/// pool: under load every pooled connection is busy, and a probe waiting its turn there would
/// take a saturated pool for a dead database and fail every call.
struct DatabaseProbe: Sendable {
  let database: Database
  let client: PostgresClient
  let health: HealthStatusStore
  let logger: Logger
  var interval: Duration = .seconds(1)
  var timeout: Duration = .seconds(1)

  func run() async {
    var reachable = true
    while !Task.isCancelled {
      let answered = await probe()
      if answered != reachable {
        reachable = answered
        database.reachability.set(answered)
        health.setAll(answered ? .serving : .notServing)
        if answered {
          logger.notice("database reachable again: serving")
        } else {
          logger.error("database unreachable: NOT_SERVING, calls fail fast with UNAVAILABLE")
        }
      }
      try? await Task.sleep(for: interval)
    }
  }

  /// One probe: true when `SELECT 1` answered within `timeout`. The query runs in a task of
  /// its own that the probe does not wait for: on a hung server it may never return, and a
  /// probe still outstanding counts as a failure rather than piling up another one.
  private func probe() async -> Bool {
    guard outstanding.begin() else { return false }
    let client = self.client
    let logger = self.logger
    let outstanding = self.outstanding
    let answer = await withTimeLimit(timeout) {
      defer { outstanding.end() }
      do {
        _ = try await client.withOpenConnection { connection in try await connection.query("SELECT 1", logger: logger).collect() }
        return true
      } catch {
        return false
      }
    }
    return answer ?? false
  }

  let outstanding = OutstandingProbe()
}

/// At most one probe query in flight.
final class OutstandingProbe: Sendable {
  private let busy = Mutex(false)
  func begin() -> Bool { busy.withLock { busy in if busy { return false }; busy = true; return true } }
  func end() { busy.withLock { $0 = false } }
}
