-- TLS-RPT (RFC 8460): outbound TLS results per policy domain and day, until reported.
CREATE TABLE tlsrpt_results (
    domain TEXT NOT NULL,
    day INTEGER NOT NULL,
    policy_type TEXT NOT NULL,
    mx TEXT NOT NULL,
    result TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (domain, day, policy_type, mx, result)
);
