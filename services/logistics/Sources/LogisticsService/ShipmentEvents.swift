import Foundation
import ServiceKit
import SupportCodec

typealias ReturnAuthorization = Support_Logistics_V1_ReturnAuthorization

/// The events logistics announces (logistics_events.proto, "Produced"), built from the state
/// after the change. Stores append them to the outbox in the change's own transaction; no
/// address or phone number is ever copied into an event.
enum ShipmentEvents {
  static func created(_ shipment: Shipment, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    .shipmentCreated(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.emitTime = shipment.updateTime
      $0.shipmentID = shipment.shipmentID
      $0.kind = shipment.kind
      $0.orderID = shipment.orderID
      $0.ticketID = shipment.ticketID
      $0.carrierCode = shipment.carrierCode
      $0.trackingNumber = shipment.trackingNumber
      $0.items = shipment.items
      $0.returnAuthorizationID = shipment.returnAuthorizationID
      if shipment.hasExpectedDeliveryTime { $0.expectedDeliveryTime = shipment.expectedDeliveryTime }
      $0.createTime = shipment.createTime
      $0.shipmentVersion = shipment.version
    })
  }

  static func delivered(_ shipment: Shipment, rmaNumber: String, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    .shipmentDelivered(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.emitTime = shipment.updateTime
      $0.shipmentID = shipment.shipmentID
      $0.kind = shipment.kind
      $0.ticketID = shipment.ticketID
      $0.orderID = shipment.orderID
      $0.deliveredTime = shipment.deliveredTime
      $0.carrierCode = shipment.carrierCode
      $0.trackingNumber = shipment.trackingNumber
      $0.items = shipment.items
      $0.returnAuthorizationID = shipment.returnAuthorizationID
      $0.rmaNumber = rmaNumber
      $0.shipmentVersion = shipment.version
      $0.shopperID = shipment.shopperID
    })
  }

  /// An exception opened or detected again (`change`), or resolved.
  static func exception(
    _ exception: ShipmentException, change: ExceptionRules.Change, shipment: Shipment, eventID: UUID
  ) -> EventEnvelope.OneOf_Payload {
    let id = eventID.uuidString.lowercased()
    switch change {
    case .opened, .updated:
      return .shipmentException(.with {
        $0.eventID = id
        $0.emitTime = exception.updateTime
        $0.exceptionID = exception.exceptionID
        $0.kind = exception.kind
        $0.change = change == .opened ? .opened : .updated
        $0.shipmentID = shipment.shipmentID
        $0.shipmentKind = shipment.kind
        $0.shipmentStatus = shipment.status
        $0.orderID = shipment.orderID
        $0.ticketID = shipment.ticketID
        $0.carrierCode = shipment.carrierCode
        $0.trackingNumber = shipment.trackingNumber
        $0.items = shipment.items
        $0.detectedTime = exception.detectedTime
        $0.lastDetectedTime = exception.lastDetectedTime
        $0.occurrenceCount = exception.occurrenceCount
        $0.detail = exception.detail
        $0.carrierEventID = exception.carrierEventID
        $0.exceptionVersion = exception.version
        $0.shipmentVersion = shipment.version
        $0.shopperID = shipment.shopperID
      })
    case .resolved:
      return .shipmentExceptionResolved(.with {
        $0.eventID = id
        $0.emitTime = exception.updateTime
        $0.exceptionID = exception.exceptionID
        $0.kind = exception.kind
        $0.shipmentID = shipment.shipmentID
        $0.shipmentKind = shipment.kind
        $0.orderID = shipment.orderID
        $0.ticketID = shipment.ticketID
        $0.resolution = exception.resolution
        $0.resolutionNote = exception.resolutionNote
        $0.resolvedBy = exception.resolvedBy
        $0.resolveTime = exception.resolveTime
        $0.exceptionVersion = exception.version
      })
    }
  }

  static func returnAuthorizationIssued(_ authorization: ReturnAuthorization, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    .returnAuthorizationIssued(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.emitTime = authorization.updateTime
      $0.returnAuthorizationID = authorization.returnAuthorizationID
      $0.rmaNumber = authorization.rmaNumber
      $0.ticketID = authorization.ticketID
      $0.orderID = authorization.orderID
      $0.shipmentKind = authorization.shipmentKind
      $0.method = authorization.method
      $0.shippingPayer = authorization.shippingPayer
      $0.items = authorization.items
      switch authorization.booking {
      case .label(let label)?: $0.label = label
      case .pickup(let pickup)?: $0.pickup = pickup
      case nil: break
      }
      $0.expireTime = authorization.expireTime
      $0.shipmentID = authorization.shipmentID
      if authorization.hasEstimatedShippingFee { $0.estimatedShippingFee = authorization.estimatedShippingFee }
      $0.returnAuthorizationVersion = authorization.version
      $0.requestedMethod = authorization.requestedMethod
      $0.methodNote = authorization.methodNote
    })
  }

  static func returnAuthorizationExpired(_ authorization: ReturnAuthorization, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    .returnAuthorizationExpired(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.emitTime = authorization.updateTime
      $0.returnAuthorizationID = authorization.returnAuthorizationID
      $0.rmaNumber = authorization.rmaNumber
      $0.ticketID = authorization.ticketID
      $0.orderID = authorization.orderID
      $0.expireTime = authorization.expireTime
      $0.shipmentID = authorization.shipmentID
      $0.returnAuthorizationVersion = authorization.version
    })
  }
}
