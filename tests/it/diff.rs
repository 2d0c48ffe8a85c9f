//! The diff cases of `../shared/fixtures/README.md` for the three-way path (gitops-engine's
//! `diff_test.go` with its testdata, and Argo CD's `TestStateDiff`), plus its inline cases, and
//! property tests: normalize and diff never panic, and an object diffed with itself is unchanged.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use crate::common;

use common::*;
use driftdeck::diff::{self, Normalizer, compute};
use driftdeck::model::app::ResourceIgnoreDifferences;
use proptest::prelude::*;
use serde_json::{Value, json};

fn load(rel: &str) -> Option<Value> {
    let p = shared(rel)?;
    let text = std::fs::read_to_string(&p).unwrap();
    Some(if rel.ends_with(".json") {
        serde_json::from_str(&text).unwrap()
    } else {
        serde_yaml::from_str(&text).unwrap()
    })
}

fn pair(name: &str) -> Option<(Value, Value)> {
    let base = "fixtures/gitops-engine/pkg/diff/testdata";
    Some((
        load(&format!("{base}/{name}-config.json"))?,
        load(&format!("{base}/{name}-live.json"))?,
    ))
}

fn modified(config: &Value, live: &Value, n: &Normalizer) -> bool {
    let d = diff::diff(Some(config), Some(live), n).unwrap();
    if d.modified {
        eprintln!("{:#?}", d.changes);
    }
    d.modified
}

#[test]
fn three_way_cases() {
    let cases = [
        ("elasticsearch", false),
        ("deployment", false),
        ("mutatingwebhookconfig", false),
        ("spinnaker-sa", false),
        ("wordpress", false),
        ("grafana-clusterrole", false),
        ("sealedsecret", false),
        ("endpoints", false),
    ];
    for (name, want) in cases {
        let Some((c, l)) = pair(name) else { return };
        assert_eq!(modified(&c, &l, &Normalizer::default()), want, "{name}");
    }
}

#[test]
fn aggregated_roles() {
    let Some((c, l)) = pair("aggr-clusterrole") else {
        return;
    };
    let ignore = Normalizer {
        ignore_aggregated_roles: true,
        ..Default::default()
    };
    assert!(!modified(&c, &l, &ignore));
    assert!(modified(&c, &l, &Normalizer::default()));
}

#[test]
fn three_way_with_a_difference() {
    let Some((mut c, l)) = pair("elasticsearch") else {
        return;
    };
    let labels = c["metadata"]["labels"].as_object_mut().unwrap();
    labels.insert("foo".into(), json!("bar"));
    labels.insert("chart".into(), json!("elasticsearch-1.7.1"));
    labels.remove("release");
    let d = diff::diff(Some(&c), Some(&l), &Normalizer::default()).unwrap();
    assert!(d.modified);
    let (old, new) = d.yaml();
    let hunks = compute::hunks(&old, &new, 3);
    let lines: Vec<(compute::Tag, String)> = hunks
        .iter()
        .flat_map(|h| h.lines.iter())
        .filter(|l| l.tag != compute::Tag::Equal)
        .map(|l| (l.tag, l.text.clone()))
        .collect();
    let count = |tag, text: &str| lines.iter().filter(|(t, l)| *t == tag && l == text).count();
    assert_eq!(count(compute::Tag::Insert, "    foo: bar"), 1, "{lines:#?}");
    assert_eq!(
        count(compute::Tag::Delete, "    release: elasticsearch4"),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        count(compute::Tag::Insert, "    chart: elasticsearch-1.7.1"),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        count(compute::Tag::Delete, "    chart: elasticsearch-1.7.0"),
        1,
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 4, "exactly these lines differ: {lines:#?}");
}

#[test]
fn redacted_secret_data() {
    let Some((mut c, mut l)) = pair("wordpress") else {
        return;
    };
    for k in ["wordpress-password", "smtp-password"] {
        c["data"][k] = json!("++++++++");
        l["data"][k] = json!("++++++++++++");
    }
    assert!(modified(&c, &l, &Normalizer::default()));
}

#[test]
fn secret_values_never_leave_the_diff_unmasked() {
    let Some((c, l)) = pair("wordpress") else {
        return;
    };
    let d = diff::diff(Some(&c), Some(&l), &Normalizer::default()).unwrap();
    let out = serde_json::to_string(&d).unwrap();
    for v in l["data"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_str)
        .filter(|v| v.len() > 2)
    {
        assert!(!out.contains(v), "secret value {v} leaked");
    }
}

/// Argo CD's `TestStateDiff`: ignoreDifferences with managedFieldsManagers, jsonPointers and
/// jqPathExpressions, and the replicas each side ends with.
#[test]
fn state_diff_with_ignore_differences() {
    let base = "fixtures/argo-cd/util/argo/testdata";
    let (Some(desired), Some(live)) = (
        load(&format!("{base}/desired_deployment.yaml")),
        load(&format!("{base}/live_deployment_with_managed_replica.yaml")),
    ) else {
        return;
    };
    let rule = |f: &dyn Fn(&mut ResourceIgnoreDifferences)| {
        let mut r = ResourceIgnoreDifferences {
            group: "*".into(),
            kind: "*".into(),
            ..Default::default()
        };
        f(&mut r);
        Normalizer::new(&[r]).unwrap()
    };
    let cases: [(Normalizer, i64, i64); 4] = [
        (
            rule(&|r| r.managed_fields_managers = vec!["kube-controller-manager".into()]),
            1,
            1,
        ),
        (
            rule(&|r| r.managed_fields_managers = vec!["some-other-manager".into()]),
            2,
            3,
        ),
        (
            rule(&|r| r.json_pointers = vec!["/spec/replicas".into()]),
            1,
            1,
        ),
        (
            rule(&|r| r.jq_path_expressions = vec![".spec.replicas".into()]),
            1,
            1,
        ),
    ];
    for (i, (n, live_r, pred_r)) in cases.iter().enumerate() {
        let d = diff::diff(Some(&desired), Some(&live), n).unwrap();
        assert!(d.modified, "case {i}");
        assert_eq!(
            d.live.as_ref().unwrap()["spec"]["replicas"],
            json!(live_r),
            "case {i}: normalized live replicas"
        );
        assert_eq!(
            d.desired.as_ref().unwrap()["spec"]["replicas"],
            json!(pred_r),
            "case {i}: predicted replicas"
        );
    }
}

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "demo", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "demo"}},
            "template": {"metadata": {"labels": {"app": "demo"}}, "spec": {"containers": [{"name": "demo", "image": "nginx:1.25"}]}}}})
}

#[test]
fn inline_cases() {
    let n = Normalizer::default();
    let d = deployment();
    assert!(!modified(&d, &d, &n), "identical");
    let create = diff::diff(Some(&d), None, &n).unwrap();
    assert!(create.modified && create.live.is_none());
    let delete = diff::diff(None, Some(&d), &n).unwrap();
    assert!(
        !delete.modified && delete.desired.is_none(),
        "live only: not modified, predicted null"
    );
    let mut extra = d.clone();
    extra["status"] = json!({"replicas": 1});
    assert!(!modified(&d, &extra, &n), "status in live only");
    let mut ten = d.clone();
    ten["spec"]["replicas"] = json!(10);
    assert!(modified(&d, &ten, &n), "replicas 2 vs 10");
    let mut nil_spec = d.clone();
    nil_spec["spec"] = Value::Null;
    assert!(modified(&d, &nil_spec, &n), "live spec null");
    // ignoreDifferences-style normalizer: the comparison ignores it, in 2-way and 3-way.
    let svc = |aff: &str| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"sessionAffinity": aff, "ports": [{"port": 80}]}});
    let ignore = Normalizer::new(&[ResourceIgnoreDifferences {
        kind: "Service".into(),
        json_pointers: vec!["/spec/sessionAffinity".into()],
        ..Default::default()
    }])
    .unwrap();
    assert!(!modified(&svc("ClientIP"), &svc("None"), &ignore));
    assert!(modified(&svc("ClientIP"), &svc("None"), &n));
    let mut three_way_live = svc("None");
    three_way_live["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration": serde_json::to_string(&svc("ClientIP")).unwrap()});
    assert!(!modified(&svc("ClientIP"), &three_way_live, &ignore));
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|i| json!(i)),
        "[a-z0-9 :#'\"\\-\n]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z][a-zA-Z0-9./-]{0,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_object() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just(("apps/v1", "Deployment")), Just(("v1", "ConfigMap")), Just(("v1", "Secret")), Just(("rbac.authorization.k8s.io/v1", "Role")), Just(("acme.io/v1", "Widget")), Just(("v1", "Endpoints")), Just(("v1", "Service"))],
        arb_json(),
        arb_json(),
        arb_json(),
    )
        .prop_map(|((api, kind), spec, data, meta)| {
            json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x", "labels": meta}, "spec": spec, "data": data, "rules": spec, "subsets": data, "stringData": meta})
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn normalize_and_diff_never_panic(a in arb_object(), b in arb_object(), c in arb_json()) {
        let n = Normalizer::default();
        let mut x = a.clone();
        n.normalize(&mut x);
        let _ = diff::diff(Some(&a), Some(&b), &n);
        let _ = diff::diff(Some(&c), Some(&a), &n);
        let _ = diff::diff(Some(&a), Some(&c), &n);
        let _ = diff::diff(Some(&c), None, &n);
        if let Ok(d) = diff::diff(Some(&a), Some(&b), &n) {
            let (o, nw) = d.yaml();
            let _ = compute::hunks(&o, &nw, 3);
            let _ = d.summary(0);
        }
    }

    #[test]
    fn an_object_diffed_with_itself_is_unchanged(a in arb_object()) {
        let d = diff::diff(Some(&a), Some(&a), &Normalizer::default()).unwrap();
        prop_assert!(!d.modified, "{:#?}", d.changes);
        prop_assert!(d.changes.is_empty());
    }

    #[test]
    fn yaml_round_trips(v in arb_json()) {
        let text = diff::yaml::render(&v);
        let back: Value = serde_yaml::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, v);
    }
}

/// Every resource-quantity field compares by value, as after Argo CD's remarshalling: the same
/// quantity spelled differently is not drift, a different quantity is.
#[test]
fn quantities_compare_by_value_in_every_quantity_field() {
    fn obj(api: &str, kind: &str, body: Value) -> Value {
        let mut v =
            json!({"apiVersion": api, "kind": kind, "metadata": {"name": "q", "namespace": "ns"}});
        for (k, x) in body.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }
    let container = |res: Value| {
        obj(
            "apps/v1",
            "Deployment",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "a:1", "resources": res}]}}}}),
        )
    };
    // (field, Git's spelling, the server's spelling of the same value, another value)
    type Make = Box<dyn Fn(Value) -> Value>;
    let cases: Vec<(&str, Make, Value, Value, Value)> = vec![
        (
            "cpu request",
            Box::new(move |q| container(json!({"requests": {"cpu": q}}))),
            json!("1000m"),
            json!("1"),
            json!("2"),
        ),
        (
            "cpu limit",
            Box::new(move |q| container(json!({"limits": {"cpu": q}}))),
            json!(0.5),
            json!("500m"),
            json!("600m"),
        ),
        (
            "memory request",
            Box::new(move |q| container(json!({"requests": {"memory": q}}))),
            json!("1Gi"),
            json!("1073741824"),
            json!("1G"),
        ),
        (
            "memory limit",
            Box::new(move |q| container(json!({"limits": {"memory": q}}))),
            json!("1536Mi"),
            json!("1.5Gi"),
            json!("1.6Gi"),
        ),
        (
            "ephemeral-storage",
            Box::new(move |q| container(json!({"limits": {"ephemeral-storage": q}}))),
            json!("2e3"),
            json!("2k"),
            json!("3k"),
        ),
        (
            "PVC storage",
            Box::new(|q| {
                obj(
                    "v1",
                    "PersistentVolumeClaim",
                    json!({"spec": {"resources": {"requests": {"storage": q}}}}),
                )
            }),
            json!("10240Mi"),
            json!("10Gi"),
            json!("11Gi"),
        ),
        (
            "ResourceQuota hard",
            Box::new(|q| {
                obj(
                    "v1",
                    "ResourceQuota",
                    json!({"spec": {"hard": {"requests.cpu": q}}}),
                )
            }),
            json!("4000m"),
            json!("4"),
            json!("5"),
        ),
        (
            "LimitRange default",
            Box::new(|q| {
                obj(
                    "v1",
                    "LimitRange",
                    json!({"spec": {"limits": [{"type": "Container", "default": {"memory": q}}]}}),
                )
            }),
            json!("512Mi"),
            json!("536870912"),
            json!("513Mi"),
        ),
        (
            "LimitRange defaultRequest",
            Box::new(|q| {
                obj(
                    "v1",
                    "LimitRange",
                    json!({"spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": q}}]}}),
                )
            }),
            json!("100m"),
            json!("0.1"),
            json!("0.2"),
        ),
        (
            "LimitRange max",
            Box::new(|q| {
                obj(
                    "v1",
                    "LimitRange",
                    json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": q}}]}}),
                )
            }),
            json!("2"),
            json!("2000m"),
            json!("3"),
        ),
        (
            "LimitRange min",
            Box::new(|q| {
                obj(
                    "v1",
                    "LimitRange",
                    json!({"spec": {"limits": [{"type": "Container", "min": {"memory": q}}]}}),
                )
            }),
            json!("1Mi"),
            json!("1024Ki"),
            json!("1Ki"),
        ),
        (
            "emptyDir sizeLimit",
            Box::new(|q| {
                obj(
                    "apps/v1",
                    "Deployment",
                    json!({"spec": {"template": {"spec": {"volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": q}}]}}}}),
                )
            }),
            json!("1Gi"),
            json!("1024Mi"),
            json!("2Gi"),
        ),
        (
            "Pod overhead",
            Box::new(|q| obj("v1", "Pod", json!({"spec": {"overhead": {"cpu": q}}}))),
            json!("250m"),
            json!("0.25"),
            json!("0.3"),
        ),
        (
            "HPA averageValue",
            Box::new(|q| {
                obj(
                    "autoscaling/v2",
                    "HorizontalPodAutoscaler",
                    json!({"spec": {"metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": q}}}]}}),
                )
            }),
            json!("500Mi"),
            json!("524288000"),
            json!("600Mi"),
        ),
        (
            "HPA value",
            Box::new(|q| {
                obj(
                    "autoscaling/v2",
                    "HorizontalPodAutoscaler",
                    json!({"spec": {"metrics": [{"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": q}}}]}}),
                )
            }),
            json!("10k"),
            json!("10000"),
            json!("11k"),
        ),
    ];
    for (field, make, git, same, other) in cases {
        let desired = make(git.clone());
        assert!(
            !modified(&desired, &make(same.clone()), &Normalizer::default()),
            "{field}: {git} and {same} are the same quantity"
        );
        assert!(
            modified(&desired, &make(other.clone()), &Normalizer::default()),
            "{field}: {git} and {other} differ"
        );
    }
    // An environment variable that looks like a number is not a quantity.
    let env = |v: &str| container(json!({})).pipe_env(v);
    assert!(modified(&env("1"), &env("1.0"), &Normalizer::default()));
}

trait PipeEnv {
    fn pipe_env(self, v: &str) -> Value;
}

impl PipeEnv for Value {
    fn pipe_env(mut self, v: &str) -> Value {
        self["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "N", "value": v}]);
        self
    }
}
