//! The decision journal: append-only JSON lines in the data directory, one record per decision
//! and per operator action, each carrying the SHA-256 of the previous record, written under a
//! file lock and synced to disk before the append returns. A line torn by a crash is detected,
//! skipped and never damages the records before it; the next append starts on a fresh line.
//!
//! A record's line is `{"seq":N,"time":"…","kind":"…","prev":"…","body":{…},"hash":"…"}` where
//! `hash` is the SHA-256 of the same line without its `hash` member.

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
    /// Problems that mean the journal was altered: (line, what).
    pub damaged: Vec<(usize, String)>,
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
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
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
        }
    }

    pub fn at(path: &Path) -> Journal {
        Journal {
            path: path.to_path_buf(),
        }
    }

    fn open(&self) -> Result<File, JournalError> {
        // Its directory 0700 and refused when others can write it; the file 0600, never
        // opened through a link.
        crate::private::open_append(&self.path).map_err(JournalError::Private)
    }

    /// Appends one record and syncs it to disk. Returns it.
    pub fn append(&self, kind: &str, body: Value) -> Result<Record, JournalError> {
        let mut f = self.open()?;
        let werr = |source| JournalError::Write {
            path: self.path.clone(),
            source,
        };
        f.lock().map_err(werr)?;
        let result = (|| {
            let (last, ends_clean) = last_record(&mut f).map_err(werr)?;
            let (seq, prev) = match &last {
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
        })();
        let _ = f.unlock();
        result
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

    /// Checks the whole chain.
    pub fn verify(&self) -> Result<Verification, JournalError> {
        Ok(self.scan()?.1)
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
}
