-- One set of migrations for SQLite and PostgreSQL: the types are PostgreSQL's,
-- and SQLite gives BIGINT integer affinity and stores BYTEA values as the blobs they
-- are. Times are Unix microseconds (UTC), so one set of queries serves both.

-- +goose Up

-- A grant is one sign-in at the IdP: who, and the refresh token that proves
-- the IdP still lets them in. Credentials hang off it.
CREATE TABLE grants (
    id              TEXT PRIMARY KEY,
    owner_jid       TEXT NOT NULL,
    owner_sub       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_checked_at BIGINT NOT NULL,
    refresh_key_id  TEXT,
    refresh_token   BYTEA,
    disabled_at     BIGINT,
    disabled_reason TEXT,
    -- A replica refreshing the grant holds it until then, so no two
    -- replicas spend one (possibly single-use) refresh token.
    claimed_until   BIGINT
);
CREATE INDEX grants_due ON grants (last_checked_at) WHERE disabled_at IS NULL;
CREATE INDEX grants_key ON grants (refresh_key_id);

-- A credential is something a client logs in with: an app password today,
-- a FAST token later (kind, expires_at).
CREATE TABLE credentials (
    id             TEXT PRIMARY KEY,
    grant_id       TEXT NOT NULL REFERENCES grants (id),
    kind           TEXT NOT NULL,
    owner_jid      TEXT NOT NULL,
    label          TEXT NOT NULL,
    secret_hash    BYTEA NOT NULL UNIQUE,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    last_used_at   BIGINT,
    last_used_addr TEXT,
    revoked_at     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX credentials_owner ON credentials (owner_jid, created_at);
CREATE INDEX credentials_grant ON credentials (grant_id);

-- SQLite's event log: another process on the same file (the operator's CLI,
-- another proxy) learns of revocations by reading it. seq follows commit
-- order because SQLite has one writer. PostgreSQL uses NOTIFY and leaves it
-- empty.
CREATE TABLE events (
    seq        BIGINT PRIMARY KEY,
    origin     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    payload    TEXT NOT NULL
);

-- +goose Down
DROP TABLE events;
DROP TABLE credentials;
DROP TABLE grants;
