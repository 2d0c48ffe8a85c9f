//! Sync: the plan (what changes, what would be pruned, the window), the request, the
//! operation followed to its end.

use serde::Serialize;
use serde_json::json;

use super::{ActionError, Session, Target, WindowInfo};
use crate::model::app::{
    Application, OperationState, SyncOperationResource, SyncOptionItems, SyncRequest, SyncStrategy,
    SyncStrategyApply,
};

/// What the operator asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncSpec {
    /// Delete live resources Git no longer has (off by default; confirmed on its own).
    pub prune: bool,
    /// Replace resources that cannot be patched (`--force`).
    pub force: bool,
    /// Apply only, skipping hooks.
    pub apply_only: bool,
    pub dry_run: bool,
    /// Only these resources (all when empty).
    pub resources: Vec<SyncOperationResource>,
    /// Sync options such as `ServerSideApply=true`, `Validate=false`.
    pub options: Vec<String>,
    /// A revision other than the app's target revision.
    pub revision: String,
}

/// Parses `GROUP:KIND:NAMESPACE/NAME` (or `GROUP:KIND:NAME`), as the argocd CLI writes it.
pub fn parse_resource(s: &str) -> Result<SyncOperationResource, String> {
    let parts: Vec<&str> = s.splitn(3, ':').collect();
    let [group, kind, rest] = parts.as_slice() else {
        return Err(format!(
            "--resource {s:?}: write GROUP:KIND:NAMESPACE/NAME, e.g. apps:Deployment:shop/checkout \
             (the core group is empty: :ConfigMap:shop/checkout-config)"
        ));
    };
    let (namespace, name) = match rest.split_once('/') {
        Some((ns, n)) => (ns.to_string(), n.to_string()),
        None => (String::new(), rest.to_string()),
    };
    if kind.is_empty() || name.is_empty() {
        return Err(format!(
            "--resource {s:?}: the kind and the name are required"
        ));
    }
    Ok(SyncOperationResource {
        group: group.to_string(),
        kind: kind.to_string(),
        name,
        namespace,
    })
}

/// Checks a sync option (`KEY=VALUE`).
pub fn parse_option(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok(s.to_string()),
        _ => Err(format!(
            "--sync-option {s:?}: write KEY=VALUE, e.g. ServerSideApply=true or Validate=false"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Live differs from Git: it is patched.
    Update,
    /// Missing live: it is created.
    Create,
    /// Live but no longer in Git: deleted by a prune.
    Prune,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanItem {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub change: Change,
}

impl PlanItem {
    pub fn label(&self) -> String {
        let ns = if self.namespace.is_empty() {
            String::new()
        } else {
            format!("{}/", self.namespace)
        };
        format!(
            "{}{} {}{}",
            ns,
            self.kind,
            self.name,
            group_suffix(&self.group)
        )
    }
    fn matches(&self, r: &SyncOperationResource) -> bool {
        r.group == self.group
            && r.kind == self.kind
            && r.name == self.name
            && (r.namespace.is_empty() || r.namespace == self.namespace)
    }
    pub fn resource(&self) -> SyncOperationResource {
        SyncOperationResource {
            group: self.group.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
    }
}

fn group_suffix(g: &str) -> String {
    if g.is_empty() {
        String::new()
    } else {
        format!(" ({g})")
    }
}

/// What a sync would do, shown before it is confirmed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncPlan {
    pub target: Target,
    pub project: String,
    pub cluster: String,
    /// Resources the sync patches or creates (within the selection).
    pub changes: Vec<PlanItem>,
    /// Resources a prune would delete (within the selection), pruned only when `spec.prune`.
    pub prunable: Vec<PlanItem>,
    pub window: WindowInfo,
    /// The phase of an operation already running, which Argo CD would refuse to overlap.
    pub running: Option<String>,
    pub auto_sync: bool,
    pub protected: bool,
    pub revision: String,
    pub spec: SyncSpec,
    /// What holds the app's drift now, as warnings: a deferral, an incident annotation, a
    /// guided rollback (a sync goes over each of them).
    pub holds: Vec<String>,
}

/// The warnings of a plan: what a sync would go over.
pub fn hold_warnings(app: &Application, now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
    let v = serde_json::to_value(app).unwrap_or_default();
    let h = crate::decide::handling::Handling::of(&v, &[]);
    let mut out = Vec::new();
    if let Some(r) = &h.rollback {
        out.push(format!(
            "{}: a sync deploys Git over that rollback",
            r.describe()
        ));
    }
    if let Some(d) = h.deferral.as_ref().filter(|d| d.until > now) {
        out.push(format!(
            "{}: a sync now reverts the drift the deferral keeps",
            d.describe()
        ));
    }
    if let Some(i) = &h.incident {
        out.push(format!(
            "{}: the drift may be the incident's mitigation",
            i.describe()
        ));
    }
    out
}

impl SyncPlan {
    /// Why the sync cannot start now, if it cannot.
    pub fn blocked(&self) -> Option<String> {
        if let Some(p) = &self.running {
            return Some(format!(
                "another operation is already in progress on {} ({p}); wait for it or terminate it first",
                self.target.name
            ));
        }
        if !self.window.can_sync_manual {
            return Some(self.window.line());
        }
        None
    }

    /// The plan as lines for a dialog or stdout.
    pub fn lines(&self) -> Vec<String> {
        let s = &self.spec;
        let mut out = vec![format!(
            "{}sync {} on instance {}, cluster {} (project {}) to {}",
            if s.dry_run { "dry-run " } else { "" },
            self.target.name,
            self.target.instance,
            self.cluster,
            self.project,
            if s.revision.is_empty() {
                format!("the target revision ({})", short(&self.revision))
            } else {
                format!("revision {}", s.revision)
            }
        )];
        // What a sync would go over (a rollback, a deferral, an incident) comes right after
        // what is synced, so it shows even when a small screen folds the rest of the plan.
        for h in &self.holds {
            out.push(format!("WARNING: {h}"));
        }
        let mut opts = Vec::new();
        if s.prune {
            opts.push("prune".to_string());
        }
        if s.force {
            opts.push("force".to_string());
        }
        opts.push(
            if s.apply_only {
                "apply only (no hooks)"
            } else {
                "with hooks"
            }
            .to_string(),
        );
        opts.extend(s.options.iter().cloned());
        out.push(format!("options: {}", opts.join(", ")));
        if !s.resources.is_empty() {
            out.push(format!("only the {} selected resources", s.resources.len()));
        }
        out.push(self.window.line());
        if self.changes.is_empty() {
            out.push("nothing differs from Git in the selection".into());
        } else {
            out.push(format!(
                "{} {}:",
                crate::util::count(self.changes.len(), "resource"),
                crate::util::agree(self.changes.len(), "changes", "change")
            ));
            for c in &self.changes {
                out.push(format!(
                    "  {} {}",
                    match c.change {
                        Change::Create => "create",
                        _ => "update",
                    },
                    c.label()
                ));
            }
        }
        if !self.prunable.is_empty() {
            if s.prune {
                out.push(format!(
                    "{} {} DELETED (prune):",
                    crate::util::count(self.prunable.len(), "resource"),
                    crate::util::agree(self.prunable.len(), "is", "are")
                ));
            } else {
                out.push(format!(
                    "{} {} pruning and {} left alone (prune is off):",
                    crate::util::count(self.prunable.len(), "resource"),
                    crate::util::agree(self.prunable.len(), "needs", "need"),
                    crate::util::agree(self.prunable.len(), "is", "are")
                ));
            }
            for p in &self.prunable {
                out.push(format!("  prune {}", p.label()));
            }
        }
        if let Some(b) = &self.running {
            out.push(format!("an operation is running ({b})"));
        }
        out
    }

    /// The request the plan sends.
    pub fn request(&self) -> SyncRequest {
        let s = &self.spec;
        SyncRequest {
            name: self.target.name.clone(),
            revision: s.revision.clone(),
            dry_run: s.dry_run,
            prune: s.prune,
            resources: s.resources.clone(),
            app_namespace: self.target.app_namespace.clone(),
            strategy: Some(if s.apply_only {
                SyncStrategy {
                    apply: Some(SyncStrategyApply { force: s.force }),
                    hook: None,
                }
            } else {
                SyncStrategy {
                    apply: None,
                    hook: Some(SyncStrategyApply { force: s.force }),
                }
            }),
            sync_options: (!s.options.is_empty()).then(|| SyncOptionItems {
                items: s.options.clone(),
            }),
        }
    }
}

pub fn short(rev: &str) -> &str {
    if rev.len() > 10 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
        &rev[..7]
    } else {
        rev
    }
}

/// Plans a sync of `t`: checks read-only and RBAC, reads the app, its managed resources and
/// its project's sync windows.
pub async fn plan(session: &Session, t: &Target, spec: SyncSpec) -> Result<SyncPlan, ActionError> {
    plan_at(session, t, spec, chrono::Utc::now()).await
}

/// [`plan`] with the sync windows evaluated at `now` (autonomous mode's decision instant).
pub async fn plan_at(
    session: &Session,
    t: &Target,
    spec: SyncSpec,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<SyncPlan, ActionError> {
    let app = session.app(t).await?;
    session.check(&app, "sync").await?;
    let (managed, window) = tokio::join!(
        session.client.managed_resources(&t.name, t.ns()),
        super::windows(&session.client, &app, now)
    );
    let managed = managed?;
    let window = window?;
    let cluster = session.cluster_name(&app).await;
    plan_from(session, t, &app, cluster, &managed.items, window, spec)
}

/// The plan from what was read (pure, for tests and the TUI).
pub fn plan_from(
    session: &Session,
    t: &Target,
    app: &Application,
    cluster: String,
    items: &[crate::model::app::ManagedResource],
    window: WindowInfo,
    spec: SyncSpec,
) -> Result<SyncPlan, ActionError> {
    let mut changes = Vec::new();
    let mut prunable = Vec::new();
    let mut all = Vec::new();
    for it in items {
        let absent = |s: &str| s.is_empty() || s == "null";
        let change = if absent(&it.target_state) && !absent(&it.live_state) {
            Some(Change::Prune)
        } else if absent(&it.live_state) && !absent(&it.target_state) {
            Some(Change::Create)
        } else if it.modified {
            Some(Change::Update)
        } else {
            None
        };
        let item = PlanItem {
            group: it.group.clone(),
            kind: it.kind.clone(),
            namespace: it.namespace.clone(),
            name: it.name.clone(),
            change: change.unwrap_or(Change::Update),
        };
        all.push(item.clone());
        if change.is_none() {
            continue;
        }
        if !spec.resources.is_empty() && !spec.resources.iter().any(|r| item.matches(r)) {
            continue;
        }
        if change == Some(Change::Prune) {
            prunable.push(item);
        } else {
            changes.push(item);
        }
    }
    if let Some(r) = spec
        .resources
        .iter()
        .find(|r| !all.iter().any(|i| i.matches(r)))
    {
        return Err(ActionError::Refused(format!(
            "{} has no resource {}:{}:{}{} among its managed resources; nothing was synced",
            t.name,
            r.group,
            r.kind,
            if r.namespace.is_empty() {
                String::new()
            } else {
                format!("{}/", r.namespace)
            },
            r.name
        )));
    }
    let running = app
        .status
        .operation_state
        .as_ref()
        .filter(|o| o.in_progress())
        .map(|o| o.phase.clone());
    Ok(SyncPlan {
        target: t.clone(),
        project: app.spec.project.clone(),
        cluster,
        changes,
        prunable,
        window,
        running,
        auto_sync: app.auto_sync(),
        protected: session.is_protected(app),
        revision: app.status.sync.revision.clone(),
        spec,
        holds: hold_warnings(app, chrono::Utc::now()),
    })
}

/// Starts the planned sync (refusing what the plan says is blocked). It is journaled before
/// the request (`sync-requested`, the operator's answer to the pending decision) and after it
/// (`sync`, started or refused), so a write is never on its way unrecorded.
pub async fn start(session: &Session, plan: &SyncPlan) -> Result<Application, ActionError> {
    if let Some(why) = plan.blocked() {
        return Err(ActionError::Refused(why));
    }
    session.check_writable()?;
    let _inflight = session.inflight.enter();
    let requested = json!({
        "action": "sync-requested",
        "app": plan.target.name,
        "app_namespace": plan.target.app_namespace,
        "cluster": plan.cluster,
        "spec": plan.spec,
        "changes": plan.changes.len(),
        "prune": plan.prunable.iter().map(PlanItem::label).collect::<Vec<_>>(),
    });
    if plan.spec.dry_run {
        session.record(requested).await?;
    } else {
        // Syncing a drifted app back to Git is the operator's `enforce`.
        session
            .record_answer(requested, crate::decide::Verdict::Enforce)
            .await?;
    }
    let res = session.client.sync_app(&plan.request()).await;
    let outcome = match &res {
        Ok(_) => "started".to_string(),
        Err(e) => format!("refused: {e}"),
    };
    session
        .record(json!({
            "action": "sync",
            "app": plan.target.name,
            "app_namespace": plan.target.app_namespace,
            "cluster": plan.cluster,
            "spec": plan.spec,
            "changes": plan.changes.len(),
            "prune": plan.prunable.iter().map(PlanItem::label).collect::<Vec<_>>(),
            "outcome": outcome,
            "ok": res.is_ok(),
        }))
        .await?;
    Ok(res?)
}

/// Starts the sync and follows its operation to the end; a failed operation is an error.
pub async fn run(
    session: &Session,
    plan: &SyncPlan,
    timeout: std::time::Duration,
    progress: impl FnMut(&OperationState),
) -> Result<OperationState, ActionError> {
    start(session, plan).await?;
    let op = super::follow_operation(&session.client, &plan.target, timeout, progress).await;
    let (outcome, result) = match op {
        Ok(op) if op.succeeded() => (format!("Succeeded: {}", op.message), Ok(op)),
        Ok(op) => {
            // Name what failed: a hook (a PreSync migration) before anything was applied.
            let why = crate::model::operation::progress(&op, &[]);
            let why = if why == op.message {
                why
            } else {
                format!("{why} ({})", op.message)
            };
            (
                format!("{}: {why}", op.phase),
                Err(ActionError::Failed(format!(
                    "the sync of {} ended {}: {why}",
                    plan.target.name, op.phase
                ))),
            )
        }
        Err(e) => (format!("not followed to the end: {e}"), Err(e)),
    };
    session
        .record(json!({
            "action": "sync-finished",
            "app": plan.target.name,
            "app_namespace": plan.target.app_namespace,
            "outcome": outcome,
        }))
        .await?;
    result
}

/// Refreshes the app (`hard` re-renders the manifests) and returns it as Argo CD then has it.
pub async fn refresh(
    session: &Session,
    t: &Target,
    hard: bool,
) -> Result<Application, ActionError> {
    let app = session.app(t).await?;
    session.check(&app, "get").await?;
    let kind = if hard {
        crate::clients::argocd::Refresh::Hard
    } else {
        crate::clients::argocd::Refresh::Normal
    };
    let res = session.client.get_app(&t.name, t.ns(), Some(kind)).await;
    session
        .record(json!({
            "action": if hard { "hard-refresh" } else { "refresh" },
            "app": t.name,
            "app_namespace": t.app_namespace,
            "outcome": match &res { Ok(_) => "done".to_string(), Err(e) => e.to_string() },
        }))
        .await?;
    Ok(res?)
}

/// Terminates the running operation and waits until it has ended.
pub async fn terminate(
    session: &Session,
    t: &Target,
    timeout: std::time::Duration,
) -> Result<OperationState, ActionError> {
    let app = session.app(t).await?;
    session.check(&app, "sync").await?;
    let running = app
        .status
        .operation_state
        .as_ref()
        .is_some_and(|o| o.in_progress());
    if !running {
        return Err(ActionError::Refused(format!(
            "{} has no operation in progress; nothing to terminate",
            t.name
        )));
    }
    let res = session.client.terminate_operation(&t.name, t.ns()).await;
    let followed = match res {
        Ok(()) => super::follow_operation(&session.client, t, timeout, |_| {}).await,
        Err(e) => Err(e.into()),
    };
    session
        .record(json!({
            "action": "terminate",
            "app": t.name,
            "app_namespace": t.app_namespace,
            "outcome": match &followed {
                Ok(op) => format!("{}: {}", op.phase, op.message),
                Err(e) => e.to_string(),
            },
        }))
        .await?;
    followed
}
