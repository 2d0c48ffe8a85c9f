//! The config sections of decisions: `[decide]` (mode, threshold, advisor, LLM, autonomy) and
//! `[context]` (Prometheus, Alertmanager, PagerDuty, Kubernetes events), `[policy]`, and the
//! decision mode they choose. Plain data: `decide` reads them, the config validates them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[decide]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecideConfig {
    /// shadow (record only), advisory (default: suggest, an operator acts), autonomous.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Under this confidence a human decides (default 0.80).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence_threshold: Option<f64>,
    /// `heuristic` (default, offline) or `llm` (the heuristic still cross-checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisor: Option<AdvisorKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autonomous: Option<AutonomyConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AdvisorKind {
    #[default]
    Heuristic,
    Llm,
}

/// An OpenAI-compatible chat-completions endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    pub model: String,
    /// The environment variable that holds the API key (never the key itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Give up after this long (default 20s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Ask for `response_format: json_schema` first (default true). A server that refuses
    /// it is asked with the next form (`json_object` with the schema, `json_object`, none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<bool>,
    /// The most tokens an answer may take (default 512): bounds a small model that rambles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

/// Limits of autonomous mode.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutonomyConfig {
    /// At most this many actions in any hour (default 6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_actions_per_hour: Option<u32>,
    /// Fall back to advisory when agreement with operators drops under this (default 0.9).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_agreement: Option<f64>,
    /// Over this many of the latest operator reviews (default 20; at least 5 before judging).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement_window: Option<usize>,
}

/// `[context]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextConfig {
    /// Each source's time limit (default 2s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alertmanager: Option<AlertmanagerConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagerduty: Option<PagerDutyConfig>,
    /// Kubernetes events of the drifted objects, through the Argo CD API (default on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<bool>,
    /// MCP servers whose tools give signals, alerts or incidents (`[[context.mcp]]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mcp: Vec<McpSourceConfig>,
}

/// A context source that calls the tools of an MCP server, over stdio (`command`) or
/// streamable HTTP (`url`). Tool arguments are JSON values; their strings may use `{app}`,
/// `{namespace}`, `{service}`, `{project}`, `{cluster}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpSourceConfig {
    /// Its name: the sources are `mcp:NAME/signals`, `mcp:NAME/alerts`, `mcp:NAME/incidents`.
    pub name: String,
    /// The server's command and its arguments (stdio).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// The server's streamable HTTP endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A bearer token's environment variable (HTTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// A failed call may reuse the app's last answer this recent, marked stale; a sample
    /// older than this is stale too (default 5m).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<String>,
    /// Signal name → the tool call that gives its value (and its baseline).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub signals: BTreeMap<String, McpSignal>,
    /// The tool call that lists firing alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<McpCall>,
    /// The tool call that lists open incidents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incidents: Option<McpCall>,
}

/// One tool call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpCall {
    pub tool: String,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub arguments: serde_json::Map<String, serde_json::Value>,
}

/// A signal from a tool: its value, and its usual level from the same tool with other
/// arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpSignal {
    pub tool: String,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub arguments: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusConfig {
    pub url: String,
    /// A sample older than this is stale (default 5m).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<String>,
    /// Signals for every app: name → queries. Templates may use `{app}`, `{namespace}`,
    /// `{service}`, `{project}`, `{cluster}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub signals: BTreeMap<String, SignalQuery>,
    /// Per-app signals, replacing those of the same name: app name → name → queries.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, BTreeMap<String, SignalQuery>>,
    /// A bearer token's environment variable, if the server wants one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalQuery {
    /// PromQL for the current value.
    pub query: String,
    /// PromQL for the usual value (e.g. the same with `offset 1w`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertmanagerConfig {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// Default `https://api.pagerduty.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The environment variable holding the REST API key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// The key itself (prefer `token_env`; the demo writes it here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The Application annotation that names its PagerDuty service id (default
    /// `driftdeck.io/pagerduty-service`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotation: Option<String>,
    /// App name → PagerDuty service id, where the annotation is not set.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, String>,
}

impl DecideConfig {
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or_default()
    }

    pub fn threshold(&self) -> f64 {
        self.confidence_threshold.unwrap_or(THRESHOLD)
    }

    /// Problems with the values (types are serde's job): (key, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(t) = self.confidence_threshold
            && !(0.0..=1.0).contains(&t)
        {
            out.push((
                "confidence_threshold",
                format!("confidence_threshold {t} must be between 0 and 1"),
            ));
        }
        if self.advisor == Some(AdvisorKind::Llm) && self.llm.is_none() {
            out.push((
                "advisor",
                "advisor = \"llm\" needs a [decide.llm] section with base_url and model".into(),
            ));
        }
        if let Some(l) = &self.llm {
            if l.base_url.is_empty() || l.model.is_empty() {
                out.push((
                    "[decide.llm]",
                    "[decide.llm] needs base_url and model".into(),
                ));
            }
            if let Some(t) = &l.timeout
                && crate::util::parse_duration(t).is_err()
            {
                out.push((
                    "timeout",
                    format!("[decide.llm] timeout `{t}` is not a duration (e.g. 20s)"),
                ));
            }
        }
        if let Some(a) = &self.autonomous {
            if let Some(m) = a.min_agreement
                && !(0.0..=1.0).contains(&m)
            {
                out.push((
                    "min_agreement",
                    "min_agreement must be between 0 and 1".into(),
                ));
            }
            if a.max_actions_per_hour == Some(0) {
                out.push(("max_actions_per_hour", "max_actions_per_hour 0 would forbid every action: use mode = \"advisory\" instead".into()));
            }
        }
        out
    }
}

impl ContextConfig {
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let dur = |k: &'static str, v: &Option<String>, out: &mut Vec<(&'static str, String)>| {
            if let Some(t) = v
                && crate::util::parse_duration(t).is_err()
            {
                out.push((k, format!("`{t}` is not a duration (e.g. 2s, 5m)")));
            }
        };
        dur("timeout", &self.timeout, &mut out);
        if let Some(p) = &self.prometheus {
            dur("stale_after", &p.stale_after, &mut out);
            if p.url.is_empty() {
                out.push((
                    "[context.prometheus]",
                    "[context.prometheus] needs a url".into(),
                ));
            }
            for (name, q) in p
                .signals
                .iter()
                .chain(p.apps.values().flat_map(|m| m.iter()))
            {
                if q.query.trim().is_empty() {
                    out.push(("query", format!("signal `{name}` has an empty query")));
                }
            }
        }
        if let Some(a) = &self.alertmanager
            && a.url.is_empty()
        {
            out.push((
                "[context.alertmanager]",
                "[context.alertmanager] needs a url".into(),
            ));
        }
        if let Some(p) = &self.pagerduty
            && p.token_env.is_none() == p.token.is_none()
        {
            out.push((
                "[context.pagerduty]",
                "[context.pagerduty] needs one of token_env (the variable that holds the API key) or token".into(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for m in &self.mcp {
            if m.name.trim().is_empty() || m.name.contains('/') {
                out.push((
                    "[[context.mcp]]",
                    "each [[context.mcp]] needs a name without `/`".into(),
                ));
            } else if !names.insert(m.name.as_str()) {
                out.push((
                    "[[context.mcp]]",
                    format!("two [[context.mcp]] are named `{}`: rename one", m.name),
                ));
            }
            if m.command.is_empty() == m.url.is_none() {
                out.push((
                    "[[context.mcp]]",
                    format!(
                        "[[context.mcp]] `{}` needs one of command (a stdio server) or url (streamable HTTP)",
                        m.name
                    ),
                ));
            }
            dur("stale_after", &m.stale_after, &mut out);
            let tools = m
                .signals
                .iter()
                .map(|(k, s)| (k.as_str(), s.tool.as_str()))
                .chain(m.alerts.iter().map(|c| ("alerts", c.tool.as_str())))
                .chain(m.incidents.iter().map(|c| ("incidents", c.tool.as_str())));
            let mut any = false;
            for (what, tool) in tools {
                any = true;
                if tool.trim().is_empty() {
                    out.push((
                        "tool",
                        format!("[[context.mcp]] `{}`: `{what}` names no tool", m.name),
                    ));
                }
            }
            if !any {
                out.push((
                    "[[context.mcp]]",
                    format!(
                        "[[context.mcp]] `{}` asks for nothing: give it signals, alerts or incidents",
                        m.name
                    ),
                ));
            }
        }
        out
    }
}

/// How much the cockpit may do on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Record only; nothing changes.
    Shadow,
    /// Show the decision and wait for an operator.
    #[default]
    Advisory,
    /// Act within the policy's allowance and the sync windows, rate-limited.
    Autonomous,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Shadow => "shadow",
            Mode::Advisory => "advisory",
            Mode::Autonomous => "autonomous",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "shadow" => Ok(Mode::Shadow),
            "advisory" => Ok(Mode::Advisory),
            "autonomous" => Ok(Mode::Autonomous),
            o => Err(format!(
                "`{o}` is not a mode: use shadow, advisory or autonomous"
            )),
        }
    }
}

/// The default confidence threshold.
pub const THRESHOLD: f64 = 0.80;

/// Where the user's policy comes from (the `[policy]` section of the config).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// A bundle directory: `*.rego` files and `data.json`/`data.yaml` files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// `extend` (default): the user's files are added to the builtin bundle and their data
    /// merged over it; `replace`: only the user's bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<BundleMode>,
    /// More data files (JSON or YAML), merged at the root in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BundleMode {
    #[default]
    Extend,
    Replace,
}
