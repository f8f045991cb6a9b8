import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The SQL of quality facts: read a subject's merged fact (locked), store it and replace its
/// measures, all in the caller's transaction (an event consumer's, or a survey/follow-up
/// change's), so the numbers always match the facts.
enum QualityFactStore {
  /// The subject's fact, locked until the transaction ends; nil when none is stored yet.
  static func locked<Fact: Decodable>(_ key: String, as type: Fact.Type, on connection: PostgresConnection, logger: Logger) async throws -> Fact? {
    for try await body in try await connection.query(
      "SELECT body::text FROM quality_facts WHERE fact_key = \(key) FOR UPDATE", logger: logger
    ).decode(String.self) {
      return try JSONDecoder().decode(Fact.self, from: Data(body.utf8))
    }
    return nil
  }

  /// The subject's fact as committed, without locking it (the caller holds `lockSubject`).
  static func read<Fact: Decodable>(_ key: String, as type: Fact.Type, on connection: PostgresConnection, logger: Logger) async throws -> Fact? {
    for try await body in try await connection.query(
      "SELECT body::text FROM quality_facts WHERE fact_key = \(key)", logger: logger
    ).decode(String.self) {
      return try JSONDecoder().decode(Fact.self, from: Data(body.utf8))
    }
    return nil
  }

  /// The source recorded for a fact ('' when none or no fact yet); a source never changes.
  static func sourceKey(of key: String, on connection: PostgresConnection, logger: Logger) async throws -> String {
    for try await source in try await connection.query(
      "SELECT source_key FROM quality_facts WHERE fact_key = \(key)", logger: logger
    ).decode(String.self) {
      return source
    }
    return ""
  }

  /// Serialises the transactions about one subject even before its fact row exists (a
  /// transaction-scoped advisory lock on the key).
  static func lockSubject(_ key: String, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 7))", logger: logger)
  }

  /// Stores the merged fact and replaces what it contributes. Replacing (rather than adding)
  /// is what makes a redelivered or late event harmless: the rows depend only on the fact.
  static func save<Fact: Encodable>(
    _ key: String, _ fact: Fact, sourceKey: String = "", measures: [QualityMeasure], on connection: PostgresConnection, logger: Logger
  ) async throws {
    let body = String(decoding: try JSONEncoder().encode(fact), as: UTF8.self)
    try await connection.query(
      """
      INSERT INTO quality_facts (fact_key, source_key, body) VALUES (\(key), \(sourceKey), \(body)::jsonb)
      ON CONFLICT (fact_key) DO UPDATE SET source_key = EXCLUDED.source_key, body = EXCLUDED.body, updated_at = now()
      """, logger: logger)
    try await replaceMeasures(key, measures, on: connection, logger: logger)
  }

  static func replaceMeasures(_ key: String, _ measures: [QualityMeasure], on connection: PostgresConnection, logger: Logger) async throws {
    var delta = HourlyDelta()
    let old: PostgresRowSequence = try await connection.query(
      """
      DELETE FROM quality_measures WHERE fact_key = \(key)
      RETURNING measure, \(unescaped: QualityQueryStore.micros("at")), value, until_at IS NULL, agent_id, category, skill_group, channel, ticket_type, subject_kind
      """, logger: logger)
    for try await (kind, at, value, open, agent, category, group, channel, type, subject) in old.decode(
      (Int16, Int64, Int64, Bool, String, String, String, Int16, String, Int16).self)
    {
      guard let kind = QualityMeasure.Kind(rawValue: kind) else { continue }
      let dims = QualityMeasure.Dimensions(agentID: agent, category: category, skillGroup: group, channel: channel, ticketType: type, subjectKind: subject)
      delta.add(QualityMeasure(kind: kind, atMicros: at, value: value, untilMicros: open ? nil : 0, dimensions: dims), sign: -1)
    }
    for m in measures {
      let d = m.dimensions
      try await connection.query(
        """
        INSERT INTO quality_measures (fact_key, measure, at, value, until_at, agent_id, category, skill_group, channel, ticket_type, subject_kind)
        VALUES (\(key), \(m.kind.rawValue), 'epoch'::timestamptz + \(m.atMicros) * interval '1 microsecond', \(m.value),
          'epoch'::timestamptz + \(m.untilMicros) * interval '1 microsecond',
          \(d.agentID), \(d.category), \(d.skillGroup), \(d.channel), \(d.ticketType), \(d.subjectKind))
        """, logger: logger)
      delta.add(m, sign: 1)
    }
    try await delta.apply(on: connection, logger: logger)
  }

  /// Keys of the facts whose source is `sourceKey` (complaints raised from a conversation).
  static func keys(withSource sourceKey: String, on connection: PostgresConnection, logger: Logger) async throws -> [String] {
    var keys: [String] = []
    for try await key in try await connection.query(
      "SELECT fact_key FROM quality_facts WHERE source_key = \(sourceKey) ORDER BY fact_key", logger: logger
    ).decode(String.self) {
      keys.append(key)
    }
    return keys
  }

  /// Records that a subscription was caught up at `time` (a heartbeat's send time).
  static func recordProgress(_ subscription: String, through time: Date, database: Database, logger: Logger) async throws {
    try await database.withConnection(logger: logger) { connection in
      try await connection.query(
        """
        INSERT INTO quality_progress (subscription, through_time) VALUES (\(subscription), \(time))
        ON CONFLICT (subscription) DO UPDATE SET through_time = GREATEST(quality_progress.through_time, EXCLUDED.through_time)
        """, logger: logger)
    }
  }
}
