import Foundation
import GRPCCore
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import Synchronization

/// The process's one source of live events for WatchConversation and WatchInbox.
///
/// ONE pooled connection LISTENs on the timeline channel (a wake-up after each commit that
/// wrote conversation events, and after each numbering of them) and on the ephemeral channel (typing events, carried in the
/// payload). When stored events move a skill group's line, the hub reads the new places of the
/// watched conversations waiting in it (one query per group) and pushes each changed one. On each wake-up the hub reads every stored event after its
/// position in one query, whatever the number of watchers, and hands each event to the
/// mailboxes of the streams it concerns (by conversation, agent and skill group). Because the
/// table is the truth and positions are gapless in commit order, a notification lost while the
/// connection is re-established only delays events until the next poll; events written
/// through any chat instance reach the watchers of every instance.
final class ChatHub: Service, Sendable {
  let database: Database
  let settings: StreamSettings
  let logger: Logger

  private struct Subscriber {
    var target: WatchTarget
    var mailbox: StreamMailbox
    /// The place in line last pushed to this conversation stream, so only changes are sent.
    var queuePosition: Int32?
    /// When the stream was last handed anything: a heartbeat goes only to a quiet stream.
    var lastPush: ContinuousClock.Instant
  }

  private struct State {
    /// The position through which stored events were handed out; nil until the first read.
    var position: Int64?
    var nextID = 0
    var subscribers: [Int: Subscriber] = [:]
    var byConversation: [String: Set<Int>] = [:]
    var byAgent: [String: Set<Int>] = [:]
    var bySkillGroup: [String: Set<Int>] = [:]
    /// Ephemeral events received but not yet handed out (see `deliverEphemeral`).
    var pendingEphemeral: [TimelineRow] = []
  }

  private let state = Mutex<State>(State())
  /// Wakes the reader: notifications, (re)connects and the fallback poll all land here; a
  /// burst of them coalesces into one pending wake-up.
  private let wakes: AsyncStream<Void>
  private let wake: AsyncStream<Void>.Continuation

  init(database: Database, settings: StreamSettings, logger: Logger) {
    self.database = database
    self.settings = settings
    self.logger = logger
    let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    self.wakes = wakes
    self.wake = wake
  }

  /// A stream's registration; end it with `unsubscribe`.
  struct Subscription: Sendable {
    let id: Int
    let mailbox: StreamMailbox
  }

  /// Registers a stream. Events committed from now on reach its mailbox; the caller then reads
  /// what came before from the table and drops duplicates at the seam.
  func subscribe(_ target: WatchTarget) async throws -> Subscription {
    // Before its first read the hub has no position: a stream registered then could miss
    // events committed before that read. The hub reads at start-up, so this wait is short.
    let deadline = ContinuousClock.now + .seconds(10)
    while state.withLock({ $0.position == nil }) {
      guard ContinuousClock.now < deadline else {
        throw RPCError(code: .unavailable, message: "live chat events are not available yet; retry")
      }
      try await Task.sleep(for: .milliseconds(20))
    }
    let mailbox = StreamMailbox(capacity: settings.mailboxCapacity)
    let id = state.withLock { state in
      state.nextID += 1
      let id = state.nextID
      state.subscribers[id] = Subscriber(target: target, mailbox: mailbox, lastPush: .now)
      switch target {
      case .conversation(let conversationID):
        state.byConversation[conversationID, default: []].insert(id)
      case .inbox(let filter):
        if !filter.agentID.isEmpty { state.byAgent[filter.agentID, default: []].insert(id) }
        for group in filter.skillGroupIDs { state.bySkillGroup[group, default: []].insert(id) }
      }
      return id
    }
    return Subscription(id: id, mailbox: mailbox)
  }

  func unsubscribe(_ subscription: Subscription) {
    subscription.mailbox.finish()
    state.withLock { state in
      guard let subscriber = state.subscribers.removeValue(forKey: subscription.id) else { return }
      func remove(_ key: String, from index: inout [String: Set<Int>]) {
        index[key]?.remove(subscription.id)
        if index[key]?.isEmpty == true { index.removeValue(forKey: key) }
      }
      switch subscriber.target {
      case .conversation(let conversationID):
        remove(conversationID, from: &state.byConversation)
      case .inbox(let filter):
        if !filter.agentID.isEmpty { remove(filter.agentID, from: &state.byAgent) }
        for group in filter.skillGroupIDs { remove(group, from: &state.bySkillGroup) }
      }
    }
  }

  /// Streams registered now (for metrics and tests).
  var subscriberCount: Int { state.withLock { $0.subscribers.count } }

  func run() async throws {
    await cancelWhenGracefulShutdown {
      await withDiscardingTaskGroup { group in
        group.addTask { await self.listen() }
        group.addTask { await self.tick(every: self.settings.pollInterval) { _ = self.wake.yield() } }
        group.addTask { await self.tick(every: Self.heartbeatTick(self.settings.heartbeat)) { self.heartbeat() } }
        await self.readLoop()
        group.cancelAll()
      }
    }
  }

  private func tick(every interval: Duration, _ action: @Sendable () -> Void) async {
    while !Task.isCancelled {
      try? await Task.sleep(for: interval)
      action()
    }
  }

  /// Reads and hands out stored events whenever woken, until cancelled.
  private func readLoop() async {
    _ = wake.yield()
    for await _ in wakes {
      if Task.isCancelled { return }
      let started = ContinuousClock.now
      do {
        try await readAll()
        // Wake-ups arriving meanwhile coalesce into one (see StreamSettings.hubInterval).
        try? await Task.sleep(until: started + settings.hubInterval)
      } catch {
        if Task.isCancelled { return }
        // The schema may still be migrating at start-up, or the database away: the poll retries.
        logger.warning("reading the chat timeline failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
      }
    }
  }

  /// Numbers the committed events still without a position (TimelineSequencer: any hub may,
  /// the first one woken does), then hands out everything numbered after the hub's position,
  /// in batches, then the ephemeral events received before this read began.
  private func readAll() async throws {
    try await TimelineSequencer.numberPending(limit: settings.hubBatchSize, database: database, logger: logger)
    let ephemeral = state.withLock { state in
      defer { state.pendingEphemeral = [] }
      return state.pendingEphemeral
    }
    defer { if !ephemeral.isEmpty { dispatch(ephemeral, through: 0) } }
    try await database.withConnection(logger: logger) { connection in
      guard var position = self.state.withLock({ $0.position }) else {
        // First read: live delivery starts at the current head; streams replay older events.
        let head = try await ChatStreamStore.head(on: connection, logger: self.logger)
        self.state.withLock { $0.position = head }
        return
      }
      var moved = Set<String>()
      while true {
        let rows = try await ChatStreamStore.events(after: position, limit: self.settings.hubBatchSize, on: connection, logger: self.logger)
        if let last = rows.last { position = last.position }
        self.dispatch(rows, through: position)
        moved.formUnion(Self.queuesMoved(by: rows))
        if rows.count < self.settings.hubBatchSize { break }
      }
      try await self.pushQueuePositions(in: moved, on: connection)
    }
  }

  /// Hands each event to the mailboxes of the streams it concerns, and moves the position
  /// under the same lock, so a stream registered after this sees none of these rows (it
  /// reads them from the table) and one registered before sees all of them.
  private func dispatch(_ rows: [TimelineRow], through position: Int64) {
    let now = ContinuousClock.now
    state.withLock { state in
      for row in rows {
        for id in Self.targets(of: row, state) {
          state.subscribers[id]?.mailbox.push(.event(row))
          state.subscribers[id]?.lastPush = now
        }
      }
      if position > 0 { state.position = max(state.position ?? 0, position) }
    }
  }

  private static func targets(of row: TimelineRow, _ state: State) -> Set<Int> {
    var ids = state.byConversation[row.conversationID] ?? []
    guard !row.isEphemeral else { return ids }
    var candidates = Set<Int>()
    for agent in row.agentIDs { candidates.formUnion(state.byAgent[agent] ?? []) }
    candidates.formUnion(state.bySkillGroup[row.skillGroupID] ?? [])
    if case .transferred(let transfer) = row.event.event {
      candidates.formUnion(state.bySkillGroup[transfer.fromSkillGroupID] ?? [])
    }
    for id in candidates {
      if case .inbox(let filter) = state.subscribers[id]?.target, filter.concerns(row) { ids.insert(id) }
    }
    return ids
  }

  /// The skill groups whose line moved with these events: a conversation left the queue
  /// (assigned, closed) or was transferred (away from one group, and into another's line by
  /// its original enqueue time). A conversation joining at the back moves nobody ahead.
  static func queuesMoved(by rows: [TimelineRow]) -> Set<String> {
    var groups = Set<String>()
    for row in rows where !row.isEphemeral {
      switch row.event.event {
      case .assigned, .statusChanged:
        if row.status != .queued { groups.insert(row.skillGroupID) }
      case .transferred(let transfer):
        groups.insert(transfer.fromSkillGroupID)
        groups.insert(row.skillGroupID)
      default:
        break
      }
    }
    groups.remove("")
    return groups
  }

  /// Pushes an ephemeral QueuePosition to each watched conversation still waiting in a moved
  /// line whose place changed since its stream last heard it: one query per moved group,
  /// whatever the number of streams.
  private func pushQueuePositions(in groups: Set<String>, on connection: PostgresConnection) async throws {
    guard !groups.isEmpty else { return }
    let watched = state.withLock { $0.byConversation.keys.compactMap { UUID(uuidString: $0) } }
    guard !watched.isEmpty else { return }
    for group in groups.sorted() {
      let snapshots = try await QueueRows.snapshots(in: group, among: watched, on: connection, logger: logger)
      let now = ContinuousClock.now
      state.withLock { state in
        for snapshot in snapshots {
          for id in state.byConversation[snapshot.conversationID] ?? [] where state.subscribers[id]?.queuePosition != snapshot.position {
            state.subscribers[id]?.queuePosition = snapshot.position
            state.subscribers[id]?.lastPush = now
            let event = ConversationEvent.with {
              $0.conversationID = snapshot.conversationID
              $0.eventTime = snapshot.computeTime
              $0.event = .queuePosition(snapshot)
            }
            state.subscribers[id]?.mailbox.push(.event(TimelineRow(
              position: 0, conversationID: snapshot.conversationID, agentIDs: [], skillGroupID: group, status: .queued, event: event)))
          }
        }
      }
    }
  }

  /// How often the hub looks for quiet streams: every second, or at each heartbeat interval
  /// if that is shorter.
  static func heartbeatTick(_ interval: Duration) -> Duration { min(interval, .seconds(1)) }

  /// Queues a heartbeat, behind the events already queued, for every stream handed nothing for
  /// the heartbeat interval (within half a tick). A stream that carries events needs none: a
  /// round of heartbeats costs as much as a message to every watcher, and would delay the
  /// messages sent meanwhile.
  private func heartbeat() {
    let now = ContinuousClock.now
    let quiet = settings.heartbeat - Self.heartbeatTick(settings.heartbeat) / 2
    state.withLock { state in
      guard let position = state.position else { return }
      var sent: [Int] = []
      for (id, subscriber) in state.subscribers where now - subscriber.lastPush >= quiet {
        subscriber.mailbox.push(.heartbeat(position: position))
        sent.append(id)
      }
      for id in sent { state.subscribers[id]?.lastPush = now }
    }
  }

  /// Ephemeral events are never stored. They reach watchers through the reader, after the
  /// stored events committed before them (whose notifications arrived first): a typing
  /// indicator sent after a message never overtakes that message.
  private func deliverEphemeral(_ payload: String) {
    do {
      let row = try EphemeralPayload.decode(payload)
      state.withLock { state in
        // While the database is away nothing is handed out: keep only recent typing news.
        if state.pendingEphemeral.count >= settings.mailboxCapacity { state.pendingEphemeral.removeFirst() }
        state.pendingEphemeral.append(row)
      }
      _ = wake.yield()
    } catch {
      logger.warning("ignoring a malformed ephemeral chat event", metadata: ["error": "\(error)"])
    }
  }

  /// Holds the one LISTEN connection until cancelled, re-establishing it after any failure;
  /// every (re)connect wakes the reader, since events may have committed meanwhile.
  private func listen() async {
    while !Task.isCancelled {
      do {
        try await database.client.withOpenConnection { connection in
          try await connection.listen(on: ChatStreamStore.timelineChannel) { stored in
            try await connection.listen(on: ChatStreamStore.ephemeralChannel) { ephemeral in
              _ = self.wake.yield()
              try await withThrowingDiscardingTaskGroup { group in
                group.addTask { for try await _ in stored { _ = self.wake.yield() } }
                group.addTask { for try await notification in ephemeral { self.deliverEphemeral(notification.payload) } }
              }
            }
          }
        }
      } catch {
        if Task.isCancelled { break }
        logger.warning("chat timeline notifications interrupted; polling meanwhile", metadata: ["error": "\(String(reflecting: error))"])
      }
      try? await Task.sleep(for: .seconds(1))
    }
  }
}
