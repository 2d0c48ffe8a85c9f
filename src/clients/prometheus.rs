//! Prometheus' HTTP API: instant queries (`GET /api/v1/query`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::util::Secret;

/// One sample of an instant vector (or a scalar).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub at: DateTime<Utc>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromError {
    #[error("Prometheus did not answer in time")]
    Timeout,
    #[error("Prometheus cannot be reached: {0}")]
    Unreachable(String),
    #[error("Prometheus refused the query ({kind}): {message}")]
    Query { kind: String, message: String },
    #[error("Prometheus answered HTTP {0}")]
    Status(u16),
    #[error("Prometheus' answer is not what its API documents: {0}")]
    Malformed(String),
}

#[derive(Clone)]
pub struct Prometheus {
    http: reqwest::Client,
    base: String,
    token: Option<Secret>,
}

impl Prometheus {
    pub fn new(url: &str, timeout: Duration, token: Option<Secret>) -> Result<Prometheus, String> {
        Ok(Prometheus {
            http: super::http::client(url, timeout)?,
            base: url.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// An instant query evaluated at `at`.
    pub async fn instant(&self, query: &str, at: DateTime<Utc>) -> Result<Vec<Sample>, PromError> {
        let time = format!("{:.3}", at.timestamp_millis() as f64 / 1000.0);
        let mut req = self
            .http
            .get(super::http::join(&self.base, "api/v1/query"))
            .query(&[("query", query), ("time", time.as_str())]);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                PromError::Timeout
            } else {
                PromError::Unreachable(e.to_string())
            }
        })?;
        let status = resp.status();
        let body = crate::limits::text(resp, crate::limits::MAX_CONTEXT_REPLY)
            .await
            .map_err(|e| match e {
                crate::limits::BodyError::Transport(e) if e.is_timeout() => PromError::Timeout,
                crate::limits::BodyError::Transport(e) => PromError::Unreachable(e.to_string()),
                e => PromError::Malformed(e.to_string()),
            })?;
        let v: Value = match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(_) if !status.is_success() => return Err(PromError::Status(status.as_u16())),
            Err(e) => return Err(PromError::Malformed(format!("not JSON: {e}"))),
        };
        if v.get("status").and_then(Value::as_str) == Some("error") {
            return Err(PromError::Query {
                kind: v
                    .get("errorType")
                    .and_then(Value::as_str)
                    .unwrap_or("error")
                    .to_string(),
                message: v
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        }
        if !status.is_success() {
            return Err(PromError::Status(status.as_u16()));
        }
        parse_result(&v)
    }
}

fn sample_value(pair: &Value) -> Result<(DateTime<Utc>, f64), PromError> {
    let bad = || PromError::Malformed(format!("a sample is not [time, \"value\"]: {pair}"));
    let a = pair.as_array().filter(|a| a.len() == 2).ok_or_else(bad)?;
    let ts = a[0].as_f64().ok_or_else(bad)?;
    let text = a[1].as_str().ok_or_else(bad)?;
    let value = match text {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        t => t.parse::<f64>().map_err(|_| bad())?,
    };
    let at =
        DateTime::<Utc>::from_timestamp_millis((ts * 1000.0).round() as i64).ok_or_else(bad)?;
    Ok((at, value))
}

/// Reads `data` of a successful answer: a vector or a scalar.
pub fn parse_result(v: &Value) -> Result<Vec<Sample>, PromError> {
    let data = v
        .get("data")
        .ok_or_else(|| PromError::Malformed("no `data`".into()))?;
    let kind = data.get("resultType").and_then(Value::as_str).unwrap_or("");
    let result = data
        .get("result")
        .ok_or_else(|| PromError::Malformed("no `data.result`".into()))?;
    match kind {
        "vector" => {
            let list = result
                .as_array()
                .ok_or_else(|| PromError::Malformed("`data.result` is not a list".into()))?;
            let mut out = Vec::with_capacity(list.len());
            for s in list {
                let labels = s
                    .get("metric")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let (at, value) = sample_value(s.get("value").unwrap_or(&Value::Null))?;
                out.push(Sample { labels, at, value });
            }
            Ok(out)
        }
        "scalar" => {
            let (at, value) = sample_value(result)?;
            Ok(vec![Sample {
                labels: BTreeMap::new(),
                at,
                value,
            }])
        }
        other => Err(PromError::Malformed(format!(
            "result type `{other}`: a signal's query must give an instant vector or a scalar"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_vectors_and_scalars() {
        let v = json!({"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"service":"a"},"value":[1700000000.5,"12.5"]},
            {"metric":{},"value":[1700000000,"NaN"]}]}});
        let s = parse_result(&v).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].value, 12.5);
        assert_eq!(s[0].labels["service"], "a");
        assert!(s[1].value.is_nan());
        let v =
            json!({"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}});
        assert_eq!(parse_result(&v).unwrap()[0].value, 3.0);
        let v = json!({"status":"success","data":{"resultType":"matrix","result":[]}});
        assert!(
            parse_result(&v)
                .unwrap_err()
                .to_string()
                .contains("instant vector")
        );
        let v =
            json!({"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}});
        assert!(matches!(parse_result(&v), Err(PromError::Malformed(_))));
    }
}
