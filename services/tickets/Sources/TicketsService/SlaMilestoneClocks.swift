import Foundation
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// The clocks beyond first response and resolution (tickets.proto, "Service levels"): a
/// complaint's reply with a proposal, a repair's completion, and the time promised to the
/// shopper. Unlike the first two, whose due and met times are fields of TicketSla, these keep
/// their due, at-risk and met times on the clock itself (TicketSla.clocks), so pauses move
/// them here and meeting them stamps them here.
extension Ticket {
  /// The milestones whose times live on their clock.
  static let clockOwnedMilestones: Set<SlaMilestone> = [.complaintReply, .repairCompletion, .promised]

  /// The milestones a case of `type` starts at creation (PROMISED starts with a promise).
  static func milestonesStarted(for type: TicketType) -> [SlaMilestone] {
    switch type {
    case .complaint: trackedMilestones + [.complaintReply]
    case .repair: trackedMilestones + [.repairCompletion]
    default: trackedMilestones
    }
  }

  /// Stamps the clock of `milestone` met at `now`, once; nothing when the case lacks it.
  mutating func meetSlaClock(_ milestone: SlaMilestone, at now: Date) {
    guard let index = sla.clocks.firstIndex(where: { $0.milestone == milestone }), !sla.clocks[index].hasMetTime else { return }
    sla.clocks[index].metTime = now.timestamp
  }

  /// What a workflow action meets: AgreeSolution a complaint's reply (a solution agreed was
  /// proposed by then), RESOLVED a repair's completion and the promise in force.
  mutating func meetSlaMilestones(after action: TicketAction.OneOf_Action, target: TicketStatus, at now: Date) {
    if case .agreeSolution = action { meetSlaClock(.complaintReply, at: now) }
    if target == .resolved {
      meetSlaClock(.repairCompletion, at: now)
      meetSlaClock(.promised, at: now)
    }
  }

  /// A resumed pause moves the unmet clock-owned due and at-risk times later by `seconds`, as
  /// `resumeSLA` moves the first-response and resolution due times.
  mutating func shiftClockOwnedDueTimes(by seconds: TimeInterval) {
    guard seconds > 0 else { return }
    for index in sla.clocks.indices where Self.clockOwnedMilestones.contains(sla.clocks[index].milestone) && !sla.clocks[index].hasMetTime {
      sla.clocks[index].dueTime = sla.clocks[index].dueTime.date.addingTimeInterval(seconds).timestamp
      sla.clocks[index].atRiskTime = sla.clocks[index].atRiskTime.date.addingTimeInterval(seconds).timestamp
    }
  }

  /// Starts or moves the PROMISED clock: started `now`, due at `promised`, at risk after the
  /// case's at-risk share of that span. A case from before clocks were stored first gets its
  /// first-response and resolution clocks written out, so adding this one does not hide them.
  mutating func promise(_ promised: Date, at now: Date) {
    if sla.clocks.isEmpty { sla.clocks = liveSlaClocks(at: now) }
    let share = sla.atRiskShare > 0 ? sla.atRiskShare : SlaPolicies.defaultAtRiskShare
    let span = max(0, promised.timeIntervalSince(now))
    let clock = SlaClock.with {
      $0.milestone = .promised
      $0.target = .init(rounding: span, rule: .down)
      $0.startTime = now.timestamp
      $0.dueTime = promised.timestamp
      $0.atRiskTime = now.addingTimeInterval(span * share).timestamp
    }
    if let index = sla.clocks.firstIndex(where: { $0.milestone == .promised }) {
      sla.clocks[index] = clock
    } else {
      sla.clocks.append(clock)
    }
  }

  /// The due and met times of a clock-owned milestone, from its stored clock.
  func clockOwnedDueAndMet(_ milestone: SlaMilestone) -> (due: Google_Protobuf_Timestamp, met: Google_Protobuf_Timestamp?)? {
    guard let clock = sla.clocks.first(where: { $0.milestone == milestone }) else { return nil }
    return (clock.dueTime, clock.hasMetTime ? clock.metTime : nil)
  }
}
