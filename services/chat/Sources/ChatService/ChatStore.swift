import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

typealias Conversation = Support_Chat_V1_Conversation
typealias ChatMessage = Support_Chat_V1_Message

/// All SQL of the chat service.
struct ChatStore: Sendable {
  let database: Database
  /// Where a shopper's reply in an escalated conversation is announced (ShopperReplies.swift).
  var outbox: EventOutbox? = nil
  /// The queue that writes concurrent SendMessage calls together.
  let messageBatches: MessageBatches

  init(database: Database, outbox: EventOutbox? = nil, messageBatches: MessageBatches = MessageBatches()) {
    self.database = database
    self.outbox = outbox
    self.messageBatches = messageBatches
  }

  /// Inserts a conversation, its QUEUED status event (sequence 1), its first message (if any,
  /// sequence 2) and the FAQ suggestions that message earns (FaqSuggestions.swift), or returns
  /// the one first created with the same request id. In the same transaction routing checks
  /// the skill group (NOT_FOUND), marks an offline message when none of its agents is ONLINE,
  /// and may assign the conversation at once (Routing.swift).
  func start(_ conversation: Conversation, firstMessage: ChatMessage?, requestID: String, fingerprint: String, logger: Logger) async throws -> Conversation {
    try await database.withTransaction(logger: logger) { connection in
      var conversation = conversation
      let admission = try await Routing.admit(groupID: conversation.skillGroupID, field: "skill_group_id", on: connection, logger: logger)
      conversation.offline = admission.online == 0
      var timeline = TimelineWriter()
      let now = conversation.createTime.date
      timeline.record(
        .statusChanged(.with {
          $0.previousStatus = .unspecified
          $0.status = conversation.status
          $0.actor = .with { $0.kind = .shopper; $0.id = conversation.shopperID; $0.displayName = conversation.shopperDisplayName }
        }), in: &conversation, at: now)
      var message = firstMessage
      if var first = message {
        first.sequence = conversation.lastSequence + 1
        first.offline = conversation.offline
        timeline.record(.messagePosted(first), in: &conversation, at: now)
        message = first
      }
      let id = UUID(uuidString: conversation.conversationID)!
      let inserted = try await connection.query(
        """
        INSERT INTO conversations (conversation_id, request_id, request_fingerprint, shopper_id, status, skill_group_id,
          assigned_agent_id, last_sequence, enqueued_at, created_at, updated_at, version, body)
        VALUES (\(id), \(requestID), \(fingerprint), \(conversation.shopperID), \(Int16(conversation.status.rawValue)),
          \(conversation.skillGroupID), \(conversation.assignedAgentID), \(conversation.lastSequence),
          \(conversation.enqueueTime.date), \(conversation.createTime.date), \(conversation.updateTime.date),
          \(conversation.version), \(try conversation.bytea()))
        ON CONFLICT (request_id) DO NOTHING
        RETURNING conversation_id
        """, logger: logger
      ).collect()
      if inserted.isEmpty {
        guard let existing = try await Idempotency.firstResult(
          of: Conversation.self, "SELECT request_fingerprint, body FROM conversations WHERE request_id = \(requestID)",
          fingerprint: fingerprint, describe: { "conversation \($0.conversationID)" }, on: connection, logger: logger
        ) else { throw RPCError(code: .aborted, message: "concurrent start with the same request_id, retry") }
        return existing
      }
      if let message {
        try await Self.insert(message, conversationID: id, requestID: requestID, fingerprint: fingerprint, connection, logger)
      }
      try await FaqSuggestions.post(after: message, in: &conversation, timeline: &timeline, fingerprint: fingerprint, on: connection, logger: logger)
      try await Routing.routeStarted(&conversation, group: admission.group, writer: &timeline, at: now, on: connection, logger: logger)
      try await timeline.flush(on: connection, logger: logger)
      return conversation
    }
  }

  /// The conversation with its live queue position.
  func conversation(_ id: UUID, logger: Logger) async throws -> Conversation? {
    try await database.withConnection(logger: logger) { connection in
      for try await (body, position) in try await connection.query(
        """
        SELECT c.body, CASE WHEN c.status = 1 THEN (
            SELECT count(*) FROM conversations q
            WHERE q.status = 1 AND q.skill_group_id = c.skill_group_id
              AND (q.enqueued_at, q.conversation_id) < (c.enqueued_at, c.conversation_id)) + 1
          ELSE 0 END
        FROM conversations c WHERE c.conversation_id = \(id)
        """, logger: logger
      ).decode((ByteBuffer, Int64).self) {
        var conversation = try Conversation(bytea: body)
        conversation.queuePosition = Int32(clamping: position)
        return conversation
      }
      return nil
    }
  }

  enum AppendOutcome: Sendable {
    case appended(ChatMessage)
    case retried(ChatMessage)
  }

  /// Appends a message as the conversation's next event, or returns the message first written
  /// with the same request id. Concurrent calls are written in batches (MessageBatches.swift);
  /// a conversation's messages get consecutive sequences in the order their calls arrived.
  /// `decide` sees the current conversation (and the transaction's connection, to read what the
  /// message needs, e.g. a canned response) and returns the message to store (its sequence is
  /// set here) with the conversation as the message leaves it, or throws an error that is a gRPC
  /// status (`RPCErrorConvertible`) to refuse it. A message does not change the conversation's
  /// version (the version guards the resource: status, assignment, transfer, escalation).
  func append(
    to id: UUID, requestID: String, fingerprint: String, logger: Logger,
    decide: @escaping MessageBatches.Decide
  ) async throws -> AppendOutcome {
    try await messageBatches.append(to: id, requestID: requestID, fingerprint: fingerprint, store: self, logger: logger, decide: decide)
  }

  /// Writes a batch of messages in one transaction and returns each call's outcome, in order:
  /// a message written, the first result of its request id, or the refusal its `decide` threw.
  /// Throws (and writes nothing) when a statement or the commit fails.
  func writeMessages(_ writes: [MessageBatches.Write], logger: Logger) async throws -> [Result<AppendOutcome, any Error>] {
    try await database.withTransaction(logger: logger) { connection in
      // Every conversation of the batch locked in one statement, in key order (the order every
      // batch locks in, so two batches cannot deadlock).
      var conversations: [UUID: Conversation] = [:]
      for try await (id, body) in try await connection.query(
        "SELECT conversation_id, body FROM conversations WHERE conversation_id = ANY(\(writes.map(\.conversationID))) ORDER BY conversation_id FOR UPDATE",
        logger: logger
      ).decode((UUID, ByteBuffer).self) {
        conversations[id] = try Conversation(bytea: body)
      }
      // The messages first written with these request ids.
      var earlier: [String: (fingerprint: String, body: ByteBuffer)] = [:]
      for try await (id, requestID, fingerprint, body) in try await connection.query(
        """
        SELECT m.conversation_id, m.request_id, m.request_fingerprint, m.body
        FROM unnest(\(writes.map(\.conversationID)), \(writes.map(\.requestID))) AS r(conversation_id, request_id)
        JOIN messages m ON m.conversation_id = r.conversation_id AND m.request_id = r.request_id
        """, logger: logger
      ).decode((UUID, String, String, ByteBuffer).self) {
        earlier["\(id)/\(requestID)"] = (fingerprint, body)
      }
      var results: [Result<AppendOutcome, any Error>] = []
      var messages: [ChatMessage] = []
      var requests: [MessageBatches.Write] = []
      var lastMessages: [UUID: ChatMessage] = [:]
      var changed: [UUID] = []
      var timeline = TimelineWriter()
      for write in writes {
        guard let current = conversations[write.conversationID] else {
          results.append(.failure(ServiceError.notFound("conversation", write.conversationID.uuidString.lowercased())))
          continue
        }
        if let first = earlier["\(write.conversationID)/\(write.requestID)"] {
          results.append(
            Result {
              let message = try ChatMessage(bytea: first.body)
              guard first.fingerprint == write.fingerprint else {
                throw ServiceError.alreadyExists("request_id was already used for message \(message.messageID) with different content")
              }
              return .retried(message)
            })
          continue
        }
        var decided: (message: ChatMessage, conversation: Conversation)
        do {
          decided = try await RequestContext.$current.withValue(write.context) { try await write.decide(current, connection) }
        } catch where error is any RPCErrorConvertible {
          // A refusal of this message (RPCError, or a rich status such as CONVERSATION_CLOSED);
          // anything else (a failed statement) fails the batch.
          results.append(.failure(error))
          continue
        }
        decided.message.sequence = decided.conversation.lastSequence + 1
        timeline.record(.messagePosted(decided.message), in: &decided.conversation, at: decided.message.createTime.date)
        conversations[write.conversationID] = decided.conversation
        if lastMessages.updateValue(decided.message, forKey: write.conversationID) == nil { changed.append(write.conversationID) }
        messages.append(decided.message)
        requests.append(write)
        results.append(.success(.appended(decided.message)))
      }
      guard !messages.isEmpty else { return results }
      try await Self.insert(messages, requests: requests, connection, logger)
      try await ConversationRows.saveAfterMessages(changed.map { (conversations[$0]!, lastMessages[$0]!) }, on: connection, logger: logger)
      for message in messages {
        try await ShopperReplies.announce(
          message, in: conversations[UUID(uuidString: message.conversationID)!]!, outbox: outbox, on: connection, logger: logger)
      }
      try await timeline.flush(on: connection, logger: logger)
      return results
    }
  }

  /// A page of a conversation's messages; nil when the conversation does not exist. `owner`
  /// sees the conversation's shopper id first and may refuse by throwing.
  func messages(
    _ id: UUID, afterSequence: Int64, limit: Int, logger: Logger, owner check: @escaping @Sendable (String) throws -> Void
  ) async throws -> [ChatMessage]? {
    try await database.withConnection(logger: logger) { connection in
      let rows = try await connection.query("SELECT shopper_id FROM conversations WHERE conversation_id = \(id)", logger: logger)
      var found: String?
      for try await shopperID in rows.decode(String.self) { found = shopperID }
      guard let owner = found else { return nil }
      try check(owner)
      var messages: [ChatMessage] = []
      for try await body in try await connection.query(
        """
        SELECT body FROM messages WHERE conversation_id = \(id) AND sequence > \(afterSequence)
        ORDER BY sequence LIMIT \(Int64(limit))
        """, logger: logger
      ).decode(ByteBuffer.self) {
        messages.append(try ChatMessage(bytea: body))
      }
      return messages
    }
  }

  /// Inserts a batch's messages in one statement.
  static func insert(_ messages: [ChatMessage], requests: [MessageBatches.Write], _ connection: PostgresConnection, _ logger: Logger)
    async throws
  {
    var bodies: [ByteBuffer] = []
    for message in messages { bodies.append(try message.bytea()) }
    try await connection.query(
      """
      INSERT INTO messages (conversation_id, sequence, message_id, request_id, request_fingerprint, created_at, body)
      SELECT * FROM unnest(\(requests.map(\.conversationID)), \(messages.map(\.sequence)),
        \(messages.map { UUID(uuidString: $0.messageID)! }), \(requests.map(\.requestID)), \(requests.map(\.fingerprint)),
        \(messages.map(\.createTime.date)), \(bodies))
      """, logger: logger)
  }

  static func insert(_ message: ChatMessage, conversationID: UUID, requestID: String, fingerprint: String, _ connection: PostgresConnection, _ logger: Logger) async throws {
    try await connection.query(
      """
      INSERT INTO messages (conversation_id, sequence, message_id, request_id, request_fingerprint, created_at, body)
      VALUES (\(conversationID), \(message.sequence), \(UUID(uuidString: message.messageID)!), \(requestID), \(fingerprint),
        \(message.createTime.date), \(try message.bytea()))
      """, logger: logger)
  }
}
