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
/// | SUPPORTMESH_LOGISTICS_STATUS_CODES | `CARRIER:CODE=STATUS` pairs, comma-separated, e.g. `sf:80=DELIVERED` | (none) |
///
/// Carrier codes are matched case-insensitively and stored and returned in lower case, the
/// contract's form ("sf", "zto").
/// | SUPPORTMESH_LOGISTICS_DEFAULT_TRANSIT_DAYS | expected delivery when no carrier estimate, promise or route history exists | 3 |
/// | SUPPORTMESH_LOGISTICS_ROUTE_SAMPLES | how many latest deliveries of a carrier and route the median transit time is taken over | 50 |
/// | SUPPORTMESH_LOGISTICS_ROUTE_MIN_SAMPLES | fewer deliveries than this and the route's history is not used | 3 |
struct CarrierCatalog: Sendable {
  var mappings: [String: [String: ShipmentStatus]]
  var defaultTransitDays: Int
  var routeSamples = 50
  var routeMinSamples = 3

  static let normalised: [String: ShipmentStatus] = [
    "LABEL_CREATED": .labelCreated, "PICKED_UP": .pickedUp, "IN_TRANSIT": .inTransit,
    "OUT_FOR_DELIVERY": .outForDelivery, "DELIVERED": .delivered, "DELIVERY_FAILED": .deliveryFailed,
    "EXCEPTION": .exception, "RETURNED_TO_SENDER": .returnedToSender, "LOST": .lost, "DAMAGED": .damaged,
  ]

  /// The carriers accepted without configuration.
  static let builtInCarriers = ["sf", "zto", "yto", "sto", "yunda", "jd", "ems"]

  static func load(_ environment: EnvironmentReader = EnvironmentReader()) throws -> CarrierCatalog {
    var env = environment
    var mappings: [String: [String: ShipmentStatus]] = [:]
    for carrier in builtInCarriers { mappings[carrier] = [:] }
    for code in env.string("SUPPORTMESH_LOGISTICS_CARRIERS", default: "").split(separator: ",") {
      let carrier = code.trimmingCharacters(in: .whitespaces).lowercased()
      if !carrier.isEmpty && mappings[carrier] == nil { mappings[carrier] = [:] }
    }
    for pair in env.string("SUPPORTMESH_LOGISTICS_STATUS_CODES", default: "").split(separator: ",") {
      let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      let key = parts.first?.split(separator: ":", maxSplits: 1).map(String.init) ?? []
      guard parts.count == 2, key.count == 2, let status = normalised[parts[1].uppercased()] else {
        env.report("SUPPORTMESH_LOGISTICS_STATUS_CODES: \(pair) is not CARRIER:CODE=STATUS with a status such as DELIVERED")
        continue
      }
      mappings[key[0].lowercased(), default: [:]][key[1]] = status
    }
    let transit = env.int("SUPPORTMESH_LOGISTICS_DEFAULT_TRANSIT_DAYS", default: 3, range: 1...60)
    let samples = env.int("SUPPORTMESH_LOGISTICS_ROUTE_SAMPLES", default: 50, range: 1...1000)
    let minimum = env.int("SUPPORTMESH_LOGISTICS_ROUTE_MIN_SAMPLES", default: 3, range: 1...1000)
    try env.validate()
    return CarrierCatalog(mappings: mappings, defaultTransitDays: transit, routeSamples: samples, routeMinSamples: minimum)
  }

  /// The documented (lower-case) form of a carrier code, whatever its case.
  static func canonical(_ carrier: String) -> String { carrier.lowercased() }

  /// The configured carrier for a code in any case, in its documented form; nil if unknown.
  func known(_ carrier: String) -> String? {
    let code = Self.canonical(carrier)
    return mappings[code] != nil ? code : nil
  }

  /// The normalised status of a carrier event: the integration's hint, else the carrier's own
  /// code, else the normalised name; UNSPECIFIED when nothing maps (kept, changes nothing).
  func status(carrier: String, code: String, hint: ShipmentStatus) -> ShipmentStatus {
    if hint != .unspecified { return hint }
    return mappings[Self.canonical(carrier)]?[code] ?? Self.normalised[code.uppercased()] ?? .unspecified
  }
}
