//! Lure wording: the pressure phishing puts on its reader, in four kinds (a request for
//! credentials, a threat or deadline, money, a QR code to scan). Legitimate security
//! notices use the same words, which is why the engine weighs this signal by the
//! sender's authentication and never lets it decide alone; a message that uses several
//! kinds at once is the pattern.
//!
//! Phrases, not single words, matched on lower-cased text with whitespace collapsed;
//! English, German, French and Spanish, found in one pass (aho-corasick).

use aho_corasick::AhoCorasick;
use std::sync::LazyLock;

/// The kinds of pressure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lure {
    Credentials,
    Threat,
    Money,
    QrCode,
}

impl Lure {
    pub fn describe(self) -> &'static str {
        match self {
            Lure::Credentials => "asks you to sign in or confirm your account",
            Lure::Threat => "threatens a loss or sets a deadline",
            Lure::Money => "is about payments or bank details",
            Lure::QrCode => "asks you to scan a code",
        }
    }
}

const CREDENTIALS: &[&str] = &[
    "verify your account",
    "verify your identity",
    "verify your email",
    "confirm your account",
    "confirm your identity",
    "confirm your email",
    "validate your account",
    "validate your mailbox",
    "update your account",
    "reactivate your",
    "re-activate your",
    "log in to your account",
    "login to your account",
    "sign in to your account",
    "sign in to restore",
    "sign in to keep",
    "password will expire",
    "password expires",
    "password has expired",
    "keep your password",
    "keep your current password",
    "keep your account",
    "mailbox is full",
    "mailbox is almost full",
    "increase your storage",
    "sign in to",
    "confirm your details",
    "mailbox quota",
    "storage is full",
    "unusual sign-in",
    "suspicious sign-in",
    "suspicious activity",
    "unusual activity",
    "re-enter your",
    "re-authenticate",
    "konto bestätigen",
    "ihr passwort läuft",
    "vérifier votre compte",
    "votre mot de passe expire",
    "verifique su cuenta",
    "su contraseña caduca",
];

const THREAT: &[&str] = &[
    "will be suspended",
    "has been suspended",
    "will be closed",
    "will be deleted",
    "will be terminated",
    "will be disabled",
    "will be deactivated",
    "has been locked",
    "has been limited",
    "permanently lost",
    "within 24 hours",
    "within 48 hours",
    "within 12 hours",
    "final notice",
    "final warning",
    "last warning",
    "immediate action",
    "action required",
    "action needed",
    "stop receiving new messages",
    "act now",
    "avoid interruption",
    "avoid suspension",
    "wird gesperrt",
    "sera suspendu",
    "será suspendida",
];

const MONEY: &[&str] = &[
    "wire transfer",
    "bank details",
    "banking details",
    "bank account details",
    "new bank account",
    "change of bank",
    "updated bank",
    "gift card",
    "payment failed",
    "payment was declined",
    "payment declined",
    "payment could not be processed",
    "update your payment",
    "update your billing",
    "outstanding invoice",
    "overdue invoice",
    "customs fee",
    "delivery fee",
    "shipping fee",
    "pending refund",
    "claim your refund",
    "bankverbindung",
    "coordonnées bancaires",
    "datos bancarios",
];

const QR: &[&str] = &[
    "scan the qr",
    "scan this qr",
    "scan the code",
    "scan this code",
    "scan the barcode",
    "scan the attached",
    "qr code below",
    "qr-code",
];

const KINDS: [(Lure, &[&str]); 4] = [
    (Lure::Credentials, CREDENTIALS),
    (Lure::Threat, THREAT),
    (Lure::Money, MONEY),
    (Lure::QrCode, QR),
];

/// Every phrase in one automaton (one pass over the text), with its kind.
static PHRASES: LazyLock<(AhoCorasick, Vec<Lure>)> = LazyLock::new(|| {
    let (kinds, phrases): (Vec<Lure>, Vec<&str>) = KINDS
        .iter()
        .flat_map(|(kind, list)| list.iter().map(move |p| (*kind, *p)))
        .unzip();
    let ac = AhoCorasick::builder()
        .build(phrases)
        .unwrap_or_else(|e| panic!("lure phrases: {e}"));
    (ac, kinds)
});

/// The kinds of lure in `text` (subject and body text), each once, in order.
pub fn find(text: &str) -> Vec<Lure> {
    // Whitespace runs (line breaks, indentation) count as one space; letters are
    // compared lower-cased (the phrases are written in lower case).
    let mut flat = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !flat.is_empty();
            continue;
        }
        if space {
            flat.push(' ');
            space = false;
        }
        if c.is_ascii() {
            flat.push(c.to_ascii_lowercase());
        } else {
            flat.extend(c.to_lowercase());
        }
    }
    let (ac, kinds) = &*PHRASES;
    let mut seen = [false; KINDS.len()];
    for m in ac.find_overlapping_iter(&flat) {
        seen[kinds[m.pattern().as_usize()] as usize] = true;
        if seen.iter().all(|s| *s) {
            break;
        }
    }
    KINDS
        .iter()
        .map(|(l, _)| *l)
        .filter(|l| seen[*l as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_pressure() {
        assert_eq!(
            find(
                "Your password will\r\n expire. Verify your account within 24 hours or it WILL BE SUSPENDED."
            ),
            [Lure::Credentials, Lure::Threat]
        );
        assert_eq!(
            find("Please note our new bank details for the next wire transfer"),
            [Lure::Money]
        );
        assert_eq!(find("Scan the QR code with your phone"), [Lure::QrCode]);
        assert_eq!(find("Ihr Passwort läuft heute ab"), [Lure::Credentials]);
    }

    #[test]
    fn ordinary_mail_has_none() {
        for t in [
            "Hi Bob, the minutes from Tuesday's meeting are attached. Talk soon, Alice",
            "Your order has shipped and will arrive on Friday.",
            "Thank you for your payment of $42.00.",
        ] {
            assert_eq!(find(t), [], "{t}");
        }
    }
}
