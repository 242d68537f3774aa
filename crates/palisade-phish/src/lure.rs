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
    let mut scam = scam_phrases(&flat, scam_limit);
    if scam.len() < scam_limit && large_sum(&flat) {
        scam.push(LARGE_SUM);
    }
    Wording {
        lures: kinds(&flat),
        scam,
    }
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
fn large_sum(flat: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(flat) else {
        return false;
    };
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

/// The scam phrases in folded text, each once (at most `limit`), in the order found.
fn scam_phrases(flat: &[u8], limit: usize) -> Vec<&'static str> {
    static AC: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .build(SCAM)
            .unwrap_or_else(|e| panic!("scam phrases: {e}"))
    });
    let mut found: Vec<&'static str> = Vec::new();
    if limit == 0 {
        return found;
    }
    for m in AC.find_overlapping_iter(flat) {
        let phrase = SCAM[m.pattern().as_usize()];
        if !found.contains(&phrase) {
            found.push(phrase);
            if found.len() >= limit {
                break;
            }
        }
    }
    found
}

/// Every phrase in one automaton (one pass over the text), with its kind.
static PHRASES: LazyLock<(AhoCorasick, Vec<Lure>)> = LazyLock::new(|| {
    let (kinds, phrases): (Vec<Lure>, Vec<&str>) = KINDS
        .iter()
        .flat_map(|(kind, list)| list.iter().map(move |p| (*kind, *p)))
        .unzip();
    // A DFA: a few hundred KiB once, the fastest search for every message.
    let ac = AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .build(phrases)
        .unwrap_or_else(|e| panic!("lure phrases: {e}"));
    (ac, kinds)
});

/// The kinds of lure in folded text, each once, in order.
fn kinds(flat: &[u8]) -> Vec<Lure> {
    let (ac, kinds) = &*PHRASES;
    let mut seen = [false; KINDS.len()];
    for m in ac.find_overlapping_iter(flat) {
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

/// `text` as the phrases are written: whitespace runs (line breaks, indentation) as
/// one space, letters lower-cased. Runs of printable ASCII, most of any text, are
/// copied and lower-cased in one go; other characters are decoded one by one.
fn fold(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut flat = Vec::with_capacity(bytes.len());
    // A whitespace run is pending: written as one space before the next word.
    let mut space = false;
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..]
            .iter()
            .position(|b| !b.is_ascii_graphic())
            .unwrap_or(bytes.len() - i);
        let piece = if run > 0 {
            Piece::Ascii(&bytes[i..i + run])
        } else if bytes[i].is_ascii() {
            match bytes[i] {
                b if b.is_ascii_whitespace() || b == 0x0b => Piece::Space(1),
                _ => Piece::Ascii(&bytes[i..=i]),
            }
        } else {
            // `i` is always on a character boundary: it moves by whole characters.
            match text.get(i..).and_then(|t| t.chars().next()) {
                Some(c) if c.is_whitespace() => Piece::Space(c.len_utf8()),
                Some(c) => Piece::Other(c),
                None => break,
            }
        };
        i += piece.len();
        if let Piece::Space(_) = piece {
            space = !flat.is_empty();
            continue;
        }
        if space {
            flat.push(b' ');
            space = false;
        }
        match piece {
            Piece::Ascii(word) => flat.extend(word.iter().map(u8::to_ascii_lowercase)),
            Piece::Other(c) => {
                let mut buf = [0; 4];
                for l in c.to_lowercase() {
                    flat.extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
                }
            }
            Piece::Space(_) => {}
        }
    }
    flat
}

/// A piece of text [`fold`] reads at once.
enum Piece<'t> {
    /// Printable ASCII, or one control character.
    Ascii(&'t [u8]),
    /// One whitespace character, of this many bytes.
    Space(usize),
    /// One other character.
    Other(char),
}

impl Piece<'_> {
    fn len(&self) -> usize {
        match self {
            Piece::Ascii(b) => b.len(),
            Piece::Space(n) => *n,
            Piece::Other(c) => c.len_utf8(),
        }
    }
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
