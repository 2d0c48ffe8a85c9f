//! YAML syntax highlighting with syntect's grammar, mapped to driftdeck's theme roles (so every
//! theme and colour depth applies). Parsing is slow next to drawing, so it runs off the event
//! loop and its result is kept: never on the render path.

use std::ops::Range;
use std::sync::OnceLock;

use syntect::parsing::{ParseState, Scope, ScopeStack, SyntaxSet};

/// What a piece of YAML is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tok {
    Key,
    String,
    Number,
    Bool,
    Null,
    Comment,
    Punct,
    Plain,
}

impl Tok {
    /// The theme role of the token.
    pub fn role(self) -> &'static str {
        match self {
            Tok::Key => "syntax.key",
            Tok::String => "syntax.string",
            Tok::Number => "syntax.number",
            Tok::Bool => "syntax.bool",
            Tok::Null => "syntax.null",
            Tok::Comment => "syntax.comment",
            Tok::Punct => "syntax.punct",
            Tok::Plain => "syntax.plain",
        }
    }
}

/// Token ranges (bytes) of one line.
pub type LineToks = Vec<(Tok, Range<usize>)>;

/// A run of a line with one look: its syntax token (if any) and whether it is emphasized.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub range: Range<usize>,
    pub tok: Option<Tok>,
    pub emph: bool,
}

/// A line cut where its look changes (token bounds, emphasized ranges): what the TUI's diff
/// and `diff --output ansi` both draw, one style per segment.
pub fn segments(text: &str, toks: Option<&LineToks>, emph: &[(usize, usize)]) -> Vec<Segment> {
    let mut cuts: Vec<usize> = vec![0, text.len()];
    if let Some(t) = toks {
        for (_, r) in t {
            cuts.push(r.start.min(text.len()));
            cuts.push(r.end.min(text.len()));
        }
    }
    for (a, b) in emph {
        cuts.push((*a).min(text.len()));
        cuts.push((*b).min(text.len()));
    }
    cuts.retain(|c| text.is_char_boundary(*c));
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .map(|w| {
            let (from, to) = (w[0], w[1]);
            Segment {
                range: from..to,
                tok: toks
                    .and_then(|t| t.iter().find(|(_, r)| r.start <= from && from < r.end))
                    .map(|(t, _)| *t),
                emph: emph.iter().any(|(a, b)| *a <= from && from < *b),
            }
        })
        .collect()
}

struct Grammar {
    set: SyntaxSet,
    key: Scope,
    string: Scope,
    number: Scope,
    boolean: Scope,
    null: Scope,
    comment: Scope,
    punct: Scope,
}

fn grammar() -> &'static Grammar {
    static G: OnceLock<Grammar> = OnceLock::new();
    G.get_or_init(|| {
        let s = |x: &str| Scope::new(x).unwrap_or_default();
        Grammar {
            set: SyntaxSet::load_defaults_newlines(),
            key: s("entity.name.tag"),
            string: s("string"),
            number: s("constant.numeric"),
            boolean: s("constant.language.boolean"),
            null: s("constant.language.null"),
            comment: s("comment"),
            punct: s("punctuation"),
        }
    })
}

fn classify(g: &Grammar, stack: &ScopeStack) -> Tok {
    for sc in stack.as_slice().iter().rev() {
        if g.key.is_prefix_of(*sc) {
            return Tok::Key;
        }
        if g.comment.is_prefix_of(*sc) {
            return Tok::Comment;
        }
        if g.number.is_prefix_of(*sc) {
            return Tok::Number;
        }
        if g.boolean.is_prefix_of(*sc) {
            return Tok::Bool;
        }
        if g.null.is_prefix_of(*sc) {
            return Tok::Null;
        }
        if g.punct.is_prefix_of(*sc) {
            return Tok::Punct;
        }
        if g.string.is_prefix_of(*sc) {
            return Tok::String;
        }
    }
    Tok::Plain
}

/// Highlights YAML text line by line. Lines that the grammar cannot parse come back plain.
pub fn yaml(text: &str) -> Vec<LineToks> {
    let g = grammar();
    let Some(syntax) = g.set.find_syntax_by_extension("yaml") else {
        return text
            .lines()
            .map(|l| vec![(Tok::Plain, 0..l.len())])
            .collect();
    };
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut out = Vec::new();
    let mut buf = String::new();
    for line in text.lines() {
        buf.clear();
        buf.push_str(line);
        buf.push('\n');
        let ops = match state.parse_line(&buf, &g.set) {
            Ok(ops) => ops,
            Err(_) => {
                out.push(vec![(Tok::Plain, 0..line.len())]);
                continue;
            }
        };
        let mut toks: LineToks = Vec::new();
        let mut pos = 0;
        for (at, op) in ops {
            let at = at.min(line.len());
            if at > pos {
                push_tok(&mut toks, classify(g, &stack), pos..at);
                pos = at;
            }
            let _ = stack.apply(&op);
        }
        if pos < line.len() {
            push_tok(&mut toks, classify(g, &stack), pos..line.len());
        }
        out.push(toks);
    }
    out
}

fn push_tok(toks: &mut LineToks, t: Tok, r: Range<usize>) {
    if let Some((lt, lr)) = toks.last_mut()
        && *lt == t
        && lr.end == r.start
    {
        lr.end = r.end;
        return;
    }
    toks.push((t, r));
}

/// Whether a line can start a fresh parse: not inside a block scalar (`|`, `>`) of an earlier
/// line. Lines are driftdeck's own YAML rendering, so a block starts on a line ending in `|`,
/// `|-`, `|+` (or `>` forms) and holds the more-indented lines after it.
fn safe_starts(lines: &[String]) -> Vec<bool> {
    let mut out = Vec::with_capacity(lines.len());
    let mut block: Option<usize> = None;
    for l in lines {
        let ind = l.len() - l.trim_start().len();
        let in_block = match block {
            Some(b) => l.trim().is_empty() || ind > b,
            None => false,
        };
        if !in_block {
            block = None;
        }
        out.push(!in_block);
        let t = l.trim_end();
        let opens = ["|", "|-", "|+", ">", ">-", ">+"].iter().any(|m| {
            t.strip_suffix(m).is_some_and(|head| {
                head.is_empty()
                    || head.trim_start().is_empty()
                    || head.ends_with(": ")
                    || head.ends_with("- ")
            })
        });
        if !in_block && opens {
            block = Some(ind);
        }
    }
    out
}

/// Highlights `range` of `lines`, parsing from the nearest safe line at or before its start
/// (so a region deep in a large manifest costs its own size, not the whole file).
pub fn yaml_region(lines: &[String], range: Range<usize>) -> Vec<LineToks> {
    let end = range.end.min(lines.len());
    if range.start >= end {
        return Vec::new();
    }
    let safe = safe_starts(&lines[..end]);
    let mut start = range.start;
    while start > 0 && !safe[start] {
        start -= 1;
    }
    let text: String = lines[start..end].iter().map(|l| format!("{l}\n")).collect();
    let toks = yaml(&text);
    toks.into_iter().skip(range.start - start).collect()
}

/// Starts loading the grammar in the background (it takes a few milliseconds).
pub fn warm_up() {
    std::thread::spawn(|| {
        grammar();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_match_whole_file_highlighting() {
        let text = "a:\n  b: 1\n  s: |\n    line one: not a key\n    two\n  c: true\nd: x\n";
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let whole = yaml(text);
        for start in 0..lines.len() {
            for end in start + 1..=lines.len() {
                assert_eq!(
                    yaml_region(&lines, start..end),
                    whole[start..end].to_vec(),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn yaml_tokens() {
        let toks = yaml("spec:\n  replicas: 3\n  name: web\n  on: true\n  x: null\n");
        let line = "  replicas: 3";
        let kinds: Vec<(Tok, &str)> = toks[1]
            .iter()
            .map(|(t, r)| (*t, &line[r.clone()]))
            .collect();
        assert!(kinds.contains(&(Tok::Key, "replicas")), "{kinds:?}");
        assert!(kinds.contains(&(Tok::Number, "3")), "{kinds:?}");
        let line = "  name: web";
        let kinds: Vec<(Tok, &str)> = toks[2]
            .iter()
            .map(|(t, r)| (*t, &line[r.clone()]))
            .collect();
        assert!(
            kinds
                .iter()
                .any(|(t, s)| *t == Tok::String && s.contains("web")),
            "{kinds:?}"
        );
        assert_eq!(toks.len(), 5);
        // Every byte of every line is covered exactly once.
        for (l, t) in "spec:\n  replicas: 3\n".lines().zip(&toks) {
            let covered: usize = t.iter().map(|(_, r)| r.len()).sum();
            assert_eq!(covered, l.len());
        }
    }
}
