import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  /// The quality numbers (ServiceQualityService) through the gateway: a small day of work is
  /// seeded through the real APIs in a skill group of its own, and every number is compared
  /// with what the test computes from what it created.
  @Suite("Service quality numbers through the gateway")
  struct ServiceQuality {
    typealias Quality = Support_Feedback_V1_ServiceQualityService.Client<HTTP2ClientTransport.Posix>
    typealias Tickets = Support_Tickets_V1_TicketService.Client<HTTP2ClientTransport.Posix>
    typealias Ticket = Support_Tickets_V1_Ticket

    /// What the seeded day created, for the hand computation.
    struct Day {
      var skill: String
      var agentA: String
      var agentB: String
      var start: Date
      var resolved: [Ticket] = []
      var firstResponseMillis: [Int64] = []
      var resolveMillis: [Int64] = []
      var seededUntil = Date()
    }

    static func millis(_ from: Google_Protobuf_Timestamp, _ to: Google_Protobuf_Timestamp) -> Int64 {
      let micros = (to.seconds - from.seconds) * 1_000_000 + Int64(to.nanos / 1000) - Int64(from.nanos / 1000)
      return micros / 1000
    }

    /// Files a case of `type` in the day's skill group, assigned to `agent`.
    static func file(_ m: Mesh, _ day: Day, _ type: Support_Tickets_V1_TicketType, category: Support_Tickets_V1_ProblemCategory, agent: String) async throws -> Ticket {
      let journey = Journey(mesh: m)
      var draft = journey.request(type)
      draft.category = category
      draft.skillGroupID = day.skill
      let request = draft
      let created = try await m.withGateway(as: .shopper(journey.shopper)) { grpc in try await Tickets(wrapping: grpc).createTicket(request) }
      return try await m.withGateway(as: .supervisor("sup")) { grpc in
        try await Tickets(wrapping: grpc).assignTicket(.with { $0.ticketID = created.ticketID; $0.agentID = agent; $0.reason = "the desk's plan" })
      }
    }

    static func act(_ m: Mesh, _ ticket: Ticket, agent: String, _ actions: [Support_Tickets_V1_TicketAction]) async throws -> Ticket {
      try await m.withGateway(as: .agent(agent)) { grpc in
        var current = ticket
        for action in actions { current = try await Tickets(wrapping: grpc).transitionTicket(MeshTests.TicketWorkflow.transition(current, action)) }
        return current
      }
    }

    static let answerAndResolve: [Support_Tickets_V1_TicketAction] = [
      .with { $0.startReview = .init() }, .with { $0.approve = .init() },
      .with { $0.agreeSolution = .with { $0.answer = .with { $0.notes = "how to reset the device" } } },
      .with { $0.resolve = .with { $0.outcome = .answered; $0.summary = "explained" } },
    ]

    /// Seeds: 4 cases (an inquiry resolved; a return left open; a service-attitude complaint
    /// rejected; an inquiry resolved then reopened), 4 surveys made by hand (3 answered) beside
    /// the 2 feedback makes for the resolved cases, and 4 follow-ups (one overdue, one reached
    /// and satisfied, one reached and dissatisfied, one unreached).
    static func seed(_ m: Mesh) async throws -> Day {
      var day = Day(skill: uniqueID("quality-skill"), agentA: uniqueID("agent-a"), agentB: uniqueID("agent-b"), start: Date())
      let t1 = try await act(m, try await file(m, day, .inquiry, category: .technicalSupport, agent: day.agentA), agent: day.agentA, answerAndResolve)
      _ = try await file(m, day, .returnAndRefund, category: .productQuality, agent: day.agentB)
      let t3 = try await file(m, day, .complaint, category: .serviceAttitude, agent: day.agentB)
      let rejected = try await act(m, t3, agent: day.agentB, [.with { $0.startReview = .init() }, .with { $0.reject = .with { $0.reason = "not our shop" } }])
      let t4 = try await act(m, try await file(m, day, .inquiry, category: .technicalSupport, agent: day.agentA), agent: day.agentA, answerAndResolve)
      _ = try await act(m, t4, agent: day.agentA, [.with { $0.reopen = .with { $0.reason = "still does not work" } }])
      day.resolved = [t1, t4]
      // Acknowledged when reviewed (TicketFirstRespondedEvent), resolved or not: t3 counts too.
      day.firstResponseMillis = [t1, t4, rejected].map { millis($0.createTime, $0.sla.firstResponseTime) }
      // Inquiries never pause: the resolution time is creation to resolution.
      day.resolveMillis = [t1, t4].map { millis($0.createTime, $0.resolveTime) }

      let skill = day.skill, agentA = day.agentA, agentB = day.agentB
      try await m.withGateway { grpc in
        let surveys = Support_Feedback_V1_SurveyService.Client(wrapping: grpc)
        func survey(_ agent: String) async throws -> Support_Feedback_V1_Survey {
          try await surveys.createSurvey(.with {
            $0.requestID = uniqueID("req"); $0.subject = .with { $0.kind = .conversation; $0.id = uniqueID("conv") }
            $0.shopperID = uniqueID("shopper"); $0.agentID = agent; $0.channel = .web; $0.skillGroup = skill
          })
        }
        let s1 = try await survey(agentA), s2 = try await survey(agentB), s3 = try await survey(agentA)
        _ = try await survey(agentA)
        _ = try await surveys.submitSurveyAnswer(.with { $0.token = s1.token; $0.csat = 5; $0.nps = 10 })
        _ = try await surveys.submitSurveyAnswer(.with { $0.token = s2.token; $0.csat = 2; $0.nps = 3 })
        _ = try await surveys.submitSurveyAnswer(.with { $0.token = s3.token; $0.csat = 4 })

        let followUps = Support_Feedback_V1_FollowUpService.Client(wrapping: grpc)
        func followUp(dueInHours: Double) async throws -> Support_Feedback_V1_FollowUp {
          try await followUps.createFollowUp(.with {
            $0.requestID = uniqueID("req"); $0.ticketID = uniqueID("ticket"); $0.agentID = agentB
            $0.dueTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(dueInHours * 3600))
            $0.shopperID = uniqueID("shopper"); $0.channel = .app; $0.ticketType = "INQUIRY"; $0.skillGroup = skill
          })
        }
        _ = try await followUp(dueInHours: -0.1)  // overdue: due 6 minutes ago, still pending
        let satisfied = try await followUp(dueInHours: 2), dissatisfied = try await followUp(dueInHours: 2), unreached = try await followUp(dueInHours: 2)
        _ = try await followUps.recordFollowUpOutcome(.with { $0.followUpID = satisfied.followUpID; $0.reached = true; $0.satisfaction = .satisfied })
        _ = try await followUps.recordFollowUpOutcome(.with { $0.followUpID = dissatisfied.followUpID; $0.reached = true; $0.satisfaction = .dissatisfied; $0.reason = "still broken" })
        _ = try await followUps.recordFollowUpOutcome(.with { $0.followUpID = unreached.followUpID; $0.reached = false })
      }
      day.seededUntil = Date()
      return day
    }

    static func request(_ day: Day, _ groupBy: [Support_Feedback_V1_MetricsDimension] = []) -> Support_Feedback_V1_GetServiceMetricsRequest {
      .with {
        $0.timeRange = .with {
          // Whole seconds, so a clipped bucket start compares equal.
          $0.startTime = Google_Protobuf_Timestamp(seconds: Int64(day.start.timeIntervalSince1970) - 3600, nanos: 0)
          $0.endTime = Google_Protobuf_Timestamp(seconds: Int64(day.seededUntil.timeIntervalSince1970) + 3600, nanos: 0)
        }
        $0.groupBy = groupBy
        $0.filter = .with { $0.skillGroups = [day.skill] }
      }
    }

    /// Asks until data_through_time is past the seeding (every event applied).
    static func settled(_ m: Mesh, _ day: Day) async throws -> Support_Feedback_V1_GetServiceMetricsResponse {
      var response = Support_Feedback_V1_GetServiceMetricsResponse()
      try await waitFor(seconds: 60) {
        response = try await m.withGateway(as: .supervisor("sup")) { grpc in try await Quality(wrapping: grpc).getServiceMetrics(request(day)) }
        return response.dataThroughTime.date > day.seededUntil
      }
      return response
    }

    static func nearestRank(_ values: [Int64], _ percent: Int) -> Int64 {
      let sorted = values.sorted()
      return sorted[max(1, (percent * sorted.count + 99) / 100) - 1]
    }

    static func duration(_ ms: Int64) -> Google_Protobuf_Duration { Google_Protobuf_Duration(seconds: ms / 1000, nanos: Int32(ms % 1000) * 1_000_000) }

    @Test("a seeded day of work: every number equals the hand computation; rows by agent; agents see their own; trends by category")
    func seededDay() async throws {
      let m = try mesh
      let day = try await Self.seed(m)
      let total = try await Self.settled(m, day).total

      // Cases: 4 created, 1 return; handled = t1 resolved, t3 rejected, t4 resolved (then reopened).
      #expect(total.returnExchange.ticketCount == 4 && total.returnExchange.returnExchangeCount == 1 && total.returnExchange.shareOfTickets == 0.25)
      #expect(total.returnExchange.deliveredOrderCount == 0 && total.returnExchange.ratePerOrder == 0, "orders have no skill group")
      #expect(total.resolution.handledCount == 3 && total.resolution.resolvedCount == 1 && total.resolution.reopenedCount == 1)
      #expect(total.resolution.resolutionRate == 1.0 / 3.0)
      #expect(total.complaints.complaintCount == 1 && total.complaints.serviceAttitudeCount == 1 && total.complaints.complaintRate == 1.0 / 3.0)
      // Durations: the three acknowledged cases, the two resolved inquiries.
      for (stats, samples, target) in [
        (total.ticketFirstResponse, day.firstResponseMillis, Int64(24 * 3_600_000)), (total.resolutionTime, day.resolveMillis, Int64(72 * 3_600_000)),
      ] {
        #expect(stats.count == samples.count)
        #expect(abs(Self.millisOf(stats.average) - samples.reduce(0, +) / Int64(samples.count)) <= 1, "\(stats) \(samples)")
        // Percentiles at 1-second resolution, rounded up (a millisecond either way for the
        // test's own timestamp arithmetic).
        for (percentile, reported) in [(50, stats.p50), (90, stats.p90)] {
          let rank = Self.nearestRank(samples, percentile)
          #expect(Set([rank - 1, rank, rank + 1].map { ($0 + 999) / 1000 * 1000 }).contains(Self.millisOf(reported)), "p\(percentile) \(reported) of \(samples)")
        }
        #expect(stats.withinTargetRate == 1 && stats.target == Self.duration(target))
      }
      #expect(total.chatFirstResponse.count == 0 && total.chatFirstResponse.target == Self.duration(6000))
      // Surveys: 4 by hand + 2 for the resolved cases; answers csat 5, 2, 4 and nps 10, 3.
      #expect(total.csat.surveyCount == 6 && total.csat.responseCount == 3 && total.csat.responseRate == 0.5)
      #expect(total.csat.average == 11.0 / 3.0 && total.csat.satisfiedRate == 2.0 / 3.0)
      #expect(total.csat.distribution.map(\.score) == [1, 2, 3, 4, 5] && total.csat.distribution.map(\.count) == [0, 1, 0, 1, 1])
      #expect(total.nps.responseCount == 2 && total.nps.promoters == 1 && total.nps.passives == 0 && total.nps.detractors == 1 && total.nps.score == 0)
      // Follow-ups: three finished (two reached, one of them dissatisfied), one overdue.
      #expect(total.followUps.finishedCount == 3 && total.followUps.reachedCount == 2 && total.followUps.reachRate == 2.0 / 3.0)
      #expect(total.followUps.dissatisfiedCount == 1 && total.followUps.dissatisfiedRate == 0.5 && total.followUps.overdueCount == 1)

      try await m.withGateway(as: .supervisor("sup")) { grpc in
        let quality = Quality(wrapping: grpc)
        // By agent: the complaint came from no conversation, so it counts against nobody ("");
        // the return and the rejection count for B, whom TicketAssignedEvent names.
        let byAgent = try await quality.getServiceMetrics(Self.request(day, [.agent]))
        #expect(byAgent.rows.map(\.key.agentID) == ["", day.agentA, day.agentB].sorted())
        #expect(byAgent.total == total, "the total is over every row")
        let rows = Dictionary(uniqueKeysWithValues: byAgent.rows.map { ($0.key.agentID, $0.metrics) })
        let a = try #require(rows[day.agentA]), b = try #require(rows[day.agentB]), none = try #require(rows[""])
        #expect(a.returnExchange.ticketCount == 2 && a.resolution.handledCount == 2 && a.resolution.resolvedCount == 1 && a.resolution.reopenedCount == 1)
        #expect(a.csat.surveyCount == 5 && a.csat.responseCount == 2 && a.csat.average == 4.5)
        #expect(none.returnExchange.ticketCount == 0 && none.complaints.complaintCount == 1 && none.resolution.handledCount == 0)
        #expect(b.csat.surveyCount == 1 && b.csat.average == 2 && b.followUps.finishedCount == 3 && b.followUps.overdueCount == 1)
        #expect(b.returnExchange.ticketCount == 2 && b.returnExchange.returnExchangeCount == 1 && b.resolution.handledCount == 1 && b.resolution.resolvedCount == 0)
        #expect(b.ticketFirstResponse.count == 1 && a.ticketFirstResponse.count == 2)

        // Paging: one row per page, the token bound to the request.
        var paged: [String] = []
        var request = Self.request(day, [.agent])
        request.pageSize = 1
        repeat {
          let page = try await quality.getServiceMetrics(request)
          paged += page.rows.map(\.key.agentID)
          #expect(page.total == total)
          request.pageToken = page.nextPageToken
        } while !request.pageToken.isEmpty
        #expect(paged == byAgent.rows.map(\.key.agentID))
        var other = Self.request(day, [.agent])
        other.pageSize = 1
        other.pageToken = try await quality.getServiceMetrics(other).nextPageToken
        other.filter.agentIds = [day.agentA]
        await expectCode(.invalidArgument, containing: "page_token") { try await quality.getServiceMetrics(other) }

        // By day in Shanghai: one day, starting at local midnight.
        let byDay = try await quality.getServiceMetrics(.with {
          $0 = Self.request(day, [.day]); $0.timeZone = "Asia/Shanghai"
        })
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let midnights = Set([day.start.addingTimeInterval(-3600), day.start, day.seededUntil].map { calendar.startOfDay(for: $0) })
        #expect(Set(byDay.rows.map { $0.key.dayStartTime.date }).isSubset(of: midnights) && byDay.total == total)
        #expect(byDay.rows.reduce(0) { $0 + $1.metrics.returnExchange.ticketCount } == 4)

        // By week in Shanghai: Monday midnights, the same total.
        let byWeek = try await quality.getServiceMetrics(.with { $0 = Self.request(day, [.week]); $0.timeZone = "Asia/Shanghai" })
        #expect(byWeek.total == total && byWeek.rows.reduce(0) { $0 + $1.metrics.returnExchange.ticketCount } == 4)
        #expect(byWeek.rows.allSatisfy { calendar.component(.weekday, from: $0.key.weekStartTime.date) == 2 && calendar.startOfDay(for: $0.key.weekStartTime.date) == $0.key.weekStartTime.date })

        // Scorecards with the default weights (first response 20, resolution 25, return/exchange
        // 10, csat 30, complaints 15). A: responses 2/2 within target, resolved 1 of 2, no
        // returns, csat 4.5, no complaint: (20 + 12.5 + 10 + 26.25 + 15) / 100. B: its one
        // acknowledgement within target, its rejection unresolved, a return among its two cases,
        // csat 2, no complaint against it: (20 + 0 + 5 + 7.5 + 15) / 100.
        let cards = try await quality.listAgentScorecards(.with { $0.timeRange = Self.request(day).timeRange; $0.filter = .with { $0.skillGroups = [day.skill] } })
        #expect(cards.scorecards.map(\.agentID) == [day.agentA, day.agentB] && cards.weights.csat == 30)
        let cardA = try #require(cards.scorecards.first), cardB = try #require(cards.scorecards.last)
        #expect(abs(cardA.score - 83.75) < 1e-9 && cardA.firstResponse == 1 && cardA.resolution == 0.5 && cardA.returnExchange == 1)
        #expect(cardA.csat == 0.875 && cardA.complaints == 1)
        #expect(abs(cardB.score - 47.5) < 1e-9 && cardB.csat == 0.25 && cardB.resolution == 0 && cardB.firstResponse == 1)
        #expect(cardB.returnExchange == 0.5 && cardB.complaints == 1)

        // Complaint trends: one series, SERVICE_ATTITUDE, one complaint, none before.
        let trends = try await quality.listComplaintTrends(.with {
          $0.timeRange = Self.request(day).timeRange; $0.granularity = .day; $0.filter = .with { $0.skillGroups = [day.skill] }
        })
        #expect(trends.series.count == 1)
        let series = try #require(trends.series.first)
        #expect(series.category == "SERVICE_ATTITUDE" && series.totalCount == 1 && series.previousTotalCount == 0 && series.changeRate == 0)
        #expect(series.points.reduce(0) { $0 + $1.count } == 1 && series.points.first?.bucketStartTime == Self.request(day).timeRange.startTime)
      }

      // An agent sees only their own numbers, and may not ask for another agent's.
      try await m.withGateway(as: .agent(day.agentA)) { grpc in
        let quality = Quality(wrapping: grpc)
        let own = try await quality.getServiceMetrics(Self.request(day))
        #expect(own.total.returnExchange.ticketCount == 2 && own.total.csat.responseCount == 2)
        var others = Self.request(day)
        others.filter.agentIds = [day.agentB]
        await expectCode(.permissionDenied) { try await quality.getServiceMetrics(others) }
      }
      try await m.withGateway(as: .shopper(uniqueID("shopper"))) { grpc in
        await expectCode(.permissionDenied) { try await Quality(wrapping: grpc).getServiceMetrics(Self.request(day)) }
      }
    }

    static func millisOf(_ duration: Google_Protobuf_Duration) -> Int64 { duration.seconds * 1000 + Int64(duration.nanos / 1_000_000) }

    @Test("bad requests are INVALID_ARGUMENT naming the field")
    func validation() async throws {
      let m = try mesh
      try await m.withGateway(as: .supervisor("sup")) { grpc in
        let quality = Quality(wrapping: grpc)
        let now = Date()
        func range(days: Double, end: Date = now) -> Support_Common_V1_TimeRange {
          .with { $0.startTime = Google_Protobuf_Timestamp(date: end.addingTimeInterval(-days * 86_400)); $0.endTime = Google_Protobuf_Timestamp(date: end) }
        }
        let cases: [(String, (inout Support_Feedback_V1_GetServiceMetricsRequest) -> Void)] = [
          ("time_range", { $0.clearTimeRange() }),
          ("time_range.start_time", { $0.timeRange.clearStartTime() }),
          ("time_range.end_time", { $0.timeRange.clearEndTime() }),
          ("time_range", { $0.timeRange = range(days: 0) }),
          ("time_range", { $0.timeRange = range(days: -1) }),
          ("time_range", { $0.timeRange = range(days: 367) }),
          ("time_range", { $0.timeRange = range(days: 93); $0.groupBy = [.day] }),
          ("group_by", { $0.groupBy = [.unspecified] }),
          ("group_by", { $0.groupBy = [.agent, .agent] }),
          ("group_by", { $0.groupBy = [.agent, .category, .channel] }),
          ("time_zone", { $0.timeZone = "Mars/Olympus" }),
          ("page_size", { $0.pageSize = -1 }),
          ("page_size", { $0.pageSize = 501 }),
          ("page_token", { $0.pageToken = "not-a-token" }),
          ("filter.channels", { $0.filter.channels = [.unspecified] }),
        ]
        for (field, breakIt) in cases {
          var request = Support_Feedback_V1_GetServiceMetricsRequest.with { $0.timeRange = range(days: 7) }
          breakIt(&request)
          await expectCode(.invalidArgument, containing: field) { try await quality.getServiceMetrics(request) }
        }
        // 366 days, and 92 days by DAY, are accepted.
        _ = try await quality.getServiceMetrics(.with { $0.timeRange = range(days: 366) })
        _ = try await quality.getServiceMetrics(.with { $0.timeRange = range(days: 92); $0.groupBy = [.day, .agent]; $0.timeZone = "Asia/Shanghai" })

        let trendCases: [(String, (inout Support_Feedback_V1_ListComplaintTrendsRequest) -> Void)] = [
          ("time_range", { $0.clearTimeRange() }),
          ("time_range", { $0.timeRange = range(days: 367) }),
          ("granularity", { $0.granularity = .unspecified }),
          ("time_zone", { $0.timeZone = "Nowhere" }),
          ("page_size", { $0.pageSize = 501 }),
          ("page_token", { $0.pageToken = "zzz" }),
        ]
        for (field, breakIt) in trendCases {
          var request = Support_Feedback_V1_ListComplaintTrendsRequest.with { $0.timeRange = range(days: 7); $0.granularity = .week }
          breakIt(&request)
          await expectCode(.invalidArgument, containing: field) { try await quality.listComplaintTrends(request) }
        }
      }
    }
  }
}
