//! The fleet screen: watch updates into rows, and its keys.

use super::*;

/// Asks the events of those of `candidates` that are OutOfSync with a drift start only
/// estimated (once each): the apps just listed or just changed, never the whole fleet again.
pub(super) fn ask_drift_since(m: &mut Model, candidates: &[AppKey]) -> Vec<Effect> {
    let keys: Vec<AppKey> = candidates
        .iter()
        .filter_map(|k| m.fleet.get(k))
        .filter(|r| r.sync == Sync::OutOfSync && r.since_estimated)
        .filter(|r| !m.since_asked.contains(&r.key))
        .map(|r| r.key.clone())
        .collect();
    if keys.is_empty() {
        return vec![];
    }
    m.since_asked.extend(keys.iter().cloned());
    vec![Effect::FetchDriftSince(keys)]
}

pub(super) fn fleet_update(m: &mut Model, id: u16, u: FleetUpdate) -> Vec<Effect> {
    let fx = fleet_update_inner(m, id, u);
    if matches!(m.screen, Screen::Versions(_)) {
        crate::tui::views::refresh_versions(m);
    }
    fx
}

fn fleet_update_inner(m: &mut Model, id: u16, u: FleetUpdate) -> Vec<Effect> {
    let Some(name) = m.instances.get(id as usize).map(|i| i.name.clone()) else {
        return vec![];
    };
    let mut fx = vec![];
    match u {
        FleetUpdate::Connecting { attempt } => {
            m.instances[id as usize].state = ConnState::Connecting { attempt };
        }
        FleetUpdate::Listed { rows, version, .. } => {
            let inst = &mut m.instances[id as usize];
            inst.state = ConnState::Listed;
            inst.listed = true;
            if version.is_some() {
                inst.version = version;
            }
            let keys: Vec<AppKey> = if m.decide_fleet {
                rows.iter()
                    .filter(|r| r.sync == Sync::OutOfSync)
                    .map(|r| r.key.clone())
                    .collect()
            } else {
                vec![]
            };
            let listed: Vec<AppKey> = rows.iter().map(|r| r.key.clone()).collect();
            m.fleet.replace_instance(id, &name, rows);
            m.recompute_view();
            check_complete(m);
            fx.extend(ask_drift_since(m, &listed));
            // Which set generated which app (a listing carries no owner references).
            fx.push(Effect::FetchAppSets(id));
            fx.extend(ask_decisions(m, keys, false));
            if let Screen::App(s) = &m.screen
                && s.key.instance == id
            {
                fx.extend(refetch(m, false));
            }
        }
        FleetUpdate::Live => m.instances[id as usize].state = ConnState::Live,
        FleetUpdate::Changed { upserts, deletes } => {
            let touches = |k: &AppKey| upserts.iter().any(|r| r.key == *k) || deletes.contains(k);
            let touches_open = match &mut m.screen {
                Screen::App(s) => touches(&s.key),
                Screen::Diff(d, _) => {
                    // Reloading under the reader would move the text; say it changed instead.
                    if touches(&d.key) && d.docs.ready().is_some() {
                        d.stale = true;
                    }
                    false
                }
                Screen::Fleet
                | Screen::Queue(_)
                | Screen::Shadow(_)
                | Screen::AppSets(_)
                | Screen::Versions(_)
                | Screen::Dora(_)
                | Screen::Logs(_) => false,
            };
            let changed: Vec<AppKey> = upserts.iter().map(|r| r.key.clone()).collect();
            let now = m.now_ms.div_euclid(1000);
            for r in &upserts {
                if let Some(old) = m.fleet.get(&r.key)
                    && old.health != r.health
                {
                    m.health_log.record(
                        &name,
                        &r.key.name,
                        now,
                        old.health.as_str(),
                        r.health.as_str(),
                    );
                }
            }
            m.fleet.apply(&name, upserts, &deletes, m.now_ms);
            m.recompute_view();
            fx.extend(ask_drift_since(m, &changed));
            if touches_open {
                fx = refetch(m, false);
            }
            // Decisions follow the drift while someone looks at them.
            let watching: Vec<AppKey> = match &m.screen {
                _ if m.decide_fleet => changed,
                Screen::Queue(_) => changed,
                Screen::App(s) => changed.into_iter().filter(|k| *k == s.key).collect(),
                _ => vec![],
            };
            fx.extend(ask_decisions(m, watching, false));
        }
        FleetUpdate::Down { error, retry_in } => {
            m.instances[id as usize].state = ConnState::Down {
                error,
                retry_at_ms: m.now_ms + retry_in.as_millis() as i64,
            };
            check_complete(m);
        }
    }
    fx
}

pub(super) fn fleet_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let page = ui::layout::fleet_page(m);
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::SelectNext => m.view.move_by(1, &m.fleet, page),
        Action::SelectPrev => m.view.move_by(-1, &m.fleet, page),
        Action::PageDown => m.view.move_by(page as i64, &m.fleet, page),
        Action::PageUp => m.view.move_by(-(page as i64), &m.fleet, page),
        Action::SelectFirst => {
            m.view.cursor = 0;
            m.view.offset = 0;
            m.view.move_by(0, &m.fleet, page);
        }
        Action::SelectLast => {
            m.view.cursor = m.view.rows.len().saturating_sub(1);
            m.view.move_by(0, &m.fleet, page);
            m.view.settle_cursor(-1, &m.fleet);
            m.view.scroll_into_view(page);
        }
        Action::Filter => {
            let text = m.view.filter.to_string();
            let text = if text.is_empty() {
                text
            } else {
                format!("{text} ")
            };
            m.input = Some(TextInput {
                cursor: text.chars().count(),
                before: m.view.filter.to_string(),
                text,
                error: None,
            });
        }
        Action::ClearFilter => set_filter(m, Filter::default()),
        Action::Back if !m.view.filter.is_empty() => {
            set_filter(m, Filter::default());
        }
        Action::ToggleAttention => {
            let mut f = m.view.filter.clone();
            f.attention = !f.attention;
            set_filter(m, f);
        }
        Action::Facets => {
            m.overlay = Overlay::Facets(facet_picker(m));
        }
        Action::SortNext | Action::SortPrev => {
            let i = Column::ALL
                .iter()
                .position(|c| *c == m.view.sort)
                .unwrap_or(0);
            let n = Column::ALL.len();
            let j = if a == Action::SortNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            m.view.sort = Column::ALL[j];
            m.view.descending = false;
            m.recompute_view();
            flash(
                m,
                format!("sorted by {}", m.view.sort.title().to_lowercase()),
                false,
            );
        }
        Action::SortReverse => {
            m.view.descending = !m.view.descending;
            m.recompute_view();
        }
        Action::GroupNext => {
            m.view.group = m.view.group.next();
            m.recompute_view();
            flash(m, format!("grouped by {}", m.view.group.label()), false);
        }
        Action::OpenApp => {
            if let Some(key) = m.view.selected.clone() {
                return open_app(m, key);
            }
        }
        Action::Diff => {
            if let Some(key) = m.view.selected.clone() {
                return open_diff(m, key, None);
            }
        }
        Action::DriftQueue => return open_queue(m),
        Action::ShadowReport => return open_shadow(m),
        Action::Reconnect => {
            let down: Vec<(u16, String)> = m
                .instances
                .iter()
                .enumerate()
                .filter(|(_, i)| matches!(i.state, ConnState::Down { .. }))
                .map(|(n, i)| (n as u16, i.name.clone()))
                .collect();
            if down.is_empty() {
                flash(m, "no instance is down: nothing to reconnect".into(), false);
                return vec![];
            }
            let names: Vec<&str> = down.iter().map(|(_, n)| n.as_str()).collect();
            flash(
                m,
                format!("reconnecting to {} now", names.join(", ")),
                false,
            );
            return vec![Effect::Reconnect(
                down.into_iter().map(|(n, _)| n).collect(),
            )];
        }
        Action::NextInstance => {
            // All → the first instance → … → the last → all.
            let names = m.instance_names();
            let mut f = m.view.filter.clone();
            let now = f.facets.get(&Facet::Instance).cloned().unwrap_or_default();
            let next = match now.as_slice() {
                [one] => names
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(one))
                    .and_then(|i| names.get(i + 1)),
                [] => names.first(),
                _ => None,
            };
            match next {
                Some(n) => {
                    f.facets.insert(Facet::Instance, vec![n.clone()]);
                    flash(
                        m,
                        format!("instance {n} only (c: the next; all after the last)"),
                        false,
                    );
                }
                None => {
                    f.facets.remove(&Facet::Instance);
                    flash(m, "every instance".into(), false);
                }
            }
            set_filter(m, f);
        }
        _ => {}
    }
    vec![]
}
