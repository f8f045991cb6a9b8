import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

typealias HistoryEntry = Support_Tickets_V1_HistoryEntry
typealias Comment = Support_Tickets_V1_Comment

/// The SQL of changes to an existing case (transitions, assignment, priority, comments) and of
/// reading its comments and history. Each change locks the case's row, decides on the current
/// version, and writes the case, its history entry and the request id's first result in one
/// transaction.
extension TicketStore {
  /// What a change decided: the case after it and its history entry; nil changes nothing.
  typealias Decision = @Sendable (Ticket) throws -> (ticket: Ticket, entry: HistoryEntry)?

  /// Applies `decide` to the current case. With a request id, a retry returns the first
  /// result (ALREADY_EXISTS when the id was used for different content).
  func change(_ id: UUID, requestID: String, fingerprint: String, logger: Logger, _ decide: @escaping Decision) async throws -> Ticket {
    try await database.withTransaction(logger: logger) { connection in
      try await change(id, requestID: requestID, fingerprint: fingerprint, on: connection, logger: logger, decide)
    }
  }

  /// `change` inside a transaction the caller owns (an event consumer's, which moves its cursor
  /// in the same transaction).
  func change(_ id: UUID, requestID: String, fingerprint: String, on connection: PostgresConnection, logger: Logger, _ decide: Decision) async throws -> Ticket {
    if !requestID.isEmpty {
      try await Idempotency.lock(requestID: requestID, scope: "tickets.change", on: connection, logger: logger)
      if let first = try await Idempotency.firstResult(
        of: Ticket.self, "SELECT request_fingerprint, result FROM ticket_changes WHERE request_id = \(requestID)",
        fingerprint: fingerprint, describe: { "a change of ticket \($0.ticketID)" }, on: connection, logger: logger
      ) {
        return first
      }
    }
    guard let current = try await Self.lockedTicket(id, connection, logger) else {
      throw ServiceError.notFound("ticket", id.uuidString.lowercased())
    }
    guard let (decided, entry) = try decide(current) else { return current }
    var next = decided
    if next.reopenCount > current.reopenCount {
      // A reopen: a fresh resolution clock from the policy in force, as a new case gets.
      let policy = try await SlaStore.storedPolicy(on: connection, logger: logger) ?? slaDefaults
      next.restartResolutionClock(at: entry.occurTime.date, policy: policy, defaults: slaDefaults, fallbackHours: resolutionHours)
    }
    try await Self.update(next, connection, logger)
    try await Self.appendHistory(entry, ticketID: id, connection, logger)
    if !requestID.isEmpty {
      try await connection.query(
        """
        INSERT INTO ticket_changes (request_id, ticket_id, request_fingerprint, result)
        VALUES (\(requestID), \(id), \(fingerprint), \(try next.bytea()))
        """, logger: logger)
    }
    // Announced in the same transaction, last: the append holds the event log's position lock.
    let eventID = UUID()
    if let outbox, let payload = TicketEvents.payload(before: current, after: next, entry: entry, eventID: eventID, resolutionHours: resolutionHours) {
      try await outbox.append(payload, subject: next.ticketID, eventID: eventID, occurredAt: entry.occurTime.date, on: connection, logger: logger)
    }
    return next
  }

  enum CommentOutcome {
    case added(Comment, Ticket)
    case retried(Comment)
  }

  /// Adds a comment; `decide` sees the case and returns it changed (SLA) or unchanged, with the
  /// comment to store and the history entry.
  func addComment(
    _ id: UUID, requestID: String, fingerprint: String, logger: Logger,
    _ decide: @escaping @Sendable (Ticket) throws -> (ticket: Ticket, comment: Comment, entry: HistoryEntry)
  ) async throws -> CommentOutcome {
    try await database.withTransaction(logger: logger) { connection in
      try await addComment(id, requestID: requestID, fingerprint: fingerprint, on: connection, logger: logger, decide)
    }
  }

  /// `addComment` inside a transaction the caller owns.
  func addComment(
    _ id: UUID, requestID: String, fingerprint: String, on connection: PostgresConnection, logger: Logger,
    _ decide: @Sendable (Ticket) throws -> (ticket: Ticket, comment: Comment, entry: HistoryEntry)
  ) async throws -> CommentOutcome {
    try await Idempotency.lock(requestID: requestID, scope: "tickets.comment", on: connection, logger: logger)
    if let first = try await Idempotency.firstResult(
      of: Comment.self, "SELECT request_fingerprint, body FROM ticket_comments WHERE request_id = \(requestID)",
      fingerprint: fingerprint, describe: { "comment \($0.commentID)" }, on: connection, logger: logger
    ) {
      return .retried(first)
    }
    guard let current = try await Self.lockedTicket(id, connection, logger) else {
      throw ServiceError.notFound("ticket", id.uuidString.lowercased())
    }
    let (next, comment, entry) = try decide(current)
    if next.version != current.version { try await Self.update(next, connection, logger) }
    try await connection.query(
      """
      INSERT INTO ticket_comments (comment_id, ticket_id, request_id, request_fingerprint, visibility, created_at, body)
      VALUES (\(UUID(uuidString: comment.commentID)!), \(id), \(requestID), \(fingerprint), \(Int16(comment.visibility.rawValue)),
        'epoch'::timestamptz + \(comment.createTime.unixMicroseconds) * interval '1 microsecond', \(try comment.bytea()))
      """, logger: logger)
    try await Self.appendHistory(entry, ticketID: id, connection, logger)
    // A reply that acknowledges the case announces it (TicketFactEvents), last in the transaction.
    let eventID = UUID()
    if let outbox, let payload = TicketFactEvents.payload(before: current, after: next, entry: entry, eventID: eventID) {
      try await outbox.append(payload, subject: next.ticketID, eventID: eventID, occurredAt: entry.occurTime.date, on: connection, logger: logger)
    }
    return .added(comment, next)
  }

  /// One page of a case's comments, oldest first; `after` is the last (created µs, id) seen.
  func comments(_ id: UUID, visibilities: [Support_Tickets_V1_CommentVisibility], after: (micros: Int64, id: UUID)?, limit: Int, logger: Logger) async throws -> [(comment: Comment, micros: Int64)] {
    let kinds = visibilities.map { Int16($0.rawValue) }
    let query: PostgresQuery
    if let after {
      query = """
        SELECT body, (extract(epoch FROM created_at) * 1000000)::int8 FROM ticket_comments
        WHERE ticket_id = \(id) AND visibility = ANY(\(kinds)::smallint[])
          AND (created_at, comment_id) > ('epoch'::timestamptz + \(after.micros) * interval '1 microsecond', \(after.id))
        ORDER BY created_at, comment_id LIMIT \(Int64(limit))
        """
    } else {
      query = """
        SELECT body, (extract(epoch FROM created_at) * 1000000)::int8 FROM ticket_comments
        WHERE ticket_id = \(id) AND visibility = ANY(\(kinds)::smallint[])
        ORDER BY created_at, comment_id LIMIT \(Int64(limit))
        """
    }
    return try await database.withConnection(logger: logger) { connection in
      let rows = try await connection.query(query, logger: logger).decode((ByteBuffer, Int64).self)
      var result: [(comment: Comment, micros: Int64)] = []
      for try await (body, micros) in rows { result.append((try Comment(bytea: body), micros)) }
      return result
    }
  }

  /// One page of a case's history, oldest first, each entry with its position (1, 2, 3…).
  func history(_ id: UUID, afterSequence: Int64, limit: Int, logger: Logger) async throws -> [HistoryEntry] {
    try await database.withConnection(logger: logger) { connection in
      let rows = try await connection.query(
        """
        SELECT body, entry_id, sequence FROM (
          SELECT body, entry_id, row_number() OVER (ORDER BY entry_id) AS sequence
          FROM ticket_history WHERE ticket_id = \(id)
        ) numbered WHERE sequence > \(afterSequence) ORDER BY sequence LIMIT \(Int64(limit))
        """, logger: logger
      ).decode((ByteBuffer, Int64, Int64).self)
      var entries: [HistoryEntry] = []
      for try await (body, entryID, sequence) in rows {
        var entry = try HistoryEntry(bytea: body)
        entry.entryID = String(entryID)
        entry.sequence = sequence
        entries.append(entry)
      }
      return entries
    }
  }

  /// The case, locked until the transaction ends (changes to one case are serialised).
  static func lockedTicket(_ id: UUID, _ connection: PostgresConnection, _ logger: Logger) async throws -> Ticket? {
    for try await body in try await connection.query("SELECT body FROM tickets WHERE ticket_id = \(id) FOR UPDATE", logger: logger).decode(ByteBuffer.self) {
      return try Ticket(bytea: body)
    }
    return nil
  }

  /// Writes the case and the columns lists filter and sort on.
  static func update(_ ticket: Ticket, _ connection: PostgresConnection, _ logger: Logger) async throws {
    let id = UUID(uuidString: ticket.ticketID)!
    let responded: Date? = ticket.sla.hasFirstResponseTime ? ticket.sla.firstResponseTime.date : nil
    let resolved = ticket.currentResolveTime
    try await connection.query(
      """
      UPDATE tickets SET status = \(Int16(ticket.status.rawValue)), priority = \(Int16(ticket.priority.rawValue)),
        assignee_agent_id = \(ticket.assigneeAgentID), first_response_due_at = \(ticket.sla.firstResponseDueTime.date),
        first_responded_at = \(responded), resolution_due_at = \(ticket.sla.resolutionDueTime.date), resolved_at = \(resolved),
        sla_paused_since = \(ticket.sla.paused ? ticket.sla.pausedSinceTime.date : nil),
        updated_at = \(ticket.updateTime.date), version = \(ticket.version), body = \(try ticket.bytea())
      WHERE ticket_id = \(id)
      """, logger: logger)
    try await SlaStore.sync(ticket, on: connection, logger: logger)
  }
}
