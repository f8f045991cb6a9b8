import Foundation
import ServiceKit

/// Keyset cursors for lists ordered by text columns (canned responses by title, FAQ entries by
/// category and question), then id. PageCursor's `key` is an integer, so the text sort keys
/// travel JSON-encoded in its `id` after the row id; the token stays opaque and bound to the
/// filters like every PageCursor.
enum TextKeyCursor {
  static func token(keys: [String], id: String, filter: String) -> String {
    let payload = (try? JSONEncoder().encode([id] + keys)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    return PageCursor(key: 0, id: payload, filter: filter).token
  }

  /// The (keys, id) of the last row of the previous page; nil for the first page. A token
  /// that does not decode to `keyCount` keys and a UUID is INVALID_ARGUMENT.
  static func decode(_ token: String, filter: String, keyCount: Int) throws -> (keys: [String], id: UUID)? {
    guard let cursor = try PageCursor.decode(token, filter: filter) else { return nil }
    guard let values = try? JSONDecoder().decode([String].self, from: Data(cursor.id.utf8)),
      values.count == keyCount + 1, let id = UUID(uuidString: values[0])
    else { throw ServiceError.invalidArgument("page_token", "is not a token this service issued") }
    return (Array(values.dropFirst()), id)
  }
}
