import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// Feedback's subscription to the chat event log ("feedback.chat"): a closed conversation that
/// invites a rating gets its satisfaction survey (满意度调查), in the same transaction as the
/// subscription's cursor, so a redelivered event creates no second survey.
enum ChatEventsConsumer {
  static let name = "feedback.chat"
  static let types = [Support_Chat_V1_ConversationClosedEvent.protoMessageName]

  static func subscription(producer: HostPort, resources: ServiceResources, outbox: EventOutbox, tokens: SurveyTokens, settings: FeedbackSettings) -> EventSubscription {
    let logger = resources.logger
    return EventSubscription(
      name: name, producer: producer, types: types, consumer: "feedback", database: resources.database!,
      callerHeader: resources.config.callerHeader, options: QualityEventConsumers.progressOptions(name, database: resources.database!, logger: logger), logger: logger
    ) { envelope, connection in
      guard case .conversationClosed(let closed) = envelope.payload else { return }
      try await surveyClosedConversation(closed, eventID: envelope.eventID, outbox: outbox, tokens: tokens, settings: settings, on: connection, logger: logger)
    }
  }

  static func surveyClosedConversation(
    _ closed: Support_Chat_V1_ConversationClosedEvent, eventID: String, outbox: EventOutbox, tokens: SurveyTokens, settings: FeedbackSettings,
    on connection: PostgresConnection, logger: Logger
  ) async throws {
    // Chat decides: no invitation for spam, skipped invitations and chats no agent answered.
    guard closed.inviteRating else { return }
    let subject = Support_Common_V1_SubjectRef.with { $0.kind = .conversation; $0.id = closed.conversationID }
    let now = Date.nowMicroseconds
    // The contract's rule: ALREADY_EXISTS (a pending survey) counts as done.
    if try await SurveyStore.pendingSurvey(for: subject, now: now, on: connection, logger: logger) != nil { return }
    let survey = Survey.new(
      subject: subject, shopperID: closed.shopperID, agentID: closed.agentID,
      expiry: now.addingTimeInterval(Double(settings.defaultValidityDays) * 86_400), channel: closed.channel,
      skillGroup: closed.skillGroupID, category: "", ticketType: "", now: now)
    // "<consumed event_id>:survey", as for resolved cases.
    let requestID = "\(eventID):survey"
    let tokenHash = SurveyTokens.hash(tokens.token(forSurvey: survey.surveyID))
    let stored = try await SurveyStore.insert(
      survey, tokenHash: tokenHash, requestID: requestID, fingerprint: requestID, now: now, outbox: outbox, on: connection, logger: logger)
    try await SurveyInvitations.enqueue(stored.survey, now: now, on: connection, logger: logger)
    logger.info("survey created for a closed conversation", metadata: ["conversation_id": "\(closed.conversationID)", "survey_id": "\(stored.survey.surveyID)"])
  }
}
