//! A server that is down, slow, refuses, answers garbage or drops the stream: the watcher reports
//! the state and the reason, and recovers by itself when the server does.

mod common;

use std::time::Duration;

use common::*;
use driftdeck::clients::argocd::watch::{FleetUpdate, WatchOptions, watch_fleet};
use driftdeck::clients::argocd::{AppQuery, ArgoClient, ArgoError, ClientOptions};
use driftdeck::demo::state::Faults;
use tokio::sync::mpsc;

fn opts() -> WatchOptions {
    WatchOptions {
        coalesce: Duration::from_millis(10),
        max_batch: 1000,
        idle_timeout: Duration::from_millis(600),
        backoff_min: Duration::from_millis(40),
        backoff_max: Duration::from_millis(200),
        stable_after: Duration::from_secs(10),
    }
}

fn start(client: ArgoClient) -> mpsc::Receiver<FleetUpdate> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(watch_fleet(
        client,
        0,
        AppQuery::default(),
        opts(),
        tx,
        |u| u,
    ));
    rx
}

/// Waits for an update matching `pred`, failing after `secs`.
async fn until(
    rx: &mut mpsc::Receiver<FleetUpdate>,
    secs: u64,
    what: &str,
    pred: impl Fn(&FleetUpdate) -> bool,
) -> FleetUpdate {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(u)) if pred(&u) => return u,
            Ok(Some(_)) => {}
            Ok(None) => panic!("watcher ended while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn down_with(u: &FleetUpdate, f: impl Fn(&ArgoError) -> bool) -> bool {
    matches!(u, FleetUpdate::Down { error, .. } if f(error))
}

#[tokio::test]
async fn a_server_that_is_down_then_comes_back() {
    let mut fleet = demo(8, 1, 1).await;
    let client = client(&fleet.config().instances[0]);
    fleet.servers[0].stop();
    let mut rx = start(client);
    let u = until(&mut rx, 5, "down", |u| {
        matches!(u, FleetUpdate::Down { .. })
    })
    .await;
    let FleetUpdate::Down { error, .. } = u else {
        unreachable!()
    };
    assert!(matches!(error, ArgoError::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().contains("cannot reach"), "{error}");
    fleet.servers[0].restart().await.unwrap();
    let u = until(&mut rx, 10, "listed", |u| {
        matches!(u, FleetUpdate::Listed { .. })
    })
    .await;
    let FleetUpdate::Listed { rows, .. } = u else {
        unreachable!()
    };
    assert_eq!(rows.len(), 8);
    until(&mut rx, 5, "live", |u| *u == FleetUpdate::Live).await;
}

#[tokio::test]
async fn refusals_are_reported_and_recovered_from() {
    let fleet = demo(5, 1, 1).await;
    let inst = fleet.instance(0).clone();
    for (status, check) in [
        (
            403u16,
            (|e: &ArgoError| matches!(e, ArgoError::PermissionDenied { .. }))
                as fn(&ArgoError) -> bool,
        ),
        (503, |e: &ArgoError| {
            matches!(e, ArgoError::Server { status: 503, .. })
        }),
        (500, |e: &ArgoError| {
            matches!(e, ArgoError::Server { status: 500, .. })
        }),
    ] {
        inst.set_faults(Faults {
            status: Some(status),
            ..Default::default()
        });
        let mut rx = start(client(&fleet.config().instances[0]));
        until(&mut rx, 5, &format!("down with {status}"), |u| {
            down_with(u, check)
        })
        .await;
        inst.set_faults(Faults::default());
        until(&mut rx, 5, "listed again", |u| {
            matches!(u, FleetUpdate::Listed { .. })
        })
        .await;
    }
}

#[tokio::test]
async fn malformed_json_is_an_error_not_a_panic() {
    let fleet = demo(5, 1, 1).await;
    fleet.instance(0).set_faults(Faults {
        malformed: true,
        ..Default::default()
    });
    let mut rx = start(client(&fleet.config().instances[0]));
    let u = until(&mut rx, 5, "malformed", |u| {
        down_with(u, |e| matches!(e, ArgoError::Malformed { .. }))
    })
    .await;
    let FleetUpdate::Down { error, .. } = u else {
        unreachable!()
    };
    assert!(error.to_string().contains("cannot read"), "{error}");
    fleet.instance(0).set_faults(Faults::default());
    until(&mut rx, 5, "recovered", |u| {
        matches!(u, FleetUpdate::Listed { .. })
    })
    .await;
}

#[tokio::test]
async fn an_expired_token_says_how_to_renew() {
    let fleet = demo(5, 1, 1).await;
    fleet.instance(0).expire_tokens();
    let mut rx = start(client(&fleet.config().instances[0]));
    let u = until(&mut rx, 5, "expired", |u| {
        matches!(u, FleetUpdate::Down { .. })
    })
    .await;
    let FleetUpdate::Down { error, .. } = u else {
        unreachable!()
    };
    assert!(matches!(error, ArgoError::TokenExpired { .. }), "{error:?}");
    assert!(error.to_string().contains("argocd login"));
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let fleet = demo(5, 1, 1).await;
    fleet.instance(0).set_faults(Faults {
        delay: Some(Duration::from_secs(3)),
        ..Default::default()
    });
    let c = ArgoClient::with_options(
        &fleet.config().instances[0],
        ClientOptions {
            request_timeout: Duration::from_millis(300),
            retries: 0,
            ..fast()
        },
    )
    .unwrap();
    let mut rx = start(c);
    until(&mut rx, 5, "timeout", |u| {
        down_with(u, |e| matches!(e, ArgoError::Timeout { .. }))
    })
    .await;
    fleet.instance(0).set_faults(Faults::default());
    until(&mut rx, 10, "recovered", |u| {
        matches!(u, FleetUpdate::Listed { .. })
    })
    .await;
}

#[tokio::test]
async fn a_dropped_stream_reconnects_and_relists() {
    let fleet = demo(6, 1, 1).await;
    let mut rx = start(client(&fleet.config().instances[0]));
    until(&mut rx, 5, "live", |u| *u == FleetUpdate::Live).await;
    fleet.instance(0).drop_streams.send_modify(|n| *n += 1);
    until(&mut rx, 5, "stream broke", |u| {
        down_with(u, |e| matches!(e, ArgoError::Stream { .. }))
    })
    .await;
    until(&mut rx, 5, "relisted", |u| {
        matches!(u, FleetUpdate::Listed { .. })
    })
    .await;
    until(&mut rx, 5, "live again", |u| *u == FleetUpdate::Live).await;
    // Changes after the reconnect still arrive.
    let name = fleet.instance(0).read().apps.keys().next().unwrap().clone();
    fleet.instance(0).modify(&name, |a| {
        a.app.status.sync.revision = "after-reconnect".into()
    });
    let u = until(&mut rx, 5, "change", |u| {
        matches!(u, FleetUpdate::Changed { .. })
    })
    .await;
    let FleetUpdate::Changed { upserts, .. } = u else {
        unreachable!()
    };
    assert_eq!(upserts[0].revision, "after-reconnect");
}

#[tokio::test]
async fn a_stalled_stream_is_detected_by_missing_keepalives() {
    let fleet = demo_with(4, 1, 1, |o| o.keepalive = Duration::from_millis(100)).await;
    let mut rx = start(client(&fleet.config().instances[0]));
    until(&mut rx, 5, "live", |u| *u == FleetUpdate::Live).await;
    fleet.instance(0).set_faults(Faults {
        stall_streams: true,
        ..Default::default()
    });
    let u = until(&mut rx, 5, "stall detected", |u| {
        matches!(u, FleetUpdate::Down { .. })
    })
    .await;
    let FleetUpdate::Down { error, .. } = u else {
        unreachable!()
    };
    assert!(
        error.to_string().contains("no data or keep-alive"),
        "{error}"
    );
    fleet.instance(0).set_faults(Faults::default());
    until(&mut rx, 5, "live again", |u| *u == FleetUpdate::Live).await;
}

#[tokio::test]
async fn stream_changes_are_coalesced_per_app() {
    let fleet = demo(10, 1, 1).await;
    let mut rx = start(client(&fleet.config().instances[0]));
    until(&mut rx, 5, "live", |u| *u == FleetUpdate::Live).await;
    let names: Vec<String> = fleet.instance(0).read().apps.keys().cloned().collect();
    for i in 0..50 {
        let n = &names[i % 2];
        fleet
            .instance(0)
            .modify(n, |a| a.app.status.sync.revision = format!("r{i}"));
    }
    let mut last = std::collections::HashMap::new();
    let mut updates = 0;
    while last.len() < 2 || last.values().any(|r: &String| r != "r48" && r != "r49") {
        let u = until(&mut rx, 5, "changes", |u| {
            matches!(u, FleetUpdate::Changed { .. })
        })
        .await;
        let FleetUpdate::Changed { upserts, .. } = u else {
            unreachable!()
        };
        updates += upserts.len();
        for r in upserts {
            last.insert(r.key.name.clone(), r.revision.clone());
        }
    }
    assert!(
        updates < 50,
        "50 changes of 2 apps arrived as {updates} row updates"
    );
    assert_eq!(last[&names[0]], "r48");
    assert_eq!(last[&names[1]], "r49");
}
