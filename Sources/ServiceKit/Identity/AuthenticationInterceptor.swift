import GRPCCore

/// Establishes the caller of every RPC before its handler runs; calls without a valid identity
/// end UNAUTHENTICATED (or PERMISSION_DENIED when the identity is valid but not allowed the
/// method) and never reach a handler. grpc.health.v1 stays open, for probes and load balancers.
public protocol CallerAuthenticator: Sendable {
  func authenticate(metadata: Metadata, method: String) async throws -> Caller
}

public struct AuthenticationInterceptor: ServerInterceptor {
  /// Services anyone may call without credentials.
  public static let openServices: Set<String> = ["grpc.health.v1.Health"]

  let authenticator: any CallerAuthenticator

  public init(_ authenticator: any CallerAuthenticator) {
    self.authenticator = authenticator
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    if !Self.openServices.contains(context.descriptor.service.fullyQualifiedService) {
      let caller = try await authenticator.authenticate(metadata: request.metadata, method: context.descriptor.fullyQualifiedMethod)
      RequestContext.current?.callerSlot.caller = caller
    }
    return try await next(request, context)
  }
}

/// A backend's authenticator: the caller is whoever the gateway's signed header names.
public struct SignedCallerAuthenticator: CallerAuthenticator {
  let header: SignedCallerHeader

  public init(_ header: SignedCallerHeader) {
    self.header = header
  }

  public func authenticate(metadata: Metadata, method: String) async throws -> Caller {
    guard let value = metadata[stringValues: SignedCallerHeader.metadataKey].first(where: { _ in true }) else {
      throw RPCError(code: .unauthenticated, message: "no caller identity: call through the gateway with credentials")
    }
    return try header.verify(value, method: method)
  }
}
