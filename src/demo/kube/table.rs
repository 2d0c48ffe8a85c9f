//! Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` answers a
//! `meta.k8s.io/v1` Table with the columns the real server prints for each kind (the wide
//! ones at priority 1), each row carrying the object's metadata (`includeObject=Metadata`).

use serde_json::{Value, json};

use super::Kind;

/// Whether a request asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        params.next().is_some_and(|t| t == "application/json") && params.any(|p| p == "as=Table")
    })
}

/// kubectl's human duration (`45s`, `3m20s`, `5h12m`, `3d4h`, `120d`, `2y30d`).
pub fn human(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else if d < 365 * 8 {
        let y = d / 365;
        if d % 365 == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{}d", d % 365)
        }
    } else {
        format!("{}y", d / 365)
    }
}

fn age(v: &Value, field: &str, now: i64) -> Value {
    let t = v["metadata"][field]
        .as_str()
        .or_else(|| v[field].as_str())
        .and_then(crate::model::fleet::parse_time);
    match t {
        Some(t) => json!(human(now - t)),
        None => json!("<unknown>"),
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn or_none(x: String) -> Value {
    if x.is_empty() {
        json!("<none>")
    } else {
        json!(x)
    }
}

fn containers(spec: &Value) -> (Value, Value) {
    let cs = spec["containers"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| s(&c["name"])).collect();
    let images: Vec<String> = cs.iter().map(|c| s(&c["image"])).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

fn selector(v: &Value) -> Value {
    let m = v["spec"]["selector"]["matchLabels"]
        .as_object()
        .or_else(|| v["spec"]["selector"].as_object())
        .cloned()
        .unwrap_or_default();
    or_none(
        m.iter()
            .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Column definitions: (name, type, priority, description).
type Col = (&'static str, &'static str, u8);

fn pod_status(v: &Value) -> (String, i64, String) {
    let st = v["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ready = st.iter().filter(|c| c["ready"] == true).count();
    let total = v["spec"]["containers"].as_array().map_or(0, Vec::len);
    let restarts: i64 = st.iter().map(|c| int(&c["restartCount"])).sum();
    let mut reason = s(&v["status"]["phase"]);
    for c in &st {
        if let Some(r) = c["state"]["waiting"]["reason"].as_str() {
            reason = r.to_string();
        } else if let Some(r) = c["state"]["terminated"]["reason"].as_str() {
            reason = r.to_string();
        }
    }
    (format!("{ready}/{total}"), restarts, reason)
}

/// The columns and cells of one object of `kind`.
fn columns(kind: &str) -> Vec<Col> {
    match kind {
        "Pod" => vec![
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        "Deployment" => vec![
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        "StatefulSet" => vec![
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
        ],
        "ReplicaSet" => vec![
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        "ConfigMap" => vec![
            ("Name", "string", 0),
            ("Data", "string", 0),
            ("Age", "string", 0),
        ],
        "Secret" => vec![
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Data", "string", 0),
            ("Age", "string", 0),
        ],
        "Service" => vec![
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        "Namespace" => vec![
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Age", "string", 0),
        ],
        "Event" => vec![
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ],
        "CronJob" => vec![
            ("Name", "string", 0),
            ("Schedule", "string", 0),
            ("Suspend", "boolean", 0),
            ("Active", "integer", 0),
            ("Last Schedule", "string", 0),
            ("Age", "string", 0),
        ],
        "HorizontalPodAutoscaler" => vec![
            ("Name", "string", 0),
            ("Reference", "string", 0),
            ("MinPods", "string", 0),
            ("MaxPods", "integer", 0),
            ("Replicas", "integer", 0),
            ("Age", "string", 0),
        ],
        "Ingress" => vec![
            ("Name", "string", 0),
            ("Class", "string", 0),
            ("Hosts", "string", 0),
            ("Address", "string", 0),
            ("Ports", "string", 0),
            ("Age", "string", 0),
        ],
        "PodDisruptionBudget" => vec![
            ("Name", "string", 0),
            ("Min Available", "string", 0),
            ("Max Unavailable", "string", 0),
            ("Allowed Disruptions", "integer", 0),
            ("Age", "string", 0),
        ],
        "Rollout" => vec![
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
        ],
        "Application" => vec![
            ("Name", "string", 0),
            ("Sync Status", "string", 0),
            ("Health Status", "string", 0),
            ("Revision", "string", 10),
            ("Project", "string", 10),
        ],
        "Lease" => vec![
            ("Name", "string", 0),
            ("Holder", "string", 0),
            ("Age", "date", 0),
        ],
        // The AnalysisRun CRD's additionalPrinterColumns.
        "AnalysisRun" => vec![
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Age", "date", 0),
        ],
        _ => vec![("Name", "string", 0), ("Created At", "date", 0)],
    }
}

fn cells(kind: &str, v: &Value, now: i64) -> Vec<Value> {
    let name = json!(s(&v["metadata"]["name"]));
    let created = || age(v, "creationTimestamp", now);
    match kind {
        "Pod" => {
            let (ready, restarts, reason) = pod_status(v);
            vec![
                name,
                json!(ready),
                json!(reason),
                json!(restarts.to_string()),
                created(),
                or_none(s(&v["status"]["podIP"])),
                or_none(s(&v["spec"]["nodeName"])),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            let (c, i) = containers(&v["spec"]["template"]["spec"]);
            let want = v["spec"]["replicas"].as_i64().unwrap_or(1);
            let ready = int(&v["status"]["readyReplicas"]);
            match kind {
                "Deployment" => vec![
                    name,
                    json!(format!("{ready}/{want}")),
                    json!(int(&v["status"]["updatedReplicas"])),
                    json!(int(&v["status"]["availableReplicas"])),
                    created(),
                    c,
                    i,
                    selector(v),
                ],
                "StatefulSet" => vec![name, json!(format!("{ready}/{want}")), created(), c, i],
                _ => vec![
                    name,
                    json!(want),
                    json!(int(&v["status"]["replicas"])),
                    json!(ready),
                    created(),
                    c,
                    i,
                    selector(v),
                ],
            }
        }
        "ConfigMap" => {
            let n = v["data"].as_object().map_or(0, |m| m.len())
                + v["binaryData"].as_object().map_or(0, |m| m.len());
            vec![name, json!(n.to_string()), created()]
        }
        "Secret" => {
            let n = v["data"].as_object().map_or(0, |m| m.len());
            vec![name, json!(s(&v["type"])), json!(n.to_string()), created()]
        }
        "Service" => {
            let ports: Vec<String> = v["spec"]["ports"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| format!("{}/{}", int(&p["port"]), s(&p["protocol"])))
                .collect();
            vec![
                name,
                json!(s(&v["spec"]["type"])),
                or_none(s(&v["spec"]["clusterIP"])),
                json!("<none>"),
                or_none(ports.join(",")),
                created(),
                selector(v),
            ]
        }
        "Namespace" => vec![name, json!(s(&v["status"]["phase"])), created()],
        "Event" => {
            let io = &v["involvedObject"];
            let last = if v["lastTimestamp"].is_string() {
                age(v, "lastTimestamp", now)
            } else {
                age(v, "eventTime", now)
            };
            vec![
                last,
                json!(s(&v["type"])),
                json!(s(&v["reason"])),
                json!(format!(
                    "{}/{}",
                    s(&io["kind"]).to_lowercase(),
                    s(&io["name"])
                )),
                json!(s(&io["fieldPath"])),
                json!(s(&v["source"]["component"])),
                json!(s(&v["message"]).trim().to_string()),
                age(v, "firstTimestamp", now),
                json!(v["count"].as_i64().unwrap_or(1).to_string()),
                name,
            ]
        }
        "CronJob" => vec![
            name,
            json!(s(&v["spec"]["schedule"])),
            json!(v["spec"]["suspend"].as_bool().unwrap_or(false)),
            json!(v["status"]["active"].as_array().map_or(0, Vec::len)),
            match v["status"]["lastScheduleTime"].as_str() {
                Some(_) => age(&v["status"], "lastScheduleTime", now),
                None => json!("<none>"),
            },
            created(),
        ],
        "HorizontalPodAutoscaler" => vec![
            name,
            json!(format!(
                "{}/{}",
                s(&v["spec"]["scaleTargetRef"]["kind"]),
                s(&v["spec"]["scaleTargetRef"]["name"])
            )),
            json!(v["spec"]["minReplicas"].as_i64().unwrap_or(1).to_string()),
            json!(int(&v["spec"]["maxReplicas"])),
            json!(int(&v["status"]["currentReplicas"])),
            created(),
        ],
        "Ingress" => {
            let hosts: Vec<String> = v["spec"]["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|r| s(&r["host"]))
                .filter(|h| !h.is_empty())
                .collect();
            vec![
                name,
                or_none(s(&v["spec"]["ingressClassName"])),
                json!(if hosts.is_empty() {
                    "*".to_string()
                } else {
                    hosts.join(",")
                }),
                json!(""),
                json!(if v["spec"]["tls"].is_array() {
                    "80, 443"
                } else {
                    "80"
                }),
                created(),
            ]
        }
        "PodDisruptionBudget" => vec![
            name,
            json!(match &v["spec"]["minAvailable"] {
                Value::Null => "N/A".to_string(),
                x => s(x),
            }),
            json!(match &v["spec"]["maxUnavailable"] {
                Value::Null => "N/A".to_string(),
                x => s(x),
            }),
            json!(int(&v["status"]["disruptionsAllowed"])),
            created(),
        ],
        "Rollout" => vec![
            name,
            json!(int(&v["spec"]["replicas"])),
            json!(int(&v["status"]["replicas"])),
            json!(int(&v["status"]["updatedReplicas"])),
            json!(int(&v["status"]["availableReplicas"])),
            created(),
        ],
        "Application" => vec![
            name,
            json!(s(&v["status"]["sync"]["status"])),
            json!(s(&v["status"]["health"]["status"])),
            json!(s(&v["status"]["sync"]["revision"])),
            json!(s(&v["spec"]["project"])),
        ],
        "Lease" => vec![name, json!(s(&v["spec"]["holderIdentity"])), created()],
        // A CRD's date column is served as an age, as the apiserver formats it.
        "AnalysisRun" => vec![name, json!(s(&v["status"]["phase"])), created()],
        _ => vec![name, v["metadata"]["creationTimestamp"].clone()],
    }
}

/// A Table of `items` (full objects), with `list_meta` as its metadata.
pub fn table(kind: &Kind, items: &[Value], list_meta: Value, now: i64) -> Value {
    let cols = columns(kind.kind);
    let rows: Vec<Value> = items
        .iter()
        .map(|v| {
            let mut meta = v["metadata"].clone();
            if let Some(m) = meta.as_object_mut() {
                m.shift_remove("managedFields");
            }
            json!({
                "cells": cells(kind.kind, v, now),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": cols.iter().map(|(name, ty, prio)| json!({
            "name": name,
            "type": ty,
            "format": if *name == "Name" { "name" } else if *ty == "date" { "date-time" } else { "" },
            "description": format!("{name} of the {}", kind.kind),
            "priority": prio,
        })).collect::<Vec<_>>(),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        assert_eq!(human(45), "45s");
        assert_eq!(human(200), "3m20s");
        assert_eq!(human(3600 * 5 + 600), "5h10m");
        assert_eq!(human(86_400 * 3 + 3600 * 4), "3d4h");
        assert_eq!(human(86_400 * 120), "120d");
        assert_eq!(human(86_400 * 760), "2y30d");
    }

    #[test]
    fn the_table_accept_header_is_recognised() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }
}
