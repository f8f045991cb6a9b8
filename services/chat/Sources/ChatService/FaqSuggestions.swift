import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// Self-service first (自助服务): when a new conversation's first message matches published FAQ
/// entries, StartConversation posts them as a SYSTEM message before the conversation is
/// routed (chat.proto, StartConversation), so the shopper may find the answer while waiting.
enum FaqSuggestions {
  /// At most this many entries are suggested, best first.
  static let maxEntries = 3
  /// A weaker match (score below 0.3, e.g. one shared character) is noise, not a suggestion.
  static let minimumScore: Int64 = 300_000
  /// Each suggestion shows the start of its answer; GetFaqEntry has the rest.
  static let answerPreviewLength = 200

  /// Inside StartConversation's transaction, after the initial message: when its text matches
  /// published entries, records and stores the suggestions message as the conversation's next
  /// event (the caller saves nothing else: the conversation row is updated here).
  static func post(
    after first: ChatMessage?, in conversation: inout Conversation, timeline: inout TimelineWriter, fingerprint: String,
    on connection: PostgresConnection, logger: Logger
  ) async throws {
    guard let first, !first.text.isEmpty else { return }
    let entries = try await entries(for: first.text, on: connection, logger: logger)
    guard !entries.isEmpty else { return }
    var suggestion = message(entries, at: first.createTime.date)
    suggestion.conversationID = conversation.conversationID
    // Unique in the conversation (messages are unique by request id there) and tied to the start.
    suggestion.requestID = "\(first.requestID)/faq-suggestions"
    suggestion.sequence = conversation.lastSequence + 1
    timeline.record(.messagePosted(suggestion), in: &conversation, at: first.createTime.date)
    try await ChatStore.insert(
      suggestion, conversationID: UUID(uuidString: conversation.conversationID)!, requestID: suggestion.requestID,
      fingerprint: fingerprint, connection, logger)
    try await ConversationRows.save(conversation, on: connection, logger: logger)
    logger.info("FAQ suggestions posted", metadata: ["conversation_id": "\(conversation.conversationID)", "faq_entry_ids": "\(suggestion.suggestedFaqEntryIds)"])
  }

  /// The best published entries for `text`, read on the start transaction's connection.
  static func entries(for text: String, on connection: PostgresConnection, logger: Logger) async throws -> [FaqEntry] {
    let search = FaqStore.Search(query: text, keywords: [], category: "")
    guard !search.tokens.isEmpty else { return [] }
    let hits = try await FaqStore.search(
      search, after: nil, minimumScore: minimumScore, limit: maxEntries, on: connection, logger: logger)
    return hits.map(\.entry)
  }

  /// The SYSTEM message listing `entries` (question and answer preview, ids in
  /// `suggested_faq_entry_ids`); `sequence` and `conversationID` are set by the caller.
  static func message(_ entries: [FaqEntry], at now: Date) -> ChatMessage {
    var lines = ["自助服务 Self-service: these answers may help while you wait for an agent"]
    for (index, entry) in entries.enumerated() {
      let answer = entry.answer.count > answerPreviewLength ? String(entry.answer.prefix(answerPreviewLength)) + "…" : entry.answer
      lines.append("\(index + 1). \(entry.question)\n\(answer)")
    }
    var message = ChatMessage()
    message.messageID = UUID().uuidString.lowercased()
    message.sender = .with { $0.kind = .system; $0.displayName = "FAQ" }
    message.text = lines.joined(separator: "\n")
    message.createTime = now.timestamp
    message.suggestedFaqEntryIds = entries.map(\.faqEntryID)
    return message
  }
}
