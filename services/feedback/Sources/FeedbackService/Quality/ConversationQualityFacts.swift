import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// What feedback knows about one chat conversation, from its ConversationClosedEvent.
struct ConversationQualityFact: Codable, Sendable, Equatable {
  /// The last assigned agent (the one the chat counts for, and the one a complaint raised from
  /// it counts against); empty when no agent was ever assigned.
  var agentID = ""
  var skillGroup = ""
  var channel: Int16 = 0
  var closedAt: Int64 = 0
  /// First response time (assignment with the shopper's message waiting, to the agent's first
  /// reply) in ms; nil when no agent replied.
  var firstResponseMillis: Int64?
  var escalated = false
  /// Every reply: shopper messages answered, of them within target, and their delays' sum (ms).
  var answeredMessages: Int64 = 0
  var answeredWithinTarget: Int64 = 0
  var totalResponseMillis: Int64 = 0

  static func key(_ conversationID: String) -> String { "conversation:\(conversationID)" }

  func measures() -> [QualityMeasure] {
    let dims = QualityMeasure.Dimensions(
      agentID: agentID, skillGroup: skillGroup, channel: channel, subjectKind: Int16(Support_Common_V1_SubjectKind.conversation.rawValue))
    var out: [QualityMeasure] = []
    if let firstResponseMillis {
      out.append(.init(kind: .chatFirstResponse, atMicros: closedAt, value: firstResponseMillis, dimensions: dims))
    }
    if answeredMessages > 0 {
      out.append(.init(kind: .chatRepliesAnswered, atMicros: closedAt, value: answeredMessages, dimensions: dims))
      out.append(.init(kind: .chatRepliesWithinTarget, atMicros: closedAt, value: answeredWithinTarget, dimensions: dims))
      out.append(.init(kind: .chatReplyDelay, atMicros: closedAt, value: totalResponseMillis, dimensions: dims))
    }
    // Handled when an agent was involved; resolved when it closed without becoming a case.
    if !agentID.isEmpty {
      out.append(.init(kind: .handled, atMicros: closedAt, value: escalated ? 0 : 1, dimensions: dims))
    }
    return out
  }
}

/// Applies chat's ConversationClosedEvent ("feedback.quality-chat").
enum ConversationQualityFacts {
  static let types = [Support_Chat_V1_ConversationClosedEvent.protoMessageName]

  static func apply(_ envelope: EventEnvelope, settings: QualitySettings, on connection: PostgresConnection, logger: Logger) async throws {
    guard case .conversationClosed(let e) = envelope.payload else { return }
    let key = ConversationQualityFact.key(e.conversationID)
    try await QualityFactStore.lockSubject(key, on: connection, logger: logger)
    let closedAt = (e.hasCloseTime ? e.closeTime : e.eventTime).unixMicroseconds
    if let stored = try await QualityFactStore.read(key, as: ConversationQualityFact.self, on: connection, logger: logger), stored.closedAt > closedAt {
      return  // an older closing than the one applied: the latest one stays
    }
    let fact = ConversationQualityFact(
      agentID: e.agentID, skillGroup: e.skillGroupID, channel: Int16(e.channel.rawValue), closedAt: closedAt,
      firstResponseMillis: e.hasFirstResponseTime ? e.firstResponseTime.milliseconds : nil, escalated: !e.escalationIds.isEmpty,
      answeredMessages: Int64(e.answeredMessageCount), answeredWithinTarget: Int64(e.answeredWithinTargetCount),
      totalResponseMillis: e.totalResponseTime.milliseconds)
    try await QualityFactStore.save(key, fact, measures: fact.measures(), on: connection, logger: logger)
    // Complaints raised from this conversation count against its agent: re-derive them.
    for ticketKey in try await QualityFactStore.keys(withSource: key, on: connection, logger: logger) {
      guard let ticket = try await QualityFactStore.locked(ticketKey, as: TicketQualityFact.self, on: connection, logger: logger) else { continue }
      try await TicketQualityFacts.save(ticketKey, ticket, settings: settings, on: connection, logger: logger)
    }
  }
}
