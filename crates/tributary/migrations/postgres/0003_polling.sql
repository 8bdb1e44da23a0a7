-- Polling: one schedule per instance whose events are polled, and what the last complete
-- read of each resource saw. Both change only together with the events they produce, in
-- one transaction, so a change is reported exactly once across polls.

CREATE TABLE poll_states (
    instance_id BIGINT PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    interval_ms BIGINT NOT NULL,
    next_poll_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    -- When the last successful poll started; the watermark of updated-date resources.
    last_poll_at BIGINT,
    -- Consecutive failed polls, for the back-off, and the last failure.
    failures BIGINT NOT NULL,
    last_error TEXT,
    -- Set when polling cannot go on without the user (the instance needs re-authentication).
    paused_reason TEXT
);
CREATE INDEX poll_states_due ON poll_states (next_poll_at);

CREATE TABLE poll_objects (
    instance_id BIGINT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    resource TEXT NOT NULL,
    object_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    -- The object's place on the window axis (ms), to tell deleted from out of the window.
    window_at BIGINT,
    PRIMARY KEY (instance_id, resource, object_id)
);
