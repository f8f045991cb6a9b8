import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// SendTypingIndicator (ephemeral: a NOTIFY to every chat instance's hub, never stored) and
/// MarkRead (a stored ReadMarker event, written with the timeline in one transaction).
struct ReadAndTypingHandlers: RegistrableRPCService {
  typealias Methods = Support_Chat_V1_ConversationService.Method
  let database: Database
  let settings: StreamSettings
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.SendTypingIndicator.descriptor, sendTypingIndicator)
    router.registerUnary(Methods.MarkRead.descriptor, markRead)
  }

  @Sendable func sendTypingIndicator(
    _ request: Support_Chat_V1_SendTypingIndicatorRequest
  ) async throws -> Support_Chat_V1_SendTypingIndicatorResponse {
    guard let id = try Validate.resourceID(request.conversationID, "conversation_id") else {
      throw ServiceError.notFound("conversation", request.conversationID)
    }
    let actor = try Self.participant(request.hasActor ? request.actor : nil, field: "actor")
    let logger = log
    let now = Date.nowMicroseconds
    let expiry = now.addingTimeInterval(Double(settings.typingLifetime.components.seconds))
    try await database.withConnection(logger: logger) { connection in
      guard let conversation = try await ChatStreamStore.conversation(id, on: connection, logger: logger) else {
        throw ServiceError.notFound("conversation", request.conversationID)
      }
      try ParticipantRules.requireParticipant(actor, conversation, field: "actor")
      guard conversation.status != .closed else {
        throw ServiceError.failedPrecondition(
          reason: "CONVERSATION_CLOSED", domain: ConversationHandlers.errorDomain, "conversation \(conversation.conversationID) is CLOSED",
          metadata: ["conversation_id": conversation.conversationID])
      }
      let event = ConversationEvent.with {
        $0.sequence = conversation.lastSequence
        $0.conversationID = conversation.conversationID
        $0.eventTime = now.timestamp
        $0.typing = .with { $0.actor = actor; $0.typing = request.typing; $0.expireTime = expiry.timestamp }
      }
      try await ChatStreamStore.publishEphemeral(try EphemeralPayload(conversation: conversation, event: event), on: connection, logger: logger)
    }
    return .with { $0.expireTime = expiry.timestamp }
  }

  @Sendable func markRead(_ request: Support_Chat_V1_MarkReadRequest) async throws -> Support_Chat_V1_MarkReadResponse {
    guard let id = try Validate.resourceID(request.conversationID, "conversation_id") else {
      throw ServiceError.notFound("conversation", request.conversationID)
    }
    let reader = try Self.participant(request.hasReader ? request.reader : nil, field: "reader")
    guard request.readUpToSequence > 0 else { throw ServiceError.invalidArgument("read_up_to_sequence", "must be positive") }
    let logger = log
    let now = Date.nowMicroseconds
    return try await database.withTransaction(logger: logger) { connection in
      guard var conversation = try await ConversationRows.lock(id, on: connection, logger: logger) else {
        throw ServiceError.notFound("conversation", request.conversationID)
      }
      try ParticipantRules.requireParticipant(reader, conversation, field: "reader")
      guard request.readUpToSequence <= conversation.lastSequence else {
        throw RPCError(
          code: .outOfRange,
          message: "read_up_to_sequence \(request.readUpToSequence) is beyond the conversation's last_sequence \(conversation.lastSequence)")
      }
      let shopperSide = reader.kind == .shopper
      let current = shopperSide ? conversation.shopperReadSequence : conversation.agentReadSequence
      // Markers never move backwards: a lower or equal value changes nothing.
      guard request.readUpToSequence > current else { return .with { $0.readUpToSequence = current } }
      if shopperSide {
        conversation.shopperReadSequence = request.readUpToSequence
      } else {
        conversation.agentReadSequence = request.readUpToSequence
      }
      var timeline = TimelineWriter()
      let event = timeline.record(
        .read(.with { $0.reader = reader; $0.readUpToSequence = request.readUpToSequence }), in: &conversation, at: now)
      try await ConversationRows.save(conversation, on: connection, logger: logger)
      _ = try await timeline.flush(on: connection, logger: logger)
      return .with {
        $0.readUpToSequence = request.readUpToSequence
        $0.sequence = event.sequence
      }
    }
  }

  /// The actor of a typing indicator or read marker: required, and the verified caller (a
  /// service names the shopper or agent it acts for).
  static func participant(_ claimed: Permissions.Actor?, field: String) throws -> Permissions.Actor {
    guard let claimed else { throw ServiceError.invalidArgument(field, "is required") }
    try Validate.known(claimed.kind, "\(field).kind")
    let actor = try Permissions.actor(claimed: claimed, field: field)
    try Validate.required(actor.id, "\(field).id")
    return actor
  }
}
