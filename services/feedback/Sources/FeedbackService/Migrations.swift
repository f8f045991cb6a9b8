import ServiceKit

/// The feedback schema, oldest first. Never edit an applied migration: add a new one.
enum FeedbackMigrations {
  static let all: [Migration] = [
    Migration(
      version: 1, name: "surveys",
      sql: """
        CREATE TABLE surveys (
          survey_id uuid PRIMARY KEY,
          request_id text NOT NULL UNIQUE,
          request_fingerprint text NOT NULL,
          subject_kind smallint NOT NULL,
          subject_id text NOT NULL,
          shopper_id text NOT NULL,
          agent_id text NOT NULL DEFAULT '',
          token text NOT NULL UNIQUE,
          status smallint NOT NULL,
          csat smallint,
          nps smallint,
          created_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL,
          answered_at timestamptz,
          version bigint NOT NULL,
          body bytea NOT NULL
        );
        -- One pending survey per subject (conversation or ticket).
        CREATE UNIQUE INDEX surveys_pending_subject_idx ON surveys (subject_kind, subject_id) WHERE status = 1;
        CREATE INDEX surveys_subject_idx ON surveys (subject_kind, subject_id, created_at DESC);
        CREATE INDEX surveys_agent_idx ON surveys (agent_id, created_at DESC, survey_id DESC) WHERE agent_id <> '';
        CREATE INDEX surveys_answered_idx ON surveys (answered_at) WHERE answered_at IS NOT NULL;
        """
    ),
    // Cursor, processed event ids and parked events of feedback's subscriptions.
    EventSubscription.migration(version: 2),
  ]
}
