//! Bounds on work driven by input others write: sizes of files, server and model replies and
//! values, and the nesting depth of YAML (whose parser is quadratic in flow nesting: a 200 KB
//! `[[[[…` took 36 s before this check). Every limit is named in the sentence that refuses.

use std::io::Read;
use std::path::Path;

/// A manifest, scenario or policy input read from a file.
pub const MAX_FILE: u64 = 16 * 1024 * 1024;
/// A reply of an Argo CD server (an app list of 10,000 apps is about 60 MB).
pub const MAX_REPLY: usize = 256 * 1024 * 1024;
/// A reply of a context source (Prometheus, Alertmanager, PagerDuty).
pub const MAX_CONTEXT_REPLY: usize = 16 * 1024 * 1024;
/// A reply of the model (an answer is a few hundred bytes).
pub const MAX_MODEL_REPLY: usize = 1024 * 1024;
/// A ConfigMap value read as a file of settings when a decision compares its keys; a larger
/// value is compared as a whole.
pub const MAX_VALUE: usize = 256 * 1024;
/// Nesting levels of a YAML document (the YAML parser stops at 128 anyway, but only after
/// work quadratic in the depth).
pub const MAX_DEPTH: usize = 100;

/// `n` bytes as a person reads them.
pub fn size(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// Reads at most [`MAX_FILE`] bytes from `r` (a file, a device like `/dev/zero`, standard
/// input): more is refused, never read whole. The error does not name the source (callers do).
pub fn read_capped(r: impl Read) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    r.take(MAX_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if buf.len() as u64 > MAX_FILE {
        return Err(format!(
            "is larger than {}, the limit for a file driftdeck reads; split it or give one object",
            size(MAX_FILE)
        ));
    }
    Ok(buf)
}

/// [`read_capped`] of a file.
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    read_capped(f)
}

/// The deepest nesting of flow collections (`[`, `{`) and block indentation levels in a YAML
/// or JSON text, counted outside quoted strings and comments; stops counting past `limit`.
pub fn yaml_depth(text: &str, limit: usize) -> usize {
    let mut max = 0usize;
    let mut flow = 0usize;
    // Block nesting: the stack of indentations of the lines that open a level.
    let mut indents: Vec<usize> = Vec::new();
    let mut at_line_start = true;
    let mut indent = 0usize;
    let mut quote: Option<char> = None;
    let mut prev = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if at_line_start {
            if c == ' ' || c == '-' && chars.peek() == Some(&' ') {
                indent += 1;
                prev = c;
                continue;
            }
            at_line_start = false;
            if c != '\n' && c != '#' && flow == 0 && quote.is_none() {
                while indents.last().is_some_and(|i| *i >= indent) {
                    indents.pop();
                }
                indents.push(indent);
            }
        }
        match (quote, c) {
            (Some(q), c) if c == q => {
                // `''` inside single quotes is an escaped quote, not the end.
                if q == '\'' && chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    quote = None;
                }
            }
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(_), '\n') if flow == 0 => {
                // A quoted scalar may span lines; a stray quote must not hide the rest.
                quote = None;
            }
            (Some(_), _) => {}
            (None, '"' | '\'') if matches!(prev, ' ' | '[' | '{' | ',' | ':' | '\n' | '-') => {
                quote = Some(c);
            }
            (None, '[' | '{') => flow += 1,
            (None, ']' | '}') => flow = flow.saturating_sub(1),
            (None, '#') if matches!(prev, ' ' | '\t' | '\n') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                at_line_start = true;
                indent = 0;
                prev = '\n';
                continue;
            }
            _ => {}
        }
        if c == '\n' {
            at_line_start = true;
            indent = 0;
        }
        max = max.max(flow + indents.len());
        if max > limit {
            return max;
        }
        prev = c;
    }
    max
}

/// Refuses a YAML or JSON text nested deeper than [`MAX_DEPTH`], with a sentence.
pub fn check_yaml(text: &str, what: &str) -> Result<(), String> {
    if yaml_depth(text, MAX_DEPTH) > MAX_DEPTH {
        return Err(format!(
            "{what} is nested more than {MAX_DEPTH} levels deep, the limit driftdeck parses; \
             it was not read"
        ));
    }
    Ok(())
}

/// Why a reply body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the reply is larger than {}, the limit driftdeck reads", size(*.0 as u64))]
    TooLarge(usize),
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// Reads a reply's body up to `limit` bytes: a larger one (by its Content-Length or as it
/// streams in) is refused without being read whole.
pub async fn body(mut resp: reqwest::Response, limit: usize) -> Result<bytes::Bytes, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// [`body`] as text (invalid UTF-8 replaced).
pub async fn text(resp: reqwest::Response, limit: usize) -> Result<String, BodyError> {
    let b = body(resp, limit).await?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_flow_and_block_nesting_but_not_strings_or_comments() {
        assert_eq!(yaml_depth("a: 1\nb: 2\n", 1000), 1);
        assert_eq!(yaml_depth("a:\n  b:\n    c: 1\n", 1000), 3);
        assert_eq!(yaml_depth("a: [[1, {b: 2}]]\n", 1000), 4);
        assert_eq!(yaml_depth("a: '[[[[['\nb: \"{{{{\"\n", 1000), 1);
        assert_eq!(yaml_depth("a: 1 # [[[[[[\n", 1000), 1);
        assert_eq!(yaml_depth("- a\n- b\n", 1000), 1);
        let deep = format!("x: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(yaml_depth(&deep, MAX_DEPTH) > MAX_DEPTH);
        assert!(
            check_yaml(&deep, "the file")
                .unwrap_err()
                .contains("100 levels")
        );
        // A real manifest passes.
        let dep = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n  labels: {a: b}\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          args: [\"--a=[x]\"]\n";
        assert!(check_yaml(dep, "f").is_ok());
        assert!(yaml_depth(dep, 1000) < 10);
    }

    #[test]
    fn a_device_is_read_to_the_limit_only() {
        let e = read_file(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("larger than 16 MiB"), "{e}");
    }
}
