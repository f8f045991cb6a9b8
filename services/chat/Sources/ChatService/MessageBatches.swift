import Foundation
import GRPCCore
import Logging
import Metrics
import PostgresNIO
import ServiceKit
import Synchronization

/// SendMessage calls that arrive together are written together: one transaction, a handful of
/// statements, for every message of a batch.
///
/// A message written alone costs about nine statements (the conversation's row lock, the
/// request-id check, the message, the conversation row, its inactivity clock, the timeline
/// events, NOTIFY, BEGIN, COMMIT), each parsed, planned and answered anew; at 600 messages a
/// second those statements, not the rows, were most of PostgreSQL's CPU (docs/benchmarks.md).
/// Here the calls queue, and whichever call finds a free writing slot leads the queued calls
/// into one transaction (`ChatStore.writeMessages`): one statement locks every conversation of
/// the batch, one checks every request id, one inserts every message, one updates every
/// conversation (clock included), one inserts the timeline events. With no other call waiting
/// a message is a batch of one and waits for nobody.
///
/// What each call sees is what it saw alone:
/// - A conversation's messages are written in the order their calls arrived, with
///   consecutive sequences: a conversation is in at most one running batch, and its later
///   calls wait for the next one. The one exception: a write given up unanswered (after
///   `writeLimit`, or at its call's deadline when written alone) may still commit after later
///   messages, when the database answers again.
/// - A call's `decide` runs with its own request context (caller, deadline) and may refuse its
///   message (an error that is a gRPC status) without affecting the others of the batch. The
///   batch itself runs in a task of its own: the leading call's cancellation or deadline does
///   not decide it for the others.
/// - Any other failure (a statement, the commit, the connection) rolls the batch back, and the
///   leading call writes each of its calls again alone, in arrival order, each within its own
///   deadline: the request id makes a message whose commit did happen come back as its first
///   result, never twice. A batch with no answer within `writeLimit` answers its calls
///   UNAVAILABLE instead (the database is hung; a retry with the same request id is safe).
/// - Two calls with the same conversation and request id never share a batch: the later one
///   waits and finds the earlier's message (or ALREADY_EXISTS).
/// - A call cancelled or past its deadline while it waits leaves the queue unwritten.
final class MessageBatches: Sendable {
  typealias Decide = @Sendable (Conversation, PostgresConnection) async throws -> (message: ChatMessage, conversation: Conversation)

  /// One SendMessage to write.
  struct Write: Sendable {
    let conversationID: UUID
    let requestID: String
    let fingerprint: String
    let decide: Decide
    /// The call's request context, restored around `decide` when another call leads.
    let context: RequestContext?

    var deadline: ContinuousClock.Instant? { context?.deadline }
  }

  /// A write waiting in the queue, and how to answer its call.
  struct Job: Sendable {
    let ticket: UInt64
    let write: Write
    let continuation: CheckedContinuation<Turn, Never>

    var conversationID: UUID { write.conversationID }
  }

  /// One call's answer.
  typealias Outcome = Result<ChatStore.AppendOutcome, any Error>

  /// What a waiting call is told to do.
  enum Turn: Sendable {
    /// Another call wrote (or refused) this one's message.
    case done(Outcome)
    /// This call leads the batch (its own job first) and answers the others.
    case lead([Job])
  }

  private struct State {
    var pending: [Job] = []
    /// Conversations in a running batch.
    var busy: Set<UUID> = []
    var running = 0
    var nextTicket: UInt64 = 0
  }

  private let state = Mutex(State())
  /// Messages per written batch (`chat_message_batch_size`, a histogram): its mean says how
  /// much the batching saves; 1 when calls do not overlap.
  static let sizeMetric = "chat_message_batch_size"
  private let sizes = Recorder(label: MessageBatches.sizeMetric)
  /// Batches written at the same time (each holds one pooled connection).
  let maxConcurrent: Int
  /// Messages per batch at most.
  let maxSize: Int

  init(maxConcurrent: Int = 2, maxSize: Int = 64) {
    self.maxConcurrent = maxConcurrent
    self.maxSize = maxSize
  }

  /// Writes one message through the queue (see the type's comment) and returns its outcome.
  func append(
    to conversationID: UUID, requestID: String, fingerprint: String, store: ChatStore, logger: Logger, decide: @escaping Decide
  ) async throws -> ChatStore.AppendOutcome {
    try Task.checkCancellation()
    let ticket = state.withLock { state in
      state.nextTicket += 1
      return state.nextTicket
    }
    let write = Write(
      conversationID: conversationID, requestID: requestID, fingerprint: fingerprint, decide: decide, context: RequestContext.current)
    let turn = await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
        let job = Job(ticket: ticket, write: write, continuation: continuation)
        let batches = state.withLock { state in
          state.pending.append(job)
          return Self.takeBatches(&state, maxConcurrent: maxConcurrent, maxSize: maxSize)
        }
        Self.start(batches)
      }
    } onCancel: {
      let removed = state.withLock { state -> Job? in
        guard let index = state.pending.firstIndex(where: { $0.ticket == ticket }) else { return nil }
        return state.pending.remove(at: index)
      }
      removed?.continuation.resume(returning: .done(.failure(CancellationError())))
    }
    switch turn {
    case .done(let result):
      return try result.get()
    case .lead(let jobs):
      return try await lead(jobs, store: store, logger: logger).get()
    }
  }

  /// Writes `jobs` (this call's own first), answers the others, frees the slot and hands the
  /// next batch to its first call; returns this call's result.
  private func lead(_ jobs: [Job], store: ChatStore, logger: Logger) async -> Outcome {
    let now = ContinuousClock.now
    var results = [Outcome?](repeating: nil, count: jobs.count)
    var live: [Int] = []
    for (index, job) in jobs.enumerated() {
      if let deadline = job.write.deadline, deadline <= now {
        results[index] = .failure(Self.deadlinePassed)
      } else {
        live.append(index)
      }
    }
    if !live.isEmpty {
      switch await Self.write(live.map { jobs[$0].write }, limit: Self.writeLimit, store: store, logger: logger) {
      case .written(let written):
        sizes.record(live.count)
        for (offset, result) in written.enumerated() { results[live[offset]] = result }
      case .noAnswer:
        // The database is hung or unreachable: writing each call again would only wait as
        // long once more per call. Whether the batch commits later, a retry with the same
        // request id tells.
        logger.warning("a batch of \(live.count) messages got no answer in time; its calls are UNAVAILABLE")
        for index in live { results[index] = .failure(Self.noAnswer) }
      case .failed(let error):
        // Nothing of the batch was written (or, when the commit's answer was lost, all of it:
        // the request ids tell). Each call is written alone, in arrival order, still holding
        // the slot and the conversations, so a conversation's order stays its calls' order;
        // each within its own deadline.
        logger.debug("a batch of \(live.count) messages failed; each is written alone", metadata: ["error": "\(error)"])
        var answered = true
        for index in live {
          // After one call got no answer in time the database is hung: the rest are not tried.
          guard answered else {
            results[index] = .failure(Self.noAnswer)
            continue
          }
          let (outcome, gotAnswer) = await Self.writeAlone(jobs[index].write, store: store, logger: logger)
          results[index] = outcome
          answered = gotAnswer
        }
      }
    }
    let next = state.withLock { state in
      for job in jobs { state.busy.remove(job.conversationID) }
      state.running -= 1
      return Self.takeBatches(&state, maxConcurrent: maxConcurrent, maxSize: maxSize)
    }
    Self.start(next)
    for (index, job) in jobs.enumerated().dropFirst() {
      job.continuation.resume(returning: .done(results[index]!))
    }
    return results[0]!
  }

  /// How a batch's write ended.
  private enum Written {
    case written([Outcome])
    case failed(any Error)
    /// No answer within the limit.
    case noAnswer
  }

  /// `ChatStore.writeMessages` in a task of its own: not cancelled with the leading call, not
  /// bounded by its deadline (each call's own context is restored around its `decide`; a
  /// connection is leased under `context`), and given up after `limit`.
  private static func write(
    _ writes: [Write], limit: Duration, context: RequestContext? = nil, store: ChatStore, logger: Logger
  ) async -> Written {
    let outcome = await withTimeLimit(limit) { () async -> Written in
      await RequestContext.$current.withValue(context) {
        do { return .written(try await store.writeMessages(writes, logger: logger)) } catch { return .failed(error) }
      }
    }
    return outcome ?? .noAnswer
  }

  /// One call of a failed batch written again, within its own deadline (and `writeLimit`);
  /// and whether the database answered in time.
  private static func writeAlone(_ write: Write, store: ChatStore, logger: Logger) async -> (Outcome, answered: Bool) {
    var limit = writeLimit
    if let deadline = write.deadline {
      let remaining = deadline - ContinuousClock.now
      guard remaining > .zero else { return (.failure(deadlinePassed), true) }
      limit = min(limit, remaining)
    }
    switch await Self.write([write], limit: limit, context: write.context, store: store, logger: logger) {
    case .written(let outcomes): return (outcomes[0], true)
    case .failed(let error): return (.failure(error), true)
    case .noAnswer: return limit < writeLimit ? (.failure(deadlinePassed), true) : (.failure(noAnswer), false)
    }
  }

  static let noAnswer = RPCError(code: .unavailable, message: "the database did not answer in time, retry later")
  static let deadlinePassed = RPCError(code: .deadlineExceeded, message: "the deadline passed before the message was written")

  /// How long a batch may hold its slot: twice the session's statement timeout. A batch that
  /// takes longer gives its calls UNAVAILABLE (a batch that did commit meanwhile is found by
  /// their request ids on retry). postgres-nio (1.33.2) leaves a statement written to a
  /// connection the server just closed waiting for good (`withOpenConnection` keeps the known
  /// way there shut); without this bound such a batch would hold its slot, and every later
  /// message of its conversations, forever.
  static let writeLimit: Duration = .seconds(20)

  private static func start(_ batches: [[Job]]) {
    for batch in batches { batch[0].continuation.resume(returning: .lead(batch)) }
  }

  /// Takes batches off the queue while a slot is free: the queued calls in arrival order,
  /// skipping (for now) those whose conversation is in a running batch, those whose
  /// conversation has an earlier call skipped, and a second call with the same request id.
  private static func takeBatches(_ state: inout State, maxConcurrent: Int, maxSize: Int) -> [[Job]] {
    var batches: [[Job]] = []
    while state.running < maxConcurrent && !state.pending.isEmpty {
      var batch: [Job] = []
      var left: [Job] = []
      var held: Set<UUID> = []
      var keys: Set<String> = []
      var inBatch: Set<UUID> = []
      for job in state.pending {
        let key = "\(job.conversationID)/\(job.write.requestID)"
        if batch.count >= maxSize || held.contains(job.conversationID) || keys.contains(key)
          || state.busy.contains(job.conversationID)
        {
          held.insert(job.conversationID)
          left.append(job)
        } else {
          batch.append(job)
          keys.insert(key)
          inBatch.insert(job.conversationID)
        }
      }
      state.pending = left
      guard !batch.isEmpty else { break }
      state.busy.formUnion(inBatch)
      state.running += 1
      batches.append(batch)
    }
    return batches
  }
}
