//! The demo Kubernetes API: one server per demo cluster on loopback, serving the live objects of
//! the apps that deploy there, rendered from the same state the demo Argo CD serves, so the two
//! always agree. Discovery (`/version`, `/api`, `/apis`, resource lists), list (with label
//! selectors), get, watch, and patch (merge, strategic merge, JSON patch; the `scale`
//! subresource), with Kubernetes' `Status` errors. What a patch changes is recorded as the
//! drift it is (a hand edit), so Argo CD reports it: replicas, ConfigMap data, images; labels
//! and annotations are kept on the live object and are not drift. The real `kubectl` works
//! against it (`get`, `-o json`, `annotate`, `label`, `scale`).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::generator::{DemoApp, Drift};
use super::resources::{self, ResId};
use super::state::Instance;

use super::Body;

/// A kind the demo clusters serve.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    pub short: &'static [&'static str],
    /// Has the `scale` subresource.
    pub scale: bool,
}

const fn k(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    scale: bool,
) -> Kind {
    Kind {
        group,
        version,
        kind,
        plural,
        namespaced: true,
        short,
        scale,
    }
}

pub const KINDS: &[Kind] = &[
    Kind {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        namespaced: false,
        short: &["ns"],
        scale: false,
    },
    k("", "v1", "ConfigMap", "configmaps", &["cm"], false),
    k("", "v1", "Secret", "secrets", &[], false),
    k("", "v1", "Pod", "pods", &["po"], false),
    k("", "v1", "Event", "events", &["ev"], false),
    k(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        &["sa"],
        false,
    ),
    k("", "v1", "Service", "services", &["svc"], false),
    k("apps", "v1", "Deployment", "deployments", &["deploy"], true),
    k("apps", "v1", "StatefulSet", "statefulsets", &["sts"], true),
    k("batch", "v1", "CronJob", "cronjobs", &["cj"], false),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        &[],
        false,
    ),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        &[],
        false,
    ),
    k(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        &["hpa"],
        false,
    ),
    k(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        &["ing"],
        false,
    ),
    k(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        &["pdb"],
        false,
    ),
    k(
        "argoproj.io",
        "v1alpha1",
        "Application",
        "applications",
        &["app", "apps"],
        false,
    ),
];

fn gv(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// One demo cluster: which instances deploy to it, and the token its API wants.
pub struct Cluster {
    pub name: String,
    /// The server URL Argo CD knows it by.
    pub server: String,
    pub insts: Vec<Arc<Instance>>,
    pub token: String,
    /// The control plane of an Argo CD instance: it serves that instance's Application
    /// objects (in its `argocd` namespace) instead of workloads.
    pub control_plane: bool,
}

/// A running demo Kubernetes API server.
pub struct KubeServer {
    pub name: String,
    pub addr: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl KubeServer {
    pub async fn start(cluster: Arc<Cluster>, addr: SocketAddr) -> std::io::Result<KubeServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let name = cluster.name.clone();
        let task = super::spawn_https(listener, None, cluster, handle);
        Ok(KubeServer {
            name,
            addr,
            task: Some(task),
        })
    }

    /// Stops listening (the cluster is unreachable).
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for KubeServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn full(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(serde_json::to_vec(v).unwrap_or_default()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn ok(v: &Value) -> Response<Body> {
    full(StatusCode::OK, v)
}

/// A Kubernetes `Status` error.
fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Response<Body> {
    let mut v = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(d) = details {
        v["details"] = d;
    }
    full(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &v,
    )
}

fn not_found(kind: &Kind, name: &str) -> Response<Body> {
    let what = if kind.group.is_empty() {
        kind.plural.to_string()
    } else {
        format!("{}.{}", kind.plural, kind.group)
    };
    status(
        404,
        "NotFound",
        &format!("{what} \"{name}\" not found"),
        Some(json!({"name": name, "group": kind.group, "kind": kind.plural})),
    )
}

/// An object of the cluster, with the app it belongs to.
struct Obj {
    inst: Arc<Instance>,
    app: String,
    res: Option<ResId>,
    value: Value,
}

impl Cluster {
    /// Every live object of `kind` (in `ns` when given) as the cluster has it now.
    fn objects(&self, kind: &Kind, ns: Option<&str>) -> Vec<Obj> {
        if self.control_plane {
            return self.applications(kind, ns);
        }
        let mut out = Vec::new();
        let mut namespaces = BTreeMap::new();
        for inst in &self.insts {
            let now = inst.now();
            let st = inst.read();
            for (name, a) in &st.apps {
                if a.app.spec.destination.server != self.server
                    && a.app.spec.destination.name != self.name
                {
                    continue;
                }
                namespaces
                    .entry(a.w.namespace.clone())
                    .or_insert_with(|| a.w.created);
                if kind.kind == "Namespace" {
                    continue;
                }
                if ns.is_some_and(|n| n != a.w.namespace) {
                    continue;
                }
                for r in resources::resources(&a.w) {
                    if r.kind != kind.kind || r.group != kind.group {
                        continue;
                    }
                    if let Some(v) = resources::live(a, &r, now) {
                        out.push(Obj {
                            inst: inst.clone(),
                            app: name.clone(),
                            value: finish(v, a),
                            res: Some(r),
                        });
                    }
                }
                if kind.kind == "Pod" {
                    for v in pods(a, now) {
                        out.push(Obj {
                            inst: inst.clone(),
                            app: name.clone(),
                            res: None,
                            value: finish(v, a),
                        });
                    }
                }
                if kind.kind == "Event" {
                    let evs = resources::resource_events(a, &a.w.name, &a.w.namespace);
                    for e in evs.items {
                        let mut v = serde_json::to_value(&e).unwrap_or_default();
                        v["apiVersion"] = json!("v1");
                        v["kind"] = json!("Event");
                        out.push(Obj {
                            inst: inst.clone(),
                            app: name.clone(),
                            res: None,
                            value: v,
                        });
                    }
                }
                if kind.kind == "ConfigMap" {
                    for o in &a.w.orphans {
                        out.push(Obj {
                            inst: inst.clone(),
                            app: name.clone(),
                            res: None,
                            value: finish(resources::orphan_live(a, o), a),
                        });
                    }
                }
            }
        }
        if kind.kind == "Namespace" {
            for (n, created) in namespaces {
                out.push(Obj {
                    inst: self.insts[0].clone(),
                    app: String::new(),
                    res: None,
                    value: json!({
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {
                            "name": n,
                            "uid": super::generator::uid(7, &format!("Namespace/{n}")),
                            "resourceVersion": "1",
                            "creationTimestamp": super::generator::ts(created),
                            "labels": {"kubernetes.io/metadata.name": n},
                        },
                        "spec": {"finalizers": ["kubernetes"]},
                        "status": {"phase": "Active"},
                    }),
                });
            }
        }
        out.sort_by(|a, b| {
            let key = |o: &Obj| {
                (
                    o.value["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    o.value["metadata"]["name"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
        out
    }

    /// A control plane's objects: its instance's Applications, and the `argocd` namespace.
    fn applications(&self, kind: &Kind, ns: Option<&str>) -> Vec<Obj> {
        let Some(inst) = self.insts.first() else {
            return vec![];
        };
        let st = inst.read();
        match kind.kind {
            "Application" => st
                .apps
                .iter()
                .filter(|(_, a)| ns.is_none_or(|n| n == a.app.metadata.namespace))
                .map(|(name, a)| {
                    let mut v = serde_json::to_value(&a.app).unwrap_or_default();
                    v["apiVersion"] = json!("argoproj.io/v1alpha1");
                    v["kind"] = json!("Application");
                    Obj {
                        inst: inst.clone(),
                        app: name.clone(),
                        res: None,
                        value: v,
                    }
                })
                .collect(),
            "Namespace" => vec![Obj {
                inst: inst.clone(),
                app: String::new(),
                res: None,
                value: json!({
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": "argocd", "resourceVersion": "1",
                                 "labels": {"kubernetes.io/metadata.name": "argocd"}},
                    "status": {"phase": "Active"},
                }),
            }],
            _ => vec![],
        }
    }

    fn rv(&self) -> u64 {
        self.insts.iter().map(|i| i.read().rv).sum()
    }
}

/// The pods of an app as its cluster has them: the same pods, states and restarts Argo CD's
/// resource tree shows.
pub fn pods(a: &DemoApp, now: i64) -> Vec<Value> {
    let w = &a.w;
    let tree = resources::tree(a, now);
    let ctr = resources::container_name(w);
    tree.nodes
        .iter()
        .filter(|n| n.reference.kind == "Pod")
        .map(|n| {
            let info = |k: &str| {
                n.info
                    .iter()
                    .find(|i| i.name == k)
                    .map(|i| i.value.clone())
                    .unwrap_or_default()
            };
            let reason = info("Status Reason");
            let restarts: i64 = info("Restart Count").parse().unwrap_or(0);
            let ready = info("Containers") == "1/1";
            let message = n
                .health
                .as_ref()
                .map(|h| h.message.clone())
                .unwrap_or_default();
            let state = if reason == "Running" {
                json!({"running": {"startedAt": n.created_at}})
            } else {
                json!({"waiting": {"reason": reason, "message": message}})
            };
            let crash = reason == "CrashLoopBackOff";
            let last = if restarts > 0 {
                json!({"terminated": {
                    "exitCode": if crash { 1 } else { 0 },
                    "reason": if crash { "Error" } else { "Completed" },
                    "startedAt": super::generator::ts(now - 400),
                    "finishedAt": super::generator::ts(now - 340),
                }})
            } else {
                json!({})
            };
            let owners: Vec<Value> = n
                .parent_refs
                .iter()
                .map(|o| {
                    json!({
                        "apiVersion": gv(&o.group, &o.version),
                        "kind": o.kind,
                        "name": o.name,
                        "uid": o.uid,
                        "controller": true,
                    })
                })
                .collect();
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": n.reference.name,
                    "namespace": w.namespace,
                    "uid": n.reference.uid,
                    "creationTimestamp": n.created_at,
                    "labels": {"app.kubernetes.io/name": w.name},
                    "ownerReferences": owners,
                },
                "spec": {
                    "nodeName": info("Node"),
                    "restartPolicy": "Always",
                    "containers": [{"name": ctr, "image": n.images.first()}],
                },
                "status": {
                    "phase": if reason == "Running" || crash { "Running" } else { "Pending" },
                    "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                    "containerStatuses": [{
                        "name": ctr,
                        "image": n.images.first(),
                        "ready": ready,
                        "restartCount": restarts,
                        "state": state,
                        "lastState": last,
                    }],
                },
            })
        })
        .collect()
}

/// The log of a pod's container: what the demo workload prints in its state (a crash loop
/// ends in the error that kills it; a container that never started has none).
pub fn log_lines(pod: &Value, tail: usize) -> String {
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let st = &pod["status"]["containerStatuses"][0];
    let waiting = st["state"]["waiting"]["reason"].as_str();
    let seed = name
        .bytes()
        .fold(17u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
    let mut rng = crate::util::Rng::new(seed);
    let mut lines = Vec::new();
    let started = pod["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(crate::model::fleet::parse_time)
        .unwrap_or(0);
    if !matches!(waiting, Some("ContainerCreating" | "ImagePullBackOff")) {
        let t = |s: i64| super::generator::ts(started + s);
        lines.push(format!("{} INFO starting {name}", t(1)));
        for i in 0..40 {
            let path =
                ["/healthz", "/api/v1/items", "/api/v1/orders", "/metrics"][rng.below(4) as usize];
            let code = if rng.below(20) == 0 { 503 } else { 200 };
            lines.push(format!(
                "{} INFO GET {path} {code} {}ms",
                t(10 + i * 13),
                1 + rng.below(90)
            ));
        }
        if waiting == Some("CrashLoopBackOff") {
            lines.push(format!(
                "{} ERROR cannot connect to the database: dial tcp 10.96.4.12:5432: connect: connection refused",
                t(560)
            ));
            lines.push(format!("{} FATAL exiting with status 1", t(560)));
        }
    }
    let start = lines.len().saturating_sub(tail);
    let mut out = lines[start..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// The object as the cluster serves it: its resourceVersion follows the app's changes.
fn finish(mut v: Value, a: &DemoApp) -> Value {
    if let Some(m) = v["metadata"].as_object_mut() {
        m.insert(
            "resourceVersion".into(),
            json!(a.app.metadata.resource_version),
        );
    }
    v
}

fn selector_ok(v: &Value, sel: Option<&str>) -> bool {
    let Some(sel) = sel.filter(|s| !s.is_empty()) else {
        return true;
    };
    let labels: BTreeMap<String, String> = v["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    super::argocd::selector_matches(sel, &labels)
}

fn field_ok(v: &Value, sel: Option<&str>) -> bool {
    let Some(sel) = sel.filter(|s| !s.is_empty()) else {
        return true;
    };
    sel.split(',').all(|term| {
        let (k, want, eq) = if let Some((k, w)) = term.split_once("!=") {
            (k, w, false)
        } else if let Some((k, w)) = term.split_once("==") {
            (k, w, true)
        } else if let Some((k, w)) = term.split_once('=') {
            (k, w, true)
        } else {
            return true;
        };
        let have = match k.trim() {
            "metadata.name" => v["metadata"]["name"].as_str(),
            "metadata.namespace" => v["metadata"]["namespace"].as_str(),
            _ => None,
        }
        .unwrap_or("");
        (have == want.trim()) == eq
    })
}

/// A list item: the real server leaves `kind` and `apiVersion` off items of typed lists.
fn item(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.shift_remove("kind");
        m.shift_remove("apiVersion");
    }
    v
}

fn resource_list(group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<&Kind> = KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for k in kinds {
        let mut verbs = vec!["get", "list", "watch", "patch"];
        if matches!(k.kind, "Namespace" | "Pod" | "Event" | "Application") {
            verbs = vec!["get", "list", "watch"];
        }
        resources.push(json!({
            "name": k.plural,
            "singularName": k.kind.to_lowercase(),
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": verbs,
            "shortNames": k.short,
        }));
        if k.kind == "Pod" {
            resources.push(json!({
                "name": "pods/log",
                "singularName": "",
                "namespaced": true,
                "kind": "Pod",
                "verbs": ["get"],
            }));
        }
        if k.scale {
            resources.push(json!({
                "name": format!("{}/scale", k.plural),
                "singularName": "",
                "namespaced": true,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch"],
            }));
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv(group, version),
        "resources": resources,
    }))
}

fn groups() -> Value {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for k in KINDS.iter().filter(|k| !k.group.is_empty()) {
        if !seen.contains(&(k.group, k.version)) {
            seen.push((k.group, k.version));
        }
    }
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": seen.iter().map(|(g, v)| json!({
            "name": g,
            "versions": [{"groupVersion": gv(g, v), "version": v}],
            "preferredVersion": {"groupVersion": gv(g, v), "version": v},
        })).collect::<Vec<_>>(),
    })
}

fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    super::argocd::parse_query(req.uri().query().unwrap_or(""))
        .into_iter()
        .collect()
}

async fn handle(c: Arc<Cluster>, req: Request<Incoming>) -> Response<Body> {
    // A wrong token is refused. No token is the anonymous user, whom the demo clusters allow
    // (as a kube-apiserver with anonymous auth and an RBAC rule for it would): client-go does
    // not send a bearer token over plain HTTP, and the demo serves HTTP on loopback.
    let authorized = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.strip_prefix("Bearer ").is_some_and(|t| t == c.token));
    let path = req.uri().path().to_string();
    if !authorized {
        return status(401, "Unauthorized", "Unauthorized", None);
    }
    let q = query(&req);
    let method = req.method().clone();
    let watch = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    let injected = match c.insts.first() {
        Some(i) => {
            super::faults::request(i.faults().profile, &i.dice, method != Method::GET, watch)
        }
        None => super::faults::Injected::Delay(std::time::Duration::ZERO),
    };
    {
        use super::faults::Injected;
        match injected {
            Injected::Delay(d) if !d.is_zero() => tokio::time::sleep(d).await,
            Injected::Delay(_) | Injected::Truncated | Injected::Reset => {}
            Injected::Unavailable => {
                return status(
                    503,
                    "ServiceUnavailable",
                    "the server is currently unable to handle the request",
                    None,
                );
            }
            Injected::RateLimited(secs) => {
                let mut r = status(
                    429,
                    "TooManyRequests",
                    "the server has received too many requests and has asked us to try again later",
                    Some(json!({"retryAfterSeconds": secs})),
                );
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    secs.to_string().parse().expect("header"),
                );
                return r;
            }
            Injected::ProxyPage => {
                let mut r = Response::new(
                    Full::new(Bytes::from_static(super::faults::PROXY_PAGE.as_bytes())).boxed(),
                );
                *r.status_mut() = StatusCode::BAD_GATEWAY;
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, "text/html".parse().expect("header"));
                return r;
            }
        }
    }
    let reply = serve(&c, req, &path, &q, &method).await;
    match injected {
        super::faults::Injected::Truncated | super::faults::Injected::Reset => {
            super::argocd::cut_short(reply, injected == super::faults::Injected::Reset).await
        }
        _ => reply,
    }
}

/// The reply to an authorized request.
async fn serve(
    c: &Arc<Cluster>,
    req: Request<Incoming>,
    path: &str,
    q: &HashMap<String, String>,
    method: &Method,
) -> Response<Body> {
    let method = method.clone();
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = if method == Method::PATCH {
        match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return status(400, "BadRequest", "cannot read the request body", None),
        }
    } else {
        Bytes::new()
    };
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| super::argocd::percent_decode(s, false))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["version"] => ok(&json!({
            "major": "1",
            "minor": "31",
            "gitVersion": "v1.31.4",
            "gitCommit": "a78aa47129b8539636eb86a9d00e31b2720fe06b",
            "gitTreeState": "clean",
            "buildDate": "2024-12-10T11:36:39Z",
            "goVersion": "go1.22.9",
            "compiler": "gc",
            "platform": "linux/amd64",
        })),
        ["api"] => ok(&json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
        })),
        ["apis"] => ok(&groups()),
        ["api", v] => resource_list("", v).map(|l| ok(&l)).unwrap_or_else(|| {
            status(
                404,
                "NotFound",
                "the server could not find the requested resource",
                None,
            )
        }),
        ["apis", g, v] => resource_list(g, v).map(|l| ok(&l)).unwrap_or_else(|| {
            status(
                404,
                "NotFound",
                "the server could not find the requested resource",
                None,
            )
        }),
        ["api", "v1", rest @ ..] => route(c, &method, "", "v1", rest, q, &ctype, &body).await,
        ["apis", g, v, rest @ ..] => route(c, &method, g, v, rest, q, &ctype, &body).await,
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        ),
    }
}

#[allow(clippy::too_many_arguments)]
async fn route(
    c: &Arc<Cluster>,
    method: &Method,
    group: &str,
    version: &str,
    rest: &[&str],
    q: &HashMap<String, String>,
    ctype: &str,
    body: &Bytes,
) -> Response<Body> {
    let kind_of = |plural: &str| {
        KINDS
            .iter()
            .find(|k| k.group == group && k.version == version && k.plural == plural)
    };
    // (kind, namespace, name, subresource)
    let (kind, ns, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..] => match kind_of(plural) {
            Some(k) => (k, Some(*ns), tail.first().copied(), tail.get(1).copied()),
            None => {
                return status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                    None,
                );
            }
        },
        [plural, tail @ ..] => match kind_of(plural) {
            Some(k) => (k, None, tail.first().copied(), tail.get(1).copied()),
            None => {
                return status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                    None,
                );
            }
        },
        [] => {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource",
                None,
            );
        }
    };
    let watch = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    match (method.clone(), name, sub) {
        (Method::GET, None, None) if watch => {
            watch_stream(c.clone(), *kind, ns.map(str::to_string), q)
        }
        (Method::GET, None, None) => {
            let items: Vec<Value> = c
                .objects(kind, ns)
                .into_iter()
                .map(|o| o.value)
                .filter(|v| selector_ok(v, q.get("labelSelector").map(String::as_str)))
                .filter(|v| field_ok(v, q.get("fieldSelector").map(String::as_str)))
                .map(item)
                .collect();
            ok(&json!({
                "kind": format!("{}List", kind.kind),
                "apiVersion": gv(kind.group, kind.version),
                "metadata": {"resourceVersion": c.rv().to_string()},
                "items": items,
            }))
        }
        (Method::GET, Some(n), None) => match find(c, kind, ns, n) {
            Some(o) => ok(&o.value),
            None => not_found(kind, n),
        },
        (Method::GET, Some(n), Some("log")) if kind.kind == "Pod" => match find(c, kind, ns, n) {
            Some(o) => {
                let want = q.get("container").cloned().unwrap_or_default();
                let have = o.value["spec"]["containers"][0]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                if !want.is_empty() && want != have {
                    return status(
                        400,
                        "BadRequest",
                        &format!("container {want} is not valid for pod {n}"),
                        None,
                    );
                }
                let tail = q
                    .get("tailLines")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(usize::MAX);
                let mut r = Response::new(
                    Full::new(Bytes::from(log_lines(&o.value, tail)))
                        .map_err(|never| match never {})
                        .boxed(),
                );
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("text/plain"),
                );
                r
            }
            None => not_found(kind, n),
        },
        (Method::GET, Some(n), Some("scale")) if kind.scale => match find(c, kind, ns, n) {
            Some(o) => ok(&scale_of(&o.value)),
            None => not_found(kind, n),
        },
        (Method::PATCH, Some(n), sub) if sub.is_none() || (sub == Some("scale") && kind.scale) => {
            let Some(o) = find(c, kind, ns, n) else {
                return not_found(kind, n);
            };
            if matches!(kind.kind, "Namespace" | "Pod" | "Event" | "Application") {
                return status(
                    405,
                    "MethodNotAllowed",
                    &format!("the demo cluster's {} are read-only", kind.plural),
                    None,
                );
            }
            patch(o, kind, sub == Some("scale"), ctype, body)
        }
        _ => status(
            405,
            "MethodNotAllowed",
            &format!("the demo cluster does not {method} this resource"),
            None,
        ),
    }
}

fn find(c: &Cluster, kind: &Kind, ns: Option<&str>, name: &str) -> Option<Obj> {
    c.objects(kind, ns)
        .into_iter()
        .find(|o| o.value["metadata"]["name"] == name)
}

fn scale_of(v: &Value) -> Value {
    let replicas = v["spec"]["replicas"].as_i64().unwrap_or(1);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": v["metadata"]["name"],
            "namespace": v["metadata"]["namespace"],
            "uid": v["metadata"]["uid"],
            "resourceVersion": v["metadata"]["resourceVersion"],
            "creationTimestamp": v["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": replicas},
        "status": {
            "replicas": v["status"]["replicas"].as_i64().unwrap_or(replicas),
            "selector": v["spec"]["selector"]["matchLabels"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","))
                .unwrap_or_default(),
        },
    })
}

/// Paths (JSON pointers) where two values differ.
fn changed(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                changed(
                    &p,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ => out.push(path.to_string()),
    }
}

/// Applies a patch to a live object and records what changed as the demo state.
fn patch(o: Obj, kind: &Kind, scale: bool, ctype: &str, body: &Bytes) -> Response<Body> {
    let patch: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return status(
                400,
                "BadRequest",
                &format!("error decoding patch: {e}"),
                None,
            );
        }
    };
    let before = if scale {
        scale_of(&o.value)
    } else {
        o.value.clone()
    };
    let mut after = before.clone();
    let ct = ctype.split(';').next().unwrap_or("").trim();
    match ct {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            super::patch::merge(&mut after, &patch)
        }
        "application/json-patch+json" => {
            if let Err(e) = super::patch::json_patch(&mut after, &patch) {
                return status(
                    422,
                    "Invalid",
                    &format!("the JSON patch cannot be applied: {e}"),
                    None,
                );
            }
        }
        other => {
            return status(
                415,
                "UnsupportedMediaType",
                &format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json; got {other:?}"
                ),
                None,
            );
        }
    }
    let mut paths = Vec::new();
    changed("", &before, &after, &mut paths);
    let now = o.inst.now();
    let name = after["metadata"]["name"].as_str().unwrap_or("").to_string();
    let key = format!("{}/{}", kind.kind, name);
    // Classify every change before touching the state: all or nothing.
    let mut replicas = None;
    let mut config: Vec<(String, String)> = Vec::new();
    let mut image = None;
    let mut meta = false;
    for p in &paths {
        if p.starts_with("/metadata/labels") || p.starts_with("/metadata/annotations") {
            meta = true;
        } else if p == "/spec/replicas"
            && (scale || matches!(kind.kind, "Deployment" | "StatefulSet"))
        {
            replicas = after["spec"]["replicas"].as_i64();
        } else if kind.kind == "ConfigMap" && p.starts_with("/data/") && o.res.is_some() {
            let k = p
                .trim_start_matches("/data/")
                .replace("~1", "/")
                .replace("~0", "~");
            match after["data"][&k].as_str() {
                Some(v) => config.push((k, v.to_string())),
                None => {
                    return status(
                        422,
                        "Invalid",
                        "the demo cluster cannot delete ConfigMap keys",
                        None,
                    );
                }
            }
        } else if matches!(kind.kind, "Deployment" | "StatefulSet" | "CronJob")
            && p.ends_with("/image")
        {
            let img = after.pointer(p).and_then(Value::as_str).unwrap_or("");
            image = img.rsplit_once(':').map(|(_, t)| t.to_string());
        } else if p == "/metadata/resourceVersion" || p == "/metadata/managedFields" {
        } else {
            return status(
                422,
                "Invalid",
                &format!(
                    "{} \"{name}\" is invalid: {p}: the demo cluster records changes to labels, annotations, replicas, ConfigMap data and images only",
                    kind.kind
                ),
                None,
            );
        }
    }
    let base_meta = o.value["metadata"].clone();
    let new_meta = after["metadata"].clone();
    let applied = o.inst.modify(&o.app, |a| {
        let w = &mut a.w;
        if meta && !scale {
            let entry = w.live_meta.entry(key.clone()).or_insert_with(|| json!({}));
            for part in ["labels", "annotations"] {
                let mut extra = entry[part].as_object().cloned().unwrap_or_default();
                let old = base_meta[part].as_object().cloned().unwrap_or_default();
                let new = new_meta[part].as_object().cloned().unwrap_or_default();
                for (k, v) in &new {
                    if old.get(k) != Some(v) {
                        extra.insert(k.clone(), v.clone());
                    }
                }
                for k in old.keys() {
                    if !new.contains_key(k) {
                        extra.shift_remove(k);
                    }
                }
                entry[part] = Value::Object(extra);
            }
        }
        if let Some(r) = replicas {
            w.drifts
                .retain(|d| !matches!(d, Drift::Replicas { by_hpa: false, .. }));
            if r != w.replicas {
                w.drifts.push(Drift::Replicas {
                    to: r,
                    by_hpa: false,
                    at: now,
                });
            }
        }
        for (k, v) in &config {
            w.drifts
                .retain(|d| !matches!(d, Drift::ConfigValue { key, .. } if key == k));
            if w.config.get(k) != Some(v) {
                w.drifts.push(Drift::ConfigValue {
                    key: k.clone(),
                    value: v.clone(),
                    at: now,
                });
            }
        }
        if let Some(t) = &image {
            w.drifts.retain(|d| !matches!(d, Drift::Image { .. }));
            if *t != w.tag {
                w.drifts.push(Drift::Image {
                    tag: t.clone(),
                    at: now,
                });
            }
        }
    });
    if !applied {
        return status(404, "NotFound", "the object went away", None);
    }
    // Answer with the object as it is now.
    let st = o.inst.read();
    let Some(a) = st.apps.get(&o.app) else {
        return status(404, "NotFound", "the object went away", None);
    };
    let now_obj = match &o.res {
        Some(r) => resources::live(a, r, now).map(|v| finish(v, a)),
        None => Some(finish(resources::orphan_live(a, &name), a)),
    };
    match now_obj {
        Some(v) if scale => ok(&scale_of(&v)),
        Some(v) => ok(&v),
        None => not_found(kind, &name),
    }
}

/// `?watch=true`: newline-delimited watch events, ADDED for what is there, then MODIFIED,
/// ADDED and DELETED as the demo state changes; ends after `timeoutSeconds`.
fn watch_stream(
    c: Arc<Cluster>,
    kind: Kind,
    ns: Option<String>,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let sel = q.get("labelSelector").cloned();
    let fsel = q.get("fieldSelector").cloned();
    let since: Option<u64> = q
        .get("resourceVersion")
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
    let mut subs: Vec<_> = c.insts.iter().map(|i| i.events.subscribe()).collect();
    tokio::spawn(async move {
        let snapshot = |c: &Cluster| -> HashMap<String, Value> {
            c.objects(&kind, ns.as_deref())
                .into_iter()
                .map(|o| o.value)
                .filter(|v| selector_ok(v, sel.as_deref()) && field_ok(v, fsel.as_deref()))
                .map(|v| {
                    let k = format!(
                        "{}/{}",
                        v["metadata"]["namespace"].as_str().unwrap_or(""),
                        v["metadata"]["name"].as_str().unwrap_or("")
                    );
                    (k, v)
                })
                .collect()
        };
        let send = |t: &'static str, v: &Value| {
            let mut line = serde_json::to_vec(&json!({"type": t, "object": v})).unwrap_or_default();
            line.push(b'\n');
            Frame::data(Bytes::from(line))
        };
        let mut last = snapshot(&c);
        if since.is_none() {
            for v in last.values() {
                if tx.send(Ok(send("ADDED", v))).await.is_err() {
                    return;
                }
            }
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
        loop {
            let mut any = false;
            for s in subs.iter_mut() {
                loop {
                    match s.try_recv() {
                        Ok(_) => any = true,
                        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => any = true,
                        Err(_) => break,
                    }
                }
            }
            if any {
                let now = snapshot(&c);
                for (k, v) in &now {
                    let ev = match last.get(k) {
                        None => Some("ADDED"),
                        Some(old) if old != v => Some("MODIFIED"),
                        _ => None,
                    };
                    if let Some(t) = ev
                        && tx.send(Ok(send(t, v))).await.is_err()
                    {
                        return;
                    }
                }
                for (k, v) in &last {
                    if !now.contains_key(k) && tx.send(Ok(send("DELETED", v))).await.is_err() {
                        return;
                    }
                }
                last = now;
            }
            if tokio::time::Instant::now() > deadline || tx.is_closed() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::TRANSFER_ENCODING,
        header::HeaderValue::from_static("chunked"),
    );
    r
}

/// A kubeconfig with one context per cluster (the context is named after the cluster).
pub fn kubeconfig(servers: &[(String, SocketAddr)], token: &str) -> String {
    let mut s = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, addr) in servers {
        s.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: http://{addr}\n"
        ));
    }
    s.push_str("users:\n- name: demo\n  user:\n    token: ");
    s.push_str(token);
    s.push_str("\ncontexts:\n");
    for (name, _) in servers {
        s.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: demo\n"
        ));
    }
    if let Some((first, _)) = servers.first() {
        s.push_str(&format!("current-context: {first}\n"));
    }
    s
}
