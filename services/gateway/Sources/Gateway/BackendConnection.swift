import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceKit
import ServiceLifecycle
import SupportCodec

/// A gRPC client to one backend, for asking its health (calls themselves go through the relay).
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
        // Reconnect quickly after a backend restart, so health follows it within half a second.
        config.backoff.initial = .milliseconds(100)
        config.backoff.max = .milliseconds(500)
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
