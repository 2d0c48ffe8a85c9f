//! The demo Kubernetes API: discovery, list, get, watch and patch as a kube-apiserver answers
//! them, its `Status` errors, agreement with the demo Argo CD (a live edit through the
//! Kubernetes API becomes drift in the fleet), and the real `kubectl` against it (when it is
//! installed; under `CI=true` it must be).
#![allow(clippy::disallowed_macros)] // test harness notices, not product output
use crate::common;

use std::process::Command;

use driftdeck::clients::argocd::AppQuery;
use serde_json::{Value, json};

/// The demo cluster Argo CD knows by `server`.
pub(crate) fn cluster_of(fleet: &driftdeck::demo::DemoFleet, server: &str) -> String {
    fleet
        .instance(0)
        .read()
        .clusters
        .iter()
        .find(|c| c.server == server)
        .unwrap()
        .name
        .clone()
}

/// A demo app whose cluster serves it, with a Deployment and no HPA: (app, namespace,
/// workload name, kube API base URL).
pub(crate) async fn pick(fleet: &driftdeck::demo::DemoFleet) -> (String, String, String, String) {
    let client = common::client(&fleet.config().instances[0]);
    let list = client.list_apps(&AppQuery::default(), None).await.unwrap();
    for a in &list.items {
        let kinds: Vec<&str> = a.status.resources.iter().map(|r| r.kind.as_str()).collect();
        if a.status.sync.status == "Synced"
            && kinds.contains(&"Deployment")
            && !kinds.contains(&"HorizontalPodAutoscaler")
        {
            let server = &a.spec.destination.server;
            let cluster = fleet
                .instance(0)
                .read()
                .clusters
                .iter()
                .find(|c| c.server == *server)
                .unwrap()
                .name
                .clone();
            let d = a
                .status
                .resources
                .iter()
                .find(|r| r.kind == "Deployment")
                .unwrap();
            return (
                a.metadata.name.clone(),
                d.namespace.clone(),
                d.name.clone(),
                fleet.kube_url(&cluster).unwrap(),
            );
        }
    }
    panic!("no synced app with a Deployment");
}

#[tokio::test]
async fn discovery_list_get_and_status_errors() {
    let fleet = common::demo(40, 3, 1).await;
    let (_, ns, name, base) = pick(&fleet).await;
    let http = fleet.kube_http();
    let get = |p: String| {
        let url = format!("{base}{p}");
        let http = http.clone();
        async move {
            let r = http.get(&url).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = get("/version".into()).await;
    assert_eq!((s, v["major"].as_str()), (200, Some("1")));
    let (_, v) = get("/api".into()).await;
    assert_eq!(v["kind"], "APIVersions");
    let (_, v) = get("/apis".into()).await;
    assert_eq!(v["kind"], "APIGroupList");
    assert!(
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "apps")
    );
    let (_, v) = get("/apis/apps/v1".into()).await;
    let names: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"deployments") && names.contains(&"deployments/scale"),
        "{names:?}"
    );

    let (s, v) = get(format!("/apis/apps/v1/namespaces/{ns}/deployments")).await;
    assert_eq!(s, 200);
    assert_eq!(v["kind"], "DeploymentList");
    let items = v["items"].as_array().unwrap();
    assert!(items.iter().any(|i| i["metadata"]["name"] == name.as_str()));
    assert!(
        items[0].get("kind").is_none(),
        "list items carry no kind, as the real server"
    );
    let (_, v) = get(format!(
        "/apis/apps/v1/deployments?labelSelector=app.kubernetes.io%2Fname%3D{name}"
    ))
    .await;
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["metadata"]["labels"]["app.kubernetes.io/name"] == name.as_str())
    );
    let (s, v) = get(format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}")).await;
    assert_eq!((s, v["kind"].as_str()), (200, Some("Deployment")));
    let (s, v) = get(format!("/apis/apps/v1/namespaces/{ns}/deployments/nope")).await;
    assert_eq!(s, 404);
    assert_eq!(v["kind"], "Status");
    assert_eq!(v["reason"], "NotFound");
    assert_eq!(v["message"], "deployments.apps \"nope\" not found");
    let (s, v) = get("/apis/nothing.example/v1/widgets".into()).await;
    assert_eq!((s, v["kind"].as_str()), (404, Some("Status")));
    let r = fleet
        .kube_http()
        .get(format!("{base}/api/v1/namespaces"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // No credentials at all is 401 too: the demo clusters allow no anonymous user.
    let r = fleet
        .kube_http_anonymous()
        .get(format!("{base}/api/v1/namespaces"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = fleet
        .kube_http_anonymous()
        .get(format!("{base}/api/v1/namespaces"))
        .bearer_auth(&fleet.kube_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn a_live_edit_through_the_kubernetes_api_becomes_drift_in_argo_cd_and_the_fleet() {
    let fleet = common::demo(40, 3, 1).await;
    let (app, ns, name, base) = pick(&fleet).await;
    let url = format!("{base}/api/v1/namespaces/{ns}/configmaps/{name}-config");
    let cm: Value = fleet
        .kube_http()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = cm["data"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();

    // A watch sees the change.
    let watch_url = format!(
        "{base}/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=10&fieldSelector=metadata.name%3D{name}-config"
    );
    let mut watch = fleet.kube_http().get(&watch_url).send().await.unwrap();
    let first = watch.chunk().await.unwrap().unwrap();
    let ev: Value = serde_json::from_slice(first.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(ev["type"], "ADDED");

    let r = fleet
        .kube_http()
        .patch(&url)
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"data": {key.clone(): "edited-by-hand"}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let patched: Value = r.json().await.unwrap();
    assert_eq!(patched["data"][&key], "edited-by-hand");
    let mut got = String::new();
    while !got.contains("MODIFIED") {
        let c = tokio::time::timeout(std::time::Duration::from_secs(5), watch.chunk())
            .await
            .expect("a MODIFIED event")
            .unwrap()
            .unwrap();
        got.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(got.contains("edited-by-hand"), "{got}");

    // Argo CD sees it: managed-resources says modified, the app is OutOfSync.
    let client = common::client(&fleet.config().instances[0]);
    let a = client.get_app(&app, None, None).await.unwrap();
    assert_eq!(a.status.sync.status, "OutOfSync");
    let mr = client.managed_resources(&app, None).await.unwrap();
    let item = mr
        .items
        .iter()
        .find(|i| i.kind == "ConfigMap" && i.name == format!("{name}-config"))
        .unwrap();
    assert!(item.modified);
    assert!(item.live_state.contains("edited-by-hand"));

    // And the fleet view shows it.
    let o = driftdeck::headless::snapshot::SnapshotOptions {
        output: driftdeck::headless::snapshot::Output::Json,
        size: (120, 40),
        keys: vec![],
        filter: Some(app.clone()),
        theme: driftdeck::tui::theme::Theme::default(),
        keymap: driftdeck::tui::keymap::Keymap::default(),
        depth: driftdeck::tui::color::Depth::TrueColor,
        ascii: false,
        low_bandwidth: false,
        title: "t".into(),
        now_ms: Some(common::NOW * 1000),
        data_dir: None,
        resize: None,
        fail_on_sla: false,
    };
    let out = driftdeck::headless::snapshot::snapshot(&fleet.config(), o)
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let row = v["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == app.as_str())
        .unwrap();
    assert_eq!(row["sync"], "OutOfSync");
    assert_eq!(row["drift"], 1);

    // Scaling through the scale subresource is drift too; labels are not.
    let r = fleet
        .kube_http()
        .patch(format!(
            "{base}/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale"
        ))
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"spec":{"replicas":11}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["spec"]["replicas"], 11);
    let r = fleet
        .kube_http()
        .patch(format!(
            "{base}/apis/apps/v1/namespaces/{ns}/deployments/{name}"
        ))
        .header("Content-Type", "application/strategic-merge-patch+json")
        .body(r#"{"metadata":{"labels":{"driftdeck.io/incident":"INC-5"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mr = client.managed_resources(&app, None).await.unwrap();
    let d = mr.items.iter().find(|i| i.kind == "Deployment").unwrap();
    assert!(
        d.modified && d.live_state.contains("\"replicas\":11") && d.live_state.contains("INC-5")
    );

    // What the demo cannot change is refused whole, with Kubernetes' errors.
    let r = fleet
        .kube_http()
        .patch(format!(
            "{base}/apis/apps/v1/namespaces/{ns}/deployments/{name}"
        ))
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"spec":{"paused":true},"metadata":{"labels":{"x":"y"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["reason"], "Invalid");
    let r = fleet
        .kube_http()
        .patch(format!(
            "{base}/apis/apps/v1/namespaces/{ns}/deployments/{name}"
        ))
        .header("Content-Type", "application/apply-patch+yaml")
        .body("{}")
        .send()
        .await
        .unwrap();
    // Server-side apply needs a field manager, as on a real server.
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("fieldManager: Required value"),
        "{v}"
    );
    let r = fleet
        .kube_http()
        .patch(format!(
            "{base}/apis/apps/v1/namespaces/{ns}/deployments/{name}"
        ))
        .header("Content-Type", "application/yaml")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let live: Value = fleet
        .kube_http()
        .get(format!(
            "{base}/apis/apps/v1/namespaces/{ns}/deployments/{name}"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        live["metadata"]["labels"].get("x").is_none(),
        "a refused patch changes nothing"
    );
}

pub(crate) fn kubectl_available() -> bool {
    let ok = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but kubectl is not installed (.ci/run installs kubernetes-client)");
        }
        eprintln!("skipped: kubectl is not installed");
    }
    ok
}

// kubectl runs blocking on one worker while the demo servers answer on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_kubectl_works_against_the_demo_clusters() {
    if !kubectl_available() {
        return;
    }
    let fleet = common::demo(40, 3, 1).await;
    let (app, ns, name, _) = pick(&fleet).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = fleet.write_config(dir.path()).unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("kubeconfig = "), "{text}");
    let kc = dir.path().join("kubeconfig");
    let client = common::client(&fleet.config().instances[0]);
    let a = client.get_app(&app, None, None).await.unwrap();
    let context = fleet
        .instance(0)
        .read()
        .clusters
        .iter()
        .find(|c| c.server == a.spec.destination.server)
        .unwrap()
        .name
        .clone();
    let cache = dir.path().join("kube-cache");
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &kc)
            .env("HOME", dir.path())
            .arg("--cache-dir")
            .arg(&cache)
            .args(["--context", &context])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (c, out, err) = kubectl(&["get", "deployments", "-A"]);
    assert_eq!(c, 0, "{err}");
    assert!(out.contains(&name), "{out}");
    let (c, out, err) = kubectl(&["-n", &ns, "get", "deployment", &name, "-o", "json"]);
    assert_eq!(c, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "Deployment");
    assert_eq!(v["metadata"]["name"], name.as_str());
    let (c, _, err) = kubectl(&["-n", &ns, "annotate", "deployment", &name, "owner=sre"]);
    assert_eq!(c, 0, "{err}");
    let (c, _, err) = kubectl(&["-n", &ns, "label", "deployment", &name, "incident=INC-9"]);
    assert_eq!(c, 0, "{err}");
    let (c, out, _) = kubectl(&[
        "-n",
        &ns,
        "get",
        "deployment",
        &name,
        "-o",
        "jsonpath={.metadata.labels.incident} {.metadata.annotations.owner}",
    ]);
    assert_eq!((c, out.as_str()), (0, "INC-9 sre"));
    let (c, _, err) = kubectl(&["-n", &ns, "scale", "deployment", &name, "--replicas=7"]);
    assert_eq!(c, 0, "{err}");
    let (c, _, err) = kubectl(&["-n", &ns, "get", "deployment", "nope"]);
    assert_eq!(c, 1);
    assert!(
        err.contains("NotFound") && err.contains("\"nope\" not found"),
        "{err}"
    );
    // The instance's control plane serves its Application objects, as Argo CD lists them.
    let instance = fleet.instance(0).read().name.clone();
    let out = Command::new("kubectl")
        .env("KUBECONFIG", &kc)
        .env("HOME", dir.path())
        .arg("--cache-dir")
        .arg(&cache)
        .args([
            "--context",
            &instance,
            "get",
            "applications",
            "-n",
            "argocd",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = client.list_apps(&AppQuery::default(), None).await.unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), listed.items.len());
    assert_eq!(v["items"][0]["kind"], "Application");
    // The scale is drift in Argo CD; the label and the annotation are not.
    let mr = client.managed_resources(&app, None).await.unwrap();
    let d = mr.items.iter().find(|i| i.kind == "Deployment").unwrap();
    assert!(d.modified && d.live_state.contains("\"replicas\":7"));
    let drift = driftdeck::diff::from_managed(&mr.items).unwrap();
    let paths: Vec<&str> = drift
        .iter()
        .flat_map(|r| r.changes.iter().map(|c| c.path.as_str()))
        .collect();
    assert_eq!(paths, vec!["/spec/replicas"], "{paths:?}");
}

#[tokio::test]
async fn the_kube_client_reads_pods_events_and_logs_and_an_unreachable_cluster_says_so() {
    use driftdeck::clients::kube::{self, Clusters};
    let mut fleet = common::demo(40, 3, 1).await;
    let (app, ns, _, _) = pick(&fleet).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = fleet.write_config(dir.path()).unwrap();
    let cfg = driftdeck::config::Config::load(&cfg_path).unwrap();
    let clusters = Clusters::load(cfg.kube.as_ref());
    let client = common::client(&fleet.config().instances[0]);
    let a = client.get_app(&app, None, None).await.unwrap();
    let dest = &a.spec.destination;
    // The kubeconfig's contexts are named after the clusters; the app's destination is a
    // server URL that Argo CD's cluster list names.
    let cluster_name = fleet
        .instance(0)
        .read()
        .clusters
        .iter()
        .find(|c| c.server == dest.server)
        .unwrap()
        .name
        .clone();
    assert!(clusters.context_for(&dest.name, &dest.server).is_err());
    let ctx = clusters.context_for(&cluster_name, &dest.server).unwrap();
    assert_eq!(ctx, cluster_name);
    assert!(
        clusters
            .context_for("", "https://nowhere:6443")
            .unwrap_err()
            .contains("no kube context")
    );

    let tree = client.resource_tree(&app, None).await.unwrap();
    let names: Vec<String> = tree
        .nodes
        .iter()
        .filter(|n| n.reference.kind == "Pod")
        .map(|n| n.reference.name.clone())
        .collect();
    let v = kube::view(&clusters, &cluster_name, &ctx, &ns, &names)
        .await
        .unwrap();
    let got: Vec<&str> = v.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(v.pods.len(), names.len(), "{got:?} vs {names:?}");
    assert!(
        v.pods
            .iter()
            .all(|p| p.ready.ends_with("/1") && !p.containers.is_empty())
    );
    let p = &v.pods[0];
    let log = kube::logs(&clusters, &ctx, &ns, &p.name, &p.containers[0], 5)
        .await
        .unwrap();
    assert_eq!(log.lines().count(), 5, "{log}");
    let e = kube::logs(&clusters, &ctx, &ns, &p.name, "nope", 5)
        .await
        .unwrap_err();
    assert!(e.contains("not valid"), "{e}");

    // The cluster goes away: the call fails with a sentence, within the time limit.
    let k = fleet
        .kube
        .iter_mut()
        .find(|k| k.name == cluster_name)
        .unwrap();
    k.stop();
    let t = std::time::Instant::now();
    let fresh = Clusters::load(cfg.kube.as_ref());
    let e = kube::view(&fresh, &cluster_name, &ctx, &ns, &names)
        .await
        .unwrap_err();
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    assert!(e.contains(&cluster_name), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_tab_shows_pods_events_and_a_log_tail() {
    use driftdeck::headless::snapshot::{Output, SnapshotOptions, parse_keys, snapshot};
    let fleet = common::demo(40, 3, 1).await;
    let (app, _, name, _) = pick(&fleet).await;
    let screen = |keys: &str| {
        let cfg = fleet.config();
        let keys = parse_keys(keys).unwrap();
        let app = app.clone();
        async move {
            snapshot(
                &cfg,
                SnapshotOptions {
                    output: Output::Text,
                    size: (140, 40),
                    keys,
                    filter: Some(app),
                    theme: driftdeck::tui::theme::Theme::default(),
                    keymap: driftdeck::tui::keymap::Keymap::default(),
                    depth: driftdeck::tui::color::Depth::TrueColor,
                    ascii: false,
                    low_bandwidth: false,
                    title: "t".into(),
                    now_ms: Some(common::NOW * 1000),
                    data_dir: None,
                    resize: None,
                    fail_on_sla: false,
                },
            )
            .await
            .unwrap()
            .stdout
        }
    };
    let s = screen("enter 6").await;
    assert!(s.contains("6 Cluster ("), "{s}");
    assert!(s.contains(&format!("{name}-")), "the app's pods: {s}");
    assert!(s.contains("Running"), "{s}");
    assert!(s.contains("Events of the namespace (kube context"), "{s}");
    let s = screen("enter 6 enter").await;
    assert!(s.contains("log of ") && s.contains("INFO GET"), "{s}");
    // The objects as the cluster has them, with who wrote them last: a scale by hand shows.
    assert!(s.contains("log of "));
    let (_, ns, name, base) = pick(&fleet).await;
    let r = fleet.kube_http()
        .patch(format!(
            "{base}/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale?fieldManager=kubectl-scale"
        ))
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"spec":{"replicas":9}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let s = screen("enter 6").await;
    assert!(s.contains("Objects as the cluster has them"), "{s}");
    let line = s
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("Deployment {name} ")))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(line.contains("kubectl-scale (Update, scale)"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_labels_go_through_the_kube_context_where_there_is_one() {
    use driftdeck::actions::{Session, Target};
    use driftdeck::demo::generator::Drift;
    let fleet = common::demo(40, 3, 1).await;
    let (app, ns, name, base) = pick(&fleet).await;
    fleet.instance(0).modify(&app, |a| {
        a.w.drifts.push(Drift::Replicas {
            to: a.w.replicas + 3,
            by_hpa: false,
            at: common::NOW,
        })
    });
    let cfg = fleet.config();
    let s = Session::new(common::client(&cfg.instances[0]), false, vec![]).with_kube(Some(
        std::sync::Arc::new(driftdeck::clients::kube::Clusters::load(cfg.kube.as_ref())),
    ));
    let t = Target {
        instance: s.instance.clone(),
        name: app.clone(),
        app_namespace: "argocd".into(),
    };
    let out = driftdeck::actions::annotate::annotate(&s, &t, "INC-77", "", true)
        .await
        .unwrap();
    assert!(out.via.starts_with("kube context "), "{}", out.via);
    assert!(
        out.labelled.iter().any(|l| l.starts_with("Deployment")),
        "{out:?}"
    );
    let live: Value = fleet
        .kube_http()
        .get(format!(
            "{base}/apis/apps/v1/namespaces/{ns}/deployments/{name}"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        live["metadata"]["labels"]["driftdeck.io/incident"],
        "INC-77"
    );
    // The cluster records who wrote the label as driftdeck named itself, so `kubectl get
    // --show-managed-fields` and driftdeck's own "who changed it" say driftdeck.
    let owners: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["fieldsV1"]
                .to_string()
                .contains("f:driftdeck.io/incident")
        })
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(owners, vec!["driftdeck"]);
}

/// The demo clusters meet the instance's fault profile too: raw reads of a flaky cluster fail
/// the way busy API servers and proxies fail, while the client's reads all get through; under
/// `hostile` most do, and each one that does not is a sentence naming what it was reading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_reads_get_through_faults() {
    use driftdeck::clients::kube::{self, Clusters};
    use driftdeck::demo::faults::FaultProfile;
    use driftdeck::demo::state::Faults;
    use futures::StreamExt;
    let fleet = common::demo(40, 3, 1).await;
    let (_, ns, _, url) = pick(&fleet).await;
    let cluster_name = fleet
        .kube
        .iter()
        .find(|k| format!("https://{}", k.addr) == url)
        .unwrap()
        .name
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let cfg = driftdeck::config::Config::load(&fleet.write_config(dir.path()).unwrap()).unwrap();
    let clusters = Clusters::load(cfg.kube.as_ref());
    let ctx = cluster_name.clone();
    let pods_in = |v: &kube::ClusterView| v.pods.len();
    let calm = kube::view(&clusters, &cluster_name, &ctx, &ns, &[])
        .await
        .unwrap();
    assert!(pods_in(&calm) > 0);

    fleet.instance(0).set_faults(Faults {
        profile: FaultProfile::Flaky,
        ..Default::default()
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = fleet.kube_http();
    let mut raw = std::collections::BTreeMap::<u16, usize>::new();
    let codes: Vec<u16> = futures::stream::iter(0..300)
        .map(|_| async {
            match http
                .get(format!("{url}/api/v1/namespaces/{ns}/pods"))
                .send()
                .await
            {
                Ok(r) => {
                    let code = r.status().as_u16();
                    match r.bytes().await {
                        Ok(b)
                            if code != 200
                                || serde_json::from_slice::<serde_json::Value>(&b).is_ok() =>
                        {
                            code
                        }
                        _ => 1, // cut short
                    }
                }
                Err(_) => 0, // reset
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for c in codes {
        *raw.entry(c).or_default() += 1;
    }
    for code in [200, 429, 502, 503, 1] {
        assert!(
            raw.contains_key(&code),
            "{code} among the raw replies {raw:?}"
        );
    }
    let views = |n: usize| {
        futures::stream::iter(0..n)
            .map(|_| kube::view(&clusters, &cluster_name, &ctx, &ns, &[]))
            .buffer_unordered(6)
            .collect::<Vec<_>>()
    };
    for v in views(40).await {
        let v = v.expect("a flaky cluster's reads get through");
        assert_eq!(pods_in(&v), pods_in(&calm));
    }

    fleet.instance(0).set_faults(Faults {
        profile: FaultProfile::Hostile,
        ..Default::default()
    });
    let got = views(12).await;
    let ok = got.iter().filter(|v| v.is_ok()).count();
    assert!(ok >= 8, "{got:?}");
    for e in got.iter().filter_map(|v| v.as_ref().err()) {
        assert!(e.contains(&ns) && !e.contains("<html"), "{e}");
    }
}

/// The demo's folder (tokens, kubeconfig, its journal) is private whatever the umask: 0700.
#[cfg(unix)]
#[tokio::test]
async fn the_demo_folder_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let fleet = common::demo(10, 1, 1).await;
    let mode = std::fs::metadata(fleet.dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{} is {mode:o}", fleet.dir().display());
}

/// Watches and lists at the wire: a BOOKMARK when the client allows them (the last one as the
/// watch times out), 410 Gone for a version out of history, a continue token that pages, an
/// invalid one that is 400, and `dryRun` values other than `All` refused.
#[tokio::test]
async fn watch_bookmarks_gone_paging_and_dry_run_values() {
    let fleet = common::demo(40, 3, 1).await;
    let (_, ns, name, base) = pick(&fleet).await;
    let http = fleet.kube_http();
    let body = http
        .get(format!(
            "{base}/api/v1/namespaces/{ns}/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=1"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["type"], "ADDED", "{body}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "BOOKMARK", "{body}");
    assert!(last["object"]["metadata"]["resourceVersion"].is_string());
    assert_eq!(last["object"]["kind"], "Pod");
    let gone = http
        .get(format!("{base}/api/v1/pods?watch=1&resourceVersion=5"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let e: Value = serde_json::from_str(gone.lines().next().unwrap()).unwrap();
    assert_eq!(
        (e["type"].as_str(), e["object"]["code"].as_i64()),
        (Some("ERROR"), Some(410))
    );
    assert_eq!(e["object"]["reason"], "Expired");
    // Paging: two pages of 2 are the first 4 of the whole list.
    let all: Value = http
        .get(format!("{base}/api/v1/pods"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let p1: Value = http
        .get(format!("{base}/api/v1/pods?limit=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = p1["metadata"]["continue"].as_str().unwrap().to_string();
    assert_eq!(
        p1["metadata"]["remainingItemCount"].as_u64().unwrap() + 2,
        all["items"].as_array().unwrap().len() as u64
    );
    let p2: Value = http
        .get(format!("{base}/api/v1/pods?limit=2&continue={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let mut first4 = names(&p1);
    first4.extend(names(&p2));
    assert_eq!(first4, names(&all)[..4].to_vec());
    let r = http
        .get(format!("{base}/api/v1/pods?limit=2&continue=garbage!"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http
        .patch(format!(
            "{base}/apis/apps/v1/namespaces/{ns}/deployments/{name}?dryRun=Some"
        ))
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"spec":{"replicas":3}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

/// Pod triage without leaving driftdeck: a log followed live (its tail, then each new line),
/// the previous run's log of a restarted container (and a clear error for one that never
/// restarted), a pod's YAML and description, on the Cluster tab as from the library.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_triage_follows_a_log_reads_the_previous_run_and_describes_a_pod() {
    use driftdeck::clients::kube::{self, Clusters};
    use futures::StreamExt;
    let fleet = common::demo(40, 3, 1).await;
    let (app, ns, _, _) = pick(&fleet).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = fleet.write_config(dir.path()).unwrap();
    let cfg = driftdeck::config::Config::load(&cfg_path).unwrap();
    let clusters = Clusters::load(cfg.kube.as_ref());
    let client = common::client(&fleet.config().instances[0]);
    let a = client.get_app(&app, None, None).await.unwrap();
    let cluster = fleet
        .instance(0)
        .read()
        .clusters
        .iter()
        .find(|c| c.server == a.spec.destination.server)
        .unwrap()
        .name
        .clone();
    let ctx = clusters
        .context_for(&cluster, &a.spec.destination.server)
        .unwrap();
    let v = kube::view(&clusters, &cluster, &ctx, &ns, &[])
        .await
        .unwrap();
    let p = v
        .pods
        .iter()
        .find(|p| {
            p.name.starts_with(
                &a.status
                    .resources
                    .iter()
                    .find(|r| r.kind == "Deployment")
                    .unwrap()
                    .name,
            )
        })
        .unwrap()
        .clone();

    // Followed: the tail of 5, then new lines as the container writes them.
    let s = kube::log_lines(
        &clusters,
        &ctx,
        &ns,
        &p.name,
        &p.containers[0],
        false,
        true,
        5,
    )
    .await
    .unwrap();
    let mut s = std::pin::pin!(s);
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(8);
    while got.len() < 7 {
        match tokio::time::timeout_at(deadline, s.next()).await {
            Ok(Some(Ok(l))) => got.push(l),
            other => panic!("the follow stopped after {got:?}: {other:?}"),
        }
    }
    assert!(
        got.iter()
            .all(|l| l.contains(" INFO ") || l.contains(" WARN ") || l.contains(" ERROR ")),
        "{got:?}"
    );

    // The previous run: of a restarted container it is read whole and ends; of one that never
    // restarted, the cluster says there is none.
    let restarted = v.pods.iter().find(|p| p.restarts > 0);
    let never = v.pods.iter().find(|p| p.restarts == 0);
    if let Some(r) = restarted {
        let s = kube::log_lines(
            &clusters,
            &ctx,
            &ns,
            &r.name,
            &r.containers[0],
            true,
            true,
            50,
        )
        .await
        .unwrap();
        let lines: Vec<_> = s.collect().await;
        assert!(
            !lines.is_empty() && lines.iter().all(Result::is_ok),
            "{lines:?}"
        );
    }
    if let Some(n) = never {
        let e = match kube::log_lines(
            &clusters,
            &ctx,
            &ns,
            &n.name,
            &n.containers[0],
            true,
            true,
            50,
        )
        .await
        {
            Err(e) => e,
            Ok(s) => {
                let lines: Vec<_> = s.collect().await;
                panic!("a previous log of a container that never restarted: {lines:?}")
            }
        };
        assert!(e.contains("previous terminated container"), "{e}");
    }

    // YAML and describe, as the Cluster tab shows them.
    let pod = kube::get_object(
        &clusters,
        &ctx,
        &driftdeck::clients::argocd::ResourceId {
            group: String::new(),
            version: "v1".into(),
            kind: "Pod".into(),
            namespace: ns.clone(),
            name: p.name.clone(),
        },
    )
    .await
    .unwrap();
    let text = driftdeck::clients::describe::describe(&pod, &v.events, common::NOW).join("\n");
    assert!(text.contains(&format!("Name:        {}", p.name)), "{text}");
    assert!(text.contains(&format!("  {}:", p.containers[0])), "{text}");
    assert!(text.contains("Restart Count:"), "{text}");
    assert!(text.contains("Ready "), "{text}");

    use driftdeck::headless::snapshot::{Output, SnapshotOptions, parse_keys, snapshot};
    let screen = |keys: &str| {
        let cfg = fleet.config();
        let keys = parse_keys(keys).unwrap();
        let app = app.clone();
        async move {
            snapshot(
                &cfg,
                SnapshotOptions {
                    output: Output::Text,
                    size: (120, 40),
                    keys,
                    filter: Some(app),
                    theme: driftdeck::tui::theme::Theme::default(),
                    keymap: driftdeck::tui::keymap::Keymap::default(),
                    depth: driftdeck::tui::color::Depth::TrueColor,
                    ascii: false,
                    low_bandwidth: false,
                    title: "t".into(),
                    now_ms: Some(common::NOW * 1000),
                    data_dir: None,
                    resize: None,
                    fail_on_sla: false,
                },
            )
            .await
            .unwrap()
            .stdout
        }
    };
    let s = screen("enter 6 D").await;
    assert!(
        s.contains("Describe Pod/") && s.contains("Containers:"),
        "{s}"
    );
    let s = screen("enter 6 Y").await;
    assert!(
        s.contains("YAML of Pod/") && s.contains("  containers:"),
        "YAML keeps its indentation: {s}"
    );
    // The log screen: a snapshot reads the tail (the terminal follows), `/` searches it.
    let s = screen("enter 6 enter").await;
    assert!(s.contains("log of ") && s.contains(" lines"), "{s}");
    let s = screen("enter 6 enter / G E T enter").await;
    assert!(s.contains("/GET: ") && s.contains(" matching"), "{s}");
    let s = screen("enter 6 enter esc").await;
    assert!(s.contains("6 Cluster ("), "back on the Cluster tab: {s}");
}

/// Leases as leader election uses them (issue 19's daemon): created once (a second create is
/// AlreadyExists), replaced only from the version last read, so of two contenders that read
/// the same version one wins and the other gets 409; listed by kubectl with their holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_are_created_once_and_replaced_only_from_the_version_read() {
    use driftdeck::clients::kube::Clusters;
    use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
    use kube::api::{Api, PostParams};
    let fleet = common::demo(40, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = fleet.write_config(dir.path()).unwrap();
    let cfg = driftdeck::config::Config::load(&cfg_path).unwrap();
    let clusters = Clusters::load(cfg.kube.as_ref());
    let ctx = fleet.kube[0].context.clone();
    let client = clusters.client(&ctx).await.unwrap();
    let leases: Api<Lease> = Api::namespaced(client, "driftdeck");
    let lease = |holder: &str| Lease {
        metadata: kube::api::ObjectMeta {
            name: Some("driftdeck-serve".into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }),
    };
    let pp = PostParams::default();
    let a = leases.create(&pp, &lease("a")).await.unwrap();
    let rv = a.metadata.resource_version.clone().unwrap();
    let e = leases.create(&pp, &lease("b")).await.unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    // Two contenders read the same version; the first replace wins, the second is refused.
    let mut mine = leases.get("driftdeck-serve").await.unwrap();
    let mut theirs = mine.clone();
    mine.spec.as_mut().unwrap().holder_identity = Some("a".into());
    theirs.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let won = leases.replace("driftdeck-serve", &pp, &mine).await.unwrap();
    assert_ne!(won.metadata.resource_version.as_deref(), Some(rv.as_str()));
    let e = leases
        .replace("driftdeck-serve", &pp, &theirs)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("the object has been modified"),
        "{e}"
    );
    assert_eq!(
        leases
            .get("driftdeck-serve")
            .await
            .unwrap()
            .spec
            .unwrap()
            .holder_identity
            .as_deref(),
        Some("a")
    );
    // kubectl sees it with the server's columns.
    if kubectl_available() {
        let o = std::process::Command::new("kubectl")
            .args(["--kubeconfig"])
            .arg(dir.path().join("kubeconfig"))
            .args(["--context", &ctx, "get", "leases", "-n", "driftdeck"])
            .env("HOME", dir.path())
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("HOLDER") && out.contains("driftdeck-serve"),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        // `kubectl apply` of a changed Lease sends a strategic merge patch, as to a real
        // apiserver (which takes it for Leases).
        let file = dir.path().join("lease.yaml");
        let apply = |holder: &str| {
            std::fs::write(
                &file,
                format!(
                    "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: applied, namespace: driftdeck}}\nspec: {{holderIdentity: {holder}}}\n"
                ),
            )
            .unwrap();
            std::process::Command::new("kubectl")
                .args(["--kubeconfig"])
                .arg(dir.path().join("kubeconfig"))
                .args(["--context", &ctx, "apply", "-f"])
                .arg(&file)
                .env("HOME", dir.path())
                .output()
                .unwrap()
        };
        for holder in ["a", "b"] {
            let o = apply(holder);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let a = leases_get_holder(&leases, "applied").await;
        assert_eq!(a.as_deref(), Some("b"));
    }
    leases
        .delete("driftdeck-serve", &Default::default())
        .await
        .unwrap();
    let e = leases.get("driftdeck-serve").await.unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
}

async fn leases_get_holder(
    leases: &kube::api::Api<k8s_openapi::api::coordination::v1::Lease>,
    name: &str,
) -> Option<String> {
    leases.get(name).await.unwrap().spec?.holder_identity
}
