-- Model file downloads from a Hugging Face hub, one row per pull job.
CREATE TABLE download_jobs (
    id TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    filename TEXT NOT NULL,
    revision TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'running', 'completed', 'error', 'cancelled')),
    total_bytes INTEGER,
    downloaded_bytes INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX idx_download_jobs_file ON download_jobs (repo, filename);
-- At most one unfinished job per file: a second pull joins the first.
CREATE UNIQUE INDEX idx_download_jobs_active ON download_jobs (repo, filename)
    WHERE status IN ('pending', 'running');
