import ServiceKit

/// The tickets schema, oldest first. Never edit an applied migration: add a new one.
///
/// Each case is stored as its protobuf message (`body`) beside the columns every query filters
/// or sorts on, so reads decode one column and lists are index scans.
enum TicketsMigrations {
  static let all: [Migration] = [
    Migration(
      version: 1, name: "tickets, items, history",
      sql: """
        CREATE TABLE tickets (
          ticket_id uuid PRIMARY KEY,
          request_id text NOT NULL UNIQUE,
          request_fingerprint text NOT NULL,
          type smallint NOT NULL,
          category smallint NOT NULL,
          status smallint NOT NULL,
          priority smallint NOT NULL,
          shopper_id text NOT NULL,
          assignee_agent_id text NOT NULL DEFAULT '',
          first_response_due_at timestamptz NOT NULL,
          first_responded_at timestamptz,
          resolution_due_at timestamptz NOT NULL,
          resolved_at timestamptz,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          version bigint NOT NULL,
          body bytea NOT NULL
        );
        -- List filters: each has an index whose trailing columns match the list order.
        CREATE INDEX tickets_created_idx ON tickets (created_at DESC, ticket_id DESC);
        CREATE INDEX tickets_status_idx ON tickets (status, created_at DESC, ticket_id DESC);
        CREATE INDEX tickets_type_idx ON tickets (type, created_at DESC, ticket_id DESC);
        CREATE INDEX tickets_category_idx ON tickets (category, created_at DESC, ticket_id DESC);
        CREATE INDEX tickets_shopper_idx ON tickets (shopper_id, created_at DESC, ticket_id DESC);
        CREATE INDEX tickets_assignee_idx ON tickets (assignee_agent_id, created_at DESC, ticket_id DESC) WHERE assignee_agent_id <> '';
        -- Open cases whose clocks can still breach (partial: closed cases drop out).
        CREATE INDEX tickets_sla_open_idx ON tickets (first_response_due_at, resolution_due_at) WHERE resolved_at IS NULL;
        CREATE TABLE ticket_items (
          ticket_id uuid NOT NULL REFERENCES tickets (ticket_id),
          position integer NOT NULL,
          order_id text NOT NULL,
          order_item_id text NOT NULL,
          PRIMARY KEY (ticket_id, position)
        );
        CREATE INDEX ticket_items_order_idx ON ticket_items (order_id, order_item_id);
        CREATE TABLE ticket_history (
          entry_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          ticket_id uuid NOT NULL REFERENCES tickets (ticket_id),
          occurred_at timestamptz NOT NULL,
          body bytea NOT NULL
        );
        CREATE INDEX ticket_history_ticket_idx ON ticket_history (ticket_id, entry_id);
        """
    ),
    // TicketCreatedEvent and the other tickets events (docs/events.md).
    EventOutbox.migration(version: 2),
    Migration(
      version: 3, name: "changes by request id, comments",
      sql: """
        -- The first result of each change made with a request id (TransitionTicket, AssignTicket,
        -- SetPriority): a retry returns it instead of failing on the version it moved.
        CREATE TABLE ticket_changes (
          request_id text PRIMARY KEY,
          ticket_id uuid NOT NULL REFERENCES tickets (ticket_id),
          request_fingerprint text NOT NULL,
          result bytea NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE ticket_comments (
          comment_id uuid PRIMARY KEY,
          ticket_id uuid NOT NULL REFERENCES tickets (ticket_id),
          request_id text NOT NULL UNIQUE,
          request_fingerprint text NOT NULL,
          visibility smallint NOT NULL,
          created_at timestamptz NOT NULL,
          body bytea NOT NULL
        );
        -- ListComments: a case's comments oldest first, optionally by visibility.
        CREATE INDEX ticket_comments_ticket_idx ON ticket_comments (ticket_id, created_at, comment_id);
        """
    ),
    // Tickets follows the logistics and feedback event logs (TicketEventConsumers).
    EventSubscription.migration(version: 4),
    SlaStore.migration,
    ShipmentExceptionCases.migration, DeliveryFacts.migration, DeliveryFacts.shopperMigration,
    Migration(
      version: 23, name: "breach filter follows the breach flags",
      sql: """
        -- ListTickets' sla_breached_only matches Ticket.sla's *_breached flags exactly: a paused
        -- clock stops counting at the start of its pause (NULL while running). Cases paused
        -- before this migration read as running until their next change.
        ALTER TABLE tickets ADD COLUMN sla_paused_since timestamptz;
        """
    ),
    Migration(
      version: 24, name: "SLA work queue: urgent and important first",
      sql: """
        -- ListSlaWorkQueue orders by priority (highest first), then due time: the queue's
        -- indexes follow that order, one per filter it is read by (SlaStore.queue).
        SET LOCAL statement_timeout = 0;
        DROP INDEX sla_clocks_queue_idx, sla_clocks_queue_unassigned_idx, sla_clocks_queue_skill_group_idx, sla_clocks_queue_priority_idx;
        CREATE INDEX sla_clocks_queue_idx ON sla_clocks (priority DESC, due_at, ticket_id, milestone) WHERE running;
        CREATE INDEX sla_clocks_queue_unassigned_idx ON sla_clocks (priority DESC, due_at, ticket_id, milestone) WHERE running AND assignee_agent_id = '';
        CREATE INDEX sla_clocks_queue_skill_group_idx ON sla_clocks (skill_group_id, priority DESC, due_at, ticket_id, milestone) WHERE running;
        """
    ),
  ]
}
