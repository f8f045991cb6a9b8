import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// ConversationService.CloseConversation, and the close itself (`ConversationClosing.close`)
/// for other handlers that close inside their own transaction (EscalateConversation with
/// close_conversation).
struct CloseHandlers: RegistrableRPCService {
  typealias Methods = Support_Chat_V1_ConversationService.Method
  let database: Database
  let outbox: EventOutbox?
  let settings: ClosingSettings
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.CloseConversation.descriptor, closeConversation)
  }

  static let maxNoteLength = 2_000

  @Sendable func closeConversation(_ request: Support_Chat_V1_CloseConversationRequest) async throws -> Conversation {
    let caller = try Permissions.caller()
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    guard let id = try Validate.resourceID(request.conversationID, "conversation_id") else {
      throw ServiceError.notFound("conversation", request.conversationID)
    }
    try Validate.specified(request.reason, "reason")
    try Validate.maxLength(request.closingNote, "closing_note", Self.maxNoteLength)
    let now = Date.nowMicroseconds
    return try await database.withTransaction(logger: log) { connection in
      guard var conversation = try await ConversationRows.lock(id, on: connection, logger: self.log) else {
        throw ServiceError.notFound("conversation", request.conversationID)
      }
      try ConversationHandlers.requireParticipant(conversation.shopperID)
      if caller.role == .agent && conversation.assignedAgentID != caller.subject.lowercased() {
        throw Permissions.denied("agent \(caller.subject) is not assigned to this conversation (supervisors may close any)")
      }
      // Closing a CLOSED conversation is a safe retry: it returns it unchanged.
      if conversation.status == .closed { return conversation }
      if request.expectedVersion != 0 && request.expectedVersion != conversation.version {
        throw ServiceError.versionMismatch("conversation \(conversation.conversationID)", expected: request.expectedVersion, actual: conversation.version)
      }
      var writer = TimelineWriter()
      try await ConversationClosing.close(
        &conversation, reason: request.reason, note: request.closingNote, actor: actor,
        skipRatingInvitation: request.skipRatingInvitation, settings: self.settings, outbox: self.outbox, writer: &writer, at: now,
        on: connection, logger: self.log)
      try await writer.flush(on: connection, logger: self.log)
      return conversation
    }
  }
}

/// Chat's closing settings from the environment.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_CHAT_CLOSING_GREETING | polite closing (敬语结束) posted on the agent's behalf when an assigned conversation closes RESOLVED, SHOPPER_ENDED or INACTIVITY_TIMEOUT; empty for none | 感谢您的咨询, 祝您生活愉快! Thank you for contacting us. |
struct ClosingSettings: Sendable {
  var closingGreeting: String

  static func load(_ env: EnvironmentReader = EnvironmentReader()) -> ClosingSettings {
    ClosingSettings(closingGreeting: env.string("SUPPORTMESH_CHAT_CLOSING_GREETING", default: "感谢您的咨询, 祝您生活愉快! Thank you for contacting us."))
  }
}

enum ConversationClosing {
  /// Reasons after which the agent says goodbye politely; the others (abandoned, spam,
  /// duplicate, escalated) end without a greeting.
  static let greetedReasons: Set<Support_Chat_V1_CloseReason> = [.resolved, .shopperEnded, .inactivityTimeout]

  /// Closes a conversation the transaction holds locked (`ConversationRows.lock`), which is not
  /// CLOSED, in the routing lock order: it locks the skill groups whose queues the freed agent
  /// serves, lowers the agent's load, posts the closing greeting, records the CLOSED status
  /// event on `writer`, saves the row, lets the freed slot pull the next queued conversation,
  /// and appends ConversationClosedEvent to the outbox. The caller flushes `writer` after
  /// (last), and must not have appended to the outbox before (its head lock would then be held
  /// while this waits for group rows).
  static func close(
    _ conversation: inout Conversation, reason: Support_Chat_V1_CloseReason, note: String, actor: Support_Common_V1_Actor,
    skipRatingInvitation: Bool, settings: ClosingSettings, outbox: EventOutbox?, writer: inout TimelineWriter, at now: Date,
    on connection: PostgresConnection, logger: Logger
  ) async throws {
    let previous = conversation.status
    let agentID = previous == .active ? conversation.assignedAgentID : ""
    let agentGroups = agentID.isEmpty ? [] : try await AssignmentHandlers.groupsOf(agentID, on: connection, logger: logger)
    let groups = try await Routing.lockGroups([conversation.skillGroupID] + agentGroups, on: connection, logger: logger)
    let stats = try await TranscriptStats.read(conversation, on: connection, logger: logger)
    var agentName = ""
    // The agent to rate: the assigned one, else the last one assigned (a transfer back to a
    // queue unassigns).
    let ratedAgentID = conversation.assignedAgentID.isEmpty ? stats.lastAssignedAgentID : conversation.assignedAgentID
    if !ratedAgentID.isEmpty, let id = UUID(uuidString: ratedAgentID),
      let agent = try await AgentRows.agent(id, on: connection, logger: logger)
    {
      agentName = agent.displayName
    }
    if !agentID.isEmpty { try await Routing.changeLoad(of: agentID, by: -1, on: connection, logger: logger) }
    var greeted = false
    if !agentID.isEmpty && greetedReasons.contains(reason) && !settings.closingGreeting.isEmpty {
      var greeting = ChatMessage()
      greeting.messageID = UUID().uuidString.lowercased()
      greeting.conversationID = conversation.conversationID
      greeting.sequence = conversation.lastSequence + 1
      greeting.sender = .with { $0.kind = .agent; $0.id = agentID; $0.displayName = agentName }
      greeting.text = settings.closingGreeting
      greeting.createTime = now.timestamp
      // One closing greeting per conversation: the request id is the conversation's.
      greeting.requestID = "closing-greeting:\(conversation.conversationID)"
      writer.record(.messagePosted(greeting), in: &conversation, at: now)
      try await ChatStore.insert(
        greeting, conversationID: UUID(uuidString: conversation.conversationID)!, requestID: greeting.requestID,
        fingerprint: "closing-greeting", connection, logger)
      greeted = true
    }
    conversation.status = .closed
    conversation.closeTime = now.timestamp
    conversation.closeReason = reason
    conversation.closedBy = actor
    conversation.updateTime = now.timestamp
    conversation.version += 1
    conversation.queuePosition = 0
    writer.record(
      .statusChanged(.with { $0.previousStatus = previous; $0.status = .closed; $0.closeReason = reason; $0.actor = actor }),
      in: &conversation, at: now, concerning: [agentID])
    try await ConversationRows.save(conversation, on: connection, logger: logger)
    // The internal note has no field in Conversation (it is not for the shopper): kept beside it.
    try await connection.query(
      "UPDATE conversations SET closing_note = \(note) WHERE conversation_id = \(UUID(uuidString: conversation.conversationID)!)",
      logger: logger)
    // The freed slot pulls the next waiting conversation at once.
    try await Routing.drain(Array(groups.values), writer: &writer, at: now, on: connection, logger: logger)
    let target = conversation.hasFirstResponseTarget
      ? conversation.firstResponseTarget.microseconds
      : groups[conversation.skillGroupID]?.firstResponseTargetMicros ?? Routing.defaultTargetMicros
    let event = closedEvent(
      conversation, agentID: ratedAgentID, agentName: agentName, stats: stats, greeted: greeted, skipRatingInvitation: skipRatingInvitation,
      targetMicros: target)
    if let outbox {
      // The payload repeats its envelope's event id, as every producer's events do.
      var event = event
      let eventID = UUID()
      event.eventID = eventID.uuidString.lowercased()
      try await outbox.append(
        .conversationClosed(event), subject: conversation.conversationID, eventID: eventID, occurredAt: now, on: connection, logger: logger)
    }
  }

  /// Every fact feedback needs, from the conversation and its transcript; `agentID` is the agent
  /// to rate (`agentName` theirs).
  static func closedEvent(
    _ conversation: Conversation, agentID: String, agentName: String, stats: TranscriptStats, greeted: Bool, skipRatingInvitation: Bool,
    targetMicros: Int64
  ) -> Support_Chat_V1_ConversationClosedEvent {
    var event = Support_Chat_V1_ConversationClosedEvent()
    event.eventTime = conversation.closeTime
    event.conversationID = conversation.conversationID
    event.shopperID = conversation.shopperID
    event.shopperDisplayName = conversation.shopperDisplayName
    event.channel = conversation.channel
    event.orderID = conversation.orderID
    event.skillGroupID = conversation.skillGroupID
    event.agentID = agentID
    event.agentDisplayName = agentName
    event.participatingAgentIds = stats.participatingAgentIDs
    event.closeReason = conversation.closeReason
    event.closedBy = conversation.closedBy
    // No rating for spam, skipped invitations, or a chat no agent ever answered (an automatic
    // greeting is not an answer).
    event.inviteRating = !skipRatingInvitation && conversation.closeReason != .spam && stats.agentAnswers > 0
    event.offline = conversation.offline
    event.createTime = conversation.createTime
    if conversation.hasFirstAssignTime {
      event.firstAssignTime = conversation.firstAssignTime
      event.queueWait = .between(conversation.createTime, conversation.firstAssignTime)
    }
    if conversation.hasFirstAgentMessageTime {
      event.firstAgentMessageTime = conversation.firstAgentMessageTime
      if conversation.hasFirstAssignTime {
        event.firstResponseTime = .between(conversation.firstAssignTime, conversation.firstAgentMessageTime)
      }
    }
    event.closeTime = conversation.closeTime
    event.firstResponseTarget = .microseconds(targetMicros)
    event.firstResponseTargetMet = event.hasFirstResponseTime && event.firstResponseTime.microseconds <= targetMicros
    if let average = stats.averageResponseMicros { event.averageResponseTime = .microseconds(average) }
    if let longest = stats.maxResponseMicros { event.maxResponseTime = .microseconds(longest) }
    event.answeredMessageCount = Int32(clamping: stats.responseDelaysMicros.count)
    event.answeredWithinTargetCount = Int32(clamping: stats.responseDelaysMicros.filter { $0 <= targetMicros }.count)
    event.totalResponseTime = .microseconds(stats.responseDelaysMicros.reduce(0, +))
    event.totalDuration = .between(conversation.createTime, conversation.closeTime)
    event.shopperMessageCount = Int32(clamping: stats.shopperMessages)
    // The automatic closing greeting counts as an agent message (contract), not as a reply.
    event.agentMessageCount = Int32(clamping: stats.agentMessages + (greeted ? 1 : 0))
    event.systemMessageCount = Int32(clamping: stats.systemMessages)
    event.transferCount = conversation.transferCount
    event.escalationIds = conversation.escalationIds
    return event
  }
}

/// Counts and response times of a conversation's stored messages, read in one query.
struct TranscriptStats: Sendable {
  var shopperMessages = 0
  var agentMessages = 0
  /// Messages of agents or supervisors other than automatic greetings: someone answered.
  var agentAnswers = 0
  var systemMessages = 0
  var averageResponseMicros: Int64?
  var maxResponseMicros: Int64?
  /// Each answered shopper message's delay until the next agent message.
  var responseDelaysMicros: [Int64] = []
  var participatingAgentIDs: [String] = []
  /// The agent of the latest assignment; empty when none.
  var lastAssignedAgentID = ""

  static func read(_ conversation: Conversation, on connection: PostgresConnection, logger: Logger) async throws -> TranscriptStats {
    let id = UUID(uuidString: conversation.conversationID)!
    var stats = TranscriptStats()
    var messages: [ChatMessage] = []
    for try await body in try await connection.query(
      "SELECT body FROM messages WHERE conversation_id = \(id) ORDER BY sequence", logger: logger
    ).decode(ByteBuffer.self) {
      messages.append(try ChatMessage(bytea: body))
    }
    for try await agentID in try await connection.query(
      "SELECT agent_id FROM conversation_assignments WHERE conversation_id = \(id) ORDER BY sequence", logger: logger
    ).decode(String.self) {
      stats.lastAssignedAgentID = agentID
      if !stats.participatingAgentIDs.contains(agentID) { stats.participatingAgentIDs.append(agentID) }
    }
    // Shopper messages sent while an agent was assigned (from the first assignment on), each
    // answered by the next agent message: the delay between them.
    let assignedFrom = conversation.hasFirstAssignTime ? conversation.firstAssignTime.unixMicroseconds : Int64.max
    var waiting: [Int64] = []
    var delays: [Int64] = []
    for message in messages {
      let time = message.createTime.unixMicroseconds
      switch message.sender.kind {
      case .shopper:
        stats.shopperMessages += 1
        if time >= assignedFrom { waiting.append(time) }
      case .agent, .supervisor:
        stats.agentMessages += 1
        // An automatic greeting (AssignmentGreeting) is not the agent answering.
        guard !AssignmentGreeting.isGreeting(message) else { continue }
        stats.agentAnswers += 1
        delays += waiting.map { time - $0 }
        waiting.removeAll()
      default:
        stats.systemMessages += 1
      }
    }
    stats.responseDelaysMicros = delays
    if !delays.isEmpty {
      stats.averageResponseMicros = delays.reduce(0, +) / Int64(delays.count)
      stats.maxResponseMicros = delays.max()
    }
    return stats
  }
}

extension Google_Protobuf_Duration {
  /// end - start, never negative.
  static func between(_ start: Google_Protobuf_Timestamp, _ end: Google_Protobuf_Timestamp) -> Google_Protobuf_Duration {
    .microseconds(max(0, end.unixMicroseconds - start.unixMicroseconds))
  }
}
