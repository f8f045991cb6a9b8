import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// The HTTP side of every process: `GET /metrics` (Prometheus text format) and `GET /healthz`
/// (200 when serving, 503 otherwise) for load balancers and container probes that do not speak
/// gRPC.
enum HTTPEndpoint {
  static func make(address: HostPort, registry: PrometheusCollectorRegistry, health: HealthStatusStore, logger: Logger) -> some Service {
    let router = Router()
    router.get("/metrics") { _, _ -> Response in
      Response(
        status: .ok,
        headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
      )
    }
    router.get("/healthz") { _, _ -> Response in
      let serving = health.status(of: "") == .serving
      return Response(
        status: serving ? .ok : .serviceUnavailable,
        headers: [.contentType: "text/plain"],
        body: .init(byteBuffer: ByteBuffer(string: serving ? "SERVING\n" : "NOT_SERVING\n"))
      )
    }
    return Application(
      router: router,
      configuration: .init(address: .hostname(address.host, port: address.port), serverName: "supportmesh"),
      logger: logger
    )
  }
}
