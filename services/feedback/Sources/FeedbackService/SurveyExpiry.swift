import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import SupportCodec

/// Recording expiry: a PENDING survey past its expire_time becomes EXPIRED (version + 1) and
/// SurveyExpiredEvent is announced, in one transaction. Reads already report EXPIRED from the
/// expiry time alone; this makes the row and the event log agree.
enum SurveyExpiry {
  /// Expires, in the caller's transaction, the PENDING surveys past `now` (only `subject`'s when
  /// given), at most `limit`, oldest expiry first; returns how many. The sweep (no subject)
  /// skips rows another transaction holds, so sweepers on several instances share the work; a
  /// create for one subject waits for them instead (it must know the row's status before it
  /// can insert the subject's new pending survey).
  static func expire(
    subject: Support_Common_V1_SubjectRef?, now: Date, limit: Int, outbox: EventOutbox, on connection: PostgresConnection, logger: Logger
  ) async throws -> Int {
    let due: PostgresQuery
    if let subject {
      due = """
        SELECT body FROM surveys
        WHERE subject_kind = \(Int16(subject.kind.rawValue)) AND subject_id = \(subject.id)
          AND status = \(SurveyStore.pending) AND expires_at <= \(now)
        ORDER BY expires_at LIMIT \(Int64(limit)) FOR UPDATE
        """
    } else {
      due = """
        SELECT body FROM surveys WHERE status = \(SurveyStore.pending) AND expires_at <= \(now)
        ORDER BY expires_at LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED
        """
    }
    var expired: [Survey] = []
    for try await body in try await connection.query(due, logger: logger).decode(ByteBuffer.self) {
      var survey = try Survey(bytea: body).withoutToken()
      survey.status = .expired
      survey.version += 1
      survey.updateTime = now.timestamp
      expired.append(survey)
    }
    if expired.isEmpty { return 0 }
    // One statement for the whole batch.
    let ids = expired.map { UUID(uuidString: $0.surveyID)! }
    let versions = expired.map { $0.version }
    let bodies = try expired.map { try $0.bytea() }
    try await connection.query(
      """
      UPDATE surveys s SET status = \(SurveyStore.expired), version = u.version, body = u.body
      FROM unnest(\(ids)::uuid[], \(versions)::int8[], \(bodies)::bytea[]) AS u(survey_id, version, body)
      WHERE s.survey_id = u.survey_id
      """, logger: logger)
    for survey in expired {
      let eventID = UUID()
      try await outbox.append(
        FeedbackEvents.surveyExpired(survey, eventID: eventID), subject: survey.surveyID, eventID: eventID, occurredAt: now,
        on: connection, logger: logger)
    }
    return expired.count
  }
}

/// The periodic expiry sweep, for the life of the process (SUPPORTMESH_FEEDBACK_SURVEY_SWEEP_SECONDS).
struct SurveyExpirySweeper: Service {
  let database: Database
  let outbox: EventOutbox
  let interval: Duration
  let logger: Logger
  /// Surveys per transaction, so a large backlog never holds many row locks at once.
  static let batchSize = 200

  func run() async throws {
    // The schema is migrated while the server starts: the first sweep comes one interval in.
    await PeriodicWork.run("survey expiry sweep", every: interval, firstAfter: interval, logger: logger) { _ = try await sweep() }
  }

  /// Expires every due survey, batch by batch; returns how many.
  func sweep() async throws -> Int {
    var total = 0
    while !Task.isCancelled {
      let count = try await database.withTransaction(logger: logger) { connection in
        try await SurveyExpiry.expire(subject: nil, now: Date.nowMicroseconds, limit: Self.batchSize, outbox: outbox, on: connection, logger: logger)
      }
      total += count
      if count < Self.batchSize { break }
    }
    if total > 0 { logger.info("surveys expired", metadata: ["count": "\(total)"]) }
    return total
  }
}
