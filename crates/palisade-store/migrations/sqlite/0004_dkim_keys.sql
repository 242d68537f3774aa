-- DKIM keys per local domain. private_key is base64 PKCS#8; the database file is
-- readable by the server's user only (mode 0600, set at open).
CREATE TABLE dkim_keys (
    domain TEXT NOT NULL,
    selector TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_key TEXT NOT NULL,
    state TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (domain, selector)
);
