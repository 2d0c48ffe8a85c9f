//! Whole-screen snapshots of the TUI at 120×40 and 80×24, through the same `update` and `draw` as
//! the terminal, over the demo fleet with a fixed clock. Plus a few cells' colours checked
//! explicitly.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use crate::common;

use common::*;
use driftdeck::headless::snapshot::{Output, SnapshotOptions, parse_keys, snapshot};
use driftdeck::tui::color::Depth;
use driftdeck::tui::keymap::Keymap;
use driftdeck::tui::theme::Theme;

async fn screen(apps: usize, size: (u16, u16), keys: &str, filter: Option<&str>) -> String {
    screen_of(&demo(apps, 4, 2).await, size, keys, filter).await
}

async fn screen_of(
    fleet: &driftdeck::demo::DemoFleet,
    size: (u16, u16),
    keys: &str,
    filter: Option<&str>,
) -> String {
    screen_in(fleet, size, keys, filter, None).await
}

async fn screen_in(
    fleet: &driftdeck::demo::DemoFleet,
    size: (u16, u16),
    keys: &str,
    filter: Option<&str>,
    data_dir: Option<&std::path::Path>,
) -> String {
    let o = SnapshotOptions {
        output: Output::Text,
        size,
        keys: parse_keys(keys).unwrap(),
        filter: filter.map(str::to_string),
        theme: Theme::default(),
        keymap: Keymap::default(),
        depth: Depth::TrueColor,
        ascii: false,
        low_bandwidth: false,
        title: "driftdeck demo".into(),
        now_ms: Some(NOW * 1000),
        data_dir: data_dir.map(std::path::Path::to_path_buf),
        resize: None,
        fail_on_sla: false,
    };
    let out = snapshot(&fleet.config(), o).await.unwrap().stdout;
    // Loopback ports change from run to run.
    let mut text = out;
    for i in 0..fleet.servers.len() {
        text = text.replace(&fleet.servers[i].addr.port().to_string(), "PORT");
    }
    text
}

macro_rules! snap {
    ($name:ident, $apps:expr, $size:expr, $keys:expr, $filter:expr) => {
        #[tokio::test]
        async fn $name() {
            let s = screen($apps, $size, $keys, $filter).await;
            insta::assert_snapshot!(stringify!($name), s);
        }
    };
}

snap!(fleet_120x40, 60, (120, 40), "", None);
snap!(fleet_80x24, 60, (80, 24), "", None);
snap!(
    fleet_filtered_120x40,
    60,
    (120, 40),
    "",
    Some("status:OutOfSync,Degraded env:prod")
);
snap!(fleet_typing_filter_80x24, 60, (80, 24), "/ p a y", None);
snap!(
    fleet_grouped_by_cluster_120x40,
    60,
    (120, 40),
    "b b j",
    None
);
snap!(
    fleet_sorted_by_health_120x40,
    60,
    (120, 40),
    "o o o o o o",
    None
);
snap!(fleet_facets_120x40, 60, (120, 40), "f j j space", None);
snap!(fleet_help_120x40, 60, (120, 40), "?", None);
snap!(fleet_help_80x24, 60, (80, 24), "?", None);
snap!(fleet_scrolled_80x24, 200, (80, 24), "G k k", None);
snap!(app_resources_120x40, 60, (120, 40), "j j enter", None);
snap!(app_resources_80x24, 60, (80, 24), "j j enter", None);
snap!(app_history_120x40, 60, (120, 40), "j j enter 3", None);
snap!(app_events_80x24, 60, (80, 24), "j j enter 4", None);
snap!(too_small, 60, (50, 10), "", None);
snap!(fleet_100x30, 60, (100, 30), "", None);
snap!(fleet_help_100x30, 60, (100, 30), "?", None);
snap!(fleet_help_end_80x24, 60, (80, 24), "? G", None);
snap!(app_resources_100x30, 60, (100, 30), "j j enter", None);

/// Screens that decide (the queue, the decision tab): decisions are journaled in a temporary
/// folder; the journal's record numbers depend on which decision finished first, so they are
/// masked.
macro_rules! snap_decide {
    ($name:ident, $size:expr, $keys:expr) => {
        #[tokio::test]
        async fn $name() {
            let fleet = demo(60, 4, 2).await;
            let tmp = tempfile::tempdir().unwrap();
            let s = screen_in(&fleet, $size, $keys, None, Some(tmp.path())).await;
            let s = s.replace(&tmp.path().display().to_string(), "DATA");
            insta::assert_snapshot!(stringify!($name), mask_records(&s));
        }
    };
}

/// `record #123` as `record #N`.
fn mask_records(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("record #") {
        out.push_str(&rest[..i + 8]);
        rest = rest[i + 8..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('N');
    }
    out.push_str(rest);
    out
}

snap_decide!(queue_80x24, (80, 24), "u");
snap_decide!(queue_100x30, (100, 30), "u");
snap_decide!(decision_80x24, (80, 24), "u enter");
snap_decide!(decision_100x30, (100, 30), "u enter");
snap_decide!(decision_end_80x24, (80, 24), "u enter G");
snap_decide!(shadow_report_80x24, (80, 24), "u y S");

/// The shadow report wraps its long lines at 80 columns instead of cutting them.
#[tokio::test]
async fn the_shadow_report_is_not_cut_at_80_columns() {
    let fleet = demo(60, 4, 2).await;
    let tmp = tempfile::tempdir().unwrap();
    let s = screen_in(&fleet, (80, 24), "u y S", None, Some(tmp.path())).await;
    assert!(s.contains("too few reviews"), "{s}");
    let body: Vec<&str> = s.lines().skip(1).take(22).collect();
    assert!(body.iter().all(|l| !l.contains('…')), "{s}");
}

#[tokio::test]
async fn app_with_a_condition_120x40() {
    let fleet = demo(60, 4, 2).await;
    // Find an app with a ComparisonError and filter to it, then open it.
    let name = (0..2)
        .flat_map(|i| {
            fleet
                .instance(i)
                .read()
                .apps
                .values()
                .filter(|a| !a.app.status.conditions.is_empty())
                .map(|a| a.app.metadata.name.clone())
                .collect::<Vec<_>>()
        })
        .next()
        .expect("the demo has an app with a condition");
    let s = screen_of(&fleet, (120, 40), "enter 2", Some(&name)).await;
    assert!(s.contains("ComparisonError"), "{s}");
    insta::assert_snapshot!("app_with_a_condition_120x40", s);
}

#[tokio::test]
async fn one_instance_down_shows_why_and_the_rest_is_there() {
    let mut fleet = demo(60, 4, 2).await;
    fleet.servers[1].stop();
    let s = screen_of(&fleet, (120, 40), "", None).await;
    assert!(s.contains("✖ argocd-us down"), "{s}");
    assert!(s.contains("cannot reach"), "{s}");
    assert!(
        s.contains("● argocd-eu") || s.contains("◌ argocd-eu"),
        "{s}"
    );
    assert!(s.contains("30 apps"), "{s}");
    insta::assert_snapshot!("one_instance_down_120x40", s);
}

#[tokio::test]
async fn colours_of_a_few_cells() {
    use driftdeck::tui::app::render;
    use driftdeck::tui::keymap::Key;
    use driftdeck::tui::model::Model;
    use driftdeck::tui::msg::Msg;
    use driftdeck::tui::runtime::{Headless, Instances};
    use driftdeck::tui::update::{init, update};
    let fleet = demo(60, 4, 2).await;
    let cfg = fleet.config();
    let inst = Instances::from_config(&cfg);
    let mut m = Model::new(inst.views.clone(), (120, 40), NOW * 1000);
    let mut rt = Headless {
        inst,
        kube: std::sync::Arc::new(driftdeck::clients::kube::Clusters::load(cfg.kube.as_ref())),
        decide: None,
    };
    let km = Keymap::default();
    let fx = init(&mut m);
    for msg in rt.run(fx).await {
        update(&mut m, &km, msg);
    }
    update(&mut m, &km, Msg::Key(Key::ch('j')));
    let theme = Theme::default();
    let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, 120, 40));
    render(&mut buf, &m, &theme, &km);
    let text = driftdeck::tui::ui::buffer_text(&buf);
    let lines: Vec<&str> = text.lines().collect();
    // The OutOfSync cell is in the theme's colour.
    let (y, line) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("≠ OutOfSync"))
        .unwrap();
    let x = line.chars().position(|c| c == '≠').unwrap() as u16;
    assert_eq!(
        buf[(x, y as u16)].fg,
        theme.style("sync.outofsync").fg.unwrap()
    );
    // The selected row (the second app, cursor moved by `j`) has the selection background.
    let sel_y = 3 + m.view.cursor as u16;
    assert_eq!(buf[(5, sel_y)].bg, theme.style("selection").bg.unwrap());
    assert_ne!(buf[(5, sel_y + 1)].bg, theme.style("selection").bg.unwrap());
    // The header of the sorted column is marked and styled.
    let (hx, _) = lines[2].char_indices().find(|(_, c)| *c == '↑').unwrap();
    let hx = lines[2][..hx].chars().count() as u16;
    assert_eq!(buf[(hx, 2)].fg, theme.style("header.sorted").fg.unwrap());

    // Low bandwidth: the selection is a marker and the name only, so moving it rewrites a few
    // cells; times are shown to the minute.
    m.low_bandwidth = true;
    render(&mut buf, &m, &theme, &km);
    let sel_bg = theme.style("selection").bg.unwrap();
    assert_eq!(buf[(0, sel_y)].symbol(), "▸");
    assert_eq!(buf[(0, sel_y + 1)].symbol(), " ");
    let name = &m.view.selected.as_ref().unwrap().name;
    let sel_line = driftdeck::tui::ui::buffer_text(&buf)
        .lines()
        .nth(sel_y as usize)
        .unwrap()
        .to_string();
    let nx = sel_line[..sel_line.find(name.as_str()).unwrap()]
        .chars()
        .count() as u16;
    assert_eq!(buf[(nx, sel_y)].bg, sel_bg, "the name is highlighted");
    assert_ne!(buf[(119, sel_y)].bg, sel_bg, "the rest of the row is not");
    let text = driftdeck::tui::ui::buffer_text(&buf);
    assert!(
        !text.lines().skip(3).any(|l| {
            l.split_whitespace()
                .any(|w| w.ends_with('s') && w[..w.len() - 1].parse::<u32>().is_ok())
        }),
        "no ages in seconds:\n{text}"
    );
}

snap!(
    diff_unified_120x40,
    60,
    (120, 40),
    "d",
    Some("status:OutOfSync")
);
snap!(
    diff_unified_80x24,
    60,
    (80, 24),
    "j d",
    Some("status:OutOfSync")
);
snap!(
    diff_side_by_side_120x40,
    60,
    (120, 40),
    "d v",
    Some("status:OutOfSync")
);
snap!(
    diff_side_by_side_80x24,
    60,
    (80, 24),
    "j j d v",
    Some("status:OutOfSync")
);
snap!(
    diff_all_resources_120x40,
    60,
    (120, 40),
    "d a",
    Some("status:OutOfSync")
);
snap!(
    diff_resource_folded_120x40,
    60,
    (120, 40),
    "d space",
    Some("status:OutOfSync")
);

/// At 16 colours (`TERM=xterm`), every state on every row, selected or not, stays readable,
/// and good states are green, not grey: parsed from the SGR codes of 16-colour frames of the
/// fleet, an app, the drift queue and a decision, cell by cell.
#[tokio::test]
async fn sixteen_colour_frames_are_readable_cell_by_cell() {
    use driftdeck::tui::color::contrast_16;
    let fleet = demo(60, 4, 2).await;
    let tmp = tempfile::tempdir().unwrap();
    for keys in ["", "j j j", "j j enter", "u", "u j", "u enter"] {
        let o = SnapshotOptions {
            output: Output::Ansi,
            size: (80, 24),
            keys: parse_keys(keys).unwrap(),
            filter: None,
            theme: Theme::default().for_depth(Depth::Ansi16),
            keymap: Keymap::default(),
            depth: Depth::Ansi16,
            ascii: false,
            low_bandwidth: false,
            title: "driftdeck demo".into(),
            now_ms: Some(NOW * 1000),
            data_dir: Some(tmp.path().to_path_buf()),
            resize: None,
            fail_on_sla: false,
        };
        let out = snapshot(&fleet.config(), o).await.unwrap().stdout;
        let rows = ansi_cells(&out);
        let mut selected_rows = 0;
        for (y, row) in rows.iter().enumerate() {
            let text: String = row.iter().map(|c| c.ch.as_str()).collect();
            if row.iter().filter(|c| c.bg == Some(4)).count() > 40 {
                selected_rows += 1;
            }
            for (x, c) in row.iter().enumerate() {
                if c.ch.trim().is_empty() || c.reverse {
                    continue;
                }
                // The terminal's own colours: light text on a dark background.
                let fg = c.fg.unwrap_or(7);
                let bg = c.bg.unwrap_or(0);
                assert!(
                    contrast_16(fg, bg) >= 3.0,
                    "keys {keys:?}: {:?} at ({x}, {y}) is colour {fg} on {bg}: unreadable\n{text}",
                    c.ch
                );
            }
            // Good states are green wherever they show.
            for word in ["Synced", "Healthy"] {
                let mut from = 0;
                while let Some(i) = text[from..].find(word) {
                    let col = text[..from + i].chars().count();
                    let fg = row[col].fg;
                    assert!(
                        matches!(fg, Some(2) | Some(10))
                            || row[col].bg.is_some_and(|b| b == 2 || b == 10),
                        "keys {keys:?}: {word} at ({col}, {y}) is colour {fg:?}, not green\n{text}"
                    );
                    from += i + word.len();
                }
            }
        }
        if keys.contains('j') || keys.is_empty() {
            assert!(selected_rows >= 1, "keys {keys:?}: no selected row:\n{out}");
        }
    }
}

/// `--ascii`: every frame is pure ASCII (hints, arrows, ellipses, boxes, state symbols, and
/// text from data), on every screen and overlay, at 80×24.
#[tokio::test]
async fn ascii_frames_are_pure_ascii() {
    let fleet = demo(60, 4, 2).await;
    let tmp = tempfile::tempdir().unwrap();
    for keys in [
        "",
        "?",
        "? G",
        "f",
        "/ p",
        ": s",
        "j j enter",
        "j j enter 3",
        "j j enter 4",
        "j j enter d",
        "j j enter d v",
        "j j s",
        "u",
        "u enter",
        "u enter G",
        "S",
    ] {
        let o = SnapshotOptions {
            output: Output::Text,
            size: (80, 24),
            keys: parse_keys(keys).unwrap(),
            filter: None,
            theme: Theme::default(),
            keymap: Keymap::default(),
            depth: Depth::TrueColor,
            ascii: true,
            low_bandwidth: false,
            title: "driftdeck demo".into(),
            now_ms: Some(NOW * 1000),
            data_dir: Some(tmp.path().to_path_buf()),
            resize: None,
            fail_on_sla: false,
        };
        let out = snapshot(&fleet.config(), o).await.unwrap().stdout;
        let bad: Vec<(usize, char)> = out
            .lines()
            .enumerate()
            .flat_map(|(y, l)| l.chars().filter(|c| !c.is_ascii()).map(move |c| (y, c)))
            .collect();
        assert!(bad.is_empty(), "keys {keys:?}: not ASCII {bad:?}\n{out}");
        assert!(out.lines().all(|l| l.len() == 80), "keys {keys:?}:\n{out}");
    }
}

/// At 80 and 100 columns the summary keeps every count: what is wrong first with its words,
/// what is good last as symbol and count, nothing cut.
#[tokio::test]
async fn the_summary_keeps_every_count_at_80_and_100_columns() {
    for apps in [60, 200, 1000] {
        let fleet = demo(apps, 4, 2).await;
        for w in [80, 100, 120] {
            let s = screen_of(&fleet, (w, 24), "", None).await;
            let top = s.lines().next().unwrap().trim_end();
            assert!(top.contains("OutOfSync"), "{apps} apps at {w}: {top}");
            assert!(top.contains("attention") || top.contains('!'), "{top}");
            for good in ['✓', '♥'] {
                let i = top
                    .find(good)
                    .unwrap_or_else(|| panic!("{good} missing: {top}"));
                let n: String = top[i + good.len_utf8()..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == ',')
                    .collect();
                assert!(
                    !n.is_empty(),
                    "{apps} apps at {w}: {good} has no count: {top}"
                );
            }
            assert!(
                top.ends_with(|c: char| c.is_ascii_digit()) || top.ends_with("attention"),
                "{apps} apps at {w}: cut: {top}"
            );
            println!("{w}: {top}");
        }
    }
}

/// The Rollouts panel of an app deployed by an Argo Rollouts canary: strategy, step, weight,
/// pause, stable and canary ReplicaSets with their images, the AnalysisRun.
#[tokio::test]
async fn app_with_a_rollout_120x40_and_80x24() {
    let fleet = demo(140, 4, 2).await;
    let name = (0..2)
        .flat_map(|i| {
            fleet
                .instance(i)
                .read()
                .apps
                .values()
                .filter(|a| a.w.canary.as_ref().is_some_and(|c| c.step(NOW).1))
                .map(|a| a.app.metadata.name.clone())
                .collect::<Vec<_>>()
        })
        .min()
        .expect("the demo has a canary waiting for promotion");
    let s = screen_of(&fleet, (120, 40), "enter", Some(&name)).await;
    for want in [
        "Rollout ",
        "step 3/5",
        "weight 50%",
        "until promoted",
        "stable ",
        "canary ",
        "analysis ",
        "Running",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
    insta::assert_snapshot!("app_with_a_rollout_120x40", s);
    let s = screen_of(&fleet, (80, 24), "enter", Some(&name)).await;
    insta::assert_snapshot!("app_with_a_rollout_80x24", s);
}

snap!(appsets_120x40, 60, (120, 40), ": a p p s e t s enter", None);
snap!(appsets_80x24, 60, (80, 24), ": a p p s e t s enter", None);
snap!(
    versions_120x40,
    60,
    (120, 40),
    ": v e r s i o n s enter",
    None
);
snap!(
    versions_80x24,
    60,
    (80, 24),
    ": v e r s i o n s enter",
    None
);

snap!(dora_120x40, 60, (120, 40), ": d o r a enter", None);
snap!(dora_80x24, 60, (80, 24), ": d o r a enter", None);

/// `:dora`, then enter: the fleet narrowed to the project's apps on its instance.
#[tokio::test]
async fn enter_on_a_dora_row_narrows_the_fleet_to_the_project() {
    let fleet = demo(60, 4, 2).await;
    let s = screen_of(&fleet, (120, 40), ": d o r a enter j enter", None).await;
    assert!(
        s.contains("instance:argocd-eu") && s.contains("project:commerce"),
        "{s}"
    );
}

/// `:appsets`, then enter: the fleet narrowed to the set's apps, through the appset facet.
#[tokio::test]
async fn enter_on_an_appset_narrows_the_fleet_to_its_apps() {
    let fleet = demo(60, 4, 2).await;
    let s = screen_of(&fleet, (120, 40), ": a p p s e t s enter j enter", None).await;
    assert!(s.contains("appset:storefront"), "{s}");
    let names: Vec<&str> = s
        .lines()
        .filter(|l| l.starts_with(" argocd-"))
        .filter(|l| l.contains("OutOfSync") || l.contains("Synced"))
        .collect();
    assert!(!names.is_empty(), "{s}");
    assert!(names.iter().all(|l| l.contains("storefront-")), "{s}");
}

/// An app of apps: its child Applications show their own sync and health, enter opens one
/// and back returns to the parent.
#[tokio::test]
async fn an_app_of_apps_opens_its_children_and_comes_back() {
    let fleet = demo(60, 4, 2).await;
    let s = screen_of(&fleet, (120, 30), "enter", Some("bootstrap")).await;
    assert!(s.contains("ApplicationSet/cluster-addons"), "{s}");
    let child_line = s
        .lines()
        .find(|l| l.contains(" Application/"))
        .expect("a child Application");
    assert!(
        child_line.contains("app ✓ Synced") || child_line.contains("app ≠"),
        "{s}"
    );
    let child = child_line
        .split("Application/")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let s = screen_of(&fleet, (120, 30), "enter enter", Some("bootstrap")).await;
    assert!(s.lines().next().unwrap().contains(&child), "{s}");
    let s = screen_of(&fleet, (120, 30), "enter enter esc", Some("bootstrap")).await;
    assert!(s.lines().next().unwrap().contains("bootstrap"), "{s}");
}

/// The operation view (History tab): a sync stopped by its failing PreSync migration shows
/// the hook Job failed and nothing applied after it.
#[tokio::test]
async fn a_failed_presync_migration_in_the_operation_view() {
    let fleet = demo(60, 4, 2).await;
    let name = {
        let st = fleet.instance(0).read();
        st.apps
            .values()
            .filter(|a| driftdeck::demo::resources::has_migration_hook(&a.w))
            .map(|a| a.app.metadata.name.clone())
            .min()
            .expect("an app with a migration hook")
    };
    fleet.instance(0).modify(&name, |a| {
        a.w.migration_fails = true;
        let mut rng = driftdeck::util::Rng::new(5);
        driftdeck::demo::drift::start_operation(a, NOW - 120, false, &mut rng);
        driftdeck::demo::drift::resolve_hooks(a, NOW - 60);
    });
    let s = screen_of(&fleet, (120, 40), "enter 3", Some(&name)).await;
    for want in [
        "Operation ✖ Failed",
        "PreSync: Job/",
        "-migrate failed: Job has reached the specified backoff limit",
        "hook Failed",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
    insta::assert_snapshot!("a_failed_presync_migration_120x40", s);
}
