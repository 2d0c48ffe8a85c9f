# Unit tests of the default drift policy: `driftdeck policy test` runs every test_ rule.
package driftdeck.drift_test

import data.driftdeck.drift

prod := {"name": "web", "production": true, "environment": "prod"}

dev := {"name": "web-dev", "production": false, "environment": "dev"}

quiet := {
	"configured": true,
	"signals": {},
	"incidents": [],
	"alerts": [],
	"metrics": "ok",
	"open_incident_for_app": false,
	"firing_alert_for_app": false,
	"max_load_ratio": null,
	"min_load_ratio": null,
}

spike := object.union(quiet, {"max_load_ratio": 3.2, "min_load_ratio": 3.2})

incident := object.union(quiet, {
	"incidents": [{"id": "INC-1", "open": true, "concerns_app": true}],
	"open_incident_for_app": true,
})

other_incident := object.union(quiet, {"incidents": [{"id": "INC-2", "open": true, "concerns_app": false}]})

res(kind, changes) := {
	"key": sprintf("g/%s/ns/web", [kind]),
	"short": sprintf("%s/web", [kind]),
	"kind": kind,
	"state": "modified",
	"changes": changes,
	"images": [],
	"settings": [],
	"owners": [],
	"autoscaled": false,
	"desired": {},
	"live": {},
}

leaf_of(path) := k if {
	parts := split(path, "/")
	k := replace(replace(parts[count(parts) - 1], "~1", "/"), "~0", "~")
}

# The pattern flags driftdeck computes for each change and setting (docs/policy.md).
flag(pattern, s) := true if {
	is_string(s)
	regex.match(pattern, s)
} else := false

change(path, category, old, new, manager) := {
	"id": sprintf("change:x%s", [path]),
	"path": path,
	"leaf": leaf_of(path),
	"op": "replace",
	"old": old,
	"new": new,
	"category": category,
	"manager": manager,
	"quantity": {"old": old, "new": new},
	"autoscaler_manager": flag(data.driftdeck.config.autoscaler_managers, manager),
	"security_metadata": flag(data.driftdeck.config.security_metadata, leaf_of(path)),
	"operational_metadata": flag(data.driftdeck.config.operational_metadata, leaf_of(path)),
}

setting(key, old, new) := {
	"source": "configmap",
	"key": key,
	"old": old,
	"new": new,
	"path": sprintf("/data/%s", [key]),
	"credential": false,
	"security": flag(data.driftdeck.config.security_key, key),
	"negative": flag(data.driftdeck.config.negative_security_key, key),
}

replicas(old, new, manager) := res("Deployment", [change("/spec/replicas", "replicas", old, new, manager)])

decide(app, resources, context) := d if {
	d := drift.decision with input as {"app": app, "resources": resources, "context": context}
}

test_scale_up_during_spike_is_allowed if {
	d := decide(prod, [replicas(4, 12, "kubectl-scale")], spike)
	d.verdict == "allow"
	d.rule == "p1.legitimate_scaling"
}

test_scale_up_with_incident_on_another_service_needs_a_human if {
	d := decide(prod, [replicas(4, 12, "kubectl-scale")], other_incident)
	d.verdict == "needs-human"
	d.rule == "p8.scaling_unjustified"
	contains(d.reasons[0], "INC-2")
}

test_scale_up_with_stale_metrics_needs_a_human if {
	d := decide(prod, [replicas(4, 12, "kubectl-scale")], object.union(spike, {"metrics": "stale"}))
	d.verdict == "needs-human"
}

test_autoscaler_replicas_are_allowed if {
	d := decide(prod, [replicas(3, 11, "kube-controller-manager")], quiet)
	d.verdict == "allow"
	d.rule == "p2.autoscaler"
}

test_scale_down_without_reason_is_deferred if {
	d := decide(prod, [replicas(6, 2, "kubectl-scale")], quiet)
	d.verdict == "defer"
}

test_scale_to_zero_in_production_needs_a_human if {
	d := decide(prod, [replicas(3, 0, "kubectl-scale")], quiet)
	d.verdict == "needs-human"
	d.rule == "p8.scaled_to_zero"
}

test_scale_to_zero_in_dev_is_allowed if {
	d := decide(dev, [replicas(3, 0, "kubectl-scale")], quiet)
	d.verdict == "allow"
}

test_rbac_broadened_is_enforced_even_in_dev if {
	role := object.union(res("Role", [change("/rules/1/verbs", "other", null, ["*"], "kubectl-edit")]), {
		"desired": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
		"live": {"rules": [
			{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
			{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]},
		]},
	})
	d := decide(dev, [role], quiet)
	d.verdict == "enforce"
	d.rule == "p5.rbac_broadened"
	d.hard
}

test_rbac_narrowed_needs_a_human if {
	role := object.union(res("Role", [change("/rules/0/verbs", "other", ["get", "list"], ["get"], "kubectl-edit")]), {
		"desired": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
		"live": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
	})
	d := decide(prod, [role], quiet)
	d.verdict == "needs-human"
}

test_privileged_container_is_enforced if {
	d := decide(prod, [res("Deployment", [change("/spec/template/spec/containers/0/securityContext/privileged", "other", null, true, "kubectl-edit")])], incident)
	d.verdict == "enforce"
	d.rule == "p5.pod_security"
}

test_service_exposed_is_enforced if {
	d := decide(prod, [res("Service", [change("/spec/type", "other", "ClusterIP", "LoadBalancer", "kubectl-patch")])], quiet)
	d.verdict == "enforce"
	d.rule == "p5.service_exposed"
}

test_missing_resource_is_recreated if {
	r := object.union(res("CronJob", []), {"state": "missing"})
	d := decide(prod, [r], quiet)
	d.verdict == "enforce"
	d.rule == "p6.missing_live"
}

test_extra_resource_is_never_deleted_automatically if {
	r := object.union(res("ConfigMap", []), {"state": "extra"})
	d := decide(dev, [r], quiet)
	d.verdict == "needs-human"
}

config_change := object.union(res("ConfigMap", [change("/data/LOG_LEVEL", "config", "info", "debug", "kubectl-edit")]), {"settings": [setting("LOG_LEVEL", "info", "debug")]})

test_plain_config_is_deferred if {
	d := decide(prod, [config_change], quiet)
	d.verdict == "defer"
	d.rule == "p3.config"
}

test_plain_config_in_dev_is_allowed if {
	d := decide(dev, [config_change], quiet)
	d.verdict == "allow"
}

# A finding relaxed outside production keeps what it saw and drops its advice: it never says
# "restore it" and "allowed" at once, and says what production would get.
test_relaxed_findings_do_not_advise_a_restore if {
	d := decide(dev, [config_change], quiet)
	every r in d.reasons {
		not contains(r, "restore")
	}
	some r in d.reasons
	contains(r, "allowed because web-dev is dev, not production (in production: defer)")
	contains(r, "LOG_LEVEL")
}

test_tls_verification_off_is_enforced if {
	r := object.union(res("ConfigMap", [change("/data/TLS_VERIFY", "config", "true", "false", "kubectl-edit")]), {"settings": [setting("TLS_VERIFY", "true", "false")]})
	d := decide(dev, [r], quiet)
	d.verdict == "enforce"
	d.rule == "p5.config_weakened"
}

test_restart_annotation_is_allowed if {
	d := decide(prod, [res("Deployment", [object.union(change("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt", "metadata", null, "2026-01-01T00:00:00Z", "kubectl-rollout"), {"op": "add"})])], quiet)
	d.verdict == "allow"
	d.rule == "p4.operational_metadata"
}

image(new, in_history, known) := object.union(res("Deployment", [change("/spec/template/spec/containers/0/image", "image", "r.io/app:2", new, "kubectl-set")]), {"images": [{
	"container": "app",
	"path": "/spec/template/spec/containers/0/image",
	"old": "r.io/app:2",
	"new": new,
	"new_registry": "r.io",
	"registry_known": known,
	"in_history": in_history,
	"digest_pin": false,
}]})

test_hand_edited_image_is_enforced if {
	d := decide(prod, [image("r.io/app:3-rc1", false, true)], quiet)
	d.verdict == "enforce"
	d.rule == "p7.image_hand_edit"
}

test_hot_rollback_is_allowed if {
	d := decide(prod, [image("r.io/app:1", true, true)], incident)
	d.verdict == "allow"
	d.rule == "p7.hot_rollback"
}

rolled_back := {"rollback": {"reason": "bad release", "paused": true, "to": 57}}

decide_handled(app, resources, context, handling) := d if {
	d := drift.decision with input as {"app": app, "resources": resources, "context": context, "handling": handling}
}

# After a guided rollback, the image Argo CD's controller deployed is not a hand change, and
# Git must not undo the rollback.
test_image_of_a_guided_rollback_is_allowed if {
	i := image("r.io/app:1", true, true)
	by_argocd := object.union(i, {"images": [object.union(i.images[0], {"by_argocd": true, "manager": "argocd-controller"})]})
	d := decide_handled(prod, [by_argocd], quiet, rolled_back)
	d.verdict == "allow"
	d.rule == "p7.guided_rollback"
}

test_image_set_by_hand_during_a_rollback_is_still_enforced if {
	i := image("r.io/app:3-rc1", false, true)
	by_hand := object.union(i, {"images": [object.union(i.images[0], {"by_human": true, "by_argocd": false})]})
	d := decide_handled(prod, [by_hand], quiet, rolled_back)
	d.verdict == "enforce"
	d.rule == "p7.image_hand_edit"
}

test_the_same_image_without_a_rollback_is_a_hand_edit if {
	i := image("r.io/app:1", true, true)
	by_argocd := object.union(i, {"images": [object.union(i.images[0], {"by_argocd": true})]})
	d := decide_handled(prod, [by_argocd], quiet, {})
	d.verdict == "enforce"
	d.rule == "p7.git_ahead"
}

test_new_image_during_incident_needs_a_human if {
	d := decide(prod, [image("r.io/app:9", false, true)], incident)
	d.verdict == "needs-human"
}

test_unknown_registry_is_enforced_during_incidents if {
	d := decide(prod, [image("evil.example/app:1", true, false)], incident)
	d.verdict == "enforce"
	d.rule == "p5.image_registry"
}

secret(manager, owners) := object.union(res("Secret", [change("/data/password", "secret-data", "++++++++", "++++++++++++", manager)]), {"owners": owners})

test_controller_rotated_secret_is_allowed if {
	d := decide(prod, [secret("external-secrets", [{"kind": "ExternalSecret", "name": "db", "controller": true}])], quiet)
	d.verdict == "allow"
	d.rule == "p10.controller_secret"
}

test_hand_edited_secret_needs_a_human_even_in_dev if {
	d := decide(dev, [secret("kubectl-edit", [])], quiet)
	d.verdict == "needs-human"
	d.rule == "p8.secret_edited"
}

test_unclassified_change_needs_a_human if {
	d := decide(prod, [res("Deployment", [change("/spec/strategy/type", "other", "RollingUpdate", "Recreate", "kubectl-edit")])], quiet)
	d.verdict == "needs-human"
	d.rule == "p8.unclassified"
}

test_strictest_resource_wins if {
	d := decide(prod, [replicas(4, 12, "kubectl-scale"), config_change], spike)
	d.verdict == "defer"
}

test_nothing_changed_is_allowed if {
	d := decide(prod, [object.union(res("Deployment", []), {"state": "in-sync"})], quiet)
	d.verdict == "allow"
	d.rule == "none"
}
