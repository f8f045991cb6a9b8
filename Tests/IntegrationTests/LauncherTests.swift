import Foundation
import Testing

/// The launcher's own promises (issue 6): `./mesh run` keeps restarting a failing process
/// without touching the healthy ones, and its embedded PostgreSQL and state folder are closed
/// to other local users. Each test starts its own mesh exactly as the README's command does (the
/// `Mesh` harness), on ports no other suite uses: 18500+, 18600+ and 18700+.
@Suite("Launcher: supervision and security")
struct LauncherTests {
  @Test("a backend killed three times in a row is restarted each time; the others keep running")
  func crashLoop() async throws {
    try await withOwnMesh(portBase: 18500) { mesh in
      let others = ["chat", "logistics", "feedback", "gateway"]
      var before: [String: Int32] = [:]
      for name in others { before[name] = try mesh.pid(of: name) }

      var pid = try mesh.pid(of: "tickets")
      for round in 1...3 {
        #expect(kill(pid, SIGKILL) == 0, "round \(round): tickets (pid \(pid)) was running")
        // Killed again as soon as it is back: a process that dies within seconds of its start,
        // over and over, is what a crash loop looks like.
        pid = try await mesh.waitForRestart(of: "tickets", replacing: pid, within: .seconds(40))
      }
      try await mesh.waitUntilServiceHealthy("tickets", within: .seconds(30))

      #expect(FileManager.default.fileExists(atPath: mesh.state.appendingPathComponent("ready").path),
              "the launcher is still running the mesh:\n\(mesh.log())")
      for name in others {
        let now = try mesh.pid(of: name)
        #expect(now == before[name], "\(name) was not restarted")
        #expect(kill(now, 0) == 0, "\(name) is still running")
        #expect(await mesh.serviceIsHealthy(name), "\(name) still serves")
      }
      let log = mesh.log()
      for attempt in 1...3 {
        #expect(log.contains("[mesh] tickets exited (status 137); restarting in"), "each exit is reported:\n\(log)")
        #expect(log.contains("(attempt \(attempt))"), "attempt \(attempt) is counted:\n\(log)")
      }
    }
  }

  @Test("embedded PostgreSQL: passwords only, socket closed to others, roles confined to the project's database; private logs; an older trust cluster is upgraded in place")
  func security() async throws {
    try await withOwnMesh(portBase: 18600) { mesh in
      try await mesh.expectClusterLockedDown()

      // Private state: logs and pids not readable by others, the folder at most traversable.
      for name in ["chat", "tickets", "logistics", "feedback", "gateway"] {
        let mode = try mesh.stateMode(of: "logs/\(name).log")
        #expect(mode & 0o037 == 0, "logs/\(name).log is 0600 (or 0640), not \(String(mode, radix: 8))")
      }
      for folder in ["logs", "pids"] {
        let mode = try mesh.stateMode(of: folder)
        #expect(mode & 0o077 == 0, "\(folder)/ is private, not \(String(mode, radix: 8))")
      }
      #expect(try mesh.stateMode(of: "") & 0o007 == 0, "the state folder is closed to others")

      // A cluster left by an older launcher: "trust" on the local socket, everything
      // world-reachable. Made live here (reload) to show the checks above would catch it.
      let admin = try mesh.adminPassword()
      let created = try mesh.clusterPsql(user: "postgres", password: admin, database: "supportmesh",
                                  "CREATE TABLE public.launcher_keep (x int); INSERT INTO public.launcher_keep VALUES (42)")
      #expect(created.status == 0, "\(created.output)")
      let hba = mesh.clusterHome.appendingPathComponent("data/pg_hba.conf").path
      // Not atomically: the file must keep its owner (the postgres user) for the server to read it.
      try "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n".write(toFile: hba, atomically: false, encoding: .utf8)
      for (path, mode) in [("", 0o755), ("pg", 0o755), ("pg/run", 0o755), ("logs", 0o755), ("logs/tickets.log", 0o644)] {
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: mesh.state.appendingPathComponent(path).path)
      }
      let reloaded = try mesh.clusterPsql(user: "postgres", password: admin, database: "postgres", "SELECT pg_reload_conf()")
      #expect(reloaded.status == 0, "\(reloaded.output)")
      if getuid() == 0 {
        let open = try mesh.psqlOnSocket(as: "postgres", user: "postgres", database: "postgres", "SELECT 1")
        #expect(open.status == 0, "with trust, no password is asked on the socket (so the checks can fail): \(open.output)")
      }

      #expect(try await mesh.restart() == 0)
      #expect(mesh.log().components(separatedBy: "authentication rules set (passwords only)").count == 3,
              "the rules were written at creation and again over the old ones:\n\(mesh.log())")
      try await mesh.expectClusterLockedDown()
      #expect(try mesh.stateMode(of: "logs/tickets.log") & 0o004 == 0, "an old world-readable log is tightened")
      #expect(try mesh.stateMode(of: "logs") & 0o077 == 0)
      #expect(try mesh.stateMode(of: "") & 0o007 == 0)
      let kept = try mesh.clusterPsql(user: "postgres", password: admin, database: "supportmesh", "SELECT x FROM public.launcher_keep")
      #expect(kept.status == 0 && kept.output.contains("42"), "the data survived the upgrade: \(kept.output)")
    }
  }

  @Test("SIGTERM stops the mesh even when a process hangs: it is killed after the grace period")
  func hungProcess() async throws {
    let mesh = try Mesh(portBase: 18700)
    var stopped = false
    var hungPID: Int32?
    do {
      try await mesh.start()
      // A stopped process cannot act on SIGTERM: it stands for one that hangs while draining.
      let hung = try mesh.pid(of: "feedback")
      hungPID = hung
      #expect(kill(hung, SIGSTOP) == 0)
      let began = ContinuousClock.now
      // Mesh.stop() gives up after 60 s; the launcher must be done within the grace (20 s) + 5 s
      // and the database's stop.
      let status = try await mesh.stop()
      stopped = true
      #expect(status == 0, "./mesh run exits 0:\n\(mesh.log())")
      #expect(ContinuousClock.now - began < .seconds(45))
      #expect(kill(hung, 0) != 0, "the hung process is gone")
      let log = mesh.log()
      #expect(log.contains("feedback did not stop within"), "\(log)")
      #expect(log.contains("stopping PostgreSQL"), "the database is stopped after the kill:\n\(log)")
      let pids = (try? FileManager.default.contentsOfDirectory(atPath: mesh.state.appendingPathComponent("pids").path)) ?? []
      #expect(pids.isEmpty, "no process is left running: \(pids)")
    } catch {
      if !stopped { _ = try? await mesh.stop() }
      if let hungPID { kill(hungPID, SIGKILL) } // never leave a stopped process behind
      throw error
    }
    mesh.removeState()
  }
}

extension Mesh {
  /// Waits until the launcher has started `service` again: a pid file naming another process
  /// (the launcher removes the file while the process is down).
  func waitForRestart(of service: String, replacing old: Int32, within limit: Duration) async throws -> Int32 {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
      if let pid = try? pid(of: service), pid != old, kill(pid, 0) == 0 { return pid }
      try await Task.sleep(for: .milliseconds(100))
    }
    throw MeshError("\(service) was not restarted within \(limit):\n\(log())")
  }

  func serviceIsHealthy(_ service: String) async -> Bool {
    (try? await http(httpPort(service), "/healthz"))?.0 == 200
  }

  func waitUntilServiceHealthy(_ service: String, within limit: Duration) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
      if await serviceIsHealthy(service) { return }
      try await Task.sleep(for: .milliseconds(200))
    }
    throw MeshError("\(service) did not answer /healthz with 200 within \(limit):\n\(log())")
  }

  /// The permission bits of a path inside the state folder ("" for the folder itself).
  func stateMode(of path: String) throws -> Int {
    let url = path.isEmpty ? state : state.appendingPathComponent(path)
    let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
    return try #require(attributes[.posixPermissions] as? Int) & 0o7777
  }

  /// Where the embedded cluster lives. The harness's state folder is reachable by the postgres
  /// user, so the launcher keeps the cluster inside it.
  var clusterHome: URL { state.appendingPathComponent("pg") }

  func adminPassword() throws -> String {
    try String(contentsOf: state.appendingPathComponent("admin-password"), encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// psql over TCP to the embedded cluster; `password` nil sends none (and never prompts).
  func clusterPsql(user: String, password: String?, database: String, _ sql: String) throws -> (status: Int32, output: String) {
    try Self.runPsql(prefix: [], password: password,
                     ["-h", "127.0.0.1", "-p", "\(pgPort)", "-U", user, "-d", database, "-tAc", sql])
  }

  /// psql on the cluster's Unix socket, run as another local user (needs root), with no password.
  func psqlOnSocket(as osUser: String, user: String, database: String, _ sql: String) throws -> (status: Int32, output: String) {
    try Self.runPsql(prefix: ["runuser", "-u", osUser, "--"], password: nil,
                     ["-h", clusterHome.appendingPathComponent("run").path, "-p", "\(pgPort)", "-U", user, "-d", database, "-tAc", sql])
  }

  private static func runPsql(prefix: [String], password: String?, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = prefix + ["psql", "-X", "-w"] + arguments
    // Only what psql needs: no PGPASSWORD or ~/.pgpass from the test runner's environment.
    var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "PGPASSFILE": "/dev/null",
                       "PGCONNECT_TIMEOUT": "5"]
    if let password { environment["PGPASSWORD"] = password }
    process.environment = environment
    return try Mesh.runCollectingOutput(process)
  }

  /// What the launcher promises of its embedded cluster, checked from outside.
  func expectClusterLockedDown() async throws {
    let admin = try adminPassword()
    let ok = try clusterPsql(user: "postgres", password: admin, database: "postgres", "SELECT 1")
    #expect(ok.status == 0, "the admin gets in with its password: \(ok.output)")

    let noPassword = try clusterPsql(user: "postgres", password: nil, database: "postgres", "SELECT 1")
    #expect(noPassword.status != 0 && noPassword.output.contains("password"), "TCP without a password is refused: \(noPassword.output)")

    let chatPassword = try databasePassword("chat")
    let own = try clusterPsql(user: "chat", password: chatPassword, database: "supportmesh", "SELECT 1")
    #expect(own.status == 0, "chat reaches the project's database: \(own.output)")
    let foreign = try clusterPsql(user: "chat", password: chatPassword, database: "postgres", "SELECT 1")
    #expect(foreign.status != 0 && foreign.output.contains("pg_hba.conf"), "chat may not connect to database postgres: \(foreign.output)")

    let hba = try String(contentsOf: clusterHome.appendingPathComponent("data/pg_hba.conf"), encoding: .utf8)
    let rules = hba.split(separator: "\n").filter { !$0.hasPrefix("#") }
    #expect(!rules.contains { $0.contains("trust") }, "no trust rule is left:\n\(hba)")

    let socketDirectory = clusterHome.appendingPathComponent("run")
    let attributes = try FileManager.default.attributesOfItem(atPath: socketDirectory.path)
    let socketMode = try #require(attributes[.posixPermissions] as? Int)
    #expect(socketMode & 0o077 == 0, "the socket directory is 0700, not \(String(socketMode, radix: 8))")
    if getuid() == 0 {
      #expect(attributes[.ownerAccountName] as? String == "postgres", "the socket directory belongs to the cluster's owner")
      let other = try psqlOnSocket(as: "nobody", user: "postgres", database: "postgres", "SELECT 1")
      #expect(other.status != 0, "another local user cannot use the socket: \(other.output)")
      let owner = try psqlOnSocket(as: "postgres", user: "postgres", database: "postgres", "SELECT 1")
      #expect(owner.status != 0 && owner.output.contains("password"), "even the cluster's OS user needs the password: \(owner.output)")
    }
  }
}
