import ServiceKit

/// The logistics schema, oldest first. Never edit an applied migration: add a new one.
enum LogisticsMigrations {
  static let all: [Migration] = [
    Migration(
      version: 1, name: "shipments and tracking events",
      sql: """
        CREATE TABLE shipments (
          shipment_id uuid PRIMARY KEY,
          request_id text NOT NULL UNIQUE,
          request_fingerprint text NOT NULL,
          kind smallint NOT NULL,
          order_id text NOT NULL,
          ticket_id text NOT NULL DEFAULT '',
          carrier_code text NOT NULL,
          tracking_number text NOT NULL,
          status smallint NOT NULL,
          last_sequence bigint NOT NULL DEFAULT 0,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          version bigint NOT NULL,
          body bytea NOT NULL
        );
        -- One live shipment per waybill; a cancelled label (status 11) frees the number.
        CREATE UNIQUE INDEX shipments_waybill_idx ON shipments (carrier_code, tracking_number) WHERE status <> 11;
        CREATE INDEX shipments_order_idx ON shipments (order_id, created_at DESC, shipment_id DESC);
        CREATE INDEX shipments_ticket_idx ON shipments (ticket_id, created_at DESC, shipment_id DESC) WHERE ticket_id <> '';
        CREATE INDEX shipments_status_idx ON shipments (status, created_at DESC, shipment_id DESC);
        -- Carrier events, idempotent per (carrier, carrier event id); the timeline is read in
        -- event-time order with the receipt sequence breaking ties.
        CREATE TABLE tracking_events (
          carrier_code text NOT NULL,
          carrier_event_id text NOT NULL,
          shipment_id uuid NOT NULL REFERENCES shipments (shipment_id),
          sequence bigint NOT NULL,
          event_time timestamptz NOT NULL,
          received_at timestamptz NOT NULL,
          body bytea NOT NULL,
          PRIMARY KEY (carrier_code, carrier_event_id)
        );
        CREATE INDEX tracking_events_timeline_idx ON tracking_events (shipment_id, event_time, sequence);
        """
    ),
    Migration(
      version: 2, name: "shipment exceptions; carrier codes in lower case",
      sql: """
        CREATE TABLE shipment_exceptions (
          exception_id uuid PRIMARY KEY,
          shipment_id uuid NOT NULL REFERENCES shipments (shipment_id),
          kind smallint NOT NULL,
          state smallint NOT NULL,
          detected_at timestamptz NOT NULL,
          version bigint NOT NULL,
          body bytea NOT NULL
        );
        -- At most one OPEN (state 1) exception per shipment and kind.
        CREATE UNIQUE INDEX shipment_exceptions_open_idx ON shipment_exceptions (shipment_id, kind) WHERE state = 1;
        -- The open-exception work queue, oldest detection first.
        CREATE INDEX shipment_exceptions_queue_idx ON shipment_exceptions (detected_at, exception_id) WHERE state = 1;
        -- The contract's carrier codes are lower case ("sf"); earlier rows were stored upper case
        -- (their bodies are normalised when read).
        UPDATE shipments SET carrier_code = lower(carrier_code) WHERE carrier_code <> lower(carrier_code);
        UPDATE tracking_events SET carrier_code = lower(carrier_code) WHERE carrier_code <> lower(carrier_code);
        """
    ),
    // Events: logistics announces its changes through an outbox in its schema, and follows the
    // tickets event log (ServiceKit's cursor, dedupe and parking tables).
    EventOutbox.migration(version: 3),
    EventSubscription.migration(version: 4),
    Migration(
      version: 5, name: "return authorisations, booked waybills, shipment watch log, list indexes",
      sql: """
        CREATE TABLE return_authorizations (
          return_authorization_id uuid PRIMARY KEY,
          request_id text NOT NULL UNIQUE,
          request_fingerprint text NOT NULL,
          rma_number text NOT NULL UNIQUE,
          ticket_id text NOT NULL,
          order_id text NOT NULL,
          status smallint NOT NULL,
          expire_at timestamptz NOT NULL,
          created_at timestamptz NOT NULL,
          version bigint NOT NULL,
          body bytea NOT NULL
        );
        CREATE INDEX return_authorizations_ticket_idx ON return_authorizations (ticket_id, created_at DESC, return_authorization_id DESC);
        CREATE INDEX return_authorizations_order_idx ON return_authorizations (order_id, created_at DESC, return_authorization_id DESC);
        -- The expiry sweep reads ISSUED (status 1) authorisations by expiry.
        CREATE INDEX return_authorizations_expiry_idx ON return_authorizations (expire_at) WHERE status = 1;
        -- RMA numbers and the waybills logistics books itself: unique by construction.
        CREATE SEQUENCE rma_number_seq;
        CREATE SEQUENCE booked_waybill_seq;
        -- ShipmentDeliveredEvent is announced once per shipment: the first time it is DELIVERED.
        ALTER TABLE shipments ADD COLUMN delivery_announced boolean NOT NULL DEFAULT false;
        -- The latest OUTBOUND shipment of an order gives a return's sender address.
        CREATE INDEX shipments_order_kind_idx ON shipments (order_id, kind, created_at DESC);
        -- ListShipments filters: kind, and a waybill (any status, cancelled included).
        CREATE INDEX shipments_kind_idx ON shipments (kind, created_at DESC, shipment_id DESC);
        CREATE INDEX shipments_carrier_idx ON shipments (carrier_code, tracking_number, created_at DESC, shipment_id DESC);
        -- Every change of a shipment as WatchShipment delivers it, by sequence (replay, resume).
        CREATE TABLE shipment_changes (
          shipment_id uuid NOT NULL REFERENCES shipments (shipment_id),
          sequence bigint NOT NULL,
          body bytea NOT NULL,
          PRIMARY KEY (shipment_id, sequence)
        );
        """
    ),
    DelayedShipmentSweeper.migration,
    RouteHistory.migration,
    Migration(
      version: 12, name: "shipments know their shopper",
      sql: """
        -- A shopper lists the shipments registered for them (Shipment.shopper_id, set at
        -- creation and never changed). Shipments created before this migration keep their
        -- shopper in `body` only: GetShipment and WatchShipment still let that shopper read
        -- them, ListShipments by shopper does not find them.
        ALTER TABLE shipments ADD COLUMN shopper_id text NOT NULL DEFAULT '';
        CREATE INDEX shipments_shopper_idx ON shipments (shopper_id, created_at DESC, shipment_id DESC) WHERE shopper_id <> '';
        """
    ),
    Migration(
      version: 13, name: "delayed exceptions once per silence",
      sql: """
        -- The delay sweep skips a shipment whose DELAYED exception (open or resolved) was
        -- detected after its last scan: one per silence (DelayedShipmentSweeper).
        CREATE INDEX shipment_exceptions_delayed_idx ON shipment_exceptions (shipment_id, detected_at DESC) WHERE kind = 1;
        """
    ),
  ]
}
