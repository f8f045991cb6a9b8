import Foundation
import ServiceKit
import SupportCodec

/// Chat's subscription to the tickets event log ("chat.tickets"): the answer to each
/// escalation (chat_events.proto, "Consumed by chat"), applied in the same transaction as the
/// subscription's cursor, so a redelivery changes nothing.
enum TicketAnswersConsumer {
  static let name = "chat.tickets"
  static let types = [
    Support_Tickets_V1_TicketCreatedEvent.protoMessageName,
    Support_Tickets_V1_TicketCreationRejectedEvent.protoMessageName,
  ]

  static func subscription(producer: HostPort, resources: ServiceResources) -> EventSubscription {
    let logger = resources.logger
    return EventSubscription(
      name: name, producer: producer, types: types, consumer: "chat", database: resources.database!,
      callerHeader: resources.config.callerHeader, logger: logger
    ) { envelope, connection in
      switch envelope.payload {
      case .ticketCreated(let created):
        // Cases filed from an escalation carry its id as their request id; any other case's
        // request id is not one of chat's escalation ids (and usually not a uuid at all).
        guard created.source.kind == .conversation, let escalationID = UUID(uuidString: created.requestID) else { return }
        let at = created.hasOccurTime ? created.occurTime.date : envelope.occurTime.date
        try await EscalationStore.apply(.created(ticketID: created.ticketID, at: at), to: escalationID, on: connection, logger: logger)
      case .ticketCreationRejected(let rejected):
        guard let escalationID = UUID(uuidString: rejected.escalationID) else { return }
        let at = rejected.hasOccurTime ? rejected.occurTime.date : envelope.occurTime.date
        try await EscalationStore.apply(.refused(reason: rejected.reason, at: at), to: escalationID, on: connection, logger: logger)
      default:
        return
      }
    }
  }
}
