//! Defer: pause self-heal until a time, recording why and the sync policy that was in force on
//! the Application itself, and restore it when due (the TUI while it runs, `driftdeck
//! deferrals apply` from cron).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    ActionError, DEFER_REASON, DEFERRED_UNTIL, PAUSE_REASON, PAUSED_POLICY, Session, Target,
    annotation_ops,
};
use crate::model::app::{Application, SyncPolicy};

/// A deferral as the Application records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deferral {
    pub until: DateTime<Utc>,
    pub reason: String,
    /// The sync policy in force before (None: the app had none).
    pub previous: Option<SyncPolicy>,
}

/// Reads the deferral annotations of an app; `Err` when they are there but unreadable.
pub fn deferral_of(app: &Application) -> Option<Result<Deferral, String>> {
    let a = &app.metadata.annotations;
    let until = a.get(DEFERRED_UNTIL)?;
    Some((|| {
        let until = DateTime::parse_from_rfc3339(until)
            .map_err(|e| format!("{DEFERRED_UNTIL} is not an RFC 3339 time ({until:?}): {e}"))?
            .with_timezone(&Utc);
        let previous = previous_policy(app)?;
        Ok(Deferral {
            until,
            reason: a.get(DEFER_REASON).cloned().unwrap_or_default(),
            previous,
        })
    })())
}

/// The sync policy recorded in `driftdeck.io/paused-self-heal` (None: there was none).
pub fn previous_policy(app: &Application) -> Result<Option<SyncPolicy>, String> {
    match app.metadata.annotations.get(PAUSED_POLICY) {
        None => Ok(app.spec.sync_policy.clone()),
        Some(s) => serde_json::from_str::<Option<SyncPolicy>>(s)
            .map_err(|e| format!("{PAUSED_POLICY} is not a sync policy ({s:?}): {e}")),
    }
}

/// The value recorded before pausing: the policy already recorded (an app paused twice keeps
/// the first), else the one in force.
fn policy_to_record(app: &Application) -> String {
    app.metadata
        .annotations
        .get(PAUSED_POLICY)
        .cloned()
        .unwrap_or_else(|| {
            serde_json::to_string(&app.spec.sync_policy).unwrap_or_else(|_| "null".into())
        })
}

/// Patches with a JSON patch built from the app as read; when someone changed the app in
/// between (the resourceVersion test fails), reads it again and retries once.
pub(super) async fn patch_fresh(
    session: &Session,
    t: &Target,
    mut app: Application,
    build: impl Fn(&Application) -> Result<Vec<Value>, ActionError>,
) -> Result<Application, ActionError> {
    for attempt in 0..2 {
        let ops = build(&app)?;
        match session
            .client
            .patch_app(&t.name, t.ns(), &Value::Array(ops), "json")
            .await
        {
            Ok(a) => return Ok(a),
            Err(crate::clients::argocd::ArgoError::Refused { message, .. })
                if attempt == 0 && message.contains("test failed") =>
            {
                app = session.app(t).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ActionError::Failed(format!(
        "{} kept changing while driftdeck patched it; try again",
        t.name
    )))
}

/// Defers the drift of `t` until `until`: records the reason, the end and the sync policy in
/// force, and turns self-heal off so Argo CD stops reverting it meanwhile.
pub async fn defer(
    session: &Session,
    t: &Target,
    until: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Application, ActionError> {
    if reason.trim().is_empty() {
        return Err(ActionError::Refused(
            "a deferral needs a reason (--reason TEXT); nothing was changed".into(),
        ));
    }
    if until <= now {
        return Err(ActionError::Refused(format!(
            "the deferral would end at {} which is not in the future; nothing was changed",
            until.to_rfc3339()
        )));
    }
    let app = session.app(t).await?;
    session.check(&app, "update").await?;
    let until_s = until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let res = patch_fresh(session, t, app, |app| {
        let mut ops = annotation_ops(
            app,
            &[
                (DEFERRED_UNTIL, until_s.clone()),
                (DEFER_REASON, reason.trim().to_string()),
                (PAUSED_POLICY, policy_to_record(app)),
            ],
            &[],
        );
        if app.self_heal() {
            ops.push(json!({
                "op": "replace",
                "path": "/spec/syncPolicy/automated/selfHeal",
                "value": false,
            }));
        }
        Ok(ops)
    })
    .await;
    session
        .record(json!({
            "action": "defer",
            "app": t.name,
            "app_namespace": t.app_namespace,
            "until": until_s,
            "reason": reason,
            "outcome": match &res { Ok(_) => "deferred".to_string(), Err(e) => e.to_string() },
        }))
        .await?;
    res
}

/// Puts back the recorded sync policy and removes the marks named in `marks`.
pub(super) async fn restore_policy(
    session: &Session,
    t: &Target,
    marks: &[&str],
    action: &str,
) -> Result<Application, ActionError> {
    let app = session.app(t).await?;
    session.check(&app, "update").await?;
    if !app.metadata.annotations.contains_key(PAUSED_POLICY) {
        return Err(ActionError::Refused(format!(
            "{} has no paused sync policy recorded ({PAUSED_POLICY}); nothing to restore",
            t.name
        )));
    }
    let res = patch_fresh(session, t, app, |app| {
        let previous = previous_policy(app).map_err(ActionError::Failed)?;
        let mut ops = annotation_ops(app, &[], marks);
        match previous {
            Some(p) => ops.push(json!({"op": "add", "path": "/spec/syncPolicy", "value": p})),
            None if app.spec.sync_policy.is_some() => {
                ops.push(json!({"op": "remove", "path": "/spec/syncPolicy"}))
            }
            None => {}
        }
        Ok(ops)
    })
    .await;
    session
        .record(json!({
            "action": action,
            "app": t.name,
            "app_namespace": t.app_namespace,
            "outcome": match &res {
                Ok(a) => format!("restored: auto-sync {}, self-heal {}",
                    if a.auto_sync() { "on" } else { "off" },
                    if a.self_heal() { "on" } else { "off" }),
                Err(e) => e.to_string(),
            },
        }))
        .await?;
    res
}

/// Ends a deferral now: restores the recorded sync policy and removes the marks.
pub async fn restore(session: &Session, t: &Target) -> Result<Application, ActionError> {
    restore_policy(
        session,
        t,
        &[DEFERRED_UNTIL, DEFER_REASON, PAUSED_POLICY],
        "restore-deferral",
    )
    .await
}

/// Restores the auto-sync a guided rollback paused.
pub async fn restore_auto_sync(session: &Session, t: &Target) -> Result<Application, ActionError> {
    restore_policy(
        session,
        t,
        &[PAUSED_POLICY, PAUSE_REASON],
        "restore-auto-sync",
    )
    .await
}

/// A deferral found on an instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    pub target: Target,
    pub deferral: Result<Deferral, String>,
}

impl Found {
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.deferral.as_ref().is_ok_and(|d| d.until <= now)
    }
}

/// Every deferred app of the session's instance.
pub async fn list(session: &Session) -> Result<Vec<Found>, ActionError> {
    let l = session
        .client
        .list_apps(
            &Default::default(),
            Some(&[
                "items.metadata.name",
                "items.metadata.namespace",
                "items.metadata.annotations",
                "items.spec",
            ]),
        )
        .await?;
    Ok(l.items
        .iter()
        .filter_map(|a| {
            deferral_of(a).map(|d| Found {
                target: session.target(a),
                deferral: d,
            })
        })
        .collect())
}
