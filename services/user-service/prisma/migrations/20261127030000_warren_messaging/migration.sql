-- Warren messaging tables: include this file as a migration of every service that publishes
-- (outbox) or consumes (inbox) events, e.g. prisma/migrations/<timestamp>_warren_messaging/migration.sql.

-- Events written in the same transaction as the state change; the relay publishes them.
CREATE TABLE IF NOT EXISTS "warren_outbox" (
  "id"             BIGSERIAL PRIMARY KEY,
  "event_id"       UUID NOT NULL,
  "event_type"     TEXT NOT NULL,
  -- Events of one aggregate are published in id order, by one relay at a time.
  "aggregate_key"  TEXT NOT NULL,
  "correlation_id" TEXT NOT NULL,
  -- The envelope exactly as it is published.
  "envelope"       JSON NOT NULL,
  "created_at"     TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  "sent_at"        TIMESTAMPTZ(6),
  "attempts"       INTEGER NOT NULL DEFAULT 0,
  "last_error"     TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS "warren_outbox_event_id_key" ON "warren_outbox" ("event_id");
CREATE INDEX IF NOT EXISTS "warren_outbox_sent_at_id_idx" ON "warren_outbox" ("sent_at", "id");
CREATE INDEX IF NOT EXISTS "warren_outbox_aggregate_key_sent_at_id_idx" ON "warren_outbox" ("aggregate_key", "sent_at", "id");

-- Wakes the relays when a transaction that wrote events commits (NOTIFY is delivered on commit).
CREATE OR REPLACE FUNCTION "warren_outbox_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('warren_outbox', '');
  RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS "warren_outbox_inserted" ON "warren_outbox";
CREATE TRIGGER "warren_outbox_inserted" AFTER INSERT ON "warren_outbox"
  FOR EACH STATEMENT EXECUTE FUNCTION "warren_outbox_notify"();

-- Messages a consumer queue has already handled: written in the handler's transaction, so a
-- redelivered message has its effect once.
CREATE TABLE IF NOT EXISTS "warren_inbox" (
  "consumer"     TEXT NOT NULL,
  "message_id"   TEXT NOT NULL,
  "event_type"   TEXT NOT NULL,
  "processed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  CONSTRAINT "warren_inbox_pkey" PRIMARY KEY ("consumer", "message_id")
);
