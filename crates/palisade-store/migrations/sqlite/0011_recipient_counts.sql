-- Recipients per user per bucket, for submission.max_recipients_per_day.
ALTER TABLE submission_counts ADD COLUMN recipients INTEGER NOT NULL DEFAULT 0;
