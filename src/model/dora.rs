//! DORA figures per project, from what Argo CD records:
//! - **deployment frequency**: the deployments of `status.history` in the window, per day;
//! - **change failure rate**: the share of those deployments undone by a rollback (a later
//!   deployment that goes back to a revision deployed before the failed one);
//! - **time to restore**: how long apps took from Degraded back to Healthy, from the health
//!   transitions seen (the stream, or the Application's "Updated health status" events).
//!
//! Lead time for changes needs the commit times of Git, which Argo CD's history does not
//! carry, so it is not computed.

use std::collections::BTreeMap;

use serde::Serialize;

use super::app::Application;

/// One app's deployments and restores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppHistory {
    pub instance: String,
    pub project: String,
    pub app: String,
    /// (revision, deployed at, unix seconds), oldest first.
    pub deployments: Vec<(String, i64)>,
    /// (degraded at, healthy again at).
    pub restores: Vec<(i64, i64)>,
}

impl AppHistory {
    pub fn of(instance: &str, app: &Application) -> AppHistory {
        let mut deployments: Vec<(i64, String, i64)> = app
            .status
            .history
            .iter()
            .filter_map(|h| {
                let rev = if h.revision.is_empty() {
                    h.revisions.join(",")
                } else {
                    h.revision.clone()
                };
                Some((h.id, rev, super::fleet::parse_time(&h.deployed_at)?))
            })
            .collect();
        deployments.sort_by_key(|(id, _, t)| (*t, *id));
        AppHistory {
            instance: instance.to_string(),
            project: app.spec.project.clone(),
            app: app.metadata.name.clone(),
            deployments: deployments.into_iter().map(|(_, r, t)| (r, t)).collect(),
            restores: Vec::new(),
        }
    }
}

/// The figures of one project of one instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub instance: String,
    pub project: String,
    pub apps: usize,
    pub window_days: f64,
    pub deployments: usize,
    pub deployments_per_day: f64,
    /// Deployments undone by a rollback.
    pub failed: usize,
    /// `failed / deployments`; `None` without deployments.
    pub change_failure_rate: Option<f64>,
    pub restores: usize,
    /// Median seconds from Degraded to Healthy; `None` without restores.
    pub time_to_restore_median: Option<i64>,
}

/// Which deployments (indexes) a later rollback undid: a deployment whose revision was deployed
/// before the one just before it, and differs from it, undoes that one.
pub fn undone(deployments: &[(String, i64)]) -> Vec<usize> {
    let mut out = Vec::new();
    for i in 2..deployments.len() {
        let (rev, _) = &deployments[i];
        let prev = &deployments[i - 1].0;
        if rev != prev && deployments[..i - 1].iter().any(|(r, _)| r == rev) {
            out.push(i - 1);
        }
    }
    out
}

/// The figures per (instance, project) over the `window` (seconds) before `now`.
pub fn compute(apps: &[AppHistory], now: i64, window: i64) -> Vec<Figures> {
    let from = now - window;
    let mut by: BTreeMap<(String, String), (Figures, Vec<i64>)> = BTreeMap::new();
    for a in apps {
        let (f, ttr) = by
            .entry((a.instance.clone(), a.project.clone()))
            .or_insert_with(|| {
                (
                    Figures {
                        instance: a.instance.clone(),
                        project: a.project.clone(),
                        window_days: window as f64 / 86400.0,
                        ..Default::default()
                    },
                    Vec::new(),
                )
            });
        f.apps += 1;
        let undone = undone(&a.deployments);
        for (i, (_, t)) in a.deployments.iter().enumerate() {
            if *t >= from && *t <= now {
                f.deployments += 1;
                if undone.contains(&i) {
                    f.failed += 1;
                }
            }
        }
        for (down, up) in &a.restores {
            if *up >= from && up >= down {
                ttr.push(up - down);
            }
        }
    }
    by.into_values()
        .map(|(mut f, mut ttr)| {
            f.deployments_per_day = if f.window_days > 0.0 {
                f.deployments as f64 / f.window_days
            } else {
                0.0
            };
            f.change_failure_rate =
                (f.deployments > 0).then(|| f.failed as f64 / f.deployments as f64);
            ttr.sort_unstable();
            f.restores = ttr.len();
            f.time_to_restore_median = (!ttr.is_empty()).then(|| ttr[ttr.len() / 2]);
            f
        })
        .collect()
}

/// A health transition: when, from, to.
pub type Transition = (i64, String, String);

/// Health transitions seen on an instance's stream, per (instance, app), newest last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthLog {
    pub apps: std::collections::HashMap<(String, String), Vec<Transition>>,
}

impl HealthLog {
    /// Transitions kept per app.
    pub const KEEP: usize = 64;

    pub fn record(&mut self, instance: &str, app: &str, at: i64, from: &str, to: &str) {
        if from == to {
            return;
        }
        let v = self
            .apps
            .entry((instance.to_string(), app.to_string()))
            .or_default();
        v.push((at, from.to_string(), to.to_string()));
        if v.len() > Self::KEEP {
            v.remove(0);
        }
    }

    /// Fills in each app's restores.
    pub fn restores_into(&self, apps: &mut [AppHistory]) {
        for a in apps {
            if let Some(t) = self.apps.get(&(a.instance.clone(), a.app.clone())) {
                a.restores = restores(t);
            }
        }
    }
}

/// The list projection cannot carry `status.history`: Argo CD's `fields` parameter keeps only
/// the fields of its own list (`appFields` of its API server), so the history is read with
/// the whole list, as `argocd app list -o json` does. Not often: `serve` every five minutes,
/// the TUI when `:dora` opens.
pub const HISTORY_FIELDS: Option<&[&str]> = None;

/// The window of the figures: 30 days.
pub const WINDOW_SECS: i64 = 30 * 86_400;

/// Restores from an app's health transitions `(when, from, to)`, oldest first: Degraded (or
/// Missing) until the next Healthy.
pub fn restores(transitions: &[Transition]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut down: Option<i64> = None;
    for (t, _, to) in transitions {
        match to.as_str() {
            "Degraded" | "Missing" => {
                down.get_or_insert(*t);
            }
            "Healthy" => {
                if let Some(d) = down.take() {
                    out.push((d, *t));
                }
            }
            _ => {}
        }
    }
    out
}

/// A health transition in an Application event's message ("Updated health status: Healthy ->
/// Degraded", as the application controller writes it).
pub fn health_transition(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("Updated health status: ")?;
    let (from, to) = rest.split_once(" -> ")?;
    Some((from.trim().to_string(), to.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(revs: &[&str]) -> Vec<(String, i64)> {
        revs.iter()
            .enumerate()
            .map(|(i, r)| (r.to_string(), 1_000 + i as i64 * 3600))
            .collect()
    }

    #[test]
    fn a_rollback_marks_the_deployment_it_undid() {
        // a, b, c, then back to b: c failed. A redeploy of the same revision is no rollback.
        assert_eq!(undone(&deps(&["a", "b", "c", "b"])), vec![2]);
        assert_eq!(undone(&deps(&["a", "b", "b", "c"])), Vec::<usize>::new());
        assert_eq!(undone(&deps(&["a", "b", "a", "c", "a"])), vec![1, 3]);
    }

    #[test]
    fn figures_per_project_in_the_window() {
        let now = 1_000 + 10 * 3600;
        let a = AppHistory {
            instance: "eu".into(),
            project: "shop".into(),
            app: "web".into(),
            deployments: deps(&["a", "b", "c", "b"]),
            restores: vec![(2_000, 2_600), (5_000, 5_100), (9_000, 10_000)],
        };
        let b = AppHistory {
            app: "api".into(),
            deployments: deps(&["x", "y"]),
            restores: vec![],
            ..a.clone()
        };
        let f = compute(&[a, b], now, 86_400);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!((f.apps, f.deployments, f.failed), (2, 6, 1));
        assert!((f.change_failure_rate.unwrap() - 1.0 / 6.0).abs() < 1e-9);
        assert!((f.deployments_per_day - 6.0).abs() < 1e-9);
        assert_eq!((f.restores, f.time_to_restore_median), (3, Some(600)));
        let t = [
            (10, "Healthy".into(), "Degraded".into()),
            (20, "Degraded".into(), "Progressing".into()),
            (50, "Progressing".into(), "Healthy".into()),
        ];
        assert_eq!(restores(&t), vec![(10, 50)]);
        assert_eq!(
            health_transition("Updated health status: Healthy -> Degraded"),
            Some(("Healthy".into(), "Degraded".into()))
        );
    }
}
