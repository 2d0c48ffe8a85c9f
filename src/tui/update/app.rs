//! The app screen: opening it, its tabs, the cluster tab's reads, and its keys.

use super::*;

/// Where the open app runs, for the kube API.
pub(super) fn cluster_target(m: &Model) -> Option<crate::tui::effect::ClusterTarget> {
    let Screen::App(s) = &m.screen else {
        return None;
    };
    let row = m.fleet.rows.iter().find(|r| r.key == s.key);
    let app = s.app.ready();
    let pods = match &s.tree {
        Load::Ready(t) => t
            .nodes
            .iter()
            .filter(|n| n.reference.kind == "Pod")
            .map(|n| n.reference.name.clone())
            .collect(),
        _ => vec![],
    };
    Some(crate::tui::effect::ClusterTarget {
        cluster: row.map(|r| r.cluster.clone()).unwrap_or_default(),
        server: app
            .map(|a| a.spec.destination.server.clone())
            .unwrap_or_default(),
        namespace: app
            .map(|a| a.spec.destination.namespace.clone())
            .or_else(|| row.map(|r| r.dest_namespace.clone()))
            .unwrap_or_default(),
        pods,
        resources: app
            .map(|a| {
                a.status
                    .resources
                    .iter()
                    .map(|r| crate::clients::argocd::ResourceId {
                        group: r.group.clone(),
                        version: r.version.clone(),
                        kind: r.kind.clone(),
                        namespace: r.namespace.clone(),
                        name: r.name.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads the open app's pods and events from its cluster.
pub(super) fn fetch_cluster(m: &mut Model) -> Vec<Effect> {
    let Some(target) = cluster_target(m) else {
        return vec![];
    };
    let req = m.req();
    let Screen::App(s) = &mut m.screen else {
        return vec![];
    };
    let old = s.req_cluster;
    s.req_cluster = req;
    s.cluster = Some(Load::Loading);
    vec![Effect::Cancel(old), Effect::FetchCluster { req, target }]
}

/// Opens the app screen for `key` and fetches its details.
pub fn open_app(m: &mut Model, key: AppKey) -> Vec<Effect> {
    m.screen = Screen::App(Box::new(AppScreen {
        key: key.clone(),
        tab: AppTab::Resources,
        app: Load::Loading,
        tree: Load::Loading,
        events: Load::Loading,
        req_app: 0,
        req_tree: 0,
        req_events: 0,
        cursor: 0,
        offset: 0,
        stale: false,
        from_queue: false,
        parent: None,
        history: None,
        req_history: 0,
        cluster: None,
        req_cluster: 0,
        req_logs: 0,
        rollouts: vec![],
        rollouts_error: None,
    }));
    let mut fx = refetch(m, true);
    fx.extend(ask_decisions(m, vec![key.clone()], false));
    fx
}

/// The rows of the open app's decision tab at the current width (derived, never stored).
pub(super) fn decision_len(m: &Model) -> usize {
    match &m.screen {
        Screen::App(s) if s.tab == AppTab::Decision => {
            ui::decide::decision_rows(m, s, m.size.0).len()
        }
        _ => 0,
    }
}

pub(super) fn app_act(m: &mut Model, a: Action) -> Vec<Effect> {
    let mut page = ui::layout::app_page(m.size);
    if let Screen::App(s) = &m.screen {
        page = page.saturating_sub(ui::app::panel_rows(m, s, page as u16 + 1) as usize);
    }
    let dlen = decision_len(m);
    let Screen::App(s) = &mut m.screen else {
        return vec![];
    };
    match a {
        Action::ToggleHelp => m.overlay = Overlay::Help { scroll: 0 },
        Action::Back => {
            let mut fx = vec![
                Effect::Cancel(s.req_app),
                Effect::Cancel(s.req_tree),
                Effect::Cancel(s.req_events),
            ];
            if let Some(parent) = s.parent.clone() {
                fx.extend(open_app(m, parent));
                return fx;
            }
            m.screen = if s.from_queue {
                Screen::Queue(crate::tui::decisions::QueueScreen::default())
            } else {
                Screen::Fleet
            };
            return fx;
        }
        Action::Approve
        | Action::ChooseAllow
        | Action::ChooseDefer
        | Action::ChooseEnforce
        | Action::ChooseNeedsHuman => {
            let key = s.key.clone();
            return review(m, &key, chosen_of(a).flatten());
        }
        Action::DriftQueue => return open_queue(m),
        Action::ShadowReport => return open_shadow(m),
        Action::Reload if s.tab == AppTab::Cluster => {
            let mut fx = refetch(m, true);
            fx.extend(fetch_cluster(m));
            return fx;
        }
        Action::Logs if s.tab == AppTab::Cluster => return super::logs::open_logs(m, false),
        Action::PreviousLogs if s.tab == AppTab::Cluster => {
            return super::logs::open_logs(m, true);
        }
        Action::PreviousLogs => {
            flash(
                m,
                "previous log: on the Cluster tab (6), put the cursor on a restarting pod, then p"
                    .into(),
                true,
            );
            return vec![];
        }
        Action::Describe => return super::logs::open_object(m, true),
        Action::Yaml => return super::logs::open_object(m, false),
        Action::Logs if s.tab == AppTab::Resources => {
            // Enter on a child Application of an app of apps opens it.
            let lines = ui::app::resource_lines(s, false);
            let child = lines
                .get(s.cursor)
                .filter(|l| l.kind == "Application" && l.group == "argoproj.io")
                .map(|l| AppKey {
                    instance: s.key.instance,
                    namespace: l.namespace.clone(),
                    name: l.name.clone(),
                });
            let parent = s.key.clone();
            match child {
                Some(k) if m.fleet.get(&k).is_some() => {
                    let fx = open_app(m, k);
                    if let Screen::App(c) = &mut m.screen {
                        c.parent = Some(parent);
                    }
                    return fx;
                }
                Some(k) => {
                    flash(
                        m,
                        format!("{} is not an app of this instance's fleet", k.name),
                        true,
                    );
                }
                None => flash(
                    m,
                    "enter opens a child Application (an app of apps); logs: on the Cluster tab (6)"
                        .into(),
                    true,
                ),
            }
            return vec![];
        }
        Action::Logs => {
            flash(
                m,
                "logs: on the Cluster tab (6), put the cursor on a pod, then enter".into(),
                true,
            );
            return vec![];
        }
        Action::Reload if s.tab == AppTab::Decision => {
            let key = s.key.clone();
            let mut fx = refetch(m, true);
            fx.extend(ask_decisions(m, vec![key], true));
            return fx;
        }
        Action::NextTab
        | Action::PrevTab
        | Action::TabResources
        | Action::TabConditions
        | Action::TabHistory
        | Action::TabEvents
        | Action::TabCluster
        | Action::TabDecision => {
            let i = s.tab.index();
            let n = AppTab::ALL.len();
            s.tab = match a {
                Action::NextTab => AppTab::ALL[(i + 1) % n],
                Action::PrevTab => AppTab::ALL[(i + n - 1) % n],
                Action::TabResources => AppTab::Resources,
                Action::TabConditions => AppTab::Conditions,
                Action::TabHistory => AppTab::History,
                Action::TabEvents => AppTab::Events,
                Action::TabCluster => AppTab::Cluster,
                _ => AppTab::Decision,
            };
            s.cursor = 0;
            s.offset = 0;
            if s.tab == AppTab::Cluster && s.cluster.is_none() {
                return fetch_cluster(m);
            }
            if s.tab == AppTab::History && s.history.is_none() {
                let key = s.key.clone();
                let req = m.req();
                if let Screen::App(s) = &mut m.screen {
                    s.req_history = req;
                }
                return vec![Effect::FetchHistory { req, key }];
            }
        }
        a if a.moves() => {
            let len = ui::app::list_len(s, dlen);
            move_list(&mut s.cursor, &mut s.offset, len, page, a);
        }
        Action::Reload => return refetch(m, true),
        Action::Diff => {
            let key = s.key.clone();
            let Screen::App(app) = std::mem::replace(&mut m.screen, Screen::Fleet) else {
                return vec![];
            };
            return open_diff(m, key, Some(app));
        }
        _ => {}
    }
    vec![]
}
