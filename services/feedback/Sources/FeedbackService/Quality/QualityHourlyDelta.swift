import Foundation
import Logging
import PostgresNIO

/// The change one fact makes to the hourly buckets (quality_hourly): its old contribution
/// subtracted, its new one added. Written in one statement with the rows in key order, so
/// concurrent writers lock buckets in the same order; a change that changes nothing (a
/// redelivery) writes nothing. The days it touched are marked for QualityDailyFolder.
struct HourlyDelta {
  struct Key: Hashable, Comparable {
    var hour: Int64
    var measure: Int16
    var value: Int64
    var agentID: String
    var category: String
    var skillGroup: String
    var channel: Int16
    var ticketType: String
    var subjectKind: Int16

    static func < (a: Key, b: Key) -> Bool {
      (a.hour, a.measure, a.value, a.agentID, a.category, a.skillGroup) < (b.hour, b.measure, b.value, b.agentID, b.category, b.skillGroup)
        || (a.hour, a.measure, a.value, a.agentID, a.category, a.skillGroup) == (b.hour, b.measure, b.value, b.agentID, b.category, b.skillGroup)
        && (a.channel, a.ticketType, a.subjectKind) < (b.channel, b.ticketType, b.subjectKind)
    }
  }

  static let hourMicros: Int64 = 3_600_000_000
  var changes: [Key: (count: Int64, sum: Int64)] = [:]

  /// Durations are bucketed at whole seconds, rounded up, so "≤ target" (whole seconds) stays
  /// exact; other values as they are.
  static func bucketValue(_ kind: QualityMeasure.Kind, _ value: Int64) -> Int64 {
    switch kind {
    case .chatFirstResponse, .ticketFirstResponse, .resolutionTime: (value + 999) / 1000
    default: value
    }
  }

  /// Whether a measure row is bucketed: not when its contribution can end (until_at) or
  /// depends on the clock (follow-ups due).
  static func isBucketed(_ m: QualityMeasure) -> Bool { m.untilMicros == nil && m.kind != .followUpDue }

  mutating func add(_ m: QualityMeasure, sign: Int64) {
    guard Self.isBucketed(m) else { return }
    let d = m.dimensions
    let hour = m.atMicros - ((m.atMicros % Self.hourMicros) + Self.hourMicros) % Self.hourMicros
    let key = Key(
      hour: hour, measure: m.kind.rawValue, value: Self.bucketValue(m.kind, m.value), agentID: d.agentID, category: d.category,
      skillGroup: d.skillGroup, channel: d.channel, ticketType: d.ticketType, subjectKind: d.subjectKind)
    var entry = changes[key] ?? (0, 0)
    entry.count += sign
    entry.sum += sign * m.value
    changes[key] = entry
  }

  func apply(on connection: PostgresConnection, logger: Logger) async throws {
    let rows = changes.filter { $0.value.count != 0 || $0.value.sum != 0 }.sorted { $0.key < $1.key }
    guard !rows.isEmpty else { return }
    var s = QualityQueryStore.Statement()
    var values: [String] = []
    for (key, change) in rows {
      values.append(
        "(\(s.instant(key.hour)), \(s.bind(key.measure)), \(s.bind(key.value)), \(s.bind(key.agentID)), \(s.bind(key.category)), "
          + "\(s.bind(key.skillGroup)), \(s.bind(key.channel)), \(s.bind(key.ticketType)), \(s.bind(key.subjectKind)), "
          + "\(s.bind(change.count)), \(s.bind(change.sum)))")
    }
    s.sql = """
      INSERT INTO quality_hourly (hour, measure, value, agent_id, category, skill_group, channel, ticket_type, subject_kind, count, value_sum)
      VALUES \(values.joined(separator: ", "))
      ON CONFLICT (hour, measure, value, agent_id, category, skill_group, channel, ticket_type, subject_kind)
      DO UPDATE SET count = quality_hourly.count + EXCLUDED.count, value_sum = quality_hourly.value_sum + EXCLUDED.value_sum
      """
    try await connection.query(s.query, logger: logger)
    try await applyDaily(rows, on: connection, logger: logger)
  }

  /// Marks the days of quality_day_zone the change touched as stale in quality_daily
  /// (QualityDailyFolder recomputes them): an insert-only statement, so no writer waits on
  /// another. The days are computed by PostgreSQL from the stored zone.
  private func applyDaily(_ rows: [(key: Key, value: (count: Int64, sum: Int64))], on connection: PostgresConnection, logger: Logger) async throws {
    let hours = Array(Set(rows.map { Micros.date($0.key.hour) }))
    guard !hours.isEmpty else { return }
    try await connection.query(
      """
      INSERT INTO quality_daily_dirty (day)
      SELECT DISTINCT date_trunc('day', h AT TIME ZONE z.zone) AT TIME ZONE z.zone FROM unnest(\(hours)::timestamptz[]) AS h, quality_day_zone z
      """, logger: logger)
  }
}
