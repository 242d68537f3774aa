//! Lure wording: the pressure phishing puts on its reader, in four kinds (a request for
//! credentials, a threat or deadline, money, a QR code to scan). Legitimate security
//! notices use the same words, which is why the engine weighs this signal by the
//! sender's authentication and never lets it decide alone; a message that uses several
//! kinds at once is the pattern.
//!
//! Phrases, not single words, matched on lower-cased text with whitespace collapsed;
//! English, German, French and Spanish, found in one pass (aho-corasick).

use aho_corasick::{AhoCorasick, AhoCorasickKind};
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
    /// A short name for the kind (a model feature).
    pub fn name(self) -> &'static str {
        match self {
            Lure::Credentials => "credentials",
            Lure::Threat => "threat",
            Lure::Money => "money",
            Lure::QrCode => "qr-code",
        }
    }

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

/// Advance-fee, prize and investment-scam wording (the "419" letter and its heirs):
/// phrases that have no business in ordinary mail, in English, German, French, Spanish
/// and Portuguese. Counted per distinct phrase, since one can turn up by chance and the
/// scam strings them together.
const SCAM: &[&str] = &[
    // Advance fee: a stranger's fortune, a fee to release it.
    "next of kin",
    "atm card",
    "atm visa card",
    "my late husband",
    "my late father",
    "compensation fund",
    "compensation payment",
    "unclaimed fund",
    "unclaimed inheritance",
    "inheritance fund",
    "million united states dollars",
    "million us dollars",
    "diplomatic courier",
    "consignment box",
    "dear beneficiary",
    "as the beneficiary",
    "foreign partner",
    "100% risk free",
    "risk free transaction",
    "mutual benefit",
    "transfer of the fund",
    "transfer the fund",
    "release of your fund",
    "release your fund",
    "strictly confidential",
    "reply me urgent",
    "dear friend",
    "i am a widow",
    "terminally ill",
    "donated to you",
    "fund beneficiary",
    "my late client",
    "deceased client",
    "foreign facilitator",
    "in your custody",
    "business proposal",
    "confidential business",
    "geschäftsvorschlag",
    "proposition d'affaires",
    "propuesta de negocio",
    "proposta de negócio",
    "nächster angehöriger",
    "nächste angehörige",
    "erbschaftsfonds",
    "entschädigungsfonds",
    "millionen us-dollar",
    "plus proche parent",
    "fonds de compensation",
    "fonds d'héritage",
    "millions de dollars",
    "pariente más cercano",
    "fondo de compensación",
    "fondos de herencia",
    "millones de dólares",
    "parente mais próximo",
    "fundo de compensação",
    "fundos de herança",
    "milhões de dólares",
    // Prizes nobody entered for.
    "you have won",
    "you have been selected as",
    "winning number",
    "lottery winner",
    "lottery program",
    "claim your prize",
    "claim your winnings",
    "prize money",
    "sie haben gewonnen",
    "lotteriegewinn",
    "vous avez gagné",
    "gagnant de la loterie",
    "usted ha ganado",
    "ganador de la lotería",
    "você ganhou",
    "ganhador da loteria",
    // Crypto and investment fraud.
    "bitcoin wallet address",
    "send bitcoin",
    "guaranteed profit",
    "guaranteed returns",
    "daily profit",
    "double your bitcoin",
    "crypto investment platform",
    "recover your lost funds",
    "garantierter gewinn",
    "profit garanti",
    "ganancias garantizadas",
    "lucro garantido",
];

/// What a text's wording shows, from one [`fold`] of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wording {
    /// The kinds of lure, each once, in order.
    pub lures: Vec<Lure>,
    /// The scam phrases, each once, at most the limit asked, in the order found.
    pub scam: Vec<&'static str>,
}

/// The lures and scam phrases of `text` (subject and body text).
pub fn read(text: &str, scam_limit: usize) -> Wording {
    let flat = fold(text);
    let mut wording = phrases(flat.as_bytes(), scam_limit);
    if wording.scam.len() < scam_limit && large_sum(&flat) {
        wording.scam.push(LARGE_SUM);
    }
    wording
}

/// How a sum of millions is named among the scam phrases.
pub const LARGE_SUM: &str = "a sum of millions";

/// Currency words that make a number money (symbols are read from the word itself).
const CURRENCIES: &[&str] = &[
    "usd", "us$", "eur", "gbp", "dollar", "dollars", "euro", "euros", "pound", "pounds", "dólares",
    "dolares", "dollari",
];

/// Whether folded text names a sum of money of a million or more ("$10,700,000.00",
/// "3.8million usd", "usd 5 million", "€ 2.500.000"): the fortune of advance-fee
/// fraud. Reported business news names such sums too, which is why it is one scam
/// phrase among others and never decides alone.
fn large_sum(text: &str) -> bool {
    let flat = text.as_bytes();
    // Only words with a digit are read (most of a text has none), with their neighbours.
    let mut from = 0;
    while let Some(off) = flat[from..].iter().position(u8::is_ascii_digit) {
        let at = from + off;
        let start = text[..at].rfind(' ').map_or(0, |i| i + 1);
        let end = text[at..].find(' ').map_or(text.len(), |i| at + i);
        if sum_at(text, start, end) {
            return true;
        }
        from = end;
    }
    false
}

/// Whether the word at `start..end` of `text`, with the words around it, is a sum of a
/// million or more in some currency.
fn sum_at(text: &str, start: usize, end: usize) -> bool {
    let is_currency = |w: &str| {
        w.contains(['$', '£', '€'])
            || CURRENCIES.contains(&w.trim_end_matches(|c: char| c.is_ascii_punctuation()))
    };
    let word = &text[start..end];
    let Some(mut amount) = amount(word) else {
        return false;
    };
    let mut after = text[end..].split(' ').filter(|w| !w.is_empty());
    let mut next = after.next();
    if next.is_some_and(|n| {
        ["million", "millones", "milhões", "millions"]
            .iter()
            .any(|m| n.starts_with(m))
    }) {
        amount *= 1e6;
        next = after.next();
    }
    let before = text[..start].trim_end_matches(' ');
    let before = &before[before.rfind(' ').map_or(0, |i| i + 1)..];
    amount >= 1e6 && (is_currency(word) || is_currency(before) || next.is_some_and(is_currency))
}

/// The amount a word writes, currency symbols aside: `3.8million` or `3.8m` (a decimal
/// number of millions), or digits grouped by `,` or `.` with at most two decimals
/// (`10,700,000.00`, `2.500.000`).
fn amount(word: &str) -> Option<f64> {
    let symbol = |c: char| matches!(c, '$' | '£' | '€');
    let w = word.trim_matches(|c: char| !c.is_alphanumeric() && !symbol(c));
    let w = w.trim_start_matches(symbol);
    let w = w
        .strip_prefix("usd")
        .or_else(|| w.strip_prefix("us$"))
        .unwrap_or(w);
    let w = w.trim_start_matches(symbol);
    let numeric = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_digit() || b == b',' || b == b'.')
    };
    if let Some(n) = w.strip_suffix("million").or_else(|| w.strip_suffix('m'))
        && numeric(n)
    {
        return n.replace(',', ".").parse::<f64>().ok().map(|x| x * 1e6);
    }
    if !numeric(w) {
        return None;
    }
    let whole = match w.rfind(['.', ',']) {
        Some(p) if w.len() - p <= 3 => &w[..p],
        _ => w,
    };
    let digits: String = whole.chars().filter(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What a phrase of the automaton is.
#[derive(Clone, Copy)]
enum Phrase {
    Lure(Lure),
    Scam(&'static str),
}

/// Every lure and scam phrase in one automaton: one pass over the text.
static PHRASES: LazyLock<(AhoCorasick, Vec<Phrase>)> = LazyLock::new(|| {
    let lures = KINDS
        .iter()
        .flat_map(|(kind, list)| list.iter().map(move |p| (*p, Phrase::Lure(*kind))));
    let scams = SCAM.iter().map(|p| (*p, Phrase::Scam(p)));
    let (patterns, what): (Vec<&str>, Vec<Phrase>) = lures.chain(scams).unzip();
    // A DFA: a few hundred KiB once, the fastest search for every message.
    let ac = AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .build(patterns)
        .unwrap_or_else(|e| panic!("lure phrases: {e}"));
    (ac, what)
});

/// The kinds of lure in folded text, each once, in order, and its distinct scam
/// phrases in the order found, at most `scam_limit`.
fn phrases(flat: &[u8], scam_limit: usize) -> Wording {
    let (ac, what) = &*PHRASES;
    let mut seen = [false; KINDS.len()];
    let mut scam: Vec<&'static str> = Vec::new();
    for m in ac.find_overlapping_iter(flat) {
        match what[m.pattern().as_usize()] {
            Phrase::Lure(kind) => seen[kind as usize] = true,
            Phrase::Scam(p) if scam.len() < scam_limit && !scam.contains(&p) => scam.push(p),
            Phrase::Scam(_) => {}
        }
        if scam.len() >= scam_limit && seen.iter().all(|s| *s) {
            break;
        }
    }
    let lures = KINDS
        .iter()
        .map(|(l, _)| *l)
        .filter(|l| seen[*l as usize])
        .collect();
    Wording { lures, scam }
}

/// `text` as the phrases are written: whitespace runs (line breaks, indentation) as
/// one space, letters lower-cased. Runs of ASCII, most of any text, are read as bytes
/// and copied a word at a time; other characters are decoded one by one.
fn fold(text: &str) -> String {
    let mut flat: Vec<u8> = Vec::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let ascii = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        fold_ascii(&rest.as_bytes()[..ascii], &mut flat);
        rest = &rest[ascii..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        rest = &rest[c.len_utf8()..];
        if c.is_whitespace() {
            space(&mut flat);
        } else {
            let mut buf = [0; 4];
            for l in c.to_lowercase() {
                flat.extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    if flat.last() == Some(&b' ') {
        flat.pop();
    }
    // Whole characters and ASCII only were written: always UTF-8.
    String::from_utf8(flat).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// One space after a word (none at the start, none twice).
fn space(flat: &mut Vec<u8>) {
    if flat.last().is_some_and(|b| *b != b' ') {
        flat.push(b' ');
    }
}

/// Appends an ASCII run lower-cased, each whitespace run in it (U+000B included, as
/// `char::is_whitespace` has it) as one space.
fn fold_ascii(run: &[u8], flat: &mut Vec<u8>) {
    let mut words = run.split(|b| b.is_ascii_whitespace() || *b == 0x0b);
    if let Some(first) = words.next() {
        push_lower(first, flat);
    }
    for w in words {
        space(flat);
        push_lower(w, flat);
    }
}

fn push_lower(ascii: &[u8], flat: &mut Vec<u8>) {
    let start = flat.len();
    flat.extend_from_slice(ascii);
    flat[start..].make_ascii_lowercase();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str) -> Vec<Lure> {
        read(text, 0).lures
    }

    fn scam_phrases(text: &str, limit: usize) -> Vec<&'static str> {
        read(text, limit).scam
    }

    #[test]
    fn fold_collapses_whitespace_and_lowers_every_script() {
        assert_eq!(
            fold("  Hello\r\n\t\x0bWORLD\u{a0}\u{2003}ÄÖ İ  x \u{85}"),
            "hello world äö i\u{307} x"
        );
        assert_eq!(fold(""), "");
        assert_eq!(fold(" \n "), "");
    }

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
    fn advance_fee_prize_and_crypto_scams_in_five_languages() {
        assert_eq!(
            scam_phrases(
                "Dear Friend, I am contacting you as the NEXT OF KIN of my late husband. \
                 Your ATM card is ready.",
                5
            ),
            ["dear friend", "next of kin", "my late husband", "atm card"]
        );
        assert_eq!(
            scam_phrases("Sie haben gewonnen!", 5),
            ["sie haben gewonnen"]
        );
        assert_eq!(scam_phrases("Vous avez gagné", 5), ["vous avez gagné"]);
        assert_eq!(scam_phrases("Usted ha ganado", 5), ["usted ha ganado"]);
        assert_eq!(scam_phrases("Você ganhou", 5), ["você ganhou"]);
        assert_eq!(scam_phrases("dear friend, dear friend", 1), ["dear friend"]);
    }

    #[test]
    fn sums_of_millions() {
        for t in [
            "payment totaling £10,700,000.00 (Ten Million)",
            "The amount of 3.8million USD was donated",
            "a fund of USD 5 million",
            "US$12.5 million only",
            "€ 2.500.000 for you",
            "the sum of 4,500,000 dollars",
        ] {
            assert!(large_sum(&fold(t)), "{t}");
        }
        for t in [
            "Thank you for your payment of $42.00.",
            "We sold 2,000,000 units",
            "version 1.2.3 on 2024.01.02",
            "$1,250.99 due",
            "ten million reasons",
        ] {
            assert!(!large_sum(&fold(t)), "{t}");
        }
        assert_eq!(
            scam_phrases("A fund beneficiary of US$12.5 million", 5),
            ["fund beneficiary", LARGE_SUM]
        );
    }

    #[test]
    fn ordinary_mail_has_none() {
        for t in [
            "Hi Bob, the minutes from Tuesday's meeting are attached. Talk soon, Alice",
            "Your order has shipped and will arrive on Friday.",
            "Thank you for your payment of $42.00.",
        ] {
            assert_eq!(find(t), [], "{t}");
            assert_eq!(scam_phrases(t, 5), Vec::<&str>::new(), "{t}");
        }
    }
}
