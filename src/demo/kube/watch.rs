//! Watches as a kube-apiserver sends them: from a resource version (every change since, or
//! 410 Gone once that version fell out of history), MODIFIED only when an object changed and
//! with its new version, DELETED when it went away, BOOKMARKs when the client allows them,
//! until `timeoutSeconds`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::{Response, header};
use serde_json::{Value, json};

use super::list::{Term, fields_match};
use super::versions::rv_of;
use super::{Cluster, Kind, gv, selector_ok};
use crate::demo::Body;

/// How often a watch that allows bookmarks gets one (the real server: about a minute).
const BOOKMARK_EVERY: Duration = Duration::from_secs(15);

fn event(t: &str, v: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": t, "object": v})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// `?watch=true`: newline-delimited watch events.
pub fn watch_stream(
    c: Arc<Cluster>,
    kind: Kind,
    ns: Option<String>,
    q: &HashMap<String, String>,
    terms: Vec<Term>,
) -> Response<Body> {
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let sel = q.get("labelSelector").cloned();
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    // "" and "0": the current state first (synthetic ADDED), then changes.
    let since: Option<u64> = q
        .get("resourceVersion")
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let mut subs: Vec<_> = c.insts.iter().map(|i| i.events.subscribe()).collect();
    tokio::spawn(async move {
        let snapshot = |c: &Cluster| -> HashMap<String, (Value, u64)> {
            c.objects(&kind, ns.as_deref())
                .into_iter()
                .filter(|o| selector_ok(&o.value, sel.as_deref()) && fields_match(&o.value, &terms))
                .map(|o| {
                    (
                        super::versions::key(kind.plural, &o.value),
                        (o.value, o.created),
                    )
                })
                .collect()
        };
        let bookmark = |c: &Cluster| {
            json!({
                "kind": kind.kind,
                "apiVersion": gv(kind.group, kind.version),
                "metadata": {"resourceVersion": c.rv().to_string()},
            })
        };
        let mut last = snapshot(&c);
        match since {
            Some(rv) if c.too_old(rv) => {
                let floor = c.versions.lock().map(|v| v.floor).unwrap_or(0);
                let gone = json!({
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": format!("too old resource version: {rv} ({floor})"),
                    "reason": "Expired",
                    "code": 410,
                });
                let _ = tx.send(event("ERROR", &gone)).await;
                return;
            }
            Some(rv) => {
                // Every change after `rv`, as the watch cache replays its history.
                let mut changed: Vec<&(Value, u64)> =
                    last.values().filter(|(v, _)| rv_of(v) > rv).collect();
                changed.sort_by_key(|(v, _)| rv_of(v));
                for (v, created) in changed {
                    let t = if *created > rv { "ADDED" } else { "MODIFIED" };
                    if tx.send(event(t, v)).await.is_err() {
                        return;
                    }
                }
            }
            None => {
                let mut all: Vec<&(Value, u64)> = last.values().collect();
                all.sort_by_key(|(v, _)| super::list::item_key(v));
                for (v, _) in all {
                    if tx.send(event("ADDED", v)).await.is_err() {
                        return;
                    }
                }
            }
        }
        let start = tokio::time::Instant::now();
        let deadline = start + Duration::from_secs(timeout);
        let mut next_bookmark = start + BOOKMARK_EVERY;
        loop {
            let mut any = false;
            for s in subs.iter_mut() {
                loop {
                    match s.try_recv() {
                        Ok(_) => any = true,
                        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => any = true,
                        Err(_) => break,
                    }
                }
            }
            if any {
                let now = snapshot(&c);
                let mut events: Vec<(&str, &Value)> = Vec::new();
                for (k, (v, _)) in &now {
                    match last.get(k) {
                        None => events.push(("ADDED", v)),
                        Some((old, _)) if rv_of(old) != rv_of(v) => events.push(("MODIFIED", v)),
                        _ => {}
                    }
                }
                let mut gone: Vec<Value> = Vec::new();
                for (k, (v, _)) in &last {
                    if !now.contains_key(k) {
                        // A deletion is a change of its own: the object as it was, at the
                        // version of its deletion.
                        let mut dead = v.clone();
                        let rv = {
                            let mut vs = c.versions.lock().unwrap_or_else(|p| p.into_inner());
                            vs.counter += 1;
                            vs.counter
                        };
                        dead["metadata"]["resourceVersion"] = json!(rv.to_string());
                        gone.push(dead);
                    }
                }
                events.sort_by_key(|(_, v)| rv_of(v));
                for (t, v) in events.iter().copied() {
                    if tx.send(event(t, v)).await.is_err() {
                        return;
                    }
                }
                for v in &gone {
                    if tx.send(event("DELETED", v)).await.is_err() {
                        return;
                    }
                }
                last = now;
            }
            let t = tokio::time::Instant::now();
            if bookmarks && t >= next_bookmark {
                next_bookmark = t + BOOKMARK_EVERY;
                if tx.send(event("BOOKMARK", &bookmark(&c))).await.is_err() {
                    return;
                }
            }
            if t >= deadline || tx.is_closed() {
                // The real server sends a last bookmark as a watch times out, so the client
                // resumes from it instead of listing again.
                if bookmarks {
                    let _ = tx.send(event("BOOKMARK", &bookmark(&c))).await;
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut r = crate::demo::streamed(rx, |b| b, "application/json");
    r.headers_mut().insert(
        header::TRANSFER_ENCODING,
        header::HeaderValue::from_static("chunked"),
    );
    r
}
