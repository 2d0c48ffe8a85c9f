//! Gathering a decision's context: Prometheus signals from per-app query templates,
//! Alertmanager's firing alerts, PagerDuty's open incidents, and the Kubernetes events of the
//! drifted objects. The sources are asked in parallel, each within its time limit; each one's
//! state (ok, stale, failed) is recorded, and the facts turn a stale or failed source into lower
//! confidence, never into a looser verdict.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use futures::future::BoxFuture;

use super::scenario::{Context, SourceState};
use super::settings::ContextConfig;
use crate::clients::argocd::ArgoClient;
use crate::model::app::Application;
use crate::util::Secret;

mod alertmanager;
mod events;
pub mod mcp;
mod pagerduty;
mod prometheus;

/// The default annotation naming an app's PagerDuty service.
pub const PAGERDUTY_ANNOTATION: &str = "driftdeck.io/pagerduty-service";
/// The annotation naming the service an app is known by in metrics and alerts.
pub const SERVICE_ANNOTATION: &str = "driftdeck.io/service";

/// A drifted object whose events are wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// How one source answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceReport {
    pub name: String,
    pub state: SourceState,
    pub detail: Option<String>,
    pub millis: u64,
}

/// The context of one app at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Gathered {
    pub context: Context,
    pub report: Vec<SourceReport>,
}

/// What a source is asked about: one app at one instant.
pub struct Ask<'a> {
    pub app: &'a Application,
    pub vars: &'a Vars,
    /// The app's Argo CD instance (for what is read through it, such as events).
    pub argo: Option<&'a ArgoClient>,
    pub drifted: &'a [ObjRef],
    pub now: DateTime<Utc>,
}

/// What a source found: the part of the context it fills (merged into the app's context), and
/// why its data is stale when it is.
pub struct Found {
    pub context: Context,
    pub stale: Option<String>,
}

impl Found {
    pub fn fresh(context: Context) -> Found {
        Found {
            context,
            stale: None,
        }
    }
}

/// One context source. A new one (Grafana, Loki, an MCP server) is a file that implements this
/// and a line in [`Sources::from_config`]; the time limit, the parallelism and the recorded
/// state (ok, stale, failed) are the same for all, in [`Sources::gather`].
pub trait Source: Send + Sync {
    /// Its name in the decision's context and on screen.
    fn name(&self) -> &str;
    /// Whether it has anything to say about this app (default: yes).
    fn applies(&self, _ask: &Ask<'_>) -> bool {
        true
    }
    /// Asks it; the caller bounds the time.
    fn fetch<'a>(&'a self, ask: &'a Ask<'a>) -> BoxFuture<'a, Result<Found, String>>;
}

/// The label names an alert may carry its service or workload under: used to gather the
/// alerts that may concern an app and, in the facts, to decide which do.
pub const ALERT_LABELS: [&str; 12] = [
    "service",
    "app",
    "app_kubernetes_io_name",
    "application",
    "deployment",
    "statefulset",
    "daemonset",
    "workload",
    "container",
    "component",
    "argocd_application",
    "name",
];

/// The configured context sources.
pub struct Sources {
    timeout: Duration,
    sources: Vec<Box<dyn Source>>,
}

fn env_secret(var: &Option<String>, what: &str) -> Result<Option<Secret>, String> {
    match var {
        None => Ok(None),
        Some(v) => match std::env::var(v) {
            Ok(s) if !s.trim().is_empty() => Ok(Some(Secret::new(s.trim()))),
            _ => Err(format!(
                "{what}: the variable {v} is not set; export it or remove token_env"
            )),
        },
    }
}

impl Sources {
    /// The sources a config names (none configured: only Kubernetes events, when a client is
    /// given).
    pub fn from_config(cfg: Option<&ContextConfig>) -> Result<Sources, String> {
        let default = ContextConfig::default();
        let cfg = cfg.unwrap_or(&default);
        let timeout = match &cfg.timeout {
            Some(t) => {
                crate::util::parse_duration(t).map_err(|e| format!("[context] timeout: {e}"))?
            }
            None => Duration::from_secs(2),
        };
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        if let Some(p) = &cfg.prometheus {
            sources.push(Box::new(prometheus::Signals::from_config(p, timeout)?));
        }
        if let Some(a) = &cfg.alertmanager {
            sources.push(Box::new(alertmanager::Alerts::from_config(a, timeout)?));
        }
        if let Some(p) = &cfg.pagerduty {
            sources.push(Box::new(pagerduty::Incidents::from_config(p, timeout)?));
        }
        for m in &cfg.mcp {
            for s in mcp::sources(m)? {
                sources.push(Box::new(s));
            }
        }
        if cfg.events.unwrap_or(true) {
            sources.push(Box::new(events::Events));
        }
        Ok(Sources { timeout, sources })
    }

    /// Whether anything beyond events is configured.
    pub fn configured(&self) -> bool {
        self.sources.iter().any(|s| s.name() != events::NAME)
    }

    /// Asks every source about `app` at `now`, in parallel, each within the time limit, and
    /// records each one's state.
    pub async fn gather(
        &self,
        app: &Application,
        argo: Option<&ArgoClient>,
        drifted: &[ObjRef],
        now: DateTime<Utc>,
    ) -> Gathered {
        let vars = Vars::of(app);
        let ask = Ask {
            app,
            vars: &vars,
            argo,
            drifted,
            now,
        };
        let limit = self.timeout;
        let jobs = self.sources.iter().filter(|s| s.applies(&ask)).map(|s| {
            let ask = &ask;
            async move {
                let start = Instant::now();
                let r = tokio::time::timeout(limit, s.fetch(ask)).await;
                (s.name(), start.elapsed(), r)
            }
        });
        let mut ctx = Context::default();
        let mut report = Vec::new();
        for (name, elapsed, r) in futures::future::join_all(jobs).await {
            let (state, detail) = match r {
                Ok(Ok(found)) => {
                    ctx.merge(found.context);
                    match found.stale {
                        Some(d) => (SourceState::Stale, Some(d)),
                        None => (SourceState::Ok, None),
                    }
                }
                Ok(Err(e)) => (SourceState::Failed, Some(e)),
                Err(_) => (
                    SourceState::Failed,
                    Some(format!("no answer within {} s", limit.as_secs_f64())),
                ),
            };
            ctx.sources.insert(name.to_string(), state);
            report.push(SourceReport {
                name: name.to_string(),
                state,
                detail,
                millis: elapsed.as_millis() as u64,
            });
        }
        Gathered {
            context: ctx,
            report,
        }
    }
}

/// What query templates can refer to.
#[derive(Debug, Clone)]
pub struct Vars {
    pub app: String,
    pub namespace: String,
    pub service: String,
    pub project: String,
    pub cluster: String,
}

impl Vars {
    pub fn of(app: &Application) -> Vars {
        let service = app
            .metadata
            .annotations
            .get(SERVICE_ANNOTATION)
            .and_then(|s| s.split(',').next())
            .map(|s| s.trim().to_string())
            .or_else(|| app.metadata.labels.get("app.kubernetes.io/name").cloned())
            .unwrap_or_else(|| app.metadata.name.clone());
        Vars {
            app: app.metadata.name.clone(),
            namespace: app.spec.destination.namespace.clone(),
            service,
            project: app.spec.project.clone(),
            cluster: if app.spec.destination.name.is_empty() {
                app.spec.destination.server.clone()
            } else {
                app.spec.destination.name.clone()
            },
        }
    }

    /// Fills `{app}`, `{namespace}`, `{service}`, `{project}`, `{cluster}`. Values are escaped
    /// for PromQL string literals.
    pub fn fill(&self, template: &str) -> String {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        template
            .replace("{app}", &esc(&self.app))
            .replace("{namespace}", &esc(&self.namespace))
            .replace("{service}", &esc(&self.service))
            .replace("{project}", &esc(&self.project))
            .replace("{cluster}", &esc(&self.cluster))
    }
}

/// The drifted objects of a managed-resources reply, for their events.
pub fn drifted_refs(items: &[crate::model::app::ManagedResource]) -> Vec<ObjRef> {
    items
        .iter()
        .filter(|i| i.modified || i.live_state.is_empty() || i.live_state == "null")
        .map(|i| {
            let uid = serde_json::from_str::<Value>(&i.live_state)
                .ok()
                .and_then(|v| {
                    v.pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_default();
            ObjRef {
                kind: i.kind.clone(),
                namespace: i.namespace.clone(),
                name: i.name.clone(),
                uid,
            }
        })
        .collect()
}
