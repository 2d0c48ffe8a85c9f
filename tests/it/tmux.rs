//! A real terminal: the demo TUI under a private tmux server. Start, filter, open an app, go back,
//! quit, and the terminal is restored. Polls the pane; never sleeps a fixed time.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common;
use common::colour_kinds;

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "dd"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "dd"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits until the pane shows `what`.
    fn wait_for(&self, what: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("the screen never showed {what:?}; it shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn tmux_available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but tmux is not installed (.ci/run installs it)");
        }
        eprintln!("skipped: tmux is not installed");
    }
    ok
}

fn start(label: &str, term: &str, extra: &str) -> (Tmux, tempfile::TempDir) {
    start_env(label, term, extra, "")
}

fn start_env(label: &str, term: &str, extra: &str, env: &str) -> (Tmux, tempfile::TempDir) {
    start_with(label, term, extra, env, |_| {})
}

/// As `start_env`, with `prep` writing the user's files under the new HOME first.
fn start_with(
    label: &str,
    term: &str,
    extra: &str,
    env: &str,
    prep: impl FnOnce(&std::path::Path),
) -> (Tmux, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    prep(home.path());
    let t = Tmux {
        socket: format!("driftdeck-test-{}-{label}", std::process::id()),
    };
    let bin = env!("CARGO_BIN_EXE_driftdeck");
    let cmd = format!(
        "env -u COLORTERM -u NO_COLOR {env} TERM={term} HOME={h} XDG_CONFIG_HOME={h}/config XDG_DATA_HOME={h}/data DRIFTDECK_LOG_DIR={h}/logs {bin} demo --apps 80 --clusters 4 --instances 2 --drift-every 0 {extra}; echo DRIFTDECK-EXITED $?; sleep 60",
        h = home.path().display()
    );
    t.run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "dd",
        "-x",
        "120",
        "-y",
        "40",
        &cmd,
    ]);
    // Applications may set tmux's clipboard with OSC 52 (what driftdeck's copy uses).
    t.run(&["set", "-s", "set-clipboard", "on"]);
    (t, home)
}

#[test]
fn start_filter_open_back_quit_and_restore() {
    if !tmux_available() {
        return;
    }
    let (t, home) = start("flow", "xterm-256color", "");
    // Both instances listed (the counts) and streaming; under load they arrive in any order.
    t.wait_for("80 apps", 30);
    let s = t.wait_for("● argocd-us live", 30);
    assert!(s.contains("80 apps"), "{s}");
    assert!(s.contains("NAME↑"), "{s}");
    assert_eq!(
        t.run(&["display", "-p", "-t", "dd", "#{alternate_on}"])
            .trim(),
        "1",
        "the TUI uses the alternate screen"
    );

    t.keys(&["/", "c", "h", "e", "c", "k", "o", "u", "t"]);
    let s = t.wait_for("/ checkout", 10);
    let count_line = s
        .lines()
        .find(|l| l.starts_with(" / checkout"))
        .unwrap()
        .to_string();
    assert!(count_line.trim_end().ends_with("of 80"), "{count_line}");
    let lines: Vec<&str> = s.lines().collect();
    // Rows: below the summary, instances, filter bar and header; above the status bar.
    let body: Vec<&str> = lines[4..lines.len() - 1]
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!body.is_empty());
    assert!(
        body.iter().all(|l| l.contains("checkout")),
        "every row matches: {body:#?}"
    );

    t.keys(&["Enter"]);
    t.wait_for("enter open", 10);
    t.keys(&["Enter"]);
    let s = t.wait_for("1 Resources (", 10);
    assert!(s.contains("Sync "), "{s}");
    assert!(s.contains("esc back"), "{s}");
    t.keys(&["3"]);
    t.wait_for("DEPLOYED", 10);

    t.keys(&["Escape"]);
    t.wait_for("/ filter", 10);
    t.keys(&["q"]);
    let s = t.wait_for("DRIFTDECK-EXITED 0", 10);
    assert_eq!(
        t.run(&["display", "-p", "-t", "dd", "#{alternate_on}"])
            .trim(),
        "0",
        "alternate screen left"
    );
    assert_eq!(
        t.run(&["display", "-p", "-t", "dd", "#{cursor_flag}"])
            .trim(),
        "1",
        "cursor visible again"
    );
    assert!(
        !s.contains("NAME↑"),
        "the TUI is gone from the screen:\n{s}"
    );
    let log = std::fs::read_to_string(home.path().join("logs/driftdeck.log")).unwrap();
    assert!(log.contains("first complete frame"), "{log}");
    assert!(!log.contains("eyJ"), "no token in the log");
}

#[test]
fn sigterm_sighup_and_sigint_restore_the_terminal() {
    if !tmux_available() {
        return;
    }
    // SIGHUP is what an SSH session that dropped sends; SIGINT a Ctrl-C from outside.
    for sig in ["TERM", "HUP", "INT"] {
        let (t, home) = start(&format!("sig{sig}"), "xterm-256color", "");
        t.wait_for("live", 30);
        let pid = t.run(&["display", "-p", "-t", "dd", "#{pane_pid}"]);
        // The pane runs `sh -c`; its child is driftdeck.
        let out = Command::new("pgrep")
            .args(["-P", pid.trim(), "driftdeck"])
            .output()
            .unwrap();
        let child = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(!child.is_empty(), "driftdeck runs");
        Command::new("kill")
            .args([&format!("-{sig}"), &child])
            .status()
            .unwrap();
        t.wait_for("DRIFTDECK-EXITED 0", 10);
        assert_eq!(
            t.run(&["display", "-p", "-t", "dd", "#{alternate_on}"])
                .trim(),
            "0",
            "SIG{sig}: the alternate screen is left"
        );
        assert_eq!(
            t.run(&["display", "-p", "-t", "dd", "#{mouse_any_flag}"])
                .trim(),
            "0",
            "SIG{sig}: mouse reporting is off"
        );
        // The log says why it ended.
        let mut logged = String::new();
        for f in walk(home.path()) {
            if f.to_string_lossy().contains("driftdeck.log") {
                logged.push_str(&std::fs::read_to_string(&f).unwrap_or_default());
            }
        }
        assert!(
            logged.contains(&format!("SIG{sig}")),
            "SIG{sig} in the log: {logged}"
        );
    }
}

#[test]
fn diff_screen_copy_and_pager() {
    if !tmux_available() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let pager_file = out.path().join("pager.txt");
    let env = format!("PAGER='tee {}'", pager_file.display());
    let (t, _home) = start_env("diff", "xterm-256color", "", &env);
    t.wait_for("live", 30);
    // Only drifted apps, then the diff of the first.
    t.keys(&[
        "/", "s", "y", "n", "c", ":", "O", "u", "t", "O", "f", "S", "y", "n", "c", "Enter",
    ]);
    t.wait_for("filter: sync:OutOfSync", 10);
    t.keys(&["d"]);
    let s = t.wait_for(" differ", 10);
    assert!(s.contains("≠ modified"), "{s}");
    assert!(s.contains("unified"), "{s}");
    t.keys(&["n"]);
    t.keys(&["y"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let copied = loop {
        let b = t.run(&["show-buffer"]);
        if b.contains("--- live/") || std::time::Instant::now() > deadline {
            break b;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        copied.contains("--- live/") && copied.contains("+++ desired/") && copied.contains("@@"),
        "OSC 52 reached tmux: {copied:?}\nbuffers: {}\nscreen:\n{}",
        t.run(&["list-buffers"]),
        t.screen()
    );
    t.keys(&["v"]);
    t.wait_for("side by side", 10);
    t.keys(&["p"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !pager_file.exists()
        || std::fs::read_to_string(&pager_file)
            .unwrap_or_default()
            .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "the pager never ran");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let paged = std::fs::read_to_string(&pager_file).unwrap();
    assert!(paged.starts_with("--- live/"), "{paged}");
    // The pager (tee) ends at the end of its input; the TUI takes the terminal back.
    t.wait_for("side by side", 10);
    t.keys(&["Escape"]);
    t.wait_for("/ filter", 10);
    t.keys(&["q"]);
    t.wait_for("DRIFTDECK-EXITED 0", 10);
}

#[test]
fn sync_an_out_of_sync_app_from_the_keyboard() {
    if !tmux_available() {
        return;
    }
    let (t, home) = start("sync", "xterm-256color", "");
    t.wait_for("80 apps", 30);
    t.wait_for("● argocd-us live", 30);
    t.keys(&[
        "/", "s", "y", "n", "c", ":", "O", "u", "t", "O", "f", "S", "y", "n", "c", "Enter",
    ]);
    let s = t.wait_for("filter: sync:OutOfSync", 10);
    let lines: Vec<&str> = s.lines().collect();
    let header = lines.iter().find(|l| l.contains("NAME")).unwrap();
    let col = header[..header.find("NAME").unwrap()].chars().count();
    let row = lines
        .iter()
        .find(|l| l.starts_with(" argocd-") && l.contains("OutOfSync"))
        .unwrap_or_else(|| panic!("an OutOfSync row:\n{s}"));
    let rest: String = row.chars().skip(col).collect();
    let name: String = rest.split_whitespace().next().unwrap().to_string();
    // Only that app, then sync it.
    t.keys(&["/", "C-u"]);
    t.keys(&["-l", &name]);
    t.keys(&["Enter"]);
    t.wait_for(&format!("filter: {name}"), 10);
    t.keys(&["s"]);
    let s = t.wait_for("sync windows:", 15);
    assert!(s.contains(&format!("Sync {name}")), "{s}");
    assert!(s.contains("sync windows:"), "{s}");
    assert!(s.contains("[ ] prune"), "prune is off by default: {s}");
    // A production app wants its name typed: Enter alone does not sync it.
    if s.contains(&format!("protected: type {name}")) {
        t.keys(&["Enter"]);
        t.wait_for("is protected: type its name", 5);
        t.keys(&["-l", &name]);
    }
    t.keys(&["Enter"]);
    t.wait_for(&format!("✓ sync {name}"), 20);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = t.screen();
        let synced = s
            .lines()
            .any(|l| l.contains(&name) && l.contains("Synced") && !l.contains("✓ sync"));
        if synced {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never showed Synced:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The demo journals into its own private directory, which the shadow report names.
    t.keys(&["S"]);
    let s = t.wait_for("Journal ", 10);
    let path = s
        .lines()
        .find_map(|l| l.trim().strip_prefix("Journal"))
        .map(|p| p.trim().to_string())
        .unwrap();
    assert!(
        !path.starts_with(&home.path().display().to_string()),
        "the demo journals in the user's data dir: {path}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let journal = std::fs::read_to_string(&path).unwrap_or_default();
        if journal.contains("\"sync-finished\"") {
            assert!(journal.contains("\"sync-requested\""), "{journal}");
            break;
        }
        assert!(Instant::now() < deadline, "journal: {journal}");
        std::thread::sleep(Duration::from_millis(100));
    }
    t.keys(&["q"]);
    t.wait_for("DRIFTDECK-EXITED 0", 10);
    // Nothing went into the user's own journal, and the demo's directory is gone.
    assert!(
        !walk(home.path())
            .iter()
            .any(|p| p.ends_with("journal.jsonl")),
        "the demo wrote into the user's data dir"
    );
    assert!(
        !std::path::Path::new(&path).exists(),
        "the demo left {path} behind"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The body row (0 = the first app row) that shows the low-bandwidth selection marker.
fn marked_row(screen: &str) -> Option<usize> {
    screen.lines().skip(3).position(|l| l.starts_with('▸'))
}

#[test]
fn user_keymap_sixteen_colours_low_bandwidth_and_the_mouse() {
    if !tmux_available() {
        return;
    }
    // The user's files: a keymap over the default (n moves down, j unbound, a sequence of
    // their own), a broken theme (reported, the builtin kept), low bandwidth (the selection
    // is a marker, visible in plain text).
    let (t, _home) = start_with("userkeys", "xterm", "", "", |home| {
        let dir = home.join("config/driftdeck");
        std::fs::create_dir_all(dir.join("keymaps")).unwrap();
        std::fs::create_dir_all(dir.join("themes")).unwrap();
        std::fs::write(
            dir.join("config.toml"),
            "keymap = \"mine\"\ntheme = \"mine\"\nlow_bandwidth = true\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("keymaps/mine.toml"),
            "[fleet]\n\"n\" = \"select_next\"\n\"j\" = \"none\"\n\"space\" = \"none\"\n\"space x\" = \"select_last\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("themes/mine.toml"),
            "inherits = \"default\"\n[styles]\n\"text\" = { fg = \"#12345\" }\n",
        )
        .unwrap();
    });
    // The broken theme is said on the first screen, with its file and line.
    let s = t.wait_for("mine.toml:3", 30);
    assert!(s.contains("themes/mine.toml:3"), "{s}");
    t.wait_for("● argocd-us live", 30);
    // Both instances' apps are in; the selection follows its app as rows arrive, so it is
    // wherever that app sorted.
    t.wait_for("80 apps │", 30);
    let s = t.wait_for("▸", 10);
    let r0 = marked_row(&s).unwrap_or_else(|| panic!("a marker on an app row:\n{s}"));

    // j is unbound; n moves.
    t.keys(&["j"]);
    t.keys(&["n"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        let s = t.screen();
        if marked_row(&s) == Some(r0 + 1) || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        marked_row(&s),
        Some(r0 + 1),
        "j did nothing, n moved one row:\n{s}"
    );

    // A sequence of the user's: the which-key hint names what may follow.
    t.keys(&["Space"]);
    let s = t.wait_for("space …", 10);
    let bar = s.lines().last().unwrap_or_default().to_string();
    assert!(bar.contains("x select last"), "{bar}");
    t.keys(&["Escape"]);

    // The help overlay is generated from the loaded keymap: n moves down, j is gone, the
    // user's sequence is listed.
    t.keys(&["?"]);
    let s = t.wait_for("Keys", 10);
    assert!(s.contains("space x, G, end"), "{s}");
    assert!(
        s.lines()
            .any(|l| l.contains(" n, down ") && l.contains("move down")),
        "{s}"
    );
    t.keys(&["Escape"]);

    // 16 colours: TERM=xterm gets only the 16 ANSI colours, never 256 or RGB.
    let coloured = t.run(&["capture-pane", "-p", "-e", "-t", "dd"]);
    let (rgb, indexed, basic) = colour_kinds(&coloured);
    assert!(basic, "some colour: {coloured:?}");
    assert!(
        !rgb && !indexed,
        "no 256 or RGB colour with TERM=xterm: {coloured:?}"
    );

    // The mouse: a click on the fourth row selects it (SGR mouse report, 1-based cells).
    let click = |x: u16, y: u16, press: bool| {
        let seq = format!(
            "\x1b[<0;{};{}{}",
            x + 1,
            y + 1,
            if press { 'M' } else { 'm' }
        );
        let mut args = vec![
            "send-keys".to_string(),
            "-t".into(),
            "dd".into(),
            "-H".into(),
        ];
        args.extend(seq.bytes().map(|b| format!("{b:02x}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        t.run(&args);
    };
    let target = if r0 + 1 == 6 { 8 } else { 6 };
    click(20, 3 + target as u16, true);
    click(20, 3 + target as u16, false);
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        let s = t.screen();
        if marked_row(&s) == Some(target) || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        marked_row(&s),
        Some(target),
        "the click selected the row:\n{s}"
    );
    // A click on the header sorts by that column.
    let header = s.lines().nth(2).unwrap().to_string();
    let hx = header[..header.find("HEALTH").expect("a HEALTH column")]
        .chars()
        .count() as u16;
    click(hx + 1, 2, true);
    click(hx + 1, 2, false);
    t.wait_for("HEALTH↑", 10);
    assert_eq!(
        t.run(&["display", "-p", "-t", "dd", "#{mouse_any_flag}"])
            .trim(),
        "1",
        "the TUI asked for mouse reports"
    );

    t.keys(&["q"]);
    t.wait_for("DRIFTDECK-EXITED 0", 10);
    assert_eq!(
        t.run(&["display", "-p", "-t", "dd", "#{mouse_any_flag}"])
            .trim(),
        "0",
        "mouse reporting is off again"
    );
}

/// The lines of a followed log, from its title (`· 46 lines`).
fn log_lines_shown(screen: &str) -> Option<usize> {
    let title = screen.lines().next()?;
    let i = title.find(" lines")?;
    title[..i].rsplit(' ').next()?.parse().ok()
}

/// Pod triage in a real terminal: a pod's log followed live grows as the container writes,
/// pause holds the view, and back returns to the Cluster tab.
#[test]
fn a_pod_log_is_followed_live_in_a_real_terminal() {
    if !tmux_available() {
        return;
    }
    let (t, _home) = start("logs", "xterm-256color", "");
    t.wait_for("● argocd-us live", 30);
    t.keys(&["Enter"]);
    t.wait_for("1 Resources (", 10);
    t.keys(&["6"]);
    // The pods are read from the cluster: wait until they are there.
    t.wait_for("Objects as the cluster has them", 15);
    t.keys(&["Enter"]);
    let s = t.wait_for("following", 15);
    let first = log_lines_shown(&s).unwrap_or_else(|| panic!("{s}"));
    // The demo's containers write about a line a second: the count grows while we look.
    let deadline = Instant::now() + Duration::from_secs(15);
    let grown = loop {
        let s = t.screen();
        if let Some(n) = log_lines_shown(&s)
            && n > first
        {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "the log never grew past {first}:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(grown > first);
    t.keys(&["Space"]);
    let s = t.wait_for("PAUSED", 10);
    let shown: Vec<String> = s.lines().skip(1).take(5).map(str::to_string).collect();
    std::thread::sleep(Duration::from_millis(1500));
    let later: Vec<String> = t
        .screen()
        .lines()
        .skip(1)
        .take(5)
        .map(str::to_string)
        .collect();
    assert_eq!(shown, later, "paused: the view stays while lines come");
    t.keys(&["Escape"]);
    t.wait_for("6 Cluster (", 10);
    t.keys(&["q"]);
    t.wait_for("DRIFTDECK-EXITED 0", 10);
}
