//! Normalization with Argo CD's rules: `creationTimestamp` removed, Secret `stringData` folded
//! into `data`, Role/ClusterRole empty and aggregated rules, Endpoints ordering, `/status`
//! ignored by default, and the app's `ignoreDifferences` (`jsonPointers`, `jqPathExpressions`
//! through a real jq implementation, `managedFieldsManagers`), group and kind matched by glob.

use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value};

use super::managed;
use crate::model::app::ResourceIgnoreDifferences;

/// A problem with an ignoreDifferences rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ignoreDifferences rule #{index} ({what}): {detail}")]
pub struct RuleError {
    pub index: usize,
    pub what: String,
    pub detail: String,
}

/// One compiled ignoreDifferences rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub group: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub json_pointers: Vec<String>,
    pub jq: Vec<String>,
    pub managers: Vec<String>,
}

impl Rule {
    /// Group and kind are globs; name and namespace are exact or empty (any).
    pub fn applies(&self, group: &str, kind: &str, namespace: &str, name: &str) -> bool {
        glob(&self.group, group)
            && glob(&self.kind, kind)
            && (self.name.is_empty() || self.name == name)
            && (self.namespace.is_empty() || self.namespace == namespace)
    }
}

/// gobwas-style glob without separators: `*`, `?`, `[...]`, `{a,b}`; empty pattern matches
/// anything (an unset group or kind matches every one).
pub fn glob(pattern: &str, value: &str) -> bool {
    if pattern.is_empty() || pattern == "*" {
        return true;
    }
    crate::util::glob_match(pattern, value)
}

/// How to normalize objects before comparing them.
#[derive(Debug, Clone)]
pub struct Normalizer {
    pub rules: Vec<Rule>,
    /// Argo CD's `resource.compareoptions.ignoreResourceStatusField` (default `all`).
    pub ignore_status: bool,
    pub ignore_aggregated_roles: bool,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer {
            rules: Vec::new(),
            ignore_status: true,
            ignore_aggregated_roles: false,
        }
    }
}

/// Identity of an object for rule matching.
pub fn identity(obj: &Value) -> (String, String, String, String) {
    let (g, _) = crate::health::group_version(obj);
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let meta = obj.get("metadata");
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    (
        g.to_string(),
        kind.to_string(),
        ns.to_string(),
        name.to_string(),
    )
}

impl Normalizer {
    /// Compiles the rules; a `jqPathExpressions` entry that does not compile is an error naming
    /// the rule.
    pub fn new(ignore: &[ResourceIgnoreDifferences]) -> Result<Normalizer, RuleError> {
        let mut rules = Vec::new();
        for (i, r) in ignore.iter().enumerate() {
            let what = format!(
                "group {:?} kind {:?}{}",
                r.group,
                r.kind,
                if r.name.is_empty() {
                    String::new()
                } else {
                    format!(" name {:?}", r.name)
                }
            );
            for p in &r.json_pointers {
                if !p.is_empty() && !p.starts_with('/') {
                    return Err(RuleError {
                        index: i + 1,
                        what,
                        detail: format!("json pointer {p:?} must start with /"),
                    });
                }
            }
            for e in &r.jq_path_expressions {
                jq_check(e).map_err(|detail| RuleError {
                    index: i + 1,
                    what: what.clone(),
                    detail: format!("jqPathExpression {e:?} {detail}"),
                })?;
            }
            rules.push(Rule {
                group: r.group.clone(),
                kind: r.kind.clone(),
                name: r.name.clone(),
                namespace: r.namespace.clone(),
                json_pointers: r.json_pointers.clone(),
                jq: r.jq_path_expressions.clone(),
                managers: r.managed_fields_managers.clone(),
            });
        }
        Ok(Normalizer {
            rules,
            ..Default::default()
        })
    }

    fn matching<'a>(&'a self, obj: &Value) -> impl Iterator<Item = &'a Rule> + 'a {
        let (g, k, ns, n) = identity(obj);
        self.rules
            .iter()
            .filter(move |r| r.applies(&g, &k, &ns, &n))
    }

    /// gitops-engine's `Normalize` plus the ignore rules (pointers and jq), in place.
    pub fn normalize(&self, obj: &mut Value) {
        builtin(obj, self.ignore_aggregated_roles);
        if self.ignore_status
            && let Some(m) = obj.as_object_mut()
        {
            m.shift_remove("status");
        }
        let rules: Vec<Rule> = self.matching(obj).cloned().collect();
        for r in &rules {
            for p in &r.json_pointers {
                remove_pointer(obj, p);
            }
            for e in &r.jq {
                if let Ok(out) = jq_delete(e, obj) {
                    *obj = out;
                }
            }
        }
    }

    /// `managedFieldsManagers`: fields the desired state would change and that a listed manager
    /// owns in live are removed from both sides.
    pub fn drop_managed(&self, desired: &mut Value, live: &mut Value) {
        let managers: Vec<String> = self
            .matching(live)
            .flat_map(|r| r.managers.clone())
            .collect();
        if managers.is_empty() {
            return;
        }
        let entries = managed::entries(live);
        let mut remove = Vec::new();
        for e in entries.iter().filter(|e| managers.contains(&e.manager)) {
            for leaf in e.set.leaves() {
                let Some(lp) = managed::resolve(live, &leaf) else {
                    continue;
                };
                let dp = managed::resolve(desired, &leaf);
                let lv = live.pointer(&lp);
                let dv = dp.as_ref().and_then(|p| desired.pointer(p));
                if dv.is_some() && dv != lv {
                    remove.push((lp, dp));
                }
            }
        }
        for (lp, dp) in remove {
            remove_pointer(live, &lp);
            if let Some(dp) = dp {
                remove_pointer(desired, &dp);
            }
        }
    }
}

/// Removes the value at a JSON pointer; a missing path is not an error (as Argo CD skips it).
pub fn remove_pointer(obj: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    let target = if parent.is_empty() {
        Some(obj)
    } else {
        obj.pointer_mut(parent)
    };
    match target {
        Some(Value::Object(m)) => {
            m.shift_remove(&last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// gitops-engine's `Normalize` for every kind.
pub fn builtin(obj: &mut Value, ignore_aggregated_roles: bool) {
    let (group, kind, _, _) = identity(obj);
    let Some(m) = obj.as_object_mut() else { return };
    if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("creationTimestamp");
    }
    match (group.as_str(), kind.as_str()) {
        ("", "Secret") => normalize_secret(m),
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => {
            if m.get("rules")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                m.shift_remove("rules");
            }
            if ignore_aggregated_roles && m.get("aggregationRule").is_some_and(|a| !a.is_null()) {
                m.shift_remove("rules");
            }
        }
        ("", "Endpoints") => normalize_endpoints(m),
        _ => {}
    }
}

fn normalize_secret(m: &mut Map<String, Value>) {
    if let Some(Value::Object(sd)) = m.shift_remove("stringData") {
        let data = m.entry("data").or_insert_with(|| Value::Object(Map::new()));
        if !data.is_object() {
            *data = Value::Object(Map::new());
        }
        if let Some(d) = data.as_object_mut() {
            for (k, v) in sd {
                let s = match v {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                d.insert(
                    k,
                    Value::String(base64::engine::general_purpose::STANDARD.encode(s)),
                );
            }
        }
    }
    if let Some(Value::Object(d)) = m.get_mut("data") {
        for v in d.values_mut() {
            if v.is_null() {
                *v = Value::String(String::new());
            }
        }
    }
}

fn sort_by_json(items: &mut [Value]) {
    items.sort_by_key(|a| a.to_string());
}

fn normalize_endpoints(m: &mut Map<String, Value>) {
    let Some(Value::Array(subsets)) = m.get_mut("subsets") else {
        return;
    };
    for s in subsets.iter_mut() {
        if let Some(Value::Array(ports)) = s.get_mut("ports") {
            for p in ports.iter_mut() {
                if let Some(pm) = p.as_object_mut() {
                    let empty = pm
                        .get("protocol")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty);
                    if empty {
                        pm.insert("protocol".into(), Value::String("TCP".into()));
                    }
                }
            }
            sort_by_json(ports);
        }
        for key in ["addresses", "notReadyAddresses"] {
            if let Some(Value::Array(a)) = s.get_mut(key) {
                sort_by_json(a);
            }
        }
    }
    sort_by_json(subsets);
}

/// Argo CD's secret masking (`HideSecretData`): each `data` value of the two objects (and of
/// their last-applied annotations) becomes a run of `+`; equal values get equal runs, different
/// values different lengths (8, 12, 16, ...). `stringData` values, which a state not yet
/// normalized may carry, are masked the same way, and so is an annotation that is not JSON.
pub fn hide_secret_data(target: Option<&mut Value>, live: Option<&mut Value>) {
    const LA: &str = "kubectl.kubernetes.io/last-applied-configuration";
    let is_secret = |v: &Value| {
        v.get("kind").and_then(Value::as_str) == Some("Secret")
            && crate::health::group_version(v).0.is_empty()
    };
    let mut target = target.filter(|t| is_secret(t));
    let mut live = live.filter(|l| is_secret(l));
    if target.is_none() && live.is_none() {
        return;
    }
    // A predicted live state carries live's annotation, so both objects' annotations are masked.
    let annotation = |v: &Option<&mut Value>| -> Option<Value> {
        v.as_ref()
            .and_then(|v| v.pointer(&format!("/metadata/annotations/{}", LA.replace('/', "~1"))))
            .and_then(Value::as_str)
            .map(|s| serde_json::from_str(s).unwrap_or(Value::Null))
    };
    let (mut target_orig, mut live_orig) = (annotation(&target), annotation(&live));
    let mut keys: Vec<String> = Vec::new();
    for o in [
        target.as_deref(),
        live.as_deref(),
        live_orig.as_ref(),
        target_orig.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        for field in ["data", "stringData"] {
            for k in o
                .get(field)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    for k in &keys {
        let mut runs = Runs::default();
        for o in [
            target.as_deref_mut(),
            live.as_deref_mut(),
            live_orig.as_mut(),
            target_orig.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            let Some(m) = o.as_object_mut() else { continue };
            for (field, v) in m.iter_mut() {
                if (field == "data" || field == "stringData")
                    && let Some(slot) = v.get_mut(k.as_str()).filter(|s| !s.is_null())
                {
                    *slot = Value::String(runs.of(slot));
                }
            }
        }
    }
    for (obj, orig) in [(target, target_orig), (live, live_orig)] {
        let (Some(obj), Some(orig)) = (obj, orig) else {
            continue;
        };
        let text = if orig.is_object() {
            serde_json::to_string(&orig).unwrap_or_default()
        } else {
            "++++++++".into()
        };
        if let Some(a) = obj
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            a.insert(LA.into(), Value::String(text));
        }
    }
}

/// The `+` runs of one Secret key: the same value gets the same run, each new value a longer one.
#[derive(Default)]
struct Runs {
    seen: Vec<String>,
}

impl Runs {
    fn of(&mut self, v: &Value) -> String {
        let val = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        let i = match self.seen.iter().position(|s| *s == val) {
            Some(i) => i,
            None => {
                self.seen.push(val);
                self.seen.len() - 1
            }
        };
        "+".repeat(8 + 4 * i)
    }
}

/// Checks that a jq path expression compiles (and refuses definitions, which could recurse
/// forever).
pub fn jq_check(expr: &str) -> Result<(), String> {
    if expr
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .any(|w| w == "def")
    {
        return Err("uses `def`, which is not allowed in a path expression".into());
    }
    jq_compile_and_run(&format!("del({expr})"), None).map(|_| ())
}

/// Applies `del(EXPR)` to `obj` with a 1 s limit, as Argo CD does. More than one output, an
/// error or the time limit fail the patch.
pub fn jq_delete(expr: &str, obj: &Value) -> Result<Value, String> {
    let code = format!("del({expr})");
    let input = serde_json::to_string(obj).map_err(|e| e.to_string())?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("jq".into())
        .spawn(move || {
            let _ = tx.send(jq_compile_and_run(&code, Some(&input)));
        })
        .map_err(|e| e.to_string())?;
    let outs = rx
        .recv_timeout(Duration::from_secs(1))
        .map_err(|_| "did not finish within 1 s".to_string())??;
    match outs.as_slice() {
        [one] => serde_json::from_str(one).map_err(|e| e.to_string()),
        _ => Err(format!("gave {} results instead of one", outs.len())),
    }
}

/// Compiles `code` and, with an input, runs it (at most two outputs are collected).
fn jq_compile_and_run(code: &str, input: Option<&str>) -> Result<Vec<String>, String> {
    use jaq_core::load::{Arena, File, Loader};
    use jaq_core::{Ctx, Vars, data, unwrap_valr};
    use jaq_json::Val;
    let program = File { code, path: () };
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader.load(&arena, program).map_err(|errs| {
        let detail: Vec<String> = errs.iter().map(|(_, e)| format!("{e:?}")).collect();
        format!("does not parse: {}", detail.join("; "))
    })?;
    let filter = jaq_core::Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let detail: Vec<String> = errs.iter().map(|(_, e)| format!("{e:?}")).collect();
            format!("does not compile: {}", detail.join("; "))
        })?;
    let Some(input) = input else {
        return Ok(Vec::new());
    };
    let input = jaq_json::read::parse_single(input.as_bytes()).map_err(|e| e.to_string())?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut out = Vec::new();
    for v in filter.id.run((ctx, input)).map(unwrap_valr) {
        match v {
            Ok(v) => out.push(v.to_string()),
            Err(e) => return Err(format!("failed: {e}")),
        }
        if out.len() > 1 {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_string_data_folds_into_data() {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"creationTimestamp": null}, "stringData": {"a": "hi"}, "data": {"b": null}});
        builtin(&mut s, false);
        assert_eq!(
            s,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {}, "data": {"b": "", "a": "aGk="}})
        );
    }

    #[test]
    fn masking_keeps_equality_visible() {
        let mut t = json!({"apiVersion": "v1", "kind": "Secret", "data": {"same": "eA==", "diff": "eA==", "only": "eQ=="}});
        let mut l = json!({"apiVersion": "v1", "kind": "Secret", "data": {"same": "eA==", "diff": "eg=="},
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"diff\":\"eA==\"}}"}}});
        hide_secret_data(Some(&mut t), Some(&mut l));
        assert_eq!(t["data"]["same"], "++++++++");
        assert_eq!(l["data"]["same"], "++++++++");
        assert_eq!(t["data"]["diff"], "++++++++");
        assert_eq!(l["data"]["diff"], "++++++++++++");
        let la: Value = serde_json::from_str(
            l["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            la["data"]["diff"], "++++++++",
            "last-applied masked like target"
        );
        assert!(!l.to_string().contains("eg=="));
    }

    /// A predicted state carries live's last-applied annotation; a state not yet normalized may
    /// have `stringData`; the annotation may name keys neither object has. None of it shows.
    #[test]
    fn masking_reaches_every_copy_of_a_value() {
        let la =
            "{\"kind\":\"Secret\",\"data\":{\"pw\":\"c2VjcmV0MQ==\",\"gone\":\"b2xkc2VjcmV0\"}}";
        let mut predicted = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": la}},
            "data": {"pw": "c2VjcmV0MQ=="}, "stringData": {"token": "hunter2hunter2"}});
        let mut live = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": la}},
            "data": {"pw": "c2VjcmV0Mg=="}});
        hide_secret_data(Some(&mut predicted), Some(&mut live));
        let all = format!("{predicted}{live}");
        for v in [
            "c2VjcmV0MQ==",
            "c2VjcmV0Mg==",
            "b2xkc2VjcmV0",
            "hunter2hunter2",
        ] {
            assert!(!all.contains(v), "{v} in {all}");
        }
        assert_eq!(predicted["data"]["pw"], "++++++++");
        assert_eq!(live["data"]["pw"], "++++++++++++");
        assert_eq!(predicted["stringData"]["token"], "++++++++");
        // Not JSON: the whole annotation is masked.
        let mut l = json!({"kind": "Secret", "apiVersion": "v1", "data": {},
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "data: c2VjcmV0"}}});
        hide_secret_data(None, Some(&mut l));
        assert_eq!(
            l["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "++++++++"
        );
    }

    #[test]
    fn ignore_rules_match_by_glob() {
        let n = Normalizer::new(&[ResourceIgnoreDifferences {
            group: "apps".into(),
            kind: "*".into(),
            json_pointers: vec!["/spec/replicas".into(), "/no/such/path".into()],
            jq_path_expressions: vec![
                ".spec.template.spec.containers[] | select(.name == \"sidecar\") | .image".into(),
            ],
            ..Default::default()
        }])
        .unwrap();
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "app", "image": "a"}, {"name": "sidecar", "image": "b"}]}}},
            "status": {"replicas": 3}});
        n.normalize(&mut d);
        assert!(d["spec"].get("replicas").is_none());
        assert!(d.get("status").is_none());
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "a");
        assert!(
            d["spec"]["template"]["spec"]["containers"][1]
                .get("image")
                .is_none()
        );
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "spec": {"replicas": 1}});
        n.normalize(&mut cm);
        assert_eq!(cm["spec"]["replicas"], 1, "group does not match");
    }

    #[test]
    fn a_jq_expression_that_does_not_compile_names_the_rule() {
        let e = Normalizer::new(&[ResourceIgnoreDifferences {
            kind: "Deployment".into(),
            jq_path_expressions: vec![".spec.(".into()],
            ..Default::default()
        }])
        .unwrap_err();
        assert_eq!(e.index, 1);
        assert!(
            e.to_string().contains("jqPathExpression \".spec.(\""),
            "{e}"
        );
        assert!(jq_check("def f: f; f").is_err());
    }
}
