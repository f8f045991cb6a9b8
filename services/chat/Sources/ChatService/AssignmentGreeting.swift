import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// SkillGroup.greeting_canned_response_id (礼貌用语开场): at every assignment to an agent, the
/// group's greeting is posted on that agent's behalf, rendered with the conversation's
/// placeholders and the agent's name, in the assignment's transaction. It is automatic: it does
/// not count as the agent's first reply (first_response_time) and does not start the shopper
/// inactivity clock. A greeting whose placeholders the conversation cannot fill (an
/// {order_number} in a pre-sales chat) is skipped and logged, never sent half-rendered.
enum AssignmentGreeting {
  static let requestIDPrefix = "greeting:"

  /// Whether a message is an automatic assignment greeting (by its request id).
  static func isGreeting(_ message: ChatMessage) -> Bool {
    message.requestID.hasPrefix(requestIDPrefix)
  }

  static func post(
    in conversation: inout Conversation, agentID: String, displayName: String, writer: inout TimelineWriter, at now: Date,
    on connection: PostgresConnection, logger: Logger
  ) async throws {
    var greetingID = ""
    for try await id in try await connection.query(
      "SELECT greeting_canned_response_id FROM skill_groups WHERE skill_group_id = \(conversation.skillGroupID)", logger: logger
    ).decode(String.self) {
      greetingID = id
    }
    guard !greetingID.isEmpty, let id = UUID(uuidString: greetingID),
      let response = try await CannedResponseStore.load(id, forUpdate: false, on: connection, logger: logger)
    else { return }
    let values = ConversationPlaceholders.merged(conversation, agentName: displayName, overrides: [:])
    let rendered = try CannedResponseTemplate(parsing: response.body).render(values)
    guard rendered.missing.isEmpty, !rendered.text.isEmpty else {
      logger.warning(
        "greeting not sent: the conversation has no value for its placeholders",
        metadata: ["conversation_id": "\(conversation.conversationID)", "canned_response_id": "\(greetingID)", "missing": "\(rendered.missing)"])
      return
    }
    var greeting = ChatMessage()
    greeting.messageID = UUID().uuidString.lowercased()
    greeting.conversationID = conversation.conversationID
    greeting.sequence = conversation.lastSequence + 1
    greeting.sender = .with { $0.kind = .agent; $0.id = agentID; $0.displayName = displayName }
    greeting.text = String(rendered.text.prefix(ConversationHandlers.maxTextLength))
    greeting.cannedResponseID = greetingID
    greeting.createTime = now.timestamp
    // One greeting per assignment: the request id names the assignment's place in the timeline.
    greeting.requestID = "\(requestIDPrefix)\(conversation.conversationID):\(greeting.sequence)"
    writer.record(.messagePosted(greeting), in: &conversation, at: now)
    try await ChatStore.insert(
      greeting, conversationID: UUID(uuidString: conversation.conversationID)!, requestID: greeting.requestID,
      fingerprint: "assignment-greeting", connection, logger)
  }
}
