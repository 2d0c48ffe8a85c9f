//! The list views: ApplicationSets (`:appsets`) and versions per environment (`:versions`).

use super::*;

/// Opens the ApplicationSets view and reads every instance's sets again.
pub fn open_appsets(m: &mut Model) -> Vec<Effect> {
    m.screen = Screen::AppSets(ListScreen::default());
    fetch_appsets(m)
}

/// Reads every instance's sets again.
fn fetch_appsets(m: &Model) -> Vec<Effect> {
    (0..m.instances.len() as u16)
        .map(Effect::FetchAppSets)
        .collect()
}

/// Opens the versions view.
pub fn open_versions(m: &mut Model) -> Vec<Effect> {
    crate::tui::views::refresh_versions(m);
    m.screen = Screen::Versions(ListScreen::default());
    vec![]
}

/// Opens the DORA view and reads every instance's deployment history.
pub fn open_dora(m: &mut Model) -> Vec<Effect> {
    m.screen = Screen::Dora(ListScreen::default());
    m.dora = Load::Loading;
    vec![Effect::FetchDora]
}

/// Rows of the open list view (for moving the cursor).
fn rows_len(m: &Model) -> usize {
    match &m.screen {
        Screen::AppSets(_) => crate::tui::views::appset_rows(m).len(),
        Screen::Versions(_) => crate::tui::views::version_rows(m).len(),
        Screen::Dora(_) => m.dora.ready().map_or(0, Vec::len),
        _ => 0,
    }
}

pub(super) fn views_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let len = rows_len(m);
    let page = ui::views::list_page(m);
    let (Screen::AppSets(l) | Screen::Versions(l) | Screen::Dora(l)) = &mut m.screen else {
        return vec![];
    };
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::Back => m.screen = Screen::Fleet,
        a if a.moves() => move_list(&mut l.cursor, &mut l.offset, len, page, a),
        Action::DriftQueue => return open_queue(m),
        Action::Reload if matches!(m.screen, Screen::AppSets(_)) => return fetch_appsets(m),
        Action::Reload if matches!(m.screen, Screen::Dora(_)) => return open_dora(m),
        Action::OpenApp => return narrow(m),
        _ => {}
    }
    vec![]
}

/// Enter: the fleet narrowed to the set's apps (its instance and `appset:NAME`), or to the
/// family's apps.
fn narrow(m: &mut Model) -> Vec<Effect> {
    let mut f = m.view.filter.clone();
    match &m.screen {
        Screen::AppSets(l) => {
            let rows = crate::tui::views::appset_rows(m);
            let Some((inst, set)) = rows.get(l.cursor) else {
                return vec![];
            };
            f.facets
                .insert(Facet::Instance, vec![m.instance_name(*inst).to_string()]);
            f.facets
                .insert(Facet::AppSet, vec![set.metadata.name.clone()]);
        }
        Screen::Dora(l) => {
            let fig = m.dora.ready().and_then(|v| v.get(l.cursor)).cloned();
            let Some(fig) = fig else { return vec![] };
            let mut nf = Filter::default();
            nf.facets
                .insert(Facet::Instance, vec![fig.instance.clone()]);
            nf.facets.insert(Facet::Project, vec![fig.project.clone()]);
            m.view.filter = nf;
            m.screen = Screen::Fleet;
            m.recompute_view();
            return vec![];
        }
        Screen::Versions(l) => {
            let Some(fam) = crate::tui::views::version_rows(m).get(l.cursor) else {
                return vec![];
            };
            f = Filter {
                text: vec![fam.family.to_lowercase()],
                ..Filter::default()
            };
        }
        _ => return vec![],
    }
    m.view.filter = f;
    m.screen = Screen::Fleet;
    m.recompute_view();
    vec![]
}
