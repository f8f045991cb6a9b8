import Foundation
import Logging
import PostgresNIO
import SupportCodec
import SwiftProtobuf
import Testing

@testable import FeedbackService

extension MeshTests {
  /// The quality facts at the store level, on the mesh's real PostgreSQL in a schema of their
  /// own: events applied twice, in reverse and in shuffled order leave exactly the same measure
  /// rows as applied once in order.
  @Suite("Service quality facts: late, twice, out of order")
  struct ServiceQualityFacts {
    static func at(_ seconds: Int64) -> Google_Protobuf_Timestamp { Google_Protobuf_Timestamp(seconds: 1_790_000_000 + seconds, nanos: 0) }

    /// A complaint escalated from a chat (resolved, reopened, resolved again), an inquiry
    /// rejected, the chat's closing, and one order delivered by two parcels.
    static func events() -> [Support_Events_V1_EventEnvelope] {
      func envelope(_ payload: Support_Events_V1_EventEnvelope.OneOf_Payload) -> Support_Events_V1_EventEnvelope {
        .with { $0.eventID = UUID().uuidString.lowercased(); $0.payload = payload }
      }
      let complaint = "t-complaint", inquiry = "t-inquiry", conversation = "c-1"
      return [
        envelope(.ticketCreated(.with {
          $0.ticketID = complaint; $0.ticketVersion = 1; $0.type = .complaint; $0.category = .serviceAttitude; $0.skillGroupID = "g"
          $0.channel = .app; $0.source = .with { $0.kind = .conversation; $0.id = conversation }; $0.occurTime = at(100)
        })),
        envelope(.conversationClosed(.with {
          $0.conversationID = conversation; $0.agentID = "agent-x"; $0.skillGroupID = "g"; $0.channel = .app
          $0.closeTime = at(150); $0.firstResponseTime = .init(seconds: 3, nanos: 500_000_000); $0.escalationIds = ["e-1"]
          $0.answeredMessageCount = 4; $0.answeredWithinTargetCount = 3; $0.totalResponseTime = .init(seconds: 10, nanos: 500_000_000)
        })),
        envelope(.ticketResolved(.with {
          $0.ticketID = complaint; $0.ticketVersion = 5; $0.type = .complaint; $0.category = .serviceAttitude; $0.skillGroupID = "g"
          $0.channel = .app; $0.assigneeAgentID = "agent-y"; $0.createTime = at(100); $0.firstResponseTime = at(160)
          $0.timeToFirstResponse = .init(seconds: 60); $0.resolveTime = at(400); $0.timeToResolve = .init(seconds: 300); $0.occurTime = at(400)
        })),
        envelope(.ticketReopened(.with {
          $0.ticketID = complaint; $0.ticketVersion = 6; $0.type = .complaint; $0.category = .serviceAttitude; $0.assigneeAgentID = "agent-y"; $0.occurTime = at(500)
        })),
        envelope(.ticketResolved(.with {
          $0.ticketID = complaint; $0.ticketVersion = 8; $0.type = .complaint; $0.category = .serviceAttitude; $0.skillGroupID = "g"
          $0.channel = .app; $0.assigneeAgentID = "agent-y"; $0.createTime = at(100); $0.firstResponseTime = at(160)
          $0.timeToFirstResponse = .init(seconds: 60); $0.resolveTime = at(700); $0.timeToResolve = .init(seconds: 450); $0.occurTime = at(700)
        })),
        envelope(.ticketCreated(.with {
          $0.ticketID = inquiry; $0.ticketVersion = 1; $0.type = .inquiry; $0.category = .transaction; $0.skillGroupID = "g"; $0.channel = .web; $0.occurTime = at(200)
        })),
        envelope(.ticketRejected(.with {
          $0.ticketID = inquiry; $0.ticketVersion = 3; $0.type = .inquiry; $0.category = .transaction; $0.createTime = at(200); $0.occurTime = at(260)
        })),
        envelope(.shipmentDelivered(.with { $0.kind = .outbound; $0.orderID = "o-1"; $0.shipmentID = "s-2"; $0.deliveredTime = at(900) })),
        envelope(.shipmentDelivered(.with { $0.kind = .outbound; $0.orderID = "o-1"; $0.shipmentID = "s-1"; $0.deliveredTime = at(800) })),
        envelope(.shipmentDelivered(.with { $0.kind = .`return`; $0.orderID = "o-2"; $0.shipmentID = "s-3"; $0.deliveredTime = at(850) })),
        // The complaint acknowledged by agent-z, then reassigned to agent-y (the resolutions
        // carry the same acknowledgement); the inquiry assigned to agent-q before its rejection.
        envelope(.ticketFirstResponded(.with {
          $0.ticketID = complaint; $0.ticketVersion = 3; $0.type = .complaint; $0.category = .serviceAttitude; $0.skillGroupID = "g"
          $0.channel = .app; $0.assigneeAgentID = "agent-z"; $0.createTime = at(100); $0.firstResponseTime = at(160)
          $0.timeToFirstResponse = .init(seconds: 60); $0.occurTime = at(160)
        })),
        envelope(.ticketAssigned(.with {
          $0.ticketID = complaint; $0.ticketVersion = 4; $0.type = .complaint; $0.category = .serviceAttitude; $0.fromAgentID = "agent-z"
          $0.toAgentID = "agent-y"; $0.toSkillGroupID = "g"; $0.channel = .app; $0.occurTime = at(170)
        })),
        envelope(.ticketAssigned(.with {
          $0.ticketID = inquiry; $0.ticketVersion = 2; $0.type = .inquiry; $0.category = .transaction; $0.toAgentID = "agent-q"
          $0.toSkillGroupID = "g"; $0.channel = .web; $0.occurTime = at(230)
        })),
      ]
    }

    static let settings = QualitySettings(
      chatFirstResponseTargetMillis: 6000, ticketFirstResponseTargetMillis: 86_400_000, resolutionTargetMillis: 259_200_000,
      returnExchangeTypes: ["RETURN_AND_REFUND", "EXCHANGE"])

    /// Applies `events` one transaction each, as the subscriptions do, in a fresh schema, and
    /// returns the measure rows.
    static func measures(after orders: [[Support_Events_V1_EventEnvelope]], client: PostgresClient, logger: Logger) async throws -> [String] {
      let schema = "quality_test_\(UUID().uuidString.prefix(8).lowercased())"
      return try await client.withConnection { connection in
        try await connection.query("CREATE SCHEMA \(unescaped: schema)", logger: logger)
        try await connection.query("SET search_path TO \(unescaped: schema)", logger: logger)
        for statement in QualityMigrations.facts.statements + QualityMigrations.hourly.statements + QualityMigrations.daily.statements {
          try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        for events in orders {
          for event in events {
            try await connection.query("BEGIN", logger: logger)
            try await TicketQualityFacts.apply(event, settings: settings, on: connection, logger: logger)
            try await ConversationQualityFacts.apply(event, settings: settings, on: connection, logger: logger)
            try await DeliveredOrderFact.apply(event, on: connection, logger: logger)
            try await connection.query("COMMIT", logger: logger)
          }
        }
        let rows = try await Self.strings(
          connection,
          """
          SELECT concat_ws('|', fact_key, measure, (extract(epoch FROM at) - 1790000000)::bigint, value,
            coalesce(((extract(epoch FROM until_at) - 1790000000)::bigint)::text, '-'), agent_id, category, skill_group, channel, ticket_type, subject_kind)
          FROM quality_measures ORDER BY 1
          """, logger: logger)
        // The hourly buckets, kept by delta, equal the bucketed measure rows aggregated afresh.
        let buckets = try await Self.strings(
          connection,
          """
          SELECT concat_ws('|', hour, measure, value, agent_id, category, skill_group, channel, ticket_type, subject_kind, count, value_sum)
          FROM quality_hourly WHERE count <> 0 ORDER BY 1
          """, logger: logger)
        let fresh = try await Self.strings(
          connection,
          """
          SELECT concat_ws('|', h, measure, v, agent_id, category, skill_group, channel, ticket_type, subject_kind, n, total) FROM (
            SELECT date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS h, measure,
              CASE WHEN measure IN (1, 2, 3) THEN (value + 999) / 1000 ELSE value END AS v,
              agent_id, category, skill_group, channel, ticket_type, subject_kind, count(*) AS n, sum(value) AS total
            FROM quality_measures WHERE until_at IS NULL AND measure <> 12 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9) AS fresh
          ORDER BY 1
          """, logger: logger)
        #expect(buckets == fresh && !buckets.isEmpty, "hourly buckets \(buckets) vs measures \(fresh)")
        try await Self.expectDailyMatchesMeasures(connection, logger: logger)
        try await connection.query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: logger)
        try await connection.query("SET search_path TO public", logger: logger)
        return rows
      }
    }

    /// Once folded, the daily totals equal the bucketed measure rows summed per day of the
    /// stored zone afresh, and no day is left marked.
    static func expectDailyMatchesMeasures(_ connection: PostgresConnection, logger: Logger) async throws {
      try await QualityDailyFolder.fold(on: connection, logger: logger)
      #expect(try await Self.strings(connection, "SELECT count(*)::text FROM quality_daily_dirty", logger: logger) == ["0"])
      let days = try await Self.strings(
        connection, "SELECT concat_ws('|', day, measure, value, subject_kind, count, value_sum) FROM quality_daily WHERE count <> 0 ORDER BY 1", logger: logger)
      let fresh = try await Self.strings(
        connection,
        """
        SELECT concat_ws('|', d, measure, v, subject_kind, n, total) FROM (
          SELECT date_trunc('day', at AT TIME ZONE z.zone) AT TIME ZONE z.zone AS d, measure,
            CASE WHEN measure IN (1, 2, 3) THEN (value + 999) / 1000 ELSE value END AS v, subject_kind, count(*) AS n, sum(value) AS total
          FROM quality_measures, quality_day_zone z WHERE until_at IS NULL AND measure <> 12 GROUP BY 1, 2, 3, 4) AS fresh
        ORDER BY 1
        """, logger: logger)
      #expect(days == fresh && !days.isEmpty, "daily totals \(days) vs measures \(fresh)")
    }

    @Test("daily totals, hourly buckets and measure rows give the same counts for any range, zone and grouping")
    func aggregateTiers() async throws {
      let logger = Logger(label: "quality-tiers-test")
      try await Self.withAdminClient { client in
        try await client.withConnection { connection in
          let schema = "quality_tiers_\(UUID().uuidString.prefix(8).lowercased())"
          try await connection.query("CREATE SCHEMA \(unescaped: schema)", logger: logger)
          try await connection.query("SET search_path TO \(unescaped: schema)", logger: logger)
          for statement in QualityMigrations.facts.statements + QualityMigrations.hourly.statements + QualityMigrations.daily.statements {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
          }
          // 400 facts over twelve days from a Monday 03:20 UTC, with durations, flags, scores,
          // ended contributions and follow-ups due; then a quarter of them moved or dropped.
          let base: Int64 = 1_789_956_000 * 1_000_000
          let kinds: [QualityMeasure.Kind] = [.chatFirstResponse, .ticketFirstResponse, .resolutionTime, .handled, .ticketCreated, .csat, .followUpDue, .deliveredOrder]
          func measures(_ i: Int, shift: Int64) -> [QualityMeasure] {
            let at = base + (Int64(i) * 2_591_237 + shift) % (12 * 86_400) * 1_000_000 + Int64(i % 1000) * 1000
            let kind = kinds[i % kinds.count]
            let value: Int64 = switch kind {
            case .chatFirstResponse, .ticketFirstResponse, .resolutionTime: Int64(i % 37) * 1_333 + 1
            case .csat: Int64(1 + i % 5)
            default: Int64(i % 2)
            }
            let dims = QualityMeasure.Dimensions(
              agentID: "a\(i % 3)", category: ["X", "Y"][i % 2], skillGroup: "g\(i % 2)", channel: Int16(1 + i % 3), ticketType: "T\(i % 2)",
              subjectKind: kind == .chatFirstResponse ? 1 : 2)
            let until: Int64? = (kind == .handled && i % 4 == 0) || kind == .followUpDue ? at + 3_600_000_000 : nil
            return [QualityMeasure(kind: kind, atMicros: at, value: value, untilMicros: until, dimensions: dims)]
          }
          for i in 0..<400 {
            try await connection.query("BEGIN", logger: logger)
            try await QualityFactStore.replaceMeasures("f\(i)", measures(i, shift: 0), on: connection, logger: logger)
            try await connection.query("COMMIT", logger: logger)
          }
          try await Self.expectDailyMatchesMeasures(connection, logger: logger)

          let hour: Int64 = 3_600_000_000
          let ranges: [(Int64, Int64)] = [
            (base, base + 12 * 86_400_000_000),  // everything, starting mid-hour
            (base + 7 * hour + 123, base + 9 * 86_400_000_000 + 5 * hour + 77),  // partial hours and days at both ends
            (base - 3 * 3_600_000_000 - 20 * 60_000_000, base + 2 * 86_400_000_000 + 17 * 60_000_000),  // a Shanghai midnight inside
          ]
          let groupings: [[Support_Feedback_V1_MetricsDimension]] = [[], [.day], [.week], [.month], [.agent]]
          var usedDaily = false, nonEmpty = 0
          // Folded; then a quarter of the facts moved or dropped (their days marked, read from
          // the hourly buckets); then folded again.
          for phase in 0..<3 {
          if phase == 1 {
            for i in stride(from: 0, to: 400, by: 4) {
              try await QualityFactStore.replaceMeasures("f\(i)", i % 8 == 0 ? [] : measures(i, shift: 90_061), on: connection, logger: logger)
            }
            #expect(try await Self.strings(connection, "SELECT count(*)::text FROM quality_daily_dirty", logger: logger) != ["0"])
          } else if phase == 2 {
            try await Self.expectDailyMatchesMeasures(connection, logger: logger)
          }
          for (start, end) in ranges {
            for zone in ["Asia/Shanghai", "UTC", "America/New_York", "Asia/Kolkata"] {
              for groupBy in groupings {
                for filter in [QualityQueryStore.Filter(), QualityQueryStore.Filter(subjectKind: 2), QualityQueryStore.Filter(agentIDs: ["a1"])] {
                  func counts(_ tiers: QualityQueryStore.Tiers) async throws -> [String] {
                    try await QualityQueryStore.counts(
                      start: start, end: end, groupBy: groupBy, timeZone: zone, filter: filter, withOrders: true, tiers: tiers, on: connection, logger: logger
                    ).map {
                      // `overdue` means something for follow-ups due only (the calculator reads it nowhere else).
                      "\($0.key)|\($0.measure)|\($0.value)|\($0.count)|\($0.holding)|\($0.measure == 12 ? $0.overdue : 0)|\($0.valueSum)"
                    }.sorted()
                  }
                  let all = try await counts(.all), hourly = try await counts(.hourlyAndRows), rows = try await counts(.rowsOnly)
                  nonEmpty += rows.isEmpty ? 0 : 1
                  #expect(all == rows && hourly == rows, "phase \(phase) \(start)-\(end) \(zone) \(groupBy) \(filter): all−rows \(Set(all).subtracting(rows).sorted()) rows−all \(Set(rows).subtracting(all).sorted()) hourly−rows \(Set(hourly).subtracting(rows).sorted())")
                  usedDaily = usedDaily || (filter.hasNoDimensions && (groupBy.isEmpty || zone == "Asia/Shanghai"))
                }
              }
            }
          }
          }
          #expect(usedDaily && nonEmpty > 300, "\(nonEmpty) of 540 comparisons had rows")
          // The daily tier is read: a change to it alone shows in .all only.
          try await connection.query("UPDATE quality_daily SET count = count + 1000", logger: logger)
          let (start, end) = ranges[0]
          let skewed = try await QualityQueryStore.counts(
            start: start, end: end, groupBy: [], timeZone: "UTC", filter: .init(), withOrders: true, tiers: .all, on: connection, logger: logger)
          let exact = try await QualityQueryStore.counts(
            start: start, end: end, groupBy: [], timeZone: "UTC", filter: .init(), withOrders: true, tiers: .rowsOnly, on: connection, logger: logger)
          #expect(skewed.reduce(0) { $0 + $1.count } > exact.reduce(0) { $0 + $1.count })
          try await connection.query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: logger)
          try await connection.query("SET search_path TO public", logger: logger)
        }
      }
    }

    /// A client of the mesh's PostgreSQL as its administrator, running for `body`.
    static func withAdminClient(_ body: @Sendable (PostgresClient) async throws -> Void) async throws {
      let m = try mesh
      let password = try String(contentsOf: m.state.appendingPathComponent("admin-password"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
      let client = PostgresClient(
        configuration: .init(host: "127.0.0.1", port: m.pgPort, username: "postgres", password: password, database: "supportmesh", tls: .disable))
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        try await body(client)
      }
    }

    static func strings(_ connection: PostgresConnection, _ query: PostgresQuery, logger: Logger) async throws -> [String] {
      var out: [String] = []
      for try await row in try await connection.query(query, logger: logger).decode(String.self) { out.append(row) }
      return out
    }

    @Test("redelivered, reversed and shuffled events give the same measures, and those are the facts' latest values")
    func orderIndependence() async throws {
      let logger = Logger(label: "quality-facts-test")
      try await Self.withAdminClient { client in
        let events = Self.events()
        let once = try await Self.measures(after: [events], client: client, logger: logger)
        #expect(try await Self.measures(after: [events, events], client: client, logger: logger) == once, "a redelivery changes nothing")
        #expect(try await Self.measures(after: [Array(events.reversed())], client: client, logger: logger) == once, "reverse order")
        #expect(try await Self.measures(after: [events.shuffled(), events.shuffled()], client: client, logger: logger) == once, "shuffled, twice")

        // What the facts say, by hand: fact|measure|at|value|until|agent|category|group|channel|type|kind
        #expect(once == [
          "conversation:c-1|1|150|3500|-|agent-x||g|2||1",  // chat first response 3.5 s, at closing
          "conversation:c-1|4|150|0|-|agent-x||g|2||1",  // handled, escalated: not resolved
          "conversation:c-1|14|150|4|-|agent-x||g|2||1",  // every reply: 4 answered,
          "conversation:c-1|15|150|3|-|agent-x||g|2||1",  // 3 of them within the target,
          "conversation:c-1|16|150|10500|-|agent-x||g|2||1",  // 10.5 s of delays in all
          "order:o-1|13|800|1|-||||0||0",  // delivered when the first parcel arrived (returns do not count)
          "ticket:t-complaint|2|160|60000|-|agent-y|SERVICE_ATTITUDE|g|2|COMPLAINT|2",  // first reply
          "ticket:t-complaint|3|700|450000|-|agent-y|SERVICE_ATTITUDE|g|2|COMPLAINT|2",  // latest resolution's time
          "ticket:t-complaint|4|700|1|-|agent-y|SERVICE_ATTITUDE|g|2|COMPLAINT|2",  // handled, resolved again after the reopen
          "ticket:t-complaint|5|500|1|-|agent-y|SERVICE_ATTITUDE|g|2|COMPLAINT|2",  // reopened
          "ticket:t-complaint|6|100|0|-|agent-y|SERVICE_ATTITUDE|g|2|COMPLAINT|2",  // created, not a return
          "ticket:t-complaint|7|100|1|-|agent-x|SERVICE_ATTITUDE|g|2|COMPLAINT|2",  // complaint against the chat's agent
          "ticket:t-inquiry|4|260|0|-|agent-q|TRANSACTION|g|1|INQUIRY|2",  // handled: rejected, by its assignee
          "ticket:t-inquiry|6|200|0|-|agent-q|TRANSACTION|g|1|INQUIRY|2",
        ].sorted())

        // A case sent back to its queue counts for no agent, whatever order the events come in.
        func envelope(_ payload: Support_Events_V1_EventEnvelope.OneOf_Payload) -> Support_Events_V1_EventEnvelope {
          .with { $0.eventID = UUID().uuidString.lowercased(); $0.payload = payload }
        }
        let queued = [
          envelope(.ticketCreated(.with {
            $0.ticketID = "t-queued"; $0.ticketVersion = 1; $0.type = .inquiry; $0.category = .transaction; $0.skillGroupID = "g"; $0.channel = .web; $0.occurTime = Self.at(300)
          })),
          envelope(.ticketAssigned(.with {
            $0.ticketID = "t-queued"; $0.ticketVersion = 2; $0.type = .inquiry; $0.category = .transaction; $0.toAgentID = "agent-q"
            $0.toSkillGroupID = "g"; $0.channel = .web; $0.occurTime = Self.at(310)
          })),
          envelope(.ticketAssigned(.with {
            $0.ticketID = "t-queued"; $0.ticketVersion = 3; $0.type = .inquiry; $0.category = .transaction; $0.fromAgentID = "agent-q"
            $0.toSkillGroupID = "g"; $0.channel = .web; $0.occurTime = Self.at(320)
          })),
          envelope(.ticketRejected(.with {
            $0.ticketID = "t-queued"; $0.ticketVersion = 4; $0.type = .inquiry; $0.category = .transaction; $0.createTime = Self.at(300); $0.occurTime = Self.at(330)
          })),
        ]
        let inQueue = try await Self.measures(after: [queued], client: client, logger: logger)
        #expect(inQueue == [
          "ticket:t-queued|4|330|0|-||TRANSACTION|g|1|INQUIRY|2",
          "ticket:t-queued|6|300|0|-||TRANSACTION|g|1|INQUIRY|2",
        ])
        #expect(try await Self.measures(after: [Array(queued.reversed())], client: client, logger: logger) == inQueue, "reverse order")
        #expect(try await Self.measures(after: [[queued[0], queued[2], queued[3], queued[1]]], client: client, logger: logger) == inQueue, "the assignment last")

        // Only up to the reopen: the resolution was undone by the end.
        let untilReopen = Array(events.prefix(4))
        let undone = try await Self.measures(after: [untilReopen], client: client, logger: logger)
        #expect(undone.contains("ticket:t-complaint|4|400|1|500|agent-y|SERVICE_ATTITUDE|g|2|COMPLAINT|2"), "\(undone)")
        #expect(try await Self.measures(after: [Array(untilReopen.reversed())], client: client, logger: logger) == undone)
      }
    }
  }
}
