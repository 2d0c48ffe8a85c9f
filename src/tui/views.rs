//! The list views beside the fleet: the ApplicationSets of every instance (`:appsets`) and the
//! versions per environment of each app family (`:versions`). Their rows are derived from the
//! model on each call (never stored), so they follow the fleet as it changes.

use crate::model::appset::ApplicationSet;
use crate::model::fleet::InstanceId;
use crate::model::versions::FamilyRow;
use crate::tui::model::Model;

/// The ApplicationSets, by instance then name.
pub fn appset_rows(m: &Model) -> Vec<(InstanceId, &ApplicationSet)> {
    let mut out: Vec<(InstanceId, &ApplicationSet)> = m
        .appsets
        .iter()
        .filter_map(|(i, r)| r.as_ref().ok().map(|sets| (i, sets)))
        .flat_map(|(i, sets)| sets.iter().map(move |s| (*i, s)))
        .collect();
    out.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.metadata.name.cmp(&b.1.metadata.name))
    });
    out
}

/// The instances whose sets could not be read, and why.
pub fn appset_errors(m: &Model) -> Vec<(String, &str)> {
    m.appsets
        .iter()
        .filter_map(|(i, r)| {
            r.as_ref()
                .err()
                .map(|e| (m.instance_name(*i).to_string(), e.as_str()))
        })
        .collect()
}

/// The families across environments, gaps first (computed when the view opens and when the
/// fleet changes while it is open: at 10,000 apps that is milliseconds, too slow per frame).
pub fn version_rows(m: &Model) -> &[FamilyRow] {
    &m.versions
}

/// Computes the families again (the versions view is open and the fleet changed).
pub fn refresh_versions(m: &mut Model) {
    m.versions = crate::model::versions::families(&m.fleet.rows, &m.families);
}

/// The environments the versions view has columns for: the configured order, then any other
/// environment the families have.
pub fn version_envs(rows: &[FamilyRow], m: &Model) -> Vec<String> {
    let mut envs: Vec<String> = m
        .families
        .envs
        .iter()
        .filter(|e| {
            rows.iter()
                .any(|r| r.envs.iter().any(|c| c.env.eq_ignore_ascii_case(e)))
        })
        .cloned()
        .collect();
    for r in rows {
        for c in &r.envs {
            if !envs.iter().any(|e| e.eq_ignore_ascii_case(&c.env)) {
                envs.push(c.env.clone());
            }
        }
    }
    envs
}
