import Foundation
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// A case's SLA clocks (TicketSla.clocks): started at creation from the policy, and their
/// state derived from the case as of a moment. The case's due and met fields stay the source
/// of truth (pauses and reopens move them, TicketWorkflow.swift); a clock follows them, and its
/// at-risk time moves by as much as its due time.
extension Ticket {
  /// The milestones every case tracks.
  static let trackedMilestones: [SlaMilestone] = [.firstResponse, .resolution]

  /// Sets the first-response and resolution due times and the clocks of the case's type
  /// (`milestonesStarted`) from `policy` (the rule for this type and priority), counted from
  /// the case's creation on the rule's calendar.
  mutating func startSlaClocks(policy: SlaPolicy, defaults: SlaPolicy) {
    let start = createTime.date
    let share = policy.atRiskShare > 0 ? policy.atRiskShare : SlaPolicies.defaultAtRiskShare
    let calendar = SlaPolicies.calendar(policy)
    sla.atRiskShare = share
    sla.clocks = Self.milestonesStarted(for: type).compactMap { milestone in
      guard let rule = SlaPolicies.target(milestone, type: type, priority: priority, in: policy, defaults: defaults) else { return nil }
      let seconds = TimeInterval(rule.target.seconds) + TimeInterval(rule.target.nanos) / 1e9
      let counting = rule.businessTime ? calendar : .wallClock
      let due = counting.add(seconds, to: start) ?? start.addingTimeInterval(seconds)
      let atRisk = counting.add(seconds * share, to: start) ?? start.addingTimeInterval(seconds * share)
      return .with {
        $0.milestone = milestone
        $0.target = rule.target
        $0.businessTime = rule.businessTime
        $0.startTime = createTime
        $0.dueTime = due.timestamp
        $0.atRiskTime = atRisk.timestamp
      }
    }
    for clock in sla.clocks {
      switch clock.milestone {
      case .firstResponse: sla.firstResponseDueTime = clock.dueTime
      case .resolution: sla.resolutionDueTime = clock.dueTime
      default: break
      }
    }
  }

  /// A reopen: the resolution clock starts again at `start` with the rule of the policy in
  /// force for the case's type and priority, on the rule's calendar, like a new case's. A case
  /// from before clocks (or without a resolution rule) gets `fallbackHours` of wall-clock time.
  mutating func restartResolutionClock(at start: Date, policy: SlaPolicy, defaults: SlaPolicy, fallbackHours: Int) {
    // A pause that runs through the reopen counts for the new clock from the reopen only: the
    // time before it is booked now (moving the old due times), and the pause goes on from here.
    if sla.paused {
      let reason = sla.pauseReason
      resumeSLA(at: start)
      pauseSLA(at: start, reason: reason)
    }
    guard let index = sla.clocks.firstIndex(where: { $0.milestone == .resolution }),
      let rule = SlaPolicies.target(.resolution, type: type, priority: priority, in: policy, defaults: defaults)
    else {
      sla.resolutionDueTime = start.addingTimeInterval(Double(fallbackHours) * 3600).timestamp
      return
    }
    let seconds = TimeInterval(rule.target.seconds) + TimeInterval(rule.target.nanos) / 1e9
    let share = policy.atRiskShare > 0 ? policy.atRiskShare : SlaPolicies.defaultAtRiskShare
    sla.atRiskShare = share
    let counting = rule.businessTime ? SlaPolicies.calendar(policy) : .wallClock
    let due = counting.add(seconds, to: start) ?? start.addingTimeInterval(seconds)
    let atRisk = counting.add(seconds * share, to: start) ?? start.addingTimeInterval(seconds * share)
    sla.clocks[index].target = rule.target
    sla.clocks[index].businessTime = rule.businessTime
    sla.clocks[index].startTime = start.timestamp
    sla.clocks[index].dueTime = due.timestamp
    sla.clocks[index].atRiskTime = atRisk.timestamp
    sla.resolutionDueTime = due.timestamp
  }

  /// Active time from the start of a resolution clock restarted by a reopen to `end`, less the
  /// pauses since: each pause moved the due time later by its length. Nil for a case never
  /// reopened, or whose clock did not restart at its reopen (from before clocks).
  func activeResolutionTime(until end: Date) -> TimeInterval? {
    guard reopenCount > 0, let clock = sla.clocks.first(where: { $0.milestone == .resolution }),
      clock.startTime.date > createTime.date
    else { return nil }
    let paused = sla.resolutionDueTime.date.timeIntervalSince(clock.dueTime.date)
    return max(0, end.timeIntervalSince(clock.startTime.date) - paused)
  }

  /// When a tracked milestone is due and was met, from the case's own fields (as stored, so
  /// the clock repeats them exactly).
  func slaDueAndMet(_ milestone: SlaMilestone) -> (due: Google_Protobuf_Timestamp, met: Google_Protobuf_Timestamp?)? {
    switch milestone {
    case .firstResponse:
      return (sla.firstResponseDueTime, sla.hasFirstResponseTime ? sla.firstResponseTime : nil)
    case .resolution:
      let resolved = [.resolved, .closed].contains(status) && hasResolveTime
      return (sla.resolutionDueTime, resolved ? resolveTime : nil)
    default:
      return clockOwnedDueAndMet(milestone)
    }
  }

  /// The clocks as of `now`: due and at-risk times following the case, met time, state and
  /// how late. A case created before clocks existed gets its two clocks from its due times.
  func liveSlaClocks(at now: Date) -> [SlaClock] {
    let stored = sla.clocks.isEmpty ? legacyClocks() : sla.clocks
    let stopped = [.rejected, .cancelled].contains(status)
    return stored.map { stored in
      var clock = stored
      guard let times = slaDueAndMet(stored.milestone) else { return clock }
      let (due, met) = (times.due.date, times.met?.date)
      let shift = due.timeIntervalSince(stored.dueTime.date)
      clock.dueTime = times.due
      if shift != 0 { clock.atRiskTime = stored.atRiskTime.date.addingTimeInterval(shift).timestamp }
      clock.clearMetTime()
      if let stamp = times.met { clock.metTime = stamp }
      // Lateness stops counting at the met time, or at the start of a pause.
      let end = met ?? (sla.paused ? sla.pausedSinceTime.date : now)
      clock.breachedBy = .init(rounding: max(0, end.timeIntervalSince(due)), rule: .down)
      if met != nil {
        clock.state = .met
      } else if stopped {
        clock.state = .stopped
      } else if sla.paused {
        clock.state = .paused
      } else if now >= due {
        clock.state = .breached
      } else if now >= clock.atRiskTime.date {
        clock.state = .atRisk
      } else {
        clock.state = .active
      }
      return clock
    }
  }

  /// Clocks for a case stored before SLA policies: wall-clock targets equal to its due times
  /// less its creation and paused time, at risk at the default share.
  private func legacyClocks() -> [SlaClock] {
    Self.trackedMilestones.compactMap { milestone in
      guard let due = slaDueAndMet(milestone)?.due.date else { return nil }
      let target = max(0, due.timeIntervalSince(createTime.date) - TimeInterval(sla.pausedDuration.seconds))
      return .with {
        $0.milestone = milestone
        $0.target = .init(rounding: target, rule: .down)
        $0.startTime = createTime
        $0.dueTime = due.timestamp
        $0.atRiskTime = due.addingTimeInterval(-target * (1 - SlaPolicies.defaultAtRiskShare)).timestamp
      }
    }
  }
}
