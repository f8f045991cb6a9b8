import Foundation
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// The events that announce facts about a case rather than a status change
/// (tickets_events.proto): its acknowledgement (FIRST_RESPONSE met) and its assignment, for
/// feedback's quality numbers. Written by the change's own transaction like every event.
enum TicketFactEvents {
  /// The fact event of a change from `before` to `after` recorded as `entry`, if it has one.
  static func payload(before: Ticket, after: Ticket, entry: HistoryEntry, eventID: UUID) -> EventEnvelope.OneOf_Payload? {
    if entry.kind == .assigned { return assigned(before: before, after: after, entry: entry, eventID: eventID) }
    if !before.sla.hasFirstResponseTime && after.sla.hasFirstResponseTime {
      return firstResponded(after, entry: entry, eventID: eventID)
    }
    return nil
  }

  static func firstResponded(_ ticket: Ticket, entry: HistoryEntry, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    let responded = ticket.sla.firstResponseTime
    return .ticketFirstResponded(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.ticketID = ticket.ticketID
      $0.ticketVersion = ticket.version
      $0.type = ticket.type
      $0.category = ticket.category
      $0.priority = ticket.priority
      $0.shopperID = ticket.shopperID
      $0.assigneeAgentID = ticket.assigneeAgentID
      $0.skillGroupID = ticket.skillGroupID
      $0.channel = ticket.channel
      $0.createTime = ticket.createTime
      $0.firstResponseTime = responded
      // As TicketResolvedEvent computes it, so both events give feedback the same value.
      $0.timeToFirstResponse = .init(timeInterval: max(0, responded.date.timeIntervalSince(ticket.createTime.date)))
      $0.firstResponseBreached = responded.date > ticket.sla.firstResponseDueTime.date
      $0.respondedBy = entry.actor
      $0.occurTime = entry.occurTime
    })
  }

  static func assigned(before: Ticket, after: Ticket, entry: HistoryEntry, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    .ticketAssigned(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.ticketID = after.ticketID
      $0.ticketVersion = after.version
      $0.type = after.type
      $0.category = after.category
      $0.priority = after.priority
      $0.shopperID = after.shopperID
      $0.fromAgentID = before.assigneeAgentID
      $0.toAgentID = after.assigneeAgentID
      $0.fromSkillGroupID = before.skillGroupID
      $0.toSkillGroupID = after.skillGroupID
      $0.channel = after.channel
      $0.assignedBy = entry.actor
      $0.reason = entry.reason
      $0.occurTime = entry.occurTime
    })
  }
}
