import Foundation
import PostgresNIO

/// A parsed `postgres://user:password@host:port/database` URL.
public struct DatabaseURL: Sendable, Equatable {
  public var user: String
  public var password: String?
  public var host: String
  public var port: Int
  public var database: String
  /// `sslmode=require` or `verify-full` asks for TLS; anything else connects in plain text,
  /// which suits the loopback and container networks SupportMesh runs on.
  public var requireTLS: Bool

  public struct ParseError: Error, CustomStringConvertible {
    public var description: String
  }

  public init(_ text: String) throws {
    guard let components = URLComponents(string: text),
      let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql"
    else { throw ParseError(description: "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE") }
    guard let user = components.user, !user.isEmpty else { throw ParseError(description: "the URL names no user") }
    guard let host = components.host, !host.isEmpty else { throw ParseError(description: "the URL names no host") }
    let database = String(components.path.drop(while: { $0 == "/" }))
    guard !database.isEmpty else { throw ParseError(description: "the URL names no database") }
    self.user = user.removingPercentEncoding ?? user
    self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
    self.host = host
    self.port = components.port ?? 5432
    self.database = database
    let sslmode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
    self.requireTLS = sslmode == "require" || sslmode == "verify-full" || sslmode == "verify-ca"
  }

  /// Server-side limits every session of the pool starts with, so no statement, lock wait or
  /// forgotten transaction can hold a pooled connection for long after its caller gave up.
  public struct SessionLimits: Sendable, Equatable {
    public var statementTimeout: Duration = .seconds(10)
    public var lockTimeout: Duration = .seconds(3)
    public var idleInTransactionTimeout: Duration = .seconds(30)
    public init() {}
  }

  public func clientConfiguration(poolSize: Int, limits: SessionLimits = SessionLimits()) -> PostgresClient.Configuration {
    var config = PostgresClient.Configuration(
      host: host, port: port, username: user, password: password, database: database,
      tls: requireTLS ? .require(.makeClientConfiguration()) : .disable
    )
    config.options.maximumConnections = poolSize
    config.options.minimumConnections = min(2, poolSize)
    config.options.connectTimeout = .seconds(5)
    func milliseconds(_ duration: Duration) -> String { "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)" }
    config.options.additionalStartupParameters = [
      ("statement_timeout", milliseconds(limits.statementTimeout)),
      ("lock_timeout", milliseconds(limits.lockTimeout)),
      ("idle_in_transaction_session_timeout", milliseconds(limits.idleInTransactionTimeout)),
    ]
    return config
  }
}
