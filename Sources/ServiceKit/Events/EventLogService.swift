import Foundation
import GRPCCore
import Logging
import Metrics
import ServiceLifecycle
import SupportCodec
import SwiftProtobuf

/// How a producer serves its event log; read from the environment by `ServiceHost`.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_EVENTS_HEARTBEAT_SECONDS | heartbeat interval of StreamEvents | 5 |
/// | SUPPORTMESH_EVENTS_RETENTION_DAYS | events older than this are pruned from the log (0 keeps them forever) | 7 |
public struct EventLogOptions: Sendable {
  public var heartbeat: Duration = .seconds(5)
  /// Fallback poll while no notification arrives.
  public var pollInterval: Duration = .seconds(1)
  /// Events per read.
  public var batchSize = 200
  /// nil keeps events forever.
  public var retention: Duration? = .seconds(7 * 86_400)
  /// How often retention runs and the log's metrics are refreshed.
  public var maintenanceInterval: Duration = .seconds(60)

  public init() {}

  public static func load(environment: EnvironmentReader = EnvironmentReader()) throws -> EventLogOptions {
    var env = environment
    var options = EventLogOptions()
    options.heartbeat = .seconds(env.int("SUPPORTMESH_EVENTS_HEARTBEAT_SECONDS", default: 5, range: 1...300))
    let days = env.int("SUPPORTMESH_EVENTS_RETENTION_DAYS", default: 7, range: 0...3650)
    options.retention = days == 0 ? nil : .seconds(days * 86_400)
    try env.validate()
    return options
  }
}

/// support.events.v1.EventLog: the producer's outbox as an ordered, replayable stream (the
/// contract is in proto/support/events/v1/event_log.proto).
///
/// Each stream reads its next batch, sends it, and when caught up waits for the process's
/// `EventLogNotifier` (LISTEN/NOTIFY) or the poll interval, sending heartbeats meanwhile.
/// Positions are gapless and in commit order (`EventOutbox`), so "everything after N" read
/// again and again never skips an event and never repeats one.
public struct EventLogService: Support_Events_V1_EventLog.SimpleServiceProtocol {
  let database: Database
  let notifier: EventLogNotifier
  let options: EventLogOptions
  let logger: Logger

  public init(database: Database, notifier: EventLogNotifier, options: EventLogOptions = EventLogOptions(), logger: Logger) {
    self.database = database
    self.notifier = notifier
    self.options = options
    self.logger = logger
  }

  public func streamEvents(
    request: Support_Events_V1_StreamEventsRequest, response: RPCWriter<Support_Events_V1_StreamEventsResponse>, context: ServerContext
  ) async throws {
    try Permissions.requireStaff("read the event log")
    guard request.afterPosition >= 0 else { throw ServiceError.invalidArgument("after_position", "must not be negative") }
    guard request.types.count <= 50 else { throw ServiceError.invalidArgument("types", "at most 50 entries") }
    for type in request.types where type.isEmpty || type.count > 200 {
      throw ServiceError.invalidArgument("types", "each entry must be 1 to 200 characters")
    }
    let log = RequestContext.current?.logger ?? logger
    var after = request.afterPosition
    var checkedHead = false
    var checkedStart = false
    var caughtUpOnce = false
    var lastHeartbeat = ContinuousClock.now
    do {
      while !Task.isCancelled && !ServerDrain.isDraining {
        let seen = notifier.generation
        let from = after
        let batch = try await database.withConnection(logger: log) { connection in
          try await EventLogReader.read(after: from, types: request.types, limit: options.batchSize, on: connection, logger: log)
        }
        if !checkedHead {
          checkedHead = true
          guard after <= batch.head else {
            throw RPCError(code: .outOfRange, message: "after_position \(after) is above the log's head \(batch.head): this cursor is not from this log")
          }
        }
        // 0 means the beginning of the retained log, whatever retention removed before it.
        if after == 0 && batch.prunedThrough > 0 && !checkedStart {
          after = batch.prunedThrough
        }
        checkedStart = true
        guard after >= batch.prunedThrough else {
          throw RPCError(
            code: .outOfRange,
            message: "events after \(after) up to \(batch.prunedThrough) were removed by retention; the first retained position is \(batch.prunedThrough + 1)")
        }
        for event in batch.events {
          try await response.write(.with { $0.event = event })
        }
        after = batch.scannedThrough
        let now = ContinuousClock.now
        let caughtUp = !batch.full
        if (caughtUp && !caughtUpOnce) || now - lastHeartbeat >= options.heartbeat {
          caughtUpOnce = caughtUpOnce || caughtUp
          lastHeartbeat = now
          try await response.write(.with {
            $0.heartbeat = .with {
              $0.position = after
              $0.headPosition = batch.head
              $0.sendTime = Google_Protobuf_Timestamp(date: Date())
            }
          })
        }
        if batch.full { continue }
        let untilHeartbeat = options.heartbeat - (ContinuousClock.now - lastHeartbeat)
        await notifier.wait(after: seen, timeout: max(.milliseconds(1), min(options.pollInterval, untilHeartbeat)))
      }
    } catch where Task.isCancelled || ServerDrain.isDraining {
      // The caller left, or the process drains: the stream ends; the caller resumes elsewhere.
    }
    // Ended by the caller's deadline or cancellation, not by a drain: say so (the contract's
    // DEADLINE_EXCEEDED / CANCELLED), not OK.
    guard !ServerDrain.isDraining else { return }
    if let deadline = RequestContext.current?.deadline, deadline <= .now {
      throw RPCError(code: .deadlineExceeded, message: "the stream reached its deadline")
    }
    if Task.isCancelled { throw RPCError(code: .cancelled, message: "the caller cancelled the stream") }
  }
}

/// Keeps the log within its retention and publishes its numbers:
/// `events_log_head_position{producer}`, `events_log_retained{producer}` (rows in the outbox),
/// `events_log_pruned_total{producer}`.
public struct EventLogMaintenance: Service {
  let database: Database
  let producer: String
  let options: EventLogOptions
  let logger: Logger

  public init(database: Database, producer: String, options: EventLogOptions, logger: Logger) {
    self.database = database
    self.producer = producer
    self.options = options
    self.logger = logger
  }

  public func run() async throws {
    await cancelWhenGracefulShutdown {
      let head = Gauge(label: "events_log_head_position", dimensions: [("producer", producer)])
      let retained = Gauge(label: "events_log_retained", dimensions: [("producer", producer)])
      let pruned = Counter(label: "events_log_pruned_total", dimensions: [("producer", producer)])
      // The schema is migrated while the server starts: begin a little later.
      try? await Task.sleep(for: .seconds(5))
      while !Task.isCancelled {
        do {
          try await runOnce(head: head, retained: retained, pruned: pruned)
        } catch {
          if Task.isCancelled { break }
          logger.warning("event log maintenance failed; retrying later", metadata: ["error": "\(String(reflecting: error))"])
        }
        try? await Task.sleep(for: options.maintenanceInterval)
      }
    }
  }

  func runOnce(head: Gauge, retained: Gauge, pruned: Counter) async throws {
    if let retention = options.retention {
      let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
      let removed = try await EventLogReader.prune(before: cutoff, database: database, logger: logger)
      if removed > 0 {
        pruned.increment(by: Int(removed))
        logger.info("event log pruned", metadata: ["removed": "\(removed)"])
      }
    }
    let numbers = try await database.withConnection(logger: logger) { try await EventLogReader.head(on: $0, logger: logger) }
    head.record(numbers.head)
    retained.record(numbers.retained)
  }
}
