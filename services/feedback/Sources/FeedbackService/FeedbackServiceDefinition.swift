import ServiceKit

/// The feedback process: its schema, migrations and RPC services.
public enum FeedbackServiceDefinition {
  public static let definition = ServiceDefinition(
    name: "feedback", schema: "feedback", migrations: FeedbackMigrations.all,
    healthNames: ["support.feedback.v1.SurveyService"]
  ) { resources in
    ServiceParts(rpcServices: [
      SurveyHandlers(store: SurveyStore(database: resources.database!), settings: try .load(), logger: resources.logger)
    ])
  }
}
