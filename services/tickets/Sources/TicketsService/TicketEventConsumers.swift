import Foundation
import ServiceKit
import SupportCodec

/// Tickets' subscriptions to the logistics and feedback event logs: the case moves on its own
/// when the goods move and when the follow-up visit is done (tickets_events.proto, "Consumed").
enum TicketEventConsumers {
  static let logisticsName = "tickets.logistics"
  static let feedbackName = "tickets.feedback"

  static let logisticsTypes = [
    Support_Logistics_V1_ReturnAuthorizationIssuedEvent.protoMessageName,
    Support_Logistics_V1_ReturnAuthorizationExpiredEvent.protoMessageName,
    Support_Logistics_V1_ShipmentCreatedEvent.protoMessageName,
    Support_Logistics_V1_ShipmentDeliveredEvent.protoMessageName,
    Support_Logistics_V1_ShipmentExceptionEvent.protoMessageName,
    Support_Logistics_V1_ShipmentExceptionResolvedEvent.protoMessageName,
  ]
  static let feedbackTypes = [Support_Feedback_V1_FollowUpRecordedEvent.protoMessageName]

  static func logistics(
    producer: HostPort, resources: ServiceResources, automation: TicketAutomation, exceptionCases: ShipmentExceptionCases
  ) -> EventSubscription {
    let logger = resources.logger
    return EventSubscription(
      name: logisticsName, producer: producer, types: logisticsTypes, consumer: "tickets", database: resources.database!,
      callerHeader: resources.config.callerHeader, logger: resources.logger
    ) { envelope, connection in
      // Exceptions open or update cases (ShipmentExceptionCases); an OUTBOUND delivery is the
      // fact eligibility counts from (DeliveryFacts).
      switch envelope.payload {
      case .shipmentException?, .shipmentExceptionResolved?:
        try await exceptionCases.apply(envelope, on: connection)
        return
      case .shipmentDelivered(let delivered)? where delivered.kind == .outbound:
        try await DeliveryFacts.record(delivered, on: connection, logger: logger)
      default:
        break
      }
      guard let (ticketID, action) = logisticsAction(envelope) else { return }
      switch action {
      case .act(let action):
        try await automation.apply(action, to: ticketID, event: envelope.eventID, subscription: logisticsName, on: connection)
      case .note(let text):
        guard let id = UUID(uuidString: ticketID) else { return }
        try await automation.note(text, on: id, event: envelope.eventID, subscription: logisticsName, connection: connection)
      }
    }
  }

  static func feedback(producer: HostPort, resources: ServiceResources, automation: TicketAutomation) -> EventSubscription {
    EventSubscription(
      name: feedbackName, producer: producer, types: feedbackTypes, consumer: "tickets", database: resources.database!,
      callerHeader: resources.config.callerHeader, logger: resources.logger
    ) { envelope, connection in
      guard case .followUpRecorded(let recorded) = envelope.payload, let action = followUpAction(recorded) else { return }
      try await automation.apply(action, to: recorded.ticketID, event: envelope.eventID, subscription: feedbackName, on: connection)
    }
  }

  enum Effect {
    case act(TicketAction.OneOf_Action)
    case note(String)
  }

  /// What a logistics event does to its case, if anything.
  static func logisticsAction(_ envelope: EventEnvelope) -> (ticketID: String, Effect)? {
    switch envelope.payload {
    case .returnAuthorizationIssued(let issued)?:
      guard !issued.ticketID.isEmpty else { return nil }
      var instructions = "Return authorisation \(issued.rmaNumber)"
      switch issued.booking {
      case .label(let label)?: instructions += ": drop the parcel off with label \(label.carrierCode) \(label.trackingNumber)"
      case .pickup(let pickup)?: instructions += ": \(pickup.carrierCode) collects the parcel (waybill \(pickup.trackingNumber))"
      case nil: instructions += ": ship it to the return address and report the waybill"
      }
      if issued.hasExpireTime { instructions += "; valid until \(issued.expireTime.date.formatted(.iso8601))" }
      // Logistics could not book the method the case asked for: the shopper must know why.
      if !issued.methodNote.isEmpty { instructions += " (\(issued.methodNote))" }
      return (issued.ticketID, .act(.awaitReturn(.with {
        $0.returnShipmentID = issued.shipmentID
        $0.instructions = instructions
      })))
    case .returnAuthorizationExpired(let expired)?:
      guard !expired.ticketID.isEmpty else { return nil }
      return (expired.ticketID, .note(
        "Return authorisation \(expired.rmaNumber) expired unused: follow up with the shopper, or cancel the case if the goods will not come back."
      ))
    case .shipmentDelivered(let delivered)?:
      guard !delivered.ticketID.isEmpty else { return nil }
      switch delivered.kind {
      case .return, .repairInbound:
        return (delivered.ticketID, .act(.markGoodsReceived(.with {
          $0.returnShipmentID = delivered.shipmentID
          if delivered.hasDeliveredTime { $0.receiveTime = delivered.deliveredTime }
          $0.note = "return parcel \(delivered.carrierCode) \(delivered.trackingNumber) delivered"
        })))
      case .repairOutbound:
        return (delivered.ticketID, .act(.resolve(.with {
          $0.outcome = .repaired
          $0.outboundShipmentID = delivered.shipmentID
          $0.summary = "the repaired item was delivered back (\(delivered.carrierCode) \(delivered.trackingNumber))"
        })))
      default:
        return nil
      }
    case .shipmentCreated(let created)?:
      guard !created.ticketID.isEmpty, created.kind == .exchangeReplacement else { return nil }
      return (created.ticketID, .act(.resolve(.with {
        $0.outcome = .replacementShipped
        $0.outboundShipmentID = created.shipmentID
        $0.summary = "the replacement was shipped (\(created.carrierCode) \(created.trackingNumber))"
      })))
    default:
      return nil
    }
  }

  /// A follow-up visit's outcome: dissatisfied reopens the case, satisfied closes it; an
  /// attempt that did not reach the shopper changes nothing.
  static func followUpAction(_ recorded: Support_Feedback_V1_FollowUpRecordedEvent) -> TicketAction.OneOf_Action? {
    guard recorded.reached else { return nil }
    if recorded.reopenRequested {
      let reason = recorded.reopenReason.isEmpty ? "dissatisfied at the follow-up visit" : recorded.reopenReason
      return .reopen(.with {
        $0.reason = String(reason.prefix(2000))
        $0.followUpID = recorded.followUpID
      })
    }
    guard recorded.satisfaction == .satisfied else { return nil }
    return .close(.with { $0.note = "satisfied at follow-up visit \(recorded.followUpID)" })
  }
}
