import ServiceKit

/// The feedback process: its schema, migrations, RPC services, its event log (surveys and
/// follow-ups announced through its outbox), its subscription to the tickets event log
/// (TicketEventsConsumer), to the chat event log (ChatEventsConsumer), the survey expiry
/// sweep and the survey invitation sender.
public enum FeedbackServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "feedback", schema: "feedback", migrations: FeedbackMigrations.all,
    healthNames: ["support.feedback.v1.SurveyService", "support.feedback.v1.FollowUpService", "support.feedback.v1.ServiceQualityService"], producesEvents: true
  ) { resources in
    var env = EnvironmentReader()
    // The tickets process, whose event log feedback follows (SUPPORTMESH_PRODUCER_TICKETS).
    let tickets = env.address("SUPPORTMESH_PRODUCER_TICKETS", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["tickets"]!.grpc))
    // The chat process, whose closed conversations get surveys (SUPPORTMESH_PRODUCER_CHAT).
    let chat = env.address("SUPPORTMESH_PRODUCER_CHAT", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["chat"]!.grpc))
    // The logistics process, whose delivered orders are the return/exchange rate's denominator
    // (SUPPORTMESH_PRODUCER_LOGISTICS).
    let logistics = env.address("SUPPORTMESH_PRODUCER_LOGISTICS", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["logistics"]!.grpc))
    try env.validate()
    let settings = try FeedbackSettings.load()
    let invitations = try InvitationSettings.load()
    let quality = try QualitySettings.load()
    let database = resources.database!
    let outbox = resources.outbox!
    let tokens = SurveyTokens(callerHeader: resources.config.callerHeader)
    return ServiceParts(
      rpcServices: [
        SurveyHandlers(store: SurveyStore(database: database, outbox: outbox), tokens: tokens, settings: settings, logger: resources.logger),
        FollowUpHandlers(store: FollowUpStore(database: database, outbox: outbox), logger: resources.logger),
        ServiceQualityHandlers(store: QualityQueryStore(database: database), settings: quality, logger: resources.logger),
        AgentScorecardHandlers(store: QualityQueryStore(database: database), settings: quality, logger: resources.logger),
      ],
      background: [
        TicketEventsConsumer.subscription(producer: tickets, resources: resources, outbox: outbox, tokens: tokens, settings: settings),
        ChatEventsConsumer.subscription(producer: chat, resources: resources, outbox: outbox, tokens: tokens, settings: settings),
        SurveyExpirySweeper(database: database, outbox: outbox, interval: settings.sweepInterval, logger: resources.logger),
        SurveyInvitationSender(database: database, tokens: tokens, settings: invitations, logger: resources.logger),
        QualityDailyFolder(database: database, interval: quality.foldInterval, logger: resources.logger),
      ] + QualityEventConsumers.subscriptions(tickets: tickets, chat: chat, logistics: logistics, resources: resources, settings: quality)
    )
  }
}
