//! Decisions in the TUI, driven by keys against the demo fleet (through the headless runtime,
//! which performs the same effects as the terminal one): the drift queue, the decision tab,
//! operator reviews in the journal, and the shadow report.
mod common;

use driftdeck::decide::journal::Journal;
use driftdeck::headless::snapshot::{Output, SnapshotOptions, parse_keys, snapshot};
use driftdeck::tui::color::Depth;
use driftdeck::tui::keymap::Keymap;
use driftdeck::tui::theme::Theme;

async fn screen(fleet: &driftdeck::demo::DemoFleet, dir: &std::path::Path, keys: &str) -> String {
    screen_of(&fleet.config(), dir, keys).await
}

async fn screen_of(cfg: &driftdeck::config::Config, dir: &std::path::Path, keys: &str) -> String {
    let o = SnapshotOptions {
        output: Output::Text,
        size: (160, 48),
        keys: parse_keys(keys).unwrap(),
        filter: None,
        theme: Theme::default(),
        keymap: Keymap::default(),
        depth: Depth::TrueColor,
        ascii: false,
        low_bandwidth: false,
        title: "driftdeck demo".into(),
        now_ms: Some(common::NOW * 1000),
        data_dir: Some(dir.to_path_buf()),
    };
    snapshot(cfg, o).await.unwrap().stdout
}

#[tokio::test]
async fn the_drift_queue_decides_every_drifted_app_most_urgent_first() {
    let fleet = common::demo(60, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let text = screen(&fleet, tmp.path(), "u").await;
    println!("{text}");
    assert!(text.contains("Drift queue:"), "{text}");
    assert!(text.contains("shadow mode"), "{text}");
    assert!(
        !text.contains("deciding…"),
        "every decision arrived: {text}"
    );
    // Verdicts, most urgent first: the rank column never goes back up.
    let rank = |line: &str| -> Option<u8> {
        let l = line.trim_start();
        [
            ("enforce (hard)", 0),
            ("needs a human", 1),
            ("could not decide", 1),
            ("enforce ", 2),
            ("allowed, degraded", 2),
            ("defer ", 3),
            ("allow ", 5),
        ]
        .iter()
        .find(|(p, _)| l.starts_with(p))
        .map(|(_, r)| *r)
    };
    let ranks: Vec<u8> = text.lines().filter_map(rank).collect();
    assert!(ranks.len() >= 3, "{text}");
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}\n{text}");
    // Every decision is in the journal, each naming its app.
    let j = Journal::in_dir(tmp.path());
    let recs = j.records().unwrap();
    let decisions: Vec<_> = recs.iter().filter(|r| r.kind == "decision").collect();
    assert_eq!(decisions.len(), ranks.len());
    assert!(
        decisions
            .iter()
            .all(|r| r.body["app"].is_string() && r.body["decision"]["mode"] == "shadow")
    );
    assert!(j.verify().unwrap().intact());
}

#[tokio::test]
async fn the_decision_panel_shows_policy_advisor_guardrails_and_sources() {
    let fleet = common::demo(60, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    // From the queue, open the most urgent app: it opens on its decision tab.
    let text = screen(&fleet, tmp.path(), "u enter").await;
    println!("{text}");
    for want in [
        "5 Decision",
        "DECISION: what to do about the drift",
        "confidence",
        "Policy ",
        "Advisor ",
        "Guardrails",
        "shadow mode: recorded only, nothing changes",
        "Context sources",
        "prometheus: ok",
        "journal record #",
    ] {
        assert!(text.contains(want), "missing {want:?}:\n{text}");
    }
}

#[tokio::test]
async fn operator_reviews_are_journaled_and_scored_in_the_shadow_report() {
    let fleet = common::demo(60, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    // Approve the first decision of the queue, overrule the second (record "allow" unless it
    // already says allow, then "enforce"), then look at the shadow report.
    let first = screen(&fleet, tmp.path(), "u y").await;
    println!("{first}");
    let j = Journal::in_dir(tmp.path());
    let recs = j.records().unwrap();
    let actions: Vec<_> = recs.iter().filter(|r| r.kind == "action").collect();
    assert_eq!(actions.len(), 1, "{first}");
    let a = &actions[0];
    let seq = a.body["decision_seq"].as_u64().unwrap();
    let d = recs.iter().find(|r| r.seq == seq).unwrap();
    assert_eq!(a.body["verdict"], d.body["decision"]["verdict"]);
    assert_eq!(a.body["action"], "review");
    assert_eq!(a.body["reason"], "approved the advice");

    let second = screen(&fleet, tmp.path(), "u j E").await;
    let recs = j.records().unwrap();
    let actions: Vec<_> = recs.iter().filter(|r| r.kind == "action").collect();
    assert_eq!(actions.len(), 2, "{second}");
    assert_eq!(actions[1].body["verdict"], "enforce");

    let report = screen(&fleet, tmp.path(), "S").await;
    println!("{report}");
    assert!(report.contains("Shadow report"), "{report}");
    let advised_second = recs
        .iter()
        .find(|r| Some(r.seq) == actions[1].body["decision_seq"].as_u64())
        .unwrap()
        .body["decision"]["verdict"]
        .clone();
    let agreed = if advised_second == "enforce" { 2 } else { 1 };
    assert!(
        report.contains(&format!("all reviews       {agreed} of 2 agreed")),
        "{report}"
    );
    assert!(report.contains("too few reviews to judge"), "{report}");
    assert!(j.verify().unwrap().intact());
}

/// A broken policy bundle: the TUI still runs, and every drift goes to a human with the reason
/// (file and line), in the queue and on the decision tab.
#[tokio::test]
async fn a_broken_bundle_sends_every_drift_to_a_human_with_the_reason() {
    let fleet = common::demo(60, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let pol = tmp.path().join("policy");
    std::fs::create_dir_all(&pol).unwrap();
    std::fs::write(
        pol.join("bad.rego"),
        "package driftdeck.drift\n\ndecision := {\n",
    )
    .unwrap();
    let mut cfg = fleet.config();
    cfg.policy = Some(driftdeck::decide::policy::PolicyConfig {
        dir: Some(pol.clone()),
        ..Default::default()
    });
    let queue = screen_of(&cfg, tmp.path(), "u").await;
    println!("{queue}");
    assert!(queue.contains("needs-human!"), "{queue}");
    assert!(queue.contains("bad.rego"), "{queue}");
    assert!(!queue.contains(" enforce "), "{queue}");
    let panel = screen_of(&cfg, tmp.path(), "u enter").await;
    println!("{panel}");
    assert!(
        panel.contains("NEEDS-HUMAN: no decision can be made"),
        "{panel}"
    );
    assert!(panel.contains("bad.rego:"), "{panel}");
}
