//! Drift scenario files (docs: ../shared/docs/scenario-format.md): one drift with everything a
//! decision needs, so it can be decided, replayed and scored without a server. Journal records
//! carry the same fields and export back to this format.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Verdict;
use crate::config::FileError;

/// One drift to decide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The decision instant; policies read time only from here.
    pub now: DateTime<Utc>,
    /// The Argo CD Application (any subset of the real object).
    pub app: Value,
    /// The AppProject, for its sync windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Value>,
    pub resources: Vec<DriftedResource>,
    /// What the context sources returned; absent means none was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// What driftdeck and its operators did to the app lately (from the journal): a guided
    /// rollback, a deferral, an incident annotation, a sync. Not from a context source, so its
    /// presence does not make `context` configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<super::handling::RecentAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// A drifted resource: Git's desired state and the cluster's (either may be absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftedResource {
    #[serde(default)]
    pub desired: Option<Value>,
    #[serde(default)]
    pub live: Option<Value>,
}

/// What the context sources returned at `now`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub signals: BTreeMap<String, Signal>,
    #[serde(default)]
    pub incidents: Vec<Incident>,
    #[serde(default)]
    pub alerts: Vec<Alert>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<KubeEvent>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, SourceState>,
}

impl Context {
    /// Adds what one source found (each source fills its own part).
    pub fn merge(&mut self, other: Context) {
        self.signals.extend(other.signals);
        self.incidents.extend(other.incidents);
        self.alerts.extend(other.alerts);
        self.events.extend(other.events);
        self.sources.extend(other.sources);
    }
}

/// A named measurement and its usual level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// An incident from PagerDuty or similar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// Fetched for this app's own mapped service (PagerDuty service id from the config or an
    /// annotation): it concerns the app whatever its `service` name says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mapped: bool,
}

/// A firing alert from Alertmanager or similar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, rename = "startsAt", skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
}

/// A Kubernetes event of a drifted object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeEvent {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub reason: String,
    /// `Kind/name` of the object.
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
}

/// The health of a context source when it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceState {
    Ok,
    Stale,
    Failed,
}

impl SourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Ok => "ok",
            SourceState::Stale => "stale",
            SourceState::Failed => "failed",
        }
    }
}

/// The label of a labelled scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expect {
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl Scenario {
    /// Parses and checks a scenario's text; every error names the file and, where known, the
    /// line.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, FileError> {
        crate::limits::check_yaml(text, "the scenario")
            .map_err(|e| FileError::new(path, None, e))?;
        let s: Scenario = serde_yaml::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line());
            FileError::new(path, line, yaml_message(&e.to_string()))
        })?;
        s.check(path, text)?;
        Ok(s)
    }

    pub fn load(path: &Path) -> Result<Scenario, FileError> {
        let bytes = crate::limits::read_file(path).map_err(|e| FileError::new(path, None, e))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            FileError::new(path, None, "the scenario is not UTF-8 text".to_string())
        })?;
        Scenario::parse(path, &text)
    }

    fn check(&self, path: &Path, text: &str) -> Result<(), FileError> {
        let line_of = |needle: &str| {
            text.find(needle)
                .map(|i| text[..i].matches('\n').count() + 1)
        };
        let err = |needle: &str, msg: String| FileError::new(path, line_of(needle), msg);
        if self.name.trim().is_empty() {
            return Err(err(
                "name:",
                "`name` is empty: give the scenario a kebab-case name".into(),
            ));
        }
        if !self.app.is_object() {
            return Err(err(
                "app:",
                "`app` must be an Argo CD Application object (at least metadata.name)".into(),
            ));
        }
        if self
            .app
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(err(
                "app:",
                "`app.metadata.name` is missing: name the Application".into(),
            ));
        }
        if let Some(p) = &self.project
            && !p.is_object()
        {
            return Err(err(
                "project:",
                "`project` must be an AppProject object".into(),
            ));
        }
        if self.resources.is_empty() {
            return Err(err(
                "resources:",
                "`resources` is empty: a scenario needs at least one drifted resource".into(),
            ));
        }
        for (i, r) in self.resources.iter().enumerate() {
            let n = i + 1;
            if r.desired.is_none() && r.live.is_none() {
                return Err(err(
                    "resources:",
                    format!("resource {n} has neither `desired` nor `live`: give at least one"),
                ));
            }
            for (side, v) in [("desired", &r.desired), ("live", &r.live)] {
                if let Some(v) = v {
                    if !v.is_object() || v.get("kind").and_then(Value::as_str).is_none() {
                        return Err(err(
                            "resources:",
                            format!(
                                "resource {n}: `{side}` is not a Kubernetes object with a `kind`"
                            ),
                        ));
                    }
                    if v.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .is_none()
                    {
                        return Err(err(
                            "resources:",
                            format!("resource {n}: `{side}` has no metadata.name"),
                        ));
                    }
                }
            }
            if let (Some(d), Some(l)) = (&r.desired, &r.live)
                && d.get("kind") != l.get("kind")
            {
                return Err(err(
                    "resources:",
                    format!("resource {n}: `desired` and `live` are different kinds"),
                ));
            }
        }
        if let Some(ctx) = &self.context {
            for (name, s) in &ctx.signals {
                if !s.value.is_finite() || s.baseline.is_some_and(|b| !b.is_finite()) {
                    return Err(err(name, format!("signal `{name}` is not a finite number")));
                }
            }
        }
        Ok(())
    }

    /// The scenario as YAML (journal export).
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// The file name an exported scenario gets.
    pub fn file_name(&self) -> String {
        let safe: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("{safe}.yaml")
    }
}

/// serde_yaml's message without its trailing " at line N column M" (the line is reported
/// separately).
fn yaml_message(m: &str) -> String {
    let m = match m.find(" at line ") {
        Some(i) => &m[..i],
        None => m,
    };
    let m = m.trim();
    if let Some(f) = m.strip_prefix("missing field ") {
        format!("missing field {f}: scenarios need `name`, `now`, `app` and `resources`")
    } else {
        m.to_string()
    }
}

/// Reads every `*.yaml`/`*.yml` scenario of a folder, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<(std::path::PathBuf, Scenario)>, FileError> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| FileError::new(dir, None, format!("cannot read the scenario folder: {e}")))?;
    let mut files: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(FileError::new(
            dir,
            None,
            "no scenario files (*.yaml) in this folder".to_string(),
        ));
    }
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let s = Scenario::load(&f)?;
        out.push((f, s));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
name: x
now: "2026-11-20T16:05:00Z"
app: {metadata: {name: payments}}
resources:
  - desired: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {a: "1"}}
    live: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {a: "2"}}
"#;

    #[test]
    fn parses_a_minimal_scenario() {
        let s = Scenario::parse(Path::new("m.yaml"), MIN).unwrap();
        assert_eq!(s.name, "x");
        assert!(s.context.is_none());
        assert_eq!(s.resources.len(), 1);
    }

    #[test]
    fn bad_scenarios_say_where_and_what() {
        let e = Scenario::parse(Path::new("b.yaml"), "name: x\nnow: yesterday\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = Scenario::parse(
            Path::new("b.yaml"),
            &MIN.replace("resources:", "resourcez:"),
        )
        .unwrap_err();
        assert!(e.message.contains("resources"), "{e}");
        let e = Scenario::parse(
            Path::new("b.yaml"),
            &format!("{MIN}expect: {{verdict: block}}\n"),
        )
        .unwrap_err();
        assert!(e.message.contains("block"), "{e}");
        assert_eq!(e.line, Some(8), "{e}");
        let e = Scenario::parse(
            Path::new("b.yaml"),
            "name: x\nnow: \"2026-11-20T16:05:00Z\"\napp: {metadata: {name: a}}\nresources:\n  - {}\n",
        )
        .unwrap_err();
        assert!(e.message.contains("neither"), "{e}");
        assert_eq!(e.line, Some(4));
        let e = Scenario::parse(Path::new("b.yaml"), "[1, 2").unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }
}
