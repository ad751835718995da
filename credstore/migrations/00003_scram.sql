-- SCRAM-SHA-256 keys of app passwords (RFC 5802/7677): a client can then log
-- in without sending the password. One salt per user, shared by all of the
-- user's app passwords, so a single server-first message fits whichever one
-- the client holds. Older app passwords have no keys and stay PLAIN-only.

-- +goose Up
CREATE TABLE scram_salts (
    owner_jid  TEXT PRIMARY KEY,
    salt       BYTEA NOT NULL,
    iterations INTEGER NOT NULL
);
ALTER TABLE credentials ADD COLUMN scram_stored_key BYTEA;
ALTER TABLE credentials ADD COLUMN scram_server_key BYTEA;

-- +goose Down
ALTER TABLE credentials DROP COLUMN scram_server_key;
ALTER TABLE credentials DROP COLUMN scram_stored_key;
DROP TABLE scram_salts;
