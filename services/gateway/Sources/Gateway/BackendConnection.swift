import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceKit
import ServiceLifecycle
import SupportCodec

/// One backend service as the gateway sees it: its address and a client connection pool.
struct BackendConnection: Sendable {
  let name: String
  let address: HostPort
  let client: GRPCClient<HTTP2ClientTransport.Posix>

  init(name: String, address: HostPort) throws {
    self.name = name
    self.address = address
    let transport = try HTTP2ClientTransport.Posix(
      target: .dns(host: address.host, port: address.port),
      transportSecurity: .plaintext,
      config: .defaults { config in
        // Reconnect quickly after a backend restart: callers get UNAVAILABLE meanwhile.
        config.backoff.initial = .milliseconds(100)
        config.backoff.max = .seconds(2)
        config.connection.keepalive = .init(time: .seconds(30), timeout: .seconds(10), allowWithoutCalls: true)
        config.http2.maxFrameSize = 1 << 20
      }
    )
    self.client = GRPCClient(transport: transport)
  }

  /// Keeps the client's connections running for the life of the process.
  var service: any Service { ClientConnections(client: client) }
}

/// A GRPCClient as a lifecycle service: connections run until graceful shutdown, after the
/// server in front of them has drained (services stop in reverse order).
struct ClientConnections: Service {
  let client: GRPCClient<HTTP2ClientTransport.Posix>

  func run() async throws {
    try await withGracefulShutdownHandler {
      try await client.runConnections()
    } onGracefulShutdown: {
      client.beginGracefulShutdown()
    }
  }
}
