import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

/// One stored timeline row (conversation_events, see ConversationTimeline.swift) with the
/// columns watchers are routed by.
struct TimelineRow: Sendable {
  /// The chat-wide timeline position; 0 for an ephemeral event, which has none.
  var position: Int64
  var conversationID: String
  /// Agents whose inbox the event concerns (the assigned agent after it plus any named).
  var agentIDs: [String]
  /// The conversation's skill group after the event.
  var skillGroupID: String
  /// The conversation's status after the event.
  var status: Support_Chat_V1_ConversationStatus
  var event: ConversationEvent

  var isEphemeral: Bool { position == 0 }
}

/// All SQL of the watch streams, typing indicators and read markers (the timeline itself is
/// written by `TimelineWriter`).
enum ChatStreamStore {
  /// The NOTIFY channel of ephemeral events (typing): the payload is the event
  /// itself (`EphemeralPayload`), since nothing is stored.
  static let ephemeralChannel = "supportmesh_chat_ephemeral"
  /// The NOTIFY channel `TimelineWriter.flush` wakes on commit.
  static let timelineChannel = TimelineWriter.channel

  static let rowColumns = "position, conversation_id, sequence, kind, agent_ids, skill_group_id, status, body"

  /// The highest committed position (0 for an empty timeline). Positions are given in commit
  /// order under one lock, so every position up to it is visible too.
  static func head(on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
    for try await head in try await connection.query(
      "SELECT coalesce(max(position), 0)::int8 FROM conversation_events", logger: logger
    ).decode(Int64.self) { return head }
    return 0
  }

  /// Every event after `position`, oldest first: the hub's one read per wake-up.
  static func events(after position: Int64, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [TimelineRow] {
    try await rows(
      connection.query(
        "SELECT \(unescaped: rowColumns) FROM conversation_events WHERE position > \(position) ORDER BY position LIMIT \(Int64(limit))",
        logger: logger))
  }

  /// A page of one conversation's stored events after `sequence`, in sequence order (replay).
  static func conversationEvents(
    _ id: UUID, after sequence: Int64, limit: Int, on connection: PostgresConnection, logger: Logger
  ) async throws -> [ConversationEvent] {
    var events: [ConversationEvent] = []
    for try await body in try await connection.query(
      """
      SELECT body FROM conversation_events WHERE conversation_id = \(id) AND sequence > \(sequence)
      ORDER BY sequence LIMIT \(Int64(limit))
      """, logger: logger
    ).decode(ByteBuffer.self) {
      events.append(try ConversationEvent(bytea: body))
    }
    return events
  }

  /// A page of inbox events in (`position`, `head`], oldest first, and the position the page
  /// covers through: `head` when the page is not full (every position up to a committed head
  /// is visible, see `head(on:)`), else the last row read. The WHERE clause is a superset
  /// served by the inbox indexes (migration 8); `InboxFilter.concerns` decides exactly.
  static func inboxEvents(
    _ filter: InboxFilter, after position: Int64, through head: Int64, limit: Int, on connection: PostgresConnection, logger: Logger
  ) async throws -> (rows: [TimelineRow], coveredThrough: Int64) {
    let groups = Array(filter.skillGroupIDs)
    let agent = filter.agentID.isEmpty ? [String]() : [filter.agentID]
    let page = try await rows(
      connection.query(
        """
        SELECT \(unescaped: rowColumns) FROM conversation_events
        WHERE position > \(position) AND position <= \(head) AND (
          agent_ids && \(agent)::text[]
          OR (skill_group_id = ANY(\(groups)::text[]) AND (status = 1 OR kind IN (7, 8, 9)))
          OR (kind = 8 AND cardinality(\(groups)::text[]) > 0))
        ORDER BY position LIMIT \(Int64(limit))
        """, logger: logger))
    let covered = page.count == limit ? page[page.count - 1].position : head
    return (page.filter(filter.concerns), covered)
  }

  /// When the event at `position` was written; nil when there is none.
  static func createdAt(position: Int64, on connection: PostgresConnection, logger: Logger) async throws -> Date? {
    for try await date in try await connection.query(
      "SELECT created_at FROM conversation_events WHERE position = \(position)", logger: logger
    ).decode(Date.self) { return date }
    return nil
  }

  /// The conversation as stored (no queue position: watchers do not need it).
  static func conversation(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Conversation? {
    for try await body in try await connection.query(
      "SELECT body FROM conversations WHERE conversation_id = \(id)", logger: logger
    ).decode(ByteBuffer.self) { return try Conversation(bytea: body) }
    return nil
  }

  /// Sends an ephemeral event to the watchers of every chat instance (delivered after commit;
  /// outside a transaction, at once).
  static func publishEphemeral(_ payload: EphemeralPayload, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query("SELECT pg_notify(\(ephemeralChannel), \(try payload.encoded()))", logger: logger)
  }

  private static func rows(_ sequence: PostgresRowSequence) async throws -> [TimelineRow] {
    var rows: [TimelineRow] = []
    for try await (position, conversationID, _, _, agentIDs, skillGroupID, status, body) in sequence.decode(
      (Int64, UUID, Int64, Int16, [String], String, Int16, ByteBuffer).self
    ) {
      rows.append(TimelineRow(
        position: position, conversationID: conversationID.uuidString.lowercased(), agentIDs: agentIDs, skillGroupID: skillGroupID,
        status: Support_Chat_V1_ConversationStatus(rawValue: Int(status)) ?? .unspecified, event: try ConversationEvent(bytea: body)))
    }
    return rows
  }
}

/// An ephemeral event on the NOTIFY channel: the event and the columns it is routed by
/// (base64 protobuf in JSON, well under PostgreSQL's 8,000-byte payload limit).
struct EphemeralPayload: Codable, Sendable {
  var conversationID: String
  var agentIDs: [String]
  var skillGroupID: String
  var status: Int
  var event: Data

  init(conversation: Conversation, event: ConversationEvent) throws {
    conversationID = conversation.conversationID
    agentIDs = conversation.assignedAgentID.isEmpty ? [] : [conversation.assignedAgentID]
    skillGroupID = conversation.skillGroupID
    status = conversation.status.rawValue
    self.event = try event.serializedBytes()
  }

  func encoded() throws -> String {
    String(decoding: try JSONEncoder().encode(self), as: UTF8.self)
  }

  static func decode(_ text: String) throws -> TimelineRow {
    let payload = try JSONDecoder().decode(EphemeralPayload.self, from: Data(text.utf8))
    return TimelineRow(
      position: 0, conversationID: payload.conversationID.lowercased(), agentIDs: payload.agentIDs, skillGroupID: payload.skillGroupID,
      status: Support_Chat_V1_ConversationStatus(rawValue: payload.status) ?? .unspecified,
      event: try ConversationEvent(serializedBytes: payload.event))
  }
}
