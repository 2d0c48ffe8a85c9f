//! The team's decision stream: a `driftdeck serve` daemon's HTTP API. The TUI reads the
//! daemon's latest decisions (`GET /api/v1/decisions`) and posts the operator's reviews of them
//! (`POST /api/v1/reviews`, with the bearer token), so the agreement figures are the team's.

use std::time::Duration;

use serde_json::json;

use crate::decide::Verdict;
use crate::serve::DecisionSummary;

#[derive(Clone)]
pub struct TeamClient {
    http: reqwest::Client,
    base: String,
    token: Option<crate::util::Secret>,
}

impl TeamClient {
    /// From `[team]`: its URL and the environment variable of its token.
    pub fn from_config(c: &crate::config::TeamConfig) -> Result<TeamClient, String> {
        let var = c.token_env.as_deref().unwrap_or("DRIFTDECK_API_TOKEN");
        let token = std::env::var(var).ok().filter(|t| !t.is_empty());
        TeamClient::new(&c.url, token)
    }

    /// A client of the daemon at `url`, with its API token (reviews need it).
    pub fn new(url: &str, token: Option<String>) -> Result<TeamClient, String> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "[team] url `{base}` is not an http(s) URL (e.g. http://driftdeck.argocd.svc:9464)"
            ));
        }
        let token = token.map(crate::util::Secret::new);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(TeamClient { http, base, token })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The daemon's decisions after journal record `since`; and the next `since`.
    pub async fn decisions(&self, since: u64) -> Result<(Vec<DecisionSummary>, u64), String> {
        let url = format!("{}/api/v1/decisions?since={since}&limit=5000", self.base);
        let r = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("driftdeck serve at {} cannot be reached: {e}", self.base))?;
        if !r.status().is_success() {
            return Err(format!(
                "driftdeck serve at {} answered {}",
                self.base,
                r.status()
            ));
        }
        let v: serde_json::Value = r
            .json()
            .await
            .map_err(|e| format!("driftdeck serve's decisions are not JSON: {e}"))?;
        let items: Vec<DecisionSummary> = serde_json::from_value(v["decisions"].clone())
            .map_err(|e| format!("driftdeck serve's decisions are not readable: {e}"))?;
        let head = v["head"].as_u64().unwrap_or(0);
        if head < since {
            // The daemon's journal started again (a new pod): read it from the start.
            return Ok((items, 0));
        }
        Ok((items, v["next"].as_u64().unwrap_or(since)))
    }

    /// Posts a review; the daemon's journal record of it.
    pub async fn review(
        &self,
        decision: u64,
        chosen: Verdict,
        operator: &str,
    ) -> Result<u64, String> {
        let Some(token) = &self.token else {
            return Err("posting reviews to driftdeck serve needs its token: set DRIFTDECK_API_TOKEN (or [team] token_env)".into());
        };
        let r = self
            .http
            .post(format!("{}/api/v1/reviews", self.base))
            .bearer_auth(token.expose())
            .json(&json!({"decision": decision, "verdict": chosen.as_str(), "operator": operator}))
            .send()
            .await
            .map_err(|e| format!("driftdeck serve at {} cannot be reached: {e}", self.base))?;
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!(
                "driftdeck serve refused the review ({status}): {}",
                v["error"].as_str().unwrap_or("")
            ));
        }
        v["review"]
            .as_u64()
            .ok_or_else(|| "driftdeck serve's answer has no review number".to_string())
    }
}
