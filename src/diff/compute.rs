//! Line diffs of two YAML renderings (`similar`), grouped into hunks with context, with the
//! changed words inside replaced lines marked. Independent of any screen.

use similar::{Algorithm, ChangeTag, DiffOp, TextDiff};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Equal,
    /// Only in live (Git removes it).
    Delete,
    /// Only in Git (a sync adds it).
    Insert,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tag: Tag,
    /// 1-based line numbers in the old (live) and new (desired) text.
    pub old: Option<usize>,
    pub new: Option<usize>,
    pub text: String,
    /// Byte ranges of `text` that changed inside a replaced line.
    pub emph: Vec<(usize, usize)>,
}

/// A hunk: a run of changes with context lines around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub old_start: usize,
    pub old_len: usize,
    pub new_start: usize,
    pub new_len: usize,
    pub lines: Vec<Line>,
}

/// Byte ranges of a line.
pub type Ranges = Vec<(usize, usize)>;

/// Word-level changes between two lines: emphasized byte ranges in each.
pub fn word_changes(old: &str, new: &str) -> (Ranges, Ranges) {
    let d = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .diff_words(old, new);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut oi, mut ni) = (0usize, 0usize);
    for ch in d.iter_all_changes() {
        let len = ch.value().len();
        match ch.tag() {
            ChangeTag::Equal => {
                oi += len;
                ni += len;
            }
            ChangeTag::Delete => {
                if !ch.value().trim().is_empty() {
                    push_range(&mut a, oi, oi + len);
                }
                oi += len;
            }
            ChangeTag::Insert => {
                if !ch.value().trim().is_empty() {
                    push_range(&mut b, ni, ni + len);
                }
                ni += len;
            }
        }
    }
    (a, b)
}

fn push_range(v: &mut Vec<(usize, usize)>, s: usize, e: usize) {
    if let Some(last) = v.last_mut()
        && last.1 == s
    {
        last.1 = e;
        return;
    }
    v.push((s, e));
}

/// The hunks between `old` (live) and `new` (desired), with `context` lines around changes.
pub fn hunks(old: &str, new: &str, context: usize) -> Vec<Hunk> {
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .timeout(std::time::Duration::from_secs(2))
        .diff_lines(old, new);
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let mut out = Vec::new();
    for group in diff.grouped_ops(context) {
        let mut lines = Vec::new();
        let (mut os, mut ol, mut ns, mut nl) = (usize::MAX, 0, usize::MAX, 0);
        for op in &group {
            let (o, n) = (op.old_range(), op.new_range());
            os = os.min(o.start);
            ns = ns.min(n.start);
            ol += o.len();
            nl += n.len();
            match *op {
                DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } => {
                    for k in 0..len {
                        lines.push(Line {
                            tag: Tag::Equal,
                            old: Some(old_index + k + 1),
                            new: Some(new_index + k + 1),
                            text: old_lines.get(old_index + k).unwrap_or(&"").to_string(),
                            emph: vec![],
                        });
                    }
                }
                DiffOp::Delete {
                    old_index, old_len, ..
                } => {
                    for k in 0..old_len {
                        lines.push(Line {
                            tag: Tag::Delete,
                            old: Some(old_index + k + 1),
                            new: None,
                            text: old_lines.get(old_index + k).unwrap_or(&"").to_string(),
                            emph: vec![],
                        });
                    }
                }
                DiffOp::Insert {
                    new_index, new_len, ..
                } => {
                    for k in 0..new_len {
                        lines.push(Line {
                            tag: Tag::Insert,
                            old: None,
                            new: Some(new_index + k + 1),
                            text: new_lines.get(new_index + k).unwrap_or(&"").to_string(),
                            emph: vec![],
                        });
                    }
                }
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => {
                    let mut dels: Vec<Line> = (0..old_len)
                        .map(|k| Line {
                            tag: Tag::Delete,
                            old: Some(old_index + k + 1),
                            new: None,
                            text: old_lines.get(old_index + k).unwrap_or(&"").to_string(),
                            emph: vec![],
                        })
                        .collect();
                    let mut ins: Vec<Line> = (0..new_len)
                        .map(|k| Line {
                            tag: Tag::Insert,
                            old: None,
                            new: Some(new_index + k + 1),
                            text: new_lines.get(new_index + k).unwrap_or(&"").to_string(),
                            emph: vec![],
                        })
                        .collect();
                    for k in 0..old_len.min(new_len) {
                        let (a, b) = word_changes(&dels[k].text, &ins[k].text);
                        dels[k].emph = a;
                        ins[k].emph = b;
                    }
                    lines.extend(dels);
                    lines.extend(ins);
                }
            }
        }
        out.push(Hunk {
            old_start: if os == usize::MAX { 0 } else { os + 1 },
            old_len: ol,
            new_start: if ns == usize::MAX { 0 } else { ns + 1 },
            new_len: nl,
            lines,
        });
    }
    out
}

/// The hunks as a unified diff (`diff -u`), for a pager, a copy or an external tool.
pub fn unified(old_label: &str, new_label: &str, hunks: &[Hunk]) -> String {
    let mut s = format!("--- {old_label}\n+++ {new_label}\n");
    for h in hunks {
        s.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            h.old_start, h.old_len, h.new_start, h.new_len
        ));
        for l in &h.lines {
            let mark = match l.tag {
                Tag::Equal => ' ',
                Tag::Delete => '-',
                Tag::Insert => '+',
            };
            s.push(mark);
            s.push_str(&l.text);
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunks_with_context_and_word_changes() {
        let old: String = (0..20).map(|i| format!("k{i}: v{i}\n")).collect();
        let new = old
            .replace("k10: v10", "k10: changed")
            .replace("k2: v2\n", "");
        let hs = hunks(&old, &new, 2);
        assert_eq!(hs.len(), 2);
        let h = &hs[1];
        let del = h.lines.iter().find(|l| l.tag == Tag::Delete).unwrap();
        let ins = h.lines.iter().find(|l| l.tag == Tag::Insert).unwrap();
        assert_eq!(&del.text[del.emph[0].0..del.emph[0].1], "v10");
        assert_eq!(&ins.text[ins.emph[0].0..ins.emph[0].1], "changed");
        assert_eq!(
            h.lines.iter().filter(|l| l.tag == Tag::Equal).count(),
            4,
            "two lines of context each side"
        );
        let u = unified("live", "desired", &hs);
        assert!(u.contains("@@ -9,5 +8,5 @@"), "{u}");
        assert!(u.contains("-k10: v10\n+k10: changed\n"));
    }

    #[test]
    fn identical_texts_have_no_hunks() {
        assert!(hunks("a\nb\n", "a\nb\n", 3).is_empty());
    }
}
