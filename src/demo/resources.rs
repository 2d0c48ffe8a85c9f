//! Rendering a demo app's Kubernetes objects from its [`Workload`]: the state Git declares
//! (target), the state the cluster has (live: server-set fields, managedFields, status and the
//! drifts applied), the app's status, resource tree and events.

use serde_json::{Map, Value, json};

use super::generator::{DemoApp, Drift, PodState, Workload, WorkloadKind, ts, uid};
use crate::model::app::*;
use crate::util::Rng;

/// Identity of one managed resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResId {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub name: String,
}

impl ResId {
    fn new(group: &'static str, version: &'static str, kind: &'static str, name: String) -> Self {
        ResId {
            group,
            version,
            kind,
            name,
        }
    }
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The managed resources of a workload, in Argo CD's order (by kind, then name).
pub fn resources(w: &Workload) -> Vec<ResId> {
    let n = &w.name;
    if w.kind == WorkloadKind::AppOfApps {
        return w
            .children
            .iter()
            .map(|c| ResId::new("argoproj.io", "v1alpha1", c.kind, c.name.clone()))
            .collect();
    }
    let mut v = vec![
        ResId::new("", "v1", "ConfigMap", format!("{n}-config")),
        ResId::new("", "v1", "ServiceAccount", n.clone()),
    ];
    match w.kind {
        WorkloadKind::Deployment => {
            v.push(ResId::new("", "v1", "Service", n.clone()));
            if w.canary.is_some() {
                v.push(ResId::new("argoproj.io", "v1alpha1", "Rollout", n.clone()));
            } else {
                v.push(ResId::new("apps", "v1", "Deployment", n.clone()));
            }
        }
        WorkloadKind::StatefulSet => {
            v.push(ResId::new("", "v1", "Service", n.clone()));
            v.push(ResId::new("apps", "v1", "StatefulSet", n.clone()));
        }
        WorkloadKind::CronJob => v.push(ResId::new("batch", "v1", "CronJob", n.clone())),
        WorkloadKind::AppOfApps => {}
    }
    if w.kind == WorkloadKind::StatefulSet {
        // A database's credentials.
        v.push(ResId::new("", "v1", "Secret", format!("{n}-credentials")));
    }
    if w.has_rbac {
        v.push(ResId::new(
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            format!("{n}-reader"),
        ));
        v.push(ResId::new(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            format!("{n}-reader"),
        ));
    }
    if w.has_hpa {
        v.push(ResId::new(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            n.clone(),
        ));
    }
    if w.has_ingress {
        v.push(ResId::new("networking.k8s.io", "v1", "Ingress", n.clone()));
    }
    if w.has_pdb {
        v.push(ResId::new("policy", "v1", "PodDisruptionBudget", n.clone()));
    }
    v
}

fn labels(w: &Workload) -> Value {
    json!({
        "app.kubernetes.io/name": w.name,
        "app.kubernetes.io/part-of": w.team,
        "app.kubernetes.io/managed-by": "argocd",
    })
}

fn image(w: &Workload, tag: &str) -> String {
    format!("{}:{}", w.image_repo, tag)
}

fn pod_template(w: &Workload, tag: &str) -> Value {
    json!({
        "metadata": {"labels": {"app.kubernetes.io/name": w.name}},
        "spec": {
            "serviceAccountName": w.name,
            "securityContext": {"runAsNonRoot": true, "runAsUser": 10001},
            "containers": [{
                "name": w.name.split('-').next().unwrap_or("app"),
                "image": image(w, tag),
                "ports": [{"name": "http", "containerPort": w.port, "protocol": "TCP"}],
                "envFrom": [{"configMapRef": {"name": format!("{}-config", w.name)}}],
                "resources": {
                    "requests": {"cpu": format!("{}m", w.cpu_millis), "memory": format!("{}Mi", w.memory_mib)},
                    "limits": {"memory": format!("{}Mi", w.memory_mib * 2)}
                },
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true}
            }]
        }
    })
}

/// What Git declares for `r`, with Argo CD's tracking annotation.
pub fn target(app_name: &str, w: &Workload, r: &ResId) -> Value {
    let mut meta = json!({
        "name": r.name,
        "namespace": w.namespace,
        "labels": labels(w),
        "annotations": {
            "argocd.argoproj.io/tracking-id": format!("{app_name}:{}/{}:{}/{}", r.group, r.kind, w.namespace, r.name)
        }
    });
    let wave = sync_wave(w, r);
    if wave != 0 {
        meta["annotations"]["argocd.argoproj.io/sync-wave"] = json!(wave.to_string());
    }
    if let Some(c) = w
        .children
        .iter()
        .find(|c| c.kind == r.kind && c.name == r.name)
    {
        // An Argo CD object in Git: its spec, in the control plane's namespace.
        return json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": meta, "spec": c.spec});
    }
    let spec = match r.kind {
        "ConfigMap" => {
            let mut o = json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": meta, "data": w.config});
            o.as_object_mut().map(|m| m.shift_remove("spec"));
            return o;
        }
        "ServiceAccount" => {
            return json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": meta});
        }
        "Secret" => {
            return json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": meta,
            "type": "Opaque", "data": {
                "username": b64(&container_name(w)),
                "password": b64(&password(w.salt)),
            }});
        }
        "Service" => json!({
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": w.name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
        }),
        "Deployment" => {
            let mut s = json!({
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": {"app.kubernetes.io/name": w.name}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                "template": pod_template(w, &w.tag)
            });
            if !w.has_hpa {
                s["replicas"] = json!(w.replicas);
            }
            s
        }
        "Rollout" => json!({
            "replicas": w.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app.kubernetes.io/name": w.name}},
            "strategy": {"canary": {"steps": crate::demo::generator::CANARY_STEPS.iter().map(|s| match s {
                crate::demo::generator::CanaryStep::Weight(p) => json!({"setWeight": p}),
                crate::demo::generator::CanaryStep::Pause(Some(d)) => json!({"pause": {"duration": format!("{}s", d)}}),
                crate::demo::generator::CanaryStep::Pause(None) => json!({"pause": {}}),
            }).collect::<Vec<_>>(),
            // Background analysis from the first pause on: Argo Rollouts runs an AnalysisRun
            // of the template for each new revision.
            "analysis": {
                "templates": [{"templateName": ANALYSIS_TEMPLATE}],
                "startingStep": 1,
                "args": [{"name": "service-name", "value": w.name}]
            }}},
            "template": pod_template(w, &w.tag)
        }),
        "StatefulSet" => json!({
            "replicas": w.replicas,
            "serviceName": w.name,
            "selector": {"matchLabels": {"app.kubernetes.io/name": w.name}},
            "template": pod_template(w, &w.tag),
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}
            }]
        }),
        "CronJob" => json!({
            "schedule": format!("{} {} * * *", w.salt % 60, w.salt % 24),
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"backoffLimit": 2, "template": {
                "spec": {
                    "restartPolicy": "OnFailure",
                    "serviceAccountName": w.name,
                    "containers": [{"name": "job", "image": image(w, &w.tag), "envFrom": [{"configMapRef": {"name": format!("{}-config", w.name)}}]}]
                }
            }}}
        }),
        "Role" => {
            return json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": meta, "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
            ]});
        }
        "RoleBinding" => {
            return json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": meta,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": r.name},
                "subjects": [{"kind": "ServiceAccount", "name": w.name, "namespace": w.namespace}]
            });
        }
        "HorizontalPodAutoscaler" => json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": w.name},
            "minReplicas": w.replicas,
            "maxReplicas": w.replicas * 4,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
        }),
        "Ingress" => json!({
            "ingressClassName": "nginx",
            "rules": [{"host": host(w), "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": w.name, "port": {"name": "http"}}}}]}}],
            "tls": [{"hosts": [host(w)], "secretName": format!("{}-tls", w.name)}]
        }),
        "PodDisruptionBudget" => json!({
            "minAvailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": w.name}}
        }),
        _ => json!({}),
    };
    if r.kind == "Service" {
        meta["annotations"]["prometheus.io/scrape"] = json!("true");
    }
    json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": meta, "spec": spec})
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A generated database password (different for each seed).
pub fn password(seed: u64) -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut r = Rng::new(seed ^ 0x5ec2e7);
    (0..24)
        .map(|_| CHARS[r.below(CHARS.len() as u64) as usize] as char)
        .collect()
}

/// The password a hand rotation at `at` set.
pub fn rotated_password(w: &Workload, at: i64) -> String {
    password(w.salt ^ (at as u64).rotate_left(17))
}

pub fn host(w: &Workload) -> String {
    let env = if w.env == "prod" {
        String::new()
    } else {
        format!(".{}", w.env)
    };
    format!("{}{env}.acme.dev", w.name)
}

/// The field manager and the path (as `f:` keys) a drift writes.
fn drift_write(d: &Drift, r: &ResId, w: &Workload) -> Option<(&'static str, Vec<String>)> {
    let on_workload =
        matches!(r.kind, "Deployment" | "Rollout" | "StatefulSet" | "CronJob") && r.name == w.name;
    match d {
        Drift::Replicas { by_hpa, .. } if on_workload && r.kind != "CronJob" => Some((
            if *by_hpa {
                "kube-controller-manager"
            } else {
                "kubectl-scale"
            },
            vec!["f:spec".into(), "f:replicas".into()],
        )),
        Drift::ConfigValue { key, .. } if r.kind == "ConfigMap" => {
            Some(("kubectl-edit", vec!["f:data".into(), format!("f:{key}")]))
        }
        Drift::RbacBroadened { .. } if r.kind == "Role" => {
            Some(("kubectl-edit", vec!["f:rules".into()]))
        }
        Drift::SecretValue { .. } if r.kind == "Secret" => {
            Some(("kubectl-edit", vec!["f:data".into(), "f:password".into()]))
        }
        Drift::Image { .. } if on_workload => Some((
            "kubectl-set",
            container_path(r.kind, w)
                .into_iter()
                .chain(["f:image".to_string()])
                .collect(),
        )),
        Drift::Restarted { .. } if on_workload && r.kind != "CronJob" => Some((
            "kubectl-rollout",
            vec![
                "f:spec".into(),
                "f:template".into(),
                "f:metadata".into(),
                "f:annotations".into(),
                "f:kubectl.kubernetes.io/restartedAt".into(),
            ],
        )),
        Drift::Paused { .. } if on_workload && r.kind == "Deployment" => {
            Some(("argocd-server", vec!["f:spec".into(), "f:paused".into()]))
        }
        _ => None,
    }
}

/// Whether the app runs a database migration as a PreSync hook Job before each sync (the
/// Deployments whose pods also run it as an init container).
pub fn has_migration_hook(w: &Workload) -> bool {
    w.kind == WorkloadKind::Deployment && w.salt.is_multiple_of(3)
}

/// The migration hook Job's name.
pub fn migration_job(w: &Workload) -> String {
    format!("{}-migrate", w.name)
}

/// The sync wave of a resource of an app whose manifests order them
/// (`argocd.argoproj.io/sync-wave`): config first, the workload, then what exposes it.
pub fn sync_wave(w: &Workload, r: &ResId) -> i64 {
    if !has_migration_hook(w) {
        return 0;
    }
    match r.kind {
        "ConfigMap" | "Secret" | "ServiceAccount" | "Role" | "RoleBinding" => -1,
        "Service" | "Ingress" | "HorizontalPodAutoscaler" | "PodDisruptionBudget" => 1,
        _ => 0,
    }
}

pub fn container_name(w: &Workload) -> String {
    w.name.split('-').next().unwrap_or("app").to_string()
}

fn container_path(kind: &str, w: &Workload) -> Vec<String> {
    let key = format!(
        "k:{{\"name\":\"{}\"}}",
        if kind == "CronJob" {
            "job".to_string()
        } else {
            container_name(w)
        }
    );
    let mut p: Vec<String> = if kind == "CronJob" {
        vec![
            "f:spec",
            "f:jobTemplate",
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
        ]
    } else {
        vec!["f:spec", "f:template", "f:spec", "f:containers"]
    }
    .into_iter()
    .map(String::from)
    .collect();
    p.push(key);
    p
}

/// Whether a drift makes `r` differ from Git in Argo CD's eyes (after ignoreDifferences).
pub fn drift_modifies(d: &Drift, r: &ResId, w: &Workload) -> bool {
    match d {
        Drift::Replicas { by_hpa: true, .. } => false, // /spec/replicas is ignored (and not in Git)
        // A field Git never set: the three-way diff does not count it (as in Argo CD, a
        // `kubectl rollout restart` leaves the app Synced).
        Drift::Restarted { .. } | Drift::Paused { .. } => false,
        Drift::ConfigValue { key, value, .. } => {
            r.kind == "ConfigMap" && w.config.get(key) != Some(value)
        }
        Drift::Image { tag, .. } if *tag == w.tag => false,
        Drift::Replicas { to, .. } if *to == w.replicas || w.has_hpa => false,
        Drift::Deleted { kind, .. } => *kind == r.kind,
        d => drift_write(d, r, w).is_some(),
    }
}

/// `metadata.managedFields` set of a value: every map key becomes `f:key`; list items with a
/// `name` become `k:{"name":...}`; leaves are `{}`.
fn fields_v1(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, c) in m {
                let sub = fields_v1(c);
                out.insert(format!("f:{k}"), sub);
            }
            Value::Object(out)
        }
        Value::Array(items)
            if items
                .iter()
                .all(|i| i.get("name").is_some_and(Value::is_string))
                && !items.is_empty() =>
        {
            let mut out = Map::new();
            for i in items {
                let mut sub = fields_v1(i);
                if let Value::Object(m) = &mut sub {
                    m.insert(".".into(), json!({}));
                }
                let name = i["name"].as_str().unwrap_or_default();
                out.insert(format!("k:{{\"name\":\"{name}\"}}"), sub);
            }
            Value::Object(out)
        }
        _ => json!({}),
    }
}

pub fn remove_path(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for p in parents {
        match cur.get_mut(p) {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Value::Object(m) = cur {
        m.shift_remove(last);
    }
}

pub fn insert_path(v: &mut Value, path: &[String]) {
    let mut cur = v;
    for p in path {
        if !cur.is_object() {
            *cur = json!({});
        }
        cur = cur
            .as_object_mut()
            .map(|m| m.entry(p.clone()).or_insert_with(|| json!({})))
            .expect("object");
    }
}

/// Live replicas of the workload, after drifts.
pub fn live_replicas(w: &Workload) -> i64 {
    let mut r = w.replicas;
    for d in &w.drifts {
        if let Drift::Replicas { to, .. } = d {
            r = *to;
        }
    }
    r
}

/// The live image tag of the workload, after drifts.
pub fn live_tag(w: &Workload) -> String {
    let mut t = w.deployed_tag.clone().unwrap_or_else(|| w.tag.clone());
    for d in &w.drifts {
        if let Drift::Image { tag, .. } = d {
            t = tag.clone();
        }
    }
    t
}

/// What the cluster has for `r`; `None` when it was deleted by hand.
pub fn live(app: &DemoApp, r: &ResId, now: i64) -> Option<Value> {
    let w = &app.w;
    if w.drifts
        .iter()
        .any(|d| matches!(d, Drift::Deleted { kind, .. } if *kind == r.kind))
    {
        return None;
    }
    let app_name = &app.app.metadata.name;
    let tgt = target(app_name, w, r);
    let mut obj = tgt.clone();
    let mut rng = Rng::new(w.salt ^ r.name.len() as u64 ^ (r.kind.len() as u64) << 8);
    let synced_at = app
        .app
        .status
        .operation_state
        .as_ref()
        .and_then(|o| o.finished_at.as_deref())
        .and_then(crate::model::fleet::parse_time)
        .unwrap_or(now - now.rem_euclid(86_400) - 3600);
    // Server-set metadata.
    let mut controller_fields = fields_v1(&tgt);
    if let Value::Object(m) = &mut controller_fields {
        m.shift_remove("f:apiVersion");
        m.shift_remove("f:kind");
    }
    if let Some(meta) = controller_fields
        .get_mut("f:metadata")
        .and_then(Value::as_object_mut)
    {
        meta.shift_remove("f:name");
        meta.shift_remove("f:namespace");
        if let Some(a) = meta.get_mut("f:annotations").and_then(Value::as_object_mut) {
            a.insert(
                "f:kubectl.kubernetes.io/last-applied-configuration".into(),
                json!({}),
            );
        }
    }
    if let Some(tag) = w.deployed_tag.as_ref().filter(|t| **t != w.tag) {
        set_image(&mut obj, r.kind, &image(w, tag));
    }
    if let Some(extra) = w.live_meta.get(&format!("{}/{}", r.kind, r.name)) {
        for part in ["labels", "annotations"] {
            if let Some(m) = extra[part].as_object() {
                for (k, v) in m {
                    obj["metadata"][part][k] = v.clone();
                }
            }
        }
    }
    let meta_extra = w.live_meta.get(&format!("{}/{}", r.kind, r.name));
    let mut managed = Vec::new();
    for d in &w.drifts {
        match d {
            Drift::Replicas { to, .. }
                if matches!(r.kind, "Deployment" | "Rollout" | "StatefulSet") =>
            {
                obj["spec"]["replicas"] = json!(to);
            }
            Drift::ConfigValue { key, value, .. } if r.kind == "ConfigMap" => {
                obj["data"][key] = json!(value);
            }
            Drift::RbacBroadened { .. } if r.kind == "Role" => {
                obj["rules"] = json!([
                    {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["*"]},
                    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch"]}
                ]);
            }
            Drift::Image { tag, .. } => set_image(&mut obj, r.kind, &image(w, tag)),
            Drift::SecretValue { at } if r.kind == "Secret" => {
                obj["data"]["password"] = json!(b64(&rotated_password(w, *at)));
            }
            Drift::Restarted { at }
                if matches!(r.kind, "Deployment" | "Rollout" | "StatefulSet") =>
            {
                obj["spec"]["template"]["metadata"]["annotations"] =
                    json!({"kubectl.kubernetes.io/restartedAt": ts(*at)});
            }
            Drift::Paused { .. } if r.kind == "Deployment" => {
                obj["spec"]["paused"] = json!(true);
            }
            _ => {}
        }
        if let Some((manager, path)) = drift_write(d, r, w) {
            remove_path(&mut controller_fields, &path);
            let mut f = json!({});
            insert_path(&mut f, &path);
            let mut entry = json!({
                "manager": manager,
                "operation": "Update",
                "apiVersion": r.api_version(),
                "time": ts(d.at()),
                "fieldsType": "FieldsV1",
                "fieldsV1": f,
            });
            if manager == "kubectl-scale" || manager == "kube-controller-manager" {
                entry["subresource"] = json!("scale");
            }
            // A change made through the Kubernetes API is the writer's, as it named itself.
            if let Some(by) = meta_extra
                .and_then(|e| e["managers"].get(path.join(".")))
                .filter(|b| b["manager"].is_string())
            {
                entry["manager"] = by["manager"].clone();
                entry["operation"] = by["operation"].clone();
                match by["subresource"].as_str().filter(|s| !s.is_empty()) {
                    Some(s) => entry["subresource"] = json!(s),
                    None => {
                        if let Some(m) = entry.as_object_mut() {
                            m.shift_remove("subresource");
                        }
                    }
                }
            }
            managed.push(entry);
        }
    }
    // Labels and annotations written through the Kubernetes API belong to their writers.
    for e in meta_extra
        .and_then(|e| e["meta_writes"].as_array())
        .into_iter()
        .flatten()
    {
        let mut f = json!({});
        for p in e["paths"].as_array().into_iter().flatten() {
            let path: Vec<String> = p
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
            remove_path(&mut controller_fields, &path);
            insert_path(&mut f, &path);
        }
        managed.push(json!({
            "manager": e["manager"],
            "operation": e["operation"],
            "apiVersion": r.api_version(),
            "time": e["time"],
            "fieldsType": "FieldsV1",
            "fieldsV1": f,
        }));
    }
    if r.kind == "Rollout"
        && let Some(c) = &w.canary
    {
        if c.paused {
            obj["spec"]["paused"] = json!(true);
        }
        if let Some(t) = c.restart_at {
            obj["spec"]["restartAt"] = json!(ts(t));
        }
    }
    if r.kind == "Deployment" && w.has_hpa {
        // The autoscaler owns replicas of an HPA-managed Deployment.
        if obj["spec"].get("replicas").is_none() {
            obj["spec"]["replicas"] = json!(w.replicas);
        }
    }
    managed.insert(
        0,
        json!({
            "manager": "argocd-controller",
            "operation": "Update",
            "apiVersion": r.api_version(),
            "time": ts(synced_at),
            "fieldsType": "FieldsV1",
            "fieldsV1": controller_fields,
        }),
    );
    let m = obj["metadata"].as_object_mut()?;
    m.insert(
        "uid".into(),
        json!(uid(w.salt, &format!("{}/{}", r.kind, r.name))),
    );
    m.insert(
        "resourceVersion".into(),
        json!((1_000_000 + rng.below(9_000_000)).to_string()),
    );
    m.insert("creationTimestamp".into(), json!(ts(w.created)));
    if matches!(
        r.kind,
        "Deployment"
            | "Rollout"
            | "StatefulSet"
            | "CronJob"
            | "HorizontalPodAutoscaler"
            | "PodDisruptionBudget"
            | "Ingress"
    ) {
        m.insert("generation".into(), json!(generation(w, r)));
    }
    m.insert("managedFields".into(), Value::Array(managed));
    if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
        let mut applied = tgt.clone();
        if let Some(ann) = applied["metadata"]["annotations"].as_object_mut() {
            ann.shift_remove("kubectl.kubernetes.io/last-applied-configuration");
        }
        a.insert(
            "kubectl.kubernetes.io/last-applied-configuration".into(),
            json!(serde_json::to_string(&applied).unwrap_or_default()),
        );
    }
    if r.kind == "Deployment" && w.has_hpa {
        obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
            json!(app.app.status.history.len().to_string());
    }
    // The API server defaults what Git left unset.
    crate::diff::threeway::default(r.group, r.version, r.kind, &mut obj);
    if let Some(status) = live_status(w, r, now) {
        obj["status"] = status;
    }
    if r.kind == "Service" {
        obj["spec"]["clusterIP"] =
            json!(format!("10.96.{}.{}", rng.below(250), 2 + rng.below(250)));
        obj["spec"]["clusterIPs"] = json!([obj["spec"]["clusterIP"].clone()]);
        obj["spec"]["sessionAffinity"] = json!("None");
        obj["spec"]["internalTrafficPolicy"] = json!("Cluster");
        obj["spec"]["ipFamilies"] = json!(["IPv4"]);
        obj["spec"]["ipFamilyPolicy"] = json!("SingleStack");
    }
    Some(obj)
}

/// Sets the image of the main container of a workload object (other kinds are left alone).
fn set_image(obj: &mut Value, kind: &str, img: &str) {
    match kind {
        "Deployment" | "Rollout" | "StatefulSet" => {
            obj["spec"]["template"]["spec"]["containers"][0]["image"] = json!(img)
        }
        "CronJob" => {
            obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] =
                json!(img)
        }
        _ => {}
    }
}

/// Whether the workload object `r` runs another image than Git's because a rollback deployed
/// an older one.
pub fn rolled_back(r: &ResId, w: &Workload) -> bool {
    matches!(r.kind, "Deployment" | "Rollout" | "StatefulSet" | "CronJob")
        && w.deployed_tag.as_ref().is_some_and(|t| *t != w.tag)
}

/// A ConfigMap Git no longer declares, as it still is in the cluster.
pub fn orphan_live(app: &DemoApp, name: &str) -> Value {
    let w = &app.w;
    let mut obj = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": w.namespace,
            "uid": uid(w.salt, &format!("ConfigMap/{name}")),
            "resourceVersion": (1_000_000 + (w.salt % 9_000_000)).to_string(),
            "creationTimestamp": ts(w.created),
            "labels": {"app.kubernetes.io/name": w.name, "app.kubernetes.io/part-of": w.team},
            "annotations": {
                "argocd.argoproj.io/tracking-id":
                    format!("{}:/ConfigMap:{}/{name}", app.app.metadata.name, w.namespace)
            }
        },
        "data": {"LEGACY_MODE": "true"}
    });
    if let Some(extra) = w.live_meta.get(&format!("ConfigMap/{name}")) {
        for part in ["labels", "annotations"] {
            if let Some(m) = extra[part].as_object() {
                for (k, v) in m {
                    obj["metadata"][part][k] = v.clone();
                }
            }
        }
    }
    obj
}

/// `metadata.generation` of a live object (and the generation its controller observed).
fn generation(w: &Workload, r: &ResId) -> i64 {
    1 + ((w.salt ^ (r.kind.len() as u64 * 131)) % 40) as i64
}

/// When a CronJob last ran: on its hour, so the time stays put between runs.
pub fn last_schedule(w: &Workload, now: i64) -> i64 {
    now - now.rem_euclid(3600) - (w.salt % 3600) as i64
}

fn live_status(w: &Workload, r: &ResId, now: i64) -> Option<Value> {
    if let Some(c) = w
        .children
        .iter()
        .find(|c| c.kind == r.kind && c.name == r.name)
    {
        return c.status.clone();
    }
    if r.kind == "Rollout" {
        return rollout_status(w, now, generation(w, r));
    }
    let replicas = live_replicas(w);
    // Conditions changed at some point and stay as they are: their times move once a day,
    // not with the clock (a real server's would not move at all until a transition).
    let day = now - now.rem_euclid(86_400);
    let gen_ok = json!(generation(w, r));
    Some(match r.kind {
        "Deployment" => {
            let (ready, updated, progressing) = match (w.pods, w.rolling) {
                (PodState::Running, false) => (
                    replicas,
                    replicas,
                    json!({
                        "type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                        "message": format!("ReplicaSet \"{}-{}\" has successfully progressed.", w.name, pod_hash(w))
                    }),
                ),
                (PodState::Running, true) | (PodState::Pending, _) => (
                    replicas,
                    (replicas / 2).max(1).min(replicas),
                    json!({
                        "type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                        "message": format!("ReplicaSet \"{}-{}\" is progressing.", w.name, pod_hash(w))
                    }),
                ),
                _ => (
                    0,
                    replicas,
                    json!({
                        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                        "message": format!("ReplicaSet \"{}-{}\" has timed out progressing.", w.name, pod_hash(w))
                    }),
                ),
            };
            json!({
                "observedGeneration": gen_ok,
                "replicas": replicas,
                "updatedReplicas": updated,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "conditions": [
                    {"type": "Available", "status": if ready > 0 { "True" } else { "False" },
                     "reason": if ready > 0 { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                     "lastUpdateTime": ts(day - 3000), "lastTransitionTime": ts(day - 3000)},
                    progressing
                ]
            })
        }
        "StatefulSet" => {
            let ready = if w.pods == PodState::Running {
                replicas
            } else {
                replicas - 1
            };
            let rev = format!("{}-{}", w.name, pod_hash(w));
            json!({
                "observedGeneration": gen_ok,
                "replicas": replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "currentReplicas": replicas,
                "updatedReplicas": if w.rolling { replicas - 1 } else { replicas },
                "currentRevision": rev,
                "updateRevision": if w.rolling { format!("{}-{}", w.name, "6c9f7d8b5") } else { rev.clone() },
                "collisionCount": 0
            })
        }
        "CronJob" => json!({
            "lastScheduleTime": ts(last_schedule(w, now)),
            "lastSuccessfulTime": ts(last_schedule(w, now) + 40)
        }),
        "Service" => json!({"loadBalancer": {}}),
        "Ingress" => json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}),
        "HorizontalPodAutoscaler" => json!({
            "currentReplicas": replicas,
            "desiredReplicas": replicas,
            "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 41, "averageValue": "205m"}}}],
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size", "lastTransitionTime": ts(day - 7200)},
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", "lastTransitionTime": ts(day - 7200)},
                {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range", "lastTransitionTime": ts(day - 7200)}
            ]
        }),
        "PodDisruptionBudget" => json!({
            "observedGeneration": gen_ok,
            "currentHealthy": replicas,
            "desiredHealthy": 1,
            "disruptionsAllowed": (replicas - 1).max(0),
            "expectedPods": replicas,
            "conditions": [{
                "type": "DisruptionAllowed",
                "status": if replicas > 1 { "True" } else { "False" },
                "reason": if replicas > 1 { "SufficientPods" } else { "InsufficientPods" },
                "message": "",
                "observedGeneration": gen_ok,
                "lastTransitionTime": ts(day - 86_400)
            }]
        }),
        _ => return None,
    })
}

/// The pod-template hash of the ReplicaSet that runs `tag`: the live one's is [`pod_hash`];
/// earlier revisions get a stable hash of their own.
pub fn revision_hash(w: &Workload, tag: &str) -> String {
    if tag == live_tag(w) {
        return pod_hash(w);
    }
    use sha2::{Digest, Sha256};
    Sha256::digest(format!("{}:{tag}", w.salt).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..10]
        .to_string()
}

/// A Rollout's status as the Argo Rollouts controller writes it, for where its canary is.
fn rollout_status(w: &Workload, now: i64, generation: i64) -> Option<Value> {
    use crate::demo::generator::{CANARY_STEPS, Canary, CanaryStep, WEIGHT_STEP_SECS};
    let c = w.canary.as_ref()?;
    let (step, waiting) = c.step(now);
    let n = CANARY_STEPS.len();
    let replicas = live_replicas(w);
    let current = pod_hash(w);
    let complete = step >= n && !c.aborted;
    let stable = match (&c.stable_tag, complete) {
        (Some(t), false) => revision_hash(w, t),
        _ => current.clone(),
    };
    let weight = if c.aborted { 0 } else { Canary::weight(step) } as i64;
    let canary_pods = if complete {
        replicas
    } else {
        (replicas * weight + 99) / 100
    };
    // When the current step began: the pauses and weights before it, from `since`.
    let mut began = c.since;
    for s in CANARY_STEPS.iter().take(step).skip(c.from_step) {
        began += match s {
            CanaryStep::Weight(_) => WEIGHT_STEP_SECS,
            CanaryStep::Pause(Some(d)) => *d,
            CanaryStep::Pause(None) => 0,
        };
    }
    let revision = w.tag_history.len().max(1);
    let failing = matches!(w.pods, PodState::CrashLoop | PodState::ImagePullBackOff);
    let (phase, message) = if c.aborted {
        (
            "Degraded",
            format!("RolloutAborted: Rollout aborted update to revision {revision}"),
        )
    } else if failing {
        // Pods that never become ready: the controller gives up after the progress deadline.
        (
            "Degraded",
            format!(
                "ProgressDeadlineExceeded: ReplicaSet \"{}-{current}\" has timed out progressing.",
                w.name
            ),
        )
    } else if w.pods == PodState::Pending || w.rolling {
        (
            "Progressing",
            "more replicas need to be updated".to_string(),
        )
    } else if c.paused {
        ("Paused", "RolloutPaused".to_string())
    } else if waiting {
        ("Paused", "CanaryPauseStep".to_string())
    } else if complete {
        ("Healthy", String::new())
    } else {
        (
            "Progressing",
            "more replicas need to be updated".to_string(),
        )
    };
    let progressing = if c.aborted {
        json!({"type": "Progressing", "status": "False", "reason": "RolloutAborted",
               "message": format!("Rollout aborted update to revision {revision}"),
               "lastUpdateTime": ts(began), "lastTransitionTime": ts(began)})
    } else if complete {
        json!({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
               "message": format!("ReplicaSet \"{}-{current}\" has successfully progressed.", w.name),
               "lastUpdateTime": ts(began), "lastTransitionTime": ts(c.since)})
    } else {
        json!({"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
               "message": format!("ReplicaSet \"{}-{current}\" is progressing.", w.name),
               "lastUpdateTime": ts(began), "lastTransitionTime": ts(c.since)})
    };
    let mut st = json!({
        "observedGeneration": generation.to_string(),
        "phase": phase,
        "message": message,
        "currentStepIndex": step.min(n),
        "currentPodHash": current,
        "stableRS": stable,
        "replicas": replicas,
        "updatedReplicas": canary_pods,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "canary": {"weights": {
            "canary": {"weight": if complete { 100 } else { weight }, "podTemplateHash": current},
            "stable": {"weight": if complete { 0 } else { 100 - weight }, "podTemplateHash": stable},
        }},
        "conditions": [progressing],
    });
    if waiting && !c.aborted && !c.paused {
        st["pauseConditions"] = json!([{"reason": "CanaryPauseStep", "startTime": ts(began)}]);
        st["controllerPause"] = json!(true);
    }
    if c.aborted {
        st["abort"] = json!(true);
        st["abortedAt"] = json!(ts(began));
    }
    Some(st)
}

/// The AnalysisTemplate the demo's Rollouts analyse their canaries with.
pub const ANALYSIS_TEMPLATE: &str = "success-rate";

/// The AnalysisRun of the Rollout's current canary, as the Rollouts controller writes it
/// (`<rollout>-<pod hash>-<revision>`): Running while the canary steps, Successful once it
/// is promoted, terminated (Successful, "Run Terminated") when it was aborted by hand. Its
/// measurements are counted by step, so it changes when the Rollout does, not with the clock.
pub fn analysis_runs(w: &Workload, now: i64) -> Vec<Value> {
    use crate::demo::generator::CANARY_STEPS;
    let Some(c) = w.canary.as_ref() else {
        return vec![];
    };
    let (step, _) = c.step(now);
    let n = CANARY_STEPS.len();
    let complete = step >= n && !c.aborted;
    let revision = w.tag_history.len().max(1);
    let hash = pod_hash(w);
    // One measurement per step reached.
    let count = (step.min(CANARY_STEPS.len()) + 1) as i64;
    let (phase, message) = if complete {
        ("Successful", None)
    } else if c.aborted {
        ("Successful", Some("Run Terminated"))
    } else {
        ("Running", None)
    };
    let name = format!("{}-{hash}-{revision}", w.name);
    let mut status = json!({
        "phase": phase,
        "startedAt": ts(c.since),
        "runSummary": {"count": 1, "successful": i64::from(phase == "Successful")},
        "metricResults": [{
            "name": ANALYSIS_TEMPLATE,
            "phase": phase,
            "count": count,
            "successful": count,
            "measurements": [{
                "phase": "Successful",
                "value": "[0.993]",
                "startedAt": ts(c.since),
                "finishedAt": ts(c.since + 1),
            }],
        }],
    });
    if let Some(m) = message {
        status["message"] = json!(m);
    }
    vec![json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": name,
            "namespace": w.namespace,
            "uid": uid(w.salt, &format!("AnalysisRun/{name}")),
            "creationTimestamp": ts(c.since),
            "labels": {
                "rollout-type": "Background",
                "rollouts-pod-template-hash": hash,
            },
            "annotations": {"rollout.argoproj.io/revision": revision.to_string()},
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "name": w.name,
                "uid": uid(w.salt, &format!("Rollout/{}", w.name)),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "args": [{"name": "service-name", "value": w.name}],
            "metrics": [{
                "name": ANALYSIS_TEMPLATE,
                "interval": "30s",
                "successCondition": "result[0] >= 0.95",
                "failureLimit": 3,
                "provider": {"prometheus": {
                    "address": "http://prometheus.monitoring:9090",
                    "query": format!(
                        "sum(rate(http_requests_total{{service=\"{}\",code!~\"5..\"}}[5m])) / sum(rate(http_requests_total{{service=\"{}\"}}[5m]))",
                        w.name, w.name
                    ),
                }},
            }],
            "terminate": c.aborted,
        },
        "status": status,
    })]
}

fn pod_hash(w: &Workload) -> String {
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    let mut r = Rng::new(w.salt ^ live_tag(w).len() as u64);
    (0..10)
        .map(|_| alphabet[r.below(alphabet.len() as u64) as usize] as char)
        .collect()
}

fn pod_suffix(r: &mut Rng) -> String {
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| alphabet[r.below(alphabet.len() as u64) as usize] as char)
        .collect()
}

/// What a health check reads of a live object, without the bookkeeping a full rendering carries
/// (managed fields, last-applied): target + API defaults + replicas drift + status. Much cheaper
/// than [`live`], which matters for a 10,000-app fleet.
fn health_object(app: &DemoApp, r: &ResId, now: i64) -> Option<Value> {
    let w = &app.w;
    if w.drifts
        .iter()
        .any(|d| matches!(d, Drift::Deleted { kind, .. } if *kind == r.kind))
    {
        return None;
    }
    let mut obj = target(&app.app.metadata.name, w, r);
    if matches!(r.kind, "Deployment" | "Rollout" | "StatefulSet") {
        obj["spec"]["replicas"] = json!(live_replicas(w));
    }
    if r.kind == "Deployment" && w.drifts.iter().any(|d| matches!(d, Drift::Paused { .. })) {
        obj["spec"]["paused"] = json!(true);
    }
    obj["metadata"]["generation"] = json!(generation(w, r));
    crate::diff::threeway::default(r.group, r.version, r.kind, &mut obj);
    if let Some(status) = live_status(w, r, now) {
        obj["status"] = status;
    }
    Some(obj)
}

/// Health of one managed resource, assessed from its live object with Argo CD's rules.
pub fn resource_health(app: &DemoApp, r: &ResId, now: i64) -> Option<HealthStatus> {
    let to = |a: crate::health::Assessment| HealthStatus {
        status: a.status.as_str().into(),
        message: a.message,
        last_transition_time: None,
    };
    match health_object(app, r, now) {
        None => Some(HealthStatus {
            status: "Missing".into(),
            message: String::new(),
            last_transition_time: None,
        }),
        Some(obj) => crate::health::assess(&obj).map(to),
    }
}

/// Recomputes `status.resources`, `status.sync`, `status.health` and `status.summary` from the
/// workload, with resource health assessed from the live objects and rolled up as Argo CD does.
/// Keeps history, operation state and conditions.
pub fn refresh_status(app: &mut DemoApp, now: i64) {
    let w = &app.w;
    let mut list = Vec::new();
    let mut lives = Vec::new();
    for r in resources(w) {
        let modified = w.drifts.iter().any(|d| drift_modifies(d, &r, w)) || rolled_back(&r, w);
        let live_obj = health_object(app, &r, now);
        let health = match &live_obj {
            None => Some(HealthStatus {
                status: "Missing".into(),
                ..Default::default()
            }),
            Some(o) => crate::health::assess(o).map(|a| HealthStatus {
                status: a.status.as_str().into(),
                message: a.message,
                last_transition_time: None,
            }),
        };
        list.push(ResourceStatus {
            group: r.group.into(),
            version: r.version.into(),
            kind: r.kind.into(),
            namespace: w.namespace.clone(),
            name: r.name.clone(),
            status: if modified { "OutOfSync" } else { "Synced" }.into(),
            health,
            sync_wave: sync_wave(w, &r),
            ..Default::default()
        });
        lives.push(live_obj);
    }
    for name in &w.orphans {
        list.push(ResourceStatus {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: w.namespace.clone(),
            name: name.clone(),
            status: "OutOfSync".into(),
            requires_pruning: true,
            ..Default::default()
        });
        lives.push(Some(orphan_live(app, name)));
    }
    let managed: Vec<crate::health::Managed> = list
        .iter()
        .zip(&lives)
        .map(|(r, l)| crate::health::Managed {
            group: &r.group,
            kind: &r.kind,
            namespace: &r.namespace,
            name: &r.name,
            live: l.as_ref(),
            health: r.health.as_ref().map(|h| {
                crate::health::Assessment::new(
                    crate::model::status::Health::parse(&h.status),
                    h.message.clone(),
                )
            }),
        })
        .collect();
    let app_health = crate::health::aggregate(&managed);
    drop(managed);
    let comparison_error = app
        .app
        .status
        .conditions
        .iter()
        .any(|c| c.kind == "ComparisonError");
    let any_out = list.iter().any(|r| r.status == "OutOfSync");
    let s = &mut app.app.status;
    s.resources = list;
    s.sync.status = if comparison_error {
        "Unknown"
    } else if any_out {
        "OutOfSync"
    } else {
        "Synced"
    }
    .into();
    s.sync.compared_to = Some(ComparedTo {
        source: app.app.spec.source.clone(),
        destination: app.app.spec.destination.clone(),
        ignore_differences: app.app.spec.ignore_differences.clone(),
    });
    s.health = HealthStatus {
        status: app_health.status.as_str().into(),
        message: app_health.message,
        last_transition_time: s.health.last_transition_time.clone(),
    };
    let mut images = vec![image(&app.w, &live_tag(&app.w))];
    images.dedup();
    s.summary = ApplicationSummary {
        external_urls: if app.w.has_ingress {
            vec![format!("https://{}", host(&app.w))]
        } else {
            vec![]
        },
        images,
    };
}

/// The managed-resources reply: one entry per resource with the four states as JSON strings,
/// computed by driftdeck's diff engine exactly as the real controller would (normalization, the
/// app's ignoreDifferences, the three-way predicted state).
pub fn managed_resources(app: &DemoApp, now: i64) -> ManagedResourcesResponse {
    let w = &app.w;
    let name = &app.app.metadata.name;
    let norm = crate::diff::Normalizer::new(&app.app.spec.ignore_differences).unwrap_or_default();
    let mut items = Vec::new();
    for r in resources(w) {
        let tgt = target(name, w, &r);
        let lv = live(app, &r, now);
        // Argo CD's server masks Secret values in every state it returns (the diff below
        // masks its own two).
        let (mut tgt_shown, mut lv_shown) = (tgt.clone(), lv.clone());
        crate::diff::normalize::hide_secret_data(Some(&mut tgt_shown), lv_shown.as_mut());
        let s = |v: Option<&Value>| match v {
            Some(v) => serde_json::to_string(v).unwrap_or_default(),
            None => "null".into(),
        };
        let (normalized, predicted, modified) =
            match crate::diff::diff(Some(&tgt), lv.as_ref(), &norm) {
                Ok(d) => (d.live, d.desired, d.modified),
                Err(_) => (lv.clone(), Some(tgt.clone()), true),
            };
        items.push(ManagedResource {
            group: r.group.into(),
            kind: r.kind.into(),
            namespace: w.namespace.clone(),
            name: r.name.clone(),
            target_state: s(Some(&tgt_shown)),
            live_state: s(lv_shown.as_ref()),
            normalized_live_state: s(normalized.as_ref()),
            predicted_live_state: s(predicted.as_ref()),
            resource_version: lv
                .as_ref()
                .and_then(|v| v["metadata"]["resourceVersion"].as_str())
                .unwrap_or_default()
                .to_string(),
            modified,
            ..Default::default()
        });
    }
    for o in &w.orphans {
        let lv = orphan_live(app, o);
        let norm_live = crate::diff::diff(None, Some(&lv), &norm)
            .ok()
            .and_then(|d| d.live)
            .unwrap_or_else(|| lv.clone());
        let s = serde_json::to_string(&lv).unwrap_or_default();
        items.push(ManagedResource {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: w.namespace.clone(),
            name: o.clone(),
            target_state: "null".into(),
            live_state: s,
            normalized_live_state: serde_json::to_string(&norm_live).unwrap_or_default(),
            predicted_live_state: "null".into(),
            resource_version: lv["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            modified: true,
            ..Default::default()
        });
    }
    ManagedResourcesResponse { items }
}

/// The resource tree: managed resources, plus ReplicaSets, Pods and Jobs below the workload.
pub fn tree(app: &DemoApp, now: i64) -> ApplicationTree {
    let w = &app.w;
    let mut nodes = Vec::new();
    let mut rng = Rng::new(w.salt ^ 0x7dee);
    let created = ts(w.created);
    let node_ref = |group: &str, version: &str, kind: &str, name: &str| ResourceRef {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        namespace: w.namespace.clone(),
        name: name.into(),
        uid: uid(w.salt, &format!("{kind}/{name}")),
    };
    for r in resources(w) {
        let missing = w
            .drifts
            .iter()
            .any(|d| matches!(d, Drift::Deleted { kind, .. } if *kind == r.kind));
        let mut n = ResourceNode {
            reference: node_ref(r.group, r.version, r.kind, &r.name),
            health: resource_health(app, &r, now),
            ..Default::default()
        };
        if missing {
            n.reference.uid.clear();
            n.health = Some(HealthStatus {
                status: "Missing".into(),
                message: "Resource has not been created".into(),
                last_transition_time: None,
            });
        } else {
            n.resource_version = (1_000_000 + rng.below(9_000_000)).to_string();
            n.created_at = Some(created.clone());
        }
        if matches!(r.kind, "Deployment" | "Rollout" | "StatefulSet") {
            n.info = vec![Info {
                name: "Revision".into(),
                value: format!("Rev:{}", app.app.status.history.len()),
            }];
            n.images = vec![image(w, &live_tag(w))];
        }
        nodes.push(n);
    }
    for run in analysis_runs(w, now) {
        let name = run["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        nodes.push(ResourceNode {
            reference: node_ref("argoproj.io", "v1alpha1", "AnalysisRun", &name),
            parent_refs: vec![node_ref("argoproj.io", "v1alpha1", "Rollout", &w.name)],
            health: crate::health::assess(&run).map(|a| HealthStatus {
                status: a.status.as_str().into(),
                message: a.message,
                last_transition_time: None,
            }),
            resource_version: (1_000_000 + rng.below(9_000_000)).to_string(),
            created_at: run["metadata"]["creationTimestamp"]
                .as_str()
                .map(str::to_string),
            ..Default::default()
        });
    }
    for o in &w.orphans {
        nodes.push(ResourceNode {
            reference: node_ref("", "v1", "ConfigMap", o),
            resource_version: (1_000_000 + (w.salt % 9_000_000)).to_string(),
            created_at: Some(created.clone()),
            ..Default::default()
        });
    }
    let replicas = live_replicas(w);
    // Pod health is assessed from the pod's status with Argo CD's rules.
    let pod_health = |name: &str, ready: bool, restarts: u64| -> HealthStatus {
        let ctr = container_name(w);
        let waiting = match w.pods {
            PodState::CrashLoop => Some((
                "CrashLoopBackOff",
                format!(
                    "back-off 5m0s restarting failed container={ctr} pod={name}_{}({})",
                    w.namespace,
                    uid(w.salt, name)
                ),
            )),
            PodState::ImagePullBackOff => Some((
                "ImagePullBackOff",
                format!("Back-off pulling image \"{}\"", image(w, &live_tag(w))),
            )),
            PodState::Pending => Some(("ContainerCreating", String::new())),
            PodState::Running if !ready => Some(("ContainerCreating", String::new())),
            PodState::Running => None,
        };
        let state = match &waiting {
            Some((reason, message)) => json!({"waiting": {"reason": reason, "message": message}}),
            None => json!({"running": {"startedAt": ts(now - 3600)}}),
        };
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": w.namespace},
            "spec": {"restartPolicy": "Always"},
            "status": {
                "phase": if ready || w.pods == PodState::CrashLoop { "Running" } else { "Pending" },
                "conditions": [{"type": "Ready", "status": if waiting.is_none() { "True" } else { "False" }}],
                "containerStatuses": [{"name": ctr, "ready": waiting.is_none(), "restartCount": restarts, "state": state}]
            }
        });
        match crate::health::assess(&pod) {
            Some(a) => HealthStatus {
                status: a.status.as_str().into(),
                message: a.message,
                last_transition_time: None,
            },
            None => HealthStatus::default(),
        }
    };
    let pods_since = app
        .app
        .status
        .history
        .last()
        .map(|h| h.deployed_at.as_str())
        .and_then(crate::model::fleet::parse_time)
        .unwrap_or(w.created)
        .max(w.created);
    let mut prng = Rng::new(w.salt ^ 0x90d);
    let mut pod = |name: String, parent: ResourceRef, ready: bool, restarts: u64| {
        let rng = &mut prng;
        // StatefulSets run a log-shipping sidecar beside the app (the demo cluster's pods).
        let sidecar = w.kind == WorkloadKind::StatefulSet;
        let (reason, containers) = match (w.pods, ready, sidecar) {
            (PodState::Running, true, false) => ("Running", "1/1"),
            (PodState::Running, true, true) => ("Running", "2/2"),
            (PodState::CrashLoop, _, false) => ("CrashLoopBackOff", "0/1"),
            (PodState::CrashLoop, _, true) => ("CrashLoopBackOff", "1/2"),
            (PodState::ImagePullBackOff, _, false) => ("ImagePullBackOff", "0/1"),
            (PodState::ImagePullBackOff, _, true) => ("ImagePullBackOff", "1/2"),
            (_, _, false) => ("ContainerCreating", "0/1"),
            (_, _, true) => ("ContainerCreating", "0/2"),
        };
        let h = pod_health(&name, ready, restarts);
        ResourceNode {
            reference: node_ref("", "v1", "Pod", &name),
            parent_refs: vec![parent],
            info: vec![
                Info {
                    name: "Status Reason".into(),
                    value: reason.into(),
                },
                Info {
                    name: "Node".into(),
                    value: format!("ip-10-0-{}-{}.internal", rng.below(200), rng.below(250)),
                },
                Info {
                    name: "Containers".into(),
                    value: containers.into(),
                },
                Info {
                    name: "Restart Count".into(),
                    value: restarts.to_string(),
                },
            ],
            resource_version: (1_000_000 + rng.below(9_000_000)).to_string(),
            images: vec![image(w, &live_tag(w))],
            health: Some(h),
            // Pods are as old as the rollout that made them: their creation time does not
            // move as the clock does.
            created_at: Some(ts((pods_since + rng.below(300) as i64).min(now))),
        }
    };
    match w.kind {
        WorkloadKind::Deployment => {
            let rs_name = format!("{}-{}", w.name, pod_hash(w));
            let dep = if w.canary.is_some() {
                node_ref("argoproj.io", "v1alpha1", "Rollout", &w.name)
            } else {
                node_ref("apps", "v1", "Deployment", &w.name)
            };
            let rs = node_ref("apps", "v1", "ReplicaSet", &rs_name);
            nodes.push(ResourceNode {
                reference: rs.clone(),
                parent_refs: vec![dep],
                info: vec![Info {
                    name: "Revision".into(),
                    value: format!("Rev:{}", app.app.status.history.len()),
                }],
                resource_version: (1_000_000 + rng.below(9_000_000)).to_string(),
                health: Some(HealthStatus {
                    status: if w.pods == PodState::Running {
                        "Healthy"
                    } else {
                        "Progressing"
                    }
                    .into(),
                    ..Default::default()
                }),
                images: vec![image(w, &live_tag(w))],
                created_at: Some(created.clone()),
            });
            // A canary in progress (or aborted) keeps part of the pods, or all of them, on
            // the stable ReplicaSet with the stable image.
            let stable = w.canary.as_ref().and_then(|c| {
                let (step, _) = c.step(now);
                let done = step >= crate::demo::generator::CANARY_STEPS.len() && !c.aborted;
                let tag = c.stable_tag.clone().filter(|_| !done)?;
                let weight = if c.aborted {
                    0
                } else {
                    crate::demo::generator::Canary::weight(step) as i64
                };
                Some((tag, (replicas * weight + 99) / 100))
            });
            let stable_rs = stable.as_ref().map(|(tag, _)| {
                let r = node_ref(
                    "apps",
                    "v1",
                    "ReplicaSet",
                    &format!("{}-{}", w.name, revision_hash(w, tag)),
                );
                nodes.push(ResourceNode {
                    reference: r.clone(),
                    parent_refs: vec![if w.canary.is_some() {
                        node_ref("argoproj.io", "v1alpha1", "Rollout", &w.name)
                    } else {
                        node_ref("apps", "v1", "Deployment", &w.name)
                    }],
                    resource_version: (1_000_000 + rng.below(9_000_000)).to_string(),
                    health: Some(HealthStatus {
                        status: "Healthy".into(),
                        ..Default::default()
                    }),
                    images: vec![image(w, tag)],
                    created_at: Some(created.clone()),
                    ..Default::default()
                });
                r
            });
            let mut sub = Rng::new(w.salt ^ 0x90d5);
            for i in 0..replicas.clamp(0, 30) {
                let ready = !(w.rolling && i == 0);
                let restarts = if w.pods == PodState::CrashLoop {
                    5 + sub.below(40)
                } else {
                    sub.below(2)
                };
                let on_stable = stable.as_ref().is_some_and(|(_, canary)| i >= *canary);
                let n = match (&stable_rs, &stable) {
                    (Some(srs), Some((tag, _))) if on_stable => {
                        let mut n = pod(
                            format!("{}-{}", srs.name, pod_suffix(&mut sub)),
                            srs.clone(),
                            ready,
                            restarts,
                        );
                        n.images = vec![image(w, tag)];
                        n
                    }
                    _ => pod(
                        format!("{rs_name}-{}", pod_suffix(&mut sub)),
                        rs.clone(),
                        ready,
                        restarts,
                    ),
                };
                nodes.push(n);
            }
        }
        WorkloadKind::StatefulSet => {
            let sts = node_ref("apps", "v1", "StatefulSet", &w.name);
            for i in 0..replicas.clamp(0, 30) {
                let n = pod(format!("{}-{i}", w.name), sts.clone(), true, 0);
                nodes.push(n);
            }
        }
        WorkloadKind::CronJob => {
            let cj = node_ref("batch", "v1", "CronJob", &w.name);
            let job_name = format!("{}-{}", w.name, last_schedule(w, now) / 60);
            let job = node_ref("batch", "v1", "Job", &job_name);
            nodes.push(ResourceNode {
                reference: job.clone(),
                parent_refs: vec![cj],
                resource_version: (1_000_000 + rng.below(9_000_000)).to_string(),
                health: Some(HealthStatus {
                    status: "Healthy".into(),
                    ..Default::default()
                }),
                created_at: Some(ts(last_schedule(w, now))),
                ..Default::default()
            });
        }
        // Argo CD objects have no children in the tree.
        WorkloadKind::AppOfApps => {}
    }
    nodes.sort_by(|a, b| {
        (
            &a.reference.group,
            &a.reference.kind,
            &a.reference.namespace,
            &a.reference.name,
        )
            .cmp(&(
                &b.reference.group,
                &b.reference.kind,
                &b.reference.namespace,
                &b.reference.name,
            ))
    });
    ApplicationTree {
        nodes,
        orphaned_nodes: vec![],
        shards_count: 0,
    }
}

/// Events of the Application, as the application controller records them.
pub fn app_events(app: &DemoApp) -> EventList {
    let a = &app.app;
    let mut items = Vec::new();
    let mut push = |reason: &str, message: String, at: &str, kind: &str| {
        let n = items.len();
        items.push(Event {
            metadata: ObjectMeta {
                name: format!(
                    "{}.{:x}",
                    a.metadata.name,
                    0x17a0_0000_0000u64 + n as u64 * 7919
                ),
                namespace: a.metadata.namespace.clone(),
                uid: uid(app.w.salt + n as u64, "event"),
                resource_version: (500_000 + n).to_string(),
                creation_timestamp: Some(at.to_string()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                kind: "Application".into(),
                namespace: a.metadata.namespace.clone(),
                name: a.metadata.name.clone(),
                uid: a.metadata.uid.clone(),
                api_version: "argoproj.io/v1alpha1".into(),
                resource_version: String::new(),
            },
            reason: reason.into(),
            message,
            source: Some(EventSource {
                component: "argocd-application-controller".into(),
                host: String::new(),
            }),
            first_timestamp: Some(at.to_string()),
            last_timestamp: Some(at.to_string()),
            count: 1,
            kind: kind.into(),
            reporting_component: String::new(),
            ..Default::default()
        });
    };
    for h in a
        .status
        .history
        .iter()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let who = h
            .initiated_by
            .as_ref()
            .map(|i| {
                if i.automated {
                    "automated sync".to_string()
                } else {
                    format!("{} sync", i.username)
                }
            })
            .unwrap_or_else(|| "sync".into());
        let start = h
            .deploy_started_at
            .clone()
            .unwrap_or_else(|| h.deployed_at.clone());
        push(
            "OperationStarted",
            format!("Initiated {who} to {}", h.revision),
            &start,
            "Normal",
        );
        push(
            "OperationCompleted",
            format!("Sync operation to {} succeeded", h.revision),
            &h.deployed_at,
            "Normal",
        );
    }
    for d in &app.w.drifts {
        if matches!(d, Drift::Replicas { by_hpa: true, .. }) {
            continue;
        }
        push(
            "ResourceUpdated",
            "Updated sync status: Synced -> OutOfSync".into(),
            &ts(d.at() + 3),
            "Normal",
        );
    }
    if a.status.health.status == "Degraded" {
        let at = a.status.reconciled_at.clone().unwrap_or_default();
        push(
            "ResourceUpdated",
            "Updated health status: Healthy -> Degraded".into(),
            &at,
            "Normal",
        );
    }
    if let Some(op) = &a.status.operation_state
        && op.phase == "Failed"
    {
        push(
            "OperationCompleted",
            format!(
                "Sync operation to {} failed: {}",
                a.status.sync.revision, op.message
            ),
            op.finished_at.as_deref().unwrap_or(&op.started_at),
            "Warning",
        );
    }
    items.sort_by(|x, y| x.last_timestamp.cmp(&y.last_timestamp));
    EventList {
        metadata: ListMeta {
            resource_version: "500000".into(),
        },
        items,
    }
}

/// Kubernetes events of one of the app's objects (`resourceName` of the events endpoint): the
/// workload's scaling and rollouts, the autoscaler's rescales.
pub fn resource_events(app: &DemoApp, name: &str, namespace: &str) -> EventList {
    let w = &app.w;
    let kind = match w.kind {
        WorkloadKind::Deployment if w.canary.is_some() => "Rollout",
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::StatefulSet => "StatefulSet",
        WorkloadKind::CronJob => "CronJob",
        WorkloadKind::AppOfApps => return EventList::default(),
    };
    let mut items = Vec::new();
    let mut push = |obj_kind: &str, reason: &str, message: String, at: i64, component: &str| {
        let n = items.len() as u64;
        items.push(Event {
            metadata: ObjectMeta {
                name: format!("{name}.{:x}", 0x18b0_0000_0000u64 + at as u64 * 31 + n),
                namespace: namespace.to_string(),
                uid: uid(w.salt ^ (at as u64).wrapping_mul(7) ^ n, "kevent"),
                creation_timestamp: Some(ts(at)),
                ..Default::default()
            },
            involved_object: ObjectReference {
                kind: obj_kind.into(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                ..Default::default()
            },
            reason: reason.into(),
            message,
            source: Some(EventSource {
                component: component.into(),
                host: String::new(),
            }),
            first_timestamp: Some(ts(at)),
            last_timestamp: Some(ts(at)),
            count: 1,
            kind: "Normal".into(),
            reporting_component: String::new(),
            ..Default::default()
        });
    };
    if name != w.name || namespace != w.namespace {
        return EventList::default();
    }
    let rs = format!("{}-{:x}", w.name, w.salt % 0xfff_ffff);
    for d in &w.drifts {
        match d {
            Drift::Replicas { to, by_hpa, at } => {
                if *by_hpa {
                    push(
                        "HorizontalPodAutoscaler",
                        "SuccessfulRescale",
                        format!(
                            "New size: {to}; reason: cpu resource utilization (percentage of request) above target"
                        ),
                        *at,
                        "horizontal-pod-autoscaler",
                    );
                }
                let dir = if *to > w.replicas { "up" } else { "down" };
                push(
                    kind,
                    "ScalingReplicaSet",
                    format!("Scaled {dir} replica set {rs} to {to} from {}", w.replicas),
                    at + 1,
                    "deployment-controller",
                );
            }
            Drift::Image { tag, at } => push(
                kind,
                "ScalingReplicaSet",
                format!("Scaled up replica set {}-{tag} to 1", w.name),
                *at + 1,
                "deployment-controller",
            ),
            Drift::Restarted { at } => push(
                kind,
                "ScalingReplicaSet",
                format!("Scaled up replica set {rs}-r to 1"),
                *at + 1,
                "deployment-controller",
            ),
            _ => {}
        }
    }
    EventList {
        items,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::generator::{FleetSpec, generate};

    const NOW: i64 = 1_795_000_000;

    fn fleet() -> Vec<DemoApp> {
        generate(
            &FleetSpec {
                apps: 600,
                clusters: 6,
                instances: 2,
                seed: 3,
            },
            NOW,
        )
        .into_iter()
        .flat_map(|i| i.apps)
        .map(|mut a| {
            refresh_status(&mut a, NOW);
            a
        })
        .collect()
    }

    #[test]
    fn managed_resources_agree_with_the_status() {
        for app in fleet() {
            let mr = managed_resources(&app, NOW);
            assert_eq!(mr.items.len(), app.app.status.resources.len());
            for (item, st) in mr.items.iter().zip(&app.app.status.resources) {
                assert_eq!(
                    (item.kind.as_str(), item.name.as_str()),
                    (st.kind.as_str(), st.name.as_str())
                );
                assert_eq!(
                    item.modified,
                    st.status == "OutOfSync",
                    "{} {}/{} drifts {:?}",
                    app.app.metadata.name,
                    item.kind,
                    item.name,
                    app.w.drifts
                );
                for s in [
                    &item.target_state,
                    &item.normalized_live_state,
                    &item.predicted_live_state,
                    &item.live_state,
                ] {
                    assert!(s == "null" || serde_json::from_str::<Value>(s).is_ok());
                }
            }
        }
    }

    #[test]
    fn drift_managers_are_recorded() {
        let apps = fleet();
        let scaled = apps
            .iter()
            .find(|a| {
                a.w.drifts
                    .iter()
                    .any(|d| matches!(d, Drift::Replicas { by_hpa: false, .. }))
                    && a.w.kind == WorkloadKind::Deployment
            })
            .expect("a hand-scaled app");
        let r = resources(&scaled.w)
            .into_iter()
            .find(|r| r.kind == "Deployment")
            .unwrap();
        let live = live(scaled, &r, NOW).unwrap();
        let mf = live["metadata"]["managedFields"].as_array().unwrap();
        let scale = mf.iter().find(|e| e["manager"] == "kubectl-scale").unwrap();
        assert!(scale["fieldsV1"]["f:spec"]["f:replicas"].is_object());
        let ctl = mf
            .iter()
            .find(|e| e["manager"] == "argocd-controller")
            .unwrap();
        assert!(
            ctl["fieldsV1"]["f:spec"].get("f:replicas").is_none(),
            "ownership moved"
        );
    }

    #[test]
    fn the_light_health_object_assesses_like_the_full_live_object() {
        for app in fleet() {
            for r in resources(&app.w) {
                let full = live(&app, &r, NOW).and_then(|o| crate::health::assess(&o));
                let light = health_object(&app, &r, NOW).and_then(|o| crate::health::assess(&o));
                assert_eq!(
                    full, light,
                    "{} {}/{}",
                    app.app.metadata.name, r.kind, r.name
                );
            }
        }
    }

    #[test]
    fn tree_has_pods_under_replicasets() {
        let app = fleet()
            .into_iter()
            .find(|a| a.w.kind == WorkloadKind::Deployment)
            .unwrap();
        let t = tree(&app, NOW);
        let pods: Vec<_> = t
            .nodes
            .iter()
            .filter(|n| n.reference.kind == "Pod")
            .collect();
        assert_eq!(pods.len() as i64, live_replicas(&app.w).min(30));
        assert!(pods.iter().all(|p| p.parent_refs[0].kind == "ReplicaSet"));
    }
}
