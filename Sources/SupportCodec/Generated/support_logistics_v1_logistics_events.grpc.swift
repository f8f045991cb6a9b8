/// Events announced by the logistics service, and the events it consumes.
///
/// Delivery: each event is written in the same transaction as the change it reports (an
/// outbox) and published at least once, with its full message name as the event type.
/// Consumers de-duplicate by EventEnvelope.event_id. Logistics' support.events.v1.EventLog
/// serves all its events in commit order (subject = the shipment id; the return
/// authorisation id for the ReturnAuthorization events), so the events of one shipment arrive
/// in the order of `shipment_version`. Each event carries its own
/// copy of the facts a consumer needs, so consumers never call back to read them; personal
/// data (addresses, phone numbers) is never copied into events.
///
/// Produced (consumer and effect), each in the transaction of the change it announces:
/// - ShipmentCreatedEvent, on CreateShipment and on every shipment logistics creates itself
///   (the RETURN / REPAIR_INBOUND leg of a return authorisation, the EXCHANGE_REPLACEMENT and
///   REPAIR_OUTBOUND legs after an inspection): tickets resolves an exchange
///   (REPLACEMENT_SHIPPED) when its EXCHANGE_REPLACEMENT is created; chat does not consume it yet.
/// - ShipmentDeliveredEvent, once per shipment, the first time RecordTrackingEvents makes its
///   status DELIVERED: tickets moves the case of a RETURN or REPAIR_INBOUND parcel to
///   GOODS_RECEIVED, and resolves a repair (REPAIRED) when its REPAIR_OUTBOUND is delivered; an
///   OUTBOUND delivery records each order line's delivery time in tickets, which eligibility
///   (CheckEligibility, CreateTicket) counts from instead of the caller's delivered_time. The
///   carrier, route and transit time of every delivery feed later expected delivery times.
///   The return authorisation of a RETURN or
///   REPAIR_INBOUND shipment becomes RECEIVED in the same transaction (IN_TRANSIT at its first
///   carrier scan).
/// - ShipmentExceptionEvent, when RecordTrackingEvents opens an exception (change OPENED) or
///   detects an open one again (UPDATED), and when the DELAYED sweep opens one: tickets opens
///   the shopper's logistics case for it (shopper_id; none when empty), or notes the case
///   already open for the shipment or its order lines (tickets_events.proto, "Consumed").
/// - ShipmentExceptionResolvedEvent, when an exception is resolved (by ResolveException,
///   automatically RECOVERED by a later scan or delivery, or RESHIPPED when the reship of its
///   case ships): tickets notes the case, and cancels it when the parcel RECOVERED before anyone
///   worked on the case the exception opened.
/// - ReturnAuthorizationIssuedEvent, on CreateReturnAuthorization and when the tickets event
///   path issues one: tickets moves the case to AWAITING_RETURN and shows the RMA number,
///   label or pickup to the shopper.
/// - ReturnAuthorizationExpiredEvent, when the periodic sweep expires an ISSUED authorisation
///   whose expire_time passed (its shipment is cancelled): tickets notes it for the agent.
///
/// Consumed: the tickets event log (support.tickets.v1, subscription "logistics.tickets",
/// producer address SUPPORTMESH_PRODUCER_TICKETS), each event applied in the same transaction
/// as the subscription's cursor, so a redelivery changes nothing; request ids derive from the
/// consumed event's id ("<event_id>:rma", "<event_id>:outbound"):
/// - TicketApprovedEvent with goods_return_required → a return authorisation for the ticket
///   (shipment_kind REPAIR_INBOUND for a REPAIR solution, RETURN otherwise; the method the case
///   recorded, UNSPECIFIED meaning SELF_SHIP; the shipping payer the case decided, SELLER when
///   it named none) with its RETURN / REPAIR_INBOUND shipment for LABEL and PICKUP. order_id is
///   the event's, else the order of its first return item. The sender address of a LABEL or
///   PICKUP is the destination of the order's latest OUTBOUND shipment known to logistics;
///   without one the authorisation is issued as SELF_SHIP (requested_method and method_note
///   say so). A PICKUP whose window is missing or already over is issued as LABEL (a prepaid
///   label instead; requested_method and method_note say so). Skipped (logged) when the ticket
///   already has an ISSUED or IN_TRANSIT one.
/// - TicketApprovedEvent of an EXCHANGE without goods coming back (a reship, 补发, for a lost
///   parcel) → an EXCHANGE_REPLACEMENT shipment of replacement_items at once ("<event_id>:outbound"),
///   to the destination of the order's latest OUTBOUND shipment (skipped, logged, without one),
///   recording the event's shopper_id; when the event names a shipment_exception_id that is
///   still OPEN, that exception is resolved RESHIPPED in the same transaction.
/// - TicketSolutionChangedEvent → the ticket's ISSUED return authorisation is cancelled when
///   goods no longer come back or must come back as another shipment kind; when the case is
///   SOLUTION_AGREED, goods must come back and the ticket has no ISSUED or IN_TRANSIT
///   authorisation, one is issued as for TicketApprovedEvent.
/// - TicketInspectedEvent with result PASS → for an EXCHANGE an EXCHANGE_REPLACEMENT shipment
///   of replacement_items (the returned items when empty), for a REPAIR a REPAIR_OUTBOUND
///   shipment of the items, linked to the ticket, from the configured warehouse / repair centre
///   to the address the goods came from (the origin of return_shipment_id, else of the ticket's
///   latest return shipment, else the order's OUTBOUND destination), with the default carrier
///   and a waybill logistics assigns. Skipped (logged) when no such address is known.
/// - TicketCancelledEvent → the ticket's ISSUED return authorisation is cancelled.
/// The order system registers OUTBOUND shipments by calling CreateShipment; the carrier
/// integration calls RecordTrackingEvents.

// DO NOT EDIT.
// swift-format-ignore-file
// swiftlint:disable all
//
// Generated by the gRPC Swift generator plugin for the protocol buffer compiler.
// Source: support/logistics/v1/logistics_events.proto
//
// For information on using the generated types, please see the documentation:
//   https://github.com/grpc/grpc-swift

// This file contained no services.