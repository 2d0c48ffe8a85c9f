//! `update`: a message in, the model changed, effects out. Pure: no I/O, no clock, no awaiting.

use super::action::Action;
use super::effect::Effect;
use super::keymap::{Key, KeyMode, Keymap, Resolution};
use super::model::*;
use super::msg::Msg;
use super::ui;
use crate::clients::argocd::watch::FleetUpdate;
use crate::model::filter::{Facet, Filter};
use crate::model::fleet::AppKey;
use crate::model::status::{Health, OpPhase, Sync};

mod app;
pub mod dialog;
mod diff;
mod filter;
mod fleet;
mod logs;
mod mouse;
mod queue;
#[cfg(test)]
mod tests;
mod views;

pub use app::*;
pub use diff::*;
pub(crate) use filter::*;
use fleet::*;
pub use logs::top as log_top;
use mouse::*;
pub use queue::*;
pub use views::*;

/// The effects to run at start: watch every usable instance.
pub fn init(m: &mut Model) -> Vec<Effect> {
    m.instances
        .iter()
        .enumerate()
        .filter(|(_, i)| !matches!(i.state, ConnState::Failed(_)))
        .map(|(i, _)| Effect::WatchInstance(i as u16))
        .collect()
}

/// The one update: every message but the clock's marks the screen for a redraw (the frame
/// pacing in the event loop keeps that cheap); the clock marks it only when a time shown, the
/// flash or the operations line change.
pub fn update(m: &mut Model, km: &Keymap, msg: Msg) -> Vec<Effect> {
    let redraws = !matches!(msg, Msg::Tick(_));
    let fx = step(m, km, msg);
    if redraws {
        m.dirty = true;
    }
    fx
}

fn step(m: &mut Model, km: &Keymap, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Tick(now) => {
            let prev = m.now_ms;
            m.now_ms = now;
            let mut fx = vec![];
            if prev.div_euclid(1000) != now.div_euclid(1000) {
                // Times on screen change each second; in low-bandwidth mode they are shown to
                // the minute and redrawn only when the minute changes.
                let redraw_every = if m.low_bandwidth { 60_000 } else { 1000 };
                if prev.div_euclid(redraw_every) != now.div_euclid(redraw_every) {
                    m.dirty = true;
                }
                fx = super::ops::tick(m);
                m.fleet.now = now.div_euclid(1000);
                // `is:sla` changes with the clock: an app breaches as time passes.
                if m.view.filter.sla && prev.div_euclid(10_000) != now.div_euclid(10_000) {
                    m.recompute_view();
                    m.dirty = true;
                }
            }
            if m.flash.as_ref().is_some_and(|f| f.until_ms <= now) {
                m.flash = None;
                m.dirty = true;
            }
            fx
        }
        Msg::Resize(w, h) => {
            // The decision tab scrolls by wrapped rows: keep the same lines at the cursor and
            // at the top across a change of width.
            let before = match &m.screen {
                Screen::App(s) if s.tab == AppTab::Decision => {
                    let rows = ui::decide::decision_rows(m, s, m.size.0);
                    let line = |i: usize| rows.get(i).or(rows.last()).map_or(0, |r| r.line);
                    Some((line(s.cursor), line(s.offset)))
                }
                _ => None,
            };
            m.size = (w, h);
            let page = ui::layout::fleet_page(m);
            m.view.scroll_into_view(page);
            if let (Some((cursor_line, top_line)), Screen::App(s)) = (before, &m.screen) {
                let rows = ui::decide::decision_rows(m, s, w);
                let first = |line: usize| rows.iter().position(|r| r.line >= line).unwrap_or(0);
                let (c, o) = (first(cursor_line), first(top_line));
                if let Screen::App(s) = &mut m.screen {
                    s.cursor = c;
                    s.offset = o;
                }
            }
            let dlen = decision_len(m);
            if let Screen::App(s) = &mut m.screen {
                let page = ui::layout::app_page((w, h));
                let len = ui::app::list_len(s, dlen);
                clamp_list(&mut s.cursor, &mut s.offset, len, page);
            }
            vec![]
        }
        Msg::Key(k) => key(m, km, k),
        Msg::Mouse(ev) => mouse(m, km, ev),
        Msg::Paste(text) => {
            if m.command.is_some() {
                for c in text.chars().filter(|c| !c.is_control()) {
                    super::command::type_char(m, c);
                }
                return vec![];
            }
            if let Some(input) = &mut m.input {
                for c in text.chars().filter(|c| !c.is_control()) {
                    insert_char(input, c);
                }
                apply_input(m);
            }
            vec![]
        }
        Msg::Fleet(id, u) => fleet_update(m, id, u),
        Msg::InstanceFailed(id, e) => {
            if let Some(i) = m.instances.get_mut(id as usize) {
                i.state = ConnState::Failed(e);
            }
            check_complete(m);
            vec![]
        }
        Msg::AppLoaded { req, result } => {
            let mut fx = vec![];
            if let Screen::App(s) = &mut m.screen
                && s.req_app == req
            {
                s.app = match result {
                    Ok(a) => Load::Ready(a),
                    Err(e) => Load::Failed(e.to_string()),
                };
                if s.stale {
                    s.stale = false;
                    fx = refetch(m, false);
                }
            }
            fx
        }
        Msg::TreeLoaded { req, result } => {
            let dlen = decision_len(m);
            if let Screen::App(s) = &mut m.screen
                && s.req_tree == req
            {
                s.tree = match result {
                    Ok(t) => Load::Ready(t),
                    Err(e) => Load::Failed(e.to_string()),
                };
                let page = ui::layout::app_page(m.size);
                let len = ui::app::list_len(s, dlen);
                clamp_list(&mut s.cursor, &mut s.offset, len, page);
            }
            vec![]
        }
        Msg::LogLines { req, lines } => {
            logs::lines(m, req, lines);
            vec![]
        }
        Msg::LogEnded { req, result } => {
            logs::ended(m, req, result);
            vec![]
        }
        Msg::ObjectLoaded { req, title, result } => {
            logs::object_loaded(m, req, title, result);
            vec![]
        }
        Msg::AppSetsLoaded { instance, result } => {
            if let Ok(sets) = &result {
                m.fleet.set_appsets(instance, sets);
                m.recompute_view();
            }
            m.appsets.insert(instance, result);
            let len = crate::tui::views::appset_rows(m).len();
            let page = ui::views::list_page(m);
            if let Screen::AppSets(l) = &mut m.screen {
                clamp_list(&mut l.cursor, &mut l.offset, len, page);
            }
            vec![]
        }
        Msg::DriftSince(found) => {
            let mut any = false;
            for (key, since) in found {
                if let Some(t) = since {
                    any |= m.fleet.set_out_of_sync_since(&key, t);
                }
            }
            if any && (m.view.filter.sla || m.view.sort == Column::OutOfSyncFor) {
                m.recompute_view();
            }
            vec![]
        }
        Msg::RolloutsLoaded { req, result } => {
            if let Screen::App(s) = &mut m.screen
                && s.req_tree == req
            {
                match result {
                    Ok(r) => {
                        s.rollouts = r;
                        s.rollouts_error = None;
                    }
                    Err(e) => s.rollouts_error = Some(e),
                }
            }
            vec![]
        }
        Msg::Decided { req, key, result } => {
            let Some(v) = m.decisions.get_mut(&key) else {
                return vec![];
            };
            if v.req != req {
                return vec![];
            }
            v.state = match result {
                Ok(i) => Load::Ready(i),
                Err(e) => Load::Failed(e),
            };
            let page = ui::layout::app_page(m.size);
            let dlen = decision_len(m);
            if let Screen::App(s) = &mut m.screen
                && s.key == key
            {
                let len = ui::app::list_len(s, dlen);
                clamp_list(&mut s.cursor, &mut s.offset, len, page);
            }
            vec![]
        }
        Msg::Reviewed {
            key,
            chosen,
            result,
            team,
        } => {
            match (result, team) {
                (Ok(seq), false) => flash(
                    m,
                    format!(
                        "recorded: you chose {chosen} for {} (journal #{seq})",
                        key.name
                    ),
                    false,
                ),
                (Ok(seq), true) => flash(
                    m,
                    format!(
                        "recorded for the team: you chose {chosen} for {} (driftdeck serve's journal #{seq})",
                        key.name
                    ),
                    false,
                ),
                (Err(e), _) => flash(m, format!("the review was not recorded: {e}"), true),
            }
            vec![]
        }
        Msg::DoraLoaded { mut apps, errors } => {
            m.health_log.restores_into(&mut apps);
            m.dora = if apps.is_empty() && !errors.is_empty() {
                Load::Failed(errors.join("; "))
            } else {
                Load::Ready(crate::model::dora::compute(
                    &apps,
                    m.now_ms.div_euclid(1000),
                    crate::model::dora::WINDOW_SECS,
                ))
            };
            if !errors.is_empty() && !apps.is_empty() {
                flash(
                    m,
                    format!(
                        "not every instance's history was read: {}",
                        errors.join("; ")
                    ),
                    true,
                );
            }
            vec![]
        }
        Msg::TeamLoaded { result } => {
            m.team.loading = false;
            match result {
                Ok((items, next)) => {
                    for d in items {
                        let k = (d.instance.clone(), d.app.clone());
                        let newer = m.team.decisions.get(&k).is_none_or(|old| old.seq <= d.seq);
                        if newer {
                            m.team.decisions.insert(k, d);
                        }
                    }
                    // A restarted daemon numbers from its journal again: read from the start.
                    m.team.next = next;
                    m.team.error = None;
                }
                Err(e) => m.team.error = Some(e),
            }
            vec![]
        }
        Msg::ShadowLoaded { req, result } => {
            if let Screen::Shadow(s) = &mut m.screen
                && s.req == req
            {
                s.report = match result {
                    Ok(r) => Load::Ready(r),
                    Err(e) => Load::Failed(e),
                };
            }
            vec![]
        }
        Msg::DiffLoaded { req, result } => {
            if let Screen::Diff(d, _) = &mut m.screen
                && d.req == req
            {
                d.docs = match result {
                    Ok(docs) => Load::Ready(docs),
                    Err(e) => Load::Failed(e),
                };
                let len = d.rows().len();
                d.cursor = d.cursor.min(len.saturating_sub(1));
            }
            vec![]
        }
        Msg::DiffHighlighted { req, toks } => {
            if let Screen::Diff(d, _) = &mut m.screen
                && d.req == req
                && let Load::Ready(docs) = &mut d.docs
            {
                for h in toks {
                    if let Some(doc) = docs.get_mut(h.doc) {
                        doc.store(h);
                    }
                }
            }
            vec![]
        }
        Msg::Prepared { req, result } => super::ops::prepared(m, req, result),
        Msg::ActProgress { op, text } => {
            super::ops::progress(m, op, text);
            vec![]
        }
        Msg::ActDone { op, result, then } => super::ops::done(m, op, result, then),
        Msg::ClusterLoaded { req, result } => {
            if let Screen::App(s) = &mut m.screen
                && s.req_cluster == req
            {
                s.cluster = Some(match result {
                    Ok(v) => Load::Ready(v),
                    Err(e) => Load::Failed(e),
                });
                let page = ui::layout::app_page(m.size);
                let len = ui::app::list_len(s, 0);
                clamp_list(&mut s.cursor, &mut s.offset, len, page);
            }
            vec![]
        }
        Msg::HistoryLoaded { req, entries } => {
            if let Screen::App(s) = &mut m.screen
                && s.req_history == req
            {
                s.history = Some(entries);
            }
            vec![]
        }
        Msg::ThemeChanged(result) => {
            match result {
                Ok(name) => flash(m, format!("theme {name}"), false),
                Err(e) => flash(m, e, true),
            }
            vec![]
        }
        Msg::Resumed { what, result } => {
            if let Err(e) = result {
                flash(m, format!("{what}: {e}"), true);
            }
            vec![]
        }
        Msg::EventsLoaded { req, result } => {
            if let Screen::App(s) = &mut m.screen
                && s.req_events == req
            {
                s.events = match result {
                    Ok(t) => Load::Ready(t),
                    Err(e) => Load::Failed(e.to_string()),
                };
            }
            vec![]
        }
    }
}

fn check_complete(m: &mut Model) {
    if !m.complete
        && m.instances
            .iter()
            .all(|i| i.listed || matches!(i.state, ConnState::Down { .. } | ConnState::Failed(_)))
    {
        m.complete = true;
    }
}

/// Re-fetches everything the open app screen shows (after an action on it).
pub fn reload_open(m: &mut Model) -> Vec<Effect> {
    let mut fx = refetch(m, true);
    if let Screen::App(s) = &mut m.screen
        && s.history.is_some()
    {
        s.history = None;
        if s.tab == AppTab::History {
            let key = s.key.clone();
            let req = m.req();
            if let Screen::App(s) = &mut m.screen {
                s.req_history = req;
            }
            fx.push(Effect::FetchHistory { req, key });
        }
    }
    fx
}

/// Re-fetches the open app's object and tree (and events when `all`), replacing requests in
/// flight; while the app object is loading, a further change only marks it stale.
fn refetch(m: &mut Model, all: bool) -> Vec<Effect> {
    let reqs = (m.req(), m.req(), m.req());
    let Screen::App(s) = &mut m.screen else {
        return vec![];
    };
    if !all && matches!(s.app, Load::Loading) && s.req_app != 0 {
        s.stale = true;
        return vec![];
    }
    let mut fx = vec![Effect::Cancel(s.req_app), Effect::Cancel(s.req_tree)];
    s.req_app = reqs.0;
    s.req_tree = reqs.1;
    fx.push(Effect::FetchApp {
        req: reqs.0,
        key: s.key.clone(),
    });
    fx.push(Effect::FetchTree {
        req: reqs.1,
        key: s.key.clone(),
    });
    if all {
        fx.push(Effect::Cancel(s.req_events));
        s.req_events = reqs.2;
        fx.push(Effect::FetchEvents {
            req: reqs.2,
            key: s.key.clone(),
        });
    }
    fx
}

/// Keys on the help: close it, or scroll it within its wrapped rows.
fn help_act(m: &mut Model, km: &Keymap, a: Action) -> Vec<Effect> {
    match a {
        Action::ToggleHelp | Action::Back | Action::Cancel => m.overlay = Overlay::None,
        a if a.moves() => {
            let max = ui::overlay::help_max_scroll(m, km);
            let page = (m.size.1 as usize).saturating_sub(6);
            if let Overlay::Help { scroll } = &mut m.overlay {
                *scroll = scrolled(*scroll, max, page, a);
            }
        }
        _ => {}
    }
    vec![]
}

fn key(m: &mut Model, km: &Keymap, k: Key) -> Vec<Effect> {
    let mode = m.mode();
    match km.resolve(mode, &m.pending, k) {
        Resolution::Matched(a) => {
            m.pending.clear();
            m.pending_next.clear();
            if mode == KeyMode::Help {
                return help_act(m, km, a);
            }
            act(m, mode, a)
        }
        Resolution::Pending(next) => {
            m.pending.push(k.normalized());
            m.pending_next = next;
            vec![]
        }
        Resolution::NotFound => {
            let was_pending = !m.pending.is_empty();
            m.pending.clear();
            m.pending_next.clear();
            if mode == KeyMode::Dialog
                && !was_pending
                && let Some(c) = k.text()
            {
                return super::ops::type_char(m, c);
            } else if mode == KeyMode::Command
                && !was_pending
                && let Some(c) = k.text()
            {
                super::command::type_char(m, c);
            } else if mode.is_text()
                && !was_pending
                && let (Some(c), Some(input)) = (k.text(), m.input.as_mut())
            {
                insert_char(input, c);
                apply_input(m);
            }
            vec![]
        }
    }
}

fn clamp_list(cursor: &mut usize, offset: &mut usize, len: usize, page: usize) {
    let page = page.max(1);
    *cursor = (*cursor).min(len.saturating_sub(1));
    if *cursor < *offset {
        *offset = *cursor;
    } else if *cursor >= *offset + page {
        *offset = *cursor + 1 - page;
    }
    *offset = (*offset).min(len.saturating_sub(page));
}

/// A text view's scroll offset after a movement key, within `0..=max`.
fn scrolled(scroll: usize, max: usize, page: usize, a: Action) -> usize {
    let (s, p) = (scroll.min(max), page.max(1));
    match a {
        Action::SelectNext => s + 1,
        Action::SelectPrev => s.saturating_sub(1),
        Action::PageDown => s + p,
        Action::PageUp => s.saturating_sub(p),
        Action::SelectFirst => 0,
        Action::SelectLast => max,
        _ => s,
    }
    .min(max)
}

fn move_list(cursor: &mut usize, offset: &mut usize, len: usize, page: usize, a: Action) {
    let c = *cursor as i64;
    let p = page.max(1) as i64;
    let n = match a {
        Action::SelectNext => c + 1,
        Action::SelectPrev => c - 1,
        Action::PageDown => c + p,
        Action::PageUp => c - p,
        Action::SelectFirst => 0,
        Action::SelectLast => len as i64 - 1,
        _ => c,
    };
    *cursor = n.clamp(0, (len as i64 - 1).max(0)) as usize;
    clamp_list(cursor, offset, len, page);
}

/// Does what the key bound to `a` does on the current screen (the command line's commands).
pub(crate) fn perform(m: &mut Model, a: Action) -> Vec<Effect> {
    let mode = m.mode();
    act(m, mode, a)
}

fn act(m: &mut Model, mode: KeyMode, a: Action) -> Vec<Effect> {
    if a == Action::Quit {
        m.quit = true;
        return vec![Effect::Quit];
    }
    if mode != KeyMode::Dialog
        && matches!(
            a,
            Action::Sync
                | Action::Refresh
                | Action::HardRefresh
                | Action::Terminate
                | Action::Rollback
                | Action::Defer
                | Action::Annotate
                | Action::Adopt
                | Action::ResourceActions
                | Action::ToggleMark
        )
    {
        return super::ops::start(m, a);
    }
    if a == Action::CommandLine
        && !mode.is_text()
        && !matches!(mode, KeyMode::Help | KeyMode::Facets)
    {
        super::command::open(m);
        return vec![];
    }
    match mode {
        KeyMode::Command => super::command::act(m, a),
        KeyMode::Dialog => super::ops::dialog_act(m, a),
        // Scrolling needs the keymap (the help's length): see `help_act`.
        KeyMode::Help => {
            if matches!(a, Action::ToggleHelp | Action::Back | Action::Cancel) {
                m.overlay = Overlay::None;
            }
            vec![]
        }
        KeyMode::Facets => facets_act(m, a),
        KeyMode::Filter => {
            filter_act(m, a);
            vec![]
        }
        KeyMode::Fleet | KeyMode::Global => fleet_act(m, a),
        KeyMode::App => app_act(m, a),
        KeyMode::Diff => diff_act(m, a),
        KeyMode::Queue => queue_act(m, a),
        KeyMode::Report => report_act(m, a),
        KeyMode::Views => views_act(m, a),
        KeyMode::Logs => logs::logs_act(m, a),
    }
}

fn flash(m: &mut Model, text: String, error: bool) {
    m.flash = Some(Flash {
        text,
        error,
        until_ms: m.now_ms + if error { 6000 } else { 2500 },
    });
}
