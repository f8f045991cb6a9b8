import Foundation
import Logging
import GRPCCore
import PostgresNIO
import ServiceKit
import Synchronization
import SupportCodec

/// The SQL behind ServiceQualityService: counts of measure values per group over a half-open
/// time range, complaint counts per category and bucket, and the subscriptions' progress. One
/// statement per question, answered from the measure indexes (no per-fact round trips).
struct QualityQueryStore: Sendable {
  let database: Database

  /// The request's filter, validated.
  struct Filter: Sendable {
    var agentIDs: [String] = []
    var categories: [String] = []
    var skillGroups: [String] = []
    var channels: [Int16] = []
    var ticketTypes: [String] = []
    var subjectKind: Int16 = 0

    /// No agent, category, skill group, channel or ticket type (subject kind aside).
    var hasNoDimensions: Bool {
      agentIDs.isEmpty && categories.isEmpty && skillGroups.isEmpty && channels.isEmpty && ticketTypes.isEmpty
    }
  }

  /// How many facts of one group have one value of one measure (durations: whole seconds,
  /// rounded up).
  struct Count: Sendable {
    /// The group_by values as text, in group_by order (a day, week or month as its start in µs
    /// since 1970).
    var key: [String]
    var measure: Int16
    var value: Int64
    var count: Int64
    /// Of those, the ones still holding at the end of the range (until_at unset or later).
    var holding: Int64
    /// Of those, the ones past `at` that were still open after it (overdue follow-ups).
    var overdue: Int64
    /// The sum of the exact values (milliseconds for durations).
    var valueSum: Int64
  }

  /// A builder for statements whose clauses depend on the request: values are always bound
  /// parameters; only fixed fragments from this file are spliced.
  struct Statement {
    var sql = ""
    var binds = PostgresBindings()
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
      binds.append(value)
      return "$\(binds.count)"
    }
    /// A bound instant given in µs since 1970, exactly (no floating-point Date on the way).
    mutating func instant(_ micros: Int64) -> String { "('epoch'::timestamptz + \(bind(micros)) * interval '1 microsecond')" }
    /// The filter's clauses (" AND …"), values bound.
    mutating func clauses(_ filter: Filter) -> String {
      var sql = ""
      if !filter.agentIDs.isEmpty { sql += " AND agent_id = ANY(\(bind(filter.agentIDs)))" }
      if !filter.categories.isEmpty { sql += " AND category = ANY(\(bind(filter.categories)))" }
      if !filter.skillGroups.isEmpty { sql += " AND skill_group = ANY(\(bind(filter.skillGroups)))" }
      if !filter.channels.isEmpty { sql += " AND channel = ANY(\(bind(filter.channels)))" }
      if !filter.ticketTypes.isEmpty { sql += " AND ticket_type = ANY(\(bind(filter.ticketTypes)))" }
      if filter.subjectKind != 0 { sql += " AND subject_kind = \(bind(filter.subjectKind))" }
      return sql
    }
    mutating func filter(_ filter: Filter) { sql += clauses(filter) }
    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
  }

  static func micros(_ column: String) -> String { "(extract(epoch FROM \(column)) * 1000000)::bigint" }

  /// Counts per group_by key, measure and (bucketed) value over [start, end), from three tiers:
  /// the daily totals for the whole days of quality_day_zone inside the range (only when the
  /// request filters and groups by nothing but subject kind and time, and groups by time only
  /// in that zone), the hourly buckets for the other whole UTC hours, and the measure rows for
  /// the partial hours at the edges, the rows that are never bucketed, and everything in a
  /// zone whose offset is not whole hours. `withOrders` false leaves delivered orders out (they
  /// have no agent, category, skill group or channel).
  func counts(
    start: Int64, end: Int64, groupBy: [Support_Feedback_V1_MetricsDimension], timeZone: String, filter: Filter, withOrders: Bool, logger: Logger
  ) async throws -> [Count] {
    // A transaction of its own, for SET LOCAL work_mem (see below).
    try await database.withTransaction(logger: logger) { connection in
      try await Self.counts(
        start: start, end: end, groupBy: groupBy, timeZone: timeZone, filter: filter, withOrders: withOrders, tiers: .all, on: connection, logger: logger)
    }
  }

  /// Which stored aggregates a count may read (all give the same numbers; tests compare them).
  enum Tiers: Sendable { case all, hourlyAndRows, rowsOnly }

  static func counts(
    start: Int64, end: Int64, groupBy: [Support_Feedback_V1_MetricsDimension], timeZone: String, filter: Filter, withOrders: Bool,
    tiers: Tiers, on connection: PostgresConnection, logger: Logger
  ) async throws -> [Count] {
    let hour = HourlyDelta.hourMicros
    var fullStart = (start + hour - 1) / hour * hour
    var fullEnd = end / hour * hour
    let timeDimensions: Set<Support_Feedback_V1_MetricsDimension> = [.day, .week, .month]
    // The zone splits the range only when rows are grouped by day, week or month.
    let zoneSplits = groupBy.contains(where: timeDimensions.contains)
    if fullStart >= fullEnd || (zoneSplits && !Self.wholeHourOffsets(timeZone, start, end)) || tiers == .rowsOnly {
      fullStart = end
      fullEnd = end
    }
    var dayStart = fullEnd, dayEnd = fullEnd
    var dayZone = ""
    if tiers == .all, filter.hasNoDimensions, groupBy.allSatisfy(timeDimensions.contains) {
      dayZone = try await Self.dayZone(on: connection, logger: logger)
      if groupBy.isEmpty || timeZone == dayZone, let days = Self.wholeDays(fullStart, fullEnd, in: dayZone) {
        (dayStart, dayEnd) = days
      }
    }
    var s = Statement()
    let startParam = s.instant(start), endParam = s.instant(end)
    let fullStartParam = s.instant(fullStart), fullEndParam = s.instant(fullEnd)
    let dayStartParam = s.instant(dayStart), dayEndParam = s.instant(dayEnd)
    let zone = s.bind(timeZone)
    /// `time` is a local midnight of the request's zone when `isDayStart` (the daily tier, read
    /// only in that zone when grouped by time): its day is itself.
    func key(_ time: String, isDayStart: Bool = false) -> String {
      let keys = groupBy.map { dimension -> String in
        switch dimension {
        case .agent: "agent_id"
        case .category: "category"
        case .skillGroup: "skill_group"
        case .channel: "channel::text"
        case .day where isDayStart: "\(Self.micros(time))::text"
        case .day, .week, .month:
          "\(Self.micros("date_trunc('\(dimension == .day ? "day" : dimension == .week ? "week" : "month")', \(time) AT TIME ZONE \(zone)) AT TIME ZONE \(zone)"))::text"
        case .unspecified, .UNRECOGNIZED: "''"
        }
      }
      return keys.isEmpty ? "'[]'" : "json_build_array(\(keys.joined(separator: ", ")))::text"
    }
    let orders = withOrders ? "" : " AND measure <> \(QualityMeasure.Kind.deliveredOrder.rawValue)"
    let clauses = s.clauses(filter)
    let raw = """
      SELECT \(key("at")) AS k, measure, CASE WHEN measure IN (1, 2, 3) THEN (value + 999) / 1000 ELSE value END AS v, 1::bigint AS n,
        (until_at IS NULL OR until_at >= \(endParam))::int::bigint AS holding,
        (at < now() AND (until_at IS NULL OR until_at > at))::int::bigint AS overdue, value AS value_sum
      FROM quality_measures
      WHERE ((at >= \(startParam) AND at < \(fullStartParam)) OR (at >= \(fullEndParam) AND at < \(endParam))
        OR (at >= \(fullStartParam) AND at < \(fullEndParam) AND (until_at IS NOT NULL OR measure = 12)))\(clauses)\(orders)
      """
    let hourly = """
      SELECT \(key("hour")) AS k, measure, value AS v, count AS n, count AS holding, 0::bigint AS overdue, value_sum
      FROM quality_hourly WHERE ((hour >= \(fullStartParam) AND hour < \(dayStartParam)) OR (hour >= \(dayEndParam) AND hour < \(fullEndParam)))
        AND count <> 0\(clauses)\(orders)
      """
    // The whole days: folded ones from the daily totals, marked ones (QualityDailyFolder has
    // not recomputed them since their last change) from the hourly buckets.
    var dirty = "", daily = ""
    if dayStart < dayEnd {
      let dayZoneParam = s.bind(dayZone)
      dirty = """
        WITH dirty AS (
          SELECT DISTINCT day, ((day AT TIME ZONE \(dayZoneParam)) + interval '1 day') AT TIME ZONE \(dayZoneParam) AS day_end
          FROM quality_daily_dirty WHERE day >= \(dayStartParam) AND day < \(dayEndParam))

        """
      daily = """
         UNION ALL SELECT \(key("day", isDayStart: true)) AS k, measure, value AS v, count AS n, count AS holding, 0::bigint AS overdue, value_sum
        FROM quality_daily WHERE day >= \(dayStartParam) AND day < \(dayEndParam) AND day NOT IN (SELECT day FROM dirty) AND count <> 0\(clauses)\(orders)
         UNION ALL SELECT \(key("h.hour")) AS k, measure, value AS v, count AS n, count AS holding, 0::bigint AS overdue, value_sum
        FROM dirty JOIN quality_hourly h ON h.hour >= dirty.day AND h.hour < dirty.day_end WHERE count <> 0\(clauses)\(orders)
        """
    }
    s.sql = """
      \(dirty)SELECT k, measure, v, sum(n)::bigint, sum(holding)::bigint, sum(overdue)::bigint, sum(value_sum)::bigint
      FROM (\(raw) UNION ALL \(hourly)\(daily)) AS facts GROUP BY 1, 2, 3
      """
    // A year of days holds tens of thousands of (day, measure, value) groups: room to
    // aggregate them in memory rather than in batches on disk (PostgreSQL's default is 4 MB).
    // For the caller's transaction (outside one it would end with its own statement). No JIT:
    // the planner cannot bound the marked days' join, its cost estimate passes jit_above_cost,
    // and compiling costs ~450 ms where the statement runs in tens.
    try await connection.query("SELECT set_config('work_mem', '32MB', true), set_config('jit', 'off', true)", logger: logger)
    return try await Self.decodeCounts(s.query, on: connection, logger: logger)
  }

  private static func decodeCounts(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [Count] {
    var out: [Count] = []
    // Rows share few keys (a day has a row per measure and value): each is decoded once.
    var keys: [String: [String]] = [:]
    for try await (key, measure, value, count, holding, overdue, sum) in try await connection.query(query, logger: logger)
      .decode((String, Int16, Int64, Int64, Int64, Int64, Int64).self)
    {
      let values: [String]
      if let known = keys[key] {
        values = known
      } else {
        values = try JSONDecoder().decode([String].self, from: Data(key.utf8))
        keys[key] = values
      }
      out.append(Count(key: values, measure: measure, value: value, count: count, holding: holding, overdue: overdue, valueSum: sum))
    }
    return out
  }

  /// The counts of every group summed per measure and value (the total of a grouping in which
  /// each fact falls in exactly one group).
  static func merged(_ counts: [Count]) -> [Count] {
    struct Key: Hashable { var measure: Int16, value: Int64 }
    var sums: [Key: Count] = [:]
    for count in counts {
      let key = Key(measure: count.measure, value: count.value)
      var sum = sums[key] ?? Count(key: [], measure: count.measure, value: count.value, count: 0, holding: 0, overdue: 0, valueSum: 0)
      sum.count += count.count
      sum.holding += count.holding
      sum.overdue += count.overdue
      sum.valueSum += count.valueSum
      sums[key] = sum
    }
    return Array(sums.values)
  }

  /// quality_day_zone's zone, read once per process (a migration sets it; it never changes
  /// while processes run).
  static func dayZone(on connection: PostgresConnection, logger: Logger) async throws -> String {
    if let zone = cachedDayZone.withLock({ $0 }) { return zone }
    for try await zone in try await connection.query("SELECT zone FROM quality_day_zone", logger: logger).decode(String.self) {
      cachedDayZone.withLock { $0 = zone }
      return zone
    }
    throw RPCError(code: .internalError, message: "the quality numbers are not set up (quality_day_zone is empty)")
  }
  private static let cachedDayZone = Mutex<String?>(nil)

  /// The first and last local midnights of `zone` in [from, to] (µs), when at least one whole
  /// day lies between them and both fall on whole UTC hours (so the hourly buckets cover the
  /// rest of the range exactly); nil otherwise.
  static func wholeDays(_ from: Int64, _ to: Int64, in zone: String) -> (Int64, Int64)? {
    guard from < to, let tz = TimeZone(identifier: zone) else { return nil }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = tz
    let fromDate = Micros.date(from)
    var first = calendar.startOfDay(for: fromDate)
    if first < fromDate { first = calendar.date(byAdding: .day, value: 1, to: first) ?? first }
    let last = calendar.startOfDay(for: Micros.date(to))
    let (firstMicros, lastMicros) = (Micros.of(first), Micros.of(last))
    let hour = HourlyDelta.hourMicros
    guard firstMicros < lastMicros, firstMicros >= from, lastMicros <= to, firstMicros % hour == 0, lastMicros % hour == 0 else { return nil }
    return (firstMicros, lastMicros)
  }

  /// Whether `zone` is a whole number of hours from UTC at both ends of the range (then hourly
  /// buckets split days, weeks and months exactly).
  static func wholeHourOffsets(_ zone: String, _ start: Int64, _ end: Int64) -> Bool {
    guard let tz = TimeZone(identifier: zone) else { return zone == "UTC" }
    return [start, end].allSatisfy { tz.secondsFromGMT(for: Micros.date($0)) % 3600 == 0 }
  }

  /// Complaints per category and bucket start (µs, in `timeZone`, `unit` day/week/month) over
  /// [start, end).
  func complaintBuckets(start: Int64, end: Int64, unit: String, timeZone: String, filter: Filter, logger: Logger) async throws -> [(category: String, bucket: Int64, count: Int64)] {
    var s = Statement()
    let zone = s.bind(timeZone)
    let unitParam = s.bind(unit)
    let startParam = s.instant(start)
    let endParam = s.instant(end)
    s.sql = """
      SELECT category, \(Self.micros("date_trunc(\(unitParam), at AT TIME ZONE \(zone)) AT TIME ZONE \(zone)")), count(*)
      FROM quality_measures WHERE measure = \(QualityMeasure.Kind.complaint.rawValue) AND at >= \(startParam) AND at < \(endParam)
      """
    s.filter(filter)
    s.sql += " GROUP BY 1, 2"
    let statement = s
    return try await database.withConnection(logger: logger) { connection -> [(category: String, bucket: Int64, count: Int64)] in
      let rows: PostgresRowSequence = try await connection.query(statement.query, logger: logger)
      var out: [(category: String, bucket: Int64, count: Int64)] = []
      for try await (category, bucket, count) in rows.decode((String, Int64, Int64).self) { out.append((category, bucket, count)) }
      return out
    }
  }

  /// The starts (µs) of every `unit` bucket overlapping [start, end) in `timeZone`, oldest first.
  func bucketStarts(start: Int64, end: Int64, unit: String, timeZone: String, logger: Logger) async throws -> [Int64] {
    var s = Statement()
    let zone = s.bind(timeZone)
    let unitParam = s.bind(unit)
    let startParam = s.instant(start)
    let endParam = s.instant(end)
    s.sql = """
      SELECT \(Self.micros("g AT TIME ZONE \(zone)")) FROM generate_series(
        date_trunc(\(unitParam), \(startParam)::timestamptz AT TIME ZONE \(zone)),
        (\(endParam)::timestamptz AT TIME ZONE \(zone)) - interval '1 microsecond',
        ('1 ' || \(unitParam))::interval) AS g
      """
    let statement = s
    return try await database.withConnection(logger: logger) { connection -> [Int64] in
      let rows: PostgresRowSequence = try await connection.query(statement.query, logger: logger)
      var out: [Int64] = []
      for try await start in rows.decode(Int64.self) { out.append(start) }
      return out
    }
  }

  /// Every consumed event that occurred before this instant has been applied: the earliest of
  /// the subscriptions' progress; nil until each has been caught up once.
  func throughTime(_ subscriptions: [String], logger: Logger) async throws -> Date? {
    try await database.withConnection(logger: logger) { connection in
      for try await (count, earliest) in try await connection.query(
        "SELECT count(*), min(through_time) FROM quality_progress WHERE subscription = ANY(\(subscriptions))", logger: logger
      ).decode((Int64, Date?).self) {
        return count == Int64(subscriptions.count) ? earliest : nil
      }
      return nil
    }
  }
}
