//! Events posted to a demo cluster (`POST /api/v1/namespaces/NS/events`), checked as the
//! kube-apiserver checks a core/v1 Event: a name (or `generateName`), the event's namespace
//! matching its involved object's, a type of Normal or Warning, and when `eventTime` is set
//! (a "new" event) the reporting controller, instance, action and reason it requires, with
//! their length limits. They are kept for an hour (the apiserver's default `--event-ttl`),
//! then drop out of lists, as expired events do.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{Body, Cluster, Req, Response, status};

/// The posted Events of a cluster, oldest first.
pub type Store = Arc<Mutex<Vec<Value>>>;

/// How long an Event lives (the apiserver's `--event-ttl` default).
pub const TTL_SECS: i64 = 3600;

/// The apiserver's limits on a new-style Event.
const FIELD_LIMIT: usize = 128;
const NOTE_LIMIT: usize = 1024;

fn invalid(name: &str, errs: &[String]) -> Response<Body> {
    // Each error is `field: what`; the causes carry them one by one, as the apiserver's do
    // (kubectl prints them).
    let causes: Vec<Value> = errs
        .iter()
        .map(|e| {
            let (field, what) = e.split_once(": ").unwrap_or(("", e));
            let reason = if what.starts_with("Required value") {
                "FieldValueRequired"
            } else if what.starts_with("Unsupported value") {
                "FieldValueNotSupported"
            } else if what.starts_with("Too long") {
                "FieldValueTooLong"
            } else {
                "FieldValueInvalid"
            };
            json!({"reason": reason, "message": what, "field": field})
        })
        .collect();
    status(
        422,
        "Invalid",
        &format!("Event \"{name}\" is invalid: {}", errs.join(", ")),
        Some(json!({"name": name, "kind": "Event", "causes": causes})),
    )
}

/// The last instant of an event (unix seconds).
fn last_seen(v: &Value) -> Option<i64> {
    ["lastTimestamp", "eventTime", "firstTimestamp"]
        .iter()
        .filter_map(|k| v[*k].as_str())
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
        .next()
        .or_else(|| {
            v["metadata"]["creationTimestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp())
        })
}

/// The live (unexpired) events of `store` in `ns` (all namespaces when `None`).
pub fn listed(store: &Store, ns: Option<&str>, now: i64) -> Vec<Value> {
    let mut all = store.lock().unwrap_or_else(|p| p.into_inner());
    all.retain(|v| last_seen(v).is_none_or(|t| now - t < TTL_SECS));
    all.iter()
        .filter(|v| ns.is_none_or(|n| v["metadata"]["namespace"] == n))
        .cloned()
        .collect()
}

/// The apiserver's checks of a core/v1 Event posted in `ns`.
fn validate(v: &Value, ns: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
    let name = s("/metadata/name");
    if name.is_empty() && s("/metadata/generateName").is_empty() {
        errs.push("metadata.name: Required value: name or generateName is required".into());
    } else if !name.is_empty() && !crate::util::is_dns_subdomain(name) {
        errs.push(format!(
            "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ));
    }
    let obj_ns = s("/involvedObject/namespace");
    let new_style = !s("/eventTime").is_empty();
    let ns_ok = if obj_ns.is_empty() {
        ns == "default" || (new_style && ns == "kube-system")
    } else {
        obj_ns == ns
    };
    if !ns_ok {
        errs.push(format!(
            "involvedObject.namespace: Invalid value: \"{obj_ns}\": does not match event.namespace"
        ));
    }
    let ty = s("/type");
    if !ty.is_empty() && ty != "Normal" && ty != "Warning" {
        errs.push(format!(
            "type: Unsupported value: \"{ty}\": supported values: \"Normal\", \"Warning\""
        ));
    }
    if new_style {
        for (field, path, limit) in [
            ("reportingComponent", "/reportingComponent", FIELD_LIMIT),
            ("reportingInstance", "/reportingInstance", FIELD_LIMIT),
            ("action", "/action", FIELD_LIMIT),
            ("reason", "/reason", FIELD_LIMIT),
        ] {
            let val = s(path);
            if val.is_empty() {
                errs.push(format!("{field}: Required value"));
            } else if val.len() > limit {
                errs.push(format!(
                    "{field}: Too long: may not be more than {limit} bytes"
                ));
            }
        }
        if s("/message").len() > NOTE_LIMIT {
            errs.push(format!(
                "message: Too long: may not be more than {NOTE_LIMIT} bytes"
            ));
        }
    }
    errs
}

/// `POST /api/v1/namespaces/NS/events`.
pub(crate) fn create(c: &Cluster, r: &Req, ns: &str, now: i64) -> Response<Body> {
    let mut v: Value = match serde_json::from_slice(&r.body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return status(400, "BadRequest", "the request body is not an object", None);
        }
        Err(e) => {
            return status(
                400,
                "BadRequest",
                &format!("the request body is not a JSON object: {e}"),
                None,
            );
        }
    };
    if v["kind"].as_str().is_some_and(|k| k != "Event") {
        return status(400, "BadRequest", "the object is not an Event", None);
    }
    if let Some(o) = v["metadata"]["namespace"].as_str()
        && !o.is_empty()
        && o != ns
    {
        return status(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
            None,
        );
    }
    v["metadata"]["namespace"] = json!(ns);
    let mut name = v["metadata"]["name"].as_str().unwrap_or("").to_string();
    if name.is_empty()
        && let Some(g) = v["metadata"]["generateName"].as_str()
    {
        name = format!("{g}{}", suffix(now, c));
        v["metadata"]["name"] = json!(name);
    }
    let errs = validate(&v, ns);
    if !errs.is_empty() {
        return invalid(&name, &errs);
    }
    // Field validation, as for every write: unknown fields fail under Strict (what kubectl
    // asks for) and come back as warnings under Warn (the default).
    let validation = match super::Failure::field_validation(r) {
        Ok(v) => v,
        Err(f) => return f.reply(),
    };
    let unknown = if validation == "Ignore" {
        Vec::new()
    } else {
        super::openapi::unknown_fields(event_kind(), &v)
    };
    if !unknown.is_empty() && validation == "Strict" {
        let list: Vec<String> = unknown
            .iter()
            .map(|u| format!("unknown field \"{u}\""))
            .collect();
        return status(
            400,
            "BadRequest",
            &format!(
                "Event in version \"v1\" cannot be handled as a Event: strict decoding error: {}",
                list.join(", ")
            ),
            None,
        );
    }
    v["apiVersion"] = json!("v1");
    v["kind"] = json!("Event");
    let mut store = c.events.lock().unwrap_or_else(|p| p.into_inner());
    if store
        .iter()
        .any(|e| e["metadata"]["namespace"] == ns && e["metadata"]["name"] == name.as_str())
    {
        return status(
            409,
            "AlreadyExists",
            &format!("events \"{name}\" already exists"),
            Some(json!({"name": name, "kind": "events"})),
        );
    }
    let m = &mut v["metadata"];
    m["uid"] = json!(crate::demo::generator::uid(
        now as u64 ^ store.len() as u64,
        &format!("Event/{ns}/{name}")
    ));
    m["creationTimestamp"] = json!(crate::demo::generator::ts(now));
    if r.dry_run() == Ok(true) {
        return super::full(hyper::StatusCode::CREATED, &v);
    }
    c.stamp(event_kind(), &mut v);
    store.push(v.clone());
    let mut resp = super::full(hyper::StatusCode::CREATED, &v);
    for u in unknown {
        if let Ok(h) = format!("299 - \"unknown field \\\"{u}\\\"\"").parse() {
            resp.headers_mut().append(hyper::header::WARNING, h);
        }
    }
    resp
}

/// `PATCH .../events/NAME` of a posted Event (merge, strategic merge or JSON patch, as a
/// recorder updates a series); the controllers' own events are not the demo's to change.
pub(crate) fn patch(c: &Cluster, r: &Req, ns: &str, name: &str) -> Response<Body> {
    let mut store = c.events.lock().unwrap_or_else(|p| p.into_inner());
    let Some(i) = store
        .iter()
        .position(|e| e["metadata"]["namespace"] == ns && e["metadata"]["name"] == name)
    else {
        return status(
            404,
            "NotFound",
            &format!("events \"{name}\" not found"),
            Some(json!({"name": name, "kind": "events"})),
        );
    };
    let mut v = match super::patched(&store[i], r, "Events") {
        Ok(v) => v,
        Err(e) => return *e,
    };
    let errs = validate(&v, ns);
    if !errs.is_empty() {
        return invalid(name, &errs);
    }
    if r.dry_run() == Ok(true) {
        return super::ok(&v);
    }
    c.stamp(event_kind(), &mut v);
    store[i] = v.clone();
    super::ok(&v)
}

fn event_kind() -> &'static super::Kind {
    super::KINDS
        .iter()
        .find(|k| k.kind == "Event")
        .expect("the demo clusters serve Events")
}

/// The random suffix of a generated name (five characters, as the apiserver's).
fn suffix(now: i64, c: &Cluster) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = (now as u64) ^ (c.rv().wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (0..5)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ALPHABET[((x >> 33) % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apiserver_checks_of_an_event() {
        let ok = json!({
            "metadata": {"name": "web.1"},
            "involvedObject": {"kind": "Application", "namespace": "argocd", "name": "web"},
            "reason": "DriftDecision", "type": "Normal",
            "eventTime": "2026-12-04T08:00:00.000000Z",
            "reportingComponent": "driftdeck", "reportingInstance": "driftdeck-0",
            "action": "Decide",
        });
        assert!(validate(&ok, "argocd").is_empty());
        let e = validate(&ok, "default");
        assert!(e[0].contains("does not match event.namespace"), "{e:?}");
        let mut bad = ok.clone();
        bad["type"] = json!("Info");
        bad["reportingInstance"] = json!("");
        bad["message"] = json!("x".repeat(1025));
        let e = validate(&bad, "argocd").join("; ");
        assert!(e.contains("type: Unsupported value"), "{e}");
        assert!(e.contains("reportingInstance: Required value"), "{e}");
        assert!(e.contains("message: Too long"), "{e}");
        // An old-style event (no eventTime) needs none of the reporting fields.
        let old = json!({
            "metadata": {"name": "web.2"},
            "involvedObject": {"kind": "Application", "namespace": "argocd", "name": "web"},
            "reason": "x",
        });
        assert!(validate(&old, "argocd").is_empty());
        let mut unnamed = old.clone();
        unnamed["metadata"] = json!({});
        assert!(validate(&unnamed, "argocd")[0].contains("name or generateName"));
    }
}
