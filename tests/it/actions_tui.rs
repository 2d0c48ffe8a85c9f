//! The TUI's action flows through the pure `update`: keys open a dialog that waits for the
//! prepared plan, options and confirmations (prune on its own step, a protected app's typed
//! name, a blocked window, read-only), then the confirmed action as an effect, its progress,
//! the offer to restore auto-sync after a rollback, and deferrals ended when due.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use driftdeck::actions::sync::{Change, PlanItem, SyncPlan, SyncSpec};
use driftdeck::actions::{Target, WindowInfo};
use driftdeck::clients::argocd::watch::FleetUpdate;
use driftdeck::model::app::Application;
use driftdeck::model::fleet::{AppKey, AppRow};
use driftdeck::tui::effect::Effect;
use driftdeck::tui::keymap::{Key, Keymap};
use driftdeck::tui::model::{ConnState, InstanceView, Model, Overlay};
use driftdeck::tui::msg::Msg;
use driftdeck::tui::ops::{Act, DialogKind, Prepare, Prepared, Then};
use driftdeck::tui::update::update;

const NOW_MS: i64 = 1_795_000_000_000;

fn row(name: &str, deferred_until: Option<&str>) -> AppRow {
    let mut a = Application::default();
    a.metadata.name = name.into();
    a.metadata.namespace = "argocd".into();
    a.status.sync.status = "OutOfSync".into();
    a.status.health.status = "Healthy".into();
    a.spec.destination.name = "prod-eu-west-1-1".into();
    a.spec.project = "shop".into();
    if let Some(t) = deferred_until {
        a.metadata
            .annotations
            .insert("driftdeck.io/deferred-until".into(), t.into());
    }
    AppRow::from_app(0, &a)
}

fn model(rows: Vec<AppRow>) -> (Model, Keymap) {
    let km = Keymap::default();
    let mut m = Model::new(
        vec![InstanceView {
            name: "eu".into(),
            url: "https://eu".into(),
            state: ConnState::Connecting { attempt: 0 },
            version: None,
            listed: false,
            insecure: false,
            read_only: false,
        }],
        (120, 40),
        NOW_MS,
    );
    update(
        &mut m,
        &km,
        Msg::Fleet(
            0,
            FleetUpdate::Listed {
                rows,
                resource_version: "1".into(),
                version: None,
            },
        ),
    );
    (m, km)
}

fn keys(m: &mut Model, km: &Keymap, ks: &str) -> Vec<Effect> {
    let mut fx = Vec::new();
    for k in ks.split_whitespace() {
        fx.extend(update(m, km, Msg::Key(Key::parse(k).unwrap())));
    }
    fx
}

fn key(name: &str) -> AppKey {
    AppKey {
        instance: 0,
        namespace: "argocd".into(),
        name: name.into(),
    }
}

fn item(kind: &str, name: &str, change: Change) -> PlanItem {
    PlanItem {
        group: String::new(),
        kind: kind.into(),
        namespace: "shop".into(),
        name: name.into(),
        change,
    }
}

fn plan(name: &str, protected: bool, can_sync: bool) -> SyncPlan {
    SyncPlan {
        target: Target {
            instance: "eu".into(),
            name: name.into(),
            app_namespace: "argocd".into(),
        },
        project: "shop".into(),
        cluster: "prod-eu-west-1-1".into(),
        changes: vec![item("ConfigMap", "checkout-config", Change::Update)],
        prunable: vec![item("ConfigMap", "checkout-legacy", Change::Prune)],
        window: WindowInfo {
            can_sync_manual: can_sync,
            can_sync_auto: can_sync,
            active: if can_sync {
                vec![]
            } else {
                vec!["deny `0 22 * * *` for 8h".into()]
            },
            error: None,
        },
        running: None,
        auto_sync: false,
        protected,
        revision: "abc".into(),
        spec: SyncSpec::default(),
        holds: vec![],
    }
}

/// Presses `s` on the selected app and answers the Prepare effect with `p`.
fn open_sync(m: &mut Model, km: &Keymap, p: SyncPlan) {
    let fx = keys(m, km, "s");
    let Some(Effect::Prepare { req, what }) = fx.first().cloned() else {
        panic!("{fx:?}")
    };
    assert_eq!(what, Prepare::Sync(vec![key(&p.target.name)]));
    assert!(matches!(&m.overlay, Overlay::Dialog(d) if d.kind == DialogKind::Loading));
    update(
        m,
        km,
        Msg::Prepared {
            req,
            result: Ok(Prepared::Sync(vec![(key(&p.target.name), Ok(p))])),
        },
    );
}

fn dialog_text(m: &Model) -> String {
    match &m.overlay {
        Overlay::Dialog(d) => d.lines.join("\n") + "\n" + d.error.as_deref().unwrap_or(""),
        o => panic!("no dialog: {o:?}"),
    }
}

#[test]
fn a_prune_needs_its_own_confirmation() {
    let (mut m, km) = model(vec![row("checkout", None)]);
    open_sync(&mut m, &km, plan("checkout", false, true));
    let t = dialog_text(&m);
    // One of each, in the singular.
    assert!(
        t.contains("1 resource needs pruning and is left alone"),
        "{t}"
    );
    assert!(t.contains("1 resource changes:"), "{t}");
    assert!(t.contains("sync windows: no sync window is active"), "{t}");
    // Prune is the first field, off by default.
    keys(&mut m, &km, "space");
    assert!(dialog_text(&m).contains("DELETED (prune)"));
    assert!(
        keys(&mut m, &km, "enter").is_empty(),
        "the prune step comes first"
    );
    assert!(dialog_text(&m).contains("PRUNE: these live resources will be DELETED"));
    assert!(dialog_text(&m).contains("checkout-legacy"));
    keys(&mut m, &km, "esc");
    assert!(
        !dialog_text(&m).starts_with("PRUNE"),
        "esc goes back to the plan"
    );
    keys(&mut m, &km, "enter");
    let fx = keys(&mut m, &km, "enter");
    let [
        Effect::Act {
            act: Act::Sync { key: k, plan },
            ..
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    assert_eq!(k, &key("checkout"));
    assert!(plan.spec.prune);
    assert!(matches!(m.overlay, Overlay::None));
    assert_eq!(m.ops.len(), 1);
}

#[test]
fn options_and_resource_selection_shape_the_request() {
    let (mut m, km) = model(vec![row("checkout", None)]);
    open_sync(&mut m, &km, plan("checkout", false, true));
    // Fields: prune, dry run, force, apply only, 5 sync options, then the 2 resources.
    keys(&mut m, &km, "tab space tab tab space tab space");
    keys(&mut m, &km, "tab tab tab tab tab space");
    let fx = keys(&mut m, &km, "enter");
    let [
        Effect::Act {
            act: Act::Sync { plan, .. },
            ..
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    assert!(plan.spec.dry_run && plan.spec.apply_only && !plan.spec.prune);
    assert_eq!(plan.spec.options, vec!["ServerSideApply=true".to_string()]);
    // The ConfigMap update was unticked: only the prunable one is named.
    assert_eq!(plan.spec.resources.len(), 1);
    assert_eq!(plan.spec.resources[0].name, "checkout-legacy");
    let req = plan.request();
    assert!(req.dry_run);
    assert!(req.strategy.unwrap().apply.is_some());
}

#[test]
fn a_protected_app_wants_its_name_typed() {
    let (mut m, km) = model(vec![row("payments", None)]);
    open_sync(&mut m, &km, plan("payments", true, true));
    assert!(keys(&mut m, &km, "enter").is_empty());
    let Overlay::Dialog(d) = &m.overlay else {
        panic!()
    };
    assert!(
        d.error
            .as_deref()
            .unwrap()
            .contains("payments is protected")
    );
    keys(&mut m, &km, "p a y m e n t");
    assert!(
        keys(&mut m, &km, "enter").is_empty(),
        "a wrong name is refused"
    );
    keys(&mut m, &km, "s");
    let fx = keys(&mut m, &km, "enter");
    assert!(matches!(fx.as_slice(), [Effect::Act { .. }]), "{fx:?}");
}

#[test]
fn a_blocked_window_is_explained_and_nothing_starts() {
    let (mut m, km) = model(vec![row("checkout", None)]);
    open_sync(&mut m, &km, plan("checkout", false, false));
    let t = dialog_text(&m);
    assert!(
        t.contains("BLOCKED") && t.contains("deny `0 22 * * *`"),
        "{t}"
    );
    assert!(keys(&mut m, &km, "enter").is_empty());
    let Overlay::Dialog(d) = &m.overlay else {
        panic!()
    };
    assert!(d.error.as_deref().unwrap().contains("blocked"));
}

#[test]
fn read_only_offers_no_action() {
    let (mut m, km) = model(vec![row("checkout", None)]);
    m.read_only = true;
    for k in ["s", "r", "X", "z", "i"] {
        assert!(keys(&mut m, &km, k).is_empty(), "{k}");
        assert!(matches!(m.overlay, Overlay::None));
        assert!(m.flash.as_ref().unwrap().text.contains("read-only"));
    }
    let (mut m, km) = model(vec![row("checkout", None)]);
    m.instances[0].read_only = true;
    assert!(keys(&mut m, &km, "s").is_empty());
    assert!(m.flash.as_ref().unwrap().text.contains("eu is read-only"));
}

#[test]
fn marked_apps_sync_together() {
    let (mut m, km) = model(vec![row("a", None), row("b", None), row("c", None)]);
    keys(&mut m, &km, "space space");
    assert_eq!(m.marked.len(), 2);
    let fx = keys(&mut m, &km, "s");
    let [
        Effect::Prepare {
            what: Prepare::Sync(ks),
            ..
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    assert_eq!(ks.len(), 2);
    let fx = keys(&mut m, &km, "esc r");
    assert_eq!(
        fx.iter()
            .filter(|e| matches!(
                e,
                Effect::Act {
                    act: Act::Refresh { .. },
                    ..
                }
            ))
            .count(),
        2
    );
}

/// `z` on the selected app, and the defer dialog its plan opens.
fn open_defer(m: &mut Model, km: &Keymap) {
    let fx = keys(m, km, "z");
    let [Effect::Prepare { req, what }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    update(
        m,
        km,
        Msg::Prepared {
            req: *req,
            result: Ok(Prepared::Simple {
                prepare: what.clone(),
                lines: vec!["defer the revert".into()],
                protected: false,
            }),
        },
    );
}

/// Annotating a protected app asks for its name, as every other action does (the headless
/// `annotate` wants `--confirm NAME`).
#[test]
fn annotating_a_protected_app_wants_its_name_typed() {
    let (mut m, km) = model(vec![row("payments", None)]);
    let fx = keys(&mut m, &km, "i");
    let [Effect::Prepare { req, what }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    update(
        &mut m,
        &km,
        Msg::Prepared {
            req: *req,
            result: Ok(Prepared::Simple {
                prepare: what.clone(),
                lines: vec!["annotate payments".into()],
                protected: true,
            }),
        },
    );
    keys(&mut m, &km, "I N C - 1");
    assert!(keys(&mut m, &km, "enter").is_empty(), "no name typed");
    let Overlay::Dialog(d) = &m.overlay else {
        panic!()
    };
    assert!(
        d.error
            .as_deref()
            .is_some_and(|e| e.contains("payments is protected")),
        "{:?}",
        d.error
    );
}

#[test]
fn defer_wants_a_reason_and_a_time() {
    let (mut m, km) = model(vec![row("checkout", None)]);
    open_defer(&mut m, &km);
    assert!(keys(&mut m, &km, "enter").is_empty());
    let Overlay::Dialog(d) = &m.overlay else {
        panic!()
    };
    assert!(d.error.as_deref().unwrap().contains("needs a reason"));
    keys(&mut m, &km, "l o a d space t e s t");
    let fx = keys(&mut m, &km, "enter");
    let [
        Effect::Act {
            act: Act::Defer { until, reason, .. },
            ..
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    assert_eq!(reason, "load test");
    assert_eq!(
        until.timestamp_millis(),
        NOW_MS + 3_600_000,
        "default: in an hour"
    );
}

/// The defer dialog takes durations and clock times as well as RFC 3339, and a time it cannot
/// read gets a sentence that lists the forms.
#[test]
fn the_defer_dialog_takes_durations() {
    let open = || {
        let (mut m, km) = model(vec![row("checkout", None)]);
        open_defer(&mut m, &km);
        keys(
            &mut m,
            &km,
            "r e l e a s e space f r e e z e shift-tab ctrl-u",
        );
        (m, km)
    };
    for (typed, ms) in [
        ("2 h", 2 * 3_600_000),
        ("3 0 m", 30 * 60_000),
        ("1 h 3 0 m", 90 * 60_000),
    ] {
        let (mut m, km) = open();
        keys(&mut m, &km, typed);
        let fx = keys(&mut m, &km, "enter");
        let [
            Effect::Act {
                act: Act::Defer { until, reason, .. },
                ..
            },
        ] = fx.as_slice()
        else {
            panic!("{typed}: {fx:?} {:?}", m.overlay)
        };
        assert_eq!(reason, "release freeze");
        assert_eq!(until.timestamp_millis(), NOW_MS + ms, "{typed}");
    }
    let (mut m, km) = open();
    keys(&mut m, &km, "s o o n");
    assert!(keys(&mut m, &km, "enter").is_empty());
    let Overlay::Dialog(d) = &m.overlay else {
        panic!()
    };
    let e = d.error.as_deref().unwrap();
    assert!(e.contains("2h") && e.contains("RFC 3339"), "{e}");
    let label = &d.fields[0].label;
    assert!(
        label.contains("2h") && label.contains("RFC 3339"),
        "{label}"
    );
}

#[test]
fn rollback_progress_then_the_offer_to_restore_auto_sync() {
    let (mut m, km) = model(vec![row("checkout", None)]);
    m.ops.push(driftdeck::tui::ops::OpView {
        id: 77,
        key: key("checkout"),
        verb: "rollback",
        progress: "starting".into(),
        done: None,
        ended_ms: 0,
    });
    update(
        &mut m,
        &km,
        Msg::ActProgress {
            op: 77,
            text: "done pause auto-sync".into(),
        },
    );
    assert_eq!(m.ops[0].progress, "done pause auto-sync");
    update(
        &mut m,
        &km,
        Msg::ActDone {
            op: 77,
            result: Ok("rolled back to #3".into()),
            then: Some(Then::OfferRestore(key("checkout"))),
        },
    );
    assert!(dialog_text(&m).contains("Auto-sync is paused"));
    let fx = keys(&mut m, &km, "enter");
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Act {
                act: Act::RestoreAutoSync { .. },
                ..
            }]
        ),
        "{fx:?}"
    );
    // Finished operations leave the screen after a while.
    update(&mut m, &km, Msg::Tick(NOW_MS + 60_000));
    assert!(m.ops.iter().all(|o| o.done.is_none()));
}

#[test]
fn a_due_deferral_is_ended_once() {
    let (mut m, km) = model(vec![
        row("due", Some("2026-11-18T11:00:00Z")),
        row("later", Some("2026-11-18T13:00:00Z")),
    ]);
    let fx = update(&mut m, &km, Msg::Tick(NOW_MS + 1000));
    assert!(
        matches!(fx.as_slice(), [Effect::Act { act: Act::RestoreDeferral { key: k }, .. }] if k.name == "due"),
        "{fx:?}"
    );
    assert!(
        update(&mut m, &km, Msg::Tick(NOW_MS + 2000)).is_empty(),
        "asked once"
    );
}

#[test]
fn c_narrows_the_fleet_to_one_instance_at_a_time_then_all() {
    let km = Keymap::default();
    let view = |n: &str| InstanceView {
        name: n.into(),
        url: format!("https://{n}"),
        state: ConnState::Connecting { attempt: 0 },
        version: None,
        listed: false,
        insecure: false,
        read_only: false,
    };
    let mut m = Model::new(vec![view("eu"), view("us")], (120, 40), NOW_MS);
    for (id, names) in [(0u16, ["a", "b"]), (1u16, ["a", "c"])] {
        let rows = names
            .iter()
            .map(|n| {
                let mut r = row(n, None);
                r.key.instance = id;
                r
            })
            .collect();
        update(
            &mut m,
            &km,
            Msg::Fleet(
                id,
                FleetUpdate::Listed {
                    rows,
                    resource_version: "1".into(),
                    version: None,
                },
            ),
        );
    }
    assert_eq!(m.view.matched, 4);
    keys(&mut m, &km, "c");
    assert_eq!(m.view.matched, 2);
    assert!(m.flash.as_ref().unwrap().text.contains("instance eu only"));
    keys(&mut m, &km, "c");
    assert_eq!(m.view.matched, 2);
    assert!(m.flash.as_ref().unwrap().text.contains("instance us only"));
    // The same app name on both instances stays two apps; the one selected is us's.
    assert_eq!(m.view.selected.as_ref().unwrap().instance, 1);
    keys(&mut m, &km, "c");
    assert_eq!(m.view.matched, 4);
}

fn row_in(instance: u16, name: &str) -> AppRow {
    let mut r = row(name, None);
    r.key.instance = instance;
    r
}

/// The target of an action is the app on the row it was started from — its instance, its
/// namespace, its name — whatever happens to the fleet in between: a re-sort, new apps above
/// it, its instance dropping and relisting, an app of the same name on another instance.
#[test]
fn an_action_goes_to_the_row_it_was_started_on_while_the_fleet_moves() {
    let km = Keymap::default();
    let view = |n: &str| InstanceView {
        name: n.into(),
        url: format!("https://{n}"),
        state: ConnState::Connecting { attempt: 0 },
        version: None,
        listed: false,
        insecure: false,
        read_only: false,
    };
    let mut m = Model::new(vec![view("eu"), view("us")], (120, 40), NOW_MS);
    let listed = |rows: Vec<AppRow>| FleetUpdate::Listed {
        rows,
        resource_version: "1".into(),
        version: None,
    };
    update(
        &mut m,
        &km,
        Msg::Fleet(
            0,
            listed(vec![
                row_in(0, "alpha"),
                row_in(0, "checkout"),
                row_in(0, "zeta"),
            ]),
        ),
    );
    update(
        &mut m,
        &km,
        Msg::Fleet(1, listed(vec![row_in(1, "checkout")])),
    );
    // Put the cursor on eu/checkout.
    while m
        .view
        .selected
        .as_ref()
        .map(|k| (k.instance, k.name.as_str()))
        != Some((0, "checkout"))
    {
        keys(&mut m, &km, "j");
    }
    let cursor_before = m.view.cursor;
    let fx = keys(&mut m, &km, "s");
    let Some(Effect::Prepare { req, what }) = fx.first().cloned() else {
        panic!("{fx:?}")
    };
    assert_eq!(what, Prepare::Sync(vec![key("checkout")]));
    // Meanwhile: eu drops, reconnects and relists with new apps sorting above checkout; us
    // changes its own checkout.
    update(
        &mut m,
        &km,
        Msg::Fleet(
            0,
            FleetUpdate::Down {
                error: driftdeck::clients::argocd::ArgoError::Stream {
                    server: "eu".into(),
                    detail: "stream broke".into(),
                },
                retry_in: std::time::Duration::from_millis(100),
            },
        ),
    );
    update(
        &mut m,
        &km,
        Msg::Fleet(0, FleetUpdate::Connecting { attempt: 1 }),
    );
    update(
        &mut m,
        &km,
        Msg::Fleet(
            0,
            listed(vec![
                row_in(0, "aaa"),
                row_in(0, "aab"),
                row_in(0, "alpha"),
                row_in(0, "checkout"),
                row_in(0, "zeta"),
            ]),
        ),
    );
    update(
        &mut m,
        &km,
        Msg::Fleet(
            1,
            FleetUpdate::Changed {
                upserts: vec![row_in(1, "checkout")],
                deletes: vec![],
            },
        ),
    );
    assert_ne!(
        m.view.cursor, cursor_before,
        "the rows moved under the dialog"
    );
    // The plan arrives for the request; more changes; then the confirmation.
    update(
        &mut m,
        &km,
        Msg::Prepared {
            req,
            result: Ok(Prepared::Sync(vec![(
                key("checkout"),
                Ok(plan("checkout", false, true)),
            )])),
        },
    );
    update(&mut m, &km, Msg::Fleet(0, FleetUpdate::Live));
    let fx = keys(&mut m, &km, "enter");
    let [
        Effect::Act {
            act: Act::Sync { key: k, plan },
            ..
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    assert_eq!(
        k,
        &key("checkout"),
        "eu's checkout, not us's, not the row now under the cursor"
    );
    assert_eq!(k.instance, 0);
    assert_eq!(plan.target.instance, "eu");
    assert_eq!(plan.target.name, "checkout");
}

/// What an operator just did (an incident annotation, a deferral, a rollback) is context for
/// the next decision: when it ends, the app is decided again; a refresh changes nothing.
#[test]
fn an_action_that_changes_context_asks_for_a_new_decision() {
    for (verb, again) in [
        ("annotate", true),
        ("defer", true),
        ("rollback", true),
        ("end deferral", true),
        ("refresh", false),
    ] {
        let (mut m, km) = model(vec![row("checkout", None)]);
        m.ops.push(driftdeck::tui::ops::OpView {
            id: 5,
            key: key("checkout"),
            verb,
            progress: "starting".into(),
            done: None,
            ended_ms: 0,
        });
        let fx = update(
            &mut m,
            &km,
            Msg::ActDone {
                op: 5,
                result: Ok("done".into()),
                then: None,
            },
        );
        let decides = fx
            .iter()
            .any(|e| matches!(e, Effect::Decide { key: k, .. } if k.name == "checkout"));
        assert_eq!(decides, again, "{verb}: {fx:?}");
    }
}

// ---- the `:` command line (k9s and argonaut habits) ----

fn two_instances() -> (Model, Keymap) {
    let km = Keymap::default();
    let view = |n: &str| InstanceView {
        name: n.into(),
        url: format!("https://{n}"),
        state: ConnState::Connecting { attempt: 0 },
        version: None,
        listed: false,
        insecure: false,
        read_only: false,
    };
    let mut m = Model::new(vec![view("eu"), view("us")], (120, 40), NOW_MS);
    for (id, rows) in [
        (
            0u16,
            vec![
                ("checkout", "prod-eu-1", "shop"),
                ("search", "dev-eu-1", "find"),
            ],
        ),
        (1u16, vec![("billing", "prod-us-1", "money")]),
    ] {
        let rows = rows
            .into_iter()
            .map(|(n, c, p)| {
                let mut a = Application::default();
                a.metadata.name = n.into();
                a.status.sync.status = "OutOfSync".into();
                a.status.health.status = "Healthy".into();
                a.spec.destination.name = c.into();
                a.spec.destination.namespace = format!("{n}-ns");
                a.spec.project = p.into();
                AppRow::from_app(id, &a)
            })
            .collect();
        update(
            &mut m,
            &km,
            Msg::Fleet(
                id,
                FleetUpdate::Listed {
                    rows,
                    resource_version: "1".into(),
                    version: None,
                },
            ),
        );
    }
    (m, km)
}

/// Types a command line: `text` as characters (a space is a space), then enter.
fn command(m: &mut Model, km: &Keymap, text: &str) -> Vec<Effect> {
    let mut fx = keys(m, km, ":");
    for c in text.chars() {
        fx.extend(update(m, km, Msg::Key(Key::ch(c))));
    }
    fx.extend(keys(m, km, "enter"));
    fx
}

fn visible(m: &Model) -> Vec<String> {
    m.view
        .rows
        .iter()
        .filter_map(|r| match r {
            driftdeck::tui::model::ViewRow::App(i) => Some(m.fleet.rows[*i].key.name.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_command_line_narrows_the_fleet_like_k9s() {
    let (mut m, km) = two_instances();
    command(&mut m, &km, "ctx us");
    assert!(m.command.is_none(), "enter runs and closes it");
    assert_eq!(visible(&m), ["billing"]);
    command(&mut m, &km, "ctx");
    assert_eq!(visible(&m).len(), 3, ":ctx alone: every instance");
    command(&mut m, &km, "cluster prod-eu-1");
    assert_eq!(visible(&m), ["checkout"]);
    command(&mut m, &km, "cluster");
    command(&mut m, &km, "project money");
    assert_eq!(visible(&m), ["billing"]);
    command(&mut m, &km, "project");
    command(&mut m, &km, "ns search-ns");
    assert_eq!(visible(&m), ["search"]);
    command(&mut m, &km, "ns");
    // A value no app has: said on the line, which stays open; nothing changes.
    command(&mut m, &km, "cluster nowhere");
    let cl = m.command.as_ref().expect("still open");
    assert!(
        cl.input
            .error
            .as_deref()
            .unwrap()
            .contains("no app has cluster `nowhere`"),
        "{cl:?}"
    );
    assert_eq!(visible(&m).len(), 3);
    keys(&mut m, &km, "esc");
    assert!(m.command.is_none(), "esc closes");
    // Unknown commands say so.
    command(&mut m, &km, "frobnicate");
    assert!(
        m.command
            .as_ref()
            .unwrap()
            .input
            .error
            .as_deref()
            .unwrap()
            .contains("unknown command `:frobnicate`")
    );
    keys(&mut m, &km, "esc");
    // Screens and quitting.
    let fx = command(&mut m, &km, "queue");
    assert!(
        matches!(m.screen, driftdeck::tui::model::Screen::Queue(_)),
        "{fx:?}"
    );
    command(&mut m, &km, "shadow");
    assert!(matches!(m.screen, driftdeck::tui::model::Screen::Shadow(_)));
    command(&mut m, &km, "app checkout");
    assert!(matches!(&m.screen, driftdeck::tui::model::Screen::App(s) if s.key.name == "checkout"));
    let fx = command(&mut m, &km, "theme light");
    assert_eq!(fx, vec![Effect::Theme("light".into())]);
    let fx = command(&mut m, &km, "q");
    assert!(fx.contains(&Effect::Quit) && m.quit);
}

#[test]
fn tab_completes_commands_and_their_arguments() {
    let (mut m, km) = two_instances();
    keys(&mut m, &km, ":");
    for c in "clu".chars() {
        update(&mut m, &km, Msg::Key(Key::ch(c)));
    }
    keys(&mut m, &km, "tab");
    assert_eq!(m.command.as_ref().unwrap().input.text, "cluster ");
    keys(&mut m, &km, "tab");
    // Several clusters: the common part adds nothing, so tab takes them in turn.
    let first = m.command.as_ref().unwrap().input.text.clone();
    keys(&mut m, &km, "tab");
    let second = m.command.as_ref().unwrap().input.text.clone();
    assert!(first.starts_with("cluster ") && second.starts_with("cluster "));
    assert_ne!(first, second);
    keys(&mut m, &km, "ctrl-u");
    for c in "ctx u".chars() {
        update(&mut m, &km, Msg::Key(Key::ch(c)));
    }
    keys(&mut m, &km, "tab");
    assert_eq!(m.command.as_ref().unwrap().input.text, "ctx us");
    keys(&mut m, &km, "enter");
    assert_eq!(visible(&m), ["billing"]);
}

/// `:sync⏎` opens the same plan dialog as `s`, and the Enter that ended the command line
/// confirms nothing: the dialog waits for its plan, and a production (protected) app wants its
/// name typed, whatever Enter is pressed after.
#[test]
fn sync_from_the_command_line_never_confirms_with_its_enter() {
    let (mut m, km) = model(vec![row("payments", None)]);
    let fx = command(&mut m, &km, "sync");
    let Some(Effect::Prepare { req, what }) = fx.first().cloned() else {
        panic!("{fx:?}")
    };
    assert_eq!(what, Prepare::Sync(vec![key("payments")]));
    assert!(matches!(&m.overlay, Overlay::Dialog(d) if d.kind == DialogKind::Loading));
    // A second Enter while the plan loads does nothing.
    assert!(keys(&mut m, &km, "enter").is_empty());
    update(
        &mut m,
        &km,
        Msg::Prepared {
            req,
            result: Ok(Prepared::Sync(vec![(
                key("payments"),
                Ok(plan("payments", true, true)),
            )])),
        },
    );
    // Enter on a production app's plan: refused until its name is typed.
    for _ in 0..3 {
        assert!(keys(&mut m, &km, "enter").is_empty());
    }
    assert!(
        matches!(&m.overlay, Overlay::Dialog(d) if d.error.as_deref().is_some_and(|e| e.contains("payments is protected")))
    );
    keys(&mut m, &km, "p a y m e n t s");
    let fx = keys(&mut m, &km, "enter");
    assert!(matches!(fx.as_slice(), [Effect::Act { .. }]), "{fx:?}");
    // `:sync` with nothing selected says so.
    let (mut empty, km) = model(vec![]);
    command(&mut empty, &km, "sync");
    assert!(
        empty
            .command
            .as_ref()
            .unwrap()
            .input
            .error
            .as_deref()
            .unwrap()
            .contains("select one first")
    );
}

/// At 80×24 the sync plan folds: what the sync goes over (a deferral, a rollback) still shows,
/// and the "more lines" marker does not leave the text of the line it replaced beside it.
#[test]
fn a_folded_plan_keeps_its_warnings_and_a_clean_marker() {
    let (mut m, km) = model(vec![row("checkout", None)]);
    m.size = (80, 24);
    let mut p = plan("checkout", false, true);
    p.holds =
        vec!["deferred until 2026-12-04 00:09 UTC by sre-alice: a sync ends the deferral".into()];
    p.changes = (0..12)
        .map(|i| item("ConfigMap", &format!("checkout-config-{i}"), Change::Update))
        .collect();
    open_sync(&mut m, &km, p);
    let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, 80, 24));
    driftdeck::tui::app::render(&mut buf, &m, &driftdeck::tui::theme::Theme::default(), &km);
    let text = driftdeck::tui::ui::buffer_text(&buf);
    println!("{text}");
    assert!(text.contains("WARNING: deferred until"), "{text}");
    let marker = text
        .lines()
        .find(|l| l.contains("more lines (pgdn)"))
        .expect("the plan is folded at 80x24");
    let after = marker.split("(pgdn)").nth(1).unwrap();
    assert!(
        after.trim_end().trim_end_matches('│').trim().is_empty(),
        "text left beside the marker: {marker:?}"
    );
}

/// A name from a hostile server with an unterminated right-to-left override (and an ESC) in
/// the fleet and in a dialog's title: no cell of the frame carries either, so the rest of the
/// row (the border, the plan) stays as drawn.
#[test]
fn a_bidi_override_in_a_name_never_reaches_the_screen() {
    let evil = "pay\u{202e}ments\u{1b}[8m\u{200b}";
    let (mut m, km) = model(vec![row(evil, None)]);
    open_sync(&mut m, &km, plan(evil, false, true));
    assert!(matches!(m.overlay, Overlay::Dialog(_)));
    let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, 100, 30));
    let theme = driftdeck::tui::theme::Theme::default();
    driftdeck::tui::ui::draw(&mut buf, &m, &theme, &km);
    let text = driftdeck::tui::ui::buffer_text(&buf);
    assert!(text.contains("payments"), "{text}");
    for cell in buf.content() {
        assert!(
            !cell.symbol().chars().any(driftdeck::term::is_unsafe),
            "{:?} in a cell",
            cell.symbol()
        );
    }
}

/// Resource actions from the app screen: `x` on a resource of the tree lists what Argo CD
/// offers for it, a pick (with its parameter) gets its plan, a protected app wants its name,
/// and only the confirmation runs it.
#[test]
fn x_on_a_resource_picks_an_action_then_confirms_its_plan() {
    use driftdeck::clients::argocd::{ResourceAction, ResourceActionParam, ResourceId};
    use driftdeck::model::app::{ApplicationTree, ResourceNode, ResourceRef, ResourceStatus};
    let (mut m, km) = model(vec![row("payments", None)]);
    let fx = keys(&mut m, &km, "enter");
    let req_of = |fx: &[Effect], want: &str| -> u64 {
        fx.iter()
            .find_map(|e| match e {
                Effect::FetchApp { req, .. } if want == "app" => Some(*req),
                Effect::FetchTree { req, .. } if want == "tree" => Some(*req),
                _ => None,
            })
            .unwrap()
    };
    let mut app = Application::default();
    app.metadata.name = "payments".into();
    app.metadata.namespace = "argocd".into();
    app.status.resources = vec![ResourceStatus {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        kind: "Rollout".into(),
        namespace: "shop".into(),
        name: "payments".into(),
        status: "Synced".into(),
        ..Default::default()
    }];
    update(
        &mut m,
        &km,
        Msg::AppLoaded {
            req: req_of(&fx, "app"),
            result: Ok(Box::new(app.clone())),
        },
    );
    let node = |kind: &str, group: &str, name: &str| ResourceNode {
        reference: ResourceRef {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: "shop".into(),
            name: name.into(),
            uid: String::new(),
        },
        ..Default::default()
    };
    let mut svc = node("Service", "", "payments");
    svc.reference.version = "v1".into();
    update(
        &mut m,
        &km,
        Msg::TreeLoaded {
            req: req_of(&fx, "tree"),
            result: Ok(ApplicationTree {
                nodes: vec![node("Rollout", "argoproj.io", "payments"), svc],
                ..Default::default()
            }),
        },
    );
    // The cursor on the second line (the Service): the spec names it.
    let fx = keys(&mut m, &km, "j x");
    let [Effect::Prepare { what, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let Prepare::ResourceActions { spec, .. } = what else {
        panic!("{what:?}")
    };
    assert_eq!(
        (
            spec.kind.as_str(),
            spec.name.as_str(),
            spec.group.as_deref()
        ),
        ("Service", "payments", Some(""))
    );
    // Back on the Rollout.
    keys(&mut m, &km, "esc k");
    let fx = keys(&mut m, &km, "x");
    let [Effect::Prepare { req, what }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let Prepare::ResourceActions { key, spec } = what.clone() else {
        panic!("{what:?}")
    };
    assert_eq!(spec.kind, "Rollout");
    let action = |name: &str, disabled: bool, params: &[&str]| ResourceAction {
        name: name.into(),
        disabled,
        params: params
            .iter()
            .map(|p| ResourceActionParam {
                name: p.to_string(),
            })
            .collect(),
        ..Default::default()
    };
    update(
        &mut m,
        &km,
        Msg::Prepared {
            req: *req,
            result: Ok(Prepared::ResourceActions {
                key: key.clone(),
                spec: spec.clone(),
                resource: ResourceId {
                    group: "argoproj.io".into(),
                    version: "v1alpha1".into(),
                    kind: "Rollout".into(),
                    namespace: "shop".into(),
                    name: "payments".into(),
                },
                actions: vec![
                    action("abort", false, &[]),
                    action("promote-full", false, &[]),
                    action("retry", true, &[]),
                    action("scale", false, &["replicas"]),
                ],
            }),
        },
    );
    let text = dialog_text(&m);
    assert!(text.contains("retry (not now: disabled)"), "{text}");
    let Overlay::Dialog(d) = &m.overlay else {
        panic!()
    };
    assert_eq!(d.fields.len(), 4, "three enabled actions and replicas");
    // Scale without its replicas: an error in the dialog, nothing prepared.
    let fx = keys(&mut m, &km, "down down space enter");
    assert!(fx.is_empty(), "{fx:?}");
    assert!(dialog_text(&m).contains("scale needs a value for replicas"));
    // The focus went to replicas: type it; enter prepares the plan of scale with it.
    let fx = keys(&mut m, &km, "3 enter");
    let [Effect::Prepare { req, what }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let Prepare::ResourceAction { action, params, .. } = what else {
        panic!("{what:?}")
    };
    assert_eq!(action, "scale");
    assert_eq!(params, &[("replicas".to_string(), "3".to_string())]);
    // The plan of a protected app: its name, typed, before the run.
    let plan = driftdeck::actions::resource::ActionPlan {
        target: Target {
            instance: "eu".into(),
            name: "payments".into(),
            app_namespace: "argocd".into(),
        },
        app: app.clone(),
        resource: ResourceId::default(),
        action: "scale".into(),
        params: vec![("replicas".into(), "3".into())],
        protected: true,
        lines: vec!["run scale replicas=3 on Rollout shop/payments".into()],
    };
    update(
        &mut m,
        &km,
        Msg::Prepared {
            req: *req,
            result: Ok(Prepared::ResourceAction {
                key: key.clone(),
                plan: Box::new(plan),
            }),
        },
    );
    assert!(dialog_text(&m).contains("run scale replicas=3"));
    let fx = keys(&mut m, &km, "enter");
    assert!(fx.is_empty());
    assert!(dialog_text(&m).contains("payments is protected"));
    let mut fx = Vec::new();
    for c in "payments".chars() {
        fx.extend(update(
            &mut m,
            &km,
            Msg::Key(Key::parse(&c.to_string()).unwrap()),
        ));
    }
    fx.extend(keys(&mut m, &km, "enter"));
    let [Effect::Act { act, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert!(matches!(act, Act::ResourceAction { plan, .. } if plan.action == "scale"));
    assert_eq!(m.ops.last().unwrap().verb, "resource action");
}
