//! The demo Argo CD API server: the endpoints, JSON shapes, status codes, error bodies and
//! stream framing of the real one (see `../shared/docs/argocd-api.md`), on loopback.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::generator::{ClusterData, revision_metadata};
use super::resources;
use super::state::{Instance, WatchEvent};
use crate::clients::argocd::error::grpc;
use crate::model::app::*;

type Body = BoxBody<Bytes, Infallible>;

/// The version this demo claims to be.
pub fn version_message() -> VersionMessage {
    VersionMessage {
        version: "v3.2.1+37ee009".into(),
        build_date: "2026-08-22T10:14:31Z".into(),
        git_commit: "37ee0097c7a1c3ab2e4a5d1f0b8c6e9d2f4a1b3c".into(),
        git_tag: "v3.2.1".into(),
        git_tree_state: "clean".into(),
        go_version: "go1.24.6".into(),
        compiler: "gc".into(),
        platform: "linux/amd64".into(),
        kustomize_version: "v5.7.1 2025-07-24T01:20:41Z".into(),
        helm_version: "v3.18.4+gd80839c".into(),
        kubectl_version: "v0.34.0".into(),
        jsonnet_version: "v0.21.0".into(),
    }
}

/// A running demo API server for one instance.
pub struct ArgoServer {
    pub addr: SocketAddr,
    inst: Arc<Instance>,
    task: Option<JoinHandle<()>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl ArgoServer {
    pub async fn start(inst: Arc<Instance>, addr: SocketAddr) -> std::io::Result<ArgoServer> {
        Self::start_with(inst, addr, None).await
    }

    /// Serves HTTPS with the given rustls config (for testing CA files and TLS verification).
    pub async fn start_tls(
        inst: Arc<Instance>,
        addr: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<ArgoServer> {
        Self::start_with(inst, addr, Some(tokio_rustls::TlsAcceptor::from(tls))).await
    }

    async fn start_with(
        inst: Arc<Instance>,
        addr: SocketAddr,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<ArgoServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = super::spawn_https(listener, tls.clone(), inst.clone(), handle);
        Ok(ArgoServer {
            addr,
            inst,
            task: Some(task),
            tls,
        })
    }

    pub fn instance(&self) -> &Arc<Instance> {
        &self.inst
    }

    /// Stops listening and drops every open connection (the server is down).
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// Listens again on the same address.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        // The aborted accept loop releases the port when its task is dropped; retry briefly.
        let mut last = None;
        for _ in 0..100 {
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    self.task = Some(super::spawn_https(
                        l,
                        self.tls.clone(),
                        self.inst.clone(),
                        handle,
                    ));
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("cannot rebind")))
    }

    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for ArgoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, content_type.parse().expect("header"));
    r
}

fn json_reply<T: Serialize>(v: &T) -> Response<Body> {
    match serde_json::to_vec(v) {
        Ok(b) => {
            let mut r = full(StatusCode::OK, "application/json", b);
            r.headers_mut().insert(
                "grpc-metadata-content-type",
                "application/grpc".parse().expect("header"),
            );
            r
        }
        Err(e) => error(grpc::INTERNAL, &e.to_string()),
    }
}

/// A grpc-gateway error reply.
pub fn error(code: i32, msg: &str) -> Response<Body> {
    let body = json!({"error": msg, "code": code, "message": msg, "details": []});
    full(
        StatusCode::from_u16(grpc::http_status(code)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        "application/json",
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// Decodes `%XX` escapes (and `+` as a space when `plus` is set).
pub fn percent_decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus => out.push(b' '),
            b'%' if i + 3 <= b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string into pairs (repeated keys kept, `+` and `%XX` decoded).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k, true), percent_decode(v, true)),
            None => (percent_decode(p, true), String::new()),
        })
        .collect()
}

#[derive(Default)]
struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Whether an app passes the list/stream filters.
fn matches(app: &Application, q: &Query) -> bool {
    if let Some(n) = q.get("name")
        && !n.is_empty()
        && app.metadata.name != n
    {
        return false;
    }
    let mut projects = q.all("projects");
    projects.extend(q.all("project"));
    projects.retain(|p| !p.is_empty());
    if !projects.is_empty() && !projects.contains(&app.spec.project.as_str()) {
        return false;
    }
    if let Some(sel) = q.get("selector")
        && !selector_matches(sel, &app.metadata.labels)
    {
        return false;
    }
    if let Some(repo) = q.get("repo")
        && !repo.is_empty()
        && app.spec.source.as_ref().map(|s| s.repo_url.as_str()) != Some(repo)
    {
        return false;
    }
    if let Some(ns) = q.get("appNamespace")
        && !ns.is_empty()
        && app.metadata.namespace != ns
    {
        return false;
    }
    true
}

/// Kubernetes label selector: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`.
pub fn selector_matches(sel: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in sel.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => terms.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    terms.push(cur);
    terms
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .all(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                labels.get(k.trim()).map(String::as_str) != Some(v.trim())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                labels.get(k.trim()).map(String::as_str) == Some(v.trim())
            } else if let Some((k, rest)) = t.split_once(" notin ") {
                let set = set_of(rest);
                !labels
                    .get(k.trim())
                    .is_some_and(|v| set.contains(&v.as_str()))
            } else if let Some((k, rest)) = t.split_once(" in ") {
                let set = set_of(rest);
                labels
                    .get(k.trim())
                    .is_some_and(|v| set.contains(&v.as_str()))
            } else if let Some(k) = t.strip_prefix('!') {
                !labels.contains_key(k.trim())
            } else {
                labels.contains_key(t)
            }
        })
}

fn set_of(s: &str) -> Vec<&str> {
    s.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .collect()
}

/// The list projection: only these `items.` paths are honoured (the server's whitelist), in the
/// order Go writes the struct fields.
const LIST_WHITELIST: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.creationTimestamp",
    "metadata.deletionTimestamp",
    "metadata.labels",
    "metadata.annotations",
    "spec",
    "spec.source",
    "spec.destination",
    "spec.project",
    "spec.syncPolicy",
    "spec.sources",
    "spec.sourceHydrator",
    "status.resources",
    "status.sync.status",
    "status.sync.revision",
    "status.health",
    "status.operationState.operation.sync",
    "status.operationState.phase",
    "status.operationState.startedAt",
    "status.operationState.finishedAt",
    "status.summary",
    "status.sourceHydrator",
    "operation.sync",
];

/// A projected list item, serialized straight from the application by reference: a projected
/// list never pays for the history and conditions it leaves out. Field order is Go's.
#[derive(Serialize)]
struct ItemView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<MetaView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<SpecView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<OperationView<'a>>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct MetaView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    creation_timestamp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_timestamp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<&'a std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a std::collections::BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum SpecView<'a> {
    Whole(&'a ApplicationSpec),
    Parts(SpecParts<'a>),
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct SpecParts<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a ApplicationSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<&'a ApplicationDestination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync_policy: Option<&'a SyncPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sources: Option<&'a Vec<ApplicationSource>>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct StatusView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<&'a Vec<ResourceStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync: Option<SyncView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    health: Option<&'a HealthStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation_state: Option<OpStateView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a ApplicationSummary>,
}

#[derive(Serialize, Default)]
struct SyncView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<&'a str>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct OpStateView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<OperationView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<&'a str>,
}

#[derive(Serialize)]
struct OperationView<'a> {
    sync: &'a SyncOperation,
}

/// Which whitelisted paths a list asks for.
struct ListFields {
    set: std::collections::HashSet<String>,
}

impl ListFields {
    fn has(&self, p: &str) -> bool {
        self.set.contains(p)
    }

    fn view<'a>(&self, a: &'a Application) -> ItemView<'a> {
        let m = &a.metadata;
        let meta = MetaView {
            name: self.has("metadata.name").then_some(m.name.as_str()),
            namespace: self
                .has("metadata.namespace")
                .then_some(m.namespace.as_str()),
            creation_timestamp: if self.has("metadata.creationTimestamp") {
                m.creation_timestamp.as_deref()
            } else {
                None
            },
            deletion_timestamp: if self.has("metadata.deletionTimestamp") {
                m.deletion_timestamp.as_deref()
            } else {
                None
            },
            labels: (self.has("metadata.labels") && !m.labels.is_empty()).then_some(&m.labels),
            annotations: (self.has("metadata.annotations") && !m.annotations.is_empty())
                .then_some(&m.annotations),
        };
        let any_meta = meta.name.is_some()
            || meta.namespace.is_some()
            || meta.creation_timestamp.is_some()
            || meta.deletion_timestamp.is_some()
            || meta.labels.is_some()
            || meta.annotations.is_some();
        let spec = if self.has("spec") {
            Some(SpecView::Whole(&a.spec))
        } else {
            let p = SpecParts {
                source: if self.has("spec.source") {
                    a.spec.source.as_ref()
                } else {
                    None
                },
                destination: self.has("spec.destination").then_some(&a.spec.destination),
                project: self.has("spec.project").then_some(a.spec.project.as_str()),
                sync_policy: if self.has("spec.syncPolicy") {
                    a.spec.sync_policy.as_ref()
                } else {
                    None
                },
                sources: (self.has("spec.sources") && !a.spec.sources.is_empty())
                    .then_some(&a.spec.sources),
            };
            let any = p.source.is_some()
                || p.destination.is_some()
                || p.project.is_some()
                || p.sync_policy.is_some()
                || p.sources.is_some();
            any.then_some(SpecView::Parts(p))
        };
        let s = &a.status;
        let sync = SyncView {
            status: self
                .has("status.sync.status")
                .then_some(s.sync.status.as_str()),
            revision: (self.has("status.sync.revision") && !s.sync.revision.is_empty())
                .then_some(s.sync.revision.as_str()),
        };
        let op_state = s.operation_state.as_ref().and_then(|o| {
            let v = OpStateView {
                operation: if self.has("status.operationState.operation.sync") {
                    o.operation.sync.as_ref().map(|sync| OperationView { sync })
                } else {
                    None
                },
                phase: self
                    .has("status.operationState.phase")
                    .then_some(o.phase.as_str()),
                started_at: self
                    .has("status.operationState.startedAt")
                    .then_some(o.started_at.as_str()),
                finished_at: if self.has("status.operationState.finishedAt") {
                    o.finished_at.as_deref()
                } else {
                    None
                },
            };
            (v.operation.is_some()
                || v.phase.is_some()
                || v.started_at.is_some()
                || v.finished_at.is_some())
            .then_some(v)
        });
        let status = StatusView {
            resources: (self.has("status.resources") && !s.resources.is_empty())
                .then_some(&s.resources),
            sync: (sync.status.is_some() || sync.revision.is_some()).then_some(sync),
            health: self.has("status.health").then_some(&s.health),
            operation_state: op_state,
            summary: self.has("status.summary").then_some(&s.summary),
        };
        let any_status = status.resources.is_some()
            || status.sync.is_some()
            || status.health.is_some()
            || status.operation_state.is_some()
            || status.summary.is_some();
        ItemView {
            metadata: any_meta.then_some(meta),
            spec,
            status: any_status.then_some(status),
            operation: if self.has("operation.sync") {
                a.operation
                    .as_ref()
                    .and_then(|o| o.sync.as_ref())
                    .map(|sync| OperationView { sync })
            } else {
                None
            },
        }
    }
}

/// Keeps only `paths` (dot-separated) of `v`; arrays apply the rest of a path to each element.
pub fn project(v: &Value, paths: &[Vec<&str>]) -> Value {
    if paths.iter().any(|p| p.is_empty()) {
        return v.clone();
    }
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            let mut by_key: HashMap<&str, Vec<Vec<&str>>> = HashMap::new();
            for p in paths {
                by_key.entry(p[0]).or_default().push(p[1..].to_vec());
            }
            // In the object's own order (Go writes struct fields in declaration order).
            for (k, c) in m {
                if let Some(sub) = by_key.get(k.as_str()) {
                    out.insert(k.clone(), project(c, sub));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| project(i, paths)).collect()),
        other => other.clone(),
    }
}

/// Removes `paths` from `v`.
pub fn exclude(v: &mut Value, paths: &[Vec<&str>]) {
    for p in paths {
        exclude_one(v, p);
    }
}

fn exclude_one(v: &mut Value, p: &[&str]) {
    match v {
        Value::Object(m) => match p {
            [] => {}
            [last] => {
                m.shift_remove(*last);
            }
            [first, rest @ ..] => {
                if let Some(c) = m.get_mut(*first) {
                    exclude_one(c, rest);
                }
            }
        },
        Value::Array(items) => items.iter_mut().for_each(|i| exclude_one(i, p)),
        _ => {}
    }
}

/// The parsed `fields` parameter: include or exclude mode.
enum Fields<'a> {
    None,
    Include(Vec<Vec<&'a str>>),
    Exclude(Vec<Vec<&'a str>>),
}

fn fields_param(q: &Query) -> Fields<'_> {
    let Some(f) = q.get("fields").filter(|f| !f.is_empty()) else {
        return Fields::None;
    };
    if let Some(rest) = f.strip_prefix('-') {
        Fields::Exclude(rest.split(',').map(|p| p.split('.').collect()).collect())
    } else {
        Fields::Include(f.split(',').map(|p| p.split('.').collect()).collect())
    }
}

fn apply_fields(mut v: Value, fields: &Fields) -> Value {
    match fields {
        Fields::None => v,
        Fields::Include(p) => project(&v, p),
        Fields::Exclude(p) => {
            exclude(&mut v, p);
            v
        }
    }
}

fn bearer(req: &Request<Incoming>) -> Option<String> {
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
        .filter(|t| t.splitn(3, '.').count() == 3);
    from_header.or_else(|| {
        req.headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix("argocd.token="))
            .map(str::to_string)
            .next()
    })
}

/// Handles one request.
pub async fn handle(inst: Arc<Instance>, req: Request<Incoming>) -> Response<Body> {
    inst.requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let faults = inst.faults();
    if let Some(d) = faults.delay {
        tokio::time::sleep(d).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = Query(parse_query(req.uri().query().unwrap_or("")));
    if !path.starts_with("/api/") {
        return full(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "404 page not found\n",
        );
    }
    if method != Method::GET
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| ct.split(';').next().map(str::trim) != Some("application/json"))
    {
        return full(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain; charset=utf-8",
            "Invalid content type\n",
        );
    }
    inst.rotate_tokens_if_due(faults.profile, now_secs());
    let public = (method == Method::GET && (path == "/api/version" || path == "/api/v1/settings"))
        || (method == Method::POST && path == "/api/v1/session");
    let token = bearer(&req);
    let sse = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !public {
        match &token {
            None => return error(grpc::UNAUTHENTICATED, "no session information"),
            Some(t) => {
                if let Err(m) = inst.check_token(t, now_secs()) {
                    return error(grpc::UNAUTHENTICATED, m);
                }
            }
        }
    }
    if let Some(status) = faults.status {
        let code = match status {
            401 => grpc::UNAUTHENTICATED,
            403 => grpc::PERMISSION_DENIED,
            404 => grpc::NOT_FOUND,
            429 => grpc::RESOURCE_EXHAUSTED,
            503 => grpc::UNAVAILABLE,
            504 => grpc::DEADLINE_EXCEEDED,
            _ => grpc::INTERNAL,
        };
        let msg = match status {
            403 => "permission denied",
            503 => "the server is temporarily unavailable",
            _ => "internal error injected by the demo's fault profile",
        };
        return error(code, msg);
    }
    use super::faults::Injected;
    let is_stream = path == "/api/v1/stream/applications";
    let injected =
        super::faults::request(faults.profile, &inst.dice, method != Method::GET, is_stream);
    match injected {
        Injected::Delay(d) if !d.is_zero() => tokio::time::sleep(d).await,
        Injected::Delay(_) | Injected::Truncated | Injected::Reset => {}
        Injected::Unavailable => {
            return error(
                grpc::UNAVAILABLE,
                "the server is temporarily unavailable (the demo's fault profile)",
            );
        }
        Injected::RateLimited(secs) => {
            let mut r = error(grpc::RESOURCE_EXHAUSTED, "too many requests, slow down");
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r.headers_mut().insert(
                header::RETRY_AFTER,
                secs.to_string().parse().expect("header"),
            );
            return r;
        }
        Injected::ProxyPage => {
            return full(
                StatusCode::BAD_GATEWAY,
                "text/html",
                super::faults::PROXY_PAGE,
            );
        }
    }
    if faults.malformed && !public {
        return full(
            StatusCode::OK,
            "application/json",
            "{\"items\":[{\"metadata\":{\"name\":",
        );
    }
    let body = if method == Method::GET {
        Bytes::new()
    } else {
        match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return error(grpc::INVALID_ARGUMENT, "cannot read the request body"),
        }
    };
    let reply = route(&inst, &method, &path, &query, &body, sse).await;
    match injected {
        Injected::Truncated | Injected::Reset => {
            cut_short(reply, injected == Injected::Reset).await
        }
        _ => reply,
    }
}

/// The first half of a reply: with a matching length (a broken body), or with the length of the
/// whole (the connection ends mid-body, as when a proxy or the network resets it).
pub(super) async fn cut_short(reply: Response<Body>, reset: bool) -> Response<Body> {
    let (mut parts, body) = reply.into_parts();
    let Ok(collected) = body.collect().await;
    let bytes = collected.to_bytes();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    if reset {
        parts.headers.insert(
            header::CONTENT_LENGTH,
            bytes.len().to_string().parse().expect("header"),
        );
    }
    if !reset {
        return Response::from_parts(parts, Full::new(half).boxed());
    }
    // A body of unknown size that ends early: hyper sends what there is and closes the
    // connection when the promised length is not reached.
    let frames = futures::stream::iter([Ok::<_, Infallible>(Frame::data(half))]);
    Response::from_parts(parts, StreamBody::new(frames).boxed())
}

async fn route(
    inst: &Arc<Instance>,
    method: &Method,
    path: &str,
    q: &Query,
    body: &Bytes,
    sse: bool,
) -> Response<Body> {
    let segs: Vec<String> = path
        .trim_start_matches("/api/")
        .split('/')
        .map(|s| percent_decode(s, false))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let now = inst.now();
    match (method.clone(), segs.as_slice()) {
        (Method::GET, ["version"]) => json_reply(&version_message()),
        (Method::GET, ["v1", "settings"]) => json_reply(&settings(inst)),
        (Method::POST, ["v1", "session"]) => login(inst, body, now_secs()),
        (Method::DELETE, ["v1", "session"]) => json_reply(&SessionResponse::default()),
        (Method::GET, ["v1", "session", "userinfo"]) => json_reply(&UserInfo {
            logged_in: true,
            username: "admin".into(),
            iss: "argocd".into(),
            groups: vec![],
        }),
        (Method::GET, ["v1", "applications"]) => list(inst, q),
        (Method::GET, ["v1", "applications", name]) => get_app(inst, name, q, now),
        (Method::PATCH, ["v1", "applications", name]) => patch_app(inst, name, body),
        (Method::GET, ["v1", "applications", name, "manifests"]) => with_app(inst, name, q, |a| {
            manifests(a, q.get("revision").unwrap_or(""))
        }),
        (Method::GET, ["v1", "applications", name, "resource"]) => {
            with_app(inst, name, q, |a| match find_live(a, q, now) {
                Ok(v) => json_reply(&json!({"manifest": v.to_string()})),
                Err(r) => r,
            })
        }
        (Method::POST, ["v1", "applications", name, "resource"]) => {
            patch_resource(inst, name, q, body, now)
        }
        (Method::POST, ["v1", "applications", name, "sync"]) => sync_app(inst, name, body, now),
        (Method::POST, ["v1", "applications", name, "rollback"]) => {
            rollback_app(inst, name, body, now)
        }
        (Method::DELETE, ["v1", "applications", name, "operation"]) => {
            terminate_operation(inst, name, now)
        }
        (Method::GET, ["v1", "applications", name, "managed-resources"]) => {
            with_app(inst, name, q, |a| {
                let mut mr = resources::managed_resources(a, now);
                mr.items.retain(|i| {
                    q.get("kind").is_none_or(|k| k.is_empty() || k == i.kind)
                        && q.get("name").is_none_or(|n| n.is_empty() || n == i.name)
                        && q.get("namespace")
                            .is_none_or(|n| n.is_empty() || n == i.namespace)
                        && q.get("group").is_none_or(|g| g.is_empty() || g == i.group)
                });
                let fields = fields_param(q);
                json_reply(&apply_fields(
                    serde_json::to_value(&mr).unwrap_or_default(),
                    &fields,
                ))
            })
        }
        (Method::GET, ["v1", "applications", name, "resource-tree"]) => {
            with_app(inst, name, q, |a| json_reply(&resources::tree(a, now)))
        }
        (Method::GET, ["v1", "applications", name, "events"]) => {
            with_app(inst, name, q, |a| {
                match q.get("resourceName").filter(|n| !n.is_empty()) {
                    Some(res) => json_reply(&resources::resource_events(
                        a,
                        res,
                        q.get("resourceNamespace").unwrap_or(""),
                    )),
                    None => json_reply(&resources::app_events(a)),
                }
            })
        }
        (Method::GET, ["v1", "applications", name, "revisions", rev, "metadata"]) => {
            with_app(inst, name, q, |a| match revision_metadata(a, rev) {
                Some(m) => json_reply(&m),
                None => error(
                    grpc::NOT_FOUND,
                    &format!(
                        "revision {rev} not found in the history of application {}",
                        a.app.metadata.name
                    ),
                ),
            })
        }
        (Method::GET, ["v1", "stream", "applications"]) => stream(inst.clone(), q, sse),
        (Method::GET, ["v1", "clusters"]) => {
            let st = inst.read();
            let items: Vec<Cluster> = st
                .clusters
                .iter()
                .map(|c| cluster(c, &st.apps, now))
                .filter(|c| {
                    q.get("server")
                        .is_none_or(|s| s.is_empty() || s == c.server)
                })
                .filter(|c| q.get("name").is_none_or(|s| s.is_empty() || s == c.name))
                .collect();
            json_reply(&ClusterList {
                metadata: ListMeta::default(),
                items,
            })
        }
        (Method::GET, ["v1", "clusters", id]) => {
            let st = inst.read();
            let by_name = q.get("id.type") == Some("name");
            match st.clusters.iter().find(|c| {
                if by_name {
                    c.name == *id
                } else {
                    c.server == *id
                }
            }) {
                Some(c) => json_reply(&cluster(c, &st.apps, now)),
                None => error(grpc::PERMISSION_DENIED, "permission denied"),
            }
        }
        (Method::GET, ["v1", "projects"]) => {
            let st = inst.read();
            let items = st
                .projects
                .iter()
                .filter(|p| {
                    q.get("name")
                        .is_none_or(|n| n.is_empty() || n == p.metadata.name)
                })
                .cloned()
                .collect();
            json_reply(&AppProjectList {
                metadata: ListMeta::default(),
                items,
            })
        }
        (Method::GET, ["v1", "projects", name]) => {
            let st = inst.read();
            match st.projects.iter().find(|p| p.metadata.name == *name) {
                Some(p) => json_reply(p),
                None => error(
                    grpc::NOT_FOUND,
                    &format!("appprojects.argoproj.io \"{name}\" not found"),
                ),
            }
        }
        (Method::GET, ["v1", "account", "can-i", resource, action, sub]) => {
            let yes = *resource != "applications" || inst.read().can(action, sub);
            json_reply(&json!({"value": if yes { "yes" } else { "no" }}))
        }
        _ => error(grpc::NOT_FOUND, "Not Found"),
    }
}

fn settings(inst: &Instance) -> Settings {
    let name = inst.read().name.clone();
    Settings {
        url: format!("https://{name}.acme.dev"),
        app_label_key: "app.kubernetes.io/instance".into(),
        controller_namespace: "argocd".into(),
        status_badge_enabled: false,
        user_logins_disabled: false,
        exec_enabled: false,
        apps_in_any_namespace_enabled: false,
        tracking_method: "annotation".into(),
        installation_id: name,
        resource_overrides: None,
        ui_banner_content: String::new(),
    }
}

fn login(inst: &Instance, body: &Bytes, now: i64) -> Response<Body> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Creds {
        username: String,
        password: String,
    }
    let creds: Creds = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("invalid character in request body: {e}"),
            );
        }
    };
    if creds.username.is_empty() && creds.password.is_empty() {
        return error(grpc::UNAUTHENTICATED, "no credentials supplied");
    }
    let ok = creds.username == "admin" && creds.password == inst.read().password;
    if !ok {
        return error(grpc::UNAUTHENTICATED, "Invalid username or password");
    }
    let token = inst.issue_token("admin", now, 24 * 3600);
    let mut r = json_reply(&SessionResponse {
        token: token.clone(),
    });
    r.headers_mut().insert(
        header::SET_COOKIE,
        format!("argocd.token={token}; path=/; SameSite=lax; httpOnly; Secure")
            .parse()
            .expect("header"),
    );
    r
}

/// `POST /api/v1/applications/{name}/sync`: starts a sync operation (a dry run too, as Argo CD
/// runs it), which goes through its phases over the next seconds (see [`finish_later`]).
fn sync_app(inst: &Arc<Instance>, name: &str, body: &Bytes, now: i64) -> Response<Body> {
    let req: crate::model::app::SyncRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("invalid request body: {e}"),
            );
        }
    };
    if let Some(refusal) = refuse(inst, name, "sync") {
        return refusal;
    }
    if let Some(refusal) = window_refusal(inst, name, now) {
        return refusal;
    }
    let mut rng = crate::util::Rng::new(now as u64 ^ name.len() as u64);
    inst.modify(name, |a| {
        super::drift::start_operation(a, now, false, &mut rng);
        if let Some(op) = a.app.status.operation_state.as_mut() {
            op.operation.initiated_by = Some(crate::model::app::OperationInitiator {
                username: "admin".into(),
                automated: false,
            });
            if let Some(s) = op.operation.sync.as_mut() {
                s.resources = req.resources.clone();
                s.prune = req.prune;
                s.dry_run = req.dry_run;
                s.sync_strategy = req.strategy.clone();
                if let Some(o) = &req.sync_options {
                    s.sync_options = o.items.clone();
                }
            }
            a.app.operation = Some(op.operation.clone());
        }
        a.w.op_tag = None;
    });
    finish_later(inst, name);
    with_app(inst, name, &Query::default(), |a| json_reply(&a.app))
}

/// Refuses an action on an app that is missing, that the admin's RBAC denies, or that already
/// runs an operation, with Argo CD's errors.
fn refuse(inst: &Instance, name: &str, action: &str) -> Option<Response<Body>> {
    let st = inst.read();
    let Some(a) = st.apps.get(name) else {
        return Some(not_found_app(name));
    };
    let object = format!("{}/{}", a.app.spec.project, name);
    if !st.can(action, &object) {
        return Some(error(
            grpc::PERMISSION_DENIED,
            &format!("permission denied: applications, {action}, {object}, sub: admin"),
        ));
    }
    if action == "sync" && super::drift::running(a) {
        return Some(error(
            grpc::FAILED_PRECONDITION,
            "another operation is already in progress",
        ));
    }
    None
}

/// A manual sync inside a deny window that does not allow manual syncs is refused as Argo CD
/// refuses it.
fn window_refusal(inst: &Instance, name: &str, now: i64) -> Option<Response<Body>> {
    let st = inst.read();
    let app = &st.apps.get(name)?.app;
    let project = st
        .projects
        .iter()
        .find(|p| p.metadata.name == app.spec.project)?;
    let at = chrono::DateTime::from_timestamp(now, 0)?;
    let w = crate::windows::evaluate(
        &project.spec.sync_windows,
        &crate::windows::AppTarget::of(app),
        at,
    );
    (!w.can_sync_manual).then(|| {
        error(
            grpc::PERMISSION_DENIED,
            "cannot sync: blocked by sync window",
        )
    })
}

/// Moves a started operation through its phases as the controller does: resources applied
/// first (the message counts them), then the end a moment later; a terminated operation
/// fails with "Operation terminated".
fn finish_later(inst: &Arc<Instance>, name: &str) {
    let i = inst.clone();
    let n = name.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        i.modify(&n, |a| {
            let total = resources::resources(&a.w).len() + a.w.orphans.len();
            if let Some(o) = a.app.status.operation_state.as_mut()
                && o.phase == "Running"
            {
                o.message = format!("waiting for healthy state of {total} resources (all applied)");
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        let t = i.now();
        i.modify(&n, |a| {
            if a.app
                .status
                .operation_state
                .as_ref()
                .is_some_and(|o| o.phase == "Terminating")
            {
                if let Some(o) = a.app.status.operation_state.as_mut() {
                    o.phase = "Failed".into();
                    o.message = "Operation terminated".into();
                    o.finished_at = Some(crate::demo::generator::ts(t));
                }
                a.w.rolling = false;
                a.w.op_tag = None;
            } else {
                super::drift::finish_operation(a, t);
            }
            a.app.operation = None;
        });
    });
}

/// `POST /api/v1/applications/{name}/rollback`: a sync to a deployment of the history, refused
/// while auto-sync is on, as Argo CD refuses it.
fn rollback_app(inst: &Arc<Instance>, name: &str, body: &Bytes, now: i64) -> Response<Body> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct RollbackRequest {
        id: i64,
        dry_run: bool,
        prune: bool,
    }
    let req: RollbackRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("invalid request body: {e}"),
            );
        }
    };
    let (target, tag, auto, running) = {
        let st = inst.read();
        let Some(a) = st.apps.get(name) else {
            return not_found_app(name);
        };
        let object = format!("{}/{}", a.app.spec.project, name);
        if !st.can("sync", &object) {
            return error(
                grpc::PERMISSION_DENIED,
                &format!("permission denied: applications, sync, {object}, sub: admin"),
            );
        }
        let idx = a.app.status.history.iter().position(|h| h.id == req.id);
        (
            idx.map(|i| a.app.status.history[i].clone()),
            idx.and_then(|i| a.w.tag_history.get(i).cloned()),
            a.app.auto_sync(),
            super::drift::running(a),
        )
    };
    if auto {
        return error(
            grpc::INVALID_ARGUMENT,
            "rollback cannot be initiated when auto-sync is enabled",
        );
    }
    let Some(target) = target else {
        return error(
            grpc::INVALID_ARGUMENT,
            &format!(
                "application {name} does not have deployment with id {}",
                req.id
            ),
        );
    };
    if running {
        return error(
            grpc::FAILED_PRECONDITION,
            "another operation is already in progress",
        );
    }
    let mut rng = crate::util::Rng::new(now as u64 ^ req.id as u64);
    inst.modify(name, |a| {
        super::drift::start_operation(a, now, false, &mut rng);
        if let Some(op) = a.app.status.operation_state.as_mut() {
            op.operation.initiated_by = Some(crate::model::app::OperationInitiator {
                username: "admin".into(),
                automated: false,
            });
            if let Some(s) = op.operation.sync.as_mut() {
                s.revision = target.revision.clone();
                s.source = target.source.clone();
                s.prune = req.prune;
                s.dry_run = req.dry_run;
                s.sync_strategy = Some(SyncStrategy {
                    apply: Some(SyncStrategyApply::default()),
                    hook: None,
                });
            }
            a.app.operation = Some(op.operation.clone());
        }
        a.w.op_tag = tag.clone();
    });
    finish_later(inst, name);
    with_app(inst, name, &Query::default(), |a| json_reply(&a.app))
}

/// `DELETE /api/v1/applications/{name}/operation`.
fn terminate_operation(inst: &Arc<Instance>, name: &str, _now: i64) -> Response<Body> {
    let running = {
        let st = inst.read();
        match st.apps.get(name) {
            Some(a) => {
                let object = format!("{}/{}", a.app.spec.project, name);
                if !st.can("sync", &object) {
                    return error(
                        grpc::PERMISSION_DENIED,
                        &format!("permission denied: applications, sync, {object}, sub: admin"),
                    );
                }
                super::drift::running(a)
            }
            None => return not_found_app(name),
        }
    };
    if !running {
        return error(
            grpc::INVALID_ARGUMENT,
            "Unable to terminate operation. No operation is in progress",
        );
    }
    inst.modify(name, |a| {
        if let Some(o) = a.app.status.operation_state.as_mut() {
            o.phase = "Terminating".into();
        }
    });
    finish_later(inst, name);
    json_reply(&serde_json::json!({}))
}

/// `PATCH /api/v1/applications/{name}` (`ApplicationPatchRequest`): a merge or JSON patch of
/// the Application's metadata and spec; the status is the controller's and stays.
fn patch_app(inst: &Arc<Instance>, name: &str, body: &Bytes) -> Response<Body> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct PatchRequest {
        patch: String,
        patch_type: String,
    }
    let req: PatchRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("invalid request body: {e}"),
            );
        }
    };
    if let Some(refusal) = refuse(inst, name, "update") {
        return refusal;
    }
    let patch: Value = match serde_json::from_str(&req.patch) {
        Ok(v) => v,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("error unmarshaling patch: {e}"),
            );
        }
    };
    let current = match inst.read().apps.get(name) {
        Some(a) => a.app.clone(),
        None => return not_found_app(name),
    };
    let mut doc = serde_json::to_value(&current).unwrap_or_default();
    match req.patch_type.as_str() {
        "json" | "" => {
            if let Err(e) = super::patch::json_patch(&mut doc, &patch) {
                return error(grpc::INVALID_ARGUMENT, &e);
            }
        }
        "merge" => super::patch::merge(&mut doc, &patch),
        other => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("Patch type '{other}' is not supported"),
            );
        }
    }
    let patched: Application = match serde_json::from_value(doc) {
        Ok(a) => a,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("the patched application is not valid: {e}"),
            );
        }
    };
    if patched.metadata.name != current.metadata.name || patched.spec.project.is_empty() {
        return error(
            grpc::INVALID_ARGUMENT,
            "the patch may not change the application's name or clear its project",
        );
    }
    inst.modify(name, |a| {
        a.app.metadata.labels = patched.metadata.labels.clone();
        a.app.metadata.annotations = patched.metadata.annotations.clone();
        a.app.spec = patched.spec.clone();
    });
    with_app(inst, name, &Query::default(), |a| json_reply(&a.app))
}

/// `GET /api/v1/applications/{name}/manifests?revision=`: the manifests Git has at a revision
/// of the app's history (the current target when none is given).
fn manifests(a: &super::generator::DemoApp, revision: &str) -> Response<Body> {
    let mut w = a.w.clone();
    let mut resolved = a.app.status.sync.revision.clone();
    if !revision.is_empty() && revision != a.app.status.sync.revision {
        let idx = a
            .app
            .status
            .history
            .iter()
            .rposition(|h| h.revision == revision);
        match idx.and_then(|i| a.w.tag_history.get(i)) {
            Some(tag) => w.tag = tag.clone(),
            None => {
                return error(
                    grpc::UNKNOWN,
                    &format!("unable to resolve '{revision}' to a commit SHA"),
                );
            }
        }
        resolved = revision.to_string();
    }
    let manifests: Vec<String> = resources::resources(&w)
        .iter()
        .map(|r| {
            let mut t = resources::target(&a.app.metadata.name, &w, r);
            crate::diff::normalize::hide_secret_data(Some(&mut t), None);
            t.to_string()
        })
        .collect();
    json_reply(&json!({
        "manifests": manifests,
        "namespace": a.w.namespace,
        "server": a.app.spec.destination.server,
        "revision": resolved,
        "sourceType": if a.app.spec.source.as_ref().is_some_and(|s| s.helm.is_some()) { "Helm" } else { "Directory" },
    }))
}

/// The live object a resource query names, or Argo CD's error.
#[allow(clippy::result_large_err)]
fn find_live(a: &super::generator::DemoApp, q: &Query, now: i64) -> Result<Value, Response<Body>> {
    let kind = q.get("kind").unwrap_or("");
    let rname = q.get("resourceName").unwrap_or("");
    let group = q.get("group").unwrap_or("");
    let ns = q.get("namespace").unwrap_or("");
    let nf = || {
        error(
            grpc::NOT_FOUND,
            &format!(
                "{kind} {rname} not found as part of application {}",
                a.app.metadata.name
            ),
        )
    };
    if !ns.is_empty() && ns != a.w.namespace {
        return Err(nf());
    }
    if kind == "ConfigMap" && group.is_empty() && a.w.orphans.iter().any(|o| o == rname) {
        return Ok(resources::orphan_live(a, rname));
    }
    resources::resources(&a.w)
        .iter()
        .find(|r| r.kind == kind && r.name == rname && r.group == group)
        .and_then(|r| resources::live(a, r, now))
        .map(|mut v| {
            // As Argo CD's server does: Secret values never leave it.
            crate::diff::normalize::hide_secret_data(None, Some(&mut v));
            v
        })
        .ok_or_else(nf)
}

/// `POST /api/v1/applications/{name}/resource`: patches a live object of the app. The body is
/// the patch as a JSON string (grpc-gateway's `body: "patch"`). The demo's clusters take
/// patches of `metadata.labels` and `metadata.annotations`.
fn patch_resource(
    inst: &Arc<Instance>,
    name: &str,
    q: &Query,
    body: &Bytes,
    now: i64,
) -> Response<Body> {
    let patch_str: String = match serde_json::from_slice(body) {
        Ok(s) => s,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("the body must be the patch as a JSON string: {e}"),
            );
        }
    };
    let patch: Value = match serde_json::from_str(&patch_str) {
        Ok(v) => v,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("error unmarshaling patch: {e}"),
            );
        }
    };
    let pt = q.get("patchType").unwrap_or("");
    if !matches!(
        pt,
        "application/merge-patch+json" | "application/strategic-merge-patch+json" | "merge"
    ) {
        return error(
            grpc::INVALID_ARGUMENT,
            &format!("the demo cluster takes merge and strategic merge patches, not {pt:?}"),
        );
    }
    let only_meta = patch.as_object().is_some_and(|m| {
        m.keys().all(|k| k == "metadata")
            && m.get("metadata")
                .and_then(Value::as_object)
                .is_some_and(|mm| mm.keys().all(|k| k == "labels" || k == "annotations"))
    });
    if !only_meta {
        return error(
            grpc::INVALID_ARGUMENT,
            "the demo cluster patches metadata.labels and metadata.annotations only",
        );
    }
    if let Some(refusal) = refuse(inst, name, "update") {
        return refusal;
    }
    let key = {
        let st = inst.read();
        let Some(a) = st.apps.get(name) else {
            return not_found_app(name);
        };
        if let Err(r) = find_live(a, q, now) {
            return r;
        }
        format!(
            "{}/{}",
            q.get("kind").unwrap_or(""),
            q.get("resourceName").unwrap_or("")
        )
    };
    inst.modify(name, |a| {
        let entry = a.w.live_meta.entry(key).or_insert_with(|| json!({}));
        super::patch::merge(entry, &patch["metadata"]);
    });
    with_app(inst, name, q, |a| match find_live(a, q, now) {
        Ok(v) => json_reply(&json!({"manifest": v.to_string()})),
        Err(r) => r,
    })
}

fn not_found_app(name: &str) -> Response<Body> {
    error(
        grpc::NOT_FOUND,
        &format!("applications.argoproj.io \"{name}\" not found"),
    )
}

fn with_app(
    inst: &Instance,
    name: &str,
    q: &Query,
    f: impl FnOnce(&super::generator::DemoApp) -> Response<Body>,
) -> Response<Body> {
    let st = inst.read();
    match st.apps.get(name) {
        Some(a)
            if q.get("appNamespace")
                .is_none_or(|ns| ns.is_empty() || ns == a.app.metadata.namespace) =>
        {
            f(a)
        }
        _ => not_found_app(name),
    }
}

fn list(inst: &Instance, q: &Query) -> Response<Body> {
    let fields = fields_param(q);
    let st = inst.read();
    let rv = st.rv.to_string();
    match fields {
        Fields::Include(ref paths) => {
            // Only whitelisted `items.` paths count; the list metadata is always written.
            let lf = ListFields {
                set: paths
                    .iter()
                    .filter(|p| p.first() == Some(&"items"))
                    .map(|p| p[1..].join("."))
                    .filter(|p| LIST_WHITELIST.contains(&p.as_str()))
                    .collect(),
            };
            #[derive(Serialize)]
            struct L<'a> {
                metadata: ListMeta,
                items: Vec<ItemView<'a>>,
            }
            json_reply(&L {
                metadata: ListMeta {
                    resource_version: rv,
                },
                items: st
                    .apps
                    .values()
                    .filter(|a| matches(&a.app, q))
                    .map(|a| lf.view(&a.app))
                    .collect(),
            })
        }
        Fields::Exclude(ref paths) => {
            let item_paths: Vec<Vec<&str>> = paths
                .iter()
                .filter(|p| p.first() == Some(&"items") && p.len() > 1)
                .map(|p| p[1..].to_vec())
                .collect();
            let items: Vec<Value> = st
                .apps
                .values()
                .filter(|a| matches(&a.app, q))
                .map(|a| {
                    let mut v = serde_json::to_value(&a.app).unwrap_or_default();
                    exclude(&mut v, &item_paths);
                    v
                })
                .collect();
            json_reply(&json!({"metadata": {"resourceVersion": rv}, "items": items}))
        }
        Fields::None => {
            #[derive(Serialize)]
            struct L<'a> {
                metadata: ListMeta,
                items: Vec<&'a Application>,
            }
            json_reply(&L {
                metadata: ListMeta {
                    resource_version: rv,
                },
                items: st
                    .apps
                    .values()
                    .filter(|a| matches(&a.app, q))
                    .map(|a| &a.app)
                    .collect(),
            })
        }
    }
}

fn get_app(inst: &Instance, name: &str, q: &Query, now: i64) -> Response<Body> {
    let projects: Vec<&str> = q
        .all("project")
        .into_iter()
        .chain(q.all("projects"))
        .filter(|p| !p.is_empty())
        .collect();
    if projects.len() > 1 {
        return error(
            grpc::INVALID_ARGUMENT,
            "multiple projects specified - the get endpoint accepts either zero or one project",
        );
    }
    if let Some(r) = q.get("refresh") {
        if r != "normal" && r != "hard" && !r.is_empty() {
            return error(grpc::INVALID_ARGUMENT, &format!("unknown refresh type {r}"));
        }
        if !r.is_empty() {
            // The real server waits for the controller's reconciliation; the demo's is instant.
            inst.modify(name, |a| {
                a.app.status.reconciled_at = Some(super::generator::ts(now))
            });
        }
    }
    with_app(inst, name, q, |a| {
        if let Some(p) = projects.first()
            && a.app.spec.project != *p
        {
            return not_found_app(name);
        }
        json_reply(&a.app)
    })
}

fn cluster(
    c: &ClusterData,
    apps: &std::collections::BTreeMap<String, super::generator::DemoApp>,
    now: i64,
) -> Cluster {
    let count = apps
        .values()
        .filter(|a| {
            a.app.spec.destination.server == c.server || a.app.spec.destination.name == c.name
        })
        .count() as i64;
    let state = ConnectionState {
        status: "Successful".into(),
        message: String::new(),
        attempted_at: Some(super::generator::ts(now - 30)),
    };
    Cluster {
        server: c.server.clone(),
        name: c.name.clone(),
        connection_state: Some(state.clone()),
        info: Some(ClusterInfo {
            connection_state: Some(state),
            server_version: c
                .version
                .trim_start_matches('v')
                .rsplit_once('.')
                .map(|x| x.0.to_string())
                .unwrap_or_default(),
            cache_info: Some(ClusterCacheInfo {
                resources_count: count * 9 + 140,
                apis_count: 61,
                last_cache_sync_time: Some(super::generator::ts(now - 45)),
            }),
            applications_count: count,
            api_versions: vec![],
        }),
        labels: [
            ("env".to_string(), c.env.to_string()),
            ("region".to_string(), c.region.to_string()),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    }
}

/// Encodes one stream message in the server's SSE framing.
pub fn sse_frame(payload: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(payload.len() + 10);
    b.extend_from_slice(b"data: ");
    b.extend_from_slice(payload);
    b.extend_from_slice(b" \n\n\n");
    Bytes::from(b)
}

struct StreamState {
    inst: Arc<Instance>,
    initial: VecDeque<Bytes>,
    rx: broadcast::Receiver<WatchEvent>,
    drop_rx: tokio::sync::watch::Receiver<u64>,
    keepalive: tokio::time::Interval,
    query: Query,
    sse: bool,
    last_sent: HashMap<String, u64>,
    done: bool,
    /// The fault profile's plan for this stream, and when it strikes.
    fault: super::faults::StreamFault,
    strike_at: Option<tokio::time::Instant>,
    /// The stream has gone silent (a stall from the profile).
    silent: bool,
}

impl StreamState {
    fn encode(&mut self, ev: &WatchEvent) -> Option<Bytes> {
        if !matches(&ev.app, &self.query) {
            return None;
        }
        let fields = fields_param(&self.query);
        let msg = json!({"result": {"type": ev.kind, "application": ev.app.as_ref()}});
        let msg = apply_fields(msg, &fields);
        let bytes = serde_json::to_vec(&msg).ok()?;
        let h = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ *b as u64).wrapping_mul(0x100000001b3)
        });
        // Identical bytes for the same app are suppressed, as NewStreamForwarder does.
        if self.last_sent.insert(ev.app.metadata.name.clone(), h) == Some(h) {
            return None;
        }
        Some(if self.sse {
            sse_frame(&bytes)
        } else {
            let mut b = bytes;
            b.push(b'\n');
            Bytes::from(b)
        })
    }
}

fn stream(inst: Arc<Instance>, q: &Query, sse: bool) -> Response<Body> {
    let query = Query(q.0.clone());
    let rx = inst.events.subscribe();
    let since: Option<u64> = q.get("resourceVersion").and_then(|v| v.parse().ok());
    let initial_events: Vec<WatchEvent> = {
        let st = inst.read();
        st.apps
            .values()
            .filter(|a| {
                since.is_none_or(|rv| {
                    a.app.metadata.resource_version.parse::<u64>().unwrap_or(0) > rv
                })
            })
            .map(|a| WatchEvent {
                kind: "ADDED",
                app: Arc::new(a.app.clone()),
            })
            .collect()
    };
    let mut keepalive = tokio::time::interval(inst.keepalive);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let drop_rx = inst.drop_streams.subscribe();
    let fault = super::faults::stream(inst.faults().profile, &inst.dice);
    let mut state = StreamState {
        fault,
        strike_at: fault.end_after.map(|d| tokio::time::Instant::now() + d),
        silent: false,
        inst: inst.clone(),
        initial: VecDeque::new(),
        rx,
        drop_rx,
        keepalive,
        query,
        sse,
        last_sent: HashMap::new(),
        done: false,
    };
    for ev in &initial_events {
        if let Some(b) = state.encode(ev) {
            state.initial.push_back(b);
        }
    }
    let body = futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        if let Some(b) = st.initial.pop_front() {
            return Some((Ok::<_, Infallible>(Frame::data(b)), st));
        }
        loop {
            let stalled = st.inst.faults().stall_streams || st.silent;
            let strike = st.strike_at;
            tokio::select! {
                _ = st.drop_rx.changed() => return None,
                _ = tokio::time::sleep_until(strike.unwrap_or_else(tokio::time::Instant::now)), if strike.is_some() => {
                    st.strike_at = None;
                    if st.fault.stall {
                        st.silent = true;
                        continue;
                    }
                    if !st.fault.error_frame {
                        return None;
                    }
                    st.done = true;
                    let msg = br#"{"error":{"grpc_code":14,"http_code":503,"message":"transport is closing","http_status":"Service Unavailable","details":[]}}"#;
                    let b = if st.sse { sse_frame(msg) } else { Bytes::from([&msg[..], b"\n"].concat()) };
                    return Some((Ok(Frame::data(b)), st));
                }
                _ = st.keepalive.tick() => {
                    if !stalled && st.sse {
                        return Some((Ok(Frame::data(Bytes::from_static(b":\n"))), st));
                    }
                }
                ev = st.rx.recv(), if !stalled => match ev {
                    Ok(ev) => {
                        if let Some(b) = st.encode(&ev) {
                            return Some((Ok(Frame::data(b)), st));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Too slow a reader: end the stream, the client relists.
                        st.done = true;
                        let msg = br#"{"error":{"grpc_code":10,"http_code":409,"message":"watch stream fell behind; reconnect","http_status":"Conflict","details":[]}}"#;
                        let b = if st.sse { sse_frame(msg) } else { Bytes::from([&msg[..], b"\n"].concat()) };
                        return Some((Ok(Frame::data(b)), st));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep(Duration::from_millis(200)), if stalled => {}
            }
        }
    });
    let mut r = Response::new(StreamBody::new(body).boxed());
    let h = r.headers_mut();
    let ct = if sse {
        "text/event-stream"
    } else {
        "application/json"
    };
    h.insert(header::CONTENT_TYPE, ct.parse().expect("header"));
    h.insert("x-content-type-options", "nosniff".parse().expect("header"));
    h.insert(header::CACHE_CONTROL, "no-cache".parse().expect("header"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("projects=a&projects=b%20c&selector=env%3Dprod&x+y=1&flag");
        assert_eq!(q[0], ("projects".into(), "a".into()));
        assert_eq!(q[1], ("projects".into(), "b c".into()));
        assert_eq!(q[2], ("selector".into(), "env=prod".into()));
        assert_eq!(q[3], ("x y".into(), "1".into()));
        assert_eq!(q[4], ("flag".into(), String::new()));
        assert_eq!(parse_query("a=%zz%4"), vec![("a".into(), "%zz%4".into())]);
    }

    #[test]
    fn label_selectors() {
        let l: std::collections::BTreeMap<String, String> = [
            ("env".to_string(), "prod".to_string()),
            ("team".to_string(), "payments".to_string()),
        ]
        .into_iter()
        .collect();
        assert!(selector_matches("env=prod", &l));
        assert!(selector_matches("env==prod,team", &l));
        assert!(!selector_matches("env!=prod", &l));
        assert!(selector_matches("env in (prod, staging)", &l));
        assert!(!selector_matches("env notin (prod)", &l));
        assert!(selector_matches("!owner", &l));
        assert!(!selector_matches("owner", &l));
    }

    #[test]
    fn projection_keeps_only_paths() {
        let v =
            json!({"metadata": {"name": "a", "uid": "u"}, "items": [{"x": 1, "y": 2}, {"x": 3}]});
        let p = project(&v, &[vec!["metadata", "name"], vec!["items", "x"]]);
        assert_eq!(
            p,
            json!({"metadata": {"name": "a"}, "items": [{"x": 1}, {"x": 3}]})
        );
        let mut e = v.clone();
        exclude(&mut e, &[vec!["items", "y"], vec!["metadata"]]);
        assert_eq!(e, json!({"items": [{"x": 1}, {"x": 3}]}));
    }

    #[test]
    fn sse_frame_is_the_real_framing() {
        assert_eq!(&sse_frame(b"{}")[..], b"data: {} \n\n\n");
    }
}
