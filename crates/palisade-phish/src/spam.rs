//! Spam, scored apart from phishing (issue 16): what makes a message unwanted bulk mail
//! rather than a deception. Pure functions over text the engine already holds.
//!
//! - The GTUBE test string (SpamAssassin's "Generic Test for Unsolicited Bulk Email",
//!   which rspamd honours too): a message that carries it is spam at reject level, so an
//!   administrator can test the whole path.
//! - Styled text in the subject or the sender's name: letters from Unicode's
//!   Mathematical Alphanumeric Symbols block (U+1D400..U+1D7FF, "𝗦𝗮𝗹𝗲") used as
//!   ordinary words, letters split by invisible characters (zero-width spaces between
//!   the letters of "Sale"), or words pushed apart by long runs of spaces. Each hides
//!   the words from filters that read them, and none is something a mail client
//!   produces; on `../shared/corpus` they occur in 2025-2026 spam and in none of the
//!   3,000 legitimate messages.

/// The GTUBE string (spamassassin.apache.org/gtube/).
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// Whether `text` carries the GTUBE string.
pub fn has_gtube(text: &str) -> bool {
    memchr::memmem::find(text.as_bytes(), GTUBE.as_bytes()).is_some()
}

/// A way of writing that hides words from filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Styling {
    /// Mathematical alphanumeric letters in place of ordinary ones.
    MathLetters,
    /// Letters separated by zero-width or other invisible characters.
    InvisibleSplit,
    /// Words separated by long runs of spaces.
    Padding,
}

impl Styling {
    pub fn describe(self) -> &'static str {
        match self {
            Styling::MathLetters => "is written in styled mathematical letters",
            Styling::InvisibleSplit => "has letters split by invisible characters",
            Styling::Padding => "is padded with runs of spaces",
        }
    }
}

/// Styled mathematical letters that make a text styled (one can be a formula's).
const MIN_MATH_LETTERS: usize = 2;
/// Invisible characters between letters that make the split deliberate.
const MIN_INVISIBLE_SPLITS: usize = 2;
/// Spaces in a row, between two words, that make it padding.
const MIN_PADDING: usize = 4;
/// Characters of a text read, at most.
const MAX_CHARS: usize = 4096;

/// The stylings found in one line of display text (a subject, a display name).
pub fn styling(text: &str) -> Vec<Styling> {
    let mut found = Vec::new();
    let chars = || text.chars().take(MAX_CHARS);
    if chars().filter(|c| is_math_letter(*c)).count() >= MIN_MATH_LETTERS {
        found.push(Styling::MathLetters);
    }
    if invisible_splits(chars()) >= MIN_INVISIBLE_SPLITS {
        found.push(Styling::InvisibleSplit);
    }
    if padded(text.trim().chars().take(MAX_CHARS)) {
        found.push(Styling::Padding);
    }
    found
}

/// Mathematical Alphanumeric Symbols (block U+1D400..U+1D7FF).
fn is_math_letter(c: char) -> bool {
    ('\u{1d400}'..='\u{1d7ff}').contains(&c)
}

/// Format characters that render as nothing.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}' | '\u{034f}' | '\u{180e}'
    )
}

/// Runs of invisible characters with a letter or digit on both sides.
fn invisible_splits(chars: impl Iterator<Item = char>) -> usize {
    let mut splits = 0;
    // The character before the current run of invisible ones, and whether one is open.
    let (mut before, mut in_run) = (None::<char>, false);
    for c in chars {
        if is_invisible(c) {
            in_run = true;
            continue;
        }
        if in_run && before.is_some_and(char::is_alphanumeric) && c.is_alphanumeric() {
            splits += 1;
        }
        in_run = false;
        before = Some(c);
    }
    splits
}

/// Two words with at least [`MIN_PADDING`] spaces between them.
fn padded(chars: impl Iterator<Item = char>) -> bool {
    let mut run = 0;
    for c in chars {
        if c == ' ' {
            run += 1;
        } else if run >= MIN_PADDING {
            return true;
        } else {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtube_anywhere_in_the_text() {
        assert!(has_gtube(&format!("Subject: test\n\nhello {GTUBE} bye")));
        assert!(!has_gtube(
            "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE"
        ));
    }

    #[test]
    fn styled_subjects_seen_in_real_spam() {
        assert_eq!(
            styling("\u{1d5df}\u{1d5ee}\u{1d600}\u{1d601} chance: 50% OFF"),
            [Styling::MathLetters]
        );
        assert_eq!(
            styling("C\u{200b}h\u{200b}e\u{200b}c\u{200b}k your eligibility"),
            [Styling::InvisibleSplit]
        );
        assert_eq!(
            styling("  Save on blinds!          ~!!~  "),
            [Styling::Padding]
        );
    }

    #[test]
    fn ordinary_subjects_are_not_styled() {
        for s in [
            "Re: [PATCH v2] net: fix the alignment",
            "Your receipt from Eastside Exterminators",
            "Black Friday \u{1f381} 30% off",
            "Preheader\u{200c}\u{200c}\u{200c}",
            "word\u{200b} word",
            "\u{211d}eal numbers: one \u{1d465}",
            "Name   Surname",
            "   leading and trailing spaces   ",
        ] {
            assert_eq!(styling(s), [], "{s:?}");
        }
    }
}
