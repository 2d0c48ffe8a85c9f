//! Helpers shared by the integration tests.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use driftdeck::clients::argocd::{ArgoClient, ClientOptions};
use driftdeck::config::InstanceConfig;
use driftdeck::demo::{DemoFleet, DemoOptions, FleetSpec};

/// The fixed clock of reproducible fleets: 2026-11-18T11:06:40Z.
pub const NOW: i64 = 1_795_000_000;

pub async fn demo(apps: usize, clusters: usize, instances: usize) -> DemoFleet {
    demo_with(apps, clusters, instances, |_| {}).await
}

pub async fn demo_with(
    apps: usize,
    clusters: usize,
    instances: usize,
    tweak: impl FnOnce(&mut DemoOptions),
) -> DemoFleet {
    driftdeck::clients::argocd::init_crypto();
    let mut o = DemoOptions {
        spec: FleetSpec {
            apps,
            clusters,
            instances,
            seed: 7,
        },
        now: Some(NOW),
        ..Default::default()
    };
    tweak(&mut o);
    DemoFleet::start(o).await.expect("demo servers start")
}

/// Client options for tests: short timeouts, quick retries.
pub fn fast() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        retries: 1,
        retry_base: Duration::from_millis(20),
    }
}

pub fn client(cfg: &InstanceConfig) -> ArgoClient {
    ArgoClient::with_options(cfg, fast()).expect("client")
}

/// A file of the shared fixtures, or `None` (with a notice) when `../shared` is not here. Under
/// `CI=true` a missing fixture fails the test instead.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the shared fixture {} is missing", p.display());
    }
    eprintln!(
        "skipped: {} is not here (a clone without ../shared)",
        p.display()
    );
    None
}

/// Starts `driftdeck demo --serve ARGS` from `cmd` (a `driftdeck` command with its environment
/// set) and returns the process with the config path it printed first.
pub fn serve_demo(mut cmd: std::process::Command, args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = cmd
        .args(["demo", "--serve"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("driftdeck demo --serve starts");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("the config path");
    (child, first.trim().to_string())
}

/// The parameters of every SGR sequence (`ESC [ ... m`) in `s`.
pub fn sgr_params(s: &str) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        let after = &rest[i + 2..];
        let end = after
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        if after[end..].starts_with('m') {
            out.push(
                after[..end]
                    .split(';')
                    .map(|p| p.parse().unwrap_or(0))
                    .collect(),
            );
        }
        rest = &after[end.min(after.len())..];
    }
    out
}

/// The kinds of colour codes `s` uses: (truecolor, 256-colour, 16-colour).
pub fn colour_kinds(s: &str) -> (bool, bool, bool) {
    let (mut rgb, mut idx, mut basic) = (false, false, false);
    for p in sgr_params(s) {
        let mut i = 0;
        while i < p.len() {
            match p[i] {
                38 | 48 if p.get(i + 1) == Some(&2) => {
                    rgb = true;
                    i += 5;
                    continue;
                }
                38 | 48 if p.get(i + 1) == Some(&5) => {
                    idx = true;
                    i += 3;
                    continue;
                }
                30..=37 | 40..=47 | 90..=97 | 100..=107 => basic = true,
                _ => {}
            }
            i += 1;
        }
    }
    (rgb, idx, basic)
}

/// An idle app with a Deployment (no HPA) and at least two deployments in its history, with
/// auto-sync and self-heal on: one a guided rollback pauses.
pub async fn auto_synced_app(
    client: &ArgoClient,
    taken: &[String],
) -> driftdeck::model::app::Application {
    let list = client
        .list_apps(&driftdeck::clients::argocd::AppQuery::default(), None)
        .await
        .unwrap();
    for a in &list.items {
        let full = client.get_app(&a.metadata.name, None, None).await.unwrap();
        let running = full
            .status
            .operation_state
            .as_ref()
            .is_some_and(|o| o.phase == "Running" || o.phase == "Terminating");
        let kinds = |k: &str| full.status.resources.iter().any(|r| r.kind == k);
        if !running
            && !taken.contains(&full.metadata.name)
            && kinds("Deployment")
            && !kinds("HorizontalPodAutoscaler")
            && full.status.history.len() >= 2
            && full.self_heal()
        {
            return full;
        }
    }
    panic!("no idle app with auto-sync and self-heal");
}

/// A guided rollback of `name` to its previous deployment, through `actions`.
pub async fn guided_rollback(s: &driftdeck::actions::Session, name: &str, reason: &str) {
    use driftdeck::actions;
    let t = actions::Target {
        instance: s.instance.clone(),
        name: name.to_string(),
        app_namespace: String::new(),
    };
    let (app, history) = actions::rollback::history(s, &t).await.unwrap();
    let entry = history.iter().find(|h| !h.current).unwrap().clone();
    let diffs = actions::rollback::diff_to(s, &t, &app, &entry.revision)
        .await
        .unwrap();
    let plan = actions::rollback::plan(s, &t, &app, entry, diffs.len())
        .await
        .unwrap();
    actions::rollback::run(s, &plan, reason, Duration::from_secs(20), |_| {})
        .await
        .unwrap();
}

/// One cell of an ANSI frame: its text and its 16-colour pen (`None`: the terminal's default).
#[derive(Debug, Clone, PartialEq)]
pub struct AnsiCell {
    pub ch: String,
    pub fg: Option<u8>,
    pub bg: Option<u8>,
    pub bold: bool,
    pub reverse: bool,
}

/// Parses an ANSI frame (`snapshot --output ansi`) made of 16-colour SGR codes, cell by cell.
/// Panics on a 256-colour or RGB code: a 16-colour frame has none.
pub fn ansi_cells(s: &str) -> Vec<Vec<AnsiCell>> {
    let mut out = Vec::new();
    for line in s.split('\n') {
        let mut row = Vec::new();
        let (mut fg, mut bg, mut bold, mut reverse) = (None, None, false, false);
        let mut rest = line;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("\x1b[") {
                let end = after.find(|c: char| c.is_ascii_alphabetic()).unwrap();
                assert_eq!(&after[end..end + 1], "m", "only SGR in a frame: {line:?}");
                let params: Vec<u32> = if after[..end].is_empty() {
                    vec![0]
                } else {
                    after[..end]
                        .split(';')
                        .map(|p| p.parse().unwrap())
                        .collect()
                };
                for p in params {
                    match p {
                        0 => (fg, bg, bold, reverse) = (None, None, false, false),
                        1 => bold = true,
                        7 => reverse = true,
                        30..=37 => fg = Some((p - 30) as u8),
                        90..=97 => fg = Some((p - 90 + 8) as u8),
                        39 => fg = None,
                        40..=47 => bg = Some((p - 40) as u8),
                        100..=107 => bg = Some((p - 100 + 8) as u8),
                        49 => bg = None,
                        38 | 48 => panic!("a 256-colour or RGB code in a 16-colour frame"),
                        _ => {}
                    }
                }
                rest = &after[end + 1..];
                continue;
            }
            let c = rest.chars().next().unwrap();
            row.push(AnsiCell {
                ch: c.to_string(),
                fg,
                bg,
                bold,
                reverse,
            });
            rest = &rest[c.len_utf8()..];
        }
        out.push(row);
    }
    out
}

/// Waits until an RFC 3339 instant has passed (a deferral's end, say): a wait on the
/// condition the test needs, not a guessed sleep.
pub fn wait_past(rfc3339: &str) {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).expect("an RFC 3339 instant");
    while chrono::Utc::now() <= t {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
