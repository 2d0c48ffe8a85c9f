//! ApplicationSets as the API serves them (`v1alpha1ApplicationSet`), and what the appsets
//! view says of each: its generators by type and count, the apps it generated with their sync
//! and health roll-up, its conditions, and its progressive sync steps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::app::{HealthStatus, ObjectMeta};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationSetList {
    #[serde(deserialize_with = "crate::util::null_default")]
    pub items: Vec<ApplicationSet>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationSet {
    pub metadata: ObjectMeta,
    pub spec: ApplicationSetSpec,
    pub status: ApplicationSetStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationSetSpec {
    #[serde(deserialize_with = "crate::util::null_default")]
    pub generators: Vec<Value>,
    pub strategy: Option<Value>,
    pub template: Value,
    pub go_template: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationSetStatus {
    #[serde(deserialize_with = "crate::util::null_default")]
    pub conditions: Vec<AppSetCondition>,
    #[serde(deserialize_with = "crate::util::null_default")]
    pub application_status: Vec<AppSetApplicationStatus>,
    #[serde(deserialize_with = "crate::util::null_default")]
    pub resources: Vec<AppSetResource>,
    pub resources_count: Option<i64>,
    pub health: Option<HealthStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AppSetCondition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition_time: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSetApplicationStatus {
    pub application: String,
    pub status: String,
    pub message: String,
    pub step: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSetResource {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub status: String,
    pub health: Option<HealthStatus>,
}

/// The generator types Argo CD knows, as the view names them.
const GENERATORS: [&str; 10] = [
    "list",
    "clusters",
    "git",
    "matrix",
    "merge",
    "scmProvider",
    "pullRequest",
    "clusterDecisionResource",
    "plugin",
    "selector",
];

/// One generator's description: its type, and for the combining ones (matrix, merge) the
/// generators inside, e.g. `list(3)`, `clusters`, `git(dirs)`, `matrix(clusters×list(2))`.
pub fn describe_generator(g: &Value) -> String {
    let Some(kind) = GENERATORS.iter().find(|k| g.get(**k).is_some()) else {
        return "unknown".into();
    };
    let body = &g[*kind];
    match *kind {
        "list" => {
            let n = body["elements"].as_array().map_or(0, Vec::len);
            format!("list({n})")
        }
        "git" if body.get("files").is_some() => "git(files)".into(),
        "git" => "git(dirs)".into(),
        "matrix" | "merge" => {
            let inner: Vec<String> = body["generators"]
                .as_array()
                .into_iter()
                .flatten()
                .map(describe_generator)
                .collect();
            format!(
                "{kind}({})",
                inner.join(if *kind == "matrix" { "×" } else { "+" })
            )
        }
        k => k.to_string(),
    }
}

impl ApplicationSet {
    pub fn generators(&self) -> String {
        self.spec
            .generators
            .iter()
            .map(describe_generator)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The strategy: "RollingSync (2 steps)", or "" for all at once.
    pub fn strategy(&self) -> String {
        let Some(s) = &self.spec.strategy else {
            return String::new();
        };
        let kind = s["type"].as_str().unwrap_or_default();
        match s["rollingSync"]["steps"].as_array() {
            Some(steps) if kind == "RollingSync" => format!("RollingSync {} steps", steps.len()),
            _ => kind.to_string(),
        }
    }

    /// The apps it generated (its `status.resources`).
    pub fn apps(&self) -> impl Iterator<Item = &AppSetResource> {
        self.status
            .resources
            .iter()
            .filter(|r| r.kind == "Application")
    }

    /// Counts of its apps by sync status and by health status.
    pub fn rollup(&self) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
        let mut sync = BTreeMap::new();
        let mut health = BTreeMap::new();
        for r in self.apps() {
            *sync.entry(r.status.clone()).or_default() += 1;
            let h = r
                .health
                .as_ref()
                .map(|h| h.status.clone())
                .unwrap_or_else(|| "Unknown".into());
            *health.entry(h).or_default() += 1;
        }
        (sync, health)
    }

    /// Conditions that say something is wrong (an error, or parameters not generated).
    pub fn problems(&self) -> Vec<&AppSetCondition> {
        self.status
            .conditions
            .iter()
            .filter(|c| {
                (c.kind == "ErrorOccurred" && c.status == "True")
                    || (c.kind == "ParametersGenerated" && c.status == "False")
                    || (c.kind == "ResourcesUpToDate" && c.status == "False")
            })
            .collect()
    }

    /// Progressive sync: each step with its apps and their status, in step order.
    pub fn steps(&self) -> Vec<(String, Vec<&AppSetApplicationStatus>)> {
        let mut by: BTreeMap<u32, (String, Vec<&AppSetApplicationStatus>)> = BTreeMap::new();
        for a in &self.status.application_status {
            let n = a.step.parse::<u32>().unwrap_or(u32::MAX);
            by.entry(n)
                .or_insert_with(|| (a.step.clone(), vec![]))
                .1
                .push(a);
        }
        by.into_values().collect()
    }

    /// The rollout's state, from its RolloutProgressing condition.
    pub fn rollout_message(&self) -> Option<&str> {
        self.status
            .conditions
            .iter()
            .find(|c| c.kind == "RolloutProgressing")
            .map(|c| c.message.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generators_are_named_by_type_and_count() {
        assert_eq!(
            describe_generator(&json!({"list": {"elements": [{}, {}, {}]}})),
            "list(3)"
        );
        assert_eq!(describe_generator(&json!({"clusters": {}})), "clusters");
        assert_eq!(
            describe_generator(&json!({"git": {"directories": [{"path": "apps/*"}]}})),
            "git(dirs)"
        );
        assert_eq!(
            describe_generator(&json!({"matrix": {"generators": [
                {"clusters": {"selector": {}}}, {"list": {"elements": [{}, {}]}}
            ]}})),
            "matrix(clusters×list(2))"
        );
        assert_eq!(describe_generator(&json!({"nope": {}})), "unknown");
    }

    #[test]
    fn a_set_reads_its_apps_rollup_steps_and_problems() {
        let s: ApplicationSet = serde_json::from_value(json!({
            "metadata": {"name": "addons"},
            "spec": {"generators": [{"clusters": {}}],
                     "strategy": {"type": "RollingSync", "rollingSync": {"steps": [{}, {}]}}},
            "status": {
                "conditions": [
                    {"type": "ErrorOccurred", "status": "True", "reason": "ApplicationGenerationFromParamsError", "message": "boom"},
                    {"type": "RolloutProgressing", "status": "True", "message": "ApplicationSet is performing rollout of step 2"}
                ],
                "resources": [
                    {"kind": "Application", "name": "a", "status": "Synced", "health": {"status": "Healthy"}},
                    {"kind": "Application", "name": "b", "status": "OutOfSync", "health": {"status": "Healthy"}}
                ],
                "applicationStatus": [
                    {"application": "b", "status": "Waiting", "step": "2"},
                    {"application": "a", "status": "Healthy", "step": "1"}
                ]
            }
        }))
        .unwrap();
        assert_eq!(s.generators(), "clusters");
        assert_eq!(s.strategy(), "RollingSync 2 steps");
        let (sync, health) = s.rollup();
        assert_eq!(sync["OutOfSync"], 1);
        assert_eq!(health["Healthy"], 2);
        assert_eq!(s.problems().len(), 1);
        let steps = s.steps();
        assert_eq!(steps[0].0, "1");
        assert_eq!(steps[1].1[0].application, "b");
        assert!(s.rollout_message().unwrap().contains("step 2"));
    }
}
