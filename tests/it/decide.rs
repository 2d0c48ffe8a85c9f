//! Decisions on the labelled scenarios of ../shared/scenarios.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output
use crate::common;

use driftdeck::decide::decider::{Decider, Mode};
use driftdeck::decide::policy::Bundle;
use driftdeck::decide::scenario;

#[tokio::test]
async fn every_shared_scenario_is_decided_right() {
    let Some(dir) = common::shared("scenarios") else {
        return;
    };
    let decider = Decider::new(Bundle::builtin().unwrap());
    let mut wrong = Vec::new();
    for (path, sc) in scenario::load_dir(&dir).unwrap() {
        let d = decider.decide(&sc, Mode::Advisory).await.unwrap();
        let want = sc.expect.as_ref().unwrap().verdict;
        println!(
            "{:45} want {:12} got {:12} conf {:.2} policy {} ({}) advisor {} {:.2}\n   guardrails {:?}\n   reasons {:?}\n   reasoning {}\n   evidence {:?}",
            path.file_name().unwrap().to_string_lossy(),
            want.as_str(),
            d.verdict.as_str(),
            d.confidence,
            d.policy.verdict,
            d.policy.rule,
            d.advisor.verdict,
            d.advisor.confidence,
            d.guardrails,
            d.policy.reasons,
            d.advisor.reasoning,
            d.advisor.evidence,
        );
        if d.verdict != want {
            wrong.push(sc.name.clone());
        }
    }
    assert!(wrong.is_empty(), "wrong: {wrong:?}");
}

/// Our own labelled set (tests/scenarios), written from the principles by someone who had not
/// seen the policy.
#[tokio::test]
async fn our_labelled_scenarios_are_decided_right() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let decider = Decider::new(Bundle::builtin().unwrap());
    let mut scored = Vec::new();
    let mut wrong = Vec::new();
    for (path, sc) in scenario::load_dir(&dir).unwrap() {
        let d = decider.decide(&sc, Mode::Shadow).await.unwrap();
        let want = sc.expect.as_ref().expect("labelled").verdict;
        if d.verdict != want {
            wrong.push(format!(
                "{}: want {want}, got {} ({})",
                path.display(),
                d.verdict,
                d.advisor.reasoning
            ));
        }
        scored.push(driftdeck::decide::replay::Scored {
            expected: want,
            decided: d.verdict,
            confidence: d.confidence,
        });
    }
    let summary = driftdeck::decide::replay::score(&scored, 0);
    assert_eq!(summary.unsafe_allows, 0);
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(scored.len() >= 30);
}

/// The compiled program (regorus's virtual machine) decides exactly as the interpreter does,
/// on every scenario we have and on each of their resources alone.
#[test]
fn compiled_policy_agrees_with_the_interpreter() {
    let bundle = Bundle::builtin().unwrap();
    assert!(bundle.compiled(), "the default bundle compiles for the VM");
    let decider = Decider::new(bundle.clone());
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")];
    if let Some(d) = common::shared("scenarios") {
        dirs.push(d);
    }
    let mut vm = bundle.evaluator();
    let mut interp = bundle.interpreter();
    let mut n = 0;
    for dir in dirs {
        for (path, sc) in scenario::load_dir(&dir).unwrap() {
            let input = decider.facts(&sc).unwrap().input_json();
            let a = vm.evaluate(&input).unwrap();
            let b = interp.evaluate(&input).unwrap();
            assert_eq!(a, b, "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 30, "{n} scenarios");
}

/// Autonomous mode's gate, on real decisions: it syncs only automatic enforce decisions inside
/// the windows, leaves allowed and deferred drift alone, stops at its hourly rate, and falls
/// back to advisory when operators stop agreeing with it.
#[tokio::test]
async fn the_autonomous_gate_holds_its_limits() {
    use driftdeck::decide::Verdict;
    use driftdeck::decide::autonomy::{self, AUTONOMOUS_OPERATOR, Gate, Limits};
    use driftdeck::decide::journal::Journal;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let decider = Decider::new(Bundle::builtin().unwrap());
    let limits = Limits::from_config(None);
    let mut by_verdict = std::collections::HashMap::new();
    for (_, sc) in scenario::load_dir(&dir).unwrap() {
        let d = decider.decide(&sc, Mode::Autonomous).await.unwrap();
        by_verdict.entry((d.verdict, d.automatic)).or_insert(d);
    }
    let enforce = by_verdict[&(Verdict::Enforce, true)].clone();
    assert!(enforce.window.can_sync_auto);
    let now = enforce.now;
    let tmp = tempfile::tempdir().unwrap();
    let j = Journal::at(&tmp.path().join("journal.jsonl"));

    // An empty journal: nothing to judge by yet, so it acts.
    assert_eq!(autonomy::gate(&enforce, &[], &limits, now), Gate::Sync);
    // Not in autonomous mode, not automatic, needs-human: held.
    let mut advisory = enforce.clone();
    advisory.mode = Mode::Advisory;
    assert!(matches!(
        autonomy::gate(&advisory, &[], &limits, now),
        Gate::Hold { .. }
    ));
    let mut manual = enforce.clone();
    manual.automatic = false;
    assert!(matches!(
        autonomy::gate(&manual, &[], &limits, now),
        Gate::Hold { .. }
    ));
    if let Some(nh) = by_verdict.get(&(Verdict::NeedsHuman, false)) {
        assert!(matches!(
            autonomy::gate(nh, &[], &limits, now),
            Gate::Hold { .. }
        ));
    }
    // Allowed drift stays; a defer before its instant waits.
    let allow = &by_verdict[&(Verdict::Allow, true)];
    assert!(matches!(
        autonomy::gate(allow, &[], &limits, allow.now),
        Gate::Leave { .. }
    ));
    let mut defer = enforce.clone();
    defer.verdict = Verdict::Defer;
    defer.not_before = Some(now + chrono::Duration::minutes(30));
    assert!(matches!(
        autonomy::gate(&defer, &[], &limits, now),
        Gate::Leave { .. }
    ));
    assert_eq!(
        autonomy::gate(&defer, &[], &limits, now + chrono::Duration::minutes(31)),
        Gate::Sync
    );
    // A window that blocks automated syncs holds it.
    let mut blocked = enforce.clone();
    blocked.window.can_sync_auto = false;
    assert!(matches!(
        autonomy::gate(&blocked, &[], &limits, now),
        Gate::Hold { .. }
    ));

    // The rate: six autonomous sync requests within the hour, then it holds (a request is
    // journaled before it leaves, so an attempt counts whatever its answer).
    for i in 0..limits.max_actions_per_hour {
        let recs = j.records().unwrap();
        assert_eq!(
            autonomy::gate(&enforce, &recs, &limits, chrono::Utc::now()),
            Gate::Sync,
            "action {i}"
        );
        j.append(
            "action",
            autonomy::action_record(
                None,
                "a",
                "i",
                "sync-requested",
                Verdict::Enforce,
                AUTONOMOUS_OPERATOR,
                "",
            ),
        )
        .unwrap();
    }
    let recs = j.records().unwrap();
    let Gate::Hold { why } = autonomy::gate(&enforce, &recs, &limits, chrono::Utc::now()) else {
        panic!("the rate limit did not hold");
    };
    assert!(why.contains("rate limit"), "{why}");
    // An hour later the rate allows it again.
    assert_eq!(
        autonomy::gate(
            &enforce,
            &recs,
            &limits,
            chrono::Utc::now() + chrono::Duration::minutes(61)
        ),
        Gate::Sync
    );

    // Operators overruling the advice: under 90% agreement over the window, it falls back.
    let tmp2 = tempfile::tempdir().unwrap();
    let j2 = Journal::at(&tmp2.path().join("journal.jsonl"));
    for i in 0..10 {
        let d = j2
            .append("decision", serde_json::json!({"decision": enforce}))
            .unwrap();
        let chosen = if i < 8 {
            Verdict::Enforce
        } else {
            Verdict::Allow
        };
        j2.append(
            "action",
            autonomy::action_record(Some(d.seq), "a", "i", "review", chosen, "ana", ""),
        )
        .unwrap();
    }
    let recs = j2.records().unwrap();
    let Gate::Hold { why } = autonomy::gate(&enforce, &recs, &limits, now) else {
        panic!("80% agreement did not fall back to advisory");
    };
    assert!(why.contains("falls back to advisory"), "{why}");
    let lenient = Limits {
        min_agreement: 0.75,
        ..limits
    };
    assert_eq!(autonomy::gate(&enforce, &recs, &lenient, now), Gate::Sync);
}

/// Operators who agree with the heuristic's confident advice only half the time: its
/// calibration from their reviews lowers that confidence, the decision goes to a human, the
/// shadow report shows the ECE before and after, and nothing is ever loosened.
#[tokio::test]
async fn calibration_from_reviews_only_lowers_confidence() {
    use driftdeck::decide::Verdict;
    use driftdeck::decide::autonomy::{self, Limits};
    use driftdeck::decide::calibration::Calibration;
    use driftdeck::decide::decider::calibrate;
    use driftdeck::decide::journal::Journal;

    let dir = tempfile::tempdir().unwrap();
    let sc = scenario::Scenario::load(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/scenarios/p05-grafana-service-nodeport.yaml"),
    )
    .unwrap();
    let decider = Decider::new(Bundle::builtin().unwrap());
    let d = decider.decide(&sc, Mode::Autonomous).await.unwrap();
    assert_eq!(d.advisor.name, "heuristic");
    assert!(d.confidence >= decider.threshold, "{d:?}");
    assert_ne!(d.verdict, Verdict::NeedsHuman);

    let reviewed = |path: &str, agree: &dyn Fn(usize) -> bool, n: usize| {
        let j = Journal::at(&dir.path().join(path));
        for i in 0..n {
            let rec = j
                .append(
                    "decision",
                    serde_json::json!({"decision": d, "app": "grafana"}),
                )
                .unwrap();
            let chosen = if agree(i) {
                d.verdict
            } else {
                Verdict::NeedsHuman
            };
            j.append(
                "action",
                autonomy::action_record(
                    Some(rec.seq),
                    "grafana",
                    "eu",
                    "review",
                    chosen,
                    "ana",
                    "r",
                ),
            )
            .unwrap();
        }
        j
    };

    // Too few reviews: nothing is calibrated.
    let j = reviewed("few.jsonl", &|i| i % 2 == 0, 10);
    let cal = Calibration::fit(&autonomy::reviews(&j.records().unwrap()));
    assert!(cal.calibrated("heuristic", d.advisor.confidence).is_none());
    let mut same = d.clone();
    calibrate(&mut same, &cal, decider.threshold);
    assert_eq!(same, d);

    // Half of 30 reviews agree: its confidence is worth 0.5, under the threshold.
    let j = reviewed("half.jsonl", &|i| i % 2 == 0, 30);
    let cal = Calibration::fit(&autonomy::reviews(&j.records().unwrap()));
    let h = &cal.advisors[0];
    assert_eq!(
        (h.advisor.as_str(), h.reviews, h.agreed),
        ("heuristic", 30, 15)
    );
    assert!(
        (h.before - (d.advisor.confidence - 0.5).abs()).abs() < 1e-9,
        "{h:?}"
    );
    assert!(h.after.unwrap() < h.before / 2.0, "{h:?}");
    let mut low = d.clone();
    calibrate(&mut low, &cal, decider.threshold);
    assert_eq!(low.verdict, Verdict::NeedsHuman);
    assert_eq!(low.confidence, 0.5);
    assert!(!low.automatic);
    assert_eq!(low.policy, d.policy, "the policy's part is untouched");
    assert!(
        low.guardrails
            .iter()
            .any(|g| g.starts_with("calibrated on 30 operator reviews")),
        "{:?}",
        low.guardrails
    );
    // The shadow report shows it.
    let report = driftdeck::decide::service::shadow_report(&j, Limits::from_config(None)).unwrap();
    assert_eq!(report.calibration, cal);

    // Operators who always agree never raise a confidence: calibration only lowers.
    let j = reviewed("all.jsonl", &|_| true, 30);
    let cal = Calibration::fit(&autonomy::reviews(&j.records().unwrap()));
    assert_eq!(cal.calibrated("heuristic", d.advisor.confidence), Some(1.0));
    let mut unchanged = d.clone();
    calibrate(&mut unchanged, &cal, decider.threshold);
    assert_eq!(unchanged, d);
}
