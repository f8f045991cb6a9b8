import GRPCCore
import Synchronization
import SupportCodec

public typealias ServingStatus = Grpc_Health_V1_HealthCheckResponse.ServingStatus

/// The serving status of each service name a process knows, with change notifications for
/// `Watch`. The empty name "" stands for the whole process.
public final class HealthStatusStore: Sendable {
  private struct State {
    var statuses: [String: ServingStatus] = [:]
    var watchers: [Int: (name: String, continuation: AsyncStream<ServingStatus>.Continuation)] = [:]
    var nextWatcher = 0
    var closed = false
  }
  private let state = Mutex(State())

  public init(names: [String], initial: ServingStatus = .notServing) {
    state.withLock { state in
      state.statuses[""] = initial
      for name in names { state.statuses[name] = initial }
    }
  }

  public func status(of name: String) -> ServingStatus? {
    state.withLock { $0.statuses[name] }
  }

  public var all: [String: ServingStatus] {
    state.withLock { $0.statuses }
  }

  /// Sets every known name to `status`.
  public func setAll(_ status: ServingStatus) {
    let names = state.withLock { Array($0.statuses.keys) }
    for name in names { set(name, status) }
  }

  public func set(_ name: String, _ status: ServingStatus) {
    let toNotify: [AsyncStream<ServingStatus>.Continuation] = state.withLock { state in
      // After shutdown nothing reports SERVING again (a start-up step may finish late).
      guard !state.closed, state.statuses[name] != status else { return [] }
      state.statuses[name] = status
      return state.watchers.values.filter { $0.name == name }.map(\.continuation)
    }
    for continuation in toNotify { continuation.yield(status) }
  }

  /// Process shutdown: every name becomes NOT_SERVING and every Watch stream ends, so that
  /// draining does not wait on watchers that would never finish by themselves.
  public func shutdown() {
    setAll(.notServing)
    let continuations = state.withLock { state in
      for name in state.statuses.keys { state.statuses[name] = .notServing }
      state.closed = true
      return state.watchers.values.map(\.continuation)
    }
    for continuation in continuations { continuation.finish() }
  }

  /// How many Watch streams are open (to see that a cancelled caller's stream is gone).
  public var watcherCount: Int {
    state.withLock { $0.watchers.count }
  }

  public var isShutDown: Bool {
    state.withLock { $0.closed }
  }

  /// The current status, then every change, until the consumer stops iterating.
  public func updates(for name: String) -> AsyncStream<ServingStatus> {
    let (stream, continuation) = AsyncStream.makeStream(of: ServingStatus.self, bufferingPolicy: .bufferingNewest(1))
    let id = state.withLock { state in
      let id = state.nextWatcher
      state.nextWatcher += 1
      state.watchers[id] = (name, continuation)
      continuation.yield(state.statuses[name] ?? .serviceUnknown)
      if state.closed { continuation.finish() }
      return id
    }
    continuation.onTermination = { [weak self] _ in
      _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
    }
    return stream
  }
}

/// grpc.health.v1.Health over a `HealthStatusStore`. Names the store does not know are asked of
/// `fallback` (the gateway answers for its backends there); `Watch` polls the fallback once a
/// second and sends changes; `List` asks it for each of `fallbackNames` too.
public struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  public typealias Fallback = @Sendable (_ name: String) async -> ServingStatus?
  let store: HealthStatusStore
  let fallback: Fallback?
  let fallbackNames: [String]

  public init(store: HealthStatusStore, fallback: Fallback? = nil, fallbackNames: [String] = []) {
    self.store = store
    self.fallback = fallback
    self.fallbackNames = fallbackNames
  }

  public func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthCheckResponse {
    if let status = store.status(of: request.service) { return .with { $0.status = status } }
    if let fallback, let status = await fallback(request.service) { return .with { $0.status = status } }
    throw RPCError(code: .notFound, message: "unknown service \"\(request.service)\"")
  }

  public func list(request: Grpc_Health_V1_HealthListRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthListResponse {
    var response = Grpc_Health_V1_HealthListResponse()
    for (name, status) in store.all {
      response.statuses[name] = .with { $0.status = status }
    }
    guard let fallback else { return response }
    // The fallback's names, asked at once (each answers NOT_SERVING when unreachable).
    await withTaskGroup(of: (String, ServingStatus?).self) { group in
      for name in fallbackNames where response.statuses[name] == nil {
        group.addTask { (name, await fallback(name)) }
      }
      for await (name, status) in group {
        if let status { response.statuses[name] = .with { $0.status = status } }
      }
    }
    return response
  }

  public func watch(request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>, context: ServerContext) async throws {
    if store.status(of: request.service) != nil || fallback == nil {
      for await status in store.updates(for: request.service) {
        try await response.write(.with { $0.status = status })
      }
      return
    }
    var last: ServingStatus?
    while !Task.isCancelled && !store.isShutDown {
      let status = await fallback?(request.service) ?? .serviceUnknown
      if status != last {
        try await response.write(.with { $0.status = status })
        last = status
      }
      try await Task.sleep(for: .seconds(1))
    }
  }
}
