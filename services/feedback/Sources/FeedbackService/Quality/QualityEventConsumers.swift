import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle

/// Feedback's subscriptions that keep the quality facts: each applies its events in the same
/// transaction as its cursor (a redelivery changes nothing) and, whenever a heartbeat finds it
/// caught up, records how far in time it has applied (data_through_time).
enum QualityEventConsumers {
  static let ticketsName = "feedback.quality-tickets"
  static let chatName = "feedback.quality-chat"
  static let logisticsName = "feedback.logistics"
  /// Every subscription data_through_time waits for: these, and feedback's survey and
  /// follow-up makers (their surveys and follow-ups are facts too).
  static let names = [ticketsName, chatName, logisticsName, TicketEventsConsumer.name, ChatEventsConsumer.name]

  /// Options that record the subscription's progress in time at each caught-up heartbeat.
  static func progressOptions(_ name: String, database: Database, logger: Logger) -> EventSubscription.Options {
    var options = EventSubscription.Options()
    options.onCaughtUp = { time in try await QualityFactStore.recordProgress(name, through: time, database: database, logger: logger) }
    return options
  }

  static func subscriptions(tickets: HostPort, chat: HostPort, logistics: HostPort, resources: ServiceResources, settings: QualitySettings) -> [any Service] {
    [
      subscription(ticketsName, producer: tickets, types: TicketQualityFacts.types, resources: resources) { envelope, connection, logger in
        try await TicketQualityFacts.apply(envelope, settings: settings, on: connection, logger: logger)
      },
      subscription(chatName, producer: chat, types: ConversationQualityFacts.types, resources: resources) { envelope, connection, logger in
        try await ConversationQualityFacts.apply(envelope, settings: settings, on: connection, logger: logger)
      },
      subscription(logisticsName, producer: logistics, types: DeliveredOrderFact.types, resources: resources) { envelope, connection, logger in
        try await DeliveredOrderFact.apply(envelope, on: connection, logger: logger)
      },
    ]
  }

  static func subscription(
    _ name: String, producer: HostPort, types: [String], resources: ServiceResources,
    apply: @escaping @Sendable (EventEnvelope, PostgresConnection, Logger) async throws -> Void
  ) -> EventSubscription {
    let database = resources.database!
    let logger = resources.logger
    let options = progressOptions(name, database: database, logger: logger)
    return EventSubscription(
      name: name, producer: producer, types: types, consumer: "feedback", database: database,
      callerHeader: resources.config.callerHeader, options: options, logger: logger
    ) { envelope, connection in
      try await apply(envelope, connection, logger)
    }
  }
}
