import ServiceKit

/// The tickets process: its schema, migrations and RPC services.
public enum TicketsServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "tickets", schema: "tickets", migrations: TicketsMigrations.all,
    healthNames: ["support.tickets.v1.TicketService", "support.tickets.v1.SlaService"], producesEvents: true
  ) { resources in
    var env = EnvironmentReader()
    // The processes whose event logs tickets follows (SUPPORTMESH_PRODUCER_LOGISTICS, _FEEDBACK, _CHAT).
    let logistics = env.address("SUPPORTMESH_PRODUCER_LOGISTICS", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["logistics"]!.grpc))
    let feedback = env.address("SUPPORTMESH_PRODUCER_FEEDBACK", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["feedback"]!.grpc))
    let chat = env.address("SUPPORTMESH_PRODUCER_CHAT", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["chat"]!.grpc))
    // How often the SLA sweeper looks for clocks crossing at-risk or due (seconds).
    let slaSweep = env.int("SUPPORTMESH_TICKETS_SLA_SWEEP_SECONDS", default: 10, range: 1...30)
    try env.validate()
    let policy = try TicketsPolicy.load()
    let store = TicketStore(
      database: resources.database!, outbox: resources.outbox, resolutionHours: policy.resolutionHours, slaDefaults: SlaPolicies.defaultPolicy(policy))
    let automation = TicketAutomation(store: store, logger: resources.logger)
    return ServiceParts(
      rpcServices: [
        TicketHandlers(store: store, policy: policy, logger: resources.logger),
        SlaHandlers(store: store, defaults: store.slaDefaults, logger: resources.logger),
        SlaPromiseHandlers(store: store, defaults: store.slaDefaults, logger: resources.logger),
      ],
      background: [
        TicketEventConsumers.logistics(
          producer: logistics, resources: resources, automation: automation,
          exceptionCases: ShipmentExceptionCases(
            store: store, policy: policy, remedies: try ExceptionRemedies.load(), automation: automation, logger: resources.logger)),
        TicketEventConsumers.feedback(producer: feedback, resources: resources, automation: automation),
        TicketEscalations.subscription(producer: chat, resources: resources, store: store, policy: policy),
        ChatShopperReplies.subscription(producer: chat, resources: resources, store: store),
        SlaSweeper(database: resources.database!, outbox: resources.outbox!, interval: .seconds(slaSweep), logger: resources.logger),
      ]
    )
  }
}
