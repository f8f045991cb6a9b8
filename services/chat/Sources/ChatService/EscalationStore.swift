import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

typealias Escalation = Support_Chat_V1_Escalation

/// The SQL of escalations: recording one (with its conversation event and its outbox event in
/// the same transaction), reading and listing them, and applying the tickets service's answer.
struct EscalationStore: Sendable {
  let database: Database
  let outbox: EventOutbox

  /// EscalateConversation's `close_conversation`: the conversation also closes ESCALATED.
  struct Closing: Sendable {
    var settings: ClosingSettings
  }

  enum RecordOutcome {
    case recorded(Escalation)
    case retried(Escalation)
  }

  /// Records an escalation of the conversation. `decide` sees the locked conversation and the
  /// number of messages it holds, and returns the escalation to record (or throws to refuse).
  /// The conversation's version rises by one and an EscalationUpdated (PENDING) event is posted
  /// to it; ConversationEscalatedEvent is announced to the tickets service.
  func record(
    conversationID: UUID, requestID: String, fingerprint: String, logger: Logger,
    closing: Closing? = nil, decide: @escaping @Sendable (_ conversation: Conversation, _ messageCount: Int32) throws -> Escalation
  ) async throws -> RecordOutcome {
    try await database.withTransaction(logger: logger) { connection in
      guard var conversation = try await ConversationRows.lock(conversationID, on: connection, logger: logger) else {
        throw ServiceError.notFound("conversation", conversationID.uuidString.lowercased())
      }
      // The request id is chat-wide for escalations: a retry finds the first one.
      if let existing = try await Idempotency.firstResult(
        of: Escalation.self, "SELECT request_fingerprint, body FROM escalations WHERE request_id = \(requestID)",
        fingerprint: fingerprint, describe: { "escalation \($0.escalationID)" }, on: connection, logger: logger
      ) {
        return .retried(existing)
      }
      var messageCount: Int32 = 0
      for try await count in try await connection.query(
        "SELECT count(*)::integer FROM messages WHERE conversation_id = \(conversationID)", logger: logger
      ).decode(Int32.self) {
        messageCount = count
      }
      let escalation = try decide(conversation, messageCount)
      let now = escalation.createTime.date
      conversation.escalationIds.append(escalation.escalationID)
      conversation.version += 1
      conversation.updateTime = escalation.createTime
      var timeline = TimelineWriter()
      timeline.record(
        .escalationUpdated(.with { $0.escalationID = escalation.escalationID; $0.status = .pending }), in: &conversation, at: now)
      try await connection.query(
        """
        INSERT INTO escalations (escalation_id, request_id, request_fingerprint, conversation_id, shopper_id, status, created_us, body)
        VALUES (\(UUID(uuidString: escalation.escalationID)!), \(requestID), \(fingerprint), \(conversationID), \(escalation.shopperID),
          \(Int16(escalation.status.rawValue)), \(escalation.createTime.unixMicroseconds), \(try escalation.bytea()))
        """, logger: logger)
      let escalated = Self.escalatedEvent(escalation, conversation: conversation, eventID: UUID())
      if let closing {
        // Closing locks skill groups and agents (routing's lock order) and announces
        // ConversationClosedEvent; it saves the conversation itself.
        try await ConversationClosing.close(
          &conversation, reason: .escalated, note: "escalated to after-sales (escalation \(escalation.escalationID))",
          actor: escalation.requestedBy, skipRatingInvitation: false, settings: closing.settings, outbox: outbox, writer: &timeline,
          at: now, on: connection, logger: logger)
      } else {
        try await ConversationRows.save(conversation, on: connection, logger: logger)
      }
      // The position locks last, in the order every chat transaction takes them: the outbox's,
      // then the timeline's.
      try await outbox.append(
        .conversationEscalated(escalated), subject: conversation.conversationID, eventID: UUID(uuidString: escalated.eventID)!,
        occurredAt: now, on: connection, logger: logger)
      try await timeline.flush(on: connection, logger: logger)
      return .recorded(escalation)
    }
  }

  func escalation(_ id: UUID, logger: Logger) async throws -> Escalation? {
    try await database.withConnection(logger: logger) { connection in
      for try await body in try await connection.query(
        "SELECT body FROM escalations WHERE escalation_id = \(id)", logger: logger
      ).decode(ByteBuffer.self) {
        return try Escalation(bytea: body)
      }
      return nil
    }
  }

  struct ListFilter: Sendable {
    var conversationID: UUID?
    var shopperID = ""
    var statuses: [Int16] = []
  }

  /// A page of escalations, newest first; `after` is the (created µs, id) of the previous
  /// page's last row.
  func list(_ filter: ListFilter, after: (micros: Int64, id: UUID)?, limit: Int, logger: Logger) async throws -> [Escalation] {
    try await database.withConnection(logger: logger) { connection in
      let afterMicros = after?.micros ?? Int64.max
      let afterID = after?.id ?? UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))
      var escalations: [Escalation] = []
      for try await body in try await connection.query(
        """
        SELECT body FROM escalations
        WHERE (\(filter.conversationID)::uuid IS NULL OR conversation_id = \(filter.conversationID))
          AND (\(filter.shopperID) = '' OR shopper_id = \(filter.shopperID))
          AND (cardinality(\(filter.statuses)::smallint[]) = 0 OR status = ANY(\(filter.statuses)::smallint[]))
          AND (created_us, escalation_id) < (\(afterMicros), \(afterID))
        ORDER BY created_us DESC, escalation_id DESC
        LIMIT \(Int64(limit))
        """, logger: logger
      ).decode(ByteBuffer.self) {
        escalations.append(try Escalation(bytea: body))
      }
      return escalations
    }
  }

  /// What the tickets service answered for an escalation.
  enum TicketAnswer: Sendable {
    case created(ticketID: String, at: Date)
    case refused(reason: String, at: Date)
  }

  /// Applies the tickets service's answer in the consumer's transaction: a PENDING escalation
  /// becomes TICKET_CREATED or FAILED (version + 1); unless the conversation is CLOSED, an
  /// EscalationUpdated event (and, for a created case, a SYSTEM message naming it) is posted.
  /// An unknown escalation, or one already answered, changes nothing.
  static func apply(_ answer: TicketAnswer, to escalationID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
    var conversationID: UUID?
    for try await id in try await connection.query(
      "SELECT conversation_id FROM escalations WHERE escalation_id = \(escalationID)", logger: logger
    ).decode(UUID.self) {
      conversationID = id
    }
    guard let conversationID,
      // Lock order as everywhere: the conversation first.
      var conversation = try await ConversationRows.lock(conversationID, on: connection, logger: logger)
    else { return }
    var escalation: Escalation?
    for try await body in try await connection.query(
      "SELECT body FROM escalations WHERE escalation_id = \(escalationID) FOR UPDATE", logger: logger
    ).decode(ByteBuffer.self) {
      escalation = try Escalation(bytea: body)
    }
    guard var escalation, escalation.status == .pending else { return }
    let time: Date
    switch answer {
    case .created(let ticketID, let at):
      escalation.status = .ticketCreated
      escalation.ticketID = ticketID
      time = at
    case .refused(let reason, let at):
      escalation.status = .failed
      escalation.failureReason = reason
      time = at
    }
    escalation.version += 1
    escalation.updateTime = Date.nowMicroseconds.timestamp
    try await connection.query(
      """
      UPDATE escalations SET status = \(Int16(escalation.status.rawValue)), body = \(try escalation.bytea())
      WHERE escalation_id = \(escalationID)
      """, logger: logger)
    guard conversation.status != .closed else { return }
    var timeline = TimelineWriter()
    timeline.record(
      .escalationUpdated(.with {
        $0.escalationID = escalation.escalationID
        $0.status = escalation.status
        $0.ticketID = escalation.ticketID
      }), in: &conversation, at: time)
    if escalation.status == .ticketCreated {
      var notice = ChatMessage()
      notice.messageID = UUID().uuidString.lowercased()
      notice.conversationID = conversation.conversationID
      notice.sender = .with { $0.kind = .system; $0.displayName = "SupportMesh" }
      notice.text = "已为您创建售后工单 \(escalation.ticketID)，售后专员会尽快处理。An after-sales case \(escalation.ticketID) was opened for you."
      notice.createTime = time.timestamp
      notice.requestID = "escalation:\(escalation.escalationID):ticket"
      notice.sequence = conversation.lastSequence + 1
      timeline.record(.messagePosted(notice), in: &conversation, at: time)
      try await ChatStore.insert(notice, conversationID: conversationID, requestID: notice.requestID, fingerprint: notice.requestID, connection, logger)
    }
    try await ConversationRows.save(conversation, on: connection, logger: logger)
    try await timeline.flush(on: connection, logger: logger)
  }

  static func escalatedEvent(_ escalation: Escalation, conversation: Conversation, eventID: UUID) -> Support_Chat_V1_ConversationEscalatedEvent {
    .with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.eventTime = escalation.createTime
      $0.escalationID = escalation.escalationID
      $0.conversationID = conversation.conversationID
      $0.shopperID = conversation.shopperID
      $0.shopperDisplayName = conversation.shopperDisplayName
      $0.orderID = escalation.orderID
      $0.orderItems = escalation.orderItems
      $0.channel = conversation.channel
      $0.requestedTicketType = escalation.ticketType
      $0.requestedCategory = escalation.category
      $0.priority = escalation.priority
      $0.summary = escalation.summary
      $0.transcript = escalation.transcript
      $0.attachments = escalation.attachments
      $0.requestedBy = escalation.requestedBy
      $0.agentID = conversation.assignedAgentID
      $0.skillGroupID = conversation.skillGroupID
      $0.conversationCreateTime = conversation.createTime
      $0.title = escalation.title
      if escalation.hasDeliveredTime { $0.deliveredTime = escalation.deliveredTime }
    }
  }
}
