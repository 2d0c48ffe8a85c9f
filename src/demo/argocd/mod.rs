//! The demo Argo CD API server: the endpoints, JSON shapes, status codes, error bodies and
//! stream framing of the real one (see `../shared/docs/argocd-api.md`), on loopback.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::generator::{ClusterData, revision_metadata};
use super::resources;
use super::state::{Instance, WatchEvent};
use crate::clients::argocd::error::grpc;
use crate::model::app::*;

type Body = BoxBody<Bytes, Infallible>;

/// The first half of a reply: with a matching length (a broken body), or with the length of the
/// whole (the connection ends mid-body, as when a proxy or the network resets it).
pub(super) async fn cut_short(reply: Response<Body>, reset: bool) -> Response<Body> {
    let (mut parts, body) = reply.into_parts();
    let Ok(collected) = body.collect().await;
    let bytes = collected.to_bytes();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    if reset {
        parts.headers.insert(
            header::CONTENT_LENGTH,
            bytes.len().to_string().parse().expect("header"),
        );
    }
    if !reset {
        return Response::from_parts(parts, Full::new(half).boxed());
    }
    // A body of unknown size that ends early: hyper sends what there is and closes the
    // connection when the promised length is not reached.
    let frames = futures::stream::iter([Ok::<_, Infallible>(Frame::data(half))]);
    Response::from_parts(parts, StreamBody::new(frames).boxed())
}

mod apps;
mod fields;
mod live;
mod server;
mod stream;
#[cfg(test)]
mod tests;

use apps::*;
use fields::*;
pub use fields::{exclude, project, selector_matches};
pub use server::*;
pub use stream::sse_frame;
use stream::*;
