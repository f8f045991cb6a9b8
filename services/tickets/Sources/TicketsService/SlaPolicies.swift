import Foundation
import ServiceKit
import SupportCodec
import SwiftProtobuf

typealias SlaPolicy = Support_Tickets_V1_SlaPolicy
typealias SlaTarget = Support_Tickets_V1_SlaTarget
typealias SlaMilestone = Support_Tickets_V1_SlaMilestone
typealias SlaClock = Support_Tickets_V1_SlaClock

/// The rules of an SLA policy (sla.proto): the built-in default, validation of an update, and
/// which target applies to a case. Pure; the stored policy is read by `SlaPolicyStore`.
enum SlaPolicies {
  static let defaultAtRiskShare = 0.8
  static let maxTargetSeconds: Int64 = 365 * 86_400

  /// The policy before any UpdateSlaPolicy (version 0): the environment's first-response and
  /// resolution hours, the source documents' other targets, every hour of every day.
  static func defaultPolicy(_ env: TicketsPolicy) -> SlaPolicy {
    func rule(_ milestone: SlaMilestone, hours: Int, business: Bool = false) -> SlaTarget {
      .with {
        $0.milestone = milestone
        $0.target = .init(seconds: Int64(hours) * 3600)
        $0.businessTime = business
      }
    }
    return .with {
      $0.version = 0
      $0.targets = [
        rule(.firstResponse, hours: env.firstResponseHours),
        rule(.complaintReply, hours: 48),
        rule(.resolution, hours: env.resolutionHours),
        rule(.repairCompletion, hours: 7 * 24, business: true),
        // The furthest ahead an agent may promise the shopper (SetPromisedTime).
        rule(.promised, hours: 720),
      ]
      $0.calendar = .with { $0.timeZone = "UTC" }
      $0.atRiskShare = defaultAtRiskShare
    }
  }

  /// The rule for a milestone of a case: the most specific of `policy` (type and priority, then
  /// type, then priority, then neither), else the default's.
  static func target(_ milestone: SlaMilestone, type: TicketType, priority: Support_Tickets_V1_Priority, in policy: SlaPolicy, defaults: SlaPolicy) -> SlaTarget? {
    func best(_ rules: [SlaTarget]) -> SlaTarget? {
      rules.filter { $0.milestone == milestone && ($0.type == .unspecified || $0.type == type) && ($0.priority == .unspecified || $0.priority == priority) }
        .max { specificity($0) < specificity($1) }
    }
    return best(policy.targets) ?? best(defaults.targets)
  }

  private static func specificity(_ rule: SlaTarget) -> Int {
    (rule.type != .unspecified ? 2 : 0) + (rule.priority != .unspecified ? 1 : 0)
  }

  /// The policy's calendar as arithmetic (validated before it is stored).
  static func calendar(_ policy: SlaPolicy) -> BusinessCalendar {
    let calendar = policy.calendar
    return BusinessCalendar(
      timeZone: TimeZone(identifier: calendar.timeZone.isEmpty ? "UTC" : calendar.timeZone) ?? TimeZone(identifier: "UTC")!,
      hours: calendar.serviceHours.map { .init(weekday: Int($0.weekday), openMinute: Int($0.openMinute), closeMinute: Int($0.closeMinute)) },
      holidays: Set(calendar.holidays))
  }

  /// INVALID_ARGUMENT naming the field for anything UpdateSlaPolicy refuses (sla.proto).
  static func validate(_ policy: SlaPolicy) throws {
    try Validate.maxCount(policy.targets, "policy.targets", 200)
    var seen = Set<String>()
    for (index, rule) in policy.targets.enumerated() {
      let field = "policy.targets[\(index)]"
      try Validate.specified(rule.milestone, "\(field).milestone")
      try Validate.known(rule.type, "\(field).type")
      try Validate.known(rule.priority, "\(field).priority")
      let seconds = rule.target.seconds
      guard rule.hasTarget, seconds > 0 || rule.target.nanos > 0, seconds <= maxTargetSeconds, rule.target.nanos >= 0 else {
        throw ServiceError.invalidArgument("\(field).target", "must be positive and at most 365 days")
      }
      let key = "\(rule.milestone.rawValue)/\(rule.type.rawValue)/\(rule.priority.rawValue)"
      guard seen.insert(key).inserted else {
        throw ServiceError.invalidArgument("\(field)", "repeats the milestone, type and priority of an earlier target")
      }
    }
    guard policy.atRiskShare >= 0, policy.atRiskShare <= 1, !policy.atRiskShare.isNaN else {
      throw ServiceError.invalidArgument("policy.at_risk_share", "must be in (0, 1] (0 means the default 0.8)")
    }
    let calendar = policy.calendar
    if !calendar.timeZone.isEmpty && TimeZone(identifier: calendar.timeZone) == nil {
      throw ServiceError.invalidArgument("policy.calendar.time_zone", "\"\(calendar.timeZone)\" is not an IANA time zone")
    }
    try Validate.maxCount(calendar.serviceHours, "policy.calendar.service_hours", 100)
    for (index, hours) in calendar.serviceHours.enumerated() {
      let field = "policy.calendar.service_hours[\(index)]"
      guard (1...7).contains(hours.weekday) else { throw ServiceError.invalidArgument("\(field).weekday", "must be 1 (Monday) to 7 (Sunday)") }
      guard hours.openMinute >= 0, hours.openMinute < hours.closeMinute, hours.closeMinute <= 1440 else {
        throw ServiceError.invalidArgument("\(field)", "needs 0 <= open_minute < close_minute <= 1440")
      }
    }
    try Validate.maxCount(calendar.holidays, "policy.calendar.holidays", 1000)
    var gregorian = Calendar(identifier: .gregorian)
    gregorian.timeZone = TimeZone(identifier: "UTC")!
    for (index, holiday) in calendar.holidays.enumerated() {
      // YYYY-MM-DD exactly: digits in groups of 4, 2 and 2, and a real date.
      let groups = holiday.split(separator: "-", omittingEmptySubsequences: false)
      let parts = groups.compactMap { group in group.allSatisfy { $0.isASCII && $0.isNumber } ? Int(group) : nil }
      guard groups.map(\.count) == [4, 2, 2], parts.count == 3,
        DateComponents(calendar: gregorian, year: parts[0], month: parts[1], day: parts[2]).isValidDate
      else { throw ServiceError.invalidArgument("policy.calendar.holidays[\(index)]", "\"\(holiday)\" is not a YYYY-MM-DD date") }
    }
  }

  /// The policy as stored: the update's content, its share defaulted, the bookkeeping set.
  static func normalized(_ policy: SlaPolicy, version: Int64, by actor: Support_Common_V1_Actor, at now: Date) -> SlaPolicy {
    var stored = policy
    if stored.atRiskShare == 0 { stored.atRiskShare = defaultAtRiskShare }
    if stored.calendar.timeZone.isEmpty { stored.calendar.timeZone = "UTC" }
    stored.version = version
    stored.updateTime = now.timestamp
    stored.updatedBy = actor
    return stored
  }
}
