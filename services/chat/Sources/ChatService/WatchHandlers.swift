import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// WatchConversation and WatchInbox (chat.proto): replay from conversation_events, then live
/// events from the process's `ChatHub`.
///
/// The seam between replay and live delivery has no gap and no duplicate: a stream registers
/// with the hub first (every event committed afterwards reaches its mailbox), then replays from
/// the table, then drops live events it already sent (by sequence, or by position for an
/// inbox). A stream the hub marks lagged catches up from the table the same way.
struct WatchHandlers: RegistrableRPCService {
  typealias Methods = Support_Chat_V1_ConversationService.Method
  let database: Database
  let hub: ChatHub
  let settings: StreamSettings
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerWatch(Methods.WatchConversation.descriptor, watchConversation)
    router.registerWatch(Methods.WatchInbox.descriptor, watchInbox)
  }

  // MARK: WatchConversation

  @Sendable func watchConversation(
    _ request: Support_Chat_V1_WatchConversationRequest, _ writer: RPCWriter<ConversationEvent>
  ) async throws {
    guard let id = try Validate.resourceID(request.conversationID, "conversation_id") else {
      throw ServiceError.notFound("conversation", request.conversationID)
    }
    guard request.afterSequence >= 0 else { throw ServiceError.invalidArgument("after_sequence", "must not be negative") }
    let logger = log
    guard let conversation = try await database.withConnection(logger: logger, { connection in
      try await ChatStreamStore.conversation(id, on: connection, logger: logger)
    }) else { throw ServiceError.notFound("conversation", request.conversationID) }
    try ParticipantRules.requireWatcher(conversation)
    guard request.afterSequence <= conversation.lastSequence else {
      throw RPCError(
        code: .outOfRange,
        message: "after_sequence \(request.afterSequence) is beyond the conversation's last_sequence \(conversation.lastSequence)")
    }

    let subscription = try await hub.subscribe(.conversation(conversation.conversationID))
    defer { hub.unsubscribe(subscription) }
    var last = request.afterSequence
    do {
      if try await replayConversation(id, after: &last, to: writer, logger) { return }
      // Already CLOSED before this watch, and its CLOSED event not in what was asked for (or
      // read markers after it): nothing more will come, the stream ends after the replay.
      if conversation.status == .closed { return }
      try await writer.write(Self.marker(.caughtUp(.init()), conversation.conversationID, sequence: last))
      while let batch = await subscription.mailbox.next() {
        if batch.lagged, try await replayConversation(id, after: &last, to: writer, logger) { return }
        for delivery in batch.deliveries {
          switch delivery {
          case .heartbeat:
            try await writer.write(Self.marker(.heartbeat(.init()), conversation.conversationID, sequence: last))
          case .event(let row) where row.isEphemeral:
            var event = row.event
            event.sequence = last
            try await writer.write(event)
          case .event(let row):
            // Sent by the replay already (the hub may trail the table at the seam).
            guard row.event.sequence > last else { continue }
            try await writer.write(row.event)
            last = row.event.sequence
            if Self.closes(row.event) { return }
          }
        }
      }
    } catch where Task.isCancelled || ServerDrain.isDraining {
      // The caller left or the server drains: handled below.
    }
    try Self.endOfStream(resumeAfter: "sequence \(last)")
  }

  /// Writes the stored events after `last` in pages, advancing `last`; true once the CLOSED
  /// status event was written (the stream then ends).
  private func replayConversation(
    _ id: UUID, after last: inout Int64, to writer: RPCWriter<ConversationEvent>, _ logger: Logger
  ) async throws -> Bool {
    while true {
      let from = last
      let page = try await database.withConnection(logger: logger) { connection in
        try await ChatStreamStore.conversationEvents(id, after: from, limit: settings.replayPageSize, on: connection, logger: logger)
      }
      for event in page {
        try await writer.write(event)
        last = event.sequence
        if Self.closes(event) { return true }
      }
      if page.count < settings.replayPageSize { return false }
    }
  }

  static func closes(_ event: ConversationEvent) -> Bool {
    if case .statusChanged(let change) = event.event { return change.status == .closed }
    return false
  }

  static func marker(_ kind: ConversationEvent.OneOf_Event, _ conversationID: String, sequence: Int64) -> ConversationEvent {
    .with {
      $0.sequence = sequence
      $0.conversationID = conversationID
      $0.eventTime = Date().timestamp
      $0.event = kind
    }
  }

  /// A stream that did not end by itself: the caller left (nobody reads the status), or the
  /// server drains, and the caller should reconnect elsewhere and resume.
  static func endOfStream(resumeAfter: String) throws {
    if ServerDrain.isDraining {
      throw RPCError(code: .unavailable, message: "the chat service is shutting down: reconnect and resume after \(resumeAfter)")
    }
  }

  // MARK: WatchInbox

  static let maxSkillGroups = 50

  @Sendable func watchInbox(_ request: Support_Chat_V1_WatchInboxRequest, _ writer: RPCWriter<Support_Chat_V1_InboxEvent>) async throws {
    guard !request.agentID.isEmpty || !request.skillGroupIds.isEmpty else {
      throw ServiceError.invalidArgument("agent_id", "agent_id or skill_group_ids is required")
    }
    try Validate.maxLength(request.agentID, "agent_id", Validate.maxIDLength)
    try Validate.maxCount(request.skillGroupIds, "skill_group_ids", Self.maxSkillGroups)
    for (index, group) in request.skillGroupIds.enumerated() { try Validate.required(group, "skill_group_ids[\(index)]") }
    guard request.afterSequence >= 0 else { throw ServiceError.invalidArgument("after_sequence", "must not be negative") }
    try ParticipantRules.requireInboxWatcher(agentID: request.agentID)
    let logger = log
    let filter = InboxFilter(agentID: request.agentID, skillGroupIDs: Set(request.skillGroupIds))

    let subscription = try await hub.subscribe(.inbox(filter))
    defer { hub.unsubscribe(subscription) }
    let (head, resumedAt) = try await database.withConnection(logger: logger) { connection -> (Int64, Date?) in
      let head = try await ChatStreamStore.head(on: connection, logger: logger)
      guard request.afterSequence > 0 else { return (head, nil) }
      return (head, try await ChatStreamStore.createdAt(position: request.afterSequence, on: connection, logger: logger))
    }
    guard request.afterSequence <= head else {
      throw RPCError(code: .outOfRange, message: "after_sequence \(request.afterSequence) is beyond the current position \(head)")
    }
    if let window = settings.inboxResumeWindow, let resumedAt,
      resumedAt < Date().addingTimeInterval(-Double(window.components.seconds)) {
      throw RPCError(
        code: .outOfRange,
        message: "after_sequence \(request.afterSequence) is older than the inbox resume window (\(window.components.seconds / 86_400) days): reload the inbox with ListConversations and watch with after_sequence = 0")
    }
    // after_sequence 0: live events from now on, so nothing to replay.
    var covered = request.afterSequence == 0 ? head : request.afterSequence
    do {
      try await replayInbox(filter, covered: &covered, through: head, to: writer, logger)
      try await writer.write(Self.inboxMarker(.caughtUp(.init()), position: covered))
      while let batch = await subscription.mailbox.next() {
        if batch.lagged {
          let now = try await database.withConnection(logger: logger) { try await ChatStreamStore.head(on: $0, logger: logger) }
          try await replayInbox(filter, covered: &covered, through: now, to: writer, logger)
        }
        for delivery in batch.deliveries {
          switch delivery {
          case .heartbeat(let position):
            covered = max(covered, position)
            try await writer.write(Self.inboxMarker(.heartbeat(.init()), position: covered))
          case .event(let row):
            guard !row.isEphemeral, row.position > covered else { continue }
            try await writer.write(.with { $0.sequence = row.position; $0.event = row.event })
            covered = row.position
          }
        }
      }
    } catch where Task.isCancelled || ServerDrain.isDraining {
      // The caller left or the server drains: handled below.
    }
    try Self.endOfStream(resumeAfter: "position \(covered)")
  }

  /// Writes the inbox's stored events in (`covered`, `head`], page by page.
  private func replayInbox(
    _ filter: InboxFilter, covered: inout Int64, through head: Int64, to writer: RPCWriter<Support_Chat_V1_InboxEvent>, _ logger: Logger
  ) async throws {
    while covered < head {
      let from = covered
      let page = try await database.withConnection(logger: logger) { connection in
        try await ChatStreamStore.inboxEvents(filter, after: from, through: head, limit: settings.replayPageSize, on: connection, logger: logger)
      }
      for row in page.rows {
        try await writer.write(.with { $0.sequence = row.position; $0.event = row.event })
      }
      covered = page.coveredThrough
    }
  }

  static func inboxMarker(_ kind: ConversationEvent.OneOf_Event, position: Int64) -> Support_Chat_V1_InboxEvent {
    .with {
      $0.sequence = position
      $0.event = .with { $0.eventTime = Date().timestamp; $0.event = kind }
    }
  }
}

extension RPCRouter {
  /// Registers one server-streaming protobuf handler (request in, events written until the
  /// handler returns).
  mutating func registerWatch<Input: SwiftProtobuf.Message & Sendable, Output: SwiftProtobuf.Message & Sendable>(
    _ method: MethodDescriptor,
    _ handler: @escaping @Sendable (Input, RPCWriter<Output>) async throws -> Void
  ) {
    registerHandler(
      forMethod: method, deserializer: LimitedDeserializer(CheckedProtobufDeserializer<Input>()), serializer: ProtobufSerializer<Output>()
    ) { request, _ in
      let single = try await ServerRequest(stream: request)
      return StreamingServerResponse(of: Output.self) { writer in
        try await handler(single.message, writer)
        return [:]
      }
    }
  }
}
