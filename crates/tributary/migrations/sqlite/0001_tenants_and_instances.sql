-- Organizations, their users, and element instances with configuration and provider grants.
-- Timestamps are milliseconds since the epoch. Credentials are stored as SHA-256 hashes,
-- secrets as sealed (XChaCha20-Poly1305) bytes; nothing secret is stored in clear.

CREATE TABLE organizations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    secret_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE instances (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    element_key TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    token_sealed BLOB NOT NULL,
    valid BOOLEAN NOT NULL,
    invalid_reason TEXT,
    disabled BOOLEAN NOT NULL,
    identity TEXT,
    access_token_sealed BLOB NOT NULL,
    refresh_token_sealed BLOB,
    token_expires_at INTEGER,
    token_refreshed_at INTEGER,
    -- When the refresher should next renew the access token (NULL: never).
    refresh_due_at INTEGER,
    -- The hub process refreshing the token right now, and until when it may.
    refresh_lease_owner TEXT,
    refresh_lease_until INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX instances_org ON instances (org_id, created_at);
CREATE INDEX instances_refresh_due ON instances (refresh_due_at) WHERE refresh_due_at IS NOT NULL;

CREATE TABLE instance_tags (
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (instance_id, position)
);

CREATE TABLE instance_config (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    -- Exactly one of value (clear) and value_sealed (secret keys) is set, or neither.
    value TEXT,
    value_sealed BLOB,
    UNIQUE (instance_id, key)
);
