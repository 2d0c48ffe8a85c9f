//! The demo's ApplicationSets, one of each kind an instance of Argo CD typically has: a
//! cluster generator over its clusters (`cluster-addons`, rolled out by progressive sync,
//! staging first) and a list generator over its environments (`storefront`, one lineage of
//! versions promoted dev → staging → prod, each environment a release behind the one before).
//! The apps they generate are ordinary demo apps that name their set as owner; the set's
//! status (resources, conditions, progressive sync steps) is computed from them, as the
//! ApplicationSet controller does. Each instance also has an app of apps, `bootstrap`, whose
//! manifests are the sets and a few standalone Applications.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::generator::{ClusterData, DemoApp, make_app, ts, uid};
use crate::util::Rng;

/// One ApplicationSet of a demo instance.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoAppSet {
    pub name: String,
    pub project: String,
    /// `spec.generators`, as written.
    pub generators: Value,
    /// `spec.template`, as written.
    pub template: Value,
    /// Progressive sync (RollingSync): the `env` values of each step, in order.
    pub steps: Vec<Vec<&'static str>>,
    pub created: i64,
    pub uid: String,
}

/// Environments in promotion order.
pub const PROMOTION: [&str; 3] = ["dev", "staging", "prod"];

/// How many apps the sets of an instance with these clusters generate (and its app of apps).
pub fn generated_count(clusters: &[ClusterData]) -> usize {
    usize::from(!clusters.is_empty())
        + clusters.len()
        + PROMOTION
            .iter()
            .filter(|e| clusters.iter().any(|c| c.env == **e))
            .count()
}

fn owned(a: &mut DemoApp, set: &DemoAppSet) {
    a.app.metadata.owner_references = vec![crate::model::app::OwnerReference {
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "ApplicationSet".into(),
        name: set.name.clone(),
        uid: set.uid.clone(),
        controller: Some(true),
    }];
}

fn seed_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Adds the instance's ApplicationSets and the apps they generate.
pub fn add(
    instance: &str,
    clusters: &[ClusterData],
    apps: &mut Vec<DemoApp>,
    rng: &mut Rng,
    seed: u64,
    now: i64,
) -> Vec<DemoAppSet> {
    let created = now - 200 * 86_400;
    let addons = DemoAppSet {
        name: "cluster-addons".into(),
        project: "platform".into(),
        generators: json!([{"clusters": {"selector": {}}}]),
        template: json!({
            "metadata": {"name": "metrics-agent-{{.name}}", "labels": {"env": "{{index .metadata.labels \"env\"}}"}},
            "spec": {
                "project": "platform",
                "source": {"repoURL": "https://github.com/acme/platform-deploy.git", "path": "apps/metrics-agent/overlays/{{index .metadata.labels \"env\"}}", "targetRevision": "main"},
                "destination": {"server": "{{.server}}", "namespace": "metrics-agent"},
            }
        }),
        steps: vec![vec!["dev", "staging"], vec!["prod"]],
        created,
        uid: uid(seed_of(instance), "ApplicationSet/cluster-addons"),
    };
    for cl in clusters {
        let name = format!("metrics-agent-{}", cl.name);
        // One chart promoted through the environments, as `storefront` below.
        let mut lineage = Rng::new(seed ^ 0xadd0_5e75);
        let behind = PROMOTION.iter().position(|e| *e == cl.env).unwrap_or(0);
        let mut a = make_app(
            rng,
            Some(&mut lineage),
            behind,
            &name,
            "metrics-agent",
            "",
            "platform",
            cl,
            now,
        );
        // Progressive sync syncs the apps itself, step by step: their auto-sync is off.
        if let Some(p) = a.app.spec.sync_policy.as_mut() {
            p.automated = None;
        }
        owned(&mut a, &addons);
        apps.push(a);
    }
    let envs: Vec<&str> = PROMOTION
        .iter()
        .copied()
        .filter(|e| clusters.iter().any(|c| c.env == *e))
        .collect();
    let elements: Vec<Value> = envs
        .iter()
        .filter_map(|e| {
            let cl = clusters.iter().find(|c| c.env == *e)?;
            Some(json!({"env": e, "cluster": cl.name}))
        })
        .collect();
    let storefront = DemoAppSet {
        name: "storefront".into(),
        project: "commerce".into(),
        generators: json!([{"list": {"elements": elements}}]),
        template: json!({
            "metadata": {"name": "storefront-{{.env}}", "labels": {"env": "{{.env}}"}},
            "spec": {
                "project": "commerce",
                "source": {"repoURL": "https://github.com/acme/commerce-deploy.git", "path": "apps/storefront/overlays/{{.env}}", "targetRevision": "main"},
                "destination": {"name": "{{.cluster}}", "namespace": "storefront"},
            }
        }),
        steps: vec![],
        created,
        uid: uid(seed_of(instance), "ApplicationSet/storefront"),
    };
    for (i, env) in envs.iter().enumerate() {
        let Some(cl) = clusters.iter().find(|c| c.env == *env) else {
            continue;
        };
        // One lineage of releases (the same on every instance): each environment a release
        // behind the one before it in the promotion order.
        let mut lineage = Rng::new(seed ^ 0x5707_ef0e);
        let behind = PROMOTION.iter().position(|e| e == env).unwrap_or(i);
        let mut a = make_app(
            rng,
            Some(&mut lineage),
            behind,
            &format!("storefront-{env}"),
            "storefront",
            "",
            "commerce",
            cl,
            now,
        );
        owned(&mut a, &storefront);
        apps.push(a);
    }
    let sets = vec![addons, storefront];
    if let Some(b) = bootstrap(instance, clusters, apps, &sets, rng, now) {
        apps.push(b);
    }
    sets
}

/// The instance's app of apps: it declares the ApplicationSets and the first standalone
/// Applications, as a bootstrap repository does.
fn bootstrap(
    instance: &str,
    clusters: &[ClusterData],
    apps: &[DemoApp],
    sets: &[DemoAppSet],
    rng: &mut Rng,
    now: i64,
) -> Option<DemoApp> {
    use super::generator::{Child, PodState, WorkloadKind};
    let cl = clusters.first()?;
    let mut a = make_app(
        rng,
        None,
        0,
        "bootstrap",
        "bootstrap",
        "",
        "platform",
        cl,
        now,
    );
    let mut children: Vec<Child> = sets
        .iter()
        .map(|s| Child {
            kind: "ApplicationSet",
            name: s.name.clone(),
            spec: json!({"goTemplate": true, "generators": s.generators, "template": s.template}),
            status: Some(json!({"conditions": [
                {"type": "ErrorOccurred", "status": "False", "reason": "ApplicationSetUpToDate",
                 "message": "Successfully generated parameters for all Applications"},
                {"type": "ResourcesUpToDate", "status": "True", "reason": "ApplicationSetUpToDate",
                 "message": "All applications have been generated successfully"}
            ]})),
        })
        .collect();
    let mut standalone: Vec<&DemoApp> = apps
        .iter()
        .filter(|x| x.app.metadata.owner_references.is_empty())
        .collect();
    standalone.sort_by(|x, y| x.app.metadata.name.cmp(&y.app.metadata.name));
    for x in standalone.into_iter().take(4) {
        children.push(Child {
            kind: "Application",
            name: x.app.metadata.name.clone(),
            spec: serde_json::to_value(&x.app.spec).unwrap_or_default(),
            status: None,
        });
    }
    let w = &mut a.w;
    w.kind = WorkloadKind::AppOfApps;
    w.children = children;
    w.namespace = "argocd".into();
    w.drifts.clear();
    w.pods = PodState::Running;
    w.rolling = false;
    w.canary = None;
    w.has_hpa = false;
    w.has_ingress = false;
    w.has_rbac = false;
    w.has_pdb = false;
    w.orphans.clear();
    let app = &mut a.app;
    app.spec.destination = crate::model::app::ApplicationDestination {
        server: "https://kubernetes.default.svc".into(),
        namespace: "argocd".into(),
        name: String::new(),
    };
    if let Some(src) = app.spec.source.as_mut() {
        src.repo_url = "https://github.com/acme/platform-deploy.git".into();
        src.path = format!("bootstrap/{instance}");
        src.chart.clear();
        src.target_revision = "main".into();
        src.helm = None;
    }
    app.status.conditions.clear();
    app.spec.ignore_differences.clear();
    if let Some(op) = app.status.operation_state.as_mut() {
        op.phase = "Succeeded".into();
        op.message = "successfully synced (all tasks run)".into();
        op.finished_at = Some(op.started_at.clone());
    }
    Some(a)
}

fn sync_health(a: &DemoApp) -> (&str, &str, &str) {
    (
        a.app.status.sync.status.as_str(),
        a.app.status.health.status.as_str(),
        a.app.status.health.message.as_str(),
    )
}

/// The ApplicationSet as the API serves it, its status from the apps it generated.
pub fn json(set: &DemoAppSet, apps: &BTreeMap<String, DemoApp>, now: i64) -> Value {
    let mine: Vec<&DemoApp> = apps
        .values()
        .filter(|a| {
            a.app
                .metadata
                .owner_references
                .iter()
                .any(|o| o.kind == "ApplicationSet" && o.name == set.name)
        })
        .collect();
    let resources: Vec<Value> = mine
        .iter()
        .map(|a| {
            let (sync, health, message) = sync_health(a);
            let mut h = json!({"status": health});
            if !message.is_empty() {
                h["message"] = json!(message);
            }
            json!({
                "group": "argoproj.io", "version": "v1alpha1", "kind": "Application",
                "namespace": a.app.metadata.namespace, "name": a.app.metadata.name,
                "status": sync, "health": h,
            })
        })
        .collect();
    let all_healthy = mine.iter().all(|a| sync_health(a).1 == "Healthy");
    let since = ts(set.created);
    let mut conditions = vec![
        json!({"type": "ErrorOccurred", "status": "False", "reason": "ApplicationSetUpToDate",
               "message": "Successfully generated parameters for all Applications", "lastTransitionTime": since}),
        json!({"type": "ParametersGenerated", "status": "True", "reason": "ParametersGenerated",
               "message": "Successfully generated parameters for all Applications", "lastTransitionTime": since}),
        json!({"type": "ResourcesUpToDate", "status": "True", "reason": "ApplicationSetUpToDate",
               "message": "All applications have been generated successfully", "lastTransitionTime": since}),
    ];
    let mut out = json!({
        "metadata": {
            "name": set.name, "namespace": "argocd", "uid": set.uid,
            "creationTimestamp": ts(set.created), "generation": 3,
            "resourceVersion": (200_000 + seed_of(&set.name) % 100_000).to_string(),
        },
        "spec": {
            "goTemplate": true,
            "goTemplateOptions": ["missingkey=error"],
            "generators": set.generators,
            "template": set.template,
        },
        "status": {
            "conditions": [],
            "resources": resources,
            "resourcesCount": mine.len(),
            "health": {"status": if all_healthy { "Healthy" } else { "Progressing" }},
        },
    });
    if !set.steps.is_empty() {
        out["spec"]["strategy"] = json!({
            "type": "RollingSync",
            "rollingSync": {"steps": set.steps.iter().enumerate().map(|(i, envs)| {
                let mut s = json!({"matchExpressions": [{"key": "env", "operator": "In", "values": envs}]});
                if i + 1 == set.steps.len() {
                    s["maxUpdate"] = json!("50%");
                }
                s
            }).collect::<Vec<_>>()},
        });
        // Each app's step, and where it is: a step waits until every app of the steps before
        // is Healthy, as the controller's RollingSync does.
        let step_of = |a: &DemoApp| {
            let env = a.w.env;
            set.steps
                .iter()
                .position(|s| s.contains(&env))
                .map(|i| i + 1)
        };
        let mut earlier_done = vec![true; set.steps.len() + 2];
        for n in 1..=set.steps.len() {
            let done = mine
                .iter()
                .filter(|a| step_of(a) == Some(n))
                .all(|a| sync_health(a).0 == "Synced" && sync_health(a).1 == "Healthy");
            earlier_done[n + 1] = earlier_done[n] && done;
        }
        let statuses: Vec<Value> = mine
            .iter()
            .filter_map(|a| {
                let n = step_of(a)?;
                let (sync, health, _) = sync_health(a);
                let (status, message) = if sync == "Synced" && health == "Healthy" {
                    ("Healthy", "Application resource became Healthy, updating status from Progressing to Healthy.")
                } else if sync == "OutOfSync" && !earlier_done[n] {
                    ("Waiting", "Application is out of date with the current AppSet generation, setting status to Waiting.")
                } else if sync == "OutOfSync" {
                    ("Pending", "Application moved to Pending status, watching for the Application resource to start Progressing.")
                } else {
                    ("Progressing", "Application resource became Progressing, updating status from Pending to Progressing.")
                };
                Some(json!({
                    "application": a.app.metadata.name,
                    "status": status,
                    "message": message,
                    "step": n.to_string(),
                    "targetrevisions": [a.app.status.sync.revision],
                    "lastTransitionTime": ts(now - now.rem_euclid(3600)),
                }))
            })
            .collect();
        let complete = statuses.iter().all(|s| s["status"] == "Healthy");
        let current = (1..=set.steps.len())
            .find(|n| !earlier_done[n + 1])
            .unwrap_or(set.steps.len());
        conditions.push(if complete {
            json!({"type": "RolloutProgressing", "status": "False", "reason": "ApplicationSetRolloutComplete",
                   "message": "ApplicationSet Rollout has completed", "lastTransitionTime": since})
        } else {
            json!({"type": "RolloutProgressing", "status": "True", "reason": "ApplicationSetModified",
                   "message": format!("ApplicationSet is performing rollout of step {current}"), "lastTransitionTime": since})
        });
        out["status"]["applicationStatus"] = json!(statuses);
    }
    out["status"]["conditions"] = json!(conditions);
    out
}
