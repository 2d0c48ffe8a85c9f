//! What `kubectl describe` says of a live object, for triage without leaving driftdeck: a pod's
//! conditions and each container's state, last termination and restarts; a workload's
//! replicas, strategy, images and conditions; and the object's events, newest first.

use serde_json::Value;

use super::kube::EventInfo;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn age(now: i64, t: &Value) -> String {
    match t.as_str().and_then(crate::model::fleet::parse_time) {
        Some(t) => format!("{} ({} ago)", s_time(t), crate::util::age(now - t)),
        None => "-".into(),
    }
}

fn s_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn container_state(st: &Value, now: i64) -> String {
    if let Some(r) = st.get("running") {
        return format!("Running, started {}", age(now, &r["startedAt"]));
    }
    if let Some(w) = st.get("waiting") {
        let msg = s(&w["message"]);
        return if msg.is_empty() {
            format!("Waiting: {}", s(&w["reason"]))
        } else {
            format!("Waiting: {}: {msg}", s(&w["reason"]))
        };
    }
    if let Some(t) = st.get("terminated") {
        return format!(
            "Terminated: {} (exit code {}), finished {}",
            s(&t["reason"]),
            t["exitCode"].as_i64().unwrap_or(0),
            age(now, &t["finishedAt"])
        );
    }
    "-".into()
}

/// The describe-like summary of `obj`, with `events` of the namespace (those about it kept).
pub fn describe(obj: &Value, events: &[EventInfo], now: i64) -> Vec<String> {
    let kind = s(&obj["kind"]);
    let meta = &obj["metadata"];
    let name = s(&meta["name"]);
    let mut out = vec![
        format!("Name:        {name}"),
        format!("Namespace:   {}", s(&meta["namespace"])),
        format!("Kind:        {kind}"),
        format!("Created:     {}", age(now, &meta["creationTimestamp"])),
    ];
    if let Some(owner) = meta["ownerReferences"].as_array().and_then(|o| o.first()) {
        out.push(format!(
            "Controlled by: {}/{}",
            s(&owner["kind"]),
            s(&owner["name"])
        ));
    }
    let spec = &obj["spec"];
    let status = &obj["status"];
    if kind == "Pod" {
        out.push(format!("Node:        {}", s(&spec["nodeName"])));
        out.push(format!(
            "Status:      {}{}",
            s(&status["phase"]),
            match s(&status["reason"]) {
                "" => String::new(),
                r => format!(" ({r})"),
            }
        ));
        if let Some(ip) = status["podIP"].as_str() {
            out.push(format!("IP:          {ip}"));
        }
        let statuses: Vec<&Value> = status["initContainerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(status["containerStatuses"].as_array().into_iter().flatten())
            .collect();
        let init: Vec<&str> = spec["initContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| s(&c["name"]))
            .collect();
        out.push(String::new());
        out.push("Containers:".into());
        for c in spec["initContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(spec["containers"].as_array().into_iter().flatten())
        {
            let cname = s(&c["name"]);
            let cs = statuses.iter().find(|x| s(&x["name"]) == cname);
            out.push(format!(
                "  {cname}{}:",
                if init.contains(&cname) { " (init)" } else { "" }
            ));
            out.push(format!("    Image:         {}", s(&c["image"])));
            if let Some(cs) = cs {
                out.push(format!(
                    "    State:         {}",
                    container_state(&cs["state"], now)
                ));
                if cs["lastState"].as_object().is_some_and(|o| !o.is_empty()) {
                    out.push(format!(
                        "    Last State:    {}",
                        container_state(&cs["lastState"], now)
                    ));
                }
                out.push(format!(
                    "    Ready:         {}",
                    cs["ready"].as_bool().unwrap_or(false)
                ));
                out.push(format!(
                    "    Restart Count: {}",
                    cs["restartCount"].as_i64().unwrap_or(0)
                ));
            }
            let req = &c["resources"]["requests"];
            if req.is_object() {
                out.push(format!(
                    "    Requests:      cpu {}, memory {}",
                    s(&req["cpu"]),
                    s(&req["memory"])
                ));
            }
        }
    } else {
        let replicas = |k: &str| status[k].as_i64().unwrap_or(0);
        if spec.get("replicas").is_some() {
            out.push(format!(
                "Replicas:    {} desired | {} updated | {} ready | {} available",
                spec["replicas"].as_i64().unwrap_or(0),
                replicas("updatedReplicas"),
                replicas("readyReplicas"),
                replicas("availableReplicas")
            ));
        }
        if let Some(t) = spec["strategy"]["type"].as_str() {
            out.push(format!("Strategy:    {t}"));
        } else if spec["strategy"].get("canary").is_some() {
            out.push("Strategy:    Canary".into());
        }
        if spec["paused"].as_bool() == Some(true) {
            out.push("Paused:      true".into());
        }
        for c in spec["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            out.push(format!("Container:   {} {}", s(&c["name"]), s(&c["image"])));
        }
    }
    if let Some(conds) = status["conditions"].as_array() {
        out.push(String::new());
        out.push("Conditions:".into());
        for c in conds {
            let reason = s(&c["reason"]);
            out.push(format!(
                "  {:<24} {:<6} {}{}",
                s(&c["type"]),
                s(&c["status"]),
                reason,
                match s(&c["message"]) {
                    "" => String::new(),
                    m => format!(": {m}"),
                }
            ));
        }
    }
    let about = format!("{kind}/{name}");
    let mine: Vec<&EventInfo> = events.iter().filter(|e| e.object == about).collect();
    out.push(String::new());
    if mine.is_empty() {
        out.push("Events:      <none>".into());
    } else {
        out.push("Events:".into());
        for e in mine {
            out.push(format!(
                "  {:<8} {:<18} {:>5}{}  {}",
                e.kind,
                e.reason,
                e.last
                    .map(|t| crate::util::age(now - t))
                    .unwrap_or_else(|| "-".into()),
                if e.count > 1 {
                    format!(" (x{})", e.count)
                } else {
                    String::new()
                },
                e.message
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_crash_looping_pod_says_why_and_how_often() {
        let pod = json!({
            "kind": "Pod",
            "metadata": {"name": "pay-1", "namespace": "shop", "creationTimestamp": "2026-11-18T10:00:00Z",
                         "ownerReferences": [{"kind": "ReplicaSet", "name": "pay-abc"}]},
            "spec": {"nodeName": "n1",
                     "initContainers": [{"name": "migrate", "image": "pay:v2"}],
                     "containers": [{"name": "pay", "image": "pay:v2", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]},
            "status": {"phase": "Running", "podIP": "10.0.0.7",
                "initContainerStatuses": [{"name": "migrate", "ready": true, "restartCount": 0,
                    "state": {"terminated": {"reason": "Completed", "exitCode": 0, "finishedAt": "2026-11-18T10:00:05Z"}}}],
                "containerStatuses": [{"name": "pay", "ready": false, "restartCount": 12,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2026-11-18T11:00:00Z"}}}],
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [pay]"}]}
        });
        let events = vec![EventInfo {
            kind: "Warning".into(),
            reason: "BackOff".into(),
            object: "Pod/pay-1".into(),
            message: "Back-off restarting failed container".into(),
            count: 40,
            last: crate::model::fleet::parse_time("2026-11-18T11:01:00Z"),
        }];
        let now = crate::model::fleet::parse_time("2026-11-18T11:02:00Z").unwrap();
        let text = describe(&pod, &events, now).join("\n");
        for want in [
            "Controlled by: ReplicaSet/pay-abc",
            "migrate (init):",
            "State:         Waiting: CrashLoopBackOff: back-off 5m0s",
            "Last State:    Terminated: Error (exit code 1)",
            "Restart Count: 12",
            "Requests:      cpu 250m, memory 256Mi",
            "Ready                    False  ContainersNotReady",
            "BackOff",
            "(x40)",
        ] {
            assert!(text.contains(want), "{want}:\n{text}");
        }
    }

    #[test]
    fn a_workload_says_its_replicas_strategy_and_images() {
        let d = json!({"kind": "Deployment", "metadata": {"name": "pay", "namespace": "shop"},
            "spec": {"replicas": 3, "paused": true, "strategy": {"type": "RollingUpdate"},
                     "template": {"spec": {"containers": [{"name": "pay", "image": "pay:v2"}]}}},
            "status": {"updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3}});
        let text = describe(&d, &[], 0).join("\n");
        assert!(
            text.contains("3 desired | 1 updated | 3 ready | 3 available"),
            "{text}"
        );
        assert!(text.contains("Strategy:    RollingUpdate"));
        assert!(text.contains("Paused:      true"));
        assert!(text.contains("Container:   pay pay:v2"));
        assert!(text.contains("Events:      <none>"));
    }
}
