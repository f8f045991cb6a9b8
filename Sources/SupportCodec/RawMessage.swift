import GRPCCore

/// Serializer for messages forwarded as opaque bytes: the gateway moves protobuf payloads
/// between caller and backend without decoding and re-encoding them.
public struct RawMessageSerializer: MessageSerializer {
  public init() {}

  public func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
    Bytes(message)
  }
}

/// Deserializer counterpart of `RawMessageSerializer`.
public struct RawMessageDeserializer: MessageDeserializer {
  public init() {}

  public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
    serializedMessageBytes.withUnsafeBytes { Array($0) }
  }
}
