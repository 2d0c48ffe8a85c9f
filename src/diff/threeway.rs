//! The predicted live state, as Argo CD's three-way diff computes it: the changes from the
//! last-applied configuration to Git (deletions) and from live to Git (additions and changes)
//! applied to live. Built-in kinds merge lists by their strategic-merge keys and get the API
//! server's defaults on both sides; other kinds (CRDs) keep only the fields last-applied knew and
//! merge like a JSON merge patch.

use serde_json::{Map, Value, json};

/// API groups whose kinds the Kubernetes scheme knows (strategic merge, defaulting).
const KNOWN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "extensions",
    "autoscaling",
    "policy",
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "certificates.k8s.io",
    "node.k8s.io",
    "flowcontrol.apiserver.k8s.io",
];

pub fn is_known(group: &str) -> bool {
    KNOWN_GROUPS.contains(&group)
}

/// The strategic-merge key of a list, from its field name and the path above it.
fn merge_key(kind: &str, path: &[&str]) -> Option<&'static [&'static str]> {
    let field = *path.last()?;
    let parent = if path.len() >= 2 {
        path[path.len() - 2]
    } else {
        ""
    };
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" => &["name"],
        "env" | "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates" => &["name"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "hostAliases" => &["ip"],
        "topologySpreadConstraints" => &["topologyKey", "whenUnsatisfiable"],
        "readinessGates" => &["conditionType"],
        "ownerReferences" => &["uid"],
        "webhooks" => &["name"],
        "conditions" => &["type"],
        "secrets" if kind == "ServiceAccount" => &["name"],
        "ports" if kind == "Service" && parent == "spec" => &["port", "protocol"],
        // Container ports: merged by containerPort (and protocol).
        "ports"
            if path
                .iter()
                .any(|p| *p == "containers" || *p == "initContainers") =>
        {
            &["containerPort", "protocol"]
        }
        _ => return None,
    })
}

/// Lists of scalars merged as sets.
fn set_list(path: &[&str]) -> bool {
    matches!(path.last(), Some(&"finalizers"))
}

fn same_key(a: &Value, b: &Value, keys: &[&str]) -> bool {
    keys.iter().all(|k| {
        let (x, y) = (a.get(*k), b.get(*k));
        // An unset protocol is TCP.
        if *k == "protocol" {
            let d = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("TCP").to_string();
            return d(x) == d(y);
        }
        x == y
    })
}

struct Merger<'a> {
    kind: &'a str,
    keyed: bool,
}

impl Merger<'_> {
    fn merge(
        &self,
        orig: Option<&Value>,
        cfg: &Value,
        live: Option<&Value>,
        path: &mut Vec<String>,
    ) -> Value {
        match (cfg, live) {
            (Value::Object(c), Some(Value::Object(l))) => {
                let mut out = l.clone();
                if let Some(Value::Object(o)) = orig {
                    for k in o.keys() {
                        if !c.contains_key(k) {
                            out.shift_remove(k);
                        }
                    }
                }
                for (k, cv) in c {
                    path.push(k.clone());
                    let merged = self.merge(orig.and_then(|o| o.get(k)), cv, l.get(k), path);
                    path.pop();
                    out.insert(k.clone(), merged);
                }
                Value::Object(out)
            }
            (Value::Array(c), Some(Value::Array(l))) if self.keyed => {
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                if let Some(keys) = merge_key(self.kind, &p)
                    && c.iter().chain(l.iter()).all(Value::is_object)
                {
                    return Value::Array(self.merge_keyed(orig, c, l, keys, path));
                }
                if set_list(&p) {
                    let orig_items: Vec<&Value> = orig
                        .and_then(Value::as_array)
                        .map(|o| o.iter().collect())
                        .unwrap_or_default();
                    let mut out: Vec<Value> = l
                        .iter()
                        .filter(|x| c.contains(x) || !orig_items.contains(x))
                        .cloned()
                        .collect();
                    for x in c {
                        if !out.contains(x) {
                            out.push(x.clone());
                        }
                    }
                    return Value::Array(out);
                }
                cfg.clone()
            }
            _ => cfg.clone(),
        }
    }

    fn merge_keyed(
        &self,
        orig: Option<&Value>,
        c: &[Value],
        l: &[Value],
        keys: &[&str],
        path: &mut Vec<String>,
    ) -> Vec<Value> {
        let orig_items: &[Value] = orig
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut out: Vec<Value> = Vec::new();
        // Live order is kept; items that Git dropped (present in last-applied, absent now) go.
        for li in l {
            let in_cfg = c.iter().find(|ci| same_key(ci, li, keys));
            let was_applied = orig_items.iter().any(|oi| same_key(oi, li, keys));
            match in_cfg {
                Some(ci) => {
                    let oi = orig_items.iter().find(|oi| same_key(oi, li, keys));
                    path.push("*".into());
                    out.push(self.merge(oi, ci, Some(li), path));
                    path.pop();
                }
                None if was_applied => {}
                None => out.push(li.clone()),
            }
        }
        for ci in c {
            if !l.iter().any(|li| same_key(ci, li, keys)) {
                out.push(ci.clone());
            }
        }
        out
    }
}

/// Removes from `live` every map field that `orig` does not have (gitops-engine's
/// `RemoveMapFields`), so fields a controller or the API server added do not count.
pub fn remove_map_fields(orig: &Value, live: &Value) -> Value {
    match (orig, live) {
        (Value::Object(o), Value::Object(l)) => {
            let mut out = Map::new();
            for (k, lv) in l {
                if let Some(ov) = o.get(k) {
                    out.insert(k.clone(), remove_map_fields(ov, lv));
                }
            }
            Value::Object(out)
        }
        _ => live.clone(),
    }
}

/// Drops null map values recursively (what a round trip through the typed struct does).
pub fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The result of the three-way merge.
pub struct Predicted {
    pub normalized_live: Value,
    pub predicted: Value,
}

/// Computes the predicted live state of `config` over `live`, with `orig` the last-applied
/// configuration (or `config` itself in a two-way diff).
pub fn predict(orig: &Value, config: &Value, live: &Value) -> Predicted {
    let (group, version) = crate::health::group_version(config);
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut orig = orig.clone();
    let mut config = config.clone();
    for o in [&mut orig, &mut config] {
        if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.shift_remove("namespace");
            let empty = meta
                .get("annotations")
                .is_none_or(|a| a.is_null() || a.as_object().is_some_and(Map::is_empty));
            if empty {
                meta.shift_remove("annotations");
            }
        }
    }
    if is_known(group) {
        let mut live = live.clone();
        if kind == "StatefulSet" {
            strip_volume_claim_templates(&mut live);
        }
        drop_nulls(&mut config);
        drop_nulls(&mut orig);
        drop_nulls(&mut live);
        let m = Merger { kind, keyed: true };
        let mut predicted = m.merge(Some(&orig), &config, Some(&live), &mut Vec::new());
        default(group, version, kind, &mut predicted);
        default(group, version, kind, &mut live);
        Predicted {
            normalized_live: live,
            predicted,
        }
    } else {
        let live = remove_map_fields(&orig, live);
        let m = Merger { kind, keyed: false };
        let predicted = m.merge(Some(&orig), &config, Some(&live), &mut Vec::new());
        Predicted {
            normalized_live: live,
            predicted,
        }
    }
}

fn strip_volume_claim_templates(sts: &mut Value) {
    if let Some(Value::Array(vcts)) = sts.pointer_mut("/spec/volumeClaimTemplates") {
        for t in vcts {
            if let Some(m) = t.as_object_mut() {
                m.shift_remove("status");
                if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.shift_remove("creationTimestamp");
                }
            }
        }
    }
}

fn set_default(obj: &mut Map<String, Value>, key: &str, v: Value) {
    if obj.get(key).is_none_or(Value::is_null) {
        obj.insert(key.to_string(), v);
    }
}

fn obj_at<'a>(v: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut cur = v;
    for p in path {
        cur = cur.get_mut(*p)?;
    }
    cur.as_object_mut()
}

fn each_obj(v: &mut Value, path: &[&str], f: impl Fn(&mut Map<String, Value>)) {
    let mut cur = &mut *v;
    for p in path {
        match cur.get_mut(*p) {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Value::Array(items) = cur {
        for it in items.iter_mut() {
            if let Some(m) = it.as_object_mut() {
                f(m);
            }
        }
    }
}

fn default_probe(p: Option<&mut Value>) {
    let Some(p) = p.and_then(Value::as_object_mut) else {
        return;
    };
    set_default(p, "timeoutSeconds", json!(1));
    set_default(p, "periodSeconds", json!(10));
    set_default(p, "successThreshold", json!(1));
    set_default(p, "failureThreshold", json!(3));
    if let Some(h) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
        set_default(h, "scheme", json!("HTTP"));
    }
}

fn default_container(c: &mut Map<String, Value>) {
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    if c.get("imagePullPolicy").is_none_or(Value::is_null) {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let tag = image.rsplit('/').next().unwrap_or("");
        let latest = !image.contains('@') && (!tag.contains(':') || tag.ends_with(":latest"));
        c.insert(
            "imagePullPolicy".into(),
            json!(if latest { "Always" } else { "IfNotPresent" }),
        );
    }
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(p, "protocol", json!("TCP"));
        }
    }
    if let Some(Value::Array(env)) = c.get_mut("env") {
        for e in env.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(f) = e
                .get_mut("valueFrom")
                .and_then(|v| v.get_mut("fieldRef"))
                .and_then(Value::as_object_mut)
            {
                set_default(f, "apiVersion", json!("v1"));
            }
            if let Some(f) = e
                .get_mut("valueFrom")
                .and_then(|v| v.get_mut("resourceFieldRef"))
                .and_then(Value::as_object_mut)
            {
                set_default(f, "divisor", json!("0"));
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        default_probe(c.get_mut(probe));
    }
}

fn default_pod_spec(spec: &mut Map<String, Value>) {
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = spec.get_mut(list) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                default_container(c);
            }
        }
    }
    if let Some(Value::Array(vols)) = spec.get_mut("volumes") {
        for v in vols.iter_mut().filter_map(Value::as_object_mut) {
            for src in ["configMap", "secret", "downwardAPI", "projected"] {
                if let Some(s) = v.get_mut(src).and_then(Value::as_object_mut) {
                    set_default(s, "defaultMode", json!(420));
                }
            }
        }
    }
}

fn default_template(obj: &mut Value, path: &[&str]) {
    if let Some(t) = obj_at(obj, path) {
        if let Some(meta) = t.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.shift_remove("creationTimestamp");
        }
        if let Some(spec) = t.get_mut("spec").and_then(Value::as_object_mut) {
            default_pod_spec(spec);
        }
    }
}

/// The API server's defaults for the built-in kinds driftdeck diffs most (scheme defaulting).
pub fn default(group: &str, version: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("apps", "Deployment") | ("extensions", "Deployment") => {
            if let Some(spec) = obj_at(obj, &["spec"]) {
                set_default(spec, "replicas", json!(1));
                set_default(spec, "revisionHistoryLimit", json!(10));
                set_default(spec, "progressDeadlineSeconds", json!(600));
                let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
                if let Some(s) = strategy.as_object_mut() {
                    set_default(s, "type", json!("RollingUpdate"));
                    if s.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                        let ru = s.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(ru) = ru.as_object_mut() {
                            set_default(ru, "maxUnavailable", json!("25%"));
                            set_default(ru, "maxSurge", json!("25%"));
                        }
                    }
                }
            }
            default_template(obj, &["spec", "template"]);
        }
        ("apps", "StatefulSet") => {
            if let Some(spec) = obj_at(obj, &["spec"]) {
                set_default(spec, "replicas", json!(1));
                set_default(spec, "podManagementPolicy", json!("OrderedReady"));
                set_default(spec, "revisionHistoryLimit", json!(10));
                let st = spec.entry("updateStrategy").or_insert_with(|| json!({}));
                if let Some(s) = st.as_object_mut() {
                    let t = if version == "v1" {
                        "RollingUpdate"
                    } else {
                        "OnDelete"
                    };
                    set_default(s, "type", json!(t));
                    if version == "v1"
                        && s.get("type").and_then(Value::as_str) == Some("RollingUpdate")
                    {
                        let ru = s.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(ru) = ru.as_object_mut() {
                            set_default(ru, "partition", json!(0));
                        }
                    }
                }
            }
            default_template(obj, &["spec", "template"]);
        }
        ("apps", "DaemonSet") => {
            if let Some(spec) = obj_at(obj, &["spec"]) {
                set_default(spec, "revisionHistoryLimit", json!(10));
                let st = spec.entry("updateStrategy").or_insert_with(|| json!({}));
                if let Some(s) = st.as_object_mut() {
                    set_default(s, "type", json!("RollingUpdate"));
                    if s.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                        let ru = s.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(ru) = ru.as_object_mut() {
                            set_default(ru, "maxUnavailable", json!(1));
                            set_default(ru, "maxSurge", json!(0));
                        }
                    }
                }
            }
            default_template(obj, &["spec", "template"]);
        }
        ("apps", "ReplicaSet") => {
            if let Some(spec) = obj_at(obj, &["spec"]) {
                set_default(spec, "replicas", json!(1));
            }
            default_template(obj, &["spec", "template"]);
        }
        ("batch", "Job") => {
            if let Some(spec) = obj_at(obj, &["spec"]) {
                set_default(spec, "parallelism", json!(1));
                set_default(spec, "backoffLimit", json!(6));
                set_default(spec, "completionMode", json!("NonIndexed"));
                set_default(spec, "suspend", json!(false));
            }
            default_template(obj, &["spec", "template"]);
        }
        ("batch", "CronJob") => {
            if let Some(spec) = obj_at(obj, &["spec"]) {
                set_default(spec, "concurrencyPolicy", json!("Allow"));
                set_default(spec, "suspend", json!(false));
                set_default(spec, "successfulJobsHistoryLimit", json!(3));
                set_default(spec, "failedJobsHistoryLimit", json!(1));
            }
            default_template(obj, &["spec", "jobTemplate", "spec", "template"]);
        }
        ("", "Pod") => {
            if let Some(spec) = obj_at(obj, &["spec"]) {
                default_pod_spec(spec);
                set_default(spec, "enableServiceLinks", json!(true));
            }
        }
        ("", "Service") => {
            if let Some(spec) = obj_at(obj, &["spec"]) {
                set_default(spec, "type", json!("ClusterIP"));
                set_default(spec, "sessionAffinity", json!("None"));
                if spec.get("type").and_then(Value::as_str) != Some("ExternalName") {
                    set_default(spec, "internalTrafficPolicy", json!("Cluster"));
                }
                if matches!(
                    spec.get("type").and_then(Value::as_str),
                    Some("LoadBalancer" | "NodePort")
                ) {
                    set_default(spec, "externalTrafficPolicy", json!("Cluster"));
                }
            }
            each_obj(obj, &["spec", "ports"], |p| {
                set_default(p, "protocol", json!("TCP"));
                if p.get("targetPort").is_none_or(Value::is_null)
                    && let Some(port) = p.get("port").cloned()
                {
                    p.insert("targetPort".into(), port);
                }
            });
        }
        ("", "Secret") => {
            if let Some(m) = obj.as_object_mut() {
                set_default(m, "type", json!("Opaque"));
            }
        }
        ("", "PersistentVolumeClaim") => {
            if let Some(spec) = obj_at(obj, &["spec"]) {
                set_default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => {
            let v1 = version == "v1";
            let mutating = kind == "MutatingWebhookConfiguration";
            each_obj(obj, &["webhooks"], |w| {
                set_default(
                    w,
                    "failurePolicy",
                    json!(if v1 { "Fail" } else { "Ignore" }),
                );
                set_default(
                    w,
                    "matchPolicy",
                    json!(if v1 { "Equivalent" } else { "Exact" }),
                );
                set_default(w, "namespaceSelector", json!({}));
                set_default(w, "objectSelector", json!({}));
                set_default(w, "timeoutSeconds", json!(if v1 { 10 } else { 30 }));
                if !v1 {
                    set_default(w, "sideEffects", json!("Unknown"));
                    set_default(w, "admissionReviewVersions", json!(["v1beta1"]));
                }
                if mutating {
                    set_default(w, "reinvocationPolicy", json!("Never"));
                }
                if let Some(svc) = w
                    .get_mut("clientConfig")
                    .and_then(|c| c.get_mut("service"))
                    .and_then(Value::as_object_mut)
                {
                    set_default(svc, "port", json!(443));
                }
                if let Some(Value::Array(rules)) = w.get_mut("rules") {
                    for r in rules.iter_mut().filter_map(Value::as_object_mut) {
                        set_default(r, "scope", json!("*"));
                    }
                }
            });
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            if let Some(spec) = obj_at(obj, &["spec"])
                && spec.get("policyTypes").is_none_or(Value::is_null)
            {
                let mut t = vec![json!("Ingress")];
                if spec.get("egress").is_some_and(|e| !e.is_null()) {
                    t.push(json!("Egress"));
                }
                spec.insert("policyTypes".into(), Value::Array(t));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_lists_keep_live_only_items_and_drop_removed_ones() {
        let orig = json!({"kind": "Deployment", "apiVersion": "apps/v1", "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "OLD", "value": "x"}]}]}}}});
        let cfg = json!({"kind": "Deployment", "apiVersion": "apps/v1", "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a:2", "env": [{"name": "A", "value": "1"}]}]}}}});
        let live = json!({"kind": "Deployment", "apiVersion": "apps/v1", "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "app", "image": "a:1", "env": [{"name": "INJECTED", "value": "y"}, {"name": "A", "value": "1"}, {"name": "OLD", "value": "x"}]},
            {"name": "sidecar", "image": "s:1"}]}}}});
        let p = predict(&orig, &cfg, &live);
        let c = &p.predicted["spec"]["template"]["spec"]["containers"];
        assert_eq!(c[0]["image"], "a:2");
        assert_eq!(
            c[0]["env"],
            json!([{"name": "INJECTED", "value": "y"}, {"name": "A", "value": "1"}])
        );
        assert_eq!(c[1]["name"], "sidecar", "an item nobody applied stays");
        assert_eq!(
            p.predicted["spec"]["replicas"], 3,
            "a field Git never set stays"
        );
        assert_eq!(
            c[0]["terminationMessagePath"], "/dev/termination-log",
            "defaults"
        );
    }

    #[test]
    fn deletions_come_from_last_applied() {
        let orig = json!({"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "1", "b": "2"}});
        let cfg = json!({"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "1"}});
        let live = json!({"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "1", "b": "2", "c": "3"}});
        let p = predict(&orig, &cfg, &live);
        assert_eq!(p.predicted["data"], json!({"a": "1", "c": "3"}));
    }

    #[test]
    fn unknown_kinds_only_keep_what_was_applied() {
        let orig = json!({"kind": "Widget", "apiVersion": "acme.io/v1", "spec": {"size": 1}});
        let live = json!({"kind": "Widget", "apiVersion": "acme.io/v1", "spec": {"size": 1, "defaulted": true}, "extra": 1});
        let p = predict(&orig, &orig, &live);
        assert_eq!(p.predicted, p.normalized_live);
        assert!(p.normalized_live["spec"].get("defaulted").is_none());
    }
}
