import Foundation
import ServiceKit

/// The targets and definitions of the quality numbers, from the environment (a bad value stops
/// the process at start).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_QUALITY_CHAT_FIRST_RESPONSE_TARGET_SECONDS | chat first response target | 6 |
/// | SUPPORTMESH_QUALITY_TICKET_FIRST_RESPONSE_TARGET_HOURS | ticket acknowledgement target | 24 |
/// | SUPPORTMESH_QUALITY_RESOLUTION_TARGET_HOURS | ticket resolution target | 72 |
/// | SUPPORTMESH_QUALITY_RETURN_EXCHANGE_TYPES | ticket types counted as return/exchange (comma-separated) | RETURN_AND_REFUND,EXCHANGE |
struct QualitySettings: Sendable {
  var chatFirstResponseTargetMillis: Int64
  var ticketFirstResponseTargetMillis: Int64
  var resolutionTargetMillis: Int64
  var returnExchangeTypes: Set<String>

  static let ticketTypes: Set<String> = ["RETURN_AND_REFUND", "REFUND_ONLY", "EXCHANGE", "REPAIR", "COMPLAINT", "INQUIRY"]

  static func load(_ environment: EnvironmentReader = EnvironmentReader()) throws -> QualitySettings {
    var env = environment
    let types = Set(
      env.string("SUPPORTMESH_QUALITY_RETURN_EXCHANGE_TYPES", default: "RETURN_AND_REFUND,EXCHANGE")
        .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    for unknown in types.subtracting(ticketTypes).sorted() {
      env.report("SUPPORTMESH_QUALITY_RETURN_EXCHANGE_TYPES: \(unknown) is not a ticket type (\(ticketTypes.sorted().joined(separator: ", ")))")
    }
    let settings = QualitySettings(
      chatFirstResponseTargetMillis: Int64(env.int("SUPPORTMESH_QUALITY_CHAT_FIRST_RESPONSE_TARGET_SECONDS", default: 6, range: 1...86_400)) * 1000,
      ticketFirstResponseTargetMillis: Int64(env.int("SUPPORTMESH_QUALITY_TICKET_FIRST_RESPONSE_TARGET_HOURS", default: 24, range: 1...8_760)) * 3_600_000,
      resolutionTargetMillis: Int64(env.int("SUPPORTMESH_QUALITY_RESOLUTION_TARGET_HOURS", default: 72, range: 1...8_760)) * 3_600_000,
      returnExchangeTypes: types)
    try env.validate()
    return settings
  }
}
