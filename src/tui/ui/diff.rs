//! The diff screen: per-resource sections with a summary line, hunks with syntax colours and
//! changed words emphasized, folded context markers, unified or side by side.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use unicode_width::UnicodeWidthChar;

use super::{Piece, flash_piece, hints, layout, pending_hint, put, put_pieces, status_bar};
use crate::diff::compute::{Line, Tag};
use crate::diff::highlight::LineToks;
use crate::tui::action::Action;
use crate::tui::diffview::{DiffDoc, DiffScreen, Row, View};
use crate::tui::keymap::{KeyMode, Keymap};
use crate::tui::model::{Load, Model};
use crate::tui::theme::Theme;

pub fn draw(buf: &mut Buffer, m: &Model, d: &DiffScreen, theme: &Theme, km: &Keymap) {
    let l = layout::diff(m.size);
    title(buf, l.title, m, d, theme);
    match &d.docs {
        Load::Loading => {
            put(
                buf,
                2,
                l.body.y + 1,
                "Computing the diff…",
                l.body.width as usize,
                theme.style("text.dim"),
            );
        }
        Load::Failed(e) => {
            put(
                buf,
                2,
                l.body.y + 1,
                &format!("Cannot compute the diff: {e}"),
                l.body.width as usize - 2,
                theme.style("error"),
            );
        }
        Load::Ready(docs) => {
            let rows = d.rows();
            if rows.is_empty() {
                let total = docs.len();
                let msg = if total == 0 {
                    "This application manages no resources.".to_string()
                } else {
                    if total == 1 {
                        "The one resource matches Git. Press a to show it anyway.".to_string()
                    } else {
                        format!("All {total} resources match Git. Press a to show them anyway.")
                    }
                };
                put(
                    buf,
                    2,
                    l.body.y + 1,
                    &msg,
                    l.body.width as usize,
                    theme.style("text.dim"),
                );
            }
            for (i, row) in rows
                .iter()
                .enumerate()
                .skip(d.offset)
                .take(l.body.height as usize)
            {
                let y = l.body.y + (i - d.offset) as u16;
                let area = Rect {
                    y,
                    height: 1,
                    ..l.body
                };
                draw_row(buf, area, m, d, docs, row, i == d.cursor, theme);
            }
        }
    }
    let left = if m.pending.is_empty() {
        hints(
            km,
            KeyMode::Diff,
            &[
                (Action::NextHunk, "next change"),
                (Action::NextResource, "next resource"),
                (Action::ToggleFold, "fold"),
                (Action::ToggleView, "split"),
                (Action::CopyHunk, "copy"),
                (Action::OpenPager, "pager"),
                (Action::Back, "back"),
            ],
            theme,
        )
    } else {
        pending_hint(m, theme)
    };
    let right: Vec<Piece> = match flash_piece(m, theme) {
        Some(p) => vec![p],
        None => vec![(
            format!(" {} ", m.instance_name(d.key.instance)),
            theme.style("bar.desc"),
        )],
    };
    status_bar(buf, l.status, &left, &right, theme);
}

fn title(buf: &mut Buffer, area: Rect, m: &Model, d: &DiffScreen, theme: &Theme) {
    let mut p: Vec<Piece> = vec![
        (" Diff ".into(), theme.style("title")),
        (format!(" {}", d.key.name), theme.style("text")),
        (
            format!(" on {}", m.instance_name(d.key.instance)),
            theme.style("text.dim"),
        ),
    ];
    if let Load::Ready(docs) = &d.docs {
        let drifted = docs.iter().filter(|x| x.drifted()).count();
        p.push((
            if docs.len() == 1 {
                format!("   {drifted} of 1 resource differs")
            } else {
                format!("   {drifted} of {} resources differ", docs.len())
            },
            theme.style("diff.summary"),
        ));
        if d.all {
            p.push(("  (showing all)".into(), theme.style("text.dim")));
        }
    }
    let view = match d.view {
        View::Unified => "unified",
        View::Split => "side by side",
    };
    p.push((format!("   {view}"), theme.style("text.dim")));
    if d.stale {
        p.push((
            "   the app changed since: ctrl-r recomputes".into(),
            theme.style("warning"),
        ));
    }
    put_pieces(buf, area, &p);
}

#[allow(clippy::too_many_arguments)]
fn draw_row(
    buf: &mut Buffer,
    area: Rect,
    m: &Model,
    d: &DiffScreen,
    docs: &[DiffDoc],
    row: &Row,
    selected: bool,
    theme: &Theme,
) {
    let cursor = if selected {
        if m.symbols.ascii { ">" } else { "▌" }
    } else {
        " "
    };
    put(buf, area.x, area.y, cursor, 1, theme.style("border.focus"));
    let inner = Rect {
        x: area.x + 1,
        width: area.width.saturating_sub(1),
        ..area
    };
    match *row {
        Row::Header(i) => {
            let doc = &docs[i];
            let sym = m.symbols;
            let fold = if d.folded.contains(&i) {
                if sym.ascii { "+ " } else { "▸ " }
            } else if sym.ascii {
                "- "
            } else {
                "▾ "
            };
            let (badge, role) = match (&doc.diff.live, &doc.diff.desired) {
                (None, Some(_)) => ("missing live".to_string(), "health.missing"),
                (Some(_), None) => ("not in Git".to_string(), "warning"),
                _ if doc.diff.modified => (
                    format!(
                        "{} modified",
                        sym.sync(crate::model::status::Sync::OutOfSync)
                    ),
                    "sync.outofsync",
                ),
                _ => (
                    format!("{} in sync", sym.sync(crate::model::status::Sync::Synced)),
                    "sync.synced",
                ),
            };
            let base = if selected {
                theme.selected("diff.header")
            } else {
                theme.style("diff.header")
            };
            buf.set_style(inner, base);
            let p: Vec<Piece> = vec![
                (fold.into(), base),
                (doc.diff.id.label(), base),
                ("  ".into(), base),
                (badge, theme.style(role)),
                ("   ".into(), base),
                (
                    doc.diff.summary(m.now_ms / 1000),
                    theme.style("diff.summary"),
                ),
            ];
            put_pieces(buf, inner, &p);
        }
        Row::Empty(i) => {
            let msg = if docs[i].diff.modified {
                "differs only in fields the diff hides (managed fields, resource version)"
            } else {
                "nothing to show"
            };
            put(
                buf,
                inner.x + 4,
                inner.y,
                msg,
                inner.width as usize,
                theme.style("text.dim"),
            );
        }
        Row::Fold(f) => {
            let dots = if m.symbols.ascii { "..." } else { "⋯" };
            let text = format!(
                "{dots} {} unchanged line{} {dots}",
                f.count,
                if f.count == 1 { "" } else { "s" }
            );
            let st = if selected {
                theme.selected("diff.fold")
            } else {
                theme.style("diff.fold")
            };
            put(
                buf,
                inner.x + 11,
                inner.y,
                &text,
                inner.width.saturating_sub(11) as usize,
                st,
            );
        }
        Row::Line { doc, hunk, line } => {
            let dd = &docs[doc];
            let l = &dd.hunks[hunk].lines[line];
            unified_line(buf, inner, dd, l, selected, theme);
        }
        Row::Context { doc, old, new } => {
            let dd = &docs[doc];
            let l = Line {
                tag: Tag::Equal,
                old: Some(old + 1),
                new: Some(new + 1),
                text: dd.old.get(old).cloned().unwrap_or_default(),
                emph: vec![],
            };
            unified_line(buf, inner, dd, &l, selected, theme);
        }
        Row::Pair {
            doc,
            hunk,
            left,
            right,
        } => {
            let dd = &docs[doc];
            let h = &dd.hunks[hunk];
            let half = inner.width / 2;
            let lrect = Rect {
                width: half.saturating_sub(1),
                ..inner
            };
            let rrect = Rect {
                x: inner.x + half + 1,
                width: inner.width - half - 1,
                ..inner
            };
            put(
                buf,
                inner.x + half.saturating_sub(1),
                inner.y,
                if m.symbols.ascii { "|" } else { "│" },
                1,
                theme.style("border"),
            );
            match left {
                Some(i) => side_line(buf, lrect, dd, &h.lines[i], true, selected, theme),
                None => filler(buf, lrect, theme),
            }
            match right {
                Some(i) => side_line(buf, rrect, dd, &h.lines[i], false, selected, theme),
                None => filler(buf, rrect, theme),
            }
        }
    }
}

fn filler(buf: &mut Buffer, area: Rect, theme: &Theme) {
    buf.set_style(area, theme.style("text.dim"));
}

fn roles(tag: Tag) -> (&'static str, &'static str, &'static str, &'static str) {
    // (marker, line background, emphasis, marker text)
    match tag {
        Tag::Equal => ("text.dim", "text", "text", " "),
        Tag::Delete => (
            "diff.removed",
            "diff.removed.line",
            "diff.removed.emph",
            "-",
        ),
        Tag::Insert => ("diff.added", "diff.added.line", "diff.added.emph", "+"),
    }
}

fn toks_of<'a>(d: &'a DiffDoc, l: &Line) -> Option<&'a LineToks> {
    match l.tag {
        Tag::Insert => l
            .new
            .and_then(|n| d.new_toks.get(n - 1))
            .and_then(Option::as_ref),
        _ => l
            .old
            .and_then(|n| d.old_toks.get(n - 1))
            .and_then(Option::as_ref),
    }
}

/// A line of the unified view: both line numbers in the gutter.
fn unified_line(
    buf: &mut Buffer,
    area: Rect,
    d: &DiffDoc,
    l: &Line,
    selected: bool,
    theme: &Theme,
) {
    let num = |n: Option<usize>| {
        n.map(|n| format!("{n:>4}"))
            .unwrap_or_else(|| "    ".into())
    };
    let g = format!("{} {} ", num(l.old), num(l.new));
    diff_line(buf, area, d, l, &g, selected, theme);
}

/// A line of one side of the split view: that side's line number in the gutter.
fn side_line(
    buf: &mut Buffer,
    area: Rect,
    d: &DiffDoc,
    l: &Line,
    left: bool,
    selected: bool,
    theme: &Theme,
) {
    let n = if left { l.old } else { l.new };
    let g = n
        .map(|n| format!("{n:>4} "))
        .unwrap_or_else(|| "     ".into());
    diff_line(buf, area, d, l, &g, selected, theme);
}

/// A diff line after its gutter `g`: the line's background, its marker, then the code.
fn diff_line(
    buf: &mut Buffer,
    area: Rect,
    d: &DiffDoc,
    l: &Line,
    g: &str,
    selected: bool,
    theme: &Theme,
) {
    let (marker_role, line_role, emph_role, mark) = roles(l.tag);
    let gutter = if selected {
        theme.selected("diff.gutter")
    } else {
        theme.style("diff.gutter")
    };
    put(buf, area.x, area.y, g, g.len(), gutter);
    let line_bg = theme.style(line_role).bg;
    let rest = Rect {
        x: area.x + g.len() as u16,
        width: area.width.saturating_sub(g.len() as u16),
        ..area
    };
    buf.set_style(
        rest,
        Style {
            bg: line_bg,
            ..Style::default()
        },
    );
    put(
        buf,
        rest.x,
        rest.y,
        mark,
        1,
        theme.style(marker_role).patch(Style {
            bg: line_bg,
            ..Style::default()
        }),
    );
    let code = Rect {
        x: rest.x + 1,
        width: rest.width.saturating_sub(1),
        ..rest
    };
    code_text(
        buf,
        code,
        &l.text,
        toks_of(d, l),
        &l.emph,
        line_bg,
        theme.style(emph_role),
        theme,
    );
}

/// Draws a line of YAML: syntax colours when known, the line's background, emphasized ranges;
/// cut with `…` when too wide. Styles are resolved once per segment, not per character.
#[allow(clippy::too_many_arguments)]
fn code_text(
    buf: &mut Buffer,
    area: Rect,
    text: &str,
    toks: Option<&LineToks>,
    emph: &[(usize, usize)],
    bg: Option<ratatui::style::Color>,
    emph_style: Style,
    theme: &Theme,
) {
    let width = area.width as usize;
    let total: usize = text
        .chars()
        .map(|c| if c == '\t' { 1 } else { c.width().unwrap_or(0) })
        .sum();
    let mut x = area.x;
    let mut used = 0usize;
    for seg in crate::diff::highlight::segments(text, toks, emph) {
        let mut style = match seg.tok {
            Some(t) => theme.style(t.role()),
            None => theme.style("syntax.plain"),
        };
        style.bg = bg.or(style.bg);
        if seg.emph {
            style = style.patch(emph_style);
        }
        for c in text[seg.range].chars() {
            let (glyph, cw) = if c == '\t' {
                (' ', 1)
            } else {
                (c, c.width().unwrap_or(0))
            };
            if cw == 0 {
                continue;
            }
            if total > width && used + cw >= width {
                put(buf, x, area.y, "…", 1, style);
                return;
            }
            let mut tmp = [0u8; 4];
            put(buf, x, area.y, glyph.encode_utf8(&mut tmp), cw, style);
            x += cw as u16;
            used += cw;
        }
    }
}
