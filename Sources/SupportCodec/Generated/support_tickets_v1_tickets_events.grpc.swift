/// Events announced by the after-sales case service (TicketService) to other services, and the
/// events it consumes.
///
/// Delivery: wrapped in support.events.v1.EventEnvelope (subject = the ticket id), served by
/// the tickets process's support.events.v1.EventLog in commit order (envelope.proto). Within
/// one consumer's stream the events of a case arrive in the order they happened; consumers
/// deduplicate by EventEnvelope.event_id ONLY. Do not skip an event because its
/// `ticket_version` is not newer than one already applied: these are domain events, not state
/// snapshots, and a redelivered TicketResolvedEvent must still be recognised by its event_id,
/// not dropped for its version. Each event carries its own copy of the facts a consumer needs,
/// so consumers never have to call back (they may, with GetTicket). Events are written in the
/// same transaction as the change (transactional outbox).
///
/// ## Produced
/// - TicketCreatedEvent         on CreateTicket, and on a case created from a chat escalation.
/// - TicketCreationRejectedEvent when tickets refuses to create the case a chat escalation asked
///   for (the reason CreateTicket would have answered). Subject = the escalation id.
/// - TicketApprovedEvent        when the case is approved AND its solution is agreed (transition
///   APPROVED -> SOLUTION_AGREED), because logistics needs the solution kind to act. Approval
///   alone (-> APPROVED) is not announced. Logistics issues the return authorisation.
/// - TicketSolutionChangedEvent when an agreed solution is changed (AgreeSolution from
///   SOLUTION_AGREED or INSPECTED). Logistics cancels a return authorisation no longer needed
///   and issues one the new solution needs.
/// - TicketInspectedEvent       on GOODS_RECEIVED -> INSPECTED (pass or fail). Logistics ships
///   the replacement of an exchange, or the repaired item back, after a PASS.
/// - TicketResolvedEvent        on -> RESOLVED. Feedback creates the survey and follow-up.
/// - TicketReopenedEvent        on -> REOPENED. Feedback cancels the pending follow-up.
/// - TicketClosedEvent          on -> CLOSED.
/// - TicketRejectedEvent        on -> REJECTED.
/// - TicketCancelledEvent       on -> CANCELLED. Logistics cancels the case's ISSUED return
///   authorisation.
/// - TicketSlaAtRiskEvent       when a running clock has used the policy's at-risk share of its
///   target (SLA sweeper, within SUPPORTMESH_TICKETS_SLA_SWEEP_SECONDS of the moment; once per
///   clock and due time, even with several tickets instances).
/// - TicketSlaBreachedEvent     when a running clock's due time passes unmet (same sweeper, same
///   once-only rule). A clock whose due time later moves (a reopen) may be announced again.
/// - TicketFirstRespondedEvent  when the case's FIRST_RESPONSE is met (the first agent
///   PUBLIC_REPLY or StartReview; once per case). Feedback counts the acknowledgement then.
/// - TicketAssignedEvent        on every AssignTicket that changes the assignee or skill group.
///   Feedback attributes the case's numbers to the assignee as of the newest version.
///
/// ## Consumed
/// Each is applied by ACTOR_KIND_SYSTEM in the same transaction as the subscription's cursor
/// (tickets' subscriptions "tickets.logistics" and "tickets.feedback"), so a redelivery changes
/// nothing. An event whose case is not in the state the effect needs is skipped and the reason
/// recorded as an INTERNAL_NOTE on the case (e.g. the shopper cancelled meanwhile).
/// - logistics ReturnAuthorizationIssuedEvent -> AwaitReturn (SOLUTION_AGREED ->
///   AWAITING_RETURN) with the return shipment id and the RMA number as instructions.
/// - logistics ShipmentDeliveredEvent of a RETURN or REPAIR_INBOUND parcel -> MarkGoodsReceived
///   (AWAITING_RETURN -> GOODS_RECEIVED) at the delivered time.
/// - logistics ShipmentCreatedEvent of an EXCHANGE_REPLACEMENT (the replacement shipped) ->
///   Resolve with outcome REPLACEMENT_SHIPPED and the outbound shipment id (also for a
///   reship, 补发, agreed without a return).
/// - logistics ShipmentDeliveredEvent of a REPAIR_OUTBOUND parcel (the repaired item returned)
///   -> Resolve with outcome REPAIRED and the outbound shipment id.
/// - logistics ReturnAuthorizationExpiredEvent -> an INTERNAL_NOTE for the agent, who follows up
///   with the shopper or cancels the case (AWAITING_RETURN -> CANCELLED).
/// - feedback FollowUpRecordedEvent reached and DISSATISFIED (reopen_requested) -> Reopen
///   (RESOLVED|CLOSED -> REOPENED) with the follow-up id and the shopper's reason.
/// - feedback FollowUpRecordedEvent reached and SATISFIED -> Close (RESOLVED -> CLOSED).
/// - chat ConversationEscalatedEvent (subscription "tickets.chat") -> the case, created as
///   CreateTicket would by the escalating actor (requested_by), with request_id = escalation_id,
///   source = the conversation, type/category/priority mapped from chat's copies, items = the
///   escalation's order lines (the whole order when it names only the order), title, summary as
///   description (followed by a blank line and "(escalated from conversation <id>, messages
///   1-<n>)", the transcript reference), attachments as evidence, delivered_time and channel. Validation, eligibility
///   and the one-open-case rule apply as for CreateTicket; a refusal publishes
///   TicketCreationRejectedEvent instead (nothing else changes).
/// - chat ShopperRepliedEvent (subscription "tickets.chat-replies") -> each named case of the
///   event's shopper whose clocks are paused WAITING_ON_SHOPPER resumes, as if the shopper had
///   commented (history SLA_RESUMED by the shopper, reason naming the conversation); other
///   cases are left as they are.
/// - logistics ShipmentDeliveredEvent of an OUTBOUND parcel -> each item's delivery time is
///   recorded (by order id and order_item_id, else sku, else the whole order; the earliest
///   delivery wins) and CheckEligibility / CreateTicket count their windows from it
///   (delivered_time_source LOGISTICS), ignoring the caller's delivered_time.
/// - logistics ShipmentExceptionEvent (OPENED or UPDATED) of an exception tickets has no case
///   for: when a case is open (not REJECTED, CANCELLED or CLOSED) for the same shipment (filed
///   for another of its exceptions) or, among RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE and
///   REPAIR cases, for the same order lines, that case gets an INTERNAL_NOTE naming the
///   exception and handles it. Otherwise, when the event names a shopper_id, a case is filed as
///   CreateTicket would, by ACTOR_KIND_SYSTEM (id "tickets.logistics"), request_id
///   "shipment-exception:<event_id>", type REFUND_ONLY, category LOGISTICS, priority HIGH for
///   LOST and DAMAGED (else NORMAL), the event's items, source = the shipment,
///   shipment_exception_id = the exception; then the shop's remedy for the exception kind
///   (SUPPORTMESH_TICKETS_EXCEPTION_REMEDY_<KIND> = RESHIP, REFUND or AGENT; LOST defaults to
///   RESHIP, every other kind to AGENT) is agreed by the system: RESHIP = StartReview, Approve,
///   AgreeSolution EXCHANGE of the same items without a return (logistics ships the
///   replacement, the case resolves REPLACEMENT_SHIPPED); REFUND = the same with a refund of
///   the items' price (needs unit prices); AGENT leaves it SUBMITTED. A remedy that cannot be
///   agreed (no sku, no price) leaves an INTERNAL_NOTE saying why. An exception that already
///   has its case (a later UPDATED, or a copy of the event) adds an INTERNAL_NOTE to that case.
/// - logistics ShipmentExceptionResolvedEvent -> an INTERNAL_NOTE on the exception's case with
///   the resolution; when it is RECOVERED and the case was opened by that exception and is
///   untouched (SUBMITTED, unassigned, filed by the system), the case is cancelled with the
///   reason "the parcel was recovered (RECOVERED) before anyone worked on the case".

// DO NOT EDIT.
// swift-format-ignore-file
// swiftlint:disable all
//
// Generated by the gRPC Swift generator plugin for the protocol buffer compiler.
// Source: support/tickets/v1/tickets_events.proto
//
// For information on using the generated types, please see the documentation:
//   https://github.com/grpc/grpc-swift

// This file contained no services.