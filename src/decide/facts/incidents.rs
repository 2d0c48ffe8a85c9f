//! Context facts: which incidents, alerts and signals concern the app (service names and
//! their environment suffixes, incident annotations, sources' states).

use super::*;

pub(super) const CLOSED: [&str; 5] = ["resolved", "closed", "canceled", "cancelled", "done"];
pub(super) const ENV_SUFFIXES: [&str; 10] = [
    "prod",
    "production",
    "prd",
    "live",
    "staging",
    "stage",
    "dev",
    "test",
    "qa",
    "sandbox",
];

/// Lowercase, spaces and underscores as hyphens, a parenthesised suffix and a trailing
/// environment word dropped: `Payments API (prod)` → `payments-api`.
pub(super) fn service_key(s: &str) -> String {
    let s = s.split('(').next().unwrap_or(s);
    let mut k: String = s
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c == ' ' || c == '_' || c == '.' {
                '-'
            } else {
                c
            }
        })
        .collect();
    while k.contains("--") {
        k = k.replace("--", "-");
    }
    let k = k.trim_matches('-').to_string();
    for suf in ENV_SUFFIXES {
        if let Some(stripped) = k.strip_suffix(&format!("-{suf}")) {
            return stripped.to_string();
        }
    }
    k
}

/// Whether a service name concerns the app: it is one of the app's identities, or the system
/// one of them belongs to (`payments` for `payments-api`).
pub fn concerns(service: &str, identities: &[String]) -> bool {
    let k = service_key(service);
    if k.is_empty() {
        return false;
    }
    identities
        .iter()
        .any(|id| *id == k || id.starts_with(&format!("{k}-")))
}

/// The worst state of the sources whose names match; `ok` when none is listed but it gave
/// data, else `absent`.
pub(super) fn source_state(
    sources: &BTreeMap<String, SourceState>,
    pattern: &regex::Regex,
    has_data: bool,
) -> &'static str {
    // An MCP source says its kind after its name (`mcp:NAME/signals`): only the kind counts.
    let kind = |k: &str| -> String {
        match k.strip_prefix(crate::decide::context::mcp::PREFIX) {
            Some(rest) => rest
                .rsplit_once('/')
                .map_or(rest, |(_, kind)| kind)
                .to_string(),
            None => k.to_string(),
        }
    };
    let worst = sources
        .iter()
        .filter(|(k, _)| pattern.is_match(&kind(k)))
        .map(|(_, v)| *v)
        .max();
    match worst {
        Some(w) => w.as_str(),
        None if has_data => "ok",
        None => "absent",
    }
}

pub(super) struct SourcePatterns {
    metrics: regex::Regex,
    incidents: regex::Regex,
    alerts: regex::Regex,
}

pub(super) fn source_patterns() -> &'static SourcePatterns {
    static P: std::sync::OnceLock<SourcePatterns> = std::sync::OnceLock::new();
    P.get_or_init(|| SourcePatterns {
        metrics: re(r"(?i)(prom|metric|datadog|newrelic|victoria|thanos|mimir|cortex|graphite|influx|signal)"),
        incidents: re(r"(?i)(pagerduty|opsgenie|incident|servicenow|victorops|oncall|firehydrant|rootly)"),
        alerts: re(r"(?i)(alert)"),
    })
}

/// An operator's incident annotation on the app (`driftdeck.io/incident`) says an incident
/// concerns it: an open incident of the app, unless an incident source reports that incident
/// closed.
pub(super) fn annotated_incident(
    ctx: &mut ContextFacts,
    handling: &crate::decide::handling::Handling,
    app: &AppFacts,
) {
    let Some(mark) = &handling.incident else {
        return;
    };
    if let Some(known) = ctx
        .incidents
        .iter_mut()
        .find(|i| i.id.eq_ignore_ascii_case(&mark.id))
    {
        // The incident source knows it: it concerns this app (an operator said so); whether
        // it is open is the source's word.
        known.concerns_app = true;
    } else {
        ctx.incidents.push(IncidentFacts {
            id: mark.id.clone(),
            title: mark.note.clone(),
            service: app.name.clone(),
            status: "annotated".into(),
            urgency: None,
            created: None,
            open: true,
            concerns_app: true,
        });
    }
    ctx.open_incident_for_app = ctx.incidents.iter().any(|i| i.open && i.concerns_app);
}

pub(super) fn context_facts(
    ctx: Option<&Context>,
    app: &AppFacts,
    tuning: &Tuning,
) -> ContextFacts {
    let Some(ctx) = ctx else {
        return ContextFacts {
            configured: false,
            signals: BTreeMap::new(),
            incidents: Vec::new(),
            alerts: Vec::new(),
            events: Vec::new(),
            sources: BTreeMap::new(),
            metrics: "absent",
            incidents_source: "absent",
            alerts_source: "absent",
            open_incident_for_app: false,
            firing_alert_for_app: false,
            max_load_ratio: None,
            min_load_ratio: None,
        };
    };
    let mut signals = BTreeMap::new();
    let mut max_ratio: Option<f64> = None;
    let mut min_ratio: Option<f64> = None;
    for (name, sig) in &ctx.signals {
        let ratio = sig
            .baseline
            .filter(|b| *b > 0.0)
            .map(|b| (sig.value / b * 1000.0).round() / 1000.0);
        let kind = if tuning.quality_signal.is_match(name) {
            "quality"
        } else if tuning.load_signal.is_match(name) {
            "load"
        } else {
            "other"
        };
        if kind == "load"
            && let Some(r) = ratio
        {
            max_ratio = Some(max_ratio.map_or(r, |m: f64| m.max(r)));
            min_ratio = Some(min_ratio.map_or(r, |m: f64| m.min(r)));
        }
        signals.insert(
            name.clone(),
            SignalFacts {
                value: sig.value,
                baseline: sig.baseline,
                ratio,
                unit: sig.unit.clone(),
                kind,
            },
        );
    }
    let incidents: Vec<IncidentFacts> = ctx
        .incidents
        .iter()
        .map(|i| {
            let open = !CLOSED.contains(&i.status.trim().to_ascii_lowercase().as_str());
            IncidentFacts {
                id: i.id.clone(),
                title: i.title.clone(),
                service: i.service.clone(),
                status: i.status.clone(),
                urgency: i.urgency.clone(),
                created: i.created,
                open,
                concerns_app: i.mapped || concerns(&i.service, &app.identities),
            }
        })
        .collect();
    let alerts: Vec<AlertFacts> = ctx
        .alerts
        .iter()
        .map(|a| {
            let named: Vec<&String> = crate::decide::context::ALERT_LABELS
                .iter()
                .filter_map(|k| a.labels.get(*k))
                .collect();
            let concerns_app = if named.is_empty() {
                a.labels
                    .get("namespace")
                    .is_some_and(|ns| !ns.is_empty() && *ns == app.destination.namespace)
            } else {
                named.iter().any(|v| concerns(v, &app.identities))
            };
            AlertFacts {
                name: a.name.clone(),
                severity: a.severity.clone(),
                labels: a.labels.clone(),
                starts_at: a.starts_at,
                concerns_app,
            }
        })
        .collect();
    let events = ctx
        .events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    let pats = source_patterns();
    let metrics = source_state(&ctx.sources, &pats.metrics, !ctx.signals.is_empty());
    let incidents_source = source_state(&ctx.sources, &pats.incidents, true);
    let alerts_source = source_state(&ctx.sources, &pats.alerts, true);
    ContextFacts {
        configured: true,
        open_incident_for_app: incidents.iter().any(|i| i.open && i.concerns_app),
        firing_alert_for_app: alerts.iter().any(|a| a.concerns_app),
        signals,
        incidents,
        alerts,
        events,
        sources: ctx.sources.clone(),
        metrics,
        incidents_source,
        alerts_source,
        max_load_ratio: max_ratio,
        min_load_ratio: min_ratio,
    }
}

// ---------------------------------------------------------------------------------------------
// Evidence.

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_lose_their_environment_suffix() {
        assert_eq!(service_key("Checkout API (prod)"), "checkout-api");
        assert!(concerns("checkout-api-prod", &["checkout-api".to_string()]));
        assert!(!concerns("payments", &["checkout-api".to_string()]));
    }
}
