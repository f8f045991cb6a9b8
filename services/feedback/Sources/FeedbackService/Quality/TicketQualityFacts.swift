import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// What feedback knows about one after-sales case, merged from tickets' events in whatever
/// order they arrive. Each group of values keeps the ticket_version it came from, and a value
/// is only replaced by one from a newer version, so a late or redelivered event changes
/// nothing it should not.
struct TicketQualityFact: Codable, Sendable, Equatable {
  var type = ""
  var category = ""
  var skillGroup = ""
  var channel: Int16 = 0
  /// The assignee (the agent the case's numbers count for).
  var agentID = ""
  var attributesVersion: Int64 = 0
  /// The version `agentID` comes from (nil in facts stored before it was kept: then the
  /// attributes' version stands for it).
  var agentVersion: Int64?
  /// The conversation the case was escalated from, if any (a complaint counts against its agent).
  var sourceConversationID = ""
  var createdAt: Int64?
  var firstResponseAt: Int64?
  var firstResponseMillis: Int64?
  var resolvedAt: Int64?
  var resolveMillis: Int64?
  var resolveVersion: Int64 = 0
  /// The latest final state: 1 resolved, 2 rejected, 3 cancelled.
  var finalStatus: Int16 = 0
  var finalAt: Int64?
  var finalVersion: Int64 = 0
  var reopenedAt: Int64?
  var reopenVersion: Int64 = 0

  static func key(_ ticketID: String) -> String { "ticket:\(ticketID)" }

  enum Final: Int16 { case resolved = 1, rejected = 2, cancelled = 3 }

  /// Takes the event's copy of the case's attributes when it is at least as new as the stored
  /// one; an empty value never overwrites a known one.
  /// Takes the event's attributes when it is at least as new as the ones held (an empty value
  /// fills nothing, except `agentID` when `agentCleared`: a case sent back to its queue
  /// counts for no agent until the next assignment). The agent is versioned on its own.
  mutating func attributes(
    version: Int64, type: String, category: String, skillGroup: String? = nil, channel: Int16? = nil, agentID: String? = nil,
    agentCleared: Bool = false
  ) {
    let newer = version >= attributesVersion
    func take(_ field: inout String, _ value: String?) {
      guard let value, !value.isEmpty, newer || field.isEmpty else { return }
      field = value
    }
    take(&self.type, type)
    take(&self.category, category)
    take(&self.skillGroup, skillGroup)
    // The agent has a version of its own: events that do not name one (a rejection) do not
    // make an older assignment stale, and one that clears it does.
    if let agentID, !agentID.isEmpty || agentCleared {
      let held = agentVersion ?? (self.agentID.isEmpty ? Int64.min : attributesVersion)
      if version >= held {
        self.agentID = agentID
        agentVersion = version
      }
    }
    if let channel, channel != 0, newer || self.channel == 0 { self.channel = channel }
    attributesVersion = max(attributesVersion, version)
  }

  mutating func final(_ status: Final, at micros: Int64, version: Int64) {
    guard version > finalVersion else { return }
    finalStatus = status.rawValue
    finalAt = micros
    finalVersion = version
  }

  /// The case's contributions to the numbers, given the settings and the agent of the
  /// conversation it came from (for complaints).
  func measures(settings: QualitySettings, sourceAgentID: String) -> [QualityMeasure] {
    let dims = QualityMeasure.Dimensions(
      agentID: agentID, category: category, skillGroup: skillGroup, channel: channel, ticketType: type,
      subjectKind: Int16(Support_Common_V1_SubjectKind.ticket.rawValue))
    var out: [QualityMeasure] = []
    if let createdAt {
      out.append(.init(kind: .ticketCreated, atMicros: createdAt, value: settings.returnExchangeTypes.contains(type) ? 1 : 0, dimensions: dims))
      if type == "COMPLAINT" {
        // 投诉 counts against the agent complained about, not whoever handles the complaint:
        // the agent of the conversation it was raised from; none when it has no conversation.
        var complained = dims
        complained.agentID = sourceAgentID
        out.append(.init(kind: .complaint, atMicros: createdAt, value: category == "SERVICE_ATTITUDE" ? 1 : 0, dimensions: complained))
      }
    }
    if let firstResponseAt, let firstResponseMillis {
      out.append(.init(kind: .ticketFirstResponse, atMicros: firstResponseAt, value: firstResponseMillis, dimensions: dims))
    }
    if let resolvedAt, let resolveMillis {
      out.append(.init(kind: .resolutionTime, atMicros: resolvedAt, value: resolveMillis, dimensions: dims))
    }
    if let finalAt {
      let resolved = finalStatus == Final.resolved.rawValue
      let undone = resolved && reopenVersion > finalVersion ? reopenedAt : nil
      out.append(.init(kind: .handled, atMicros: finalAt, value: resolved ? 1 : 0, untilMicros: undone, dimensions: dims))
    }
    if let reopenedAt {
      out.append(.init(kind: .reopened, atMicros: reopenedAt, value: 1, dimensions: dims))
    }
    return out
  }
}

/// Applies tickets' events to the case facts ("feedback.quality-tickets").
enum TicketQualityFacts {
  static let types = [
    Support_Tickets_V1_TicketCreatedEvent.protoMessageName, Support_Tickets_V1_TicketResolvedEvent.protoMessageName,
    Support_Tickets_V1_TicketReopenedEvent.protoMessageName, Support_Tickets_V1_TicketRejectedEvent.protoMessageName,
    Support_Tickets_V1_TicketCancelledEvent.protoMessageName, Support_Tickets_V1_TicketFirstRespondedEvent.protoMessageName,
    Support_Tickets_V1_TicketAssignedEvent.protoMessageName,
  ]

  static func apply(_ envelope: EventEnvelope, settings: QualitySettings, on connection: PostgresConnection, logger: Logger) async throws {
    let ticketID: String
    let change: (inout TicketQualityFact) -> Void
    switch envelope.payload {
    case .ticketCreated(let e):
      ticketID = e.ticketID
      change = { fact in
        fact.attributes(
          version: e.ticketVersion, type: TicketCodes.type(e.type), category: TicketCodes.category(e.category),
          skillGroup: e.skillGroupID, channel: Int16(e.channel.rawValue))
        fact.createdAt = e.occurTime.unixMicroseconds
        if e.source.kind == .conversation { fact.sourceConversationID = e.source.id }
      }
    case .ticketResolved(let e):
      ticketID = e.ticketID
      change = { fact in
        fact.attributes(
          version: e.ticketVersion, type: TicketCodes.type(e.type), category: TicketCodes.category(e.category),
          skillGroup: e.skillGroupID, channel: Int16(e.channel.rawValue), agentID: e.assigneeAgentID)
        if fact.createdAt == nil, e.hasCreateTime { fact.createdAt = e.createTime.unixMicroseconds }
        if e.hasFirstResponseTime {
          fact.firstResponseAt = e.firstResponseTime.unixMicroseconds
          fact.firstResponseMillis = e.timeToFirstResponse.milliseconds
        }
        let resolvedAt = (e.hasResolveTime ? e.resolveTime : e.occurTime).unixMicroseconds
        if e.ticketVersion > fact.resolveVersion {
          fact.resolvedAt = resolvedAt
          fact.resolveMillis = e.timeToResolve.milliseconds
          fact.resolveVersion = e.ticketVersion
        }
        fact.final(.resolved, at: resolvedAt, version: e.ticketVersion)
      }
    case .ticketFirstResponded(let e):
      // The acknowledgement when it happens; the resolution event later carries the same
      // values, so whichever arrives first the fact is the same.
      ticketID = e.ticketID
      change = { fact in
        fact.attributes(
          version: e.ticketVersion, type: TicketCodes.type(e.type), category: TicketCodes.category(e.category),
          skillGroup: e.skillGroupID, channel: Int16(e.channel.rawValue), agentID: e.assigneeAgentID)
        if fact.createdAt == nil, e.hasCreateTime { fact.createdAt = e.createTime.unixMicroseconds }
        fact.firstResponseAt = e.firstResponseTime.unixMicroseconds
        fact.firstResponseMillis = e.timeToFirstResponse.milliseconds
      }
    case .ticketAssigned(let e):
      // The agent the case counts for, as of this version (an older event never overrides it).
      ticketID = e.ticketID
      change = { fact in
        fact.attributes(
          version: e.ticketVersion, type: TicketCodes.type(e.type), category: TicketCodes.category(e.category),
          skillGroup: e.toSkillGroupID, channel: Int16(e.channel.rawValue), agentID: e.toAgentID, agentCleared: e.toAgentID.isEmpty)
      }
    case .ticketReopened(let e):
      ticketID = e.ticketID
      change = { fact in
        fact.attributes(version: e.ticketVersion, type: TicketCodes.type(e.type), category: TicketCodes.category(e.category), agentID: e.assigneeAgentID)
        if e.ticketVersion > fact.reopenVersion {
          fact.reopenedAt = e.occurTime.unixMicroseconds
          fact.reopenVersion = e.ticketVersion
        }
      }
    case .ticketRejected(let e):
      ticketID = e.ticketID
      change = { fact in
        fact.attributes(version: e.ticketVersion, type: TicketCodes.type(e.type), category: TicketCodes.category(e.category))
        if fact.createdAt == nil, e.hasCreateTime { fact.createdAt = e.createTime.unixMicroseconds }
        fact.final(.rejected, at: e.occurTime.unixMicroseconds, version: e.ticketVersion)
      }
    case .ticketCancelled(let e):
      ticketID = e.ticketID
      change = { fact in
        fact.attributes(version: e.ticketVersion, type: TicketCodes.type(e.type), category: TicketCodes.category(e.category))
        if fact.createdAt == nil, e.hasCreateTime { fact.createdAt = e.createTime.unixMicroseconds }
        fact.final(.cancelled, at: e.occurTime.unixMicroseconds, version: e.ticketVersion)
      }
    default:
      return
    }
    let key = TicketQualityFact.key(ticketID)
    // Lock order conversation, then case (as ConversationQualityFacts does), so a complaint and
    // the conversation it came from never miss each other nor deadlock.
    var sourceKey = try await QualityFactStore.sourceKey(of: key, on: connection, logger: logger)
    if sourceKey.isEmpty, case .ticketCreated(let e) = envelope.payload, e.source.kind == .conversation {
      sourceKey = ConversationQualityFact.key(e.source.id)
    }
    if !sourceKey.isEmpty { try await QualityFactStore.lockSubject(sourceKey, on: connection, logger: logger) }
    var fact = try await QualityFactStore.locked(key, as: TicketQualityFact.self, on: connection, logger: logger) ?? TicketQualityFact()
    change(&fact)
    try await save(key, fact, settings: settings, on: connection, logger: logger)
  }

  /// Stores the case's fact and its measures; a complaint takes the agent of its conversation.
  static func save(_ key: String, _ fact: TicketQualityFact, settings: QualitySettings, on connection: PostgresConnection, logger: Logger) async throws {
    var sourceAgent = ""
    var sourceKey = ""
    if !fact.sourceConversationID.isEmpty {
      sourceKey = ConversationQualityFact.key(fact.sourceConversationID)
      sourceAgent = try await QualityFactStore.read(sourceKey, as: ConversationQualityFact.self, on: connection, logger: logger)?.agentID ?? ""
    }
    try await QualityFactStore.save(
      key, fact, sourceKey: sourceKey, measures: fact.measures(settings: settings, sourceAgentID: sourceAgent), on: connection, logger: logger)
  }
}

extension Google_Protobuf_Duration {
  /// Whole milliseconds (durations are never negative in these events).
  var milliseconds: Int64 { seconds * 1000 + Int64(nanos / 1_000_000) }
}
