import ServiceKit

/// Migrations of AgentService and routing (chat versions 4 and 5), listed in ChatMigrations.all.
enum AgentSchema {
  /// Agents, skill groups and membership. Rows are columns (no protobuf body) because routing
  /// filters and sorts on almost every field. `current_load` is kept in step with the agent's
  /// ACTIVE conversations by the transactions that assign, transfer and close them.
  static let agentsAndSkillGroups = Migration(
    version: 4, name: "agents, skill groups and membership",
    sql: """
      CREATE TABLE skill_groups (
        -- Readable id derived from the name (see SkillGroupID.from), so configuration and
        -- clients can name a group ("general", "after-sales") without looking it up.
        skill_group_id text PRIMARY KEY,
        request_id text UNIQUE,
        request_fingerprint text,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        role smallint NOT NULL DEFAULT 0,
        assignment_policy smallint NOT NULL,
        offline_policy smallint NOT NULL,
        -- NULL: unset (immediately).
        offline_ticket_delay_us bigint,
        first_response_target_us bigint NOT NULL DEFAULT 6000000,
        greeting_canned_response_id text NOT NULL DEFAULT '',
        inactivity_timeout_us bigint NOT NULL DEFAULT 1800000000,
        -- ROUND_ROBIN: the agent who received the group's previous conversation.
        last_assigned_agent_id text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version bigint NOT NULL DEFAULT 1
      );
      CREATE UNIQUE INDEX skill_groups_name_idx ON skill_groups (lower(name));
      CREATE INDEX skill_groups_list_idx ON skill_groups (name, skill_group_id);
      -- The default queue (SUPPORTMESH_CHAT_DEFAULT_SKILL_GROUP defaults to "general"), so a
      -- conversation that names no group always has one: least loaded, offline messages kept.
      INSERT INTO skill_groups (skill_group_id, name, description, assignment_policy, offline_policy)
      VALUES ('general', 'general', 'Default queue for conversations that name no skill group', 1, 1);
      CREATE TABLE agents (
        agent_id uuid PRIMARY KEY,
        request_id text NOT NULL UNIQUE,
        request_fingerprint text NOT NULL,
        display_name text NOT NULL,
        employee_id text NOT NULL DEFAULT '',
        role smallint NOT NULL,
        max_concurrent_conversations integer NOT NULL,
        current_load integer NOT NULL DEFAULT 0 CHECK (current_load >= 0),
        presence smallint NOT NULL,
        presence_at timestamptz NOT NULL,
        last_assign_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        version bigint NOT NULL
      );
      CREATE UNIQUE INDEX agents_employee_idx ON agents (employee_id) WHERE employee_id <> '';
      CREATE INDEX agents_list_idx ON agents (display_name, agent_id);
      CREATE INDEX agents_presence_idx ON agents (presence, display_name, agent_id);
      CREATE INDEX agents_free_idx ON agents (display_name, agent_id) WHERE current_load < max_concurrent_conversations;
      CREATE TABLE agent_skill_groups (
        agent_id uuid NOT NULL REFERENCES agents (agent_id),
        skill_group_id text NOT NULL REFERENCES skill_groups (skill_group_id),
        -- The order the agent's skill_group_ids were given in.
        position integer NOT NULL,
        PRIMARY KEY (agent_id, skill_group_id)
      );
      CREATE INDEX agent_skill_groups_group_idx ON agent_skill_groups (skill_group_id, agent_id);
      """
  )

  /// Routing and ListConversations: the columns and indexes their queries filter on, and the
  /// history of assignments (participating agents, recent assignment rates for wait estimates).
  static let routing = Migration(
    version: 5, name: "routing: assignment history and conversation list indexes",
    sql: """
      -- Set once at start (Routing.admit); columns so lists and pulls can filter on them.
      ALTER TABLE conversations ADD COLUMN offline boolean NOT NULL DEFAULT false;
      ALTER TABLE conversations ADD COLUMN order_id text NOT NULL DEFAULT '';
      -- CloseConversation's internal note (not part of the shopper-visible Conversation).
      ALTER TABLE conversations ADD COLUMN closing_note text NOT NULL DEFAULT '';
      CREATE TABLE conversation_assignments (
        conversation_id uuid NOT NULL REFERENCES conversations (conversation_id),
        -- The conversation's last sequence after the assignment's events.
        sequence bigint NOT NULL,
        agent_id text NOT NULL,
        skill_group_id text NOT NULL,
        assigned_at timestamptz NOT NULL,
        PRIMARY KEY (conversation_id, sequence)
      );
      CREATE INDEX conversation_assignments_rate_idx ON conversation_assignments (skill_group_id, assigned_at);
      -- An agent coming online pulls offline messages first, then the oldest.
      CREATE INDEX conversations_pull_idx ON conversations (skill_group_id, offline DESC, enqueued_at, conversation_id) WHERE status = 1;
      -- ListConversations: newest first under each filter.
      CREATE INDEX conversations_created_idx ON conversations (created_at DESC, conversation_id DESC);
      CREATE INDEX conversations_inbox_idx ON conversations (assigned_agent_id, created_at DESC, conversation_id DESC) WHERE assigned_agent_id <> '';
      CREATE INDEX conversations_status_idx ON conversations (status, created_at DESC, conversation_id DESC);
      CREATE INDEX conversations_group_idx ON conversations (skill_group_id, created_at DESC, conversation_id DESC);
      CREATE INDEX conversations_order_idx ON conversations (order_id, created_at DESC, conversation_id DESC) WHERE order_id <> '';
      CREATE INDEX conversations_offline_idx ON conversations (created_at DESC, conversation_id DESC) WHERE offline;
      """
  )
}
