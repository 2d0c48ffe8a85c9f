//! A live app's drift as a scenario: the Application, its project, the drifted resources of
//! its managed-resources reply, and the gathered context. The same record the journal keeps,
//! so a live decision can be replayed from it.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::context::{Gathered, ObjRef, Sources, drifted_refs};
use super::scenario::{Context, DriftedResource, Scenario};
use crate::clients::argocd::ArgoClient;
use crate::model::app::{AppProject, Application, ManagedResource};

fn state(s: &str) -> Result<Option<Value>, String> {
    if s.is_empty() || s == "null" {
        return Ok(None);
    }
    serde_json::from_str::<Value>(s)
        .map(|v| (!v.is_null()).then_some(v))
        .map_err(|e| format!("a resource state is not JSON: {e}"))
}

/// The drifted resources of a managed-resources reply: modified ones, ones missing live, and
/// live ones Git no longer has (that a sync would prune).
pub fn drifted(
    items: &[ManagedResource],
    app: &Application,
) -> Result<Vec<DriftedResource>, String> {
    let prunable: Vec<(&str, &str, &str)> = app
        .status
        .resources
        .iter()
        .filter(|r| r.requires_pruning)
        .map(|r| (r.kind.as_str(), r.namespace.as_str(), r.name.as_str()))
        .collect();
    let mut out = Vec::new();
    for it in items {
        if it.hook {
            continue;
        }
        let live = state(&it.live_state)?;
        let desired = match state(&it.predicted_live_state)? {
            Some(p) => Some(p),
            None => state(&it.target_state)?,
        };
        let extra = desired.is_none()
            && live.is_some()
            && prunable.contains(&(it.kind.as_str(), it.namespace.as_str(), it.name.as_str()));
        let missing = desired.is_some() && live.is_none();
        if it.modified || missing || extra {
            out.push(DriftedResource { desired, live });
        }
    }
    Ok(out)
}

/// A scenario of a live app at `now`.
pub fn scenario(
    instance: &str,
    app: &Application,
    project: Option<&AppProject>,
    items: &[ManagedResource],
    context: Option<Context>,
    now: DateTime<Utc>,
) -> Result<Scenario, String> {
    let resources = drifted(items, app)?;
    if resources.is_empty() {
        return Err(format!("{} has no drifted resource", app.metadata.name));
    }
    Ok(Scenario {
        name: format!("{instance}-{}", app.metadata.name),
        description: Some(format!(
            "live drift of {} on {instance}, recorded at {}",
            app.metadata.name,
            now.to_rfc3339()
        )),
        now,
        app: serde_json::to_value(app).map_err(|e| e.to_string())?,
        project: project.map(|p| serde_json::to_value(p).unwrap_or(Value::Null)),
        resources,
        context,
        actions: Vec::new(),
        expect: None,
    })
}

/// Everything a live decision needs, fetched: the app, its project, its managed resources and
/// its context, in parallel where possible.
pub async fn fetch(
    client: &ArgoClient,
    name: &str,
    app_namespace: Option<&str>,
    sources: &Sources,
    now: DateTime<Utc>,
) -> Result<(Scenario, Vec<super::context::SourceReport>), String> {
    let (app, managed) = tokio::join!(
        client.get_app(name, app_namespace, None),
        client.managed_resources(name, app_namespace)
    );
    let app = app.map_err(|e| e.to_string())?;
    let managed = managed.map_err(|e| e.to_string())?;
    let refs: Vec<ObjRef> = drifted_refs(&managed.items);
    let project_name = if app.spec.project.is_empty() {
        "default".to_string()
    } else {
        app.spec.project.clone()
    };
    let (project, gathered): (_, Gathered) = tokio::join!(
        client.project(&project_name),
        sources.gather(&app, Some(client), &refs, now)
    );
    // A project that cannot be read leaves the windows unknown: the decision says so through
    // its guardrails rather than failing.
    let project = project.ok();
    let context = if sources.configured() || !gathered.context.sources.is_empty() {
        Some(gathered.context)
    } else {
        None
    };
    let sc = scenario(
        client.instance(),
        &app,
        project.as_ref(),
        &managed.items,
        context,
        now,
    )?;
    Ok((sc, gathered.report))
}
