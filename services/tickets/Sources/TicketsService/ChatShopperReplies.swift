import Foundation
import GRPCCore
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// Tickets' subscription "tickets.chat-replies" to chat's ShopperRepliedEvent: the shopper
/// answering in the chat a case was escalated from ends the case's WAITING_ON_SHOPPER pause,
/// as their comment on the case would (tickets.proto, SlaPauseReason). Each resume is a case
/// change in the subscription's transaction (history SLA_RESUMED naming the conversation), so
/// a redelivered event changes nothing; a case not waiting on the shopper is left as it is.
enum ChatShopperReplies {
  static let name = "tickets.chat-replies"
  static let types = [Support_Chat_V1_ShopperRepliedEvent.protoMessageName]

  static func subscription(producer: HostPort, resources: ServiceResources, store: TicketStore) -> EventSubscription {
    let logger = resources.logger
    return EventSubscription(
      name: name, producer: producer, types: types, consumer: "tickets", database: resources.database!,
      callerHeader: resources.config.callerHeader, logger: logger
    ) { envelope, connection in
      guard case .shopperReplied(let replied) = envelope.payload else { return }
      for ticketID in replied.ticketIds {
        guard let id = UUID(uuidString: ticketID) else { continue }
        try await resume(id, after: replied, eventID: envelope.eventID, store: store, on: connection, logger: logger)
      }
    }
  }

  /// Ends the case's wait on the shopper, if it waits on them and the shopper is the case's.
  static func resume(
    _ id: UUID, after replied: Support_Chat_V1_ShopperRepliedEvent, eventID: String, store: TicketStore,
    on connection: PostgresConnection, logger: Logger
  ) async throws {
    let now = Date.nowMicroseconds
    let requestID = "event:\(eventID):\(id.uuidString.lowercased())"
    do {
      _ = try await store.change(id, requestID: requestID, fingerprint: requestID, on: connection, logger: logger) { ticket in
        guard ticket.shopperID == replied.shopperID, ticket.sla.pauseReason == .waitingOnShopper, ticket.shopperEndsPause else { return nil }
        let paused = max(0, now.timeIntervalSince(ticket.sla.pausedSinceTime.date)).rounded(.down)
        var next = ticket
        next.resumeSLA(at: now)
        next.version = ticket.version + 1
        next.updateTime = now.timestamp
        let shopper = Actor.with { $0.kind = .shopper; $0.id = replied.shopperID }
        var entry = TicketHandlers.entry(
          .slaResumed, ticket: next, actor: shopper, reason: "the shopper replied in chat conversation \(replied.conversationID)", now: now)
        entry.sla = .with {
          $0.pauseReason = .waitingOnShopper
          $0.pausedDuration = .init(rounding: paused, rule: .down)
        }
        return (next, entry)
      }
    } catch let error as RPCError where error.code == .notFound {
      // An escalation's ticket id is one of ours; a case missing here was never committed.
      logger.warning("a chat reply names no case of ours", metadata: ["ticket_id": "\(id)", "event_id": "\(eventID)"])
    }
  }
}
