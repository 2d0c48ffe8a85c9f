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

/// Work only the event loop can do: it owns the terminal and the theme.
#[derive(Debug)]
pub enum TerminalWork {
    Clipboard(String),
    Pager(String),
    ExternalDiff {
        name: String,
        live: String,
        desired: String,
    },
    Theme(String),
}

/// What the event loop must do after a batch of effects.
#[derive(Debug, Default)]
pub struct Outcome {
    pub quit: bool,
    pub terminal: Vec<TerminalWork>,
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
    /// The team's `driftdeck serve` (`[team]`).
    pub team: Option<std::sync::Arc<crate::clients::team::TeamClient>>,
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
            team: None,
            tx,
            inst,
            tasks: HashMap::new(),
            watchers: Vec::new(),
            watch_opts: WatchOptions::default(),
        }
    }

    /// Runs effects. Returns the ones only the event loop can perform (they need the terminal:
    /// clipboard, pager, external diff tool, theme) and whether to quit.
    pub fn run(&mut self, effects: Vec<Effect>) -> Outcome {
        let mut out = Outcome::default();
        for e in effects {
            let env = Env {
                inst: &self.inst,
                acts: &self.acts,
                kube: &self.kube,
                decide: &self.decide,
                team: self.team.clone(),
                sink: Sink::Loop(self.tx.clone()),
            };
            match plan(&env, e) {
                Work::Quit => out.quit = true,
                Work::Terminal(w) => out.terminal.push(w),
                Work::Watch(id) => {
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
                Work::Reconnect(ids) => {
                    for id in ids {
                        if let Some(client) = self.inst.client(id) {
                            client.reconnect_now();
                        }
                    }
                }
                Work::Cancel(req) => {
                    if let Some(h) = self.tasks.remove(&req) {
                        h.abort();
                    }
                }
                // Not cancellable: an action, once confirmed, is followed to its end.
                Work::Act(job) => {
                    tokio::spawn(job);
                }
                Work::Prepare(req, job) => {
                    let h = tokio::spawn(job);
                    self.tasks.insert(req, h.abort_handle());
                }
                Work::Read(req, job) => {
                    let h = tokio::spawn(job);
                    if let Some(req) = req {
                        self.tasks.insert(req, h.abort_handle());
                    }
                }
                Work::Nothing => {}
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

/// Where a task's messages go: the event loop's bounded channel, or a snapshot's collector.
#[derive(Clone)]
pub enum Sink {
    Loop(mpsc::Sender<Msg>),
    Collect(mpsc::UnboundedSender<Msg>),
}

impl Sink {
    /// Sends a message; false when nobody listens any more.
    pub async fn send(&self, m: Msg) -> bool {
        match self {
            Sink::Loop(t) => t.send(m).await.is_ok(),
            Sink::Collect(t) => t.send(m).is_ok(),
        }
    }

    /// Sends a message unless the channel is full (progress that a later one replaces).
    pub fn offer(&self, m: Msg) {
        match self {
            Sink::Loop(t) => {
                let _ = t.try_send(m);
            }
            Sink::Collect(t) => {
                let _ = t.send(m);
            }
        }
    }
}

type Job = futures::future::BoxFuture<'static, ()>;

/// What performing one effect takes. [`plan`] is the one exhaustive match over `Effect`, so an
/// effect nobody performs does not compile; the interactive [`Runtime`] and the snapshot's
/// [`Headless`] differ only in what they do with each kind of work.
enum Work {
    Quit,
    /// Needs the terminal or the theme: clipboard, pager, external diff tool, `:theme`.
    Terminal(TerminalWork),
    /// Watch an instance (interactive) or list it once (a snapshot).
    Watch(InstanceId),
    Reconnect(Vec<InstanceId>),
    Cancel(u64),
    /// A confirmed action (never in a snapshot).
    Act(Job),
    /// Preparing an action's plan (never in a snapshot), cancellable.
    Prepare(u64, Job),
    /// A read or a computation, cancellable by its request id when it has one.
    Read(Option<u64>, Job),
    /// Nothing to do (an instance without a client).
    Nothing,
}

/// What planning needs.
struct Env<'a> {
    inst: &'a Instances,
    acts: &'a ops::ActKit,
    kube: &'a std::sync::Arc<crate::clients::kube::Clusters>,
    decide: &'a Option<std::sync::Arc<crate::tui::decisions::DecideKit>>,
    team: Option<std::sync::Arc<crate::clients::team::TeamClient>>,
    sink: Sink,
}

/// A job that sends what `fut` returns.
fn job<F>(sink: Sink, fut: F) -> Job
where
    F: std::future::Future<Output = Vec<Msg>> + Send + 'static,
{
    Box::pin(async move {
        for m in fut.await {
            if !sink.send(m).await {
                return;
            }
        }
    })
}

/// The work of one effect.
fn plan(env: &Env<'_>, e: Effect) -> Work {
    use crate::tui::decisions;
    let sink = env.sink.clone();
    let client_of = |id: InstanceId| env.inst.client(id).cloned();
    match e {
        Effect::Quit => Work::Quit,
        Effect::Clipboard(text) => Work::Terminal(TerminalWork::Clipboard(text)),
        Effect::Pager(text) => Work::Terminal(TerminalWork::Pager(text)),
        Effect::ExternalDiff {
            name,
            live,
            desired,
        } => Work::Terminal(TerminalWork::ExternalDiff {
            name,
            live,
            desired,
        }),
        Effect::Theme(name) => Work::Terminal(TerminalWork::Theme(name)),
        Effect::WatchInstance(id) => Work::Watch(id),
        Effect::Reconnect(ids) => Work::Reconnect(ids),
        Effect::Cancel(req) => Work::Cancel(req),
        Effect::FetchApp { req, key } => match client_of(key.instance) {
            Some(c) => Work::Read(
                Some(req),
                job(sink, async move {
                    let result = c.get_app(&key.name, ns(&key), None).await.map(Box::new);
                    vec![Msg::AppLoaded { req, result }]
                }),
            ),
            None => Work::Nothing,
        },
        Effect::FetchAppSets(instance) => match client_of(instance) {
            Some(c) => Work::Read(
                None,
                job(sink, async move {
                    let result = c.appsets().await.map_err(|e| e.to_string());
                    vec![Msg::AppSetsLoaded { instance, result }]
                }),
            ),
            None => Work::Nothing,
        },
        Effect::FetchDriftSince(keys) => {
            let jobs: Vec<_> = keys
                .into_iter()
                .filter_map(|k| Some((client_of(k.instance)?, k)))
                .collect();
            Work::Read(
                None,
                job(sink, async move {
                    use futures::StreamExt;
                    // A few at a time: a fleet first listed may have hundreds drifted.
                    let found: Vec<_> = futures::stream::iter(jobs)
                        .map(|(c, k)| async move {
                            let since = c.app_events(&k.name, ns(&k)).await.ok().and_then(|e| {
                                crate::model::fleet::out_of_sync_since_from_events(&e)
                            });
                            (k, since)
                        })
                        .buffer_unordered(8)
                        .collect()
                        .await;
                    vec![Msg::DriftSince(found)]
                }),
            )
        }
        Effect::FetchTree { req, key } => match client_of(key.instance) {
            Some(c) => Work::Read(
                Some(req),
                job(sink, async move {
                    let result = c.resource_tree(&key.name, ns(&key)).await;
                    // The Rollouts of the tree, read live with their AnalysisRuns.
                    let rollouts = match &result {
                        Ok(tree) => read_rollouts(&c, &key, tree).await,
                        Err(_) => Ok(vec![]),
                    };
                    vec![
                        Msg::TreeLoaded { req, result },
                        Msg::RolloutsLoaded {
                            req,
                            result: rollouts,
                        },
                    ]
                }),
            ),
            None => Work::Nothing,
        },
        Effect::FetchEvents { req, key } => match client_of(key.instance) {
            Some(c) => Work::Read(
                Some(req),
                job(sink, async move {
                    let result = c.app_events(&key.name, ns(&key)).await;
                    vec![Msg::EventsLoaded { req, result }]
                }),
            ),
            None => Work::Nothing,
        },
        Effect::FetchDiff { req, key } => match client_of(key.instance) {
            Some(c) => Work::Read(Some(req), job(sink, fetch_diff(c, req, key, true))),
            None => Work::Nothing,
        },
        Effect::Highlight { req, jobs } => Work::Read(
            None,
            job(sink, async move {
                highlight(req, jobs).await.into_iter().collect()
            }),
        ),
        Effect::FetchHistory { req, key } => {
            let s = ops::session(env.inst, env.acts, key.instance);
            Work::Read(
                Some(req),
                job(sink, async move {
                    ops::history(s, req, key).await.into_iter().collect()
                }),
            )
        }
        Effect::FetchCluster { req, target } => {
            let kube = env.kube.clone();
            Work::Read(
                Some(req),
                job(
                    sink,
                    async move { vec![fetch_cluster(kube, req, target).await] },
                ),
            )
        }
        Effect::FollowLogs {
            req,
            target,
            pod,
            container,
            previous,
        } => {
            let kube = env.kube.clone();
            // A snapshot reads the tail and ends; the terminal follows until told to stop.
            let follow = matches!(sink, Sink::Loop(_));
            let out = sink.clone();
            Work::Read(
                Some(req),
                job(sink, async move {
                    let end =
                        follow_logs(kube, out, req, target, pod, container, previous, follow).await;
                    vec![Msg::LogEnded { req, result: end }]
                }),
            )
        }
        Effect::FetchObject {
            req,
            target,
            res,
            describe,
        } => {
            let kube = env.kube.clone();
            Work::Read(
                Some(req),
                job(sink, async move {
                    vec![fetch_object(kube, req, target, res, describe).await]
                }),
            )
        }
        Effect::Prepare { req, what } => {
            let keys: Vec<AppKey> = match &what {
                crate::tui::ops::Prepare::Sync(keys) => keys.clone(),
                crate::tui::ops::Prepare::Rollback { key, .. }
                | crate::tui::ops::Prepare::Terminate(key)
                | crate::tui::ops::Prepare::Defer(key)
                | crate::tui::ops::Prepare::Annotate(key)
                | crate::tui::ops::Prepare::Adopt(key)
                | crate::tui::ops::Prepare::ResourceActions { key, .. }
                | crate::tui::ops::Prepare::ResourceAction { key, .. } => vec![key.clone()],
            };
            let sessions = keys
                .into_iter()
                .map(|k| {
                    let s = ops::session(env.inst, env.acts, k.instance);
                    (k, s)
                })
                .collect();
            Work::Prepare(
                req,
                job(sink, async move {
                    vec![Msg::Prepared {
                        req,
                        result: ops::prepare(sessions, what).await,
                    }]
                }),
            )
        }
        Effect::Act { op, act, decision } => {
            let s = ops::session(env.inst, env.acts, act.key().instance)
                .map(|s| s.with_decision(decision));
            Work::Act(Box::pin(ops::act(s, op, act, sink)))
        }
        Effect::Decide { req, key } => {
            let kit = env.decide.clone();
            let client = client_of(key.instance);
            let session = ops::session(env.inst, env.acts, key.instance);
            Work::Read(
                Some(req),
                job(sink, async move {
                    let result = match (kit, client) {
                        (Some(kit), Some(client)) => {
                            decisions::decide_app(kit, client, session, key.clone()).await
                        }
                        (None, _) => Err("decisions are not set up".to_string()),
                        (_, None) => Err("the instance has no usable client".to_string()),
                    };
                    vec![Msg::Decided { req, key, result }]
                }),
            )
        }
        Effect::Review {
            key,
            decision_seq,
            advised,
            chosen,
        } => {
            let kit = env.decide.clone();
            let instance = env
                .inst
                .views
                .get(key.instance as usize)
                .map(|v| v.name.clone())
                .unwrap_or_default();
            let client = client_of(key.instance);
            Work::Read(
                None,
                job(sink, async move {
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
                    vec![Msg::Reviewed {
                        key,
                        chosen,
                        result,
                        team: false,
                    }]
                }),
            )
        }
        Effect::FetchDora => {
            let clients: Vec<(String, ArgoClient, AppQuery)> = env
                .inst
                .views
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let c = env.inst.client(i as u16)?.clone();
                    Some((v.name.clone(), c, env.inst.queries[i].clone()))
                })
                .collect();
            Work::Read(
                None,
                job(sink, async move {
                    let mut apps = Vec::new();
                    let mut errors = Vec::new();
                    for (name, c, q) in clients {
                        match c.list_apps(&q, crate::model::dora::HISTORY_FIELDS).await {
                            Ok(list) => apps.extend(
                                list.items
                                    .iter()
                                    .map(|a| crate::model::dora::AppHistory::of(&name, a)),
                            ),
                            Err(e) => errors.push(format!("{name}: {e}")),
                        }
                    }
                    vec![Msg::DoraLoaded { apps, errors }]
                }),
            )
        }
        Effect::FetchTeam { since } => {
            let team = env.team.clone();
            Work::Read(
                None,
                job(sink, async move {
                    let result = match team {
                        Some(t) => t.decisions(since).await,
                        None => Err("no [team] is configured".to_string()),
                    };
                    vec![Msg::TeamLoaded { result }]
                }),
            )
        }
        Effect::ReviewTeam {
            key,
            decision_seq,
            chosen,
        } => {
            let team = env.team.clone();
            let client = client_of(key.instance);
            Work::Read(
                None,
                job(sink, async move {
                    let operator = match &client {
                        Some(c) => crate::actions::operator(c).await,
                        None => crate::actions::local_operator(),
                    };
                    let result = match team {
                        Some(t) => t.review(decision_seq, chosen, &operator).await,
                        None => Err("no [team] is configured".to_string()),
                    };
                    vec![Msg::Reviewed {
                        key,
                        chosen,
                        result,
                        team: true,
                    }]
                }),
            )
        }
        Effect::LoadShadow { req } => {
            let kit = env.decide.clone();
            Work::Read(
                Some(req),
                job(sink, async move {
                    let result = match kit {
                        Some(kit) => tokio::task::spawn_blocking(move || {
                            decisions::shadow_report(&kit.journal, kit.limits).map(Box::new)
                        })
                        .await
                        .unwrap_or_else(|e| Err(e.to_string())),
                        None => Err("decisions are not set up".to_string()),
                    };
                    vec![Msg::ShadowLoaded { req, result }]
                }),
            )
        }
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
    /// Performs the effects and returns their messages, in the order of the effects (each
    /// effect's own messages in the order it sent them).
    pub async fn run(&mut self, effects: Vec<Effect>) -> Vec<Msg> {
        let acts = ops::ActKit::default();
        let mut pending: Vec<(
            Option<tokio::task::JoinHandle<()>>,
            mpsc::UnboundedReceiver<Msg>,
        )> = Vec::new();
        for e in effects {
            let (tx, rx) = mpsc::unbounded_channel();
            // Listing a resource's actions only reads (the app, its tree, the actions offered):
            // a snapshot shows the menu; it never plans nor runs one.
            let reads_only = matches!(
                &e,
                Effect::Prepare {
                    what: crate::tui::ops::Prepare::ResourceActions { .. },
                    ..
                }
            );
            let env = Env {
                inst: &self.inst,
                acts: &acts,
                kube: &self.kube,
                decide: &self.decide,
                team: None,
                sink: Sink::Collect(tx.clone()),
            };
            let task = match plan(&env, e) {
                Work::Watch(id) => self.inst.client(id).cloned().map(|client| {
                    let query = self.inst.queries[id as usize].clone();
                    tokio::spawn(async move {
                        let _ = tx.send(list_once(&client, id, &query).await);
                    })
                }),
                Work::Read(_, job) => Some(tokio::spawn(job)),
                Work::Prepare(_, job) if reads_only => Some(tokio::spawn(job)),
                Work::Terminal(TerminalWork::Theme(_)) => {
                    let _ = tx.send(Msg::ThemeChanged(Err(
                        "a snapshot keeps the theme it started with (the config's theme)".into(),
                    )));
                    None
                }
                // A snapshot never acts nor prepares an action (but the menu of a resource's
                // actions, above), and has no terminal to lend.
                Work::Act(_)
                | Work::Prepare(..)
                | Work::Quit
                | Work::Terminal(
                    TerminalWork::Clipboard(_)
                    | TerminalWork::Pager(_)
                    | TerminalWork::ExternalDiff { .. },
                )
                | Work::Reconnect(_)
                | Work::Cancel(_)
                | Work::Nothing => None,
            };
            pending.push((task, rx));
        }
        let mut out = Vec::new();
        for (task, mut rx) in pending {
            if let Some(t) = task {
                let _ = t.await;
            }
            while let Ok(m) = rx.try_recv() {
                out.push(m);
            }
        }
        out
    }
}

/// Reads from an app's cluster (pods and events, or a log tail).
async fn fetch_cluster(
    kube: std::sync::Arc<crate::clients::kube::Clusters>,
    req: u64,
    target: crate::tui::effect::ClusterTarget,
) -> Msg {
    use crate::clients::kube;
    {
        {
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
            Msg::ClusterLoaded { req, result }
        }
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

/// The app's Rollouts as `kubectl argo rollouts get` shows them: each live Rollout with its
/// live AnalysisRuns, read through Argo CD, with the tree's ReplicaSets and pods.
async fn read_rollouts(
    c: &crate::clients::argocd::ArgoClient,
    key: &AppKey,
    tree: &crate::model::app::ApplicationTree,
) -> Result<Vec<crate::model::rollout::RolloutView>, String> {
    use crate::clients::argocd::ResourceId;
    let id = |n: &crate::model::app::ResourceNode| ResourceId {
        group: n.reference.group.clone(),
        version: n.reference.version.clone(),
        kind: n.reference.kind.clone(),
        namespace: n.reference.namespace.clone(),
        name: n.reference.name.clone(),
    };
    let ns = (!key.namespace.is_empty()).then_some(key.namespace.as_str());
    let mut out = Vec::new();
    for n in tree.nodes.iter().filter(|n| {
        n.reference.kind == "Rollout"
            && n.reference.group == "argoproj.io"
            && !n.reference.uid.is_empty()
    }) {
        let live = c
            .live_resource(&key.name, ns, &id(n))
            .await
            .map_err(|e| format!("Rollout {}: {e}", n.reference.name))?;
        let ids: Vec<ResourceId> =
            crate::model::rollout::analysis_nodes(tree, &n.reference.name, &n.reference.namespace)
                .map(id)
                .collect();
        let runs = futures::future::join_all(ids.iter().map(|a| c.live_resource(&key.name, ns, a)))
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect::<Vec<_>>();
        out.push(crate::model::rollout::read(&live, tree, &runs));
    }
    Ok(out)
}

/// Follows a container's log, sending its lines in batches (at most every 50 ms, or 500
/// lines), until the stream ends; what ended it.
#[allow(clippy::too_many_arguments)]
async fn follow_logs(
    kube: std::sync::Arc<crate::clients::kube::Clusters>,
    sink: Sink,
    req: u64,
    target: crate::tui::effect::ClusterTarget,
    pod: String,
    container: String,
    previous: bool,
    follow: bool,
) -> Result<(), String> {
    use futures::StreamExt;
    let ctx = kube.context_for(&target.cluster, &target.server)?;
    let stream = crate::clients::kube::log_lines(
        &kube,
        &ctx,
        &target.namespace,
        &pod,
        &container,
        previous,
        follow,
        if previous { 2000 } else { 500 },
    )
    .await?;
    let mut stream = std::pin::pin!(stream);
    let mut batch: Vec<String> = Vec::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(50));
    loop {
        tokio::select! {
            line = stream.next() => match line {
                Some(Ok(l)) => {
                    batch.push(l);
                    if batch.len() >= 500 {
                        let lines = std::mem::take(&mut batch);
                        if !sink.send(Msg::LogLines { req, lines }).await {
                            return Ok(());
                        }
                    }
                }
                Some(Err(e)) => {
                    if !batch.is_empty() {
                        sink.send(Msg::LogLines { req, lines: batch }).await;
                    }
                    return Err(e);
                }
                None => {
                    if !batch.is_empty() {
                        sink.send(Msg::LogLines { req, lines: batch }).await;
                    }
                    return Ok(());
                }
            },
            _ = tick.tick() => {
                if !batch.is_empty() {
                    let lines = std::mem::take(&mut batch);
                    if !sink.send(Msg::LogLines { req, lines }).await {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// A live object's YAML, or its description with its namespace's events.
async fn fetch_object(
    kube: std::sync::Arc<crate::clients::kube::Clusters>,
    req: u64,
    target: crate::tui::effect::ClusterTarget,
    res: crate::clients::argocd::ResourceId,
    describe: bool,
) -> Msg {
    use crate::clients::kube;
    let title = format!(
        "{} {}/{}",
        if describe { "Describe" } else { "YAML of" },
        res.kind,
        res.name
    );
    let result = async {
        let ctx = kube.context_for(&target.cluster, &target.server)?;
        let mut obj = kube::get_object(&kube, &ctx, &res).await?;
        if describe {
            let view = kube::view(&kube, &target.cluster, &ctx, &res.namespace, &[]).await?;
            let now = chrono::Utc::now().timestamp();
            Ok(crate::clients::describe::describe(&obj, &view.events, now))
        } else {
            // What `kubectl get -o yaml` shows, without the managed fields' noise.
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
            let yaml = serde_yaml::to_string(&obj).map_err(|e| e.to_string())?;
            Ok(yaml.lines().map(str::to_string).collect())
        }
    }
    .await;
    Msg::ObjectLoaded { req, title, result }
}
