import Foundation

/// Page sizes and opaque page tokens for cursor pagination.
///
/// A token encodes the sort key of the last row of the previous page (keyset pagination: each
/// page is an index range scan, however deep the caller pages), plus a fingerprint of the
/// request's filters so a token cannot be replayed against a different query.
public struct PageCursor: Codable, Sendable, Equatable {
  /// The sort key of the last row returned, e.g. a timestamp in microseconds.
  public var key: Int64
  /// Tie-breaker for rows with the same key, e.g. the id.
  public var id: String
  /// Fingerprint of the filters the token was issued for.
  public var filter: String

  public init(key: Int64, id: String, filter: String) {
    self.key = key
    self.id = id
    self.filter = filter
  }

  public static let defaultPageSize = 50
  public static let maxPageSize = 500

  /// The page size to use: 0 means the default (50); negative or above 500 is invalid.
  public static func pageSize(_ requested: Int32, field: String = "page_size") throws -> Int {
    if requested < 0 { throw ServiceError.invalidArgument(field, "must not be negative") }
    if requested > maxPageSize { throw ServiceError.invalidArgument(field, "must be at most \(maxPageSize)") }
    return requested == 0 ? defaultPageSize : Int(requested)
  }

  public var token: String {
    let data = (try? JSONEncoder().encode(self)) ?? Data()
    return data.base64EncodedString()
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }

  /// Decodes a token; nil for an empty one (the first page). `validKeys` bounds the key (a
  /// token is client input: a forged one must not reach the database as an absurd value).
  public static func decode(
    _ token: String, filter: String, validKeys: ClosedRange<Int64> = 0...Int64.max, field: String = "page_token"
  ) throws -> PageCursor? {
    if token.isEmpty { return nil }
    var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    guard token.count <= 1024, let data = Data(base64Encoded: base64),
      let cursor = try? JSONDecoder().decode(PageCursor.self, from: data)
    else { throw ServiceError.invalidArgument(field, "is not a token this service issued") }
    guard validKeys.contains(cursor.key) else {
      throw ServiceError.invalidArgument(field, "is not a token this service issued")
    }
    guard cursor.filter == filter else {
      throw ServiceError.invalidArgument(field, "was issued for different filters; start again without a token")
    }
    return cursor
  }
}
