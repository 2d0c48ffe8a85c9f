//! The LLM advisor against a local server that speaks the OpenAI chat-completions API: what it
//! sends (no secret values, the schema, the key), and every way an answer is refused.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
#![allow(unsafe_code)] // std::env::set_var, before any other thread runs

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use driftdeck::decide::Verdict;
use driftdeck::decide::advisor::llm::LlmAdvisor;
use driftdeck::decide::decider::{Decider, Mode};
use driftdeck::decide::policy::Bundle;
use driftdeck::decide::scenario::Scenario;
use driftdeck::decide::settings::LlmConfig;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Seen {
    body: Option<Value>,
    auth: Option<String>,
    path: String,
}

struct Fake {
    url: String,
    seen: Arc<Mutex<Seen>>,
    reply: Arc<Mutex<(u16, String, Duration)>>,
    /// Every request body, in order.
    bodies: Arc<Mutex<Vec<Value>>>,
    /// The `response_format` types this server refuses, as llama-cpp-python refuses
    /// `json_schema` (a 500 naming the field).
    refuse: Arc<Mutex<Vec<String>>>,
}

async fn fake() -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let reply = Arc::new(Mutex::new((200u16, String::new(), Duration::ZERO)));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let refuse = Arc::new(Mutex::new(Vec::<String>::new()));
    let (s2, r2, b2, f2) = (seen.clone(), reply.clone(), bodies.clone(), refuse.clone());
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let (seen, reply, bodies, refuse) = (s2.clone(), r2.clone(), b2.clone(), f2.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (seen, reply, bodies, refuse) =
                            (seen.clone(), reply.clone(), bodies.clone(), refuse.clone());
                        async move {
                            let path = req.uri().path().to_string();
                            let auth = req
                                .headers()
                                .get("authorization")
                                .map(|v| v.to_str().unwrap_or("").to_string());
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let parsed: Option<Value> = serde_json::from_slice(&body).ok();
                            *seen.lock().unwrap() = Seen {
                                body: parsed.clone(),
                                auth,
                                path,
                            };
                            let format = parsed
                                .as_ref()
                                .and_then(|b| b["response_format"]["type"].as_str())
                                .unwrap_or("none")
                                .to_string();
                            bodies.lock().unwrap().extend(parsed);
                            let (mut status, mut text, delay) = reply.lock().unwrap().clone();
                            if refuse.lock().unwrap().contains(&format) {
                                status = 500;
                                text = json!({"error": {"message": format!(
                                    "1 validation error: {{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': '{format}'}}"
                                )}})
                                .to_string();
                            }
                            tokio::time::sleep(delay).await;
                            let mut r = hyper::Response::new(Full::new(Bytes::from(text)));
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
    Fake {
        url: format!("http://{addr}/v1"),
        seen,
        reply,
        bodies,
        refuse,
    }
}

impl Fake {
    fn answer(&self, content: Value) {
        let body = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content.to_string()}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        });
        *self.reply.lock().unwrap() = (200, body.to_string(), Duration::ZERO);
    }

    fn raw(&self, status: u16, body: &str, delay: Duration) {
        *self.reply.lock().unwrap() = (status, body.to_string(), delay);
    }
}

fn scenario(name: &str) -> Scenario {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name);
    Scenario::load(&p).unwrap()
}

/// The id of the first evidence whose id starts with `prefix`.
fn evidence_id(facts: &driftdeck::decide::facts::Facts, prefix: &str) -> String {
    facts
        .evidence
        .iter()
        .find(|e| e.id.starts_with(prefix))
        .unwrap()
        .id
        .clone()
}

const KEY_VAR: &str = "DRIFTDECK_TEST_LLM_KEY";

fn decider(url: &str, timeout: &str) -> Decider {
    // SAFETY: set once, before any thread reads it, to the same value by every test.
    unsafe { std::env::set_var(KEY_VAR, "sk-test-123") };
    let mut d = Decider::new(Bundle::builtin().unwrap());
    d.llm = Some(Box::new(
        LlmAdvisor::from_config(&LlmConfig {
            base_url: url.into(),
            model: "test-model".into(),
            api_key_env: Some(KEY_VAR.into()),
            timeout: Some(timeout.into()),
            json_schema: None,
            max_tokens: None,
        })
        .unwrap(),
    ));
    d
}

#[tokio::test]
async fn an_agreeing_answer_is_used_and_the_request_is_clean() {
    let f = fake().await;
    let sc = scenario("p08-dev-oauth-secret-hand-edit.yaml");
    let d = decider(&f.url, "5s");
    let facts = d.facts(&sc).unwrap();
    let change = evidence_id(&facts, "change:Secret");
    f.answer(json!({"verdict": "needs-human", "confidence": 0.9,
        "reasoning": "Secret data was edited by hand with kubectl; principle 8 says a human decides.",
        "evidence": [change]}));
    let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
    assert_eq!(dec.verdict, Verdict::NeedsHuman);
    assert_eq!(dec.advisor.name, "llm");
    assert_eq!(dec.cross_check.as_ref().unwrap().name, "heuristic");
    assert!(
        !dec.guardrails.iter().any(|g| g.contains("disagree")),
        "{:?}",
        dec.guardrails
    );

    let seen = f.seen.lock().unwrap().clone();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.auth.as_deref(), Some("Bearer sk-test-123"));
    let body = seen.body.unwrap();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["temperature"], 0);
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(
        body["response_format"]["json_schema"]["schema"]["properties"]["verdict"]["enum"][3],
        "needs-human"
    );
    // No secret value leaves the machine: not the raw base64, not its decoding.
    let text = body.to_string();
    for obj in sc
        .resources
        .iter()
        .flat_map(|r| [r.desired.as_ref(), r.live.as_ref()])
        .flatten()
    {
        if let Some(data) = obj.get("data").and_then(Value::as_object) {
            for v in data.values() {
                let raw = v.as_str().unwrap();
                assert!(!text.contains(raw), "secret value {raw} sent to the LLM");
                use base64::Engine;
                if let Ok(plain) = base64::engine::general_purpose::STANDARD.decode(raw) {
                    let plain = String::from_utf8_lossy(&plain).to_string();
                    assert!(
                        plain.len() < 4 || !text.contains(&plain),
                        "decoded secret sent"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_disagreeing_answer_goes_to_a_human() {
    let f = fake().await;
    let sc = scenario("p05-grafana-service-nodeport.yaml");
    let d = decider(&f.url, "5s");
    let facts = d.facts(&sc).unwrap();
    let id = facts
        .evidence
        .iter()
        .find(|e| e.id.starts_with("change:"))
        .unwrap()
        .id
        .clone();
    f.answer(json!({"verdict": "allow", "confidence": 0.95, "reasoning": "Looks fine.", "evidence": [id]}));
    let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
    // The policy's enforce is a bound: allow cannot pass, and the disagreement escalates.
    assert_eq!(dec.verdict, Verdict::NeedsHuman);
    assert!(
        dec.guardrails.iter().any(|g| g.contains("disagree")),
        "{:?}",
        dec.guardrails
    );
    assert!(
        dec.guardrails.iter().any(|g| g.contains("bound")),
        "{:?}",
        dec.guardrails
    );
}

#[tokio::test]
async fn invented_evidence_or_numbers_and_broken_answers_are_not_answers() {
    let f = fake().await;
    let sc = scenario("p01-presence-statefulset-cpu-spike.yaml");
    let d = decider(&f.url, "5s");
    let facts = d.facts(&sc).unwrap();
    let signal = facts
        .evidence
        .iter()
        .find(|e| e.id.starts_with("signal:cpu"))
        .unwrap()
        .clone();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"verdict": "allow", "confidence": 0.9, "reasoning": "CPU spike.", "evidence": ["signal:made_up"]}),
            "not in the evidence",
        ),
        (
            json!({"verdict": "allow", "confidence": 0.9, "reasoning": "CPU is at 7.3x its baseline.", "evidence": [signal.id]}),
            "7.3",
        ),
        (
            json!({"verdict": "allow", "confidence": 1.4, "reasoning": "x", "evidence": [signal.id]}),
            "between 0 and 1",
        ),
        (
            json!({"verdict": "maybe", "confidence": 0.9, "reasoning": "x", "evidence": [signal.id]}),
            "not a verdict",
        ),
        (
            json!({"verdict": "allow", "confidence": 0.9, "reasoning": "x", "evidence": []}),
            "no evidence",
        ),
        (
            json!({"verdict": "allow", "confidence": 0.9, "reasoning": "x", "evidence": [signal.id], "action": "delete"}),
            "unexpected field",
        ),
    ];
    for (answer, why) in cases {
        f.answer(answer.clone());
        let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
        assert_eq!(dec.verdict, Verdict::NeedsHuman, "{answer}");
        assert!(
            dec.guardrails.iter().any(|g| g.contains(why)),
            "{why}: {:?}",
            dec.guardrails
        );
    }
    // Numbers that are in the facts are fine (the value, the baseline, the ratio).
    let first = signal.numbers[0];
    f.answer(json!({"verdict": "allow", "confidence": 0.9,
        "reasoning": format!("cpu_utilisation is {first}, well above its baseline; principle 1 applies."),
        "evidence": [signal.id]}));
    let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
    assert_eq!(dec.verdict, Verdict::Allow, "{:?}", dec.guardrails);

    // Not JSON; an HTTP error; a timeout.
    f.raw(
        200,
        r#"{"choices":[{"message":{"content":"I think you should allow it"}}]}"#,
        Duration::ZERO,
    );
    let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
    assert_eq!(dec.verdict, Verdict::NeedsHuman);
    assert!(
        dec.guardrails.iter().any(|g| g.contains("not JSON")),
        "{:?}",
        dec.guardrails
    );
    f.raw(
        401,
        r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
        Duration::ZERO,
    );
    let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
    assert!(
        dec.guardrails
            .iter()
            .any(|g| g.contains("Incorrect API key")),
        "{:?}",
        dec.guardrails
    );
    assert!(
        !format!("{dec:?}").contains("sk-test-123"),
        "the key leaked into the decision"
    );
    let slow = decider(&f.url, "300ms");
    f.raw(200, "{}", Duration::from_secs(3));
    let start = std::time::Instant::now();
    let dec = slow.decide(&sc, Mode::Advisory).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(dec.verdict, Verdict::NeedsHuman);
    assert!(
        dec.guardrails.iter().any(|g| g.contains("did not answer")),
        "{:?}",
        dec.guardrails
    );
}

/// A model may only make the gate stricter: agreeing with the heuristic at a higher confidence,
/// it does not lift the decision's confidence (over the threshold, say).
#[tokio::test]
async fn an_agreeing_model_cannot_raise_the_confidence() {
    let f = fake().await;
    let sc = scenario("p03-invoicing-env-log-level-debug.yaml");
    let d = decider(&f.url, "5s");
    let facts = d.facts(&sc).unwrap();
    let heuristic = Decider::new(Bundle::builtin().unwrap())
        .decide(&sc, Mode::Advisory)
        .await
        .unwrap()
        .advisor;
    assert_eq!(heuristic.name, "heuristic");
    let id = facts.evidence[0].id.clone();
    f.answer(
        json!({"verdict": heuristic.verdict.to_string(), "confidence": 1.0,
        "reasoning": "Plain setting changed by hand.", "evidence": [id]}),
    );
    let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
    assert_eq!(dec.advisor.name, "llm");
    assert_eq!(dec.advisor.confidence, 1.0);
    let h = dec.cross_check.as_ref().unwrap();
    assert!(h.confidence < 1.0);
    assert_eq!(dec.confidence, h.confidence, "{:?}", dec.guardrails);
    assert!(
        dec.guardrails.iter().any(|g| g.contains("capped")),
        "{:?}",
        dec.guardrails
    );
}

/// Credentials planted in every place a manifest can carry them (argument values in each
/// form, a shell command, annotations and data of a Secret, env, a ConfigMap key) never reach
/// the model, the journal, its export, the output or the logs: neither as written nor in
/// base64.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_credentials_reach_neither_the_model_nor_the_journal_nor_the_logs() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let f = fake().await;
    let planted = [
        "Pl4nted-Eq-Arg-1",
        "Pl4nted-Sep-Arg-2",
        "Pl4nted-P-Arg-3",
        "Pl4nted-Shell-4",
        "Pl4nted-Eq-Live-5",
        "Pl4nted-Annotation-6",
        "Pl4nted-Annotation-Live-7",
        "Pl4nted-Data-8",
        "Pl4nted-Env-9",
        "Pl4nted-Cm-10",
    ];
    let deployment = |pw: &str, replicas: u32| {
        format!(
            r#"
      apiVersion: apps/v1
      kind: Deployment
      metadata: {{name: ledger, namespace: pay}}
      spec:
        replicas: {replicas}
        selector: {{matchLabels: {{app: ledger}}}}
        template:
          metadata: {{labels: {{app: ledger}}}}
          spec:
            containers:
              - name: ledger
                image: registry.example.com/pay/ledger:1.2.3
                command: ["sh", "-c", "mysql --password={p4} -h db && exec ledger"]
                args: ["--db-password={pw}", "--api-token", "{p2}", "-p", "{p3}", "--port=8080"]
                env:
                  - {{name: DB_PASSWORD, value: {p9}}}
"#,
            p2 = planted[1],
            p3 = planted[2],
            p4 = planted[3],
            p9 = planted[8],
        )
    };
    let secret = |ann: &str| {
        format!(
            r#"
      apiVersion: v1
      kind: Secret
      metadata:
        name: ledger-vault
        namespace: pay
        annotations: {{vault.hashicorp.com/token: {ann}, note: {ann}}}
      type: Opaque
      data: {{token: {data}}}
"#,
            data = b64(planted[7])
        )
    };
    let indent = |s: String| {
        s.lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let sc = format!(
        r#"name: planted-credentials
description: credentials in every place a manifest can carry them
now: "2026-07-19T19:42:00Z"
app:
  metadata: {{name: ledger, namespace: argocd, labels: {{env: staging}}}}
  spec:
    project: pay
    source: {{repoURL: https://git.example.com/pay.git, path: ledger, targetRevision: main}}
    destination: {{server: "https://staging.k8s.example.com", namespace: pay}}
resources:
  - desired:
{d1}
    live:
{l1}
  - desired:
{d2}
    live:
{l2}
  - desired:
      apiVersion: v1
      kind: ConfigMap
      metadata: {{name: ledger-config, namespace: pay}}
      data: {{db_password: {cm}, log_level: info}}
    live:
      apiVersion: v1
      kind: ConfigMap
      metadata: {{name: ledger-config, namespace: pay}}
      data: {{db_password: {cm}-live, log_level: debug}}
"#,
        d1 = indent(deployment(planted[0], 2)),
        l1 = indent(deployment(planted[4], 3)),
        d2 = indent(secret(planted[5])),
        l2 = indent(secret(planted[6])),
        cm = planted[9],
    );
    let dir = tempfile::tempdir().unwrap();
    let scf = dir.path().join("planted.yaml");
    std::fs::write(&scf, &sc).unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[decide]\nadvisor = \"llm\"\n[decide.llm]\nbase_url = \"{}\"\nmodel = \"m\"\ntimeout = \"5s\"\n",
            f.url
        ),
    )
    .unwrap();
    // The model agrees with whatever it is asked about (its answer is not under test here).
    let parsed = Scenario::load(&scf).unwrap();
    let facts = Decider::new(Bundle::builtin().unwrap())
        .facts(&parsed)
        .unwrap();
    f.answer(json!({"verdict": "needs-human", "confidence": 0.5,
        "reasoning": "A credential was changed by hand.", "evidence": [facts.evidence[0].id]}));
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_driftdeck"))
            .args(args)
            .env("DRIFTDECK_CONFIG", &cfg)
            .env("DRIFTDECK_DATA_DIR", &data)
            .env("DRIFTDECK_LOG_DIR", &logs)
            .env("DRIFTDECK_LOG", "trace")
            .env("HOME", dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    let mut outputs = String::new();
    for out in ["json", "text"] {
        outputs += &run(&[
            "decide",
            "--scenario",
            scf.to_str().unwrap(),
            "--output",
            out,
        ]);
    }
    outputs += &run(&["journal", "tail"]);
    outputs += &run(&["journal", "tail", "--output", "json"]);
    outputs += &run(&["journal", "export"]);
    let export = dir.path().join("export");
    outputs += &run(&["journal", "export", "--out", export.to_str().unwrap()]);
    let request = f
        .seen
        .lock()
        .unwrap()
        .body
        .clone()
        .expect("the model was asked");
    assert!(outputs.contains("planted-credentials"), "{outputs}");
    // The drift is still seen for what it is: the password and the credential changed.
    let req = request.to_string();
    assert!(
        req.contains("db-password") && req.contains("++++++++"),
        "{req}"
    );

    let mut places: Vec<(String, String)> = vec![
        ("the model's request".into(), req),
        ("the output".into(), outputs),
    ];
    for d in [&data, &logs, &export] {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            places.push((
                e.path().display().to_string(),
                String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned(),
            ));
        }
    }
    assert!(places.iter().any(|(p, _)| p.ends_with("journal.jsonl")));
    for (place, text) in &places {
        for p in planted {
            assert!(!text.contains(p), "{p} in {place}");
            assert!(!text.contains(&b64(p)), "{p} (base64) in {place}");
        }
    }
}

/// A model's reply larger than 1 MiB is refused as it streams in (a 1.5 GB reply once used
/// 3.3 GB of memory), and a human decides.
#[tokio::test]
async fn a_huge_model_reply_is_refused_naming_the_limit() {
    let f = fake().await;
    let sc = scenario("p03-invoicing-env-log-level-debug.yaml");
    let d = decider(&f.url, "10s");
    let big = format!(
        "{{\"choices\":[{{\"message\":{{\"content\":\"{}\"}}}}]}}",
        "x".repeat(3 * 1024 * 1024)
    );
    f.raw(200, &big, Duration::ZERO);
    let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
    assert_eq!(dec.verdict, Verdict::NeedsHuman);
    assert!(
        dec.guardrails
            .iter()
            .any(|g| g.contains("larger than 1 MiB")),
        "{:?}",
        dec.guardrails
    );
}

#[tokio::test]
async fn a_server_that_refuses_json_schema_is_asked_with_the_next_form_and_remembered() {
    let f = fake().await;
    let sc = scenario("p08-dev-oauth-secret-hand-edit.yaml");
    let d = decider(&f.url, "5s");
    let facts = d.facts(&sc).unwrap();
    let change = evidence_id(&facts, "change:Secret");
    let answer = json!({"verdict": "needs-human", "confidence": 0.9,
        "reasoning": "Secret data was edited by hand.", "evidence": [change.clone()]});
    f.answer(answer.clone());
    // llama-cpp-python: json_schema refused with a 500 that names response_format.
    f.refuse.lock().unwrap().push("json_schema".into());
    let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
    assert_eq!(dec.advisor.name, "llm", "{:?}", dec.guardrails);
    assert!(
        !dec.guardrails
            .iter()
            .any(|g| g.contains("no usable answer"))
    );
    let bodies = f.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["response_format"]["type"], "json_schema");
    assert_eq!(bodies[1]["response_format"]["type"], "json_object");
    let schema = &bodies[1]["response_format"]["schema"];
    assert_eq!(schema["properties"]["verdict"]["enum"][0], "allow");
    // The evidence the model may cite is this drift's catalogue, nothing else.
    let ids: Vec<&str> = schema["properties"]["evidence"]["items"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(ids.contains(&change.as_str()));
    assert_eq!(ids.len(), facts.evidence.len());
    // Remembered: the next decision asks with the accepted form at once.
    d.decide(&sc, Mode::Advisory).await.unwrap();
    let bodies = f.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[2]["response_format"]["type"], "json_object");
    assert_eq!(
        d.llm.as_ref().unwrap().detail().unwrap(),
        format!(
            "test-model at {}/chat/completions, response_format json_object+schema",
            f.url
        )
    );

    // A server that refuses every form is asked without one, and its prose-wrapped answer
    // is still read.
    f.bodies.lock().unwrap().clear();
    f.refuse.lock().unwrap().extend(["json_object".to_string()]);
    let prose = format!("Here is my advice:\n{answer}\nHope this helps.");
    let body =
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": prose}}]});
    f.raw(200, &body.to_string(), Duration::ZERO);
    let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
    assert_eq!(dec.advisor.name, "llm", "{:?}", dec.guardrails);
    assert_eq!(dec.advisor.verdict, Verdict::NeedsHuman);
    let bodies = f.bodies.lock().unwrap().clone();
    assert_eq!(
        bodies.len(),
        3,
        "json_object with the schema, json_object, then none"
    );
    assert!(bodies[2].get("response_format").is_none());

    // An error about something else is not a reason to change the form: one request, and a
    // human decides with the server's words.
    let d = decider(&f.url, "5s");
    f.refuse.lock().unwrap().clear();
    f.bodies.lock().unwrap().clear();
    f.raw(
        404,
        r#"{"error": {"message": "model 'test-model' not found"}}"#,
        Duration::ZERO,
    );
    let dec = d.decide(&sc, Mode::Advisory).await.unwrap();
    assert_eq!(dec.verdict, Verdict::NeedsHuman);
    assert!(
        dec.guardrails
            .iter()
            .any(|g| g.contains("no usable answer") && g.contains("not found")),
        "{:?}",
        dec.guardrails
    );
    assert_eq!(f.bodies.lock().unwrap().len(), 1);
}
