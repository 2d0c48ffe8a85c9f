//! PagerDuty: the open incidents of the app's own service when it is mapped (an annotation or
//! the config), else all open ones, left for the facts to match by service name.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{Ask, Found, PAGERDUTY_ANNOTATION, Source, env_secret};
use crate::clients::pagerduty::{self, PagerDuty};
use crate::decide::scenario::{Context, Incident};
use crate::decide::settings::PagerDutyConfig;
use crate::model::app::Application;
use crate::util::Secret;

pub struct Incidents {
    client: PagerDuty,
    annotation: String,
    services: BTreeMap<String, String>,
}

impl Incidents {
    pub fn from_config(p: &PagerDutyConfig, timeout: Duration) -> Result<Incidents, String> {
        let token = match (&p.token, &p.token_env) {
            (Some(t), _) => Secret::new(t.trim()),
            (None, var) => env_secret(var, "[context.pagerduty]")?
                .ok_or("[context.pagerduty] needs token_env or token")?,
        };
        Ok(Incidents {
            client: PagerDuty::new(
                p.url.as_deref().unwrap_or(pagerduty::DEFAULT_URL),
                timeout,
                token,
            )?,
            annotation: p
                .annotation
                .clone()
                .unwrap_or_else(|| PAGERDUTY_ANNOTATION.into()),
            services: p.services.clone(),
        })
    }
}

impl Source for Incidents {
    fn name(&self) -> &'static str {
        "pagerduty"
    }

    fn fetch<'a>(&'a self, ask: &'a Ask<'a>) -> BoxFuture<'a, Result<Found, String>> {
        Box::pin(async move {
            let incidents = pd_incidents(self, ask.app).await?;
            Ok(Found::fresh(Context {
                incidents,
                ..Default::default()
            }))
        })
    }
}

/// Open incidents: of the app's own PagerDuty service when it is mapped (annotation or
/// config), else all open ones, left for the facts to match by service name.
async fn pd_incidents(p: &Incidents, app: &Application) -> Result<Vec<Incident>, String> {
    let mapped: Vec<String> = app
        .metadata
        .annotations
        .get(&p.annotation)
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .or_else(|| p.services.get(&app.metadata.name).map(|s| vec![s.clone()]))
        .unwrap_or_default();
    let list = p
        .client
        .open_incidents(&mapped)
        .await
        .map_err(|e| e.to_string())?;
    Ok(list
        .into_iter()
        .map(|i| Incident {
            id: i.incident_number.map(|n| format!("PD-{n}")).unwrap_or(i.id),
            title: i.title,
            service: i.service.summary,
            status: i.status,
            urgency: i.urgency,
            created: Some(i.created_at),
            mapped: !mapped.is_empty(),
        })
        .collect())
}
