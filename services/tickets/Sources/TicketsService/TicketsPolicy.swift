import Foundation
import ServiceKit
import SwiftProtobuf
import SupportCodec

/// The store's after-sales policy. Defaults follow common practice (domain.md); a store sets
/// its own through the environment:
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_TICKETS_NO_REASON_RETURN_DAYS | 七日无理由退货 window after delivery | 7 |
/// | SUPPORTMESH_TICKETS_EXCHANGE_DAYS | exchange window after delivery | 15 |
/// | SUPPORTMESH_TICKETS_REPAIR_DAYS | repair window after delivery | 30 |
/// | SUPPORTMESH_TICKETS_WARRANTY_DAYS | quality problems and "not as described" | 365 |
/// | SUPPORTMESH_TICKETS_FIRST_RESPONSE_HOURS | acknowledge every request within | 24 |
/// | SUPPORTMESH_TICKETS_RESOLUTION_HOURS | resolve within | 72 |
/// | SUPPORTMESH_TICKETS_SLA_SWEEP_SECONDS | how often the SLA sweeper looks for crossings (1-30) | 10 |
///
/// The two hours are the default SLA policy's; SlaService.UpdateSlaPolicy overrides them.
public struct TicketsPolicy: Sendable {
  public var noReasonReturnDays = 7
  public var exchangeDays = 15
  public var repairDays = 30
  public var warrantyDays = 365
  public var firstResponseHours = 24
  public var resolutionHours = 72

  public init() {}

  public static func load(_ environment: EnvironmentReader = EnvironmentReader()) throws -> TicketsPolicy {
    var env = environment
    var policy = TicketsPolicy()
    policy.noReasonReturnDays = env.int("SUPPORTMESH_TICKETS_NO_REASON_RETURN_DAYS", default: 7, range: 0...365)
    policy.exchangeDays = env.int("SUPPORTMESH_TICKETS_EXCHANGE_DAYS", default: 15, range: 0...365)
    policy.repairDays = env.int("SUPPORTMESH_TICKETS_REPAIR_DAYS", default: 30, range: 0...3650)
    policy.warrantyDays = env.int("SUPPORTMESH_TICKETS_WARRANTY_DAYS", default: 365, range: 0...3650)
    policy.firstResponseHours = env.int("SUPPORTMESH_TICKETS_FIRST_RESPONSE_HOURS", default: 24, range: 1...720)
    policy.resolutionHours = env.int("SUPPORTMESH_TICKETS_RESOLUTION_HOURS", default: 72, range: 1...2160)
    try env.validate()
    return policy
  }
}

typealias TicketType = Support_Tickets_V1_TicketType
typealias ProblemCategory = Support_Tickets_V1_ProblemCategory
typealias EligibilityAnswer = Support_Tickets_V1_CheckEligibilityResponse

/// Whether an after-sales request is allowed, and why not. Pure: the same inputs and clock give
/// the same answer, so CheckEligibility and CreateTicket always agree.
struct EligibilityRules: Sendable {
  let policy: TicketsPolicy

  /// The seller is at fault: the shopper may return within warranty and the seller pays shipping.
  static func sellerAtFault(_ category: ProblemCategory, _ condition: Support_Tickets_V1_GoodsCondition) -> Bool {
    switch category {
    case .productQuality, .notAsDescribed, .logistics: return true
    default: return condition == .defective
    }
  }

  /// Goods that can be sold again: intact, or opened but undamaged.
  static func resaleable(_ condition: Support_Tickets_V1_GoodsCondition) -> Bool {
    condition == .intact || condition == .opened || condition == .unspecified
  }

  func check(
    type: TicketType, category: ProblemCategory, deliveredAt: Date?,
    condition: Support_Tickets_V1_GoodsCondition, item: Support_Common_V1_OrderItemRef, at now: Date
  ) -> EligibilityAnswer {
    var answer = EligibilityAnswer()
    answer.item = item
    let atFault = Self.sellerAtFault(category, condition)
    answer.shippingRefundable = atFault

    // The window that applies, counted from delivery. The quality warranty has no fixed
    // window_length in the contract (it is the product's warranty, not a policy window) and
    // ends with OUTSIDE_WARRANTY; the policy windows end with WINDOW_EXPIRED.
    func window(_ kind: Support_Tickets_V1_PolicyWindow, days: Int) {
      answer.policyWindow = kind
      if kind != .qualityWarranty { answer.windowLength = .init(seconds: Int64(days) * 86_400) }
      if let deliveredAt {
        let deadline = deliveredAt.addingTimeInterval(Double(days) * 86_400)
        answer.deadlineTime = deadline.timestamp
        if now > deadline {
          if kind == .qualityWarranty {
            refuse(.outsideWarranty, "the \(days)-day warranty ended \(Self.day(deadline))")
          } else {
            refuse(.windowExpired, "the \(days)-day window after delivery ended \(Self.day(deadline))")
          }
        }
      }
    }
    func refuse(_ reason: Support_Tickets_V1_IneligibilityReason, _ message: String) {
      answer.reasons.append(reason)
      answer.reasonMessages.append(message)
    }

    switch type {
    case .complaint, .inquiry:
      answer.policyWindow = .none
      answer.returnShippingPayer = .none
    case .refundOnly:
      answer.returnShippingPayer = .none
      if deliveredAt == nil || condition == .notReceived {
        answer.policyWindow = .notDelivered
      } else if Self.refundOnlyAfterDelivery.contains(category) {
        // A lost or damaged parcel, an overcharge: money back without goods moving, within
        // the warranty.
        window(.qualityWarranty, days: policy.warrantyDays)
      } else {
        answer.policyWindow = .none
        refuse(.typeNotAllowed, "refund only after delivery is for logistics or transaction problems (lost parcel, overcharge); for a problem with the goods ask for a return and refund, exchange or repair")
      }
    case .returnAndRefund, .exchange, .repair:
      answer.returnShippingPayer = atFault ? .seller : .shopper
      guard deliveredAt != nil, condition != .notReceived else {
        answer.policyWindow = .notDelivered
        refuse(.notDelivered, type == .returnAndRefund
          ? "the goods were not delivered: ask for a refund only instead"
          : "the goods were not delivered yet")
        break
      }
      if atFault {
        window(.qualityWarranty, days: policy.warrantyDays)
      } else if type == .returnAndRefund {
        window(.noReasonReturn, days: policy.noReasonReturnDays)
        if !Self.resaleable(condition) { refuse(.goodsNotResaleable, "a no-reason return needs the goods intact and resaleable") }
      } else if type == .exchange {
        window(.exchange, days: policy.exchangeDays)
        if !Self.resaleable(condition) { refuse(.goodsNotResaleable, "an exchange without a quality problem needs the goods intact and resaleable") }
      } else {
        window(.repair, days: policy.repairDays)
      }
    default:
      answer.policyWindow = .none
      refuse(.typeNotAllowed, "unknown request type")
    }
    answer.eligible = answer.reasons.isEmpty
    return answer
  }

  /// The categories for which a delivered order may be refunded without returning the goods.
  static let refundOnlyAfterDelivery: Set<ProblemCategory> = [.logistics, .transaction]

  /// How far ahead of the server clock a caller's time (delivered_time, check_time) may be.
  static let clockSkewAllowance: TimeInterval = 5 * 60

  /// INVALID_ARGUMENT naming `field` when `value` is later than now plus the clock skew.
  static func requireNotFuture(_ value: Google_Protobuf_Timestamp, _ field: String, now: Date) throws {
    if value.date > now.addingTimeInterval(clockSkewAllowance) {
      throw ServiceError.invalidArgument(field, "is in the future (more than \(Int(clockSkewAllowance / 60)) minutes after the server clock)")
    }
  }

  static func day(_ date: Date) -> String {
    date.formatted(.iso8601.year().month().day())
  }
}

extension Support_Tickets_V1_IneligibilityReason {
  /// The code clients see in error details: the enum value's name without its prefix, e.g.
  /// "WINDOW_EXPIRED".
  var code: String {
    switch self {
    case .unspecified: "UNSPECIFIED"
    case .windowExpired: "WINDOW_EXPIRED"
    case .goodsNotResaleable: "GOODS_NOT_RESALEABLE"
    case .notDelivered: "NOT_DELIVERED"
    case .outsideWarranty: "OUTSIDE_WARRANTY"
    case .itemExcluded: "ITEM_EXCLUDED"
    case .typeNotAllowed: "TYPE_NOT_ALLOWED"
    case .openCaseExists: "OPEN_CASE_EXISTS"
    case .UNRECOGNIZED(let value): "UNRECOGNIZED_\(value)"
    }
  }
}
