import Foundation
import ServiceKit
import SupportCodec

/// What the system agrees by itself when a shipment exception opens a case, per exception kind
/// (the shop's choice; docs/api.md, "Shipment exceptions become cases"):
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_TICKETS_EXCEPTION_REMEDY_LOST | RESHIP, REFUND or AGENT for a lost parcel | RESHIP |
/// | SUPPORTMESH_TICKETS_EXCEPTION_REMEDY_DAMAGED | the same for a damaged parcel | AGENT |
/// | SUPPORTMESH_TICKETS_EXCEPTION_REMEDY_DELAYED | ... no scan for too long | AGENT |
/// | SUPPORTMESH_TICKETS_EXCEPTION_REMEDY_DELIVERY_FAILED | ... a failed delivery attempt | AGENT |
/// | SUPPORTMESH_TICKETS_EXCEPTION_REMEDY_RETURNED_TO_SENDER | ... refused or undeliverable | AGENT |
/// | SUPPORTMESH_TICKETS_EXCEPTION_REMEDY_CARRIER_REPORTED | ... any other carrier problem | AGENT |
///
/// RESHIP agrees an exchange without a return (补发: logistics ships the replacement at once),
/// REFUND agrees a refund of what the items cost, AGENT leaves the case SUBMITTED for a person.
struct ExceptionRemedies: Sendable {
  enum Remedy: String, Sendable {
    case reship = "RESHIP"
    case refund = "REFUND"
    case agent = "AGENT"
  }

  var byKind: [Support_Logistics_V1_ShipmentExceptionKind: Remedy]

  func remedy(for kind: Support_Logistics_V1_ShipmentExceptionKind) -> Remedy { byKind[kind] ?? .agent }

  static let kinds: [(Support_Logistics_V1_ShipmentExceptionKind, String, Remedy)] = [
    (.lost, "LOST", .reship), (.damaged, "DAMAGED", .agent), (.delayed, "DELAYED", .agent),
    (.deliveryFailed, "DELIVERY_FAILED", .agent), (.returnedToSender, "RETURNED_TO_SENDER", .agent),
    (.carrierReported, "CARRIER_REPORTED", .agent),
  ]

  static func load(_ environment: EnvironmentReader = EnvironmentReader()) throws -> ExceptionRemedies {
    var env = environment
    var byKind: [Support_Logistics_V1_ShipmentExceptionKind: Remedy] = [:]
    for (kind, name, fallback) in kinds {
      let variable = "SUPPORTMESH_TICKETS_EXCEPTION_REMEDY_\(name)"
      let value = env.string(variable, default: fallback.rawValue).trimmingCharacters(in: .whitespaces).uppercased()
      guard let remedy = Remedy(rawValue: value) else {
        env.report("\(variable): \(value) is not RESHIP, REFUND or AGENT")
        continue
      }
      byKind[kind] = remedy
    }
    try env.validate()
    return ExceptionRemedies(byKind: byKind)
  }

  /// The exception kind as the contract spells it, e.g. LOST.
  static func name(_ kind: Support_Logistics_V1_ShipmentExceptionKind) -> String {
    kinds.first { $0.0 == kind }?.1 ?? "UNSPECIFIED"
  }
}
