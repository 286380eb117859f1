-- Dashboard sign-ins (issue 18): the cookie holds a random session id, never the API token.
-- Sign-out deletes the row, so a copied cookie stops working at once; a session also ends
-- after `expires_at`, or when unused for the idle timeout (see dashboard/sessions.rs).
--
-- The token a session stands for is kept sealed: XORed with a key stream derived from the
-- session id, which only the cookie holds (the row is found by the id's BLAKE3 hash). The
-- database alone gives no token; neither does a cookie without its row.
CREATE TABLE dashboard_sessions (
    id_hash    TEXT PRIMARY KEY,        -- BLAKE3 of the session id, hex
    user_key   TEXT NOT NULL,           -- BLAKE3 of the token, hex (as the docs' tables)
    sealed     BLOB NOT NULL,           -- the token, sealed as above
    created_at INTEGER NOT NULL,        -- Unix seconds
    last_seen  INTEGER NOT NULL,        -- Unix seconds, refreshed at most once a minute
    expires_at INTEGER NOT NULL         -- Unix seconds
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_key);
