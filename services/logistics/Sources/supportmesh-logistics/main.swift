import LogisticsService
import ServiceKit

await ServiceHost.main(LogisticsServiceDefinition.definition)
