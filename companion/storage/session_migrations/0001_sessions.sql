-- Browser sessions (session.sqlite). Only the SHA-256 of a session id is stored.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    username TEXT NOT NULL,
    role TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    refresh_token TEXT,
    access_expires_at INTEGER
);
CREATE INDEX idx_sessions_user ON sessions (user_id);
-- OIDC logins in progress: what the callback must match (state) and prove (PKCE, nonce).
CREATE TABLE login_states (
    state TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
