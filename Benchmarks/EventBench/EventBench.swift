// The event backbone's benchmark (scripts/bench-events runs it; docs/benchmarks.md has results).
//
// One producer and one consumer built from the same parts the services use: an EventOutbox in
// a producer schema served by EventLogService on a real HTTP/2 server (with the kit's
// interceptors and the NOTIFY listener), and an EventSubscription in a consumer schema whose
// handler writes one effect row per event, in the transaction that moves its cursor.
//
// 1. Delivery: events committed at a steady rate (each its own transaction, from several
//    writers); per event, the time from just before its commit to the commit of its effect.
// 2. Catch-up: the consumer stopped, a backlog appended, the consumer started again; the time
//    until its cursor reaches the head.
//
//   supportmesh-eventbench DATABASE_URL [RATE=200] [SECONDS=30] [BACKLOG=100000]
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PostgresNIO
import ServiceKit
import SupportCodec
import Synchronization

/// Commit-to-effect times, collected after each effect commits.
final class Deliveries: Sendable {
  private let state = Mutex<(started: [String: ContinuousClock.Instant], latencies: [Duration], applied: Int)>(([:], [], 0))

  func committing(_ id: String, at instant: ContinuousClock.Instant) { state.withLock { $0.started[id] = instant } }

  func applied(_ events: [EventEnvelope]) {
    let now = ContinuousClock.now
    state.withLock { state in
      state.applied += events.count
      for event in events {
        if let start = state.started.removeValue(forKey: event.eventID) { state.latencies.append(now - start) }
      }
    }
  }

  var appliedCount: Int { state.withLock { $0.applied } }
  var latencies: [Duration] { state.withLock { $0.latencies } }
}

func milliseconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func percentile(_ sorted: [Duration], _ p: Double) -> Double {
  guard !sorted.isEmpty else { return .nan }
  return milliseconds(sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)])
}

@main
enum EventBench {
  static func main() async throws {
    let arguments = CommandLine.arguments.dropFirst().map { $0 }
    guard let urlText = arguments.first else {
      FileHandle.standardError.write(Data("usage: supportmesh-eventbench DATABASE_URL [RATE=200] [SECONDS=30] [BACKLOG=100000]\n".utf8))
      exit(2)
    }
    let rate = arguments.count > 1 ? Int(arguments[1]) ?? 200 : 200
    let seconds = arguments.count > 2 ? Int(arguments[2]) ?? 30 : 30
    let backlog = arguments.count > 3 ? Int(arguments[3]) ?? 100_000 : 100_000
    let logger = { var logger = Logger(label: "eventbench"); logger.logLevel = .warning; return logger }()

    let url = try DatabaseURL(urlText)
    let suffix = UUID().uuidString.prefix(8).lowercased()
    let producerSchema = "evbench_producer_\(suffix)", consumerSchema = "evbench_consumer_\(suffix)"
    let secret = (0..<32).map { _ in UInt8.random(in: 0...255) }
    let header = try SignedCallerHeader(secret: secret)

    func client(_ schema: String?, poolSize: Int) -> PostgresClient {
      var configuration = url.clientConfiguration(poolSize: poolSize)
      if let schema { configuration.options.additionalStartupParameters.append(("search_path", schema)) }
      return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    let admin = client(nil, poolSize: 2)
    let producerClient = client(producerSchema, poolSize: 12)
    let consumerClient = client(consumerSchema, poolSize: 4)

    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await admin.run() }
      group.addTask { await producerClient.run() }
      group.addTask { await consumerClient.run() }
      defer { group.cancelAll() }
      for schema in [producerSchema, consumerSchema] {
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"), logger: logger)
      }
      try await Migrator(schema: producerSchema, migrations: [EventOutbox.migration(version: 1)]).migrate(admin, logger: logger)
      try await Migrator(schema: consumerSchema, migrations: [
        EventSubscription.migration(version: 1),
        Migration(version: 2, name: "effects", sql: "CREATE TABLE effects (event_id text PRIMARY KEY, position bigint NOT NULL)"),
      ]).migrate(admin, logger: logger)

      let producerDatabase = Database(client: producerClient, maxConnections: 12)
      let consumerDatabase = Database(client: consumerClient, maxConnections: 4)
      let outbox = EventOutbox(producer: "bench", schema: producerSchema)
      let notifier = EventLogNotifier(client: producerClient, channel: outbox.channel, logger: logger)
      let server = GRPCServer(
        transport: HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
        services: [EventLogService(database: producerDatabase, notifier: notifier, logger: logger)],
        interceptors: [RequestContextInterceptor(logger: logger), AuthenticationInterceptor(SignedCallerAuthenticator(header)), ErrorMappingInterceptor()]
      )
      group.addTask { try await server.serve() }
      group.addTask { try await notifier.run() }
      guard let port = try await server.listeningAddress?.ipv4?.port else { throw CancellationError() }
      while !notifier.isListening { try await Task.sleep(for: .milliseconds(10)) }

      let deliveries = Deliveries()
      func consumer() -> EventSubscription {
        var options = EventSubscription.Options()
        options.onApplied = { deliveries.applied($0) }
        return EventSubscription(
          name: "bench", producer: HostPort(host: "127.0.0.1", port: port), consumer: "bench", database: consumerDatabase,
          callerHeader: header, options: options, logger: logger
        ) { envelope, connection in
          try await connection.query("INSERT INTO effects (event_id, position) VALUES (\(envelope.eventID), \(envelope.position))", logger: logger)
        }
      }
      func append(_ count: Int, subject: String) async throws -> [String] {
        try await producerDatabase.withTransaction(logger: logger) { connection in
          var ids: [String] = []
          for _ in 0..<count {
            let payload = EventEnvelope.OneOf_Payload.ticketCreated(.with { $0.ticketID = subject })
            ids.append(try await outbox.append(payload, subject: subject, on: connection, logger: logger).eventID)
          }
          return ids
        }
      }
      func cursor() async throws -> Int64 {
        try await consumerDatabase.withConnection(logger: logger) { connection in
          for try await position in try await connection.query("SELECT position FROM event_cursors WHERE subscription = 'bench'", logger: logger).decode(Int64.self) {
            return position
          }
          return 0
        }
      }

      // 1. Delivery at a steady rate, from four writers each on its own schedule.
      let following = Task { try await consumer().run() }
      try await Task.sleep(for: .seconds(1))
      let writers = 4
      let total = rate * seconds
      let interval = Duration.seconds(Double(writers) / Double(rate))
      print("delivery: \(total) events at \(rate)/s over \(seconds) s, \(writers) writers, one transaction per event")
      let started = ContinuousClock.now
      try await withThrowingTaskGroup(of: Void.self) { writersGroup in
        for writer in 0..<writers {
          writersGroup.addTask {
            var next = started + interval * Double(writer) / Double(writers)
            for _ in 0..<(total / writers) {
              try await Task.sleep(until: next)
              next += interval
              let id = UUID()
              deliveries.committing(id.uuidString.lowercased(), at: ContinuousClock.now)
              try await producerDatabase.withTransaction(logger: logger) { connection in
                try await outbox.append(.ticketCreated(.with { $0.ticketID = "w\(writer)" }), subject: "w\(writer)", eventID: id, on: connection, logger: logger)
              }
            }
          }
        }
        try await writersGroup.waitForAll()
      }
      let sent = (total / writers) * writers
      let deadline = ContinuousClock.now + .seconds(30)
      while deliveries.appliedCount < sent && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
      let sorted = deliveries.latencies.sorted()
      print(String(format: "  applied %d of %d; commit to effect committed: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
        sorted.count, sent, percentile(sorted, 0.5), percentile(sorted, 0.9), percentile(sorted, 0.99), percentile(sorted, 1.0)))

      // 2. Catch-up from a backlog.
      following.cancel()
      _ = try? await following.value
      print("catch-up: appending \(backlog) events while the consumer is stopped")
      var appended = 0
      while appended < backlog {
        let chunk = min(1000, backlog - appended)
        _ = try await append(chunk, subject: "backlog")
        appended += chunk
      }
      let head = try await producerDatabase.withConnection(logger: logger) { try await EventLogReader.head(on: $0, logger: logger).head }
      let from = try await cursor()
      let catchUpStart = ContinuousClock.now
      let catchingUp = Task { try await consumer().run() }
      while try await cursor() < head { try await Task.sleep(for: .milliseconds(50)) }
      let elapsed = ContinuousClock.now - catchUpStart
      catchingUp.cancel()
      _ = try? await catchingUp.value
      let caughtUp = head - from
      print(String(format: "  %d events behind caught up in %.2f s: %.0f events/s", caughtUp, milliseconds(elapsed) / 1000, Double(caughtUp) / (milliseconds(elapsed) / 1000)))
      server.beginGracefulShutdown()
      for schema in [producerSchema, consumerSchema] {
        try await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: logger)
      }
    }
  }
}
