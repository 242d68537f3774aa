-- The phishing engine: users' display names (protected from impersonation), and the
-- per-domain correspondence history (which organisations each local domain has
-- exchanged mail with, for first-contact and lookalike-of-a-correspondent signals).
ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';

CREATE TABLE correspondents (
    local TEXT NOT NULL,
    sender TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    PRIMARY KEY (local, sender)
) WITHOUT ROWID;
