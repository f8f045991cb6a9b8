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
      try await measured(kind: "read", requested: requested) { try await body(connection) }
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
        try await measured(kind: "transaction", requested: requested) {
          try await connection.withTransaction(logger: logger) { try await body($0) }
        }
      }
      Counter(label: "db_transactions_total", dimensions: [("outcome", "committed")]).increment()
      return result
    } catch let error as PostgresTransactionError {
      Counter(label: "db_transactions_total", dimensions: [("outcome", "rolled_back")]).increment()
      throw error.closureError ?? error.beginError ?? error.commitError ?? error
    } catch {
      Counter(label: "db_transactions_total", dimensions: [("outcome", "rolled_back")]).increment()
      throw error
    }
  }

  private func measured<Result>(kind: String, requested: ContinuousClock.Instant, _ body: () async throws -> Result) async throws -> Result {
    let leased = ContinuousClock.now
    Timer(label: "db_pool_wait_seconds").recordInterval(since: requested)
    Gauge(label: "db_pool_connections_in_use").record(inUse.add(1))
    defer {
      Gauge(label: "db_pool_connections_in_use").record(inUse.add(-1))
      Timer(label: "db_operation_seconds", dimensions: [("kind", kind)]).recordInterval(since: leased)
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
