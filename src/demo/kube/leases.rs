//! Leases (`coordination.k8s.io/v1`), stored as a kube-apiserver stores them: created with a
//! name (409 AlreadyExists when taken), replaced only from the version last read (409 Conflict
//! otherwise: what makes leader election safe), merge-patched, deleted, listed per namespace or
//! across them. Their resource versions come from the cluster's one counter.

use std::collections::BTreeMap;

use hyper::Method;
use serde_json::{Value, json};

use super::{Body, Cluster, Req, Response, ok, status};

/// The Leases of a cluster, by namespace and name.
pub type Store = std::sync::Mutex<BTreeMap<(String, String), Value>>;

fn not_found(name: &str) -> Response<Body> {
    status(
        404,
        "NotFound",
        &format!("leases.coordination.k8s.io \"{name}\" not found"),
        Some(json!({"name": name, "group": "coordination.k8s.io", "kind": "leases"})),
    )
}

fn created(v: &Value) -> Response<Body> {
    super::full(hyper::StatusCode::CREATED, v)
}

/// Stamps a stored Lease with its version (from the cluster's counter).
fn stamp(c: &Cluster, v: &mut Value) {
    let key = super::versions::key("leases", v);
    c.versions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .stamp(&key, v);
}

fn kind() -> Option<&'static super::Kind> {
    super::KINDS.iter().find(|k| k.kind == "Lease")
}

/// `kubectl get` asks for a Table: the server's columns (name, holder, age).
fn reply(r: &Req, items: Vec<Value>, rv: u64, now: i64, one: bool) -> Option<Response<Body>> {
    if !super::table::wants_table(&r.accept) {
        return None;
    }
    Some(ok(&super::table::table(
        kind()?,
        &items[..if one { items.len().min(1) } else { items.len() }],
        json!({"resourceVersion": rv.to_string()}),
        now,
    )))
}

fn list(c: &Cluster, r: &Req, ns: Option<&str>, now: i64) -> Response<Body> {
    let store = c.leases.lock().unwrap_or_else(|p| p.into_inner());
    let items: Vec<Value> = store
        .iter()
        .filter(|((n, _), _)| ns.is_none_or(|x| x == n))
        .map(|(_, v)| v.clone())
        .collect();
    if let Some(t) = reply(r, items.clone(), c.rv(), now, false) {
        return t;
    }
    ok(&json!({
        "kind": "LeaseList",
        "apiVersion": "coordination.k8s.io/v1",
        "metadata": {"resourceVersion": c.rv().to_string()},
        "items": items,
    }))
}

/// Checks a Lease sent for `ns`/`name` (the name from the path, when there is one).
fn check(v: &Value, ns: &str, name: Option<&str>) -> Result<String, Box<Response<Body>>> {
    if v["kind"].as_str().is_some_and(|k| k != "Lease") {
        return Err(Box::new(status(
            400,
            "BadRequest",
            "the object is not a Lease",
            None,
        )));
    }
    let n = v["metadata"]["name"].as_str().unwrap_or("");
    if n.is_empty() {
        return Err(Box::new(status(
            422,
            "Invalid",
            "Lease.coordination.k8s.io \"\" is invalid: metadata.name: Required value: name or generateName is required",
            None,
        )));
    }
    if let Some(p) = name
        && p != n
    {
        return Err(Box::new(status(
            400,
            "BadRequest",
            &format!("the name of the object ({n}) does not match the name on the URL ({p})"),
            None,
        )));
    }
    if let Some(o) = v["metadata"]["namespace"].as_str()
        && o != ns
    {
        return Err(Box::new(status(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
            None,
        )));
    }
    Ok(n.to_string())
}

/// `.../coordination.k8s.io/v1/...`.
pub fn route(c: &Cluster, r: &Req, rest: &[&str], now: i64) -> Response<Body> {
    let conflict = |name: &str| {
        status(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on leases.coordination.k8s.io \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
            Some(json!({"name": name, "group": "coordination.k8s.io", "kind": "leases"})),
        )
    };
    let body = || -> Result<Value, Box<Response<Body>>> {
        serde_json::from_slice(&r.body).map_err(|e| {
            Box::new(status(
                400,
                "BadRequest",
                &format!("the request body is not a JSON object: {e}"),
                None,
            ))
        })
    };
    match (r.method.clone(), rest) {
        (Method::GET, ["leases"]) => list(c, r, None, now),
        (Method::GET, ["namespaces", ns, "leases"]) => list(c, r, Some(ns), now),
        (Method::POST, ["namespaces", ns, "leases"]) => {
            let mut v = match body() {
                Ok(v) => v,
                Err(e) => return *e,
            };
            let name = match check(&v, ns, None) {
                Ok(n) => n,
                Err(e) => return *e,
            };
            let mut store = c.leases.lock().unwrap_or_else(|p| p.into_inner());
            let key = (ns.to_string(), name.clone());
            if store.contains_key(&key) {
                return status(
                    409,
                    "AlreadyExists",
                    &format!("leases.coordination.k8s.io \"{name}\" already exists"),
                    Some(json!({"name": name, "group": "coordination.k8s.io", "kind": "leases"})),
                );
            }
            v["apiVersion"] = json!("coordination.k8s.io/v1");
            v["kind"] = json!("Lease");
            let m = &mut v["metadata"];
            m["namespace"] = json!(ns);
            m["uid"] = json!(crate::demo::generator::uid(
                now as u64,
                &format!("Lease/{ns}/{name}")
            ));
            m["creationTimestamp"] = json!(crate::demo::generator::ts(now));
            if r.q.get("dryRun").is_some_and(|d| d == "All") {
                return created(&v);
            }
            stamp(c, &mut v);
            store.insert(key, v.clone());
            created(&v)
        }
        (Method::GET, ["namespaces", ns, "leases", name]) => {
            let store = c.leases.lock().unwrap_or_else(|p| p.into_inner());
            match store.get(&(ns.to_string(), name.to_string())) {
                Some(v) => reply(r, vec![v.clone()], c.rv(), now, true).unwrap_or_else(|| ok(v)),
                None => not_found(name),
            }
        }
        (Method::PUT, ["namespaces", ns, "leases", name]) => {
            let mut v = match body() {
                Ok(v) => v,
                Err(e) => return *e,
            };
            if let Err(e) = check(&v, ns, Some(name)) {
                return *e;
            }
            let mut store = c.leases.lock().unwrap_or_else(|p| p.into_inner());
            let key = (ns.to_string(), name.to_string());
            let Some(old) = store.get(&key) else {
                return not_found(name);
            };
            // A replace names the version it read; an older one lost the race.
            match v["metadata"]["resourceVersion"].as_str() {
                Some(rv) if rv != old["metadata"]["resourceVersion"].as_str().unwrap_or("") => {
                    return conflict(name);
                }
                Some(_) => {}
                None => {
                    return status(
                        422,
                        "Invalid",
                        &format!(
                            "Lease.coordination.k8s.io \"{name}\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
                        ),
                        None,
                    );
                }
            }
            v["apiVersion"] = json!("coordination.k8s.io/v1");
            v["kind"] = json!("Lease");
            for k in ["uid", "creationTimestamp", "namespace"] {
                v["metadata"][k] = old["metadata"][k].clone();
            }
            if r.q.get("dryRun").is_some_and(|d| d == "All") {
                return ok(&v);
            }
            stamp(c, &mut v);
            store.insert(key, v.clone());
            ok(&v)
        }
        (Method::PATCH, ["namespaces", ns, "leases", name]) => {
            let mut store = c.leases.lock().unwrap_or_else(|p| p.into_inner());
            let key = (ns.to_string(), name.to_string());
            let Some(old) = store.get(&key) else {
                return not_found(name);
            };
            let mut v = match super::patched(old, r, "Leases") {
                Ok(v) => v,
                Err(e) => return *e,
            };
            // A patch that names a resourceVersion must name the current one.
            if v["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"] {
                return conflict(name);
            }
            stamp(c, &mut v);
            store.insert(key, v.clone());
            ok(&v)
        }
        (Method::DELETE, ["namespaces", ns, "leases", name]) => {
            let mut store = c.leases.lock().unwrap_or_else(|p| p.into_inner());
            match store.remove(&(ns.to_string(), name.to_string())) {
                Some(v) => ok(&v),
                None => not_found(name),
            }
        }
        (_, ["namespaces", _, "leases"] | ["namespaces", _, "leases", _] | ["leases"]) => status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            None,
        ),
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        ),
    }
}
