//! `driftdeck serve` as it runs in a cluster: two replicas against the demo fleet, each with a
//! journal of its own, electing a leader per instance through Leases in the instances' control
//! planes. One decides and writes Events; it is killed; the other takes over within the lease
//! duration; no drift is decided twice or lost (the Events and both journals are checked).
#![allow(clippy::disallowed_macros)] // test harness notices, not product output
use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driftdeck::demo::DemoFleet;
use serde_json::Value;

struct Replica {
    child: Child,
    addr: String,
    data: PathBuf,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Replica {
    fn start(config: &Path, name: &str, data: &Path, extra_env: &[(&str, &str)]) -> Replica {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_driftdeck"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("DRIFTDECK_CONFIG", config)
            .env("DRIFTDECK_DATA_DIR", data)
            .env("DRIFTDECK_LOG_DIR", data.join("logs"))
            .env("POD_NAME", name)
            .env_remove("POD_NAMESPACE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("driftdeck serve starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        let keep = lines.clone();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(rest) = l.split(" on ").nth(1)
                    && l.starts_with("driftdeck serve:")
                {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                keep.lock().unwrap().push(l);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{name} did not say where it listens: {:?}", lines));
        Replica {
            child,
            addr,
            data: data.to_path_buf(),
            stderr: lines,
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        match reqwest::Client::new()
            .get(format!("http://{}{path}", self.addr))
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }

    /// The serve decisions of its journal: (instance, app, basis) → journal seq.
    fn journaled(&self) -> Vec<((String, String, String), u64)> {
        let j = driftdeck::decide::journal::Journal::in_dir(&self.data);
        j.records()
            .unwrap()
            .into_iter()
            .filter(|r| r.kind == "decision" && r.body["origin"] == "serve")
            .map(|r| {
                let s = |k: &str| r.body[k].as_str().unwrap_or("").to_string();
                ((s("instance"), s("app"), s("basis")), r.seq)
            })
            .collect()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Short Leases, so a test sees a failover in seconds.
pub const FAST_LEASE: &str =
    "[serve]\nlease_duration = \"3s\"\nrenew_deadline = \"2s\"\nretry_period = \"500ms\"\n";

/// The demo's config written in `dir`, with `serve` (TOML) appended; its path.
pub fn serve_config(fleet: &DemoFleet, dir: &Path, serve: &str) -> PathBuf {
    let config = fleet.write_config(dir).unwrap();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push('\n');
    text.push_str(serve);
    std::fs::write(&config, text).unwrap();
    config
}

async fn until<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while t.elapsed() < limit {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Every DriftDecision Event of every control plane.
async fn decision_events(fleet: &DemoFleet) -> Vec<Value> {
    let http = fleet.kube_http();
    let mut out = Vec::new();
    for inst in ["argocd-eu", "argocd-us"] {
        let url = fleet.kube_url(inst).unwrap();
        let v: Value = http
            .get(format!(
                "{url}/api/v1/namespaces/argocd/events?fieldSelector=reason%3DDriftDecision"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.extend(v["items"].as_array().cloned().unwrap_or_default());
    }
    out
}

/// The OutOfSync apps now and the basis a replica decides them on.
async fn drifted(fleet: &DemoFleet) -> BTreeMap<(String, String), String> {
    let cfg = fleet.config();
    let mut out = BTreeMap::new();
    for (i, ic) in cfg.instances.iter().enumerate() {
        let c = common::client(ic);
        let list = c
            .list_apps(&Default::default(), None)
            .await
            .expect("the demo lists its apps");
        for a in &list.items {
            let row = driftdeck::model::fleet::AppRow::from_app(i as u16, a);
            if row.sync == driftdeck::model::status::Sync::OutOfSync {
                out.insert(
                    (ic.name.clone(), a.metadata.name.clone()),
                    driftdeck::serve::basis(&row),
                );
            }
        }
    }
    out
}

/// Whether a DriftDecision Event records the drift of `app` on `inst` at `basis`.
fn has_event(evs: &[Value], inst: &str, app: &str, basis: &str) -> bool {
    evs.iter().any(|e| {
        e["involvedObject"]["name"] == app
            && ann(e, "driftdeck.io/instance") == inst
            && ann(e, "driftdeck.io/basis") == basis
    })
}

fn ann<'a>(e: &'a Value, k: &str) -> &'a str {
    e["metadata"]["annotations"][k].as_str().unwrap_or("")
}

/// An app of instance 0 that is in sync now, made to drift by hand (a ConfigMap edit).
fn drift_one(fleet: &DemoFleet, value: &str) -> String {
    let inst = fleet.instance(0);
    let name = {
        let st = inst.read();
        st.apps
            .iter()
            .find(|(_, a)| {
                a.w.drifts.is_empty()
                    && a.w.kind == driftdeck::demo::generator::WorkloadKind::Deployment
                    && !a.app.self_heal()
                    && a.app.status.sync.status == "Synced"
                    && a.app
                        .status
                        .operation_state
                        .as_ref()
                        .is_none_or(|o| o.phase != "Running")
            })
            .map(|(n, _)| n.clone())
            .expect("an app in sync")
    };
    let now = inst.now();
    inst.modify(&name, |a| {
        a.w.drifts
            .push(driftdeck::demo::generator::Drift::ConfigValue {
                key: "LOG_LEVEL".into(),
                value: value.into(),
                at: now,
            });
    });
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_leader_failover_and_no_decision_lost_or_doubled() {
    let fleet = common::demo_with(40, 4, 2, |o| o.now = None).await;
    let tmp = tempfile::Builder::new()
        .prefix("dd-serve-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let config = serve_config(&fleet, dir, FAST_LEASE);
    let lease_duration = Duration::from_secs(3);

    let a = Replica::start(&config, "replica-a", &dir.join("a"), &[]);
    until(
        "replica-a to lead both shards",
        Duration::from_secs(30),
        || async { a.get("/readyz").await.1.matches("leader, deciding").count() == 2 },
    )
    .await;
    let b = Replica::start(&config, "replica-b", &dir.join("b"), &[]);
    until(
        "replica-b to follow replica-a",
        Duration::from_secs(30),
        || async {
            let (code, body) = b.get("/readyz").await;
            code == 200 && body.matches("follower of replica-a").count() == 2
        },
    )
    .await;
    // Every drift is decided once, by the leader, and recorded as an Event.
    let want = drifted(&fleet).await;
    assert!(!want.is_empty(), "the demo fleet has drift");
    until(
        "replica-a to decide every drift",
        Duration::from_secs(60),
        || async {
            let evs = decision_events(&fleet).await;
            want.iter()
                .all(|((inst, app), basis)| has_event(&evs, inst, app, basis))
        },
    )
    .await;
    // A new drift while replica-a leads.
    let first = drift_one(&fleet, "debug");
    let d = drifted(&fleet).await;
    assert!(d.keys().any(|(_, a)| *a == first), "{first} drifted: {d:?}");
    until(
        "replica-a to decide the new drift",
        Duration::from_secs(30),
        || async {
            decision_events(&fleet)
                .await
                .iter()
                .any(|e| e["involvedObject"]["name"] == first.as_str())
        },
    )
    .await;
    assert!(b.journaled().is_empty(), "the follower decided nothing");
    let metrics = a.get("/metrics").await.1;
    assert!(
        metrics.contains("driftdeck_leader{shard=\"argocd-eu\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("driftdeck_events_total{result=\"created\"}"));

    // Kill the leader: no release, its Leases run out.
    let mut a = a;
    let killed = Instant::now();
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    // A drift nobody has decided yet, made while nobody leads.
    let second = drift_one(&fleet, "trace");
    until(
        "replica-b to take over both shards",
        Duration::from_secs(30),
        || async { b.get("/readyz").await.1.matches("leader, deciding").count() == 2 },
    )
    .await;
    let failover = killed.elapsed();
    eprintln!("failover: {} ms", failover.as_millis());
    // It waits for the Lease to expire on its own clock (3 s), then takes it at its next
    // round (500 ms) and reads the Events: well within twice the lease duration.
    assert!(
        failover >= lease_duration - Duration::from_millis(600),
        "{failover:?}"
    );
    assert!(
        failover < lease_duration * 2 + Duration::from_secs(2),
        "{failover:?}"
    );
    until(
        "replica-b to decide the drift made during the failover",
        Duration::from_secs(30),
        || async {
            decision_events(&fleet)
                .await
                .iter()
                .any(|e| e["involvedObject"]["name"] == second.as_str())
        },
    )
    .await;
    // Settle: nothing more in flight.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // No decision lost: every drift now has its Event, with the basis it is in now.
    let now = drifted(&fleet).await;
    let evs = decision_events(&fleet).await;
    for ((inst, app), basis) in &now {
        assert!(
            has_event(&evs, inst, app, basis),
            "{inst}/{app} ({basis}) has no DriftDecision Event"
        );
    }
    // None doubled: one Event per drift, one journal record per drift across both replicas,
    // and each Event names the record of the replica that wrote it.
    let mut per_drift: HashMap<(String, String, String), usize> = HashMap::new();
    for e in &evs {
        *per_drift
            .entry((
                ann(e, "driftdeck.io/instance").to_string(),
                e["involvedObject"]["name"].as_str().unwrap().to_string(),
                ann(e, "driftdeck.io/basis").to_string(),
            ))
            .or_default() += 1;
    }
    assert!(per_drift.values().all(|n| *n == 1), "{per_drift:?}");
    let ja = a.journaled();
    let jb = b.journaled();
    let mut journaled: HashMap<(String, String, String), usize> = HashMap::new();
    for (k, _) in ja.iter().chain(&jb) {
        *journaled.entry(k.clone()).or_default() += 1;
    }
    assert!(journaled.values().all(|n| *n == 1), "{journaled:?}");
    assert_eq!(
        journaled.keys().collect::<std::collections::BTreeSet<_>>(),
        per_drift.keys().collect::<std::collections::BTreeSet<_>>(),
        "the journals and the Events record the same drifts"
    );
    for e in &evs {
        let rec = ann(e, "driftdeck.io/record");
        let (who, seq) = rec.split_once('#').unwrap();
        let seq: u64 = seq.parse().unwrap();
        let key = (
            ann(e, "driftdeck.io/instance").to_string(),
            e["involvedObject"]["name"].as_str().unwrap().to_string(),
            ann(e, "driftdeck.io/basis").to_string(),
        );
        let j = if who == "replica-a" { &ja } else { &jb };
        assert!(j.contains(&(key, seq)), "{rec} is not in {who}'s journal");
    }
    assert!(!jb.is_empty() && jb.iter().any(|((_, app, _), _)| *app == second));
    assert!(ja.iter().any(|((_, app, _), _)| *app == first));

    // Argo CD serves the decision among the app's events.
    let cfg = fleet.config();
    let c = common::client(&cfg.instances[0]);
    let app_events = c.app_events(&second, Some("argocd")).await.unwrap();
    assert!(
        app_events.items.iter().any(|e| e.reason == "DriftDecision"),
        "{:?}",
        app_events
            .items
            .iter()
            .map(|e| &e.reason)
            .collect::<Vec<_>>()
    );

    // A clean stop releases the Leases (exit 0, no holder).
    let mut b = b;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(b.child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = b.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{:?}", b.stderr.lock().unwrap());
    let url = fleet.kube_url("argocd-eu").unwrap();
    let lease: Value = fleet
        .kube_http()
        .get(format!(
            "{url}/apis/coordination.k8s.io/v1/namespaces/argocd/leases/driftdeck-argocd-eu"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(lease["spec"]["holderIdentity"].is_null(), "{lease}");
    assert_eq!(lease["spec"]["leaseTransitions"], 1, "{lease}");
}

#[test]
fn a_bad_serve_config_exits_2_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[[instances]]\nname = \"eu\"\nurl = \"http://127.0.0.1:9\"\ntoken = \"t\"\n\n[serve]\nlease_duration = \"5s\"\nrenew_deadline = \"10s\"\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_driftdeck"))
        .args(["serve"])
        .env("DRIFTDECK_CONFIG", &cfg)
        .env("DRIFTDECK_DATA_DIR", dir.path())
        .env("DRIFTDECK_LOG_DIR", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("renew_deadline"), "{err}");
    assert!(err.contains("line"), "the line of the mistake: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_reads_the_daemons_decisions_and_its_reviews_move_the_agreement() {
    let fleet = common::demo_with(30, 3, 1, |o| o.now = None).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = serve_config(&fleet, tmp.path(), FAST_LEASE);
    let d = Replica::start(
        &config,
        "driftdeck-0",
        &tmp.path().join("d"),
        &[("DRIFTDECK_API_TOKEN", "team-token")],
    );
    let want = drifted(&fleet).await.len();
    let url = format!("http://{}", d.addr);
    let team = |token: Option<&str>| {
        driftdeck::clients::team::TeamClient::new(&url, token.map(str::to_string)).unwrap()
    };
    let client = team(Some("team-token"));
    let t = Instant::now();
    let mut decisions = Vec::new();
    while decisions.len() < want {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the daemon did not decide every drift"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        decisions = client
            .decisions(0)
            .await
            .map(|(d, _)| d)
            .unwrap_or_default();
    }
    let first = decisions[0].clone();
    let seq = first.seq.unwrap();
    // Paging: nothing after the latest.
    let (after, next) = client
        .decisions(decisions.last().unwrap().seq.unwrap())
        .await
        .unwrap();
    assert!(after.is_empty());
    assert_eq!(next, decisions.last().unwrap().seq.unwrap());
    // Reading is open; a review needs the token.
    let e = team(None)
        .review(seq, driftdeck::decide::Verdict::Allow, "alice")
        .await
        .unwrap_err();
    assert!(e.contains("DRIFTDECK_API_TOKEN"), "{e}");
    let disagree = if first.verdict == "allow" {
        driftdeck::decide::Verdict::Enforce
    } else {
        driftdeck::decide::Verdict::Allow
    };
    let r = client.review(seq, disagree, "alice").await.unwrap();
    assert!(r > seq);
    let e = client
        .review(999_999, driftdeck::decide::Verdict::Allow, "alice")
        .await
        .unwrap_err();
    assert!(e.contains("404"), "{e}");
    // The daemon's journal holds the review, and its metrics count it.
    let j = driftdeck::decide::journal::Journal::in_dir(&tmp.path().join("d"));
    let recs = j.records().unwrap();
    let review = recs.iter().find(|x| x.seq == r).unwrap();
    assert_eq!(review.body["decision_seq"], seq);
    assert_eq!(review.body["action"], "review");
    assert_eq!(review.body["operator"], "alice");
    let m = d.get("/metrics").await.1;
    assert!(m.contains("driftdeck_decision_reviews 1\n"), "{m}");
    assert!(m.contains("driftdeck_decision_agreement_ratio 0\n"), "{m}");
}

/// DORA from Argo CD's history: a rollback makes the deployment it undid a change failure,
/// in the library's figures and in `serve`'s metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_is_a_change_failure_in_the_dora_figures_and_metrics() {
    use driftdeck::model::dora;
    let fleet = common::demo_with(30, 3, 1, |o| o.now = None).await;
    let cfg = fleet.config();
    let client = common::client(&cfg.instances[0]);
    let s =
        driftdeck::actions::Session::new(client.clone(), false, vec![]).protect_production(false);
    let app = common::auto_synced_app(&client, &[]).await;
    let (name, project) = (app.metadata.name.clone(), app.spec.project.clone());
    let figures = |list: &driftdeck::model::app::ApplicationList| {
        let apps: Vec<dora::AppHistory> = list
            .items
            .iter()
            .map(|a| dora::AppHistory::of("argocd-eu", a))
            .collect();
        dora::compute(&apps, chrono::Utc::now().timestamp(), dora::WINDOW_SECS)
            .into_iter()
            .find(|f| f.project == project)
            .unwrap()
    };
    let before = figures(
        &client
            .list_apps(&Default::default(), dora::HISTORY_FIELDS)
            .await
            .unwrap(),
    );
    common::guided_rollback(&s, &name, "5xx after the release").await;
    let after = figures(
        &client
            .list_apps(&Default::default(), dora::HISTORY_FIELDS)
            .await
            .unwrap(),
    );
    assert_eq!(after.failed, before.failed + 1, "{before:?} {after:?}");
    assert_eq!(after.deployments, before.deployments + 1);
    assert!(after.change_failure_rate.unwrap() > 0.0);

    let tmp = tempfile::tempdir().unwrap();
    let config = serve_config(&fleet, tmp.path(), FAST_LEASE);
    let d = Replica::start(&config, "driftdeck-0", &tmp.path().join("d"), &[]);
    let want = format!(
        "driftdeck_dora_change_failure_ratio{{instance=\"argocd-eu\",project=\"{project}\"}} {}",
        after.change_failure_rate.unwrap()
    );
    until(
        "the DORA figures in /metrics",
        Duration::from_secs(30),
        || async { d.get("/metrics").await.1.contains(&want) },
    )
    .await;
}

/// Sharding: with `max_shards = 1`, two replicas lead one instance each; when one dies, the
/// other takes its shard too, once the shard has stayed unheld for a second lease duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_instances_and_one_takes_both_when_the_other_dies() {
    let fleet = common::demo_with(40, 4, 2, |o| o.now = None).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = serve_config(
        &fleet,
        tmp.path(),
        "[serve]\nlease_duration = \"2s\"\nrenew_deadline = \"1500ms\"\nretry_period = \"300ms\"\nmax_shards = 1\n",
    );
    let a = Replica::start(&config, "replica-a", &tmp.path().join("a"), &[]);
    until(
        "replica-a to lead one shard",
        Duration::from_secs(20),
        || async { a.get("/readyz").await.1.matches("leader, deciding").count() == 1 },
    )
    .await;
    let b = Replica::start(&config, "replica-b", &tmp.path().join("b"), &[]);
    // replica-a leads one shard; the other stays free until replica-b takes it.
    until(
        "each replica to lead one shard",
        Duration::from_secs(20),
        || async {
            a.get("/readyz").await.1.matches("leader, deciding").count() == 1
                && b.get("/readyz").await.1.matches("leader, deciding").count() == 1
        },
    )
    .await;
    until(
        "each to follow the other on the other shard",
        Duration::from_secs(10),
        || async {
            a.get("/readyz").await.1.contains("follower of replica-b")
                && b.get("/readyz").await.1.contains("follower of replica-a")
        },
    )
    .await;
    // Both shards' drifts get decided, each by its leader.
    let want = drifted(&fleet).await;
    until("every drift decided", Duration::from_secs(60), || async {
        let evs = decision_events(&fleet).await;
        want.iter()
            .all(|((inst, app), basis)| has_event(&evs, inst, app, basis))
    })
    .await;
    let by: std::collections::BTreeSet<String> = decision_events(&fleet)
        .await
        .iter()
        .map(|e| {
            ann(e, "driftdeck.io/record")
                .split('#')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(by.len(), 2, "both replicas decided: {by:?}");
    let mut a = a;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    until(
        "replica-b to lead both shards",
        Duration::from_secs(20),
        || async { b.get("/readyz").await.1.matches("leader, deciding").count() == 2 },
    )
    .await;
}
