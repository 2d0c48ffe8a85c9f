//! The shipped policies give the same results in regorus and in real OPA (1.20, through the
//! `opa-golib-python-bindings` wheel that .ci/run fetches): every decision on every labelled
//! scenario, and every `test_` rule. Skips with a notice where the wheel is not there; under
//! CI=true it must run.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use crate::common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use driftdeck::decide::decider::Decider;
use driftdeck::decide::policy::{Bundle, DEFAULT_DATA, DEFAULT_DRIFT, DEFAULT_LIB, DEFAULT_TESTS};
use driftdeck::decide::scenario;
use serde_json::{Value, json};

fn bindings() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("DRIFTDECK_OPA_BINDINGS").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/opa-wheel")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.join("opa_bindings").is_dir() {
            return Some(c);
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but the OPA wheel is not unpacked in target/opa-wheel (.ci/run fetches it)"
        );
    }
    eprintln!(
        "skipped: the OPA Python bindings are not here (run .ci/run, or set DRIFTDECK_OPA_BINDINGS)"
    );
    None
}

/// Runs a job (policies, data, inputs, entry) through real OPA; its answer.
fn opa(bindings: &std::path::Path, job: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/opa_compare.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .env("PYTHONPATH", bindings)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "OPA: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn regorus_and_opa_agree_on_every_scenario_and_test() {
    let Some(dir) = bindings() else { return };
    let decider = Decider::new(Bundle::builtin().unwrap());
    let mut dirs = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")];
    if let Some(shared) = common::shared("scenarios") {
        dirs.push(shared);
    }
    let mut inputs = Vec::new();
    let mut ours = Vec::new();
    for d in dirs {
        for (_, sc) in scenario::load_dir(&d).unwrap() {
            let facts = decider.facts(&sc).unwrap();
            let input = facts.input_json();
            let mut e = decider.bundle.evaluator();
            let r = e.evaluate(&input).unwrap();
            ours.push((sc.name.clone(), r));
            inputs.push(input);
        }
    }
    let job = json!({
        "policies": {
            "lib.rego": DEFAULT_LIB,
            "drift.rego": DEFAULT_DRIFT,
            "drift_test.rego": DEFAULT_TESTS,
        },
        "data": serde_json::from_str::<Value>(DEFAULT_DATA).unwrap(),
        "inputs": inputs,
        "entry": "driftdeck.drift.decision",
    });
    let res = opa(&dir, &job);
    let results = res["results"].as_array().unwrap();
    assert_eq!(results.len(), ours.len());
    for ((name, r), opa) in ours.iter().zip(results) {
        assert!(opa.get("error").is_none(), "{name}: OPA says {opa}");
        assert_eq!(opa["verdict"], r.verdict.as_str(), "{name}");
        assert_eq!(opa["rule"], r.rule, "{name}");
        assert_eq!(opa["hard"], r.hard, "{name}");
        let mut a: Vec<String> = opa["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        let mut b = r.reasons.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{name}: reasons differ");
        assert_eq!(
            opa["findings"].as_array().unwrap().len(),
            r.findings.len(),
            "{name}: findings differ"
        );
        for (x, y) in opa["findings"].as_array().unwrap().iter().zip(&r.findings) {
            assert_eq!(x, y, "{name}: a finding differs");
        }
    }
    let tests = &res["tests"];
    assert!(
        tests["failed"].as_array().unwrap().is_empty(),
        "OPA: {tests}"
    );
    assert!(
        tests["errors"].as_array().unwrap().is_empty(),
        "OPA: {tests}"
    );
    assert!(tests["passed"].as_array().unwrap().len() >= 20, "{tests}");
}

/// `driftdeck policy eval` prints what OPA computes for the same input and bundle: the input
/// it builds from a scenario, handed to real OPA, gives the same decision document.
#[test]
fn policy_eval_prints_what_opa_computes() {
    let Some(dir) = bindings() else { return };
    let bin = env!("CARGO_BIN_EXE_driftdeck");
    let tmp = tempfile::tempdir().unwrap();
    let sc = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios/p01-storefront-hpa-max-replicas-incident.yaml");
    let run = |args: &[&str]| {
        let o = Command::new(bin)
            .args(args)
            .env_remove("DRIFTDECK_CONFIG")
            .env("HOME", tmp.path())
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .env("DRIFTDECK_DATA_DIR", tmp.path())
            .env("DRIFTDECK_LOG_DIR", tmp.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let input = run(&[
        "policy",
        "eval",
        "--scenario",
        sc.to_str().unwrap(),
        "--print-input",
    ]);
    let file = tmp.path().join("input.json");
    std::fs::write(&file, input.to_string()).unwrap();
    let ours = run(&["policy", "eval", "--input", file.to_str().unwrap()]);
    assert_eq!(ours["verdict"], "allow", "{ours}");
    let job = json!({
        "policies": {"lib.rego": DEFAULT_LIB, "drift.rego": DEFAULT_DRIFT, "drift_test.rego": DEFAULT_TESTS},
        "data": serde_json::from_str::<Value>(DEFAULT_DATA).unwrap(),
        "inputs": [input],
        "entry": "driftdeck.drift.decision",
    });
    let res = opa(&dir, &job);
    let opa = &res["results"][0];
    for k in ["verdict", "rule", "hard", "findings"] {
        assert_eq!(opa[k], ours[k], "{k}: OPA {opa} / driftdeck {ours}");
    }
    let sorted = |v: &Value| {
        let mut a: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.to_string())
            .collect();
        a.sort();
        a
    };
    assert_eq!(sorted(&opa["reasons"]), sorted(&ours["reasons"]));
}
