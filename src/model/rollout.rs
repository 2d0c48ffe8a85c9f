//! Argo Rollouts as an operator reads them: a Rollout's strategy, current step, weight, pause
//! (and how long it has left), its stable and canary ReplicaSets with their images, and its
//! AnalysisRuns, read from the live Rollout, the app's resource tree and the live AnalysisRuns
//! (what `kubectl argo rollouts get rollout` shows). Plain data; no screen, no I/O.

use serde_json::Value;

use super::app::ApplicationTree;

/// One ReplicaSet of a Rollout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutRs {
    pub name: String,
    /// The pod-template hash.
    pub hash: String,
    pub images: Vec<String>,
    pub pods: usize,
}

/// An AnalysisRun of a Rollout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalysisView {
    pub name: String,
    /// Pending, Running, Successful, Failed, Error or Inconclusive.
    pub phase: String,
    pub message: String,
    /// Each metric: name, phase, successful of count.
    pub metrics: Vec<(String, String, i64, i64)>,
    pub started_at: Option<i64>,
}

/// Why and since when a Rollout is paused, and for how long when the step says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutPause {
    /// CanaryPauseStep, BlueGreenPause, InconclusiveAnalysis, ... or "paused by hand".
    pub reason: String,
    pub since: Option<i64>,
    /// The pause step's duration in seconds; `None`: until someone promotes.
    pub duration: Option<i64>,
}

impl RolloutPause {
    /// Seconds left at `now` (0 once due); `None` when it waits for a promotion.
    pub fn remaining(&self, now: i64) -> Option<i64> {
        let (since, d) = (self.since?, self.duration?);
        Some((since + d - now).max(0))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutView {
    pub name: String,
    pub namespace: String,
    /// Canary or BlueGreen.
    pub strategy: String,
    /// `status.phase` (Healthy, Progressing, Paused, Degraded) and its message.
    pub phase: String,
    pub message: String,
    /// The current step and the number of steps (a canary with steps).
    pub step: Option<(usize, usize)>,
    /// The weight the steps set so far (100 once promoted, 0 when aborted).
    pub set_weight: Option<u32>,
    /// The canary's actual traffic weight, when the status says.
    pub actual_weight: Option<u32>,
    pub pause: Option<RolloutPause>,
    pub aborted: bool,
    pub stable: Option<RolloutRs>,
    /// The canary ReplicaSet while one differs from stable.
    pub canary: Option<RolloutRs>,
    pub analysis: Vec<AnalysisView>,
}

impl RolloutView {
    /// Fully promoted: the current pods are the stable ones.
    pub fn promoted(&self) -> bool {
        self.canary.is_none() && !self.aborted
    }
}

fn time(v: &Value) -> Option<i64> {
    v.as_str().and_then(super::fleet::parse_time)
}

/// A Kubernetes-style duration of a pause step: `30s`, `5m`, `1h`, or a number of seconds.
pub fn pause_duration(v: &Value) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    crate::util::parse_duration(s)
        .ok()
        .map(|d| d.as_secs() as i64)
}

/// Reads a Rollout from its live object, the app's tree (its ReplicaSets and pods) and its
/// live AnalysisRuns.
pub fn read(rollout: &Value, tree: &ApplicationTree, runs: &[Value]) -> RolloutView {
    let spec = &rollout["spec"];
    let st = &rollout["status"];
    let name = rollout["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = rollout["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let canary_spec = &spec["strategy"]["canary"];
    let strategy = if spec["strategy"].get("blueGreen").is_some() {
        "BlueGreen"
    } else if spec["strategy"].get("canary").is_some() {
        "Canary"
    } else {
        ""
    }
    .to_string();
    let steps = canary_spec["steps"].as_array();
    let index = st["currentStepIndex"].as_u64().map(|i| i as usize);
    let aborted = st["abort"].as_bool().unwrap_or(false);
    let step = match (steps, index) {
        (Some(s), Some(i)) if !s.is_empty() => Some((i.min(s.len()), s.len())),
        _ => None,
    };
    let current = st["currentPodHash"].as_str().unwrap_or_default();
    let stable_hash = st["stableRS"].as_str().unwrap_or_default();
    let set_weight = if strategy != "Canary" {
        None
    } else if aborted {
        Some(0)
    } else if current == stable_hash && !current.is_empty() {
        Some(100)
    } else {
        step.map(|(i, n)| {
            if i >= n {
                return 100;
            }
            steps
                .into_iter()
                .flatten()
                .take(i + 1)
                .filter_map(|s| s["setWeight"].as_u64())
                .last()
                .unwrap_or(0) as u32
        })
    };
    let actual_weight = st["canary"]["weights"]["canary"]["weight"]
        .as_u64()
        .map(|w| w as u32);
    let pause = st["pauseConditions"]
        .as_array()
        .and_then(|p| p.first())
        .map(|p| RolloutPause {
            reason: p["reason"].as_str().unwrap_or_default().to_string(),
            since: time(&p["startTime"]),
            duration: match (steps, index) {
                (Some(s), Some(i)) => s
                    .get(i)
                    .and_then(|x| pause_duration(&x["pause"]["duration"])),
                _ => None,
            },
        })
        .or_else(|| {
            spec["paused"]
                .as_bool()
                .unwrap_or(false)
                .then(|| RolloutPause {
                    reason: "paused by hand".into(),
                    since: None,
                    duration: None,
                })
        });
    let rs = |hash: &str| -> Option<RolloutRs> {
        if hash.is_empty() {
            return None;
        }
        let rs_name = format!("{name}-{hash}");
        let node = tree
            .nodes
            .iter()
            .find(|n| n.reference.kind == "ReplicaSet" && n.reference.name == rs_name);
        let pods: Vec<_> = tree
            .nodes
            .iter()
            .filter(|n| {
                n.reference.kind == "Pod"
                    && n.parent_refs
                        .iter()
                        .any(|p| p.kind == "ReplicaSet" && p.name == rs_name)
            })
            .collect();
        let mut images: Vec<String> = pods.iter().flat_map(|p| p.images.clone()).collect();
        if images.is_empty()
            && let Some(n) = node
        {
            images = n.images.clone();
        }
        images.sort();
        images.dedup();
        Some(RolloutRs {
            name: rs_name,
            hash: hash.to_string(),
            images,
            pods: pods.len(),
        })
    };
    let stable = rs(stable_hash);
    let mut canary = (current != stable_hash).then(|| rs(current)).flatten();
    if let Some(c) = canary.as_mut()
        && c.images.is_empty()
    {
        // No pods of the canary yet: the template's images are what it will run.
        c.images = spec["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["image"].as_str().map(str::to_string))
            .collect();
    }
    let mut analysis: Vec<AnalysisView> = runs
        .iter()
        .map(|r| AnalysisView {
            name: r["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            phase: r["status"]["phase"]
                .as_str()
                .unwrap_or("Pending")
                .to_string(),
            message: r["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            metrics: r["status"]["metricResults"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    (
                        m["name"].as_str().unwrap_or_default().to_string(),
                        m["phase"].as_str().unwrap_or_default().to_string(),
                        m["successful"].as_i64().unwrap_or(0),
                        m["count"].as_i64().unwrap_or(0),
                    )
                })
                .collect(),
            started_at: time(&r["status"]["startedAt"])
                .or_else(|| time(&r["metadata"]["creationTimestamp"])),
        })
        .collect();
    analysis.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(a.name.cmp(&b.name)));
    RolloutView {
        name,
        namespace,
        strategy,
        phase: st["phase"].as_str().unwrap_or_default().to_string(),
        message: st["message"].as_str().unwrap_or_default().to_string(),
        step,
        set_weight,
        actual_weight,
        pause,
        aborted,
        stable,
        canary,
        analysis,
    }
}

/// The AnalysisRuns of a Rollout in the tree (its children).
pub fn analysis_nodes<'a>(
    tree: &'a ApplicationTree,
    rollout: &str,
    namespace: &str,
) -> impl Iterator<Item = &'a super::app::ResourceNode> {
    tree.nodes.iter().filter(move |n| {
        n.reference.kind == "AnalysisRun"
            && n.reference.namespace == namespace
            && n.parent_refs
                .iter()
                .any(|p| p.kind == "Rollout" && p.name == rollout)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::app::{ResourceNode, ResourceRef};
    use serde_json::json;

    fn node(kind: &str, name: &str, parent: Option<(&str, &str)>, image: &str) -> ResourceNode {
        ResourceNode {
            reference: ResourceRef {
                kind: kind.into(),
                name: name.into(),
                namespace: "shop".into(),
                ..Default::default()
            },
            parent_refs: parent
                .map(|(k, n)| {
                    vec![ResourceRef {
                        kind: k.into(),
                        name: n.into(),
                        namespace: "shop".into(),
                        ..Default::default()
                    }]
                })
                .unwrap_or_default(),
            images: if image.is_empty() {
                vec![]
            } else {
                vec![image.into()]
            },
            ..Default::default()
        }
    }

    fn rollout(index: u64, current: &str, stable: &str, pause: Option<&str>) -> Value {
        let mut st = json!({
            "phase": "Paused",
            "message": "CanaryPauseStep",
            "currentStepIndex": index,
            "currentPodHash": current,
            "stableRS": stable,
            "canary": {"weights": {"canary": {"weight": 20}}},
        });
        if let Some(t) = pause {
            st["pauseConditions"] = json!([{"reason": "CanaryPauseStep", "startTime": t}]);
        }
        json!({
            "metadata": {"name": "pay", "namespace": "shop"},
            "spec": {
                "strategy": {"canary": {"steps": [
                    {"setWeight": 20}, {"pause": {"duration": "60s"}}, {"setWeight": 50},
                    {"pause": {}}, {"setWeight": 100}
                ]}},
                "template": {"spec": {"containers": [{"name": "pay", "image": "pay:v2"}]}}
            },
            "status": st,
        })
    }

    fn tree() -> ApplicationTree {
        ApplicationTree {
            nodes: vec![
                node("Rollout", "pay", None, ""),
                node("ReplicaSet", "pay-new", Some(("Rollout", "pay")), ""),
                node("ReplicaSet", "pay-old", Some(("Rollout", "pay")), ""),
                node(
                    "Pod",
                    "pay-new-a",
                    Some(("ReplicaSet", "pay-new")),
                    "pay:v2",
                ),
                node(
                    "Pod",
                    "pay-old-a",
                    Some(("ReplicaSet", "pay-old")),
                    "pay:v1",
                ),
                node(
                    "Pod",
                    "pay-old-b",
                    Some(("ReplicaSet", "pay-old")),
                    "pay:v1",
                ),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn a_timed_pause_has_its_step_weight_and_time_left() {
        let t0 = "2026-11-18T11:00:00Z";
        let v = read(&rollout(1, "new", "old", Some(t0)), &tree(), &[]);
        assert_eq!(v.strategy, "Canary");
        assert_eq!(v.step, Some((1, 5)));
        assert_eq!(v.set_weight, Some(20));
        assert_eq!(v.actual_weight, Some(20));
        let p = v.pause.clone().unwrap();
        assert_eq!(p.duration, Some(60));
        let start = crate::model::fleet::parse_time(t0).unwrap();
        assert_eq!(p.remaining(start + 45), Some(15));
        assert_eq!(p.remaining(start + 90), Some(0));
        let (stable, canary) = (v.stable.unwrap(), v.canary.unwrap());
        assert_eq!((stable.name.as_str(), stable.pods), ("pay-old", 2));
        assert_eq!(stable.images, ["pay:v1"]);
        assert_eq!((canary.name.as_str(), canary.pods), ("pay-new", 1));
        assert_eq!(canary.images, ["pay:v2"]);
    }

    #[test]
    fn an_indefinite_pause_waits_for_a_promotion_and_a_promoted_rollout_has_no_canary() {
        let v = read(
            &rollout(3, "new", "old", Some("2026-11-18T11:00:00Z")),
            &tree(),
            &[],
        );
        assert_eq!(v.step, Some((3, 5)));
        assert_eq!(v.set_weight, Some(50));
        assert_eq!(v.pause.unwrap().remaining(0), None);
        let v = read(&rollout(5, "new", "new", None), &tree(), &[]);
        assert!(v.promoted());
        assert_eq!(v.set_weight, Some(100));
        assert!(v.pause.is_none());
        let mut aborted = rollout(2, "new", "old", None);
        aborted["status"]["abort"] = json!(true);
        let v = read(&aborted, &tree(), &[]);
        assert!(v.aborted && !v.promoted());
        assert_eq!(v.set_weight, Some(0));
    }

    #[test]
    fn analysis_runs_newest_first_with_their_metrics() {
        let run = |name: &str, phase: &str, at: &str| {
            json!({"metadata": {"name": name}, "status": {"phase": phase, "startedAt": at,
                "metricResults": [{"name": "success-rate", "phase": phase, "count": 4, "successful": 3}]}})
        };
        let v = read(
            &rollout(1, "new", "old", None),
            &tree(),
            &[
                run("pay-old-1", "Successful", "2026-11-17T10:00:00Z"),
                run("pay-new-2", "Failed", "2026-11-18T10:00:00Z"),
            ],
        );
        assert_eq!(v.analysis[0].name, "pay-new-2");
        assert_eq!(v.analysis[0].phase, "Failed");
        assert_eq!(
            v.analysis[0].metrics,
            [("success-rate".into(), "Failed".into(), 3, 4)]
        );
    }

    #[test]
    fn pause_durations_in_every_form() {
        assert_eq!(pause_duration(&json!("90s")), Some(90));
        assert_eq!(pause_duration(&json!("5m")), Some(300));
        assert_eq!(pause_duration(&json!(30)), Some(30));
        assert_eq!(pause_duration(&json!("30")), Some(30));
        assert_eq!(pause_duration(&Value::Null), None);
    }
}
