-- MCP: servers the admin registers (remote Streamable HTTP, or a local stdio command the
-- companion runs) and the instances of each user of them, with their credentials sealed.
CREATE TABLE mcp_servers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    enabled INTEGER NOT NULL,
    kind TEXT NOT NULL,                 -- remote | stdio
    url TEXT UNIQUE,                    -- remote: the MCP endpoint
    auth_config TEXT NOT NULL,          -- JSON {type, keys?, client_id?, scopes?}
    client_secret TEXT,                 -- sealed: the secret of the OAuth client (pre-registered or registered)
    oauth_client TEXT,                  -- JSON: the client registered with the server (RFC 7591)
    command TEXT,                       -- stdio: JSON {command, args, cwd, env_keys}
    command_env TEXT,                   -- sealed JSON {name: value}
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE mcp_instances (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    server_id TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    credential_keys TEXT NOT NULL,      -- JSON list of the names of the keys set
    credentials TEXT,                   -- sealed JSON: key values, or the OAuth token set
    auth_status TEXT NOT NULL,          -- ready | needs_login
    auth_error TEXT,
    allowed_tools TEXT,                 -- JSON list, or NULL: every tool allowed
    tools TEXT,                         -- JSON: the tools of the server when last fetched
    tools_fetched_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (user_id, slug)
);
CREATE INDEX idx_mcp_instances_server ON mcp_instances (server_id);

-- The MCP grant of API tokens: NULL none, a star for every instance of its user, or a JSON list.
ALTER TABLE api_tokens ADD COLUMN mcps TEXT;
