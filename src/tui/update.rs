//! `update`: a message in, the model changed, effects out. Pure: no I/O, no clock, no awaiting.

use super::action::Action;
use super::effect::Effect;
use super::keymap::{Key, Keymap, Mode, Resolution};
use super::model::*;
use super::msg::Msg;
use super::ui;
use crate::clients::argocd::watch::FleetUpdate;
use crate::model::filter::{Facet, Filter};
use crate::model::fleet::AppKey;
use crate::model::status::{Health, OpPhase, Sync};

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
        } => {
            match result {
                Ok(seq) => flash(
                    m,
                    format!(
                        "recorded: you chose {chosen} for {} (journal #{seq})",
                        key.name
                    ),
                    false,
                ),
                Err(e) => flash(m, format!("the review was not recorded: {e}"), true),
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
        Msg::LogsLoaded { req, title, result } => {
            if let Screen::App(s) = &m.screen
                && s.req_logs == req
                && matches!(m.overlay, Overlay::None)
            {
                let (lines, copy) = match result {
                    Ok(t) if t.is_empty() => (
                        vec!["(the container has written nothing)".to_string()],
                        None,
                    ),
                    Ok(t) => (t.lines().map(str::to_string).collect(), Some(t)),
                    Err(e) => (vec![e], None),
                };
                let mut d = super::ops::Dialog::loading(req, title, "");
                d.lines = lines;
                d.scroll = d.lines.len();
                d.kind = super::ops::DialogKind::Info { copy };
                m.overlay = Overlay::Dialog(Box::new(d));
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

fn fleet_update(m: &mut Model, id: u16, u: FleetUpdate) -> Vec<Effect> {
    let Some(name) = m.instances.get(id as usize).map(|i| i.name.clone()) else {
        return vec![];
    };
    let mut fx = vec![];
    match u {
        FleetUpdate::Connecting { attempt } => {
            m.instances[id as usize].state = ConnState::Connecting { attempt };
        }
        FleetUpdate::Listed { rows, version, .. } => {
            let inst = &mut m.instances[id as usize];
            inst.state = ConnState::Listed;
            inst.listed = true;
            if version.is_some() {
                inst.version = version;
            }
            let keys: Vec<AppKey> = if m.decide_fleet {
                rows.iter()
                    .filter(|r| r.sync == Sync::OutOfSync)
                    .map(|r| r.key.clone())
                    .collect()
            } else {
                vec![]
            };
            m.fleet.replace_instance(id, &name, rows);
            m.recompute_view();
            check_complete(m);
            fx.extend(ask_decisions(m, keys, false));
            if let Screen::App(s) = &m.screen
                && s.key.instance == id
            {
                fx.extend(refetch(m, false));
            }
        }
        FleetUpdate::Live => m.instances[id as usize].state = ConnState::Live,
        FleetUpdate::Changed { upserts, deletes } => {
            let touches = |k: &AppKey| upserts.iter().any(|r| r.key == *k) || deletes.contains(k);
            let touches_open = match &mut m.screen {
                Screen::App(s) => touches(&s.key),
                Screen::Diff(d, _) => {
                    // Reloading under the reader would move the text; say it changed instead.
                    if touches(&d.key) && d.docs.ready().is_some() {
                        d.stale = true;
                    }
                    false
                }
                Screen::Fleet | Screen::Queue(_) | Screen::Shadow(_) => false,
            };
            let changed: Vec<AppKey> = upserts.iter().map(|r| r.key.clone()).collect();
            m.fleet.apply(&name, upserts, &deletes, m.now_ms);
            m.recompute_view();
            if touches_open {
                fx = refetch(m, false);
            }
            // Decisions follow the drift while someone looks at them.
            let watching: Vec<AppKey> = match &m.screen {
                _ if m.decide_fleet => changed,
                Screen::Queue(_) => changed,
                Screen::App(s) => changed.into_iter().filter(|k| *k == s.key).collect(),
                _ => vec![],
            };
            fx.extend(ask_decisions(m, watching, false));
        }
        FleetUpdate::Down { error, retry_in } => {
            m.instances[id as usize].state = ConnState::Down {
                error,
                retry_at_ms: m.now_ms + retry_in.as_millis() as i64,
            };
            check_complete(m);
        }
    }
    fx
}

/// Where the open app runs, for the kube API.
fn cluster_target(m: &Model) -> Option<crate::tui::effect::ClusterTarget> {
    let Screen::App(s) = &m.screen else {
        return None;
    };
    let row = m.fleet.rows.iter().find(|r| r.key == s.key);
    let app = s.app.ready();
    let pods = match &s.tree {
        Load::Ready(t) => t
            .nodes
            .iter()
            .filter(|n| n.reference.kind == "Pod")
            .map(|n| n.reference.name.clone())
            .collect(),
        _ => vec![],
    };
    Some(crate::tui::effect::ClusterTarget {
        cluster: row.map(|r| r.cluster.clone()).unwrap_or_default(),
        server: app
            .map(|a| a.spec.destination.server.clone())
            .unwrap_or_default(),
        namespace: app
            .map(|a| a.spec.destination.namespace.clone())
            .or_else(|| row.map(|r| r.dest_namespace.clone()))
            .unwrap_or_default(),
        pods,
        resources: app
            .map(|a| {
                a.status
                    .resources
                    .iter()
                    .map(|r| crate::clients::argocd::ResourceId {
                        group: r.group.clone(),
                        version: r.version.clone(),
                        kind: r.kind.clone(),
                        namespace: r.namespace.clone(),
                        name: r.name.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads the open app's pods and events from its cluster.
fn fetch_cluster(m: &mut Model) -> Vec<Effect> {
    let Some(target) = cluster_target(m) else {
        return vec![];
    };
    let req = m.req();
    let Screen::App(s) = &mut m.screen else {
        return vec![];
    };
    let old = s.req_cluster;
    s.req_cluster = req;
    s.cluster = Some(Load::Loading);
    vec![Effect::Cancel(old), Effect::FetchCluster { req, target }]
}

/// The log tail of the pod under the cursor on the Cluster tab.
fn fetch_logs(m: &mut Model) -> Vec<Effect> {
    let Some(target) = cluster_target(m) else {
        return vec![];
    };
    let req = m.req();
    let Screen::App(s) = &mut m.screen else {
        return vec![];
    };
    let Some(Load::Ready(v)) = &s.cluster else {
        return vec![];
    };
    let Some(p) = v.pods.get(s.cursor) else {
        return vec![];
    };
    let (pod, container) = (
        p.name.clone(),
        p.containers.first().cloned().unwrap_or_default(),
    );
    s.req_logs = req;
    vec![Effect::FetchLogs {
        req,
        target,
        pod,
        container,
    }]
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
        Action::SelectNext
        | Action::SelectPrev
        | Action::PageDown
        | Action::PageUp
        | Action::SelectFirst
        | Action::SelectLast => {
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
            if mode == Mode::Help {
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
            if mode == Mode::Dialog
                && !was_pending
                && let Some(c) = k.text()
            {
                return super::ops::type_char(m, c);
            } else if mode == Mode::Command
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

/// Rows one turn of the wheel moves.
const WHEEL_ROWS: usize = 3;

/// A click selects the row under it (a click on the selected row opens it), a tab, or the column
/// to sort by (again: the other direction); the wheel moves the selection. Dialogs ignore the
/// mouse: what changes something is confirmed from the keyboard.
fn mouse(m: &mut Model, km: &Keymap, ev: crate::tui::msg::Mouse) -> Vec<Effect> {
    use crate::tui::msg::MouseKind;
    m.pending.clear();
    m.pending_next.clear();
    if ui::layout::too_small(m.size) {
        return vec![];
    }
    let mode = m.mode();
    if matches!(mode, Mode::Dialog | Mode::Filter | Mode::Command) {
        return vec![];
    }
    match ev.kind {
        MouseKind::ScrollDown | MouseKind::ScrollUp => {
            let a = if ev.kind == MouseKind::ScrollDown {
                Action::SelectNext
            } else {
                Action::SelectPrev
            };
            let mut fx = Vec::new();
            for _ in 0..WHEEL_ROWS {
                fx.extend(if mode == Mode::Help {
                    help_act(m, km, a)
                } else {
                    act(m, mode, a)
                });
            }
            fx
        }
        MouseKind::Click => match mode {
            Mode::Fleet => fleet_click(m, ev.x, ev.y),
            Mode::App => app_click(m, ev.x, ev.y),
            Mode::Queue => queue_click(m, ev.y),
            _ => vec![],
        },
    }
}

fn queue_click(m: &mut Model, y: u16) -> Vec<Effect> {
    let body = ui::layout::diff(m.size).body;
    let len = crate::tui::decisions::queue(&m.fleet.rows, &m.decisions).len();
    let Screen::Queue(q) = &mut m.screen else {
        return vec![];
    };
    // The list starts below the body's header line.
    let Some(dy) = (y as usize).checked_sub(body.y as usize + 1) else {
        return vec![];
    };
    if dy >= body.height.saturating_sub(1) as usize || q.offset + dy >= len {
        return vec![];
    }
    if q.cursor == q.offset + dy {
        return act(m, Mode::Queue, Action::OpenApp);
    }
    q.cursor = q.offset + dy;
    vec![]
}

fn fleet_click(m: &mut Model, x: u16, y: u16) -> Vec<Effect> {
    let l = ui::layout::fleet(m.size, ui::layout::filter_visible(m));
    if y == l.header.y {
        let cols = ui::fleet::columns(m, l.header.width.saturating_sub(1) as usize);
        let mut left = l.header.x + 1;
        for c in cols {
            let right = left + c.width as u16;
            if (left..right).contains(&x) {
                if m.view.sort == c.col {
                    m.view.descending = !m.view.descending;
                } else {
                    m.view.sort = c.col;
                    m.view.descending = false;
                }
                m.recompute_view();
                return vec![];
            }
            left = right + 1;
        }
        return vec![];
    }
    if y < l.body.y || y >= l.body.y + l.body.height {
        return vec![];
    }
    let i = m.view.offset + (y - l.body.y) as usize;
    match m.view.rows.get(i) {
        Some(crate::tui::model::ViewRow::App(_)) => {
            if i == m.view.cursor {
                return fleet_act(m, Action::OpenApp);
            }
            m.view.cursor = i;
            m.view.settle_cursor(1, &m.fleet);
            vec![]
        }
        _ => vec![],
    }
}

fn app_click(m: &mut Model, x: u16, y: u16) -> Vec<Effect> {
    let l = ui::layout::app(m.size);
    let dlen = decision_len(m);
    if y == l.tabs.y {
        let tab = match &m.screen {
            Screen::App(s) => ui::app::tab_at(m, s, x),
            _ => None,
        };
        let Some(t) = tab else {
            return vec![];
        };
        let a = match t {
            AppTab::Resources => Action::TabResources,
            AppTab::Conditions => Action::TabConditions,
            AppTab::History => Action::TabHistory,
            AppTab::Events => Action::TabEvents,
            AppTab::Cluster => Action::TabCluster,
            AppTab::Decision => Action::TabDecision,
        };
        return app_act(m, a);
    }
    let Screen::App(s) = &mut m.screen else {
        return vec![];
    };
    if y >= l.body.y && y < l.body.y + l.body.height {
        let i = s.offset + (y - l.body.y) as usize;
        if i < ui::app::list_len(s, dlen) {
            s.cursor = i;
        }
    }
    vec![]
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

fn act(m: &mut Model, mode: Mode, a: Action) -> Vec<Effect> {
    if a == Action::Quit {
        m.quit = true;
        return vec![Effect::Quit];
    }
    if mode != Mode::Dialog
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
                | Action::ToggleMark
        )
    {
        return super::ops::start(m, a);
    }
    if a == Action::CommandLine && !mode.is_text() && !matches!(mode, Mode::Help | Mode::Facets) {
        super::command::open(m);
        return vec![];
    }
    match mode {
        Mode::Command => super::command::act(m, a),
        Mode::Dialog => super::ops::dialog_act(m, a),
        // Scrolling needs the keymap (the help's length): see `help_act`.
        Mode::Help => {
            if matches!(a, Action::ToggleHelp | Action::Back | Action::Cancel) {
                m.overlay = Overlay::None;
            }
            vec![]
        }
        Mode::Facets => facets_act(m, a),
        Mode::Filter => {
            filter_act(m, a);
            vec![]
        }
        Mode::Fleet | Mode::Global => fleet_act(m, a),
        Mode::App => app_act(m, a),
        Mode::Diff => diff_act(m, a),
        Mode::Queue => queue_act(m, a),
        Mode::Report => report_act(m, a),
    }
}

fn fleet_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let page = ui::layout::fleet_page(m);
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::SelectNext => m.view.move_by(1, &m.fleet, page),
        Action::SelectPrev => m.view.move_by(-1, &m.fleet, page),
        Action::PageDown => m.view.move_by(page as i64, &m.fleet, page),
        Action::PageUp => m.view.move_by(-(page as i64), &m.fleet, page),
        Action::SelectFirst => {
            m.view.cursor = 0;
            m.view.offset = 0;
            m.view.move_by(0, &m.fleet, page);
        }
        Action::SelectLast => {
            m.view.cursor = m.view.rows.len().saturating_sub(1);
            m.view.move_by(0, &m.fleet, page);
            m.view.settle_cursor(-1, &m.fleet);
            m.view.scroll_into_view(page);
        }
        Action::Filter => {
            let text = m.view.filter.to_string();
            let text = if text.is_empty() {
                text
            } else {
                format!("{text} ")
            };
            m.input = Some(TextInput {
                cursor: text.chars().count(),
                before: m.view.filter.to_string(),
                text,
                error: None,
            });
        }
        Action::ClearFilter => set_filter(m, Filter::default()),
        Action::Back if !m.view.filter.is_empty() => {
            set_filter(m, Filter::default());
        }
        Action::ToggleAttention => {
            let mut f = m.view.filter.clone();
            f.attention = !f.attention;
            set_filter(m, f);
        }
        Action::Facets => {
            m.overlay = Overlay::Facets(facet_picker(m));
        }
        Action::SortNext | Action::SortPrev => {
            let i = Column::ALL
                .iter()
                .position(|c| *c == m.view.sort)
                .unwrap_or(0);
            let n = Column::ALL.len();
            let j = if a == Action::SortNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            m.view.sort = Column::ALL[j];
            m.view.descending = false;
            m.recompute_view();
            flash(
                m,
                format!("sorted by {}", m.view.sort.title().to_lowercase()),
                false,
            );
        }
        Action::SortReverse => {
            m.view.descending = !m.view.descending;
            m.recompute_view();
        }
        Action::GroupNext => {
            m.view.group = m.view.group.next();
            m.recompute_view();
            flash(m, format!("grouped by {}", m.view.group.label()), false);
        }
        Action::OpenApp => {
            if let Some(key) = m.view.selected.clone() {
                return open_app(m, key);
            }
        }
        Action::Diff => {
            if let Some(key) = m.view.selected.clone() {
                return open_diff(m, key, None);
            }
        }
        Action::DriftQueue => return open_queue(m),
        Action::ShadowReport => return open_shadow(m),
        Action::Reconnect => {
            let down: Vec<(u16, String)> = m
                .instances
                .iter()
                .enumerate()
                .filter(|(_, i)| matches!(i.state, ConnState::Down { .. }))
                .map(|(n, i)| (n as u16, i.name.clone()))
                .collect();
            if down.is_empty() {
                flash(m, "no instance is down: nothing to reconnect".into(), false);
                return vec![];
            }
            let names: Vec<&str> = down.iter().map(|(_, n)| n.as_str()).collect();
            flash(
                m,
                format!("reconnecting to {} now", names.join(", ")),
                false,
            );
            return vec![Effect::Reconnect(
                down.into_iter().map(|(n, _)| n).collect(),
            )];
        }
        Action::NextInstance => {
            // All → the first instance → … → the last → all.
            let names = m.instance_names();
            let mut f = m.view.filter.clone();
            let now = f.facets.get(&Facet::Instance).cloned().unwrap_or_default();
            let next = match now.as_slice() {
                [one] => names
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(one))
                    .and_then(|i| names.get(i + 1)),
                [] => names.first(),
                _ => None,
            };
            match next {
                Some(n) => {
                    f.facets.insert(Facet::Instance, vec![n.clone()]);
                    flash(
                        m,
                        format!("instance {n} only (c: the next; all after the last)"),
                        false,
                    );
                }
                None => {
                    f.facets.remove(&Facet::Instance);
                    flash(m, "every instance".into(), false);
                }
            }
            set_filter(m, f);
        }
        _ => {}
    }
    vec![]
}

/// Asks for decisions of `keys` where one is wanted (`force`: of every drifted one).
pub fn ask_decisions(m: &mut Model, keys: Vec<AppKey>, force: bool) -> Vec<Effect> {
    use crate::tui::decisions::{DecisionView, basis, wants_decision};
    if m.decide.is_err() {
        return vec![];
    }
    let mut fx = vec![];
    for k in keys {
        let Some(row) = m.fleet.get(&k) else {
            continue;
        };
        if row.sync != Sync::OutOfSync {
            continue;
        }
        let want = force || wants_decision(row, m.decisions.get(&k), m.now_ms);
        if !want {
            continue;
        }
        let b = basis(row);
        if let Some(old) = m.decisions.get(&k)
            && matches!(old.state, Load::Loading)
        {
            fx.push(Effect::Cancel(old.req));
        }
        let req = m.req();
        m.decisions.insert(
            k.clone(),
            DecisionView {
                req,
                state: Load::Loading,
                asked_ms: m.now_ms,
                basis: b,
            },
        );
        fx.push(Effect::Decide { req, key: k });
    }
    fx
}

/// Opens the drift queue and asks for the decisions it lacks.
pub fn open_queue(m: &mut Model) -> Vec<Effect> {
    m.screen = Screen::Queue(crate::tui::decisions::QueueScreen::default());
    let keys: Vec<AppKey> = m
        .fleet
        .rows
        .iter()
        .filter(|r| r.sync == Sync::OutOfSync)
        .map(|r| r.key.clone())
        .collect();
    ask_decisions(m, keys, false)
}

/// Opens the shadow report.
pub fn open_shadow(m: &mut Model) -> Vec<Effect> {
    let req = m.req();
    m.screen = Screen::Shadow(Box::new(crate::tui::decisions::ShadowScreen {
        req,
        report: Load::Loading,
        scroll: 0,
    }));
    vec![Effect::LoadShadow { req }]
}

/// Records the operator's verdict on the app's decision (`None`: the advice's own).
fn review(m: &mut Model, key: &AppKey, chosen: Option<crate::decide::Verdict>) -> Vec<Effect> {
    let info = m.decisions.get(key).and_then(|v| v.info());
    let Some(i) = info else {
        flash(m, "there is no decision to review yet".to_string(), true);
        return vec![];
    };
    let Some(seq) = i.seq else {
        flash(
            m,
            "this decision is not in the journal, so a review cannot refer to it; fix the journal and decide again (ctrl-r)".to_string(),
            true,
        );
        return vec![];
    };
    let advised = i.decision.verdict;
    if chosen.is_none() && advised == crate::decide::Verdict::NeedsHuman {
        super::ops::choose_verdict(m, key.clone(), seq);
        return vec![];
    }
    vec![Effect::Review {
        key: key.clone(),
        decision_seq: seq,
        advised,
        chosen: chosen.unwrap_or(advised),
    }]
}

fn chosen_of(a: Action) -> Option<Option<crate::decide::Verdict>> {
    use crate::decide::Verdict;
    match a {
        Action::Approve => Some(None),
        Action::ChooseAllow => Some(Some(Verdict::Allow)),
        Action::ChooseDefer => Some(Some(Verdict::Defer)),
        Action::ChooseEnforce => Some(Some(Verdict::Enforce)),
        Action::ChooseNeedsHuman => Some(Some(Verdict::NeedsHuman)),
        _ => None,
    }
}

fn queue_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let rows = crate::tui::decisions::queue(&m.fleet.rows, &m.decisions);
    // The list is the body less its header line.
    let page = ui::layout::diff_page(m.size).saturating_sub(1);
    let Screen::Queue(q) = &mut m.screen else {
        return vec![];
    };
    let selected = rows.get(q.cursor).map(|r| r.key.clone());
    if let Some(c) = chosen_of(a) {
        return match selected {
            Some(k) => review(m, &k, c),
            None => vec![],
        };
    }
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::Back => m.screen = Screen::Fleet,
        Action::SelectNext
        | Action::SelectPrev
        | Action::PageDown
        | Action::PageUp
        | Action::SelectFirst
        | Action::SelectLast => move_list(&mut q.cursor, &mut q.offset, rows.len(), page, a),
        Action::OpenApp | Action::TabDecision => {
            if let Some(k) = selected {
                let fx = open_app(m, k);
                if let Screen::App(s) = &mut m.screen {
                    s.tab = AppTab::Decision;
                    s.from_queue = true;
                }
                return fx;
            }
        }
        Action::Diff => {
            if let Some(k) = selected {
                return open_diff(m, k, None);
            }
        }
        Action::Reload => {
            let keys = rows.into_iter().map(|r| r.key).collect();
            return ask_decisions(m, keys, true);
        }
        Action::ShadowReport => return open_shadow(m),
        _ => {}
    }
    vec![]
}

fn report_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let size = m.size;
    let page = ui::layout::diff(size).body.height as usize;
    let Screen::Shadow(s) = &mut m.screen else {
        return vec![];
    };
    let max = ui::decide::shadow_max_scroll(s, size);
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::Back => m.screen = Screen::Fleet,
        Action::SelectNext
        | Action::SelectPrev
        | Action::PageDown
        | Action::PageUp
        | Action::SelectFirst
        | Action::SelectLast => s.scroll = scrolled(s.scroll, max, page, a),
        Action::Reload => return open_shadow(m),
        Action::DriftQueue => return open_queue(m),
        _ => {}
    }
    vec![]
}

/// Opens the app screen for `key` and fetches its details.
pub fn open_app(m: &mut Model, key: AppKey) -> Vec<Effect> {
    m.screen = Screen::App(Box::new(AppScreen {
        key: key.clone(),
        tab: AppTab::Resources,
        app: Load::Loading,
        tree: Load::Loading,
        events: Load::Loading,
        req_app: 0,
        req_tree: 0,
        req_events: 0,
        cursor: 0,
        offset: 0,
        stale: false,
        from_queue: false,
        history: None,
        req_history: 0,
        cluster: None,
        req_cluster: 0,
        req_logs: 0,
    }));
    let mut fx = refetch(m, true);
    fx.extend(ask_decisions(m, vec![key.clone()], false));
    fx
}

/// The rows of the open app's decision tab at the current width (derived, never stored).
fn decision_len(m: &Model) -> usize {
    match &m.screen {
        Screen::App(s) if s.tab == AppTab::Decision => {
            ui::decide::decision_rows(m, s, m.size.0).len()
        }
        _ => 0,
    }
}

fn app_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let page = ui::layout::app_page(m.size);
    let dlen = decision_len(m);
    let Screen::App(s) = &mut m.screen else {
        return vec![];
    };
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::Back => {
            let fx = vec![
                Effect::Cancel(s.req_app),
                Effect::Cancel(s.req_tree),
                Effect::Cancel(s.req_events),
            ];
            m.screen = if s.from_queue {
                Screen::Queue(crate::tui::decisions::QueueScreen::default())
            } else {
                Screen::Fleet
            };
            return fx;
        }
        Action::Approve
        | Action::ChooseAllow
        | Action::ChooseDefer
        | Action::ChooseEnforce
        | Action::ChooseNeedsHuman => {
            let key = s.key.clone();
            return review(m, &key, chosen_of(a).flatten());
        }
        Action::DriftQueue => return open_queue(m),
        Action::ShadowReport => return open_shadow(m),
        Action::Reload if s.tab == AppTab::Cluster => {
            let mut fx = refetch(m, true);
            fx.extend(fetch_cluster(m));
            return fx;
        }
        Action::Logs if s.tab == AppTab::Cluster => return fetch_logs(m),
        Action::Logs => {
            flash(
                m,
                "logs: on the Cluster tab (6), put the cursor on a pod, then enter".into(),
                true,
            );
            return vec![];
        }
        Action::Reload if s.tab == AppTab::Decision => {
            let key = s.key.clone();
            let mut fx = refetch(m, true);
            fx.extend(ask_decisions(m, vec![key], true));
            return fx;
        }
        Action::NextTab
        | Action::PrevTab
        | Action::TabResources
        | Action::TabConditions
        | Action::TabHistory
        | Action::TabEvents
        | Action::TabCluster
        | Action::TabDecision => {
            let i = s.tab.index();
            let n = AppTab::ALL.len();
            s.tab = match a {
                Action::NextTab => AppTab::ALL[(i + 1) % n],
                Action::PrevTab => AppTab::ALL[(i + n - 1) % n],
                Action::TabResources => AppTab::Resources,
                Action::TabConditions => AppTab::Conditions,
                Action::TabHistory => AppTab::History,
                Action::TabEvents => AppTab::Events,
                Action::TabCluster => AppTab::Cluster,
                _ => AppTab::Decision,
            };
            s.cursor = 0;
            s.offset = 0;
            if s.tab == AppTab::Cluster && s.cluster.is_none() {
                return fetch_cluster(m);
            }
            if s.tab == AppTab::History && s.history.is_none() {
                let key = s.key.clone();
                let req = m.req();
                if let Screen::App(s) = &mut m.screen {
                    s.req_history = req;
                }
                return vec![Effect::FetchHistory { req, key }];
            }
        }
        Action::SelectNext
        | Action::SelectPrev
        | Action::PageDown
        | Action::PageUp
        | Action::SelectFirst
        | Action::SelectLast => {
            let len = ui::app::list_len(s, dlen);
            move_list(&mut s.cursor, &mut s.offset, len, page, a);
        }
        Action::Reload => return refetch(m, true),
        Action::Diff => {
            let key = s.key.clone();
            let Screen::App(app) = std::mem::replace(&mut m.screen, Screen::Fleet) else {
                return vec![];
            };
            return open_diff(m, key, Some(app));
        }
        _ => {}
    }
    vec![]
}

/// Opens the diff screen of `key`, remembering the app screen to return to.
pub fn open_diff(m: &mut Model, key: AppKey, back: Option<Box<AppScreen>>) -> Vec<Effect> {
    let req = m.req();
    m.screen = Screen::Diff(
        Box::new(crate::tui::diffview::DiffScreen::new(key.clone(), req)),
        back,
    );
    vec![Effect::FetchDiff { req, key }]
}

fn diff_act(m: &mut Model, a: Action) -> Vec<Effect> {
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
        Action::SelectNext
        | Action::SelectPrev
        | Action::PageDown
        | Action::PageUp
        | Action::SelectFirst
        | Action::SelectLast => {
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

pub(crate) fn set_filter(m: &mut Model, f: Filter) {
    m.view.filter = f;
    m.recompute_view();
}

fn flash(m: &mut Model, text: String, error: bool) {
    m.flash = Some(Flash {
        text,
        error,
        until_ms: m.now_ms + if error { 6000 } else { 2500 },
    });
}

pub(crate) fn insert_char(input: &mut TextInput, c: char) {
    let byte = input
        .text
        .char_indices()
        .nth(input.cursor)
        .map(|(b, _)| b)
        .unwrap_or(input.text.len());
    input.text.insert(byte, c);
    input.cursor += 1;
}

/// Applies the typed filter as the user types; an invalid expression keeps the last valid one.
fn apply_input(m: &mut Model) {
    let Some(input) = &mut m.input else { return };
    match Filter::parse(&input.text) {
        Ok(f) => {
            input.error = None;
            set_filter(m, f);
        }
        Err(e) => input.error = Some(e),
    }
}

fn filter_act(m: &mut Model, a: Action) {
    let Some(input) = &mut m.input else { return };
    match a {
        Action::Accept => {
            if let Some(e) = input.error.take() {
                flash(m, format!("filter not applied: {e}"), true);
            }
            m.input = None;
        }
        Action::Cancel | Action::Back => {
            let before = input.before.clone();
            m.input = None;
            set_filter(m, Filter::parse(&before).unwrap_or_default());
        }
        a => {
            if edit_text(input, a) {
                apply_input(m);
            }
        }
    }
}

/// The editing keys of a text input (the filter, the command line); `false` when `a` is not
/// one of them.
pub(crate) fn edit_text(input: &mut TextInput, a: Action) -> bool {
    match a {
        Action::DeleteChar => {
            if input.cursor > 0 {
                let byte = input
                    .text
                    .char_indices()
                    .nth(input.cursor - 1)
                    .map(|(b, _)| b)
                    .unwrap_or(0);
                input.text.remove(byte);
                input.cursor -= 1;
            }
        }
        Action::DeleteWord => {
            let chars: Vec<char> = input.text.chars().collect();
            let mut i = input.cursor;
            while i > 0 && chars[i - 1] == ' ' {
                i -= 1;
            }
            while i > 0 && chars[i - 1] != ' ' {
                i -= 1;
            }
            let rest: String = chars[input.cursor..].iter().collect();
            input.text = chars[..i].iter().collect::<String>() + &rest;
            input.cursor = i;
        }
        Action::ClearLine => {
            input.text.clear();
            input.cursor = 0;
        }
        Action::CursorLeft => input.cursor = input.cursor.saturating_sub(1),
        Action::CursorRight => input.cursor = (input.cursor + 1).min(input.text.chars().count()),
        _ => return false,
    }
    true
}

/// Builds the facet picker from the whole fleet, with counts.
fn facet_picker(m: &Model) -> FacetPicker {
    let mut items = Vec::new();
    let count = |pred: &dyn Fn(&crate::model::fleet::AppRow) -> bool| {
        m.fleet.rows.iter().filter(|r| pred(r)).count()
    };
    let mut push_values = |facet: Facet, values: Vec<(String, usize)>| {
        if values.iter().all(|(_, c)| *c == 0) {
            return;
        }
        items.push(FacetItem::Header(facet));
        for (value, count) in values {
            if count > 0 || m.view.filter.has(facet, &value) {
                items.push(FacetItem::Value {
                    facet,
                    value,
                    count,
                });
            }
        }
    };
    push_values(
        Facet::Sync,
        Sync::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), count(&|r| r.sync == *s)))
            .collect(),
    );
    push_values(
        Facet::Health,
        Health::ALL
            .iter()
            .map(|h| (h.as_str().to_string(), count(&|r| r.health == *h)))
            .collect(),
    );
    push_values(
        Facet::Op,
        OpPhase::ALL
            .iter()
            .map(|o| (o.as_str().to_string(), count(&|r| r.operation == Some(*o))))
            .collect(),
    );
    let distinct = |f: &dyn Fn(&crate::model::fleet::AppRow) -> String| -> Vec<(String, usize)> {
        let mut map = std::collections::BTreeMap::<String, usize>::new();
        for r in &m.fleet.rows {
            let v = f(r);
            if !v.is_empty() {
                *map.entry(v).or_default() += 1;
            }
        }
        map.into_iter().collect()
    };
    push_values(Facet::Env, distinct(&|r| r.env.clone()));
    push_values(
        Facet::Instance,
        distinct(&|r| m.instance_name(r.key.instance).to_string()),
    );
    push_values(Facet::Project, distinct(&|r| r.project.clone()));
    push_values(Facet::Cluster, distinct(&|r| r.cluster.clone()));
    push_values(
        Facet::Auto,
        vec![
            ("on".to_string(), count(&|r| r.auto_sync)),
            ("off".to_string(), count(&|r| !r.auto_sync)),
        ],
    );
    let cursor = items
        .iter()
        .position(|i| matches!(i, FacetItem::Value { .. }))
        .unwrap_or(0);
    FacetPicker {
        items,
        cursor,
        offset: 0,
        draft: m.view.filter.clone(),
    }
}

fn facets_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let page = ui::layout::facets_page(m.size);
    let Overlay::Facets(p) = &mut m.overlay else {
        return vec![];
    };
    match a {
        Action::SelectNext | Action::SelectPrev => {
            let dir: i64 = if a == Action::SelectNext { 1 } else { -1 };
            let mut c = p.cursor as i64 + dir;
            while c >= 0
                && (c as usize) < p.items.len()
                && matches!(p.items[c as usize], FacetItem::Header(_))
            {
                c += dir;
            }
            if c >= 0 && (c as usize) < p.items.len() {
                p.cursor = c as usize;
            }
            if p.cursor < p.offset + 1 {
                p.offset = p.cursor.saturating_sub(1);
            } else if p.cursor >= p.offset + page {
                p.offset = p.cursor + 1 - page;
            }
        }
        Action::ToggleItem => {
            if let Some(FacetItem::Value { facet, value, .. }) = p.items.get(p.cursor) {
                p.draft.toggle(*facet, value);
            }
        }
        Action::ClearItems => p.draft.facets.clear(),
        Action::Accept => {
            let f = p.draft.clone();
            m.overlay = Overlay::None;
            set_filter(m, f);
        }
        Action::Cancel | Action::Back => m.overlay = Overlay::None,
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        _ => {}
    }
    vec![]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::argocd::ArgoError;
    use crate::model::app::Application;
    use crate::model::fleet::AppRow;
    use std::time::Duration;

    fn row(inst: u16, name: &str, sync: &str, health: &str, env: &str) -> AppRow {
        let mut a = Application::default();
        a.metadata.name = name.into();
        a.metadata.namespace = "argocd".into();
        a.status.sync.status = sync.into();
        a.status.health.status = health.into();
        a.spec.destination.name = format!("{env}-eu-west-1-1");
        a.spec.project = "shop".into();
        a.metadata.labels.insert("env".into(), env.into());
        AppRow::from_app(inst, &a)
    }

    fn model() -> Model {
        let inst = |n: &str| InstanceView {
            name: n.into(),
            url: format!("https://{n}"),
            state: ConnState::Connecting { attempt: 0 },
            version: None,
            listed: false,
            insecure: false,
            read_only: false,
        };
        Model::new(vec![inst("eu"), inst("us")], (120, 40), 1_000_000)
    }

    fn listed(m: &mut Model) {
        let km = Keymap::default();
        update(
            m,
            &km,
            Msg::Fleet(
                0,
                FleetUpdate::Listed {
                    rows: vec![
                        row(0, "payments", "OutOfSync", "Healthy", "prod"),
                        row(0, "orders", "Synced", "Degraded", "prod"),
                        row(0, "search", "Synced", "Healthy", "dev"),
                    ],
                    resource_version: "10".into(),
                    version: Some("v3.2.1".into()),
                },
            ),
        );
        update(
            m,
            &km,
            Msg::Fleet(
                1,
                FleetUpdate::Listed {
                    rows: vec![row(1, "payments", "Synced", "Healthy", "prod")],
                    resource_version: "5".into(),
                    version: None,
                },
            ),
        );
    }

    fn keys(m: &mut Model, spec: &str) -> Vec<Effect> {
        let km = Keymap::default();
        let mut fx = vec![];
        for k in spec.split_whitespace() {
            fx.extend(update(m, &km, Msg::Key(Key::parse(k).unwrap())));
        }
        fx
    }

    fn typed(m: &mut Model, text: &str) {
        let km = Keymap::default();
        for c in text.chars() {
            update(m, &km, Msg::Key(Key::ch(c)));
        }
    }

    fn visible(m: &Model) -> Vec<String> {
        m.view
            .rows
            .iter()
            .filter_map(|r| match r {
                ViewRow::App(i) => Some(format!(
                    "{}@{}",
                    m.fleet.rows[*i].key.name,
                    m.instance_name(m.fleet.rows[*i].key.instance)
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn shadow_and_autonomous_modes_decide_every_drift_others_only_what_is_looked_at() {
        let decides = |fx: &[Effect]| -> Vec<String> {
            fx.iter()
                .filter_map(|e| match e {
                    Effect::Decide { key, .. } => Some(key.name.clone()),
                    _ => None,
                })
                .collect()
        };
        let km = Keymap::default();
        let listing = |m: &mut Model| {
            update(
                m,
                &km,
                Msg::Fleet(
                    0,
                    FleetUpdate::Listed {
                        rows: vec![
                            row(0, "payments", "OutOfSync", "Healthy", "prod"),
                            row(0, "orders", "Synced", "Degraded", "prod"),
                        ],
                        resource_version: "10".into(),
                        version: None,
                    },
                ),
            )
        };
        let mut advisory = model();
        assert!(decides(&listing(&mut advisory)).is_empty());
        let mut sweeping = model();
        sweeping.decide_fleet = true;
        assert_eq!(
            decides(&listing(&mut sweeping)),
            vec!["payments".to_string()]
        );
        // Asked once: the same state does not ask again.
        assert!(decides(&listing(&mut sweeping)).is_empty());
    }

    #[test]
    fn init_watches_every_instance() {
        let mut m = model();
        assert_eq!(
            init(&mut m),
            vec![Effect::WatchInstance(0), Effect::WatchInstance(1)]
        );
    }

    #[test]
    fn listing_completes_the_first_frame() {
        let mut m = model();
        assert!(!m.complete);
        listed(&mut m);
        assert!(m.complete);
        assert_eq!(m.fleet.len(), 4);
        assert_eq!(m.instances[0].version.as_deref(), Some("v3.2.1"));
    }

    #[test]
    fn typing_a_filter_filters_live_and_escape_restores() {
        let mut m = model();
        listed(&mut m);
        keys(&mut m, "/");
        assert_eq!(m.mode(), Mode::Filter);
        typed(&mut m, "status:OutOfSync,Degraded env:prod");
        assert_eq!(visible(&m), ["orders@eu", "payments@eu"]);
        keys(&mut m, "enter");
        assert_eq!(m.mode(), Mode::Fleet);
        assert_eq!(visible(&m).len(), 2);
        // q while typing is text, not quit.
        keys(&mut m, "/");
        typed(&mut m, "q");
        assert!(!m.quit);
        assert!(visible(&m).is_empty());
        keys(&mut m, "esc");
        assert_eq!(visible(&m).len(), 2, "cancel restores the previous filter");
        keys(&mut m, "esc");
        assert_eq!(visible(&m).len(), 4, "esc in the fleet clears the filter");
    }

    #[test]
    fn an_invalid_filter_keeps_the_last_valid_one_and_says_why() {
        let mut m = model();
        listed(&mut m);
        keys(&mut m, "/");
        typed(&mut m, "colour:red");
        assert!(
            m.input
                .as_ref()
                .unwrap()
                .error
                .as_ref()
                .unwrap()
                .contains("unknown facet")
        );
        // The last valid expression (the text `colour`) still applies.
        assert_eq!(m.view.filter.to_string(), "colour");
        keys(&mut m, "enter");
        assert!(m.flash.as_ref().unwrap().error);
    }

    #[test]
    fn attention_quick_filter() {
        let mut m = model();
        listed(&mut m);
        keys(&mut m, "!");
        assert_eq!(visible(&m), ["orders@eu", "payments@eu"]);
        keys(&mut m, "!");
        assert_eq!(visible(&m).len(), 4);
    }

    #[test]
    fn facet_picker_toggles_and_applies() {
        let mut m = model();
        listed(&mut m);
        keys(&mut m, "f");
        assert_eq!(m.mode(), Mode::Facets);
        // The first value is Sync: Synced; move to OutOfSync and toggle it.
        keys(&mut m, "j space enter");
        assert_eq!(m.view.filter.to_string(), "sync:OutOfSync");
        assert_eq!(visible(&m), ["payments@eu"]);
    }

    #[test]
    fn sequences_and_navigation() {
        let mut m = model();
        listed(&mut m);
        keys(&mut m, "G");
        assert_eq!(m.view.cursor, 3);
        keys(&mut m, "g");
        assert!(!m.pending_next.is_empty(), "which-key hint pending");
        keys(&mut m, "g");
        assert_eq!(m.view.cursor, 0);
        assert!(m.pending.is_empty());
    }

    #[test]
    fn sort_and_group() {
        let mut m = model();
        listed(&mut m);
        // Sort by sync: OutOfSync first.
        while m.view.sort != Column::Sync {
            keys(&mut m, "o");
        }
        assert_eq!(visible(&m)[0], "payments@eu");
        keys(&mut m, "O");
        assert_eq!(visible(&m)[3], "payments@eu");
        keys(&mut m, "b");
        assert_eq!(m.view.group, Group::Instance);
        assert!(matches!(m.view.rows[0], ViewRow::Group { .. }));
    }

    #[test]
    fn enter_opens_the_app_and_fetches_its_details() {
        let mut m = model();
        listed(&mut m);
        let fx = keys(&mut m, "enter");
        let Screen::App(s) = &m.screen else { panic!() };
        assert_eq!(s.key.name, "orders");
        assert!(fx.iter().any(|e| matches!(e, Effect::FetchApp { .. })));
        assert!(fx.iter().any(|e| matches!(e, Effect::FetchTree { .. })));
        assert!(fx.iter().any(|e| matches!(e, Effect::FetchEvents { .. })));
        // A stale reply is dropped.
        let km = Keymap::default();
        update(
            &mut m,
            &km,
            Msg::AppLoaded {
                req: 9999,
                result: Err(ArgoError::NotFound {
                    message: "x".into(),
                }),
            },
        );
        let Screen::App(s) = &m.screen else { panic!() };
        assert_eq!(s.app, Load::Loading);
        let req = s.req_app;
        update(
            &mut m,
            &km,
            Msg::AppLoaded {
                req,
                result: Err(ArgoError::NotFound {
                    message: "gone".into(),
                }),
            },
        );
        let Screen::App(s) = &m.screen else { panic!() };
        assert!(matches!(&s.app, Load::Failed(e) if e.contains("gone")));
        keys(&mut m, "3");
        let Screen::App(s) = &m.screen else { panic!() };
        assert_eq!(s.tab, AppTab::History);
        let fx = keys(&mut m, "esc");
        assert!(matches!(m.screen, Screen::Fleet));
        assert!(fx.iter().all(|e| matches!(e, Effect::Cancel(_))));
    }

    #[test]
    fn a_change_of_the_open_app_refetches_it() {
        let mut m = model();
        listed(&mut m);
        keys(&mut m, "enter");
        let Screen::App(s) = &m.screen else { panic!() };
        let (ra, rt) = (s.req_app, s.req_tree);
        let km = Keymap::default();
        update(
            &mut m,
            &km,
            Msg::AppLoaded {
                req: ra,
                result: Ok(Box::default()),
            },
        );
        let fx = update(
            &mut m,
            &km,
            Msg::Fleet(
                0,
                FleetUpdate::Changed {
                    upserts: vec![row(0, "orders", "Synced", "Healthy", "prod")],
                    deletes: vec![],
                },
            ),
        );
        assert!(fx.contains(&Effect::Cancel(rt)));
        assert!(fx.iter().any(|e| matches!(e, Effect::FetchApp { .. })));
    }

    #[test]
    fn a_down_instance_shows_its_reason_and_others_carry_on() {
        let mut m = model();
        listed(&mut m);
        let km = Keymap::default();
        update(
            &mut m,
            &km,
            Msg::Fleet(
                1,
                FleetUpdate::Down {
                    error: ArgoError::Unreachable {
                        url: "https://us".into(),
                        detail: "connection refused".into(),
                    },
                    retry_in: Duration::from_secs(4),
                },
            ),
        );
        match &m.instances[1].state {
            ConnState::Down { error, retry_at_ms } => {
                assert!(error.to_string().contains("connection refused"));
                assert_eq!(*retry_at_ms, 1_000_000 + 4000);
            }
            s => panic!("{s:?}"),
        }
        assert_eq!(m.instances[0].state, ConnState::Listed);
        assert_eq!(
            m.fleet.len(),
            4,
            "the down instance's last known apps stay, marked stale"
        );
        // ctrl-r: reconnect to it now.
        let fx = act(&mut m, Mode::Fleet, Action::Reconnect);
        assert_eq!(fx, vec![Effect::Reconnect(vec![1])]);
        assert!(
            m.flash.as_ref().unwrap().text.contains("reconnecting to"),
            "{:?}",
            m.flash
        );
        assert_eq!(km.keys_for(Mode::Fleet, Action::Reconnect), vec!["ctrl-r"]);
        m.instances[1].state = ConnState::Live;
        assert!(act(&mut m, Mode::Fleet, Action::Reconnect).is_empty());
        assert!(
            m.flash
                .as_ref()
                .unwrap()
                .text
                .contains("nothing to reconnect")
        );
    }

    #[test]
    fn changed_rows_are_marked_for_a_moment() {
        let mut m = model();
        listed(&mut m);
        let km = Keymap::default();
        update(&mut m, &km, Msg::Tick(2_000_000));
        update(
            &mut m,
            &km,
            Msg::Fleet(
                0,
                FleetUpdate::Changed {
                    upserts: vec![row(0, "search", "OutOfSync", "Healthy", "dev")],
                    deletes: vec![],
                },
            ),
        );
        let i = m
            .fleet
            .index_of(&AppKey {
                instance: 0,
                namespace: "argocd".into(),
                name: "search".into(),
            })
            .unwrap();
        assert_eq!(m.fleet.changed_ms[i], 2_000_000);
    }

    /// Redraws are marked in one place: every message but the clock's, whatever its handler
    /// forgot (a flash from the prepared-plan path once did).
    #[test]
    fn every_message_but_the_clock_marks_a_redraw() {
        let mut m = model();
        let km = Keymap::default();
        m.dirty = false;
        update(
            &mut m,
            &km,
            Msg::Prepared {
                req: 999,
                result: Err("stale".into()),
            },
        );
        assert!(
            m.dirty,
            "a stale reply still redraws (cheap: the screen diff writes nothing)"
        );
        m.dirty = false;
        let now = m.now_ms;
        update(&mut m, &km, Msg::Tick(now + 1));
        assert!(!m.dirty);
    }

    #[test]
    fn ticks_only_dirty_on_second_boundaries() {
        let mut m = model();
        let km = Keymap::default();
        m.dirty = false;
        update(&mut m, &km, Msg::Tick(1_000_250));
        assert!(!m.dirty);
        update(&mut m, &km, Msg::Tick(1_001_000));
        assert!(m.dirty);
    }

    fn mouse(m: &mut Model, kind: crate::tui::msg::MouseKind, x: u16, y: u16) -> Vec<Effect> {
        let ev = crate::tui::msg::Mouse { kind, x, y };
        update(m, &Keymap::default(), Msg::Mouse(ev))
    }

    #[test]
    fn the_mouse_selects_opens_sorts_scrolls_and_switches_tabs() {
        use crate::tui::msg::MouseKind::{Click, ScrollDown, ScrollUp};
        let mut m = model();
        listed(&mut m);
        let l = ui::layout::fleet(m.size, false);
        assert_eq!(m.view.cursor, 0);
        // A click on the third row selects it; nothing is opened.
        let fx = mouse(&mut m, Click, 10, l.body.y + 2);
        assert!(fx.is_empty());
        assert_eq!(m.view.cursor, 2);
        let chosen = m.view.selected.clone().unwrap();
        // Below the last row: nothing happens.
        mouse(&mut m, Click, 10, l.body.y + 20);
        assert_eq!(m.view.cursor, 2);
        // The wheel moves the selection three rows at a time, within the list.
        mouse(&mut m, ScrollUp, 10, l.body.y);
        assert_eq!(m.view.cursor, 0);
        mouse(&mut m, ScrollDown, 10, l.body.y);
        assert_eq!(m.view.cursor, 3);
        // A column header sorts by it; again, the other way round.
        let cols = ui::fleet::columns(&m, l.header.width as usize - 1);
        let mut x = 1;
        let mut health_x = None;
        for c in &cols {
            if c.col == Column::Health {
                health_x = Some(x + 1);
            }
            x += c.width as u16 + 1;
        }
        let hx = health_x.expect("a health column at 120 columns");
        mouse(&mut m, Click, hx, l.header.y);
        assert_eq!((m.view.sort, m.view.descending), (Column::Health, false));
        mouse(&mut m, Click, hx, l.header.y);
        assert_eq!((m.view.sort, m.view.descending), (Column::Health, true));
        // While typing a filter, clicks do nothing.
        keys(&mut m, "/");
        let before = m.view.cursor;
        mouse(&mut m, Click, 10, l.body.y + 1);
        assert_eq!(m.view.cursor, before);
        keys(&mut m, "esc");
        // A click on the selected row opens it.
        m.view.cursor = 2;
        m.view.settle_cursor(1, &m.fleet);
        let chosen2 = m.view.selected.clone().unwrap();
        assert_ne!(chosen, chosen2, "sorted differently");
        let fx = mouse(&mut m, Click, 10, l.body.y + 2);
        assert!(
            fx.iter().any(|e| matches!(e, Effect::FetchApp { .. })),
            "{fx:?}"
        );
        let Screen::App(s) = &m.screen else {
            panic!("the app is open")
        };
        assert_eq!(s.key, chosen2);
        // A click on a tab switches to it.
        let al = ui::layout::app(m.size);
        let hx = (0..120)
            .find(|&x| ui::app::tab_at(&m, s, x) == Some(AppTab::Conditions))
            .expect("the Conditions tab is on the bar");
        assert_eq!(ui::app::tab_at(&m, s, 0), None, "the margin is no tab");
        mouse(&mut m, Click, hx, al.tabs.y);
        let Screen::App(s) = &m.screen else {
            panic!("still the app")
        };
        assert_eq!(s.tab, AppTab::Conditions);
    }

    #[test]
    fn low_bandwidth_redraws_times_once_a_minute_and_shows_them_to_the_minute() {
        let mut m = model();
        let km = Keymap::default();
        m.low_bandwidth = true;
        update(&mut m, &km, Msg::Tick(1_200_500));
        m.dirty = false;
        for t in [1_201_000, 1_230_000, 1_259_999] {
            update(&mut m, &km, Msg::Tick(t));
            assert!(!m.dirty, "no redraw at {t}");
        }
        update(&mut m, &km, Msg::Tick(1_260_000));
        assert!(m.dirty, "the minute changed");
        assert_eq!(m.ago(Some(1_250)), "<1m");
        assert_eq!(m.ago(Some(1_100)), "2m");
        assert_eq!(m.countdown(30), "<1m");
        assert_eq!(m.countdown(4 * 60 + 5), "5m");
        m.low_bandwidth = false;
        assert_eq!(m.ago(Some(1_250)), "10s");
        assert_eq!(m.countdown(4 * 60 + 5), "4m 05s");
    }

    #[test]
    fn help_overlay_opens_and_closes() {
        let mut m = model();
        keys(&mut m, "?");
        assert_eq!(m.mode(), Mode::Help);
        keys(&mut m, "j j");
        assert_eq!(m.overlay, Overlay::Help { scroll: 2 });
        keys(&mut m, "esc");
        assert_eq!(m.mode(), Mode::Fleet);
        let fx = keys(&mut m, "q");
        assert_eq!(fx, vec![Effect::Quit]);
        assert!(m.quit);
    }

    fn diff_docs() -> Vec<crate::tui::diffview::DiffDoc> {
        use serde_json::json;
        let mk = |name: &str, changed: bool| {
            let mut data = serde_json::Map::new();
            for i in 0..30 {
                data.insert(format!("k{i:02}"), json!(format!("v{i}")));
            }
            let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data.clone()});
            let mut desired = live.clone();
            if changed {
                desired["data"]["k05"] = json!("changed");
                desired["data"]["k25"] = json!("changed too");
            }
            crate::tui::diffview::DiffDoc::new(
                crate::diff::diff(
                    Some(&desired),
                    Some(&live),
                    &crate::diff::Normalizer::default(),
                )
                .unwrap(),
            )
        };
        // A hostile name: what is copied or paged never carries its controls raw.
        vec![
            mk("a", true),
            mk("b", false),
            mk("c\u{202e}\u{1b}[8m", true),
        ]
    }

    fn open_diff_loaded(m: &mut Model) -> Vec<Effect> {
        listed(m);
        let fx = keys(m, "d");
        let Some(Effect::FetchDiff { req, .. }) = fx.first().cloned() else {
            panic!("{fx:?}")
        };
        let km = Keymap::default();
        update(
            m,
            &km,
            Msg::DiffLoaded {
                req,
                result: Ok(diff_docs()),
            },
        );
        fx
    }

    #[test]
    fn the_diff_screen_moves_by_hunk_and_resource() {
        let mut m = model();
        open_diff_loaded(&mut m);
        assert_eq!(m.mode(), Mode::Diff);
        let Screen::Diff(d, _) = &m.screen else {
            panic!()
        };
        assert_eq!(d.shown(), vec![0, 2], "the in-sync resource is hidden");
        let rows = d.rows();
        assert!(matches!(rows[0], crate::tui::diffview::Row::Header(0)));
        keys(&mut m, "n");
        let Screen::Diff(d, _) = &m.screen else {
            panic!()
        };
        let first_hunk = d.cursor;
        assert!(d.rows()[first_hunk].hunk().is_some());
        keys(&mut m, "n");
        let Screen::Diff(d, _) = &m.screen else {
            panic!()
        };
        assert!(d.cursor > first_hunk);
        assert_ne!(d.rows()[d.cursor].hunk(), None);
        keys(&mut m, "]");
        let Screen::Diff(d, _) = &m.screen else {
            panic!()
        };
        assert_eq!(d.rows()[d.cursor], crate::tui::diffview::Row::Header(2));
        keys(&mut m, "[");
        let Screen::Diff(d, _) = &m.screen else {
            panic!()
        };
        assert_eq!(d.rows()[d.cursor], crate::tui::diffview::Row::Header(0));
    }

    #[test]
    fn folding_views_and_copying() {
        let mut m = model();
        open_diff_loaded(&mut m);
        keys(&mut m, "space");
        let Screen::Diff(d, _) = &m.screen else {
            panic!()
        };
        assert!(d.folded.contains(&0));
        keys(&mut m, "space v");
        let Screen::Diff(d, _) = &m.screen else {
            panic!()
        };
        assert!(d.folded.is_empty());
        assert_eq!(d.view, crate::tui::diffview::View::Split);
        // Unfold hidden context: move to the first fold marker and press enter.
        let fold = d
            .rows()
            .iter()
            .position(|r| matches!(r, crate::tui::diffview::Row::Fold(_)))
            .unwrap();
        for _ in 0..fold {
            keys(&mut m, "j");
        }
        keys(&mut m, "enter");
        let Screen::Diff(d, _) = &m.screen else {
            panic!()
        };
        assert_eq!(d.expanded.len(), 1);
        keys(&mut m, "g g n");
        let fx = keys(&mut m, "y");
        match fx.as_slice() {
            [Effect::Clipboard(t)] => {
                assert!(t.starts_with("--- live/ConfigMap/a"), "{t}");
                assert!(
                    t.contains("+  k05: changed") && !t.contains("k25"),
                    "only the hunk under the cursor: {t}"
                );
            }
            other => panic!("{other:?}"),
        }
        let fx = keys(&mut m, "Y");
        let [Effect::Clipboard(all)] = fx.as_slice() else {
            panic!()
        };
        assert!(all.contains("ConfigMap/a") && all.contains("ConfigMap/c"));
        assert!(!all.chars().any(crate::term::is_unsafe), "{all:?}");
        assert!(all.contains("<U+202E>\\x1b[8m"), "{all}");
        let fx = keys(&mut m, "p");
        let [Effect::Pager(paged)] = fx.as_slice() else {
            panic!("{fx:?}")
        };
        assert!(!paged.chars().any(crate::term::is_unsafe), "{paged:?}");
        let fx = keys(&mut m, "e");
        assert!(matches!(fx.as_slice(), [Effect::ExternalDiff { .. }]));
        let fx = keys(&mut m, "esc");
        assert!(matches!(m.screen, Screen::Fleet), "back where it came from");
        assert!(matches!(fx.as_slice(), [Effect::Cancel(_)]));
    }

    #[test]
    fn the_diff_opened_from_the_app_screen_returns_to_it() {
        let mut m = model();
        listed(&mut m);
        keys(&mut m, "enter 3");
        keys(&mut m, "d");
        assert_eq!(m.mode(), Mode::Diff);
        keys(&mut m, "esc");
        let Screen::App(s) = &m.screen else {
            panic!("{:?}", m.screen)
        };
        assert_eq!(s.tab, AppTab::History, "the app screen as it was");
    }
}
