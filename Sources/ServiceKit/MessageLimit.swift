import GRPCCore
import Synchronization

/// The largest request message a process accepts (SUPPORTMESH_MAX_MESSAGE_BYTES).
///
/// The HTTP/2 transport would answer a message over its own limit by resetting the stream,
/// which callers see as UNAVAILABLE; so the transport's hard cap is set higher and this limit
/// is enforced while deserializing, where it becomes a clear RESOURCE_EXHAUSTED.
public enum MessageLimit {
  private static let bytes = Atomic<Int>(4 * 1024 * 1024)

  public static var maxRequestBytes: Int { bytes.load(ordering: .relaxed) }

  public static func set(_ value: Int) {
    bytes.store(value, ordering: .relaxed)
  }

  /// The transport's hard cap: messages between the limit and the cap still get a
  /// RESOURCE_EXHAUSTED status; beyond it the stream is reset.
  public static func transportCap(for limit: Int) -> Int { limit * 4 }
}

/// Refuses messages over `MessageLimit.maxRequestBytes` before `base` decodes them.
public struct LimitedDeserializer<Base: MessageDeserializer>: MessageDeserializer {
  let base: Base

  public init(_ base: Base) {
    self.base = base
  }

  public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Base.Message {
    let limit = MessageLimit.maxRequestBytes
    if serializedMessageBytes.count > limit {
      throw RPCError(code: .resourceExhausted, message: "request message is \(serializedMessageBytes.count) bytes; the limit is \(limit)")
    }
    return try base.deserialize(serializedMessageBytes)
  }
}
