//! Decisions as Kubernetes Events on their Applications (`reason: DriftDecision`), in the
//! instance's control plane: what `kubectl describe application`, the Argo CD UI's events and
//! every replica read. The Event's name is derived from the app and the drift it decided, so
//! a drift is recorded once whichever replica decides it (a second write is 409), and a new
//! leader learns from them what is already decided.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::actions::autonomous::DecidedAndGated;
use crate::decide::autonomy::Gate;

pub const REASON: &str = "DriftDecision";
pub const COMPONENT: &str = "driftdeck";
/// Annotations an Event carries for machines.
pub const A_BASIS: &str = "driftdeck.io/basis";
pub const A_VERDICT: &str = "driftdeck.io/verdict";
pub const A_CONFIDENCE: &str = "driftdeck.io/confidence";
pub const A_RULE: &str = "driftdeck.io/rule";
pub const A_MODE: &str = "driftdeck.io/mode";
pub const A_RECORD: &str = "driftdeck.io/record";
pub const A_INSTANCE: &str = "driftdeck.io/instance";

/// The Event's name: the app's name (cut to leave room) and a digest of what was decided.
pub fn event_name(instance: &str, app: &str, basis: &str) -> String {
    let digest = Sha256::digest(format!("{instance}\n{app}\n{basis}").as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let app: String = app.chars().take(200).collect();
    format!("{app}.driftdecision.{hex}")
}

/// What an Event says of a decision.
pub struct Written<'a> {
    pub instance: &'a str,
    pub namespace: &'a str,
    pub app: &'a str,
    pub basis: &'a str,
    /// Who wrote it (the replica's identity) and its journal record there.
    pub identity: &'a str,
    pub done: &'a DecidedAndGated,
}

/// The core/v1 Event of a decision.
pub fn event(w: &Written<'_>, now: chrono::DateTime<chrono::Utc>) -> Value {
    let d = &w.done.decided.decision;
    let record = match w.done.decided.seq {
        Some(s) => format!("{}#{s}", w.identity),
        None => format!("{} (not journaled)", w.identity),
    };
    let gate = match &w.done.gate {
        None => String::new(),
        Some(Gate::Sync) if w.done.action_error.is_none() => {
            "; synced the drifted resources".into()
        }
        Some(Gate::Sync) => format!(
            "; the sync failed: {}",
            w.done.action_error.as_deref().unwrap_or("")
        ),
        Some(Gate::Leave { why }) => format!("; left as is ({why})"),
        Some(Gate::Hold { why }) => format!("; held for an operator ({why})"),
    };
    let mut message = format!(
        "{} mode: {} (confidence {:.2}, rule {}); journal {record}{gate}",
        d.mode.as_str(),
        d.verdict.as_str().to_uppercase(),
        d.confidence,
        d.policy.rule,
    );
    // The apiserver refuses a note over 1024 bytes.
    if message.len() > 1024 {
        let mut cut = 1021;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("...");
    }
    let t = now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let secs = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let uid = w.done.decided.scenario.app["metadata"]["uid"]
        .as_str()
        .unwrap_or("");
    let identity: String = w.identity.chars().take(128).collect();
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": event_name(w.instance, w.app, w.basis),
            "namespace": w.namespace,
            "labels": {"app.kubernetes.io/managed-by": COMPONENT},
            "annotations": {
                A_BASIS: w.basis,
                A_VERDICT: d.verdict.as_str(),
                A_CONFIDENCE: format!("{:.2}", d.confidence),
                A_RULE: d.policy.rule,
                A_MODE: d.mode.as_str(),
                A_RECORD: record,
                A_INSTANCE: w.instance,
            },
        },
        "involvedObject": {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "name": w.app,
            "namespace": w.namespace,
            "uid": uid,
        },
        "reason": REASON,
        "message": message,
        "type": if d.verdict == crate::decide::Verdict::NeedsHuman { "Warning" } else { "Normal" },
        "action": if matches!(w.done.gate, Some(Gate::Sync)) { "Sync" } else { "Decide" },
        "eventTime": t,
        "firstTimestamp": secs,
        "lastTimestamp": secs,
        "count": 1,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": identity,
    })
}

/// How a write went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Created,
    /// The same drift was already recorded (by another replica, or before a restart).
    Exists,
    Failed(String),
}

impl Posted {
    pub fn label(&self) -> &'static str {
        match self {
            Posted::Created => "created",
            Posted::Exists => "exists",
            Posted::Failed(_) => "failed",
        }
    }
}

pub async fn post(client: &kube::Client, namespace: &str, ev: Value) -> Posted {
    let ev: Event = match serde_json::from_value(ev) {
        Ok(e) => e,
        Err(e) => return Posted::Failed(e.to_string()),
    };
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    match api.create(&PostParams::default(), &ev).await {
        Ok(_) => Posted::Created,
        Err(kube::Error::Api(s)) if s.code == 409 => Posted::Exists,
        Err(kube::Error::Api(s)) => Posted::Failed(format!("{} ({})", s.message, s.code)),
        Err(e) => Posted::Failed(e.to_string()),
    }
}

/// What is already decided in `namespace`: app name → the basis of its latest DriftDecision
/// Event (by driftdeck, for `instance`).
pub async fn decided(
    client: &kube::Client,
    namespace: &str,
    instance: &str,
) -> Result<HashMap<String, String>, String> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().fields(&format!("reason={REASON}"));
    let list = api.list(&lp).await.map_err(|e| match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        e => e.to_string(),
    })?;
    let mut latest: HashMap<String, (String, String)> = HashMap::new();
    for e in list.items {
        let v = serde_json::to_value(&e).unwrap_or_default();
        let ann = &v["metadata"]["annotations"];
        if v["reportingComponent"] != COMPONENT || ann[A_INSTANCE] != instance {
            continue;
        }
        let (Some(app), Some(basis)) =
            (v["involvedObject"]["name"].as_str(), ann[A_BASIS].as_str())
        else {
            continue;
        };
        let at = v["eventTime"]
            .as_str()
            .or_else(|| v["lastTimestamp"].as_str())
            .unwrap_or("")
            .to_string();
        let e = latest.entry(app.to_string()).or_default();
        if at >= e.0 {
            *e = (at, basis.to_string());
        }
    }
    Ok(latest.into_iter().map(|(k, (_, b))| (k, b)).collect())
}
