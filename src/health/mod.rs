//! Resource health with Argo CD's semantics: status and message for the built-in kinds
//! (gitops-engine's Go checks) and for the common CRDs (Argo CD's Lua checks), rewritten in
//! Rust from their rules. A kind with no check has no health, as in Argo CD.

mod builtin;
mod crds;

use serde::Serialize;
use serde_json::Value;

use crate::model::status::Health;

/// A health assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub status: Health,
    pub message: String,
}

impl Assessment {
    pub fn new(status: Health, message: impl Into<String>) -> Self {
        Assessment {
            status,
            message: message.into(),
        }
    }
}

pub(crate) fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path)?.as_str()
}

pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    (!cur.is_null()).then_some(cur)
}

/// An integer field; absent (or not a number) counts as 0, as Go's zero values do.
pub(crate) fn i(v: &Value, path: &[&str]) -> i64 {
    get(v, path).and_then(Value::as_i64).unwrap_or(0)
}

pub(crate) fn opt_i(v: &Value, path: &[&str]) -> Option<i64> {
    get(v, path).and_then(Value::as_i64)
}

pub(crate) fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Group and version of an object's apiVersion.
pub fn group_version(obj: &Value) -> (&str, &str) {
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    match av.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", av),
    }
}

const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";

/// Assesses an object's health. `None` when its kind has no health check. Checks that cannot
/// read the object give `Unknown` with the reason.
pub fn assess(obj: &Value) -> Option<Assessment> {
    let meta = obj.get("metadata");
    let deleting = meta
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|d| !d.is_null());
    if deleting {
        let hook_finalizer = meta
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(HOOK_FINALIZER)));
        if !hook_finalizer {
            return Some(Assessment::new(Health::Progressing, "Pending deletion"));
        }
    }
    let (group, version) = group_version(obj);
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if let Some(r) = crds::check(group, kind, obj) {
        return Some(r);
    }
    builtin::check(group, version, kind, obj)
}

/// The kinds with a health check, as `group/Kind` (the core group as `Kind`).
pub fn checked_kinds() -> Vec<&'static str> {
    let mut v: Vec<&str> = builtin::KINDS
        .iter()
        .chain(crds::KINDS.iter())
        .copied()
        .collect();
    v.sort();
    v
}

/// Whether an object is an Argo CD hook (annotation `argocd.argoproj.io/hook`, not only
/// `Skip`; or a Helm hook other than `crd-install`).
pub fn is_hook(obj: &Value) -> bool {
    let ann = |k: &str| {
        obj.get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    if let Some(h) = ann("argocd.argoproj.io/hook") {
        // Argo CD keeps only the hook types it knows, once each, before asking whether the
        // only one is Skip ("Skip,Skip" and "Skip,Bogus" are skipped, not hooks).
        let mut types: Vec<&str> = Vec::new();
        for t in h.split(',').map(str::trim) {
            if matches!(t, "PreSync" | "Sync" | "PostSync" | "SyncFail" | "Skip")
                && !types.contains(&t)
            {
                types.push(t);
            }
        }
        return types != ["Skip"];
    }
    ann("helm.sh/hook").is_some_and(|h| h != "crd-install")
}

/// One managed resource for the app-level roll-up.
pub struct Managed<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub live: Option<&'a Value>,
    /// Health already assessed for it (`None`: no check).
    pub health: Option<Assessment>,
}

/// Argo CD's application health: the worst resource health (Healthy < Suspended < Progressing
/// < Missing < Degraded < Unknown); missing resources only count when everything is missing;
/// kinds without a check are skipped. The message names up to three causes.
pub fn aggregate(resources: &[Managed<'_>]) -> Assessment {
    let mut app = Health::Healthy;
    let mut causes: Vec<String> = Vec::new();
    let mut any = false;
    let mut any_live = false;
    for r in resources {
        if r.live.is_some_and(is_hook) {
            continue;
        }
        any = true;
        if r.live.is_some() {
            any_live = true;
        }
        let ignored = r
            .live
            .and_then(|l| l.get("metadata"))
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get("argocd.argoproj.io/ignore-healthcheck"))
            .and_then(Value::as_str)
            == Some("true");
        if ignored {
            continue;
        }
        let Some(h) = &r.health else { continue };
        if r.live.is_none() && h.status == Health::Missing {
            continue;
        }
        if r.group == "argoproj.io"
            && r.kind == "Application"
            && matches!(h.status, Health::Missing | Health::Unknown)
        {
            continue;
        }
        let gk = if r.group.is_empty() {
            r.kind.to_string()
        } else {
            format!("{}/{}", r.group, r.kind)
        };
        let name = if r.namespace.is_empty() {
            r.name.to_string()
        } else {
            format!("{}/{}", r.namespace, r.name)
        };
        if h.status > app {
            app = h.status;
            causes = vec![format!("{gk}:{name}")];
        } else if h.status == app && app != Health::Healthy {
            causes.push(format!("{gk}:{name}"));
        }
    }
    if any && !any_live && Health::Missing > app {
        return Assessment::new(Health::Missing, "");
    }
    let message = if causes.is_empty() {
        String::new()
    } else {
        let shown = causes
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if causes.len() > 3 {
            format!("Caused by {shown} and {} more", causes.len() - 3)
        } else {
            format!("Caused by {shown}")
        }
    };
    Assessment::new(app, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deletion_comes_first_for_every_kind() {
        let o = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(
            assess(&o),
            Some(Assessment::new(Health::Progressing, "Pending deletion"))
        );
        let hook = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"deletionTimestamp": "x", "finalizers": [HOOK_FINALIZER]}});
        assert_eq!(assess(&hook), None, "no check for ConfigMap");
    }

    #[test]
    fn kinds_without_a_check_have_no_health() {
        for o in [
            json!({"apiVersion": "v1", "kind": "ConfigMap"}),
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "status": {"health": {"status": "Degraded"}}}),
            json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service"}),
        ] {
            assert_eq!(assess(&o), None, "{o}");
        }
    }

    #[test]
    fn aggregation() {
        let h = |s| Some(Assessment::new(s, ""));
        let live = json!({});
        let r = |kind: &'static str, name: &'static str, health, live: Option<&'static Value>| {
            Managed {
                group: "apps",
                kind,
                namespace: "ns",
                name,
                live,
                health,
            }
        };
        let live: &'static Value = Box::leak(Box::new(live));
        let a = aggregate(&[
            r("Deployment", "a", h(Health::Healthy), Some(live)),
            r("Deployment", "b", h(Health::Degraded), Some(live)),
            r("Deployment", "c", h(Health::Progressing), Some(live)),
            r("Deployment", "d", h(Health::Degraded), Some(live)),
            r("Deployment", "m", h(Health::Missing), None),
        ]);
        assert_eq!(a.status, Health::Degraded);
        assert_eq!(
            a.message,
            "Caused by apps/Deployment:ns/b, apps/Deployment:ns/d"
        );
        let all_missing = aggregate(&[r("Deployment", "m", h(Health::Missing), None)]);
        assert_eq!(all_missing.status, Health::Missing);
        assert_eq!(aggregate(&[]).status, Health::Healthy);
        let many: Vec<Managed> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| r("Deployment", n, h(Health::Progressing), Some(live)))
            .collect();
        assert_eq!(
            aggregate(&many).message,
            "Caused by apps/Deployment:ns/a, apps/Deployment:ns/b, apps/Deployment:ns/c and 2 more"
        );
    }
}
