import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// Tickets' subscription to the chat event log ("tickets.chat"): a conversation escalated by an
/// agent becomes an after-sales case (tickets_events.proto, "Consumed").
///
/// The case is filed exactly as CreateTicket would file it, by the escalating actor, with the
/// escalation id as its request id, in the same transaction as the subscription's cursor: a
/// redelivered event finds the case already filed and changes nothing. A case tickets refuses
/// (invalid facts, not eligible, an open case for the same order line) is announced with
/// TicketCreationRejectedEvent in that same transaction, so chat can fail the escalation.
enum TicketEscalations {
  static let name = "tickets.chat"
  static let types = [Support_Chat_V1_ConversationEscalatedEvent.protoMessageName]

  static func subscription(producer: HostPort, resources: ServiceResources, store: TicketStore, policy: TicketsPolicy) -> EventSubscription {
    let logger = resources.logger
    return EventSubscription(
      name: name, producer: producer, types: types, consumer: "tickets", database: resources.database!,
      callerHeader: resources.config.callerHeader, logger: logger
    ) { envelope, connection in
      guard case .conversationEscalated(let escalated) = envelope.payload else { return }
      try await file(escalated, store: store, policy: policy, on: connection, logger: logger)
    }
  }

  /// Refusals that describe the escalation itself (anything else, e.g. the database failing, is
  /// retried by the subscription).
  static let refusable: [RPCError.Code] = [.invalidArgument, .failedPrecondition, .alreadyExists, .notFound, .permissionDenied]

  static func file(
    _ escalated: Support_Chat_V1_ConversationEscalatedEvent, store: TicketStore, policy: TicketsPolicy,
    on connection: PostgresConnection, logger: Logger
  ) async throws {
    let request = createRequest(for: escalated)
    let now = Date.nowMicroseconds
    let refusal: (code: RPCError.Code, reasonCode: String, message: String)
    do {
      try TicketHandlers.validate(request, now: now)
      // A shopper's own escalation uses only their orders' deliveries, as CreateTicket would.
      let delivered = try await DeliveryFacts.lookup(
        request.items, shopperID: request.actor.kind == .shopper ? request.shopperID : nil, on: connection, logger: logger)
      let ticket = try TicketHandlers.newTicket(request, createdBy: request.actor, policy: policy, now: now, delivered: delivered)
      switch try await store.create(.success(ticket), requestID: request.requestID, fingerprint: Fingerprint.of(request), on: connection, logger: logger) {
      case .created(let created):
        logger.info("case filed from a chat escalation", metadata: ["ticket_id": "\(created.ticketID)", "escalation_id": "\(escalated.escalationID)"])
      case .retried:
        break
      }
      return
    } catch let status as GoogleRPCStatus where refusable.contains(status.code) {
      // The facts are what they are: retrying cannot succeed, so the refusal is the answer.
      refusal = (status.code, status.details.compactMap(\.errorInfo).first?.reason ?? "", status.message)
    } catch let error as RPCError where refusable.contains(error.code) {
      refusal = (error.code, "", error.message)
    }
    guard let outbox = store.outbox else { return }
    let eventID = UUID()
    try await outbox.append(
      .ticketCreationRejected(.with {
        $0.eventID = eventID.uuidString.lowercased()
        $0.escalationID = escalated.escalationID
        $0.conversationID = escalated.conversationID
        $0.shopperID = escalated.shopperID
        $0.code = refusal.code.canonicalName
        $0.reasonCode = refusal.reasonCode
        $0.reason = refusal.message
        $0.occurTime = now.timestamp
      }), subject: escalated.escalationID, eventID: eventID, occurredAt: now, on: connection, logger: logger)
    logger.info(
      "chat escalation refused", metadata: ["escalation_id": "\(escalated.escalationID)", "code": "\(refusal.code)", "reason": "\(refusal.message)"])
  }

  /// The CreateTicket request an escalation stands for.
  static func createRequest(for escalated: Support_Chat_V1_ConversationEscalatedEvent) -> Support_Tickets_V1_CreateTicketRequest {
    let type = ticketType(escalated.requestedTicketType)
    return .with {
      $0.requestID = escalated.escalationID
      $0.type = type
      $0.category = category(escalated.requestedCategory)
      $0.shopperID = escalated.shopperID
      $0.items = escalated.orderItems
      if $0.items.isEmpty && !escalated.orderID.isEmpty {
        // The agent named the order but no line: the case covers the whole order (a complaint
        // or inquiry about an order too, so ListTickets by order finds it).
        $0.items = [.with { $0.orderID = escalated.orderID }]
      }
      $0.title = escalated.title
      $0.description_p = escalated.summary
        + "\n\n(escalated from conversation \(escalated.conversationID), messages 1-\(escalated.transcript.upToSequence))"
      $0.evidence = escalated.attachments
      $0.priority = priority(escalated.priority)
      if escalated.hasDeliveredTime { $0.deliveredTime = escalated.deliveredTime }
      $0.source = .with { $0.kind = .conversation; $0.id = escalated.conversationID }
      $0.channel = escalated.channel
      $0.actor = escalated.requestedBy
    }
  }

  static func ticketType(_ type: Support_Chat_V1_EscalationTicketType) -> Support_Tickets_V1_TicketType {
    switch type {
    case .returnAndRefund: .returnAndRefund
    case .refundOnly: .refundOnly
    case .exchange: .exchange
    case .repair: .repair
    case .complaint: .complaint
    case .inquiry: .inquiry
    default: .unspecified
    }
  }

  static func category(_ category: Support_Chat_V1_EscalationCategory) -> Support_Tickets_V1_ProblemCategory {
    switch category {
    case .productQuality: .productQuality
    case .notAsDescribed: .notAsDescribed
    case .logistics: .logistics
    case .transaction: .transaction
    case .serviceAttitude: .serviceAttitude
    case .technicalSupport: .technicalSupport
    default: .unspecified
    }
  }

  static func priority(_ priority: Support_Chat_V1_EscalationPriority) -> Support_Tickets_V1_Priority {
    switch priority {
    case .high: .high
    case .urgent: .urgent
    default: .normal
    }
  }
}
