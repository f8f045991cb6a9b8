import Logging
import PostgresNIO

/// One versioned change to a service's schema.
///
/// `sql` may hold several statements; each must end with a semicolon at the end of a line
/// (the extended query protocol takes one statement at a time, so the migrator splits there).
public struct Migration: Sendable {
  public var version: Int
  public var name: String
  public var sql: String

  public init(version: Int, name: String, sql: String) {
    self.version = version
    self.name = name
    self.sql = sql
  }

  /// The statements of `sql`, split at semicolons that end a line.
  public var statements: [String] {
    var result: [String] = []
    var current = ""
    for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("--") { continue }
      current += line + "\n"
      if trimmed.hasSuffix(";") {
        result.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
        current = ""
      }
    }
    let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
    if !rest.isEmpty { result.append(rest) }
    return result
  }

  /// A stable fingerprint of the SQL (FNV-1a, 64 bit): a migration edited after it was applied
  /// is refused at start instead of silently diverging between environments.
  public var checksum: String {
    Fingerprint.fnv1a(sql.utf8)
  }
}

public struct MigrationError: Error, CustomStringConvertible {
  public var description: String
}

/// Applies a service's migrations to its own schema at start.
///
/// Everything happens in one transaction under an advisory lock keyed by the schema, so several
/// instances starting at once apply each migration exactly once and a failed migration leaves
/// nothing behind. Applied versions are recorded in `<schema>.schema_migrations`.
public struct Migrator: Sendable {
  public var schema: String
  public var migrations: [Migration]

  public init(schema: String, migrations: [Migration]) throws {
    guard schema.range(of: "^[a-z_][a-z0-9_]*$", options: .regularExpression) != nil else {
      throw MigrationError(description: "schema name \(schema) is not a plain identifier")
    }
    let versions = migrations.map(\.version)
    guard versions == versions.sorted(), Set(versions).count == versions.count else {
      throw MigrationError(description: "migration versions of \(schema) must be unique and ascending")
    }
    self.schema = schema
    self.migrations = migrations
  }

  /// Returns the versions this call applied (empty when the schema was already current).
  @discardableResult
  public func migrate(_ client: PostgresClient, logger: Logger) async throws -> [Int] {
    try await client.withOpenConnection { connection in
      try await Database.transaction(on: connection, logger: logger) { connection in
        try await self.migrate(connection, logger: logger)
      }
    }
  }

  private func migrate(_ connection: PostgresConnection, logger: Logger) async throws -> [Int] {
    let lockKey = "supportmesh.migrate.\(schema)"
    try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(lockKey)))", logger: logger)
    let exists = try await connection.query(
      "SELECT 1 FROM pg_namespace WHERE nspname = \(schema)", logger: logger
    ).collect()
    guard !exists.isEmpty else {
      throw MigrationError(description: "schema \(schema) does not exist: provision it first (./mesh provisions roles and schemas)")
    }
    try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL search_path TO \(schema)"), logger: logger)
    try await connection.query(
      """
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )
      """, logger: logger)
    var applied: [Int: String] = [:]
    for try await (version, checksum) in try await connection.query(
      "SELECT version, checksum FROM schema_migrations", logger: logger
    ).decode((Int, String).self) {
      applied[version] = checksum
    }
    var done: [Int] = []
    for migration in migrations {
      if let checksum = applied[migration.version] {
        guard checksum == migration.checksum else {
          throw MigrationError(description: "migration \(schema) v\(migration.version) (\(migration.name)) changed after it was applied; add a new migration instead")
        }
        continue
      }
      logger.info("applying migration", metadata: ["schema": "\(schema)", "version": "\(migration.version)", "name": "\(migration.name)"])
      for statement in migration.statements {
        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
      }
      try await connection.query(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))",
        logger: logger)
      done.append(migration.version)
    }
    return done
  }
}
