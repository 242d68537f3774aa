-- Groups and forwarding (issue 18): an address of a local domain delivers to every
-- target listed here, local users (a copy each) and addresses elsewhere (forwarded
-- with SRS). Independent of `aliases`, whose one target must be a local user.
CREATE TABLE forwards (
    source TEXT NOT NULL,
    domain TEXT NOT NULL REFERENCES domains (name) ON DELETE CASCADE,
    target TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (source, target)
) WITHOUT ROWID;
-- SRS reverse-paths too long for the 64-octet local part (RFC 5321 §4.5.3.1.1) are
-- replaced by a short one naming a row here (kept 30 days: bounces come back for 21).
CREATE TABLE srs_addresses (
    id TEXT PRIMARY KEY,
    original TEXT NOT NULL,
    created INTEGER NOT NULL
) WITHOUT ROWID;
