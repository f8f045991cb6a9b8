import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import Metrics
import NIOCore
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import SupportCodec

/// Invitations to the surveys feedback creates itself (a resolved case, a closed chat): the
/// shopper must receive the survey link, and its token exists nowhere but in the link
/// (contract review §3.9). Each such survey gets an invitation row in the consumer's
/// transaction; `SurveyInvitationSender` POSTs it to the shop's notification service (SMS,
/// app push, e-mail: the shop's choice), which shows the link to the shopper.
///
/// Delivery is at least once: a row is leased before the POST and marked sent after a 2xx, so
/// a process that dies in between sends it again after the lease; the receiver de-duplicates by
/// the `Idempotency-Key` header (the survey id). Failures retry with exponential backoff until
/// the survey expires; a survey answered or expired before delivery is given up. Several
/// feedback instances share the work (rows claimed with SKIP LOCKED).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_FEEDBACK_INVITATION_URL | where invitations are POSTed (JSON); empty = no sender: invitations wait | empty |
/// | SUPPORTMESH_FEEDBACK_SURVEY_LINK | the link shown to the shopper; `{token}` is replaced by the survey token | https://shop.example.com/survey/{token} |
/// | SUPPORTMESH_FEEDBACK_INVITATION_SECRET | when set, each POST carries `X-SupportMesh-Signature: sha256=<hex HMAC-SHA256 of the body>` | empty |
/// | SUPPORTMESH_FEEDBACK_INVITATION_SWEEP_SECONDS | how often due invitations are sent | 5 |
/// | SUPPORTMESH_FEEDBACK_INVITATION_RETRY_SECONDS | first retry delay, doubling per attempt up to an hour | 30 |
struct InvitationSettings: Sendable {
  var url: String
  var linkTemplate: String
  var secret: String
  var interval: Duration
  var firstRetrySeconds: Int

  static func load(_ environment: EnvironmentReader = EnvironmentReader()) throws -> InvitationSettings {
    var env = environment
    let settings = InvitationSettings(
      url: env.string("SUPPORTMESH_FEEDBACK_INVITATION_URL", default: ""),
      linkTemplate: env.string("SUPPORTMESH_FEEDBACK_SURVEY_LINK", default: "https://shop.example.com/survey/{token}"),
      secret: env.string("SUPPORTMESH_FEEDBACK_INVITATION_SECRET", default: ""),
      interval: .seconds(env.int("SUPPORTMESH_FEEDBACK_INVITATION_SWEEP_SECONDS", default: 5, range: 1...3600)),
      firstRetrySeconds: env.int("SUPPORTMESH_FEEDBACK_INVITATION_RETRY_SECONDS", default: 30, range: 1...3600)
    )
    if !settings.linkTemplate.contains("{token}") {
      env.report("SUPPORTMESH_FEEDBACK_SURVEY_LINK must contain {token}")
    }
    if !settings.url.isEmpty {
      if let url = URL(string: settings.url), url.scheme == "http" || url.scheme == "https", url.host != nil {
      } else {
        env.report("SUPPORTMESH_FEEDBACK_INVITATION_URL must be an http or https URL")
      }
    }
    try env.validate()
    return settings
  }
}

enum SurveyInvitations {
  /// Row states.
  static let pending: Int16 = 1, sent: Int16 = 2, abandoned: Int16 = 3

  static let migration = Migration(
    version: 30, name: "survey invitations",
    sql: """
      -- SurveyInvitations.swift: one row per survey feedback created itself, sent at least once.
      CREATE TABLE survey_invitations (
        survey_id uuid PRIMARY KEY REFERENCES surveys (survey_id),
        status smallint NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        sent_at timestamptz,
        last_error text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL
      );
      -- The sender's work: pending invitations by due time.
      CREATE INDEX survey_invitations_due_idx ON survey_invitations (next_attempt_at) WHERE status = 1;
      """)

  /// Queues the invitation of a survey just created, in the creating transaction.
  static func enqueue(_ survey: Survey, now: Date, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query(
      """
      INSERT INTO survey_invitations (survey_id, status, next_attempt_at, created_at)
      VALUES (\(UUID(uuidString: survey.surveyID)!), \(pending), \(now), \(now)) ON CONFLICT (survey_id) DO NOTHING
      """, logger: logger)
  }
}

/// Sends due invitations (see `SurveyInvitations`).
struct SurveyInvitationSender: Service {
  let database: Database
  let tokens: SurveyTokens
  let settings: InvitationSettings
  let logger: Logger
  /// Invitations claimed per pass.
  static let batchSize: Int64 = 50
  /// How long a claimed invitation is reserved for the instance sending it.
  static let lease: TimeInterval = 60
  static let maxRetrySeconds = 3600
  private let outcomes = (
    sent: Counter(label: "feedback_survey_invitations_total", dimensions: [("outcome", "sent")]),
    retried: Counter(label: "feedback_survey_invitations_total", dimensions: [("outcome", "retry")]),
    abandoned: Counter(label: "feedback_survey_invitations_total", dimensions: [("outcome", "abandoned")])
  )

  init(database: Database, tokens: SurveyTokens, settings: InvitationSettings, logger: Logger) {
    self.database = database
    self.tokens = tokens
    self.settings = settings
    self.logger = logger
  }

  func run() async throws {
    guard !settings.url.isEmpty else {
      logger.notice("no SUPPORTMESH_FEEDBACK_INVITATION_URL: survey invitations are queued, not sent")
      // A service that returns ends the process's service group: stay until shutdown.
      try? await gracefulShutdown()
      return
    }
    await PeriodicWork.run("sending survey invitations", every: settings.interval, firstAfter: .zero, logger: logger) {
      while try await sendDue() == Self.batchSize, !Task.isCancelled {}
    }
  }

  /// A claimed invitation with its survey.
  private struct Claimed {
    var survey: Survey
    var attempts: Int32
  }

  /// Claims, sends and records one batch of due invitations; returns how many were claimed.
  func sendDue(now: Date = Date.nowMicroseconds) async throws -> Int64 {
    let claimed = try await database.withTransaction(logger: logger) { connection in
      var claimed: [Claimed] = []
      for try await (body, attempts) in try await connection.query(
        """
        UPDATE survey_invitations i SET next_attempt_at = \(now.addingTimeInterval(Self.lease)), attempts = i.attempts + 1
        FROM surveys s
        WHERE s.survey_id = i.survey_id AND i.survey_id IN (
          SELECT survey_id FROM survey_invitations WHERE status = \(SurveyInvitations.pending) AND next_attempt_at <= \(now)
          ORDER BY next_attempt_at LIMIT \(Self.batchSize) FOR UPDATE SKIP LOCKED)
        RETURNING s.body, i.attempts
        """, logger: logger
      ).decode((ByteBuffer, Int32).self) {
        claimed.append(Claimed(survey: try Survey(bytea: body), attempts: attempts))
      }
      return claimed
    }
    for invitation in claimed {
      try await deliver(invitation, now: now)
    }
    return Int64(claimed.count)
  }

  private func deliver(_ invitation: Claimed, now: Date) async throws {
    let survey = invitation.survey
    let id = UUID(uuidString: survey.surveyID)!
    guard survey.status == .pending, survey.expireTime.date > now else {
      try await finish(id, status: SurveyInvitations.abandoned, error: "the survey is \(survey.status) before its invitation was delivered")
      outcomes.abandoned.increment()
      return
    }
    let failure: String
    do {
      let status = try await post(survey)
      if (200..<300).contains(status) {
        try await finish(id, status: SurveyInvitations.sent, error: "")
        outcomes.sent.increment()
        logger.info("survey invitation delivered", metadata: ["survey_id": "\(survey.surveyID)", "attempt": "\(invitation.attempts)"])
        return
      }
      failure = "the receiver answered HTTP \(status)"
    } catch {
      failure = "\(error)"
    }
    let delay = min(settings.firstRetrySeconds << min(Int(invitation.attempts) - 1, 20), Self.maxRetrySeconds)
    let next = Date.nowMicroseconds.addingTimeInterval(TimeInterval(delay))
    if next >= survey.expireTime.date {
      try await finish(id, status: SurveyInvitations.abandoned, error: "gave up before the survey expires: \(failure)")
      outcomes.abandoned.increment()
    } else {
      try await database.withConnection(logger: logger) { connection in
        _ = try await connection.query(
          "UPDATE survey_invitations SET next_attempt_at = \(next), last_error = \(failure) WHERE survey_id = \(id)", logger: logger)
      }
      outcomes.retried.increment()
    }
    logger.warning(
      "survey invitation not delivered", metadata: ["survey_id": "\(survey.surveyID)", "attempt": "\(invitation.attempts)", "error": "\(failure)"])
  }

  private func finish(_ id: UUID, status: Int16, error: String) async throws {
    try await database.withConnection(logger: logger) { connection in
      let sentAt: Date? = status == SurveyInvitations.sent ? Date.nowMicroseconds : nil
      try await connection.query(
        "UPDATE survey_invitations SET status = \(status), sent_at = \(sentAt), last_error = \(error) WHERE survey_id = \(id)", logger: logger)
    }
  }

  /// The invitation as the receiver gets it.
  struct Payload: Codable, Sendable {
    var survey_id: String
    var shopper_id: String
    var subject_kind: String
    var subject_id: String
    var agent_id: String
    var channel: String
    var link: String
    var token: String
    var expire_time: String
  }

  func payload(_ survey: Survey) -> Payload {
    let token = tokens.token(forSurvey: survey.surveyID)
    return Payload(
      survey_id: survey.surveyID, shopper_id: survey.shopperID,
      subject_kind: survey.subject.kind == .ticket ? "TICKET" : "CONVERSATION", subject_id: survey.subject.id,
      agent_id: survey.agentID, channel: "\(survey.channel)".uppercased(),
      link: settings.linkTemplate.replacingOccurrences(of: "{token}", with: token), token: token,
      expire_time: survey.expireTime.date.formatted(.iso8601))
  }

  /// POSTs the invitation; the HTTP status.
  private func post(_ survey: Survey) async throws -> UInt {
    let body = try JSONEncoder().encode(payload(survey))
    var request = HTTPClientRequest(url: settings.url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.headers.add(name: "Idempotency-Key", value: survey.surveyID)
    if !settings.secret.isEmpty {
      let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(settings.secret.utf8)))
      request.headers.add(name: "X-SupportMesh-Signature", value: "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
    }
    request.body = .bytes(ByteBuffer(bytes: body))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
    // Drain (and bound) the answer so the connection can be reused.
    _ = try? await response.body.collect(upTo: 64 * 1024)
    return response.status.code
  }
}
