import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceKit
import SupportCodec
import TestSupport
import Testing

/// The kit's interceptors and health service on a real HTTP/2 server and client.
@Suite("gRPC server pieces")
struct ServerTests {
  static func withServer(
    store: HealthStatusStore, fallback: HealthService.Fallback? = nil,
    _ body: @Sendable (Grpc_Health_V1_Health.Client<HTTP2ClientTransport.Posix>) async throws -> Void
  ) async throws {
    let server = GRPCServer(
      transport: HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
      services: [HealthService(store: store, fallback: fallback)],
      interceptors: [RequestContextInterceptor(logger: Logger(label: "test")), RPCMetricsInterceptor(), ErrorMappingInterceptor()]
    )
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask { try await server.serve() }
      let port = try #require(try await server.listeningAddress?.ipv4?.port)
      try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
      ) { client in
        try await body(Grpc_Health_V1_Health.Client(wrapping: client))
      }
      server.beginGracefulShutdown()
    }
  }

  @Test("the request id is taken from the caller, or made, and echoed back")
  func requestID() async throws {
    let store = HealthStatusStore(names: ["svc"], initial: .serving)
    try await Self.withServer(store: store) { health in
      let given = try await health.check(.with { $0.service = "svc" }, metadata: ["x-request-id": "trace-123"]) { response in
        (try response.message.status, response.metadata[stringValues: "x-request-id"].first(where: { _ in true }))
      }
      #expect(given.0 == .serving)
      #expect(given.1 == "trace-123")
      let made = try await health.check(.with { $0.service = "" }) { response in
        response.metadata[stringValues: "x-request-id"].first(where: { _ in true })
      }
      #expect((made?.count ?? 0) >= 32, "a request id is made when the caller sent none")
    }
  }

  @Test("health: known names, unknown names, the fallback, and watch with shutdown")
  func health() async throws {
    let store = HealthStatusStore(names: ["a"])
    try await Self.withServer(store: store, fallback: { $0 == "remote" ? .serving : nil }) { health in
      #expect(try await health.check(.with { $0.service = "a" }).status == .notServing)
      store.set("a", .serving)
      #expect(try await health.check(.with { $0.service = "a" }).status == .serving)
      #expect(try await health.check(.with { $0.service = "remote" }).status == .serving)
      do {
        _ = try await health.check(.with { $0.service = "nope" })
        Issue.record("unknown service must be NOT_FOUND")
      } catch let error as RPCError {
        #expect(error.code == .notFound)
      }
      #expect(try await health.list(.init()).statuses.keys.sorted() == ["", "a"])
      let seen = try await health.watch(.with { $0.service = "a" }) { response in
        var statuses: [ServingStatus] = []
        for try await message in response.messages {
          statuses.append(message.status)
          if statuses.count == 1 { store.set("a", .notServing) }
          if statuses.count == 2 { store.shutdown() }
        }
        return statuses
      }
      #expect(seen == [.serving, .notServing], "watch ends when the process shuts down")
    }
  }

  @Test("after shutdown nothing reports SERVING again")
  func noServingAfterShutdown() {
    let store = HealthStatusStore(names: ["a"])
    store.shutdown()
    store.setAll(.serving)
    store.set("a", .serving)
    #expect(store.all.values.allSatisfy { $0 == .notServing })
  }

  @Test("the caller's deadline or cancellation stops the handler's work")
  func cancellation() async throws {
    let store = HealthStatusStore(names: ["a"], initial: .serving)
    try await Self.withServer(store: store) { health in
      try await expectWatchStopsWhenCallerGivesUp(health, store, deadline: .milliseconds(300))
    }
  }
}

