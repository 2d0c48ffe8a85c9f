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

# ============================================================================================
# Principle 5: security-weakening drift is enforced, in every environment.
# Each element: {"resource", "rule", "reason"}.
# ============================================================================================

describe_rule(rule) := sprintf("%s on %s", [concat(",", object.get(rule, "verbs", [])), concat(",", array.concat(object.get(rule, "resources", []), object.get(rule, "nonResourceURLs", [])))])

security contains {"resource": r.key, "rule": "p5.rbac_broadened", "reason": msg} if {
	some k in cfg.rbac_kinds
	some i in by_kind[k]
	r := input.resources[i]
	r.state == "modified"
	extra := lib.extra_grants(r)
	count(extra) > 0
	msg := sprintf("%s was broadened: it now grants %s, which Git does not", [r.short, concat("; ", [describe_rule(x) | some x in extra])])
}

security contains {"resource": r.key, "rule": "p5.rbac_aggregation", "reason": msg} if {
	some k in cfg.rbac_kinds
	some i in by_kind[k]
	r := input.resources[i]
	some c in r.changes
	startswith(c.path, "/aggregationRule")
	msg := sprintf("%s aggregates other roles differently from Git", [r.short])
}

security contains {"resource": r.key, "rule": "p5.binding_subjects_added", "reason": msg} if {
	some k in cfg.binding_kinds
	some i in by_kind[k]
	r := input.resources[i]
	r.state == "modified"
	added := lib.added_subjects(r)
	count(added) > 0
	msg := sprintf("%s binds subjects Git does not: %s", [r.short, concat(", ", sort(added))])
}

security contains {"resource": r.key, "rule": "p5.binding_role_changed", "reason": msg} if {
	some k in cfg.binding_kinds
	some i in by_kind[k]
	r := input.resources[i]
	some c in r.changes
	startswith(c.path, "/roleRef")
	msg := sprintf("%s refers to another role (%s: %v → %v)", [r.short, c.path, c.old, c.new])
}

# Pods and pod templates.
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
	c.path == "/spec/type"
	c.new in {"LoadBalancer", "NodePort"}
	old := service_type(c.old)
	not [old, c.new] == ["LoadBalancer", "NodePort"]
	old != c.new
	msg := sprintf("%s was exposed: its type changed from %s to %s", [r.short, old, c.new])
}

security contains {"resource": r.key, "rule": "p5.service_exposed", "reason": msg} if {
	some i in by_kind.Service
	r := input.resources[i]
	some c in r.changes
	startswith(c.path, "/spec/externalIPs")
	c.new != null
	msg := sprintf("%s was given external IPs (%v)", [r.short, c.new])
}

security contains {"resource": r.key, "rule": "p5.service_exposed", "reason": msg} if {
	some i in by_kind.Service
	r := input.resources[i]
	some c in r.changes
	startswith(c.path, "/spec/loadBalancerSourceRanges")
	widened(c)
	msg := sprintf("%s accepts traffic from more sources (%s)", [r.short, c.path])
}

widened(c) if c.op == "remove"

widened(c) if {
	some x in lib.as_list(c.new)
	x in {"0.0.0.0/0", "::/0"}
}

security contains {"resource": r.key, "rule": "p5.ingress_exposed", "reason": msg} if {
	some i in by_kind.Ingress
	r := input.resources[i]
	some c in r.changes
	startswith(c.path, "/spec/rules")
	c.op == "add"
	msg := sprintf("%s routes a new host or path (%s: %v)", [r.short, c.path, c.new])
}

security contains {"resource": r.key, "rule": "p5.ingress_tls_removed", "reason": msg} if {
	some i in by_kind.Ingress
	r := input.resources[i]
	some c in r.changes
	startswith(c.path, "/spec/tls")
	c.op == "remove"
	msg := sprintf("%s no longer terminates TLS for part of its traffic (%s)", [r.short, c.path])
}

# Security resources: network policies, admission control, mesh authentication.
security contains {"resource": r.key, "rule": "p5.security_resource", "reason": msg} if {
	some k in cfg.security_kinds
	some i in by_kind[k]
	r := input.resources[i]
	r.state == "modified"
	not only_narrowed(r)
	msg := sprintf("%s, a security control, differs from Git", [r.short])
}

security contains {"resource": r.key, "rule": "p5.security_resource_deleted", "reason": msg} if {
	some k in cfg.security_kinds
	some i in by_kind[k]
	r := input.resources[i]
	r.state == "missing"
	msg := sprintf("%s, a security control, was deleted", [r.short])
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
security contains {"resource": r.key, "rule": "p5.config_weakened", "reason": msg} if {
	some r in input.resources
	some s in r.settings
	lib.setting_weakened(s)
	msg := sprintf("%s: %s changed from %v to %v, which switches a security control off", [r.short, s.key, s.old, s.new])
}

# Security labels and annotations (pod security, mesh injection, internal load balancers).
security contains {"resource": r.key, "rule": "p5.metadata_weakened", "reason": msg} if {
	some [i, j] in by_category.metadata
	r := input.resources[i]
	c := r.changes[j]
	k := c.leaf
	lib.security_metadata_key(k)
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
	some r in input.resources
	r.state == "modified"
	narrowing_kind(r.kind)
	not r.key in security_resource
	some c in r.changes
	not startswith(c.path, "/metadata/")
	msg := sprintf("%s was narrowed by hand (access or traffic removed): possibly incident response, so a human decides", [r.short])
	f := finding_of(r, "needs-human", 8, "p8.security_narrowed", msg, [], false, true)
}

narrowing_kind(k) if k in cfg.rbac_kinds

narrowing_kind(k) if k in cfg.binding_kinds

narrowing_kind(k) if k in cfg.security_kinds

# --- Principle 2: autoscaler-owned replicas are allowed. ------------------------------------

autoscaled(r, c) if lib.autoscaler_manager(c)

autoscaled(r, _) if r.autoscaled

autoscaler_of(r, c) := c.manager if lib.autoscaler_manager(c)

autoscaler_of(r, c) := r.autoscaler if {
	not lib.autoscaler_manager(c)
	r.autoscaled
}

base contains f if {
	some [i, j] in by_category.replicas
	r := input.resources[i]
	c := r.changes[j]
	autoscaled(r, c)
	msg := sprintf("%s: %s is %v because the autoscaler (%s) set it", [r.short, c.path, c.new, autoscaler_of(r, c)])
	f := finding_of(r, "allow", 2, "p2.autoscaler", msg, [c.id], false, false)
}

# --- Principles 1, 8 and 9: scaling. ----------------------------------------------------------

scaling(r, c) if {
	c.category in {"replicas", "resources"}
	not autoscaled(r, c)
}

scaling_change(r, c) := sprintf("%s: %s %v → %v", [r.short, c.path, c.old, c.new])

base contains f if {
	some cat in ["replicas", "resources"]
	some [i, j] in by_category[cat]
	r := input.resources[i]
	c := r.changes[j]
	scaling(r, c)
	lib.direction(c) in {"up", "down"}
	metrics_unreliable
	msg := sprintf("%s while the metrics source is %s: whether load justifies it cannot be checked", [scaling_change(r, c), input.context.metrics])
	f := finding_of(r, "needs-human", 8, "p8.scaling_metrics_unreliable", msg, [], false, false)
}

base contains f if {
	some cat in ["replicas", "resources"]
	some [i, j] in by_category[cat]
	r := input.resources[i]
	c := r.changes[j]
	scaling(r, c)
	lib.direction(c) == "up"
	not metrics_unreliable
	count(scaling_reason) > 0
	msg := sprintf("%s, with %s: reverting it could cause an outage", [scaling_change(r, c), concat(" and ", sort(scaling_reason))])
	f := finding_of(r, "allow", 1, "p1.legitimate_scaling", msg, [c.id], false, false)
}

base contains f if {
	some cat in ["replicas", "resources"]
	some [i, j] in by_category[cat]
	r := input.resources[i]
	c := r.changes[j]
	scaling(r, c)
	lib.direction(c) == "up"
	not metrics_unreliable
	count(scaling_reason) == 0
	msg := sprintf("%s with no evidence that justifies it%s", [scaling_change(r, c), elsewhere])
	f := finding_of(r, "needs-human", 8, "p8.scaling_unjustified", msg, [], false, false)
}

# "(an incident on another service justifies nothing)"
elsewhere := sprintf(" (the open incidents concern other services: %s)", [concat(", ", sort(other))]) if {
	other := {i.id | some i in input.context.incidents; i.open; not i.concerns_app}
	count(other) > 0
} else := ""

base contains f if {
	some cat in ["replicas", "resources"]
	some [i, j] in by_category[cat]
	r := input.resources[i]
	c := r.changes[j]
	scaling(r, c)
	lib.scaled_to_zero(c)
	production
	not metrics_unreliable
	not incident_for_app
	msg := sprintf("%s: scaled to zero in production with no incident to explain it", [scaling_change(r, c)])
	f := finding_of(r, "needs-human", 8, "p8.scaled_to_zero", msg, [], false, false)
}

base contains f if {
	some cat in ["replicas", "resources"]
	some [i, j] in by_category[cat]
	r := input.resources[i]
	c := r.changes[j]
	scaling(r, c)
	lib.direction(c) == "down"
	not metrics_unreliable
	incident_for_app
	msg := sprintf("%s during an open incident on this service: a mitigation, not to be undone now", [scaling_change(r, c)])
	f := finding_of(r, "allow", 9, "p9.lowered_during_incident", msg, [c.id], false, false)
}

base contains f if {
	some cat in ["replicas", "resources"]
	some [i, j] in by_category[cat]
	r := input.resources[i]
	c := r.changes[j]
	scaling(r, c)
	lib.direction(c) == "down"
	not lib.scaled_to_zero(c)
	not metrics_unreliable
	not incident_for_app
	low_traffic
	msg := sprintf("%s while load is at %.1f× its baseline: a traffic reason", [scaling_change(r, c), input.context.min_load_ratio])
	f := finding_of(r, "allow", 9, "p9.lowered_low_traffic", msg, [c.id], false, false)
}

base contains f if {
	some cat in ["replicas", "resources"]
	some [i, j] in by_category[cat]
	r := input.resources[i]
	c := r.changes[j]
	scaling(r, c)
	lib.direction(c) == "down"
	not metrics_unreliable
	not incident_for_app
	not low_traffic
	not zero_in_production(c)
	msg := sprintf("%s with no traffic reason and no incident: restore it at the next sync window", [scaling_change(r, c)])
	f := finding_of(r, "defer", 9, "p9.lowered", msg, [c.id], false, false)
}

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
	c := r.changes[j]
	c.new == true
	incident_for_app
	msg := sprintf("%s was suspended during an open incident on this service: a mitigation", [r.short])
	f := finding_of(r, "allow", 9, "p9.suspended_during_incident", msg, [c.id], false, false)
}

base contains f if {
	some [i, j] in by_category.suspend
	r := input.resources[i]
	c := r.changes[j]
	not suspended_in_incident(c)
	msg := sprintf("%s: suspend changed from %v to %v with no incident to explain it", [r.short, c.old, c.new])
	f := finding_of(r, "needs-human", 8, "p8.suspended", msg, [], false, false)
}

suspended_in_incident(c) if {
	c.new == true
	incident_for_app
}

# --- Principle 3: plain configuration drift waits for the window. ----------------------------

settings_of(r, c) := [s | some s in r.settings; s.path == c.path; not superseded(r, s)]

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
	some r in input.resources
	some s in r.settings
	not s.credential
	lib.security_setting(s)
	not lib.setting_weakened(s)
	msg := sprintf("%s: the security setting %s changed from %v to %v", [r.short, s.key, s.old, s.new])
	f := finding_of(r, "needs-human", 8, "p8.security_setting", msg, [], false, true)
}

plain_setting(s) if {
	not s.credential
	not lib.security_setting(s)
}

base contains f if {
	some [i, j] in by_category.config
	r := input.resources[i]
	c := r.changes[j]
	settings := settings_of(r, c)
	count(settings) > 0
	every s in settings {
		plain_setting(s)
	}
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
	some [i, j] in by_category.config
	r := input.resources[i]
	c := r.changes[j]
	count(settings_of(r, c)) == 0
	msg := sprintf("%s: %s changed (%v → %v), which is not a plain setting", [r.short, c.path, c.old, c.new])
	f := finding_of(r, "needs-human", 8, "p8.config_reference", msg, [], false, false)
}

# --- Principle 4: operational metadata is allowed. --------------------------------------------

base contains f if {
	some [i, j] in by_category.metadata
	r := input.resources[i]
	c := r.changes[j]
	k := c.leaf
	not lib.security_metadata_key(k)
	lib.operational_key(k)
	msg := sprintf("%s: %s is operational metadata (%v → %v)", [r.short, k, c.old, c.new])
	f := finding_of(r, "allow", 4, "p4.operational_metadata", msg, [c.id], false, false)
}

base contains f if {
	some [i, j] in by_category.metadata
	r := input.resources[i]
	c := r.changes[j]
	c.op == "add"
	k := c.leaf
	not lib.security_metadata_key(k)
	not lib.operational_key(k)
	msg := sprintf("%s: the label or annotation %s was added (%v)", [r.short, k, c.new])
	f := finding_of(r, "allow", 4, "p4.metadata_added", msg, [c.id], false, false)
}

base contains f if {
	some [i, j] in by_category.metadata
	r := input.resources[i]
	c := r.changes[j]
	c.op != "add"
	k := c.leaf
	not lib.security_metadata_key(k)
	not lib.operational_key(k)
	msg := sprintf("%s: the label or annotation %s changed (%v → %v): restore it at the next sync window", [r.short, k, c.old, c.new])
	f := finding_of(r, "defer", 4, "p4.metadata_changed", msg, [c.id], false, false)
}

base contains f if {
	some [i, j] in by_category.metadata
	r := input.resources[i]
	c := r.changes[j]
	k := c.leaf
	lib.security_metadata_key(k)
	not metadata_weakened(k, c)
	msg := sprintf("%s: the security label or annotation %s changed (%v → %v)", [r.short, k, c.old, c.new])
	f := finding_of(r, "needs-human", 8, "p8.security_metadata", msg, [], false, true)
}

# --- Principle 7: hand-edited images are reverted, except a hot rollback. ---------------------

image_change(r, i) := sprintf("%s: container %s runs %s instead of %s", [r.short, i.container, i.new, i.old])

base contains f if {
	some r in input.resources
	some i in r.images
	i.registry_known
	i.digest_pin
	msg := sprintf("%s: the same image pinned to its digest", [image_change(r, i)])
	f := finding_of(r, "allow", 4, "p4.digest_pin", msg, [i_change(r, i)], false, false)
}

base contains f if {
	some r in input.resources
	some i in r.images
	i.registry_known
	not i.digest_pin
	i.in_history
	incident_for_app
	msg := sprintf("%s, exactly the image of a previous deployment, during an open incident on this service: a hot rollback", [image_change(r, i)])
	f := finding_of(r, "allow", 7, "p7.hot_rollback", msg, [i_change(r, i)], false, false)
}

base contains f if {
	some r in input.resources
	some i in r.images
	i.new != null
	i.registry_known
	not i.digest_pin
	not i.in_history
	incident_for_app
	msg := sprintf("%s, an image never deployed before, during an open incident on this service", [image_change(r, i)])
	f := finding_of(r, "needs-human", 8, "p8.image_during_incident", msg, [], false, false)
}

base contains f if {
	some r in input.resources
	some i in r.images
	i.registry_known
	not i.digest_pin
	not incident_for_app
	msg := sprintf("%s, changed by hand with no incident on the service: restore Git's image", [image_change(r, i)])
	f := finding_of(r, "enforce", 7, "p7.image_hand_edit", msg, [], false, false)
}

i_change(r, i) := c.id if {
	some c in r.changes
	c.path == i.path
}

# --- Principles 8 and 10: Secrets. ----------------------------------------------------------

base contains f if {
	some [i, j] in by_category["secret-data"]
	r := input.resources[i]
	c := r.changes[j]
	owners := lib.secret_controller(r)
	count(owners) > 0
	msg := sprintf("%s was rewritten by its controller (%s owns it): a legitimate rotation", [r.short, concat(", ", sort(owners))])
	f := finding_of(r, "allow", 10, "p10.controller_secret", msg, [x.id | some x in r.changes], false, true)
}

base contains f if {
	some [i, j] in by_category["secret-data"]
	r := input.resources[i]
	c := r.changes[j]
	count(lib.secret_controller(r)) == 0
	msg := sprintf("%s: Secret data (%s) was changed%s, outside any secret controller", [r.short, c.leaf, by(c)])
	f := finding_of(r, "needs-human", 8, "p8.secret_edited", msg, [], false, true)
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
	"reason": sprintf("%s; allowed because %s is not production (%s)", [f.reason, input.app.name, input.app.environment]),
}) if {
	not production
	not f.protected
	f.verdict != "allow"
} else := f

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
