//! The embedded demo fleet: one Argo CD API server per instance on loopback, a deterministic
//! fleet generator, and live drift. `driftdeck demo` runs the TUI over it; `demo --serve` runs only
//! the servers; tests use it as their Argo CD.

pub mod appsets;
pub mod argocd;
pub mod context;
pub mod drift;
pub mod faults;
pub mod generator;
pub mod kube;
pub mod patch;
pub mod pki;
pub mod resources;
pub mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use self::argocd::ArgoServer;
pub use self::generator::FleetSpec;
use self::state::Instance;
use crate::config::{Config, InstanceConfig};

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub spec: FleetSpec,
    /// Make something happen this often; `None` for a still fleet.
    pub drift_every: Option<Duration>,
    /// Address of the first instance's server; later ones take the next ports (or any free port
    /// when the port is 0).
    pub listen: SocketAddr,
    /// Keep-alive interval of watch streams (the real server: 15 s).
    pub keepalive: Duration,
    /// A fixed clock (unix seconds) for reproducible fleets and replies (tests, screenshots).
    pub now: Option<i64>,
    /// Injected server faults (`--faults`).
    pub faults: faults::FaultProfile,
    /// At most this share of the apps starts drifted (`--drifted`); `None`: as generated.
    pub drifted: Option<f64>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            spec: FleetSpec::default(),
            drift_every: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            keepalive: Duration::from_secs(15),
            now: None,
            faults: faults::FaultProfile::None,
            drifted: None,
        }
    }
}

/// The running demo fleet.
pub struct DemoFleet {
    pub servers: Vec<ArgoServer>,
    /// Prometheus, Alertmanager and PagerDuty for the fleet's decisions.
    pub context: context::ContextServer,
    pub tokens: Vec<String>,
    /// Password of the `admin` account on every demo instance.
    pub password: String,
    /// One Kubernetes API server per demo cluster.
    pub kube: Vec<kube::KubeServer>,
    /// The bearer token the demo clusters accept (the `demo` user).
    pub kube_token: String,
    /// The token the exec credential plugin hands out (the `demo-exec` user).
    exec_token: String,
    pki: Arc<pki::Pki>,
    /// A private directory holding the kubeconfig of [`DemoFleet::config`]; removed on drop.
    kube_dir: PathBuf,
    drift: Option<JoinHandle<()>>,
}

impl DemoFleet {
    pub async fn start(opts: DemoOptions) -> std::io::Result<DemoFleet> {
        let wall = chrono::Utc::now().timestamp();
        let now = opts.now.unwrap_or(wall);
        let mut data = generator::generate(&opts.spec, now);
        let password = format!(
            "demo-{:x}",
            opts.spec.seed.wrapping_mul(0x2545F4914F6CDD1D) >> 40
        );
        // The clusters' listeners come first: one cluster is known to Argo CD by the URL its
        // API really has (as `https://kubernetes.default.svc` is, in cluster), so its context
        // is found by server URL, not by name.
        let kube_ip = opts.listen.ip();
        let mut workload: Vec<String> = Vec::new();
        for d in &data {
            for c in &d.clusters {
                if !workload.contains(&c.name) {
                    workload.push(c.name.clone());
                }
            }
        }
        let mut listeners = Vec::new();
        for _ in 0..workload.len() + data.len() {
            listeners.push(tokio::net::TcpListener::bind(SocketAddr::new(kube_ip, 0)).await?);
        }
        let by_url = (workload.len() >= 2).then(|| workload.len() - 1);
        if let Some(i) = by_url {
            let url = format!("https://{}", listeners[i].local_addr()?);
            for d in &mut data {
                rename_server(d, &workload[i], &url);
            }
        }
        let mut servers = Vec::new();
        let mut tokens = Vec::new();
        for (i, d) in data.into_iter().enumerate() {
            let inst = Instance::with_clock(d, password.clone(), opts.keepalive, opts.now);
            let mut addr = opts.listen;
            if addr.port() != 0 {
                addr.set_port(addr.port() + i as u16);
            }
            tokens.push(inst.issue_token("admin", wall, 30 * 86_400));
            inst.set_faults(state::Faults {
                profile: opts.faults,
                ..Default::default()
            });
            servers.push(ArgoServer::start(inst, addr).await?);
        }
        if let Some(share) = opts.drifted {
            let insts: Vec<Arc<Instance>> = servers.iter().map(|s| s.instance().clone()).collect();
            state::limit_drift(&insts, share);
        }
        let drift = opts.drift_every.filter(|d| !d.is_zero()).map(|every| {
            let insts: Vec<Arc<Instance>> = servers.iter().map(|s| s.instance().clone()).collect();
            let seed = opts.spec.seed;
            tokio::spawn(async move {
                let mut engine = drift::DriftEngine::new(seed);
                let mut iv = tokio::time::interval(every);
                iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                loop {
                    iv.tick().await;
                    engine.tick(&insts, chrono::Utc::now().timestamp_millis());
                }
            })
        });
        let insts: Vec<Arc<Instance>> = servers.iter().map(|s| s.instance().clone()).collect();
        let ctx_addr = SocketAddr::new(
            servers
                .first()
                .map(|s| s.addr.ip())
                .unwrap_or_else(|| [127, 0, 0, 1].into()),
            0,
        );
        // One Kubernetes API per cluster, serving the apps of every instance that deploys there,
        // over HTTPS with a CA of this run. Each credential form of real kubeconfigs is used by
        // some context: a bearer token, a client certificate, an exec plugin.
        let kube_token = format!(
            "demo-kube-{:016x}",
            opts.spec.seed.wrapping_mul(0x9E3779B97F4A7C15) ^ 0x6b75_6265
        );
        let exec_token = format!(
            "demo-exec-{:016x}",
            opts.spec.seed.wrapping_mul(0xD1B54A32D192ED03) ^ 0x6578_6563
        );
        let pki = Arc::new(pki::Pki::new(kube_ip)?);
        let accepted = vec![
            (kube_token.clone(), "demo".to_string()),
            (exec_token.clone(), "demo-exec".to_string()),
        ];
        let mut clusters: Vec<(kube::Cluster, kube::Auth, String)> = Vec::new();
        for (i, name) in workload.iter().enumerate() {
            let auth = [kube::Auth::Token, kube::Auth::Cert, kube::Auth::Exec][i % 3];
            let context = if by_url == Some(i) {
                format!("admin@{name}")
            } else {
                name.clone()
            };
            let mut cluster = kube::Cluster {
                name: name.clone(),
                server: String::new(),
                insts: vec![],
                tokens: accepted.clone(),
                control_plane: false,
                pki: pki.clone(),
                versions: Default::default(),
                leases: Default::default(),
                events: Default::default(),
            };
            for inst in &insts {
                if let Some(c) = inst.read().clusters.iter().find(|c| c.name == *name) {
                    cluster.server = c.server.clone();
                    cluster.insts.push(inst.clone());
                }
            }
            clusters.push((cluster, auth, context));
        }
        // Each instance's own control plane, where its Application objects live.
        for inst in &insts {
            let name = inst.read().name.clone();
            clusters.push((
                kube::Cluster {
                    server: format!("https://{name}.control-plane.internal:6443"),
                    name: name.clone(),
                    insts: vec![inst.clone()],
                    tokens: accepted.clone(),
                    control_plane: true,
                    pki: pki.clone(),
                    versions: Default::default(),
                    leases: Default::default(),
                    events: inst.posted_events.clone(),
                },
                kube::Auth::Token,
                name,
            ));
        }
        let mut kube = Vec::new();
        for ((c, auth, context), listener) in clusters.into_iter().zip(listeners) {
            kube.push(kube::KubeServer::serve(
                Arc::new(c),
                listener,
                auth,
                context,
            )?);
        }
        let context = context::ContextServer::start(insts, ctx_addr, opts.spec.seed).await?;
        // A private directory of its own (random name, mode 0700 whatever the umask): tokens,
        // the kubeconfig and the demo's own decision journal live there, never in the user's
        // data dir, and no other user can pre-create or read it.
        let kube_dir = crate::private::temp_dir("driftdeck-demo-")
            .map_err(|e| e.into_io())?
            .keep();
        let fleet = DemoFleet {
            servers,
            context,
            tokens,
            password,
            kube,
            kube_token,
            exec_token,
            pki,
            kube_dir,
            drift,
        };
        if opts.faults.rotates_tokens() {
            // Tokens expire and are rotated: the config reads them from a file the servers
            // rewrite, as a CI job's rotating token would be.
            for (i, s) in fleet.servers.iter().enumerate() {
                let path = fleet.token_file(i);
                write_private(&path, fleet.tokens[i].as_bytes())?;
                *s.instance()
                    .token_file
                    .write()
                    .unwrap_or_else(|p| p.into_inner()) = Some(path);
            }
        }
        fleet.write_credential_plugin()?;
        write_private(
            &fleet.kube_dir.join("kubeconfig"),
            fleet.kubeconfig().as_bytes(),
        )?;
        Ok(fleet)
    }

    /// The exec credential plugin of the `demo-exec` user: a script that prints an
    /// `ExecCredential`, as cloud providers' CLIs do.
    fn write_credential_plugin(&self) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.credential_plugin();
        let cred = serde_json::json!({
            "apiVersion": "client.authentication.k8s.io/v1",
            "kind": "ExecCredential",
            "status": {"token": self.exec_token},
        });
        let script = format!(
            "#!/bin/sh\n# The driftdeck demo's credential plugin (client.authentication.k8s.io/v1).\nprintf '%s\\n' '{cred}'\n"
        );
        write_private(&path, script.as_bytes())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
    }

    fn credential_plugin(&self) -> PathBuf {
        self.kube_dir.join("kube-credential")
    }

    /// The CA the demo clusters' certificates are signed by (PEM).
    pub fn kube_ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    /// An HTTP client that trusts the demo clusters' CA and sends the `demo` user's token (for
    /// tests and tools talking to their APIs directly).
    pub fn kube_http(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Ok(v) = format!("Bearer {}", self.kube_token).parse() {
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        self.kube_http_builder()
            .default_headers(headers)
            .build()
            .unwrap_or_default()
    }

    /// The same without credentials (every request is 401).
    pub fn kube_http_anonymous(&self) -> reqwest::Client {
        self.kube_http_builder().build().unwrap_or_default()
    }

    fn kube_http_builder(&self) -> reqwest::ClientBuilder {
        let mut b = reqwest::Client::builder().no_proxy();
        if let Ok(certs) = reqwest::Certificate::from_pem_bundle(self.pki.ca_pem.as_bytes()) {
            b = b.tls_certs_merge(certs);
        }
        b
    }

    /// The base URL of a demo cluster's API.
    pub fn kube_url(&self, cluster: &str) -> Option<String> {
        self.kube
            .iter()
            .find(|k| k.name == cluster)
            .map(|k| format!("https://{}", k.addr))
    }

    /// The kubeconfig context of a demo cluster.
    pub fn kube_context(&self, cluster: &str) -> Option<&str> {
        self.kube
            .iter()
            .find(|k| k.name == cluster)
            .map(|k| k.context.as_str())
    }

    pub fn instance(&self, i: usize) -> &Arc<Instance> {
        self.servers[i].instance()
    }

    /// The demo's private directory (removed when the fleet is dropped).
    pub fn dir(&self) -> &Path {
        &self.kube_dir
    }

    /// Where the demo's decisions and actions are journaled: inside its private directory,
    /// so a demo never writes into the user's journal and its shadow figures stay its own.
    pub fn data_dir(&self) -> PathBuf {
        self.kube_dir.join("data")
    }

    pub fn url(&self, i: usize) -> String {
        format!("http://{}", self.servers[i].addr)
    }

    fn token_file(&self, i: usize) -> PathBuf {
        self.kube_dir.join(format!("argocd-{i}.token"))
    }

    /// A config that points at the demo servers.
    pub fn config(&self) -> Config {
        Config {
            instances: self
                .servers
                .iter()
                .zip(&self.tokens)
                .enumerate()
                .map(|(i, (s, t))| {
                    let rotating = s.instance().token_file.read().is_ok_and(|f| f.is_some());
                    InstanceConfig {
                        name: s.instance().read().name.clone(),
                        url: format!("http://{}", s.addr),
                        token: (!rotating).then(|| t.clone()),
                        token_file: rotating.then(|| self.token_file(i)),
                        ..Default::default()
                    }
                })
                .collect(),
            context: Some(self.context.config()),
            kube: Some(crate::config::KubeConfig {
                kubeconfig: Some(self.kube_dir.join("kubeconfig")),
                ..Default::default()
            }),
            // A drift SLA, so the drift age column and `is:sla` have something to show.
            fleet: Some(crate::config::fleet::FleetConfig {
                out_of_sync_sla: Some("30m".into()),
                project_sla: [("platform".to_string(), "2h".to_string())]
                    .into_iter()
                    .collect(),
                families: None,
            }),
            ..Default::default()
        }
    }

    /// The kubeconfig of the demo clusters: one context per cluster, named after it.
    pub fn kubeconfig(&self) -> String {
        kube::kubeconfig(
            &self.kube,
            &kube::Credentials {
                token: &self.kube_token,
                pki: &self.pki,
                exec: &self.credential_plugin(),
            },
        )
    }

    /// Writes the config and the kubeconfig into `dir` (mode 0600: they hold tokens) and
    /// returns the config's path.
    pub fn write_config(&self, dir: &Path) -> std::io::Result<PathBuf> {
        crate::private::ensure_dir(dir).map_err(|e| e.into_io())?;
        let path = dir.join("config.toml");
        let kc = dir.join("kubeconfig");
        write_private(&kc, self.kubeconfig().as_bytes())?;
        let mut cfg = self.config();
        cfg.kube = Some(crate::config::KubeConfig {
            kubeconfig: Some(kc),
            ..Default::default()
        });
        let text = format!(
            "# driftdeck demo fleet: {} instances, {} clusters. Generated; deleted when the demo stops.\n{}",
            self.servers.len(),
            self.kube.len(),
            toml::to_string_pretty(&cfg).map_err(std::io::Error::other)?
        );
        write_private(&path, text.as_bytes())?;
        Ok(path)
    }
}

impl Drop for DemoFleet {
    fn drop(&mut self) {
        if let Some(d) = self.drift.take() {
            d.abort();
        }
        let _ = std::fs::remove_dir_all(&self.kube_dir);
    }
}

/// Gives the cluster `name` another server URL everywhere Argo CD has it.
fn rename_server(d: &mut generator::InstanceData, name: &str, url: &str) {
    let Some(old) = d
        .clusters
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.server.clone())
    else {
        return;
    };
    for c in d.clusters.iter_mut().filter(|c| c.name == name) {
        c.server = url.to_string();
    }
    for p in &mut d.projects {
        for dst in p.spec.destinations.iter_mut().filter(|x| x.server == old) {
            dst.server = url.to_string();
        }
    }
    for a in &mut d.apps {
        if a.app.spec.destination.server == old {
            a.app.spec.destination.server = url.to_string();
        }
    }
}

/// A streamed reply: each item the receiver yields, encoded, becomes a chunk of the body,
/// which ends when every sender is dropped.
pub(crate) fn streamed<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
    encode: fn(T) -> bytes::Bytes,
    content_type: &'static str,
) -> hyper::Response<Body> {
    use http_body_util::BodyExt;
    let frames = futures::stream::unfold(rx, move |mut rx| async move {
        rx.recv().await.map(|item| {
            (
                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(encode(item))),
                rx,
            )
        })
    });
    let mut r = hyper::Response::new(http_body_util::StreamBody::new(frames).boxed());
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

/// The response body of the demo servers.
pub type Body = http_body_util::combinators::BoxBody<bytes::Bytes, std::convert::Infallible>;

/// Serves HTTP/1 on `listener` (over TLS when an acceptor is given; a handshake that fails
/// drops that connection only), each connection on its own task, every request answered by
/// `handle(state, request)`, until the returned task is aborted (which drops the connections).
pub(crate) fn spawn_https<S, F, Fut>(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: S,
    handle: F,
) -> JoinHandle<()>
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S, hyper::Request<hyper::body::Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<Body>> + Send + 'static,
{
    spawn_https_peer(listener, tls, state, |s, _| s.clone(), handle)
}

/// [`spawn_https`], with each connection's state made from the shared one and the client
/// certificates the TLS handshake verified (`None` over plain HTTP or without one).
pub(crate) fn spawn_https_peer<S, C, F, Fut>(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: S,
    conn_state: fn(&S, Option<&[rustls::pki_types::CertificateDer<'static>]>) -> C,
    handle: F,
) -> JoinHandle<()>
where
    S: Clone + Send + Sync + 'static,
    C: Clone + Send + Sync + 'static,
    F: Fn(C, hyper::Request<hyper::body::Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<Body>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                acc = listener.accept() => {
                    let Ok((sock, _)) = acc else { continue };
                    let _ = sock.set_nodelay(true);
                    let state = state.clone();
                    let tls = tls.clone();
                    conns.spawn(async move {
                        match tls {
                            // A failed handshake (a client that does not trust the CA, or
                            // speaks plain HTTP) drops this connection only.
                            Some(acceptor) => {
                                if let Ok(stream) = acceptor.accept(sock).await {
                                    let c = conn_state(&state, stream.get_ref().1.peer_certificates());
                                    serve_io(stream, c, handle).await;
                                }
                            }
                            None => serve_io(sock, conn_state(&state, None), handle).await,
                        }
                    });
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    })
}

async fn serve_io<I, S, F, Fut>(io: I, state: S, handle: F)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: Clone + Send + Sync + 'static,
    F: Fn(S, hyper::Request<hyper::body::Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<Body>> + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let fut = handle(state.clone(), req);
        async move { Ok::<_, std::convert::Infallible>(fut.await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(io), svc)
        .await;
}

/// Writes a file readable by its owner only, atomically (a reader sees the old content or the
/// new, never a part), never through a link.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::private::write_atomic(path, bytes).map_err(|e| e.into_io())
}
