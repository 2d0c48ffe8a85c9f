//! Sync waves and hooks: a sync of an app with a PreSync migration runs its hook Job first,
//! then the Sync phase wave by wave; a failing migration fails the operation before anything
//! is applied, and what failed is named (the operation view, the action's error).
use crate::common;

use driftdeck::actions::sync::SyncSpec;
use driftdeck::actions::{self, ActionError, Session, Target};
use driftdeck::model::operation;

fn session(fleet: &driftdeck::demo::DemoFleet) -> Session {
    let client = common::client(&fleet.config().instances[0]);
    Session::new(client, false, vec![]).protect_production(false)
}

/// An idle manual app of the first instance with a migration hook.
fn migration_app(fleet: &driftdeck::demo::DemoFleet) -> String {
    let st = fleet.instance(0).read();
    st.apps
        .values()
        .find(|a| {
            driftdeck::demo::resources::has_migration_hook(&a.w)
                && !a.app.auto_sync()
                && a.app
                    .status
                    .operation_state
                    .as_ref()
                    .is_none_or(|o| o.phase != "Running")
        })
        .map(|a| a.app.metadata.name.clone())
        .expect("a manual app with a migration hook")
}

#[tokio::test]
async fn a_presync_migration_runs_first_and_a_failing_one_stops_the_sync() {
    let fleet = common::demo(120, 3, 1).await;
    let s = session(&fleet);
    let name = migration_app(&fleet);
    let t = Target {
        instance: s.instance.clone(),
        name: name.clone(),
        app_namespace: "argocd".into(),
    };
    let inst = fleet.instance(0).clone();
    inst.modify(&name, |a| a.w.migration_fails = false);

    // The waves are in the manifests and in the app's status.
    let app = s.client.get_app(&name, None, None).await.unwrap();
    let wave = |kind: &str| {
        app.status
            .resources
            .iter()
            .find(|r| r.kind == kind)
            .map(|r| r.sync_wave)
    };
    assert_eq!(wave("ConfigMap"), Some(-1));
    assert_eq!(wave("Deployment"), Some(0));
    assert_eq!(wave("Service"), Some(1));

    // A sync that goes through: PreSync hook, then the Sync phase wave by wave.
    let plan = actions::sync::plan(&s, &t, SyncSpec::default())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let op = actions::sync::run(&s, &plan, std::time::Duration::from_secs(20), |o| {
        seen.push(operation::progress(o, &[]));
    })
    .await
    .unwrap();
    assert!(
        seen.iter()
            .any(|p| p.contains("PreSync hook Job/") && p.contains("-migrate running")),
        "{seen:?}"
    );
    let app = s.client.get_app(&name, None, None).await.unwrap();
    let labels: Vec<String> = operation::steps(&op, &app.status.resources)
        .iter()
        .map(operation::Step::label)
        .collect();
    assert_eq!(labels[0], "PreSync");
    assert_eq!(labels[1], "Sync wave -1");
    assert_eq!(labels.last().unwrap(), "Sync wave 1");
    assert_eq!(
        operation::steps(&op, &app.status.resources)[0].items[0].hook_phase,
        "Succeeded"
    );
    let history = app.status.history.len();

    // A failing migration: the operation fails in PreSync, nothing is applied.
    inst.modify(&name, |a| {
        a.w.migration_fails = true;
        a.w.drifts
            .push(driftdeck::demo::generator::Drift::ConfigValue {
                key: "LOG_LEVEL".into(),
                value: "trace".into(),
                at: common::NOW,
            });
    });
    let plan = actions::sync::plan(&s, &t, SyncSpec::default())
        .await
        .unwrap();
    let e = actions::sync::run(&s, &plan, std::time::Duration::from_secs(20), |_| {})
        .await
        .unwrap_err();
    let ActionError::Failed(m) = &e else {
        panic!("{e}")
    };
    assert!(
        m.contains("PreSync: Job/") && m.contains("Job has reached the specified backoff limit"),
        "{m}"
    );
    let app = s.client.get_app(&name, None, None).await.unwrap();
    let op = app.status.operation_state.clone().unwrap();
    assert_eq!(op.phase, "Failed");
    let steps = operation::steps(&op, &app.status.resources);
    assert_eq!(steps.len(), 1, "only PreSync ran: {steps:?}");
    assert!(steps[0].failed());
    assert_eq!(app.status.history.len(), history, "nothing deployed");
    assert_eq!(
        app.status.sync.status, "OutOfSync",
        "the drift is still there"
    );
}

/// A running sync of a migration app waits in PreSync for its hook Job (as the demo's hung
/// migrations do), and the operation view says so.
#[test]
fn a_running_operation_waits_for_its_presync_hook() {
    let apps: Vec<driftdeck::demo::generator::DemoApp> = driftdeck::demo::generator::generate(
        &driftdeck::demo::generator::FleetSpec {
            apps: 300,
            clusters: 4,
            instances: 1,
            seed: 3,
        },
        common::NOW,
    )
    .into_iter()
    .flat_map(|i| i.apps)
    .collect();
    let mut a = apps
        .into_iter()
        .find(|a| driftdeck::demo::resources::has_migration_hook(&a.w))
        .unwrap();
    let mut rng = driftdeck::util::Rng::new(1);
    driftdeck::demo::drift::start_operation(&mut a, common::NOW, false, &mut rng);
    let op = a.app.status.operation_state.clone().unwrap();
    assert!(
        op.message
            .starts_with("waiting for completion of hook batch/Job/"),
        "{}",
        op.message
    );
    assert_eq!(
        operation::progress(&op, &[]),
        format!("PreSync: PreSync hook Job/{}-migrate running", a.w.name)
    );
}
