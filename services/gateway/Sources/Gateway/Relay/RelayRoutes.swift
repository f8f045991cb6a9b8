import GRPCCore
import NIOHPACK
import ServiceKit
import SupportCodec

/// Which backend serves a call, by its `:path` (`/package.Service/Method`).
///
/// Every method of the contract is routed to the process that serves it
/// (`ServiceCatalog.backends`); grpc.health.v1 goes to the gateway's own server. The event log
/// (`support.events.v1.EventLog`) is served by every producer: the caller names the one it
/// wants with the `x-supportmesh-producer` header.
struct RelayRoutes: Sendable {
  struct Route: Sendable {
    /// Index into the relay's backends.
    var backend: Int
    /// `package.Service/Method`, as scopes, metrics and the signed caller header name it.
    var method: String
    /// Callable without credentials (health).
    var open: Bool
    /// Served by the gateway itself: its own server records metrics and logs for it.
    var local: Bool
  }

  enum Resolution {
    case route(Route)
    case unknown(String)
    case invalid(String)
  }

  static let producerHeader = "x-supportmesh-producer"
  static let eventLogService = "support.events.v1.EventLog"

  private var byPath: [String: Route] = [:]
  private var producers: [String: Int] = [:]

  /// `backends[i]` serves `services[i]`; `local` is the index of the gateway's own server (health).
  init(backends: [(name: String, methods: [MethodDescriptor])], local: Int?, localMethods: [MethodDescriptor] = Grpc_Health_V1_Health.Method.descriptors) {
    for (index, backend) in backends.enumerated() {
      for method in backend.methods {
        let name = method.fullyQualifiedMethod
        byPath["/" + name] = Route(backend: index, method: name, open: false, local: false)
      }
      producers[backend.name] = index
    }
    if let local {
      for method in localMethods {
        let name = method.fullyQualifiedMethod
        byPath["/" + name] = Route(backend: local, method: name, open: AuthenticationInterceptor.openServices.contains(method.service.fullyQualifiedService), local: true)
      }
    }
  }

  func resolve(path: String, headers: HPACKHeaders) -> Resolution {
    if let route = byPath[path] { return .route(route) }
    let method = String(path.dropFirst())
    if path.hasPrefix("/\(Self.eventLogService)/") {
      guard let producer = headers.first(name: Self.producerHeader) else {
        return .invalid("\(Self.producerHeader): name the producing service (\(producers.keys.sorted().joined(separator: ", ")))")
      }
      guard let index = producers[producer] else {
        return .invalid("\(Self.producerHeader): \(producer) is not a producing service (\(producers.keys.sorted().joined(separator: ", ")))")
      }
      return .route(Route(backend: index, method: method, open: false, local: false))
    }
    return .unknown(method)
  }
}
