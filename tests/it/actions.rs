//! The demo servers refuse and perform operations as Argo CD does (rollback, terminate, sync in
//! a deny window), checked over HTTP through the client, with the server's state afterwards.
use crate::common;

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
    let op = dry.status.operation_state.as_ref().unwrap();
    assert!(
        op.operation.sync.as_ref().unwrap().dry_run,
        "a dry run is an operation marked dryRun, as Argo CD runs it"
    );
    let done = wait_phase(&client, name, "Succeeded").await;
    assert_eq!(
        done.status.history, manual.status.history,
        "a dry run deploys nothing"
    );
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

// ---- the actions library (src/actions) against the demo, over HTTP ----

use driftdeck::actions::sync::{Change, SyncSpec};
use driftdeck::actions::{self, ActionError, Session, Target};
use driftdeck::decide::journal::Journal;
use driftdeck::demo::generator::Drift;

fn session(fleet: &driftdeck::demo::DemoFleet, journal: &std::path::Path) -> Session {
    let client = common::client(&fleet.config().instances[0]);
    Session::new(client, false, vec![])
        .with_journal(Some(std::sync::Arc::new(Journal::in_dir(journal))))
}

fn target(s: &Session, name: &str) -> Target {
    Target {
        instance: s.instance.clone(),
        name: name.to_string(),
        app_namespace: "argocd".into(),
    }
}

/// An idle app with a Deployment and at least two deployments in its history, manual or
/// auto-synced as asked.
async fn pick(s: &Session, auto: bool) -> Application {
    pick_not(s, auto, &[]).await
}

/// As [`pick`], but none of `taken`.
async fn pick_not(s: &Session, auto: bool, taken: &[String]) -> Application {
    let list = s
        .client
        .list_apps(&AppQuery::default(), None)
        .await
        .unwrap();
    for a in &list.items {
        let full = s
            .client
            .get_app(&a.metadata.name, None, None)
            .await
            .unwrap();
        let deployment = full.status.resources.iter().any(|r| r.kind == "Deployment")
            && !full
                .status
                .resources
                .iter()
                .any(|r| r.kind == "HorizontalPodAutoscaler");
        if idle(&full)
            && !taken.contains(&full.metadata.name)
            && deployment
            && full.status.history.len() >= 2
            && full.auto_sync() == auto
            && (!auto || full.self_heal())
        {
            return full;
        }
    }
    panic!("no idle app with auto-sync {auto}");
}

fn journal_actions(dir: &std::path::Path) -> Vec<serde_json::Value> {
    Journal::in_dir(dir)
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "action")
        .map(|r| r.body)
        .collect()
}

#[tokio::test]
async fn sync_of_selected_resources_then_with_prune_confirmed() {
    let fleet = common::demo(40, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let s = session(&fleet, tmp.path());
    let app = pick(&s, false).await;
    let name = app.metadata.name.clone();
    let inst = fleet.servers[0].instance().clone();
    // Someone scaled the Deployment and edited the ConfigMap; Git dropped a ConfigMap.
    assert!(inst.modify(&name, |a| {
        a.w.drifts.push(Drift::Replicas {
            to: a.w.replicas + 7,
            by_hpa: false,
            at: common::NOW,
        });
        a.w.drifts.push(Drift::ConfigValue {
            key: "LOG_LEVEL".into(),
            value: "trace".into(),
            at: common::NOW,
        });
        a.w.orphans.push(format!("{}-legacy-config", a.w.name));
    }));
    let t = target(&s, &name);
    let plan = actions::sync::plan(&s, &t, SyncSpec::default())
        .await
        .unwrap();
    let kinds: Vec<&str> = plan.changes.iter().map(|c| c.kind.as_str()).collect();
    assert!(
        kinds.contains(&"Deployment") && kinds.contains(&"ConfigMap"),
        "{kinds:?}"
    );
    assert_eq!(plan.prunable.len(), 1);
    assert_eq!(plan.prunable[0].change, Change::Prune);
    assert!(
        plan.lines()
            .iter()
            .any(|l| l.contains("1 resource needs pruning and is left alone"))
    );

    // Only the ConfigMap: the Deployment stays drifted, nothing is pruned.
    let cm = plan.changes.iter().find(|c| c.kind == "ConfigMap").unwrap();
    let spec = SyncSpec {
        resources: vec![cm.resource()],
        options: vec!["Validate=false".into()],
        ..Default::default()
    };
    let plan = actions::sync::plan(&s, &t, spec).await.unwrap();
    assert_eq!(plan.changes.len(), 1);
    let mut phases = Vec::new();
    let op = actions::sync::run(&s, &plan, std::time::Duration::from_secs(20), |o| {
        phases.push(o.phase.clone())
    })
    .await
    .unwrap();
    assert_eq!(op.phase, "Succeeded");
    assert_eq!(
        phases.first().map(String::as_str),
        Some("Running"),
        "{phases:?}"
    );
    let after = s.client.get_app(&name, None, None).await.unwrap();
    let status = |kind: &str| {
        after
            .status
            .resources
            .iter()
            .find(|r| r.kind == kind && !r.requires_pruning)
            .map(|r| r.status.clone())
            .unwrap()
    };
    assert_eq!(status("ConfigMap"), "Synced");
    assert_eq!(status("Deployment"), "OutOfSync");
    assert!(after.status.resources.iter().any(|r| r.requires_pruning));
    assert_eq!(
        after.status.history.len(),
        app.status.history.len().min(9) + 1
    );
    let sync_op = after.status.operation_state.as_ref().unwrap();
    assert_eq!(
        sync_op.operation.sync.as_ref().unwrap().sync_options,
        vec!["Validate=false"]
    );

    // Everything with prune: Synced, the orphan gone.
    let spec = SyncSpec {
        prune: true,
        ..Default::default()
    };
    let plan = actions::sync::plan(&s, &t, spec).await.unwrap();
    assert!(plan.lines().iter().any(|l| l.contains("DELETED (prune)")));
    let op = actions::sync::run(&s, &plan, std::time::Duration::from_secs(20), |_| {})
        .await
        .unwrap();
    let res = op.sync_result.unwrap().resources;
    assert!(res.iter().any(|r| r.status == "Pruned"), "{res:?}");
    let after = s.client.get_app(&name, None, None).await.unwrap();
    assert_eq!(after.status.sync.status, "Synced");
    assert!(!after.status.resources.iter().any(|r| r.requires_pruning));

    let j = journal_actions(tmp.path());
    let syncs = j.iter().filter(|b| b["action"] == "sync").count();
    let finished: Vec<_> = j
        .iter()
        .filter(|b| b["action"] == "sync-finished")
        .collect();
    assert_eq!((syncs, finished.len()), (2, 2), "{j:?}");
    assert!(
        finished[1]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("Succeeded")
    );
    assert_eq!(j[0]["instance"], s.instance.as_str());
}

#[tokio::test]
async fn refusals_change_nothing_read_only_rbac_running_unknown_resource() {
    let fleet = common::demo(40, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let s = session(&fleet, tmp.path());
    let app = pick(&s, false).await;
    let name = app.metadata.name.clone();
    let t = target(&s, &name);

    let mut ro = s.clone();
    ro.read_only = true;
    let e = actions::sync::plan(&ro, &t, SyncSpec::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.contains("read-only")),
        "{e}"
    );
    let e = actions::defer::defer(
        &ro,
        &t,
        chrono::Utc::now() + chrono::Duration::hours(1),
        "x",
        chrono::Utc::now(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.exit_code(), 1);

    // RBAC: can-i says no, and the server refuses the action itself too.
    let inst = fleet.servers[0].instance().clone();
    inst.write()
        .denied
        .push(("sync".into(), format!("{}/*", app.spec.project)));
    assert!(
        !s.client
            .can_i("applications", "sync", &actions::rbac_object(&app))
            .await
            .unwrap()
    );
    assert!(
        s.client
            .can_i("applications", "get", &actions::rbac_object(&app))
            .await
            .unwrap()
    );
    let e = actions::sync::plan(&s, &t, SyncSpec::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.contains("can-i says no")),
        "{e}"
    );
    let e = s
        .client
        .sync_app(&SyncRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("permission denied: applications, sync"),
        "{e}"
    );
    inst.write().denied.clear();

    // A resource the app does not have.
    let spec = SyncSpec {
        resources: vec![actions::sync::parse_resource("apps:Deployment:nowhere/ghost").unwrap()],
        ..Default::default()
    };
    let e = actions::sync::plan(&s, &t, spec).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("has no resource apps:Deployment:nowhere/ghost"),
        "{e}"
    );
    assert!(actions::sync::parse_resource("Deployment").is_err());

    // A running operation: the plan says so and the sync is refused before asking.
    s.client
        .sync_app(&SyncRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let plan = actions::sync::plan(&s, &t, SyncSpec::default())
        .await
        .unwrap();
    assert!(
        plan.blocked()
            .unwrap()
            .contains("another operation is already in progress")
    );
    let e = actions::sync::start(&s, &plan).await.unwrap_err();
    assert_eq!(e.exit_code(), 1);
    let op = actions::sync::terminate(&s, &t, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        (op.phase.as_str(), op.message.as_str()),
        ("Failed", "Operation terminated")
    );
    let e = actions::sync::terminate(&s, &t, std::time::Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no operation in progress"), "{e}");
    let after = s.client.get_app(&name, None, None).await.unwrap();
    assert_eq!(after.spec, app.spec);
}

#[tokio::test]
async fn guided_rollback_pauses_auto_sync_records_why_and_restores_it_exactly() {
    let fleet = common::demo(40, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let s = session(&fleet, tmp.path());
    let app = pick(&s, true).await;
    let name = app.metadata.name.clone();
    let t = target(&s, &name);
    let (_, history) = actions::rollback::history(&s, &t).await.unwrap();
    assert!(history[0].current && !history[1].current);
    assert!(
        !history[1].author.is_empty() && !history[1].message.is_empty(),
        "{history:?}"
    );
    let entry = history[1].clone();
    let before = s.client.get_app(&name, None, None).await.unwrap();
    let diffs = actions::rollback::diff_to(&s, &t, &before, &entry.revision)
        .await
        .unwrap();
    let plan = actions::rollback::plan(&s, &t, &before, entry.clone(), diffs.len())
        .await
        .unwrap();
    let lines = plan.lines("bad release");
    assert!(
        lines.iter().any(|l| l.contains("pause auto-sync")),
        "{lines:?}"
    );
    // A running operation is terminated first.
    s.client
        .sync_app(&SyncRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut steps = Vec::new();
    let out = actions::rollback::run(
        &s,
        &plan,
        "bad release",
        std::time::Duration::from_secs(20),
        |st| steps.push(st.step.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        steps,
        vec![
            "terminate the running operation".to_string(),
            "pause auto-sync".to_string(),
            format!("roll back to #{}", entry.id),
            "follow health".to_string(),
        ]
    );
    assert!(out.paused);
    let after = s.client.get_app(&name, None, None).await.unwrap();
    assert!(!after.auto_sync());
    assert_eq!(
        after.metadata.annotations[actions::PAUSE_REASON],
        "bad release"
    );
    let recorded: Option<driftdeck::model::app::SyncPolicy> =
        serde_json::from_str(&after.metadata.annotations[actions::PAUSED_POLICY]).unwrap();
    assert_eq!(recorded, before.spec.sync_policy);
    assert_eq!(
        after.status.history.last().unwrap().revision,
        entry.revision
    );
    // The older image runs live: Argo CD reports the app OutOfSync with Git.
    assert_eq!(after.status.sync.status, "OutOfSync");

    let restored = actions::defer::restore_auto_sync(&s, &t).await.unwrap().app;
    assert_eq!(restored.spec.sync_policy, before.spec.sync_policy);
    assert!(
        !restored
            .metadata
            .annotations
            .contains_key(actions::PAUSED_POLICY)
    );
    assert!(
        !restored
            .metadata
            .annotations
            .contains_key(actions::PAUSE_REASON)
    );
    let j = journal_actions(tmp.path());
    assert_eq!(
        j.iter().filter(|b| b["action"] == "rollback").count(),
        4,
        "{j:?}"
    );
    assert!(j.iter().any(|b| b["action"] == "restore-auto-sync"));
}

#[tokio::test]
async fn defer_pauses_self_heal_until_due_and_restores_the_policy() {
    let fleet = common::demo(40, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let s = session(&fleet, tmp.path());
    let app = pick(&s, true).await;
    let name = app.metadata.name.clone();
    let t = target(&s, &name);
    let now = chrono::Utc::now();
    let e = actions::defer::defer(&s, &t, now + chrono::Duration::hours(2), "  ", now)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("needs a reason"));
    let until = now + chrono::Duration::hours(2);
    let a = actions::defer::defer(&s, &t, until, "load test tonight", now)
        .await
        .unwrap();
    assert!(a.auto_sync() && !a.self_heal());
    let d = actions::defer::deferral_of(&a).unwrap().unwrap();
    assert_eq!(d.until.timestamp(), until.timestamp());
    assert_eq!(d.reason, "load test tonight");
    assert_eq!(d.previous, app.spec.sync_policy);
    // Deferring again keeps the first recorded policy (self-heal on), not the paused one.
    let a = actions::defer::defer(&s, &t, until + chrono::Duration::hours(1), "longer", now)
        .await
        .unwrap();
    assert_eq!(
        actions::defer::deferral_of(&a).unwrap().unwrap().previous,
        app.spec.sync_policy
    );
    let found = actions::defer::list(&s).await.unwrap();
    let f = found.iter().find(|f| f.target.name == name).unwrap();
    assert!(!f.due(now) && f.due(until + chrono::Duration::hours(2)));
    let r = actions::defer::restore(&s, &t).await.unwrap().app;
    assert_eq!(r.spec.sync_policy, app.spec.sync_policy);
    assert!(r.self_heal());
    assert!(
        !r.metadata
            .annotations
            .keys()
            .any(|k| k.starts_with("driftdeck.io/"))
    );
}

#[tokio::test]
async fn annotate_incident_labels_the_drifted_live_resources() {
    let fleet = common::demo(40, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let s = session(&fleet, tmp.path());
    let app = pick(&s, false).await;
    let name = app.metadata.name.clone();
    fleet.servers[0].instance().modify(&name, |a| {
        let key = a.w.config.keys().next().cloned().unwrap();
        a.w.drifts.push(Drift::ConfigValue {
            key,
            value: "changed-by-hand".into(),
            at: common::NOW,
        })
    });
    let t = target(&s, &name);
    let e = actions::annotate::annotate(&s, &t, "INC 12!", "", true)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 1);
    let out = actions::annotate::annotate(&s, &t, "INC-1234", "scaled by hand", true)
        .await
        .unwrap();
    assert!(!out.labelled.is_empty());
    let a = s.client.get_app(&name, None, None).await.unwrap();
    assert_eq!(a.metadata.annotations[actions::INCIDENT], "INC-1234");
    assert_eq!(
        a.metadata.annotations[actions::INCIDENT_NOTE],
        "scaled by hand"
    );
    let mr = s.client.managed_resources(&name, None).await.unwrap();
    let cm = actions::annotate::drifted_live(&mr.items)
        .into_iter()
        .find(|r| r.kind == "ConfigMap")
        .unwrap();
    let live = s.client.live_resource(&name, None, &cm).await.unwrap();
    assert_eq!(
        live["metadata"]["labels"]["driftdeck.io/incident"],
        "INC-1234"
    );
    // The label is not drift: the app's sync state is what it was.
    let cm_status = a
        .status
        .resources
        .iter()
        .find(|r| r.kind == "ConfigMap")
        .unwrap();
    assert_eq!(cm_status.status, "OutOfSync");
}

#[tokio::test]
async fn patch_refresh_and_adopt_speak_argo_cd() {
    let fleet = common::demo(40, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let s = session(&fleet, tmp.path());
    let app = pick(&s, false).await;
    let name = app.metadata.name.clone();
    // A JSON patch whose test fails changes nothing (the optimistic lock of every action).
    let e = s
        .client
        .patch_app(
            &name,
            None,
            &serde_json::json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
                {"op": "add", "path": "/metadata/labels/x", "value": "y"}
            ]),
            "json",
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("test failed"), "{e}");
    let a = s
        .client
        .patch_app(
            &name,
            None,
            &serde_json::json!({"metadata": {"labels": {"team": "sre"}}}),
            "merge",
        )
        .await
        .unwrap();
    assert_eq!(a.metadata.labels["team"], "sre");
    assert_eq!(a.status.history, app.status.history);
    let e = s
        .client
        .patch_app(&name, None, &serde_json::json!({}), "yaml")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not supported"), "{e}");

    let t = target(&s, &name);
    let r = actions::sync::refresh(&s, &t, true).await.unwrap();
    assert_eq!(
        r.status.reconciled_at.as_deref(),
        Some("2026-11-18T11:06:40Z")
    );

    fleet.servers[0].instance().modify(&name, |a| {
        a.w.drifts.push(Drift::Replicas {
            to: 17,
            by_hpa: false,
            at: common::NOW,
        })
    });
    let mr = s.client.managed_resources(&name, None).await.unwrap();
    let ad = actions::adopt::adoption(&mr.items).unwrap();
    assert!(
        ad.ignore_differences.contains("/spec/replicas"),
        "{}",
        ad.ignore_differences
    );
    assert!(ad.patch.contains("+  replicas: 17"), "{}", ad.patch);
    assert!(ad.patch.contains("--- a/"), "{}", ad.patch);

    // The manifests endpoint: Git at an older revision of the history.
    let old = &app.status.history[0].revision;
    let m = s.client.manifests(&name, None, old).await.unwrap();
    assert!(m.iter().any(|o| o["kind"] == "ConfigMap"));
    let e = s
        .client
        .manifests(&name, None, "no-such-rev")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unable to resolve"), "{e}");
}

// ---- stacked pauses: rollback, deferral, an operator's own edit (docs/architecture.md) ----

/// A guided rollback of `t` to its previous deployment, as the TUI and the CLI run it.
async fn roll_back(s: &Session, t: &Target, reason: &str) {
    let (app, history) = actions::rollback::history(s, t).await.unwrap();
    let entry = history.iter().find(|h| !h.current).unwrap().clone();
    let diffs = actions::rollback::diff_to(s, t, &app, &entry.revision)
        .await
        .unwrap();
    let plan = actions::rollback::plan(s, t, &app, entry, diffs.len())
        .await
        .unwrap();
    let out = actions::rollback::run(s, &plan, reason, std::time::Duration::from_secs(20), |_| {})
        .await
        .unwrap();
    assert!(out.paused || !app.auto_sync());
}

async fn defer_for(s: &Session, t: &Target, reason: &str) {
    let now = chrono::Utc::now();
    actions::defer::defer(s, t, now + chrono::Duration::hours(1), reason, now)
        .await
        .unwrap();
}

fn marks(a: &Application) -> Vec<&str> {
    let mut v: Vec<&str> = a
        .metadata
        .annotations
        .keys()
        .filter(|k| k.starts_with("driftdeck.io/"))
        .map(String::as_str)
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn stacked_pauses_a_due_deferral_never_undoes_a_rollback_in_any_order() {
    let fleet = common::demo(90, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let s = session(&fleet, tmp.path());
    let mut taken = Vec::new();

    // 1. defer, then roll back; the deferral comes due: the rollback keeps auto-sync off.
    //    Then the rollback's restore puts back the exact policy of before both.
    let a1 = pick_not(&s, true, &taken).await;
    taken.push(a1.metadata.name.clone());
    let t1 = target(&s, &a1.metadata.name);
    defer_for(&s, &t1, "load test").await;
    roll_back(&s, &t1, "bad release").await;
    let r = actions::defer::restore(&s, &t1).await.unwrap();
    assert!(
        !r.app.auto_sync(),
        "the due deferral turned auto-sync back on"
    );
    assert_eq!(r.remaining, vec![actions::defer::Hold::Rollback]);
    assert_eq!(
        marks(&r.app),
        [actions::PAUSE_REASON, actions::PAUSED_POLICY],
        "the deferral's marks go, the rollback's stay"
    );
    assert!(
        r.summary().contains("rollback still holds"),
        "{}",
        r.summary()
    );
    let r = actions::defer::restore_auto_sync(&s, &t1).await.unwrap();
    assert_eq!(r.app.spec.sync_policy, a1.spec.sync_policy);
    assert!(r.app.self_heal());
    assert!(marks(&r.app).is_empty());

    // 2. roll back, then defer; the deferral comes due: still paused; restore: exact.
    let a2 = pick_not(&s, true, &taken).await;
    taken.push(a2.metadata.name.clone());
    let t2 = target(&s, &a2.metadata.name);
    roll_back(&s, &t2, "bad release").await;
    defer_for(&s, &t2, "wait for the fix").await;
    let r = actions::defer::restore(&s, &t2).await.unwrap();
    assert!(!r.app.auto_sync());
    assert_eq!(
        marks(&r.app),
        [actions::PAUSE_REASON, actions::PAUSED_POLICY]
    );
    let r = actions::defer::restore_auto_sync(&s, &t2).await.unwrap();
    assert_eq!(r.app.spec.sync_policy, a2.spec.sync_policy);
    assert!(marks(&r.app).is_empty());

    // 3. defer, roll back, restore the rollback while the deferral still holds: auto-sync
    //    comes back with self-heal off until the deferral ends; then the exact policy.
    let a3 = pick_not(&s, true, &taken).await;
    taken.push(a3.metadata.name.clone());
    let t3 = target(&s, &a3.metadata.name);
    defer_for(&s, &t3, "load test").await;
    roll_back(&s, &t3, "bad release").await;
    let r = actions::defer::restore_auto_sync(&s, &t3).await.unwrap();
    assert!(
        r.app.auto_sync() && !r.app.self_heal(),
        "{:?}",
        r.app.spec.sync_policy
    );
    assert_eq!(r.remaining, vec![actions::defer::Hold::Deferral]);
    let r = actions::defer::restore(&s, &t3).await.unwrap();
    assert_eq!(r.app.spec.sync_policy, a3.spec.sync_policy);
    assert!(marks(&r.app).is_empty());

    // 4. defer, then an operator changes the policy by hand (auto-sync off in the Argo CD
    //    UI); the deferral comes due: their policy stays, the marks go, the journal says so.
    let a4 = pick_not(&s, true, &taken).await;
    taken.push(a4.metadata.name.clone());
    let t4 = target(&s, &a4.metadata.name);
    defer_for(&s, &t4, "load test").await;
    s.client
        .patch_app(
            &t4.name,
            t4.ns(),
            &serde_json::json!({"spec": {"syncPolicy": {"automated": null}}}),
            "merge",
        )
        .await
        .unwrap();
    let r = actions::defer::restore(&s, &t4).await.unwrap();
    assert!(r.left_as_edited);
    assert!(!r.app.auto_sync(), "the operator's edit was overwritten");
    assert!(marks(&r.app).is_empty());

    // 5. roll back, an operator turns auto-sync on again by hand, then asks driftdeck to
    //    restore: an explicit restore puts back exactly the recorded policy.
    let a5 = pick_not(&s, true, &taken).await;
    let t5 = target(&s, &a5.metadata.name);
    roll_back(&s, &t5, "bad release").await;
    s.client
        .patch_app(
            &t5.name,
            t5.ns(),
            &serde_json::json!({"spec": {"syncPolicy": {"automated": {"prune": false}}}}),
            "merge",
        )
        .await
        .unwrap();
    let r = actions::defer::restore_auto_sync(&s, &t5).await.unwrap();
    assert!(!r.left_as_edited);
    assert_eq!(r.app.spec.sync_policy, a5.spec.sync_policy);

    // Every restore is journaled with what it did.
    let j = journal_actions(tmp.path());
    let restores: Vec<&serde_json::Value> = j
        .iter()
        .filter(|b| b["action"] == "restore-deferral" || b["action"] == "restore-auto-sync")
        .collect();
    assert_eq!(restores.len(), 8, "{restores:?}");
    assert!(restores.iter().any(|b| {
        b["outcome"]
            .as_str()
            .unwrap()
            .contains("left as an operator set it")
    }));
}

/// The issue's own words, through the command line: `defer --until T --yes`, `rollback
/// --reason R --yes`; when T passes, `deferrals apply` leaves auto-sync paused, and
/// `rollback --restore-only --yes` restores the exact recorded policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stacked_pauses_through_the_command_line() {
    let fleet = common::demo(60, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = fleet.write_config(dir.path()).unwrap();
    let data = dir.path().join("data");
    let s = session(&fleet, &data);
    let app = pick(&s, true).await;
    let name = app.metadata.name.clone();
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_driftdeck"))
            .args(args)
            .env("DRIFTDECK_CONFIG", &cfg)
            .env("DRIFTDECK_DATA_DIR", &data)
            .env("DRIFTDECK_LOG_DIR", dir.path())
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let until = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (c, out) = run(&[
        "defer",
        &name,
        "--reason",
        "load test",
        "--until",
        &until,
        "--yes",
        "--confirm",
        &name,
    ]);
    assert_eq!(c, 0, "{out}");
    let (c, out) = run(&[
        "rollback",
        &name,
        "--reason",
        "bad release",
        "--yes",
        "--confirm",
        &name,
    ]);
    assert_eq!(c, 0, "{out}");
    {
        let until = until.clone();
        tokio::task::spawn_blocking(move || crate::common::wait_past(&until))
            .await
            .unwrap();
    }
    let (c, out) = run(&["deferrals", "apply"]);
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("rollback still holds"), "{out}");
    let now = s.client.get_app(&name, None, None).await.unwrap();
    assert!(!now.auto_sync(), "deferrals apply undid the rollback");
    let (c, out) = run(&[
        "rollback",
        &name,
        "--restore-only",
        "--yes",
        "--confirm",
        &name,
    ]);
    assert_eq!(c, 0, "{out}");
    let now = s.client.get_app(&name, None, None).await.unwrap();
    assert_eq!(now.spec.sync_policy, app.spec.sync_policy);
    assert!(marks(&now).is_empty());
}
