import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

/// ShopperRepliedEvent (chat_events.proto): a shopper writing in a conversation escalated into
/// a case tells tickets the case's wait on the shopper is over. Announced once per shopper
/// turn (the previous message is not the shopper's), so a shopper typing ten lines writes one
/// event, and only for conversations with an escalation that has its ticket.
enum ShopperReplies {
  /// Called in the message's transaction, after the message row and before the timeline's
  /// flush (the outbox's position lock comes before the timeline's, as everywhere in chat).
  static func announce(
    _ message: ChatMessage, in conversation: Conversation, outbox: EventOutbox?, on connection: PostgresConnection, logger: Logger
  ) async throws {
    // Most messages stop here, without a query: not a shopper's, or never escalated.
    guard let outbox, message.sender.kind == .shopper, !conversation.escalationIds.isEmpty,
      let id = UUID(uuidString: conversation.conversationID)
    else { return }
    // The message just before (primary key range read): the shopper's own means the same turn.
    for try await body in try await connection.query(
      """
      SELECT body FROM messages WHERE conversation_id = \(id) AND sequence < \(message.sequence)
      ORDER BY sequence DESC LIMIT 1
      """, logger: logger
    ).decode(ByteBuffer.self) {
      if try ChatMessage(bytea: body).sender.kind == .shopper { return }
    }
    var ticketIDs: [String] = []
    for try await body in try await connection.query(
      """
      SELECT body FROM escalations WHERE conversation_id = \(id) AND status = \(Int16(Support_Chat_V1_EscalationStatus.ticketCreated.rawValue))
      ORDER BY created_us, escalation_id
      """, logger: logger
    ).decode(ByteBuffer.self) {
      let ticketID = try Escalation(bytea: body).ticketID
      if !ticketID.isEmpty && !ticketIDs.contains(ticketID) { ticketIDs.append(ticketID) }
    }
    guard !ticketIDs.isEmpty else { return }
    let eventID = UUID()
    try await outbox.append(
      .shopperReplied(.with {
        $0.eventID = eventID.uuidString.lowercased()
        $0.eventTime = message.createTime
        $0.conversationID = conversation.conversationID
        $0.shopperID = conversation.shopperID
        $0.ticketIds = ticketIDs
        $0.messageID = message.messageID
        $0.messageSequence = message.sequence
      }), subject: conversation.conversationID, eventID: eventID, occurredAt: message.createTime.date, on: connection, logger: logger)
  }
}
