import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import SupportCodec

/// SkillGroup.inactivity_timeout: an ACTIVE conversation whose shopper stayed silent that long
/// after the desk last wrote closes INACTIVITY_TIMEOUT (closed by the system, with the closing
/// greeting, freeing the agent's slot). A conversation whose shopper wrote last waits for the
/// agent and never times out on the shopper.
///
/// `conversations.awaiting_shopper_since` is the clock: set to the time of every agent or
/// system message, cleared by every shopper message (written with the conversation's row by
/// SendMessage: `ConversationRows.saveAfterMessages`). Each due conversation is
/// closed in its own transaction, with its row locked and checked again, so sweepers on
/// several chat instances never close one twice.
struct InactivitySweeper: Service {
  let database: Database
  let outbox: EventOutbox
  let closing: ClosingSettings
  let interval: Duration
  let logger: Logger
  /// Conversations closed per sweep (the rest wait for the next one).
  static let batchSize: Int64 = 100
  static let actor = Support_Common_V1_Actor.with { $0.kind = .system; $0.id = "chat-inactivity" }

  static let migration = Migration(
    version: 12, name: "shopper inactivity clock",
    sql: """
      ALTER TABLE conversations ADD COLUMN awaiting_shopper_since timestamptz;
      -- InactivitySweeper: the ACTIVE conversations waiting on their shopper, oldest first.
      CREATE INDEX conversations_awaiting_shopper_idx ON conversations (awaiting_shopper_since)
        WHERE status = 2 AND awaiting_shopper_since IS NOT NULL;
      """)

  /// Stops the clock (an assignment: the shopper now waits on the new agent).
  static func clear(_ conversation: Conversation, on connection: PostgresConnection, logger: Logger) async throws {
    guard let id = UUID(uuidString: conversation.conversationID) else { return }
    try await connection.query(
      "UPDATE conversations SET awaiting_shopper_since = NULL WHERE conversation_id = \(id) AND awaiting_shopper_since IS NOT NULL",
      logger: logger)
  }

  func run() async throws {
    await PeriodicWork.run("inactivity sweep", every: interval, firstAfter: interval, logger: logger) { _ = try await sweep() }
  }

  /// Closes the conversations whose shopper has been silent past their group's timeout;
  /// returns how many.
  func sweep(now: Date = Date.nowMicroseconds) async throws -> Int {
    let active = Int16(Support_Chat_V1_ConversationStatus.active.rawValue)
    let due = try await database.withConnection(logger: logger) { connection in
      var due: [UUID] = []
      for try await id in try await connection.query(
        """
        SELECT c.conversation_id
        FROM conversations c JOIN skill_groups g ON g.skill_group_id = c.skill_group_id
        WHERE c.status = \(active) AND c.awaiting_shopper_since IS NOT NULL
          -- The index bounds the scan by the shortest timeout of any group.
          AND c.awaiting_shopper_since <= \(now) - (SELECT min(inactivity_timeout_us) FROM skill_groups) * interval '1 microsecond'
          AND c.awaiting_shopper_since + g.inactivity_timeout_us * interval '1 microsecond' <= \(now)
        ORDER BY c.awaiting_shopper_since LIMIT \(Self.batchSize)
        """, logger: logger
      ).decode(UUID.self) {
        due.append(id)
      }
      return due
    }
    var closed = 0
    for id in due {
      if try await close(id, now: now) { closed += 1 }
    }
    return closed
  }

  /// Closes one conversation if, under its row lock, it is still ACTIVE and still due.
  private func close(_ id: UUID, now: Date) async throws -> Bool {
    try await database.withTransaction(logger: logger) { connection in
      guard var conversation = try await ConversationRows.lock(id, on: connection, logger: logger), conversation.status == .active else {
        return false
      }
      var stillDue = false
      for try await due in try await connection.query(
        """
        SELECT c.awaiting_shopper_since + g.inactivity_timeout_us * interval '1 microsecond' <= \(now)
        FROM conversations c JOIN skill_groups g ON g.skill_group_id = c.skill_group_id
        WHERE c.conversation_id = \(id) AND c.awaiting_shopper_since IS NOT NULL
        """, logger: logger
      ).decode(Bool.self) {
        stillDue = due
      }
      guard stillDue else { return false }
      var writer = TimelineWriter()
      try await ConversationClosing.close(
        &conversation, reason: .inactivityTimeout, note: "the shopper did not answer within the skill group's inactivity timeout",
        actor: Self.actor, skipRatingInvitation: false, settings: closing, outbox: outbox, writer: &writer, at: now,
        on: connection, logger: logger)
      try await writer.flush(on: connection, logger: logger)
      logger.info("conversation closed for shopper inactivity", metadata: ["conversation_id": "\(id)"])
      return true
    }
  }
}
