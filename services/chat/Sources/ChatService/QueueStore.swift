import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// Reads of the queues: positions, snapshots for GetQueuePosition, and ListConversations pages.
enum QueueRows {
  /// 1-based place in line: the QUEUED conversations of the group ahead of it by
  /// (enqueued_at, conversation_id), the order routing assigns in (conversations_queue_idx).
  static let positionSQL = """
    CASE WHEN c.status = 1 THEN (
      SELECT count(*) FROM conversations q
      WHERE q.status = 1 AND q.skill_group_id = c.skill_group_id
        AND (q.enqueued_at, q.conversation_id) < (c.enqueued_at, c.conversation_id)) + 1
    ELSE 0 END
    """

  static func conversation(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Conversation? {
    for try await (body, position) in try await connection.query(
      "SELECT c.body, \(unescaped: positionSQL) FROM conversations c WHERE c.conversation_id = \(id)", logger: logger
    ).decode((ByteBuffer, Int64).self) {
      var conversation = try Conversation(bytea: body)
      conversation.queuePosition = Int32(clamping: position)
      return conversation
    }
    return nil
  }

  static func position(of conversation: Conversation, on connection: PostgresConnection, logger: Logger) async throws -> Int32 {
    guard let id = UUID(uuidString: conversation.conversationID) else { return 0 }
    return try await self.conversation(id, on: connection, logger: logger)?.queuePosition ?? 0
  }

  /// How far back assignments count for the wait estimate.
  static let rateWindowMicros: Int64 = 30 * 60 * 1_000_000

  /// GetQueuePosition's answer, in one statement: position, queue length, online agents, and
  /// the group's assignments in the last 30 minutes for the estimate.
  static func snapshot(of conversation: Conversation, on connection: PostgresConnection, logger: Logger) async throws -> Support_Chat_V1_QueuePosition {
    let id = UUID(uuidString: conversation.conversationID)!
    let now = Date.nowMicroseconds
    let since = Date(timeIntervalSince1970: now.timeIntervalSince1970 - Double(rateWindowMicros) / 1_000_000)
    var snapshot = Support_Chat_V1_QueuePosition()
    snapshot.conversationID = conversation.conversationID
    snapshot.skillGroupID = conversation.skillGroupID
    snapshot.computeTime = now.timestamp
    for try await (position, length, online, recent, oldest) in try await connection.query(
      """
      SELECT \(unescaped: positionSQL),
        (SELECT count(*) FROM conversations q WHERE q.status = 1 AND q.skill_group_id = c.skill_group_id),
        (SELECT count(*) FROM agent_skill_groups m JOIN agents a ON a.agent_id = m.agent_id
          WHERE m.skill_group_id = c.skill_group_id AND a.presence = 1),
        (SELECT count(*) FROM conversation_assignments r WHERE r.skill_group_id = c.skill_group_id AND r.assigned_at > \(since)),
        (SELECT min(r.assigned_at) FROM conversation_assignments r WHERE r.skill_group_id = c.skill_group_id AND r.assigned_at > \(since))
      FROM conversations c WHERE c.conversation_id = \(id)
      """, logger: logger
    ).decode((Int64, Int64, Int64, Int64, Date?).self) {
      snapshot.position = Int32(clamping: position)
      snapshot.queueLength = Int32(clamping: length)
      snapshot.onlineAgentCount = Int32(clamping: online)
      if let wait = estimatedWait(position: position, online: online, recentAssignments: recent, oldest: oldest, now: now) {
        snapshot.estimatedWait = wait
      }
    }
    return snapshot
  }

  /// The places in line of those of `watched` that wait in `group`'s queue, with the group's
  /// figures, in one statement: what WatchConversation pushes when the line moves.
  static func snapshots(
    in group: String, among watched: [UUID], on connection: PostgresConnection, logger: Logger
  ) async throws -> [Support_Chat_V1_QueuePosition] {
    let now = Date.nowMicroseconds
    let since = Date(timeIntervalSince1970: now.timeIntervalSince1970 - Double(rateWindowMicros) / 1_000_000)
    var snapshots: [Support_Chat_V1_QueuePosition] = []
    for try await (id, position, length, online, recent, oldest) in try await connection.query(
      """
      SELECT q.conversation_id, q.position, q.length,
        (SELECT count(*) FROM agent_skill_groups m JOIN agents a ON a.agent_id = m.agent_id
          WHERE m.skill_group_id = \(group) AND a.presence = 1),
        (SELECT count(*) FROM conversation_assignments r WHERE r.skill_group_id = \(group) AND r.assigned_at > \(since)),
        (SELECT min(r.assigned_at) FROM conversation_assignments r WHERE r.skill_group_id = \(group) AND r.assigned_at > \(since))
      FROM (
        SELECT conversation_id, row_number() OVER (ORDER BY enqueued_at, conversation_id) AS position, count(*) OVER () AS length
        FROM conversations WHERE status = 1 AND skill_group_id = \(group)
      ) q
      WHERE q.conversation_id = ANY(\(watched))
      """, logger: logger
    ).decode((UUID, Int64, Int64, Int64, Int64, Date?).self) {
      var snapshot = Support_Chat_V1_QueuePosition()
      snapshot.conversationID = id.uuidString.lowercased()
      snapshot.skillGroupID = group
      snapshot.position = Int32(clamping: position)
      snapshot.queueLength = Int32(clamping: length)
      snapshot.onlineAgentCount = Int32(clamping: online)
      snapshot.computeTime = now.timestamp
      if let wait = estimatedWait(position: position, online: online, recentAssignments: recent, oldest: oldest, now: now) {
        snapshot.estimatedWait = wait
      }
      snapshots.append(snapshot)
    }
    return snapshots
  }

  /// position × the mean time between the group's recent assignments (measured from the
  /// oldest one in the window, at least a minute, so a burst does not promise an instant
  /// answer). Unset with nobody online (nobody will be assigned) or no recent assignment.
  static func estimatedWait(position: Int64, online: Int64, recentAssignments: Int64, oldest: Date?, now: Date) -> Google_Protobuf_Duration? {
    guard online > 0, recentAssignments > 0, let oldest else { return nil }
    let span = max(now.timeIntervalSince(oldest), 60)
    let seconds = Double(position) * span / Double(recentAssignments)
    return Google_Protobuf_Duration(rounding: seconds, rule: .toNearestOrAwayFromZero)
  }

  struct ListFilter: Sendable {
    var agentID: String
    var shopperID: String
    var statuses: [Int16]
    var skillGroupID: String
    var offlineOnly: Bool
    var orderID: String
    /// `statuses` is exactly [QUEUED]: queue order (oldest enqueue first) instead of newest first.
    var queueOrder: Bool { statuses == [Int16(Support_Chat_V1_ConversationStatus.queued.rawValue)] }
  }

  /// One page of ListConversations after the cursor (key = micros of the sort time, id = the
  /// conversation id), with live queue positions.
  static func list(
    _ filter: ListFilter, after cursor: PageCursor?, limit: Int, on connection: PostgresConnection, logger: Logger
  ) async throws -> [(conversation: Conversation, sortMicros: Int64)] {
    var bindings = PostgresBindings()
    func bind<T: PostgresNonThrowingEncodable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    let sortColumn = filter.queueOrder ? "c.enqueued_at" : "c.created_at"
    var sql = "SELECT c.body, \(positionSQL), (extract(epoch FROM \(sortColumn)) * 1000000)::bigint FROM conversations c WHERE true"
    if !filter.agentID.isEmpty {
      sql += " AND c.assigned_agent_id = \(bind(filter.agentID))"
      // The agent's inbox: what they hold now. Their closed conversations only when asked
      // for by status (a closed conversation keeps its last agent).
      if filter.statuses.isEmpty { sql += " AND c.status <> \(bind(Int16(Support_Chat_V1_ConversationStatus.closed.rawValue)))" }
    }
    if !filter.shopperID.isEmpty { sql += " AND c.shopper_id = \(bind(filter.shopperID))" }
    if !filter.statuses.isEmpty { sql += " AND c.status = ANY(\(bind(filter.statuses)))" }
    if !filter.skillGroupID.isEmpty { sql += " AND c.skill_group_id = \(bind(filter.skillGroupID))" }
    if filter.offlineOnly { sql += " AND c.offline" }
    if !filter.orderID.isEmpty { sql += " AND c.order_id = \(bind(filter.orderID))" }
    if let cursor, let id = UUID(uuidString: cursor.id) {
      let time = "'epoch'::timestamptz + \(bind(cursor.key)) * interval '1 microsecond'"
      sql += filter.queueOrder
        ? " AND (\(sortColumn), c.conversation_id) > (\(time), \(bind(id)))"
        : " AND (\(sortColumn), c.conversation_id) < (\(time), \(bind(id)))"
    }
    sql += filter.queueOrder
      ? " ORDER BY c.enqueued_at, c.conversation_id" : " ORDER BY c.created_at DESC, c.conversation_id DESC"
    sql += " LIMIT \(bind(Int64(limit)))"
    var page: [(conversation: Conversation, sortMicros: Int64)] = []
    for try await (body, position, micros) in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
      .decode((ByteBuffer, Int64, Int64).self)
    {
      var conversation = try Conversation(bytea: body)
      conversation.queuePosition = Int32(clamping: position)
      page.append((conversation, micros))
    }
    return page
  }
}
