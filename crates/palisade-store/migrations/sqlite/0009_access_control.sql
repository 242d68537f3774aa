-- Access control (brute force): failed logins, account lockouts, IP bans, SMTP-level
-- abuse strikes, and where each user last logged in from. Shared by every node that
-- shares the store, and kept across restarts.
CREATE TABLE auth_failures (
    user TEXT NOT NULL,
    ip TEXT NOT NULL,
    -- A short keyed hash of the attempted password: the same wrong password from the
    -- same client (a mail app with a stale password) counts once.
    fingerprint TEXT NOT NULL,
    time INTEGER NOT NULL
);
CREATE INDEX auth_failures_user ON auth_failures (user, time);
CREATE INDEX auth_failures_ip ON auth_failures (ip, time);
CREATE TABLE lockouts (
    user TEXT PRIMARY KEY NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER NOT NULL,
    strikes INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE bans (
    ip TEXT PRIMARY KEY NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER NOT NULL,
    strikes INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE abuse_strikes (
    ip TEXT NOT NULL,
    kind TEXT NOT NULL,
    time INTEGER NOT NULL
);
CREATE INDEX abuse_strikes_ip ON abuse_strikes (ip, kind, time);
CREATE TABLE login_successes (
    user TEXT NOT NULL,
    ip TEXT NOT NULL,
    time INTEGER NOT NULL,
    PRIMARY KEY (user, ip)
) WITHOUT ROWID;
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
