//! Crash safety of the journal: a process killed with SIGKILL in the middle of writing leaves a
//! journal that `journal verify` accepts, with every record it finished intact.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use driftdeck::decide::journal::Journal;

const DIR_VAR: &str = "DRIFTDECK_TEST_JOURNAL_DIR";

/// The writer half of `journal_survives_kill_9`, run by it in a child process: appends large
/// records as fast as it can and prints the number of each one finished.
#[test]
#[ignore = "run by journal_survives_kill_9 in a child process"]
fn journal_writer() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let j = Journal::in_dir(std::path::Path::new(&dir));
    // Large records: the kill is likely to land while one is being written.
    let pad = "x".repeat(512 * 1024);
    let mut out = std::io::stdout();
    for i in 0u64.. {
        j.append("crash-test", serde_json::json!({ "i": i, "pad": pad }))
            .expect("append");
        writeln!(out, "wrote {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn journal_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut finished = 0usize;
    let mut torn_seen = 0;
    for round in 0..6 {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "crash::journal_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it finish a few records (a different number each round), then kill it mid-way.
        let mut here = 0;
        while here < 2 + round {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("wrote ") => here += 1,
                Some(Ok(_)) => {}
                _ => panic!("the writer stopped by itself"),
            }
        }
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        // Lines it printed before dying are finished records too.
        for l in lines.map_while(Result::ok) {
            if l.starts_with("wrote ") {
                here += 1;
            }
        }
        finished += here;
        let text = std::fs::read(dir.path().join(driftdeck::decide::journal::FILE)).unwrap();
        if text.last() != Some(&b'\n') {
            torn_seen += 1;
        }
    }
    let v = Journal::in_dir(dir.path()).verify().unwrap();
    eprintln!(
        "6 kills: {finished} records reported finished, {} good, {} torn lines ({torn_seen} kills landed mid-record)",
        v.good,
        v.torn.len()
    );
    assert!(v.intact(), "no damage: {:?}", v.damaged);
    // Every record reported finished is there (and maybe some finished but not yet reported).
    assert!(v.good >= finished, "{} good of {finished}", v.good);
    // The records are the writer's, in order, each whole.
    let recs = Journal::in_dir(dir.path()).records().unwrap();
    assert!(recs.iter().all(|r| {
        r.body["pad"]
            .as_str()
            .is_some_and(|p| p.len() == 512 * 1024)
    }));
    // And the command line agrees.
    let o = Command::new(env!("CARGO_BIN_EXE_driftdeck"))
        .args(["journal", "verify"])
        .env("DRIFTDECK_DATA_DIR", dir.path())
        .env("DRIFTDECK_LOG_DIR", dir.path().join("logs"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// What a kill in the middle of a write leaves (a record cut anywhere, even inside a UTF-8
/// character), made on purpose: the journal stays verifiable and the next append continues the
/// chain on a line of its own.
#[test]
fn a_record_cut_anywhere_is_a_torn_line_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(driftdeck::decide::journal::FILE);
    let j = Journal::in_dir(dir.path());
    let mut head_before_last = Vec::new();
    for i in 0..3 {
        if i == 2 {
            head_before_last = std::fs::read(j.head_path()).unwrap();
        }
        j.append("t", serde_json::json!({"i": i, "note": "déjà vu ✓"}))
            .unwrap();
    }
    let whole = std::fs::read(&path).unwrap();
    let last_start = whole[..whole.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .unwrap()
        + 1;
    // Every cut inside the last record.
    for cut in (last_start + 1)..(whole.len() - 1) {
        std::fs::write(&path, &whole[..cut]).unwrap();
        // The head is written after its record: a write cut inside the record left the head
        // naming the record before.
        std::fs::write(j.head_path(), &head_before_last).unwrap();
        let v = j.verify().unwrap();
        assert!(v.intact(), "cut at {cut}: {:?}", v.damaged);
        assert_eq!(v.good, 2, "cut at {cut}");
        assert_eq!(v.torn.len(), 1, "cut at {cut}");
        let r = j.append("t", serde_json::json!({"i": 3})).unwrap();
        assert_eq!(r.seq, 3, "the torn record is not counted");
        let v = j.verify().unwrap();
        assert!(v.intact() && v.good == 3, "cut at {cut}: {v:?}");
    }
}

const PANIC_VAR: &str = "DRIFTDECK_TEST_PANIC_CHILD";

/// The TUI half of `a_panic_restores_the_terminal_and_ends_the_tui`, run by it in a child process
/// on a pseudo-terminal: takes the terminal as the TUI does (alternate screen, raw mode, mouse
/// reporting), then panics in a background thread, as a bug in a fetch task would.
#[test]
#[ignore = "run by a_panic_restores_the_terminal_and_ends_the_tui in a child process"]
fn tui_that_panics() {
    if std::env::var_os(PANIC_VAR).is_none() {
        return;
    }
    use driftdeck::tui::runtime::terminal;
    terminal::install_panic_hook();
    let _guard = terminal::TerminalGuard::enter(true).expect("a terminal");
    print!("IN-TUI");
    std::io::stdout().flush().unwrap();
    std::thread::spawn(|| panic!("boom from a background task"));
    // Without the hook ending the process, the TUI would go on drawing on a restored terminal.
    std::thread::sleep(std::time::Duration::from_secs(10));
}

/// A panic anywhere while the TUI has the terminal: the terminal is restored first (mouse
/// reporting off, the normal screen back), then the message is printed where it can be read,
/// and the process ends with 101 instead of drawing on.
#[test]
fn a_panic_restores_the_terminal_and_ends_the_tui() {
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but `script` (util-linux) is missing"
        );
        eprintln!("skipped: `script` (util-linux) is not installed, no pseudo-terminal");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let t = std::time::Instant::now();
    let out = Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!(
            "'{}' --ignored --exact crash::tui_that_panics --nocapture --test-threads=1",
            exe.display()
        ))
        .arg("/dev/null")
        .env(PANIC_VAR, "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(8),
        "the process ended at the panic, not after its work: {:?}",
        t.elapsed()
    );
    assert_eq!(out.status.code(), Some(101), "{text:?}");
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} in {text:?}"))
    };
    let entered = at("IN-TUI");
    let message = at("boom from a background task");
    for restore in ["\x1b[?1000l", "\x1b[?1049l", "\x1b[?25h"] {
        let r = entered
            + text[entered..]
                .find(restore)
                .unwrap_or_else(|| panic!("{restore:?} after entering: {text:?}"));
        assert!(r < message, "{restore:?} before the message: {text:?}");
    }
}
