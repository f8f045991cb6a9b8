import GRPCCore
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import ServiceKit
import SupportCodec

/// What every relayed call shares: routes, credentials, backend connections, limits.
struct RelayShared: Sendable {
  var routes: RelayRoutes
  var links: BackendLinks
  var verdicts: CallerVerdicts
  var callerHeader: SignedCallerHeader
  var maxMessageBytes: Int
  var metrics: RelayMetrics
  var logger: Logger
  /// Watch streams and event-log reads in progress, ended at once on drain.
  var longLived = LongLivedCalls()

  /// Request headers that stop at the gateway: credentials (the backend gets the verified
  /// caller, signed), a caller's attempt at the signed header, the request id (replaced by a
  /// checked one) and connection-specific headers.
  static let droppedRequestHeaders: Set<String> = [
    "authorization", "x-api-key", SignedCallerHeader.metadataKey, RequestContext.requestIDKey, "connection",
    "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
  ]
}

/// One call through the gateway, on the caller's HTTP/2 stream.
///
/// The relay reads the request headers, finds the backend by method, settles who is calling
/// (API key or JWT, usually from a verdict made in the last second), then opens a stream to the
/// backend on a connection owned by this event loop and passes frames both ways as they come:
/// request headers (credentials replaced by the signed caller, a request id added), messages,
/// the backend's headers, messages and trailers. Messages are never decoded; only their 5-byte
/// prefixes are read, to refuse an oversize request with RESOURCE_EXHAUSTED.
///
/// Flow control is end to end: the relay reads more from one side only while the other side
/// can take it, so a slow reader slows the writer instead of filling the gateway's memory.
/// A caller that resets its stream resets the backend's (the backend stops its work); a
/// backend that goes away mid-call ends the call UNAVAILABLE. `grpc-timeout` passes on as
/// sent, so the backend keeps the caller's deadline; the relay also ends a call the backend
/// did not end within a moment after it.
final class RelayCall: ChannelDuplexHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias OutboundIn = HTTP2Frame.FramePayload
  typealias OutboundOut = HTTP2Frame.FramePayload

  private enum Phase {
    case awaitingHeaders
    case authenticating
    case opening
    case relaying
    case finished
  }

  private let shared: RelayShared
  private var phase = Phase.awaitingHeaders
  private var context: ChannelHandlerContext?
  private var backend: BackendCall?
  /// Request frames that came before the backend stream was open.
  private var early: [HTTP2Frame.FramePayload] = []
  /// A read was held back because the backend side could not take more yet.
  private var readHeld = false
  private var sizeCheck: MessageSizeCheck
  private var requestID = ""
  private var route: RelayRoutes.Route?
  private var started = NIODeadline.now()
  private var responseStarted = false
  /// Registered in `shared.longLived` (a watch or event-log stream).
  private var isLongLived = false
  private var deadlineTimer: Scheduled<Void>?

  /// How long after the caller's deadline the relay waits for the backend's own
  /// DEADLINE_EXCEEDED before answering it itself.
  static let deadlineGrace = TimeAmount.milliseconds(250)

  init(shared: RelayShared) {
    self.shared = shared
    self.sizeCheck = MessageSizeCheck(limit: shared.maxMessageBytes)
  }

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
  }

  // MARK: The caller's side

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let payload = unwrapInboundIn(data)
    switch payload {
    case .headers(let headers):
      if phase == .awaitingHeaders {
        begin(headers.headers, endStream: headers.endStream)
      } else {
        // Request trailers (gRPC callers send none; HTTP/2 allows them): held to the same
        // limit as the call's headers, so that the backend, which decodes at most 16 KiB,
        // never closes the connection every relayed call shares.
        let size = headers.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 }
        guard size <= RelaySettings.callHeaderListLimit else {
          fail(.resourceExhausted, "the call's trailers are \(size) bytes, over the limit of \(RelaySettings.callHeaderListLimit) bytes")
          return
        }
        pass(payload)
      }
    case .data(let data):
      guard phase != .finished, phase != .awaitingHeaders else { return }
      if let length = sizeCheck.oversize(in: data.data) {
        fail(.resourceExhausted, "a request message of \(length) bytes is over the limit of \(shared.maxMessageBytes) bytes")
        return
      }
      pass(payload)
    default:
      break
    }
  }

  private func pass(_ payload: HTTP2Frame.FramePayload) {
    switch phase {
    case .relaying: backend?.write(payload)
    case .authenticating, .opening: early.append(payload)
    case .awaitingHeaders, .finished: break
    }
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    if phase == .relaying { backend?.flush() }
  }

  func read(context: ChannelHandlerContext) {
    switch phase {
    case .relaying where backend?.isWritable == false, .authenticating, .opening:
      readHeld = true
    default:
      context.read()
    }
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    if context.channel.isWritable { backend?.resumeReading() }
  }

  var isWritable: Bool { context?.channel.isWritable ?? true }

  func resumeReading() {
    guard readHeld, let context else { return }
    readHeld = false
    context.read()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // A reset by the caller arrives as an error, then channelInactive: handled there.
  }

  func channelInactive(context: ChannelHandlerContext) {
    if phase != .finished && phase != .awaitingHeaders {
      // The caller went away (reset its stream, or its connection closed) before the end.
      complete(code: RPCError.Code.cancelled.rawValue)
    }
    phase = .finished
    context.fireChannelInactive()
  }

  // MARK: Starting the call

  private func begin(_ headers: HPACKHeaders, endStream: Bool) {
    started = .now()
    requestID = headers.first(name: RequestContext.requestIDKey).flatMap(Self.checkedRequestID) ?? RequestContext.newRequestID()
    guard headers.first(name: ":method") == "POST", let contentType = headers.first(name: "content-type"),
      contentType.hasPrefix("application/grpc")
    else {
      phase = .finished
      var response = HPACKHeaders()
      response.add(name: ":status", value: "415")
      context?.writeAndFlush(wrapOutboundOut(.headers(.init(headers: response, endStream: true))), promise: nil)
      return
    }
    // Header lists up to the connection's decoding bound are read (HPACK state needs them), but
    // a call's may not be over the call limit: that call alone is refused.
    let headerListSize = headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 }
    if headerListSize > RelaySettings.callHeaderListLimit {
      phase = .relaying  // so that fail() answers
      fail(.resourceExhausted, "the call's headers are \(headerListSize) bytes, over the limit of \(RelaySettings.callHeaderListLimit) bytes")
      return
    }
    let path = headers.first(name: ":path") ?? ""
    switch shared.routes.resolve(path: path, headers: headers) {
    case .unknown(let method):
      phase = .relaying  // so that fail() answers
      fail(.unimplemented, "\(method) is not a method of this service desk")
      return
    case .invalid(let reason):
      // A bad event-log producer header: who is calling is checked first (UNAUTHENTICATED,
      // PERMISSION_DENIED), as for every method; then the header is refused.
      phase = .relaying
      refuseAfterAuthentication(headers, method: String(path.dropFirst()), reason: reason)
      return
    case .route(let route):
      self.route = route
    }
    guard let route else { return }
    if !route.local { shared.metrics.started(route.method) }
    if let timeout = headers.first(name: "grpc-timeout").flatMap(GRPCWire.parseTimeout), let context {
      let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
      deadlineTimer = context.eventLoop.scheduleTask(in: timeout + Self.deadlineGrace) {
        bound.value.fail(.deadlineExceeded, "the deadline passed before the \(bound.value.backendName) service answered")
      }
    }
    if route.open {
      open(headers, endStream: endStream, caller: nil)
      return
    }
    let credentials = CallerVerdicts.credentials(in: headers)
    if let caller = shared.verdicts.cached(credentials) {
      authorized(caller, headers: headers, endStream: endStream)
      return
    }
    guard let context else { return }
    phase = .authenticating
    let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
    let verdicts = shared.verdicts
    context.eventLoop.makeFutureWithTask { try await verdicts.verify(credentials) }.whenComplete { result in
      let call = bound.value
      guard call.phase == .authenticating else { return }
      switch result {
      case .success(let caller): call.authorized(caller, headers: headers, endStream: endStream)
      case .failure(let error): call.fail(error)
      }
    }
  }

  /// Verifies the caller, then ends the call INVALID_ARGUMENT with `reason` (or with the
  /// credentials' or the scope's refusal).
  private func refuseAfterAuthentication(_ headers: HPACKHeaders, method: String, reason: String) {
    let refuse = { (call: RelayCall, verdict: Result<Caller, any Error>) in
      do {
        try GatewayAuthenticator.authorize(try verdict.get(), method: method)
        call.fail(.invalidArgument, reason)
      } catch {
        call.fail(error)
      }
    }
    let credentials = CallerVerdicts.credentials(in: headers)
    if let caller = shared.verdicts.cached(credentials) {
      refuse(self, .success(caller))
      return
    }
    guard let context else { return }
    let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
    let verdicts = shared.verdicts
    context.eventLoop.makeFutureWithTask { try await verdicts.verify(credentials) }.whenComplete { result in
      refuse(bound.value, result)
    }
  }

  private func authorized(_ caller: Caller, headers: HPACKHeaders, endStream: Bool) {
    guard let route else { return }
    do {
      try GatewayAuthenticator.authorize(caller, method: route.method)
    } catch {
      fail(error)
      return
    }
    open(headers, endStream: endStream, caller: caller)
  }

  private func open(_ headers: HPACKHeaders, endStream: Bool, caller: Caller?) {
    guard let route, let context else { return }
    var outbound = HPACKHeaders()
    outbound.reserveCapacity(headers.count + 2)
    for (name, value, indexing) in headers where !RelayShared.droppedRequestHeaders.contains(name) {
      outbound.add(name: name, value: value, indexing: indexing)
    }
    outbound.add(name: RequestContext.requestIDKey, value: requestID)
    if let caller {
      outbound.add(name: SignedCallerHeader.metadataKey, value: shared.callerHeader.sign(caller, method: route.method))
    }
    // The backends decode at most 16 KiB (grpc-swift's default) and would close the shared
    // connection over a larger list: refuse this call instead.
    let outboundSize = outbound.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 }
    guard outboundSize <= RelaySettings.callHeaderListLimit else {
      fail(.resourceExhausted, "the call's headers with the caller's identity are \(outboundSize) bytes, over the limit of \(RelaySettings.callHeaderListLimit) bytes")
      return
    }
    early.insert(.headers(.init(headers: outbound, endStream: endStream)), at: 0)
    // The gateway's own health server (a local route) ends its Watch streams itself once it
    // has said NOT_SERVING; a backend's streams would wait for backends that are not draining.
    if !route.local && ServiceCatalog.longLivedMethods.contains(route.method) {
      isLongLived = true
      guard shared.longLived.add(self, on: context.eventLoop) else {
        phase = .relaying
        endForShutdown()
        return
      }
    }
    phase = .opening
    let backend = BackendCall(relay: self)
    self.backend = backend
    shared.links.link(route.backend, on: context.eventLoop).openStream(backend) { result in
      self.backendOpened(result)
    }
  }

  private func backendOpened(_ result: Result<any Channel, any Error>) {
    guard phase == .opening else {
      if case .success(let channel) = result { channel.close(promise: nil) }
      return
    }
    switch result {
    case .failure(let error):
      shared.logger.warning(
        "backend unreachable",
        metadata: ["backend": "\(backendName)", "request_id": "\(requestID)", "error": "\(error)"]
      )
      fail(.unavailable, "the \(backendName) service is unavailable, retry later")
    case .success:
      phase = .relaying
      for frame in early { backend?.write(frame) }
      early = []
      backend?.flush()
      if backend?.isWritable != false { resumeReading() }
    }
  }

  var backendName: String {
    route.map { shared.links.names[$0.backend] } ?? "backend"
  }

  // MARK: The backend's side

  func backendRead(_ payload: HTTP2Frame.FramePayload) {
    guard phase == .relaying, let context else { return }
    switch payload {
    case .headers(let headers):
      if headers.endStream {
        // Settled before the write: a flush that ends both halves closes the stream at once.
        // The backend ended its stream: no reset (a reset per call would look like an attack
        // to its HTTP/2 server, which closes connections that reset too many streams).
        complete(code: headers.headers.first(name: "grpc-status").flatMap(Int.init) ?? RPCError.Code.unknown.rawValue, backendEnded: true)
        context.writeAndFlush(wrapOutboundOut(payload), promise: nil)
      } else {
        responseStarted = true
        context.write(wrapOutboundOut(payload), promise: nil)
      }
    case .data:
      context.write(wrapOutboundOut(payload), promise: nil)
    default:
      break
    }
  }

  func backendReadComplete() {
    context?.flush()
  }

  /// The backend's stream closed: after its trailers that is the normal end; before them the
  /// call failed there (reset, or the connection was lost).
  func backendClosed(reset: HTTP2ErrorCode?) {
    guard phase == .relaying else { return }
    let (code, message) = GRPCWire.status(forReset: reset ?? .cancel, backend: backendName)
    fail(code, message)
  }

  // MARK: Ending the call

  private func fail(_ error: any Error) {
    if let error = error as? RPCError {
      fail(error.code, error.message)
    } else {
      fail(.internalError, "the gateway could not relay the call")
    }
  }

  /// Ends the call with a status of the relay's own (the caller's stream stays open for
  /// whatever the caller still sends, which is dropped).
  fileprivate func fail(_ code: RPCError.Code, _ message: String) {
    guard phase != .finished, let context else { return }
    let headers = GRPCWire.status(code, message, requestID: requestID, trailersOnly: !responseStarted)
    complete(code: code.rawValue)
    context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
  }

  /// The gateway drains: a long-lived call ends now, UNAVAILABLE (the relay does not follow
  /// message boundaries, so it cannot promise a clean OK); the caller reconnects and resumes
  /// after the last sequence or position it saw.
  func endForShutdown() {
    fail(.unavailable, "the gateway is shutting down: reconnect and resume after the last sequence you saw")
  }

  private func complete(code: Int, backendEnded: Bool = false) {
    guard phase != .finished else { return }
    phase = .finished
    if isLongLived { shared.longLived.remove(self) }
    deadlineTimer?.cancel()
    deadlineTimer = nil
    early = []
    if backendEnded {
      // Our half ends too if the caller had not finished sending (the backend answered early).
      backend?.finishRequest()
    } else {
      // The call ends here (an error of the relay's, or the caller left): reset the backend's
      // stream so the backend stops its work.
      backend?.close()
    }
    backend = nil
    if readHeld { resumeReading() }
    guard let route, !route.local else { return }
    shared.metrics.finished(route.method, code: code, since: started)
    let level: Logger.Level = code == 0 ? .debug : ([2, 13, 15].contains(code) ? .error : .info)
    if shared.logger.logLevel <= level {
      let milliseconds = Double((NIODeadline.now() - started).nanoseconds) / 1e6
      shared.logger.log(
        level: level, "rpc finished",
        metadata: [
          "request_id": "\(requestID)", "rpc": "\(route.method)", "code": "\(GRPCWire.codeName(code))",
          "duration_ms": "\(milliseconds)", "backend": "\(backendName)",
        ]
      )
    }
  }

  static func checkedRequestID(_ id: String) -> String? {
    (1...128).contains(id.utf8.count) && id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) ? id : nil
  }
}

/// The backend's side of a relayed call: its own HTTP/2 stream on the link's connection.
final class BackendCall: ChannelDuplexHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias OutboundIn = HTTP2Frame.FramePayload
  typealias OutboundOut = HTTP2Frame.FramePayload

  private var relay: RelayCall?
  private var context: ChannelHandlerContext?
  private var readHeld = false
  private var reset: HTTP2ErrorCode?
  private var closeWhenAdded = false

  init(relay: RelayCall) {
    self.relay = relay
  }

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    if closeWhenAdded { context.close(promise: nil) }
  }

  var isWritable: Bool { context?.channel.isWritable ?? true }

  /// The request's last frame was written (END_STREAM).
  private var requestEnded = false
  /// The response's last frame arrived (END_STREAM), or the backend reset the stream.
  private var responseEnded = false
  private var inactive = false
  /// Told when closing resets the backend's stream (BackendLink counts them).
  var resetSent: (() -> Void)?

  func write(_ payload: HTTP2Frame.FramePayload) {
    switch payload {
    case .headers(let headers) where headers.endStream: requestEnded = true
    case .data(let data) where data.endStream: requestEnded = true
    default: break
    }
    context?.write(wrapOutboundOut(payload), promise: nil)
  }

  /// The backend ended the call: stop passing anything on, and end the request half if the
  /// caller had not (an empty DATA frame with END_STREAM, not a reset).
  func finishRequest() {
    relay = nil
    guard !requestEnded, let context else { return }
    requestEnded = true
    context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: nil)
  }

  func flush() {
    context?.flush()
  }

  /// Resets the backend's stream (RST_STREAM CANCEL) unless it already ended.
  func close() {
    relay = nil
    guard let context else {
      closeWhenAdded = true  // nothing was sent yet: closing sends no reset
      return
    }
    if !inactive && !(requestEnded && responseEnded) { resetSent?() }
    resetSent = nil
    context.close(promise: nil)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let payload = unwrapInboundIn(data)
    switch payload {
    case .headers(let headers) where headers.endStream: responseEnded = true
    case .data(let data) where data.endStream: responseEnded = true
    case .rstStream: responseEnded = true
    default: break
    }
    relay?.backendRead(payload)
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    relay?.backendReadComplete()
  }

  func read(context: ChannelHandlerContext) {
    if relay?.isWritable == false {
      readHeld = true
    } else {
      context.read()
    }
  }

  func resumeReading() {
    guard readHeld, let context else { return }
    readHeld = false
    context.read()
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    if context.channel.isWritable { relay?.resumeReading() }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    if let closed = error as? NIOHTTP2Errors.StreamClosed { reset = closed.errorCode }
  }

  func channelInactive(context: ChannelHandlerContext) {
    inactive = true
    resetSent = nil
    let relay = self.relay
    self.relay = nil
    relay?.backendClosed(reset: reset)
  }
}
