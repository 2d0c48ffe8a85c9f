//! Decisions as a service: from an app on an Argo CD instance (or a scenario) to a journaled,
//! guarded decision. Gathering the context ([`crate::decide::live`]), the CPU-bound part under a
//! time budget on a blocking thread, the model's advice, the guardrails, and the journal write
//! (fsync on a blocking thread, never on a tokio worker). The TUI and the headless commands call
//! this; what autonomous mode then does with a decision is `actions::autonomous`.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use super::Verdict;
use super::advisor::llm::LlmAdvisor;
use super::autonomy::{self, Agreement, Limits, Review};
use super::calibration::Calibration;
use super::context::Sources;
use super::decider::{Decider, Decision, Mode};
use super::facts;
use super::journal::{Journal, Record};
use super::policy::Bundle;
use super::scenario::Scenario;
use super::settings::AdvisorKind;
use crate::clients::argocd::ArgoClient;
use crate::config::Config;
use crate::model::fleet::AppKey;

/// The decider the config describes: its policy bundle, threshold and advisor.
pub fn decider_from(cfg: Option<&Config>) -> Result<Decider, String> {
    let policy = cfg.and_then(|c| c.policy.clone()).unwrap_or_default();
    let bundle = Bundle::load(&policy).map_err(|e| format!("the policy bundle: {e}"))?;
    let mut d = Decider::new(bundle);
    if let Some(dc) = cfg.and_then(|c| c.decide.as_ref()) {
        d.threshold = dc.threshold();
        if dc.advisor == Some(AdvisorKind::Llm) {
            let llm = dc
                .llm
                .as_ref()
                .ok_or("advisor = \"llm\" needs a [decide.llm] section")?;
            d.llm = Some(Box::new(LlmAdvisor::from_config(llm)?));
        }
    }
    Ok(d)
}

/// The journal record of a decision: the scenario with its secrets masked, and the decision.
pub fn decision_record(
    sc: &Scenario,
    d: &Decision,
    tuning: &crate::decide::tuning::Tuning,
    origin: &str,
) -> Value {
    json!({
        "origin": origin,
        "scenario": facts::sanitize(sc, tuning),
        "decision": d,
    })
}

/// Appends a decision's record on a blocking thread (the append syncs to disk).
pub async fn journal_decision(journal: &Journal, body: Value) -> Result<Record, String> {
    let j = journal.clone();
    tokio::task::spawn_blocking(move || j.append("decision", body))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
}

/// The one entry point of decisions: what every front end needs to gather an app's context,
/// decide, guard and journal (the TUI's runtime shares one across its decision tasks; the
/// headless `decide` and the snapshot build their own).
pub struct Service {
    pub decider: Decider,
    pub sources: Sources,
    pub journal: Journal,
    pub mode: Mode,
    pub limits: Limits,
    /// At most this many decisions gather context at once.
    pub permits: tokio::sync::Semaphore,
    /// Whether autonomous mode may act: a snapshot decides in the configured mode but never
    /// acts.
    pub acts: bool,
    /// A fixed decision instant (ms), for reproducible snapshots.
    pub now_ms: Option<i64>,
    /// How long the local part of one decision may take ([`crate::decide::decider::BUDGET`]).
    pub budget: std::time::Duration,
    /// The journal's actions by app: what driftdeck and its operators did, as context.
    pub actions: std::sync::Mutex<crate::decide::handling::ActionIndex>,
    /// The advisors' calibration from operators' reviews, and when it was fitted.
    pub calibration: std::sync::Mutex<Option<(std::time::Instant, Arc<Calibration>)>>,
}

/// How long a calibration is used before it is fitted again from the journal.
pub const CALIBRATION_REFIT: std::time::Duration = std::time::Duration::from_secs(600);

impl Service {
    /// From the config; an error is a sentence for the status bar.
    pub fn from_config(cfg: &crate::config::Config, data_dir: PathBuf) -> Result<Service, String> {
        let decider = decider_from(Some(cfg))?;
        let sources = Sources::from_config(cfg.context.as_ref())?;
        let dc = cfg.decide.as_ref();
        Ok(Service {
            decider,
            sources,
            journal: Journal::configured(&data_dir, Some(cfg))?,
            mode: dc.and_then(|d| d.mode).unwrap_or_default(),
            limits: Limits::from_config(dc.and_then(|d| d.autonomous.as_ref())),
            permits: tokio::sync::Semaphore::new(4),
            acts: true,
            now_ms: None,
            budget: crate::decide::decider::BUDGET,
            actions: Default::default(),
            calibration: Default::default(),
        })
    }

    /// The advisors' calibration, fitted from the journal's reviews when it is missing or
    /// older than [`CALIBRATION_REFIT`] (reads the journal: call it on a blocking thread). A
    /// journal that cannot be read gives no calibration, never a wrong one.
    pub fn calibration(&self) -> Arc<Calibration> {
        let Ok(mut g) = self.calibration.lock() else {
            return Arc::default();
        };
        if let Some((at, c)) = g.as_ref()
            && at.elapsed() < CALIBRATION_REFIT
        {
            return c.clone();
        }
        let c = match self.journal.records() {
            Ok(recs) => Arc::new(Calibration::fit(&autonomy::reviews(&recs))),
            Err(e) => {
                tracing::warn!(error = %e, "the journal could not be read for calibration");
                Arc::default()
            }
        };
        *g = Some((std::time::Instant::now(), c.clone()));
        c
    }

    /// The app's latest actions in the journal (reads only what was appended since).
    pub fn recent_actions(
        &self,
        instance: &str,
        app: &str,
    ) -> Vec<crate::decide::handling::RecentAction> {
        let Ok(mut idx) = self.actions.lock() else {
            return Vec::new();
        };
        if let Err(e) = idx.refresh(&self.journal) {
            tracing::warn!(error = %e, "the journal's actions could not be read");
        }
        idx.recent(instance, app, 10)
    }
}

/// A live app decided and journaled.
pub struct Decided {
    pub decision: Decision,
    /// The scenario it was decided from (what autonomous mode acts on).
    pub scenario: Scenario,
    /// Its journal record; `None` when it could not be written, and why.
    pub seq: Option<u64>,
    pub journal_error: Option<String>,
    /// The context sources and their states (`prometheus: ok`, ...).
    pub sources: Vec<(String, String)>,
    /// The decision instant.
    pub now: chrono::DateTime<chrono::Utc>,
    /// How long it took once it had its turn (the wait for a free slot left out).
    pub took: std::time::Duration,
}

/// Decides one live app: fetch its drift and context (with what driftdeck and its operators
/// did to it), decide (the local part under the budget), and journal.
pub async fn decide_live(
    svc: &Arc<Service>,
    client: &ArgoClient,
    key: &AppKey,
) -> Result<Decided, String> {
    decide_live_as(svc, client, key, "tui", None).await
}

/// [`decide_live`] for a front end (`origin`: `tui`, `serve`), with fields of its own added to
/// the journal record (`serve` records what the decision rests on and which replica made it).
pub async fn decide_live_as(
    svc: &Arc<Service>,
    client: &ArgoClient,
    key: &AppKey,
    origin: &str,
    extra: Option<Value>,
) -> Result<Decided, String> {
    let _permit = svc
        .permits
        .acquire()
        .await
        .map_err(|_| "shutting down".to_string())?;
    let started = std::time::Instant::now();
    let ns = (!key.namespace.is_empty()).then_some(key.namespace.as_str());
    let now = svc
        .now_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .unwrap_or_else(chrono::Utc::now);
    let (mut sc, report) = super::live::fetch(client, &key.name, ns, &svc.sources, now).await?;
    sc.actions = {
        let svc = svc.clone();
        let (instance, app) = (client.instance().to_string(), key.name.clone());
        tokio::task::spawn_blocking(move || svc.recent_actions(&instance, &app))
            .await
            .unwrap_or_default()
    };
    // The local part on a blocking thread under a time budget: one hostile object (a huge or
    // deeply nested value) never holds up the decisions of other apps.
    let assessed = {
        let (s, sc) = (svc.clone(), sc.clone());
        super::decider::within_budget(svc.budget, move || s.decider.assess(&sc)).await??
    };
    let calibration = {
        let svc = svc.clone();
        tokio::task::spawn_blocking(move || svc.calibration())
            .await
            .unwrap_or_default()
    };
    let mut d = svc.decider.finish(assessed, svc.mode).await;
    super::decider::calibrate(&mut d, &calibration, svc.decider.threshold);
    let mut body = decision_record(&sc, &d, &svc.decider.bundle.tuning, origin);
    body["app"] = Value::String(key.name.clone());
    body["instance"] = Value::String(client.instance().to_string());
    if let Some(Value::Object(m)) = extra {
        for (k, v) in m {
            body[k.as_str()] = v;
        }
    }
    let (seq, journal_error) = match journal_decision(&svc.journal, body).await {
        Ok(r) => (Some(r.seq), None),
        Err(e) => {
            tracing::warn!(app = %key.name, error = %e, "decision not journaled");
            (None, Some(e))
        }
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
    Ok(Decided {
        decision: d,
        scenario: sc,
        seq,
        journal_error,
        sources,
        now,
        took: started.elapsed(),
    })
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
    /// Each advisor's confidence against operators' reviews, before and after calibration.
    pub calibration: Calibration,
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
    let calibration = Calibration::fit(&reviews);
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
        calibration,
    })
}

/// Records an operator's review of a decision.
pub fn record_review(
    kit: &Service,
    key: &AppKey,
    instance: &str,
    operator: &str,
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
        operator,
        &reason,
    );
    kit.journal
        .append("action", body)
        .map(|r| r.seq)
        .map_err(|e| e.to_string())
}
