//! The headless actions: `sync`, `refresh`, `terminate`, `rollback`, `defer`, `annotate`,
//! `deferrals` and `adopt` (`../shared/docs/cli.md`). They never prompt: a dangerous action
//! without `--yes` prints its plan and exits 1. Results go to stdout, diagnostics to stderr.
//! Exit 0 done, 1 refused, 2 error.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::actions::sync::SyncSpec;
use crate::actions::{self, ActionError, Session, Target};
use crate::cli::{ActArgs, AdoptOutput, DeferralsCommand};
use crate::config::Config;
use crate::config::paths::Paths;
use crate::decide::journal::Journal;

fn fail(e: impl std::fmt::Display) -> u8 {
    errln!("driftdeck: {e}");
    2
}

fn refused(e: impl std::fmt::Display) -> u8 {
    errln!("driftdeck: {e}");
    1
}

fn report(e: &ActionError) -> u8 {
    errln!("driftdeck: {e}");
    e.exit_code()
}

fn config(paths: &Paths) -> Result<Config, u8> {
    match crate::config::load_user(paths) {
        Ok(Some(c)) if !c.instances.is_empty() => Ok(c),
        Ok(_) => Err(fail(format!(
            "no instances configured (config: {}); actions need an Argo CD server: add an \
             [[instances]] table, or try `driftdeck demo --serve`",
            paths.config_file.display()
        ))),
        Err(errs) => {
            for e in &errs {
                errln!("driftdeck: {e}");
            }
            Err(2)
        }
    }
}

/// The session and target of one app, or the exit code.
async fn open(
    paths: &Paths,
    cli_read_only: bool,
    name: &str,
    instance: Option<&str>,
) -> Result<(Session, Target, Config), u8> {
    let cfg = config(paths)?;
    let (ic, client, target) = actions::locate(&cfg, name, instance).await.map_err(fail)?;
    let journal = Arc::new(Journal::configured(&paths.data_dir, Some(&cfg)).map_err(fail)?);
    let pending = {
        let (j, t) = (journal.clone(), target.clone());
        tokio::task::spawn_blocking(move || pending_decision(&j, &t, Utc::now()))
            .await
            .ok()
            .flatten()
    };
    let session = Session::new(
        client,
        cli_read_only || cfg.read_only || ic.read_only,
        cfg.protected.clone(),
    )
    .protect_production(cfg.protect_production.unwrap_or(true))
    .with_journal(Some(journal))
    .with_decision(pending)
    .with_kube(Some(Arc::new(crate::clients::kube::Clusters::load(
        cfg.kube.as_ref(),
    ))));
    Ok((session, target, cfg))
}

/// How long a decision stays the one an action on its app answers.
pub const PENDING_FOR: chrono::Duration = chrono::Duration::hours(24);

/// The app's pending decision: the journal's latest decision about it on its instance, made
/// within [`PENDING_FOR`]. An action on the app answers it (the operator's verdict).
pub fn pending_decision(journal: &Journal, t: &Target, now: DateTime<Utc>) -> Option<u64> {
    let records = journal.records().ok()?;
    records
        .iter()
        .rev()
        .find(|r| {
            r.kind == "decision"
                && r.body.get("app").and_then(serde_json::Value::as_str) == Some(&t.name)
                && r.body.get("instance").and_then(serde_json::Value::as_str) == Some(&t.instance)
        })
        .filter(|r| now - r.time <= PENDING_FOR)
        .map(|r| r.seq)
}

fn timeout(act: &ActArgs) -> Result<Duration, u8> {
    crate::util::parse_duration(&act.timeout).map_err(|e| fail(format!("--timeout: {e}")))
}

/// Whether a planned dangerous action may go ahead: `--yes`, and for a protected app its name
/// again with `--confirm`. Prints why not.
fn go_ahead(act: &ActArgs, name: &str, protected: bool) -> bool {
    if act.dry_run {
        return false;
    }
    if !act.yes {
        errln!("driftdeck: nothing was done; add --yes to act (or --dry-run to only plan)");
        return false;
    }
    if protected && act.confirm.as_deref() != Some(name) {
        errln!(
            "driftdeck: {name} is protected; add --confirm {name} to act on it (nothing was done)"
        );
        return false;
    }
    true
}

fn print_lines(lines: &[String]) {
    for l in lines {
        outln!("{l}");
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn sync(
    paths: &Paths,
    cli_read_only: bool,
    apps: &[String],
    act: &ActArgs,
    prune: bool,
    force: bool,
    apply_only: bool,
    resources: &[String],
    sync_options: &[String],
    revision: Option<&str>,
) -> u8 {
    let resources = match resources
        .iter()
        .map(|r| actions::sync::parse_resource(r))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let options = match sync_options
        .iter()
        .map(|o| actions::sync::parse_option(o))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let timeout = match timeout(act) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let spec = SyncSpec {
        prune,
        force,
        apply_only,
        dry_run: false,
        resources,
        options,
        revision: revision.unwrap_or_default().to_string(),
    };
    // Plan every app first: nothing starts unless every plan is acceptable.
    let mut plans = Vec::new();
    let mut worst = 0u8;
    for name in apps {
        let (session, target, _) =
            match open(paths, cli_read_only, name, act.instance.as_deref()).await {
                Ok(x) => x,
                Err(c) => {
                    worst = worst.max(c);
                    continue;
                }
            };
        match actions::sync::plan(&session, &target, spec.clone()).await {
            Ok(p) => {
                print_lines(&p.lines());
                outln!();
                plans.push((session, p));
            }
            Err(e) => {
                errln!("driftdeck: {name}: {e}");
                worst = worst.max(e.exit_code());
            }
        }
    }
    if worst != 0 {
        errln!("driftdeck: nothing was synced");
        return worst;
    }
    let protected = plans.iter().any(|(_, p)| p.protected);
    let names = apps.join(",");
    if !go_ahead(act, &names, protected) {
        return if act.dry_run { 0 } else { 1 };
    }
    // Start them all, then follow them all: several apps sync at once.
    let mut handles = Vec::new();
    for (session, plan) in plans {
        handles.push(tokio::spawn(async move {
            let name = plan.target.name.clone();
            let r = actions::sync::run(&session, &plan, timeout, |op| {
                // The hook a sync waits for (a PreSync migration), else the message.
                errln!(
                    "{name}: {} {}",
                    op.phase,
                    crate::model::operation::progress(op, &[])
                );
            })
            .await;
            (name, r)
        }));
    }
    let mut code = 0;
    for h in handles {
        match h.await {
            Ok((name, Ok(op))) => {
                outln!("{name}: {}: {}", op.phase, op.message);
                if let Some(r) = &op.sync_result {
                    for res in &r.resources {
                        outln!(
                            "  {} {}/{}: {} {}",
                            res.kind,
                            res.namespace,
                            res.name,
                            res.status,
                            res.message
                        );
                    }
                }
            }
            Ok((name, Err(e))) => {
                errln!("driftdeck: {name}: {e}");
                code = code.max(e.exit_code());
            }
            Err(e) => code = code.max(fail(e)),
        }
    }
    code
}

pub async fn refresh(
    paths: &Paths,
    cli_read_only: bool,
    app: &str,
    act: &ActArgs,
    hard: bool,
) -> u8 {
    let (session, target, _) = match open(paths, cli_read_only, app, act.instance.as_deref()).await
    {
        Ok(x) => x,
        Err(c) => return c,
    };
    if act.dry_run {
        outln!(
            "{} refresh of {} on instance {}",
            if hard { "hard" } else { "normal" },
            target.name,
            target.instance
        );
        return 0;
    }
    match actions::sync::refresh(&session, &target, hard).await {
        Ok(a) => {
            outln!(
                "{}: refreshed{}: {} {}",
                a.metadata.name,
                if hard { " (hard)" } else { "" },
                a.status.sync.status,
                a.status.health.status
            );
            0
        }
        Err(e) => report(&e),
    }
}

pub async fn terminate(paths: &Paths, cli_read_only: bool, app: &str, act: &ActArgs) -> u8 {
    let (session, target, _) = match open(paths, cli_read_only, app, act.instance.as_deref()).await
    {
        Ok(x) => x,
        Err(c) => return c,
    };
    let timeout = match timeout(act) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let plan = match actions::plans::terminate(&session, &target).await {
        Ok(p) => p,
        Err(e) => return report(&e),
    };
    print_lines(&plan.lines);
    if !go_ahead(act, app, plan.protected) {
        return if act.dry_run { 0 } else { 1 };
    }
    match actions::sync::terminate(&session, &target, timeout).await {
        Ok(op) => {
            outln!("{}: {}: {}", target.name, op.phase, op.message);
            0
        }
        Err(e) => report(&e),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn rollback(
    paths: &Paths,
    cli_read_only: bool,
    app: &str,
    act: &ActArgs,
    id: Option<i64>,
    reason: Option<&str>,
    restore: bool,
    restore_only: bool,
) -> u8 {
    let (session, target, _) = match open(paths, cli_read_only, app, act.instance.as_deref()).await
    {
        Ok(x) => x,
        Err(c) => return c,
    };
    if restore_only {
        let a = match session.app(&target).await {
            Ok(a) => a,
            Err(e) => return report(&e),
        };
        let previous = actions::defer::previous_policy(&a).unwrap_or(None);
        outln!(
            "restore the sync policy of {} recorded before the rollback: {}",
            session.place(&a).await,
            serde_json::to_string(&previous).unwrap_or_default()
        );
        if !go_ahead(act, app, session.is_protected(&a)) {
            return if act.dry_run { 0 } else { 1 };
        }
        return match actions::defer::restore_auto_sync(&session, &target).await {
            Ok(r) => {
                outln!("{app}: {}", r.summary());
                0
            }
            Err(e) => report(&e),
        };
    }
    let timeout = match timeout(act) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let (a, history) = match actions::rollback::history(&session, &target).await {
        Ok(x) => x,
        Err(e) => return report(&e),
    };
    let entry = match id {
        Some(id) => history.iter().find(|h| h.id == id),
        None => history.iter().find(|h| !h.current),
    };
    let Some(entry) = entry.cloned() else {
        return refused(match id {
            Some(id) => format!(
                "{app} has no deployment #{id}; its history: {}",
                history
                    .iter()
                    .map(|h| h.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!("{app} has no earlier deployment to roll back to"),
        });
    };
    let diffs = match actions::rollback::diff_to(&session, &target, &a, &entry.revision).await {
        Ok(d) => d,
        Err(e) => return report(&e),
    };
    let plan = match actions::rollback::plan(&session, &target, &a, entry, diffs.len()).await {
        Ok(p) => p,
        Err(e) => return report(&e),
    };
    let reason = reason.unwrap_or("rollback from driftdeck");
    print_lines(&plan.lines(reason));
    print_lines(&actions::plans::rollback_diff(plan.entry.id, &diffs));
    if !go_ahead(act, app, plan.protected) {
        return if act.dry_run { 0 } else { 1 };
    }
    let out = actions::rollback::run(&session, &plan, reason, timeout, |s| {
        outln!(
            "{} {}: {}",
            if s.ok { "ok" } else { "FAILED" },
            s.step,
            s.detail
        );
    })
    .await;
    match out {
        Ok(o) => {
            outln!("{}: health {}", target.name, o.health);
            if o.paused {
                if restore {
                    match actions::defer::restore_auto_sync(&session, &target).await {
                        Ok(r) => outln!("ok restore auto-sync: {}", r.summary()),
                        Err(e) => return report(&e),
                    }
                } else {
                    outln!(
                        "auto-sync stays paused (it would undo the rollback); once the fix is \
                         in Git, restore it with `driftdeck rollback {app} --restore-only --yes` \
                         or from the TUI"
                    );
                }
            }
            0
        }
        Err(e) => report(&e),
    }
}

/// The default end of a deferral: the `not_before` of a fresh decision on the app.
async fn decision_not_before(
    cfg: &Config,
    session: &Session,
    t: &Target,
) -> Result<DateTime<Utc>, String> {
    let decider = crate::headless::decide::decider_from(Some(cfg))?;
    let sources = crate::decide::context::Sources::from_config(cfg.context.as_ref())?;
    let now = Utc::now();
    let (mut sc, _) =
        crate::decide::live::fetch(&session.client, &t.name, t.ns(), &sources, now).await?;
    if let Some(j) = &session.journal {
        let mut idx = crate::decide::handling::ActionIndex::default();
        if idx.refresh(j).is_ok() {
            sc.actions = idx.recent(&t.instance, &t.name, 10);
        }
    }
    let d = decider
        .decide(&sc, crate::decide::decider::Mode::Shadow)
        .await?;
    d.not_before.ok_or_else(|| {
        format!(
            "the decision on {} ({}) has no not_before; give the end with --until",
            t.name, d.verdict
        )
    })
}

pub async fn defer(
    paths: &Paths,
    cli_read_only: bool,
    app: &str,
    act: &ActArgs,
    reason: Option<&str>,
    until: Option<&str>,
) -> u8 {
    let Some(reason) = reason.filter(|r| !r.trim().is_empty()) else {
        return fail("defer needs --reason TEXT: why the drift may stay for now");
    };
    let (session, target, cfg) =
        match open(paths, cli_read_only, app, act.instance.as_deref()).await {
            Ok(x) => x,
            Err(c) => return c,
        };
    let until = match until {
        Some(u) => match actions::defer::parse_until(u, Utc::now()) {
            Ok(t) => t,
            Err(e) => return fail(format!("--until: {e}")),
        },
        None => match decision_not_before(&cfg, &session, &target).await {
            Ok(t) => t,
            Err(e) => return refused(e),
        },
    };
    let plan = match actions::plans::defer(&session, &target, Some((until, reason))).await {
        Ok(p) => p,
        Err(e) => return report(&e),
    };
    print_lines(&plan.lines);
    if !go_ahead(act, app, plan.protected) {
        return if act.dry_run { 0 } else { 1 };
    }
    match actions::defer::defer(&session, &target, until, reason, Utc::now()).await {
        Ok(_) => {
            outln!("{app}: deferred until {}", until.to_rfc3339());
            0
        }
        Err(e) => report(&e),
    }
}

pub async fn annotate(
    paths: &Paths,
    cli_read_only: bool,
    app: &str,
    act: &ActArgs,
    incident: Option<&str>,
    note: Option<&str>,
    label_resources: bool,
) -> u8 {
    let Some(incident) = incident else {
        return fail("annotate needs --incident ID, e.g. --incident INC-1234");
    };
    if let Err(e) = actions::annotate::check_incident(incident) {
        return fail(e);
    }
    let (session, target, _) = match open(paths, cli_read_only, app, act.instance.as_deref()).await
    {
        Ok(x) => x,
        Err(c) => return c,
    };
    let plan =
        match actions::plans::annotate(&session, &target, Some(incident), note, label_resources)
            .await
        {
            Ok(p) => p,
            Err(e) => return report(&e),
        };
    print_lines(&plan.lines);
    // A protected app asks for --confirm NAME, as every other action does.
    if !go_ahead(act, app, plan.protected) {
        return if act.dry_run { 0 } else { 1 };
    }
    match actions::annotate::annotate(
        &session,
        &target,
        incident,
        note.unwrap_or(""),
        label_resources,
    )
    .await
    {
        Ok(o) => {
            outln!("{app}: annotated with {incident}");
            for l in &o.labelled {
                outln!("  labelled {l} (through {})", o.via);
            }
            0
        }
        Err(e) => report(&e),
    }
}

/// `resource-actions list|run`.
pub async fn resource_actions(
    paths: &Paths,
    cli_read_only: bool,
    which: &crate::cli::ResourceActionsCommand,
) -> u8 {
    use crate::cli::{HealthOutput, ResourceActionsCommand};
    let spec = |r: &crate::cli::ResourceArgs| actions::resource::ResourceSpec {
        kind: r.kind.clone(),
        name: r.name.clone(),
        namespace: r.namespace.clone().unwrap_or_default(),
        group: r.group.clone(),
    };
    match which {
        ResourceActionsCommand::List {
            app,
            resource,
            instance,
            output,
        } => {
            let (session, target, _) =
                match open(paths, cli_read_only, app, instance.as_deref()).await {
                    Ok(x) => x,
                    Err(c) => return c,
                };
            let (res, list) =
                match actions::resource::list(&session, &target, &spec(resource)).await {
                    Ok(x) => x,
                    // Listing changes nothing: whatever went wrong is an error here.
                    Err(e) => return fail(e),
                };
            match output {
                HealthOutput::Json => outln!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "app": app,
                        "instance": session.instance,
                        "resource": {
                            "group": res.group,
                            "version": res.version,
                            "kind": res.kind,
                            "namespace": res.namespace,
                            "name": res.name,
                        },
                        "actions": list,
                    }))
                    .unwrap_or_default()
                ),
                HealthOutput::Text => {
                    for a in &list {
                        let mut line = a.name.clone();
                        if !a.params.is_empty() {
                            let p: Vec<String> =
                                a.params.iter().map(|p| format!("{}=", p.name)).collect();
                            line.push_str(&format!(" ({})", p.join(" ")));
                        }
                        if a.disabled {
                            line.push_str(" [disabled]");
                        }
                        outln!("{line}");
                    }
                }
            }
            0
        }
        ResourceActionsCommand::Run {
            app,
            action,
            resource,
            act,
            params,
        } => {
            let params = match params
                .iter()
                .map(|p| match p.split_once('=') {
                    Some((n, v)) if !n.trim().is_empty() => {
                        Ok((n.trim().to_string(), v.trim().to_string()))
                    }
                    _ => Err(format!("--param {p:?}: write NAME=VALUE, e.g. replicas=3")),
                })
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            let (session, target, _) =
                match open(paths, cli_read_only, app, act.instance.as_deref()).await {
                    Ok(x) => x,
                    Err(c) => return c,
                };
            let plan =
                match actions::resource::plan(&session, &target, &spec(resource), action, params)
                    .await
                {
                    Ok(p) => p,
                    Err(e) => return report(&e),
                };
            print_lines(&plan.lines);
            if !go_ahead(act, app, plan.protected) {
                return if act.dry_run { 0 } else { 1 };
            }
            match actions::resource::run(&session, &plan).await {
                Ok(()) => {
                    outln!(
                        "{app}: ran {action} on {} {}/{}",
                        plan.resource.kind,
                        plan.resource.namespace,
                        plan.resource.name
                    );
                    0
                }
                Err(e) => report(&e),
            }
        }
    }
}

pub async fn deferrals(
    paths: &Paths,
    cli_read_only: bool,
    which: DeferralsCommand,
    instance: Option<&str>,
    dry_run: bool,
) -> u8 {
    let cfg = match config(paths) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let journal = match Journal::configured(&paths.data_dir, Some(&cfg)) {
        Ok(j) => Some(Arc::new(j)),
        Err(e) => return fail(e),
    };
    let now = Utc::now();
    let mut code = 0u8;
    let mut any = false;
    for ic in cfg
        .instances
        .iter()
        .filter(|i| instance.is_none_or(|n| n == i.name))
    {
        any = true;
        let client = match crate::clients::argocd::ArgoClient::new(ic) {
            Ok(c) => c,
            Err(e) => {
                code = code.max(fail(format!("{}: {e}", ic.name)));
                continue;
            }
        };
        let session = Session::new(
            client,
            cli_read_only || cfg.read_only || ic.read_only,
            cfg.protected.clone(),
        )
        .protect_production(cfg.protect_production.unwrap_or(true))
        .with_journal(journal.clone());
        let found = match actions::defer::list(&session).await {
            Ok(f) => f,
            Err(e) => {
                code = code.max(fail(format!("{}: {e}", ic.name)));
                continue;
            }
        };
        for f in found {
            let t = &f.target;
            match &f.deferral {
                Err(e) => {
                    code = code.max(fail(format!("{}/{}: {e}", t.instance, t.name)));
                    continue;
                }
                Ok(d) => {
                    let due = f.due(now);
                    outln!(
                        "{}\t{}\t{}\t{}\t{}",
                        t.instance,
                        t.name,
                        d.until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        if due {
                            "due".to_string()
                        } else {
                            format!(
                                "in {}",
                                crate::tui::decisions::countdown((d.until - now).num_seconds())
                            )
                        },
                        d.reason
                    );
                    if which == DeferralsCommand::Apply && due {
                        if dry_run {
                            outln!("  would restore the sync policy of {}", t.name);
                            continue;
                        }
                        match actions::defer::restore(&session, t).await {
                            Ok(r) => outln!("  restored: {}", r.summary()),
                            Err(e) => {
                                errln!("driftdeck: {}/{}: {e}", t.instance, t.name);
                                code = code.max(e.exit_code());
                            }
                        }
                    }
                }
            }
        }
    }
    if !any {
        return fail(format!(
            "no instance named `{}` in the config",
            instance.unwrap_or("")
        ));
    }
    code
}

pub async fn adopt(paths: &Paths, app: &str, instance: Option<&str>, output: AdoptOutput) -> u8 {
    let (session, target, _) = match open(paths, true, app, instance).await {
        Ok(x) => x,
        Err(c) => return c,
    };
    let managed = match session
        .client
        .managed_resources(&target.name, target.ns())
        .await
    {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let a = match actions::adopt::adoption(&managed.items) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if a.resources == 0 {
        errln!("driftdeck: {app} does not differ from Git; nothing to adopt");
        return 0;
    }
    if output != AdoptOutput::Patch {
        out!("{}", a.ignore_differences);
    }
    if output == AdoptOutput::Both {
        outln!();
    }
    if output != AdoptOutput::Ignore {
        out!("{}", a.patch);
    }
    0
}
