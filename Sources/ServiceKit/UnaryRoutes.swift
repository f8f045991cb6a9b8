import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

extension RPCRouter {
  /// Registers one unary protobuf handler. A service that serves part of a generated service
  /// registers just those methods; the router answers every other method of the contract with
  /// UNIMPLEMENTED.
  public mutating func registerUnary<Input: SwiftProtobuf.Message & Sendable, Output: SwiftProtobuf.Message & Sendable>(
    _ method: MethodDescriptor,
    _ handler: @escaping @Sendable (Input) async throws -> Output
  ) {
    registerHandler(
      forMethod: method, deserializer: LimitedDeserializer(CheckedProtobufDeserializer<Input>()), serializer: ProtobufSerializer<Output>()
    ) { request, _ in
      let single = try await ServerRequest(stream: request)
      return StreamingServerResponse(single: ServerResponse(message: try await handler(single.message), metadata: [:]))
    }
  }
}
