-- Remote API models: a provider (its API format, base URL and sealed key) and the model names
-- the companion exposes for it, and router aliases, one name over several models.
CREATE TABLE api_models (
    id TEXT PRIMARY KEY,
    api_format TEXT NOT NULL,           -- openai | anthropic | gemini
    base_url TEXT NOT NULL,
    api_key TEXT,                       -- sealed, NULL when the provider takes none
    api_key_hint TEXT,                  -- the key's last 4 characters (keys of 12 or more)
    models TEXT NOT NULL,               -- JSON list of the provider's model ids
    prefix TEXT,
    forward_all_with_prefix INTEGER NOT NULL,
    extra_headers TEXT NOT NULL,        -- JSON {name: value}
    extra_body TEXT NOT NULL,           -- JSON object merged into every request body
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE router_aliases (
    alias TEXT PRIMARY KEY,
    targets TEXT NOT NULL,              -- JSON list of model names, tried in order
    strategy TEXT NOT NULL,             -- fallback | round_robin
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
