import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import SupportCodec

/// OFFLINE_POLICY_CREATE_TICKET: an offline message (留言) that waited its group's
/// `offline_ticket_delay` without an agent becomes an after-sales case. The system escalates it
/// (INQUIRY, summary from the shopper's messages) and closes it ESCALATED, in one transaction
/// per conversation (EscalationStore.record). The request id is the conversation's
/// ("offline-ticket:<conversation id>"), and the conversation row is locked while it is
/// checked, so sweepers on several chat instances never escalate one conversation twice.
struct OfflineTicketSweeper: Service {
  let database: Database
  let store: EscalationStore
  let closing: ClosingSettings
  let interval: Duration
  let logger: Logger
  /// Conversations escalated per sweep (the rest wait for the next one).
  static let batchSize: Int64 = 50
  /// The category of the case (a shopper's question left while nobody was online).
  static let category = Support_Chat_V1_EscalationCategory.transaction

  func run() async throws {
    await PeriodicWork.run("offline ticket sweep", every: interval, firstAfter: interval, logger: logger) { _ = try await sweep() }
  }

  /// Escalates the offline messages that are due; returns how many.
  func sweep(now: Date = Date()) async throws -> Int {
    let due = try await database.withConnection(logger: logger) { connection in
      var due: [UUID] = []
      for try await id in try await connection.query(
        """
        SELECT c.conversation_id
        FROM conversations c JOIN skill_groups g ON g.skill_group_id = c.skill_group_id
        WHERE c.status = \(Int16(Support_Chat_V1_ConversationStatus.queued.rawValue)) AND c.offline
          AND g.offline_policy = \(Int16(Support_Chat_V1_OfflinePolicy.createTicket.rawValue))
          AND c.enqueued_at + coalesce(g.offline_ticket_delay_us, 0) * interval '1 microsecond' <= \(now)
          -- Never answered: one an agent took and transferred back to a queue is no longer a message left.
          AND NOT EXISTS (SELECT 1 FROM conversation_assignments a WHERE a.conversation_id = c.conversation_id)
        ORDER BY c.enqueued_at LIMIT \(Self.batchSize)
        """, logger: logger
      ).decode(UUID.self) {
        due.append(id)
      }
      return due
    }
    var escalated = 0
    for id in due {
      let summary = try await shopperText(of: id)
      let request = Support_Chat_V1_EscalateConversationRequest.with {
        $0.requestID = "offline-ticket:\(id.uuidString.lowercased())"
        $0.conversationID = id.uuidString.lowercased()
        $0.ticketType = .inquiry
        $0.category = Self.category
        $0.summary = summary.isEmpty ? "Offline message left while no agent was online (attachments only)" : summary
        $0.closeConversation = true
      }
      let actor = Support_Common_V1_Actor.with { $0.kind = .system; $0.id = "chat-offline-tickets" }
      let at = Date.nowMicroseconds
      let outcome: EscalationStore.RecordOutcome
      do {
        outcome = try await store.record(
        conversationID: id, requestID: request.requestID, fingerprint: request.requestID, logger: logger,
        closing: .init(settings: closing)
      ) { conversation, messageCount in
        // Checked again under the row lock: an agent may have taken it since the query.
        guard conversation.status == .queued else { throw OfflineSweepSkip() }
        return try EscalationHandlers.escalation(request, of: conversation, messageCount: messageCount, by: actor, at: at)
        }
      } catch is OfflineSweepSkip {
        continue
      }
      if case .recorded(let escalation) = outcome {
        escalated += 1
        logger.info("offline message turned into a case", metadata: ["conversation_id": "\(id)", "escalation_id": "\(escalation.escalationID)"])
      }
    }
    return escalated
  }

  /// The shopper's messages, oldest first, cut to an escalation summary's length.
  func shopperText(of id: UUID) async throws -> String {
    try await database.withConnection(logger: logger) { connection in
      var lines: [String] = []
      for try await body in try await connection.query(
        "SELECT body FROM messages WHERE conversation_id = \(id) ORDER BY sequence LIMIT 50", logger: logger
      ).decode(ByteBuffer.self) {
        let message = try ChatMessage(bytea: body)
        if message.sender.kind == .shopper && !message.text.isEmpty { lines.append(message.text) }
      }
      return String(lines.joined(separator: "\n").prefix(EscalationHandlers.maxSummaryLength))
    }
  }
}

/// The conversation stopped being an offline message between the sweep's query and its lock.
struct OfflineSweepSkip: Error {}
