-- Submission counts in 10-minute buckets and recipient domains with first and last use:
-- the quota and anomaly checks read a few rows per message instead of one per message
-- sent (v5's tables made every check cost as much as the user's recent volume).
CREATE TABLE submission_counts (
    user TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (user, bucket)
) WITHOUT ROWID;
INSERT INTO submission_counts (user, bucket, count)
    SELECT user, time / 600, COUNT(*) FROM submissions GROUP BY user, time / 600;
DROP TABLE submissions;
CREATE TABLE submission_recipient_domains (
    user TEXT NOT NULL,
    domain TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (user, domain)
) WITHOUT ROWID;
INSERT INTO submission_recipient_domains (user, domain, first_seen, last_seen)
    SELECT user, domain, MIN(time), MAX(time) FROM submission_domains GROUP BY user, domain;
DROP TABLE submission_domains;
CREATE INDEX submission_recipient_domains_first ON submission_recipient_domains (user, first_seen);
