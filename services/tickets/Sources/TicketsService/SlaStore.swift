import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

/// The SQL of service levels: the stored policy, and `sla_clocks`, one row per clock of a case
/// mirroring the clock on the case (TicketSla.clocks) with what the sweeper and the work queue
/// search by. Rows are written in the transaction of every change of the case (`sync`), and
/// by the sweeper after it locks the case, so a clock row never disagrees with its case.
enum SlaStore {
  static let migration = Migration(
    version: 10, name: "SLA policy and clocks",
    sql: """
      -- The one SLA policy (sla.proto); absent means the built-in default.
      CREATE TABLE sla_policy (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        version bigint NOT NULL,
        body bytea NOT NULL,
        updated_at timestamptz NOT NULL
      );
      -- One row per clock of a case. running: not met, not paused, not stopped.
      -- *_alerted_at: when the sweeper announced the crossing (once per due time).
      -- next_check_at: the next crossing to announce; NULL when none is left.
      CREATE TABLE sla_clocks (
        ticket_id uuid NOT NULL REFERENCES tickets (ticket_id),
        milestone smallint NOT NULL,
        due_at timestamptz NOT NULL,
        at_risk_at timestamptz NOT NULL,
        running boolean NOT NULL,
        at_risk_alerted_at timestamptz,
        breach_alerted_at timestamptz,
        next_check_at timestamptz,
        assignee_agent_id text NOT NULL,
        skill_group_id text NOT NULL,
        priority smallint NOT NULL,
        PRIMARY KEY (ticket_id, milestone)
      );
      -- The sweeper: only clocks with a crossing left.
      CREATE INDEX sla_clocks_next_check_idx ON sla_clocks (next_check_at) WHERE next_check_at IS NOT NULL;
      -- The work queue (running clocks by due time), and one per filter with the same order.
      CREATE INDEX sla_clocks_queue_idx ON sla_clocks (due_at, ticket_id, milestone) WHERE running;
      CREATE INDEX sla_clocks_queue_unassigned_idx ON sla_clocks (due_at, ticket_id, milestone) WHERE running AND assignee_agent_id = '';
      CREATE INDEX sla_clocks_queue_skill_group_idx ON sla_clocks (skill_group_id, due_at, ticket_id, milestone) WHERE running;
      CREATE INDEX sla_clocks_queue_priority_idx ON sla_clocks (priority, due_at, ticket_id, milestone) WHERE running
      """
  )

  // MARK: - policy

  /// The stored policy, or nil before the first update.
  static func storedPolicy(on connection: PostgresConnection, logger: Logger) async throws -> SlaPolicy? {
    for try await body in try await connection.query("SELECT body FROM sla_policy", logger: logger).decode(ByteBuffer.self) {
      return try SlaPolicy(bytea: body)
    }
    return nil
  }

  /// Replaces the policy (ABORTED when `expectedVersion` is set and stale); returns it stored.
  static func updatePolicy(_ policy: SlaPolicy, expectedVersion: Int64, by actor: Support_Common_V1_Actor, database: Database, logger: Logger) async throws -> SlaPolicy {
    try await database.withTransaction(logger: logger) { connection in
      // Serialises updates: the first has no row to lock.
      try await connection.query("SELECT pg_advisory_xact_lock(hashtext('tickets.sla_policy'))", logger: logger)
      let current = try await storedPolicy(on: connection, logger: logger)?.version ?? 0
      if expectedVersion != 0 && expectedVersion != current {
        throw ServiceError.versionMismatch("the SLA policy", expected: expectedVersion, actual: current)
      }
      let stored = SlaPolicies.normalized(policy, version: current + 1, by: actor, at: Date.nowMicroseconds)
      try await connection.query(
        """
        INSERT INTO sla_policy (singleton, version, body, updated_at) VALUES (true, \(stored.version), \(try stored.bytea()), \(stored.updateTime.date))
        ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version, body = EXCLUDED.body, updated_at = EXCLUDED.updated_at
        """, logger: logger)
      return stored
    }
  }

  /// The new case with its due times and clocks from the policy in force (read in the
  /// create's transaction, so a policy update applies from the next create on, everywhere).
  static func startClocks(_ ticket: Ticket, defaults: SlaPolicy, on connection: PostgresConnection, logger: Logger) async throws -> Ticket {
    var started = ticket
    started.startSlaClocks(policy: try await storedPolicy(on: connection, logger: logger) ?? defaults, defaults: defaults)
    return started
  }

  // MARK: - clocks

  /// Writes the case's clock rows as of now: due and at-risk times, whether running, the
  /// queue's filter columns, and the next crossing to announce. A crossing already announced
  /// is announced again only if its time moved past the announcement (e.g. a reopen).
  static func sync(_ ticket: Ticket, now: Date = Date.nowMicroseconds, on connection: PostgresConnection, logger: Logger) async throws {
    let id = UUID(uuidString: ticket.ticketID)!
    for clock in ticket.liveSlaClocks(at: now) {
      let running = [.active, .atRisk, .breached].contains(clock.state)
      try await connection.query(
        """
        INSERT INTO sla_clocks (ticket_id, milestone, due_at, at_risk_at, running, assignee_agent_id, skill_group_id, priority)
        VALUES (\(id), \(Int16(clock.milestone.rawValue)), \(clock.dueTime.date), \(clock.atRiskTime.date), \(running),
          \(ticket.assigneeAgentID), \(ticket.skillGroupID), \(Int16(ticket.priority.rawValue)))
        ON CONFLICT (ticket_id, milestone) DO UPDATE SET
          due_at = EXCLUDED.due_at, at_risk_at = EXCLUDED.at_risk_at, running = EXCLUDED.running,
          assignee_agent_id = EXCLUDED.assignee_agent_id, skill_group_id = EXCLUDED.skill_group_id, priority = EXCLUDED.priority,
          at_risk_alerted_at = CASE WHEN EXCLUDED.at_risk_at > sla_clocks.at_risk_alerted_at THEN NULL ELSE sla_clocks.at_risk_alerted_at END,
          breach_alerted_at = CASE WHEN EXCLUDED.due_at > sla_clocks.breach_alerted_at THEN NULL ELSE sla_clocks.breach_alerted_at END
        """, logger: logger)
    }
    try await scheduleNextCheck(id, on: connection, logger: logger)
  }

  /// next_check_at: the at-risk time until announced (unless it equals the due time), then the
  /// due time until announced, then none; none while not running.
  static func scheduleNextCheck(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query(
      """
      UPDATE sla_clocks SET next_check_at = CASE
          WHEN NOT running THEN NULL
          WHEN at_risk_alerted_at IS NULL AND at_risk_at < due_at THEN at_risk_at
          WHEN breach_alerted_at IS NULL THEN due_at
          ELSE NULL END
      WHERE ticket_id = \(id)
      """, logger: logger)
  }

  /// A clock row as the sweeper needs it.
  struct ClockRow {
    var running: Bool
    var atRiskAt: Date
    var dueAt: Date
    var atRiskAlerted: Bool
    var breachAlerted: Bool
  }

  /// Clocks whose next crossing is due by `now`, earliest first.
  static func dueChecks(now: Date, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [(ticketID: UUID, milestone: SlaMilestone)] {
    let rows = try await connection.query(
      """
      SELECT ticket_id, milestone FROM sla_clocks WHERE next_check_at <= \(now)
      ORDER BY next_check_at LIMIT \(Int64(limit))
      """, logger: logger
    ).decode((UUID, Int16).self)
    var checks: [(ticketID: UUID, milestone: SlaMilestone)] = []
    for try await (id, milestone) in rows { checks.append((id, SlaMilestone(rawValue: Int(milestone)) ?? .unspecified)) }
    return checks
  }

  static func clockRow(_ id: UUID, _ milestone: SlaMilestone, on connection: PostgresConnection, logger: Logger) async throws -> ClockRow? {
    let rows = try await connection.query(
      """
      SELECT running, at_risk_at, due_at, at_risk_alerted_at IS NOT NULL, breach_alerted_at IS NOT NULL
      FROM sla_clocks WHERE ticket_id = \(id) AND milestone = \(Int16(milestone.rawValue))
      """, logger: logger
    ).decode((Bool, Date, Date, Bool, Bool).self)
    for try await (running, atRisk, due, atRiskAlerted, breachAlerted) in rows {
      return ClockRow(running: running, atRiskAt: atRisk, dueAt: due, atRiskAlerted: atRiskAlerted, breachAlerted: breachAlerted)
    }
    return nil
  }

  static func markAlerted(_ id: UUID, _ milestone: SlaMilestone, atRisk: Bool, breach: Bool, at now: Date, on connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query(
      """
      UPDATE sla_clocks SET
        at_risk_alerted_at = CASE WHEN \(atRisk) THEN \(now) ELSE at_risk_alerted_at END,
        breach_alerted_at = CASE WHEN \(breach) THEN \(now) ELSE breach_alerted_at END
      WHERE ticket_id = \(id) AND milestone = \(Int16(milestone.rawValue))
      """, logger: logger)
    try await scheduleNextCheck(id, on: connection, logger: logger)
  }

  // MARK: - work queue

  struct QueueFilter {
    var atRiskOnly = false
    var breachedOnly = false
    var unassignedOnly = false
    var skillGroupID = ""
    var priorities: [Support_Tickets_V1_Priority] = []
    var milestones: [SlaMilestone] = []
  }

  /// One page of running clocks by due time; `after` is the last (due µs, ticket id,
  /// milestone) of the previous page. Each with its case.
  static func queue(
    _ filter: QueueFilter, now: Date, after: (priority: Int16, micros: Int64, id: UUID, milestone: Int16)?, limit: Int, database: Database,
    logger: Logger
  ) async throws -> [(ticket: Ticket, milestone: SlaMilestone, micros: Int64, priority: Int16)] {
    var bindings = PostgresBindings()
    func bind<T: PostgresNonThrowingEncodable & Sendable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    var conditions = ["c.running"]
    if filter.atRiskOnly { conditions.append("c.at_risk_at <= \(bind(now)) AND c.due_at > \(bind(now))") }
    if filter.breachedOnly { conditions.append("c.due_at <= \(bind(now))") }
    if filter.unassignedOnly { conditions.append("c.assignee_agent_id = ''") }
    if !filter.skillGroupID.isEmpty { conditions.append("c.skill_group_id = \(bind(filter.skillGroupID))") }
    if !filter.priorities.isEmpty { conditions.append("c.priority = ANY(\(bind(filter.priorities.map { Int16($0.rawValue) })))") }
    if !filter.milestones.isEmpty { conditions.append("c.milestone = ANY(\(bind(filter.milestones.map { Int16($0.rawValue) })))") }
    if let after {
      let priority = bind(after.priority)
      conditions.append(
        """
        (c.priority < \(priority) OR (c.priority = \(priority) AND (c.due_at, c.ticket_id, c.milestone)
          > ('epoch'::timestamptz + \(bind(after.micros)) * interval '1 microsecond', \(bind(after.id)), \(bind(after.milestone)))))
        """)
    }
    // Urgent and important cases first (URGENT, HIGH, NORMAL, LOW), each by due time.
    let sql = """
      SELECT t.body, c.milestone, (extract(epoch FROM c.due_at) * 1000000)::int8, c.priority
      FROM sla_clocks c JOIN tickets t ON t.ticket_id = c.ticket_id
      WHERE \(conditions.joined(separator: " AND "))
      ORDER BY c.priority DESC, c.due_at, c.ticket_id, c.milestone LIMIT \(bind(Int64(limit)))
      """
    let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
    return try await database.withConnection(logger: logger) { connection in
      var items: [(ticket: Ticket, milestone: SlaMilestone, micros: Int64, priority: Int16)] = []
      for try await (body, milestone, micros, priority) in try await connection.query(query, logger: logger)
        .decode((ByteBuffer, Int16, Int64, Int16).self)
      {
        items.append((try Ticket(bytea: body), SlaMilestone(rawValue: Int(milestone)) ?? .unspecified, micros, priority))
      }
      return items
    }
  }
}
