import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec

/// When each order line was delivered, as logistics reported it (ShipmentDeliveredEvent of an
/// OUTBOUND shipment, heard by the "tickets.logistics" subscription in its transaction).
/// Eligibility counts its windows from these facts where known, not from what a caller says.
///
/// A line is keyed by its order_item_id; a shipment item without one is keyed "sku:<sku>", and
/// one naming neither stands for the whole order (key ""). A line delivered twice keeps its
/// first delivery (the window started then).
enum DeliveryFacts {
  static let migration = Migration(
    version: 21, name: "order line deliveries reported by logistics",
    sql: """
      CREATE TABLE order_item_deliveries (
        order_id text NOT NULL,
        line_key text NOT NULL,
        delivered_at timestamptz NOT NULL,
        shipment_id text NOT NULL,
        PRIMARY KEY (order_id, line_key)
      );
      """
  )

  /// Whose order each line belongs to (ShipmentDeliveredEvent.shopper_id), so a shopper's
  /// question never learns the delivery of someone else's order.
  static let shopperMigration = Migration(
    version: 22, name: "order line deliveries know their shopper",
    sql: "ALTER TABLE order_item_deliveries ADD COLUMN shopper_id text NOT NULL DEFAULT '';")

  static func lineKey(_ item: Support_Common_V1_OrderItemRef) -> String {
    if !item.orderItemID.isEmpty { return item.orderItemID }
    if !item.sku.isEmpty { return "sku:\(item.sku)" }
    return ""
  }

  /// Records an OUTBOUND delivery's lines (other kinds are not the order's delivery).
  static func record(_ delivered: Support_Logistics_V1_ShipmentDeliveredEvent, on connection: PostgresConnection, logger: Logger) async throws {
    guard delivered.kind == .outbound, delivered.hasDeliveredTime else { return }
    let fallbackOrder = delivered.orderID
    let rows = delivered.items.map { item in (item.orderID.isEmpty ? fallbackOrder : item.orderID, lineKey(item)) }
      .filter { !$0.0.isEmpty }
    var lines = rows.isEmpty && !fallbackOrder.isEmpty ? [(fallbackOrder, "")] : rows
    // One row per line: a shipment may list a line twice, and one INSERT may not touch a row twice.
    var seen = Set<String>()
    lines = lines.filter { seen.insert("\($0.0)\u{0}\($0.1)").inserted }
    guard !lines.isEmpty else { return }
    try await connection.query(
      """
      INSERT INTO order_item_deliveries (order_id, line_key, delivered_at, shipment_id, shopper_id)
      SELECT o, k, \(delivered.deliveredTime.date), \(delivered.shipmentID), \(delivered.shopperID)
      FROM unnest(\(lines.map(\.0))::text[], \(lines.map(\.1))::text[]) AS l(o, k)
      ON CONFLICT (order_id, line_key) DO UPDATE SET delivered_at = LEAST(order_item_deliveries.delivered_at, EXCLUDED.delivered_at),
        shipment_id = CASE WHEN EXCLUDED.delivered_at < order_item_deliveries.delivered_at
          THEN EXCLUDED.shipment_id ELSE order_item_deliveries.shipment_id END
      """, logger: logger)
  }

  /// The delivery logistics reported for each item, in `items` order (nil where unknown): the
  /// line itself, else (by sku) its sku, else a whole-order delivery; an item naming no line
  /// (the whole order) takes the order's latest delivery. One query for all the items.
  /// `shopperID` set: only the deliveries of that shopper's orders count (a shopper's own
  /// question); nil: any (staff and the system).
  static func lookup(
    _ items: [Support_Common_V1_OrderItemRef], shopperID: String?, on connection: PostgresConnection, logger: Logger
  ) async throws -> [Date?] {
    let orders = Array(Set(items.map(\.orderID).filter { !$0.isEmpty }))
    guard !orders.isEmpty else { return items.map { _ in nil } }
    var known: [String: [String: Date]] = [:]
    for try await (order, key, at) in try await connection.query(
      """
      SELECT order_id, line_key, delivered_at FROM order_item_deliveries
      WHERE order_id = ANY(\(orders)::text[]) AND (\(shopperID)::text IS NULL OR shopper_id = \(shopperID))
      """, logger: logger
    ).decode((String, String, Date).self) {
      known[order, default: [:]][key] = at
    }
    return items.map { item -> Date? in
      guard let lines = known[item.orderID] else { return nil }
      if item.orderItemID.isEmpty && item.sku.isEmpty { return lines.values.max() }
      if !item.orderItemID.isEmpty, let at = lines[item.orderItemID] { return at }
      if !item.sku.isEmpty, let at = lines["sku:\(item.sku)"] { return at }
      return lines[""]
    }
  }

  static func lookup(_ items: [Support_Common_V1_OrderItemRef], shopperID: String?, database: Database, logger: Logger) async throws -> [Date?] {
    try await database.withConnection(logger: logger) { connection in
      try await lookup(items, shopperID: shopperID, on: connection, logger: logger)
    }
  }

  /// The shopper whose facts a caller may use: a shopper only their own; staff any.
  static func shopperFilter(for caller: Caller) -> String? {
    caller.role == .shopper ? caller.subject : nil
  }
}

extension EligibilityRules {
  /// `check` counted from the delivery logistics reported (`delivered`) when known, else from
  /// the caller's delivered_time; the answer names the source it used.
  func check(
    type: TicketType, category: ProblemCategory, delivered: Date?, caller: Date?,
    condition: Support_Tickets_V1_GoodsCondition, item: Support_Common_V1_OrderItemRef, at now: Date
  ) -> EligibilityAnswer {
    var answer = check(type: type, category: category, deliveredAt: delivered ?? caller, condition: condition, item: item, at: now)
    answer.deliveredTimeSource = delivered != nil ? .logistics : (caller != nil ? .caller : .none)
    return answer
  }
}
