-- Outbound encryption of submitted mail: `never`, `opportunistic` or `required`.
-- A user's NULL means their domain's policy.
ALTER TABLE users ADD COLUMN outbound_encryption TEXT;
ALTER TABLE domains ADD COLUMN outbound_encryption TEXT NOT NULL DEFAULT 'never';

-- A user's S/MIME signing identity: the certificate (PEM, with its chain) and the
-- private key sealed with the server's secret (AES-256-GCM), never stored in clear.
CREATE TABLE signing_keys (
    user TEXT PRIMARY KEY,
    certificate TEXT NOT NULL,
    sealed_key BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    expires INTEGER NOT NULL,
    added INTEGER NOT NULL
) WITHOUT ROWID;
