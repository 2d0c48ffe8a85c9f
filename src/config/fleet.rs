//! `[fleet]`: how long an app may stay OutOfSync (the drift SLA, per project overrides) and how
//! apps form families across environments (the versions view).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[fleet]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetConfig {
    /// How long an app may stay OutOfSync before it breaches (e.g. "30m"); none: no SLA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_sync_sla: Option<String>,
    /// Per project overrides of `out_of_sync_sla` (`project = "2h"`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub project_sla: BTreeMap<String, String>,
    /// How apps form families across environments (`:versions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub families: Option<FamilyConfig>,
}

/// `[fleet.families]`: the same app across dev, staging and prod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FamilyConfig {
    /// A label of the Applications whose value names the family (e.g.
    /// "app.kubernetes.io/part-of"); apps without it fall back to `pattern`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A regular expression on the app's name whose `family` group names the family (default:
    /// the name without its environment and region suffixes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The environments in promotion order (default: dev, staging, prod).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
}

/// The drift SLA in seconds, resolved per project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sla {
    pub default: Option<i64>,
    pub projects: BTreeMap<String, i64>,
}

fn secs(s: &str) -> Option<i64> {
    crate::util::parse_duration(s)
        .ok()
        .map(|d| d.as_secs() as i64)
}

impl Sla {
    pub fn from_config(c: Option<&FleetConfig>) -> Sla {
        let Some(c) = c else {
            return Sla::default();
        };
        Sla {
            default: c.out_of_sync_sla.as_deref().and_then(secs),
            projects: c
                .project_sla
                .iter()
                .filter_map(|(p, d)| Some((p.clone(), secs(d)?)))
                .collect(),
        }
    }

    /// The SLA of an app of `project`, in seconds.
    pub fn for_project(&self, project: &str) -> Option<i64> {
        self.projects.get(project).copied().or(self.default)
    }
}

impl FleetConfig {
    /// Every problem, with the key it is about.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let bad = |d: &str| match crate::util::parse_duration(d) {
            Ok(x) if x.as_secs() == 0 => Some("must be more than zero".to_string()),
            Ok(_) => None,
            Err(e) => Some(e),
        };
        if let Some(d) = &self.out_of_sync_sla
            && let Some(e) = bad(d)
        {
            out.push((
                "out_of_sync_sla",
                format!("[fleet] out_of_sync_sla `{d}`: {e} (e.g. \"30m\" or \"2h\")"),
            ));
        }
        for (p, d) in &self.project_sla {
            if let Some(e) = bad(d) {
                out.push((
                    "project_sla",
                    format!("[fleet.project_sla] {p} = `{d}`: {e} (e.g. \"30m\")"),
                ));
            }
        }
        if let Some(f) = &self.families {
            if let Some(p) = &f.pattern {
                match regex::Regex::new(p) {
                    Ok(r) if r.capture_names().flatten().any(|n| n == "family") => {}
                    Ok(_) => out.push((
                        "pattern",
                        format!(
                            "[fleet.families] pattern `{p}` has no `(?P<family>...)` group: name the part of the app's name that is the family"
                        ),
                    )),
                    Err(e) => out.push((
                        "pattern",
                        format!("[fleet.families] pattern `{p}` is not a regular expression: {e}"),
                    )),
                }
            }
            let mut seen = std::collections::HashSet::new();
            for e in &f.environments {
                if !seen.insert(e.to_ascii_lowercase()) {
                    out.push((
                        "environments",
                        format!("[fleet.families] environments lists `{e}` twice"),
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sla_per_project_overrides_the_default() {
        let c: FleetConfig =
            toml::from_str("out_of_sync_sla = \"30m\"\n[project_sla]\npayments = \"10m\"\n")
                .unwrap();
        let s = Sla::from_config(Some(&c));
        assert_eq!(s.for_project("payments"), Some(600));
        assert_eq!(s.for_project("other"), Some(1800));
        assert_eq!(Sla::default().for_project("x"), None);
        assert!(c.problems().is_empty());
    }

    #[test]
    fn bad_durations_and_patterns_are_reported() {
        let c: FleetConfig = toml::from_str(
            "out_of_sync_sla = \"soon\"\n[project_sla]\na = \"0s\"\n[families]\npattern = \"(x\"\nenvironments = [\"dev\", \"DEV\"]\n",
        )
        .unwrap();
        let p: Vec<&str> = c.problems().iter().map(|(k, _)| *k).collect();
        assert_eq!(
            p,
            ["out_of_sync_sla", "project_sla", "pattern", "environments"]
        );
        let c: FleetConfig = toml::from_str("[families]\npattern = \"^(.+)-prod$\"\n").unwrap();
        assert!(c.problems()[0].1.contains("(?P<family>"));
    }
}
