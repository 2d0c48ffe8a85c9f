//! `[serve]`: how `driftdeck serve` runs: where it listens, who it is, and its leader election
//! (one Lease per instance, "shard", in each instance's control plane).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[serve]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address of `/metrics`, `/healthz`, `/readyz`, the decision API and MCP (default
    /// 127.0.0.1:9464; `--listen` overrides it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Who holds the Leases (default: `$POD_NAME`, else the host name and process id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Namespace of the Leases in each control plane (default: `$POD_NAMESPACE`, else
    /// `argocd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_namespace: Option<String>,
    /// How long a Lease holds without renewal (default 15s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_duration: Option<String>,
    /// A leader that could not renew for this long stops acting (default 10s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_deadline: Option<String>,
    /// How often a Lease is renewed or tried (default 2s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_period: Option<String>,
    /// The instances (shards) this replica may lead (default: all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<String>,
    /// At most this many shards led at once, so replicas spread them; a replica at its
    /// maximum still takes a shard that has stayed unheld for a second lease duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_shards: Option<usize>,
    /// Write each decision as a Kubernetes Event on its Application (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<bool>,
}

/// The settings of `serve`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub listen: String,
    pub identity: String,
    pub lease_namespace: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
    pub shards: Vec<String>,
    pub max_shards: Option<usize>,
    pub events: bool,
}

fn dur(key: &str, v: Option<&str>, default: Duration) -> Result<Duration, (&'static str, String)> {
    let key: &'static str = match key {
        "lease_duration" => "lease_duration",
        "renew_deadline" => "renew_deadline",
        _ => "retry_period",
    };
    match v {
        None => Ok(default),
        Some(s) => match crate::util::parse_duration(s) {
            Ok(d) if d.is_zero() => {
                Err((key, format!("[serve] {key} `{s}` must be more than zero")))
            }
            Ok(d) => Ok(d),
            Err(e) => Err((key, format!("[serve] {key} `{s}`: {e} (e.g. \"15s\")"))),
        },
    }
}

impl ServeConfig {
    /// Every problem, with the key it is at.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        match self.settings(None, &[], |_| None) {
            Ok(_) => Vec::new(),
            Err(e) => e,
        }
    }

    /// The settings, with `--listen`, the instance names and the environment.
    pub fn settings(
        &self,
        listen: Option<&str>,
        instances: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, Vec<(&'static str, String)>> {
        let mut errs = Vec::new();
        let mut get = |k: &str, v: Option<&str>, d: u64| match dur(k, v, Duration::from_secs(d)) {
            Ok(d) => d,
            Err(e) => {
                errs.push(e);
                Duration::from_secs(d)
            }
        };
        let lease_duration = get("lease_duration", self.lease_duration.as_deref(), 15);
        let renew_deadline = get("renew_deadline", self.renew_deadline.as_deref(), 10);
        let retry_period = get("retry_period", self.retry_period.as_deref(), 2);
        if errs.is_empty() && !(retry_period < renew_deadline && renew_deadline < lease_duration) {
            errs.push((
                "renew_deadline",
                format!(
                    "[serve] wants retry_period < renew_deadline < lease_duration (now {}s, {}s, {}s), or two replicas could both act",
                    retry_period.as_secs_f64(),
                    renew_deadline.as_secs_f64(),
                    lease_duration.as_secs_f64()
                ),
            ));
        }
        let listen = listen
            .map(str::to_string)
            .or_else(|| self.listen.clone())
            .unwrap_or_else(|| "127.0.0.1:9464".into());
        if listen.parse::<std::net::SocketAddr>().is_err() {
            errs.push((
                "listen",
                format!("[serve] listen `{listen}` is not an address (e.g. \"0.0.0.0:9464\")"),
            ));
        }
        if !instances.is_empty() {
            for s in &self.shards {
                if !instances.contains(s) {
                    errs.push((
                        "shards",
                        format!(
                            "[serve] shards names `{s}`, which is no configured instance ({})",
                            instances.join(", ")
                        ),
                    ));
                }
            }
        }
        if self.max_shards == Some(0) {
            errs.push((
                "max_shards",
                "[serve] max_shards must be at least 1".to_string(),
            ));
        }
        let identity = self
            .identity
            .clone()
            .or_else(|| env("POD_NAME"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                let host = rustix::system::uname()
                    .nodename()
                    .to_string_lossy()
                    .into_owned();
                format!("{host}-{}", std::process::id())
            });
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Settings {
            listen,
            identity,
            lease_namespace: self
                .lease_namespace
                .clone()
                .or_else(|| env("POD_NAMESPACE"))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "argocd".into()),
            lease_duration,
            renew_deadline,
            retry_period,
            shards: if self.shards.is_empty() {
                instances.to_vec()
            } else {
                self.shards.clone()
            },
            max_shards: self.max_shards,
            events: self.events.unwrap_or(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_have_defaults_and_refuse_an_unsafe_lease() {
        let names = vec!["eu".to_string(), "us".to_string()];
        let s = ServeConfig::default()
            .settings(None, &names, |k| (k == "POD_NAME").then(|| "dd-0".into()))
            .unwrap();
        assert_eq!(s.identity, "dd-0");
        assert_eq!(s.lease_namespace, "argocd");
        assert_eq!(s.lease_duration, Duration::from_secs(15));
        assert_eq!(s.shards, names);
        let bad = ServeConfig {
            lease_duration: Some("5s".into()),
            renew_deadline: Some("10s".into()),
            shards: vec!["asia".into()],
            listen: Some("nowhere".into()),
            ..Default::default()
        };
        let e = bad.settings(None, &names, |_| None).unwrap_err();
        let text: Vec<&str> = e.iter().map(|(_, m)| m.as_str()).collect();
        assert!(
            text.iter()
                .any(|m| m.contains("retry_period < renew_deadline")),
            "{text:?}"
        );
        assert!(text.iter().any(|m| m.contains("`asia`")), "{text:?}");
        assert!(text.iter().any(|m| m.contains("`nowhere`")), "{text:?}");
    }
}
