import ServiceKit

/// The logistics process: its schema, migrations and RPC services; it produces its events
/// through an outbox (served as support.events.v1.EventLog), follows the tickets event log
/// (TicketEventsConsumer) and expires unused return authorisations (ReturnExpirySweeper).
public enum LogisticsServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "logistics", schema: "logistics", migrations: LogisticsMigrations.all,
    healthNames: ["support.logistics.v1.ShipmentService"], producesEvents: true
  ) { resources in
    var env = EnvironmentReader()
    // The tickets process, whose event log logistics follows (SUPPORTMESH_PRODUCER_TICKETS).
    let tickets = env.address("SUPPORTMESH_PRODUCER_TICKETS", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["tickets"]!.grpc))
    try env.validate()
    let carriers = try CarrierCatalog.load()
    let returns = try ReturnSettings.load(carriers: carriers)
    let database = resources.database!
    let outbox = resources.outbox!
    let watchNotifier = EventLogNotifier(client: database.client, channel: ShipmentChanges.channel, logger: resources.logger)
    let consumer = TicketEventsConsumer(outbox: outbox, returns: returns, carriers: carriers, logger: resources.logger)
    return ServiceParts(
      rpcServices: [
        ShipmentHandlers(
          store: ShipmentStore(database: database, outbox: outbox), carriers: carriers, returns: returns, watchNotifier: watchNotifier,
          logger: resources.logger)
      ],
      background: [
        watchNotifier,
        TicketEventsConsumer.subscription(producer: tickets, resources: resources, consumer: consumer),
        ReturnExpirySweeper(database: database, outbox: outbox, interval: returns.sweepInterval, logger: resources.logger),
        DelayedShipmentSweeper(database: database, outbox: outbox, settings: try DelaySettings.load(carriers: carriers), logger: resources.logger),
      ]
    )
  }
}
