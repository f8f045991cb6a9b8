import Foundation
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec
import SwiftProtobuf

typealias ExpectedDeliverySource = Support_Logistics_V1_ExpectedDeliverySource

/// Transit times of delivered shipments per carrier and route, and the expected delivery they
/// give later shipments of that route (logistics.proto, Shipment.expected_delivery_time).
///
/// A route is the origin's and destination's province and city ("浙江/杭州>广东/深圳", an empty
/// origin as "/"); the transit time of a shipment runs from its first mapped scan (creation
/// before any scan) to its delivery, recorded once, when the delivery is first announced.
enum RouteHistory {
  static let migration = Migration(
    version: 11, name: "transit times of delivered shipments per carrier and route",
    sql: """
      CREATE TABLE route_transit_times (
        shipment_id uuid PRIMARY KEY REFERENCES shipments (shipment_id),
        carrier_code text NOT NULL,
        route text NOT NULL,
        delivered_at timestamptz NOT NULL,
        transit_seconds double precision NOT NULL
      );
      -- The latest deliveries of one carrier and route.
      CREATE INDEX route_transit_times_route_idx ON route_transit_times (carrier_code, route, delivered_at DESC);
      """
  )

  static func route(_ shipment: Shipment) -> String {
    func place(_ address: Address) -> String {
      "\(address.province.trimmingCharacters(in: .whitespaces).lowercased())/\(address.city.trimmingCharacters(in: .whitespaces).lowercased())"
    }
    return "\(place(shipment.origin))>\(place(shipment.destination))"
  }

  /// When the parcel started travelling: its first mapped scan, else its creation.
  static func start(_ shipment: Shipment, _ timeline: [TrackingEvent]) -> Date {
    timeline.first { $0.status != .unspecified }?.eventTime.date ?? shipment.createTime.date
  }

  /// The median transit time of the route's latest `samples` deliveries; nil with fewer than
  /// `minimum`.
  static func median(
    carrier: String, route: String, samples: Int, minimum: Int, on connection: PostgresConnection, logger: Logger
  ) async throws -> TimeInterval? {
    for try await (median, count) in try await connection.query(
      """
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY transit_seconds), count(*)
      FROM (SELECT transit_seconds FROM route_transit_times WHERE carrier_code = \(carrier) AND route = \(route)
        ORDER BY delivered_at DESC LIMIT \(Int64(samples))) recent
      """, logger: logger
    ).decode((Double?, Int64).self) {
      return count >= minimum ? median : nil
    }
    return nil
  }

  /// Records a delivered shipment's transit time (once per shipment).
  static func record(_ shipment: Shipment, _ timeline: [TrackingEvent], on connection: PostgresConnection, logger: Logger) async throws {
    guard shipment.hasDeliveredTime else { return }
    let transit = max(0, shipment.deliveredTime.date.timeIntervalSince(start(shipment, timeline)))
    try await connection.query(
      """
      INSERT INTO route_transit_times (shipment_id, carrier_code, route, delivered_at, transit_seconds)
      VALUES (\(UUID(uuidString: shipment.shipmentID)!), \(shipment.carrierCode), \(route(shipment)), \(shipment.deliveredTime.date), \(transit))
      ON CONFLICT (shipment_id) DO NOTHING
      """, logger: logger)
  }

  /// The expected delivery of a parcel not delivered yet (see the contract's order): the
  /// latest carrier estimate, the promise, the route's median transit, the default transit.
  static func expected(
    _ shipment: Shipment, timeline: [TrackingEvent], routeMedian: TimeInterval?, defaultTransit: TimeInterval
  ) -> (Google_Protobuf_Timestamp, ExpectedDeliverySource) {
    if let estimate = timeline.last(where: \.hasEstimatedDeliveryTime) { return (estimate.estimatedDeliveryTime, .carrier) }
    if shipment.hasPromisedDeliveryTime { return (shipment.promisedDeliveryTime, .promise) }
    let lastScan = timeline.last?.eventTime.date
    if let routeMedian {
      var at = start(shipment, timeline).addingTimeInterval(routeMedian)
      if let lastScan, at <= lastScan { at = lastScan.addingTimeInterval(routeMedian) }
      return (at.timestamp, .routeHistory)
    }
    return ((lastScan ?? shipment.createTime.date).addingTimeInterval(defaultTransit).timestamp, .defaultTransit)
  }

  /// `expected` with the route's history read only when it can matter (no carrier estimate in
  /// the timeline, no promise): a shipment registered just now (`timeline` empty) or one whose
  /// promise, route or carrier changed.
  static func estimate(
    _ shipment: Shipment, timeline: [TrackingEvent] = [], carriers: CarrierCatalog, on connection: PostgresConnection, logger: Logger
  ) async throws -> (Google_Protobuf_Timestamp, ExpectedDeliverySource) {
    var routeMedian: TimeInterval?
    if !shipment.hasPromisedDeliveryTime && !timeline.contains(where: \.hasEstimatedDeliveryTime) {
      routeMedian = try await median(
        carrier: shipment.carrierCode, route: route(shipment), samples: carriers.routeSamples, minimum: carriers.routeMinSamples,
        on: connection, logger: logger)
    }
    return expected(shipment, timeline: timeline, routeMedian: routeMedian, defaultTransit: Double(carriers.defaultTransitDays) * 86_400)
  }
}
