//! `/metrics` in the Prometheus text format (version 0.0.4): the fleet as every replica sees
//! it, the decisions and actions of this replica, its context sources, leases and process.
//! Label values are escaped as the format wants (`\\`, `\"`, `\n`), so no name written by
//! others can break a line or forge a series.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::model::fleet::AppRow;
use crate::model::status::Sync;

/// The bucket bounds of `driftdeck_decision_seconds`.
pub const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

/// What this replica counted.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// (verdict, mode, rule) → decisions.
    pub decisions: BTreeMap<(String, String, String), u64>,
    /// Decisions that could not be made.
    pub decision_errors: u64,
    /// Drifts being decided or waiting for their turn.
    pub deciding: usize,
    pub decision_seconds: Histogram,
    /// (action, result) → count.
    pub actions: BTreeMap<(String, String), u64>,
    /// result (created, exists, failed) → Events written.
    pub events: BTreeMap<String, u64>,
    /// Context source → its latest state (ok, stale, failed, ...).
    pub sources: BTreeMap<String, String>,
    /// Agreement of operators' reviews with the advice over the autonomy window.
    pub agreement: Option<f64>,
    pub reviews: usize,
    pub min_agreement: f64,
    /// Shard → whether this replica leads it.
    pub leader: BTreeMap<String, bool>,
    /// Instance → whether its stream is up.
    pub up: BTreeMap<String, bool>,
    /// DORA figures per (instance, project).
    pub dora: Vec<crate::model::dora::Figures>,
}

/// Escapes a label value.
pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// One instance's apps as the metrics see them.
pub struct FleetView<'a> {
    pub instance: &'a str,
    pub rows: Vec<&'a AppRow>,
}

/// The whole exposition.
pub fn render(fleet: &[FleetView<'_>], c: &Counters, now: i64, process: &Process) -> String {
    let apps: usize = fleet.iter().map(|f| f.rows.len()).sum();
    let mut out = String::with_capacity(256 + apps * 260);
    head(
        &mut out,
        "driftdeck_build_info",
        "gauge",
        "The running driftdeck's version.",
    );
    let _ = writeln!(
        out,
        "driftdeck_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    head(
        &mut out,
        "driftdeck_app_info",
        "gauge",
        "Every Application of the fleet, with its sync and health status.",
    );
    for f in fleet {
        let inst = escape(f.instance);
        for r in &f.rows {
            let _ = writeln!(
                out,
                "driftdeck_app_info{{instance=\"{inst}\",project=\"{}\",app=\"{}\",sync=\"{}\",health=\"{}\"}} 1",
                escape(&r.project),
                escape(&r.key.name),
                r.sync.as_str(),
                r.health.as_str()
            );
        }
    }
    head(
        &mut out,
        "driftdeck_app_out_of_sync_seconds",
        "gauge",
        "How long each OutOfSync Application has been OutOfSync (an upper bound when estimated from its last sync).",
    );
    let mut slas = Vec::new();
    for f in fleet {
        let inst = escape(f.instance);
        for r in f.rows.iter().filter(|r| r.sync == Sync::OutOfSync) {
            let Some(since) = r.out_of_sync_since else {
                continue;
            };
            let labels = format!(
                "instance=\"{inst}\",project=\"{}\",app=\"{}\"",
                escape(&r.project),
                escape(&r.key.name)
            );
            let _ = writeln!(
                out,
                "driftdeck_app_out_of_sync_seconds{{{labels}}} {}",
                (now - since).max(0)
            );
            if let Some(s) = r.sla {
                slas.push((labels, s));
            }
        }
    }
    head(
        &mut out,
        "driftdeck_app_out_of_sync_sla_seconds",
        "gauge",
        "The drift SLA of each OutOfSync Application's project ([fleet] out_of_sync_sla).",
    );
    for (labels, s) in slas {
        let _ = writeln!(out, "driftdeck_app_out_of_sync_sla_seconds{{{labels}}} {s}");
    }
    head(
        &mut out,
        "driftdeck_instance_up",
        "gauge",
        "Whether the instance's Application stream is up.",
    );
    for (i, up) in &c.up {
        let _ = writeln!(
            out,
            "driftdeck_instance_up{{instance=\"{}\"}} {}",
            escape(i),
            u8::from(*up)
        );
    }
    head(
        &mut out,
        "driftdeck_leader",
        "gauge",
        "Whether this replica holds the shard's Lease and decides its drift.",
    );
    for (s, l) in &c.leader {
        let _ = writeln!(
            out,
            "driftdeck_leader{{shard=\"{}\"}} {}",
            escape(s),
            u8::from(*l)
        );
    }
    head(
        &mut out,
        "driftdeck_decisions_total",
        "counter",
        "Drift decisions made by this replica, by verdict, mode and deciding policy rule.",
    );
    for ((v, m, r), n) in &c.decisions {
        let _ = writeln!(
            out,
            "driftdeck_decisions_total{{verdict=\"{}\",mode=\"{}\",rule=\"{}\"}} {n}",
            escape(v),
            escape(m),
            escape(r)
        );
    }
    head(
        &mut out,
        "driftdeck_decision_errors_total",
        "counter",
        "Drifts this replica could not decide (they go to a human).",
    );
    let _ = writeln!(out, "driftdeck_decision_errors_total {}", c.decision_errors);
    head(
        &mut out,
        "driftdeck_decisions_in_flight",
        "gauge",
        "Drifts being decided or waiting for a slot (four are decided at once).",
    );
    let _ = writeln!(out, "driftdeck_decisions_in_flight {}", c.deciding);
    head(
        &mut out,
        "driftdeck_decision_seconds",
        "histogram",
        "Time to decide one drift once its turn came: its drift and context read, policy and advisor, journaled.",
    );
    for (i, b) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            out,
            "driftdeck_decision_seconds_bucket{{le=\"{b}\"}} {}",
            c.decision_seconds.counts[i]
        );
    }
    let _ = writeln!(
        out,
        "driftdeck_decision_seconds_bucket{{le=\"+Inf\"}} {}",
        c.decision_seconds.count
    );
    let _ = writeln!(
        out,
        "driftdeck_decision_seconds_sum {}",
        num(c.decision_seconds.sum)
    );
    let _ = writeln!(
        out,
        "driftdeck_decision_seconds_count {}",
        c.decision_seconds.count
    );
    head(
        &mut out,
        "driftdeck_decision_agreement_ratio",
        "gauge",
        "Share of operators' reviews that agreed with the advice, over the latest autonomy window.",
    );
    if let Some(a) = c.agreement {
        let _ = writeln!(out, "driftdeck_decision_agreement_ratio {}", num(a));
    }
    head(
        &mut out,
        "driftdeck_decision_reviews",
        "gauge",
        "Operators' reviews of decisions in the journal.",
    );
    let _ = writeln!(out, "driftdeck_decision_reviews {}", c.reviews);
    head(
        &mut out,
        "driftdeck_autonomy_min_agreement",
        "gauge",
        "The agreement autonomous mode needs to act ([decide.autonomous] min_agreement).",
    );
    let _ = writeln!(
        out,
        "driftdeck_autonomy_min_agreement {}",
        num(c.min_agreement)
    );
    head(
        &mut out,
        "driftdeck_actions_total",
        "counter",
        "What autonomous mode did with decisions, by action and result.",
    );
    for ((a, r), n) in &c.actions {
        let _ = writeln!(
            out,
            "driftdeck_actions_total{{action=\"{}\",result=\"{}\"}} {n}",
            escape(a),
            escape(r)
        );
    }
    head(
        &mut out,
        "driftdeck_events_total",
        "counter",
        "DriftDecision Events written to the Applications, by result.",
    );
    for (r, n) in &c.events {
        let _ = writeln!(
            out,
            "driftdeck_events_total{{result=\"{}\"}} {n}",
            escape(r)
        );
    }
    head(
        &mut out,
        "driftdeck_context_source_state",
        "gauge",
        "The latest state of each context source (1 for the state it is in).",
    );
    for (s, st) in &c.sources {
        let _ = writeln!(
            out,
            "driftdeck_context_source_state{{source=\"{}\",state=\"{}\"}} 1",
            escape(s),
            escape(st)
        );
    }
    dora(&mut out, &c.dora);
    head(
        &mut out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    let _ = writeln!(out, "process_resident_memory_bytes {}", process.rss_bytes);
    head(
        &mut out,
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    );
    let _ = writeln!(out, "process_cpu_seconds_total {}", num(process.cpu_secs));
    head(
        &mut out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    );
    let _ = writeln!(out, "process_start_time_seconds {}", process.start);
    out
}

/// The DORA figures per instance and project.
fn dora(out: &mut String, figures: &[crate::model::dora::Figures]) {
    let label = |f: &crate::model::dora::Figures| {
        format!(
            "instance=\"{}\",project=\"{}\"",
            escape(&f.instance),
            escape(&f.project)
        )
    };
    head(
        out,
        "driftdeck_dora_deployments_per_day",
        "gauge",
        "DORA deployment frequency: deployments of the project's apps per day, over the window.",
    );
    for f in figures {
        let _ = writeln!(
            out,
            "driftdeck_dora_deployments_per_day{{{}}} {}",
            label(f),
            num(f.deployments_per_day)
        );
    }
    head(
        out,
        "driftdeck_dora_change_failure_ratio",
        "gauge",
        "DORA change failure rate: the share of deployments undone by a rollback, over the window.",
    );
    for f in figures {
        if let Some(r) = f.change_failure_rate {
            let _ = writeln!(
                out,
                "driftdeck_dora_change_failure_ratio{{{}}} {}",
                label(f),
                num(r)
            );
        }
    }
    head(
        out,
        "driftdeck_dora_time_to_restore_seconds",
        "gauge",
        "DORA time to restore: the median time from Degraded back to Healthy seen, over the window.",
    );
    for f in figures {
        if let Some(t) = f.time_to_restore_median {
            let _ = writeln!(
                out,
                "driftdeck_dora_time_to_restore_seconds{{{}}} {t}",
                label(f)
            );
        }
    }
}

/// The process's own figures, read from `/proc/self` (zero where there is none).
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub rss_bytes: u64,
    pub cpu_secs: f64,
    pub start: i64,
}

impl Process {
    pub fn read(start: i64) -> Process {
        let page = 4096u64;
        let rss_bytes = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |p| p * page);
        // utime and stime are fields 14 and 15, after the parenthesised command name.
        let cpu_secs = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| {
                let rest = &s[s.rfind(')')? + 2..];
                let f: Vec<&str> = rest.split_whitespace().collect();
                let u: f64 = f.get(11)?.parse().ok()?;
                let k: f64 = f.get(12)?.parse().ok()?;
                Some((u + k) / 100.0)
            })
            .unwrap_or(0.0);
        Process {
            rss_bytes,
            cpu_secs,
            start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_the_histogram_is_cumulative() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut h = Histogram::default();
        h.observe(0.02);
        h.observe(3.0);
        let c = Counters {
            decision_seconds: h,
            ..Default::default()
        };
        let text = render(&[], &c, 0, &Process::default());
        assert!(text.contains("driftdeck_decision_seconds_bucket{le=\"0.025\"} 1\n"));
        assert!(text.contains("driftdeck_decision_seconds_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("driftdeck_decision_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("driftdeck_decision_seconds_count 2\n"));
    }
}
