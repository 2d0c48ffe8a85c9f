//! The decision journal: append-only JSON lines in the data directory, one record per decision
//! and per operator action, each carrying the SHA-256 of the previous record, written under a
//! file lock and synced to disk before the append returns. A line torn by a crash is detected,
//! skipped and never damages the records before it; the next append starts on a fresh line.
//!
//! A record's line is `{"seq":N,"time":"…","kind":"…","prev":"…","body":{…},"hash":"…"}` where
//! `hash` is the SHA-256 of the same line without its `hash` member.
//!
//! The chain is anchored outside the file: after each append the head (sequence and hash of
//! the last record, and with `[journal] key_file` an HMAC-SHA256 of them) is written
//! atomically to `<journal>.head`. `verify` compares the end of the chain with the head, so a
//! cut at the end, records appended by someone else and a re-computed chain are reported, not
//! only edits in the middle. When an append finds the head missing or not matching, it first
//! appends a `journal-anchor` record saying so (the evidence stays in the chain) and the
//! journal does not verify until an operator reviews it and accepts it
//! (`driftdeck journal verify --accept`, a `journal-accept` record). What is and is not
//! detected is written down in docs/policy.md.

use std::fs::File;
#[cfg(test)]
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The journal file's name in the data directory.
pub const FILE: &str = "journal.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot write the journal {path}: {source}: is the disk full or read-only?")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the journal: {0} (the data directory is DRIFTDECK_DATA_DIR)")]
    Private(crate::private::PrivateError),
    #[error("cannot read the journal {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A record as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub kind: String,
    pub prev: String,
    pub body: Value,
    pub hash: String,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Verification {
    /// Records whose hash and link are right.
    pub good: usize,
    /// Lines torn by a crash (not JSON), skipped.
    pub torn: Vec<usize>,
    /// Problems that mean the journal was altered: (line, what); line 0 for the head.
    pub damaged: Vec<(usize, String)>,
    /// What is worth knowing but is not damage: accepted anchors, a crash between the record
    /// and its head.
    pub notes: Vec<String>,
}

/// The record kind an append writes when it finds the head missing or not matching.
pub const ANCHOR: &str = "journal-anchor";
/// The record kind of an operator's acceptance of the anchors before it.
pub const ACCEPT: &str = "journal-accept";

/// The head: where the chain ended at the last append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// A key for the head's MAC (`[journal] key_file`): never logged or shown.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    pub fn new(bytes: Vec<u8>) -> Key {
        Key(bytes)
    }

    /// Reads a key file ([`crate::config::JournalConfig::read_key`]: the user's own, readable by
    /// nobody else, at least 16 bytes).
    pub fn load(path: &Path) -> Result<Key, String> {
        crate::config::JournalConfig::read_key(path).map(Key)
    }

    /// HMAC-SHA256 (RFC 2104) of `msg`, as hex.
    pub fn mac(&self, msg: &[u8]) -> String {
        let mut k = [0u8; 64];
        if self.0.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(&self.0));
        } else {
            k[..self.0.len()].copy_from_slice(&self.0);
        }
        let mut inner = Sha256::new();
        inner.update(k.map(|b| b ^ 0x36));
        inner.update(msg);
        let mut outer = Sha256::new();
        outer.update(k.map(|b| b ^ 0x5c));
        outer.update(inner.finalize());
        hex(&outer.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn head_message(seq: u64, hash: &str) -> Vec<u8> {
    format!("driftdeck-journal-head:{seq}:{hash}").into_bytes()
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.damaged.is_empty()
    }
}

/// The journal at a path.
#[derive(Debug, Clone)]
pub struct Journal {
    pub path: PathBuf,
    /// The key of the head's MAC, when `[journal] key_file` is set.
    pub key: Option<Key>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// How the end of the chain stands against the head.
enum HeadCheck {
    /// The head names the last record (or the journal and the head are both empty).
    Matches,
    /// The last record was written but not its head: a crash between the two writes.
    OneAhead,
    /// Something else: the reason.
    Broken(String),
}

const HASH_SUFFIX_LEN: usize = 75; // ,"hash":"<64 hex>"}

/// Checks one line's own hash; returns the record.
pub fn parse_line(line: &str) -> Result<Record, String> {
    let rec: Record = serde_json::from_str(line).map_err(|e| format!("not a record: {e}"))?;
    if line.len() < HASH_SUFFIX_LEN + 2 || !line.ends_with("\"}") {
        return Err("no hash at the end of the line".into());
    }
    let core = format!("{}}}", &line[..line.len() - HASH_SUFFIX_LEN]);
    let want = sha256_hex(core.as_bytes());
    if want != rec.hash {
        return Err(format!(
            "its hash does not match its content (seq {})",
            rec.seq
        ));
    }
    Ok(rec)
}

impl Journal {
    pub fn in_dir(data_dir: &Path) -> Journal {
        Journal {
            path: data_dir.join(FILE),
            key: None,
        }
    }

    pub fn at(path: &Path) -> Journal {
        Journal {
            path: path.to_path_buf(),
            key: None,
        }
    }

    /// The journal of a data directory with the config's `[journal]` settings (the head's key).
    pub fn configured(
        data_dir: &Path,
        cfg: Option<&crate::config::Config>,
    ) -> Result<Journal, String> {
        let mut j = Journal::in_dir(data_dir);
        if let Some(kf) = cfg
            .and_then(|c| c.journal.as_ref())
            .and_then(|j| j.key_file.as_ref())
        {
            j.key = Some(Key::load(kf)?);
        }
        Ok(j)
    }

    /// Where the head is kept: beside the journal, `<name>.head`.
    pub fn head_path(&self) -> PathBuf {
        let mut p = self.path.as_os_str().to_owned();
        p.push(".head");
        PathBuf::from(p)
    }

    /// The head as written at the last append (`None` when there is none).
    pub fn head(&self) -> Result<Option<Head>, String> {
        let p = self.head_path();
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| format!("the head file {} is not a head: {e}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read the head file {}: {e}", p.display())),
        }
    }

    fn write_head(&self, r: &Record) -> Result<(), JournalError> {
        let head = Head {
            seq: r.seq,
            hash: r.hash.clone(),
            mac: self
                .key
                .as_ref()
                .map(|k| k.mac(&head_message(r.seq, &r.hash))),
        };
        let bytes = serde_json::to_vec(&head).map_err(|e| JournalError::Write {
            path: self.head_path(),
            source: std::io::Error::other(e),
        })?;
        crate::private::write_atomic(&self.head_path(), &bytes).map_err(JournalError::Private)
    }

    /// The end of the chain (`last`, and the record before it) against the head.
    fn check_head(&self, last: Option<&Record>, head: Result<Option<Head>, String>) -> HeadCheck {
        let head = match head {
            Ok(h) => h,
            Err(e) => return HeadCheck::Broken(e),
        };
        match (last, head) {
            (None, None) => HeadCheck::Matches,
            (Some(l), None) => HeadCheck::Broken(format!(
                "the journal has no head file (records up to {} were written before driftdeck anchored its journal, or the head was removed): a cut at its end cannot be ruled out",
                l.seq
            )),
            (None, Some(h)) => HeadCheck::Broken(format!(
                "the journal is empty but its head names record {}: the journal was emptied or replaced",
                h.seq
            )),
            (Some(l), Some(h)) => {
                if let Some(k) = &self.key {
                    match &h.mac {
                        Some(m) if *m == k.mac(&head_message(h.seq, &h.hash)) => {}
                        Some(_) => {
                            return HeadCheck::Broken(
                                "the head's MAC does not match: the head was written without the journal's key".into(),
                            );
                        }
                        None => {
                            return HeadCheck::Broken(
                                "the head has no MAC although [journal] key_file is set: the head was written without the key".into(),
                            );
                        }
                    }
                }
                if l.seq == h.seq && l.hash == h.hash {
                    HeadCheck::Matches
                } else if l.seq == h.seq + 1 && l.prev == h.hash {
                    HeadCheck::OneAhead
                } else if l.seq < h.seq {
                    HeadCheck::Broken(format!(
                        "the journal ends at record {} but its head names record {}: records were cut from its end",
                        l.seq, h.seq
                    ))
                } else if l.seq == h.seq {
                    HeadCheck::Broken(format!(
                        "record {} is not the one its head names: the journal was rewritten",
                        l.seq
                    ))
                } else {
                    HeadCheck::Broken(format!(
                        "records {} to {} follow the head (record {}) though driftdeck did not anchor them: they were appended by someone else, or the chain was re-computed",
                        h.seq + 1,
                        l.seq,
                        h.seq
                    ))
                }
            }
        }
    }

    fn open(&self) -> Result<File, JournalError> {
        // Its directory 0700 and refused when others can write it; the file 0600, never
        // opened through a link.
        crate::private::open_append(&self.path).map_err(JournalError::Private)
    }

    /// Appends one record and syncs it to disk, then writes the head. Returns the record.
    ///
    /// When the end of the chain does not match the head (a cut, a foreign append, a rewrite,
    /// a missing head), a `journal-anchor` record saying so goes first: the record is never
    /// lost, and the evidence stays in the chain.
    pub fn append(&self, kind: &str, body: Value) -> Result<Record, JournalError> {
        let mut f = self.open()?;
        let werr = |source| JournalError::Write {
            path: self.path.clone(),
            source,
        };
        f.lock().map_err(werr)?;
        let result = (|| {
            let (last, ends_clean) = last_record(&mut f).map_err(werr)?;
            let mut last = last;
            let mut ends_clean = ends_clean;
            if let HeadCheck::Broken(why) = self.check_head(last.as_ref(), self.head()) {
                tracing::warn!(journal = %self.path.display(), %why, "the journal is re-anchored");
                let anchor = self.write_record(
                    &mut f,
                    last.as_ref(),
                    ends_clean,
                    ANCHOR,
                    json!({"reason": why, "through": last.as_ref().map(|r| r.seq)}),
                )?;
                last = Some(anchor);
                ends_clean = true;
            }
            let r = self.write_record(&mut f, last.as_ref(), ends_clean, kind, body)?;
            self.write_head(&r)?;
            Ok(r)
        })();
        let _ = f.unlock();
        result
    }

    fn write_record(
        &self,
        f: &mut File,
        last: Option<&Record>,
        ends_clean: bool,
        kind: &str,
        body: Value,
    ) -> Result<Record, JournalError> {
        let werr = |source| JournalError::Write {
            path: self.path.clone(),
            source,
        };
        let (seq, prev) = match last {
            Some(r) => (r.seq + 1, r.hash.clone()),
            None => (1, GENESIS.to_string()),
        };
        let time = Utc::now();
        let core = serde_json::to_string(&json!({
            "seq": seq,
            "time": time,
            "kind": kind,
            "prev": prev,
            "body": body,
        }))
        .map_err(|e| werr(std::io::Error::other(e)))?;
        let hash = sha256_hex(core.as_bytes());
        let mut line = String::with_capacity(core.len() + 80);
        if !ends_clean {
            // A torn line before: start ours on a line of its own.
            line.push('\n');
        }
        line.push_str(&core[..core.len() - 1]);
        line.push_str(&format!(",\"hash\":\"{hash}\"}}\n"));
        f.write_all(line.as_bytes()).map_err(werr)?;
        f.sync_all().map_err(werr)?;
        Ok(Record {
            seq,
            time,
            kind: kind.to_string(),
            prev,
            body,
            hash,
        })
    }

    /// Every good record, in order (torn and damaged lines skipped).
    pub fn records(&self) -> Result<Vec<Record>, JournalError> {
        Ok(self.scan()?.0)
    }

    /// The good records of the complete lines from byte `offset` on (no chain check), and the
    /// offset after the last complete line: a reader that follows the journal reads only
    /// what was appended since it last looked. An offset past the end (the file was replaced)
    /// starts again from 0.
    pub fn read_from(&self, offset: u64) -> Result<(Vec<Record>, u64), JournalError> {
        let rerr = |source| JournalError::Read {
            path: self.path.clone(),
            source,
        };
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(source) => return Err(rerr(source)),
        };
        let len = f.seek(SeekFrom::End(0)).map_err(rerr)?;
        let start = if offset > len { 0 } else { offset };
        f.seek(SeekFrom::Start(start)).map_err(rerr)?;
        let mut raw = Vec::with_capacity((len - start) as usize);
        f.take(len - start).read_to_end(&mut raw).map_err(rerr)?;
        let complete = raw.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let text = String::from_utf8_lossy(&raw[..complete]);
        let out = text
            .split('\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| parse_line(l).ok())
            .collect();
        Ok((out, start + complete as u64))
    }

    /// Checks the whole chain, its end against the head, and the anchors not yet accepted.
    pub fn verify(&self) -> Result<Verification, JournalError> {
        Ok(self.checked()?.1)
    }

    /// The good records and the verification, from one read (what autonomy checks before it
    /// counts the records).
    pub fn checked(&self) -> Result<(Vec<Record>, Verification), JournalError> {
        let (records, mut v) = self.scan()?;
        match self.check_head(records.last(), self.head()) {
            HeadCheck::Matches => {}
            HeadCheck::OneAhead => v.notes.push(format!(
                "record {} was written but not its head (a crash between the two writes); the next append anchors it",
                records.last().map_or(0, |r| r.seq)
            )),
            HeadCheck::Broken(why) => v.damaged.push((0, why)),
        }
        let accepted = records
            .iter()
            .rposition(|r| r.kind == ACCEPT)
            .map_or(0, |i| i + 1);
        for (i, r) in records.iter().enumerate().filter(|(_, r)| r.kind == ANCHOR) {
            let why = r.body.get("reason").and_then(Value::as_str).unwrap_or("?");
            let msg = format!("record {} re-anchored the journal: {why}", r.seq);
            if i < accepted {
                v.notes.push(format!("{msg} (accepted)"));
            } else {
                v.damaged.push((
                    0,
                    format!("{msg}; review it, then run `driftdeck journal verify --accept`"),
                ));
            }
        }
        Ok((records, v))
    }

    fn scan(&self) -> Result<(Vec<Record>, Verification), JournalError> {
        // Bytes, not a String: a write cut by a crash may end inside a UTF-8 character, and
        // that torn line must not make the whole journal unreadable.
        let mut raw = Vec::new();
        match File::open(&self.path) {
            Ok(mut f) => {
                f.read_to_end(&mut raw)
                    .map_err(|source| JournalError::Read {
                        path: self.path.clone(),
                        source,
                    })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(JournalError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        }
        let text = String::from_utf8_lossy(&raw);
        let mut v = Verification::default();
        let mut out = Vec::new();
        let mut prev = GENESIS.to_string();
        let mut expected_seq = 1;
        for (i, line) in text.split('\n').enumerate() {
            let n = i + 1;
            if line.is_empty() {
                continue;
            }
            match parse_line(line) {
                Ok(rec) => {
                    if rec.prev != prev {
                        v.damaged.push((
                            n,
                            format!("record {} does not follow the record before it (a record was removed or changed)", rec.seq),
                        ));
                    } else if rec.seq != expected_seq {
                        v.damaged.push((
                            n,
                            format!(
                                "record {} is out of sequence (expected {expected_seq})",
                                rec.seq
                            ),
                        ));
                    } else {
                        v.good += 1;
                    }
                    prev = rec.hash.clone();
                    expected_seq = rec.seq + 1;
                    out.push(rec);
                }
                Err(e) => {
                    if serde_json::from_str::<Value>(line).is_ok() {
                        v.damaged.push((n, e));
                    } else {
                        v.torn.push(n);
                    }
                }
            }
        }
        Ok((out, v))
    }
}

/// The last good record of the file, and whether the file ends with a newline. Reads backwards
/// in growing chunks, so a long journal is not read whole.
fn last_record(f: &mut File) -> std::io::Result<(Option<Record>, bool)> {
    let len = f.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok((None, true));
    }
    let mut chunk: u64 = 64 * 1024;
    loop {
        let start = len.saturating_sub(chunk);
        f.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        f.take(len - start).read_to_end(&mut buf)?;
        let ends_clean = buf.last() == Some(&b'\n');
        let text = String::from_utf8_lossy(&buf);
        let mut lines: Vec<&str> = text.split('\n').collect();
        // The first piece may be cut by the chunk boundary (unless we read from 0).
        if start > 0 && !lines.is_empty() {
            lines.remove(0);
        }
        for line in lines.iter().rev() {
            if line.is_empty() {
                continue;
            }
            if let Ok(r) = parse_line(line) {
                return Ok((Some(r), ends_clean));
            }
        }
        if start == 0 {
            return Ok((None, ends_clean));
        }
        chunk *= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_chain_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::in_dir(dir.path());
        let a = j.append("decision", json!({"n": 1})).unwrap();
        let b = j
            .append(
                "action",
                json!({"n": 2, "text": "with \"quotes\" and ünïcode"}),
            )
            .unwrap();
        assert_eq!(a.seq, 1);
        assert_eq!(a.prev, GENESIS);
        assert_eq!(b.prev, a.hash);
        let v = j.verify().unwrap();
        assert_eq!(v.good, 2);
        assert!(v.intact() && v.torn.is_empty());
        assert_eq!(
            j.records().unwrap()[1].body["text"],
            "with \"quotes\" and ünïcode"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&j.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the journal is private");
        }
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_next_record_follows_the_last_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::in_dir(dir.path());
        let a = j.append("decision", json!({"n": 1})).unwrap();
        // A crash in the middle of a write.
        let mut f = OpenOptions::new().append(true).open(&j.path).unwrap();
        f.write_all(br#"{"seq":2,"time":"2026-01-01T00:00:00Z","ki"#)
            .unwrap();
        drop(f);
        let v = j.verify().unwrap();
        assert_eq!((v.good, v.torn.len(), v.intact()), (1, 1, true));
        let b = j.append("decision", json!({"n": 3})).unwrap();
        assert_eq!(b.seq, 2);
        assert_eq!(b.prev, a.hash);
        let v = j.verify().unwrap();
        assert_eq!((v.good, v.torn.len(), v.intact()), (2, 1, true), "{v:?}");
        assert_eq!(j.records().unwrap().len(), 2);
    }

    #[test]
    fn tampering_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::in_dir(dir.path());
        for n in 0..4 {
            j.append("decision", json!({"verdict": "enforce", "n": n}))
                .unwrap();
        }
        let text = std::fs::read_to_string(&j.path).unwrap();
        // Edit a record's content.
        let edited = text.replacen(
            "\"verdict\":\"enforce\",\"n\":1",
            "\"verdict\":\"allow\",\"n\":1",
            1,
        );
        std::fs::write(&j.path, &edited).unwrap();
        let v = j.verify().unwrap();
        assert!(!v.intact());
        assert!(v.damaged.iter().any(|(line, _)| *line == 2), "{v:?}");
        // Remove a record.
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(
            &j.path,
            format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]),
        )
        .unwrap();
        let v = j.verify().unwrap();
        assert!(!v.intact());
        assert!(v.damaged[0].1.contains("does not follow"), "{v:?}");
    }

    #[test]
    fn long_records_are_found_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::in_dir(dir.path());
        let big = "x".repeat(200_000);
        let a = j.append("decision", json!({"big": big})).unwrap();
        let b = j.append("decision", json!({"n": 2})).unwrap();
        assert_eq!(b.prev, a.hash);
        assert_eq!(j.verify().unwrap().good, 2);
    }

    #[test]
    fn concurrent_appends_keep_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let p = path.clone();
                std::thread::spawn(move || {
                    let j = Journal::at(&p);
                    for n in 0..10 {
                        j.append("decision", json!({"t": t, "n": n})).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let v = Journal::at(&path).verify().unwrap();
        assert_eq!(v.good, 40);
        assert!(v.intact(), "{v:?}");
    }

    fn four(j: &Journal) -> String {
        for n in 0..4 {
            j.append("decision", json!({"verdict": "enforce", "n": n}))
                .unwrap();
        }
        std::fs::read_to_string(&j.path).unwrap()
    }

    fn head_problem(v: &Verification) -> String {
        v.damaged
            .iter()
            .filter(|(n, _)| *n == 0)
            .map(|(_, w)| w.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn a_cut_at_the_end_is_reported_and_leaves_its_trace_in_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::in_dir(dir.path());
        let text = four(&j);
        assert!(j.verify().unwrap().intact());
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&j.path, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
        let v = j.verify().unwrap();
        assert!(!v.intact());
        assert!(head_problem(&v).contains("cut from its end"), "{v:?}");
        // The next append keeps the evidence: an anchor record, and no verify until accepted.
        let r = j.append("decision", json!({"n": 9})).unwrap();
        assert_eq!(r.seq, 4, "an anchor went first");
        let recs = j.records().unwrap();
        assert_eq!(recs[2].kind, ANCHOR);
        assert!(
            recs[2].body["reason"]
                .as_str()
                .unwrap()
                .contains("cut from its end")
        );
        let v = j.verify().unwrap();
        assert!(!v.intact(), "{v:?}");
        assert!(head_problem(&v).contains("--accept"), "{v:?}");
        j.append(ACCEPT, json!({"operator": "sre"})).unwrap();
        let v = j.verify().unwrap();
        assert!(v.intact(), "{v:?}");
        assert!(v.notes.iter().any(|n| n.contains("(accepted)")), "{v:?}");
    }

    #[test]
    fn appended_forgeries_and_a_recomputed_chain_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::in_dir(dir.path());
        four(&j);
        // Someone appends a record with a correct link and hash, without driftdeck.
        let forger = Journal::at(&dir.path().join("scratch.jsonl"));
        let last = j.records().unwrap().pop().unwrap();
        let mut f = OpenOptions::new().append(true).open(&j.path).unwrap();
        for n in 0..2 {
            let prev = if n == 0 {
                last.clone()
            } else {
                j.records().unwrap().pop().unwrap()
            };
            let r = forger
                .write_record(
                    &mut f,
                    Some(&prev),
                    true,
                    "decision",
                    json!({"verdict": "allow"}),
                )
                .unwrap();
            assert_eq!(r.seq, prev.seq + 1);
        }
        let v = j.verify().unwrap();
        assert!(
            v.damaged.iter().all(|(n, _)| *n == 0),
            "the chain itself is fine: {v:?}"
        );
        assert!(
            head_problem(&v).contains("appended by someone else"),
            "{v:?}"
        );

        // A re-computed chain: the same number of records, other content.
        let dir2 = tempfile::tempdir().unwrap();
        let j2 = Journal::in_dir(dir2.path());
        four(&j2);
        let other = tempfile::tempdir().unwrap();
        let o = Journal::in_dir(other.path());
        for n in 0..4 {
            o.append("decision", json!({"verdict": "allow", "n": n}))
                .unwrap();
        }
        std::fs::copy(&o.path, &j2.path).unwrap();
        let v = j2.verify().unwrap();
        assert!(head_problem(&v).contains("rewritten"), "{v:?}");
        // Rewriting the head as well goes unnoticed without a key, but not with one.
        std::fs::copy(o.head_path(), j2.head_path()).unwrap();
        assert!(
            j2.verify().unwrap().intact(),
            "without a key, a full rewrite is not detected"
        );
        let key = Key::new(b"0123456789abcdef0123".to_vec());
        let dir3 = tempfile::tempdir().unwrap();
        let mut j3 = Journal::in_dir(dir3.path());
        j3.key = Some(key.clone());
        four(&j3);
        assert!(j3.verify().unwrap().intact());
        std::fs::copy(&o.path, &j3.path).unwrap();
        std::fs::copy(o.head_path(), j3.head_path()).unwrap();
        let v = j3.verify().unwrap();
        assert!(head_problem(&v).contains("MAC"), "{v:?}");
        // The same journal read without the key cannot tell.
        assert!(Journal::in_dir(dir3.path()).verify().unwrap().intact());
    }

    #[test]
    fn a_missing_head_is_reported_then_anchored_with_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::in_dir(dir.path());
        four(&j);
        std::fs::remove_file(j.head_path()).unwrap();
        let v = j.verify().unwrap();
        assert!(head_problem(&v).contains("no head file"), "{v:?}");
        j.append("decision", json!({"n": 5})).unwrap();
        let recs = j.records().unwrap();
        assert_eq!(recs[4].kind, ANCHOR);
        assert_eq!(recs[4].body["through"], 4);
        assert!(!j.verify().unwrap().intact());
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let k = Key::new(b"Jefe".to_vec());
        assert_eq!(
            k.mac(b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
