//! The decision commands: `windows`, `decide`, `replay`, `journal`, `policy test`.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::config::Config;
use crate::config::decide::AdvisorKind;
use crate::config::paths::Paths;
use crate::decide::Verdict;
use crate::decide::decider::{Decision, Mode};
use crate::decide::journal::Journal;
use crate::decide::policy::{Bundle, TestOutcome};
use crate::decide::replay::{self, Scored};
use crate::decide::scenario::{self, Scenario};
use crate::model::app::{AppProject, Application};
use crate::windows::{self, AppTarget};

/// Output of the decision commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Json,
    Text,
}

/// The decider the config describes: its policy bundle, threshold and advisor.
pub use crate::decide::service::{decider_from, decision_record};

fn mode_from(cfg: Option<&Config>, flag: Option<Mode>) -> Mode {
    flag.or_else(|| cfg.and_then(|c| c.decide.as_ref()).and_then(|d| d.mode))
        .unwrap_or_default()
}

/// `driftdeck windows --project FILE --app FILE [--at T]`.
pub fn windows_cmd(project: &Path, app: &Path, at: Option<&str>, output: Output) -> u8 {
    let read = |p: &Path| -> Result<Value, String> {
        let docs = super::files::documents(p).map_err(|e| e.to_string())?;
        match docs.len() {
            1 if docs[0].is_object() => Ok(docs.into_iter().next().unwrap_or_default()),
            1 => Err(format!(
                "{}: holds a list or a scalar, not an object",
                p.display()
            )),
            0 => Err(format!("{}: is empty", p.display())),
            n => Err(format!(
                "{}: holds {n} documents; give one object",
                p.display()
            )),
        }
    };
    let result = (|| -> Result<(AppProject, Application, DateTime<Utc>), String> {
        let pv = read(project)?;
        let av = read(app)?;
        // A project file may be the AppProject or just its spec.
        let pv = if pv.get("spec").is_none() && pv.get("syncWindows").is_some() {
            json!({"spec": pv})
        } else {
            pv
        };
        let project: AppProject = serde_json::from_value(pv)
            .map_err(|e| format!("{}: not an AppProject: {e}", project.display()))?;
        let application: Application = serde_json::from_value(av)
            .map_err(|e| format!("{}: not an Application: {e}", app.display()))?;
        if application.metadata.name.is_empty() {
            return Err(format!(
                "{}: the Application has no metadata.name",
                app.display()
            ));
        }
        let now = match at {
            Some(t) => DateTime::parse_from_rfc3339(t)
                .map_err(|e| {
                    format!(
                        "--at `{t}` is not an RFC 3339 instant (e.g. 2026-11-20T16:05:00Z): {e}"
                    )
                })?
                .with_timezone(&Utc),
            None => Utc::now(),
        };
        Ok((project, application, now))
    })();
    let (project, application, now) = match result {
        Ok(x) => x,
        Err(e) => {
            errln!("driftdeck: {e}");
            return 2;
        }
    };
    let state = windows::evaluate(
        &project.spec.sync_windows,
        &AppTarget::of(&application),
        now,
    );
    match output {
        Output::Json => outln_json!(&state),
        Output::Text => {
            outln!(
                "{}: {}",
                application.metadata.name,
                if state.matches {
                    "sync windows apply"
                } else {
                    "no sync window applies"
                }
            );
            if let Some(e) = &state.error {
                outln!("error: {e} (automated syncs are blocked, as Argo CD does)");
            }
            outln!(
                "active now: {}",
                if state.active.is_empty() {
                    "none".into()
                } else {
                    state.active.join(", ")
                }
            );
            outln!(
                "automated sync allowed now: {}",
                if state.can_sync_auto { "yes" } else { "no" }
            );
            outln!(
                "manual sync allowed now: {}",
                if state.can_sync_manual { "yes" } else { "no" }
            );
            match state.next_auto_sync {
                Some(t) => outln!("next automated sync: {}", t.to_rfc3339()),
                None => outln!("next automated sync: none within a year"),
            }
        }
    }
    0
}

fn print_decision_text(d: &Decision) {
    outln!(
        "{}: {} (confidence {:.2}, {} mode)",
        d.scenario,
        d.verdict.as_str().to_uppercase(),
        d.confidence,
        d.mode.as_str()
    );
    if let Some(t) = d.not_before {
        outln!("  not before  {}", t.to_rfc3339());
    }
    outln!(
        "  policy      {} by {}{}",
        d.policy.verdict,
        d.policy.rule,
        if d.policy.hard { " (hard)" } else { "" }
    );
    for r in &d.policy.reasons {
        outln!("              - {r}");
    }
    outln!(
        "  advisor     {}: {} at {:.2}",
        d.advisor.name,
        d.advisor.verdict,
        d.advisor.confidence
    );
    outln!("              {}", d.advisor.reasoning);
    if !d.advisor.evidence.is_empty() {
        outln!("  evidence    {}", d.advisor.evidence.join(", "));
    }
    if let Some(c) = &d.cross_check {
        outln!(
            "  cross-check {}: {} at {:.2}",
            c.name,
            c.verdict,
            c.confidence
        );
    }
    for g in &d.guardrails {
        outln!("  guardrail   {g}");
    }
}

/// `driftdeck decide --scenario FILE`.
pub async fn decide_cmd(
    cfg: Option<&Config>,
    paths: &Paths,
    file: &Path,
    mode: Option<Mode>,
    output: Output,
    journal: bool,
) -> u8 {
    let sc = match Scenario::load(file) {
        Ok(s) => s,
        Err(e) => {
            errln!("driftdeck: {e}");
            return 2;
        }
    };
    let decider = match decider_from(cfg) {
        Ok(d) => d,
        Err(e) => {
            errln!("driftdeck: {e}");
            return 2;
        }
    };
    let mode = mode_from(cfg, mode);
    let d = match decider.decide(&sc, mode).await {
        Ok(d) => d,
        Err(e) => {
            errln!("driftdeck: {}: {e}", file.display());
            return 2;
        }
    };
    if journal {
        let j = match Journal::configured(&paths.data_dir, cfg) {
            Ok(j) => j,
            Err(e) => {
                errln!("driftdeck: {e}");
                return 2;
            }
        };
        if let Err(e) = crate::decide::service::journal_decision(
            &j,
            decision_record(&sc, &d, &decider.bundle.tuning, "cli"),
        )
        .await
        {
            errln!("driftdeck: the decision was made but not recorded: {e}");
            match output {
                Output::Json => {
                    outln_json!(&d)
                }
                Output::Text => print_decision_text(&d),
            }
            return 2;
        }
    }
    match output {
        Output::Json => outln_json!(&d),
        Output::Text => print_decision_text(&d),
    }
    if let Some(e) = &d.policy.error {
        errln!("driftdeck: {e}");
        return 2;
    }
    0
}

/// `driftdeck replay DIR`.
pub async fn replay_cmd(
    cfg: Option<&Config>,
    dir: &Path,
    output: Output,
    advisor: Option<AdvisorKind>,
) -> u8 {
    let scenarios = match scenario::load_dir(dir) {
        Ok(s) => s,
        Err(e) => {
            errln!("driftdeck: {e}");
            return 2;
        }
    };
    // The advisor asked on the command line replaces the config's.
    let mut own = cfg.cloned().unwrap_or_default();
    if let Some(kind) = advisor {
        let dc = own.decide.get_or_insert_with(Default::default);
        if kind == AdvisorKind::Llm && dc.llm.is_none() {
            errln!(
                "driftdeck: --advisor llm needs a [decide.llm] section in the config (base_url and model of an OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 for Ollama); see docs/policy.md"
            );
            return 2;
        }
        dc.advisor = Some(kind);
    }
    let cfg = if advisor.is_some() { Some(&own) } else { cfg };
    let decider = match decider_from(cfg) {
        Ok(d) => d,
        Err(e) => {
            errln!("driftdeck: {e}");
            return 2;
        }
    };
    let mode = mode_from(cfg, Some(Mode::Shadow));
    let mut results = Vec::new();
    let mut runs = Runs::default();
    let mut failed = false;
    for (path, sc) in &scenarios {
        let assessed = match decider.assess(sc) {
            Ok(a) => a,
            Err(e) => {
                errln!("driftdeck: {}: {e}", path.display());
                return 2;
            }
        };
        let m = decider.measure(assessed, mode).await;
        if m.combined.policy.error.is_some() {
            failed = true;
        }
        let expected = sc.expect.as_ref().map(|e| e.verdict);
        runs.add(expected, &m);
        results.push((path.clone(), expected, m));
    }
    let summary = runs.combined.summary();
    let advisors = decider.llm.as_ref().map(|llm| runs.report(llm.detail()));
    match output {
        Output::Json => {
            let results: Vec<Value> = results
                .iter()
                .map(|(p, e, m)| {
                    let d = &m.combined;
                    let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
                    if let Some(o) = v.as_object_mut() {
                        o.insert(
                            "file".into(),
                            json!(p.file_name().map(|n| n.to_string_lossy().to_string())),
                        );
                        o.insert("expected".into(), json!(e));
                        o.insert("correct".into(), json!(e.map(|e| e == d.verdict)));
                        if let (Some(raw), Some(alone)) = (&m.raw, &m.model) {
                            o.insert(
                                "measured".into(),
                                json!({
                                    "heuristic": m.heuristic.verdict,
                                    "model_alone": alone.verdict,
                                    "model_answer": match raw {
                                        Ok(a) => json!({"verdict": a.verdict, "confidence": a.confidence}),
                                        Err(e) => json!({"error": e.to_string()}),
                                    },
                                    "model_millis": m.model_time.map(|t| t.as_millis() as u64),
                                }),
                            );
                        }
                    }
                    v
                })
                .collect();
            let mut doc = json!({"results": results, "summary": summary});
            if let Some(a) = &advisors {
                doc["advisors"] = serde_json::to_value(a).unwrap_or(Value::Null);
            }
            outln_json!(&doc);
        }
        Output::Text => {
            for (p, e, m) in &results {
                let d = &m.combined;
                let mark = match e {
                    Some(e) if *e == d.verdict => "ok  ",
                    Some(_) => "MISS",
                    None => "    ",
                };
                let model = match (&m.raw, m.model_time) {
                    (Some(Ok(a)), Some(t)) => {
                        format!(
                            "  model {} {:.2} in {} ms",
                            a.verdict,
                            a.confidence,
                            t.as_millis()
                        )
                    }
                    (Some(Err(_)), Some(t)) => {
                        format!("  model: no usable answer in {} ms", t.as_millis())
                    }
                    _ => String::new(),
                };
                outln!(
                    "{mark} {:<48} {:<12} {:.2}{}{model}",
                    p.file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default(),
                    d.verdict.as_str(),
                    d.confidence,
                    e.filter(|e| *e != d.verdict)
                        .map(|e| format!("  (expected {e})"))
                        .unwrap_or_default()
                );
            }
            outln!();
            out!("{}", summary.text());
            if let Some(a) = &advisors {
                outln!();
                out!("{}", a.text());
            }
        }
    }
    if failed { 2 } else { 0 }
}

/// The scored decisions of one way of deciding.
#[derive(Default)]
struct Run {
    scored: Vec<Scored>,
    unlabelled: usize,
}

impl Run {
    fn add(&mut self, expected: Option<Verdict>, decided: Verdict, confidence: f64) {
        match expected {
            Some(e) => self.scored.push(Scored {
                expected: e,
                decided,
                confidence,
            }),
            None => self.unlabelled += 1,
        }
    }

    fn summary(&self) -> replay::Summary {
        replay::score(&self.scored, self.unlabelled)
    }
}

/// The ways of deciding a replay measures, and the model's own figures.
#[derive(Default)]
struct Runs {
    combined: Run,
    heuristic: Run,
    model: Run,
    /// The model's own verdicts (before any guardrail), where it answered.
    answers: Run,
    asked: usize,
    unusable: Vec<String>,
    millis: Vec<u64>,
    /// Answers whose verdict the guardrails changed: deciding with the model alone, and with
    /// both.
    overridden_alone: usize,
    overridden: usize,
}

impl Runs {
    fn add(&mut self, expected: Option<Verdict>, m: &crate::decide::decider::Measured) {
        self.combined
            .add(expected, m.combined.verdict, m.combined.confidence);
        self.heuristic
            .add(expected, m.heuristic.verdict, m.heuristic.confidence);
        if let Some(d) = &m.model {
            self.model.add(expected, d.verdict, d.confidence);
        }
        if let Some(t) = m.model_time {
            self.asked += 1;
            self.millis.push(t.as_millis() as u64);
        }
        match &m.raw {
            Some(Ok(a)) => {
                self.answers.add(expected, a.verdict, a.confidence);
                if m.model.as_ref().is_some_and(|d| d.verdict != a.verdict) {
                    self.overridden_alone += 1;
                }
                if m.combined.verdict != a.verdict {
                    self.overridden += 1;
                }
            }
            Some(Err(e)) => self.unusable.push(e.to_string()),
            None => {}
        }
    }

    fn report(&self, detail: Option<String>) -> Advisors {
        let mut ms = self.millis.clone();
        ms.sort_unstable();
        let pct = |p: f64| -> u64 {
            if ms.is_empty() {
                return 0;
            }
            let i = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[i]
        };
        Advisors {
            model: detail,
            heuristic: self.heuristic.summary(),
            model_alone: self.model.summary(),
            combined: self.combined.summary(),
            model_answers: self.answers.summary(),
            asked: self.asked,
            answered: self.asked - self.unusable.len(),
            unusable: self.unusable.clone(),
            latency_ms: Latency {
                p50: pct(0.5),
                p95: pct(0.95),
                max: ms.last().copied().unwrap_or(0),
            },
            overridden_alone: self.overridden_alone,
            overridden: self.overridden,
        }
    }
}

/// Per-decision model latency, in milliseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Latency {
    pub p50: u64,
    pub p95: u64,
    pub max: u64,
}

/// The side-by-side figures of `replay` with a model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Advisors {
    /// The model, its endpoint and the structured-output form its server accepted.
    pub model: Option<String>,
    pub heuristic: replay::Summary,
    /// The model alone: the policy's bound and the guardrails, without the heuristic's
    /// cross-check.
    pub model_alone: replay::Summary,
    /// What driftdeck decides: the model cross-checked by the heuristic.
    pub combined: replay::Summary,
    /// The model's own verdicts where it answered, before any guardrail.
    pub model_answers: replay::Summary,
    pub asked: usize,
    pub answered: usize,
    /// Why the other answers could not be used.
    pub unusable: Vec<String>,
    pub latency_ms: Latency,
    /// Usable answers whose verdict the guardrails changed, deciding with the model alone.
    pub overridden_alone: usize,
    /// Usable answers whose verdict the final decision differs from.
    pub overridden: usize,
}

impl Advisors {
    pub fn text(&self) -> String {
        let mut s = String::new();
        if let Some(m) = &self.model {
            s.push_str(&format!("model: {m}\n"));
        }
        s.push_str(&format!(
            "{:<22} {:>9} {:>14} {:>16} {:>7} {:>6}\n",
            "decided by", "accuracy", "unsafe allows", "needless reverts", "κ", "ECE"
        ));
        for (name, r) in [
            ("heuristic", &self.heuristic),
            ("model alone", &self.model_alone),
            ("model + heuristic", &self.combined),
            ("model's own answers", &self.model_answers),
        ] {
            s.push_str(&format!(
                "{:<22} {:>8.1}% {:>14} {:>16} {:>7.3} {:>6.3}\n",
                name,
                r.accuracy * 100.0,
                r.unsafe_allows,
                r.needless_reverts,
                r.kappa,
                r.ece
            ));
        }
        s.push_str(&format!(
            "model: {} asked, {} usable answers; latency p50 {} ms, p95 {} ms, max {} ms\n",
            self.asked,
            self.answered,
            self.latency_ms.p50,
            self.latency_ms.p95,
            self.latency_ms.max
        ));
        s.push_str(&format!(
            "guardrails changed the model's verdict in {} of {} answers alone, {} of {} with the heuristic\n",
            self.overridden_alone, self.answered, self.overridden, self.answered
        ));
        let mut why: Vec<&String> = self.unusable.iter().collect();
        why.sort();
        why.dedup();
        for w in why.iter().take(5) {
            s.push_str(&format!("  not usable: {}\n", crate::term::clean_line(w)));
        }
        s
    }
}

/// `driftdeck journal verify|tail|export`.
pub fn journal_cmd(paths: &Paths, which: &JournalCommand) -> u8 {
    let cfg = match crate::config::load_user(paths) {
        Ok(c) => c,
        Err(errs) => {
            for e in &errs {
                errln!("driftdeck: {e}");
            }
            return 2;
        }
    };
    let j = match Journal::configured(&paths.data_dir, cfg.as_ref()) {
        Ok(j) => j,
        Err(e) => {
            errln!("driftdeck: {e}");
            return 2;
        }
    };
    match which {
        JournalCommand::Verify { accept } => match j.verify() {
            Ok(v) => {
                let anchored = if j.key.is_some() {
                    "anchored by its head, with a MAC"
                } else {
                    "anchored by its head"
                };
                if v.intact() && v.good == 0 && v.torn.is_empty() {
                    outln!("{}: no records yet", j.path.display());
                } else if v.intact() {
                    outln!(
                        "{}: {} good records, chain intact, {anchored}",
                        j.path.display(),
                        v.good
                    );
                } else {
                    outln!("{}: {} good records, DAMAGED", j.path.display(), v.good);
                }
                for n in &v.torn {
                    outln!("line {n}: torn by an interrupted write, skipped");
                }
                for (n, what) in &v.damaged {
                    if *n == 0 {
                        outln!("{what}");
                    } else {
                        outln!("line {n}: {what}");
                    }
                }
                for note in &v.notes {
                    outln!("note: {note}");
                }
                if *accept && !v.intact() {
                    // The operator reviewed it: the anchors so far are accepted (in the chain,
                    // with who and when), and the head follows the journal from here.
                    let who = crate::actions::local_operator();
                    let problems: Vec<&str> = v.damaged.iter().map(|(_, w)| w.as_str()).collect();
                    return match j.append(
                        crate::decide::journal::ACCEPT,
                        serde_json::json!({"operator": who, "accepted": problems}),
                    ) {
                        Ok(r) => match j.verify() {
                            Ok(v2) if v2.intact() => {
                                outln!(
                                    "accepted by {who} as record {}: the journal verifies from here",
                                    r.seq
                                );
                                0
                            }
                            Ok(v2) => {
                                for (_, what) in &v2.damaged {
                                    outln!("{what}");
                                }
                                outln!(
                                    "accepted, but the chain itself is damaged (see above): acceptance covers anchors and the head, not edited records"
                                );
                                1
                            }
                            Err(e) => {
                                errln!("driftdeck: {e}");
                                2
                            }
                        },
                        Err(e) => {
                            errln!("driftdeck: {e}");
                            2
                        }
                    };
                }
                if v.intact() { 0 } else { 1 }
            }
            Err(e) => {
                errln!("driftdeck: {e}");
                2
            }
        },
        JournalCommand::Tail { lines, output } => match j.records() {
            Ok(recs) => {
                let start = recs.len().saturating_sub(*lines);
                for r in &recs[start..] {
                    match output {
                        Output::Json => crate::term::write_json(r, false),
                        Output::Text => outln!("{}", summarize(r)),
                    }
                }
                0
            }
            Err(e) => {
                errln!("driftdeck: {e}");
                2
            }
        },
        JournalCommand::Export { out } => match j.records() {
            Ok(recs) => export(&recs, out.as_deref()),
            Err(e) => {
                errln!("driftdeck: {e}");
                2
            }
        },
    }
}

/// One line per record.
pub fn summarize(r: &crate::decide::journal::Record) -> String {
    let b = &r.body;
    let s = |p: &str| {
        b.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    match r.kind.as_str() {
        "decision" => format!(
            "#{} {} decision {} {} {:.2} ({})",
            r.seq,
            r.time.format("%Y-%m-%d %H:%M:%S"),
            s("/decision/scenario"),
            s("/decision/verdict"),
            b.pointer("/decision/confidence")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            s("/decision/mode"),
        ),
        "action" => format!(
            "#{} {} action {} on {} by {}{}",
            r.seq,
            r.time.format("%Y-%m-%d %H:%M:%S"),
            s("/action"),
            s("/app"),
            s("/operator"),
            b.get("decision_seq")
                .and_then(Value::as_u64)
                .map(|n| format!(" (decision #{n})"))
                .unwrap_or_default()
        ),
        other => format!("#{} {} {other}", r.seq, r.time.format("%Y-%m-%d %H:%M:%S")),
    }
}

/// Decisions back into scenario files; an operator's later action on a decision becomes its
/// label.
fn export(recs: &[crate::decide::journal::Record], out: Option<&Path>) -> u8 {
    if let Some(dir) = out
        && let Err(e) = crate::private::ensure_dir(dir)
    {
        errln!("driftdeck: cannot use {}: {e}", dir.display());
        return 2;
    }
    let mut n = 0;
    for r in recs.iter().filter(|r| r.kind == "decision") {
        let Some(sv) = r.body.get("scenario") else {
            continue;
        };
        let mut sc: Scenario = match serde_json::from_value(sv.clone()) {
            Ok(s) => s,
            Err(e) => {
                errln!(
                    "driftdeck: record #{} holds no readable scenario ({e}); skipped",
                    r.seq
                );
                continue;
            }
        };
        // The operator's verdict, if one acted on this decision.
        if let Some(a) = recs.iter().find(|a| {
            a.kind == "action" && a.body.get("decision_seq").and_then(Value::as_u64) == Some(r.seq)
        }) && let Some(v) = a
            .body
            .get("verdict")
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<Verdict>().ok())
        {
            sc.expect = Some(scenario::Expect {
                verdict: v,
                why: Some(format!(
                    "operator {} chose {}{}",
                    a.body
                        .get("operator")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    a.body.get("action").and_then(Value::as_str).unwrap_or("?"),
                    a.body
                        .get("reason")
                        .and_then(Value::as_str)
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )),
            });
        }
        let yaml = sc.to_yaml();
        match out {
            Some(dir) => {
                let path = dir.join(format!("{:06}-{}", r.seq, sc.file_name()));
                if let Err(e) = crate::private::write_atomic(&path, yaml.as_bytes()) {
                    errln!("driftdeck: cannot write {}: {e}", path.display());
                    return 2;
                }
            }
            None => {
                outln!("---");
                out!("{yaml}");
            }
        }
        n += 1;
    }
    if let Some(dir) = out {
        errln!("{n} scenarios written to {}", dir.display());
    }
    0
}

#[derive(Debug, clap::Subcommand)]
pub enum JournalCommand {
    /// Check the hash chain and its end against the head; print the count of good records.
    /// Exit 0 intact, 1 damaged.
    Verify {
        /// After reviewing what it reports: accept the re-anchoring and the head problems
        /// (recorded in the journal with your name), so it verifies from here.
        #[arg(long)]
        accept: bool,
    },
    /// The latest records.
    Tail {
        /// How many.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Turn the recorded decisions back into scenario files (labelled by the operator's
    /// action where there was one).
    Export {
        /// A folder for the files (default: a YAML stream on standard output).
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Run the `test_` rules of a bundle (default: the configured one). Exit 0 all pass, 1
    /// failures.
    Test {
        /// A bundle directory.
        dir: Option<std::path::PathBuf>,
        /// Show every test, not only the failures.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Print the policy's decision document for an input (what `opa eval -d BUNDLE -i FILE
    /// data.driftdeck.drift.decision` prints), or with `--scenario` the input driftdeck builds
    /// from a drift scenario. Exit 0, or 2 on an error (file, line, rule named).
    Eval {
        /// The input document (JSON or YAML; - for standard input).
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with = "scenario",
            required_unless_present = "scenario"
        )]
        input: Option<std::path::PathBuf>,
        /// A drift scenario: its input is built as a decision builds it.
        #[arg(long, value_name = "FILE")]
        scenario: Option<std::path::PathBuf>,
        /// Print the input document instead of the decision (to hand to `opa eval`).
        #[arg(long)]
        print_input: bool,
        /// A bundle directory (default: the configured one).
        #[arg(long, value_name = "DIR")]
        bundle: Option<std::path::PathBuf>,
    },
}

/// `driftdeck policy test [DIR]`.
pub fn policy_cmd(cfg: Option<&Config>, which: &PolicyCommand) -> u8 {
    let (dir, verbose) = match which {
        PolicyCommand::Test { dir, verbose } => (dir, verbose),
        PolicyCommand::Eval {
            input,
            scenario,
            print_input,
            bundle,
        } => {
            return policy_eval(
                cfg,
                input.as_deref(),
                scenario.as_deref(),
                *print_input,
                bundle.as_deref(),
            );
        }
    };
    let Some(bundle) = bundle_or_say(cfg, dir.as_deref()) else {
        return 2;
    };
    let results = match bundle.run_tests() {
        Ok(r) => r,
        Err(e) => {
            errln!("driftdeck: {e}");
            return 2;
        }
    };
    let mut failed = 0;
    for r in &results {
        let (tag, detail) = match &r.outcome {
            TestOutcome::Pass => ("PASS", String::new()),
            TestOutcome::Fail(v) => ("FAIL", format!(": got {v}")),
            TestOutcome::Error(e) => ("ERROR", format!(": {e}")),
        };
        if r.outcome != TestOutcome::Pass {
            failed += 1;
        }
        if *verbose || r.outcome != TestOutcome::Pass {
            outln!(
                "{tag} {} ({}:{}) {:.1} ms{detail}",
                r.name,
                r.file,
                r.line,
                r.duration.as_secs_f64() * 1000.0
            );
            for p in &r.prints {
                outln!("     {p}");
            }
        }
    }
    outln!(
        "{}: {} passed, {} failed ({} tests)",
        bundle.origin,
        results.len() - failed,
        failed,
        results.len()
    );
    if results.is_empty() {
        outln!("no test_ rules found");
    }
    if failed == 0 { 0 } else { 1 }
}

/// The bundle of a directory, else the config's; `None` once its error is printed.
fn bundle_or_say(cfg: Option<&Config>, dir: Option<&Path>) -> Option<Bundle> {
    let bundle = match dir {
        Some(d) => Bundle::from_dir(d),
        None => Bundle::load(&cfg.and_then(|c| c.policy.clone()).unwrap_or_default()),
    };
    bundle.map_err(|e| errln!("driftdeck: {e}")).ok()
}

/// `driftdeck policy eval`.
fn policy_eval(
    cfg: Option<&Config>,
    input: Option<&Path>,
    scenario: Option<&Path>,
    print_input: bool,
    bundle: Option<&Path>,
) -> u8 {
    let Some(bundle) = bundle_or_say(cfg, bundle) else {
        return 2;
    };
    let doc = match (input, scenario) {
        (Some(p), _) => match super::files::documents(p) {
            Ok(mut d) if d.len() == 1 => d.remove(0),
            Ok(d) => {
                errln!(
                    "driftdeck: {}: holds {} documents; give one input document",
                    p.display(),
                    d.len()
                );
                return 2;
            }
            Err(e) => {
                errln!("driftdeck: {e}");
                return 2;
            }
        },
        (None, Some(p)) => {
            let sc = match Scenario::load(p) {
                Ok(s) => s,
                Err(e) => {
                    errln!("driftdeck: {e}");
                    return 2;
                }
            };
            match crate::decide::facts::build(&sc, &bundle.tuning) {
                Ok(f) => f.input_json(),
                Err(e) => {
                    errln!("driftdeck: {}: {e}", p.display());
                    return 2;
                }
            }
        }
        (None, None) => {
            errln!("driftdeck: give --input FILE or --scenario FILE");
            return 2;
        }
    };
    if print_input {
        outln_json!(&doc);
        return 0;
    }
    match bundle.interpreter().evaluate_raw(&doc) {
        Ok(v) => {
            outln_json!(&v);
            0
        }
        Err(e) => {
            errln!("driftdeck: {e}");
            2
        }
    }
}
