import Foundation
import GRPCCore
import Logging
import PostgresNIO
import ServiceKit
import Testing

/// A real PostgreSQL: `./mesh test` starts a throwaway cluster and exports its admin URL.
enum TestDatabase {
  static func adminURL() throws -> DatabaseURL {
    let text = try #require(
      ProcessInfo.processInfo.environment["SUPPORTMESH_TEST_ADMIN_URL"],
      "SUPPORTMESH_TEST_ADMIN_URL is not set: run the tests with ./mesh test"
    )
    return try DatabaseURL(text)
  }

  /// Runs `body` with a client whose run loop is going, in a fresh schema dropped afterwards.
  @discardableResult
  static func withFreshSchema<T: Sendable>(_ body: @Sendable (PostgresClient, String) async throws -> T) async throws -> T {
    let client = PostgresClient(configuration: try adminURL().clientConfiguration(poolSize: 8), backgroundLogger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await client.run() }
      defer { group.cancelAll() }
      let schema = "kit_\(UUID().uuidString.prefix(8).lowercased())"
      try await client.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"), logger: logger)
      do {
        let result = try await body(client, schema)
        try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: logger)
        return result
      } catch {
        _ = try? await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: logger)
        throw error
      }
    }
  }

  static let logger = Logger(label: "kit-tests")
}

@Suite("Migrations against PostgreSQL")
struct MigrationTests {
  static func migrations(_ schema: String) -> [Migration] {
    [
      Migration(version: 1, name: "widgets", sql: """
        CREATE TABLE widgets (id integer PRIMARY KEY, name text NOT NULL);
        -- a comment line is skipped
        CREATE INDEX widgets_name_idx
          ON widgets (name);
        """),
      Migration(version: 2, name: "widget colour", sql: "ALTER TABLE widgets ADD COLUMN colour text NOT NULL DEFAULT 'red';"),
    ]
  }

  @Test("statements split at line-ending semicolons, comments dropped")
  func split() {
    let statements = Self.migrations("x")[0].statements
    #expect(statements.count == 2)
    #expect(statements[1].hasPrefix("CREATE INDEX widgets_name_idx"))
    #expect(Self.migrations("x")[0].checksum == Self.migrations("y")[0].checksum)
  }

  @Test("applies once, records versions, and a second run is a no-op")
  func appliesOnce() async throws {
    try await TestDatabase.withFreshSchema { client, schema in
      let migrator = try Migrator(schema: schema, migrations: Self.migrations(schema))
      #expect(try await migrator.migrate(client, logger: TestDatabase.logger) == [1, 2])
      #expect(try await migrator.migrate(client, logger: TestDatabase.logger) == [])
      let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT version FROM \(schema).schema_migrations ORDER BY version"), logger: TestDatabase.logger).collect()
      #expect(try rows.map { try $0.decode(Int.self) } == [1, 2])
      try await client.query(PostgresQuery(unsafeSQL: "INSERT INTO \(schema).widgets (id, name) VALUES (1, 'a')"), logger: TestDatabase.logger)
    }
  }

  @Test("several instances starting at once apply each migration exactly once")
  func concurrentStarts() async throws {
    try await TestDatabase.withFreshSchema { client, schema in
      let migrator = try Migrator(schema: schema, migrations: Self.migrations(schema))
      let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
        for _ in 0..<4 { group.addTask { try await migrator.migrate(client, logger: TestDatabase.logger) } }
        return try await group.reduce(into: [Int]()) { $0 += $1 }
      }
      #expect(applied.sorted() == [1, 2])
    }
  }

  @Test("a failing migration leaves nothing behind; an edited one is refused")
  func failureAndEdit() async throws {
    try await TestDatabase.withFreshSchema { client, schema in
      var broken = Self.migrations(schema)
      broken.append(Migration(version: 3, name: "broken", sql: "CREATE TABLE ok_table (id int);\nSELECT no_such_column FROM widgets;"))
      await #expect(throws: (any Error).self) { try await Migrator(schema: schema, migrations: broken).migrate(client, logger: TestDatabase.logger) }
      let tables = try await client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM pg_tables WHERE schemaname = '\(schema)'"), logger: TestDatabase.logger).collect()
      #expect(try tables.first?.decode(Int.self) == 0, "the whole run rolled back")

      try await Migrator(schema: schema, migrations: Self.migrations(schema)).migrate(client, logger: TestDatabase.logger)
      var edited = Self.migrations(schema)
      edited[1] = Migration(version: 2, name: "widget colour", sql: "ALTER TABLE widgets ADD COLUMN colour text;")
      await #expect(throws: MigrationError.self) { try await Migrator(schema: schema, migrations: edited).migrate(client, logger: TestDatabase.logger) }
    }
  }

  @Test("a missing schema is a clear error, not a crash")
  func missingSchema() async throws {
    try await TestDatabase.withFreshSchema { client, _ in
      await #expect(throws: MigrationError.self) {
        try await Migrator(schema: "kit_does_not_exist", migrations: Self.migrations("x")).migrate(client, logger: TestDatabase.logger)
      }
    }
  }

  @Test("database errors map to deliberate gRPC statuses")
  func errorMapping() async throws {
    try await TestDatabase.withFreshSchema { client, schema in
      try await client.query(PostgresQuery(unsafeSQL: "CREATE TABLE \(schema).u (k text PRIMARY KEY)"), logger: TestDatabase.logger)
      try await client.query(PostgresQuery(unsafeSQL: "INSERT INTO \(schema).u VALUES ('a')"), logger: TestDatabase.logger)
      do {
        _ = try await Database(client: client, maxConnections: 1).withTransaction(logger: TestDatabase.logger) { connection in
          try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO \(schema).u VALUES ('a')"), logger: TestDatabase.logger)
        }
        Issue.record("duplicate insert must fail")
      } catch {
        #expect(RPCError(ErrorMappingInterceptor.map(error))?.code == .alreadyExists)
      }
      do {
        try await client.query(PostgresQuery(unsafeSQL: "SELECT 1/0"), logger: TestDatabase.logger)
        Issue.record("division by zero must fail")
      } catch {
        let mapped = RPCError(ErrorMappingInterceptor.map(error))
        #expect(mapped?.code == .internalError)
        #expect(mapped?.message.contains("division") == false, "internals are not leaked")
      }
      #expect(RPCError(ErrorMappingInterceptor.map(CancellationError()))?.code == .cancelled)
      struct Odd: Error {}
      #expect(RPCError(ErrorMappingInterceptor.map(Odd()))?.code == .internalError)
    }
  }
}
