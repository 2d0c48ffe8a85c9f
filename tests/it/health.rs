//! Every health case of `../shared/fixtures/README.md`: gitops-engine's built-in checks (the
//! asserted status, and the derived message) and Argo CD's Lua checks (`health_test.yaml`:
//! exact status and message).

use crate::common;

use common::*;
use driftdeck::model::status::Health;

fn load(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (file, asserted status or None for no check, derived message)
const BUILTIN: &[(&str, Option<&str>, &str)] = &[
    ("../../utils/kube/testdata/nginx.yaml", Some("Healthy"), ""),
    (
        "deployment-progressing.yaml",
        Some("Progressing"),
        "Waiting for rollout to finish: 1 old replicas are pending termination...",
    ),
    (
        "deployment-suspended.yaml",
        Some("Suspended"),
        "Deployment is paused",
    ),
    (
        "deployment-degraded.yaml",
        Some("Degraded"),
        "Deployment \"guestbook-ui\" exceeded its progress deadline",
    ),
    (
        "statefulset.yaml",
        Some("Healthy"),
        "statefulset has 1 ready pods",
    ),
    (
        "statefulset-ondelete.yaml",
        Some("Healthy"),
        "statefulset has 1 ready pods",
    ),
    (
        "daemonset-ondelete.yaml",
        Some("Healthy"),
        "daemon set 0 out of 1 new pods have been updated",
    ),
    ("pvc-bound.yaml", Some("Healthy"), ""),
    ("pvc-pending.yaml", Some("Progressing"), ""),
    ("svc-clusterip.yaml", Some("Healthy"), ""),
    ("svc-loadbalancer.yaml", Some("Healthy"), ""),
    ("svc-loadbalancer-unassigned.yaml", Some("Progressing"), ""),
    ("svc-loadbalancer-nonemptylist.yaml", Some("Healthy"), ""),
    ("ingress.yaml", Some("Healthy"), ""),
    ("ingress-unassigned.yaml", Some("Progressing"), ""),
    ("ingress-nonemptylist.yaml", Some("Healthy"), ""),
    ("knative-service.yaml", None, ""),
    ("job-running.yaml", Some("Progressing"), ""),
    (
        "job-failed.yaml",
        Some("Degraded"),
        "Job has reached the specified backoff limit",
    ),
    ("job-succeeded.yaml", Some("Healthy"), ""),
    // Current Argo CD surfaces the Suspended condition's message (argo-cd #28738).
    ("job-suspended.yaml", Some("Suspended"), "Job suspended"),
    (
        "hpa-v2-healthy.yaml",
        Some("Healthy"),
        "recommended size matches current size",
    ),
    (
        "hpa-v2-degraded.yaml",
        Some("Degraded"),
        "the HPA controller was unable to get the target's current scale: deployments/scale.apps \"sandbox-test-app-8\" not found",
    ),
    (
        "hpa-v2-progressing.yaml",
        Some("Progressing"),
        "Waiting to Autoscale",
    ),
    // Current Argo CD dropped autoscaling/v2beta1 and v2beta2 (argo-cd #27887): the archived
    // fixtures' Healthy is now an unsupported GVK, Unknown.
    (
        "hpa-v2beta2-healthy.yaml",
        Some("Unknown"),
        "unsupported HPA GVK: autoscaling/v2beta2, Kind=HorizontalPodAutoscaler",
    ),
    (
        "hpa-v2beta1-healthy-disabled.yaml",
        Some("Unknown"),
        "unsupported HPA GVK: autoscaling/v2beta1, Kind=HorizontalPodAutoscaler",
    ),
    (
        "hpa-v2beta1-healthy.yaml",
        Some("Unknown"),
        "unsupported HPA GVK: autoscaling/v2beta1, Kind=HorizontalPodAutoscaler",
    ),
    (
        "hpa-v1-degraded.yaml",
        Some("Degraded"),
        "the HPA controller was unable to get the target's current scale",
    ),
    // The archived fixture can scale but cannot read its CPU metrics: current Argo CD
    // (argo-cd #26274) looks for failures first, so it is Degraded (the argo-cd repository
    // replaced the fixture's conditions when it changed the rule).
    (
        "hpa-v1-healthy.yaml",
        Some("Degraded"),
        "the HPA was unable to compute the replica count: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)",
    ),
    (
        "hpa-v1-healthy-toofew.yaml",
        Some("Healthy"),
        "recommended size matches current size",
    ),
    (
        "hpa-v1-progressing.yaml",
        Some("Progressing"),
        "Waiting to Autoscale",
    ),
    (
        "hpa-v1-progressing-with-no-annotations.yaml",
        Some("Progressing"),
        "Waiting to Autoscale",
    ),
    ("pod-pending.yaml", Some("Progressing"), ""),
    ("pod-running-not-ready.yaml", Some("Progressing"), ""),
    (
        "pod-crashloop.yaml",
        Some("Degraded"),
        "Back-off 40s restarting failed container=main pod=my-pod_argocd(63674389-f613-11e8-a057-fe5f49266390)",
    ),
    (
        "pod-imagepullbackoff.yaml",
        Some("Degraded"),
        "Back-off pulling image \"gcr.io/heptio-images/ks-guestbook-demo:0.3\"",
    ),
    ("pod-error.yaml", Some("Degraded"), ""),
    ("pod-running-restart-always.yaml", Some("Healthy"), ""),
    ("pod-running-restart-never.yaml", Some("Progressing"), ""),
    (
        "pod-running-restart-onfailure.yaml",
        Some("Progressing"),
        "",
    ),
    (
        "pod-failed.yaml",
        Some("Degraded"),
        "container \"main\" failed with exit code 1",
    ),
    ("pod-succeeded.yaml", Some("Healthy"), ""),
    ("pod-deletion.yaml", Some("Progressing"), "Pending deletion"),
    ("application-healthy.yaml", None, ""),
    ("application-degraded.yaml", None, ""),
    (
        "apiservice-v1-true.yaml",
        Some("Healthy"),
        "Passed: all checks passed",
    ),
    (
        "apiservice-v1-false.yaml",
        Some("Progressing"),
        "MissingEndpoints: endpoints for service/cert-manager-webhook in \"external-dns\" have no addresses",
    ),
    (
        "apiservice-v1beta1-true.yaml",
        Some("Healthy"),
        "Passed: all checks passed",
    ),
    (
        "apiservice-v1beta1-false.yaml",
        Some("Progressing"),
        "MissingEndpoints: endpoints for service/cert-manager-webhook in \"external-dns\" have no addresses",
    ),
];

#[test]
fn gitops_engine_builtin_checks() {
    let Some(dir) = shared("fixtures/gitops-engine/pkg/health/testdata") else {
        return;
    };
    let mut failures = Vec::new();
    for (file, status, message) in BUILTIN {
        let obj = load(&dir.join(file));
        let got = driftdeck::health::assess(&obj);
        match (status, &got) {
            (None, None) => {}
            (Some(want), Some(a)) => {
                if a.status.as_str() != *want {
                    failures.push(format!(
                        "{file}: status {} want {want} ({})",
                        a.status, a.message
                    ));
                } else if *message != "*" && a.message != *message {
                    failures.push(format!("{file}: message {:?} want {message:?}", a.message));
                }
            }
            _ => failures.push(format!("{file}: got {got:?} want {status:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn argo_cd_lua_checks() {
    let Some(root) = shared("fixtures/argo-cd/resource_customizations") else {
        return;
    };
    let mut cases = 0;
    let mut failures = Vec::new();
    for group in std::fs::read_dir(&root).unwrap().flatten() {
        for kind in std::fs::read_dir(group.path()).unwrap().flatten() {
            let t = kind.path().join("health_test.yaml");
            if !t.exists() {
                continue;
            }
            let spec = load(&t);
            for case in spec["tests"].as_array().unwrap() {
                let input = kind.path().join(case["inputPath"].as_str().unwrap());
                let want_status = case["healthStatus"]["status"].as_str().unwrap();
                let want_msg = case["healthStatus"]["message"].as_str().unwrap_or("");
                let obj = load(&input);
                cases += 1;
                match driftdeck::health::assess(&obj) {
                    Some(a) if a.status.as_str() == want_status && a.message == want_msg => {}
                    other => failures.push(format!(
                        "{}: got {other:?}, want {want_status} {want_msg:?}",
                        input.display()
                    )),
                }
            }
        }
    }
    assert!(cases >= 45, "only {cases} cases found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_listed_kind_has_a_check() {
    let kinds = driftdeck::health::checked_kinds();
    for k in [
        "apps/Deployment",
        "apps/StatefulSet",
        "apps/DaemonSet",
        "apps/ReplicaSet",
        "Service",
        "networking.k8s.io/Ingress",
        "PersistentVolumeClaim",
        "Pod",
        "batch/Job",
        "autoscaling/HorizontalPodAutoscaler",
        "apiregistration.k8s.io/APIService",
        "argoproj.io/Workflow",
        "argoproj.io/Rollout",
        "argoproj.io/AnalysisRun",
        "argoproj.io/ApplicationSet",
        "cert-manager.io/Certificate",
        "cert-manager.io/Issuer",
        "cert-manager.io/ClusterIssuer",
        "external-secrets.io/ExternalSecret",
        "external-secrets.io/SecretStore",
        "external-secrets.io/ClusterSecretStore",
        "bitnami.com/SealedSecret",
        "keda.sh/ScaledObject",
        "policy/PodDisruptionBudget",
        "batch/CronJob",
    ] {
        assert!(kinds.contains(&k), "{k}");
    }
    let _ = Health::Healthy;
}
