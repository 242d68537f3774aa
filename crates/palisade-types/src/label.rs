//! What a person said a message is: the labels of the per-site model (issue 16).

/// A person's decision about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageLabel {
    /// Legitimate mail.
    Ham,
    Phish,
    Spam,
}

impl MessageLabel {
    /// Every label, in the order of [`MessageLabel::index`].
    pub const ALL: [MessageLabel; 3] = [MessageLabel::Ham, MessageLabel::Phish, MessageLabel::Spam];

    pub fn name(self) -> &'static str {
        match self {
            MessageLabel::Ham => "ham",
            MessageLabel::Phish => "phish",
            MessageLabel::Spam => "spam",
        }
    }

    pub fn parse(s: &str) -> Option<MessageLabel> {
        MessageLabel::ALL.into_iter().find(|l| l.name() == s)
    }

    /// Its position in per-label arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for l in MessageLabel::ALL {
            assert_eq!(MessageLabel::parse(l.name()), Some(l));
            assert_eq!(MessageLabel::ALL[l.index()], l);
        }
        assert_eq!(MessageLabel::parse("Ham"), None);
    }
}
