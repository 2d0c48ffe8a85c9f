//! Container logs as the demo workloads print them, with the parameters of the real
//! `pods/log` subresource: `container`, `tailLines`, `sinceSeconds`/`sinceTime`,
//! `timestamps`, `limitBytes`, `previous` and `follow`.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, header};
use serde_json::Value;

use super::status;
use crate::demo::Body;
use crate::demo::generator::ts;

/// How often a followed running container prints a line.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

fn rng_for(name: &str, salt: u64) -> crate::util::Rng {
    crate::util::Rng::new(name.bytes().fold(17u64 ^ salt, |a, b| {
        a.wrapping_mul(31).wrapping_add(b as u64)
    }))
}

fn request_line(rng: &mut crate::util::Rng) -> String {
    let path = ["/healthz", "/api/v1/items", "/api/v1/orders", "/metrics"][rng.below(4) as usize];
    let code = if rng.below(20) == 0 { 503 } else { 200 };
    format!("INFO GET {path} {code} {}ms", 1 + rng.below(90))
}

/// The lines a container wrote, with the time each was written: the current instance, or with
/// `previous` the one before the last restart (which ended in the error that killed it).
pub fn entries(pod: &Value, container: &str, previous: bool) -> Vec<(i64, String)> {
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let st = statuses(pod)
        .into_iter()
        .find(|s| s["name"] == container)
        .unwrap_or(Value::Null);
    let waiting = st["state"]["waiting"]["reason"].as_str();
    let mut started = pod["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(crate::model::fleet::parse_time)
        .unwrap_or(0);
    if previous {
        started = st["lastState"]["terminated"]["startedAt"]
            .as_str()
            .and_then(crate::model::fleet::parse_time)
            .unwrap_or(started);
    } else if matches!(
        waiting,
        Some("ContainerCreating" | "ImagePullBackOff" | "ErrImagePull")
    ) {
        return vec![];
    }
    let mut rng = rng_for(&format!("{name}/{container}"), previous as u64);
    let mut lines = vec![(started + 1, format!("INFO starting {name}"))];
    for i in 0..40 {
        lines.push((started + 10 + i * 13, request_line(&mut rng)));
    }
    let crashed = previous || waiting == Some("CrashLoopBackOff");
    if crashed {
        let at = started + 560;
        lines.push((
            at,
            "ERROR cannot connect to the database: dial tcp 10.96.4.12:5432: connect: connection refused".into(),
        ));
        lines.push((at, "FATAL exiting with status 1".into()));
    }
    lines
}

fn statuses(pod: &Value) -> Vec<Value> {
    let mut out = pod["status"]["initContainerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    out.extend(
        pod["status"]["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    out
}

fn container_names(pod: &Value) -> (Vec<String>, Vec<String>) {
    let names = |k: &str| -> Vec<String> {
        pod["spec"][k]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    (names("initContainers"), names("containers"))
}

/// The log of a pod's first container as text, its last `tail` lines (the format the demo
/// apps print: their own timestamp first).
pub fn log_lines(pod: &Value, tail: usize) -> String {
    let (_, cs) = container_names(pod);
    let Some(c) = cs.first() else {
        return String::new();
    };
    let lines = entries(pod, c, false);
    let start = lines.len().saturating_sub(tail);
    let out: String = lines[start..]
        .iter()
        .map(|(t, l)| format!("{} {l}\n", ts(*t)))
        .collect();
    out
}

fn line(t: i64, text: &str, timestamps: bool) -> String {
    if timestamps {
        format!(
            "{} {} {text}\n",
            crate::demo::generator::ts(t).replace('Z', ".000000000Z"),
            ts(t)
        )
    } else {
        format!("{} {text}\n", ts(t))
    }
}

fn bad(message: String) -> Response<Body> {
    status(400, "BadRequest", &message, None)
}

/// `GET .../pods/NAME/log`.
pub fn logs(pod: &Value, q: &HashMap<String, String>, now: i64) -> Response<Body> {
    let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
    let (init, main) = container_names(pod);
    let container = match q.get("container").filter(|c| !c.is_empty()) {
        Some(c) if main.contains(c) || init.contains(c) => c.clone(),
        Some(c) => {
            return bad(format!("container {c} is not valid for pod {name}"));
        }
        None if main.len() == 1 => main[0].clone(),
        None => {
            return bad(format!(
                "a container name must be specified for pod {name}, choose one of: [{}] or one of the init containers: [{}]",
                main.join(" "),
                init.join(" ")
            ));
        }
    };
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
    let num = |k: &str| -> Result<Option<i64>, String> {
        match q.get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 0 && (n > 0 || k == "tailLines") => Ok(Some(n)),
                _ => Err(format!(
                    "{k}: Invalid value: {v}: must be greater than {}",
                    if k == "tailLines" {
                        "or equal to 0"
                    } else {
                        "0"
                    }
                )),
            },
        }
    };
    let (tail, since, limit) = match (num("tailLines"), num("sinceSeconds"), num("limitBytes")) {
        (Ok(t), Ok(s), Ok(l)) => (t, s, l),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return bad(e),
    };
    let since_time = match q.get("sinceTime").filter(|v| !v.is_empty()) {
        Some(t) => match crate::model::fleet::parse_time(t) {
            Some(t) => Some(t),
            None => {
                return bad(format!(
                    "sinceTime: Invalid value: {t:?}: not an RFC 3339 time"
                ));
            }
        },
        None => None,
    };
    if since.is_some() && since_time.is_some() {
        return bad("at most one of `sinceTime` or `sinceSeconds` may be specified".into());
    }
    let previous = flag("previous");
    let st = statuses(pod)
        .into_iter()
        .find(|s| s["name"] == container.as_str())
        .unwrap_or(Value::Null);
    if previous && st["lastState"]["terminated"].is_null() {
        return bad(format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found"
        ));
    }
    if !previous
        && let Some(r) = st["state"]["waiting"]["reason"].as_str()
        && matches!(r, "ContainerCreating" | "ImagePullBackOff" | "ErrImagePull")
    {
        return bad(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {r}"
        ));
    }
    let from = since.map(|s| now - s).or(since_time);
    let mut lines: Vec<(i64, String)> = entries(pod, &container, previous)
        .into_iter()
        .filter(|(t, _)| from.is_none_or(|f| *t >= f))
        .collect();
    if let Some(n) = tail {
        let n = n as usize;
        let start = lines.len().saturating_sub(n);
        lines.drain(..start);
    }
    let timestamps = flag("timestamps");
    let mut text: String = lines.iter().map(|(t, l)| line(*t, l, timestamps)).collect();
    let mut budget = limit.map(|l| l as usize);
    if let Some(b) = budget {
        if text.len() >= b {
            let mut cut = b;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            budget = Some(0);
        } else {
            budget = Some(b - text.len());
        }
    }
    let running = st["state"]["running"].is_object();
    let follow = flag("follow") && !previous && running && budget != Some(0);
    if !follow {
        let mut r = Response::new(
            Full::new(Bytes::from(text))
                .map_err(|never| match never {})
                .boxed(),
        );
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain"),
        );
        return r;
    }
    // Follow: what is there, then a line every FOLLOW_EVERY until the client goes away.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let mut rng = rng_for(&format!("{name}/{container}/follow"), 9);
    tokio::spawn(async move {
        if !text.is_empty() && tx.send(Bytes::from(text)).await.is_err() {
            return;
        }
        let started = tokio::time::Instant::now();
        let mut left = budget;
        loop {
            tokio::time::sleep(FOLLOW_EVERY).await;
            let t = now + started.elapsed().as_secs() as i64;
            let mut l = line(t, &request_line(&mut rng), timestamps);
            if let Some(b) = left {
                if l.len() >= b {
                    l.truncate(b);
                    let _ = tx.send(Bytes::from(l)).await;
                    return;
                }
                left = Some(b - l.len());
            }
            if tx.send(Bytes::from(l)).await.is_err() {
                return;
            }
        }
    });
    crate::demo::streamed(rx, |b| b, "text/plain")
}
