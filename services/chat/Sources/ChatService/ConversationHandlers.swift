import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec
import Synchronization

/// support.chat.v1.ConversationService: the methods this release serves (start, get, send,
/// list messages). The router answers the rest of the contract with UNIMPLEMENTED.
struct ConversationHandlers: RegistrableRPCService {
  typealias Methods = Support_Chat_V1_ConversationService.Method
  /// The domain of the chat service's ErrorInfo details.
  static let errorDomain = "support.chat.v1"
  let store: ChatStore
  let settings: ChatSettings
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.StartConversation.descriptor, startConversation)
    router.registerUnary(Methods.GetConversation.descriptor, getConversation)
    router.registerUnary(Methods.SendMessage.descriptor, sendMessage)
    router.registerUnary(Methods.ListMessages.descriptor, listMessages)
  }

  /// A shopper reads only their own conversations (PERMISSION_DENIED, as the contract says);
  /// agents, supervisors and services read any.
  static func requireParticipant(_ shopperID: String) throws {
    guard try Permissions.mayRead(shopperID: shopperID) else {
      throw Permissions.denied("this conversation belongs to another shopper")
    }
  }

  static let maxTextLength = 5_000
  static let maxAttachments = 10

  @Sendable func startConversation(_ request: Support_Chat_V1_StartConversationRequest) async throws -> Conversation {
    try Validate.requestID(request.requestID)
    try Validate.required(request.shopperID, "shopper_id")
    try Permissions.requireSelf(shopperID: request.shopperID, field: "shopper_id")
    try Validate.specified(request.channel, "channel")
    try Validate.maxLength(request.orderID, "order_id", Validate.maxIDLength)
    try Validate.maxLength(request.skillGroupID, "skill_group_id", Validate.maxIDLength)
    try Validate.maxLength(request.subject, "subject", 200)
    try Validate.maxLength(request.shopperDisplayName, "shopper_display_name", 100)
    if request.initialMessage.isEmpty && request.initialAttachments.isEmpty {
      throw ServiceError.invalidArgument("initial_message", "is required when there are no initial_attachments")
    }
    try Validate.maxLength(request.initialMessage, "initial_message", Self.maxTextLength)
    try Validate.maxCount(request.initialAttachments, "initial_attachments", Self.maxAttachments)
    for (index, attachment) in request.initialAttachments.enumerated() { try Validate.attachment(attachment, "initial_attachments[\(index)]") }
    let skillGroup = request.skillGroupID.isEmpty ? settings.defaultSkillGroup : request.skillGroupID
    guard !skillGroup.isEmpty else {
      throw ServiceError.failedPrecondition(
        reason: "NO_SKILL_GROUP", domain: Self.errorDomain,
        "skill_group_id is empty and no default skill group is configured (SUPPORTMESH_CHAT_DEFAULT_SKILL_GROUP)")
    }

    let now = Date.nowMicroseconds
    var conversation = Conversation()
    conversation.conversationID = UUID().uuidString.lowercased()
    conversation.shopperID = request.shopperID
    conversation.channel = request.channel
    conversation.orderID = request.orderID
    conversation.skillGroupID = skillGroup
    conversation.subject = request.subject
    conversation.shopperDisplayName = request.shopperDisplayName
    // QUEUED first; the store's transaction marks an offline message (no agent of the group
    // ONLINE) and lets routing assign it at once when an agent has free capacity.
    conversation.status = .queued
    conversation.enqueueTime = now.timestamp
    conversation.createTime = now.timestamp
    conversation.updateTime = now.timestamp
    conversation.version = 1
    var first: ChatMessage?
    if !request.initialMessage.isEmpty || !request.initialAttachments.isEmpty {
      var message = ChatMessage()
      message.messageID = UUID().uuidString.lowercased()
      message.conversationID = conversation.conversationID
      message.sender = .with { $0.kind = .shopper; $0.id = request.shopperID; $0.displayName = request.shopperDisplayName }
      message.text = request.initialMessage
      message.attachments = request.initialAttachments
      message.createTime = now.timestamp
      message.requestID = request.requestID
      first = message
    }
    let fingerprint = try Fingerprint.of(request)
    let stored = try await GroupGate.shared.serialize(skillGroup) { [conversation, first] in
      try await store.start(conversation, firstMessage: first, requestID: request.requestID, fingerprint: fingerprint, logger: log)
    }
    // The live queue position is computed on read.
    return try await store.conversation(UUID(uuidString: stored.conversationID)!, logger: log) ?? stored
  }

  @Sendable func getConversation(_ request: Support_Chat_V1_GetConversationRequest) async throws -> Conversation {
    guard let id = try Validate.resourceID(request.conversationID, "conversation_id"),
      let conversation = try await store.conversation(id, logger: log)
    else { throw ServiceError.notFound("conversation", request.conversationID) }
    try Self.requireParticipant(conversation.shopperID)
    return conversation
  }

  @Sendable func sendMessage(_ request: Support_Chat_V1_SendMessageRequest) async throws -> ChatMessage {
    try Validate.requestID(request.requestID)
    guard request.hasSender else { throw ServiceError.invalidArgument("sender", "is required") }
    try Validate.known(request.sender.kind, "sender.kind")
    // Who writes is the verified caller: a sender naming someone else is refused.
    let sender = try Permissions.actor(claimed: request.sender, field: "sender")
    if sender.kind != .system { try Validate.required(sender.id, "sender.id") }
    try CannedReply.validate(request, sender: sender)
    if request.text.isEmpty && request.attachments.isEmpty && request.cannedResponseID.isEmpty {
      throw ServiceError.invalidArgument("text", "is required when there are no attachments or canned_response_id")
    }
    try Validate.maxLength(request.text, "text", Self.maxTextLength)
    try Validate.maxCount(request.attachments, "attachments", Self.maxAttachments)
    for (index, attachment) in request.attachments.enumerated() { try Validate.attachment(attachment, "attachments[\(index)]") }
    guard let id = try Validate.resourceID(request.conversationID, "conversation_id") else {
      throw ServiceError.notFound("conversation", request.conversationID)
    }
    let now = Date.nowMicroseconds
    // The conversation as the first agent reply left it, exported once the write committed.
    let firstReply = MeasuredFirstReply()
    let logger = log
    let outcome = try await store.append(
      to: id, requestID: request.requestID, fingerprint: Fingerprint.of(request), logger: logger
    ) { current, connection in
      // `decide` may run again (its batch failed): only the run that is written counts.
      firstReply.conversation.withLock { $0 = nil }
      guard current.status != .closed else {
        throw ServiceError.failedPrecondition(
          reason: "CONVERSATION_CLOSED", domain: Self.errorDomain, "conversation \(current.conversationID) is CLOSED",
          metadata: ["conversation_id": current.conversationID])
      }
      switch sender.kind {
      case .shopper:
        guard sender.id == current.shopperID else {
          throw RPCError(code: .permissionDenied, message: "sender \(sender.id) is not this conversation's shopper")
        }
      case .agent:
        guard current.status == .active else {
          throw ServiceError.failedPrecondition(
            reason: "CONVERSATION_NOT_ASSIGNED", domain: Self.errorDomain, "an agent cannot write to a QUEUED conversation: assign it first",
            metadata: ["conversation_id": current.conversationID])
        }
        guard sender.id == current.assignedAgentID else {
          throw RPCError(code: .permissionDenied, message: "agent \(sender.id) is not assigned to this conversation")
        }
      default:
        break
      }
      var message = ChatMessage()
      message.messageID = UUID().uuidString.lowercased()
      message.conversationID = current.conversationID
      message.sender = sender
      message.text = request.text
      if !request.cannedResponseID.isEmpty {
        message.text = try await CannedReply.render(request, in: current, sender: sender, on: connection, logger: logger)
        message.cannedResponseID = request.cannedResponseID
      }
      message.attachments = request.attachments
      message.createTime = now.timestamp
      message.requestID = request.requestID
      // Part of the offline message (留言) only while it still waits for an agent.
      message.offline = current.offline && sender.kind == .shopper && current.status == .queued
      var updated = current
      updated.updateTime = now.timestamp
      if sender.kind == .agent && !updated.hasFirstAgentMessageTime {
        updated.firstAgentMessageTime = now.timestamp
        if FirstResponseSLA.replied(&updated, at: now.timestamp) { firstReply.conversation.withLock { $0 = updated } }
      }
      return (message, updated)
    }
    if case .appended = outcome, let measured = firstReply.conversation.withLock({ $0 }) { FirstResponseSLA.observe(measured) }
    switch outcome {
    case .appended(let message), .retried(let message): return message
    }
  }

  @Sendable func listMessages(_ request: Support_Chat_V1_ListMessagesRequest) async throws -> Support_Chat_V1_ListMessagesResponse {
    let pageSize = try PageCursor.pageSize(request.pageSize)
    guard let id = try Validate.resourceID(request.conversationID, "conversation_id") else {
      throw ServiceError.notFound("conversation", request.conversationID)
    }
    let filterKey = request.conversationID.lowercased()
    let cursor = try PageCursor.decode(request.pageToken, filter: filterKey)
    guard var messages = try await store.messages(id, afterSequence: cursor?.key ?? 0, limit: pageSize + 1, logger: log, owner: Self.requireParticipant)
    else {
      throw ServiceError.notFound("conversation", request.conversationID)
    }
    var response = Support_Chat_V1_ListMessagesResponse()
    if messages.count > pageSize {
      messages.removeLast(messages.count - pageSize)
      response.nextPageToken = PageCursor(key: messages[messages.count - 1].sequence, id: "", filter: filterKey).token
    }
    response.messages = messages
    return response
  }
}

/// Chat settings from the environment.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_CHAT_DEFAULT_SKILL_GROUP | queue for conversations that name no skill group | general |
struct ChatSettings: Sendable {
  var defaultSkillGroup: String

  static func load(_ env: EnvironmentReader = EnvironmentReader()) -> ChatSettings {
    ChatSettings(defaultSkillGroup: env.string("SUPPORTMESH_CHAT_DEFAULT_SKILL_GROUP", default: "general"))
  }
}
