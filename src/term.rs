//! Text safe for a terminal. Data written by others (app and resource names, commit messages,
//! annotations, server replies, a model's reasoning) must never drive the operator's terminal
//! (kubectl's CVE-2021-25743): every text a headless command writes goes through [`clean`],
//! which shows control, bidirectional and invisible characters visibly (`\x1b`, `<U+202E>`);
//! JSON output goes through [`json`], which escapes the characters serde_json leaves raw; the
//! TUI's screen writer drops them from cells with [`strip`].
//!
//! The printing macros ([`outln!`](crate::outln), [`out!`](crate::out),
//! [`errln!`](crate::errln)) are the only way headless code writes to stdout and stderr
//! (`println!` and friends are disallowed by clippy.toml). They also end quietly on a closed
//! pipe (`driftdeck journal tail | head -1`) instead of panicking.

use std::borrow::Cow;
use std::io::Write;

/// A character that must not reach a terminal raw: C0 controls but newline and tab, DEL, C1
/// controls (U+0080–U+009F, among them the one-byte CSI U+009B and OSC U+009D), the
/// bidirectional controls (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069), and the
/// invisible ones (zero-width space, joiners, word joiner, BOM, line and paragraph
/// separators, the Mongolian vowel separator, the soft hyphen).
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{ad}' | '\u{61c}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

fn visible(c: char, out: &mut String) {
    let n = c as u32;
    if n <= 0xff {
        out.push_str(&format!("\\x{n:02x}"));
    } else {
        out.push_str(&format!("<U+{n:04X}>"));
    }
}

/// `s` with every unsafe character shown visibly: `\x1b` for ESC, `\x9b` for a C1 CSI,
/// `<U+202E>` for a right-to-left override. Newlines and tabs stay.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) {
            visible(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`clean`] for one line: newlines and tabs shown too (a name or a header must stay one line).
pub fn clean_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) || c == '\n' || c == '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => visible(c, &mut out),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` without the unsafe characters (for the TUI's cells, where a visible escape would not
/// fit the layout; the TUI's diff shows them visibly itself).
pub fn strip(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().filter(|c| !is_unsafe(*c)).collect())
}

/// JSON text made terminal-safe: serde_json escapes C0 controls but writes DEL, C1 and the
/// bidirectional and invisible characters raw; they become `\u009b`-style escapes (the same
/// JSON value). Outside strings JSON text is ASCII, so the whole text can be rewritten.
pub fn json_text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A value as terminal-safe JSON (pretty or compact).
pub fn json<T: serde::Serialize + ?Sized>(v: &T, pretty: bool) -> String {
    let s = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
    .unwrap_or_default();
    json_text(&s).into_owned()
}

/// Writes text to stdout, cleaned. A closed pipe ends the write quietly.
pub fn write_out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(clean(s).as_bytes());
    let _ = o.flush();
}

/// Writes text to stderr, cleaned.
pub fn write_err(s: &str) {
    let mut o = std::io::stderr().lock();
    let _ = o.write_all(clean(s).as_bytes());
}

/// Writes bytes to stdout as they are: only for output driftdeck itself colours (diff and
/// snapshot `--output ansi`), whose data was cleaned piece by piece before the colours went in.
pub fn write_raw(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// Writes a value as terminal-safe JSON and a newline to stdout.
pub fn write_json<T: serde::Serialize + ?Sized>(v: &T, pretty: bool) {
    let mut s = json(v, pretty);
    s.push('\n');
    write_raw(&s);
}

/// Pretty JSON of a value, terminal-safe, and a newline.
#[macro_export]
macro_rules! outln_json {
    ($v:expr) => {
        $crate::term::write_json($v, true)
    };
}

/// `println!` through [`clean`].
#[macro_export]
macro_rules! outln {
    () => { $crate::term::write_out("\n") };
    ($($arg:tt)*) => {{
        let mut s = format!($($arg)*);
        s.push('\n');
        $crate::term::write_out(&s)
    }};
}

/// `print!` through [`clean`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::term::write_out(&format!($($arg)*)) };
}

/// `eprintln!` through [`clean`].
#[macro_export]
macro_rules! errln {
    () => { $crate::term::write_err("\n") };
    ($($arg:tt)*) => {{
        let mut s = format!($($arg)*);
        s.push('\n');
        $crate::term::write_err(&s)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of every kind the audit found.
    pub const PAYLOAD: &str = "a\x1b[8mhidden\x1b]52;c;ZXZpbA==\x07\u{9b}31m\u{9d}0;t\u{7}\x7f\r\u{202e}evil\u{2066}\u{200b}\u{feff}z";

    #[test]
    fn every_unsafe_character_is_shown_visibly() {
        let c = clean(PAYLOAD);
        assert!(!c.chars().any(is_unsafe), "{c:?}");
        assert!(!c.contains('\r'));
        for want in [
            "\\x1b[8m", "\\x9b", "\\x9d", "\\x07", "\\x7f", "\\x0d", "<U+202E>", "<U+2066>",
            "<U+200B>", "<U+FEFF>",
        ] {
            assert!(c.contains(want), "{want} in {c}");
        }
        assert_eq!(clean("plain\ttext\nok"), "plain\ttext\nok");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        assert_eq!(clean_line("a\nb"), "a\\nb");
        assert_eq!(strip("a\u{202e}b\x1bc"), "abc");
    }

    #[test]
    fn json_escapes_what_serde_leaves_raw_and_stays_the_same_value() {
        let v = serde_json::json!({"name": PAYLOAD});
        let s = json(&v, true);
        assert!(!s.chars().any(|c| is_unsafe(c) && c != '\n'), "{s:?}");
        assert!(s.contains("\\u009b") && s.contains("\\u202e") && s.contains("\\u007f"));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }
}
