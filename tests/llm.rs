//! The LLM advisor against a local server that speaks the OpenAI chat-completions API: what it
//! sends (no secret values, the schema, the key), and every way an answer is refused.

mod common;

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
}

async fn fake() -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let reply = Arc::new(Mutex::new((200u16, String::new(), Duration::ZERO)));
    let (s2, r2) = (seen.clone(), reply.clone());
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let (seen, reply) = (s2.clone(), r2.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (seen, reply) = (seen.clone(), reply.clone());
                        async move {
                            let path = req.uri().path().to_string();
                            let auth = req
                                .headers()
                                .get("authorization")
                                .map(|v| v.to_str().unwrap_or("").to_string());
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            *seen.lock().unwrap() = Seen {
                                body: serde_json::from_slice(&body).ok(),
                                auth,
                                path,
                            };
                            let (status, text, delay) = reply.lock().unwrap().clone();
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
    let change = facts
        .evidence
        .iter()
        .find(|e| e.id.starts_with("change:Secret"))
        .unwrap()
        .id
        .clone();
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
