//! What operators did with the decisions (their reviews), how often the advisor agreed with
//! them, and the gate autonomous mode passes before it acts.
//!
//! An operator's review is an `action` record of the journal that names the decision it
//! answers (`decision_seq`) and the verdict the operator chose. Autonomous mode acts only when
//! every one of these holds, checked here in code:
//! - the decision is automatic (the policy's allowance after the guardrails: never a delete,
//!   never `needs-human`);
//! - its agreement with operators over the latest reviews is at least `min_agreement` (until
//!   five reviews exist there is nothing to judge by, and it acts);
//! - the sync windows allow an automated sync now (a `defer` waits for its `not_before`);
//! - fewer than `max_actions_per_hour` autonomous actions in the hour before.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::Verdict;
use super::decider::{Decision, Mode};
use super::journal::Record;
use super::settings::AutonomyConfig;
use crate::model::app::{SyncOperationResource, SyncRequest};

/// Who autonomous actions are recorded as.
pub const AUTONOMOUS_OPERATOR: &str = "driftdeck (autonomous)";

/// One operator review of one decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub decision_seq: u64,
    pub app: String,
    pub advised: Verdict,
    pub confidence: f64,
    pub chosen: Verdict,
    pub operator: String,
    pub time: DateTime<Utc>,
    /// The advisor in charge of the decision (`heuristic`, `llm`), what it advised and how
    /// sure it said it was, before the guardrails: what its calibration learns from.
    pub advisor: String,
    pub advisor_verdict: Verdict,
    pub advisor_confidence: f64,
}

impl Review {
    pub fn agreed(&self) -> bool {
        self.advised == self.chosen
    }
}

/// The body of an operator's action record.
pub fn action_record(
    decision_seq: Option<u64>,
    app: &str,
    instance: &str,
    action: &str,
    verdict: Verdict,
    operator: &str,
    reason: &str,
) -> Value {
    json!({
        "decision_seq": decision_seq,
        "app": app,
        "instance": instance,
        "action": action,
        "verdict": verdict,
        "operator": operator,
        "reason": reason,
    })
}

/// The reviews in a journal, oldest first: each operator action (not autonomous ones) paired
/// with the decision it answers. A decision answered twice (approved, then overruled; or
/// reviewed, then acted on) counts once, with the operator's latest answer.
pub fn reviews(records: &[Record]) -> Vec<Review> {
    let all = all_reviews(records);
    let latest: std::collections::HashMap<u64, usize> = all
        .iter()
        .enumerate()
        .map(|(i, r)| (r.decision_seq, i))
        .collect();
    all.into_iter()
        .enumerate()
        .filter(|(i, r)| latest.get(&r.decision_seq) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

/// Every answer, including the ones a later answer to the same decision replaced.
fn all_reviews(records: &[Record]) -> Vec<Review> {
    let decisions: std::collections::HashMap<u64, &Record> = records
        .iter()
        .filter(|r| r.kind == "decision")
        .map(|r| (r.seq, r))
        .collect();
    let mut out = Vec::new();
    for a in records.iter().filter(|r| r.kind == "action") {
        let b = &a.body;
        let operator = b.get("operator").and_then(Value::as_str).unwrap_or("");
        if operator == AUTONOMOUS_OPERATOR {
            continue;
        }
        let Some(d) = b
            .get("decision_seq")
            .and_then(Value::as_u64)
            .and_then(|s| decisions.get(&s))
        else {
            continue;
        };
        let verdict = |v: Option<&Value>| v.and_then(Value::as_str)?.parse::<Verdict>().ok();
        let (Some(advised), Some(chosen)) = (
            verdict(d.body.pointer("/decision/verdict")),
            verdict(b.get("verdict")),
        ) else {
            continue;
        };
        let adv = d.body.pointer("/decision/advisor");
        let advisor = adv
            .and_then(|a| a.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        let advisor_verdict = verdict(adv.and_then(|a| a.get("verdict"))).unwrap_or(advised);
        let advisor_confidence = adv
            .and_then(|a| a.get("confidence"))
            .or_else(|| d.body.pointer("/decision/confidence"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        out.push(Review {
            advisor,
            advisor_verdict,
            advisor_confidence,
            decision_seq: d.seq,
            app: b
                .get("app")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            advised,
            confidence: d
                .body
                .pointer("/decision/confidence")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            chosen,
            operator: operator.to_string(),
            time: a.time,
        });
    }
    out
}

/// How often the advice matched what operators chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    pub reviews: usize,
    pub agreed: usize,
    /// `agreed / reviews`; `None` without reviews.
    pub rate: Option<f64>,
    /// Advised (rows) × chosen (columns), in `Verdict::ALL` order.
    pub matrix: [[usize; 4]; 4],
}

/// The agreement over the latest `window` reviews (all of them with `None`).
pub fn agreement(reviews: &[Review], window: Option<usize>) -> Agreement {
    let start = window.map_or(0, |w| reviews.len().saturating_sub(w));
    let latest = &reviews[start..];
    let mut matrix = [[0; 4]; 4];
    let idx = |v: Verdict| Verdict::ALL.iter().position(|x| *x == v).unwrap_or(0);
    for r in latest {
        matrix[idx(r.advised)][idx(r.chosen)] += 1;
    }
    let agreed = latest.iter().filter(|r| r.agreed()).count();
    Agreement {
        reviews: latest.len(),
        agreed,
        rate: (!latest.is_empty()).then(|| agreed as f64 / latest.len() as f64),
        matrix,
    }
}

/// The limits of autonomous mode, with the defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_actions_per_hour: u32,
    pub min_agreement: f64,
    pub agreement_window: usize,
}

/// Reviews needed before the agreement is judged.
pub const MIN_REVIEWS: usize = 5;

impl Limits {
    pub fn from_config(c: Option<&AutonomyConfig>) -> Limits {
        Limits {
            max_actions_per_hour: c.and_then(|c| c.max_actions_per_hour).unwrap_or(6),
            min_agreement: c.and_then(|c| c.min_agreement).unwrap_or(0.9),
            agreement_window: c.and_then(|c| c.agreement_window).unwrap_or(20).max(1),
        }
    }
}

/// What autonomous mode does about one decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "gate", rename_all = "kebab-case")]
pub enum Gate {
    /// Sync the drifted resources back to Git (never pruning).
    Sync,
    /// Nothing to change: the drift stays (allowed), or waits for its window (deferred).
    Leave { why: String },
    /// An operator decides; `why` is shown and recorded.
    Hold { why: String },
}

/// The gate over a journal as read and verified: a journal that does not verify (edited, cut
/// at its end, appended to by someone else, re-anchored and not yet accepted) holds every
/// autonomous action, since the rate and the agreement would be counted over records that
/// cannot be trusted.
pub fn gate_checked(
    d: &Decision,
    records: &[Record],
    verification: &super::journal::Verification,
    limits: &Limits,
    now: DateTime<Utc>,
) -> Gate {
    if d.mode == Mode::Autonomous && !verification.intact() {
        let first = verification
            .damaged
            .first()
            .map(|(_, w)| w.as_str())
            .unwrap_or("?");
        return Gate::Hold {
            why: format!(
                "the journal does not verify ({first}): autonomous mode acts only on an intact audit trail; run `driftdeck journal verify`"
            ),
        };
    }
    gate(d, records, limits, now)
}

/// The gate. `records` is the journal so far (for the rate and the agreement).
pub fn gate(d: &Decision, records: &[Record], limits: &Limits, now: DateTime<Utc>) -> Gate {
    if d.mode != Mode::Autonomous {
        return Gate::Hold {
            why: format!("{} mode: an operator decides", d.mode.as_str()),
        };
    }
    if !d.automatic {
        return Gate::Hold {
            why: "the decision is not automatic (see its guardrails): an operator decides".into(),
        };
    }
    let ag = agreement(&reviews(records), Some(limits.agreement_window));
    if ag.reviews >= MIN_REVIEWS
        && let Some(rate) = ag.rate
        && rate < limits.min_agreement
    {
        return Gate::Hold {
            why: format!(
                "agreement with operators is {:.0}% over the latest {} reviews, under {:.0}%: autonomous mode falls back to advisory",
                rate * 100.0,
                ag.reviews,
                limits.min_agreement * 100.0
            ),
        };
    }
    match d.verdict {
        Verdict::NeedsHuman => Gate::Hold {
            why: "needs a human".into(),
        },
        Verdict::Allow => Gate::Leave {
            why: "the drift is allowed: nothing to change".into(),
        },
        Verdict::Defer if d.not_before.is_some_and(|t| t > now) => Gate::Leave {
            why: format!(
                "deferred until {}",
                d.not_before.map(|t| t.to_rfc3339()).unwrap_or_default()
            ),
        },
        Verdict::Defer | Verdict::Enforce => {
            if let Some(r) = &d.handling.rollback {
                return Gate::Hold {
                    why: format!(
                        "a guided rollback holds the app ({}): syncing would undo it, so an operator decides",
                        r.describe()
                    ),
                };
            }
            if let Some(x) = d.handling.deferral.as_ref().filter(|x| x.until > now) {
                return Gate::Leave {
                    why: format!("an operator deferred it ({})", x.describe()),
                };
            }
            if d.window.error.is_some() || !d.window.can_sync_auto {
                return Gate::Hold {
                    why: "the sync windows do not allow an automated sync now".into(),
                };
            }
            let hour_ago = now - Duration::hours(1);
            let recent = records
                .iter()
                .filter(|r| {
                    r.kind == "action"
                        && r.time > hour_ago
                        && r.body.get("operator").and_then(Value::as_str)
                            == Some(AUTONOMOUS_OPERATOR)
                        && r.body.get("action").and_then(Value::as_str) == Some("sync-requested")
                })
                .count();
            if recent >= limits.max_actions_per_hour as usize {
                return Gate::Hold {
                    why: format!(
                        "rate limit: {recent} autonomous actions in the last hour (at most {})",
                        limits.max_actions_per_hour
                    ),
                };
            }
            Gate::Sync
        }
    }
}

/// The sync autonomous mode sends: the drifted resources Git declares, never a prune (a
/// resource only in the cluster is left for an operator). `crate::actions::autonomous` sends it
/// through the same checks as every other write.
pub fn sync_request(app: &str, app_namespace: &str, sc: &super::scenario::Scenario) -> SyncRequest {
    let resources = sc
        .resources
        .iter()
        .filter_map(|r| r.desired.as_ref())
        .map(|d| {
            let s = |p: &str| {
                d.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let api = s("/apiVersion");
            SyncOperationResource {
                group: api
                    .rsplit_once('/')
                    .map(|(g, _)| g.to_string())
                    .unwrap_or_default(),
                kind: s("/kind"),
                name: s("/metadata/name"),
                namespace: s("/metadata/namespace"),
            }
        })
        .collect();
    SyncRequest {
        name: app.to_string(),
        app_namespace: app_namespace.to_string(),
        prune: false,
        resources,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::journal::Journal;

    fn journal() -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::at(&dir.path().join("journal.jsonl"));
        (dir, j)
    }

    fn decision(verdict: &str, conf: f64) -> Value {
        json!({"decision": {"verdict": verdict, "confidence": conf, "scenario": "x"}})
    }

    #[test]
    fn reviews_pair_actions_with_their_decisions() {
        let (_d, j) = journal();
        let a = j.append("decision", decision("enforce", 0.9)).unwrap();
        let b = j.append("decision", decision("allow", 0.85)).unwrap();
        j.append(
            "action",
            action_record(
                Some(a.seq),
                "pay",
                "prod",
                "sync",
                Verdict::Enforce,
                "ana",
                "",
            ),
        )
        .unwrap();
        j.append(
            "action",
            action_record(
                Some(b.seq),
                "web",
                "prod",
                "sync",
                Verdict::Enforce,
                "bo",
                "no",
            ),
        )
        .unwrap();
        // Autonomous actions and actions on no decision are not reviews.
        j.append(
            "action",
            action_record(
                Some(a.seq),
                "pay",
                "prod",
                "sync",
                Verdict::Enforce,
                AUTONOMOUS_OPERATOR,
                "",
            ),
        )
        .unwrap();
        j.append(
            "action",
            action_record(None, "x", "prod", "sync", Verdict::Enforce, "ana", ""),
        )
        .unwrap();
        let rs = reviews(&j.records().unwrap());
        assert_eq!(rs.len(), 2);
        assert!(rs[0].agreed());
        assert!(!rs[1].agreed());
        let ag = agreement(&rs, None);
        assert_eq!((ag.reviews, ag.agreed), (2, 1));
        assert_eq!(ag.rate, Some(0.5));
        // allow advised, enforce chosen
        assert_eq!(ag.matrix[0][2], 1);
        assert_eq!(agreement(&rs, Some(1)).rate, Some(0.0));
        assert_eq!(agreement(&[], None).rate, None);
    }

    #[test]
    fn a_decision_answered_twice_counts_once_with_the_latest_answer() {
        let (_d, j) = journal();
        let a = j.append("decision", decision("enforce", 0.9)).unwrap();
        let b = j.append("decision", decision("needs-human", 0.5)).unwrap();
        let answer = |seq, action: &str, v, who: &str| {
            j.append(
                "action",
                action_record(Some(seq), "pay", "prod", action, v, who, ""),
            )
            .unwrap();
        };
        // Approved, then overruled by a deferral of the app: one review, the deferral.
        answer(a.seq, "review", Verdict::Enforce, "ana");
        answer(a.seq, "defer", Verdict::Defer, "ana");
        // needs-human answered needs-human: an agreement.
        answer(b.seq, "review", Verdict::NeedsHuman, "bo");
        let rs = reviews(&j.records().unwrap());
        assert_eq!(rs.len(), 2, "{rs:?}");
        assert_eq!(rs[0].decision_seq, a.seq);
        assert_eq!(rs[0].chosen, Verdict::Defer);
        assert!(!rs[0].agreed());
        assert!(rs[1].agreed());
        let ag = agreement(&rs, None);
        assert_eq!((ag.reviews, ag.agreed), (2, 1));
        assert_eq!(ag.matrix[3][3], 1, "needs-human, chosen by an operator too");
    }
}
