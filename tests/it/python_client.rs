//! The official Kubernetes Python client (PyPI `kubernetes`, which .ci/run installs into
//! target/py-kube) as a judge of the demo clusters. Skips with a notice where it is not
//! installed; under CI=true it must run.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output
use crate::common;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn client_path() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("DRIFTDECK_PY_KUBE").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-kube")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.join("kubernetes").is_dir() {
            return Some(c);
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but the Python kubernetes client is not in target/py-kube (.ci/run installs it)"
        );
    }
    eprintln!(
        "skipped: the Python kubernetes client is not installed (run .ci/run, or set DRIFTDECK_PY_KUBE)"
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_agrees_with_the_demo_clusters() {
    let Some(path) = client_path() else {
        return;
    };
    let fleet = common::demo(40, 4, 1).await;
    let (app, ns, name, _) = crate::kube_demo::pick(&fleet).await;
    let a = common::client(&fleet.config().instances[0])
        .get_app(&app, None, None)
        .await
        .unwrap();
    let cluster = crate::kube_demo::cluster_of(&fleet, &a.spec.destination.server);
    let dir = tempfile::tempdir().unwrap();
    fleet.write_config(dir.path()).unwrap();
    let context = fleet.kube_context(&cluster).unwrap().to_string();
    let others: Vec<String> = fleet.kube.iter().map(|k| k.context.clone()).collect();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/clients/kube_client.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(dir.path().join("kubeconfig"))
            .arg(&context)
            .arg(&ns)
            .arg(&name)
            .args(&others)
            .env("PYTHONPATH", &path)
            .env("HOME", dir.path())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {stderr}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v["typed"], true, "{v}");
    let pods = v["pods"].as_array().unwrap();
    assert!(!pods.is_empty(), "{v}");
    assert!(!v["running"].as_array().unwrap().is_empty(), "{v}");
    // The watch: one ADDED per pod, nothing else while nothing changes.
    let events = v["watch"].as_array().unwrap();
    assert_eq!(events.len(), pods.len(), "{v}");
    assert!(events.iter().all(|e| e == "ADDED"), "{v}");
    assert_eq!(v["gone"], 410, "{v}");
    assert!(v["followed_lines"].as_u64().unwrap() >= 3, "{v}");
    let dry = v["dry"].as_array().unwrap();
    assert_eq!(
        dry[1].as_i64().unwrap(),
        dry[0].as_i64().unwrap() + 3,
        "{v}"
    );
    assert_eq!(dry[2], dry[0], "a dry run changes nothing: {v}");
    assert_eq!(v["dry_rv"][0], v["dry_rv"][1], "{v}");
    let paging = v["paging"].as_array().unwrap();
    assert!(paging[0].as_u64().unwrap() > 1, "{v}");
    assert_eq!(paging[1], paging[2], "{v}");
    assert_eq!(paging[3], true, "{v}");
    let contexts = v["contexts"].as_object().unwrap();
    assert_eq!(contexts.len(), fleet.kube.len(), "{v}");
    assert!(
        contexts
            .values()
            .all(|g| g.as_str().unwrap().starts_with("v1.")),
        "{v}"
    );
}
