-- Palisade's store on PostgreSQL: the schema the SQLite steps 1 to 20 arrive at, in one
-- step. Times are seconds since the Unix epoch (BIGINT); flags are BOOLEAN; `user` and
-- `window` are reserved words here and are always quoted. Text compares and sorts by
-- bytes (COLLATE "C"), as in SQLite, whatever the database's own collation.
--
-- Addresses are stored by their lookup key (local part lower-cased, domain in its
-- ASCII form), so every comparison is a plain equality.

CREATE TABLE domains (
    name                TEXT COLLATE "C" PRIMARY KEY,
    created             BIGINT NOT NULL,
    encrypt_at_rest     BOOLEAN NOT NULL DEFAULT FALSE,
    outbound_encryption TEXT COLLATE "C" NOT NULL DEFAULT 'never'
);

CREATE TABLE users (
    address             TEXT COLLATE "C" PRIMARY KEY,
    domain              TEXT COLLATE "C" NOT NULL REFERENCES domains (name),
    password_hash       TEXT COLLATE "C" NOT NULL,
    created             BIGINT NOT NULL,
    name                TEXT COLLATE "C" NOT NULL DEFAULT '',
    encrypt_at_rest     BOOLEAN NOT NULL DEFAULT FALSE,
    outbound_encryption TEXT COLLATE "C",
    admin               BOOLEAN NOT NULL DEFAULT FALSE,
    require_2fa         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX users_domain ON users (domain);

CREATE TABLE aliases (
    source  TEXT COLLATE "C" PRIMARY KEY,
    domain  TEXT COLLATE "C" NOT NULL REFERENCES domains (name),
    target  TEXT COLLATE "C" NOT NULL REFERENCES users (address),
    created BIGINT NOT NULL
);
CREATE INDEX aliases_domain ON aliases (domain);
CREATE INDEX aliases_target ON aliases (target);

CREATE TABLE forwards (
    source  TEXT COLLATE "C" NOT NULL,
    domain  TEXT COLLATE "C" NOT NULL REFERENCES domains (name) ON DELETE CASCADE,
    target  TEXT COLLATE "C" NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (source, target)
);

CREATE TABLE srs_addresses (
    id       TEXT COLLATE "C" PRIMARY KEY,
    original TEXT COLLATE "C" NOT NULL,
    created  BIGINT NOT NULL
);

-- The scheduler's bookkeeping. Each node's spool is on its own disk, so each row
-- belongs to the node that holds the message (`node`, its node_id): a node reads and
-- changes its own rows only.
CREATE TABLE queue_status (
    node         TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    attempts     BIGINT NOT NULL,
    next_attempt BIGINT NOT NULL,
    last_error   TEXT COLLATE "C",
    updated      BIGINT NOT NULL,
    PRIMARY KEY (node, id)
);
CREATE INDEX queue_status_retrying ON queue_status (attempts) WHERE attempts > 0;

CREATE TABLE queue_delivered (
    node      TEXT COLLATE "C" NOT NULL,
    id        TEXT COLLATE "C" NOT NULL,
    position  BIGINT NOT NULL,
    recipient TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (node, id, position),
    FOREIGN KEY (node, id) REFERENCES queue_status (node, id) ON DELETE CASCADE
);

CREATE TABLE dsn_sent (
    original   TEXT COLLATE "C" NOT NULL,
    recipients TEXT COLLATE "C" NOT NULL,
    sent       BIGINT NOT NULL,
    PRIMARY KEY (original, recipients)
);

CREATE TABLE events (
    seq     BIGSERIAL PRIMARY KEY,
    time    BIGINT NOT NULL,
    kind    TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    detail  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_subject ON events (subject, time);

CREATE TABLE dmarc_evaluations (
    id       BIGSERIAL PRIMARY KEY,
    time     BIGINT NOT NULL,
    domain   TEXT COLLATE "C" NOT NULL,
    document TEXT COLLATE "C" NOT NULL
);
CREATE INDEX dmarc_evaluations_domain ON dmarc_evaluations (domain, id);

CREATE TABLE dmarc_reports (
    org_name   TEXT COLLATE "C" NOT NULL,
    report_id  TEXT COLLATE "C" NOT NULL,
    domain     TEXT COLLATE "C" NOT NULL,
    received   BIGINT NOT NULL,
    date_begin BIGINT NOT NULL,
    date_end   BIGINT NOT NULL,
    document   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (org_name, report_id)
);
CREATE INDEX dmarc_reports_domain ON dmarc_reports (domain, date_begin);

CREATE TABLE tlsrpt_results (
    domain      TEXT COLLATE "C" NOT NULL,
    day         BIGINT NOT NULL,
    policy_type TEXT COLLATE "C" NOT NULL,
    mx          TEXT COLLATE "C" NOT NULL,
    result      TEXT COLLATE "C" NOT NULL,
    count       BIGINT NOT NULL,
    reported    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (domain, day, policy_type, mx, result)
);

CREATE TABLE mta_sts_policies (
    domain  TEXT COLLATE "C" PRIMARY KEY,
    id      TEXT COLLATE "C" NOT NULL,
    policy  TEXT COLLATE "C" NOT NULL,
    expires BIGINT NOT NULL
);

CREATE TABLE send_as (
    "user"  TEXT COLLATE "C" NOT NULL,
    address TEXT COLLATE "C" NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY ("user", address)
);

CREATE TABLE dkim_keys (
    domain      TEXT COLLATE "C" NOT NULL,
    selector    TEXT COLLATE "C" NOT NULL,
    algorithm   TEXT COLLATE "C" NOT NULL,
    private_key TEXT COLLATE "C" NOT NULL,
    public_key  TEXT COLLATE "C" NOT NULL,
    state       TEXT COLLATE "C" NOT NULL,
    created     BIGINT NOT NULL,
    PRIMARY KEY (domain, selector)
);

CREATE TABLE suspensions (
    "user" TEXT COLLATE "C" PRIMARY KEY,
    since  BIGINT NOT NULL,
    reason TEXT COLLATE "C" NOT NULL
);

CREATE TABLE submission_counts (
    "user"     TEXT COLLATE "C" NOT NULL,
    bucket     BIGINT NOT NULL,
    count      BIGINT NOT NULL,
    recipients BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY ("user", bucket)
);

CREATE TABLE submission_recipient_domains (
    "user"     TEXT COLLATE "C" NOT NULL,
    domain     TEXT COLLATE "C" NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY ("user", domain)
);
CREATE INDEX submission_recipient_domains_first
    ON submission_recipient_domains ("user", first_seen);

CREATE TABLE auth_failures (
    "user" TEXT COLLATE "C" NOT NULL,
    ip     TEXT COLLATE "C" NOT NULL,
    -- A short keyed hash of the attempted password: the same wrong password from the
    -- same client (a mail app with a stale password) counts once.
    fingerprint TEXT COLLATE "C" NOT NULL,
    time   BIGINT NOT NULL
);
CREATE INDEX auth_failures_user ON auth_failures ("user", time);
CREATE INDEX auth_failures_ip ON auth_failures (ip, time);

CREATE TABLE lockouts (
    "user"  TEXT COLLATE "C" PRIMARY KEY,
    since   BIGINT NOT NULL,
    until   BIGINT NOT NULL,
    strikes BIGINT NOT NULL,
    reason  TEXT COLLATE "C" NOT NULL
);

CREATE TABLE bans (
    ip      TEXT COLLATE "C" PRIMARY KEY,
    since   BIGINT NOT NULL,
    until   BIGINT NOT NULL,
    strikes BIGINT NOT NULL,
    reason  TEXT COLLATE "C" NOT NULL
);

CREATE TABLE abuse_strikes (
    ip   TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    time BIGINT NOT NULL
);
CREATE INDEX abuse_strikes_ip ON abuse_strikes (ip, kind, time);

CREATE TABLE login_successes (
    "user" TEXT COLLATE "C" NOT NULL,
    ip     TEXT COLLATE "C" NOT NULL,
    time   BIGINT NOT NULL,
    PRIMARY KEY ("user", ip)
);

CREATE TABLE server_secrets (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE totp (
    "user"    TEXT COLLATE "C" PRIMARY KEY,
    secret    TEXT COLLATE "C" NOT NULL,
    enabled   BOOLEAN NOT NULL,
    -- The last time step accepted: a code is accepted once (RFC 6238 §5.2).
    last_step BIGINT NOT NULL DEFAULT -1,
    created   BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    "user" TEXT COLLATE "C" NOT NULL,
    hash   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY ("user", hash)
);

CREATE TABLE app_passwords (
    id        BIGSERIAL PRIMARY KEY,
    "user"    TEXT COLLATE "C" NOT NULL,
    label     TEXT COLLATE "C" NOT NULL,
    hash      TEXT COLLATE "C" NOT NULL UNIQUE,
    scope     TEXT COLLATE "C" NOT NULL,
    expires   BIGINT,
    from_net  TEXT COLLATE "C",
    created   BIGINT NOT NULL,
    last_used BIGINT,
    last_ip   TEXT COLLATE "C",
    UNIQUE ("user", label)
);

CREATE TABLE rate_counts (
    kind     TEXT COLLATE "C" NOT NULL,
    "window" BIGINT NOT NULL,
    ip       TEXT COLLATE "C" NOT NULL,
    node     TEXT COLLATE "C" NOT NULL,
    count    BIGINT NOT NULL,
    PRIMARY KEY (kind, "window", ip, node)
);

CREATE TABLE correspondents (
    local      TEXT COLLATE "C" NOT NULL,
    sender     TEXT COLLATE "C" NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    messages   BIGINT NOT NULL,
    PRIMARY KEY (local, sender)
);

CREATE TABLE user_keys (
    "user"      TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    fingerprint TEXT COLLATE "C" NOT NULL,
    data        TEXT COLLATE "C" NOT NULL,
    user_ids    TEXT COLLATE "C" NOT NULL,
    expires     BIGINT,
    added       BIGINT NOT NULL,
    PRIMARY KEY ("user", fingerprint)
);

CREATE TABLE signing_keys (
    "user"      TEXT COLLATE "C" PRIMARY KEY,
    certificate TEXT COLLATE "C" NOT NULL,
    sealed_key  BYTEA NOT NULL,
    fingerprint TEXT COLLATE "C" NOT NULL,
    expires     BIGINT NOT NULL,
    added       BIGINT NOT NULL
);

CREATE TABLE lessons (
    digest  TEXT COLLATE "C" PRIMARY KEY,
    label   TEXT COLLATE "C" NOT NULL,
    who     TEXT COLLATE "C" NOT NULL,
    weight  DOUBLE PRECISION NOT NULL,
    time    BIGINT NOT NULL,
    buckets BYTEA NOT NULL
);
CREATE INDEX lessons_by_who ON lessons (who, time);

CREATE TABLE learned_features (
    bucket BIGINT PRIMARY KEY,
    ham    DOUBLE PRECISION NOT NULL DEFAULT 0,
    phish  DOUBLE PRECISION NOT NULL DEFAULT 0,
    spam   DOUBLE PRECISION NOT NULL DEFAULT 0
);

CREATE TABLE web_sessions (
    id_hash   TEXT COLLATE "C" PRIMARY KEY,
    "user"    TEXT COLLATE "C" NOT NULL,
    csrf      TEXT COLLATE "C" NOT NULL,
    created   BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    ip        TEXT COLLATE "C" NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions ("user");

CREATE TABLE passkeys (
    credential_id TEXT COLLATE "C" PRIMARY KEY,
    "user"        TEXT COLLATE "C" NOT NULL,
    label         TEXT COLLATE "C" NOT NULL,
    passkey       TEXT COLLATE "C" NOT NULL,
    created       BIGINT NOT NULL,
    last_used     BIGINT
);
CREATE INDEX passkeys_user ON passkeys ("user");

CREATE TABLE hourly_counts (
    metric TEXT COLLATE "C" NOT NULL,
    hour   BIGINT NOT NULL,
    key    TEXT COLLATE "C" NOT NULL,
    node   TEXT COLLATE "C" NOT NULL,
    count  BIGINT NOT NULL,
    PRIMARY KEY (metric, hour, key, node)
);

CREATE TABLE daily_counts (
    metric TEXT COLLATE "C" NOT NULL,
    day    BIGINT NOT NULL,
    key    TEXT COLLATE "C" NOT NULL,
    node   TEXT COLLATE "C" NOT NULL,
    count  BIGINT NOT NULL,
    PRIMARY KEY (metric, day, key, node)
);

-- Held messages, whole (the spool file: envelope header and message), so that any node
-- can list, show, release or delete them.
CREATE TABLE quarantine (
    id         TEXT COLLATE "C" PRIMARY KEY,
    node       TEXT COLLATE "C" NOT NULL,
    arrived    BIGINT NOT NULL,
    sender     TEXT COLLATE "C" NOT NULL,
    recipients TEXT COLLATE "C" NOT NULL,
    subject    TEXT COLLATE "C" NOT NULL,
    reason     TEXT COLLATE "C" NOT NULL,
    size       BIGINT NOT NULL,
    file       BYTEA NOT NULL
);
CREATE INDEX quarantine_arrived ON quarantine (arrived);

-- Every node's lookup cache (domains, users, aliases, forwards, keys) is told of a
-- change at its commit, so a user added on one node is seen by all within moments.
CREATE FUNCTION palisade_directory_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('palisade_directory', TG_TABLE_NAME);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER domains_changed AFTER INSERT OR UPDATE OR DELETE ON domains
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_directory_changed();
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_directory_changed();
CREATE TRIGGER aliases_changed AFTER INSERT OR UPDATE OR DELETE ON aliases
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_directory_changed();
CREATE TRIGGER forwards_changed AFTER INSERT OR UPDATE OR DELETE ON forwards
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_directory_changed();
CREATE TRIGGER user_keys_changed AFTER INSERT OR UPDATE OR DELETE ON user_keys
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_directory_changed();
-- And every node's copy of the bans (the payload names the table), so a ban made on one
-- node refuses the address on all within moments.
CREATE TRIGGER bans_changed AFTER INSERT OR UPDATE OR DELETE ON bans
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_directory_changed();

-- The nodes sharing this store and when each last said it was alive:
-- `palisade cluster status`.
CREATE TABLE nodes (
    node      TEXT COLLATE "C" PRIMARY KEY,
    version   TEXT COLLATE "C" NOT NULL,
    started   BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL,
    retrying  BIGINT NOT NULL
);

-- Work one node of several does at a time (sending aggregate reports, the doctor's
-- round): `node` holds `name` until `until`, renewing it while it lives.
CREATE TABLE leases (
    name  TEXT COLLATE "C" PRIMARY KEY,
    node  TEXT COLLATE "C" NOT NULL,
    until BIGINT NOT NULL
);
