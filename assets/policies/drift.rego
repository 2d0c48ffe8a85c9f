# driftdeck's default drift policy: what an experienced SRE does about a drifted resource,
# following the decision principles (docs/policy.md). The entry point is
# data.driftdeck.drift.decision:
#   {"verdict": "allow|defer|enforce|needs-human", "rule": "...", "reasons": [...],
#    "hard": bool, "findings": [...]}
# Every finding names the principle and the rule that produced it. Time is read only from
# input.now, so a decision replays identically.
package driftdeck.drift

import data.driftdeck.lib

cfg := data.driftdeck.config

# ============================================================================================
# The situation of the app.
# ============================================================================================

production if input.app.production

incident_for_app if input.context.open_incident_for_app

metrics_unreliable if input.context.metrics in {"stale", "failed"}

load_spike if {
	is_number(input.context.max_load_ratio)
	input.context.max_load_ratio >= cfg.scaling_ratio
}

low_traffic if {
	is_number(input.context.min_load_ratio)
	input.context.min_load_ratio <= cfg.low_traffic_ratio
}

# What justifies scaling up, as sentences.
scaling_reason contains sprintf("load at %.1f× its baseline", [input.context.max_load_ratio]) if load_spike

scaling_reason contains sprintf("open incident %s on this service", [i.id]) if {
	some i in input.context.incidents
	i.open
	i.concerns_app
}

scaling_reason contains sprintf("alert %s firing for this service", [a.name]) if {
	some a in input.context.alerts
	a.concerns_app
}

# ============================================================================================
# Indexes, built in one pass, so that each rule below visits only what concerns it.
# ============================================================================================

# [resource index, change index] of every change, by category.
by_category := {cat: {[i, j] | some i, x in input.resources; some j, y in x.changes; y.category == cat} |
	some r in input.resources
	some c in r.changes
	cat := c.category
}

# Resource indexes by kind and by state.
by_kind := {k: {i | some i, x in input.resources; x.kind == k} | some r in input.resources; k := r.kind}

by_state := {st: {i | some i, x in input.resources; x.state == st} | some r in input.resources; st := r.state}

# Resource indexes of the RBAC, binding and security kinds of the config.
of_kinds(kinds) := {i | some k, idx in by_kind; k in kinds; some i in idx}

rbac_resources := of_kinds(cfg.rbac_kinds)

binding_resources := of_kinds(cfg.binding_kinds)

security_kind_resources := of_kinds(cfg.security_kinds)

# ============================================================================================
# Principle 5: security-weakening drift is enforced, in every environment.
# Each element: {"resource", "rule", "reason"}.
# ============================================================================================

describe_rule(rule) := sprintf("%s on %s", [concat(",", object.get(rule, "verbs", [])), concat(",", array.concat(object.get(rule, "resources", []), object.get(rule, "nonResourceURLs", [])))])

# Roles: broadened grants (per role) and aggregation changes (per change). One rule per kind
# group: each rule has a fixed cost whatever it finds.
security contains x if {
	some i in rbac_resources
	r := input.resources[i]
	some x in rbac_findings(r)
}

rbac_findings(r) := {x |
	r.state == "modified"
	extra := lib.extra_grants(r)
	count(extra) > 0
	msg := sprintf("%s was broadened: it now grants %s, which Git does not", [r.short, concat("; ", [describe_rule(g) | some g in extra])])
	x := {"resource": r.key, "rule": "p5.rbac_broadened", "reason": msg}
} | {x |
	some c in r.changes
	startswith(c.path, "/aggregationRule")
	msg := sprintf("%s aggregates other roles differently from Git", [r.short])
	x := {"resource": r.key, "rule": "p5.rbac_aggregation", "reason": msg}
}

security contains x if {
	some i in binding_resources
	r := input.resources[i]
	some x in binding_findings(r)
}

binding_findings(r) := {x |
	r.state == "modified"
	added := lib.added_subjects(r)
	count(added) > 0
	msg := sprintf("%s binds subjects Git does not: %s", [r.short, concat(", ", sort(added))])
	x := {"resource": r.key, "rule": "p5.binding_subjects_added", "reason": msg}
} | {x |
	some c in r.changes
	startswith(c.path, "/roleRef")
	msg := sprintf("%s refers to another role (%s: %v → %v)", [r.short, c.path, c.old, c.new])
	x := {"resource": r.key, "rule": "p5.binding_role_changed", "reason": msg}
}

# Pods and pod templates. Only these leaves can weaken a pod (checked before the functions).
pod_security_leaves := {
	"privileged", "allowPrivilegeEscalation", "hostNetwork", "hostPID", "hostIPC", "add", "drop",
	"runAsUser", "runAsNonRoot", "readOnlyRootFilesystem", "type", "path", "hostPort",
	"serviceAccountName", "serviceAccount", "automountServiceAccountToken", "procMount",
}

pod_security(c) := "runs a privileged container" if {
	c.leaf == "privileged"
	endswith(c.path, "/securityContext/privileged")
	c.new == true
}

pod_security(c) := "allows privilege escalation" if {
	c.leaf == "allowPrivilegeEscalation"
	endswith(c.path, "/securityContext/allowPrivilegeEscalation")
	c.new == true
}

pod_security(c) := sprintf("shares the node's %s namespace", [trim_prefix(c.leaf, "host")]) if {
	c.leaf in {"hostNetwork", "hostPID", "hostIPC"}
	c.new == true
}

pod_security(c) := sprintf("adds the capabilities %v", [sort(added)]) if {
	c.leaf == "add"
	contains(c.path, "/capabilities/add")
	added := {x | some x in lib.as_list(c.new)} - {x | some x in lib.as_list(c.old)}
	count(added) > 0
}

pod_security(c) := sprintf("no longer drops the capabilities %v", [sort(kept)]) if {
	c.leaf == "drop"
	contains(c.path, "/capabilities/drop")
	kept := {x | some x in lib.as_list(c.old)} - {x | some x in lib.as_list(c.new)}
	count(kept) > 0
}

pod_security(c) := "runs as root (runAsUser: 0)" if {
	c.leaf == "runAsUser"
	c.new == 0
}

pod_security(c) := "no longer requires a non-root user (runAsNonRoot)" if {
	c.leaf == "runAsNonRoot"
	c.old == true
	c.new != true
}

pod_security(c) := "has a writable root filesystem" if {
	c.leaf == "readOnlyRootFilesystem"
	c.old == true
	c.new != true
}

pod_security(c) := "runs without a seccomp profile" if {
	c.leaf == "type"
	endswith(c.path, "/seccompProfile/type")
	c.new == "Unconfined"
}

pod_security(c) := "mounts a directory of the node (hostPath)" if {
	c.leaf == "path"
	regex.match(`/volumes/[0-9]+/hostPath/path$`, c.path)
	c.new != null
}

pod_security(c) := "opens a port on the node (hostPort)" if {
	c.leaf == "hostPort"
	c.new != null
}

pod_security(c) := sprintf("runs under another service account (%v → %v)", [c.old, c.new]) if {
	c.leaf in {"serviceAccountName", "serviceAccount"}
	regex.match(`spec/(serviceAccountName|serviceAccount)$`, c.path)
	c.op == "replace"
}

pod_security(c) := "mounts the service account token again" if {
	c.leaf == "automountServiceAccountToken"
	c.old == false
	c.new != false
}

pod_security(c) := "unmasks /proc" if {
	c.leaf == "procMount"
	c.new == "Unmasked"
}

security contains {"resource": r.key, "rule": "p5.pod_security", "reason": msg} if {
	some [i, j] in by_category.other
	r := input.resources[i]
	c := r.changes[j]
	c.leaf in pod_security_leaves
	what := pod_security(c)
	msg := sprintf("%s %s (%s)", [r.short, what, c.path])
}

# Services and ingresses.
service_type(t) := "ClusterIP" if t == null

service_type(t) := t if t != null

security contains {"resource": r.key, "rule": "p5.service_exposed", "reason": msg} if {
	some i in by_kind.Service
	r := input.resources[i]
	some c in r.changes
	msg := service_exposure(r, c)
}

# The cases concern different paths, so they exclude each other.
service_exposure(r, c) := sprintf("%s was exposed: its type changed from %s to %s", [r.short, old, c.new]) if {
	c.path == "/spec/type"
	c.new in {"LoadBalancer", "NodePort"}
	old := service_type(c.old)
	not [old, c.new] == ["LoadBalancer", "NodePort"]
	old != c.new
} else := sprintf("%s was given external IPs (%v)", [r.short, c.new]) if {
	startswith(c.path, "/spec/externalIPs")
	c.new != null
} else := sprintf("%s accepts traffic from more sources (%s)", [r.short, c.path]) if {
	startswith(c.path, "/spec/loadBalancerSourceRanges")
	widened(c)
}

widened(c) if c.op == "remove"

widened(c) if {
	some x in lib.as_list(c.new)
	x in {"0.0.0.0/0", "::/0"}
}

security contains {"resource": r.key, "rule": rule, "reason": msg} if {
	some i in by_kind.Ingress
	r := input.resources[i]
	some c in r.changes
	[rule, msg] := ingress_exposure(r, c)
}

ingress_exposure(r, c) := ["p5.ingress_exposed", sprintf("%s routes a new host or path (%s: %v)", [r.short, c.path, c.new])] if {
	startswith(c.path, "/spec/rules")
	c.op == "add"
} else := ["p5.ingress_tls_removed", sprintf("%s no longer terminates TLS for part of its traffic (%s)", [r.short, c.path])] if {
	startswith(c.path, "/spec/tls")
	c.op == "remove"
}

# Security resources: network policies, admission control, mesh authentication.
security contains {"resource": r.key, "rule": rule, "reason": msg} if {
	some i in security_kind_resources
	r := input.resources[i]
	[rule, msg] := security_resource_change(r)
}

security_resource_change(r) := ["p5.security_resource", sprintf("%s, a security control, differs from Git", [r.short])] if {
	r.state == "modified"
	not only_narrowed(r)
} else := ["p5.security_resource_deleted", sprintf("%s, a security control, was deleted", [r.short])] if {
	r.state == "missing"
}

only_narrowed(r) if {
	r.kind == "NetworkPolicy"
	lib.netpol_only_narrowed(r)
}

# Images from a registry that neither Git nor the app's history uses.
security contains {"resource": r.key, "rule": "p5.image_registry", "reason": msg} if {
	some r in input.resources
	some i in r.images
	i.new != null
	not i.registry_known
	msg := sprintf("%s runs %s from %s, a registry neither Git nor the app's history uses", [r.short, i.new, i.new_registry])
}

# Configuration that switches a security control off.
# Settings classified once per input: [resource index, setting index].
security_settings := {[i, j] |
	some i, r in input.resources
	some j, s in r.settings
	lib.security_setting(s)
}

weakened_settings := {[i, j] |
	some i, r in input.resources
	some j, s in r.settings
	lib.setting_weakened(s)
}

security contains {"resource": r.key, "rule": "p5.config_weakened", "reason": msg} if {
	some [i, j] in weakened_settings
	r := input.resources[i]
	s := r.settings[j]
	msg := sprintf("%s: %s changed from %v to %v, which switches a security control off", [r.short, s.key, s.old, s.new])
}

# Security labels and annotations (pod security, mesh injection, internal load balancers).
security contains {"resource": r.key, "rule": "p5.metadata_weakened", "reason": msg} if {
	some [i, j] in by_category.metadata
	r := input.resources[i]
	c := r.changes[j]
	k := c.leaf
	lib.security_metadata_change(c)
	metadata_weakened(k, c)
	msg := sprintf("%s: the %s annotation or label changed from %v to %v", [r.short, k, c.old, c.new])
}

metadata_weakened(k, c) if {
	startswith(k, "pod-security.kubernetes.io/")
	lib.lc(c.new) == "privileged"
}

metadata_weakened(_, c) if c.op == "remove"

metadata_weakened(k, c) if {
	regex.match(`(?i)(inject|internal|ssl-redirect|force-ssl)`, k)
	lib.falsy(c.new)
}

metadata_weakened(_, c) if regex.match(`(?i)(unconfined|internet-facing|^external$|^\*$|0\.0\.0\.0/0)`, lib.lc(c.new))

security_resource := {s.resource | some s in security}

# ============================================================================================
# Findings: {"resource", "verdict", "principle", "rule", "reason", "changes", "hard",
# "protected"}. `changes` lists the change ids an allow or defer finding accounts for;
# `protected` findings are not relaxed outside production (principle 11).
# ============================================================================================

finding_of(r, verdict, principle, rule, reason, changes, hard, protected) := {
	"resource": r.key,
	"verdict": verdict,
	"principle": principle,
	"rule": rule,
	"reason": reason,
	"changes": changes,
	"hard": hard,
	"protected": protected,
}

base contains f if {
	some s in security
	some r in input.resources
	r.key == s.resource
	f := finding_of(r, "enforce", 5, s.rule, s.reason, [], true, true)
}

# --- Principle 6: a resource missing live is recreated. -------------------------------------

base contains f if {
	some i in by_state.missing
	r := input.resources[i]
	msg := sprintf("%s is declared in Git and missing in the cluster: recreate it", [r.short])
	f := finding_of(r, "enforce", 6, "p6.missing_live", msg, [], true, true)
}

# A resource only in the cluster: reverting it is a delete, and deletes are never automatic.
base contains f if {
	some i in by_state.extra
	r := input.resources[i]
	msg := sprintf("%s exists in the cluster but not in Git: reverting it means deleting it, which is never automatic", [r.short])
	f := finding_of(r, "needs-human", 8, "p8.extra_live", msg, [], true, true)
}

# Security resources changed in the stricter direction only (rules removed, subjects
# removed): possibly an incident response, not to be undone automatically.
base contains f if {
	some i in (rbac_resources | binding_resources) | security_kind_resources
	r := input.resources[i]
	r.state == "modified"
	not r.key in security_resource
	some c in r.changes
	not startswith(c.path, "/metadata/")
	msg := sprintf("%s was narrowed by hand (access or traffic removed): possibly incident response, so a human decides", [r.short])
	f := finding_of(r, "needs-human", 8, "p8.security_narrowed", msg, [], false, true)
}

# --- Principle 2: autoscaler-owned replicas are allowed. ------------------------------------

autoscaled(r, c) if lib.autoscaler_manager(c)

autoscaled(r, _) if r.autoscaled

autoscaler_of(r, c) := c.manager if lib.autoscaler_manager(c)

autoscaler_of(r, c) := r.autoscaler if {
	not lib.autoscaler_manager(c)
	r.autoscaled
}

# Scaling changes classified once per input.
autoscaled_changes := {[i, j] |
	some cat in ["replicas", "resources"]
	some [i, j] in by_category[cat]
	r := input.resources[i]
	autoscaled(r, r.changes[j])
}

# Scaling by hand: [resource index, change index, direction].
scalings := {[i, j, d] |
	some cat in ["replicas", "resources"]
	some [i, j] in by_category[cat]
	not [i, j] in autoscaled_changes
	d := lib.direction(input.resources[i].changes[j])
}

base contains f if {
	some [i, j] in by_category.replicas
	[i, j] in autoscaled_changes
	r := input.resources[i]
	c := r.changes[j]
	msg := sprintf("%s: %s is %v because the autoscaler (%s) set it", [r.short, c.path, c.new, autoscaler_of(r, c)])
	f := finding_of(r, "allow", 2, "p2.autoscaler", msg, [c.id], false, false)
}

# --- Principles 1, 8 and 9: scaling. ----------------------------------------------------------

scaling_change(r, c) := sprintf("%s: %s %v → %v", [r.short, c.path, c.old, c.new])

# One finding at most per hand scaling: the cases below exclude each other, so they are one
# rule (each rule has a fixed cost, whatever it finds).
base contains f if {
	some [i, j, d] in scalings
	r := input.resources[i]
	f := scaling_finding(r, r.changes[j], d)
}

scaling_finding(r, c, d) := finding_of(r, "needs-human", 8, "p8.scaling_metrics_unreliable", msg, [], false, false) if {
	d in {"up", "down"}
	metrics_unreliable
	msg := sprintf("%s while the metrics source is %s: whether load justifies it cannot be checked", [scaling_change(r, c), input.context.metrics])
} else := finding_of(r, "allow", 1, "p1.legitimate_scaling", msg, [c.id], false, false) if {
	d == "up"
	not metrics_unreliable
	count(scaling_reason) > 0
	msg := sprintf("%s, with %s: reverting it could cause an outage", [scaling_change(r, c), concat(" and ", sort(scaling_reason))])
} else := finding_of(r, "needs-human", 8, "p8.scaling_unjustified", msg, [], false, false) if {
	d == "up"
	not metrics_unreliable
	count(scaling_reason) == 0
	msg := sprintf("%s with no evidence that justifies it%s", [scaling_change(r, c), elsewhere])
} else := finding_of(r, "needs-human", 8, "p8.scaled_to_zero", msg, [], false, false) if {
	lib.scaled_to_zero(c)
	production
	not metrics_unreliable
	not incident_for_app
	msg := sprintf("%s: scaled to zero in production with no incident to explain it", [scaling_change(r, c)])
} else := finding_of(r, "allow", 9, "p9.lowered_during_incident", msg, [c.id], false, false) if {
	d == "down"
	not metrics_unreliable
	incident_for_app
	msg := sprintf("%s during an open incident on this service: a mitigation, not to be undone now", [scaling_change(r, c)])
} else := finding_of(r, "allow", 9, "p9.lowered_low_traffic", msg, [c.id], false, false) if {
	d == "down"
	not lib.scaled_to_zero(c)
	not metrics_unreliable
	not incident_for_app
	low_traffic
	msg := sprintf("%s while load is at %.1f× its baseline: a traffic reason", [scaling_change(r, c), input.context.min_load_ratio])
} else := finding_of(r, "defer", 9, "p9.lowered", msg, [c.id], false, false) if {
	d == "down"
	not metrics_unreliable
	not incident_for_app
	not low_traffic
	not zero_in_production(c)
	msg := sprintf("%s with no traffic reason and no incident: restore it at the next sync window", [scaling_change(r, c)])
}

# "(an incident on another service justifies nothing)"
elsewhere := sprintf(" (the open incidents concern other services: %s)", [concat(", ", sort(other))]) if {
	other := {i.id | some i in input.context.incidents; i.open; not i.concerns_app}
	count(other) > 0
} else := ""

zero_in_production(c) if {
	lib.scaled_to_zero(c)
	production
}

base contains f if {
	some cat in ["replicas", "resources"]
	some [i, j] in by_category[cat]
	r := input.resources[i]
	c := r.changes[j]
	lib.direction(c) == "same"
	msg := sprintf("%s: the same quantity written differently", [scaling_change(r, c)])
	f := finding_of(r, "allow", 4, "p4.same_quantity", msg, [c.id], false, false)
}

# Suspending a job is scaling it to zero.
base contains f if {
	some [i, j] in by_category.suspend
	r := input.resources[i]
	f := suspend_finding(r, r.changes[j])
}

suspend_finding(r, c) := finding_of(r, "allow", 9, "p9.suspended_during_incident", msg, [c.id], false, false) if {
	suspended_in_incident(c)
	msg := sprintf("%s was suspended during an open incident on this service: a mitigation", [r.short])
} else := finding_of(r, "needs-human", 8, "p8.suspended", msg, [], false, false) if {
	msg := sprintf("%s: suspend changed from %v to %v with no incident to explain it", [r.short, c.old, c.new])
}

suspended_in_incident(c) if {
	c.new == true
	incident_for_app
}

# --- Principle 3: plain configuration drift waits for the window. ----------------------------

# The settings a config change touched: [resource index, change index] -> setting indexes.
config_settings := {[i, j]: idx |
	some [i, j] in by_category.config
	r := input.resources[i]
	c := r.changes[j]
	idx := [k | some k, s in r.settings; s.path == c.path; not superseded(r, s)]
}

# A ConfigMap key whose value is a file is judged by the keys inside it.
superseded(r, s) if {
	s.source == "configmap"
	some e in r.settings
	e.source == "configmap-file"
	e.path == s.path
}

base contains f if {
	some r in input.resources
	some s in r.settings
	s.credential
	msg := sprintf("%s: the credential %s was changed by hand", [r.short, s.key])
	f := finding_of(r, "needs-human", 8, "p8.credential_edited", msg, [], false, true)
}

base contains f if {
	some [i, j] in security_settings
	not [i, j] in weakened_settings
	r := input.resources[i]
	s := r.settings[j]
	not s.credential
	msg := sprintf("%s: the security setting %s changed from %v to %v", [r.short, s.key, s.old, s.new])
	f := finding_of(r, "needs-human", 8, "p8.security_setting", msg, [], false, true)
}

plain_setting(i, k) if {
	not input.resources[i].settings[k].credential
	not [i, k] in security_settings
}

base contains f if {
	some [i, j], idx in config_settings
	count(idx) > 0
	every k in idx {
		plain_setting(i, k)
	}
	r := input.resources[i]
	c := r.changes[j]
	settings := [r.settings[k] | some k in idx]
	not incident_for_app
	msg := sprintf("%s: %s changed by hand (%s); nothing security-related and no incident, so restore it at the next sync window", [r.short, concat(", ", sort({s.key | some s in settings})), describe_settings(settings)])
	f := finding_of(r, "defer", 3, "p3.config", msg, [c.id], false, false)
}

describe_settings(settings) := concat(", ", sort({sprintf("%s %v → %v", [s.key, s.old, s.new]) | some s in settings}))

base contains f if {
	some [i, j] in by_category.config
	r := input.resources[i]
	c := r.changes[j]
	incident_for_app
	msg := sprintf("%s: configuration changed during an open incident on this service (%s): possibly a mitigation", [r.short, c.path])
	f := finding_of(r, "needs-human", 8, "p8.config_during_incident", msg, [], false, false)
}

base contains f if {
	some [i, j], idx in config_settings
	count(idx) == 0
	r := input.resources[i]
	c := r.changes[j]
	msg := sprintf("%s: %s changed (%v → %v), which is not a plain setting", [r.short, c.path, c.old, c.new])
	f := finding_of(r, "needs-human", 8, "p8.config_reference", msg, [], false, false)
}

# --- Principle 4: operational metadata is allowed. --------------------------------------------

base contains f if {
	some [i, j] in by_category.metadata
	r := input.resources[i]
	f := metadata_finding(r, r.changes[j])
}

# A weakened security label or annotation is principle 5's (above); the cases exclude each other.
metadata_finding(r, c) := finding_of(r, "needs-human", 8, "p8.security_metadata", msg, [], false, true) if {
	lib.security_metadata_change(c)
	not metadata_weakened(c.leaf, c)
	msg := sprintf("%s: the security label or annotation %s changed (%v → %v)", [r.short, c.leaf, c.old, c.new])
} else := finding_of(r, "allow", 4, "p4.operational_metadata", msg, [c.id], false, false) if {
	not lib.security_metadata_change(c)
	lib.operational_change(c)
	msg := sprintf("%s: %s is operational metadata (%v → %v)", [r.short, c.leaf, c.old, c.new])
} else := finding_of(r, "allow", 4, "p4.metadata_added", msg, [c.id], false, false) if {
	not lib.security_metadata_change(c)
	not lib.operational_change(c)
	c.op == "add"
	msg := sprintf("%s: the label or annotation %s was added (%v)", [r.short, c.leaf, c.new])
} else := finding_of(r, "defer", 4, "p4.metadata_changed", msg, [c.id], false, false) if {
	not lib.security_metadata_change(c)
	not lib.operational_change(c)
	c.op != "add"
	msg := sprintf("%s: the label or annotation %s changed (%v → %v): restore it at the next sync window", [r.short, c.leaf, c.old, c.new])
}

# --- Principle 7: hand-edited images are reverted, except a hot rollback. ---------------------

image_change(r, i) := sprintf("%s: container %s runs %s instead of %s", [r.short, i.container, i.new, i.old])

base contains f if {
	some r in input.resources
	some i in r.images
	i.registry_known
	f := image_finding(r, i)
}

image_finding(r, i) := finding_of(r, "allow", 4, "p4.digest_pin", msg, [i_change(r, i)], false, false) if {
	i.digest_pin
	msg := sprintf("%s: the same image pinned to its digest", [image_change(r, i)])
} else := finding_of(r, "allow", 7, "p7.guided_rollback", msg, [i_change(r, i)], false, false) if {
	not i.digest_pin
	rollback_holds
	rolled_back_image(i)
	msg := sprintf("%s, the image of the deployment it was rolled back to (%s): not a hand change, and Git must not undo the rollback until an operator restores auto-sync", [image_change(r, i), input.handling.rollback.reason])
} else := finding_of(r, "allow", 7, "p7.hot_rollback", msg, [i_change(r, i)], false, false) if {
	not i.digest_pin
	i.in_history
	incident_for_app
	msg := sprintf("%s, exactly the image of a previous deployment, during an open incident on this service: a hot rollback", [image_change(r, i)])
} else := finding_of(r, "needs-human", 8, "p8.image_during_incident", msg, [], false, false) if {
	i.new != null
	not i.digest_pin
	not i.in_history
	incident_for_app
	msg := sprintf("%s, an image never deployed before, during an open incident on this service", [image_change(r, i)])
} else := finding_of(r, "enforce", 7, "p7.git_ahead", msg, [], false, false) if {
	not i.digest_pin
	not incident_for_app
	i.by_argocd
	msg := sprintf("%s: Argo CD itself deployed that image, and Git now declares another: sync to deploy Git's", [image_change(r, i)])
} else := finding_of(r, "enforce", 7, "p7.image_hand_edit", msg, [], false, false) if {
	not i.digest_pin
	not incident_for_app
	msg := sprintf("%s, changed by hand with no incident on the service: restore Git's image", [image_change(r, i)])
}

# A guided rollback holds the app (auto-sync paused for it, or its deployment still live).
rollback_holds if input.handling.rollback

# The live image is the one the rollback deployed: Argo CD's controller wrote it, or it is
# the image of a past deployment and no person's tool wrote it.
rolled_back_image(i) if i.by_argocd

rolled_back_image(i) if {
	i.in_history
	not i.by_human
}

i_change(r, i) := c.id if {
	some c in r.changes
	c.path == i.path
}

# --- Principles 8 and 10: Secrets. ----------------------------------------------------------

base contains f if {
	some [i, j] in by_category["secret-data"]
	r := input.resources[i]
	f := secret_finding(r, r.changes[j], lib.secret_controller(r))
}

secret_finding(r, c, owners) := finding_of(r, "allow", 10, "p10.controller_secret", msg, [x.id | some x in r.changes], false, true) if {
	count(owners) > 0
	msg := sprintf("%s was rewritten by its controller (%s owns it): a legitimate rotation", [r.short, concat(", ", sort(owners))])
} else := finding_of(r, "needs-human", 8, "p8.secret_edited", msg, [], false, true) if {
	msg := sprintf("%s: Secret data (%s) was changed%s, outside any secret controller", [r.short, c.leaf, by(c)])
}

by(c) := sprintf(" by %s", [c.manager]) if is_string(c.manager)

by(c) := "" if not is_string(c.manager)

# --- What no principle covers: a human decides. -----------------------------------------------

covered contains [f.resource, id] if {
	some f in base
	some id in f.changes
}

# A resource already enforced or escalated: its other changes are reverted or looked at anyway.
escalated contains f.resource if {
	some f in base
	lib.order[f.verdict] >= 2
}

unclassified contains f if {
	some r in input.resources
	r.state == "modified"
	not r.key in escalated
	some c in r.changes
	not [r.key, c.id] in covered
	msg := sprintf("%s: no principle covers the change of %s (%v → %v), so a human decides", [r.short, c.path, c.old, c.new])
	f := finding_of(r, "needs-human", 8, "p8.unclassified", msg, [], false, false)
}

finding := base | unclassified

# ============================================================================================
# Principle 11: non-production is relaxed (principle 5 and the protected findings still hold).
# ============================================================================================

effective := {relax(f) | some f in finding}

relax(f) := object.union(f, {
	"verdict": "allow",
	"relaxed_from": f.verdict,
	"reason": sprintf("%s; allowed because %s is %s, not production (in production: %s)", [observation(f.reason), input.app.name, input.app.environment, f.verdict]),
}) if {
	not production
	not f.protected
	f.verdict != "allow"
} else := f

# A finding's reason without its advice ("...: restore it at the next sync window"), so a
# relaxed finding does not say both "restore it" and "allowed".
observation(reason) := regex.replace(reason, `(: |, so |; )(restore|recreate|sync to deploy|a human decides)[^:;]*$`, "")

# ============================================================================================
# The decision: the strictest finding wins (allow < defer < enforce < needs-human).
# ============================================================================================

default decision := {
	"verdict": "allow",
	"rule": "none",
	"reasons": ["nothing differs between Git and the cluster once normalized"],
	"hard": false,
	"findings": [],
}

decision := {
	"verdict": v,
	"rule": deciding[0].rule,
	"reasons": [f.reason | some f in deciding],
	"hard": count([f | some f in deciding; f.hard]) > 0,
	"findings": sort([f | some f in effective]),
} if {
	count(effective) > 0
	v := lib.strictest({f.verdict | some f in effective})
	deciding := sort([f | some f in effective; f.verdict == v])
}
