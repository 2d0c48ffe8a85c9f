//! The filter line, text editing and the facet picker.

use super::*;

pub(crate) fn set_filter(m: &mut Model, f: Filter) {
    m.view.filter = f;
    m.recompute_view();
}

pub(crate) fn insert_char(input: &mut TextInput, c: char) {
    let byte = input
        .text
        .char_indices()
        .nth(input.cursor)
        .map(|(b, _)| b)
        .unwrap_or(input.text.len());
    input.text.insert(byte, c);
    input.cursor += 1;
}

/// Applies the typed filter as the user types; an invalid expression keeps the last valid one.
pub(super) fn apply_input(m: &mut Model) {
    // In a followed log, `/` searches it.
    if matches!(m.screen, Screen::Logs(_)) {
        let text = m.input.as_ref().map(|i| i.text.clone()).unwrap_or_default();
        super::logs::set_search(m, &text);
        return;
    }
    let Some(input) = &mut m.input else { return };
    match Filter::parse(&input.text) {
        Ok(f) => {
            input.error = None;
            set_filter(m, f);
        }
        Err(e) => input.error = Some(e),
    }
}

pub(super) fn filter_act(m: &mut Model, a: Action) {
    let Some(input) = &mut m.input else { return };
    match a {
        Action::Accept => {
            if let Some(e) = input.error.take() {
                flash(m, format!("filter not applied: {e}"), true);
            }
            m.input = None;
        }
        Action::Cancel | Action::Back => {
            let before = input.before.clone();
            m.input = None;
            if matches!(m.screen, Screen::Logs(_)) {
                super::logs::set_search(m, &before);
                return;
            }
            set_filter(m, Filter::parse(&before).unwrap_or_default());
        }
        a => {
            if edit_text(input, a) {
                apply_input(m);
            }
        }
    }
}

/// The editing keys of a text input (the filter, the command line); `false` when `a` is not
/// one of them.
pub(crate) fn edit_text(input: &mut TextInput, a: Action) -> bool {
    match a {
        Action::DeleteChar => {
            if input.cursor > 0 {
                let byte = input
                    .text
                    .char_indices()
                    .nth(input.cursor - 1)
                    .map(|(b, _)| b)
                    .unwrap_or(0);
                input.text.remove(byte);
                input.cursor -= 1;
            }
        }
        Action::DeleteWord => {
            let chars: Vec<char> = input.text.chars().collect();
            let mut i = input.cursor;
            while i > 0 && chars[i - 1] == ' ' {
                i -= 1;
            }
            while i > 0 && chars[i - 1] != ' ' {
                i -= 1;
            }
            let rest: String = chars[input.cursor..].iter().collect();
            input.text = chars[..i].iter().collect::<String>() + &rest;
            input.cursor = i;
        }
        Action::ClearLine => {
            input.text.clear();
            input.cursor = 0;
        }
        Action::CursorLeft => input.cursor = input.cursor.saturating_sub(1),
        Action::CursorRight => input.cursor = (input.cursor + 1).min(input.text.chars().count()),
        _ => return false,
    }
    true
}

/// Builds the facet picker from the whole fleet, with counts.
pub(super) fn facet_picker(m: &Model) -> FacetPicker {
    let mut items = Vec::new();
    let count = |pred: &dyn Fn(&crate::model::fleet::AppRow) -> bool| {
        m.fleet.rows.iter().filter(|r| pred(r)).count()
    };
    let mut push_values = |facet: Facet, values: Vec<(String, usize)>| {
        if values.iter().all(|(_, c)| *c == 0) {
            return;
        }
        items.push(FacetItem::Header(facet));
        for (value, count) in values {
            if count > 0 || m.view.filter.has(facet, &value) {
                items.push(FacetItem::Value {
                    facet,
                    value,
                    count,
                });
            }
        }
    };
    push_values(
        Facet::Sync,
        Sync::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), count(&|r| r.sync == *s)))
            .collect(),
    );
    push_values(
        Facet::Health,
        Health::ALL
            .iter()
            .map(|h| (h.as_str().to_string(), count(&|r| r.health == *h)))
            .collect(),
    );
    push_values(
        Facet::Op,
        OpPhase::ALL
            .iter()
            .map(|o| (o.as_str().to_string(), count(&|r| r.operation == Some(*o))))
            .collect(),
    );
    let distinct = |f: &dyn Fn(&crate::model::fleet::AppRow) -> String| -> Vec<(String, usize)> {
        let mut map = std::collections::BTreeMap::<String, usize>::new();
        for r in &m.fleet.rows {
            let v = f(r);
            if !v.is_empty() {
                *map.entry(v).or_default() += 1;
            }
        }
        map.into_iter().collect()
    };
    push_values(Facet::Env, distinct(&|r| r.env.clone()));
    push_values(
        Facet::Instance,
        distinct(&|r| m.instance_name(r.key.instance).to_string()),
    );
    push_values(Facet::Project, distinct(&|r| r.project.clone()));
    push_values(Facet::Cluster, distinct(&|r| r.cluster.clone()));
    push_values(Facet::AppSet, distinct(&|r| r.appset.clone()));
    push_values(
        Facet::Auto,
        vec![
            ("on".to_string(), count(&|r| r.auto_sync)),
            ("off".to_string(), count(&|r| !r.auto_sync)),
        ],
    );
    let cursor = items
        .iter()
        .position(|i| matches!(i, FacetItem::Value { .. }))
        .unwrap_or(0);
    FacetPicker {
        items,
        cursor,
        offset: 0,
        draft: m.view.filter.clone(),
    }
}

pub(super) fn facets_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let page = ui::layout::facets_page(m.size);
    let Overlay::Facets(p) = &mut m.overlay else {
        return vec![];
    };
    match a {
        Action::SelectNext | Action::SelectPrev => {
            let dir: i64 = if a == Action::SelectNext { 1 } else { -1 };
            let mut c = p.cursor as i64 + dir;
            while c >= 0
                && (c as usize) < p.items.len()
                && matches!(p.items[c as usize], FacetItem::Header(_))
            {
                c += dir;
            }
            if c >= 0 && (c as usize) < p.items.len() {
                p.cursor = c as usize;
            }
            if p.cursor < p.offset + 1 {
                p.offset = p.cursor.saturating_sub(1);
            } else if p.cursor >= p.offset + page {
                p.offset = p.cursor + 1 - page;
            }
        }
        Action::ToggleItem => {
            if let Some(FacetItem::Value { facet, value, .. }) = p.items.get(p.cursor) {
                p.draft.toggle(*facet, value);
            }
        }
        Action::ClearItems => p.draft.facets.clear(),
        Action::Accept => {
            let f = p.draft.clone();
            m.overlay = Overlay::None;
            set_filter(m, f);
        }
        Action::Cancel | Action::Back => m.overlay = Overlay::None,
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        _ => {}
    }
    vec![]
}
