//! gitops-engine's built-in checks: Deployment, StatefulSet, DaemonSet, ReplicaSet, Service,
//! Ingress, PersistentVolumeClaim, Pod, Job, HorizontalPodAutoscaler, APIService and Argo
//! Workflow.

use serde_json::Value;

use super::{Assessment, get, i, is_hook, list, opt_i, s};
use crate::model::status::Health::{self, *};

pub const KINDS: &[&str] = &[
    "apps/Deployment",
    "apps/StatefulSet",
    "apps/ReplicaSet",
    "apps/DaemonSet",
    "extensions/Ingress",
    "networking.k8s.io/Ingress",
    "argoproj.io/Workflow",
    "apiregistration.k8s.io/APIService",
    "Service",
    "PersistentVolumeClaim",
    "Pod",
    "batch/Job",
    "autoscaling/HorizontalPodAutoscaler",
];

fn a(status: Health, msg: impl Into<String>) -> Option<Assessment> {
    Some(Assessment::new(status, msg))
}

fn unsupported(thing: &str, group: &str, version: &str, kind: &str) -> Option<Assessment> {
    a(
        Unknown,
        format!("unsupported {thing} GVK: {group}/{version}, Kind={kind}"),
    )
}

/// Fields that must have a JSON type for the typed decode to succeed.
fn typed(thing: &str, obj: &Value, ints: &[&[&str]]) -> Result<(), Assessment> {
    for p in ints {
        if let Some(v) = get(obj, p)
            && !v.is_i64()
            && !v.is_u64()
        {
            return Err(Assessment::new(
                Unknown,
                format!(
                    "failed to convert unstructured {thing} to typed: json: cannot unmarshal {} into Go struct field {} of type int",
                    json_type(v),
                    p.join(".")
                ),
            ));
        }
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Number(_) => "number",
        Value::Null => "null",
    }
}

/// Go's `%q` for simple strings.
fn q(s: &str) -> String {
    format!("{s:?}")
}

pub fn check(group: &str, version: &str, kind: &str, obj: &Value) -> Option<Assessment> {
    match (group, kind) {
        ("apps", "Deployment") => {
            if version != "v1" {
                return unsupported("Deployment", group, version, kind);
            }
            Some(deployment(obj))
        }
        ("apps", "StatefulSet") => {
            if version != "v1" {
                return unsupported("StatefulSet", group, version, kind);
            }
            Some(statefulset(obj))
        }
        ("apps", "ReplicaSet") => {
            if version != "v1" {
                return unsupported("ReplicaSet", group, version, kind);
            }
            Some(replicaset(obj))
        }
        ("apps", "DaemonSet") => {
            if version != "v1" {
                return unsupported("DaemonSet", group, version, kind);
            }
            Some(daemonset(obj))
        }
        ("extensions" | "networking.k8s.io", "Ingress") => Some(ingress(obj)),
        ("argoproj.io", "Workflow") => Some(workflow(obj)),
        ("apiregistration.k8s.io", "APIService") => {
            if version != "v1" && version != "v1beta1" {
                return unsupported("APIService", group, version, kind);
            }
            Some(apiservice(obj))
        }
        ("", "Service") => {
            if version != "v1" {
                return unsupported("Service", group, version, kind);
            }
            Some(service(obj))
        }
        ("", "PersistentVolumeClaim") => {
            if version != "v1" {
                return unsupported("PersistentVolumeClaim", group, version, kind);
            }
            Some(pvc(obj))
        }
        ("", "Pod") => {
            if version != "v1" {
                return unsupported("Pod", group, version, kind);
            }
            Some(pod(obj))
        }
        ("batch", "Job") => {
            if version != "v1" {
                return unsupported("Job", group, version, kind);
            }
            Some(job(obj))
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            // Current Argo CD assesses autoscaling/v1 and v2 only: v2beta1 and v2beta2 were
            // dropped (argo-cd #27887) and are now an unsupported GVK, as any other version.
            if !matches!(version, "v1" | "v2") {
                return unsupported("HPA", group, version, kind);
            }
            Some(hpa(version, obj))
        }
        _ => None,
    }
}

fn deployment(o: &Value) -> Assessment {
    if let Err(e) = typed(
        "Deployment",
        o,
        &[
            &["spec", "replicas"],
            &["status", "replicas"],
            &["status", "updatedReplicas"],
            &["status", "availableReplicas"],
            &["metadata", "generation"],
            &["status", "observedGeneration"],
        ],
    ) {
        return e;
    }
    if get(o, &["spec", "paused"]).and_then(Value::as_bool) == Some(true) {
        return Assessment::new(Suspended, "Deployment is paused");
    }
    if i(o, &["metadata", "generation"]) <= i(o, &["status", "observedGeneration"]) {
        let cond = list(o, &["status", "conditions"])
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("Progressing"));
        let updated = i(o, &["status", "updatedReplicas"]);
        let replicas = i(o, &["status", "replicas"]);
        let available = i(o, &["status", "availableReplicas"]);
        if cond.and_then(|c| c.get("reason")).and_then(Value::as_str)
            == Some("ProgressDeadlineExceeded")
        {
            let name = s(o, &["metadata", "name"]).unwrap_or("");
            return Assessment::new(
                Degraded,
                format!("Deployment {} exceeded its progress deadline", q(name)),
            );
        }
        if let Some(want) = opt_i(o, &["spec", "replicas"])
            && updated < want
        {
            return Assessment::new(
                Progressing,
                format!(
                    "Waiting for rollout to finish: {updated} out of {want} new replicas have been updated..."
                ),
            );
        }
        if replicas > updated {
            return Assessment::new(
                Progressing,
                format!(
                    "Waiting for rollout to finish: {} old replicas are pending termination...",
                    replicas - updated
                ),
            );
        }
        if available < updated {
            return Assessment::new(
                Progressing,
                format!(
                    "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
                ),
            );
        }
        return Assessment::new(Healthy, "");
    }
    Assessment::new(
        Progressing,
        "Waiting for rollout to finish: observed deployment generation less than desired generation",
    )
}

fn statefulset(o: &Value) -> Assessment {
    if let Err(e) = typed(
        "StatefulSet",
        o,
        &[
            &["spec", "replicas"],
            &["status", "readyReplicas"],
            &["status", "updatedReplicas"],
            &["status", "currentReplicas"],
            &["status", "observedGeneration"],
            &["spec", "updateStrategy", "rollingUpdate", "partition"],
        ],
    ) {
        return e;
    }
    let observed = i(o, &["status", "observedGeneration"]);
    if observed == 0 || i(o, &["metadata", "generation"]) > observed {
        return Assessment::new(
            Progressing,
            "Waiting for statefulset spec update to be observed...",
        );
    }
    let replicas = opt_i(o, &["spec", "replicas"]);
    let ready = i(o, &["status", "readyReplicas"]);
    let updated = i(o, &["status", "updatedReplicas"]);
    if let Some(r) = replicas
        && ready < r
    {
        return Assessment::new(
            Progressing,
            format!("Waiting for {} pods to be ready...", r - ready),
        );
    }
    let strategy = s(o, &["spec", "updateStrategy", "type"]).unwrap_or("");
    if strategy == "RollingUpdate" && get(o, &["spec", "updateStrategy", "rollingUpdate"]).is_some()
    {
        if let (Some(r), Some(partition)) = (
            replicas,
            opt_i(o, &["spec", "updateStrategy", "rollingUpdate", "partition"]),
        ) {
            let target = r - partition;
            if updated < target {
                return Assessment::new(
                    Progressing,
                    format!(
                        "Waiting for partitioned roll out to finish: {updated} out of {target} new pods have been updated..."
                    ),
                );
            }
        }
        return Assessment::new(
            Healthy,
            format!("partitioned roll out complete: {updated} new pods have been updated..."),
        );
    }
    if strategy == "OnDelete" {
        return Assessment::new(Healthy, format!("statefulset has {ready} ready pods"));
    }
    let update_rev = s(o, &["status", "updateRevision"]).unwrap_or("");
    let current_rev = s(o, &["status", "currentRevision"]).unwrap_or("");
    if update_rev != current_rev {
        return Assessment::new(
            Progressing,
            format!(
                "waiting for statefulset rolling update to complete {updated} pods at revision {update_rev}..."
            ),
        );
    }
    Assessment::new(
        Healthy,
        format!(
            "statefulset rolling update complete {} pods at revision {current_rev}...",
            i(o, &["status", "currentReplicas"])
        ),
    )
}

fn daemonset(o: &Value) -> Assessment {
    if let Err(e) = typed(
        "DaemonSet",
        o,
        &[
            &["status", "updatedNumberScheduled"],
            &["status", "desiredNumberScheduled"],
            &["status", "numberAvailable"],
            &["status", "observedGeneration"],
        ],
    ) {
        return e;
    }
    if i(o, &["metadata", "generation"]) > i(o, &["status", "observedGeneration"]) {
        return Assessment::new(
            Progressing,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        );
    }
    let updated = i(o, &["status", "updatedNumberScheduled"]);
    let desired = i(o, &["status", "desiredNumberScheduled"]);
    let available = i(o, &["status", "numberAvailable"]);
    if s(o, &["spec", "updateStrategy", "type"]) == Some("OnDelete") {
        return Assessment::new(
            Healthy,
            format!("daemon set {updated} out of {desired} new pods have been updated"),
        );
    }
    let name = q(s(o, &["metadata", "name"]).unwrap_or(""));
    if updated < desired {
        return Assessment::new(
            Progressing,
            format!(
                "Waiting for daemon set {name} rollout to finish: {updated} out of {desired} new pods have been updated..."
            ),
        );
    }
    if available < desired {
        return Assessment::new(
            Progressing,
            format!(
                "Waiting for daemon set {name} rollout to finish: {available} of {desired} updated pods are available..."
            ),
        );
    }
    Assessment::new(Healthy, "")
}

fn replicaset(o: &Value) -> Assessment {
    if let Err(e) = typed(
        "ReplicaSet",
        o,
        &[
            &["spec", "replicas"],
            &["status", "availableReplicas"],
            &["status", "observedGeneration"],
        ],
    ) {
        return e;
    }
    if i(o, &["metadata", "generation"]) <= i(o, &["status", "observedGeneration"]) {
        let cond = list(o, &["status", "conditions"])
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("ReplicaFailure"));
        if let Some(c) = cond
            && c.get("status").and_then(Value::as_str) == Some("True")
        {
            return Assessment::new(
                Degraded,
                c.get("message").and_then(Value::as_str).unwrap_or(""),
            );
        }
        if let Some(want) = opt_i(o, &["spec", "replicas"]) {
            let available = i(o, &["status", "availableReplicas"]);
            if available < want {
                return Assessment::new(
                    Progressing,
                    format!(
                        "Waiting for rollout to finish: {available} out of {want} new replicas are available..."
                    ),
                );
            }
        }
        return Assessment::new(Healthy, "");
    }
    Assessment::new(
        Progressing,
        "Waiting for rollout to finish: observed replica set generation less than desired generation",
    )
}

fn service(o: &Value) -> Assessment {
    if s(o, &["spec", "type"]) == Some("LoadBalancer") {
        if !list(o, &["status", "loadBalancer", "ingress"]).is_empty() {
            return Assessment::new(Healthy, "");
        }
        return Assessment::new(Progressing, "");
    }
    Assessment::new(Healthy, "")
}

fn ingress(o: &Value) -> Assessment {
    if list(o, &["status", "loadBalancer", "ingress"]).is_empty() {
        Assessment::new(Progressing, "")
    } else {
        Assessment::new(Healthy, "")
    }
}

fn pvc(o: &Value) -> Assessment {
    match s(o, &["status", "phase"]) {
        Some("Lost") => Assessment::new(Degraded, ""),
        Some("Pending") => Assessment::new(Progressing, ""),
        Some("Bound") => Assessment::new(Healthy, ""),
        _ => Assessment::new(Unknown, ""),
    }
}

fn pod(o: &Value) -> Assessment {
    let ignore_rp = o
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get("argocd.argoproj.io/ignore-restart-policy"))
        .and_then(Value::as_str)
        == Some("true");
    let policy = s(o, &["spec", "restartPolicy"]).unwrap_or("");
    let long_running = policy == "Always" || (ignore_rp && !is_hook(o));
    let status_msg = s(o, &["status", "message"]).unwrap_or("").to_string();
    let containers = list(o, &["status", "containerStatuses"]);
    if long_running {
        let msgs: Vec<&str> = containers
            .iter()
            .filter_map(|cs| cs.get("state").and_then(|st| st.get("waiting")))
            .filter(|w| {
                let r = w.get("reason").and_then(Value::as_str).unwrap_or("");
                r.starts_with("Err") || r.ends_with("Error") || r.ends_with("BackOff")
            })
            .map(|w| w.get("message").and_then(Value::as_str).unwrap_or(""))
            .collect();
        if !msgs.is_empty() {
            return Assessment::new(Degraded, msgs.join(", "));
        }
    }
    match s(o, &["status", "phase"]).unwrap_or("") {
        "Pending" => Assessment::new(Progressing, status_msg),
        "Succeeded" => Assessment::new(Healthy, status_msg),
        "Failed" => {
            if !status_msg.is_empty() {
                return Assessment::new(Degraded, status_msg);
            }
            let init = list(o, &["status", "initContainerStatuses"]);
            for c in init.iter().chain(containers) {
                let Some(t) = c
                    .get("state")
                    .and_then(|st| st.get("terminated"))
                    .filter(|t| !t.is_null())
                else {
                    continue;
                };
                let msg = t.get("message").and_then(Value::as_str).unwrap_or("");
                if !msg.is_empty() {
                    return Assessment::new(Degraded, msg);
                }
                if t.get("reason").and_then(Value::as_str) == Some("OOMKilled") {
                    return Assessment::new(Degraded, "OOMKilled");
                }
                let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
                if code != 0 {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                    return Assessment::new(
                        Degraded,
                        format!("container {} failed with exit code {code}", q(name)),
                    );
                }
            }
            Assessment::new(Degraded, "")
        }
        "Running" => {
            if long_running {
                let ready = list(o, &["status", "conditions"])
                    .iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
                    .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"));
                if ready {
                    return Assessment::new(Healthy, status_msg);
                }
                if containers.iter().any(|cs| {
                    cs.get("lastState")
                        .and_then(|l| l.get("terminated"))
                        .is_some_and(|t| !t.is_null())
                }) {
                    return Assessment::new(Degraded, status_msg);
                }
                return Assessment::new(Progressing, status_msg);
            }
            if policy == "OnFailure" || policy == "Never" {
                return Assessment::new(Progressing, status_msg);
            }
            Assessment::new(Unknown, status_msg)
        }
        _ => Assessment::new(Unknown, status_msg),
    }
}

fn job(o: &Value) -> Assessment {
    let (mut failed, mut complete, mut suspended) = (false, false, false);
    let (mut fail_msg, mut msg) = (String::new(), String::new());
    for c in list(o, &["status", "conditions"]) {
        let m = c
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match c.get("type").and_then(Value::as_str) {
            Some("Failed") => {
                failed = true;
                complete = true;
                fail_msg = m;
            }
            Some("Complete") => {
                complete = true;
                msg = m;
            }
            Some("Suspended") => {
                complete = true;
                msg = m;
                if c.get("status").and_then(Value::as_str) == Some("True") {
                    suspended = true;
                }
            }
            _ => {}
        }
    }
    if !complete {
        Assessment::new(Progressing, msg)
    } else if failed {
        Assessment::new(Degraded, fail_msg)
    } else if suspended {
        Assessment::new(Suspended, msg)
    } else {
        Assessment::new(Healthy, msg)
    }
}

#[derive(Debug, Default)]
struct Cond {
    kind: String,
    reason: String,
    message: String,
    status: String,
}

fn hpa(version: &str, o: &Value) -> Assessment {
    let waiting = Assessment::new(Progressing, "Waiting to Autoscale");
    let conds: Vec<Cond> = if version == "v1" {
        let Some(ann) = o
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get("autoscaling.alpha.kubernetes.io/conditions"))
            .and_then(Value::as_str)
        else {
            return waiting;
        };
        // As Go decodes it: `null` is no conditions, a `null` item a condition with no fields.
        let parsed: Vec<serde_json::Map<String, Value>> =
            match serde_json::from_str::<Option<Vec<Option<serde_json::Map<String, Value>>>>>(ann)
                .map(|v| {
                    v.unwrap_or_default()
                        .into_iter()
                        .map(Option::unwrap_or_default)
                        .collect()
                }) {
                Ok(v) => v,
                Err(e) => {
                    return Assessment::new(
                        Unknown,
                        format!("failed to convert conditions annotation to typed: {e}"),
                    );
                }
            };
        parsed
            .iter()
            .map(|m| {
                // Go's encoding/json matches keys case-insensitively.
                let f = |k: &str| {
                    m.iter()
                        .find(|(key, _)| key.eq_ignore_ascii_case(k))
                        .and_then(|(_, v)| v.as_str())
                        .unwrap_or("")
                        .to_string()
                };
                Cond {
                    kind: f("type"),
                    reason: f("reason"),
                    message: f("message"),
                    status: f("status"),
                }
            })
            .collect()
    } else {
        list(o, &["status", "conditions"])
            .iter()
            .map(|c| {
                let f = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                Cond {
                    kind: f("type"),
                    reason: f("reason"),
                    message: f("message"),
                    status: f("status"),
                }
            })
            .collect()
    };
    if conds.is_empty() {
        return waiting;
    }
    const DEGRADED: &[(&str, &str)] = &[
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "FailedGetObjectMetric"),
        ("ScalingActive", "FailedGetPodsMetric"),
        ("ScalingActive", "FailedGetExternalMetric"),
        ("ScalingActive", "FailedComputeMetricsReplicas"),
        ("ScalingActive", "InvalidSelector"),
    ];
    // Current Argo CD (argo-cd #26274) looks for a failure among all the conditions first,
    // then for a healthy scaling state: an HPA that can scale but cannot read its metrics is
    // Degraded, whatever the order of its conditions. (The archived gitops-engine took the
    // first condition that was either, so such an HPA was Healthy.)
    if let Some(c) = conds
        .iter()
        .find(|c| DEGRADED.contains(&(c.kind.as_str(), c.reason.as_str())))
    {
        return Assessment::new(Degraded, c.message.clone());
    }
    if let Some(c) = conds
        .iter()
        .find(|c| (c.kind == "AbleToScale" || c.kind == "ScalingLimited") && c.status == "True")
    {
        return Assessment::new(Healthy, c.message.clone());
    }
    waiting
}

fn apiservice(o: &Value) -> Assessment {
    for c in list(o, &["status", "conditions"]) {
        if c.get("type").and_then(Value::as_str) == Some("Available") {
            let m = format!(
                "{}: {}",
                c.get("reason").and_then(Value::as_str).unwrap_or(""),
                c.get("message").and_then(Value::as_str).unwrap_or("")
            );
            return if c.get("status").and_then(Value::as_str) == Some("True") {
                Assessment::new(Healthy, m)
            } else {
                Assessment::new(Progressing, m)
            };
        }
    }
    Assessment::new(Progressing, "Waiting to be processed")
}

fn workflow(o: &Value) -> Assessment {
    let msg = s(o, &["status", "message"]).unwrap_or("");
    let status = match s(o, &["status", "phase"]).unwrap_or("") {
        "" | "Pending" | "Running" => Progressing,
        "Succeeded" => Healthy,
        "Failed" | "Error" => Degraded,
        _ => Unknown,
    };
    Assessment::new(status, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn st(o: Value) -> (Health, String) {
        let r = crate::health::assess(&o).unwrap();
        (r.status, r.message)
    }

    #[test]
    fn deployment_cases() {
        let d = |status: Value, spec: Value| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "generation": 2}, "spec": spec, "status": status});
        assert_eq!(
            st(d(json!({"observedGeneration": 1}), json!({}))).0,
            Progressing
        );
        assert_eq!(
            st(d(
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
                json!({"replicas": 3})
            )),
            (Healthy, String::new())
        );
        assert_eq!(
            st(d(
                json!({"observedGeneration": 2, "updatedReplicas": 1}),
                json!({"replicas": 3})
            ))
            .1,
            "Waiting for rollout to finish: 1 out of 3 new replicas have been updated..."
        );
        assert_eq!(
            st(d(json!({}), json!({"paused": true}))),
            (Suspended, "Deployment is paused".into())
        );
        let deadline = d(
            json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
            json!({}),
        );
        assert_eq!(
            st(deadline),
            (
                Degraded,
                "Deployment \"web\" exceeded its progress deadline".into()
            )
        );
        let bad = d(json!({}), json!({"replicas": "three"}));
        assert_eq!(st(bad).0, Unknown);
        let old = json!({"apiVersion": "apps/v1beta2", "kind": "Deployment"});
        assert_eq!(
            st(old),
            (
                Unknown,
                "unsupported Deployment GVK: apps/v1beta2, Kind=Deployment".into()
            )
        );
    }

    #[test]
    fn pod_restart_policy_matters() {
        let p = |policy: &str| {
            json!({"apiVersion": "v1", "kind": "Pod", "spec": {"restartPolicy": policy},
                "status": {"phase": "Running", "containerStatuses": [{"name": "main", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}}]}})
        };
        assert_eq!(st(p("Always")), (Degraded, "back-off".into()));
        assert_eq!(st(p("Never")).0, Progressing);
        assert_eq!(st(p("")).0, Unknown);
    }

    #[test]
    fn job_quirks() {
        let j = |conds: Value| json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": conds}});
        assert_eq!(st(j(json!([]))).0, Progressing);
        assert_eq!(
            st(j(
                json!([{"type": "Suspended", "status": "False", "message": "resumed"}])
            )),
            (Healthy, "resumed".into())
        );
        assert_eq!(
            st(j(
                json!([{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}])
            )),
            (Degraded, "BackoffLimitExceeded".into())
        );
    }

    #[test]
    fn hpa_failures_win_over_an_able_to_scale_condition_in_every_version() {
        let reasons = [
            ("ScalingActive", "FailedGetResourceMetric"),
            ("ScalingActive", "FailedGetObjectMetric"),
            ("ScalingActive", "FailedGetPodsMetric"),
            ("ScalingActive", "FailedGetExternalMetric"),
            ("ScalingActive", "FailedComputeMetricsReplicas"),
            ("ScalingActive", "InvalidSelector"),
            ("AbleToScale", "FailedGetScale"),
            ("AbleToScale", "FailedUpdateScale"),
        ];
        for (kind, reason) in reasons {
            let conds = json!([
                {"type": "AbleToScale", "status": "True", "reason": "SucceededRescale", "message": "able"},
                {"type": kind, "status": "False", "reason": reason, "message": format!("failed: {reason}")}
            ]);
            let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/conditions": conds.to_string()}}});
            assert_eq!(
                st(v1),
                (Degraded, format!("failed: {reason}")),
                "v1 {reason}"
            );
            let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "status": {"conditions": conds}});
            assert_eq!(
                st(v2),
                (Degraded, format!("failed: {reason}")),
                "v2 {reason}"
            );
        }
        // A reason Argo CD does not list is not a failure: the able-to-scale condition decides.
        let other = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "status": {"conditions": [
            {"type": "ScalingActive", "status": "False", "reason": "ScalingDisabled", "message": "disabled"},
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "able"}
        ]}});
        assert_eq!(st(other), (Healthy, "able".into()));
        for v in ["v2beta1", "v2beta2"] {
            let old = json!({"apiVersion": format!("autoscaling/{v}"), "kind": "HorizontalPodAutoscaler"});
            assert_eq!(
                st(old),
                (
                    Unknown,
                    format!("unsupported HPA GVK: autoscaling/{v}, Kind=HorizontalPodAutoscaler")
                )
            );
        }
    }

    /// Current Argo CD's `argocd.argoproj.io/ignore-restart-policy` (argo-cd #28249): a pod
    /// that never restarts is assessed as a long-running one, except when it is a hook.
    #[test]
    fn pods_that_ignore_their_restart_policy() {
        let pod = |annotations: Value, state: Value, ready: bool| {
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "annotations": annotations},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "alpine:3.21"}]},
                "status": {"phase": "Running",
                    "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                    "containerStatuses": [{"name": "main", "ready": ready, "restartCount": 0, "state": state}]}})
        };
        let running = json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}});
        let ignore = json!({"argocd.argoproj.io/ignore-restart-policy": "true"});
        assert_eq!(st(pod(json!({}), running.clone(), true)).0, Progressing);
        assert_eq!(st(pod(ignore.clone(), running.clone(), true)).0, Healthy);
        let hook = json!({"argocd.argoproj.io/ignore-restart-policy": "true", "argocd.argoproj.io/hook": "PostSync"});
        assert_eq!(st(pod(hook, running, true)).0, Progressing);
        let backoff = json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"alpine:3.21\""}});
        assert_eq!(
            st(pod(ignore, backoff, false)),
            (Degraded, "Back-off pulling image \"alpine:3.21\"".into())
        );
    }

    #[test]
    fn hook_types_are_the_known_ones_once_each() {
        let pod =
            |hook: &str| json!({"metadata": {"annotations": {"argocd.argoproj.io/hook": hook}}});
        assert!(crate::health::is_hook(&pod("PreSync")));
        assert!(crate::health::is_hook(&pod("Skip,PostSync")));
        assert!(!crate::health::is_hook(&pod("Skip")));
        assert!(!crate::health::is_hook(&pod("Skip,Skip")));
        assert!(!crate::health::is_hook(&pod("Skip, Bogus")));
        assert!(
            crate::health::is_hook(&pod("Bogus")),
            "no known type: not only Skip"
        );
    }

    #[test]
    fn hpa_v1_null_conditions_wait_to_autoscale() {
        for ann in ["null", "[null]", "[]"] {
            let h = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/conditions": ann}}});
            assert_eq!(st(h), (Progressing, "Waiting to Autoscale".into()), "{ann}");
        }
    }

    #[test]
    fn hpa_versions_and_condition_order() {
        let h = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "status": {"conditions": [
            {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric", "message": "no metrics"},
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "ok"}
        ]}});
        assert_eq!(st(h), (Degraded, "no metrics".into()));
        assert_eq!(
            st(json!({"apiVersion": "autoscaling/v3", "kind": "HorizontalPodAutoscaler"})).0,
            Unknown
        );
        let bad = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/conditions": "not json"}}});
        assert!(
            st(bad)
                .1
                .starts_with("failed to convert conditions annotation to typed")
        );
    }
}
