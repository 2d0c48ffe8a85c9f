//! Writes: patches of every content type, and what they change in the demo state.

use serde_json::{Value, json};

use super::{Failure, Kind, Obj, Req, scale_of};
use crate::demo::generator::Drift;
use crate::demo::resources;

/// Paths (JSON pointers) where two values differ.
fn changed(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                changed(
                    &p,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (a, b)) in x.iter().zip(y).enumerate() {
                changed(&format!("{path}/{i}"), a, b, out);
            }
        }
        _ => out.push(path.to_string()),
    }
}

/// A strategic merge patch as the server applies it to the kinds the demo has: a merge
/// patch, except that lists of named items (containers, env, volumes, ports) merge item by
/// item on their `name` and `$patch: delete` removes one.
pub fn strategic(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() {
                    t.shift_remove(k);
                } else if let Some(cur) = t.get_mut(k) {
                    strategic(cur, v);
                } else {
                    let mut fresh = v.clone();
                    strip_directives(&mut fresh);
                    t.insert(k.clone(), fresh);
                }
            }
        }
        (Value::Array(t), Value::Array(p))
            if p.iter().all(|i| i["name"].is_string())
                && t.iter().all(|i| i["name"].is_string()) =>
        {
            for item in p {
                let pos = t.iter().position(|x| x["name"] == item["name"]);
                match (pos, item["$patch"].as_str()) {
                    (Some(i), Some("delete")) => {
                        t.remove(i);
                    }
                    (None, Some("delete")) => {}
                    (Some(i), _) => strategic(&mut t[i], item),
                    (None, _) => {
                        let mut fresh = item.clone();
                        strip_directives(&mut fresh);
                        t.push(fresh);
                    }
                }
            }
        }
        (t, p) => {
            *t = p.clone();
            strip_directives(t);
        }
    }
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

/// Who owns a path of the object (by its managedFields), other than `manager`.
fn owner_other_than(obj: &Value, path: &[String], manager: &str) -> Option<String> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .filter(|e| e["manager"] != manager)
        .find(|e| {
            let mut cur = &e["fieldsV1"];
            for p in path {
                cur = &cur[p];
                if cur.is_null() {
                    return false;
                }
            }
            true
        })
        .and_then(|e| e["manager"].as_str().map(str::to_string))
}

/// A JSON pointer as a fieldsV1 path (`/spec/replicas` → `f:spec`, `f:replicas`; a list
/// item by index becomes the item's `k:{"name":…}` key when it has a name).
pub fn fields_path(obj: &Value, pointer: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = obj;
    for tok in pointer.split('/').skip(1) {
        let tok = tok.replace("~1", "/").replace("~0", "~");
        match cur {
            Value::Array(items) => {
                let i: usize = tok.parse().unwrap_or(usize::MAX);
                let item = items.get(i).unwrap_or(&Value::Null);
                match item["name"].as_str() {
                    Some(n) => out.push(format!("k:{}", json!({"name": n}))),
                    None => out.push(format!("i:{i}")),
                }
                cur = item;
            }
            _ => {
                out.push(format!("f:{tok}"));
                cur = &cur[tok.as_str()];
            }
        }
    }
    out
}

/// Applies a patch to a live object and records what changed as the demo state (unless it is
/// a dry run). Returns the object as it is after the patch, or the error reply.
pub fn patch(o: Obj, kind: &Kind, scale: bool, r: &Req) -> Result<(Value, Vec<String>), Failure> {
    let dry = r
        .dry_run()
        .map_err(|e| Failure::new(400, "BadRequest", &e, None))?;
    let ct = r.ctype.split(';').next().unwrap_or("").trim();
    let apply = ct == "application/apply-patch+yaml";
    let patch: Value = if apply {
        serde_yaml::from_slice(&r.body).map_err(|e| {
            Failure::new(
                400,
                "BadRequest",
                &format!("error decoding YAML: {e}"),
                None,
            )
        })?
    } else {
        serde_json::from_slice(&r.body).map_err(|e| {
            Failure::new(
                400,
                "BadRequest",
                &format!("error decoding patch: {e}"),
                None,
            )
        })?
    };
    if apply && r.q.get("fieldManager").is_none_or(|m| m.is_empty()) {
        return Err(Failure::new(
            400,
            "BadRequest",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            None,
        ));
    }
    let before = if scale {
        scale_of(&o.value)
    } else {
        o.value.clone()
    };
    let mut after = before.clone();
    match ct {
        "application/merge-patch+json" => super::super::patch::merge(&mut after, &patch),
        "application/strategic-merge-patch+json" => strategic(&mut after, &patch),
        "application/apply-patch+yaml" => {
            let name = before["metadata"]["name"].as_str().unwrap_or("");
            if patch["kind"] != before["kind"]
                || patch["apiVersion"] != before["apiVersion"]
                || patch["metadata"]["name"] != name
            {
                return Err(Failure::new(
                    400,
                    "BadRequest",
                    &format!(
                        "the applied configuration must name {} {name} (apiVersion {}), as the request path does",
                        kind.kind,
                        before["apiVersion"].as_str().unwrap_or("")
                    ),
                    None,
                ));
            }
            strategic(&mut after, &patch);
        }
        "application/json-patch+json" => {
            super::super::patch::json_patch(&mut after, &patch).map_err(|e| {
                Failure::new(
                    422,
                    "Invalid",
                    &format!("the JSON patch cannot be applied: {e}"),
                    None,
                )
            })?;
        }
        other => {
            return Err(Failure::new(
                415,
                "UnsupportedMediaType",
                &format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {other:?}"
                ),
                None,
            ));
        }
    }
    // Field validation, as the server does it since 1.27: unknown fields are an error under
    // Strict (what kubectl asks for), a warning under Warn (the default), nothing under Ignore.
    let validation = Failure::field_validation(r)?;
    let mut warnings = Vec::new();
    if !scale && validation != "Ignore" {
        let checked = if ct == "application/json-patch+json" {
            &after
        } else {
            &patch
        };
        let unknown = super::openapi::unknown_fields(kind, checked);
        if !unknown.is_empty() && validation == "Strict" {
            let list: Vec<String> = unknown
                .iter()
                .map(|u| format!("unknown field \"{u}\""))
                .collect();
            return Err(Failure::new(
                400,
                "BadRequest",
                &format!(
                    "{k} in version \"{v}\" cannot be handled as a {k}: strict decoding error: {}",
                    list.join(", "),
                    k = kind.kind,
                    v = kind.version
                ),
                None,
            ));
        }
        warnings = unknown
            .iter()
            .map(|u| format!("unknown field \"{u}\""))
            .collect();
    }
    // Optimistic concurrency: a write that names a resourceVersion must name the current one.
    let want = after["metadata"]["resourceVersion"].as_str().unwrap_or("");
    let have = before["metadata"]["resourceVersion"].as_str().unwrap_or("");
    if !want.is_empty() && want != have {
        let what = if kind.group.is_empty() {
            kind.plural.to_string()
        } else {
            format!("{}.{}", kind.plural, kind.group)
        };
        return Err(Failure::new(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {what} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                before["metadata"]["name"].as_str().unwrap_or("")
            ),
            Some(
                json!({"name": before["metadata"]["name"], "group": kind.group, "kind": kind.plural}),
            ),
        ));
    }
    // Writes to the main resource leave status alone (it has its own subresource), and the
    // server's own metadata cannot be set by a client.
    if !scale {
        after["status"] = before["status"].clone();
        if before.get("status").is_none()
            && let Some(m) = after.as_object_mut()
        {
            m.shift_remove("status");
        }
    }
    for f in ["uid", "creationTimestamp", "generation", "selfLink"] {
        match before["metadata"].get(f) {
            Some(v) => after["metadata"][f] = v.clone(),
            None => {
                if let Some(m) = after["metadata"].as_object_mut() {
                    m.shift_remove(f);
                }
            }
        }
    }
    if let Some(m) = after["metadata"].as_object_mut() {
        m.insert("resourceVersion".into(), json!(have));
        m.insert(
            "managedFields".into(),
            before["metadata"]["managedFields"].clone(),
        );
    }
    let mut paths = Vec::new();
    changed("", &before, &after, &mut paths);
    paths.retain(|p| p != "/metadata/resourceVersion" && !p.starts_with("/metadata/managedFields"));
    // Server-side apply: a field another manager owns is a conflict unless forced.
    if apply && r.q.get("force").is_none_or(|f| f != "true") {
        let conflicts: Vec<(String, String)> = paths
            .iter()
            .filter_map(|p| {
                let fp = fields_path(&before, p);
                owner_other_than(&o.value, &fp, &r.manager)
                    .filter(|m| m != "argocd-controller" || !p.starts_with("/metadata"))
                    .map(|m| (m, p.replace('/', ".")))
            })
            .collect();
        if !conflicts.is_empty() {
            let version = before["apiVersion"].as_str().unwrap_or("");
            // The real server's wording: one conflict inline, several listed per manager.
            let message = match conflicts.as_slice() {
                [(m, p)] => format!(
                    "Apply failed with 1 conflict: conflict with \"{m}\" using {version}: {p}"
                ),
                _ => {
                    let mut by: Vec<(String, Vec<String>)> = Vec::new();
                    for (m, p) in &conflicts {
                        match by.iter_mut().find(|(x, _)| x == m) {
                            Some((_, ps)) => ps.push(p.clone()),
                            None => by.push((m.clone(), vec![p.clone()])),
                        }
                    }
                    let parts: Vec<String> = by
                        .iter()
                        .map(|(m, ps)| {
                            format!(
                                "conflicts with \"{m}\" using {version}:\n- {}",
                                ps.join("\n- ")
                            )
                        })
                        .collect();
                    format!(
                        "Apply failed with {} conflicts: {}",
                        conflicts.len(),
                        parts.join("\n")
                    )
                }
            };
            return Err(Failure::new(409, "Conflict", &message, None));
        }
    }
    let now = o.inst.now();
    if dry {
        // A dry run answers what the write would give, and changes nothing.
        let mut v = after;
        record_fields(&mut v, &paths, &r.manager, apply, scale, now, kind);
        return Ok((v, warnings));
    }
    let name = after["metadata"]["name"].as_str().unwrap_or("").to_string();
    let key = format!("{}/{}", kind.kind, name);
    // Classify every change before touching the state: all or nothing.
    let mut replicas = None;
    let mut config: Vec<(String, String)> = Vec::new();
    let mut image = None;
    let mut meta = false;
    for p in &paths {
        if p.starts_with("/metadata/labels") || p.starts_with("/metadata/annotations") {
            meta = true;
        } else if p == "/spec/replicas"
            && (scale || matches!(kind.kind, "Deployment" | "Rollout" | "StatefulSet"))
        {
            replicas = after["spec"]["replicas"].as_i64();
        } else if kind.kind == "ConfigMap" && p.starts_with("/data/") && o.res.is_some() {
            let k = p
                .trim_start_matches("/data/")
                .replace("~1", "/")
                .replace("~0", "~");
            match after["data"][&k].as_str() {
                Some(v) => config.push((k, v.to_string())),
                None => {
                    return Err(Failure::new(
                        422,
                        "Invalid",
                        "the demo cluster cannot delete ConfigMap keys",
                        None,
                    ));
                }
            }
        } else if matches!(
            kind.kind,
            "Deployment" | "Rollout" | "StatefulSet" | "CronJob"
        ) && p.ends_with("/image")
        {
            let img = after.pointer(p).and_then(Value::as_str).unwrap_or("");
            image = img.rsplit_once(':').map(|(_, t)| t.to_string());
        } else {
            return Err(Failure::new(
                422,
                "Invalid",
                &format!(
                    "{} \"{name}\" is invalid: {p}: the demo cluster records changes to labels, annotations, replicas, ConfigMap data and images only",
                    kind.kind
                ),
                None,
            ));
        }
    }
    let base_meta = o.value["metadata"].clone();
    let new_meta = after["metadata"].clone();
    let operation = if apply { "Apply" } else { "Update" };
    let writes: Vec<(String, Vec<String>)> = paths
        .iter()
        .map(|p| (p.clone(), fields_path(&after, p)))
        .collect();
    let applied = o.inst.modify(&o.app, |a| {
        let w = &mut a.w;
        // Who wrote what, as the client said (fieldManager, else its user agent).
        let entry = w.live_meta.entry(key.clone()).or_insert_with(|| json!({}));
        for (p, fp) in &writes {
            if p.starts_with("/metadata/") {
                remember_meta_write(entry, fp, &r.manager, operation, now);
            } else {
                entry["managers"][fp.join(".")] = json!({
                    "manager": r.manager,
                    "operation": operation,
                    "subresource": if scale { "scale" } else { "" },
                });
            }
        }
        if meta && !scale {
            let entry = w.live_meta.entry(key.clone()).or_insert_with(|| json!({}));
            for part in ["labels", "annotations"] {
                let mut extra = entry[part].as_object().cloned().unwrap_or_default();
                let old = base_meta[part].as_object().cloned().unwrap_or_default();
                let new = new_meta[part].as_object().cloned().unwrap_or_default();
                for (k, v) in &new {
                    if old.get(k) != Some(v) {
                        extra.insert(k.clone(), v.clone());
                    }
                }
                for k in old.keys() {
                    if !new.contains_key(k) {
                        extra.shift_remove(k);
                    }
                }
                entry[part] = Value::Object(extra);
            }
        }
        if let Some(r) = replicas {
            w.drifts
                .retain(|d| !matches!(d, Drift::Replicas { by_hpa: false, .. }));
            if r != w.replicas {
                w.drifts.push(Drift::Replicas {
                    to: r,
                    by_hpa: false,
                    at: now,
                });
            }
        }
        for (k, v) in &config {
            w.drifts
                .retain(|d| !matches!(d, Drift::ConfigValue { key, .. } if key == k));
            if w.config.get(k) != Some(v) {
                w.drifts.push(Drift::ConfigValue {
                    key: k.clone(),
                    value: v.clone(),
                    at: now,
                });
            }
        }
        if let Some(t) = &image {
            w.drifts.retain(|d| !matches!(d, Drift::Image { .. }));
            if *t != w.tag {
                w.drifts.push(Drift::Image {
                    tag: t.clone(),
                    at: now,
                });
            }
        }
    });
    if !applied {
        return Err(Failure::new(404, "NotFound", "the object went away", None));
    }
    // Answer with the object as it is now.
    let st = o.inst.read();
    let Some(a) = st.apps.get(&o.app) else {
        return Err(Failure::new(404, "NotFound", "the object went away", None));
    };
    let now_obj = match &o.res {
        Some(r) => resources::live(a, r, now),
        None => Some(resources::orphan_live(a, &name)),
    };
    match now_obj {
        Some(v) => Ok((v, warnings)),
        None => Err(Failure::not_found(kind, &name)),
    }
}

/// Records that `manager` wrote the metadata field `fp`: it leaves every other write entry.
fn remember_meta_write(entry: &mut Value, fp: &[String], manager: &str, operation: &str, now: i64) {
    let mut list = entry["meta_writes"].as_array().cloned().unwrap_or_default();
    for e in &mut list {
        if let Some(paths) = e["paths"].as_array_mut() {
            paths.retain(|p| {
                p.as_array().map(|a| a.as_slice())
                    != Some(&fp.iter().map(|s| json!(s)).collect::<Vec<_>>()[..])
            });
        }
    }
    list.retain(|e| e["paths"].as_array().is_some_and(|p| !p.is_empty()));
    let pos = list
        .iter()
        .position(|e| e["manager"] == manager && e["operation"] == operation);
    let i = match pos {
        Some(i) => i,
        None => {
            list.push(json!({"manager": manager, "operation": operation, "paths": []}));
            list.len() - 1
        }
    };
    list[i]["time"] = json!(crate::demo::generator::ts(now));
    if let Some(paths) = list[i]["paths"].as_array_mut() {
        paths.push(json!(fp));
    }
    entry["meta_writes"] = Value::Array(list);
}

/// A dry run's managedFields: the written fields move to the writer's entry.
fn record_fields(
    v: &mut Value,
    paths: &[String],
    manager: &str,
    apply: bool,
    scale: bool,
    now: i64,
    kind: &Kind,
) {
    let fps: Vec<Vec<String>> = paths.iter().map(|p| fields_path(v, p)).collect();
    let Some(list) = v["metadata"]["managedFields"].as_array_mut() else {
        return;
    };
    for e in list.iter_mut() {
        for fp in &fps {
            resources::remove_path(&mut e["fieldsV1"], fp);
        }
    }
    list.retain(|e| e["fieldsV1"].as_object().is_some_and(|m| !m.is_empty()));
    if fps.is_empty() {
        return;
    }
    let mut f = json!({});
    for fp in &fps {
        resources::insert_path(&mut f, fp);
    }
    let mut entry = json!({
        "manager": manager,
        "operation": if apply { "Apply" } else { "Update" },
        "apiVersion": super::gv(kind.group, kind.version),
        "time": crate::demo::generator::ts(now),
        "fieldsType": "FieldsV1",
        "fieldsV1": f,
    });
    if scale {
        entry["subresource"] = json!("scale");
    }
    list.push(entry);
}
