import Foundation
import GRPCCore
import SwiftProtobuf

/// Decodes a request message and refuses what PostgreSQL and every later reader would choke
/// on, for every handler at once: a message that is not valid protobuf (invalid UTF-8 in a
/// string field among others), and a NUL character in any string field, anywhere in the
/// message. Both are INVALID_ARGUMENT naming the message or the field, never a type of ours.
public struct CheckedProtobufDeserializer<Message: SwiftProtobuf.Message>: MessageDeserializer {
  public init() {}

  public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Message {
    let message: Message
    do {
      message = try serializedMessageBytes.withUnsafeBytes { try Message(serializedBytes: Array($0)) }
    } catch {
      let reason: String
      switch error as? BinaryDecodingError {
      case .invalidUTF8: reason = "a string field holds invalid UTF-8"
      case .truncated: reason = "the message is truncated"
      default: reason = "it is not valid protobuf"
      }
      throw RPCError(ServiceError.invalidArgument(Message.protoMessageName, reason))
    }
    try StringHygiene.check(message)
    return message
  }
}

/// Finds NUL characters in a message's strings (text fields, repeated ones, map keys and
/// values, nested messages).
public enum StringHygiene {
  public static func check<M: SwiftProtobuf.Message>(_ message: M) throws {
    var visitor = NULFinder()
    visitor.messageType = M.self
    try message.traverse(visitor: &visitor)
    if let path = visitor.found {
      throw RPCError(ServiceError.invalidArgument(path.fieldName, "must not contain a NUL character"))
    }
  }

  /// Where a string with NUL sits: each step is (message type, field number, index).
  struct Path {
    var steps: [(type: any SwiftProtobuf.Message.Type, number: Int, index: Int?)]

    /// `items[2].sku`: names are looked up only here, on the error path, by decoding an empty
    /// occurrence of the field into its message type and reading the text format's field name.
    var fieldName: String {
      steps.map { step in
        let name = Self.name(of: step.number, in: step.type) ?? "field \(step.number)"
        return step.index.map { "\(name)[\($0)]" } ?? name
      }.joined(separator: ".")
    }

    static func name(of number: Int, in type: any SwiftProtobuf.Message.Type) -> String? {
      // Field `number` with wire type 2 (length-delimited): the string "x" for a text field,
      // else an empty message (an empty string would be the default, which text format omits).
      var tag = UInt64(number) << 3 | 2
      var field: [UInt8] = []
      while tag >= 0x80 { field.append(UInt8(tag & 0x7f) | 0x80); tag >>= 7 }
      field.append(UInt8(tag))
      let candidates = [field + [1, UInt8(ascii: "x")], field + [0]]
      guard let probe = candidates.lazy.compactMap({ try? type.init(serializedBytes: $0) })
        .first(where: { !$0.textFormatString().isEmpty })
      else { return nil }
      let text = probe.textFormatString()
      guard let end = text.firstIndex(where: { $0 == ":" || $0 == " " || $0 == "{" }), end > text.startIndex else { return nil }
      return String(text[..<end])
    }
  }

  struct NULFinder: SwiftProtobuf.Visitor {
    var found: Path?
    var current: [(type: any SwiftProtobuf.Message.Type, number: Int, index: Int?)] = []
    var messageType: (any SwiftProtobuf.Message.Type)?

    mutating func note(_ number: Int, index: Int? = nil, of type: any SwiftProtobuf.Message.Type) {
      if found == nil { found = Path(steps: current + [(type, number, index)]) }
    }

    static func hasNUL(_ text: String) -> Bool { text.utf8.contains(0) }

    mutating func visitSingularStringField(value: String, fieldNumber: Int) throws {
      if Self.hasNUL(value), let type = messageType { note(fieldNumber, of: type) }
    }

    mutating func visitRepeatedStringField(value: [String], fieldNumber: Int) throws {
      if let index = value.firstIndex(where: Self.hasNUL), let type = messageType { note(fieldNumber, index: index, of: type) }
    }

    mutating func visitSingularMessageField<M: SwiftProtobuf.Message>(value: M, fieldNumber: Int) throws {
      try descend(value, fieldNumber: fieldNumber, index: nil)
    }

    mutating func visitRepeatedMessageField<M: SwiftProtobuf.Message>(value: [M], fieldNumber: Int) throws {
      for (index, element) in value.enumerated() where found == nil {
        try descend(element, fieldNumber: fieldNumber, index: index)
      }
    }

    mutating func descend<M: SwiftProtobuf.Message>(_ value: M, fieldNumber: Int, index: Int?) throws {
      guard found == nil else { return }
      let saved = (current, messageType)
      if let type = messageType { current.append((type, fieldNumber, index)) }
      messageType = M.self
      try value.traverse(visitor: &self)
      (current, messageType) = saved
    }

    mutating func checkMap(_ keys: [Any], _ values: [Any], fieldNumber: Int) {
      let strings = keys.compactMap { $0 as? String } + values.compactMap { $0 as? String }
      if strings.contains(where: Self.hasNUL), let type = messageType { note(fieldNumber, of: type) }
    }

    mutating func visitMapField<KeyType, ValueType: MapValueType>(
      fieldType: _ProtobufMap<KeyType, ValueType>.Type, value: _ProtobufMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws {
      checkMap(Array(value.keys), Array(value.values), fieldNumber: fieldNumber)
    }

    mutating func visitMapField<KeyType, ValueType>(
      fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type, value: _ProtobufEnumMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws where ValueType.RawValue == Int {
      checkMap(Array(value.keys), [], fieldNumber: fieldNumber)
    }

    mutating func visitMapField<KeyType, ValueType>(
      fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type, value: _ProtobufMessageMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws {
      checkMap(Array(value.keys), [], fieldNumber: fieldNumber)
      for element in value.values where found == nil {
        try descend(element, fieldNumber: fieldNumber, index: nil)
      }
    }

    // Nothing else can hold text.
    mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws {}
    mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws {}
    mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws {}
    mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws {}
    mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws {}
    mutating func visitSingularEnumField<E: SwiftProtobuf.Enum>(value: E, fieldNumber: Int) throws {}
    mutating func visitSingularGroupField<G: SwiftProtobuf.Message>(value: G, fieldNumber: Int) throws {}
    mutating func visitExtensionFields(fields: ExtensionFieldValueSet, start: Int, end: Int) throws {}
    mutating func visitExtensionFieldsAsMessageSet(fields: ExtensionFieldValueSet, start: Int, end: Int) throws {}
    mutating func visitUnknown(bytes: Data) throws {}
  }
}
