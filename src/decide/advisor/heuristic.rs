//! The offline advisor: the decision principles in Rust, independent of the Rego policy, with
//! the weight of the evidence turned into a confidence. Deterministic: the same facts give the
//! same advice.
//!
//! Confidence starts from how clear-cut the principle is for the case (a privileged container
//! is unambiguous; "scaled up because of load" depends on how much evidence agrees), rises with
//! independent corroboration (a load spike, an incident, an alert, a Kubernetes event that
//! agree), and falls when a context source the conclusion leans on is stale or failed, or was
//! not configured.

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Advice, Advisor, AdvisorError};
use crate::decide::Verdict;
use crate::decide::facts::{ChangeFacts, Facts, Input, ResState, ResourceFacts, SettingChange};
use crate::decide::tuning::Tuning;

/// The heuristic advisor.
#[derive(Debug, Clone)]
pub struct Heuristic {
    pub tuning: Tuning,
}

impl Heuristic {
    pub fn new(tuning: Tuning) -> Self {
        Heuristic { tuning }
    }

    /// The advice for a drift.
    pub fn assess(&self, facts: &Facts) -> Advice {
        let input = &facts.input;
        let mut all: Vec<Finding> = Vec::new();
        for r in &input.resources {
            all.extend(self.resource(input, r));
        }
        combine(input, all, facts)
    }
}

impl Advisor for Heuristic {
    fn name(&self) -> &str {
        "heuristic"
    }

    fn advise<'a>(&'a self, facts: &'a Facts) -> BoxFuture<'a, Result<Advice, AdvisorError>> {
        Box::pin(async move { Ok(self.assess(facts)) })
    }
}

/// What the conclusion leans on, for the source penalties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leans {
    Nothing,
    /// "There is no incident": wrong if the incident source is blind.
    NoIncident,
    /// "Load justifies it" or "there is no traffic reason".
    Metrics,
}

#[derive(Debug, Clone)]
struct Finding {
    resource: String,
    verdict: Verdict,
    confidence: f64,
    text: String,
    evidence: Vec<String>,
    /// Change ids an allow or defer accounts for.
    covers: Vec<String>,
    /// Not relaxed outside production (security, deletions, secrets).
    protected: bool,
    leans: Leans,
}

impl Finding {
    fn new(r: &ResourceFacts, verdict: Verdict, confidence: f64, text: String) -> Self {
        Finding {
            resource: r.key.clone(),
            verdict,
            confidence,
            text,
            evidence: Vec::new(),
            covers: Vec::new(),
            protected: false,
            leans: Leans::Nothing,
        }
    }

    fn cite(mut self, ids: impl IntoIterator<Item = String>) -> Self {
        for id in ids {
            if !self.evidence.contains(&id) {
                self.evidence.push(id);
            }
        }
        self
    }

    fn covering(mut self, c: &ChangeFacts) -> Self {
        self.covers.push(c.id.clone());
        if !self.evidence.contains(&c.id) {
            self.evidence.push(c.id.clone());
        }
        self
    }

    fn protect(mut self) -> Self {
        self.protected = true;
        self
    }

    fn leaning(mut self, l: Leans) -> Self {
        self.leans = l;
        self
    }
}

fn lc(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_ascii_lowercase(),
        Value::Null => String::new(),
        other => other.to_string().to_ascii_lowercase(),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn leaf(path: &str) -> String {
    path.rsplit('/')
        .next()
        .unwrap_or("")
        .replace("~1", "/")
        .replace("~0", "~")
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Evidence of the situation: the incidents, alerts and load signals that concern the app.
struct Situation<'a> {
    input: &'a Input,
}

impl Situation<'_> {
    fn incidents(&self) -> Vec<&crate::decide::facts::IncidentFacts> {
        self.input
            .context
            .incidents
            .iter()
            .filter(|i| i.open && i.concerns_app)
            .collect()
    }

    fn incident(&self) -> bool {
        self.input.context.open_incident_for_app
    }

    fn alerts(&self) -> Vec<&crate::decide::facts::AlertFacts> {
        self.input
            .context
            .alerts
            .iter()
            .filter(|a| a.concerns_app)
            .collect()
    }

    fn metrics_unreliable(&self) -> bool {
        matches!(self.input.context.metrics, "stale" | "failed")
    }

    /// The load signals above the scaling ratio, highest first.
    fn spikes(&self, ratio: f64) -> Vec<(String, f64)> {
        let mut v: Vec<(String, f64)> = self
            .input
            .context
            .signals
            .iter()
            .filter(|(_, s)| s.kind == "load")
            .filter_map(|(n, s)| s.ratio.filter(|r| *r >= ratio).map(|r| (n.clone(), r)))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }

    fn low_traffic(&self, ratio: f64) -> Option<(String, f64)> {
        let mut lows: Vec<(String, f64)> = self
            .input
            .context
            .signals
            .iter()
            .filter(|(_, s)| s.kind == "load")
            .filter_map(|(n, s)| s.ratio.map(|r| (n.clone(), r)))
            .collect();
        // Low only when every load signal is low.
        if lows.is_empty() || lows.iter().any(|(_, r)| *r > ratio) {
            return None;
        }
        lows.sort_by(|a, b| a.1.total_cmp(&b.1));
        lows.into_iter().next()
    }

    /// Events about an object (`Kind/name`).
    fn events_of(&self, short: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeMap::new();
        for e in &self.input.context.events {
            let object = e.get("object").and_then(Value::as_str).unwrap_or("");
            let reason = e.get("reason").and_then(Value::as_str).unwrap_or("");
            let base = format!("event:{object}:{reason}");
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if object == short {
                out.push(if *n == 1 { base } else { format!("{base}#{n}") });
            }
        }
        out
    }

    fn other_incidents(&self) -> Vec<String> {
        self.input
            .context
            .incidents
            .iter()
            .filter(|i| i.open && !i.concerns_app)
            .map(|i| i.id.clone())
            .collect()
    }
}

fn direction(c: &ChangeFacts) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering::*;
    let q = c.quantity?;
    let limit = c.path.contains("/limits/");
    match (q.old, q.new, c.op) {
        (Some(o), Some(n), _) => o.partial_cmp(&n).map(|x| x.reverse()),
        (_, _, "remove") => Some(if limit { Greater } else { Less }),
        (_, _, "add") => Some(if limit { Less } else { Greater }),
        _ => None,
    }
}

impl Heuristic {
    fn resource(&self, input: &Input, r: &ResourceFacts) -> Vec<Finding> {
        let t = &self.tuning;
        let sit = Situation { input };
        let mut out = Vec::new();
        match r.state {
            ResState::Missing => {
                out.push(
                    Finding::new(
                        r,
                        Verdict::Enforce,
                        0.95,
                        format!(
                            "{} is declared in Git and missing in the cluster: recreate it",
                            r.short
                        ),
                    )
                    .cite([format!("resource:{}", r.short)])
                    .protect(),
                );
                if t.security_kinds.contains(&r.kind) {
                    out.push(
                        Finding::new(
                            r,
                            Verdict::Enforce,
                            0.97,
                            format!("{}, a security control, was deleted", r.short),
                        )
                        .cite([format!("resource:{}", r.short)])
                        .protect(),
                    );
                }
                return out;
            }
            ResState::Extra => {
                out.push(
                    Finding::new(
                        r,
                        Verdict::NeedsHuman,
                        0.92,
                        format!(
                            "{} is only in the cluster: reverting it would delete it, and a delete is never automatic",
                            r.short
                        ),
                    )
                    .cite([format!("resource:{}", r.short)])
                    .protect(),
                );
                return out;
            }
            ResState::InSync => return out,
            ResState::Modified => {}
        }

        let security = self.security(input, r);
        let secured = !security.is_empty();
        out.extend(security);

        // Security resources changed, but not weaker: possibly someone closing a hole.
        let security_kind = t.rbac_kinds.contains(&r.kind)
            || t.binding_kinds.contains(&r.kind)
            || t.security_kinds.contains(&r.kind);
        if security_kind && !secured && r.changes.iter().any(|c| !c.path.starts_with("/metadata/"))
        {
            out.push(
                Finding::new(
                    r,
                    Verdict::NeedsHuman,
                    0.85,
                    format!("{} was made stricter by hand: perhaps an incident response, so a person decides", r.short),
                )
                .cite(r.changes.iter().map(|c| c.id.clone()))
                .protect(),
            );
        }

        for c in &r.changes {
            match c.category {
                "replicas" | "resources" => out.extend(self.scaling(input, &sit, r, c)),
                "suspend" => out.push(self.suspend(&sit, r, c)),
                "metadata" => out.extend(self.metadata(r, c)),
                "secret-data" => {}
                "config" => out.extend(self.config(&sit, r, c)),
                _ => {}
            }
        }
        out.extend(self.images(&sit, r));
        if r.kind == "Secret" && r.changes.iter().any(|c| c.category == "secret-data") {
            out.push(self.secret(r));
        }
        out
    }

    fn security(&self, input: &Input, r: &ResourceFacts) -> Vec<Finding> {
        let t = &self.tuning;
        let mut out = Vec::new();
        let mut add = |text: String, ids: Vec<String>| {
            out.push(
                Finding::new(r, Verdict::Enforce, 0.96, text)
                    .cite(ids)
                    .protect(),
            );
        };
        let all_ids = || r.changes.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        if t.rbac_kinds.contains(&r.kind) {
            let extra = extra_grants(r.desired.as_ref(), r.live.as_ref());
            if !extra.is_empty() {
                add(
                    format!("{} now grants {} beyond Git", r.short, extra.join("; ")),
                    all_ids(),
                );
            }
            if r.changes
                .iter()
                .any(|c| c.path.starts_with("/aggregationRule"))
            {
                add(
                    format!("{} aggregates other roles than Git says", r.short),
                    all_ids(),
                );
            }
        }
        if t.binding_kinds.contains(&r.kind) {
            let key = |s: &Value| {
                format!(
                    "{} {}/{}",
                    s.get("kind").and_then(Value::as_str).unwrap_or(""),
                    s.get("namespace").and_then(Value::as_str).unwrap_or(""),
                    s.get("name").and_then(Value::as_str).unwrap_or("")
                )
            };
            let subjects = |o: Option<&Value>| -> BTreeSet<String> {
                o.and_then(|o| o.get("subjects"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(key).collect())
                    .unwrap_or_default()
            };
            let added: Vec<String> = subjects(r.live.as_ref())
                .difference(&subjects(r.desired.as_ref()))
                .cloned()
                .collect();
            if !added.is_empty() {
                add(
                    format!(
                        "{} binds more subjects than Git: {}",
                        r.short,
                        added.join(", ")
                    ),
                    all_ids(),
                );
            }
            if r.changes.iter().any(|c| c.path.starts_with("/roleRef")) {
                add(
                    format!("{} binds another role than Git", r.short),
                    all_ids(),
                );
            }
        }
        if t.security_kinds.contains(&r.kind) && !netpol_narrowed(r) {
            add(
                format!("{} is a security control and differs from Git", r.short),
                all_ids(),
            );
        }
        for c in &r.changes {
            if let Some(what) = pod_weakening(c) {
                add(format!("{} {what}", r.short), vec![c.id.clone()]);
            }
            if r.kind == "Service"
                && let Some(what) = service_exposure(c)
            {
                add(format!("{} {what}", r.short), vec![c.id.clone()]);
            }
            if r.kind == "Ingress" {
                if c.path.starts_with("/spec/rules") && c.op == "add" {
                    add(
                        format!("{} serves a new host or path", r.short),
                        vec![c.id.clone()],
                    );
                }
                if c.path.starts_with("/spec/tls") && c.op == "remove" {
                    add(
                        format!("{} dropped TLS for part of its traffic", r.short),
                        vec![c.id.clone()],
                    );
                }
            }
            if c.category == "metadata" {
                let k = leaf(&c.path);
                if t.security_metadata.is_match(&k) && self.metadata_weakened(&k, c) {
                    add(
                        format!(
                            "{}: security annotation {k} went from {} to {}",
                            r.short,
                            show(&c.old),
                            show(&c.new)
                        ),
                        vec![c.id.clone()],
                    );
                }
            }
        }
        for i in &r.images {
            if i.new.is_some() && !i.registry_known {
                add(
                    format!(
                        "{} pulls {} from {}, a registry unknown to Git and to every past deployment",
                        r.short,
                        i.new.as_deref().unwrap_or(""),
                        i.new_registry.as_deref().unwrap_or("?")
                    ),
                    r.changes
                        .iter()
                        .filter(|c| c.path == i.path)
                        .map(|c| c.id.clone())
                        .collect(),
                );
            }
        }
        for s in &r.settings {
            if self.setting_weakened(s) {
                add(
                    format!(
                        "{}: {} went from {} to {}, turning a protection off",
                        r.short,
                        s.key,
                        show(&s.old),
                        show(&s.new)
                    ),
                    r.changes
                        .iter()
                        .filter(|c| c.path == s.path)
                        .map(|c| c.id.clone())
                        .collect(),
                );
            }
        }
        let _ = input;
        out
    }

    fn metadata_weakened(&self, k: &str, c: &ChangeFacts) -> bool {
        let new = lc(&c.new);
        (k.starts_with("pod-security.kubernetes.io/") && new == "privileged")
            || c.op == "remove"
            || (["inject", "internal", "ssl-redirect", "force-ssl"]
                .iter()
                .any(|w| k.to_ascii_lowercase().contains(w))
                && c.new != Value::Null
                && self.tuning.is_falsy(&new))
            || ["unconfined", "internet-facing", "external", "*"].contains(&new.as_str())
            || new.contains("0.0.0.0/0")
    }

    fn setting_weakened(&self, s: &SettingChange) -> bool {
        let t = &self.tuning;
        let key = &s.key;
        let (old, new) = (lc(&s.old), lc(&s.new));
        let security = t.security_key.is_match(key);
        let negative = t.negative_security_key.is_match(key);
        let origin = key.to_ascii_lowercase().contains("cors")
            || key.to_ascii_lowercase().contains("origin");
        if security && negative && s.new != Value::Null && t.is_truthy(&new) && !t.is_truthy(&old) {
            return true;
        }
        if security
            && !negative
            && !origin
            && s.new != Value::Null
            && t.is_falsy(&new)
            && !(s.old != Value::Null && t.is_falsy(&old))
        {
            return true;
        }
        if origin && new.contains('*') && !old.contains('*') {
            return true;
        }
        let lk = key.to_ascii_lowercase();
        let tlsish = (lk.contains("tls") || lk.contains("ssl"))
            && (lk.contains("min") || lk.contains("version") || lk.contains("protocol"));
        if tlsish
            && let (Some(o), Some(n)) = (version(&old), version(&new))
            && n < o
        {
            return true;
        }
        false
    }

    fn scaling(
        &self,
        input: &Input,
        sit: &Situation,
        r: &ResourceFacts,
        c: &ChangeFacts,
    ) -> Vec<Finding> {
        let t = &self.tuning;
        use std::cmp::Ordering::*;
        let what = format!(
            "{}: {} {} → {}",
            r.short,
            c.path,
            show(&c.old),
            show(&c.new)
        );
        // Principle 2: the autoscaler owns replicas.
        if c.category == "replicas" {
            let by_manager = c
                .manager
                .as_deref()
                .is_some_and(|m| t.autoscaler_managers.is_match(m));
            if by_manager || r.autoscaled {
                let conf = if by_manager && r.autoscaled {
                    0.96
                } else {
                    0.92
                };
                let mut ids: Vec<String> = Vec::new();
                if let Some(m) = &c.manager
                    && by_manager
                {
                    ids.push(format!("manager:{m}"));
                }
                if let Some(a) = &r.autoscaler {
                    ids.push(format!("autoscaler:{a}"));
                }
                ids.extend(sit.events_of(r.autoscaler.as_deref().unwrap_or("")));
                return vec![
                    Finding::new(
                        r,
                        Verdict::Allow,
                        conf,
                        format!(
                            "{what} was set by the autoscaler ({})",
                            c.manager
                                .as_deref()
                                .filter(|_| by_manager)
                                .or(r.autoscaler.as_deref())
                                .unwrap_or("?")
                        ),
                    )
                    .covering(c)
                    .cite(ids),
                ];
            }
        }
        let Some(dir) = direction(c) else {
            return Vec::new();
        };
        let manager_ids: Vec<String> = c.manager.iter().map(|m| format!("manager:{m}")).collect();
        if dir == Equal {
            return vec![
                Finding::new(
                    r,
                    Verdict::Allow,
                    0.9,
                    format!("{what}: the same amount, written differently"),
                )
                .covering(c),
            ];
        }
        if sit.metrics_unreliable() {
            return vec![
                Finding::new(
                    r,
                    Verdict::NeedsHuman,
                    0.88,
                    format!(
                        "{what} while the metrics are {}: no way to tell whether load justifies it",
                        input.context.metrics
                    ),
                )
                .covering(c)
                .cite(input.context.sources.keys().map(|k| format!("source:{k}")))
                .leaning(Leans::Metrics),
            ];
        }
        let events = sit.events_of(&r.short);
        let incidents = sit.incidents();
        let alerts = sit.alerts();
        match dir {
            Greater => {
                // Principle 1: raised under load or during an incident on the service.
                let spikes = sit.spikes(t.scaling_ratio);
                let mut conf: f64 = 0.80;
                let mut ids = manager_ids.clone();
                let mut why = Vec::new();
                if let Some((name, ratio)) = spikes.first() {
                    conf += 0.05 + if *ratio >= 3.0 { 0.03 } else { 0.0 };
                    ids.extend(spikes.iter().map(|(n, _)| format!("signal:{n}")));
                    why.push(format!("{name} at {:.1}× its baseline", ratio));
                }
                if !incidents.is_empty() {
                    conf += 0.05;
                    if incidents
                        .iter()
                        .any(|i| i.urgency.as_deref() == Some("high"))
                    {
                        conf += 0.02;
                    }
                    ids.extend(incidents.iter().map(|i| format!("incident:{}", i.id)));
                    why.push(format!(
                        "incident {} open on the service",
                        incidents
                            .iter()
                            .map(|i| i.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !alerts.is_empty() {
                    conf += 0.04;
                    ids.extend(alerts.iter().map(|a| format!("alert:{}", a.name)));
                    why.push(format!(
                        "alert {} firing",
                        alerts
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if why.is_empty() {
                    let other = sit.other_incidents();
                    let note = if other.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (incidents {} concern other services and justify nothing here)",
                            other.join(", ")
                        )
                    };
                    return vec![
                        Finding::new(
                            r,
                            Verdict::NeedsHuman,
                            0.86,
                            format!(
                                "{what} with no load spike, incident or alert to justify it{note}"
                            ),
                        )
                        .covering(c)
                        .cite(manager_ids)
                        .cite(other.into_iter().map(|i| format!("incident:{i}")))
                        .cite(input.context.signals.keys().map(|k| format!("signal:{k}")))
                        .leaning(Leans::Metrics),
                    ];
                }
                if !events.is_empty() {
                    conf += 0.02;
                    ids.extend(events);
                }
                vec![
                    Finding::new(
                        r,
                        Verdict::Allow,
                        conf.min(0.97),
                        format!(
                            "{what}, with {}: reverting it could cause the outage",
                            why.join(" and ")
                        ),
                    )
                    .covering(c)
                    .cite(ids)
                    .leaning(Leans::Metrics),
                ]
            }
            Less => {
                let zero = c.category == "replicas" && c.quantity.and_then(|q| q.new) == Some(0.0);
                if !incidents.is_empty() {
                    return vec![
                        Finding::new(
                            r,
                            Verdict::Allow,
                            0.82,
                            format!(
                                "{what} during incident {}: a mitigation, not to undo now",
                                incidents[0].id
                            ),
                        )
                        .covering(c)
                        .cite(incidents.iter().map(|i| format!("incident:{}", i.id)))
                        .cite(manager_ids),
                    ];
                }
                if zero && input.app.production {
                    return vec![
                        Finding::new(r, Verdict::NeedsHuman, 0.9, format!("{what}: scaled to zero in production with no incident to explain it"))
                            .covering(c)
                            .cite(manager_ids)
                            .cite(events)
                            .leaning(Leans::NoIncident),
                    ];
                }
                if !zero && let Some((name, ratio)) = sit.low_traffic(t.low_traffic_ratio) {
                    return vec![
                        Finding::new(
                            r,
                            Verdict::Allow,
                            0.82,
                            format!(
                                "{what} while {name} is at {:.1}× its baseline: a traffic reason",
                                ratio
                            ),
                        )
                        .covering(c)
                        .cite([format!("signal:{name}")])
                        .leaning(Leans::Metrics),
                    ];
                }
                let usual = input
                    .context
                    .signals
                    .iter()
                    .filter(|(_, s)| s.kind == "load")
                    .filter(|(_, s)| s.ratio.is_some_and(|r| (0.75..=1.25).contains(&r)))
                    .map(|(n, _)| format!("signal:{n}"))
                    .collect::<Vec<_>>();
                let conf = if usual.is_empty() { 0.85 } else { 0.89 };
                vec![
                    Finding::new(r, Verdict::Defer, conf, format!("{what} with no traffic reason and no incident: restore it at the next sync window"))
                        .covering(c)
                        .cite(manager_ids)
                        .cite(usual)
                        .leaning(Leans::NoIncident),
                ]
            }
            Equal => Vec::new(),
        }
    }

    fn suspend(&self, sit: &Situation, r: &ResourceFacts, c: &ChangeFacts) -> Finding {
        if c.new == Value::Bool(true) && sit.incident() {
            return Finding::new(
                r,
                Verdict::Allow,
                0.82,
                format!(
                    "{} was suspended during an incident on the service",
                    r.short
                ),
            )
            .covering(c)
            .cite(sit.incidents().iter().map(|i| format!("incident:{}", i.id)));
        }
        Finding::new(
            r,
            Verdict::NeedsHuman,
            0.88,
            format!(
                "{}: suspend went from {} to {} with nothing to explain it",
                r.short,
                show(&c.old),
                show(&c.new)
            ),
        )
        .covering(c)
        .leaning(Leans::NoIncident)
    }

    fn metadata(&self, r: &ResourceFacts, c: &ChangeFacts) -> Vec<Finding> {
        let t = &self.tuning;
        let k = leaf(&c.path);
        if t.security_metadata.is_match(&k) {
            if self.metadata_weakened(&k, c) {
                return Vec::new();
            }
            return vec![
                Finding::new(
                    r,
                    Verdict::NeedsHuman,
                    0.82,
                    format!(
                        "{}: the security annotation {k} changed ({} → {})",
                        r.short,
                        show(&c.old),
                        show(&c.new)
                    ),
                )
                .covering(c)
                .protect(),
            ];
        }
        let manager: Vec<String> = c.manager.iter().map(|m| format!("manager:{m}")).collect();
        if t.operational_metadata.is_match(&k) {
            return vec![
                Finding::new(
                    r,
                    Verdict::Allow,
                    0.94,
                    format!("{}: {k} is operational metadata", r.short),
                )
                .covering(c)
                .cite(manager),
            ];
        }
        if c.op == "add" {
            return vec![
                Finding::new(
                    r,
                    Verdict::Allow,
                    0.88,
                    format!("{}: the label or annotation {k} was added", r.short),
                )
                .covering(c)
                .cite(manager),
            ];
        }
        vec![
            Finding::new(
                r,
                Verdict::Defer,
                0.82,
                format!(
                    "{}: the label or annotation {k} changed ({} → {})",
                    r.short,
                    show(&c.old),
                    show(&c.new)
                ),
            )
            .covering(c)
            .cite(manager)
            .leaning(Leans::NoIncident),
        ]
    }

    fn config(&self, sit: &Situation, r: &ResourceFacts, c: &ChangeFacts) -> Vec<Finding> {
        let t = &self.tuning;
        let has_file = r
            .settings
            .iter()
            .any(|s| s.path == c.path && s.source == "configmap-file");
        let settings: Vec<&SettingChange> = r
            .settings
            .iter()
            .filter(|s| s.path == c.path && !(has_file && s.source == "configmap"))
            .collect();
        let mut out = Vec::new();
        if settings.is_empty() {
            out.push(
                Finding::new(
                    r,
                    Verdict::NeedsHuman,
                    0.8,
                    format!("{}: {} changed and is not a plain setting", r.short, c.path),
                )
                .covering(c),
            );
            return out;
        }
        let mut plain = true;
        for s in &settings {
            if s.credential {
                plain = false;
                out.push(
                    Finding::new(
                        r,
                        Verdict::NeedsHuman,
                        0.92,
                        format!("{}: the credential {} was changed by hand", r.short, s.key),
                    )
                    .covering(c)
                    .protect(),
                );
            } else if t.security_key.is_match(&s.key) {
                plain = false;
                if !self.setting_weakened(s) {
                    out.push(
                        Finding::new(
                            r,
                            Verdict::NeedsHuman,
                            0.82,
                            format!(
                                "{}: the security setting {} went from {} to {}",
                                r.short,
                                s.key,
                                show(&s.old),
                                show(&s.new)
                            ),
                        )
                        .covering(c)
                        .protect(),
                    );
                }
            }
        }
        if sit.incident() {
            out.push(
                Finding::new(r, Verdict::NeedsHuman, 0.85, format!("{}: configuration changed during an incident on the service: possibly a mitigation", r.short))
                    .covering(c)
                    .cite(sit.incidents().iter().map(|i| format!("incident:{}", i.id))),
            );
        } else if plain {
            let keys: Vec<String> = settings
                .iter()
                .map(|s| format!("{} {} → {}", s.key, show(&s.old), show(&s.new)))
                .collect();
            out.push(
                Finding::new(
                    r,
                    Verdict::Defer,
                    0.88,
                    format!("{}: plain settings changed by hand ({}); nothing security-related and no incident: restore at the next window", r.short, keys.join(", ")),
                )
                .covering(c)
                .cite(c.manager.iter().map(|m| format!("manager:{m}")))
                .leaning(Leans::NoIncident),
            );
        }
        out
    }

    fn images(&self, sit: &Situation, r: &ResourceFacts) -> Vec<Finding> {
        let mut out = Vec::new();
        for i in &r.images {
            let Some(c) = r.changes.iter().find(|c| c.path == i.path) else {
                continue;
            };
            if !i.registry_known || i.new.is_none() {
                continue;
            }
            let what = format!(
                "{}: container {} runs {} instead of {}",
                r.short,
                i.container,
                i.new.as_deref().unwrap_or(""),
                i.old.as_deref().unwrap_or("(none)")
            );
            let manager: Vec<String> = i.manager.iter().map(|m| format!("manager:{m}")).collect();
            if i.digest_pin {
                out.push(
                    Finding::new(
                        r,
                        Verdict::Allow,
                        0.85,
                        format!("{what}: the same image, pinned to its digest"),
                    )
                    .covering(c),
                );
                continue;
            }
            // A guided rollback holds the app: the image it deployed is not a hand change, and
            // enforcing Git would undo the rollback.
            if let Some(rb) = &sit.input.handling.rollback
                && (i.by_argocd || (i.in_history && !i.by_human))
            {
                out.push(
                    Finding::new(
                        r,
                        Verdict::Allow,
                        if i.by_argocd { 0.92 } else { 0.86 },
                        format!(
                            "{what}: the image of {}{}{}: not a hand change, and Git must not undo the rollback until an operator restores auto-sync",
                            rb.to.map(|t| format!("deployment #{t}")).unwrap_or_else(|| "the deployment".into()),
                            rb.by.as_deref().map(|b| format!(", which {b} rolled back to")).unwrap_or_else(|| ", rolled back to".into()),
                            if rb.reason.is_empty() { String::new() } else { format!(" ({})", rb.reason) }
                        ),
                    )
                    .covering(c)
                    .cite(["handling:rollback".to_string()])
                    .cite(manager),
                );
                continue;
            }
            let incidents = sit.incidents();
            if !incidents.is_empty() {
                let ids: Vec<String> = incidents
                    .iter()
                    .map(|i| format!("incident:{}", i.id))
                    .collect();
                if i.in_history {
                    let new = i
                        .new
                        .as_deref()
                        .and_then(crate::decide::facts::normalize_image)
                        .unwrap_or_default();
                    let history: Vec<String> = sit
                        .input
                        .app
                        .history
                        .iter()
                        .filter(|h| h.images.contains(&new))
                        .map(|h| format!("history:{}", h.id))
                        .collect();
                    let mut conf: f64 = 0.88;
                    // The rollback came after the incident opened: it answers it.
                    if let (Some(created), Some(at)) = (
                        incidents[0].created,
                        c.time
                            .as_deref()
                            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
                    ) && at >= created
                    {
                        conf += 0.04;
                    }
                    if sit
                        .input
                        .context
                        .signals
                        .values()
                        .any(|s| s.kind == "quality" && s.ratio.is_some_and(|r| r > 1.2))
                    {
                        conf += 0.02;
                    }
                    out.push(
                        Finding::new(r, Verdict::Allow, conf.min(0.95), format!("{what}, exactly a previously deployed image, during incident {}: a hot rollback", incidents[0].id))
                            .covering(c)
                            .cite(ids)
                            .cite(history)
                            .cite(manager),
                    );
                } else {
                    out.push(
                        Finding::new(
                            r,
                            Verdict::NeedsHuman,
                            0.9,
                            format!(
                                "{what}, an image never deployed before, during incident {}",
                                incidents[0].id
                            ),
                        )
                        .covering(c)
                        .cite(ids)
                        .cite(manager),
                    );
                }
                continue;
            }
            if i.by_argocd {
                out.push(
                    Finding::new(
                        r,
                        Verdict::Enforce,
                        0.88,
                        format!("{what}: Argo CD itself deployed that image and Git now declares another: sync to deploy Git's"),
                    )
                    .covering(c)
                    .cite(manager)
                    .leaning(Leans::NoIncident),
                );
                continue;
            }
            let human = i
                .manager
                .as_deref()
                .is_some_and(|m| self.tuning.human_managers.is_match(m));
            out.push(
                Finding::new(
                    r,
                    Verdict::Enforce,
                    if human { 0.93 } else { 0.9 },
                    format!("{what}, changed by hand with no incident: restore Git's image"),
                )
                .covering(c)
                .cite(manager)
                .leaning(Leans::NoIncident),
            );
        }
        out
    }

    fn secret(&self, r: &ResourceFacts) -> Finding {
        let t = &self.tuning;
        for o in &r.owners {
            for (kind, managers) in &t.secret_controllers {
                if o.kind == *kind
                    && r.changes
                        .iter()
                        .all(|c| c.manager.as_deref().is_some_and(|m| managers.is_match(m)))
                {
                    let mut f = Finding::new(
                        r,
                        Verdict::Allow,
                        if o.controller { 0.94 } else { 0.9 },
                        format!(
                            "{} was rewritten by {}, which owns it: a rotation",
                            r.short, o.kind
                        ),
                    )
                    .cite([format!("owner:{}/{}", o.kind, o.name)])
                    .cite(
                        r.changes
                            .iter()
                            .filter_map(|c| c.manager.clone())
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .map(|m| format!("manager:{m}")),
                    )
                    .protect();
                    for c in &r.changes {
                        f = f.covering(c);
                    }
                    return f;
                }
            }
        }
        let by: BTreeSet<String> = r
            .changes
            .iter()
            .filter(|c| c.category == "secret-data")
            .filter_map(|c| c.manager.clone())
            .collect();
        Finding::new(
            r,
            Verdict::NeedsHuman,
            0.93,
            format!(
                "{}: Secret data changed{} outside any secret controller",
                r.short,
                if by.is_empty() {
                    String::new()
                } else {
                    format!(" by {}", by.iter().cloned().collect::<Vec<_>>().join(", "))
                }
            ),
        )
        .cite(
            r.changes
                .iter()
                .filter(|c| c.category == "secret-data")
                .map(|c| c.id.clone()),
        )
        .cite(by.into_iter().map(|m| format!("manager:{m}")))
        .protect()
    }
}

fn version(s: &str) -> Option<f64> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let rest = &s[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let mut parts = rest[..end].split('.');
    let major = parts.next()?;
    let minor = parts.next().unwrap_or("0");
    format!("{major}.{minor}").parse().ok()
}

/// Live RBAC rules not fully granted by Git's, described.
fn extra_grants(desired: Option<&Value>, live: Option<&Value>) -> Vec<String> {
    let rules = |o: Option<&Value>| -> Vec<Value> {
        o.and_then(|o| o.get("rules"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (d, l) = (rules(desired), rules(live));
    let has = |list: &[String], x: &str| list.iter().any(|v| v == x || v == "*");
    let grants = |dr: &Value, g: &str, res: &str, v: &str, lr: &Value| {
        let names_ok = {
            let dn = strs(dr.get("resourceNames"));
            let ln = strs(lr.get("resourceNames"));
            dn.is_empty() || (!ln.is_empty() && ln.iter().all(|n| dn.contains(n)))
        };
        has(&strs(dr.get("apiGroups")), g)
            && has(&strs(dr.get("resources")), res)
            && has(&strs(dr.get("verbs")), v)
            && names_ok
    };
    let mut out = Vec::new();
    for lr in &l {
        let groups = match lr.get("apiGroups") {
            Some(v) => strs(Some(v)),
            None => vec![String::new()],
        };
        let resources = strs(lr.get("resources"));
        let verbs = strs(lr.get("verbs"));
        let urls = strs(lr.get("nonResourceURLs"));
        let res_ok = groups.iter().all(|g| {
            resources.iter().all(|res| {
                verbs
                    .iter()
                    .all(|v| d.iter().any(|dr| grants(dr, g, res, v, lr)))
            })
        });
        let urls_ok = urls.iter().all(|u| {
            verbs.iter().all(|v| {
                d.iter().any(|dr| {
                    has(&strs(dr.get("nonResourceURLs")), u) && has(&strs(dr.get("verbs")), v)
                })
            })
        });
        if !(res_ok && urls_ok) {
            let mut what = resources.clone();
            what.extend(urls);
            out.push(format!("{} on {}", verbs.join(","), what.join(",")));
        }
    }
    out
}

fn netpol_narrowed(r: &ResourceFacts) -> bool {
    if r.kind != "NetworkPolicy" {
        return false;
    }
    let (Some(d), Some(l)) = (r.desired.as_ref(), r.live.as_ref()) else {
        return false;
    };
    let spec = |o: &Value, k: &str| {
        o.pointer(&format!("/spec/{k}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    if spec(d, "podSelector") != spec(l, "podSelector")
        || spec(d, "policyTypes") != spec(l, "policyTypes")
    {
        return false;
    }
    ["ingress", "egress"].iter().all(|dir| {
        let dl = list(&spec(d, dir));
        list(&spec(l, dir)).iter().all(|rule| dl.contains(rule))
    })
}

fn pod_weakening(c: &ChangeFacts) -> Option<String> {
    let k = leaf(&c.path);
    let p = c.path.as_str();
    let newv = &c.new;
    let t = Value::Bool(true);
    if p.ends_with("/securityContext/privileged") && *newv == t {
        return Some("runs a privileged container".into());
    }
    if p.ends_with("/securityContext/allowPrivilegeEscalation") && *newv == t {
        return Some("allows privilege escalation".into());
    }
    if ["hostNetwork", "hostPID", "hostIPC"].contains(&k.as_str()) && *newv == t {
        return Some(format!(
            "shares the node's {} namespace",
            k.trim_start_matches("host")
        ));
    }
    if p.contains("/capabilities/add") {
        let old: Vec<Value> = list(&c.old);
        let added: Vec<String> = list(newv)
            .into_iter()
            .filter(|x| !old.contains(x))
            .map(|x| show(&x))
            .collect();
        if !added.is_empty() {
            return Some(format!("adds the capabilities {}", added.join(", ")));
        }
    }
    if p.contains("/capabilities/drop") {
        let new: Vec<Value> = list(newv);
        let kept: Vec<String> = list(&c.old)
            .into_iter()
            .filter(|x| !new.contains(x))
            .map(|x| show(&x))
            .collect();
        if !kept.is_empty() {
            return Some(format!("stops dropping {}", kept.join(", ")));
        }
    }
    if k == "runAsUser" && newv.as_f64() == Some(0.0) {
        return Some("runs as root".into());
    }
    if k == "runAsNonRoot" && c.old == t && *newv != t {
        return Some("no longer requires a non-root user".into());
    }
    if k == "readOnlyRootFilesystem" && c.old == t && *newv != t {
        return Some("has a writable root filesystem".into());
    }
    if p.ends_with("/seccompProfile/type") && newv.as_str() == Some("Unconfined") {
        return Some("runs without seccomp".into());
    }
    if p.contains("/volumes/") && p.ends_with("/hostPath/path") && !newv.is_null() {
        return Some("mounts a node directory".into());
    }
    if k == "hostPort" && !newv.is_null() {
        return Some("opens a port on the node".into());
    }
    if (p.ends_with("spec/serviceAccountName") || p.ends_with("spec/serviceAccount"))
        && c.op == "replace"
    {
        return Some(format!(
            "runs as service account {} instead of {}",
            show(newv),
            show(&c.old)
        ));
    }
    if k == "automountServiceAccountToken"
        && c.old == Value::Bool(false)
        && *newv != Value::Bool(false)
    {
        return Some("mounts its service account token again".into());
    }
    if k == "procMount" && newv.as_str() == Some("Unmasked") {
        return Some("unmasks /proc".into());
    }
    None
}

fn service_exposure(c: &ChangeFacts) -> Option<String> {
    if c.path == "/spec/type" {
        let old = c.old.as_str().unwrap_or("ClusterIP");
        let new = c.new.as_str().unwrap_or("ClusterIP");
        if (new == "LoadBalancer" || new == "NodePort")
            && old != new
            && !(old == "LoadBalancer" && new == "NodePort")
        {
            return Some(format!("was exposed: {old} → {new}"));
        }
    }
    if c.path.starts_with("/spec/externalIPs") && !c.new.is_null() {
        return Some("got external IPs".into());
    }
    if c.path.starts_with("/spec/loadBalancerSourceRanges")
        && (c.op == "remove"
            || list(&c.new)
                .iter()
                .any(|x| x.as_str() == Some("0.0.0.0/0") || x.as_str() == Some("::/0")))
    {
        return Some("accepts load-balancer traffic from more sources".into());
    }
    None
}

/// The strictest verdict wins; its confidence is the least confident of the findings that
/// reached it; sources the conclusion leans on lower it.
/// A finding's text without its advice ("...: restore it at the next sync window"), so a
/// finding relaxed outside production does not say both "restore it" and "allowed" (the
/// policy's `observation` does the same).
fn observation(text: &str) -> String {
    static ADVICE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(: |, so |; )(restore|recreate|sync to deploy|a human decides)[^:;]*$")
            .expect("a valid pattern")
    });
    ADVICE.replace(text, "").into_owned()
}

fn combine(input: &Input, mut all: Vec<Finding>, facts: &Facts) -> Advice {
    // Changes no finding accounts for, on resources not already reverted or escalated.
    let mut extra = Vec::new();
    for r in &input.resources {
        if r.state != ResState::Modified {
            continue;
        }
        let mine: Vec<&Finding> = all.iter().filter(|f| f.resource == r.key).collect();
        if mine.iter().any(|f| f.verdict >= Verdict::Enforce) {
            continue;
        }
        let covered: BTreeSet<&String> = mine.iter().flat_map(|f| f.covers.iter()).collect();
        for c in &r.changes {
            if !covered.contains(&c.id) {
                extra.push(Finding {
                    resource: r.key.clone(),
                    verdict: Verdict::NeedsHuman,
                    confidence: 0.8,
                    text: format!(
                        "{}: no principle covers {} ({} → {}): a person decides",
                        r.short,
                        c.path,
                        show(&c.old),
                        show(&c.new)
                    ),
                    evidence: vec![c.id.clone()],
                    covers: Vec::new(),
                    protected: false,
                    leans: Leans::Nothing,
                });
            }
        }
    }
    all.extend(extra);

    // Principle 11: outside production, what is not protected is allowed.
    if !input.app.production {
        for f in &mut all {
            if !f.protected && f.verdict != Verdict::Allow {
                f.text = format!(
                    "{}; allowed since {} is {}, not production (in production: {})",
                    observation(&f.text),
                    input.app.name,
                    input.app.environment,
                    f.verdict
                );
                f.verdict = Verdict::Allow;
                f.confidence = f.confidence.min(0.86);
                f.evidence.push("app:environment".into());
            }
        }
    }

    // What the sources' health does to each conclusion.
    let ctx = &input.context;
    for f in &mut all {
        let penalty = match f.leans {
            Leans::NoIncident => {
                if !ctx.configured {
                    0.1
                } else {
                    match ctx.incidents_source {
                        "failed" => 0.15,
                        "stale" => 0.07,
                        _ => 0.0,
                    }
                }
            }
            Leans::Metrics => match ctx.metrics {
                "failed" => 0.15,
                "stale" => 0.07,
                "absent" if f.verdict != Verdict::Allow => 0.04,
                _ => 0.0,
            },
            Leans::Nothing => 0.0,
        };
        if penalty > 0.0 {
            f.confidence -= penalty;
            for (k, v) in &ctx.sources {
                if v.as_str() != "ok" {
                    f.evidence.push(format!("source:{k}"));
                }
            }
        }
    }

    if all.is_empty() {
        return Advice {
            name: "heuristic".into(),
            verdict: Verdict::Allow,
            confidence: 0.9,
            reasoning: "Nothing differs between Git and the cluster once normalized.".into(),
            evidence: Vec::new(),
        };
    }
    let verdict = all
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::NeedsHuman);
    let deciding: Vec<&Finding> = all.iter().filter(|f| f.verdict == verdict).collect();
    let confidence = deciding
        .iter()
        .map(|f| f.confidence)
        .fold(1.0_f64, f64::min)
        .clamp(0.0, 1.0);
    let mut evidence: Vec<String> = Vec::new();
    for f in &deciding {
        for e in &f.evidence {
            if !evidence.contains(e) && facts.evidence(e).is_some() {
                evidence.push(e.clone());
            }
        }
    }
    let mut texts: Vec<String> = Vec::new();
    for f in &deciding {
        if !texts.contains(&f.text) {
            texts.push(f.text.clone());
        }
    }
    let others: Vec<String> = all
        .iter()
        .filter(|f| f.verdict != verdict)
        .map(|f| format!("{} ({})", f.text, f.verdict))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut reasoning = texts.join(". ");
    reasoning.push('.');
    if !others.is_empty() {
        reasoning.push_str(" Also: ");
        reasoning.push_str(&others.join("; "));
        reasoning.push('.');
    }
    Advice {
        name: "heuristic".into(),
        verdict,
        confidence: (confidence * 100.0).round() / 100.0,
        reasoning,
        evidence,
    }
}
