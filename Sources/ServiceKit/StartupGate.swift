import GRPCCore
import Synchronization

/// Closed until the process's start-up work (migrations) is done. The gRPC server listens at
/// once, so health can answer NOT_SERVING while the schema is migrated; every other call is
/// refused UNAVAILABLE until then instead of reaching a handler that would query tables that
/// do not exist yet. (Such a query also poisons the connection's prepared statement for good
/// in postgres-nio, so an early EventLog subscriber could break that connection until restart.)
public final class StartupGate: Sendable {
  private let open = Atomic<Bool>(false)

  public init() {}

  public var isOpen: Bool { open.load(ordering: .acquiring) }

  public func openGate() { open.store(true, ordering: .releasing) }
}

/// Refuses every call but grpc.health.v1 while the gate is closed.
public struct StartupGateInterceptor: ServerInterceptor {
  let gate: StartupGate

  public init(gate: StartupGate) {
    self.gate = gate
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    guard gate.isOpen || context.descriptor.service.fullyQualifiedService == "grpc.health.v1.Health" else {
      throw RPCError(code: .unavailable, message: "the service is starting up (migrating its schema); retry shortly")
    }
    return try await next(request, context)
  }
}
