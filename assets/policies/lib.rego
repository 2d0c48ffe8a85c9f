# Helpers of the default drift policy: functions and constants only (no rule here reads the
# input, so nothing in this package is evaluated until a function is called). The input is
# described in docs/policy.md; the tunables are data.driftdeck.config (data.json).
package driftdeck.lib

order := {"allow": 0, "defer": 1, "enforce": 2, "needs-human": 3}

verdicts := ["allow", "defer", "enforce", "needs-human"]

# The strictest of a non-empty collection of verdicts.
strictest(vs) := verdicts[max({order[v] | some v in vs})]

# --- Values ----------------------------------------------------------------------------------

# A value as lowercase text.
lc(v) := lower(v) if is_string(v)

lc(v) := lower(sprintf("%v", [v])) if not is_string(v)

falsy(v) if {
	v != null
	lc(v) in data.driftdeck.config.falsy_values
}

truthy(v) if {
	v != null
	lc(v) in data.driftdeck.config.truthy_values
}

as_list(v) := v if is_array(v)

as_list(v) := [v] if {
	not is_array(v)
	v != null
}

as_list(v) := [] if v == null

# --- Quantities -------------------------------------------------------------------------------

# "up", "down" or "same" for a replicas or resources change. A limit removed lifts the
# ceiling (up), a limit added lowers it; a request or a replica count added raises it.
# The cases exclude each other; an else-chain stops at the first that holds.
direction(c) := "up" if {
	is_number(c.quantity.old)
	is_number(c.quantity.new)
	c.quantity.new > c.quantity.old
} else := "down" if {
	is_number(c.quantity.old)
	is_number(c.quantity.new)
	c.quantity.new < c.quantity.old
} else := "same" if {
	is_number(c.quantity.old)
	is_number(c.quantity.new)
} else := "up" if {
	c.op == "remove"
	contains(c.path, "/limits/")
} else := "down" if {
	c.op == "add"
	contains(c.path, "/limits/")
} else := "up" if {
	c.op == "add"
} else := "down" if {
	c.op == "remove"
}

scaled_to_zero(c) if {
	c.category == "replicas"
	c.quantity.new == 0
	c.quantity.old != 0
}

# The pattern matches of data.driftdeck.config (autoscaler_managers, security_metadata,
# operational_metadata, security_key, negative_security_key) are computed once per input by
# driftdeck, with these same patterns, and given as flags on each change and setting
# (docs/policy.md): a regex match is the costliest step a rule takes.
autoscaler_manager(c) if c.autoscaler_manager

# --- RBAC --------------------------------------------------------------------------------------

rules_of(obj) := object.get(obj, "rules", []) if is_object(obj)

rules_of(obj) := [] if not is_object(obj)

grants_all(list, x) if x in list

grants_all(list, _) if "*" in list

names_covered(dr, _) if count(object.get(dr, "resourceNames", [])) == 0

names_covered(dr, lr) if {
	dn := object.get(dr, "resourceNames", [])
	count(dn) > 0
	ln := object.get(lr, "resourceNames", [])
	count(ln) > 0
	every n in ln {
		n in dn
	}
}

grants(dr, g, res, v, lr) if {
	grants_all(object.get(dr, "apiGroups", []), g)
	grants_all(object.get(dr, "resources", []), res)
	grants_all(object.get(dr, "verbs", []), v)
	names_covered(dr, lr)
}

resources_covered(lr, drules) if {
	every g in object.get(lr, "apiGroups", [""]) {
		every res in object.get(lr, "resources", []) {
			every v in object.get(lr, "verbs", []) {
				some dr in drules
				grants(dr, g, res, v, lr)
			}
		}
	}
}

urls_covered(lr, drules) if {
	every u in object.get(lr, "nonResourceURLs", []) {
		every v in object.get(lr, "verbs", []) {
			some dr in drules
			grants_all(object.get(dr, "nonResourceURLs", []), u)
			grants_all(object.get(dr, "verbs", []), v)
		}
	}
}

# A live rule that Git's rules already grant in full.
rule_covered(lr, drules) if {
	resources_covered(lr, drules)
	urls_covered(lr, drules)
}

# The live rules that grant more than Git's.
extra_grants(r) := [lr | some lr in rules_of(r.live); not rule_covered(lr, rules_of(r.desired))]

subjects_of(obj) := object.get(obj, "subjects", []) if is_object(obj)

subjects_of(obj) := [] if not is_object(obj)

subject_key(s) := sprintf("%s %s/%s", [object.get(s, "kind", ""), object.get(s, "namespace", ""), object.get(s, "name", "")])

added_subjects(r) := {subject_key(s) | some s in subjects_of(r.live)} - {subject_key(s) | some s in subjects_of(r.desired)}

# --- NetworkPolicies --------------------------------------------------------------------------

# Live only narrows Git's policy: the same pods selected, the same policy types, and every live
# rule one of Git's rules (rules were only removed).
netpol_only_narrowed(r) if {
	r.state == "modified"
	object.get(r.live.spec, "podSelector", {}) == object.get(r.desired.spec, "podSelector", {})
	object.get(r.live.spec, "policyTypes", []) == object.get(r.desired.spec, "policyTypes", [])
	every dir in ["ingress", "egress"] {
		every rule in object.get(r.live.spec, dir, []) {
			rule in object.get(r.desired.spec, dir, [])
		}
	}
}

# --- Metadata ----------------------------------------------------------------------------------

operational_change(c) if c.operational_metadata

security_metadata_change(c) if c.security_metadata

# --- Configuration settings --------------------------------------------------------------------

security_setting(s) if s.security

negative_setting(s) if s.negative

origin_setting(s) if contains(lower(s.key), "cors")

origin_setting(s) if contains(lower(s.key), "origin")

tls_version_setting(s) if {
	k := lower(s.key)
	regex.match(`(tls|ssl)`, k)
	regex.match(`((tls|ssl).*(min|version|protocol)|(min|version).*(tls|ssl))`, k)
}

version_number(v) := to_number(m[0]) if {
	m := regex.find_n(`[0-9]+(\.[0-9]+)?`, sprintf("%v", [v]), 1)
	count(m) == 1
}

# Cheap checks of the values first: most settings are neither truthy nor falsy.
setting_weakened(s) if {
	truthy(s.new)
	not truthy(s.old)
	security_setting(s)
	negative_setting(s)
}

setting_weakened(s) if {
	falsy(s.new)
	not falsy(s.old)
	security_setting(s)
	not negative_setting(s)
	not origin_setting(s)
}

setting_weakened(s) if {
	contains(sprintf("%v", [s.new]), "*")
	not contains(sprintf("%v", [s.old]), "*")
	origin_setting(s)
}

setting_weakened(s) if {
	tls_version_setting(s)
	version_number(s.new) < version_number(s.old)
}

# --- Secrets -----------------------------------------------------------------------------------

# A secret controller (ExternalSecret, SealedSecret, ...) owns the Secret and wrote every
# changed field of it.
controller_owned(r, o) if {
	r.kind == "Secret"
	some ctl in data.driftdeck.config.secret_controllers
	o.kind == ctl.owner_kind
	every c in r.changes {
		is_string(c.manager)
		regex.match(ctl.managers, c.manager)
	}
}

secret_controller(r) := {sprintf("%s/%s", [o.kind, o.name]) | some o in r.owners; controller_owned(r, o)}
