import Metrics
import NIOCore
import Synchronization

/// The same series every SupportMesh server exports (`RPCMetricsInterceptor`), for relayed
/// calls: `grpc_server_handled_total{method,code}`, `grpc_server_handling_seconds{method}`,
/// `grpc_server_in_flight{method}`. Handles are made once per method and code, not per call.
final class RelayMetrics: Sendable {
  private final class PerMethod: Sendable {
    let timer: Timer
    let inFlight: Gauge
    let state = Mutex<(count: Int, handled: [Int: Counter])>((0, [:]))

    init(method: String) {
      timer = Timer(label: "grpc_server_handling_seconds", dimensions: [("method", method)])
      inFlight = Gauge(label: "grpc_server_in_flight", dimensions: [("method", method)])
    }
  }

  private let methods = Mutex<[String: PerMethod]>([:])

  private func perMethod(_ method: String) -> PerMethod {
    methods.withLock { methods in
      if let existing = methods[method] { return existing }
      let made = PerMethod(method: method)
      methods[method] = made
      return made
    }
  }

  func started(_ method: String) {
    let metrics = perMethod(method)
    let count = metrics.state.withLock { state in
      state.count += 1
      return state.count
    }
    metrics.inFlight.record(count)
  }

  func finished(_ method: String, code: Int, since start: NIODeadline) {
    let metrics = perMethod(method)
    let (count, counter) = metrics.state.withLock { state in
      state.count -= 1
      if let counter = state.handled[code] { return (state.count, counter) }
      let counter = Counter(label: "grpc_server_handled_total", dimensions: [("method", method), ("code", GRPCWire.codeName(code))])
      state.handled[code] = counter
      return (state.count, counter)
    }
    metrics.inFlight.record(count)
    counter.increment()
    metrics.timer.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
  }
}
