import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle

/// Keeps `quality_daily` equal to `quality_hourly` summed per day of the reporting zone.
///
/// Writers never touch the daily rows: a day's few rows (one per measure and value) would be
/// locked by every fact written that day, so the event consumers and the survey and follow-up
/// calls would queue on each other (and deadlock across days). A fact change appends the days
/// it touched to `quality_daily_dirty` instead (insert-only: no writer waits on another), and
/// this folder recomputes those days from the hourly buckets and removes the marks it saw, in
/// one transaction, one folder at a time across instances. A report reads a marked day from the
/// hourly buckets (QualityQueryStore), so the numbers are exact whether or not it is folded.
struct QualityDailyFolder: Service {
  let database: Database
  let interval: Duration
  let logger: Logger
  /// Marks taken per transaction (a burst of late events marks many).
  static let batchSize = 5000

  func run() async throws {
    await PeriodicWork.run("quality daily fold", every: interval, firstAfter: interval, logger: logger) {
      while !Task.isCancelled {
        let marks = try await database.withTransaction(logger: logger) { connection in
          try await Self.fold(limit: Self.batchSize, on: connection, logger: logger)
        }
        if marks < Self.batchSize { break }
      }
    }
  }

  /// Folds the oldest marked days, in the caller's transaction; returns the marks removed (0
  /// when another instance is folding).
  @discardableResult
  static func fold(limit: Int = batchSize, on connection: PostgresConnection, logger: Logger) async throws -> Int {
    for try await locked in try await connection.query(
      "SELECT pg_try_advisory_xact_lock(hashtext('supportmesh.feedback.quality-daily-fold'))", logger: logger
    ).decode(Bool.self) where !locked {
      return 0
    }
    // Marks committed after this statement's snapshot stay: their days are folded next time.
    var days = Set<Date>()
    var marks = 0
    for try await day in try await connection.query(
      """
      DELETE FROM quality_daily_dirty WHERE id IN (SELECT id FROM quality_daily_dirty ORDER BY id LIMIT \(Int64(limit)))
      RETURNING day
      """, logger: logger
    ).decode(Date.self) {
      days.insert(day)
      marks += 1
    }
    guard !days.isEmpty else { return 0 }
    let list = Array(days)
    try await connection.query("DELETE FROM quality_daily WHERE day = ANY(\(list))", logger: logger)
    try await connection.query(
      """
      INSERT INTO quality_daily (day, measure, value, subject_kind, count, value_sum)
      SELECT d.day, h.measure, h.value, h.subject_kind, sum(h.count), sum(h.value_sum)
      FROM unnest(\(list)::timestamptz[]) AS d(day) CROSS JOIN quality_day_zone z
        JOIN quality_hourly h ON h.hour >= d.day AND h.hour < ((d.day AT TIME ZONE z.zone) + interval '1 day') AT TIME ZONE z.zone
      GROUP BY 1, 2, 3, 4 HAVING sum(h.count) <> 0 OR sum(h.value_sum) <> 0
      """, logger: logger)
    return marks
  }
}
