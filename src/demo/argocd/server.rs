//! The server: listening, authentication, routing, errors and query strings.

use super::*;

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
    pub(super) inst: Arc<Instance>,
    pub(super) task: Option<JoinHandle<()>>,
    pub(super) tls: Option<tokio_rustls::TlsAcceptor>,
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
        let task = crate::demo::spawn_https(listener, tls.clone(), inst.clone(), handle);
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
                    self.task = Some(crate::demo::spawn_https(
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

pub(super) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(super) fn full(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, content_type.parse().expect("header"));
    r
}

pub(super) fn json_reply<T: Serialize>(v: &T) -> Response<Body> {
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
pub(super) struct Query(pub(super) Vec<(String, String)>);

impl Query {
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    pub(super) fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub(super) fn bearer(req: &Request<Incoming>) -> Option<String> {
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
    use crate::demo::faults::Injected;
    let is_stream = path == "/api/v1/stream/applications";
    let injected =
        crate::demo::faults::request(faults.profile, &inst.dice, method != Method::GET, is_stream);
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
                crate::demo::faults::PROXY_PAGE,
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

pub(super) async fn route(
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
        (Method::GET, ["v1", "applicationsets"]) => {
            let st = inst.read();
            let projects = q.all("projects");
            let items: Vec<Value> = st
                .appsets
                .iter()
                .filter(|s| projects.is_empty() || projects.contains(&s.project.as_str()))
                .map(|s| crate::demo::appsets::json(s, &st.apps, now))
                .collect();
            json_reply(&json!({"metadata": {"resourceVersion": st.rv.to_string()}, "items": items}))
        }
        (Method::GET, ["v1", "applicationsets", name]) => {
            let st = inst.read();
            match st.appsets.iter().find(|s| s.name == *name) {
                Some(s) => json_reply(&crate::demo::appsets::json(s, &st.apps, now)),
                None => error(
                    grpc::NOT_FOUND,
                    &format!("applicationsets.argoproj.io \"{name}\" not found"),
                ),
            }
        }
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
        (Method::GET, ["v1", "applications", name, "resource", "actions"]) => {
            live::list_actions(inst, name, q, now)
        }
        (Method::POST, ["v1", "applications", name, "resource", "actions"]) => {
            // Before 3.1 this route took the whole request; since, only the action's name.
            let whole = inst.read().actions_before_3_1;
            live::run_action(inst, name, q, body, whole, now)
        }
        (Method::POST, ["v1", "applications", name, "resource", "actions", "v2"])
            if !inst.read().actions_before_3_1 =>
        {
            live::run_action(inst, name, q, body, true, now)
        }
        (Method::GET, ["v1", "applications", name, "logs"]) => {
            live::logs(inst, name, None, q, sse, now)
        }
        (Method::GET, ["v1", "applications", name, "pods", pod, "logs"]) => {
            live::logs(inst, name, Some(pod), q, sse, now)
        }
        (Method::GET, ["v1", "applications", name, "syncwindows"]) => {
            live::app_windows(inst, name, now)
        }
        (Method::GET, ["v1", "projects", name, "syncwindows"]) => {
            live::project_windows(inst, name, now)
        }
        (Method::GET, ["v1", "stream", "applications", name, "resource-tree"]) => {
            live::tree_stream(inst.clone(), name, sse)
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
                    Some(res) => json_reply(&crate::demo::kube::resource_events(
                        a,
                        now,
                        res,
                        q.get("resourceNamespace").unwrap_or(""),
                        q.get("resourceUID").unwrap_or(""),
                    )),
                    None => {
                        // The controller's events, and those others posted on the app to
                        // its control plane (the DriftDecision events of `driftdeck serve`).
                        let mut list = resources::app_events(a);
                        let m = &a.app.metadata;
                        list.items.extend(
                            crate::demo::kube::events::listed(
                                &inst.posted_events,
                                Some(&m.namespace),
                                now,
                            )
                            .into_iter()
                            .filter(|e| {
                                let io = &e["involvedObject"];
                                io["kind"] == "Application" && io["name"] == m.name.as_str()
                            })
                            .filter_map(|e| serde_json::from_value(e).ok()),
                        );
                        json_reply(&list)
                    }
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

pub(super) fn settings(inst: &Instance) -> Settings {
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

pub(super) fn login(inst: &Instance, body: &Bytes, now: i64) -> Response<Body> {
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

pub(super) fn not_found_app(name: &str) -> Response<Body> {
    error(
        grpc::NOT_FOUND,
        &format!("applications.argoproj.io \"{name}\" not found"),
    )
}

pub(super) fn with_app(
    inst: &Instance,
    name: &str,
    q: &Query,
    f: impl FnOnce(&crate::demo::generator::DemoApp) -> Response<Body>,
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
