-- Palisade embedded store, schema version 1.
-- Addresses are stored by their lookup key (local part lower-cased, domain as
-- normalised by palisade-types), so every comparison here is a plain `=`.

CREATE TABLE domains (
    name    TEXT PRIMARY KEY NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE users (
    address       TEXT PRIMARY KEY NOT NULL,
    domain        TEXT NOT NULL REFERENCES domains (name),
    password_hash TEXT NOT NULL,
    created       INTEGER NOT NULL
);
CREATE INDEX users_domain ON users (domain);

-- source is an address key or "*@domain" for the domain's catch-all.
CREATE TABLE aliases (
    source  TEXT PRIMARY KEY NOT NULL,
    domain  TEXT NOT NULL REFERENCES domains (name),
    target  TEXT NOT NULL REFERENCES users (address),
    created INTEGER NOT NULL
);
CREATE INDEX aliases_domain ON aliases (domain);
CREATE INDEX aliases_target ON aliases (target);

CREATE TABLE queue_status (
    id           TEXT PRIMARY KEY NOT NULL,
    attempts     INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    last_error   TEXT,
    updated      INTEGER NOT NULL
);

-- One row per recipient already delivered; position keeps the caller's order.
CREATE TABLE queue_delivered (
    id        TEXT NOT NULL REFERENCES queue_status (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    PRIMARY KEY (id, position)
);

CREATE TABLE events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    time    INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX events_time ON events (time);
