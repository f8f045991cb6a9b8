import GRPCCore
import ServiceKit
import SupportCodec
import Testing

/// Waits (up to 5 s) until `condition` holds; records an issue when it never does.
public func eventually(_ condition: @Sendable () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
  let deadline = ContinuousClock.now + .seconds(5)
  while !condition() {
    if ContinuousClock.now > deadline {
      Issue.record("condition not met within 5 s", sourceLocation: sourceLocation)
      return
    }
    try await Task.sleep(for: .milliseconds(20))
  }
}

/// Expects `body` to fail with the gRPC status `code` (and, when given, a message containing
/// `containing`).
public func expectCode<T>(
  _ code: RPCError.Code, containing: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () async throws -> T
) async {
  do {
    let value = try await body()
    Issue.record("expected \(code), got \(value)", sourceLocation: sourceLocation)
  } catch let error as RPCError {
    #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    if let containing {
      #expect(error.message.contains(containing), "\(error.message)", sourceLocation: sourceLocation)
    }
  } catch {
    Issue.record("expected RPCError \(code), got \(error)", sourceLocation: sourceLocation)
  }
}

/// Expects a health Watch to stop when its caller gives up — at the caller's deadline, and when
/// the caller cancels — and the serving side's watcher (counted by `store`) to go away both
/// times: the check that work ends when nobody waits for it any more.
public func expectWatchStopsWhenCallerGivesUp<Transport: ClientTransport>(
  _ health: Grpc_Health_V1_Health.Client<Transport>, _ store: HealthStatusStore, deadline: Duration,
  sourceLocation: SourceLocation = #_sourceLocation
) async throws {
  var options = CallOptions.defaults
  options.timeout = deadline
  do {
    try await health.watch(.with { $0.service = "a" }, options: options) { response in
      for try await _ in response.messages {}
    }
    Issue.record("a watch never ends by itself: the deadline must end it", sourceLocation: sourceLocation)
  } catch let error as RPCError {
    #expect(error.code == .deadlineExceeded, sourceLocation: sourceLocation)
  }
  try await eventually({ store.watcherCount == 0 }, sourceLocation: sourceLocation)

  let watching = Task {
    try await health.watch(.with { $0.service = "a" }) { response in
      for try await _ in response.messages {}
    }
  }
  try await eventually({ store.watcherCount == 1 }, sourceLocation: sourceLocation)
  watching.cancel()
  _ = await watching.result
  try await eventually({ store.watcherCount == 0 }, sourceLocation: sourceLocation)
}
