//! The LLM advisor: any OpenAI-compatible chat-completions endpoint. The model sees the
//! principles and a digest of the facts with every secret value masked (never the objects
//! themselves); it must answer with JSON that fits a schema, cite evidence that exists in the
//! catalogue, and quote only numbers that the facts contain. Anything else is not an answer,
//! and the decision goes to a human.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{Advice, Advisor, AdvisorError};
use crate::decide::Verdict;
use crate::decide::facts::{Facts, numbers_in};
use crate::decide::settings::LlmConfig;
use crate::util::Secret;

/// What the model is told, besides the facts.
pub const SYSTEM_PROMPT: &str = "You advise an SRE on a Kubernetes resource that drifted from Git under Argo CD. \
Decide what to do, following these principles, and answer only with JSON.\n\
Verdicts, loosest to strictest: allow (legitimate, keep it), defer (revert at the next sync window), \
enforce (revert now), needs-human (no safe automatic answer).\n\
1. Replicas or CPU/memory raised while load is about 2x baseline or more, and/or an open incident or firing alert concerns that service: allow.\n\
2. Replicas written by an autoscaler (kube-controller-manager) or an HPA targets the workload: allow.\n\
3. ConfigMap drift of non-sensitive settings (log level, feature toggles, timeouts), nothing security-related, no incident: defer.\n\
4. Operational metadata (restartedAt, incident annotations, revision bumps): allow.\n\
5. Security weakening, in every environment: RBAC broadened, binding subjects added, privileged, hostNetwork/hostPID, \
added capabilities, runAsUser 0, NetworkPolicy deleted or loosened, Service exposed, an image from a registry neither Git \
nor the deployment history uses, config switching off TLS verification, MFA or CORS: enforce.\n\
6. A resource declared in Git and missing live: enforce.\n\
7. Image changed by hand with no incident: enforce. During an open incident, to exactly a previously deployed image: allow.\n\
8. When in doubt, needs-human: replicas scaled to 0 in production with no incident; Secret data edited by hand; scaling while \
metrics are failed or stale, or with no evidence justifying it (an incident on another service justifies nothing); an image \
changed during an incident to a tag never deployed.\n\
9. Resources or replicas lowered with no traffic reason, no incident, nothing security-related: defer.\n\
10. A Secret changed by the external-secrets controller where an ExternalSecret owns it: allow.\n\
11. Drift in a non-production app that is not security-related: allow.\n\
Several resources: the strictest verdict wins. A drift that deleted or would delete a resource is never allow.\n\
Cite the evidence you rely on by its id, exactly as listed. Quote only numbers that appear in the evidence. \
Give a confidence between 0 and 1 that your verdict is what an experienced SRE would choose.";

/// The JSON schema the answer must fit.
pub fn answer_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["verdict", "confidence", "reasoning", "evidence"],
        "properties": {
            "verdict": {"type": "string", "enum": ["allow", "defer", "enforce", "needs-human"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "reasoning": {"type": "string", "maxLength": 600},
            "evidence": {"type": "array", "items": {"type": "string"}, "maxItems": 12}
        }
    })
}

/// The schema for one drift: the evidence can only be ids of its catalogue, so a server that
/// enforces the schema by grammar cannot let the model cite anything else.
pub fn answer_schema_for(facts: &Facts) -> Value {
    let mut s = answer_schema();
    let ids: Vec<&str> = facts.evidence.iter().map(|e| e.id.as_str()).collect();
    if !ids.is_empty() {
        s["properties"]["evidence"]["items"] = json!({"type": "string", "enum": ids});
    }
    s
}

/// The LLM advisor.
pub struct LlmAdvisor {
    http: reqwest::Client,
    url: String,
    model: String,
    key: Option<Secret>,
    timeout: Duration,
    max_tokens: u32,
    /// The structured-output form to send, as an index into [`FORMATS`]: it moves down the
    /// list when a server refuses one, and stays there for the advisor's life.
    format: std::sync::atomic::AtomicUsize,
}

/// The structured-output forms, strictest first: OpenAI's `json_schema` (vLLM, Ollama,
/// llama.cpp's own server), `json_object` with the schema beside it (llama-cpp-python, which
/// refuses `json_schema` and enforces this one by grammar), plain `json_object`, and nothing.
/// Whatever the server enforces, the answer is checked against the schema here.
pub const FORMATS: [&str; 4] = ["json_schema", "json_object+schema", "json_object", "none"];

impl LlmAdvisor {
    /// From the config; the key is read from its environment variable now.
    pub fn from_config(cfg: &LlmConfig) -> Result<LlmAdvisor, String> {
        let timeout = match &cfg.timeout {
            Some(t) => {
                crate::util::parse_duration(t).map_err(|e| format!("[decide.llm] timeout: {e}"))?
            }
            None => Duration::from_secs(20),
        };
        let key = match &cfg.api_key_env {
            Some(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
                _ => {
                    return Err(format!(
                        "the LLM API key variable {var} is not set: export it, or remove api_key_env for an endpoint without a key"
                    ));
                }
            },
            None => None,
        };
        Ok(LlmAdvisor {
            http: crate::clients::http::client(&cfg.base_url, timeout)?,
            url: crate::clients::http::join(&cfg.base_url, "chat/completions"),
            model: cfg.model.clone(),
            key,
            timeout,
            max_tokens: cfg.max_tokens.unwrap_or(512),
            format: std::sync::atomic::AtomicUsize::new(if cfg.json_schema.unwrap_or(true) {
                0
            } else {
                2
            }),
        })
    }

    /// The structured-output form it sends now (one of [`FORMATS`]).
    pub fn format(&self) -> &'static str {
        FORMATS[self
            .format
            .load(std::sync::atomic::Ordering::Relaxed)
            .min(FORMATS.len() - 1)]
    }

    /// The request body for the facts (what a test may inspect).
    pub fn request(&self, facts: &Facts) -> Value {
        self.request_as(facts, self.format())
    }

    fn request_as(&self, facts: &Facts, format: &str) -> Value {
        let mut body = json!({
            "model": self.model,
            "temperature": 0,
            "max_tokens": self.max_tokens,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": digest(facts)},
            ],
        });
        let response_format = match format {
            "json_schema" => Some(
                json!({"type": "json_schema", "json_schema": {"name": "drift_advice", "strict": true, "schema": answer_schema_for(facts)}}),
            ),
            "json_object+schema" => {
                Some(json!({"type": "json_object", "schema": answer_schema_for(facts)}))
            }
            "json_object" => Some(json!({"type": "json_object"})),
            _ => None,
        };
        if let Some(f) = response_format {
            body["response_format"] = f;
        }
        body
    }

    /// Asks, stepping down the structured-output forms while the server refuses the one sent
    /// because of it (an error that names `response_format` or the form).
    async fn ask(&self, facts: &Facts) -> Result<Advice, AdvisorError> {
        use std::sync::atomic::Ordering;
        loop {
            let at = self.format.load(Ordering::Relaxed).min(FORMATS.len() - 1);
            match self.ask_as(facts, FORMATS[at]).await {
                Err(AdvisorError::Refused(msg))
                    if at + 1 < FORMATS.len() && refuses_format(&msg) =>
                {
                    tracing::info!(
                        "the model server refused response_format {}; trying {}",
                        FORMATS[at],
                        FORMATS[at + 1]
                    );
                    let _ = self.format.compare_exchange(
                        at,
                        at + 1,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                other => return other,
            }
        }
    }

    async fn ask_as(&self, facts: &Facts, format: &str) -> Result<Advice, AdvisorError> {
        let mut req = self
            .http
            .post(&self.url)
            .json(&self.request_as(facts, format));
        if let Some(k) = &self.key {
            req = req.bearer_auth(k.expose());
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                AdvisorError::Timeout(self.timeout.as_secs())
            } else {
                AdvisorError::Unreachable(without_url(&e))
            }
        })?;
        let status = resp.status();
        // A model's answer is a few hundred bytes: a huge reply is refused as it streams in.
        let body = crate::limits::text(resp, crate::limits::MAX_MODEL_REPLY)
            .await
            .map_err(|e| match e {
                crate::limits::BodyError::Transport(e) if e.is_timeout() => {
                    AdvisorError::Timeout(self.timeout.as_secs())
                }
                crate::limits::BodyError::Transport(e) => {
                    AdvisorError::Unreachable(without_url(&e))
                }
                e => AdvisorError::Invalid(e.to_string()),
            })?;
        if !status.is_success() {
            let msg = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| {
                    v.pointer("/error/message")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| body.chars().take(200).collect());
            return Err(AdvisorError::Refused(format!(
                "HTTP {}: {msg}",
                status.as_u16()
            )));
        }
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| AdvisorError::Invalid(format!("the reply is not JSON: {e}")))?;
        let content = v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                AdvisorError::Invalid("the reply has no choices[0].message.content".into())
            })?;
        check_answer(content, facts)
    }
}

/// Whether a server's error is about the structured-output form it was sent.
fn refuses_format(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("response_format") || m.contains("json_schema") || m.contains("json_object")
}

/// The error and its causes, in one line.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

impl Advisor for LlmAdvisor {
    fn name(&self) -> &str {
        "llm"
    }

    fn detail(&self) -> Option<String> {
        Some(format!(
            "{} at {}, response_format {}",
            self.model,
            self.url,
            self.format()
        ))
    }

    fn advise<'a>(&'a self, facts: &'a Facts) -> BoxFuture<'a, Result<Advice, AdvisorError>> {
        Box::pin(self.ask(facts))
    }
}

/// The facts as the model sees them: no manifests, masked values only, and the evidence
/// catalogue to cite from.
pub fn digest(facts: &Facts) -> String {
    let i = &facts.input;
    let resources: Vec<Value> = i
        .resources
        .iter()
        .map(|r| {
            json!({
                "resource": r.short,
                "kind": r.kind,
                "state": r.state,
                "changes": r.changes.iter().map(|c| json!({
                    "id": c.id, "path": c.path, "op": c.op, "git": c.old, "live": c.new,
                    "category": c.category, "manager": c.manager,
                })).collect::<Vec<_>>(),
                "images": r.images,
                "settings": r.settings.iter().map(|s| json!({
                    "key": s.key, "git": s.old, "live": s.new, "credential": s.credential,
                })).collect::<Vec<_>>(),
                "owners": r.owners,
                "autoscaler": r.autoscaler,
            })
        })
        .collect();
    let doc = json!({
        "now": i.now,
        "app": {
            "name": i.app.name,
            "environment": i.app.environment,
            "production": i.app.production,
            "identities": i.app.identities,
            "history_images": i.app.images.history,
        },
        "resources": resources,
        "context": {
            "configured": i.context.configured,
            "metrics_source": i.context.metrics,
            "incidents_source": i.context.incidents_source,
            "signals": i.context.signals,
            "incidents": i.context.incidents,
            "alerts": i.context.alerts,
            "events": i.context.events,
        },
        "sync_windows": i.window,
        "evidence": facts.evidence.iter().map(|e| json!({"id": e.id, "what": e.text})).collect::<Vec<_>>(),
    });
    format!(
        "The drift, as JSON (values from Git are `git`, from the cluster `live`; secret values are masked):\n{}\n\n\
Answer with a JSON object: {{\"verdict\": one of allow, defer, enforce, needs-human; \"confidence\": a decimal between 0.0 and 1.0; \"reasoning\": one or two sentences; \"evidence\": the ids of the evidence you rely on}}.",
        serde_json::to_string(&doc).unwrap_or_default()
    )
}

/// Checks a model's answer against the schema and the facts.
pub fn check_answer(content: &str, facts: &Facts) -> Result<Advice, AdvisorError> {
    let bad = |m: String| AdvisorError::Invalid(m);
    let text = content.trim();
    let text = text
        .strip_prefix("```json")
        .or_else(|| text.strip_prefix("```"))
        .map(|t| t.trim_end().trim_end_matches("```").trim())
        .unwrap_or(text);
    // A server that ignores the structured-output request may wrap the object in prose.
    let v: Value = serde_json::from_str(text)
        .or_else(|e| match (text.find('{'), text.rfind('}')) {
            (Some(a), Some(b)) if a < b => serde_json::from_str(&text[a..=b]),
            _ => Err(e),
        })
        .map_err(|e| bad(format!("the answer is not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("the answer is not a JSON object".into()))?;
    for k in obj.keys() {
        if !["verdict", "confidence", "reasoning", "evidence"].contains(&k.as_str()) {
            return Err(bad(format!("unexpected field `{k}`")));
        }
    }
    let verdict: Verdict = obj
        .get("verdict")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("`verdict` is missing".into()))?
        .parse()
        .map_err(bad)?;
    let confidence = obj
        .get("confidence")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("`confidence` is missing or not a number".into()))?;
    if !(0.0..=1.0).contains(&confidence) {
        return Err(bad(format!(
            "`confidence` {confidence} is not between 0 and 1"
        )));
    }
    let reasoning = obj
        .get("reasoning")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("`reasoning` is missing".into()))?
        .to_string();
    let evidence: Vec<String> = obj
        .get("evidence")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`evidence` is missing".into()))?
        .iter()
        .map(|e| {
            e.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad("`evidence` must be strings".into()))
        })
        .collect::<Result<_, _>>()?;
    if evidence.is_empty() {
        return Err(bad("it cites no evidence".into()));
    }
    for id in &evidence {
        if facts.evidence(id).is_none() {
            return Err(bad(format!(
                "it cites `{id}`, which is not in the evidence"
            )));
        }
    }
    if let Some(n) = unfounded_number(&reasoning, facts) {
        return Err(bad(format!(
            "it quotes {n}, a number the facts do not contain"
        )));
    }
    Ok(Advice {
        name: "llm".into(),
        verdict,
        confidence,
        reasoning,
        evidence,
    })
}

/// The first number in the reasoning that matches nothing in the facts (dates, times,
/// identifiers and principle numbers aside).
pub fn unfounded_number(reasoning: &str, facts: &Facts) -> Option<f64> {
    static STRIP: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let strip = STRIP.get_or_init(|| {
        regex::Regex::new(
            r"(?i)\d{4}-\d{2}-\d{2}(t[\d:.]+z?)?|\d{1,2}:\d{2}(:\d{2})?|principles?\s+\d+(\s*(,|and|or)\s*\d+)*|confidence\s+(of\s+)?\d*\.?\d+|\b[a-z]+[-_]\d[\w.-]*|v\d[\w.-]*|:\d[\w.-]*",
        )
        .expect("a literal regular expression")
    });
    let cleaned = strip.replace_all(reasoning, " ");
    let mut known: Vec<f64> = Vec::new();
    for e in &facts.evidence {
        known.extend(e.numbers.iter().copied());
        known.extend(numbers_in(&e.text));
        known.extend(numbers_in(&e.id));
    }
    let derived: Vec<f64> = known.iter().map(|k| k * 100.0).collect();
    known.extend(derived);
    for n in numbers_in(&cleaned) {
        let ok = known.iter().any(|k| {
            let tol = 0.01 * k.abs().max(1.0);
            (k - n).abs() <= tol
                || (k.round() == n && n.fract() == 0.0)
                || ((k * 10.0).round() / 10.0 - n).abs() < 1e-9
        });
        if !ok {
            return Some(n);
        }
    }
    None
}
