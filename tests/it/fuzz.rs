//! Fuzzing, bounded: the parsers that take outside input (the watch stream's framing, server
//! replies, the diff, scenarios, configs, themes, keymaps) are fed random and mutated input and
//! must answer with a value or an error, never a panic. Each property runs a fixed number of
//! cases (`PROPTEST_CASES` raises it for a longer run); failures are kept in
//! `tests/fuzz.proptest-regressions` and replayed first on every run, with the hand-picked inputs
//! of `tests/fuzz-corpus/`.

use std::path::Path;

use driftdeck::clients::argocd::sse::{Frame, NdjsonParser, SseParser, decode};
use driftdeck::config::Config;
use driftdeck::decide::scenario::Scenario;
use driftdeck::diff::{Normalizer, diff};
use driftdeck::tui::keymap::Keymap;
use driftdeck::tui::theme::Theme;
use proptest::prelude::*;
use serde_json::{Value, json};

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        ..ProptestConfig::default()
    }
}

/// Feeds `bytes` to `push` (a parser's) in the chunks given by `cuts`; the frames it made.
fn chunked<E: ToString>(
    mut push: impl FnMut(&[u8], &mut Vec<Frame>) -> Result<(), E>,
    bytes: &[u8],
    cuts: &[usize],
) -> Result<Vec<Frame>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort();
    points.push(bytes.len());
    for c in points {
        push(&bytes[at..c.max(at)], &mut out).map_err(|e| e.to_string())?;
        at = c.max(at);
    }
    Ok(out)
}

fn sse_frames(bytes: &[u8], cuts: &[usize]) -> Result<Vec<Frame>, String> {
    let mut p = SseParser::new();
    chunked(|b, out| p.push(b, out), bytes, cuts)
}

fn ndjson_frames(bytes: &[u8], cuts: &[usize]) -> Result<Vec<Frame>, String> {
    let mut p = NdjsonParser::default();
    chunked(|b, out| p.push(b, out), bytes, cuts)
}

/// Stream-like bytes: real frames, keep-alives, junk and line endings of every kind.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data: {\"result\":{\"type\":\"MODIFIED\",\"application\":{\"metadata\":{\"name\":\"a\"}}}}\n\n".to_vec()),
        Just(b":\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event: x\nid: 3\n".to_vec()),
        Just(b"data: {\"error\":{\"grpc_code\":14,\"message\":\"x\"}}\n\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(piece, 0..20).prop_map(|v| v.concat())
}

/// JSON values of bounded size, Kubernetes-ish at the top.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-zA-Z0-9 ./:_-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn k8s_object() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just("ConfigMap"),
            Just("Secret"),
            Just("Deployment"),
            Just("Service")
        ],
        json_value(),
        json_value(),
    )
        .prop_map(|(kind, spec, data)| {
            json!({
                "apiVersion": if kind == "Deployment" { "apps/v1" } else { "v1" },
                "kind": kind,
                "metadata": {"name": "x", "namespace": "ns"},
                "spec": spec,
                "data": data,
            })
        })
}

/// A valid text with a few bytes changed, removed or repeated.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec((any::<usize>(), 0u8..3, any::<u8>()), 1..6).prop_map(move |ops| {
        let mut b = base.as_bytes().to_vec();
        for (at, op, byte) in ops {
            if b.is_empty() {
                break;
            }
            let i = at % b.len();
            match op {
                0 => b[i] = byte,
                1 => {
                    b.remove(i);
                }
                _ => {
                    let j = (i + 16).min(b.len());
                    let piece = b[i..j].to_vec();
                    b.splice(i..i, piece);
                }
            }
        }
        String::from_utf8_lossy(&b).into_owned()
    })
}

const CONFIG: &str = include_str!("../../assets/config.example.toml");
const THEME: &str = include_str!("../../themes/colorblind.toml");
const KEYMAP: &str = include_str!("../../keymaps/vim.toml");
const SCENARIO: &str = include_str!("../scenarios/p01-storefront-hpa-max-replicas-incident.yaml");

fn no_lookup(_: &str) -> Option<(std::path::PathBuf, String)> {
    None
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn sse_framing_never_panics_and_chunking_does_not_matter(
        bytes in stream_bytes(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = sse_frames(&bytes, &[]);
        let chunked = sse_frames(&bytes, &cuts);
        prop_assert_eq!(whole, chunked);
        let whole = ndjson_frames(&bytes, &[]);
        let chunked = ndjson_frames(&bytes, &cuts);
        prop_assert_eq!(whole, chunked);
        // Whatever a frame holds, decoding it answers.
        if let Ok(frames) = sse_frames(&bytes, &cuts) {
            for f in frames {
                if let Frame::Data(d) = f {
                    let _ = decode::<Value>(&d);
                }
            }
        }
    }

    #[test]
    fn server_replies_of_any_bytes_decode_or_fail(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode::<Value>(&bytes);
        let _ = serde_json::from_slice::<driftdeck::model::app::ApplicationList>(&bytes);
        let _ = serde_json::from_slice::<driftdeck::model::app::Application>(&bytes);
    }

    #[test]
    fn the_diff_answers_for_any_objects_and_an_object_equals_itself(
        a in k8s_object(),
        b in k8s_object(),
    ) {
        let norm = Normalizer::default();
        let same = diff(Some(&a), Some(&a), &norm);
        if let Ok(d) = same {
            prop_assert!(!d.modified, "an object differs from itself: {:#}", a);
        }
        let _ = diff(Some(&a), Some(&b), &norm);
        let _ = diff(None, Some(&b), &norm);
        let _ = diff(Some(&a), None, &norm);
        let (x, y) = (a.to_string(), b.to_string());
        let _ = driftdeck::diff::compute::hunks(&x, &y, 3);
        prop_assert!(driftdeck::diff::compute::hunks(&x, &x, 3).is_empty());
    }

    #[test]
    fn configs_themes_keymaps_and_scenarios_parse_or_say_why(
        config in mutated(CONFIG),
        theme in mutated(THEME),
        keymap in mutated(KEYMAP),
        scenario in mutated(SCENARIO),
        junk in "\\PC{0,200}",
    ) {
        let p = Path::new("/fuzz/file");
        for text in [&config, &junk] {
            if let Err(errs) = Config::parse(p, text) {
                prop_assert!(!errs.is_empty() && errs.iter().all(|e| !e.message.is_empty()));
            }
        }
        for text in [&theme, &junk] {
            if let Err(errs) = Theme::parse(p, text, &no_lookup) {
                prop_assert!(!errs.is_empty());
            }
        }
        for text in [&keymap, &junk] {
            if let Err(errs) = Keymap::parse(p, text, Some(&Keymap::default())) {
                prop_assert!(!errs.is_empty());
            }
        }
        for text in [&scenario, &junk] {
            if let Err(e) = Scenario::parse(p, text) {
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}

/// The kept corpus: inputs that once mattered, replayed on every run.
#[test]
fn the_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = e.path();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let p = Path::new("/fuzz/file");
        match name.split('-').next().unwrap_or("") {
            "sse" => {
                let _ = sse_frames(&bytes, &[1, 7, 13]);
                let _ = ndjson_frames(&bytes, &[2, 5]);
            }
            "reply" => {
                let _ = decode::<Value>(&bytes);
            }
            "config" => {
                let _ = Config::parse(p, &text);
            }
            "theme" => {
                let _ = Theme::parse(p, &text, &no_lookup);
            }
            "keymap" => {
                let _ = Keymap::parse(p, &text, Some(&Keymap::default()));
            }
            "scenario" => {
                let _ = Scenario::parse(p, &text);
            }
            "diff" => {
                if let Ok(v) = serde_json::from_slice::<Vec<Value>>(&bytes)
                    && let [a, b] = v.as_slice()
                {
                    let _ = diff(Some(a), Some(b), &Normalizer::default());
                }
            }
            other => panic!("{name}: unknown corpus kind `{other}`"),
        }
        n += 1;
    }
    assert!(n >= 8, "the corpus is there ({n} files)");
}
