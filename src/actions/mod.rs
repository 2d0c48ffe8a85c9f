//! Acting on drift: sync, refresh, terminate, guided rollback, defer, incident annotation and
//! adoption. One library for the TUI and the headless commands: every action checks the
//! safety rules first (read-only, RBAC through `can-i`, sync windows), goes to the instance
//! and app it was started on, and is journaled with its outcome.

pub mod adopt;
pub mod annotate;
pub mod autonomous;
pub mod defer;
pub mod plans;
pub mod resource;
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
pub use crate::decide::handling::{
    DEFER_REASON, DEFERRED_UNTIL, INCIDENT, INCIDENT_NOTE, PAUSE_REASON, PAUSED_POLICY,
};
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

/// Writes whose request may be on its way to a server: counted, so that quitting waits until
/// each has its answer journaled (a write is journaled before its request and after it).
#[derive(Clone, Default)]
pub struct Inflight(Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>);

/// One write in flight; dropping it ends it.
pub struct InflightGuard(Inflight);

impl Inflight {
    pub fn enter(&self) -> InflightGuard {
        self.0.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InflightGuard(self.clone())
    }

    pub fn count(&self) -> usize {
        self.0.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until no write is in flight, or `limit` has passed; returns how many still are.
    pub async fn wait_idle(&self, limit: std::time::Duration) -> usize {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.0.1.notified();
            if self.count() == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.count();
            }
        }
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let (n, notify) = &*self.0.0;
        n.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        notify.notify_waiters();
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
    /// Production apps are protected too (`protect_production`, on by default).
    pub protect_production: bool,
    pub journal: Option<Arc<Journal>>,
    /// Who acts, when it is not the operator of [`operator`] (autonomous mode).
    pub acting_as: Option<String>,
    /// The decision (journal record) about the app's drift that this action answers: the
    /// action is recorded as the operator's verdict on it.
    pub decision: Option<u64>,
    /// The kube contexts of the clusters (labels on live resources go through them).
    pub kube: Option<Arc<crate::clients::kube::Clusters>>,
    /// Writes whose answer is not journaled yet.
    pub inflight: Inflight,
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
            protect_production: true,
            journal: None,
            acting_as: None,
            decision: None,
            kube: None,
            inflight: Inflight::default(),
            clusters: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// Who acts: the autonomous operator, else [`operator`] for this instance.
    pub async fn operator(&self) -> String {
        match &self.acting_as {
            Some(a) => a.clone(),
            None => operator(&self.client).await,
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

    /// The decision this action answers (its journal record).
    pub fn with_decision(mut self, decision: Option<u64>) -> Session {
        self.decision = decision;
        self
    }

    /// Whether production apps are protected (the config's `protect_production`).
    pub fn protect_production(mut self, on: bool) -> Session {
        self.protect_production = on;
        self
    }

    pub fn with_inflight(mut self, inflight: Inflight) -> Session {
        self.inflight = inflight;
        self
    }

    /// Acts as someone else than the operator (autonomous mode).
    pub fn acting_as(mut self, who: &str) -> Session {
        self.acting_as = Some(who.to_string());
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

    /// Refuses when the instance is read-only, without asking the server anything.
    pub fn check_writable(&self) -> Result<(), ActionError> {
        if self.read_only {
            return Err(ActionError::Refused(format!(
                "{} is read-only here (--read-only or `read_only = true` in the config); \
                 nothing was changed",
                self.instance
            )));
        }
        Ok(())
    }

    /// Refuses when the instance is read-only or the account may not do `rbac_action` on the
    /// app (Argo CD's `can-i`).
    pub async fn check(&self, app: &Application, rbac_action: &str) -> Result<(), ActionError> {
        self.check_writable()?;
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
        is_protected(app, &self.protected, self.protect_production)
    }

    /// Appends an action record to the journal (when there is one). A journal that cannot be
    /// written is reported, never ignored. The write (with its fsync) runs on a blocking thread.
    pub async fn record(&self, body: Value) -> Result<Option<u64>, ActionError> {
        let Some(j) = self.journal.clone() else {
            return Ok(None);
        };
        let mut body = body;
        body["operator"] = json!(self.operator().await);
        body["instance"] = json!(self.instance);
        tokio::task::spawn_blocking(move || j.append("action", body))
            .await
            .map_err(|e| ActionError::Failed(format!("the journal task failed: {e}")))?
            .map(|r| Some(r.seq))
            .map_err(|e| ActionError::Failed(format!("the action was not journaled: {e}")))
    }

    /// Appends the first record of an action that answers the pending decision: it carries
    /// the decision's record and the verdict the action amounts to (an operator's review).
    pub async fn record_answer(
        &self,
        mut body: Value,
        verdict: crate::decide::Verdict,
    ) -> Result<Option<u64>, ActionError> {
        if let Some(seq) = self.decision {
            body["decision_seq"] = json!(seq);
            body["verdict"] = json!(verdict);
        }
        self.record(body).await
    }
}

/// The environment variable that names the operator everywhere.
pub const OPERATOR_ENV: &str = "DRIFTDECK_OPERATOR";

/// The local user: `$USER`, `$LOGNAME` or `$USERNAME`.
pub fn os_user() -> Option<String> {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
}

fn env_operator() -> Option<String> {
    std::env::var(OPERATOR_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().to_string())
}

/// Who acts on an instance, the same everywhere (actions, reviews, annotations):
/// `$DRIFTDECK_OPERATOR`, else the Argo CD account of the instance (`userinfo`), else the local
/// user; "unknown" only when none of them exists.
pub async fn operator(client: &ArgoClient) -> String {
    if let Some(o) = env_operator() {
        return o;
    }
    if let Some(a) = client.account().await {
        return a;
    }
    os_user().unwrap_or_else(|| "unknown".into())
}

/// [`operator`] where no instance is involved (the journal's own records): the variable, else
/// the local user.
pub fn local_operator() -> String {
    env_operator()
        .or_else(os_user)
        .unwrap_or_else(|| "unknown".into())
}

/// Argo CD's RBAC object of an app: `project/name` (`project/namespace/name` for apps outside
/// the control plane's namespace are written the same way by the server).
pub fn rbac_object(app: &Application) -> String {
    format!("{}/{}", app.spec.project, app.metadata.name)
}

/// Environment names that are production (an app's `env` or `environment` label).
pub const PRODUCTION_ENVS: [&str; 4] = ["prod", "production", "prd", "live"];

/// Whether an app runs in production: its `env` (or `environment`) label says so.
pub fn is_production(app: &Application) -> bool {
    let l = &app.metadata.labels;
    l.get("env")
        .or_else(|| l.get("environment"))
        .is_some_and(|e| PRODUCTION_ENVS.contains(&e.trim().to_ascii_lowercase().as_str()))
}

/// Whether an app is protected, so a dangerous action on it wants its name typed (and
/// autonomous mode never acts on it): it runs in production (unless `production` is off: the
/// config's `protect_production = false`), or carries the label
/// `driftdeck.io/protected: "true"`, or its name matches one of the config's globs.
pub fn is_protected(app: &Application, globs: &[String], production: bool) -> bool {
    (production && is_production(app))
        || app
            .metadata
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
            if op.ended() {
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
            .is_some_and(|o| o.in_progress());
        if !running && matches!(h.as_str(), "Healthy" | "Degraded" | "Suspended" | "Missing") {
            return Ok(h);
        }
        if start.elapsed() > timeout {
            return Ok(h);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(labels: &[(&str, &str)], name: &str) -> Application {
        let mut a = Application::default();
        a.metadata.name = name.into();
        for (k, v) in labels {
            a.metadata.labels.insert(k.to_string(), v.to_string());
        }
        a
    }

    #[test]
    fn production_apps_are_protected_unless_the_config_says_otherwise() {
        assert!(is_protected(&app(&[("env", "prod")], "web"), &[], true));
        assert!(is_protected(
            &app(&[("environment", "Production")], "web"),
            &[],
            true
        ));
        assert!(!is_protected(&app(&[("env", "prod")], "web"), &[], false));
        assert!(!is_protected(&app(&[("env", "staging")], "web"), &[], true));
        assert!(is_protected(
            &app(&[("env", "dev")], "payments-x"),
            &["payments-*".into()],
            false
        ));
        assert!(is_protected(
            &app(&[(PROTECTED_LABEL, "true")], "web"),
            &[],
            false
        ));
    }

    #[tokio::test]
    async fn without_an_argo_cd_account_the_os_user_is_the_operator() {
        let cfg = crate::config::InstanceConfig {
            name: "nowhere".into(),
            url: "http://127.0.0.1:9".into(),
            ..Default::default()
        };
        let client = ArgoClient::with_options(
            &cfg,
            crate::clients::argocd::ClientOptions {
                retries: 0,
                connect_timeout: std::time::Duration::from_millis(300),
                request_timeout: std::time::Duration::from_millis(500),
                ..Default::default()
            },
        )
        .unwrap();
        let want = std::env::var(OPERATOR_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .or_else(os_user)
            .unwrap_or_else(|| "unknown".into());
        assert_eq!(operator(&client).await, want);
        if std::env::var(OPERATOR_ENV).is_err() && os_user().is_some() {
            assert_ne!(want, "unknown");
        }
    }
}
