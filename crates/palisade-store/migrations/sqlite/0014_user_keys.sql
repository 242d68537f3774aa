-- Users' public keys (OpenPGP keys now, S/MIME certificates later), checked on import,
-- and whether a user's mail is encrypted to them before it is stored.
CREATE TABLE user_keys (
    user TEXT NOT NULL,
    kind TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    data TEXT NOT NULL,
    user_ids TEXT NOT NULL,
    expires INTEGER,
    added INTEGER NOT NULL,
    PRIMARY KEY (user, fingerprint)
) WITHOUT ROWID;

ALTER TABLE users ADD COLUMN encrypt_at_rest INTEGER NOT NULL DEFAULT 0;

-- A domain's default: its users' mail is encrypted to their key when they have one.
ALTER TABLE domains ADD COLUMN encrypt_at_rest INTEGER NOT NULL DEFAULT 0;
