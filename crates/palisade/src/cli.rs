//! The command line (clap derive).

use clap::{Parser, Subcommand};
use palisade_types::AppScope;
use std::path::PathBuf;

fn app_scope(s: &str) -> Result<AppScope, String> {
    palisade_access::forms::scope(s).map_err(|e| format!("{s:?} {e}"))
}

#[derive(Debug, Parser)]
#[command(
    name = "palisade",
    version,
    about = "A secure SMTP mail server and email security gateway"
)]
pub struct Args {
    /// Data directory: store, queue, Maildirs, certificates.
    #[arg(
        long = "data",
        env = "PALISADE_DATA",
        global = true,
        default_value = "palisade-data"
    )]
    pub data: PathBuf,
    /// Configuration file [default: palisade.toml in the data directory].
    #[arg(long = "config", env = "PALISADE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// DNS resolver HOST:PORT (repeatable); overrides `[dns] nameservers`.
    #[arg(long = "dns", global = true, value_name = "HOST:PORT")]
    pub dns: Vec<String>,
    /// DNS query timeout in seconds; overrides `[dns] timeout_secs`.
    #[arg(long = "dns-timeout", global = true, value_name = "SECS")]
    pub dns_timeout: Option<u64>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (creates the data directory and a default config on first run).
    Serve,
    /// Write a production configuration and print the DNS records to publish.
    Init {
        /// The mail domain, e.g. example.com.
        #[arg(long)]
        domain: String,
        /// This server's host name, e.g. mx.example.com.
        #[arg(long)]
        hostname: String,
        /// Overwrite an existing configuration file.
        #[arg(long)]
        force: bool,
    },
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Local mail domains.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Mailbox users.
    #[command(subcommand)]
    User(UserCommand),
    /// Aliases and catch-alls.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// The delivery queue.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Messages held by policy (DMARC p=quarantine).
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// Check SPF, DKIM and DMARC for any IP, domain or message file.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// DMARC aggregate reports (RFC 7489 §7.2).
    #[command(subcommand)]
    Reports(ReportsCommand),
    /// DKIM signing keys of local domains.
    #[command(subcommand)]
    Dkim(DkimCommand),
    /// The DNS records to publish.
    #[command(subcommand)]
    Dns(DnsCommand),
    /// Audit every local domain and compare what is published with what this server
    /// expects (MX, SPF for our address, the active DKIM keys, our MTA-STS policy, TLSA
    /// for our certificate, DMARC reports to us). Exit code 0 ok, 1 warnings, 2 failures.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Failed logins, lockouts and bans.
    #[command(subcommand)]
    Security(SecurityCommand),
    /// Teach the per-site model what mail is: `palisade learn phish FILE|DIR...` (also
    /// ham, spam). Every node reads it from the store; the quarantine's release and
    /// `delete --phish|--spam` teach it too.
    Learn {
        /// ham, phish or spam.
        label: String,
        /// Message files, or directories of them (a Maildir folder).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// A snapshot of the data directory into DIR (new or empty), taken while the server
    /// runs: store, configuration, keys, queue, quarantine, Maildirs. Secrets (the
    /// store, the configuration, the sealing key, TLS files) are sealed under a
    /// passphrase (Argon2id, AES-256-GCM), read from the terminal, one line of stdin, or
    /// --passphrase-file.
    Backup {
        dir: PathBuf,
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Restore a backup from DIR into the data directory, which must be new or empty.
    Restore {
        dir: PathBuf,
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// The nodes sharing the store.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// The store: the embedded SQLite file, or PostgreSQL (`[store] url`,
    /// PALISADE_STORE_URL).
    #[command(subcommand)]
    Store(StoreCommand),
    /// Password checks for other programs (Dovecot).
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Shell completion script on standard output, e.g.
    /// `palisade completions bash > /etc/bash_completion.d/palisade`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Manual pages: palisade(1) on standard output (`palisade man | man -l -`), or
    /// with --dir one page per command and subcommand written there (palisade.1,
    /// palisade-user-add.1, ...).
    Man {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Dovecot's checkpassword program (docs/dovecot.md): reads `user\0password\0` on
    /// descriptor 3 and asks the running server over its auth socket, which applies the
    /// lockouts, bans and `imap` app passwords of SMTP AUTH. Exit 0 accepted (`user=`
    /// written on descriptor 4), 1 refused, 111 temporary failure; for a user lookup
    /// (AUTHORIZED=1) 2 found and 3 unknown.
    Checkpassword {
        /// The server's dovecot.auth_socket.
        #[arg(long, value_name = "PATH")]
        socket: PathBuf,
        /// The checkpassword-reply program Dovecot appends: not run (the answer is
        /// written on descriptor 4 directly).
        #[arg(hide = true)]
        reply: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecurityCommand {
    /// Security events, newest first: failed logins, lockouts, bans, suspensions.
    Events {
        /// Only events about this user (as typed at login, or an address).
        #[arg(long)]
        user: Option<String>,
        /// Only events about this address.
        #[arg(long)]
        ip: Option<String>,
        /// How far back: 30m, 1h, 2d (default 1d).
        #[arg(long, default_value = "1d")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Banned addresses.
    #[command(subcommand)]
    Bans(BansCommand),
    /// End an account's lockout (the user can log in again at once).
    Unlock { user: String },
}

#[derive(Debug, Subcommand)]
pub enum BansCommand {
    /// Addresses banned now: why, and until when.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Lift a ban (a running server lets the address in within 5 seconds).
    Remove { ip: String },
}

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Create signing keys for DOMAIN (default: one Ed25519 and one RSA-2048).
    Keygen {
        domain: String,
        #[arg(long, value_parser = ["ed25519", "rsa"])]
        algorithm: Option<String>,
        #[arg(long)]
        selector: Option<String>,
    },
    /// Every key (or DOMAIN's): selector, algorithm, state (active, pending, retired)
    /// and when it was created.
    List { domain: Option<String> },
    /// New keys, published but not yet signing; activate them once DNS has them.
    Rotate { domain: String },
    /// Start signing with SELECTOR; the domain's previous key of that algorithm retires.
    Activate { domain: String, selector: String },
}

#[derive(Debug, Subcommand)]
pub enum DnsCommand {
    /// Every record to publish for DOMAIN: MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, TLSA.
    Records { domain: String },
}

#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// DMARC aggregate reports (RFC 7489 §7.2): those we send and those we receive.
    #[command(subcommand)]
    Dmarc(DmarcReportsCommand),
    /// TLS-RPT (RFC 8460) reports on our outbound TLS.
    #[command(subcommand)]
    Tls(TlsReportsCommand),
}

#[derive(Debug, Subcommand)]
pub enum TlsReportsCommand {
    /// Send the reports for everything recorded so far (today included).
    Send,
}

#[derive(Debug, Subcommand)]
pub enum DmarcReportsCommand {
    /// Build and send the aggregate reports for the evaluations recorded so far.
    Send,
    /// Reports other domains sent us: per domain, sources, messages, pass rate.
    List {
        domain: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Parse a report message (file or -) and store it, as if it arrived by mail.
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Held messages: id, size, sender and why each is held.
    List,
    /// One held message: when it arrived, its envelope, why it is held, its header.
    Show { id: String },
    /// Deliver it after all (the running server picks it up within a second); the
    /// per-site model learns it as legitimate.
    Release { id: String },
    /// Delete it; with --phish or --spam the per-site model learns it as such.
    Delete {
        id: String,
        #[arg(long, conflicts_with = "spam")]
        phish: bool,
        #[arg(long)]
        spam: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// How secure DOMAIN's email is, from what it publishes: MX, SPF, DMARC, DKIM,
    /// MTA-STS, TLS-RPT, DNSSEC and DANE, each finding with its evidence and fix, and a
    /// 0-100 score per category (transport, authentication, policy, hygiene). Resolves
    /// with the configured (or --dns) resolver; judges DNSSEC only if dns.dnssec_trusted.
    Domain {
        domain: String,
        /// A DKIM selector to check (repeatable); common ones are tried too.
        #[arg(long = "selector")]
        selectors: Vec<String>,
        #[arg(long)]
        json: bool,
        /// Also write the report as a self-contained HTML page to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Also connect to each MX (harmless probes: STARTTLS, TLS and certificate,
        /// the STARTTLS injection bug, AUTH before TLS, VRFY/EXPN, relaying without
        /// ever sending DATA).
        #[arg(long)]
        probe: bool,
        /// The SMTP port probed.
        #[arg(long, default_value_t = 25)]
        port: u16,
        /// Also the SMTP smuggling probe, which completes DATA: up to three messages go
        /// to the --rcpt address (which must be yours). Implies --probe.
        #[arg(long = "probe-intrusive")]
        probe_intrusive: bool,
        /// The address the intrusive probe sends to.
        #[arg(long, value_name = "ADDRESS")]
        rcpt: Option<String>,
    },
    /// Evaluate SPF (RFC 7208) for a client IP, HELO name and MAIL FROM address.
    Spf {
        #[arg(long)]
        ip: String,
        /// The HELO/EHLO name [default: the MAIL FROM domain].
        #[arg(long, default_value = "")]
        helo: String,
        /// MAIL FROM address; '' is the null reverse-path (then HELO is checked).
        #[arg(long = "mail-from", default_value = "")]
        mail_from: String,
        #[arg(long)]
        json: bool,
    },
    /// Verify every DKIM signature of a message (file, or - for stdin).
    Dkim {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// SPF, DKIM, ARC and DMARC for a message as if it arrived from IP, and the disposition.
    Dmarc {
        file: PathBuf,
        #[arg(long)]
        ip: String,
        #[arg(long, default_value = "")]
        helo: String,
        #[arg(long = "mail-from", default_value = "")]
        mail_from: String,
        #[arg(long)]
        json: bool,
    },
    /// The phishing verdict of a message (FILE, or - for stdin): every signal with its
    /// evidence and weight, the authentication it was weighed by, and the action
    /// `serve` would take. Without --ip, SPF is not evaluated (DKIM and DMARC are).
    Message {
        file: PathBuf,
        /// The connecting client's address.
        #[arg(long)]
        ip: Option<String>,
        #[arg(long, default_value = "")]
        helo: String,
        /// The envelope sender (MAIL FROM).
        #[arg(long = "mail-from", default_value = "")]
        mail_from: String,
        #[arg(long)]
        json: bool,
        /// Add the message's path (each Received hop and whether it used TLS, and which
        /// version), the authentication results recorded on the way, TLS-Required and
        /// whether the body is encrypted.
        #[arg(long)]
        report: bool,
        /// Also write the report as a self-contained HTML page to FILE (implies --report).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// How good the verdicts are on your own labelled mail: every message under --phish
    /// (phishing, scam, spam) and --ham (legitimate) through the engine as `serve` would
    /// weigh it, authentication not evaluated (offline). Prints the confusion matrix per
    /// action, ROC AUC, detection with at most 1% and 2% of the legitimate mail held
    /// back, the figures per source (each sub-directory) and the signals behind false
    /// positives and misses.
    Corpus {
        #[arg(long, value_name = "DIR")]
        phish: PathBuf,
        #[arg(long, value_name = "DIR")]
        ham: PathBuf,
        #[arg(long)]
        json: bool,
        /// Also list every legitimate message held back and every phish missed, with
        /// its action, score and signals.
        #[arg(long)]
        list: bool,
        /// Leave one source out: judge each source (sub-directory) with a content model
        /// trained on the other sources only, the honest measure of a learned model.
        #[arg(long)]
        loso: bool,
        /// Train the content model on every message given and write it to FILE (how
        /// crates/palisade-phish/data/content-model.bin is made, byte for byte).
        #[arg(long, value_name = "FILE", conflicts_with = "loso")]
        train: Option<PathBuf>,
        /// Measure a site's own learning: the first N messages of each source are learnt
        /// as the site's decisions (as `palisade learn` records them), the rest judged.
        #[arg(long, value_name = "N", conflicts_with_all = ["loso", "train"])]
        site_learn: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Every node that has reported to the store: its version, when it started, its
    /// last heartbeat (every 10 s while it serves; "silent" after 30 s) and its
    /// messages waiting for a retry.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Bring the store's schema up to date (serve does this at start too) and print the
    /// version it is at. Refuses a store written by a newer release.
    Migrate,
    /// Copy every table of one store into another: `--from sqlite:PATH --to
    /// postgres://…` to move an installation to PostgreSQL, or the other way back. Run
    /// again, it adds nothing; it ends by checking that every table has as many rows in
    /// the target as in the source. Stop `serve` first. Both stores are opened with this
    /// installation's secret key, so sealed keys stay usable.
    Copy {
        /// `sqlite:PATH` or `postgres://…`
        #[arg(long)]
        from: String,
        /// `sqlite:PATH` or `postgres://…`
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration file as `serve` does before it starts (keys, the
    /// certificate and key files, the resolver, the CA file); names what is at fault.
    /// Exit code 0 ok, 1 warnings (no listener), 2 refused
    Check,
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Serve mail for DOMAIN (a fully-qualified name); postmaster@ is routed too.
    Add { domain: String },
    /// The local domains.
    List,
    /// Stop serving DOMAIN (refused while it has users or aliases).
    Remove { domain: String },
    /// The domain's default for encryption at rest: its users' mail is encrypted to their
    /// key (`palisade user key import`) when they have one; users without one get their
    /// mail as it arrives.
    #[command(name = "encrypt-at-rest")]
    EncryptAtRest {
        domain: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// The domain's outbound encryption policy for mail its users submit: `never`,
    /// `opportunistic` (encrypted to every recipient whose key is known: registered
    /// here or in their domain's Web Key Directory) or `required` (a recipient without
    /// a key is not sent the message; the sender gets a DSN saying why).
    #[command(name = "encrypt-outbound")]
    EncryptOutbound {
        domain: String,
        #[arg(value_parser = ["never", "opportunistic", "required"])]
        policy: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from the terminal (or one line of stdin).
    Add {
        address: String,
        /// The user's display name ("Alice Martin"): mail from outside that shows it,
        /// or a look-alike of it, is flagged as impersonation.
        #[arg(long)]
        name: Option<String>,
    },
    /// Users (of DOMAIN) and their display names.
    List { domain: Option<String> },
    /// Set a user's display name (protected from impersonation; "" clears it).
    Name { address: String, name: String },
    /// Delete a user and their credentials (their Maildir stays on disk).
    Remove { address: String },
    /// Change a user's password (read from the terminal or stdin).
    Passwd { address: String },
    /// Lift a sending suspension (set by the anomaly check).
    Resume { address: String },
    /// Give a user the administrator role of the web console (or take it back).
    Admin {
        address: String,
        /// Take the role away.
        #[arg(long)]
        revoke: bool,
    },
    /// Addresses a user may send as besides their own and their aliases (audited).
    #[command(subcommand, name = "send-as")]
    SendAs(SendAsCommand),
    /// Two-factor authentication (TOTP, RFC 6238).
    #[command(subcommand, name = "2fa")]
    TwoFactor(TwoFactorCommand),
    /// Passwords for mail clients: once 2FA is on, the only ones SMTP AUTH takes.
    #[command(subcommand, name = "app-password")]
    AppPassword(AppPasswordCommand),
    /// A user's public keys (OpenPGP), to which their mail is encrypted at rest.
    #[command(subcommand)]
    Key(KeyCommand),
    /// A user's S/MIME signing certificate and private key: their submitted mail is
    /// signed with it (multipart/signed, RFC 8551).
    #[command(subcommand)]
    Signing(SigningCommand),
    /// Encrypt a user's mail to their key before it is stored (PGP/MIME; routing
    /// headers stay readable, the Subject is protected).
    #[command(name = "encrypt-at-rest")]
    EncryptAtRest {
        address: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// The user's outbound encryption policy (see `palisade domain encrypt-outbound`);
    /// `domain` follows their domain's.
    #[command(name = "encrypt-outbound")]
    EncryptOutbound {
        address: String,
        #[arg(value_parser = ["never", "opportunistic", "required", "domain"])]
        policy: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Import an ASCII-armoured OpenPGP public key (`gpg --export --armor ADDRESS`) or
    /// a PEM S/MIME certificate from FILE, or stdin with `-`. A key must verify, not be
    /// expired or revoked, have a subkey that may encrypt, and a User ID naming the user
    /// or one of their aliases; a certificate must be valid now, allow key encipherment
    /// and e-mail protection, name the user in its subject alternative names, and have
    /// an RSA key.
    Import { user: String, file: PathBuf },
    /// The user's keys: kind, fingerprint, expiry and the names they carry.
    List { user: String },
    /// Forget the key with FINGERPRINT (mail stored encrypted to it stays so).
    Remove { user: String, fingerprint: String },
}

#[derive(Debug, Subcommand)]
pub enum SigningCommand {
    /// Import a PEM certificate (intermediates may follow it in the same file) and its
    /// unencrypted PEM private key (RSA or ECDSA P-256). The certificate must be valid
    /// now, allow digital signatures and e-mail protection, and name the user; the key
    /// must be its own. The key is stored sealed with the installation's secret key
    /// (secret.key in the data directory, or PALISADE_SECRET_KEY), never in clear.
    Import {
        user: String,
        certificate: PathBuf,
        key: PathBuf,
    },
    /// The certificate in use (fingerprint, expiry).
    Show { user: String },
    /// Stop signing the user's mail (the key is deleted).
    Remove { user: String },
}

#[derive(Debug, Subcommand)]
pub enum TwoFactorCommand {
    /// Show a new seed (otpauth:// URI and QR code), confirm it with one code, print
    /// ten recovery codes. From then on SMTP AUTH takes app passwords only.
    Enable { user: String },
    /// Turn two-factor off (the account password works for SMTP AUTH again).
    Disable { user: String },
    /// Check one code (read from the terminal or stdin); each code works once.
    Check { user: String },
}

#[derive(Debug, Subcommand)]
pub enum AppPasswordCommand {
    /// Generate one (printed once, stored hashed).
    Add {
        user: String,
        #[arg(long)]
        label: String,
        /// submission (SMTP AUTH on 587/465) or imap (Dovecot: IMAP, POP3, ManageSieve).
        #[arg(long, default_value = "submission", value_parser = app_scope)]
        scope: AppScope,
        /// Lifetime with its unit (90d, 12h, 30m) or an RFC 3339 date
        /// (2027-03-01T00:00:00Z); a bare number is refused.
        #[arg(long)]
        expires: Option<String>,
        /// Only from this network, e.g. 203.0.113.0/24.
        #[arg(long)]
        from_net: Option<String>,
    },
    /// Label, scope, expiry, created, last used (time and address).
    List {
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Takes effect at the next AUTH.
    Revoke { user: String, label: String },
}

#[derive(Debug, Subcommand)]
pub enum SendAsCommand {
    /// Let USER send as ADDRESS (an address, or *@domain).
    Add { user: String, address: String },
    /// Take back USER's right to send as ADDRESS.
    Remove { user: String, address: String },
    /// The addresses USER may send as.
    List { user: String },
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Route SOURCE to TARGET. One local user: an alias (SOURCE may be *@domain, a
    /// catch-all). Several targets, or any outside our domains: a group, each member
    /// gets a copy; targets elsewhere are forwarded with SRS (SPF still passes at the
    /// destination). Run again to add members.
    Add {
        source: String,
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Remove the alias or group SOURCE (every member).
    Remove { source: String },
    /// Every alias and group and where it goes.
    List,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Messages waiting for delivery: id, size, attempts, sender, and when the next
    /// attempt comes with the last answer.
    List,
    /// One message: envelope, each recipient's state and last answer, its header.
    Show { id: String },
    /// Retry now (the running server picks it up within a second).
    Retry { id: String },
    /// Delete it from the queue without a bounce.
    Delete { id: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17, item 8: every command and subcommand says what it does in `--help`;
    /// clap's own consistency checks pass too.
    #[test]
    fn every_subcommand_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                let name = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(name.clone());
                }
                walk(sub, &name, missing);
            }
        }
        let cmd = <Args as clap::CommandFactory>::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cmd, "palisade", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }
}
