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
        services: [GatewayProxy(routes: Grpc_Health_V1_Health.Method.descriptors.map { ($0, connection) }, maxMessageBytes: 1 << 20)],
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
