//! Decisions in the TUI: what the model keeps of them, the fleet-wide drift queue, the shadow
//! report, and the runtime's side (deciding off the event loop, journaling, autonomous acts,
//! operator reviews).

use std::collections::HashMap;
use std::sync::Arc;

use crate::clients::argocd::ArgoClient;
use crate::decide::Verdict;
use crate::decide::autonomy::Gate;
use crate::decide::decider::Mode;
pub use crate::decide::service::{
    Service as DecideKit, ShadowReport, record_review, shadow_report,
};
use crate::model::fleet::{AppKey, AppRow};
use crate::model::status::{Health, Sync};
use crate::tui::model::Load;
pub use crate::tui::model::decisions::*;

/// A decision older than this is made again when the app or the queue is looked at.
pub const FRESH_MS: i64 = 5 * 60 * 1000;

/// What a decision of `row` rests on.
pub fn basis(row: &AppRow) -> String {
    format!("{}|{}|{:?}", row.revision, row.drift, row.health)
}

/// Whether `row` wants a (new) decision: drifted, and none in flight, none for its current
/// state, or the last one older than `FRESH_MS`.
pub fn wants_decision(row: &AppRow, have: Option<&DecisionView>, now_ms: i64) -> bool {
    if row.sync != Sync::OutOfSync {
        return false;
    }
    match have {
        None => true,
        Some(v) => match &v.state {
            Load::Loading => false,
            Load::Failed(_) | Load::Ready(_) => {
                v.basis != basis(row) || now_ms - v.asked_ms > FRESH_MS
            }
        },
    }
}

/// The theme role of a verdict.
pub fn role_of(v: Verdict) -> &'static str {
    match v {
        Verdict::Allow => "verdict.allow",
        Verdict::Defer => "verdict.defer",
        Verdict::Enforce => "verdict.enforce",
        Verdict::NeedsHuman => "verdict.needs_human",
    }
}

/// `1h 02m`, `4m 10s`, `12s`; `due` when past.
pub fn countdown(secs: i64) -> String {
    countdown_at(secs, false)
}

/// A countdown; `coarse` (low-bandwidth mode, redrawn once a minute) drops the seconds.
pub fn countdown_at(secs: i64, coarse: bool) -> String {
    if secs <= 0 {
        return "due".into();
    }
    if coarse {
        let mins = (secs + 59) / 60;
        let (d, h, m) = (mins / 1440, mins / 60 % 24, mins % 60);
        return if secs < 60 {
            "<1m".into()
        } else if d > 0 {
            format!("{d}d {h:02}h")
        } else if h > 0 {
            format!("{h}h {m:02}m")
        } else {
            format!("{m}m")
        };
    }
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// The decision panel, as logical lines (text, theme role). The number of lines does not
/// depend on the clock, so scrolling is stable while the countdown runs.
pub fn decision_lines(
    v: Option<&DecisionView>,
    mode: &Result<Mode, String>,
    drifted: bool,
    now_ms: i64,
    coarse: bool,
) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let mode = match mode {
        Ok(m) => *m,
        Err(e) => {
            // A broken bundle or config: every drift goes to a human, and says why.
            out.push((
                "NEEDS-HUMAN: no decision can be made, so an operator decides.".into(),
                "verdict.needs_human",
            ));
            out.push((e.clone(), "error"));
            out.push((
                "Fix it (`driftdeck check-config` names the file and line), then restart.".into(),
                "text.dim",
            ));
            return out;
        }
    };
    let Some(v) = v else {
        out.push((
            if drifted {
                "Not decided yet.".to_string()
            } else {
                "In sync with Git: nothing to decide.".to_string()
            },
            "text.dim",
        ));
        return out;
    };
    let i = match &v.state {
        Load::Loading => {
            out.push((
                "Deciding: reading the drift and asking the context sources…".into(),
                "text.dim",
            ));
            return out;
        }
        Load::Failed(e) => {
            out.push((
                "NEEDS-HUMAN: the decision could not be made.".into(),
                "verdict.needs_human",
            ));
            out.push((e.clone(), "error"));
            out.push(("ctrl-r decides again.".into(), "text.dim"));
            return out;
        }
        Load::Ready(i) => i,
    };
    let d = &i.decision;
    out.push((
        format!(
            "{}  confidence {:.2}  ({} mode{})",
            d.verdict.as_str().to_uppercase(),
            d.confidence,
            d.mode.as_str(),
            if d.automatic { ", automatic" } else { "" }
        ),
        role_of(d.verdict),
    ));
    match d.not_before {
        Some(t) => out.push((
            format!(
                "not before {}  (in {})",
                t.format("%Y-%m-%d %H:%M:%S UTC"),
                countdown_at(t.timestamp() - now_ms.div_euclid(1000), coarse)
            ),
            "verdict.defer",
        )),
        None => out.push((
            format!(
                "decided {} ago",
                countdown_at(now_ms.div_euclid(1000) - d.now.timestamp(), coarse)
                    .replace("due", "0s")
            ),
            "text.dim",
        )),
    }
    if let Some(g) = &i.gate {
        let (text, role) = match (g, i.dry) {
            (Gate::Sync, false) => (
                "autonomous: synced the drifted resources".to_string(),
                "verdict.enforce",
            ),
            (Gate::Sync, true) => (
                "autonomous: would sync the drifted resources (a snapshot never acts)".to_string(),
                "verdict.enforce",
            ),
            (Gate::Leave { why }, _) => (format!("autonomous: left as is ({why})"), "text"),
            (Gate::Hold { why }, false) => (
                format!("autonomous: held for an operator ({why})"),
                "warning",
            ),
            (Gate::Hold { why }, true) => (
                format!("autonomous: would hold it for an operator ({why})"),
                "warning",
            ),
        };
        out.push((text, role));
    } else if mode != d.mode {
        out.push((format!("(decided in {} mode)", d.mode.as_str()), "text.dim"));
    }
    let done = d.handling.lines(d.now);
    if !done.is_empty() || !d.handling.actions.is_empty() {
        out.push((String::new(), "text"));
        out.push(("What driftdeck and operators did".into(), "header"));
        for l in done {
            out.push((format!("  {l}"), "warning"));
        }
        for a in d.handling.actions.iter().rev().take(3) {
            out.push((
                format!(
                    "  {} {} by {}{}",
                    a.time.format("%H:%M"),
                    a.action,
                    if a.operator.is_empty() {
                        "?"
                    } else {
                        &a.operator
                    },
                    if a.detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", a.detail)
                    }
                ),
                "text.dim",
            ));
        }
    }
    out.push((String::new(), "text"));
    out.push((
        format!(
            "Policy    {}  by {}{}",
            d.policy.verdict,
            d.policy.rule,
            if d.policy.hard { "  (hard)" } else { "" }
        ),
        "header",
    ));
    for r in &d.policy.reasons {
        out.push((format!("  {r}"), "text"));
    }
    out.push((String::new(), "text"));
    out.push((
        format!(
            "Advisor   {} ({})  confidence {:.2}",
            d.advisor.verdict, d.advisor.name, d.advisor.confidence
        ),
        "header",
    ));
    out.push((format!("  {}", d.advisor.reasoning), "text"));
    if let Some(c) = &d.cross_check {
        out.push((
            format!(
                "  cross-check: {} says {} ({:.2})",
                c.name, c.verdict, c.confidence
            ),
            "text.dim",
        ));
    }
    if !d.advisor.evidence.is_empty() {
        out.push((String::new(), "text"));
        out.push(("Evidence".into(), "header"));
        for e in &d.advisor.evidence {
            out.push((format!("  {e}"), "text"));
        }
    }
    out.push((String::new(), "text"));
    out.push(("Guardrails".into(), "header"));
    if d.guardrails.is_empty() {
        out.push(("  none applied".into(), "text.dim"));
    }
    for g in &d.guardrails {
        out.push((format!("  {g}"), "warning"));
    }
    out.push((String::new(), "text"));
    out.push(("Context sources".into(), "header"));
    if i.sources.is_empty() {
        out.push(("  none configured".into(), "text.dim"));
    }
    for (name, state) in &i.sources {
        let role = if state.starts_with("ok") {
            "text"
        } else {
            "warning"
        };
        out.push((format!("  {name}: {state}"), role));
    }
    out.push((String::new(), "text"));
    match (i.seq, &i.journal_error) {
        (Some(seq), _) => out.push((
            format!("journal record #{seq}; y approves, A/F/E/H records your own verdict"),
            "text.dim",
        )),
        (None, Some(e)) => out.push((format!("NOT JOURNALED: {e}"), "error")),
        (None, None) => {}
    }
    out
}

/// How urgent a drifted app is: lower first.
/// 0 security enforce (hard), 1 needs a human, 2 enforce, 3 defer due soon, 4 not decided yet
/// (or failed), 5 allow.
pub fn urgency(row: &AppRow, v: Option<&DecisionView>) -> (u8, &'static str) {
    match v.and_then(DecisionView::info) {
        None => match v.map(|v| &v.state) {
            Some(Load::Failed(_)) => (1, "could not decide"),
            Some(Load::Loading) => (4, "deciding"),
            _ => (4, "not decided yet"),
        },
        Some(i) => rank_of(
            i.decision.verdict,
            i.decision.policy.hard,
            row.health == Health::Degraded,
        ),
    }
}

/// The rank of a decided drift in the queue (see [`urgency`]).
pub fn rank_of(verdict: Verdict, hard: bool, degraded: bool) -> (u8, &'static str) {
    match verdict {
        Verdict::Enforce if hard => (0, "enforce (hard)"),
        Verdict::NeedsHuman => (1, "needs a human"),
        Verdict::Enforce => (2, "enforce"),
        Verdict::Defer => (3, "defer"),
        Verdict::Allow if degraded => (2, "allowed, degraded"),
        Verdict::Allow => (5, "allow"),
    }
}

/// Rank, not degraded, not_before, most drifted resources, name.
type QueueOrder = (u8, bool, i64, std::cmp::Reverse<u32>, String);

/// The drift queue: every OutOfSync app of the fleet, most urgent first; within a rank,
/// degraded apps, then the earliest `not_before`, then the most drifted resources, then name.
pub fn queue(rows: &[AppRow], decisions: &HashMap<AppKey, DecisionView>) -> Vec<QueueRow> {
    let mut out: Vec<(QueueRow, QueueOrder)> = rows
        .iter()
        .filter(|r| r.sync == Sync::OutOfSync)
        .map(|r| {
            let v = decisions.get(&r.key);
            let (rank, why) = urgency(r, v);
            let nb = v
                .and_then(DecisionView::info)
                .and_then(|i| i.decision.not_before)
                .map(|t| t.timestamp())
                .unwrap_or(i64::MAX);
            (
                QueueRow {
                    key: r.key.clone(),
                    rank,
                    why,
                },
                (
                    rank,
                    r.health != Health::Degraded,
                    nb,
                    std::cmp::Reverse(r.drift),
                    r.key.name.clone(),
                ),
            )
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out.into_iter().map(|(q, _)| q).collect()
}

/// Decides one app off the event loop, journals it, and in autonomous mode passes it through
/// the gate (`actions::autonomous::decide_and_act`, what `serve` runs too).
pub async fn decide_app(
    kit: Arc<DecideKit>,
    client: ArgoClient,
    session: Option<crate::actions::Session>,
    key: AppKey,
) -> Result<Box<DecisionInfo>, String> {
    let done =
        crate::actions::autonomous::decide_and_act(&kit, &client, session.as_ref(), &key).await?;
    Ok(Box::new(DecisionInfo {
        decision: done.decided.decision,
        seq: done.decided.seq,
        journal_error: done.decided.journal_error,
        gate: done.gate,
        dry: done.dry,
        sources: done.decided.sources,
    }))
}
