import SupportCodec

extension Support_Events_V1_EventEnvelope.OneOf_Payload {
  /// The payload's full protobuf message name: the envelope's `type`.
  public var typeName: String {
    switch self {
    case .conversationEscalated: Support_Chat_V1_ConversationEscalatedEvent.protoMessageName
    case .conversationClosed: Support_Chat_V1_ConversationClosedEvent.protoMessageName
    case .shopperReplied: Support_Chat_V1_ShopperRepliedEvent.protoMessageName
    case .ticketCreated: Support_Tickets_V1_TicketCreatedEvent.protoMessageName
    case .ticketApproved: Support_Tickets_V1_TicketApprovedEvent.protoMessageName
    case .ticketResolved: Support_Tickets_V1_TicketResolvedEvent.protoMessageName
    case .ticketReopened: Support_Tickets_V1_TicketReopenedEvent.protoMessageName
    case .ticketClosed: Support_Tickets_V1_TicketClosedEvent.protoMessageName
    case .ticketSolutionChanged: Support_Tickets_V1_TicketSolutionChangedEvent.protoMessageName
    case .ticketInspected: Support_Tickets_V1_TicketInspectedEvent.protoMessageName
    case .ticketRejected: Support_Tickets_V1_TicketRejectedEvent.protoMessageName
    case .ticketCancelled: Support_Tickets_V1_TicketCancelledEvent.protoMessageName
    case .ticketCreationRejected: Support_Tickets_V1_TicketCreationRejectedEvent.protoMessageName
    case .ticketSlaAtRisk: Support_Tickets_V1_TicketSlaAtRiskEvent.protoMessageName
    case .ticketSlaBreached: Support_Tickets_V1_TicketSlaBreachedEvent.protoMessageName
    case .ticketFirstResponded: Support_Tickets_V1_TicketFirstRespondedEvent.protoMessageName
    case .ticketAssigned: Support_Tickets_V1_TicketAssignedEvent.protoMessageName
    case .shipmentCreated: Support_Logistics_V1_ShipmentCreatedEvent.protoMessageName
    case .shipmentDelivered: Support_Logistics_V1_ShipmentDeliveredEvent.protoMessageName
    case .shipmentException: Support_Logistics_V1_ShipmentExceptionEvent.protoMessageName
    case .shipmentExceptionResolved: Support_Logistics_V1_ShipmentExceptionResolvedEvent.protoMessageName
    case .returnAuthorizationIssued: Support_Logistics_V1_ReturnAuthorizationIssuedEvent.protoMessageName
    case .returnAuthorizationExpired: Support_Logistics_V1_ReturnAuthorizationExpiredEvent.protoMessageName
    case .surveyCreated: Support_Feedback_V1_SurveyCreatedEvent.protoMessageName
    case .surveyAnswered: Support_Feedback_V1_SurveyAnsweredEvent.protoMessageName
    case .surveyExpired: Support_Feedback_V1_SurveyExpiredEvent.protoMessageName
    case .followUpCreated: Support_Feedback_V1_FollowUpCreatedEvent.protoMessageName
    case .followUpRecorded: Support_Feedback_V1_FollowUpRecordedEvent.protoMessageName
    }
  }
}
