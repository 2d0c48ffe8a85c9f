//! Overlays: the help (generated from the loaded keymap) and the facet picker.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, BorderType, Borders, Clear, Widget};

use super::{layout, pad, put, selection_bar};
use crate::model::filter::Facet;
use crate::tui::keymap::{KeyMode, Keymap};
use crate::tui::model::{FacetItem, FacetPicker, Model, Screen};
use crate::tui::theme::Theme;

fn frame(buf: &mut Buffer, area: Rect, title: &str, theme: &Theme, ascii: bool) -> Rect {
    Clear.render(area, buf);
    buf.set_style(area, theme.style("text"));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if ascii {
            BorderType::Plain
        } else {
            BorderType::Rounded
        })
        .border_style(theme.style("border.focus"))
        .title(format!(" {title} "))
        .title_style(theme.style("title"));
    let inner = block.inner(area);
    block.render(area, buf);
    // Under --ascii, `ui::to_ascii` turns the borders into - | +.
    inner
}

/// The lines of the help: every binding of the modes that matter here, from the keymap.
pub fn help_lines(m: &Model, km: &Keymap) -> Vec<(String, String, bool)> {
    let here = match m.screen {
        Screen::Fleet => KeyMode::Fleet,
        Screen::App(_) => KeyMode::App,
        Screen::Diff(..) => KeyMode::Diff,
        Screen::Queue(_) => KeyMode::Queue,
        Screen::Shadow(_) => KeyMode::Report,
        Screen::AppSets(_) | Screen::Versions(_) | Screen::Dora(_) => KeyMode::Views,
        Screen::Logs(_) => KeyMode::Logs,
    };
    let mut out = Vec::new();
    for mode in [
        here,
        KeyMode::Global,
        KeyMode::Dialog,
        KeyMode::Filter,
        KeyMode::Facets,
    ] {
        let b = km.bindings(mode);
        if b.is_empty() {
            continue;
        }
        let title = match mode {
            KeyMode::Fleet => "Fleet",
            KeyMode::App => "Application",
            KeyMode::Diff => "Diff",
            KeyMode::Global => "Everywhere",
            KeyMode::Filter => "Typing a filter",
            KeyMode::Facets => "Facet picker",
            KeyMode::Help => "Help",
            KeyMode::Queue => "Drift queue",
            KeyMode::Report => "Shadow report",
            KeyMode::Views => "ApplicationSets and versions",
            KeyMode::Logs => "A followed log",
            KeyMode::Dialog => "A dialog (plan, confirmation, form)",
            KeyMode::Command => "The command line (:)",
        };
        out.push((title.to_string(), String::new(), true));
        for (action, keys) in b {
            out.push((keys.join(", "), action.description().to_string(), false));
        }
        out.push((String::new(), String::new(), false));
    }
    out.push((
        "Commands (: opens the command line; tab completes)".into(),
        String::new(),
        true,
    ));
    for c in crate::tui::command::COMMANDS {
        let arg = match c.arg {
            crate::tui::command::Arg::None => "",
            crate::tui::command::Arg::Theme => " NAME",
            _ => " [NAME]",
        };
        let mut names = format!(":{}{arg}", c.name);
        if let Some(a) = c.aliases.first() {
            names.push_str(&format!(", :{a}"));
        }
        out.push((names, c.help.to_string(), false));
    }
    out.push((String::new(), String::new(), false));
    out.push(("Filter syntax".into(), String::new(), true));
    out.push((
        "text".into(),
        "words that must appear in name, cluster, project, namespace, instance or env".into(),
        false,
    ));
    out.push((
        "key:a,b".into(),
        "a facet: OR within, AND across (status:OutOfSync,Degraded env:prod)".into(),
        false,
    ));
    out.push((
        "facets".into(),
        "status sync health op env instance cluster project ns auto; is:attention; * wildcards"
            .into(),
        false,
    ));
    out
}

/// The help's width and the key column's.
const HELP_W: u16 = 92;
const HELP_KEYS: usize = 18;

/// One screen row of the help: a section title, or keys with (a wrapped part of) their text.
#[derive(Debug, Clone, PartialEq)]
pub enum HelpRow {
    Section(String),
    Keys(String, String),
}

/// The help's box at a screen size.
pub fn help_area(size: (u16, u16), rows: usize) -> Rect {
    layout::overlay(size, HELP_W, rows as u16 + 2)
}

/// The help's rows at a screen size: long descriptions wrap under their own column instead of
/// being cut, so every word of the help can be read at 80 columns.
pub fn help_rows(m: &Model, km: &Keymap) -> Vec<HelpRow> {
    let inner_w = layout::overlay(m.size, HELP_W, 3).width.saturating_sub(2) as usize;
    let dw = inner_w.saturating_sub(HELP_KEYS + 4).max(12);
    let mut out = Vec::new();
    for (keys, desc, section) in help_lines(m, km) {
        if section {
            out.push(HelpRow::Section(keys));
            continue;
        }
        let parts = super::wrap(&desc, dw);
        // Keys longer than their column get a row of their own, the text below them.
        if super::str_width(&keys) > HELP_KEYS {
            out.push(HelpRow::Keys(keys, String::new()));
            out.extend(parts.into_iter().map(|d| HelpRow::Keys(String::new(), d)));
            continue;
        }
        if parts.is_empty() {
            out.push(HelpRow::Keys(keys.clone(), String::new()));
        }
        for (i, part) in parts.into_iter().enumerate() {
            let k = if i == 0 { keys.clone() } else { String::new() };
            out.push(HelpRow::Keys(k, part));
        }
    }
    out
}

/// How far the help can scroll at the current size.
pub fn help_max_scroll(m: &Model, km: &Keymap) -> usize {
    let rows = help_rows(m, km);
    let inner = help_area(m.size, rows.len()).height.saturating_sub(2) as usize;
    rows.len().saturating_sub(inner)
}

pub fn help(buf: &mut Buffer, m: &Model, scroll: usize, theme: &Theme, km: &Keymap) {
    let rows = help_rows(m, km);
    let area = help_area(m.size, rows.len());
    let inner = frame(buf, area, "Keys  (esc closes)", theme, m.symbols.ascii);
    let kw = HELP_KEYS;
    let max_scroll = rows.len().saturating_sub(inner.height as usize);
    for (i, row) in rows
        .iter()
        .skip(scroll.min(max_scroll))
        .take(inner.height as usize)
        .enumerate()
    {
        let y = inner.y + i as u16;
        match row {
            HelpRow::Section(title) => {
                put(
                    buf,
                    inner.x + 1,
                    y,
                    title,
                    inner.width as usize - 1,
                    theme.style("help.section"),
                );
            }
            HelpRow::Keys(keys, desc) if desc.is_empty() => {
                put(
                    buf,
                    inner.x + 2,
                    y,
                    keys,
                    (inner.width as usize).saturating_sub(3),
                    theme.style("help.key"),
                );
            }
            HelpRow::Keys(keys, desc) => {
                put(
                    buf,
                    inner.x + 2,
                    y,
                    &pad(keys, kw),
                    kw,
                    theme.style("help.key"),
                );
                put(
                    buf,
                    inner.x + 3 + kw as u16,
                    y,
                    desc,
                    (inner.width as usize).saturating_sub(kw + 4),
                    theme.style("help.desc"),
                );
            }
        }
    }
}

fn facet_title(f: Facet) -> &'static str {
    match f {
        Facet::Status => "Status",
        Facet::Sync => "Sync",
        Facet::Health => "Health",
        Facet::Op => "Operation",
        Facet::Env => "Environment",
        Facet::Instance => "Instance",
        Facet::Cluster => "Cluster",
        Facet::Project => "Project",
        Facet::Namespace => "Namespace",
        Facet::Auto => "Auto-sync",
        Facet::AppSet => "ApplicationSet",
    }
}

pub fn facets(buf: &mut Buffer, m: &Model, p: &FacetPicker, theme: &Theme, km: &Keymap) {
    let area = layout::overlay(m.size, 56, m.size.1.saturating_sub(4));
    let inner = frame(
        buf,
        area,
        "Facets: OR within, AND across",
        theme,
        m.symbols.ascii,
    );
    let page = inner.height.saturating_sub(1) as usize;
    for (row, item) in p.items.iter().enumerate().skip(p.offset).take(page) {
        let y = inner.y + (row - p.offset) as u16;
        match item {
            FacetItem::Header(f) => {
                put(
                    buf,
                    inner.x + 1,
                    y,
                    facet_title(*f),
                    inner.width as usize - 1,
                    theme.style("help.section"),
                );
            }
            FacetItem::Value {
                facet,
                value,
                count,
            } => {
                let on = p.draft.has(*facet, value);
                let sel = row == p.cursor;
                let st = |role: &str| theme.pick(role, sel);
                selection_bar(buf, inner, y, sel, theme);
                let mark = if on { "[x]" } else { "[ ]" };
                put(
                    buf,
                    inner.x + 2,
                    y,
                    mark,
                    3,
                    st(if on { "filter.facet" } else { "text.dim" }),
                );
                let w = inner.width as usize;
                put(
                    buf,
                    inner.x + 6,
                    y,
                    &pad(value, w.saturating_sub(16)),
                    w.saturating_sub(16),
                    st("text"),
                );
                let c = crate::util::thousands(*count);
                put(
                    buf,
                    inner.right().saturating_sub(c.len() as u16 + 1),
                    y,
                    &c,
                    c.len(),
                    st("text.dim"),
                );
            }
        }
    }
    let hint: Vec<String> = [
        (crate::tui::action::Action::ToggleItem, "toggle"),
        (crate::tui::action::Action::Accept, "apply"),
        (crate::tui::action::Action::ClearItems, "clear"),
        (crate::tui::action::Action::Cancel, "cancel"),
    ]
    .iter()
    .filter_map(|(a, l)| {
        km.keys_for(KeyMode::Facets, *a)
            .first()
            .map(|k| format!("{k} {l}"))
    })
    .collect();
    put(
        buf,
        inner.x + 1,
        inner.bottom() - 1,
        &hint.join("  "),
        inner.width as usize - 1,
        theme.style("text.dim"),
    );
}

/// A dialog: the plan (or form, or text), its fields, an error, the keys that answer it.
pub fn dialog(buf: &mut Buffer, m: &Model, d: &crate::tui::ops::Dialog, theme: &Theme) {
    use crate::tui::ops::{DialogKind, FieldValue};
    let (w, h) = m.size;
    let area = layout::overlay(m.size, w.saturating_sub(8).min(110), h.saturating_sub(4));
    let inner = frame(buf, area, &d.title, theme, m.symbols.ascii);
    let width = inner.width as usize;
    let mut lines: Vec<(String, &str)> = Vec::new();
    let pre = matches!(d.kind, DialogKind::Text { .. });
    for l in &d.lines {
        if pre {
            // Indentation is meaning here (YAML): cut, never re-wrapped.
            lines.push((l.clone(), "text"));
            continue;
        }
        let role = if l.starts_with("BLOCKED") || l.starts_with("PRUNE") || l.contains("DELETED") {
            "error"
        } else if l.starts_with("  prune ") || l.starts_with("WARNING") {
            "warning"
        } else {
            "text"
        };
        for wl in super::wrap(l, width.saturating_sub(2)) {
            lines.push((wl, role));
        }
    }
    let prune_step = matches!(
        d.kind,
        DialogKind::Sync {
            prune_step: true,
            ..
        }
    );
    let mut field_rows = Vec::new();
    if !prune_step {
        for (i, f) in d.fields.iter().enumerate() {
            let focus = i == d.focus;
            let text = match &f.value {
                FieldValue::Toggle(on) => format!(
                    "{} {}",
                    match (on, m.symbols.ascii) {
                        (true, _) => "[x]",
                        (false, _) => "[ ]",
                    },
                    f.label
                ),
                FieldValue::Text(t) => {
                    format!("{}: {}{}", f.label, t, if focus { "_" } else { "" })
                }
            };
            field_rows.push((text, focus));
        }
    }
    let footer = match (&d.kind, prune_step) {
        (DialogKind::Loading, _) => "esc cancel",
        (DialogKind::Info { copy: Some(_) } | DialogKind::Text { copy: Some(_) }, _) => {
            "enter copy (OSC 52) and close · esc close · pgup/pgdn scroll"
        }
        (DialogKind::Info { .. } | DialogKind::Text { .. }, _) => "esc close",
        (DialogKind::ChooseVerdict { .. }, _) => {
            "a allow · f defer · e enforce · h needs-human · esc cancel"
        }
        (_, true) => "enter DELETE and sync · esc back",
        (_, false) if d.fields.is_empty() => "enter confirm · esc cancel",
        _ => "enter confirm · esc cancel · tab/↑↓ field · space toggle · type into text fields",
    };
    // When the fields do not fit beside a few lines of the plan (a sync's options and one
    // checkbox per resource at 80×24), a window of them around the focused one shows, with a
    // marker for those above and below.
    let err = usize::from(d.error.is_some());
    let avail = (inner.height as usize).saturating_sub(2 + err + lines.len().min(6));
    if field_rows.len() > avail {
        let focus = field_rows.iter().position(|(_, f)| *f).unwrap_or(0);
        let n = field_rows.len();
        let win = avail.max(1);
        let mut start = focus.saturating_sub(win / 2).min(n - win);
        let mut end = start + win;
        let mut shown: Vec<(String, bool)> = Vec::new();
        if start > 0 && win >= 3 {
            start += 1;
            shown.push((format!("… {} more above (shift-tab)", start), false));
        }
        let below = end < n && win >= 3;
        if below {
            end -= 1;
        }
        shown.extend(field_rows[start..end].iter().cloned());
        if below {
            shown.push((format!("… {} more below (tab)", n - end), false));
        }
        field_rows = shown;
    }
    let fixed = field_rows.len() + 2 + err;
    let room = (inner.height as usize).saturating_sub(fixed);
    let scroll = d.scroll.min(lines.len().saturating_sub(room));
    let mut y = inner.y;
    for (l, role) in lines.iter().skip(scroll).take(room) {
        put(
            buf,
            inner.x + 1,
            y,
            l,
            width.saturating_sub(2),
            theme.style(role),
        );
        y += 1;
    }
    if lines.len() > room + scroll {
        // The marker takes the last row shown, so that line counts as hidden too; the row is
        // cleared first (no text of the line it replaces shows after it).
        let hidden = lines.len() + 1 - room - scroll;
        put(
            buf,
            inner.x + 1,
            y.saturating_sub(1),
            &pad(
                &format!("… {hidden} more lines (pgdn)"),
                width.saturating_sub(2),
            ),
            width.saturating_sub(2),
            theme.style("text.dim"),
        );
    }
    let mut y = (inner.y + inner.height).saturating_sub(fixed as u16);
    y += 1;
    for (text, focus) in &field_rows {
        put(
            buf,
            inner.x + 1,
            y,
            &pad(text, width.saturating_sub(2)),
            width.saturating_sub(2),
            theme.pick("text", *focus),
        );
        y += 1;
    }
    if let Some(e) = &d.error {
        put(
            buf,
            inner.x + 1,
            y,
            e,
            width.saturating_sub(2),
            theme.style("error"),
        );
        y += 1;
    }
    put(
        buf,
        inner.x + 1,
        y,
        footer,
        width.saturating_sub(2),
        theme.style("text.dim"),
    );
}

/// The operations started here: one line each above the status bar while they run, and for
/// a while after they end.
pub fn operations(buf: &mut Buffer, m: &Model, theme: &Theme) {
    if m.ops.is_empty() {
        return;
    }
    let (w, h) = m.size;
    let shown: Vec<_> = m.ops.iter().rev().take(4).collect();
    let top = h.saturating_sub(1 + shown.len() as u16);
    for (i, o) in shown.iter().rev().enumerate() {
        let y = top + i as u16;
        let (mark, role, text) = match &o.done {
            None => (
                if m.symbols.ascii { "..." } else { "⟳" },
                "warning",
                o.progress.clone(),
            ),
            Some(Ok(s)) => (
                if m.symbols.ascii { "ok" } else { "✓" },
                "success",
                s.clone(),
            ),
            Some(Err(e)) => (if m.symbols.ascii { "!!" } else { "✗" }, "error", e.clone()),
        };
        let line = format!(
            " {mark} {} {} ({}): {text}",
            o.verb,
            o.key.name,
            m.instance_name(o.key.instance)
        );
        let area = Rect {
            x: 0,
            y,
            width: w,
            height: 1,
        };
        buf.set_style(area, theme.style("text"));
        for x in 0..w {
            buf[(x, y)].set_symbol(" ");
        }
        put(buf, 0, y, &line, w as usize, theme.style(role));
    }
}
