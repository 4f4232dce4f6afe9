-- Identity: users and their roles, access requests, owner-login tickets, the setup state and
-- runtime setting edits. API tokens gain their user, model grants and an optional expiry.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    email TEXT,
    role TEXT CHECK (role IS NULL OR role IN ('resource_user', 'resource_power_user',
                                              'resource_manager', 'resource_admin')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- The local owner: the OS user who owns BODHI_HOME, always an admin.
INSERT INTO users (id, username, role, created_at, updated_at)
VALUES ('owner', 'owner', 'resource_admin', CAST(strftime('%s', 'now') AS INTEGER),
        CAST(strftime('%s', 'now') AS INTEGER));
-- Integer ids: the paths /bodhi/v1/access-requests/{id}/... are shared with app access
-- requests, whose ids are never all digits.
CREATE TABLE user_access_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    role TEXT,
    reviewer_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX idx_user_access_requests_user ON user_access_requests (user_id);
CREATE TABLE owner_login_tickets (
    ticket_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE app_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE setting_overrides (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
ALTER TABLE api_tokens ADD COLUMN user_id TEXT NOT NULL DEFAULT 'owner';
ALTER TABLE api_tokens ADD COLUMN models TEXT;
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
CREATE INDEX idx_api_tokens_user ON api_tokens (user_id);
