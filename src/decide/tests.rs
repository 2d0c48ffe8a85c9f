use super::policy::{Bundle, TestOutcome};

#[test]
fn the_builtin_bundle_passes_its_own_tests() {
    let b = Bundle::builtin().unwrap();
    let results = b.run_tests().unwrap();
    assert!(results.len() >= 20, "{} tests", results.len());
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.outcome != TestOutcome::Pass)
        .map(|r| format!("{} {:?} {:?}", r.name, r.outcome, r.prints))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}
