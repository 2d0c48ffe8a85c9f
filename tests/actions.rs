//! The demo servers refuse and perform operations as Argo CD does (rollback, terminate, sync in
//! a deny window), checked over HTTP through the client, with the server's state afterwards.
mod common;

use driftdeck::clients::argocd::AppQuery;
use driftdeck::model::app::{Application, SyncRequest, SyncWindow};

async fn wait_phase(
    client: &driftdeck::clients::argocd::ArgoClient,
    name: &str,
    phase: &str,
) -> Application {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let app = client.get_app(name, None, None).await.unwrap();
        let p = app
            .status
            .operation_state
            .as_ref()
            .map(|o| o.phase.clone())
            .unwrap_or_default();
        if p == phase {
            return app;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: phase {p}, waiting for {phase}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn idle(a: &Application) -> bool {
    a.status
        .operation_state
        .as_ref()
        .is_none_or(|o| o.phase != "Running" && o.phase != "Terminating")
}

#[tokio::test]
async fn rollback_is_refused_with_auto_sync_and_performed_without() {
    let fleet = common::demo(60, 3, 1).await;
    let client = common::client(&fleet.config().instances[0]);
    let list = client.list_apps(&AppQuery::default(), None).await.unwrap();
    let mut auto = None;
    let mut manual = None;
    for a in &list.items {
        let full = client.get_app(&a.metadata.name, None, None).await.unwrap();
        if !idle(&full) || full.status.history.len() < 2 {
            continue;
        }
        if full.auto_sync() && auto.is_none() {
            auto = Some(full);
        } else if !full.auto_sync() && manual.is_none() {
            manual = Some(full);
        }
    }
    let (auto, manual) = (
        auto.expect("an auto-synced app"),
        manual.expect("a manual app"),
    );

    let id = auto.status.history[0].id;
    let err = client
        .rollback_app(&auto.metadata.name, None, id, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("rollback cannot be initiated when auto-sync is enabled"),
        "{err}"
    );
    let after = client
        .get_app(&auto.metadata.name, None, None)
        .await
        .unwrap();
    assert_eq!(after.status.history, auto.status.history);

    let name = &manual.metadata.name;
    let err = client
        .rollback_app(name, None, 9999, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not have deployment with id 9999"),
        "{err}"
    );
    let target = manual.status.history[0].clone();
    let dry = client
        .rollback_app(name, None, target.id, true)
        .await
        .unwrap();
    assert!(idle(&dry), "a dry run starts nothing");
    let started = client
        .rollback_app(name, None, target.id, false)
        .await
        .unwrap();
    let op = started.status.operation_state.as_ref().unwrap();
    assert_eq!(op.phase, "Running");
    assert_eq!(
        op.operation.sync.as_ref().unwrap().revision,
        target.revision
    );
    let done = wait_phase(&client, name, "Succeeded").await;
    assert_eq!(done.status.sync.revision, target.revision);
    assert_eq!(
        done.status.history.last().unwrap().revision,
        target.revision,
        "the rollback is the newest deployment"
    );
}

#[tokio::test]
async fn terminate_needs_a_running_operation_and_ends_it() {
    let fleet = common::demo(60, 3, 1).await;
    let client = common::client(&fleet.config().instances[0]);
    let list = client.list_apps(&AppQuery::default(), None).await.unwrap();
    let app = list
        .items
        .iter()
        .find(|a| a.status.sync.status == "OutOfSync" && idle(a))
        .expect("an idle drifted app");
    let name = &app.metadata.name;
    let err = client.terminate_operation(name, None).await.unwrap_err();
    assert!(
        err.to_string().contains("No operation is in progress"),
        "{err}"
    );

    client
        .sync_app(&SyncRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    client.terminate_operation(name, None).await.unwrap();
    let now = client.get_app(name, None, None).await.unwrap();
    assert_eq!(now.status.operation_state.unwrap().phase, "Terminating");
    let ended = wait_phase(&client, name, "Failed").await;
    assert_eq!(
        ended.status.operation_state.unwrap().message,
        "Operation terminated"
    );
    assert_eq!(
        ended.status.sync.status, "OutOfSync",
        "the drift is still there"
    );
}

#[tokio::test]
async fn a_manual_sync_inside_a_deny_window_is_refused() {
    let fleet = common::demo(60, 3, 1).await;
    let client = common::client(&fleet.config().instances[0]);
    let list = client.list_apps(&AppQuery::default(), None).await.unwrap();
    let app = list
        .items
        .iter()
        .find(|a| a.status.sync.status == "OutOfSync" && idle(a))
        .expect("an idle drifted app");
    let name = app.metadata.name.clone();
    {
        let inst = fleet.instance(0);
        let mut st = inst.write();
        let project = st
            .projects
            .iter_mut()
            .find(|p| p.metadata.name == app.spec.project)
            .unwrap();
        project.spec.sync_windows.push(SyncWindow {
            kind: "deny".into(),
            schedule: "* * * * *".into(),
            duration: "1h".into(),
            applications: vec![name.clone()],
            manual_sync: false,
            ..Default::default()
        });
    }
    let err = client
        .sync_app(&SyncRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("blocked by sync window"), "{err}");
    let after = client.get_app(&name, None, None).await.unwrap();
    assert_eq!(after.status.operation_state, app.status.operation_state);
}
