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
