import ServiceKit

/// The chat schema, oldest first. Never edit an applied migration: add a new one.
enum ChatMigrations {
  static let all: [Migration] = [
    Migration(
      version: 1, name: "conversations and messages",
      sql: """
        CREATE TABLE conversations (
          conversation_id uuid PRIMARY KEY,
          request_id text NOT NULL UNIQUE,
          request_fingerprint text NOT NULL,
          shopper_id text NOT NULL,
          status smallint NOT NULL,
          skill_group_id text NOT NULL,
          assigned_agent_id text NOT NULL DEFAULT '',
          last_sequence bigint NOT NULL,
          enqueued_at timestamptz NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          version bigint NOT NULL,
          body bytea NOT NULL
        );
        CREATE INDEX conversations_shopper_idx ON conversations (shopper_id, created_at DESC, conversation_id DESC);
        CREATE INDEX conversations_agent_idx ON conversations (assigned_agent_id, status, updated_at DESC) WHERE assigned_agent_id <> '';
        -- The queue of a skill group in order: position = rows ahead of a conversation.
        CREATE INDEX conversations_queue_idx ON conversations (skill_group_id, enqueued_at, conversation_id) WHERE status = 1;
        CREATE TABLE messages (
          conversation_id uuid NOT NULL REFERENCES conversations (conversation_id),
          sequence bigint NOT NULL,
          message_id uuid NOT NULL UNIQUE,
          request_id text NOT NULL,
          request_fingerprint text NOT NULL,
          created_at timestamptz NOT NULL,
          body bytea NOT NULL,
          PRIMARY KEY (conversation_id, sequence)
        );
        -- A retried SendMessage (same request id in the same conversation) finds the first message.
        CREATE UNIQUE INDEX messages_request_idx ON messages (conversation_id, request_id);
        """
    ),
    Migration(
      version: 2, name: "conversation timeline",
      sql: """
        -- Every stored event of every conversation (ConversationTimeline.swift). `position` is
        -- chat-wide, gapless and in commit order (timeline_head's row lock orders writers); it is
        -- the inbox sequence. `sequence` is the event's number within its conversation.
        CREATE TABLE conversation_events (
          position bigint PRIMARY KEY,
          conversation_id uuid NOT NULL REFERENCES conversations (conversation_id),
          sequence bigint NOT NULL,
          -- The ConversationEvent oneof field number (4 message, 6 read, 7 assigned, ...).
          kind smallint NOT NULL,
          -- Agents whose inbox the event concerns; the conversation's group and status after it.
          agent_ids text[] NOT NULL,
          skill_group_id text NOT NULL,
          status smallint NOT NULL,
          created_at timestamptz NOT NULL,
          body bytea NOT NULL,
          UNIQUE (conversation_id, sequence)
        );
        CREATE INDEX conversation_events_created_idx ON conversation_events (created_at);
        CREATE TABLE timeline_head (
          singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
          position bigint NOT NULL,
          pruned_through bigint NOT NULL
        );
        INSERT INTO timeline_head (singleton, position, pruned_through) VALUES (true, 0, 0);
        """
    ),
    // ConversationEscalatedEvent and ConversationClosedEvent, served by chat's EventLog.
    EventOutbox.migration(version: 3),
    AgentSchema.agentsAndSkillGroups, AgentSchema.routing,
    CannedFaqMigrations.cannedResponses, CannedFaqMigrations.faqEntries,
    StreamMigrations.inboxIndexes,
    Migration(
      version: 10, name: "escalations",
      sql: """
        -- EscalationStore.swift. request_id is chat-wide: a retried EscalateConversation finds the
        -- first escalation. created_us (exact microseconds) is the ListEscalations cursor key.
        CREATE TABLE escalations (
          escalation_id uuid PRIMARY KEY,
          request_id text NOT NULL UNIQUE,
          request_fingerprint text NOT NULL,
          conversation_id uuid NOT NULL REFERENCES conversations (conversation_id),
          shopper_id text NOT NULL,
          status smallint NOT NULL,
          created_us bigint NOT NULL,
          body bytea NOT NULL
        );
        CREATE INDEX escalations_created_idx ON escalations (created_us DESC, escalation_id DESC);
        CREATE INDEX escalations_conversation_idx ON escalations (conversation_id, created_us DESC, escalation_id DESC);
        CREATE INDEX escalations_shopper_idx ON escalations (shopper_id, created_us DESC, escalation_id DESC);
        CREATE INDEX escalations_status_idx ON escalations (status, created_us DESC, escalation_id DESC);
        """
    ),
    // The answers to escalations, from the tickets event log (TicketAnswersConsumer).
    EventSubscription.migration(version: 11),
    InactivitySweeper.migration,
    TimelineSequencer.migration,
  ]
}
