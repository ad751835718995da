-- FAST tokens (XEP-0484): one credentials row per user and device (user-agent
-- id), so its id, the portal's line and the live sessions keyed by it survive
-- rotation. The token is sealed, not hashed: checking an HT-* login needs the
-- token itself as the HMAC key. A rotation parks the new token in next_*
-- until the client first uses it (then the old one stops working).

-- +goose Up
ALTER TABLE credentials ADD COLUMN user_agent_id TEXT;
ALTER TABLE credentials ADD COLUMN mechanism TEXT;
ALTER TABLE credentials ADD COLUMN sealed_key_id TEXT;
ALTER TABLE credentials ADD COLUMN sealed_secret BYTEA;
ALTER TABLE credentials ADD COLUMN next_key_id TEXT;
ALTER TABLE credentials ADD COLUMN next_secret BYTEA;
ALTER TABLE credentials ADD COLUMN next_expires_at BIGINT;
ALTER TABLE credentials ADD COLUMN last_count BIGINT;
-- The app password whose login minted the token: revoking it revokes the token.
ALTER TABLE credentials ADD COLUMN parent_id TEXT;
-- What the client of the last use called itself (XEP-0388 user-agent), if anything.
ALTER TABLE credentials ADD COLUMN last_used_agent TEXT;
CREATE INDEX credentials_device ON credentials (owner_jid, user_agent_id);
CREATE INDEX credentials_parent ON credentials (parent_id);

-- +goose Down
DROP INDEX credentials_parent;
DROP INDEX credentials_device;
ALTER TABLE credentials DROP COLUMN parent_id;
ALTER TABLE credentials DROP COLUMN last_used_agent;
ALTER TABLE credentials DROP COLUMN last_count;
ALTER TABLE credentials DROP COLUMN next_expires_at;
ALTER TABLE credentials DROP COLUMN next_secret;
ALTER TABLE credentials DROP COLUMN next_key_id;
ALTER TABLE credentials DROP COLUMN sealed_secret;
ALTER TABLE credentials DROP COLUMN sealed_key_id;
ALTER TABLE credentials DROP COLUMN mechanism;
ALTER TABLE credentials DROP COLUMN user_agent_id;
