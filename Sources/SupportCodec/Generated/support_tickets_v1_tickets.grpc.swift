/// After-sales cases (售后工单): returns and refunds, exchanges, repairs, complaints and
/// after-sales inquiries, from submission with evidence through review, the agreed solution,
/// the reverse-logistics legs, inspection and resolution to closing, with comments, a full
/// history and service levels (SLA).
///
/// Conventions: see support/common/v1/common.proto and docs/proto-style.md.
/// Policy values quoted below (24 h / 72 h SLA, 7 / 15 / 30 day windows) are the defaults; a
/// store configures them, and the server reads them from configuration.
///
/// ## State machine (TicketStatus), driven by the single rpc TicketService.TransitionTicket
///
///   SUBMITTED        --StartReview-->      UNDER_REVIEW
///   UNDER_REVIEW     --Approve-->          APPROVED
///   UNDER_REVIEW     --Reject(reason)-->   REJECTED            (terminal)
///   APPROVED         --AgreeSolution-->    SOLUTION_AGREED
///   SOLUTION_AGREED  --AgreeSolution-->    SOLUTION_AGREED     (the solution changes, e.g. an
///                                                               exchange out of stock -> refund)
///   INSPECTED        --AgreeSolution-->    INSPECTED           (the solution changes after
///                                                               inspection, e.g. unrepairable ->
///                                                               exchange or refund)
///   SOLUTION_AGREED  --AwaitReturn-->      AWAITING_RETURN     (only if goods must come back)
///   AWAITING_RETURN  --MarkGoodsReceived-> GOODS_RECEIVED
///   GOODS_RECEIVED   --Inspect-->          INSPECTED
///   INSPECTED        --Resolve-->          RESOLVED
///   SOLUTION_AGREED  --Resolve-->          RESOLVED            (only if no goods come back:
///                                                               refund only, complaint, inquiry,
///                                                               or a waived return)
///   AWAITING_RETURN  --Resolve-->          RESOLVED            (the return parcel was lost by the
///                                                               carrier: the seller settles anyway)
///   RESOLVED         --Close-->            CLOSED
///   RESOLVED|CLOSED  --Reopen(reason)-->   REOPENED            (dissatisfied follow-up, 回访)
///   REOPENED         --StartReview-->      UNDER_REVIEW        (the case is reviewed again)
///   REOPENED         --Resolve-->          RESOLVED            (fixed without a new solution)
///   SUBMITTED|UNDER_REVIEW|APPROVED|SOLUTION_AGREED|AWAITING_RETURN|REOPENED
///                    --Cancel(reason)-->   CANCELLED           (terminal; by the shopper, before
///                                                               resolution and before the goods
///                                                               reach the seller; from
///                                                               AWAITING_RETURN also by an agent
///                                                               or the system when the goods never
///                                                               came back, e.g. the RMA expired)
///
/// Any other (status, action) pair fails with FAILED_PRECONDITION (ErrorInfo reason
/// TRANSITION_NOT_ALLOWED, metadata "status" and "action") and changes nothing.
/// Goods come back (Ticket.goods_return_required) for RETURN_AND_REFUND, EXCHANGE and REPAIR
/// unless the agreed solution waives the return; REFUND_ONLY, COMPLAINT and INQUIRY never take
/// the goods legs (AWAITING_RETURN, GOODS_RECEIVED, INSPECTED).
///
/// ## Service levels (TicketSla)
/// Targets come from the store's SLA policy (support/tickets/v1/sla.proto, SlaService), read
/// when the case is created (and, for the resolution, when it is reopened): a policy change
/// applies to cases created, and resolution clocks restarted, after it.
/// - First response (FIRST_RESPONSE) due by the policy's target after submission (default 24 h):
///   met by the first agent PUBLIC_REPLY comment or the StartReview action, whichever comes first.
/// - Resolution (RESOLUTION) due by the policy's target after submission (default 72 h); a Reopen
///   restarts it from the reopen with the target of the policy then in force (the clock's
///   start_time says which): met on RESOLVED.
/// - Complaint reply (COMPLAINT_REPLY), COMPLAINT cases only, due by the policy's target after
///   submission (default 48 h): met by the first agent or supervisor PUBLIC_REPLY with
///   `proposes_solution = true`, or by AgreeSolution (a solution agreed was proposed by then),
///   whichever comes first.
/// - Repair completion (REPAIR_COMPLETION), REPAIR cases only, due by the policy's target after
///   submission (default 168 h of business time, i.e. 7 days on the default calendar): met when
///   the case is first RESOLVED (the repaired item returned, or another remedy for a unit beyond
///   repair). The goods' trip to the seller does not count (the AWAITING_RETURN pause).
/// - Promised (PROMISED), on any case once an agent promises the shopper a time with
///   SlaService.SetPromisedTime: due at the promised time (start_time: when the promise was
///   made); a new promise moves it (history SLA_PROMISED each time); met when the case is next
///   RESOLVED.
/// - A target counts on the policy's calendar (service hours, holidays) or wall-clock, as the
///   policy's rule says; the due time is fixed at creation on that calendar.
/// - Time waiting does not count: the clocks pause while the status is AWAITING_RETURN (reason
///   WAITING_FOR_RETURNED_GOODS), after an agent PUBLIC_REPLY with `awaiting_shopper = true`
///   until the shopper comments, acts, or replies in the chat the case was escalated from
///   (WAITING_ON_SHOPPER), and while an agent's PauseSla (WAITING_ON_THIRD_PARTY) lasts, until
///   ResumeSla. Due times move later by the paused wall-clock time.
/// - REJECTED and CANCELLED stop the clocks (state STOPPED).
/// - Each clock is AT_RISK once the policy's at-risk share of its target is used, and BREACHED
///   once its due time passes unmet; tickets' SLA sweeper records each crossing once (history
///   SLA_AT_RISK / SLA_BREACHED, events TicketSlaAtRiskEvent / TicketSlaBreachedEvent).

// DO NOT EDIT.
// swift-format-ignore-file
// swiftlint:disable all
//
// Generated by the gRPC Swift generator plugin for the protocol buffer compiler.
// Source: support/tickets/v1/tickets.proto
//
// For information on using the generated types, please see the documentation:
//   https://github.com/grpc/grpc-swift

import GRPCCore
import GRPCProtobuf

// MARK: - support.tickets.v1.TicketService

/// Namespace containing generated types for the "support.tickets.v1.TicketService" service.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
public enum Support_Tickets_V1_TicketService: Sendable {
    /// Service descriptor for the "support.tickets.v1.TicketService" service.
    public static let descriptor = GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService")
    /// Namespace for method metadata.
    public enum Method: Sendable {
        /// Namespace for "CreateTicket" metadata.
        public enum CreateTicket: Sendable {
            /// Request type for "CreateTicket".
            public typealias Input = Support_Tickets_V1_CreateTicketRequest
            /// Response type for "CreateTicket".
            public typealias Output = Support_Tickets_V1_Ticket
            /// Descriptor for "CreateTicket".
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService"),
                method: "CreateTicket",
                type: .unary
            )
        }
        /// Namespace for "GetTicket" metadata.
        public enum GetTicket: Sendable {
            /// Request type for "GetTicket".
            public typealias Input = Support_Tickets_V1_GetTicketRequest
            /// Response type for "GetTicket".
            public typealias Output = Support_Tickets_V1_Ticket
            /// Descriptor for "GetTicket".
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService"),
                method: "GetTicket",
                type: .unary
            )
        }
        /// Namespace for "ListTickets" metadata.
        public enum ListTickets: Sendable {
            /// Request type for "ListTickets".
            public typealias Input = Support_Tickets_V1_ListTicketsRequest
            /// Response type for "ListTickets".
            public typealias Output = Support_Tickets_V1_ListTicketsResponse
            /// Descriptor for "ListTickets".
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService"),
                method: "ListTickets",
                type: .unary
            )
        }
        /// Namespace for "TransitionTicket" metadata.
        public enum TransitionTicket: Sendable {
            /// Request type for "TransitionTicket".
            public typealias Input = Support_Tickets_V1_TransitionTicketRequest
            /// Response type for "TransitionTicket".
            public typealias Output = Support_Tickets_V1_Ticket
            /// Descriptor for "TransitionTicket".
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService"),
                method: "TransitionTicket",
                type: .unary
            )
        }
        /// Namespace for "AssignTicket" metadata.
        public enum AssignTicket: Sendable {
            /// Request type for "AssignTicket".
            public typealias Input = Support_Tickets_V1_AssignTicketRequest
            /// Response type for "AssignTicket".
            public typealias Output = Support_Tickets_V1_Ticket
            /// Descriptor for "AssignTicket".
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService"),
                method: "AssignTicket",
                type: .unary
            )
        }
        /// Namespace for "SetPriority" metadata.
        public enum SetPriority: Sendable {
            /// Request type for "SetPriority".
            public typealias Input = Support_Tickets_V1_SetPriorityRequest
            /// Response type for "SetPriority".
            public typealias Output = Support_Tickets_V1_Ticket
            /// Descriptor for "SetPriority".
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService"),
                method: "SetPriority",
                type: .unary
            )
        }
        /// Namespace for "AddComment" metadata.
        public enum AddComment: Sendable {
            /// Request type for "AddComment".
            public typealias Input = Support_Tickets_V1_AddCommentRequest
            /// Response type for "AddComment".
            public typealias Output = Support_Tickets_V1_Comment
            /// Descriptor for "AddComment".
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService"),
                method: "AddComment",
                type: .unary
            )
        }
        /// Namespace for "ListComments" metadata.
        public enum ListComments: Sendable {
            /// Request type for "ListComments".
            public typealias Input = Support_Tickets_V1_ListCommentsRequest
            /// Response type for "ListComments".
            public typealias Output = Support_Tickets_V1_ListCommentsResponse
            /// Descriptor for "ListComments".
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService"),
                method: "ListComments",
                type: .unary
            )
        }
        /// Namespace for "ListTicketHistory" metadata.
        public enum ListTicketHistory: Sendable {
            /// Request type for "ListTicketHistory".
            public typealias Input = Support_Tickets_V1_ListTicketHistoryRequest
            /// Response type for "ListTicketHistory".
            public typealias Output = Support_Tickets_V1_ListTicketHistoryResponse
            /// Descriptor for "ListTicketHistory".
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService"),
                method: "ListTicketHistory",
                type: .unary
            )
        }
        /// Namespace for "CheckEligibility" metadata.
        public enum CheckEligibility: Sendable {
            /// Request type for "CheckEligibility".
            public typealias Input = Support_Tickets_V1_CheckEligibilityRequest
            /// Response type for "CheckEligibility".
            public typealias Output = Support_Tickets_V1_CheckEligibilityResponse
            /// Descriptor for "CheckEligibility".
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService"),
                method: "CheckEligibility",
                type: .unary
            )
        }
        /// Descriptors for all methods in the "support.tickets.v1.TicketService" service.
        public static let descriptors: [GRPCCore.MethodDescriptor] = [
            CreateTicket.descriptor,
            GetTicket.descriptor,
            ListTickets.descriptor,
            TransitionTicket.descriptor,
            AssignTicket.descriptor,
            SetPriority.descriptor,
            AddComment.descriptor,
            ListComments.descriptor,
            ListTicketHistory.descriptor,
            CheckEligibility.descriptor
        ]
    }
}

@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension GRPCCore.ServiceDescriptor {
    /// Service descriptor for the "support.tickets.v1.TicketService" service.
    public static let support_tickets_v1_TicketService = GRPCCore.ServiceDescriptor(fullyQualifiedService: "support.tickets.v1.TicketService")
}

// MARK: support.tickets.v1.TicketService (server)

@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Support_Tickets_V1_TicketService {
    /// Streaming variant of the service protocol for the "support.tickets.v1.TicketService" service.
    ///
    /// This protocol is the lowest-level of the service protocols generated for this service
    /// giving you the most flexibility over the implementation of your service. This comes at
    /// the cost of more verbose and less strict APIs. Each RPC requires you to implement it in
    /// terms of a request stream and response stream. Where the RPC expects only a single
    /// request or response message, you are responsible for ensuring your implementation
    /// maintains this invariant.
    ///
    /// Where possible, prefer using the stricter, less-verbose ``ServiceProtocol``
    /// or ``SimpleServiceProtocol`` instead.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > The after-sales case service. Primary callers: the agent desk, the shopper apps (through the
    /// > gateway), chat (escalation), logistics, feedback and internal platform teams.
    /// > 
    /// > Identity: `actor` on mutating requests names who performs the action; absent, it is the
    /// > verified caller. A shopper, agent or supervisor may only name themselves, and a service
    /// > caller acting for a person names that person; a mismatch fails with PERMISSION_DENIED.
    /// > Shoppers may call CreateTicket, GetTicket, ListTickets, TransitionTicket (Cancel, Reopen),
    /// > AddComment, ListComments and CheckEligibility, each for their own cases only; every other
    /// > method is for agents, supervisors and services (PERMISSION_DENIED for a shopper).
    /// > 
    /// > Error details: besides the message (for people), errors carry a google.rpc.Status in the
    /// > `grpc-status-details-bin` trailer. INVALID_ARGUMENT carries google.rpc.BadRequest with a field
    /// > violation naming the field (e.g. "items[0].order_id"). FAILED_PRECONDITION carries
    /// > google.rpc.ErrorInfo with domain "support.tickets.v1" and a `reason` code listed with each
    /// > method, and google.rpc.PreconditionFailure with one violation per failed check (`type` the
    /// > code, `subject` what failed: where the method says so, else the resources ErrorInfo.metadata
    /// > names, as "key=value" pairs of its *_id entries, comma-separated, e.g.
    /// > "exception_id=…"; empty when it names none). Clients branch on these codes, never on the
    /// > message text.
    /// > 
    /// > Times a caller sends as facts (delivered_time, check_time) may be at most 5 minutes after
    /// > the server clock (clock skew); later is INVALID_ARGUMENT naming the field.
    public protocol StreamingServiceProtocol: GRPCCore.RegistrableRPCService {
        /// Handle the "CreateTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Files a new after-sales case in status SUBMITTED, version 1. The same eligibility rules as
        /// > CheckEligibility are applied to every item. A retry with the same request_id returns the
        /// > case it filed (as it is now: status and version may have moved on) without checking
        /// > eligibility again, so a retry after the window closed still returns it.
        /// > Errors: INVALID_ARGUMENT (field named in the message) when request_id is empty or longer
        /// > than 128 characters, type or category is UNSPECIFIED, shopper_id or title is empty, items
        /// > are missing for RETURN_AND_REFUND / REFUND_ONLY / EXCHANGE / REPAIR, an item has no
        /// > order_id, an evidence attachment has no uri, requested_refund is set for a type other than
        /// > RETURN_AND_REFUND / REFUND_ONLY or its currency differs from the items' unit prices, or
        /// > delivered_time is in the future (more than 5 minutes after the server clock), or
        /// > description is longer than 5000 characters; FAILED_PRECONDITION with ErrorInfo reason
        /// > NOT_ELIGIBLE when an item is not eligible and no eligibility_override_reason is given:
        /// > ErrorInfo.metadata["reasons"] lists the distinct IneligibilityReason codes, comma-separated,
        /// > without the INELIGIBILITY_REASON_ prefix (e.g. "WINDOW_EXPIRED,GOODS_NOT_RESALEABLE"), and
        /// > PreconditionFailure has one violation per item and reason (`type` the code, e.g.
        /// > "OUTSIDE_WARRANTY", `subject` "items[i]");
        /// > PERMISSION_DENIED when a shopper caller sets eligibility_override_reason or files for
        /// > another shopper; ALREADY_EXISTS when request_id was already used with different content, or
        /// > the new case is a RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR case and another open
        /// > case of those types (not REJECTED, CANCELLED or CLOSED) covers the same order item, an item
        /// > naming the whole order (empty order_item_id) covering every item of it (ErrorInfo reason
        /// > OPEN_CASE_EXISTS, metadata ticket_id: that case, and order_id). A COMPLAINT or INQUIRY may
        /// > sit beside an open goods case.
        ///
        /// - Parameters:
        ///   - request: A streaming request of `Support_Tickets_V1_CreateTicketRequest` messages.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A streaming response of `Support_Tickets_V1_Ticket` messages.
        func createTicket(
            request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_CreateTicketRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Ticket>

        /// Handle the "GetTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Returns one case.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty; NOT_FOUND when no such case exists (or a
        /// > shopper caller asks for another shopper's case).
        ///
        /// - Parameters:
        ///   - request: A streaming request of `Support_Tickets_V1_GetTicketRequest` messages.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A streaming response of `Support_Tickets_V1_Ticket` messages.
        func getTicket(
            request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_GetTicketRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Ticket>

        /// Handle the "ListTickets" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists cases matching all given filters, newest create_time first (ticket_id breaks ties).
        /// > A shopper caller lists only their own cases: shopper_id defaults to the caller.
        /// > Errors: INVALID_ARGUMENT when page_size is negative or above 500, page_token is malformed
        /// > or was issued for different filters; PERMISSION_DENIED when a shopper caller names another
        /// > shopper_id.
        ///
        /// - Parameters:
        ///   - request: A streaming request of `Support_Tickets_V1_ListTicketsRequest` messages.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A streaming response of `Support_Tickets_V1_ListTicketsResponse` messages.
        func listTickets(
            request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_ListTicketsRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_ListTicketsResponse>

        /// Handle the "TransitionTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Moves a case through the state machine documented at the top of this file, with one typed
        /// > action. Records a history entry and increments version. Returns the updated case.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, no action is set, or the action's own
        /// > fields are invalid (a required reason is empty, a refund amount is negative, above the paid
        /// > price of the items plus shipping, or in another currency, the solution does not fit the
        /// > ticket type); NOT_FOUND when the case does not exist (or is another shopper's, for a
        /// > shopper caller); FAILED_PRECONDITION with ErrorInfo reason TRANSITION_NOT_ALLOWED when the
        /// > action is not allowed from the current status (the message and ErrorInfo.metadata "status"
        /// > and "action" name both; the status is checked before the action's own fields); ABORTED when
        /// > expected_version is non-zero and stale; PERMISSION_DENIED when the actor may not perform the
        /// > action (Cancel by anyone but the case's shopper or a service naming that shopper as actor,
        /// > outside AWAITING_RETURN; agent-only actions by a shopper); ALREADY_EXISTS when request_id was already used with different content.
        /// > Announces TicketApprovedEvent (APPROVED -> SOLUTION_AGREED), TicketResolvedEvent,
        /// > TicketReopenedEvent and TicketClosedEvent in the same transaction (tickets_events.proto),
        /// > and TicketFirstRespondedEvent when a StartReview is the case's first response.
        ///
        /// - Parameters:
        ///   - request: A streaming request of `Support_Tickets_V1_TransitionTicketRequest` messages.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A streaming response of `Support_Tickets_V1_Ticket` messages.
        func transitionTicket(
            request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_TransitionTicketRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Ticket>

        /// Handle the "AssignTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Assigns the case to an agent and/or skill group; an empty agent id returns it to the skill
        /// > group's queue. Allowed in every status except REJECTED, CANCELLED and CLOSED.
        /// > Agents and skill groups belong to the chat service: their ids are recorded as given, not
        /// > checked here. Assigning what is already assigned changes nothing (no new version); a
        /// > change announces TicketAssignedEvent in its transaction.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty or both agent_id and skill_group_id are
        /// > empty; NOT_FOUND when the case does not exist; FAILED_PRECONDITION (ErrorInfo reason
        /// > CASE_FINISHED) when the case is REJECTED, CANCELLED or CLOSED; ABORTED when
        /// > expected_version is stale; PERMISSION_DENIED when the actor is not an agent, supervisor or
        /// > service.
        ///
        /// - Parameters:
        ///   - request: A streaming request of `Support_Tickets_V1_AssignTicketRequest` messages.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A streaming response of `Support_Tickets_V1_Ticket` messages.
        func assignTicket(
            request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_AssignTicketRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Ticket>

        /// Handle the "SetPriority" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Changes the priority (优先级). Allowed in every status except REJECTED, CANCELLED, CLOSED.
        /// > Setting the current priority changes nothing (no new version).
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty or priority is UNSPECIFIED; NOT_FOUND when
        /// > the case does not exist; FAILED_PRECONDITION (ErrorInfo reason CASE_FINISHED) when the case
        /// > is REJECTED, CANCELLED or CLOSED; ABORTED when expected_version is stale; PERMISSION_DENIED
        /// > when the actor is a shopper.
        ///
        /// - Parameters:
        ///   - request: A streaming request of `Support_Tickets_V1_SetPriorityRequest` messages.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A streaming response of `Support_Tickets_V1_Ticket` messages.
        func setPriority(
            request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_SetPriorityRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Ticket>

        /// Handle the "AddComment" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Adds a public reply (seen by the shopper) or an internal note (agents only) to a case.
        /// > Comments are allowed in every status, including terminal ones.
        /// > Errors: INVALID_ARGUMENT when request_id or ticket_id is empty, request_id is longer than
        /// > 128 characters, visibility is UNSPECIFIED, the body is empty without attachments or longer
        /// > than 10000 characters, or awaiting_shopper or proposes_solution is set on an INTERNAL_NOTE
        /// > or by a shopper; NOT_FOUND when the case does not exist; PERMISSION_DENIED when a shopper
        /// > writes an INTERNAL_NOTE or comments on another shopper's case; ABORTED when expected_version is non-zero and stale;
        /// > ALREADY_EXISTS when request_id was already used with different content.
        ///
        /// - Parameters:
        ///   - request: A streaming request of `Support_Tickets_V1_AddCommentRequest` messages.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A streaming response of `Support_Tickets_V1_Comment` messages.
        func addComment(
            request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_AddCommentRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Comment>

        /// Handle the "ListComments" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists a case's comments, oldest first. Shopper callers only ever receive PUBLIC_REPLY.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
        /// > is malformed; NOT_FOUND when the case does not exist (or belongs to another shopper);
        /// > PERMISSION_DENIED when a shopper caller asks for INTERNAL_NOTE.
        ///
        /// - Parameters:
        ///   - request: A streaming request of `Support_Tickets_V1_ListCommentsRequest` messages.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A streaming response of `Support_Tickets_V1_ListCommentsResponse` messages.
        func listComments(
            request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_ListCommentsRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_ListCommentsResponse>

        /// Handle the "ListTicketHistory" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists the full history of a case, oldest first: who did what, when and why.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
        /// > is malformed; NOT_FOUND when the case does not exist; PERMISSION_DENIED when the caller is
        /// > a shopper (shoppers see the status and public replies only).
        ///
        /// - Parameters:
        ///   - request: A streaming request of `Support_Tickets_V1_ListTicketHistoryRequest` messages.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A streaming response of `Support_Tickets_V1_ListTicketHistoryResponse` messages.
        func listTicketHistory(
            request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_ListTicketHistoryRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_ListTicketHistoryResponse>

        /// Handle the "CheckEligibility" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Answers whether an after-sales request would be accepted for one order item, which policy
        /// > window applies, until when, and who pays return shipping. Changes nothing; an ineligible
        /// > request is a normal answer (eligible = false with reasons), not an error.
        /// > Errors: INVALID_ARGUMENT (field named) when type or category is UNSPECIFIED, item.order_id
        /// > is empty for RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR, delivered_time or
        /// > check_time is in the future (more than 5 minutes after the server clock), or delivered_time
        /// > is later than check_time (by more than the same 5 minutes of clock skew).
        ///
        /// - Parameters:
        ///   - request: A streaming request of `Support_Tickets_V1_CheckEligibilityRequest` messages.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A streaming response of `Support_Tickets_V1_CheckEligibilityResponse` messages.
        func checkEligibility(
            request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_CheckEligibilityRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_CheckEligibilityResponse>
    }

    /// Service protocol for the "support.tickets.v1.TicketService" service.
    ///
    /// This protocol is higher level than ``StreamingServiceProtocol`` but lower level than
    /// the ``SimpleServiceProtocol``, it provides access to request and response metadata and
    /// trailing response metadata. If you don't need these then consider using
    /// the ``SimpleServiceProtocol``. If you need fine grained control over your RPCs then
    /// use ``StreamingServiceProtocol``.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > The after-sales case service. Primary callers: the agent desk, the shopper apps (through the
    /// > gateway), chat (escalation), logistics, feedback and internal platform teams.
    /// > 
    /// > Identity: `actor` on mutating requests names who performs the action; absent, it is the
    /// > verified caller. A shopper, agent or supervisor may only name themselves, and a service
    /// > caller acting for a person names that person; a mismatch fails with PERMISSION_DENIED.
    /// > Shoppers may call CreateTicket, GetTicket, ListTickets, TransitionTicket (Cancel, Reopen),
    /// > AddComment, ListComments and CheckEligibility, each for their own cases only; every other
    /// > method is for agents, supervisors and services (PERMISSION_DENIED for a shopper).
    /// > 
    /// > Error details: besides the message (for people), errors carry a google.rpc.Status in the
    /// > `grpc-status-details-bin` trailer. INVALID_ARGUMENT carries google.rpc.BadRequest with a field
    /// > violation naming the field (e.g. "items[0].order_id"). FAILED_PRECONDITION carries
    /// > google.rpc.ErrorInfo with domain "support.tickets.v1" and a `reason` code listed with each
    /// > method, and google.rpc.PreconditionFailure with one violation per failed check (`type` the
    /// > code, `subject` what failed: where the method says so, else the resources ErrorInfo.metadata
    /// > names, as "key=value" pairs of its *_id entries, comma-separated, e.g.
    /// > "exception_id=…"; empty when it names none). Clients branch on these codes, never on the
    /// > message text.
    /// > 
    /// > Times a caller sends as facts (delivered_time, check_time) may be at most 5 minutes after
    /// > the server clock (clock skew); later is INVALID_ARGUMENT naming the field.
    public protocol ServiceProtocol: Support_Tickets_V1_TicketService.StreamingServiceProtocol {
        /// Handle the "CreateTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Files a new after-sales case in status SUBMITTED, version 1. The same eligibility rules as
        /// > CheckEligibility are applied to every item. A retry with the same request_id returns the
        /// > case it filed (as it is now: status and version may have moved on) without checking
        /// > eligibility again, so a retry after the window closed still returns it.
        /// > Errors: INVALID_ARGUMENT (field named in the message) when request_id is empty or longer
        /// > than 128 characters, type or category is UNSPECIFIED, shopper_id or title is empty, items
        /// > are missing for RETURN_AND_REFUND / REFUND_ONLY / EXCHANGE / REPAIR, an item has no
        /// > order_id, an evidence attachment has no uri, requested_refund is set for a type other than
        /// > RETURN_AND_REFUND / REFUND_ONLY or its currency differs from the items' unit prices, or
        /// > delivered_time is in the future (more than 5 minutes after the server clock), or
        /// > description is longer than 5000 characters; FAILED_PRECONDITION with ErrorInfo reason
        /// > NOT_ELIGIBLE when an item is not eligible and no eligibility_override_reason is given:
        /// > ErrorInfo.metadata["reasons"] lists the distinct IneligibilityReason codes, comma-separated,
        /// > without the INELIGIBILITY_REASON_ prefix (e.g. "WINDOW_EXPIRED,GOODS_NOT_RESALEABLE"), and
        /// > PreconditionFailure has one violation per item and reason (`type` the code, e.g.
        /// > "OUTSIDE_WARRANTY", `subject` "items[i]");
        /// > PERMISSION_DENIED when a shopper caller sets eligibility_override_reason or files for
        /// > another shopper; ALREADY_EXISTS when request_id was already used with different content, or
        /// > the new case is a RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR case and another open
        /// > case of those types (not REJECTED, CANCELLED or CLOSED) covers the same order item, an item
        /// > naming the whole order (empty order_item_id) covering every item of it (ErrorInfo reason
        /// > OPEN_CASE_EXISTS, metadata ticket_id: that case, and order_id). A COMPLAINT or INQUIRY may
        /// > sit beside an open goods case.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_CreateTicketRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A response containing a single `Support_Tickets_V1_Ticket` message.
        func createTicket(
            request: GRPCCore.ServerRequest<Support_Tickets_V1_CreateTicketRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Ticket>

        /// Handle the "GetTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Returns one case.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty; NOT_FOUND when no such case exists (or a
        /// > shopper caller asks for another shopper's case).
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_GetTicketRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A response containing a single `Support_Tickets_V1_Ticket` message.
        func getTicket(
            request: GRPCCore.ServerRequest<Support_Tickets_V1_GetTicketRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Ticket>

        /// Handle the "ListTickets" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists cases matching all given filters, newest create_time first (ticket_id breaks ties).
        /// > A shopper caller lists only their own cases: shopper_id defaults to the caller.
        /// > Errors: INVALID_ARGUMENT when page_size is negative or above 500, page_token is malformed
        /// > or was issued for different filters; PERMISSION_DENIED when a shopper caller names another
        /// > shopper_id.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_ListTicketsRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A response containing a single `Support_Tickets_V1_ListTicketsResponse` message.
        func listTickets(
            request: GRPCCore.ServerRequest<Support_Tickets_V1_ListTicketsRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_ListTicketsResponse>

        /// Handle the "TransitionTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Moves a case through the state machine documented at the top of this file, with one typed
        /// > action. Records a history entry and increments version. Returns the updated case.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, no action is set, or the action's own
        /// > fields are invalid (a required reason is empty, a refund amount is negative, above the paid
        /// > price of the items plus shipping, or in another currency, the solution does not fit the
        /// > ticket type); NOT_FOUND when the case does not exist (or is another shopper's, for a
        /// > shopper caller); FAILED_PRECONDITION with ErrorInfo reason TRANSITION_NOT_ALLOWED when the
        /// > action is not allowed from the current status (the message and ErrorInfo.metadata "status"
        /// > and "action" name both; the status is checked before the action's own fields); ABORTED when
        /// > expected_version is non-zero and stale; PERMISSION_DENIED when the actor may not perform the
        /// > action (Cancel by anyone but the case's shopper or a service naming that shopper as actor,
        /// > outside AWAITING_RETURN; agent-only actions by a shopper); ALREADY_EXISTS when request_id was already used with different content.
        /// > Announces TicketApprovedEvent (APPROVED -> SOLUTION_AGREED), TicketResolvedEvent,
        /// > TicketReopenedEvent and TicketClosedEvent in the same transaction (tickets_events.proto),
        /// > and TicketFirstRespondedEvent when a StartReview is the case's first response.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_TransitionTicketRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A response containing a single `Support_Tickets_V1_Ticket` message.
        func transitionTicket(
            request: GRPCCore.ServerRequest<Support_Tickets_V1_TransitionTicketRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Ticket>

        /// Handle the "AssignTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Assigns the case to an agent and/or skill group; an empty agent id returns it to the skill
        /// > group's queue. Allowed in every status except REJECTED, CANCELLED and CLOSED.
        /// > Agents and skill groups belong to the chat service: their ids are recorded as given, not
        /// > checked here. Assigning what is already assigned changes nothing (no new version); a
        /// > change announces TicketAssignedEvent in its transaction.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty or both agent_id and skill_group_id are
        /// > empty; NOT_FOUND when the case does not exist; FAILED_PRECONDITION (ErrorInfo reason
        /// > CASE_FINISHED) when the case is REJECTED, CANCELLED or CLOSED; ABORTED when
        /// > expected_version is stale; PERMISSION_DENIED when the actor is not an agent, supervisor or
        /// > service.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_AssignTicketRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A response containing a single `Support_Tickets_V1_Ticket` message.
        func assignTicket(
            request: GRPCCore.ServerRequest<Support_Tickets_V1_AssignTicketRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Ticket>

        /// Handle the "SetPriority" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Changes the priority (优先级). Allowed in every status except REJECTED, CANCELLED, CLOSED.
        /// > Setting the current priority changes nothing (no new version).
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty or priority is UNSPECIFIED; NOT_FOUND when
        /// > the case does not exist; FAILED_PRECONDITION (ErrorInfo reason CASE_FINISHED) when the case
        /// > is REJECTED, CANCELLED or CLOSED; ABORTED when expected_version is stale; PERMISSION_DENIED
        /// > when the actor is a shopper.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_SetPriorityRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A response containing a single `Support_Tickets_V1_Ticket` message.
        func setPriority(
            request: GRPCCore.ServerRequest<Support_Tickets_V1_SetPriorityRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Ticket>

        /// Handle the "AddComment" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Adds a public reply (seen by the shopper) or an internal note (agents only) to a case.
        /// > Comments are allowed in every status, including terminal ones.
        /// > Errors: INVALID_ARGUMENT when request_id or ticket_id is empty, request_id is longer than
        /// > 128 characters, visibility is UNSPECIFIED, the body is empty without attachments or longer
        /// > than 10000 characters, or awaiting_shopper or proposes_solution is set on an INTERNAL_NOTE
        /// > or by a shopper; NOT_FOUND when the case does not exist; PERMISSION_DENIED when a shopper
        /// > writes an INTERNAL_NOTE or comments on another shopper's case; ABORTED when expected_version is non-zero and stale;
        /// > ALREADY_EXISTS when request_id was already used with different content.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_AddCommentRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A response containing a single `Support_Tickets_V1_Comment` message.
        func addComment(
            request: GRPCCore.ServerRequest<Support_Tickets_V1_AddCommentRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Comment>

        /// Handle the "ListComments" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists a case's comments, oldest first. Shopper callers only ever receive PUBLIC_REPLY.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
        /// > is malformed; NOT_FOUND when the case does not exist (or belongs to another shopper);
        /// > PERMISSION_DENIED when a shopper caller asks for INTERNAL_NOTE.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_ListCommentsRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A response containing a single `Support_Tickets_V1_ListCommentsResponse` message.
        func listComments(
            request: GRPCCore.ServerRequest<Support_Tickets_V1_ListCommentsRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_ListCommentsResponse>

        /// Handle the "ListTicketHistory" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists the full history of a case, oldest first: who did what, when and why.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
        /// > is malformed; NOT_FOUND when the case does not exist; PERMISSION_DENIED when the caller is
        /// > a shopper (shoppers see the status and public replies only).
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_ListTicketHistoryRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A response containing a single `Support_Tickets_V1_ListTicketHistoryResponse` message.
        func listTicketHistory(
            request: GRPCCore.ServerRequest<Support_Tickets_V1_ListTicketHistoryRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_ListTicketHistoryResponse>

        /// Handle the "CheckEligibility" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Answers whether an after-sales request would be accepted for one order item, which policy
        /// > window applies, until when, and who pays return shipping. Changes nothing; an ineligible
        /// > request is a normal answer (eligible = false with reasons), not an error.
        /// > Errors: INVALID_ARGUMENT (field named) when type or category is UNSPECIFIED, item.order_id
        /// > is empty for RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR, delivered_time or
        /// > check_time is in the future (more than 5 minutes after the server clock), or delivered_time
        /// > is later than check_time (by more than the same 5 minutes of clock skew).
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_CheckEligibilityRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A response containing a single `Support_Tickets_V1_CheckEligibilityResponse` message.
        func checkEligibility(
            request: GRPCCore.ServerRequest<Support_Tickets_V1_CheckEligibilityRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_CheckEligibilityResponse>
    }

    /// Simple service protocol for the "support.tickets.v1.TicketService" service.
    ///
    /// This is the highest level protocol for the service. The API is the easiest to use but
    /// doesn't provide access to request or response metadata. If you need access to these
    /// then use ``ServiceProtocol`` instead.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > The after-sales case service. Primary callers: the agent desk, the shopper apps (through the
    /// > gateway), chat (escalation), logistics, feedback and internal platform teams.
    /// > 
    /// > Identity: `actor` on mutating requests names who performs the action; absent, it is the
    /// > verified caller. A shopper, agent or supervisor may only name themselves, and a service
    /// > caller acting for a person names that person; a mismatch fails with PERMISSION_DENIED.
    /// > Shoppers may call CreateTicket, GetTicket, ListTickets, TransitionTicket (Cancel, Reopen),
    /// > AddComment, ListComments and CheckEligibility, each for their own cases only; every other
    /// > method is for agents, supervisors and services (PERMISSION_DENIED for a shopper).
    /// > 
    /// > Error details: besides the message (for people), errors carry a google.rpc.Status in the
    /// > `grpc-status-details-bin` trailer. INVALID_ARGUMENT carries google.rpc.BadRequest with a field
    /// > violation naming the field (e.g. "items[0].order_id"). FAILED_PRECONDITION carries
    /// > google.rpc.ErrorInfo with domain "support.tickets.v1" and a `reason` code listed with each
    /// > method, and google.rpc.PreconditionFailure with one violation per failed check (`type` the
    /// > code, `subject` what failed: where the method says so, else the resources ErrorInfo.metadata
    /// > names, as "key=value" pairs of its *_id entries, comma-separated, e.g.
    /// > "exception_id=…"; empty when it names none). Clients branch on these codes, never on the
    /// > message text.
    /// > 
    /// > Times a caller sends as facts (delivered_time, check_time) may be at most 5 minutes after
    /// > the server clock (clock skew); later is INVALID_ARGUMENT naming the field.
    public protocol SimpleServiceProtocol: Support_Tickets_V1_TicketService.ServiceProtocol {
        /// Handle the "CreateTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Files a new after-sales case in status SUBMITTED, version 1. The same eligibility rules as
        /// > CheckEligibility are applied to every item. A retry with the same request_id returns the
        /// > case it filed (as it is now: status and version may have moved on) without checking
        /// > eligibility again, so a retry after the window closed still returns it.
        /// > Errors: INVALID_ARGUMENT (field named in the message) when request_id is empty or longer
        /// > than 128 characters, type or category is UNSPECIFIED, shopper_id or title is empty, items
        /// > are missing for RETURN_AND_REFUND / REFUND_ONLY / EXCHANGE / REPAIR, an item has no
        /// > order_id, an evidence attachment has no uri, requested_refund is set for a type other than
        /// > RETURN_AND_REFUND / REFUND_ONLY or its currency differs from the items' unit prices, or
        /// > delivered_time is in the future (more than 5 minutes after the server clock), or
        /// > description is longer than 5000 characters; FAILED_PRECONDITION with ErrorInfo reason
        /// > NOT_ELIGIBLE when an item is not eligible and no eligibility_override_reason is given:
        /// > ErrorInfo.metadata["reasons"] lists the distinct IneligibilityReason codes, comma-separated,
        /// > without the INELIGIBILITY_REASON_ prefix (e.g. "WINDOW_EXPIRED,GOODS_NOT_RESALEABLE"), and
        /// > PreconditionFailure has one violation per item and reason (`type` the code, e.g.
        /// > "OUTSIDE_WARRANTY", `subject` "items[i]");
        /// > PERMISSION_DENIED when a shopper caller sets eligibility_override_reason or files for
        /// > another shopper; ALREADY_EXISTS when request_id was already used with different content, or
        /// > the new case is a RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR case and another open
        /// > case of those types (not REJECTED, CANCELLED or CLOSED) covers the same order item, an item
        /// > naming the whole order (empty order_item_id) covering every item of it (ErrorInfo reason
        /// > OPEN_CASE_EXISTS, metadata ticket_id: that case, and order_id). A COMPLAINT or INQUIRY may
        /// > sit beside an open goods case.
        ///
        /// - Parameters:
        ///   - request: A `Support_Tickets_V1_CreateTicketRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A `Support_Tickets_V1_Ticket` to respond with.
        func createTicket(
            request: Support_Tickets_V1_CreateTicketRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Support_Tickets_V1_Ticket

        /// Handle the "GetTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Returns one case.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty; NOT_FOUND when no such case exists (or a
        /// > shopper caller asks for another shopper's case).
        ///
        /// - Parameters:
        ///   - request: A `Support_Tickets_V1_GetTicketRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A `Support_Tickets_V1_Ticket` to respond with.
        func getTicket(
            request: Support_Tickets_V1_GetTicketRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Support_Tickets_V1_Ticket

        /// Handle the "ListTickets" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists cases matching all given filters, newest create_time first (ticket_id breaks ties).
        /// > A shopper caller lists only their own cases: shopper_id defaults to the caller.
        /// > Errors: INVALID_ARGUMENT when page_size is negative or above 500, page_token is malformed
        /// > or was issued for different filters; PERMISSION_DENIED when a shopper caller names another
        /// > shopper_id.
        ///
        /// - Parameters:
        ///   - request: A `Support_Tickets_V1_ListTicketsRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A `Support_Tickets_V1_ListTicketsResponse` to respond with.
        func listTickets(
            request: Support_Tickets_V1_ListTicketsRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Support_Tickets_V1_ListTicketsResponse

        /// Handle the "TransitionTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Moves a case through the state machine documented at the top of this file, with one typed
        /// > action. Records a history entry and increments version. Returns the updated case.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, no action is set, or the action's own
        /// > fields are invalid (a required reason is empty, a refund amount is negative, above the paid
        /// > price of the items plus shipping, or in another currency, the solution does not fit the
        /// > ticket type); NOT_FOUND when the case does not exist (or is another shopper's, for a
        /// > shopper caller); FAILED_PRECONDITION with ErrorInfo reason TRANSITION_NOT_ALLOWED when the
        /// > action is not allowed from the current status (the message and ErrorInfo.metadata "status"
        /// > and "action" name both; the status is checked before the action's own fields); ABORTED when
        /// > expected_version is non-zero and stale; PERMISSION_DENIED when the actor may not perform the
        /// > action (Cancel by anyone but the case's shopper or a service naming that shopper as actor,
        /// > outside AWAITING_RETURN; agent-only actions by a shopper); ALREADY_EXISTS when request_id was already used with different content.
        /// > Announces TicketApprovedEvent (APPROVED -> SOLUTION_AGREED), TicketResolvedEvent,
        /// > TicketReopenedEvent and TicketClosedEvent in the same transaction (tickets_events.proto),
        /// > and TicketFirstRespondedEvent when a StartReview is the case's first response.
        ///
        /// - Parameters:
        ///   - request: A `Support_Tickets_V1_TransitionTicketRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A `Support_Tickets_V1_Ticket` to respond with.
        func transitionTicket(
            request: Support_Tickets_V1_TransitionTicketRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Support_Tickets_V1_Ticket

        /// Handle the "AssignTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Assigns the case to an agent and/or skill group; an empty agent id returns it to the skill
        /// > group's queue. Allowed in every status except REJECTED, CANCELLED and CLOSED.
        /// > Agents and skill groups belong to the chat service: their ids are recorded as given, not
        /// > checked here. Assigning what is already assigned changes nothing (no new version); a
        /// > change announces TicketAssignedEvent in its transaction.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty or both agent_id and skill_group_id are
        /// > empty; NOT_FOUND when the case does not exist; FAILED_PRECONDITION (ErrorInfo reason
        /// > CASE_FINISHED) when the case is REJECTED, CANCELLED or CLOSED; ABORTED when
        /// > expected_version is stale; PERMISSION_DENIED when the actor is not an agent, supervisor or
        /// > service.
        ///
        /// - Parameters:
        ///   - request: A `Support_Tickets_V1_AssignTicketRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A `Support_Tickets_V1_Ticket` to respond with.
        func assignTicket(
            request: Support_Tickets_V1_AssignTicketRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Support_Tickets_V1_Ticket

        /// Handle the "SetPriority" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Changes the priority (优先级). Allowed in every status except REJECTED, CANCELLED, CLOSED.
        /// > Setting the current priority changes nothing (no new version).
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty or priority is UNSPECIFIED; NOT_FOUND when
        /// > the case does not exist; FAILED_PRECONDITION (ErrorInfo reason CASE_FINISHED) when the case
        /// > is REJECTED, CANCELLED or CLOSED; ABORTED when expected_version is stale; PERMISSION_DENIED
        /// > when the actor is a shopper.
        ///
        /// - Parameters:
        ///   - request: A `Support_Tickets_V1_SetPriorityRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A `Support_Tickets_V1_Ticket` to respond with.
        func setPriority(
            request: Support_Tickets_V1_SetPriorityRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Support_Tickets_V1_Ticket

        /// Handle the "AddComment" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Adds a public reply (seen by the shopper) or an internal note (agents only) to a case.
        /// > Comments are allowed in every status, including terminal ones.
        /// > Errors: INVALID_ARGUMENT when request_id or ticket_id is empty, request_id is longer than
        /// > 128 characters, visibility is UNSPECIFIED, the body is empty without attachments or longer
        /// > than 10000 characters, or awaiting_shopper or proposes_solution is set on an INTERNAL_NOTE
        /// > or by a shopper; NOT_FOUND when the case does not exist; PERMISSION_DENIED when a shopper
        /// > writes an INTERNAL_NOTE or comments on another shopper's case; ABORTED when expected_version is non-zero and stale;
        /// > ALREADY_EXISTS when request_id was already used with different content.
        ///
        /// - Parameters:
        ///   - request: A `Support_Tickets_V1_AddCommentRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A `Support_Tickets_V1_Comment` to respond with.
        func addComment(
            request: Support_Tickets_V1_AddCommentRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Support_Tickets_V1_Comment

        /// Handle the "ListComments" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists a case's comments, oldest first. Shopper callers only ever receive PUBLIC_REPLY.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
        /// > is malformed; NOT_FOUND when the case does not exist (or belongs to another shopper);
        /// > PERMISSION_DENIED when a shopper caller asks for INTERNAL_NOTE.
        ///
        /// - Parameters:
        ///   - request: A `Support_Tickets_V1_ListCommentsRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A `Support_Tickets_V1_ListCommentsResponse` to respond with.
        func listComments(
            request: Support_Tickets_V1_ListCommentsRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Support_Tickets_V1_ListCommentsResponse

        /// Handle the "ListTicketHistory" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists the full history of a case, oldest first: who did what, when and why.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
        /// > is malformed; NOT_FOUND when the case does not exist; PERMISSION_DENIED when the caller is
        /// > a shopper (shoppers see the status and public replies only).
        ///
        /// - Parameters:
        ///   - request: A `Support_Tickets_V1_ListTicketHistoryRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A `Support_Tickets_V1_ListTicketHistoryResponse` to respond with.
        func listTicketHistory(
            request: Support_Tickets_V1_ListTicketHistoryRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Support_Tickets_V1_ListTicketHistoryResponse

        /// Handle the "CheckEligibility" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Answers whether an after-sales request would be accepted for one order item, which policy
        /// > window applies, until when, and who pays return shipping. Changes nothing; an ineligible
        /// > request is a normal answer (eligible = false with reasons), not an error.
        /// > Errors: INVALID_ARGUMENT (field named) when type or category is UNSPECIFIED, item.order_id
        /// > is empty for RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR, delivered_time or
        /// > check_time is in the future (more than 5 minutes after the server clock), or delivered_time
        /// > is later than check_time (by more than the same 5 minutes of clock skew).
        ///
        /// - Parameters:
        ///   - request: A `Support_Tickets_V1_CheckEligibilityRequest` message.
        ///   - context: Context providing information about the RPC.
        /// - Throws: Any error which occurred during the processing of the request. Thrown errors
        ///     of type `RPCError` are mapped to appropriate statuses. All other errors are converted
        ///     to an internal error.
        /// - Returns: A `Support_Tickets_V1_CheckEligibilityResponse` to respond with.
        func checkEligibility(
            request: Support_Tickets_V1_CheckEligibilityRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Support_Tickets_V1_CheckEligibilityResponse
    }
}

// Default implementation of 'registerMethods(with:)'.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Support_Tickets_V1_TicketService.StreamingServiceProtocol {
    public func registerMethods<Transport>(with router: inout GRPCCore.RPCRouter<Transport>) where Transport: GRPCCore.ServerTransport {
        router.registerHandler(
            forMethod: Support_Tickets_V1_TicketService.Method.CreateTicket.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_CreateTicketRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_Ticket>(),
            handler: { request, context in
                try await self.createTicket(
                    request: request,
                    context: context
                )
            }
        )
        router.registerHandler(
            forMethod: Support_Tickets_V1_TicketService.Method.GetTicket.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_GetTicketRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_Ticket>(),
            handler: { request, context in
                try await self.getTicket(
                    request: request,
                    context: context
                )
            }
        )
        router.registerHandler(
            forMethod: Support_Tickets_V1_TicketService.Method.ListTickets.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_ListTicketsRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_ListTicketsResponse>(),
            handler: { request, context in
                try await self.listTickets(
                    request: request,
                    context: context
                )
            }
        )
        router.registerHandler(
            forMethod: Support_Tickets_V1_TicketService.Method.TransitionTicket.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_TransitionTicketRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_Ticket>(),
            handler: { request, context in
                try await self.transitionTicket(
                    request: request,
                    context: context
                )
            }
        )
        router.registerHandler(
            forMethod: Support_Tickets_V1_TicketService.Method.AssignTicket.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_AssignTicketRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_Ticket>(),
            handler: { request, context in
                try await self.assignTicket(
                    request: request,
                    context: context
                )
            }
        )
        router.registerHandler(
            forMethod: Support_Tickets_V1_TicketService.Method.SetPriority.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_SetPriorityRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_Ticket>(),
            handler: { request, context in
                try await self.setPriority(
                    request: request,
                    context: context
                )
            }
        )
        router.registerHandler(
            forMethod: Support_Tickets_V1_TicketService.Method.AddComment.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_AddCommentRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_Comment>(),
            handler: { request, context in
                try await self.addComment(
                    request: request,
                    context: context
                )
            }
        )
        router.registerHandler(
            forMethod: Support_Tickets_V1_TicketService.Method.ListComments.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_ListCommentsRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_ListCommentsResponse>(),
            handler: { request, context in
                try await self.listComments(
                    request: request,
                    context: context
                )
            }
        )
        router.registerHandler(
            forMethod: Support_Tickets_V1_TicketService.Method.ListTicketHistory.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_ListTicketHistoryRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_ListTicketHistoryResponse>(),
            handler: { request, context in
                try await self.listTicketHistory(
                    request: request,
                    context: context
                )
            }
        )
        router.registerHandler(
            forMethod: Support_Tickets_V1_TicketService.Method.CheckEligibility.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_CheckEligibilityRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_CheckEligibilityResponse>(),
            handler: { request, context in
                try await self.checkEligibility(
                    request: request,
                    context: context
                )
            }
        )
    }
}

// Default implementation of streaming methods from 'StreamingServiceProtocol'.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Support_Tickets_V1_TicketService.ServiceProtocol {
    public func createTicket(
        request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_CreateTicketRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Ticket> {
        let response = try await self.createTicket(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }

    public func getTicket(
        request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_GetTicketRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Ticket> {
        let response = try await self.getTicket(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }

    public func listTickets(
        request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_ListTicketsRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_ListTicketsResponse> {
        let response = try await self.listTickets(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }

    public func transitionTicket(
        request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_TransitionTicketRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Ticket> {
        let response = try await self.transitionTicket(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }

    public func assignTicket(
        request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_AssignTicketRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Ticket> {
        let response = try await self.assignTicket(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }

    public func setPriority(
        request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_SetPriorityRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Ticket> {
        let response = try await self.setPriority(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }

    public func addComment(
        request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_AddCommentRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_Comment> {
        let response = try await self.addComment(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }

    public func listComments(
        request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_ListCommentsRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_ListCommentsResponse> {
        let response = try await self.listComments(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }

    public func listTicketHistory(
        request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_ListTicketHistoryRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_ListTicketHistoryResponse> {
        let response = try await self.listTicketHistory(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }

    public func checkEligibility(
        request: GRPCCore.StreamingServerRequest<Support_Tickets_V1_CheckEligibilityRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Support_Tickets_V1_CheckEligibilityResponse> {
        let response = try await self.checkEligibility(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }
}

// Default implementation of methods from 'ServiceProtocol'.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Support_Tickets_V1_TicketService.SimpleServiceProtocol {
    public func createTicket(
        request: GRPCCore.ServerRequest<Support_Tickets_V1_CreateTicketRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Ticket> {
        return GRPCCore.ServerResponse<Support_Tickets_V1_Ticket>(
            message: try await self.createTicket(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }

    public func getTicket(
        request: GRPCCore.ServerRequest<Support_Tickets_V1_GetTicketRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Ticket> {
        return GRPCCore.ServerResponse<Support_Tickets_V1_Ticket>(
            message: try await self.getTicket(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }

    public func listTickets(
        request: GRPCCore.ServerRequest<Support_Tickets_V1_ListTicketsRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_ListTicketsResponse> {
        return GRPCCore.ServerResponse<Support_Tickets_V1_ListTicketsResponse>(
            message: try await self.listTickets(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }

    public func transitionTicket(
        request: GRPCCore.ServerRequest<Support_Tickets_V1_TransitionTicketRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Ticket> {
        return GRPCCore.ServerResponse<Support_Tickets_V1_Ticket>(
            message: try await self.transitionTicket(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }

    public func assignTicket(
        request: GRPCCore.ServerRequest<Support_Tickets_V1_AssignTicketRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Ticket> {
        return GRPCCore.ServerResponse<Support_Tickets_V1_Ticket>(
            message: try await self.assignTicket(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }

    public func setPriority(
        request: GRPCCore.ServerRequest<Support_Tickets_V1_SetPriorityRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Ticket> {
        return GRPCCore.ServerResponse<Support_Tickets_V1_Ticket>(
            message: try await self.setPriority(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }

    public func addComment(
        request: GRPCCore.ServerRequest<Support_Tickets_V1_AddCommentRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_Comment> {
        return GRPCCore.ServerResponse<Support_Tickets_V1_Comment>(
            message: try await self.addComment(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }

    public func listComments(
        request: GRPCCore.ServerRequest<Support_Tickets_V1_ListCommentsRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_ListCommentsResponse> {
        return GRPCCore.ServerResponse<Support_Tickets_V1_ListCommentsResponse>(
            message: try await self.listComments(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }

    public func listTicketHistory(
        request: GRPCCore.ServerRequest<Support_Tickets_V1_ListTicketHistoryRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_ListTicketHistoryResponse> {
        return GRPCCore.ServerResponse<Support_Tickets_V1_ListTicketHistoryResponse>(
            message: try await self.listTicketHistory(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }

    public func checkEligibility(
        request: GRPCCore.ServerRequest<Support_Tickets_V1_CheckEligibilityRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Support_Tickets_V1_CheckEligibilityResponse> {
        return GRPCCore.ServerResponse<Support_Tickets_V1_CheckEligibilityResponse>(
            message: try await self.checkEligibility(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }
}

// MARK: support.tickets.v1.TicketService (client)

@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Support_Tickets_V1_TicketService {
    /// Generated client protocol for the "support.tickets.v1.TicketService" service.
    ///
    /// You don't need to implement this protocol directly, use the generated
    /// implementation, ``Client``.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > The after-sales case service. Primary callers: the agent desk, the shopper apps (through the
    /// > gateway), chat (escalation), logistics, feedback and internal platform teams.
    /// > 
    /// > Identity: `actor` on mutating requests names who performs the action; absent, it is the
    /// > verified caller. A shopper, agent or supervisor may only name themselves, and a service
    /// > caller acting for a person names that person; a mismatch fails with PERMISSION_DENIED.
    /// > Shoppers may call CreateTicket, GetTicket, ListTickets, TransitionTicket (Cancel, Reopen),
    /// > AddComment, ListComments and CheckEligibility, each for their own cases only; every other
    /// > method is for agents, supervisors and services (PERMISSION_DENIED for a shopper).
    /// > 
    /// > Error details: besides the message (for people), errors carry a google.rpc.Status in the
    /// > `grpc-status-details-bin` trailer. INVALID_ARGUMENT carries google.rpc.BadRequest with a field
    /// > violation naming the field (e.g. "items[0].order_id"). FAILED_PRECONDITION carries
    /// > google.rpc.ErrorInfo with domain "support.tickets.v1" and a `reason` code listed with each
    /// > method, and google.rpc.PreconditionFailure with one violation per failed check (`type` the
    /// > code, `subject` what failed: where the method says so, else the resources ErrorInfo.metadata
    /// > names, as "key=value" pairs of its *_id entries, comma-separated, e.g.
    /// > "exception_id=…"; empty when it names none). Clients branch on these codes, never on the
    /// > message text.
    /// > 
    /// > Times a caller sends as facts (delivered_time, check_time) may be at most 5 minutes after
    /// > the server clock (clock skew); later is INVALID_ARGUMENT naming the field.
    public protocol ClientProtocol: Sendable {
        /// Call the "CreateTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Files a new after-sales case in status SUBMITTED, version 1. The same eligibility rules as
        /// > CheckEligibility are applied to every item. A retry with the same request_id returns the
        /// > case it filed (as it is now: status and version may have moved on) without checking
        /// > eligibility again, so a retry after the window closed still returns it.
        /// > Errors: INVALID_ARGUMENT (field named in the message) when request_id is empty or longer
        /// > than 128 characters, type or category is UNSPECIFIED, shopper_id or title is empty, items
        /// > are missing for RETURN_AND_REFUND / REFUND_ONLY / EXCHANGE / REPAIR, an item has no
        /// > order_id, an evidence attachment has no uri, requested_refund is set for a type other than
        /// > RETURN_AND_REFUND / REFUND_ONLY or its currency differs from the items' unit prices, or
        /// > delivered_time is in the future (more than 5 minutes after the server clock), or
        /// > description is longer than 5000 characters; FAILED_PRECONDITION with ErrorInfo reason
        /// > NOT_ELIGIBLE when an item is not eligible and no eligibility_override_reason is given:
        /// > ErrorInfo.metadata["reasons"] lists the distinct IneligibilityReason codes, comma-separated,
        /// > without the INELIGIBILITY_REASON_ prefix (e.g. "WINDOW_EXPIRED,GOODS_NOT_RESALEABLE"), and
        /// > PreconditionFailure has one violation per item and reason (`type` the code, e.g.
        /// > "OUTSIDE_WARRANTY", `subject` "items[i]");
        /// > PERMISSION_DENIED when a shopper caller sets eligibility_override_reason or files for
        /// > another shopper; ALREADY_EXISTS when request_id was already used with different content, or
        /// > the new case is a RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR case and another open
        /// > case of those types (not REJECTED, CANCELLED or CLOSED) covers the same order item, an item
        /// > naming the whole order (empty order_item_id) covering every item of it (ErrorInfo reason
        /// > OPEN_CASE_EXISTS, metadata ticket_id: that case, and order_id). A COMPLAINT or INQUIRY may
        /// > sit beside an open goods case.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_CreateTicketRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_CreateTicketRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Ticket` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        func createTicket<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_CreateTicketRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_CreateTicketRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Ticket>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result
        ) async throws -> Result where Result: Sendable

        /// Call the "GetTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Returns one case.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty; NOT_FOUND when no such case exists (or a
        /// > shopper caller asks for another shopper's case).
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_GetTicketRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_GetTicketRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Ticket` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        func getTicket<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_GetTicketRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_GetTicketRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Ticket>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result
        ) async throws -> Result where Result: Sendable

        /// Call the "ListTickets" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists cases matching all given filters, newest create_time first (ticket_id breaks ties).
        /// > A shopper caller lists only their own cases: shopper_id defaults to the caller.
        /// > Errors: INVALID_ARGUMENT when page_size is negative or above 500, page_token is malformed
        /// > or was issued for different filters; PERMISSION_DENIED when a shopper caller names another
        /// > shopper_id.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_ListTicketsRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_ListTicketsRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_ListTicketsResponse` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        func listTickets<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_ListTicketsRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_ListTicketsRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_ListTicketsResponse>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListTicketsResponse>) async throws -> Result
        ) async throws -> Result where Result: Sendable

        /// Call the "TransitionTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Moves a case through the state machine documented at the top of this file, with one typed
        /// > action. Records a history entry and increments version. Returns the updated case.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, no action is set, or the action's own
        /// > fields are invalid (a required reason is empty, a refund amount is negative, above the paid
        /// > price of the items plus shipping, or in another currency, the solution does not fit the
        /// > ticket type); NOT_FOUND when the case does not exist (or is another shopper's, for a
        /// > shopper caller); FAILED_PRECONDITION with ErrorInfo reason TRANSITION_NOT_ALLOWED when the
        /// > action is not allowed from the current status (the message and ErrorInfo.metadata "status"
        /// > and "action" name both; the status is checked before the action's own fields); ABORTED when
        /// > expected_version is non-zero and stale; PERMISSION_DENIED when the actor may not perform the
        /// > action (Cancel by anyone but the case's shopper or a service naming that shopper as actor,
        /// > outside AWAITING_RETURN; agent-only actions by a shopper); ALREADY_EXISTS when request_id was already used with different content.
        /// > Announces TicketApprovedEvent (APPROVED -> SOLUTION_AGREED), TicketResolvedEvent,
        /// > TicketReopenedEvent and TicketClosedEvent in the same transaction (tickets_events.proto),
        /// > and TicketFirstRespondedEvent when a StartReview is the case's first response.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_TransitionTicketRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_TransitionTicketRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Ticket` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        func transitionTicket<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_TransitionTicketRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_TransitionTicketRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Ticket>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result
        ) async throws -> Result where Result: Sendable

        /// Call the "AssignTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Assigns the case to an agent and/or skill group; an empty agent id returns it to the skill
        /// > group's queue. Allowed in every status except REJECTED, CANCELLED and CLOSED.
        /// > Agents and skill groups belong to the chat service: their ids are recorded as given, not
        /// > checked here. Assigning what is already assigned changes nothing (no new version); a
        /// > change announces TicketAssignedEvent in its transaction.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty or both agent_id and skill_group_id are
        /// > empty; NOT_FOUND when the case does not exist; FAILED_PRECONDITION (ErrorInfo reason
        /// > CASE_FINISHED) when the case is REJECTED, CANCELLED or CLOSED; ABORTED when
        /// > expected_version is stale; PERMISSION_DENIED when the actor is not an agent, supervisor or
        /// > service.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_AssignTicketRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_AssignTicketRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Ticket` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        func assignTicket<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_AssignTicketRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_AssignTicketRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Ticket>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result
        ) async throws -> Result where Result: Sendable

        /// Call the "SetPriority" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Changes the priority (优先级). Allowed in every status except REJECTED, CANCELLED, CLOSED.
        /// > Setting the current priority changes nothing (no new version).
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty or priority is UNSPECIFIED; NOT_FOUND when
        /// > the case does not exist; FAILED_PRECONDITION (ErrorInfo reason CASE_FINISHED) when the case
        /// > is REJECTED, CANCELLED or CLOSED; ABORTED when expected_version is stale; PERMISSION_DENIED
        /// > when the actor is a shopper.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_SetPriorityRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_SetPriorityRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Ticket` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        func setPriority<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_SetPriorityRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_SetPriorityRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Ticket>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result
        ) async throws -> Result where Result: Sendable

        /// Call the "AddComment" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Adds a public reply (seen by the shopper) or an internal note (agents only) to a case.
        /// > Comments are allowed in every status, including terminal ones.
        /// > Errors: INVALID_ARGUMENT when request_id or ticket_id is empty, request_id is longer than
        /// > 128 characters, visibility is UNSPECIFIED, the body is empty without attachments or longer
        /// > than 10000 characters, or awaiting_shopper or proposes_solution is set on an INTERNAL_NOTE
        /// > or by a shopper; NOT_FOUND when the case does not exist; PERMISSION_DENIED when a shopper
        /// > writes an INTERNAL_NOTE or comments on another shopper's case; ABORTED when expected_version is non-zero and stale;
        /// > ALREADY_EXISTS when request_id was already used with different content.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_AddCommentRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_AddCommentRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Comment` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        func addComment<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_AddCommentRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_AddCommentRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Comment>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Comment>) async throws -> Result
        ) async throws -> Result where Result: Sendable

        /// Call the "ListComments" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists a case's comments, oldest first. Shopper callers only ever receive PUBLIC_REPLY.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
        /// > is malformed; NOT_FOUND when the case does not exist (or belongs to another shopper);
        /// > PERMISSION_DENIED when a shopper caller asks for INTERNAL_NOTE.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_ListCommentsRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_ListCommentsRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_ListCommentsResponse` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        func listComments<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_ListCommentsRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_ListCommentsRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_ListCommentsResponse>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListCommentsResponse>) async throws -> Result
        ) async throws -> Result where Result: Sendable

        /// Call the "ListTicketHistory" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists the full history of a case, oldest first: who did what, when and why.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
        /// > is malformed; NOT_FOUND when the case does not exist; PERMISSION_DENIED when the caller is
        /// > a shopper (shoppers see the status and public replies only).
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_ListTicketHistoryRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_ListTicketHistoryRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_ListTicketHistoryResponse` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        func listTicketHistory<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_ListTicketHistoryRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_ListTicketHistoryRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_ListTicketHistoryResponse>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListTicketHistoryResponse>) async throws -> Result
        ) async throws -> Result where Result: Sendable

        /// Call the "CheckEligibility" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Answers whether an after-sales request would be accepted for one order item, which policy
        /// > window applies, until when, and who pays return shipping. Changes nothing; an ineligible
        /// > request is a normal answer (eligible = false with reasons), not an error.
        /// > Errors: INVALID_ARGUMENT (field named) when type or category is UNSPECIFIED, item.order_id
        /// > is empty for RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR, delivered_time or
        /// > check_time is in the future (more than 5 minutes after the server clock), or delivered_time
        /// > is later than check_time (by more than the same 5 minutes of clock skew).
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_CheckEligibilityRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_CheckEligibilityRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_CheckEligibilityResponse` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        func checkEligibility<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_CheckEligibilityRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_CheckEligibilityRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_CheckEligibilityResponse>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_CheckEligibilityResponse>) async throws -> Result
        ) async throws -> Result where Result: Sendable
    }

    /// Generated client for the "support.tickets.v1.TicketService" service.
    ///
    /// The ``Client`` provides an implementation of ``ClientProtocol`` which wraps
    /// a `GRPCCore.GRPCCClient`. The underlying `GRPCClient` provides the long-lived
    /// means of communication with the remote peer.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > The after-sales case service. Primary callers: the agent desk, the shopper apps (through the
    /// > gateway), chat (escalation), logistics, feedback and internal platform teams.
    /// > 
    /// > Identity: `actor` on mutating requests names who performs the action; absent, it is the
    /// > verified caller. A shopper, agent or supervisor may only name themselves, and a service
    /// > caller acting for a person names that person; a mismatch fails with PERMISSION_DENIED.
    /// > Shoppers may call CreateTicket, GetTicket, ListTickets, TransitionTicket (Cancel, Reopen),
    /// > AddComment, ListComments and CheckEligibility, each for their own cases only; every other
    /// > method is for agents, supervisors and services (PERMISSION_DENIED for a shopper).
    /// > 
    /// > Error details: besides the message (for people), errors carry a google.rpc.Status in the
    /// > `grpc-status-details-bin` trailer. INVALID_ARGUMENT carries google.rpc.BadRequest with a field
    /// > violation naming the field (e.g. "items[0].order_id"). FAILED_PRECONDITION carries
    /// > google.rpc.ErrorInfo with domain "support.tickets.v1" and a `reason` code listed with each
    /// > method, and google.rpc.PreconditionFailure with one violation per failed check (`type` the
    /// > code, `subject` what failed: where the method says so, else the resources ErrorInfo.metadata
    /// > names, as "key=value" pairs of its *_id entries, comma-separated, e.g.
    /// > "exception_id=…"; empty when it names none). Clients branch on these codes, never on the
    /// > message text.
    /// > 
    /// > Times a caller sends as facts (delivered_time, check_time) may be at most 5 minutes after
    /// > the server clock (clock skew); later is INVALID_ARGUMENT naming the field.
    public struct Client<Transport>: ClientProtocol where Transport: GRPCCore.ClientTransport {
        private let client: GRPCCore.GRPCClient<Transport>

        /// Creates a new client wrapping the provided `GRPCCore.GRPCClient`.
        ///
        /// - Parameters:
        ///   - client: A `GRPCCore.GRPCClient` providing a communication channel to the service.
        public init(wrapping client: GRPCCore.GRPCClient<Transport>) {
            self.client = client
        }

        /// Call the "CreateTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Files a new after-sales case in status SUBMITTED, version 1. The same eligibility rules as
        /// > CheckEligibility are applied to every item. A retry with the same request_id returns the
        /// > case it filed (as it is now: status and version may have moved on) without checking
        /// > eligibility again, so a retry after the window closed still returns it.
        /// > Errors: INVALID_ARGUMENT (field named in the message) when request_id is empty or longer
        /// > than 128 characters, type or category is UNSPECIFIED, shopper_id or title is empty, items
        /// > are missing for RETURN_AND_REFUND / REFUND_ONLY / EXCHANGE / REPAIR, an item has no
        /// > order_id, an evidence attachment has no uri, requested_refund is set for a type other than
        /// > RETURN_AND_REFUND / REFUND_ONLY or its currency differs from the items' unit prices, or
        /// > delivered_time is in the future (more than 5 minutes after the server clock), or
        /// > description is longer than 5000 characters; FAILED_PRECONDITION with ErrorInfo reason
        /// > NOT_ELIGIBLE when an item is not eligible and no eligibility_override_reason is given:
        /// > ErrorInfo.metadata["reasons"] lists the distinct IneligibilityReason codes, comma-separated,
        /// > without the INELIGIBILITY_REASON_ prefix (e.g. "WINDOW_EXPIRED,GOODS_NOT_RESALEABLE"), and
        /// > PreconditionFailure has one violation per item and reason (`type` the code, e.g.
        /// > "OUTSIDE_WARRANTY", `subject` "items[i]");
        /// > PERMISSION_DENIED when a shopper caller sets eligibility_override_reason or files for
        /// > another shopper; ALREADY_EXISTS when request_id was already used with different content, or
        /// > the new case is a RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR case and another open
        /// > case of those types (not REJECTED, CANCELLED or CLOSED) covers the same order item, an item
        /// > naming the whole order (empty order_item_id) covering every item of it (ErrorInfo reason
        /// > OPEN_CASE_EXISTS, metadata ticket_id: that case, and order_id). A COMPLAINT or INQUIRY may
        /// > sit beside an open goods case.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_CreateTicketRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_CreateTicketRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Ticket` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        public func createTicket<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_CreateTicketRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_CreateTicketRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Ticket>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Support_Tickets_V1_TicketService.Method.CreateTicket.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }

        /// Call the "GetTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Returns one case.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty; NOT_FOUND when no such case exists (or a
        /// > shopper caller asks for another shopper's case).
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_GetTicketRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_GetTicketRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Ticket` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        public func getTicket<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_GetTicketRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_GetTicketRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Ticket>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Support_Tickets_V1_TicketService.Method.GetTicket.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }

        /// Call the "ListTickets" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists cases matching all given filters, newest create_time first (ticket_id breaks ties).
        /// > A shopper caller lists only their own cases: shopper_id defaults to the caller.
        /// > Errors: INVALID_ARGUMENT when page_size is negative or above 500, page_token is malformed
        /// > or was issued for different filters; PERMISSION_DENIED when a shopper caller names another
        /// > shopper_id.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_ListTicketsRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_ListTicketsRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_ListTicketsResponse` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        public func listTickets<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_ListTicketsRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_ListTicketsRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_ListTicketsResponse>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListTicketsResponse>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Support_Tickets_V1_TicketService.Method.ListTickets.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }

        /// Call the "TransitionTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Moves a case through the state machine documented at the top of this file, with one typed
        /// > action. Records a history entry and increments version. Returns the updated case.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, no action is set, or the action's own
        /// > fields are invalid (a required reason is empty, a refund amount is negative, above the paid
        /// > price of the items plus shipping, or in another currency, the solution does not fit the
        /// > ticket type); NOT_FOUND when the case does not exist (or is another shopper's, for a
        /// > shopper caller); FAILED_PRECONDITION with ErrorInfo reason TRANSITION_NOT_ALLOWED when the
        /// > action is not allowed from the current status (the message and ErrorInfo.metadata "status"
        /// > and "action" name both; the status is checked before the action's own fields); ABORTED when
        /// > expected_version is non-zero and stale; PERMISSION_DENIED when the actor may not perform the
        /// > action (Cancel by anyone but the case's shopper or a service naming that shopper as actor,
        /// > outside AWAITING_RETURN; agent-only actions by a shopper); ALREADY_EXISTS when request_id was already used with different content.
        /// > Announces TicketApprovedEvent (APPROVED -> SOLUTION_AGREED), TicketResolvedEvent,
        /// > TicketReopenedEvent and TicketClosedEvent in the same transaction (tickets_events.proto),
        /// > and TicketFirstRespondedEvent when a StartReview is the case's first response.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_TransitionTicketRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_TransitionTicketRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Ticket` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        public func transitionTicket<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_TransitionTicketRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_TransitionTicketRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Ticket>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Support_Tickets_V1_TicketService.Method.TransitionTicket.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }

        /// Call the "AssignTicket" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Assigns the case to an agent and/or skill group; an empty agent id returns it to the skill
        /// > group's queue. Allowed in every status except REJECTED, CANCELLED and CLOSED.
        /// > Agents and skill groups belong to the chat service: their ids are recorded as given, not
        /// > checked here. Assigning what is already assigned changes nothing (no new version); a
        /// > change announces TicketAssignedEvent in its transaction.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty or both agent_id and skill_group_id are
        /// > empty; NOT_FOUND when the case does not exist; FAILED_PRECONDITION (ErrorInfo reason
        /// > CASE_FINISHED) when the case is REJECTED, CANCELLED or CLOSED; ABORTED when
        /// > expected_version is stale; PERMISSION_DENIED when the actor is not an agent, supervisor or
        /// > service.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_AssignTicketRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_AssignTicketRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Ticket` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        public func assignTicket<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_AssignTicketRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_AssignTicketRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Ticket>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Support_Tickets_V1_TicketService.Method.AssignTicket.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }

        /// Call the "SetPriority" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Changes the priority (优先级). Allowed in every status except REJECTED, CANCELLED, CLOSED.
        /// > Setting the current priority changes nothing (no new version).
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty or priority is UNSPECIFIED; NOT_FOUND when
        /// > the case does not exist; FAILED_PRECONDITION (ErrorInfo reason CASE_FINISHED) when the case
        /// > is REJECTED, CANCELLED or CLOSED; ABORTED when expected_version is stale; PERMISSION_DENIED
        /// > when the actor is a shopper.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_SetPriorityRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_SetPriorityRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Ticket` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        public func setPriority<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_SetPriorityRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_SetPriorityRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Ticket>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Support_Tickets_V1_TicketService.Method.SetPriority.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }

        /// Call the "AddComment" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Adds a public reply (seen by the shopper) or an internal note (agents only) to a case.
        /// > Comments are allowed in every status, including terminal ones.
        /// > Errors: INVALID_ARGUMENT when request_id or ticket_id is empty, request_id is longer than
        /// > 128 characters, visibility is UNSPECIFIED, the body is empty without attachments or longer
        /// > than 10000 characters, or awaiting_shopper or proposes_solution is set on an INTERNAL_NOTE
        /// > or by a shopper; NOT_FOUND when the case does not exist; PERMISSION_DENIED when a shopper
        /// > writes an INTERNAL_NOTE or comments on another shopper's case; ABORTED when expected_version is non-zero and stale;
        /// > ALREADY_EXISTS when request_id was already used with different content.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_AddCommentRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_AddCommentRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_Comment` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        public func addComment<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_AddCommentRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_AddCommentRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_Comment>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Comment>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Support_Tickets_V1_TicketService.Method.AddComment.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }

        /// Call the "ListComments" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists a case's comments, oldest first. Shopper callers only ever receive PUBLIC_REPLY.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
        /// > is malformed; NOT_FOUND when the case does not exist (or belongs to another shopper);
        /// > PERMISSION_DENIED when a shopper caller asks for INTERNAL_NOTE.
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_ListCommentsRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_ListCommentsRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_ListCommentsResponse` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        public func listComments<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_ListCommentsRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_ListCommentsRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_ListCommentsResponse>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListCommentsResponse>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Support_Tickets_V1_TicketService.Method.ListComments.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }

        /// Call the "ListTicketHistory" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Lists the full history of a case, oldest first: who did what, when and why.
        /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
        /// > is malformed; NOT_FOUND when the case does not exist; PERMISSION_DENIED when the caller is
        /// > a shopper (shoppers see the status and public replies only).
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_ListTicketHistoryRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_ListTicketHistoryRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_ListTicketHistoryResponse` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        public func listTicketHistory<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_ListTicketHistoryRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_ListTicketHistoryRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_ListTicketHistoryResponse>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListTicketHistoryResponse>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Support_Tickets_V1_TicketService.Method.ListTicketHistory.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }

        /// Call the "CheckEligibility" method.
        ///
        /// > Source IDL Documentation:
        /// >
        /// > Answers whether an after-sales request would be accepted for one order item, which policy
        /// > window applies, until when, and who pays return shipping. Changes nothing; an ineligible
        /// > request is a normal answer (eligible = false with reasons), not an error.
        /// > Errors: INVALID_ARGUMENT (field named) when type or category is UNSPECIFIED, item.order_id
        /// > is empty for RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR, delivered_time or
        /// > check_time is in the future (more than 5 minutes after the server clock), or delivered_time
        /// > is later than check_time (by more than the same 5 minutes of clock skew).
        ///
        /// - Parameters:
        ///   - request: A request containing a single `Support_Tickets_V1_CheckEligibilityRequest` message.
        ///   - serializer: A serializer for `Support_Tickets_V1_CheckEligibilityRequest` messages.
        ///   - deserializer: A deserializer for `Support_Tickets_V1_CheckEligibilityResponse` messages.
        ///   - options: Options to apply to this RPC.
        ///   - handleResponse: A closure which handles the response and returns its result to
        ///       the caller. Returning from the closure will cancel the RPC if it hasn't
        ///       already finished.
        /// - Returns: The result of `handleResponse`.
        public func checkEligibility<Result>(
            request: GRPCCore.ClientRequest<Support_Tickets_V1_CheckEligibilityRequest>,
            serializer: some GRPCCore.MessageSerializer<Support_Tickets_V1_CheckEligibilityRequest>,
            deserializer: some GRPCCore.MessageDeserializer<Support_Tickets_V1_CheckEligibilityResponse>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_CheckEligibilityResponse>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Support_Tickets_V1_TicketService.Method.CheckEligibility.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }
    }
}

// Helpers providing default arguments to 'ClientProtocol' methods.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Support_Tickets_V1_TicketService.ClientProtocol {
    /// Call the "CreateTicket" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Files a new after-sales case in status SUBMITTED, version 1. The same eligibility rules as
    /// > CheckEligibility are applied to every item. A retry with the same request_id returns the
    /// > case it filed (as it is now: status and version may have moved on) without checking
    /// > eligibility again, so a retry after the window closed still returns it.
    /// > Errors: INVALID_ARGUMENT (field named in the message) when request_id is empty or longer
    /// > than 128 characters, type or category is UNSPECIFIED, shopper_id or title is empty, items
    /// > are missing for RETURN_AND_REFUND / REFUND_ONLY / EXCHANGE / REPAIR, an item has no
    /// > order_id, an evidence attachment has no uri, requested_refund is set for a type other than
    /// > RETURN_AND_REFUND / REFUND_ONLY or its currency differs from the items' unit prices, or
    /// > delivered_time is in the future (more than 5 minutes after the server clock), or
    /// > description is longer than 5000 characters; FAILED_PRECONDITION with ErrorInfo reason
    /// > NOT_ELIGIBLE when an item is not eligible and no eligibility_override_reason is given:
    /// > ErrorInfo.metadata["reasons"] lists the distinct IneligibilityReason codes, comma-separated,
    /// > without the INELIGIBILITY_REASON_ prefix (e.g. "WINDOW_EXPIRED,GOODS_NOT_RESALEABLE"), and
    /// > PreconditionFailure has one violation per item and reason (`type` the code, e.g.
    /// > "OUTSIDE_WARRANTY", `subject` "items[i]");
    /// > PERMISSION_DENIED when a shopper caller sets eligibility_override_reason or files for
    /// > another shopper; ALREADY_EXISTS when request_id was already used with different content, or
    /// > the new case is a RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR case and another open
    /// > case of those types (not REJECTED, CANCELLED or CLOSED) covers the same order item, an item
    /// > naming the whole order (empty order_item_id) covering every item of it (ErrorInfo reason
    /// > OPEN_CASE_EXISTS, metadata ticket_id: that case, and order_id). A COMPLAINT or INQUIRY may
    /// > sit beside an open goods case.
    ///
    /// - Parameters:
    ///   - request: A request containing a single `Support_Tickets_V1_CreateTicketRequest` message.
    ///   - options: Options to apply to this RPC.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func createTicket<Result>(
        request: GRPCCore.ClientRequest<Support_Tickets_V1_CreateTicketRequest>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.createTicket(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_CreateTicketRequest>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_Ticket>(),
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "GetTicket" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Returns one case.
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty; NOT_FOUND when no such case exists (or a
    /// > shopper caller asks for another shopper's case).
    ///
    /// - Parameters:
    ///   - request: A request containing a single `Support_Tickets_V1_GetTicketRequest` message.
    ///   - options: Options to apply to this RPC.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func getTicket<Result>(
        request: GRPCCore.ClientRequest<Support_Tickets_V1_GetTicketRequest>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.getTicket(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_GetTicketRequest>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_Ticket>(),
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "ListTickets" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Lists cases matching all given filters, newest create_time first (ticket_id breaks ties).
    /// > A shopper caller lists only their own cases: shopper_id defaults to the caller.
    /// > Errors: INVALID_ARGUMENT when page_size is negative or above 500, page_token is malformed
    /// > or was issued for different filters; PERMISSION_DENIED when a shopper caller names another
    /// > shopper_id.
    ///
    /// - Parameters:
    ///   - request: A request containing a single `Support_Tickets_V1_ListTicketsRequest` message.
    ///   - options: Options to apply to this RPC.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func listTickets<Result>(
        request: GRPCCore.ClientRequest<Support_Tickets_V1_ListTicketsRequest>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListTicketsResponse>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.listTickets(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_ListTicketsRequest>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_ListTicketsResponse>(),
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "TransitionTicket" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Moves a case through the state machine documented at the top of this file, with one typed
    /// > action. Records a history entry and increments version. Returns the updated case.
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty, no action is set, or the action's own
    /// > fields are invalid (a required reason is empty, a refund amount is negative, above the paid
    /// > price of the items plus shipping, or in another currency, the solution does not fit the
    /// > ticket type); NOT_FOUND when the case does not exist (or is another shopper's, for a
    /// > shopper caller); FAILED_PRECONDITION with ErrorInfo reason TRANSITION_NOT_ALLOWED when the
    /// > action is not allowed from the current status (the message and ErrorInfo.metadata "status"
    /// > and "action" name both; the status is checked before the action's own fields); ABORTED when
    /// > expected_version is non-zero and stale; PERMISSION_DENIED when the actor may not perform the
    /// > action (Cancel by anyone but the case's shopper or a service naming that shopper as actor,
    /// > outside AWAITING_RETURN; agent-only actions by a shopper); ALREADY_EXISTS when request_id was already used with different content.
    /// > Announces TicketApprovedEvent (APPROVED -> SOLUTION_AGREED), TicketResolvedEvent,
    /// > TicketReopenedEvent and TicketClosedEvent in the same transaction (tickets_events.proto),
    /// > and TicketFirstRespondedEvent when a StartReview is the case's first response.
    ///
    /// - Parameters:
    ///   - request: A request containing a single `Support_Tickets_V1_TransitionTicketRequest` message.
    ///   - options: Options to apply to this RPC.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func transitionTicket<Result>(
        request: GRPCCore.ClientRequest<Support_Tickets_V1_TransitionTicketRequest>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.transitionTicket(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_TransitionTicketRequest>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_Ticket>(),
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "AssignTicket" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Assigns the case to an agent and/or skill group; an empty agent id returns it to the skill
    /// > group's queue. Allowed in every status except REJECTED, CANCELLED and CLOSED.
    /// > Agents and skill groups belong to the chat service: their ids are recorded as given, not
    /// > checked here. Assigning what is already assigned changes nothing (no new version); a
    /// > change announces TicketAssignedEvent in its transaction.
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty or both agent_id and skill_group_id are
    /// > empty; NOT_FOUND when the case does not exist; FAILED_PRECONDITION (ErrorInfo reason
    /// > CASE_FINISHED) when the case is REJECTED, CANCELLED or CLOSED; ABORTED when
    /// > expected_version is stale; PERMISSION_DENIED when the actor is not an agent, supervisor or
    /// > service.
    ///
    /// - Parameters:
    ///   - request: A request containing a single `Support_Tickets_V1_AssignTicketRequest` message.
    ///   - options: Options to apply to this RPC.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func assignTicket<Result>(
        request: GRPCCore.ClientRequest<Support_Tickets_V1_AssignTicketRequest>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.assignTicket(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_AssignTicketRequest>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_Ticket>(),
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "SetPriority" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Changes the priority (优先级). Allowed in every status except REJECTED, CANCELLED, CLOSED.
    /// > Setting the current priority changes nothing (no new version).
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty or priority is UNSPECIFIED; NOT_FOUND when
    /// > the case does not exist; FAILED_PRECONDITION (ErrorInfo reason CASE_FINISHED) when the case
    /// > is REJECTED, CANCELLED or CLOSED; ABORTED when expected_version is stale; PERMISSION_DENIED
    /// > when the actor is a shopper.
    ///
    /// - Parameters:
    ///   - request: A request containing a single `Support_Tickets_V1_SetPriorityRequest` message.
    ///   - options: Options to apply to this RPC.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func setPriority<Result>(
        request: GRPCCore.ClientRequest<Support_Tickets_V1_SetPriorityRequest>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.setPriority(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_SetPriorityRequest>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_Ticket>(),
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "AddComment" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Adds a public reply (seen by the shopper) or an internal note (agents only) to a case.
    /// > Comments are allowed in every status, including terminal ones.
    /// > Errors: INVALID_ARGUMENT when request_id or ticket_id is empty, request_id is longer than
    /// > 128 characters, visibility is UNSPECIFIED, the body is empty without attachments or longer
    /// > than 10000 characters, or awaiting_shopper or proposes_solution is set on an INTERNAL_NOTE
    /// > or by a shopper; NOT_FOUND when the case does not exist; PERMISSION_DENIED when a shopper
    /// > writes an INTERNAL_NOTE or comments on another shopper's case; ABORTED when expected_version is non-zero and stale;
    /// > ALREADY_EXISTS when request_id was already used with different content.
    ///
    /// - Parameters:
    ///   - request: A request containing a single `Support_Tickets_V1_AddCommentRequest` message.
    ///   - options: Options to apply to this RPC.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func addComment<Result>(
        request: GRPCCore.ClientRequest<Support_Tickets_V1_AddCommentRequest>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Comment>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.addComment(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_AddCommentRequest>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_Comment>(),
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "ListComments" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Lists a case's comments, oldest first. Shopper callers only ever receive PUBLIC_REPLY.
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
    /// > is malformed; NOT_FOUND when the case does not exist (or belongs to another shopper);
    /// > PERMISSION_DENIED when a shopper caller asks for INTERNAL_NOTE.
    ///
    /// - Parameters:
    ///   - request: A request containing a single `Support_Tickets_V1_ListCommentsRequest` message.
    ///   - options: Options to apply to this RPC.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func listComments<Result>(
        request: GRPCCore.ClientRequest<Support_Tickets_V1_ListCommentsRequest>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListCommentsResponse>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.listComments(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_ListCommentsRequest>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_ListCommentsResponse>(),
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "ListTicketHistory" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Lists the full history of a case, oldest first: who did what, when and why.
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
    /// > is malformed; NOT_FOUND when the case does not exist; PERMISSION_DENIED when the caller is
    /// > a shopper (shoppers see the status and public replies only).
    ///
    /// - Parameters:
    ///   - request: A request containing a single `Support_Tickets_V1_ListTicketHistoryRequest` message.
    ///   - options: Options to apply to this RPC.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func listTicketHistory<Result>(
        request: GRPCCore.ClientRequest<Support_Tickets_V1_ListTicketHistoryRequest>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListTicketHistoryResponse>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.listTicketHistory(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_ListTicketHistoryRequest>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_ListTicketHistoryResponse>(),
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "CheckEligibility" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Answers whether an after-sales request would be accepted for one order item, which policy
    /// > window applies, until when, and who pays return shipping. Changes nothing; an ineligible
    /// > request is a normal answer (eligible = false with reasons), not an error.
    /// > Errors: INVALID_ARGUMENT (field named) when type or category is UNSPECIFIED, item.order_id
    /// > is empty for RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR, delivered_time or
    /// > check_time is in the future (more than 5 minutes after the server clock), or delivered_time
    /// > is later than check_time (by more than the same 5 minutes of clock skew).
    ///
    /// - Parameters:
    ///   - request: A request containing a single `Support_Tickets_V1_CheckEligibilityRequest` message.
    ///   - options: Options to apply to this RPC.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func checkEligibility<Result>(
        request: GRPCCore.ClientRequest<Support_Tickets_V1_CheckEligibilityRequest>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_CheckEligibilityResponse>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.checkEligibility(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Support_Tickets_V1_CheckEligibilityRequest>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Support_Tickets_V1_CheckEligibilityResponse>(),
            options: options,
            onResponse: handleResponse
        )
    }
}

// Helpers providing sugared APIs for 'ClientProtocol' methods.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Support_Tickets_V1_TicketService.ClientProtocol {
    /// Call the "CreateTicket" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Files a new after-sales case in status SUBMITTED, version 1. The same eligibility rules as
    /// > CheckEligibility are applied to every item. A retry with the same request_id returns the
    /// > case it filed (as it is now: status and version may have moved on) without checking
    /// > eligibility again, so a retry after the window closed still returns it.
    /// > Errors: INVALID_ARGUMENT (field named in the message) when request_id is empty or longer
    /// > than 128 characters, type or category is UNSPECIFIED, shopper_id or title is empty, items
    /// > are missing for RETURN_AND_REFUND / REFUND_ONLY / EXCHANGE / REPAIR, an item has no
    /// > order_id, an evidence attachment has no uri, requested_refund is set for a type other than
    /// > RETURN_AND_REFUND / REFUND_ONLY or its currency differs from the items' unit prices, or
    /// > delivered_time is in the future (more than 5 minutes after the server clock), or
    /// > description is longer than 5000 characters; FAILED_PRECONDITION with ErrorInfo reason
    /// > NOT_ELIGIBLE when an item is not eligible and no eligibility_override_reason is given:
    /// > ErrorInfo.metadata["reasons"] lists the distinct IneligibilityReason codes, comma-separated,
    /// > without the INELIGIBILITY_REASON_ prefix (e.g. "WINDOW_EXPIRED,GOODS_NOT_RESALEABLE"), and
    /// > PreconditionFailure has one violation per item and reason (`type` the code, e.g.
    /// > "OUTSIDE_WARRANTY", `subject` "items[i]");
    /// > PERMISSION_DENIED when a shopper caller sets eligibility_override_reason or files for
    /// > another shopper; ALREADY_EXISTS when request_id was already used with different content, or
    /// > the new case is a RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR case and another open
    /// > case of those types (not REJECTED, CANCELLED or CLOSED) covers the same order item, an item
    /// > naming the whole order (empty order_item_id) covering every item of it (ErrorInfo reason
    /// > OPEN_CASE_EXISTS, metadata ticket_id: that case, and order_id). A COMPLAINT or INQUIRY may
    /// > sit beside an open goods case.
    ///
    /// - Parameters:
    ///   - message: request message to send.
    ///   - metadata: Additional metadata to send, defaults to empty.
    ///   - options: Options to apply to this RPC, defaults to `.defaults`.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func createTicket<Result>(
        _ message: Support_Tickets_V1_CreateTicketRequest,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Support_Tickets_V1_CreateTicketRequest>(
            message: message,
            metadata: metadata
        )
        return try await self.createTicket(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "GetTicket" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Returns one case.
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty; NOT_FOUND when no such case exists (or a
    /// > shopper caller asks for another shopper's case).
    ///
    /// - Parameters:
    ///   - message: request message to send.
    ///   - metadata: Additional metadata to send, defaults to empty.
    ///   - options: Options to apply to this RPC, defaults to `.defaults`.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func getTicket<Result>(
        _ message: Support_Tickets_V1_GetTicketRequest,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Support_Tickets_V1_GetTicketRequest>(
            message: message,
            metadata: metadata
        )
        return try await self.getTicket(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "ListTickets" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Lists cases matching all given filters, newest create_time first (ticket_id breaks ties).
    /// > A shopper caller lists only their own cases: shopper_id defaults to the caller.
    /// > Errors: INVALID_ARGUMENT when page_size is negative or above 500, page_token is malformed
    /// > or was issued for different filters; PERMISSION_DENIED when a shopper caller names another
    /// > shopper_id.
    ///
    /// - Parameters:
    ///   - message: request message to send.
    ///   - metadata: Additional metadata to send, defaults to empty.
    ///   - options: Options to apply to this RPC, defaults to `.defaults`.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func listTickets<Result>(
        _ message: Support_Tickets_V1_ListTicketsRequest,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListTicketsResponse>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Support_Tickets_V1_ListTicketsRequest>(
            message: message,
            metadata: metadata
        )
        return try await self.listTickets(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "TransitionTicket" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Moves a case through the state machine documented at the top of this file, with one typed
    /// > action. Records a history entry and increments version. Returns the updated case.
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty, no action is set, or the action's own
    /// > fields are invalid (a required reason is empty, a refund amount is negative, above the paid
    /// > price of the items plus shipping, or in another currency, the solution does not fit the
    /// > ticket type); NOT_FOUND when the case does not exist (or is another shopper's, for a
    /// > shopper caller); FAILED_PRECONDITION with ErrorInfo reason TRANSITION_NOT_ALLOWED when the
    /// > action is not allowed from the current status (the message and ErrorInfo.metadata "status"
    /// > and "action" name both; the status is checked before the action's own fields); ABORTED when
    /// > expected_version is non-zero and stale; PERMISSION_DENIED when the actor may not perform the
    /// > action (Cancel by anyone but the case's shopper or a service naming that shopper as actor,
    /// > outside AWAITING_RETURN; agent-only actions by a shopper); ALREADY_EXISTS when request_id was already used with different content.
    /// > Announces TicketApprovedEvent (APPROVED -> SOLUTION_AGREED), TicketResolvedEvent,
    /// > TicketReopenedEvent and TicketClosedEvent in the same transaction (tickets_events.proto),
    /// > and TicketFirstRespondedEvent when a StartReview is the case's first response.
    ///
    /// - Parameters:
    ///   - message: request message to send.
    ///   - metadata: Additional metadata to send, defaults to empty.
    ///   - options: Options to apply to this RPC, defaults to `.defaults`.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func transitionTicket<Result>(
        _ message: Support_Tickets_V1_TransitionTicketRequest,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Support_Tickets_V1_TransitionTicketRequest>(
            message: message,
            metadata: metadata
        )
        return try await self.transitionTicket(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "AssignTicket" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Assigns the case to an agent and/or skill group; an empty agent id returns it to the skill
    /// > group's queue. Allowed in every status except REJECTED, CANCELLED and CLOSED.
    /// > Agents and skill groups belong to the chat service: their ids are recorded as given, not
    /// > checked here. Assigning what is already assigned changes nothing (no new version); a
    /// > change announces TicketAssignedEvent in its transaction.
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty or both agent_id and skill_group_id are
    /// > empty; NOT_FOUND when the case does not exist; FAILED_PRECONDITION (ErrorInfo reason
    /// > CASE_FINISHED) when the case is REJECTED, CANCELLED or CLOSED; ABORTED when
    /// > expected_version is stale; PERMISSION_DENIED when the actor is not an agent, supervisor or
    /// > service.
    ///
    /// - Parameters:
    ///   - message: request message to send.
    ///   - metadata: Additional metadata to send, defaults to empty.
    ///   - options: Options to apply to this RPC, defaults to `.defaults`.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func assignTicket<Result>(
        _ message: Support_Tickets_V1_AssignTicketRequest,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Support_Tickets_V1_AssignTicketRequest>(
            message: message,
            metadata: metadata
        )
        return try await self.assignTicket(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "SetPriority" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Changes the priority (优先级). Allowed in every status except REJECTED, CANCELLED, CLOSED.
    /// > Setting the current priority changes nothing (no new version).
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty or priority is UNSPECIFIED; NOT_FOUND when
    /// > the case does not exist; FAILED_PRECONDITION (ErrorInfo reason CASE_FINISHED) when the case
    /// > is REJECTED, CANCELLED or CLOSED; ABORTED when expected_version is stale; PERMISSION_DENIED
    /// > when the actor is a shopper.
    ///
    /// - Parameters:
    ///   - message: request message to send.
    ///   - metadata: Additional metadata to send, defaults to empty.
    ///   - options: Options to apply to this RPC, defaults to `.defaults`.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func setPriority<Result>(
        _ message: Support_Tickets_V1_SetPriorityRequest,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Ticket>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Support_Tickets_V1_SetPriorityRequest>(
            message: message,
            metadata: metadata
        )
        return try await self.setPriority(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "AddComment" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Adds a public reply (seen by the shopper) or an internal note (agents only) to a case.
    /// > Comments are allowed in every status, including terminal ones.
    /// > Errors: INVALID_ARGUMENT when request_id or ticket_id is empty, request_id is longer than
    /// > 128 characters, visibility is UNSPECIFIED, the body is empty without attachments or longer
    /// > than 10000 characters, or awaiting_shopper or proposes_solution is set on an INTERNAL_NOTE
    /// > or by a shopper; NOT_FOUND when the case does not exist; PERMISSION_DENIED when a shopper
    /// > writes an INTERNAL_NOTE or comments on another shopper's case; ABORTED when expected_version is non-zero and stale;
    /// > ALREADY_EXISTS when request_id was already used with different content.
    ///
    /// - Parameters:
    ///   - message: request message to send.
    ///   - metadata: Additional metadata to send, defaults to empty.
    ///   - options: Options to apply to this RPC, defaults to `.defaults`.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func addComment<Result>(
        _ message: Support_Tickets_V1_AddCommentRequest,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_Comment>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Support_Tickets_V1_AddCommentRequest>(
            message: message,
            metadata: metadata
        )
        return try await self.addComment(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "ListComments" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Lists a case's comments, oldest first. Shopper callers only ever receive PUBLIC_REPLY.
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
    /// > is malformed; NOT_FOUND when the case does not exist (or belongs to another shopper);
    /// > PERMISSION_DENIED when a shopper caller asks for INTERNAL_NOTE.
    ///
    /// - Parameters:
    ///   - message: request message to send.
    ///   - metadata: Additional metadata to send, defaults to empty.
    ///   - options: Options to apply to this RPC, defaults to `.defaults`.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func listComments<Result>(
        _ message: Support_Tickets_V1_ListCommentsRequest,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListCommentsResponse>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Support_Tickets_V1_ListCommentsRequest>(
            message: message,
            metadata: metadata
        )
        return try await self.listComments(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "ListTicketHistory" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Lists the full history of a case, oldest first: who did what, when and why.
    /// > Errors: INVALID_ARGUMENT when ticket_id is empty, page_size is out of range or page_token
    /// > is malformed; NOT_FOUND when the case does not exist; PERMISSION_DENIED when the caller is
    /// > a shopper (shoppers see the status and public replies only).
    ///
    /// - Parameters:
    ///   - message: request message to send.
    ///   - metadata: Additional metadata to send, defaults to empty.
    ///   - options: Options to apply to this RPC, defaults to `.defaults`.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func listTicketHistory<Result>(
        _ message: Support_Tickets_V1_ListTicketHistoryRequest,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_ListTicketHistoryResponse>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Support_Tickets_V1_ListTicketHistoryRequest>(
            message: message,
            metadata: metadata
        )
        return try await self.listTicketHistory(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }

    /// Call the "CheckEligibility" method.
    ///
    /// > Source IDL Documentation:
    /// >
    /// > Answers whether an after-sales request would be accepted for one order item, which policy
    /// > window applies, until when, and who pays return shipping. Changes nothing; an ineligible
    /// > request is a normal answer (eligible = false with reasons), not an error.
    /// > Errors: INVALID_ARGUMENT (field named) when type or category is UNSPECIFIED, item.order_id
    /// > is empty for RETURN_AND_REFUND, REFUND_ONLY, EXCHANGE or REPAIR, delivered_time or
    /// > check_time is in the future (more than 5 minutes after the server clock), or delivered_time
    /// > is later than check_time (by more than the same 5 minutes of clock skew).
    ///
    /// - Parameters:
    ///   - message: request message to send.
    ///   - metadata: Additional metadata to send, defaults to empty.
    ///   - options: Options to apply to this RPC, defaults to `.defaults`.
    ///   - handleResponse: A closure which handles the response and returns its result to
    ///       the caller. Returning from the closure will cancel the RPC if it hasn't
    ///       already finished.
    /// - Returns: The result of `handleResponse`.
    public func checkEligibility<Result>(
        _ message: Support_Tickets_V1_CheckEligibilityRequest,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Support_Tickets_V1_CheckEligibilityResponse>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Support_Tickets_V1_CheckEligibilityRequest>(
            message: message,
            metadata: metadata
        )
        return try await self.checkEligibility(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }
}