//! Resource actions: the actions Argo CD offers for a live resource of an app (its Lua
//! discovery: `restart`, `scale`, a Rollout's `promote-full`, `abort`, ...), listed and run
//! through Argo CD with the same rules as every action: read-only refuses, `can-i` is asked
//! for `action/GROUP/KIND/ACTION`, a protected app wants its name, and the run is journaled
//! before its request and after it.

use serde::Serialize;
use serde_json::json;

use super::{ActionError, Session, Target};
use crate::clients::argocd::{ResourceAction, ResourceId};
use crate::model::app::Application;

/// Which resource of the app, as the operator names it (the version is looked up).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResourceSpec {
    pub kind: String,
    pub name: String,
    /// Empty: the only resource of that kind and name.
    pub namespace: String,
    /// Empty: the group is looked up too (it must then be unambiguous).
    pub group: Option<String>,
}

impl ResourceSpec {
    pub fn label(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Finds the resource among the app's tree nodes (or its managed resources), which gives its
/// group, version and namespace.
pub fn resolve(
    app: &Application,
    tree: &crate::model::app::ApplicationTree,
    spec: &ResourceSpec,
) -> Result<ResourceId, ActionError> {
    let mut found: Vec<ResourceId> = Vec::new();
    let mut push = |group: &str, version: &str, kind: &str, namespace: &str, name: &str| {
        let id = ResourceId {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        if kind.eq_ignore_ascii_case(&spec.kind)
            && name == spec.name
            && (spec.namespace.is_empty() || namespace == spec.namespace)
            && spec.group.as_deref().is_none_or(|g| g == group)
            && !found.contains(&id)
        {
            found.push(id);
        }
    };
    for n in &tree.nodes {
        let r = &n.reference;
        push(&r.group, &r.version, &r.kind, &r.namespace, &r.name);
    }
    for r in &app.status.resources {
        push(&r.group, &r.version, &r.kind, &r.namespace, &r.name);
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(ActionError::Failed(format!(
            "{} has no resource {}; the app screen's Resources tab lists them",
            app.metadata.name,
            spec.label()
        ))),
        _ => Err(ActionError::Failed(format!(
            "{} has several resources {}: add --namespace or --group to say which ({})",
            app.metadata.name,
            spec.label(),
            found
                .iter()
                .map(|r| format!("{}/{} in {}", r.group, r.kind, r.namespace))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The RBAC action Argo CD checks for running `action` on `res`.
pub fn rbac_action(res: &ResourceId, action: &str) -> String {
    format!("action/{}/{}/{}", res.group, res.kind, action)
}

/// The actions offered for the resource, as Argo CD lists them.
pub async fn list(
    session: &Session,
    t: &Target,
    spec: &ResourceSpec,
) -> Result<(ResourceId, Vec<ResourceAction>), ActionError> {
    let app = session.app(t).await?;
    let tree = session.client.resource_tree(&t.name, t.ns()).await?;
    let res = resolve(&app, &tree, spec)?;
    let actions = session
        .client
        .resource_actions(&t.name, t.ns(), &res)
        .await?;
    Ok((res, actions))
}

/// What an action does, in words, for the well-known ones.
pub fn describe(kind: &str, action: &str) -> &'static str {
    match (kind, action) {
        ("Rollout", "resume") => {
            "promotes the paused canary: it goes on to its next step (kubectl argo rollouts \
             promote)"
        }
        ("Rollout", "promote-full") => {
            "skips every remaining step and analysis: the canary becomes stable now"
        }
        ("Rollout", "abort") => {
            "stops the canary and sends all traffic back to stable (the Rollout turns Degraded \
             until retried or synced)"
        }
        ("Rollout", "retry") => "starts the aborted canary again from its first step",
        ("Rollout", "pause") => "pauses the canary where it is",
        ("Rollout", "skip-current-step") => "moves the canary past its current step",
        ("Rollout", "restart") => "restarts the Rollout's pods, a few at a time",
        (_, "restart") => "restarts every pod of the workload (a rolling restart)",
        (_, "scale") => "sets the number of replicas (live drift from Git until synced)",
        (_, "pause") => "pauses the Deployment's rollouts (the app turns Suspended)",
        (_, "resume") => "resumes the paused Deployment's rollouts",
        _ => "runs the action Argo CD defines for this kind",
    }
}

/// A resource action, checked and ready to be confirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionPlan {
    pub target: Target,
    pub app: Application,
    pub resource: ResourceId,
    pub action: String,
    pub params: Vec<(String, String)>,
    pub protected: bool,
    pub lines: Vec<String>,
}

/// Plans `action` (with `params`) on the resource: refused when the instance is read-only, the
/// account may not run it (`can-i`), Argo CD does not offer it for this resource, it is
/// disabled now, or a parameter it takes is missing.
pub async fn plan(
    session: &Session,
    t: &Target,
    spec: &ResourceSpec,
    action: &str,
    params: Vec<(String, String)>,
) -> Result<ActionPlan, ActionError> {
    session.check_writable()?;
    let app = session.app(t).await?;
    let tree = session.client.resource_tree(&t.name, t.ns()).await?;
    let res = resolve(&app, &tree, spec)?;
    check_can(session, &app, &res, action).await?;
    let offered = session
        .client
        .resource_actions(&t.name, t.ns(), &res)
        .await?;
    let Some(a) = offered.iter().find(|a| a.name == action) else {
        return Err(ActionError::Refused(format!(
            "Argo CD offers no action {action:?} for {} {}/{}; it offers: {}",
            res.kind,
            res.namespace,
            res.name,
            if offered.is_empty() {
                "none".to_string()
            } else {
                offered
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    };
    if a.disabled {
        return Err(ActionError::Refused(format!(
            "{action} is disabled for {} {} now (Argo CD's discovery says so: {}); nothing was \
             done",
            res.kind,
            res.name,
            disabled_reason(&res.kind, action)
        )));
    }
    for p in &a.params {
        match params.iter().find(|(n, _)| *n == p.name) {
            None => {
                return Err(ActionError::Failed(format!(
                    "{action} needs a value for {}: add --param {}=VALUE",
                    p.name, p.name
                )));
            }
            Some((_, v)) if p.name == "replicas" && v.parse::<u32>().is_err() => {
                return Err(ActionError::Failed(format!(
                    "replicas must be a whole number of 0 or more, not {v:?}"
                )));
            }
            _ => {}
        }
    }
    if let Some((n, _)) = params
        .iter()
        .find(|(n, _)| !a.params.iter().any(|p| p.name == *n))
    {
        return Err(ActionError::Failed(format!(
            "{action} takes no parameter {n:?}{}",
            if a.params.is_empty() {
                String::new()
            } else {
                format!(
                    " (it takes {})",
                    a.params
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )));
    }
    let place = session.place(&app).await;
    let mut lines = vec![format!(
        "run {action}{} on {} {}/{} of {place}",
        params
            .iter()
            .map(|(n, v)| format!(" {n}={v}"))
            .collect::<String>(),
        res.kind,
        res.namespace,
        res.name
    )];
    lines.push(format!("it {}", describe(&res.kind, action)));
    lines.push(format!(
        "through Argo CD (RBAC {}), journaled",
        rbac_action(&res, action)
    ));
    Ok(ActionPlan {
        target: t.clone(),
        protected: session.is_protected(&app),
        app,
        resource: res,
        action: action.to_string(),
        params,
        lines,
    })
}

fn disabled_reason(kind: &str, action: &str) -> &'static str {
    match (kind, action) {
        ("Rollout", "resume") => "the Rollout is not paused",
        ("Rollout", "retry") => "the Rollout is not aborted",
        ("Rollout", "abort" | "promote-full" | "pause") => {
            "the Rollout is fully promoted, aborted or paused already"
        }
        ("Rollout", "skip-current-step") => "the canary is at its last step",
        (_, "resume") => "the Deployment is not paused",
        (_, "pause") => "the Deployment is paused already",
        _ => "it does not apply to the resource as it is",
    }
}

async fn check_can(
    session: &Session,
    app: &Application,
    res: &ResourceId,
    action: &str,
) -> Result<(), ActionError> {
    let object = super::rbac_object(app);
    let rbac = rbac_action(res, action);
    match session.client.can_i("applications", &rbac, &object).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ActionError::Refused(format!(
            "your Argo CD account on {} may not run {rbac} on {object} (can-i says no); ask an \
             Argo CD admin for the RBAC rule",
            session.instance
        ))),
        Err(e) => Err(ActionError::Failed(format!(
            "cannot ask {} whether you may run {rbac} on {object}: {e}",
            session.instance
        ))),
    }
}

/// Runs the planned action, journaled before its request (`resource-action-requested`) and
/// after it (`resource-action`, with its outcome).
pub async fn run(session: &Session, plan: &ActionPlan) -> Result<(), ActionError> {
    session.check_writable()?;
    let _inflight = session.inflight.enter();
    let body = |extra: serde_json::Value| {
        let mut b = json!({
            "app": plan.target.name,
            "app_namespace": plan.target.app_namespace,
            "resource": {
                "group": plan.resource.group,
                "kind": plan.resource.kind,
                "namespace": plan.resource.namespace,
                "name": plan.resource.name,
            },
            "resource_action": plan.action,
            "params": plan.params.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        });
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b
    };
    session
        .record(body(json!({"action": "resource-action-requested"})))
        .await?;
    let res = session
        .client
        .run_resource_action(
            &plan.target.name,
            plan.target.ns(),
            &plan.resource,
            &plan.action,
            &plan.params,
        )
        .await
        .map_err(ActionError::from);
    session
        .record(body(json!({
            "action": "resource-action",
            "outcome": match &res { Ok(()) => "done".to_string(), Err(e) => format!("refused: {e}") },
            "ok": res.is_ok(),
        })))
        .await?;
    res
}
