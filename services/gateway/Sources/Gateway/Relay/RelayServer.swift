import Logging
import NIOCore
import NIOHTTP2
import NIOPosix
import ServiceKit
import ServiceLifecycle
import Synchronization

/// HTTP/2 limits of the gateway's relay.
struct RelaySettings: Sendable {
  var maxConcurrentStreams: Int
  var idleTimeout: TimeAmount
  var handshakeTimeout: Duration

  /// Flow-control windows: large enough that one stream is not throttled by round trips on a
  /// fast network, small enough that 256 streams cannot buffer much in the gateway.
  static let streamWindow = 256 * 1024
  static let connectionWindow = 4 * 1024 * 1024
  /// The largest header list a connection decodes (SETTINGS_MAX_HEADER_LIST_SIZE, also the
  /// bound swift-nio-http2 decodes with). A larger one cannot be skipped (the HPACK table
  /// would go out of step), so swift-nio-http2 closes the connection: this bound is well above
  /// `callHeaderListLimit`, so that a call a little over it is refused alone.
  static let maxHeaderListSize = 64 * 1024
  /// The largest header list one call may send (RFC 7541 sizes: name + value + 32 per field):
  /// a call over it ends RESOURCE_EXHAUSTED, the connection and its other calls go on.
  static let callHeaderListLimit = 16 * 1024
  /// RST_STREAM frames a caller's connection may send per 10 seconds before it is closed.
  static let callerResetsPer10Seconds = 1000

  init(_ config: ServiceConfig) {
    maxConcurrentStreams = config.maxConcurrentStreams
    idleTimeout = TimeAmount(config.idleTimeout)
    handshakeTimeout = config.handshakeTimeout
  }

  init(maxConcurrentStreams: Int = 256, idleTimeout: TimeAmount = .seconds(300), handshakeTimeout: Duration = .seconds(10)) {
    self.maxConcurrentStreams = maxConcurrentStreams
    self.idleTimeout = idleTimeout
    self.handshakeTimeout = handshakeTimeout
  }
}

/// The gateway's front door: an HTTP/2 server whose streams are relayed to the backends on the
/// event loop (`RelayCall`), instead of a full gRPC server call plus a full client call per
/// request.
///
/// On graceful shutdown it reports NOT_SERVING, stops accepting connections, tells every
/// connection GOAWAY and waits for the calls in flight to finish (bounded by the process's
/// shutdown grace), then closes its backend connections.
final class RelayServer: Service, Sendable {
  let address: HostPort
  let settings: RelaySettings
  let shared: RelayShared
  let group: any EventLoopGroup
  let health: HealthStatusStore?
  private let listener = Mutex<(any Channel)?>(nil)
  private let connections = ConnectionRegistry()

  init(address: HostPort, settings: RelaySettings, shared: RelayShared, group: any EventLoopGroup, health: HealthStatusStore?) {
    self.address = address
    self.settings = settings
    self.shared = shared
    self.group = group
    self.health = health
  }

  /// The address the server listens on, once it does.
  var listeningAddress: SocketAddress? { listener.withLock { $0?.localAddress } }

  func run() async throws {
    let server = try await bind()
    listener.withLock { $0 = server }
    shared.logger.info("gRPC listening", metadata: ["address": "\(address)", "relay": "true"])
    try await withGracefulShutdownHandler {
      try await server.closeFuture.get()
      // Calls that never end by themselves end now; the others finish within the grace period.
      shared.longLived.endAll()
      await connections.drainAll()
    } onGracefulShutdown: {
      self.beginGracefulShutdown()
    }
    await shared.links.closeAll()
  }

  /// Reports NOT_SERVING, stops accepting connections and drains the open ones; `run()`
  /// returns once they have all closed.
  func beginGracefulShutdown() {
    shared.logger.info("shutting down: draining relayed calls")
    health?.shutdown()
    listener.withLock { $0 }?.close(promise: nil)
  }

  private func bind() async throws -> any Channel {
    let settings = self.settings
    let shared = self.shared
    let connections = self.connections
    let handshake = HandshakeTimeoutHandler.installer(timeout: settings.handshakeTimeout)
    return try await ServerBootstrap(group: group)
      .serverChannelOption(.backlog, value: 256)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
      .childChannelOption(.socketOption(.so_keepalive), value: 1)
      .childChannelInitializer { channel in
        handshake(channel).flatMapThrowing {
          let connection = RelayConnection(idleTimeout: settings.idleTimeout)
          var configuration = NIOHTTP2Handler.ConnectionConfiguration()
          configuration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: settings.maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: RelaySettings.streamWindow),
            HTTP2Setting(parameter: .maxHeaderListSize, value: RelaySettings.maxHeaderListSize),
          ]
          configuration.targetWindowSize = RelaySettings.connectionWindow
          var stream = NIOHTTP2Handler.StreamConfiguration()
          stream.targetWindowSize = RelaySettings.streamWindow
          // A caller multiplexing many watchers (one per open browser tab behind it) resets one
          // stream each time one leaves: swift-nio-http2's default (200 per 30 s) would close
          // such a connection and every call on it. Still bounded against reset floods.
          stream.streamResetFrameRateLimit.maximumCount = RelaySettings.callerResetsPer10Seconds
          stream.streamResetFrameRateLimit.windowLength = .seconds(10)
          _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: configuration, streamConfiguration: stream,
            streamDelegate: connection.streams
          ) { streamChannel in
            streamChannel.eventLoop.makeCompletedFuture {
              try streamChannel.pipeline.syncOperations.addHandler(RelayCall(shared: shared))
            }
          }
          try channel.pipeline.syncOperations.addHandler(connection)
          try FlushCoalescingHandler.install(on: channel)
          connections.add(channel, connection)
        }
      }
      .bind(host: address.host, port: address.port)
      .get()
  }
}

/// The connections the relay has open, for draining them all on shutdown.
final class ConnectionRegistry: Sendable {
  private struct State {
    var open: [ObjectIdentifier: (channel: any Channel, connection: NIOLoopBound<RelayConnection>)] = [:]
    var draining = false
    var waiting: CheckedContinuation<Void, Never>?
  }
  private let state = Mutex(State())

  func add(_ channel: any Channel, _ connection: RelayConnection) {
    let id = ObjectIdentifier(channel)
    let bound = NIOLoopBound(connection, eventLoop: channel.eventLoop)
    let drainNow = state.withLock { state in
      state.open[id] = (channel, bound)
      return state.draining
    }
    if drainNow { bound.value.drain() }
    channel.closeFuture.whenComplete { _ in self.remove(id) }
  }

  private func remove(_ id: ObjectIdentifier) {
    let done = state.withLock { state -> CheckedContinuation<Void, Never>? in
      state.open[id] = nil
      guard state.open.isEmpty, let waiting = state.waiting else { return nil }
      state.waiting = nil
      return waiting
    }
    done?.resume()
  }

  /// Tells every connection GOAWAY and returns when all have closed.
  func drainAll() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let open = state.withLock { state -> [(any Channel, NIOLoopBound<RelayConnection>)] in
        state.draining = true
        if state.open.isEmpty {
          continuation.resume()
        } else {
          state.waiting = continuation
        }
        return state.open.values.map { ($0.channel, $0.connection) }
      }
      for (channel, connection) in open {
        channel.eventLoop.execute { connection.value.drain() }
      }
    }
  }
}

/// One caller's HTTP/2 connection: counts its streams, closes it after the idle timeout
/// without calls, and on drain says GOAWAY and closes once its calls have finished.
final class RelayConnection: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame

  /// Stream opens and closes, from the HTTP/2 handler (which wants a Sendable delegate: it
  /// calls it on the connection's event loop only).
  final class Streams: NIOHTTP2StreamDelegate, @unchecked Sendable {
    weak var connection: RelayConnection?

    func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
      connection?.streamOpened(id)
    }

    func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
      connection?.streamClosed()
    }
  }

  let streams = Streams()
  private let idleTimeout: TimeAmount
  private var context: ChannelHandlerContext?
  private var open = 0
  private var draining = false
  private var idleTimer: Scheduled<Void>?
  private var lastStreamID = HTTP2StreamID.rootStream

  init(idleTimeout: TimeAmount) {
    self.idleTimeout = idleTimeout
    streams.connection = self
  }

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    armIdleTimer()
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    idleTimer?.cancel()
    self.context = nil
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    // Connection-level frames (SETTINGS, PING, GOAWAY) are handled by the HTTP/2 handler.
  }

  fileprivate func streamOpened(_ id: HTTP2StreamID) {
    open += 1
    lastStreamID = max(lastStreamID, id)
    idleTimer?.cancel()
    idleTimer = nil
  }

  fileprivate func streamClosed() {
    open -= 1
    if open == 0 {
      if draining {
        finishDrain()
      } else {
        armIdleTimer()
      }
    }
  }

  private func armIdleTimer() {
    guard let context else { return }
    let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
    idleTimer = context.eventLoop.scheduleTask(in: idleTimeout) {
      bound.value.drain()
    }
  }

  /// GOAWAY: the caller opens no more streams here; the connection closes when the last ends.
  ///
  /// The first GOAWAY (last stream 2^31-1: "streams already on their way are still served")
  /// is written as bytes beneath the HTTP/2 handler, which never sees it. Handed to
  /// swift-nio-http2 (1.46.0), it makes the handler refuse every new stream at once, and a
  /// DATA frame of a refused stream, sent before the caller read the GOAWAY, is then a
  /// connection error (PROTOCOL_ERROR, where RFC 9113 §6.8 says to discard it) that cut every
  /// call in flight on the connection (DrainRaceTests). This way the streams that cross the
  /// GOAWAY are served; the final GOAWAY, once the last call ended, goes through the handler.
  func drain() {
    guard !draining, let context else { return }
    draining = true
    if let http2 = try? context.pipeline.syncOperations.context(handlerType: NIOHTTP2Handler.self) {
      http2.writeAndFlush(NIOAny(Self.goAwayFrame(allocator: context.channel.allocator)), promise: nil)
    }
    if open == 0 { finishDrain() }
  }

  /// A GOAWAY frame, NO_ERROR, last stream 2^31-1, as bytes (RFC 9113 §6.8).
  static func goAwayFrame(allocator: ByteBufferAllocator) -> ByteBuffer {
    var frame = allocator.buffer(capacity: 17)
    frame.writeBytes([0, 0, 8, 0x7, 0])  // length 8, type GOAWAY, no flags
    frame.writeInteger(UInt32(0))  // stream 0
    frame.writeInteger(UInt32(Int32.max))  // last stream id
    frame.writeInteger(UInt32(0))  // NO_ERROR
    return frame
  }

  /// The last call ended: a final GOAWAY naming the last stream served, then close once it
  /// (and so every frame written before it, the last call's trailers among them) is on the
  /// wire. Done on the next tick: the HTTP/2 handler reports a stream closed while it is still
  /// writing that stream's last frame.
  private func finishDrain() {
    guard let context else { return }
    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
    let last = lastStreamID
    context.eventLoop.execute {
      let context = bound.value
      let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: last, errorCode: .noError, opaqueData: nil))
      context.writeAndFlush(NIOAny(goAway)).whenComplete { _ in bound.value.close(promise: nil) }
    }
  }
}
