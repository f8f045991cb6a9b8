import Logging
import NIOCore
import PostgresNIO
import SwiftProtobuf

/// Services store each resource as its protobuf message in a `bytea` column beside the columns
/// their queries filter and sort on.
extension SwiftProtobuf.Message {
  /// Decodes a message read from a `bytea` column.
  public init(bytea: ByteBuffer) throws {
    try self.init(serializedBytes: Array(bytea.readableBytesView))
  }

  /// Encodes the message for a `bytea` column.
  public func bytea() throws -> ByteBuffer {
    ByteBuffer(bytes: try serializedBytes() as [UInt8])
  }
}

/// Idempotent creates: a retried create with the same request id returns the first result; the
/// same request id with other content is ALREADY_EXISTS (it is a client bug, not a retry).
public enum Idempotency {
  /// Serialises the creates that share a request id until the transaction ends, so a retry
  /// racing its original waits for it and then finds its result (instead of tripping over a
  /// uniqueness check the original's row now fails).
  public static func lock(requestID: String, scope: String, on connection: PostgresConnection, logger: Logger) async throws {
    let key = "\(scope).request:\(requestID)"
    try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(key)))", logger: logger)
  }

  /// `query` selects `(request_fingerprint, body)` of the resource first created with the
  /// request id. Returns that resource when `fingerprint` matches, nil when the request id is
  /// new; throws ALREADY_EXISTS naming the resource (`describe`) when the content differs.
  public static func firstResult<M: SwiftProtobuf.Message>(
    of type: M.Type, _ query: PostgresQuery, fingerprint: String,
    describe: (M) -> String, on connection: PostgresConnection, logger: Logger
  ) async throws -> M? {
    for try await (storedFingerprint, body) in try await connection.query(query, logger: logger).decode((String, ByteBuffer).self) {
      let existing = try M(bytea: body)
      guard storedFingerprint == fingerprint else {
        throw ServiceError.alreadyExists("request_id was already used for \(describe(existing)) with different content")
      }
      return existing
    }
    return nil
  }
}
