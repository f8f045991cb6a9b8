import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import ServiceKit
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  /// Follow-up visits (回访) and feedback's event log, through the gateway.
  @Suite("Feedback follow-ups through the gateway")
  struct FeedbackFollowUps {
    typealias FollowUps = Support_Feedback_V1_FollowUpService.Client<HTTP2ClientTransport.Posix>
    typealias Tickets = Support_Tickets_V1_TicketService.Client<HTTP2ClientTransport.Posix>

    static func inHours(_ hours: Double) -> Google_Protobuf_Timestamp {
      Google_Protobuf_Timestamp(date: Date().addingTimeInterval(hours * 3600))
    }

    static func createRequest(ticket: String = uniqueID("ticket"), agent: String, dueInHours: Double = 1) -> Support_Feedback_V1_CreateFollowUpRequest {
      .with {
        $0.requestID = uniqueID("req"); $0.ticketID = ticket; $0.agentID = agent; $0.dueTime = inHours(dueInHours)
        $0.shopperID = uniqueID("shopper"); $0.channel = .app; $0.ticketType = "INQUIRY"
      }
    }

    @Test("create is idempotent, one pending follow-up per ticket, bad input names the field and writes nothing; shoppers are refused")
    func createAndGet() async throws {
      let m = try mesh
      let agent = uniqueID("agent")
      let request = Self.createRequest(agent: agent)
      try await m.withGateway { grpc in
        let followUps = FollowUps(wrapping: grpc)
        let created = try await followUps.createFollowUp(request)
        #expect(created.status == .pending && created.version == 1 && created.ticketID == request.ticketID && created.agentID == agent)
        #expect(created.dueTime.unixMicroseconds == request.dueTime.unixMicroseconds)
        #expect(try await followUps.createFollowUp(request) == created, "a retry returns the first result")
        var changed = request
        changed.agentID = "someone-else"
        await expectCode(.alreadyExists, containing: "request_id") { try await followUps.createFollowUp(changed) }
        var second = request
        second.requestID = uniqueID("req")
        let pending = await richError(.alreadyExists) { try await followUps.createFollowUp(second) }
        let info = try #require(pending?.details.compactMap(\.errorInfo).first)
        #expect(info.reason == "PENDING_FOLLOW_UP_EXISTS" && info.metadata["follow_up_id"] == created.followUpID)

        let broken: [(String, (inout Support_Feedback_V1_CreateFollowUpRequest) -> Void)] = [
          ("request_id", { $0.requestID = "" }),
          ("request_id", { $0.requestID = String(repeating: "r", count: 129) }),
          ("ticket_id", { $0.ticketID = "" }),
          ("agent_id", { $0.agentID = " " }),
          ("due_time", { $0.clearDueTime() }),
          ("due_time", { $0.dueTime = Google_Protobuf_Timestamp(seconds: Int64.max / 2, nanos: 0) }),
        ]
        for (field, breakIt) in broken {
          var bad = Self.createRequest(agent: agent)
          breakIt(&bad)
          await expectCode(.invalidArgument, containing: field) { try await followUps.createFollowUp(bad) }
          #expect(try m.query("SELECT count(*) FROM feedback.follow_ups WHERE request_id = '\(bad.requestID)'") == "0")
        }

        #expect(try await followUps.getFollowUp(.with { $0.followUpID = created.followUpID }) == created)
        await expectCode(.notFound) { try await followUps.getFollowUp(.with { $0.followUpID = UUID().uuidString }) }
        await expectCode(.invalidArgument, containing: "follow_up_id") { try await followUps.getFollowUp(.with { $0.followUpID = "" }) }
      }
      try await m.withGateway(as: .shopper(request.shopperID)) { grpc in
        await expectCode(.permissionDenied) { try await FollowUps(wrapping: grpc).createFollowUp(Self.createRequest(agent: agent)) }
        await expectCode(.permissionDenied) { try await FollowUps(wrapping: grpc).listFollowUps(.with { $0.agentID = agent }) }
      }
      #expect(try m.query("SELECT count(*) FROM feedback.follow_ups WHERE ticket_id = '\(request.ticketID)'") == "1")
    }

    @Test("concurrent creates for one ticket under different request ids: exactly one follow-up, the rest ALREADY_EXISTS")
    func concurrentCreates() async throws {
      let m = try mesh
      let ticket = uniqueID("ticket")
      let codes = try await m.withGateway { grpc in
        try await withThrowingTaskGroup(of: RPCError.Code?.self) { group in
          for _ in 0..<8 {
            group.addTask {
              do {
                _ = try await FollowUps(wrapping: grpc).createFollowUp(Self.createRequest(ticket: ticket, agent: "agent-1"))
                return nil
              } catch let error as RPCError {
                return error.code
              }
            }
          }
          var codes: [RPCError.Code?] = []
          for try await code in group { codes.append(code) }
          return codes
        }
      }
      #expect(codes.filter { $0 == nil }.count == 1, "\(codes)")
      #expect(codes.filter { $0 == .alreadyExists }.count == 7, "\(codes)")
      #expect(try m.query("SELECT count(*) FROM feedback.follow_ups WHERE ticket_id = '\(ticket)'") == "1")
    }

    @Test("the due list: filters, due-time order, cursor pages bound to their filters")
    func dueList() async throws {
      let agent = uniqueID("agent")
      try await mesh.withGateway { grpc in
        let followUps = FollowUps(wrapping: grpc)
        var created: [Support_Feedback_V1_FollowUp] = []
        for hours in [5.0, 1, 3, 30] { created.append(try await followUps.createFollowUp(Self.createRequest(agent: agent, dueInHours: hours))) }
        let byDue = created.sorted { $0.dueTime.unixMicroseconds < $1.dueTime.unixMicroseconds }.map(\.followUpID)
        let first = try await followUps.listFollowUps(.with { $0.agentID = agent; $0.status = .pending; $0.pageSize = 3 })
        #expect(first.followUps.map(\.followUpID) == Array(byDue.prefix(3)) && !first.nextPageToken.isEmpty)
        let second = try await followUps.listFollowUps(.with {
          $0.agentID = agent; $0.status = .pending; $0.pageSize = 3; $0.pageToken = first.nextPageToken
        })
        #expect(second.followUps.map(\.followUpID) == [byDue[3]] && second.nextPageToken.isEmpty)
        // "Due before tonight": the three due within a day.
        let due = try await followUps.listFollowUps(.with { $0.agentID = agent; $0.dueBeforeTime = Self.inHours(24) })
        #expect(due.followUps.map(\.followUpID) == Array(byDue.prefix(3)))
        let byTicket = try await followUps.listFollowUps(.with { $0.ticketID = created[0].ticketID })
        #expect(byTicket.followUps.map(\.followUpID) == [created[0].followUpID])
        #expect(try await followUps.listFollowUps(.with { $0.agentID = agent; $0.status = .completed }).followUps.isEmpty)
        await expectCode(.invalidArgument, containing: "page_token") {
          try await followUps.listFollowUps(.with { $0.agentID = uniqueID("other"); $0.pageSize = 3; $0.pageToken = first.nextPageToken })
        }
        await expectCode(.invalidArgument, containing: "page_token") { try await followUps.listFollowUps(.with { $0.pageToken = "garbage" }) }
        await expectCode(.invalidArgument, containing: "page_size") { try await followUps.listFollowUps(.with { $0.pageSize = 501 }) }
        await expectCode(.invalidArgument, containing: "page_size") { try await followUps.listFollowUps(.with { $0.pageSize = -1 }) }
        await expectCode(.invalidArgument, containing: "status") {
          try await followUps.listFollowUps(.with { $0.status = .UNRECOGNIZED(9) })
        }
      }
    }

    @Test("update reassigns and reschedules a pending follow-up; outcomes follow the attempt rules; a finished one refuses both")
    func updateAndRecord() async throws {
      let m = try mesh
      let agent = uniqueID("agent")
      try await m.withGateway(as: .agent(agent)) { grpc in
        let followUps = FollowUps(wrapping: grpc)
        let created = try await followUps.createFollowUp(Self.createRequest(agent: agent))
        func update(_ paths: [String], version: Int64 = 0, _ change: (inout Support_Feedback_V1_FollowUp) -> Void) -> Support_Feedback_V1_UpdateFollowUpRequest {
          .with {
            $0.followUp.followUpID = created.followUpID
            change(&$0.followUp)
            $0.updateMask = .with { $0.paths = paths }
            $0.expectedVersion = version
          }
        }
        await expectCode(.invalidArgument, containing: "update_mask") { try await followUps.updateFollowUp(update([]) { _ in }) }
        await expectCode(.invalidArgument, containing: "update_mask") { try await followUps.updateFollowUp(update(["status"]) { $0.status = .completed }) }
        await expectCode(.invalidArgument, containing: "follow_up.agent_id") { try await followUps.updateFollowUp(update(["agent_id"]) { _ in }) }
        await expectCode(.invalidArgument, containing: "follow_up.due_time") { try await followUps.updateFollowUp(update(["due_time"]) { _ in }) }
        await expectCode(.aborted) { try await followUps.updateFollowUp(update(["agent_id"], version: 7) { $0.agentID = "x" }) }
        await expectCode(.notFound) {
          try await followUps.updateFollowUp(.with {
            $0.followUp.followUpID = UUID().uuidString; $0.followUp.agentID = "x"; $0.updateMask = .with { $0.paths = ["agent_id"] }
          })
        }
        let later = Self.inHours(48)
        let moved = try await followUps.updateFollowUp(update(["agent_id", "due_time"], version: 1) { $0.agentID = agent; $0.dueTime = later })
        #expect(moved.version == 2 && moved.dueTime.seconds == later.seconds && moved.agentID == agent)

        func record(_ change: (inout Support_Feedback_V1_RecordFollowUpOutcomeRequest) -> Void) -> Support_Feedback_V1_RecordFollowUpOutcomeRequest {
          .with { $0.followUpID = created.followUpID; change(&$0) }
        }
        for (field, bad) in [
          ("satisfaction", record { $0.reached = true }),
          ("reason", record { $0.reached = true; $0.satisfaction = .dissatisfied }),
          ("satisfaction", record { $0.reached = false; $0.satisfaction = .satisfied }),
          ("next_attempt_time", record { $0.reached = true; $0.satisfaction = .satisfied; $0.nextAttemptTime = Self.inHours(2) }),
          ("next_attempt_time", record { $0.reached = false; $0.nextAttemptTime = Self.inHours(-1) }),
          ("notes", record { $0.reached = false; $0.notes = String(repeating: "n", count: 2001) }),
          ("follow_up_id", record { $0.followUpID = ""; $0.reached = false }),
        ] {
          await expectCode(.invalidArgument, containing: field) { try await followUps.recordFollowUpOutcome(bad) }
        }
        // An agent records as themselves only.
        await expectCode(.permissionDenied) {
          try await followUps.recordFollowUpOutcome(record { $0.reached = false; $0.actor = .with { $0.kind = .agent; $0.id = "someone-else" } })
        }
        #expect(try await followUps.getFollowUp(.with { $0.followUpID = created.followUpID }).version == 2, "refused input changed nothing")

        // Not reached, try again tomorrow: still pending, due moved; a retry of the same request records nothing more.
        let retry = record { $0.requestID = uniqueID("attempt"); $0.reached = false; $0.notes = "no answer"; $0.nextAttemptTime = Self.inHours(24) }
        let rescheduled = try await followUps.recordFollowUpOutcome(retry)
        #expect(rescheduled.status == .pending && rescheduled.version == 3 && rescheduled.attempts.count == 1)
        #expect(rescheduled.dueTime.seconds == retry.nextAttemptTime.seconds && rescheduled.attempts[0].recordedBy.id == agent)
        #expect(try await followUps.recordFollowUpOutcome(retry) == rescheduled)
        // Soon due: its retry after next_attempt_time passed still returns the first result.
        let soon = record { $0.requestID = uniqueID("attempt"); $0.reached = false; $0.notes = "busy"; $0.nextAttemptTime = Self.inHours(1.0 / 3600) }
        let soonRecorded = try await followUps.recordFollowUpOutcome(soon)
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try await followUps.recordFollowUpOutcome(soon) == soonRecorded)
        await expectCode(.aborted) { try await followUps.recordFollowUpOutcome(record { $0.reached = false; $0.expectedVersion = 2 }) }

        let completed = try await followUps.recordFollowUpOutcome(record { $0.reached = true; $0.satisfaction = .satisfied; $0.expectedVersion = 4 })
        #expect(completed.status == .completed && completed.version == 5 && completed.attempts.count == 3)
        let refused = await richError(.failedPrecondition) { try await followUps.recordFollowUpOutcome(record { $0.reached = false }) }
        #expect(refused?.details.compactMap(\.errorInfo).first?.reason == "FOLLOW_UP_NOT_PENDING")
        let notPending = await richError(.failedPrecondition) { try await followUps.updateFollowUp(update(["agent_id"]) { $0.agentID = "x" }) }
        #expect(notPending?.details.compactMap(\.errorInfo).first?.metadata["status"] == "FOLLOW_UP_STATUS_COMPLETED")

        // Given up: UNREACHED.
        let other = try await followUps.createFollowUp(Self.createRequest(agent: agent))
        let unreached = try await followUps.recordFollowUpOutcome(.with { $0.followUpID = other.followUpID; $0.reached = false })
        #expect(unreached.status == .unreached && unreached.attempts.count == 1)
      }
      // Three announced attempts for the first follow-up (each retried one once), one for the other.
      #expect(try m.query(
        "SELECT count(*) FROM feedback.event_outbox WHERE event_type = 'support.feedback.v1.FollowUpRecordedEvent' AND subject IN (SELECT follow_up_id::text FROM feedback.follow_ups WHERE agent_id = '\(agent)')"
      ) == "4")
    }

    /// Feedback's event log through the gateway (`x-supportmesh-producer: feedback`), until
    /// `done` says the wanted events are in.
    static func feedbackEvents(
      _ grpc: GRPCClient<HTTP2ClientTransport.Posix>, types: [String], done: @escaping @Sendable ([EventEnvelope]) -> Bool
    ) async throws -> [EventEnvelope] {
      var metadata = Metadata()
      metadata.addString("feedback", forKey: "x-supportmesh-producer")
      var options = CallOptions.defaults
      options.timeout = .seconds(30)
      return try await Support_Events_V1_EventLog.Client(wrapping: grpc).streamEvents(
        .with { $0.types = types }, metadata: metadata, options: options
      ) { response in
        var events: [EventEnvelope] = []
        for try await message in response.messages {
          guard case .event(let event) = message.item else { continue }
          events.append(event)
          if done(events) { break }
        }
        return events
      }
    }

    @Test("a case resolved without an assignee gets an unassigned follow-up, which UpdateFollowUp assigns")
    func unassignedFollowUp() async throws {
      let m = try mesh
      let shopper = uniqueID("shopper")
      let ticket = try await m.withGateway { grpc in
        let tickets = Tickets(wrapping: grpc)
        var ticket = try await tickets.createTicket(.with {
          $0.requestID = uniqueID("req"); $0.type = .inquiry; $0.category = .productQuality; $0.shopperID = shopper; $0.title = "Warranty?"
        })
        for action in [
          Support_Tickets_V1_TicketAction.with { $0.startReview = .init() }, .with { $0.approve = .init() },
          .with { $0.agreeSolution = .with { $0.answer = .with { $0.notes = "two years" } } },
          .with { $0.resolve = .with { $0.outcome = .answered; $0.summary = "answered" } },
        ] {
          ticket = try await tickets.transitionTicket(.with { $0.ticketID = ticket.ticketID; $0.action = action; $0.expectedVersion = ticket.version })
        }
        return ticket
      }
      #expect(ticket.status == .resolved && ticket.assigneeAgentID.isEmpty)
      try await waitFor(seconds: 30) { try m.query("SELECT count(*) FROM feedback.follow_ups WHERE ticket_id = '\(ticket.ticketID)'") == "1" }
      let agent = uniqueID("agent")
      try await m.withGateway { grpc in
        let followUps = FollowUps(wrapping: grpc)
        let followUp = try #require(try await followUps.listFollowUps(.with { $0.ticketID = ticket.ticketID }).followUps.first)
        #expect(followUp.agentID.isEmpty && followUp.status == .pending)
        let assigned = try await followUps.updateFollowUp(.with {
          $0.followUp = .with { $0.followUpID = followUp.followUpID; $0.agentID = agent }; $0.updateMask = .with { $0.paths = ["agent_id"] }
          $0.expectedVersion = followUp.version
        })
        #expect(assigned.agentID == agent && assigned.version == followUp.version + 1)
        #expect(try await followUps.listFollowUps(.with { $0.agentID = agent; $0.status = .pending }).followUps.map(\.followUpID) == [followUp.followUpID])
      }
    }

    @Test("a resolved case gets one survey and one follow-up; a reopen cancels it; a dissatisfied visit is announced with reopen_requested")
    func resolvedCaseLoop() async throws {
      let m = try mesh
      let shopper = uniqueID("shopper")
      let agent = uniqueID("agent")
      let created = try await m.withGateway(as: .shopper(shopper)) { grpc in
        try await Tickets(wrapping: grpc).createTicket(.with {
          $0.requestID = uniqueID("req"); $0.type = .inquiry; $0.category = .productQuality; $0.shopperID = shopper
          $0.title = "How do I pair the headset?"; $0.channel = .app
        })
      }
      typealias Action = Support_Tickets_V1_TicketAction
      func step(_ tickets: Tickets, _ ticket: Support_Tickets_V1_Ticket, _ action: Action) async throws -> Support_Tickets_V1_Ticket {
        try await tickets.transitionTicket(.with { $0.ticketID = ticket.ticketID; $0.action = action; $0.expectedVersion = ticket.version })
      }
      let resolved = try await m.withGateway { grpc in
        let tickets = Tickets(wrapping: grpc)
        var ticket = try await tickets.assignTicket(.with { $0.ticketID = created.ticketID; $0.agentID = agent; $0.skillGroupID = "after-sales" })
        ticket = try await step(tickets, ticket, .with { $0.startReview = .init() })
        ticket = try await step(tickets, ticket, .with { $0.approve = .init() })
        ticket = try await step(tickets, ticket, .with { $0.agreeSolution = .with { $0.answer = .with { $0.notes = "hold the button 5 s" } } })
        return try await step(tickets, ticket, .with { $0.resolve = .with { $0.outcome = .answered; $0.summary = "paired" } })
      }
      #expect(resolved.status == .resolved)
      let followUps = "SELECT count(*) FROM feedback.follow_ups WHERE ticket_id = '\(created.ticketID)'"
      try await waitFor(seconds: 30) { try m.query(followUps) == "1" }
      #expect(try m.query("SELECT count(*) FROM feedback.surveys WHERE subject_kind = 2 AND subject_id = '\(created.ticketID)'") == "1")

      let first = try await m.withGateway(as: .agent(agent)) { grpc in
        let list = try await FollowUps(wrapping: grpc).listFollowUps(.with { $0.ticketID = created.ticketID })
        return try #require(list.followUps.first)
      }
      #expect(first.status == .pending && first.agentID == agent && first.shopperID == shopper && first.ticketType == "INQUIRY")
      // Due the configured delay (default 72 h) after the resolve time.
      #expect(first.dueTime.seconds - resolved.resolveTime.seconds == 72 * 3600)

      // The shopper reopens: the pending visit is cancelled; resolved again: a new one.
      let reopened = try await m.withGateway(as: .shopper(shopper)) { grpc in
        try await step(Tickets(wrapping: grpc), resolved, .with { $0.reopen = .with { $0.reason = "still does not pair" } })
      }
      let status = "SELECT status FROM feedback.follow_ups WHERE follow_up_id = '\(first.followUpID)'"
      try await waitFor(seconds: 30) { try m.query(status) == "4" }
      let again = try await m.withGateway { grpc in
        try await step(Tickets(wrapping: grpc), reopened, .with { $0.resolve = .with { $0.outcome = .answered; $0.summary = "firmware update" } })
      }
      #expect(again.status == .resolved)
      try await waitFor(seconds: 30) { try m.query(followUps) == "2" }
      #expect(try m.query("SELECT count(*) FROM feedback.surveys WHERE subject_kind = 2 AND subject_id = '\(created.ticketID)'") == "1",
              "the first survey is still pending: no second one")

      // The shopper is unhappy on the visit: announced with reopen_requested and the reason.
      try await m.withGateway(as: .agent(agent)) { grpc in
        let client = FollowUps(wrapping: grpc)
        let pending = try await client.listFollowUps(.with { $0.ticketID = created.ticketID; $0.status = .pending })
        let second = try #require(pending.followUps.first)
        #expect(second.followUpID != first.followUpID && pending.followUps.count == 1)
        let recorded = try await client.recordFollowUpOutcome(.with {
          $0.followUpID = second.followUpID; $0.reached = true; $0.satisfaction = .dissatisfied; $0.reason = "fix did not last"
        })
        #expect(recorded.status == .completed)
        let events = try await Self.feedbackEvents(
          grpc, types: [Support_Feedback_V1_FollowUpCreatedEvent.protoMessageName, Support_Feedback_V1_FollowUpRecordedEvent.protoMessageName]
        ) { events in events.contains { $0.subject == second.followUpID && $0.type.hasSuffix("FollowUpRecordedEvent") } }
        let mine = events.filter { $0.subject == first.followUpID || $0.subject == second.followUpID }
        #expect(mine.map(\.type) == [
          "support.feedback.v1.FollowUpCreatedEvent", "support.feedback.v1.FollowUpCreatedEvent", "support.feedback.v1.FollowUpRecordedEvent",
        ])
        #expect(mine.allSatisfy { $0.producer == "feedback" })
        guard case .followUpRecorded(let event) = mine.last?.payload else {
          Issue.record("no FollowUpRecordedEvent: \(mine)")
          return
        }
        #expect(event.eventID == mine.last?.eventID)
        #expect(event.followUpID == second.followUpID && event.ticketID == created.ticketID && event.reached && event.satisfaction == .dissatisfied)
        #expect(event.reopenRequested && event.reopenReason == "fix did not last" && event.status == .completed)
        #expect(event.attemptNumber == 1 && event.followUpVersion == recorded.version && event.recordedBy.id == agent)
        guard case .followUpCreated(let announced) = mine.first?.payload else { return }
        #expect(announced.ticketID == created.ticketID && announced.agentID == agent && announced.eventID == mine.first?.eventID)
      }
    }
  }
}
