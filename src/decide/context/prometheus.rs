//! Prometheus: each configured signal's current value and its baseline, from per-app query
//! templates; stale when there is no sample now but there was one a little earlier.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::{Ask, Found, Source, Vars, env_secret};
use crate::clients::prometheus::Prometheus;
use crate::decide::scenario::{Context, Signal};
use crate::decide::settings::{PrometheusConfig, SignalQuery};

pub struct Signals {
    client: Prometheus,
    signals: BTreeMap<String, SignalQuery>,
    apps: BTreeMap<String, BTreeMap<String, SignalQuery>>,
    stale_after: chrono::Duration,
}

impl Signals {
    pub fn from_config(p: &PrometheusConfig, timeout: Duration) -> Result<Signals, String> {
        let stale = match &p.stale_after {
            Some(t) => crate::util::parse_duration(t)
                .map_err(|e| format!("[context.prometheus] stale_after: {e}"))?,
            None => Duration::from_secs(300),
        };
        Ok(Signals {
            client: Prometheus::new(
                &p.url,
                timeout,
                env_secret(&p.token_env, "[context.prometheus]")?,
            )?,
            signals: p.signals.clone(),
            apps: p.apps.clone(),
            stale_after: chrono::Duration::from_std(stale).unwrap_or(chrono::Duration::minutes(5)),
        })
    }
}

impl Source for Signals {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    fn fetch<'a>(&'a self, ask: &'a Ask<'a>) -> BoxFuture<'a, Result<Found, String>> {
        Box::pin(async move {
            let (signals, stale) = signals(self, ask.vars, ask.now).await?;
            Ok(Found {
                context: Context {
                    signals,
                    ..Default::default()
                },
                stale,
            })
        })
    }
}

/// The signals of an app; `Some(why)` as the second value when the data is stale.
async fn signals(
    p: &Signals,
    vars: &Vars,
    now: DateTime<Utc>,
) -> Result<(BTreeMap<String, Signal>, Option<String>), String> {
    let mut queries = p.signals.clone();
    if let Some(own) = p.apps.get(&vars.app) {
        for (k, v) in own {
            queries.insert(k.clone(), v.clone());
        }
    }
    let sum = |s: &[crate::clients::prometheus::Sample]| -> Option<f64> {
        let vals: Vec<f64> = s
            .iter()
            .map(|x| x.value)
            .filter(|v| v.is_finite())
            .collect();
        (!vals.is_empty()).then(|| vals.iter().sum())
    };
    let jobs = queries.iter().map(|(name, q)| {
        let query = vars.fill(&q.query);
        let baseline = q.baseline.as_ref().map(|b| vars.fill(b));
        async move {
            let (cur, base) = tokio::join!(p.client.instant(&query, now), async {
                match &baseline {
                    Some(b) => Some(p.client.instant(b, now).await),
                    None => None,
                }
            });
            let cur = cur.map_err(|e| format!("{name}: {e}"))?;
            let base = match base {
                Some(r) => sum(&r.map_err(|e| format!("{name} baseline: {e}"))?),
                None => None,
            };
            // No current data: if there was some a little earlier, the metrics are stale.
            let (value, stale) = match sum(&cur) {
                Some(v) => (Some(v), false),
                None => {
                    let earlier = p
                        .client
                        .instant(&query, now - p.stale_after)
                        .await
                        .map_err(|e| format!("{name}: {e}"))?;
                    match sum(&earlier) {
                        Some(v) => (Some(v), true),
                        None => (None, false),
                    }
                }
            };
            Ok::<_, String>((name.clone(), value, base, q.unit.clone(), stale))
        }
    });
    let results = futures::future::join_all(jobs).await;
    let mut out = BTreeMap::new();
    let mut stale = Vec::new();
    for r in results {
        let (name, value, baseline, unit, is_stale) = r?;
        if is_stale {
            stale.push(name.clone());
        }
        if let Some(value) = value {
            out.insert(
                name,
                Signal {
                    value,
                    baseline,
                    unit,
                },
            );
        }
    }
    let why = (!stale.is_empty()).then(|| {
        format!(
            "no sample in the last {} min for {}",
            p.stale_after.num_minutes(),
            stale.join(", ")
        )
    });
    Ok((out, why))
}
