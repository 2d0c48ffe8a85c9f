use super::*;

#[test]
fn query_decoding() {
    let q = parse_query("projects=a&projects=b%20c&selector=env%3Dprod&x+y=1&flag");
    assert_eq!(q[0], ("projects".into(), "a".into()));
    assert_eq!(q[1], ("projects".into(), "b c".into()));
    assert_eq!(q[2], ("selector".into(), "env=prod".into()));
    assert_eq!(q[3], ("x y".into(), "1".into()));
    assert_eq!(q[4], ("flag".into(), String::new()));
    assert_eq!(parse_query("a=%zz%4"), vec![("a".into(), "%zz%4".into())]);
}

#[test]
fn label_selectors() {
    let l: std::collections::BTreeMap<String, String> = [
        ("env".to_string(), "prod".to_string()),
        ("team".to_string(), "payments".to_string()),
    ]
    .into_iter()
    .collect();
    assert!(selector_matches("env=prod", &l));
    assert!(selector_matches("env==prod,team", &l));
    assert!(!selector_matches("env!=prod", &l));
    assert!(selector_matches("env in (prod, staging)", &l));
    assert!(!selector_matches("env notin (prod)", &l));
    assert!(selector_matches("!owner", &l));
    assert!(!selector_matches("owner", &l));
}

#[test]
fn projection_keeps_only_paths() {
    let v = json!({"metadata": {"name": "a", "uid": "u"}, "items": [{"x": 1, "y": 2}, {"x": 3}]});
    let p = project(&v, &[vec!["metadata", "name"], vec!["items", "x"]]);
    assert_eq!(
        p,
        json!({"metadata": {"name": "a"}, "items": [{"x": 1}, {"x": 3}]})
    );
    let mut e = v.clone();
    exclude(&mut e, &[vec!["items", "y"], vec!["metadata"]]);
    assert_eq!(e, json!({"items": [{"x": 1}, {"x": 3}]}));
}

#[test]
fn sse_frame_is_the_real_framing() {
    assert_eq!(&sse_frame(b"{}")[..], b"data: {} \n\n\n");
}
