//! Whether submitted mail is encrypted to its recipients on the sender's behalf.

use std::fmt;
use std::str::FromStr;

/// A user's or a domain's outbound encryption policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutboundPolicy {
    /// Mail goes out as the user wrote it.
    #[default]
    Never,
    /// Encrypted to each recipient whose key is known (registered here, or published
    /// in their domain's Web Key Directory); the others get it as written.
    Opportunistic,
    /// Encrypted to each recipient, or not sent to them: a recipient without a key is
    /// bounced with a DSN that says so.
    Required,
}

impl OutboundPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundPolicy::Never => "never",
            OutboundPolicy::Opportunistic => "opportunistic",
            OutboundPolicy::Required => "required",
        }
    }
}

impl fmt::Display for OutboundPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutboundPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "never" => Ok(OutboundPolicy::Never),
            "opportunistic" => Ok(OutboundPolicy::Opportunistic),
            "required" => Ok(OutboundPolicy::Required),
            other => Err(format!(
                "unknown policy {other:?} (never, opportunistic or required)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in [
            OutboundPolicy::Never,
            OutboundPolicy::Opportunistic,
            OutboundPolicy::Required,
        ] {
            assert_eq!(p.as_str().parse::<OutboundPolicy>(), Ok(p));
        }
        assert!("always".parse::<OutboundPolicy>().is_err());
    }
}
