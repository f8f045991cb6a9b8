import Logging

/// What every SupportMesh process reads from its environment. Defaults suit a developer
/// machine; the launcher (`./mesh run`) sets them for each process.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_GRPC_ADDR | gRPC listen address | per service (chat 7701 … gateway 7700) |
/// | SUPPORTMESH_HTTP_ADDR | HTTP listen address for /metrics and /healthz | per service (7781 … gateway 7780) |
/// | SUPPORTMESH_DATABASE_URL | postgres://ROLE:PASSWORD@HOST:PORT/DB for the service's own role | required (not the gateway) |
/// | SUPPORTMESH_DB_POOL_SIZE | maximum PostgreSQL connections | 10 |
/// | SUPPORTMESH_MAX_MESSAGE_BYTES | largest request message accepted; larger gets RESOURCE_EXHAUSTED | 4194304 |
/// | SUPPORTMESH_LOG_LEVEL | trace, debug, info, notice, warning, error, critical | info |
/// | SUPPORTMESH_LOG_FORMAT | json or text | json |
/// | SUPPORTMESH_SHUTDOWN_GRACE_SECONDS | how long in-flight RPCs may drain on SIGTERM | 20 |
/// | SUPPORTMESH_MAX_CONCURRENT_STREAMS | concurrent calls per HTTP/2 connection, advertised in SETTINGS | 256 |
/// | SUPPORTMESH_IDLE_TIMEOUT_SECONDS | a connection with no call for this long is closed | 300 |
/// | SUPPORTMESH_HANDSHAKE_TIMEOUT_SECONDS | a connection that sends nothing for this long after it is accepted is closed | 10 |
/// | SUPPORTMESH_CALLER_SECRET_FILE | file holding the secret (≥ 32 bytes) that signs the caller header between the gateway and the services | required |
public struct ServiceConfig: Sendable {
  public var serviceName: String
  public var grpcAddress: HostPort
  public var httpAddress: HostPort
  public var databaseURL: String?
  public var databasePoolSize: Int
  public var maxMessageBytes: Int
  public var logLevel: Logger.Level
  public var jsonLogs: Bool
  public var shutdownGrace: Duration
  public var maxConcurrentStreams: Int
  public var idleTimeout: Duration
  public var handshakeTimeout: Duration
  /// Signs (gateway) and verifies (services) the caller identity passed between them.
  public var callerHeader: SignedCallerHeader

  /// Default ports: gateway 7700/7780, chat 7701/7781, tickets 7702/7782, logistics 7703/7783,
  /// feedback 7704/7784.
  public static let defaultPorts: [String: (grpc: Int, http: Int)] = [
    "gateway": (7700, 7780), "chat": (7701, 7781), "tickets": (7702, 7782),
    "logistics": (7703, 7783), "feedback": (7704, 7784),
  ]

  public static func load(service: String, requiresDatabase: Bool, environment: EnvironmentReader = EnvironmentReader()) throws -> ServiceConfig {
    var env = environment
    let ports = defaultPorts[service] ?? (7799, 7798)
    let grpc = env.address("SUPPORTMESH_GRPC_ADDR", default: HostPort(host: "127.0.0.1", port: ports.grpc))
    let http = env.address("SUPPORTMESH_HTTP_ADDR", default: HostPort(host: "127.0.0.1", port: ports.http))
    let databaseURL = env.optionalString("SUPPORTMESH_DATABASE_URL")
    if requiresDatabase {
      if let databaseURL {
        do { _ = try DatabaseURL(databaseURL) } catch { env.report("SUPPORTMESH_DATABASE_URL: \(error)") }
      } else {
        env.report("SUPPORTMESH_DATABASE_URL is required: postgres://ROLE:PASSWORD@HOST:PORT/DATABASE")
      }
    }
    let pool = env.int("SUPPORTMESH_DB_POOL_SIZE", default: 10, range: 1...500)
    let maxBytes = env.int("SUPPORTMESH_MAX_MESSAGE_BYTES", default: 4 * 1024 * 1024, range: 1024...(64 * 1024 * 1024))
    let levelText = env.string("SUPPORTMESH_LOG_LEVEL", default: "info")
    let level = Logger.Level(rawValue: levelText.lowercased())
    if level == nil { env.report("SUPPORTMESH_LOG_LEVEL=\(levelText): expected trace, debug, info, notice, warning, error or critical") }
    let format = env.string("SUPPORTMESH_LOG_FORMAT", default: "json")
    if format != "json" && format != "text" { env.report("SUPPORTMESH_LOG_FORMAT=\(format): expected json or text") }
    let grace = env.int("SUPPORTMESH_SHUTDOWN_GRACE_SECONDS", default: 20, range: 0...600)
    let streams = env.int("SUPPORTMESH_MAX_CONCURRENT_STREAMS", default: 256, range: 1...10_000)
    let idle = env.int("SUPPORTMESH_IDLE_TIMEOUT_SECONDS", default: 300, range: 1...86_400)
    let handshake = env.int("SUPPORTMESH_HANDSHAKE_TIMEOUT_SECONDS", default: 10, range: 1...600)
    var callerHeader: SignedCallerHeader?
    if let path = env.optionalString("SUPPORTMESH_CALLER_SECRET_FILE") {
      do { callerHeader = try SignedCallerHeader(secretFile: path) } catch { env.report("SUPPORTMESH_CALLER_SECRET_FILE: \(error)") }
    } else {
      env.report("SUPPORTMESH_CALLER_SECRET_FILE is required: a file with the secret the gateway and the services share (`supportmesh-gateway credentials --dir DIR` makes one)")
    }
    try env.validate()
    return ServiceConfig(
      serviceName: service, grpcAddress: grpc, httpAddress: http, databaseURL: databaseURL,
      databasePoolSize: pool, maxMessageBytes: maxBytes, logLevel: level ?? .info,
      jsonLogs: format == "json", shutdownGrace: .seconds(grace),
      maxConcurrentStreams: streams, idleTimeout: .seconds(idle), handshakeTimeout: .seconds(handshake), callerHeader: callerHeader!
    )
  }
}
