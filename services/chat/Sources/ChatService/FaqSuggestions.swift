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
