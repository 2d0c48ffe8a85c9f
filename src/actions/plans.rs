//! What an action will do, in words, before it is confirmed: the one text of each plan, shown
//! by the TUI's dialog and printed by the headless command (which knows its options up front,
//! where the dialog asks for them). The sync and rollback plans are `sync::SyncPlan::lines` and
//! `rollback::RollbackPlan::lines`; the others are here.

use super::{ActionError, Session, Target};
use crate::model::app::Application;

/// A plan of an action whose only option is its confirmation: the lines that say what will
/// happen, the app as it is now, and whether the app wants its name typed (protected).
#[derive(Debug, Clone)]
pub struct Plan {
    pub app: Application,
    pub lines: Vec<String>,
    pub protected: bool,
}

async fn checked(
    s: &Session,
    t: &Target,
    rbac: &str,
) -> Result<(Application, String), ActionError> {
    let app = s.app(t).await?;
    s.check(&app, rbac).await?;
    let place = s.place(&app).await;
    Ok((app, place))
}

/// Terminating the running operation; refused when none runs.
pub async fn terminate(s: &Session, t: &Target) -> Result<Plan, ActionError> {
    let (app, place) = checked(s, t, "sync").await?;
    let op = app
        .status
        .operation_state
        .as_ref()
        .filter(|o| o.in_progress())
        .ok_or_else(|| {
            ActionError::Refused(format!(
                "{} has no operation in progress; nothing to terminate",
                t.name
            ))
        })?;
    let lines = vec![
        format!("terminate the operation of {place}"),
        format!("it is {} since {}: {}", op.phase, op.started_at, op.message),
        "the resources already applied stay as they are".to_string(),
    ];
    Ok(Plan {
        protected: s.is_protected(&app),
        app,
        lines,
    })
}

/// Deferring the revert of the drift, until `until` for `reason` when they are known already.
pub async fn defer(
    s: &Session,
    t: &Target,
    until: Option<(chrono::DateTime<chrono::Utc>, &str)>,
) -> Result<Plan, ActionError> {
    let (app, place) = checked(s, t, "update").await?;
    let mut lines = vec![match until {
        Some((u, reason)) => format!(
            "defer the revert of the drift of {place} until {} ({reason})",
            u.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => format!("defer the revert of the drift of {place}"),
    }];
    lines.push(if app.self_heal() {
        "self-heal is on: it goes off until the end you give, and comes back on by itself then (the TUI, or `driftdeck deferrals apply` from cron)".to_string()
    } else {
        "self-heal is already off: the deferral records the end and the reason; at the end the sync policy in force now is put back as it is (self-heal stays off)".to_string()
    });
    lines.push(format!(
        "recorded on the Application: {}, {}, {}",
        super::DEFERRED_UNTIL,
        super::DEFER_REASON,
        super::PAUSED_POLICY
    ));
    if let Some(Ok(d)) = super::defer::deferral_of(&app) {
        lines.push(format!(
            "already deferred until {} ({})",
            d.until.to_rfc3339(),
            d.reason
        ));
    }
    Ok(Plan {
        protected: s.is_protected(&app),
        app,
        lines,
    })
}

/// Annotating the app with an incident (`incident` and `note` when known already), and labelling
/// its drifted live resources when `label_resources`.
pub async fn annotate(
    s: &Session,
    t: &Target,
    incident: Option<&str>,
    note: Option<&str>,
    label_resources: bool,
) -> Result<Plan, ActionError> {
    let (app, place) = checked(s, t, "update").await?;
    let mut lines = vec![match incident {
        Some(i) => format!(
            "annotate {place} with {}={i}{}",
            super::INCIDENT,
            note.map(|n| format!(", {}={n}", super::INCIDENT_NOTE))
                .unwrap_or_default()
        ),
        None => format!(
            "annotate {place} with {} and {}",
            super::INCIDENT,
            super::INCIDENT_NOTE
        ),
    }];
    if let Some(i) = app.metadata.annotations.get(super::INCIDENT) {
        lines.push(format!("it is annotated with {i} now"));
    }
    if label_resources {
        let managed = s.client.managed_resources(&t.name, t.ns()).await?;
        let drifted = super::annotate::drifted_live(&managed.items);
        lines.push(format!(
            "{} drifted live resources get the label {} (through Argo CD's resource patch):",
            drifted.len(),
            super::annotate::INCIDENT_LABEL
        ));
        for r in drifted {
            lines.push(format!("  {} {}/{}", r.kind, r.namespace, r.name));
        }
    }
    Ok(Plan {
        protected: s.is_protected(&app),
        app,
        lines,
    })
}

/// What differs between the live app and deployment `id`, a few changes per resource.
pub fn rollback_diff(id: i64, diffs: &[crate::diff::ResourceDiff]) -> Vec<String> {
    let mut out = vec![format!("Live now vs deployment #{id}:")];
    for d in diffs {
        out.push(format!("  {} {}/{}", d.id.kind, d.id.namespace, d.id.name));
        for c in d.changes.iter().take(8) {
            let v = |x: &Option<serde_json::Value>| {
                x.as_ref().map(|v| v.to_string()).unwrap_or("(none)".into())
            };
            out.push(format!(
                "    {}: {} → {}",
                c.path,
                v(&c.live),
                v(&c.desired)
            ));
        }
    }
    if diffs.is_empty() {
        out.push("  nothing differs".into());
    }
    out
}
