import ServiceKit

/// The logistics process: its schema, migrations and RPC services.
public enum LogisticsServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "logistics", schema: "logistics", migrations: LogisticsMigrations.all,
    healthNames: ["support.logistics.v1.ShipmentService"]
  ) { resources in
    ServiceParts(rpcServices: [
      ShipmentHandlers(store: ShipmentStore(database: resources.database!), carriers: try .load(), logger: resources.logger)
    ])
  }
}
