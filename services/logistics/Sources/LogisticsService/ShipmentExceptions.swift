import Foundation
import ServiceKit
import SupportCodec

typealias ShipmentException = Support_Logistics_V1_ShipmentException
typealias ShipmentExceptionKind = Support_Logistics_V1_ShipmentExceptionKind

/// How carrier events open, update and resolve shipment exceptions (logistics.proto,
/// ShipmentExceptionKind and ShipmentException). Pure: the store applies the outcome in the
/// transaction that records the events.
///
/// - A DELIVERY_FAILED, LOST, DAMAGED, RETURNED_TO_SENDER or EXCEPTION event opens an exception
///   of the matching kind, or, while one of that kind is OPEN, updates it (one more occurrence,
///   a later last_detected_time). Detection times are the events' event_time.
/// - RECOVERED (actor SYSTEM): an open LOST exception when a later mapped scan of another status
///   is in the timeline; an open DELIVERY_FAILED exception when a later DELIVERED event is.
/// - DELAYED is opened by a timer (DelayedShipmentSweeper), not by events; RECOVERED (actor
///   SYSTEM) by any new mapped scan later than the last scan before it.
/// The store announces every change (ShipmentEvents.exception) in the same transaction.
enum ExceptionRules {
  /// One change of an exception, in the order it happened (a watch event each).
  enum Change: Sendable {
    case opened, updated, resolved
  }

  struct Outcome: Sendable {
    /// Every exception created or changed, in its final state, by id.
    var changed: [String: ShipmentException] = [:]
    /// The ids of `changed` that are new rows.
    var created: Set<String> = []
    /// Each change, in order; each takes one sequence number of the shipment's watch stream.
    var changes: [(exceptionID: String, change: Change)] = []
    /// The shipment's OPEN exceptions afterwards, oldest detection first.
    var open: [ShipmentException] = []
  }

  static func kind(for status: ShipmentStatus) -> ShipmentExceptionKind? {
    switch status {
    case .deliveryFailed: .deliveryFailed
    case .lost: .lost
    case .damaged: .damaged
    case .returnedToSender: .returnedToSender
    case .exception: .carrierReported
    default: nil
    }
  }

  /// Applies `newEvents` (just recorded) to the shipment's `open` exceptions; `timeline` is the
  /// shipment's whole timeline including them, ordered by event time.
  static func apply(
    shipment: Shipment, open: [ShipmentException], newEvents: [TrackingEvent], timeline: [TrackingEvent], now: Date,
    previousLastScan: Date? = nil
  ) -> Outcome {
    var outcome = Outcome()
    var openByKind: [ShipmentExceptionKind: ShipmentException] = [:]
    for exception in open { openByKind[exception.kind] = exception }

    let ordered = newEvents.sorted { ($0.eventTime.date, $0.sequence) < ($1.eventTime.date, $1.sequence) }
    for event in ordered {
      guard let kind = kind(for: event.status) else { continue }
      if var exception = openByKind[kind] {
        exception.occurrenceCount += 1
        if event.eventTime.date > exception.lastDetectedTime.date { exception.lastDetectedTime = event.eventTime }
        exception.detail = detail(event)
        exception.version += 1
        exception.updateTime = now.timestamp
        openByKind[kind] = exception
        outcome.changed[exception.exceptionID] = exception
        outcome.changes.append((exception.exceptionID, .updated))
      } else {
        var exception = ShipmentException()
        exception.exceptionID = UUID().uuidString.lowercased()
        exception.shipmentID = shipment.shipmentID
        exception.kind = kind
        exception.state = .open
        exception.shipmentKind = shipment.kind
        exception.orderID = shipment.orderID
        exception.ticketID = shipment.ticketID
        exception.carrierCode = shipment.carrierCode
        exception.trackingNumber = shipment.trackingNumber
        exception.detectedTime = event.eventTime
        exception.lastDetectedTime = event.eventTime
        exception.occurrenceCount = 1
        exception.detail = detail(event)
        exception.carrierEventID = event.carrierEventID
        exception.version = 1
        exception.updateTime = now.timestamp
        openByKind[kind] = exception
        outcome.changed[exception.exceptionID] = exception
        outcome.created.insert(exception.exceptionID)
        outcome.changes.append((exception.exceptionID, .opened))
      }
    }

    // Automatic recovery, judged on the whole timeline (events arrive out of order).
    for kind in [ShipmentExceptionKind.lost, .deliveryFailed] {
      guard var exception = openByKind[kind] else { continue }
      let since = exception.lastDetectedTime.date
      let recovery = timeline.first { event in
        guard event.eventTime.date > since, event.status != .unspecified else { return false }
        return kind == .lost ? event.status != .lost : event.status == .delivered
      }
      guard let recovery else { continue }
      exception.state = .resolved
      exception.resolution = .recovered
      exception.resolutionNote = kind == .lost
        ? "the carrier scanned the parcel again (\(recovery.carrierEventID), \(name(recovery.status)))"
        : "the parcel was delivered (\(recovery.carrierEventID))"
      exception.resolvedBy = .with { $0.kind = .system }
      exception.resolveTime = now.timestamp
      exception.version += 1
      exception.updateTime = now.timestamp
      openByKind[kind] = nil
      outcome.changed[exception.exceptionID] = exception
      outcome.changes.append((exception.exceptionID, .resolved))
    }

    // A DELAYED parcel scanned again: any new mapped scan later than the silence it broke.
    if var exception = openByKind[.delayed],
      let recovery = ordered.first(where: { $0.status != .unspecified && $0.eventTime.date > (previousLastScan ?? .distantPast) })
    {
      exception.state = .resolved
      exception.resolution = .recovered
      exception.resolutionNote = "the carrier scanned the parcel again (\(recovery.carrierEventID), \(name(recovery.status)))"
      exception.resolvedBy = .with { $0.kind = .system }
      exception.resolveTime = now.timestamp
      exception.version += 1
      exception.updateTime = now.timestamp
      openByKind[.delayed] = nil
      outcome.changed[exception.exceptionID] = exception
      outcome.changes.append((exception.exceptionID, .resolved))
    }

    outcome.open = openByKind.values.sorted { ($0.detectedTime.date, $0.exceptionID) < ($1.detectedTime.date, $1.exceptionID) }
    return outcome
  }

  /// Human-readable reason, e.g. "carrier reported LOST at Hangzhou: 快件丢失".
  static func detail(_ event: TrackingEvent) -> String {
    var text = "carrier reported \(name(event.status))"
    if !event.location.isEmpty { text += " at \(event.location)" }
    if !event.description_p.isEmpty { text += ": \(event.description_p)" }
    text += " (\(event.carrierStatusCode.isEmpty ? event.carrierEventID : event.carrierStatusCode))"
    return String(text.prefix(1000))
  }

  /// The normalised status as the contract spells it, e.g. DELIVERY_FAILED.
  static func name(_ status: ShipmentStatus) -> String {
    if status == .cancelled { return "CANCELLED" }
    return CarrierCatalog.normalised.first { $0.value == status }?.key ?? "UNSPECIFIED"
  }
}
