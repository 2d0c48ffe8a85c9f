//! Autonomous mode's one write: a sync of the drifted resources, through the same checks as a
//! keystroke or a headless command (read-only first, then can-i, the plan with its sync
//! windows and running operation), plus its own: never a protected app, only when the windows
//! allow an automated sync, never over an operator's rollback or deferral (`decide::autonomy`'s
//! gate). Every refusal is journaled; the sync itself is journaled before its request and
//! after it (`sync::start`), and is followed to its end in its own task, so cancelling the
//! decision that started it (a reload, quitting) cannot lose it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::sync::{self, SyncSpec};
use super::{ActionError, Session, Target};
use crate::decide::autonomy::{self, AUTONOMOUS_OPERATOR, Gate, Limits};
use crate::decide::decider::Decision;
use crate::decide::scenario::Scenario;

/// What an autonomous pass did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub gate: Gate,
    /// The journal record of the request (when it synced) or of the refusal.
    pub action_seq: Option<u64>,
    /// Why the sync failed, when it did (recorded too).
    pub error: Option<String>,
}

/// How long the sync's operation is followed (it goes on in Argo CD after that).
pub const FOLLOW: std::time::Duration = std::time::Duration::from_secs(600);

/// Passes a journaled decision through the gate and, when it opens, syncs through `actions`.
/// `session` acts as [`AUTONOMOUS_OPERATOR`] and answers `decision_seq`. The operation is
/// followed in a task of its own, which outlives this call.
pub async fn act(
    session: &Session,
    t: &Target,
    limits: &Limits,
    decision_seq: u64,
    d: &Decision,
    sc: &Scenario,
    now: DateTime<Utc>,
) -> Outcome {
    let session = session
        .clone()
        .acting_as(AUTONOMOUS_OPERATOR)
        .with_decision(Some(decision_seq));
    let (records, verification) = match &session.journal {
        Some(j) => {
            let j = j.clone();
            match tokio::task::spawn_blocking(move || j.checked()).await {
                Ok(Ok(rv)) => rv,
                Ok(Err(e)) => (
                    Vec::new(),
                    crate::decide::journal::Verification {
                        damaged: vec![(0, e.to_string())],
                        ..Default::default()
                    },
                ),
                Err(e) => (
                    Vec::new(),
                    crate::decide::journal::Verification {
                        damaged: vec![(0, e.to_string())],
                        ..Default::default()
                    },
                ),
            }
        }
        None => Default::default(),
    };
    let gate = autonomy::gate_checked(d, &records, &verification, limits, now);
    if gate != Gate::Sync {
        return Outcome {
            gate,
            action_seq: None,
            error: None,
        };
    }
    let s0 = &session;
    let refuse = |why: String| async move {
        let seq = s0
            .record(json!({
                "action": "sync",
                "app": t.name,
                "app_namespace": t.app_namespace,
                "decision_seq": decision_seq,
                "outcome": format!("refused: {why}"),
                "ok": false,
            }))
            .await
            .ok()
            .flatten();
        Outcome {
            gate: Gate::Hold { why: why.clone() },
            action_seq: seq,
            error: Some(why),
        }
    };
    // Read-only: nothing is asked of the server.
    if let Err(e) = session.check_writable() {
        return refuse(e.to_string()).await;
    }
    let spec = SyncSpec {
        prune: false,
        resources: autonomy::sync_request(&t.name, &t.app_namespace, sc).resources,
        ..Default::default()
    };
    let plan = match sync::plan_at(&session, t, spec, now).await {
        Ok(p) => p,
        Err(e) => return refuse(e.to_string()).await,
    };
    if plan.protected {
        return refuse(format!(
            "{} is protected (production, its label or the config): autonomous mode never \
             acts on it; an operator confirms the sync",
            t.name
        ))
        .await;
    }
    if plan.window.error.is_some() || !plan.window.can_sync_auto {
        return refuse(format!(
            "the sync windows do not allow an automated sync now ({})",
            plan.window.line()
        ))
        .await;
    }
    if let Some(why) = plan.blocked() {
        return refuse(why).await;
    }
    // The request and its records happen in a task that is not cancelled with the decision.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let s = session.clone();
    tokio::spawn(async move {
        let started = sync::start(&s, &plan).await;
        let _ = tx.send(started.as_ref().map(|_| ()).map_err(ActionError::to_string));
        if started.is_ok() {
            let op = super::follow_operation(&s.client, &plan.target, FOLLOW, |_| {}).await;
            let outcome = match &op {
                Ok(o) => format!("{}: {}", o.phase, o.message),
                Err(e) => format!("not followed to the end: {e}"),
            };
            let _ = s
                .record(json!({
                    "action": "sync-finished",
                    "app": plan.target.name,
                    "app_namespace": plan.target.app_namespace,
                    "outcome": outcome,
                }))
                .await;
        }
    });
    let error = match rx.await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some("the sync task ended without an answer".to_string()),
    };
    if let Some(e) = &error {
        tracing::warn!(app = %t.name, error = %e, "autonomous sync failed");
    }
    Outcome {
        gate,
        action_seq: None,
        error,
    }
}

/// A live app decided, journaled and, in autonomous mode, passed through the gate.
pub struct DecidedAndGated {
    pub decided: crate::decide::service::Decided,
    /// What autonomous mode did (`None` in the other modes).
    pub gate: Option<Gate>,
    /// The gate was only evaluated: this service never acts (a snapshot).
    pub dry: bool,
    /// Why the autonomous sync failed, when it did.
    pub action_error: Option<String>,
}

/// Decides one live app with the shared decision service and journals it; in autonomous mode
/// a decision on record passes the gate and may sync through `actions` (the TUI's runtime and
/// `driftdeck serve` both call this).
pub async fn decide_and_act(
    kit: &std::sync::Arc<crate::decide::service::Service>,
    client: &crate::clients::argocd::ArgoClient,
    session: Option<&Session>,
    key: &crate::model::fleet::AppKey,
) -> Result<DecidedAndGated, String> {
    decide_and_act_as(kit, client, session, key, "tui", None).await
}

/// [`decide_and_act`] for a front end, with fields of its own in the journal record.
pub async fn decide_and_act_as(
    kit: &std::sync::Arc<crate::decide::service::Service>,
    client: &crate::clients::argocd::ArgoClient,
    session: Option<&Session>,
    key: &crate::model::fleet::AppKey,
    origin: &str,
    extra: Option<serde_json::Value>,
) -> Result<DecidedAndGated, String> {
    use crate::decide::decider::Mode;
    let decided = crate::decide::service::decide_live_as(kit, client, key, origin, extra).await?;
    let mut out = DecidedAndGated {
        gate: None,
        dry: false,
        action_error: None,
        decided,
    };
    let d = &out.decided;
    match (kit.mode, d.seq) {
        (Mode::Autonomous, Some(seq)) if kit.acts => {
            let o = match session {
                Some(s) => {
                    let t = Target {
                        instance: client.instance().to_string(),
                        name: key.name.clone(),
                        app_namespace: key.namespace.clone(),
                    };
                    act(s, &t, &kit.limits, seq, &d.decision, &d.scenario, d.now).await
                }
                None => Outcome {
                    gate: Gate::Hold {
                        why: "the instance has no usable client".into(),
                    },
                    action_seq: None,
                    error: None,
                },
            };
            out.gate = Some(o.gate);
            out.action_error = o.error;
        }
        (Mode::Autonomous, _) if !kit.acts => {
            let (records, verification) = {
                let j = kit.journal.clone();
                tokio::task::spawn_blocking(move || j.checked().unwrap_or_default())
                    .await
                    .unwrap_or_default()
            };
            out.gate = Some(autonomy::gate_checked(
                &d.decision,
                &records,
                &verification,
                &kit.limits,
                d.now,
            ));
            out.dry = true;
        }
        _ => {}
    }
    Ok(out)
}
