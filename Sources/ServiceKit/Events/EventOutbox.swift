import Foundation
import Logging
import NIOCore
import PostgresNIO
import SupportCodec
import SwiftProtobuf

public typealias EventEnvelope = Support_Events_V1_EventEnvelope

/// A producer's transactional outbox, which is also its event log (docs/events.md).
///
/// A store calls `append` inside the transaction that makes the change the event announces, so
/// the event is committed if and only if the change is. The rows are served, in position order,
/// by `EventLogService` (support.events.v1.EventLog/StreamEvents).
///
/// ## Positions: gapless and in commit order
///
/// A position drawn from a sequence at insert time is NOT safe to resume from: transaction A
/// draws 10, transaction B draws 11 and commits first, a reader sees 11 and moves on, then A
/// commits 10 behind the reader's back, and the reader never sees it.
///
/// Here positions come from a one-row counter, `event_log_head`, that `append` increments
/// (`UPDATE … SET position = position + 1 RETURNING position`). The UPDATE takes the row's lock
/// and PostgreSQL holds it until the transaction ends, so the next producer's UPDATE waits until
/// this one has committed (then numbers after it) or rolled back (then its increment is undone
/// and the number is reused: no gap). Hence position order IS commit order, and a snapshot
/// that sees position N committed also sees every position below N (PostgreSQL makes a
/// commit visible before it releases the transaction's locks). A reader that has passed N can
/// never find a smaller position appearing later: nothing is skipped.
///
/// Chosen over "only number rows whose xid is below pg_snapshot_xmin" because it needs no
/// background assigner (an event is readable the moment it commits), keeps positions gapless
/// (so a consumer can check continuity), and costs one row lock held from the append to the
/// commit. That lock serialises producing transactions of one schema only for that window:
/// call `append` as the LAST statement of the transaction, after the business writes, so the
/// window is the commit itself. (The session's lock_timeout bounds a wait behind a slow one.)
public struct EventOutbox: Sendable {
  /// The producing service's name, written into every envelope ("tickets").
  public let producer: String
  /// The schema holding the outbox; names the NOTIFY channel.
  public let schema: String

  public init(producer: String, schema: String) {
    self.producer = producer
    self.schema = schema
  }

  /// The NOTIFY channel `append` signals on commit; `EventLogNotifier` listens to it.
  public var channel: String { Self.channel(schema: schema) }

  public static func channel(schema: String) -> String { "supportmesh_events_\(schema)" }

  /// The migration that creates the outbox in a service's schema; add it to the service's
  /// migrations with the next free version.
  public static func migration(version: Int) -> Migration {
    Migration(
      version: version, name: "event outbox (ServiceKit EventOutbox)",
      sql: """
        CREATE TABLE event_outbox (
          position bigint PRIMARY KEY,
          event_id uuid NOT NULL UNIQUE,
          event_type text NOT NULL,
          subject text NOT NULL,
          occurred_at timestamptz NOT NULL,
          envelope bytea NOT NULL
        );
        -- Filtered streams (StreamEvents with types) and retention.
        CREATE INDEX event_outbox_type_idx ON event_outbox (event_type, position);
        CREATE INDEX event_outbox_occurred_idx ON event_outbox (occurred_at);
        -- The log's head: the last position handed out (its row lock orders commits) and the
        -- last position removed by retention.
        CREATE TABLE event_log_head (
          singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
          position bigint NOT NULL,
          pruned_through bigint NOT NULL
        );
        INSERT INTO event_log_head (singleton, position, pruned_through) VALUES (true, 0, 0);
        """)
  }

  /// Writes `payload` to the outbox in the caller's transaction and returns the envelope as
  /// stored (with its position). Call it last in the transaction (see the type's comment).
  ///
  /// - Parameters:
  ///   - subject: the ordering key, the id of the entity the event is about (ticket id…).
  ///   - eventID: the deduplication key; a retried operation that must not announce twice
  ///     passes a stable one (a second append of the same id fails with a unique violation).
  ///   - occurredAt: when the change happened (defaults to now).
  @discardableResult
  public func append(
    _ payload: EventEnvelope.OneOf_Payload, subject: String, eventID: UUID = UUID(), occurredAt: Date = Date(),
    requestID: String? = nil, on connection: PostgresConnection, logger: Logger
  ) async throws -> EventEnvelope {
    var envelope = EventEnvelope()
    envelope.eventID = eventID.uuidString.lowercased()
    envelope.producer = producer
    envelope.occurTime = Google_Protobuf_Timestamp(date: occurredAt)
    envelope.requestID = requestID ?? RequestContext.current?.requestID ?? ""
    envelope.traceparent = RequestContext.current?.traceparent ?? ""
    envelope.type = payload.typeName
    envelope.subject = subject
    envelope.payload = payload
    var position: Int64?
    for try await next in try await connection.execute(NextPosition(), logger: logger) { position = next }
    guard let position else {
      throw MigrationError(description: "\(schema).event_log_head has no row: the outbox migration was not applied")
    }
    envelope.position = position
    _ = try await connection.execute(
      InsertEvent(
        position: position, eventID: eventID, type: envelope.type, subject: subject, occurredAt: occurredAt,
        envelope: try envelope.bytea()), logger: logger)
    // Delivered after commit, to listeners only; collapsed to one per transaction.
    try await connection.query("SELECT pg_notify(\(channel), '')", logger: logger)
    return envelope
  }
}

/// One read of the log: what a stream sends next, in one snapshot.
public struct EventLogBatch: Sendable {
  /// The newest committed position (in the snapshot the events were read in).
  public var head: Int64
  /// Positions at or below this were removed by retention.
  public var prunedThrough: Int64
  public var events: [EventEnvelope]
  /// Every event at or below this position that matches the filter is in `events` or was
  /// sent before: a safe position to resume after.
  public var scannedThrough: Int64
  /// Whether the read stopped at its limit (more may be waiting).
  public var full: Bool
}

public enum EventLogReader {
  /// The events after `after` (of `types`, or all when empty), at most `limit`, in position
  /// order, with the log's head and retention mark read in the same snapshot.
  public static func read(after: Int64, types: [String], limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> EventLogBatch {
    var head: Int64 = 0
    var pruned: Int64 = 0
    var events: [EventEnvelope] = []
    for try await (rowHead, rowPruned, _, envelope) in try await connection.execute(
      ReadEvents(after: after, types: types, limit: Int64(limit)), logger: logger)
    {
      head = rowHead
      pruned = rowPruned
      if let envelope { events.append(try EventEnvelope(bytea: envelope)) }
    }
    let full = events.count >= limit
    let scanned = full ? events.last!.position : max(head, after)
    return EventLogBatch(head: head, prunedThrough: pruned, events: events, scannedThrough: scanned, full: full)
  }

  /// The log's head and retention mark.
  public static func head(on connection: PostgresConnection, logger: Logger) async throws -> (head: Int64, prunedThrough: Int64, retained: Int64) {
    let rows = try await connection.query(
      "SELECT h.position, h.pruned_through, (SELECT count(*) FROM event_outbox) FROM event_log_head h", logger: logger
    ).decode((Int64, Int64, Int64).self)
    for try await row in rows { return row }
    return (0, 0, 0)
  }

  /// Removes events that occurred before `cutoff`, oldest first, in chunks; returns how many.
  /// Only a prefix of the log is removed (everything up to the newest position that is old
  /// enough), so the retained log stays contiguous and `pruned_through` says where it starts.
  public static func prune(before cutoff: Date, database: Database, logger: Logger, chunk: Int64 = 10_000) async throws -> Int64 {
    var removed: Int64 = 0
    while true {
      let count = try await database.withTransaction(logger: logger) { connection -> Int64 in
        var newestOld: Int64?
        var pruned: Int64 = 0
        for try await (position, mark) in try await connection.query(
          """
          SELECT (SELECT max(position) FROM event_outbox WHERE occurred_at < \(cutoff)), pruned_through FROM event_log_head
          """, logger: logger
        ).decode((Int64?, Int64).self) {
          newestOld = position
          pruned = mark
        }
        guard let newestOld, newestOld > pruned else { return 0 }
        let through = min(newestOld, pruned + chunk)
        let deleted = try await connection.query("DELETE FROM event_outbox WHERE position <= \(through) RETURNING 1", logger: logger).collect().count
        // Last, so the head row (which producers lock) is held only for the commit.
        try await connection.query("UPDATE event_log_head SET pruned_through = \(through) WHERE pruned_through < \(through)", logger: logger)
        return Int64(deleted)
      }
      removed += count
      if count == 0 { return removed }
    }
  }
}

/// Hands out the next position; its row lock orders producing transactions (see EventOutbox).
struct NextPosition: PostgresPreparedStatement {
  static let sql = "UPDATE event_log_head SET position = position + 1 RETURNING position"
  typealias Row = Int64

  func makeBindings() throws -> PostgresBindings { PostgresBindings() }
  func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
}

struct InsertEvent: PostgresPreparedStatement {
  static let sql = """
    INSERT INTO event_outbox (position, event_id, event_type, subject, occurred_at, envelope) VALUES ($1, $2, $3, $4, $5, $6)
    """
  typealias Row = Int
  var position: Int64
  var eventID: UUID
  var type: String
  var subject: String
  var occurredAt: Date
  var envelope: ByteBuffer

  func makeBindings() throws -> PostgresBindings {
    var bindings = PostgresBindings()
    bindings.append(position)
    bindings.append(eventID)
    bindings.append(type)
    bindings.append(subject)
    bindings.append(occurredAt)
    bindings.append(envelope)
    return bindings
  }

  func decodeRow(_ row: PostgresRow) throws -> Int { 0 }
}

/// The next events and the head, in one statement (one snapshot). The head row is joined to
/// the events so that an empty result still reports the head.
struct ReadEvents: PostgresPreparedStatement {
  static let sql = """
    SELECT h.position, h.pruned_through, e.position, e.envelope
    FROM event_log_head h
    LEFT JOIN LATERAL (
      SELECT o.position, o.envelope FROM event_outbox o
      WHERE o.position > $1 AND o.position <= h.position
        AND (cardinality($2::text[]) = 0 OR o.event_type = ANY($2::text[]))
      ORDER BY o.position
      LIMIT $3
    ) e ON true
    ORDER BY e.position
    """
  typealias Row = (Int64, Int64, Int64?, ByteBuffer?)
  var after: Int64
  var types: [String]
  var limit: Int64

  func makeBindings() throws -> PostgresBindings {
    var bindings = PostgresBindings()
    bindings.append(after)
    bindings.append(types)
    bindings.append(limit)
    return bindings
  }

  func decodeRow(_ row: PostgresRow) throws -> Row {
    try row.decode(Row.self)
  }
}
