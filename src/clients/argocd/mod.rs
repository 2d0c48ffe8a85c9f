//! The Argo CD REST client: typed calls over reqwest, the watch stream, and the fleet watcher that
//! lists once, watches, and reconnects with backoff.

pub mod auth;
pub mod error;
pub mod sse;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

pub use self::auth::TokenSource;
pub use self::error::ArgoError;
use self::sse::{Frame, Message, SseParser};
use crate::config::{InstanceConfig, url_parts};
use crate::model::app::*;
use crate::util::{Rng, Secret};

/// The projection used for the fleet list: what a row of the fleet table needs, nothing more.
/// Only paths of the server's whitelist are honoured on list calls.
pub const LIST_FIELDS: &[&str] = &[
    "metadata.resourceVersion",
    "items.metadata.name",
    "items.metadata.namespace",
    "items.metadata.labels",
    "items.metadata.annotations",
    "items.metadata.creationTimestamp",
    "items.metadata.deletionTimestamp",
    "items.spec",
    "items.status.sync.status",
    "items.status.sync.revision",
    "items.status.health",
    "items.status.resources",
    "items.status.operationState.phase",
    "items.status.operationState.startedAt",
    "items.status.operationState.finishedAt",
    "items.status.summary",
    "items.operation.sync",
];

/// The same projection for the watch stream, where paths are plain prefixes.
pub const STREAM_FIELDS: &[&str] = &[
    "result.type",
    "result.application.metadata.name",
    "result.application.metadata.namespace",
    "result.application.metadata.labels",
    "result.application.metadata.annotations",
    "result.application.metadata.resourceVersion",
    "result.application.metadata.creationTimestamp",
    "result.application.metadata.deletionTimestamp",
    "result.application.spec",
    "result.application.status.sync.status",
    "result.application.status.sync.revision",
    "result.application.status.health",
    "result.application.status.resources",
    "result.application.status.operationState.phase",
    "result.application.status.operationState.message",
    "result.application.status.operationState.startedAt",
    "result.application.status.operationState.finishedAt",
    "result.application.status.summary",
    "result.application.operation.sync",
];

/// Server-side filters of the list and the stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppQuery {
    pub name: Option<String>,
    pub projects: Vec<String>,
    pub selector: Option<String>,
    pub repo: Option<String>,
    pub app_namespace: Option<String>,
}

impl AppQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(n) = &self.name {
            q.push(("name", n.clone()));
        }
        for p in &self.projects {
            q.push(("projects", p.clone()));
        }
        if let Some(s) = &self.selector {
            q.push(("selector", s.clone()));
        }
        if let Some(r) = &self.repo {
            q.push(("repo", r.clone()));
        }
        if let Some(n) = &self.app_namespace {
            q.push(("appNamespace", n.clone()));
        }
        q
    }
}

/// Refresh kinds of `GET /applications/{name}?refresh=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    Normal,
    Hard,
}

/// Timeouts and retries. The defaults suit an SRE over a flaky link; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Extra attempts of an idempotent read after a transient failure.
    pub retries: u32,
    /// First retry delay; doubled each time, with jitter.
    pub retry_base: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retries: 3,
            retry_base: Duration::from_millis(250),
        }
    }
}

/// A client for one Argo CD API server. Cheap to clone; clones share the connection pool and
/// the token.
#[derive(Clone)]
pub struct ArgoClient {
    inner: Arc<Inner>,
}

struct Inner {
    instance: String,
    base: String,
    /// `host[:port]` as the `argocd` CLI names servers; used in messages.
    server: String,
    host: String,
    http: reqwest::Client,
    stream_http: reqwest::Client,
    source: TokenSource,
    token: Mutex<TokenState>,
    opts: ClientOptions,
    jitter: std::sync::Mutex<Rng>,
    /// Cuts a watcher's reconnect wait short (the operator asked to reconnect now).
    wake: tokio::sync::Notify,
    /// The Argo CD account the token belongs to (`userinfo`), once known.
    account: tokio::sync::OnceCell<String>,
}

#[derive(Default)]
struct TokenState {
    resolved: bool,
    token: Option<Secret>,
}

impl std::fmt::Debug for ArgoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArgoClient")
            .field("instance", &self.inner.instance)
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

/// Installs ring as rustls' process-wide crypto provider (once). reqwest's and kube's builders
/// panic without one.
pub fn init_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl ArgoClient {
    pub fn new(cfg: &InstanceConfig) -> Result<ArgoClient, ArgoError> {
        Self::with_options(cfg, ClientOptions::default())
    }

    pub fn with_options(
        cfg: &InstanceConfig,
        opts: ClientOptions,
    ) -> Result<ArgoClient, ArgoError> {
        init_crypto();
        let cfg_err = |detail: String| ArgoError::Config {
            instance: cfg.name.clone(),
            detail,
        };
        let (_, host, port) = url_parts(&cfg.url).map_err(cfg_err)?;
        let base = cfg.url.trim().trim_end_matches('/').to_string();
        let server = if cfg.url.contains(&format!(":{port}")) {
            format!("{host}:{port}")
        } else {
            host.clone()
        };
        let loopback = host == "localhost" || host.starts_with("127.") || host == "[::1]";
        let build = |timeout: Option<Duration>| -> Result<reqwest::Client, ArgoError> {
            let mut b = reqwest::Client::builder()
                .connect_timeout(opts.connect_timeout)
                .user_agent(concat!("driftdeck/", env!("CARGO_PKG_VERSION")))
                .tcp_nodelay(true);
            if let Some(t) = timeout {
                b = b.timeout(t);
            }
            if loopback {
                b = b.no_proxy();
            }
            if let Some(ca) = &cfg.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| cfg_err(format!("cannot read ca_file {}: {e}", ca.display())))?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    cfg_err(format!(
                        "ca_file {} is not a PEM certificate: {e}",
                        ca.display()
                    ))
                })?;
                if certs.is_empty() {
                    return Err(cfg_err(format!(
                        "ca_file {} holds no certificate",
                        ca.display()
                    )));
                }
                b = b.tls_certs_merge(certs);
            }
            if cfg.insecure {
                b = b.tls_danger_accept_invalid_certs(true);
            }
            b.build()
                .map_err(|e| cfg_err(format!("cannot build the HTTP client: {e}")))
        };
        let http = build(Some(opts.request_timeout))?;
        let stream_http = build(None)?;
        let seed = base
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
        Ok(ArgoClient {
            inner: Arc::new(Inner {
                instance: cfg.name.clone(),
                base,
                server,
                host,
                http,
                stream_http,
                source: TokenSource::from_config(cfg),
                token: Mutex::new(TokenState::default()),
                opts,
                jitter: std::sync::Mutex::new(Rng::new(seed)),
                wake: tokio::sync::Notify::new(),
                account: tokio::sync::OnceCell::new(),
            }),
        })
    }

    pub fn instance(&self) -> &str {
        &self.inner.instance
    }
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// A random factor in [0.8, 1.2] for backoff jitter.
    pub fn jitter(&self) -> f64 {
        let mut r = self.inner.jitter.lock().unwrap_or_else(|p| p.into_inner());
        0.8 + 0.4 * r.unit()
    }

    /// Ends the wait of this instance's watcher before its next reconnect attempt, if it is
    /// waiting (the server is down); the backoff starts again from its minimum.
    pub fn reconnect_now(&self) {
        self.inner.wake.notify_waiters();
    }

    /// Completes when [`ArgoClient::reconnect_now`] is called.
    pub async fn reconnect_asked(&self) {
        self.inner.wake.notified().await
    }

    /// Replaces the token (after an interactive login elsewhere, or in tests).
    pub async fn set_token(&self, token: Option<Secret>) {
        let mut t = self.inner.token.lock().await;
        t.resolved = true;
        t.token = token;
    }

    async fn token(&self) -> Result<Option<Secret>, ArgoError> {
        let mut st = self.inner.token.lock().await;
        if st.resolved {
            return Ok(st.token.clone());
        }
        let tok = match &self.inner.source {
            TokenSource::Login {
                username,
                password_env,
            } => {
                let password = std::env::var(password_env).map_err(|_| ArgoError::Credentials {
                    instance: self.inner.instance.clone(),
                    detail: format!(
                        "the environment variable {password_env} (password of `{username}`) is not set"
                    ),
                })?;
                Some(self.login(username, &Secret::new(password)).await?)
            }
            src => {
                auth::resolve(
                    src,
                    &self.inner.instance,
                    &self.inner.server,
                    &self.inner.host,
                )
                .await?
            }
        };
        st.resolved = true;
        st.token = tok.clone();
        Ok(tok)
    }

    async fn forget_token(&self) {
        let mut st = self.inner.token.lock().await;
        st.resolved = false;
        st.token = None;
    }

    /// `POST /api/v1/session`: a local account login. Returns the session token.
    pub async fn login(&self, username: &str, password: &Secret) -> Result<Secret, ArgoError> {
        #[derive(Serialize)]
        struct Body<'a> {
            username: &'a str,
            password: &'a str,
        }
        let body = serde_json::to_vec(&Body {
            username,
            password: password.expose(),
        })
        .unwrap_or_default();
        let resp: SessionResponse = self
            .send_once(Method::POST, "/api/v1/session", &[], Some(body), None)
            .await?;
        if resp.token.is_empty() {
            return Err(ArgoError::Malformed {
                server: self.inner.server.clone(),
                what: "session".into(),
                detail: "the login reply has no token".into(),
            });
        }
        Ok(Secret::new(resp.token))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.base, path)
    }

    fn map_transport(&self, e: reqwest::Error) -> ArgoError {
        let url = self.inner.base.clone();
        if e.is_timeout() {
            return ArgoError::Timeout {
                url,
                after: self.inner.opts.request_timeout,
            };
        }
        let mut detail = e.to_string();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        let mut tls = false;
        while let Some(s) = src {
            let m = s.to_string();
            if m.contains("certificate")
                || m.contains("tls")
                || m.contains("TLS")
                || m.contains("InvalidCertificate")
            {
                tls = true;
            }
            detail = m;
            src = s.source();
        }
        if tls {
            ArgoError::Tls { url, detail }
        } else if e.is_decode() || e.is_body() {
            ArgoError::Stream {
                server: self.inner.server.clone(),
                detail,
            }
        } else {
            ArgoError::Unreachable { url, detail }
        }
    }

    /// One request, no retry. The token is sent when there is one.
    async fn send_once<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        token: Option<&Secret>,
    ) -> Result<T, ArgoError> {
        let mut req = self
            .inner
            .http
            .request(method.clone(), self.url(path))
            .query(query);
        if let Some(t) = token {
            req = req.bearer_auth(t.expose());
        }
        if method != Method::GET {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.unwrap_or_else(|| b"{}".to_vec()));
        }
        let resp = req.send().await.map_err(|e| self.map_transport(e))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = match crate::limits::body(resp, crate::limits::MAX_REPLY).await {
            Ok(b) => b,
            Err(crate::limits::BodyError::Transport(e)) => return Err(self.map_transport(e)),
            Err(e) => {
                return Err(ArgoError::Malformed {
                    server: self.inner.server.clone(),
                    what: path.split('?').next().unwrap_or(path).to_string(),
                    detail: e.to_string(),
                });
            }
        };
        if !status.is_success() {
            return Err(ArgoError::from_reply(
                &self.inner.server,
                status.as_u16(),
                &bytes,
                retry_after,
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| ArgoError::Malformed {
            server: self.inner.server.clone(),
            what: path.split('?').next().unwrap_or(path).to_string(),
            detail: e.to_string(),
        })
    }

    /// A request with the token, renewing the token once on 401 where the source allows, and
    /// retrying transient failures of idempotent calls with backoff and jitter.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<T, ArgoError> {
        let idempotent = method == Method::GET;
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            match self
                .send_once(method.clone(), path, query, body.clone(), token.as_ref())
                .await
            {
                Ok(v) => return Ok(v),
                Err(ArgoError::Unauthenticated { .. } | ArgoError::TokenExpired { .. })
                    if !renewed && self.inner.source.can_renew() =>
                {
                    renewed = true;
                    self.forget_token().await;
                }
                Err(e) if idempotent && e.is_transient() && attempt < self.inner.opts.retries => {
                    let wait = match &e {
                        ArgoError::RateLimited {
                            retry_after: Some(d),
                            ..
                        } => (*d).min(Duration::from_secs(30)),
                        _ => self
                            .inner
                            .opts
                            .retry_base
                            .mul_f64(2f64.powi(attempt as i32) * self.jitter()),
                    };
                    tracing::debug!(instance = %self.inner.instance, path, error = %e, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn version(&self) -> Result<VersionMessage, ArgoError> {
        self.call(Method::GET, "/api/version", &[], None).await
    }

    pub async fn settings(&self) -> Result<Settings, ArgoError> {
        self.call(Method::GET, "/api/v1/settings", &[], None).await
    }

    pub async fn user_info(&self) -> Result<UserInfo, ArgoError> {
        self.call(Method::GET, "/api/v1/session/userinfo", &[], None)
            .await
    }

    /// The Argo CD account this client acts as (`userinfo`'s username), asked once and kept;
    /// `None` when the server does not say (not logged in, or unreachable: asked again later).
    pub async fn account(&self) -> Option<String> {
        if let Some(a) = self.inner.account.get() {
            return Some(a.clone());
        }
        let info = self.user_info().await.ok()?;
        let name = info.username.trim().to_string();
        if !info.logged_in || name.is_empty() {
            return None;
        }
        Some(
            self.inner
                .account
                .get_or_init(|| async { name })
                .await
                .clone(),
        )
    }

    /// `GET /api/v1/applications`; `fields` is a projection (see [`LIST_FIELDS`]).
    pub async fn list_apps(
        &self,
        query: &AppQuery,
        fields: Option<&[&str]>,
    ) -> Result<ApplicationList, ArgoError> {
        let mut q = query.pairs();
        if let Some(f) = fields {
            q.push(("fields", f.join(",")));
        }
        self.call(Method::GET, "/api/v1/applications", &q, None)
            .await
    }

    pub async fn get_app(
        &self,
        name: &str,
        app_namespace: Option<&str>,
        refresh: Option<Refresh>,
    ) -> Result<Application, ArgoError> {
        let mut q = Vec::new();
        if let Some(ns) = app_namespace {
            q.push(("appNamespace", ns.to_string()));
        }
        if let Some(r) = refresh {
            q.push((
                "refresh",
                match r {
                    Refresh::Normal => "normal",
                    Refresh::Hard => "hard",
                }
                .to_string(),
            ));
        }
        self.call(
            Method::GET,
            &format!("/api/v1/applications/{}", enc(name)),
            &q,
            None,
        )
        .await
    }

    /// Starts a sync (`POST .../sync`); the reply is the Application with its operation set.
    /// Not retried: a sync is not idempotent.
    pub async fn sync_app(
        &self,
        req: &crate::model::app::SyncRequest,
    ) -> Result<Application, ArgoError> {
        let body = serde_json::to_vec(req).map_err(|e| ArgoError::Malformed {
            server: self.inner.server.clone(),
            what: "sync request".into(),
            detail: e.to_string(),
        })?;
        self.call(
            Method::POST,
            &format!("/api/v1/applications/{}/sync", enc(&req.name)),
            &[],
            Some(body),
        )
        .await
    }

    /// Rolls back to a deployment of the history (`POST .../rollback`); Argo CD refuses it while
    /// auto-sync is on. Not retried.
    pub async fn rollback_app(
        &self,
        name: &str,
        app_namespace: Option<&str>,
        id: i64,
        dry_run: bool,
    ) -> Result<Application, ArgoError> {
        let body = serde_json::json!({
            "name": name,
            "id": id,
            "dryRun": dry_run,
            "appNamespace": app_namespace.unwrap_or(""),
        });
        self.call(
            Method::POST,
            &format!("/api/v1/applications/{}/rollback", enc(name)),
            &[],
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    /// Terminates the running operation (`DELETE .../operation`).
    pub async fn terminate_operation(
        &self,
        name: &str,
        app_namespace: Option<&str>,
    ) -> Result<(), ArgoError> {
        let mut q = Vec::new();
        if let Some(ns) = app_namespace {
            q.push(("appNamespace", ns.to_string()));
        }
        let _: serde_json::Value = self
            .call(
                Method::DELETE,
                &format!("/api/v1/applications/{}/operation", enc(name)),
                &q,
                None,
            )
            .await?;
        Ok(())
    }

    /// Patches the Application (`PATCH /api/v1/applications/{name}`) with a merge patch
    /// (`patch_type` "merge") or a JSON patch ("json"); the reply is the patched Application.
    /// Not retried.
    pub async fn patch_app(
        &self,
        name: &str,
        app_namespace: Option<&str>,
        patch: &serde_json::Value,
        patch_type: &str,
    ) -> Result<Application, ArgoError> {
        let body = serde_json::json!({
            "name": name,
            "appNamespace": app_namespace.unwrap_or(""),
            "patch": patch.to_string(),
            "patchType": patch_type,
        });
        self.call(
            Method::PATCH,
            &format!("/api/v1/applications/{}", enc(name)),
            &[],
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    /// Patches a live resource of the app through Argo CD (`POST .../resource`) with a merge
    /// patch; the reply is the patched object. Not retried.
    pub async fn patch_resource(
        &self,
        app: &str,
        app_namespace: Option<&str>,
        res: &ResourceId,
        patch: &serde_json::Value,
    ) -> Result<serde_json::Value, ArgoError> {
        let mut q = resource_query(app_namespace, res);
        q.push(("patchType", "application/merge-patch+json".to_string()));
        let body = serde_json::to_vec(&patch.to_string()).unwrap_or_default();
        let r: ResourceManifest = self
            .call(
                Method::POST,
                &format!("/api/v1/applications/{}/resource", enc(app)),
                &q,
                Some(body),
            )
            .await?;
        self.parse_manifest(&r.manifest)
    }

    /// The ApplicationSets of the instance (`GET /api/v1/applicationsets`). A server without
    /// them (before Argo CD 2.8, or the API off) answers not found: no sets.
    pub async fn appsets(&self) -> Result<Vec<crate::model::appset::ApplicationSet>, ArgoError> {
        let r: Result<crate::model::appset::ApplicationSetList, ArgoError> = self
            .call(Method::GET, "/api/v1/applicationsets", &[], None)
            .await;
        match r {
            Ok(l) => Ok(l.items),
            Err(ArgoError::NotFound { .. }) => Ok(vec![]),
            Err(e) => Err(e),
        }
    }

    /// The actions Argo CD offers for a live resource of the app (`GET
    /// .../resource/actions`), from its Lua discovery scripts.
    pub async fn resource_actions(
        &self,
        app: &str,
        app_namespace: Option<&str>,
        res: &ResourceId,
    ) -> Result<Vec<ResourceAction>, ArgoError> {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Actions {
            actions: Vec<ResourceAction>,
        }
        let q = resource_query(app_namespace, res);
        let r: Actions = self
            .call(
                Method::GET,
                &format!("/api/v1/applications/{}/resource/actions", enc(app)),
                &q,
                None,
            )
            .await?;
        Ok(r.actions)
    }

    /// Runs a resource action (`POST .../resource/actions/v2`, with its parameters); the reply
    /// is the Application. Not retried.
    pub async fn run_resource_action(
        &self,
        app: &str,
        app_namespace: Option<&str>,
        res: &ResourceId,
        action: &str,
        params: &[(String, String)],
    ) -> Result<(), ArgoError> {
        let body = serde_json::json!({
            "name": app,
            "appNamespace": app_namespace.unwrap_or(""),
            "namespace": res.namespace,
            "resourceName": res.name,
            "version": res.version,
            "group": res.group,
            "kind": res.kind,
            "action": action,
            "resourceActionParameters": params
                .iter()
                .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
                .collect::<Vec<_>>(),
        });
        let r: Result<serde_json::Value, ArgoError> = self
            .call(
                Method::POST,
                &format!("/api/v1/applications/{}/resource/actions/v2", enc(app)),
                &[],
                Some(body.to_string().into_bytes()),
            )
            .await;
        match r {
            // Before Argo CD 3.1 there is no v2 route (its router answers a bare "Not Found"),
            // and the first route takes the same request whole.
            Err(ArgoError::NotFound { message })
                if message.trim().eq_ignore_ascii_case("not found") =>
            {
                let _: serde_json::Value = self
                    .call(
                        Method::POST,
                        &format!("/api/v1/applications/{}/resource/actions", enc(app)),
                        &[],
                        Some(body.to_string().into_bytes()),
                    )
                    .await?;
                Ok(())
            }
            r => r.map(|_| ()),
        }
    }

    /// One live resource of the app (`GET .../resource`).
    pub async fn live_resource(
        &self,
        app: &str,
        app_namespace: Option<&str>,
        res: &ResourceId,
    ) -> Result<serde_json::Value, ArgoError> {
        let q = resource_query(app_namespace, res);
        let r: ResourceManifest = self
            .call(
                Method::GET,
                &format!("/api/v1/applications/{}/resource", enc(app)),
                &q,
                None,
            )
            .await?;
        self.parse_manifest(&r.manifest)
    }

    fn parse_manifest(&self, m: &str) -> Result<serde_json::Value, ArgoError> {
        serde_json::from_str(m).map_err(|e| ArgoError::Malformed {
            server: self.inner.server.clone(),
            what: "resource manifest".into(),
            detail: e.to_string(),
        })
    }

    /// Whether the session may do `action` on `object` of `resource` (`GET
    /// /api/v1/account/can-i/...`), e.g. `("applications", "sync", "team/app")`.
    pub async fn can_i(
        &self,
        resource: &str,
        action: &str,
        object: &str,
    ) -> Result<bool, ArgoError> {
        let r: serde_json::Value = self
            .call(
                Method::GET,
                &format!(
                    "/api/v1/account/can-i/{}/{}/{}",
                    enc(resource),
                    enc(action),
                    enc(object)
                ),
                &[],
                None,
            )
            .await?;
        Ok(r["value"].as_str() == Some("yes"))
    }

    /// The manifests Git has for the app at `revision` (`GET .../manifests`), parsed.
    pub async fn manifests(
        &self,
        name: &str,
        app_namespace: Option<&str>,
        revision: &str,
    ) -> Result<Vec<serde_json::Value>, ArgoError> {
        let mut q = ns_query(app_namespace);
        if !revision.is_empty() {
            q.push(("revision", revision.to_string()));
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Manifests {
            manifests: Vec<String>,
        }
        let r: Manifests = self
            .call(
                Method::GET,
                &format!("/api/v1/applications/{}/manifests", enc(name)),
                &q,
                None,
            )
            .await?;
        r.manifests.iter().map(|m| self.parse_manifest(m)).collect()
    }

    pub async fn managed_resources(
        &self,
        name: &str,
        app_namespace: Option<&str>,
    ) -> Result<ManagedResourcesResponse, ArgoError> {
        let q = ns_query(app_namespace);
        self.call(
            Method::GET,
            &format!("/api/v1/applications/{}/managed-resources", enc(name)),
            &q,
            None,
        )
        .await
    }

    pub async fn resource_tree(
        &self,
        name: &str,
        app_namespace: Option<&str>,
    ) -> Result<ApplicationTree, ArgoError> {
        let q = ns_query(app_namespace);
        self.call(
            Method::GET,
            &format!("/api/v1/applications/{}/resource-tree", enc(name)),
            &q,
            None,
        )
        .await
    }

    /// Events of the Application itself.
    pub async fn app_events(
        &self,
        name: &str,
        app_namespace: Option<&str>,
    ) -> Result<EventList, ArgoError> {
        let q = ns_query(app_namespace);
        self.call(
            Method::GET,
            &format!("/api/v1/applications/{}/events", enc(name)),
            &q,
            None,
        )
        .await
    }

    /// Kubernetes events of one resource of an application.
    pub async fn resource_events(
        &self,
        name: &str,
        app_namespace: Option<&str>,
        resource_namespace: &str,
        resource_name: &str,
        resource_uid: &str,
    ) -> Result<EventList, ArgoError> {
        let mut q = ns_query(app_namespace);
        q.push(("resourceNamespace", resource_namespace.to_string()));
        q.push(("resourceName", resource_name.to_string()));
        q.push(("resourceUID", resource_uid.to_string()));
        self.call(
            Method::GET,
            &format!("/api/v1/applications/{}/events", enc(name)),
            &q,
            None,
        )
        .await
    }

    pub async fn revision_metadata(
        &self,
        name: &str,
        revision: &str,
        app_namespace: Option<&str>,
    ) -> Result<RevisionMetadata, ArgoError> {
        let q = ns_query(app_namespace);
        self.call(
            Method::GET,
            &format!(
                "/api/v1/applications/{}/revisions/{}/metadata",
                enc(name),
                enc(revision)
            ),
            &q,
            None,
        )
        .await
    }

    pub async fn clusters(&self) -> Result<ClusterList, ArgoError> {
        self.call(Method::GET, "/api/v1/clusters", &[], None).await
    }

    pub async fn projects(&self) -> Result<AppProjectList, ArgoError> {
        self.call(Method::GET, "/api/v1/projects", &[], None).await
    }

    pub async fn project(&self, name: &str) -> Result<AppProject, ArgoError> {
        self.call(
            Method::GET,
            &format!("/api/v1/projects/{}", enc(name)),
            &[],
            None,
        )
        .await
    }

    /// Opens the application watch stream (SSE). With `resource_version`, only changes after it
    /// are sent; without, an `ADDED` event per app comes first.
    pub async fn watch_apps(
        &self,
        query: &AppQuery,
        resource_version: Option<&str>,
        fields: Option<&[&str]>,
    ) -> Result<AppStream, ArgoError> {
        let mut q = query.pairs();
        if let Some(rv) = resource_version {
            q.push(("resourceVersion", rv.to_string()));
        }
        if let Some(f) = fields {
            q.push(("fields", f.join(",")));
        }
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            let mut req = self
                .inner
                .stream_http
                .get(self.url("/api/v1/stream/applications"))
                .query(&q)
                .header(reqwest::header::ACCEPT, "text/event-stream");
            if let Some(t) = &token {
                req = req.bearer_auth(t.expose());
            }
            let resp = tokio::time::timeout(self.inner.opts.request_timeout, req.send())
                .await
                .map_err(|_| ArgoError::Timeout {
                    url: self.inner.base.clone(),
                    after: self.inner.opts.request_timeout,
                })?
                .map_err(|e| self.map_transport(e))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(AppStream {
                    resp,
                    parser: SseParser::new(),
                    frames: std::collections::VecDeque::new(),
                    server: self.inner.server.clone(),
                    client: self.clone(),
                });
            }
            let err = self.stream_open_error(status, resp).await;
            match err {
                ArgoError::Unauthenticated { .. } | ArgoError::TokenExpired { .. }
                    if !renewed && self.inner.source.can_renew() =>
                {
                    renewed = true;
                    self.forget_token().await;
                }
                e => return Err(e),
            }
        }
    }

    async fn stream_open_error(&self, status: StatusCode, resp: reqwest::Response) -> ArgoError {
        let bytes = match tokio::time::timeout(Duration::from_secs(5), resp.bytes()).await {
            Ok(Ok(b)) => b,
            _ => Default::default(),
        };
        // An error before the first message comes framed like a message, with the HTTP status
        // set to its http_code.
        let mut frames = Vec::new();
        let mut p = SseParser::new();
        if p.push(&bytes, &mut frames).is_ok() {
            p.push(b"\n\n", &mut frames).ok();
            for f in frames {
                if let Frame::Data(d) = f
                    && let Ok(Message::Error(e)) = sse::decode::<serde_json::Value>(&d)
                {
                    return ArgoError::from_stream_error(&self.inner.server, &e);
                }
            }
        }
        ArgoError::from_reply(&self.inner.server, status.as_u16(), &bytes, None)
    }
}

fn ns_query(app_namespace: Option<&str>) -> Vec<(&'static str, String)> {
    app_namespace
        .map(|ns| vec![("appNamespace", ns.to_string())])
        .unwrap_or_default()
}

/// Percent-encodes a path segment.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One item of the application watch stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    Event(Box<ApplicationWatchEvent>),
    KeepAlive,
}

/// An open application watch stream.
pub struct AppStream {
    resp: reqwest::Response,
    parser: SseParser,
    frames: std::collections::VecDeque<Frame>,
    server: String,
    client: ArgoClient,
}

impl AppStream {
    /// The next event or keep-alive; `None` when the server closed the stream.
    pub async fn next(&mut self) -> Option<Result<StreamItem, ArgoError>> {
        loop {
            if let Some(f) = self.frames.pop_front() {
                return Some(match f {
                    Frame::KeepAlive => Ok(StreamItem::KeepAlive),
                    Frame::Data(d) => match sse::decode::<ApplicationWatchEvent>(&d) {
                        Ok(Message::Result(ev)) => Ok(StreamItem::Event(Box::new(ev))),
                        Ok(Message::Error(e)) => {
                            Err(ArgoError::from_stream_error(&self.server, &e))
                        }
                        Err(detail) => Err(ArgoError::Malformed {
                            server: self.server.clone(),
                            what: "stream".into(),
                            detail,
                        }),
                    },
                });
            }
            match self.resp.chunk().await {
                Ok(Some(chunk)) => {
                    let mut out = Vec::new();
                    if let Err(e) = self.parser.push(&chunk, &mut out) {
                        return Some(Err(ArgoError::Stream {
                            server: self.server.clone(),
                            detail: e.to_string(),
                        }));
                    }
                    self.frames.extend(out);
                }
                Ok(None) => return None,
                Err(e) => return Some(Err(self.client.map_transport(e))),
            }
        }
    }
}

/// Which live resource of an app (the query of Argo CD's resource endpoints).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResourceId {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// An action Argo CD offers for a resource (`ResourceAction`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceAction {
    pub name: String,
    /// Parameters the action takes (`replicas` for `scale`).
    #[serde(deserialize_with = "crate::util::null_default")]
    pub params: Vec<ResourceActionParam>,
    pub disabled: bool,
    pub display_name: String,
    pub icon_class: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ResourceActionParam {
    pub name: String,
}

/// The query of Argo CD's resource endpoints.
fn resource_query(app_namespace: Option<&str>, res: &ResourceId) -> Vec<(&'static str, String)> {
    let mut q = ns_query(app_namespace);
    q.push(("namespace", res.namespace.clone()));
    q.push(("resourceName", res.name.clone()));
    q.push(("version", res.version.clone()));
    q.push(("group", res.group.clone()));
    q.push(("kind", res.kind.clone()));
    q
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct ResourceManifest {
    manifest: String,
}
