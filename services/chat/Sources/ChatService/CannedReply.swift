import Foundation
import GRPCCore
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// SendMessage with a canned_response_id (chat.proto): the response rendered with the
/// conversation's placeholders, overridden by `placeholder_values`.
enum CannedReply {
  /// Checks that need no database, before anything is read: exclusive with text, staff only,
  /// well-formed placeholder values.
  static func validate(_ request: Support_Chat_V1_SendMessageRequest, sender: Support_Common_V1_Actor) throws {
    guard !request.cannedResponseID.isEmpty else { return }
    if !request.text.isEmpty {
      throw ServiceError.invalidArgument("canned_response_id", "is exclusive with text: send one or the other")
    }
    if sender.kind == .shopper {
      throw Permissions.denied("canned_response_id: only agents, supervisors and services send canned responses")
    }
    try ConversationPlaceholders.validate(request.placeholderValues)
  }

  /// The rendered text for `request` in `conversation`, read on the send's connection (inside
  /// its transaction, so a response deleted meanwhile is not used). NOT_FOUND for an unknown
  /// or deleted response; PERMISSION_DENIED when an agent uses a SKILL_GROUP response of
  /// other groups; INVALID_ARGUMENT naming every placeholder without a value.
  static func render(
    _ request: Support_Chat_V1_SendMessageRequest, in conversation: Conversation, sender: Support_Common_V1_Actor,
    on connection: PostgresConnection, logger: Logger
  ) async throws -> String {
    guard let id = UUID(uuidString: request.cannedResponseID),
      let response = try await CannedResponseStore.load(id, forUpdate: false, on: connection, logger: logger)
    else { throw ServiceError.notFound("canned response", request.cannedResponseID) }
    // Agent directory is not consulted: a SKILL_GROUP response is available in conversations
    // of its groups (the agent works the conversation through that group).
    if sender.kind == .agent && response.scope == .skillGroup && !response.skillGroupIds.contains(conversation.skillGroupID) {
      throw Permissions.denied(
        "canned response \(response.cannedResponseID) is for skill groups \(response.skillGroupIds.joined(separator: ", ")), not \(conversation.skillGroupID)")
    }
    // {agent_name}: the name the sender gave, else the sending agent's display_name on file.
    var agentName = sender.displayName
    if agentName.isEmpty, sender.kind == .agent, let agentID = UUID(uuidString: sender.id),
      let agent = try await AgentRows.agent(agentID, on: connection, logger: logger)
    {
      agentName = agent.displayName
    }
    let values = ConversationPlaceholders.merged(conversation, agentName: agentName, overrides: request.placeholderValues)
    let rendered = try CannedResponseTemplate(parsing: response.body).render(values)
    guard rendered.missing.isEmpty else {
      throw ServiceError.invalidArgument(
        "placeholder_values", "no value for placeholder \(rendered.missing.map { "{\($0)}" }.joined(separator: ", ")) of canned response \(response.cannedResponseID)")
    }
    if rendered.text.count > ConversationHandlers.maxTextLength {
      throw ServiceError.invalidArgument(
        "placeholder_values", "the rendered text is longer than \(ConversationHandlers.maxTextLength) characters")
    }
    return rendered.text
  }
}
