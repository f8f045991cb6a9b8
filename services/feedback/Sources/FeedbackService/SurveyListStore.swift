import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

/// ListSurveys' SQL: keyset pages, newest first.
extension SurveyStore {
  struct ListFilter: Sendable {
    var subject: Support_Common_V1_SubjectRef?
    var agentID = ""
    /// Set for shopper callers: they list only their own surveys.
    var shopperID = ""
    var status: Support_Feedback_V1_SurveyStatus = .unspecified
    /// create_time_range in microseconds since 1970: [from, to).
    var createdFrom: Int64?
    var createdTo: Int64?
  }

  /// One page, newest first (created_at, survey_id descending), each survey with its created_at
  /// in exact microseconds (the cursor key); `after` is the last (µs, id) of the previous page.
  /// Only the filters given become SQL, so each query can use the index for its filter. The
  /// status filter matches what reads report: a PENDING row past its expiry is EXPIRED.
  func list(_ filter: ListFilter, after: (micros: Int64, id: UUID)?, limit: Int, now: Date, logger: Logger) async throws -> [(survey: Survey, micros: Int64)] {
    var bindings = PostgresBindings()
    var conditions: [String] = []
    func bind<T: PostgresNonThrowingEncodable & Sendable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    func at(_ micros: Int64) -> String { "'epoch'::timestamptz + \(bind(micros)) * interval '1 microsecond'" }
    if let subject = filter.subject {
      conditions.append("subject_kind = \(bind(Int16(subject.kind.rawValue))) AND subject_id = \(bind(subject.id))")
    }
    if !filter.agentID.isEmpty { conditions.append("agent_id = \(bind(filter.agentID))") }
    if !filter.shopperID.isEmpty { conditions.append("shopper_id = \(bind(filter.shopperID))") }
    switch filter.status {
    case .pending: conditions.append("status = \(bind(Self.pending)) AND expires_at > \(bind(now))")
    case .answered: conditions.append("status = \(bind(Self.answered))")
    case .expired:
      conditions.append("(status = \(bind(Self.expired)) OR (status = \(bind(Self.pending)) AND expires_at <= \(bind(now))))")
    case .unspecified, .UNRECOGNIZED: break
    }
    if let from = filter.createdFrom { conditions.append("created_at >= \(at(from))") }
    if let to = filter.createdTo { conditions.append("created_at < \(at(to))") }
    if let after { conditions.append("(created_at, survey_id) < (\(at(after.micros)), \(bind(after.id)))") }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    let sql = """
      SELECT body, (extract(epoch FROM created_at) * 1000000)::int8 FROM surveys \(whereClause)
      ORDER BY created_at DESC, survey_id DESC LIMIT \(bind(Int64(limit)))
      """
    let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
    return try await database.withConnection(logger: logger) { connection in
      var surveys: [(survey: Survey, micros: Int64)] = []
      for try await (body, micros) in try await connection.query(query, logger: logger).decode((ByteBuffer, Int64).self) {
        surveys.append((try Survey(bytea: body).withoutToken().withLiveStatus(at: now), micros))
      }
      return surveys
    }
  }
}
