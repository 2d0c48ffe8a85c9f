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
