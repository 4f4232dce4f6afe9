-- No setup window: a fresh install, and one still waiting for someone to choose how people
-- sign in, is ready in local owner mode. Only the owner changes the mode afterwards.
INSERT INTO app_state (key, value) VALUES ('status', 'ready')
    ON CONFLICT (key) DO UPDATE SET value = 'ready';
INSERT INTO app_state (key, value) VALUES ('auth_mode', 'local')
    ON CONFLICT (key) DO NOTHING;
