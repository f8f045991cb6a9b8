import ServiceKit

/// The chat migrations of the watch streams (versions 8 and 9 are theirs).
enum StreamMigrations {
  /// WatchInbox replays `conversation_events` by position with a filter (ChatStreamStore.inboxEvents):
  /// each arm of that filter has an index, so a replay reads the inbox's events, not the timeline.
  static let inboxIndexes = Migration(
    version: 8, name: "watch inbox indexes",
    sql: """
      -- Events naming an agent (agent_ids && ARRAY[agent]).
      CREATE INDEX conversation_events_agents_idx ON conversation_events USING gin (agent_ids);
      -- A skill group's queue events in order.
      CREATE INDEX conversation_events_skill_group_idx ON conversation_events (skill_group_id, position);
      -- Transfers, whose previous skill group is only in the event body.
      CREATE INDEX conversation_events_transfers_idx ON conversation_events (position) WHERE kind = 8;
      """
  )
}
