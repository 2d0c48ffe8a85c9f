use super::*;
use crate::clients::argocd::ArgoError;
use crate::model::app::Application;
use crate::model::fleet::AppRow;
use std::time::Duration;

fn row(inst: u16, name: &str, sync: &str, health: &str, env: &str) -> AppRow {
    let mut a = Application::default();
    a.metadata.name = name.into();
    a.metadata.namespace = "argocd".into();
    a.status.sync.status = sync.into();
    a.status.health.status = health.into();
    a.spec.destination.name = format!("{env}-eu-west-1-1");
    a.spec.project = "shop".into();
    a.metadata.labels.insert("env".into(), env.into());
    AppRow::from_app(inst, &a)
}

fn model() -> Model {
    let inst = |n: &str| InstanceView {
        name: n.into(),
        url: format!("https://{n}"),
        state: ConnState::Connecting { attempt: 0 },
        version: None,
        listed: false,
        insecure: false,
        read_only: false,
    };
    Model::new(vec![inst("eu"), inst("us")], (120, 40), 1_000_000)
}

fn listed(m: &mut Model) {
    let km = Keymap::default();
    update(
        m,
        &km,
        Msg::Fleet(
            0,
            FleetUpdate::Listed {
                rows: vec![
                    row(0, "payments", "OutOfSync", "Healthy", "prod"),
                    row(0, "orders", "Synced", "Degraded", "prod"),
                    row(0, "search", "Synced", "Healthy", "dev"),
                ],
                resource_version: "10".into(),
                version: Some("v3.2.1".into()),
            },
        ),
    );
    update(
        m,
        &km,
        Msg::Fleet(
            1,
            FleetUpdate::Listed {
                rows: vec![row(1, "payments", "Synced", "Healthy", "prod")],
                resource_version: "5".into(),
                version: None,
            },
        ),
    );
}

fn keys(m: &mut Model, spec: &str) -> Vec<Effect> {
    let km = Keymap::default();
    let mut fx = vec![];
    for k in spec.split_whitespace() {
        fx.extend(update(m, &km, Msg::Key(Key::parse(k).unwrap())));
    }
    fx
}

fn typed(m: &mut Model, text: &str) {
    let km = Keymap::default();
    for c in text.chars() {
        update(m, &km, Msg::Key(Key::ch(c)));
    }
}

fn visible(m: &Model) -> Vec<String> {
    m.view
        .rows
        .iter()
        .filter_map(|r| match r {
            ViewRow::App(i) => Some(format!(
                "{}@{}",
                m.fleet.rows[*i].key.name,
                m.instance_name(m.fleet.rows[*i].key.instance)
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn shadow_and_autonomous_modes_decide_every_drift_others_only_what_is_looked_at() {
    let decides = |fx: &[Effect]| -> Vec<String> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Decide { key, .. } => Some(key.name.clone()),
                _ => None,
            })
            .collect()
    };
    let km = Keymap::default();
    let listing = |m: &mut Model| {
        update(
            m,
            &km,
            Msg::Fleet(
                0,
                FleetUpdate::Listed {
                    rows: vec![
                        row(0, "payments", "OutOfSync", "Healthy", "prod"),
                        row(0, "orders", "Synced", "Degraded", "prod"),
                    ],
                    resource_version: "10".into(),
                    version: None,
                },
            ),
        )
    };
    let mut advisory = model();
    assert!(decides(&listing(&mut advisory)).is_empty());
    let mut sweeping = model();
    sweeping.decide_fleet = true;
    assert_eq!(
        decides(&listing(&mut sweeping)),
        vec!["payments".to_string()]
    );
    // Asked once: the same state does not ask again.
    assert!(decides(&listing(&mut sweeping)).is_empty());
}

#[test]
fn init_watches_every_instance() {
    let mut m = model();
    assert_eq!(
        init(&mut m),
        vec![Effect::WatchInstance(0), Effect::WatchInstance(1)]
    );
}

#[test]
fn listing_completes_the_first_frame() {
    let mut m = model();
    assert!(!m.complete);
    listed(&mut m);
    assert!(m.complete);
    assert_eq!(m.fleet.len(), 4);
    assert_eq!(m.instances[0].version.as_deref(), Some("v3.2.1"));
}

#[test]
fn typing_a_filter_filters_live_and_escape_restores() {
    let mut m = model();
    listed(&mut m);
    keys(&mut m, "/");
    assert_eq!(m.mode(), KeyMode::Filter);
    typed(&mut m, "status:OutOfSync,Degraded env:prod");
    assert_eq!(visible(&m), ["orders@eu", "payments@eu"]);
    keys(&mut m, "enter");
    assert_eq!(m.mode(), KeyMode::Fleet);
    assert_eq!(visible(&m).len(), 2);
    // q while typing is text, not quit.
    keys(&mut m, "/");
    typed(&mut m, "q");
    assert!(!m.quit);
    assert!(visible(&m).is_empty());
    keys(&mut m, "esc");
    assert_eq!(visible(&m).len(), 2, "cancel restores the previous filter");
    keys(&mut m, "esc");
    assert_eq!(visible(&m).len(), 4, "esc in the fleet clears the filter");
}

#[test]
fn an_invalid_filter_keeps_the_last_valid_one_and_says_why() {
    let mut m = model();
    listed(&mut m);
    keys(&mut m, "/");
    typed(&mut m, "colour:red");
    assert!(
        m.input
            .as_ref()
            .unwrap()
            .error
            .as_ref()
            .unwrap()
            .contains("unknown facet")
    );
    // The last valid expression (the text `colour`) still applies.
    assert_eq!(m.view.filter.to_string(), "colour");
    keys(&mut m, "enter");
    assert!(m.flash.as_ref().unwrap().error);
}

#[test]
fn attention_quick_filter() {
    let mut m = model();
    listed(&mut m);
    keys(&mut m, "!");
    assert_eq!(visible(&m), ["orders@eu", "payments@eu"]);
    keys(&mut m, "!");
    assert_eq!(visible(&m).len(), 4);
}

#[test]
fn facet_picker_toggles_and_applies() {
    let mut m = model();
    listed(&mut m);
    keys(&mut m, "f");
    assert_eq!(m.mode(), KeyMode::Facets);
    // The first value is Sync: Synced; move to OutOfSync and toggle it.
    keys(&mut m, "j space enter");
    assert_eq!(m.view.filter.to_string(), "sync:OutOfSync");
    assert_eq!(visible(&m), ["payments@eu"]);
}

#[test]
fn sequences_and_navigation() {
    let mut m = model();
    listed(&mut m);
    keys(&mut m, "G");
    assert_eq!(m.view.cursor, 3);
    keys(&mut m, "g");
    assert!(!m.pending_next.is_empty(), "which-key hint pending");
    keys(&mut m, "g");
    assert_eq!(m.view.cursor, 0);
    assert!(m.pending.is_empty());
}

#[test]
fn sort_and_group() {
    let mut m = model();
    listed(&mut m);
    // Sort by sync: OutOfSync first.
    while m.view.sort != Column::Sync {
        keys(&mut m, "o");
    }
    assert_eq!(visible(&m)[0], "payments@eu");
    keys(&mut m, "O");
    assert_eq!(visible(&m)[3], "payments@eu");
    keys(&mut m, "b");
    assert_eq!(m.view.group, Group::Instance);
    assert!(matches!(m.view.rows[0], ViewRow::Group { .. }));
}

#[test]
fn enter_opens_the_app_and_fetches_its_details() {
    let mut m = model();
    listed(&mut m);
    let fx = keys(&mut m, "enter");
    let Screen::App(s) = &m.screen else { panic!() };
    assert_eq!(s.key.name, "orders");
    assert!(fx.iter().any(|e| matches!(e, Effect::FetchApp { .. })));
    assert!(fx.iter().any(|e| matches!(e, Effect::FetchTree { .. })));
    assert!(fx.iter().any(|e| matches!(e, Effect::FetchEvents { .. })));
    // A stale reply is dropped.
    let km = Keymap::default();
    update(
        &mut m,
        &km,
        Msg::AppLoaded {
            req: 9999,
            result: Err(ArgoError::NotFound {
                message: "x".into(),
            }),
        },
    );
    let Screen::App(s) = &m.screen else { panic!() };
    assert_eq!(s.app, Load::Loading);
    let req = s.req_app;
    update(
        &mut m,
        &km,
        Msg::AppLoaded {
            req,
            result: Err(ArgoError::NotFound {
                message: "gone".into(),
            }),
        },
    );
    let Screen::App(s) = &m.screen else { panic!() };
    assert!(matches!(&s.app, Load::Failed(e) if e.contains("gone")));
    keys(&mut m, "3");
    let Screen::App(s) = &m.screen else { panic!() };
    assert_eq!(s.tab, AppTab::History);
    let fx = keys(&mut m, "esc");
    assert!(matches!(m.screen, Screen::Fleet));
    assert!(fx.iter().all(|e| matches!(e, Effect::Cancel(_))));
}

#[test]
fn a_change_of_the_open_app_refetches_it() {
    let mut m = model();
    listed(&mut m);
    keys(&mut m, "enter");
    let Screen::App(s) = &m.screen else { panic!() };
    let (ra, rt) = (s.req_app, s.req_tree);
    let km = Keymap::default();
    update(
        &mut m,
        &km,
        Msg::AppLoaded {
            req: ra,
            result: Ok(Box::default()),
        },
    );
    let fx = update(
        &mut m,
        &km,
        Msg::Fleet(
            0,
            FleetUpdate::Changed {
                upserts: vec![row(0, "orders", "Synced", "Healthy", "prod")],
                deletes: vec![],
            },
        ),
    );
    assert!(fx.contains(&Effect::Cancel(rt)));
    assert!(fx.iter().any(|e| matches!(e, Effect::FetchApp { .. })));
}

#[test]
fn a_down_instance_shows_its_reason_and_others_carry_on() {
    let mut m = model();
    listed(&mut m);
    let km = Keymap::default();
    update(
        &mut m,
        &km,
        Msg::Fleet(
            1,
            FleetUpdate::Down {
                error: ArgoError::Unreachable {
                    url: "https://us".into(),
                    detail: "connection refused".into(),
                },
                retry_in: Duration::from_secs(4),
            },
        ),
    );
    match &m.instances[1].state {
        ConnState::Down { error, retry_at_ms } => {
            assert!(error.to_string().contains("connection refused"));
            assert_eq!(*retry_at_ms, 1_000_000 + 4000);
        }
        s => panic!("{s:?}"),
    }
    assert_eq!(m.instances[0].state, ConnState::Listed);
    assert_eq!(
        m.fleet.len(),
        4,
        "the down instance's last known apps stay, marked stale"
    );
    // ctrl-r: reconnect to it now.
    let fx = act(&mut m, KeyMode::Fleet, Action::Reconnect);
    assert_eq!(fx, vec![Effect::Reconnect(vec![1])]);
    assert!(
        m.flash.as_ref().unwrap().text.contains("reconnecting to"),
        "{:?}",
        m.flash
    );
    assert_eq!(
        km.keys_for(KeyMode::Fleet, Action::Reconnect),
        vec!["ctrl-r"]
    );
    m.instances[1].state = ConnState::Live;
    assert!(act(&mut m, KeyMode::Fleet, Action::Reconnect).is_empty());
    assert!(
        m.flash
            .as_ref()
            .unwrap()
            .text
            .contains("nothing to reconnect")
    );
}

#[test]
fn changed_rows_are_marked_for_a_moment() {
    let mut m = model();
    listed(&mut m);
    let km = Keymap::default();
    update(&mut m, &km, Msg::Tick(2_000_000));
    update(
        &mut m,
        &km,
        Msg::Fleet(
            0,
            FleetUpdate::Changed {
                upserts: vec![row(0, "search", "OutOfSync", "Healthy", "dev")],
                deletes: vec![],
            },
        ),
    );
    let i = m
        .fleet
        .index_of(&AppKey {
            instance: 0,
            namespace: "argocd".into(),
            name: "search".into(),
        })
        .unwrap();
    assert_eq!(m.fleet.changed_ms[i], 2_000_000);
}

/// Redraws are marked in one place: every message but the clock's, whatever its handler
/// forgot (a flash from the prepared-plan path once did).
#[test]
fn every_message_but_the_clock_marks_a_redraw() {
    let mut m = model();
    let km = Keymap::default();
    m.dirty = false;
    update(
        &mut m,
        &km,
        Msg::Prepared {
            req: 999,
            result: Err("stale".into()),
        },
    );
    assert!(
        m.dirty,
        "a stale reply still redraws (cheap: the screen diff writes nothing)"
    );
    m.dirty = false;
    let now = m.now_ms;
    update(&mut m, &km, Msg::Tick(now + 1));
    assert!(!m.dirty);
}

#[test]
fn ticks_only_dirty_on_second_boundaries() {
    let mut m = model();
    let km = Keymap::default();
    m.dirty = false;
    update(&mut m, &km, Msg::Tick(1_000_250));
    assert!(!m.dirty);
    update(&mut m, &km, Msg::Tick(1_001_000));
    assert!(m.dirty);
}

fn mouse(m: &mut Model, kind: crate::tui::msg::MouseKind, x: u16, y: u16) -> Vec<Effect> {
    let ev = crate::tui::msg::Mouse { kind, x, y };
    update(m, &Keymap::default(), Msg::Mouse(ev))
}

#[test]
fn the_mouse_selects_opens_sorts_scrolls_and_switches_tabs() {
    use crate::tui::msg::MouseKind::{Click, ScrollDown, ScrollUp};
    let mut m = model();
    listed(&mut m);
    let l = ui::layout::fleet(m.size, false);
    assert_eq!(m.view.cursor, 0);
    // A click on the third row selects it; nothing is opened.
    let fx = mouse(&mut m, Click, 10, l.body.y + 2);
    assert!(fx.is_empty());
    assert_eq!(m.view.cursor, 2);
    let chosen = m.view.selected.clone().unwrap();
    // Below the last row: nothing happens.
    mouse(&mut m, Click, 10, l.body.y + 20);
    assert_eq!(m.view.cursor, 2);
    // The wheel moves the selection three rows at a time, within the list.
    mouse(&mut m, ScrollUp, 10, l.body.y);
    assert_eq!(m.view.cursor, 0);
    mouse(&mut m, ScrollDown, 10, l.body.y);
    assert_eq!(m.view.cursor, 3);
    // A column header sorts by it; again, the other way round.
    let cols = ui::fleet::columns(&m, l.header.width as usize - 1);
    let mut x = 1;
    let mut health_x = None;
    for c in &cols {
        if c.col == Column::Health {
            health_x = Some(x + 1);
        }
        x += c.width as u16 + 1;
    }
    let hx = health_x.expect("a health column at 120 columns");
    mouse(&mut m, Click, hx, l.header.y);
    assert_eq!((m.view.sort, m.view.descending), (Column::Health, false));
    mouse(&mut m, Click, hx, l.header.y);
    assert_eq!((m.view.sort, m.view.descending), (Column::Health, true));
    // While typing a filter, clicks do nothing.
    keys(&mut m, "/");
    let before = m.view.cursor;
    mouse(&mut m, Click, 10, l.body.y + 1);
    assert_eq!(m.view.cursor, before);
    keys(&mut m, "esc");
    // A click on the selected row opens it.
    m.view.cursor = 2;
    m.view.settle_cursor(1, &m.fleet);
    let chosen2 = m.view.selected.clone().unwrap();
    assert_ne!(chosen, chosen2, "sorted differently");
    let fx = mouse(&mut m, Click, 10, l.body.y + 2);
    assert!(
        fx.iter().any(|e| matches!(e, Effect::FetchApp { .. })),
        "{fx:?}"
    );
    let Screen::App(s) = &m.screen else {
        panic!("the app is open")
    };
    assert_eq!(s.key, chosen2);
    // A click on a tab switches to it.
    let al = ui::layout::app(m.size);
    let hx = (0..120)
        .find(|&x| ui::app::tab_at(&m, s, x) == Some(AppTab::Conditions))
        .expect("the Conditions tab is on the bar");
    assert_eq!(ui::app::tab_at(&m, s, 0), None, "the margin is no tab");
    mouse(&mut m, Click, hx, al.tabs.y);
    let Screen::App(s) = &m.screen else {
        panic!("still the app")
    };
    assert_eq!(s.tab, AppTab::Conditions);
}

#[test]
fn low_bandwidth_redraws_times_once_a_minute_and_shows_them_to_the_minute() {
    let mut m = model();
    let km = Keymap::default();
    m.low_bandwidth = true;
    update(&mut m, &km, Msg::Tick(1_200_500));
    m.dirty = false;
    for t in [1_201_000, 1_230_000, 1_259_999] {
        update(&mut m, &km, Msg::Tick(t));
        assert!(!m.dirty, "no redraw at {t}");
    }
    update(&mut m, &km, Msg::Tick(1_260_000));
    assert!(m.dirty, "the minute changed");
    assert_eq!(m.ago(Some(1_250)), "<1m");
    assert_eq!(m.ago(Some(1_100)), "2m");
    assert_eq!(m.countdown(30), "<1m");
    assert_eq!(m.countdown(4 * 60 + 5), "5m");
    m.low_bandwidth = false;
    assert_eq!(m.ago(Some(1_250)), "10s");
    assert_eq!(m.countdown(4 * 60 + 5), "4m 05s");
}

#[test]
fn help_overlay_opens_and_closes() {
    let mut m = model();
    keys(&mut m, "?");
    assert_eq!(m.mode(), KeyMode::Help);
    keys(&mut m, "j j");
    assert_eq!(m.overlay, Overlay::Help { scroll: 2 });
    keys(&mut m, "esc");
    assert_eq!(m.mode(), KeyMode::Fleet);
    let fx = keys(&mut m, "q");
    assert_eq!(fx, vec![Effect::Quit]);
    assert!(m.quit);
}

fn diff_docs() -> Vec<crate::tui::diffview::DiffDoc> {
    use serde_json::json;
    let mk = |name: &str, changed: bool| {
        let mut data = serde_json::Map::new();
        for i in 0..30 {
            data.insert(format!("k{i:02}"), json!(format!("v{i}")));
        }
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data.clone()});
        let mut desired = live.clone();
        if changed {
            desired["data"]["k05"] = json!("changed");
            desired["data"]["k25"] = json!("changed too");
        }
        crate::tui::diffview::DiffDoc::new(
            crate::diff::diff(
                Some(&desired),
                Some(&live),
                &crate::diff::Normalizer::default(),
            )
            .unwrap(),
        )
    };
    // A hostile name: what is copied or paged never carries its controls raw.
    vec![
        mk("a", true),
        mk("b", false),
        mk("c\u{202e}\u{1b}[8m", true),
    ]
}

fn open_diff_loaded(m: &mut Model) -> Vec<Effect> {
    listed(m);
    let fx = keys(m, "d");
    let Some(Effect::FetchDiff { req, .. }) = fx.first().cloned() else {
        panic!("{fx:?}")
    };
    let km = Keymap::default();
    update(
        m,
        &km,
        Msg::DiffLoaded {
            req,
            result: Ok(diff_docs()),
        },
    );
    fx
}

#[test]
fn the_diff_screen_moves_by_hunk_and_resource() {
    let mut m = model();
    open_diff_loaded(&mut m);
    assert_eq!(m.mode(), KeyMode::Diff);
    let Screen::Diff(d, _) = &m.screen else {
        panic!()
    };
    assert_eq!(d.shown(), vec![0, 2], "the in-sync resource is hidden");
    let rows = d.rows();
    assert!(matches!(rows[0], crate::tui::diffview::Row::Header(0)));
    keys(&mut m, "n");
    let Screen::Diff(d, _) = &m.screen else {
        panic!()
    };
    let first_hunk = d.cursor;
    assert!(d.rows()[first_hunk].hunk().is_some());
    keys(&mut m, "n");
    let Screen::Diff(d, _) = &m.screen else {
        panic!()
    };
    assert!(d.cursor > first_hunk);
    assert_ne!(d.rows()[d.cursor].hunk(), None);
    keys(&mut m, "]");
    let Screen::Diff(d, _) = &m.screen else {
        panic!()
    };
    assert_eq!(d.rows()[d.cursor], crate::tui::diffview::Row::Header(2));
    keys(&mut m, "[");
    let Screen::Diff(d, _) = &m.screen else {
        panic!()
    };
    assert_eq!(d.rows()[d.cursor], crate::tui::diffview::Row::Header(0));
}

#[test]
fn folding_views_and_copying() {
    let mut m = model();
    open_diff_loaded(&mut m);
    keys(&mut m, "space");
    let Screen::Diff(d, _) = &m.screen else {
        panic!()
    };
    assert!(d.folded.contains(&0));
    keys(&mut m, "space v");
    let Screen::Diff(d, _) = &m.screen else {
        panic!()
    };
    assert!(d.folded.is_empty());
    assert_eq!(d.view, crate::tui::diffview::View::Split);
    // Unfold hidden context: move to the first fold marker and press enter.
    let fold = d
        .rows()
        .iter()
        .position(|r| matches!(r, crate::tui::diffview::Row::Fold(_)))
        .unwrap();
    for _ in 0..fold {
        keys(&mut m, "j");
    }
    keys(&mut m, "enter");
    let Screen::Diff(d, _) = &m.screen else {
        panic!()
    };
    assert_eq!(d.expanded.len(), 1);
    keys(&mut m, "g g n");
    let fx = keys(&mut m, "y");
    match fx.as_slice() {
        [Effect::Clipboard(t)] => {
            assert!(t.starts_with("--- live/ConfigMap/a"), "{t}");
            assert!(
                t.contains("+  k05: changed") && !t.contains("k25"),
                "only the hunk under the cursor: {t}"
            );
        }
        other => panic!("{other:?}"),
    }
    let fx = keys(&mut m, "Y");
    let [Effect::Clipboard(all)] = fx.as_slice() else {
        panic!()
    };
    assert!(all.contains("ConfigMap/a") && all.contains("ConfigMap/c"));
    assert!(!all.chars().any(crate::term::is_unsafe), "{all:?}");
    assert!(all.contains("<U+202E>\\x1b[8m"), "{all}");
    let fx = keys(&mut m, "p");
    let [Effect::Pager(paged)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert!(!paged.chars().any(crate::term::is_unsafe), "{paged:?}");
    let fx = keys(&mut m, "e");
    assert!(matches!(fx.as_slice(), [Effect::ExternalDiff { .. }]));
    let fx = keys(&mut m, "esc");
    assert!(matches!(m.screen, Screen::Fleet), "back where it came from");
    assert!(matches!(fx.as_slice(), [Effect::Cancel(_)]));
}

#[test]
fn the_diff_opened_from_the_app_screen_returns_to_it() {
    let mut m = model();
    listed(&mut m);
    keys(&mut m, "enter 3");
    keys(&mut m, "d");
    assert_eq!(m.mode(), KeyMode::Diff);
    keys(&mut m, "esc");
    let Screen::App(s) = &m.screen else {
        panic!("{:?}", m.screen)
    };
    assert_eq!(s.tab, AppTab::History, "the app screen as it was");
}

/// Drift age: an app first listed OutOfSync has its events asked once (when its drift began);
/// a change to OutOfSync seen on the stream starts its drift then; `is:sla` keeps the apps
/// beyond their SLA as the clock passes it.
#[test]
fn drift_age_from_the_stream_and_the_events_and_is_sla() {
    let km = Keymap::default();
    let mut m = model();
    m.fleet.sla = crate::config::fleet::Sla {
        default: Some(600),
        projects: Default::default(),
    };
    let fx = update(
        &mut m,
        &km,
        Msg::Fleet(
            0,
            FleetUpdate::Listed {
                rows: vec![
                    row(0, "payments", "OutOfSync", "Healthy", "prod"),
                    row(0, "orders", "Synced", "Healthy", "prod"),
                ],
                resource_version: "1".into(),
                version: None,
            },
        ),
    );
    let pay = AppKey {
        instance: 0,
        namespace: "argocd".into(),
        name: "payments".into(),
    };
    assert!(
        fx.contains(&Effect::FetchDriftSince(vec![pay.clone()])),
        "{fx:?}"
    );
    assert!(m.fleet.get(&pay).unwrap().since_estimated);
    update(&mut m, &km, Msg::DriftSince(vec![(pay.clone(), Some(900))]));
    let r = m.fleet.get(&pay).unwrap();
    assert_eq!((r.out_of_sync_since, r.since_estimated), (Some(900), false));
    // A change of orders to OutOfSync, seen at 1,200 s: its drift begins then.
    update(&mut m, &km, Msg::Tick(1_200_000));
    let fx = update(
        &mut m,
        &km,
        Msg::Fleet(
            0,
            FleetUpdate::Changed {
                upserts: vec![row(0, "orders", "OutOfSync", "Healthy", "prod")],
                deletes: vec![],
            },
        ),
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::FetchDriftSince(_))));
    let orders = m
        .fleet
        .rows
        .iter()
        .find(|r| r.key.name == "orders")
        .unwrap();
    assert_eq!(
        (orders.out_of_sync_since, orders.since_estimated),
        (Some(1200), false)
    );
    assert_eq!(orders.sla, Some(600));
    // is:sla: payments breaches from 1,501 s, orders from 1,801 s.
    m.view.filter = crate::model::filter::Filter::parse("is:sla").unwrap();
    m.recompute_view();
    let shown = |m: &Model| -> Vec<String> {
        m.view
            .rows
            .iter()
            .filter_map(|r| match r {
                crate::tui::model::ViewRow::App(i) => Some(m.fleet.rows[*i].key.name.clone()),
                _ => None,
            })
            .collect()
    };
    assert!(shown(&m).is_empty());
    update(&mut m, &km, Msg::Tick(1_510_000));
    assert_eq!(shown(&m), ["payments"]);
    update(&mut m, &km, Msg::Tick(1_810_000));
    assert_eq!(shown(&m), ["orders", "payments"]);
}

/// The followed log: newest at the bottom while following; pause keeps the view while lines
/// keep coming; scrolling to the bottom follows again; `/` and n/N go through the matches;
/// lines beyond the cap drop off the front; back cancels the stream.
#[test]
fn a_followed_log_pauses_scrolls_searches_and_caps() {
    use crate::tui::model::{LOG_CAP, LogScreen};
    let km = Keymap::default();
    let mut m = model();
    m.size = (80, 24);
    open_app(&mut m, row(0, "payments", "Synced", "Healthy", "prod").key);
    let Screen::App(back) = std::mem::replace(&mut m.screen, Screen::Fleet) else {
        panic!("the app screen")
    };
    m.screen = Screen::Logs(Box::new(LogScreen::new(
        7,
        crate::tui::effect::ClusterTarget {
            cluster: "c".into(),
            server: "s".into(),
            namespace: "shop".into(),
            pods: vec![],
            resources: vec![],
        },
        "pay-1".into(),
        vec!["pay".into(), "log-shipper".into()],
        false,
        back,
    )));
    let page = super::logs::log_page(&m);
    let feed = |m: &mut Model, from: usize, n: usize| {
        update(
            m,
            &km,
            Msg::LogLines {
                req: 7,
                lines: (from..from + n).map(|i| format!("line {i}")).collect(),
            },
        );
    };
    let log = |m: &Model| match &m.screen {
        Screen::Logs(l) => (**l).clone(),
        _ => panic!("not the log screen"),
    };
    feed(&mut m, 0, 100);
    let l = log(&m);
    assert_eq!(
        super::logs::top(&l, page),
        100 - page,
        "newest at the bottom"
    );
    // A stale request's lines are dropped.
    update(
        &mut m,
        &km,
        Msg::LogLines {
            req: 6,
            lines: vec!["old".into()],
        },
    );
    assert_eq!(log(&m).lines.len(), 100);
    // Pause: the view stays while lines come.
    update(&mut m, &km, Msg::Key(Key::parse("space").unwrap()));
    feed(&mut m, 100, 50);
    let l = log(&m);
    assert!(l.paused && !l.follow);
    assert_eq!(super::logs::top(&l, page), 100 - page);
    assert_eq!(l.lines.len(), 150);
    // Resume: following the newest again.
    update(&mut m, &km, Msg::Key(Key::parse("space").unwrap()));
    assert_eq!(super::logs::top(&log(&m), page), 150 - page);
    // Scroll up leaves follow; G follows again.
    update(&mut m, &km, Msg::Key(Key::parse("k").unwrap()));
    assert!(!log(&m).follow);
    update(&mut m, &km, Msg::Key(Key::parse("G").unwrap()));
    assert!(log(&m).follow);
    // Search: the first match from the top shown, then n and N.
    update(&mut m, &km, Msg::Key(Key::parse("/").unwrap()));
    for c in "line 4".chars() {
        let k = if c == ' ' {
            "space".to_string()
        } else {
            c.to_string()
        };
        update(&mut m, &km, Msg::Key(Key::parse(&k).unwrap()));
    }
    update(&mut m, &km, Msg::Key(Key::parse("enter").unwrap()));
    let l = log(&m);
    assert_eq!(l.search.as_deref(), Some("line 4"));
    assert_eq!(l.matches().len(), 11, "line 4 and line 40..49");
    let first = l.at.unwrap();
    assert_eq!(l.lines[first], "line 4", "wrapped round to the first match");
    let t = super::logs::top(&l, page);
    assert!((t..t + page).contains(&first), "the match is on screen");
    update(&mut m, &km, Msg::Key(Key::parse("n").unwrap()));
    assert_eq!(log(&m).lines[log(&m).at.unwrap()], "line 40");
    update(&mut m, &km, Msg::Key(Key::parse("n").unwrap()));
    assert_eq!(log(&m).lines[log(&m).at.unwrap()], "line 41");
    update(&mut m, &km, Msg::Key(Key::parse("N").unwrap()));
    update(&mut m, &km, Msg::Key(Key::parse("N").unwrap()));
    assert_eq!(log(&m).at, Some(first));
    // The cap: the oldest lines drop off the front.
    feed(&mut m, 150, LOG_CAP);
    let l = log(&m);
    assert_eq!(l.lines.len(), LOG_CAP);
    assert_eq!(l.dropped, 150);
    // The next container restarts the stream; back cancels it and returns to the app.
    let fx = update(&mut m, &km, Msg::Key(Key::parse("c").unwrap()));
    assert!(
        fx.iter().any(
            |e| matches!(e, Effect::FollowLogs { container, .. } if container == "log-shipper")
        ),
        "{fx:?}"
    );
    let req = log(&m).req;
    let fx = update(&mut m, &km, Msg::Key(Key::parse("esc").unwrap()));
    assert_eq!(fx, vec![Effect::Cancel(req)]);
    assert!(matches!(m.screen, Screen::App(_)));
}
