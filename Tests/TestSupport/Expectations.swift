import GRPCCore
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
