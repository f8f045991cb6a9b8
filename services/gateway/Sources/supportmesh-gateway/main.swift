import Gateway
import ServiceKit

await ServiceHost.main(GatewayDefinition.definition)
