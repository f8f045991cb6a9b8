import Foundation
import SupportCodec
import SwiftProtobuf

/// Input checks shared by every handler. Each failure is INVALID_ARGUMENT naming the field and
/// the reason, thrown before anything is written.
public enum Validate {
  /// Longest id, request id or other short identifier accepted anywhere.
  public static let maxIDLength = 128

  /// A client-chosen idempotency key: required, at most 128 characters.
  public static func requestID(_ value: String, field: String = "request_id") throws {
    try required(value, field, maxLength: maxIDLength)
  }

  public static func required(_ value: String, _ field: String, maxLength: Int = maxIDLength) throws {
    // Fast path (every call validates several fields): a visible ASCII first character is
    // not blank, without building a trimmed copy.
    let visibleFirst = value.utf8.first.map { $0 > 0x20 && $0 < 0x7F } ?? false
    if !visibleFirst && value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
      throw ServiceError.invalidArgument(field, "is required")
    }
    try self.maxLength(value, field, maxLength)
  }

  public static func maxLength(_ value: String, _ field: String, _ maxLength: Int) throws {
    // Characters never outnumber UTF-8 bytes: count them only when the bytes could be too many.
    if value.utf8.count > maxLength && value.count > maxLength {
      throw ServiceError.invalidArgument(field, "is longer than \(maxLength) characters")
    }
  }

  /// The fields an update_mask names: at least one, each in `updatable`.
  public static func updateMask(_ paths: [String], updatable: Set<String>) throws -> Set<String> {
    let paths = Set(paths)
    if paths.isEmpty { throw ServiceError.invalidArgument("update_mask", "name at least one field") }
    if let path = paths.subtracting(updatable).sorted().first {
      throw ServiceError.invalidArgument("update_mask", "\(path) cannot be updated (updatable: \(updatable.sorted().joined(separator: ", ")))")
    }
    return paths
  }

  public static func maxCount<C: Collection>(_ values: C, _ field: String, _ maxCount: Int) throws {
    if values.count > maxCount {
      throw ServiceError.invalidArgument(field, "has \(values.count) entries; at most \(maxCount) are accepted")
    }
  }

  /// A set enum value: not UNSPECIFIED and not a number this version does not know.
  public static func specified<E: SwiftProtobuf.Enum>(_ value: E, _ field: String) throws {
    if value.rawValue == 0 { throw ServiceError.invalidArgument(field, "must be set (it is UNSPECIFIED)") }
    if E(rawValue: value.rawValue) == nil || "\(value)".hasPrefix("UNRECOGNIZED") {
      throw ServiceError.invalidArgument(field, "has unknown value \(value.rawValue)")
    }
  }

  /// An enum value that may be UNSPECIFIED but must be known.
  public static func known<E: SwiftProtobuf.Enum>(_ value: E, _ field: String) throws {
    if value.rawValue != 0 { try specified(value, field) }
  }

  /// Money: a three-letter upper-case ISO 4217 code; `allowNegative` for adjustments.
  public static func money(_ money: Support_Common_V1_Money, _ field: String, allowNegative: Bool = false) throws {
    let code = money.currencyCode
    if code.count != 3 || !code.allSatisfy({ $0.isASCII && $0.isUppercase }) {
      throw ServiceError.invalidArgument("\(field).currency_code", "must be a three-letter ISO 4217 code such as CNY")
    }
    if !allowNegative && money.amountMinor < 0 {
      throw ServiceError.invalidArgument("\(field).amount_minor", "must not be negative")
    }
  }

  public static func attachment(_ attachment: Support_Common_V1_Attachment, _ field: String) throws {
    try required(attachment.uri, "\(field).uri", maxLength: 2048)
    try known(attachment.kind, "\(field).kind")
    try maxLength(attachment.mediaType, "\(field).media_type", 255)
    if attachment.sizeBytes < 0 { throw ServiceError.invalidArgument("\(field).size_bytes", "must not be negative") }
  }

  /// Seconds of 0001-01-01 and 9999-12-31T23:59:59Z: the range protobuf Timestamps (and
  /// PostgreSQL) can represent.
  public static let timestampSeconds: ClosedRange<Int64> = -62_135_596_800...253_402_300_799

  /// A well-formed Timestamp: binary protobuf does not range-check them, and an absurd one would
  /// otherwise overflow date arithmetic.
  public static func timestamp(_ value: Google_Protobuf_Timestamp, _ field: String) throws {
    if !timestampSeconds.contains(value.seconds) || !(0..<1_000_000_000).contains(value.nanos) {
      throw ServiceError.invalidArgument(field, "is not a valid time (years 0001 to 9999)")
    }
  }

  /// A server-issued id. Returns nil when the text cannot be an id this service issued, which
  /// callers report as NOT_FOUND (the resource cannot exist) without asking the database.
  public static func resourceID(_ value: String, _ field: String) throws -> UUID? {
    try required(value, field)
    return UUID(uuidString: value)
  }
}

/// A stable fingerprint of a request, to tell a true retry (same request id, same content) from
/// a reused request id with different content.
public enum Fingerprint {
  public static func of(_ message: some SwiftProtobuf.Message) throws -> String {
    var options = BinaryEncodingOptions()
    options.useDeterministicOrdering = true
    let bytes: [UInt8] = try message.serializedBytes(options: options)
    return fnv1a(bytes)
  }

  public static func fnv1a<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01b3
    }
    return String(hash, radix: 16)
  }
}

extension Date {
  /// The protobuf Timestamp for this instant.
  public var timestamp: Google_Protobuf_Timestamp { Google_Protobuf_Timestamp(date: self) }
}

extension Google_Protobuf_Timestamp {
  /// Microsecond precision, like PostgreSQL's timestamptz, so that a value read back equals the
  /// value written.
  public var microsecondDate: Date {
    Date(timeIntervalSince1970: Double(seconds) + Double(nanos / 1000) / 1_000_000)
  }

  /// Microseconds since 1970, exact: the integer form used for keyset cursors and for writing
  /// timestamptz columns without a round trip through floating point. Clamped to the valid range.
  public var unixMicroseconds: Int64 {
    let clamped = min(max(seconds, Validate.timestampSeconds.lowerBound), Validate.timestampSeconds.upperBound)
    return clamped * 1_000_000 + Int64(nanos / 1000)
  }
}

extension Date {
  /// Now, truncated to whole microseconds: what PostgreSQL stores, so a resource returned from
  /// a create equals the same resource read back later.
  public static var nowMicroseconds: Date {
    let micros = (Date().timeIntervalSince1970 * 1_000_000).rounded(.down)
    return Date(timeIntervalSince1970: micros / 1_000_000)
  }
}
