import GRPCCore
import Logging
import ServiceKit

/// The live part of chat, wired once per process: the hub (a background service holding the
/// LISTEN connection) and the RPC services that use it.
struct ChatStreams {
  let hub: ChatHub
  let services: [any RegistrableRPCService]

  init(database: Database, logger: Logger) throws {
    let settings = try StreamSettings.load()
    hub = ChatHub(database: database, settings: settings, logger: logger)
    services = [
      WatchHandlers(database: database, hub: hub, settings: settings, logger: logger),
      ReadAndTypingHandlers(database: database, settings: settings, logger: logger),
    ]
  }
}
