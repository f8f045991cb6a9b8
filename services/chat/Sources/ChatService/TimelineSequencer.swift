import Logging
import PostgresNIO
import ServiceKit

/// Gives committed conversation events their chat-wide timeline positions (the inbox
/// sequence), after the writing transaction committed.
///
/// Writers used to take the next positions from `timeline_head` inside their own transaction,
/// so the counter's row lock was held through every commit's WAL flush and chat wrote one
/// transaction at a time: about 350 a second on this machine whatever the number of
/// conversations (pgbench, docs/benchmarks.md), when concurrent commits otherwise share their
/// flushes (2,800 a second). Now a writer inserts its events without a position (each gets an
/// `entry` from a sequence at insert), and the hub of any chat instance, woken by the writer's
/// NOTIFY, numbers every committed unnumbered event in one short transaction under that lock:
/// - positions stay gapless and only ever appear in order: each numbering transaction takes the
///   range after the previous one, which committed before it got the lock, so a reader that has
///   passed N never sees a smaller position appear later (the hub's and WatchInbox's rule);
/// - a conversation's events keep their order: a conversation's writers queue on its row, so
///   its later event is inserted (a larger `entry`) and committed after its earlier one, and
///   numbering goes by `entry` among committed rows.
/// An event is visible to WatchConversation replay (by conversation sequence) at once, and to
/// WatchInbox and the hub once numbered, a few milliseconds later.
enum TimelineSequencer {
  static let migration = Migration(
    version: 13, name: "timeline positions after commit",
    sql: """
      -- TimelineSequencer.swift: events are inserted without a position and numbered after
      -- commit in `entry` order (a sequence, taken at insert).
      CREATE SEQUENCE conversation_events_entry_seq;
      ALTER TABLE conversation_events ADD COLUMN entry bigint NOT NULL DEFAULT nextval('conversation_events_entry_seq');
      ALTER SEQUENCE conversation_events_entry_seq OWNED BY conversation_events.entry;
      ALTER TABLE conversation_events DROP CONSTRAINT conversation_events_pkey;
      ALTER TABLE conversation_events ALTER COLUMN position DROP NOT NULL;
      ALTER TABLE conversation_events ADD PRIMARY KEY (entry);
      CREATE UNIQUE INDEX conversation_events_position_idx ON conversation_events (position);
      CREATE INDEX conversation_events_unnumbered_idx ON conversation_events (entry) WHERE position IS NULL;
      """
  )

  /// Numbers the committed events still without a position, oldest entry first, at most
  /// `limit` per transaction until none is left; true when any was numbered. One statement
  /// checks first, so an idle wake-up costs no transaction.
  @discardableResult
  static func numberPending(limit: Int, database: Database, logger: Logger) async throws -> Bool {
    var numberedAny = false
    while true {
      let pending = try await database.withConnection(logger: logger) { connection in
        try await connection.query(
          "SELECT EXISTS (SELECT 1 FROM conversation_events WHERE position IS NULL)", logger: logger
        ).decode(Bool.self).reduce(false) { $0 || $1 }
      }
      guard pending else { return numberedAny }
      let numbered = try await database.withTransaction(logger: logger) { connection in
        // The lock first, in a statement of its own: the next statement's snapshot is then
        // taken after it, and sees the events an earlier numbering (which held the lock)
        // already numbered.
        _ = try await connection.query("SELECT position FROM timeline_head FOR UPDATE", logger: logger).collect()
        var count: Int64 = 0
        for try await numbered in try await connection.query(
          """
          WITH batch AS (
            SELECT entry, row_number() OVER (ORDER BY entry) AS n FROM conversation_events
            WHERE position IS NULL ORDER BY entry LIMIT \(Int64(limit))
          ), numbered AS (
            UPDATE conversation_events e SET position = h.position + batch.n
            FROM batch, timeline_head h WHERE e.entry = batch.entry RETURNING 1
          )
          UPDATE timeline_head SET position = position + (SELECT count(*) FROM numbered)
          RETURNING (SELECT count(*) FROM numbered)
          """, logger: logger
        ).decode(Int64.self) {
          count = numbered
        }
        if count > 0 { try await connection.query("SELECT pg_notify(\(TimelineWriter.channel), '')", logger: logger) }
        return count
      }
      numberedAny = numberedAny || numbered > 0
      if numbered < limit { return numberedAny }
    }
  }
}
