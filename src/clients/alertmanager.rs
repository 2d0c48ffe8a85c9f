//! Alertmanager's API v2: the active alerts (`GET /api/v2/alerts`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::util::Secret;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertmanagerError {
    #[error("Alertmanager did not answer in time")]
    Timeout,
    #[error("Alertmanager cannot be reached: {0}")]
    Unreachable(String),
    #[error("Alertmanager answered HTTP {0}: {1}")]
    Status(u16, String),
    #[error("Alertmanager's answer is not what its API documents: {0}")]
    Malformed(String),
}

/// `gettableAlert`, the parts used.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    pub status: AlertStatus,
    #[serde(default)]
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    /// `active`, `suppressed` or `unprocessed`.
    pub state: String,
}

#[derive(Clone)]
pub struct Alertmanager {
    http: reqwest::Client,
    base: String,
    token: Option<Secret>,
}

impl Alertmanager {
    pub fn new(
        url: &str,
        timeout: Duration,
        token: Option<Secret>,
    ) -> Result<Alertmanager, String> {
        Ok(Alertmanager {
            http: super::http::client(url, timeout)?,
            base: url.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// The active alerts, neither silenced nor inhibited.
    pub async fn firing(&self) -> Result<Vec<GettableAlert>, AlertmanagerError> {
        let mut req = self
            .http
            .get(super::http::join(&self.base, "api/v2/alerts"))
            .query(&[
                ("active", "true"),
                ("silenced", "false"),
                ("inhibited", "false"),
                ("unprocessed", "false"),
            ]);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                AlertmanagerError::Timeout
            } else {
                AlertmanagerError::Unreachable(e.to_string())
            }
        })?;
        let status = resp.status();
        let body = crate::limits::text(resp, crate::limits::MAX_CONTEXT_REPLY)
            .await
            .map_err(|e| match e {
                crate::limits::BodyError::Transport(e) if e.is_timeout() => {
                    AlertmanagerError::Timeout
                }
                crate::limits::BodyError::Transport(e) => {
                    AlertmanagerError::Unreachable(e.to_string())
                }
                e => AlertmanagerError::Malformed(e.to_string()),
            })?;
        if !status.is_success() {
            return Err(AlertmanagerError::Status(
                status.as_u16(),
                body.chars().take(200).collect(),
            ));
        }
        let alerts: Vec<GettableAlert> =
            serde_json::from_str(&body).map_err(|e| AlertmanagerError::Malformed(e.to_string()))?;
        Ok(alerts
            .into_iter()
            .filter(|a| a.status.state == "active")
            .collect())
    }
}
