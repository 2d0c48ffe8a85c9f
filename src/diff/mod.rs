//! Live-vs-Git diffs as Argo CD computes them: normalization, the three-way predicted state,
//! the changed paths with the field manager that last wrote each, and the hunks of a stable YAML
//! rendering with word-level changes inside lines.

pub mod compute;
pub mod highlight;
pub mod managed;
pub mod normalize;
pub mod quantity;
pub mod threeway;
pub mod yaml;

use serde::Serialize;
use serde_json::Value;

pub use self::normalize::Normalizer;

/// Identity of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ResId {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResId {
    pub fn of(obj: &Value) -> ResId {
        let (group, kind, namespace, name) = normalize::identity(obj);
        ResId {
            group,
            kind,
            namespace,
            name,
        }
    }

    /// `apps/Deployment payments/web`, as the diff screen titles a resource.
    pub fn label(&self) -> String {
        let gk = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}/{}", self.group, self.kind)
        };
        if self.namespace.is_empty() {
            format!("{gk} {}", self.name)
        } else {
            format!("{gk} {}/{}", self.namespace, self.name)
        }
    }
}

/// Who last wrote a field (from `metadata.managedFields`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Writer {
    pub manager: String,
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

/// One changed path: live's value and what Git wants (`None`: absent on that side).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub path: String,
    pub live: Option<Value>,
    pub desired: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<Writer>,
}

/// The diff of one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceDiff {
    pub id: ResId,
    pub modified: bool,
    /// Normalized live state (`None`: missing in the cluster).
    pub live: Option<Value>,
    /// Predicted live state after a sync (`None`: not in Git, would be pruned).
    pub desired: Option<Value>,
    pub changes: Vec<Change>,
}

/// A problem with the inputs of a diff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error("{0}")]
    Rule(#[from] normalize::RuleError),
    #[error("{what} has no `kind`: is it a Kubernetes object?")]
    NoKind { what: String },
    #[error(
        "the two objects are different kinds ({live} live, {desired} in Git): compare an object with its own desired state"
    )]
    KindMismatch { live: String, desired: String },
}

fn kind_of(v: &Value) -> Option<String> {
    let k = v.get("kind").and_then(Value::as_str)?;
    let (g, _) = crate::health::group_version(v);
    Some(if g.is_empty() {
        k.to_string()
    } else {
        format!("{g}/{k}")
    })
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn last_applied(live: &Value) -> Option<Value> {
    let s = live
        .get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED)?
        .as_str()?;
    serde_json::from_str(s).ok()
}

/// Diffs a desired object (from Git) against a live one, the way gitops-engine's `Diff` does:
/// normalize both, predict the live state after an apply (three-way through the last-applied
/// annotation, else two-way), compare. Secret values are masked in the result.
pub fn diff(
    desired: Option<&Value>,
    live: Option<&Value>,
    norm: &Normalizer,
) -> Result<ResourceDiff, DiffError> {
    for (v, what) in [(desired, "the desired object"), (live, "the live object")] {
        if let Some(v) = v
            && kind_of(v).is_none()
        {
            return Err(DiffError::NoKind { what: what.into() });
        }
    }
    if let (Some(d), Some(l)) = (desired, live) {
        let (dk, lk) = (
            kind_of(d).unwrap_or_default(),
            kind_of(l).unwrap_or_default(),
        );
        let base = |k: &str| k.rsplit('/').next().unwrap_or(k).to_string();
        if base(&dk) != base(&lk) {
            return Err(DiffError::KindMismatch {
                live: lk,
                desired: dk,
            });
        }
    }
    let id = ResId::of(live.or(desired).unwrap_or(&Value::Null));
    let (mut norm_live, mut predicted, modified) = match (desired, live) {
        (None, None) => (None, None, false),
        (Some(d), None) => {
            let mut d = d.clone();
            norm.normalize(&mut d);
            (None, Some(d), true)
        }
        (None, Some(l)) => {
            let mut l = l.clone();
            norm.normalize(&mut l);
            (Some(l), None, false)
        }
        (Some(d), Some(l)) => {
            let mut d = d.clone();
            let mut l = l.clone();
            norm.drop_managed(&mut d, &mut l);
            let orig = last_applied(&l).map(|mut o| {
                norm.normalize(&mut o);
                o
            });
            norm.normalize(&mut d);
            norm.normalize(&mut l);
            // Quantities compare by value, as after Argo CD's remarshalling.
            quantity::align(&d, &mut l);
            let orig = orig.map(|mut o| {
                quantity::align(&d, &mut o);
                o
            });
            let orig = orig.unwrap_or_else(|| d.clone());
            let p = threeway::predict(&orig, &d, &l);
            let modified = p.predicted != p.normalized_live;
            (Some(p.normalized_live), Some(p.predicted), modified)
        }
    };
    normalize::hide_secret_data(predicted.as_mut(), norm_live.as_mut());
    let changes = changes(norm_live.as_ref(), predicted.as_ref(), live);
    Ok(ResourceDiff {
        id,
        modified,
        live: norm_live,
        desired: predicted,
        changes,
    })
}

/// A diff from states Argo CD already normalized and predicted (managed-resources); `live_raw`
/// (its `liveState`) provides the field managers. Secret values are masked again: a server
/// that did not mask them (a proxy, an old or patched server) must not put them on the screen.
pub fn from_states(
    id: ResId,
    mut normalized_live: Option<Value>,
    mut predicted: Option<Value>,
    live_raw: Option<&Value>,
    modified: bool,
) -> ResourceDiff {
    normalize::hide_secret_data(predicted.as_mut(), normalized_live.as_mut());
    let changes = changes(normalized_live.as_ref(), predicted.as_ref(), live_raw);
    ResourceDiff {
        id,
        modified,
        live: normalized_live,
        desired: predicted,
        changes,
    }
}

/// Diffs from a managed-resources reply: `normalizedLiveState` against `predictedLiveState`,
/// with `liveState` for the field managers. A state that is not JSON is an error (a bad reply).
pub fn from_managed(
    items: &[crate::model::app::ManagedResource],
) -> Result<Vec<ResourceDiff>, String> {
    let parse = |s: &str,
                 what: &str,
                 item: &crate::model::app::ManagedResource|
     -> Result<Option<Value>, String> {
        if s.is_empty() || s == "null" {
            return Ok(None);
        }
        serde_json::from_str::<Value>(s)
            .map(|v| (!v.is_null()).then_some(v))
            .map_err(|e| format!("the {what} of {}/{} is not JSON: {e}", item.kind, item.name))
    };
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let live = parse(&it.normalized_live_state, "normalizedLiveState", it)?;
        let predicted = parse(&it.predicted_live_state, "predictedLiveState", it)?;
        let raw = parse(&it.live_state, "liveState", it)?;
        let id = ResId {
            group: it.group.clone(),
            kind: it.kind.clone(),
            namespace: it.namespace.clone(),
            name: it.name.clone(),
        };
        // A resource in Git but missing live is out of sync even though `modified` may be
        // false in older servers.
        let modified = it.modified || (live.is_none() && predicted.is_some());
        out.push(from_states(id, live, predicted, raw.as_ref(), modified));
    }
    Ok(out)
}

/// Paths left out of the changed-paths list and the YAML (server bookkeeping).
fn noise(path: &str) -> bool {
    matches!(
        path,
        "/metadata/managedFields"
            | "/metadata/resourceVersion"
            | "/metadata/uid"
            | "/metadata/generation"
            | "/metadata/creationTimestamp"
    ) || path.starts_with("/metadata/managedFields/")
        || path == "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"
}

/// The changed paths between live and desired, with the writer of each path in live.
pub fn changes(
    live: Option<&Value>,
    desired: Option<&Value>,
    live_raw: Option<&Value>,
) -> Vec<Change> {
    let mut out = Vec::new();
    match (live, desired) {
        (Some(l), Some(d)) => walk("", Some(l), Some(d), &mut out),
        (Some(_), None) | (None, Some(_)) => out.push(Change {
            path: String::new(),
            live: live.cloned(),
            desired: desired.cloned(),
            manager: None,
        }),
        (None, None) => {}
    }
    out.retain(|c| !noise(&c.path));
    if let Some(raw) = live_raw {
        let entries = managed::entries(raw);
        if !entries.is_empty() {
            for c in &mut out {
                if c.live.is_none() {
                    continue;
                }
                c.manager = managed::owner(&entries, raw, &c.path).map(|e| Writer {
                    manager: e.manager.clone(),
                    operation: e.operation.clone(),
                    time: e.time.clone(),
                    subresource: e.subresource.clone(),
                });
            }
        }
    }
    out
}

fn esc(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Change>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x
                .keys()
                .chain(y.keys().filter(|k| !x.contains_key(*k)))
                .collect();
            keys.sort();
            for k in keys {
                walk(&format!("{path}/{}", esc(k)), x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            let named = |v: &Vec<Value>| {
                v.iter()
                    .all(|i| i.get("name").and_then(Value::as_str).is_some())
            };
            if !x.is_empty() && !y.is_empty() && named(x) && named(y) {
                // Items with names are matched by name, so an insertion does not shift the rest.
                for (i, xi) in x.iter().enumerate() {
                    let n = xi.get("name");
                    let yi = y.iter().find(|yi| yi.get("name") == n);
                    walk(&format!("{path}/{i}"), Some(xi), yi, out);
                }
                for (j, yi) in y.iter().enumerate() {
                    let n = yi.get("name");
                    if !x.iter().any(|xi| xi.get("name") == n) {
                        walk(&format!("{path}/{j}"), None, Some(yi), out);
                    }
                }
            } else if x.iter().all(|v| !v.is_object() && !v.is_array())
                && y.iter().all(|v| !v.is_object() && !v.is_array())
            {
                // A list of scalars changes as a whole (`verbs: [get] → [*]`).
                out.push(Change {
                    path: path.to_string(),
                    live: a.cloned(),
                    desired: b.cloned(),
                    manager: None,
                });
            } else {
                for i in 0..x.len().max(y.len()) {
                    walk(&format!("{path}/{i}"), x.get(i), y.get(i), out);
                }
            }
        }
        _ => out.push(Change {
            path: path.to_string(),
            live: a.cloned(),
            desired: b.cloned(),
            manager: None,
        }),
    }
}

/// A JSON pointer as people read it: `spec.template.spec.containers[0].image`.
pub fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for raw in pointer.split('/').skip(1) {
        let k = raw.replace("~1", "/").replace("~0", "~");
        if k.chars().all(|c| c.is_ascii_digit()) && !k.is_empty() {
            out.push_str(&format!("[{k}]"));
        } else if k.contains('.') || k.contains(' ') {
            out.push_str(&format!("[{k:?}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&k);
        }
    }
    if out.is_empty() {
        "(the whole object)".into()
    } else {
        out
    }
}

/// A short rendering of a value for a summary line.
pub fn brief(v: Option<&Value>) -> String {
    match v {
        None => "∅".into(),
        Some(Value::String(s)) => {
            let s = s.replace('\n', "⏎");
            if s.chars().count() > 40 {
                format!("{}…", s.chars().take(39).collect::<String>())
            } else {
                s
            }
        }
        Some(v @ (Value::Object(_) | Value::Array(_))) => {
            let t = v.to_string();
            if t.chars().count() > 40 {
                format!("{}…", t.chars().take(39).collect::<String>())
            } else {
                t
            }
        }
        Some(v) => v.to_string(),
    }
}

impl Writer {
    /// `kubectl-scale 14m ago` given the current time (unix seconds).
    pub fn describe(&self, now: i64) -> String {
        match self
            .time
            .as_deref()
            .and_then(crate::model::fleet::parse_time)
        {
            Some(t) => format!("{} {} ago", self.manager, crate::util::age(now - t)),
            None => self.manager.clone(),
        }
    }
}

impl ResourceDiff {
    /// The resource's summary line: `spec.replicas 4 → 12 by kubectl-scale 14m ago (+2 more)`.
    pub fn summary(&self, now: i64) -> String {
        match (&self.live, &self.desired) {
            (None, Some(_)) => return "missing in the cluster: a sync creates it".into(),
            (Some(_), None) => return "not in Git: a sync with prune deletes it".into(),
            (None, None) => return String::new(),
            _ => {}
        }
        if self.changes.is_empty() {
            return if self.modified {
                "differs only in fields the diff hides".into()
            } else {
                "identical to Git".into()
            };
        }
        let c = &self.changes[0];
        let mut s = format!(
            "{} {} → {}",
            dotted(&c.path),
            brief(c.desired.as_ref()),
            brief(c.live.as_ref())
        );
        if let Some(w) = &c.manager {
            s.push_str(&format!(" by {}", w.describe(now)));
        }
        if self.changes.len() > 1 {
            s.push_str(&format!(" (+{} more)", self.changes.len() - 1));
        }
        s
    }

    /// The YAML of each side with bookkeeping fields removed, as the diff shows it.
    pub fn yaml(&self) -> (String, String) {
        let clean = |v: &Option<Value>| -> String {
            match v {
                None => String::new(),
                Some(v) => {
                    let mut v = v.clone();
                    for p in [
                        "/metadata/managedFields",
                        "/metadata/resourceVersion",
                        "/metadata/uid",
                        "/metadata/generation",
                    ] {
                        normalize::remove_pointer(&mut v, p);
                    }
                    normalize::remove_pointer(
                        &mut v,
                        "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
                    );
                    if v.pointer("/metadata/annotations")
                        .and_then(Value::as_object)
                        .is_some_and(|m| m.is_empty())
                    {
                        normalize::remove_pointer(&mut v, "/metadata/annotations");
                    }
                    yaml::render(&v)
                }
            }
        };
        (clean(&self.live), clean(&self.desired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dep(replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}})
    }

    #[test]
    fn replicas_scaled_by_hand_are_attributed() {
        let desired = dep(4);
        let mut live = dep(12);
        live["metadata"]["managedFields"] = json!([
            {"manager": "argocd-controller", "operation": "Update", "time": "2026-11-20T10:00:00Z", "fieldsV1": {"f:spec": {"f:selector": {}, "f:template": {}}}},
            {"manager": "kubectl-scale", "operation": "Update", "subresource": "scale", "time": "2026-11-20T15:58:00Z", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ]);
        live["metadata"]["annotations"] =
            json!({LAST_APPLIED: serde_json::to_string(&desired).unwrap()});
        let d = diff(Some(&desired), Some(&live), &Normalizer::default()).unwrap();
        assert!(d.modified);
        assert_eq!(d.changes.len(), 1, "{:#?}", d.changes);
        assert_eq!(d.changes[0].path, "/spec/replicas");
        assert_eq!(d.changes[0].live, Some(json!(12)));
        assert_eq!(d.changes[0].desired, Some(json!(4)));
        let now = crate::model::fleet::parse_time("2026-11-20T16:12:00Z").unwrap();
        assert_eq!(
            d.summary(now),
            "spec.replicas 4 → 12 by kubectl-scale 14m ago"
        );
    }

    #[test]
    fn an_object_diffed_with_itself_is_unchanged() {
        let mut live = dep(3);
        live["status"] = json!({"replicas": 3});
        let d = diff(Some(&dep(3)), Some(&live), &Normalizer::default()).unwrap();
        assert!(!d.modified, "{:#?}", d.changes);
        assert!(d.changes.is_empty());
    }

    #[test]
    fn create_and_prune() {
        let d = diff(Some(&dep(1)), None, &Normalizer::default()).unwrap();
        assert!(d.modified);
        assert!(d.live.is_none());
        let d = diff(None, Some(&dep(1)), &Normalizer::default()).unwrap();
        assert!(!d.modified);
        assert!(d.desired.is_none());
    }

    #[test]
    fn bad_inputs_are_errors() {
        let e = diff(
            Some(&json!({"a": 1})),
            Some(&dep(1)),
            &Normalizer::default(),
        )
        .unwrap_err();
        assert!(matches!(e, DiffError::NoKind { .. }));
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        let e = diff(Some(&cm), Some(&dep(1)), &Normalizer::default()).unwrap_err();
        assert!(e.to_string().contains("different kinds"), "{e}");
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(
            dotted("/spec/template/spec/containers/0/image"),
            "spec.template.spec.containers[0].image"
        );
        assert_eq!(
            dotted("/metadata/labels/app.kubernetes.io~1name"),
            "metadata.labels[\"app.kubernetes.io/name\"]"
        );
        assert_eq!(dotted(""), "(the whole object)");
    }
}
