import ServiceKit

/// The feedback process: its schema, migrations, RPC services and its subscription to the
/// tickets event log (TicketEventsConsumer).
public enum FeedbackServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "feedback", schema: "feedback", migrations: FeedbackMigrations.all,
    healthNames: ["support.feedback.v1.SurveyService"]
  ) { resources in
    var env = EnvironmentReader()
    // The tickets process, whose event log feedback follows (SUPPORTMESH_PRODUCER_TICKETS).
    let tickets = env.address("SUPPORTMESH_PRODUCER_TICKETS", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["tickets"]!.grpc))
    try env.validate()
    let settings = try SurveySettings.load()
    return ServiceParts(
      rpcServices: [SurveyHandlers(store: SurveyStore(database: resources.database!), settings: settings, logger: resources.logger)],
      background: [TicketEventsConsumer.subscription(producer: tickets, resources: resources, settings: settings)]
    )
  }
}
