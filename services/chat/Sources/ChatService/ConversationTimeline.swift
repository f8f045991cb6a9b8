import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

typealias ConversationEvent = Support_Chat_V1_ConversationEvent

/// One stored conversation event with its chat-wide timeline position (the inbox sequence).
struct TimelineEntry: Sendable {
  var position: Int64
  var event: ConversationEvent
  /// Agents whose inbox the event concerns.
  var agentIDs: [String]
  var skillGroupID: String
  var status: Support_Chat_V1_ConversationStatus
}

/// Collects the conversation events a transaction stores, then writes them in one go.
///
/// Every stored event of a conversation (status changes, messages, assignments, transfers, read
/// markers, escalation updates) gets two numbers:
/// - its **sequence** within the conversation, `Conversation.last_sequence + 1`, taken from the
///   conversation row the transaction holds locked (so concurrent writers get consecutive
///   sequences), given by `record`;
/// - its chat-wide **position** in `conversation_events`, which WatchInbox resumes from, given
///   after commit by `TimelineSequencer` (gapless, and a reader that has passed N never sees a
///   smaller position appear later); `flush` stores the events without one.
///
/// Every chat transaction takes its locks in one order, so no two can deadlock: conversation
/// rows (several only in conversation_id order: a batch of messages), skill group rows, agent
/// rows (Routing.swift), then the event outbox's position lock (an announcement). No writer takes the timeline's counter (`timeline_head`): only the
/// sequencer does, in transactions of its own.
struct TimelineWriter: Sendable {
  /// The NOTIFY channel `flush` signals on commit (collapsed to one per transaction).
  static let channel = "supportmesh_chat_timeline"

  private(set) var pending: [TimelineEntry] = []

  init() {}

  /// Gives `event` the conversation's next sequence (updating `conversation.last_sequence`) and
  /// queues it for `flush`. Record after changing the conversation: the entry is routed by the
  /// conversation's state after the event (its assigned agent, group and status).
  @discardableResult
  mutating func record(
    _ event: ConversationEvent.OneOf_Event, in conversation: inout Conversation, at time: Date,
    concerning extraAgentIDs: [String] = []
  ) -> ConversationEvent {
    conversation.lastSequence += 1
    var stored = ConversationEvent()
    stored.sequence = conversation.lastSequence
    stored.conversationID = conversation.conversationID
    stored.eventTime = Google_Protobuf_Timestamp(date: time)
    stored.event = event
    var agents = extraAgentIDs.filter { !$0.isEmpty }
    if !conversation.assignedAgentID.isEmpty && !agents.contains(conversation.assignedAgentID) {
      agents.insert(conversation.assignedAgentID, at: 0)
    }
    pending.append(
      TimelineEntry(position: 0, event: stored, agentIDs: agents, skillGroupID: conversation.skillGroupID, status: conversation.status))
    return stored
  }

  /// Writes the queued events (numbered after commit) and returns them, without positions.
  /// Does nothing when nothing was recorded.
  @discardableResult
  func flush(on connection: PostgresConnection, logger: Logger) async throws -> [TimelineEntry] {
    guard !pending.isEmpty else { return [] }
    var conversations: [UUID] = []
    var sequences: [Int64] = []
    var kinds: [Int16] = []
    var agentLists: [String] = []
    var groups: [String] = []
    var statuses: [Int16] = []
    var times: [Date] = []
    var bodies: [ByteBuffer] = []
    for entry in pending {
      conversations.append(UUID(uuidString: entry.event.conversationID)!)
      sequences.append(entry.event.sequence)
      kinds.append(Self.kind(of: entry.event))
      // text[] does not nest in unnest: agent lists travel as one comma-free joined string.
      agentLists.append(entry.agentIDs.joined(separator: "\u{1F}"))
      groups.append(entry.skillGroupID)
      statuses.append(Int16(entry.status.rawValue))
      times.append(entry.event.eventTime.date)
      bodies.append(try entry.event.bytea())
    }
    // WITH ORDINALITY keeps the recorded order in the entries (`entry` is taken per row in
    // insert order), so the sequencer numbers this transaction's events in that order.
    try await connection.query(
      """
      INSERT INTO conversation_events (conversation_id, sequence, kind, agent_ids, skill_group_id, status, created_at, body)
      SELECT c, s, k, CASE WHEN a = '' THEN '{}'::text[] ELSE string_to_array(a, E'\\x1F') END, g, st, t, b
      FROM unnest(\(conversations), \(sequences), \(kinds), \(agentLists), \(groups), \(statuses), \(times), \(bodies))
        WITH ORDINALITY AS e(c, s, k, a, g, st, t, b, o)
      ORDER BY o
      """, logger: logger)
    // Wakes the hubs, which number the events (TimelineSequencer) and hand them out.
    try await connection.query("SELECT pg_notify(\(Self.channel), '')", logger: logger)
    return pending
  }

  /// The ConversationEvent oneof field number of the event (its `kind` column).
  static func kind(of event: ConversationEvent) -> Int16 {
    switch event.event {
    case .messagePosted: 4
    case .typing: 5
    case .read: 6
    case .assigned: 7
    case .transferred: 8
    case .statusChanged: 9
    case .escalationUpdated: 10
    case .queuePosition: 11
    case .caughtUp: 12
    case .heartbeat: 13
    case nil: 0
    }
  }
}

/// The conversation row: locked read and write-back, shared by every handler that changes a
/// conversation.
enum ConversationRows {
  /// The conversation, its row locked until the transaction ends; nil when it does not exist.
  static func lock(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Conversation? {
    for try await body in try await connection.query(
      "SELECT body FROM conversations WHERE conversation_id = \(id) FOR UPDATE", logger: logger
    ).decode(ByteBuffer.self) {
      return try Conversation(bytea: body)
    }
    return nil
  }

  /// Writes the conversation back (its indexed columns and its body).
  static func save(_ conversation: Conversation, on connection: PostgresConnection, logger: Logger) async throws {
    var stored = conversation
    // Computed on read, never stored.
    stored.queuePosition = 0
    try await connection.query(
      """
      UPDATE conversations SET status = \(Int16(stored.status.rawValue)), skill_group_id = \(stored.skillGroupID),
        assigned_agent_id = \(stored.assignedAgentID), last_sequence = \(stored.lastSequence),
        enqueued_at = \(stored.enqueueTime.date), updated_at = \(stored.updateTime.date), version = \(stored.version),
        body = \(try stored.bytea())
      WHERE conversation_id = \(UUID(uuidString: stored.conversationID)!)
      """, logger: logger)
  }

  /// Writes back conversations a batch of messages changed, in one statement, with the shopper
  /// inactivity clock (InactivitySweeper.swift) as the last message leaves it: running from an
  /// agent's or the system's message, stopped by the shopper's.
  static func saveAfterMessages(
    _ conversations: [(conversation: Conversation, lastMessage: ChatMessage)], on connection: PostgresConnection, logger: Logger
  ) async throws {
    var ids: [UUID] = []
    var statuses: [Int16] = []
    var groups: [String] = []
    var agents: [String] = []
    var sequences: [Int64] = []
    var enqueued: [Date] = []
    var updated: [Date] = []
    var versions: [Int64] = []
    var bodies: [ByteBuffer] = []
    var clockRuns: [Bool] = []
    var clockSince: [Date] = []
    for (conversation, lastMessage) in conversations {
      var stored = conversation
      // Computed on read, never stored.
      stored.queuePosition = 0
      ids.append(UUID(uuidString: stored.conversationID)!)
      statuses.append(Int16(stored.status.rawValue))
      groups.append(stored.skillGroupID)
      agents.append(stored.assignedAgentID)
      sequences.append(stored.lastSequence)
      enqueued.append(stored.enqueueTime.date)
      updated.append(stored.updateTime.date)
      versions.append(stored.version)
      bodies.append(try stored.bytea())
      clockRuns.append(lastMessage.sender.kind != .shopper)
      clockSince.append(lastMessage.createTime.date)
    }
    try await connection.query(
      """
      UPDATE conversations AS c SET status = u.status, skill_group_id = u.skill_group_id, assigned_agent_id = u.assigned_agent_id,
        last_sequence = u.last_sequence, enqueued_at = u.enqueued_at, updated_at = u.updated_at, version = u.version, body = u.body,
        awaiting_shopper_since = CASE WHEN u.clock_runs THEN u.clock_since END
      FROM unnest(\(ids), \(statuses), \(groups), \(agents), \(sequences), \(enqueued), \(updated), \(versions), \(bodies),
          \(clockRuns), \(clockSince))
        AS u(conversation_id, status, skill_group_id, assigned_agent_id, last_sequence, enqueued_at, updated_at, version, body,
          clock_runs, clock_since)
      WHERE c.conversation_id = u.conversation_id
      """, logger: logger)
  }
}
