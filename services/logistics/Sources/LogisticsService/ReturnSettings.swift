import Foundation
import ServiceKit
import SupportCodec
import SwiftProtobuf

typealias Address = Support_Logistics_V1_Address

/// Reverse-logistics policy, from the environment (a bad value stops the process at start):
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_LOGISTICS_RETURN_ADDRESS | the return warehouse (protobuf JSON of support.logistics.v1.Address); also where replacements ship from | a development warehouse |
/// | SUPPORTMESH_LOGISTICS_REPAIR_ADDRESS | the repair centre (same form); also where repaired items ship from | the return warehouse |
/// | SUPPORTMESH_LOGISTICS_RETURN_VALIDITY_DAYS | how long an issued return authorisation stays valid | 7 |
/// | SUPPORTMESH_LOGISTICS_DEFAULT_CARRIER | the carrier logistics books returns and replacements with | sf |
/// | SUPPORTMESH_LOGISTICS_RETURN_SWEEP_SECONDS | how often unused authorisations past their expiry are expired | 10 |
struct ReturnSettings: Sendable {
  var returnWarehouse: Address
  var repairCentre: Address
  var validityDays: Int
  var defaultCarrier: String
  var sweepInterval: Duration

  static let developmentWarehouse = Address.with {
    $0.recipientName = "SupportMesh Returns"
    $0.phone = "0571-00000000"
    $0.countryCode = "CN"
    $0.province = "浙江"
    $0.city = "杭州"
    $0.district = "余杭区"
    $0.street = "仓前街道 1 号 退货仓"
    $0.postalCode = "311100"
  }

  static func load(carriers: CarrierCatalog, _ environment: EnvironmentReader = EnvironmentReader()) throws -> ReturnSettings {
    var env = environment
    func address(_ key: String, default fallback: Address) -> Address {
      guard let text = env.optionalString(key), !text.isEmpty else { return fallback }
      guard let parsed = try? Address(jsonString: text), !parsed.street.isEmpty, !parsed.city.isEmpty, !parsed.recipientName.isEmpty else {
        env.report("\(key): not a support.logistics.v1.Address in protobuf JSON with recipientName, city and street")
        return fallback
      }
      return parsed
    }
    let warehouse = address("SUPPORTMESH_LOGISTICS_RETURN_ADDRESS", default: developmentWarehouse)
    let repair = address("SUPPORTMESH_LOGISTICS_REPAIR_ADDRESS", default: warehouse)
    let validity = env.int("SUPPORTMESH_LOGISTICS_RETURN_VALIDITY_DAYS", default: 7, range: 1...90)
    let carrierCode = env.string("SUPPORTMESH_LOGISTICS_DEFAULT_CARRIER", default: "sf")
    let carrier = carriers.known(carrierCode)
    if carrier == nil { env.report("SUPPORTMESH_LOGISTICS_DEFAULT_CARRIER: \(carrierCode) is not a configured carrier") }
    let sweep = env.int("SUPPORTMESH_LOGISTICS_RETURN_SWEEP_SECONDS", default: 10, range: 1...3600)
    try env.validate()
    return ReturnSettings(
      returnWarehouse: warehouse, repairCentre: repair, validityDays: validity, defaultCarrier: carrier ?? "sf",
      sweepInterval: .seconds(sweep))
  }

  /// Where goods of a return authorisation go (and where the outbound leg leaves from).
  func destination(for kind: ShipmentKind) -> Address {
    kind == .repairInbound || kind == .repairOutbound ? repairCentre : returnWarehouse
  }
}

typealias ShipmentKind = Support_Logistics_V1_ShipmentKind
