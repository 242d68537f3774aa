//! Sender-authentication results as types. They cross crates as these enums, never as
//! strings: a misspelt result does not compile. Each prints (and serialises) as the
//! word RFC 8601 §2.7 gives it, so headers, JSON and logs read as before.

use serde::Serialize;
use std::fmt;

/// The result of one method (SPF, one DKIM signature, the ARC chain, DMARC), in RFC 8601
/// §2.7 words. Not every method uses every word: SPF has no `policy`, DMARC no
/// `softfail`, ARC only `pass`, `fail`, `none` and the errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthResult {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    /// DKIM: a valid signature our policy does not accept (an `l=` tag, a bound).
    Policy,
    None,
    TempError,
    PermError,
}

impl AuthResult {
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthResult::Pass => "pass",
            AuthResult::Fail => "fail",
            AuthResult::SoftFail => "softfail",
            AuthResult::Neutral => "neutral",
            AuthResult::Policy => "policy",
            AuthResult::None => "none",
            AuthResult::TempError => "temperror",
            AuthResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for AuthResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The DMARC policy that applies to an author domain (`p`, `sp` or `np`; RFC 7489 §6.3).
/// An absent or unknown policy is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    None,
    Quarantine,
    Reject,
}

impl DmarcPolicy {
    pub const fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }

    /// `quarantine` or `reject`: the domain asks receivers to act on a failure.
    pub const fn enforces(self) -> bool {
        !matches!(self, DmarcPolicy::None)
    }
}

impl fmt::Display for DmarcPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which identity SPF evaluated (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfScope {
    MailFrom,
    Helo,
}

impl SpfScope {
    pub const fn as_str(self) -> &'static str {
        match self {
            SpfScope::MailFrom => "mailfrom",
            SpfScope::Helo => "helo",
        }
    }
}

impl fmt::Display for SpfScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// RFC 8601 §2.7.1-§2.7.2 and RFC 7208 §8: the words as written in the header, and
    /// the JSON of `audit message` unchanged by the move from strings to types.
    #[test]
    fn each_result_prints_and_serialises_as_its_rfc_8601_word() {
        let all = [
            (AuthResult::Pass, "pass"),
            (AuthResult::Fail, "fail"),
            (AuthResult::SoftFail, "softfail"),
            (AuthResult::Neutral, "neutral"),
            (AuthResult::Policy, "policy"),
            (AuthResult::None, "none"),
            (AuthResult::TempError, "temperror"),
            (AuthResult::PermError, "permerror"),
        ];
        for (r, word) in all {
            assert_eq!(r.to_string(), word);
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{word}\""));
        }
        for (p, word) in [
            (DmarcPolicy::None, "none"),
            (DmarcPolicy::Quarantine, "quarantine"),
            (DmarcPolicy::Reject, "reject"),
        ] {
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{word}\""));
            assert_eq!(p.enforces(), p != DmarcPolicy::None);
        }
        assert_eq!(
            serde_json::to_string(&SpfScope::MailFrom).unwrap(),
            "\"mailfrom\""
        );
        assert_eq!(SpfScope::Helo.to_string(), "helo");
    }
}
