//! Acting from the TUI: the dialogs that show a plan and ask for confirmation, and the
//! operations running in the background with their live progress. `update` only builds
//! dialogs and effects from what the runtime prepared; the work is in `crate::actions`.

pub use crate::tui::model::dialog::*;

use crate::actions::sync::SyncPlan;
use crate::model::fleet::AppKey;

// ---- update: pure, no I/O ----

use crate::tui::action::Action;
use crate::tui::effect::Effect;
use crate::tui::model::{AppTab, Model, Overlay, Screen};

/// The app the cursor is on (or the open app).
pub fn current_key(m: &Model) -> Option<AppKey> {
    match &m.screen {
        Screen::Fleet => m.view.selected.clone(),
        Screen::App(s) => Some(s.key.clone()),
        Screen::Diff(d, _) => Some(d.key.clone()),
        Screen::Queue(q) => crate::tui::decisions::queue(&m.fleet.rows, &m.decisions)
            .get(q.cursor)
            .map(|r| r.key.clone()),
        Screen::Logs(l) => Some(l.back.key.clone()),
        Screen::Shadow(_) | Screen::AppSets(_) | Screen::Versions(_) | Screen::Dora(_) => None,
    }
}

/// The apps an action is for: the marked ones on the fleet screen, else the current one.
pub fn targets(m: &Model) -> Vec<AppKey> {
    if matches!(m.screen, Screen::Fleet) && !m.marked.is_empty() {
        return m.marked.iter().cloned().collect();
    }
    current_key(m).into_iter().collect()
}

/// Why actions are not offered on these apps' instances, if they are not.
fn read_only_reason(m: &Model, keys: &[AppKey]) -> Option<String> {
    if m.read_only {
        return Some("read-only (--read-only or `read_only = true`): actions are off".into());
    }
    keys.iter()
        .find(|k| {
            m.instances
                .get(k.instance as usize)
                .is_some_and(|i| i.read_only)
        })
        .map(|k| {
            format!(
                "{} is read-only in the config: actions are off there",
                m.instance_name(k.instance)
            )
        })
}

fn flash(m: &mut Model, text: String, error: bool) {
    m.flash = Some(crate::tui::model::Flash {
        text,
        error,
        until_ms: m.now_ms + 6000,
    });
}

fn new_op(m: &mut Model, act: Act) -> Effect {
    let op = m.req();
    // A sync, deferral, rollback or incident annotation of a drifted app answers the decision
    // about its drift: the journal records it as the operator's verdict.
    let answers = matches!(
        act,
        Act::Sync { .. } | Act::Defer { .. } | Act::Rollback { .. } | Act::Annotate { .. }
    );
    let decision = answers
        .then(|| {
            m.decisions
                .get(act.key())
                .and_then(|v| v.info())
                .and_then(|i| i.seq)
        })
        .flatten();
    m.ops.push(OpView {
        id: op,
        key: act.key().clone(),
        verb: act.verb(),
        progress: "starting".into(),
        done: None,
        ended_ms: 0,
    });
    Effect::Act { op, act, decision }
}

fn open_loading(m: &mut Model, title: &str, what: Prepare) -> Vec<Effect> {
    let req = m.req();
    m.overlay = Overlay::Dialog(Box::new(Dialog::loading(
        req,
        title,
        "reading the app, its plan and your RBAC (can-i)",
    )));
    vec![Effect::Prepare { req, what }]
}

/// Starts the action bound to `a` from the current screen.
pub fn start(m: &mut Model, a: Action) -> Vec<Effect> {
    if a == Action::ToggleMark {
        if let Some(k) = m.view.selected.clone()
            && !m.marked.remove(&k)
        {
            m.marked.insert(k);
        }
        let page = crate::tui::ui::layout::fleet_page(m);
        m.view.move_by(1, &m.fleet, page);
        return vec![];
    }
    let keys = targets(m);
    let Some(first) = keys.first().cloned() else {
        flash(m, "no app selected".into(), true);
        return vec![];
    };
    if a != Action::Adopt
        && let Some(why) = read_only_reason(m, &keys)
    {
        flash(m, why, true);
        return vec![];
    }
    match a {
        Action::Refresh | Action::HardRefresh => {
            let n = keys.len();
            let fx = keys
                .into_iter()
                .map(|key| {
                    new_op(
                        m,
                        Act::Refresh {
                            key,
                            hard: a == Action::HardRefresh,
                        },
                    )
                })
                .collect();
            if n > 1 {
                m.marked.clear();
            }
            fx
        }
        Action::Sync => {
            let title = if keys.len() > 1 {
                format!("Sync {} apps", keys.len())
            } else {
                format!("Sync {}", first.name)
            };
            open_loading(m, &title, Prepare::Sync(keys))
        }
        Action::Terminate => open_loading(
            m,
            &format!("Terminate the operation of {}", first.name),
            Prepare::Terminate(first),
        ),
        Action::Defer => open_loading(m, &format!("Defer {}", first.name), Prepare::Defer(first)),
        Action::Annotate => open_loading(
            m,
            &format!("Annotate incident drift of {}", first.name),
            Prepare::Annotate(first),
        ),
        Action::Adopt => {
            let verdict = m
                .decisions
                .get(&first)
                .and_then(|d| d.info())
                .map(|i| i.decision.verdict);
            match verdict {
                Some(crate::decide::Verdict::Allow) => open_loading(
                    m,
                    &format!("Adopt the drift of {}", first.name),
                    Prepare::Adopt(first),
                ),
                Some(v) => {
                    flash(
                        m,
                        format!(
                            "adopt is for drift the decision allows; {} is `{v}` (record your own verdict with A first if you disagree)",
                            first.name
                        ),
                        true,
                    );
                    vec![]
                }
                None => {
                    flash(
                        m,
                        "adopt needs a decision that allows the drift: open the decision tab (5) first".into(),
                        true,
                    );
                    vec![]
                }
            }
        }
        Action::ResourceActions => match resource_under_cursor(m) {
            Ok(spec) => open_loading(
                m,
                &format!("Actions for {} of {}", spec.label(), first.name),
                Prepare::ResourceActions { key: first, spec },
            ),
            Err(why) => {
                flash(m, why, true);
                vec![]
            }
        },
        Action::Rollback => {
            let Screen::App(s) = &m.screen else {
                flash(
                    m,
                    "rollback: open the app, its History tab (3), choose a deployment, then b"
                        .into(),
                    true,
                );
                return vec![];
            };
            let id = match (&s.tab, s.app.ready()) {
                (AppTab::History, Some(app)) => {
                    app.status.history.iter().rev().nth(s.cursor).map(|h| h.id)
                }
                _ => None,
            };
            match id {
                Some(id) => open_loading(
                    m,
                    &format!("Roll back {} to #{id}", first.name),
                    Prepare::Rollback { key: first, id },
                ),
                None => {
                    flash(
                        m,
                        "rollback: on the History tab (3), put the cursor on a deployment, then b"
                            .into(),
                        true,
                    );
                    vec![]
                }
            }
        }
        _ => vec![],
    }
}

/// The resource a resource action is for: the line under the cursor on the app's Resources
/// tab; elsewhere on the app screen, its workload (a Rollout, Deployment or StatefulSet).
pub fn resource_under_cursor(m: &Model) -> Result<crate::actions::resource::ResourceSpec, String> {
    use crate::actions::resource::ResourceSpec;
    let Screen::App(s) = &m.screen else {
        return Err(
            "resource actions: open the app (enter), put the cursor on a resource, then x".into(),
        );
    };
    if s.tab == AppTab::Resources {
        let lines = crate::tui::ui::app::resource_lines(s, m.symbols.ascii);
        return lines
            .get(s.cursor)
            .map(|l| ResourceSpec {
                kind: l.kind.clone(),
                name: l.name.clone(),
                namespace: l.namespace.clone(),
                group: Some(l.group.clone()),
            })
            .ok_or_else(|| "resource actions: the app has no resources yet".to_string());
    }
    s.app
        .ready()
        .and_then(|a| {
            ["Rollout", "Deployment", "StatefulSet"]
                .iter()
                .find_map(|k| {
                    a.status
                        .resources
                        .iter()
                        .find(|r| r.kind == *k)
                        .map(|r| ResourceSpec {
                            kind: r.kind.clone(),
                            name: r.name.clone(),
                            namespace: r.namespace.clone(),
                            group: Some(r.group.clone()),
                        })
                })
        })
        .ok_or_else(|| {
            "resource actions: on the Resources tab (1), put the cursor on a resource, then x"
                .to_string()
        })
}

/// The parameter names the offered actions take, each once, in order.
fn action_params(actions: &[crate::clients::argocd::ResourceAction]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in actions.iter().flat_map(|a| &a.params) {
        if !out.contains(&p.name) {
            out.push(p.name.clone());
        }
    }
    out
}

/// The action chosen in the pick dialog: the toggled one, else the one under the focus.
fn chosen_action(d: &Dialog) -> Option<usize> {
    d.fields
        .iter()
        .find_map(|f| match (f.id, &f.value) {
            (FieldId::ResourceAction(i), FieldValue::Toggle(true)) => Some(i),
            _ => None,
        })
        .or_else(|| match d.fields.get(d.focus).map(|f| f.id) {
            Some(FieldId::ResourceAction(i)) => Some(i),
            _ => None,
        })
}

fn sync_fields(plans: &[(AppKey, SyncPlan)]) -> Vec<Field> {
    let mut f = vec![
        Field::toggle(
            FieldId::Prune,
            "prune: delete live resources Git no longer has",
            false,
        ),
        Field::toggle(FieldId::DryRun, "dry run", false),
        Field::toggle(
            FieldId::Force,
            "force (replace what cannot be patched)",
            false,
        ),
        Field::toggle(FieldId::ApplyOnly, "apply only (skip hooks)", false),
    ];
    for o in SYNC_OPTIONS {
        f.push(Field::toggle(FieldId::SyncOption(o), *o, false));
    }
    if let [(_, p)] = plans {
        for (i, c) in p.changes.iter().chain(&p.prunable).enumerate() {
            let verb = match c.change {
                crate::actions::sync::Change::Create => "create",
                crate::actions::sync::Change::Prune => "prune",
                crate::actions::sync::Change::Update => "update",
            };
            f.push(Field::toggle(
                FieldId::Resource(i),
                format!("{verb} {}", c.label()),
                true,
            ));
        }
    }
    f
}

/// The plans with the dialog's options applied (and, for one app, its resource selection).
pub fn effective(d: &Dialog) -> Vec<(AppKey, SyncPlan)> {
    let DialogKind::Sync { plans, .. } = &d.kind else {
        return vec![];
    };
    plans
        .iter()
        .map(|(k, p)| {
            let mut p = p.clone();
            p.spec.prune = d.toggle(FieldId::Prune);
            p.spec.dry_run = d.toggle(FieldId::DryRun);
            p.spec.force = d.toggle(FieldId::Force);
            p.spec.apply_only = d.toggle(FieldId::ApplyOnly);
            p.spec.options = SYNC_OPTIONS
                .iter()
                .filter(|o| d.toggle(FieldId::SyncOption(o)))
                .map(|o| o.to_string())
                .collect();
            if plans.len() == 1 {
                let all: Vec<_> = p.changes.iter().chain(&p.prunable).cloned().collect();
                let chosen: Vec<bool> = (0..all.len())
                    .map(|i| d.toggle(FieldId::Resource(i)))
                    .collect();
                if chosen.iter().any(|c| !c) {
                    p.spec.resources = all
                        .iter()
                        .zip(&chosen)
                        .filter(|(_, c)| **c)
                        .map(|(i, _)| i.resource())
                        .collect();
                    let keep = |i: &crate::actions::sync::PlanItem| {
                        p.spec.resources.iter().any(|r| *r == i.resource())
                    };
                    let changes: Vec<_> = p.changes.iter().filter(|i| keep(i)).cloned().collect();
                    let prunable: Vec<_> = p.prunable.iter().filter(|i| keep(i)).cloned().collect();
                    p.changes = changes;
                    p.prunable = prunable;
                }
            }
            (k.clone(), p)
        })
        .collect()
}

/// Recomputes the lines of a sync dialog from its plans and options.
pub fn sync_lines(d: &mut Dialog) {
    let DialogKind::Sync {
        refused,
        prune_step,
        ..
    } = &d.kind
    else {
        return;
    };
    let (refused, prune_step) = (refused.clone(), *prune_step);
    let eff = effective(d);
    let mut lines = Vec::new();
    if prune_step {
        lines.push("PRUNE: these live resources will be DELETED from their clusters:".into());
        for (_, p) in &eff {
            for i in &p.prunable {
                lines.push(format!(
                    "  {} / {} / {}: {}",
                    p.target.instance,
                    p.cluster,
                    p.target.name,
                    i.label()
                ));
            }
        }
        lines.push(String::new());
        lines.push("enter: delete them and sync · esc: back to the plan".into());
    } else {
        for (_, p) in &eff {
            lines.extend(p.lines());
            if let Some(b) = p.blocked() {
                lines.push(format!("BLOCKED: {b}"));
            }
            lines.push(String::new());
        }
        for (k, why) in &refused {
            lines.push(format!("{}: not offered: {why}", k.name));
        }
    }
    d.lines = lines;
}

/// Builds the dialog from what the runtime prepared.
pub fn prepared(m: &mut Model, req: u64, result: Result<Prepared, String>) -> Vec<Effect> {
    let Overlay::Dialog(d) = &mut m.overlay else {
        return vec![];
    };
    if d.req != req {
        return vec![];
    }
    let prepared = match result {
        Ok(p) => p,
        Err(e) => {
            d.lines = vec![e];
            d.kind = DialogKind::Info { copy: None };
            return vec![];
        }
    };
    match prepared {
        Prepared::Sync(results) => {
            let mut plans = Vec::new();
            let mut refused = Vec::new();
            for (k, r) in results {
                match r {
                    Ok(p) => plans.push((k, p)),
                    Err(e) => refused.push((k, e)),
                }
            }
            if plans.is_empty() {
                d.lines = refused
                    .iter()
                    .map(|(k, e)| format!("{}: {e}", k.name))
                    .collect();
                d.kind = DialogKind::Info { copy: None };
                return vec![];
            }
            let protected: Vec<String> = plans
                .iter()
                .filter(|(_, p)| p.protected)
                .map(|(k, _)| k.name.clone())
                .collect();
            d.fields = sync_fields(&plans);
            if !protected.is_empty() {
                let name = protected.join(",");
                d.fields.push(Field::text(
                    FieldId::ConfirmName,
                    format!("protected: type {name} to confirm"),
                    "",
                ));
                d.confirm_name = Some(name);
            }
            d.kind = DialogKind::Sync {
                plans,
                refused,
                prune_step: false,
            };
            sync_lines(d);
        }
        Prepared::Rollback { key, plan, diff } => {
            let reason = "rollback from driftdeck";
            d.lines = plan.lines(reason);
            d.lines.push(String::new());
            d.lines.extend(diff);
            d.fields = vec![Field::text(FieldId::Reason, "reason", reason)];
            if plan.protected {
                d.fields.push(Field::text(
                    FieldId::ConfirmName,
                    format!("protected: type {} to confirm", key.name),
                    "",
                ));
                d.confirm_name = Some(key.name.clone());
            }
            d.kind = DialogKind::Rollback { key, plan };
        }
        Prepared::Simple {
            prepare,
            lines,
            protected,
        } => {
            d.lines = lines;
            let (kind, key) = match prepare {
                Prepare::Terminate(key) => (DialogKind::Terminate { key: key.clone() }, key),
                Prepare::Defer(key) => {
                    let now = chrono::DateTime::from_timestamp_millis(m.now_ms).unwrap_or_default();
                    let until = m
                        .decisions
                        .get(&key)
                        .and_then(|d| d.info())
                        .and_then(|i| i.decision.not_before)
                        .filter(|t| *t > now)
                        .unwrap_or(now + chrono::Duration::hours(1));
                    d.fields = vec![
                        Field::text(
                            FieldId::Until,
                            "until (2h, 30m, tomorrow 02:00 or RFC 3339)",
                            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        ),
                        Field::text(FieldId::Reason, "reason (required)", ""),
                    ];
                    d.focus = 1;
                    (DialogKind::Defer { key: key.clone() }, key)
                }
                Prepare::Annotate(key) => {
                    d.fields = vec![
                        Field::text(FieldId::Incident, "incident id (required)", ""),
                        Field::text(FieldId::Note, "note", ""),
                        Field::toggle(
                            FieldId::LabelResources,
                            "label the drifted live resources",
                            true,
                        ),
                    ];
                    (DialogKind::Annotate { key: key.clone() }, key)
                }
                _ => return vec![],
            };
            // Every action on a protected app asks for its name, annotate too (it writes to
            // the app and labels its live resources), as the headless commands do.
            if protected {
                d.fields.push(Field::text(
                    FieldId::ConfirmName,
                    format!("protected: type {} to confirm", key.name),
                    "",
                ));
                d.confirm_name = Some(key.name.clone());
            }
            d.kind = kind;
        }
        Prepared::ResourceActions {
            key,
            spec,
            resource,
            actions,
        } => {
            d.lines = vec![format!(
                "{} {}/{} ({}/{}): what Argo CD offers now",
                resource.kind, resource.namespace, resource.name, resource.group, resource.version
            )];
            if actions.is_empty() {
                d.lines
                    .push("no actions: Argo CD defines none for this kind".to_string());
                d.kind = DialogKind::Info { copy: None };
                return vec![];
            }
            for a in actions.iter().filter(|a| a.disabled) {
                d.lines.push(format!("  {} (not now: disabled)", a.name));
            }
            d.lines.push(
                "space or enter picks an action; enter then shows its plan to confirm".to_string(),
            );
            let params = action_params(&actions);
            d.fields = actions
                .iter()
                .enumerate()
                .filter(|(_, a)| !a.disabled)
                .map(|(i, a)| {
                    let name = if resource.kind == "Rollout" && a.name == "resume" {
                        "resume (promote)".to_string()
                    } else if a.display_name.is_empty() {
                        a.name.clone()
                    } else {
                        format!("{} ({})", a.name, a.display_name)
                    };
                    Field::toggle(
                        FieldId::ResourceAction(i),
                        format!(
                            "{name}: {}",
                            crate::actions::resource::describe(&resource.kind, &a.name)
                        ),
                        false,
                    )
                })
                .collect();
            for (i, p) in params.iter().enumerate() {
                let takers: Vec<&str> = actions
                    .iter()
                    .filter(|a| a.params.iter().any(|x| x.name == *p))
                    .map(|a| a.name.as_str())
                    .collect();
                d.fields.push(Field::text(
                    FieldId::ActionParam(i),
                    format!("{p} (for {})", takers.join(", ")),
                    "",
                ));
            }
            if d.fields
                .iter()
                .all(|f| matches!(f.id, FieldId::ActionParam(_)))
            {
                d.lines.push("every action is disabled now".to_string());
                d.kind = DialogKind::Info { copy: None };
                return vec![];
            }
            d.kind = DialogKind::PickResourceAction {
                key,
                spec,
                actions,
                params,
            };
        }
        Prepared::ResourceAction { key, plan } => {
            d.lines = plan.lines.clone();
            d.fields = vec![];
            d.focus = 0;
            if plan.protected {
                d.fields.push(Field::text(
                    FieldId::ConfirmName,
                    format!("protected: type {} to confirm", key.name),
                    "",
                ));
                d.confirm_name = Some(key.name.clone());
            }
            d.lines.push(String::new());
            d.lines.push("enter: run it · esc: cancel".to_string());
            d.kind = DialogKind::ResourceAction { key, plan };
        }
        Prepared::Adopt { text, resources } => {
            d.lines = vec![format!(
                "{}: commit one of these to Git (enter copies both, OSC 52); driftdeck never writes to Git",
                crate::util::count(resources, "resource")
            )];
            d.lines.push(String::new());
            d.lines.extend(text.lines().map(str::to_string));
            d.kind = DialogKind::Info { copy: Some(text) };
        }
    }
    vec![]
}

/// Keys while a dialog is open.
pub fn dialog_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let Overlay::Dialog(d) = &mut m.overlay else {
        return vec![];
    };
    match a {
        Action::Cancel | Action::Back => {
            if let DialogKind::Sync { prune_step, .. } = &mut d.kind
                && *prune_step
            {
                *prune_step = false;
                sync_lines(d);
                return vec![];
            }
            m.overlay = Overlay::None;
        }
        Action::SelectNext | Action::SelectPrev => {
            let n = d.fields.len();
            if n > 0 {
                d.focus = if a == Action::SelectNext {
                    (d.focus + 1) % n
                } else {
                    (d.focus + n - 1) % n
                };
            }
        }
        Action::PageDown => d.scroll += 10,
        Action::PageUp => d.scroll = d.scroll.saturating_sub(10),
        Action::ToggleItem => {
            let focus = d.focus;
            // The actions of a resource are a choice of one.
            if let Some(FieldId::ResourceAction(_)) = d.fields.get(focus).map(|f| f.id) {
                for (i, f) in d.fields.iter_mut().enumerate() {
                    if let (FieldId::ResourceAction(_), FieldValue::Toggle(on)) =
                        (f.id, &mut f.value)
                    {
                        *on = i == focus && !*on;
                    }
                }
                d.error = None;
                return vec![];
            }
            match d.fields.get_mut(focus).map(|f| &mut f.value) {
                Some(FieldValue::Toggle(on)) => *on = !*on,
                Some(FieldValue::Text(t)) => t.push(' '),
                None => {}
            }
            d.error = None;
            sync_lines(d);
        }
        Action::DeleteChar => {
            if let Some(t) = d.text_focus() {
                t.pop();
            }
        }
        Action::DeleteWord => {
            if let Some(t) = d.text_focus() {
                let trimmed = t.trim_end().len();
                t.truncate(trimmed);
                let cut = t.rfind(' ').map(|i| i + 1).unwrap_or(0);
                t.truncate(cut);
            }
        }
        Action::ClearLine => {
            if let Some(t) = d.text_focus() {
                t.clear();
            }
        }
        Action::Accept => return accept(m),
        _ => {}
    }
    vec![]
}

/// A typed character goes to the focused text field; in the verdict question it answers.
pub fn type_char(m: &mut Model, c: char) -> Vec<Effect> {
    let Overlay::Dialog(d) = &mut m.overlay else {
        return vec![];
    };
    if let DialogKind::ChooseVerdict {
        key,
        decision_seq,
        team,
    } = &d.kind
    {
        use crate::decide::Verdict;
        let chosen = match c.to_ascii_lowercase() {
            'a' => Verdict::Allow,
            'f' | 'd' => Verdict::Defer,
            'e' => Verdict::Enforce,
            'h' | 'n' => Verdict::NeedsHuman,
            _ => {
                d.error = Some(
                    "answer with a (allow), f (defer), e (enforce) or h (needs-human); esc cancels"
                        .into(),
                );
                return vec![];
            }
        };
        let fx = vec![if *team {
            Effect::ReviewTeam {
                key: key.clone(),
                decision_seq: *decision_seq,
                chosen,
            }
        } else {
            Effect::Review {
                key: key.clone(),
                decision_seq: *decision_seq,
                advised: Verdict::NeedsHuman,
                chosen,
            }
        }];
        m.overlay = Overlay::None;
        return fx;
    }
    if let Some(t) = d.text_focus() {
        t.push(c);
        d.error = None;
    }
    vec![]
}

/// The question `y` asks when the advice is `needs-human`: approving it says nothing about
/// what should happen, so the operator chooses.
pub fn choose_verdict(m: &mut Model, key: AppKey, decision_seq: u64, team: bool) {
    let req = m.req();
    m.overlay = Overlay::Dialog(Box::new(Dialog {
        req,
        title: format!("Your verdict on {}", key.name),
        lines: vec![
            "The advice is needs-human: there was no safe automatic answer.".into(),
            "What do you choose? It is recorded as your review of this decision.".into(),
            String::new(),
            "  a  allow: the drift may stay".into(),
            "  f  defer: revert it at the next sync window".into(),
            "  e  enforce: revert it to Git now".into(),
            "  h  needs-human: you cannot decide either (escalate)".into(),
        ],
        fields: vec![],
        focus: 0,
        error: None,
        kind: DialogKind::ChooseVerdict {
            key,
            decision_seq,
            team,
        },
        scroll: 0,
        confirm_name: None,
    }));
}

fn accept(m: &mut Model) -> Vec<Effect> {
    let Overlay::Dialog(d) = &mut m.overlay else {
        return vec![];
    };
    if let Some(name) = &d.confirm_name
        && d.text(FieldId::ConfirmName) != name
    {
        d.error = Some(format!("{name} is protected: type its name to confirm"));
        d.focus = d
            .fields
            .iter()
            .position(|f| f.id == FieldId::ConfirmName)
            .unwrap_or(d.focus);
        return vec![];
    }
    let kind = d.kind.clone();
    let acts: Vec<Act> = match kind {
        DialogKind::Loading => return vec![],
        DialogKind::ChooseVerdict { .. } => {
            d.error = Some(
                "answer with a (allow), f (defer), e (enforce) or h (needs-human); esc cancels"
                    .into(),
            );
            return vec![];
        }
        DialogKind::Info { copy } | DialogKind::Text { copy } => {
            m.overlay = Overlay::None;
            return copy.map(Effect::Clipboard).into_iter().collect();
        }
        DialogKind::Sync { prune_step, .. } => {
            let eff = effective(d);
            let go: Vec<_> = eff
                .iter()
                .filter(|(_, p)| p.blocked().is_none())
                .cloned()
                .collect();
            if go.is_empty() {
                d.error = Some(
                    "every selected app is blocked (see BLOCKED above); nothing was started".into(),
                );
                return vec![];
            }
            let prunes = go
                .iter()
                .any(|(_, p)| p.spec.prune && !p.prunable.is_empty());
            if prunes && !prune_step {
                if let DialogKind::Sync { prune_step, .. } = &mut d.kind {
                    *prune_step = true;
                }
                sync_lines(d);
                return vec![];
            }
            m.marked.clear();
            go.into_iter()
                .map(|(key, plan)| Act::Sync {
                    key,
                    plan: Box::new(plan),
                })
                .collect()
        }
        DialogKind::Rollback { key, plan } => {
            let reason = d.text(FieldId::Reason).trim().to_string();
            if reason.is_empty() {
                d.error =
                    Some("a rollback needs a reason (it is recorded on the Application)".into());
                return vec![];
            }
            vec![Act::Rollback { key, plan, reason }]
        }
        DialogKind::RestoreAutoSync { key } => vec![Act::RestoreAutoSync { key }],
        DialogKind::Terminate { key } => vec![Act::Terminate { key }],
        DialogKind::Defer { key } => {
            let until = d.text(FieldId::Until).trim().to_string();
            let reason = d.text(FieldId::Reason).trim().to_string();
            let now = chrono::DateTime::from_timestamp_millis(m.now_ms).unwrap_or_default();
            let until = match crate::actions::defer::parse_until(&until, now) {
                Ok(t) => t,
                Err(e) => {
                    d.error = Some(format!("until: {e}"));
                    d.focus = 0;
                    return vec![];
                }
            };
            if reason.is_empty() {
                d.error =
                    Some("a deferral needs a reason (it is recorded on the Application)".into());
                d.focus = 1;
                return vec![];
            }
            vec![Act::Defer { key, until, reason }]
        }
        DialogKind::PickResourceAction {
            key,
            spec,
            actions,
            params,
        } => {
            let Some(i) = chosen_action(d) else {
                d.error = Some("pick an action first (space on it)".into());
                return vec![];
            };
            let Some(a) = actions.get(i) else {
                return vec![];
            };
            let mut values = Vec::new();
            for p in &a.params {
                let idx = params.iter().position(|n| *n == p.name).unwrap_or(0);
                let v = d.text(FieldId::ActionParam(idx)).trim().to_string();
                if v.is_empty() {
                    d.error = Some(format!("{} needs a value for {}", a.name, p.name));
                    d.focus = d
                        .fields
                        .iter()
                        .position(|f| f.id == FieldId::ActionParam(idx))
                        .unwrap_or(d.focus);
                    return vec![];
                }
                values.push((p.name.clone(), v));
            }
            let title = format!("{} {} of {}", a.name, spec.label(), key.name);
            return open_loading(
                m,
                &title,
                Prepare::ResourceAction {
                    key,
                    spec,
                    action: a.name.clone(),
                    params: values,
                },
            );
        }
        DialogKind::ResourceAction { key, plan } => vec![Act::ResourceAction { key, plan }],
        DialogKind::Annotate { key } => {
            let incident = d.text(FieldId::Incident).trim().to_string();
            if let Err(e) = crate::actions::annotate::check_incident(&incident) {
                d.error = Some(e);
                d.focus = 0;
                return vec![];
            }
            vec![Act::Annotate {
                key,
                incident,
                note: d.text(FieldId::Note).trim().to_string(),
                label: d.toggle(FieldId::LabelResources),
            }]
        }
    };
    m.overlay = Overlay::None;
    acts.into_iter().map(|a| new_op(m, a)).collect()
}

pub fn progress(m: &mut Model, op: u64, text: String) {
    if let Some(o) = m.ops.iter_mut().find(|o| o.id == op) {
        o.progress = text;
    }
}

pub fn done(
    m: &mut Model,
    op: u64,
    result: Result<String, String>,
    then: Option<Then>,
) -> Vec<Effect> {
    let now = m.now_ms;
    let Some(o) = m.ops.iter_mut().find(|o| o.id == op) else {
        return vec![];
    };
    o.done = Some(result.clone());
    o.ended_ms = now;
    let key = o.key.clone();
    let verb = o.verb;
    // An ended deferral leaves the fleet (its annotations are gone); one that could not be
    // ended stays marked, so it is not asked again every second (the operation line says why).
    if verb == "end deferral" && result.is_ok() {
        m.restoring.remove(&key);
    }
    match then {
        Some(Then::OfferRestore(k)) if matches!(m.overlay, Overlay::None) => {
            let req = m.req();
            m.overlay = Overlay::Dialog(Box::new(Dialog {
                req,
                title: format!("Restore auto-sync of {}?", k.name),
                lines: vec![
                    format!("The rollback of {} is done: {}", k.name, result.clone().unwrap_or_default()),
                    "Auto-sync is paused; turned back on, it syncs Git's revision again and undoes the rollback.".into(),
                    "Restore it once the fix is in Git. The previous policy is recorded on the Application.".into(),
                    String::new(),
                    "enter: restore auto-sync now · esc: keep it paused".into(),
                ],
                fields: vec![],
                focus: 0,
                error: None,
                kind: DialogKind::RestoreAutoSync { key: k },
                scroll: 0,
                confirm_name: None,
            }));
        }
        _ => {}
    }
    // What was just done is context for the next decision (a deferral, an incident, a
    // rollback and its restore): decide the app again, with it.
    let context = matches!(
        verb,
        "defer"
            | "annotate"
            | "rollback"
            | "restore auto-sync"
            | "end deferral"
            | "resource action"
    );
    let mut fx = if context {
        super::ask_decisions(m, vec![key.clone()], true)
    } else {
        vec![]
    };
    // The open app shows the result at once.
    if matches!(&m.screen, Screen::App(s) if s.key == key) {
        fx.extend(super::reload_open(m));
    }
    fx
}

/// Each second: forget finished operations after a while, and end the deferrals that are
/// due (unless read-only).
pub fn tick(m: &mut Model) -> Vec<Effect> {
    let now = m.now_ms;
    let mut fx = Vec::new();
    if m.team.configured
        && !m.team.loading
        && now - m.team.asked_ms >= crate::tui::model::TEAM_EVERY_MS
    {
        m.team.loading = true;
        m.team.asked_ms = now;
        fx.push(Effect::FetchTeam { since: m.team.next });
    }
    let before = m.ops.len();
    m.ops
        .retain(|o| o.done.is_none() || now - o.ended_ms < OP_LINGER_MS);
    if m.ops.len() != before {
        m.dirty = true;
    }
    let due: Vec<AppKey> = m
        .fleet
        .rows
        .iter()
        .filter(|r| r.deferred_until.is_some_and(|t| t * 1000 <= now))
        .filter(|r| !m.restoring.contains(&r.key))
        .filter(|r| {
            !m.read_only
                && m.instances
                    .get(r.key.instance as usize)
                    .is_some_and(|i| !i.read_only)
        })
        .map(|r| r.key.clone())
        .collect();
    for key in due {
        m.restoring.insert(key.clone());
        fx.push(new_op(m, Act::RestoreDeferral { key }));
    }
    fx
}
