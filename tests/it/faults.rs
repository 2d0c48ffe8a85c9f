//! A server that is down, slow, refuses, answers garbage or drops the stream: the watcher reports
//! the state and the reason, and recovers by itself when the server does.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use crate::common;

use std::time::Duration;

use common::*;
use driftdeck::clients::argocd::watch::{FleetUpdate, WatchOptions, watch_fleet};
use driftdeck::clients::argocd::{AppQuery, ArgoClient, ArgoError, ClientOptions};
use driftdeck::demo::faults::FaultProfile;
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

/// The operator does not have to wait out the backoff: after the server is back, asking to
/// reconnect ends the wait at once.
#[tokio::test]
async fn reconnect_now_cuts_the_backoff_short() {
    let mut fleet = demo(8, 1, 1).await;
    let client = client(&fleet.config().instances[0]);
    let (tx, mut rx) = mpsc::channel(256);
    tokio::spawn(watch_fleet(
        client.clone(),
        0,
        AppQuery::default(),
        WatchOptions {
            backoff_min: Duration::from_secs(60),
            backoff_max: Duration::from_secs(60),
            ..opts()
        },
        tx,
        |u| u,
    ));
    until(&mut rx, 5, "live", |u| *u == FleetUpdate::Live).await;
    fleet.servers[0].stop();
    let u = until(&mut rx, 5, "down", |u| {
        matches!(u, FleetUpdate::Down { .. })
    })
    .await;
    let FleetUpdate::Down { retry_in, .. } = u else {
        unreachable!()
    };
    assert!(retry_in >= Duration::from_secs(40), "{retry_in:?}");
    fleet.servers[0].restart().await.unwrap();
    let t = std::time::Instant::now();
    client.reconnect_now();
    until(&mut rx, 5, "live again", |u| *u == FleetUpdate::Live).await;
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
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

/// What a run of the TUI's loop under a fault profile saw.
struct Run {
    /// Each instance was down or reconnecting at some point (the faults were real).
    disruptions: usize,
    /// The reasons the instances' states showed.
    reasons: std::collections::BTreeSet<String>,
    /// Seconds from the end of the disturbance until the model matched the servers.
    converged_after: Duration,
    /// Times every token of an instance was expired and a new one written to its token file.
    rotations: u32,
}

/// Runs the TUI's `update` over a watcher per instance of a demo fleet under `profile`, while
/// apps change on the servers for `drive`; then waits until the model matches the servers.
async fn run_profile(profile: FaultProfile, drive: Duration) -> Run {
    use driftdeck::tui::keymap::Keymap;
    use driftdeck::tui::model::{ConnState, Model};
    use driftdeck::tui::msg::Msg;
    use driftdeck::tui::runtime::Instances;
    use driftdeck::tui::update::update;
    let fleet = demo_with(40, 2, 2, |o| {
        o.faults = profile;
        o.keepalive = Duration::from_millis(200);
    })
    .await;
    let cfg = fleet.config();
    let inst = Instances::from_config(&cfg);
    let mut m = Model::new(inst.views.clone(), (120, 40), NOW * 1000);
    let km = Keymap::default();
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let copts = ClientOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        retries: 3,
        retry_base: Duration::from_millis(20),
    };
    let mut tasks = Vec::new();
    for (i, ic) in cfg.instances.iter().enumerate() {
        let c = ArgoClient::with_options(ic, copts).unwrap();
        let id = i as u16;
        tasks.push(tokio::spawn(watch_fleet(
            c,
            id,
            AppQuery::default(),
            opts(),
            tx.clone(),
            move |u| Msg::Fleet(id, u),
        )));
    }
    let mut run = Run {
        disruptions: 0,
        reasons: Default::default(),
        converged_after: Duration::ZERO,
        rotations: 0,
    };
    let absorb = |m: &mut Model, msg: Msg, run: &mut Run| {
        if let Msg::Fleet(_, FleetUpdate::Down { error, .. }) = &msg {
            run.disruptions += 1;
            run.reasons.insert(error.short().to_string());
        }
        update(m, &km, msg);
        for v in &m.instances {
            if let ConnState::Down { .. } = v.state {
                run.reasons.insert(format!("shown: {}", v.state.label()));
            }
        }
    };
    // The disturbance: apps change on the servers; under `hostile` the tokens are rotated too.
    let names: Vec<Vec<String>> = (0..fleet.servers.len())
        .map(|i| fleet.instance(i).read().apps.keys().cloned().collect())
        .collect();
    let t0 = tokio::time::Instant::now();
    let mut n = 0u32;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while t0.elapsed() < drive {
        tokio::select! {
            Some(msg) = rx.recv() => absorb(&mut m, msg, &mut run),
            _ = tick.tick() => {
                n += 1;
                let i = (n as usize) % names.len();
                let name = &names[i][(n as usize * 7) % names[i].len()];
                fleet.instance(i).modify(name, |a| a.app.spec.project = format!("p{n}"));
                if profile.rotates_tokens() && n % 12 == 6 {
                    let old = fleet.tokens[i].clone();
                    fleet.instance(i).rotate_tokens(chrono::Utc::now().timestamp());
                    assert!(fleet.instance(i).check_token(&old, chrono::Utc::now().timestamp()).is_err());
                    run.rotations += 1;
                }
            }
        }
    }
    // Quiet now: the model must come to match the servers.
    let quiet = tokio::time::Instant::now();
    let want = |i: usize| -> Vec<(String, String)> {
        fleet
            .instance(i)
            .read()
            .apps
            .values()
            .map(|a| (a.app.metadata.name.clone(), a.app.spec.project.clone()))
            .collect()
    };
    let have = |m: &Model, i: usize| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = m
            .fleet
            .rows
            .iter()
            .filter(|r| r.key.instance as usize == i)
            .map(|r| (r.key.name.clone(), r.project.clone()))
            .collect();
        v.sort();
        v
    };
    loop {
        let done = (0..names.len()).all(|i| have(&m, i) == want(i))
            && m.instances.iter().all(|v| v.state == ConnState::Live);
        if done {
            break;
        }
        assert!(
            quiet.elapsed() < Duration::from_secs(60),
            "{}: the model never matched the servers; states {:?}",
            profile.name(),
            m.instances
                .iter()
                .map(|v| v.state.label())
                .collect::<Vec<_>>()
        );
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            absorb(&mut m, msg, &mut run);
        }
    }
    run.converged_after = quiet.elapsed();
    for t in tasks {
        t.abort();
    }
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_loop_keeps_up_under_every_fault_profile() {
    for profile in [
        FaultProfile::Flaky,
        FaultProfile::Slow,
        FaultProfile::Hostile,
    ] {
        let run = run_profile(profile, Duration::from_secs(8)).await;
        eprintln!(
            "{}: {} disruptions, reasons {:?}, converged {:?} after the disturbance",
            profile.name(),
            run.disruptions,
            run.reasons,
            run.converged_after
        );
        match profile {
            FaultProfile::Slow => {}
            _ => assert!(
                run.disruptions > 0,
                "{}: the faults reached the client",
                profile.name()
            ),
        }
        if profile == FaultProfile::Hostile {
            // Every token the client started with was expired; it is live again, so it took
            // the new one from the token file.
            assert!(run.rotations >= 2, "tokens were rotated");
        }
    }
}

#[tokio::test]
async fn flaky_replies_are_each_a_clear_error_and_retried_reads_get_through() {
    let fleet = demo_with(30, 2, 1, |o| o.faults = FaultProfile::Flaky).await;
    let ic = &fleet.config().instances[0];
    let once = ArgoClient::with_options(
        ic,
        ClientOptions {
            retries: 0,
            ..fast()
        },
    )
    .unwrap();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..150 {
        let k = match once.list_apps(&AppQuery::default(), None).await {
            Ok(l) => {
                assert_eq!(l.items.len(), 30);
                "ok".to_string()
            }
            Err(e) => {
                assert!(e.is_transient(), "a flaky reply is worth retrying: {e}");
                // Every error is a sentence naming the server.
                assert!(e.to_string().contains("127.0.0.1"), "{e}");
                e.short().to_string()
            }
        };
        *kinds.entry(k).or_default() += 1;
    }
    eprintln!("flaky, 150 reads without retry: {kinds:?}");
    for k in ["ok", "rate-limited", "server error", "bad reply"] {
        assert!(kinds.contains_key(k), "{k} among {kinds:?}");
    }
    assert!(kinds["ok"] > 100, "{kinds:?}");
    // With retries, every read gets through.
    let patient = ArgoClient::with_options(
        ic,
        ClientOptions {
            retries: 6,
            ..fast()
        },
    )
    .unwrap();
    for _ in 0..20 {
        let l = patient.list_apps(&AppQuery::default(), None).await.unwrap();
        assert_eq!(l.items.len(), 30);
    }
}
