import GRPCCore
import NIOCore
import PostgresNIO
import Synchronization

extension PostgresClient {
  /// `withConnection`, with `body` ended at once (UNAVAILABLE) when its connection closes.
  ///
  /// postgres-nio (1.33.2) never answers a query written to a connection whose channel has
  /// closed (the write fails with nobody to tell the waiting query), and its pool can lease a
  /// connection whose close it has not yet processed. After a database crash such queries
  /// waited for good, with whatever their callers held: a chat message batch held its
  /// conversations 20 s (seen in CI), a probe would report NOT_SERVING until a restart.
  ///
  /// Here a connection found closed at the lease is handed back once the pool has seen the
  /// close (so the next lease gets another), a few times; and `body` runs in a task of its own
  /// that is cancelled and abandoned when the connection closes under it (`ConnectionWatch`).
  public func withOpenConnection<Result: Sendable>(
    _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    try await withOpenConnection(around: { try await $0() }, body)
  }

  /// `withOpenConnection`, with `around` run in the caller's task around the watched `body`:
  /// bookkeeping of the lease that must end with the call, not with an abandoned body.
  func withOpenConnection<Result: Sendable>(
    around: (_ watched: () async throws -> Result) async throws -> Result,
    _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    for _ in 0..<3 {
      let outcome: Result? = try await withConnection { connection in
        if connection.isClosed {
          // The pool learns of the close from closeFuture; handed back before, it would be
          // leased again.
          try? await connection.closeFuture.get()
          return nil
        }
        return try await around { try await ConnectionWatch.shared.run(body, on: connection) }
      }
      if let outcome { return outcome }
    }
    throw ConnectionWatch.closed
  }
}

/// Runs operations on connections so that a connection's close ends its operations at once.
///
/// One close callback per connection, registered the first time an operation runs on it (the
/// entry holds the connection, so its identifier cannot be reused while watched); each
/// operation registers how to end it for as long as it runs.
final class ConnectionWatch: Sendable {
  static let shared = ConnectionWatch()
  static let closed = RPCError(code: .unavailable, message: "the database connection closed, retry later")

  private struct Watched {
    let connection: PostgresConnection
    var operations: [UInt64: @Sendable () -> Void] = [:]
  }

  private struct State {
    var connections: [ObjectIdentifier: Watched] = [:]
    var nextID: UInt64 = 0
  }

  private let state = Mutex(State())

  func run<Result: Sendable>(
    _ body: @escaping @Sendable (PostgresConnection) async throws -> Result, on connection: PostgresConnection
  ) async throws -> Result {
    let key = ObjectIdentifier(connection)
    let outcome = FirstOutcome<Swift.Result<Result, any Error>>()
    let task = CancellableTask()
    var operation: UInt64 = 0
    defer { _ = state.withLock { $0.connections[key]?.operations.removeValue(forKey: operation) } }
    let result = await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        outcome.waiting(continuation)
        let isNew: Bool
        (operation, isNew) = state.withLock { state in
          state.nextID += 1
          let isNew = state.connections[key] == nil
          if isNew { state.connections[key] = Watched(connection: connection) }
          state.connections[key]?.operations[state.nextID] = {
            outcome.resume(.failure(Self.closed))
            task.cancel()
          }
          return (state.nextID, isNew)
        }
        // A callback added to a completed future runs at once.
        if isNew { connection.closeFuture.whenComplete { _ in self.closed(key) } }
        // Inherits the caller's task-local values (request context) and priority.
        task.start {
          do { outcome.resume(.success(try await body(connection))) } catch { outcome.resume(.failure(error)) }
        }
      }
    } onCancel: {
      task.cancel()
    }
    return try result.get()
  }

  private func closed(_ key: ObjectIdentifier) {
    let operations = state.withLock { $0.connections.removeValue(forKey: key) }?.operations ?? [:]
    for end in operations.values { end() }
  }
}

/// A task that may be cancelled before it starts (then it starts cancelled).
final class CancellableTask: Sendable {
  private let state = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

  func start(_ operation: @escaping @Sendable () async -> Void) {
    state.withLock { state in
      state.task = Task(operation: operation)
      if state.cancelled { state.task?.cancel() }
    }
  }

  func cancel() {
    state.withLock { state in
      state.cancelled = true
      state.task?.cancel()
    }
  }
}
