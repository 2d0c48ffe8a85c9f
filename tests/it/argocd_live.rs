//! The demo Argo CD's API below an app, as the real server answers it: every node of the
//! resource tree readable through `/resource`, pod logs (one pod, a workload's pods, filters,
//! follow) ending in the closing entry, resource actions (list, run v1 and v2, refused where
//! the object has none), sync windows of an app and a project, and the resource-tree stream.
use crate::common;

use std::time::Duration;

use driftdeck::clients::argocd::AppQuery;
use futures::StreamExt;
use serde_json::{Value, json};

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(fleet: &driftdeck::demo::DemoFleet) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: fleet.url(0),
            token: fleet.tokens[0].clone(),
        }
    }

    async fn get(&self, path: &str, q: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/api/v1/{path}", self.base))
            .query(q)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, q: &[(&str, &str)], body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/api/v1/{path}", self.base))
            .query(q)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// A stream's messages until `n` arrived, the stream ended, or `secs` passed.
    async fn stream(&self, path: &str, q: &[(&str, &str)], n: usize, secs: u64) -> Vec<Value> {
        let r = self
            .http
            .get(format!("{}/api/v1/{path}", self.base))
            .query(q)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let mut body = r.bytes_stream();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while out.len() < n {
            let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, body.next()).await else {
                break;
            };
            buf.extend_from_slice(&chunk);
            while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=i).collect();
                if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                    out.push(v["result"].clone());
                }
            }
        }
        out
    }
}

async fn app_of_kind(fleet: &driftdeck::demo::DemoFleet, kind: &str) -> String {
    let client = common::client(&fleet.config().instances[0]);
    let list = client.list_apps(&AppQuery::default(), None).await.unwrap();
    list.items
        .iter()
        .find(|a| {
            a.status.resources.iter().any(|r| r.kind == kind) && a.status.health.status == "Healthy"
        })
        .map(|a| a.metadata.name.clone())
        .unwrap_or_else(|| panic!("no healthy app with a {kind}"))
}

#[tokio::test]
async fn every_node_of_the_tree_is_readable() {
    let fleet = common::demo(60, 2, 1).await;
    let api = Api::new(&fleet);
    for kind in ["Deployment", "CronJob"] {
        let app = app_of_kind(&fleet, kind).await;
        let (_, tree) = api
            .get(&format!("applications/{app}/resource-tree"), &[])
            .await;
        let nodes = tree["nodes"].as_array().unwrap();
        let kinds: Vec<&str> = nodes.iter().filter_map(|n| n["kind"].as_str()).collect();
        if kind == "Deployment" {
            assert!(
                kinds.contains(&"Pod") && kinds.contains(&"ReplicaSet"),
                "{kinds:?}"
            );
        } else {
            assert!(kinds.contains(&"Job"), "{kinds:?}");
        }
        for n in nodes {
            if n["health"]["status"] == "Missing" {
                continue;
            }
            let s = |k: &str| n[k].as_str().unwrap_or("").to_string();
            let (code, v) = api
                .get(
                    &format!("applications/{app}/resource"),
                    &[
                        ("namespace", &s("namespace")),
                        ("resourceName", &s("name")),
                        ("version", &s("version")),
                        ("group", &s("group")),
                        ("kind", &s("kind")),
                    ],
                )
                .await;
            assert_eq!(code, 200, "{} {}: {v}", s("kind"), s("name"));
            let m: Value = serde_json::from_str(v["manifest"].as_str().unwrap()).unwrap();
            assert_eq!(m["kind"], n["kind"]);
            assert_eq!(m["metadata"]["name"], n["name"]);
            assert_eq!(
                m["metadata"]["uid"],
                n["uid"],
                "{} {}",
                s("kind"),
                s("name")
            );
        }
    }
}

#[tokio::test]
async fn pod_logs_as_argo_cd_streams_them() {
    let fleet = common::demo(60, 2, 1).await;
    let api = Api::new(&fleet);
    let app = app_of_kind(&fleet, "Deployment").await;
    let (_, tree) = api
        .get(&format!("applications/{app}/resource-tree"), &[])
        .await;
    let pods: Vec<String> = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "Pod")
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    let deployment = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "Deployment")
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    // One pod: the last five lines, then the closing entry.
    let got = api
        .stream(
            &format!("applications/{app}/pods/{}/logs", pods[0]),
            &[("tailLines", "5")],
            100,
            5,
        )
        .await;
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(
        got[..5]
            .iter()
            .all(|e| e["podName"] == pods[0].as_str() && e["last"] == false)
    );
    assert!(
        got[0]["timeStampStr"]
            .as_str()
            .unwrap()
            .ends_with(".000000000Z")
    );
    assert_eq!(got[5]["last"], true);
    assert_eq!(got[5]["podName"], "UNKNOWN");
    // A workload: every pod's lines, in time order.
    let all = api
        .stream(
            &format!("applications/{app}/logs"),
            &[
                ("kind", "Deployment"),
                ("group", "apps"),
                ("resourceName", &deployment),
                ("tailLines", "2"),
            ],
            1000,
            5,
        )
        .await;
    let from: std::collections::BTreeSet<&str> = all
        .iter()
        .filter(|e| e["last"] == false)
        .filter_map(|e| e["podName"].as_str())
        .collect();
    assert_eq!(from.len(), pods.len(), "{from:?} vs {pods:?}");
    assert_eq!(all.len(), pods.len() * 2 + 1);
    // A filter keeps only matching lines; `!` inverts it.
    let only = api
        .stream(
            &format!("applications/{app}/logs"),
            &[("podName", &pods[0]), ("filter", "healthz")],
            1000,
            5,
        )
        .await;
    assert!(only.len() > 1);
    assert!(
        only.iter()
            .filter(|e| e["last"] == false)
            .all(|e| e["content"].as_str().unwrap().contains("/healthz"))
    );
    let not = api
        .stream(
            &format!("applications/{app}/logs"),
            &[("podName", &pods[0]), ("filter", "!healthz")],
            1000,
            5,
        )
        .await;
    assert!(
        not.iter()
            .filter(|e| e["last"] == false)
            .all(|e| !e["content"].as_str().unwrap().contains("/healthz"))
    );
    // Follow: new lines keep coming and the stream stays open.
    let followed = api
        .stream(
            &format!("applications/{app}/pods/{}/logs", pods[0]),
            &[("tailLines", "1"), ("follow", "true")],
            4,
            5,
        )
        .await;
    assert_eq!(followed.len(), 4, "{followed:?}");
    assert!(followed.iter().all(|e| e["last"] == false));
    // A container the pod does not have is refused.
    let r = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/applications/{app}/pods/{}/logs?container=nope",
            api.base, pods[0]
        ))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn resource_actions_list_and_run() {
    let fleet = common::demo(60, 2, 1).await;
    let api = Api::new(&fleet);
    let client = common::client(&fleet.config().instances[0]);
    let app = app_of_kind(&fleet, "Deployment").await;
    let (_, tree) = api
        .get(&format!("applications/{app}/resource-tree"), &[])
        .await;
    let dep = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "Deployment")
        .unwrap()
        .clone();
    let name = dep["name"].as_str().unwrap().to_string();
    let ns = dep["namespace"].as_str().unwrap().to_string();
    let q = [
        ("namespace", ns.as_str()),
        ("resourceName", name.as_str()),
        ("version", "v1"),
        ("group", "apps"),
        ("kind", "Deployment"),
    ];
    let (code, v) = api
        .get(&format!("applications/{app}/resource/actions"), &q)
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        v["actions"],
        // As Argo CD's discovery script for Deployments writes them.
        json!([
            {"name": "pause", "iconClass": "fa fa-fw fa-pause-circle"},
            {"name": "restart", "iconClass": "fa fa-fw fa-redo"},
            {"name": "resume", "iconClass": "fa fa-fw fa-play-circle", "disabled": true},
            {"name": "scale", "iconClass": "fa fa-fw fa-plus-circle", "params": [{"name": "replicas"}]}
        ])
    );
    // v1: the body is the action's name as a JSON string; the reply is the Application.
    let (code, v) = api
        .post(
            &format!("applications/{app}/resource/actions"),
            &q,
            json!("restart"),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["metadata"]["name"], app.as_str());
    let (_, live) = api.get(&format!("applications/{app}/resource"), &q).await;
    let live: Value = serde_json::from_str(live["manifest"].as_str().unwrap()).unwrap();
    assert!(
        live["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string(),
        "{live}"
    );
    // v2: parameters; scale to 7 is drift Argo CD reports.
    let (code, v) = api
        .post(
            &format!("applications/{app}/resource/actions/v2"),
            &[],
            json!({"name": app, "namespace": ns, "resourceName": name, "version": "v1", "group": "apps",
                   "kind": "Deployment", "action": "scale",
                   "resourceActionParameters": [{"name": "replicas", "value": "7"}]}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let mr = client.managed_resources(&app, None).await.unwrap();
    let d = mr.items.iter().find(|i| i.kind == "Deployment").unwrap();
    assert!(d.modified && d.live_state.contains("\"replicas\":7"));
    // Without the parameter, with a bad one, an action the object lacks: 400.
    for body in [
        json!({"name": app, "namespace": ns, "resourceName": name, "version": "v1", "group": "apps", "kind": "Deployment", "action": "scale"}),
        json!({"name": app, "namespace": ns, "resourceName": name, "version": "v1", "group": "apps", "kind": "Deployment", "action": "scale", "resourceActionParameters": [{"name": "replicas", "value": "-1"}]}),
        json!({"name": app, "namespace": ns, "resourceName": name, "version": "v1", "group": "apps", "kind": "Deployment", "action": "promote-full"}),
    ] {
        let (code, v) = api
            .post(
                &format!("applications/{app}/resource/actions/v2"),
                &[],
                body,
            )
            .await;
        assert_eq!(code, 400, "{v}");
    }
    // A ConfigMap has no actions.
    let cm = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "ConfigMap")
        .unwrap();
    let (_, v) = api
        .get(
            &format!("applications/{app}/resource/actions"),
            &[
                ("namespace", &ns),
                ("resourceName", cm["name"].as_str().unwrap()),
                ("version", "v1"),
                ("group", ""),
                ("kind", "ConfigMap"),
            ],
        )
        .await;
    assert_eq!(v["actions"], json!([]));
}

#[tokio::test]
async fn sync_windows_of_an_app_and_a_project_agree_with_the_rules() {
    let fleet = common::demo(60, 2, 1).await;
    let api = Api::new(&fleet);
    let targets: Vec<(
        String,
        String,
        (
            Vec<driftdeck::model::app::SyncWindow>,
            driftdeck::windows::AppTarget,
        ),
    )> = {
        let st = fleet.instance(0).read();
        st.apps
            .values()
            .map(|a| {
                let p = st
                    .projects
                    .iter()
                    .find(|p| p.metadata.name == a.app.spec.project)
                    .unwrap();
                (
                    a.app.metadata.name.clone(),
                    p.metadata.name.clone(),
                    (
                        p.spec.sync_windows.clone(),
                        driftdeck::windows::AppTarget::of(&a.app),
                    ),
                )
            })
            .collect()
    };
    let mut checked = 0;
    for (app, project, windows) in targets {
        let (code, v) = api
            .get(&format!("applications/{app}/syncwindows"), &[])
            .await;
        assert_eq!(code, 200);
        let state = driftdeck::windows::evaluate(
            &windows.0,
            &windows.1,
            chrono::DateTime::from_timestamp(common::NOW, 0).unwrap(),
        );
        assert_eq!(v["canSync"], state.can_sync_manual, "{app}: {v}");
        let assigned = v["assignedWindows"].as_array().map_or(0, Vec::len);
        assert_eq!(assigned > 0, state.matches, "{app}: {v}");
        let active = v["activeWindows"].as_array().map_or(0, Vec::len);
        assert_eq!(active, state.active.len(), "{app}: {v}");
        let (code, p) = api
            .get(&format!("projects/{project}/syncwindows"), &[])
            .await;
        assert_eq!(code, 200);
        assert!(p["windows"].is_array(), "{p}");
        checked += 1;
    }
    assert!(checked > 10);
}

#[tokio::test]
async fn the_resource_tree_stream_sends_the_tree_and_each_change() {
    let fleet = common::demo(60, 2, 1).await;
    let api = Api::new(&fleet);
    let app = app_of_kind(&fleet, "Deployment").await;
    let (_, tree) = api
        .get(&format!("applications/{app}/resource-tree"), &[])
        .await;
    let dep = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "Deployment")
        .unwrap()
        .clone();
    let path = format!("stream/applications/{app}/resource-tree");
    let listen = {
        let api = Api {
            http: api.http.clone(),
            base: api.base.clone(),
            token: api.token.clone(),
        };
        let path = path.clone();
        tokio::spawn(async move { api.stream(&path, &[], 2, 6).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, _) = api
        .post(
            &format!("applications/{app}/resource/actions/v2"),
            &[],
            json!({"name": app, "namespace": dep["namespace"], "resourceName": dep["name"], "version": "v1",
                   "group": "apps", "kind": "Deployment", "action": "scale",
                   "resourceActionParameters": [{"name": "replicas", "value": "1"}]}),
        )
        .await;
    assert_eq!(code, 200);
    let got = listen.await.unwrap();
    assert_eq!(got.len(), 2, "the tree, then the changed tree: {got:?}");
    assert_eq!(got[0]["nodes"], tree["nodes"]);
    let pods = |t: &Value| {
        t["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "Pod")
            .count()
    };
    assert_eq!(pods(&got[1]), 1, "scaled to one pod");
}

/// Argo Rollouts' built-in actions on a canary waiting for its promotion: discovery as Argo
/// CD's Lua gives it, then abort (Degraded "RolloutAborted"), retry, promote-full (Healthy,
/// fully promoted), restart (`spec.restartAt`), each visible in the app's health and the live
/// Rollout.
#[tokio::test]
async fn rollout_actions_abort_retry_promote_and_restart() {
    let fleet = common::demo(160, 2, 1).await;
    let api = Api::new(&fleet);
    let client = common::client(&fleet.config().instances[0]);
    let list = client.list_apps(&AppQuery::default(), None).await.unwrap();
    let app = list
        .items
        .iter()
        .find(|a| {
            a.status.resources.iter().any(|r| r.kind == "Rollout")
                && a.status.health.status == "Suspended"
        })
        .expect("a canary waiting for promotion")
        .metadata
        .name
        .clone();
    let (_, tree) = api
        .get(&format!("applications/{app}/resource-tree"), &[])
        .await;
    let ro = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "Rollout")
        .unwrap()
        .clone();
    let rs: Vec<&Value> = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "ReplicaSet")
        .collect();
    assert_eq!(rs.len(), 2, "the canary and the stable ReplicaSet: {rs:?}");
    let name = ro["name"].as_str().unwrap().to_string();
    let ns = ro["namespace"].as_str().unwrap().to_string();
    let q = [
        ("namespace", ns.as_str()),
        ("resourceName", name.as_str()),
        ("version", "v1alpha1"),
        ("group", "argoproj.io"),
        ("kind", "Rollout"),
    ];
    let actions = |v: &Value| -> Vec<(String, bool)> {
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_string(),
                    a["disabled"] == true,
                )
            })
            .collect()
    };
    let (_, v) = api
        .get(&format!("applications/{app}/resource/actions"), &q)
        .await;
    assert_eq!(
        actions(&v),
        vec![
            ("abort".into(), false),
            ("pause".into(), false),
            ("promote-full".into(), false),
            ("restart".into(), false),
            ("resume".into(), false),
            ("retry".into(), true),
            ("skip-current-step".into(), false),
        ]
    );
    assert_eq!(v["actions"][3]["displayName"], "Restart Pods");
    let run = |action: &'static str| {
        let api = Api {
            http: api.http.clone(),
            base: api.base.clone(),
            token: api.token.clone(),
        };
        let path = format!("applications/{app}/resource/actions");
        let q: Vec<(String, String)> = q
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        async move {
            let q: Vec<(&str, &str)> = q.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let (code, v) = api.post(&path, &q, json!(action)).await;
            assert_eq!(code, 200, "{action}: {v}");
            v
        }
    };
    let health = |v: &Value| {
        (
            v["status"]["health"]["status"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            v["status"]["health"]["message"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    };
    let v = run("abort").await;
    let (h, _) = health(&v);
    assert_eq!(h, "Degraded", "{v}");
    let (_, v) = api.get(&format!("applications/{app}/resource"), &q).await;
    let live: Value = serde_json::from_str(v["manifest"].as_str().unwrap()).unwrap();
    assert_eq!(live["status"]["abort"], true);
    assert!(
        live["status"]["message"]
            .as_str()
            .unwrap()
            .starts_with("RolloutAborted"),
        "{live}"
    );
    let (_, v) = api
        .get(&format!("applications/{app}/resource/actions"), &q)
        .await;
    assert!(
        actions(&v).contains(&("retry".into(), false))
            && actions(&v).contains(&("abort".into(), true))
    );
    let v = run("retry").await;
    assert_eq!(health(&v).0, "Progressing", "{v}");
    let v = run("promote-full").await;
    assert_eq!(health(&v).0, "Healthy", "{v}");
    let (_, v) = api
        .get(&format!("applications/{app}/resource/actions"), &q)
        .await;
    for (a, disabled) in actions(&v) {
        if matches!(
            a.as_str(),
            "abort" | "retry" | "pause" | "promote-full" | "skip-current-step"
        ) {
            assert!(disabled, "{a} is disabled once fully promoted");
        }
    }
    run("restart").await;
    let (_, v) = api.get(&format!("applications/{app}/resource"), &q).await;
    let live: Value = serde_json::from_str(v["manifest"].as_str().unwrap()).unwrap();
    assert!(live["spec"]["restartAt"].is_string(), "{live}");
    assert_eq!(live["status"]["currentPodHash"], live["status"]["stableRS"]);
}
