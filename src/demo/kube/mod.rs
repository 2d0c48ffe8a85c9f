//! The demo Kubernetes API: one server per demo cluster on loopback, serving the live objects of
//! the apps that deploy there, rendered from the same state the demo Argo CD serves, so the two
//! always agree. Discovery (`/version`, `/api`, `/apis`, resource lists), list (with label
//! selectors), get, watch, and patch (merge, strategic merge, JSON patch; the `scale`
//! subresource), with Kubernetes' `Status` errors. What a patch changes is recorded as the
//! drift it is (a hand edit), so Argo CD reports it: replicas, ConfigMap data, images; labels
//! and annotations are kept on the live object and are not drift. The real `kubectl` works
//! against it (`get`, `-o json`, `annotate`, `label`, `scale`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::generator::DemoApp;
use super::resources::{self, ResId};
use super::state::Instance;

use super::Body;

mod auth;
pub mod events;
mod leases;
mod list;
mod logs;
mod openapi;
mod table;
mod versions;
mod watch;
mod workloads;
mod write;

pub use auth::{Auth, Credentials, kubeconfig};
pub use logs::{entries as log_entries, log_lines};
pub use workloads::pods;

/// A live object the controllers made below an app's workload (a Pod, ReplicaSet or Job), as
/// the cluster serves it.
pub fn child(a: &DemoApp, group: &str, kind: &str, name: &str, now: i64) -> Option<Value> {
    let all = match (group, kind) {
        ("", "Pod") => workloads::pods(a, now),
        ("apps", "ReplicaSet") => workloads::replica_sets(a, now),
        ("batch", "Job") => workloads::jobs(a, now),
        ("argoproj.io", "AnalysisRun") => crate::demo::resources::analysis_runs(&a.w, now),
        _ => return None,
    };
    all.into_iter().find(|v| v["metadata"]["name"] == name)
}

/// The events of one object of an app, as the cluster has them (Argo CD's resource events
/// read the cluster's): by involved object name and namespace, and uid when given.
pub fn resource_events(a: &DemoApp, now: i64, name: &str, ns: &str, uid: &str) -> Value {
    let items: Vec<Value> = workloads::events(a, now)
        .into_iter()
        .filter(|e| {
            let io = &e["involvedObject"];
            io["name"] == name
                && (ns.is_empty() || io["namespace"] == ns)
                && (uid.is_empty() || io["uid"] == uid)
        })
        .collect();
    json!({"metadata": {}, "items": items})
}

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
    k("apps", "v1", "ReplicaSet", "replicasets", &["rs"], false),
    k("batch", "v1", "CronJob", "cronjobs", &["cj"], false),
    k("batch", "v1", "Job", "jobs", &[], false),
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
    k("coordination.k8s.io", "v1", "Lease", "leases", &[], false),
    k(
        "argoproj.io",
        "v1alpha1",
        "Rollout",
        "rollouts",
        &["ro"],
        false,
    ),
    k(
        "argoproj.io",
        "v1alpha1",
        "AnalysisRun",
        "analysisruns",
        &[],
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

/// One demo cluster: which instances deploy to it, and who may talk to it.
pub struct Cluster {
    pub name: String,
    /// The server URL Argo CD knows it by.
    pub server: String,
    pub insts: Vec<Arc<Instance>>,
    /// Bearer tokens it accepts, with the user each authenticates.
    pub tokens: Vec<(String, String)>,
    /// The control plane of an Argo CD instance: it serves that instance's Application
    /// objects (in its `argocd` namespace) instead of workloads.
    pub control_plane: bool,
    /// The run's CA: the serving certificate, and which client certificate is whose.
    pub pki: Arc<super::pki::Pki>,
    /// Resource versions and generations of the objects it has served.
    pub versions: std::sync::Mutex<versions::Versions>,
    /// The Leases created in it (leader election).
    pub leases: leases::Store,
    /// The Events posted to it (a control plane shares them with its Argo CD instance).
    pub events: events::Store,
}

/// A running demo Kubernetes API server.
pub struct KubeServer {
    pub name: String,
    pub addr: SocketAddr,
    /// The kubeconfig context that reaches it.
    pub context: String,
    /// The credential that context uses.
    pub auth: Auth,
    task: Option<JoinHandle<()>>,
}

/// One connection's state: the cluster, and the user its client certificate proved.
#[derive(Clone)]
struct Conn {
    cluster: Arc<Cluster>,
    cert_user: Option<&'static str>,
}

impl KubeServer {
    /// Serves HTTPS on `listener` until stopped.
    pub fn serve(
        cluster: Arc<Cluster>,
        listener: TcpListener,
        auth: Auth,
        context: String,
    ) -> std::io::Result<KubeServer> {
        let addr = listener.local_addr()?;
        let name = cluster.name.clone();
        let acceptor = tokio_rustls::TlsAcceptor::from(cluster.pki.server.clone());
        let task = super::spawn_https_peer(
            listener,
            Some(acceptor),
            cluster,
            |cluster, certs| Conn {
                cluster: cluster.clone(),
                cert_user: cluster.pki.user_of(certs),
            },
            handle,
        );
        Ok(KubeServer {
            name,
            addr,
            context,
            auth,
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

/// A refusal, as a handler returns it before it becomes a `Status` reply.
pub(crate) struct Failure {
    code: u16,
    reason: &'static str,
    message: String,
    details: Option<Value>,
}

impl Failure {
    fn new(code: u16, reason: &'static str, message: &str, details: Option<Value>) -> Failure {
        Failure {
            code,
            reason,
            message: message.to_string(),
            details,
        }
    }

    fn not_found(kind: &Kind, name: &str) -> Failure {
        let what = if kind.group.is_empty() {
            kind.plural.to_string()
        } else {
            format!("{}.{}", kind.plural, kind.group)
        };
        Failure::new(
            404,
            "NotFound",
            &format!("{what} \"{name}\" not found"),
            Some(json!({"name": name, "group": kind.group, "kind": kind.plural})),
        )
    }

    /// The request's `fieldValidation` (Warn by default), or the apiserver's 400 for a value
    /// it does not know.
    fn field_validation(r: &Req) -> Result<&str, Failure> {
        let v =
            r.q.get("fieldValidation")
                .map(String::as_str)
                .filter(|v| !v.is_empty())
                .unwrap_or("Warn");
        if matches!(v, "Strict" | "Warn" | "Ignore") {
            return Ok(v);
        }
        Err(Failure::new(
            400,
            "BadRequest",
            &format!(
                "fieldValidation: Unsupported value: \"{v}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            ),
            None,
        ))
    }

    fn reply(self) -> Response<Body> {
        status(self.code, self.reason, &self.message, self.details)
    }
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
    /// The resource version it was first served at.
    created: u64,
}

impl Cluster {
    /// Every live object of `kind` (in `ns` when given) as the cluster has it now.
    fn objects(&self, kind: &Kind, ns: Option<&str>) -> Vec<Obj> {
        let mut out = self.render(kind, ns);
        let mut vs = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        for o in &mut out {
            let key = versions::key(kind.plural, &o.value);
            o.created = vs.stamp(&key, &mut o.value);
        }
        out
    }

    /// The objects as the demo state has them now, before versions are given.
    fn render(&self, kind: &Kind, ns: Option<&str>) -> Vec<Obj> {
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
                            created: 0,
                            inst: inst.clone(),
                            app: name.clone(),
                            value: v,
                            res: Some(r),
                        });
                    }
                }
                // What the controllers made below the workload, as the cluster has it.
                let made = match kind.kind {
                    "Pod" => workloads::pods(a, now),
                    "Job" => workloads::jobs(a, now),
                    "ReplicaSet" => workloads::replica_sets(a, now),
                    "AnalysisRun" => crate::demo::resources::analysis_runs(&a.w, now),
                    "Event" => workloads::events(a, now)
                        .into_iter()
                        .map(|mut v| {
                            v["apiVersion"] = json!("v1");
                            v["kind"] = json!("Event");
                            v
                        })
                        .collect(),
                    _ => vec![],
                };
                out.extend(made.into_iter().map(|value| Obj {
                    created: 0,
                    inst: inst.clone(),
                    app: name.clone(),
                    res: None,
                    value,
                }));
                if kind.kind == "ConfigMap" {
                    for o in &a.w.orphans {
                        out.push(Obj {
                            created: 0,
                            inst: inst.clone(),
                            app: name.clone(),
                            res: None,
                            value: resources::orphan_live(a, o),
                        });
                    }
                }
            }
        }
        if kind.kind == "Event" {
            out.extend(self.posted(ns));
        }
        if kind.kind == "Namespace" {
            for (n, created) in namespaces {
                out.push(Obj {
                    created: 0,
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

    /// The Events posted to the cluster (unexpired), in `ns` when given.
    fn posted(&self, ns: Option<&str>) -> Vec<Obj> {
        let Some(inst) = self.insts.first() else {
            return vec![];
        };
        events::listed(&self.events, ns, inst.now())
            .into_iter()
            .map(|value| Obj {
                created: 0,
                inst: inst.clone(),
                app: String::new(),
                res: None,
                value,
            })
            .collect()
    }

    /// A control plane's objects: its instance's Applications, its posted Events, and the
    /// `argocd` namespace.
    fn applications(&self, kind: &Kind, ns: Option<&str>) -> Vec<Obj> {
        let Some(inst) = self.insts.first() else {
            return vec![];
        };
        if kind.kind == "Event" {
            return self.posted(ns);
        }
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
                        created: 0,
                        inst: inst.clone(),
                        app: name.clone(),
                        res: None,
                        value: v,
                    }
                })
                .collect(),
            "Namespace" => vec![Obj {
                created: 0,
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

    /// The cluster's current resource version (a list's).
    fn rv(&self) -> u64 {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .counter
    }

    /// Whether version `rv` has fallen out of the cluster's history.
    fn too_old(&self, rv: u64) -> bool {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .too_old(rv)
    }

    /// Gives a served object its resource version; returns the version it was created at.
    fn stamp(&self, kind: &Kind, v: &mut Value) -> u64 {
        let key = versions::key(kind.plural, v);
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stamp(&key, v)
    }
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

/// A stored object (a Lease, a posted Event) after a merge, strategic merge or JSON patch of
/// `r`: neither kind has a list merged by key, so a strategic merge patch (what `kubectl
/// apply` sends) merges as a JSON merge patch does. Its identity (uid, name, namespace,
/// creation) stays. `what` names the kind in the refusal of another media type.
fn patched(old: &Value, r: &Req, what: &str) -> Result<Value, Box<Response<Body>>> {
    let ctype = r.ctype.split(';').next().unwrap_or("").trim();
    if !matches!(
        ctype,
        "application/merge-patch+json"
            | "application/strategic-merge-patch+json"
            | "application/json-patch+json"
    ) {
        return Err(Box::new(status(
            415,
            "UnsupportedMediaType",
            &format!("the demo's {what} take merge, strategic merge and JSON patches, not {ctype}"),
            None,
        )));
    }
    let p: Value = serde_json::from_slice(&r.body).map_err(|e| {
        Box::new(status(
            400,
            "BadRequest",
            &format!("the request body is not JSON: {e}"),
            None,
        ))
    })?;
    let mut v = old.clone();
    if ctype == "application/json-patch+json" {
        crate::demo::patch::json_patch(&mut v, &p)
            .map_err(|e| Box::new(status(422, "Invalid", &e, None)))?;
    } else {
        crate::demo::patch::merge(&mut v, &p);
    }
    for k in ["uid", "creationTimestamp", "namespace", "name"] {
        v["metadata"][k] = old["metadata"][k].clone();
    }
    Ok(v)
}

/// A list item: the real server leaves `kind` and `apiVersion` off items of typed lists.
fn item(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.shift_remove("kind");
        m.shift_remove("apiVersion");
    }
    v
}

/// The verbs a kind of the demo clusters supports.
fn verbs_of(k: &Kind) -> Vec<&'static str> {
    if k.kind == "Lease" {
        return vec!["create", "delete", "get", "list", "patch", "update"];
    }
    if k.kind == "Event" {
        return vec!["create", "get", "list", "patch", "watch"];
    }
    if matches!(
        k.kind,
        "Namespace" | "Pod" | "Event" | "Application" | "ReplicaSet" | "Job" | "AnalysisRun"
    ) {
        vec!["get", "list", "watch"]
    } else {
        vec!["get", "list", "watch", "patch"]
    }
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
        let verbs = verbs_of(k);
        let mut r = json!({
            "name": k.plural,
            "singularName": k.kind.to_lowercase(),
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": verbs,
            "shortNames": k.short,
        });
        // The `all` category (`kubectl get all`), as the real server lists it.
        if matches!(
            k.kind,
            "Pod"
                | "Service"
                | "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "HorizontalPodAutoscaler"
                | "CronJob"
                | "Job"
        ) {
            r["categories"] = json!(["all"]);
        }
        resources.push(r);
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

async fn handle(conn: Conn, req: Request<Incoming>) -> Response<Body> {
    let c = conn.cluster;
    let path = req.uri().path().to_string();
    let Some(user) = auth::user_of(&c, &req, conn.cert_user) else {
        return status(401, "Unauthorized", "Unauthorized", None);
    };
    tracing::trace!(cluster = %c.name, %user, %path, "demo kube request");
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
    let reply = serve(&c, req, &path, &q, &method, user).await;
    match injected {
        super::faults::Injected::Truncated | super::faults::Injected::Reset => {
            super::argocd::cut_short(reply, injected == super::faults::Injected::Reset).await
        }
        _ => reply,
    }
}

/// The reply to an authorized request.
/// What a handler needs of a request.
pub(crate) struct Req {
    pub method: Method,
    pub q: HashMap<String, String>,
    pub ctype: String,
    pub accept: String,
    /// The field manager of a write: `fieldManager`, else the user agent's product, as the
    /// real server takes it.
    pub manager: String,
    pub user: String,
    pub body: Bytes,
}

impl Req {
    /// `dryRun`: `Ok(true)` for `All`, an error message for anything else but absent.
    pub fn dry_run(&self) -> Result<bool, String> {
        match self.q.get("dryRun").map(String::as_str) {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(format!(
                "Invalid dry run value: {other}; supported values: \"All\""
            )),
        }
    }
}

/// The field manager the real server records when the client names none: the user agent up
/// to its first `/` (`kubectl`, `OpenAPI-Generator`), at most 128 characters.
fn manager_of(q: &HashMap<String, String>, user_agent: &str) -> String {
    match q.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(m) => m.clone(),
        None => user_agent
            .split('/')
            .next()
            .unwrap_or("")
            .chars()
            .take(128)
            .collect(),
    }
}

/// The reply to an authorized request.
async fn serve(
    c: &Arc<Cluster>,
    req: Request<Incoming>,
    path: &str,
    q: &HashMap<String, String>,
    method: &Method,
    user: String,
) -> Response<Body> {
    let header_of = |h: header::HeaderName| {
        req.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let ctype = header_of(header::CONTENT_TYPE);
    let accept = header_of(header::ACCEPT);
    let manager = manager_of(q, &header_of(header::USER_AGENT));
    let body = if matches!(*method, Method::PATCH | Method::POST | Method::PUT) {
        // The real server's limit on a request body is 3 MiB.
        match http_body_util::Limited::new(req.into_body(), 3 * 1024 * 1024)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return status(
                    413,
                    "RequestEntityTooLarge",
                    "the request body is over 3 MiB or could not be read",
                    None,
                );
            }
        }
    } else {
        Bytes::new()
    };
    let r = Req {
        method: method.clone(),
        q: q.clone(),
        ctype,
        accept,
        manager,
        user,
        body,
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
        ["openapi", "v2"] => {
            // The real server prefers protobuf; it answers JSON to clients that take it.
            let takes_json = r.accept.is_empty()
                || r.accept.split(',').any(|a| {
                    let t = a.split(';').next().unwrap_or("").trim();
                    matches!(t, "application/json" | "*/*" | "application/*")
                });
            if takes_json {
                ok(&openapi::docs().v2)
            } else {
                status(
                    406,
                    "NotAcceptable",
                    "only the following media types are accepted: application/json",
                    None,
                )
            }
        }
        ["openapi", "v3"] => ok(&openapi::v3_index()),
        ["openapi", "v3", rest @ ..] => match openapi::docs().v3.get(&rest.join("/")) {
            Some((doc, _)) => ok(doc),
            None => status(
                404,
                "NotFound",
                "the server could not find the requested resource",
                None,
            ),
        },
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
        [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
        ] if r.method == Method::POST => access_review(&r),
        ["apis", "coordination.k8s.io", "v1", rest @ ..] => {
            let now = c.insts.first().map_or(0, |i| i.now());
            leases::route(c, &r, rest, now)
        }
        ["api", "v1", rest @ ..] => route(c, &r, "", "v1", rest).await,
        ["apis", g, v, rest @ ..] => route(c, &r, g, v, rest).await,
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        ),
    }
}

async fn route(
    c: &Arc<Cluster>,
    r: &Req,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Response<Body> {
    let (method, q) = (&r.method, &r.q);
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
    let terms = match list::field_selector(kind, q.get("fieldSelector").map(String::as_str)) {
        Ok(t) => t,
        Err(e) => return status(400, "BadRequest", &e, None),
    };
    let now = c.insts.first().map_or(0, |i| i.now());
    match (method.clone(), name, sub) {
        (Method::PATCH, Some(n), None) if kind.kind == "Event" => match ns {
            Some(ns) => events::patch(c, r, ns, n),
            None => status(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                None,
            ),
        },
        (Method::POST, None, None) if kind.kind == "Event" => match ns {
            Some(ns) => events::create(c, r, ns, now),
            None => status(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                None,
            ),
        },
        (Method::GET, None, None) if watch => {
            watch::watch_stream(c.clone(), *kind, ns.map(str::to_string), q, terms)
        }
        (Method::GET, None, None) => list_objects(c, kind, ns, r, &terms, now),
        (Method::GET, Some(n), None) => match find(c, kind, ns, n) {
            Some(o) if table::wants_table(&r.accept) => ok(&table::table(
                kind,
                &[o.value],
                json!({"resourceVersion": c.rv().to_string()}),
                now,
            )),
            Some(o) => ok(&o.value),
            None => not_found(kind, n),
        },
        (Method::GET, Some(n), Some("log")) if kind.kind == "Pod" => match find(c, kind, ns, n) {
            Some(o) => logs::logs(&o.value, q, now),
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
            if matches!(
                kind.kind,
                "Namespace"
                    | "Pod"
                    | "Event"
                    | "Application"
                    | "ReplicaSet"
                    | "Job"
                    | "AnalysisRun"
            ) {
                return status(
                    405,
                    "MethodNotAllowed",
                    &format!("the demo cluster's {} are read-only", kind.plural),
                    None,
                );
            }
            let reply = write::patch(o, kind, sub == Some("scale"), r);
            // The object as the client will read it next: a new version if it changed (a dry
            // run stores nothing, so its version stays).
            let (mut v, warnings) = match reply {
                Ok(x) => x,
                Err(f) => return f.reply(),
            };
            // The version is the object's (a scale's too, whose reply is the Scale of it).
            if r.dry_run() == Ok(true) {
                let key = versions::key(kind.plural, &v);
                c.versions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .peek(&key, &mut v);
            } else {
                c.stamp(kind, &mut v);
            }
            // (A dry run of a scale already answers the Scale it would give.)
            if sub == Some("scale") && v["kind"] != "Scale" {
                v = scale_of(&v);
            }
            let mut resp = ok(&v);
            for w in warnings {
                if let Ok(h) = format!("299 - {}", serde_json::Value::String(w)).parse() {
                    resp.headers_mut().append(header::WARNING, h);
                }
            }
            resp
        }
        _ => status(
            405,
            "MethodNotAllowed",
            &format!("the demo cluster does not {method} this resource"),
            None,
        ),
    }
}

/// A list: label and field selectors, `limit`/`continue` paging, a Table when asked.
fn list_objects(
    c: &Cluster,
    kind: &Kind,
    ns: Option<&str>,
    r: &Req,
    terms: &[list::Term],
    now: i64,
) -> Response<Body> {
    let q = &r.q;
    let start = match q.get("continue").filter(|t| !t.is_empty()) {
        Some(t) => match list::parse_continue(t) {
            Ok((rv, _)) if c.too_old(rv) => {
                return status(410, "Expired", list::CONTINUE_EXPIRED, None);
            }
            Ok((_, start)) => Some(start),
            Err(e) => return status(400, "BadRequest", &e, None),
        },
        None => None,
    };
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => {
                return status(
                    400,
                    "BadRequest",
                    &format!("limit: Invalid value: \"{l}\": must be an integer"),
                    None,
                );
            }
        },
        None => None,
    };
    let mut items: Vec<Value> = c
        .objects(kind, ns)
        .into_iter()
        .map(|o| o.value)
        .filter(|v| selector_ok(v, q.get("labelSelector").map(String::as_str)))
        .filter(|v| list::fields_match(v, terms))
        .filter(|v| {
            start
                .as_deref()
                .is_none_or(|s| list::item_key(v).as_str() > s.trim_end_matches('\0'))
        })
        .collect();
    let list_rv = c.rv();
    let mut meta = json!({"resourceVersion": list_rv.to_string()});
    if let Some(n) = limit
        && items.len() > n
    {
        let rest = items.len() - n;
        items.truncate(n);
        let last = items.last().map(list::item_key).unwrap_or_default();
        meta["continue"] = json!(list::continue_token(list_rv, &last));
        meta["remainingItemCount"] = json!(rest);
    }
    if table::wants_table(&r.accept) {
        return ok(&table::table(kind, &items, meta, now));
    }
    ok(&json!({
        "kind": format!("{}List", kind.kind),
        "apiVersion": gv(kind.group, kind.version),
        "metadata": meta,
        "items": items.into_iter().map(item).collect::<Vec<_>>(),
    }))
}

/// `kubectl auth can-i`: what the demo clusters allow is what they serve; anything they
/// cannot do (deletes, creates, writes to read-only kinds) is denied, with the reason.
fn access_review(r: &Req) -> Response<Body> {
    let Ok(mut review) = serde_json::from_slice::<Value>(&r.body) else {
        return status(
            400,
            "BadRequest",
            "the body is not a SelfSubjectAccessReview",
            None,
        );
    };
    let attrs = &review["spec"]["resourceAttributes"];
    let verb = attrs["verb"].as_str().unwrap_or("");
    let group = attrs["group"].as_str().unwrap_or("");
    let resource = attrs["resource"].as_str().unwrap_or("");
    let sub = attrs["subresource"].as_str().unwrap_or("");
    let kind = KINDS
        .iter()
        .find(|k| k.group == group && (k.plural == resource || resource == "*"));
    let (allowed, reason) = match kind {
        None => (
            false,
            format!("the demo cluster serves no {resource} in group {group:?}"),
        ),
        Some(k) => {
            let verbs = verbs_of(k);
            let ok = match sub {
                "" => verbs.contains(&verb),
                "log" => k.kind == "Pod" && verb == "get",
                "scale" => k.scale && matches!(verb, "get" | "patch"),
                _ => false,
            };
            if ok {
                (true, format!("user {} may {verb} {resource}", r.user))
            } else {
                (
                    false,
                    format!("the demo cluster does not allow {verb} on {resource}"),
                )
            }
        }
    };
    review["status"] = json!({"allowed": allowed, "reason": reason});
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    full(StatusCode::CREATED, &review)
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
