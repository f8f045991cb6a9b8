import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

typealias Survey = Support_Feedback_V1_Survey

/// All SQL of the feedback service's surveys. Every change writes its event to the outbox in
/// the same transaction. Bodies are stored without the token: only its hash is kept.
struct SurveyStore: Sendable {
  let database: Database
  let outbox: EventOutbox

  static let pending = Int16(Support_Feedback_V1_SurveyStatus.pending.rawValue)
  static let answered = Int16(Support_Feedback_V1_SurveyStatus.answered.rawValue)
  static let expired = Int16(Support_Feedback_V1_SurveyStatus.expired.rawValue)

  /// A survey as stored, with the hash of its token (a retried create checks the re-derived
  /// token against it).
  struct Stored: Sendable {
    var survey: Survey
    var tokenHash: ByteBuffer
  }

  /// `refusal`, when set, refuses a new survey (a time check that depends on when the call
  /// runs) but not the retry of one created before, which returns its first result.
  func create(
    _ survey: Survey, tokenHash: ByteBuffer, requestID: String, fingerprint: String, now: Date, refusal: (any Error)? = nil, logger: Logger
  ) async throws -> Stored {
    try await database.withTransaction(logger: logger) { connection in
      try await Self.insert(
        survey, tokenHash: tokenHash, requestID: requestID, fingerprint: fingerprint, now: now, refusal: refusal, outbox: outbox,
        on: connection, logger: logger)
    }
  }

  /// Inserts a survey in the caller's transaction (CreateSurvey's, or an event consumer's) and
  /// announces it, or returns the survey first created with the same request id. ALREADY_EXISTS
  /// when the subject has a pending survey already.
  static func insert(
    _ survey: Survey, tokenHash: ByteBuffer, requestID: String, fingerprint: String, now: Date, refusal: (any Error)? = nil,
    outbox: EventOutbox, on connection: PostgresConnection, logger: Logger
  ) async throws -> Stored {
    try await Idempotency.lock(requestID: requestID, scope: "feedback", on: connection, logger: logger)
    for try await (storedFingerprint, body, hash) in try await connection.query(
      "SELECT request_fingerprint, body, token_hash FROM surveys WHERE request_id = \(requestID)", logger: logger
    ).decode((String, ByteBuffer, ByteBuffer).self) {
      let existing = try Survey(bytea: body)
      guard storedFingerprint == fingerprint else {
        throw ServiceError.alreadyExists("request_id was already used for survey \(existing.surveyID) with different content")
      }
      return Stored(survey: existing, tokenHash: hash)
    }
    if let refusal { throw refusal }
    // A pending survey past its expiry no longer blocks a new one: record it as expired (and
    // announce that) before looking for a pending one.
    _ = try await SurveyExpiry.expire(subject: survey.subject, now: now, limit: 100, outbox: outbox, on: connection, logger: logger)
    if let other = try await pendingSurvey(for: survey.subject, now: now, on: connection, logger: logger) {
      throw ServiceError.alreadyExists("the subject already has pending survey \(other)")
    }
    var stored = survey
    stored.token = ""
    try await connection.query(
      """
      INSERT INTO surveys (survey_id, request_id, request_fingerprint, subject_kind, subject_id, shopper_id, agent_id,
        token_hash, status, created_at, expires_at, version, body)
      VALUES (\(UUID(uuidString: stored.surveyID)!), \(requestID), \(fingerprint), \(Int16(stored.subject.kind.rawValue)), \(stored.subject.id),
        \(stored.shopperID), \(stored.agentID), \(tokenHash), \(Int16(stored.status.rawValue)),
        \(stored.createTime.date), \(stored.expireTime.date), \(stored.version), \(try stored.bytea()))
      """, logger: logger)
    try await FeedbackQualityFacts.record(survey: stored, on: connection, logger: logger)
    // Last in the transaction: the append holds the event log's position lock until commit.
    let eventID = UUID()
    try await outbox.append(
      FeedbackEvents.surveyCreated(stored, eventID: eventID), subject: stored.surveyID, eventID: eventID,
      occurredAt: stored.createTime.date, on: connection, logger: logger)
    return Stored(survey: stored, tokenHash: tokenHash)
  }

  /// The subject's pending survey (not answered, not expired at `now`), if any. `now` is the
  /// same clock the expiry step used, so a survey is either expired or pending, never neither.
  static func pendingSurvey(for subject: Support_Common_V1_SubjectRef, now: Date, on connection: PostgresConnection, logger: Logger) async throws -> String? {
    let kind = Int16(subject.kind.rawValue)
    for try await other in try await connection.query(
      "SELECT survey_id::text FROM surveys WHERE subject_kind = \(kind) AND subject_id = \(subject.id) AND status = \(Self.pending) AND expires_at > \(now)",
      logger: logger
    ).decode(String.self) {
      return other
    }
    return nil
  }

  func get(_ id: UUID, logger: Logger) async throws -> Survey? {
    try await database.withConnection(logger: logger) { connection in
      for try await body in try await connection.query("SELECT body FROM surveys WHERE survey_id = \(id)", logger: logger).decode(ByteBuffer.self) {
        return try Survey(bytea: body).withoutToken()
      }
      return nil
    }
  }

  func get(tokenHash: ByteBuffer, logger: Logger) async throws -> Survey? {
    try await database.withConnection(logger: logger) { connection in
      for try await body in try await connection.query("SELECT body FROM surveys WHERE token_hash = \(tokenHash)", logger: logger).decode(ByteBuffer.self) {
        return try Survey(bytea: body).withoutToken()
      }
      return nil
    }
  }

  /// Locks the survey whose token has `tokenHash`, lets `decide` produce the answered survey
  /// (or refuse), stores and announces it. Exactly one answer wins however many arrive at once.
  func answer(tokenHash: ByteBuffer, logger: Logger, decide: @escaping @Sendable (Survey) throws -> Survey) async throws -> Survey {
    try await database.withTransaction(logger: logger) { connection in
      var current: Survey?
      for try await body in try await connection.query(
        "SELECT body FROM surveys WHERE token_hash = \(tokenHash) FOR UPDATE", logger: logger
      ).decode(ByteBuffer.self) {
        current = try Survey(bytea: body).withoutToken()
      }
      guard let current else { throw RPCError(code: .notFound, message: "no survey has this token") }
      let answered = try decide(current)
      try await connection.query(
        """
        UPDATE surveys SET status = \(Int16(answered.status.rawValue)),
          csat = \(answered.answer.hasCsat ? Int16(answered.answer.csat) : nil),
          nps = \(answered.answer.hasNps ? Int16(answered.answer.nps) : nil),
          answered_at = \(answered.answer.answerTime.date), version = \(answered.version), body = \(try answered.bytea())
        WHERE survey_id = \(UUID(uuidString: answered.surveyID)!)
        """, logger: logger)
      try await FeedbackQualityFacts.record(survey: answered, on: connection, logger: logger)
      let eventID = UUID()
      try await outbox.append(
        FeedbackEvents.surveyAnswered(answered, eventID: eventID), subject: answered.surveyID, eventID: eventID,
        occurredAt: answered.answer.answerTime.date, on: connection, logger: logger)
      return answered
    }
  }
}

extension Survey {
  /// Rows written before migration 5 had the token in the body; the migration removed it, and
  /// every read clears it again so no path can return a stored one.
  func withoutToken() -> Survey {
    guard !token.isEmpty else { return self }
    var survey = self
    survey.token = ""
    return survey
  }

  /// A pending survey past its expiry reads as EXPIRED.
  func withLiveStatus(at now: Date) -> Survey {
    guard status == .pending, expireTime.date <= now else { return self }
    var survey = self
    survey.status = .expired
    return survey
  }
}
