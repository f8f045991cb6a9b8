import Foundation
import ServiceKit
import SupportCodec

typealias ShipmentStatus = Support_Logistics_V1_ShipmentStatus

/// Carriers this deployment knows and how their status codes normalise.
///
/// Every carrier understands the normalised names ("IN_TRANSIT", "DELIVERED", …), so an
/// integration that already normalises needs no mapping; carrier-specific codes are mapped by
/// configuration, never guessed:
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_LOGISTICS_CARRIERS | extra carrier codes to accept, comma-separated | (none) |
/// | SUPPORTMESH_LOGISTICS_STATUS_CODES | `CARRIER:CODE=STATUS` pairs, comma-separated, e.g. `SF:80=DELIVERED` | (none) |
/// | SUPPORTMESH_LOGISTICS_DEFAULT_TRANSIT_DAYS | expected delivery when no carrier estimate or promise exists | 3 |
struct CarrierCatalog: Sendable {
  var mappings: [String: [String: ShipmentStatus]]
  var defaultTransitDays: Int

  static let normalised: [String: ShipmentStatus] = [
    "LABEL_CREATED": .labelCreated, "PICKED_UP": .pickedUp, "IN_TRANSIT": .inTransit,
    "OUT_FOR_DELIVERY": .outForDelivery, "DELIVERED": .delivered, "DELIVERY_FAILED": .deliveryFailed,
    "EXCEPTION": .exception, "RETURNED_TO_SENDER": .returnedToSender, "LOST": .lost, "DAMAGED": .damaged,
  ]

  /// The carriers accepted without configuration.
  static let builtInCarriers = ["SF", "ZTO", "YTO", "STO", "YUNDA", "JD", "EMS"]

  static func load(_ environment: EnvironmentReader = EnvironmentReader()) throws -> CarrierCatalog {
    var env = environment
    var mappings: [String: [String: ShipmentStatus]] = [:]
    for carrier in builtInCarriers { mappings[carrier] = [:] }
    for code in env.string("SUPPORTMESH_LOGISTICS_CARRIERS", default: "").split(separator: ",") {
      let carrier = code.trimmingCharacters(in: .whitespaces).uppercased()
      if !carrier.isEmpty && mappings[carrier] == nil { mappings[carrier] = [:] }
    }
    for pair in env.string("SUPPORTMESH_LOGISTICS_STATUS_CODES", default: "").split(separator: ",") {
      let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      let key = parts.first?.split(separator: ":", maxSplits: 1).map(String.init) ?? []
      guard parts.count == 2, key.count == 2, let status = normalised[parts[1].uppercased()] else {
        env.report("SUPPORTMESH_LOGISTICS_STATUS_CODES: \(pair) is not CARRIER:CODE=STATUS with a status such as DELIVERED")
        continue
      }
      mappings[key[0].uppercased(), default: [:]][key[1]] = status
    }
    let transit = env.int("SUPPORTMESH_LOGISTICS_DEFAULT_TRANSIT_DAYS", default: 3, range: 1...60)
    try env.validate()
    return CarrierCatalog(mappings: mappings, defaultTransitDays: transit)
  }

  func knows(_ carrier: String) -> Bool { mappings[carrier] != nil }

  /// The normalised status of a carrier event: the integration's hint, else the carrier's own
  /// code, else the normalised name; UNSPECIFIED when nothing maps (kept, changes nothing).
  func status(carrier: String, code: String, hint: ShipmentStatus) -> ShipmentStatus {
    if hint != .unspecified { return hint }
    return mappings[carrier]?[code] ?? Self.normalised[code.uppercased()] ?? .unspecified
  }
}
