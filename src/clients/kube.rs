//! The Kubernetes clusters behind Argo CD's destinations, through kube-rs: kubeconfig contexts
//! mapped to destinations (a context named after the cluster, else one whose server is the
//! destination's, or the config's `[kube] contexts` map), and for an app its pods with
//! container states and restarts, its namespace's events, and a container's log tail. A
//! cluster that cannot be reached says so and holds nothing else up (every call has a time
//! limit).

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{ListParams, LogParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

/// How long one request to a cluster may take.
const TIMEOUT: Duration = Duration::from_secs(8);

/// The context name that means the pod's own service account.
pub const IN_CLUSTER: &str = "in-cluster";

/// The kubeconfig and the clients made from it, per context.
pub struct Clusters {
    kubeconfig: Option<Kubeconfig>,
    /// Why there is no kubeconfig (a sentence), when one was asked for.
    error: Option<String>,
    /// Destination (cluster name or server URL) to context name, from the config.
    overrides: std::collections::BTreeMap<String, String>,
    clients: tokio::sync::Mutex<HashMap<String, Client>>,
}

impl Clusters {
    /// From the config's `[kube]` (its kubeconfig, else `$KUBECONFIG`, else
    /// `~/.kube/config`). A missing default kubeconfig is no error: there are no contexts.
    pub fn load(cfg: Option<&crate::config::KubeConfig>) -> Clusters {
        let explicit = cfg.and_then(|c| c.kubeconfig.clone());
        let path = explicit
            .clone()
            .or_else(|| std::env::var_os("KUBECONFIG").map(std::path::PathBuf::from))
            .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join(".kube/config")));
        let overrides = cfg.map(|c| c.contexts.clone()).unwrap_or_default();
        let (kubeconfig, error) = match path {
            Some(p) if p.exists() => match Kubeconfig::read_from(&p) {
                Ok(k) => (Some(k), None),
                Err(e) => (
                    None,
                    Some(format!(
                        "the kubeconfig {} cannot be read: {e}; fix it or point [kube] kubeconfig elsewhere",
                        p.display()
                    )),
                ),
            },
            Some(p) if explicit.is_some() => (
                None,
                Some(format!(
                    "the kubeconfig {} does not exist; fix [kube] kubeconfig in the config",
                    p.display()
                )),
            ),
            _ => (None, None),
        };
        Clusters {
            kubeconfig,
            error,
            overrides,
            clients: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Why the configured kubeconfig cannot be used, if it cannot.
    pub fn problem(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The context of an Argo CD destination, or why there is none.
    pub fn context_for(&self, dest_name: &str, dest_server: &str) -> Result<String, String> {
        if let Some(c) = self
            .overrides
            .get(dest_name)
            .or_else(|| self.overrides.get(dest_server))
        {
            return Ok(c.clone());
        }
        let Some(kc) = &self.kubeconfig else {
            return Err(self.error.clone().unwrap_or_else(|| {
                "no kubeconfig: set [kube] kubeconfig in the config (or $KUBECONFIG) to see the live cluster".into()
            }));
        };
        if !dest_name.is_empty() && kc.contexts.iter().any(|c| c.name == dest_name) {
            return Ok(dest_name.to_string());
        }
        let server_of = |cluster: &str| {
            kc.clusters
                .iter()
                .find(|c| c.name == cluster)
                .and_then(|c| c.cluster.as_ref())
                .and_then(|c| c.server.clone())
        };
        for ctx in &kc.contexts {
            if let Some(c) = &ctx.context
                && server_of(&c.cluster).as_deref() == Some(dest_server)
            {
                return Ok(ctx.name.clone());
            }
        }
        let label = if dest_name.is_empty() {
            dest_server
        } else {
            dest_name
        };
        Err(format!(
            "no kube context for cluster {label}: add one named {label} to the kubeconfig, or map it in the config's [kube] contexts"
        ))
    }

    /// The client of a context (made once).
    pub async fn client(&self, context: &str) -> Result<Client, String> {
        self.client_with(context, context.to_string(), Some(TIMEOUT))
            .await
    }

    /// The client of a context under `key` (made once), with that read timeout.
    async fn client_with(
        &self,
        context: &str,
        key: String,
        read_timeout: Option<Duration>,
    ) -> Result<Client, String> {
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let mut config = if context == IN_CLUSTER {
            // The pod's service account (`driftdeck serve` in the cluster).
            kube::Config::incluster().map_err(|e| {
                format!("{IN_CLUSTER}: {e}; run inside a pod or name a kubeconfig context")
            })?
        } else {
            let kc = self
                .kubeconfig
                .clone()
                .ok_or_else(|| format!("no kubeconfig for context {context}"))?;
            let opts = KubeConfigOptions {
                context: Some(context.to_string()),
                ..Default::default()
            };
            kube::Config::from_custom_kubeconfig(kc, &opts)
                .await
                .map_err(|e| format!("kube context {context}: {e}"))?
        };
        config.connect_timeout = Some(Duration::from_secs(4));
        config.read_timeout = read_timeout;
        let client =
            Client::try_from(config).map_err(|e| format!("kube context {context}: {e}"))?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// One pod as the live view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodInfo {
    pub name: String,
    pub phase: String,
    /// `1/1`.
    pub ready: String,
    /// The most telling state: `Running`, or the waiting or terminated reason.
    pub state: String,
    pub message: String,
    pub restarts: i32,
    pub node: String,
    pub created: Option<i64>,
    pub containers: Vec<String>,
}

/// One event of the namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct EventInfo {
    pub kind: String,
    pub reason: String,
    pub object: String,
    pub message: String,
    pub count: i32,
    pub last: Option<i64>,
}

/// What the app's cluster says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    pub cluster: String,
    pub context: String,
    pub pods: Vec<PodInfo>,
    pub events: Vec<EventInfo>,
    /// The app's managed objects as the cluster has them.
    pub objects: Vec<ObjectInfo>,
}

/// Extra attempts of a read after a transient failure.
const READ_RETRIES: u32 = 3;

async fn limited<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(describe(what, &e)),
        Err(_) => Err(no_answer(what)),
    }
}

fn no_answer(what: &str) -> String {
    format!(
        "{what}: no answer within {} s; the cluster may be unreachable",
        TIMEOUT.as_secs()
    )
}

/// A read, attempted again after a transient failure (kube-rs itself retries 429, 503 and 504:
/// this adds a proxy's 502, a reply cut short and a dropped connection), with backoff and
/// jitter, all within the one time limit.
async fn read<T, F>(what: &str, f: impl Fn() -> F) -> Result<T, String>
where
    F: std::future::Future<Output = Result<T, kube::Error>>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut attempt = 0;
    loop {
        let e = match tokio::time::timeout_at(deadline, f()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e,
            Err(_) => return Err(no_answer(what)),
        };
        let wait = Duration::from_millis(200 << attempt).mul_f64(jitter());
        if attempt >= READ_RETRIES
            || !transient(&e)
            || tokio::time::Instant::now() + wait >= deadline
        {
            return Err(describe(what, &e));
        }
        tracing::debug!(what, error = %e, ?wait, "retrying a cluster read");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// A factor in [0.8, 1.2].
fn jitter() -> f64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    0.8 + 0.4 * (n % 1000) as f64 / 1000.0
}

/// Worth another attempt: the server or something on the way failed, not the request.
fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_)
        | kube::Error::Service(_)
        | kube::Error::SerdeError(_)
        | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// A sentence for a failed call: the API's own message, or what the status means when a proxy
/// answered with a page instead of a `Status`.
fn describe(what: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.message.trim_start().starts_with('<') || s.message.len() > 300 => {
            let status = hyper::StatusCode::from_u16(s.code)
                .map(|c| c.to_string())
                .unwrap_or_else(|_| s.code.to_string());
            format!(
                "{what}: the cluster's API (or a proxy in front of it) answered {status} with a page instead of an API reply; try again, or check the proxy"
            )
        }
        kube::Error::Api(s) => format!("{what}: {} ({}, HTTP {})", s.message, s.reason, s.code),
        kube::Error::SerdeError(_) => {
            format!("{what}: the reply was cut short or is not valid JSON; try again")
        }
        e => format!("{what}: {e}"),
    }
}

fn pod_info(p: &Pod) -> PodInfo {
    let st = p.status.clone().unwrap_or_default();
    let cs = st.container_statuses.unwrap_or_default();
    let ready = cs.iter().filter(|c| c.ready).count();
    let restarts = cs.iter().map(|c| c.restart_count).sum();
    let (state, message) = cs
        .iter()
        .find_map(|c| {
            let s = c.state.as_ref()?;
            if let Some(w) = &s.waiting {
                return Some((
                    w.reason.clone().unwrap_or_else(|| "Waiting".into()),
                    w.message.clone().unwrap_or_default(),
                ));
            }
            if let Some(t) = &s.terminated {
                return Some((
                    t.reason.clone().unwrap_or_else(|| "Terminated".into()),
                    t.message.clone().unwrap_or_default(),
                ));
            }
            None
        })
        .unwrap_or_else(|| (st.phase.clone().unwrap_or_default(), String::new()));
    PodInfo {
        name: p.metadata.name.clone().unwrap_or_default(),
        phase: st.phase.unwrap_or_default(),
        ready: format!("{ready}/{}", cs.len()),
        state,
        message,
        restarts,
        node: p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        created: p
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_second()),
        containers: p
            .spec
            .as_ref()
            .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default(),
    }
}

/// The pods (only those named, when names are given: the app's pods from its resource tree)
/// and the events of a namespace.
pub async fn view(
    clusters: &Clusters,
    cluster: &str,
    context: &str,
    namespace: &str,
    pod_names: &[String],
) -> Result<ClusterView, String> {
    let client = clusters.client(context).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let events: Api<Event> = Api::namespaced(client, namespace);
    let lp = ListParams::default();
    let (pw, ew) = (
        format!("the pods of {namespace} on {cluster}"),
        format!("the events of {namespace} on {cluster}"),
    );
    let (p, e) = tokio::join!(read(&pw, || pods.list(&lp)), read(&ew, || events.list(&lp)));
    let mut pods: Vec<PodInfo> = p?
        .items
        .iter()
        .map(pod_info)
        .filter(|p| pod_names.is_empty() || pod_names.contains(&p.name))
        .collect();
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    let mut events: Vec<EventInfo> = e
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .map(|ev| EventInfo {
            kind: ev.type_.unwrap_or_default(),
            reason: ev.reason.unwrap_or_default(),
            object: format!(
                "{}/{}",
                ev.involved_object.kind.unwrap_or_default(),
                ev.involved_object.name.unwrap_or_default()
            ),
            message: ev.message.unwrap_or_default(),
            // Events written through events.k8s.io carry a series (count and last
            // observation) and an eventTime instead of count and lastTimestamp.
            count: ev
                .series
                .as_ref()
                .and_then(|s| s.count)
                .or(ev.count)
                .unwrap_or(1),
            last: ev
                .series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0.as_second())
                .or_else(|| ev.last_timestamp.map(|t| t.0.as_second()))
                .or_else(|| ev.event_time.map(|t| t.0.as_second()))
                .or_else(|| ev.metadata.creation_timestamp.map(|t| t.0.as_second())),
        })
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.last));
    Ok(ClusterView {
        cluster: cluster.to_string(),
        context: context.to_string(),
        pods,
        events,
        objects: Vec::new(),
    })
}

/// The last `lines` lines of a container's log.
pub async fn logs(
    clusters: &Clusters,
    context: &str,
    namespace: &str,
    pod: &str,
    container: &str,
    lines: i64,
) -> Result<String, String> {
    let client = clusters.client(context).await?;
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let p = LogParams {
        container: (!container.is_empty()).then(|| container.to_string()),
        tail_lines: Some(lines),
        ..Default::default()
    };
    let what = format!("the log of {pod}/{container}");
    read(&what, || pods.logs(pod, &p)).await
}

/// A client of a context for streams (a followed log): no read timeout, since a quiet
/// container writes nothing for minutes (made once).
pub async fn stream_client(clusters: &Clusters, context: &str) -> Result<Client, String> {
    clusters
        .client_with(context, format!("\u{0}stream:{context}"), None)
        .await
}

/// A container's log as lines: the last `tail` lines, then (when `follow`) each line as it is
/// written until the container stops. `previous`: the log of the container's previous run (a
/// restarting pod's crash), which never follows.
#[allow(clippy::too_many_arguments)]
pub async fn log_lines(
    clusters: &Clusters,
    context: &str,
    namespace: &str,
    pod: &str,
    container: &str,
    previous: bool,
    follow: bool,
    tail: i64,
) -> Result<impl futures::Stream<Item = Result<String, String>> + use<>, String> {
    use futures::{AsyncBufReadExt, TryStreamExt};
    let client = stream_client(clusters, context).await?;
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let p = LogParams {
        container: (!container.is_empty()).then(|| container.to_string()),
        tail_lines: Some(tail),
        previous,
        follow: follow && !previous,
        ..Default::default()
    };
    let what = format!(
        "the {}log of {pod}/{container}",
        if previous { "previous " } else { "" }
    );
    let reader = limited(&what, pods.log_stream(pod, &p)).await?;
    let w2 = what.clone();
    Ok(reader
        .lines()
        .map_err(move |e| format!("{w2}: the stream broke: {e}")))
}

/// One live object of a cluster as JSON (any kind: discovery finds its plural and scope).
pub async fn get_object(
    clusters: &Clusters,
    context: &str,
    res: &crate::clients::argocd::ResourceId,
) -> Result<serde_json::Value, String> {
    use kube::api::DynamicObject;
    use kube::core::GroupVersionKind;
    use kube::discovery::Scope;
    let client = clusters.client(context).await?;
    let gvk = GroupVersionKind::gvk(&res.group, &res.version, &res.kind);
    let what = format!("{} {}/{}", res.kind, res.namespace, res.name);
    let (ar, caps) = read(&format!("discovery of {}", res.kind), || {
        kube::discovery::pinned_kind(&client, &gvk)
    })
    .await?;
    let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
        Api::namespaced_with(client, &res.namespace, &ar)
    } else {
        Api::all_with(client, &ar)
    };
    let obj = read(&what, || api.get(&res.name)).await?;
    serde_json::to_value(&obj).map_err(|e| format!("{what}: {e}"))
}

/// The field manager of driftdeck's writes through a cluster's API.
pub const FIELD_MANAGER: &str = "driftdeck";

/// Sets a label on a live resource through its cluster's API (a merge patch; discovery finds
/// the resource's plural and scope).
pub async fn label(
    clusters: &Clusters,
    context: &str,
    res: &crate::clients::argocd::ResourceId,
    key: &str,
    value: &str,
) -> Result<(), String> {
    use kube::api::{DynamicObject, Patch, PatchParams};
    use kube::core::GroupVersionKind;
    use kube::discovery::Scope;
    let client = clusters.client(context).await?;
    let gvk = GroupVersionKind::gvk(&res.group, &res.version, &res.kind);
    let what = format!("{} {}/{}", res.kind, res.namespace, res.name);
    let (ar, caps) = read(&format!("discovery of {}", res.kind), || {
        kube::discovery::pinned_kind(&client, &gvk)
    })
    .await?;
    let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
        Api::namespaced_with(client, &res.namespace, &ar)
    } else {
        Api::all_with(client, &ar)
    };
    let patch = serde_json::json!({"metadata": {"labels": {key: value}}});
    // The cluster records the writer as the client names itself: without a field manager the
    // label's owner would be blank in managedFields (and in every "who changed it").
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    limited(&what, api.patch(&res.name, &params, &Patch::Merge(&patch)))
        .await
        .map(|_| ())
}

/// One managed object as its cluster has it: who wrote it last (its managedFields).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// Absent from the cluster (deleted, or never created).
    pub missing: bool,
    /// The manager of the latest managedFields entry, with its operation and subresource.
    pub last_writer: String,
    pub written: Option<i64>,
    pub error: Option<String>,
}

/// The app's managed objects as the cluster has them (concurrently, each time-limited).
pub async fn objects(
    clusters: &Clusters,
    context: &str,
    refs: &[crate::clients::argocd::ResourceId],
) -> Result<Vec<ObjectInfo>, String> {
    use kube::api::DynamicObject;
    use kube::core::GroupVersionKind;
    use kube::discovery::Scope;
    let client = clusters.client(context).await?;
    let futs = refs.iter().map(|r| {
        let client = client.clone();
        async move {
            let mut info = ObjectInfo {
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                missing: false,
                last_writer: String::new(),
                written: None,
                error: None,
            };
            let gvk = GroupVersionKind::gvk(&r.group, &r.version, &r.kind);
            let found = match read(&format!("discovery of {}", r.kind), || {
                kube::discovery::pinned_kind(&client, &gvk)
            })
            .await
            {
                Ok((ar, caps)) => {
                    let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
                        Api::namespaced_with(client, &r.namespace, &ar)
                    } else {
                        Api::all_with(client, &ar)
                    };
                    read(&format!("{} {}", r.kind, r.name), || api.get_opt(&r.name)).await
                }
                Err(e) => Err(e),
            };
            match found {
                Ok(None) => info.missing = true,
                Ok(Some(o)) => {
                    let last = o
                        .metadata
                        .managed_fields
                        .unwrap_or_default()
                        .into_iter()
                        .max_by_key(|m| m.time.as_ref().map(|t| t.0.as_second()));
                    if let Some(m) = last {
                        info.written = m.time.as_ref().map(|t| t.0.as_second());
                        info.last_writer = format!(
                            "{} ({}{})",
                            m.manager.unwrap_or_default(),
                            m.operation.unwrap_or_default(),
                            m.subresource
                                .filter(|s| !s.is_empty())
                                .map(|s| format!(", {s}"))
                                .unwrap_or_default()
                        );
                    }
                }
                Err(e) => info.error = Some(e),
            }
            info
        }
    });
    Ok(futures::future::join_all(futs).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, message: &str, reason: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure(message, reason).with_code(code)))
    }

    #[test]
    fn failures_read_as_sentences_and_only_transient_ones_are_retried() {
        let page = api(
            502,
            "<html>\r\n<head><title>502 Bad Gateway</title></head></html>",
            "Failed to parse error data",
        );
        let e = describe("the pods of shop on prod", &page);
        assert!(e.contains("502 Bad Gateway") && !e.contains("<html"), "{e}");
        assert!(e.starts_with("the pods of shop on prod: "), "{e}");
        assert!(transient(&page));
        let forbidden = api(
            403,
            "pods is forbidden: User \"dev\" cannot list resource \"pods\"",
            "Forbidden",
        );
        assert!(!transient(&forbidden));
        assert!(
            describe("the pods", &forbidden).contains("cannot list resource"),
            "{}",
            describe("the pods", &forbidden)
        );
        assert!(transient(&api(429, "too many requests", "TooManyRequests")));
        assert!(!transient(&api(404, "not found", "NotFound")));
        let cut = kube::Error::SerdeError(
            serde_json::from_str::<serde_json::Value>("{\"items\":[").unwrap_err(),
        );
        assert!(transient(&cut));
        assert!(describe("x", &cut).contains("cut short"));
    }
}
