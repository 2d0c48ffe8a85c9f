//! The parts of Argo CD's API that read or act on the live objects below an app: pod logs
//! (`/logs`, `/pods/{pod}/logs`), resource actions (`/resource/actions`, v1 and v2), the sync
//! windows of an app and of a project, and the resource-tree stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Response;
use serde_json::{Value, json};

use super::Body;
use super::server::{Query, error, json_reply, not_found_app};
use crate::clients::argocd::error::grpc;
use crate::demo::generator::{DemoApp, Drift, ts};
use crate::demo::resources;
use crate::demo::state::Instance;

/// A stream of `{"result": …}` messages, newline-delimited or as server-sent events.
fn stream_reply(rx: tokio::sync::mpsc::Receiver<Value>, sse: bool) -> Response<Body> {
    fn line(v: Value) -> Bytes {
        Bytes::from(format!("{}\n", json!({"result": v})))
    }
    fn event(v: Value) -> Bytes {
        Bytes::from(format!("data: {} \n\n\n", json!({"result": v})))
    }
    if sse {
        crate::demo::streamed(rx, event, "text/event-stream")
    } else {
        crate::demo::streamed(rx, line, "application/json")
    }
}

/// An app looked up in another namespace than its own is not found, as on the real server.
fn wrong_namespace(a: &DemoApp, q: &Query) -> Option<Response<Body>> {
    q.get("appNamespace")
        .filter(|ns| !ns.is_empty() && *ns != a.app.metadata.namespace)
        .map(|_| not_found_app(&a.app.metadata.name))
}

fn refuse_rbac(inst: &Instance, a: &DemoApp, resource_action: &str) -> Option<Response<Body>> {
    let st = inst.read();
    let object = format!("{}/{}", a.app.spec.project, a.app.metadata.name);
    (!st.can(resource_action, &object)).then(|| {
        error(
            grpc::PERMISSION_DENIED,
            &format!("permission denied: applications, {resource_action}, {object}, sub: admin"),
        )
    })
}

/// The pods a log request names: `podName`, else the pods below the resource
/// (`kind`/`resourceName`, a Pod or a workload), else every pod of the app.
fn pods_for(a: &DemoApp, q: &Query, pod: Option<&str>, now: i64) -> Vec<Value> {
    let pods = crate::demo::kube::pods(a, now);
    if let Some(p) = pod.filter(|p| !p.is_empty()) {
        return pods
            .into_iter()
            .filter(|v| v["metadata"]["name"] == p)
            .collect();
    }
    let kind = q.get("kind").unwrap_or("");
    let name = q.get("resourceName").unwrap_or("");
    if kind.is_empty() || name.is_empty() {
        return pods;
    }
    if kind == "Pod" {
        return pods
            .into_iter()
            .filter(|v| v["metadata"]["name"] == name)
            .collect();
    }
    // A workload's pods: those whose owner chain in the tree reaches it.
    let tree = resources::tree(a, now);
    let mut owners = vec![(kind.to_string(), name.to_string())];
    let mut grew = true;
    while grew {
        grew = false;
        for n in &tree.nodes {
            let me = (n.reference.kind.clone(), n.reference.name.clone());
            if !owners.contains(&me)
                && n.parent_refs
                    .iter()
                    .any(|p| owners.contains(&(p.kind.clone(), p.name.clone())))
            {
                owners.push(me);
                grew = true;
            }
        }
    }
    pods.into_iter()
        .filter(|v| {
            owners.contains(&(
                "Pod".to_string(),
                v["metadata"]["name"].as_str().unwrap_or("").to_string(),
            ))
        })
        .collect()
}

fn keep(line: &str, filter: &str, match_case: bool) -> bool {
    if filter.is_empty() {
        return true;
    }
    let (neg, needle) = match filter.strip_prefix('!') {
        Some(n) => (true, n),
        None => (false, filter),
    };
    let hit = if match_case {
        line.contains(needle)
    } else {
        line.to_lowercase().contains(&needle.to_lowercase())
    };
    hit != neg
}

fn log_entry(pod: &str, t: i64, content: &str) -> Value {
    json!({
        "content": content,
        "podName": pod,
        "timeStamp": ts(t),
        "timeStampStr": ts(t).replace('Z', ".000000000Z"),
        "last": false,
    })
}

/// `GET /api/v1/applications/{name}/logs` and `.../pods/{pod}/logs`: the lines of the
/// container in every pod named, oldest first, each as a log entry, then the closing entry
/// (`last: true`); with `follow`, new lines as the containers print them.
pub(super) fn logs(
    inst: &Arc<Instance>,
    name: &str,
    pod: Option<&str>,
    q: &Query,
    sse: bool,
    now: i64,
) -> Response<Body> {
    let (pods, container_err) = {
        let st = inst.read();
        let Some(a) = st.apps.get(name) else {
            return not_found_app(name);
        };
        if let Some(r) = wrong_namespace(a, q).or_else(|| refuse_rbac(inst, a, "get")) {
            return r;
        }
        let pods = pods_for(a, q, pod, now);
        let want = q.get("container").unwrap_or("");
        let bad = pods.iter().find_map(|p| {
            let names: Vec<&str> = p["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(p["spec"]["initContainers"].as_array().into_iter().flatten())
                .filter_map(|c| c["name"].as_str())
                .collect();
            (!want.is_empty() && !names.contains(&want)).then(|| {
                format!(
                    "container {want} is not valid for pod {}",
                    p["metadata"]["name"].as_str().unwrap_or("")
                )
            })
        });
        (pods, bad)
    };
    if let Some(e) = container_err {
        return error(grpc::INVALID_ARGUMENT, &e);
    }
    if pods.is_empty() && pod.is_some_and(|p| !p.is_empty()) {
        return error(
            grpc::NOT_FOUND,
            &format!("pods \"{}\" not found", pod.unwrap_or("")),
        );
    }
    let num = |k: &str| {
        q.get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|n| *n > 0)
    };
    let tail = num("tailLines");
    let since = num("sinceSeconds")
        .map(|s| now - s)
        .or_else(|| num("sinceTime.seconds"));
    let until = q.get("untilTime").and_then(crate::model::fleet::parse_time);
    let filter = q.get("filter").unwrap_or("").to_string();
    let match_case = q.get("matchCase") == Some("true");
    let previous = q.get("previous") == Some("true");
    let follow = q.get("follow") == Some("true");
    let want = q.get("container").unwrap_or("").to_string();
    let mut lines: Vec<(i64, String, String)> = Vec::new();
    let mut running = Vec::new();
    for p in &pods {
        let pname = p["metadata"]["name"].as_str().unwrap_or("").to_string();
        let container = if want.is_empty() {
            p["spec"]["containers"][0]["name"]
                .as_str()
                .unwrap_or("")
                .to_string()
        } else {
            want.clone()
        };
        let mut mine: Vec<(i64, String, String)> =
            crate::demo::kube::log_entries(p, &container, previous)
                .into_iter()
                .filter(|(t, l)| {
                    since.is_none_or(|s| *t >= s)
                        && until.is_none_or(|u| *t <= u)
                        && keep(l, &filter, match_case)
                })
                .map(|(t, l)| (t, pname.clone(), l))
                .collect();
        if let Some(n) = tail {
            let cut = mine.len().saturating_sub(n as usize);
            mine.drain(..cut);
        }
        lines.extend(mine);
        let is_running = p["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["name"] == container.as_str() && c["state"]["running"].is_object());
        if is_running {
            running.push(pname);
        }
    }
    lines.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let (tx, rx) = tokio::sync::mpsc::channel::<Value>(64);
    tokio::spawn(async move {
        for (t, p, l) in &lines {
            if tx.send(log_entry(p, *t, l)).await.is_err() {
                return;
            }
        }
        if follow && !previous && !running.is_empty() {
            let start = tokio::time::Instant::now();
            let mut n = 0u64;
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                n += 1;
                let t = now + start.elapsed().as_secs() as i64;
                for p in &running {
                    let line = format!(
                        "INFO GET /healthz 200 {}ms",
                        1 + (n * 7 + p.len() as u64) % 40
                    );
                    if !keep(&line, &filter, match_case) {
                        continue;
                    }
                    if tx.send(log_entry(p, t, &line)).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx
            .send(json!({
                "content": "UNKNOWN",
                "podName": "UNKNOWN",
                "timeStamp": ts(now),
                "timeStampStr": ts(now).replace('Z', ".000000000Z"),
                "last": true,
            }))
            .await;
    });
    stream_reply(rx, sse)
}

/// The actions Argo CD's built-in discovery offers for a live object, as its Lua scripts
/// describe them (`resource_customizations/*/actions/discovery.lua`): Deployment `restart`,
/// `pause` (disabled when paused), `resume` (disabled unless paused), `scale` (a `replicas`
/// parameter); StatefulSet `restart`, `scale`; the Rollout's seven.
fn actions_for(kind: &str, group: &str, obj: &Value) -> Vec<Value> {
    let icon =
        |name: &str, icon: &str| json!({"name": name, "iconClass": format!("fa fa-fw {icon}")});
    let scale = || {
        let mut a = icon("scale", "fa-plus-circle");
        a["params"] = json!([{"name": "replicas"}]);
        a
    };
    match (group, kind) {
        ("apps", "Deployment") => {
            let paused = obj["spec"]["paused"].as_bool().unwrap_or(false);
            let mut pause = icon("pause", "fa-pause-circle");
            let mut resume = icon("resume", "fa-play-circle");
            if paused {
                pause["disabled"] = json!(true);
            } else {
                resume["disabled"] = json!(true);
            }
            vec![icon("restart", "fa-redo"), pause, resume, scale()]
        }
        ("apps", "StatefulSet") => vec![icon("restart", "fa-redo"), scale()],
        ("argoproj.io", "Rollout") => rollout_actions(obj),
        _ => vec![],
    }
}

/// Argo CD's discovery of Rollout actions, from the live Rollout.
fn rollout_actions(obj: &Value) -> Vec<Value> {
    let st = &obj["status"];
    let paused = match st["pauseConditions"].as_array() {
        Some(p) => !p.is_empty(),
        None => obj["spec"]["paused"].as_bool().unwrap_or(false),
    };
    let fully_promoted = st["currentPodHash"] == st["stableRS"];
    let aborted = st["abort"].as_bool().unwrap_or(false);
    let spec_paused = obj["spec"]["paused"].as_bool().unwrap_or(false);
    let steps = obj["spec"]["strategy"]["canary"]["steps"].as_array();
    let at_end = steps.is_none_or(|s| st["currentStepIndex"].as_u64() == Some(s.len() as u64));
    let action = |name: &str, disabled: bool| {
        let mut a = json!({"name": name});
        if disabled {
            a["disabled"] = json!(true);
        }
        a
    };
    let mut restart = action("restart", false);
    restart["displayName"] = json!("Restart Pods");
    vec![
        restart,
        action("resume", !paused),
        action("abort", fully_promoted || aborted),
        action("retry", fully_promoted || !aborted),
        action("pause", fully_promoted || aborted || spec_paused),
        action("promote-full", fully_promoted),
        action("skip-current-step", at_end),
    ]
}

/// `GET .../resource/actions`.
pub(super) fn list_actions(inst: &Instance, name: &str, q: &Query, now: i64) -> Response<Body> {
    let st = inst.read();
    let Some(a) = st.apps.get(name) else {
        return not_found_app(name);
    };
    if let Some(r) = wrong_namespace(a, q).or_else(|| refuse_rbac(inst, a, "get")) {
        return r;
    }
    match super::apps::find_live(a, q, now) {
        Ok(obj) => {
            let mut actions = actions_for(
                q.get("kind").unwrap_or(""),
                q.get("group").unwrap_or(""),
                &obj,
            );
            actions.sort_by(|x, y| x["name"].as_str().cmp(&y["name"].as_str()));
            json_reply(&json!({"actions": actions}))
        }
        Err(r) => r,
    }
}

/// `POST .../resource/actions` (the body is the action's name as a JSON string) and
/// `POST .../resource/actions/v2` (a `ResourceActionRunRequestV2` with parameters).
pub(super) fn run_action(
    inst: &Arc<Instance>,
    name: &str,
    q: &Query,
    body: &Bytes,
    v2: bool,
    now: i64,
) -> Response<Body> {
    let (action, q, params) = if v2 {
        let req: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    grpc::INVALID_ARGUMENT,
                    &format!("invalid request body: {e}"),
                );
            }
        };
        let s = |k: &str| req[k].as_str().unwrap_or("").to_string();
        let q = Query(vec![
            ("namespace".into(), s("namespace")),
            ("resourceName".into(), s("resourceName")),
            ("version".into(), s("version")),
            ("group".into(), s("group")),
            ("kind".into(), s("kind")),
            ("appNamespace".into(), s("appNamespace")),
        ]);
        let params: Vec<(String, String)> = req["resourceActionParameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p["name"].as_str().unwrap_or("").to_string(),
                    p["value"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        (s("action"), q, params)
    } else {
        match serde_json::from_slice::<String>(body) {
            Ok(a) => (a, Query(q.0.clone()), vec![]),
            Err(e) => {
                return error(
                    grpc::INVALID_ARGUMENT,
                    &format!("the body must be the action's name as a JSON string: {e}"),
                );
            }
        }
    };
    let kind = q.get("kind").unwrap_or("").to_string();
    let group = q.get("group").unwrap_or("").to_string();
    let rname = q.get("resourceName").unwrap_or("").to_string();
    {
        let st = inst.read();
        let Some(a) = st.apps.get(name) else {
            return not_found_app(name);
        };
        if let Some(r) = wrong_namespace(a, &q)
            .or_else(|| refuse_rbac(inst, a, &format!("action/{group}/{kind}/{action}")))
        {
            return r;
        }
        let obj = match super::apps::find_live(a, &q, now) {
            Ok(o) => o,
            Err(r) => return r,
        };
        if !actions_for(&kind, &group, &obj)
            .iter()
            .any(|x| x["name"] == action.as_str())
        {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("action {action} is not available for {kind} {rname}"),
            );
        }
        if rname != a.w.name {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!(
                    "the demo runs actions on the app's workload {}, not {rname}",
                    a.w.name
                ),
            );
        }
    }
    let replicas = if action == "scale" {
        let Some(v) = params.iter().find(|(k, _)| k == "replicas").map(|(_, v)| v) else {
            return error(grpc::INVALID_ARGUMENT, "replicas parameter is required");
        };
        match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return error(
                    grpc::INVALID_ARGUMENT,
                    &format!("invalid number: {v} (must be >= 0)"),
                );
            }
        }
    } else {
        None
    };
    if kind == "Rollout" {
        inst.modify(name, |a| {
            let Some(c) = a.w.canary.as_mut() else { return };
            let (step, _) = c.step(now);
            let n = crate::demo::generator::CANARY_STEPS.len();
            let restart_from = |c: &mut crate::demo::generator::Canary, from: usize| {
                c.from_step = from.min(n);
                c.since = now;
            };
            match action.as_str() {
                "restart" => c.restart_at = Some(now),
                "abort" => {
                    restart_from(c, step);
                    c.aborted = true;
                }
                "retry" => {
                    c.aborted = false;
                    restart_from(c, 0);
                }
                "pause" => {
                    restart_from(c, step);
                    c.paused = true;
                }
                "resume" => {
                    if c.paused {
                        c.paused = false;
                        restart_from(c, step);
                    } else {
                        restart_from(c, step + 1);
                    }
                }
                "promote-full" => {
                    c.aborted = false;
                    c.paused = false;
                    restart_from(c, n);
                }
                "skip-current-step" => restart_from(c, step + 1),
                _ => {}
            }
        });
        let st = inst.read();
        return match st.apps.get(name) {
            Some(a) => json_reply(&a.app),
            None => not_found_app(name),
        };
    }
    inst.modify(name, |a| match action.as_str() {
        "restart" => {
            a.w.drifts.retain(|d| !matches!(d, Drift::Restarted { .. }));
            a.w.drifts.push(Drift::Restarted { at: now });
        }
        "scale" => {
            if let Some(r) = replicas {
                a.w.drifts
                    .retain(|d| !matches!(d, Drift::Replicas { by_hpa: false, .. }));
                if r != a.w.replicas {
                    a.w.drifts.push(Drift::Replicas {
                        to: r,
                        by_hpa: false,
                        at: now,
                    });
                }
            }
        }
        "pause" if !a.w.drifts.iter().any(|d| matches!(d, Drift::Paused { .. })) => {
            a.w.drifts.push(Drift::Paused { at: now });
        }
        "resume" => a.w.drifts.retain(|d| !matches!(d, Drift::Paused { .. })),
        _ => {}
    });
    let st = inst.read();
    match st.apps.get(name) {
        Some(a) => json_reply(&a.app),
        None => not_found_app(name),
    }
}

/// `GET /api/v1/applications/{name}/syncwindows`: the project's windows that match the app,
/// those active now, and whether a manual sync may run.
pub(super) fn app_windows(inst: &Instance, name: &str, now: i64) -> Response<Body> {
    let st = inst.read();
    let Some(a) = st.apps.get(name) else {
        return not_found_app(name);
    };
    let Some(project) = st
        .projects
        .iter()
        .find(|p| p.metadata.name == a.app.spec.project)
    else {
        return error(
            grpc::NOT_FOUND,
            &format!(
                "appprojects.argoproj.io \"{}\" not found",
                a.app.spec.project
            ),
        );
    };
    let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    let target = crate::windows::AppTarget::of(&a.app);
    let matching = crate::windows::matching(&project.spec.sync_windows, &target);
    let compiled = crate::windows::Windows::new(matching.iter().copied(), at);
    let brief = |w: &crate::model::app::SyncWindow| json!({"kind": w.kind, "schedule": w.schedule, "duration": w.duration, "manualSync": w.manual_sync});
    let assigned: Vec<Value> = matching.iter().map(|w| brief(w)).collect();
    let active: Vec<Value> = compiled
        .active(at)
        .map(|ws| ws.iter().map(|c| brief(&c.window)).collect())
        .unwrap_or_default();
    let can_sync = compiled.can_sync(true, None, at).unwrap_or(false);
    let mut out = json!({"canSync": can_sync});
    if !assigned.is_empty() {
        out["assignedWindows"] = json!(assigned);
    }
    if !active.is_empty() {
        out["activeWindows"] = json!(active);
    }
    json_reply(&out)
}

/// `GET /api/v1/projects/{name}/syncwindows`: the project's windows active now.
pub(super) fn project_windows(inst: &Instance, name: &str, now: i64) -> Response<Body> {
    let st = inst.read();
    let Some(project) = st.projects.iter().find(|p| p.metadata.name == name) else {
        return error(
            grpc::NOT_FOUND,
            &format!("appprojects.argoproj.io \"{name}\" not found"),
        );
    };
    let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    let compiled = crate::windows::Windows::new(project.spec.sync_windows.iter(), at);
    let active: Vec<Value> = compiled
        .active(at)
        .map(|ws| {
            ws.iter()
                .map(|c| serde_json::to_value(&c.window).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    json_reply(&json!({"windows": active}))
}

/// `GET /api/v1/stream/applications/{name}/resource-tree`: the tree, then the tree again
/// each time it changes.
pub(super) fn tree_stream(inst: Arc<Instance>, name: &str, sse: bool) -> Response<Body> {
    if !inst.read().apps.contains_key(name) {
        return not_found_app(name);
    }
    let name = name.to_string();
    let (tx, rx) = tokio::sync::mpsc::channel::<Value>(16);
    let mut events = inst.events.subscribe();
    tokio::spawn(async move {
        let render = |inst: &Instance| -> Option<Value> {
            let st = inst.read();
            st.apps
                .get(&name)
                .map(|a| serde_json::to_value(resources::tree(a, inst.now())).unwrap_or_default())
        };
        let mut last = render(&inst);
        if let Some(t) = &last
            && tx.send(t.clone()).await.is_err()
        {
            return;
        }
        loop {
            match events.recv().await {
                Ok(ev) if ev.app.metadata.name != name => continue,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
            let now = render(&inst);
            if now.is_none() {
                return;
            }
            if now != last {
                if let Some(t) = &now
                    && tx.send(t.clone()).await.is_err()
                {
                    return;
                }
                last = now;
            }
        }
    });
    stream_reply(rx, sse)
}
