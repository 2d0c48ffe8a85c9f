//! What a list returns: label selectors, the `fields` parameter, and the list view of an app.

use super::*;

/// Whether an app passes the list/stream filters.
pub(super) fn matches(app: &Application, q: &Query) -> bool {
    if let Some(n) = q.get("name")
        && !n.is_empty()
        && app.metadata.name != n
    {
        return false;
    }
    let mut projects = q.all("projects");
    projects.extend(q.all("project"));
    projects.retain(|p| !p.is_empty());
    if !projects.is_empty() && !projects.contains(&app.spec.project.as_str()) {
        return false;
    }
    if let Some(sel) = q.get("selector")
        && !selector_matches(sel, &app.metadata.labels)
    {
        return false;
    }
    if let Some(repo) = q.get("repo")
        && !repo.is_empty()
        && app.spec.source.as_ref().map(|s| s.repo_url.as_str()) != Some(repo)
    {
        return false;
    }
    if let Some(ns) = q.get("appNamespace")
        && !ns.is_empty()
        && app.metadata.namespace != ns
    {
        return false;
    }
    true
}

/// Kubernetes label selector: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`.
pub fn selector_matches(sel: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in sel.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => terms.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    terms.push(cur);
    terms
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .all(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                labels.get(k.trim()).map(String::as_str) != Some(v.trim())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                labels.get(k.trim()).map(String::as_str) == Some(v.trim())
            } else if let Some((k, rest)) = t.split_once(" notin ") {
                let set = set_of(rest);
                !labels
                    .get(k.trim())
                    .is_some_and(|v| set.contains(&v.as_str()))
            } else if let Some((k, rest)) = t.split_once(" in ") {
                let set = set_of(rest);
                labels
                    .get(k.trim())
                    .is_some_and(|v| set.contains(&v.as_str()))
            } else if let Some(k) = t.strip_prefix('!') {
                !labels.contains_key(k.trim())
            } else {
                labels.contains_key(t)
            }
        })
}

pub(super) fn set_of(s: &str) -> Vec<&str> {
    s.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .collect()
}

/// The list projection: only these `items.` paths are honoured (the server's whitelist), in the
/// order Go writes the struct fields.
pub(super) const LIST_WHITELIST: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.creationTimestamp",
    "metadata.deletionTimestamp",
    "metadata.labels",
    "metadata.annotations",
    "spec",
    "spec.source",
    "spec.destination",
    "spec.project",
    "spec.syncPolicy",
    "spec.sources",
    "spec.sourceHydrator",
    "status.resources",
    "status.sync.status",
    "status.sync.revision",
    "status.health",
    "status.operationState.operation.sync",
    "status.operationState.phase",
    "status.operationState.startedAt",
    "status.operationState.finishedAt",
    "status.summary",
    "status.sourceHydrator",
    "operation.sync",
];

/// A projected list item, serialized straight from the application by reference: a projected
/// list never pays for the history and conditions it leaves out. Field order is Go's.
#[derive(Serialize)]
pub(super) struct ItemView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) metadata: Option<MetaView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) spec: Option<SpecView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<StatusView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) operation: Option<OperationView<'a>>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct MetaView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) creation_timestamp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) deletion_timestamp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) labels: Option<&'a std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) annotations: Option<&'a std::collections::BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum SpecView<'a> {
    Whole(&'a ApplicationSpec),
    Parts(SpecParts<'a>),
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct SpecParts<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) source: Option<&'a ApplicationSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) destination: Option<&'a ApplicationDestination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) project: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) sync_policy: Option<&'a SyncPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) sources: Option<&'a Vec<ApplicationSource>>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct StatusView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) resources: Option<&'a Vec<ResourceStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) sync: Option<SyncView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) health: Option<&'a HealthStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) operation_state: Option<OpStateView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) summary: Option<&'a ApplicationSummary>,
}

#[derive(Serialize, Default)]
pub(super) struct SyncView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) revision: Option<&'a str>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct OpStateView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) operation: Option<OperationView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) phase: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) started_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) finished_at: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct OperationView<'a> {
    pub(super) sync: &'a SyncOperation,
}

/// Which whitelisted paths a list asks for.
pub(super) struct ListFields {
    pub(super) set: std::collections::HashSet<String>,
}

impl ListFields {
    pub(super) fn has(&self, p: &str) -> bool {
        self.set.contains(p)
    }

    pub(super) fn view<'a>(&self, a: &'a Application) -> ItemView<'a> {
        let m = &a.metadata;
        let meta = MetaView {
            name: self.has("metadata.name").then_some(m.name.as_str()),
            namespace: self
                .has("metadata.namespace")
                .then_some(m.namespace.as_str()),
            creation_timestamp: if self.has("metadata.creationTimestamp") {
                m.creation_timestamp.as_deref()
            } else {
                None
            },
            deletion_timestamp: if self.has("metadata.deletionTimestamp") {
                m.deletion_timestamp.as_deref()
            } else {
                None
            },
            labels: (self.has("metadata.labels") && !m.labels.is_empty()).then_some(&m.labels),
            annotations: (self.has("metadata.annotations") && !m.annotations.is_empty())
                .then_some(&m.annotations),
        };
        let any_meta = meta.name.is_some()
            || meta.namespace.is_some()
            || meta.creation_timestamp.is_some()
            || meta.deletion_timestamp.is_some()
            || meta.labels.is_some()
            || meta.annotations.is_some();
        let spec = if self.has("spec") {
            Some(SpecView::Whole(&a.spec))
        } else {
            let p = SpecParts {
                source: if self.has("spec.source") {
                    a.spec.source.as_ref()
                } else {
                    None
                },
                destination: self.has("spec.destination").then_some(&a.spec.destination),
                project: self.has("spec.project").then_some(a.spec.project.as_str()),
                sync_policy: if self.has("spec.syncPolicy") {
                    a.spec.sync_policy.as_ref()
                } else {
                    None
                },
                sources: (self.has("spec.sources") && !a.spec.sources.is_empty())
                    .then_some(&a.spec.sources),
            };
            let any = p.source.is_some()
                || p.destination.is_some()
                || p.project.is_some()
                || p.sync_policy.is_some()
                || p.sources.is_some();
            any.then_some(SpecView::Parts(p))
        };
        let s = &a.status;
        let sync = SyncView {
            status: self
                .has("status.sync.status")
                .then_some(s.sync.status.as_str()),
            revision: (self.has("status.sync.revision") && !s.sync.revision.is_empty())
                .then_some(s.sync.revision.as_str()),
        };
        let op_state = s.operation_state.as_ref().and_then(|o| {
            let v = OpStateView {
                operation: if self.has("status.operationState.operation.sync") {
                    o.operation.sync.as_ref().map(|sync| OperationView { sync })
                } else {
                    None
                },
                phase: self
                    .has("status.operationState.phase")
                    .then_some(o.phase.as_str()),
                started_at: self
                    .has("status.operationState.startedAt")
                    .then_some(o.started_at.as_str()),
                finished_at: if self.has("status.operationState.finishedAt") {
                    o.finished_at.as_deref()
                } else {
                    None
                },
            };
            (v.operation.is_some()
                || v.phase.is_some()
                || v.started_at.is_some()
                || v.finished_at.is_some())
            .then_some(v)
        });
        let status = StatusView {
            resources: (self.has("status.resources") && !s.resources.is_empty())
                .then_some(&s.resources),
            sync: (sync.status.is_some() || sync.revision.is_some()).then_some(sync),
            health: self.has("status.health").then_some(&s.health),
            operation_state: op_state,
            summary: self.has("status.summary").then_some(&s.summary),
        };
        let any_status = status.resources.is_some()
            || status.sync.is_some()
            || status.health.is_some()
            || status.operation_state.is_some()
            || status.summary.is_some();
        ItemView {
            metadata: any_meta.then_some(meta),
            spec,
            status: any_status.then_some(status),
            operation: if self.has("operation.sync") {
                a.operation
                    .as_ref()
                    .and_then(|o| o.sync.as_ref())
                    .map(|sync| OperationView { sync })
            } else {
                None
            },
        }
    }
}

/// Keeps only `paths` (dot-separated) of `v`; arrays apply the rest of a path to each element.
pub fn project(v: &Value, paths: &[Vec<&str>]) -> Value {
    if paths.iter().any(|p| p.is_empty()) {
        return v.clone();
    }
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            let mut by_key: HashMap<&str, Vec<Vec<&str>>> = HashMap::new();
            for p in paths {
                by_key.entry(p[0]).or_default().push(p[1..].to_vec());
            }
            // In the object's own order (Go writes struct fields in declaration order).
            for (k, c) in m {
                if let Some(sub) = by_key.get(k.as_str()) {
                    out.insert(k.clone(), project(c, sub));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| project(i, paths)).collect()),
        other => other.clone(),
    }
}

/// Removes `paths` from `v`.
pub fn exclude(v: &mut Value, paths: &[Vec<&str>]) {
    for p in paths {
        exclude_one(v, p);
    }
}

pub(super) fn exclude_one(v: &mut Value, p: &[&str]) {
    match v {
        Value::Object(m) => match p {
            [] => {}
            [last] => {
                m.shift_remove(*last);
            }
            [first, rest @ ..] => {
                if let Some(c) = m.get_mut(*first) {
                    exclude_one(c, rest);
                }
            }
        },
        Value::Array(items) => items.iter_mut().for_each(|i| exclude_one(i, p)),
        _ => {}
    }
}

/// The parsed `fields` parameter: include or exclude mode.
pub(super) enum Fields<'a> {
    None,
    Include(Vec<Vec<&'a str>>),
    Exclude(Vec<Vec<&'a str>>),
}

pub(super) fn fields_param(q: &Query) -> Fields<'_> {
    let Some(f) = q.get("fields").filter(|f| !f.is_empty()) else {
        return Fields::None;
    };
    if let Some(rest) = f.strip_prefix('-') {
        Fields::Exclude(rest.split(',').map(|p| p.split('.').collect()).collect())
    } else {
        Fields::Include(f.split(',').map(|p| p.split('.').collect()).collect())
    }
}

pub(super) fn apply_fields(mut v: Value, fields: &Fields) -> Value {
    match fields {
        Fields::None => v,
        Fields::Include(p) => project(&v, p),
        Fields::Exclude(p) => {
            exclude(&mut v, p);
            v
        }
    }
}
