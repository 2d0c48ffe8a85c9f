//! Watching one instance's fleet: list once with a projection, watch from the list's
//! resourceVersion, coalesce bursts, detect a silent stream by its missing keep-alives, and on any
//! failure report it, back off (with jitter) and start over. It never gives up: the instance
//! recovers by itself when the server does.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{AppQuery, ArgoClient, ArgoError, LIST_FIELDS, STREAM_FIELDS, StreamItem};
use crate::model::fleet::{AppKey, AppRow, InstanceId};

/// What an instance's watcher reports.
#[derive(Debug, Clone, PartialEq)]
pub enum FleetUpdate {
    /// Connecting (attempt 0 is the first).
    Connecting { attempt: u32 },
    /// The complete list: replaces everything known of this instance.
    Listed {
        rows: Vec<AppRow>,
        resource_version: String,
        version: Option<String>,
    },
    /// The stream is open.
    Live,
    /// Coalesced changes from the stream (at most one entry per app).
    Changed {
        upserts: Vec<AppRow>,
        deletes: Vec<AppKey>,
    },
    /// The connection failed; the watcher retries after `retry_in`.
    Down {
        error: ArgoError,
        retry_in: Duration,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// How long to gather stream events before handing them over as one batch.
    pub coalesce: Duration,
    /// Largest batch.
    pub max_batch: usize,
    /// A stream silent this long (no event, no keep-alive) is dead. The server sends a
    /// keep-alive every 15 s.
    pub idle_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// A connection that stayed up this long resets the backoff.
    pub stable_after: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            coalesce: Duration::from_millis(50),
            max_batch: 2000,
            idle_timeout: Duration::from_secs(45),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(10),
        }
    }
}

/// The delay before reconnect attempt `attempt` (1-based), before jitter.
pub fn backoff(opts: &WatchOptions, attempt: u32) -> Duration {
    let exp = 2f64.powi(attempt.saturating_sub(1).min(16) as i32);
    opts.backoff_min.mul_f64(exp).min(opts.backoff_max)
}

/// Runs until the receiving side goes away.
pub async fn watch_fleet<M, W>(
    client: ArgoClient,
    instance: InstanceId,
    query: AppQuery,
    opts: WatchOptions,
    tx: mpsc::Sender<M>,
    wrap: W,
) where
    W: Fn(FleetUpdate) -> M,
{
    let mut attempt: u32 = 0;
    loop {
        if tx
            .send(wrap(FleetUpdate::Connecting { attempt }))
            .await
            .is_err()
        {
            return;
        }
        let started = Instant::now();
        let err = match session(&client, instance, &query, &opts, &tx, &wrap).await {
            Ok(()) => return, // receiver gone
            Err(e) => e,
        };
        if started.elapsed() >= opts.stable_after {
            attempt = 0;
        }
        attempt += 1;
        let retry_in = backoff(&opts, attempt).mul_f64(client.jitter());
        tracing::info!(instance = client.instance(), error = %err, ?retry_in, "instance down");
        if tx
            .send(wrap(FleetUpdate::Down {
                error: err,
                retry_in,
            }))
            .await
            .is_err()
        {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(retry_in) => {}
            _ = client.reconnect_asked() => {
                tracing::info!(instance = client.instance(), "reconnecting now, as asked");
                attempt = 0;
            }
        }
    }
}

/// One list + watch. `Ok(())` only when the receiver is gone; any server trouble is an `Err`.
async fn session<M, W>(
    client: &ArgoClient,
    instance: InstanceId,
    query: &AppQuery,
    opts: &WatchOptions,
    tx: &mpsc::Sender<M>,
    wrap: &W,
) -> Result<(), ArgoError>
where
    W: Fn(FleetUpdate) -> M,
{
    let list = client.list_apps(query, Some(LIST_FIELDS)).await?;
    let (version, names) = tokio::join!(client.version(), cluster_names(client));
    let version = version.ok().map(|v| v.version);
    let rows: Vec<AppRow> = list
        .items
        .iter()
        .map(|a| {
            let mut r = AppRow::from_app(instance, a);
            r.name_cluster(&names);
            r
        })
        .collect();
    let rv = list.metadata.resource_version.clone();
    if tx
        .send(wrap(FleetUpdate::Listed {
            rows,
            resource_version: rv.clone(),
            version,
        }))
        .await
        .is_err()
    {
        return Ok(());
    }
    let rv_opt = (!rv.is_empty()).then_some(rv.as_str());
    let mut stream = client
        .watch_apps(query, rv_opt, Some(STREAM_FIELDS))
        .await?;
    if tx.send(wrap(FleetUpdate::Live)).await.is_err() {
        return Ok(());
    }
    let server = client.server().to_string();
    loop {
        // Wait for the first item of a batch, no longer than the idle timeout.
        let first = match tokio::time::timeout(opts.idle_timeout, stream.next()).await {
            Err(_) => {
                return Err(ArgoError::Stream {
                    server,
                    detail: format!(
                        "no data or keep-alive for {} s",
                        opts.idle_timeout.as_secs()
                    ),
                });
            }
            Ok(None) => {
                return Err(ArgoError::Stream {
                    server,
                    detail: "the server closed the stream".into(),
                });
            }
            Ok(Some(item)) => item?,
        };
        let mut batch = Batch::new(&names);
        let mut pending_err = None;
        if let StreamItem::Event(ev) = first {
            batch.add(instance, *ev);
            let deadline = Instant::now() + opts.coalesce;
            while batch.len() < opts.max_batch {
                match tokio::time::timeout_at(deadline, stream.next()).await {
                    Err(_) => break,
                    Ok(Some(Ok(StreamItem::Event(ev)))) => batch.add(instance, *ev),
                    Ok(Some(Ok(StreamItem::KeepAlive))) => {}
                    Ok(Some(Err(e))) => {
                        pending_err = Some(e);
                        break;
                    }
                    Ok(None) => {
                        pending_err = Some(ArgoError::Stream {
                            server: server.clone(),
                            detail: "the server closed the stream".into(),
                        });
                        break;
                    }
                }
            }
        }
        if batch.len() > 0 {
            let (upserts, deletes) = batch.finish();
            if tx
                .send(wrap(FleetUpdate::Changed { upserts, deletes }))
                .await
                .is_err()
            {
                return Ok(());
            }
        }
        if let Some(e) = pending_err {
            return Err(e);
        }
    }
}

/// Server URL → cluster name, from `/api/v1/clusters` (best effort: empty when not allowed).
pub async fn cluster_names(client: &ArgoClient) -> HashMap<String, String> {
    match client.clusters().await {
        Ok(list) => list
            .items
            .into_iter()
            .filter(|c| !c.name.is_empty())
            .map(|c| (c.server, c.name))
            .collect(),
        Err(e) => {
            tracing::debug!(instance = client.instance(), error = %e, "no cluster names");
            HashMap::new()
        }
    }
}

/// A batch of stream events with at most one entry per app; the last event wins.
struct Batch<'a> {
    order: Vec<AppKey>,
    latest: HashMap<AppKey, Option<AppRow>>,
    names: &'a HashMap<String, String>,
}

impl<'a> Batch<'a> {
    fn new(names: &'a HashMap<String, String>) -> Self {
        Batch {
            order: Vec::new(),
            latest: HashMap::new(),
            names,
        }
    }

    fn add(&mut self, instance: InstanceId, ev: crate::model::app::ApplicationWatchEvent) {
        let mut row = AppRow::from_app(instance, &ev.application);
        row.name_cluster(self.names);
        let key = row.key.clone();
        let value = if ev.kind == "DELETED" {
            None
        } else {
            Some(row)
        };
        if self.latest.insert(key.clone(), value).is_none() {
            self.order.push(key);
        }
    }
    fn len(&self) -> usize {
        self.order.len()
    }
    fn finish(mut self) -> (Vec<AppRow>, Vec<AppKey>) {
        let mut up = Vec::new();
        let mut del = Vec::new();
        for k in self.order {
            match self.latest.remove(&k).flatten() {
                Some(r) => up.push(r),
                None => del.push(k),
            }
        }
        (up, del)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::app::{Application, ApplicationWatchEvent};

    fn ev(kind: &str, name: &str, sync: &str) -> ApplicationWatchEvent {
        let mut a = Application::default();
        a.metadata.name = name.into();
        a.status.sync.status = sync.into();
        ApplicationWatchEvent {
            kind: kind.into(),
            application: a,
        }
    }

    #[test]
    fn batch_keeps_the_last_event_per_app() {
        let names = HashMap::new();
        let mut b = Batch::new(&names);
        b.add(0, ev("MODIFIED", "a", "Synced"));
        b.add(0, ev("MODIFIED", "b", "Synced"));
        b.add(0, ev("MODIFIED", "a", "OutOfSync"));
        b.add(0, ev("DELETED", "b", "Synced"));
        b.add(0, ev("ADDED", "c", "Synced"));
        let (up, del) = b.finish();
        assert_eq!(up.len(), 2);
        assert_eq!(up[0].key.name, "a");
        assert_eq!(up[0].sync, crate::model::status::Sync::OutOfSync);
        assert_eq!(up[1].key.name, "c");
        assert_eq!(del.len(), 1);
        assert_eq!(del[0].name, "b");
    }

    #[test]
    fn backoff_grows_and_caps() {
        let o = WatchOptions::default();
        assert_eq!(backoff(&o, 1), Duration::from_millis(500));
        assert_eq!(backoff(&o, 2), Duration::from_secs(1));
        assert_eq!(backoff(&o, 4), Duration::from_secs(4));
        assert_eq!(backoff(&o, 30), Duration::from_secs(30));
    }
}
