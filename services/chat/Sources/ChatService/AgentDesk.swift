import GRPCCore
import ServiceKit

/// The agent desk: AgentService and the ConversationService methods of routing (assign,
/// transfer, close, queue position, list), registered as one list in ChatServiceDefinition.
enum AgentDesk {
  static func services(_ resources: ServiceResources) -> [any RegistrableRPCService] {
    let database = resources.database!
    return [
      AgentHandlers(database: database, logger: resources.logger),
      AssignmentHandlers(database: database, logger: resources.logger),
      ConversationListHandlers(database: database, logger: resources.logger),
      CloseHandlers(database: database, outbox: resources.outbox, settings: .load(), logger: resources.logger),
    ]
  }
}
