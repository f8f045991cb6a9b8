import ServiceKit

/// The chat process: its schema, migrations and RPC services.
public enum ChatServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "chat", schema: "chat", migrations: ChatMigrations.all,
    healthNames: ["support.chat.v1.ConversationService"], producesEvents: true
  ) { resources in
    let streams = try ChatStreams(database: resources.database!, logger: resources.logger)
    return ServiceParts(rpcServices: [
      ConversationHandlers(store: ChatStore(database: resources.database!), settings: .load(), logger: resources.logger)
    ] + streams.services, background: [streams.hub])
  }
}
