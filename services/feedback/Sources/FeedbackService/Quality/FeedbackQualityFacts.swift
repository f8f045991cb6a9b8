import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// Feedback's own surveys and follow-ups as quality facts. Their stores call these in the
/// transaction of every change, so the numbers move with the change itself.
enum FeedbackQualityFacts {
  /// Survey and follow-up facts are written by transactions that then append their event, and
  /// an event consumer's batch appends one event after another: each would hold the event log's
  /// head while it waits for bucket rows another holds while it waits for the head (a
  /// deadlock that fails a shopper's answer). Taking the head first gives every such writer one
  /// order: head, then buckets.
  private static func lockEventLogHead(on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query("SELECT 1 FROM event_log_head FOR UPDATE", logger: logger)
  }

  static func record(survey: Survey, on connection: PostgresConnection, logger: Logger) async throws {
    try await lockEventLogHead(on: connection, logger: logger)
    let dims = QualityMeasure.Dimensions(
      agentID: survey.agentID, category: survey.category, skillGroup: survey.skillGroup, channel: Int16(survey.channel.rawValue),
      ticketType: survey.ticketType, subjectKind: Int16(survey.subject.kind.rawValue))
    let answered = survey.status == .answered
    var measures = [QualityMeasure(kind: .surveyCreated, atMicros: survey.createTime.unixMicroseconds, value: answered ? 1 : 0, dimensions: dims)]
    if answered {
      let at = survey.answer.answerTime.unixMicroseconds
      if survey.answer.hasCsat { measures.append(.init(kind: .csat, atMicros: at, value: Int64(survey.answer.csat), dimensions: dims)) }
      if survey.answer.hasNps { measures.append(.init(kind: .nps, atMicros: at, value: Int64(survey.answer.nps), dimensions: dims)) }
    }
    try await QualityFactStore.replaceMeasures("survey:\(survey.surveyID)", measures, on: connection, logger: logger)
  }

  static func record(followUp: FollowUp, on connection: PostgresConnection, logger: Logger) async throws {
    try await lockEventLogHead(on: connection, logger: logger)
    let dims = QualityMeasure.Dimensions(
      agentID: followUp.agentID, category: followUp.category, skillGroup: followUp.skillGroup, channel: Int16(followUp.channel.rawValue),
      ticketType: followUp.ticketType, subjectKind: Int16(Support_Common_V1_SubjectKind.ticket.rawValue))
    let endedAt: Int64? = followUp.status == .pending ? nil : followUp.updateTime.unixMicroseconds
    var measures = [QualityMeasure(kind: .followUpDue, atMicros: followUp.dueTime.unixMicroseconds, value: 1, untilMicros: endedAt, dimensions: dims)]
    if let endedAt, followUp.status == .completed || followUp.status == .unreached {
      let dissatisfied = followUp.attempts.last?.satisfaction == .dissatisfied
      let value: Int64 = followUp.status == .unreached ? 0 : (dissatisfied ? 2 : 1)
      measures.append(.init(kind: .followUpFinished, atMicros: endedAt, value: value, dimensions: dims))
    }
    try await QualityFactStore.replaceMeasures("follow-up:\(followUp.followUpID)", measures, on: connection, logger: logger)
  }
}

/// An order delivered to the shopper, from logistics' ShipmentDeliveredEvent of OUTBOUND
/// parcels ("feedback.logistics"): the denominator of the return/exchange rate per order.
struct DeliveredOrderFact: Codable, Sendable, Equatable {
  /// The earliest outbound delivery of the order (an order counts once, when it first arrived).
  var deliveredAt: Int64

  static let types = [Support_Logistics_V1_ShipmentDeliveredEvent.protoMessageName]

  static func apply(_ envelope: EventEnvelope, on connection: PostgresConnection, logger: Logger) async throws {
    guard case .shipmentDelivered(let e) = envelope.payload, e.kind == .outbound, !e.orderID.isEmpty else { return }
    let key = "order:\(e.orderID)"
    let deliveredAt = (e.hasDeliveredTime ? e.deliveredTime : e.emitTime).unixMicroseconds
    if let stored = try await QualityFactStore.locked(key, as: DeliveredOrderFact.self, on: connection, logger: logger), stored.deliveredAt <= deliveredAt {
      return
    }
    let fact = DeliveredOrderFact(deliveredAt: deliveredAt)
    try await QualityFactStore.save(
      key, fact, measures: [.init(kind: .deliveredOrder, atMicros: deliveredAt, value: 1, dimensions: .init())], on: connection, logger: logger)
  }
}
