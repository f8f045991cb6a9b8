import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// support.tickets.v1.TicketService: after-sales cases. Handlers validate, decide, and hand the
/// SQL to `TicketStore`: create, get, list and eligibility here; transitions, assignment and
/// priority in TicketChangeHandlers.swift (the state machine in TicketWorkflow.swift); comments
/// and history in TicketCommentHandlers.swift.
struct TicketHandlers: RegistrableRPCService {
  typealias Methods = Support_Tickets_V1_TicketService.Method
  let store: TicketStore
  let policy: TicketsPolicy
  let logger: Logger

  var rules: EligibilityRules { EligibilityRules(policy: policy) }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.CreateTicket.descriptor, createTicket)
    router.registerUnary(Methods.GetTicket.descriptor, getTicket)
    router.registerUnary(Methods.ListTickets.descriptor, listTickets)
    router.registerUnary(Methods.CheckEligibility.descriptor, checkEligibility)
    router.registerUnary(Methods.TransitionTicket.descriptor, transitionTicket)
    router.registerUnary(Methods.AssignTicket.descriptor, assignTicket)
    router.registerUnary(Methods.SetPriority.descriptor, setPriority)
    router.registerUnary(Methods.AddComment.descriptor, addComment)
    router.registerUnary(Methods.ListComments.descriptor, listComments)
    router.registerUnary(Methods.ListTicketHistory.descriptor, listTicketHistory)
  }
  var log: Logger { RequestContext.current?.logger ?? logger }

  // MARK: - CreateTicket

  @Sendable func createTicket(_ request: Support_Tickets_V1_CreateTicketRequest) async throws -> Ticket {
    let now = Date.nowMicroseconds
    try Self.validate(request, now: now)
    try Permissions.requireSelf(shopperID: request.shopperID, field: "shopper_id")
    if !request.eligibilityOverrideReason.isEmpty {
      try Permissions.requireStaff("file a case with eligibility_override_reason")
    }
    let createdBy = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let delivered = try await DeliveryFacts.lookup(
      request.items, shopperID: DeliveryFacts.shopperFilter(for: try Permissions.caller()), database: store.database, logger: log)
    // Refused only for a new request id: a retry returns its first result even after the
    // return window closed or logistics reported the delivery meanwhile.
    let candidate = Result { try Self.newTicket(request, createdBy: createdBy, policy: policy, now: now, delivered: delivered) }
    switch try await store.create(candidate, requestID: request.requestID, fingerprint: Fingerprint.of(request), logger: log) {
    case .created(let created):
      log.info("ticket created", metadata: ["ticket_id": "\(created.ticketID)", "type": "\(created.type)"])
      return created.withLiveSLA(at: now)
    case .retried(let existing):
      return existing.withLiveSLA(at: now)
    }
  }

  /// The case a validated request files, by `createdBy`, with every item's eligibility checked
  /// (FAILED_PRECONDITION NOT_ELIGIBLE unless overridden). Shared by CreateTicket and the chat
  /// escalation consumer (TicketEscalations.swift).
  /// `delivered` holds the delivery logistics reported for each item (DeliveryFacts.lookup), which
  /// wins over the request's delivered_time.
  static func newTicket(
    _ request: Support_Tickets_V1_CreateTicketRequest, createdBy: Support_Common_V1_Actor, policy: TicketsPolicy, now: Date,
    delivered: [Date?] = []
  ) throws -> Ticket {
    var ticket = Ticket()
    ticket.ticketID = UUID().uuidString.lowercased()
    ticket.type = request.type
    ticket.category = request.category
    ticket.status = .submitted
    ticket.priority = request.priority == .unspecified ? .normal : request.priority
    ticket.shopperID = request.shopperID
    ticket.items = request.items
    ticket.title = request.title
    ticket.description_p = request.description_p
    ticket.evidence = request.evidence
    if request.hasRequestedRefund { ticket.requestedRefund = request.requestedRefund }
    if request.hasDeliveredTime { ticket.deliveredTime = request.deliveredTime.microsecondDate.timestamp }
    if request.hasSource { ticket.source = request.source }
    ticket.channel = request.channel
    ticket.skillGroupID = request.skillGroupID
    ticket.createdBy = createdBy
    ticket.goodsReturnRequired = [.returnAndRefund, .exchange, .repair].contains(request.type)
    ticket.eligibilityOverrideReason = request.eligibilityOverrideReason
    ticket.createTime = now.timestamp
    ticket.updateTime = now.timestamp
    ticket.version = 1
    ticket.sla.firstResponseDueTime = now.addingTimeInterval(Double(policy.firstResponseHours) * 3600).timestamp
    ticket.sla.resolutionDueTime = now.addingTimeInterval(Double(policy.resolutionHours) * 3600).timestamp
    ticket.sla.pausedDuration = .init(seconds: 0)

    // The same rules as CheckEligibility, for every item, in `items` order (none for a
    // complaint or inquiry about no order line: no eligibility entries).
    let rules = EligibilityRules(policy: policy)
    let deliveredAt = request.hasDeliveredTime ? request.deliveredTime.date : nil
    ticket.eligibility = request.items.enumerated().map { index, item in
      rules.check(
        type: request.type, category: request.category, delivered: index < delivered.count ? delivered[index] : nil,
        caller: deliveredAt, condition: request.goodsCondition, item: item, at: now)
    }
    // The case's delivered_time is the logistics delivery where one is known (the earliest of
    // its lines), else the caller's.
    if let known = delivered.compactMap({ $0 }).min() { ticket.deliveredTime = known.timestamp }
    if request.eligibilityOverrideReason.isEmpty {
      try requireEligible(ticket.eligibility)
    }
    return ticket
  }

  /// The error domain of the tickets service's ErrorInfo details.
  static let errorDomain = "support.tickets.v1"

  /// FAILED_PRECONDITION NOT_ELIGIBLE when any item is refused: ErrorInfo metadata "reasons"
  /// lists the distinct IneligibilityReason codes (without the enum prefix, e.g.
  /// "WINDOW_EXPIRED"), PreconditionFailure has one violation per (item, reason) with subject
  /// "items[i]".
  static func requireEligible(_ answers: [EligibilityAnswer]) throws {
    var violations: [ServiceError.Violation] = []
    var codes: [String] = []
    for (index, answer) in answers.enumerated() {
      for (position, reason) in answer.reasons.enumerated() {
        let code = reason.code
        if !codes.contains(code) { codes.append(code) }
        let text = position < answer.reasonMessages.count ? answer.reasonMessages[position] : code
        let line = answer.item.orderItemID.isEmpty ? answer.item.orderID : "\(answer.item.orderID)/\(answer.item.orderItemID)"
        violations.append(.init(reason: code, subject: "items[\(index)]", description: "\(line): \(text)"))
      }
    }
    guard !violations.isEmpty else { return }
    let message = "not eligible (" + codes.joined(separator: ", ") + "): "
      + violations.map(\.description).joined(separator: "; ")
      + " (an agent may file anyway with eligibility_override_reason)"
    throw ServiceError.failedPrecondition(
      reason: "NOT_ELIGIBLE", domain: errorDomain, message,
      metadata: ["reasons": codes.joined(separator: ",")], violations: violations
    )
  }

  static func validate(_ request: Support_Tickets_V1_CreateTicketRequest, now: Date) throws {
    try Validate.requestID(request.requestID)
    try Validate.specified(request.type, "type")
    try Validate.specified(request.category, "category")
    try Validate.required(request.shopperID, "shopper_id")
    try Validate.required(request.title, "title", maxLength: 200)
    try Validate.maxLength(request.description_p, "description", 5_000)
    try Validate.known(request.priority, "priority")
    try Validate.known(request.channel, "channel")
    try Validate.known(request.goodsCondition, "goods_condition")
    try Validate.maxLength(request.skillGroupID, "skill_group_id", Validate.maxIDLength)
    try Validate.maxLength(request.eligibilityOverrideReason, "eligibility_override_reason", 1000)
    if TicketStore.goodsTypes.contains(request.type) && request.items.isEmpty {
      throw ServiceError.invalidArgument("items", "at least one order item is required for \(request.type)")
    }
    try Validate.maxCount(request.items, "items", 100)
    var currencies = Set<String>()
    for (index, item) in request.items.enumerated() {
      try Validate.required(item.orderID, "items[\(index)].order_id")
      try Validate.maxLength(item.orderItemID, "items[\(index)].order_item_id", Validate.maxIDLength)
      try Validate.maxLength(item.sku, "items[\(index)].sku", Validate.maxIDLength)
      if item.quantity < 0 { throw ServiceError.invalidArgument("items[\(index)].quantity", "must not be negative") }
      if item.hasUnitPrice {
        try Validate.money(item.unitPrice, "items[\(index)].unit_price")
        currencies.insert(item.unitPrice.currencyCode)
      }
    }
    try Validate.maxCount(request.evidence, "evidence", 20)
    for (index, attachment) in request.evidence.enumerated() {
      try Validate.attachment(attachment, "evidence[\(index)]")
    }
    if request.hasRequestedRefund {
      guard request.type == .returnAndRefund || request.type == .refundOnly else {
        throw ServiceError.invalidArgument("requested_refund", "applies only to RETURN_AND_REFUND and REFUND_ONLY")
      }
      try Validate.money(request.requestedRefund, "requested_refund")
      if !currencies.isEmpty && !currencies.contains(request.requestedRefund.currencyCode) {
        throw ServiceError.invalidArgument("requested_refund.currency_code", "differs from the items' unit price currency")
      }
    }
    if request.hasDeliveredTime { try Validate.timestamp(request.deliveredTime, "delivered_time") }
    if request.hasDeliveredTime { try EligibilityRules.requireNotFuture(request.deliveredTime, "delivered_time", now: now) }
    if request.hasSource {
      try Validate.known(request.source.kind, "source.kind")
      try Validate.maxLength(request.source.id, "source.id", Validate.maxIDLength)
    }
    if request.hasActor {
      try Validate.known(request.actor.kind, "actor.kind")
      try Validate.maxLength(request.actor.id, "actor.id", Validate.maxIDLength)
    }
  }

  // MARK: - GetTicket, ListTickets

  @Sendable func getTicket(_ request: Support_Tickets_V1_GetTicketRequest) async throws -> Ticket {
    guard let id = try Validate.resourceID(request.ticketID, "ticket_id"),
      let ticket = try await store.get(id, logger: log),
      // Another shopper's case does not exist for a shopper caller.
      try Permissions.mayRead(shopperID: ticket.shopperID)
    else { throw ServiceError.notFound("ticket", request.ticketID) }
    return ticket.withLiveSLA(at: Date())
  }

  @Sendable func listTickets(_ request: Support_Tickets_V1_ListTicketsRequest) async throws -> Support_Tickets_V1_ListTicketsResponse {
    let pageSize = try PageCursor.pageSize(request.pageSize)
    for (index, status) in request.statuses.enumerated() { try Validate.specified(status, "statuses[\(index)]") }
    for (index, type) in request.types.enumerated() { try Validate.specified(type, "types[\(index)]") }
    for (index, category) in request.categories.enumerated() { try Validate.specified(category, "categories[\(index)]") }
    try Validate.maxLength(request.assigneeAgentID, "assignee_agent_id", Validate.maxIDLength)
    try Validate.maxLength(request.shopperID, "shopper_id", Validate.maxIDLength)
    try Validate.maxLength(request.orderID, "order_id", Validate.maxIDLength)
    var request = request
    // A shopper lists only their own cases: shopper_id defaults to the caller and may not name
    // anyone else.
    let caller = try Permissions.caller()
    if !caller.isStaff {
      if request.shopperID.isEmpty { request.shopperID = caller.subject }
      try Permissions.requireSelf(shopperID: request.shopperID, field: "shopper_id")
    }
    var filterOnly = request
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    let filterKey = try Fingerprint.of(filterOnly)
    let cursor = try PageCursor.decode(
      request.pageToken, filter: filterKey,
      validKeys: Validate.timestampSeconds.lowerBound * 1_000_000...Validate.timestampSeconds.upperBound * 1_000_000
    )
    var after: (micros: Int64, id: UUID)?
    if let cursor {
      guard let id = UUID(uuidString: cursor.id) else {
        throw ServiceError.invalidArgument("page_token", "is not a token this service issued")
      }
      after = (cursor.key, id)
    }

    let filter = TicketStore.ListFilter(
      statuses: request.statuses, types: request.types, categories: request.categories,
      assigneeAgentID: request.assigneeAgentID, shopperID: request.shopperID, orderID: request.orderID,
      slaBreachedOnly: request.slaBreachedOnly
    )
    var rows = try await store.list(filter, after: after, limit: pageSize + 1, logger: log)
    var response = Support_Tickets_V1_ListTicketsResponse()
    if rows.count > pageSize {
      rows.removeLast(rows.count - pageSize)
      let last = rows[rows.count - 1]
      response.nextPageToken = PageCursor(key: last.micros, id: last.ticket.ticketID, filter: filterKey).token
    }
    let now = Date()
    response.tickets = rows.map { $0.ticket.withLiveSLA(at: now) }
    return response
  }

  // MARK: - CheckEligibility

  @Sendable func checkEligibility(_ request: Support_Tickets_V1_CheckEligibilityRequest) async throws -> Support_Tickets_V1_CheckEligibilityResponse {
    try Validate.specified(request.type, "type")
    try Validate.specified(request.category, "category")
    try Validate.known(request.goodsCondition, "goods_condition")
    if TicketStore.goodsTypes.contains(request.type) { try Validate.required(request.item.orderID, "item.order_id") }
    try Validate.maxLength(request.item.orderID, "item.order_id", Validate.maxIDLength)
    try Validate.maxLength(request.item.orderItemID, "item.order_item_id", Validate.maxIDLength)
    let now = Date()
    if request.hasDeliveredTime {
      try Validate.timestamp(request.deliveredTime, "delivered_time")
      try EligibilityRules.requireNotFuture(request.deliveredTime, "delivered_time", now: now)
    }
    if request.hasCheckTime {
      try Validate.timestamp(request.checkTime, "check_time")
      try EligibilityRules.requireNotFuture(request.checkTime, "check_time", now: now)
    }
    let at = request.hasCheckTime ? request.checkTime.date : now
    if request.hasDeliveredTime && request.deliveredTime.date > at.addingTimeInterval(EligibilityRules.clockSkewAllowance) {
      throw ServiceError.invalidArgument("delivered_time", "is later than check_time")
    }
    let shopperFilter = DeliveryFacts.shopperFilter(for: try Permissions.caller())
    let delivered = try await DeliveryFacts.lookup([request.item], shopperID: shopperFilter, database: store.database, logger: log)
    var answer = rules.check(
      type: request.type, category: request.category, delivered: delivered.first ?? nil,
      caller: request.hasDeliveredTime ? request.deliveredTime.date : nil,
      condition: request.goodsCondition, item: request.item, at: at
    )
    // CreateTicket refuses a second open goods case for the same item (ALREADY_EXISTS,
    // OPEN_CASE_EXISTS): say so here too.
    if TicketStore.goodsTypes.contains(request.type),
      let open = try await store.openGoodsCase(covering: request.item, shopperID: shopperFilter, logger: log)
    {
      answer.reasons.append(.openCaseExists)
      answer.reasonMessages.append("open case \(open) already covers this order item; add to that case instead")
      answer.eligible = false
    }
    return answer
  }
}

extension Ticket {
  /// When the case's current resolution happened: its resolve_time while RESOLVED or CLOSED;
  /// nil otherwise (a reopened case keeps its last resolve_time, but is not resolved).
  var currentResolveTime: Date? {
    [.resolved, .closed].contains(status) && hasResolveTime ? resolveTime.date : nil
  }

  /// The SLA flags as of `now`: a clock breaches when its due time passes before it is met.
  func withLiveSLA(at now: Date) -> Ticket {
    var ticket = self
    let stopped = [.rejected, .cancelled].contains(status)
    let responded: Date? = sla.hasFirstResponseTime ? sla.firstResponseTime.date : nil
    // A paused clock stops counting at the start of the pause.
    let end = sla.paused ? sla.pausedSinceTime.date : now
    ticket.sla.firstResponseBreached = !stopped && (responded ?? end) > sla.firstResponseDueTime.date
    let resolved = currentResolveTime
    ticket.sla.resolutionBreached = !stopped && (resolved ?? end) > sla.resolutionDueTime.date
    ticket.sla.clocks = liveSlaClocks(at: now)
    // paused_duration counts the running pause as it runs (the due times move when it ends).
    if sla.paused {
      let running = max(0, now.timeIntervalSince(sla.pausedSinceTime.date)).rounded(.down)
      ticket.sla.pausedDuration = .init(seconds: sla.pausedDuration.seconds + Int64(running))
    }
    return ticket
  }
}
