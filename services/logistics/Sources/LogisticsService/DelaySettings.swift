import Foundation
import ServiceKit

/// How long a parcel in transit may go without a carrier scan before it is DELAYED
/// (DelayedShipmentSweeper). Durations take a unit: `s`, `m`, `h` or `d` (no unit = hours).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_LOGISTICS_NO_SCAN_AFTER | no scan for this long makes a shipment DELAYED | 72h |
/// | SUPPORTMESH_LOGISTICS_NO_SCAN_AFTER_BY_CARRIER | per carrier, `CARRIER=DURATION` comma-separated, e.g. `sf=48h,ems=5d` | (none) |
/// | SUPPORTMESH_LOGISTICS_DELAY_SWEEP_SECONDS | how often the sweep looks for silent shipments | 60 |
struct DelaySettings: Sendable {
  var defaultThreshold: TimeInterval
  var byCarrier: [String: TimeInterval]
  var sweepInterval: Duration

  func threshold(carrier: String) -> TimeInterval { byCarrier[carrier] ?? defaultThreshold }

  static func load(carriers: CarrierCatalog, _ environment: EnvironmentReader = EnvironmentReader()) throws -> DelaySettings {
    var env = environment
    let defaultText = env.string("SUPPORTMESH_LOGISTICS_NO_SCAN_AFTER", default: "72h")
    let fallback = parse(defaultText)
    if fallback == nil { env.report("SUPPORTMESH_LOGISTICS_NO_SCAN_AFTER: \(defaultText) is not a duration such as 72h, 3d or 30s") }
    var byCarrier: [String: TimeInterval] = [:]
    for pair in env.string("SUPPORTMESH_LOGISTICS_NO_SCAN_AFTER_BY_CARRIER", default: "").split(separator: ",") {
      let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard parts.count == 2, let carrier = carriers.known(parts[0]), let threshold = parse(parts[1]) else {
        env.report("SUPPORTMESH_LOGISTICS_NO_SCAN_AFTER_BY_CARRIER: \(pair) is not CARRIER=DURATION with a configured carrier, e.g. sf=48h")
        continue
      }
      byCarrier[carrier] = threshold
    }
    let sweep = env.int("SUPPORTMESH_LOGISTICS_DELAY_SWEEP_SECONDS", default: 60, range: 1...3600)
    try env.validate()
    return DelaySettings(defaultThreshold: fallback ?? 72 * 3600, byCarrier: byCarrier, sweepInterval: .seconds(sweep))
  }

  /// "72h", "3d", "90m", "30s" or "72" (hours); nil unless positive.
  static func parse(_ text: String) -> TimeInterval? {
    let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
    let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
    var number = Substring(trimmed)
    var unit: TimeInterval = 3600
    if let last = trimmed.last, let factor = units[last] {
      unit = factor
      number = number.dropLast()
    }
    guard let value = Double(number), value > 0 else { return nil }
    return value * unit
  }

  /// A readable span for exception details, e.g. "80 h" or "45 s".
  static func describe(_ seconds: TimeInterval) -> String {
    seconds >= 3600 ? "\(Int(seconds / 3600)) h" : "\(Int(seconds)) s"
  }
}
