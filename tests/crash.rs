//! Crash safety of the journal: a process killed with SIGKILL in the middle of writing leaves a
//! journal that `journal verify` accepts, with every record it finished intact.

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
                "journal_writer",
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
    for i in 0..3 {
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
