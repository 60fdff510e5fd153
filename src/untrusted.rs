//! Text that comes from hosts (hostnames, labels, addresses, error messages) is hostile
//! data: a compromised host can put newlines, terminal escape sequences or bidirectional
//! overrides into its hostname. Everything that shows or writes such text passes it through
//! here first, so it is seen, never obeyed: no terminal control, no forged line, no end of
//! a shell comment.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters a terminal, an editor or a shell would act on rather than show: C0/C1
/// controls, DEL, line/paragraph separators and the bidirectional overrides that reorder
/// what is displayed.
fn is_active(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Whether `text` holds anything [`visible`] would escape: such text is refused where a
/// name is chosen (inventory host names, labels).
pub fn has_control(text: &str) -> bool {
    text.chars().any(is_active)
}

fn escape_where(text: &str, active: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&active) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if active(c) {
            // `\n`, `\t`, `\r`, else `\u{1b}`: visible, and unambiguous to a reader.
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` as one inert line: every control character (newlines included) is shown as an
/// escape such as `\n` or `\u{1b}`. For values: hostnames, labels, addresses, and for
/// shell comments, which a newline would end.
pub fn visible(text: &str) -> Cow<'_, str> {
    escape_where(text, is_active)
}

/// Like [`visible`], but keeps line breaks and tabs: for whole blocks of output (rendered
/// tables, multi-line error chains) whose values may hold hostile text.
pub fn visible_lines(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c != '\n' && c != '\t' && is_active(c))
}

/// Serialized JSON made inert without changing what it means: characters [`visible`]
/// escapes that JSON leaves raw (DEL, C1 controls, bidirectional overrides) become `\uXXXX`
/// escapes. They can only occur inside strings, where such an escape is the same text.
pub fn inert_json(json: &str) -> Cow<'_, str> {
    if !has_control(json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_active(c) {
            // Every active character is in the Basic Multilingual Plane: one escape.
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(visible("node-1.example"), Cow::Borrowed(_)));
        assert!(matches!(visible_lines("a\n\tb"), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_and_newlines_are_shown_not_obeyed() {
        let hostile = "x\ntouch pwned\r\x1b[31mred\x1b]0;title\x07\u{9b}2J\u{202e}gnp.exe";
        let v = visible(hostile);
        assert!(!v.chars().any(is_active), "{v}");
        assert_eq!(
            v,
            "x\\ntouch pwned\\r\\u{1b}[31mred\\u{1b}]0;title\\u{7}\\u{9b}2J\\u{202e}gnp.exe"
        );
        let block = visible_lines("line 1: \x1b[2J\nline 2\ttab\n");
        assert_eq!(block, "line 1: \\u{1b}[2J\nline 2\ttab\n");
    }

    #[test]
    fn json_stays_json_and_the_same_text_but_inert() {
        let text = "a\u{7f}b\u{9b}c\u{202e}d";
        let json = serde_json::to_string(&text).unwrap();
        let inert = inert_json(&json);
        assert!(!has_control(&inert), "{inert}");
        assert_eq!(serde_json::from_str::<String>(&inert).unwrap(), text);
    }
}
