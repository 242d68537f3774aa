//! One pass over an HTML part with html5gum's tokenizer (the WHATWG tokenizer, HTML
//! §13.2.5: character references, attribute quoting, raw-text elements as a browser
//! reads them), without building a document tree: anchors with their text, forms that
//! take a password, whether there are scripts or forms at all, and the visible text.
//!
//! The tokenizer reports through callbacks with borrowed slices, so nothing is
//! allocated for the tags and attributes the checks do not read (html5ever's tokenizer,
//! used before, allocated every tag and attribute and cost twice as much). A tree
//! builder would add nothing the checks use; what it would fix up (an unclosed `<a>`, a
//! `<form>` inside a form) is handled here the way it handles it: a new anchor closes
//! the open one, a nested form is ignored.

use html5gum::emitters::callback::{Callback, CallbackEmitter, CallbackEvent};
use html5gum::{Emitter, ForwardingEmitter, Span, State as TokenizerState, Tokenizer};
use std::cell::RefCell;
use std::convert::Infallible;

/// Anchors and forms kept per part, at most (hostile parts can hold millions).
pub const MAX_ELEMENTS: usize = 2000;
/// Visible text kept per part, at most (for the wording checks).
pub const MAX_TEXT: usize = 64 * 1024;
/// Text kept per anchor, at most.
const MAX_ANCHOR_TEXT: usize = 1024;
/// An attribute value kept, at most (a URL longer than this is cut).
const MAX_ATTRIBUTE: usize = 8 * 1024;

/// What one HTML part holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// `(href, text)` of each anchor with an `href`, text with whitespace collapsed.
    pub anchors: Vec<(String, String)>,
    /// The `action` of each form with a password field (`(this page)` without one).
    pub password_forms: Vec<String>,
    pub has_script: bool,
    pub has_form: bool,
    /// The text a reader sees (not scripts, styles or the title), words separated.
    pub text: String,
}

/// Elements inside a line of text: no word break at their tags.
const INLINE: &[&[u8]] = &[
    b"a", b"abbr", b"b", b"big", b"code", b"em", b"font", b"i", b"mark", b"s", b"small", b"span",
    b"strike", b"strong", b"sub", b"sup", b"u",
];

/// The start tags whose attributes are read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Anchor,
    Form,
    Input,
    Other,
}

impl Read {
    /// The attribute read on this element.
    fn attribute(self) -> &'static [u8] {
        match self {
            Read::Anchor => b"href",
            Read::Form => b"action",
            Read::Input => b"type",
            Read::Other => b"",
        }
    }
}

#[derive(Default)]
struct Collector {
    out: Scanned,
    anchor: Option<(String, String)>,
    /// The open form: its action and whether it has a password field.
    form: Option<(String, bool)>,
    /// Inside a raw-text element whose content is not shown (script, style, title...).
    hidden: Option<&'static [u8]>,
    /// The start tag being read: its name, and the value of the attribute read on it.
    tag: Vec<u8>,
    read: Option<Read>,
    value: Option<Vec<u8>>,
    /// The attribute now being tokenized is the one read (its first occurrence: a
    /// duplicate attribute is dropped, HTML §13.2.5.33).
    in_value: bool,
    /// The tokenizer state after the start tag just read.
    next_state: Option<TokenizerState>,
}

impl Collector {
    fn close_anchor(&mut self) {
        if let Some((href, text)) = self.anchor.take()
            && self.out.anchors.len() < MAX_ELEMENTS
        {
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            self.out.anchors.push((href, text));
        }
    }

    fn close_form(&mut self) {
        if let Some((action, true)) = self.form.take()
            && self.out.password_forms.len() < MAX_ELEMENTS
        {
            self.out.password_forms.push(action);
        }
    }

    fn space(&mut self) {
        if !self.out.text.ends_with(' ') && self.out.text.len() < MAX_TEXT {
            self.out.text.push(' ');
        }
    }

    fn open(&mut self, name: &[u8]) {
        self.tag.clear();
        self.tag.extend_from_slice(name);
        self.read = Some(match name {
            b"a" => Read::Anchor,
            b"form" => Read::Form,
            b"input" => Read::Input,
            _ => Read::Other,
        });
        self.value = None;
        self.in_value = false;
    }

    fn attribute(&mut self, name: &[u8]) {
        self.in_value = self.value.is_none()
            && self
                .read
                .is_some_and(|r| r != Read::Other && r.attribute() == name);
        if self.in_value {
            self.value = Some(Vec::new());
        }
    }

    fn attribute_value(&mut self, value: &[u8]) {
        if self.in_value
            && let Some(v) = self.value.as_mut()
        {
            v.extend_from_slice(&value[..value.len().min(MAX_ATTRIBUTE)]);
        }
        self.in_value = false;
    }

    /// A start tag is complete: what it opens, and the tokenizer state it switches to.
    fn start(&mut self) {
        let read = self.read.take().unwrap_or(Read::Other);
        let value = self
            .value
            .take()
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        match read {
            Read::Anchor => {
                self.close_anchor();
                if let Some(href) = value {
                    self.anchor = Some((href.trim().to_string(), String::new()));
                }
            }
            Read::Form => {
                self.out.has_form = true;
                if self.form.is_none() {
                    let action = value.unwrap_or_else(|| "(this page)".into());
                    self.form = Some((action, false));
                }
            }
            Read::Input => {
                if let Some((_, pw)) = self.form.as_mut()
                    && value.is_some_and(|t| t.trim().eq_ignore_ascii_case("password"))
                {
                    *pw = true;
                }
            }
            Read::Other => self.other_start(),
        }
    }

    /// Raw-text elements, switched as the tree builder does (HTML §13.2.6.4). A mail
    /// reader runs no scripts, so `<noscript>` is markup like any other (as it is for
    /// a browser with scripting off).
    fn other_start(&mut self) {
        let (hidden, state): (&'static [u8], _) = match self.tag.as_slice() {
            b"script" => {
                self.out.has_script = true;
                (b"script", TokenizerState::ScriptData)
            }
            b"style" => (b"style", TokenizerState::RawText),
            b"xmp" => (b"xmp", TokenizerState::RawText),
            b"iframe" => (b"iframe", TokenizerState::RawText),
            b"noembed" => (b"noembed", TokenizerState::RawText),
            b"noframes" => (b"noframes", TokenizerState::RawText),
            b"title" => (b"title", TokenizerState::RcData),
            b"textarea" => (b"textarea", TokenizerState::RcData),
            b"plaintext" => {
                self.next_state = Some(TokenizerState::PlainText);
                return;
            }
            name if INLINE.contains(&name) => return,
            _ => {
                self.space();
                return;
            }
        };
        self.hidden = Some(hidden);
        self.next_state = Some(state);
    }

    fn end(&mut self, name: &[u8]) {
        match name {
            b"a" => self.close_anchor(),
            b"form" => self.close_form(),
            name if self.hidden == Some(name) => self.hidden = None,
            name if INLINE.contains(&name) => {}
            _ => self.space(),
        }
    }

    fn characters(&mut self, s: &[u8]) {
        if self.hidden.is_some() {
            return;
        }
        // The input is a `str` and character references decode to whole characters,
        // so this is UTF-8; lossy all the same, never a panic.
        let s = match std::str::from_utf8(s) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(s),
        };
        let room = MAX_TEXT.saturating_sub(self.out.text.len());
        let mut end = room.min(s.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.text.push_str(&s[..end]);
        if let Some((_, text)) = self.anchor.as_mut()
            && text.len() < MAX_ANCHOR_TEXT
        {
            let mut end = (MAX_ANCHOR_TEXT - text.len()).min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            text.push_str(&s[..end]);
        }
    }

    fn event(&mut self, event: CallbackEvent<'_>) {
        match event {
            CallbackEvent::OpenStartTag { name } => self.open(name),
            CallbackEvent::AttributeName { name } => self.attribute(name),
            CallbackEvent::AttributeValue { value } => self.attribute_value(value),
            CallbackEvent::CloseStartTag { .. } => self.start(),
            CallbackEvent::EndTag { name } => self.end(name),
            CallbackEvent::String { value } => self.characters(value),
            CallbackEvent::Comment { .. }
            | CallbackEvent::Doctype { .. }
            | CallbackEvent::Error(_) => {}
        }
    }
}

/// The callback emitter, with the state switches of [`Collector::other_start`] in
/// place of html5gum's guesses (which treat `<noscript>` as raw text and miss
/// `<noframes>`).
struct Switching<'c, F: Callback<Infallible, ()>> {
    inner: CallbackEmitter<F>,
    collector: &'c RefCell<Collector>,
}

impl<F: Callback<Infallible, ()>> ForwardingEmitter for Switching<'_, F> {
    type Token = Infallible;

    fn inner(&mut self) -> &mut impl Emitter<Token = Infallible> {
        &mut self.inner
    }

    /// Parse errors change nothing the checks read; not validating every character
    /// for them halves the tokenizer's work.
    fn should_emit_errors(&mut self) -> bool {
        false
    }

    fn emit_current_tag(&mut self) -> Option<TokenizerState> {
        let guessed = self.inner.emit_current_tag();
        debug_assert!(guessed.is_none(), "naive switching is off");
        let next = self.collector.borrow_mut().next_state.take();
        if next.is_some() {
            self.inner.init_string();
        }
        next
    }
}

/// Scans one HTML part.
pub fn scan(markup: &str) -> Scanned {
    let collector = RefCell::new(Collector::default());
    let callback = |event: CallbackEvent<'_>, _: Span<()>| -> Option<Infallible> {
        collector.borrow_mut().event(event);
        None
    };
    let emitter = Switching {
        inner: CallbackEmitter::new(callback),
        collector: &collector,
    };
    // The reader of a `str` cannot fail (its error type is `Infallible`).
    let Ok(()) = Tokenizer::new_with_emitter(markup, emitter).finish();
    let mut c = collector.into_inner();
    c.close_anchor();
    c.close_form();
    c.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_forms_and_text() {
        let s = scan(
            "<html><head><title>Hidden title</title><style>p{color:red}</style></head><body>\
             <p>Dear customer,</p><a href=' https://x.test/a '>Log&nbsp;in\n <b>here</b></a>\
             <a name=top>no href</a><a href=\"javascript:alert(&#x27;x&#x27;)\">click</a>\
             <form action=\"https://evil.test/c\"><input type=\"PASSWORD\" name=p></form>\
             <form><input type=text></form><script>var s = '<a href=\"https://not.a/link\">';</script>\
             <p>Thanks</p></body></html>",
        );
        assert_eq!(
            s.anchors,
            [
                ("https://x.test/a".into(), "Log in here".into()),
                ("javascript:alert('x')".into(), "click".into())
            ]
        );
        assert_eq!(s.password_forms, ["https://evil.test/c"]);
        assert!(s.has_script && s.has_form);
        let words: Vec<&str> = s.text.split_whitespace().collect();
        assert_eq!(
            words,
            [
                "Dear",
                "customer,",
                "Log",
                "in",
                "hereno",
                "hrefclick",
                "Thanks"
            ]
        );
    }

    #[test]
    fn an_unclosed_anchor_ends_at_the_next_one_and_at_the_end() {
        let s = scan("<a href=1>one<a href=2>two");
        assert_eq!(
            s.anchors,
            [("1".into(), "one".into()), ("2".into(), "two".into())]
        );
    }

    #[test]
    fn a_duplicate_href_is_dropped_as_a_browser_drops_it() {
        let s = scan(
            "<a href='https://first.test/' HREF=\"https://second.test/\">x</a><a href href=https://third.test/>y</a>",
        );
        assert_eq!(
            s.anchors,
            [
                ("https://first.test/".into(), "x".into()),
                ("".into(), "y".into())
            ]
        );
    }

    #[test]
    fn noscript_is_markup_and_raw_text_elements_hide_theirs() {
        // A mail reader runs no scripts: it shows what <noscript> holds, links included.
        let s = scan(
            "<noscript><a href=https://hidden.test/>Sign in</a></noscript>\
             <noframes><a href=https://raw.test/>not a link</a></noframes>\
             <textarea><a href=https://rc.test/>no</a></textarea>",
        );
        assert_eq!(
            s.anchors,
            [("https://hidden.test/".into(), "Sign in".into())]
        );
        assert!(!s.text.contains("not a link") && !s.text.contains("no<"));
    }

    #[test]
    fn bounded_on_hostile_input() {
        let many = "<a href=x>y</a>".repeat(MAX_ELEMENTS + 50);
        assert_eq!(scan(&many).anchors.len(), MAX_ELEMENTS);
        let big = "word ".repeat(MAX_TEXT);
        assert!(scan(&big).text.len() <= MAX_TEXT);
        let _ = scan("<a href=<<<>><form><input type=password</a></<");
        let _ = scan("<script><!--<script>");
    }
}
