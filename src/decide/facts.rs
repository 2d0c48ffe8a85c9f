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

/// A container image reference, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn canonical(&self) -> String {
        let mut s = format!("{}/{}", self.registry, self.repository);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// Parses `[registry/]path[:tag][@digest]` the way container runtimes read it: the first part
/// is a registry when it has a `.` or `:` or is `localhost`; otherwise the registry is Docker
/// Hub (and a one-part path is in `library/`); no tag and no digest means `latest`.
pub fn parse_image(s: &str) -> Option<ImageRef> {
    let s = s.trim();
    if s.is_empty() || s.contains(char::is_whitespace) {
        return None;
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (s, None),
    };
    let (first, remainder) = match rest.split_once('/') {
        Some((f, r)) if f.contains('.') || f.contains(':') || f == "localhost" => (Some(f), r),
        _ => (None, rest),
    };
    let (path, tag) = match remainder.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, Some(t.to_string())),
        _ => (remainder, None),
    };
    if path.is_empty() {
        return None;
    }
    let registry = first
        .map(|f| f.to_ascii_lowercase())
        .unwrap_or_else(|| "docker.io".into());
    let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
        "docker.io".to_string()
    } else {
        registry
    };
    let repository = if registry == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    let tag = if tag.is_none() && digest.is_none() {
        Some("latest".to_string())
    } else {
        tag
    };
    Some(ImageRef {
        registry,
        repository,
        tag,
        digest,
    })
}

pub fn normalize_image(s: &str) -> Option<String> {
    parse_image(s).map(|r| r.canonical())
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

/// A Kubernetes quantity or a plain number as a number: `500m` → 0.5, `1Gi` → 2^30,
/// `1.5k` → 1500, `2e3` → 2000.
pub fn quantity_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_quantity(s),
        _ => None,
    }
}

pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse::<i32>().ok()?),
        _ => return None,
    };
    Some(n * mult)
}

/// The scenario with every secret value masked (Secret data and string data, the last-applied
/// copy of them, credential-like ConfigMap keys and environment variables): what the journal
/// may keep. Field managers and everything else stay, so the scenario still decides the same.
pub fn sanitize(sc: &Scenario, tuning: &Tuning) -> Scenario {
    let mut out = sc.clone();
    for r in &mut out.resources {
        for obj in [r.desired.as_mut(), r.live.as_mut()].into_iter().flatten() {
            if obj.get("kind").and_then(Value::as_str) == Some("Secret") {
                let managed = obj.pointer("/metadata/managedFields").cloned();
                let created = obj.pointer("/metadata/creationTimestamp").cloned();
                diff::normalize::builtin(obj, false);
                if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    if let Some(m) = managed {
                        meta.insert("managedFields".into(), m);
                    }
                    if let Some(c) = created {
                        meta.insert("creationTimestamp".into(), c);
                    }
                }
            }
        }
        diff::normalize::hide_secret_data(r.desired.as_mut(), r.live.as_mut());
        mask_credentials(r.desired.as_mut(), r.live.as_mut(), tuning);
    }
    out
}

/// Masks the values of credential-like ConfigMap keys and environment variables the way
/// Argo CD masks Secret data: equal values get equal runs of `+`, different values different
/// lengths. Returns the masked keys.
fn mask_credentials(
    desired: Option<&mut Value>,
    live: Option<&mut Value>,
    tuning: &Tuning,
) -> BTreeSet<String> {
    let mut masked = BTreeSet::new();
    let mut runs: BTreeMap<String, String> = BTreeMap::new();
    let mask = |v: &mut Value, runs: &mut BTreeMap<String, String>| {
        if let Value::String(s) = v {
            *v = Value::String(mask_run(s, runs));
        }
    };
    for obj in [desired, live].into_iter().flatten() {
        let kind = s(obj.get("kind"));
        // Annotations on a Secret hold tokens as often as its data does
        // (`vault.hashicorp.com/token`, a last-applied copy of the data): every value goes.
        if kind == "Secret"
            && let Some(ann) = obj
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
        {
            for (k, v) in ann.iter_mut() {
                masked.insert(k.clone());
                mask(v, &mut runs);
            }
        }
        if kind == "ConfigMap"
            && let Some(data) = obj.get_mut("data").and_then(Value::as_object_mut)
        {
            for (k, v) in data.iter_mut() {
                if tuning.credential_key.is_match(k) {
                    masked.insert(k.clone());
                    mask(v, &mut runs);
                }
            }
        }
        for spec in [
            "/spec/template/spec",
            "/spec/jobTemplate/spec/template/spec",
            "/spec",
        ] {
            let Some(pod) = obj.pointer_mut(spec) else {
                continue;
            };
            for list in ["containers", "initContainers"] {
                let Some(cs) = pod.get_mut(list).and_then(Value::as_array_mut) else {
                    continue;
                };
                for c in cs {
                    for field in ["command", "args"] {
                        if let Some(list) = c.get_mut(field).and_then(Value::as_array_mut) {
                            mask_arguments(list, tuning, &mut runs, &mut masked);
                        }
                    }
                    let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) else {
                        continue;
                    };
                    for e in env {
                        let name = s(e.get("name"));
                        if tuning.credential_key.is_match(&name)
                            && let Some(v) = e.get_mut("value")
                        {
                            masked.insert(name);
                            mask(v, &mut runs);
                        }
                    }
                }
            }
        }
    }
    masked
}

/// The mask of a value: equal values get equal runs of `+`, different values different lengths.
fn mask_run(value: &str, runs: &mut BTreeMap<String, String>) -> String {
    let n = runs.len();
    runs.entry(value.to_string())
        .or_insert_with(|| "+".repeat(8 + 4 * n))
        .clone()
}

/// Masks the values of credential-like command-line arguments: `--db-password=VALUE`,
/// `--api-token VALUE` (two items), `-p VALUE`, and the same inside a shell command string
/// (`sh -c "mysql --password=VALUE"`). A flag is credential-like when its name matches the
/// tuning's `credential_key`.
fn mask_arguments(
    list: &mut [Value],
    tuning: &Tuning,
    runs: &mut BTreeMap<String, String>,
    masked: &mut BTreeSet<String>,
) {
    static IN_TEXT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let in_text = IN_TEXT
        .get_or_init(|| re(r#"(^|\s)(--?[A-Za-z0-9_.-]+)(=|\s+)("[^"]*"|'[^']*'|[^\s"']+)"#));
    let secret_flag = |flag: &str| {
        let name = flag.trim_start_matches('-');
        !name.is_empty() && (name == "p" || tuning.credential_key.is_match(name))
    };
    // `-p` is a password to mysql and a port to others: its value is masked, but only a
    // credential-like name makes the change a credential's.
    let note = |flag: &str, masked: &mut BTreeSet<String>| {
        let name = flag.trim_start_matches('-');
        if tuning.credential_key.is_match(name) {
            masked.insert(name.to_string());
        }
    };
    let mut next_is_value: Option<String> = None;
    for item in list.iter_mut() {
        let Value::String(text) = item else {
            next_is_value = None;
            continue;
        };
        if let Some(flag) = next_is_value.take()
            && !text.starts_with('-')
        {
            note(&flag, masked);
            *text = mask_run(text, runs);
            continue;
        }
        if text.starts_with('-') && !text.contains(char::is_whitespace) {
            match text.split_once('=') {
                Some((flag, value)) if secret_flag(flag) && !value.is_empty() => {
                    note(flag, masked);
                    *text = format!("{flag}={}", mask_run(value, runs));
                }
                None if secret_flag(text) => {
                    next_is_value = Some(text.trim_start_matches('-').to_string());
                }
                _ => {}
            }
            continue;
        }
        if text.contains(char::is_whitespace) && in_text.is_match(text) {
            let mut out = String::with_capacity(text.len());
            let mut last = 0;
            for cap in in_text.captures_iter(text) {
                let (Some(flag), Some(value)) = (cap.get(2), cap.get(4)) else {
                    continue;
                };
                if !secret_flag(flag.as_str()) {
                    continue;
                }
                note(flag.as_str(), masked);
                out.push_str(&text[last..value.start()]);
                out.push_str(&mask_run(value.as_str(), runs));
                last = value.end();
            }
            out.push_str(&text[last..]);
            *text = out;
        }
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

/// Command-line flags as a map: `--a=b` and `--a b` → `a: b`, a bare `--a` → `a: true`;
/// positional arguments as `arg[i]`.
fn flags(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(list) = v.as_array() else { return out };
    let items: Vec<String> = list
        .iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| x.to_string())
        })
        .collect();
    let mut i = 0;
    let mut pos = 0;
    while i < items.len() {
        let it = &items[i];
        if let Some(flag) = it
            .strip_prefix("--")
            .or_else(|| it.strip_prefix('-'))
            .filter(|f| !f.is_empty())
        {
            if let Some((k, v)) = flag.split_once('=') {
                out.insert(k.to_string(), v.to_string());
            } else if items.get(i + 1).is_some_and(|n| !n.starts_with('-')) {
                out.insert(flag.to_string(), items[i + 1].clone());
                i += 1;
            } else {
                out.insert(flag.to_string(), "true".into());
            }
        } else {
            out.insert(format!("arg[{pos}]"), it.clone());
            pos += 1;
        }
        i += 1;
    }
    out
}

/// The changed keys inside a ConfigMap value that is a file: YAML or JSON (dotted keys), or
/// `key=value` / `key: value` lines.
fn file_changes(old: &str, new: &str) -> Vec<(String, Value, Value)> {
    let parse = |t: &str| -> Option<BTreeMap<String, Value>> {
        if !t.contains('\n') && !t.trim_start().starts_with('{') {
            return None;
        }
        // A value too large or too deep to read as settings cheaply is compared as a whole
        // (the YAML parser's work grows with the square of the nesting).
        if t.len() > crate::limits::MAX_VALUE
            || crate::limits::yaml_depth(t, crate::limits::MAX_DEPTH) > crate::limits::MAX_DEPTH
        {
            return None;
        }
        let mut out = BTreeMap::new();
        if let Ok(v) = serde_yaml::from_str::<Value>(t)
            && v.is_object()
        {
            flatten_dotted("", &v, &mut out);
            return Some(out);
        }
        for line in t.lines() {
            let line = line.trim();
            if line.is_empty()
                || line.starts_with('#')
                || line.starts_with(';')
                || line.starts_with('[')
            {
                continue;
            }
            let (k, v) = line.split_once('=').or_else(|| line.split_once(':'))?;
            out.insert(k.trim().to_string(), json!(v.trim()));
        }
        Some(out)
    };
    let (Some(a), Some(b)) = (parse(old), parse(new)) else {
        return Vec::new();
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            (
                k.clone(),
                a.get(k).cloned().unwrap_or(Value::Null),
                b.get(k).cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

fn flatten_dotted(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_dotted(&p, x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
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

const CLOSED: [&str; 5] = ["resolved", "closed", "canceled", "cancelled", "done"];
const ENV_SUFFIXES: [&str; 10] = [
    "prod",
    "production",
    "prd",
    "live",
    "staging",
    "stage",
    "dev",
    "test",
    "qa",
    "sandbox",
];

/// Lowercase, spaces and underscores as hyphens, a parenthesised suffix and a trailing
/// environment word dropped: `Payments API (prod)` → `payments-api`.
fn service_key(s: &str) -> String {
    let s = s.split('(').next().unwrap_or(s);
    let mut k: String = s
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c == ' ' || c == '_' || c == '.' {
                '-'
            } else {
                c
            }
        })
        .collect();
    while k.contains("--") {
        k = k.replace("--", "-");
    }
    let k = k.trim_matches('-').to_string();
    for suf in ENV_SUFFIXES {
        if let Some(stripped) = k.strip_suffix(&format!("-{suf}")) {
            return stripped.to_string();
        }
    }
    k
}

/// Whether a service name concerns the app: it is one of the app's identities, or the system
/// one of them belongs to (`payments` for `payments-api`).
pub fn concerns(service: &str, identities: &[String]) -> bool {
    let k = service_key(service);
    if k.is_empty() {
        return false;
    }
    identities
        .iter()
        .any(|id| *id == k || id.starts_with(&format!("{k}-")))
}

/// A regular expression written in this file.
fn re(pattern: &str) -> regex::Regex {
    regex::Regex::new(pattern).expect("a literal regular expression")
}

/// The worst state of the sources whose names match; `ok` when none is listed but it gave
/// data, else `absent`.
fn source_state(
    sources: &BTreeMap<String, SourceState>,
    pattern: &regex::Regex,
    has_data: bool,
) -> &'static str {
    let worst = sources
        .iter()
        .filter(|(k, _)| pattern.is_match(k))
        .map(|(_, v)| *v)
        .max();
    match worst {
        Some(w) => w.as_str(),
        None if has_data => "ok",
        None => "absent",
    }
}

struct SourcePatterns {
    metrics: regex::Regex,
    incidents: regex::Regex,
    alerts: regex::Regex,
}

fn source_patterns() -> &'static SourcePatterns {
    static P: std::sync::OnceLock<SourcePatterns> = std::sync::OnceLock::new();
    P.get_or_init(|| SourcePatterns {
        metrics: re(r"(?i)(prom|metric|datadog|newrelic|victoria|thanos|mimir|cortex|graphite|influx|signal)"),
        incidents: re(r"(?i)(pagerduty|opsgenie|incident|servicenow|victorops|oncall|firehydrant|rootly)"),
        alerts: re(r"(?i)(alert)"),
    })
}

/// An operator's incident annotation on the app (`driftdeck.io/incident`) says an incident
/// concerns it: an open incident of the app, unless an incident source reports that incident
/// closed.
fn annotated_incident(
    ctx: &mut ContextFacts,
    handling: &super::handling::Handling,
    app: &AppFacts,
) {
    let Some(mark) = &handling.incident else {
        return;
    };
    if let Some(known) = ctx
        .incidents
        .iter_mut()
        .find(|i| i.id.eq_ignore_ascii_case(&mark.id))
    {
        // The incident source knows it: it concerns this app (an operator said so); whether
        // it is open is the source's word.
        known.concerns_app = true;
    } else {
        ctx.incidents.push(IncidentFacts {
            id: mark.id.clone(),
            title: mark.note.clone(),
            service: app.name.clone(),
            status: "annotated".into(),
            urgency: None,
            created: None,
            open: true,
            concerns_app: true,
        });
    }
    ctx.open_incident_for_app = ctx.incidents.iter().any(|i| i.open && i.concerns_app);
}

fn context_facts(ctx: Option<&Context>, app: &AppFacts, tuning: &Tuning) -> ContextFacts {
    let Some(ctx) = ctx else {
        return ContextFacts {
            configured: false,
            signals: BTreeMap::new(),
            incidents: Vec::new(),
            alerts: Vec::new(),
            events: Vec::new(),
            sources: BTreeMap::new(),
            metrics: "absent",
            incidents_source: "absent",
            alerts_source: "absent",
            open_incident_for_app: false,
            firing_alert_for_app: false,
            max_load_ratio: None,
            min_load_ratio: None,
        };
    };
    let mut signals = BTreeMap::new();
    let mut max_ratio: Option<f64> = None;
    let mut min_ratio: Option<f64> = None;
    for (name, sig) in &ctx.signals {
        let ratio = sig
            .baseline
            .filter(|b| *b > 0.0)
            .map(|b| (sig.value / b * 1000.0).round() / 1000.0);
        let kind = if tuning.quality_signal.is_match(name) {
            "quality"
        } else if tuning.load_signal.is_match(name) {
            "load"
        } else {
            "other"
        };
        if kind == "load"
            && let Some(r) = ratio
        {
            max_ratio = Some(max_ratio.map_or(r, |m: f64| m.max(r)));
            min_ratio = Some(min_ratio.map_or(r, |m: f64| m.min(r)));
        }
        signals.insert(
            name.clone(),
            SignalFacts {
                value: sig.value,
                baseline: sig.baseline,
                ratio,
                unit: sig.unit.clone(),
                kind,
            },
        );
    }
    let incidents: Vec<IncidentFacts> = ctx
        .incidents
        .iter()
        .map(|i| {
            let open = !CLOSED.contains(&i.status.trim().to_ascii_lowercase().as_str());
            IncidentFacts {
                id: i.id.clone(),
                title: i.title.clone(),
                service: i.service.clone(),
                status: i.status.clone(),
                urgency: i.urgency.clone(),
                created: i.created,
                open,
                concerns_app: i.mapped || concerns(&i.service, &app.identities),
            }
        })
        .collect();
    let alerts: Vec<AlertFacts> = ctx
        .alerts
        .iter()
        .map(|a| {
            let named: Vec<&String> = crate::decide::context::ALERT_LABELS
                .iter()
                .filter_map(|k| a.labels.get(*k))
                .collect();
            let concerns_app = if named.is_empty() {
                a.labels
                    .get("namespace")
                    .is_some_and(|ns| !ns.is_empty() && *ns == app.destination.namespace)
            } else {
                named.iter().any(|v| concerns(v, &app.identities))
            };
            AlertFacts {
                name: a.name.clone(),
                severity: a.severity.clone(),
                labels: a.labels.clone(),
                starts_at: a.starts_at,
                concerns_app,
            }
        })
        .collect();
    let events = ctx
        .events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    let pats = source_patterns();
    let metrics = source_state(&ctx.sources, &pats.metrics, !ctx.signals.is_empty());
    let incidents_source = source_state(&ctx.sources, &pats.incidents, true);
    let alerts_source = source_state(&ctx.sources, &pats.alerts, true);
    ContextFacts {
        configured: true,
        open_incident_for_app: incidents.iter().any(|i| i.open && i.concerns_app),
        firing_alert_for_app: alerts.iter().any(|a| a.concerns_app),
        signals,
        incidents,
        alerts,
        events,
        sources: ctx.sources.clone(),
        metrics,
        incidents_source,
        alerts_source,
        max_load_ratio: max_ratio,
        min_load_ratio: min_ratio,
    }
}

// ---------------------------------------------------------------------------------------------
// Evidence.

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn brief(v: &Value) -> String {
    match v {
        Value::Null => "(absent)".into(),
        Value::String(s) if s.len() > 60 => format!(
            "{}…",
            &s[..s.char_indices().nth(57).map(|(i, _)| i).unwrap_or(s.len())]
        ),
        Value::String(s) => s.clone(),
        other => {
            let t = other.to_string();
            if t.len() > 60 {
                format!(
                    "{}…",
                    &t[..t.char_indices().nth(57).map(|(i, _)| i).unwrap_or(t.len())]
                )
            } else {
                t
            }
        }
    }
}

fn catalogue(input: &Input) -> Vec<Evidence> {
    let mut out = Vec::new();
    let ctx = &input.context;
    for (name, s) in &ctx.signals {
        let unit = s
            .unit
            .as_deref()
            .map(|u| format!(" {u}"))
            .unwrap_or_default();
        let mut numbers = vec![s.value];
        let mut text = format!("{name} is {}{unit}", fmt_num(s.value));
        if let Some(b) = s.baseline {
            numbers.push(b);
            text.push_str(&format!(", baseline {}{unit}", fmt_num(b)));
        }
        if let Some(r) = s.ratio {
            numbers.push(r);
            text.push_str(&format!(
                " ({}× baseline)",
                fmt_num((r * 10.0).round() / 10.0)
            ));
            numbers.push((r * 10.0).round() / 10.0);
        }
        out.push(Evidence {
            id: format!("signal:{name}"),
            text,
            numbers,
        });
    }
    for i in &ctx.incidents {
        let about = if i.concerns_app {
            "this app"
        } else {
            "another service"
        };
        out.push(Evidence {
            id: format!("incident:{}", i.id),
            text: format!(
                "incident {} ({}{}) on {}: \"{}\" ({about})",
                i.id,
                i.status,
                i.urgency
                    .as_deref()
                    .map(|u| format!(", {u} urgency"))
                    .unwrap_or_default(),
                if i.service.is_empty() {
                    "?"
                } else {
                    &i.service
                },
                i.title
            ),
            numbers: Vec::new(),
        });
    }
    for a in &ctx.alerts {
        let about = if a.concerns_app {
            "this app"
        } else {
            "another service"
        };
        out.push(Evidence {
            id: format!("alert:{}", a.name),
            text: format!(
                "alert {} firing{} ({about})",
                a.name,
                a.severity
                    .as_deref()
                    .map(|s| format!(", {s}"))
                    .unwrap_or_default()
            ),
            numbers: Vec::new(),
        });
    }
    let mut seen = BTreeMap::new();
    for e in &ctx.events {
        let object = e.get("object").and_then(Value::as_str).unwrap_or("");
        let reason = e.get("reason").and_then(Value::as_str).unwrap_or("");
        let base = format!("event:{object}:{reason}");
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let id = if *n == 1 { base } else { format!("{base}#{n}") };
        let message = e.get("message").and_then(Value::as_str).unwrap_or("");
        out.push(Evidence {
            id,
            text: format!("event {reason} on {object}: {message}"),
            numbers: numbers_in(message),
        });
    }
    for (name, st) in &ctx.sources {
        out.push(Evidence {
            id: format!("source:{name}"),
            text: format!("context source {name} is {}", st.as_str()),
            numbers: Vec::new(),
        });
    }
    let mut managers = BTreeSet::new();
    for r in &input.resources {
        match r.state {
            ResState::Missing => out.push(Evidence {
                id: format!("resource:{}", r.short),
                text: format!("{} is declared in Git and missing in the cluster", r.short),
                numbers: Vec::new(),
            }),
            ResState::Extra => out.push(Evidence {
                id: format!("resource:{}", r.short),
                text: format!("{} exists in the cluster but not in Git", r.short),
                numbers: Vec::new(),
            }),
            _ => {}
        }
        for c in &r.changes {
            let by = c
                .manager
                .as_deref()
                .map(|m| format!(" (written by {m})"))
                .unwrap_or_default();
            let mut numbers = Vec::new();
            if let Some(q) = c.quantity {
                numbers.extend(q.old);
                numbers.extend(q.new);
            }
            for v in [&c.old, &c.new] {
                if let Some(n) = v.as_f64() {
                    numbers.push(n);
                }
            }
            out.push(Evidence {
                id: c.id.clone(),
                text: format!(
                    "{}{}: {} → {}{by}",
                    r.short,
                    c.path,
                    brief(&c.old),
                    brief(&c.new)
                ),
                numbers,
            });
            if let Some(m) = &c.manager {
                managers.insert(m.clone());
            }
        }
        for o in &r.owners {
            out.push(Evidence {
                id: format!("owner:{}/{}", o.kind, o.name),
                text: format!("{} is owned by {} {}", r.short, o.kind, o.name),
                numbers: Vec::new(),
            });
        }
        if let Some(a) = &r.autoscaler {
            out.push(Evidence {
                id: format!("autoscaler:{a}"),
                text: format!("{a} targets {}", r.short),
                numbers: Vec::new(),
            });
        }
    }
    for m in managers {
        out.push(Evidence {
            id: format!("manager:{m}"),
            text: format!("field manager {m}"),
            numbers: Vec::new(),
        });
    }
    for h in &input.app.history {
        out.push(Evidence {
            id: format!("history:{}", h.id),
            text: format!(
                "deployment {} of revision {}{}{}",
                h.id,
                h.revision.chars().take(8).collect::<String>(),
                h.deployed_at
                    .as_deref()
                    .map(|d| format!(" at {d}"))
                    .unwrap_or_default(),
                if h.images.is_empty() {
                    String::new()
                } else {
                    format!(", images {}", h.images.join(", "))
                }
            ),
            numbers: vec![h.id as f64],
        });
    }
    let h = &input.handling;
    if let Some(r) = &h.rollback {
        out.push(Evidence {
            id: "handling:rollback".into(),
            text: format!("a guided rollback holds the app: {}", r.describe()),
            numbers: r.to.map(|t| vec![t as f64]).unwrap_or_default(),
        });
    }
    if let Some(d) = &h.deferral {
        out.push(Evidence {
            id: "handling:deferral".into(),
            text: format!("an operator {}", d.describe()),
            numbers: Vec::new(),
        });
    }
    if let Some(i) = &h.incident {
        out.push(Evidence {
            id: "handling:incident".into(),
            text: format!("the app is annotated {}", i.describe()),
            numbers: Vec::new(),
        });
    }
    let w = &input.window;
    out.push(Evidence {
        id: "window:sync".into(),
        text: match (&w.error, w.next_auto_sync) {
            (Some(e), _) => format!("sync windows cannot be evaluated: {e}"),
            (None, Some(t)) if w.can_sync_auto => format!("an automated sync is allowed now ({t})"),
            (None, Some(t)) => format!("the next automated sync is allowed at {t}"),
            (None, None) => "no automated sync is allowed within a year".into(),
        },
        numbers: Vec::new(),
    });
    out.push(Evidence {
        id: "app:environment".into(),
        text: format!(
            "the app's environment is {} ({})",
            input.app.environment,
            if input.app.production {
                "production"
            } else {
                "not production"
            }
        ),
        numbers: Vec::new(),
    });
    out
}

/// The numbers written in a text (`18`, `6`, `0.91`, `4x`), for checking quoted figures.
pub fn numbers_in(text: &str) -> Vec<f64> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pat = RE.get_or_init(|| re(r"(?:^|[^\w.\-:/])(\d+(?:\.\d+)?)(?:[x×%]|\b)"));
    pat.captures_iter(text)
        .filter_map(|c| c.get(1)?.as_str().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests;
