//! The diff screen: opening it, hunks, folds, views, copying and the pager.

use super::*;

/// Opens the diff screen of `key`, remembering the app screen to return to.
pub fn open_diff(m: &mut Model, key: AppKey, back: Option<Box<AppScreen>>) -> Vec<Effect> {
    let req = m.req();
    m.screen = Screen::Diff(
        Box::new(crate::tui::diffview::DiffScreen::new(key.clone(), req)),
        back,
    );
    vec![Effect::FetchDiff { req, key }]
}

pub(super) fn diff_act(m: &mut Model, a: Action) -> Vec<Effect> {
    use crate::tui::diffview::Row;
    let page = ui::layout::diff_page(m.size);
    let Screen::Diff(d, back) = &mut m.screen else {
        return vec![];
    };
    let rows = d.rows();
    let len = rows.len();
    let no_docs = Vec::new();
    let docs: &Vec<crate::tui::diffview::DiffDoc> = match &d.docs {
        Load::Ready(v) => v,
        _ => &no_docs,
    };
    let cur_doc = rows.get(d.cursor).map(Row::doc);
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::Back => {
            let fx = vec![Effect::Cancel(d.req)];
            m.screen = match back.take() {
                Some(app) => Screen::App(app),
                None => Screen::Fleet,
            };
            return fx;
        }
        a if a.moves() => {
            move_list(&mut d.cursor, &mut d.offset, len, page, a);
        }
        Action::NextHunk | Action::PrevHunk | Action::NextResource | Action::PrevResource => {
            let is_target = |i: usize| -> bool {
                match a {
                    Action::NextResource | Action::PrevResource => {
                        matches!(rows[i], Row::Header(_))
                    }
                    _ => {
                        // The first row of each hunk.
                        rows[i].hunk().is_some()
                            && (i == 0
                                || rows[i - 1].hunk() != rows[i].hunk()
                                || rows[i - 1].doc() != rows[i].doc())
                    }
                }
            };
            let found = if matches!(a, Action::NextHunk | Action::NextResource) {
                (d.cursor + 1..len).find(|&i| is_target(i))
            } else {
                (0..d.cursor).rev().find(|&i| is_target(i))
            };
            match found {
                Some(i) => {
                    d.cursor = i;
                    // Show a little context above the target.
                    d.offset = i.saturating_sub(2).min(len.saturating_sub(page.max(1)));
                    if d.cursor < d.offset {
                        d.offset = d.cursor;
                    }
                }
                None => {
                    let what = if matches!(a, Action::NextHunk | Action::PrevHunk) {
                        "change"
                    } else {
                        "resource"
                    };
                    flash(m, format!("no more {what}s that way"), false);
                }
            }
        }
        Action::ToggleFold => match rows.get(d.cursor) {
            Some(Row::Fold(f)) => {
                d.expanded.insert((f.doc, f.gap));
                // The opened lines get their colours off the event loop.
                if let Some(doc) = docs.get(f.doc) {
                    let jobs = vec![crate::tui::diffview::HighlightJob {
                        doc: f.doc,
                        side: crate::tui::diffview::Side::Old,
                        lines: doc.old.clone(),
                        range: f.old..f.old + f.count,
                    }];
                    return vec![Effect::Highlight { req: d.req, jobs }];
                }
            }
            Some(r) => {
                let doc = r.doc();
                if !d.folded.remove(&doc) {
                    d.folded.insert(doc);
                }
                // Keep the cursor on the header of the resource just folded.
                if let Some(i) = d.rows().iter().position(|r| *r == Row::Header(doc)) {
                    d.cursor = i;
                    let len = d.rows().len();
                    clamp_list(&mut d.cursor, &mut d.offset, len, page);
                }
            }
            None => {}
        },
        Action::ToggleView => {
            d.view = match d.view {
                crate::tui::diffview::View::Unified => crate::tui::diffview::View::Split,
                crate::tui::diffview::View::Split => crate::tui::diffview::View::Unified,
            };
            // Stay on the same resource.
            if let Some(doc) = cur_doc {
                d.cursor = d
                    .rows()
                    .iter()
                    .position(|r| *r == Row::Header(doc))
                    .unwrap_or(0);
                d.offset = d.cursor;
            }
        }
        Action::ToggleAll => {
            d.all = !d.all;
            d.cursor = 0;
            d.offset = 0;
        }
        Action::CopyHunk => {
            let Some(row) = rows.get(d.cursor) else {
                return vec![];
            };
            let doc = &docs[row.doc()];
            let text = match row.hunk() {
                Some(h) => {
                    let id = doc.diff.id.label().replace(' ', "/");
                    crate::diff::compute::unified(
                        &format!("live/{id}"),
                        &format!("desired/{id}"),
                        std::slice::from_ref(&doc.hunks[h]),
                    )
                }
                None => doc.unified(),
            };
            if text.is_empty() {
                flash(m, "nothing to copy here".into(), false);
                return vec![];
            }
            let n = text.lines().count();
            flash(m, format!("copied {n} lines to the clipboard"), false);
            // Names and values from others: shown visibly, never pasted or paged raw.
            return vec![Effect::Clipboard(crate::term::clean(&text).into_owned())];
        }
        Action::CopyDiff | Action::OpenPager => {
            let text: String = d.shown().iter().map(|&i| docs[i].unified()).collect();
            // Names and values from others: shown visibly, never pasted or paged raw.
            let text = crate::term::clean(&text).into_owned();
            if text.is_empty() {
                flash(m, "no difference to show".into(), false);
                return vec![];
            }
            if a == Action::CopyDiff {
                let n = text.lines().count();
                flash(
                    m,
                    format!("copied the diff ({n} lines) to the clipboard"),
                    false,
                );
                return vec![Effect::Clipboard(text)];
            }
            return vec![Effect::Pager(text)];
        }
        Action::ExternalDiff => {
            let Some(doc) = cur_doc.and_then(|i| docs.get(i)) else {
                return vec![];
            };
            return vec![Effect::ExternalDiff {
                name: doc.diff.id.label().replace(['/', ' '], "_"),
                live: doc.old.join("\n") + "\n",
                desired: doc.new.join("\n") + "\n",
            }];
        }
        Action::Reload => {
            let key = d.key.clone();
            let old = d.req;
            let req = m.req();
            if let Screen::Diff(d, _) = &mut m.screen {
                d.req = req;
                d.docs = Load::Loading;
            }
            return vec![Effect::Cancel(old), Effect::FetchDiff { req, key }];
        }
        _ => {}
    }
    vec![]
}
