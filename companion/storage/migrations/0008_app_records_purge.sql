-- Indexes for the consent cool-down (an app's latest decided requests) and for the periodic
-- purge of ended app records (by time, and codes and tokens by the grant they belong to).
CREATE INDEX idx_app_access_requests_app ON app_access_requests (app, user_id, updated_at);
CREATE INDEX idx_app_access_requests_updated ON app_access_requests (updated_at);
CREATE INDEX idx_app_refresh_tokens_expires ON app_refresh_tokens (expires_at);
CREATE INDEX idx_oauth_codes_grant ON oauth_codes (grant_id);
