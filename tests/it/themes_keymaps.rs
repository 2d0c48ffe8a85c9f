//! Every builtin theme and keymap parses, and what they resolve to is snapshot-tested; the
//! mono theme writes no colour; the vim and emacs keymaps keep the default's bindings and add
//! their own.
use crate::common;

use driftdeck::tui::keymap::{Key, KeyMode, Keymap, Resolution};
use driftdeck::tui::theme::Theme;

const ROLES: &[&str] = &[
    "text",
    "text.dim",
    "selection",
    "sync.synced",
    "sync.outofsync",
    "health.healthy",
    "health.degraded",
    "op.failed",
    "error",
    "warning",
    "bar",
    "diff.added",
    "diff.removed",
    "diff.added.line",
    "diff.removed.emph",
];

#[test]
fn every_builtin_theme_parses_and_resolves() {
    let mut out = String::new();
    for (name, _) in driftdeck::tui::theme::BUILTIN {
        let t = Theme::builtin(name).unwrap_or_else(|| panic!("builtin theme {name} parses"));
        assert_eq!(t.name, *name);
        out.push_str(&format!("[{name}]\n"));
        for r in ROLES {
            out.push_str(&format!("{r} = {:?}\n", t.style(r)));
        }
    }
    insta::assert_snapshot!(out);
}

#[test]
fn the_mono_theme_has_no_colour_and_the_colorblind_one_marks_bad_states_without_colour() {
    use ratatui::style::{Color, Modifier};
    let mono = Theme::builtin("mono").unwrap();
    for r in ROLES {
        let s = mono.style(r);
        assert!(
            s.fg.is_none_or(|c| c == Color::Reset) && s.bg.is_none_or(|c| c == Color::Reset),
            "{r}: {s:?}"
        );
    }
    assert!(
        mono.style("selection")
            .add_modifier
            .contains(Modifier::REVERSED)
    );
    let cb = Theme::builtin("colorblind").unwrap();
    for r in [
        "sync.outofsync",
        "health.degraded",
        "op.failed",
        "diff.removed",
    ] {
        assert!(
            cb.style(r).add_modifier.contains(Modifier::UNDERLINED),
            "{r} is told apart without colour"
        );
    }
}

#[tokio::test]
async fn a_mono_snapshot_writes_no_colour_codes() {
    use driftdeck::headless::snapshot::{Output, SnapshotOptions, snapshot};
    let fleet = common::demo(30, 3, 1).await;
    let o = SnapshotOptions {
        output: Output::Ansi,
        size: (120, 30),
        keys: vec![],
        filter: None,
        theme: Theme::builtin("mono").unwrap(),
        keymap: Keymap::default(),
        depth: driftdeck::tui::color::Depth::TrueColor,
        ascii: false,
        low_bandwidth: false,
        title: "t".into(),
        now_ms: Some(common::NOW * 1000),
        data_dir: None,
        resize: None,
        fail_on_sla: false,
    };
    let s = snapshot(&fleet.config(), o).await.unwrap().stdout;
    assert!(s.contains("\u{1b}["), "attributes are still written");
    for code in ["38;2;", "48;2;", "38;5;", "48;5;"] {
        assert!(!s.contains(code), "{code} in a mono frame");
    }
}

fn binding(km: &Keymap, mode: KeyMode, keys: &str) -> Option<String> {
    let mut pending: Vec<Key> = Vec::new();
    for k in keys.split_whitespace() {
        let k = Key::parse(k).unwrap();
        match km.resolve(mode, &pending, k) {
            Resolution::Matched(a) => return Some(a.name().to_string()),
            Resolution::Pending(_) => pending.push(k),
            Resolution::NotFound => return None,
        }
    }
    None
}

#[test]
fn every_builtin_keymap_parses_and_vim_and_emacs_add_their_keys() {
    let mut out = String::new();
    for (name, _) in driftdeck::tui::keymap::BUILTIN {
        let km = Keymap::builtin(name).unwrap_or_else(|| panic!("builtin keymap {name} parses"));
        out.push_str(&format!("[{name}]\n"));
        for mode in KeyMode::ALL {
            for (action, keys) in km.bindings(mode) {
                out.push_str(&format!(
                    "{} {} = {}\n",
                    mode.section(),
                    action.name(),
                    keys.join(", ")
                ));
            }
        }
    }
    insta::assert_snapshot!(out);
    let vim = Keymap::builtin("vim").unwrap();
    assert_eq!(
        binding(&vim, KeyMode::Fleet, "ctrl-f").as_deref(),
        Some("page_down")
    );
    assert_eq!(
        binding(&vim, KeyMode::Fleet, "Z Z").as_deref(),
        Some("quit")
    );
    assert_eq!(
        binding(&vim, KeyMode::Fleet, "j").as_deref(),
        Some("select_next"),
        "the default's keys stay"
    );
    let emacs = Keymap::builtin("emacs").unwrap();
    assert_eq!(
        binding(&emacs, KeyMode::Fleet, "ctrl-n").as_deref(),
        Some("select_next")
    );
    assert_eq!(
        binding(&emacs, KeyMode::Fleet, "ctrl-x ctrl-c").as_deref(),
        Some("quit")
    );
    assert_eq!(
        binding(&emacs, KeyMode::Fleet, "ctrl-s").as_deref(),
        Some("filter")
    );
    assert_eq!(
        binding(&emacs, KeyMode::Filter, "ctrl-g").as_deref(),
        Some("cancel")
    );
}

/// What a cell of `role` looks like at `depth`: colours degraded as the screen writer does.
fn seen(
    t: &Theme,
    role: &str,
    selected: bool,
    depth: driftdeck::tui::color::Depth,
) -> (
    ratatui::style::Color,
    ratatui::style::Color,
    ratatui::style::Modifier,
) {
    use driftdeck::tui::color::degrade;
    use ratatui::style::Color;
    let s = if selected {
        t.selected(role)
    } else {
        t.style(role)
    };
    (
        degrade(s.fg.unwrap_or(Color::Reset), depth),
        degrade(s.bg.unwrap_or(Color::Reset), depth),
        s.add_modifier,
    )
}

/// States that call for attention.
const BAD: &[&str] = &[
    "sync.outofsync",
    "health.degraded",
    "health.missing",
    "verdict.enforce",
    "instance.down",
    "diff.removed",
];

#[test]
fn every_theme_keeps_states_apart_at_256_and_16_colours() {
    use driftdeck::tui::color::Depth;
    // States that must never look alike, whatever the terminal can show (ssh without COLORTERM
    // forwarded gets 256; consoles and `TERM=xterm`, 16).
    let groups: &[&[&str]] = &[
        &["sync.synced", "sync.outofsync"],
        &[
            "health.healthy",
            "health.progressing",
            "health.degraded",
            "health.missing",
        ],
        &["diff.added", "diff.removed"],
        &["verdict.allow", "verdict.defer", "verdict.enforce"],
        &["instance.live", "instance.down"],
    ];
    for (name, _) in driftdeck::tui::theme::BUILTIN {
        for depth in [Depth::TrueColor, Depth::Ansi256, Depth::Ansi16, Depth::None] {
            // What the TUI draws with at that depth (no colour: the mono theme stands in for
            // a theme made of colours).
            let t = Theme::builtin(name).unwrap().for_depth(depth);
            for g in groups {
                for (i, a) in g.iter().enumerate() {
                    for b in &g[i + 1..] {
                        // With 16 colours or none, words and symbols tell the states apart
                        // (healthy and progressing may share a colour); what must stand out
                        // by its colour or attributes is a bad state next to any other.
                        let few = depth <= Depth::Ansi16 || !t.uses_colour();
                        if few && !BAD.contains(b) && !BAD.contains(a) {
                            continue;
                        }
                        for selected in [false, true] {
                            assert_ne!(
                                seen(&t, a, selected, depth),
                                seen(&t, b, selected, depth),
                                "theme {name} at {depth:?}: {a} and {b} look the same (selected: {selected})"
                            );
                        }
                    }
                }
            }
            // The selection stands out from the rows around it, and its text from its background.
            let (fg, bg, m) = seen(&t, "text", true, depth);
            assert_ne!(
                (fg, bg, m),
                seen(&t, "text", false, depth),
                "theme {name} at {depth:?}: the selection is invisible"
            );
            assert!(
                fg != bg || fg == ratatui::style::Color::Reset,
                "theme {name} at {depth:?}: selected text in its own background colour"
            );
        }
    }
}
