//! Performing effects. The only place that spawns tasks: each owns its inputs and ends by
//! sending a `Msg` over the one bounded channel. A superseded request is aborted.

pub mod ops;
pub mod screen;
pub mod terminal;

use std::collections::HashMap;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::effect::Effect;
use super::model::{ConnState, InstanceView};
use super::msg::Msg;
use crate::clients::argocd::watch::{FleetUpdate, WatchOptions, watch_fleet};
use crate::clients::argocd::{AppQuery, ArgoClient, ArgoError, LIST_FIELDS};
use crate::config::Config;
use crate::model::fleet::{AppKey, AppRow, InstanceId};

/// The instances of a config: their clients (or why there is none) and how the UI shows them.
pub struct Instances {
    pub clients: Vec<Result<ArgoClient, ArgoError>>,
    pub queries: Vec<AppQuery>,
    pub views: Vec<InstanceView>,
}

impl Instances {
    pub fn from_config(cfg: &Config) -> Instances {
        Self::with_options(cfg, crate::clients::argocd::ClientOptions::default())
    }

    /// With other client options (the snapshot's more patient retries).
    pub fn with_options(cfg: &Config, opts: crate::clients::argocd::ClientOptions) -> Instances {
        let mut clients = Vec::new();
        let mut queries = Vec::new();
        let mut views = Vec::new();
        for ic in &cfg.instances {
            let client = ArgoClient::with_options(ic, opts);
            views.push(InstanceView {
                name: ic.name.clone(),
                url: ic.url.clone(),
                state: match &client {
                    Ok(_) => ConnState::Connecting { attempt: 0 },
                    Err(e) => ConnState::Failed(e.clone()),
                },
                version: None,
                listed: false,
                insecure: ic.insecure,
                read_only: ic.read_only || cfg.read_only,
            });
            clients.push(client);
            queries.push(AppQuery {
                projects: ic.projects.clone(),
                selector: ic.selector.clone(),
                ..Default::default()
            });
        }
        Instances {
            clients,
            queries,
            views,
        }
    }

    pub fn client(&self, id: InstanceId) -> Option<&ArgoClient> {
        self.clients.get(id as usize).and_then(|c| c.as_ref().ok())
    }
}

fn ns(key: &AppKey) -> Option<&str> {
    (!key.namespace.is_empty()).then_some(key.namespace.as_str())
}

/// Performs a one-shot fetch effect and returns its message.
pub async fn fetch(client: ArgoClient, effect: Effect) -> Option<Msg> {
    Some(match effect {
        Effect::FetchApp { req, key } => Msg::AppLoaded {
            req,
            result: client
                .get_app(&key.name, ns(&key), None)
                .await
                .map(Box::new),
        },
        Effect::FetchTree { req, key } => Msg::TreeLoaded {
            req,
            result: client.resource_tree(&key.name, ns(&key)).await,
        },
        Effect::FetchEvents { req, key } => Msg::EventsLoaded {
            req,
            result: client.app_events(&key.name, ns(&key)).await,
        },
        _ => return None,
    })
}

fn effect_instance(e: &Effect) -> Option<InstanceId> {
    match e {
        Effect::FetchApp { key, .. }
        | Effect::FetchTree { key, .. }
        | Effect::FetchEvents { key, .. } => Some(key.instance),
        _ => None,
    }
}

fn effect_req(e: &Effect) -> Option<u64> {
    match e {
        Effect::FetchApp { req, .. }
        | Effect::FetchTree { req, .. }
        | Effect::FetchEvents { req, .. } => Some(*req),
        _ => None,
    }
}

/// What the event loop must do after a batch of effects.
#[derive(Debug, Default)]
pub struct Outcome {
    pub quit: bool,
    pub terminal: Vec<Effect>,
}

/// Fetches an app's managed resources and computes their diffs off the event loop; then, when
/// `highlight`, the syntax tokens. Returns the messages in order.
pub async fn fetch_diff(client: ArgoClient, req: u64, key: AppKey, highlight: bool) -> Vec<Msg> {
    use crate::tui::diffview::DiffDoc;
    let docs: Result<Vec<DiffDoc>, String> =
        match client.managed_resources(&key.name, ns(&key)).await {
            Ok(mr) => tokio::task::spawn_blocking(move || {
                crate::diff::from_managed(&mr.items)
                    .map(|v| v.into_iter().map(DiffDoc::new).collect())
            })
            .await
            .unwrap_or_else(|e| Err(format!("the diff computation failed: {e}"))),
            Err(e) => Err(e.to_string()),
        };
    let jobs = match (&docs, highlight) {
        (Ok(d), true) => crate::tui::diffview::hunk_jobs(d),
        _ => Vec::new(),
    };
    let mut out = vec![Msg::DiffLoaded { req, result: docs }];
    if !jobs.is_empty()
        && let Ok(toks) =
            tokio::task::spawn_blocking(move || jobs.iter().map(|j| j.run()).collect::<Vec<_>>())
                .await
    {
        out.push(Msg::DiffHighlighted { req, toks });
    }
    out
}

/// Highlights regions off the event loop.
pub async fn highlight(req: u64, jobs: Vec<crate::tui::diffview::HighlightJob>) -> Option<Msg> {
    let toks =
        tokio::task::spawn_blocking(move || jobs.iter().map(|j| j.run()).collect::<Vec<_>>())
            .await
            .ok()?;
    Some(Msg::DiffHighlighted { req, toks })
}

/// The interactive runtime: long-lived watchers and cancellable requests.
pub struct Runtime {
    /// Deciding, journaling, reviews (absent: decisions unavailable, and the model says why).
    pub decide: Option<std::sync::Arc<crate::tui::decisions::DecideKit>>,
    /// Protected apps and the journal, for actions.
    pub acts: ops::ActKit,
    /// The kube contexts of the clusters.
    pub kube: std::sync::Arc<crate::clients::kube::Clusters>,
    tx: mpsc::Sender<Msg>,
    inst: Instances,
    tasks: HashMap<u64, AbortHandle>,
    watchers: Vec<AbortHandle>,
    pub watch_opts: WatchOptions,
}

impl Runtime {
    pub fn new(inst: Instances, tx: mpsc::Sender<Msg>) -> Runtime {
        Runtime {
            decide: None,
            acts: ops::ActKit::default(),
            kube: std::sync::Arc::new(crate::clients::kube::Clusters::load(None)),
            tx,
            inst,
            tasks: HashMap::new(),
            watchers: Vec::new(),
            watch_opts: WatchOptions::default(),
        }
    }

    /// Runs effects. Returns the ones only the event loop can perform (they need the terminal:
    /// clipboard, pager, external diff tool) and whether to quit.
    pub fn run(&mut self, effects: Vec<Effect>) -> Outcome {
        let mut out = Outcome::default();
        for e in effects {
            match e {
                Effect::Quit => out.quit = true,
                Effect::Clipboard(_)
                | Effect::Pager(_)
                | Effect::ExternalDiff { .. }
                | Effect::Theme(_) => out.terminal.push(e),
                Effect::Highlight { req, jobs } => {
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        if let Some(m) = highlight(req, jobs).await {
                            let _ = tx.send(m).await;
                        }
                    });
                }
                Effect::FetchDiff { req, key } => {
                    let Some(client) = self.inst.client(key.instance).cloned() else {
                        continue;
                    };
                    let tx = self.tx.clone();
                    let h = tokio::spawn(async move {
                        for msg in fetch_diff(client, req, key, true).await {
                            if tx.send(msg).await.is_err() {
                                return;
                            }
                        }
                    });
                    self.tasks.insert(req, h.abort_handle());
                }
                Effect::Reconnect(ids) => {
                    for id in ids {
                        if let Some(client) = self.inst.client(id) {
                            client.reconnect_now();
                        }
                    }
                }
                Effect::WatchInstance(id) => {
                    if let Some(client) = self.inst.client(id).cloned() {
                        let query = self.inst.queries[id as usize].clone();
                        let tx = self.tx.clone();
                        let opts = self.watch_opts;
                        let h = tokio::spawn(async move {
                            watch_fleet(client, id, query, opts, tx, move |u| Msg::Fleet(id, u))
                                .await;
                        });
                        self.watchers.push(h.abort_handle());
                    }
                }
                Effect::Prepare { req, what } => {
                    let keys: Vec<AppKey> = match &what {
                        crate::tui::ops::Prepare::Sync(keys) => keys.clone(),
                        crate::tui::ops::Prepare::Rollback { key, .. }
                        | crate::tui::ops::Prepare::Terminate(key)
                        | crate::tui::ops::Prepare::Defer(key)
                        | crate::tui::ops::Prepare::Annotate(key)
                        | crate::tui::ops::Prepare::Adopt(key) => vec![key.clone()],
                    };
                    let sessions = keys
                        .into_iter()
                        .map(|k| {
                            let s = ops::session(&self.inst, &self.acts, k.instance);
                            (k, s)
                        })
                        .collect();
                    let tx = self.tx.clone();
                    let h = tokio::spawn(async move {
                        let result = ops::prepare(sessions, what).await;
                        let _ = tx.send(Msg::Prepared { req, result }).await;
                    });
                    self.tasks.insert(req, h.abort_handle());
                }
                Effect::Act { op, act, decision } => {
                    // Not cancellable: an action, once confirmed, is followed to its end.
                    let s = ops::session(&self.inst, &self.acts, act.key().instance)
                        .map(|s| s.with_decision(decision));
                    tokio::spawn(ops::act(s, op, act, self.tx.clone()));
                }
                Effect::FetchCluster { .. } | Effect::FetchLogs { .. } => {
                    let req = match &e {
                        Effect::FetchCluster { req, .. } | Effect::FetchLogs { req, .. } => *req,
                        _ => 0,
                    };
                    let kube = self.kube.clone();
                    let tx = self.tx.clone();
                    let h = tokio::spawn(async move {
                        if let Some(m) = cluster_effect(kube, e).await {
                            let _ = tx.send(m).await;
                        }
                    });
                    self.tasks.insert(req, h.abort_handle());
                }
                Effect::FetchHistory { req, key } => {
                    let s = ops::session(&self.inst, &self.acts, key.instance);
                    let tx = self.tx.clone();
                    let h = tokio::spawn(async move {
                        if let Some(m) = ops::history(s, req, key).await {
                            let _ = tx.send(m).await;
                        }
                    });
                    self.tasks.insert(req, h.abort_handle());
                }
                Effect::Cancel(req) => {
                    if let Some(h) = self.tasks.remove(&req) {
                        h.abort();
                    }
                }
                Effect::Decide { .. } | Effect::Review { .. } | Effect::LoadShadow { .. } => {
                    let req = match &e {
                        Effect::Decide { req, .. } | Effect::LoadShadow { req } => Some(*req),
                        _ => None,
                    };
                    let Some(fut) = decision_effect(self.decide.clone(), &self.inst, &self.acts, e)
                    else {
                        continue;
                    };
                    let tx = self.tx.clone();
                    let h = tokio::spawn(async move {
                        if let Some(m) = fut.await {
                            let _ = tx.send(m).await;
                        }
                    });
                    if let Some(req) = req {
                        self.tasks.insert(req, h.abort_handle());
                    }
                }
                e => {
                    let (Some(id), Some(req)) = (effect_instance(&e), effect_req(&e)) else {
                        continue;
                    };
                    let Some(client) = self.inst.client(id).cloned() else {
                        continue;
                    };
                    let tx = self.tx.clone();
                    let h = tokio::spawn(async move {
                        if let Some(msg) = fetch(client, e).await {
                            let _ = tx.send(msg).await;
                        }
                    });
                    self.tasks.insert(req, h.abort_handle());
                }
            }
        }
        if self.tasks.len() > 64 {
            self.tasks.retain(|_, h| !h.is_finished());
        }
        out
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for h in self.watchers.iter().chain(self.tasks.values()) {
            h.abort();
        }
    }
}

type MsgFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Option<Msg>> + Send>>;

/// The work of a decision effect, ready to spawn; `None` when there is nothing to do.
fn decision_effect(
    kit: Option<std::sync::Arc<crate::tui::decisions::DecideKit>>,
    inst: &Instances,
    acts: &ops::ActKit,
    e: Effect,
) -> Option<MsgFuture> {
    use crate::tui::decisions;
    match e {
        Effect::Decide { req, key } => {
            let client = inst.client(key.instance).cloned();
            let session = ops::session(inst, acts, key.instance);
            Some(Box::pin(async move {
                let result = match (kit, client) {
                    (Some(kit), Some(client)) => {
                        decisions::decide_app(kit, client, session, key.clone()).await
                    }
                    (None, _) => Err("decisions are not set up".to_string()),
                    (_, None) => Err("the instance has no usable client".to_string()),
                };
                Some(Msg::Decided { req, key, result })
            }))
        }
        Effect::Review {
            key,
            decision_seq,
            advised,
            chosen,
        } => {
            let instance = inst
                .views
                .get(key.instance as usize)
                .map(|v| v.name.clone())
                .unwrap_or_default();
            let client = inst.client(key.instance).cloned();
            Some(Box::pin(async move {
                // The operator as every action names them (env, the Argo CD account, the OS user).
                let operator = match &client {
                    Some(c) => crate::actions::operator(c).await,
                    None => crate::actions::local_operator(),
                };
                let result = match kit {
                    Some(kit) => tokio::task::spawn_blocking({
                        let key = key.clone();
                        move || {
                            decisions::record_review(
                                &kit,
                                &key,
                                &instance,
                                &operator,
                                decision_seq,
                                advised,
                                chosen,
                            )
                        }
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string())),
                    None => Err("decisions are not set up".to_string()),
                };
                Some(Msg::Reviewed {
                    key,
                    chosen,
                    result,
                })
            }))
        }
        Effect::LoadShadow { req } => Some(Box::pin(async move {
            let result = match kit {
                Some(kit) => tokio::task::spawn_blocking(move || {
                    decisions::shadow_report(&kit.journal, kit.limits).map(Box::new)
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string())),
                None => Err("decisions are not set up".to_string()),
            };
            Some(Msg::ShadowLoaded { req, result })
        })),
        _ => None,
    }
}

/// The headless runtime of `snapshot`: every effect is awaited before the next key, and an
/// instance is listed once instead of watched.
pub struct Headless {
    pub inst: Instances,
    pub kube: std::sync::Arc<crate::clients::kube::Clusters>,
    pub decide: Option<std::sync::Arc<crate::tui::decisions::DecideKit>>,
}

impl Headless {
    pub async fn run(&mut self, effects: Vec<Effect>) -> Vec<Msg> {
        let mut futs: Vec<tokio::task::JoinHandle<Vec<Msg>>> = Vec::new();
        for e in effects {
            match e {
                Effect::WatchInstance(id) => {
                    let Some(client) = self.inst.client(id).cloned() else {
                        continue;
                    };
                    let query = self.inst.queries[id as usize].clone();
                    futs.push(tokio::spawn(async move {
                        vec![list_once(&client, id, &query).await]
                    }));
                }
                Effect::FetchHistory { req, key } => {
                    let s = ops::session(&self.inst, &ops::ActKit::default(), key.instance);
                    futs.push(tokio::spawn(async move {
                        ops::history(s, req, key).await.into_iter().collect()
                    }));
                }
                Effect::FetchCluster { .. } | Effect::FetchLogs { .. } => {
                    let kube = self.kube.clone();
                    futs.push(tokio::spawn(async move {
                        cluster_effect(kube, e).await.into_iter().collect()
                    }));
                }
                // A snapshot never acts and never prepares an action.
                Effect::Prepare { .. } | Effect::Act { .. } => {}
                Effect::Theme(_) => futs.push(tokio::spawn(async {
                    vec![Msg::ThemeChanged(Err(
                        "a snapshot keeps the theme it started with (the config's theme)".into(),
                    ))]
                })),
                Effect::Quit
                | Effect::Cancel(_)
                | Effect::Reconnect(_)
                | Effect::Clipboard(_)
                | Effect::Pager(_)
                | Effect::ExternalDiff { .. } => {}
                Effect::FetchDiff { req, key } => {
                    let Some(client) = self.inst.client(key.instance).cloned() else {
                        continue;
                    };
                    futs.push(tokio::spawn(fetch_diff(client, req, key, true)));
                }
                Effect::Highlight { req, jobs } => {
                    futs.push(tokio::spawn(async move {
                        highlight(req, jobs).await.into_iter().collect()
                    }));
                }
                Effect::Decide { .. } | Effect::Review { .. } | Effect::LoadShadow { .. } => {
                    if let Some(fut) =
                        decision_effect(self.decide.clone(), &self.inst, &ops::ActKit::default(), e)
                    {
                        futs.push(tokio::spawn(async move { fut.await.into_iter().collect() }));
                    }
                }
                e => {
                    let Some(id) = effect_instance(&e) else {
                        continue;
                    };
                    let Some(client) = self.inst.client(id).cloned() else {
                        continue;
                    };
                    futs.push(tokio::spawn(async move {
                        fetch(client, e).await.into_iter().collect()
                    }));
                }
            }
        }
        let mut out = Vec::new();
        for f in futs {
            if let Ok(msgs) = f.await {
                out.extend(msgs);
            }
        }
        out
    }
}

/// Reads from an app's cluster (pods and events, or a log tail).
async fn cluster_effect(
    kube: std::sync::Arc<crate::clients::kube::Clusters>,
    e: Effect,
) -> Option<Msg> {
    use crate::clients::kube;
    match e {
        Effect::FetchCluster { req, target } => {
            let result = match kube.context_for(&target.cluster, &target.server) {
                Ok(ctx) => {
                    let (v, o) = tokio::join!(
                        kube::view(
                            &kube,
                            &target.cluster,
                            &ctx,
                            &target.namespace,
                            &target.pods
                        ),
                        kube::objects(&kube, &ctx, &target.resources)
                    );
                    v.map(|mut v| {
                        v.objects = o.unwrap_or_default();
                        v
                    })
                }
                Err(e) => Err(e),
            };
            Some(Msg::ClusterLoaded { req, result })
        }
        Effect::FetchLogs {
            req,
            target,
            pod,
            container,
        } => {
            let result = match kube.context_for(&target.cluster, &target.server) {
                Ok(ctx) => kube::logs(&kube, &ctx, &target.namespace, &pod, &container, 200).await,
                Err(e) => Err(e),
            };
            Some(Msg::LogsLoaded {
                req,
                title: format!("Log of {pod}/{container} (last 200 lines)"),
                result,
            })
        }
        _ => None,
    }
}

/// Lists an instance once, as the watcher's first step does.
pub async fn list_once(client: &ArgoClient, id: InstanceId, query: &AppQuery) -> Msg {
    let (list, version, names) = tokio::join!(
        client.list_apps(query, Some(LIST_FIELDS)),
        client.version(),
        crate::clients::argocd::watch::cluster_names(client)
    );
    match list {
        Ok(list) => Msg::Fleet(
            id,
            FleetUpdate::Listed {
                rows: list
                    .items
                    .iter()
                    .map(|a| {
                        let mut r = AppRow::from_app(id, a);
                        r.name_cluster(&names);
                        r
                    })
                    .collect(),
                resource_version: list.metadata.resource_version,
                version: version.ok().map(|v| v.version),
            },
        ),
        Err(error) => Msg::Fleet(
            id,
            FleetUpdate::Down {
                error,
                retry_in: std::time::Duration::ZERO,
            },
        ),
    }
}
