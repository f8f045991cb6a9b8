import GRPCCore
import Logging
import Metrics
import PostgresNIO
import Synchronization

/// A service's PostgreSQL pool, with the pool's numbers as Prometheus metrics:
///
/// - `db_pool_max_connections`: the configured pool size;
/// - `db_pool_connections_in_use`: connections leased right now;
/// - `db_pool_wait_seconds`: how long a caller waited for a connection;
/// - `db_operation_seconds{kind}`: time holding a connection, for reads and transactions;
/// - `db_transactions_total{outcome}`: committed and rolled-back transactions.
///
/// Stores lease through `withConnection` (reads) or `withTransaction` (writes) and run their
/// queries on the connection they are given.
public struct Database: Sendable {
  public let client: PostgresClient
  private let inUse = InUseCounter()
  // Metric handles made once: every query passes through here.
  private let inUseGauge = Gauge(label: "db_pool_connections_in_use")
  private let waitTimer = Timer(label: "db_pool_wait_seconds")
  private let readTimer = Timer(label: "db_operation_seconds", dimensions: [("kind", "read")])
  private let transactionTimer = Timer(label: "db_operation_seconds", dimensions: [("kind", "transaction")])
  private let committed = Counter(label: "db_transactions_total", dimensions: [("outcome", "committed")])
  private let rolledBack = Counter(label: "db_transactions_total", dimensions: [("outcome", "rolled_back")])

  /// Whether the database answered the last probe (`DatabaseProbe`): while it does not, calls
  /// fail at once with UNAVAILABLE instead of queueing for a connection until their deadline.
  public let reachability: DatabaseReachability
  /// Longest wait for a pooled connection when the caller set no shorter deadline.
  public let acquireTimeout: Duration

  public init(client: PostgresClient, maxConnections: Int, acquireTimeout: Duration = .seconds(5)) {
    self.client = client
    self.reachability = DatabaseReachability()
    self.acquireTimeout = acquireTimeout
    Gauge(label: "db_pool_max_connections").record(maxConnections)
  }

  /// Leases a connection for `body` (outside any transaction).
  public func withConnection<Result: Sendable>(
    logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    try await onLeasedConnection(timer: readTimer, body)
  }

  /// Runs `body` in a transaction: committed when it returns, rolled back when it throws (the
  /// error `body` threw is rethrown as is, not wrapped).
  public func withTransaction<Result: Sendable>(
    logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    do {
      let result = try await onLeasedConnection(timer: transactionTimer) { connection in
        try await Self.transaction(on: connection, logger: logger, body)
      }
      committed.increment()
      return result
    } catch {
      rolledBack.increment()
      throw error
    }
  }

  /// BEGIN, `body`, COMMIT; ROLLBACK when `body` throws, unless the connection is closed.
  ///
  /// Not postgres-nio's `withTransaction`: it sends ROLLBACK on a connection the server has
  /// just closed, and postgres-nio (1.33.2) never answers a query written to a closed
  /// connection (the write fails with nobody to tell the waiting query). After a database
  /// crash every transaction in flight hung there for good, holding its caller to its
  /// deadline and its slot (a chat message batch) forever. The server rolled back the
  /// transaction of a connection that went away; there is nothing to send.
  static func transaction<Result: Sendable>(
    on connection: PostgresConnection, logger: Logger, _ body: @Sendable (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    try await connection.query("BEGIN", logger: logger)
    let result: Result
    do {
      result = try await body(connection)
    } catch {
      if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: logger) }
      throw error
    }
    try await connection.query("COMMIT", logger: logger)
    return result
  }

  /// Runs `body` on a pooled connection, the wait for the lease bounded by `leasing`, the time
  /// holding it recorded in `timer`.
  private func onLeasedConnection<Result: Sendable>(
    timer: Timer, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    let requested = ContinuousClock.now
    // `body` escapes into the task `withOpenConnection` abandons when the connection closes
    // under it; the lease's bookkeeping stays with this call.
    return try await leasing { lease in
      try await client.withOpenConnection(
        around: { watched in
          lease.granted()
          return try await measured(timer, requested: requested) { try await watched() }
        }, body)
    }
  }

  /// Runs `operation` (which leases a connection and calls `granted()` once it has one) so that
  /// the wait for the lease is bounded: by the caller's deadline, else by `acquireTimeout`.
  /// A wait that runs out is UNAVAILABLE (pool exhausted or database unreachable), and the
  /// pending lease is withdrawn, so a caller who is gone holds nothing.
  private func leasing<Result: Sendable>(_ operation: @escaping @Sendable (LeaseState) async throws -> Result) async throws -> Result {
    guard reachability.isReachable else {
      throw RPCError(code: .unavailable, message: "the database is unavailable, retry later")
    }
    let remaining = RequestContext.current?.remaining
    let limit = remaining.map { min(acquireTimeout, max($0, .zero)) } ?? acquireTimeout
    let lease = LeaseState()
    return try await withThrowingTaskGroup(of: Result?.self) { group in
      group.addTask { try await operation(lease) }
      group.addTask {
        try await Task.sleep(for: limit)
        if lease.isGranted { return nil }
        throw RPCError(code: .unavailable, message: "no database connection became free in time, retry later")
      }
      while let next = try await group.next() {
        if let result = next {
          group.cancelAll()
          return result
        }
      }
      throw CancellationError()
    }
  }

  private func measured<Result>(_ operationTimer: Timer, requested: ContinuousClock.Instant, _ body: () async throws -> Result) async throws -> Result {
    let leased = ContinuousClock.now
    waitTimer.recordInterval(since: requested)
    inUseGauge.record(inUse.add(1))
    defer {
      inUseGauge.record(inUse.add(-1))
      operationTimer.recordInterval(since: leased)
    }
    return try await body()
  }
}

/// Set by `DatabaseProbe`; read on every lease.
public final class DatabaseReachability: Sendable {
  private let reachable = Atomic<Bool>(true)

  public init() {}

  public var isReachable: Bool { reachable.load(ordering: .relaxed) }

  public func set(_ value: Bool) {
    reachable.store(value, ordering: .relaxed)
  }
}

private final class LeaseState: Sendable {
  private let flag = Atomic<Bool>(false)
  func granted() { flag.store(true, ordering: .relaxed) }
  var isGranted: Bool { flag.load(ordering: .relaxed) }
}

private final class InUseCounter: Sendable {
  private let value = Atomic<Int>(0)

  func add(_ delta: Int) -> Int {
    value.add(delta, ordering: .relaxed).newValue
  }
}
