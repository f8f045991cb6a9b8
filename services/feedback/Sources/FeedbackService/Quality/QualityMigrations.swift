import ServiceKit

/// The quality-number tables (ServiceQualityService): feedback's own copy of the facts it
/// reports on, kept from events (chat, tickets, logistics) and from its own surveys and
/// follow-ups.
enum QualityMigrations {
  static let facts = Migration(
    version: 10, name: "quality facts and measures",
    sql: """
      -- One row per subject (conversation, ticket, survey, follow-up, delivered order) holding the
      -- latest known values merged from every event about it, whatever order they came in.
      CREATE TABLE quality_facts (
        fact_key text PRIMARY KEY,
        -- The conversation a complaint came from ("conversation:ID"): its agent is the one the
        -- complaint counts against, so a later conversation fact re-derives the complaint.
        source_key text NOT NULL DEFAULT '',
        body jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX quality_facts_source_idx ON quality_facts (source_key) WHERE source_key <> '';
      -- What each fact contributes to the numbers: one row per (fact, measure), placed in time by
      -- `at`, with its dimensions. Re-derived whole from the merged fact on every change, so a
      -- redelivered or older event leaves exactly the same rows.
      CREATE TABLE quality_measures (
        fact_key text NOT NULL,
        measure smallint NOT NULL,
        at timestamptz NOT NULL,
        -- Milliseconds for durations, the score for csat/nps, 0/1 flags otherwise.
        value bigint NOT NULL,
        -- When the contribution stopped holding (a resolution undone by a reopen, a pending
        -- follow-up finished); NULL while it holds.
        until_at timestamptz,
        agent_id text NOT NULL,
        category text NOT NULL,
        skill_group text NOT NULL,
        channel smallint NOT NULL,
        ticket_type text NOT NULL,
        subject_kind smallint NOT NULL
      );
      CREATE INDEX quality_measures_fact_idx ON quality_measures (fact_key);
      -- The range scan, and one index per filter ending in the range column.
      CREATE INDEX quality_measures_at_idx ON quality_measures (at);
      CREATE INDEX quality_measures_agent_idx ON quality_measures (agent_id, at);
      CREATE INDEX quality_measures_category_idx ON quality_measures (category, at);
      CREATE INDEX quality_measures_skill_group_idx ON quality_measures (skill_group, at);
      CREATE INDEX quality_measures_channel_idx ON quality_measures (channel, at);
      CREATE INDEX quality_measures_ticket_type_idx ON quality_measures (ticket_type, at);
      CREATE INDEX quality_measures_subject_kind_idx ON quality_measures (subject_kind, at);
      -- Per subscription, the send time of the last heartbeat that found it caught up: every
      -- event committed before it has been applied (data_through_time is the minimum).
      CREATE TABLE quality_progress (
        subscription text PRIMARY KEY,
        through_time timestamptz NOT NULL
      );
      """)
}
