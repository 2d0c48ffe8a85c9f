//! Pod triage from the Cluster tab: a pod's log followed live (newest at the bottom, pause to
//! read, `/` to search, the previous run's log, the next container), and a pod's or a
//! workload's YAML and description.

use super::*;
use crate::tui::model::{LOG_CAP, LogScreen, LogState};

/// Rows of the log body.
pub(super) fn log_page(m: &Model) -> usize {
    ui::layout::diff(m.size).body.height as usize
}

/// The pod under the cursor of the Cluster tab, with its containers.
fn pod_under_cursor(s: &AppScreen) -> Option<(String, Vec<String>)> {
    let Some(Load::Ready(v)) = &s.cluster else {
        return None;
    };
    let p = v.pods.get(s.cursor)?;
    Some((p.name.clone(), p.containers.clone()))
}

/// Opens the followed log of the pod under the cursor (its previous run's when `previous`).
pub(super) fn open_logs(m: &mut Model, previous: bool) -> Vec<Effect> {
    let Some(target) = app::cluster_target(m) else {
        return vec![];
    };
    let Screen::App(s) = &m.screen else {
        return vec![];
    };
    let Some((pod, containers)) = pod_under_cursor(s) else {
        flash(
            m,
            "logs: on the Cluster tab (6), put the cursor on a pod, then enter (p: its previous run)"
                .into(),
            true,
        );
        return vec![];
    };
    let req = m.req();
    let Screen::App(s) = std::mem::replace(&mut m.screen, Screen::Fleet) else {
        return vec![];
    };
    let l = LogScreen::new(req, target.clone(), pod.clone(), containers, previous, s);
    let container = l.container.clone();
    m.screen = Screen::Logs(Box::new(l));
    vec![Effect::FollowLogs {
        req,
        target,
        pod,
        container,
        previous,
    }]
}

/// Starts the stream again (another container, the previous run, a reload).
fn restart(m: &mut Model) -> Vec<Effect> {
    let req = m.req();
    let Screen::Logs(l) = &mut m.screen else {
        return vec![];
    };
    let old = l.req;
    l.req = req;
    l.lines.clear();
    l.dropped = 0;
    l.offset = 0;
    l.follow = true;
    l.paused = false;
    l.at = None;
    l.state = LogState::Streaming;
    vec![
        Effect::Cancel(old),
        Effect::FollowLogs {
            req,
            target: l.target.clone(),
            pod: l.pod.clone(),
            container: l.container.clone(),
            previous: l.previous,
        },
    ]
}

/// New lines of the followed log: kept (up to [`LOG_CAP`]); the view moves with them only
/// when it follows.
pub(super) fn lines(m: &mut Model, req: u64, new: Vec<String>) {
    let Screen::Logs(l) = &mut m.screen else {
        return;
    };
    if l.req != req {
        return;
    }
    l.lines.extend(new);
    let over = l.lines.len().saturating_sub(LOG_CAP);
    if over > 0 {
        l.lines.drain(..over);
        l.dropped += over;
        l.offset = l.offset.saturating_sub(over);
        l.at = l.at.and_then(|a| a.checked_sub(over));
    }
}

pub(super) fn ended(m: &mut Model, req: u64, result: Result<(), String>) {
    if let Screen::Logs(l) = &mut m.screen
        && l.req == req
    {
        l.state = match result {
            Ok(()) => LogState::Ended,
            Err(e) => LogState::Failed(e),
        };
    }
}

/// The first line shown.
pub fn top(l: &LogScreen, page: usize) -> usize {
    if l.follow {
        l.lines.len().saturating_sub(page)
    } else {
        l.offset.min(l.lines.len().saturating_sub(1))
    }
}

/// Shows line `i` (a match) near the top, leaving follow.
fn show(l: &mut LogScreen, i: usize, page: usize) {
    l.follow = false;
    l.offset = i.saturating_sub(page / 4);
    l.at = Some(i);
}

/// Where a search goes from: the current match while it is on screen, else the top's
/// quarter (where a match is shown).
fn here(l: &LogScreen, page: usize) -> usize {
    let t = top(l, page);
    match l.at {
        Some(a) if a >= t && a < t + page => a,
        _ => t + page / 4,
    }
}

/// The search typed (`/`): the view goes to its first match from the top shown.
pub(super) fn set_search(m: &mut Model, q: &str) {
    let page = log_page(m);
    let Screen::Logs(l) = &mut m.screen else {
        return;
    };
    l.search = (!q.trim().is_empty()).then(|| q.trim().to_string());
    // As it is typed, the search stays at the current match while it still matches.
    let from = here(l, page);
    let ms = l.matches();
    if let Some(&i) = ms.iter().find(|&&i| i >= from).or(ms.first()) {
        show(l, i, page);
    }
}

pub(super) fn logs_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let page = log_page(m);
    let Screen::Logs(l) = &mut m.screen else {
        return vec![];
    };
    let len = l.lines.len();
    let last_top = len.saturating_sub(page);
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::Back => {
            let req = l.req;
            let Screen::Logs(l) = std::mem::replace(&mut m.screen, Screen::Fleet) else {
                return vec![];
            };
            m.screen = Screen::App(l.back);
            return vec![Effect::Cancel(req)];
        }
        Action::PauseLogs => {
            if l.paused {
                l.paused = false;
                l.follow = true;
            } else {
                l.offset = top(l, page);
                l.paused = true;
                l.follow = false;
            }
        }
        Action::SelectPrev | Action::PageUp | Action::SelectFirst => {
            let t = top(l, page);
            l.follow = false;
            l.offset = match a {
                Action::SelectPrev => t.saturating_sub(1),
                Action::PageUp => t.saturating_sub(page),
                _ => 0,
            };
        }
        Action::SelectNext | Action::PageDown | Action::SelectLast => {
            let t = top(l, page);
            let to = match a {
                Action::SelectNext => t + 1,
                Action::PageDown => t + page,
                _ => last_top,
            };
            // Reaching the bottom follows again, unless paused.
            if to >= last_top && !l.paused {
                l.follow = true;
            } else {
                l.follow = false;
                l.offset = to.min(last_top);
            }
        }
        Action::NextMatch | Action::PrevMatch => {
            let ms = l.matches();
            if ms.is_empty() {
                let msg = match &l.search {
                    Some(q) => format!("no line matches {q:?}"),
                    None => "search first with /".into(),
                };
                flash(m, msg, true);
                return vec![];
            }
            let cur = here(l, page);
            let next = if a == Action::NextMatch {
                ms.iter().find(|&&i| i > cur).or(ms.first())
            } else {
                ms.iter().rev().find(|&&i| i < cur).or(ms.last())
            };
            if let Some(&i) = next {
                show(l, i, page);
            }
        }
        Action::Filter => {
            let before = l.search.clone().unwrap_or_default();
            m.input = Some(TextInput {
                cursor: before.chars().count(),
                text: before.clone(),
                before,
                error: None,
            });
        }
        Action::PreviousLogs => {
            l.previous = !l.previous;
            return restart(m);
        }
        Action::NextContainer => {
            if l.containers.len() < 2 {
                let msg = format!("{} has one container", l.pod);
                flash(m, msg, true);
                return vec![];
            }
            let i = l
                .containers
                .iter()
                .position(|c| *c == l.container)
                .unwrap_or(0);
            l.container = l.containers[(i + 1) % l.containers.len()].clone();
            return restart(m);
        }
        Action::Reload => return restart(m),
        _ => {}
    }
    vec![]
}

/// The resource the YAML or description is for: the pod under the cursor (Cluster tab), the
/// resource under the cursor (Resources tab), else the app's workload.
fn object_under_cursor(m: &Model) -> Option<crate::clients::argocd::ResourceId> {
    use crate::clients::argocd::ResourceId;
    let Screen::App(s) = &m.screen else {
        return None;
    };
    let ns = s
        .app
        .ready()
        .map(|a| a.spec.destination.namespace.clone())
        .unwrap_or_default();
    match s.tab {
        AppTab::Cluster => pod_under_cursor(s).map(|(pod, _)| ResourceId {
            group: String::new(),
            version: "v1".into(),
            kind: "Pod".into(),
            namespace: ns,
            name: pod,
        }),
        AppTab::Resources => {
            let lines = ui::app::resource_lines(s, false);
            let l = lines.get(s.cursor)?;
            let version = s
                .tree
                .ready()
                .and_then(|t| {
                    t.nodes.iter().find(|n| {
                        n.reference.kind == l.kind
                            && n.reference.name == l.name
                            && n.reference.group == l.group
                    })
                })
                .map(|n| n.reference.version.clone())
                .unwrap_or_else(|| "v1".into());
            Some(ResourceId {
                group: l.group.clone(),
                version,
                kind: l.kind.clone(),
                namespace: l.namespace.clone(),
                name: l.name.clone(),
            })
        }
        _ => s.app.ready().and_then(|a| {
            a.status
                .resources
                .iter()
                .find(|r| matches!(r.kind.as_str(), "Rollout" | "Deployment" | "StatefulSet"))
                .map(|r| ResourceId {
                    group: r.group.clone(),
                    version: r.version.clone(),
                    kind: r.kind.clone(),
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                })
        }),
    }
}

/// `Y` / `D`: the live YAML or the description of the object under the cursor.
pub(super) fn open_object(m: &mut Model, describe: bool) -> Vec<Effect> {
    let Some(target) = app::cluster_target(m) else {
        return vec![];
    };
    let Some(res) = object_under_cursor(m) else {
        flash(
            m,
            "describe / yaml: put the cursor on a pod (Cluster tab) or a resource (Resources tab)"
                .into(),
            true,
        );
        return vec![];
    };
    let req = m.req();
    if let Screen::App(s) = &mut m.screen {
        s.req_logs = req;
    }
    let what = format!(
        "{} {}/{}",
        if describe { "Describing" } else { "Reading" },
        res.kind,
        res.name
    );
    m.overlay = Overlay::Dialog(Box::new(crate::tui::ops::Dialog::loading(
        req,
        what.clone(),
        &what,
    )));
    vec![Effect::FetchObject {
        req,
        target,
        res,
        describe,
    }]
}

pub(super) fn object_loaded(
    m: &mut Model,
    req: u64,
    title: String,
    result: Result<Vec<String>, String>,
) {
    let Overlay::Dialog(d) = &mut m.overlay else {
        return;
    };
    if d.req != req {
        return;
    }
    let (lines, copy) = match result {
        Ok(l) => {
            let text = l.join("\n");
            (l, Some(text))
        }
        Err(e) => (vec![e], None),
    };
    d.title = title;
    d.lines = lines;
    d.scroll = 0;
    d.kind = crate::tui::ops::DialogKind::Text { copy };
}
