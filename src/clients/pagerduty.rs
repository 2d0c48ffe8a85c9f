//! PagerDuty's REST API v2: open incidents (`GET /incidents`), all of them or those of some
//! services, following the pagination.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::util::Secret;

pub const DEFAULT_URL: &str = "https://api.pagerduty.com";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagerDutyError {
    #[error("PagerDuty did not answer in time")]
    Timeout,
    #[error("PagerDuty cannot be reached: {0}")]
    Unreachable(String),
    #[error("PagerDuty refused the API key (HTTP {0}): check the key in its environment variable")]
    Unauthorized(u16),
    #[error("PagerDuty is rate-limiting these requests (HTTP 429)")]
    RateLimited,
    #[error("PagerDuty answered HTTP {0}: {1}")]
    Status(u16, String),
    #[error("PagerDuty's answer is not what its API documents: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IncidentList {
    pub incidents: Vec<PdIncident>,
    #[serde(default)]
    pub more: bool,
    #[serde(default)]
    pub offset: u32,
    #[serde(default)]
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PdIncident {
    pub id: String,
    #[serde(default)]
    pub incident_number: Option<u64>,
    #[serde(default)]
    pub title: String,
    pub status: String,
    #[serde(default)]
    pub urgency: Option<String>,
    pub created_at: DateTime<Utc>,
    pub service: ServiceRef,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServiceRef {
    pub id: String,
    #[serde(default)]
    pub summary: String,
}

#[derive(Clone)]
pub struct PagerDuty {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl PagerDuty {
    pub fn new(url: &str, timeout: Duration, token: Secret) -> Result<PagerDuty, String> {
        Ok(PagerDuty {
            http: super::http::client(url, timeout)?,
            base: url.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// Open (triggered or acknowledged) incidents, of the given services or of all.
    pub async fn open_incidents(
        &self,
        service_ids: &[String],
    ) -> Result<Vec<PdIncident>, PagerDutyError> {
        let mut out = Vec::new();
        let mut offset = 0u32;
        for _ in 0..20 {
            let mut q: Vec<(&str, String)> = vec![
                ("statuses[]", "triggered".into()),
                ("statuses[]", "acknowledged".into()),
                ("limit", "100".into()),
                ("offset", offset.to_string()),
            ];
            for s in service_ids {
                q.push(("service_ids[]", s.clone()));
            }
            let resp = self
                .http
                .get(super::http::join(&self.base, "incidents"))
                .header("Accept", "application/vnd.pagerduty+json;version=2")
                .header(
                    "Authorization",
                    format!("Token token={}", self.token.expose()),
                )
                .query(&q)
                .send()
                .await
                .map_err(|e| {
                    if e.is_timeout() {
                        PagerDutyError::Timeout
                    } else {
                        PagerDutyError::Unreachable(e.to_string())
                    }
                })?;
            let status = resp.status().as_u16();
            let body = crate::limits::text(resp, crate::limits::MAX_CONTEXT_REPLY)
                .await
                .map_err(|e| match e {
                    crate::limits::BodyError::Transport(e) if e.is_timeout() => {
                        PagerDutyError::Timeout
                    }
                    crate::limits::BodyError::Transport(e) => {
                        PagerDutyError::Unreachable(e.to_string())
                    }
                    e => PagerDutyError::Malformed(e.to_string()),
                })?;
            match status {
                200 => {}
                401 | 403 => return Err(PagerDutyError::Unauthorized(status)),
                429 => return Err(PagerDutyError::RateLimited),
                s => return Err(PagerDutyError::Status(s, body.chars().take(200).collect())),
            }
            let page: IncidentList = serde_json::from_str(&body)
                .map_err(|e| PagerDutyError::Malformed(e.to_string()))?;
            let n = page.incidents.len() as u32;
            out.extend(page.incidents);
            if !page.more || n == 0 {
                break;
            }
            offset += n;
        }
        Ok(out)
    }
}
