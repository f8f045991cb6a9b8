import Foundation
import GRPCCore
import Logging
import Synchronization
import SupportCodec

/// What a handler knows about the call it serves: the request id carried across hops, the
/// caller's deadline and a logger that tags every line with both. Set by
/// `RequestContextInterceptor` for the duration of each RPC.
public struct RequestContext: Sendable {
  /// Metadata key of the request id; the gateway adds one when a caller did not.
  public static let requestIDKey = "x-request-id"

  public var requestID: String
  public var method: String
  /// When the caller stops waiting, from the incoming `grpc-timeout`; nil when it set none.
  public var deadline: ContinuousClock.Instant?
  public var logger: Logger
  /// Who is calling, set by `AuthenticationInterceptor` once the caller is verified.
  public let callerSlot: CallerSlot

  /// The verified caller; nil only for the open health service.
  public var caller: Caller? { callerSlot.caller }
  /// The caller's W3C trace context (`traceparent` header), when it sent a well-formed one:
  /// events the call announces carry it (EventEnvelope.traceparent), outgoing calls pass it on.
  public var traceparent: String?

  @TaskLocal public static var current: RequestContext?

  public init(
    requestID: String, method: String, deadline: ContinuousClock.Instant?, logger: Logger, caller: Caller? = nil, traceparent: String? = nil
  ) {
    self.traceparent = traceparent
    self.requestID = requestID
    self.method = method
    self.deadline = deadline
    self.logger = logger
    self.callerSlot = CallerSlot(caller)
  }

  /// Time left before the deadline, for outgoing calls (deadline propagation).
  public var remaining: Duration? {
    deadline.map { $0 - ContinuousClock.now }
  }

  /// Call options for an outgoing call on behalf of this request: its timeout is what is left of
  /// the incoming deadline, so a downstream service stops when the caller has given up.
  public func callOptions(_ base: CallOptions = .defaults) -> CallOptions {
    var options = base
    if let remaining { options.timeout = max(remaining, .milliseconds(1)) }
    return options
  }

  /// Metadata for an outgoing call: the request id travels to the next hop.
  public func outgoingMetadata(_ base: Metadata = [:]) -> Metadata {
    var metadata = base
    metadata.replaceOrAddString(requestID, forKey: Self.requestIDKey)
    if let traceparent { metadata.replaceOrAddString(traceparent, forKey: "traceparent") }
    return metadata
  }

  /// A `traceparent` value as W3C Trace Context level 1 spells it ("00-" 32 hex "-" 16 hex "-"
  /// 2 hex, lower case, ids not all zero); nil for anything else.
  public static func validTraceparent(_ value: String?) -> String? {
    guard let value, value.utf8.count == 55 else { return nil }
    let parts = value.split(separator: "-", omittingEmptySubsequences: false)
    let hex = { (part: Substring, count: Int) in part.count == count && part.allSatisfy { $0.isHexDigit && !$0.isUppercase } }
    guard parts.count == 4, hex(parts[0], 2), parts[0] != "ff", hex(parts[1], 32), hex(parts[2], 16), hex(parts[3], 2),
      parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" })
    else { return nil }
    return value
  }

  /// Parses a `grpc-timeout` header value ("100m", "5S", …) into a duration.
  public static func parseTimeout(_ value: String) -> Duration? {
    guard let unit = value.last, let amount = Int64(value.dropLast()), amount >= 0, value.count <= 9 else { return nil }
    switch unit {
    case "H": return .seconds(amount * 3600)
    case "M": return .seconds(amount * 60)
    case "S": return .seconds(amount)
    case "m": return .milliseconds(amount)
    case "u": return .microseconds(amount)
    case "n": return .nanoseconds(amount)
    default: return nil
    }
  }

  /// A request id for a call that came without one.
  public static func newRequestID() -> String {
    UUID().uuidString.lowercased()
  }
}

/// Takes the request id from the `x-request-id` metadata (or makes one), reads the caller's
/// deadline, and runs the handler with `RequestContext.current` set; echoes the request id in
/// the response metadata so callers can quote it.
public struct RequestContextInterceptor: ServerInterceptor {
  let logger: Logger

  public init(logger: Logger) {
    self.logger = logger
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let incoming = request.metadata[stringValues: RequestContext.requestIDKey].first(where: { _ in true })
    let requestID = incoming.flatMap { id in
      (1...128).contains(id.utf8.count) && id.allSatisfy({ $0.isASCII && !$0.isWhitespace }) ? id : nil
    } ?? RequestContext.newRequestID()
    let timeout = request.metadata[stringValues: "grpc-timeout"].first(where: { _ in true }).flatMap(RequestContext.parseTimeout)
    var logger = self.logger
    logger[metadataKey: "request_id"] = "\(requestID)"
    logger[metadataKey: "rpc"] = "\(context.descriptor.fullyQualifiedMethod)"
    let requestContext = RequestContext(
      requestID: requestID, method: context.descriptor.fullyQualifiedMethod,
      deadline: timeout.map { ContinuousClock.now + $0 }, logger: logger,
      traceparent: RequestContext.validTraceparent(request.metadata[stringValues: "traceparent"].first(where: { _ in true }))
    )
    let longLived = ServiceCatalog.longLivedMethods.contains(context.descriptor.fullyQualifiedMethod)
    var response: StreamingServerResponse<Output>
    do {
      response = try await RequestContext.$current.withValue(requestContext) {
        // `next` does not escape: the task running it is awaited before this returns.
        try await withoutActuallyEscaping(next) { next in
          try await RPCCancellation.cancellingTask(deadline: requestContext.deadline, longLived: longLived) { try await next(request, context) }
        }
      }
    } catch var error as RPCError {
      // Refused before a handler ran (starting up, no caller): the id is echoed all the same.
      error.metadata.replaceOrAddString(requestID, forKey: RequestContext.requestIDKey)
      throw error
    }
    response.metadata.replaceOrAddString(requestID, forKey: RequestContext.requestIDKey)
    // Streaming bodies run after `next` returns: keep the context (and cancellation) for them too.
    if case .success(var contents) = response.accepted {
      let producer = contents.producer
      contents.producer = { writer in
        try await RequestContext.$current.withValue(requestContext) {
          try await RPCCancellation.cancellingTask(deadline: requestContext.deadline, longLived: longLived) { try await producer(writer) }
        }
      }
      response.accepted = .success(contents)
    }
    return response
  }
}

/// grpc-swift's server cancels an RPC cooperatively: when the caller's deadline passes or the
/// caller resets the stream, it only fires the RPC's cancellation handle; the handler's task
/// keeps running. Handlers here are ordinary async code (database queries, forwarded calls,
/// watch loops) that stop on task cancellation, so every RPC's work runs in a task that the
/// RPC's cancellation cancels. That is what ends a backend's work when the caller gives up, and
/// what carries a caller's cancellation through the gateway to the backend.
///
/// The transport also fires the RPC's cancellation when the server begins its graceful
/// shutdown (it "quiesces" every stream). While draining, that is not a reason to stop: the
/// call runs to its real result (a committed write answers OK, not CANCELLED). Only the
/// caller's deadline passing ends it then, or the grace period running out (which cancels the
/// server's tasks). Long-lived streams (`ServiceCatalog.longLivedMethods`) end at once.
public enum RPCCancellation {
  public static func cancellingTask<Result: Sendable>(
    deadline: ContinuousClock.Instant? = nil, longLived: Bool = true, _ operation: @escaping @Sendable () async throws -> Result
  ) async throws -> Result {
    let task = Task { try await operation() }
    return try await withTaskCancellationHandler {
      try await withRPCCancellationHandler {
        try await task.value
      } onCancelRPC: {
        if !longLived, ServerDrain.isDraining, deadline.map({ $0 > .now }) ?? true { return }
        task.cancel()
      }
    } onCancel: {
      task.cancel()
    }
  }
}

/// Whether this process is draining (graceful shutdown began): new calls are refused by the
/// transport, calls in flight run to completion, watch streams should end.
public enum ServerDrain {
  private static let draining = Atomic<Bool>(false)

  public static var isDraining: Bool { draining.load(ordering: .relaxed) }

  static func begin() {
    draining.store(true, ordering: .relaxed)
  }
}
