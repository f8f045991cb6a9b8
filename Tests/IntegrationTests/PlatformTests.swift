import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec
import TestSupport
import Testing

extension MeshTests {
  @Suite("Gateway, health, metrics, isolation")
  struct Platform {
    @Test("methods the contract does not have are UNIMPLEMENTED")
    func unimplemented() async throws {
      try await mesh.withGateway { grpc in
        let unknown = MethodDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService", method: "Nope")
        await expectCode(.unimplemented) {
          try await grpc.unary(
            request: ClientRequest(message: [UInt8]()), descriptor: unknown,
            serializer: RawMessageSerializer(), deserializer: RawMessageDeserializer(), options: .defaults
          ) { try $0.message }
        }
        // A method the contract does not have, of a package the gateway routes.
        let missing = MethodDescriptor(fullyQualifiedService: "support.feedback.v1.ServiceQualityService", method: "GetNothing")
        await expectCode(.unimplemented) {
          try await grpc.unary(
            request: ClientRequest(message: [UInt8]()), descriptor: missing,
            serializer: RawMessageSerializer(), deserializer: RawMessageDeserializer(), options: .defaults
          ) { try $0.message }
        }
      }
    }

    @Test("health: the gateway itself and every backend by service name, in Check and in List")
    func health() async throws {
      try await mesh.withGateway { grpc in
        let health = Grpc_Health_V1_Health.Client(wrapping: grpc)
        let own = try await health.check(.with { $0.service = "" })
        #expect(own.status == .serving)
        let listed = try await health.list(.init()).statuses
        #expect(listed[""]?.status == .serving)
        // The services this release serves, one per backend; the gateway asks each backend live.
        for service in ["support.chat.v1.ConversationService", "support.chat.v1.AgentService", "support.tickets.v1.TicketService",
                        "support.logistics.v1.ShipmentService", "support.feedback.v1.SurveyService",
                        "support.feedback.v1.ServiceQualityService", "support.tickets.v1.SlaService"] {
          let answer = try await health.check(.with { $0.service = service })
          #expect(answer.status == .serving, "\(service)")
          #expect(listed[service]?.status == .serving, "\(service) in List")
        }
        // A service no backend serves is unknown to health, as to the router.
        await expectCode(.notFound) { try await health.check(.with { $0.service = "support.nope.v1.Nothing" }) }
      }
      let (status, body) = try await mesh.http(mesh.httpPort("gateway"), "/healthz")
      #expect(status == 200 && body.contains("SERVING"))
    }

    @Test("request ids cross the hop; deadlines are honoured; oversize messages are refused")
    func metadataDeadlinesLimits() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Support_Tickets_V1_TicketService.Client(wrapping: grpc)
        let requestID = uniqueID("trace")
        let echoed = try await tickets.listTickets(.with { $0.shopperID = "nobody" }, metadata: ["x-request-id": .string(requestID)]) { response in
          _ = try response.message
          return response.metadata[stringValues: "x-request-id"].first(where: { _ in true })
        }
        #expect(echoed == requestID)
        let traced = uniqueID("trace")
        _ = try await tickets.createTicket(Tickets.returnRequest(shopper: uniqueID("shopper")), metadata: ["x-request-id": .string(traced)])
        let log = try String(contentsOf: mesh.state.appendingPathComponent("logs/tickets.log"), encoding: .utf8)
        #expect(log.contains("\"request_id\":\"\(traced)\""), "the backend logged the caller's request id")

        var tight = CallOptions.defaults
        tight.timeout = .milliseconds(1)
        await expectCode(.deadlineExceeded) { try await tickets.listTickets(.init(), options: tight) }

        var huge = Tickets.returnRequest(shopper: uniqueID("shopper"))
        huge.description_p = String(repeating: "x", count: 5 * 1024 * 1024)
        await expectCode(.resourceExhausted) { try await tickets.createTicket(huge) }
      }
    }

    @Test("every process serves Prometheus metrics with RPC counts by method and code")
    func metrics() async throws {
      try await mesh.withGateway { grpc in
        _ = try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).listTickets(.with { $0.shopperID = "metrics" })
      }
      let (status, body) = try await mesh.http(mesh.httpPort("tickets"), "/metrics")
      #expect(status == 200)
      #expect(body.contains("grpc_server_handled_total{"))
      #expect(body.contains("support.tickets.v1.TicketService/ListTickets"))
      #expect(body.contains("code=\"OK\""))
      #expect(body.contains("db_pool_max_connections 10"))
      #expect(body.contains("db_pool_connections_in_use"))
      #expect(body.contains("db_transactions_total{outcome=\"committed\"}") || body.contains("db_operation_seconds"))
      let gateway = try await mesh.http(mesh.httpPort("gateway"), "/metrics").1
      #expect(gateway.contains("grpc_server_handling_seconds"))
    }

    @Test("an event stream that reaches its deadline ends DEADLINE_EXCEEDED or CANCELLED at the producer too, not OK")
    func eventStreamDeadline() async throws {
      let m = try mesh
      await expectCode(.deadlineExceeded) {
        try await m.withEventLog("logistics", caller: "it-deadline", timeout: .seconds(1)) { eventLog, metadata, options in
          try await eventLog.streamEvents(
            .with { $0.afterPosition = 0; $0.types = ["support.nope.v1.NeverEvent"] }, metadata: metadata, options: options
          ) { response in
            for try await _ in response.messages {}
          }
        }
      }
      var lines: [Substring] = []
      do {
        try await waitFor(seconds: 10) {
          lines = try await m.http(m.httpPort("logistics"), "/metrics").1.split(separator: "\n").filter {
            $0.hasPrefix("grpc_server_handled_total{") && $0.contains("EventLog/StreamEvents")
          }
          return lines.contains { $0.contains("code=\"DEADLINE_EXCEEDED\"") || $0.contains("code=\"CANCELLED\"") }
        }
      } catch {
        Issue.record("no StreamEvents ended DEADLINE_EXCEEDED or CANCELLED: \(lines)")
      }
    }

    @Test("each service's role owns its schema and cannot touch another's")
    func schemaIsolation() async throws {
      let logger = Logger(label: "isolation")
      var config = PostgresClient.Configuration(
        host: "127.0.0.1", port: try mesh.pgPort, username: "chat", password: try mesh.databasePassword("chat"),
        database: "supportmesh", tls: .disable
      )
      config.options.maximumConnections = 2
      let client = PostgresClient(configuration: config, backgroundLogger: logger)
      try await withThrowingDiscardingTaskGroup { group in
        group.addTask { await client.run() }
        let own = try await client.query("SELECT count(*) FROM conversations", logger: logger).collect()
        #expect(own.count == 1, "chat reads its own schema through its search_path")
        for statement in ["SELECT count(*) FROM tickets.tickets", "INSERT INTO feedback.surveys DEFAULT VALUES",
                          "CREATE TABLE logistics.intruder (id int)", "CREATE TABLE public.intruder (id int)"] {
          do {
            try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            Issue.record("chat must not be able to run: \(statement)")
          } catch let error as PSQLError {
            #expect(error.serverInfo?[.sqlState] == "42501", "permission denied for \(statement): \(String(reflecting: error))")
          }
        }
        group.cancelAll()
      }
    }

    @Test("a gRPC client written in another language (Python grpcio) works through the gateway")
    func python() async throws {
      let python = try #require(ProcessInfo.processInfo.environment["SUPPORTMESH_TEST_PYTHON"], "SUPPORTMESH_TEST_PYTHON is not set: run ./mesh test")
      let process = Process()
      process.executableURL = URL(fileURLWithPath: python)
      process.arguments = [
        try mesh.root.appendingPathComponent("Tests/interop/ticket_roundtrip.py").path, "127.0.0.1:\(try mesh.gatewayPort)",
        try mesh.secrets.appendingPathComponent("admin-api-key").path,
      ]
      let (status, text) = try Mesh.runCollectingOutput(process)
      #expect(status == 0, "\(text)")
      #expect(text.contains("created and read ticket"))
    }

    @Test("nghttp2's h2load, 128 streams on one connection, 16 KiB answers: every call through the gateway completes")
    func h2loadLargeAnswers() async throws {
      // The reference peer opens windows of 2^30 - 1 bytes, so nothing but the sockets holds the
      // answers back. Coalesced flushes once left bytes written and never sent here: the run hung.
      let shopper = uniqueID("h2load")
      try await mesh.withGateway { client in
        let tickets = Support_Tickets_V1_TicketService.Client(wrapping: client)
        for index in 0..<50 {
          _ = try await tickets.createTicket(MeshTests.Tickets.returnRequest(shopper: shopper, order: "order-\(index)"))
        }
      }
      let request = try Support_Tickets_V1_ListTicketsRequest.with { $0.shopperID = shopper; $0.pageSize = 50 }.serializedBytes() as [UInt8]
      let frame = FileManager.default.temporaryDirectory.appendingPathComponent("list-tickets-\(shopper).bin")
      defer { try? FileManager.default.removeItem(at: frame) }
      let length = UInt32(request.count)
      try Data([0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + request).write(to: frame)
      let key = try #require(try await mesh.credentials(for: .admin)).value
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
      process.arguments = [
        "-s", "KILL", "60", "h2load", "-n", "640", "-c", "1", "-m", "128", "-d", frame.path, "-H", "content-type: application/grpc",
        "-H", "te: trailers", "-H", "x-api-key: \(key)",
        "http://127.0.0.1:\(try mesh.gatewayPort)/support.tickets.v1.TicketService/ListTickets",
      ]
      let (status, text) = try Mesh.runCollectingOutput(process)
      #expect(status == 0, "h2load did not finish (killed after 60 s: it hung): \(text.suffix(400))")
      #expect(text.contains("640 done, 640 succeeded"), "\(text.suffix(400))")
    }

    @Test("a backend going down is UNAVAILABLE through the gateway, then recovers with its data")
    func backendDown() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Support_Tickets_V1_TicketService.Client(wrapping: grpc)
        let health = Grpc_Health_V1_Health.Client(wrapping: grpc)
        let before = try await tickets.createTicket(Tickets.returnRequest(shopper: uniqueID("shopper")))
        kill(try mesh.pid(of: "tickets"), SIGKILL)
        // The launcher restarts it after 3 s; meanwhile callers get a clear UNAVAILABLE.
        var sawUnavailable = false
        let deadline = ContinuousClock.now + .seconds(3)
        while ContinuousClock.now < deadline && !sawUnavailable {
          do {
            _ = try await tickets.getTicket(.with { $0.ticketID = before.ticketID })
            try await Task.sleep(for: .milliseconds(50))
          } catch let error as RPCError {
            #expect(error.code == .unavailable, "\(error)")
            #expect(error.message.contains("tickets"), "the message names the backend: \(error.message)")
            sawUnavailable = error.code == .unavailable
          }
        }
        #expect(sawUnavailable)
        #expect(try await health.check(.with { $0.service = "support.tickets.v1.TicketService" }).status == .notServing)
        var recovered: Support_Tickets_V1_Ticket?
        let recoverBy = ContinuousClock.now + .seconds(60)
        while recovered == nil && ContinuousClock.now < recoverBy {
          recovered = try? await tickets.getTicket(.with { $0.ticketID = before.ticketID })
          if recovered == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(recovered == before, "the backend came back with the acknowledged ticket")
        #expect(try await health.check(.with { $0.service = "support.tickets.v1.TicketService" }).status == .serving)
      }
    }
  }
}

extension MeshTests {
  @Suite("Launcher modes")
  struct Launcher {
    @Test("a second ./mesh run reuses the embedded cluster and keeps the data")
    func embeddedRestart() async throws {
      let mesh = try mesh
      let created = try await mesh.withGateway { grpc in
        try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).createTicket(Tickets.returnRequest(shopper: uniqueID("shopper")))
      }
      #expect(try await mesh.restart() == 0)
      let fetched = try await mesh.withGateway { grpc in
        try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).getTicket(.with { $0.ticketID = created.ticketID })
      }
      #expect(fetched == created)
      let log = mesh.log()
      #expect(log.components(separatedBy: "creating PostgreSQL cluster").count == 2, "the cluster was created once")
      #expect(log.components(separatedBy: "starting PostgreSQL").count == 3, "and started twice")
    }

    @Test("with DATABASE_URL the launcher provisions there; a second run keeps the data")
    func databaseURLAndRestart() async throws {
      let admin = try #require(ProcessInfo.processInfo.environment["SUPPORTMESH_TEST_ADMIN_URL"], "run ./mesh test")
      let other = try Mesh(portBase: try mesh.portBase + 100, databaseURL: admin)
      try await other.start()
      do {
        let created = try await other.withGateway { grpc in
          try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).createTicket(Tickets.returnRequest(shopper: uniqueID("shopper")))
        }
        #expect(!other.log().contains("creating PostgreSQL cluster"), "no embedded cluster with DATABASE_URL")
        #expect(try await other.restart() == 0)
        let fetched = try await other.withGateway { grpc in
          try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).getTicket(.with { $0.ticketID = created.ticketID })
        }
        #expect(fetched == created, "the acknowledged ticket survived a full restart")
        #expect(try await other.stop() == 0)
      } catch {
        _ = try? await other.stop()
        throw error
      }
      other.removeState()
    }
  }
}
