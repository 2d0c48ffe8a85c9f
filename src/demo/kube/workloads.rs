//! What the controllers of a cluster make from the workloads: ReplicaSets (one per revision
//! of a Deployment, as `kubectl rollout history` reads them), Pods (owned by them, with image
//! digests, init containers and sidecars where the workload has them, creation times that do
//! not move), and the events the kubelet and the controllers write, in both the classic form
//! and the newer `series` form.

use serde_json::{Value, json};

use super::gv;
use crate::demo::generator::{DemoApp, Drift, WorkloadKind, ts, uid};
use crate::demo::resources::{self, ResId};

/// The last restart of a crash-looping container: the kubelet's back-off restarts it every
/// five minutes, so its last state (and the series of BackOff events) moves that often.
fn restart_tick(now: i64) -> i64 {
    now - now.rem_euclid(300)
}

/// A stable pseudo-digest of an image reference.
fn digest(image: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(image.as_bytes());
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `imageID` a container runtime reports for an image.
fn image_id(image: &str) -> String {
    let repo = image.rsplit_once(':').map_or(image, |(r, _)| r);
    format!("{repo}@sha256:{}", digest(image))
}

/// Whether a workload's pods run an init container (a schema migration before start).
pub fn has_init(a: &DemoApp) -> bool {
    a.w.kind == WorkloadKind::Deployment && a.w.salt.is_multiple_of(3)
}

/// Whether a workload's pods run a log-shipping sidecar beside the app (StatefulSets do).
pub fn has_sidecar(a: &DemoApp) -> bool {
    a.w.kind == WorkloadKind::StatefulSet
}

const SIDECAR_IMAGE: &str = "registry.acme.dev/platform/log-shipper:v2.4.1";
const INIT_IMAGE: &str = "registry.acme.dev/platform/db-migrate:v1.9.0";

/// The pods of an app as its cluster has them: the same pods, states and restarts Argo CD's
/// resource tree shows.
pub fn pods(a: &DemoApp, now: i64) -> Vec<Value> {
    let w = &a.w;
    let tree = resources::tree(a, now);
    let ctr = resources::container_name(w);
    tree.nodes
        .iter()
        .filter(|n| n.reference.kind == "Pod")
        .map(|n| {
            let info = |k: &str| {
                n.info
                    .iter()
                    .find(|i| i.name == k)
                    .map(|i| i.value.clone())
                    .unwrap_or_default()
            };
            let reason = info("Status Reason");
            let restarts: i64 = info("Restart Count").parse().unwrap_or(0);
            let ready = info("Containers")
                .split_once('/')
                .is_some_and(|(r, t)| r == t && r != "0");
            let message = n
                .health
                .as_ref()
                .map(|h| h.message.clone())
                .unwrap_or_default();
            let created = n.created_at.clone().unwrap_or_default();
            let started = crate::model::fleet::parse_time(&created).unwrap_or(now);
            let state = if reason == "Running" {
                json!({"running": {"startedAt": ts(started + 4)}})
            } else {
                json!({"waiting": {"reason": reason, "message": message}})
            };
            let crash = reason == "CrashLoopBackOff";
            let last = if restarts > 0 {
                json!({"terminated": {
                    "exitCode": if crash { 1 } else { 0 },
                    "reason": if crash { "Error" } else { "Completed" },
                    "startedAt": ts((restart_tick(now) - 100).max(started)),
                    "finishedAt": ts((restart_tick(now) - 40).max(started)),
                    "containerID": format!("containerd://{}", &digest(&format!("{}/{restarts}", n.reference.name))[..64]),
                }})
            } else {
                json!({})
            };
            let owners: Vec<Value> = n
                .parent_refs
                .iter()
                .map(|o| {
                    json!({
                        "apiVersion": gv(&o.group, &o.version),
                        "kind": o.kind,
                        "name": o.name,
                        "uid": o.uid,
                        "controller": true,
                        "blockOwnerDeletion": true,
                    })
                })
                .collect();
            let image = n.images.first().cloned().unwrap_or_default();
            let pulled = !matches!(reason.as_str(), "ImagePullBackOff" | "ErrImagePull");
            let mut labels = json!({"app.kubernetes.io/name": w.name});
            if let Some(rs) = n.parent_refs.iter().find(|p| p.kind == "ReplicaSet")
                && let Some(h) = rs.name.strip_prefix(&format!("{}-", w.name))
            {
                labels["pod-template-hash"] = json!(h);
            }
            if w.kind == WorkloadKind::StatefulSet {
                labels["statefulset.kubernetes.io/pod-name"] = json!(n.reference.name);
            }
            let node = info("Node");
            let ip = {
                let d = digest(&n.reference.name);
                format!(
                    "10.244.{}.{}",
                    u8::from_str_radix(&d[0..2], 16).unwrap_or(1),
                    u8::from_str_radix(&d[2..4], 16).unwrap_or(2).max(2)
                )
            };
            let mut containers = vec![json!({"name": ctr, "image": image, "imagePullPolicy": "IfNotPresent"})];
            let mut statuses = vec![json!({
                "name": ctr,
                "image": image,
                "imageID": if pulled { json!(image_id(&image)) } else { json!("") },
                "ready": ready,
                "started": reason == "Running",
                "restartCount": restarts,
                "state": state,
                "lastState": last,
            })];
            if has_sidecar(a) {
                containers.push(json!({"name": "log-shipper", "image": SIDECAR_IMAGE, "imagePullPolicy": "IfNotPresent"}));
                statuses.push(json!({
                    "name": "log-shipper",
                    "image": SIDECAR_IMAGE,
                    "imageID": image_id(SIDECAR_IMAGE),
                    "ready": true,
                    "started": true,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": ts(started + 3)}},
                    "lastState": {},
                }));
            }
            let mut pod = json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": n.reference.name,
                    "namespace": w.namespace,
                    "uid": n.reference.uid,
                    "creationTimestamp": created,
                    "labels": labels,
                    "ownerReferences": owners,
                },
                "spec": {
                    "nodeName": node,
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "serviceAccountName": w.name,
                    "containers": containers,
                },
                "status": {
                    "phase": if reason == "Running" || crash { "Running" } else { "Pending" },
                    "hostIP": format!("10.0.{}.{}", node.len(), 10 + node.len()),
                    "podIP": ip,
                    "podIPs": [{"ip": ip}],
                    "startTime": created,
                    "qosClass": "Burstable",
                    "conditions": [
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": created},
                        {"type": "Initialized", "status": "True", "lastTransitionTime": ts(started + 2)},
                        {"type": "ContainersReady", "status": if ready { "True" } else { "False" }, "lastTransitionTime": ts(started + 5)},
                        {"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": ts(started + 5)},
                    ],
                    "containerStatuses": statuses,
                },
            });
            if has_init(a) {
                pod["spec"]["initContainers"] = json!([{"name": "migrate", "image": INIT_IMAGE, "imagePullPolicy": "IfNotPresent"}]);
                pod["status"]["initContainerStatuses"] = json!([{
                    "name": "migrate",
                    "image": INIT_IMAGE,
                    "imageID": image_id(INIT_IMAGE),
                    "ready": true,
                    "restartCount": 0,
                    "started": false,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": ts(started), "finishedAt": ts(started + 2)}},
                    "lastState": {},
                }]);
            }
            pod
        })
        .collect()
}

/// The ReplicaSets of a Deployment app: one per image it ran, the current one scaled to the
/// Deployment's replicas and the older ones to 0, each with its revision (and the earlier
/// revisions it was, after a rollback).
pub fn replica_sets(a: &DemoApp, now: i64) -> Vec<Value> {
    let w = &a.w;
    if w.kind != WorkloadKind::Deployment {
        return vec![];
    }
    // A Deployment's, or a Rollout's when Argo Rollouts deploys it.
    let dep_id = if w.canary.is_some() {
        ResId {
            group: "argoproj.io",
            version: "v1alpha1",
            kind: "Rollout",
            name: w.name.clone(),
        }
    } else {
        ResId {
            group: "apps",
            version: "v1",
            kind: "Deployment",
            name: w.name.clone(),
        }
    };
    let Some(dep) = resources::live(a, &dep_id, now) else {
        return vec![];
    };
    let tree = resources::tree(a, now);
    let current = tree
        .nodes
        .iter()
        .find(|n| n.reference.kind == "ReplicaSet")
        .map(|n| n.reference.name.clone())
        .unwrap_or_default();
    let live = resources::live_tag(w);
    // Revisions per image: history in order, then the live image if it is newer.
    let mut revs: Vec<(String, Vec<usize>, i64)> = Vec::new();
    let history = &a.app.status.history;
    let mut tags: Vec<(String, i64)> = w
        .tag_history
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let at = history
                .get(i)
                .and_then(|h| crate::model::fleet::parse_time(&h.deployed_at))
                .unwrap_or(w.created);
            (t.clone(), at)
        })
        .collect();
    if tags.last().is_none_or(|(t, _)| *t != live) {
        // An image set by hand: its ReplicaSet is as old as the change.
        let at = w
            .drifts
            .iter()
            .rev()
            .find_map(|d| match d {
                Drift::Image { at, .. } => Some(*at),
                _ => None,
            })
            .or_else(|| tags.last().map(|(_, at)| *at))
            .unwrap_or(w.created);
        tags.push((live.clone(), at.min(now)));
    }
    for (i, (t, at)) in tags.iter().enumerate() {
        match revs.iter_mut().find(|(x, _, _)| x == t) {
            Some((_, r, when)) => {
                r.push(i + 1);
                *when = (*when).min(*at);
            }
            None => revs.push((t.clone(), vec![i + 1], *at)),
        }
    }
    let replicas = dep["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = dep["status"]["readyReplicas"].as_i64().unwrap_or(0);
    revs.iter()
        .map(|(tag, numbers, at)| {
            let is_live = *tag == live;
            let name = if is_live && !current.is_empty() {
                current.clone()
            } else {
                format!("{}-{}", w.name, resources::revision_hash(w, tag))
            };
            let hash = name.trim_start_matches(&format!("{}-", w.name)).to_string();
            let mut template = dep["spec"]["template"].clone();
            template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            if let Some(c) = template["spec"]["containers"][0].as_object_mut()
                && let Some(img) = c.get("image").and_then(Value::as_str).map(str::to_string)
            {
                let repo = img.rsplit_once(':').map_or(img.as_str(), |(r, _)| r).to_string();
                c.insert("image".into(), json!(format!("{repo}:{tag}")));
            }
            let mut selector = dep["spec"]["selector"].clone();
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let mut labels = template["metadata"]["labels"].clone();
            labels["pod-template-hash"] = json!(hash);
            // A canary in progress splits the pods between the canary and the stable set.
            let canary_pods = dep["status"]["updatedReplicas"].as_i64().unwrap_or(replicas);
            let stable_hash = dep["status"]["stableRS"].as_str().unwrap_or("");
            let (n, r) = if is_live && w.canary.is_some() {
                (canary_pods, canary_pods)
            } else if is_live {
                (replicas, ready)
            } else if w.canary.is_some() && hash == stable_hash {
                (replicas - canary_pods, replicas - canary_pods)
            } else {
                (0, 0)
            };
            let revision = numbers.last().copied().unwrap_or(1);
            let mut annotations = if w.canary.is_some() {
                json!({"rollout.argoproj.io/revision": revision.to_string()})
            } else {
                json!({
                    "deployment.kubernetes.io/revision": revision.to_string(),
                    "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                    "deployment.kubernetes.io/max-replicas": (replicas + (replicas + 3) / 4).to_string(),
                })
            };
            if numbers.len() > 1 {
                annotations["deployment.kubernetes.io/revision-history"] = json!(
                    numbers[..numbers.len() - 1]
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                );
            }
            json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": name,
                    "namespace": w.namespace,
                    "uid": uid(w.salt, &format!("ReplicaSet/{name}")),
                    "creationTimestamp": ts(*at),
                    "generation": 1 + numbers.len() as i64,
                    "labels": labels,
                    "annotations": annotations,
                    "ownerReferences": [{
                        "apiVersion": dep["apiVersion"],
                        "kind": dep["kind"],
                        "name": w.name,
                        "uid": dep["metadata"]["uid"],
                        "controller": true,
                        "blockOwnerDeletion": true,
                    }],
                },
                "spec": {"replicas": n, "selector": selector, "template": template},
                "status": {
                    "replicas": n,
                    "fullyLabeledReplicas": n,
                    "readyReplicas": r,
                    "availableReplicas": r,
                    "observedGeneration": 1 + numbers.len() as i64,
                },
            })
        })
        .collect()
}

fn micro(t: i64) -> String {
    ts(t).replace('Z', ".000000Z")
}

/// The events of an app's objects as the cluster has them: the controllers' events on the
/// workload (classic form, with the involved object's uid and apiVersion), and the kubelet's
/// on each pod; a pod that keeps failing has its repeated event in the `series` form.
pub fn events(a: &DemoApp, now: i64) -> Vec<Value> {
    let w = &a.w;
    let mut out = Vec::new();
    if w.kind == WorkloadKind::AppOfApps {
        return out;
    }
    let (kind, version) = match w.kind {
        WorkloadKind::Deployment if w.canary.is_some() => ("Rollout", "argoproj.io/v1alpha1"),
        WorkloadKind::Deployment => ("Deployment", "apps/v1"),
        WorkloadKind::StatefulSet => ("StatefulSet", "apps/v1"),
        WorkloadKind::CronJob | WorkloadKind::AppOfApps => ("CronJob", "batch/v1"),
    };
    for e in resources::resource_events(a, &w.name, &w.namespace).items {
        let mut v = serde_json::to_value(&e).unwrap_or_default();
        let k = v["involvedObject"]["kind"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let api = if k == "HorizontalPodAutoscaler" {
            "autoscaling/v2"
        } else {
            version
        };
        let k = if k.is_empty() { kind.to_string() } else { k };
        v["involvedObject"]["uid"] = json!(uid(w.salt, &format!("{k}/{}", w.name)));
        v["involvedObject"]["apiVersion"] = json!(api);
        out.push(v);
    }
    for p in pods(a, now) {
        let name = p["metadata"]["name"].as_str().unwrap_or("").to_string();
        let created = p["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(crate::model::fleet::parse_time)
            .unwrap_or(now);
        let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        let involved = json!({
            "kind": "Pod",
            "namespace": w.namespace,
            "name": name,
            "uid": p["metadata"]["uid"],
            "apiVersion": "v1",
            "fieldPath": format!("spec.containers{{{}}}", p["spec"]["containers"][0]["name"].as_str().unwrap_or("")),
        });
        let classic = |reason: &str, message: String, at: i64, component: &str, n: u64| {
            json!({
                "metadata": {
                    "name": format!("{name}.{:x}", 0x18b0_0000_0000u64 + at as u64 * 17 + n),
                    "namespace": w.namespace,
                    "uid": uid(w.salt ^ n ^ at as u64, &format!("event/{name}")),
                    "creationTimestamp": ts(at),
                },
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "source": {"component": component, "host": if component == "kubelet" { node.clone() } else { String::new() }},
                "firstTimestamp": ts(at),
                "lastTimestamp": ts(at),
                "count": 1,
                "type": "Normal",
                "reportingComponent": component,
                "reportingInstance": if component == "kubelet" { node.clone() } else { String::new() },
            })
        };
        let image = p["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let mut sched = classic(
            "Scheduled",
            format!("Successfully assigned {}/{name} to {node}", w.namespace),
            created,
            "default-scheduler",
            1,
        );
        sched["involvedObject"]
            .as_object_mut()
            .map(|m| m.shift_remove("fieldPath"));
        out.push(sched);
        let waiting = p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if waiting == "ImagePullBackOff" || waiting == "ErrImagePull" {
            out.push(series_event(
                &classic("Failed", String::new(), created, "kubelet", 2),
                "Failed",
                format!("Error: {waiting}"),
                "Warning",
                created + 20,
                now,
                (restart_tick(now) - created).max(60) / 30,
            ));
            continue;
        }
        out.push(classic(
            "Pulled",
            format!("Container image \"{image}\" already present on machine"),
            created + 1,
            "kubelet",
            3,
        ));
        out.push(classic(
            "Created",
            "Created container".into(),
            created + 2,
            "kubelet",
            4,
        ));
        out.push(classic(
            "Started",
            "Started container".into(),
            created + 3,
            "kubelet",
            5,
        ));
        if waiting == "CrashLoopBackOff" {
            let restarts = p["status"]["containerStatuses"][0]["restartCount"]
                .as_i64()
                .unwrap_or(1);
            out.push(series_event(
                &classic("BackOff", String::new(), created, "kubelet", 6),
                "BackOff",
                "Back-off restarting failed container".into(),
                "Warning",
                created + 60,
                now,
                restarts * 3,
            ));
        }
    }
    out
}

/// An event in the newer form the events.k8s.io API writes through to core/v1: an
/// `eventTime`, a `series` with its count and last observation, no first/last timestamps.
fn series_event(
    base: &Value,
    reason: &str,
    message: String,
    kind: &str,
    first: i64,
    now: i64,
    count: i64,
) -> Value {
    let mut v = base.clone();
    v["reason"] = json!(reason);
    v["message"] = json!(message);
    v["type"] = json!(kind);
    v["eventTime"] = json!(micro(first));
    v["series"] = json!({"count": count.max(2), "lastObservedTime": micro((restart_tick(now) - 30).max(first))});
    v["action"] = json!(if reason == "BackOff" {
        "Restarting"
    } else {
        "Pulling"
    });
    if let Some(m) = v.as_object_mut() {
        m.shift_remove("firstTimestamp");
        m.shift_remove("lastTimestamp");
        m.shift_remove("count");
    }
    v
}

/// The Jobs a CronJob app's schedule made (the resource tree's Job nodes), complete.
pub fn jobs(a: &DemoApp, now: i64) -> Vec<Value> {
    let w = &a.w;
    if w.kind != WorkloadKind::CronJob {
        return vec![];
    }
    let cj_id = ResId {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        name: w.name.clone(),
    };
    let Some(cj) = resources::live(a, &cj_id, now) else {
        return vec![];
    };
    resources::tree(a, now)
        .nodes
        .iter()
        .filter(|n| n.reference.kind == "Job")
        .map(|n| {
            let created = n.created_at.clone().unwrap_or_default();
            let start = crate::model::fleet::parse_time(&created).unwrap_or(now);
            let mut spec = cj["spec"]["jobTemplate"]["spec"].clone();
            spec["completions"] = json!(1);
            spec["parallelism"] = json!(1);
            spec["backoffLimit"] = json!(6);
            json!({
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": n.reference.name,
                    "namespace": w.namespace,
                    "uid": n.reference.uid,
                    "creationTimestamp": created,
                    "labels": {"app.kubernetes.io/name": w.name},
                    "ownerReferences": [{
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": w.name,
                        "uid": cj["metadata"]["uid"],
                        "controller": true,
                        "blockOwnerDeletion": true,
                    }],
                },
                "spec": spec,
                "status": {
                    "startTime": created,
                    "completionTime": ts((start + 42).min(now)),
                    "succeeded": 1,
                    "ready": 0,
                    "terminating": 0,
                    "uncountedTerminatedPods": {},
                    "conditions": [
                        {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": ts((start + 42).min(now)), "lastTransitionTime": ts((start + 42).min(now))},
                        {"type": "Complete", "status": "True", "lastProbeTime": ts((start + 42).min(now)), "lastTransitionTime": ts((start + 42).min(now))},
                    ],
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::generator::{FleetSpec, generate};

    /// What the cluster serves does not move with the clock between changes: a condition's
    /// time, a crash-looping container's last state, a CronJob's last run. Otherwise every
    /// read would be a new resource version and every watch a stream of MODIFIED.
    #[test]
    fn objects_do_not_change_as_the_clock_ticks() {
        let now = 1_795_000_000 - 1_795_000_000 % 3600 + 60;
        let apps: Vec<DemoApp> = generate(
            &FleetSpec {
                apps: 300,
                clusters: 3,
                instances: 1,
                seed: 5,
            },
            now,
        )
        .into_iter()
        .flat_map(|i| i.apps)
        .collect();
        let later = now + 7;
        let mut compared = 0;
        for a in &apps {
            for r in resources::resources(&a.w) {
                assert_eq!(
                    resources::live(a, &r, now),
                    resources::live(a, &r, later),
                    "{} {}",
                    r.kind,
                    r.name
                );
                compared += 1;
            }
            assert_eq!(pods(a, now), pods(a, later), "pods of {}", a.w.name);
            assert_eq!(replica_sets(a, now), replica_sets(a, later));
            assert_eq!(jobs(a, now), jobs(a, later));
            assert_eq!(
                resources::analysis_runs(&a.w, now),
                resources::analysis_runs(&a.w, later)
            );
            assert_eq!(events(a, now), events(a, later), "events of {}", a.w.name);
        }
        assert!(compared > 1000);
    }
}
