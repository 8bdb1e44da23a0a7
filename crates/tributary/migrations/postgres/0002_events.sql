-- Events received from providers, their deliveries to callback URLs, and every attempt.
-- The receiver writes an event, its sequence numbers and its deliveries in one transaction
-- (an outbox); workers claim deliveries with a lease and never hold a transaction open
-- while they call out.

ALTER TABLE organizations ADD COLUMN failure_policy TEXT NOT NULL DEFAULT 'retry';

-- Whether the instance's notifications are being sent; retries exhausted or a 410 Gone
-- turn it off, and events then wait as queued deliveries until it is reactivated.
ALTER TABLE instances ADD COLUMN subscription_active BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE instances ADD COLUMN subscription_note TEXT;

-- Standard Webhooks secrets of an instance; a rotated-out secret signs until expires_at.
CREATE TABLE signing_secrets (
    id BIGINT PRIMARY KEY,
    instance_id BIGINT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    secret_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX signing_secrets_instance ON signing_secrets (instance_id);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    instance_id BIGINT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    org_id BIGINT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    received_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- The provider's body as received, and the normalized event objects (JSON).
    raw TEXT NOT NULL,
    normalized TEXT NOT NULL
);
CREATE INDEX events_instance ON events (instance_id, received_at);
CREATE INDEX events_received ON events (received_at);

-- Provider sequence numbers seen per instance, to deliver a re-sent event once.
CREATE TABLE event_sequences (
    instance_id BIGINT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    seq_no TEXT NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    PRIMARY KEY (instance_id, seq_no)
);
CREATE INDEX event_sequences_event ON event_sequences (event_id);

CREATE TABLE deliveries (
    -- Also the webhook-id and Elements-Webhook-Id: the same on every retry.
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    instance_id BIGINT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    org_id BIGINT NOT NULL,
    -- The notification body, fixed when the event arrives so every attempt sends the same bytes.
    payload TEXT NOT NULL,
    -- pending | inflight | delivered | failed | queued
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'inflight';
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_instance ON deliveries (instance_id, status);

CREATE TABLE delivery_attempts (
    id BIGINT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempted_at BIGINT NOT NULL,
    status_code BIGINT,
    latency_ms BIGINT NOT NULL,
    error TEXT,
    response_body TEXT
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);
