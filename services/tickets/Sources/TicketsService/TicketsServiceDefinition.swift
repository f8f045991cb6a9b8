import ServiceKit

/// The tickets process: its schema, migrations and RPC services.
public enum TicketsServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "tickets", schema: "tickets", migrations: TicketsMigrations.all,
    healthNames: ["support.tickets.v1.TicketService"], producesEvents: true
  ) { resources in
    var env = EnvironmentReader()
    // The processes whose event logs tickets follows (SUPPORTMESH_PRODUCER_LOGISTICS, _FEEDBACK, _CHAT).
    let logistics = env.address("SUPPORTMESH_PRODUCER_LOGISTICS", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["logistics"]!.grpc))
    let feedback = env.address("SUPPORTMESH_PRODUCER_FEEDBACK", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["feedback"]!.grpc))
    let chat = env.address("SUPPORTMESH_PRODUCER_CHAT", default: HostPort(host: "127.0.0.1", port: ServiceConfig.defaultPorts["chat"]!.grpc))
    try env.validate()
    let policy = try TicketsPolicy.load()
    let store = TicketStore(database: resources.database!, outbox: resources.outbox, resolutionHours: policy.resolutionHours)
    let automation = TicketAutomation(store: store, policy: policy, logger: resources.logger)
    return ServiceParts(
      rpcServices: [TicketHandlers(store: store, policy: policy, logger: resources.logger)],
      background: [
        TicketEventConsumers.logistics(
          producer: logistics, resources: resources, automation: automation,
          exceptionCases: ShipmentExceptionCases(
            store: store, policy: policy, remedies: try ExceptionRemedies.load(), automation: automation, logger: resources.logger)),
        TicketEventConsumers.feedback(producer: feedback, resources: resources, automation: automation),
        TicketEscalations.subscription(producer: chat, resources: resources, store: store, policy: policy),
      ]
    )
  }
}
