import ChatService
import ServiceKit

await ServiceHost.main(ChatServiceDefinition.definition)
