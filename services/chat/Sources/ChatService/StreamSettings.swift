import ServiceKit

/// Settings of the watch streams, typing indicators and the hub, from the environment.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_CHAT_WATCH_HEARTBEAT_SECONDS | how long a WatchConversation or WatchInbox stream may carry nothing before a heartbeat | 10 |
/// | SUPPORTMESH_CHAT_INBOX_RESUME_DAYS | how far back WatchInbox resumes (older: OUT_OF_RANGE; 0 = no limit) | 7 |
/// | SUPPORTMESH_CHAT_TYPING_SECONDS | how long a typing indicator shows unless renewed | 5 |
/// | SUPPORTMESH_CHAT_HUB_INTERVAL_MS | shortest time between two hub reads (commits meanwhile share one) | 3 |
struct StreamSettings: Sendable {
  var heartbeat: Duration = .seconds(10)
  /// nil: an inbox resumes from any position.
  var inboxResumeWindow: Duration? = .seconds(7 * 86_400)
  var typingLifetime: Duration = .seconds(5)
  /// The hub's fallback read while no notification arrives (a lost NOTIFY costs at most this).
  var pollInterval: Duration = .seconds(1)
  /// Stored events per hub read, and per replay page of a stream.
  var hubBatchSize = 500
  /// The shortest time between two hub reads. Each read numbers and reads what committed since
  /// the last one: under load the commits of a few milliseconds then share one numbering
  /// transaction and one read instead of each paying for its own (see docs/benchmarks.md).
  var hubInterval: Duration = .milliseconds(3)
  var replayPageSize = 200
  /// Deliveries a stream may fall behind before it is caught up from the table instead.
  var mailboxCapacity = 2_000

  static func load(_ environment: EnvironmentReader = EnvironmentReader()) throws -> StreamSettings {
    var env = environment
    var settings = StreamSettings()
    settings.heartbeat = .seconds(env.int("SUPPORTMESH_CHAT_WATCH_HEARTBEAT_SECONDS", default: 10, range: 1...300))
    let days = env.int("SUPPORTMESH_CHAT_INBOX_RESUME_DAYS", default: 7, range: 0...3650)
    settings.inboxResumeWindow = days == 0 ? nil : .seconds(days * 86_400)
    settings.typingLifetime = .seconds(env.int("SUPPORTMESH_CHAT_TYPING_SECONDS", default: 5, range: 1...60))
    settings.hubInterval = .milliseconds(env.int("SUPPORTMESH_CHAT_HUB_INTERVAL_MS", default: 3, range: 0...1000))
    try env.validate()
    return settings
  }
}
