//! The command line as scripts use it: output shapes and exit codes (docs/cli.md).

use std::process::{Command, Output};

use crate::common;
use common::{colour_kinds, serve_demo, sgr_params};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_driftdeck"));
    let home = std::env::temp_dir().join(format!("driftdeck-cli-test-{}", std::process::id()));
    c.env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("DRIFTDECK_LOG_DIR", home.join("logs"))
        .env_remove("DRIFTDECK_CONFIG")
        .env_remove("NO_COLOR");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn snapshot_json_has_the_contract_shape() {
    let o = run(&[
        "snapshot",
        "--demo",
        "--apps",
        "50",
        "--clusters",
        "5",
        "--instances",
        "3",
        "--output",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let insts = v["instances"].as_array().unwrap();
    assert_eq!(insts.len(), 3);
    for i in insts {
        assert!(i["name"].is_string() && i["url"].is_string());
        assert_eq!(i["state"], "connected");
    }
    let apps = v["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 50);
    for a in apps {
        for k in [
            "instance",
            "name",
            "project",
            "cluster",
            "namespace",
            "sync",
            "health",
        ] {
            assert!(a[k].is_string(), "{k} in {a}");
        }
        assert!(a["operation"].is_string() || a["operation"].is_null());
        assert!(a["auto_sync"].is_boolean());
        assert!(a["drift"].is_u64());
    }
    assert_eq!(v["summary"]["apps"], 50);
    // Deterministic for a seed.
    let again = run(&[
        "snapshot",
        "--demo",
        "--apps",
        "50",
        "--clusters",
        "5",
        "--instances",
        "3",
    ]);
    let w: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
    let strip = |v: &serde_json::Value| {
        v["apps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].clone(),
                    a["sync"].clone(),
                    a["health"].clone(),
                    a["drift"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&v), strip(&w));
}

#[test]
fn snapshot_filter_and_keys() {
    let o = run(&[
        "snapshot",
        "--demo",
        "--apps",
        "80",
        "--filter",
        "status:OutOfSync,Degraded",
    ]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let apps = v["apps"].as_array().unwrap();
    assert!(!apps.is_empty());
    assert!(
        apps.iter()
            .all(|a| a["sync"] == "OutOfSync" || a["health"] == "Degraded")
    );

    let o = run(&[
        "snapshot", "--demo", "--output", "text", "--size", "100x30", "--keys", "j enter",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(text.lines().count(), 30);
    assert!(text.lines().all(|l| l.chars().count() == 100));
    assert!(text.contains("1 Resources ("), "{text}");

    let o = run(&["snapshot", "--demo", "--output", "ansi", "--size", "80x24"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("\x1b[38;2;"), "truecolor escapes");
    let o = bin()
        .args(["snapshot", "--demo", "--output", "ansi", "--size", "80x24"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        colour_kinds(&stdout(&o)),
        (false, false, false),
        "NO_COLOR: no colour codes"
    );
}

#[test]
fn bad_input_exits_2_with_a_sentence() {
    for (args, needle) in [
        (vec!["snapshot", "--demo", "--size", "huge"], "--size"),
        (vec!["snapshot", "--demo", "--keys", "hyper-x"], "--keys"),
        (
            vec!["snapshot", "--demo", "--filter", "colour:red"],
            "unknown facet",
        ),
        (vec!["snapshot"], "--demo"),
        (
            vec!["demo", "--drift-every", "3 days", "--serve"],
            "--drift-every",
        ),
    ] {
        let o = run(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    let o = run(&[]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("driftdeck demo"),
        "no config: suggests the demo: {}",
        stderr(&o)
    );
}

/// `demo --serve` prints the config path first; a second config adds a dead instance; the
/// snapshot then exits 3 and still shows the live instances' apps.
#[test]
fn demo_serve_and_a_dead_instance() {
    let (mut child, first) = serve_demo(
        bin(),
        &["--apps", "30", "--instances", "2", "--drift-every", "0"],
    );
    let path = std::path::PathBuf::from(first.trim());
    assert!(path.ends_with("config.toml"), "{first}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("[[instances]]") && text.contains("token = "),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600,
            "it holds tokens"
        );
    }
    let o = run(&["--config", path.to_str().unwrap(), "snapshot"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["apps"].as_array().unwrap().len(), 30);

    let dir = tempfile::tempdir().unwrap();
    let with_dead = dir.path().join("config.toml");
    std::fs::write(&with_dead, format!("{text}\n[[instances]]\nname = \"dead\"\nurl = \"http://127.0.0.1:1\"\ntoken = \"a.b.c\"\n")).unwrap();
    let o = run(&["--config", with_dead.to_str().unwrap(), "snapshot"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["apps"].as_array().unwrap().len(),
        30,
        "the others are all there"
    );
    let dead = v["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "dead")
        .unwrap();
    assert_eq!(dead["state"], "unreachable");
    assert!(dead["error"].as_str().unwrap().contains("cannot reach"));

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!path.exists(), "the demo config is removed on exit");
}

#[test]
fn check_config_and_print_default() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[[instances]]\nname = \"a\"\nurl = \"https://argocd.example.com\"\ntoken_env = \"X\"\n",
    )
    .unwrap();
    let o = run(&["--config", cfg.to_str().unwrap(), "check-config"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));

    std::fs::write(
        &cfg,
        "theme = \"mine\"\n[[instances]]\nname = \"a\"\nurl = \"argocd.example.com\"\nbogus = 1\n",
    )
    .unwrap();
    let o = run(&["--config", cfg.to_str().unwrap(), "check-config"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("config.toml:5"), "{}", stdout(&o));

    std::fs::write(&cfg, "theme = \"mine\"\nkeymap = \"mine\"\n").unwrap();
    std::fs::create_dir_all(dir.path().join("themes")).unwrap();
    std::fs::create_dir_all(dir.path().join("keymaps")).unwrap();
    std::fs::write(
        dir.path().join("themes/mine.toml"),
        "[styles]\n\"text\" = { fg = \"#zzzzzz\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("keymaps/mine.toml"),
        "[fleet]\n\"j\" = \"jump\"\n",
    )
    .unwrap();
    let o = run(&["--config", cfg.to_str().unwrap(), "check-config"]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.contains("themes/mine.toml:2"), "{out}");
    assert!(
        out.contains("keymaps/mine.toml:2") && out.contains("jump"),
        "{out}"
    );

    // The decision sections: a broken policy bundle is named with its file and line; an LLM
    // advisor without its section is refused.
    let pol = dir.path().join("policy");
    std::fs::create_dir_all(&pol).unwrap();
    std::fs::write(
        pol.join("extra.rego"),
        "package driftdeck.extra\n\nx := 1\n\ny if {\n\tx ==\n}\n",
    )
    .unwrap();
    std::fs::write(&cfg, format!("[policy]\ndir = \"{}\"\n", pol.display())).unwrap();
    let o = run(&["--config", cfg.to_str().unwrap(), "check-config"]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.contains("extra.rego:7: the policy bundle: expecting expression"),
        "{out}"
    );
    std::fs::write(&cfg, "[decide]\nadvisor = \"llm\"\n").unwrap();
    let o = run(&["--config", cfg.to_str().unwrap(), "check-config"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("[decide.llm]"), "{}", stdout(&o));

    let o = run(&["print-default", "keymap"]);
    assert_eq!(code(&o), 0);
    for a in driftdeck::tui::action::Action::ALL {
        assert!(stdout(&o).contains(a.name()), "{}", a.name());
    }
    let o = run(&["print-default", "config"]);
    assert_eq!(code(&o), 0);
    assert!(driftdeck::config::Config::parse(std::path::Path::new("x"), &stdout(&o)).is_ok());
    let o = run(&["print-default", "theme"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("sync.outofsync"));
    assert_eq!(code(&run(&["print-default", "theme", "nope"])), 2);
}

fn write(dir: &tempfile::TempDir, name: &str, text: &[u8]) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn diff_files_exit_codes_and_outputs() {
    let d = tempfile::tempdir().unwrap();
    let live = write(&d, "live.yaml", b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  managedFields:\n  - manager: kubectl-scale\n    operation: Update\n    time: '2026-11-20T15:58:00Z'\n    fieldsType: FieldsV1\n    fieldsV1: {f:spec: {f:replicas: {}}}\nspec:\n  replicas: 12\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:1\n");
    let desired = write(&d, "desired.yaml", b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:1\n");
    let o = run(&["diff", "--live", &live, "--desired", &desired]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let t = stdout(&o);
    assert!(
        t.contains("--- live/apps/Deployment/web")
            && t.contains("-  replicas: 12")
            && t.contains("+  replicas: 4"),
        "{t}"
    );
    let o = run(&[
        "diff",
        "--live",
        &live,
        "--desired",
        &desired,
        "--output",
        "json",
    ]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["modified"], true);
    assert_eq!(v["changes"][0]["path"], "/spec/replicas");
    assert_eq!(v["changes"][0]["live"], 12);
    assert_eq!(v["changes"][0]["desired"], 4);
    assert_eq!(v["changes"][0]["manager"]["manager"], "kubectl-scale");
    assert!(v["live"].is_object() && v["desired"].is_object());
    let o = run(&[
        "diff",
        "--live",
        &live,
        "--desired",
        &desired,
        "--output",
        "ansi",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("\x1b["));
    let same = run(&["diff", "--live", &desired, "--desired", &desired]);
    assert_eq!(code(&same), 0);
    assert_eq!(stdout(&same), "");
    let ignore = write(
        &d,
        "ignore.yaml",
        b"- group: apps\n  kind: Deployment\n  jsonPointers: [/spec/replicas]\n",
    );
    let o = run(&[
        "diff",
        "--live",
        &live,
        "--desired",
        &desired,
        "--ignore-differences",
        &ignore,
    ]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn diff_bad_input_exits_2_naming_the_file_or_rule() {
    let d = tempfile::tempdir().unwrap();
    let good = write(
        &d,
        "good.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    let cases: Vec<(String, &str)> = vec![
        (
            write(&d, "trunc.json", b"{\"kind\": \"ConfigMap\", \"data\": {"),
            "not valid JSON",
        ),
        (
            write(&d, "garbage.bin", b"\x89PNG\r\n\x1a\n\x00\x00"),
            "not text",
        ),
        (
            write(
                &d,
                "stream.yaml",
                b"kind: ConfigMap\n---\nkind: ConfigMap\n",
            ),
            "2 YAML documents",
        ),
        (
            write(&d, "nokind.yaml", b"metadata:\n  name: c\n"),
            "no `kind`",
        ),
        (
            write(
                &d,
                "other.yaml",
                b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: c\n",
            ),
            "different kinds",
        ),
    ];
    for (file, want) in &cases {
        let o = run(&["diff", "--live", file, "--desired", &good]);
        assert_eq!(code(&o), 2, "{file}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{file}: {}", stderr(&o));
    }
    let bad_jq = write(
        &d,
        "jq.yaml",
        b"- kind: ConfigMap\n  jqPathExpressions: ['.data | select(']\n",
    );
    let o = run(&[
        "diff",
        "--live",
        &good,
        "--desired",
        &good,
        "--ignore-differences",
        &bad_jq,
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("jq.yaml") && stderr(&o).contains("rule #1"),
        "{}",
        stderr(&o)
    );
    let o = run(&["diff", "--live", "/no/such/file", "--desired", &good]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("/no/such/file"));
}

#[test]
fn health_command() {
    let d = tempfile::tempdir().unwrap();
    let dep = write(&d, "dep.yaml", b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  generation: 1\nspec:\n  paused: true\n");
    let o = run(&["health", "--file", &dep]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"status": "Suspended", "message": "Deployment is paused"})
    );
    let o = run(&["health", "--file", &dep, "--output", "text"]);
    assert_eq!(stdout(&o).trim(), "Suspended: Deployment is paused");
    let cm = write(
        &d,
        "cm.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    let o = run(&["health", "--file", &cm]);
    assert_eq!(code(&o), 0);
    assert_eq!(stdout(&o).trim(), "{\"status\":null}");
    let bad = write(&d, "bad.json", b"{\"kind\":");
    let o = run(&["health", "--file", &bad]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("bad.json"));
}

#[test]
fn diff_of_a_live_app() {
    let (mut child, first) = serve_demo(
        bin(),
        &["--apps", "40", "--instances", "1", "--drift-every", "0"],
    );
    let cfg = first.trim().to_string();
    let o = run(&["--config", &cfg, "snapshot", "--filter", "sync:OutOfSync"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let drifted = v["apps"][0]["name"].as_str().unwrap().to_string();
    let o = run(&["--config", &cfg, "snapshot", "--filter", "sync:Synced"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let synced = v["apps"][0]["name"].as_str().unwrap().to_string();

    let o = run(&["--config", &cfg, "diff", &drifted]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("--- live/") && stdout(&o).contains("+++ desired/"),
        "{}",
        stdout(&o)
    );
    let o = run(&["--config", &cfg, "diff", &drifted, "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["modified"], true);
    assert!(!v["resources"].as_array().unwrap().is_empty());
    let o = run(&["--config", &cfg, "diff", &synced]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let o = run(&["--config", &cfg, "diff", "no-such-app"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no application `no-such-app`"));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

/// The headless actions against `demo --serve`: plans without --yes (exit 1), --dry-run
/// (exit 0, nothing changed), acting with --yes, refusals (exit 1), errors (exit 2), and
/// `deferrals apply` restoring a due deferral.
#[test]
fn headless_actions_plan_refuse_and_act() {
    let (mut child, first) = serve_demo(
        bin(),
        &["--apps", "40", "--instances", "1", "--drift-every", "0"],
    );
    let cfg = first.trim().to_string();
    let data = tempfile::tempdir().unwrap();
    let act = |args: &[&str]| {
        bin()
            .env("DRIFTDECK_DATA_DIR", data.path())
            .args(["--config", &cfg])
            .args(args)
            .output()
            .unwrap()
    };
    let state = |name: &str| -> serde_json::Value {
        let o = act(&["snapshot"]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["apps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap()
    };
    let o = act(&["snapshot", "--filter", "sync:OutOfSync auto:off env:prod"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let app = v["apps"][0]["name"].as_str().unwrap().to_string();

    let o = act(&["sync", &app]);
    assert_eq!(code(&o), 1, "without --yes: the plan, exit 1");
    assert!(
        stdout(&o).contains(&format!("sync {app} on instance")),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("sync windows:"), "{}", stdout(&o));
    assert!(stderr(&o).contains("add --yes"), "{}", stderr(&o));
    let o = act(&["sync", &app, "--dry-run"]);
    assert_eq!(code(&o), 0);
    assert_eq!(state(&app)["sync"], "OutOfSync");
    let o = act(&["--read-only", "sync", &app, "--yes"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("read-only"), "{}", stderr(&o));
    let o = act(&["sync", &app, "--resource", "nonsense", "--yes"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = act(&["sync", "no-such-app", "--yes"]);
    assert_eq!(code(&o), 2);
    // A production app is protected: its name, again.
    let o = act(&["sync", &app, "--yes"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("is protected"), "{}", stderr(&o));
    let o = act(&[
        "sync",
        &app,
        "--yes",
        "--confirm",
        &app,
        "--sync-option",
        "Validate=false",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("Succeeded"), "{}", stdout(&o));
    assert_eq!(state(&app)["sync"], "Synced");
    let o = act(&["terminate", &app, "--yes"]);
    assert_eq!(code(&o), 1, "nothing to terminate: {}", stderr(&o));

    let o = act(&["refresh", &app, "--hard"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("refreshed (hard)"));

    // A protected app asks for its name to annotate too, as every other action does.
    let o = act(&[
        "annotate",
        &app,
        "--incident",
        "INC-7",
        "--note",
        "drill",
        "--yes",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("is protected"), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing was done"), "{}", stderr(&o));
    let o = act(&[
        "annotate",
        &app,
        "--incident",
        "INC-7",
        "--note",
        "drill",
        "--yes",
        "--confirm",
        &app,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = act(&["annotate", &app, "--yes"]);
    assert_eq!(code(&o), 2, "--incident is required");

    let o = act(&["defer", &app, "--until", "2099-01-01T00:00:00Z", "--yes"]);
    assert_eq!(code(&o), 2, "--reason is required: {}", stderr(&o));
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let o = act(&[
        "defer",
        &app,
        "--reason",
        "game day",
        "--until",
        &soon,
        "--yes",
        "--confirm",
        &app,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = act(&["deferrals", "list"]);
    assert_eq!(code(&o), 0);
    assert!(
        stdout(&o).contains(&app) && stdout(&o).contains("game day"),
        "{}",
        stdout(&o)
    );
    crate::common::wait_past(&soon);
    let o = act(&["deferrals", "apply", "--dry-run"]);
    assert!(stdout(&o).contains("would restore"), "{}", stdout(&o));
    let o = act(&["deferrals", "apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("restored"), "{}", stdout(&o));
    let o = act(&["deferrals", "list"]);
    assert!(!stdout(&o).contains(&app), "{}", stdout(&o));

    let o = act(&[
        "rollback",
        &app,
        "--reason",
        "drill",
        "--yes",
        "--confirm",
        &app,
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("ok roll back to #"), "{}", stdout(&o));
    let o = act(&["rollback", &app, "--id", "9999", "--yes"]);
    assert_eq!(code(&o), 1);

    // Every action is in the journal.
    let o = act(&["journal", "tail"]);
    let t = stdout(&o);
    for a in [
        "action sync",
        "action annotate",
        "action defer",
        "action restore-deferral",
        "action rollback",
    ] {
        assert!(t.contains(a), "{a} missing: {t}");
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

#[test]
fn check_config_names_a_missing_or_broken_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let kc = dir.path().join("kubeconfig");
    let write_cfg = |kubeconfig: &std::path::Path| {
        std::fs::write(
            &cfg,
            format!(
                "[[instances]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\n[kube]\nkubeconfig = \"{}\"\n",
                kubeconfig.display()
            ),
        )
        .unwrap();
    };
    write_cfg(&dir.path().join("nope"));
    let o = run(&["check-config", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(
        stdout(&o).contains("[kube]: the kubeconfig") && stdout(&o).contains("does not exist"),
        "{}",
        stdout(&o)
    );
    std::fs::write(&kc, "clusters: [this is not a kubeconfig").unwrap();
    write_cfg(&kc);
    let o = run(&["check-config", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("cannot be read"), "{}", stdout(&o));
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
    )
    .unwrap();
    let o = run(&["check-config", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

/// Without a driftdeck config, every context of `argocd login` is an instance (its session
/// reused); with `argocd_contexts = true` they join the configured ones.
#[test]
fn the_contexts_of_the_argocd_cli_are_instances() {
    let (mut child, first) = serve_demo(
        bin(),
        &[
            "--apps",
            "30",
            "--instances",
            "2",
            "--clusters",
            "4",
            "--drift-every",
            "0",
        ],
    );
    let served: toml::Value =
        toml::from_str(&std::fs::read_to_string(first.trim()).unwrap()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut contexts = String::new();
    let mut servers = String::new();
    let mut users = String::new();
    for (i, inst) in served["instances"].as_array().unwrap().iter().enumerate() {
        let hostport = inst["url"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://")
            .to_string();
        let token = inst["token"].as_str().unwrap();
        contexts.push_str(&format!(
            "- name: ctx-{i}\n  server: {hostport}\n  user: {hostport}\n"
        ));
        servers.push_str(&format!("- server: {hostport}\n  plain-text: true\n"));
        users.push_str(&format!("- name: {hostport}\n  auth-token: {token}\n"));
    }
    let dir = home.path().join("config/argocd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config"),
        format!("contexts:\n{contexts}current-context: ctx-0\nservers:\n{servers}users:\n{users}"),
    )
    .unwrap();
    let o = bin()
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("DRIFTDECK_DATA_DIR", home.path().join("data"))
        .args(["snapshot"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = v["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["ctx-0", "ctx-1"]);
    assert_eq!(v["apps"].as_array().unwrap().len(), 30);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

#[test]
fn snapshot_as_svg_keeps_the_colours() {
    let o = run(&[
        // Wide enough for the title beside the summary (at 100 columns the summary's
        // segments take the line first).
        "snapshot", "--demo", "--output", "svg", "--size", "120x24", "--keys", "j",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{}",
        &s[..80.min(s.len())]
    );
    assert!(s.trim_end().ends_with("</svg>"));
    assert_eq!(s.matches("<text ").count(), s.matches("</text>").count());
    // The theme's colours: the title's teal, the selection's background.
    assert!(s.contains("fill=\"#39c5bb\""), "title colour");
    assert!(s.contains("fill=\"#264f78\""), "selection background");
    assert!(
        s.contains(">driftdeck") || s.contains(" driftdeck demo "),
        "the title text"
    );
    assert!(!s.contains('\u{1b}'), "no escape codes in an SVG");
}

#[test]
fn colour_depth_comes_from_no_color_then_the_flag_then_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let snap = |extra: &[&str], no_color: bool| -> String {
        let mut c = bin();
        c.args(["--config", cfg.to_str().unwrap()])
            .args(extra)
            .args(["snapshot", "--demo", "--output", "ansi", "--size", "100x30"]);
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let o = c.output().unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    };
    std::fs::write(&cfg, "colors = \"16\"\n").unwrap();
    assert_eq!(
        colour_kinds(&snap(&[], false)),
        (false, false, true),
        "config: 16"
    );
    assert_eq!(
        colour_kinds(&snap(&["--colors", "256"], false)),
        (false, true, false),
        "the flag wins over the config"
    );
    let plain = snap(&["--colors", "truecolor"], true);
    assert_eq!(colour_kinds(&plain), (false, false, false), "NO_COLOR wins");
    // Without colour the selection and the status bar are still there, in reverse video.
    assert!(
        sgr_params(&plain).iter().any(|p| p.contains(&7)),
        "reverse video for the selection"
    );

    std::fs::write(&cfg, "theme = \"light\"\ncolors = \"sixteen\"\n").unwrap();
    let o = run(&["--config", cfg.to_str().unwrap(), "check-config"]);
    assert_eq!(code(&o), 1);
    assert!(
        stdout(&o).contains("config.toml:2") && stdout(&o).contains("sixteen"),
        "{}",
        stdout(&o)
    );
    let o = run(&["--colors", "lots", "snapshot", "--demo"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("truecolor"), "{}", stderr(&o));
}

#[test]
fn a_flaky_demo_still_gives_the_whole_fleet() {
    for _ in 0..3 {
        let o = run(&[
            "snapshot", "--demo", "--faults", "flaky", "--apps", "120", "--output", "json",
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["apps"].as_array().unwrap().len(), 120);
    }
    let o = run(&["snapshot", "--demo", "--faults", "chaos"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--faults") && stderr(&o).contains("hostile"),
        "{}",
        stderr(&o)
    );
}

/// Actions and reviews name the operator the same way: `DRIFTDECK_OPERATOR`, else the Argo CD
/// account of the instance (userinfo), else the OS user; never "unknown" when one exists.
#[test]
fn the_operator_is_named_the_same_way_by_actions_and_reviews() {
    let (mut child, cfg) = serve_demo(
        bin(),
        &["--apps", "40", "--instances", "1", "--drift-every", "0"],
    );
    for (env_op, want) in [(Some("ana"), "ana"), (None, "admin")] {
        let data = tempfile::tempdir().unwrap();
        let act = |args: &[&str]| {
            let mut c = bin();
            c.env("DRIFTDECK_DATA_DIR", data.path())
                .env("USER", "os-user")
                .env("LOGNAME", "os-user")
                .args(["--config", &cfg])
                .args(args);
            match env_op {
                Some(o) => c.env("DRIFTDECK_OPERATOR", o),
                None => c.env_remove("DRIFTDECK_OPERATOR"),
            };
            c.output().unwrap()
        };
        // A review from the drift queue: the most urgent decision, approved.
        let o = act(&["snapshot", "--output", "text", "--keys", "u y"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let o = act(&["snapshot", "--filter", "sync:OutOfSync"]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let app = v["apps"][0]["name"].as_str().unwrap().to_string();
        let o = act(&["annotate", &app, "--incident", "INC-9", "--yes"]);
        assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
        let recs = driftdeck::decide::journal::Journal::in_dir(data.path())
            .records()
            .unwrap();
        let ops: Vec<(String, String)> = recs
            .iter()
            .filter(|r| r.kind == "action")
            .map(|r| {
                (
                    r.body["action"].as_str().unwrap().to_string(),
                    r.body["operator"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(ops.iter().any(|(a, _)| a == "review"), "{ops:?}");
        assert!(ops.iter().any(|(a, _)| a == "annotate"), "{ops:?}");
        for (a, o) in &ops {
            assert_eq!(o, want, "{a} named the operator {o}, not {want}");
        }
    }
    let _ = child.kill();
}

/// A sync, deferral, rollback or incident annotation of a drifted app is the operator's
/// verdict on its pending decision: the action record answers it, and the shadow report
/// counts it (once per decision, the latest answer).
#[test]
fn acting_on_a_drifted_app_answers_its_pending_decision() {
    let (mut child, cfg) = serve_demo(
        bin(),
        &["--apps", "40", "--instances", "1", "--drift-every", "0"],
    );
    let data = tempfile::tempdir().unwrap();
    let act = |args: &[&str]| {
        bin()
            .env("DRIFTDECK_DATA_DIR", data.path())
            .args(["--config", &cfg])
            .args(args)
            .output()
            .unwrap()
    };
    // The queue decides every drifted app.
    let o = act(&["snapshot", "--output", "text", "--keys", "u"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j = driftdeck::decide::journal::Journal::in_dir(data.path());
    let recs = j.records().unwrap();
    let decided: Vec<&driftdeck::decide::journal::Record> =
        recs.iter().filter(|r| r.kind == "decision").collect();
    assert!(decided.len() >= 2);
    let (a, b) = (&decided[0], &decided[1]);
    let name_a = a.body["app"].as_str().unwrap().to_string();
    let name_b = b.body["app"].as_str().unwrap().to_string();
    // Approve a's advice from the queue is possible; here: defer a (twice: counts once), and
    // annotate b.
    for reason in ["load test", "longer load test"] {
        let o = act(&[
            "defer",
            &name_a,
            "--reason",
            reason,
            "--until",
            "2099-01-01T00:00:00Z",
            "--yes",
            "--confirm",
            &name_a,
        ]);
        assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    }
    let o = act(&[
        "annotate",
        &name_b,
        "--incident",
        "INC-77",
        "--yes",
        "--confirm",
        &name_b,
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let recs = j.records().unwrap();
    let answers: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| r.kind == "action" && r.body["decision_seq"].is_u64())
        .map(|r| &r.body)
        .collect();
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(answers[0]["decision_seq"], a.seq);
    assert_eq!(answers[0]["verdict"], "defer");
    assert_eq!(answers[2]["decision_seq"], b.seq);
    assert_eq!(answers[2]["verdict"], "allow");
    let reviews = driftdeck::decide::autonomy::reviews(&recs);
    assert_eq!(reviews.len(), 2, "one per decision: {reviews:?}");
    let o = act(&["snapshot", "--output", "text", "--keys", "S"]);
    let text = stdout(&o);
    assert!(text.contains(" of 2 agreed"), "{text}");
    let _ = child.kill();
}

/// The demo keeps its decisions to itself: `snapshot --demo` journals under the demo's own
/// private directory, never the user's data dir. It decides with the user's `[decide]`,
/// `[policy]` and `[context]` sections, shows the mode the TUI would run in, and never acts.
#[test]
fn the_demo_decides_with_the_users_settings_in_a_journal_of_its_own() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let cfg = home.path().join("config.toml");
    std::fs::write(&cfg, "[decide]\nmode = \"autonomous\"\n").unwrap();
    let snap = |cfg: &std::path::Path, keys: &str| {
        bin()
            .env("DRIFTDECK_DATA_DIR", &data)
            .args(["--config", cfg.to_str().unwrap()])
            .args([
                "snapshot",
                "--demo",
                "--apps",
                "40",
                "--instances",
                "1",
                "--output",
                "text",
                "--size",
                "160x48",
                "--keys",
                keys,
            ])
            .output()
            .unwrap()
    };
    let o = snap(&cfg, "u enter");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("autonomous mode"), "the user's mode: {text}");
    assert!(
        text.contains("would sync") || text.contains("would hold") || text.contains("left as is"),
        "what autonomous mode would do, without doing it: {text}"
    );
    assert!(
        !data.join("journal.jsonl").exists(),
        "the demo wrote into the user's journal"
    );
    // The user's policy too: a broken bundle shows on the demo's decisions.
    let pol = home.path().join("policy");
    std::fs::create_dir_all(&pol).unwrap();
    std::fs::write(
        pol.join("bad.rego"),
        "package driftdeck.drift\n\ndecision := {\n",
    )
    .unwrap();
    std::fs::write(
        &cfg,
        format!("[policy]\ndir = {:?}\n", pol.to_str().unwrap()),
    )
    .unwrap();
    let o = snap(&cfg, "u");
    let text = stdout(&o);
    assert!(text.contains("bad.rego"), "{text}");
    assert!(!data.join("journal.jsonl").exists());
}

/// `--drifted SHARE`: the demo starts with exactly that share of its apps OutOfSync (the
/// figure `bench serve` measures at); a share outside 0..1 is refused.
#[test]
fn the_demo_starts_with_the_drifted_share_asked() {
    let o = run(&["snapshot", "--demo", "--apps", "400", "--drifted", "0.05"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let apps = v["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 400);
    let out = apps.iter().filter(|a| a["sync"] == "OutOfSync").count();
    assert_eq!(out, 20);
    let o = run(&["snapshot", "--demo", "--drifted", "2"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("between 0 and 1"), "{}", stderr(&o));
}
