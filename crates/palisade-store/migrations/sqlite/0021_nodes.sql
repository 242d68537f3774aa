-- The nodes sharing this store (issue 21) and when each last said it was alive:
-- `palisade cluster status`.
CREATE TABLE nodes (
    node      TEXT PRIMARY KEY NOT NULL,
    version   TEXT NOT NULL,
    started   INTEGER NOT NULL,
    heartbeat INTEGER NOT NULL,
    retrying  INTEGER NOT NULL
) WITHOUT ROWID;
