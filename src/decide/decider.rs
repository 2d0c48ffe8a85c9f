//! Putting a decision together: the facts, the policy's hard bound, the advisors, and the
//! guardrails that hold whatever the advisors say. The guardrails are code, not prompts:
//! - the final verdict is never looser than the policy's;
//! - a policy verdict that is not `hard` and that the advisor contradicts goes to a human;
//! - the heuristic and the LLM disagreeing goes to a human;
//! - a confidence under the threshold goes to a human;
//! - a drift that deleted, or whose revert would delete, a resource is never allowed unless the
//!   policy itself allows it, and a remedy that deletes is never automatic;
//! - a defer needs a window that opens: without one, a human decides.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Verdict;
use super::advisor::heuristic::Heuristic;
use super::advisor::{Advice, Advisor, AdvisorError};
use super::facts::{self, Facts, ResState};
use super::policy::{Bundle, PolicyError, PolicyResult};
use super::scenario::Scenario;
use crate::windows::WindowState;

pub use crate::config::decide::{Mode, THRESHOLD};

/// The policy's part of a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyPart {
    pub verdict: Verdict,
    pub rule: String,
    pub reasons: Vec<String>,
    pub hard: bool,
    /// Why it could not be evaluated (the verdict is then `needs-human`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A decision, as `driftdeck decide` prints it and the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub scenario: String,
    pub verdict: Verdict,
    pub confidence: f64,
    /// For `defer`: the next instant an automated sync is allowed.
    pub not_before: Option<DateTime<Utc>>,
    pub policy: PolicyPart,
    /// The advisor in charge (the LLM when configured, else the heuristic).
    pub advisor: Advice,
    /// The heuristic's own answer when an LLM advised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_check: Option<Advice>,
    /// The guardrails that applied, as sentences.
    pub guardrails: Vec<String>,
    pub mode: Mode,
    /// Whether the remedy may run without an operator (autonomous mode still checks the
    /// windows and its rate).
    pub automatic: bool,
    /// The sync windows at the decision instant.
    pub window: WindowState,
    /// The decision instant.
    pub now: DateTime<Utc>,
    /// What driftdeck and its operators did to the app (a rollback that holds it, a
    /// deferral, an incident annotation, the latest actions): context the decision used.
    #[serde(skip_serializing_if = "super::handling::Handling::is_empty")]
    pub handling: super::handling::Handling,
}

/// Decides drifts.
pub struct Decider {
    pub bundle: Bundle,
    pub heuristic: Heuristic,
    pub llm: Option<Box<dyn Advisor>>,
    pub threshold: f64,
    /// A warm evaluator, reused between decisions (building one costs more than a decision).
    evaluator: std::sync::Mutex<Option<super::policy::Evaluator>>,
}

impl Decider {
    pub fn new(bundle: Bundle) -> Self {
        let heuristic = Heuristic::new(bundle.tuning.clone());
        Decider {
            bundle,
            heuristic,
            llm: None,
            threshold: THRESHOLD,
            evaluator: std::sync::Mutex::new(None),
        }
    }

    /// The facts of a scenario (an error means the scenario's objects could not be read).
    pub fn facts(&self, sc: &Scenario) -> Result<Facts, String> {
        facts::build(sc, &self.bundle.tuning)
    }

    /// The policy's answer for an input document.
    pub fn evaluate(&self, input: &serde_json::Value) -> Result<PolicyResult, PolicyError> {
        // Taken out of the lock while it runs, so that concurrent decisions never wait on each
        // other: a second caller builds its own.
        let taken = self.evaluator.lock().ok().and_then(|mut g| g.take());
        let mut ev = taken.unwrap_or_else(|| self.bundle.evaluator());
        let r = ev.evaluate(input);
        if let Ok(mut g) = self.evaluator.lock() {
            *g = Some(ev);
        }
        r
    }

    /// Decides a scenario.
    pub async fn decide(&self, sc: &Scenario, mode: Mode) -> Result<Decision, String> {
        let local = self.assess(sc)?;
        Ok(self.finish(local, mode).await)
    }

    /// The local, CPU-bound part of a decision (facts, policy, heuristic): what a caller runs
    /// on a blocking thread under a time budget so one hostile object cannot stall the others.
    pub fn assess(&self, sc: &Scenario) -> Result<Assessed, String> {
        let facts = self.facts(sc)?;
        let policy = self.evaluate(&facts.input_json());
        let heuristic = self.heuristic.assess(&facts);
        Ok(Assessed {
            name: sc.name.clone(),
            facts,
            policy,
            heuristic,
        })
    }

    /// The rest of a decision: the model's advice (with its own time limit) and the guardrails.
    pub async fn finish(&self, a: Assessed, mode: Mode) -> Decision {
        let llm = match &self.llm {
            Some(adv) => Some(adv.advise(&a.facts).await),
            None => None,
        };
        combine(
            &a.name,
            &a.facts,
            a.policy,
            a.heuristic,
            llm,
            self.threshold,
            mode,
        )
    }
}

/// One scenario decided three ways from one model answer, for the measurements of `replay`:
/// the heuristic alone, the model alone (the policy's bound and every guardrail but the
/// cross-check), and both (what driftdeck decides).
pub struct Measured {
    pub combined: Decision,
    pub heuristic: Decision,
    pub model: Option<Decision>,
    /// The model's own answer, before any guardrail.
    pub raw: Option<Result<Advice, AdvisorError>>,
    /// How long the model took.
    pub model_time: Option<std::time::Duration>,
}

impl Decider {
    /// Decides a scenario the three ways of [`Measured`], asking the model once.
    pub async fn measure(&self, a: Assessed, mode: Mode) -> Measured {
        let (raw, model_time) = match &self.llm {
            Some(adv) => {
                let start = std::time::Instant::now();
                let r = adv.advise(&a.facts).await;
                (Some(r), Some(start.elapsed()))
            }
            None => (None, None),
        };
        let t = self.threshold;
        let heuristic = combine(
            &a.name,
            &a.facts,
            a.policy.clone(),
            a.heuristic.clone(),
            None,
            t,
            mode,
        );
        let model = raw.as_ref().map(|r| {
            combine_as(
                &a.name,
                &a.facts,
                a.policy.clone(),
                a.heuristic.clone(),
                Some(r.clone()),
                t,
                mode,
                false,
            )
        });
        let combined = combine(
            &a.name,
            &a.facts,
            a.policy,
            a.heuristic,
            raw.clone(),
            t,
            mode,
        );
        Measured {
            combined,
            heuristic,
            model,
            raw,
            model_time,
        }
    }
}

/// Applies the advisor's calibration from operators' reviews: it may only lower the
/// decision's confidence (and, under the threshold, send it to a human); it never raises a
/// confidence, loosens a verdict or touches the policy's part.
pub fn calibrate(d: &mut Decision, cal: &super::calibration::Calibration, threshold: f64) {
    let Some(c) = cal.calibrated(&d.advisor.name, d.advisor.confidence) else {
        return;
    };
    let c = (c.clamp(0.0, 1.0) * 100.0).floor() / 100.0;
    if c >= d.confidence {
        return;
    }
    let reviews = cal
        .advisors
        .iter()
        .find(|a| a.advisor == d.advisor.name)
        .map_or(0, |a| a.reviews);
    let mut lines = vec![format!(
        "calibrated on {reviews} operator reviews, the {} advisor's confidence {:.2} is worth {c:.2}",
        d.advisor.name, d.advisor.confidence
    )];
    d.confidence = c;
    if c < threshold && d.verdict != Verdict::NeedsHuman {
        lines.push(format!(
            "confidence {c:.2} is under the threshold {threshold:.2}, so a human decides"
        ));
        d.verdict = Verdict::NeedsHuman;
        d.automatic = false;
        d.not_before = None;
    }
    // Before the mode's line, which ends the list.
    let at = d
        .guardrails
        .iter()
        .position(|g| g.contains(" mode: "))
        .unwrap_or(d.guardrails.len());
    for (i, l) in lines.into_iter().enumerate() {
        d.guardrails.insert(at + i, l);
    }
    if d.verdict == Verdict::NeedsHuman
        && d.mode == Mode::Autonomous
        && !d
            .guardrails
            .iter()
            .any(|g| g.starts_with("autonomous mode"))
    {
        d.guardrails
            .push("autonomous mode: this one waits for an operator".into());
    }
}

/// A decision's local part, before the model and the guardrails.
pub struct Assessed {
    name: String,
    facts: Facts,
    policy: Result<PolicyResult, PolicyError>,
    heuristic: Advice,
}

/// How long the local part of one decision may take before it is given up (and a human
/// decides): far above the 2 ms a decision takes, far below a stalled queue.
pub const BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs CPU-bound work on a blocking thread and waits at most `budget` for it: the caller (a
/// decision task) is free again after the budget whatever the work does, so one hostile object
/// cannot hold the workers the other apps' decisions need. The error is a sentence.
pub async fn within_budget<T: Send + 'static>(
    budget: std::time::Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    match tokio::time::timeout(budget, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(format!("the decision failed: {e}")),
        Err(_) => Err(format!(
            "deciding took longer than {} ms (an unusually large or deep object?) and was given up; decide it by hand",
            budget.as_millis()
        )),
    }
}

/// The guardrails.
pub fn combine(
    name: &str,
    facts: &Facts,
    policy: Result<PolicyResult, PolicyError>,
    heuristic: Advice,
    llm: Option<Result<Advice, AdvisorError>>,
    threshold: f64,
    mode: Mode,
) -> Decision {
    combine_as(name, facts, policy, heuristic, llm, threshold, mode, true)
}

/// The guardrails, with or without the cross-check of the model against the heuristic
/// (without: only to measure the model alone; driftdeck always decides with it).
#[allow(clippy::too_many_arguments)]
fn combine_as(
    name: &str,
    facts: &Facts,
    policy: Result<PolicyResult, PolicyError>,
    heuristic: Advice,
    llm: Option<Result<Advice, AdvisorError>>,
    threshold: f64,
    mode: Mode,
    cross: bool,
) -> Decision {
    let mut guardrails = Vec::new();
    let input = &facts.input;
    let policy_part = match &policy {
        Ok(p) => PolicyPart {
            verdict: p.verdict,
            rule: p.rule.clone(),
            reasons: p.reasons.clone(),
            hard: p.hard,
            error: None,
        },
        Err(e) => PolicyPart {
            verdict: Verdict::NeedsHuman,
            rule: e
                .rule
                .clone()
                .unwrap_or_else(|| super::policy::ENTRYPOINT.into()),
            reasons: vec![format!("the policy could not be evaluated: {e}")],
            hard: true,
            error: Some(e.to_string()),
        },
    };
    if policy.is_err() {
        guardrails.push("the policy could not be evaluated, so a human decides".to_string());
    }

    // The advisor in charge, and the cross-check.
    let (advisor, cross_check) = match llm {
        None => (heuristic.clone(), None),
        Some(Ok(a)) if !cross => (a, None),
        Some(Ok(a)) => (a, Some(heuristic.clone())),
        Some(Err(e)) => {
            guardrails.push(format!(
                "the LLM advisor gave no usable answer ({e}), so a human decides"
            ));
            (
                Advice {
                    name: "llm".into(),
                    verdict: Verdict::NeedsHuman,
                    confidence: 0.0,
                    reasoning: e.to_string(),
                    evidence: Vec::new(),
                },
                cross.then(|| heuristic.clone()),
            )
        }
    };

    let mut verdict = policy_part.verdict;
    let mut confidence = advisor.confidence;
    if advisor.verdict > policy_part.verdict {
        guardrails.push(format!(
            "the advisor is stricter than the policy: {} instead of {}",
            advisor.verdict, policy_part.verdict
        ));
        verdict = advisor.verdict;
    } else if advisor.verdict < policy_part.verdict {
        guardrails.push(format!(
            "the policy's {} is a bound the advisor cannot loosen (it said {})",
            policy_part.verdict, advisor.verdict
        ));
        if !policy_part.hard && policy_part.verdict != Verdict::NeedsHuman {
            guardrails.push(format!(
                "the policy ({}) and the advisor ({}) disagree on a rule that is not hard, so a human decides",
                policy_part.verdict, advisor.verdict
            ));
            verdict = Verdict::NeedsHuman;
        }
    }
    // A model may only make the gate stricter: agreeing with the heuristic, it cannot lift
    // the decision's confidence above the heuristic's (over the threshold, say).
    if let Some(h) = &cross_check
        && advisor.name != "heuristic"
        && advisor.confidence > h.confidence
    {
        guardrails.push(format!(
            "the LLM's confidence {:.2} is capped at the heuristic's {:.2}",
            advisor.confidence, h.confidence
        ));
        confidence = h.confidence;
    }
    if let Some(h) = &cross_check
        && advisor.name != "heuristic"
        && advisor.confidence > 0.0
        && h.verdict != advisor.verdict
    {
        guardrails.push(format!(
            "the heuristic ({}) and the LLM ({}) disagree, so a human decides",
            h.verdict, advisor.verdict
        ));
        verdict = Verdict::NeedsHuman;
        confidence = confidence.min(h.confidence);
    }
    if confidence < threshold && verdict != Verdict::NeedsHuman {
        guardrails.push(format!(
            "confidence {confidence:.2} is under the threshold {threshold:.2}, so a human decides"
        ));
        verdict = Verdict::NeedsHuman;
    }

    // Deletions.
    let deleted: Vec<&str> = input
        .resources
        .iter()
        .filter(|r| r.state == ResState::Missing)
        .map(|r| r.short.as_str())
        .collect();
    let extra: Vec<&str> = input
        .resources
        .iter()
        .filter(|r| r.state == ResState::Extra)
        .map(|r| r.short.as_str())
        .collect();
    if verdict == Verdict::Allow
        && (!deleted.is_empty() || !extra.is_empty())
        && policy_part.verdict != Verdict::Allow
    {
        guardrails.push(
            "a drift that deleted a resource, or whose revert would delete one, is never allowed by the advisor alone"
                .to_string(),
        );
        verdict = Verdict::NeedsHuman;
    }
    let mut automatic = matches!(verdict, Verdict::Enforce | Verdict::Defer | Verdict::Allow);
    if !extra.is_empty() && matches!(verdict, Verdict::Enforce | Verdict::Defer) {
        guardrails.push(format!(
            "reverting deletes {}: never automatic, an operator must confirm the prune",
            extra.join(", ")
        ));
        automatic = false;
    }

    // Defer waits for the window.
    let mut not_before = None;
    let window = input.window.clone();
    if verdict == Verdict::Defer {
        match (&window.error, window.next_auto_sync) {
            (Some(e), _) => {
                guardrails.push(format!(
                    "the sync windows cannot be evaluated ({e}), so there is no instant to defer to and a human decides"
                ));
                verdict = Verdict::NeedsHuman;
            }
            (None, None) => {
                guardrails.push(
                    "no sync window allows an automated sync within a year, so a human decides"
                        .to_string(),
                );
                verdict = Verdict::NeedsHuman;
            }
            (None, Some(t)) => not_before = Some(t),
        }
        // An operator's deferral that ends later holds the revert until then.
        if let (Some(nb), Some(d)) = (not_before, &facts.input.handling.deferral)
            && d.until > nb
        {
            guardrails.push(format!(
                "an operator {}: the revert waits until then",
                d.describe()
            ));
            not_before = Some(d.until);
        }
    }
    if verdict == Verdict::Enforce && !window.can_sync_auto && window.error.is_none() {
        guardrails.push(format!(
            "the sync windows block automated syncs now{}; a manual sync is {}",
            window
                .next_auto_sync
                .map(|t| format!(" (until {})", t.to_rfc3339()))
                .unwrap_or_default(),
            if window.can_sync_manual {
                "allowed"
            } else {
                "blocked too"
            }
        ));
    }
    if verdict == Verdict::NeedsHuman {
        automatic = false;
    }
    match mode {
        Mode::Shadow => guardrails.push("shadow mode: recorded only, nothing changes".into()),
        Mode::Advisory => guardrails.push("advisory mode: waits for an operator".into()),
        Mode::Autonomous if !automatic => {
            guardrails.push("autonomous mode: this one waits for an operator".into())
        }
        Mode::Autonomous => {}
    }

    Decision {
        scenario: name.to_string(),
        verdict,
        confidence: (confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0,
        not_before,
        policy: policy_part,
        advisor,
        cross_check,
        guardrails,
        mode,
        automatic,
        window,
        now: input.now,
        handling: input.handling.clone(),
    }
}
