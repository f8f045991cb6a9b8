import Foundation
import ServiceKit
import Testing

/// Business-time arithmetic of SLA targets counted on a store calendar.
@Suite("Business calendar")
struct BusinessCalendarTests {
  static func at(_ iso: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: iso)!
  }

  static func weekdays(_ zone: String, open: Int = 9 * 60, close: Int = 18 * 60, holidays: Set<String> = []) -> BusinessCalendar {
    BusinessCalendar(
      timeZone: TimeZone(identifier: zone)!, hours: (1...5).map { .init(weekday: $0, openMinute: open, closeMinute: close) },
      holidays: holidays)
  }

  @Test("wall clock adds and counts plain seconds")
  func wallClock() {
    let start = Self.at("2026-11-27T09:00:00Z")
    #expect(BusinessCalendar.wallClock.add(3600, to: start) == Self.at("2026-11-27T10:00:00Z"))
    #expect(BusinessCalendar.wallClock.seconds(from: start, to: Self.at("2026-11-29T09:00:00Z")) == 2 * 86_400)
    #expect(BusinessCalendar.wallClock.seconds(from: Self.at("2026-11-29T09:00:00Z"), to: start) == 0)
  }

  @Test("Friday evening plus two hours is Monday morning (Asia/Shanghai, no DST)")
  func overWeekend() {
    let calendar = Self.weekdays("Asia/Shanghai")
    // Friday 17:00 +08: one hour left on Friday, one on Monday from 09:00.
    let due = calendar.add(2 * 3600, to: Self.at("2026-11-27T17:00:00+08:00"))
    #expect(due == Self.at("2026-11-30T10:00:00+08:00"))
    #expect(calendar.seconds(from: Self.at("2026-11-27T17:00:00+08:00"), to: Self.at("2026-11-30T10:00:00+08:00")) == 2 * 3600)
  }

  @Test("a start outside service hours counts from the next opening")
  func startOutsideHours() {
    let calendar = Self.weekdays("Asia/Shanghai")
    #expect(calendar.add(3600, to: Self.at("2026-11-28T12:00:00+08:00")) == Self.at("2026-11-30T10:00:00+08:00"))  // Saturday
    #expect(calendar.add(3600, to: Self.at("2026-11-30T07:30:00+08:00")) == Self.at("2026-11-30T10:00:00+08:00"))  // before opening
    #expect(calendar.add(3600, to: Self.at("2026-11-30T19:00:00+08:00")) == Self.at("2026-12-01T10:00:00+08:00"))  // after closing
    #expect(calendar.seconds(from: Self.at("2026-11-28T00:00:00+08:00"), to: Self.at("2026-11-29T23:59:00+08:00")) == 0)
  }

  @Test("holidays are skipped")
  func holidays() {
    let calendar = Self.weekdays("Asia/Shanghai", holidays: ["2026-11-30"])
    #expect(calendar.add(2 * 3600, to: Self.at("2026-11-27T17:00:00+08:00")) == Self.at("2026-12-01T10:00:00+08:00"))
    #expect(calendar.seconds(from: Self.at("2026-11-30T00:00:00+08:00"), to: Self.at("2026-12-01T00:00:00+08:00")) == 0)
    // Every hour of every day except the holiday.
    let allHours = BusinessCalendar(timeZone: TimeZone(identifier: "Asia/Shanghai")!, hours: [], holidays: ["2026-11-30"])
    #expect(allHours.add(3600, to: Self.at("2026-11-29T23:30:00+08:00")) == Self.at("2026-12-01T00:30:00+08:00"))
  }

  @Test("seven working days of nine hours end on the seventh working day's close")
  func sevenWorkingDays() {
    let calendar = Self.weekdays("Asia/Shanghai")
    // Thursday 09:00 + 63 h of service = Thu, Fri, Mon, Tue, Wed, Thu, Fri (7 x 9 h).
    #expect(calendar.add(63 * 3600, to: Self.at("2026-11-26T09:00:00+08:00")) == Self.at("2026-12-04T18:00:00+08:00"))
  }

  @Test("split shifts count only their hours")
  func splitShifts() {
    let calendar = BusinessCalendar(
      timeZone: TimeZone(identifier: "Asia/Shanghai")!,
      hours: [.init(weekday: 1, openMinute: 13 * 60, closeMinute: 18 * 60), .init(weekday: 1, openMinute: 9 * 60, closeMinute: 12 * 60)],
      holidays: [])
    // Monday 11:00: one hour before lunch, then from 13:00.
    #expect(calendar.add(2 * 3600, to: Self.at("2026-11-30T11:00:00+08:00")) == Self.at("2026-11-30T14:00:00+08:00"))
    #expect(calendar.seconds(from: Self.at("2026-11-30T00:00:00+08:00"), to: Self.at("2026-12-01T00:00:00+08:00")) == 8 * 3600)
    // Monday gives 6 h (11-12, 13-18); the other 3 h are the next Monday's 09:00-12:00.
    #expect(calendar.add(9 * 3600, to: Self.at("2026-11-30T11:00:00+08:00")) == Self.at("2026-12-07T12:00:00+08:00"))
  }

  @Test("local service hours hold across a DST change (America/New_York)")
  func daylightSaving() {
    let calendar = Self.weekdays("America/New_York", open: 9 * 60, close: 17 * 60)
    // Friday 16:00 EST, DST starts Sunday 2026-03-08: Monday 10:00 is EDT (-04:00).
    #expect(calendar.add(2 * 3600, to: Self.at("2026-03-06T16:00:00-05:00")) == Self.at("2026-03-09T10:00:00-04:00"))
    // The day DST ends (2026-11-01) has 25 hours; every-hour service counts them all.
    let allDay = BusinessCalendar(
      timeZone: TimeZone(identifier: "America/New_York")!, hours: (1...7).map { .init(weekday: $0, openMinute: 0, closeMinute: 1440) },
      holidays: [])
    #expect(allDay.seconds(from: Self.at("2026-11-01T00:00:00-04:00"), to: Self.at("2026-11-02T00:00:00-05:00")) == 25 * 3600)
    #expect(allDay.add(24 * 3600, to: Self.at("2026-11-01T00:00:00-04:00")) == Self.at("2026-11-01T23:00:00-05:00"))
  }

  @Test("adding then counting gives the seconds back")
  func roundTrip() {
    let calendar = Self.weekdays("Asia/Shanghai", holidays: ["2026-12-02"])
    let start = Self.at("2026-11-26T20:15:00+08:00")
    for hours in [0.5, 1, 8.75, 9, 27, 100] {
      let due = calendar.add(hours * 3600, to: start)!
      #expect(calendar.seconds(from: start, to: due) == hours * 3600)
    }
  }
}
