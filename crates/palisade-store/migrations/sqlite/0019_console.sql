-- The web console (issue 19). Administrators are a role of a user, not a separate
-- password file.
ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
-- Set by an administrator: the user must turn two-factor on before anything else.
ALTER TABLE users ADD COLUMN require_2fa INTEGER NOT NULL DEFAULT 0;
-- Sessions live here so that any node can serve them. `id_hash` is the SHA-256 of
-- the cookie's value: a copy of the database does not hold a usable session.
CREATE TABLE web_sessions (
    id_hash   TEXT PRIMARY KEY,
    user      TEXT NOT NULL,
    csrf      TEXT NOT NULL,
    created   INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    ip        TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX web_sessions_user ON web_sessions (user);
-- A user's own security events, newest first, without a scan of every event.
CREATE INDEX events_subject ON events (subject, time);
-- Passkeys (WebAuthn): one row per credential, the webauthn-rs record as JSON (public
-- key, signature counter, backup state). Nothing here signs anything.
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    user          TEXT NOT NULL,
    label         TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    created       INTEGER NOT NULL,
    last_used     INTEGER
) WITHOUT ROWID;
CREATE INDEX passkeys_user ON passkeys (user);
