//! Context through MCP: signals, firing alerts and open incidents from the tools of an MCP
//! server (a Prometheus MCP server, an incident tool's), over stdio or streamable HTTP.
//!
//! One connection per server, opened on first use and opened again after a failure. Each kind
//! (signals, alerts, incidents) is its own source, `mcp:NAME/KIND`, so the facts tell a failed
//! metrics server from a failed incident server. A call that fails may reuse the app's last
//! answer if it is recent enough, marked stale; a Prometheus-shaped sample older than
//! `stale_after` is stale too.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{Peer, RoleClient, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Map, Value};

use super::{Ask, Found, Source, Vars, env_secret};
use crate::decide::scenario::{Alert, Context, Incident, Signal};
use crate::decide::settings::{McpCall, McpSignal, McpSourceConfig};
use crate::util::Secret;

/// What a source name starts with.
pub const PREFIX: &str = "mcp:";

/// A tool result is read up to this size (a Prometheus vector of a whole cluster is far less).
const MAX_RESULT: usize = 4 << 20;

/// How to reach the server.
enum Endpoint {
    Stdio(Vec<String>),
    Http { url: String, token: Option<Secret> },
}

/// One MCP server: its endpoint and the open connection.
pub struct Server {
    name: String,
    endpoint: Endpoint,
    conn: tokio::sync::Mutex<Option<RunningService<RoleClient, ()>>>,
    stale_after: chrono::Duration,
}

impl Server {
    /// The connection's peer, connecting first if needed.
    async fn peer(&self) -> Result<Peer<RoleClient>, String> {
        let mut conn = self.conn.lock().await;
        if let Some(c) = conn.as_ref()
            && !c.is_transport_closed()
        {
            return Ok(c.peer().clone());
        }
        *conn = None;
        let running = match &self.endpoint {
            Endpoint::Stdio(argv) => {
                let mut cmd = tokio::process::Command::new(&argv[0]);
                cmd.args(&argv[1..]);
                let (child, stderr) = TokioChildProcess::builder(cmd)
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("could not start `{}`: {e}", argv[0]))?;
                // The server's complaints go to the log, never to the operator's screen.
                if let Some(stderr) = stderr {
                    let name = self.name.clone();
                    tokio::spawn(async move {
                        use tokio::io::AsyncBufReadExt;
                        let mut lines = tokio::io::BufReader::new(stderr).lines();
                        while let Ok(Some(l)) = lines.next_line().await {
                            tracing::debug!(server = %name, "mcp stderr: {}", crate::term::clean_line(&l));
                        }
                    });
                }
                ().serve(child)
                    .await
                    .map_err(|e| format!("the MCP handshake failed: {e}"))?
            }
            Endpoint::Http { url, token } => {
                // No total time limit on the client: the server's event stream is long-lived;
                // each call is bounded by the context's time limit.
                let http = crate::clients::http::client(url, Duration::from_secs(24 * 3600))?;
                let mut config =
                    rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                        url.as_str(),
                    );
                config.max_json_response_size = MAX_RESULT;
                if let Some(t) = token {
                    config = config.auth_header(t.expose().to_string());
                }
                let transport = StreamableHttpClientTransport::with_client(http, config);
                ().serve(transport)
                    .await
                    .map_err(|e| format!("the MCP handshake failed: {e}"))?
            }
        };
        let peer = running.peer().clone();
        *conn = Some(running);
        Ok(peer)
    }

    /// Calls a tool; a transport error closes the connection so the next call opens a new one.
    async fn call(&self, call: &McpCall, vars: &Vars) -> Result<Value, String> {
        self.call_with(&call.tool, &call.arguments, vars).await
    }

    async fn call_with(
        &self,
        tool: &str,
        arguments: &Map<String, Value>,
        vars: &Vars,
    ) -> Result<Value, String> {
        let peer = self.peer().await?;
        let params =
            CallToolRequestParams::new(tool.to_string()).with_arguments(fill(arguments, vars));
        match peer.call_tool(params).await {
            Ok(r) => result_value(tool, &r),
            Err(e) => {
                if let Some(c) = self.conn.lock().await.take() {
                    let _ = c.cancel().await;
                }
                Err(format!("`{tool}`: {e}"))
            }
        }
    }
}

/// Fills the templates in the arguments' strings.
fn fill(arguments: &Map<String, Value>, vars: &Vars) -> Map<String, Value> {
    fn walk(v: &Value, vars: &Vars) -> Value {
        match v {
            Value::String(s) => Value::String(vars.fill(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, vars)).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, x)| (k.clone(), walk(x, vars))).collect())
            }
            other => other.clone(),
        }
    }
    arguments
        .iter()
        .map(|(k, v)| (k.clone(), walk(v, vars)))
        .collect()
}

/// A tool's result as JSON: its structured content, else its text parsed as JSON, else the
/// text itself. A result marked as an error is an error, with the tool's words.
fn result_value(tool: &str, r: &CallToolResult) -> Result<Value, String> {
    let text: String = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    if text.len() > MAX_RESULT {
        return Err(format!(
            "`{tool}` answered more than {} MiB",
            MAX_RESULT >> 20
        ));
    }
    if r.is_error == Some(true) {
        let words: String = crate::term::clean_line(&text).chars().take(200).collect();
        return Err(format!("`{tool}` failed: {words}"));
    }
    if let Some(v) = &r.structured_content {
        return Ok(v.clone());
    }
    Ok(serde_json::from_str(text.trim()).unwrap_or(Value::String(text)))
}

/// A number from a tool's result, and the sample's time when it says: a JSON number or numeric
/// string, `{"value": N}`, or a Prometheus query result (`data.result` or `result`, vectors
/// and scalars, summed). `Ok(None)`: the result holds no sample (no data now).
pub fn number_of(v: &Value) -> Result<Option<(f64, Option<f64>)>, String> {
    let num = |x: &Value| -> Option<f64> {
        match x {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    // A Prometheus sample: [time, "value"].
    let sample = |x: &Value| -> Option<(f64, f64)> {
        let a = x.as_array()?;
        Some((num(a.get(1)?)?, num(a.first()?)?))
    };
    if let Some(n) = num(v) {
        return Ok(Some((n, None)).filter(|(n, _)| n.is_finite()));
    }
    let Some(o) = v.as_object() else {
        return Err("the tool's result is not a number nor a query result".into());
    };
    let inner = o.get("data").filter(|d| d.is_object()).unwrap_or(v);
    if let Some(result) = inner.get("result") {
        if let Some((n, t)) = sample(result) {
            return Ok(Some((n, Some(t))).filter(|(n, _)| n.is_finite()));
        }
        let Some(series) = result.as_array() else {
            return Err("the query result's `result` is neither a list nor a sample".into());
        };
        let mut sum = None::<f64>;
        let mut oldest = None::<f64>;
        for s in series {
            let Some((n, t)) = s.get("value").and_then(sample) else {
                continue;
            };
            if n.is_finite() {
                sum = Some(sum.unwrap_or(0.0) + n);
                oldest = Some(oldest.map_or(t, |o: f64| o.min(t)));
            }
        }
        return Ok(sum.map(|s| (s, oldest)));
    }
    if let Some(n) = o.get("value").and_then(num) {
        return Ok(Some((n, None)).filter(|(n, _)| n.is_finite()));
    }
    Err("the tool's result is not a number nor a query result".into())
}

/// The list a tool's result holds: the result itself, or its `alerts`, `incidents`, `items`
/// or `data`.
fn list_of<'v>(v: &'v Value, key: &str) -> Result<&'v Vec<Value>, String> {
    if let Some(a) = v.as_array() {
        return Ok(a);
    }
    for k in [key, "items", "data"] {
        if let Some(a) = v.get(k).and_then(Value::as_array) {
            return Ok(a);
        }
    }
    Err(format!("the tool's result is not a list of {key}"))
}

/// Alerts, as Alertmanager's API gives them (`labels.alertname`, `startsAt`) or as scenarios
/// write them (`name`, `severity`, `labels`).
pub fn alerts_of(v: &Value) -> Result<Vec<Alert>, String> {
    let mut out = Vec::new();
    for a in list_of(v, "alerts")? {
        let mut labels: BTreeMap<String, String> = a
            .get("labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let name = a
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| labels.remove("alertname"))
            .ok_or("an alert has neither `name` nor `labels.alertname`")?;
        let state = a
            .pointer("/status/state")
            .or_else(|| a.get("state"))
            .and_then(Value::as_str);
        if state.is_some_and(|s| !matches!(s, "active" | "firing")) {
            continue;
        }
        let starts_at = a
            .get("startsAt")
            .or_else(|| a.get("activeAt"))
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc));
        out.push(Alert {
            severity: a
                .get("severity")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| labels.get("severity").cloned()),
            name,
            labels,
            starts_at,
        });
    }
    Ok(out)
}

/// Open incidents, in the scenario format (`id`, `title`, `service`, `status`, `urgency`,
/// `created`); resolved ones are left out.
pub fn incidents_of(v: &Value) -> Result<Vec<Incident>, String> {
    let mut out = Vec::new();
    for i in list_of(v, "incidents")? {
        let mut inc: Incident = serde_json::from_value(i.clone())
            .map_err(|e| format!("an incident is not in the expected shape: {e}"))?;
        inc.mapped = false;
        if inc.status.eq_ignore_ascii_case("resolved") {
            continue;
        }
        out.push(inc);
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Signals,
    Alerts,
    Incidents,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Signals => "signals",
            Kind::Alerts => "alerts",
            Kind::Incidents => "incidents",
        }
    }
}

/// One kind of context from one server.
pub struct Tools {
    server: Arc<Server>,
    kind: Kind,
    source: String,
    signals: BTreeMap<String, McpSignal>,
    call: Option<McpCall>,
    /// App → its last good answer and when it was had.
    last: Mutex<HashMap<String, (DateTime<Utc>, Context)>>,
}

/// The sources of one `[[context.mcp]]`: one per kind it asks for.
pub fn sources(cfg: &McpSourceConfig) -> Result<Vec<Tools>, String> {
    let what = format!("[[context.mcp]] `{}`", cfg.name);
    let endpoint = match (&cfg.url, cfg.command.is_empty()) {
        (Some(url), true) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "{what}: url `{url}` is not an http:// or https:// address"
                ));
            }
            Endpoint::Http {
                url: url.clone(),
                token: env_secret(&cfg.token_env, &what)?,
            }
        }
        (None, false) => Endpoint::Stdio(cfg.command.clone()),
        _ => {
            return Err(format!(
                "{what} needs one of command (a stdio server) or url (streamable HTTP)"
            ));
        }
    };
    let stale = match &cfg.stale_after {
        Some(t) => {
            crate::util::parse_duration(t).map_err(|e| format!("{what} stale_after: {e}"))?
        }
        None => Duration::from_secs(300),
    };
    let server = Arc::new(Server {
        name: cfg.name.clone(),
        endpoint,
        conn: tokio::sync::Mutex::new(None),
        stale_after: chrono::Duration::from_std(stale).unwrap_or(chrono::Duration::minutes(5)),
    });
    let make = |kind: Kind, signals: BTreeMap<String, McpSignal>, call: Option<McpCall>| Tools {
        server: server.clone(),
        kind,
        source: format!("{PREFIX}{}/{}", cfg.name, kind.word()),
        signals,
        call,
        last: Mutex::new(HashMap::new()),
    };
    let mut out = Vec::new();
    if !cfg.signals.is_empty() {
        out.push(make(Kind::Signals, cfg.signals.clone(), None));
    }
    if let Some(c) = &cfg.alerts {
        out.push(make(Kind::Alerts, BTreeMap::new(), Some(c.clone())));
    }
    if let Some(c) = &cfg.incidents {
        out.push(make(Kind::Incidents, BTreeMap::new(), Some(c.clone())));
    }
    Ok(out)
}

impl Tools {
    /// Asks the server; `Some(why)` with the context when the data is stale.
    async fn ask(
        &self,
        vars: &Vars,
        now: DateTime<Utc>,
    ) -> Result<(Context, Option<String>), String> {
        let s = &self.server;
        match self.kind {
            Kind::Signals => {
                let mut signals = BTreeMap::new();
                let mut stale = Vec::new();
                for (name, q) in &self.signals {
                    let cur = s.call_with(&q.tool, &q.arguments, vars).await?;
                    let Some((value, at)) = number_of(&cur).map_err(|e| format!("{name}: {e}"))?
                    else {
                        continue;
                    };
                    if let Some(at) = at
                        && (now.timestamp() as f64 - at) > s.stale_after.num_seconds() as f64
                    {
                        stale.push(name.clone());
                    }
                    let baseline = match &q.baseline {
                        Some(args) => number_of(&s.call_with(&q.tool, args, vars).await?)
                            .map_err(|e| format!("{name} baseline: {e}"))?
                            .map(|(v, _)| v),
                        None => None,
                    };
                    signals.insert(
                        name.clone(),
                        Signal {
                            value,
                            baseline,
                            unit: q.unit.clone(),
                        },
                    );
                }
                let why = (!stale.is_empty()).then(|| {
                    format!(
                        "samples older than {} min for {}",
                        s.stale_after.num_minutes(),
                        stale.join(", ")
                    )
                });
                Ok((
                    Context {
                        signals,
                        ..Default::default()
                    },
                    why,
                ))
            }
            Kind::Alerts | Kind::Incidents => {
                let call = self.call.as_ref().ok_or("no tool configured")?;
                let v = s.call(call, vars).await?;
                let context = if self.kind == Kind::Alerts {
                    Context {
                        alerts: alerts_of(&v)?,
                        ..Default::default()
                    }
                } else {
                    Context {
                        incidents: incidents_of(&v)?,
                        ..Default::default()
                    }
                };
                Ok((context, None))
            }
        }
    }
}

impl Source for Tools {
    fn name(&self) -> &str {
        &self.source
    }

    fn fetch<'a>(&'a self, ask: &'a Ask<'a>) -> BoxFuture<'a, Result<Found, String>> {
        Box::pin(async move {
            let key = ask.vars.app.clone();
            match self.ask(ask.vars, ask.now).await {
                Ok((context, stale)) => {
                    if let Ok(mut last) = self.last.lock() {
                        last.insert(key, (ask.now, context.clone()));
                    }
                    Ok(Found { context, stale })
                }
                Err(e) => {
                    let recent = self.last.lock().ok().and_then(|last| {
                        last.get(&key)
                            .filter(|(at, _)| ask.now - *at <= self.server.stale_after)
                            .cloned()
                    });
                    match recent {
                        Some((at, context)) => Ok(Found {
                            context,
                            stale: Some(format!(
                                "{e}; using the answer from {} s ago",
                                (ask.now - at).num_seconds()
                            )),
                        }),
                        None => Err(e),
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_from_the_shapes_tools_give() {
        assert_eq!(number_of(&json!(3.5)).unwrap(), Some((3.5, None)));
        assert_eq!(number_of(&json!("12")).unwrap(), Some((12.0, None)));
        assert_eq!(number_of(&json!({"value": 2})).unwrap(), Some((2.0, None)));
        let prom = json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"pod": "a"}, "value": [1700000000.5, "10"]},
            {"metric": {"pod": "b"}, "value": [1700000001, "5.5"]}]}});
        assert_eq!(number_of(&prom).unwrap(), Some((15.5, Some(1700000000.5))));
        let empty = json!({"resultType": "vector", "result": []});
        assert_eq!(number_of(&empty).unwrap(), None);
        let scalar = json!({"resultType": "scalar", "result": [1700000000, "1"]});
        assert_eq!(number_of(&scalar).unwrap(), Some((1.0, Some(1700000000.0))));
        assert_eq!(number_of(&json!("NaN")).unwrap(), None);
        assert!(number_of(&json!("no data")).is_err());
        assert!(number_of(&json!([1, 2])).is_err());
    }

    #[test]
    fn alerts_and_incidents_in_either_shape() {
        let am = json!([{"labels": {"alertname": "HighLatency", "service": "cart", "severity": "page"},
            "startsAt": "2026-01-01T00:00:00Z", "status": {"state": "active"}},
            {"labels": {"alertname": "Old"}, "status": {"state": "suppressed"}}]);
        let a = alerts_of(&am).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].name, "HighLatency");
        assert_eq!(a[0].severity.as_deref(), Some("page"));
        assert_eq!(a[0].labels.get("service").map(String::as_str), Some("cart"));
        let sc = json!({"alerts": [{"name": "X", "labels": {"app": "y"}}]});
        assert_eq!(alerts_of(&sc).unwrap()[0].name, "X");
        assert!(alerts_of(&json!([{"labels": {}}])).is_err());
        let inc = json!({"incidents": [{"id": "P1", "title": "t", "service": "cart", "status": "triggered"},
            {"id": "P2", "status": "resolved"}]});
        let i = incidents_of(&inc).unwrap();
        assert_eq!(i.len(), 1);
        assert_eq!(i[0].id, "P1");
        assert!(incidents_of(&json!("nothing")).is_err());
    }
}
