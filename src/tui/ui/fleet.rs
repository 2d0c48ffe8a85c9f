//! The fleet screen: summary bar, instance states, filter bar, the table, the status bar.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::{
    Piece, fit, flash_piece, hints, layout, pad, pending_hint, put, put_pieces, selection_bar,
    status_bar, str_width,
};
use crate::model::fleet::AppRow;
use crate::model::status::{Health, OpPhase, Sync};
use crate::tui::action::Action;
use crate::tui::keymap::{KeyMode, Keymap};
use crate::tui::model::{Column, ConnState, FLASH_MS, Model, ViewRow};
use crate::tui::theme::Theme;
use crate::util::{count, thousands};

pub fn draw(buf: &mut Buffer, m: &Model, theme: &Theme, km: &Keymap) {
    let l = layout::fleet(m.size, layout::filter_visible(m));
    summary(buf, l.summary, m, theme);
    instances(buf, l.instances, m, theme);
    if let Some(f) = l.filter {
        filter_bar(buf, f, m, theme);
    }
    let cols = columns(m, l.header.width.saturating_sub(1) as usize);
    header(buf, l.header, m, &cols, theme);
    body(buf, l.body, m, &cols, theme);
    bottom(buf, l.status, m, theme, km);
}

pub fn sync_role(s: Sync) -> &'static str {
    match s {
        Sync::Synced => "sync.synced",
        Sync::OutOfSync => "sync.outofsync",
        Sync::Unknown => "sync.unknown",
    }
}

pub fn health_role(h: Health) -> &'static str {
    match h {
        Health::Healthy => "health.healthy",
        Health::Progressing => "health.progressing",
        Health::Degraded => "health.degraded",
        Health::Suspended => "health.suspended",
        Health::Missing => "health.missing",
        Health::Unknown => "health.unknown",
    }
}

pub fn op_role(o: OpPhase) -> &'static str {
    match o {
        OpPhase::Running => "op.running",
        OpPhase::Terminating => "op.terminating",
        OpPhase::Failed => "op.failed",
        OpPhase::Error => "op.error",
        OpPhase::Succeeded => "op.succeeded",
    }
}

/// Draws the first of `tiers` (most detailed first) that fits the width, else the last.
fn put_first_fitting(buf: &mut Buffer, area: Rect, tiers: Vec<Vec<Piece>>) {
    let width = |p: &[Piece]| p.iter().map(|(t, _)| str_width(t)).sum::<usize>();
    let n = tiers.len();
    if let Some(p) = tiers
        .into_iter()
        .enumerate()
        .find(|(i, p)| i + 1 == n || width(p) <= area.width as usize)
        .map(|(_, p)| p)
    {
        put_pieces(buf, area, &p);
    }
}

/// The summary line. When the full line does not fit, what is wrong comes first with its words
/// (out of sync, unknown, degraded, missing, progressing, suspended, attention) and what is good
/// is abbreviated to its symbol and count, then the title goes, then the spacing tightens.
fn summary(buf: &mut Buffer, area: Rect, m: &Model, theme: &Theme) {
    let tiers = (0..8).map(|t| summary_tier(m, theme, t)).collect();
    put_first_fitting(buf, area, tiers);
}

/// Tier 0: everything in its natural order; 1: what is wrong first, good states abbreviated;
/// 2: the same, tighter; 3: without the title; 4: without the title, tighter; 5: the attention
/// count without its word; 6: progressing, suspended and missing without theirs; 7: only
/// OutOfSync keeps its word (the symbols say the rest; the help lists them).
fn summary_tier(m: &Model, theme: &Theme, tier: u8) -> Vec<Piece> {
    let c = &m.view.counts;
    let s = m.symbols;
    let sep = (format!(" {} ", s.sep()), theme.style("text.dim"));
    let tight = tier == 2 || tier >= 4;
    let gap = if tight { " " } else { "  " };
    let mut p: Vec<Piece> = Vec::new();
    if tier < 3 {
        p.push((format!(" {} ", m.title), theme.style("title")));
        p.push(sep.clone());
    } else {
        p.push((" ".into(), theme.style("text")));
    }
    p.push((count(c.apps, "app"), theme.style("text")));
    p.push(sep.clone());
    let state = |sym: &str, n: usize, label: String, tight: bool| {
        if tight {
            format!("{sym}{}{label}{gap}", thousands(n))
        } else {
            format!("{sym} {}{label}{gap}", thousands(n))
        }
    };
    if tier == 0 {
        for st in Sync::ALL {
            let n = c.sync(st);
            if n > 0 || st == Sync::OutOfSync {
                p.push((
                    state(s.sync(st), n, format!(" {st}"), false),
                    theme.style(sync_role(st)),
                ));
            }
        }
        p.push(sep.clone());
        for h in Health::ALL {
            let n = c.health(h);
            if n > 0 {
                p.push((
                    state(s.health(h), n, format!(" {h}"), false),
                    theme.style(health_role(h)),
                ));
            }
        }
        p.push(sep);
        p.push((
            format!("! {} attention", thousands(c.needs_attention)),
            theme.style("warning"),
        ));
        return p;
    }
    for st in Sync::ALL.into_iter().filter(|&st| st != Sync::Synced) {
        let n = c.sync(st);
        if n > 0 || st == Sync::OutOfSync {
            let word = if tier >= 7 && st != Sync::OutOfSync {
                String::new()
            } else {
                format!(" {st}")
            };
            p.push((
                state(s.sync(st), n, word, tight),
                theme.style(sync_role(st)),
            ));
        }
    }
    for h in Health::ALL.into_iter().filter(|&h| h != Health::Healthy) {
        let n = c.health(h);
        if n > 0 {
            let word = match (tier, h) {
                (7.., _) => String::new(),
                (6, Health::Progressing | Health::Suspended | Health::Missing) => String::new(),
                (6, Health::Unknown) => " health".into(),
                _ => format!(" {h}"),
            };
            p.push((
                state(s.health(h), n, word, tight),
                theme.style(health_role(h)),
            ));
        }
    }
    p.push((
        format!(
            "!{}{}{}",
            if tight { "" } else { " " },
            thousands(c.needs_attention),
            if tier >= 5 { "" } else { " attention" }
        ),
        theme.style("warning"),
    ));
    p.push(sep);
    p.push((
        state(
            s.sync(Sync::Synced),
            c.sync(Sync::Synced),
            String::new(),
            tight,
        ),
        theme.style(sync_role(Sync::Synced)),
    ));
    p.push((
        state(
            s.health(Health::Healthy),
            c.health(Health::Healthy),
            String::new(),
            tight,
        ),
        theme.style(health_role(Health::Healthy)),
    ));
    p
}

/// The instances line: every instance with its state; when it does not fit, versions go
/// first, then the state word of instances that are fine. An instance in trouble keeps its
/// reason (it goes last, so the reason gets the remaining width).
fn instances(buf: &mut Buffer, area: Rect, m: &Model, theme: &Theme) {
    let tiers = (0..3).map(|t| instances_tier(m, theme, t)).collect();
    put_first_fitting(buf, area, tiers);
}

fn instances_tier(m: &Model, theme: &Theme, tier: u8) -> Vec<Piece> {
    let mut p: Vec<Piece> = vec![(" ".into(), theme.style("text"))];
    let mut per = vec![0usize; m.instances.len()];
    for r in &m.fleet.rows {
        if let Some(n) = per.get_mut(r.key.instance as usize) {
            *n += 1;
        }
    }
    let s = m.symbols;
    let mut order: Vec<usize> = (0..m.instances.len()).collect();
    order.sort_by_key(|&i| m.instances[i].state.error().is_some());
    for (n, &i) in order.iter().enumerate() {
        let inst = &m.instances[i];
        if n > 0 {
            let sep = if tier >= 2 {
                format!(" {} ", s.sep())
            } else {
                format!("  {}  ", s.sep())
            };
            p.push((sep, theme.style("text.dim")));
        }
        let role = match inst.state {
            ConnState::Live => "instance.live",
            ConnState::Listed | ConnState::Connecting { .. } => "instance.connecting",
            _ => "instance.down",
        };
        p.push((
            format!("{} {}", s.conn(&inst.state), inst.name),
            theme.style(role),
        ));
        let detail = match &inst.state {
            ConnState::Down { error, retry_at_ms } if *retry_at_ms > m.now_ms => {
                let secs = (retry_at_ms - m.now_ms + 999) / 1000;
                let when = if m.low_bandwidth {
                    m.countdown(secs)
                } else {
                    format!("{secs}s")
                };
                format!(" {} (retry in {when}): {error}", inst.state.label())
            }
            ConnState::Down { error, .. } => format!(" {}: {error}", inst.state.label()),
            ConnState::Failed(error) => format!(" failed: {error}"),
            ConnState::Connecting { attempt } if *attempt > 0 => {
                format!(" reconnecting (attempt {})", attempt + 1)
            }
            st => {
                let v = match inst.version.as_deref() {
                    Some(v) if tier == 0 => format!(" {v}"),
                    _ => String::new(),
                };
                if tier >= 2 {
                    format!(" {}", count(per[i], "app"))
                } else {
                    format!(" {} {}{v}", st.label(), count(per[i], "app"))
                }
            }
        };
        p.push((
            detail,
            if inst.state.error().is_some() {
                theme.style("instance.down")
            } else {
                theme.style("text.dim")
            },
        ));
        if inst.insecure {
            p.push((
                " TLS verification off".into(),
                theme.style("instance.insecure"),
            ));
        }
        if inst.read_only {
            p.push((" read-only".into(), theme.style("text.dim")));
        }
    }
    p
}

fn filter_bar(buf: &mut Buffer, area: Rect, m: &Model, theme: &Theme) {
    let count = format!(
        "{} of {} ",
        thousands(m.view.matched),
        thousands(m.fleet.len())
    );
    let (text, prompt) = match &m.input {
        Some(i) => (i.text.clone(), " / "),
        None => (m.view.filter.to_string(), " filter: "),
    };
    let mut p: Vec<Piece> = vec![(prompt.into(), theme.style("filter.prompt"))];
    for (n, term) in text.split(' ').enumerate() {
        if n > 0 {
            p.push((" ".into(), theme.style("filter.text")));
        }
        let role = if term.contains(':') {
            "filter.facet"
        } else {
            "filter.text"
        };
        p.push((term.to_string(), theme.style(role)));
    }
    if let Some(e) = m.input.as_ref().and_then(|i| i.error.as_ref()) {
        p.push((format!("   {e}"), theme.style("error")));
    }
    let cw = str_width(&count) as u16;
    let left = Rect {
        width: area.width.saturating_sub(cw + 1),
        ..area
    };
    put_pieces(buf, left, &p);
    put(
        buf,
        area.right().saturating_sub(cw),
        area.y,
        &count,
        cw as usize,
        theme.style("filter.count"),
    );
}

/// A chosen column and its width.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Col {
    pub col: Column,
    pub width: usize,
}

fn base_width(c: Column, m: &Model) -> (usize, usize) {
    // (minimum, maximum)
    match c {
        Column::Name => (28, 40),
        Column::Instance => {
            let w = m
                .instances
                .iter()
                .map(|i| str_width(&i.name))
                .max()
                .unwrap_or(8)
                .max(8);
            (w.min(16), w.min(16))
        }
        Column::Cluster => (18, 24),
        Column::Namespace => (12, 20),
        Column::Project => (10, 14),
        Column::Sync => (11, 11),
        Column::Health => (13, 13),
        Column::Operation => (11, 13),
        Column::Auto => (4, 4),
        Column::LastSync => (6, 6),
        Column::Drift => (5, 5),
        Column::OutOfSyncFor => (7, 7),
    }
}

/// Chooses the columns that fit `width` by priority and shares the rest out.
pub fn columns(m: &Model, width: usize) -> Vec<Col> {
    let priority = [
        Column::Sync,
        Column::Health,
        Column::Drift,
        Column::Cluster,
        Column::OutOfSyncFor,
        Column::LastSync,
        Column::Operation,
        Column::Instance,
        Column::Auto,
        Column::Project,
        Column::Namespace,
    ];
    let mut chosen = vec![Column::Name];
    let mut used = base_width(Column::Name, m).0;
    for c in priority {
        if c == Column::Instance && m.instances.len() < 2 {
            continue;
        }
        let w = base_width(c, m).0 + 1;
        if used + w <= width {
            used += w;
            chosen.push(c);
        }
    }
    let mut cols: Vec<Col> = Column::ALL
        .iter()
        .filter(|c| chosen.contains(c))
        .map(|&c| Col {
            col: c,
            width: base_width(c, m).0,
        })
        .collect();
    let mut spare = width.saturating_sub(used);
    for grow in [
        Column::Name,
        Column::Cluster,
        Column::Project,
        Column::Namespace,
        Column::Operation,
    ] {
        if let Some(c) = cols.iter_mut().find(|c| c.col == grow) {
            let max = base_width(grow, m).1;
            let add = spare.min(max - c.width);
            c.width += add;
            spare -= add;
        }
    }
    if let Some(c) = cols.iter_mut().find(|c| c.col == Column::Name) {
        c.width += spare;
    }
    cols
}

fn header(buf: &mut Buffer, area: Rect, m: &Model, cols: &[Col], theme: &Theme) {
    buf.set_style(area, theme.style("header"));
    let mut x = area.x + 1;
    for c in cols {
        let sorted = c.col == m.view.sort;
        let title = if sorted {
            format!(
                "{}{}",
                c.col.title(),
                if m.view.descending { "↓" } else { "↑" }
            )
        } else {
            c.col.title().to_string()
        };
        let role = if sorted { "header.sorted" } else { "header" };
        put(
            buf,
            x,
            area.y,
            &pad(&title, c.width),
            c.width,
            theme.style(role),
        );
        x += c.width as u16 + 1;
    }
}

fn cell(m: &Model, r: &AppRow, c: Column) -> (String, &'static str) {
    let s = m.symbols;
    match c {
        Column::Instance => (m.instance_name(r.key.instance).to_string(), "text.dim"),
        Column::Cluster => (r.cluster.clone(), "text"),
        Column::Namespace => (r.dest_namespace.clone(), "text.dim"),
        Column::Project => (r.project.clone(), "text"),
        Column::Name => {
            let mut n = String::new();
            if m.marked.contains(&r.key) {
                n.push_str(if s.ascii { "* " } else { "● " });
            }
            n.push_str(&r.key.name);
            if let Some(t) = r.deferred_until {
                n.push_str(&format!(
                    " {}{}",
                    if s.ascii { "deferred " } else { "⏸ " },
                    m.countdown(t - m.now_ms.div_euclid(1000))
                ));
            }
            if !r.incident.is_empty() {
                n.push_str(&format!(" [{}]", r.incident));
            }
            let role = if m.marked.contains(&r.key) {
                "header.sorted"
            } else {
                "text"
            };
            (n, role)
        }
        Column::Sync => (format!("{} {}", s.sync(r.sync), r.sync), sync_role(r.sync)),
        Column::Health => (
            format!("{} {}", s.health(r.health), r.health),
            health_role(r.health),
        ),
        Column::Operation => match r.operation {
            Some(o) => (format!("{} {}", s.op(o), o), op_role(o)),
            None => ("-".into(), "text.dim"),
        },
        Column::Auto => {
            if r.self_heal {
                ("heal".into(), "auto.on")
            } else if r.auto_sync {
                ("on".into(), "auto.on")
            } else {
                ("off".into(), "auto.off")
            }
        }
        Column::LastSync => (m.ago(r.last_sync), "text.dim"),
        Column::Drift => {
            if r.drift == 0 {
                ("-".into(), "drift.none")
            } else {
                (r.drift.to_string(), "drift")
            }
        }
        Column::OutOfSyncFor => match r.out_of_sync_for(m.now_ms.div_euclid(1000)) {
            None => ("-".into(), "drift.none"),
            Some(age) => {
                // An estimate (first seen OutOfSync) is at most that old: `≤`.
                let approx = if !r.since_estimated {
                    ""
                } else if s.ascii {
                    "<"
                } else {
                    "≤"
                };
                let text = format!("{approx}{}", crate::util::age(age));
                if r.sla_breached(m.now_ms.div_euclid(1000)) {
                    (format!("{text}!"), "health.degraded")
                } else {
                    (text, "drift")
                }
            }
        },
    }
}

fn body(buf: &mut Buffer, area: Rect, m: &Model, cols: &[Col], theme: &Theme) {
    let v = &m.view;
    if v.rows.is_empty() {
        let msg = if m.fleet.is_empty() {
            if m.instances
                .iter()
                .all(|i| !i.listed && i.state.error().is_none())
            {
                "Loading the fleet…".to_string()
            } else {
                "No applications.".to_string()
            }
        } else {
            format!(
                "No app matches the filter ({} apps hidden). Esc clears it.",
                thousands(m.fleet.len())
            )
        };
        put(
            buf,
            area.x + 2,
            area.y + 1.min(area.height.saturating_sub(1)),
            &msg,
            area.width as usize,
            theme.style("text.dim"),
        );
        return;
    }
    let end = (v.offset + area.height as usize).min(v.rows.len());
    for (line, idx) in (v.offset..end).enumerate() {
        let y = area.y + line as u16;
        let selected = idx == v.cursor;
        match &v.rows[idx] {
            ViewRow::Group { label, count } => {
                let text = format!(" ▾ {label}  ({})", thousands(*count));
                let text = if m.symbols.ascii {
                    text.replace('▾', "-")
                } else {
                    text
                };
                put(
                    buf,
                    area.x,
                    y,
                    &text,
                    area.width as usize,
                    theme.style("group"),
                );
            }
            ViewRow::App(i) => {
                let r = &m.fleet.rows[*i];
                let stale = m
                    .instances
                    .get(r.key.instance as usize)
                    .is_some_and(|inst| !inst.state.is_up());
                let flashed = !m.low_bandwidth && m.now_ms - m.fleet.changed_ms[*i] < FLASH_MS;
                // Low bandwidth: the selection is a marker and the name, not a whole row in
                // another colour, so moving it rewrites a few cells instead of two rows.
                let full_row = selected && !m.low_bandwidth;
                let style_of = |role: &str, highlight: bool| -> Style {
                    let role = if stale { "text.dim" } else { role };
                    let mut st = if highlight {
                        theme.selected(role)
                    } else {
                        theme.style(role)
                    };
                    if flashed && !stale {
                        st = st
                            .patch(theme.style("row.changed"))
                            .fg(theme.style(role).fg.unwrap_or_default());
                        if highlight {
                            st = st.bg(theme.selected(role).bg.unwrap_or_default());
                        }
                    }
                    st
                };
                selection_bar(buf, area, y, full_row, theme);
                let mark = if flashed {
                    m.symbols.changed()
                } else if selected && m.low_bandwidth {
                    if m.symbols.ascii { ">" } else { "▸" }
                } else {
                    " "
                };
                put(buf, area.x, y, mark, 1, style_of("row.changed", selected));
                let mut x = area.x + 1;
                for c in cols {
                    let (text, role) = cell(m, r, c.col);
                    let highlight = full_row || (selected && c.col == Column::Name);
                    put(
                        buf,
                        x,
                        y,
                        &fit(&text, c.width),
                        c.width,
                        style_of(role, highlight),
                    );
                    x += c.width as u16 + 1;
                }
            }
        }
    }
}

fn bottom(buf: &mut Buffer, area: Rect, m: &Model, theme: &Theme, km: &Keymap) {
    let left = if !m.pending.is_empty() {
        pending_hint(m, theme)
    } else if m.input.is_some() {
        hints(
            km,
            KeyMode::Filter,
            &[
                (Action::Accept, "apply"),
                (Action::Cancel, "cancel"),
                (Action::ClearLine, "clear"),
            ],
            theme,
        )
        .into_iter()
        .chain([(
            "   facets: status: sync: health: env: cluster: project: instance: is:attention"
                .to_string(),
            theme.style("bar.desc"),
        )])
        .collect()
    } else {
        hints(
            km,
            KeyMode::Fleet,
            &{
                let mut h = vec![
                    (Action::SelectNext, "down"),
                    (Action::Filter, "filter"),
                    (Action::Facets, "facets"),
                    (Action::ToggleAttention, "attention"),
                    (Action::SortNext, "sort"),
                    (Action::GroupNext, "group"),
                    (Action::OpenApp, "open"),
                    (Action::ToggleHelp, "help"),
                    (Action::Quit, "quit"),
                ];
                if !m.read_only {
                    h.insert(h.len() - 2, (Action::Sync, "sync"));
                }
                if m.instances
                    .iter()
                    .any(|i| matches!(i.state, ConnState::Down { .. }))
                {
                    h.insert(1, (Action::Reconnect, "reconnect"));
                }
                h
            },
            theme,
        )
    };
    let right: Vec<Piece> = match flash_piece(m, theme) {
        Some(p) => vec![p],
        None => {
            let pos = m
                .view
                .rows
                .iter()
                .take(m.view.cursor + 1)
                .filter(|r| matches!(r, ViewRow::App(_)))
                .count();
            vec![(
                format!(" {}/{} ", thousands(pos), thousands(m.view.matched)),
                theme.style("bar.desc"),
            )]
        }
    };
    status_bar(buf, area, &left, &right, theme);
}
