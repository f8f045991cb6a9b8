import ServiceKit

/// The chat process: its schema, migrations and RPC services.
public enum ChatServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "chat", schema: "chat", migrations: ChatMigrations.all,
    healthNames: ["support.chat.v1.ConversationService", "support.chat.v1.CannedResponseService", "support.chat.v1.FaqService"],
    producesEvents: true
  ) { resources in
    ServiceParts(rpcServices: [
      ConversationHandlers(store: ChatStore(database: resources.database!), settings: .load(), logger: resources.logger),
      CannedFaqServices(database: resources.database!, logger: resources.logger),
    ])
  }
}
