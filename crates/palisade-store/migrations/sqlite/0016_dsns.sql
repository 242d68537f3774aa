-- DSNs queued, by the failed message and the recipients they report: a message whose
-- status was not saved after its DSN went out (a crash between the two) must not
-- bounce twice when it is retried (issue 15).
CREATE TABLE dsn_sent (
    original TEXT NOT NULL,
    recipients TEXT NOT NULL,
    sent INTEGER NOT NULL,
    PRIMARY KEY (original, recipients)
) WITHOUT ROWID;
