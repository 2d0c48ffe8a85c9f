//! Decisions in the TUI, driven by keys against the demo fleet (through the headless runtime,
//! which performs the same effects as the terminal one): the drift queue, the decision tab,
//! operator reviews in the journal, and the shadow report.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output
use crate::common;

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
        resize: None,
        fail_on_sla: false,
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
    // A snapshot shows the mode the TUI would run in (the default: advisory).
    assert!(text.contains("advisory mode"), "{text}");
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
            .all(|r| r.body["app"].is_string() && r.body["decision"]["mode"] == "advisory")
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
        "advisory mode: waits for an operator",
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

async fn app_screen(
    cfg: &driftdeck::config::Config,
    dir: &std::path::Path,
    app: &str,
    keys: &str,
) -> String {
    let o = SnapshotOptions {
        output: Output::Text,
        size: (160, 48),
        keys: parse_keys(keys).unwrap(),
        filter: Some(app.to_string()),
        theme: Theme::default(),
        keymap: Keymap::default(),
        depth: Depth::TrueColor,
        ascii: false,
        low_bandwidth: false,
        title: "driftdeck demo".into(),
        now_ms: None,
        data_dir: Some(dir.to_path_buf()),
        resize: None,
        fail_on_sla: false,
    };
    snapshot(cfg, o).await.unwrap().stdout
}

/// After driftdeck rolls an app back, the live image Argo CD's controller wrote is not a hand
/// change and the advice never enforces Git over the rollback; the decision says what was
/// done, by whom and why.
#[tokio::test]
async fn after_a_guided_rollback_the_advice_keeps_it_and_says_so() {
    let fleet = common::demo(60, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = fleet.config();
    let client = common::client(&cfg.instances[0]);
    let s = driftdeck::actions::Session::new(client.clone(), false, vec![])
        .with_journal(Some(std::sync::Arc::new(Journal::in_dir(tmp.path()))));
    let app = common::auto_synced_app(&client, &[]).await;
    let name = app.metadata.name.clone();
    common::guided_rollback(&s, &name, "checkout 5xx after the release").await;
    let after = client.get_app(&name, None, None).await.unwrap();
    assert_eq!(after.status.sync.status, "OutOfSync");

    let text = app_screen(&cfg, tmp.path(), &name, "enter 5").await;
    println!("{text}");
    assert!(text.contains("ALLOW"), "{text}");
    assert!(!text.contains("ENFORCE"), "{text}");
    assert!(text.contains("p7.guided_rollback"), "{text}");
    assert!(text.contains("What driftdeck and operators did"), "{text}");
    assert!(text.contains("rolled back to #"), "{text}");
    assert!(text.contains("checkout 5xx after the release"), "{text}");
    // The journal's decision carries the rollback as its context, so it replays the same.
    let recs = Journal::in_dir(tmp.path()).records().unwrap();
    let d = recs
        .iter()
        .rev()
        .find(|r| r.kind == "decision" && r.body["app"] == name.as_str())
        .unwrap();
    assert_eq!(d.body["decision"]["verdict"], "allow");
    assert!(
        d.body["decision"]["handling"]["rollback"]["paused"] == true,
        "{}",
        d.body
    );
}

/// An incident annotation and an active deferral are context for the next decision: the
/// decision tab shows them, the incident counts as an open incident of the app, and the sync
/// plan warns that a sync goes over them.
#[tokio::test]
async fn an_incident_annotation_and_a_deferral_are_context_for_the_decision_and_the_plan() {
    use driftdeck::actions;
    let fleet = common::demo(60, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = fleet.config();
    let client = common::client(&cfg.instances[0]);
    let s = actions::Session::new(client.clone(), false, vec![])
        .with_journal(Some(std::sync::Arc::new(Journal::in_dir(tmp.path()))));
    // A drifted app, decided once without any mark.
    let list = client
        .list_apps(&driftdeck::clients::argocd::AppQuery::default(), None)
        .await
        .unwrap();
    let name = list
        .items
        .iter()
        .find(|a| {
            a.status.sync.status == "OutOfSync"
                && a.status
                    .operation_state
                    .as_ref()
                    .is_none_or(|o| o.phase != "Running")
        })
        .unwrap()
        .metadata
        .name
        .clone();
    let t = actions::Target {
        instance: s.instance.clone(),
        name: name.clone(),
        app_namespace: String::new(),
    };
    let plain = app_screen(&cfg, tmp.path(), &name, "enter 5").await;
    assert!(!plain.contains("under incident"), "{plain}");

    actions::annotate::annotate(&s, &t, "INC-4242", "5xx on checkout", false)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    actions::defer::defer(
        &s,
        &t,
        now + chrono::Duration::hours(3),
        "load test tonight",
        now,
    )
    .await
    .unwrap();
    let text = app_screen(&cfg, tmp.path(), &name, "enter 5").await;
    println!("{text}");
    assert!(text.contains("What driftdeck and operators did"), "{text}");
    assert!(
        text.contains("under incident INC-4242 (annotated by "),
        "{text}"
    );
    assert!(text.contains("5xx on checkout"), "{text}");
    assert!(text.contains("deferred until "), "{text}");
    assert!(text.contains("load test tonight"), "{text}");
    // The annotation is an open incident of the app for the policy and the advisor.
    let recs = Journal::in_dir(tmp.path()).records().unwrap();
    let d = recs
        .iter()
        .rev()
        .find(|r| r.kind == "decision" && r.body["app"] == name.as_str())
        .unwrap();
    assert_eq!(d.body["decision"]["handling"]["incident"]["id"], "INC-4242");

    // The sync plan warns.
    let plan = actions::sync::plan(&s, &t, Default::default())
        .await
        .unwrap();
    let lines = plan.lines().join("\n");
    assert!(lines.contains("WARNING: deferred until"), "{lines}");
    assert!(
        lines.contains("WARNING: under incident INC-4242"),
        "{lines}"
    );
}

/// `y` on a needs-human advice asks which verdict the operator chooses; `H` records
/// needs-human; both reach the journal as reviews of that decision.
#[tokio::test]
async fn operators_can_answer_needs_human_and_choose_when_the_advice_is_needs_human() {
    use driftdeck::decide::Verdict;
    use driftdeck::tui::decisions::{DecisionInfo, DecisionView};
    use driftdeck::tui::effect::Effect;
    use driftdeck::tui::model::{Load, Model, Overlay};
    use driftdeck::tui::msg::Msg;
    use driftdeck::tui::update::update;
    let sc = driftdeck::decide::scenario::Scenario::load(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/scenarios/p08-email-sender-prod-scaled-to-zero.yaml"),
    )
    .unwrap();
    let d = driftdeck::decide::decider::Decider::new(
        driftdeck::decide::policy::Bundle::builtin().unwrap(),
    )
    .decide(&sc, driftdeck::decide::decider::Mode::Advisory)
    .await
    .unwrap();
    assert_eq!(d.verdict, Verdict::NeedsHuman);
    let mut a = driftdeck::model::app::Application::default();
    a.metadata.name = "email-sender".into();
    a.status.sync.status = "OutOfSync".into();
    a.status.health.status = "Healthy".into();
    let row = driftdeck::model::fleet::AppRow::from_app(0, &a);
    let km = Keymap::default();
    let mut m = one_app_model(&row, false);
    m.decisions.insert(
        row.key.clone(),
        DecisionView {
            req: 1,
            state: Load::Ready(Box::new(DecisionInfo {
                decision: d,
                seq: Some(41),
                journal_error: None,
                gate: None,
                dry: false,
                sources: vec![],
            })),
            asked_ms: m.now_ms,
            basis: driftdeck::tui::decisions::basis(&row),
        },
    );
    let key = |m: &mut Model, k: &str| {
        update(
            m,
            &km,
            Msg::Key(driftdeck::tui::keymap::Key::parse(k).unwrap()),
        )
    };
    key(&mut m, "u");
    // y: a question, not an approval of "needs-human".
    assert!(key(&mut m, "y").is_empty());
    assert!(
        matches!(&m.overlay, Overlay::Dialog(d) if d.lines.iter().any(|l| l.contains("What do you choose"))),
        "{:?}",
        m.overlay
    );
    assert!(key(&mut m, "x").is_empty(), "x answers nothing");
    let fx = key(&mut m, "e");
    assert_eq!(
        fx,
        vec![Effect::Review {
            key: row.key.clone(),
            decision_seq: 41,
            advised: Verdict::NeedsHuman,
            chosen: Verdict::Enforce,
        }]
    );
    assert!(matches!(m.overlay, Overlay::None));
    // H: needs-human.
    let fx = key(&mut m, "H");
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Review {
                chosen: Verdict::NeedsHuman,
                ..
            }]
        ),
        "{fx:?}"
    );
}

async fn sized(
    fleet: &driftdeck::demo::DemoFleet,
    dir: &std::path::Path,
    keys: &str,
    size: (u16, u16),
    resize: Option<(u16, u16)>,
) -> String {
    let o = SnapshotOptions {
        output: Output::Text,
        size,
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
        resize,
        fail_on_sla: false,
    };
    snapshot(&fleet.config(), o).await.unwrap().stdout
}

/// The decision tab scrolls by wrapped rows: `G` and page-down reach its last line at 80×24
/// and 100×30, and a resize keeps the verdict (its first line) where it was.
#[tokio::test]
async fn the_end_of_the_decision_tab_is_reachable_and_a_resize_keeps_the_verdict() {
    let fleet = common::demo(60, 3, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    // The tab's last logical line, from a screen tall enough to hold all of it.
    let tall = sized(&fleet, tmp.path(), "u enter", (160, 200), None).await;
    let last = tall
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("esc") && !l.contains("back "))
        .take_while(|l| !l.contains("q quit") && !l.contains("? help"))
        .last()
        .unwrap()
        .to_string();
    println!("{tall}\nlast line: {last:?}");
    let tail: String = last
        .chars()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    for size in [(80, 24), (100, 30)] {
        for keys in [
            "u enter G",
            "u enter pgdn pgdn pgdn pgdn pgdn pgdn pgdn pgdn",
        ] {
            let text = sized(&fleet, tmp.path(), keys, size, None).await;
            println!("{size:?} {keys}\n{text}");
            assert!(
                text.contains(tail.trim()),
                "{size:?} `{keys}` does not reach {tail:?}:\n{text}"
            );
        }
        // Near the top, the verdict (its upper-case word opens the tab) shows before and after
        // a resize either way; further down, the line under the cursor stays on screen.
        let verdict = |t: &str| {
            ["ENFORCE", "ALLOW", "DEFER", "NEEDS-HUMAN"]
                .iter()
                .any(|v| t.contains(v))
        };
        let text = sized(&fleet, tmp.path(), "u enter", size, None).await;
        assert!(verdict(&text), "{text}");
        for to in [(80, 24), (100, 30), (70, 20), (160, 48)] {
            let text = sized(&fleet, tmp.path(), "u enter j j", size, Some(to)).await;
            assert!(verdict(&text), "{size:?} -> {to:?}:\n{text}");
            let text = sized(&fleet, tmp.path(), "u enter G", size, Some(to)).await;
            assert!(
                text.contains(tail.trim()),
                "{size:?} -> {to:?} lost the end:\n{text}"
            );
        }
    }
}

/// The defer plan of an app whose self-heal is already off says so, without claiming that
/// self-heal "goes off" or "comes back on".
#[tokio::test]
async fn the_defer_plan_of_an_app_without_self_heal_does_not_contradict_itself() {
    use driftdeck::tui::ops::{Prepare, Prepared};
    let fleet = common::demo(60, 3, 1).await;
    let cfg = fleet.config();
    let client = common::client(&cfg.instances[0]);
    let s = driftdeck::actions::Session::new(client, false, vec![]);
    let lines = |heal: bool| {
        let (name, ns) = fleet
            .instance(0)
            .read()
            .apps
            .values()
            .find(|a| a.app.self_heal() == heal)
            .map(|a| {
                (
                    a.app.metadata.name.clone(),
                    a.app.metadata.namespace.clone(),
                )
            })
            .expect("the demo has apps with and without self-heal");
        let key = driftdeck::model::fleet::AppKey {
            instance: 0,
            namespace: ns,
            name,
        };
        let s = s.clone();
        async move {
            match driftdeck::tui::runtime::ops::prepare(
                vec![(key.clone(), Some(s))],
                Prepare::Defer(key),
            )
            .await
            .unwrap()
            {
                Prepared::Simple { lines, .. } => lines.join("\n"),
                other => panic!("{other:?}"),
            }
        }
    };
    let off = lines(false).await;
    assert!(off.contains("self-heal is already off"), "{off}");
    assert!(!off.contains("goes off"), "{off}");
    assert!(!off.contains("comes back on"), "{off}");
    let on = lines(true).await;
    assert!(on.contains("self-heal is on: it goes off"), "{on}");
}

/// `[team]`: the decision tab shows the team's `driftdeck serve` decision above this
/// terminal's, and a review goes to the team (the daemon's journal), not the local one.
#[tokio::test]
async fn the_team_decision_is_shown_and_reviewed_for_the_team() {
    use driftdeck::decide::Verdict;
    use driftdeck::tui::effect::Effect;
    use driftdeck::tui::model::Model;
    use driftdeck::tui::msg::Msg;
    use driftdeck::tui::update::update;
    let mut a = driftdeck::model::app::Application::default();
    a.metadata.name = "web".into();
    a.metadata.namespace = "argocd".into();
    a.status.sync.status = "OutOfSync".into();
    a.status.health.status = "Healthy".into();
    let row = driftdeck::model::fleet::AppRow::from_app(0, &a);
    let km = Keymap::default();
    let mut m = one_app_model(&row, true);
    // The clock asks for the team's decisions every 10 s.
    let fx = update(&mut m, &km, Msg::Tick(common::NOW * 1000 + 1000));
    assert!(fx.contains(&Effect::FetchTeam { since: 0 }), "{fx:?}");
    let fx = update(&mut m, &km, Msg::Tick(common::NOW * 1000 + 2000));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::FetchTeam { .. })),
        "one read at a time"
    );
    let summary = |seq: u64, verdict: &str| driftdeck::serve::DecisionSummary {
        seq: Some(seq),
        time: "2026-11-18T11:00:00Z".into(),
        instance: "eu".into(),
        namespace: "argocd".into(),
        app: "web".into(),
        verdict: verdict.into(),
        confidence: 0.9,
        rule: "p3.config".into(),
        mode: "shadow".into(),
        basis: "b".into(),
        gate: None,
        event: "web.driftdecision.00".into(),
        by: "driftdeck-0".into(),
    };
    update(
        &mut m,
        &km,
        Msg::TeamLoaded {
            result: Ok((vec![summary(7, "defer"), summary(9, "enforce")], 9)),
        },
    );
    assert_eq!(m.team.next, 9);
    let key = |m: &mut Model, k: &str| {
        update(
            m,
            &km,
            Msg::Key(driftdeck::tui::keymap::Key::parse(k).unwrap()),
        )
    };
    key(&mut m, "enter");
    let app_screen = match &m.screen {
        driftdeck::tui::model::Screen::App(s) => s.clone(),
        other => panic!("{other:?}"),
    };
    let rows = driftdeck::tui::ui::decide::decision_rows(&m, &app_screen, 120);
    let text: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    assert!(
        text[0].starts_with("Team: ENFORCE") && text[0].contains("confidence 0.90"),
        "{text:?}"
    );
    assert!(
        text[1].contains("driftdeck serve (driftdeck-0)") && text[1].contains("#9"),
        "{text:?}"
    );
    // Reviews (from the drift queue): the team's decision, posted to the daemon.
    key(&mut m, "u");
    let fx = key(&mut m, "A");
    assert_eq!(
        fx,
        vec![Effect::ReviewTeam {
            key: row.key.clone(),
            decision_seq: 9,
            chosen: Verdict::Allow,
        }]
    );
    update(
        &mut m,
        &km,
        Msg::Reviewed {
            key: row.key.clone(),
            chosen: Verdict::Allow,
            result: Ok(12),
            team: true,
        },
    );
    assert!(
        m.flash
            .as_ref()
            .unwrap()
            .text
            .contains("recorded for the team")
    );
    // A daemon that cannot be read says so in the tab.
    update(
        &mut m,
        &km,
        Msg::TeamLoaded {
            result: Err("driftdeck serve at http://x cannot be reached".into()),
        },
    );
    let rows = driftdeck::tui::ui::decide::decision_rows(&m, &app_screen, 120);
    assert!(rows.iter().any(|r| r.text.contains("cannot be reached")));
}

/// A model of one live instance `eu` listing `row` (with a `[team]` when `team`).
fn one_app_model(
    row: &driftdeck::model::fleet::AppRow,
    team: bool,
) -> driftdeck::tui::model::Model {
    use driftdeck::tui::model::{ConnState, InstanceView, Model};
    let mut m = Model::new(
        vec![InstanceView {
            name: "eu".into(),
            url: "https://eu".into(),
            state: ConnState::Live,
            version: None,
            listed: true,
            insecure: false,
            read_only: false,
        }],
        (120, 40),
        common::NOW * 1000,
    );
    m.team.configured = team;
    driftdeck::tui::update::update(
        &mut m,
        &Keymap::default(),
        driftdeck::tui::msg::Msg::Fleet(
            0,
            driftdeck::clients::argocd::watch::FleetUpdate::Listed {
                rows: vec![row.clone()],
                resource_version: "1".into(),
                version: None,
            },
        ),
    );
    m
}
