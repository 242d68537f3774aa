-- Compromised-account containment: one row per submitted message, one per recipient
-- domain of it, and suspended senders. Rows older than 30 days are pruned.
CREATE TABLE submissions (
    user TEXT NOT NULL,
    time INTEGER NOT NULL
);
CREATE INDEX submissions_user_time ON submissions (user, time);
CREATE TABLE submission_domains (
    user TEXT NOT NULL,
    time INTEGER NOT NULL,
    domain TEXT NOT NULL
);
CREATE INDEX submission_domains_user ON submission_domains (user, domain, time);
CREATE TABLE suspensions (
    user TEXT PRIMARY KEY,
    since INTEGER NOT NULL,
    reason TEXT NOT NULL
);
