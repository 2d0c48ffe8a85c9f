//! The app screen: header with status and source, then tabs for the resource tree, conditions,
//! history and events.

use std::collections::{BTreeMap, HashSet};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::fleet::{health_role, op_role, sync_role};
use super::{
    Piece, fit, flash_piece, hints, layout, pad, pending_hint, put, put_pieces, selection_bar,
    status_bar, str_width,
};
use crate::model::app::{Application, ResourceNode};
use crate::model::fleet::parse_time;
use crate::model::status::{Health, OpPhase, Sync};
use crate::tui::action::Action;
use crate::tui::keymap::{KeyMode, Keymap};
use crate::tui::model::{AppScreen, AppTab, Load, Model};
use crate::tui::theme::Theme;

/// One line of the resource tree.
#[derive(Debug, Clone, PartialEq)]
pub struct ResLine {
    pub prefix: String,
    pub group: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub sync: Option<Sync>,
    pub health: Option<Health>,
    pub health_message: String,
    pub info: String,
    pub created: Option<i64>,
}

type NodeKey = (String, String, String, String);

fn nkey(group: &str, kind: &str, ns: &str, name: &str) -> NodeKey {
    (
        group.to_string(),
        kind.to_string(),
        ns.to_string(),
        name.to_string(),
    )
}

/// Flattens the resource tree (managed resources and their children) into display lines.
pub fn resource_lines(s: &AppScreen, ascii: bool) -> Vec<ResLine> {
    let app = s.app.ready();
    let sync_of = |n: &ResourceNode| -> Option<Sync> {
        app.and_then(|a| {
            a.status
                .resources
                .iter()
                .find(|r| {
                    r.kind == n.reference.kind
                        && r.name == n.reference.name
                        && r.group == n.reference.group
                        && r.namespace == n.reference.namespace
                })
                .map(|r| Sync::parse(&r.status))
        })
    };
    let Some(tree) = s.tree.ready() else {
        // Before the tree arrives: the managed resources from the app object.
        return app
            .map(|a| {
                a.status
                    .resources
                    .iter()
                    .map(|r| ResLine {
                        prefix: String::new(),
                        group: r.group.clone(),
                        kind: r.kind.clone(),
                        name: r.name.clone(),
                        namespace: r.namespace.clone(),
                        sync: Some(Sync::parse(&r.status)),
                        health: r.health.as_ref().map(|h| Health::parse(&h.status)),
                        health_message: r
                            .health
                            .as_ref()
                            .map(|h| h.message.clone())
                            .unwrap_or_default(),
                        info: String::new(),
                        created: None,
                    })
                    .collect()
            })
            .unwrap_or_default();
    };
    let keys: HashSet<NodeKey> = tree
        .nodes
        .iter()
        .map(|n| {
            nkey(
                &n.reference.group,
                &n.reference.kind,
                &n.reference.namespace,
                &n.reference.name,
            )
        })
        .collect();
    let mut children: BTreeMap<NodeKey, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (i, n) in tree.nodes.iter().enumerate() {
        let parent = n
            .parent_refs
            .iter()
            .map(|p| nkey(&p.group, &p.kind, &p.namespace, &p.name))
            .find(|k| keys.contains(k));
        match parent {
            Some(p) => children.entry(p).or_default().push(i),
            None => roots.push(i),
        }
    }
    let mut w = TreeWalk {
        tree: &tree.nodes,
        children: &children,
        sync_of: &sync_of,
        ascii,
        out: Vec::new(),
    };
    for r in roots {
        w.walk(r, "", true, 0);
    }
    w.out
}

struct TreeWalk<'a> {
    tree: &'a [ResourceNode],
    children: &'a BTreeMap<NodeKey, Vec<usize>>,
    sync_of: &'a dyn Fn(&ResourceNode) -> Option<Sync>,
    ascii: bool,
    out: Vec<ResLine>,
}

impl TreeWalk<'_> {
    fn walk(&mut self, i: usize, guides: &str, last: bool, depth: usize) {
        let n = &self.tree[i];
        let (branch, cont) = match (self.ascii, last) {
            (false, false) => ("├─ ", "│  "),
            (false, true) => ("└─ ", "   "),
            (true, false) => ("|- ", "|  "),
            (true, true) => ("`- ", "   "),
        };
        let prefix = if depth == 0 {
            String::new()
        } else {
            format!("{guides}{branch}")
        };
        let info: Vec<String> = n
            .info
            .iter()
            .filter(|i| i.name != "Node")
            .map(|i| match i.name.as_str() {
                "Status Reason" | "Revision" => i.value.clone(),
                "Restart Count" => format!("restarts {}", i.value),
                _ => format!("{} {}", i.name.to_lowercase(), i.value),
            })
            .collect();
        self.out.push(ResLine {
            prefix,
            group: n.reference.group.clone(),
            kind: n.reference.kind.clone(),
            name: n.reference.name.clone(),
            namespace: n.reference.namespace.clone(),
            sync: if depth == 0 { (self.sync_of)(n) } else { None },
            health: n.health.as_ref().map(|h| Health::parse(&h.status)),
            health_message: n
                .health
                .as_ref()
                .map(|h| h.message.clone())
                .unwrap_or_default(),
            info: info.join(" · "),
            created: n.created_at.as_deref().and_then(parse_time),
        });
        let key = nkey(
            &n.reference.group,
            &n.reference.kind,
            &n.reference.namespace,
            &n.reference.name,
        );
        if let Some(kids) = self.children.get(&key) {
            let next = if depth == 0 {
                String::new()
            } else {
                format!("{guides}{cont}")
            };
            for (j, k) in kids.iter().enumerate() {
                self.walk(*k, &next, j + 1 == kids.len(), depth + 1);
            }
        }
    }
}

/// Number of lines of the current tab's list (for scrolling in `update`); the decision tab's
/// count comes from the model (`decision_lines`).
pub fn list_len(s: &AppScreen, decision_lines: usize) -> usize {
    match s.tab {
        AppTab::Resources => resource_lines(s, false).len(),
        AppTab::Conditions => s
            .app
            .ready()
            .map(|a| a.status.conditions.len())
            .unwrap_or(0),
        AppTab::History => s.app.ready().map(|a| a.status.history.len()).unwrap_or(0),
        AppTab::Events => s.events.ready().map(|e| e.items.len()).unwrap_or(0),
        AppTab::Decision => decision_lines,
        AppTab::Cluster => match &s.cluster {
            Some(Load::Ready(v)) => v.pods.len(),
            _ => 0,
        },
    }
}

pub fn draw(buf: &mut Buffer, m: &Model, s: &AppScreen, theme: &Theme, km: &Keymap) {
    let l = layout::app(m.size);
    header(buf, l.header, m, s, theme);
    tabs(buf, l.tabs, m, s, theme);
    match s.tab {
        AppTab::Resources => resources(buf, l.list_header, l.body, m, s, theme),
        AppTab::Conditions => conditions(buf, l.list_header, l.body, m, s, theme),
        AppTab::History => history(buf, l.list_header, l.body, m, s, theme),
        AppTab::Events => events(buf, l.list_header, l.body, m, s, theme),
        AppTab::Cluster => cluster(buf, l.list_header, l.body, m, s, theme),
        AppTab::Decision => {
            buf.set_style(l.list_header, theme.style("header"));
            super::put(
                buf,
                l.list_header.x + 1,
                l.list_header.y,
                "DECISION: what to do about the drift, and why",
                l.list_header.width as usize,
                theme.style("header"),
            );
            super::decide::decision_tab(buf, l.body, m, s, theme)
        }
    }
    let left = if m.pending.is_empty() {
        hints(
            km,
            KeyMode::App,
            &{
                let mut h = vec![
                    (Action::Back, "back"),
                    (Action::NextTab, "next tab"),
                    (Action::SelectNext, "down"),
                    (Action::Reload, "reload"),
                    (Action::ToggleHelp, "help"),
                    (Action::Quit, "quit"),
                ];
                if !m.read_only {
                    h.insert(h.len() - 2, (Action::Sync, "sync"));
                    if s.tab == crate::tui::model::AppTab::History {
                        h.insert(h.len() - 2, (Action::Rollback, "rollback"));
                    }
                    if s.tab == crate::tui::model::AppTab::Resources && m.size.0 >= 100 {
                        h.insert(h.len() - 2, (Action::ResourceActions, "actions"));
                    }
                }
                h
            },
            theme,
        )
    } else {
        pending_hint(m, theme)
    };
    let right: Vec<Piece> = match flash_piece(m, theme) {
        Some(p) => vec![p],
        None => vec![(
            format!(" {} ", m.instance_name(s.key.instance)),
            theme.style("bar.desc"),
        )],
    };
    status_bar(buf, l.status, &left, &right, theme);
}

fn header(buf: &mut Buffer, area: Rect, m: &Model, s: &AppScreen, theme: &Theme) {
    let row = m.fleet.get(&s.key);
    let line = |i: u16| Rect {
        y: area.y + i,
        height: 1,
        ..area
    };
    let sym = m.symbols;
    let mut title: Vec<Piece> = vec![
        (format!(" {} ", s.key.name), theme.style("title")),
        (
            format!(" on {}", m.instance_name(s.key.instance)),
            theme.style("text.dim"),
        ),
    ];
    if let Some(r) = row {
        title.push((format!("   project {}", r.project), theme.style("text")));
        title.push((
            format!("   → {} / {}", r.cluster, r.dest_namespace),
            theme.style("text"),
        ));
    }
    put_pieces(buf, line(0), &title);
    let app: Option<&Application> = s.app.ready().map(|b| b.as_ref());
    match (&s.app, row) {
        (Load::Failed(e), _) => {
            put(
                buf,
                1,
                area.y + 1,
                &format!("Cannot load the application: {e}"),
                area.width as usize - 1,
                theme.style("error"),
            );
        }
        (_, None) if app.is_none() => {
            put(
                buf,
                1,
                area.y + 1,
                "This application is no longer in the fleet.",
                area.width as usize - 1,
                theme.style("warning"),
            );
        }
        _ => {}
    }
    // Status from the app object when loaded, else from the fleet row.
    let (sync, health, hmsg, rev) = match (app, row) {
        (Some(a), _) => (
            Sync::parse(&a.status.sync.status),
            Health::parse(&a.status.health.status),
            a.status.health.message.clone(),
            a.status.sync.revision.clone(),
        ),
        (None, Some(r)) => (
            r.sync,
            r.health,
            r.health_message.clone(),
            r.revision.clone(),
        ),
        (None, None) => return,
    };
    let short = |r: &str| {
        if r.len() == 40 {
            r[..7].to_string()
        } else {
            r.to_string()
        }
    };
    let target = app
        .and_then(|a| a.spec.source.as_ref().or(a.spec.sources.first()))
        .map(|src| src.target_revision.clone())
        .unwrap_or_default();
    let mut l1: Vec<Piece> = vec![
        (" Sync ".into(), theme.style("text.dim")),
        (
            format!("{} {}", sym.sync(sync), sync),
            theme.style(sync_role(sync)),
        ),
    ];
    if !rev.is_empty() {
        l1.push((format!(" to {}", short(&rev)), theme.style("text")));
        if !target.is_empty() && target != rev {
            l1.push((format!(" ({target})"), theme.style("text.dim")));
        }
    }
    l1.push(("    Health ".into(), theme.style("text.dim")));
    l1.push((
        format!("{} {}", sym.health(health), health),
        theme.style(health_role(health)),
    ));
    if !hmsg.is_empty() {
        l1.push((format!(": {hmsg}"), theme.style("text")));
    }
    put_pieces(buf, line(1), &l1);
    let mut l2: Vec<Piece> = vec![(" Operation ".into(), theme.style("text.dim"))];
    let op = app.and_then(|a| a.status.operation_state.as_ref());
    match op {
        Some(o) => {
            let phase = OpPhase::parse(&o.phase);
            let when = o
                .finished_at
                .as_deref()
                .and_then(parse_time)
                .or_else(|| parse_time(&o.started_at));
            let who = o
                .operation
                .initiated_by
                .as_ref()
                .map(|i| {
                    if i.automated {
                        "auto-sync".to_string()
                    } else {
                        i.username.clone()
                    }
                })
                .unwrap_or_default();
            match phase {
                Some(p) => l2.push((format!("{} {}", sym.op(p), p), theme.style(op_role(p)))),
                None => l2.push((o.phase.clone(), theme.style("text"))),
            }
            l2.push((format!(" {} ago", m.ago(when)), theme.style("text.dim")));
            if !who.is_empty() {
                l2.push((format!(" by {who}"), theme.style("text.dim")));
            }
            if !o.message.is_empty() {
                l2.push((format!(": {}", o.message), theme.style("text")));
            }
        }
        None => l2.push(("none yet".into(), theme.style("text.dim"))),
    }
    put_pieces(buf, line(2), &l2);
    if let Some(a) = app {
        let src = a.spec.source.as_ref().or(a.spec.sources.first());
        let mut l3: Vec<Piece> = vec![(" Source ".into(), theme.style("text.dim"))];
        if let Some(src) = src {
            let what = if src.chart.is_empty() {
                src.path.clone()
            } else {
                format!("chart {}", src.chart)
            };
            l3.push((format!("{} {what}", src.repo_url), theme.style("text")));
        }
        l3.push(("    Auto-sync ".into(), theme.style("text.dim")));
        let auto = match a
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.automated.as_ref())
        {
            Some(au) if au.enabled != Some(false) => {
                let mut opts = vec![];
                if au.prune {
                    opts.push("prune");
                }
                if au.self_heal {
                    opts.push("self-heal");
                }
                if opts.is_empty() {
                    "on".to_string()
                } else {
                    format!("on ({})", opts.join(", "))
                }
            }
            _ => "off".into(),
        };
        l3.push((auto, theme.style("text")));
        put_pieces(buf, line(3), &l3);
        if !a.status.conditions.is_empty() {
            let c = &a.status.conditions[0];
            let more = if a.status.conditions.len() > 1 {
                format!(" (+{} more)", a.status.conditions.len() - 1)
            } else {
                String::new()
            };
            put(
                buf,
                1,
                area.y + 4,
                &format!("{}: {}{more}", c.kind, c.message),
                area.width as usize - 1,
                theme.style("warning"),
            );
        }
    }
}

/// The label of each tab, as the tab bar shows it (`1 Resources (12)`).
pub fn tab_labels(m: &Model, s: &AppScreen) -> Vec<String> {
    let count = |t: AppTab| -> String {
        let n = match t {
            AppTab::Resources => match (&s.tree, s.app.ready()) {
                (Load::Ready(_), _) => resource_lines(s, m.symbols.ascii).len(),
                (_, Some(a)) => a.status.resources.len(),
                _ => return String::new(),
            },
            AppTab::Conditions => match s.app.ready() {
                Some(a) => a.status.conditions.len(),
                None => return String::new(),
            },
            AppTab::History => match s.app.ready() {
                Some(a) => a.status.history.len(),
                None => return String::new(),
            },
            AppTab::Events => match s.events.ready() {
                Some(e) => e.items.len(),
                None => return String::new(),
            },
            AppTab::Cluster => match &s.cluster {
                Some(Load::Ready(v)) => v.pods.len(),
                Some(Load::Failed(_)) => return " (!)".into(),
                _ => return String::new(),
            },
            AppTab::Decision => {
                return match m.decisions.get(&s.key).map(|v| &v.state) {
                    Some(Load::Ready(i)) => format!(" ({})", i.decision.verdict),
                    Some(Load::Loading) => " (…)".into(),
                    Some(Load::Failed(_)) => " (!)".into(),
                    None => String::new(),
                };
            }
        };
        format!(" ({n})")
    };
    AppTab::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{} {}{}", i + 1, t.title(), count(*t)))
        .collect()
}

/// The tab bar's labels and separator at the screen's width: in full when that fits, else the
/// tabs not shown lose their counts (the decision keeps its verdict), then the separators
/// narrow, so the six tabs and their numbers always show at 80 columns.
fn tab_layout(m: &Model, s: &AppScreen) -> (Vec<String>, String) {
    let full = tab_labels(m, s);
    let bar = format!(" {} ", m.symbols.sep());
    let short: Vec<String> = AppTab::ALL
        .iter()
        .zip(&full)
        .enumerate()
        .map(|(i, (t, l))| {
            if *t == s.tab || *t == AppTab::Decision {
                l.clone()
            } else {
                format!("{} {}", i + 1, t.title())
            }
        })
        .collect();
    let width = |labels: &[String], sep: &str| {
        1 + labels.iter().map(|l| str_width(l)).sum::<usize>()
            + str_width(sep) * labels.len().saturating_sub(1)
    };
    let w = m.size.0 as usize;
    for (labels, sep) in [
        (&full, bar.as_str()),
        (&short, bar.as_str()),
        (&short, "  "),
    ] {
        if width(labels, sep) <= w {
            return (labels.clone(), sep.to_string());
        }
    }
    (short, " ".into())
}

/// The tab under column `x` of the tab bar (what a mouse click there chooses).
pub fn tab_at(m: &Model, s: &AppScreen, x: u16) -> Option<AppTab> {
    let (labels, sep) = tab_layout(m, s);
    let sep = str_width(&sep);
    let mut left = 1;
    for (t, label) in AppTab::ALL.iter().zip(labels) {
        let right = left + str_width(&label);
        if (left..right).contains(&(x as usize)) {
            return Some(*t);
        }
        left = right + sep;
    }
    None
}

fn tabs(buf: &mut Buffer, area: Rect, m: &Model, s: &AppScreen, theme: &Theme) {
    let (labels, sep) = tab_layout(m, s);
    let mut p: Vec<Piece> = vec![(" ".into(), theme.style("text"))];
    for (i, (t, label)) in AppTab::ALL.iter().zip(labels).enumerate() {
        if i > 0 {
            p.push((sep.clone(), theme.style("text.dim")));
        }
        let role = if *t == s.tab { "tab.active" } else { "tab" };
        p.push((label, theme.style(role)));
    }
    put_pieces(buf, area, &p);
}

fn list_header(buf: &mut Buffer, area: Rect, cols: &[(&str, usize)], theme: &Theme) {
    buf.set_style(area, theme.style("header"));
    let mut x = area.x + 1;
    for (t, w) in cols {
        put(buf, x, area.y, &pad(t, *w), *w, theme.style("header"));
        x += *w as u16 + 1;
    }
}

fn loading_or<T>(buf: &mut Buffer, body: Rect, l: &Load<T>, what: &str, theme: &Theme) -> bool {
    match l {
        Load::Loading => {
            put(
                buf,
                body.x + 2,
                body.y,
                &format!("Loading {what}…"),
                body.width as usize,
                theme.style("text.dim"),
            );
            true
        }
        Load::Failed(e) => {
            put(
                buf,
                body.x + 2,
                body.y,
                &format!("Cannot load {what}: {e}"),
                body.width as usize - 2,
                theme.style("error"),
            );
            true
        }
        Load::Ready(_) => false,
    }
}

/// The fleet's row of a child Application of an app of apps (a line of its tree).
pub fn child_row<'a>(
    m: &'a Model,
    s: &AppScreen,
    line: &ResLine,
) -> Option<&'a crate::model::fleet::AppRow> {
    if line.kind != "Application" || line.group != "argoproj.io" {
        return None;
    }
    m.fleet.get(&crate::model::fleet::AppKey {
        instance: s.key.instance,
        namespace: line.namespace.clone(),
        name: line.name.clone(),
    })
}

/// The lines of the Rollouts panel above the resource tree: per Rollout its strategy, step,
/// weight and pause, its stable and canary ReplicaSets with images, and its AnalysisRuns.
pub fn rollout_panel(m: &Model, s: &AppScreen) -> Vec<Vec<(String, &'static str)>> {
    let now = m.now_ms / 1000;
    let narrow = m.size.0 < 110;
    let mut out: Vec<Vec<(String, &'static str)>> = Vec::new();
    if let Some(e) = &s.rollouts_error {
        out.push(vec![(format!(" Rollouts: cannot read them: {e}"), "error")]);
    }
    for r in &s.rollouts {
        let health = match r.phase.as_str() {
            "Paused" => Health::Suspended,
            p => Health::parse(p),
        };
        let mut head: Vec<(String, &'static str)> = vec![
            (format!(" Rollout {} ", r.name), "header"),
            (
                format!("{} {}", m.symbols.health(health), r.phase),
                health_role(health),
            ),
        ];
        let mut facts = if narrow {
            vec![]
        } else {
            vec![r.strategy.to_lowercase()]
        };
        if let Some((i, n)) = r.step {
            facts.push(format!("step {i}/{n}"));
        }
        if let Some(w) = r.set_weight {
            match r.actual_weight {
                Some(a) if a != w && !r.promoted() => {
                    facts.push(format!("weight {w}% (actual {a}%)"))
                }
                _ => facts.push(format!("weight {w}%")),
            }
        }
        head.push((format!(" · {}", facts.join(" · ")), "text"));
        if r.aborted {
            head.push((format!(" · ABORTED: {}", r.message), "health.degraded"));
        } else if let Some(p) = &r.pause {
            let when = match p.remaining(now) {
                Some(0) => "its time is up".to_string(),
                Some(left) => format!("{} left", m.countdown(left)),
                None => "until promoted".to_string(),
            };
            // A canary's own pause step says nothing the phase does not; other reasons do.
            let why = if p.reason == "CanaryPauseStep" && r.phase == "Paused" {
                String::new()
            } else {
                format!(" paused ({}),", p.reason)
            };
            head.push((format!(" ·{why} {when}"), "health.suspended"));
        } else if !r.message.is_empty() && health != Health::Healthy {
            head.push((format!(" · {}", r.message), "text.dim"));
        }
        out.push(head);
        for (label, rs) in [("stable", &r.stable), ("canary", &r.canary)] {
            if let Some(rs) = rs {
                out.push(vec![
                    (format!("   {label:<8}"), "text.dim"),
                    (format!("{} ", rs.name), "text"),
                    (
                        format!(
                            "{} · {}",
                            if rs.images.is_empty() {
                                "-".to_string()
                            } else if narrow {
                                // The repository's last segment and the tag.
                                rs.images
                                    .iter()
                                    .map(|i| i.rsplit('/').next().unwrap_or(i))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            } else {
                                rs.images.join(", ")
                            },
                            crate::util::count(rs.pods, "pod")
                        ),
                        "text.dim",
                    ),
                ]);
            }
        }
        for a in r.analysis.iter().take(2) {
            let h = match a.phase.as_str() {
                "Successful" => Health::Healthy,
                "Failed" | "Error" => Health::Degraded,
                "Inconclusive" => Health::Unknown,
                _ => Health::Progressing,
            };
            let metrics: Vec<String> = a
                .metrics
                .iter()
                .map(|(n, _, ok, count)| format!("{n} {ok}/{count}"))
                .collect();
            let mut line = vec![
                ("   analysis ".to_string(), "text.dim"),
                (format!("{} ", a.name), "text"),
                (
                    format!("{} {}", m.symbols.health(h), a.phase),
                    health_role(h),
                ),
            ];
            if !metrics.is_empty() {
                line.push((format!(" · {}", metrics.join(", ")), "text.dim"));
            }
            if !a.message.is_empty() {
                line.push((format!(" · {}", a.message), "text.dim"));
            }
            out.push(line);
        }
    }
    out
}

/// The current (else last) operation, phase by phase, above the history: each PreSync hook,
/// the Sync phase wave by wave, PostSync and SyncFail hooks, with their state.
pub fn op_panel(m: &Model, s: &AppScreen) -> Vec<Vec<(String, &'static str)>> {
    let Some(app) = s.app.ready() else {
        return vec![];
    };
    let Some(op) = &app.status.operation_state else {
        return vec![];
    };
    let steps = crate::model::operation::steps(op, &app.status.resources);
    if steps.is_empty() {
        return vec![];
    }
    let phase = OpPhase::parse(&op.phase);
    let started = parse_time(&op.started_at);
    let mut out = vec![vec![
        (" Operation ".to_string(), "header"),
        (
            match phase {
                Some(p) => format!("{} {}", m.symbols.op(p), p),
                None => op.phase.clone(),
            },
            phase.map(op_role).unwrap_or("text"),
        ),
        (format!(" {} · ", m.ago(started)), "text.dim"),
        (
            crate::model::operation::progress(op, &app.status.resources),
            "text",
        ),
    ]];
    for st in &steps {
        for (i, it) in st.items.iter().enumerate() {
            let label = if i == 0 { st.label() } else { String::new() };
            let (state, role) = if !it.hook_type.is_empty() {
                let role = match it.hook_phase.as_str() {
                    "Succeeded" => "health.healthy",
                    "Running" | "Pending" => "health.progressing",
                    "Failed" | "Error" => "health.degraded",
                    _ => "text",
                };
                (format!("hook {}", it.hook_phase), role)
            } else {
                let role = match it.status.as_str() {
                    "Synced" | "Pruned" => "sync.synced",
                    "SyncFailed" => "health.degraded",
                    _ => "text.dim",
                };
                (it.status.clone(), role)
            };
            out.push(vec![
                (format!("   {label:<14}"), "text.dim"),
                (format!("{}/{} ", it.kind, it.name), "text"),
                (state, role),
                (
                    if it.message.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}", it.message)
                    },
                    "text.dim",
                ),
            ]);
        }
    }
    out
}

/// The panel above the list of the open tab: the Rollouts (Resources), the operation
/// (History).
pub fn panel(m: &Model, s: &AppScreen) -> Vec<Vec<(String, &'static str)>> {
    match s.tab {
        AppTab::Resources => rollout_panel(m, s),
        AppTab::History => op_panel(m, s),
        _ => vec![],
    }
}

/// Rows the panel takes above the list in a body of `body_h` rows (at most half of it, and a
/// separating row).
pub fn panel_rows(m: &Model, s: &AppScreen, body_h: u16) -> u16 {
    rows_for(panel(m, s).len(), body_h)
}

fn rows_for(lines: usize, body_h: u16) -> u16 {
    if lines == 0 {
        return 0;
    }
    (lines as u16 + 1).min(body_h / 2)
}

/// Draws the panel of the open tab at the top of the list's area; the header and body left.
fn with_panel(
    buf: &mut Buffer,
    head: Rect,
    body: Rect,
    m: &Model,
    s: &AppScreen,
    theme: &Theme,
) -> (Rect, Rect) {
    let lines = panel(m, s);
    let rows = rows_for(lines.len(), body.height + 1);
    if rows == 0 {
        return (head, body);
    }
    for (i, line) in lines.iter().take(rows as usize - 1).enumerate() {
        let area = Rect::new(head.x, head.y + i as u16, head.width, 1);
        let pieces: Vec<Piece> = line
            .iter()
            .map(|(t, role)| (t.clone(), theme.style(role)))
            .collect();
        put_pieces(buf, area, &pieces);
    }
    (
        Rect::new(head.x, head.y + rows, head.width, 1),
        Rect::new(
            body.x,
            body.y + rows,
            body.width,
            body.height.saturating_sub(rows),
        ),
    )
}

fn resources(buf: &mut Buffer, head: Rect, body: Rect, m: &Model, s: &AppScreen, theme: &Theme) {
    let (head, body) = with_panel(buf, head, body, m, s, theme);
    let w = body.width as usize;
    // Fixed: SYNC, HEALTH, AGE and the gaps; the rest is shared by the name and the info.
    let flexible = w.saturating_sub(1 + 13 + 15 + 6 + 1);
    let name_w = (flexible * 11 / 20).max(12);
    let info_w = flexible.saturating_sub(name_w).max(4);
    let cols = [
        ("RESOURCE", name_w),
        ("SYNC", 12),
        ("HEALTH", 14),
        ("INFO", info_w),
        ("AGE", 5),
    ];
    list_header(buf, head, &cols, theme);
    let lines = resource_lines(s, m.symbols.ascii);
    if lines.is_empty() {
        if !loading_or(buf, body, &s.tree, "the resource tree", theme) {
            put(
                buf,
                body.x + 2,
                body.y,
                "No resources.",
                w,
                theme.style("text.dim"),
            );
        }
        return;
    }
    let sym = m.symbols;
    for (row, line) in lines
        .iter()
        .enumerate()
        .skip(s.offset)
        .take(body.height as usize)
    {
        let y = body.y + (row - s.offset) as u16;
        let sel = row == s.cursor;
        let st = |role: &str| theme.pick(role, sel);
        selection_bar(buf, body, y, sel, theme);
        let mut x = body.x + 1;
        let label = format!("{}{}/{}", line.prefix, line.kind, line.name);
        put(buf, x, y, &fit(&label, name_w), name_w, st("text"));
        x += name_w as u16 + 1;
        if let Some(sy) = line.sync {
            put(
                buf,
                x,
                y,
                &format!("{} {}", sym.sync(sy), sy),
                12,
                st(sync_role(sy)),
            );
        }
        x += 13;
        if let Some(h) = line.health {
            put(
                buf,
                x,
                y,
                &format!("{} {}", sym.health(h), h),
                14,
                st(health_role(h)),
            );
        }
        x += 15;
        let mut info = if line.health_message.is_empty() || line.health == Some(Health::Healthy) {
            line.info.clone()
        } else if line.info.is_empty() {
            line.health_message.clone()
        } else {
            format!("{} · {}", line.info, line.health_message)
        };
        // An app of apps: a child Application shows its own sync and health.
        if let Some(child) = child_row(m, s, line) {
            info = format!(
                "app {} {} · {} {}{}",
                sym.sync(child.sync),
                child.sync,
                sym.health(child.health),
                child.health,
                if sel { " · enter opens it" } else { "" }
            );
        }
        put(buf, x, y, &fit(&info, info_w), info_w, st("text.dim"));
        x += info_w as u16 + 1;
        put(buf, x, y, &m.ago(line.created), 5, st("text.dim"));
    }
}

fn conditions(buf: &mut Buffer, head: Rect, body: Rect, m: &Model, s: &AppScreen, theme: &Theme) {
    let w = body.width as usize;
    let cols = [("TYPE", 24), ("AGE", 5), ("MESSAGE", w.saturating_sub(33))];
    list_header(buf, head, &cols, theme);
    if loading_or(buf, body, &s.app, "the application", theme) {
        return;
    }
    let Some(a) = s.app.ready() else { return };
    if a.status.conditions.is_empty() {
        put(
            buf,
            body.x + 2,
            body.y,
            "No conditions: nothing to warn about.",
            w,
            theme.style("text.dim"),
        );
        return;
    }
    for (row, c) in a
        .status
        .conditions
        .iter()
        .enumerate()
        .skip(s.offset)
        .take(body.height as usize)
    {
        let y = body.y + (row - s.offset) as u16;
        let sel = row == s.cursor;
        let st = |role: &str| theme.pick(role, sel);
        selection_bar(buf, body, y, sel, theme);
        let role = if c.kind.ends_with("Error") {
            "error"
        } else {
            "warning"
        };
        put(buf, body.x + 1, y, &fit(&c.kind, 24), 24, st(role));
        put(
            buf,
            body.x + 26,
            y,
            &m.ago(c.last_transition_time.as_deref().and_then(parse_time)),
            5,
            st("text.dim"),
        );
        put(
            buf,
            body.x + 32,
            y,
            &fit(&c.message, w.saturating_sub(33)),
            w.saturating_sub(33),
            st("text"),
        );
    }
}

fn history(buf: &mut Buffer, head: Rect, body: Rect, m: &Model, s: &AppScreen, theme: &Theme) {
    let (head, body) = with_panel(buf, head, body, m, s, theme);
    let w = body.width as usize;
    let cols = [
        ("ID", 4),
        ("REVISION", 10),
        ("DEPLOYED", 20),
        ("AGE", 5),
        (if s.history.is_some() { "AUTHOR" } else { "BY" }, 20),
        (
            if s.history.is_some() {
                "MESSAGE"
            } else {
                "SOURCE"
            },
            w.saturating_sub(65),
        ),
    ];
    list_header(buf, head, &cols, theme);
    if loading_or(buf, body, &s.app, "the application", theme) {
        return;
    }
    let Some(a) = s.app.ready() else { return };
    if a.status.history.is_empty() {
        put(
            buf,
            body.x + 2,
            body.y,
            "No deployment yet.",
            w,
            theme.style("text.dim"),
        );
        return;
    }
    // Newest first, like `argocd app history` shows the most recent at the bottom; here on top.
    let entries: Vec<_> = a.status.history.iter().rev().collect();
    for (row, h) in entries
        .iter()
        .enumerate()
        .skip(s.offset)
        .take(body.height as usize)
    {
        let y = body.y + (row - s.offset) as u16;
        let sel = row == s.cursor;
        let st = |role: &str| theme.pick(role, sel);
        selection_bar(buf, body, y, sel, theme);
        let rev = if h.revision.len() == 40 {
            h.revision[..7].to_string()
        } else {
            h.revision.clone()
        };
        let by = h.initiated_by.as_ref().map(|i| i.who()).unwrap_or_default();
        let src = h
            .source
            .as_ref()
            .map(|s| {
                if s.chart.is_empty() {
                    format!("{} {} @{}", s.repo_url, s.path, s.target_revision)
                } else {
                    format!("{} chart {} {}", s.repo_url, s.chart, s.target_revision)
                }
            })
            .unwrap_or_default();
        // With the revision metadata read: who wrote the commit and what it says.
        let meta = s
            .history
            .as_ref()
            .and_then(|hs| hs.iter().find(|e| e.id == h.id))
            .filter(|e| !e.author.is_empty() || !e.message.is_empty());
        let (by, src) = match meta {
            Some(e) => (
                e.author.split(" <").next().unwrap_or(&e.author).to_string(),
                e.message.lines().next().unwrap_or("").to_string(),
            ),
            None => (by, src),
        };
        let mut x = body.x + 1;
        for (text, width, role) in [
            (h.id.to_string(), 4, "text"),
            (rev, 10, "text"),
            (
                h.deployed_at
                    .replace('T', " ")
                    .trim_end_matches('Z')
                    .to_string(),
                20,
                "text",
            ),
            (m.ago(parse_time(&h.deployed_at)), 5, "text.dim"),
            (by, 20, "text.dim"),
            (src, w.saturating_sub(65), "text.dim"),
        ] {
            put(buf, x, y, &fit(&text, width), width, st(role));
            x += width as u16 + 1;
        }
    }
}

/// The live cluster: the app's pods (container state, restarts) and its namespace's events,
/// read from the cluster through its kube context.
fn cluster(buf: &mut Buffer, head: Rect, body: Rect, m: &Model, s: &AppScreen, theme: &Theme) {
    let w = body.width as usize;
    let cols = [
        ("POD", 40),
        ("READY", 5),
        ("STATE", 18),
        ("RESTARTS", 8),
        ("AGE", 5),
        ("NODE", w.saturating_sub(82)),
    ];
    list_header(buf, head, &cols, theme);
    let v = match &s.cluster {
        None | Some(Load::Loading) => {
            put(
                buf,
                body.x + 2,
                body.y,
                "Reading the cluster…",
                w,
                theme.style("text.dim"),
            );
            return;
        }
        Some(Load::Failed(e)) => {
            let mut y = body.y;
            for l in super::wrap(e, w.saturating_sub(4)) {
                put(buf, body.x + 2, y, &l, w, theme.style("warning"));
                y += 1;
            }
            put(
                buf,
                body.x + 2,
                y + 1,
                "Argo CD's view (Resources, Events) does not depend on it. ctrl-r tries again.",
                w,
                theme.style("text.dim"),
            );
            return;
        }
        Some(Load::Ready(v)) => v,
    };
    let pods_room = (body.height as usize).saturating_sub(4).max(1);
    if v.pods.is_empty() {
        put(
            buf,
            body.x + 2,
            body.y,
            &format!(
                "No pods of this app in {} on {}.",
                s.app
                    .ready()
                    .map(|a| a.spec.destination.namespace.as_str())
                    .unwrap_or(""),
                v.cluster
            ),
            w,
            theme.style("text.dim"),
        );
    }
    for (row, p) in v
        .pods
        .iter()
        .enumerate()
        .skip(s.offset)
        .take(pods_room.min(v.pods.len()))
    {
        let y = body.y + (row - s.offset) as u16;
        let sel = row == s.cursor;
        let st = |role: &str| theme.pick(role, sel);
        selection_bar(buf, body, y, sel, theme);
        let state_role = match p.state.as_str() {
            "Running" | "Completed" => "text",
            "ContainerCreating" | "Pending" | "PodInitializing" => "warning",
            _ => "error",
        };
        let mut x = body.x + 1;
        for (text, width, role) in [
            (p.name.clone(), 40, "text"),
            (p.ready.clone(), 5, "text"),
            (p.state.clone(), 18, state_role),
            (
                p.restarts.to_string(),
                8,
                if p.restarts > 3 {
                    "warning"
                } else {
                    "text.dim"
                },
            ),
            (m.ago(p.created), 5, "text.dim"),
            (p.node.clone(), w.saturating_sub(82), "text.dim"),
        ] {
            put(buf, x, y, &fit(&text, width), width, st(role));
            x += width as u16 + 1;
        }
    }
    let shown = v.pods.len().saturating_sub(s.offset).min(pods_room);
    let mut y = body.y + shown.max(1) as u16 + 1;
    if y >= body.y + body.height {
        return;
    }
    if !v.objects.is_empty() {
        put(
            buf,
            body.x + 1,
            y,
            "Objects as the cluster has them (last writer)",
            w,
            theme.style("header"),
        );
        y += 1;
        for o in &v.objects {
            if y + 2 >= body.y + body.height {
                break;
            }
            let (what, role) = match (&o.error, o.missing) {
                (Some(e), _) => (e.clone(), "warning"),
                (None, true) => ("missing from the cluster".to_string(), "error"),
                (None, false) => (
                    format!("{} {}", o.last_writer, m.ago(o.written)),
                    "text.dim",
                ),
            };
            let line = format!("{:<42} {what}", format!("{} {}", o.kind, o.name));
            put(
                buf,
                body.x + 1,
                y,
                &fit(&line, w.saturating_sub(2)),
                w,
                theme.style(role),
            );
            y += 1;
        }
        y += 1;
        if y >= body.y + body.height {
            return;
        }
    }
    put(
        buf,
        body.x + 1,
        y,
        &format!(
            "Events of the namespace (kube context {}; enter on a pod: its log)",
            v.context
        ),
        w,
        theme.style("header"),
    );
    y += 1;
    for e in &v.events {
        if y >= body.y + body.height {
            break;
        }
        let role = if e.kind == "Warning" {
            "warning"
        } else {
            "text.dim"
        };
        let line = format!(
            "{:>5} {:<8} {:<18} {} {}{}",
            m.ago(e.last),
            e.kind,
            e.reason,
            e.object,
            e.message,
            if e.count > 1 {
                format!(" (x{})", e.count)
            } else {
                String::new()
            }
        );
        put(
            buf,
            body.x + 1,
            y,
            &fit(&line, w.saturating_sub(2)),
            w,
            theme.style(role),
        );
        y += 1;
    }
    if v.events.is_empty() {
        put(buf, body.x + 2, y, "No events.", w, theme.style("text.dim"));
    }
}

fn events(buf: &mut Buffer, head: Rect, body: Rect, m: &Model, s: &AppScreen, theme: &Theme) {
    let w = body.width as usize;
    let cols = [
        ("AGE", 5),
        ("TYPE", 8),
        ("REASON", 20),
        ("COUNT", 5),
        ("MESSAGE", w.saturating_sub(44)),
    ];
    list_header(buf, head, &cols, theme);
    if loading_or(buf, body, &s.events, "events", theme) {
        return;
    }
    let Some(ev) = s.events.ready() else { return };
    if ev.items.is_empty() {
        put(
            buf,
            body.x + 2,
            body.y,
            "No events.",
            w,
            theme.style("text.dim"),
        );
        return;
    }
    let items: Vec<_> = ev.items.iter().rev().collect();
    for (row, e) in items
        .iter()
        .enumerate()
        .skip(s.offset)
        .take(body.height as usize)
    {
        let y = body.y + (row - s.offset) as u16;
        let sel = row == s.cursor;
        let st = |role: &str| theme.pick(role, sel);
        selection_bar(buf, body, y, sel, theme);
        let when = e.last_seen().and_then(parse_time);
        let role = if e.kind == "Warning" {
            "warning"
        } else {
            "text"
        };
        let mut x = body.x + 1;
        for (text, width, r) in [
            (m.ago(when), 5, "text.dim"),
            (e.kind.clone(), 8, role),
            (e.reason.clone(), 20, "text"),
            (e.times().to_string(), 5, "text.dim"),
            (e.message.clone(), w.saturating_sub(44), "text"),
        ] {
            put(buf, x, y, &fit(&text, width), width, st(r));
            x += width as u16 + 1;
        }
    }
}
