import Foundation
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// The events a change of a case announces (tickets_events.proto, "Produced"): written to the
/// outbox in the change's own transaction.
enum TicketEvents {
  /// The event for a transition from `before` to `after` recorded as `entry`, if it announces one.
  static func payload(before: Ticket, after: Ticket, entry: HistoryEntry, eventID: UUID, resolutionHours: Int) -> EventEnvelope.OneOf_Payload? {
    // Acknowledgement and assignment (TicketFactEvents.swift): only StartReview, which no status
    // event announces, can acknowledge a case in a transition.
    if let fact = TicketFactEvents.payload(before: before, after: after, entry: entry, eventID: eventID) { return fact }
    guard entry.kind == .transitioned else { return nil }
    let id = eventID.uuidString.lowercased()
    switch (before.status, after.status) {
    case (.approved, .solutionAgreed):
      return .ticketApproved(.with {
        $0.eventID = id
        $0.ticketID = after.ticketID
        $0.ticketVersion = after.version
        $0.type = after.type
        $0.category = after.category
        $0.shopperID = after.shopperID
        $0.solutionKind = after.solution.kind
        $0.goodsReturnRequired = after.goodsReturnRequired
        if after.goodsReturnRequired { $0.returnItems = after.items }
        $0.returnShippingPayer = after.solution.returnShippingPayer
        $0.replacementItems = after.solution.replacementItems
        if after.solution.hasRefundAmount { $0.refundAmount = after.solution.refundAmount }
        if after.solution.hasShippingRefund { $0.shippingRefund = after.solution.shippingRefund }
        $0.approvedBy = entry.actor
        $0.assigneeAgentID = after.assigneeAgentID
        $0.occurTime = entry.occurTime
        $0.orderID = after.orderID
        $0.returnMethod = after.solution.returnMethod
        if after.solution.hasPickupWindow { $0.pickupWindow = after.solution.pickupWindow }
        $0.shipmentExceptionID = after.shipmentExceptionID
      })
    case (.solutionAgreed, .solutionAgreed), (.inspected, .inspected):
      guard case .agreeSolution? = entry.action.action else { return nil }
      return .ticketSolutionChanged(.with {
        $0.eventID = id
        $0.ticketID = after.ticketID
        $0.ticketVersion = after.version
        $0.type = after.type
        $0.orderID = after.orderID
        $0.shopperID = after.shopperID
        $0.status = after.status
        $0.previousSolutionKind = before.solution.kind
        $0.solutionKind = after.solution.kind
        $0.goodsReturnRequired = after.goodsReturnRequired
        if after.goodsReturnRequired { $0.returnItems = after.items }
        $0.returnShippingPayer = after.solution.returnShippingPayer
        $0.returnMethod = after.solution.returnMethod
        if after.solution.hasPickupWindow { $0.pickupWindow = after.solution.pickupWindow }
        $0.replacementItems = after.solution.replacementItems
        $0.changedBy = entry.actor
        $0.occurTime = entry.occurTime
      })
    case (.goodsReceived, .inspected):
      return .ticketInspected(.with {
        $0.eventID = id
        $0.ticketID = after.ticketID
        $0.ticketVersion = after.version
        $0.type = after.type
        $0.orderID = after.orderID
        $0.shopperID = after.shopperID
        $0.result = after.inspection.result
        $0.notes = after.inspection.notes
        $0.solutionKind = after.solution.kind
        $0.items = after.items
        $0.replacementItems = after.solution.replacementItems
        $0.returnShipmentID = after.returnShipmentID
        $0.inspector = entry.actor
        $0.occurTime = entry.occurTime
      })
    case (_, .rejected):
      return .ticketRejected(.with {
        $0.eventID = id
        $0.ticketID = after.ticketID
        $0.ticketVersion = after.version
        $0.type = after.type
        $0.category = after.category
        $0.shopperID = after.shopperID
        if after.hasSource { $0.source = after.source }
        $0.reason = after.statusReason
        $0.rejectedBy = entry.actor
        $0.createTime = after.createTime
        $0.occurTime = entry.occurTime
      })
    case (_, .cancelled):
      return .ticketCancelled(.with {
        $0.eventID = id
        $0.ticketID = after.ticketID
        $0.ticketVersion = after.version
        $0.type = after.type
        $0.category = after.category
        $0.shopperID = after.shopperID
        $0.orderID = after.orderID
        $0.previousStatus = before.status
        $0.reason = after.statusReason
        $0.cancelledBy = entry.actor
        $0.createTime = after.createTime
        $0.occurTime = entry.occurTime
      })
    case (_, .resolved):
      let live = after.withLiveSLA(at: entry.occurTime.date)
      return .ticketResolved(.with {
        $0.eventID = id
        $0.ticketID = after.ticketID
        $0.ticketVersion = after.version
        $0.type = after.type
        $0.category = after.category
        $0.priority = after.priority
        $0.shopperID = after.shopperID
        $0.assigneeAgentID = after.assigneeAgentID
        $0.skillGroupID = after.skillGroupID
        $0.channel = after.channel
        $0.items = after.items
        $0.solutionKind = after.solution.kind
        $0.outcome = after.resolution.outcome
        if after.resolution.hasRefundedAmount { $0.refundedAmount = after.resolution.refundedAmount }
        $0.createTime = after.createTime
        if after.sla.hasFirstResponseTime {
          $0.firstResponseTime = after.sla.firstResponseTime
          $0.timeToFirstResponse = .init(timeInterval: max(0, after.sla.firstResponseTime.date.timeIntervalSince(after.createTime.date)))
        }
        $0.resolveTime = after.resolveTime
        if after.reopenCount == 0 {
          // From submission, less every pause (whatever the SLA policy's target and calendar).
          let active = after.resolveTime.date.timeIntervalSince(after.createTime.date) - TimeInterval(after.sla.pausedDuration.seconds)
          $0.timeToResolve = .init(timeInterval: max(0, active))
        } else if let active = after.activeResolutionTime(until: after.resolveTime.date) {
          // From the latest reopen (the restarted resolution clock's start), less the pauses since.
          $0.timeToResolve = .init(timeInterval: active)
        } else {
          // Reopened before clocks restarted: the reopen set the due time to the reopen plus
          // the window, and every pause since moved it later, so the active time is the resolve
          // time less (due time - window).
          let window = TimeInterval(resolutionHours) * 3600
          $0.timeToResolve = .init(timeInterval: max(0, after.resolveTime.date.timeIntervalSince(after.sla.resolutionDueTime.date) + window))
        }
        $0.pausedDuration = after.sla.pausedDuration
        $0.firstResponseBreached = live.sla.firstResponseBreached
        $0.resolutionBreached = live.sla.resolutionBreached
        $0.reopenCount = after.reopenCount
        $0.occurTime = entry.occurTime
      })
    case (_, .reopened):
      return .ticketReopened(.with {
        $0.eventID = id
        $0.ticketID = after.ticketID
        $0.ticketVersion = after.version
        $0.type = after.type
        $0.category = after.category
        $0.shopperID = after.shopperID
        $0.assigneeAgentID = after.assigneeAgentID
        $0.previousStatus = before.status
        $0.reason = after.statusReason
        if case .reopen(let reopen)? = entry.action.action { $0.followUpID = reopen.followUpID }
        $0.reopenedBy = entry.actor
        $0.reopenCount = after.reopenCount
        $0.resolutionDueTime = after.sla.resolutionDueTime
        $0.occurTime = entry.occurTime
      })
    case (_, .closed):
      return .ticketClosed(.with {
        $0.eventID = id
        $0.ticketID = after.ticketID
        $0.ticketVersion = after.version
        $0.type = after.type
        $0.category = after.category
        $0.shopperID = after.shopperID
        $0.assigneeAgentID = after.assigneeAgentID
        $0.outcome = after.resolution.outcome
        $0.closedBy = entry.actor
        $0.note = entry.reason
        $0.reopenCount = after.reopenCount
        $0.createTime = after.createTime
        if after.hasResolveTime { $0.resolveTime = after.resolveTime }
        $0.occurTime = entry.occurTime
      })
    default:
      return nil
    }
  }
}

extension Ticket {
  /// The order the case is about (its items are of one order); empty for a case without items.
  var orderID: String { items.first?.orderID ?? "" }
}
