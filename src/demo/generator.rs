//! The deterministic demo fleet: N apps across M clusters and K Argo CD instances, from a seed.
//!
//! Everything here is a pure function of `(FleetSpec, now)`: the same seed gives the same fleet,
//! byte for byte. Resources are not stored as JSON: each app keeps a compact [`Workload`] and the
//! manifests are rendered from it on demand (see `resources.rs`), which keeps a 10,000-app fleet
//! small in memory.

use std::collections::BTreeMap;

use crate::model::app::*;
use crate::util::Rng;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetSpec {
    pub apps: usize,
    pub clusters: usize,
    pub instances: usize,
    pub seed: u64,
}

impl Default for FleetSpec {
    fn default() -> Self {
        FleetSpec {
            apps: 60,
            clusters: 4,
            instances: 2,
            seed: 1,
        }
    }
}

pub const REGIONS: &[&str] = &[
    "eu-west-1",
    "us-east-1",
    "ap-southeast-2",
    "eu-central-1",
    "us-west-2",
    "sa-east-1",
    "ap-northeast-1",
    "ca-central-1",
];

const INSTANCE_NAMES: &[&str] = &[
    "argocd-eu",
    "argocd-us",
    "argocd-apac",
    "argocd-platform",
    "argocd-edge",
];

/// (service, team/project, image repository host path)
const SERVICES: &[(&str, &str)] = &[
    ("payments", "payments"),
    ("checkout", "commerce"),
    ("orders", "commerce"),
    ("inventory", "commerce"),
    ("catalog", "commerce"),
    ("cart", "commerce"),
    ("pricing", "commerce"),
    ("search-api", "discovery"),
    ("recommendations", "discovery"),
    ("reviews", "discovery"),
    ("notifications", "engagement"),
    ("email-sender", "engagement"),
    ("push-gateway", "engagement"),
    ("ledger", "payments"),
    ("billing", "payments"),
    ("invoicing", "payments"),
    ("fraud-detector", "risk"),
    ("risk-scoring", "risk"),
    ("profile", "identity"),
    ("auth", "identity"),
    ("sessions", "identity"),
    ("api-gateway", "platform"),
    ("rate-limiter", "platform"),
    ("feature-flags", "platform"),
    ("reports", "data"),
    ("etl-runner", "data"),
    ("events-ingest", "data"),
    ("web-frontend", "web"),
    ("mobile-bff", "web"),
    ("shipping", "logistics"),
    ("tracking", "logistics"),
    ("warehouse", "logistics"),
    ("support-desk", "care"),
    ("chat", "care"),
    ("media-resizer", "content"),
    ("cms", "content"),
];

/// Component suffixes; the first one is the bare service.
const COMPONENTS: &[&str] = &[
    "",
    "worker",
    "consumer",
    "cron",
    "db",
    "cache",
    "admin",
    "migrations",
];

const AUTHORS: &[&str] = &[
    "Priya Raman <priya@acme.dev>",
    "Jonas Weber <jonas@acme.dev>",
    "Mei Tanaka <mei@acme.dev>",
    "Carlos Mendes <carlos@acme.dev>",
    "Aisha Bello <aisha@acme.dev>",
    "Tom Fischer <tom@acme.dev>",
    "Lena Novak <lena@acme.dev>",
    "renovate[bot] <bot@renovateapp.com>",
];

const COMMIT_MESSAGES: &[&str] = &[
    "bump image to {tag}",
    "raise memory limit after OOMKills",
    "enable feature flag for new checkout flow",
    "tune HPA thresholds",
    "add readiness probe timeout",
    "rotate config for new database endpoint",
    "chore(deps): update base image",
    "roll out {tag} to {env}",
    "reduce log verbosity",
    "add PodDisruptionBudget",
];

pub const USERS: &[&str] = &[
    "alice@acme.dev",
    "bob@acme.dev",
    "sre-oncall@acme.dev",
    "admin",
];

/// The kind of the main workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    CronJob,
    /// An app of apps: its manifests are Argo CD objects (`children`), no workload.
    AppOfApps,
}

/// State of the pods of the main workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    Running,
    CrashLoop,
    ImagePullBackOff,
    Pending,
}

/// A difference between live and Git that someone (or something) made in the cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Drift {
    /// `kubectl scale` (or the HPA when `by_hpa`).
    Replicas { to: i64, by_hpa: bool, at: i64 },
    /// A ConfigMap value edited by hand.
    ConfigValue { key: String, value: String, at: i64 },
    /// The Role granted more than Git says.
    RbacBroadened { at: i64 },
    /// `kubectl set image`.
    Image { tag: String, at: i64 },
    /// The database password in the app's Secret rotated by hand (`kubectl edit secret`).
    SecretValue { at: i64 },
    /// `kubectl rollout restart`.
    Restarted { at: i64 },
    /// A resource of this kind deleted by hand.
    Deleted { kind: &'static str, at: i64 },
    /// The Deployment paused (`spec.paused`, Argo CD's `pause` action or `kubectl rollout
    /// pause`); Git does not set the field, so it is not drift, and the app is Suspended.
    Paused { at: i64 },
}

impl Drift {
    pub fn at(&self) -> i64 {
        match self {
            Drift::Replicas { at, .. }
            | Drift::ConfigValue { at, .. }
            | Drift::RbacBroadened { at }
            | Drift::Image { at, .. }
            | Drift::Restarted { at }
            | Drift::Paused { at }
            | Drift::SecretValue { at }
            | Drift::Deleted { at, .. } => *at,
        }
    }
}

/// The compact description an app's manifests are rendered from.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// Base name of the resources (the app's service-component name).
    pub name: String,
    pub namespace: String,
    pub team: String,
    pub env: &'static str,
    pub image_repo: String,
    /// The image tag Git declares now.
    pub tag: String,
    /// Image tags of the deployments in history, oldest first (parallel to `status.history`).
    pub tag_history: Vec<String>,
    pub replicas: i64,
    pub cpu_millis: i64,
    pub memory_mib: i64,
    pub port: i64,
    pub has_hpa: bool,
    pub has_ingress: bool,
    pub has_rbac: bool,
    pub has_pdb: bool,
    pub config: BTreeMap<String, String>,
    pub drifts: Vec<Drift>,
    pub pods: PodState,
    /// A rollout in progress (new pods not ready yet).
    pub rolling: bool,
    /// When the live objects were first created (unix seconds).
    pub created: i64,
    /// Seed for names and uids of this app's live objects.
    pub salt: u64,
    /// The image tag the last sync deployed when it is not Git's (a rollback to an older
    /// deployment).
    pub deployed_tag: Option<String>,
    /// The tag the running operation deploys when it is not Git's (set by a rollback).
    pub op_tag: Option<String>,
    /// ConfigMaps still live that Git no longer declares: they need pruning.
    pub orphans: Vec<String>,
    /// Metadata patched onto live objects (`Kind/name` to `{"labels":..,"annotations":..}`).
    pub live_meta: BTreeMap<String, serde_json::Value>,
    /// Rolled out by Argo Rollouts (a canary `Rollout` instead of a `Deployment`).
    pub canary: Option<Canary>,
    /// An app of apps' manifests: Applications and ApplicationSets, as Git declares them.
    pub children: Vec<Child>,
    /// The PreSync migration hook fails (its Job reaches its backoff limit) until a sync
    /// after Git is fixed; only apps with a migration hook have one.
    pub migration_fails: bool,
}

/// An Argo CD object an app of apps declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    /// `Application` or `ApplicationSet`.
    pub kind: &'static str,
    pub name: String,
    /// Its `spec` as Git has it.
    pub spec: serde_json::Value,
    /// Its `status` as its controller writes it (an ApplicationSet's conditions).
    pub status: Option<serde_json::Value>,
}

/// The canary steps of the demo's Rollouts: (setWeight, or a pause of that many seconds; a
/// pause of `None` waits for someone to promote).
pub const CANARY_STEPS: &[CanaryStep] = &[
    CanaryStep::Weight(20),
    CanaryStep::Pause(Some(60)),
    CanaryStep::Weight(50),
    CanaryStep::Pause(None),
    CanaryStep::Weight(100),
];

/// How long the controller takes on a setWeight step (scaling the canary, waiting for it).
pub const WEIGHT_STEP_SECS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CanaryStep {
    Weight(u32),
    Pause(Option<i64>),
}

/// Where a Rollout's canary is: it runs from step `from_step` since `since`, through the
/// steps as time passes, until an indefinite pause or the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    pub from_step: usize,
    pub since: i64,
    /// `status.abort`: the canary was aborted and the stable version serves.
    pub aborted: bool,
    /// `spec.paused`: paused by hand.
    pub paused: bool,
    /// `spec.restartAt`.
    pub restart_at: Option<i64>,
    /// The revision (tag) the canary replaces; stable when the canary completes.
    pub stable_tag: Option<String>,
}

impl Canary {
    /// The current step index at `now` (`CANARY_STEPS.len()` when complete), and whether the
    /// rollout waits at an indefinite pause there.
    pub fn step(&self, now: i64) -> (usize, bool) {
        let mut left = now - self.since;
        let mut i = self.from_step;
        if self.aborted || self.paused {
            return (i.min(CANARY_STEPS.len()), false);
        }
        while i < CANARY_STEPS.len() {
            let d = match CANARY_STEPS[i] {
                CanaryStep::Weight(_) => WEIGHT_STEP_SECS,
                CanaryStep::Pause(Some(s)) => s,
                CanaryStep::Pause(None) => return (i, true),
            };
            if left < d {
                return (i, false);
            }
            left -= d;
            i += 1;
        }
        (i, false)
    }

    /// The canary's traffic weight at step `i` (the last setWeight before it).
    pub fn weight(i: usize) -> u32 {
        CANARY_STEPS[..i.min(CANARY_STEPS.len())]
            .iter()
            .rev()
            .find_map(|s| match s {
                CanaryStep::Weight(w) => Some(*w),
                _ => None,
            })
            .unwrap_or(0)
    }
}

/// A generated demo cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterData {
    pub name: String,
    pub server: String,
    pub env: &'static str,
    pub region: &'static str,
    pub version: String,
}

/// One app with its compact workload.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoApp {
    pub app: Application,
    pub w: Workload,
}

/// One Argo CD instance of the demo.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceData {
    pub name: String,
    pub clusters: Vec<ClusterData>,
    pub projects: Vec<AppProject>,
    pub apps: Vec<DemoApp>,
    pub appsets: Vec<super::appsets::DemoAppSet>,
}

fn tags_before_last(tags: &[String]) -> Option<String> {
    tags.len().checked_sub(2).map(|i| tags[i].clone())
}

/// RFC 3339 of unix seconds, as Kubernetes writes timestamps.
pub fn ts(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn cluster_names(spec: &FleetSpec) -> Vec<ClusterData> {
    let envs: &[&'static str] = &["prod", "staging", "dev"];
    // Clusters of the same env and region are numbered 1, 2, ... so every name (and server)
    // is unique, as in Argo CD's cluster list.
    let mut seen: std::collections::HashMap<(&str, &str), usize> = Default::default();
    (0..spec.clusters)
        .map(|i| {
            // Half the clusters are production, a third staging, the rest dev.
            let env = if i % 6 < 3 {
                envs[0]
            } else if i % 6 < 5 {
                envs[1]
            } else {
                envs[2]
            };
            let region = REGIONS[(i / 2) % REGIONS.len()];
            let n = {
                let c = seen.entry((env, region)).or_insert(0);
                *c += 1;
                *c
            };
            let name = format!("{env}-{region}-{n}");
            ClusterData {
                server: format!("https://{name}.k8s.acme.internal:6443"),
                name,
                env,
                region,
                version: format!("v1.{}.{}", 30 + (i % 4), 2 + i % 7),
            }
        })
        .collect()
}

/// Generates the fleet. `now` is the instant the fleet is "observed" at (unix seconds).
pub fn generate(spec: &FleetSpec, now: i64) -> Vec<InstanceData> {
    let instances = spec.instances.max(1);
    let clusters = cluster_names(&FleetSpec {
        clusters: spec.clusters.max(1),
        ..*spec
    });
    let mut out: Vec<InstanceData> = (0..instances)
        .map(|i| InstanceData {
            name: if i < INSTANCE_NAMES.len() {
                INSTANCE_NAMES[i].to_string()
            } else {
                format!("argocd-{}", i + 1)
            },
            clusters: Vec::new(),
            projects: Vec::new(),
            apps: Vec::new(),
            appsets: Vec::new(),
        })
        .collect();
    // Clusters are spread over instances round-robin; every instance gets at least one.
    for (i, c) in clusters.iter().enumerate() {
        out[i % instances].clusters.push(c.clone());
    }
    for i in clusters.len()..instances {
        let c = clusters[i % clusters.len()].clone();
        out[i].clusters.push(c);
    }

    let mut rng = Rng::new(spec.seed);
    let mut used = std::collections::HashSet::new();
    // Fleets of a realistic size have ApplicationSets; their apps count towards `apps`, and
    // are made after the others, so the rest of the fleet is the same with or without them.
    let generated: usize = out
        .iter()
        .map(|i| super::appsets::generated_count(&i.clusters))
        .sum();
    let with_sets = spec.apps >= 40 && spec.apps >= generated * 4;
    let random = if with_sets {
        spec.apps - generated
    } else {
        spec.apps
    };
    for n in 0..random {
        let inst = n % instances;
        let cl = {
            let cs = &out[inst].clusters;
            cs[(n / instances) % cs.len()].clone()
        };
        let (service, team) = SERVICES[rng.below(SERVICES.len() as u64) as usize];
        let mut comp = COMPONENTS[rng.below(COMPONENTS.len() as u64) as usize];
        let short = cluster_short(&cl);
        let mut name = app_name(service, comp, &short);
        let mut k = 2;
        while !used.insert((inst, name.clone())) {
            comp = COMPONENTS[rng.below(COMPONENTS.len() as u64) as usize];
            name = format!("{}-{k}", app_name(service, comp, &short));
            k += 1;
        }
        let app = make_app(&mut rng, None, 0, &name, service, comp, team, &cl, now);
        out[inst].apps.push(app);
    }
    if with_sets {
        for inst in &mut out {
            inst.appsets = super::appsets::add(
                &inst.name,
                &inst.clusters,
                &mut inst.apps,
                &mut rng,
                spec.seed,
                now,
            );
        }
    }
    for inst in &mut out {
        inst.apps
            .sort_by(|a, b| a.app.metadata.name.cmp(&b.app.metadata.name));
        let mut teams: Vec<String> = inst
            .apps
            .iter()
            .map(|a| a.app.spec.project.clone())
            .collect();
        teams.sort();
        teams.dedup();
        inst.projects = teams
            .iter()
            .map(|t| make_project(t, &inst.clusters, now))
            .collect();
    }
    out
}

fn cluster_short(c: &ClusterData) -> String {
    // prod-eu-west-1-1 -> prod-euw1 (plus the cluster ordinal when above 1)
    let r: String = c
        .region
        .split('-')
        .map(|p| {
            if p.chars().all(|ch| ch.is_ascii_digit()) {
                p.to_string()
            } else {
                p[..1].to_string()
            }
        })
        .collect();
    let ord = c.name.rsplit('-').next().unwrap_or("1");
    if ord == "1" {
        format!("{}-{r}", c.env)
    } else {
        format!("{}-{r}-{ord}", c.env)
    }
}

fn app_name(service: &str, comp: &str, short: &str) -> String {
    if comp.is_empty() {
        format!("{service}-{short}")
    } else {
        format!("{service}-{comp}-{short}")
    }
}

fn make_project(team: &str, clusters: &[ClusterData], now: i64) -> AppProject {
    let mut p = AppProject::default();
    p.metadata.name = team.to_string();
    p.metadata.namespace = "argocd".into();
    p.metadata.uid = uid(team.len() as u64 * 7919, team);
    p.metadata.resource_version = "1042".into();
    p.metadata.creation_timestamp = Some(ts(now - 400 * 86_400));
    p.spec.description = format!("{team} team services");
    p.spec.source_repos = vec![
        format!("https://github.com/acme/{team}-deploy.git"),
        "https://charts.acme.dev".into(),
    ];
    p.spec.destinations = clusters
        .iter()
        .map(|c| ApplicationDestination {
            server: c.server.clone(),
            namespace: "*".into(),
            name: String::new(),
        })
        .collect();
    // Production changes are denied on Friday evenings; a nightly maintenance window.
    p.spec.sync_windows = vec![
        SyncWindow {
            kind: "deny".into(),
            schedule: "0 17 * * 5".into(),
            duration: "64h".into(),
            clusters: vec!["prod-*".into(), "*prod-*".into()],
            manual_sync: true,
            time_zone: "Europe/Amsterdam".into(),
            description: "no production changes over the weekend".into(),
            ..Default::default()
        },
        SyncWindow {
            kind: "allow".into(),
            schedule: "0 2 * * *".into(),
            duration: "2h".into(),
            namespaces: vec!["*".into()],
            clusters: vec![],
            applications: vec![],
            manual_sync: true,
            time_zone: "UTC".into(),
            description: "nightly maintenance".into(),
            ..Default::default()
        },
    ];
    p
}

/// A Kubernetes-looking uid from a salt and a name.
pub fn uid(salt: u64, name: &str) -> String {
    let mut r = Rng::new(
        salt ^ name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        }),
    );
    let a = r.next_u64();
    let b = r.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0xfff) as u16,
        ((b >> 48) as u16 & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Makes one app. `lineage`, when given, draws its release history (so apps made with the
/// same lineage share it), and `behind` drops that many of the latest releases (an
/// environment behind the next).
#[allow(clippy::too_many_arguments)]
pub fn make_app(
    rng: &mut Rng,
    lineage: Option<&mut Rng>,
    behind: usize,
    name: &str,
    service: &str,
    comp: &str,
    team: &str,
    cl: &ClusterData,
    now: i64,
) -> DemoApp {
    let kind = match comp {
        "db" | "cache" => WorkloadKind::StatefulSet,
        "cron" | "migrations" => WorkloadKind::CronJob,
        _ => WorkloadKind::Deployment,
    };
    let base = if comp.is_empty() {
        service.to_string()
    } else {
        format!("{service}-{comp}")
    };
    let namespace = match cl.env {
        "prod" => service.to_string(),
        env => format!("{service}-{env}"),
    };
    let image_repo = match kind {
        WorkloadKind::StatefulSet if comp == "db" => "docker.io/bitnami/postgresql".to_string(),
        WorkloadKind::StatefulSet => "docker.io/bitnami/redis".to_string(),
        _ => format!("registry.acme.dev/{team}/{base}"),
    };
    // The release history, drawn from the lineage when the app shares one.
    let h: &mut Rng = match lineage {
        Some(l) => l,
        None => rng,
    };
    // History: 1..=10 deployments, oldest first.
    let deployments = h.range(1, 10) as usize;
    let mut major = h.range(1, 4);
    let mut minor = h.range(0, 30);
    let mut patch = 0u64;
    // Deployment times, newest last: the latest 10 minutes to 30 days ago, each earlier one an
    // hour to two weeks before the next.
    let mut times = Vec::with_capacity(deployments);
    let mut t = now - h.range(600, 30 * 86_400) as i64;
    for _ in 0..deployments {
        times.push(t);
        t -= h.range(3600, 14 * 86_400) as i64;
    }
    times.reverse();
    let helm = h.chance(0.3);
    let repo = if helm {
        "https://charts.acme.dev".to_string()
    } else {
        format!("https://github.com/acme/{team}-deploy.git")
    };
    let path = format!("apps/{base}/overlays/{}", cl.env);
    let mut history = Vec::new();
    let mut tags = Vec::new();
    for (i, &t) in times.iter().enumerate() {
        if h.chance(0.3) {
            minor += 1;
            patch = 0;
        } else {
            patch += 1;
        }
        if h.chance(0.03) {
            major += 1;
        }
        let tag = if kind == WorkloadKind::StatefulSet {
            if comp == "db" {
                format!("16.{}.0", 2 + (minor % 4))
            } else {
                format!("7.2.{}", 4 + (minor % 3))
            }
        } else {
            format!("v{major}.{minor}.{patch}")
        };
        let revision = h.sha();
        let automated = h.chance(0.6);
        history.push(RevisionHistory {
            revision: if helm {
                tag.trim_start_matches('v').to_string()
            } else {
                revision
            },
            deployed_at: ts(t + 40),
            id: i as i64,
            source: Some(source(&repo, &path, base.as_str(), helm, &tag)),
            deploy_started_at: Some(ts(t)),
            initiated_by: Some(if automated {
                OperationInitiator {
                    username: String::new(),
                    automated: true,
                }
            } else {
                OperationInitiator {
                    username: h.pick(USERS).to_string(),
                    automated: false,
                }
            }),
            revisions: vec![],
        });
        tags.push(tag);
    }
    // An environment behind the next: its latest releases are not deployed here yet.
    if behind > 0 && history.len() > behind {
        history.truncate(history.len() - behind);
        tags.truncate(tags.len() - behind);
    }
    let tag = tags.last().cloned().unwrap_or_else(|| "v1.0.0".into());
    let revision = history
        .last()
        .map(|h| h.revision.clone())
        .unwrap_or_default();
    let prod = cl.env == "prod";
    let replicas = match kind {
        WorkloadKind::StatefulSet => 3,
        WorkloadKind::CronJob | WorkloadKind::AppOfApps => 1,
        WorkloadKind::Deployment if prod => rng.range(3, 12) as i64,
        WorkloadKind::Deployment => rng.range(1, 3) as i64,
    };
    let mut config = BTreeMap::new();
    config.insert(
        "LOG_LEVEL".to_string(),
        if prod { "info" } else { "debug" }.to_string(),
    );
    config.insert("HTTP_TIMEOUT".to_string(), format!("{}s", rng.range(2, 30)));
    config.insert(
        "FEATURE_NEW_CHECKOUT".to_string(),
        if rng.chance(0.5) { "true" } else { "false" }.to_string(),
    );
    config.insert("TLS_VERIFY".to_string(), "true".into());
    config.insert(
        "UPSTREAM_URL".to_string(),
        format!(
            "http://{}.{}.svc.cluster.local:8080",
            rng.pick(SERVICES).0,
            namespace
        ),
    );
    let mut w = Workload {
        kind,
        name: base.clone(),
        namespace: namespace.clone(),
        team: team.to_string(),
        env: cl.env,
        image_repo,
        tag,
        tag_history: tags,
        replicas,
        cpu_millis: *rng.pick(&[100, 250, 500, 1000]),
        memory_mib: *rng.pick(&[128, 256, 512, 1024, 2048]),
        port: *rng.pick(&[8080, 8080, 9090, 3000]),
        has_hpa: kind == WorkloadKind::Deployment && rng.chance(if prod { 0.5 } else { 0.15 }),
        has_ingress: kind == WorkloadKind::Deployment
            && (comp.is_empty() || comp == "admin")
            && rng.chance(0.6),
        has_rbac: rng.chance(0.45),
        has_pdb: prod && kind != WorkloadKind::CronJob && rng.chance(0.7),
        config,
        drifts: Vec::new(),
        pods: PodState::Running,
        rolling: false,
        created: now - rng.range(130 * 86_400, 700 * 86_400) as i64,
        salt: rng.next_u64(),
        deployed_tag: None,
        op_tag: None,
        orphans: Vec::new(),
        live_meta: BTreeMap::new(),
        canary: None,
        children: Vec::new(),
        migration_fails: false,
    };
    // Some Deployments are rolled out by Argo Rollouts as canaries: half of those with an
    // earlier version wait at the pause that needs a promotion, the others are complete. (Decided from the salt, after the
    // draws, so the rest of the fleet is the same with or without them.)
    if w.kind == WorkloadKind::Deployment && !w.has_hpa && w.salt % 7 == 2 {
        // A first deployment goes straight to full; a canary needs a stable version.
        let waiting = w.salt.is_multiple_of(2) && w.tag_history.len() >= 2;
        w.canary = Some(Canary {
            from_step: if waiting { 3 } else { CANARY_STEPS.len() },
            since: now - 3600,
            aborted: false,
            paused: false,
            restart_at: None,
            stable_tag: if waiting {
                tags_before_last(&w.tag_history)
            } else {
                None
            },
        });
    }

    let auto = rng.chance(if prod { 0.55 } else { 0.8 });
    let self_heal = auto && rng.chance(0.7);
    let mut app = Application {
        metadata: ObjectMeta {
            name: name.to_string(),
            namespace: "argocd".into(),
            uid: uid(w.salt, name),
            resource_version: String::new(),
            generation: rng.range(2, 400) as i64,
            creation_timestamp: Some(ts(w.created - 3600)),
            labels: [
                ("env".to_string(), cl.env.to_string()),
                ("team".to_string(), team.to_string()),
                ("region".to_string(), cl.region.to_string()),
            ]
            .into_iter()
            .collect(),
            annotations: [(
                "notifications.argoproj.io/subscribe.on-sync-failed.slack".to_string(),
                format!("{team}-alerts"),
            )]
            .into_iter()
            .collect(),
            finalizers: vec!["resources-finalizer.argocd.argoproj.io".into()],
            deletion_timestamp: None,
            owner_references: vec![],
        },
        ..Default::default()
    };
    app.spec.project = team.to_string();
    app.spec.source = Some(source(&repo, &path, &base, helm, &w.tag));
    app.spec.destination = if rng.chance(0.25) {
        ApplicationDestination {
            name: cl.name.clone(),
            namespace: namespace.clone(),
            server: String::new(),
        }
    } else {
        ApplicationDestination {
            server: cl.server.clone(),
            namespace: namespace.clone(),
            name: String::new(),
        }
    };
    app.spec.sync_policy = Some(SyncPolicy {
        automated: auto.then(|| SyncPolicyAutomated {
            prune: rng.chance(0.5),
            self_heal,
            ..Default::default()
        }),
        sync_options: vec![
            "CreateNamespace=true".into(),
            "ApplyOutOfSyncOnly=true".into(),
        ],
        retry: Some(RetryStrategy {
            limit: 5,
            backoff: Some(Backoff {
                duration: "5s".into(),
                factor: Some(2),
                max_duration: "3m".into(),
            }),
            refresh: false,
        }),
    });
    if w.has_hpa {
        app.spec.ignore_differences = vec![ResourceIgnoreDifferences {
            group: "apps".into(),
            kind: "Deployment".into(),
            json_pointers: vec!["/spec/replicas".into()],
            ..Default::default()
        }];
    }
    app.status.history = history;
    app.status.sync.revision = revision;
    app.status.source_type = if helm {
        "Helm".into()
    } else {
        "Kustomize".into()
    };
    app.status.controller_namespace = "argocd".into();

    // The believable mix: most apps are fine; the rest drift, degrade, progress or fail.
    let roll = rng.unit();
    let last_deploy = app
        .status
        .history
        .last()
        .and_then(|h| super::super::model::fleet::parse_time(&h.deployed_at))
        .unwrap_or(now - 3600);
    let drift_at = now - rng.range(120, 6 * 3600) as i64;
    if roll < 0.06 {
        let to = (w.replicas * 2).max(4);
        w.drifts.push(Drift::Replicas {
            to,
            by_hpa: false,
            at: drift_at,
        });
    } else if roll < 0.12 && w.kind == WorkloadKind::StatefulSet {
        // A database's password changed by hand (in place of the config and image edits,
        // which a database's operators rarely make).
        w.drifts.push(Drift::SecretValue { at: drift_at });
    } else if roll < 0.10 {
        let value = if prod { "debug" } else { "trace" };
        w.drifts.push(Drift::ConfigValue {
            key: "LOG_LEVEL".into(),
            value: value.into(),
            at: drift_at,
        });
    } else if roll < 0.12 && w.kind != WorkloadKind::StatefulSet {
        let tag = format!("{}-hotfix.{}", w.tag, rng.range(1, 3));
        w.drifts.push(Drift::Image { tag, at: drift_at });
    } else if roll < 0.135 && w.has_rbac {
        w.drifts.push(Drift::RbacBroadened { at: drift_at });
    } else if roll < 0.15 {
        w.drifts.push(Drift::Restarted { at: drift_at });
    } else if roll < 0.16 {
        let kind = match w.kind {
            WorkloadKind::CronJob => "CronJob",
            _ => "ConfigMap",
        };
        w.drifts.push(Drift::Deleted { kind, at: drift_at });
    } else if roll < 0.20 && w.kind == WorkloadKind::Deployment {
        w.pods = PodState::CrashLoop;
    } else if roll < 0.21 && w.kind == WorkloadKind::Deployment {
        w.pods = PodState::ImagePullBackOff;
    } else if roll < 0.25 && w.kind != WorkloadKind::CronJob {
        w.rolling = true;
    } else if roll < 0.26 {
        app.status.conditions.push(ApplicationCondition {
            kind: "ComparisonError".into(),
            message: format!(
                "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = authentication required for {repo}"
            ),
            last_transition_time: Some(ts(drift_at)),
        });
    }
    if w.has_hpa && rng.chance(0.3) && w.drifts.is_empty() {
        // The autoscaler moved replicas; ignoreDifferences keeps the app Synced.
        w.drifts.push(Drift::Replicas {
            to: w.replicas + rng.range(1, 6) as i64,
            by_hpa: true,
            at: drift_at,
        });
    }

    // The last operation.
    let op_roll = rng.unit();
    let (phase, message, started) = if w.rolling && op_roll < 0.5 {
        (
            "Running",
            "waiting for healthy state of apps/Deployment/".to_string() + &w.name,
            now - rng.range(5, 120) as i64,
        )
    } else if op_roll < 0.04 {
        (
            "Failed",
            format!(
                "one or more objects failed to apply, reason: admission webhook \"validate.kyverno.svc\" denied the request: image {}:{} is not signed",
                w.image_repo, w.tag
            ),
            last_deploy + 60,
        )
    } else {
        (
            "Succeeded",
            "successfully synced (all tasks run)".to_string(),
            last_deploy - 40,
        )
    };
    let finished = (phase != "Running").then(|| ts(started + rng.range(2, 90) as i64));
    app.status.operation_state = Some(OperationState {
        operation: Operation {
            sync: Some(SyncOperation {
                revision: app.status.sync.revision.clone(),
                sync_options: vec!["CreateNamespace=true".into()],
                ..Default::default()
            }),
            initiated_by: app
                .status
                .history
                .last()
                .and_then(|h| h.initiated_by.clone()),
            retry: Some(RetryStrategy {
                limit: 5,
                ..Default::default()
            }),
            info: vec![],
        },
        phase: phase.into(),
        message,
        sync_result: Some(SyncOperationResult {
            resources: vec![],
            revision: app.status.sync.revision.clone(),
            source: app.spec.source.clone(),
        }),
        started_at: ts(started),
        finished_at: finished,
        retry_count: 0,
    });
    app.status.reconciled_at = Some(ts(now - rng.range(5, 180) as i64));
    // Apps with a migration hook: one in five has a migration that fails; a running sync of
    // one waits in PreSync for its hook Job (hung, for long ones).
    if super::resources::has_migration_hook(&w) {
        w.migration_fails = w.salt.is_multiple_of(5);
        if let Some(op) = app.status.operation_state.as_mut()
            && op.phase == "Running"
        {
            // Hung: its migration has been running for 20 to 50 minutes.
            op.started_at = ts(now - 1200 - (w.salt % 1800) as i64);
            super::drift::start_hook(op, &w);
        }
    }
    DemoApp { app, w }
}

fn source(repo: &str, path: &str, chart: &str, helm: bool, tag: &str) -> ApplicationSource {
    if helm {
        ApplicationSource {
            repo_url: repo.to_string(),
            chart: chart.to_string(),
            target_revision: tag.trim_start_matches('v').to_string(),
            helm: Some(ApplicationSourceHelm {
                value_files: vec!["values.yaml".into()],
                release_name: chart.to_string(),
                parameters: vec![HelmParameter {
                    name: "image.tag".into(),
                    value: tag.to_string(),
                    force_string: true,
                }],
            }),
            ..Default::default()
        }
    } else {
        ApplicationSource {
            repo_url: repo.to_string(),
            path: path.to_string(),
            target_revision: "main".into(),
            ..Default::default()
        }
    }
}

/// Revision metadata (author, date, message) of a revision of an app, derived from the revision.
pub fn revision_metadata(app: &DemoApp, revision: &str) -> Option<RevisionMetadata> {
    let idx = app
        .app
        .status
        .history
        .iter()
        .position(|h| h.revision == revision)?;
    let h = &app.app.status.history[idx];
    let mut r = Rng::new(
        revision
            .bytes()
            .fold(7u64, |a, b| a.wrapping_mul(131).wrapping_add(b as u64)),
    );
    let tag = app.w.tag_history.get(idx).cloned().unwrap_or_default();
    let msg = r
        .pick(COMMIT_MESSAGES)
        .replace("{tag}", &tag)
        .replace("{env}", app.w.env);
    Some(RevisionMetadata {
        author: r.pick(AUTHORS).to_string(),
        date: h.deploy_started_at.as_ref().map(|t| {
            let secs = crate::model::fleet::parse_time(t).unwrap_or(0) - 300;
            ts(secs)
        }),
        tags: if tag.starts_with('v') {
            vec![tag]
        } else {
            vec![]
        },
        message: msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000;

    #[test]
    fn same_seed_same_fleet() {
        let spec = FleetSpec {
            apps: 300,
            clusters: 7,
            instances: 3,
            seed: 42,
        };
        assert_eq!(generate(&spec, NOW), generate(&spec, NOW));
        let other = generate(&FleetSpec { seed: 43, ..spec }, NOW);
        assert_ne!(generate(&spec, NOW), other);
    }

    #[test]
    fn counts_and_unique_names() {
        let spec = FleetSpec {
            apps: 2000,
            clusters: 50,
            instances: 3,
            seed: 1,
        };
        let f = generate(&spec, NOW);
        assert_eq!(f.len(), 3);
        assert_eq!(f.iter().map(|i| i.apps.len()).sum::<usize>(), 2000);
        assert_eq!(f.iter().map(|i| i.clusters.len()).sum::<usize>(), 50);
        for inst in &f {
            let mut names: Vec<_> = inst.apps.iter().map(|a| &a.app.metadata.name).collect();
            let n = names.len();
            names.dedup();
            assert_eq!(
                names.len(),
                n,
                "names unique and sorted within {}",
                inst.name
            );
            for a in &inst.apps {
                assert!(!a.app.status.history.is_empty());
                assert_eq!(a.w.tag_history.len(), a.app.status.history.len());
            }
        }
    }

    #[test]
    fn a_believable_mix() {
        let f = generate(
            &FleetSpec {
                apps: 3000,
                clusters: 10,
                instances: 2,
                seed: 9,
            },
            NOW,
        );
        let apps: Vec<&DemoApp> = f.iter().flat_map(|i| &i.apps).collect();
        let drifted = apps
            .iter()
            .filter(|a| {
                a.w.drifts
                    .iter()
                    .any(|d| !matches!(d, Drift::Replicas { by_hpa: true, .. }))
            })
            .count();
        let crash = apps
            .iter()
            .filter(|a| a.w.pods == PodState::CrashLoop)
            .count();
        assert!((200..700).contains(&drifted), "{drifted}");
        assert!((30..250).contains(&crash), "{crash}");
        let envs: std::collections::HashSet<_> = apps.iter().map(|a| a.w.env).collect();
        assert_eq!(envs.len(), 3);
    }

    #[test]
    fn uids_look_like_kubernetes_uids() {
        let u = uid(5, "x");
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
        assert_eq!(&u[14..15], "4");
    }
}
