import FeedbackService
import ServiceKit

await ServiceHost.main(FeedbackServiceDefinition.definition)
