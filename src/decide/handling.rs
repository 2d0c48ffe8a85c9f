//! What driftdeck and its operators did to an app that the next decision must know: a guided
//! rollback that holds it (auto-sync paused so Git does not undo it), an operator's deferral, an
//! incident annotation, and the app's latest actions in the journal. Read from the
//! Application's annotations (every operator and the Argo CD UI see them) and from the
//! scenario's `context.actions` (the journal), so a recorded decision replays the same.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Annotations driftdeck leaves on Applications (`../shared/docs/cli.md`).
pub const DEFERRED_UNTIL: &str = "driftdeck.io/deferred-until";
pub const DEFER_REASON: &str = "driftdeck.io/defer-reason";
pub const PAUSED_POLICY: &str = "driftdeck.io/paused-self-heal";
/// Why auto-sync was paused for a guided rollback (present while the rollback holds).
pub const PAUSE_REASON: &str = "driftdeck.io/pause-reason";
pub const INCIDENT: &str = "driftdeck.io/incident";
pub const INCIDENT_NOTE: &str = "driftdeck.io/incident-note";

/// One action of the journal on the app, as context for a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentAction {
    /// `rollback`, `defer`, `annotate`, `sync`, `restore-deferral`, ...
    pub action: String,
    #[serde(default)]
    pub operator: String,
    pub time: DateTime<Utc>,
    /// What it did, in a few words (`to #12 (1d2f7a9): bad release`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// For a rollback: the history id and revision it rolled back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// A guided rollback that holds the app: Git must not be applied over it until an operator
/// restores auto-sync.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackHold {
    pub reason: String,
    /// Who rolled back and when, to which deployment (from the journal, when it has it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Auto-sync is paused for it (`driftdeck.io/pause-reason`).
    pub paused: bool,
}

impl RollbackHold {
    pub fn describe(&self) -> String {
        let mut s = String::from("rolled back");
        if let Some(to) = self.to {
            s.push_str(&format!(" to #{to}"));
        }
        if let Some(by) = &self.by {
            s.push_str(&format!(" by {by}"));
        }
        if let Some(t) = self.time {
            s.push_str(&format!(" at {}", t.format("%Y-%m-%d %H:%M UTC")));
        }
        if !self.reason.is_empty() {
            s.push_str(&format!(": {}", self.reason));
        }
        if self.paused {
            s.push_str("; auto-sync paused until an operator restores it");
        }
        s
    }
}

/// An operator's deferral recorded on the app.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeferralHold {
    pub until: DateTime<Utc>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl DeferralHold {
    pub fn describe(&self) -> String {
        format!(
            "deferred until {}{}{}",
            self.until.format("%Y-%m-%d %H:%M UTC"),
            self.by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default(),
            if self.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", self.reason)
            }
        )
    }
}

/// The incident an operator annotated the app with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentMark {
    pub id: String,
    pub note: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl IncidentMark {
    pub fn describe(&self) -> String {
        format!(
            "under incident {}{}{}",
            self.id,
            self.by
                .as_deref()
                .map(|b| format!(" (annotated by {b})"))
                .unwrap_or_default(),
            if self.note.is_empty() {
                String::new()
            } else {
                format!(": {}", self.note)
            }
        )
    }
}

/// Everything of the kind, for one app at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Handling {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackHold>,
    /// The deferral on the app, if any (active or not: `until` says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deferral: Option<DeferralHold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentMark>,
    /// The app's latest actions in the journal, newest last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<RecentAction>,
}

impl Handling {
    pub fn is_empty(&self) -> bool {
        self.rollback.is_none()
            && self.deferral.is_none()
            && self.incident.is_none()
            && self.actions.is_empty()
    }

    /// Sentences for the decision screen and the sync plan, most binding first.
    pub fn lines(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(r) = &self.rollback {
            out.push(r.describe());
        }
        if let Some(d) = &self.deferral {
            if d.until > now {
                out.push(d.describe());
            } else {
                out.push(format!("{} (due: self-heal comes back)", d.describe()));
            }
        }
        if let Some(i) = &self.incident {
            out.push(i.describe());
        }
        out
    }

    /// Reads it from the Application (as JSON) and the journal's actions on it.
    pub fn of(app: &Value, actions: &[RecentAction]) -> Handling {
        let ann = |k: &str| {
            app.pointer("/metadata/annotations")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let last = |name: &str| actions.iter().rev().find(|a| a.action == name);
        let deployed = app
            .pointer("/status/history")
            .and_then(Value::as_array)
            .and_then(|h| {
                h.iter()
                    .max_by_key(|e| e.get("id").and_then(Value::as_i64).unwrap_or(0))
            })
            .and_then(|e| e.get("revision"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let target = app
            .pointer("/status/sync/revision")
            .and_then(Value::as_str)
            .map(str::to_string);
        let rb = last("rollback");
        // Held: auto-sync is paused for it, or (auto-sync was off, so nothing was paused) the
        // deployment live now is still the one the journal says it rolled back to, and Git has
        // another revision.
        let paused = ann(PAUSE_REASON);
        let still_deployed = rb.is_some_and(|a| {
            a.revision.is_some()
                && a.revision == deployed
                && target
                    .as_ref()
                    .is_some_and(|t| Some(t) != a.revision.as_ref())
        });
        let rollback = (paused.is_some() || still_deployed).then(|| RollbackHold {
            reason: paused
                .clone()
                .or_else(|| rb.map(|a| a.detail.clone()))
                .unwrap_or_default(),
            by: rb.map(|a| a.operator.clone()).filter(|o| !o.is_empty()),
            time: rb.map(|a| a.time),
            to: rb.and_then(|a| a.to),
            revision: rb.and_then(|a| a.revision.clone()),
            paused: paused.is_some(),
        });
        let deferral = ann(DEFERRED_UNTIL).and_then(|u| {
            let until = DateTime::parse_from_rfc3339(&u).ok()?.with_timezone(&Utc);
            Some(DeferralHold {
                until,
                reason: ann(DEFER_REASON).unwrap_or_default(),
                by: last("defer")
                    .map(|a| a.operator.clone())
                    .filter(|o| !o.is_empty()),
            })
        });
        let incident = ann(INCIDENT)
            .filter(|i| !i.trim().is_empty())
            .map(|id| IncidentMark {
                id: id.trim().to_string(),
                note: ann(INCIDENT_NOTE).unwrap_or_default(),
                by: last("annotate")
                    .map(|a| a.operator.clone())
                    .filter(|o| !o.is_empty()),
            });
        Handling {
            rollback,
            deferral,
            incident,
            actions: actions.to_vec(),
        }
    }
}

/// The actions the journal holds on one app of one instance (newest last, at most `max`),
/// as decision context: what driftdeck and its operators did to it.
pub fn recent_actions(
    records: &[super::journal::Record],
    instance: &str,
    app: &str,
    max: usize,
) -> Vec<RecentAction> {
    let mut out: Vec<RecentAction> = records
        .iter()
        .filter(|r| r.kind == "action")
        .filter(|r| {
            r.body.get("app").and_then(Value::as_str) == Some(app)
                && r.body
                    .get("instance")
                    .and_then(Value::as_str)
                    .is_none_or(|i| i == instance)
        })
        .filter_map(|r| {
            let b = &r.body;
            let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let action = s("action");
            // A review is not something done to the app; a rollback's steps are one action.
            if action == "review" || action.is_empty() {
                return None;
            }
            let detail = match action.as_str() {
                "rollback" => s("reason"),
                "defer" => format!("until {}: {}", s("until"), s("reason")),
                "annotate" => {
                    let note = s("note");
                    if note.is_empty() {
                        s("incident")
                    } else {
                        format!("{}: {note}", s("incident"))
                    }
                }
                _ => s("outcome"),
            };
            Some(RecentAction {
                action,
                operator: s("operator"),
                time: r.time,
                detail,
                to: b.get("to").and_then(Value::as_i64),
                revision: b
                    .get("revision")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect();
    // One line per rollback (its steps are several records), the first step's time.
    out.dedup_by(|b, a| a.action == "rollback" && b.action == "rollback" && a.to == b.to);
    let n = out.len();
    out.drain(..n.saturating_sub(max));
    out
}

/// The action records of a journal by app, kept up to date by reading only what was appended
/// since the last look (the journal is append-only), so asking for an app's recent actions
/// before each decision does not read the whole journal.
#[derive(Debug, Default)]
pub struct ActionIndex {
    offset: u64,
    by_app: std::collections::HashMap<String, Vec<super::journal::Record>>,
}

/// How many action records are kept per app.
const KEEP: usize = 32;

impl ActionIndex {
    /// Reads what was appended since the last call.
    pub fn refresh(
        &mut self,
        journal: &super::journal::Journal,
    ) -> Result<(), super::journal::JournalError> {
        let (records, offset) = journal.read_from(self.offset)?;
        if offset < self.offset {
            self.by_app.clear();
        }
        self.offset = offset;
        for r in records.into_iter().filter(|r| r.kind == "action") {
            let Some(app) = r.body.get("app").and_then(Value::as_str) else {
                continue;
            };
            let v = self.by_app.entry(app.to_string()).or_default();
            v.push(r);
            if v.len() > KEEP {
                v.remove(0);
            }
        }
        Ok(())
    }

    /// The app's latest actions on `instance`, newest last.
    pub fn recent(&self, instance: &str, app: &str, max: usize) -> Vec<RecentAction> {
        self.by_app
            .get(app)
            .map(|rs| recent_actions(rs, instance, app, max))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_paused_rollback_a_deferral_and_an_incident_are_read_from_the_app() {
        let app = json!({
            "metadata": {"annotations": {
                PAUSE_REASON: "bad release",
                DEFERRED_UNTIL: "2026-12-03T18:00:00Z",
                DEFER_REASON: "load test",
                INCIDENT: "INC-7",
                INCIDENT_NOTE: "5xx",
            }},
            "status": {"sync": {"revision": "b"}, "history": [{"id": 1, "revision": "a"}, {"id": 2, "revision": "b"}, {"id": 3, "revision": "a"}]}
        });
        let acts = vec![RecentAction {
            action: "rollback".into(),
            operator: "ana".into(),
            time: t("2026-12-03T10:00:00Z"),
            detail: "bad release".into(),
            to: Some(1),
            revision: Some("a".into()),
        }];
        let h = Handling::of(&app, &acts);
        let r = h.rollback.as_ref().unwrap();
        assert!(r.paused);
        assert_eq!(r.by.as_deref(), Some("ana"));
        assert_eq!(r.to, Some(1));
        assert!(r.describe().contains("to #1 by ana"), "{}", r.describe());
        assert_eq!(h.deferral.as_ref().unwrap().reason, "load test");
        assert_eq!(h.incident.as_ref().unwrap().id, "INC-7");
        let lines = h.lines(t("2026-12-03T12:00:00Z"));
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("deferred until 2026-12-03 18:00 UTC"));
        assert!(h.lines(t("2026-12-04T00:00:00Z"))[1].contains("due"));
    }

    #[test]
    fn a_rollback_without_a_pause_holds_while_its_deployment_is_live() {
        let acts = vec![RecentAction {
            action: "rollback".into(),
            operator: "bo".into(),
            time: t("2026-12-03T10:00:00Z"),
            detail: "r".into(),
            to: Some(1),
            revision: Some("a".into()),
        }];
        let app = |deployed: &str| json!({"status": {"sync": {"revision": "b"}, "history": [{"id": 1, "revision": "a"}, {"id": 2, "revision": "b"}, {"id": 3, "revision": deployed}]}});
        assert!(Handling::of(&app("a"), &acts).rollback.is_some());
        // Synced again since: the rollback is over.
        assert!(Handling::of(&app("b"), &acts).rollback.is_none());
        assert!(Handling::of(&app("a"), &[]).rollback.is_none());
    }
}
