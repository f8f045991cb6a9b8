import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// What a process hands to `ServiceHost`: its RPC services and any background work.
public struct ServiceParts: Sendable {
  public var rpcServices: [any RegistrableRPCService]
  /// Run beside the server for the life of the process (relays, clients' connections…).
  public var background: [any Service]
  /// Health answers for names this process does not own (the gateway's backends).
  public var healthFallback: HealthService.Fallback?
  /// The names `healthFallback` answers for, listed by Health/List.
  public var healthFallbackNames: [String]
  /// Who may call: by default the caller the gateway signed (`SignedCallerAuthenticator`);
  /// the gateway itself verifies API keys and JWTs.
  public var authenticator: (any CallerAuthenticator)?
  /// Something else serves the process's public gRPC address (the gateway's relay); the
  /// process's own gRPC server (health) then listens on a private unix socket instead.
  public var frontDoor: FrontDoor?

  public init(
    rpcServices: [any RegistrableRPCService], background: [any Service] = [], healthFallback: HealthService.Fallback? = nil,
    healthFallbackNames: [String] = [], authenticator: (any CallerAuthenticator)? = nil, frontDoor: FrontDoor? = nil
  ) {
    self.rpcServices = rpcServices
    self.background = background
    self.healthFallback = healthFallback
    self.healthFallbackNames = healthFallbackNames
    self.authenticator = authenticator
    self.frontDoor = frontDoor
  }
}

/// A service that owns the public gRPC port, with the process's own gRPC server behind it on
/// `privateSocket`. It starts after that server and is the first to stop (so it drains first).
public struct FrontDoor: Sendable {
  public var service: any Service
  public var privateSocket: String

  public init(service: any Service, privateSocket: String) {
    self.service = service
    self.privateSocket = privateSocket
  }

  /// A fresh private socket path for this process.
  public static func privateSocketPath(service: String) -> String {
    let directory = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    return "\(directory)/supportmesh-\(service)-\(getpid())-\(UInt32.random(in: 0 ... .max)).sock"
  }
}

/// What `ServiceHost` gives a process's builder.
public struct ServiceResources: Sendable {
  public var config: ServiceConfig
  public var logger: Logger
  /// The service's own PostgreSQL role's pool; nil for processes without a database.
  public var database: Database?
  public var health: HealthStatusStore
  /// The service's event outbox, for definitions with `producesEvents` (stores append to it
  /// inside their transactions; the host serves it as support.events.v1.EventLog).
  public var outbox: EventOutbox?
}

/// Describes one SupportMesh process.
public struct ServiceDefinition: Sendable {
  public var name: String
  /// The PostgreSQL schema the service owns; nil for processes without a database.
  public var schema: String?
  public var migrations: [Migration]
  /// Fully qualified gRPC service names reported by grpc.health.v1.
  public var healthNames: [String]
  /// Whether the service writes events to an outbox in its schema (its migrations include
  /// `EventOutbox.migration`): the host then serves support.events.v1.EventLog, listens for
  /// new events, and prunes the log (docs/events.md).
  public var producesEvents: Bool
  /// Histogram buckets of the service's own value metrics (`Recorder`s), by label; others get
  /// swift-prometheus's defaults (made for seconds).
  public var valueHistogramBuckets: [String: [Double]]
  public var build: @Sendable (ServiceResources) async throws -> ServiceParts

  public init(
    name: String, schema: String?, migrations: [Migration], healthNames: [String], producesEvents: Bool = false,
    valueHistogramBuckets: [String: [Double]] = [:],
    build: @escaping @Sendable (ServiceResources) async throws -> ServiceParts
  ) {
    self.name = name
    self.schema = schema
    self.migrations = migrations
    self.healthNames = healthNames
    self.producesEvents = producesEvents
    self.valueHistogramBuckets = valueHistogramBuckets
    self.build = build
  }
}

/// Runs a process: logging and metrics bootstrap, the PostgreSQL pool, migrations, the gRPC
/// server with health, request context, metrics and error mapping, the HTTP endpoint, and a
/// graceful shutdown on SIGTERM/SIGINT that reports NOT_SERVING, stops accepting new RPCs and
/// lets in-flight ones finish (up to SUPPORTMESH_SHUTDOWN_GRACE_SECONDS).
public enum ServiceHost {
  public static func main(_ definition: ServiceDefinition) async {
    // Operator subcommands (parked events): `supportmesh-NAME events …`.
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.first == "events" {
      exit(await EventAdmin.main(arguments: Array(arguments.dropFirst())))
    }
    do {
      let config = try ServiceConfig.load(service: definition.name, requiresDatabase: definition.schema != nil)
      try await run(definition, config: config)
    } catch {
      var logger = Logger(label: "supportmesh.\(definition.name)")
      logger.logLevel = .info
      logger.critical("process failed", metadata: ["error": "\(error)"])
      exit(1)
    }
  }

  public static func run(_ definition: ServiceDefinition, config: ServiceConfig) async throws {
    LogSetup.bootstrap(service: definition.name, level: config.logLevel, json: config.jsonLogs)
    let logger = Logger(label: "supportmesh.\(definition.name)")
    let registry = PrometheusCollectorRegistry()
    var metricsFactory = PrometheusMetricsFactory(registry: registry)
    metricsFactory.valueHistogramBuckets = definition.valueHistogramBuckets
    MetricsSystem.bootstrap(metricsFactory)

    MessageLimit.set(config.maxMessageBytes)
    let health = HealthStatusStore(names: definition.healthNames)
    var database: PostgresClient?
    var probeClient: PostgresClient?
    var migrator: Migrator?
    if let schema = definition.schema, let url = config.databaseURL {
      let parsed = try DatabaseURL(url)
      database = PostgresClient(configuration: parsed.clientConfiguration(poolSize: config.databasePoolSize), backgroundLogger: logger)
      probeClient = PostgresClient(configuration: parsed.clientConfiguration(poolSize: 1), backgroundLogger: logger)
      migrator = try Migrator(schema: schema, migrations: definition.migrations)
    }
    let pool = database.map { Database(client: $0, maxConnections: config.databasePoolSize) }
    let outbox = definition.producesEvents ? definition.schema.map { EventOutbox(producer: definition.name, schema: $0) } : nil
    let resources = ServiceResources(config: config, logger: logger, database: pool, health: health, outbox: outbox)
    var parts = try await definition.build(resources)
    if let outbox, let database, let pool {
      // The event log: one LISTEN connection for all streams, retention and metrics.
      let options = try EventLogOptions.load()
      let notifier = EventLogNotifier(client: database, channel: outbox.channel, logger: logger)
      parts.rpcServices.append(EventLogService(database: pool, notifier: notifier, options: options, logger: logger))
      parts.background += [notifier, EventLogMaintenance(database: pool, producer: outbox.producer, options: options, logger: logger)]
    }

    let privateSocket = parts.frontDoor?.privateSocket
    if let privateSocket { unlink(privateSocket) }
    defer { if let privateSocket { unlink(privateSocket) } }
    let transport = HTTP2ServerTransport.Posix(
      address: privateSocket.map { .unixDomainSocket(path: $0) } ?? .ipv4(host: config.grpcAddress.host, port: config.grpcAddress.port),
      transportSecurity: .plaintext,
      config: .defaults { transport in
        transport.rpc.maxRequestPayloadSize = MessageLimit.transportCap(for: config.maxMessageBytes)
        // Find dead peers within a minute rather than the default two hours.
        transport.connection.keepalive.time = .seconds(60)
        transport.connection.keepalive.timeout = .seconds(20)
        transport.connection.keepalive.clientBehavior.allowWithoutCalls = true
        transport.connection.keepalive.clientBehavior.minPingIntervalWithoutCalls = .seconds(10)
        // Advertise the stream limit in SETTINGS, so clients queue calls beyond it instead of
        // having the connection refuse them; close connections that carry no call for a while.
        transport.http2.maxConcurrentStreams = config.maxConcurrentStreams
        transport.connection.maxIdleTime = config.idleTimeout
        let handshake = HandshakeTimeoutHandler.installer(timeout: config.handshakeTimeout)
        transport.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
          handshake(channel).flatMapThrowing { try FlushCoalescingHandler.install(on: channel) }
        }
      }
    )
    let gate = StartupGate()
    let server = GRPCServer(
      transport: transport,
      services: parts.rpcServices + [HealthService(store: health, fallback: parts.healthFallback, fallbackNames: parts.healthFallbackNames)],
      interceptors: [
        RequestContextInterceptor(logger: logger), StartupGateInterceptor(gate: gate), RPCMetricsInterceptor(),
        AuthenticationInterceptor(parts.authenticator ?? SignedCallerAuthenticator(config.callerHeader)),
        ErrorMappingInterceptor(),
      ]
    )
    let grpcService = GRPCServerService(
      server: server, health: health, gate: gate, logger: logger, address: config.grpcAddress,
      startup: { [database, migrator] in
        guard let database, let migrator else { return }
        try await migrateWithRetry(migrator, database: database, logger: logger)
      },
      probe: pool.flatMap { pool in probeClient.map { DatabaseProbe(database: pool, client: $0, health: health, logger: logger) } }
    )

    var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
    if let database { services.append(.init(service: database)) }
    if let probeClient { services.append(.init(service: probeClient)) }
    services.append(.init(service: HTTPEndpoint.make(address: config.httpAddress, registry: registry, health: health, logger: logger)))
    for service in parts.background { services.append(.init(service: service)) }
    services.append(.init(service: grpcService))
    if let frontDoor = parts.frontDoor { services.append(.init(service: frontDoor.service)) }

    var groupConfig = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    groupConfig.maximumGracefulShutdownDuration = config.shutdownGrace
    logger.info("starting", metadata: ["grpc": "\(config.grpcAddress)", "http": "\(config.httpAddress)"])
    let watchdog = Task { await ShutdownWatchdog.watch(grace: config.shutdownGrace, logger: logger) }
    defer { watchdog.cancel() }
    try await ServiceGroup(configuration: groupConfig).run()
    logger.info("stopped")
  }

  /// The database may still be starting (containers start together): keep trying for a minute,
  /// reporting NOT_SERVING meanwhile, rather than crash-looping.
  static func migrateWithRetry(_ migrator: Migrator, database: PostgresClient, logger: Logger) async throws {
    var attempt = 0
    while true {
      attempt += 1
      do {
        let applied = try await migrator.migrate(database, logger: logger)
        logger.info("schema current", metadata: ["schema": "\(migrator.schema)", "applied": "\(applied)"])
        return
      } catch let error as MigrationError {
        throw error
      } catch {
        if attempt >= 30 { throw error }
        logger.warning("database not ready, retrying", metadata: ["attempt": "\(attempt)", "error": "\(String(reflecting: error))"])
        try await Task.sleep(for: .seconds(2))
      }
    }
  }
}

/// The gRPC server as a lifecycle service: listens at once (health reports NOT_SERVING), runs
/// start-up work such as migrations, then reports SERVING; on shutdown reports NOT_SERVING and
/// drains.
struct GRPCServerService: Service {
  let server: GRPCServer<HTTP2ServerTransport.Posix>
  let health: HealthStatusStore
  /// Opened once start-up is done: calls other than health are refused until then.
  let gate: StartupGate
  let logger: Logger
  let address: HostPort
  let startup: @Sendable () async throws -> Void
  /// Watches the database once serving, so health and calls follow its availability.
  let probe: DatabaseProbe?

  func run() async throws {
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.serve() }
        if let bound = try await server.listeningAddress {
          logger.info("gRPC listening", metadata: ["address": "\(bound)"])
        }
        // A shutdown during start-up (migrations still waiting for the database) ends it at once.
        do {
          try await cancelWhenGracefulShutdown { try await startup() }
        } catch where Task.isShuttingDownGracefully {
          logger.info("stopped during start-up")
          return
        }
        gate.openGate()
        health.setAll(.serving)
        logger.info("serving")
        if let probe {
          group.addTask { await cancelWhenGracefulShutdown { await probe.run() } }
        }
      }
    } onGracefulShutdown: {
      logger.info("shutting down: draining in-flight RPCs")
      ServerDrain.begin()
      health.shutdown()
      server.beginGracefulShutdown()
    }
  }
}
