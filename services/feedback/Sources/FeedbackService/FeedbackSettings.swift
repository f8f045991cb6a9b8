import ServiceKit

/// Feedback's policy, from the environment (a bad value stops the process at start).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_FEEDBACK_SURVEY_DAYS | validity of a survey created without expire_time | 7 |
/// | SUPPORTMESH_FEEDBACK_SURVEY_MAX_DAYS | the longest validity accepted | 90 |
/// | SUPPORTMESH_FEEDBACK_SURVEY_SWEEP_SECONDS | how often PENDING surveys past expiry are recorded EXPIRED | 60 |
/// | SUPPORTMESH_FEEDBACK_FOLLOW_UP_DELAY_HOURS | a resolved case's follow-up is due this long after the resolve time | 72 |
struct FeedbackSettings: Sendable {
  var defaultValidityDays: Int
  var maxValidityDays: Int
  var sweepInterval: Duration
  var followUpDelayHours: Int

  static func load(_ environment: EnvironmentReader = EnvironmentReader()) throws -> FeedbackSettings {
    var env = environment
    let settings = FeedbackSettings(
      defaultValidityDays: env.int("SUPPORTMESH_FEEDBACK_SURVEY_DAYS", default: 7, range: 1...365),
      maxValidityDays: env.int("SUPPORTMESH_FEEDBACK_SURVEY_MAX_DAYS", default: 90, range: 1...3650),
      sweepInterval: .seconds(env.int("SUPPORTMESH_FEEDBACK_SURVEY_SWEEP_SECONDS", default: 60, range: 1...86_400)),
      followUpDelayHours: env.int("SUPPORTMESH_FEEDBACK_FOLLOW_UP_DELAY_HOURS", default: 72, range: 0...8_760)
    )
    try env.validate()
    return settings
  }
}
