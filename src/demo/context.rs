//! The demo's context sources, on one loopback server, consistent with what the demo fleet is
//! doing: a Prometheus HTTP API (`/prometheus/api/v1/query`) that answers plain selectors over
//! the demo's series, an Alertmanager API v2 (`/alertmanager/api/v2/alerts`, GET and POST), and
//! a PagerDuty REST API v2 (`/pagerduty/incidents`, token, status and service filters,
//! pagination). When someone scales an app by hand, its traffic may really be spiking (with an
//! alert, sometimes an incident) or not; a hand-set image may be a rollback during an incident.
//!
//! The Prometheus here is a demo: it answers selectors like `demo_request_rate{app="web"}`
//! and refuses any other PromQL with Prometheus' own error shape.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::generator::{DemoApp, Drift, PodState};
use super::state::Instance;
use crate::util::Rng;

use super::Body;

/// Injected trouble, per source (for tests and the fault profiles).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceFaults {
    /// Answer 503.
    pub down: bool,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Prometheus only: no current samples (the scrape stopped a while ago).
    pub stale: bool,
}

#[derive(Default)]
struct Faults {
    prometheus: SourceFaults,
    alertmanager: SourceFaults,
    pagerduty: SourceFaults,
}

struct Shared {
    instances: Vec<Arc<Instance>>,
    pd_token: String,
    posted: Mutex<Vec<Value>>,
    faults: Mutex<Faults>,
}

/// The running context server.
pub struct ContextServer {
    pub addr: SocketAddr,
    pub pagerduty_token: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for ContextServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What is going on with an app, as its metrics, alerts and incidents tell it.
#[derive(Debug, Clone, PartialEq)]
pub struct Situation {
    pub request_rate: f64,
    pub request_rate_baseline: f64,
    pub cpu: f64,
    pub cpu_baseline: f64,
    /// (title, urgency, opened at)
    pub incident: Option<(String, &'static str, i64)>,
    /// (alert name, severity, since)
    pub alerts: Vec<(&'static str, &'static str, i64)>,
}

/// The situation of a demo app at `now`, deterministic for the app and its drifts.
pub fn situation(a: &DemoApp) -> Situation {
    let w = &a.w;
    let mut rng = Rng::new(w.salt ^ 0x5ca1e);
    let base = (w.replicas.max(1) as f64) * (40.0 + (w.salt % 60) as f64);
    let cpu_base = 0.30 + (w.salt % 25) as f64 / 100.0;
    let mut load = 0.92 + rng.unit() * 0.16;
    let mut incident = None;
    let mut alerts = Vec::new();
    for d in &w.drifts {
        let mut r = Rng::new(w.salt ^ d.at() as u64);
        match d {
            Drift::Replicas {
                to,
                by_hpa: false,
                at,
            } if *to > w.replicas => {
                if r.chance(0.6) {
                    load = 2.2 + r.unit() * 2.0;
                    alerts.push(("HighRequestRate", "warning", at - 900));
                    if r.chance(0.6) {
                        incident =
                            Some((format!("{} latency above SLO", w.name), "high", at - 600));
                    }
                } else {
                    load = 1.0 + r.unit() * 0.12;
                }
            }
            Drift::Replicas {
                to, by_hpa: true, ..
            } if *to > w.replicas => {
                load = 1.6 + r.unit() * 0.8;
            }
            Drift::Image { tag, at } if w.tag_history.contains(tag) => {
                incident = Some((
                    format!("{} 5xx errors after deploy {}", w.name, w.tag),
                    "high",
                    at - 300,
                ));
                alerts.push(("High5xxRate", "critical", at - 420));
            }
            _ => {}
        }
    }
    if w.pods == PodState::CrashLoop {
        alerts.push(("KubePodCrashLooping", "warning", w.created));
    }
    Situation {
        request_rate: (base * load).round(),
        request_rate_baseline: base.round(),
        cpu: ((cpu_base * load).min(0.98) * 100.0).round() / 100.0,
        cpu_baseline: cpu_base,
        incident,
        alerts,
    }
}

/// An environment variable that makes every demo context source answer after this many
/// milliseconds (for `driftdeck bench decide`).
pub const DELAY_ENV: &str = "DRIFTDECK_DEMO_CONTEXT_DELAY_MS";

impl ContextServer {
    pub async fn start(
        instances: Vec<Arc<Instance>>,
        addr: SocketAddr,
        seed: u64,
    ) -> std::io::Result<ContextServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let pd_token = format!("demo-pd-{:x}", seed.wrapping_mul(0x9E3779B97F4A7C15) >> 16);
        let shared = Arc::new(Shared {
            instances,
            pd_token: pd_token.clone(),
            posted: Mutex::new(Vec::new()),
            faults: Mutex::new({
                let delay = std::env::var(DELAY_ENV)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_millis)
                    .unwrap_or_default();
                let f = SourceFaults {
                    delay,
                    ..Default::default()
                };
                Faults {
                    prometheus: f.clone(),
                    alertmanager: f.clone(),
                    pagerduty: f,
                }
            }),
        });
        let task = super::spawn_https(listener, None, shared.clone(), handle);
        Ok(ContextServer {
            addr,
            pagerduty_token: pd_token,
            shared,
            task,
        })
    }

    pub fn prometheus_url(&self) -> String {
        format!("http://{}/prometheus", self.addr)
    }

    pub fn alertmanager_url(&self) -> String {
        format!("http://{}/alertmanager", self.addr)
    }

    pub fn pagerduty_url(&self) -> String {
        format!("http://{}/pagerduty", self.addr)
    }

    pub fn set_faults(
        &self,
        prometheus: SourceFaults,
        alertmanager: SourceFaults,
        pagerduty: SourceFaults,
    ) {
        let mut f = self.shared.faults.lock().unwrap_or_else(|p| p.into_inner());
        *f = Faults {
            prometheus,
            alertmanager,
            pagerduty,
        };
    }

    /// The `[context]` section that points at this server.
    pub fn config(&self) -> crate::decide::settings::ContextConfig {
        use crate::decide::settings::*;
        let sig = |m: &str, unit: Option<&str>| SignalQuery {
            query: format!("{m}{{app=\"{{app}}\"}}"),
            baseline: Some(format!("{m}_baseline{{app=\"{{app}}\"}}")),
            unit: unit.map(str::to_string),
        };
        ContextConfig {
            timeout: Some("2s".into()),
            prometheus: Some(PrometheusConfig {
                url: self.prometheus_url(),
                stale_after: Some("5m".into()),
                signals: [
                    (
                        "request_rate".to_string(),
                        sig("demo_request_rate", Some("req/s")),
                    ),
                    (
                        "cpu_utilisation".to_string(),
                        sig("demo_cpu_utilisation", None),
                    ),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            }),
            alertmanager: Some(AlertmanagerConfig {
                url: self.alertmanager_url(),
                token_env: None,
            }),
            pagerduty: Some(PagerDutyConfig {
                url: Some(self.pagerduty_url()),
                token: Some(self.pagerduty_token.clone()),
                ..Default::default()
            }),
            events: Some(true),
            mcp: Vec::new(),
        }
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(
                std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                16,
            )
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    let faults = {
        let f = shared.faults.lock().unwrap_or_else(|p| p.into_inner());
        if path.starts_with("/prometheus") {
            f.prometheus.clone()
        } else if path.starts_with("/alertmanager") {
            f.alertmanager.clone()
        } else {
            f.pagerduty.clone()
        }
    };
    if !faults.delay.is_zero() {
        tokio::time::sleep(faults.delay).await;
    }
    if faults.down {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "error", "error": "unavailable"}),
        );
    }
    let mut pairs = query_pairs(&query);
    if method == Method::POST && path == "/prometheus/api/v1/query" {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        pairs.extend(query_pairs(&String::from_utf8_lossy(&body)));
        return prometheus(&shared, &pairs, faults.stale);
    }
    match (method, path.as_str()) {
        (Method::GET, "/prometheus/api/v1/query") => prometheus(&shared, &pairs, faults.stale),
        (Method::GET, "/prometheus/-/ready") => {
            reply(StatusCode::OK, json!("Prometheus Server is Ready."))
        }
        (Method::GET, "/alertmanager/api/v2/alerts") => alerts(&shared),
        (Method::POST, "/alertmanager/api/v2/alerts") => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<Vec<Value>>(&body) {
                Ok(list) => {
                    shared
                        .posted
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend(list);
                    reply(StatusCode::OK, Value::Null)
                }
                Err(e) => reply(
                    StatusCode::BAD_REQUEST,
                    json!({"code": 400, "message": e.to_string()}),
                ),
            }
        }
        (Method::GET, "/pagerduty/incidents") => {
            let auth = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if auth != format!("Token token={}", shared.pd_token) {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": {"message": "Authentication failed", "code": 2006}}),
                );
            }
            pagerduty(&shared, &pairs)
        }
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "not found"})),
    }
}

/// Visits every demo app with its instance and clock, without copying it (a fleet of 10,000
/// apps is read on every query).
fn each_app(shared: &Shared, mut f: impl FnMut(&str, i64, &DemoApp)) {
    for inst in &shared.instances {
        let now = inst.now();
        let st = inst.read();
        for a in st.apps.values() {
            f(&st.name, now, a);
        }
    }
}

/// Visits the apps named `name` (on any instance), or every app when `name` is `None`.
fn each_app_named(shared: &Shared, name: Option<&str>, mut f: impl FnMut(&str, i64, &DemoApp)) {
    let Some(name) = name else {
        return each_app(shared, f);
    };
    for inst in &shared.instances {
        let now = inst.now();
        let st = inst.read();
        if let Some(a) = st.apps.get(name) {
            f(&st.name, now, a);
        }
    }
}

/// A plain selector: `metric{label="value", ...}`.
fn parse_selector(q: &str) -> Option<(String, Vec<(String, String)>)> {
    let q = q.trim();
    let (name, rest) = match q.find('{') {
        Some(i) => (&q[..i], Some(&q[i..])),
        None => (q, None),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return None;
    }
    let mut matchers = Vec::new();
    if let Some(rest) = rest {
        let inner = rest.strip_prefix('{')?.strip_suffix('}')?;
        for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=')?;
            let v = v.trim().strip_prefix('"')?.strip_suffix('"')?;
            matchers.push((
                k.trim().to_string(),
                v.replace("\\\"", "\"").replace("\\\\", "\\"),
            ));
        }
    }
    Some((name.to_string(), matchers))
}

fn prometheus(shared: &Shared, pairs: &[(String, String)], stale: bool) -> Response<Body> {
    let q = pairs
        .iter()
        .find(|(k, _)| k == "query")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let time: f64 = pairs
        .iter()
        .find(|(k, _)| k == "time")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp() as f64);
    let Some((metric, matchers)) = parse_selector(&q) else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"status": "error", "errorType": "bad_data",
                   "error": format!("the demo Prometheus answers plain selectors like demo_request_rate{{app=\"web\"}} only, not {q:?}")}),
        );
    };
    let mut result = Vec::new();
    // A selector on `app` reads that app only, as a real TSDB's index would.
    let by_app = matchers
        .iter()
        .find(|(k, _)| k == "app")
        .map(|(_, v)| v.as_str());
    each_app_named(shared, by_app, |instance, now, a| {
        // A scrape that stopped 20 minutes ago: nothing near `now`.
        if stale && time > (now - 20 * 60) as f64 {
            return;
        }
        let s = situation(a);
        let value = match metric.as_str() {
            "demo_request_rate" => s.request_rate,
            "demo_request_rate_baseline" => s.request_rate_baseline,
            "demo_cpu_utilisation" => s.cpu,
            "demo_cpu_utilisation_baseline" => s.cpu_baseline,
            _ => return,
        };
        let labels: BTreeMap<&str, String> = [
            ("__name__", metric.clone()),
            ("app", a.app.metadata.name.clone()),
            ("namespace", a.w.namespace.clone()),
            ("service", a.w.name.clone()),
            ("instance", instance.to_string()),
        ]
        .into_iter()
        .collect();
        if matchers
            .iter()
            .all(|(k, v)| labels.get(k.as_str()).is_some_and(|x| x == v))
        {
            result.push(json!({"metric": labels, "value": [time, format!("{value}")]}));
        }
    });
    reply(
        StatusCode::OK,
        json!({"status": "success", "data": {"resultType": "vector", "result": result}}),
    )
}

fn ts(secs: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn alerts(shared: &Shared) -> Response<Body> {
    let mut out: Vec<Value> = Vec::new();
    each_app(shared, |_, now, a| {
        for (name, severity, since) in situation(a).alerts {
            let labels = json!({"alertname": name, "severity": severity, "service": a.w.name, "namespace": a.w.namespace});
            out.push(json!({
                "labels": labels,
                "annotations": {"summary": format!("{name} on {}", a.w.name)},
                "startsAt": ts(since),
                "endsAt": ts(now + 3600),
                "updatedAt": ts(now),
                "generatorURL": "http://demo-prometheus/graph",
                "fingerprint": format!("{:016x}", a.w.salt ^ name.len() as u64),
                "receivers": [{"name": "demo"}],
                "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
            }));
        }
    });
    let now = chrono::Utc::now();
    for p in shared
        .posted
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        let ends = p
            .get("endsAt")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if ends.is_some_and(|e| e < now) {
            continue;
        }
        out.push(json!({
            "labels": p.get("labels").cloned().unwrap_or(json!({})),
            "annotations": p.get("annotations").cloned().unwrap_or(json!({})),
            "startsAt": p.get("startsAt").cloned().unwrap_or(json!(now.to_rfc3339())),
            "endsAt": p.get("endsAt").cloned().unwrap_or(json!((now + chrono::Duration::hours(1)).to_rfc3339())),
            "updatedAt": now.to_rfc3339(),
            "fingerprint": "posted",
            "receivers": [{"name": "demo"}],
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        }));
    }
    reply(StatusCode::OK, Value::Array(out))
}

fn pagerduty(shared: &Shared, pairs: &[(String, String)]) -> Response<Body> {
    let statuses: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "statuses[]")
        .map(|(_, v)| v.as_str())
        .collect();
    let services: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "service_ids[]")
        .map(|(_, v)| v.as_str())
        .collect();
    let limit: usize = pairs
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let offset: usize = pairs
        .iter()
        .find(|(k, _)| k == "offset")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut all = Vec::new();
    each_app(shared, |_, _, a| {
        let Some((title, urgency, opened)) = situation(a).incident else {
            return;
        };
        let service_id = format!("PDEMO{:04}", a.w.salt % 10_000);
        let status = if a.w.salt % 3 == 0 {
            "acknowledged"
        } else {
            "triggered"
        };
        if !statuses.is_empty() && !statuses.contains(&status) {
            return;
        }
        if !services.is_empty() && !services.contains(&service_id.as_str()) {
            return;
        }
        let number = 10_000 + a.w.salt % 90_000;
        all.push(json!({
            "id": format!("Q{:012X}", a.w.salt % 0xFFFF_FFFF_FFFF),
            "type": "incident",
            "incident_number": number,
            "title": title,
            "summary": format!("[#{number}] {title}"),
            "status": status,
            "urgency": urgency,
            "created_at": ts(opened),
            "service": {"id": service_id, "type": "service_reference", "summary": a.w.name},
            "html_url": format!("https://demo.pagerduty.invalid/incidents/{number}"),
        }));
    });
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    let more = offset + page.len() < total;
    reply(
        StatusCode::OK,
        json!({"incidents": page, "limit": limit, "offset": offset, "more": more, "total": null}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert_eq!(
            parse_selector(r#"demo_request_rate{app="web", namespace="shop"}"#),
            Some((
                "demo_request_rate".into(),
                vec![
                    ("app".into(), "web".into()),
                    ("namespace".into(), "shop".into())
                ]
            ))
        );
        assert_eq!(parse_selector("up"), Some(("up".into(), vec![])));
        assert_eq!(parse_selector("sum(rate(x[5m]))"), None);
        assert_eq!(decode("a%20b+c%3D"), "a b c=");
    }
}
