import Foundation
import GRPCCore
import Logging
import NIOPosix
import ServiceKit
import SupportCodec

/// The gateway process: one gRPC port in front of chat, tickets, logistics and feedback.
///
/// Backends come from SUPPORTMESH_BACKEND_CHAT, _TICKETS, _LOGISTICS, _FEEDBACK (host:port;
/// defaults 127.0.0.1:7701…7704). grpc.health.v1 answers "" for the gateway itself and, by
/// fully qualified service name, for each backend (asked live, NOT_SERVING when unreachable);
/// List gives all of them.
///
/// Callers authenticate here (health aside): SUPPORTMESH_API_KEYS_FILE (hashed service keys)
/// and/or a JWKS with SUPPORTMESH_JWT_ISSUER and SUPPORTMESH_JWT_AUDIENCE (tokens from the
/// shop's identity provider; SUPPORTMESH_JWT_LEEWAY_SECONDS, default 60): SUPPORTMESH_JWKS_FILE
/// (re-read when it changes) or SUPPORTMESH_JWKS_URL (fetched at start, every 5 minutes, and
/// at most every 30 s when a token's key is not in the set). At least one is required.
public enum GatewayDefinition {
  public static let definition = ServiceDefinition(name: "gateway", schema: nil, migrations: [], healthNames: []) { resources in
    var env = EnvironmentReader()
    let authenticator = try await loadAuthenticator(&env, logger: resources.logger)
    var targets: [(name: String, address: BackendAddress)] = []
    var methods: [(name: String, methods: [MethodDescriptor])] = []
    var byService: [String: BackendConnection] = [:]
    var healthClients: [BackendConnection] = []
    for backend in ServiceCatalog.backends {
      let port = ServiceConfig.defaultPorts[backend.name]?.grpc ?? 0
      let address = env.address("SUPPORTMESH_BACKEND_\(backend.name.uppercased())", default: HostPort(host: "127.0.0.1", port: port))
      targets.append((backend.name, .host(address)))
      methods.append((backend.name, backend.methods))
      let connection = try BackendConnection(name: backend.name, address: address)
      healthClients.append(connection)
      for service in backend.services { byService[service.fullyQualifiedService] = connection }
    }
    try env.validate()
    // The gateway's own gRPC server (health) sits behind the relay on a private socket.
    let privateSocket = FrontDoor.privateSocketPath(service: "gateway")
    targets.append(("gateway", .unixSocket(privateSocket)))
    let group = MultiThreadedEventLoopGroup.singleton
    let shared = RelayShared(
      routes: RelayRoutes(backends: methods, local: targets.count - 1),
      links: BackendLinks(backends: targets, group: group, logger: resources.logger),
      verdicts: CallerVerdicts(authenticator: authenticator),
      callerHeader: resources.config.callerHeader,
      maxMessageBytes: resources.config.maxMessageBytes,
      metrics: RelayMetrics(),
      logger: resources.logger
    )
    let relay = RelayServer(
      address: resources.config.grpcAddress, settings: RelaySettings(resources.config), shared: shared, group: group,
      health: resources.health
    )
    let logger = resources.logger
    let backendsByService = byService
    return ServiceParts(
      rpcServices: [],
      background: healthClients.map { $0.service },
      healthFallback: { name in
        guard let backend = backendsByService[name] else { return nil }
        return await BackendHealth.check(name, on: backend, logger: logger)
      },
      healthFallbackNames: backendsByService.keys.sorted(),
      frontDoor: FrontDoor(service: relay, privateSocket: privateSocket)
    )
  }

  static func loadAuthenticator(_ env: inout EnvironmentReader, logger: Logger) async throws -> GatewayAuthenticator {
    var apiKeys: ReloadingFile<APIKeyFile>?
    var tokens: TokenVerifier?
    if let path = env.optionalString("SUPPORTMESH_API_KEYS_FILE") {
      do { apiKeys = try await ReloadingFile(path: path, logger: logger) { try APIKeyFile.parse($0) } } catch {
        env.report("SUPPORTMESH_API_KEYS_FILE: \(error)")
      }
    }
    let leeway = env.int("SUPPORTMESH_JWT_LEEWAY_SECONDS", default: 60, range: 0...600)
    let jwksFile = env.optionalString("SUPPORTMESH_JWKS_FILE")
    let jwksURL = env.optionalString("SUPPORTMESH_JWKS_URL")
    if jwksFile != nil && jwksURL != nil {
      env.report("set SUPPORTMESH_JWKS_FILE or SUPPORTMESH_JWKS_URL, not both")
    } else if jwksFile != nil || jwksURL != nil {
      let issuer = env.optionalString("SUPPORTMESH_JWT_ISSUER")
      let audience = env.optionalString("SUPPORTMESH_JWT_AUDIENCE")
      if issuer == nil { env.report("SUPPORTMESH_JWT_ISSUER is required with a JWKS") }
      if audience == nil { env.report("SUPPORTMESH_JWT_AUDIENCE is required with a JWKS") }
      do {
        let keys: any SigningKeys
        if let jwksURL {
          guard jwksURL.hasPrefix("https://") || jwksURL.hasPrefix("http://") else {
            throw ReloadError("\(jwksURL) is not an http(s) URL")
          }
          keys = try await RemoteJWKS(url: jwksURL, logger: logger)
        } else {
          keys = try await ReloadingFile(path: jwksFile!, logger: logger) { try await TokenVerifier.loadKeys($0) }
        }
        if let issuer, let audience {
          tokens = TokenVerifier(keys: keys, issuer: issuer, audience: audience, leeway: TimeInterval(leeway))
        }
      } catch {
        env.report("\(jwksURL == nil ? "SUPPORTMESH_JWKS_FILE" : "SUPPORTMESH_JWKS_URL"): \(error)")
      }
    }
    if env.optionalString("SUPPORTMESH_API_KEYS_FILE") == nil && jwksFile == nil && jwksURL == nil {
      env.report("set SUPPORTMESH_API_KEYS_FILE and/or SUPPORTMESH_JWKS_FILE (or SUPPORTMESH_JWKS_URL): without either nobody could call (`supportmesh-gateway credentials --dir DIR` makes both for development)")
    }
    try env.validate()
    return GatewayAuthenticator(apiKeys: apiKeys, tokens: tokens)
  }
}

enum BackendHealth {
  /// Asks a backend's own health service: its answer, nil when the backend does not know the
  /// name (NOT_FOUND), NOT_SERVING when it cannot be reached within a second.
  static func check(_ name: String, on backend: BackendConnection, logger: Logger) async -> ServingStatus? {
    let health = Grpc_Health_V1_Health.Client(wrapping: backend.client)
    var options = CallOptions.defaults
    options.timeout = .seconds(1)
    // Waits (within the second) for a connection being re-made after a backend restart.
    options.waitForReady = true
    do {
      return try await health.check(.with { $0.service = name }, options: options).status
    } catch let error as RPCError where error.code == .notFound {
      return nil
    } catch {
      logger.debug("backend health check failed", metadata: ["backend": "\(backend.name)", "error": "\(error)"])
      return .notServing
    }
  }
}
