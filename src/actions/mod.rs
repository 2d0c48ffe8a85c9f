//! Acting on drift: sync, refresh, terminate, guided rollback, defer, incident annotation and
//! adoption. One library for the TUI and the headless commands: every action checks the
//! safety rules first (read-only, RBAC through `can-i`, sync windows), goes to the instance
//! and app it was started on, and is journaled with its outcome.

pub mod adopt;
pub mod annotate;
pub mod defer;
pub mod rollback;
pub mod sync;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::clients::argocd::{ArgoClient, ArgoError};
use crate::decide::journal::Journal;
use crate::model::app::Application;

/// Annotations driftdeck leaves on Applications (`../shared/docs/cli.md`).
pub const DEFERRED_UNTIL: &str = "driftdeck.io/deferred-until";
pub const DEFER_REASON: &str = "driftdeck.io/defer-reason";
pub const PAUSED_POLICY: &str = "driftdeck.io/paused-self-heal";
/// Why auto-sync was paused for a rollback.
pub const PAUSE_REASON: &str = "driftdeck.io/pause-reason";
pub const INCIDENT: &str = "driftdeck.io/incident";
pub const INCIDENT_NOTE: &str = "driftdeck.io/incident-note";
/// The label that marks an app (or, on live resources, the incident they drifted in).
pub const PROTECTED_LABEL: &str = "driftdeck.io/protected";

/// Which app an action is for: fixed when the action starts, never looked up again by row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Target {
    pub instance: String,
    pub name: String,
    /// The Application's namespace ("" for the control plane's).
    pub app_namespace: String,
}

impl Target {
    pub fn ns(&self) -> Option<&str> {
        (!self.app_namespace.is_empty()).then_some(self.app_namespace.as_str())
    }
}

/// Why an action did not happen or did not succeed. A refusal changed nothing (exit 1); a
/// failure may have changed something and says what (exit 2).
#[derive(Debug, Clone, PartialEq)]
pub enum ActionError {
    Refused(String),
    Failed(String),
}

impl ActionError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ActionError::Refused(_) => 1,
            ActionError::Failed(_) => 2,
        }
    }
    pub fn message(&self) -> &str {
        match self {
            ActionError::Refused(m) | ActionError::Failed(m) => m,
        }
    }
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl From<ArgoError> for ActionError {
    /// What Argo CD refused (RBAC, a sync window, its own rules) is a refusal; anything else a
    /// failure.
    fn from(e: ArgoError) -> Self {
        match &e {
            ArgoError::PermissionDenied { message, .. } if message.contains("sync window") => {
                ActionError::Refused(format!(
                    "Argo CD refused: {message}; wait for the window to end, or ask for a window \
                     that allows manual syncs"
                ))
            }
            ArgoError::PermissionDenied { .. } | ArgoError::Refused { .. } => {
                ActionError::Refused(e.to_string())
            }
            _ => ActionError::Failed(e.to_string()),
        }
    }
}

/// Everything an action needs besides its target: the instance's client, the safety settings
/// and where to journal.
#[derive(Clone)]
pub struct Session {
    pub client: ArgoClient,
    pub instance: String,
    /// `--read-only` or the instance's `read_only = true`.
    pub read_only: bool,
    /// App-name globs the config marks protected (`protected = [...]`).
    pub protected: Vec<String>,
    pub journal: Option<Arc<Journal>>,
    /// Who acts (the local user), for the journal and the annotations.
    pub operator: String,
    /// The kube contexts of the clusters (labels on live resources go through them).
    pub kube: Option<Arc<crate::clients::kube::Clusters>>,
    /// Cluster names by server URL, read once.
    clusters: Arc<tokio::sync::OnceCell<std::collections::HashMap<String, String>>>,
}

impl Session {
    pub fn new(client: ArgoClient, read_only: bool, protected: Vec<String>) -> Session {
        Session {
            instance: client.instance().to_string(),
            client,
            read_only,
            protected,
            journal: None,
            operator: operator(),
            kube: None,
            clusters: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The name of the app's destination cluster (Argo CD's cluster list maps a server URL to
    /// its name), else its server URL.
    pub async fn cluster_name(&self, app: &Application) -> String {
        let d = &app.spec.destination;
        if !d.name.is_empty() {
            return d.name.clone();
        }
        let names = self
            .clusters
            .get_or_init(|| async {
                self.client
                    .clusters()
                    .await
                    .map(|l| {
                        l.items
                            .into_iter()
                            .filter(|c| !c.name.is_empty())
                            .map(|c| (c.server, c.name))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .await;
        names
            .get(&d.server)
            .cloned()
            .unwrap_or_else(|| d.server.clone())
    }

    /// "instance I, cluster C, app A" for confirmations and reports.
    pub async fn place(&self, app: &Application) -> String {
        format!(
            "instance {}, cluster {}, app {}",
            self.instance,
            self.cluster_name(app).await,
            app.metadata.name
        )
    }

    pub fn with_journal(mut self, journal: Option<Arc<Journal>>) -> Session {
        self.journal = journal;
        self
    }

    pub fn with_kube(mut self, kube: Option<Arc<crate::clients::kube::Clusters>>) -> Session {
        self.kube = kube;
        self
    }

    pub fn target(&self, app: &Application) -> Target {
        Target {
            instance: self.instance.clone(),
            name: app.metadata.name.clone(),
            app_namespace: app.metadata.namespace.clone(),
        }
    }

    /// Reads the app as it is now.
    pub async fn app(&self, t: &Target) -> Result<Application, ActionError> {
        Ok(self.client.get_app(&t.name, t.ns(), None).await?)
    }

    /// Refuses when the instance is read-only or the account may not do `rbac_action` on the
    /// app (Argo CD's `can-i`).
    pub async fn check(&self, app: &Application, rbac_action: &str) -> Result<(), ActionError> {
        if self.read_only {
            return Err(ActionError::Refused(format!(
                "{} is read-only here (--read-only or `read_only = true` in the config); \
                 nothing was changed",
                self.instance
            )));
        }
        let object = rbac_object(app);
        match self
            .client
            .can_i("applications", rbac_action, &object)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(ActionError::Refused(format!(
                "your Argo CD account on {} may not {rbac_action} {object} (can-i says no); \
                 ask an Argo CD admin for the RBAC rule",
                self.instance
            ))),
            Err(e) => Err(ActionError::Failed(format!(
                "cannot ask {} whether you may {rbac_action} {object}: {e}",
                self.instance
            ))),
        }
    }

    /// Whether the app wants its name typed before a dangerous action.
    pub fn is_protected(&self, app: &Application) -> bool {
        is_protected(app, &self.protected)
    }

    /// Appends an action record to the journal (when there is one). A journal that cannot be
    /// written is reported, never ignored.
    pub async fn record(&self, body: Value) -> Result<Option<u64>, ActionError> {
        let Some(j) = self.journal.clone() else {
            return Ok(None);
        };
        let mut body = body;
        body["operator"] = json!(self.operator);
        body["instance"] = json!(self.instance);
        tokio::task::spawn_blocking(move || j.append("action", body))
            .await
            .map_err(|e| ActionError::Failed(format!("the journal task failed: {e}")))?
            .map(|r| Some(r.seq))
            .map_err(|e| ActionError::Failed(format!("the action was not journaled: {e}")))
    }
}

/// The local user, as the journal and annotations name the operator.
pub fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Argo CD's RBAC object of an app: `project/name` (`project/namespace/name` for apps outside
/// the control plane's namespace are written the same way by the server).
pub fn rbac_object(app: &Application) -> String {
    format!("{}/{}", app.spec.project, app.metadata.name)
}

/// Whether an app is protected: its label `driftdeck.io/protected: "true"`, or its name
/// matches one of the config's globs.
pub fn is_protected(app: &Application, globs: &[String]) -> bool {
    app.metadata
        .labels
        .get(PROTECTED_LABEL)
        .is_some_and(|v| v == "true")
        || globs
            .iter()
            .any(|g| crate::util::glob_match(g, &app.metadata.name))
}

/// The sync-window state of an app now, for the plan of a sync.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowInfo {
    pub can_sync_manual: bool,
    pub can_sync_auto: bool,
    /// The active windows that match the app, e.g. "deny `0 22 * * *` for 8h (manual syncs
    /// allowed)".
    pub active: Vec<String>,
    pub error: Option<String>,
}

impl WindowInfo {
    /// One line for a plan.
    pub fn line(&self) -> String {
        let what = if self.active.is_empty() {
            "no sync window is active".to_string()
        } else {
            format!("active: {}", self.active.join("; "))
        };
        match (&self.error, self.can_sync_manual) {
            (Some(e), _) => format!("sync windows cannot be evaluated: {e}"),
            (None, true) => format!("sync windows: {what}; a manual sync is allowed"),
            (None, false) => {
                format!("sync windows: {what}; a manual sync is blocked until the deny window ends")
            }
        }
    }
}

/// Evaluates the project's sync windows for the app at `now`.
pub async fn windows(
    client: &ArgoClient,
    app: &Application,
    now: DateTime<Utc>,
) -> Result<WindowInfo, ActionError> {
    let project = client.project(&app.spec.project).await?;
    Ok(window_info(&project.spec.sync_windows, app, now))
}

pub fn window_info(
    windows: &[crate::model::app::SyncWindow],
    app: &Application,
    now: DateTime<Utc>,
) -> WindowInfo {
    let target = crate::windows::AppTarget::of(app);
    let state = crate::windows::evaluate(windows, &target, now);
    let compiled = crate::windows::Windows::for_app(windows, &target, now);
    let active = compiled
        .active(now)
        .map(|ws| {
            ws.iter()
                .map(|c| {
                    let w = &c.window;
                    format!(
                        "{} `{}` for {}{}{}",
                        w.kind,
                        w.schedule,
                        w.duration,
                        if w.time_zone.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", w.time_zone)
                        },
                        if w.kind == "deny" && w.manual_sync {
                            ", manual syncs allowed"
                        } else {
                            ""
                        }
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    WindowInfo {
        can_sync_manual: state.can_sync_manual,
        can_sync_auto: state.can_sync_auto,
        active,
        error: state.error,
    }
}

/// Finds an app by name on the configured instances (one of them when `instance` is given).
/// Fails with a sentence when there is none, or when the name is on several instances.
pub async fn locate(
    cfg: &crate::config::Config,
    name: &str,
    instance: Option<&str>,
) -> Result<(crate::config::InstanceConfig, ArgoClient, Target), String> {
    use crate::clients::argocd::AppQuery;
    let candidates: Vec<&crate::config::InstanceConfig> = cfg
        .instances
        .iter()
        .filter(|i| instance.is_none_or(|n| n == i.name))
        .collect();
    if candidates.is_empty() {
        return Err(match instance {
            Some(n) => format!("no instance named `{n}` in the config"),
            None => "no instances configured; add an [[instances]] table to the config".into(),
        });
    }
    let mut found = Vec::new();
    let mut unreachable = Vec::new();
    for ic in candidates {
        let client = match ArgoClient::new(ic) {
            Ok(c) => c,
            Err(e) => {
                unreachable.push(format!("{}: {e}", ic.name));
                continue;
            }
        };
        let q = AppQuery {
            name: Some(name.to_string()),
            ..Default::default()
        };
        match client
            .list_apps(
                &q,
                Some(&["items.metadata.name", "items.metadata.namespace"]),
            )
            .await
        {
            Ok(l) if !l.items.is_empty() => {
                let t = Target {
                    instance: ic.name.clone(),
                    name: name.to_string(),
                    app_namespace: l.items[0].metadata.namespace.clone(),
                };
                found.push((ic.clone(), client, t));
            }
            Ok(_) => {}
            Err(e) => unreachable.push(format!("{}: {e}", ic.name)),
        }
    }
    match found.len() {
        0 => {
            let mut msg = format!("no application `{name}` on the configured instances");
            if !unreachable.is_empty() {
                msg.push_str(&format!(
                    " (not asked, unreachable: {})",
                    unreachable.join("; ")
                ));
            }
            Err(msg)
        }
        1 => Ok(found.remove(0)),
        _ => {
            let names: Vec<&str> = found.iter().map(|(i, _, _)| i.name.as_str()).collect();
            Err(format!(
                "`{name}` exists on {}; choose one with --instance",
                names.join(" and ")
            ))
        }
    }
}

/// A JSON pointer token (`/` and `~` escaped).
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// JSON patch operations that set annotations (creating the map when the app has none) and
/// remove others, guarded by a test of the resourceVersion so a concurrent edit is not
/// overwritten.
pub fn annotation_ops(app: &Application, set: &[(&str, String)], remove: &[&str]) -> Vec<Value> {
    let mut ops = vec![json!({
        "op": "test",
        "path": "/metadata/resourceVersion",
        "value": app.metadata.resource_version,
    })];
    let mut have = app.metadata.annotations.clone();
    if have.is_empty() && !set.is_empty() {
        ops.push(json!({"op": "add", "path": "/metadata/annotations", "value": {}}));
    }
    for (k, v) in set {
        ops.push(json!({
            "op": "add",
            "path": format!("/metadata/annotations/{}", pointer_token(k)),
            "value": v,
        }));
        have.insert(k.to_string(), v.clone());
    }
    for k in remove {
        if app.metadata.annotations.contains_key(*k) {
            ops.push(json!({
                "op": "remove",
                "path": format!("/metadata/annotations/{}", pointer_token(k)),
            }));
        }
    }
    ops
}

/// Follows the app's operation until it completes (or `timeout` passes), calling `progress`
/// whenever its phase or message changes. Returns the final operation state.
pub async fn follow_operation(
    client: &ArgoClient,
    t: &Target,
    timeout: std::time::Duration,
    mut progress: impl FnMut(&crate::model::app::OperationState),
) -> Result<crate::model::app::OperationState, ActionError> {
    let start = tokio::time::Instant::now();
    let mut last = (String::new(), String::new());
    loop {
        let app = client.get_app(&t.name, t.ns(), None).await?;
        if let Some(op) = app.status.operation_state {
            let now = (op.phase.clone(), op.message.clone());
            if now != last {
                progress(&op);
                last = now;
            }
            if matches!(op.phase.as_str(), "Succeeded" | "Failed" | "Error") {
                return Ok(op);
            }
        } else if app.operation.is_none() {
            return Err(ActionError::Failed(format!(
                "{} has no operation to follow",
                t.name
            )));
        }
        if start.elapsed() > timeout {
            return Err(ActionError::Failed(format!(
                "the operation on {} is still {} after {} s; it goes on in Argo CD, follow it \
                 there or with `driftdeck` again",
                t.name,
                last.0,
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// Follows the app's health until it settles (Healthy, Degraded or Missing, or Suspended)
/// or `timeout` passes; returns the last health seen.
pub async fn follow_health(
    client: &ArgoClient,
    t: &Target,
    timeout: std::time::Duration,
    mut progress: impl FnMut(&str),
) -> Result<String, ActionError> {
    let start = tokio::time::Instant::now();
    let mut last = String::new();
    loop {
        let app = client.get_app(&t.name, t.ns(), None).await?;
        let h = app.status.health.status.clone();
        if h != last {
            progress(&h);
            last = h.clone();
        }
        let running = app
            .status
            .operation_state
            .as_ref()
            .is_some_and(|o| o.phase == "Running" || o.phase == "Terminating");
        if !running && matches!(h.as_str(), "Healthy" | "Degraded" | "Suspended" | "Missing") {
            return Ok(h);
        }
        if start.elapsed() > timeout {
            return Ok(h);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
