import Foundation
import ServiceKit

extension PageCursor {
  /// Where the next page starts: the (time in µs, id) of the previous page's last row, or nil
  /// for the first page. INVALID_ARGUMENT (page_token) for a token this service did not issue
  /// or issued for other filters.
  static func keysetAfter(_ token: String, filter: String) throws -> (micros: Int64, id: UUID)? {
    let micros = Validate.timestampSeconds.lowerBound * 1_000_000...Validate.timestampSeconds.upperBound * 1_000_000
    guard let cursor = try PageCursor.decode(token, filter: filter, validKeys: micros) else { return nil }
    guard let id = UUID(uuidString: cursor.id) else {
      throw ServiceError.invalidArgument("page_token", "is not a token this service issued")
    }
    return (cursor.key, id)
  }
}
