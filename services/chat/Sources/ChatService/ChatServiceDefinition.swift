import ServiceKit

/// The chat process: its schema, migrations, RPC services, its event log (escalations and
/// closed conversations announced through its outbox) and its subscription to the tickets
/// event log (the answers to escalations).
public enum ChatServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "chat", schema: "chat", migrations: ChatMigrations.all,
    healthNames: [
      "support.chat.v1.ConversationService", "support.chat.v1.AgentService", "support.chat.v1.CannedResponseService",
      "support.chat.v1.FaqService",
    ],
    producesEvents: true,
    valueHistogramBuckets: [MessageBatches.sizeMetric: [1, 2, 4, 8, 16, 32, 64]]
  ) { resources in
    var env = EnvironmentReader()
    // The tickets process, whose event log chat follows (SUPPORTMESH_PRODUCER_TICKETS).
    let tickets = env.address("SUPPORTMESH_PRODUCER_TICKETS", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["tickets"]!.grpc))
    // How often offline messages of OFFLINE_POLICY_CREATE_TICKET groups are checked.
    let offlineSweep = env.int("SUPPORTMESH_CHAT_OFFLINE_SWEEP_SECONDS", default: 30, range: 1...3600)
    // How often ACTIVE conversations are checked for their group's inactivity_timeout.
    let inactivitySweep = env.int("SUPPORTMESH_CHAT_INACTIVITY_SWEEP_SECONDS", default: 30, range: 1...3600)
    // SendMessage batches (MessageBatches.swift): written at once, and messages per batch.
    let writeBatches = env.int("SUPPORTMESH_CHAT_WRITE_BATCHES", default: 2, range: 1...64)
    let writeBatchSize = env.int("SUPPORTMESH_CHAT_WRITE_BATCH_SIZE", default: 64, range: 1...1000)
    try env.validate()
    let database = resources.database!
    let escalations = EscalationStore(database: database, outbox: resources.outbox!)
    let closing = ClosingSettings.load()
    let streams = try ChatStreams(database: database, logger: resources.logger)
    return ServiceParts(
      rpcServices: [
        ConversationHandlers(
          store: ChatStore(
            database: database, outbox: resources.outbox, messageBatches: MessageBatches(maxConcurrent: writeBatches, maxSize: writeBatchSize)),
          settings: .load(), logger: resources.logger),
        EscalationHandlers(store: escalations, closingSettings: closing, logger: resources.logger),
        CannedFaqServices(database: database, logger: resources.logger),
      ] + AgentDesk.services(resources) + streams.services,
      background: [
        streams.hub,
        TicketAnswersConsumer.subscription(producer: tickets, resources: resources),
        OfflineTicketSweeper(
          database: database, store: escalations, closing: closing, interval: .seconds(offlineSweep), logger: resources.logger),
        InactivitySweeper(
          database: database, outbox: resources.outbox!, closing: closing, interval: .seconds(inactivitySweep), logger: resources.logger),
      ]
    )
  }
}
