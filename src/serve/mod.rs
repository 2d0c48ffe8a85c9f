//! `driftdeck serve`: the always-on daemon. Every replica watches every configured instance
//! (so its metrics and readiness are the whole fleet's), and for each instance ("shard") whose
//! Lease it holds, decides every drift with the same decision service as the TUI, journals it,
//! writes it as a `DriftDecision` Event on the Application, and counts it in `/metrics`.
//!
//! One task per concern, one loop that owns the state:
//! - a watcher per instance (`clients::argocd::watch`) sends fleet updates;
//! - an elector per shard (`lease`) renews or takes its Lease every retry period and says
//!   when this replica starts or stops leading;
//! - decisions run in tasks of their shard, aborted when the shard is lost, and each checks
//!   that the Lease is still valid before it decides and before it writes its Event;
//! - the HTTP server (`http`) reads the shared state.

pub mod events;
pub mod http;
pub mod lease;
pub mod metrics;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::actions::Session;
use crate::clients::argocd::watch::{FleetUpdate, WatchOptions, watch_fleet};
use crate::clients::argocd::{AppQuery, ArgoClient};
use crate::clients::kube::Clusters;
use crate::config::Config;
use crate::config::fleet::Sla;
use crate::config::serve::Settings;
use crate::decide::autonomy::{self, Gate};
use crate::decide::service::Service;
use crate::model::fleet::{AppKey, AppRow};
use crate::model::status::Sync;

/// How `serve` was started.
pub struct Options {
    pub listen: Option<String>,
    pub data_dir: PathBuf,
    pub read_only: bool,
}

/// What a decision rests on: the revision, the drift, the health and the last sync. Every
/// replica computes the same basis for the same drift, so a new leader knows from the Events
/// which drifts are decided.
pub fn basis(row: &AppRow) -> String {
    format!(
        "{}|{}|{}|{}",
        row.revision,
        row.drift,
        row.health.as_str(),
        row.last_sync.unwrap_or(0)
    )
}

/// A decision as the daemon's API lists it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct DecisionSummary {
    pub seq: Option<u64>,
    pub time: String,
    pub instance: String,
    pub namespace: String,
    pub app: String,
    pub verdict: String,
    pub confidence: f64,
    pub rule: String,
    pub mode: String,
    pub basis: String,
    /// What autonomous mode did, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// The Event written (its name), or why none was.
    pub event: String,
    /// The replica that decided.
    pub by: String,
}

/// One instance as every part of the daemon sees it.
#[derive(Default)]
pub struct InstanceView {
    pub name: String,
    pub rows: HashMap<AppKey, AppRow>,
    /// Listed at least once.
    pub listed: bool,
    pub up: bool,
    pub error: Option<String>,
}

/// One shard (an instance's Lease) as the daemon sees it.
#[derive(Debug, Clone, Default)]
pub struct ShardView {
    pub name: String,
    pub lease: String,
    /// `None` until the Lease was read once.
    pub role: Option<lease::Role>,
    pub error: Option<String>,
    /// Whether the decided index is loaded and drifts are being decided.
    pub deciding: bool,
}

/// The state the HTTP server reads.
pub struct Shared {
    pub identity: String,
    pub settings: Settings,
    pub counters: Mutex<metrics::Counters>,
    pub fleet: RwLock<Vec<InstanceView>>,
    pub shards: Mutex<Vec<ShardView>>,
    /// The main loop's last turn (unix ms): `/healthz` fails when it stalls.
    pub heartbeat: AtomicI64,
    pub started: i64,
    /// The latest decisions of this replica, oldest first (at most `RECENT`).
    pub recent: Mutex<std::collections::VecDeque<DecisionSummary>>,
    pub svc: Arc<Service>,
    /// The bearer token reviews and MCP must carry; both are refused without one configured.
    pub api_token: Option<String>,
    /// `/mcp`: the MCP tools over streamable HTTP, on this daemon's fleet.
    pub mcp: std::sync::OnceLock<McpHttp>,
    /// Health transitions seen on the streams (time to restore).
    pub health: Mutex<crate::model::dora::HealthLog>,
}

/// The MCP service of `/mcp`.
pub type McpHttp = rmcp::transport::streamable_http_server::StreamableHttpService<
    crate::mcp::Mcp,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
>;

/// Decisions the API keeps in memory.
pub const RECENT: usize = 10_000;

/// How long `/healthz` tolerates a stalled main loop.
const STALL_MS: i64 = 30_000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Shared {
    /// Liveness: the main loop turned recently.
    pub fn healthy(&self) -> bool {
        now_ms() - self.heartbeat.load(Ordering::Relaxed) < STALL_MS
    }

    /// Readiness: every instance listed once (or its failure known) and every shard's Lease
    /// read once; the reasons when not.
    pub fn readiness(&self) -> (bool, Vec<String>) {
        let mut lines = Vec::new();
        let mut ready = true;
        if let Ok(fleet) = self.fleet.read() {
            for f in fleet.iter() {
                let state = if f.listed && f.up {
                    format!("{} apps, live", f.rows.len())
                } else if f.listed {
                    format!(
                        "{} apps, reconnecting: {}",
                        f.rows.len(),
                        f.error.as_deref().unwrap_or("down")
                    )
                } else {
                    ready = false;
                    match &f.error {
                        Some(e) => format!("not listed yet: {e}"),
                        None => "not listed yet".into(),
                    }
                };
                lines.push(format!("instance {}: {state}", f.name));
            }
        }
        if let Ok(shards) = self.shards.lock() {
            for s in shards.iter() {
                let state = match (&s.role, &s.error) {
                    (Some(lease::Role::Leader), _) if s.deciding => "leader, deciding".into(),
                    (Some(lease::Role::Leader), _) => "leader, reading what is decided".into(),
                    (Some(lease::Role::Follower(h)), _) if h.is_empty() => {
                        "follower (the Lease is free)".into()
                    }
                    (Some(lease::Role::Follower(h)), _) => format!("follower of {h}"),
                    (None, Some(e)) => {
                        ready = false;
                        format!("Lease not read: {e}")
                    }
                    (None, None) => {
                        ready = false;
                        "Lease not read yet".into()
                    }
                };
                lines.push(format!("shard {} ({}): {state}", s.name, s.lease));
            }
        }
        (ready, lines)
    }

    /// The exposition, now.
    pub fn metrics(&self) -> String {
        let fleet = self.fleet.read().unwrap_or_else(|p| p.into_inner());
        let views: Vec<metrics::FleetView<'_>> = fleet
            .iter()
            .map(|f| {
                let mut rows: Vec<&AppRow> = f.rows.values().collect();
                rows.sort_unstable_by(|a, b| a.key.name.cmp(&b.key.name));
                metrics::FleetView {
                    instance: &f.name,
                    rows,
                }
            })
            .collect();
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        metrics::render(
            &views,
            &c,
            chrono::Utc::now().timestamp(),
            &metrics::Process::read(self.started),
        )
    }

    /// Recomputes the agreement of reviews from the journal.
    pub fn refresh_agreement(&self) {
        let Ok(records) = self.svc.journal.records() else {
            return;
        };
        let reviews = autonomy::reviews(&records);
        let a = autonomy::agreement(&reviews, Some(self.svc.limits.agreement_window));
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        c.agreement = a.rate;
        c.reviews = reviews.len();
        c.min_agreement = self.svc.limits.min_agreement;
    }
}

/// What the loop hears.
enum Msg {
    Fleet(usize, FleetUpdate),
    Role(usize, Result<lease::Role, String>),
    Index(usize, Result<HashMap<String, String>, String>),
    Decided(Box<Done>),
}

struct Done {
    shard: usize,
    key: AppKey,
    basis: String,
    result: Result<DecisionSummary, String>,
    secs: f64,
    sources: Vec<(String, String)>,
    action: Option<(String, String)>,
    posted: Option<events::Posted>,
}

/// A shard's state in the loop.
struct Shard {
    instance: usize,
    leading: bool,
    /// App name → basis decided (from the Events, then this tenure's decisions).
    decided: Option<HashMap<String, String>>,
    loading: bool,
    inflight: HashSet<AppKey>,
    /// Decisions that failed: retried after `RETRY_FAILED` or when the drift changes.
    failed: HashMap<AppKey, (String, tokio::time::Instant)>,
    tasks: JoinSet<()>,
    /// Unix ms until which acting is safe (0: not leading).
    valid_until: Arc<AtomicI64>,
}

const RETRY_FAILED: Duration = Duration::from_secs(60);

/// Runs the daemon until SIGTERM or SIGINT; the exit code.
pub async fn run(cfg: Config, opts: Options) -> u8 {
    let names: Vec<String> = cfg.instances.iter().map(|i| i.name.clone()).collect();
    if names.is_empty() {
        errln!(
            "driftdeck serve: no instances configured; add an [[instances]] table to the config"
        );
        return 2;
    }
    let settings =
        match cfg
            .serve
            .clone()
            .unwrap_or_default()
            .settings(opts.listen.as_deref(), &names, |k| std::env::var(k).ok())
        {
            Ok(s) => s,
            Err(errs) => {
                for (_, m) in errs {
                    errln!("driftdeck serve: {m}");
                }
                return 2;
            }
        };
    let mut svc = match Service::from_config(&cfg, opts.data_dir.clone()) {
        Ok(s) => s,
        Err(e) => {
            errln!("driftdeck serve: {e}");
            return 2;
        }
    };
    svc.acts = !opts.read_only && !cfg.read_only;
    let svc = Arc::new(svc);
    let mut clients = Vec::new();
    for ic in &cfg.instances {
        match ArgoClient::new(ic) {
            Ok(c) => clients.push(c),
            Err(e) => {
                errln!("driftdeck serve: instance `{}`: {e}", ic.name);
                return 2;
            }
        }
    }
    let listener = match tokio::net::TcpListener::bind(&settings.listen).await {
        Ok(l) => l,
        Err(e) => {
            errln!(
                "driftdeck serve: cannot listen on {}: {e}; choose another address with --listen",
                settings.listen
            );
            return 2;
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let kube = Arc::new(Clusters::load(cfg.kube.as_ref()));
    let contexts: Vec<String> = cfg
        .instances
        .iter()
        .map(|ic| ic.kube_context.clone().unwrap_or_else(|| ic.name.clone()))
        .collect();
    let token_env = "DRIFTDECK_API_TOKEN";
    let shared = Arc::new(Shared {
        identity: settings.identity.clone(),
        settings: settings.clone(),
        counters: Mutex::new(metrics::Counters {
            min_agreement: svc.limits.min_agreement,
            ..Default::default()
        }),
        fleet: RwLock::new(
            names
                .iter()
                .map(|n| InstanceView {
                    name: n.clone(),
                    ..Default::default()
                })
                .collect(),
        ),
        shards: Mutex::new(
            settings
                .shards
                .iter()
                .map(|n| ShardView {
                    name: n.clone(),
                    lease: lease::lease_name(n),
                    ..Default::default()
                })
                .collect(),
        ),
        heartbeat: AtomicI64::new(now_ms()),
        started: chrono::Utc::now().timestamp(),
        recent: Mutex::new(Default::default()),
        svc: svc.clone(),
        api_token: std::env::var(token_env).ok().filter(|t| !t.is_empty()),
        mcp: std::sync::OnceLock::new(),
        health: Mutex::new(Default::default()),
    });
    // MCP over HTTP: the same tools as `driftdeck mcp`, reading this daemon's fleet. The bearer
    // token guards it, so any Host may ask (a Service name in the cluster).
    let mcp_config = rmcp::transport::streamable_http_server::StreamableHttpServerConfig::default()
        .disable_allowed_hosts();
    let mcp_stop = mcp_config.cancellation_token.clone();
    match crate::mcp::Kit::new(
        cfg.clone(),
        opts.data_dir.clone(),
        opts.read_only,
        Some(shared.clone()),
    ) {
        Ok(kit) => {
            let kit = Arc::new(kit);
            let _ = shared.mcp.set(McpHttp::new(
                move || Ok(crate::mcp::Mcp::new(kit.clone())),
                Default::default(),
                mcp_config,
            ));
        }
        Err(e) => tracing::warn!(error = %e, "MCP over HTTP is off"),
    }
    {
        let s = shared.clone();
        let _ = tokio::task::spawn_blocking(move || s.refresh_agreement()).await;
    }
    // The decisions listed by the API survive a restart: the journal's latest.
    load_recent(&shared).await;
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let http = tokio::spawn(http::serve(listener, shared.clone(), stop_rx.clone()));
    // Every instance is watched, whatever this replica leads.
    let mut watchers = Vec::new();
    for (i, (c, ic)) in clients.iter().zip(&cfg.instances).enumerate() {
        let q = AppQuery {
            projects: ic.projects.clone(),
            selector: ic.selector.clone(),
            ..Default::default()
        };
        let tx = tx.clone();
        let c = c.clone();
        watchers.push(tokio::spawn(async move {
            watch_fleet(c, i as u16, q, WatchOptions::default(), tx, move |u| {
                Msg::Fleet(i, u)
            })
            .await;
        }));
    }
    // One elector per shard.
    let led = Arc::new(AtomicUsize::new(0));
    let mut shards: Vec<Shard> = Vec::new();
    let mut electors = Vec::new();
    for (si, name) in settings.shards.iter().enumerate() {
        let Some(i) = names.iter().position(|n| n == name) else {
            continue;
        };
        let valid_until = Arc::new(AtomicI64::new(0));
        shards.push(Shard {
            instance: i,
            leading: false,
            decided: None,
            loading: false,
            inflight: HashSet::new(),
            failed: HashMap::new(),
            tasks: JoinSet::new(),
            valid_until: valid_until.clone(),
        });
        electors.push(tokio::spawn(elect(
            si,
            kube.clone(),
            contexts[i].clone(),
            settings.clone(),
            name.clone(),
            led.clone(),
            valid_until,
            tx.clone(),
            stop_rx.clone(),
        )));
    }
    drop(tx);
    let sessions: Vec<Session> = clients
        .iter()
        .zip(&cfg.instances)
        .map(|(c, ic)| {
            Session::new(
                c.clone(),
                opts.read_only || cfg.read_only || ic.read_only,
                cfg.protected.clone(),
            )
            .with_journal(Some(Arc::new(svc.journal.clone())))
            .with_kube(Some(kube.clone()))
            .protect_production(cfg.protect_production.unwrap_or(true))
        })
        .collect();
    let sla = Sla::from_config(cfg.fleet.as_ref());
    tracing::info!(
        identity = %settings.identity,
        listen = %addr,
        shards = ?settings.shards,
        mode = svc.mode.as_str(),
        "serve started"
    );
    errln!(
        "driftdeck serve: {} on {addr} ({} mode; shards {}); /metrics /healthz /readyz",
        settings.identity,
        svc.mode.as_str(),
        settings.shards.join(", ")
    );
    // Decision tasks report to the loop through their own channel (kept apart from the
    // watchers' so a burst of fleet updates cannot starve them).
    let (loop_tx, mut loop_rx) = mpsc::channel::<Msg>(1024);
    let mut ctx = Ctx {
        shared: shared.clone(),
        clients,
        sessions,
        kube,
        contexts,
        sla,
        events_on: settings.events,
        tx: loop_tx,
    };
    let mut sigterm = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        Ok(s) => s,
        Err(e) => {
            errln!("driftdeck serve: cannot listen for SIGTERM: {e}");
            return 2;
        }
    };
    let dora = tokio::spawn(dora_loop(
        ctx.shared.clone(),
        ctx.clients
            .iter()
            .cloned()
            .zip(cfg.instances.iter().map(|ic| AppQuery {
                projects: ic.projects.clone(),
                selector: ic.selector.clone(),
                ..Default::default()
            }))
            .collect(),
    ));
    let mut beat = tokio::time::interval(Duration::from_secs(5));
    loop {
        shared.heartbeat.store(now_ms(), Ordering::Relaxed);
        tokio::select! {
            _ = sigterm.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = beat.tick() => {
                for s in &mut shards {
                    while s.tasks.try_join_next().is_some() {}
                }
                // Failed decisions are retried after a while.
                for si in 0..shards.len() {
                    consider(&mut ctx, &mut shards, si, None);
                }
            }
            Some(m) = rx.recv() => handle(&mut ctx, &mut shards, m),
            Some(m) = loop_rx.recv() => handle(&mut ctx, &mut shards, m),
        }
    }
    // A clean stop: no new decisions, the Leases released so another replica takes over at
    // once, then the server stops.
    tracing::info!("serve stopping");
    for s in &mut shards {
        s.valid_until.store(0, Ordering::SeqCst);
        s.tasks.abort_all();
    }
    let _ = stop_tx.send(true);
    mcp_stop.cancel();
    for e in electors {
        let _ = tokio::time::timeout(Duration::from_secs(5), e).await;
    }
    for w in watchers {
        w.abort();
    }
    dora.abort();
    let _ = tokio::time::timeout(Duration::from_secs(2), http).await;
    errln!("driftdeck serve: stopped");
    0
}

/// How often the DORA figures are read again from Argo CD's history.
const DORA_EVERY: Duration = Duration::from_secs(300);

/// Reads every instance's deployment history and computes the DORA figures, at start and
/// every [`DORA_EVERY`].
async fn dora_loop(shared: Arc<Shared>, clients: Vec<(ArgoClient, AppQuery)>) {
    tokio::time::sleep(Duration::from_secs(2)).await;
    loop {
        let mut apps = Vec::new();
        for (c, q) in &clients {
            match c.list_apps(q, crate::model::dora::HISTORY_FIELDS).await {
                Ok(list) => apps.extend(
                    list.items
                        .iter()
                        .map(|a| crate::model::dora::AppHistory::of(c.instance(), a)),
                ),
                Err(e) => {
                    tracing::warn!(instance = c.instance(), error = %e, "deployment history not read")
                }
            }
        }
        shared
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .restores_into(&mut apps);
        let figures = crate::model::dora::compute(
            &apps,
            chrono::Utc::now().timestamp(),
            crate::model::dora::WINDOW_SECS,
        );
        shared
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .dora = figures;
        tokio::time::sleep(DORA_EVERY).await;
    }
}

struct Ctx {
    shared: Arc<Shared>,
    clients: Vec<ArgoClient>,
    sessions: Vec<Session>,
    kube: Arc<Clusters>,
    contexts: Vec<String>,
    sla: Sla,
    events_on: bool,
    tx: mpsc::Sender<Msg>,
}

async fn load_recent(shared: &Arc<Shared>) {
    let s = shared.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let recs = s.svc.journal.records().unwrap_or_default();
        recs.iter()
            .filter(|r| r.kind == "decision")
            .filter(|r| r.body.get("origin").and_then(|o| o.as_str()) == Some("serve"))
            .filter_map(|r| summary_of(r.seq, &r.body))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut recent = shared.recent.lock().unwrap_or_else(|p| p.into_inner());
    for d in loaded.into_iter().rev().take(RECENT).rev() {
        recent.push_back(d);
    }
}

/// A journaled decision of `serve` as the API lists it.
pub fn summary_of(seq: u64, body: &serde_json::Value) -> Option<DecisionSummary> {
    let d = &body["decision"];
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let (instance, app, basis) = (s(&body["instance"]), s(&body["app"]), s(&body["basis"]));
    Some(DecisionSummary {
        seq: Some(seq),
        time: s(&d["now"]),
        namespace: s(&body["scenario"]["app"]["metadata"]["namespace"]),
        verdict: d["verdict"].as_str()?.to_string(),
        confidence: d["confidence"].as_f64().unwrap_or(0.0),
        rule: s(&d["policy"]["rule"]),
        mode: s(&d["mode"]),
        gate: None,
        event: events::event_name(&instance, &app, &basis),
        by: s(&body["by"]),
        instance,
        app,
        basis,
    })
}

#[allow(clippy::too_many_arguments)]
async fn elect(
    si: usize,
    kube: Arc<Clusters>,
    context: String,
    s: Settings,
    shard: String,
    led: Arc<AtomicUsize>,
    valid_until: Arc<AtomicI64>,
    tx: mpsc::Sender<Msg>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut elector: Option<lease::Elector> = None;
    let mut was = false;
    let mut last_error: Option<String> = None;
    loop {
        if elector.is_none() {
            match kube.client(&context).await {
                Ok(c) => {
                    elector = Some(lease::Elector::new(
                        c,
                        &s.lease_namespace,
                        &lease::lease_name(&shard),
                        &s.identity,
                        s.lease_duration,
                        s.renew_deadline,
                    ));
                }
                Err(e) => {
                    let e = format!(
                        "the control plane of {shard} (kube context `{context}`): {e}; set the instance's kube_context"
                    );
                    if last_error.as_ref() != Some(&e) {
                        tracing::warn!(shard = %shard, error = %e, "no lease client");
                        let _ = tx.send(Msg::Role(si, Err(e.clone()))).await;
                        last_error = Some(e);
                    }
                }
            }
        }
        if let Some(el) = elector.as_mut() {
            // A shard not led yet reserves its place in the count first, so two electors of
            // this replica cannot both see room for one more.
            let at_max = !was && {
                let before = led.fetch_add(1, Ordering::SeqCst);
                s.max_shards.is_some_and(|m| before >= m)
            };
            let expiry = if at_max {
                s.lease_duration * 2
            } else {
                s.lease_duration
            };
            let r = el.try_acquire_or_renew(expiry).await;
            let leading = match &r {
                Ok(lease::Role::Leader) => true,
                Ok(lease::Role::Follower(_)) => false,
                // A failed renewal: still leading until the renew deadline passes.
                Err(_) => el.leading(),
            };
            match (leading, el.valid_until()) {
                (true, Some(until)) => {
                    let left = until.saturating_duration_since(tokio::time::Instant::now());
                    valid_until.store(now_ms() + left.as_millis() as i64 - 500, Ordering::SeqCst);
                }
                _ => valid_until.store(0, Ordering::SeqCst),
            }
            // The reservation stays when this round won the shard, and goes otherwise; a lost
            // shard gives its place back.
            if !leading {
                led.fetch_sub(1, Ordering::SeqCst);
            }
            if leading != was {
                tracing::info!(shard = %shard, leading, "leadership changed");
                was = leading;
            }
            let report = match r {
                Ok(role) => {
                    last_error = None;
                    Ok(if leading { lease::Role::Leader } else { role })
                }
                Err(e) => {
                    let e = format!("the Lease of {shard}: {e}");
                    if last_error.as_ref() != Some(&e) {
                        tracing::warn!(shard = %shard, error = %e, "lease round failed");
                    }
                    last_error = Some(e.clone());
                    if leading {
                        Ok(lease::Role::Leader)
                    } else {
                        Err(e)
                    }
                }
            };
            if tx.send(Msg::Role(si, report)).await.is_err() {
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(s.retry_period) => {}
            _ = stop.changed() => {
                valid_until.store(0, Ordering::SeqCst);
                if let Some(el) = elector.as_mut()
                    && let Err(e) = el.release().await
                {
                    tracing::warn!(shard = %shard, error = %e, "the lease could not be released");
                }
                return;
            }
        }
    }
}

fn handle(ctx: &mut Ctx, shards: &mut [Shard], m: Msg) {
    handle_one(ctx, shards, m);
    let deciding = shards.iter().map(|s| s.inflight.len()).sum();
    ctx.shared
        .counters
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .deciding = deciding;
}

fn handle_one(ctx: &mut Ctx, shards: &mut [Shard], m: Msg) {
    match m {
        Msg::Fleet(i, u) => {
            let changed = apply(ctx, i, u);
            for si in 0..shards.len() {
                if shards[si].instance == i {
                    maybe_load_index(ctx, shards, si);
                    consider(ctx, shards, si, changed.as_deref());
                }
            }
        }
        Msg::Role(si, r) => {
            let leading = matches!(r, Ok(lease::Role::Leader));
            {
                let mut views = ctx.shared.shards.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(v) = views.get_mut(si) {
                    match &r {
                        Ok(role) => {
                            v.role = Some(role.clone());
                            v.error = None;
                        }
                        Err(e) => v.error = Some(e.clone()),
                    }
                }
            }
            let Some(s) = shards.get_mut(si) else {
                return;
            };
            if leading != s.leading {
                s.leading = leading;
                let name = ctx
                    .shared
                    .settings
                    .shards
                    .get(si)
                    .cloned()
                    .unwrap_or_default();
                ctx.shared
                    .counters
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .leader
                    .insert(name, leading);
                if !leading {
                    // Lost: nothing more is decided here; another replica has it.
                    s.tasks.abort_all();
                    s.inflight.clear();
                    s.decided = None;
                    s.loading = false;
                    set_deciding(ctx, si, false);
                }
            }
            if s.leading {
                maybe_load_index(ctx, shards, si);
            }
        }
        Msg::Index(si, r) => {
            let Some(s) = shards.get_mut(si) else {
                return;
            };
            s.loading = false;
            if !s.leading {
                return;
            }
            match r {
                Ok(map) => {
                    tracing::info!(
                        shard = si,
                        decided = map.len(),
                        "read what is already decided"
                    );
                    s.decided = Some(map);
                    set_deciding(ctx, si, true);
                    consider(ctx, shards, si, None);
                }
                Err(e) => {
                    tracing::warn!(shard = si, error = %e, "the decided drifts could not be read; retrying");
                    if let Ok(mut v) = ctx.shared.shards.lock()
                        && let Some(v) = v.get_mut(si)
                    {
                        v.error = Some(format!("the DriftDecision Events could not be read: {e}"));
                    }
                }
            }
        }
        Msg::Decided(done) => finish(ctx, shards, *done),
    }
}

fn set_deciding(ctx: &Ctx, si: usize, on: bool) {
    if let Ok(mut v) = ctx.shared.shards.lock()
        && let Some(v) = v.get_mut(si)
    {
        v.deciding = on;
    }
}

/// Applies a fleet update; returns the keys that changed (None: everything, after a list).
fn apply(ctx: &mut Ctx, i: usize, u: FleetUpdate) -> Option<Vec<AppKey>> {
    let now = chrono::Utc::now().timestamp();
    let mut fleet = ctx.shared.fleet.write().unwrap_or_else(|p| p.into_inner());
    let f = &mut fleet[i];
    let mut up = None;
    let out = match u {
        FleetUpdate::Connecting { .. } => Some(Vec::new()),
        FleetUpdate::Listed { rows, .. } => {
            let old = std::mem::take(&mut f.rows);
            for mut r in rows {
                r.sla = ctx.sla.for_project(&r.project);
                if let Some(o) = old.get(&r.key) {
                    r.follow(o, Some(now));
                }
                f.rows.insert(r.key.clone(), r);
            }
            f.listed = true;
            None
        }
        FleetUpdate::Live => {
            up = Some(true);
            f.up = true;
            f.error = None;
            Some(Vec::new())
        }
        FleetUpdate::Changed { upserts, deletes } => {
            let mut keys = Vec::new();
            for mut r in upserts {
                r.sla = ctx.sla.for_project(&r.project);
                if let Some(o) = f.rows.get(&r.key) {
                    r.follow(o, Some(now));
                    if o.health != r.health {
                        ctx.shared
                            .health
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .record(
                                &f.name,
                                &r.key.name,
                                now,
                                o.health.as_str(),
                                r.health.as_str(),
                            );
                    }
                }
                keys.push(r.key.clone());
                f.rows.insert(r.key.clone(), r);
            }
            for k in deletes {
                f.rows.remove(&k);
            }
            Some(keys)
        }
        FleetUpdate::Down { error, .. } => {
            up = Some(false);
            f.up = false;
            f.error = Some(error.to_string());
            Some(Vec::new())
        }
    };
    let name = f.name.clone();
    drop(fleet);
    if let Some(up) = up {
        ctx.shared
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .up
            .insert(name, up);
    }
    out
}

/// Starts reading the Events of a shard just led, once its instance is listed.
fn maybe_load_index(ctx: &mut Ctx, shards: &mut [Shard], si: usize) {
    let s = &mut shards[si];
    if !s.leading || s.decided.is_some() || s.loading {
        return;
    }
    let i = s.instance;
    let namespaces: Vec<String> = {
        let fleet = ctx.shared.fleet.read().unwrap_or_else(|p| p.into_inner());
        if !fleet[i].listed {
            return;
        }
        let mut ns: Vec<String> = fleet[i]
            .rows
            .keys()
            .map(|k| k.namespace.clone())
            .filter(|n| !n.is_empty())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        ns.sort();
        ns
    };
    s.loading = true;
    let (kube, context) = (ctx.kube.clone(), ctx.contexts[i].clone());
    let instance = ctx
        .shared
        .fleet
        .read()
        .map(|f| f[i].name.clone())
        .unwrap_or_default();
    let tx = ctx.tx.clone();
    let events_on = ctx.events_on;
    s.tasks.spawn(async move {
        let r = async {
            if !events_on {
                return Ok(HashMap::new());
            }
            let client = kube.client(&context).await?;
            let mut all = HashMap::new();
            for ns in namespaces {
                all.extend(events::decided(&client, &ns, &instance).await?);
            }
            Ok(all)
        }
        .await;
        let _ = tx.send(Msg::Index(si, r)).await;
    });
}

/// Starts the decisions a shard's drifted apps want (`keys`: only those; None: all).
fn consider(ctx: &mut Ctx, shards: &mut [Shard], si: usize, keys: Option<&[AppKey]>) {
    let s = &mut shards[si];
    if !s.leading || s.valid_until.load(Ordering::SeqCst) <= now_ms() {
        return;
    }
    let Some(decided) = s.decided.as_ref() else {
        return;
    };
    let i = s.instance;
    let fleet = ctx.shared.fleet.read().unwrap_or_else(|p| p.into_inner());
    let rows = &fleet[i].rows;
    let wanted: Vec<(AppKey, String)> = {
        let pick = |r: &AppRow| -> Option<(AppKey, String)> {
            if r.sync != Sync::OutOfSync || s.inflight.contains(&r.key) {
                return None;
            }
            let b = basis(r);
            if decided.get(&r.key.name) == Some(&b) {
                return None;
            }
            if let Some((fb, at)) = s.failed.get(&r.key)
                && *fb == b
                && at.elapsed() < RETRY_FAILED
            {
                return None;
            }
            Some((r.key.clone(), b))
        };
        match keys {
            Some(ks) => ks
                .iter()
                .filter_map(|k| rows.get(k))
                .filter_map(pick)
                .collect(),
            None => rows.values().filter_map(pick).collect(),
        }
    };
    drop(fleet);
    let tx = ctx.tx.clone();
    for (key, b) in wanted {
        s.inflight.insert(key.clone());
        let svc = ctx.shared.svc.clone();
        let client = ctx.clients[i].clone();
        let session = ctx.sessions[i].clone();
        let (kube, context) = (ctx.kube.clone(), ctx.contexts[i].clone());
        let valid = s.valid_until.clone();
        let identity = ctx.shared.identity.clone();
        let events_on = ctx.events_on;
        let tx = tx.clone();
        s.tasks.spawn(async move {
            let done = decide_one(DecideJob {
                shard: si,
                svc,
                client,
                session,
                kube,
                context,
                valid,
                identity,
                events_on,
                key,
                basis: b,
            })
            .await;
            let _ = tx.send(Msg::Decided(Box::new(done))).await;
        });
    }
}

struct DecideJob {
    shard: usize,
    svc: Arc<Service>,
    client: ArgoClient,
    session: Session,
    kube: Arc<Clusters>,
    context: String,
    valid: Arc<AtomicI64>,
    identity: String,
    events_on: bool,
    key: AppKey,
    basis: String,
}

fn still_leading(valid: &AtomicI64) -> bool {
    valid.load(Ordering::SeqCst) > now_ms()
}

async fn decide_one(j: DecideJob) -> Done {
    let mut done = Done {
        shard: j.shard,
        key: j.key.clone(),
        basis: j.basis.clone(),
        result: Err(String::new()),
        secs: 0.0,
        sources: Vec::new(),
        action: None,
        posted: None,
    };
    if !still_leading(&j.valid) {
        done.result = Err("no longer leading this shard".into());
        return done;
    }
    let r = crate::actions::autonomous::decide_and_act_as(
        &j.svc,
        &j.client,
        Some(&j.session),
        &j.key,
        "serve",
        Some(serde_json::json!({"basis": j.basis, "by": j.identity})),
    )
    .await;
    let out = match r {
        Ok(o) => o,
        Err(e) => {
            done.result = Err(e);
            return done;
        }
    };
    done.secs = out.decided.took.as_secs_f64();
    done.sources = out.decided.sources.clone();
    done.action = out.gate.as_ref().map(|g| {
        let result = match g {
            Gate::Sync if out.action_error.is_none() => "started",
            Gate::Sync => "failed",
            Gate::Leave { .. } => "left",
            Gate::Hold { .. } => "held",
        };
        ("sync".to_string(), result.to_string())
    });
    let ns = if j.key.namespace.is_empty() {
        "argocd".to_string()
    } else {
        j.key.namespace.clone()
    };
    let instance = j.client.instance().to_string();
    let name = events::event_name(&instance, &j.key.name, &j.basis);
    let posted = if !j.events_on {
        None
    } else if !still_leading(&j.valid) {
        Some(events::Posted::Failed(
            "the Lease was lost before the Event was written".into(),
        ))
    } else {
        let ev = events::event(
            &events::Written {
                instance: &instance,
                namespace: &ns,
                app: &j.key.name,
                basis: &j.basis,
                identity: &j.identity,
                done: &out,
            },
            out.decided.now,
        );
        Some(match j.kube.client(&j.context).await {
            Ok(c) => events::post(&c, &ns, ev).await,
            Err(e) => events::Posted::Failed(e),
        })
    };
    let d = &out.decided.decision;
    done.result = Ok(DecisionSummary {
        seq: out.decided.seq,
        time: out.decided.now.to_rfc3339(),
        instance,
        namespace: ns,
        app: j.key.name.clone(),
        verdict: d.verdict.as_str().to_string(),
        confidence: d.confidence,
        rule: d.policy.rule.clone(),
        mode: d.mode.as_str().to_string(),
        basis: j.basis.clone(),
        gate: out.gate.as_ref().map(|g| match g {
            Gate::Sync => "sync".to_string(),
            Gate::Leave { why } => format!("leave: {why}"),
            Gate::Hold { why } => format!("hold: {why}"),
        }),
        event: match &posted {
            None => "events are off ([serve] events = false)".into(),
            Some(events::Posted::Created) => name,
            Some(events::Posted::Exists) => format!("{name} (already written)"),
            Some(events::Posted::Failed(e)) => format!("not written: {e}"),
        },
        by: j.identity.clone(),
    });
    done.posted = posted;
    done
}

fn finish(ctx: &mut Ctx, shards: &mut [Shard], done: Done) {
    let si = done.shard;
    let Some(s) = shards.get_mut(si) else {
        return;
    };
    s.inflight.remove(&done.key);
    {
        let mut c = ctx
            .shared
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (name, state) in &done.sources {
            let word = state.split_whitespace().next().unwrap_or("").to_string();
            c.sources.insert(name.clone(), word);
        }
        match &done.result {
            Ok(d) => {
                *c.decisions
                    .entry((d.verdict.clone(), d.mode.clone(), d.rule.clone()))
                    .or_default() += 1;
                c.decision_seconds.observe(done.secs);
            }
            Err(_) => c.decision_errors += 1,
        }
        if let Some(a) = &done.action {
            *c.actions.entry(a.clone()).or_default() += 1;
        }
        if let Some(p) = &done.posted {
            *c.events.entry(p.label().to_string()).or_default() += 1;
        }
    }
    match done.result {
        Ok(d) => {
            if let Some(events::Posted::Failed(e)) = &done.posted {
                tracing::warn!(app = %d.app, error = %e, "the DriftDecision Event was not written");
            }
            s.failed.remove(&done.key);
            if let Some(map) = s.decided.as_mut() {
                map.insert(done.key.name.clone(), done.basis.clone());
            }
            let mut recent = ctx.shared.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.push_back(d);
            while recent.len() > RECENT {
                recent.pop_front();
            }
        }
        Err(e) => {
            if s.leading {
                tracing::info!(app = %done.key.name, error = %e, "not decided");
                s.failed
                    .insert(done.key.clone(), (done.basis, tokio::time::Instant::now()));
            }
        }
    }
}
