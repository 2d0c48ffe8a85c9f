//! The diff screen's state and its rows: per-resource sections that fold, hunks with folded
//! context markers, unified or side-by-side. Pure data; `update` moves through it and `ui::diff`
//! draws it.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use crate::diff::ResourceDiff;
use crate::diff::compute::{self, Hunk, Tag};
use crate::diff::highlight::LineToks;
use crate::model::fleet::AppKey;

use super::Load;

/// Context lines shown around each change.
pub const CONTEXT: usize = 3;

/// One resource's diff, rendered for the screen (computed off the event loop).
#[derive(Debug, Clone, PartialEq)]
pub struct DiffDoc {
    pub diff: ResourceDiff,
    pub old: Arc<Vec<String>>,
    pub new: Arc<Vec<String>>,
    pub hunks: Vec<Hunk>,
    /// Syntax tokens per line where highlighted (off the event loop): the hunks first, folded
    /// context when it is opened.
    pub old_toks: Vec<Option<LineToks>>,
    pub new_toks: Vec<Option<LineToks>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Old,
    New,
}

/// A region of one side of one document to highlight.
#[derive(Debug, Clone, PartialEq)]
pub struct HighlightJob {
    pub doc: usize,
    pub side: Side,
    pub lines: Arc<Vec<String>>,
    pub range: Range<usize>,
}

/// Highlighted lines of a job, to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Highlighted {
    pub doc: usize,
    pub side: Side,
    pub start: usize,
    pub toks: Vec<LineToks>,
}

impl HighlightJob {
    pub fn run(&self) -> Highlighted {
        Highlighted {
            doc: self.doc,
            side: self.side,
            start: self.range.start,
            toks: crate::diff::highlight::yaml_region(&self.lines, self.range.clone()),
        }
    }
}

/// The jobs that highlight every hunk of every document.
pub fn hunk_jobs(docs: &[DiffDoc]) -> Vec<HighlightJob> {
    let mut jobs = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        for h in &d.hunks {
            let old = h.old_start.saturating_sub(1)..(h.old_start.saturating_sub(1) + h.old_len);
            let new = h.new_start.saturating_sub(1)..(h.new_start.saturating_sub(1) + h.new_len);
            if !old.is_empty() {
                jobs.push(HighlightJob {
                    doc: i,
                    side: Side::Old,
                    lines: d.old.clone(),
                    range: old,
                });
            }
            if !new.is_empty() {
                jobs.push(HighlightJob {
                    doc: i,
                    side: Side::New,
                    lines: d.new.clone(),
                    range: new,
                });
            }
        }
    }
    jobs
}

impl DiffDoc {
    /// Stores highlighted lines.
    pub fn store(&mut self, h: Highlighted) {
        let slots = match h.side {
            Side::Old => &mut self.old_toks,
            Side::New => &mut self.new_toks,
        };
        for (k, t) in h.toks.into_iter().enumerate() {
            if let Some(s) = slots.get_mut(h.start + k) {
                *s = Some(t);
            }
        }
    }
}

impl DiffDoc {
    pub fn new(diff: ResourceDiff) -> DiffDoc {
        let (old, new) = diff.yaml();
        let hunks = compute::hunks(&old, &new, CONTEXT);
        let old: Vec<String> = old.lines().map(str::to_string).collect();
        let new: Vec<String> = new.lines().map(str::to_string).collect();
        DiffDoc {
            diff,
            old_toks: vec![None; old.len()],
            new_toks: vec![None; new.len()],
            old: Arc::new(old),
            new: Arc::new(new),
            hunks,
        }
    }

    /// Whether the resource is worth showing by default: modified, missing or extra.
    pub fn drifted(&self) -> bool {
        self.diff.modified || self.diff.live.is_none() || self.diff.desired.is_none()
    }

    /// The unified diff text of this resource.
    pub fn unified(&self) -> String {
        let id = self.diff.id.label().replace(' ', "/");
        if self.hunks.is_empty() {
            return String::new();
        }
        compute::unified(&format!("live/{id}"), &format!("desired/{id}"), &self.hunks)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Unified,
    Split,
}

/// A context fold: `count` unchanged lines starting at `old`/`new` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    pub doc: usize,
    /// Which gap of the document (0: before the first hunk).
    pub gap: usize,
    pub old: usize,
    pub new: usize,
    pub count: usize,
}

/// A row of the diff screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Header(usize),
    /// "No difference in the rendered YAML" under a header.
    Empty(usize),
    Fold(Fold),
    /// Unified: a hunk line.
    Line {
        doc: usize,
        hunk: usize,
        line: usize,
    },
    /// Unchanged line from an unfolded gap: old and new 0-based indices.
    Context {
        doc: usize,
        old: usize,
        new: usize,
    },
    /// Side by side: hunk line indices for the left (old) and right (new) side.
    Pair {
        doc: usize,
        hunk: usize,
        left: Option<usize>,
        right: Option<usize>,
    },
}

impl Row {
    pub fn doc(&self) -> usize {
        match *self {
            Row::Header(d) | Row::Empty(d) => d,
            Row::Fold(f) => f.doc,
            Row::Line { doc, .. } | Row::Context { doc, .. } | Row::Pair { doc, .. } => doc,
        }
    }
    pub fn hunk(&self) -> Option<usize> {
        match *self {
            Row::Line { hunk, .. } | Row::Pair { hunk, .. } => Some(hunk),
            _ => None,
        }
    }
}

/// The diff screen.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffScreen {
    pub key: AppKey,
    pub req: u64,
    pub docs: Load<Vec<DiffDoc>>,
    pub view: View,
    /// Folded (collapsed) resources.
    pub folded: HashSet<usize>,
    /// Context gaps the user unfolded: (doc, gap).
    pub expanded: HashSet<(usize, usize)>,
    /// Show resources in sync too.
    pub all: bool,
    pub cursor: usize,
    pub offset: usize,
    /// The app changed since the diff was computed.
    pub stale: bool,
}

impl DiffScreen {
    pub fn new(key: AppKey, req: u64) -> DiffScreen {
        DiffScreen {
            key,
            req,
            docs: Load::Loading,
            view: View::Unified,
            folded: HashSet::new(),
            expanded: HashSet::new(),
            all: false,
            cursor: 0,
            offset: 0,
            stale: false,
        }
    }

    /// The documents shown (drifted ones unless `all`).
    pub fn shown(&self) -> Vec<usize> {
        match &self.docs {
            Load::Ready(d) => (0..d.len())
                .filter(|&i| self.all || d[i].drifted())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every row, in order.
    pub fn rows(&self) -> Vec<Row> {
        let Load::Ready(docs) = &self.docs else {
            return Vec::new();
        };
        let mut rows = Vec::new();
        for i in self.shown() {
            let d = &docs[i];
            rows.push(Row::Header(i));
            if self.folded.contains(&i) {
                continue;
            }
            if d.hunks.is_empty() {
                // Identical renderings: the whole object as one fold the user can open.
                if d.old.is_empty() {
                    rows.push(Row::Empty(i));
                } else {
                    self.gap(&mut rows, i, 0, 0, 0, d.old.len());
                }
                continue;
            }
            let (mut old_at, mut new_at) = (0usize, 0usize);
            for (hi, h) in d.hunks.iter().enumerate() {
                let start_old = h.old_start.saturating_sub(1);
                let start_new = h.new_start.saturating_sub(1);
                // A hunk of pure insertions into an empty old text starts at 0.
                let start_old = if h.old_len == 0 {
                    h.old_start
                } else {
                    start_old
                };
                let start_new = if h.new_len == 0 {
                    h.new_start
                } else {
                    start_new
                };
                let gap = start_old.saturating_sub(old_at);
                self.gap(&mut rows, i, hi, old_at, new_at, gap);
                match self.view {
                    View::Unified => {
                        for li in 0..h.lines.len() {
                            rows.push(Row::Line {
                                doc: i,
                                hunk: hi,
                                line: li,
                            });
                        }
                    }
                    View::Split => pair_rows(&mut rows, i, hi, h),
                }
                old_at = start_old + h.old_len;
                new_at = start_new + h.new_len;
            }
            let tail = d.old.len().saturating_sub(old_at);
            self.gap(&mut rows, i, d.hunks.len(), old_at, new_at, tail);
        }
        rows
    }

    fn gap(
        &self,
        rows: &mut Vec<Row>,
        doc: usize,
        gap: usize,
        old: usize,
        new: usize,
        count: usize,
    ) {
        if count == 0 {
            return;
        }
        if self.expanded.contains(&(doc, gap)) {
            for k in 0..count {
                rows.push(Row::Context {
                    doc,
                    old: old + k,
                    new: new + k,
                });
            }
        } else {
            rows.push(Row::Fold(Fold {
                doc,
                gap,
                old,
                new,
                count,
            }));
        }
    }
}

/// Side by side: deletions on the left paired with the insertions that follow on the right.
fn pair_rows(rows: &mut Vec<Row>, doc: usize, hunk: usize, h: &Hunk) {
    let mut i = 0;
    while i < h.lines.len() {
        match h.lines[i].tag {
            Tag::Equal => {
                rows.push(Row::Pair {
                    doc,
                    hunk,
                    left: Some(i),
                    right: Some(i),
                });
                i += 1;
            }
            _ => {
                let dels: Vec<usize> = (i..h.lines.len())
                    .take_while(|&k| h.lines[k].tag == Tag::Delete)
                    .collect();
                let after = i + dels.len();
                let ins: Vec<usize> = (after..h.lines.len())
                    .take_while(|&k| h.lines[k].tag == Tag::Insert)
                    .collect();
                for k in 0..dels.len().max(ins.len()) {
                    rows.push(Row::Pair {
                        doc,
                        hunk,
                        left: dels.get(k).copied(),
                        right: ins.get(k).copied(),
                    });
                }
                i = after + ins.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{Normalizer, diff};
    use serde_json::json;

    fn doc(n: usize, changed: &[usize]) -> DiffDoc {
        let mut a = serde_json::Map::new();
        let mut b = serde_json::Map::new();
        for i in 0..n {
            a.insert(format!("k{i:03}"), json!(format!("v{i}")));
            b.insert(
                format!("k{i:03}"),
                json!(if changed.contains(&i) {
                    format!("w{i}")
                } else {
                    format!("v{i}")
                }),
            );
        }
        let live =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": a});
        let desired =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": b});
        DiffDoc::new(diff(Some(&desired), Some(&live), &Normalizer::default()).unwrap())
    }

    fn screen(docs: Vec<DiffDoc>) -> DiffScreen {
        let mut s = DiffScreen::new(
            AppKey {
                instance: 0,
                namespace: String::new(),
                name: "a".into(),
            },
            1,
        );
        s.docs = Load::Ready(docs);
        s
    }

    #[test]
    fn folds_between_hunks_and_expansion() {
        let s = screen(vec![doc(60, &[10, 40])]);
        let rows = s.rows();
        let folds: Vec<Fold> = rows
            .iter()
            .filter_map(|r| if let Row::Fold(f) = r { Some(*f) } else { None })
            .collect();
        assert_eq!(
            folds.len(),
            3,
            "before, between and after the two hunks: {rows:?}"
        );
        let total_lines = s.docs.ready().unwrap()[0].old.len();
        let shown_old: usize = rows
            .iter()
            .filter_map(|r| match r {
                Row::Line { doc, hunk, line } => {
                    let l = &s.docs.ready().unwrap()[*doc].hunks[*hunk].lines[*line];
                    (l.tag != Tag::Insert).then_some(1)
                }
                _ => None,
            })
            .sum();
        assert_eq!(
            shown_old + folds.iter().map(|f| f.count).sum::<usize>(),
            total_lines,
            "every old line is shown or folded"
        );
        let mut s2 = s.clone();
        s2.expanded.insert((0, 1));
        assert!(s2.rows().iter().any(|r| matches!(r, Row::Context { .. })));
        let mut s3 = s.clone();
        s3.folded.insert(0);
        assert_eq!(s3.rows(), vec![Row::Header(0)]);
    }

    #[test]
    fn side_by_side_pairs_changes() {
        let mut s = screen(vec![doc(10, &[5])]);
        s.view = View::Split;
        let pairs: Vec<Row> = s
            .rows()
            .into_iter()
            .filter(|r| {
                matches!(
                    r,
                    Row::Pair {
                        left: Some(_),
                        right: Some(_),
                        ..
                    }
                )
            })
            .collect();
        assert!(!pairs.is_empty());
        let d = &s.docs.ready().unwrap()[0];
        let changed = pairs.iter().find(|r| matches!(r, Row::Pair { hunk, left: Some(l), .. } if d.hunks[*hunk].lines[*l].tag == Tag::Delete)).unwrap();
        if let Row::Pair {
            hunk,
            right: Some(r),
            ..
        } = changed
        {
            assert_eq!(d.hunks[*hunk].lines[*r].tag, Tag::Insert);
        }
    }

    #[test]
    fn in_sync_resources_hide_unless_all() {
        let mut s = screen(vec![doc(5, &[]), doc(5, &[1])]);
        assert_eq!(s.shown(), vec![1]);
        s.all = true;
        assert_eq!(s.shown(), vec![0, 1]);
        assert!(
            s.rows()
                .iter()
                .any(|r| matches!(r, Row::Fold(f) if f.doc == 0 && f.old == 0)),
            "an in-sync object is one fold"
        );
    }
}
