-- Two-factor authentication (RFC 6238 TOTP), its recovery codes, and app passwords.
-- Secrets that users type are stored as SHA-256 (they are random, 60+ bits): the
-- TOTP seed itself has to be kept (the file is readable by the server only).
CREATE TABLE totp (
    user TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    -- The last time step accepted: a code is accepted once (RFC 6238 §5.2).
    last_step INTEGER NOT NULL DEFAULT -1,
    created INTEGER NOT NULL
);
CREATE TABLE recovery_codes (
    user TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (user, hash)
) WITHOUT ROWID;
CREATE TABLE app_passwords (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    label TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    expires INTEGER,
    from_net TEXT,
    created INTEGER NOT NULL,
    last_used INTEGER,
    last_ip TEXT,
    UNIQUE (user, label)
);
