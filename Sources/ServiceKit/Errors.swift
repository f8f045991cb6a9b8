import GRPCCore
import GRPCProtobuf
import Logging
import PostgresNIO

extension RPCError.Code {
  /// The name gRPC gives the code on the wire and in every language's docs, e.g. NOT_FOUND.
  public var canonicalName: String {
    switch self {
    case .cancelled: "CANCELLED"
    case .unknown: "UNKNOWN"
    case .invalidArgument: "INVALID_ARGUMENT"
    case .deadlineExceeded: "DEADLINE_EXCEEDED"
    case .notFound: "NOT_FOUND"
    case .alreadyExists: "ALREADY_EXISTS"
    case .permissionDenied: "PERMISSION_DENIED"
    case .resourceExhausted: "RESOURCE_EXHAUSTED"
    case .failedPrecondition: "FAILED_PRECONDITION"
    case .aborted: "ABORTED"
    case .outOfRange: "OUT_OF_RANGE"
    case .unimplemented: "UNIMPLEMENTED"
    case .internalError: "INTERNAL"
    case .unavailable: "UNAVAILABLE"
    case .dataLoss: "DATA_LOSS"
    case .unauthenticated: "UNAUTHENTICATED"
    default: "UNKNOWN"
    }
  }
}

/// The errors handlers throw. Each carries a message a caller can act on, and machine-readable
/// details in `grpc-status-details-bin` (a google.rpc.Status) for clients that read rich errors:
/// - INVALID_ARGUMENT: google.rpc.BadRequest with one field violation naming the field;
/// - FAILED_PRECONDITION: google.rpc.ErrorInfo (`reason` an UPPER_SNAKE_CASE code documented in
///   the method's proto comment, `domain` the proto package of the service, `metadata` the facts
///   behind it) and google.rpc.PreconditionFailure (one violation per failed check, `type` the
///   reason code, `subject` what failed, e.g. "items[0]").
public enum ServiceError {
  public static func invalidArgument(_ field: String, _ reason: String) -> GoogleRPCStatus {
    GoogleRPCStatus(
      code: .invalidArgument, message: "\(field): \(reason)",
      details: [.badRequest(violations: [.init(field: field, description: reason)])]
    )
  }

  /// One failed check of a FAILED_PRECONDITION: its reason code, what it is about and why.
  public struct Violation: Sendable, Hashable {
    public var reason: String
    public var subject: String
    public var description: String

    public init(reason: String, subject: String, description: String) {
      self.reason = reason
      self.subject = subject
      self.description = description
    }
  }

  /// FAILED_PRECONDITION that names its rule: ErrorInfo carries `reason` (UPPER_SNAKE_CASE),
  /// `domain` and `metadata`; PreconditionFailure lists `violations` (by default one, the reason
  /// itself, its subject the resources the metadata names: "shipment_id=…", comma-separated,
  /// empty when it names none). Clients switch on ErrorInfo.reason, never on the message.
  public static func failedPrecondition(
    reason: String, domain: String, _ message: String,
    metadata: [String: String] = [:], violations: [Violation] = []
  ) -> GoogleRPCStatus {
    let subject = metadata.filter { $0.key.hasSuffix("_id") }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    let failed = violations.isEmpty ? [Violation(reason: reason, subject: subject, description: message)] : violations
    return GoogleRPCStatus(
      code: .failedPrecondition, message: message,
      details: [
        .errorInfo(reason: reason, domain: domain, metadata: metadata),
        .preconditionFailure(violations: failed.map { .init(type: $0.reason, subject: $0.subject, description: $0.description) }),
      ]
    )
  }

  public static func notFound(_ what: String, _ id: String) -> RPCError {
    RPCError(code: .notFound, message: "\(what) \"\(id)\" not found")
  }

  public static func alreadyExists(_ message: String) -> RPCError {
    RPCError(code: .alreadyExists, message: message)
  }

  /// ALREADY_EXISTS that says which conflict it is: google.rpc.ErrorInfo with `reason`,
  /// `domain` and `metadata` (e.g. the id of the resource that is in the way).
  public static func alreadyExists(
    reason: String, domain: String, _ message: String, metadata: [String: String] = [:]
  ) -> GoogleRPCStatus {
    GoogleRPCStatus(
      code: .alreadyExists, message: message,
      details: [.errorInfo(reason: reason, domain: domain, metadata: metadata)]
    )
  }

  /// A stale `expected_version`: the caller should re-read and retry.
  public static func versionMismatch(_ what: String, expected: Int64, actual: Int64) -> RPCError {
    RPCError(code: .aborted, message: "\(what) is at version \(actual), not \(expected): re-read it and retry")
  }
}

/// Turns whatever a handler throws into a deliberate gRPC status, so callers never see UNKNOWN
/// and never see internals: database and other unexpected errors are logged with the request id
/// and reported as INTERNAL or UNAVAILABLE with that id to quote.
public struct ErrorMappingInterceptor: ServerInterceptor {
  public init() {}

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    var response: StreamingServerResponse<Output>
    do {
      response = try await next(request, context)
    } catch {
      throw Self.tagged(Self.map(error))
    }
    if case .success(var contents) = response.accepted {
      let producer = contents.producer
      contents.producer = { writer in
        do { return try await producer(writer) } catch { throw Self.tagged(Self.map(error)) }
      }
      response.accepted = .success(contents)
    }
    return response
  }

  /// Every error status carries the request id in its trailers, so a caller can quote it and
  /// the gateway can tell a backend's own status from a failed connection to it.
  static func tagged(_ error: any Error) -> any Error {
    guard let requestID = RequestContext.current?.requestID else { return error }
    var rpcError: RPCError
    switch error {
    case let error as RPCError: rpcError = error
    case let convertible as any RPCErrorConvertible: rpcError = RPCError(convertible)
    default: return error
    }
    if !rpcError.metadata.contains(where: { $0.key == RequestContext.requestIDKey }) {
      rpcError.metadata.addString(requestID, forKey: RequestContext.requestIDKey)
    }
    return rpcError
  }

  public static func map(_ error: any Error) -> any Error {
    let context = RequestContext.current
    let reference = context.map { " (request id \($0.requestID))" } ?? ""
    let deadlinePassed = context?.deadline.map { $0 <= .now } ?? false
    // Whether the caller is gone: this call's task was cancelled, its deadline passed, or what
    // failed was cancelled (a forwarded call's client reports that as UNKNOWN, caused by a
    // CancellationError, sometimes before this task learns of it).
    let callerGone = Task.isCancelled || deadlinePassed || (error as? RPCError)?.cause is CancellationError
    // Statuses that, once the caller is gone, only describe how the work was interrupted.
    let interrupted: Bool
    if let rpc = error as? RPCError {
      interrupted = [.unknown, .internalError, .cancelled, .unavailable, .deadlineExceeded].contains(rpc.code)
    } else {
      interrupted = !(error is any RPCErrorConvertible)
    }
    switch error {
    case let rpc as RPCError where rpc.code == .unavailable && ServerDrain.isDraining:
      // A watch stream the drain ended says so (reconnect and resume): the drain, not the
      // caller, cancelled its task.
      return rpc
    case _ where callerGone && interrupted:
      // The caller gave up (or its deadline passed) and the work stopped wherever it was: a
      // pending pool lease, a query, a forwarded call. That is the caller's outcome, not a
      // server fault.
      return deadlinePassed
        ? RPCError(code: .deadlineExceeded, message: "the deadline passed before the call finished")
        : RPCError(code: .cancelled, message: "the call was cancelled")
    case is RPCError, is any RPCErrorConvertible:
      return error
    case is CancellationError:
      return RPCError(code: .cancelled, message: "the call was cancelled")
    case let psql as PSQLError:
      let sqlState = psql.serverInfo?[.sqlState]
      context?.logger.error("database error", metadata: ["sqlstate": "\(sqlState ?? "-")", "error": "\(String(reflecting: psql))"])
      switch sqlState {
      case "23505": return RPCError(code: .alreadyExists, message: "a resource with the same unique key already exists")
      case "40001", "40P01": return RPCError(code: .aborted, message: "concurrent update, retry the call\(reference)")
      case "57014":
        return deadlinePassed
          ? RPCError(code: .deadlineExceeded, message: "the deadline passed before the call finished")
          : RPCError(code: .unavailable, message: "the database took too long, retry later\(reference)")
      case "55P03": return RPCError(code: .aborted, message: "the resource is busy with another call, retry\(reference)")
      case "53300", "57P01", "57P02", "57P03", "08000", "08003", "08006":
        return RPCError(code: .unavailable, message: "the database is unavailable, retry later\(reference)")
      case nil:
        return RPCError(code: .unavailable, message: "the database is unavailable, retry later\(reference)")
      default:
        return RPCError(code: .internalError, message: "internal error\(reference)")
      }
    default:
      context?.logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))"])
      return RPCError(code: .internalError, message: "internal error\(reference)")
    }
  }
}
