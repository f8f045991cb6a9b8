import Foundation
import Gateway
import ServiceKit

// `supportmesh-gateway credentials|token|api-key …` manage credentials; with no command it serves.
if let status = await GatewayCommand.run(Array(CommandLine.arguments.dropFirst())) {
  exit(status)
}
await ServiceHost.main(GatewayDefinition.definition)
