import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceKit
import SupportCodec
import SwiftProtobuf
import Synchronization
import TestSupport
import Testing

extension MeshTests {
  /// Service levels through the gateway: a policy set with SlaService applies to the next case
  /// without a restart; the sweeper announces at-risk and breach once each even with a second
  /// tickets process sweeping the same database; a third-party pause stops the clock.
  @Suite("Tickets: SLA policies, clocks and breach detection")
  struct TicketSla {
    typealias Tickets = Support_Tickets_V1_TicketService.Client<HTTP2ClientTransport.Posix>
    typealias Sla = Support_Tickets_V1_SlaService.Client<HTTP2ClientTransport.Posix>

    /// Seconds-long first-response targets for LOW inquiries only, so no other test's cases
    /// (other types and priorities) are affected.
    static let shortPolicy = Support_Tickets_V1_SlaPolicy.with {
      $0.targets = [
        .with { $0.milestone = .firstResponse; $0.type = .inquiry; $0.priority = .low; $0.target = .init(seconds: 4) },
        .with { $0.milestone = .resolution; $0.type = .inquiry; $0.priority = .low; $0.target = .init(seconds: 3600) },
      ]
      $0.atRiskShare = 0.5
    }

    static func inquiry(_ shopper: String) -> Support_Tickets_V1_CreateTicketRequest {
      .with {
        $0.requestID = uniqueID("sla")
        $0.type = .inquiry
        $0.category = .technicalSupport
        $0.priority = .low
        $0.shopperID = shopper
        $0.title = "When does my warranty end?"
        $0.channel = .web
        $0.skillGroupID = "sla-it"
      }
    }

    static func clock(_ ticket: Support_Tickets_V1_Ticket, _ milestone: Support_Tickets_V1_SlaMilestone) throws -> Support_Tickets_V1_SlaClock {
      try #require(ticket.sla.clocks.first { $0.milestone == milestone }, "clock \(milestone) on \(ticket.sla)")
    }

    /// Sets the short policy as a supervisor and checks it is served back with a new version.
    static func setShortPolicy(_ grpc: GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Support_Tickets_V1_SlaPolicy {
      let sla = Sla(wrapping: grpc)
      let before = try await sla.getSlaPolicy(.init())
      let stored = try await sla.updateSlaPolicy(.with { $0.policy = shortPolicy; $0.expectedVersion = before.version })
      #expect(stored.version == before.version + 1 && stored.targets == shortPolicy.targets && stored.atRiskShare == 0.5)
      #expect(try await sla.getSlaPolicy(.init()) == stored)
      return stored
    }

    static func restoreDefaultPolicy() async throws {
      try await mesh.withGateway(as: .supervisor("sla-supervisor")) { grpc in
        _ = try await Sla(wrapping: grpc).updateSlaPolicy(.with { $0.policy = .init() })
      }
    }

    @Test("the work queue serves urgent and important cases first, each priority by due time; pages keep that order")
    func urgentFirst() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Tickets(wrapping: grpc)
        let sla = Sla(wrapping: grpc)
        let group = uniqueID("urgent-first")
        func file(_ priority: Support_Tickets_V1_Priority) async throws -> String {
          var request = MeshTests.Tickets.returnRequest(shopper: uniqueID("shopper"))
          request.skillGroupID = group
          request.priority = priority
          return try await tickets.createTicket(request).ticketID
        }
        let low = try await file(.low)
        let normal = try await file(.normal)
        let urgent = try await file(.urgent)
        let high = try await file(.high)
        let queue = try await sla.listSlaWorkQueue(.with { $0.skillGroupID = group; $0.milestones = [.firstResponse]; $0.pageSize = 500 })
        #expect(queue.items.map(\.ticket.ticketID) == [urgent, high, normal, low])
        var paged: [String] = []
        var token = ""
        repeat {
          let page = try await sla.listSlaWorkQueue(.with { $0.skillGroupID = group; $0.pageSize = 1; $0.pageToken = token })
          paged += page.items.map { "\($0.ticket.ticketID)/\($0.clock.milestone.rawValue)" }
          token = page.nextPageToken
        } while !token.isEmpty
        let all = try await sla.listSlaWorkQueue(.with { $0.skillGroupID = group; $0.pageSize = 500 })
        #expect(paged == all.items.map { "\($0.ticket.ticketID)/\($0.clock.milestone.rawValue)" }, "pages of one follow the same order")
        #expect(all.items.map(\.ticket.priority) == all.items.map(\.ticket.priority).sorted { $0.rawValue > $1.rawValue })
      }
    }

    @Test("UpdateSlaPolicy: supervisors only, validated field by field, versioned")
    func policyRules() async throws {
      try await mesh.withGateway(as: .supervisor("sla-supervisor")) { grpc in
        let sla = Sla(wrapping: grpc)
        let current = try await sla.getSlaPolicy(.init())
        await expectCode(.aborted) { try await sla.updateSlaPolicy(.with { $0.policy = Self.shortPolicy; $0.expectedVersion = current.version + 5 }) }
        var badZone = Self.shortPolicy
        badZone.calendar.timeZone = "Mars/Olympus"
        await expectCode(.invalidArgument, containing: "policy.calendar.time_zone") { try await sla.updateSlaPolicy(.with { $0.policy = badZone }) }
        var badTarget = Self.shortPolicy
        badTarget.targets[1].target = .init(seconds: 0)
        await expectCode(.invalidArgument, containing: "policy.targets[1].target") { try await sla.updateSlaPolicy(.with { $0.policy = badTarget }) }
        var twice = Self.shortPolicy
        twice.targets.append(twice.targets[0])
        await expectCode(.invalidArgument, containing: "policy.targets[2]") { try await sla.updateSlaPolicy(.with { $0.policy = twice }) }
        var badHours = Self.shortPolicy
        badHours.calendar.serviceHours = [.with { $0.weekday = 1; $0.openMinute = 600; $0.closeMinute = 540 }]
        await expectCode(.invalidArgument, containing: "policy.calendar.service_hours[0]") { try await sla.updateSlaPolicy(.with { $0.policy = badHours }) }
        var badHoliday = Self.shortPolicy
        badHoliday.calendar.holidays = ["2026-02-30"]
        await expectCode(.invalidArgument, containing: "policy.calendar.holidays[0]") { try await sla.updateSlaPolicy(.with { $0.policy = badHoliday }) }
        #expect(try await sla.getSlaPolicy(.init()) == current, "refused updates change nothing")
      }
      try await mesh.withGateway(as: .agent("sla-agent")) { grpc in
        let sla = Sla(wrapping: grpc)
        _ = try await sla.getSlaPolicy(.init())
        await expectCode(.permissionDenied) { try await sla.updateSlaPolicy(.with { $0.policy = Self.shortPolicy }) }
      }
      try await mesh.withGateway(as: .shopper(uniqueID("shopper"))) { grpc in
        await expectCode(.permissionDenied) { try await Sla(wrapping: grpc).getSlaPolicy(.init()) }
        await expectCode(.permissionDenied) { try await Sla(wrapping: grpc).listSlaWorkQueue(.init()) }
      }
    }

    @Test("a case goes at risk then breaches under a policy set through the API, announced once each with two tickets processes")
    func breachOnceWithTwoSweepers() async throws {
      let m = try mesh
      let second = try await SecondTickets.start(m)
      defer { second.kill() }
      let shopper = uniqueID("shopper")
      let ticket = try await m.withGateway(as: .supervisor("sla-supervisor")) { grpc in
        _ = try await Self.setShortPolicy(grpc)
        // The policy applies to the next case, with no restart.
        let created = try await Tickets(wrapping: grpc).createTicket(Self.inquiry(shopper))
        let first = try Self.clock(created, .firstResponse)
        let created0 = created.createTime.date
        #expect(abs(first.dueTime.date.timeIntervalSince(created0) - 4) < 0.001)
        #expect(abs(first.atRiskTime.date.timeIntervalSince(created0) - 2) < 0.001)
        #expect(first.state == .active && first.target == .init(seconds: 4))
        #expect(created.sla.firstResponseDueTime == first.dueTime, "the old field agrees with the clock")
        #expect(abs(try Self.clock(created, .resolution).dueTime.date.timeIntervalSince(created0) - 3600) < 0.001)
        return created
      }

      // Watch it at risk, then breached, on GetTicket.
      var states: [Support_Tickets_V1_SlaClockState] = []
      let deadline = ContinuousClock.now + .seconds(30)
      try await m.withGateway(as: .agent("sla-agent")) { grpc in
        let tickets = Tickets(wrapping: grpc)
        while ContinuousClock.now < deadline {
          let now = try await tickets.getTicket(.with { $0.ticketID = ticket.ticketID })
          let state = try Self.clock(now, .firstResponse).state
          if states.last != state { states.append(state) }
          if state == .breached {
            #expect(now.sla.firstResponseBreached)
            break
          }
          try await Task.sleep(for: .milliseconds(200))
        }
      }
      #expect(states == [.active, .atRisk, .breached])

      // Both sweepers get several passes at it before the events are counted.
      try await Task.sleep(for: .seconds(4))
      let events = try await Self.slaEvents(m, subject: ticket.ticketID)
      let atRisk = events.compactMap { event -> Support_Tickets_V1_TicketSlaAtRiskEvent? in
        if case .ticketSlaAtRisk(let payload)? = event.payload { return payload }
        return nil
      }
      let breached = events.compactMap { event -> Support_Tickets_V1_TicketSlaBreachedEvent? in
        if case .ticketSlaBreached(let payload)? = event.payload { return payload }
        return nil
      }
      #expect(atRisk.count == 1 && breached.count == 1, "one event of each kind: \(events.map(\.type))")
      let breach = try #require(breached.first)
      #expect(breach.milestone == .firstResponse && breach.ticketVersion == ticket.version && breach.shopperID == shopper)
      #expect(breach.dueTime == ticket.sla.firstResponseDueTime && breach.breachTime == breach.dueTime)
      #expect(breach.breachedBy.seconds < 30, "announced within 30 s of the due time: \(breach.breachedBy)")
      #expect(breach.type == .inquiry && breach.priority == .low && breach.skillGroupID == "sla-it")
      #expect(atRisk.first?.milestone == .firstResponse && atRisk.first.map { $0.occurTime.date <= breach.occurTime.date } == true)

      try await m.withGateway(as: .agent("sla-agent")) { grpc in
        // History: one entry per crossing, by the system, with the clock.
        let history = try await Tickets(wrapping: grpc).listTicketHistory(.with { $0.ticketID = ticket.ticketID; $0.pageSize = 100 })
        #expect(history.entries.filter { $0.kind == .slaAtRisk }.count == 1)
        let entries = history.entries.filter { $0.kind == .slaBreached }
        #expect(entries.count == 1 && entries.first?.actor.kind == .system && entries.first?.sla.clock.milestone == .firstResponse)

        // The work queue lists it among breached LOW clocks, earliest due first.
        let queue = try await Sla(wrapping: grpc).listSlaWorkQueue(.with {
          $0.breachedOnly = true; $0.priorities = [.low]; $0.skillGroupID = "sla-it"; $0.unassignedOnly = true; $0.pageSize = 500
        })
        let mine = queue.items.filter { $0.ticket.ticketID == ticket.ticketID }
        #expect(mine.count == 1 && mine.first?.clock.state == .breached && mine.first?.clock.milestone == .firstResponse)
        let dues = queue.items.map(\.clock.dueTime.date)
        #expect(dues == dues.sorted())
        let atRiskQueue = try await Sla(wrapping: grpc).listSlaWorkQueue(.with { $0.atRiskOnly = true; $0.skillGroupID = "sla-it"; $0.pageSize = 500 })
        #expect(!atRiskQueue.items.contains { $0.ticket.ticketID == ticket.ticketID && $0.clock.milestone == .firstResponse })

        // A reply meets the clock (late): it leaves the queue.
        _ = try await Tickets(wrapping: grpc).addComment(.with {
          $0.ticketID = ticket.ticketID; $0.requestID = uniqueID("reply"); $0.visibility = .publicReply; $0.body = "Here is the answer."
        })
        let answered = try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = ticket.ticketID })
        let met = try Self.clock(answered, .firstResponse)
        #expect(met.state == .met && met.breachedBy.seconds >= 4)
        let after = try await Sla(wrapping: grpc).listSlaWorkQueue(.with { $0.skillGroupID = "sla-it"; $0.pageSize = 500 })
        #expect(!after.items.contains { $0.ticket.ticketID == ticket.ticketID && $0.clock.milestone == .firstResponse })
      }
      try await Self.restoreDefaultPolicy()
    }

    @Test("a third-party pause stops the clock: no crossing while paused, and the due time moves by the paused time")
    func pauseStopsTheClock() async throws {
      let m = try mesh
      try await m.withGateway(as: .supervisor("sla-supervisor")) { grpc in
        _ = try await Self.setShortPolicy(grpc)
        let tickets = Tickets(wrapping: grpc)
        let sla = Sla(wrapping: grpc)
        let created = try await tickets.createTicket(Self.inquiry(uniqueID("shopper")))
        let paused = try await sla.pauseSla(.with { $0.ticketID = created.ticketID; $0.note = "carrier claim 42" })
        #expect(paused.sla.paused && paused.sla.pauseReason == .waitingOnThirdParty)
        #expect(try Self.clock(paused, .firstResponse).state == .paused)
        await expectCode(.failedPrecondition, containing: "already paused") {
          try await sla.pauseSla(.with { $0.ticketID = created.ticketID; $0.note = "again" })
        }
        await expectCode(.invalidArgument, containing: "note") { try await sla.pauseSla(.with { $0.ticketID = created.ticketID }) }

        // Well past the 4 s target: still paused, never announced, not in the queue.
        try await Task.sleep(for: .seconds(6))
        let waiting = try await tickets.getTicket(.with { $0.ticketID = created.ticketID })
        #expect(try Self.clock(waiting, .firstResponse).state == .paused && !waiting.sla.firstResponseBreached)
        #expect(waiting.sla.pausedDuration.seconds >= 5, "paused_duration counts the running pause: \(waiting.sla.pausedDuration)")
        let queue = try await sla.listSlaWorkQueue(.with { $0.skillGroupID = "sla-it"; $0.pageSize = 500 })
        #expect(!queue.items.contains { $0.ticket.ticketID == created.ticketID })

        // A shopper's comment does not end a third party's wait.
        try await m.withGateway(as: .shopper(created.shopperID)) { shopperGRPC in
          _ = try await Support_Tickets_V1_TicketService.Client(wrapping: shopperGRPC).addComment(.with {
            $0.ticketID = created.ticketID; $0.requestID = uniqueID("c"); $0.visibility = .publicReply; $0.body = "Any news?"
          })
        }
        #expect(try await tickets.getTicket(.with { $0.ticketID = created.ticketID }).sla.pauseReason == .waitingOnThirdParty)

        let resumed = try await sla.resumeSla(.with { $0.ticketID = created.ticketID; $0.note = "claim settled" })
        let clock = try Self.clock(resumed, .firstResponse)
        let pausedFor = resumed.sla.pausedDuration.seconds
        #expect(pausedFor >= 6)
        #expect(abs(clock.dueTime.date.timeIntervalSince(created.sla.firstResponseDueTime.date) - Double(pausedFor)) < 0.001, "the due time moved by the paused time")
        #expect(clock.state == .active || clock.state == .atRisk)
        await expectCode(.failedPrecondition, containing: "not paused") { try await sla.resumeSla(.with { $0.ticketID = created.ticketID }) }

        let history = try await tickets.listTicketHistory(.with { $0.ticketID = created.ticketID; $0.pageSize = 100 })
        #expect(history.entries.filter { $0.kind == .slaPaused }.map(\.sla.pauseReason) == [.waitingOnThirdParty])
        let resume = history.entries.filter { $0.kind == .slaResumed }
        #expect(resume.count == 1 && resume.first?.sla.pausedDuration.seconds == pausedFor && resume.first?.reason == "claim settled")
        #expect(!history.entries.contains { $0.kind == .slaBreached || $0.kind == .slaAtRisk }, "nothing crossed while paused")
      }
      try await Self.restoreDefaultPolicy()
    }

    @Test("a reopen restarts the resolution clock with the policy then in force; the resolved event's time_to_resolve counts from the reopen")
    func reopenRestartsResolutionClock() async throws {
      let m = try mesh
      // The default policy comes back whatever happens (the suite runs one test at a time).
      do { try await reopenUnderPolicy(m) } catch {
        try await Self.restoreDefaultPolicy()
        throw error
      }
      try await Self.restoreDefaultPolicy()
    }

    func reopenUnderPolicy(_ m: Mesh) async throws {
      try await m.withGateway(as: .supervisor("sla-supervisor")) { grpc in
        let stored = try await Self.setShortPolicy(grpc)
        let tickets = Tickets(wrapping: grpc)
        func step(_ ticket: Support_Tickets_V1_Ticket, _ action: Support_Tickets_V1_TicketAction) async throws -> Support_Tickets_V1_Ticket {
          try await tickets.transitionTicket(.with { $0.ticketID = ticket.ticketID; $0.action = action; $0.expectedVersion = ticket.version })
        }
        var ticket = try await tickets.createTicket(Self.inquiry(uniqueID("shopper")))
        #expect(abs(ticket.sla.resolutionDueTime.date.timeIntervalSince(ticket.createTime.date) - 3600) < 0.001, "the policy's 1 h")
        ticket = try await step(ticket, .with { $0.startReview = .init() })
        ticket = try await step(ticket, .with { $0.approve = .init() })
        ticket = try await step(ticket, .with { $0.agreeSolution = .with { $0.answer = .with { $0.notes = "see the manual, p. 4" } } })
        ticket = try await step(ticket, .with { $0.resolve = .with { $0.outcome = .answered; $0.summary = "answered" } })

        // The policy changes before the reopen: the restarted clock takes the new target (2 h),
        // not the environment's 72 h nor the creation's 1 h.
        var longer = Self.shortPolicy
        longer.targets[1].target = .init(seconds: 7200)
        longer.atRiskShare = 0.75
        _ = try await Sla(wrapping: grpc).updateSlaPolicy(.with { $0.policy = longer; $0.expectedVersion = stored.version })
        ticket = try await step(ticket, .with { $0.reopen = .with { $0.reason = "the manual does not say" } })
        let clock = try Self.clock(ticket, .resolution)
        #expect(ticket.status == .reopened && clock.startTime.date > ticket.createTime.date && clock.target.seconds == 7200)
        #expect(abs(ticket.sla.resolutionDueTime.date.timeIntervalSince(clock.startTime.date) - 7200) < 0.001)
        #expect(clock.dueTime == ticket.sla.resolutionDueTime && clock.state == .active && !ticket.sla.resolutionBreached)
        // The restarted clock and the case's at_risk_share both take the new policy's share.
        #expect(ticket.sla.atRiskShare == 0.75)
        #expect(abs(clock.atRiskTime.date.timeIntervalSince(clock.startTime.date) - 0.75 * 7200) < 0.001)

        try await Task.sleep(for: .seconds(1))
        ticket = try await step(ticket, .with { $0.resolve = .with { $0.outcome = .answered; $0.summary = "answered again" } })
        let resolved = try await Self.events(m, subject: ticket.ticketID, types: [Support_Tickets_V1_TicketResolvedEvent.protoMessageName])
          .map(\.ticketResolved)
        #expect(resolved.count == 2 && resolved.last?.reopenCount == 1)
        let expected = ticket.resolveTime.date.timeIntervalSince(clock.startTime.date)
        let reported = Double(resolved.last?.timeToResolve.seconds ?? -1) + Double(resolved.last?.timeToResolve.nanos ?? 0) / 1e9
        #expect(expected >= 1 && abs(reported - expected) < 0.01, "from the reopen: \(reported) s, expected \(expected) s")
      }
    }

    @Test("resolving a paused case ends its pause: the paused time is booked and left out of time_to_resolve")
    func resolveWhilePaused() async throws {
      let m = try mesh
      try await m.withGateway(as: .supervisor("sla-supervisor")) { grpc in
        let tickets = Tickets(wrapping: grpc)
        func step(_ ticket: Support_Tickets_V1_Ticket, _ action: Support_Tickets_V1_TicketAction) async throws -> Support_Tickets_V1_Ticket {
          try await tickets.transitionTicket(.with { $0.ticketID = ticket.ticketID; $0.action = action; $0.expectedVersion = ticket.version })
        }
        var ticket = try await tickets.createTicket(Self.inquiry(uniqueID("shopper")))
        ticket = try await step(ticket, .with { $0.startReview = .init() })
        ticket = try await step(ticket, .with { $0.approve = .init() })
        ticket = try await step(ticket, .with { $0.agreeSolution = .with { $0.answer = .with { $0.notes = "the courier will call" } } })
        ticket = try await Sla(wrapping: grpc).pauseSla(.with { $0.ticketID = ticket.ticketID; $0.note = "waiting on the courier" })
        try await Task.sleep(for: .seconds(2))
        ticket = try await step(ticket, .with { $0.resolve = .with { $0.outcome = .answered; $0.summary = "the courier called" } })
        #expect(ticket.status == .resolved && !ticket.sla.paused && ticket.sla.pauseReason == .unspecified && !ticket.sla.hasPausedSinceTime)
        #expect(ticket.sla.pausedDuration.seconds >= 2, "the pause until the resolve is booked: \(ticket.sla.pausedDuration)")
        let resolved = try await Self.events(m, subject: ticket.ticketID, types: [Support_Tickets_V1_TicketResolvedEvent.protoMessageName])
          .map(\.ticketResolved)
        let event = try #require(resolved.first)
        let wall = ticket.resolveTime.date.timeIntervalSince(ticket.createTime.date)
        let reported = Double(event.timeToResolve.seconds) + Double(event.timeToResolve.nanos) / 1e9
        #expect(event.pausedDuration == ticket.sla.pausedDuration)
        #expect(abs(reported - (wall - Double(ticket.sla.pausedDuration.seconds))) < 0.01 && reported < wall - 1.5, "\(reported) s of \(wall) s")
      }
    }

    /// The SLA events of one case in the tickets event log, read until caught up.
    static func slaEvents(_ m: Mesh, subject: String) async throws -> [EventEnvelope] {
      try await events(
        m, subject: subject,
        types: [Support_Tickets_V1_TicketSlaAtRiskEvent.protoMessageName, Support_Tickets_V1_TicketSlaBreachedEvent.protoMessageName])
    }

    /// The events of `types` about one case in the tickets event log, read until caught up.
    static func events(_ m: Mesh, subject: String, types: [String]) async throws -> [EventEnvelope] {
      try await m.withEventLog("tickets", caller: "it-sla") { eventLog, metadata, options in
        try await eventLog.streamEvents(
          .with { $0.afterPosition = 0; $0.types = types }, metadata: metadata, options: options
        ) { response in
          var events: [EventEnvelope] = []
          for try await message in response.messages {
            switch message.item {
            case .event(let event): if event.subject == subject { events.append(event) }
            case .heartbeat(let beat): if beat.position >= beat.headPosition { return events }
            case nil: continue
            }
          }
          return events
        }
      }
    }
  }
}

/// A second tickets process on the mesh's database (the launcher runs one per service): its
/// SLA sweeper competes with the first one's.
final class SecondTickets: Sendable {
  let pid: pid_t
  private let exited = Mutex<Bool>(false)

  init(pid: pid_t) { self.pid = pid }

  static func start(_ mesh: Mesh) async throws -> SecondTickets {
    let config = ProcessInfo.processInfo.environment["SUPPORTMESH_BUILD_CONFIG"] ?? "debug"
    let binary = mesh.root.appendingPathComponent(".build/\(config)/supportmesh-tickets").path
    let port = mesh.portBase + 62
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "DATABASE_URL")
    environment["SUPPORTMESH_GRPC_ADDR"] = "127.0.0.1:\(port)"
    environment["SUPPORTMESH_HTTP_ADDR"] = "127.0.0.1:\(port + 1)"
    environment["SUPPORTMESH_CALLER_SECRET_FILE"] = mesh.secrets.appendingPathComponent("caller-secret").path
    environment["SUPPORTMESH_DATABASE_URL"] = "postgres://tickets:\(try mesh.databasePassword("tickets"))@127.0.0.1:\(mesh.pgPort)/supportmesh"
    for producer in ["chat", "logistics", "feedback"] {
      environment["SUPPORTMESH_PRODUCER_\(producer.uppercased())"] = "127.0.0.1:\(mesh.grpcPort(producer))"
    }
    environment["SUPPORTMESH_TICKETS_SLA_SWEEP_SECONDS"] = "1"
    let log = mesh.state.appendingPathComponent("second-tickets.log").path
    let second = SecondTickets(pid: try Mesh.spawn(binary, [], environment: environment, output: log))
    let deadline = ContinuousClock.now + .seconds(60)
    while true {
      if let health = try? await mesh.http(port + 1, "/healthz"), health.0 == 200 { return second }
      if ContinuousClock.now > deadline {
        second.kill()
        throw MeshError("the second tickets process was not healthy within 60 s:\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
      }
      try await Task.sleep(for: .milliseconds(200))
    }
  }

  func kill() {
    exited.withLock { exited in
      guard !exited else { return }
      Foundation.kill(pid, SIGKILL)
      var status: Int32 = 0
      waitpid(pid, &status, 0)
      exited = true
    }
  }
}
