//! The TOML layer: exactly the file's shape, nothing validated.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub hostname: Option<String>,
    pub node_id: Option<String>,
    pub postmaster: Option<String>,
    #[serde(default)]
    pub listener: BTreeMap<String, RawListener>,
    pub tls: Option<RawTls>,
    pub smtp: Option<RawSmtp>,
    pub queue: Option<RawQueue>,
    pub metrics: Option<RawMetrics>,
    pub dns: Option<RawDns>,
    pub policy: Option<RawPolicy>,
    pub reports: Option<RawReports>,
    pub delivery: Option<RawDelivery>,
    pub submission: Option<RawSubmission>,
    pub web: Option<RawWeb>,
    pub security: Option<RawSecurity>,
    pub mta_sts: Option<RawMtaSts>,
    pub phishing: Option<crate::phishing::RawPhishing>,
    pub scanners: Option<crate::scanners::RawScanners>,
    pub encryption: Option<RawEncryption>,
    pub doctor: Option<RawDoctor>,
    pub log: Option<RawLog>,
    pub acme: Option<crate::acme::RawAcme>,
    pub dovecot: Option<crate::dovecot::RawDovecot>,
    pub route: Option<BTreeMap<String, crate::routes::RawRoute>>,
    pub store: Option<crate::store::RawStore>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDoctor {
    pub interval_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecurity {
    pub max_login_failures: Option<u64>,
    pub login_failure_window_secs: Option<u64>,
    pub lockout_secs: Option<u64>,
    pub max_ip_failures: Option<u64>,
    pub ip_failure_window_secs: Option<u64>,
    pub ban_secs: Option<u64>,
    pub never_ban: Option<Vec<String>>,
    pub max_relay_attempts: Option<u64>,
    pub max_unknown_recipients: Option<u64>,
    pub abuse_window_secs: Option<u64>,
    pub known_ip_days: Option<u64>,
    pub connections_per_ip_per_minute: Option<u64>,
    pub messages_per_ip_per_hour: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    pub address: Option<String>,
    pub autoconfig: Option<bool>,
    pub dashboard_flush_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMtaSts {
    pub mode: Option<String>,
    pub max_age_secs: Option<u64>,
    pub mx: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    pub address: Option<String>,
    pub kind: Option<String>,
    pub proxy_protocol_from: Option<Vec<String>>,
    pub allow_plaintext_auth: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub max_message_size: Option<u64>,
    pub max_recipients: Option<u64>,
    pub max_errors: Option<u64>,
    pub max_connections: Option<u64>,
    pub max_connections_per_ip: Option<u64>,
    pub bare_line_endings: Option<String>,
    pub idle_timeout_secs: Option<u64>,
    pub command_timeout_secs: Option<u64>,
    pub data_timeout_secs: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    pub retry_initial_secs: Option<u64>,
    pub retry_max_secs: Option<u64>,
    pub max_age_secs: Option<u64>,
    pub attempt_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    pub nameservers: Option<Vec<String>>,
    /// `timeout` is accepted too (the name the issue used).
    #[serde(alias = "timeout")]
    pub timeout_secs: Option<u64>,
    pub attempts: Option<u64>,
    pub dnssec_trusted: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub sender_checks: Option<bool>,
    pub trusted_networks: Option<Vec<String>>,
    pub dmarc_enforce: Option<bool>,
    pub spf_fail: Option<String>,
    pub reject_spoofed_local: Option<bool>,
    pub trusted_arc_sealers: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReports {
    pub dmarc_address: Option<String>,
    pub dmarc_from: Option<String>,
    pub org_name: Option<String>,
    pub dmarc_interval_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEncryption {
    pub protect_subject: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    pub remote_port: Option<u64>,
    pub extra_ca_file: Option<PathBuf>,
    pub connect_timeout_secs: Option<u64>,
    pub command_timeout_secs: Option<u64>,
    pub tls_policy: Option<BTreeMap<String, String>>,
    pub mta_sts_port: Option<u64>,
    pub wkd_port: Option<u64>,
    pub max_connections_per_domain: Option<u64>,
    pub connection_idle_secs: Option<u64>,
    pub max_messages_per_connection: Option<u64>,
    pub smarthost: Option<String>,
    pub smarthost_user: Option<String>,
    pub smarthost_password_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubmission {
    pub hide_client_ip: Option<bool>,
    pub max_messages_per_hour: Option<u64>,
    pub max_messages_per_day: Option<u64>,
    pub burst_factor: Option<u64>,
    pub max_new_domains_per_hour: Option<u64>,
    pub max_recipients_per_day: Option<u64>,
}
