import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// Feedback's subscription to the tickets event log: a resolved case gets a satisfaction survey
/// (created in the same transaction as the subscription's cursor move, so a redelivered event
/// creates nothing more). A case resolved again while its first survey is still pending keeps
/// that one.
enum TicketEventsConsumer {
  static let name = "feedback.tickets"
  static let types = [Support_Tickets_V1_TicketResolvedEvent.protoMessageName]

  static func subscription(producer: HostPort, resources: ServiceResources, settings: SurveySettings) -> EventSubscription {
    EventSubscription(
      name: name, producer: producer, types: types, consumer: "feedback", database: resources.database!,
      callerHeader: resources.config.callerHeader, logger: resources.logger
    ) { envelope, connection in
      guard case .ticketResolved(let resolved) = envelope.payload else { return }
      try await surveyResolvedCase(resolved, eventID: envelope.eventID, settings: settings, on: connection, logger: resources.logger)
    }
  }

  static func surveyResolvedCase(
    _ resolved: Support_Tickets_V1_TicketResolvedEvent, eventID: String, settings: SurveySettings, on connection: PostgresConnection, logger: Logger
  ) async throws {
    let subject = Support_Common_V1_SubjectRef.with { $0.kind = .ticket; $0.id = resolved.ticketID }
    if try await SurveyStore.pendingSurvey(for: subject, on: connection, logger: logger) != nil { return }
    let now = Date.nowMicroseconds
    var survey = Survey()
    survey.surveyID = UUID().uuidString.lowercased()
    survey.subject = subject
    survey.shopperID = resolved.shopperID
    survey.agentID = resolved.assigneeAgentID
    survey.token = SurveyHandlers.newToken()
    survey.status = .pending
    survey.createTime = now.timestamp
    survey.updateTime = now.timestamp
    survey.expireTime = now.addingTimeInterval(Double(settings.defaultValidityDays) * 86_400).timestamp
    survey.version = 1
    survey.channel = resolved.channel
    survey.skillGroup = resolved.skillGroupID
    survey.category = TicketCodes.category(resolved.category)
    survey.ticketType = TicketCodes.type(resolved.type)
    // The request id the contract gives feedback's own consumers: "<consumed event_id>:survey".
    let requestID = "\(eventID):survey"
    _ = try await SurveyStore.insert(survey, requestID: requestID, fingerprint: requestID, now: now, on: connection, logger: logger)
    logger.info("survey created for a resolved case", metadata: ["ticket_id": "\(resolved.ticketID)", "survey_id": "\(survey.surveyID)"])
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
