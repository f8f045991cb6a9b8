import Foundation
import GRPCCore
import Logging
import Metrics
import Synchronization

/// Counts every RPC and times it, per method and status code:
/// `grpc_server_handled_total{method,code}` and `grpc_server_handling_seconds{method}`, plus
/// `grpc_server_in_flight{method}`. For streaming responses the time runs until the last message.
///
/// Also writes the access log line of each RPC (method, code, duration, request id): at debug
/// level when it succeeded, info for a caller's error, error for a server fault.
public struct RPCMetricsInterceptor: ServerInterceptor {
  public init() {}

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let method = context.descriptor.fullyQualifiedMethod
    let start = ContinuousClock.now
    let inFlight = Gauge(label: "grpc_server_in_flight", dimensions: [("method", method)])
    let gaugeValue = InFlightCounter.shared.increment(method)
    inFlight.record(gaugeValue)
    @Sendable func finish(_ code: String, _ error: (any Error)? = nil) {
      Counter(label: "grpc_server_handled_total", dimensions: [("method", method), ("code", code)]).increment()
      Timer(label: "grpc_server_handling_seconds", dimensions: [("method", method)]).recordInterval(since: start)
      inFlight.record(InFlightCounter.shared.decrement(method))
      if let logger = RequestContext.current?.logger {
        let level: Logger.Level = code == "OK" ? .debug : (["INTERNAL", "UNKNOWN", "DATA_LOSS"].contains(code) ? .error : .info)
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = ["code": "\(code)", "duration_ms": "\(milliseconds)"]
        if level == .error, let error { metadata["error"] = "\(String(reflecting: error))" }
        logger.log(level: level, "rpc finished", metadata: metadata)
      }
    }
    let response: StreamingServerResponse<Output>
    do {
      response = try await next(request, context)
    } catch {
      finish(Self.codeName(of: error), error)
      throw error
    }
    switch response.accepted {
    case .failure(let error):
      finish(Self.codeName(of: error), error)
      return response
    case .success(var contents):
      let producer = contents.producer
      contents.producer = { writer in
        do {
          let trailers = try await producer(writer)
          finish("OK")
          return trailers
        } catch {
          finish(Self.codeName(of: error), error)
          throw error
        }
      }
      var wrapped = response
      wrapped.accepted = .success(contents)
      return wrapped
    }
  }

  static func codeName(of error: any Error) -> String {
    if let rpc = error as? RPCError { return rpc.code.canonicalName }
    if let convertible = error as? any RPCErrorConvertible { return convertible.rpcErrorCode.canonicalName }
    return "UNKNOWN"
  }
}

extension Timer {
  func recordInterval(since start: ContinuousClock.Instant) {
    let elapsed = ContinuousClock.now - start
    let (seconds, attoseconds) = elapsed.components
    recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
  }

  /// Wall-clock time since `start` (another process's timestamp); never negative.
  func recordInterval(since start: Date) {
    recordNanoseconds(Int64(max(0, Date().timeIntervalSince(start)) * 1_000_000_000))
  }
}

/// Process-wide in-flight RPC counts per method, for the in-flight gauge.
final class InFlightCounter: Sendable {
  static let shared = InFlightCounter()
  private let counts = Mutex<[String: Int]>([:])

  func increment(_ method: String) -> Int {
    counts.withLock { $0[method, default: 0] += 1; return $0[method]! }
  }

  func decrement(_ method: String) -> Int {
    counts.withLock { $0[method, default: 1] -= 1; return $0[method]! }
  }
}
