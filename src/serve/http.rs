//! The daemon's HTTP side:
//! - `GET /metrics`: the Prometheus text exposition;
//! - `GET /healthz`: liveness (the main loop turns);
//! - `GET /readyz`: readiness (every instance listed, every Lease read), with the reasons;
//! - `GET /api/v1/decisions[?since=SEQ][&limit=N]`: this replica's latest decisions (JSON);
//! - `POST /api/v1/reviews`: an operator's review of a decision, journaled here so the
//!   agreement figures are the team's. It needs `Authorization: Bearer` with the token of
//!   `$DRIFTDECK_API_TOKEN`; without one configured, reviews are refused;
//! - `/mcp`: the Model Context Protocol over streamable HTTP (the tools of `driftdeck mcp`,
//!   on the daemon's fleet), with the same bearer token.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::Shared;
use crate::decide::Verdict;
use crate::model::fleet::AppKey;

type Reply = Response<http_body_util::combinators::BoxBody<Bytes, Infallible>>;

fn reply(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(ctype),
    );
    r
}

fn json_reply(status: StatusCode, v: &Value) -> Reply {
    reply(
        status,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn error(status: StatusCode, message: &str) -> Reply {
    json_reply(status, &json!({"error": message}))
}

/// Serves until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(route(&shared, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/metrics") => {
            let s = shared.clone();
            match tokio::task::spawn_blocking(move || s.metrics()).await {
                Ok(text) => reply(StatusCode::OK, "text/plain; version=0.0.4", text),
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            }
        }
        (Method::GET, "/healthz") => {
            if shared.healthy() {
                reply(StatusCode::OK, "text/plain", "ok\n")
            } else {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "the main loop has stalled for over 30 s\n",
                )
            }
        }
        (Method::GET, "/readyz") => {
            let (ready, lines) = shared.readiness();
            let body = format!("{}\n", lines.join("\n"));
            if ready {
                reply(StatusCode::OK, "text/plain", body)
            } else {
                reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", body)
            }
        }
        (Method::GET, "/api/v1/decisions") => decisions(shared, &query),
        (Method::POST, "/api/v1/reviews") => review(shared, req).await,
        (_, "/mcp") => mcp(shared, req).await,
        (_, "/metrics" | "/healthz" | "/readyz" | "/api/v1/decisions" | "/api/v1/reviews") => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz, /readyz, /api/v1/decisions or /api/v1/reviews",
        ),
    }
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn decisions(shared: &Shared, query: &str) -> Reply {
    let since = match param(query, "since").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "since must be a journal sequence number",
            );
        }
    };
    let limit = match param(query, "limit").map(str::parse::<usize>) {
        None => 500,
        Some(Ok(n)) => n.clamp(1, super::RECENT),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "limit must be a number"),
    };
    let recent = shared.recent.lock().unwrap_or_else(|p| p.into_inner());
    let items: Vec<&super::DecisionSummary> = recent
        .iter()
        .filter(|d| d.seq.is_some_and(|s| s > since))
        .take(limit)
        .collect();
    let next = items.last().and_then(|d| d.seq).unwrap_or(since);
    // The latest record: a reader ahead of it (a journal that started again) reads from 0.
    let head = recent.back().and_then(|d| d.seq).unwrap_or(0);
    json_reply(
        StatusCode::OK,
        &json!({
            "by": shared.identity,
            "decisions": items,
            "next": next,
            "head": head,
        }),
    )
}

/// `{"decision": SEQ, "verdict": "allow|defer|enforce|needs-human", "operator": "NAME"}`.
async fn review(shared: &Arc<Shared>, req: Request<Incoming>) -> Reply {
    if let Err(r) = authorized(shared, &req, "posting reviews") {
        return *r;
    }
    let body = match http_body_util::Limited::new(req.into_body(), 64 * 1024)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "the review is over 64 KiB"),
    };
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the review is not JSON: {e}"),
            );
        }
    };
    let Some(seq) = v["decision"].as_u64() else {
        return error(
            StatusCode::BAD_REQUEST,
            "`decision` (the journal sequence number) is required",
        );
    };
    let Some(chosen) = v["verdict"]
        .as_str()
        .and_then(|s| s.parse::<Verdict>().ok())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "`verdict` must be allow, defer, enforce or needs-human",
        );
    };
    let operator = v["operator"].as_str().unwrap_or("").trim().to_string();
    if operator.is_empty() || operator.len() > 128 || operator.chars().any(char::is_control) {
        return error(
            StatusCode::BAD_REQUEST,
            "`operator` (who reviews, at most 128 characters) is required",
        );
    }
    let decided = {
        let recent = shared.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().find(|d| d.seq == Some(seq)).cloned()
    };
    let Some(d) = decided else {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "decision #{seq} is not one of this replica's; post the review to the replica that decided it (its `by`)"
            ),
        );
    };
    let Ok(advised) = d.verdict.parse::<Verdict>() else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the decision's verdict is unreadable",
        );
    };
    let s = shared.clone();
    let r = tokio::task::spawn_blocking(move || {
        let key = AppKey {
            instance: 0,
            namespace: d.namespace.clone(),
            name: d.app.clone(),
        };
        let r = crate::decide::service::record_review(
            &s.svc,
            &key,
            &d.instance,
            &operator,
            seq,
            advised,
            chosen,
        );
        s.refresh_agreement();
        r
    })
    .await;
    match r {
        Ok(Ok(rseq)) => json_reply(
            StatusCode::CREATED,
            &json!({"review": rseq, "decision": seq, "advised": advised.as_str(), "chosen": chosen.as_str()}),
        ),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("not journaled: {e}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Whether the request carries the API token; the refusal when not.
fn authorized(shared: &Shared, req: &Request<Incoming>, what: &str) -> Result<(), Box<Reply>> {
    let Some(token) = shared.api_token.as_deref() else {
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            &format!(
                "{what} is off: set DRIFTDECK_API_TOKEN in the daemon's environment (from a Secret) and send it as a bearer token"
            ),
        )));
    };
    let sent = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(sent.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            &format!("{what} needs the bearer token of DRIFTDECK_API_TOKEN"),
        )))
    }
}

async fn mcp(shared: &Arc<Shared>, req: Request<Incoming>) -> Reply {
    if let Err(r) = authorized(shared, &req, "MCP") {
        return *r;
    }
    match shared.mcp.get() {
        Some(svc) => svc.handle(req).await,
        None => error(StatusCode::SERVICE_UNAVAILABLE, "MCP is starting"),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
