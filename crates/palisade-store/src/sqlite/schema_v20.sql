-- The dashboard (issue 19). Each node adds its counts per hour; readers sum over nodes.
-- `key` is what the count is of within the metric (a reason, a verdict, a sender
-- domain), '' for none.
CREATE TABLE hourly_counts (
    hour   INTEGER NOT NULL,
    metric TEXT NOT NULL,
    key    TEXT NOT NULL,
    node   TEXT NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (hour, metric, key, node)
) WITHOUT ROWID;
-- TLS results stay after their report goes out (the console shows them); pruned after
-- 90 days.
ALTER TABLE tlsrpt_results ADD COLUMN reported INTEGER NOT NULL DEFAULT 0;
