//! Kubernetes events of the drifted objects, read through the app's Argo CD instance.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::{Ask, Found, ObjRef, Source};
use crate::clients::argocd::ArgoClient;
use crate::decide::scenario::{Context, KubeEvent};
use crate::model::app::Application;

/// Its name in the context.
pub const NAME: &str = "kubernetes-events";

pub struct Events;

impl Source for Events {
    fn name(&self) -> &'static str {
        NAME
    }

    fn applies(&self, ask: &Ask<'_>) -> bool {
        ask.argo.is_some() && !ask.drifted.is_empty()
    }

    fn fetch<'a>(&'a self, ask: &'a Ask<'a>) -> BoxFuture<'a, Result<Found, String>> {
        Box::pin(async move {
            let Some(c) = ask.argo else {
                return Ok(Found::fresh(Context::default()));
            };
            let events = kube_events(c, ask.app, ask.drifted, ask.now).await?;
            Ok(Found::fresh(Context {
                events,
                ..Default::default()
            }))
        })
    }
}

/// The events of the drifted objects (at most five objects, the last day).
async fn kube_events(
    c: &ArgoClient,
    app: &Application,
    drifted: &[ObjRef],
    now: DateTime<Utc>,
) -> Result<Vec<KubeEvent>, String> {
    let app_ns = (!app.metadata.namespace.is_empty()).then_some(app.metadata.namespace.as_str());
    let jobs = drifted.iter().take(5).map(|o| async move {
        c.resource_events(&app.metadata.name, app_ns, &o.namespace, &o.name, &o.uid)
            .await
            .map(|list| (o, list))
    });
    let mut out = Vec::new();
    for r in futures::future::join_all(jobs).await {
        let (o, list) = r.map_err(|e| e.to_string())?;
        for e in list.items {
            let time = e
                .last_seen()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            if time.is_some_and(|t| {
                now - t > chrono::Duration::hours(24) || t > now + chrono::Duration::minutes(5)
            }) {
                continue;
            }
            let kind = if e.involved_object.kind.is_empty() {
                o.kind.clone()
            } else {
                e.involved_object.kind.clone()
            };
            let name = if e.involved_object.name.is_empty() {
                o.name.clone()
            } else {
                e.involved_object.name.clone()
            };
            out.push(KubeEvent {
                kind: e.kind,
                reason: e.reason,
                object: format!("{kind}/{name}"),
                message: e.message,
                time,
            });
        }
    }
    out.sort_by_key(|e| e.time);
    Ok(out)
}
