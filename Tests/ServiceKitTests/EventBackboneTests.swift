import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec
import Synchronization
import TestSupport
import Testing

/// The event backbone against a real PostgreSQL and real HTTP/2: the outbox's positions, the
/// EventLog stream, and consumers (exactly-once effect, shared subscriptions, parking).
@Suite("EventBackbone", .serialized)
struct EventBackboneTests {
  static let logger = Logger(label: "event-tests")
  static let secret = Array(repeating: UInt8(7), count: 32)

  // MARK: - positions

  @Test("a transaction that started first and commits last gets the later position: a reader never skips it")
  func slowStartsFirstCommitsLast() async throws {
    try await EventDB.withSchemas(1) { schemas in
      let producer = schemas[0]
      let outbox = EventOutbox(producer: "test", schema: producer.name)
      let reader = LogFollower(database: producer.database)
      // The slow transaction begins and does its business work first…
      let slow = try await OpenTransaction.begin(producer.client)
      try await slow.connection.query("INSERT INTO widgets (name) VALUES ('slow')", logger: Self.logger)
      // …meanwhile a fast one runs from start to commit.
      let fast = try await producer.database.withTransaction(logger: Self.logger) { connection in
        try await connection.query("INSERT INTO widgets (name) VALUES ('fast')", logger: Self.logger)
        return try await outbox.append(.ticketCreated(.init()), subject: "fast", on: connection, logger: Self.logger)
      }
      try await reader.catchUp()
      #expect(reader.seen.map(\.subject) == ["fast"])
      // The slow one announces its change last and commits last.
      let slowEvent = try await outbox.append(.ticketCreated(.init()), subject: "slow", on: slow.connection, logger: Self.logger)
      try await slow.commit()
      try await reader.catchUp()
      #expect(fast.position == 1 && slowEvent.position == 2)
      #expect(reader.seen.map(\.subject) == ["fast", "slow"], "the reader that had passed 1 still sees 2: nothing skipped")
      #expect(reader.problems.isEmpty, "\(reader.problems)")
    }
  }

  @Test("a producer that draws its position while another holds one waits for it to commit, then numbers after it")
  func positionWindowIsSerialised() async throws {
    try await EventDB.withSchemas(1) { schemas in
      let producer = schemas[0]
      let outbox = EventOutbox(producer: "test", schema: producer.name)
      let reader = LogFollower(database: producer.database)
      let slow = try await OpenTransaction.begin(producer.client)
      let slowEvent = try await outbox.append(.ticketCreated(.init()), subject: "slow", on: slow.connection, logger: Self.logger)
      let slowCommitted = Locked(false)
      let fastTask = Task {
        try await producer.database.withTransaction(logger: Self.logger) { connection in
          let event = try await outbox.append(.ticketCreated(.init()), subject: "fast", on: connection, logger: Self.logger)
          // Only reachable once the slow transaction has committed (its position lock is gone).
          return (event, slowCommitted.value)
        }
      }
      // Wait (by condition, not time) until the fast producer is blocked behind the slow one.
      let slowPID = try #require(try await slow.connection.query("SELECT pg_backend_pid()", logger: Self.logger).decode(Int32.self).collectOne())
      try await waitUntil("the fast producer waits for the head row's lock") {
        try await producer.database.withConnection(logger: Self.logger) { connection in
          try await connection.query(
            "SELECT count(*) FROM pg_stat_activity WHERE \(slowPID) = ANY(pg_blocking_pids(pid))", logger: Self.logger
          ).decode(Int64.self).collectOne() == 1
        }
      }
      try await reader.catchUp()
      #expect(reader.seen.isEmpty, "nothing is visible while the first position is uncommitted")
      slowCommitted.value = true
      try await slow.commit()
      let (fastEvent, sawSlowCommitted) = try await fastTask.value
      #expect(sawSlowCommitted, "the fast producer got its position only after the slow one committed")
      try await reader.catchUp()
      #expect(slowEvent.position == 1 && fastEvent.position == 2)
      #expect(reader.seen.map(\.subject) == ["slow", "fast"])
      #expect(reader.problems.isEmpty, "\(reader.problems)")
    }
  }

  @Test("control: positions from a sequence at insert time DO skip an event in the same interleaving")
  func sequencePositionsSkip() async throws {
    // Shows that the interleaving above is the hazard, and that a reader following "after the
    // last position seen" detects a skip: the naive design fails where the outbox does not.
    try await EventDB.withSchemas(1) { schemas in
      let producer = schemas[0]
      _ = try await producer.database.withConnection(logger: Self.logger) { connection in
        try await connection.query("CREATE TABLE naive_outbox (position bigserial PRIMARY KEY, subject text NOT NULL)", logger: Self.logger)
      }
      func readAfter(_ cursor: Int64) async throws -> [(Int64, String)] {
        try await producer.database.withConnection(logger: Self.logger) { connection in
          var rows: [(Int64, String)] = []
          for try await row in try await connection.query(
            "SELECT position, subject FROM naive_outbox WHERE position > \(cursor) ORDER BY position", logger: Self.logger
          ).decode((Int64, String).self) { rows.append(row) }
          return rows
        }
      }
      let slow = try await OpenTransaction.begin(producer.client)
      try await slow.connection.query("INSERT INTO naive_outbox (subject) VALUES ('slow')", logger: Self.logger)
      _ = try await producer.database.withTransaction(logger: Self.logger) { connection in
        try await connection.query("INSERT INTO naive_outbox (subject) VALUES ('fast')", logger: Self.logger)
      }
      var seen = try await readAfter(0)
      let cursor = try #require(seen.last?.0)
      try await slow.commit()
      seen += try await readAfter(cursor)
      #expect(seen.map(\.1) == ["fast"], "the sequence design loses 'slow' for a reader past its position")
    }
  }

  @Test("randomized concurrent writers (some rolling back) and a concurrent reader: gapless, in order, every committed event exactly once")
  func randomizedWriters() async throws {
    try await EventDB.withSchemas(1, poolSize: 12) { schemas in
      let producer = schemas[0]
      let outbox = EventOutbox(producer: "test", schema: producer.name)
      let reader = LogFollower(database: producer.database)
      let committed = Locked(Set<String>())
      let writersDone = Locked(false)
      struct Rollback: Error {}
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          while !writersDone.value {
            try await reader.catchUp()
            try await Task.sleep(for: .milliseconds(2))
          }
        }
        try await withThrowingTaskGroup(of: Void.self) { writers in
          for writer in 0..<8 {
            writers.addTask {
              var random = SystemRandomNumberGenerator()
              for round in 0..<30 {
                let count = Int.random(in: 1...3, using: &random)
                let rollback = Int.random(in: 0..<10, using: &random) == 0
                do {
                  let ids = try await producer.database.withTransaction(logger: Self.logger) { connection -> [String] in
                    try await connection.query("INSERT INTO widgets (name) VALUES (\("w\(writer)-\(round)"))", logger: Self.logger)
                    try await Task.sleep(for: .microseconds(Int.random(in: 0...3000)))
                    var ids: [String] = []
                    for index in 0..<count {
                      let event = try await outbox.append(.ticketCreated(.init()), subject: "w\(writer)-\(round)-\(index)", on: connection, logger: Self.logger)
                      ids.append(event.eventID)
                    }
                    try await Task.sleep(for: .microseconds(Int.random(in: 0...1000)))
                    if rollback { throw Rollback() }
                    return ids
                  }
                  committed.withLock { $0.formUnion(ids) }
                } catch is Rollback {}
              }
            }
          }
          try await writers.waitForAll()
        }
        writersDone.value = true
        try await group.waitForAll()
      }
      try await reader.catchUp()
      let expected = committed.value
      #expect(reader.problems.isEmpty, "\(reader.problems.prefix(5))")
      #expect(reader.seen.count == expected.count, "each committed event seen exactly once")
      #expect(Set(reader.seen.map(\.eventID)) == expected)
      #expect(reader.seen.map(\.position) == Array(1...Int64(expected.count)), "positions are 1…N without a gap")
      #expect(reader.reads > 10, "the reader read while the writers wrote (\(reader.reads) reads)")
    }
  }

  // MARK: - EventLog over gRPC

  @Test("StreamEvents: backlog then live (woken by NOTIFY, not the poll), resume without gap or duplicate, type filter, heartbeats")
  func streamEvents() async throws {
    try await EventDB.withSchemas(1) { schemas in
      let producer = schemas[0]
      var quiet = EventLogOptions()
      quiet.pollInterval = .seconds(120)  // neither the poll nor a heartbeat wakes a stream
      quiet.heartbeat = .seconds(120)  // within the call's 30 s deadline: only NOTIFY can
      try await EventProducer.run(producer, options: quiet) { server in
        for index in 1...3 { try await server.append(subject: "backlog-\(index)") }
        // Backlog, then a live event appended while the stream waits.
        let live = try await server.collect(after: 0, until: { $0.count == 4 }, onEvent: { received in
          if received.count == 3 { try await server.append(subject: "live") }
        })
        #expect(live.map(\.subject) == ["backlog-1", "backlog-2", "backlog-3", "live"])
        #expect(live.map(\.position) == [1, 2, 3, 4])
      }
      var options = EventLogOptions()
      options.heartbeat = .milliseconds(300)
      try await EventProducer.run(producer, options: options) { server in
        // Resume after 2: exactly 3 and 4.
        let resumed = try await server.collect(after: 2, until: { $0.count == 2 })
        #expect(resumed.map(\.position) == [3, 4])
        // Filter: only ticket-closed events; the heartbeat covers what was filtered out.
        try await server.append(.ticketClosed(.init()), subject: "closed")
        let (filtered, beat) = try await server.collectWithHeartbeat(after: 0, types: [Support_Tickets_V1_TicketClosedEvent.protoMessageName])
        #expect(filtered.map(\.subject) == ["closed"])
        #expect(filtered.first?.type == "support.tickets.v1.TicketClosedEvent")
        #expect(beat.position == 5 && beat.headPosition == 5)
        // An idle stream gets heartbeats.
        let beats = try await server.heartbeats(after: 5, count: 3)
        #expect(beats.allSatisfy { $0.position == 5 && $0.headPosition == 5 })
      }
    }
  }

  @Test("StreamEvents refuses bad cursors and callers with deliberate statuses; many streams share ONE listening connection")
  func streamEventsErrorsAndFanOut() async throws {
    try await EventDB.withSchemas(1) { schemas in
      let producer = schemas[0]
      var options = EventLogOptions()
      options.heartbeat = .milliseconds(200)
      try await EventProducer.run(producer, options: options) { server in
        try await server.append(subject: "one")
        await expectCode(.invalidArgument, containing: "after_position") { try await server.collect(after: -1, until: { _ in true }) }
        await expectCode(.outOfRange, containing: "head") { try await server.collect(after: 9, until: { _ in true }) }
        await expectCode(.invalidArgument, containing: "types") { try await server.collect(after: 0, types: [""], until: { _ in true }) }
        await expectCode(.unauthenticated) { try await server.collect(after: 0, caller: nil, until: { _ in true }) }
        await expectCode(.permissionDenied) {
          try await server.collect(after: 0, caller: Caller(subject: "s-1", role: .shopper, scopes: ["*"]), until: { _ in true })
        }
        // Five concurrent streams, each live: one LISTEN connection serves them all.
        try await withThrowingTaskGroup(of: Void.self) { group in
          for _ in 0..<5 {
            group.addTask { _ = try await server.heartbeats(after: 1, count: 4) }
          }
          try await Task.sleep(for: .milliseconds(300))
          let listeners = try await producer.database.withConnection(logger: Self.logger) { connection in
            try await connection.query(
              "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND query LIKE \("%\(producer.name)%")", logger: Self.logger
            ).decode(Int64.self).collectOne()
          }
          #expect(listeners == 1, "one listening connection for the process, not one per stream")
          try await group.waitForAll()
        }
        // Retention: events up to 2 pruned; a cursor inside them is OUT_OF_RANGE, 0 starts at
        // the beginning of what is retained.
        try await server.append(subject: "two")
        let removed = try await EventLogReader.prune(before: Date().addingTimeInterval(60), database: producer.database, logger: Self.logger)
        #expect(removed == 2)
        await expectCode(.outOfRange, containing: "retention") { try await server.collect(after: 1, until: { _ in true }) }
        try await server.append(subject: "three")
        let after = try await server.collect(after: 2, until: { $0.count == 1 })
        #expect(after.map(\.subject) == ["three"], "a cursor at the retention mark continues")
        let fromStart = try await server.collect(after: 0, until: { $0.count == 1 })
        #expect(fromStart.map(\.subject) == ["three"], "0 is the beginning of the retained log")
      }
    }
  }

  // MARK: - consumers

  @Test("three consumer instances share a subscription: every event applied exactly once, also when the leader stops")
  func sharedSubscriptionExactlyOnce() async throws {
    try await EventDB.withSchemas(2) { schemas in
      let (producer, consumer) = (schemas[0], schemas[1])
      try await EventProducer.run(producer) { server in
        var options = EventSubscription.Options()
        options.lease = .seconds(3)
        options.retryDelay = .milliseconds(100)
        let instances = (0..<3).map { index in
          EventSubscription(
            name: "test.all", producer: server.address, consumer: "consumer", database: consumer.database,
            callerHeader: try! SignedCallerHeader(secret: Self.secret), options: options, logger: Self.logger, instance: "instance-\(index)"
          ) { event, connection in
            // The effect: a counter per event; a second application would make it 2.
            try await connection.query(
              "INSERT INTO effects (event_id, applied) VALUES (\(UUID(uuidString: event.eventID)!), 1) ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1",
              logger: Self.logger)
          }
        }
        let tasks = instances.map { instance in Task { try await instance.run() } }
        defer { tasks.forEach { $0.cancel() } }
        for index in 0..<60 { try await server.append(subject: "e\(index)") }
        try await waitUntil("the subscription applied the first 60") { try await consumer.cursor("test.all") == 60 }
        // Stop whichever instance leads; another takes over and carries on.
        let leader = try await consumer.leader("test.all")
        let index = try #require(Int(leader.dropFirst("instance-".count)))
        tasks[index].cancel()
        for index in 60..<120 { try await server.append(subject: "e\(index)") }
        try await waitUntil("the subscription applied all 120") { try await consumer.cursor("test.all") == 120 }
        #expect(try await consumer.leader("test.all") != leader)
        let (count, maximum) = try await consumer.database.withConnection(logger: Self.logger) { connection -> (Int64, Int64) in
          for try await row in try await connection.query("SELECT count(*), coalesce(max(applied), 0)::int8 FROM effects", logger: Self.logger)
            .decode((Int64, Int64).self) { return row }
          return (0, 0)
        }
        #expect(count == 120, "every event took effect")
        #expect(maximum == 1, "no event took effect twice")
        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }
      }
    }
  }

  @Test("a filtered subscription applies only its types, and heartbeats move its cursor past the others")
  func filteredSubscription() async throws {
    try await EventDB.withSchemas(2) { schemas in
      let (producer, consumer) = (schemas[0], schemas[1])
      try await EventProducer.run(producer) { server in
        let seenTypes = Locked<[String]>([])
        let subscription = EventSubscription(
          name: "test.closed", producer: server.address, types: [Support_Tickets_V1_TicketClosedEvent.protoMessageName], consumer: "consumer",
          database: consumer.database, callerHeader: try SignedCallerHeader(secret: Self.secret), logger: Self.logger
        ) { event, connection in
          seenTypes.withLock { $0.append(event.type) }
          try await connection.query("INSERT INTO effects (event_id, applied) VALUES (\(UUID(uuidString: event.eventID)!), 1)", logger: Self.logger)
        }
        try await server.append(subject: "created-1")
        try await server.append(.ticketClosed(.init()), subject: "closed")
        try await server.append(subject: "created-2")
        try await server.append(subject: "created-3")
        let task = Task { try await subscription.run() }
        try await waitUntil("the cursor passed the filtered-out events too") { try await consumer.cursor("test.closed") == 4 }
        #expect(seenTypes.value == ["support.tickets.v1.TicketClosedEvent"])
        #expect(try await consumer.effectCount() == 1)
        task.cancel()
        _ = try? await task.value
      }
    }
  }

  @Test("a poison event is parked after its attempts and does not block the stream; an operator retry applies it")
  func poisonParkedAndRetried() async throws {
    try await EventDB.withSchemas(2) { schemas in
      let (producer, consumer) = (schemas[0], schemas[1])
      try await EventProducer.run(producer) { server in
        var options = EventSubscription.Options()
        options.maxAttempts = 3
        options.backoff = .milliseconds(20)
        options.retryDelay = .milliseconds(100)
        let flakyAttempts = Locked(0)
        let subscription = EventSubscription(
          name: "test.parking", producer: server.address, consumer: "consumer", database: consumer.database,
          callerHeader: try SignedCallerHeader(secret: Self.secret), options: options, logger: Self.logger
        ) { event, connection in
          if event.subject == "poison" {
            let healed = try await connection.query("SELECT count(*) FROM healed", logger: Self.logger).decode(Int64.self).collectOne()
            if healed == 0 { throw HandlerFailure(reason: "poison cannot be applied") }
          }
          if event.subject == "flaky", flakyAttempts.withLock({ $0 += 1; return $0 }) < 3 {
            throw HandlerFailure(reason: "flaky, try again")
          }
          try await connection.query("INSERT INTO effects (event_id, applied) VALUES (\(UUID(uuidString: event.eventID)!), 1)", logger: Self.logger)
        }
        let task = Task { try await subscription.run() }
        defer { task.cancel() }
        try await server.append(subject: "ok-1")
        let poison = try await server.append(subject: "poison")
        try await server.append(subject: "flaky")
        try await server.append(subject: "ok-2")
        try await waitUntil("the stream got past the poison event") { try await consumer.cursor("test.parking") == 4 }
        #expect(try await consumer.effectCount() == 3, "ok-1, flaky (third attempt) and ok-2 applied")
        #expect(flakyAttempts.value == 3)
        let (status, listing) = try await EventAdmin.run(arguments: ["parked"], database: consumer.database, logger: Self.logger)
        #expect(status == 0)
        #expect(listing.contains(poison.eventID) && listing.contains("poison cannot be applied") && listing.contains("\t3\t"), "\(listing)")
        // The cause is fixed; the operator asks for a retry.
        _ = try await consumer.database.withConnection(logger: Self.logger) { try await $0.query("INSERT INTO healed VALUES (1)", logger: Self.logger) }
        let (retryStatus, _) = try await EventAdmin.run(arguments: ["retry", poison.eventID], database: consumer.database, logger: Self.logger)
        #expect(retryStatus == 0)
        try await waitUntil("the retried event was applied") { try await consumer.effectCount() == 4 }
        let (_, after) = try await EventAdmin.run(arguments: ["parked"], database: consumer.database, logger: Self.logger)
        #expect(after.hasSuffix("0 parked"), "\(after)")
        let (unknown, _) = try await EventAdmin.run(arguments: ["retry", UUID().uuidString], database: consumer.database, logger: Self.logger)
        #expect(unknown == 1)
        task.cancel()
        _ = try? await task.value
      }
    }
  }
}

extension EventBackboneTests {
  @Test("a backlog is applied in batches: every event once, and a poison event inside a batch is parked without losing its neighbours")
  func backlogBatchesWithPoison() async throws {
    try await EventDB.withSchemas(2) { schemas in
      let (producer, consumer) = (schemas[0], schemas[1])
      try await EventProducer.run(producer) { server in
        // The backlog exists before the consumer starts, so whole batches arrive at once.
        var poison = ""
        for index in 1...300 {
          let event = try await server.append(subject: index == 150 ? "poison" : "ok-\(index)")
          if index == 150 { poison = event.eventID }
        }
        var options = EventSubscription.Options()
        options.maxAttempts = 2
        options.backoff = .milliseconds(10)
        options.maxBatch = 100
        let batches = Locked([Int]())
        options.onApplied = { events in batches.withLock { $0.append(events.count) } }
        let subscription = EventSubscription(
          name: "test.batches", producer: server.address, consumer: "consumer", database: consumer.database,
          callerHeader: try SignedCallerHeader(secret: Self.secret), options: options, logger: Self.logger
        ) { event, connection in
          if event.subject == "poison" { throw HandlerFailure(reason: "poison cannot be applied") }
          try await connection.query(
            """
            INSERT INTO effects (event_id, applied) VALUES (\(UUID(uuidString: event.eventID)!), 1)
            ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1
            """, logger: Self.logger)
        }
        let task = Task { try await subscription.run() }
        defer { task.cancel() }
        try await waitUntil("the backlog was consumed") { try await consumer.cursor("test.batches") == 300 }
        #expect(try await consumer.effectCount() == 299, "every event but the poison one")
        let twice = try await consumer.database.withConnection(logger: Self.logger) { connection in
          try await connection.query("SELECT count(*) FROM effects WHERE applied > 1", logger: Self.logger).decode(Int64.self).collectOne()
        }
        #expect(twice == 0, "no effect applied twice")
        #expect(batches.value.contains { $0 > 1 }, "events were applied in batches: \(batches.value)")
        let (_, listing) = try await EventAdmin.run(arguments: ["parked"], database: consumer.database, logger: Self.logger)
        #expect(listing.contains(poison), "\(listing)")
        task.cancel()
        _ = try? await task.value
      }
    }
  }
}

extension EventBackboneTests {
  @Test("a batch transaction stops taking events after maxBatchDuration: slow handlers commit in short slices, each effect once")
  func batchesAreCutByDuration() async throws {
    try await EventDB.withSchemas(2) { schemas in
      let (producer, consumer) = (schemas[0], schemas[1])
      try await EventProducer.run(producer) { server in
        for index in 1...60 { _ = try await server.append(subject: "slow-\(index)") }
        var options = EventSubscription.Options()
        options.maxBatch = 60
        options.maxBatchDuration = .milliseconds(40)
        let batches = Locked([Int]())
        options.onApplied = { events in batches.withLock { $0.append(events.count) } }
        let subscription = EventSubscription(
          name: "test.slices", producer: server.address, consumer: "consumer", database: consumer.database,
          callerHeader: try SignedCallerHeader(secret: Self.secret), options: options, logger: Self.logger
        ) { event, connection in
          // A handler that holds its transaction for 10 ms.
          try await connection.query("SELECT pg_sleep(0.01)", logger: Self.logger)
          try await connection.query(
            """
            INSERT INTO effects (event_id, applied) VALUES (\(UUID(uuidString: event.eventID)!), 1)
            ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1
            """, logger: Self.logger)
        }
        let task = Task { try await subscription.run() }
        defer { task.cancel() }
        try await waitUntil("the backlog was consumed") { try await consumer.cursor("test.slices") == 60 }
        #expect(try await consumer.effectCount() == 60)
        let twice = try await consumer.database.withConnection(logger: Self.logger) { connection in
          try await connection.query("SELECT count(*) FROM effects WHERE applied > 1", logger: Self.logger).decode(Int64.self).collectOne()
        }
        #expect(twice == 0, "no effect applied twice")
        let sizes = batches.value
        #expect(sizes.reduce(0, +) == 60 && sizes.count >= 6, "60 events of 10 ms in slices of about 40 ms: \(sizes)")
        #expect(sizes.allSatisfy { $0 <= 10 }, "no slice ran far past its budget: \(sizes)")
        task.cancel()
        _ = try? await task.value
      }
    }
  }
}

/// A value shared between tasks.
final class Locked<Value: Sendable>: Sendable {
  private let mutex: Mutex<Value>

  init(_ value: Value) {
    mutex = Mutex(value)
  }

  var value: Value {
    get { mutex.withLock { $0 } }
    set { mutex.withLock { $0 = newValue } }
  }

  func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
    mutex.withLock { value in body(&value) }
  }
}

struct HandlerFailure: Error, CustomStringConvertible {
  var reason: String
  var description: String { reason }
}

// MARK: - helpers

/// Waits (generously, up to 30 s) for a condition read from the database or elsewhere.
func waitUntil(_ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool) async throws {
  let deadline = ContinuousClock.now + .seconds(30)
  while try await !condition() {
    if ContinuousClock.now > deadline {
      Issue.record("not within 30 s: \(what)", sourceLocation: sourceLocation)
      throw CancellationError()
    }
    try await Task.sleep(for: .milliseconds(20))
  }
}

extension AsyncSequence {
  func collectOne() async throws -> Element? {
    for try await element in self { return element }
    return nil
  }
}

/// Schemas of the throwaway cluster, each with a client whose search_path is the schema (as a
/// service role's is), with the outbox, the subscription tables and a few test tables.
struct EventSchema: Sendable {
  let name: String
  let client: PostgresClient
  let database: Database

  func cursor(_ subscription: String) async throws -> Int64 {
    try await database.withConnection(logger: EventBackboneTests.logger) { connection in
      try await connection.query("SELECT position FROM event_cursors WHERE subscription = \(subscription)", logger: EventBackboneTests.logger)
        .decode(Int64.self).collectOne() ?? -1
    }
  }

  func leader(_ subscription: String) async throws -> String {
    try await database.withConnection(logger: EventBackboneTests.logger) { connection in
      try await connection.query("SELECT leader FROM event_cursors WHERE subscription = \(subscription)", logger: EventBackboneTests.logger)
        .decode(String.self).collectOne() ?? ""
    }
  }

  func effectCount() async throws -> Int64 {
    try await database.withConnection(logger: EventBackboneTests.logger) { connection in
      try await connection.query("SELECT count(*) FROM effects", logger: EventBackboneTests.logger).decode(Int64.self).collectOne() ?? 0
    }
  }
}

enum EventDB {
  static func withSchemas<T: Sendable>(_ count: Int, poolSize: Int = 8, _ body: @Sendable ([EventSchema]) async throws -> T) async throws -> T {
    let url = try TestDatabase.adminURL()
    let logger = EventBackboneTests.logger
    let admin = PostgresClient(configuration: url.clientConfiguration(poolSize: 2), backgroundLogger: logger)
    let names = (0..<count).map { _ in "ev_\(UUID().uuidString.prefix(8).lowercased())" }
    // A generous lock_timeout: the tests hold the head's lock on purpose while others wait.
    var limits = DatabaseURL.SessionLimits()
    limits.lockTimeout = .seconds(60)
    let clients = names.map { name in
      var configuration = url.clientConfiguration(poolSize: poolSize, limits: limits)
      configuration.options.additionalStartupParameters.append(("search_path", name))
      return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }
    return try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await admin.run() }
      for client in clients { group.addTask { await client.run() } }
      defer { group.cancelAll() }
      let migrations = [
        EventOutbox.migration(version: 1),
        EventSubscription.migration(version: 2),
        Migration(version: 3, name: "test tables", sql: """
          CREATE TABLE widgets (id bigserial PRIMARY KEY, name text NOT NULL);
          CREATE TABLE effects (event_id uuid PRIMARY KEY, applied integer NOT NULL);
          CREATE TABLE healed (x integer);
          """),
      ]
      for name in names {
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(name)"), logger: logger)
        try await Migrator(schema: name, migrations: migrations).migrate(admin, logger: logger)
      }
      let schemas = zip(names, clients).map { EventSchema(name: $0, client: $1, database: Database(client: $1, maxConnections: poolSize)) }
      do {
        let result = try await body(schemas)
        for name in names { try await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(name) CASCADE"), logger: logger) }
        return result
      } catch {
        for name in names { _ = try? await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(name) CASCADE"), logger: logger) }
        throw error
      }
    }
  }
}

/// A transaction held open across awaits (BEGIN … COMMIT on one leased connection).
final class OpenTransaction: Sendable {
  let connection: PostgresConnection
  private let done: Mutex<CheckedContinuation<Void, Never>?>
  private let finished: Task<Void, any Error>

  private init(connection: PostgresConnection, done: CheckedContinuation<Void, Never>?, finished: Task<Void, any Error>) {
    self.connection = connection
    self.done = Mutex(done)
    self.finished = finished
  }

  static func begin(_ client: PostgresClient) async throws -> OpenTransaction {
    let (leased, leasedContinuation) = AsyncStream<(PostgresConnection, CheckedContinuation<Void, Never>)>.makeStream()
    let task = Task {
      try await client.withConnection { connection in
        try await connection.query("BEGIN", logger: EventBackboneTests.logger)
        await withCheckedContinuation { (release: CheckedContinuation<Void, Never>) in
          leasedContinuation.yield((connection, release))
        }
        try await connection.query("COMMIT", logger: EventBackboneTests.logger)
      }
    }
    var iterator = leased.makeAsyncIterator()
    guard let leasedPair = await iterator.next() else { throw CancellationError() }
    let (connection, release) = leasedPair
    return OpenTransaction(connection: connection, done: release, finished: task)
  }

  func commit() async throws {
    done.withLock { $0.take() }?.resume()
    try await finished.value
  }
}

/// Follows a log the way a consumer does (read after the last position seen), recording what
/// it saw and any gap or repeat.
final class LogFollower: Sendable {
  let database: Database
  private let state = Mutex<(seen: [EventEnvelope], problems: [String], reads: Int)>(([], [], 0))

  init(database: Database) {
    self.database = database
  }

  var seen: [EventEnvelope] { state.withLock { $0.seen } }
  var problems: [String] { state.withLock { $0.problems } }
  var reads: Int { state.withLock { $0.reads } }

  /// Reads until caught up with the head at that moment.
  func catchUp() async throws {
    while true {
      let after = state.withLock { $0.seen.last?.position ?? 0 }
      let batch = try await database.withConnection(logger: EventBackboneTests.logger) { connection in
        try await EventLogReader.read(after: after, types: [], limit: 50, on: connection, logger: EventBackboneTests.logger)
      }
      state.withLock { state in
        state.reads += 1
        var expected = after + 1
        for event in batch.events {
          if event.position != expected { state.problems.append("expected position \(expected), got \(event.position)") }
          expected = event.position + 1
          state.seen.append(event)
        }
      }
      if !batch.full { return }
    }
  }
}

/// A producer process in miniature: the schema's outbox served by EventLogService on a real
/// HTTP/2 server with the kit's interceptors, and its notifier running.
struct EventProducer: Sendable {
  let schema: EventSchema
  let outbox: EventOutbox
  let address: HostPort
  let header: SignedCallerHeader

  static let service = Caller(subject: "consumer", role: .service, scopes: ["*"])

  static func run(_ schema: EventSchema, options: EventLogOptions = EventLogOptions(), _ body: @Sendable (EventProducer) async throws -> Void) async throws {
    let logger = EventBackboneTests.logger
    let header = try SignedCallerHeader(secret: EventBackboneTests.secret)
    let outbox = EventOutbox(producer: "test", schema: schema.name)
    let notifier = EventLogNotifier(client: schema.client, channel: outbox.channel, logger: logger)
    let server = GRPCServer(
      transport: HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
      services: [EventLogService(database: schema.database, notifier: notifier, options: options, logger: logger)],
      interceptors: [RequestContextInterceptor(logger: logger), AuthenticationInterceptor(SignedCallerAuthenticator(header)), ErrorMappingInterceptor()]
    )
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.serve() }
      group.addTask { try await notifier.run() }
      defer { group.cancelAll() }
      let port = try #require(try await server.listeningAddress?.ipv4?.port)
      try await waitUntil("the notifier listens") { notifier.isListening }
      try await body(EventProducer(schema: schema, outbox: outbox, address: HostPort(host: "127.0.0.1", port: port), header: header))
      server.beginGracefulShutdown()
    }
  }

  @discardableResult
  func append(_ payload: EventEnvelope.OneOf_Payload = .ticketCreated(.init()), subject: String) async throws -> EventEnvelope {
    try await schema.database.withTransaction(logger: EventBackboneTests.logger) { connection in
      try await outbox.append(payload, subject: subject, on: connection, logger: EventBackboneTests.logger)
    }
  }

  /// Runs a StreamEvents call; `body` sees each message until it returns true.
  func stream(
    after: Int64, types: [String] = [], caller: Caller? = EventProducer.service,
    _ body: @escaping @Sendable (Support_Events_V1_StreamEventsResponse) async throws -> Bool
  ) async throws {
    try await withGRPCClient(
      transport: .http2NIOPosix(target: .ipv4(address: address.host, port: address.port), transportSecurity: .plaintext)
    ) { client in
      var metadata = Metadata()
      if let caller {
        metadata.addString(header.sign(caller, method: "support.events.v1.EventLog/StreamEvents"), forKey: SignedCallerHeader.metadataKey)
      }
      var options = CallOptions.defaults
      options.timeout = .seconds(30)
      try await Support_Events_V1_EventLog.Client(wrapping: client).streamEvents(
        .with { $0.afterPosition = after; $0.types = types }, metadata: metadata, options: options
      ) { response in
        for try await message in response.messages {
          if try await body(message) { return }
        }
        Issue.record("the stream ended by itself")
      }
    }
  }

  /// The events of a stream until `until` holds; `onEvent` runs after each event.
  @discardableResult
  func collect(
    after: Int64, types: [String] = [], caller: Caller? = EventProducer.service,
    until: @escaping @Sendable ([EventEnvelope]) -> Bool, onEvent: @escaping @Sendable ([EventEnvelope]) async throws -> Void = { _ in }
  ) async throws -> [EventEnvelope] {
    let events = Locked<[EventEnvelope]>([])
    try await stream(after: after, types: types, caller: caller) { message in
      guard case .event(let event) = message.item else { return until(events.withLock { $0 }) }
      let now = events.withLock { $0.append(event); return $0 }
      try await onEvent(now)
      return until(now)
    }
    return events.value
  }

  /// The events of a stream up to its first heartbeat, and that heartbeat.
  func collectWithHeartbeat(after: Int64, types: [String]) async throws -> ([EventEnvelope], Support_Events_V1_Heartbeat) {
    let state = Locked<([EventEnvelope], Support_Events_V1_Heartbeat?)>(([], nil))
    try await stream(after: after, types: types) { message in
      switch message.item {
      case .event(let event): state.withLock { $0.0.append(event) }; return false
      case .heartbeat(let beat): state.withLock { $0.1 = beat }; return true
      case nil: return false
      }
    }
    let (events, beat) = state.value
    return (events, try #require(beat))
  }

  /// The first `count` heartbeats of a stream.
  func heartbeats(after: Int64, count: Int) async throws -> [Support_Events_V1_Heartbeat] {
    let beats = Locked<[Support_Events_V1_Heartbeat]>([])
    try await stream(after: after) { message in
      guard case .heartbeat(let beat) = message.item else { return false }
      return beats.withLock { $0.append(beat); return $0.count >= count }
    }
    return beats.value
  }
}
