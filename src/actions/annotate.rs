//! Incident annotation: the incident id and note on the Application, and a label on the
//! drifted live resources in their cluster (through Argo CD's resource patch endpoint; the
//! kube client takes over where a context is configured, issue 6).

use serde::Serialize;
use serde_json::json;

use super::{ActionError, INCIDENT, INCIDENT_NOTE, Session, Target, annotation_ops};
use crate::clients::argocd::ResourceId;

/// The label put on drifted live resources.
pub const INCIDENT_LABEL: &str = "driftdeck.io/incident";

/// Checks an incident id is usable as a Kubernetes label value (63 characters at most,
/// alphanumerics with `-`, `_` or `.` inside).
pub fn check_incident(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the incident id {id:?} cannot be a label value: use up to 63 letters, digits, \
             `-`, `_` or `.`, starting and ending with a letter or digit (e.g. INC-1234)"
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnnotateOutcome {
    /// Live resources labelled (`Kind namespace/name`).
    pub labelled: Vec<String>,
    /// Live resources that could not be labelled, and why.
    pub failed: Vec<(String, String)>,
    /// How the labels went: the kube context, or Argo CD's resource patch endpoint.
    pub via: String,
}

/// The drifted resources of an app that exist live (what gets the label).
pub fn drifted_live(items: &[crate::model::app::ManagedResource]) -> Vec<ResourceId> {
    items
        .iter()
        .filter(|i| i.modified)
        .filter_map(|i| {
            let live: serde_json::Value = serde_json::from_str(&i.live_state).ok()?;
            let api = live["apiVersion"].as_str()?;
            let version = api.rsplit('/').next().unwrap_or(api).to_string();
            Some(ResourceId {
                group: i.group.clone(),
                version,
                kind: i.kind.clone(),
                namespace: i.namespace.clone(),
                name: i.name.clone(),
            })
        })
        .collect()
}

/// Annotates the app with the incident (and note), and labels its drifted live resources when
/// `label_resources`.
pub async fn annotate(
    session: &Session,
    t: &Target,
    incident: &str,
    note: &str,
    label_resources: bool,
) -> Result<AnnotateOutcome, ActionError> {
    check_incident(incident).map_err(ActionError::Refused)?;
    let app = session.app(t).await?;
    session.check(&app, "update").await?;
    let mut set = vec![(INCIDENT, incident.to_string())];
    let mut remove = vec![];
    if note.trim().is_empty() {
        remove.push(INCIDENT_NOTE);
    } else {
        set.push((INCIDENT_NOTE, note.trim().to_string()));
    }
    // Through the cluster's own API where a kube context reaches it, else through Argo CD.
    let via_kube = match &session.kube {
        Some(k) => {
            let cluster = session.cluster_name(&app).await;
            k.context_for(&cluster, &app.spec.destination.server)
                .ok()
                .map(|ctx| (k.clone(), ctx))
        }
        None => None,
    };
    let res =
        super::defer::patch_fresh(session, t, app, |a| Ok(annotation_ops(a, &set, &remove))).await;
    let mut out = AnnotateOutcome {
        labelled: vec![],
        failed: vec![],
        via: match &via_kube {
            Some((_, ctx)) => format!("kube context {ctx}"),
            None => "Argo CD's resource patch endpoint".into(),
        },
    };
    if res.is_ok() && label_resources {
        let managed = session.client.managed_resources(&t.name, t.ns()).await?;
        for r in drifted_live(&managed.items) {
            let label = format!("{} {}/{}", r.kind, r.namespace, r.name);
            let done = match &via_kube {
                Some((k, ctx)) => {
                    crate::clients::kube::label(k, ctx, &r, INCIDENT_LABEL, incident).await
                }
                None => {
                    let patch = json!({"metadata": {"labels": {INCIDENT_LABEL: incident}}});
                    session
                        .client
                        .patch_resource(&t.name, t.ns(), &r, &patch)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            };
            match done {
                Ok(()) => out.labelled.push(label),
                Err(e) => out.failed.push((label, e)),
            }
        }
    }
    // Marking drift as incident drift keeps it, as a mitigation: the operator's `allow`.
    session
        .record_answer(
            json!({
                "action": "annotate",
                "app": t.name,
                "app_namespace": t.app_namespace,
                "incident": incident,
                "note": note,
                "labelled": out.labelled,
                "label_failures": out.failed,
                "labels_via": out.via,
                "outcome": match &res { Ok(_) => "annotated".to_string(), Err(e) => e.to_string() },
            }),
            crate::decide::Verdict::Allow,
        )
        .await?;
    res?;
    if !out.failed.is_empty() {
        return Err(ActionError::Failed(format!(
            "the app is annotated with {incident}, but {} of {} drifted resources could not be \
             labelled: {}",
            out.failed.len(),
            out.failed.len() + out.labelled.len(),
            out.failed
                .iter()
                .map(|(r, e)| format!("{r}: {e}"))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    Ok(out)
}
