//! Property tests of the guardrails: whatever the policy, the advisors and the sources say,
//! the final decision is never looser than the policy, low confidence and disagreement go to a
//! human, deletions are never allowed by the advisor alone nor remedied automatically, and a
//! failed or stale source never makes a decision looser or surer.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use crate::common;

use std::path::PathBuf;

use driftdeck::decide::Verdict;
use driftdeck::decide::advisor::{Advice, AdvisorError};
use driftdeck::decide::decider::{Mode, combine};
use driftdeck::decide::facts::{self, Facts, ResState};
use driftdeck::decide::policy::{Bundle, PolicyError, PolicyResult};
use driftdeck::decide::scenario::{self, Scenario, SourceState};
use driftdeck::decide::tuning::Tuning;
use proptest::prelude::*;

fn scenarios() -> Vec<Scenario> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut out: Vec<Scenario> = scenario::load_dir(&dir)
        .unwrap()
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    if let Some(shared) = common::shared("scenarios") {
        out.extend(
            scenario::load_dir(&shared)
                .unwrap()
                .into_iter()
                .map(|(_, s)| s),
        );
    }
    out
}

fn verdict() -> impl Strategy<Value = Verdict> {
    prop_oneof![
        Just(Verdict::Allow),
        Just(Verdict::Defer),
        Just(Verdict::Enforce),
        Just(Verdict::NeedsHuman)
    ]
}

fn advice(name: &'static str) -> impl Strategy<Value = Advice> {
    (verdict(), 0.0f64..=1.0).prop_map(move |(v, c)| Advice {
        name: name.into(),
        verdict: v,
        confidence: c,
        reasoning: "generated".into(),
        evidence: vec![],
    })
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Shadow),
        Just(Mode::Advisory),
        Just(Mode::Autonomous)
    ]
}

/// Facts of a scenario, with some resources turned missing or extra.
fn facts_with_states(sc: &Scenario, tuning: &Tuning, states: &[u8]) -> Facts {
    let mut f = facts::build(sc, tuning).unwrap();
    for (r, s) in f.input.resources.iter_mut().zip(states) {
        r.state = match s % 4 {
            0 => r.state,
            1 => ResState::Missing,
            2 => ResState::Extra,
            _ => ResState::Modified,
        };
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn the_guardrails_hold(
        idx in 0usize..1000,
        states in proptest::collection::vec(0u8..4, 0..4),
        policy_verdict in verdict(),
        hard in any::<bool>(),
        policy_fails in proptest::bool::weighted(0.1),
        heuristic in advice("heuristic"),
        llm in proptest::option::of(prop_oneof![
            advice("llm").prop_map(Ok),
            Just(Err(AdvisorError::Invalid("cites nothing".into()))),
            Just(Err(AdvisorError::Timeout(20))),
        ]),
        threshold in 0.5f64..0.95,
        mode in mode(),
    ) {
        let all = scenarios();
        let sc = &all[idx % all.len()];
        let tuning = Tuning::builtin();
        let f = facts_with_states(sc, &tuning, &states);
        let policy: Result<PolicyResult, PolicyError> = if policy_fails {
            Err(PolicyError { file: Some("x.rego".into()), line: Some(3), rule: None, message: "boom".into() })
        } else {
            Ok(PolicyResult { verdict: policy_verdict, rule: "r".into(), reasons: vec![], hard, findings: vec![] })
        };
        let d = combine(&sc.name, &f, policy.clone(), heuristic.clone(), llm.clone(), threshold, mode);

        // Never looser than the policy; a failed policy means a human.
        match &policy {
            Ok(p) => prop_assert!(d.verdict >= p.verdict, "{} < policy {}", d.verdict, p.verdict),
            Err(_) => prop_assert_eq!(d.verdict, Verdict::NeedsHuman),
        }
        // The advisor in charge and its confidence.
        let in_charge = match &llm {
            Some(Ok(a)) => a.clone(),
            _ => heuristic.clone(),
        };
        if in_charge.confidence < threshold {
            prop_assert_eq!(d.verdict, Verdict::NeedsHuman, "confidence {} under {}", in_charge.confidence, threshold);
        }
        // A stricter advisor tightens the decision.
        if policy.as_ref().is_ok_and(|p| in_charge.verdict > p.verdict) {
            prop_assert!(d.verdict >= in_charge.verdict);
        }
        // A looser advisor against a policy rule that is not hard: a human decides.
        if let Ok(p) = &policy
            && !p.hard
            && in_charge.verdict < p.verdict
        {
            prop_assert_eq!(d.verdict, Verdict::NeedsHuman);
        }
        // Heuristic and LLM disagreeing, or the LLM failing: a human.
        match &llm {
            Some(Ok(a)) if a.verdict != heuristic.verdict => prop_assert_eq!(d.verdict, Verdict::NeedsHuman),
            Some(Err(_)) => prop_assert_eq!(d.verdict, Verdict::NeedsHuman),
            _ => {}
        }
        // Deletions: never allowed unless the policy itself allows; a delete is never automatic.
        let deleted = f.input.resources.iter().any(|r| matches!(r.state, ResState::Missing | ResState::Extra));
        if deleted && d.verdict == Verdict::Allow {
            prop_assert!(policy.as_ref().is_ok_and(|p| p.verdict == Verdict::Allow));
        }
        let extra = f.input.resources.iter().any(|r| r.state == ResState::Extra);
        if extra && matches!(d.verdict, Verdict::Enforce | Verdict::Defer) {
            prop_assert!(!d.automatic);
        }
        if d.verdict == Verdict::NeedsHuman {
            prop_assert!(!d.automatic);
        }
        // A defer always has the instant it waits for.
        if d.verdict == Verdict::Defer {
            prop_assert!(d.not_before.is_some());
            prop_assert!(d.not_before.unwrap() >= f.input.now);
        } else {
            prop_assert!(d.not_before.is_none());
        }
        prop_assert!((0.0..=1.0).contains(&d.confidence));
        if mode == Mode::Shadow {
            prop_assert!(d.guardrails.iter().any(|g| g.contains("shadow")));
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A stale or failed source never loosens the real decision nor raises its confidence.
    #[test]
    fn degraded_sources_only_lower_confidence(
        idx in 0usize..1000,
        prom in prop_oneof![Just(SourceState::Stale), Just(SourceState::Failed), Just(SourceState::Ok)],
        pd in prop_oneof![Just(SourceState::Stale), Just(SourceState::Failed), Just(SourceState::Ok)],
    ) {
        let all = scenarios();
        let sc = &all[idx % all.len()];
        let bundle = Bundle::builtin().unwrap();
        let decider = driftdeck::decide::decider::Decider::new(bundle);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut healthy = sc.clone();
        let ctx = healthy.context.get_or_insert_with(Default::default);
        ctx.sources.insert("prometheus".into(), SourceState::Ok);
        ctx.sources.insert("pagerduty".into(), SourceState::Ok);
        let mut degraded = healthy.clone();
        let ctx = degraded.context.as_mut().unwrap();
        ctx.sources.insert("prometheus".into(), prom);
        ctx.sources.insert("pagerduty".into(), pd);
        let a = rt.block_on(decider.decide(&healthy, Mode::Advisory)).unwrap();
        let b = rt.block_on(decider.decide(&degraded, Mode::Advisory)).unwrap();
        prop_assert!(b.verdict >= a.verdict, "{}: {} became {}", sc.name, a.verdict, b.verdict);
        if b.verdict == a.verdict {
            prop_assert!(b.advisor.confidence <= a.advisor.confidence + 1e-9,
                "{}: confidence rose from {} to {}", sc.name, a.advisor.confidence, b.advisor.confidence);
        }
    }
}

/// Outside production a finding is relaxed to allow, and its reason (policy and advisor) says
/// what it saw and what production would get, never "restore it" beside "allowed".
#[test]
fn relaxed_findings_do_not_advise_a_restore() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let (_, mut sc) = scenario::load_dir(&dir)
        .unwrap()
        .into_iter()
        .find(|(_, s)| s.name.contains("invoicing-env-log-level"))
        .expect("the log-level scenario");
    sc.app["metadata"]["labels"]["env"] = "staging".into();
    let decider = driftdeck::decide::decider::Decider::new(Bundle::builtin().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let d = rt.block_on(decider.decide(&sc, Mode::Advisory)).unwrap();
    assert_eq!(d.verdict, Verdict::Allow, "{d:?}");
    let mut texts: Vec<&String> = d.policy.reasons.iter().collect();
    texts.push(&d.advisor.reasoning);
    println!("{texts:#?}");
    assert!(!texts.is_empty());
    for t in &texts {
        assert!(!t.contains("restore"), "{t}");
    }
    assert!(
        texts
            .iter()
            .any(|t| t.contains("not production (in production: defer)")),
        "{texts:?}"
    );
}
