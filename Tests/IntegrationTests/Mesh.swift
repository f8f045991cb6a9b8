import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Gateway
import ServiceKit
import SupportCodec
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The whole mesh, started exactly as the README's run command starts it (`./mesh run` with
/// its embedded PostgreSQL), in a throwaway state folder and on its own ports.
final class Mesh: @unchecked Sendable {
  let root: URL
  let state: URL
  let portBase: Int

  @TaskLocal static var current: Mesh?

  var gatewayPort: Int { portBase }
  func grpcPort(_ service: String) -> Int { portBase + (["gateway": 0, "chat": 1, "tickets": 2, "logistics": 3, "feedback": 4][service] ?? 0) }
  func httpPort(_ service: String) -> Int { grpcPort(service) + 80 }
  var pgPort: Int { portBase + 90 }

  /// With `databaseURL`, the launcher provisions roles and schemas there instead of creating
  /// its embedded cluster.
  let databaseURL: String?

  init(portBase: Int? = nil, databaseURL: String? = nil) throws {
    self.databaseURL = databaseURL
    let environment = ProcessInfo.processInfo.environment
    let command = try #require(environment["SUPPORTMESH_MESH_COMMAND"], "SUPPORTMESH_MESH_COMMAND is not set: run the tests with ./mesh test")
    root = URL(fileURLWithPath: command).deletingLastPathComponent()
    state = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("supportmesh-it-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    self.portBase = portBase ?? Int(environment["SUPPORTMESH_IT_PORT_BASE"] ?? "") ?? 17700
  }

  /// Settings for every process of this mesh, on top of the test runner's environment.
  var extraEnvironment: [String: String] = [:]

  /// Starts `./mesh run` and waits until it reports every process healthy.
  func start() async throws {
    var environment = ProcessInfo.processInfo.environment.merging(extraEnvironment) { $1 }
    environment.removeValue(forKey: "DATABASE_URL")
    if let databaseURL { environment["DATABASE_URL"] = databaseURL }
    environment["SUPPORTMESH_STATE_DIR"] = state.path
    environment["SUPPORTMESH_PORT_BASE"] = "\(portBase)"
    environment["SUPPORTMESH_SKIP_BUILD"] = "1"
    environment["SUPPORTMESH_RESTART_DELAY_SECONDS"] = "3"
    let log = state.appendingPathComponent("mesh-run.log")
    launcherPID = try Self.spawn(
      "/bin/bash", [root.appendingPathComponent("mesh").path, "run"], environment: environment, output: log.path
    )
    let ready = state.appendingPathComponent("ready")
    let deadline = ContinuousClock.now + .seconds(180)
    while !FileManager.default.fileExists(atPath: ready.path) {
      if let status = exitStatus() {
        throw MeshError("./mesh run exited with \(status) during start-up:\n\(self.log())")
      }
      if ContinuousClock.now > deadline { throw MeshError("the mesh was not ready within 180 s:\n\(self.log())") }
      try await Task.sleep(for: .milliseconds(200))
    }
  }

  /// Sends SIGTERM, as a container stop or `kill` would, and returns the exit status.
  func stop() async throws -> Int32 {
    guard let pid = launcherPID else { return 0 }
    if let status = exitStatus() { return status }
    kill(pid, SIGTERM)
    let deadline = ContinuousClock.now + .seconds(60)
    while true {
      if let status = exitStatus() { return status }
      if ContinuousClock.now > deadline {
        kill(pid, SIGKILL)
        throw MeshError("./mesh run did not stop within 60 s:\n\(log())")
      }
      try await Task.sleep(for: .milliseconds(100))
    }
  }

  private var launcherPID: pid_t?
  private var finished: Int32?

  /// Stops and starts the launcher again on the same state folder.
  func restart() async throws -> Int32 {
    let status = try await stop()
    launcherPID = nil
    finished = nil
    try await start()
    return status
  }

  /// The launcher's exit status once it has exited (reaped once, remembered).
  private func exitStatus() -> Int32? {
    if let finished { return finished }
    guard let pid = launcherPID else { return nil }
    var status: Int32 = 0
    guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
    finished = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return finished
  }

  /// Starts a program as a shell would: default signal handling and an empty signal mask.
  /// (Foundation's Process passes on the test runner's blocked signals, and a launcher that
  /// cannot receive SIGTERM cannot be stopped.)
  static func spawn(_ path: String, _ arguments: [String], environment: [String: String], output: String) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
    guard result == 0 else { throw MeshError("posix_spawn \(path) failed: \(result)") }
    return pid
  }

  /// Runs `process` to its end; its exit status and what it printed (stdout and stderr).
  static func runCollectingOutput(_ process: Process) throws -> (status: Int32, output: String) {
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  func log() -> String {
    (try? String(contentsOf: state.appendingPathComponent("mesh-run.log"), encoding: .utf8)) ?? ""
  }

  func pid(of service: String) throws -> Int32 {
    // The launcher rewrites the file when it restarts a process: a read in that instant finds
    // it empty, so read again (briefly) before giving up.
    var text = ""
    for _ in 0..<50 {
      text = try String(contentsOf: state.appendingPathComponent("pids/\(service).pid"), encoding: .utf8)
      if Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) != nil { break }
      usleep(20_000)
    }
    return try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
  }

  /// The password the launcher generated for a service's database role.
  func databasePassword(_ service: String) throws -> String {
    let secrets = try String(contentsOf: state.appendingPathComponent("secrets.env"), encoding: .utf8)
    let key = "SUPPORTMESH_DB_PASSWORD_\(service.uppercased())="
    let line = try #require(secrets.split(separator: "\n").first { $0.hasPrefix(key) })
    return String(line.dropFirst(key.count))
  }

  /// Runs `body` with a gRPC client connected to the gateway, calling as `caller` (by default
  /// the admin API key `./mesh run` made; `.none` sends no credentials).
  func withGateway<T: Sendable>(
    as caller: TestCaller = .admin, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T
  ) async throws -> T {
    let credentials = try await self.credentials(for: caller)
    return try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: gatewayPort), transportSecurity: .plaintext,
        config: .defaults { $0.backoff.initial = .milliseconds(100); $0.backoff.max = .seconds(1) }
      ),
      interceptors: credentials.map { [CredentialsInterceptor(header: $0)] } ?? []
    ) { client in try await body(client) }
  }

  /// Where `./mesh run` keeps the credentials it made.
  var secrets: URL { state.appendingPathComponent("secrets") }

  /// The metadata entry that authenticates `caller`.
  func credentials(for caller: TestCaller) async throws -> (key: String, value: String)? {
    switch caller {
    case .none:
      return nil
    case .admin:
      let key = try String(contentsOf: secrets.appendingPathComponent("admin-api-key"), encoding: .utf8)
      return ("x-api-key", key.trimmingCharacters(in: .whitespacesAndNewlines))
    case .apiKey(let key):
      return ("x-api-key", key)
    case .token(let token):
      return ("authorization", "Bearer \(token)")
    case .person(let role, let subject, let scope):
      let token = try await GatewayCommand.mintToken(
        keyFile: secrets.appendingPathComponent("dev-jwt-key.json").path, subject: subject, role: role, scope: scope
      )
      return ("authorization", "Bearer \(token)")
    }
  }

  /// GET http://127.0.0.1:PORT/PATH → (status, body).
  func http(_ port: Int, _ path: String) async throws -> (Int, String) {
    let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
  }

  func removeState() {
    try? FileManager.default.removeItem(at: state)
  }
}

struct MeshError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// Starts the mesh once around the suite, and at the end stops it with SIGTERM, checking that
/// the launcher stops every process and the database cleanly.
struct WholeMesh: SuiteTrait, TestScoping {
  var isRecursive: Bool { false }

  func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
    let mesh = try Mesh()
    // Feedback's expiry sweep every second, so a test sees a survey expire.
    mesh.extraEnvironment["SUPPORTMESH_FEEDBACK_SURVEY_SWEEP_SECONDS"] = "1"
    // Chat's offline-message sweep every second, so a test sees an offline message become a case.
    mesh.extraEnvironment["SUPPORTMESH_CHAT_OFFLINE_SWEEP_SECONDS"] = "1"
    mesh.extraEnvironment["SUPPORTMESH_CHAT_INACTIVITY_SWEEP_SECONDS"] = "1"
    // Survey invitations go to FeedbackInvitationTests' receiver, quickly retried.
    mesh.extraEnvironment["SUPPORTMESH_FEEDBACK_INVITATION_URL"] = "http://127.0.0.1:\(mesh.portBase + 70)/invitations"
    mesh.extraEnvironment["SUPPORTMESH_FEEDBACK_INVITATION_SECRET"] = "invitation-test-secret"
    mesh.extraEnvironment["SUPPORTMESH_FEEDBACK_INVITATION_SWEEP_SECONDS"] = "1"
    mesh.extraEnvironment["SUPPORTMESH_FEEDBACK_INVITATION_RETRY_SECONDS"] = "1"
    // "ems" parcels are DELAYED after 3 s without a scan, swept every second; a damaged parcel's
    // case is refunded by the system (LogisticsExceptionCaseTests).
    mesh.extraEnvironment["SUPPORTMESH_LOGISTICS_NO_SCAN_AFTER_BY_CARRIER"] = "ems=3s"
    mesh.extraEnvironment["SUPPORTMESH_LOGISTICS_DELAY_SWEEP_SECONDS"] = "1"
    mesh.extraEnvironment["SUPPORTMESH_TICKETS_EXCEPTION_REMEDY_DAMAGED"] = "REFUND"
    // Tickets' SLA sweep every second, so a test sees a seconds-long target breach.
    mesh.extraEnvironment["SUPPORTMESH_TICKETS_SLA_SWEEP_SECONDS"] = "1"
    do {
      try await mesh.start()
    } catch {
      _ = try? await mesh.stop()
      throw error
    }
    do {
      try await Mesh.$current.withValue(mesh) { try await function() }
    } catch {
      _ = try? await mesh.stop()
      throw error
    }
    let status = try await mesh.stop()
    #expect(status == 0, "./mesh run exits 0 on SIGTERM:\n\(mesh.log())")
    #expect(mesh.log().contains("stopping PostgreSQL"), "the embedded database is stopped")
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: mesh.state.appendingPathComponent("pids").path)) ?? []
    #expect(pids.isEmpty, "no process is left running: \(pids)")
    mesh.removeState()
  }
}

extension Trait where Self == WholeMesh {
  static var wholeMesh: WholeMesh { WholeMesh() }
}

var mesh: Mesh {
  get throws { try #require(Mesh.current, "the mesh is started by the suite's .wholeMesh trait") }
}

/// Who a test calls the gateway as.
enum TestCaller: Sendable {
  /// No credentials at all.
  case none
  /// The admin API key `./mesh run` created (scope `*`, role service).
  case admin
  case apiKey(String)
  /// A raw bearer token (for forged or expired tokens).
  case token(String)
  /// A JWT from the mesh's development identity provider.
  case person(Caller.Role, String, scope: String?)

  static func shopper(_ id: String) -> TestCaller { .person(.shopper, id, scope: nil) }
  static func agent(_ id: String) -> TestCaller { .person(.agent, id, scope: nil) }
  static func supervisor(_ id: String) -> TestCaller { .person(.supervisor, id, scope: nil) }
}

/// Adds one credentials header to every call.
struct CredentialsInterceptor: ClientInterceptor {
  let header: (key: String, value: String)

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingClientRequest<Input>,
    context: ClientContext,
    next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
  ) async throws -> StreamingClientResponse<Output> {
    var request = request
    request.metadata.replaceOrAddString(header.value, forKey: header.key)
    return try await next(request, context)
  }
}

/// Starts a mesh of the test's own on `portBase`, runs `body`, then stops it with SIGTERM and
/// checks the launcher exited 0 (a launcher that gave up earlier exits 1 and fails here).
func withOwnMesh(portBase: Int, _ body: (Mesh) async throws -> Void) async throws {
  let mesh = try Mesh(portBase: portBase)
  do {
    try await mesh.start()
    try await body(mesh)
  } catch {
    _ = try? await mesh.stop()
    throw error
  }
  let status = try await mesh.stop()
  #expect(status == 0, "./mesh run exits 0 on SIGTERM:\n\(mesh.log())")
  mesh.removeState()
}

extension Mesh {
  /// `producer`'s event log, called straight at its process, service to service (signed as role
  /// service), as a consuming service calls it; `body` gets the client, the signed metadata and
  /// call options with `timeout`.
  func withEventLog<T: Sendable>(
    _ producer: String, caller: String = "it-consumer", timeout: Duration = .seconds(30),
    _ body: (Support_Events_V1_EventLog.Client<HTTP2ClientTransport.Posix>, Metadata, CallOptions) async throws -> T
  ) async throws -> T {
    let header = try SignedCallerHeader(secretFile: secrets.appendingPathComponent("caller-secret").path)
    let signed = header.sign(Caller(subject: caller, role: .service, scopes: ["*"]), method: "support.events.v1.EventLog/StreamEvents")
    var metadata = Metadata()
    metadata.addString(signed, forKey: SignedCallerHeader.metadataKey)
    var options = CallOptions.defaults
    options.timeout = timeout
    return try await withGRPCClient(
      transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: grpcPort(producer)), transportSecurity: .plaintext)
    ) { client in
      try await body(Support_Events_V1_EventLog.Client(wrapping: client), metadata, options)
    }
  }
}
