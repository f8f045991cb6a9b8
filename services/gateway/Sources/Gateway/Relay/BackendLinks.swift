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

/// The relay's HTTP/2 connections to the backends: one per backend on each event loop, made
/// when first needed. A relayed call's two streams (caller side and backend side) then live on
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

/// One HTTP/2 connection to one backend, owned by one event loop. While the backend cannot be
/// reached, calls fail at once with UNAVAILABLE (a new attempt at most every 100 ms, backing off
/// to 2 s) instead of waiting for their deadline; a backend that says GOAWAY (it is draining)
/// finishes its streams on the old connection while new calls open a new one.
final class BackendLink: @unchecked Sendable {
  let name: String
  let address: BackendAddress
  let loop: any EventLoop
  private let logger: Logger

  private enum State {
    case idle
    case connecting([(Result<NIOHTTP2Handler.StreamMultiplexer, any Error>) -> Void])
    case ready(NIOHTTP2Handler.StreamMultiplexer, any Channel)
    case backingOff(until: NIODeadline, error: any Error)
  }
  private var state = State.idle
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
    withMultiplexer { result in
      switch result {
      case .failure(let error):
        opened(.failure(error))
      case .success(let multiplexer):
        let promise = self.loop.makePromise(of: (any Channel).self)
        multiplexer.createStreamChannel(promise: promise) { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(bound.value.handler)
          }
        }
        promise.futureResult.whenComplete { result in bound.value.opened(result) }
      }
    }
  }

  private func withMultiplexer(_ use: @escaping (Result<NIOHTTP2Handler.StreamMultiplexer, any Error>) -> Void) {
    switch state {
    case .ready(let multiplexer, _):
      use(.success(multiplexer))
    case .connecting(var waiting):
      waiting.append(use)
      state = .connecting(waiting)
    case .backingOff(let until, let error):
      if NIODeadline.now() < until {
        use(.failure(error))
      } else {
        connect(use)
      }
    case .idle:
      connect(use)
    }
  }

  private func connect(_ first: @escaping (Result<NIOHTTP2Handler.StreamMultiplexer, any Error>) -> Void) {
    state = .connecting([first])
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
          try channel.pipeline.syncOperations.addHandler(GoAwayWatcher(link: bound))
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
    guard case .connecting(let waiting) = state else {
      if case .success(let channel) = result { channel.close(promise: nil) }
      return
    }
    do {
      let channel = try result.get()
      let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
      state = .ready(multiplexer, channel)
      backoff = Self.initialBackoff
      let bound = NIOLoopBound(self, eventLoop: loop)
      channel.closeFuture.whenComplete { _ in bound.value.lost(channel) }
      for use in waiting { use(.success(multiplexer)) }
    } catch {
      logger.warning("backend unreachable", metadata: ["backend": "\(name)", "address": "\(address)", "error": "\(error)"])
      state = .backingOff(until: .now() + backoff, error: error)
      backoff = min(backoff * 2, Self.maximumBackoff)
      for use in waiting { use(.failure(error)) }
    }
  }

  /// The connection closed, or the backend said GOAWAY: the next call opens a new one.
  func lost(_ channel: any Channel) {
    if case .ready(_, let current) = state, current === channel {
      state = .idle
    }
  }

  func close() {
    if case .ready(_, let channel) = state {
      state = .idle
      channel.close(promise: nil)
    }
  }
}

/// Sees a backend's GOAWAY (it is shutting down) or its connection closing: no new streams go
/// on that connection.
private final class GoAwayWatcher: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame

  let link: NIOLoopBound<BackendLink>

  init(link: NIOLoopBound<BackendLink>) {
    self.link = link
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if case .goAway = unwrapInboundIn(data).payload {
      link.value.lost(context.channel)
    }
  }

  /// Noticed at once, not when the close future's callbacks run: no stream is opened on a
  /// connection that is already gone.
  func channelInactive(context: ChannelHandlerContext) {
    link.value.lost(context.channel)
    context.fireChannelInactive()
  }
}
