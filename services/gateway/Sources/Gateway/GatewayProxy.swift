import GRPCCore
import Synchronization
import ServiceKit
import SupportCodec

/// Forwards every method of every backend by its full method path, as opaque bytes: messages
/// are never decoded, so the gateway needs no change when a backend's messages grow fields.
///
/// Every call is forwarded as a bidirectional stream, the general case of all four RPC kinds
/// on the wire, with the caller's metadata (less transport headers), the request id, and the
/// time left before the caller's deadline. The caller's credentials stay here: the backend
/// gets the verified caller in a header signed for that one method (`SignedCallerHeader`).
struct GatewayProxy: RegistrableRPCService {
  let routes: [(method: MethodDescriptor, backend: BackendConnection)]
  let maxMessageBytes: Int
  let callerHeader: SignedCallerHeader

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    for route in routes {
      let backend = route.backend
      let method = route.method
      let maxBytes = maxMessageBytes
      let callerHeader = callerHeader
      router.registerHandler(
        forMethod: method, deserializer: LimitedDeserializer(RawMessageDeserializer()), serializer: RawMessageSerializer()
      ) { request, _ in
        Self.forward(request, method: method, to: backend, maxMessageBytes: maxBytes, callerHeader: callerHeader)
      }
    }
  }

  static func forward(
    _ request: StreamingServerRequest<[UInt8]>, method: MethodDescriptor, to backend: BackendConnection, maxMessageBytes: Int,
    callerHeader: SignedCallerHeader
  ) -> StreamingServerResponse<[UInt8]> {
    let context = RequestContext.current
    var metadata = forwardable(request.metadata)
    if let context { metadata = context.outgoingMetadata(metadata) }
    if let caller = context?.caller {
      metadata.addString(callerHeader.sign(caller, method: method.fullyQualifiedMethod), forKey: SignedCallerHeader.metadataKey)
    }
    var options = context?.callOptions() ?? .defaults
    // Fail fast with UNAVAILABLE while a backend is down instead of queueing until the deadline.
    options.waitForReady = false
    options.maxRequestMessageBytes = maxMessageBytes
    options.maxResponseMessageBytes = maxMessageBytes
    let callOptions = options
    // An error reading the caller's messages (an oversize message, say) is the caller's
    // problem, not the backend's: remember it and report it as is.
    let inboundError = ErrorBox()
    let outgoing = StreamingClientRequest<[UInt8]>(metadata: metadata) { writer in
      do {
        for try await message in request.messages {
          try await writer.write(message)
        }
      } catch {
        inboundError.set(error)
        throw error
      }
    }
    return StreamingServerResponse { writer in
      do {
        return try await backend.client.bidirectionalStreaming(
          request: outgoing, descriptor: method,
          serializer: RawMessageSerializer(), deserializer: RawMessageDeserializer(), options: callOptions
        ) { response in
          let contents = try response.accepted.get()
          var trailers: Metadata = [:]
          for try await part in contents.bodyParts {
            switch part {
            case .message(let message): try await writer.write(message)
            case .trailingMetadata(let metadata): trailers = metadata
            }
          }
          return forwardable(trailers)
        }
      } catch let error as RPCError {
        if let inbound = inboundError.value { throw inbound }
        var error = error
        // A backend's own status carries its request id; one without came from the connection
        // to the backend, whose text names internal addresses: log it, tell the caller less.
        let fromBackend = error.metadata.contains { $0.key == RequestContext.requestIDKey }
        error.metadata = forwardable(error.metadata)
        if !fromBackend && error.code == .unavailable {
          context?.logger.warning("backend unreachable", metadata: ["backend": "\(backend.name)", "address": "\(backend.address)", "error": "\(error.message)"])
          error.message = "the \(backend.name) service is unavailable, retry later"
        }
        throw error
      }
    }
  }

  /// Metadata the gateway passes on: everything but HTTP/2 pseudo-headers and the transport's
  /// own headers, which each hop sets for itself (grpc-timeout is re-derived from the deadline).
  static func forwardable(_ metadata: Metadata) -> Metadata {
    var result = Metadata()
    for (key, value) in metadata {
      if key.hasPrefix(":") || hopHeaders.contains(key) { continue }
      switch value {
      case .string(let text): result.addString(text, forKey: key)
      case .binary(let bytes): result.addBinary(bytes, forKey: key)
      }
    }
    return result
  }

  static let hopHeaders: Set<String> = [
    "content-type", "te", "user-agent", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
    "grpc-status", "grpc-message", "content-length", "host", "connection", "x-request-id",
    // Credentials end at the gateway; a caller cannot forge the signed identity either.
    "authorization", "x-api-key", SignedCallerHeader.metadataKey,
  ]
}

/// Holds the first error seen by one side of a forwarded call.
final class ErrorBox: Sendable {
  private let error = Mutex<(any Error)?>(nil)

  func set(_ newValue: any Error) {
    error.withLock { if $0 == nil { $0 = newValue } }
  }

  var value: (any Error)? { error.withLock { $0 } }
}
