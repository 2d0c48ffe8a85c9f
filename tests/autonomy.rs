//! Autonomous mode against the demo fleet over HTTP: the gate opens only for automatic
//! decisions, the sync goes to the Argo CD API, the app comes back in sync, and every action
//! is journaled with the decision it answers.
mod common;

use chrono::{TimeZone, Utc};
use driftdeck::clients::argocd::AppQuery;
use driftdeck::decide::Verdict;
use driftdeck::decide::autonomy::{self, AUTONOMOUS_OPERATOR, Gate, Limits, Target};
use driftdeck::decide::context::Sources;
use driftdeck::decide::decider::{Decider, Mode};
use driftdeck::decide::journal::Journal;
use driftdeck::decide::policy::Bundle;

#[tokio::test]
async fn autonomous_mode_syncs_enforced_drift_and_journals_it() {
    let fleet = common::demo(80, 3, 1).await;
    let cfg = fleet.config();
    let client = common::client(&cfg.instances[0]);
    let sources = Sources::from_config(cfg.context.as_ref()).unwrap();
    let decider = Decider::new(Bundle::builtin().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::at(&tmp.path().join("journal.jsonl"));
    let limits = Limits::from_config(None);
    // The demo's production windows deny automated syncs at the fleet's clock (NOW) until
    // 02:00 the next day: decide at 03:00, inside the allow window.
    let now = Utc.with_ymd_and_hms(2026, 11, 19, 3, 0, 0).unwrap();

    let list = client.list_apps(&AppQuery::default(), None).await.unwrap();
    let mut synced = Vec::new();
    let mut held = 0;
    let mut left = 0;
    for a in list
        .items
        .iter()
        .filter(|a| a.status.sync.status == "OutOfSync")
    {
        let name = &a.metadata.name;
        let Ok((sc, _)) = driftdeck::decide::live::fetch(&client, name, None, &sources, now).await
        else {
            continue;
        };
        let d = decider.decide(&sc, Mode::Autonomous).await.unwrap();
        let rec = journal
            .append("decision", serde_json::json!({"decision": d}))
            .unwrap();
        let before = client.get_app(name, None, None).await.unwrap();
        let target = Target {
            client: &client,
            app: name,
            app_namespace: "",
            instance: client.instance(),
        };
        let out = autonomy::act(&target, &journal, &limits, rec.seq, &d, &sc, now).await;
        match &out.gate {
            Gate::Sync => {
                assert!(d.automatic && matches!(d.verdict, Verdict::Enforce | Verdict::Defer));
                assert_eq!(out.error, None);
                assert!(out.action_seq.is_some());
                synced.push(name.clone());
            }
            Gate::Hold { .. } => {
                held += 1;
                // Nothing was sent: no operation started.
                let app = client.get_app(name, None, None).await.unwrap();
                assert_eq!(app.status.operation_state, before.status.operation_state);
            }
            Gate::Leave { .. } => {
                left += 1;
                let app = client.get_app(name, None, None).await.unwrap();
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

    // A second sync while the first runs is refused as Argo CD refuses it.
    let err = client
        .sync_app(&driftdeck::model::app::SyncRequest {
            name: synced[0].clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("another operation is already in progress"),
        "{err}"
    );

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

    // The journal: one action per sync, naming its decision; the chain is intact.
    let recs = journal.records().unwrap();
    let actions: Vec<_> = recs.iter().filter(|r| r.kind == "action").collect();
    assert_eq!(actions.len(), synced.len());
    for a in &actions {
        assert_eq!(a.body["operator"], AUTONOMOUS_OPERATOR);
        assert_eq!(a.body["ok"], true);
        let seq = a.body["decision_seq"].as_u64().unwrap();
        assert!(recs.iter().any(|r| r.seq == seq && r.kind == "decision"));
    }
    assert!(journal.verify().unwrap().intact());
}
