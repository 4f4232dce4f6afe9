-- What apps did: one row per request made with an app token (a browser origin's or an OAuth
-- client's). Only the request's outline is kept (method, path, model name, status, duration),
-- never a body, a prompt, a header or a token. Rows are written in batches, kept up to a
-- number per grant, and deleted with their grant or once older than the app history days.
CREATE TABLE app_activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    grant_id TEXT NOT NULL,
    app TEXT NOT NULL,
    user_id TEXT NOT NULL,
    at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    model TEXT,
    status INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX idx_app_activity_grant ON app_activity (grant_id, id);
CREATE INDEX idx_app_activity_at ON app_activity (at);
