-- Per-address rate counts of each node per fixed window, so that nodes sharing a store
-- enforce one limit together (each node also keeps a token bucket in memory).
CREATE TABLE rate_counts (
    kind TEXT NOT NULL,
    window INTEGER NOT NULL,
    ip TEXT NOT NULL,
    node TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (kind, window, ip, node)
) WITHOUT ROWID;
