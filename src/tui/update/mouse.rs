//! Clicks and the wheel.

use super::*;

/// Rows one turn of the wheel moves.
pub(super) const WHEEL_ROWS: usize = 3;

/// A click selects the row under it (a click on the selected row opens it), a tab, or the column
/// to sort by (again: the other direction); the wheel moves the selection. Dialogs ignore the
/// mouse: what changes something is confirmed from the keyboard.
pub(super) fn mouse(m: &mut Model, km: &Keymap, ev: crate::tui::msg::Mouse) -> Vec<Effect> {
    use crate::tui::msg::MouseKind;
    m.pending.clear();
    m.pending_next.clear();
    if ui::layout::too_small(m.size) {
        return vec![];
    }
    let mode = m.mode();
    if matches!(mode, KeyMode::Dialog | KeyMode::Filter | KeyMode::Command) {
        return vec![];
    }
    match ev.kind {
        MouseKind::ScrollDown | MouseKind::ScrollUp => {
            let a = if ev.kind == MouseKind::ScrollDown {
                Action::SelectNext
            } else {
                Action::SelectPrev
            };
            let mut fx = Vec::new();
            for _ in 0..WHEEL_ROWS {
                fx.extend(if mode == KeyMode::Help {
                    help_act(m, km, a)
                } else {
                    act(m, mode, a)
                });
            }
            fx
        }
        MouseKind::Click => match mode {
            KeyMode::Fleet => fleet_click(m, ev.x, ev.y),
            KeyMode::App => app_click(m, ev.x, ev.y),
            KeyMode::Queue => queue_click(m, ev.y),
            _ => vec![],
        },
    }
}

pub(super) fn queue_click(m: &mut Model, y: u16) -> Vec<Effect> {
    let body = ui::layout::diff(m.size).body;
    let len = crate::tui::decisions::queue(&m.fleet.rows, &m.decisions).len();
    let Screen::Queue(q) = &mut m.screen else {
        return vec![];
    };
    // The list starts below the body's header line.
    let Some(dy) = (y as usize).checked_sub(body.y as usize + 1) else {
        return vec![];
    };
    if dy >= body.height.saturating_sub(1) as usize || q.offset + dy >= len {
        return vec![];
    }
    if q.cursor == q.offset + dy {
        return act(m, KeyMode::Queue, Action::OpenApp);
    }
    q.cursor = q.offset + dy;
    vec![]
}

pub(super) fn fleet_click(m: &mut Model, x: u16, y: u16) -> Vec<Effect> {
    let l = ui::layout::fleet(m.size, ui::layout::filter_visible(m));
    if y == l.header.y {
        let cols = ui::fleet::columns(m, l.header.width.saturating_sub(1) as usize);
        let mut left = l.header.x + 1;
        for c in cols {
            let right = left + c.width as u16;
            if (left..right).contains(&x) {
                if m.view.sort == c.col {
                    m.view.descending = !m.view.descending;
                } else {
                    m.view.sort = c.col;
                    m.view.descending = false;
                }
                m.recompute_view();
                return vec![];
            }
            left = right + 1;
        }
        return vec![];
    }
    if y < l.body.y || y >= l.body.y + l.body.height {
        return vec![];
    }
    let i = m.view.offset + (y - l.body.y) as usize;
    match m.view.rows.get(i) {
        Some(crate::tui::model::ViewRow::App(_)) => {
            if i == m.view.cursor {
                return fleet_act(m, Action::OpenApp);
            }
            m.view.cursor = i;
            m.view.settle_cursor(1, &m.fleet);
            vec![]
        }
        _ => vec![],
    }
}

pub(super) fn app_click(m: &mut Model, x: u16, y: u16) -> Vec<Effect> {
    let l = ui::layout::app(m.size);
    let dlen = decision_len(m);
    if y == l.tabs.y {
        let tab = match &m.screen {
            Screen::App(s) => ui::app::tab_at(m, s, x),
            _ => None,
        };
        let Some(t) = tab else {
            return vec![];
        };
        let a = match t {
            AppTab::Resources => Action::TabResources,
            AppTab::Conditions => Action::TabConditions,
            AppTab::History => Action::TabHistory,
            AppTab::Events => Action::TabEvents,
            AppTab::Cluster => Action::TabCluster,
            AppTab::Decision => Action::TabDecision,
        };
        return app_act(m, a);
    }
    let Screen::App(s) = &mut m.screen else {
        return vec![];
    };
    if y >= l.body.y && y < l.body.y + l.body.height {
        let i = s.offset + (y - l.body.y) as usize;
        if i < ui::app::list_len(s, dlen) {
            s.cursor = i;
        }
    }
    vec![]
}
