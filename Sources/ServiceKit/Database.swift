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

  public init(client: PostgresClient, maxConnections: Int) {
    self.client = client
    Gauge(label: "db_pool_max_connections").record(maxConnections)
  }

  /// Leases a connection for `body` (outside any transaction).
  public func withConnection<Result: Sendable>(
    logger: Logger, _ body: @Sendable (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    let requested = ContinuousClock.now
    return try await client.withConnection { connection in
      try await measured(readTimer, requested: requested) { try await body(connection) }
    }
  }

  /// Runs `body` in a transaction: committed when it returns, rolled back when it throws (the
  /// error `body` threw is rethrown as is, not wrapped).
  public func withTransaction<Result: Sendable>(
    logger: Logger, _ body: @Sendable (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    let requested = ContinuousClock.now
    do {
      let result = try await client.withConnection { connection in
        try await measured(transactionTimer, requested: requested) {
          try await connection.withTransaction(logger: logger) { try await body($0) }
        }
      }
      committed.increment()
      return result
    } catch let error as PostgresTransactionError {
      rolledBack.increment()
      throw error.underlying
    } catch {
      rolledBack.increment()
      throw error
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

private final class InUseCounter: Sendable {
  private let value = Atomic<Int>(0)

  func add(_ delta: Int) -> Int {
    value.add(delta, ordering: .relaxed).newValue
  }
}

extension PostgresTransactionError {
  /// What actually went wrong: the error thrown inside the transaction, else the failure to
  /// begin or commit it.
  public var underlying: any Error {
    closureError ?? beginError ?? commitError ?? self
  }
}
