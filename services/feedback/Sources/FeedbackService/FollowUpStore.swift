import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

typealias FollowUp = Support_Feedback_V1_FollowUp
typealias FollowUpAttempt = Support_Feedback_V1_FollowUpAttempt

/// All SQL of follow-up visits. A change locks the follow-up's row, decides on the current
/// version, and writes the follow-up, the request id's first result and its event in one
/// transaction.
struct FollowUpStore: Sendable {
  let database: Database
  let outbox: EventOutbox

  static let pending = Int16(Support_Feedback_V1_FollowUpStatus.pending.rawValue)

  func create(_ followUp: FollowUp, requestID: String, fingerprint: String, logger: Logger) async throws -> FollowUp {
    try await database.withTransaction(logger: logger) { connection in
      try await Self.insert(followUp, requestID: requestID, fingerprint: fingerprint, outbox: outbox, on: connection, logger: logger)
    }
  }

  /// Inserts a follow-up in the caller's transaction (CreateFollowUp's, or an event consumer's)
  /// and announces it, or returns the follow-up created with the same request id. ALREADY_EXISTS
  /// (PENDING_FOLLOW_UP_EXISTS) when the ticket has a pending follow-up already.
  static func insert(
    _ followUp: FollowUp, requestID: String, fingerprint: String, outbox: EventOutbox, on connection: PostgresConnection, logger: Logger
  ) async throws -> FollowUp {
    try await Idempotency.lock(requestID: requestID, scope: "feedback.follow-up", on: connection, logger: logger)
    if let existing = try await Idempotency.firstResult(
      of: FollowUp.self, "SELECT request_fingerprint, body FROM follow_ups WHERE request_id = \(requestID)",
      fingerprint: fingerprint, describe: { "follow-up \($0.followUpID)" }, on: connection, logger: logger
    ) {
      return existing
    }
    if let other = try await lockedPendingFollowUp(ticketID: followUp.ticketID, on: connection, logger: logger) {
      throw ServiceError.alreadyExists(
        reason: "PENDING_FOLLOW_UP_EXISTS", domain: "support.feedback.v1",
        "ticket \(followUp.ticketID) already has pending follow-up \(other.followUpID)",
        metadata: ["follow_up_id": other.followUpID, "ticket_id": followUp.ticketID])
    }
    try await connection.query(
      """
      INSERT INTO follow_ups (follow_up_id, request_id, request_fingerprint, ticket_id, agent_id, status, due_at, created_at, version, body)
      VALUES (\(UUID(uuidString: followUp.followUpID)!), \(requestID), \(fingerprint), \(followUp.ticketID), \(followUp.agentID),
        \(Int16(followUp.status.rawValue)), 'epoch'::timestamptz + \(followUp.dueTime.unixMicroseconds) * interval '1 microsecond',
        \(followUp.createTime.date), \(followUp.version), \(try followUp.bytea()))
      """, logger: logger)
    try await FeedbackQualityFacts.record(followUp: followUp, on: connection, logger: logger)
    let eventID = UUID()
    try await outbox.append(
      FeedbackEvents.followUpCreated(followUp, eventID: eventID), subject: followUp.followUpID, eventID: eventID,
      occurredAt: followUp.createTime.date, on: connection, logger: logger)
    return followUp
  }

  /// The ticket's pending follow-up, locked. Creates and cancels for one ticket are serialised
  /// by an advisory lock first, so two of them cannot both see "none pending".
  static func lockedPendingFollowUp(ticketID: String, on connection: PostgresConnection, logger: Logger) async throws -> FollowUp? {
    let key = "feedback.follow-up.ticket:\(ticketID)"
    try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(key)))", logger: logger)
    for try await body in try await connection.query(
      "SELECT body FROM follow_ups WHERE ticket_id = \(ticketID) AND status = \(Self.pending) FOR UPDATE", logger: logger
    ).decode(ByteBuffer.self) {
      return try FollowUp(bytea: body)
    }
    return nil
  }

  /// The ticket's pending follow-up's id, if any (a plain read: `insert` checks again under lock).
  static func pendingFollowUpID(ticketID: String, on connection: PostgresConnection, logger: Logger) async throws -> String? {
    for try await id in try await connection.query(
      "SELECT follow_up_id::text FROM follow_ups WHERE ticket_id = \(ticketID) AND status = \(Self.pending)", logger: logger
    ).decode(String.self) {
      return id
    }
    return nil
  }

  /// Cancels the ticket's pending follow-up, if any (its case was reopened before the visit).
  /// Announces nothing: the contract has no event for it.
  static func cancelPending(ticketID: String, now: Date, on connection: PostgresConnection, logger: Logger) async throws -> FollowUp? {
    guard var followUp = try await lockedPendingFollowUp(ticketID: ticketID, on: connection, logger: logger) else { return nil }
    followUp.status = .cancelled
    followUp.version += 1
    followUp.updateTime = now.timestamp
    try await update(followUp, on: connection, logger: logger)
    return followUp
  }

  func get(_ id: UUID, logger: Logger) async throws -> FollowUp? {
    try await database.withConnection(logger: logger) { connection in
      for try await body in try await connection.query("SELECT body FROM follow_ups WHERE follow_up_id = \(id)", logger: logger).decode(ByteBuffer.self) {
        return try FollowUp(bytea: body)
      }
      return nil
    }
  }

  /// What a change decided: the follow-up after it; `announce` builds its event, if any.
  struct Change: Sendable {
    var followUp: FollowUp
    var announce: (@Sendable (FollowUp, UUID) -> EventEnvelope.OneOf_Payload)?
  }

  /// Applies `decide` to the locked follow-up. With a request id, a retry returns the first
  /// result (ALREADY_EXISTS when the id was used for different content) and changes nothing.
  func change(_ id: UUID, requestID: String, fingerprint: String, logger: Logger, _ decide: @escaping @Sendable (FollowUp) throws -> Change) async throws -> FollowUp {
    try await database.withTransaction(logger: logger) { connection in
      if !requestID.isEmpty {
        try await Idempotency.lock(requestID: requestID, scope: "feedback.follow-up-change", on: connection, logger: logger)
        if let first = try await Idempotency.firstResult(
          of: FollowUp.self, "SELECT request_fingerprint, result FROM follow_up_changes WHERE request_id = \(requestID)",
          fingerprint: fingerprint, describe: { "a change of follow-up \($0.followUpID)" }, on: connection, logger: logger
        ) {
          return first
        }
      }
      var current: FollowUp?
      for try await body in try await connection.query(
        "SELECT body FROM follow_ups WHERE follow_up_id = \(id) FOR UPDATE", logger: logger
      ).decode(ByteBuffer.self) {
        current = try FollowUp(bytea: body)
      }
      guard let current else { throw ServiceError.notFound("follow-up", id.uuidString.lowercased()) }
      let change = try decide(current)
      try await Self.update(change.followUp, on: connection, logger: logger)
      if !requestID.isEmpty {
        try await connection.query(
          """
          INSERT INTO follow_up_changes (request_id, follow_up_id, request_fingerprint, result)
          VALUES (\(requestID), \(id), \(fingerprint), \(try change.followUp.bytea()))
          """, logger: logger)
      }
      if let announce = change.announce {
        let eventID = UUID()
        try await outbox.append(
          announce(change.followUp, eventID), subject: change.followUp.followUpID, eventID: eventID,
          occurredAt: change.followUp.updateTime.date, on: connection, logger: logger)
      }
      return change.followUp
    }
  }

  static func update(_ followUp: FollowUp, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query(
      """
      UPDATE follow_ups SET agent_id = \(followUp.agentID), status = \(Int16(followUp.status.rawValue)),
        due_at = 'epoch'::timestamptz + \(followUp.dueTime.unixMicroseconds) * interval '1 microsecond',
        version = \(followUp.version), body = \(try followUp.bytea())
      WHERE follow_up_id = \(UUID(uuidString: followUp.followUpID)!)
      """, logger: logger)
    try await FeedbackQualityFacts.record(followUp: followUp, on: connection, logger: logger)
  }
}
