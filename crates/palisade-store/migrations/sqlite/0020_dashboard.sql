-- The dashboard (issue 19). Each node adds its counts per hour and per day; readers sum
-- over nodes. `key` is what the count is of within the metric (a reason, a verdict, a
-- sender domain), '' for none. Hours are kept two weeks, days 400 days: a year's chart
-- reads days, never hours.
CREATE TABLE hourly_counts (
    metric TEXT NOT NULL,
    hour   INTEGER NOT NULL,
    key    TEXT NOT NULL,
    node   TEXT NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (metric, hour, key, node)
) WITHOUT ROWID;
CREATE TABLE daily_counts (
    metric TEXT NOT NULL,
    day    INTEGER NOT NULL,
    key    TEXT NOT NULL,
    node   TEXT NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (metric, day, key, node)
) WITHOUT ROWID;
-- TLS results stay after their report goes out (the console shows them); `reported` is
-- the part of `count` already sent, so sessions recorded after a report (a manual send
-- includes today) go out with the next one. Pruned after 90 days.
ALTER TABLE tlsrpt_results ADD COLUMN reported INTEGER NOT NULL DEFAULT 0;
-- The dashboard's count of messages waiting for a retry, without reading every row.
CREATE INDEX queue_status_retrying ON queue_status (attempts) WHERE attempts > 0;
