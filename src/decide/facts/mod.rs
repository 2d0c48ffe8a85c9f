//! The policy input document: from a scenario (or a live app with its context), the facts a
//! decision is made from. Neutral facts only: what changed, where, by whom, by how much, what
//! the context says and about whom. What the facts *mean* is the policy's and the advisor's
//! business. Secret values are masked before anything else sees them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::scenario::{Context, Scenario, SourceState};
use super::tuning::Tuning;
use crate::diff::{self, managed, normalize::Normalizer};
use crate::model::app::{AppProject, Application};
use crate::windows::{self, AppTarget, WindowState};

mod evidence;
mod images;
mod incidents;
mod masking;
mod parsers;
mod quantity;

pub use evidence::numbers_in;
use evidence::*;
pub use images::{ImageRef, normalize_image, parse_image};
pub use incidents::concerns;
use incidents::*;
pub use masking::sanitize;
use masking::*;
use parsers::*;
pub use quantity::{parse_quantity, quantity_of};

/// Everything the policy reads (`input`), typed.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub now: DateTime<Utc>,
    /// `now` in nanoseconds since the epoch, for Rego's `time.*` builtins.
    pub now_ns: i64,
    pub app: AppFacts,
    pub resources: Vec<ResourceFacts>,
    pub context: ContextFacts,
    /// The sync windows of the app's project at `now`.
    pub window: WindowState,
    /// What driftdeck and its operators did to the app: a guided rollback that holds it, a
    /// deferral, an incident annotation, the journal's latest actions.
    pub handling: super::handling::Handling,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppFacts {
    pub name: String,
    pub namespace: String,
    pub project: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub destination: Destination,
    /// The environment, from a label (`env`, ...) or else from the names around the app;
    /// `unknown` when nothing says.
    pub environment: String,
    /// False only for a known non-production environment.
    pub production: bool,
    pub auto_sync: bool,
    pub self_heal: bool,
    pub prune: bool,
    /// Names the app is known by (its name, `app`/`app.kubernetes.io/name` labels, its
    /// workloads), lowercase: what incidents and alerts are matched against.
    pub identities: Vec<String>,
    /// Images Git declares now and images of past deployments (normalized references).
    pub images: ImageSets,
    /// The registries of those images (plus the trusted ones of the policy data).
    pub registries: RegistrySets,
    pub history: Vec<HistoryFacts>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Destination {
    pub server: String,
    pub name: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImageSets {
    pub git: Vec<String>,
    pub history: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RegistrySets {
    pub git: Vec<String>,
    pub history: Vec<String>,
    pub known: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryFacts {
    pub id: i64,
    pub revision: String,
    pub deployed_at: Option<String>,
    pub images: Vec<String>,
}

/// How a resource drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResState {
    /// In Git and live, different.
    Modified,
    /// In Git, missing live (deleted by hand).
    Missing,
    /// Live only: reverting it means deleting it (a prune).
    Extra,
    /// In Git and live, no difference left after normalization.
    InSync,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceFacts {
    /// `group/Kind/namespace/name`.
    pub key: String,
    /// `Kind/name`, as events and evidence ids name it.
    pub short: String,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub state: ResState,
    /// Normalized and masked (kept for the advisor; the policy input has them only for the
    /// kinds of `Tuning::objects_in_input`, as `desired` and `live`).
    #[serde(skip)]
    pub desired: Option<Value>,
    #[serde(skip)]
    pub live: Option<Value>,
    #[serde(rename = "desired", skip_serializing_if = "Option::is_none")]
    pub input_desired: Option<Value>,
    #[serde(rename = "live", skip_serializing_if = "Option::is_none")]
    pub input_live: Option<Value>,
    pub changes: Vec<ChangeFacts>,
    pub managers: Vec<ManagerFacts>,
    pub owners: Vec<OwnerFacts>,
    /// An autoscaler (HPA, KEDA ScaledObject) targets this workload.
    pub autoscaled: bool,
    pub autoscaler: Option<String>,
    pub images: Vec<ImageChange>,
    pub settings: Vec<SettingChange>,
}

/// One changed leaf. `old` is what Git declares, `new` what the cluster has (`null` where
/// absent: see `op`).
#[derive(Debug, Clone, Serialize)]
pub struct ChangeFacts {
    /// Evidence id: `change:Kind/name/json/pointer`.
    pub id: String,
    pub path: String,
    /// The last segment of the path, unescaped: the field, label or annotation name.
    pub leaf: String,
    /// `add` (only live has it), `remove` (only Git has it), `replace`.
    pub op: &'static str,
    pub old: Value,
    pub new: Value,
    /// `replicas`, `resources`, `image`, `metadata`, `config`, `secret-data`, `suspend`,
    /// `other`.
    pub category: &'static str,
    pub manager: Option<String>,
    pub operation: Option<String>,
    pub subresource: Option<String>,
    pub time: Option<String>,
    /// For replicas and resource quantities: the numbers (`500m` → 0.5, `1Gi` → 1073741824).
    pub quantity: Option<Quantity>,
    /// The manager matches the policy data's `autoscaler_managers` pattern.
    pub autoscaler_manager: bool,
    /// For metadata changes: the leaf (label or annotation name) matches the policy data's
    /// `security_metadata` / `operational_metadata` patterns.
    pub security_metadata: bool,
    pub operational_metadata: bool,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Quantity {
    pub old: Option<f64>,
    pub new: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ManagerFacts {
    pub manager: String,
    pub operation: String,
    pub subresource: String,
    pub time: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OwnerFacts {
    pub kind: String,
    pub name: String,
    pub api_version: String,
    pub controller: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageChange {
    pub container: String,
    pub path: String,
    pub old: Option<String>,
    pub new: Option<String>,
    pub old_registry: Option<String>,
    pub new_registry: Option<String>,
    /// The new image's registry is one Git, the history or the trusted list uses.
    pub registry_known: bool,
    /// The new image is exactly one a past deployment of the app ran.
    pub in_history: bool,
    /// The new image is one Git declares (for another container or resource).
    pub in_git: bool,
    /// Same repository and tag, only a digest added: a pin, not a different image.
    pub digest_pin: bool,
    pub manager: Option<String>,
    /// Written by Argo CD itself (a sync or a rollback): not a hand change.
    pub by_argocd: bool,
    /// Written by a person's tool (kubectl, k9s, a dashboard).
    pub by_human: bool,
}

/// A changed configuration setting: a ConfigMap key, a key inside a ConfigMap file, an
/// environment variable, a command-line flag.
#[derive(Debug, Clone, Serialize)]
pub struct SettingChange {
    /// `configmap`, `configmap-file`, `env`, `args`.
    pub source: &'static str,
    pub container: Option<String>,
    pub file: Option<String>,
    pub key: String,
    pub old: Value,
    pub new: Value,
    pub path: String,
    pub manager: Option<String>,
    /// The key names a credential (its values are masked).
    pub credential: bool,
    /// The key matches the policy data's `security_key` / `negative_security_key` patterns.
    pub security: bool,
    pub negative: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContextFacts {
    /// Whether any context source was configured (a scenario without `context`: no).
    pub configured: bool,
    pub signals: BTreeMap<String, SignalFacts>,
    pub incidents: Vec<IncidentFacts>,
    pub alerts: Vec<AlertFacts>,
    pub events: Vec<Value>,
    pub sources: BTreeMap<String, SourceState>,
    /// The state of the metrics, incidents and alerts sources: `ok`, `stale`, `failed`, or
    /// `absent` (not configured, or no data from it).
    pub metrics: &'static str,
    pub incidents_source: &'static str,
    pub alerts_source: &'static str,
    pub open_incident_for_app: bool,
    pub firing_alert_for_app: bool,
    /// The highest and lowest value/baseline ratio among the load signals (request rate,
    /// CPU, ...), if any has a baseline.
    pub max_load_ratio: Option<f64>,
    pub min_load_ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignalFacts {
    pub value: f64,
    pub baseline: Option<f64>,
    pub ratio: Option<f64>,
    pub unit: Option<String>,
    /// `load` (traffic, CPU: what justifies scaling), `quality` (errors, latency), `other`.
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentFacts {
    pub id: String,
    pub title: String,
    pub service: String,
    pub status: String,
    pub urgency: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub open: bool,
    pub concerns_app: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertFacts {
    pub name: String,
    pub severity: Option<String>,
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "startsAt")]
    pub starts_at: Option<DateTime<Utc>>,
    pub concerns_app: bool,
}

/// A piece of evidence an advisor may cite, by id.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evidence {
    pub id: String,
    pub text: String,
    /// The numbers this evidence states (what quoted figures are checked against).
    pub numbers: Vec<f64>,
}

/// The facts and their evidence catalogue.
#[derive(Debug, Clone)]
pub struct Facts {
    pub input: Input,
    pub evidence: Vec<Evidence>,
}

impl Facts {
    pub fn input_json(&self) -> Value {
        serde_json::to_value(&self.input).unwrap_or(Value::Null)
    }

    pub fn evidence(&self, id: &str) -> Option<&Evidence> {
        self.evidence.iter().find(|e| e.id == id)
    }
}

fn s(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("").to_string()
}

fn str_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the facts of a scenario.
pub fn build(sc: &Scenario, tuning: &Tuning) -> Result<Facts, String> {
    let app_v = &sc.app;
    let app_typed: Application = serde_json::from_value(app_v.clone())
        .map_err(|e| format!("the Application is not valid: {e}"))?;
    let project: Option<AppProject> = match &sc.project {
        Some(p) => Some(
            serde_json::from_value(p.clone())
                .map_err(|e| format!("the AppProject is not valid: {e}"))?,
        ),
        None => None,
    };

    // Resources first: identities and images come from them.
    let mut resources = Vec::with_capacity(sc.resources.len());
    for (i, r) in sc.resources.iter().enumerate() {
        resources.push(
            resource(r.desired.as_ref(), r.live.as_ref(), tuning)
                .map_err(|e| format!("resource {}: {e}", i + 1))?,
        );
    }

    let app = app_facts(app_v, &app_typed, &sc.resources, &resources, tuning);
    let handling = super::handling::Handling::of(app_v, &sc.actions);
    let mut ctx = context_facts(sc.context.as_ref(), &app, tuning);
    annotated_incident(&mut ctx, &handling, &app);
    for r in &mut resources {
        autoscaling(r, sc, app_v);
        image_facts(r, &app, tuning);
    }
    let target = AppTarget::of(&app_typed);
    let window = windows::evaluate(
        project
            .as_ref()
            .map(|p| p.spec.sync_windows.as_slice())
            .unwrap_or(&[]),
        &target,
        sc.now,
    );
    let input = Input {
        now: sc.now,
        now_ns: sc.now.timestamp_nanos_opt().unwrap_or(0),
        app,
        resources,
        context: ctx,
        window,
        handling,
    };
    let evidence = catalogue(&input);
    Ok(Facts { input, evidence })
}

// ---------------------------------------------------------------------------------------------
// The app.

fn app_facts(
    v: &Value,
    app: &Application,
    raw: &[super::scenario::DriftedResource],
    resources: &[ResourceFacts],
    tuning: &Tuning,
) -> AppFacts {
    let labels = str_map(v.pointer("/metadata/labels"));
    let annotations = str_map(v.pointer("/metadata/annotations"));
    let destination = Destination {
        server: app.spec.destination.server.clone(),
        name: app.spec.destination.name.clone(),
        namespace: app.spec.destination.namespace.clone(),
    };
    let environment = environment(&labels, app, &destination, tuning);
    let production = !tuning.non_production.contains(&environment);
    let automated = v.pointer("/spec/syncPolicy/automated");
    let auto_sync = automated
        .is_some_and(|a| !a.is_null() && a.get("enabled").and_then(Value::as_bool) != Some(false));
    let flag = |k: &str| {
        automated
            .and_then(|a| a.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };

    // Identities.
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut add = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        if !s.is_empty() {
            ids.insert(s);
        }
    };
    add(&app.metadata.name);
    for k in [
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app",
        "service",
        "k8s-app",
    ] {
        if let Some(v) = labels.get(k) {
            add(v);
        }
    }
    if let Some(list) = annotations.get("driftdeck.io/service") {
        for s in list.split(',') {
            add(s);
        }
    }
    for r in raw {
        for obj in [r.desired.as_ref(), r.live.as_ref()].into_iter().flatten() {
            let kind = s(obj.get("kind"));
            if matches!(
                kind.as_str(),
                "Deployment"
                    | "StatefulSet"
                    | "DaemonSet"
                    | "Rollout"
                    | "Service"
                    | "CronJob"
                    | "Job"
            ) {
                add(&s(obj.pointer("/metadata/name")));
            }
            for p in [
                "/metadata/labels",
                "/spec/template/metadata/labels",
                "/spec/selector/matchLabels",
            ] {
                let l = str_map(obj.pointer(p));
                for k in ["app.kubernetes.io/name", "app"] {
                    if let Some(v) = l.get(k) {
                        add(v);
                    }
                }
            }
        }
    }
    let _ = resources;

    // Images: Git (every container of every desired object, and the source's overrides) and
    // history (the overrides of past deployments).
    let mut git: BTreeSet<String> = BTreeSet::new();
    for r in raw {
        if let Some(d) = &r.desired {
            for (_, _, img) in containers(d) {
                if let Some(n) = normalize_image(&img) {
                    git.insert(n);
                }
            }
        }
    }
    for src in sources_of(v.get("spec")) {
        for img in source_images(src) {
            git.insert(img);
        }
    }
    let mut history = Vec::new();
    let mut hist_images: BTreeSet<String> = BTreeSet::new();
    if let Some(list) = v.pointer("/status/history").and_then(Value::as_array) {
        for h in list {
            let mut images: BTreeSet<String> = BTreeSet::new();
            for src in sources_of(Some(h)) {
                images.extend(source_images(src));
            }
            if let Some(list) = h.get("images").and_then(Value::as_array) {
                images.extend(
                    list.iter()
                        .filter_map(Value::as_str)
                        .filter_map(normalize_image),
                );
            }
            hist_images.extend(images.iter().cloned());
            history.push(HistoryFacts {
                id: h.get("id").and_then(Value::as_i64).unwrap_or(0),
                revision: s(h.get("revision")),
                deployed_at: h
                    .get("deployedAt")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                images: images.into_iter().collect(),
            });
        }
    }
    let reg = |set: &BTreeSet<String>| -> Vec<String> {
        set.iter()
            .filter_map(|i| parse_image(i).map(|p| p.registry))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let git_regs = reg(&git);
    let hist_regs = reg(&hist_images);
    let mut known: BTreeSet<String> = git_regs.iter().chain(hist_regs.iter()).cloned().collect();
    known.extend(
        tuning
            .trusted_registries
            .iter()
            .map(|r| r.to_ascii_lowercase()),
    );

    AppFacts {
        name: app.metadata.name.clone(),
        namespace: app.metadata.namespace.clone(),
        project: app.spec.project.clone(),
        labels,
        annotations,
        destination,
        environment,
        production,
        auto_sync,
        self_heal: flag("selfHeal"),
        prune: flag("prune"),
        identities: ids.into_iter().collect(),
        images: ImageSets {
            git: git.into_iter().collect(),
            history: hist_images.into_iter().collect(),
        },
        registries: RegistrySets {
            git: git_regs,
            history: hist_regs,
            known: known.into_iter().collect(),
        },
        history,
    }
}

fn environment(
    labels: &BTreeMap<String, String>,
    app: &Application,
    dest: &Destination,
    tuning: &Tuning,
) -> String {
    for k in &tuning.environment_labels {
        if let Some(v) = labels.get(k) {
            let v = v.trim().to_ascii_lowercase();
            if !v.is_empty() {
                return v;
            }
        }
    }
    let texts = [
        dest.namespace.as_str(),
        app.metadata.name.as_str(),
        dest.name.as_str(),
        dest.server.as_str(),
        app.spec.project.as_str(),
    ];
    for t in texts {
        for tok in t
            .to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|t| !t.is_empty())
        {
            if tuning.production.iter().any(|p| p == tok)
                || tuning.non_production.iter().any(|p| p == tok)
            {
                return tok.to_string();
            }
        }
    }
    "unknown".into()
}

fn sources_of(spec: Option<&Value>) -> Vec<&Value> {
    let mut out = Vec::new();
    if let Some(spec) = spec {
        if let Some(s) = spec.get("source").filter(|s| s.is_object()) {
            out.push(s);
        }
        if let Some(list) = spec.get("sources").and_then(Value::as_array) {
            out.extend(list.iter().filter(|s| s.is_object()));
        }
    }
    out
}

/// Images a source overrides: Kustomize `images` (`[name=]newName[:tag][@digest]`) and Helm
/// parameters that name an image (`image`, `*.image`, or a `repository` + `tag` pair).
fn source_images(src: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(list) = src.pointer("/kustomize/images").and_then(Value::as_array) {
        for i in list.iter().filter_map(Value::as_str) {
            let image = i.rsplit_once('=').map(|(_, r)| r).unwrap_or(i);
            if let Some(n) = normalize_image(image) {
                out.push(n);
            }
        }
    }
    if let Some(params) = src.pointer("/helm/parameters").and_then(Value::as_array) {
        let mut by_name: BTreeMap<String, String> = BTreeMap::new();
        for p in params {
            by_name.insert(s(p.get("name")), s(p.get("value")));
        }
        for (k, v) in &by_name {
            if (k == "image" || k.ends_with(".image"))
                && let Some(n) = normalize_image(v)
            {
                out.push(n);
            }
            if let Some(prefix) = k.strip_suffix("repository")
                && let Some(tag) = by_name.get(&format!("{prefix}tag"))
                && let Some(n) = normalize_image(&format!("{v}:{tag}"))
            {
                out.push(n);
            }
        }
    }
    out
}

/// The containers of a workload-like object: (pointer of the container, name, image).
fn containers(obj: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for spec in [
        "/spec/template/spec",
        "/spec/jobTemplate/spec/template/spec",
        "/spec",
    ] {
        let Some(pod) = obj.pointer(spec) else {
            continue;
        };
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            if let Some(cs) = pod.get(list).and_then(Value::as_array) {
                for (i, c) in cs.iter().enumerate() {
                    if let Some(img) = c.get("image").and_then(Value::as_str) {
                        out.push((
                            format!("{spec}/{list}/{i}"),
                            s(c.get("name")),
                            img.to_string(),
                        ));
                    }
                }
            }
        }
        if !out.is_empty() {
            break;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// One resource.

/// Fields the API server or a controller fills in when Git leaves them out.
const SERVER_POPULATED: &[&str] = &[
    r"^/spec/clusterIPs?$",
    r"^/spec/ipFamilies$",
    r"^/spec/ipFamilyPolicy$",
    r"^/spec/internalTrafficPolicy$",
    r"^/spec/ports/\d+/nodePort$",
    r"^/spec/healthCheckNodePort$",
    r"^/spec/allocateLoadBalancerNodePorts$",
    r"^/spec/sessionAffinity$",
    r"^/spec/volumeName$",
    r"^/spec/nodeName$",
    r"^/metadata/finalizers(/|$)",
    r"^/metadata/ownerReferences(/|$)",
    r"^/metadata/annotations/deployment\.kubernetes\.io~1revision$",
    r"^/metadata/annotations/autoscaling\.alpha\.kubernetes\.io~1",
    r"^/metadata/annotations/control-plane\.alpha\.kubernetes\.io~1leader$",
    r"^/metadata/annotations/pv\.kubernetes\.io~1",
    r"^/metadata/annotations/volume\.(beta\.)?kubernetes\.io~1",
    r"^/webhooks/\d+/clientConfig/caBundle$",
    r"^/spec/caBundle$",
    r"^/spec/conversion/webhook/clientConfig/caBundle$",
    r"^/secrets(/|$)",
    r"^/spec/selector/matchLabels/(controller-uid|batch\.kubernetes\.io~1controller-uid)$",
    r"^/spec/template/metadata/labels/(controller-uid|job-name|batch\.kubernetes\.io~1)",
];

fn server_populated() -> &'static regex::RegexSet {
    static SET: std::sync::OnceLock<regex::RegexSet> = std::sync::OnceLock::new();
    SET.get_or_init(|| regex::RegexSet::new(SERVER_POPULATED).expect("literal regular expressions"))
}

fn strip_server_fields(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            meta.shift_remove(k);
        }
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.shift_remove("kubectl.kubernetes.io/last-applied-configuration");
            if a.is_empty() {
                meta.shift_remove("annotations");
            }
        }
    }
}

fn resource(
    desired: Option<&Value>,
    live: Option<&Value>,
    tuning: &Tuning,
) -> Result<ResourceFacts, String> {
    let norm = Normalizer::default();
    let prep = |v: &Value| {
        let mut v = v.clone();
        norm.normalize(&mut v);
        strip_server_fields(&mut v);
        v
    };
    let mut d = desired.map(prep);
    let mut l = live.map(prep);
    diff::normalize::hide_secret_data(d.as_mut(), l.as_mut());
    let credential_masks = mask_credentials(d.as_mut(), l.as_mut(), tuning);

    let any = live.or(desired).ok_or("neither desired nor live")?;
    let (group, version) = crate::health::group_version(any);
    let (group, version) = (group.to_string(), version.to_string());
    let kind = s(any.get("kind"));
    let name = s(any.pointer("/metadata/name"));
    let namespace = s(any.pointer("/metadata/namespace"));
    let short = format!("{kind}/{name}");

    let raw_changes = match (&l, &d) {
        (Some(lv), Some(dv)) => diff::changes(Some(lv), Some(dv), None),
        _ => Vec::new(),
    };
    let mut defaulted = d.clone();
    if let Some(dd) = defaulted.as_mut() {
        diff::threeway::default(&group, &version, &kind, dd);
    }
    let entries = live.map(managed::entries).unwrap_or_default();
    let mut changes = Vec::new();
    for c in raw_changes {
        flatten(
            &c.path,
            c.desired.as_ref(),
            c.live.as_ref(),
            &mut |path, old, new| {
                if old.is_none() && new.is_some() {
                    // Only live has it: an API default or a server-populated field is no drift.
                    if server_populated().is_match(path) {
                        return;
                    }
                    if path == "/spec/externalTrafficPolicy" && new == Some(&json!("Cluster")) {
                        return;
                    }
                    if let Some(dv) = defaulted.as_ref().and_then(|dd| dd.pointer(path))
                        && Some(dv) == new
                    {
                        return;
                    }
                }
                let op = match (old, new) {
                    (None, Some(_)) => "add",
                    (Some(_), None) => "remove",
                    _ => "replace",
                };
                let owner = if new.is_some() {
                    live.and_then(|raw| managed::owner(&entries, raw, path))
                } else {
                    None
                };
                let category = category(&kind, path);
                let quantity = match category {
                    "replicas" | "resources" => Some(Quantity {
                        old: old.and_then(quantity_of),
                        new: new.and_then(quantity_of),
                    }),
                    _ => None,
                };
                changes.push(ChangeFacts {
                    id: format!("change:{short}{path}"),
                    path: path.to_string(),
                    leaf: unescape(path.rsplit('/').next().unwrap_or("")),
                    op,
                    old: old.cloned().unwrap_or(Value::Null),
                    new: new.cloned().unwrap_or(Value::Null),
                    category,
                    manager: owner.map(|o| o.manager.clone()),
                    operation: owner.map(|o| o.operation.clone()),
                    subresource: owner
                        .map(|o| o.subresource.clone())
                        .filter(|s| !s.is_empty()),
                    time: owner.and_then(|o| o.time.clone()),
                    quantity,
                    autoscaler_manager: false,
                    security_metadata: false,
                    operational_metadata: false,
                });
            },
        );
    }
    let state = match (&d, &l) {
        (Some(_), None) => ResState::Missing,
        (None, Some(_)) => ResState::Extra,
        _ if changes.is_empty() => ResState::InSync,
        _ => ResState::Modified,
    };
    let managers = entries
        .iter()
        .map(|e| ManagerFacts {
            manager: e.manager.clone(),
            operation: e.operation.clone(),
            subresource: e.subresource.clone(),
            time: e.time.clone(),
        })
        .collect();
    let owners = live
        .and_then(|l| l.pointer("/metadata/ownerReferences"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|o| OwnerFacts {
                    kind: s(o.get("kind")),
                    name: s(o.get("name")),
                    api_version: s(o.get("apiVersion")),
                    controller: o
                        .get("controller")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut settings = settings(
        &kind,
        &changes,
        d.as_ref(),
        l.as_ref(),
        tuning,
        &credential_masks,
    );
    // The pattern classifications of the policy data, once per input rather than once per
    // rule that asks (a regex match is the costliest thing a rule does).
    let mut changes = changes;
    for c in &mut changes {
        c.autoscaler_manager = c
            .manager
            .as_deref()
            .is_some_and(|m| tuning.autoscaler_managers.is_match(m));
        if c.category == "metadata" {
            c.security_metadata = tuning.security_metadata.is_match(&c.leaf);
            c.operational_metadata = tuning.operational_metadata.is_match(&c.leaf);
        }
    }
    for st in &mut settings {
        st.security = tuning.security_key.is_match(&st.key);
        st.negative = tuning.negative_security_key.is_match(&st.key);
    }
    let objects = tuning.objects_in_input(&kind);
    let (input_desired, input_live) = if objects {
        // `null` where a side is absent, as before the split.
        (
            Some(d.clone().unwrap_or(Value::Null)),
            Some(l.clone().unwrap_or(Value::Null)),
        )
    } else {
        (None, None)
    };
    Ok(ResourceFacts {
        input_desired,
        input_live,
        key: format!("{group}/{kind}/{namespace}/{name}"),
        short,
        group,
        version,
        kind,
        namespace,
        name,
        state,
        desired: d,
        live: l,
        changes,
        managers,
        owners,
        autoscaled: false,
        autoscaler: None,
        images: Vec::new(),
        settings,
    })
}

/// Called with each leaf change: (pointer, Git's value, live's value).
type LeafFn<'a> = dyn FnMut(&str, Option<&Value>, Option<&Value>) + 'a;

/// Expands a change whose one side is an object (or a list of objects) into its leaves, so
/// that an added `securityContext: {privileged: true}` shows as `.../privileged`.
fn flatten(path: &str, old: Option<&Value>, new: Option<&Value>, f: &mut LeafFn) {
    let expandable = |v: Option<&Value>| match v {
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::Array(a)) => !a.is_empty() && a.iter().any(|x| x.is_object() || x.is_array()),
        _ => false,
    };
    let one_sided = old.is_none_or(Value::is_null) || new.is_none_or(Value::is_null);
    if one_sided && (expandable(old) || expandable(new)) {
        let side = if expandable(old) { old } else { new };
        let is_old = expandable(old);
        match side {
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                    if is_old {
                        flatten(&p, Some(v), None, f);
                    } else {
                        flatten(&p, None, Some(v), f);
                    }
                }
            }
            Some(Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    let p = format!("{path}/{i}");
                    if is_old {
                        flatten(&p, Some(v), None, f);
                    } else {
                        flatten(&p, None, Some(v), f);
                    }
                }
            }
            _ => {}
        }
        return;
    }
    f(
        path,
        old.filter(|v| !v.is_null()),
        new.filter(|v| !v.is_null()),
    );
}

/// What part of a resource a path is.
pub fn category(kind: &str, path: &str) -> &'static str {
    static RES: std::sync::OnceLock<[regex::Regex; 6]> = std::sync::OnceLock::new();
    let [resources, image, meta, env, args, tmpl_meta] = RES.get_or_init(|| {
        let r = re;
        [
            r(r"/(containers|initContainers)/\d+/resources/(requests|limits)/[^/]+$"),
            r(r"/(containers|initContainers|ephemeralContainers)/\d+/image$"),
            r(r"^/metadata/(labels|annotations)(/|$)"),
            r(r"/(containers|initContainers)/\d+/(env|envFrom)(/|$)"),
            r(r"/(containers|initContainers)/\d+/(args|command)(/|$)"),
            r(r"/template/metadata/(labels|annotations)(/|$)"),
        ]
    });
    match (kind, path) {
        (_, "/spec/replicas") => "replicas",
        ("HorizontalPodAutoscaler", "/spec/minReplicas" | "/spec/maxReplicas") => "replicas",
        ("ScaledObject", "/spec/minReplicaCount" | "/spec/maxReplicaCount") => "replicas",
        ("CronJob", "/spec/suspend") | ("Job", "/spec/suspend") => "suspend",
        ("Secret", p)
            if p.starts_with("/data/") || p.starts_with("/stringData/") || p == "/type" =>
        {
            "secret-data"
        }
        ("ConfigMap", p) if p.starts_with("/data/") || p.starts_with("/binaryData/") => "config",
        (_, p) if resources.is_match(p) => "resources",
        (_, p) if image.is_match(p) => "image",
        (_, p) if meta.is_match(p) || tmpl_meta.is_match(p) => "metadata",
        (_, p) if env.is_match(p) || args.is_match(p) => "config",
        _ => "other",
    }
}

/// The container (name) a pointer under a pod spec belongs to, and the pointer of that
/// container.
fn container_of(path: &str, d: Option<&Value>, l: Option<&Value>) -> Option<(String, String)> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pat =
        RE.get_or_init(|| re(r"^(.*/(containers|initContainers|ephemeralContainers)/\d+)(/|$)"));
    let cap = pat.captures(path)?;
    let cpath = cap.get(1)?.as_str().to_string();
    let name = l
        .and_then(|l| l.pointer(&format!("{cpath}/name")))
        .or_else(|| d.and_then(|d| d.pointer(&format!("{cpath}/name"))))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some((name, cpath))
}

fn unescape(k: &str) -> String {
    k.replace("~1", "/").replace("~0", "~")
}

fn settings(
    kind: &str,
    changes: &[ChangeFacts],
    d: Option<&Value>,
    l: Option<&Value>,
    tuning: &Tuning,
    masked: &BTreeSet<String>,
) -> Vec<SettingChange> {
    let mut out = Vec::new();
    for c in changes.iter().filter(|c| c.category == "config") {
        if kind == "ConfigMap" {
            let rest = c
                .path
                .strip_prefix("/data/")
                .or_else(|| c.path.strip_prefix("/binaryData/"));
            let Some(key) = rest.map(unescape) else {
                continue;
            };
            let credential = masked.contains(&key) || tuning.credential_key.is_match(&key);
            out.push(SettingChange {
                source: "configmap",
                container: None,
                file: None,
                key: key.clone(),
                old: c.old.clone(),
                new: c.new.clone(),
                path: c.path.clone(),
                manager: c.manager.clone(),
                credential,
                security: false,
                negative: false,
            });
            if let (Some(o), Some(n)) = (c.old.as_str(), c.new.as_str()) {
                for (k, ov, nv) in file_changes(o, n) {
                    let credential = tuning.credential_key.is_match(&k);
                    let mask = |v: Value| {
                        if credential && !v.is_null() {
                            json!("++++++++")
                        } else {
                            v
                        }
                    };
                    out.push(SettingChange {
                        source: "configmap-file",
                        container: None,
                        file: Some(key.clone()),
                        key: k,
                        old: mask(ov),
                        new: mask(nv),
                        path: c.path.clone(),
                        manager: c.manager.clone(),
                        credential,
                        security: false,
                        negative: false,
                    });
                }
            }
            continue;
        }
        let Some((container, cpath)) = container_of(&c.path, d, l) else {
            continue;
        };
        let rest = &c.path[cpath.len()..];
        if let Some(env_rest) = rest.strip_prefix("/env/") {
            // `/env/3/value`: the variable's name from either side.
            let mut parts = env_rest.splitn(2, '/');
            let idx = parts.next().unwrap_or("");
            let field = parts.next().unwrap_or("");
            if field != "value" {
                continue;
            }
            let name_ptr = format!("{cpath}/env/{idx}/name");
            let key = l
                .and_then(|l| l.pointer(&name_ptr))
                .or_else(|| d.and_then(|d| d.pointer(&name_ptr)))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            out.push(SettingChange {
                source: "env",
                container: Some(container.clone()),
                file: None,
                credential: masked.contains(&key) || tuning.credential_key.is_match(&key),
                security: false,
                negative: false,
                key,
                old: c.old.clone(),
                new: c.new.clone(),
                path: c.path.clone(),
                manager: c.manager.clone(),
            });
        } else if rest == "/args" || rest == "/command" {
            let old = flags(&c.old);
            let new = flags(&c.new);
            let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for k in keys {
                let (o, n) = (old.get(k), new.get(k));
                if o == n {
                    continue;
                }
                out.push(SettingChange {
                    source: "args",
                    container: Some(container.clone()),
                    file: None,
                    key: k.clone(),
                    old: o.map(|v| json!(v)).unwrap_or(Value::Null),
                    new: n.map(|v| json!(v)).unwrap_or(Value::Null),
                    path: c.path.clone(),
                    manager: c.manager.clone(),
                    credential: masked.contains(k) || tuning.credential_key.is_match(k),
                    security: false,
                    negative: false,
                });
            }
        }
    }
    out
}

/// Marks a workload that an autoscaler targets: an HPA or ScaledObject among the scenario's
/// resources whose `scaleTargetRef` names it, one of the same name in the app's resource list,
/// or a rescale event of one.
fn autoscaling(r: &mut ResourceFacts, sc: &Scenario, app: &Value) {
    const SCALERS: [&str; 2] = ["HorizontalPodAutoscaler", "ScaledObject"];
    for other in &sc.resources {
        for obj in [other.desired.as_ref(), other.live.as_ref()]
            .into_iter()
            .flatten()
        {
            let kind = s(obj.get("kind"));
            if SCALERS.contains(&kind.as_str()) {
                let target = obj.pointer("/spec/scaleTargetRef");
                let tname = s(target.and_then(|t| t.get("name")));
                let tkind = s(target.and_then(|t| t.get("kind")));
                if tname == r.name && (tkind.is_empty() || tkind == r.kind) {
                    r.autoscaled = true;
                    r.autoscaler = Some(format!("{kind}/{}", s(obj.pointer("/metadata/name"))));
                    return;
                }
            }
        }
    }
    if let Some(list) = app.pointer("/status/resources").and_then(Value::as_array) {
        for it in list {
            let kind = s(it.get("kind"));
            if SCALERS.contains(&kind.as_str())
                && s(it.get("name")) == r.name
                && (s(it.get("namespace")) == r.namespace || r.namespace.is_empty())
            {
                r.autoscaled = true;
                r.autoscaler = Some(format!("{kind}/{}", r.name));
                return;
            }
        }
    }
    if let Some(ctx) = &sc.context {
        for e in &ctx.events {
            if let Some((kind, name)) = e.object.split_once('/')
                && SCALERS.contains(&kind)
                && name == r.name
                && e.reason == "SuccessfulRescale"
            {
                r.autoscaled = true;
                r.autoscaler = Some(e.object.clone());
                return;
            }
        }
    }
}

fn image_facts(r: &mut ResourceFacts, app: &AppFacts, tuning: &Tuning) {
    let mut out = Vec::new();
    for c in r.changes.iter().filter(|c| c.category == "image") {
        let (container, _) =
            container_of(&c.path, r.desired.as_ref(), r.live.as_ref()).unwrap_or_default();
        let old = c.old.as_str().map(str::to_string);
        let new = c.new.as_str().map(str::to_string);
        let old_ref = old.as_deref().and_then(parse_image);
        let new_ref = new.as_deref().and_then(parse_image);
        let new_norm = new_ref.as_ref().map(ImageRef::canonical);
        let registry_known = new_ref
            .as_ref()
            .is_some_and(|n| app.registries.known.contains(&n.registry));
        let digest_pin = match (&old_ref, &new_ref) {
            (Some(o), Some(n)) => {
                o.registry == n.registry
                    && o.repository == n.repository
                    && o.tag == n.tag
                    && o.digest.is_none()
                    && n.digest.is_some()
            }
            _ => false,
        };
        out.push(ImageChange {
            container,
            path: c.path.clone(),
            old,
            new,
            old_registry: old_ref.map(|r| r.registry),
            new_registry: new_ref.as_ref().map(|r| r.registry.clone()),
            registry_known,
            in_history: new_norm
                .as_ref()
                .is_some_and(|n| app.images.history.contains(n)),
            in_git: new_norm
                .as_ref()
                .is_some_and(|n| app.images.git.contains(n)),
            digest_pin,
            by_argocd: c
                .manager
                .as_deref()
                .is_some_and(|m| tuning.argocd_managers.is_match(m)),
            by_human: c
                .manager
                .as_deref()
                .is_some_and(|m| tuning.human_managers.is_match(m)),
            manager: c.manager.clone(),
        });
    }
    r.images = out;
}

// ---------------------------------------------------------------------------------------------
// Context.

/// A regular expression written in this file.
fn re(pattern: &str) -> regex::Regex {
    regex::Regex::new(pattern).expect("a literal regular expression")
}
