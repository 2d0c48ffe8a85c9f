//! Resource actions (`src/actions/resource.rs`, `driftdeck resource-actions`): listed and run
//! through the demo's Argo CD API as the real one offers them, with the rules of every action
//! (read-only, can-i, disabled actions, parameters, protected apps) and the journal.
use crate::common;

use driftdeck::actions::resource::{self, ResourceSpec};
use driftdeck::actions::{ActionError, Session, Target};
use driftdeck::clients::argocd::AppQuery;
use driftdeck::decide::journal::Journal;
use driftdeck::model::app::Application;

fn session(fleet: &driftdeck::demo::DemoFleet, journal: &std::path::Path) -> Session {
    let client = common::client(&fleet.config().instances[0]);
    Session::new(client, false, vec![])
        .protect_production(false)
        .with_journal(Some(std::sync::Arc::new(Journal::in_dir(journal))))
}

fn target(s: &Session, name: &str) -> Target {
    Target {
        instance: s.instance.clone(),
        name: name.to_string(),
        app_namespace: "argocd".into(),
    }
}

/// The first app of the instance with a resource of `kind` (and no HPA), and that resource.
async fn app_with(s: &Session, kind: &str) -> (Application, ResourceSpec) {
    let list = s
        .client
        .list_apps(&AppQuery::default(), None)
        .await
        .unwrap();
    for a in &list.items {
        let hpa = a
            .status
            .resources
            .iter()
            .any(|r| r.kind == "HorizontalPodAutoscaler");
        if let Some(r) = a.status.resources.iter().find(|r| r.kind == kind)
            && !hpa
        {
            return (
                a.clone(),
                ResourceSpec {
                    kind: kind.into(),
                    name: r.name.clone(),
                    namespace: String::new(),
                    group: None,
                },
            );
        }
    }
    panic!("no app with a {kind} in the demo fleet");
}

fn journal_bodies(dir: &std::path::Path) -> Vec<serde_json::Value> {
    Journal::in_dir(dir)
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "action")
        .map(|r| r.body)
        .collect()
}

async fn resource_health(s: &Session, app: &str, kind: &str) -> (String, String) {
    let a = s.client.get_app(app, None, None).await.unwrap();
    let r = a
        .status
        .resources
        .iter()
        .find(|r| r.kind == kind)
        .unwrap()
        .clone();
    let h = r.health.unwrap_or_default();
    (h.status, h.message)
}

#[tokio::test]
async fn deployment_actions_are_listed_checked_run_and_journaled() {
    let fleet = common::demo(80, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let s = session(&fleet, dir.path());
    let (app, spec) = app_with(&s, "Deployment").await;
    let t = target(&s, &app.metadata.name);

    let (res, list) = resource::list(&s, &t, &spec).await.unwrap();
    assert_eq!((res.group.as_str(), res.version.as_str()), ("apps", "v1"));
    let names: Vec<(&str, bool)> = list.iter().map(|a| (a.name.as_str(), a.disabled)).collect();
    assert_eq!(
        names,
        [
            ("pause", false),
            ("restart", false),
            ("resume", true),
            ("scale", false)
        ]
    );
    let scale = list.iter().find(|a| a.name == "scale").unwrap();
    assert_eq!(scale.params[0].name, "replicas");

    // Parameters: missing, not a number, unknown.
    for (params, wants) in [
        (vec![], "needs a value for replicas"),
        (vec![("replicas".into(), "many".into())], "whole number"),
        (
            vec![
                ("replicas".into(), "2".into()),
                ("speed".into(), "1".into()),
            ],
            "takes no parameter \"speed\"",
        ),
    ] {
        let e = resource::plan(&s, &t, &spec, "scale", params)
            .await
            .unwrap_err();
        assert!(e.message().contains(wants), "{e}");
    }
    // Disabled and unknown actions are refused.
    let e = resource::plan(&s, &t, &spec, "resume", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.contains("disabled")),
        "{e}"
    );
    let e = resource::plan(&s, &t, &spec, "explode", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.contains("offers no action")),
        "{e}"
    );
    assert!(journal_bodies(dir.path()).is_empty());

    // Read-only refuses before asking anything.
    let ro = Session::new(s.client.clone(), true, vec![]);
    let e = resource::plan(&ro, &t, &spec, "restart", vec![])
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 1, "{e}");

    // RBAC: can-i says no for this action only.
    let inst = fleet.servers[0].instance().clone();
    inst.write().denied.push((
        "action/apps/Deployment/restart".into(),
        format!("{}/*", app.spec.project),
    ));
    let e = resource::plan(&s, &t, &spec, "restart", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.contains("can-i says no")),
        "{e}"
    );
    let e = s
        .client
        .run_resource_action(&t.name, None, &res, "restart", &[])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("permission denied"), "{e}");
    assert!(resource::plan(&s, &t, &spec, "pause", vec![]).await.is_ok());
    inst.write().denied.clear();

    // Scale: the live object changes, and it is drift.
    let plan = resource::plan(
        &s,
        &t,
        &spec,
        "scale",
        vec![("replicas".into(), "7".into())],
    )
    .await
    .unwrap();
    assert!(plan.lines[0].contains("run scale replicas=7 on Deployment"));
    resource::run(&s, &plan).await.unwrap();
    let live = s.client.live_resource(&t.name, None, &res).await.unwrap();
    assert_eq!(live["spec"]["replicas"], 7);
    let after = s.client.get_app(&t.name, None, None).await.unwrap();
    assert_eq!(after.status.sync.status, "OutOfSync");

    // Pause: the Deployment is paused and Suspended; resume is offered now, and undoes it.
    let plan = resource::plan(&s, &t, &spec, "pause", vec![])
        .await
        .unwrap();
    resource::run(&s, &plan).await.unwrap();
    let live = s.client.live_resource(&t.name, None, &res).await.unwrap();
    assert_eq!(live["spec"]["paused"], true);
    assert_eq!(
        resource_health(&s, &t.name, "Deployment").await.0,
        "Suspended"
    );
    let plan = resource::plan(&s, &t, &spec, "resume", vec![])
        .await
        .unwrap();
    resource::run(&s, &plan).await.unwrap();
    let live = s.client.live_resource(&t.name, None, &res).await.unwrap();
    assert!(live["spec"].get("paused").is_none(), "{}", live["spec"]);

    // An Argo CD before 3.1 has no v2 route: the client falls back to the first one, which
    // took the whole request (parameters too) then.
    inst.write().actions_before_3_1 = true;
    let plan = resource::plan(
        &s,
        &t,
        &spec,
        "scale",
        vec![("replicas".into(), "5".into())],
    )
    .await
    .unwrap();
    resource::run(&s, &plan).await.unwrap();
    let live = s.client.live_resource(&t.name, None, &res).await.unwrap();
    assert_eq!(live["spec"]["replicas"], 5);
    inst.write().actions_before_3_1 = false;

    let j = journal_bodies(dir.path());
    let kinds: Vec<&str> = j.iter().map(|b| b["action"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "resource-action-requested",
            "resource-action",
            "resource-action-requested",
            "resource-action",
            "resource-action-requested",
            "resource-action",
            "resource-action-requested",
            "resource-action"
        ]
    );
    assert_eq!(j[1]["resource_action"], "scale");
    assert_eq!(j[1]["params"][0]["value"], "7");
    assert_eq!(j[1]["resource"]["kind"], "Deployment");
    assert_eq!(j[1]["ok"], true);
    assert_eq!(j[1]["instance"], s.instance.as_str());
}

#[tokio::test]
async fn a_rollout_is_aborted_retried_and_promoted_through_its_actions() {
    let fleet = common::demo(140, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let s = session(&fleet, dir.path());
    // A Rollout in the middle of its canary (abort offered).
    let list = s
        .client
        .list_apps(&AppQuery::default(), None)
        .await
        .unwrap();
    let mut found = None;
    for a in &list.items {
        let Some(r) = a.status.resources.iter().find(|r| r.kind == "Rollout") else {
            continue;
        };
        let spec = ResourceSpec {
            kind: "Rollout".into(),
            name: r.name.clone(),
            ..Default::default()
        };
        let t = target(&s, &a.metadata.name);
        let (_, l) = resource::list(&s, &t, &spec).await.unwrap();
        if l.iter().any(|x| x.name == "abort" && !x.disabled) {
            found = Some((t, spec));
            break;
        }
    }
    let (t, spec) = found.expect("a Rollout in the middle of its canary");
    let (res, list) = resource::list(&s, &t, &spec).await.unwrap();
    assert_eq!(res.group, "argoproj.io");
    let mut names: Vec<&str> = list.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "abort",
            "pause",
            "promote-full",
            "restart",
            "resume",
            "retry",
            "skip-current-step"
        ]
    );
    let run = |action: &'static str| {
        let (s, t, spec) = (s.clone(), t.clone(), spec.clone());
        async move {
            let plan = resource::plan(&s, &t, &spec, action, vec![]).await?;
            resource::run(&s, &plan).await
        }
    };
    // A retry is offered only once aborted.
    assert!(matches!(run("retry").await, Err(ActionError::Refused(_))));
    run("abort").await.unwrap();
    let (h, m) = resource_health(&s, &t.name, "Rollout").await;
    assert_eq!(h, "Degraded");
    assert!(m.starts_with("RolloutAborted: "), "{m}");
    run("retry").await.unwrap();
    assert_ne!(resource_health(&s, &t.name, "Rollout").await.0, "Degraded");
    run("promote-full").await.unwrap();
    assert_eq!(resource_health(&s, &t.name, "Rollout").await.0, "Healthy");
    // Fully promoted: nothing to abort or promote any more.
    for a in ["abort", "promote-full"] {
        assert!(
            matches!(run(a).await, Err(ActionError::Refused(m)) if m.contains("disabled")),
            "{a}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_actions_from_the_command_line() {
    let fleet = common::demo(80, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = fleet.write_config(dir.path()).unwrap();
    let data = dir.path().join("data");
    let s = session(&fleet, &data);
    let (app, spec) = app_with(&s, "Deployment").await;
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
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let res = ["--kind", "Deployment", "--name", &spec.name];
    let with = |head: &[&str], tail: &[&str]| -> Vec<String> {
        head.iter()
            .chain(res.iter())
            .chain(tail.iter())
            .map(|s| s.to_string())
            .collect()
    };

    let (c, out, err) = run(&argv(&with(&["resource-actions", "list", &name], &[])));
    assert_eq!(c, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["pause", "restart", "resume [disabled]", "scale (replicas=)"]
    );
    let (c, out, err) = run(&argv(&with(
        &["resource-actions", "list", &name],
        &["--output", "json"],
    )));
    assert_eq!(c, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["resource"]["group"], "apps");
    assert_eq!(v["actions"][3]["params"][0]["name"], "replicas");
    // A resource the app does not have is an error (2).
    let (c, _, err) = run(&[
        "resource-actions",
        "list",
        &name,
        "--kind",
        "Deployment",
        "--name",
        "ghost",
    ]);
    assert_eq!(c, 2);
    assert!(err.contains("has no resource Deployment ghost"), "{err}");

    let live = |s: Session, res: driftdeck::clients::argocd::ResourceId, name: String| async move {
        s.client.live_resource(&name, None, &res).await.unwrap()["spec"]["replicas"].clone()
    };
    let (id, _) = resource::list(&s, &target(&s, &name), &spec).await.unwrap();
    let before = live(s.clone(), id.clone(), name.clone()).await;
    let scale = ["--param", "replicas=9"];
    // Without --yes: the plan, exit 1; --dry-run: the plan, exit 0; nothing changes.
    let (c, out, _) = run(&argv(&with(
        &["resource-actions", "run", &name, "scale"],
        &scale,
    )));
    assert_eq!(c, 1);
    assert!(out.contains("run scale replicas=9 on Deployment"), "{out}");
    let (c, _, _) = run(&argv(&with(
        &["resource-actions", "run", &name, "scale"],
        &["--param", "replicas=9", "--dry-run"],
    )));
    assert_eq!(c, 0);
    assert_eq!(live(s.clone(), id.clone(), name.clone()).await, before);
    // A refusal (a disabled action) is 1; a bad parameter is 2.
    let (c, _, err) = run(&argv(&with(
        &["resource-actions", "run", &name, "resume"],
        &["--yes"],
    )));
    assert_eq!(c, 1, "{err}");
    let (c, _, err) = run(&argv(&with(
        &["resource-actions", "run", &name, "scale"],
        &["--param", "replicas", "--yes"],
    )));
    assert_eq!(c, 2, "{err}");
    // The protected app wants its name.
    let mut labels = app.metadata.labels.clone();
    labels.insert("driftdeck.io/protected".into(), "true".into());
    s.client
        .patch_app(
            &name,
            None,
            &serde_json::json!({"metadata": {"labels": labels}}),
            "merge",
        )
        .await
        .unwrap();
    let (c, _, err) = run(&argv(&with(
        &["resource-actions", "run", &name, "scale"],
        &["--param", "replicas=9", "--yes"],
    )));
    assert_eq!(c, 1);
    assert!(err.contains("--confirm"), "{err}");
    assert_eq!(live(s.clone(), id.clone(), name.clone()).await, before);
    let (c, out, err) = run(&argv(&with(
        &["resource-actions", "run", &name, "scale"],
        &["--param", "replicas=9", "--yes", "--confirm", &name],
    )));
    assert_eq!(c, 0, "{err}");
    assert!(out.contains("ran scale on Deployment"), "{out}");
    assert_eq!(live(s.clone(), id, name.clone()).await, 9);
    let j = Journal::in_dir(&data).records().unwrap();
    assert!(
        j.iter()
            .any(|r| r.body["action"] == "resource-action" && r.body["ok"] == true),
        "{j:?}"
    );
}

fn argv(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
