import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// The changes the system makes to cases on other services' events (tickets_events.proto,
/// "Consumed"): each a TransitionTicket action by ACTOR_KIND_SYSTEM, run in the consumer's
/// transaction (the one that moves its cursor) with the event id as the request id, so a
/// redelivered event changes nothing.
///
/// An event that finds its case in a state the action does not fit (the shopper cancelled
/// meanwhile, an agent already did it by hand) changes no status: the case gets an internal
/// note saying what was skipped and why, for the agent.
struct TicketAutomation: Sendable {
  let store: TicketStore
  let logger: Logger

  /// Who acts: the system, named by the subscription that heard the event.
  static func actor(_ subscription: String) -> Actor {
    .with { $0.kind = .system; $0.id = subscription }
  }

  /// Why an event's action was not applied.
  private struct Skipped: Error { let why: String }
  /// The case already went where the event would take it (an agent was quicker by hand).
  private struct AlreadyDone: Error {}

  /// The status an automatic action leads to.
  static func intended(_ action: TicketAction.OneOf_Action) -> TicketStatus {
    switch action {
    case .awaitReturn: .awaitingReturn
    case .markGoodsReceived: .goodsReceived
    case .resolve: .resolved
    case .close: .closed
    case .reopen: .reopened
    default: .unspecified
    }
  }

  /// Whether a case in `status` is at or past `target` on the main path (submitted → closed);
  /// a rejected, cancelled or reopened case is past nothing but itself.
  static func alreadyPast(_ target: TicketStatus, _ status: TicketStatus) -> Bool {
    let path: [TicketStatus] = [.submitted, .underReview, .approved, .solutionAgreed, .awaitingReturn, .goodsReceived, .inspected, .resolved, .closed]
    if status == target { return true }
    guard let have = path.firstIndex(of: status), let want = path.firstIndex(of: target) else { return false }
    return have > want
  }

  /// Applies `action` to the case `ticketID` for the event `eventID`, or notes why not.
  func apply(
    _ action: TicketAction.OneOf_Action, to ticketID: String, event eventID: String, subscription: String,
    on connection: PostgresConnection
  ) async throws {
    guard let id = UUID(uuidString: ticketID) else {
      logger.warning("event names no case of ours", metadata: ["event_id": "\(eventID)", "ticket_id": "\(ticketID)"])
      return
    }
    let actor = Self.actor(subscription)
    let now = Date.nowMicroseconds
    let requestID = "event:\(eventID)"
    do {
      _ = try await store.change(id, requestID: requestID, fingerprint: requestID, on: connection, logger: logger) { ticket in
        let name = TicketWorkflow.name(of: action)
        guard let target = TicketWorkflow.target(of: action, from: ticket.status, goodsReturn: ticket.goodsReturnRequired) else {
          if Self.alreadyPast(Self.intended(action), ticket.status) { throw AlreadyDone() }
          throw Skipped(why: "\(name) does not apply to a case in \(TicketHandlers.statusName(ticket.status))")
        }
        do {
          try TicketWorkflow.validate(action, for: ticket)
        } catch let error as GoogleRPCStatus {
          throw Skipped(why: "\(name) was refused: \(error.message)")
        }
        var (next, reason) = TicketWorkflow.apply(action, to: ticket, target: target, by: actor, now: now)
        next.version = ticket.version + 1
        next.updateTime = now.timestamp
        var entry = TicketHandlers.entry(.transitioned, ticket: next, actor: actor, reason: reason, now: now)
        entry.fromStatus = ticket.status
        entry.action = .with { $0.action = action }
        return (next, entry)
      }
    } catch is AlreadyDone {
      logger.debug("event's change already made", metadata: ["event_id": "\(eventID)", "ticket_id": "\(ticketID)"])
    } catch let skipped as Skipped {
      try await note("Skipped on event \(eventID) (\(subscription)): \(skipped.why).", on: id, event: eventID, subscription: subscription, connection: connection)
    } catch let error as RPCError where error.code == .notFound {
      // Skipped, not retried: an event naming no case of ours must not stop the subscription.
      logger.warning("event names a case that does not exist", metadata: ["event_id": "\(eventID)", "ticket_id": "\(ticketID)"])
    }
  }

  /// An internal note on the case for the agent, once per event.
  func note(_ text: String, on id: UUID, event eventID: String, subscription: String, connection: PostgresConnection) async throws {
    let author = Self.actor(subscription)
    let now = Date.nowMicroseconds
    let requestID = "event:\(eventID):note"
    logger.info("case noted on an event", metadata: ["ticket_id": "\(id.uuidString.lowercased())", "event_id": "\(eventID)", "note": "\(text)"])
    do {
      try await addNote(text, on: id, requestID: requestID, author: author, now: now, connection: connection)
    } catch let error as RPCError where error.code == .notFound {
      logger.warning("event names a case that does not exist", metadata: ["event_id": "\(eventID)", "ticket_id": "\(id.uuidString.lowercased())"])
    }
  }

  private func addNote(_ text: String, on id: UUID, requestID: String, author: Actor, now: Date, connection: PostgresConnection) async throws {
    _ = try await store.addComment(id, requestID: requestID, fingerprint: requestID, on: connection, logger: logger) { ticket in
      var comment = Comment()
      comment.commentID = UUID().uuidString.lowercased()
      comment.ticketID = ticket.ticketID
      comment.visibility = .internalNote
      comment.author = author
      comment.body = text
      comment.createTime = now.timestamp
      var entry = TicketHandlers.entry(.commented, ticket: ticket, actor: author, reason: "", now: now)
      entry.comment = .with {
        $0.commentID = comment.commentID
        $0.visibility = comment.visibility
      }
      return (ticket, comment, entry)
    }
  }
}
