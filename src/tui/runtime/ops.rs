//! Performing the TUI's actions: preparing dialogs (plans, `can-i`) and running confirmed
//! actions with their progress, through `crate::actions`.

use std::sync::Arc;

use super::Instances;
use crate::actions::{self, Session, Target};
use crate::model::fleet::AppKey;
use crate::tui::msg::Msg;
use crate::tui::ops::{Act, Prepare, Prepared, Then};

/// What every action needs besides the instance's client.
#[derive(Clone)]
pub struct ActKit {
    pub protected: Vec<String>,
    /// Production apps are protected too (the config's `protect_production`).
    pub protect_production: bool,
    pub journal: Option<Arc<crate::decide::journal::Journal>>,
    pub kube: Option<Arc<crate::clients::kube::Clusters>>,
    /// Writes whose answer is not journaled yet (quitting waits for them).
    pub inflight: crate::actions::Inflight,
}

impl Default for ActKit {
    fn default() -> Self {
        ActKit {
            protected: Vec::new(),
            protect_production: true,
            journal: None,
            kube: None,
            inflight: Default::default(),
        }
    }
}

/// The session of an instance (its client, read-only flag, protected apps, journal).
pub fn session(inst: &Instances, kit: &ActKit, id: u16) -> Option<Session> {
    let client = inst.client(id)?.clone();
    let read_only = inst.views.get(id as usize).is_none_or(|v| v.read_only);
    Some(
        Session::new(client, read_only, kit.protected.clone())
            .with_journal(kit.journal.clone())
            .with_kube(kit.kube.clone())
            .with_inflight(kit.inflight.clone())
            .protect_production(kit.protect_production),
    )
}

fn target(s: &Session, key: &AppKey) -> Target {
    Target {
        instance: s.instance.clone(),
        name: key.name.clone(),
        app_namespace: key.namespace.clone(),
    }
}

fn no_client(key: &AppKey) -> String {
    format!("{}: the instance has no usable client", key.name)
}

/// Reads what a dialog shows.
pub async fn prepare(
    sessions: Vec<(AppKey, Option<Session>)>,
    what: Prepare,
) -> Result<Prepared, String> {
    let one = || {
        sessions
            .first()
            .cloned()
            .ok_or_else(|| "no app".to_string())
    };
    match what {
        Prepare::Sync(_) => {
            let futs = sessions.into_iter().map(|(key, s)| async move {
                let r = match s {
                    Some(s) => actions::sync::plan(&s, &target(&s, &key), Default::default())
                        .await
                        .map_err(|e| e.to_string()),
                    None => Err(no_client(&key)),
                };
                (key, r)
            });
            Ok(Prepared::Sync(futures::future::join_all(futs).await))
        }
        Prepare::Rollback { key, id } => {
            let (_, s) = one()?;
            let s = s.ok_or_else(|| no_client(&key))?;
            let t = target(&s, &key);
            let (app, history) = actions::rollback::history(&s, &t)
                .await
                .map_err(|e| e.to_string())?;
            let entry = history
                .into_iter()
                .find(|h| h.id == id)
                .ok_or_else(|| format!("{} has no deployment #{id} any more", key.name))?;
            let diffs = actions::rollback::diff_to(&s, &t, &app, &entry.revision)
                .await
                .map_err(|e| e.to_string())?;
            let diff = actions::plans::rollback_diff(id, &diffs);
            let plan = actions::rollback::plan(&s, &t, &app, entry, diffs.len())
                .await
                .map_err(|e| e.to_string())?;
            Ok(Prepared::Rollback {
                key,
                plan: Box::new(plan),
                diff,
            })
        }
        Prepare::Terminate(ref key) | Prepare::Defer(ref key) | Prepare::Annotate(ref key) => {
            let (_, s) = one()?;
            let s = s.ok_or_else(|| no_client(key))?;
            let t = target(&s, key);
            // The dialog asks for the options; the plan says what will happen.
            let plan = match &what {
                Prepare::Terminate(_) => actions::plans::terminate(&s, &t).await,
                Prepare::Defer(_) => actions::plans::defer(&s, &t, None).await,
                _ => actions::plans::annotate(&s, &t, None, None, true).await,
            }
            .map_err(|e| e.to_string())?;
            Ok(Prepared::Simple {
                protected: plan.protected,
                prepare: what.clone(),
                lines: plan.lines,
            })
        }
        Prepare::ResourceActions { key, spec } => {
            let (_, s) = one()?;
            let s = s.ok_or_else(|| no_client(&key))?;
            let (resource, actions) = actions::resource::list(&s, &target(&s, &key), &spec)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Prepared::ResourceActions {
                key,
                spec,
                resource,
                actions,
            })
        }
        Prepare::ResourceAction {
            key,
            spec,
            action,
            params,
        } => {
            let (_, s) = one()?;
            let s = s.ok_or_else(|| no_client(&key))?;
            let plan = actions::resource::plan(&s, &target(&s, &key), &spec, &action, params)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Prepared::ResourceAction {
                key,
                plan: Box::new(plan),
            })
        }
        Prepare::Adopt(key) => {
            let (_, s) = one()?;
            let s = s.ok_or_else(|| no_client(&key))?;
            let managed = s
                .client
                .managed_resources(&key.name, target(&s, &key).ns())
                .await
                .map_err(|e| e.to_string())?;
            let a = actions::adopt::adoption(&managed.items)?;
            if a.resources == 0 {
                return Err(format!(
                    "{} does not differ from Git; nothing to adopt",
                    key.name
                ));
            }
            Ok(Prepared::Adopt {
                text: format!("{}\n{}", a.ignore_differences, a.patch),
                resources: a.resources,
            })
        }
    }
}

/// Runs a confirmed action, sending its progress and its end.
pub async fn act(session: Option<Session>, op: u64, act: Act, tx: super::Sink) {
    let Some(s) = session else {
        let _ = tx
            .send(Msg::ActDone {
                op,
                result: Err(no_client(act.key())),
                then: None,
            })
            .await;
        return;
    };
    let timeout = std::time::Duration::from_secs(600);
    let t = target(&s, act.key());
    let say = |text: String| {
        tx.offer(Msg::ActProgress { op, text });
    };
    let mut then = None;
    let result: Result<String, String> = match act {
        Act::Sync { plan, .. } => actions::sync::run(&s, &plan, timeout, |o| {
            say(format!(
                "{}: {}",
                o.phase,
                crate::model::operation::progress(o, &[])
            ))
        })
        .await
        .map(|o| {
            let n = o
                .sync_result
                .as_ref()
                .map(|r| r.resources.len())
                .unwrap_or(0);
            format!(
                "{}: {} ({})",
                o.phase,
                o.message,
                crate::util::count(n, "resource")
            )
        }),
        Act::Refresh { hard, .. } => actions::sync::refresh(&s, &t, hard)
            .await
            .map(|a| format!("{} and {}", a.status.sync.status, a.status.health.status)),
        Act::Terminate { .. } => actions::sync::terminate(&s, &t, timeout)
            .await
            .map(|o| format!("{}: {}", o.phase, o.message)),
        Act::Rollback { plan, reason, key } => {
            let r = actions::rollback::run(&s, &plan, &reason, timeout, |st| {
                say(format!(
                    "{} {}: {}",
                    if st.ok { "done" } else { "FAILED" },
                    st.step,
                    st.detail
                ))
            })
            .await;
            if let Ok(o) = &r
                && o.paused
            {
                then = Some(Then::OfferRestore(key));
            }
            r.map(|o| {
                format!(
                    "rolled back to #{}; health {}{}",
                    plan.entry.id,
                    o.health,
                    if o.paused { "; auto-sync paused" } else { "" }
                )
            })
        }
        Act::RestoreAutoSync { .. } => actions::defer::restore_auto_sync(&s, &t)
            .await
            .map(|r| r.summary()),
        Act::Defer { until, reason, .. } => {
            actions::defer::defer(&s, &t, until, &reason, chrono::Utc::now())
                .await
                .map(|_| {
                    format!(
                        "deferred until {}",
                        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    )
                })
        }
        Act::RestoreDeferral { .. } => actions::defer::restore(&s, &t)
            .await
            .map(|r| format!("deferral ended; {}", r.summary())),
        Act::Annotate {
            incident,
            note,
            label,
            ..
        } => actions::annotate::annotate(&s, &t, &incident, &note, label)
            .await
            .map(|o| {
                format!(
                    "annotated with {incident}; {} live resources labelled",
                    o.labelled.len()
                )
            }),
        Act::ResourceAction { plan, .. } => actions::resource::run(&s, &plan).await.map(|()| {
            format!(
                "ran {} on {} {}",
                plan.action, plan.resource.kind, plan.resource.name
            )
        }),
    }
    .map_err(|e| e.to_string());
    let _ = tx.send(Msg::ActDone { op, result, then }).await;
}

/// Reads the revision metadata of an app's history.
pub async fn history(session: Option<Session>, req: u64, key: AppKey) -> Option<Msg> {
    let s = session?;
    let t = target(&s, &key);
    let entries = actions::rollback::history(&s, &t)
        .await
        .map(|(_, e)| e)
        .unwrap_or_default();
    Some(Msg::HistoryLoaded { req, entries })
}
