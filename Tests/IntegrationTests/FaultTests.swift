import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SupportCodec
import TestSupport
import Testing

/// Faults that need a mesh of their own: the database hanging under the services.
@Suite("Faults", .serialized)
struct FaultTests {
  @Test("a hung database: health says NOT_SERVING and calls fail fast with UNAVAILABLE; service resumes when it answers again")
  func databaseOutage() async throws {
    let mesh = try Mesh(portBase: 18400)
    try await mesh.start()
    do {
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

/// Polls `condition` until it holds, failing after `seconds`.
func waitFor(seconds: Int, _ condition: () async throws -> Bool) async throws {
  let deadline = ContinuousClock.now + .seconds(seconds)
  while !(try await condition()) {
    guard ContinuousClock.now < deadline else { throw MeshError("condition not met within \(seconds) s") }
    try await Task.sleep(for: .milliseconds(200))
  }
}

/// The embedded cluster's processes: the postmaster (from postmaster.pid) and its children.
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
  /// The embedded cluster's data directory, as the launcher recorded it.
  func pgDataDirectory() throws -> String {
    try String(contentsOf: state.appendingPathComponent("pg-data"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
