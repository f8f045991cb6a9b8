import ServiceKit

/// The tickets process: its schema, migrations and RPC services.
public enum TicketsServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "tickets", schema: "tickets", migrations: TicketsMigrations.all,
    healthNames: ["support.tickets.v1.TicketService"], producesEvents: true
  ) { resources in
    let policy = try TicketsPolicy.load()
    return ServiceParts(rpcServices: [
      TicketHandlers(store: TicketStore(database: resources.database!, outbox: resources.outbox, resolutionHours: policy.resolutionHours), policy: policy, logger: resources.logger)
    ])
  }
}
