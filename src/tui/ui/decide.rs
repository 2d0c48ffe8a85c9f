//! The decision tab of the app screen, the drift queue and the shadow report.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{
    Piece, fit, flash_piece, hints, layout, pad, put, selection_bar, status_bar, wrap_indented,
};
use crate::decide::Verdict;
use crate::tui::action::Action;
use crate::tui::decisions::{
    DecisionView, QueueScreen, ShadowScreen, decision_lines, queue, role_of,
};
use crate::tui::keymap::{KeyMode, Keymap};
use crate::tui::model::{AppScreen, Load, Model};
use crate::tui::theme::Theme;

/// One screen row of the decision tab: a piece of a wrapped logical line.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    /// The logical line it belongs to.
    pub line: usize,
    pub text: String,
    pub role: &'static str,
    pub indent: u16,
}

/// The decision tab's rows at a screen width: every logical line wrapped, detail lines keeping
/// their indentation. The tab scrolls by these rows, so `G` and page keys reach its end at any
/// width, and `update` (which pages and clamps) and `draw` agree on them.
pub fn decision_rows(m: &Model, s: &AppScreen, width: u16) -> Vec<DecisionRow> {
    let drifted = m
        .fleet
        .get(&s.key)
        .is_some_and(|r| r.sync == crate::model::status::Sync::OutOfSync);
    let mut lines = team_lines(m, &s.key);
    lines.extend(decision_lines(
        m.decisions.get(&s.key),
        &m.decide,
        drifted,
        m.now_ms,
        m.low_bandwidth,
    ));
    let w = (width as usize).saturating_sub(3).max(10);
    let mut out = Vec::new();
    for (i, (text, role)) in lines.into_iter().enumerate() {
        for (part, indent) in wrap_indented(&text, w) {
            out.push(DecisionRow {
                line: i,
                text: part,
                role,
                indent: indent as u16,
            });
        }
    }
    out
}

/// The team's decision about the app (`[team]`: `driftdeck serve`), above this terminal's own.
fn team_lines(m: &Model, key: &crate::model::fleet::AppKey) -> Vec<(String, &'static str)> {
    if !m.team.configured {
        return Vec::new();
    }
    let mut out = Vec::new();
    match crate::tui::update::team_decision(m, key) {
        Some(d) => {
            let role = d.verdict.parse::<Verdict>().map(role_of).unwrap_or("text");
            out.push((
                format!(
                    "Team: {}  confidence {:.2}  ({} mode, rule {})",
                    d.verdict.to_uppercase(),
                    d.confidence,
                    d.mode,
                    d.rule
                ),
                role,
            ));
            out.push((
                format!(
                    "decided by driftdeck serve ({}) at {}, its record #{}; y/A/F/E/H review it for the team",
                    d.by,
                    d.time.get(..19).unwrap_or(&d.time).replace('T', " "),
                    d.seq.map(|s| s.to_string()).unwrap_or_else(|| "?".into())
                ),
                "text.dim",
            ));
        }
        None => out.push((
            "Team: driftdeck serve has not decided this app's drift".into(),
            "text.dim",
        )),
    }
    if let Some(e) = &m.team.error {
        out.push((format!("the team's decisions: {e}"), "warning"));
    }
    out.push((String::new(), "text"));
    out
}

/// The decision tab: its wrapped rows from `s.offset`, the row under `s.cursor` selected.
pub fn decision_tab(buf: &mut Buffer, body: Rect, m: &Model, s: &AppScreen, theme: &Theme) {
    let rows = decision_rows(m, s, body.width);
    let w = (body.width as usize).saturating_sub(3).max(10);
    for (i, r) in rows
        .iter()
        .enumerate()
        .skip(s.offset)
        .take(body.height as usize)
    {
        let y = body.y + (i - s.offset) as u16;
        let sel = i == s.cursor;
        selection_bar(buf, body, y, sel, theme);
        put(
            buf,
            body.x + 1 + r.indent,
            y,
            &r.text,
            w.saturating_sub(r.indent as usize),
            theme.pick(r.role, sel),
        );
    }
}

/// The drift queue's columns, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QCol {
    Urgency,
    App,
    Verdict,
    Conf,
    NotBefore,
    Health,
    Rule,
}

impl QCol {
    const SHOWN: [QCol; 7] = [
        QCol::Urgency,
        QCol::App,
        QCol::Verdict,
        QCol::Conf,
        QCol::NotBefore,
        QCol::Health,
        QCol::Rule,
    ];

    pub fn title(self) -> &'static str {
        match self {
            QCol::Urgency => "URGENCY",
            QCol::App => "APP",
            QCol::Verdict => "VERDICT",
            QCol::Conf => "CONF",
            QCol::NotBefore => "NOT BEFORE",
            QCol::Health => "HEALTH",
            QCol::Rule => "RULE / REASON",
        }
    }
}

/// The app's name in the queue: `instance/name` when there are several instances.
fn queue_name(m: &Model, key: &crate::model::fleet::AppKey) -> String {
    if m.instances.len() > 1 {
        format!("{}/{}", m.instance_name(key.instance), key.name)
    } else {
        key.name.clone()
    }
}

/// The queue's columns for a width: the app's whole name first (that is what an operator
/// looks for), then the verdict, health, the deferral time, urgency and confidence, each only
/// if it fits whole; the rule and its reason take what is left (when that is worth showing).
pub fn queue_columns(width: usize, longest_name: usize) -> Vec<(QCol, usize)> {
    let avail = width.saturating_sub(1);
    let app = longest_name.clamp(12, 48).min(avail);
    let mut used = app + 1;
    let mut chosen = vec![(QCol::App, app)];
    for (c, cw) in [
        (QCol::Verdict, 12),
        (QCol::Health, 11),
        (QCol::NotBefore, 10),
        (QCol::Urgency, 17),
        (QCol::Conf, 4),
    ] {
        if used + cw < avail {
            used += cw + 1;
            chosen.push((c, cw));
        }
    }
    let rest = avail.saturating_sub(used + 1);
    if rest >= 12 {
        chosen.push((QCol::Rule, rest));
    } else if let Some(a) = chosen.iter_mut().find(|(c, _)| *c == QCol::App) {
        // Nothing more fits: the names get the spare cells.
        a.1 += avail.saturating_sub(used).min(48usize.saturating_sub(a.1));
    }
    chosen.sort_by_key(|(c, _)| QCol::SHOWN.iter().position(|x| x == c));
    chosen
}

/// A short cell for a verdict.
fn verdict_cell(v: Option<&DecisionView>) -> (String, &'static str) {
    match v.map(|v| &v.state) {
        None => ("—".into(), "text.dim"),
        Some(Load::Loading) => ("deciding…".into(), "text.dim"),
        Some(Load::Failed(_)) => ("needs-human!".into(), "verdict.needs_human"),
        Some(Load::Ready(i)) => (
            i.decision.verdict.as_str().to_string(),
            role_of(i.decision.verdict),
        ),
    }
}

pub fn queue_screen(buf: &mut Buffer, m: &Model, q: &QueueScreen, theme: &Theme, km: &Keymap) {
    let l = layout::diff(m.size);
    let rows = queue(&m.fleet.rows, &m.decisions);
    let mode = match &m.decide {
        Ok(md) => format!("{} mode", md.as_str()),
        Err(e) => format!("decisions unavailable: {e}"),
    };
    let deciding = rows
        .iter()
        .filter(|r| {
            m.decisions
                .get(&r.key)
                .is_some_and(|v| matches!(v.state, Load::Loading))
        })
        .count();
    let title = format!(
        " Drift queue: {} drifted app{}, most urgent first  ·  {mode}{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if deciding > 0 {
            format!("  ·  deciding {deciding}")
        } else {
            String::new()
        }
    );
    buf.set_style(l.title, theme.style("title"));
    put(
        buf,
        0,
        l.title.y,
        &title,
        l.title.width as usize,
        theme.style("title"),
    );

    let body = l.body;
    let w = body.width as usize;
    let head = Rect { height: 1, ..body };
    let list = Rect {
        y: body.y + 1,
        height: body.height.saturating_sub(1),
        ..body
    };
    let names: Vec<String> = rows.iter().map(|r| queue_name(m, &r.key)).collect();
    let cols = queue_columns(
        w,
        names.iter().map(|n| super::str_width(n)).max().unwrap_or(0),
    );
    buf.set_style(head, theme.style("header"));
    let mut x = head.x + 1;
    for &(c, cw) in &cols {
        put(
            buf,
            x,
            head.y,
            &pad(c.title(), cw),
            cw,
            theme.style("header"),
        );
        x += cw as u16 + 1;
    }
    if rows.is_empty() {
        put(
            buf,
            list.x + 2,
            list.y,
            "No drift: every app of the fleet matches Git.",
            w,
            theme.style("text.dim"),
        );
    }
    for (i, r) in rows
        .iter()
        .enumerate()
        .skip(q.offset)
        .take(list.height as usize)
    {
        let y = list.y + (i - q.offset) as u16;
        let sel = i == q.cursor;
        let st = |role: &str| theme.pick(role, sel);
        selection_bar(buf, list, y, sel, theme);
        let v = m.decisions.get(&r.key);
        let info = v.and_then(DecisionView::info);
        let row = m.fleet.get(&r.key);
        let urgency_role = match r.rank {
            0 => "verdict.enforce",
            1 => "verdict.needs_human",
            _ => "text",
        };
        let (vtext, vrole) = match &m.decide {
            Err(_) => ("needs-human!".to_string(), "verdict.needs_human"),
            Ok(_) => verdict_cell(v),
        };
        let conf = info
            .map(|i| format!("{:.2}", i.decision.confidence))
            .unwrap_or_default();
        let nb = info
            .and_then(|i| i.decision.not_before)
            .map(|t| m.countdown(t.timestamp() - m.now_ms.div_euclid(1000)))
            .unwrap_or_default();
        let health = row.map(|r| format!("{:?}", r.health)).unwrap_or_default();
        let rule = match (info, v.map(|v| &v.state)) {
            _ if m.decide.is_err() => m.decide.clone().err().unwrap_or_default(),
            (Some(i), _) => format!(
                "{}: {}",
                i.decision.policy.rule,
                i.decision
                    .policy
                    .reasons
                    .first()
                    .cloned()
                    .unwrap_or_default()
            ),
            (None, Some(Load::Failed(e))) => e.clone(),
            _ => String::new(),
        };
        let name = names[i].clone();
        let (why, urgency_role) = if m.decide.is_err() {
            ("needs a human", "verdict.needs_human")
        } else {
            (r.why, urgency_role)
        };
        let health_role = row
            .map(|r| super::fleet::health_role(r.health))
            .unwrap_or("text.dim");
        let mut x = list.x + 1;
        for &(c, cw) in &cols {
            let (text, role): (&str, &str) = match c {
                QCol::Urgency => (why, urgency_role),
                QCol::App => (&name, "text"),
                QCol::Verdict => (&vtext, vrole),
                QCol::Conf => (&conf, "text"),
                QCol::NotBefore => (&nb, "verdict.defer"),
                QCol::Health => (&health, health_role),
                QCol::Rule => (&rule, "text.dim"),
            };
            put(buf, x, y, &fit(text, cw), cw, st(role));
            x += cw as u16 + 1;
        }
    }
    let left = hints(
        km,
        KeyMode::Queue,
        &[
            (Action::Back, "back"),
            (Action::OpenApp, "open"),
            (Action::Approve, "approve"),
            (Action::Diff, "diff"),
            (Action::Reload, "decide again"),
            (Action::ShadowReport, "shadow report"),
            (Action::ToggleHelp, "help"),
        ],
        theme,
    );
    let right: Vec<Piece> = match flash_piece(m, theme) {
        Some(p) => vec![p],
        None => vec![],
    };
    status_bar(buf, l.status, &left, &right, theme);
}

/// The shadow report's lines.
pub fn shadow_lines(s: &ShadowScreen) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let r = match &s.report {
        Load::Loading => {
            out.push(("Reading the journal…".into(), "text.dim"));
            return out;
        }
        Load::Failed(e) => {
            out.push((format!("Cannot read the journal: {e}"), "error"));
            return out;
        }
        Load::Ready(r) => r,
    };
    let pct = |x: Option<f64>| {
        x.map(|v| format!("{:.0}%", v * 100.0))
            .unwrap_or("—".into())
    };
    out.push((format!("Journal   {}", r.journal), "text.dim"));
    if !r.intact {
        out.push((
            "The hash chain does not verify: run `driftdeck journal verify`.".into(),
            "error",
        ));
    }
    let modes: Vec<String> = r.by_mode.iter().map(|(m, n)| format!("{n} {m}")).collect();
    out.push((
        format!(
            "Decisions {}{}",
            r.decisions,
            if modes.is_empty() {
                String::new()
            } else {
                format!(" ({})", modes.join(", "))
            }
        ),
        "text",
    ));
    out.push((
        format!("Autonomous actions {}", r.autonomous_actions),
        "text",
    ));
    out.push((String::new(), "text"));
    out.push(("Agreement with operators".into(), "header"));
    if r.all.reviews == 0 {
        out.push((
            "  No operator has reviewed a decision yet: on a decision, y approves the advice and A, F, E, H record your own verdict (allow, defer, enforce, needs-human); syncing, deferring, rolling back or annotating a drifted app records the verdict it amounts to.".into(),
            "text.dim",
        ));
    }
    out.push((
        format!(
            "  all reviews       {} of {} agreed ({})",
            r.all.agreed,
            r.all.reviews,
            pct(r.all.rate)
        ),
        "text",
    ));
    let judged = r.latest.reviews >= crate::decide::autonomy::MIN_REVIEWS;
    let low = judged && r.latest.rate.is_some_and(|x| x < r.limits.min_agreement);
    out.push((
        format!(
            "  latest {:<3}        {} of {} agreed ({}); autonomous mode needs {:.0}%{}",
            r.limits.agreement_window,
            r.latest.agreed,
            r.latest.reviews,
            pct(r.latest.rate),
            r.limits.min_agreement * 100.0,
            if low {
                ": autonomous mode falls back to advisory"
            } else if !judged {
                " (too few reviews to judge)"
            } else {
                ""
            }
        ),
        if low { "warning" } else { "text" },
    ));
    out.push((String::new(), "text"));
    out.push((
        "Calibration of the advisors' confidence (ECE: 0 is perfect)".into(),
        "header",
    ));
    if r.calibration.advisors.is_empty() {
        out.push(("  no reviews yet".into(), "text.dim"));
    }
    for a in &r.calibration.advisors {
        let line = match (&a.after, &a.map) {
            (Some(after), Some(map)) => {
                let steps: Vec<String> = map
                    .steps
                    .iter()
                    .rev()
                    .take(3)
                    .map(|(c, y)| format!("≤{c:.2}→{y:.2}"))
                    .collect();
                format!(
                    "  {:<10} {} reviews, {} agreed; ECE {:.3} before, {:.3} calibrated (cross-validated); {}",
                    a.advisor,
                    a.reviews,
                    a.agreed,
                    a.before,
                    after,
                    steps.join(" ")
                )
            }
            _ => format!(
                "  {:<10} {} review{}, {} agreed; ECE {:.3}; not calibrated before {} reviews",
                a.advisor,
                a.reviews,
                if a.reviews == 1 { "" } else { "s" },
                a.agreed,
                a.before,
                crate::decide::calibration::MIN_REVIEWS
            ),
        };
        out.push((line, "text"));
    }
    out.push((
        "  Calibration only lowers a decision's confidence (under the threshold a human decides); it never loosens a verdict or the policy.".into(),
        "text.dim",
    ));
    out.push((String::new(), "text"));
    out.push((
        "Advised (rows) vs what operators chose (columns)".into(),
        "header",
    ));
    let name = |v: Verdict| format!("{:>12}", v.as_str());
    let mut head = format!("  {:12}", "");
    for v in Verdict::ALL {
        head.push_str(&name(v));
    }
    out.push((head, "text.dim"));
    for (i, v) in Verdict::ALL.iter().enumerate() {
        let mut line = format!("  {:12}", v.as_str());
        for n in r.all.matrix[i] {
            line.push_str(&format!("{n:>12}"));
        }
        out.push((line, role_of(*v)));
    }
    out.push((String::new(), "text"));
    out.push(("Latest disagreements".into(), "header"));
    if r.disagreements.is_empty() {
        out.push(("  none".into(), "text.dim"));
    }
    for d in &r.disagreements {
        out.push((
            format!(
                "  {}  {}  advised {} ({:.2}), {} chose {}  (decision #{})",
                d.time.format("%Y-%m-%d %H:%M"),
                d.app,
                d.advised,
                d.confidence,
                d.operator,
                d.chosen,
                d.decision_seq
            ),
            "text",
        ));
    }
    out
}

/// The shadow report's rows at a screen size: long lines wrap (indented like their line), so
/// nothing is cut at 80 columns; the table keeps its columns.
pub fn shadow_rows(s: &ShadowScreen, size: (u16, u16)) -> Vec<(String, &'static str)> {
    let w = (layout::diff(size).body.width as usize)
        .saturating_sub(2)
        .max(20);
    let mut out = Vec::new();
    for (text, role) in shadow_lines(s) {
        if super::str_width(&text) <= w {
            out.push((text, role));
            continue;
        }
        for (part, indent) in wrap_indented(&text, w) {
            out.push((format!("{}{part}", " ".repeat(indent)), role));
        }
    }
    out
}

/// How far the shadow report scrolls at a screen size.
pub fn shadow_max_scroll(s: &ShadowScreen, size: (u16, u16)) -> usize {
    shadow_rows(s, size)
        .len()
        .saturating_sub(layout::diff(size).body.height as usize)
}

pub fn shadow_screen(buf: &mut Buffer, m: &Model, s: &ShadowScreen, theme: &Theme, km: &Keymap) {
    let l = layout::diff(m.size);
    buf.set_style(l.title, theme.style("title"));
    put(
        buf,
        0,
        l.title.y,
        " Shadow report: how often the advice matched what operators did",
        l.title.width as usize,
        theme.style("title"),
    );
    let rows = shadow_rows(s, m.size);
    let w = (l.body.width as usize).saturating_sub(2);
    for (i, (text, role)) in rows
        .iter()
        .skip(s.scroll.min(shadow_max_scroll(s, m.size)))
        .take(l.body.height as usize)
        .enumerate()
    {
        put(
            buf,
            l.body.x + 1,
            l.body.y + i as u16,
            &fit(text, w),
            w,
            theme.style(role),
        );
    }
    let left = hints(
        km,
        KeyMode::Report,
        &[
            (Action::Back, "back"),
            (Action::SelectNext, "scroll"),
            (Action::Reload, "reload"),
            (Action::DriftQueue, "drift queue"),
            (Action::ToggleHelp, "help"),
        ],
        theme,
    );
    status_bar(buf, l.status, &left, &[], theme);
}
