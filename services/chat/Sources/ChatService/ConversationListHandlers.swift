import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// ConversationService.ListConversations: inboxes, shopper histories, queues, offline messages.
/// SQL in QueueStore.swift (QueueRows.list); every filter has an index (AgentSchema.routing).
struct ConversationListHandlers: RegistrableRPCService {
  typealias Methods = Support_Chat_V1_ConversationService.Method
  let database: Database
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.ListConversations.descriptor, listConversations)
  }

  @Sendable func listConversations(_ request: Support_Chat_V1_ListConversationsRequest) async throws -> Support_Chat_V1_ListConversationsResponse {
    let caller = try Permissions.caller()
    let pageSize = try PageCursor.pageSize(request.pageSize)
    try Validate.maxLength(request.agentID, "agent_id", Validate.maxIDLength)
    try Validate.maxLength(request.shopperID, "shopper_id", Validate.maxIDLength)
    try Validate.maxLength(request.skillGroupID, "skill_group_id", Validate.maxIDLength)
    try Validate.maxLength(request.orderID, "order_id", Validate.maxIDLength)
    try Validate.maxCount(request.statuses, "statuses", 3)
    for (index, status) in request.statuses.enumerated() { try Validate.specified(status, "statuses[\(index)]") }
    // A shopper lists only their own conversations: no shopper_id means their own.
    var shopperID = request.shopperID
    if !caller.isStaff {
      if shopperID.isEmpty { shopperID = caller.subject }
      try Permissions.requireSelf(shopperID: shopperID, field: "shopper_id")
    }
    let filter = QueueRows.ListFilter(
      agentID: request.agentID.lowercased(), shopperID: shopperID,
      statuses: Array(Set(request.statuses.map { Int16($0.rawValue) })).sorted(),
      skillGroupID: request.skillGroupID, offlineOnly: request.offlineOnly, orderID: request.orderID)
    let filterKey = try Fingerprint.of(Support_Chat_V1_ListConversationsRequest.with {
      $0.agentID = filter.agentID; $0.shopperID = filter.shopperID; $0.statuses = request.statuses
      $0.skillGroupID = filter.skillGroupID; $0.offlineOnly = filter.offlineOnly; $0.orderID = filter.orderID
    })
    let cursor = try PageCursor.decode(
      request.pageToken, filter: filterKey,
      validKeys: Validate.timestampSeconds.lowerBound * 1_000_000...Validate.timestampSeconds.upperBound * 1_000_000)
    if let cursor, UUID(uuidString: cursor.id) == nil {
      throw ServiceError.invalidArgument("page_token", "is not a token this service issued")
    }
    var page = try await database.withConnection(logger: log) {
      try await QueueRows.list(filter, after: cursor, limit: pageSize + 1, on: $0, logger: self.log)
    }
    var response = Support_Chat_V1_ListConversationsResponse()
    if page.count > pageSize {
      page.removeLast(page.count - pageSize)
      let last = page[page.count - 1]
      response.nextPageToken = PageCursor(key: last.sortMicros, id: last.conversation.conversationID, filter: filterKey).token
    }
    response.conversations = page.map(\.conversation)
    return response
  }
}
