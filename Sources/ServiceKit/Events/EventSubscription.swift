import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import SupportCodec

/// A consumer's subscription to one producer's event log (docs/events.md).
///
/// Reads the producer's support.events.v1.EventLog over gRPC (directly at the producer's
/// address, signing its own caller header as role `service`), and applies each event with
/// `handler` in a transaction of the consumer's own database that also records the event id
/// and moves the subscription's cursor: the effect, the dedupe record and the cursor commit
/// together or not at all, so each event takes effect exactly once, whatever the crashes and
/// reconnects.
///
/// Several instances of a consumer share a subscription: one leads (a lease on the cursor row,
/// renewed with every event and heartbeat), the others wait and take over when the lease runs
/// out. Every apply transaction locks the cursor row (`FOR UPDATE`) and checks that this
/// instance still leads and that the event is past the cursor, so even two instances that both
/// believe they lead cannot apply an event twice.
///
/// A handler that keeps failing (`maxAttempts`, with exponential backoff) parks the event:
/// stored with its error in `event_parked`, the cursor moves on, the stream is not blocked.
/// An operator lists parked events and asks for a retry (`supportmesh-SERVICE events parked`,
/// `events retry ID`); the leader retries requested ones at its next heartbeat.
///
/// Metrics, per subscription: `events_consumer_applied_total`, `events_consumer_redeliveries_total`
/// (handler attempts that failed and were retried), `events_consumer_parked_total`,
/// `events_consumer_parked` (parked now), `events_consumer_lag_events` (producer head − cursor),
/// `events_consumer_lag_seconds` (age of the last applied event while behind; 0 caught up).
public struct EventSubscription: Service {
  /// Applies one event's effect on the consumer's transaction. Throwing rolls the whole
  /// transaction back and counts as a failed attempt. Must ignore event types it does not know.
  public typealias Handler = @Sendable (EventEnvelope, PostgresConnection) async throws -> Void

  public struct Options: Sendable {
    /// Handler attempts before an event is parked.
    public var maxAttempts = 5
    /// Backoff before the second attempt; doubles with each further one.
    public var backoff: Duration = .milliseconds(200)
    /// How long a leader's lease lasts without renewal (heartbeats renew it).
    public var lease: Duration = .seconds(20)
    /// Pause before reconnecting, and between tries to take the lease.
    public var retryDelay: Duration = .seconds(1)
    /// How long processed event ids are kept for deduplication (the cursor alone already
    /// prevents a second effect; the ids guard against a producer replaying its log).
    public var processedRetention: Duration = .seconds(30 * 86_400)
    /// Called after each apply transaction commits, with the events it applied (for
    /// measurements; must return quickly).
    public var onApplied: (@Sendable ([EventEnvelope]) -> Void)?
    /// Called after a heartbeat showed every event the producer had committed when it sent the
    /// heartbeat applied, with the heartbeat's send time: the consumer's progress in time
    /// (feedback's quality numbers report it as data_through_time).
    public var onCaughtUp: (@Sendable (Date) async throws -> Void)?
    /// Most events applied in one transaction (when behind; caught up, each comes alone).
    public var maxBatch = 500
    /// A batch transaction takes no further event after running this long, so the position
    /// locks its handlers' announcements take are never held for long (see `applySlice`).
    public var maxBatchDuration: Duration = .milliseconds(100)
    /// Messages read ahead of the applier.
    public var readAhead = 2000
    public init() {}
  }

  /// Unique within the consumer's schema, e.g. "feedback.tickets-resolved".
  public let name: String
  /// The producer's gRPC address.
  public let producer: HostPort
  /// Event types to receive (full message names); empty for all.
  public let types: [String]
  let database: Database
  let callerHeader: SignedCallerHeader
  let caller: Caller
  let handler: Handler
  let options: Options
  let logger: Logger
  /// This instance, as written into the lease.
  public let instance: String

  public init(
    name: String, producer: HostPort, types: [String] = [], consumer: String, database: Database,
    callerHeader: SignedCallerHeader, options: Options = Options(), logger: Logger, instance: String = UUID().uuidString.lowercased(),
    handler: @escaping Handler
  ) {
    self.name = name
    self.producer = producer
    self.types = types
    self.database = database
    self.callerHeader = callerHeader
    self.caller = Caller(subject: consumer, role: .service, scopes: [Self.method])
    self.handler = handler
    self.options = options
    var logger = logger
    logger[metadataKey: "subscription"] = "\(name)"
    self.logger = logger
    self.instance = instance
  }

  static let method = Support_Events_V1_EventLog.Method.StreamEvents.descriptor.fullyQualifiedMethod

  /// The migration that creates a consumer's cursor, dedupe and parking tables; add it to the
  /// consumer service's migrations with the next free version.
  public static func migration(version: Int) -> Migration {
    Migration(
      version: version, name: "event subscriptions (ServiceKit EventSubscription)",
      sql: """
        CREATE TABLE event_cursors (
          subscription text PRIMARY KEY,
          position bigint NOT NULL DEFAULT 0,
          leader text NOT NULL DEFAULT '',
          lease_until timestamptz NOT NULL DEFAULT '-infinity',
          updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE event_processed (
          subscription text NOT NULL,
          event_id uuid NOT NULL,
          position bigint NOT NULL,
          processed_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (subscription, event_id)
        );
        CREATE INDEX event_processed_age_idx ON event_processed (processed_at);
        CREATE TABLE event_parked (
          subscription text NOT NULL,
          event_id uuid NOT NULL,
          position bigint NOT NULL,
          event_type text NOT NULL,
          envelope bytea NOT NULL,
          attempts integer NOT NULL,
          last_error text NOT NULL,
          parked_at timestamptz NOT NULL DEFAULT now(),
          retry_requested boolean NOT NULL DEFAULT false,
          PRIMARY KEY (subscription, event_id)
        );
        CREATE INDEX event_parked_retry_idx ON event_parked (subscription, position) WHERE retry_requested;
        """)
  }

  struct LostLead: Error {}

  /// Metric handles, made once per subscription.
  struct Meters {
    let applied, redeliveries, parkedTotal: Counter
    let parked, lagEvents, lagSeconds: Gauge
    /// From the event's occur time to the commit of its effect.
    let delivery: Timer

    init(_ name: String) {
      let dimensions = [("subscription", name)]
      applied = Counter(label: "events_consumer_applied_total", dimensions: dimensions)
      redeliveries = Counter(label: "events_consumer_redeliveries_total", dimensions: dimensions)
      parkedTotal = Counter(label: "events_consumer_parked_total", dimensions: dimensions)
      parked = Gauge(label: "events_consumer_parked", dimensions: dimensions)
      lagEvents = Gauge(label: "events_consumer_lag_events", dimensions: dimensions)
      lagSeconds = Gauge(label: "events_consumer_lag_seconds", dimensions: dimensions)
      delivery = Timer(label: "events_consumer_delivery_seconds", dimensions: dimensions)
    }
  }

  public func run() async throws {
    try await cancelWhenGracefulShutdown { try await self.follow() }
  }

  /// Takes the lead when free, streams, applies; until cancelled.
  func follow() async throws {
    let meters = Meters(name)
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: producer.host, port: producer.port), transportSecurity: .plaintext,
        config: .defaults { $0.backoff.initial = .milliseconds(200); $0.backoff.max = .seconds(5) }
      )
    ) { client in
      let log = Support_Events_V1_EventLog.Client(wrapping: client)
      defer { releaseLease() }
      while !Task.isCancelled {
        do {
          guard let cursor = try await takeLease() else {
            try await Task.sleep(for: options.retryDelay)
            continue
          }
          try await retryRequested(meters)
          try await stream(log, after: cursor, meters)
        } catch is LostLead {
          logger.info("another instance leads the subscription now")
        } catch {
          if Task.isCancelled { break }
          logger.warning("event stream interrupted; resuming", metadata: ["error": "\(String(reflecting: error))"])
          try await Task.sleep(for: options.retryDelay)
        }
      }
    }
  }

  func stream(_ log: Support_Events_V1_EventLog.Client<HTTP2ClientTransport.Posix>, after cursor: Int64, _ meters: Meters) async throws {
    let request = Support_Events_V1_StreamEventsRequest.with {
      $0.afterPosition = cursor
      $0.types = types
    }
    var metadata = Metadata()
    metadata.addString(callerHeader.sign(caller, method: Self.method), forKey: SignedCallerHeader.metadataKey)
    try await log.streamEvents(request, metadata: metadata) { response in
      // The reader fills the read-ahead; the applier empties it a batch at a time. Either
      // ending closes it, which ends the other.
      let ahead = EventReadAhead(capacity: options.readAhead)
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          defer { ahead.close() }
          for try await message in response.messages {
            switch message.item {
            case .event(let event): guard await ahead.push(.event(event)) else { return }
            case .heartbeat(let beat): guard await ahead.push(.heartbeat(beat)) else { return }
            case nil: continue
            }
          }
        }
        group.addTask {
          defer { ahead.close() }
          try await applyAll(from: ahead, after: cursor, meters)
        }
        try await group.waitForAll()
      }
    }
  }

  /// Applies what the read-ahead holds, in order: consecutive events as one batch, heartbeats
  /// between them as they come.
  func applyAll(from ahead: EventReadAhead, after cursor: Int64, _ meters: Meters) async throws {
    var last = cursor
    var head = cursor
    var lastPrune = ContinuousClock.now - .seconds(3600)
    while true {
      let items = await ahead.take(limit: options.maxBatch)
      if items.isEmpty { return }
      try Task.checkCancellation()
      var batch: [EventEnvelope] = []
      for item in items {
        switch item {
        case .event(let event):
          guard event.position > last else { continue }
          head = max(head, event.position)
          batch.append(event)
          last = event.position
        case .heartbeat(let beat):
          try await applyBatch(batch, meters)
          batch = []
          head = beat.headPosition
          try await advance(to: beat.position)
          last = max(last, beat.position)
          if beat.position >= beat.headPosition, let onCaughtUp = options.onCaughtUp {
            // Progress reporting never stops the stream: the next heartbeat reports again.
            do { try await onCaughtUp(beat.sendTime.date) } catch {
              logger.warning("recording the subscription's progress failed", metadata: ["error": "\(String(reflecting: error))"])
            }
          }
          if head <= last { meters.lagSeconds.record(0) }
          try await retryRequested(meters)
          if ContinuousClock.now - lastPrune > .seconds(3600) {
            lastPrune = ContinuousClock.now
            try await pruneProcessed()
          }
        }
      }
      try await applyBatch(batch, meters)
      meters.lagEvents.record(max(0, head - last))
      if let newest = batch.last {
        meters.lagSeconds.record(head > last ? max(0, Date().timeIntervalSince(newest.occurTime.date)) : 0)
      }
    }
  }

  /// Applies events in as few transactions as `maxBatchDuration` allows (see `applySlice`).
  func applyBatch(_ events: [EventEnvelope], _ meters: Meters) async throws {
    var pending = events[...]
    while !pending.isEmpty {
      pending = try await applySlice(pending, meters)
    }
  }

  /// Applies a leading slice of `events` in one transaction: the cursor locked once, their ids
  /// recorded in one statement, each new one's handler, the cursor moved to the last applied.
  /// Returns the events left for the next transaction.
  ///
  /// A transaction stops taking events once it has run `maxBatchDuration`: handlers that
  /// announce events take the outbox's position lock at their first append and hold it to the
  /// commit, so an unbounded batch would make every writer of the schema wait (and fail at the
  /// session's lock_timeout) while a backlog drains. When any handler fails the slice rolls
  /// back and its events are applied one at a time (`apply`: retries, parking), so a poison
  /// event costs its slice one retry and blocks nothing.
  func applySlice(_ events: ArraySlice<EventEnvelope>, _ meters: Meters) async throws -> ArraySlice<EventEnvelope> {
    guard let lastEvent = events.last else { return [] }
    if events.count == 1 {
      try await apply(lastEvent, meters)
      return []
    }
    let applied: ArraySlice<EventEnvelope>
    do {
      applied = try await database.withTransaction(logger: logger) { connection -> ArraySlice<EventEnvelope> in
        let cursor = try await lockCursor(connection)
        let fresh = events.filter { $0.position > cursor }
        guard !fresh.isEmpty else { return events }
        let new = try await recordProcessed(fresh, connection)
        let started = ContinuousClock.now
        var done = 0
        for event in fresh {
          if new.contains(event.eventID) { try await handler(event, connection) }
          done += 1
          if ContinuousClock.now - started >= options.maxBatchDuration { break }
        }
        let leftover = fresh[done...]
        // Recorded above but not applied in this transaction: the next one applies them.
        let unapplied = leftover.filter { new.contains($0.eventID) }.compactMap { UUID(uuidString: $0.eventID) }
        if !unapplied.isEmpty {
          try await connection.query(
            "DELETE FROM event_processed WHERE subscription = \(name) AND event_id = ANY(\(unapplied)::uuid[])", logger: logger)
        }
        let newest = fresh[done - 1]
        try await connection.query(
          """
          UPDATE event_cursors SET position = \(newest.position), updated_at = now(),
            lease_until = now() + \(Self.milliseconds(options.lease)) * interval '1 millisecond'
          WHERE subscription = \(name)
          """, logger: logger)
        return events.prefix { $0.position <= newest.position }
      }
    } catch let error as LostLead {
      throw error
    } catch {
      if Task.isCancelled { throw CancellationError() }
      logger.info("event batch failed; applying its events one by one", metadata: ["events": "\(events.count)", "error": "\(String(reflecting: error))"])
      for event in events { try await apply(event, meters) }
      return []
    }
    meters.applied.increment(by: Int64(applied.count))
    for event in applied { meters.delivery.recordInterval(since: event.occurTime.date) }
    options.onApplied?(Array(applied))
    return events[(events.startIndex + applied.count)...]
  }

  /// Applies one event: effect, dedupe record and cursor in one transaction; retried with
  /// backoff, parked after `maxAttempts` failures.
  func apply(_ event: EventEnvelope, _ meters: Meters) async throws {
    var attempt = 0
    while true {
      attempt += 1
      do {
        try await database.withTransaction(logger: logger) { connection in
          guard try await lockCursor(connection) < event.position else { return }
          if try await recordProcessed(event, connection) {
            try await handler(event, connection)
          }
          try await connection.query(
            """
            UPDATE event_cursors SET position = \(event.position), updated_at = now(),
              lease_until = now() + \(Self.milliseconds(options.lease)) * interval '1 millisecond'
            WHERE subscription = \(name)
            """, logger: logger)
        }
        meters.applied.increment()
        meters.delivery.recordInterval(since: event.occurTime.date)
        options.onApplied?([event])
        return
      } catch let error as LostLead {
        throw error
      } catch {
        if Task.isCancelled { throw CancellationError() }
        if attempt >= options.maxAttempts {
          try await park(event, attempts: attempt, error: error, meters)
          return
        }
        meters.redeliveries.increment()
        logger.warning(
          "event handler failed; retrying",
          metadata: ["event_id": "\(event.eventID)", "position": "\(event.position)", "attempt": "\(attempt)", "error": "\(String(reflecting: error))"])
        try await Task.sleep(for: options.backoff * (1 << min(attempt - 1, 10)))
      }
    }
  }

  /// Locks the cursor row for this transaction and returns the cursor; throws `LostLead` when
  /// another instance holds the lease.
  func lockCursor(_ connection: PostgresConnection) async throws -> Int64 {
    let rows = try await connection.query(
      "SELECT position, leader FROM event_cursors WHERE subscription = \(name) FOR UPDATE", logger: logger
    ).decode((Int64, String).self)
    for try await (position, leader) in rows {
      guard leader == instance else { throw LostLead() }
      return position
    }
    throw LostLead()
  }

  /// Records the events as processed in one statement; returns the envelope ids of those that
  /// were not yet (the others are redeliveries: no effect). An id that is not a UUID always
  /// counts as new.
  func recordProcessed(_ events: [EventEnvelope], _ connection: PostgresConnection) async throws -> Set<String> {
    var ids: [UUID] = []
    var positions: [Int64] = []
    var new: Set<String> = []
    for event in events {
      if let id = UUID(uuidString: event.eventID) {
        ids.append(id)
        positions.append(event.position)
      } else {
        new.insert(event.eventID)
      }
    }
    let rows = try await connection.query(
      """
      INSERT INTO event_processed (subscription, event_id, position)
      SELECT \(name), id, position FROM unnest(\(ids)::uuid[], \(positions)::int8[]) AS t (id, position)
      ON CONFLICT DO NOTHING RETURNING event_id
      """, logger: logger
    ).decode(UUID.self)
    var recorded: Set<UUID> = []
    for try await id in rows { recorded.insert(id) }
    for event in events {
      if let id = UUID(uuidString: event.eventID), recorded.contains(id) { new.insert(event.eventID) }
    }
    return new
  }

  /// Records the event as processed; false when it already was (a redelivery: no effect).
  func recordProcessed(_ event: EventEnvelope, _ connection: PostgresConnection) async throws -> Bool {
    guard let id = UUID(uuidString: event.eventID) else { return true }
    let inserted = try await connection.query(
      """
      INSERT INTO event_processed (subscription, event_id, position) VALUES (\(name), \(id), \(event.position))
      ON CONFLICT DO NOTHING RETURNING 1
      """, logger: logger
    ).collect()
    return !inserted.isEmpty
  }

  func park(_ event: EventEnvelope, attempts: Int, error: any Error, _ meters: Meters) async throws {
    let message = String(String(reflecting: error).prefix(2000))
    logger.error("event parked after \(attempts) failed attempts", metadata: ["event_id": "\(event.eventID)", "position": "\(event.position)", "error": "\(message)"])
    let body = try event.bytea()
    let id = UUID(uuidString: event.eventID) ?? UUID()
    try await database.withTransaction(logger: logger) { connection in
      guard try await lockCursor(connection) < event.position else { return }
      try await connection.query(
        """
        INSERT INTO event_parked (subscription, event_id, position, event_type, envelope, attempts, last_error)
        VALUES (\(name), \(id), \(event.position), \(event.type), \(body), \(attempts), \(message))
        ON CONFLICT (subscription, event_id) DO UPDATE SET attempts = event_parked.attempts + EXCLUDED.attempts,
          last_error = EXCLUDED.last_error, parked_at = now(), retry_requested = false
        """, logger: logger)
      try await connection.query(
        "UPDATE event_cursors SET position = \(event.position), updated_at = now() WHERE subscription = \(name)", logger: logger)
    }
    meters.parkedTotal.increment()
    try await recordParkedCount(meters)
  }

  /// Retries the parked events an operator asked for (once each; a failure parks it again).
  func retryRequested(_ meters: Meters) async throws {
    let requested = try await database.withConnection(logger: logger) { connection in
      var bodies: [ByteBuffer] = []
      for try await body in try await connection.query(
        "SELECT envelope FROM event_parked WHERE subscription = \(name) AND retry_requested ORDER BY position", logger: logger
      ).decode(ByteBuffer.self) { bodies.append(body) }
      return bodies
    }
    for body in requested {
      let event = try EventEnvelope(bytea: body)
      let id = UUID(uuidString: event.eventID) ?? UUID()
      do {
        try await database.withTransaction(logger: logger) { connection in
          _ = try await lockCursor(connection)
          let still = try await connection.query(
            "DELETE FROM event_parked WHERE subscription = \(name) AND event_id = \(id) AND retry_requested RETURNING 1", logger: logger
          ).collect()
          guard !still.isEmpty else { return }
          if try await recordProcessed(event, connection) {
            try await handler(event, connection)
          }
        }
        meters.applied.increment()
        logger.info("parked event retried and applied", metadata: ["event_id": "\(event.eventID)"])
      } catch let error as LostLead {
        throw error
      } catch {
        if Task.isCancelled { throw CancellationError() }
        let message = String(String(reflecting: error).prefix(2000))
        logger.error("parked event failed again", metadata: ["event_id": "\(event.eventID)", "error": "\(message)"])
        _ = try await database.withConnection(logger: logger) { connection in
          try await connection.query(
            """
            UPDATE event_parked SET attempts = attempts + 1, last_error = \(message), retry_requested = false, parked_at = now()
            WHERE subscription = \(name) AND event_id = \(id)
            """, logger: logger)
        }
      }
    }
    if !requested.isEmpty { try await recordParkedCount(meters) }
  }

  func recordParkedCount(_ meters: Meters) async throws {
    let count = try await database.withConnection(logger: logger) { connection in
      for try await count in try await connection.query(
        "SELECT count(*) FROM event_parked WHERE subscription = \(name)", logger: logger
      ).decode(Int64.self) { return count }
      return Int64(0)
    }
    meters.parked.record(count)
  }

  /// Forgets processed event ids older than `processedRetention`.
  func pruneProcessed() async throws {
    _ = try await database.withConnection(logger: logger) { connection in
      try await connection.query(
        """
        DELETE FROM event_processed WHERE subscription = \(name)
          AND processed_at < now() - \(Self.milliseconds(options.processedRetention)) * interval '1 millisecond'
        """, logger: logger)
    }
  }

  /// Moves the cursor past events the filter left out (a heartbeat's position) and renews the
  /// lease.
  func advance(to position: Int64) async throws {
    let rows = try await database.withConnection(logger: logger) { connection in
      try await connection.query(
        """
        UPDATE event_cursors SET position = GREATEST(position, \(position)), updated_at = now(),
          lease_until = now() + \(Self.milliseconds(options.lease)) * interval '1 millisecond'
        WHERE subscription = \(name) AND leader = \(instance)
        RETURNING 1
        """, logger: logger
      ).collect().count
    }
    if rows == 0 { throw LostLead() }
  }

  /// Takes (or renews) the lease when it is free or ours; returns the cursor, nil when another
  /// instance leads.
  func takeLease() async throws -> Int64? {
    try await database.withConnection(logger: logger) { connection -> Int64? in
      try await connection.query("INSERT INTO event_cursors (subscription) VALUES (\(name)) ON CONFLICT DO NOTHING", logger: logger)
      let rows = try await connection.query(
        """
        UPDATE event_cursors SET leader = \(instance), lease_until = now() + \(Self.milliseconds(options.lease)) * interval '1 millisecond'
        WHERE subscription = \(name) AND (leader = \(instance) OR lease_until < now())
        RETURNING position
        """, logger: logger
      ).decode(Int64.self)
      for try await position in rows { return position }
      return nil
    }
  }

  /// Gives the lease up on the way out, so another instance takes over at once (best effort:
  /// otherwise the lease simply runs out).
  func releaseLease() {
    let database = database, name = name, instance = instance, logger = logger
    Task {
      try? await database.withConnection(logger: logger) { connection in
        try await connection.query(
          "UPDATE event_cursors SET lease_until = '-infinity' WHERE subscription = \(name) AND leader = \(instance)", logger: logger)
      }
    }
  }

  static func milliseconds(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
  }
}
