import Foundation
import Logging
import ServiceKit
import ServiceLifecycle

/// Expires ISSUED return authorisations whose expire_time passed, every
/// SUPPORTMESH_LOGISTICS_RETURN_SWEEP_SECONDS: status EXPIRED, the shipment cancelled (its
/// label or pickup voided) and ReturnAuthorizationExpiredEvent, one transaction per batch.
/// Several instances may sweep at once: rows another holds are skipped (SKIP LOCKED).
struct ReturnExpirySweeper: Service {
  let database: Database
  let outbox: EventOutbox
  let interval: Duration
  let logger: Logger
  static let batchSize = 100

  func run() async throws {
    // The schema is migrated while the server starts: begin a little later.
    await PeriodicWork.run("return authorisation expiry sweep", every: interval, firstAfter: .seconds(2), logger: logger) {
      while try await sweepOnce() == Self.batchSize, !Task.isCancelled {}
    }
  }

  /// One batch; returns how many expired.
  func sweepOnce() async throws -> Int {
    let expired = try await database.withTransaction(logger: logger) { connection in
      var events = PendingEvents()
      let count = try await ReturnAuthorizationStore.expireDue(
        now: Date.nowMicroseconds, limit: Self.batchSize, events: &events, on: connection, logger: logger)
      try await events.append(to: outbox, on: connection, logger: logger)
      return count
    }
    if expired > 0 { logger.info("return authorisations expired", metadata: ["count": "\(expired)"]) }
    return expired
  }
}
