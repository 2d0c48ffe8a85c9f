//! Drift age and the drift SLA: when each app became OutOfSync (the Application's events, else
//! its last sync), `snapshot` JSON's `revision`, `images`, `out_of_sync_since`, `appset`, and
//! `snapshot --fail-on sla` exiting 4 for cron and CI.
use crate::common;

fn run(cfg: &std::path::Path, dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_driftdeck"))
        .args(args)
        .env("DRIFTDECK_CONFIG", cfg)
        .env("DRIFTDECK_DATA_DIR", dir.join("data"))
        .env("DRIFTDECK_LOG_DIR", dir)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_knows_when_drift_began_and_fails_on_the_sla() {
    let fleet = common::demo(60, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = fleet.write_config(dir.path()).unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("out_of_sync_sla = \"30m\""), "{text}");

    let (c, out, err) = run(&cfg, dir.path(), &["snapshot", "--fail-on", "sla"]);
    assert_eq!(c, 4, "{err}");
    assert!(err.contains("OutOfSync longer than the SLA"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let apps = v["apps"].as_array().unwrap();
    let inst = fleet.instance(0).read();
    let mut checked = 0;
    for a in apps {
        let name = a["name"].as_str().unwrap();
        let demo = &inst.apps[name];
        assert_eq!(a["revision"], demo.app.status.sync.revision.as_str());
        assert_eq!(
            a["images"],
            serde_json::json!(demo.app.status.summary.images),
            "{name}"
        );
        assert!(a["appset"].is_null() || a["appset"].is_string());
        if a["sync"] == "OutOfSync" {
            // Argo CD's event of the change says when: the demo writes it 3 s after the
            // drift that modified a resource.
            let since = a["out_of_sync_since"].as_str().unwrap();
            let t = driftdeck::model::fleet::parse_time(since).unwrap();
            let events = driftdeck::demo::resources::app_events(demo);
            assert_eq!(
                Some(t),
                driftdeck::model::fleet::out_of_sync_since_from_events(&events),
                "{name}"
            );
            assert_eq!(a["sla_breached"], true, "{name}: the drift is days old");
            checked += 1;
        } else {
            assert!(a["out_of_sync_since"].is_null(), "{name}");
            assert_eq!(a["sla_breached"], false);
        }
    }
    assert!(checked > 0);
    assert_eq!(v["summary"]["sla_breaches"], checked);
    drop(inst);

    // A generous SLA: nothing breaches, exit 0.
    let lenient = text
        .replace("out_of_sync_sla = \"30m\"", "out_of_sync_sla = \"1000d\"")
        .replace("platform = \"2h\"", "platform = \"1000d\"");
    std::fs::write(&cfg, lenient).unwrap();
    let (c, out, err) = run(&cfg, dir.path(), &["snapshot", "--fail-on", "sla"]);
    assert_eq!(c, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["sla_breaches"], 0);

    // No SLA at all: --fail-on sla cannot judge; it says what to set.
    let none: String = text
        .lines()
        .filter(|l| !l.contains("sla") && !l.starts_with("platform"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&cfg, none).unwrap();
    let (c, _, err) = run(&cfg, dir.path(), &["snapshot", "--fail-on", "sla"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("out_of_sync_sla"), "{err}");
    // Without --fail-on the snapshot is as before.
    let (c, _, err) = run(&cfg, dir.path(), &["snapshot"]);
    assert_eq!(c, 0, "{err}");

    // A bad SLA is a config error with its line.
    std::fs::write(
        &cfg,
        text.replace("out_of_sync_sla = \"30m\"", "out_of_sync_sla = \"soon\""),
    )
    .unwrap();
    let (c, out, err) = run(&cfg, dir.path(), &["check-config"]);
    assert_eq!(c, 1);
    assert!(
        (out.clone() + &err).contains("out_of_sync_sla `soon`"),
        "{out}{err}"
    );
}
