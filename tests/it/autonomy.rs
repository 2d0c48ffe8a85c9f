//! Autonomous mode against the demo fleet over HTTP: the gate opens only for automatic
//! decisions, the sync goes through `actions` (read-only, can-i, protected apps, sync windows)
//! to the Argo CD API, the app comes back in sync, and every action (and every refusal) is
//! journaled with the decision it answers, before and after its request.
use crate::common;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use driftdeck::actions::autonomous::{self, Outcome};
use driftdeck::actions::{Session, Target};
use driftdeck::clients::argocd::{AppQuery, ArgoClient};
use driftdeck::decide::Verdict;
use driftdeck::decide::autonomy::{AUTONOMOUS_OPERATOR, Gate, Limits};
use driftdeck::decide::context::Sources;
use driftdeck::decide::decider::{Decider, Decision, Mode};
use driftdeck::decide::journal::Journal;
use driftdeck::decide::policy::Bundle;
use driftdeck::decide::scenario::Scenario;

/// The demo's production windows deny automated syncs at the fleet's clock (NOW) until 02:00
/// the next day: decide at 03:00, inside the allow window.
fn at_three() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 19, 3, 0, 0).unwrap()
}

fn target(client: &ArgoClient, name: &str) -> Target {
    Target {
        instance: client.instance().to_string(),
        name: name.to_string(),
        app_namespace: String::new(),
    }
}

/// Every drifted app whose decision autonomous mode would act on (the gate opens), decided at
/// `now` and journaled.
async fn enforceable(
    client: &ArgoClient,
    journal: &Journal,
    now: DateTime<Utc>,
) -> Vec<(String, u64, Decision, Scenario)> {
    let sources = Sources::from_config(None).unwrap();
    let decider = Decider::new(Bundle::builtin().unwrap());
    let list = client.list_apps(&AppQuery::default(), None).await.unwrap();
    let mut out = Vec::new();
    for a in list
        .items
        .iter()
        .filter(|a| a.status.sync.status == "OutOfSync")
    {
        let name = &a.metadata.name;
        let Ok((sc, _)) = driftdeck::decide::live::fetch(client, name, None, &sources, now).await
        else {
            continue;
        };
        let d = decider.decide(&sc, Mode::Autonomous).await.unwrap();
        let rec = journal
            .append(
                "decision",
                serde_json::json!({"decision": d, "app": name, "instance": client.instance()}),
            )
            .unwrap();
        out.push((name.clone(), rec.seq, d, sc));
    }
    out
}

fn actions_of<'a>(
    recs: &'a [driftdeck::decide::journal::Record],
    app: &str,
) -> Vec<&'a driftdeck::decide::journal::Record> {
    recs.iter()
        .filter(|r| r.kind == "action" && r.body["app"] == app)
        .collect()
}

#[tokio::test]
async fn autonomous_mode_syncs_enforced_drift_and_journals_it() {
    let fleet = common::demo(80, 3, 1).await;
    let cfg = fleet.config();
    let client = common::client(&cfg.instances[0]);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::at(&tmp.path().join("journal.jsonl")));
    // Production apps are protected by default; this fleet lets autonomous mode act on them.
    let session = Session::new(client.clone(), false, vec![])
        .protect_production(false)
        .with_journal(Some(journal.clone()));
    let limits = Limits::from_config(None);
    let now = at_three();

    let mut synced = Vec::new();
    let mut held = 0;
    let mut left = 0;
    for (name, seq, d, sc) in enforceable(&client, &journal, now).await {
        let before = client.get_app(&name, None, None).await.unwrap();
        let out = autonomous::act(
            &session,
            &target(&client, &name),
            &limits,
            seq,
            &d,
            &sc,
            now,
        )
        .await;
        match &out.gate {
            Gate::Sync => {
                assert!(d.automatic && matches!(d.verdict, Verdict::Enforce | Verdict::Defer));
                assert_eq!(out.error, None);
                synced.push(name.clone());
            }
            Gate::Hold { .. } => {
                held += 1;
                // Nothing was sent: no operation started.
                let app = client.get_app(&name, None, None).await.unwrap();
                assert_eq!(app.status.operation_state, before.status.operation_state);
            }
            Gate::Leave { .. } => {
                left += 1;
                let app = client.get_app(&name, None, None).await.unwrap();
                assert_eq!(app.status.operation_state, before.status.operation_state);
            }
        }
    }
    assert!(!synced.is_empty(), "no enforce decision in the demo fleet");
    assert!(
        held + left > 0,
        "every drift was synced: the gate let everything through"
    );
    assert!(synced.len() <= limits.max_actions_per_hour as usize);

    // The synced apps come back in sync.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    for name in &synced {
        loop {
            let app = client.get_app(name, None, None).await.unwrap();
            let phase = app
                .status
                .operation_state
                .as_ref()
                .map(|o| o.phase.clone())
                .unwrap_or_default();
            if phase == "Succeeded" && app.status.sync.status == "Synced" {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} did not come back in sync: {phase} {}",
                app.status.sync.status
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    // The journal: for each sync, a record before the request and one after it, both by the
    // autonomous operator and naming the decision; then the operation's end. The chain holds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for name in &synced {
        loop {
            let recs = journal.records().unwrap();
            let acts = actions_of(&recs, name);
            let kinds: Vec<&str> = acts
                .iter()
                .map(|r| r.body["action"].as_str().unwrap())
                .collect();
            if kinds == ["sync-requested", "sync", "sync-finished"] {
                for a in &acts {
                    assert_eq!(a.body["operator"], AUTONOMOUS_OPERATOR);
                }
                assert_eq!(acts[1].body["ok"], true);
                let seq = acts[0].body["decision_seq"].as_u64().unwrap();
                assert!(recs.iter().any(|r| r.seq == seq && r.kind == "decision"));
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: the journal has {kinds:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    assert!(journal.verify().unwrap().intact());
}

/// Autonomous mode obeys exactly the rules a keystroke obeys: a read-only instance, a
/// protected app (production by default, or the config's globs) and an RBAC refusal stop it
/// before anything changes, and the refusal is journaled with the decision.
#[tokio::test]
async fn autonomous_mode_obeys_read_only_protected_apps_and_can_i() {
    let fleet = common::demo(80, 3, 1).await;
    let cfg = fleet.config();
    let client = common::client(&cfg.instances[0]);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::at(&tmp.path().join("journal.jsonl")));
    let limits = Limits::from_config(None);
    let now = at_three();
    let open = |d: &Decision| driftdeck::decide::autonomy::gate(d, &[], &limits, now) == Gate::Sync;
    let mut cands: Vec<_> = enforceable(&client, &journal, now)
        .await
        .into_iter()
        .filter(|(_, _, d, _)| open(d))
        .collect();
    let prod = cands
        .iter()
        .position(|(_, _, _, sc)| sc.app["metadata"]["labels"]["env"] == "prod")
        .map(|i| cands.remove(i))
        .expect("an enforceable drift in production");
    assert!(
        cands.len() >= 3,
        "too few enforceable drifts: {}",
        cands.len()
    );
    let requests = || {
        fleet
            .instance(0)
            .read()
            .apps
            .iter()
            .map(|(n, a)| (n.clone(), a.app.status.operation_state.clone()))
            .collect::<Vec<_>>()
    };
    let counted = || {
        fleet
            .instance(0)
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let before = requests();

    let check = |out: &Outcome, name: &str, want: &str| {
        let Gate::Hold { why } = &out.gate else {
            panic!("{name}: expected a refusal, got {:?}", out.gate);
        };
        assert!(why.contains(want), "{name}: {why}");
        let recs = journal.records().unwrap();
        let acts = actions_of(&recs, name);
        assert_eq!(acts.len(), 1, "{name}: {acts:?}");
        let a = &acts[0].body;
        assert_eq!(a["operator"], AUTONOMOUS_OPERATOR);
        assert_eq!(a["ok"], false);
        assert!(a["outcome"].as_str().unwrap().contains(want), "{a}");
        assert!(a["decision_seq"].as_u64().is_some());
    };

    // A read-only instance: not even a read reaches the server.
    let (name, seq, d, sc) = &cands[0];
    let ro = Session::new(client.clone(), true, vec![])
        .protect_production(false)
        .with_journal(Some(journal.clone()));
    let n0 = counted();
    let out = autonomous::act(&ro, &target(&client, name), &limits, *seq, d, sc, now).await;
    assert_eq!(counted(), n0, "a read-only instance was asked something");
    check(&out, name, "read-only");

    // A protected app (by the config's globs; production apps are protected by default).
    let (name, seq, d, sc) = &cands[1];
    let guarded = Session::new(client.clone(), false, vec![format!("{}*", &name[..3])])
        .protect_production(false)
        .with_journal(Some(journal.clone()));
    let out = autonomous::act(&guarded, &target(&client, name), &limits, *seq, d, sc, now).await;
    check(&out, name, "protected");
    // A production app, with the default settings.
    let (name, seq, d, sc) = &prod;
    let default = Session::new(client.clone(), false, vec![]).with_journal(Some(journal.clone()));
    let out = autonomous::act(&default, &target(&client, name), &limits, *seq, d, sc, now).await;
    check(&out, name, "protected");

    // RBAC: Argo CD's can-i says no.
    let (name, seq, d, sc) = &cands[2];
    fleet
        .instance(0)
        .write()
        .denied
        .push(("sync".into(), "*".into()));
    let open_session = Session::new(client.clone(), false, vec![])
        .protect_production(false)
        .with_journal(Some(journal.clone()));
    let out = autonomous::act(
        &open_session,
        &target(&client, name),
        &limits,
        *seq,
        d,
        sc,
        now,
    )
    .await;
    check(&out, name, "may not sync");

    // Nothing changed on the server.
    assert_eq!(requests(), before, "an operation was started");
}

/// A sync started by autonomous mode is not lost when the decision task that started it is
/// cancelled (a reload, quitting): its request is journaled before it leaves and its answer
/// after, by a task that outlives the decision.
#[tokio::test]
async fn an_autonomous_sync_outlives_its_cancelled_decision() {
    let fleet = common::demo_with(80, 3, 1, |o| {
        o.faults = driftdeck::demo::faults::FaultProfile::Slow;
    })
    .await;
    let cfg = fleet.config();
    let client = common::client(&cfg.instances[0]);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::at(&tmp.path().join("journal.jsonl")));
    let limits = Limits::from_config(None);
    let now = at_three();
    let (name, seq, d, sc) = enforceable(&client, &journal, now)
        .await
        .into_iter()
        .find(|(_, _, d, _)| driftdeck::decide::autonomy::gate(d, &[], &limits, now) == Gate::Sync)
        .expect("an enforceable drift");
    let session = Session::new(client.clone(), false, vec![])
        .protect_production(false)
        .with_journal(Some(journal.clone()));
    let t = target(&client, &name);
    let task = {
        let (session, t, d, sc) = (session.clone(), t.clone(), d.clone(), sc.clone());
        tokio::spawn(async move {
            autonomous::act(&session, &t, &limits, seq, &d, &sc, now).await;
        })
    };
    // Cancel the decision as soon as the request is on record (the slow server has not
    // answered it yet).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let recs = journal.records().unwrap();
        if actions_of(&recs, &name)
            .iter()
            .any(|r| r.body["action"] == "sync-requested")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no request was journaled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // The request's answer is journaled all the same, and the operation ran.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let recs = journal.records().unwrap();
        let kinds: Vec<String> = actions_of(&recs, &name)
            .iter()
            .map(|r| r.body["action"].as_str().unwrap().to_string())
            .collect();
        if kinds.iter().any(|k| k == "sync") {
            assert_eq!(kinds[0], "sync-requested");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sync's answer was never journaled: {kinds:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let app = client.get_app(&name, None, None).await.unwrap();
    assert!(app.status.operation_state.is_some() || app.operation.is_some());
}

/// Quitting waits for writes whose answer is not journaled yet.
#[tokio::test]
async fn quitting_waits_for_writes_in_flight() {
    let inflight = driftdeck::actions::Inflight::default();
    let g = inflight.enter();
    assert_eq!(inflight.count(), 1);
    let t = std::time::Instant::now();
    assert_eq!(
        inflight
            .wait_idle(std::time::Duration::from_millis(100))
            .await,
        1
    );
    assert!(t.elapsed() >= std::time::Duration::from_millis(100));
    let waiter = {
        let i = inflight.clone();
        tokio::spawn(async move { i.wait_idle(std::time::Duration::from_secs(10)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    drop(g);
    assert_eq!(waiter.await.unwrap(), 0);
}

/// The TUI's own path: the runtime performs a `Decide` effect in autonomous mode with the
/// instance's session, so a read-only instance (`read_only = true` or `--read-only`) is never
/// written to by autonomous mode, and the refusal is on the decision screen and in the journal.
#[tokio::test]
async fn the_tui_runtime_decides_autonomously_through_the_instance_session() {
    use driftdeck::tui::effect::Effect;
    use driftdeck::tui::msg::Msg;
    use driftdeck::tui::runtime::{Instances, Runtime, ops::ActKit};
    let fleet = common::demo(80, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    for read_only in [true, false] {
        let mut cfg = fleet.config();
        cfg.instances[0].read_only = read_only;
        cfg.protect_production = Some(false);
        cfg.decide = Some(
            toml::from_str::<driftdeck::decide::settings::DecideConfig>("mode = \"autonomous\"")
                .unwrap(),
        );
        let journal = Arc::new(Journal::in_dir(tmp.path()));
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let mut rt = Runtime::new(Instances::from_config(&cfg), tx);
        let mut kit =
            driftdeck::tui::decisions::DecideKit::from_config(&cfg, tmp.path().to_path_buf())
                .unwrap();
        kit.now_ms = Some(at_three().timestamp_millis());
        rt.decide = Some(Arc::new(kit));
        rt.acts = ActKit {
            journal: Some(journal.clone()),
            protect_production: false,
            ..Default::default()
        };
        // An app autonomous mode would sync: an enforce decision whose gate opens.
        let client = common::client(&cfg.instances[0]);
        let limits = Limits::from_config(None);
        let scratch = Journal::at(&tmp.path().join("scratch.jsonl"));
        let (name, ..) = enforceable(&client, &scratch, at_three())
            .await
            .into_iter()
            .find(|(n, _, d, _)| {
                driftdeck::decide::autonomy::gate(d, &[], &limits, at_three()) == Gate::Sync
                    && actions_of(&journal.records().unwrap(), n).is_empty()
            })
            .expect("an enforceable drift");
        let before = client.get_app(&name, None, None).await.unwrap();
        let key = driftdeck::model::fleet::AppKey {
            instance: 0,
            namespace: String::new(),
            name: name.clone(),
        };
        rt.run(vec![Effect::Decide { req: 1, key }]);
        let info = loop {
            match tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv())
                .await
                .expect("a decision")
            {
                Some(Msg::Decided { result, .. }) => break result.expect("decided"),
                Some(_) => continue,
                None => panic!("the runtime closed"),
            }
        };
        let recs = journal.records().unwrap();
        let acts = actions_of(&recs, &name);
        if read_only {
            match &info.gate {
                Some(Gate::Hold { why }) => assert!(why.contains("read-only"), "{why}"),
                g => panic!("a read-only instance was not refused: {g:?}"),
            }
            let app = client.get_app(&name, None, None).await.unwrap();
            assert_eq!(app.status.operation_state, before.status.operation_state);
            assert_eq!(acts.len(), 1, "{acts:?}");
            assert!(
                acts[0].body["outcome"]
                    .as_str()
                    .unwrap()
                    .contains("read-only")
            );
            assert_eq!(acts[0].body["decision_seq"].as_u64(), info.seq);
        } else {
            assert_eq!(info.gate, Some(Gate::Sync), "{:?}", info.decision);
            assert_eq!(acts[0].body["action"], "sync-requested");
        }
    }
}

/// An audit trail that does not verify holds autonomous mode: with records cut from the end of
/// the journal (say, the last syncs, to get under the hourly limit), nothing is synced and the
/// hold names the journal; once an operator has reviewed and accepted it, the gate opens.
#[tokio::test]
async fn autonomous_mode_holds_on_a_journal_that_does_not_verify() {
    let fleet = common::demo(80, 3, 1).await;
    let cfg = fleet.config();
    let client = common::client(&cfg.instances[0]);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::at(&tmp.path().join("journal.jsonl")));
    let session = Session::new(client.clone(), false, vec![])
        .protect_production(false)
        .with_journal(Some(journal.clone()));
    let limits = Limits::from_config(None);
    let now = at_three();
    let (name, seq, d, sc) = enforceable(&client, &journal, now)
        .await
        .into_iter()
        .find(|(_, _, d, _)| driftdeck::decide::autonomy::gate(d, &[], &limits, now) == Gate::Sync)
        .expect("an enforceable drift");
    // Cut the last record from the end (the head still names it).
    let text = std::fs::read_to_string(&journal.path).unwrap();
    let kept: Vec<&str> = text.lines().collect();
    std::fs::write(&journal.path, kept[..kept.len() - 1].join("\n") + "\n").unwrap();
    assert!(!journal.verify().unwrap().intact());
    let before = client.get_app(&name, None, None).await.unwrap();
    let out = autonomous::act(
        &session,
        &target(&client, &name),
        &limits,
        seq,
        &d,
        &sc,
        now,
    )
    .await;
    match &out.gate {
        Gate::Hold { why } => assert!(why.contains("journal does not verify"), "{why}"),
        g => panic!("acted on a journal that does not verify: {g:?}"),
    }
    let app = client.get_app(&name, None, None).await.unwrap();
    assert_eq!(app.status.operation_state, before.status.operation_state);
    // Reviewed and accepted: the gate opens again.
    journal
        .append(
            driftdeck::decide::journal::ACCEPT,
            serde_json::json!({"operator": "sre"}),
        )
        .unwrap();
    assert!(journal.verify().unwrap().intact());
    let out = autonomous::act(
        &session,
        &target(&client, &name),
        &limits,
        seq,
        &d,
        &sc,
        now,
    )
    .await;
    assert_eq!(out.gate, Gate::Sync, "{:?}", out.gate);
}

/// A live decision through the service (what the TUI and serve run) carries the calibration
/// fitted from the journal's reviews: operators followed the heuristic's confident advice half
/// the time, so its confidence is lowered and a human decides; autonomous mode does not act.
#[tokio::test]
async fn a_live_decision_is_calibrated_from_the_journals_reviews() {
    use driftdeck::decide::autonomy::action_record;
    use driftdeck::decide::service::decide_live;
    let fleet = common::demo(80, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = fleet.config();
    cfg.decide = Some(
        toml::from_str::<driftdeck::decide::settings::DecideConfig>("mode = \"autonomous\"")
            .unwrap(),
    );
    let mut kit =
        driftdeck::tui::decisions::DecideKit::from_config(&cfg, tmp.path().to_path_buf()).unwrap();
    kit.now_ms = Some(at_three().timestamp_millis());
    kit.acts = false;
    let client = common::client(&cfg.instances[0]);
    let scratch = Journal::at(&tmp.path().join("scratch.jsonl"));
    let (name, ..) = enforceable(&client, &scratch, at_three())
        .await
        .into_iter()
        .find(|(_, _, d, _)| d.advisor.name == "heuristic" && d.confidence >= 0.8)
        .expect("a confident heuristic decision");
    // 30 reviewed decisions: advised at 0.99, followed 15 times.
    for i in 0..30 {
        let rec = kit
            .journal
            .append(
                "decision",
                serde_json::json!({"app": "other", "decision": {"verdict": "enforce", "confidence": 0.99,
                    "advisor": {"name": "heuristic", "verdict": "enforce", "confidence": 0.99}}}),
            )
            .unwrap();
        let chosen = if i % 2 == 0 {
            Verdict::Enforce
        } else {
            Verdict::Allow
        };
        kit.journal
            .append(
                "action",
                action_record(Some(rec.seq), "other", "eu", "review", chosen, "ana", "r"),
            )
            .unwrap();
    }
    let kit = Arc::new(kit);
    let key = driftdeck::model::fleet::AppKey {
        instance: 0,
        namespace: String::new(),
        name: name.clone(),
    };
    let decided = decide_live(&kit, &client, &key).await.unwrap();
    let d = &decided.decision;
    assert_eq!(d.verdict, Verdict::NeedsHuman, "{:?}", d.guardrails);
    assert_eq!(d.confidence, 0.5);
    assert!(!d.automatic);
    assert!(
        d.guardrails
            .iter()
            .any(|g| g.starts_with("calibrated on 30 operator reviews, the heuristic")),
        "{:?}",
        d.guardrails
    );
    // The journal records the calibrated decision.
    let recs = kit.journal.records().unwrap();
    let last = recs.iter().rev().find(|r| r.kind == "decision").unwrap();
    assert_eq!(last.body["decision"]["verdict"], "needs-human");
}
