//! Live drift for the demo (`--drift-every`): people scale things by hand, edit ConfigMaps,
//! broaden RBAC rules and set images; pods crash-loop and recover; Git moves on and auto-sync
//! follows; self-heal reverts hand edits after its timeout. Deterministic for a seed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::generator::{Drift, PodState, WorkloadKind, ts};
use super::state::Instance;
use crate::model::app::*;
use crate::util::Rng;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    SyncStart { automated: bool },
    SyncFinish,
    Recover,
}

/// The scheduler of demo happenings.
pub struct DriftEngine {
    rng: Rng,
    pending: BinaryHeap<Reverse<(i64, usize, String, Step)>>,
}

impl DriftEngine {
    pub fn new(seed: u64) -> Self {
        DriftEngine {
            rng: Rng::new(seed ^ 0xd41f7),
            pending: BinaryHeap::new(),
        }
    }

    /// Makes one thing happen somewhere and runs everything that is due at `now_ms`.
    pub fn tick(&mut self, instances: &[Arc<Instance>], now_ms: i64) {
        while let Some(Reverse((due, _, _, _))) = self.pending.peek() {
            if *due > now_ms {
                break;
            }
            let Some(Reverse((_, inst, name, step))) = self.pending.pop() else {
                break;
            };
            if let Some(i) = instances.get(inst) {
                self.run(i, inst, &name, step, now_ms);
            }
        }
        if instances.is_empty() {
            return;
        }
        let inst_idx = self.rng.below(instances.len() as u64) as usize;
        let inst = &instances[inst_idx];
        let name = {
            let st = inst.read();
            if st.apps.is_empty() {
                return;
            }
            let n = self.rng.below(st.apps.len() as u64) as usize;
            st.apps.keys().nth(n).cloned()
        };
        let Some(name) = name else { return };
        let roll = self.rng.unit();
        let now = now_ms / 1000;
        if roll < 0.45 {
            self.hand_edit(inst, inst_idx, &name, now, now_ms);
        } else if roll < 0.60 {
            let mut crashed = false;
            inst.modify(&name, |a| {
                if a.w.kind == WorkloadKind::Deployment && a.w.pods == PodState::Running {
                    a.w.pods = PodState::CrashLoop;
                    crashed = true;
                }
            });
            if crashed {
                let after = self.rng.range(20_000, 90_000) as i64;
                self.schedule(now_ms + after, inst_idx, &name, Step::Recover);
            }
        } else if roll < 0.85 {
            // A new commit in Git; auto-sync apps start syncing it.
            let mut started = false;
            let tag_rng = self.rng.next_u64();
            inst.modify(&name, |a| {
                if !a.app.auto_sync() || a.w.kind == WorkloadKind::StatefulSet || running(a) {
                    return;
                }
                a.w.tag = bump(&a.w.tag, tag_rng);
                if tag_rng.is_multiple_of(9) && a.w.orphans.is_empty() {
                    // The commit drops a ConfigMap; auto-sync without prune leaves it live.
                    a.w.orphans.push(format!("{}-legacy-config", a.w.name));
                }
                if let Some(src) = a.app.spec.source.as_mut()
                    && let Some(h) = src.helm.as_mut()
                {
                    src.target_revision = a.w.tag.trim_start_matches('v').to_string();
                    if let Some(p) = h.parameters.first_mut() {
                        p.value = a.w.tag.clone();
                    }
                }
                start_operation(a, now, true, &mut Rng::new(tag_rng));
                a.w.rolling = true;
                started = true;
            });
            if started {
                let after = self.rng.range(3_000, 9_000) as i64;
                self.schedule(now_ms + after, inst_idx, &name, Step::SyncFinish);
            }
        } else {
            // An operator syncs an out-of-sync app by hand.
            let out = inst
                .read()
                .apps
                .get(&name)
                .is_some_and(|a| a.app.status.sync.status == "OutOfSync" && !running(a));
            if out {
                self.run(
                    inst,
                    inst_idx,
                    &name,
                    Step::SyncStart { automated: false },
                    now_ms,
                );
            }
        }
    }

    fn schedule(&mut self, due: i64, inst: usize, name: &str, step: Step) {
        self.pending
            .push(Reverse((due, inst, name.to_string(), step)));
    }

    fn hand_edit(&mut self, inst: &Instance, idx: usize, name: &str, now: i64, now_ms: i64) {
        let pick = self.rng.below(6);
        let val = self.rng.next_u64();
        let mut heal = false;
        inst.modify(name, |a| {
            let w = &mut a.w;
            let d = match pick {
                0 if w.kind != WorkloadKind::CronJob => Drift::Replicas {
                    to: w.replicas * 2 + (val % 4) as i64,
                    by_hpa: false,
                    at: now,
                },
                1 => Drift::ConfigValue {
                    key: ["LOG_LEVEL", "HTTP_TIMEOUT", "FEATURE_NEW_CHECKOUT"][(val % 3) as usize]
                        .into(),
                    value: ["debug", "60s", "true"][(val % 3) as usize].into(),
                    at: now,
                },
                2 if w.has_rbac => Drift::RbacBroadened { at: now },
                3 if w.kind != WorkloadKind::StatefulSet => Drift::Image {
                    tag: format!("{}-debug", w.tag),
                    at: now,
                },
                4 if w.kind != WorkloadKind::CronJob => Drift::Restarted { at: now },
                _ if w.kind == WorkloadKind::StatefulSet => Drift::SecretValue { at: now },
                _ => Drift::ConfigValue {
                    key: "LOG_LEVEL".into(),
                    value: "trace".into(),
                    at: now,
                },
            };
            w.drifts
                .retain(|x| std::mem::discriminant(x) != std::mem::discriminant(&d));
            w.drifts.push(d);
            heal = a.app.self_heal() && !running(a);
        });
        if heal {
            // Self-heal waits for its timeout (5 s by default) and a reconciliation.
            let after = self.rng.range(5_000, 20_000) as i64;
            self.schedule(
                now_ms + after,
                idx,
                name,
                Step::SyncStart { automated: true },
            );
        }
    }

    fn run(&mut self, inst: &Instance, idx: usize, name: &str, step: Step, now_ms: i64) {
        let now = now_ms / 1000;
        match step {
            Step::Recover => {
                inst.modify(name, |a| a.w.pods = PodState::Running);
            }
            Step::SyncStart { automated } => {
                let seed = self.rng.next_u64();
                let mut started = false;
                inst.modify(name, |a| {
                    if !running(a) {
                        start_operation(a, now, automated, &mut Rng::new(seed));
                        started = true;
                    }
                });
                if started {
                    let after = self.rng.range(2_000, 6_000) as i64;
                    self.schedule(now_ms + after, idx, name, Step::SyncFinish);
                }
            }
            Step::SyncFinish => {
                inst.modify(name, |a| finish_operation(a, now));
            }
        }
    }
}

pub(crate) fn running(a: &super::generator::DemoApp) -> bool {
    a.app
        .status
        .operation_state
        .as_ref()
        .is_some_and(|o| o.phase == "Running" || o.phase == "Terminating")
}

fn bump(tag: &str, r: u64) -> String {
    let t = tag.trim_start_matches('v');
    let mut parts: Vec<u64> = t
        .split(['.', '-'])
        .take(3)
        .filter_map(|p| p.parse().ok())
        .collect();
    while parts.len() < 3 {
        parts.push(0);
    }
    if r.is_multiple_of(4) {
        parts[1] += 1;
        parts[2] = 0;
    } else {
        parts[2] += 1;
    }
    format!("v{}.{}.{}", parts[0], parts[1], parts[2])
}

/// Starts a sync operation as Argo CD records it.
pub fn start_operation(
    a: &mut super::generator::DemoApp,
    now: i64,
    automated: bool,
    rng: &mut Rng,
) {
    let initiated_by = if automated {
        OperationInitiator {
            username: String::new(),
            automated: true,
        }
    } else {
        OperationInitiator {
            username: rng.pick(super::generator::USERS).to_string(),
            automated: false,
        }
    };
    let revision = if a.app.status.sync.revision.is_empty()
        || a.w.tag != *a.w.tag_history.last().unwrap_or(&String::new())
    {
        rng.sha()
    } else {
        a.app.status.sync.revision.clone()
    };
    let op = Operation {
        sync: Some(SyncOperation {
            revision: revision.clone(),
            sync_options: vec!["CreateNamespace=true".into()],
            ..Default::default()
        }),
        initiated_by: Some(initiated_by),
        retry: Some(RetryStrategy {
            limit: 5,
            ..Default::default()
        }),
        info: vec![],
    };
    let mut state = OperationState {
        operation: op,
        phase: "Running".into(),
        message: "one or more tasks are running".into(),
        sync_result: None,
        started_at: ts(now),
        finished_at: None,
        retry_count: 0,
    };
    if super::resources::has_migration_hook(&a.w) {
        start_hook(&mut state, &a.w);
    }
    a.app.status.operation_state = Some(state);
}

/// The PreSync phase of an operation of an app with a migration hook: its Job created and
/// running, the operation waiting for it.
pub fn start_hook(op: &mut OperationState, w: &super::generator::Workload) {
    let job = super::resources::migration_job(w);
    op.message = format!("waiting for completion of hook batch/Job/{job}");
    op.sync_result = Some(SyncOperationResult {
        resources: vec![ResourceResult {
            group: "batch".into(),
            version: "v1".into(),
            kind: "Job".into(),
            namespace: w.namespace.clone(),
            name: job.clone(),
            status: "Synced".into(),
            message: format!("job.batch/{job} created"),
            hook_type: "PreSync".into(),
            hook_phase: "Running".into(),
            sync_phase: "PreSync".into(),
        }],
        revision: op
            .operation
            .sync
            .as_ref()
            .map(|s| s.revision.clone())
            .unwrap_or_default(),
        source: None,
    });
}

/// The hooks of the operation so far (kept in its result as it goes on).
fn hook_results(op: &OperationState) -> Vec<ResourceResult> {
    op.sync_result
        .as_ref()
        .map(|r| {
            r.resources
                .iter()
                .filter(|x| !x.hook_type.is_empty())
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Ends the running PreSync hooks of the operation: the migration Job succeeds, or fails
/// (its Job reaches the backoff limit and stays for its logs, BeforeHookCreation) and fails
/// the operation before anything is applied. False when the operation failed.
pub fn resolve_hooks(a: &mut super::generator::DemoApp, now: i64) -> bool {
    let fails = a.w.migration_fails;
    let Some(op) = a.app.status.operation_state.as_mut() else {
        return true;
    };
    if op.phase != "Running" {
        return true;
    }
    let dry_run = op.operation.sync.as_ref().is_some_and(|s| s.dry_run);
    let Some(res) = op.sync_result.as_mut() else {
        return true;
    };
    let mut failed = false;
    for h in res
        .resources
        .iter_mut()
        .filter(|h| !h.hook_type.is_empty() && h.hook_phase == "Running")
    {
        if fails && !dry_run {
            h.hook_phase = "Failed".into();
            h.status = "SyncFailed".into();
            h.message = "Job has reached the specified backoff limit".into();
            failed = true;
        } else {
            h.hook_phase = "Succeeded".into();
            h.message = "Reached expected number of succeeded pods".into();
        }
    }
    if failed {
        op.phase = "Failed".into();
        op.message = "one or more synchronization tasks completed unsuccessfully, reason: Job has reached the specified backoff limit".into();
        op.finished_at = Some(ts(now));
        a.w.rolling = false;
        a.w.op_tag = None;
        return false;
    }
    true
}

/// Completes the running operation as Argo CD's controller does: the selected resources (all
/// when none were named) match Git again, orphans are pruned when the sync prunes (else they are
/// skipped), a rollback leaves its older image live, and the history grows (not for a dry run).
pub fn finish_operation(a: &mut super::generator::DemoApp, now: i64) {
    use super::resources::{ResId, drift_modifies, resources, rolled_back};
    let Some(op) = a.app.status.operation_state.as_mut() else {
        return;
    };
    if op.phase != "Running" {
        return;
    }
    let sync = op.operation.sync.clone().unwrap_or_default();
    // PreSync first: a failed migration fails the operation before anything is applied.
    if !resolve_hooks(a, now) {
        return;
    }
    let Some(op) = a.app.status.operation_state.as_mut() else {
        return;
    };
    let hooks = hook_results(op);
    let selected = |group: &str, kind: &str, name: &str| {
        sync.resources.is_empty()
            || sync
                .resources
                .iter()
                .any(|s| s.group == group && s.kind == kind && s.name == name)
    };
    let w = &a.w;
    let all = resources(w);
    let mut chosen: Vec<&ResId> = all
        .iter()
        .filter(|r| selected(r.group, r.kind, &r.name))
        .collect();
    // Applied wave by wave, lowest first.
    chosen.sort_by_key(|r| super::resources::sync_wave(w, r));
    let mut results = hooks;
    for r in &chosen {
        let changed = w.drifts.iter().any(|d| drift_modifies(d, r, w)) || rolled_back(r, w);
        results.push(ResourceResult {
            group: r.group.into(),
            version: r.version.into(),
            kind: r.kind.into(),
            namespace: w.namespace.clone(),
            name: r.name.clone(),
            status: "Synced".into(),
            message: if sync.dry_run {
                format!(
                    "{} (dry run)",
                    if changed { "configured" } else { "unchanged" }
                )
            } else if changed {
                "configured".into()
            } else {
                "unchanged".into()
            },
            hook_phase: "Succeeded".into(),
            sync_phase: "Sync".into(),
            ..Default::default()
        });
    }
    let mut pruned = Vec::new();
    for o in &w.orphans {
        if !selected("", "ConfigMap", o) {
            continue;
        }
        let prune = sync.prune;
        results.push(ResourceResult {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: w.namespace.clone(),
            name: o.clone(),
            status: if prune { "Pruned" } else { "PruneSkipped" }.into(),
            message: if !prune {
                "ignored (requires pruning)".into()
            } else if sync.dry_run {
                "pruned (dry run)".into()
            } else {
                "pruned".into()
            },
            hook_phase: "Succeeded".into(),
            sync_phase: "Sync".into(),
            ..Default::default()
        });
        if prune {
            pruned.push(o.clone());
        }
    }
    let workload_chosen = chosen
        .iter()
        .any(|r| matches!(r.kind, "Deployment" | "StatefulSet" | "CronJob"));
    op.phase = "Succeeded".into();
    op.message = "successfully synced (all tasks run)".into();
    op.finished_at = Some(ts(now));
    let revision = sync.revision.clone();
    op.sync_result = Some(SyncOperationResult {
        resources: results,
        revision: revision.clone(),
        source: a.app.spec.source.clone(),
    });
    let initiated_by = op.operation.initiated_by.clone();
    let started = op.started_at.clone();
    let op_tag = a.w.op_tag.take();
    if sync.dry_run {
        return;
    }
    let w = &mut a.w;
    let touched: Vec<ResId> = chosen.into_iter().cloned().collect();
    let kept: Vec<Drift> = w
        .drifts
        .iter()
        .filter(|d| {
            matches!(d, Drift::Replicas { by_hpa: true, .. })
                || !touched.iter().any(|r| {
                    drift_modifies(d, r, w)
                        || (matches!(r.kind, "Deployment" | "StatefulSet" | "CronJob")
                            && matches!(
                                d,
                                Drift::Restarted { .. }
                                    | Drift::Replicas { .. }
                                    | Drift::Image { .. }
                            ))
                })
        })
        .cloned()
        .collect();
    w.drifts = kept;
    w.orphans.retain(|o| !pruned.contains(o));
    if workload_chosen {
        w.deployed_tag = op_tag.clone().filter(|t| *t != w.tag);
    }
    w.rolling = false;
    let id = a.app.status.history.last().map(|h| h.id + 1).unwrap_or(0);
    a.app.status.history.push(RevisionHistory {
        revision: revision.clone(),
        deployed_at: ts(now),
        id,
        source: a.app.spec.source.clone(),
        deploy_started_at: Some(started),
        initiated_by,
        revisions: vec![],
    });
    let deployed = op_tag.unwrap_or_else(|| a.w.tag.clone());
    // A Rollout deploys a new image as a canary, from its first step.
    let previous = a.w.tag_history.last().cloned();
    if let Some(c) = a.w.canary.as_mut()
        && previous.as_ref().is_some_and(|p| *p != deployed)
    {
        c.from_step = 0;
        c.since = now;
        c.aborted = false;
        c.paused = false;
        c.stable_tag = previous;
    }
    a.w.tag_history.push(deployed);
    let limit = a.app.spec.revision_history_limit.unwrap_or(10).max(1) as usize;
    while a.app.status.history.len() > limit {
        a.app.status.history.remove(0);
        a.w.tag_history.remove(0);
    }
    a.app.status.sync.revision = revision;
    a.app.status.reconciled_at = Some(ts(now));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::generator::{FleetSpec, generate};

    fn instances() -> Vec<Arc<Instance>> {
        generate(
            &FleetSpec {
                apps: 200,
                clusters: 4,
                instances: 2,
                seed: 5,
            },
            1_795_000_000,
        )
        .into_iter()
        .map(|d| Instance::new(d, "pw".into(), std::time::Duration::from_secs(15)))
        .collect()
    }

    fn snapshot(insts: &[Arc<Instance>]) -> Vec<String> {
        insts
            .iter()
            .flat_map(|i| {
                i.read()
                    .apps
                    .values()
                    .map(|a| serde_json::to_string(&a.app).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn drift_is_deterministic_and_lively() {
        let a = instances();
        let b = instances();
        let mut ea = DriftEngine::new(5);
        let mut eb = DriftEngine::new(5);
        let before = snapshot(&a);
        for t in 0..400 {
            ea.tick(&a, 1_795_000_000_000 + t * 250);
            eb.tick(&b, 1_795_000_000_000 + t * 250);
        }
        assert_eq!(snapshot(&a), snapshot(&b));
        let after = snapshot(&a);
        let changed = before.iter().zip(&after).filter(|(x, y)| x != y).count();
        assert!(changed > 50, "only {changed} apps changed");
    }

    #[test]
    fn sync_finish_clears_hand_edits_and_grows_history() {
        let insts = instances();
        let inst = &insts[0];
        let name = inst.read().apps.keys().next().unwrap().clone();
        let hist = inst.read().apps[&name].app.status.history.len();
        inst.modify(&name, |a| {
            a.w.drifts.push(Drift::ConfigValue {
                key: "LOG_LEVEL".into(),
                value: "debug".into(),
                at: 1,
            });
        });
        assert_eq!(inst.read().apps[&name].app.status.sync.status, "OutOfSync");
        inst.modify(&name, |a| start_operation(a, 10, true, &mut Rng::new(1)));
        assert_eq!(
            inst.read().apps[&name]
                .app
                .status
                .operation_state
                .as_ref()
                .unwrap()
                .phase,
            "Running"
        );
        inst.modify(&name, |a| finish_operation(a, 20));
        let st = inst.read();
        let a = &st.apps[&name];
        assert_eq!(a.app.status.sync.status, "Synced");
        assert_eq!(a.app.status.history.len(), (hist + 1).min(10));
        assert_eq!(
            a.app.status.operation_state.as_ref().unwrap().phase,
            "Succeeded"
        );
    }
}
