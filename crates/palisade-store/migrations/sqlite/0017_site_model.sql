-- The per-site model (issue 16): people's decisions about messages (a quarantined
-- message released, one deleted as phishing, `palisade learn`), one row per message
-- (by the SHA-256 of its Message-ID and body), and per feature bucket the weighted
-- decisions of each label that had it. `buckets` keeps the message's features (u32 LE) so a changed
-- decision can take the old one back.
CREATE TABLE lessons (
    digest TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    who TEXT NOT NULL,
    weight REAL NOT NULL,
    time INTEGER NOT NULL,
    buckets BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX lessons_by_who ON lessons (who, time);
CREATE TABLE learned_features (
    bucket INTEGER PRIMARY KEY,
    ham REAL NOT NULL DEFAULT 0,
    phish REAL NOT NULL DEFAULT 0,
    spam REAL NOT NULL DEFAULT 0
);
