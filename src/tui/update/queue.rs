//! Decisions: asking for them, the drift queue, reviews and the shadow report.

use super::*;

/// Asks for decisions of `keys` where one is wanted (`force`: of every drifted one).
pub fn ask_decisions(m: &mut Model, keys: Vec<AppKey>, force: bool) -> Vec<Effect> {
    use crate::tui::decisions::{DecisionView, basis, wants_decision};
    if m.decide.is_err() {
        return vec![];
    }
    let mut fx = vec![];
    for k in keys {
        let Some(row) = m.fleet.get(&k) else {
            continue;
        };
        if row.sync != Sync::OutOfSync {
            continue;
        }
        let want = force || wants_decision(row, m.decisions.get(&k), m.now_ms);
        if !want {
            continue;
        }
        let b = basis(row);
        if let Some(old) = m.decisions.get(&k)
            && matches!(old.state, Load::Loading)
        {
            fx.push(Effect::Cancel(old.req));
        }
        let req = m.req();
        m.decisions.insert(
            k.clone(),
            DecisionView {
                req,
                state: Load::Loading,
                asked_ms: m.now_ms,
                basis: b,
            },
        );
        fx.push(Effect::Decide { req, key: k });
    }
    fx
}

/// Opens the drift queue and asks for the decisions it lacks.
pub fn open_queue(m: &mut Model) -> Vec<Effect> {
    m.screen = Screen::Queue(crate::tui::decisions::QueueScreen::default());
    let keys: Vec<AppKey> = m
        .fleet
        .rows
        .iter()
        .filter(|r| r.sync == Sync::OutOfSync)
        .map(|r| r.key.clone())
        .collect();
    ask_decisions(m, keys, false)
}

/// Opens the shadow report.
pub fn open_shadow(m: &mut Model) -> Vec<Effect> {
    let req = m.req();
    m.screen = Screen::Shadow(Box::new(crate::tui::decisions::ShadowScreen {
        req,
        report: Load::Loading,
        scroll: 0,
    }));
    vec![Effect::LoadShadow { req }]
}

/// Records the operator's verdict on the app's decision (`None`: the advice's own).
pub(super) fn review(
    m: &mut Model,
    key: &AppKey,
    chosen: Option<crate::decide::Verdict>,
) -> Vec<Effect> {
    // The team's decision, when `driftdeck serve` has one: the review is the team's.
    if let Some(t) = team_decision(m, key)
        && let (Some(seq), Ok(advised)) = (t.seq, t.verdict.parse::<crate::decide::Verdict>())
    {
        if chosen.is_none() && advised == crate::decide::Verdict::NeedsHuman {
            crate::tui::ops::choose_verdict(m, key.clone(), seq, true);
            return vec![];
        }
        return vec![Effect::ReviewTeam {
            key: key.clone(),
            decision_seq: seq,
            chosen: chosen.unwrap_or(advised),
        }];
    }
    let info = m.decisions.get(key).and_then(|v| v.info());
    let Some(i) = info else {
        flash(m, "there is no decision to review yet".to_string(), true);
        return vec![];
    };
    let Some(seq) = i.seq else {
        flash(
            m,
            "this decision is not in the journal, so a review cannot refer to it; fix the journal and decide again (ctrl-r)".to_string(),
            true,
        );
        return vec![];
    };
    let advised = i.decision.verdict;
    if chosen.is_none() && advised == crate::decide::Verdict::NeedsHuman {
        crate::tui::ops::choose_verdict(m, key.clone(), seq, false);
        return vec![];
    }
    vec![Effect::Review {
        key: key.clone(),
        decision_seq: seq,
        advised,
        chosen: chosen.unwrap_or(advised),
    }]
}

pub(super) fn chosen_of(a: Action) -> Option<Option<crate::decide::Verdict>> {
    use crate::decide::Verdict;
    match a {
        Action::Approve => Some(None),
        Action::ChooseAllow => Some(Some(Verdict::Allow)),
        Action::ChooseDefer => Some(Some(Verdict::Defer)),
        Action::ChooseEnforce => Some(Some(Verdict::Enforce)),
        Action::ChooseNeedsHuman => Some(Some(Verdict::NeedsHuman)),
        _ => None,
    }
}

pub(super) fn queue_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let rows = crate::tui::decisions::queue(&m.fleet.rows, &m.decisions);
    // The list is the body less its header line.
    let page = ui::layout::diff_page(m.size).saturating_sub(1);
    let Screen::Queue(q) = &mut m.screen else {
        return vec![];
    };
    let selected = rows.get(q.cursor).map(|r| r.key.clone());
    if let Some(c) = chosen_of(a) {
        return match selected {
            Some(k) => review(m, &k, c),
            None => vec![],
        };
    }
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::Back => m.screen = Screen::Fleet,
        a if a.moves() => move_list(&mut q.cursor, &mut q.offset, rows.len(), page, a),
        Action::OpenApp | Action::TabDecision => {
            if let Some(k) = selected {
                let fx = open_app(m, k);
                if let Screen::App(s) = &mut m.screen {
                    s.tab = AppTab::Decision;
                    s.from_queue = true;
                }
                return fx;
            }
        }
        Action::Diff => {
            if let Some(k) = selected {
                return open_diff(m, k, None);
            }
        }
        Action::Reload => {
            let keys = rows.into_iter().map(|r| r.key).collect();
            return ask_decisions(m, keys, true);
        }
        Action::ShadowReport => return open_shadow(m),
        _ => {}
    }
    vec![]
}

pub(super) fn report_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let size = m.size;
    let page = ui::layout::diff(size).body.height as usize;
    let Screen::Shadow(s) = &mut m.screen else {
        return vec![];
    };
    let max = ui::decide::shadow_max_scroll(s, size);
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::Back => m.screen = Screen::Fleet,
        a if a.moves() => s.scroll = scrolled(s.scroll, max, page, a),
        Action::Reload => return open_shadow(m),
        Action::DriftQueue => return open_queue(m),
        _ => {}
    }
    vec![]
}

/// The team's latest decision about the app, if `driftdeck serve` has one.
pub fn team_decision<'a>(m: &'a Model, key: &AppKey) -> Option<&'a crate::serve::DecisionSummary> {
    let inst = m.instances.get(key.instance as usize)?;
    m.team.decisions.get(&(inst.name.clone(), key.name.clone()))
}
