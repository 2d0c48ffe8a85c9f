//! The aggregated fleet: one compact row per Application of every instance, and the counts the
//! summary bar and `snapshot --output json` show. Plain data; no screen, no I/O.

use std::collections::BTreeMap;

use serde::Serialize;

use super::app::Application;
use super::status::{Health, OpPhase, Sync};

/// Index of an Argo CD instance in the configuration (and in the fleet).
pub type InstanceId = u16;

/// Identity of an application across the fleet: two instances may both have `payments`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppKey {
    pub instance: InstanceId,
    /// The Application's own namespace (apps in any namespace); usually `argocd`.
    pub namespace: String,
    pub name: String,
}

/// What the fleet table needs to know about one application.
#[derive(Debug, Clone, PartialEq)]
pub struct AppRow {
    pub key: AppKey,
    pub project: String,
    /// Destination cluster: its name, else its server URL.
    pub cluster: String,
    /// Destination namespace.
    pub dest_namespace: String,
    pub sync: Sync,
    pub health: Health,
    pub health_message: String,
    pub operation: Option<OpPhase>,
    pub operation_message: String,
    pub auto_sync: bool,
    pub self_heal: bool,
    /// When the last operation finished (unix seconds), else when it started.
    pub last_sync: Option<i64>,
    /// Managed resources that are OutOfSync.
    pub drift: u32,
    /// `env` (or `environment`) label of the Application, if any.
    pub env: String,
    pub repo: String,
    pub revision: String,
    pub resource_version: String,
    /// A driftdeck deferral recorded on the Application ends then (unix seconds).
    pub deferred_until: Option<i64>,
    /// The incident the app's drift is annotated with.
    pub incident: String,
    /// The images the app runs (`status.summary.images`).
    pub images: Vec<String>,
    /// The ApplicationSet that generated the app (its controller owner), else "".
    pub appset: String,
    /// When the app became OutOfSync (unix seconds): seen on the stream, else estimated.
    pub out_of_sync_since: Option<i64>,
    /// `out_of_sync_since` is an estimate (the app was OutOfSync when first listed): its last
    /// sync, the most it can have been in sync since.
    pub since_estimated: bool,
    /// The drift SLA of the app's project (seconds), when one is configured.
    pub sla: Option<i64>,
    /// The Application's labels (families by label, `:versions`).
    pub labels: std::collections::BTreeMap<String, String>,
}

impl AppRow {
    pub fn from_app(instance: InstanceId, app: &Application) -> AppRow {
        let labels = &app.metadata.labels;
        let env = labels
            .get("env")
            .or_else(|| labels.get("environment"))
            .cloned()
            .unwrap_or_default();
        let op = app.status.operation_state.as_ref();
        let last_sync = op.and_then(|o| {
            o.finished_at
                .as_deref()
                .and_then(parse_time)
                .or_else(|| parse_time(&o.started_at))
        });
        let source = app
            .spec
            .source
            .as_ref()
            .or_else(|| app.spec.sources.first());
        AppRow {
            key: AppKey {
                instance,
                namespace: app.metadata.namespace.clone(),
                name: app.metadata.name.clone(),
            },
            project: app.spec.project.clone(),
            cluster: app.spec.destination.cluster_label().to_string(),
            dest_namespace: app.spec.destination.namespace.clone(),
            sync: Sync::parse(&app.status.sync.status),
            health: Health::parse(&app.status.health.status),
            health_message: app.status.health.message.clone(),
            operation: op.and_then(|o| OpPhase::parse(&o.phase)),
            operation_message: op.map(|o| o.message.clone()).unwrap_or_default(),
            auto_sync: app.auto_sync(),
            self_heal: app.self_heal(),
            last_sync,
            drift: app.drifted_resources() as u32,
            env,
            repo: source.map(|s| s.repo_url.clone()).unwrap_or_default(),
            revision: app.status.sync.revision.clone(),
            resource_version: app.metadata.resource_version.clone(),
            deferred_until: app
                .metadata
                .annotations
                .get("driftdeck.io/deferred-until")
                .and_then(|t| parse_time(t)),
            incident: app
                .metadata
                .annotations
                .get("driftdeck.io/incident")
                .cloned()
                .unwrap_or_default(),
            images: app.status.summary.images.clone(),
            appset: app
                .metadata
                .owner_references
                .iter()
                .find(|o| o.kind == "ApplicationSet")
                .map(|o| o.name.clone())
                .unwrap_or_default(),
            out_of_sync_since: (Sync::parse(&app.status.sync.status) == Sync::OutOfSync)
                .then(|| estimate_out_of_sync_since(app))
                .flatten(),
            since_estimated: true,
            sla: None,
            labels: labels.clone(),
        }
    }

    /// How long the app has been OutOfSync at `now` (unix seconds).
    pub fn out_of_sync_for(&self, now: i64) -> Option<i64> {
        (self.sync == Sync::OutOfSync)
            .then_some(self.out_of_sync_since)
            .flatten()
            .map(|t| (now - t).max(0))
    }

    /// OutOfSync for longer than its SLA at `now`.
    pub fn sla_breached(&self, now: i64) -> bool {
        matches!((self.out_of_sync_for(now), self.sla), (Some(age), Some(sla)) if age > sla)
    }

    /// Carries what the previous version of the row knew of the drift's start into this one:
    /// still OutOfSync keeps the start; a change to OutOfSync seen at `now` starts it then.
    pub fn follow(&mut self, old: &AppRow, now: Option<i64>) {
        if self.sync != Sync::OutOfSync {
            return;
        }
        if old.sync == Sync::OutOfSync {
            if old.out_of_sync_since.is_some() {
                self.out_of_sync_since = old.out_of_sync_since;
                self.since_estimated = old.since_estimated;
            }
        } else if let Some(t) = now {
            self.out_of_sync_since = Some(t);
            self.since_estimated = false;
        }
    }

    /// Names the destination cluster from Argo CD's cluster list (server URL → name); a server
    /// with no name shows without its scheme.
    pub fn name_cluster(&mut self, names: &std::collections::HashMap<String, String>) {
        if let Some(n) = names.get(&self.cluster) {
            self.cluster = n.clone();
        } else if let Some(rest) = self.cluster.strip_prefix("https://") {
            self.cluster = rest.to_string();
        }
    }

    /// Needs an operator's eye: out of sync, unhealthy in a way that is not just progress, or a
    /// failed operation.
    pub fn needs_attention(&self) -> bool {
        self.sync == Sync::OutOfSync
            || matches!(
                self.health,
                Health::Degraded | Health::Missing | Health::Unknown
            )
            || self.sync == Sync::Unknown
            || matches!(self.operation, Some(OpPhase::Failed | OpPhase::Error))
    }
}

/// When an app that is OutOfSync now became so, at the latest: Argo CD does not record it, so
/// the end of its last sync (it was in sync then, or the sync failed), else its last
/// deployment, else its creation.
pub fn estimate_out_of_sync_since(app: &Application) -> Option<i64> {
    let op = app
        .status
        .operation_state
        .as_ref()
        .and_then(|o| o.finished_at.as_deref().and_then(parse_time));
    let deployed = app
        .status
        .history
        .last()
        .and_then(|h| parse_time(&h.deployed_at));
    op.max(deployed).or_else(|| {
        app.metadata
            .creation_timestamp
            .as_deref()
            .and_then(parse_time)
    })
}

/// When the app's current OutOfSync began, from its own events: Argo CD records each change
/// of sync status as an event ("Updated sync status: Synced -> OutOfSync"). `None` when the
/// events no longer hold it (Kubernetes keeps events for an hour by default).
pub fn out_of_sync_since_from_events(events: &super::app::EventList) -> Option<i64> {
    let mut changes: Vec<(i64, bool)> = events
        .items
        .iter()
        .filter(|e| e.reason == "ResourceUpdated")
        .filter_map(|e| {
            let rest = e.message.strip_prefix("Updated sync status:")?;
            let to = rest.rsplit("->").next()?.trim();
            Some((parse_time(e.last_seen()?)?, to == "OutOfSync"))
        })
        .collect();
    changes.sort();
    let mut since = None;
    for (t, out) in changes {
        match (out, since) {
            (true, None) => since = Some(t),
            (false, _) => since = None,
            _ => {}
        }
    }
    since
}

/// Parses an RFC 3339 timestamp (as Kubernetes writes them) to unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

/// Counts per status over a set of rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub apps: usize,
    pub sync: BTreeMap<&'static str, usize>,
    pub health: BTreeMap<&'static str, usize>,
    pub operation: BTreeMap<&'static str, usize>,
    pub drifted_apps: usize,
    pub drifted_resources: usize,
    pub needs_attention: usize,
    pub auto_sync: usize,
}

impl Counts {
    pub fn add(&mut self, row: &AppRow) {
        self.apps += 1;
        *self.sync.entry(row.sync.as_str()).or_default() += 1;
        *self.health.entry(row.health.as_str()).or_default() += 1;
        if let Some(op) = row.operation {
            *self.operation.entry(op.as_str()).or_default() += 1;
        }
        if row.drift > 0 {
            self.drifted_apps += 1;
        }
        self.drifted_resources += row.drift as usize;
        if row.needs_attention() {
            self.needs_attention += 1;
        }
        if row.auto_sync {
            self.auto_sync += 1;
        }
    }

    pub fn of<'a>(rows: impl IntoIterator<Item = &'a AppRow>) -> Counts {
        let mut c = Counts::default();
        for r in rows {
            c.add(r);
        }
        c
    }

    pub fn sync(&self, s: Sync) -> usize {
        self.sync.get(s.as_str()).copied().unwrap_or(0)
    }
    pub fn health(&self, h: Health) -> usize {
        self.health.get(h.as_str()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::app::*;

    fn app(sync: &str, health: &str) -> Application {
        let mut a = Application::default();
        a.metadata.name = "payments".into();
        a.metadata.namespace = "argocd".into();
        a.spec.project = "shop".into();
        a.spec.destination.name = "prod-eu".into();
        a.status.sync.status = sync.into();
        a.status.health.status = health.into();
        a
    }

    #[test]
    fn row_reads_status_and_drift() {
        let mut a = app("OutOfSync", "Healthy");
        a.status.resources = vec![
            ResourceStatus {
                status: "OutOfSync".into(),
                ..Default::default()
            },
            ResourceStatus {
                status: "Synced".into(),
                ..Default::default()
            },
        ];
        a.spec.sync_policy = Some(SyncPolicy {
            automated: Some(SyncPolicyAutomated {
                self_heal: true,
                ..Default::default()
            }),
            ..Default::default()
        });
        a.status.operation_state = Some(OperationState {
            phase: "Succeeded".into(),
            started_at: "2026-11-20T10:00:00Z".into(),
            finished_at: Some("2026-11-20T10:00:05Z".into()),
            ..Default::default()
        });
        let r = AppRow::from_app(1, &a);
        assert_eq!(r.sync, Sync::OutOfSync);
        assert_eq!(r.drift, 1);
        assert!(r.auto_sync && r.self_heal);
        assert_eq!(r.last_sync, parse_time("2026-11-20T10:00:05Z"));
        assert_eq!(r.operation, Some(OpPhase::Succeeded));
        assert!(r.needs_attention());
        assert_eq!(r.cluster, "prod-eu");
    }

    #[test]
    fn explicit_disabled_automation_is_not_auto_sync() {
        let mut a = app("Synced", "Healthy");
        a.spec.sync_policy = Some(SyncPolicy {
            automated: Some(SyncPolicyAutomated {
                enabled: Some(false),
                self_heal: true,
                ..Default::default()
            }),
            ..Default::default()
        });
        let r = AppRow::from_app(0, &a);
        assert!(!r.auto_sync && !r.self_heal);
        assert!(!r.needs_attention());
    }

    #[test]
    fn counts_add_up() {
        let rows: Vec<AppRow> = [("Synced", "Healthy"), ("OutOfSync", "Degraded")]
            .iter()
            .map(|(s, h)| AppRow::from_app(0, &app(s, h)))
            .collect();
        let c = Counts::of(&rows);
        assert_eq!(c.apps, 2);
        assert_eq!(c.sync(Sync::OutOfSync), 1);
        assert_eq!(c.health(Health::Degraded), 1);
        assert_eq!(c.needs_attention, 1);
    }
}

#[cfg(test)]
mod drift_age_tests {
    use super::*;
    use crate::model::app::{Event, EventList, OperationState, RevisionHistory};

    fn ev(t: &str, msg: &str) -> Event {
        let mut e = Event {
            reason: "ResourceUpdated".into(),
            message: msg.into(),
            ..Default::default()
        };
        e.last_timestamp = Some(t.into());
        e
    }

    #[test]
    fn the_events_say_when_the_current_drift_began() {
        let l = EventList {
            items: vec![
                ev(
                    "2026-11-18T10:00:00Z",
                    "Updated sync status: Synced -> OutOfSync",
                ),
                ev(
                    "2026-11-18T10:05:00Z",
                    "Updated sync status: OutOfSync -> Synced",
                ),
                ev(
                    "2026-11-18T11:00:00Z",
                    "Updated sync status: Synced -> OutOfSync",
                ),
                ev(
                    "2026-11-18T11:30:00Z",
                    "Updated health status: Healthy -> Degraded",
                ),
                // Unknown -> OutOfSync while already out: the drift began earlier.
                ev(
                    "2026-11-18T11:40:00Z",
                    "Updated sync status: Unknown -> OutOfSync",
                ),
            ],
            ..Default::default()
        };
        assert_eq!(
            out_of_sync_since_from_events(&l),
            parse_time("2026-11-18T11:00:00Z")
        );
        let synced = EventList {
            items: vec![ev(
                "2026-11-18T10:05:00Z",
                "Updated sync status: OutOfSync -> Synced",
            )],
            ..Default::default()
        };
        assert_eq!(out_of_sync_since_from_events(&synced), None);
        assert_eq!(out_of_sync_since_from_events(&EventList::default()), None);
    }

    fn row(sync: &str) -> AppRow {
        let mut a = Application::default();
        a.metadata.name = "pay".into();
        a.status.sync.status = sync.into();
        a.status.operation_state = Some(OperationState {
            phase: "Succeeded".into(),
            started_at: "2026-11-18T09:00:00Z".into(),
            finished_at: Some("2026-11-18T09:01:00Z".into()),
            ..Default::default()
        });
        a.status.history = vec![RevisionHistory {
            deployed_at: "2026-11-17T09:00:00Z".into(),
            ..Default::default()
        }];
        AppRow::from_app(0, &a)
    }

    #[test]
    fn an_app_first_seen_out_of_sync_is_estimated_from_its_last_sync() {
        let r = row("OutOfSync");
        assert_eq!(r.out_of_sync_since, parse_time("2026-11-18T09:01:00Z"));
        assert!(r.since_estimated);
        assert_eq!(row("Synced").out_of_sync_since, None);
    }

    #[test]
    fn a_change_seen_on_the_stream_starts_the_drift_and_staying_out_keeps_it() {
        let t0 = parse_time("2026-11-18T12:00:00Z").unwrap();
        let synced = row("Synced");
        let mut out = row("OutOfSync");
        out.follow(&synced, Some(t0));
        assert_eq!(out.out_of_sync_since, Some(t0));
        assert!(!out.since_estimated);
        let mut still = row("OutOfSync");
        still.follow(&out, Some(t0 + 600));
        assert_eq!(still.out_of_sync_since, Some(t0));
        // The SLA: breached only beyond it, and only while OutOfSync.
        still.sla = Some(1800);
        assert!(!still.sla_breached(t0 + 1800));
        assert!(still.sla_breached(t0 + 1801));
        let mut back = row("Synced");
        back.follow(&still, Some(t0 + 3600));
        back.sla = Some(1800);
        assert!(!back.sla_breached(t0 + 7200));
        assert_eq!(back.out_of_sync_for(t0 + 7200), None);
    }
}
