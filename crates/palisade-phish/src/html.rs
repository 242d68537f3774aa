//! One pass over an HTML part with html5ever's tokenizer (the WHATWG tokenizer: entity
//! decoding, attribute quoting, raw-text elements as a browser reads them), without
//! building a document tree: anchors with their text, forms that take a password,
//! whether there are scripts or forms at all, and the visible text.
//!
//! The tree builder would add nothing the checks use and costs as much again as the
//! tokenizer; what it would fix up (an unclosed `<a>`, a `<form>` inside a form) is
//! handled here the way it handles it: a new anchor closes the open one, a nested form
//! is ignored.

use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use std::cell::RefCell;

/// Anchors and forms kept per part, at most (hostile parts can hold millions).
pub const MAX_ELEMENTS: usize = 2000;
/// Visible text kept per part, at most (for the wording checks).
pub const MAX_TEXT: usize = 64 * 1024;
/// Text kept per anchor, at most.
const MAX_ANCHOR_TEXT: usize = 1024;

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
const INLINE: &[&str] = &[
    "a", "abbr", "b", "big", "code", "em", "font", "i", "mark", "s", "small", "span", "strike",
    "strong", "sub", "sup", "u",
];

#[derive(Default)]
struct State {
    out: Scanned,
    anchor: Option<(String, String)>,
    /// The open form: its action and whether it has a password field.
    form: Option<(String, bool)>,
    /// Inside a raw-text element whose content is not shown (script, style, title...).
    hidden: Option<&'static str>,
}

impl State {
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

    fn start(&mut self, tag: &Tag) -> TokenSinkResult<()> {
        let attr = |name: &str| {
            tag.attrs
                .iter()
                .find(|a| &*a.name.local == name)
                .map(|a| a.value.to_string())
        };
        match &*tag.name {
            "a" => {
                self.close_anchor();
                if let Some(href) = attr("href") {
                    self.anchor = Some((href.trim().to_string(), String::new()));
                }
            }
            "form" => {
                self.out.has_form = true;
                if self.form.is_none() {
                    let action = attr("action").unwrap_or_else(|| "(this page)".into());
                    self.form = Some((action, false));
                }
            }
            "input" => {
                if let Some((_, pw)) = self.form.as_mut()
                    && attr("type").is_some_and(|t| t.trim().eq_ignore_ascii_case("password"))
                {
                    *pw = true;
                }
            }
            // Raw-text elements, switched as the tree builder does (HTML §13.2.6.4).
            "script" => {
                self.out.has_script = true;
                self.hidden = Some("script");
                return TokenSinkResult::RawData(RawKind::ScriptData);
            }
            name @ ("style" | "xmp" | "iframe" | "noembed" | "noframes") => {
                self.hidden = Some(match name {
                    "style" => "style",
                    "xmp" => "xmp",
                    "iframe" => "iframe",
                    "noembed" => "noembed",
                    _ => "noframes",
                });
                return TokenSinkResult::RawData(RawKind::Rawtext);
            }
            name @ ("title" | "textarea") => {
                self.hidden = Some(if name == "title" { "title" } else { "textarea" });
                return TokenSinkResult::RawData(RawKind::Rcdata);
            }
            "plaintext" => return TokenSinkResult::Plaintext,
            name if INLINE.contains(&name) => {}
            _ => self.space(),
        }
        TokenSinkResult::Continue
    }

    fn end(&mut self, tag: &Tag) {
        match &*tag.name {
            "a" => self.close_anchor(),
            "form" => self.close_form(),
            name if self.hidden == Some(name) => self.hidden = None,
            name if INLINE.contains(&name) => {}
            _ => self.space(),
        }
    }

    fn characters(&mut self, s: &str) {
        if self.hidden.is_some() {
            return;
        }
        let room = MAX_TEXT.saturating_sub(self.out.text.len());
        let mut end = room.min(s.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.text.push_str(&s[..end]);
        if let Some((_, text)) = self.anchor.as_mut()
            && text.len() < MAX_ANCHOR_TEXT
        {
            text.push_str(s);
        }
    }
}

struct Sink(RefCell<State>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut st = self.0.borrow_mut();
        match token {
            Token::TagToken(tag) => match tag.kind {
                TagKind::StartTag => return st.start(&tag),
                TagKind::EndTag => st.end(&tag),
            },
            Token::CharacterTokens(t) => st.characters(&t),
            Token::EOFToken => {
                st.close_anchor();
                st.close_form();
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Scans one HTML part.
pub fn scan(markup: &str) -> Scanned {
    let tokenizer = Tokenizer::new(
        Sink(RefCell::new(State::default())),
        TokenizerOpts::default(),
    );
    let input = BufferQueue::default();
    input.push_back(markup.into());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let Sink(state) = tokenizer.sink;
    state.into_inner().out
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
    fn bounded_on_hostile_input() {
        let many = "<a href=x>y</a>".repeat(MAX_ELEMENTS + 50);
        assert_eq!(scan(&many).anchors.len(), MAX_ELEMENTS);
        let big = "word ".repeat(MAX_TEXT);
        assert!(scan(&big).text.len() <= MAX_TEXT);
        let _ = scan("<a href=<<<>><form><input type=password</a></<");
        let _ = scan("<script><!--<script>");
    }
}
