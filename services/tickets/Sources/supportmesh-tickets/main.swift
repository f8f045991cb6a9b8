import ServiceKit
import TicketsService

await ServiceHost.main(TicketsServiceDefinition.definition)
