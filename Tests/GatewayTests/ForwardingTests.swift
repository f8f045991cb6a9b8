import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import NIOPosix
import ServiceKit
import SupportCodec
import TestSupport
import Synchronization
import Testing

@testable import Gateway

/// The gateway's forwarding on real HTTP/2 connections: caller → gateway → backend, with a
/// streaming method (grpc.health.v1.Health/Watch served by a backend) to see messages,
/// completion, deadlines and cancellation cross the hop.
@Suite("Gateway forwarding")
struct ForwardingTests {
  /// Runs a backend serving `store`'s health, the gateway's relay in front of it (health routed
  /// to it, as the gateway routes health to its own server), and gives `body` a client
  /// connected to the relay and the relay itself.
  static func withHop(
    _ store: HealthStatusStore, maxMessageBytes: Int = 1 << 20, backendAddress: BackendAddress? = nil,
    backendStreamLimit: Int? = nil,
    _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>, RelayServer) async throws -> Void
  ) async throws {
    let logger = Logger(label: "gateway-test")
    let backend = GRPCServer(
      transport: HTTP2ServerTransport.Posix(
        address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext,
        config: .defaults { $0.http2.maxConcurrentStreams = backendStreamLimit }
      ),
      services: [HealthService(store: store)],
      interceptors: [RequestContextInterceptor(logger: logger)]
    )
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask { try await backend.serve() }
      let backendPort = try #require(try await backend.listeningAddress?.ipv4?.port)
      let address = backendAddress ?? .host(HostPort(host: "127.0.0.1", port: backendPort))
      let shared = RelayShared(
        routes: RelayRoutes(backends: [("tickets", Support_Tickets_V1_TicketService.Method.descriptors)], local: 1),
        links: BackendLinks(backends: [("tickets", address), ("health-backend", address)], group: MultiThreadedEventLoopGroup.singleton, logger: logger),
        verdicts: CallerVerdicts(authenticator: nil),
        callerHeader: try SignedCallerHeader(secret: Array(repeating: 1, count: 32)),
        maxMessageBytes: maxMessageBytes, metrics: RelayMetrics(), logger: logger
      )
      let relay = RelayServer(
        address: HostPort(host: "127.0.0.1", port: 0), settings: RelaySettings(), shared: shared,
        group: MultiThreadedEventLoopGroup.singleton, health: nil
      )
      group.addTask { try await relay.run() }
      var relayPort: Int?
      while relayPort == nil {
        relayPort = relay.listeningAddress?.port
        try await Task.sleep(for: .milliseconds(10))
      }
      try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: relayPort!), transportSecurity: .plaintext)
      ) { client in
        try await body(client, relay)
      }
      relay.beginGracefulShutdown()
      backend.beginGracefulShutdown()
    }
  }

  static func withHop(
    _ store: HealthStatusStore,
    _ body: @Sendable (Grpc_Health_V1_Health.Client<HTTP2ClientTransport.Posix>) async throws -> Void
  ) async throws {
    try await withHop(store) { client, _ in try await body(Grpc_Health_V1_Health.Client(wrapping: client)) }
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

  @Test("more long-lived streams than the backend allows per connection all run: the relay opens another connection")
  func streamsBeyondTheBackendLimit() async throws {
    let store = HealthStatusStore(names: ["a"], initial: .serving)
    try await Self.withHop(store, backendStreamLimit: 3) { client, _ in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      let watchers = 10
      // Every watcher sees SERVING, then NOT_SERVING once all of them are open: a stream queued
      // behind the backend's limit would never see its first message.
      let opened = Counter()
      try await withThrowingTaskGroup(of: [ServingStatus].self) { group in
        for _ in 0..<watchers {
          group.addTask {
            var options = CallOptions.defaults
            options.timeout = .seconds(10)
            return try await health.watch(.with { $0.service = "a" }, options: options) { response in
              var statuses: [ServingStatus] = []
              for try await message in response.messages {
                statuses.append(message.status)
                if statuses.count == 1 && opened.increment() == watchers { store.set("a", .notServing) }
                if statuses.count == 2 { break }
              }
              return statuses
            }
          }
        }
        var results: [[ServingStatus]] = []
        for try await statuses in group { results.append(statuses) }
        #expect(results.count == watchers)
        #expect(results.allSatisfy { $0 == [.serving, .notServing] })
      }
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

extension ForwardingTests {
  @Test("a method the desk does not serve is UNIMPLEMENTED; a served one needs credentials")
  func unknownAndUnauthenticated() async throws {
    try await Self.withHop(HealthStatusStore(names: [], initial: .serving)) { client, _ in
      let feedback = Support_Feedback_V1_SurveyService.Client(wrapping: client)
      await #expect { try await feedback.getSurvey(.init()) } throws: { ($0 as? RPCError)?.code == .unimplemented }
      let tickets = Support_Tickets_V1_TicketService.Client(wrapping: client)
      await #expect { try await tickets.getTicket(.init()) } throws: { error in
        let error = error as? RPCError
        return error?.code == .unauthenticated && error?.metadata[stringValues: "x-request-id"].first(where: { _ in true }) != nil
      }
    }
  }

  @Test("a request message over the limit is RESOURCE_EXHAUSTED at the gateway")
  func oversize() async throws {
    try await Self.withHop(HealthStatusStore(names: [], initial: .serving), maxMessageBytes: 1024) { client, _ in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      await #expect { try await health.check(.with { $0.service = String(repeating: "x", count: 5000) }) } throws: { error in
        let error = error as? RPCError
        return error?.code == .resourceExhausted && error?.message.contains("1024") == true
      }
      // The connection is fine afterwards.
      await #expect { try await health.check(.with { $0.service = "small" }) } throws: { ($0 as? RPCError)?.code == .notFound }
    }
  }

  @Test("a call with headers just under the 16 KiB call limit is relayed")
  func largeHeadersRelayed() async throws {
    // Over the limit is refused alone (RESOURCE_EXHAUSTED): grpc-swift's client cannot send such
    // a call, so Tests/interop/ticket_roundtrip.py (grpcio) checks that.
    let store = HealthStatusStore(names: ["a"], initial: .serving)
    try await Self.withHop(store) { client, _ in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      var fits = Metadata()
      fits.addString(String(repeating: "x", count: 15_000), forKey: "x-big")
      let relayed = try await health.check(.with { $0.service = "a" }, metadata: fits)
      let after = try await health.check(.with { $0.service = "a" })
      #expect(relayed.status == .serving && after.status == .serving)
    }
  }

  @Test("a backend that cannot be reached is UNAVAILABLE at once, without its address")
  func backendDown() async throws {
    try await Self.withHop(HealthStatusStore(names: [], initial: .serving), backendAddress: .host(HostPort(host: "127.0.0.1", port: 1))) { client, _ in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      let start = ContinuousClock.now
      var options = CallOptions.defaults
      options.timeout = .seconds(10)
      do {
        _ = try await health.check(.init(), options: options)
        Issue.record("expected UNAVAILABLE")
      } catch let error as RPCError {
        #expect(error.code == .unavailable && !error.message.contains("127.0.0.1"), "\(error)")
      }
      #expect(ContinuousClock.now - start < .seconds(3))
    }
  }

  @Test("a draining relay lets a call in flight finish on its connection")
  func drainKeepsCallsInFlight() async throws {
    let store = HealthStatusStore(names: ["a"], initial: .serving)
    try await Self.withHop(store) { client, relay in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      let seen = try await health.watch(.with { $0.service = "a" }) { response in
        var statuses: [ServingStatus] = []
        for try await message in response.messages {
          statuses.append(message.status)
          if statuses.count == 1 {
            relay.beginGracefulShutdown()
            try await Task.sleep(for: .milliseconds(200))
            store.set("a", .notServing)
          }
          if statuses.count == 2 { store.shutdown() }
        }
        return statuses
      }
      #expect(Array(seen.prefix(2)) == [.serving, .notServing], "the stream outlived the start of the drain")
    }
  }

  @Test("message prefixes split across DATA frames are followed")
  func messagePrefixes() {
    var check = MessageSizeCheck(limit: 10)
    func frame(_ bytes: [UInt8]) -> IOData { .byteBuffer(ByteBuffer(bytes: bytes)) }
    #expect(check.oversize(in: frame([0, 0, 0])) == nil)
    #expect(check.oversize(in: frame([0, 4, 1, 2])) == nil)  // a 4-byte message, first two bytes
    #expect(check.oversize(in: frame([3, 4, 0, 0, 0, 0, 10] + Array(repeating: 0, count: 10))) == nil)
    #expect(check.oversize(in: frame([0, 0, 0, 0])) == nil)
    #expect(check.oversize(in: frame([11])) == 11)
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

/// A count shared by concurrent tasks.
final class Counter: Sendable {
  private let value = Mutex(0)
  /// Adds one; the new count.
  func increment() -> Int { value.withLock { $0 += 1; return $0 } }
}
