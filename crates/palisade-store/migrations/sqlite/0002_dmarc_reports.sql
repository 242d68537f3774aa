-- DMARC aggregate reporting (RFC 7489 §7.2): evaluations waiting to be reported, and
-- reports other domains sent us. The documents are JSON the reporting code owns.
CREATE TABLE dmarc_evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    domain TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX dmarc_evaluations_domain ON dmarc_evaluations (domain, id);

CREATE TABLE dmarc_reports (
    org_name TEXT NOT NULL,
    report_id TEXT NOT NULL,
    domain TEXT NOT NULL,
    received INTEGER NOT NULL,
    date_begin INTEGER NOT NULL,
    date_end INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (org_name, report_id)
);
CREATE INDEX dmarc_reports_domain ON dmarc_reports (domain, date_begin);
