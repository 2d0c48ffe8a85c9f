//! Decisions in the TUI: what the model keeps of them, the fleet-wide drift queue, the shadow
//! report, and the runtime's side (deciding off the event loop, journaling, autonomous acts,
//! operator reviews).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::clients::argocd::ArgoClient;
use crate::decide::Verdict;
use crate::decide::autonomy::{self, Agreement, Gate, Limits, Review};
use crate::decide::context::Sources;
use crate::decide::decider::{Decider, Decision, Mode};
use crate::decide::journal::Journal;
use crate::model::fleet::{AppKey, AppRow};
use crate::model::status::{Health, Sync};
use crate::tui::model::Load;

/// A decision about one app, as the TUI shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionInfo {
    pub decision: Decision,
    /// Its journal record (reviews refer to it); `None` when it could not be written.
    pub seq: Option<u64>,
    /// Why it could not be journaled.
    pub journal_error: Option<String>,
    /// What autonomous mode did with it.
    pub gate: Option<Gate>,
    /// The context sources and their states (`prometheus: ok`, ...).
    pub sources: Vec<(String, String)>,
}

/// The decision state of one app.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionView {
    pub req: u64,
    pub state: Load<Box<DecisionInfo>>,
    /// When it was asked for (ms).
    pub asked_ms: i64,
    /// What the fleet row said when it was asked (revision, drift count, health): a change
    /// makes the decision stale.
    pub basis: String,
}

impl DecisionView {
    pub fn info(&self) -> Option<&DecisionInfo> {
        self.state.ready().map(|b| &**b)
    }
}

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
        let (text, role) = match g {
            Gate::Sync => (
                "autonomous: synced the drifted resources".to_string(),
                "verdict.enforce",
            ),
            Gate::Leave { why } => (format!("autonomous: left as is ({why})"), "text"),
            Gate::Hold { why } => (
                format!("autonomous: held for an operator ({why})"),
                "warning",
            ),
        };
        out.push((text, role));
    } else if mode != d.mode {
        out.push((format!("(decided in {} mode)", d.mode.as_str()), "text.dim"));
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
            format!("journal record #{seq}; y approves, A/F/E records your own verdict"),
            "text.dim",
        )),
        (None, Some(e)) => out.push((format!("NOT JOURNALED: {e}"), "error")),
        (None, None) => {}
    }
    out
}

/// One line of the drift queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub key: AppKey,
    pub rank: u8,
    pub why: &'static str,
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
        Some(i) => {
            let d = &i.decision;
            match d.verdict {
                Verdict::Enforce if d.policy.hard => (0, "enforce (hard)"),
                Verdict::NeedsHuman => (1, "needs a human"),
                Verdict::Enforce => (2, "enforce"),
                Verdict::Defer => (3, "defer"),
                Verdict::Allow if row.health == Health::Degraded => (2, "allowed, degraded"),
                Verdict::Allow => (5, "allow"),
            }
        }
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

/// The drift queue screen.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueScreen {
    pub cursor: usize,
    pub offset: usize,
}

/// What the shadow report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowReport {
    pub decisions: usize,
    pub by_mode: Vec<(String, usize)>,
    pub all: Agreement,
    pub latest: Agreement,
    pub limits: Limits,
    /// The latest disagreements, newest first.
    pub disagreements: Vec<Review>,
    pub autonomous_actions: usize,
    pub journal: String,
    /// Whether the chain verified.
    pub intact: bool,
}

/// The shadow report screen.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowScreen {
    pub req: u64,
    pub report: Load<Box<ShadowReport>>,
    pub scroll: usize,
}

/// Builds the report from the journal.
pub fn shadow_report(journal: &Journal, limits: Limits) -> Result<ShadowReport, String> {
    let recs = journal.records().map_err(|e| e.to_string())?;
    let intact = journal.verify().map(|v| v.intact()).unwrap_or(false);
    let mut by_mode: std::collections::BTreeMap<String, usize> = Default::default();
    let mut decisions = 0;
    for r in recs.iter().filter(|r| r.kind == "decision") {
        decisions += 1;
        let m = r
            .body
            .pointer("/decision/mode")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        *by_mode.entry(m).or_default() += 1;
    }
    let reviews = autonomy::reviews(&recs);
    let all = autonomy::agreement(&reviews, None);
    let latest = autonomy::agreement(&reviews, Some(limits.agreement_window));
    let disagreements = reviews
        .iter()
        .rev()
        .filter(|r| !r.agreed())
        .take(50)
        .cloned()
        .collect();
    let autonomous_actions = recs
        .iter()
        .filter(|r| {
            r.kind == "action"
                && r.body.get("operator").and_then(Value::as_str)
                    == Some(autonomy::AUTONOMOUS_OPERATOR)
        })
        .count();
    Ok(ShadowReport {
        decisions,
        by_mode: by_mode.into_iter().collect(),
        all,
        latest,
        limits,
        disagreements,
        autonomous_actions,
        journal: journal.path.display().to_string(),
        intact,
    })
}

/// What the runtime needs to decide: shared by every decision task.
pub struct DecideKit {
    pub decider: Decider,
    pub sources: Sources,
    pub journal: Journal,
    pub mode: Mode,
    pub limits: Limits,
    /// At most this many decisions gather context at once.
    pub permits: tokio::sync::Semaphore,
    pub operator: String,
}

impl DecideKit {
    /// From the config; an error is a sentence for the status bar.
    pub fn from_config(
        cfg: &crate::config::Config,
        data_dir: PathBuf,
    ) -> Result<DecideKit, String> {
        let decider = crate::headless::decide::decider_from(Some(cfg))?;
        let sources = Sources::from_config(cfg.context.as_ref())?;
        let dc = cfg.decide.as_ref();
        Ok(DecideKit {
            decider,
            sources,
            journal: Journal::in_dir(&data_dir),
            mode: dc.and_then(|d| d.mode).unwrap_or_default(),
            limits: Limits::from_config(dc.and_then(|d| d.autonomous.as_ref())),
            permits: tokio::sync::Semaphore::new(4),
            operator: operator_name(),
        })
    }
}

/// Who reviews are recorded as: `$DRIFTDECK_OPERATOR`, else `$USER`, else "operator".
pub fn operator_name() -> String {
    ["DRIFTDECK_OPERATOR", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "operator".into())
}

/// Decides one app: fetch its drift and context, decide, journal, and (in autonomous mode)
/// pass it through the gate.
pub async fn decide_app(
    kit: Arc<DecideKit>,
    client: ArgoClient,
    key: AppKey,
) -> Result<Box<DecisionInfo>, String> {
    let _permit = kit
        .permits
        .acquire()
        .await
        .map_err(|_| "shutting down".to_string())?;
    let ns = (!key.namespace.is_empty()).then_some(key.namespace.as_str());
    let now = chrono::Utc::now();
    let (sc, report) =
        crate::decide::live::fetch(&client, &key.name, ns, &kit.sources, now).await?;
    let d = kit.decider.decide(&sc, kit.mode).await?;
    let mut body =
        crate::headless::decide::decision_record(&sc, &d, &kit.decider.bundle.tuning, "tui");
    body["app"] = Value::String(key.name.clone());
    body["instance"] = Value::String(client.instance().to_string());
    let (seq, journal_error) = match kit.journal.append("decision", body) {
        Ok(r) => (Some(r.seq), None),
        Err(e) => {
            tracing::warn!(app = %key.name, error = %e, "decision not journaled");
            (None, Some(e.to_string()))
        }
    };
    // Autonomous mode acts only on a decision that is on record.
    let gate = match (kit.mode, seq) {
        (Mode::Autonomous, Some(seq)) => {
            let target = autonomy::Target {
                client: &client,
                app: &key.name,
                app_namespace: &key.namespace,
                instance: client.instance(),
            };
            let out = autonomy::act(&target, &kit.journal, &kit.limits, seq, &d, &sc, now).await;
            if let Some(e) = &out.error {
                tracing::warn!(app = %key.name, error = %e, "autonomous sync failed");
            }
            Some(out.gate)
        }
        _ => None,
    };
    let sources = report
        .iter()
        .map(|r| {
            let state = match &r.detail {
                Some(d) => format!("{} ({d})", r.state.as_str()),
                None => r.state.as_str().to_string(),
            };
            (r.name.clone(), state)
        })
        .collect();
    Ok(Box::new(DecisionInfo {
        decision: d,
        seq,
        journal_error,
        gate,
        sources,
    }))
}

/// Records an operator's review of a decision.
pub fn record_review(
    kit: &DecideKit,
    key: &AppKey,
    instance: &str,
    decision_seq: u64,
    advised: Verdict,
    chosen: Verdict,
) -> Result<u64, String> {
    let reason = if advised == chosen {
        "approved the advice".to_string()
    } else {
        format!("overruled the advice ({advised}): chose {chosen}")
    };
    let body = autonomy::action_record(
        Some(decision_seq),
        &key.name,
        instance,
        "review",
        chosen,
        &kit.operator,
        &reason,
    );
    kit.journal
        .append("action", body)
        .map(|r| r.seq)
        .map_err(|e| e.to_string())
}
