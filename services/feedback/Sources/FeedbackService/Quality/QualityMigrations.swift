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

  static let hourly = Migration(
    version: 11, name: "quality hourly buckets",
    sql: """
      -- The measures pre-aggregated per UTC hour and dimension combination, kept by delta in the
      -- transaction that changes a fact (old contribution out, new one in), so a report over a
      -- year reads buckets, not facts. Durations at 1-second resolution (rounded up), so
      -- percentiles and within-target shares stay exact at that resolution; value_sum keeps the
      -- exact milliseconds for averages. Rows whose contribution can end (until_at) or depends
      -- on the clock (follow-ups due) are not bucketed: they are read from quality_measures.
      CREATE TABLE quality_hourly (
        hour timestamptz NOT NULL,
        measure smallint NOT NULL,
        value bigint NOT NULL,
        agent_id text NOT NULL,
        category text NOT NULL,
        skill_group text NOT NULL,
        channel smallint NOT NULL,
        ticket_type text NOT NULL,
        subject_kind smallint NOT NULL,
        count bigint NOT NULL,
        value_sum bigint NOT NULL,
        PRIMARY KEY (hour, measure, value, agent_id, category, skill_group, channel, ticket_type, subject_kind)
      );
      CREATE INDEX quality_hourly_agent_idx ON quality_hourly (agent_id, hour);
      CREATE INDEX quality_hourly_category_idx ON quality_hourly (category, hour);
      CREATE INDEX quality_hourly_skill_group_idx ON quality_hourly (skill_group, hour);
      CREATE INDEX quality_hourly_channel_idx ON quality_hourly (channel, hour);
      CREATE INDEX quality_hourly_ticket_type_idx ON quality_hourly (ticket_type, hour);
      CREATE INDEX quality_hourly_subject_kind_idx ON quality_hourly (subject_kind, hour);
      -- The measure rows a report always reads raw.
      CREATE INDEX quality_measures_unbucketed_idx ON quality_measures (at) WHERE until_at IS NOT NULL OR measure = 12;
      """)

  static let daily = Migration(
    version: 31, name: "quality daily totals",
    sql: """
      -- The bucketed measures summed per day of the shop's reporting zone, over every dimension
      -- but subject_kind. The hourly buckets hold nearly one row per fact (agent x category x
      -- skill group x channel x type x value rarely repeats within an hour), so a report over a
      -- year would read every one; a report with no agent/category/skill group/channel/type
      -- filter or grouping reads these for the whole days of its range instead (one row per day,
      -- measure and value). Writers do not update them (every fact of a day would lock the same
      -- few rows): they mark the days they touched in quality_daily_dirty, QualityDailyFolder
      -- recomputes marked days from the hourly buckets, and reports read a marked day from the
      -- hourly buckets. The zone is fixed here (a zone whose offsets are whole hours); reports
      -- grouped by day in another zone read the hourly buckets.
      CREATE TABLE quality_day_zone (
        zone text NOT NULL,
        only_one boolean PRIMARY KEY DEFAULT true CHECK (only_one)
      );
      INSERT INTO quality_day_zone (zone) VALUES ('Asia/Shanghai');
      -- The backfill reads every measure row once: on a large table it takes longer than the
      -- session's statement timeout (this transaction only; start-up waits for it).
      SET LOCAL statement_timeout = 0;
      CREATE TABLE quality_daily (
        -- Local midnight in quality_day_zone.
        day timestamptz NOT NULL,
        measure smallint NOT NULL,
        value bigint NOT NULL,
        subject_kind smallint NOT NULL,
        count bigint NOT NULL,
        value_sum bigint NOT NULL,
        PRIMARY KEY (day, measure, value, subject_kind)
      );
      -- Days whose quality_daily rows may be stale (insert-only; the folder deletes what it folded).
      CREATE TABLE quality_daily_dirty (
        id bigserial PRIMARY KEY,
        day timestamptz NOT NULL
      );
      CREATE INDEX quality_daily_dirty_day_idx ON quality_daily_dirty (day);
      INSERT INTO quality_daily (day, measure, value, subject_kind, count, value_sum)
      SELECT date_trunc('day', m.at AT TIME ZONE z.zone) AT TIME ZONE z.zone, m.measure,
        CASE WHEN m.measure IN (1, 2, 3) THEN (m.value + 999) / 1000 ELSE m.value END, m.subject_kind, count(*), sum(m.value)
      FROM quality_measures m, quality_day_zone z WHERE m.until_at IS NULL AND m.measure <> 12 GROUP BY 1, 2, 3, 4;
      """)
}
