-- Held messages, whole (the spool file: envelope header and message), so that any node
-- sharing the store can list, show, release or delete them (issue 21).
CREATE TABLE quarantine (
    id         TEXT PRIMARY KEY NOT NULL,
    node       TEXT NOT NULL,
    arrived    INTEGER NOT NULL,
    sender     TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    file       BLOB NOT NULL
);
CREATE INDEX quarantine_arrived ON quarantine (arrived);
