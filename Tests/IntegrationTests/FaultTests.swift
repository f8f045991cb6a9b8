import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceKit
import SupportCodec
import TestSupport
import Testing

/// Faults that need a mesh of their own: the database hanging under the services.
@Suite("Faults", .serialized)
struct FaultTests {
  @Test("a hung database: health says NOT_SERVING and calls fail fast with UNAVAILABLE; service resumes when it answers again")
  func databaseOutage() async throws {
    let mesh = try Mesh(portBase: 18400)
    mesh.extraEnvironment = ["SUPPORTMESH_HANDSHAKE_TIMEOUT_SECONDS": "2"]
    try await mesh.start()
    do {
      // Sockets that never start HTTP/2 are closed after the handshake timeout.
      let silent = try (0..<20).map { index in try RawSocket(port: index % 2 == 0 ? mesh.gatewayPort : mesh.grpcPort("tickets")) }
      try await Task.sleep(for: .seconds(4))
      #expect(silent.filter { $0.isClosedByPeer() }.count == 20, "silent connections are closed")
      try await mesh.withGateway { grpc async throws in
        let tickets = Support_Tickets_V1_TicketService.Client(wrapping: grpc)
        let health = Grpc_Health_V1_Health.Client(wrapping: grpc)
        let ticket = try await tickets.createTicket(MeshTests.Tickets.returnRequest(shopper: uniqueID("shopper")))
        let database = try PostgresProcesses(dataDirectory: mesh.pgDataDirectory())
        try database.signal(SIGSTOP)
        do {
          // Within a few seconds the probe notices and health follows.
          try await waitFor(seconds: 6) {
            (try? await health.check(.with { $0.service = "support.tickets.v1.TicketService" }).status) == .notServing
          }
          var options = CallOptions.defaults
          options.timeout = .seconds(10)
          let started = ContinuousClock.now
          await expectCode(.unavailable, containing: "database") {
            try await tickets.getTicket(.with { $0.ticketID = ticket.ticketID }, options: options)
          }
          #expect(ContinuousClock.now - started < .seconds(2), "fails fast, not at the 10 s deadline")
        } catch {
          try? database.signal(SIGCONT)
          throw error
        }
        try database.signal(SIGCONT)
        try await waitFor(seconds: 6) {
          (try? await health.check(.with { $0.service = "support.tickets.v1.TicketService" }).status) == .serving
        }
        #expect(try await tickets.getTicket(.with { $0.ticketID = ticket.ticketID }).ticketID == ticket.ticketID)
      }
    } catch {
      _ = try? await mesh.stop()
      throw error
    }
    #expect(try await mesh.stop() == 0)
    mesh.removeState()
  }
}

extension FaultTests {
  @Test("SIGTERM drains: a call in flight at the backend or the gateway finishes with its real result; a second SIGTERM stops at once")
  func drainOnSigterm() async throws {
    let mesh = try Mesh(portBase: 18430)
    try await mesh.start()
    do {
      for victim in ["tickets", "gateway"] {
        // Hold the order's lock for 2 s from another session: the create waits on it, in flight.
        let order = uniqueID("order")
        let holder = try mesh.psql("SELECT pg_advisory_lock(hashtext('tickets.order:\(order)')); SELECT pg_sleep(2);")
        try await Task.sleep(for: .milliseconds(500))
        let pid = try mesh.pid(of: victim)
        let created = try await mesh.withGateway { grpc in
          try await withThrowingTaskGroup(of: Support_Tickets_V1_Ticket?.self) { group in
            group.addTask {
              try await Support_Tickets_V1_TicketService.Client(wrapping: grpc)
                .createTicket(MeshTests.Tickets.returnRequest(shopper: uniqueID("shopper"), order: order))
            }
            group.addTask {
              try await Task.sleep(for: .milliseconds(400))
              kill(pid, SIGTERM)
              return nil
            }
            var ticket: Support_Tickets_V1_Ticket?
            for try await result in group { if let result { ticket = result } }
            return ticket
          }
        }
        holder.waitUntilExit()
        #expect(created?.status == .submitted, "the call in flight at \(victim) when it got SIGTERM completed")
        // The launcher starts it again; wait until it serves before the next round.
        try await waitFor(seconds: 30) {
          guard (try? mesh.pid(of: victim)) != pid else { return false }
          return (try? await mesh.http(mesh.httpPort(victim), "/healthz").0) == 200
        }
      }

      // A watch and an event-log stream relayed by the gateway do not hold up its drain: they
      // end UNAVAILABLE at once (the caller resumes elsewhere) and the gateway exits well
      // within its grace period.
      do {
        let pid = try mesh.pid(of: "gateway")
        let started = ContinuousClock.now
        let ended: [String: RPCError.Code] = try await mesh.withGateway { grpc in
          let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
          let shipment = try await shipments.createShipment(MeshTests.LogisticsExceptionCases.outbound(order: uniqueID("order"), shopper: uniqueID("s")))
          return try await withThrowingTaskGroup(of: (String, RPCError.Code?).self) { group in
            group.addTask {
              do {
                try await shipments.watchShipment(.with { $0.shipmentID = shipment.shipmentID }) { response in
                  for try await _ in response.messages {}
                }
                return ("watch", nil)
              } catch let error as RPCError {
                return ("watch", error.code)
              }
            }
            group.addTask {
              var metadata = Metadata()
              metadata.addString("tickets", forKey: "x-supportmesh-producer")
              do {
                // A type nothing produces: nothing to send but heartbeats, until the drain.
                try await Support_Events_V1_EventLog.Client(wrapping: grpc).streamEvents(
                  .with { $0.afterPosition = 0; $0.types = ["support.tests.v1.NeverProducedEvent"] }, metadata: metadata
                ) { response in
                  for try await _ in response.messages {}
                }
                return ("events", nil)
              } catch let error as RPCError {
                return ("events", error.code)
              }
            }
            group.addTask {
              try await Task.sleep(for: .milliseconds(500))
              kill(pid, SIGTERM)
              return ("signal", nil)
            }
            var codes: [String: RPCError.Code] = [:]
            for try await (name, code) in group { if let code { codes[name] = code } }
            return codes
          }
        }
        #expect(ended == ["watch": .unavailable, "events": .unavailable], "relayed long-lived streams end UNAVAILABLE when the gateway drains")
        while kill(pid, 0) == 0, ContinuousClock.now - started < .seconds(30) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(ContinuousClock.now - started < .seconds(8), "the gateway exits without waiting for the watcher")
        try await waitFor(seconds: 30) {
          guard (try? mesh.pid(of: "gateway")) != pid else { return false }
          return (try? await mesh.http(mesh.httpPort("gateway"), "/healthz").0) == 200
        }
      }

      // A caller who gives up: its deadline passes while the create waits on the lock. The
      // caller sees DEADLINE_EXCEEDED; the service ends the call as the caller's outcome, not
      // as a fault (no INTERNAL, nothing logged as an error).
      do {
        let order = uniqueID("order")
        let holder = try mesh.psql("SELECT pg_advisory_lock(hashtext('tickets.order:\(order)')); SELECT pg_sleep(2);")
        try await Task.sleep(for: .milliseconds(500))
        let requestID = uniqueID("trace")
        try await mesh.withGateway { grpc in
          var options = CallOptions.defaults
          options.timeout = .milliseconds(500)
          await expectCode(.deadlineExceeded) {
            try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).createTicket(
              MeshTests.Tickets.returnRequest(shopper: uniqueID("shopper"), order: order),
              metadata: header(RequestContext.requestIDKey, requestID), options: options)
          }
        }
        holder.waitUntilExit()
        for service in ["gateway", "tickets"] {
          var lines: [Substring] = []
          try await waitFor(seconds: 5) {
            let log = try String(contentsOf: mesh.state.appendingPathComponent("logs/\(service).log"), encoding: .utf8)
            lines = log.split(separator: "\n").filter { $0.contains(requestID) }
            return lines.contains { $0.contains("rpc finished") }
          }
          let finished = try #require(lines.first { $0.contains("rpc finished") })
          #expect(finished.contains(#""code":"DEADLINE_EXCEEDED""#) || finished.contains(#""code":"CANCELLED""#), "\(service): \(finished)")
          #expect(!lines.contains { $0.contains(#""level":"error""#) }, "\(service) logs no error for a caller who gave up: \(lines)")
        }
      }

      // A second SIGTERM does not wait for the drain.
      let order = uniqueID("order")
      let holder = try mesh.psql("SELECT pg_advisory_lock(hashtext('tickets.order:\(order)')); SELECT pg_sleep(2);")
      try await Task.sleep(for: .milliseconds(500))
      let pid = try mesh.pid(of: "tickets")
      try await mesh.withGateway { grpc in
        try await withThrowingTaskGroup(of: Void.self) { group in
          group.addTask {
            await expectCode(.unavailable) {
              try await Support_Tickets_V1_TicketService.Client(wrapping: grpc)
                .createTicket(MeshTests.Tickets.returnRequest(shopper: uniqueID("shopper"), order: order))
            }
          }
          group.addTask {
            try await Task.sleep(for: .milliseconds(300))
            kill(pid, SIGTERM)
            try await Task.sleep(for: .milliseconds(100))
            let second = ContinuousClock.now
            kill(pid, SIGTERM)
            while kill(pid, 0) == 0, ContinuousClock.now - second < .seconds(5) { try await Task.sleep(for: .milliseconds(20)) }
            #expect(ContinuousClock.now - second < .seconds(1), "a second SIGTERM ends the process at once")
          }
          try await group.waitForAll()
        }
      }
      holder.waitUntilExit()
    } catch {
      _ = try? await mesh.stop()
      throw error
    }
    #expect(try await mesh.stop() == 0)
    mesh.removeState()
  }
}

/// Polls `condition` until it holds, failing after `seconds`.
func waitFor(seconds: Int, _ condition: () async throws -> Bool) async throws {
  let deadline = ContinuousClock.now + .seconds(seconds)
  while !(try await condition()) {
    guard ContinuousClock.now < deadline else { throw MeshError("condition not met within \(seconds) s") }
    try await Task.sleep(for: .milliseconds(200))
  }
}

/// The embedded cluster's processes: the postmaster (from postmaster.pid) and its children.
extension FaultTests {
  @Test("a database crash under chat writes: every conversation takes messages again within seconds, each at once")
  func databaseCrashUnderChatWrites() async throws {
    try await withOwnMesh(portBase: 18480) { mesh in
      try await mesh.withGateway { grpc in
        let chat = ChatClient(wrapping: grpc)
        var conversations: [(id: String, shopper: String)] = []
        for _ in 0..<3 {
          let shopper = uniqueID("shopper")
          let started = try await chat.startConversation(.with {
            $0.requestID = uniqueID("req"); $0.shopperID = shopper; $0.channel = .web; $0.initialMessage = "hello"
          })
          conversations.append((started.conversationID, shopper))
        }
        let targets = conversations
        @Sendable func message(_ index: Int) -> Support_Chat_V1_SendMessageRequest {
          let (id, shopper) = targets[index % targets.count]
          return .with {
            $0.requestID = uniqueID("msg"); $0.conversationID = id; $0.text = "message \(index)"
            $0.sender = .with { $0.kind = .shopper; $0.id = shopper }
          }
        }
        var options = CallOptions.defaults
        options.timeout = .seconds(3)
        let calls = options
        // Six writers for 4 s; 1.5 s in, a PostgreSQL process is SIGKILLed: the server ends every
        // session and restarts (crash recovery), as after a crash.
        let killed = try await withThrowingTaskGroup(of: ContinuousClock.Instant?.self) { group in
          for writer in 0..<6 {
            group.addTask {
              let end = ContinuousClock.now + .seconds(4)
              var index = writer
              while ContinuousClock.now < end {
                do { _ = try await chat.sendMessage(message(index), options: calls) } catch { try await Task.sleep(for: .milliseconds(50)) }
                index += 6
              }
              return nil
            }
          }
          group.addTask {
            try await Task.sleep(for: .milliseconds(1500))
            let database = try PostgresProcesses(dataDirectory: mesh.pgDataDirectory())
            let child = try #require(database.pids.dropFirst().first, "a PostgreSQL child process")
            try #require(kill(child, SIGKILL) == 0, "SIGKILL of PostgreSQL process \(child): errno \(errno)")
            return ContinuousClock.now
          }
          return try await group.compactMap { $0 }.first { _ in true }
        }
        let crash = try #require(killed)
        // Within seconds of the crash (PostgreSQL's recovery takes about one), every conversation
        // takes messages again: no write is left holding what later ones need (chat writes
        // messages in batches, a batch holds its conversations). Before withOpenConnection, a
        // batch on a connection the pool leased already closed waited 20 s (the batch limit).
        var accepted = Set<Int>()
        try await waitFor(seconds: 15) {
          for index in 0..<targets.count where !accepted.contains(index) {
            if (try? await chat.sendMessage(message(1000 + index), options: calls)) != nil { accepted.insert(index) }
          }
          return accepted.count == targets.count
        }
        let recovered = ContinuousClock.now - crash
        #expect(recovered < .seconds(12), "every conversation took messages again \(recovered) after the crash")
        for index in 0..<9 {
          let started = ContinuousClock.now
          let sent = try await chat.sendMessage(message(2000 + index), options: calls)
          let took = ContinuousClock.now - started
          #expect(sent.text == "message \(2000 + index)" && took < .seconds(2), "message \(2000 + index) took \(took)")
        }
      }
    }
  }
}

struct PostgresProcesses {
  let pids: [pid_t]

  init(dataDirectory: String) throws {
    let pidFile = try String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8)
    let postmaster = try #require(pid_t(pidFile.split(separator: "\n").first ?? ""))
    var pids = [postmaster]
    let proc = try FileManager.default.contentsOfDirectory(atPath: "/proc")
    for entry in proc {
      guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { continue }
      // Fields after the command: state, ppid, …
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      if fields.count > 1, pid_t(fields[1]) == postmaster { pids.append(pid) }
    }
    self.pids = pids
  }

  func signal(_ signal: Int32) throws {
    for pid in pids where kill(pid, signal) != 0 && errno != ESRCH {
      throw MeshError("kill(\(pid), \(signal)) failed: errno \(errno)")
    }
  }
}

extension Mesh {
  /// Runs SQL as the admin on the embedded cluster, in the background.
  func psql(_ sql: String) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["psql", "-h", "127.0.0.1", "-p", "\(pgPort)", "-U", "postgres", "-d", "supportmesh", "-v", "ON_ERROR_STOP=1", "-qc", sql]
    var environment = ProcessInfo.processInfo.environment
    environment["PGPASSWORD"] = try String(contentsOf: state.appendingPathComponent("admin-password"), encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    return process
  }

  /// Runs a query as the admin on the embedded cluster and returns its rows, one per line, as
  /// psql prints them unaligned (`-tA`): for checking what a service stored.
  func query(_ sql: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["psql", "-X", "-h", "127.0.0.1", "-p", "\(pgPort)", "-U", "postgres", "-d", "supportmesh", "-v", "ON_ERROR_STOP=1", "-tAc", sql]
    var environment = ProcessInfo.processInfo.environment
    environment["PGPASSWORD"] = try String(contentsOf: state.appendingPathComponent("admin-password"), encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    process.environment = environment
    let (status, output) = try Mesh.runCollectingOutput(process)
    guard status == 0 else { throw MeshError("psql failed: \(output)") }
    return output.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The embedded cluster's data directory, as the launcher recorded it.
  func pgDataDirectory() throws -> String {
    try String(contentsOf: state.appendingPathComponent("pg-data"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

/// A plain TCP connection to 127.0.0.1 that sends nothing.
final class RawSocket {
  let fd: Int32

  init(port: Int) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else { close(fd); throw MeshError("connect to \(port) failed: errno \(errno)") }
  }

  /// True when the peer has closed the connection: past whatever it sent (a server speaks
  /// first in HTTP/2, with its SETTINGS), a read meets end of file or a reset.
  func isClosedByPeer() -> Bool {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
      if count > 0 { continue }
      if count == 0 { return true }
      return errno != EAGAIN && errno != EWOULDBLOCK
    }
  }

  deinit { close(fd) }
}

extension FaultTests {
  @Test("SIGKILL mid-journey: the consumers (tickets, logistics, feedback) die after the solution is agreed; restarted, the journey completes with one RMA, one survey, one follow-up per resolution")
  func journeySurvivesKilledConsumers() async throws {
    let mesh = try Mesh(portBase: 18460)
    try await mesh.start()
    do {
      let journey = Journey(mesh: mesh)
      let closed = try await journey.returnAndRefund(midway: {
        // TicketApprovedEvent is committed; logistics may be applying it right now.
        let victims = ["logistics", "tickets", "feedback"]
        let before = try victims.map { try mesh.pid(of: $0) }
        for pid in before { kill(pid, SIGKILL) }
        // The launcher restarts each; each serves again once its schema is checked (until
        // then its health is NOT_SERVING and its calls UNAVAILABLE).
        try await waitFor(seconds: 60) {
          guard (try? victims.map { try mesh.pid(of: $0) }).map({ zip($0, before).allSatisfy { $0 != $1 } }) == true else { return false }
          for service in ["support.logistics.v1.ShipmentService", "support.tickets.v1.TicketService", "support.feedback.v1.SurveyService"] {
            let status = try? await mesh.withGateway { grpc in
              try await Grpc_Health_V1_Health.Client(wrapping: grpc).check(.with { $0.service = service }).status
            }
            guard status == .serving else { return false }
          }
          return true
        }
      })
      let id = closed.ticketID
      #expect(try mesh.query("SELECT count(*) FROM logistics.return_authorizations WHERE ticket_id = '\(id)'") == "1")
      #expect(try journey.surveyCount(id) == "1")
      #expect(try mesh.query("SELECT count(*) FROM feedback.follow_ups WHERE ticket_id = '\(id)'") == "2", "one per resolution")
      let history = try await mesh.withGateway { grpc in
        try await Support_Tickets_V1_TicketService.Client(wrapping: grpc).listTicketHistory(.with { $0.ticketID = id; $0.pageSize = 100 })
      }
      #expect(history.entries.filter { $0.kind == .transitioned && $0.toStatus == .awaitingReturn }.count == 1, "awaited the return once")
    } catch {
      _ = try? await mesh.stop()
      throw error
    }
    #expect(try await mesh.stop() == 0)
    mesh.removeState()
  }
}
