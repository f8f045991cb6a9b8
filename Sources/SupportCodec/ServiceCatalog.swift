import GRPCCore

/// Which process serves which gRPC services: the gateway routes by it, health reports by it.
public enum ServiceCatalog {
  public struct Backend: Sendable {
    /// The process name: chat, tickets, logistics or feedback.
    public var name: String
    public var services: [ServiceDescriptor]
    public var methods: [MethodDescriptor]
  }

  public static let chat = Backend(
    name: "chat",
    services: [
      Support_Chat_V1_ConversationService.descriptor, Support_Chat_V1_AgentService.descriptor,
      Support_Chat_V1_CannedResponseService.descriptor, Support_Chat_V1_FaqService.descriptor,
    ],
    methods: Support_Chat_V1_ConversationService.Method.descriptors + Support_Chat_V1_AgentService.Method.descriptors
      + Support_Chat_V1_CannedResponseService.Method.descriptors + Support_Chat_V1_FaqService.Method.descriptors
  )

  public static let tickets = Backend(
    name: "tickets",
    services: [Support_Tickets_V1_TicketService.descriptor, Support_Tickets_V1_SlaService.descriptor],
    methods: Support_Tickets_V1_TicketService.Method.descriptors + Support_Tickets_V1_SlaService.Method.descriptors
  )

  public static let logistics = Backend(
    name: "logistics",
    services: [Support_Logistics_V1_ShipmentService.descriptor],
    methods: Support_Logistics_V1_ShipmentService.Method.descriptors
  )

  public static let feedback = Backend(
    name: "feedback",
    services: [
      Support_Feedback_V1_SurveyService.descriptor, Support_Feedback_V1_FollowUpService.descriptor,
      Support_Feedback_V1_ServiceQualityService.descriptor,
    ],
    methods: Support_Feedback_V1_SurveyService.Method.descriptors + Support_Feedback_V1_FollowUpService.Method.descriptors
      + Support_Feedback_V1_ServiceQualityService.Method.descriptors
  )

  public static let backends: [Backend] = [chat, tickets, logistics, feedback]

  /// Methods whose responses are a stream that lasts as long as the caller watches (every
  /// `returns (stream …)` in proto/; a contract test keeps this list complete). A draining
  /// process ends these at once; every other call runs to its result.
  public static let longLivedMethods: Set<String> = [
    Grpc_Health_V1_Health.Method.Watch.descriptor.fullyQualifiedMethod,
    Support_Chat_V1_ConversationService.Method.WatchConversation.descriptor.fullyQualifiedMethod,
    Support_Chat_V1_ConversationService.Method.WatchInbox.descriptor.fullyQualifiedMethod,
    Support_Logistics_V1_ShipmentService.Method.WatchShipment.descriptor.fullyQualifiedMethod,
    // Served by every producing process; through the gateway the caller names the producer
    // with the `x-supportmesh-producer` header (proto/support/events/v1/event_log.proto).
    Support_Events_V1_EventLog.Method.StreamEvents.descriptor.fullyQualifiedMethod,
  ]

  /// The backend serving a fully qualified service name, if any.
  public static func backend(serving service: String) -> Backend? {
    backends.first { backend in backend.services.contains { $0.fullyQualifiedService == service } }
  }
}
