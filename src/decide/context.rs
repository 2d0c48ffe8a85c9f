//! Gathering a decision's context: Prometheus signals from per-app query templates,
//! Alertmanager's firing alerts, PagerDuty's open incidents, and the Kubernetes events of the
//! drifted objects. The sources are asked in parallel, each within its time limit; each one's
//! state (ok, stale, failed) is recorded, and the facts turn a stale or failed source into lower
//! confidence, never into a looser verdict.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::scenario::{Alert, Context, Incident, KubeEvent, Signal, SourceState};
use super::settings::{ContextConfig, SignalQuery};
use crate::clients::alertmanager::Alertmanager;
use crate::clients::argocd::ArgoClient;
use crate::clients::pagerduty::{self, PagerDuty};
use crate::clients::prometheus::Prometheus;
use crate::model::app::Application;
use crate::util::Secret;

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

struct Prom {
    client: Prometheus,
    signals: BTreeMap<String, SignalQuery>,
    apps: BTreeMap<String, BTreeMap<String, SignalQuery>>,
    stale_after: chrono::Duration,
}

struct Pd {
    client: PagerDuty,
    annotation: String,
    services: BTreeMap<String, String>,
}

/// The configured context sources.
pub struct Sources {
    timeout: Duration,
    prometheus: Option<Prom>,
    alertmanager: Option<Alertmanager>,
    pagerduty: Option<Pd>,
    events: bool,
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
        let prometheus = match &cfg.prometheus {
            Some(p) => {
                let stale = match &p.stale_after {
                    Some(t) => crate::util::parse_duration(t)
                        .map_err(|e| format!("[context.prometheus] stale_after: {e}"))?,
                    None => Duration::from_secs(300),
                };
                Some(Prom {
                    client: Prometheus::new(
                        &p.url,
                        timeout,
                        env_secret(&p.token_env, "[context.prometheus]")?,
                    )?,
                    signals: p.signals.clone(),
                    apps: p.apps.clone(),
                    stale_after: chrono::Duration::from_std(stale)
                        .unwrap_or(chrono::Duration::minutes(5)),
                })
            }
            None => None,
        };
        let alertmanager = match &cfg.alertmanager {
            Some(a) => Some(Alertmanager::new(
                &a.url,
                timeout,
                env_secret(&a.token_env, "[context.alertmanager]")?,
            )?),
            None => None,
        };
        let pagerduty = match &cfg.pagerduty {
            Some(p) => {
                let token = match (&p.token, &p.token_env) {
                    (Some(t), _) => Secret::new(t.trim()),
                    (None, var) => env_secret(var, "[context.pagerduty]")?
                        .ok_or("[context.pagerduty] needs token_env or token")?,
                };
                Some(Pd {
                    client: PagerDuty::new(
                        p.url.as_deref().unwrap_or(pagerduty::DEFAULT_URL),
                        timeout,
                        token,
                    )?,
                    annotation: p
                        .annotation
                        .clone()
                        .unwrap_or_else(|| PAGERDUTY_ANNOTATION.into()),
                    services: p.services.clone(),
                })
            }
            None => None,
        };
        Ok(Sources {
            timeout,
            prometheus,
            alertmanager,
            pagerduty,
            events: cfg.events.unwrap_or(true),
        })
    }

    /// Whether anything beyond events is configured.
    pub fn configured(&self) -> bool {
        self.prometheus.is_some() || self.alertmanager.is_some() || self.pagerduty.is_some()
    }

    /// Asks every source about `app` at `now`, in parallel.
    pub async fn gather(
        &self,
        app: &Application,
        argo: Option<&ArgoClient>,
        drifted: &[ObjRef],
        now: DateTime<Utc>,
    ) -> Gathered {
        let vars = Vars::of(app);
        let limit = self.timeout;
        let prom = async {
            match &self.prometheus {
                Some(p) => Some(timed("prometheus", limit, prom_signals(p, &vars, now)).await),
                None => None,
            }
        };
        let am = async {
            match &self.alertmanager {
                Some(a) => Some(timed("alertmanager", limit, am_alerts(a, &vars, drifted)).await),
                None => None,
            }
        };
        let pd = async {
            match &self.pagerduty {
                Some(p) => Some(timed("pagerduty", limit, pd_incidents(p, app)).await),
                None => None,
            }
        };
        let ev = async {
            match (argo, self.events && !drifted.is_empty()) {
                (Some(c), true) => Some(
                    timed(
                        "kubernetes-events",
                        limit,
                        kube_events(c, app, drifted, now),
                    )
                    .await,
                ),
                _ => None,
            }
        };
        let (prom, am, pd, ev) = tokio::join!(prom, am, pd, ev);
        let mut ctx = Context::default();
        let mut report = Vec::new();
        let limit_s = limit.as_secs_f64();
        let mut record = |name: &str,
                          elapsed: Duration,
                          state: SourceState,
                          detail: Option<String>,
                          ctx: &mut Context| {
            ctx.sources.insert(name.to_string(), state);
            report.push(SourceReport {
                name: name.to_string(),
                state,
                detail,
                millis: elapsed.as_millis() as u64,
            });
        };
        if let Some((name, el, r)) = prom {
            match r {
                Ok(Ok((signals, stale))) => {
                    ctx.signals = signals;
                    let (state, detail) = match stale {
                        Some(d) => (SourceState::Stale, Some(d)),
                        None => (SourceState::Ok, None),
                    };
                    record(name, el, state, detail, &mut ctx);
                }
                Ok(Err(e)) => record(name, el, SourceState::Failed, Some(e), &mut ctx),
                Err(_) => record(
                    name,
                    el,
                    SourceState::Failed,
                    Some(format!("no answer within {limit_s} s")),
                    &mut ctx,
                ),
            }
        }
        if let Some((name, el, r)) = am {
            match r {
                Ok(Ok(alerts)) => {
                    ctx.alerts = alerts;
                    record(name, el, SourceState::Ok, None, &mut ctx);
                }
                Ok(Err(e)) => record(name, el, SourceState::Failed, Some(e), &mut ctx),
                Err(_) => record(
                    name,
                    el,
                    SourceState::Failed,
                    Some(format!("no answer within {limit_s} s")),
                    &mut ctx,
                ),
            }
        }
        if let Some((name, el, r)) = pd {
            match r {
                Ok(Ok(incidents)) => {
                    ctx.incidents = incidents;
                    record(name, el, SourceState::Ok, None, &mut ctx);
                }
                Ok(Err(e)) => record(name, el, SourceState::Failed, Some(e), &mut ctx),
                Err(_) => record(
                    name,
                    el,
                    SourceState::Failed,
                    Some(format!("no answer within {limit_s} s")),
                    &mut ctx,
                ),
            }
        }
        if let Some((name, el, r)) = ev {
            match r {
                Ok(Ok(events)) => {
                    ctx.events = events;
                    record(name, el, SourceState::Ok, None, &mut ctx);
                }
                Ok(Err(e)) => record(name, el, SourceState::Failed, Some(e), &mut ctx),
                Err(_) => record(
                    name,
                    el,
                    SourceState::Failed,
                    Some(format!("no answer within {limit_s} s")),
                    &mut ctx,
                ),
            }
        }
        Gathered {
            context: ctx,
            report,
        }
    }
}

/// Runs a source's work within the time limit, measuring it.
async fn timed<F: std::future::Future>(
    name: &'static str,
    limit: Duration,
    f: F,
) -> (
    &'static str,
    Duration,
    Result<F::Output, tokio::time::error::Elapsed>,
) {
    let start = Instant::now();
    let r = tokio::time::timeout(limit, f).await;
    (name, start.elapsed(), r)
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

/// The signals of an app; `Some(why)` as the second value when the data is stale.
async fn prom_signals(
    p: &Prom,
    vars: &Vars,
    now: DateTime<Utc>,
) -> Result<(BTreeMap<String, Signal>, Option<String>), String> {
    let mut queries = p.signals.clone();
    if let Some(own) = p.apps.get(&vars.app) {
        for (k, v) in own {
            queries.insert(k.clone(), v.clone());
        }
    }
    let sum = |s: &[crate::clients::prometheus::Sample]| -> Option<f64> {
        let vals: Vec<f64> = s
            .iter()
            .map(|x| x.value)
            .filter(|v| v.is_finite())
            .collect();
        (!vals.is_empty()).then(|| vals.iter().sum())
    };
    let jobs = queries.iter().map(|(name, q)| {
        let query = vars.fill(&q.query);
        let baseline = q.baseline.as_ref().map(|b| vars.fill(b));
        async move {
            let (cur, base) = tokio::join!(p.client.instant(&query, now), async {
                match &baseline {
                    Some(b) => Some(p.client.instant(b, now).await),
                    None => None,
                }
            });
            let cur = cur.map_err(|e| format!("{name}: {e}"))?;
            let base = match base {
                Some(r) => sum(&r.map_err(|e| format!("{name} baseline: {e}"))?),
                None => None,
            };
            // No current data: if there was some a little earlier, the metrics are stale.
            let (value, stale) = match sum(&cur) {
                Some(v) => (Some(v), false),
                None => {
                    let earlier = p
                        .client
                        .instant(&query, now - p.stale_after)
                        .await
                        .map_err(|e| format!("{name}: {e}"))?;
                    match sum(&earlier) {
                        Some(v) => (Some(v), true),
                        None => (None, false),
                    }
                }
            };
            Ok::<_, String>((name.clone(), value, base, q.unit.clone(), stale))
        }
    });
    let results = futures::future::join_all(jobs).await;
    let mut out = BTreeMap::new();
    let mut stale = Vec::new();
    for r in results {
        let (name, value, baseline, unit, is_stale) = r?;
        if is_stale {
            stale.push(name.clone());
        }
        if let Some(value) = value {
            out.insert(
                name,
                Signal {
                    value,
                    baseline,
                    unit,
                },
            );
        }
    }
    let why = (!stale.is_empty()).then(|| {
        format!(
            "no sample in the last {} min for {}",
            p.stale_after.num_minutes(),
            stale.join(", ")
        )
    });
    Ok((out, why))
}

const ALERT_LABELS: [&str; 10] = [
    "service",
    "app",
    "app_kubernetes_io_name",
    "application",
    "deployment",
    "statefulset",
    "daemonset",
    "workload",
    "container",
    "argocd_application",
];

/// The firing alerts that may concern the app (the facts decide which really do).
async fn am_alerts(
    a: &Alertmanager,
    vars: &Vars,
    drifted: &[ObjRef],
) -> Result<Vec<Alert>, String> {
    let alerts = a.firing().await.map_err(|e| e.to_string())?;
    let mut names: BTreeSet<String> = [vars.app.clone(), vars.service.clone()]
        .into_iter()
        .collect();
    names.extend(drifted.iter().map(|o| o.name.clone()));
    let near = |v: &str| {
        names
            .iter()
            .any(|n| v == n || v.starts_with(&format!("{n}-")) || n.starts_with(&format!("{v}-")))
    };
    Ok(alerts
        .into_iter()
        .filter(|al| {
            ALERT_LABELS
                .iter()
                .any(|k| al.labels.get(*k).is_some_and(|v| near(v)))
                || al
                    .labels
                    .get("namespace")
                    .is_some_and(|ns| !vars.namespace.is_empty() && *ns == vars.namespace)
        })
        .map(|al| {
            let mut labels = al.labels.clone();
            let name = labels
                .remove("alertname")
                .unwrap_or_else(|| "unnamed".into());
            Alert {
                name,
                severity: labels.get("severity").cloned(),
                labels,
                starts_at: Some(al.starts_at),
            }
        })
        .collect())
}

/// Open incidents: of the app's own PagerDuty service when it is mapped (annotation or
/// config), else all open ones, left for the facts to match by service name.
async fn pd_incidents(p: &Pd, app: &Application) -> Result<Vec<Incident>, String> {
    let mapped: Vec<String> = app
        .metadata
        .annotations
        .get(&p.annotation)
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .or_else(|| p.services.get(&app.metadata.name).map(|s| vec![s.clone()]))
        .unwrap_or_default();
    let list = p
        .client
        .open_incidents(&mapped)
        .await
        .map_err(|e| e.to_string())?;
    Ok(list
        .into_iter()
        .map(|i| Incident {
            id: i.incident_number.map(|n| format!("PD-{n}")).unwrap_or(i.id),
            title: i.title,
            service: i.service.summary,
            status: i.status,
            urgency: i.urgency,
            created: Some(i.created_at),
            mapped: !mapped.is_empty(),
        })
        .collect())
}

/// The events of the drifted objects (at most five objects, the last day).
async fn kube_events(
    c: &ArgoClient,
    app: &Application,
    drifted: &[ObjRef],
    now: DateTime<Utc>,
) -> Result<Vec<KubeEvent>, String> {
    let app_ns = (!app.metadata.namespace.is_empty()).then_some(app.metadata.namespace.as_str());
    let jobs = drifted.iter().take(5).map(|o| async move {
        c.resource_events(&app.metadata.name, app_ns, &o.namespace, &o.name, &o.uid)
            .await
            .map(|list| (o, list))
    });
    let mut out = Vec::new();
    for r in futures::future::join_all(jobs).await {
        let (o, list) = r.map_err(|e| e.to_string())?;
        for e in list.items {
            let time = e
                .last_timestamp
                .as_deref()
                .or(e.first_timestamp.as_deref())
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            if time.is_some_and(|t| {
                now - t > chrono::Duration::hours(24) || t > now + chrono::Duration::minutes(5)
            }) {
                continue;
            }
            let kind = if e.involved_object.kind.is_empty() {
                o.kind.clone()
            } else {
                e.involved_object.kind.clone()
            };
            let name = if e.involved_object.name.is_empty() {
                o.name.clone()
            } else {
                e.involved_object.name.clone()
            };
            out.push(KubeEvent {
                kind: e.kind,
                reason: e.reason,
                object: format!("{kind}/{name}"),
                message: e.message,
                time,
            });
        }
    }
    out.sort_by_key(|e| e.time);
    Ok(out)
}

/// The drifted objects of a managed-resources reply, for their events.
pub fn drifted_refs(items: &[crate::model::app::ResourceDiff]) -> Vec<ObjRef> {
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
