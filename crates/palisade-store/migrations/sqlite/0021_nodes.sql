-- The nodes sharing this store (issue 21) and when each last said it was alive:
-- `palisade cluster status`.
CREATE TABLE nodes (
    node      TEXT PRIMARY KEY NOT NULL,
    version   TEXT NOT NULL,
    started   INTEGER NOT NULL,
    heartbeat INTEGER NOT NULL,
    retrying  INTEGER NOT NULL
) WITHOUT ROWID;

-- Work one node of several does at a time (sending aggregate reports, the doctor's
-- round): `node` holds `name` until `until`, renewing it while it lives.
CREATE TABLE leases (
    name  TEXT PRIMARY KEY NOT NULL,
    node  TEXT NOT NULL,
    until INTEGER NOT NULL
) WITHOUT ROWID;
