import Foundation
import GRPCCore
import Logging
import PostgresNIO
import ServiceKit
import Testing

/// postgres-nio (1.33.2) never answers a query written to a connection whose channel has
/// closed; `withOpenConnection` (under every `Database` lease) ends such work at the close.
@Suite("Pooled connections that close under their work")
struct OpenConnectionTests {
  @Test("work whose connection closes under it ends UNAVAILABLE at once, and the pool serves again")
  func closedUnderWork() async throws {
    try await TestDatabase.withFreshSchema { client, _ in
      let database = Database(client: client, maxConnections: 8)
      // Bounded, so that a regression fails here instead of hanging the suite.
      let code = await withTimeLimit(.seconds(5)) { () async -> RPCError.Code? in
        do {
          try await database.withTransaction(logger: TestDatabase.logger) { connection in
            try await connection.close()
            // Written to the closed connection: without the watch this waited for good.
            try await connection.query("SELECT 1", logger: TestDatabase.logger)
          }
          return nil
        } catch {
          return (error as? RPCError)?.code ?? .unknown
        }
      }
      #expect(code == .some(.some(.unavailable)), "ended with \(String(describing: code)) (nil: no answer in 5 s)")
      let answer = try await database.withConnection(logger: TestDatabase.logger) { connection in
        try await connection.query("SELECT 41 + 1", logger: TestDatabase.logger).collect().first?.decode(Int.self)
      }
      #expect(answer == 42)
    }
  }

  @Test("a session the server ends mid-statement fails its caller at once")
  func terminatedMidStatement() async throws {
    try await TestDatabase.withFreshSchema { client, _ in
      let database = Database(client: client, maxConnections: 8)
      let started = ContinuousClock.now
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          await #expect(throws: (any Error).self) {
            try await database.withTransaction(logger: TestDatabase.logger) { connection in
              try await connection.query("SELECT pg_sleep(20)", logger: TestDatabase.logger)
            }
          }
        }
        group.addTask {
          try await waitUntil { try await sleepers(client) == 1 }
          try await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)'", logger: TestDatabase.logger)
        }
        try await group.waitForAll()
      }
      #expect(ContinuousClock.now - started < .seconds(5))
    }
  }

  private func sleepers(_ client: PostgresClient) async throws -> Int {
    try await client.query("SELECT count(*)::int FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)'", logger: TestDatabase.logger)
      .collect().first?.decode(Int.self) ?? 0
  }

  private func waitUntil(_ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(5)
    while !(try await condition()) {
      guard ContinuousClock.now < deadline else { throw CancellationError() }
      try await Task.sleep(for: .milliseconds(20))
    }
  }
}
