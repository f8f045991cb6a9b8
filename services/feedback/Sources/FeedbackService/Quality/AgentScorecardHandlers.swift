import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// support.feedback.v1.ServiceQualityService/ListAgentScorecards: each agent's numbers over the
/// range combined into one score (考核) with the configured weights
/// (SUPPORTMESH_QUALITY_SCORE_WEIGHTS). Served beside ServiceQualityHandlers: the router is
/// keyed by method.
struct AgentScorecardHandlers: RegistrableRPCService {
  typealias Methods = Support_Feedback_V1_ServiceQualityService.Method
  let store: QualityQueryStore
  let settings: QualitySettings
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.ListAgentScorecards.descriptor, listAgentScorecards)
  }

  @Sendable func listAgentScorecards(_ request: Support_Feedback_V1_ListAgentScorecardsRequest) async throws -> Support_Feedback_V1_ListAgentScorecardsResponse {
    try Permissions.requireStaff("read agent scorecards")
    let range = try QualityRequestRules.range(request.timeRange, isSet: request.hasTimeRange, maxDays: QualityRequestRules.maxRangeDays)
    let pageSize = try PageCursor.pageSize(request.pageSize)
    let pageFilter = try QualityRequestRules.pageFilter(request)
    let offset = try QualityRequestRules.offset(request.pageToken, filter: pageFilter)
    let filter = try QualityRequestRules.filter(request.filter)

    async let through = store.throughTime(QualityEventConsumers.names, logger: log)
    var perAgent: [String: ServiceMetricsCalculator] = [:]
    for count in try await store.counts(start: range.start, end: range.end, groupBy: [.agent], timeZone: "UTC", filter: filter, withOrders: false, logger: log) {
      perAgent[count.key[0], default: ServiceMetricsCalculator()].add(count)
    }
    // Facts with no agent (self-service, cases no event assigned) have no one to score.
    perAgent[""] = nil
    let cards = perAgent.map { agent, calculator in scorecard(agent, calculator) }
      .sorted { ($0.score, $1.agentID) > ($1.score, $0.agentID) }
    let page = cards.dropFirst(offset).prefix(pageSize)
    let nextToken = offset + page.count < cards.count ? PageCursor(key: Int64(offset + page.count), id: "", filter: pageFilter).token : ""
    let throughTime = try await through ?? Date(timeIntervalSince1970: 0)
    return .with {
      $0.scorecards = Array(page)
      $0.weights = settings.weights
      $0.nextPageToken = nextToken
      $0.dataThroughTime = Google_Protobuf_Timestamp(date: throughTime)
    }
  }

  /// The components (each 0…1, higher is better, nil without data) and the weighted score.
  func scorecard(_ agent: String, _ calculator: ServiceMetricsCalculator) -> Support_Feedback_V1_AgentScorecard {
    let metrics = calculator.metrics(settings: settings)
    let chat = calculator.withinTarget(.chatFirstResponse, targetMillis: settings.chatFirstResponseTargetMillis)
    let ticket = calculator.withinTarget(.ticketFirstResponse, targetMillis: settings.ticketFirstResponseTargetMillis)
    let responses = chat.total + ticket.total
    let handled = metrics.resolution.handledCount
    let w = settings.weights
    let components: [(weight: Double, value: Double?)] = [
      (w.firstResponse, responses > 0 ? Double(chat.within + ticket.within) / Double(responses) : nil),
      (w.resolution, handled > 0 ? metrics.resolution.resolutionRate : nil),
      (w.returnExchange, metrics.returnExchange.ticketCount > 0 ? 1 - metrics.returnExchange.shareOfTickets : nil),
      (w.csat, metrics.csat.responseCount > 0 ? (metrics.csat.average - 1) / 4 : nil),
      (w.complaints, handled > 0 ? 1 - min(1, Double(metrics.complaints.serviceAttitudeCount) / Double(handled)) : nil),
    ]
    let weighted = components.compactMap { c in c.value.map { (c.weight, $0) } }
    let weightSum = weighted.reduce(0) { $0 + $1.0 }
    return .with {
      $0.agentID = agent
      $0.score = weightSum > 0 ? 100 * weighted.reduce(0) { $0 + $1.0 * $1.1 } / weightSum : 0
      if let value = components[0].value { $0.firstResponse = value }
      if let value = components[1].value { $0.resolution = value }
      if let value = components[2].value { $0.returnExchange = value }
      if let value = components[3].value { $0.csat = value }
      if let value = components[4].value { $0.complaints = value }
      $0.metrics = metrics
    }
  }
}

extension Support_Feedback_V1_ListAgentScorecardsRequest: SwiftProtobufMessageWithPaging {}
