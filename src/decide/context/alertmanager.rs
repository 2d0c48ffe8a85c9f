//! Alertmanager: the firing alerts that may concern the app (by its names in the labels of
//! [`super::ALERT_LABELS`], or its namespace); the facts decide which really do.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{ALERT_LABELS, Ask, Found, ObjRef, Source, Vars, env_secret};
use crate::clients::alertmanager::Alertmanager;
use crate::decide::scenario::{Alert, Context};
use crate::decide::settings::AlertmanagerConfig;

pub struct Alerts {
    client: Alertmanager,
}

impl Alerts {
    pub fn from_config(a: &AlertmanagerConfig, timeout: Duration) -> Result<Alerts, String> {
        Ok(Alerts {
            client: Alertmanager::new(
                &a.url,
                timeout,
                env_secret(&a.token_env, "[context.alertmanager]")?,
            )?,
        })
    }
}

impl Source for Alerts {
    fn name(&self) -> &'static str {
        "alertmanager"
    }

    fn fetch<'a>(&'a self, ask: &'a Ask<'a>) -> BoxFuture<'a, Result<Found, String>> {
        Box::pin(async move {
            let alerts = am_alerts(&self.client, ask.vars, ask.drifted).await?;
            Ok(Found::fresh(Context {
                alerts,
                ..Default::default()
            }))
        })
    }
}

/// The firing alerts that may concern the app (the facts decide which really do).
async fn am_alerts(
    a: &Alertmanager,
    vars: &Vars,
    drifted: &[ObjRef],
) -> Result<Vec<Alert>, String> {
    let alerts = a.firing().await.map_err(|e| e.to_string())?;
    let mut names: BTreeSet<String> = [vars.app.clone(), vars.service.clone()]
        .into_iter()
        .collect();
    names.extend(drifted.iter().map(|o| o.name.clone()));
    let near = |v: &str| {
        names
            .iter()
            .any(|n| v == n || v.starts_with(&format!("{n}-")) || n.starts_with(&format!("{v}-")))
    };
    Ok(alerts
        .into_iter()
        .filter(|al| {
            ALERT_LABELS
                .iter()
                .any(|k| al.labels.get(*k).is_some_and(|v| near(v)))
                || al
                    .labels
                    .get("namespace")
                    .is_some_and(|ns| !vars.namespace.is_empty() && *ns == vars.namespace)
        })
        .map(|al| {
            let mut labels = al.labels.clone();
            let name = labels
                .remove("alertname")
                .unwrap_or_else(|| "unnamed".into());
            Alert {
                name,
                severity: labels.get("severity").cloned(),
                labels,
                starts_at: Some(al.starts_at),
            }
        })
        .collect())
}
