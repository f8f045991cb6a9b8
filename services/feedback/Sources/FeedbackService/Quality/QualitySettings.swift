import Foundation
import ServiceKit
import SupportCodec

/// The targets and definitions of the quality numbers, from the environment (a bad value stops
/// the process at start).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_QUALITY_CHAT_FIRST_RESPONSE_TARGET_SECONDS | chat first response target | 6 |
/// | SUPPORTMESH_QUALITY_TICKET_FIRST_RESPONSE_TARGET_HOURS | ticket acknowledgement target | 24 |
/// | SUPPORTMESH_QUALITY_RESOLUTION_TARGET_HOURS | ticket resolution target | 72 |
/// | SUPPORTMESH_QUALITY_RETURN_EXCHANGE_TYPES | ticket types counted as return/exchange (comma-separated) | RETURN_AND_REFUND,EXCHANGE |
/// | SUPPORTMESH_QUALITY_FOLD_SECONDS | how often the daily totals take in the days changed since (QualityDailyFolder) | 5 |
/// | SUPPORTMESH_QUALITY_SCORE_WEIGHTS | agent scorecard weights, `component=weight` comma-separated (first_response, resolution, return_exchange, csat, complaints) | first_response=20,resolution=25,return_exchange=10,csat=30,complaints=15 |
struct QualitySettings: Sendable {
  var chatFirstResponseTargetMillis: Int64
  var ticketFirstResponseTargetMillis: Int64
  var resolutionTargetMillis: Int64
  var returnExchangeTypes: Set<String>
  /// How often QualityDailyFolder folds the days marked since its last pass.
  var foldInterval: Duration = .seconds(5)
  var weights = Support_Feedback_V1_ScorecardWeights.with {
    $0.firstResponse = 20; $0.resolution = 25; $0.returnExchange = 10; $0.csat = 30; $0.complaints = 15
  }

  static let defaultWeights = QualitySettings(
    chatFirstResponseTargetMillis: 0, ticketFirstResponseTargetMillis: 0, resolutionTargetMillis: 0, returnExchangeTypes: []
  ).weights

  static let ticketTypes: Set<String> = ["RETURN_AND_REFUND", "REFUND_ONLY", "EXCHANGE", "REPAIR", "COMPLAINT", "INQUIRY"]

  static func load(_ environment: EnvironmentReader = EnvironmentReader()) throws -> QualitySettings {
    var env = environment
    let types = Set(
      env.string("SUPPORTMESH_QUALITY_RETURN_EXCHANGE_TYPES", default: "RETURN_AND_REFUND,EXCHANGE")
        .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    for unknown in types.subtracting(ticketTypes).sorted() {
      env.report("SUPPORTMESH_QUALITY_RETURN_EXCHANGE_TYPES: \(unknown) is not a ticket type (\(ticketTypes.sorted().joined(separator: ", ")))")
    }
    var weights = QualitySettings.defaultWeights
    for pair in env.string("SUPPORTMESH_QUALITY_SCORE_WEIGHTS", default: "").split(separator: ",") {
      let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard parts.count == 2, let weight = Double(parts[1]), weight >= 0, weight.isFinite else {
        env.report("SUPPORTMESH_QUALITY_SCORE_WEIGHTS: \(pair) is not component=weight with a weight of 0 or more")
        continue
      }
      switch parts[0] {
      case "first_response": weights.firstResponse = weight
      case "resolution": weights.resolution = weight
      case "return_exchange": weights.returnExchange = weight
      case "csat": weights.csat = weight
      case "complaints": weights.complaints = weight
      default: env.report("SUPPORTMESH_QUALITY_SCORE_WEIGHTS: \(parts[0]) is not a component (first_response, resolution, return_exchange, csat, complaints)")
      }
    }
    var settings = QualitySettings(
      chatFirstResponseTargetMillis: Int64(env.int("SUPPORTMESH_QUALITY_CHAT_FIRST_RESPONSE_TARGET_SECONDS", default: 6, range: 1...86_400)) * 1000,
      ticketFirstResponseTargetMillis: Int64(env.int("SUPPORTMESH_QUALITY_TICKET_FIRST_RESPONSE_TARGET_HOURS", default: 24, range: 1...8_760)) * 3_600_000,
      resolutionTargetMillis: Int64(env.int("SUPPORTMESH_QUALITY_RESOLUTION_TARGET_HOURS", default: 72, range: 1...8_760)) * 3_600_000,
      returnExchangeTypes: types)
    settings.weights = weights
    settings.foldInterval = .seconds(env.int("SUPPORTMESH_QUALITY_FOLD_SECONDS", default: 5, range: 1...3600))
    try env.validate()
    return settings
  }
}
