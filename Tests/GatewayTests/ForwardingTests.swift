import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceKit
import SupportCodec
import TestSupport
import Testing

@testable import Gateway

/// The gateway's forwarding on real HTTP/2 connections: caller → gateway → backend, with a
/// streaming method (grpc.health.v1.Health/Watch served by a backend) to see messages,
/// completion, deadlines and cancellation cross the hop.
@Suite("Gateway forwarding")
struct ForwardingTests {
  /// Runs a backend serving `store`'s health, a gateway forwarding Health's methods to it, and
  /// gives `body` a Health client connected to the gateway.
  static func withHop(
    _ store: HealthStatusStore,
    _ body: @Sendable (Grpc_Health_V1_Health.Client<HTTP2ClientTransport.Posix>) async throws -> Void
  ) async throws {
    let logger = Logger(label: "gateway-test")
    let backend = GRPCServer(
      transport: HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
      services: [HealthService(store: store)],
      interceptors: [RequestContextInterceptor(logger: logger)]
    )
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask { try await backend.serve() }
      let backendPort = try #require(try await backend.listeningAddress?.ipv4?.port)
      let connection = try BackendConnection(name: "health-backend", address: HostPort(host: "127.0.0.1", port: backendPort))
      group.addTask { try await connection.client.runConnections() }
      let gateway = GRPCServer(
        transport: HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
        services: [
          GatewayProxy(
            routes: Grpc_Health_V1_Health.Method.descriptors.map { ($0, connection) }, maxMessageBytes: 1 << 20,
            callerHeader: try SignedCallerHeader(secret: Array(repeating: 1, count: 32))
          )
        ],
        interceptors: [RequestContextInterceptor(logger: logger), ErrorMappingInterceptor()]
      )
      group.addTask { try await gateway.serve() }
      let gatewayPort = try #require(try await gateway.listeningAddress?.ipv4?.port)
      try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: gatewayPort), transportSecurity: .plaintext)
      ) { client in
        try await body(Grpc_Health_V1_Health.Client(wrapping: client))
      }
      gateway.beginGracefulShutdown()
      connection.client.beginGracefulShutdown()
      backend.beginGracefulShutdown()
    }
  }

  @Test("unary calls and errors cross the hop unchanged")
  func unary() async throws {
    let store = HealthStatusStore(names: ["a"], initial: .serving)
    try await Self.withHop(store) { health in
      #expect(try await health.check(.with { $0.service = "a" }).status == .serving)
      #expect(try await health.list(.init()).statuses.keys.sorted() == ["", "a"])
      do {
        _ = try await health.check(.with { $0.service = "missing" })
        Issue.record("expected NOT_FOUND")
      } catch let error as RPCError {
        #expect(error.code == .notFound && error.message.contains("missing"), "the backend's status and message arrive as sent")
      }
    }
  }

  @Test("a server stream is forwarded message by message and ends when the backend ends it")
  func serverStreaming() async throws {
    let store = HealthStatusStore(names: ["a"], initial: .serving)
    try await Self.withHop(store) { health in
      let seen = try await health.watch(.with { $0.service = "a" }) { response in
        var statuses: [ServingStatus] = []
        for try await message in response.messages {
          statuses.append(message.status)
          if statuses.count == 1 { store.set("a", .notServing) }
          if statuses.count == 2 { store.set("a", .serving) }
          if statuses.count == 3 { store.shutdown() }
        }
        return statuses
      }
      // Shutdown may send a last NOT_SERVING before it ends the stream.
      #expect(Array(seen.prefix(3)) == [.serving, .notServing, .serving])
      #expect(seen.count <= 4 && (seen.count == 3 || seen[3] == .notServing))
    }
  }

  @Test("the caller's deadline, or its cancellation, ends the backend's stream too")
  func givingUpPropagates() async throws {
    let store = HealthStatusStore(names: ["a"], initial: .serving)
    try await Self.withHop(store) { health in
      try await expectWatchStopsWhenCallerGivesUp(health, store, deadline: .milliseconds(400))
    }
  }
}

@Suite("Gateway identity")
struct GatewayIdentityTests {
  @Test("scope patterns match a method, its service or its package, nothing wider")
  func scopes() {
    let method = "support.tickets.v1.TicketService/GetTicket"
    for pattern in ["*", method, "support.tickets.v1.TicketService", "support.tickets.v1.TicketService/*", "support.tickets.v1.*"] {
      #expect(Scope.allows(pattern, method: method), "\(pattern)")
    }
    for pattern in ["support.tickets.v1.TicketService/CreateTicket", "support.chat.v1.*", "support.*", "support.tickets.v1.Ticket", "support.tickets.*"] {
      #expect(!Scope.allows(pattern, method: method), "\(pattern)")
    }
  }

  @Test("every method shoppers may call exists in the contract")
  func shopperMethodsExist() {
    let all = Set(ServiceCatalog.backends.flatMap(\.methods).map(\.fullyQualifiedMethod))
    #expect(ShopperMethods.all.subtracting(all).isEmpty)
  }

  @Test("a signed caller header verifies for its method only, until it expires, and not with another secret")
  func signedCallerHeader() throws {
    let header = try SignedCallerHeader(secret: Array(repeating: 3, count: 32))
    let caller = Caller(subject: "shopper-1", role: .shopper, scopes: ["*"])
    let signed = header.sign(caller, method: "a.B/C")
    #expect(try header.verify(signed, method: "a.B/C") == caller)
    #expect(throws: RPCError.self) { try header.verify(signed, method: "a.B/D") }
    #expect(throws: RPCError.self) { try header.verify(signed, method: "a.B/C", now: Date().addingTimeInterval(SignedCallerHeader.lifetime + 5)) }
    #expect(throws: RPCError.self) { try SignedCallerHeader(secret: Array(repeating: 4, count: 32)).verify(signed, method: "a.B/C") }
    var tampered = Array(signed.utf8)
    tampered[5] = tampered[5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
    #expect(throws: RPCError.self) { try header.verify(String(decoding: tampered, as: UTF8.self), method: "a.B/C") }
    #expect(throws: IdentityError.self) { try SignedCallerHeader(secret: Array(repeating: 1, count: 16)) }
  }

  @Test("API key files: keys verify by hash, unknown or wrong keys do not")
  func apiKeys() throws {
    let made = APIKeyFile.make(id: "orders", role: .service, scopes: ["support.tickets.v1.*"])
    let file = APIKeyFile(keys: [made.entry])
    #expect(try file.caller(forKey: made.key) == Caller(subject: "orders", role: .service, scopes: ["support.tickets.v1.*"]))
    #expect(throws: RPCError.self) { try file.caller(forKey: made.key + "x") }
    #expect(throws: RPCError.self) { try file.caller(forKey: "smk_other_" + made.key.suffix(10)) }
    #expect(!made.key.contains(made.entry.sha256), "the file holds a hash, not the key")
    #expect(throws: (any Error).self) { try APIKeyFile.parse(Data(#"{"keys":[{"id":"Bad Id","sha256":"00","scopes":[]}]}"#.utf8)) }
  }
}
