import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// Feedback's subscription to the tickets event log ("feedback.tickets"). Each effect is
/// written in the same transaction as the subscription's cursor move, so a redelivered event
/// changes nothing:
/// - TicketResolvedEvent: the case's satisfaction survey and its follow-up visit (回访), each
///   unless the case already has a pending one;
/// - TicketReopenedEvent: the case's pending follow-up is cancelled (a new one comes with the
///   next resolution).
enum TicketEventsConsumer {
  static let name = "feedback.tickets"
  static let types = [Support_Tickets_V1_TicketResolvedEvent.protoMessageName, Support_Tickets_V1_TicketReopenedEvent.protoMessageName]

  static func subscription(producer: HostPort, resources: ServiceResources, outbox: EventOutbox, tokens: SurveyTokens, settings: FeedbackSettings) -> EventSubscription {
    let logger = resources.logger
    return EventSubscription(
      name: name, producer: producer, types: types, consumer: "feedback", database: resources.database!,
      callerHeader: resources.config.callerHeader, options: QualityEventConsumers.progressOptions(name, database: resources.database!, logger: logger), logger: logger
    ) { envelope, connection in
      switch envelope.payload {
      case .ticketResolved(let resolved):
        let resolveTime = resolved.hasResolveTime ? resolved.resolveTime : envelope.occurTime
        try await surveyResolvedCase(resolved, eventID: envelope.eventID, outbox: outbox, tokens: tokens, settings: settings, on: connection, logger: logger)
        try await followUpResolvedCase(resolved, resolveTime: resolveTime, eventID: envelope.eventID, outbox: outbox, settings: settings, on: connection, logger: logger)
      case .ticketReopened(let reopened):
        if let cancelled = try await FollowUpStore.cancelPending(ticketID: reopened.ticketID, now: Date.nowMicroseconds, on: connection, logger: logger) {
          logger.info("follow-up cancelled: the case was reopened", metadata: ["ticket_id": "\(reopened.ticketID)", "follow_up_id": "\(cancelled.followUpID)"])
        }
      default:
        return  // other types, and types this build does not know: skipped
      }
    }
  }

  static func surveyResolvedCase(
    _ resolved: Support_Tickets_V1_TicketResolvedEvent, eventID: String, outbox: EventOutbox, tokens: SurveyTokens, settings: FeedbackSettings,
    on connection: PostgresConnection, logger: Logger
  ) async throws {
    let subject = Support_Common_V1_SubjectRef.with { $0.kind = .ticket; $0.id = resolved.ticketID }
    // The contract's rule: ALREADY_EXISTS (a pending survey) counts as done.
    let now = Date.nowMicroseconds
    if try await SurveyStore.pendingSurvey(for: subject, now: now, on: connection, logger: logger) != nil { return }
    let survey = Survey.new(
      subject: subject, shopperID: resolved.shopperID, agentID: resolved.assigneeAgentID,
      expiry: now.addingTimeInterval(Double(settings.defaultValidityDays) * 86_400), channel: resolved.channel,
      skillGroup: resolved.skillGroupID, category: TicketCodes.category(resolved.category), ticketType: TicketCodes.type(resolved.type), now: now)
    // The request id the contract gives feedback's own consumers: "<consumed event_id>:survey".
    // The token is not kept anywhere: SurveyInvitationSender derives it from the survey id.
    let requestID = "\(eventID):survey"
    let tokenHash = SurveyTokens.hash(tokens.token(forSurvey: survey.surveyID))
    let stored = try await SurveyStore.insert(
      survey, tokenHash: tokenHash, requestID: requestID, fingerprint: requestID, now: now, outbox: outbox, on: connection, logger: logger)
    try await SurveyInvitations.enqueue(stored.survey, now: now, on: connection, logger: logger)
    logger.info("survey created for a resolved case", metadata: ["ticket_id": "\(resolved.ticketID)", "survey_id": "\(stored.survey.surveyID)"])
  }

  static func followUpResolvedCase(
    _ resolved: Support_Tickets_V1_TicketResolvedEvent, resolveTime: Google_Protobuf_Timestamp, eventID: String, outbox: EventOutbox,
    settings: FeedbackSettings, on connection: PostgresConnection, logger: Logger
  ) async throws {
    // The contract's rule: ALREADY_EXISTS (a pending follow-up) counts as done.
    if try await FollowUpStore.pendingFollowUpID(ticketID: resolved.ticketID, on: connection, logger: logger) != nil { return }
    // Due the configured delay after the resolution (not after this event's delivery).
    let due = Google_Protobuf_Timestamp(seconds: resolveTime.seconds + Int64(settings.followUpDelayHours) * 3600, nanos: resolveTime.nanos)
    let followUp = FollowUp.new(
      ticketID: resolved.ticketID, shopperID: resolved.shopperID, agentID: resolved.assigneeAgentID, due: due.truncatedToMicroseconds,
      skillGroup: resolved.skillGroupID, category: TicketCodes.category(resolved.category), ticketType: TicketCodes.type(resolved.type),
      channel: resolved.channel, now: Date.nowMicroseconds)
    // "<consumed event_id>:follow-up", as the contract names it.
    let requestID = "\(eventID):follow-up"
    let created = try await FollowUpStore.insert(followUp, requestID: requestID, fingerprint: requestID, outbox: outbox, on: connection, logger: logger)
    if created.agentID.isEmpty {
      logger.warning("follow-up created unassigned: the resolved case had no assignee", metadata: ["ticket_id": "\(resolved.ticketID)", "follow_up_id": "\(created.followUpID)"])
    } else {
      logger.info("follow-up created for a resolved case", metadata: ["ticket_id": "\(resolved.ticketID)", "follow_up_id": "\(created.followUpID)"])
    }
  }
}
/// The codes feedback stores for tickets' enums, as tickets names them ("PRODUCT_QUALITY").
enum TicketCodes {
  static func category(_ category: Support_Tickets_V1_ProblemCategory) -> String {
    switch category {
    case .productQuality: "PRODUCT_QUALITY"
    case .notAsDescribed: "NOT_AS_DESCRIBED"
    case .logistics: "LOGISTICS"
    case .transaction: "TRANSACTION"
    case .serviceAttitude: "SERVICE_ATTITUDE"
    case .technicalSupport: "TECHNICAL_SUPPORT"
    case .unspecified, .UNRECOGNIZED: ""
    }
  }

  static func type(_ type: Support_Tickets_V1_TicketType) -> String {
    switch type {
    case .returnAndRefund: "RETURN_AND_REFUND"
    case .refundOnly: "REFUND_ONLY"
    case .exchange: "EXCHANGE"
    case .repair: "REPAIR"
    case .complaint: "COMPLAINT"
    case .inquiry: "INQUIRY"
    case .unspecified, .UNRECOGNIZED: ""
    }
  }
}
