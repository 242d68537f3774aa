-- MTA-STS policies fetched for other domains (RFC 8461 §5.1), kept across restarts: a
-- cached policy is what protects delivery when an attacker strips the _mta-sts record.
CREATE TABLE mta_sts_policies (
    domain TEXT PRIMARY KEY NOT NULL,
    id TEXT NOT NULL,
    policy TEXT NOT NULL,
    expires INTEGER NOT NULL
);
