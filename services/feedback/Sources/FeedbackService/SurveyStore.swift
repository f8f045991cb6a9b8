import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

typealias Survey = Support_Feedback_V1_Survey

/// All SQL of the feedback service's surveys.
struct SurveyStore: Sendable {
  let database: Database

  static let pending = Int16(Support_Feedback_V1_SurveyStatus.pending.rawValue)
  static let expired = Int16(Support_Feedback_V1_SurveyStatus.expired.rawValue)

  func create(_ survey: Survey, requestID: String, fingerprint: String, now: Date, logger: Logger) async throws -> Survey {
    try await database.withTransaction(logger: logger) { connection in
      try await Self.insert(survey, requestID: requestID, fingerprint: fingerprint, now: now, on: connection, logger: logger)
    }
  }

  /// Inserts a survey in the caller's transaction (CreateSurvey's, or an event consumer's), or
  /// returns the survey first created with the same request id. ALREADY_EXISTS when the
  /// subject has a pending survey already.
  static func insert(_ survey: Survey, requestID: String, fingerprint: String, now: Date, on connection: PostgresConnection, logger: Logger) async throws -> Survey {
    try await Idempotency.lock(requestID: requestID, scope: "feedback", on: connection, logger: logger)
    if let existing = try await Idempotency.firstResult(
      of: Survey.self, "SELECT request_fingerprint, body FROM surveys WHERE request_id = \(requestID)",
      fingerprint: fingerprint, describe: { "survey \($0.surveyID)" }, on: connection, logger: logger
    ) {
      return existing
    }
    let kind = Int16(survey.subject.kind.rawValue)
    // A pending survey past its expiry no longer blocks a new one: mark its row expired
    // (its body stays as created; reads derive EXPIRED from the expiry time).
    try await connection.query(
      """
      UPDATE surveys SET status = \(Self.expired)
      WHERE subject_kind = \(kind) AND subject_id = \(survey.subject.id) AND status = \(Self.pending) AND expires_at <= \(now)
      """, logger: logger)
    if let other = try await pendingSurvey(for: survey.subject, on: connection, logger: logger) {
      throw ServiceError.alreadyExists("the subject already has pending survey \(other)")
    }
    try await connection.query(
      """
      INSERT INTO surveys (survey_id, request_id, request_fingerprint, subject_kind, subject_id, shopper_id, agent_id,
        token, status, created_at, expires_at, version, body)
      VALUES (\(UUID(uuidString: survey.surveyID)!), \(requestID), \(fingerprint), \(kind), \(survey.subject.id),
        \(survey.shopperID), \(survey.agentID), \(survey.token), \(Int16(survey.status.rawValue)),
        \(survey.createTime.date), \(survey.expireTime.date), \(survey.version), \(try survey.bytea()))
      """, logger: logger)
    return survey
  }

  /// The subject's pending survey (not answered, not expired), if any.
  static func pendingSurvey(for subject: Support_Common_V1_SubjectRef, on connection: PostgresConnection, logger: Logger) async throws -> String? {
    let kind = Int16(subject.kind.rawValue)
    for try await other in try await connection.query(
      "SELECT survey_id::text FROM surveys WHERE subject_kind = \(kind) AND subject_id = \(subject.id) AND status = \(Self.pending) AND expires_at > now()",
      logger: logger
    ).decode(String.self) {
      return other
    }
    return nil
  }

  func get(_ id: UUID, logger: Logger) async throws -> Survey? {
    try await database.withConnection(logger: logger) { connection in
      for try await body in try await connection.query("SELECT body FROM surveys WHERE survey_id = \(id)", logger: logger).decode(ByteBuffer.self) {
        return try Survey(bytea: body)
      }
      return nil
    }
  }

  func get(token: String, logger: Logger) async throws -> Survey? {
    try await database.withConnection(logger: logger) { connection in
      for try await body in try await connection.query("SELECT body FROM surveys WHERE token = \(token)", logger: logger).decode(ByteBuffer.self) {
        return try Survey(bytea: body)
      }
      return nil
    }
  }

  /// Locks the survey with `token`, lets `decide` produce the answered survey (or refuse), and
  /// stores it. Exactly one answer wins however many arrive at once.
  func answer(token: String, logger: Logger, decide: @Sendable (Survey) throws -> Survey) async throws -> Survey {
    try await database.withTransaction(logger: logger) { connection in
      var current: Survey?
      for try await body in try await connection.query(
        "SELECT body FROM surveys WHERE token = \(token) FOR UPDATE", logger: logger
      ).decode(ByteBuffer.self) {
        current = try Survey(bytea: body)
      }
      guard let current else { throw RPCError(code: .notFound, message: "no survey has this token") }
      let answered = try decide(current)
      try await connection.query(
        """
        UPDATE surveys SET status = \(Int16(answered.status.rawValue)),
          csat = \(answered.answer.hasCsat ? Int16(answered.answer.csat) : nil),
          nps = \(answered.answer.hasNps ? Int16(answered.answer.nps) : nil),
          answered_at = \(answered.answer.answerTime.date), version = \(answered.version), body = \(try answered.bytea())
        WHERE token = \(token)
        """, logger: logger)
      return answered
    }
  }
}
