//! Decisions on the labelled scenarios of ../shared/scenarios.
mod common;

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
