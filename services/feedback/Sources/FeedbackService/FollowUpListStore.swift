import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

/// ListFollowUps' SQL: the due list, keyset pages in due-time order.
extension FollowUpStore {
  struct ListFilter: Sendable {
    /// due_before_time in microseconds since 1970 (exclusive).
    var dueBefore: Int64?
    var agentID = ""
    var status: Support_Feedback_V1_FollowUpStatus = .unspecified
    var ticketID = ""
  }

  /// One page, due soonest first (due_at, follow_up_id ascending), each follow-up with its
  /// due_at in exact microseconds (the cursor key); `after` is the last (µs, id) of the
  /// previous page. Only the filters given become SQL, so each query can use its index.
  func list(_ filter: ListFilter, after: (micros: Int64, id: UUID)?, limit: Int, logger: Logger) async throws -> [(followUp: FollowUp, micros: Int64)] {
    var bindings = PostgresBindings()
    var conditions: [String] = []
    func bind<T: PostgresNonThrowingEncodable & Sendable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    func at(_ micros: Int64) -> String { "'epoch'::timestamptz + \(bind(micros)) * interval '1 microsecond'" }
    if let dueBefore = filter.dueBefore { conditions.append("due_at < \(at(dueBefore))") }
    if !filter.agentID.isEmpty { conditions.append("agent_id = \(bind(filter.agentID))") }
    if filter.status != .unspecified { conditions.append("status = \(bind(Int16(filter.status.rawValue)))") }
    if !filter.ticketID.isEmpty { conditions.append("ticket_id = \(bind(filter.ticketID))") }
    if let after { conditions.append("(due_at, follow_up_id) > (\(at(after.micros)), \(bind(after.id)))") }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    let sql = """
      SELECT body, (extract(epoch FROM due_at) * 1000000)::int8 FROM follow_ups \(whereClause)
      ORDER BY due_at, follow_up_id LIMIT \(bind(Int64(limit)))
      """
    let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
    return try await database.withConnection(logger: logger) { connection in
      var followUps: [(followUp: FollowUp, micros: Int64)] = []
      for try await (body, micros) in try await connection.query(query, logger: logger).decode((ByteBuffer, Int64).self) {
        followUps.append((try FollowUp(bytea: body), micros))
      }
      return followUps
    }
  }
}
