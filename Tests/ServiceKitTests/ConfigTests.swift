import Foundation
import GRPCCore
import ServiceKit
import SupportCodec
import Testing

@Suite("Configuration")
struct ConfigTests {
  @Test("defaults apply when variables are absent")
  func defaults() throws {
    let secret = FileManager.default.temporaryDirectory.appendingPathComponent("caller-secret-\(UUID().uuidString)")
    try String(repeating: "ab", count: 32).write(to: secret, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: secret) }
    let config = try ServiceConfig.load(
      service: "tickets", requiresDatabase: true,
      environment: EnvironmentReader([
        "SUPPORTMESH_DATABASE_URL": "postgres://tickets:pw@127.0.0.1:5432/supportmesh", "SUPPORTMESH_CALLER_SECRET_FILE": secret.path,
      ])
    )
    #expect(config.grpcAddress == HostPort(host: "127.0.0.1", port: 7702))
    #expect(config.httpAddress == HostPort(host: "127.0.0.1", port: 7782))
    #expect(config.databasePoolSize == 10)
    #expect(config.maxMessageBytes == 4 * 1024 * 1024)
    #expect(config.logLevel == .info)
    #expect(config.jsonLogs)
  }

  @Test("every problem is reported at once")
  func problemsTogether() {
    let environment = EnvironmentReader([
      "SUPPORTMESH_GRPC_ADDR": "nonsense", "SUPPORTMESH_DB_POOL_SIZE": "0", "SUPPORTMESH_LOG_LEVEL": "loud",
    ])
    #expect {
      try ServiceConfig.load(service: "chat", requiresDatabase: true, environment: environment)
    } throws: { error in
      let text = "\(error)"
      return text.contains("SUPPORTMESH_GRPC_ADDR") && text.contains("SUPPORTMESH_DB_POOL_SIZE")
        && text.contains("SUPPORTMESH_LOG_LEVEL") && text.contains("SUPPORTMESH_DATABASE_URL is required")
        && text.contains("SUPPORTMESH_CALLER_SECRET_FILE is required")
    }
  }

  @Test("addresses parse with IPv4, names and IPv6 brackets")
  func hostPort() {
    #expect(HostPort("127.0.0.1:7700") == HostPort(host: "127.0.0.1", port: 7700))
    #expect(HostPort("tickets:7702") == HostPort(host: "tickets", port: 7702))
    #expect(HostPort("[::1]:80") == HostPort(host: "::1", port: 80))
    #expect(HostPort("7700") == nil)
    #expect(HostPort("host:99999") == nil)
  }

  @Test("database URLs parse, with percent-encoded passwords and sslmode")
  func databaseURL() throws {
    let url = try DatabaseURL("postgres://tickets:p%40ss@db.internal:6543/supportmesh?sslmode=require")
    #expect(url.user == "tickets" && url.password == "p@ss" && url.host == "db.internal" && url.port == 6543)
    #expect(url.database == "supportmesh" && url.requireTLS)
    let plain = try DatabaseURL("postgresql://chat@localhost/mesh")
    #expect(plain.port == 5432 && plain.password == nil && !plain.requireTLS)
    #expect(throws: DatabaseURL.ParseError.self) { try DatabaseURL("mysql://x@y/z") }
    #expect(throws: DatabaseURL.ParseError.self) { try DatabaseURL("postgres://x@y") }
  }

  @Test("outgoing calls get what is left of the caller's deadline and its request id")
  func propagation() {
    let context = RequestContext(
      requestID: "r-1", method: "m", deadline: ContinuousClock.now + .seconds(2), logger: .init(label: "t")
    )
    let timeout = context.callOptions().timeout
    #expect(timeout != nil && timeout! <= .seconds(2) && timeout! > .seconds(1))
    #expect(context.outgoingMetadata(["a": "b"])[stringValues: "x-request-id"].first(where: { _ in true }) == "r-1")
    let expired = RequestContext(requestID: "r", method: "m", deadline: ContinuousClock.now - .seconds(1), logger: .init(label: "t"))
    #expect(expired.callOptions().timeout == .milliseconds(1), "a spent deadline still sends a (tiny) timeout, never none")
    let none = RequestContext(requestID: "r", method: "m", deadline: nil, logger: .init(label: "t"))
    #expect(none.callOptions().timeout == nil)
  }

  @Test("grpc-timeout values parse in every unit")
  func timeouts() {
    #expect(RequestContext.parseTimeout("100m") == .milliseconds(100))
    #expect(RequestContext.parseTimeout("5S") == .seconds(5))
    #expect(RequestContext.parseTimeout("2M") == .seconds(120))
    #expect(RequestContext.parseTimeout("1H") == .seconds(3600))
    #expect(RequestContext.parseTimeout("7u") == .microseconds(7))
    #expect(RequestContext.parseTimeout("9n") == .nanoseconds(9))
    #expect(RequestContext.parseTimeout("12") == nil)
    #expect(RequestContext.parseTimeout("1234567890S") == nil)
  }
}

@Suite("Pagination and validation")
struct PaginationTests {
  @Test("page tokens round-trip and are bound to their filters")
  func tokens() throws {
    let cursor = PageCursor(key: 1_790_000_000_123_456, id: "abc", filter: "f1")
    #expect(try PageCursor.decode(cursor.token, filter: "f1") == cursor)
    #expect(try PageCursor.decode("", filter: "f1") == nil)
    expectStatus(.invalidArgument) { try PageCursor.decode(cursor.token, filter: "f2") }
    expectStatus(.invalidArgument) { try PageCursor.decode("%%%not-a-token", filter: "f1") }
  }

  @Test("page sizes: 0 means 50, above 500 or negative is refused")
  func pageSizes() throws {
    #expect(try PageCursor.pageSize(0) == 50)
    #expect(try PageCursor.pageSize(500) == 500)
    expectStatus(.invalidArgument) { try PageCursor.pageSize(501) }
    expectStatus(.invalidArgument) { try PageCursor.pageSize(-1) }
  }

  @Test("validation names the field and the reason")
  func validation() {
    do {
      try Validate.required("  ", "shopper_id")
      Issue.record("blank must fail")
    } catch {
      let status = RPCError(error)
      #expect(status?.code == .invalidArgument)
      #expect(status?.message == "shopper_id: is required")
    }
    expectStatus(.invalidArgument) { try Validate.requestID(String(repeating: "x", count: 129)) }
    expectStatus(.invalidArgument) {
      try Validate.money(.with { $0.amountMinor = 1; $0.currencyCode = "cny" }, "price")
    }
    expectStatus(.invalidArgument) { try Validate.specified(Support_Tickets_V1_TicketType.unspecified, "type") }
    expectStatus(.invalidArgument) { try Validate.specified(Support_Tickets_V1_TicketType.UNRECOGNIZED(99), "type") }
    #expect(throws: Never.self) { try Validate.specified(Support_Tickets_V1_TicketType.repair, "type") }
  }
}

/// Expects `body` to throw an error that converts to the gRPC status `code`.
func expectStatus(_ code: RPCError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
  do {
    try body()
    Issue.record("expected \(code), nothing was thrown", sourceLocation: sourceLocation)
  } catch {
    #expect(RPCError(error)?.code == code, "\(error)", sourceLocation: sourceLocation)
  }
}

extension RPCError {
  /// The RPCError an error converts to, when it converts.
  init?(_ error: any Error) {
    if let rpc = error as? RPCError { self = rpc; return }
    if let convertible = error as? any RPCErrorConvertible { self = RPCError(convertible); return }
    return nil
  }
}
