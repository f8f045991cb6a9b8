import Foundation
import GRPCCore
import ServiceKit
import SupportCodec

typealias TicketAction = Support_Tickets_V1_TicketAction
typealias Actor = Support_Common_V1_Actor
typealias Money = Support_Common_V1_Money

/// The case state machine (tickets.proto, "State machine"): which action may move a case from
/// which status, who may take it, what it records. Pure: it decides on a case in memory; the
/// store writes the result and its history entry in one transaction.
enum TicketWorkflow {
  /// The status an action leads to from `status`, or nil when the pair is not in the machine.
  static func target(of action: TicketAction.OneOf_Action, from status: TicketStatus, goodsReturn: Bool) -> TicketStatus? {
    switch (action, status) {
    case (.startReview, .submitted), (.startReview, .reopened): return .underReview
    case (.approve, .underReview): return .approved
    case (.reject, .underReview): return .rejected
    case (.agreeSolution, .approved): return .solutionAgreed
    // Changing an agreed solution (exchange out of stock, unrepairable item): the case keeps its
    // place in the flow with the new solution.
    case (.agreeSolution, .solutionAgreed): return .solutionAgreed
    case (.agreeSolution, .inspected): return .inspected
    case (.awaitReturn, .solutionAgreed) where goodsReturn: return .awaitingReturn
    case (.markGoodsReceived, .awaitingReturn): return .goodsReceived
    case (.inspect, .goodsReceived): return .inspected
    case (.resolve, .inspected), (.resolve, .reopened): return .resolved
    case (.resolve, .solutionAgreed) where !goodsReturn: return .resolved
    // The return parcel was lost by the carrier: the shopper shipped, the seller settles anyway.
    case (.resolve, .awaitingReturn): return .resolved
    case (.close, .resolved): return .closed
    case (.reopen, .resolved), (.reopen, .closed): return .reopened
    case (.cancel, .submitted), (.cancel, .underReview), (.cancel, .approved), (.cancel, .solutionAgreed),
      (.cancel, .awaitingReturn), (.cancel, .reopened):
      return .cancelled
    default: return nil
    }
  }

  static func name(of action: TicketAction.OneOf_Action) -> String {
    switch action {
    case .startReview: "StartReview"
    case .approve: "Approve"
    case .reject: "Reject"
    case .agreeSolution: "AgreeSolution"
    case .awaitReturn: "AwaitReturn"
    case .markGoodsReceived: "MarkGoodsReceived"
    case .inspect: "Inspect"
    case .resolve: "Resolve"
    case .close: "Close"
    case .reopen: "Reopen"
    case .cancel: "Cancel"
    }
  }

  /// Checks the action's own fields (INVALID_ARGUMENT naming the field).
  static func validate(_ action: TicketAction.OneOf_Action, for ticket: Ticket) throws {
    switch action {
    case .startReview(let a): try Validate.maxLength(a.note, "action.start_review.note", 2000)
    case .approve(let a): try Validate.maxLength(a.note, "action.approve.note", 2000)
    case .reject(let a): try Validate.required(a.reason, "action.reject.reason", maxLength: 2000)
    case .agreeSolution(let a): try validateSolution(a, for: ticket)
    case .awaitReturn(let a):
      try Validate.maxLength(a.returnShipmentID, "action.await_return.return_shipment_id", Validate.maxIDLength)
      try Validate.maxLength(a.instructions, "action.await_return.instructions", 2000)
    case .markGoodsReceived(let a):
      try Validate.maxLength(a.returnShipmentID, "action.mark_goods_received.return_shipment_id", Validate.maxIDLength)
      try Validate.maxLength(a.note, "action.mark_goods_received.note", 2000)
      if a.hasReceiveTime {
        try Validate.timestamp(a.receiveTime, "action.mark_goods_received.receive_time")
        try EligibilityRules.requireNotFuture(a.receiveTime, "action.mark_goods_received.receive_time", now: Date())
      }
    case .inspect(let a):
      try Validate.specified(a.result, "action.inspect.result")
      try Validate.maxLength(a.notes, "action.inspect.notes", 5000)
      if a.result == .fail { try Validate.required(a.notes, "action.inspect.notes", maxLength: 5000) }
      try Validate.maxCount(a.evidence, "action.inspect.evidence", 20)
      for (index, attachment) in a.evidence.enumerated() { try Validate.attachment(attachment, "action.inspect.evidence[\(index)]") }
    case .resolve(let a): try validateResolution(a, for: ticket)
    case .close(let a): try Validate.maxLength(a.note, "action.close.note", 2000)
    case .reopen(let a):
      try Validate.required(a.reason, "action.reopen.reason", maxLength: 2000)
      try Validate.maxLength(a.followUpID, "action.reopen.follow_up_id", Validate.maxIDLength)
    case .cancel(let a): try Validate.required(a.reason, "action.cancel.reason", maxLength: 2000)
    }
  }

  /// Who may take an action: the case's shopper (or a service acting for them: `actor` names
  /// the shopper) may Cancel (before the goods reach the seller) and Reopen; staff (agents,
  /// supervisors, services) take every other action, and may Cancel only a case stuck waiting
  /// for a return that never came (AWAITING_RETURN).
  static func authorize(_ action: TicketAction.OneOf_Action, on ticket: Ticket, caller: Caller, actor: Actor) throws {
    let ownShopper = caller.role == .shopper && caller.subject == ticket.shopperID
    switch action {
    case .cancel:
      let forShopper = caller.role == .service && actor.kind == .shopper && actor.id == ticket.shopperID
      if caller.role == .shopper {
        guard ownShopper else { throw Permissions.denied("only the case's shopper may cancel it") }
      } else if !forShopper && ticket.status != .awaitingReturn {
        throw Permissions.denied(
          "only the case's shopper (or a service naming that shopper as actor) may cancel it; staff only while it waits for a return that never came")
      }
    case .reopen:
      if caller.role == .shopper && !ownShopper { throw Permissions.denied("a shopper may only reopen their own case") }
    default:
      if !caller.isStaff { throw Permissions.denied("only agents, supervisors and services may \(name(of: action))") }
    }
  }

  /// Applies an allowed action to the case (status already checked): the new case and the
  /// reason to record in history.
  static func apply(_ action: TicketAction.OneOf_Action, to ticket: Ticket, target: TicketStatus, by actor: Actor, now: Date) -> (Ticket, reason: String) {
    var next = ticket
    var reason = ""
    let stamp = now.timestamp
    switch action {
    case .startReview(let a):
      reason = a.note
      if !next.sla.hasFirstResponseTime { next.sla.firstResponseTime = stamp }
    case .approve(let a):
      reason = a.note
    case .reject(let a):
      reason = a.reason
      next.statusReason = a.reason
    case .agreeSolution(let a):
      var solution = Support_Tickets_V1_AgreedSolution()
      switch a.solution {
      case .refund(let refund)?:
        solution.kind = .refund
        solution.refundAmount = refund.amount
        if refund.hasShippingRefund { solution.shippingRefund = refund.shippingRefund }
      case .exchange(let exchange)?:
        solution.kind = .exchange
        solution.replacementItems = exchange.replacementItems
      case .repair(let repair)?:
        solution.kind = .repair
        solution.notes = repair.notes
      case .answer(let answer)?:
        solution.kind = .answer
        solution.notes = answer.notes
      case nil: break
      }
      let goodsTypes: [TicketType] = [.returnAndRefund, .exchange, .repair]
      // Once the goods are back (a changed solution after inspection), they stay required.
      next.goodsReturnRequired = ticket.status == .inspected || (goodsTypes.contains(ticket.type) && !a.waiveGoodsReturn)
      solution.returnShippingPayer = next.goodsReturnRequired ? shippingPayer(for: ticket) : .none
      if ticket.status == .inspected {
        // The goods are already back: how they came stays on record.
        solution.returnMethod = ticket.solution.returnMethod
        if ticket.solution.hasPickupWindow { solution.pickupWindow = ticket.solution.pickupWindow }
      } else if next.goodsReturnRequired {
        solution.returnMethod = a.returnMethod == .unspecified ? .selfShip : a.returnMethod
        if a.returnMethod == .pickup { solution.pickupWindow = a.pickupWindow }
      }
      solution.agreeTime = stamp
      if a.waiveGoodsReturn { reason = "goods return waived" }
      if ticket.hasSolution { reason = reason.isEmpty ? "solution changed" : reason + "; solution changed" }
      next.solution = solution
    case .awaitReturn(let a):
      if !a.returnShipmentID.isEmpty { next.returnShipmentID = a.returnShipmentID }
      reason = a.instructions
    case .markGoodsReceived(let a):
      if !a.returnShipmentID.isEmpty { next.returnShipmentID = a.returnShipmentID }
      reason = a.note
    case .inspect(let a):
      var inspection = Support_Tickets_V1_Inspection()
      inspection.result = a.result
      inspection.notes = a.notes
      inspection.evidence = a.evidence
      inspection.inspectTime = stamp
      inspection.inspector = actor
      next.inspection = inspection
      reason = a.notes
    case .resolve(let a):
      var resolution = Support_Tickets_V1_Resolution()
      resolution.outcome = a.outcome
      if a.hasRefundedAmount { resolution.refundedAmount = a.refundedAmount }
      resolution.refundID = a.refundID
      resolution.outboundShipmentID = a.outboundShipmentID
      resolution.summary = a.summary
      resolution.resolveTime = stamp
      next.resolution = resolution
      next.resolveTime = stamp
      reason = a.summary
    case .close(let a):
      next.closeTime = stamp
      reason = a.note
    case .reopen(let a):
      next.reopenCount += 1
      next.statusReason = a.reason
      // resolve_time and close_time stay: they say when the case was last resolved / closed.
      // The resolution clock restarts from the reopen in `TicketStore.change`, which reads the
      // SLA policy in force.
      reason = a.reason
    case .cancel(let a):
      next.statusReason = a.reason
      reason = a.reason
    }
    // The SLA clock pauses while the case waits for the goods, and runs again after.
    if target == .awaitingReturn && ticket.status != .awaitingReturn {
      // Already paused for the shopper (an agent's question): the wait is now for the goods,
      // from the same moment.
      if next.sla.paused && next.sla.pauseReason == .waitingOnShopper { next.sla.pauseReason = .waitingForReturnedGoods }
      next.pauseSLA(at: now, reason: .waitingForReturnedGoods)
    } else if ticket.status == .awaitingReturn && target != .awaitingReturn && next.sla.pauseReason != .waitingOnThirdParty {
      // The wait for the goods ended when the parcel arrived (receive_time, e.g. the carrier's
      // delivery scan reported late), not when the case heard of it.
      var resumeAt = now
      if case .markGoodsReceived(let a) = action, a.hasReceiveTime, next.sla.paused {
        resumeAt = min(now, max(a.receiveTime.date, next.sla.pausedSinceTime.date))
      }
      next.resumeSLA(at: resumeAt)
    }
    // A resolved or cancelled case waits for nobody: its pause (on the shopper, a third party)
    // ends here, so the paused time until now is booked and time_to_resolve leaves it out.
    if target == .resolved || target == .cancelled { next.resumeSLA(at: now) }
    next.meetSlaMilestones(after: action, target: target, at: now)
    next.status = target
    return (next, reason)
  }

  static func shippingPayer(for ticket: Ticket) -> Support_Tickets_V1_ShippingPayer {
    sellerAtFault(ticket) ? .seller : .shopper
  }

  /// Quality problems, "not as described" and logistics damage are the seller's, and so are
  /// goods the shopper declared DEFECTIVE on arrival: the seller pays return shipping and
  /// refunds shipping too. The same rule as the eligibility check (EligibilityRules), read from
  /// the answers the case was filed with (the goods condition is not kept on the case).
  static func sellerAtFault(_ ticket: Ticket) -> Bool {
    [.productQuality, .notAsDescribed, .logistics].contains(ticket.category) || ticket.eligibility.contains(where: \.shippingRefundable)
  }

  /// What the shopper paid for the case's items, when every item states its price.
  static func paid(for ticket: Ticket) -> Money? {
    guard !ticket.items.isEmpty, ticket.items.allSatisfy(\.hasUnitPrice) else { return nil }
    let currencies = Set(ticket.items.map(\.unitPrice.currencyCode))
    guard currencies.count == 1 else { return nil }
    var total = Money()
    total.currencyCode = currencies.first!
    total.amountMinor = ticket.items.reduce(0) { $0 + $1.unitPrice.amountMinor * Int64(max($1.quantity, 1)) }
    return total
  }

  private static func validateSolution(_ action: Support_Tickets_V1_AgreeSolutionAction, for ticket: Ticket) throws {
    guard let solution = action.solution else {
      throw ServiceError.invalidArgument("action.agree_solution.solution", "set one of refund, exchange, repair or answer")
    }
    let allowed: [TicketType: [String]] = [
      .returnAndRefund: ["refund", "exchange", "repair"], .exchange: ["refund", "exchange", "repair"],
      .repair: ["refund", "exchange", "repair"],
      // A lost or undelivered parcel: refund, or reship (补发) as an exchange without a return.
      .refundOnly: ["refund", "exchange"],
      .complaint: ["refund", "answer"], .inquiry: ["answer"],
    ]
    let kind: String
    switch solution {
    case .refund(let refund):
      kind = "refund"
      try Validate.money(refund.amount, "action.agree_solution.refund.amount")
      guard refund.amount.amountMinor > 0 else {
        throw ServiceError.invalidArgument("action.agree_solution.refund.amount", "must be more than zero")
      }
      if let paid = paid(for: ticket) {
        guard refund.amount.currencyCode == paid.currencyCode else {
          throw ServiceError.invalidArgument("action.agree_solution.refund.amount.currency_code", "must be \(paid.currencyCode), the items' currency")
        }
        guard refund.amount.amountMinor <= paid.amountMinor else {
          throw ServiceError.invalidArgument("action.agree_solution.refund.amount", "is above the \(paid.amountMinor) paid for the items")
        }
      }
      if refund.hasShippingRefund && refund.shippingRefund.amountMinor != 0 {
        try Validate.money(refund.shippingRefund, "action.agree_solution.refund.shipping_refund")
        guard sellerAtFault(ticket) else {
          throw ServiceError.invalidArgument("action.agree_solution.refund.shipping_refund", "shipping is refunded only where the seller is at fault (quality, not as described, logistics, or goods defective on arrival)")
        }
        guard refund.shippingRefund.currencyCode == refund.amount.currencyCode else {
          throw ServiceError.invalidArgument("action.agree_solution.refund.shipping_refund.currency_code", "must be the refund's currency")
        }
      }
    case .exchange(let exchange):
      kind = "exchange"
      guard !exchange.replacementItems.isEmpty else {
        throw ServiceError.invalidArgument("action.agree_solution.exchange.replacement_items", "name at least one replacement line")
      }
      try Validate.maxCount(exchange.replacementItems, "action.agree_solution.exchange.replacement_items", 100)
      for (index, item) in exchange.replacementItems.enumerated() {
        try Validate.required(item.sku, "action.agree_solution.exchange.replacement_items[\(index)].sku")
        if item.quantity <= 0 {
          throw ServiceError.invalidArgument("action.agree_solution.exchange.replacement_items[\(index)].quantity", "must be at least 1")
        }
      }
    case .repair(let repair):
      kind = "repair"
      try Validate.maxLength(repair.notes, "action.agree_solution.repair.notes", 5000)
    case .answer(let answer):
      kind = "answer"
      try Validate.required(answer.notes, "action.agree_solution.answer.notes", maxLength: 5000)
    }
    guard allowed[ticket.type, default: []].contains(kind) else {
      throw ServiceError.invalidArgument("action.agree_solution", "a \(kind) solution does not fit a \(ticket.type) case")
    }
    if action.waiveGoodsReturn && ![.returnAndRefund, .exchange, .repair].contains(ticket.type) {
      throw ServiceError.invalidArgument("action.agree_solution.waive_goods_return", "only RETURN_AND_REFUND, EXCHANGE and REPAIR cases take goods back")
    }
    try validateReturnMethod(action)
  }

  /// The shopper's way of sending goods back: a known method, and a pickup window that can
  /// still happen for PICKUP (none for the others).
  private static func validateReturnMethod(_ action: Support_Tickets_V1_AgreeSolutionAction) throws {
    switch action.returnMethod {
    case .unspecified, .selfShip, .label:
      if action.hasPickupWindow {
        throw ServiceError.invalidArgument("action.agree_solution.pickup_window", "only a PICKUP return has a pickup window")
      }
    case .pickup:
      guard action.hasPickupWindow, action.pickupWindow.hasStartTime, action.pickupWindow.hasEndTime else {
        throw ServiceError.invalidArgument("action.agree_solution.pickup_window", "a PICKUP return needs a window with a start and an end")
      }
      let window = action.pickupWindow
      guard window.startTime.date < window.endTime.date else {
        throw ServiceError.invalidArgument("action.agree_solution.pickup_window", "must start before it ends")
      }
      guard window.endTime.date > Date() else {
        throw ServiceError.invalidArgument("action.agree_solution.pickup_window.end_time", "must be in the future")
      }
    case .UNRECOGNIZED(let value):
      throw ServiceError.invalidArgument("action.agree_solution.return_method", "\(value) is not a return method")
    }
  }

  private static func validateResolution(_ action: Support_Tickets_V1_ResolveAction, for ticket: Ticket) throws {
    try Validate.specified(action.outcome, "action.resolve.outcome")
    try Validate.maxLength(action.refundID, "action.resolve.refund_id", Validate.maxIDLength)
    try Validate.maxLength(action.outboundShipmentID, "action.resolve.outbound_shipment_id", Validate.maxIDLength)
    try Validate.maxLength(action.summary, "action.resolve.summary", 5000)
    if action.outcome == .deniedAfterInspection && ticket.inspection.result != .fail {
      throw ServiceError.invalidArgument("action.resolve.outcome", "DENIED_AFTER_INSPECTION needs a FAIL inspection")
    }
    if [.refunded, .partiallyRefunded, .compensated].contains(action.outcome) && !action.hasRefundedAmount {
      throw ServiceError.invalidArgument("action.resolve.refunded_amount", "is required for \(action.outcome)")
    }
    guard action.hasRefundedAmount else { return }
    try Validate.money(action.refundedAmount, "action.resolve.refunded_amount")
    guard action.refundedAmount.amountMinor > 0 else {
      throw ServiceError.invalidArgument("action.resolve.refunded_amount", "must be more than zero")
    }
    // Never more than was paid for the items, plus shipping where the seller is at fault.
    if let paid = paid(for: ticket) {
      guard action.refundedAmount.currencyCode == paid.currencyCode else {
        throw ServiceError.invalidArgument("action.resolve.refunded_amount.currency_code", "must be \(paid.currencyCode), the items' currency")
      }
      var ceiling = paid.amountMinor
      if sellerAtFault(ticket) && ticket.solution.hasShippingRefund { ceiling += ticket.solution.shippingRefund.amountMinor }
      guard action.refundedAmount.amountMinor <= ceiling else {
        throw ServiceError.invalidArgument("action.resolve.refunded_amount", "is above the \(ceiling) paid (items, and shipping where the seller is at fault)")
      }
    } else if ticket.solution.kind == .refund {
      let agreed = ticket.solution.refundAmount.amountMinor + (ticket.solution.hasShippingRefund ? ticket.solution.shippingRefund.amountMinor : 0)
      guard action.refundedAmount.currencyCode == ticket.solution.refundAmount.currencyCode else {
        throw ServiceError.invalidArgument("action.resolve.refunded_amount.currency_code", "must be the agreed refund's currency")
      }
      guard action.refundedAmount.amountMinor <= agreed else {
        throw ServiceError.invalidArgument("action.resolve.refunded_amount", "is above the agreed \(agreed)")
      }
    }
  }
}

extension Ticket {
  /// Pauses the SLA clocks (waiting on the shopper, for the goods or for a third party).
  mutating func pauseSLA(at now: Date, reason: Support_Tickets_V1_SlaPauseReason = .waitingOnShopper) {
    guard !sla.paused else { return }
    sla.paused = true
    sla.pausedSinceTime = now.timestamp
    sla.pauseReason = reason
  }

  /// Whether the shopper commenting or acting ends the pause: not a third party's wait, which
  /// an agent ends (ResumeSla), nor the goods' wait, which their arrival ends.
  var shopperEndsPause: Bool {
    sla.paused && status != .awaitingReturn && sla.pauseReason != .waitingOnThirdParty
  }

  /// Runs the clocks again: the paused time is added to the total and moves the due times later.
  mutating func resumeSLA(at now: Date) {
    guard sla.paused else { return }
    let paused = max(0, now.timeIntervalSince(sla.pausedSinceTime.date))
    let total = sla.pausedDuration.seconds + Int64(paused.rounded(.down))
    sla.pausedDuration = .init(seconds: total)
    if !sla.hasFirstResponseTime {
      sla.firstResponseDueTime = sla.firstResponseDueTime.date.addingTimeInterval(paused.rounded(.down)).timestamp
    }
    sla.resolutionDueTime = sla.resolutionDueTime.date.addingTimeInterval(paused.rounded(.down)).timestamp
    shiftClockOwnedDueTimes(by: paused.rounded(.down))
    sla.paused = false
    sla.clearPausedSinceTime()
    sla.pauseReason = .unspecified
  }
}
