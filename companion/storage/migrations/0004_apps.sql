-- Apps: the paired extension, pairing codes, access requests, grants, refresh tokens and
-- OAuth clients. Every secret (credential, code, refresh token) is stored as a SHA-256 digest.
CREATE TABLE extension_credentials (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    extension_id TEXT NOT NULL,
    browser TEXT NOT NULL,
    token_prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX idx_extension_credentials_prefix ON extension_credentials (token_prefix);

CREATE TABLE pairing_codes (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

CREATE TABLE app_access_requests (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    app_kind TEXT NOT NULL CHECK (app_kind IN ('origin', 'oauth_client')),
    app_name TEXT,
    reason TEXT,
    requested TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'denied', 'expired')),
    user_id TEXT NOT NULL,
    grant_id TEXT,
    oauth TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE app_grants (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    app TEXT NOT NULL,
    app_kind TEXT NOT NULL CHECK (app_kind IN ('origin', 'oauth_client')),
    app_name TEXT,
    scopes TEXT NOT NULL,
    models TEXT,
    mcps TEXT NOT NULL,
    remember INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER
);
CREATE INDEX idx_app_grants_app ON app_grants (app, status);

CREATE TABLE app_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES app_grants (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'used', 'revoked')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX idx_app_refresh_tokens_grant ON app_refresh_tokens (grant_id);

CREATE TABLE oauth_clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    grant_id TEXT NOT NULL REFERENCES app_grants (id),
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
