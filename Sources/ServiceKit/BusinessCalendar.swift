import Foundation

/// When a desk works: service hours per weekday in a time zone, minus holiday dates. Service
/// levels counted "on the calendar" only count these hours. Pure: the same calendar and
/// instants always give the same answer, so due times can be recomputed and tested.
///
/// No service hours means every hour of every day (holidays are still skipped); no hours and
/// no holidays is plain wall-clock time.
public struct BusinessCalendar: Sendable, Equatable {
  /// Service hours of one weekday, local time, in minutes after midnight.
  public struct Hours: Sendable, Equatable {
    /// 1 = Monday ... 7 = Sunday (ISO 8601).
    public var weekday: Int
    public var openMinute: Int
    /// After openMinute; at most 1440 (midnight, the end of the day).
    public var closeMinute: Int

    public init(weekday: Int, openMinute: Int, closeMinute: Int) {
      self.weekday = weekday
      self.openMinute = openMinute
      self.closeMinute = closeMinute
    }
  }

  public var timeZone: TimeZone
  public var hours: [Hours]
  /// Local dates without service, "YYYY-MM-DD".
  public var holidays: Set<String>

  /// Every hour of every day in UTC.
  public static let wallClock = BusinessCalendar(timeZone: TimeZone(identifier: "UTC")!, hours: [], holidays: [])

  /// How far `add` looks for service hours before giving up (a calendar of only holidays).
  static let maxDays = 366 * 20

  public init(timeZone: TimeZone, hours: [Hours], holidays: Set<String>) {
    self.timeZone = timeZone
    self.hours = hours
    self.holidays = holidays
  }

  public var isWallClock: Bool { hours.isEmpty && holidays.isEmpty }

  /// The instant `seconds` of service time after `start`; a start outside service hours counts
  /// from the next opening. Nil only when the calendar has no service time in 20 years.
  public func add(_ seconds: TimeInterval, to start: Date) -> Date? {
    if isWallClock { return start.addingTimeInterval(seconds) }
    if seconds <= 0 { return start }
    var remaining = seconds
    var day = localDay(of: start)
    for _ in 0..<Self.maxDays {
      for interval in serviceIntervals(on: day) where interval.end > start {
        let from = max(interval.start, start)
        let length = interval.end.timeIntervalSince(from)
        if length >= remaining { return from.addingTimeInterval(remaining) }
        remaining -= length
      }
      day = next(day)
    }
    return nil
  }

  /// Service seconds in [from, to); zero when `to` is not after `from`.
  public func seconds(from: Date, to: Date) -> TimeInterval {
    guard to > from else { return 0 }
    if isWallClock { return to.timeIntervalSince(from) }
    var total: TimeInterval = 0
    var day = localDay(of: from)
    let last = localDay(of: to)
    for _ in 0..<Self.maxDays {
      for interval in serviceIntervals(on: day) {
        let start = max(interval.start, from)
        let end = min(interval.end, to)
        if end > start { total += end.timeIntervalSince(start) }
      }
      if day == last { break }
      day = next(day)
    }
    return total
  }

  // MARK: - days

  /// A local calendar date.
  struct Day: Equatable {
    var year: Int
    var month: Int
    var day: Int

    var iso: String { String(format: "%04d-%02d-%02d", year, month, day) }
  }

  private var gregorian: Calendar {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = timeZone
    return calendar
  }

  func localDay(of instant: Date) -> Day {
    let parts = gregorian.dateComponents([.year, .month, .day], from: instant)
    return Day(year: parts.year!, month: parts.month!, day: parts.day!)
  }

  private func next(_ day: Day) -> Day {
    let noon = localInstant(day, minute: 12 * 60)
    return localDay(of: gregorian.date(byAdding: .day, value: 1, to: noon)!)
  }

  /// The instant of a local wall time on a day. A time skipped by a DST change resolves to the
  /// next valid instant; 1440 is the start of the next day.
  private func localInstant(_ day: Day, minute: Int) -> Date {
    if minute >= 1440 { return localInstant(next(day), minute: 0) }
    let parts = DateComponents(year: day.year, month: day.month, day: day.day, hour: minute / 60, minute: minute % 60)
    return gregorian.date(from: parts)!
  }

  /// The day's service intervals as instants, in order (empty on a holiday or a closed day).
  func serviceIntervals(on day: Day) -> [(start: Date, end: Date)] {
    if holidays.contains(day.iso) { return [] }
    let noon = localInstant(day, minute: 12 * 60)
    let foundationWeekday = gregorian.component(.weekday, from: noon)  // 1 = Sunday
    let isoWeekday = (foundationWeekday + 5) % 7 + 1
    let spans = hours.isEmpty ? [Hours(weekday: isoWeekday, openMinute: 0, closeMinute: 1440)] : hours.filter { $0.weekday == isoWeekday }
    return spans.sorted { $0.openMinute < $1.openMinute }.map {
      (localInstant(day, minute: $0.openMinute), localInstant(day, minute: $0.closeMinute))
    }
  }
}
