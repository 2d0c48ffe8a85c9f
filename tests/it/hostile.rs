//! Data written by others never drives the operator's terminal (kubectl's CVE-2021-25743): one
//! payload of every kind (ESC sequences that hide text, set the title or write the clipboard,
//! one-byte C1 CSI and OSC, BEL, DEL, CR, a right-to-left override, an isolate, a zero-width
//! space) planted where servers, manifests, commits, annotations and scenarios carry it, then
//! every headless command's stdout and stderr checked byte by byte: each shows the payload
//! visibly, none carries one of its characters raw, and JSON stays the same value.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use crate::common;

use std::process::Command;

/// The payload, with `PLNT` before it so a test sees it went through.
const PAYLOAD: &str = "PLNT\x1b[8mHIDDEN\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\u{9b}2J\u{9d}0;t\u{7}\x7f\r\u{202e}txt.exe\u{2066}\u{200b}\u{feff}end";
/// The same in a YAML double-quoted scalar.
const PAYLOAD_YAML: &str = "PLNT\\e[8mHIDDEN\\e]0;pwned\\a\\e]52;c;ZXZpbA==\\a\\x9b2J\\x9d0;t\\a\\x7f\\r\\u202etxt.exe\\u2066\\u200b\\ufeffend";

/// Every character of the payload that must never reach a terminal raw.
fn raw_unsafe(s: &str) -> Vec<(usize, char)> {
    s.char_indices()
        .filter(|(_, c)| {
            matches!(c,
                '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
                | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{200b}'..='\u{200f}' | '\u{feff}')
        })
        .collect()
}

/// Checks one command's output byte by byte; returns stdout + stderr as text.
fn check(what: &str, o: &std::process::Output) -> String {
    for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        for (i, b) in bytes.iter().enumerate() {
            assert!(
                !matches!(b, 0x1b | 0x07 | 0x7f | b'\r' | 0x00),
                "{what}: raw byte {b:#04x} at {i} of {stream}: {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let text = std::str::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("{what}: {stream} is not UTF-8: {e}"));
        let bad = raw_unsafe(text);
        assert!(bad.is_empty(), "{what}: {stream} carries {bad:?}: {text:?}");
    }
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// The payload went through, shown visibly.
fn shows_payload(what: &str, out: &str) {
    assert!(
        out.contains("PLNT"),
        "{what}: the payload is not there: {out}"
    );
    assert!(
        out.contains("\\x1b") && out.contains("<U+202E>"),
        "{what}: the payload is not shown visibly: {out}"
    );
}

/// Coloured output: every ESC starts an SGR sequence driftdeck wrote (digits and `;` then
/// `m`), and nothing else of the payload is raw.
fn our_colours_only(what: &str, o: &std::process::Output) -> String {
    let t = String::from_utf8(o.stdout.clone()).expect("UTF-8");
    for (i, _) in t.match_indices('\x1b') {
        let rest = &t[i + 1..];
        let end = rest.find('m').expect("an SGR");
        assert!(
            rest.starts_with('[') && rest[1..end].chars().all(|c| c.is_ascii_digit() || c == ';'),
            "{what}: a sequence that is not ours: {:?}",
            &rest[..end.min(20)]
        );
    }
    let bad = raw_unsafe(&t.replace('\x1b', ""));
    assert!(bad.is_empty(), "{what}: {bad:?} in {t:?}");
    assert!(raw_unsafe(&String::from_utf8_lossy(&o.stderr)).is_empty());
    t
}

/// JSON output: no raw character of the payload, and the same value once parsed.
fn json_keeps_the_value(what: &str, o: &std::process::Output) -> serde_json::Value {
    check(what, o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("\\u009b") && text.contains("\\u202e"),
        "{what}: C1 and bidi escaped: {text}"
    );
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_payload_from_data_drives_the_terminal_in_any_headless_command() {
    let fleet = common::demo(24, 2, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = fleet.write_config(&dir.path().join("cfg")).unwrap();
    let data = dir.path().join("data");
    // A drifted app with a deploy history, renamed to the payload by its (hostile) server, and
    // its commits' tags (part of the commit message and the tags) too.
    let evil = format!("web-{PAYLOAD}");
    {
        let inst = fleet.instance(0);
        let mut st = inst.write();
        let old = st
            .apps
            .iter()
            .find(|(_, a)| {
                a.app.status.sync.status.as_str() == "OutOfSync" && a.app.status.history.len() >= 2
            })
            .map(|(k, _)| k.clone())
            .expect("a drifted app with history");
        let mut a = st.apps.remove(&old).unwrap();
        a.app.metadata.name = evil.clone();
        for t in &mut a.w.tag_history {
            *t = format!("v1-{PAYLOAD}");
        }
        st.apps.insert(evil.clone(), a);
    }
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_driftdeck"))
            .args(args)
            .env("DRIFTDECK_CONFIG", &cfg)
            .env("DRIFTDECK_DATA_DIR", &data)
            .env("DRIFTDECK_LOG_DIR", dir.path().join("logs"))
            .env("HOME", dir.path())
            .env_remove("NO_COLOR")
            .output()
            .unwrap()
    };

    // The fleet: JSON escapes, the rendered frame drops them.
    let o = run(&["snapshot", "--output", "json"]);
    let v = json_keeps_the_value("snapshot json", &o);
    assert!(
        v["apps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == evil),
        "the same name once parsed"
    );
    let o = run(&["snapshot", "--output", "text", "--filter", "PLNT"]);
    let t = check("snapshot text", &o);
    assert!(t.contains("PLNT"), "snapshot text: {t}");
    let o = run(&["snapshot", "--output", "ansi", "--filter", "PLNT"]);
    let t = our_colours_only("snapshot ansi", &o);
    assert!(t.contains("PLNT"), "snapshot ansi: {t}");

    // The actions: plans, commit author and message, operation messages, app names.
    let o = run(&["rollback", &evil, "--dry-run"]);
    shows_payload("rollback plan", &check("rollback plan", &o));
    let o = run(&["sync", &evil, "--yes", "--confirm", &evil]);
    shows_payload("sync", &check("sync", &o));
    let o = run(&["refresh", &evil]);
    shows_payload("refresh", &check("refresh", &o));
    let o = run(&["terminate", &evil, "--dry-run"]);
    shows_payload("terminate", &check("terminate", &o));
    let until = (chrono::Utc::now() + chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let o = run(&[
        "defer",
        &evil,
        "--reason",
        PAYLOAD,
        "--until",
        &until,
        "--yes",
        "--confirm",
        &evil,
    ]);
    shows_payload("defer", &check("defer", &o));
    let o = run(&["deferrals", "list"]);
    shows_payload("deferrals list", &check("deferrals list", &o));
    let o = run(&[
        "annotate",
        &evil,
        "--incident",
        "INC-1",
        "--note",
        PAYLOAD,
        "--dry-run",
    ]);
    shows_payload("annotate", &check("annotate", &o));
    // An error built from the server's reply body (its 404 names the app).
    let o = run(&["refresh", &format!("gone-{PAYLOAD}")]);
    assert_ne!(o.status.code(), Some(0));
    shows_payload("server error", &check("server error", &o));

    // A decision whose values carry the payload.
    let sc = std::fs::read_to_string("tests/scenarios/p03-invoicing-env-log-level-debug.yaml")
        .unwrap()
        .replace(
            "{name: LOG_LEVEL, value: debug}",
            &format!("{{name: LOG_LEVEL, value: \"debug{PAYLOAD_YAML}\"}}"),
        );
    assert!(sc.contains("PLNT"));
    let scf = dir.path().join("evil.yaml");
    std::fs::write(&scf, sc).unwrap();
    let o = run(&[
        "decide",
        "--scenario",
        scf.to_str().unwrap(),
        "--output",
        "text",
    ]);
    shows_payload("decide text", &check("decide text", &o));
    let o = run(&[
        "decide",
        "--scenario",
        scf.to_str().unwrap(),
        "--output",
        "json",
    ]);
    json_keeps_the_value("decide json", &o);

    // The journal, which holds all of the above.
    let o = run(&["journal", "tail"]);
    shows_payload("journal tail", &check("journal tail", &o));
    let o = run(&["journal", "tail", "--output", "json"]);
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    check("journal tail json", &o);
    let o = run(&["journal", "export"]);
    check("journal export", &o);

    // Files: a manifest whose name hides the rest of the diff, a health message.
    let obj = |replicas: u32| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: \"x{PAYLOAD_YAML}\"\n  namespace: default\nspec:\n  replicas: {replicas}\n"
        )
    };
    let live = dir.path().join("live.yaml");
    let desired = dir.path().join("desired.yaml");
    std::fs::write(&live, obj(3)).unwrap();
    std::fs::write(&desired, obj(2)).unwrap();
    for out in ["text", "ansi"] {
        let o = run(&[
            "diff",
            "--live",
            live.to_str().unwrap(),
            "--desired",
            desired.to_str().unwrap(),
            "--output",
            out,
        ]);
        let what = format!("diff {out}");
        if out == "text" {
            let t = check(&what, &o);
            shows_payload(&what, &t);
            let header = t.lines().find(|l| l.starts_with("--- ")).unwrap();
            assert!(header.contains("\\x1b[8m"), "{header}");
        } else {
            let t = our_colours_only(&what, &o);
            assert!(t.contains("\\x1b[8m") && t.contains("<U+202E>"), "{t}");
        }
    }
    let o = run(&[
        "diff",
        "--live",
        live.to_str().unwrap(),
        "--desired",
        desired.to_str().unwrap(),
        "--output",
        "json",
    ]);
    json_keeps_the_value("diff json", &o);
    let dep = dir.path().join("dep.yaml");
    std::fs::write(
        &dep,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nstatus:\n  phase: Failed\n  message: \"{PAYLOAD_YAML}\"\n"
        ),
    )
    .unwrap();
    let o = run(&[
        "health",
        "--file",
        dep.to_str().unwrap(),
        "--output",
        "text",
    ]);
    shows_payload("health text", &check("health text", &o));
    let o = run(&[
        "health",
        "--file",
        dep.to_str().unwrap(),
        "--output",
        "json",
    ]);
    json_keeps_the_value("health json", &o);
}

/// Another user on the same host: a data directory others can write, or a journal that is a
/// link to another file, is refused with a sentence and nothing is written through it; the
/// directories and files driftdeck creates are private whatever the umask.
#[cfg(unix)]
#[test]
fn foreign_folders_and_links_are_refused_and_new_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let decide = |data: &std::path::Path, logs: &std::path::Path| {
        // umask 000: what driftdeck creates must be private on its own account.
        Command::new("sh")
            .arg("-c")
            .arg("umask 000; exec \"$0\" decide --scenario tests/scenarios/p03-invoicing-env-log-level-debug.yaml --output json")
            .arg(env!("CARGO_BIN_EXE_driftdeck"))
            .env("DRIFTDECK_DATA_DIR", data)
            .env("DRIFTDECK_LOG_DIR", logs)
            .env("HOME", dir.path())
            .env_remove("DRIFTDECK_CONFIG")
            .output()
            .unwrap()
    };
    // Fresh: 0700 directories, 0600 files.
    let data = dir.path().join("fresh/data");
    let logs = dir.path().join("fresh/logs");
    let o = decide(&data, &logs);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&logs), 0o700);
    assert_eq!(mode(&data.join("journal.jsonl")), 0o600);
    assert_eq!(mode(&logs.join("driftdeck.log")), 0o600);

    // A folder someone pre-created for everyone to write into.
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = decide(&shared, &shared);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("can be written by other users"), "{err}");
    assert!(err.contains("logging is off"), "{err}");
    assert!(
        std::fs::read_dir(&shared).unwrap().next().is_none(),
        "nothing written"
    );

    // A journal that is a link to a file of the user's (the attacker wants it overwritten).
    let linked = dir.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    std::fs::set_permissions(&linked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, linked.join("journal.jsonl")).unwrap();
    let o = decide(&linked, &logs);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

/// The demo's folder has a random name and is private: its tokens and kubeconfig cannot be
/// read, and it cannot be pre-created by someone else.
#[tokio::test]
async fn the_demo_writes_its_tokens_in_a_random_private_folder() {
    use std::os::unix::fs::PermissionsExt;
    let a = common::demo(4, 1, 1).await;
    let b = common::demo(4, 1, 1).await;
    assert_ne!(a.dir(), b.dir());
    let name = a.dir().file_name().unwrap().to_string_lossy().into_owned();
    assert!(!name.contains(&std::process::id().to_string()), "{name}");
    let m = std::fs::metadata(a.dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(m, 0o700);
    let kc = std::fs::metadata(a.dir().join("kubeconfig")).unwrap();
    assert_eq!(kc.permissions().mode() & 0o777, 0o600);
}

/// Hostile input stays cheap: a file nested 100,000 levels deep (36 s in the YAML parser
/// before) and an endless device are refused at once with a sentence naming the limit.
#[test]
fn deep_or_endless_files_are_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.yaml");
    let n = 100_000;
    std::fs::write(
        &deep,
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata: {}{}\n",
            "[".repeat(n),
            "]".repeat(n)
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_driftdeck"));
        c.args(args)
            .env("DRIFTDECK_DATA_DIR", dir.path().join("data"))
            .env("DRIFTDECK_LOG_DIR", dir.path().join("logs"))
            .env("HOME", dir.path())
            .env_remove("DRIFTDECK_CONFIG");
        // A guard against the old behaviour (minutes), not a benchmark.
        let mut child = c
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > std::time::Duration::from_secs(30) {
                let _ = child.kill();
                panic!("{args:?} ran for more than 30 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    };
    let d = deep.to_str().unwrap();
    for args in [
        vec!["health", "--file", d],
        vec!["diff", "--live", d, "--desired", d],
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("nested more than 100 levels"),
            "{args:?}: {err}"
        );
    }
    let o = run(&["diff", "--live", "/dev/zero", "--desired", d]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("larger than 16 MiB"), "{err}");
}

/// A decision over a deep 200 KB ConfigMap value (minutes of YAML parsing before) is made at
/// once: the value is compared as a whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_configmap_value_does_not_stall_a_decision() {
    use driftdeck::decide::decider::{Decider, Mode};
    use driftdeck::decide::policy::Bundle;
    use driftdeck::decide::scenario::Scenario;
    let n = 100_000;
    let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let cm = |v: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "pay"},
            "data": {"config.yaml": format!("a:\n  b: {v}\n")}})
    };
    let sc: Scenario = serde_json::from_value(serde_json::json!({
        "name": "deep-value",
        "now": "2026-07-19T19:42:00Z",
        "app": {"metadata": {"name": "pay", "namespace": "argocd", "labels": {"env": "dev"}},
                "spec": {"project": "pay", "destination": {"server": "https://x", "namespace": "pay"}}},
        "resources": [{"desired": cm("1"), "live": cm(&deep)}],
    }))
    .unwrap();
    let d = std::sync::Arc::new(Decider::new(Bundle::builtin().unwrap()));
    let task = {
        let (d, sc) = (d.clone(), sc.clone());
        tokio::task::spawn_blocking(move || d.assess(&sc).map(|_| ()))
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), task)
        .await
        .expect("decided within 30 s (a guard, not a benchmark)")
        .unwrap()
        .unwrap();
    let dec = d.decide(&sc, Mode::Shadow).await.unwrap();
    assert!(!dec.policy.reasons.is_empty(), "{dec:?}");
}

/// The decision budget: CPU-bound work that runs past it is given up with a sentence (a human
/// decides) and the caller is free again at once; work within it returns its result. The TUI's
/// decision task runs the local part of every decision through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_over_its_budget_is_given_up_with_a_sentence() {
    use driftdeck::decide::decider::within_budget;
    use std::time::{Duration, Instant};
    let start = Instant::now();
    let e = within_budget(Duration::from_millis(50), || {
        // A stand-in for a hostile object: busy for 3 s.
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < Duration::from_secs(3) {
            n = n.wrapping_add(1);
        }
        n
    })
    .await
    .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "the caller waited for the work"
    );
    assert!(
        e.contains("took longer than 50 ms") && e.contains("by hand"),
        "{e}"
    );
    assert_eq!(within_budget(Duration::from_secs(10), || 42).await, Ok(42));
    // The real decision path, under the real budget, over a scenario.
    let sc = driftdeck::decide::scenario::Scenario::load(std::path::Path::new(
        "tests/scenarios/p03-invoicing-env-log-level-debug.yaml",
    ))
    .unwrap();
    let d = std::sync::Arc::new(driftdeck::decide::decider::Decider::new(
        driftdeck::decide::policy::Bundle::builtin().unwrap(),
    ));
    let r = within_budget(driftdeck::decide::decider::BUDGET, move || {
        d.assess(&sc).is_ok()
    })
    .await;
    assert_eq!(r, Ok(true));
}

/// `journal verify` reports a cut at the end of the journal (which the hash chain alone cannot
/// see) and exits 1; an operator's `--accept` is recorded and the journal verifies after it.
#[test]
fn journal_verify_reports_a_cut_tail_until_an_operator_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_driftdeck"))
            .args(args)
            .env("DRIFTDECK_DATA_DIR", &data)
            .env("DRIFTDECK_LOG_DIR", dir.path().join("logs"))
            .env("DRIFTDECK_OPERATOR", "night-sre")
            .env("HOME", dir.path())
            .env_remove("DRIFTDECK_CONFIG")
            .output()
            .unwrap()
    };
    let sc = "tests/scenarios/p03-invoicing-env-log-level-debug.yaml";
    for _ in 0..3 {
        assert_eq!(run(&["decide", "--scenario", sc]).status.code(), Some(0));
    }
    let o = run(&["journal", "verify"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let path = data.join("journal.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, lines[..2].join("\n") + "\n").unwrap();
    let o = run(&["journal", "verify"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("DAMAGED") && out.contains("cut from its end"),
        "{out}"
    );
    let o = run(&["journal", "verify", "--accept"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("accepted by night-sre"), "{out}");
    let o = run(&["journal", "verify"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("(accepted)") && out.contains("cut from its end"),
        "{out}"
    );
}
