//! Secrets never leak: after a full run of the headless commands against the demo servers, with
//! every log level on, no token appears in the logs, the journal, or any output.

use std::process::Command;

mod common;
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

#[test]
fn no_token_in_logs_journal_or_output_after_a_full_run() {
    let home = tempfile::tempdir().unwrap();
    let logs = home.path().join("logs");
    let data = home.path().join("data");
    let bin = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_driftdeck"));
        c.env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("DRIFTDECK_LOG_DIR", &logs)
            .env("DRIFTDECK_DATA_DIR", &data)
            .env("DRIFTDECK_LOG", "trace")
            .env_remove("DRIFTDECK_CONFIG")
            .env_remove("NO_COLOR");
        c
    };
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
