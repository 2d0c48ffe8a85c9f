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
    if let Some((lt, lr)) = toks.last_mut() {
        if *lt == t && lr.end == r.start {
            lr.end = r.end;
            return;
        }
    }
    toks.push((t, r));
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
