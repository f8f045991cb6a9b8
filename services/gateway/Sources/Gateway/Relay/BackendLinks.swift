import GRPCCore
import Logging
import NIOCore
import NIOHTTP2
import NIOPosix
import ServiceKit

/// Where a backend listens.
enum BackendAddress: Sendable, CustomStringConvertible {
  case host(HostPort)
  case unixSocket(String)

  var description: String {
    switch self {
    case .host(let address): "\(address)"
    case .unixSocket(let path): "unix:\(path)"
    }
  }
}

/// The relay's HTTP/2 connections to the backends: per backend on each event loop, one made
/// when first needed and more while the open ones are full (see BackendLink). A relayed call's two streams (caller side and backend side) then live on
/// the same loop, so passing a frame from one to the other is a plain method call.
final class BackendLinks: Sendable {
  let names: [String]
  private let perLoop: [ObjectIdentifier: LoopLinks]

  init(backends: [(name: String, address: BackendAddress)], group: any EventLoopGroup, logger: Logger) {
    names = backends.map(\.name)
    var perLoop: [ObjectIdentifier: LoopLinks] = [:]
    for loop in group.makeIterator() {
      perLoop[ObjectIdentifier(loop)] = LoopLinks(
        links: backends.map { BackendLink(name: $0.name, address: $0.address, loop: loop, logger: logger) }
      )
    }
    self.perLoop = perLoop
  }

  /// The connection to backend `index` owned by `loop` (call on that loop).
  func link(_ index: Int, on loop: any EventLoop) -> BackendLink {
    loop.assertInEventLoop()
    guard let links = perLoop[ObjectIdentifier(loop)] else {
      preconditionFailure("the relay's channels run on the event loop group its backend links were made for")
    }
    return links.links[index]
  }

  /// Closes every backend connection (after the relay drained).
  func closeAll() async {
    for links in perLoop.values {
      for link in links.links {
        try? await link.loop.submit { link.close() }.get()
      }
    }
  }
}

/// The links of one event loop. Immutable; each link is only touched on its loop.
private struct LoopLinks: @unchecked Sendable {
  let links: [BackendLink]
}

/// The HTTP/2 connections to one backend owned by one event loop. Streams go on the first
/// connection with a free slot under the limit the backend advertised
/// (SETTINGS_MAX_CONCURRENT_STREAMS); when every connection is full another one is opened, so
/// long-lived calls (watch streams) never queue behind each other: swift-nio-http2 would buffer
/// a stream over the limit until a slot frees, which for a watcher is never. An extra connection
/// closes when its last stream ends.
///
/// Each connection also keeps under the backend's limit on received RST_STREAM frames: a gRPC
/// server built on swift-nio-http2 closes a connection that sent it 200 resets within 30
/// seconds (its defence against "rapid reset" floods), and every watcher whose caller leaves
/// is one reset. A stream only goes on a connection whose open streams plus the resets it sent
/// in the last 30 seconds stay under `resetBudget`, so no burst of cancellations can reach the
/// limit (each open stream can cost at most one reset); the others go on another connection.
///
/// While the backend cannot be reached, calls fail at once with UNAVAILABLE (a new attempt at
/// most every 100 ms, backing off to 2 s) instead of waiting for their deadline; a backend that
/// says GOAWAY (it is draining) finishes its streams on the old connection while new calls open
/// a new one.
final class BackendLink: @unchecked Sendable {
  let name: String
  let address: BackendAddress
  let loop: any EventLoop
  private let logger: Logger

  /// A connection ready for streams.
  private struct Connection {
    let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    let channel: any Channel
    /// Streams open on it.
    var open = 0
    /// The backend's SETTINGS_MAX_CONCURRENT_STREAMS (unlimited when it names none).
    var limit = Int.max
    /// When this side reset a stream, oldest first, within the last `resetWindow`.
    var resets: [NIODeadline] = []

    /// Room for one more stream: under the backend's limit, and even if every open stream
    /// were reset now the window's resets would stay under the budget.
    func hasRoom(now: NIODeadline) -> Bool {
      guard open < limit else { return false }
      let recent = resets.count - (resets.firstIndex { now - $0 < BackendLink.resetWindow } ?? resets.count)
      return open + recent < BackendLink.resetBudget
    }
  }
  /// The backends' limit is 200 resets per 30 seconds (swift-nio-http2's default, which
  /// grpc-swift-nio-transport's server keeps): a margin for clocks and frames in flight.
  static let resetBudget = 150
  static let resetWindow = TimeAmount.seconds(31)
  private var connections: [Connection] = []
  /// Calls waiting for the connection being made; nil when none is being made.
  private var waiting: [(Result<Int, any Error>) -> Void]?
  /// The connection made but not yet told the backend's SETTINGS: streams opened on it now
  /// could exceed a limit not known yet, so callers wait for them (at most `settingsTimeout`).
  private var handshaking: Connection?
  static let settingsTimeout = TimeAmount.seconds(2)
  private var backingOff: (until: NIODeadline, error: any Error)?
  private var backoff = BackendLink.initialBackoff
  static let initialBackoff = TimeAmount.milliseconds(100)
  static let maximumBackoff = TimeAmount.seconds(2)

  init(name: String, address: BackendAddress, loop: any EventLoop, logger: Logger) {
    self.name = name
    self.address = address
    self.loop = loop
    self.logger = logger
  }

  /// Opens a stream to the backend with `handler` as its pipeline; `opened` is called on this
  /// loop with the stream's channel, or the reason the backend cannot be reached.
  func openStream(_ handler: BackendCall, opened: @escaping (Result<any Channel, any Error>) -> Void) {
    loop.assertInEventLoop()
    let bound = NIOLoopBound((handler: handler, opened: opened), eventLoop: loop)
    withFreeSlot { result in
      switch result {
      case .failure(let error):
        opened(.failure(error))
      case .success(let index):
        self.connections[index].open += 1
        let parent = self.connections[index].channel
        let promise = self.loop.makePromise(of: (any Channel).self)
        let link = NIOLoopBound(self, eventLoop: self.loop)
        bound.value.handler.resetSent = { link.value.resetSent(on: parent) }
        self.connections[index].multiplexer.createStreamChannel(promise: promise) { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(bound.value.handler)
          }
        }
        promise.futureResult.whenComplete { result in
          switch result {
          case .success(let stream): stream.closeFuture.whenComplete { _ in link.value.streamEnded(on: parent) }
          case .failure: link.value.streamEnded(on: parent)
          }
          bound.value.opened(result)
        }
      }
    }
  }

  /// Calls `use` with the index of a connection that has room for one more stream.
  private func withFreeSlot(_ use: @escaping (Result<Int, any Error>) -> Void) {
    let now = NIODeadline.now()
    if let index = connections.firstIndex(where: { $0.hasRoom(now: now) }) {
      use(.success(index))
    } else if waiting != nil {
      waiting!.append(use)
    } else if let backingOff, NIODeadline.now() < backingOff.until {
      use(.failure(backingOff.error))
    } else {
      connect(use)
    }
  }

  private func connect(_ first: @escaping (Result<Int, any Error>) -> Void) {
    waiting = [first]
    let bound = NIOLoopBound(self, eventLoop: loop)
    let bootstrap = ClientBootstrap(group: loop)
      .channelOption(.socketOption(.tcp_nodelay), value: 1)
      .connectTimeout(.seconds(2))
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          var connection = NIOHTTP2Handler.ConnectionConfiguration()
          connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 0),  // backends never push
            HTTP2Setting(parameter: .initialWindowSize, value: RelaySettings.streamWindow),
            HTTP2Setting(parameter: .maxHeaderListSize, value: RelaySettings.maxHeaderListSize),
          ]
          connection.targetWindowSize = RelaySettings.connectionWindow
          // Headers to the backends were validated when the caller sent them (the caller's
          // connection validates), and the backends validate their own: not a third time here.
          connection.headerBlockValidation = .disabled
          var stream = NIOHTTP2Handler.StreamConfiguration()
          stream.targetWindowSize = RelaySettings.streamWindow
          _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: connection, streamConfiguration: stream
          ) { pushed in pushed.close() }
          try channel.pipeline.syncOperations.addHandler(ConnectionWatcher(link: bound))
          try FlushCoalescingHandler.install(on: channel)
        }
      }
    let connecting: EventLoopFuture<any Channel>
    switch address {
    case .host(let address): connecting = bootstrap.connect(host: address.host, port: address.port)
    case .unixSocket(let path): connecting = bootstrap.connect(unixDomainSocketPath: path)
    }
    connecting.whenComplete { result in bound.value.connected(result) }
  }

  private func connected(_ result: Result<any Channel, any Error>) {
    do {
      let channel = try result.get()
      let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
      handshaking = Connection(multiplexer: multiplexer, channel: channel)
      let bound = NIOLoopBound(self, eventLoop: loop)
      channel.closeFuture.whenComplete { _ in bound.value.lost(channel) }
      loop.scheduleTask(in: Self.settingsTimeout) {
        bound.value.handshakeFailed(channel, RPCError(code: .unavailable, message: "the backend sent no HTTP/2 SETTINGS"))
      }
    } catch {
      failWaiting(error)
    }
  }

  /// The backend's SETTINGS for `channel`: the first ones make the connection ready (with
  /// their stream limit, unlimited when they name none) and serve the callers waiting for it.
  func settingsReceived(_ limit: Int?, on channel: any Channel) {
    if let index = connections.firstIndex(where: { $0.channel === channel }) {
      if let limit { connections[index].limit = limit }
      return
    }
    guard var connection = handshaking, connection.channel === channel else { return }
    guard limit != 0 else {
      // A backend taking no streams (it is draining): like GOAWAY, not a connection to use.
      handshakeFailed(channel, RPCError(code: .unavailable, message: "the backend accepts no streams"))
      return
    }
    handshaking = nil
    connection.limit = limit ?? Int.max
    connections.append(connection)
    backingOff = nil
    backoff = Self.initialBackoff
    let waiters = waiting ?? []
    waiting = nil
    // More callers may have waited than the new connection takes: the rest open another.
    for use in waiters { withFreeSlot(use) }
  }

  /// The connection being made closed, or gave no SETTINGS in time.
  private func handshakeFailed(_ channel: any Channel, _ error: any Error) {
    guard let connection = handshaking, connection.channel === channel else { return }
    handshaking = nil
    channel.close(promise: nil)
    failWaiting(error)
  }

  private func failWaiting(_ error: any Error) {
    logger.warning("backend unreachable", metadata: ["backend": "\(name)", "address": "\(address)", "error": "\(error)"])
    backingOff = (until: .now() + backoff, error: error)
    backoff = min(backoff * 2, Self.maximumBackoff)
    let waiters = waiting ?? []
    waiting = nil
    for use in waiters { use(.failure(error)) }
  }

  /// A stream ended: its slot is free; an extra connection with no stream left closes.
  private func streamEnded(on channel: any Channel) {
    guard let index = connections.firstIndex(where: { $0.channel === channel }) else { return }
    connections[index].open -= 1
    if connections[index].open == 0 && connections.count > 1 {
      connections.remove(at: index)
      channel.close(promise: nil)
    }
  }

  /// A stream on `channel` was reset by this side (its caller left before it ended).
  fileprivate func resetSent(on channel: any Channel) {
    guard let index = connections.firstIndex(where: { $0.channel === channel }) else { return }
    let now = NIODeadline.now()
    connections[index].resets.removeAll { now - $0 >= Self.resetWindow }
    connections[index].resets.append(now)
  }

  /// The connection closed, or the backend said GOAWAY: no new stream goes on it.
  func lost(_ channel: any Channel) {
    connections.removeAll { $0.channel === channel }
    handshakeFailed(channel, RPCError(code: .unavailable, message: "the backend closed the connection"))
  }

  func close() {
    let channels = connections.map(\.channel)
    connections = []
    for channel in channels { channel.close(promise: nil) }
  }
}

/// Sees a backend's SETTINGS (the connection is ready; its stream limit), its GOAWAY (it is shutting down) and its
/// connection closing: no new streams go on a connection that is full or going away.
private final class ConnectionWatcher: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame

  let link: NIOLoopBound<BackendLink>

  init(link: NIOLoopBound<BackendLink>) {
    self.link = link
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data).payload {
    case .goAway:
      link.value.lost(context.channel)
    case .settings(.settings(let settings)):
      let limit = settings.last(where: { $0.parameter == .maxConcurrentStreams })?.value
      link.value.settingsReceived(limit, on: context.channel)
    default:
      break
    }
  }

  /// Noticed at once, not when the close future's callbacks run: no stream is opened on a
  /// connection that is already gone.
  func channelInactive(context: ChannelHandlerContext) {
    link.value.lost(context.channel)
    context.fireChannelInactive()
  }
}
