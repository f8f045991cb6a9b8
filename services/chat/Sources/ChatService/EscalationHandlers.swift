import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// support.chat.v1.ConversationService: EscalateConversation, GetEscalation, ListEscalations.
/// The case itself is created by the tickets service from ConversationEscalatedEvent; its
/// answer comes back through TicketAnswersConsumer (chat.tickets).
struct EscalationHandlers: RegistrableRPCService {
  typealias Methods = Support_Chat_V1_ConversationService.Method
  let store: EscalationStore
  let closingSettings: ClosingSettings
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.EscalateConversation.descriptor, escalateConversation)
    router.registerUnary(Methods.GetEscalation.descriptor, getEscalation)
    router.registerUnary(Methods.ListEscalations.descriptor, listEscalations)
  }

  static let maxSummaryLength = 2_000
  static let maxTitleLength = 200
  static let maxAttachments = 20
  /// Types whose case concerns goods of an order.
  static let orderTypes: Set<Support_Chat_V1_EscalationTicketType> = [.returnAndRefund, .refundOnly, .exchange, .repair]
  /// Types whose eligibility window counts from the delivery.
  static let deliveredTypes: Set<Support_Chat_V1_EscalationTicketType> = [.returnAndRefund, .exchange, .repair]

  @Sendable func escalateConversation(_ request: Support_Chat_V1_EscalateConversationRequest) async throws -> Escalation {
    try Validate.requestID(request.requestID)
    guard let conversationID = try Validate.resourceID(request.conversationID, "conversation_id") else {
      throw ServiceError.notFound("conversation", request.conversationID)
    }
    try Validate.specified(request.ticketType, "ticket_type")
    try Validate.specified(request.category, "category")
    try Validate.known(request.priority, "priority")
    try Validate.required(request.summary, "summary", maxLength: Self.maxSummaryLength)
    try Validate.maxLength(request.title, "title", Self.maxTitleLength)
    try Validate.maxLength(request.orderID, "order_id", Validate.maxIDLength)
    try Validate.maxCount(request.orderItems, "order_items", 100)
    for (index, item) in request.orderItems.enumerated() {
      try Validate.required(item.orderID, "order_items[\(index)].order_id")
      try Validate.maxLength(item.orderItemID, "order_items[\(index)].order_item_id", Validate.maxIDLength)
      if item.quantity < 0 { throw ServiceError.invalidArgument("order_items[\(index)].quantity", "must not be negative") }
      if item.hasUnitPrice { try Validate.money(item.unitPrice, "order_items[\(index)].unit_price") }
    }
    try Validate.maxCount(request.attachments, "attachments", Self.maxAttachments)
    for (index, attachment) in request.attachments.enumerated() { try Validate.attachment(attachment, "attachments[\(index)]") }
    if request.hasDeliveredTime {
      try Validate.timestamp(request.deliveredTime, "delivered_time")
      if request.deliveredTime.date > Date().addingTimeInterval(60) {
        throw ServiceError.invalidArgument("delivered_time", "lies in the future")
      }
    } else if Self.deliveredTypes.contains(request.ticketType) {
      throw ServiceError.invalidArgument("delivered_time", "is required for \(request.ticketType): the case's eligibility window counts from it")
    }
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    guard actor.kind != .shopper else { throw Permissions.denied("only the assigned agent, a supervisor or the system may escalate a conversation") }

    let now = Date.nowMicroseconds
    let outcome = try await store.record(
      conversationID: conversationID, requestID: request.requestID, fingerprint: Fingerprint.of(request), logger: log,
      closing: request.closeConversation ? .init(settings: closingSettings) : nil
    ) { conversation, messageCount in
      if conversation.status == .closed {
        throw ServiceError.failedPrecondition(
          reason: "CONVERSATION_CLOSED", domain: ConversationHandlers.errorDomain, "conversation \(conversation.conversationID) is CLOSED",
          metadata: ["conversation_id": conversation.conversationID])
      }
      if actor.kind == .agent && actor.id != conversation.assignedAgentID {
        throw Permissions.denied("agent \(actor.id) is not assigned to this conversation: only its agent, a supervisor or the system may escalate it")
      }
      if request.expectedVersion != 0 && request.expectedVersion != conversation.version {
        throw ServiceError.versionMismatch("conversation", expected: request.expectedVersion, actual: conversation.version)
      }
      return try Self.escalation(request, of: conversation, messageCount: messageCount, by: actor, at: now)
    }
    switch outcome {
    case .recorded(let escalation):
      log.info("conversation escalated", metadata: ["conversation_id": "\(escalation.conversationID)", "escalation_id": "\(escalation.escalationID)"])
      return escalation
    case .retried(let escalation):
      return escalation
    }
  }

  /// The escalation `request` records for the locked `conversation` (FAILED_PRECONDITION
  /// ORDER_REQUIRED for a goods case without an order). Shared with the offline-message sweep.
  static func escalation(
    _ request: Support_Chat_V1_EscalateConversationRequest, of conversation: Conversation, messageCount: Int32,
    by actor: Support_Common_V1_Actor, at now: Date
  ) throws -> Escalation {
    let orderID = request.orderID.isEmpty ? conversation.orderID : request.orderID
    if Self.orderTypes.contains(request.ticketType) && orderID.isEmpty && request.orderItems.isEmpty {
      throw ServiceError.failedPrecondition(
        reason: "ORDER_REQUIRED", domain: ConversationHandlers.errorDomain,
        "\(request.ticketType) needs an order: neither the request nor the conversation has an order_id",
        metadata: ["conversation_id": conversation.conversationID])
    }
    var escalation = Escalation()
    escalation.escalationID = UUID().uuidString.lowercased()
    escalation.conversationID = conversation.conversationID
    escalation.shopperID = conversation.shopperID
    escalation.orderID = orderID.isEmpty ? (request.orderItems.first?.orderID ?? "") : orderID
    escalation.orderItems = request.orderItems
    escalation.ticketType = request.ticketType
    escalation.category = request.category
    escalation.priority = request.priority == .unspecified ? .normal : request.priority
    escalation.summary = request.summary
    escalation.title = request.title.isEmpty ? Self.title(fromSummary: request.summary) : request.title
    if request.hasDeliveredTime { escalation.deliveredTime = request.deliveredTime }
    escalation.transcript = .with {
      $0.subject = .with { $0.kind = .conversation; $0.id = conversation.conversationID }
      $0.upToSequence = conversation.lastSequence
      $0.messageCount = messageCount
    }
    escalation.attachments = request.attachments
    escalation.status = .pending
    escalation.requestedBy = actor
    escalation.createTime = now.timestamp
    escalation.updateTime = now.timestamp
    escalation.version = 1
    return escalation
  }

  /// The summary's first line, cut to the title's length.
  static func title(fromSummary summary: String) -> String {
    let firstLine = summary.split(whereSeparator: \.isNewline).first.map(String.init) ?? summary
    return String(firstLine.trimmingCharacters(in: .whitespaces).prefix(maxTitleLength))
  }

  @Sendable func getEscalation(_ request: Support_Chat_V1_GetEscalationRequest) async throws -> Escalation {
    guard let id = try Validate.resourceID(request.escalationID, "escalation_id"),
      let escalation = try await store.escalation(id, logger: log),
      // Another shopper's escalation does not exist for a shopper caller.
      try Permissions.mayRead(shopperID: escalation.shopperID)
    else { throw ServiceError.notFound("escalation", request.escalationID) }
    return escalation
  }

  @Sendable func listEscalations(_ request: Support_Chat_V1_ListEscalationsRequest) async throws -> Support_Chat_V1_ListEscalationsResponse {
    try Permissions.requireStaff("list escalations")
    let pageSize = try PageCursor.pageSize(request.pageSize)
    try Validate.maxLength(request.shopperID, "shopper_id", Validate.maxIDLength)
    for (index, status) in request.statuses.enumerated() { try Validate.specified(status, "statuses[\(index)]") }
    var filter = EscalationStore.ListFilter(shopperID: request.shopperID, statuses: request.statuses.map { Int16($0.rawValue) })
    if !request.conversationID.isEmpty {
      guard let id = UUID(uuidString: request.conversationID) else {
        throw ServiceError.invalidArgument("conversation_id", "is not a conversation id")
      }
      filter.conversationID = id
    }
    var filterOnly = request
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    let cursor = try PageCursor.decode(request.pageToken, filter: try Fingerprint.of(filterOnly))
    var after: (micros: Int64, id: UUID)?
    if let cursor {
      guard let id = UUID(uuidString: cursor.id) else { throw ServiceError.invalidArgument("page_token", "is not a token this service issued") }
      after = (cursor.key, id)
    }
    var escalations = try await store.list(filter, after: after, limit: pageSize + 1, logger: log)
    var response = Support_Chat_V1_ListEscalationsResponse()
    if escalations.count > pageSize {
      escalations.removeLast(escalations.count - pageSize)
      let last = escalations[escalations.count - 1]
      response.nextPageToken = PageCursor(key: last.createTime.unixMicroseconds, id: last.escalationID, filter: try Fingerprint.of(filterOnly)).token
    }
    response.escalations = escalations
    return response
  }
}
