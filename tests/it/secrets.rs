//! Secrets never leak: after a full run of the headless commands against the demo servers, with
//! every log level on, no token appears in the logs, the journal, or any output.

use std::process::Command;

use crate::common;
use common::serve_demo;

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// The driftdeck binary with its home, logs (at trace level) and data under `home`.
fn driftdeck(home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_driftdeck"));
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("DRIFTDECK_LOG_DIR", home.join("logs"))
        .env("DRIFTDECK_DATA_DIR", home.join("data"))
        .env("DRIFTDECK_LOG", "trace")
        .env_remove("DRIFTDECK_CONFIG")
        .env_remove("NO_COLOR");
    c
}

#[test]
fn no_token_in_logs_journal_or_output_after_a_full_run() {
    let home = tempfile::tempdir().unwrap();
    let logs = home.path().join("logs");
    let data = home.path().join("data");
    let bin = || driftdeck(home.path());
    let (mut server, cfg_path) = serve_demo(
        bin(),
        &["--apps", "30", "--instances", "2", "--drift-every", "0"],
    );
    let cfg_text = std::fs::read_to_string(&cfg_path).unwrap();
    let cfg: toml::Value = toml::from_str(&cfg_text).unwrap();
    // Every secret the run has: the Argo CD tokens, the PagerDuty key, the kube token.
    let mut secrets: Vec<String> = cfg["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i.get("token").and_then(|t| t.as_str()).map(str::to_string))
        .collect();
    assert_eq!(secrets.len(), 2, "{cfg_text}");
    if let Some(t) = cfg
        .get("context")
        .and_then(|c| c.get("pagerduty"))
        .and_then(|p| p.get("token"))
        .and_then(|t| t.as_str())
    {
        secrets.push(t.to_string());
    }
    let kubeconfig =
        std::fs::read_to_string(std::path::Path::new(&cfg_path).with_file_name("kubeconfig"))
            .unwrap();
    let kube_token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token:"))
        .map(|t| t.trim().trim_matches('"').to_string())
        .expect("a token in the kubeconfig");
    secrets.push(kube_token);
    // The JWT's signature alone is as secret as the whole.
    let sigs: Vec<String> = secrets
        .iter()
        .filter_map(|s| {
            s.rsplit('.')
                .next()
                .filter(|p| p.len() >= 16)
                .map(str::to_string)
        })
        .collect();
    secrets.extend(sigs);

    let mut outputs = String::new();
    let mut run = |args: &[&str]| {
        let o = bin()
            .args(["--config", &cfg_path])
            .args(args)
            .output()
            .unwrap();
        outputs.push_str(&String::from_utf8_lossy(&o.stdout));
        outputs.push_str(&String::from_utf8_lossy(&o.stderr));
        o
    };
    let o = run(&["snapshot", "--output", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let app = v["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["sync"] == "OutOfSync")
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["instance"].as_str().unwrap().to_string(),
            )
        })
        .expect("a drifted app");
    let (name, instance) = (&app.0, &app.1);
    run(&["snapshot", "--output", "text", "--keys", "j enter 6"]);
    run(&["diff", name, "--instance", instance, "--output", "json"]);
    run(&["sync", name, "--instance", instance, "--yes"]);
    run(&[
        "defer",
        name,
        "--instance",
        instance,
        "--reason",
        "incident 42",
        "--yes",
    ]);
    run(&["deferrals", "list"]);
    run(&[
        "annotate",
        name,
        "--instance",
        instance,
        "--incident",
        "INC-42",
        "--yes",
    ]);
    run(&["check-config"]);
    run(&["journal", "export"]);
    // A wrong token: the error names the server, not the token.
    let bad = home.path().join("bad.toml");
    std::fs::write(
        &bad,
        cfg_text.replacen(
            &secrets[0],
            "eyJhbGciOiJIUzI1NiJ9.e30.wrongwrongwrongwrong",
            1,
        ),
    )
    .unwrap();
    let o = bin()
        .args(["--config", bad.to_str().unwrap(), "snapshot"])
        .output()
        .unwrap();
    outputs.push_str(&String::from_utf8_lossy(&o.stdout));
    outputs.push_str(&String::from_utf8_lossy(&o.stderr));
    assert!(
        !outputs.contains("wrongwrongwrongwrong"),
        "a bad token is not echoed"
    );
    let _ = server.kill();
    let _ = server.wait();

    let mut files = Vec::new();
    walk(&logs, &mut files);
    walk(&data, &mut files);
    let log_bytes: usize = files
        .iter()
        .filter(|f| f.starts_with(&logs))
        .map(|f| std::fs::metadata(f).map(|m| m.len() as usize).unwrap_or(0))
        .sum();
    assert!(
        log_bytes > 10_000,
        "the run logged at trace level ({log_bytes} bytes)"
    );
    assert!(
        files.iter().any(|f| f.ends_with("journal.jsonl")),
        "the run journaled: {files:?}"
    );
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret in {}", f.display());
        }
    }
    for s in &secrets {
        assert!(
            !outputs.contains(s.as_str()),
            "a secret in the commands' output"
        );
    }
}

/// The Secrets of the demo clusters, read from their Kubernetes APIs (which, like real ones,
/// return the values): `(namespace, name, owning app, base64 values)`.
async fn cluster_secrets(kubeconfig: &str) -> Vec<(String, String, String, Vec<String>)> {
    let token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token:"))
        .map(|t| t.trim().trim_matches('"').to_string())
        .expect("a token in the kubeconfig");
    let servers: Vec<&str> = kubeconfig
        .lines()
        .filter_map(|l| l.trim().strip_prefix("server:"))
        .map(str::trim)
        .collect();
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The demo clusters serve HTTPS with a CA of their own, which the kubeconfig carries.
    let ca = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data:"))
        .map(|t| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(t.trim())
                .unwrap()
        })
        .expect("the CA in the kubeconfig");
    let http = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
        .build()
        .unwrap();
    let mut out = Vec::new();
    for s in servers {
        let reply = http
            .get(format!("{s}/api/v1/secrets"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("the demo cluster answers");
        if !reply.status().is_success() {
            // The Argo CD control planes have no Secrets kind of their own.
            continue;
        }
        let list: serde_json::Value = reply.json().await.expect("a SecretList");
        for it in list["items"].as_array().into_iter().flatten() {
            let app = it["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"]
                .as_str()
                .and_then(|t| t.split(':').next())
                .unwrap_or_default()
                .to_string();
            let values = it["data"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(_, v)| v.as_str().map(str::to_string))
                .collect();
            out.push((
                it["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                it["metadata"]["name"].as_str().unwrap_or("").to_string(),
                app,
                values,
            ));
        }
    }
    out
}

/// Secret data never reaches the screen, the diff's output or the logs: every view of every app
/// that owns a Secret (the diff as text and JSON, the TUI's diff and decision screens) shows `+`
/// runs, and neither the values nor their decodings appear anywhere, while a Secret that differs
/// still shows as a change.
#[tokio::test(flavor = "multi_thread")]
async fn secret_values_are_masked_in_every_view() {
    use base64::Engine;
    let home = tempfile::tempdir().unwrap();
    let (mut server, cfg_path) = serve_demo(driftdeck(home.path()), &["--drift-every", "0"]);
    let kubeconfig =
        std::fs::read_to_string(std::path::Path::new(&cfg_path).with_file_name("kubeconfig"))
            .unwrap();
    let found = cluster_secrets(&kubeconfig).await;
    assert!(!found.is_empty(), "the demo clusters have Secrets");
    let mut values: Vec<String> = Vec::new();
    for (_, _, _, vs) in &found {
        for v in vs {
            if v.len() >= 16 {
                values.push(v.clone());
            }
            let plain = base64::engine::general_purpose::STANDARD
                .decode(v)
                .expect("base64 data");
            let plain = String::from_utf8(plain).unwrap();
            // Short values (a user name that is also the app's name) match by chance.
            if plain.len() >= 12 {
                values.push(plain);
            }
        }
    }
    let cfg: toml::Value = toml::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    let snap = driftdeck(home.path())
        .args(["--config", &cfg_path, "snapshot", "--output", "json"])
        .output()
        .unwrap();
    let snap: serde_json::Value = serde_json::from_slice(&snap.stdout).unwrap();
    let mut outputs = String::new();
    let mut masked_changes = 0;
    let apps: std::collections::BTreeSet<&str> =
        found.iter().map(|(_, _, a, _)| a.as_str()).collect();
    for app in apps {
        let instance = snap["apps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == app)
            .and_then(|a| a["instance"].as_str())
            .unwrap_or_else(|| panic!("{app} in the snapshot"))
            .to_string();
        let run = |args: &[&str]| {
            let o = driftdeck(home.path())
                .args(["--config", &cfg_path])
                .args(args)
                .output()
                .unwrap();
            assert!(o.status.code().unwrap_or(9) <= 1, "{args:?}: {o:?}");
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        };
        let json = run(&["diff", app, "--instance", &instance, "--output", "json"]);
        if json.contains("++++++++") {
            masked_changes += 1;
            // The TUI shows the same diff, masked.
            let screen = run(&[
                "snapshot", "--output", "text", "--size", "120x40", "--filter", app, "--keys", "d",
            ]);
            assert!(screen.contains("password: ++++++++"), "{screen}");
            outputs.push_str(&screen);
        }
        outputs.push_str(&json);
        outputs.push_str(&run(&["diff", app, "--instance", &instance]));
        outputs.push_str(&run(&[
            "snapshot", "--output", "text", "--size", "120x40", "--filter", app, "--keys",
            "enter 5",
        ]));
        // The demo's Argo CD API masks like the real one: no value in any of the four states.
        let inst = cfg["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"].as_str() == Some(&instance))
            .unwrap();
        let mr = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/applications/{app}/managed-resources",
                inst["url"].as_str().unwrap()
            ))
            .bearer_auth(inst["token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(mr.contains("+++++"), "{mr}");
        outputs.push_str(&mr);
    }
    assert!(
        masked_changes >= 1,
        "the demo fleet has a Secret edited by hand, shown as a masked change"
    );
    let _ = server.kill();
    let _ = server.wait();
    let mut files = Vec::new();
    walk(home.path(), &mut files);
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        for v in &values {
            assert!(
                !text.contains(v.as_str()),
                "the Secret value {v} is in {}",
                f.display()
            );
        }
    }
    for v in &values {
        if let Some(i) = outputs.find(v.as_str()) {
            let from = outputs.floor_char_boundary(i.saturating_sub(300));
            let to = outputs.ceil_char_boundary((i + 300).min(outputs.len()));
            panic!("the Secret value {v} leaked: {}", &outputs[from..to]);
        }
    }
}

/// TLS verification is on unless an instance's config turns it off, and then the fleet screen
/// says so next to that instance (and only that one).
#[test]
fn an_instance_without_tls_verification_says_so_on_screen() {
    let home = tempfile::tempdir().unwrap();
    let (mut server, cfg_path) = serve_demo(
        driftdeck(home.path()),
        &["--apps", "10", "--instances", "2", "--drift-every", "0"],
    );
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    let screen = |cfg: &str| {
        let p = home.path().join("c.toml");
        std::fs::write(&p, cfg).unwrap();
        let o = driftdeck(home.path())
            .args([
                "--config",
                p.to_str().unwrap(),
                "snapshot",
                "--output",
                "text",
            ])
            .args(["--size", "160x20"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        String::from_utf8(o.stdout).unwrap()
    };
    let verified = screen(&text);
    assert!(!verified.contains("TLS verification off"), "{verified}");
    // The first instance only.
    let insecure = text.replacen("[[instances]]\n", "[[instances]]\ninsecure = true\n", 1);
    let s = screen(&insecure);
    let bar = s
        .lines()
        .find(|l| l.contains("TLS verification off"))
        .unwrap_or_else(|| panic!("the screen says TLS verification is off:\n{s}"));
    assert_eq!(bar.matches("TLS verification off").count(), 1, "{bar}");
    let _ = server.kill();
    let _ = server.wait();
}
