import ServiceKit

/// The feedback schema, oldest first. Never edit an applied migration: add a new one.
///
/// Each survey and follow-up is stored as its protobuf message (`body`) beside the columns the
/// queries filter and sort on, so reads decode one column and lists are index scans.
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
    // SurveyCreated/Answered/Expired and FollowUpCreated/Recorded (docs/events.md).
    EventOutbox.migration(version: 3),
    Migration(
      version: 4, name: "follow-ups",
      sql: """
        CREATE TABLE follow_ups (
          follow_up_id uuid PRIMARY KEY,
          request_id text NOT NULL UNIQUE,
          request_fingerprint text NOT NULL,
          ticket_id text NOT NULL,
          agent_id text NOT NULL,
          status smallint NOT NULL,
          due_at timestamptz NOT NULL,
          created_at timestamptz NOT NULL,
          version bigint NOT NULL,
          body bytea NOT NULL
        );
        -- One pending follow-up per ticket.
        CREATE UNIQUE INDEX follow_ups_pending_ticket_idx ON follow_ups (ticket_id) WHERE status = 1;
        -- ListFollowUps, due_time order: one index per filter, ending in the list order.
        CREATE INDEX follow_ups_due_idx ON follow_ups (due_at, follow_up_id);
        CREATE INDEX follow_ups_status_idx ON follow_ups (status, due_at, follow_up_id);
        CREATE INDEX follow_ups_agent_idx ON follow_ups (agent_id, due_at, follow_up_id);
        CREATE INDEX follow_ups_ticket_idx ON follow_ups (ticket_id, due_at, follow_up_id);
        -- The agent's work list: "my pending visits due before tonight".
        CREATE INDEX follow_ups_agent_pending_idx ON follow_ups (agent_id, due_at, follow_up_id) WHERE status = 1;
        -- The first result of each RecordFollowUpOutcome made with a request id.
        CREATE TABLE follow_up_changes (
          request_id text PRIMARY KEY,
          follow_up_id uuid NOT NULL REFERENCES follow_ups (follow_up_id),
          request_fingerprint text NOT NULL,
          result bytea NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        );
        """
    ),
    Migration(
      version: 5, name: "survey tokens hashed; survey list and expiry indexes",
      sql: """
        -- The token is a bearer secret (contract review 3.9): keep only its SHA-256, and remove
        -- it from the stored message (field 5: tag 0x2a, a one-byte length, the token's bytes;
        -- tokens are 43 characters).
        ALTER TABLE surveys ADD COLUMN token_hash bytea;
        UPDATE surveys SET token_hash = sha256(convert_to(token, 'UTF8')),
          body = CASE
            WHEN octet_length(token) < 128
              AND position(('\\x2a'::bytea || set_byte('\\x00'::bytea, 0, octet_length(token)) || convert_to(token, 'UTF8')) IN body) > 0
            THEN overlay(body PLACING ''::bytea
              FROM position(('\\x2a'::bytea || set_byte('\\x00'::bytea, 0, octet_length(token)) || convert_to(token, 'UTF8')) IN body)
              FOR octet_length(token) + 2)
            ELSE body
          END;
        ALTER TABLE surveys ALTER COLUMN token_hash SET NOT NULL;
        ALTER TABLE surveys DROP COLUMN token;
        CREATE UNIQUE INDEX surveys_token_hash_idx ON surveys (token_hash);
        -- ListSurveys, newest first: one index per filter, ending in the list order.
        CREATE INDEX surveys_created_idx ON surveys (created_at DESC, survey_id DESC);
        CREATE INDEX surveys_status_idx ON surveys (status, created_at DESC, survey_id DESC);
        CREATE INDEX surveys_shopper_idx ON surveys (shopper_id, created_at DESC, survey_id DESC);
        CREATE INDEX surveys_subject_list_idx ON surveys (subject_kind, subject_id, created_at DESC, survey_id DESC);
        DROP INDEX surveys_subject_idx;
        -- The expiry sweep: pending surveys by expiry.
        CREATE INDEX surveys_pending_expiry_idx ON surveys (expires_at) WHERE status = 1;
        """
    ),
    QualityMigrations.facts,
    QualityMigrations.hourly,
    SurveyInvitations.migration,
    QualityMigrations.daily,
  ]
}
