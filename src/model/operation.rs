//! A sync operation as its phases run: PreSync hooks, the Sync phase wave by wave, PostSync
//! hooks, and SyncFail hooks when it failed, each resource or hook with its state (what
//! `argocd app get` prints under the operation). Plain data; no screen, no I/O.

use super::app::{OperationState, ResourceResult, ResourceStatus};

/// The phases in the order they run.
pub const PHASES: [&str; 4] = ["PreSync", "Sync", "PostSync", "SyncFail"];

/// One step of an operation: a group of resources applied together.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub phase: String,
    /// The sync wave (resources of the Sync phase; hooks carry theirs too, 0 by default).
    pub wave: i64,
    pub items: Vec<ResourceResult>,
}

impl Step {
    pub fn label(&self) -> String {
        if self.wave == 0 {
            self.phase.clone()
        } else {
            format!("{} wave {}", self.phase, self.wave)
        }
    }

    /// Running: a hook still running in it.
    pub fn running(&self) -> bool {
        self.items.iter().any(|i| i.hook_phase == "Running")
    }

    pub fn failed(&self) -> bool {
        self.items.iter().any(|i| {
            i.hook_phase == "Failed" || i.hook_phase == "Error" || i.status == "SyncFailed"
        })
    }
}

fn wave_of(r: &ResourceResult, resources: &[ResourceStatus]) -> i64 {
    resources
        .iter()
        .find(|s| {
            s.group == r.group && s.kind == r.kind && s.namespace == r.namespace && s.name == r.name
        })
        .map(|s| s.sync_wave)
        .unwrap_or(0)
}

/// The steps of the operation so far, in the order they run.
pub fn steps(op: &OperationState, resources: &[ResourceStatus]) -> Vec<Step> {
    let Some(result) = &op.sync_result else {
        return vec![];
    };
    let mut out: Vec<Step> = Vec::new();
    for r in &result.resources {
        let phase = if r.sync_phase.is_empty() {
            "Sync".to_string()
        } else {
            r.sync_phase.clone()
        };
        let wave = wave_of(r, resources);
        match out.iter_mut().find(|s| s.phase == phase && s.wave == wave) {
            Some(s) => s.items.push(r.clone()),
            None => out.push(Step {
                phase,
                wave,
                items: vec![r.clone()],
            }),
        }
    }
    let rank = |p: &str| PHASES.iter().position(|x| *x == p).unwrap_or(PHASES.len());
    out.sort_by(|a, b| {
        rank(&a.phase)
            .cmp(&rank(&b.phase))
            .then(a.wave.cmp(&b.wave))
    });
    out
}

/// Where a running operation is, in a few words: the hook it waits for, else its message.
pub fn progress(op: &OperationState, resources: &[ResourceStatus]) -> String {
    let s = steps(op, resources);
    if let Some(step) = s.iter().find(|s| s.running()) {
        let hooks: Vec<String> = step
            .items
            .iter()
            .filter(|i| i.hook_phase == "Running")
            .map(|i| format!("{} hook {}/{} running", i.hook_type, i.kind, i.name))
            .collect();
        return format!("{}: {}", step.label(), hooks.join(", "));
    }
    if let Some(step) = s.iter().find(|s| s.failed()) {
        let failed: Vec<String> = step
            .items
            .iter()
            .filter(|i| i.hook_phase == "Failed" || i.status == "SyncFailed")
            .map(|i| format!("{}/{} failed: {}", i.kind, i.name, i.message))
            .collect();
        return format!("{}: {}", step.label(), failed.join(", "));
    }
    op.message.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::app::SyncOperationResult;

    fn res(kind: &str, name: &str, phase: &str, hook: &str, hook_phase: &str) -> ResourceResult {
        ResourceResult {
            kind: kind.into(),
            name: name.into(),
            namespace: "shop".into(),
            status: if hook_phase == "Failed" {
                "SyncFailed"
            } else {
                "Synced"
            }
            .into(),
            hook_type: hook.into(),
            hook_phase: hook_phase.into(),
            sync_phase: phase.into(),
            message: if hook_phase == "Failed" {
                "Job has reached the specified backoff limit"
            } else {
                ""
            }
            .into(),
            ..Default::default()
        }
    }

    fn op(items: Vec<ResourceResult>, message: &str) -> OperationState {
        OperationState {
            phase: "Running".into(),
            message: message.into(),
            sync_result: Some(SyncOperationResult {
                resources: items,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn phases_run_in_order_and_the_sync_phase_wave_by_wave() {
        let status = vec![
            ResourceStatus {
                kind: "ConfigMap".into(),
                name: "cfg".into(),
                namespace: "shop".into(),
                sync_wave: -1,
                ..Default::default()
            },
            ResourceStatus {
                kind: "Service".into(),
                name: "svc".into(),
                namespace: "shop".into(),
                sync_wave: 1,
                ..Default::default()
            },
        ];
        let o = op(
            vec![
                res("Service", "svc", "Sync", "", "Succeeded"),
                res("Deployment", "app", "Sync", "", "Succeeded"),
                res("Job", "notify", "PostSync", "PostSync", "Succeeded"),
                res("ConfigMap", "cfg", "Sync", "", "Succeeded"),
                res("Job", "migrate", "PreSync", "PreSync", "Succeeded"),
            ],
            "",
        );
        let labels: Vec<String> = steps(&o, &status).iter().map(Step::label).collect();
        assert_eq!(
            labels,
            ["PreSync", "Sync wave -1", "Sync", "Sync wave 1", "PostSync"]
        );
    }

    #[test]
    fn a_hung_or_failed_hook_is_named() {
        let o = op(
            vec![res("Job", "app-migrate", "PreSync", "PreSync", "Running")],
            "waiting for completion of hook batch/Job/app-migrate",
        );
        assert_eq!(
            progress(&o, &[]),
            "PreSync: PreSync hook Job/app-migrate running"
        );
        let o = op(
            vec![res("Job", "app-migrate", "PreSync", "PreSync", "Failed")],
            "x",
        );
        assert!(progress(&o, &[]).contains("Job/app-migrate failed: Job has reached"));
        let o = op(
            vec![res("Deployment", "app", "Sync", "", "Succeeded")],
            "waiting for healthy state",
        );
        assert_eq!(progress(&o, &[]), "waiting for healthy state");
        assert!(steps(&OperationState::default(), &[]).is_empty());
    }
}
