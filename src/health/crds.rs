//! The checks Argo CD ships as Lua scripts (`resource_customizations/<group>/<Kind>/health.lua`),
//! rewritten from their rules. Where a script would fail on a missing field (Lua indexing nil),
//! the result is `Unknown` with the reason, as Argo CD reports a script error.

use serde_json::Value;

use super::{Assessment, get, list, s};
use crate::model::status::Health::*;

pub const KINDS: &[&str] = &[
    "argoproj.io/Rollout",
    "argoproj.io/AnalysisRun",
    "argoproj.io/ApplicationSet",
    "cert-manager.io/Certificate",
    "cert-manager.io/Issuer",
    "cert-manager.io/ClusterIssuer",
    "external-secrets.io/ExternalSecret",
    "external-secrets.io/SecretStore",
    "external-secrets.io/ClusterSecretStore",
    "bitnami.com/SealedSecret",
    "keda.sh/ScaledObject",
    "policy/PodDisruptionBudget",
    "batch/CronJob",
];

pub fn check(group: &str, kind: &str, o: &Value) -> Option<Assessment> {
    Some(match (group, kind) {
        ("argoproj.io", "Rollout") => rollout(o),
        ("argoproj.io", "AnalysisRun") => analysis_run(o)?,
        ("argoproj.io", "ApplicationSet") => application_set(o),
        ("cert-manager.io", "Certificate") => certificate(o),
        ("cert-manager.io", "Issuer") => ready_pattern(o, "Ready", "Initializing issuer"),
        ("cert-manager.io", "ClusterIssuer") => {
            ready_pattern(o, "Ready", "Initializing ClusterIssuer")
        }
        ("external-secrets.io", "ExternalSecret") => {
            ready_pattern(o, "Ready", "Waiting for ExternalSecret")
        }
        ("external-secrets.io", "SecretStore") => {
            ready_pattern(o, "Ready", "Waiting for SecretStore")
        }
        ("external-secrets.io", "ClusterSecretStore") => {
            ready_pattern(o, "Ready", "Waiting for ClusterSecretStore")
        }
        ("bitnami.com", "SealedSecret") => {
            ready_pattern(o, "Synced", "Waiting for Sealed Secret to be decrypted")
        }
        ("keda.sh", "ScaledObject") => scaled_object(o),
        ("policy", "PodDisruptionBudget") => pdb(o),
        ("batch", "CronJob") => cronjob(o),
        _ => return None,
    })
}

/// What a Lua script raising "attempt to index a nil value" becomes.
fn nil_index(field: &str) -> Assessment {
    Assessment::new(
        Unknown,
        format!("attempt to index a nil value (field '{field}')"),
    )
}

fn cstr<'a>(c: &'a Value, k: &str) -> Option<&'a str> {
    c.get(k).and_then(Value::as_str)
}

fn cmsg(c: &Value) -> String {
    cstr(c, "message").unwrap_or("").to_string()
}

/// The common pattern: the first `TYPE` condition decides (False → Degraded, True → Healthy).
fn ready_pattern(o: &Value, ty: &str, waiting: &str) -> Assessment {
    for c in list(o, &["status", "conditions"]) {
        if cstr(c, "type") == Some(ty) {
            match cstr(c, "status") {
                Some("False") => return Assessment::new(Degraded, cmsg(c)),
                Some("True") => return Assessment::new(Healthy, cmsg(c)),
                _ => {}
            }
        }
    }
    Assessment::new(Progressing, waiting)
}

fn certificate(o: &Value) -> Assessment {
    let conds = list(o, &["status", "conditions"]);
    if let Some(c) = conds
        .iter()
        .find(|c| cstr(c, "type") == Some("Issuing") && cstr(c, "status") == Some("True"))
    {
        return Assessment::new(Progressing, cmsg(c));
    }
    for c in conds {
        if cstr(c, "type") == Some("Ready") {
            match cstr(c, "status") {
                Some("False") => return Assessment::new(Degraded, cmsg(c)),
                Some("True") => return Assessment::new(Healthy, cmsg(c)),
                _ => {}
            }
        }
    }
    Assessment::new(Progressing, "Waiting for certificate")
}

fn application_set(o: &Value) -> Assessment {
    let conds = list(o, &["status", "conditions"]);
    let find = |ty: &str, st: &str| {
        conds
            .iter()
            .find(|c| cstr(c, "type") == Some(ty) && cstr(c, "status") == Some(st))
    };
    if let Some(c) = find("ErrorOccurred", "True") {
        return Assessment::new(Degraded, cmsg(c));
    }
    if let Some(c) = find("ResourcesUpToDate", "False") {
        return Assessment::new(Degraded, cmsg(c));
    }
    if let Some(c) = find("RolloutProgressing", "True") {
        return Assessment::new(Progressing, cmsg(c));
    }
    if let Some(c) = find("ResourcesUpToDate", "True") {
        return Assessment::new(Healthy, cmsg(c));
    }
    Assessment::new(Progressing, "Waiting for the status to be reported")
}

fn pdb(o: &Value) -> Assessment {
    let mut result = Assessment::new(Progressing, "Waiting for status");
    for c in list(o, &["status", "conditions"]) {
        let Some(reason) = cstr(c, "reason") else {
            return Assessment::new(
                Unknown,
                "attempt to concatenate a nil value (field 'reason')",
            );
        };
        if cstr(c, "status") == Some("False") && reason != "InsufficientPods" {
            return Assessment::new(Degraded, format!("PodDisruptionBudget has {reason}"));
        }
        result = Assessment::new(Healthy, format!("PodDisruptionBudget has {reason}"));
    }
    result
}

fn cronjob(o: &Value) -> Assessment {
    let Some(spec) = get(o, &["spec"]) else {
        return nil_index("spec");
    };
    if spec.get("suspend").and_then(Value::as_bool) == Some(true) {
        return Assessment::new(Healthy, "CronJob is Suspended");
    }
    let Some(status) = get(o, &["status"]) else {
        return Assessment::new(Progressing, "Waiting for CronJob");
    };
    let Some(scheduled) = status.get("lastScheduleTime").and_then(Value::as_str) else {
        return Assessment::new(Healthy, "CronJob has not been scheduled yet");
    };
    let Some(succeeded) = status.get("lastSuccessfulTime").and_then(Value::as_str) else {
        return Assessment::new(
            Healthy,
            "The CronJob never completed successfully. It may not be healthy",
        );
    };
    if status
        .get("active")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        return Assessment::new(
            Healthy,
            "The job is running. Its last execution may not have been successful",
        );
    }
    if succeeded < scheduled {
        return Assessment::new(
            Degraded,
            "CronJob has not completed its last execution successfully",
        );
    }
    Assessment::new(
        Healthy,
        "CronJob has completed its last execution successfully",
    )
}

fn scaled_object(o: &Value) -> Assessment {
    let (mut healthy, mut degraded, mut suspended) = (false, false, false);
    let mut msg = String::new();
    for c in list(o, &["status", "conditions"]) {
        match (cstr(c, "status"), cstr(c, "type")) {
            (Some("False"), Some("Ready")) => {
                msg = cmsg(c);
                degraded = true;
            }
            (Some("True"), Some("Ready")) => {
                msg = cmsg(c);
                healthy = true;
            }
            (Some("True"), Some("Paused")) => {
                msg = cmsg(c);
                suspended = true;
            }
            (Some("True"), Some("Fallback")) => {
                msg = cmsg(c);
                degraded = true;
            }
            _ => {}
        }
    }
    if degraded {
        Assessment::new(Degraded, msg)
    } else if healthy && !suspended {
        Assessment::new(Healthy, msg)
    } else if healthy && suspended {
        Assessment::new(Suspended, msg)
    } else {
        Assessment::new(Progressing, "Creating HorizontalPodAutoscaler Object")
    }
}

/// `tonumber` of a JSON value: numbers as is, numeric strings parsed, anything else nil.
fn tonumber(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn analysis_run(o: &Value) -> Option<Assessment> {
    let Some(status) = get(o, &["status"]) else {
        return Some(Assessment::new(
            Progressing,
            "Waiting for analysis run to finish: status has not been reconciled.",
        ));
    };
    let msg_or = |d: &str| {
        status
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or(d)
            .to_string()
    };
    Some(match status.get("phase").and_then(Value::as_str) {
        Some("Pending") | Some("Running") => {
            Assessment::new(Progressing, "Analysis run is running")
        }
        Some("Successful") => {
            Assessment::new(Healthy, msg_or("Analysis run completed successfully"))
        }
        Some("Failed") => Assessment::new(Degraded, msg_or("Analysis run failed")),
        Some("Error") => Assessment::new(Degraded, msg_or("Analysis run had an error")),
        Some("Inconclusive") => Assessment::new(Unknown, msg_or("Analysis run was inconclusive")),
        // The script returns an empty table: a result with no status, which never makes an
        // application worse. Shown as Healthy with no message.
        _ => Assessment::new(Healthy, ""),
    })
}

fn rollout(o: &Value) -> Assessment {
    let Some(status) = get(o, &["status"]) else {
        return Assessment::new(
            Progressing,
            "Waiting for rollout spec update to be observed",
        );
    };
    let generation = tonumber(o.get("metadata").and_then(|m| m.get("generation")));
    let observed = match tonumber(status.get("observedGeneration")) {
        None => true,
        Some(og) => match generation {
            Some(g) => og >= g,
            None => false,
        },
    };
    let workload_observed = match (
        get(o, &["spec", "workloadRef"]),
        o.get("metadata").and_then(|m| m.get("annotations")),
    ) {
        (Some(_), Some(ann)) if !ann.is_null() => {
            tonumber(ann.get("rollout.argoproj.io/workload-generation"))
                == tonumber(status.get("workloadObservedGeneration"))
        }
        _ => true,
    };
    if !observed || !workload_observed {
        return Assessment::new(
            Progressing,
            "Waiting for rollout spec update to be observed",
        );
    }
    if let Some(phase) = status.get("phase").and_then(Value::as_str) {
        let msg = status.get("message").and_then(Value::as_str).unwrap_or("");
        let code = if phase == "Paused" {
            "Suspended"
        } else {
            phase
        };
        let h = match code {
            "Healthy" => Healthy,
            "Progressing" => Progressing,
            "Degraded" => Degraded,
            "Suspended" => Suspended,
            "Missing" => Missing,
            "Unknown" => Unknown,
            _ => return Assessment::new(Unknown, "Lua returned an invalid health status"),
        };
        return Assessment::new(h, msg);
    }
    let Some(conds) = status.get("conditions").and_then(Value::as_array) else {
        return Assessment::new(
            Unknown,
            "bad argument #1 to 'ipairs' (table expected, got nil)",
        );
    };
    for c in conds {
        let (t, r) = (cstr(c, "type"), cstr(c, "reason"));
        if t == Some("InvalidSpec")
            || (t == Some("Progressing")
                && (r == Some("RolloutAborted") || r == Some("ProgressDeadlineExceeded")))
        {
            return Assessment::new(Degraded, cmsg(c));
        }
    }
    let paused = status
        .get("pauseConditions")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty())
        || get(o, &["spec", "paused"]).and_then(Value::as_bool) == Some(true);
    if paused {
        return Assessment::new(Suspended, "Rollout is paused");
    }
    let Some(hash) = status.get("currentPodHash").and_then(Value::as_str) else {
        return Assessment::new(
            Progressing,
            "Waiting for rollout to finish: status has not been reconciled.",
        );
    };
    let num = |v: Option<&Value>, d: f64| tonumber(v).unwrap_or(d);
    let desired = num(get(o, &["spec", "replicas"]), 1.0);
    let replicas = num(status.get("replicas"), 0.0);
    let updated = num(status.get("updatedReplicas"), 0.0);
    let available = num(status.get("availableReplicas"), 0.0);
    if updated < desired {
        return Assessment::new(
            Progressing,
            "Waiting for roll out to finish: More replicas need to be updated",
        );
    }
    if available < updated {
        return Assessment::new(
            Progressing,
            "Waiting for roll out to finish: updated replicas are still becoming available",
        );
    }
    let stable = s(o, &["status", "stableRS"])
        .or_else(|| s(o, &["status", "canary", "stableRS"]))
        .unwrap_or("");
    let Some(strategy) = get(o, &["spec", "strategy"]) else {
        return nil_index("strategy");
    };
    if strategy.get("blueGreen").is_some_and(|b| !b.is_null()) {
        if s(o, &["status", "blueGreen", "activeSelector"]) != Some(hash) {
            return Assessment::new(Progressing, "active service cutover pending");
        }
        if !stable.is_empty() && stable != hash {
            return Assessment::new(Progressing, "waiting for analysis to complete");
        }
    } else if strategy.get("canary").is_some_and(|c| !c.is_null()) {
        if replicas > updated {
            return Assessment::new(
                Progressing,
                "Waiting for roll out to finish: old replicas are pending termination",
            );
        }
        if stable.is_empty() || stable != hash {
            return Assessment::new(Progressing, "Waiting for rollout to finish steps");
        }
    }
    Assessment::new(Healthy, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pattern_r_and_fallbacks() {
        let o = json!({"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "status": {"conditions": [{"type": "Ready", "status": "False", "message": "bad"}]}});
        assert_eq!(
            crate::health::assess(&o),
            Some(Assessment::new(Degraded, "bad"))
        );
        let o = json!({"apiVersion": "external-secrets.io/v1beta1", "kind": "ClusterSecretStore"});
        assert_eq!(
            crate::health::assess(&o),
            Some(Assessment::new(
                Progressing,
                "Waiting for ClusterSecretStore"
            ))
        );
    }

    #[test]
    fn keda_last_message_wins() {
        let o = json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "status": {"conditions": [
            {"type": "Ready", "status": "True", "message": "ready"},
            {"type": "Paused", "status": "True", "message": "ScaledObject is paused"}
        ]}});
        assert_eq!(
            crate::health::assess(&o),
            Some(Assessment::new(Suspended, "ScaledObject is paused"))
        );
    }

    #[test]
    fn pdb_and_cronjob() {
        let o = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "status": {"conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods"}]}});
        assert_eq!(
            crate::health::assess(&o),
            Some(Assessment::new(
                Healthy,
                "PodDisruptionBudget has SufficientPods"
            ))
        );
        let o = json!({"apiVersion": "batch/v1", "kind": "CronJob"});
        assert_eq!(crate::health::assess(&o).unwrap().status, Unknown);
    }
}
