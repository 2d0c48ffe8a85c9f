//! The Model Context Protocol server (`driftdeck mcp` over stdio, `/mcp` under `serve` over
//! streamable HTTP), on the official Rust SDK (`rmcp`). An assistant can read the fleet and
//! its drift, ask for a decision and have one explained; it can never act without a person:
//! - `list_apps`, `get_app`, `get_drift_diff`, `drift_queue`, `explain_decision` read;
//! - `decide` decides in shadow mode whatever the config says (it journals, never acts);
//! - `sync_app`, `defer_app`, `annotate_app` go through `actions` with the same checks as a
//!   keystroke (read-only, can-i, sync windows, protected apps), and only once the person at
//!   the client typed the app's name into the protocol's elicitation form. A client that
//!   cannot ask (no elicitation), a person who declines, or a read-only driftdeck: refused,
//!   with the reason, and nothing done. A sync never prunes and never forces.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock as Content, Implementation, ServerCapabilities, ServerConfig,
};
use rmcp::service::{ElicitationError, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::actions::{self, Session, Target};
use crate::clients::argocd::{AppQuery, ArgoClient, LIST_FIELDS};
use crate::config::Config;
use crate::decide::Verdict;
use crate::decide::decider::Mode;
use crate::decide::journal::Journal;
use crate::decide::service::Service;
use crate::model::fleet::{AppKey, AppRow};
use crate::model::status::{Health, Sync};

/// What every tool call shares.
pub struct Kit {
    pub cfg: Config,
    pub read_only: bool,
    clients: Vec<ArgoClient>,
    /// Decides in shadow mode, never acts.
    svc: Arc<Service>,
    journal: Arc<Journal>,
    kube: Arc<crate::clients::kube::Clusters>,
    /// Under `serve`: the daemon's fleet, already watched.
    fleet: Option<Arc<crate::serve::Shared>>,
}

impl Kit {
    pub fn new(
        cfg: Config,
        data_dir: PathBuf,
        read_only: bool,
        fleet: Option<Arc<crate::serve::Shared>>,
    ) -> Result<Kit, String> {
        if cfg.instances.is_empty() {
            return Err(
                "no instances configured; add an [[instances]] table to the config (or try `driftdeck demo --serve`)"
                    .into(),
            );
        }
        let mut clients = Vec::new();
        for ic in &cfg.instances {
            clients.push(ArgoClient::new(ic).map_err(|e| format!("instance `{}`: {e}", ic.name))?);
        }
        let mut svc = Service::from_config(&cfg, data_dir)?;
        svc.mode = Mode::Shadow;
        svc.acts = false;
        let journal = Arc::new(svc.journal.clone());
        Ok(Kit {
            read_only: read_only || cfg.read_only,
            kube: Arc::new(crate::clients::kube::Clusters::load(cfg.kube.as_ref())),
            cfg,
            clients,
            svc: Arc::new(svc),
            journal,
            fleet,
        })
    }

    /// Every app of every instance: the daemon's view, else one list per instance.
    async fn rows(&self) -> Result<Vec<(String, AppRow)>, String> {
        if let Some(f) = &self.fleet {
            let fleet = f.fleet.read().unwrap_or_else(|p| p.into_inner());
            let mut out: Vec<(String, AppRow)> = fleet
                .iter()
                .flat_map(|i| i.rows.values().map(|r| (i.name.clone(), r.clone())))
                .collect();
            out.sort_by(|a, b| (&a.0, &a.1.key.name).cmp(&(&b.0, &b.1.key.name)));
            return Ok(out);
        }
        let sla = crate::config::fleet::Sla::from_config(self.cfg.fleet.as_ref());
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (i, (c, ic)) in self.clients.iter().zip(&self.cfg.instances).enumerate() {
            let q = AppQuery {
                projects: ic.projects.clone(),
                selector: ic.selector.clone(),
                ..Default::default()
            };
            let (list, names) = tokio::join!(
                c.list_apps(&q, Some(LIST_FIELDS)),
                crate::clients::argocd::watch::cluster_names(c)
            );
            match list {
                Ok(list) => {
                    for a in &list.items {
                        let mut r = AppRow::from_app(i as u16, a);
                        r.name_cluster(&names);
                        r.sla = sla.for_project(&r.project);
                        if r.sync != Sync::OutOfSync {
                            r.out_of_sync_since = None;
                        }
                        out.push((ic.name.clone(), r));
                    }
                }
                Err(e) => errors.push(format!("{}: {e}", ic.name)),
            }
        }
        if out.is_empty() && !errors.is_empty() {
            return Err(format!("no instance answered: {}", errors.join("; ")));
        }
        Ok(out)
    }

    fn client(&self, instance: &str) -> Option<&ArgoClient> {
        self.clients.iter().find(|c| c.instance() == instance)
    }

    /// The app's instance and namespace (the only one with that name, or `instance`).
    async fn locate(&self, app: &str, instance: Option<&str>) -> Result<Target, String> {
        actions::locate(&self.cfg, app, instance)
            .await
            .map(|(_, _, t)| t)
    }

    fn session(&self, t: &Target, who: &str) -> Result<Session, String> {
        let client = self
            .client(&t.instance)
            .ok_or_else(|| format!("no instance named {}", t.instance))?
            .clone();
        let ic_read_only = self
            .cfg
            .instances
            .iter()
            .find(|i| i.name == t.instance)
            .is_some_and(|i| i.read_only);
        Ok(Session::new(
            client,
            self.read_only || ic_read_only,
            self.cfg.protected.clone(),
        )
        .protect_production(self.cfg.protect_production.unwrap_or(true))
        .with_journal(Some(self.journal.clone()))
        .with_kube(Some(self.kube.clone()))
        .acting_as(who))
    }
}

fn row_json(instance: &str, r: &AppRow, now: i64) -> Value {
    json!({
        "instance": instance,
        "namespace": r.key.namespace,
        "name": r.key.name,
        "project": r.project,
        "cluster": r.cluster,
        "destination_namespace": r.dest_namespace,
        "sync": r.sync.as_str(),
        "health": r.health.as_str(),
        "drifted_resources": r.drift,
        "revision": r.revision,
        "auto_sync": r.auto_sync,
        "operation": r.operation.map(|o| format!("{o:?}")),
        "out_of_sync_for_seconds": r.out_of_sync_since.filter(|_| r.sync == Sync::OutOfSync).map(|s| (now - s).max(0)),
        "sla_breached": r.sync == Sync::OutOfSync
            && matches!((r.out_of_sync_since, r.sla), (Some(s), Some(l)) if now - s > l),
    })
}

fn ok_json(v: Value) -> Result<CallToolResult, ErrorData> {
    Ok(CallToolResult::success(vec![Content::text(
        serde_json::to_string_pretty(&v).unwrap_or_default(),
    )]))
}

fn ok_text(t: impl Into<String>) -> Result<CallToolResult, ErrorData> {
    Ok(CallToolResult::success(vec![Content::text(t.into())]))
}

/// A tool that ran but could not do what was asked: the reason, as a result the assistant
/// reads (not a protocol error).
fn refused(t: impl Into<String>) -> Result<CallToolResult, ErrorData> {
    Ok(CallToolResult::error(vec![Content::text(t.into())]))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListApps {
    /// A driftdeck filter: words match names; `status:OutOfSync`, `health:Degraded`,
    /// `project:NAME`, `env:prod`, `is:sla` and the other facets of the TUI's `/`.
    #[serde(default)]
    pub filter: Option<String>,
    /// At most this many apps (default 200).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AppRef {
    /// The Application's name.
    pub app: String,
    /// Its Argo CD instance, when several have an app of that name.
    #[serde(default)]
    pub instance: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Explain {
    /// The decision's journal record number (from `decide` or `drift_queue`).
    #[serde(default)]
    pub record: Option<u64>,
    /// Else the latest decision about this app.
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub instance: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DeferArgs {
    pub app: String,
    #[serde(default)]
    pub instance: Option<String>,
    /// Why the drift may stay for now (journaled and written on the Application).
    pub reason: String,
    /// Until when (RFC 3339, or a duration such as "2h").
    pub until: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AnnotateArgs {
    pub app: String,
    #[serde(default)]
    pub instance: Option<String>,
    /// The incident, e.g. INC-1234.
    pub incident: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// The form the person at the client fills in to let an action go ahead.
#[derive(Debug, serde::Serialize, Deserialize, schemars::JsonSchema)]
pub struct Confirm {
    /// Type the Application's name to go ahead.
    pub confirm: String,
}
rmcp::elicit_safe!(Confirm);

/// The MCP server.
#[derive(Clone)]
pub struct Mcp {
    kit: Arc<Kit>,
    tool_router: ToolRouter<Mcp>,
}

impl Mcp {
    pub fn new(kit: Arc<Kit>) -> Mcp {
        Mcp {
            kit,
            tool_router: Self::tool_router(),
        }
    }

    /// Asks the person at the client to confirm `plan` by typing `app`.
    async fn confirmed(
        &self,
        ctx: &RequestContext<RoleServer>,
        app: &str,
        plan: &[String],
    ) -> Result<(), String> {
        let message = format!(
            "{}\n\nType {app} to go ahead; anything else, decline or cancel does nothing.",
            plan.join("\n")
        );
        match ctx
            .peer
            .elicit_with_timeout::<Confirm>(message, Some(std::time::Duration::from_secs(300)))
            .await
        {
            Ok(Some(c)) if c.confirm.trim() == app => Ok(()),
            Ok(Some(c)) => Err(format!(
                "not done: `{}` is not the app's name ({app})",
                c.confirm.trim()
            )),
            Ok(None) => Err("not done: the confirmation came back empty".into()),
            Err(ElicitationError::UserDeclined) => Err("not done: declined".into()),
            Err(ElicitationError::UserCancelled) => Err("not done: cancelled".into()),
            Err(e) => Err(format!(
                "not done: this client cannot ask its user to confirm ({e}); actions need a client with elicitation, or use the TUI or `driftdeck` headless commands"
            )),
        }
    }

    fn who(ctx: &RequestContext<RoleServer>) -> String {
        let client = ctx
            .peer
            .peer_info()
            .map(|i| i.client_info.name.clone())
            .unwrap_or_else(|| "client".into());
        let client: String = client
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        format!("mcp:{client}")
    }

    /// The app's target and its instance's client (for the read tools).
    async fn located(
        &self,
        app: &str,
        instance: Option<&str>,
    ) -> Result<(Target, ArgoClient), String> {
        let t = self.kit.locate(app, instance).await?;
        let c = self
            .kit
            .client(&t.instance)
            .ok_or_else(|| format!("no instance named {}", t.instance))?
            .clone();
        Ok((t, c))
    }

    /// The target and session of an action (refused at once when read-only).
    async fn action(
        &self,
        app: &str,
        instance: Option<&str>,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<(Target, Session), String> {
        if self.kit.read_only {
            return Err("refused: driftdeck is read-only (--read-only or read_only = true); nothing was done".into());
        }
        let t = self.kit.locate(app, instance).await?;
        let s = self.kit.session(&t, &Self::who(ctx))?;
        Ok((t, s))
    }
}

#[tool_router]
impl Mcp {
    #[tool(
        description = "List the Argo CD Applications of every configured instance, with sync and health status, drifted resource count, drift age and SLA. Optional driftdeck filter (e.g. \"status:OutOfSync env:prod\")."
    )]
    async fn list_apps(
        &self,
        Parameters(p): Parameters<ListApps>,
    ) -> Result<CallToolResult, ErrorData> {
        let filter = match p.filter.as_deref().map(crate::model::filter::Filter::parse) {
            Some(Err(e)) => return refused(format!("the filter: {e}")),
            Some(Ok(f)) => Some(f),
            None => None,
        };
        let rows = match self.kit.rows().await {
            Ok(r) => r,
            Err(e) => return refused(e),
        };
        let now = chrono::Utc::now().timestamp();
        let limit = p.limit.unwrap_or(200).clamp(1, 10_000);
        let matching: Vec<Value> = rows
            .iter()
            .filter(|(inst, r)| {
                filter.as_ref().is_none_or(|f| {
                    let hay = format!("{} {} {}", r.key.name, r.project, r.cluster).to_lowercase();
                    f.matches(r, &hay, inst, now)
                })
            })
            .map(|(inst, r)| row_json(inst, r, now))
            .collect();
        let total = matching.len();
        ok_json(json!({
            "total": total,
            "shown": total.min(limit),
            "apps": matching.into_iter().take(limit).collect::<Vec<_>>(),
        }))
    }

    #[tool(
        description = "One Application: its source, destination, sync and health with messages, conditions, the current or last operation, and its recent deployment history."
    )]
    async fn get_app(
        &self,
        Parameters(p): Parameters<AppRef>,
    ) -> Result<CallToolResult, ErrorData> {
        let (t, c) = match self.located(&p.app, p.instance.as_deref()).await {
            Ok(x) => x,
            Err(e) => return refused(e),
        };
        let ns = (!t.app_namespace.is_empty()).then_some(t.app_namespace.as_str());
        let a = match c.get_app(&t.name, ns, None).await {
            Ok(a) => a,
            Err(e) => return refused(e.to_string()),
        };
        let op = a.status.operation_state.as_ref();
        ok_json(json!({
            "instance": t.instance,
            "name": a.metadata.name,
            "namespace": a.metadata.namespace,
            "project": a.spec.project,
            "source": a.spec.source,
            "sources": a.spec.sources,
            "destination": a.spec.destination,
            "sync": {"status": a.status.sync.status, "revision": a.status.sync.revision},
            "health": {"status": a.status.health.status, "message": a.status.health.message},
            "auto_sync": a.spec.sync_policy.as_ref().and_then(|s| s.automated.as_ref()).is_some(),
            "conditions": a.status.conditions,
            "operation": op.map(|o| json!({"phase": o.phase, "message": o.message, "started_at": o.started_at, "finished_at": o.finished_at})),
            "history": a.status.history.iter().rev().take(10).map(|h| json!({"id": h.id, "revision": h.revision, "deployed_at": h.deployed_at})).collect::<Vec<_>>(),
            "drifted_resources": a.status.resources.iter().filter(|r| r.status == "OutOfSync").map(|r| format!("{} {}/{}", r.kind, r.namespace, r.name)).collect::<Vec<_>>(),
        }))
    }

    #[tool(
        description = "The live-vs-Git diff of an Application's drifted resources, normalized as Argo CD does (Secret values masked), as unified text."
    )]
    async fn get_drift_diff(
        &self,
        Parameters(p): Parameters<AppRef>,
    ) -> Result<CallToolResult, ErrorData> {
        let (t, c) = match self.located(&p.app, p.instance.as_deref()).await {
            Ok(x) => x,
            Err(e) => return refused(e),
        };
        let ns = (!t.app_namespace.is_empty()).then_some(t.app_namespace.as_str());
        let mr = match c.managed_resources(&t.name, ns).await {
            Ok(m) => m,
            Err(e) => return refused(e.to_string()),
        };
        let diffs = match crate::diff::from_managed(&mr.items) {
            Ok(d) => d,
            Err(e) => return refused(e.to_string()),
        };
        let text: String = diffs
            .iter()
            .filter(|d| d.modified)
            .map(crate::headless::diffout::text)
            .collect();
        if text.is_empty() {
            return ok_text(format!("{} has no drift: live matches Git.", t.name));
        }
        ok_text(text)
    }

    #[tool(
        description = "Decide what to do about an Application's drift (allow, defer, enforce or needs-human) with driftdeck's Rego policy and advisor, in shadow mode: the decision is journaled with its reasons, and nothing is changed."
    )]
    async fn decide(&self, Parameters(p): Parameters<AppRef>) -> Result<CallToolResult, ErrorData> {
        let (t, c) = match self.located(&p.app, p.instance.as_deref()).await {
            Ok(x) => x,
            Err(e) => return refused(e),
        };
        let key = AppKey {
            instance: 0,
            namespace: t.app_namespace.clone(),
            name: t.name.clone(),
        };
        match crate::decide::service::decide_live_as(&self.kit.svc, &c, &key, "mcp", None).await {
            Ok(d) => {
                let mut v = serde_json::to_value(&d.decision).unwrap_or_default();
                v["journal_record"] = json!(d.seq);
                v["context_sources"] = json!(
                    d.sources
                        .iter()
                        .map(|(n, s)| format!("{n}: {s}"))
                        .collect::<Vec<_>>()
                );
                ok_json(v)
            }
            Err(e) => refused(format!("no decision: {e} (an operator decides)")),
        }
    }

    #[tool(
        description = "Explain a journaled decision: the verdict, the policy rule and its reasons, the advisor's reasoning and evidence, the guardrails that applied and what operators did. By journal record number, or the latest about an app."
    )]
    async fn explain_decision(
        &self,
        Parameters(p): Parameters<Explain>,
    ) -> Result<CallToolResult, ErrorData> {
        let j = self.kit.journal.clone();
        let records = match tokio::task::spawn_blocking(move || j.records()).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return refused(e.to_string()),
            Err(e) => return refused(e.to_string()),
        };
        let rec = match (p.record, p.app.as_deref()) {
            (Some(seq), _) => records
                .iter()
                .find(|r| r.seq == seq && r.kind == "decision"),
            (None, Some(app)) => records.iter().rev().find(|r| {
                r.kind == "decision"
                    && r.body["app"] == app
                    && p.instance
                        .as_deref()
                        .is_none_or(|i| r.body["instance"] == i)
            }),
            (None, None) => return refused("give `record` or `app`"),
        };
        let Some(rec) = rec else {
            return refused("no such decision in the journal; `decide` makes one");
        };
        ok_text(explain(rec.seq, &rec.body))
    }

    #[tool(
        description = "The drift queue: every OutOfSync Application, most urgent first (hard enforce, needs a human, enforce, deferred, not decided yet, allowed), with its latest decision."
    )]
    async fn drift_queue(&self) -> Result<CallToolResult, ErrorData> {
        let rows = match self.kit.rows().await {
            Ok(r) => r,
            Err(e) => return refused(e),
        };
        let j = self.kit.journal.clone();
        let records = tokio::task::spawn_blocking(move || j.records().unwrap_or_default())
            .await
            .unwrap_or_default();
        let mut latest: HashMap<(String, String), &crate::decide::journal::Record> = HashMap::new();
        for r in records.iter().filter(|r| r.kind == "decision") {
            let k = (
                r.body["instance"].as_str().unwrap_or("").to_string(),
                r.body["app"].as_str().unwrap_or("").to_string(),
            );
            latest.insert(k, r);
        }
        let now = chrono::Utc::now().timestamp();
        let mut queue: Vec<(u8, bool, u32, String, Value)> = rows
            .iter()
            .filter(|(_, r)| r.sync == Sync::OutOfSync)
            .map(|(inst, r)| {
                let rec = latest.get(&(inst.clone(), r.key.name.clone()));
                let degraded = r.health == Health::Degraded;
                let (rank, why) = rec
                    .and_then(|rec| {
                        let d = &rec.body["decision"];
                        let v = d["verdict"].as_str()?.parse::<Verdict>().ok()?;
                        let hard = d["policy"]["hard"].as_bool().unwrap_or(false);
                        Some(crate::tui::decisions::rank_of(v, hard, degraded))
                    })
                    .unwrap_or((4, "not decided yet"));
                let mut v = row_json(inst, r, now);
                v["why"] = json!(why);
                if let Some(rec) = rec {
                    v["decision"] = json!({
                        "record": rec.seq,
                        "verdict": rec.body["decision"]["verdict"],
                        "confidence": rec.body["decision"]["confidence"],
                        "rule": rec.body["decision"]["policy"]["rule"],
                        "decided_at": rec.body["decision"]["now"],
                    });
                }
                (
                    rank,
                    !degraded,
                    u32::MAX - r.drift,
                    format!("{inst}/{}", r.key.name),
                    v,
                )
            })
            .collect();
        queue.sort_by(|a, b| (a.0, a.1, a.2, &a.3).cmp(&(b.0, b.1, b.2, &b.3)));
        ok_json(json!({
            "drifted": queue.len(),
            "queue": queue.into_iter().map(|q| q.4).collect::<Vec<_>>(),
        }))
    }

    #[tool(
        description = "Sync an Application's drifted resources back to Git (never pruning, never forcing). Checked as a keystroke is (read-only, RBAC, sync windows, protected apps), then only after the person at the client confirms by typing the app's name. Refused otherwise."
    )]
    async fn sync_app(
        &self,
        Parameters(p): Parameters<AppRef>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let (t, session) = match self.action(&p.app, p.instance.as_deref(), &ctx).await {
            Ok(x) => x,
            Err(e) => return refused(e),
        };
        let plan = match actions::sync::plan(&session, &t, Default::default()).await {
            Ok(p) => p,
            Err(e) => return refused(format!("refused: {e}")),
        };
        if let Err(e) = self.confirmed(&ctx, &t.name, &plan.lines()).await {
            return refused(e);
        }
        match actions::sync::start(&session, &plan).await {
            Ok(a) => ok_text(format!(
                "{}: sync started ({}); `get_app` follows it.",
                t.name,
                a.status
                    .operation_state
                    .as_ref()
                    .map(|o| o.phase.clone())
                    .unwrap_or_else(|| "requested".into())
            )),
            Err(e) => refused(format!("the sync failed: {e}")),
        }
    }

    #[tool(
        description = "Defer the revert of an Application's drift until a time, with a reason (recorded on the Application and in the journal). Only after the person at the client confirms by typing the app's name."
    )]
    async fn defer_app(
        &self,
        Parameters(p): Parameters<DeferArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        if p.reason.trim().is_empty() {
            return refused("a deferral needs a reason");
        }
        let now = chrono::Utc::now();
        let until = match actions::defer::parse_until(&p.until, now) {
            Ok(u) => u,
            Err(e) => return refused(format!("until: {e}")),
        };
        let (t, session) = match self.action(&p.app, p.instance.as_deref(), &ctx).await {
            Ok(x) => x,
            Err(e) => return refused(e),
        };
        let plan = match actions::plans::defer(&session, &t, Some((until, &p.reason))).await {
            Ok(p) => p,
            Err(e) => return refused(format!("refused: {e}")),
        };
        if let Err(e) = self.confirmed(&ctx, &t.name, &plan.lines).await {
            return refused(e);
        }
        match actions::defer::defer(&session, &t, until, &p.reason, chrono::Utc::now()).await {
            Ok(_) => ok_text(format!("{}: deferred until {}", t.name, until.to_rfc3339())),
            Err(e) => refused(format!("the deferral failed: {e}")),
        }
    }

    #[tool(
        description = "Annotate an Application's drift with an incident (and a note), so decisions know the drift belongs to it. Only after the person at the client confirms by typing the app's name."
    )]
    async fn annotate_app(
        &self,
        Parameters(p): Parameters<AnnotateArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Err(e) = actions::annotate::check_incident(&p.incident) {
            return refused(e);
        }
        let (t, session) = match self.action(&p.app, p.instance.as_deref(), &ctx).await {
            Ok(x) => x,
            Err(e) => return refused(e),
        };
        let plan = match actions::plans::annotate(
            &session,
            &t,
            Some(&p.incident),
            p.note.as_deref(),
            false,
        )
        .await
        {
            Ok(p) => p,
            Err(e) => return refused(format!("refused: {e}")),
        };
        if let Err(e) = self.confirmed(&ctx, &t.name, &plan.lines).await {
            return refused(e);
        }
        match actions::annotate::annotate(
            &session,
            &t,
            &p.incident,
            p.note.as_deref().unwrap_or(""),
            false,
        )
        .await
        {
            Ok(_) => ok_text(format!("{}: annotated with {}", t.name, p.incident)),
            Err(e) => refused(format!("the annotation failed: {e}")),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Mcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("driftdeck", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "driftdeck: the Argo CD fleet's apps, their live-vs-Git drift and what to do about it. Read with list_apps, get_app, get_drift_diff, drift_queue; decide (shadow, never acts) and explain_decision. sync_app, defer_app and annotate_app act only after the user confirms by typing the app's name.",
            )
    }
}

/// A journaled decision, explained in sentences.
pub fn explain(seq: u64, body: &Value) -> String {
    let d = &body["decision"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut out = vec![format!(
        "Decision #{seq} about {} ({}), {}: {} with confidence {:.2}, in {} mode.",
        s(&body["app"]),
        s(&body["instance"]),
        s(&d["now"]),
        s(&d["verdict"]).to_uppercase(),
        d["confidence"].as_f64().unwrap_or(0.0),
        s(&d["mode"]),
    )];
    if let Some(nb) = d["not_before"].as_str() {
        out.push(format!("Not before {nb} (the sync windows)."));
    }
    out.push(format!(
        "Policy: {} by rule {}{}.",
        s(&d["policy"]["verdict"]),
        s(&d["policy"]["rule"]),
        if d["policy"]["hard"] == true {
            " (a hard bound the advisor cannot loosen)"
        } else {
            ""
        }
    ));
    for r in d["policy"]["reasons"].as_array().into_iter().flatten() {
        out.push(format!("  - {}", r.as_str().unwrap_or("")));
    }
    out.push(format!(
        "Advisor ({}): {} with confidence {:.2}. {}",
        s(&d["advisor"]["name"]),
        s(&d["advisor"]["verdict"]),
        d["advisor"]["confidence"].as_f64().unwrap_or(0.0),
        s(&d["advisor"]["reasoning"])
    ));
    for e in d["advisor"]["evidence"].as_array().into_iter().flatten() {
        out.push(format!("  - {}", e.as_str().unwrap_or("")));
    }
    let guards: Vec<String> = d["guardrails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    if guards.is_empty() {
        out.push("Guardrails: none applied.".into());
    } else {
        out.push("Guardrails:".into());
        out.extend(guards.into_iter().map(|g| format!("  - {g}")));
    }
    out.join("\n")
}

/// `driftdeck mcp`: serves MCP on stdin/stdout until stdin closes.
pub async fn run_stdio(kit: Kit) -> Result<(), String> {
    use rmcp::ServiceExt;
    let server = Mcp::new(Arc::new(kit));
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("the MCP session did not start: {e}"))?;
    running
        .waiting()
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
