//! Guided rollback: the history with each revision's author, date and message; the diff between
//! now and a chosen deployment; then one confirmed sequence (terminate a running operation,
//! pause auto-sync recording the policy and the reason, roll back, follow health) and, after
//! it, the offer to restore auto-sync.

use serde::Serialize;
use serde_json::json;

use super::{ActionError, PAUSE_REASON, PAUSED_POLICY, Session, Target, annotation_ops};
use crate::model::app::{Application, SyncPolicy};

/// One deployment of the history, with its commit's metadata where the server has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub revision: String,
    pub deployed_at: String,
    pub initiated_by: String,
    pub author: String,
    pub date: String,
    pub message: String,
    /// The deployment live now (the newest).
    pub current: bool,
}

impl HistoryEntry {
    pub fn line(&self) -> String {
        format!(
            "#{} {} {} {}{}",
            self.id,
            super::sync::short(&self.revision),
            self.deployed_at,
            if self.author.is_empty() {
                self.initiated_by.clone()
            } else {
                self.author.clone()
            },
            if self.message.is_empty() {
                String::new()
            } else {
                format!(": {}", self.message.lines().next().unwrap_or(""))
            }
        )
    }
}

/// The history of the app, newest first, with revision metadata fetched concurrently (an
/// entry whose metadata cannot be read keeps empty fields).
pub async fn history(
    session: &Session,
    t: &Target,
) -> Result<(Application, Vec<HistoryEntry>), ActionError> {
    let app = session.app(t).await?;
    let hist = app.status.history.clone();
    let metas = futures::future::join_all(hist.iter().map(|h| {
        let c = session.client.clone();
        let rev = h.revision.clone();
        let t = t.clone();
        async move {
            if rev.is_empty() {
                return None;
            }
            c.revision_metadata(&t.name, &rev, t.ns()).await.ok()
        }
    }))
    .await;
    let newest = hist.iter().map(|h| h.id).max();
    let mut out: Vec<HistoryEntry> = hist
        .iter()
        .zip(metas)
        .map(|(h, m)| {
            let m = m.unwrap_or_default();
            HistoryEntry {
                id: h.id,
                revision: h.revision.clone(),
                deployed_at: h.deployed_at.clone(),
                initiated_by: h.initiated_by.as_ref().map(|i| i.who()).unwrap_or_default(),
                author: m.author,
                date: m.date.unwrap_or_default(),
                message: m.message,
                current: Some(h.id) == newest,
            }
        })
        .collect();
    out.reverse();
    Ok((app, out))
}

/// The diff between the app's live state and the manifests of `revision` (what a rollback to
/// it would change), normalized as Argo CD does with the app's ignoreDifferences.
pub async fn diff_to(
    session: &Session,
    t: &Target,
    app: &Application,
    revision: &str,
) -> Result<Vec<crate::diff::ResourceDiff>, ActionError> {
    let (managed, manifests) = tokio::join!(
        session.client.managed_resources(&t.name, t.ns()),
        session.client.manifests(&t.name, t.ns(), revision)
    );
    let managed = managed?;
    let manifests = manifests?;
    let norm = crate::diff::Normalizer::new(&app.spec.ignore_differences)
        .map_err(|e| ActionError::Failed(format!("the app's ignoreDifferences: {e}")))?;
    let dest_ns = app.spec.destination.namespace.clone();
    let live_of = |kind: &str, ns: &str, name: &str| {
        managed
            .items
            .iter()
            .find(|i| i.kind == kind && i.name == name && (ns.is_empty() || i.namespace == ns))
            .and_then(|i| serde_json::from_str::<serde_json::Value>(&i.live_state).ok())
            .filter(|v| !v.is_null())
    };
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for m in &manifests {
        let kind = m["kind"].as_str().unwrap_or_default();
        let name = m["metadata"]["name"].as_str().unwrap_or_default();
        let ns = m["metadata"]["namespace"]
            .as_str()
            .unwrap_or(dest_ns.as_str());
        let live = live_of(kind, ns, name);
        seen.push((kind.to_string(), name.to_string()));
        let d = crate::diff::diff(Some(m), live.as_ref(), &norm)
            .map_err(|e| ActionError::Failed(format!("{kind}/{name}: {e}")))?;
        if d.modified {
            out.push(d);
        }
    }
    for i in &managed.items {
        if seen.iter().any(|(k, n)| *k == i.kind && *n == i.name) {
            continue;
        }
        if let Ok(live) = serde_json::from_str::<serde_json::Value>(&i.live_state)
            && !live.is_null()
        {
            let mut d = crate::diff::diff(None, Some(&live), &norm)
                .map_err(|e| ActionError::Failed(format!("{}/{}: {e}", i.kind, i.name)))?;
            d.modified = true;
            out.push(d);
        }
    }
    Ok(out)
}

/// What the guided rollback will do, shown before it is confirmed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackPlan {
    pub target: Target,
    pub cluster: String,
    pub entry: HistoryEntry,
    pub running: Option<String>,
    pub auto_sync: bool,
    pub policy: Option<SyncPolicy>,
    pub protected: bool,
    /// Resources that differ between live and the chosen deployment.
    pub differs: usize,
}

impl RollbackPlan {
    pub fn lines(&self, reason: &str) -> Vec<String> {
        let mut v = vec![format!(
            "roll back {} on instance {}, cluster {} to deployment {}",
            self.target.name,
            self.target.instance,
            self.cluster,
            self.entry.line()
        )];
        v.push(format!(
            "{} {} between live and that deployment",
            crate::util::count(self.differs, "resource"),
            crate::util::agree(self.differs, "differs", "differ")
        ));
        let mut n = 1;
        if let Some(p) = &self.running {
            v.push(format!("{n}. terminate the running operation ({p})"));
            n += 1;
        }
        if self.auto_sync {
            v.push(format!(
                "{n}. pause auto-sync (Argo CD refuses a rollback while it is on), recording \
                 the policy and the reason \"{reason}\" on the Application"
            ));
            n += 1;
        }
        v.push(format!("{n}. roll back to #{}", self.entry.id));
        v.push(format!("{}. follow health until it settles", n + 1));
        if self.auto_sync {
            v.push("then: offer to restore auto-sync".into());
        }
        v
    }
}

pub async fn plan(
    session: &Session,
    t: &Target,
    app: &Application,
    entry: HistoryEntry,
    differs: usize,
) -> Result<RollbackPlan, ActionError> {
    session.check(app, "sync").await?;
    if entry.current {
        return Err(ActionError::Refused(format!(
            "deployment #{} is the one live now; choose an older one",
            entry.id
        )));
    }
    Ok(RollbackPlan {
        target: t.clone(),
        cluster: session.cluster_name(app).await,
        running: app
            .status
            .operation_state
            .as_ref()
            .filter(|o| o.in_progress())
            .map(|o| o.phase.clone()),
        auto_sync: app.auto_sync(),
        policy: app.spec.sync_policy.clone(),
        protected: session.is_protected(app),
        entry,
        differs,
    })
}

/// The result of one step of the sequence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    pub step: String,
    pub ok: bool,
    pub detail: String,
}

/// What the sequence ended with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackOutcome {
    pub steps: Vec<StepReport>,
    /// Auto-sync was paused by the sequence (and can be restored).
    pub paused: bool,
    pub health: String,
}

/// Runs the confirmed sequence; each step's result goes to `report` and the journal. Stops at
/// the first failing step (the steps before it stay done and are reported).
pub async fn run(
    session: &Session,
    plan: &RollbackPlan,
    reason: &str,
    timeout: std::time::Duration,
    mut report: impl FnMut(&StepReport),
) -> Result<RollbackOutcome, ActionError> {
    let t = &plan.target;
    let mut out = RollbackOutcome {
        steps: Vec::new(),
        paused: false,
        health: String::new(),
    };
    macro_rules! step {
        ($name:expr, $res:expr) => {{
            let res: Result<String, ActionError> = $res;
            let r = StepReport {
                step: $name.to_string(),
                ok: res.is_ok(),
                detail: match &res {
                    Ok(d) => d.clone(),
                    Err(e) => e.to_string(),
                },
            };
            report(&r);
            let body = json!({
                    "action": "rollback",
                    "app": t.name,
                    "app_namespace": t.app_namespace,
                    "to": plan.entry.id,
                    "revision": plan.entry.revision,
                    "reason": reason,
                    "step": r.step,
                    "outcome": if r.ok { format!("ok: {}", r.detail) } else { format!("failed: {}", r.detail) },
                });
            if out.steps.is_empty() {
                // Rolling back keeps live away from Git on purpose: the operator's `allow`
                // of the drift the pending decision is about.
                session.record_answer(body, crate::decide::Verdict::Allow).await?;
            } else {
                session.record(body).await?;
            }
            out.steps.push(r);
            res?
        }};
    }
    // Read again: the plan may be minutes old.
    let app = session.app(t).await?;
    let running = app
        .status
        .operation_state
        .as_ref()
        .is_some_and(|o| o.in_progress());
    if running {
        step!(
            "terminate the running operation",
            async {
                session.client.terminate_operation(&t.name, t.ns()).await?;
                let op = super::follow_operation(&session.client, t, timeout, |_| {}).await?;
                Ok(format!("{}: {}", op.phase, op.message))
            }
            .await
        );
    }
    if app.auto_sync() {
        step!("pause auto-sync", async {
            super::defer::patch_fresh(session, t, app.clone(), |a| {
                let policy = a
                    .metadata
                    .annotations
                    .get(PAUSED_POLICY)
                    .cloned()
                    .unwrap_or_else(|| {
                        serde_json::to_string(&a.spec.sync_policy).unwrap_or_else(|_| "null".into())
                    });
                let mut ops = annotation_ops(
                    a,
                    &[(PAUSED_POLICY, policy), (PAUSE_REASON, reason.to_string())],
                    &[],
                );
                ops.push(json!({"op": "remove", "path": "/spec/syncPolicy/automated"}));
                Ok(ops)
            })
            .await?;
            out.paused = true;
            Ok("auto-sync is off; the previous policy is recorded in driftdeck.io/paused-self-heal".to_string())
        }
        .await);
    }
    step!(
        format!("roll back to #{}", plan.entry.id),
        async {
            session
                .client
                .rollback_app(&t.name, t.ns(), plan.entry.id, false)
                .await?;
            let op = super::follow_operation(&session.client, t, timeout, |_| {}).await?;
            if op.succeeded() {
                Ok(format!("{}: {}", op.phase, op.message))
            } else {
                Err(ActionError::Failed(format!(
                    "the rollback ended {}: {}",
                    op.phase, op.message
                )))
            }
        }
        .await
    );
    let health = step!(
        "follow health",
        async {
            let h = super::follow_health(&session.client, t, timeout, |_| {}).await?;
            Ok(h)
        }
        .await
    );
    out.health = health;
    Ok(out)
}
