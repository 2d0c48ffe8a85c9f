//! The fleet filter: free text and facets. OR within a facet, AND across facets and text terms.
//!
//! Syntax (what `/` and `--filter` take): space-separated terms. `key:v1,v2` is a facet; anything
//! else is text that must appear in the app's name, cluster, project, namespace, instance or env.
//! `status:OutOfSync,Degraded env:prod pay` reads "OutOfSync or Degraded, in prod, matching pay".
//! `is:attention` keeps only apps that need attention. Facet values are case-insensitive and may
//! use `*` as a wildcard.

use std::collections::BTreeMap;
use std::fmt;

use super::fleet::AppRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Facet {
    /// Sync, health or operation phase.
    Status,
    Sync,
    Health,
    Op,
    Env,
    Instance,
    Cluster,
    Project,
    Namespace,
    /// `on` or `off`.
    Auto,
    /// The ApplicationSet that generated the app (`none` for apps of no set).
    AppSet,
}

impl Facet {
    pub const ALL: [Facet; 11] = [
        Facet::Status,
        Facet::Sync,
        Facet::Health,
        Facet::Op,
        Facet::Env,
        Facet::Instance,
        Facet::Cluster,
        Facet::Project,
        Facet::Namespace,
        Facet::Auto,
        Facet::AppSet,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Facet::Status => "status",
            Facet::Sync => "sync",
            Facet::Health => "health",
            Facet::Op => "op",
            Facet::Env => "env",
            Facet::Instance => "instance",
            Facet::Cluster => "cluster",
            Facet::Project => "project",
            Facet::Namespace => "ns",
            Facet::Auto => "auto",
            Facet::AppSet => "appset",
        }
    }

    pub fn from_key(k: &str) -> Option<Facet> {
        match k.to_ascii_lowercase().as_str() {
            "namespace" => Some(Facet::Namespace),
            "operation" => Some(Facet::Op),
            "autosync" | "auto-sync" => Some(Facet::Auto),
            "applicationset" => Some(Facet::AppSet),
            k => Facet::ALL.iter().copied().find(|f| f.key() == k),
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Lower-case text terms.
    pub text: Vec<String>,
    /// Chosen values per facet, as written (compared case-insensitively).
    pub facets: BTreeMap<Facet, Vec<String>>,
    /// Only apps that need attention.
    pub attention: bool,
    /// Only apps OutOfSync for longer than their SLA.
    pub sla: bool,
}

/// Case-insensitive glob with `*`.
fn glob_ci(pattern: &str, value: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let v = value.to_ascii_lowercase();
    if !p.contains('*') {
        return p == v;
    }
    let parts: Vec<&str> = p.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            if !v.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 {
            return v.len() >= pos + part.len() && v[pos..].ends_with(part);
        } else {
            match v[pos..].find(part) {
                Some(j) => pos += j + part.len(),
                None => return false,
            }
        }
    }
    true
}

impl Filter {
    pub fn parse(s: &str) -> Result<Filter, String> {
        let mut f = Filter::default();
        for term in s.split_whitespace() {
            if let Some((k, v)) = term.split_once(':') {
                if k.eq_ignore_ascii_case("is") {
                    if v.eq_ignore_ascii_case("attention") {
                        f.attention = true;
                        continue;
                    }
                    if v.eq_ignore_ascii_case("sla") {
                        f.sla = true;
                        continue;
                    }
                    return Err(format!(
                        "unknown `is:{v}`: use is:attention or is:sla (OutOfSync beyond the SLA)"
                    ));
                }
                let Some(facet) = Facet::from_key(k) else {
                    return Err(format!(
                        "unknown facet `{k}`: use status, sync, health, op, env, instance, cluster, project, ns, auto, appset, is:attention or is:sla"
                    ));
                };
                let values = f.facets.entry(facet).or_default();
                for v in v.split(',').filter(|v| !v.is_empty()) {
                    if !values.iter().any(|x| x.eq_ignore_ascii_case(v)) {
                        values.push(v.to_string());
                    }
                }
                if values.is_empty() {
                    f.facets.remove(&facet);
                }
            } else {
                f.text.push(term.to_lowercase());
            }
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.facets.is_empty() && !self.attention && !self.sla
    }

    /// Whether `row` passes at `now` (unix seconds). `haystack` is the row's lower-case
    /// searchable text (see [`haystack`]); `instance` is its instance's name.
    pub fn matches(&self, row: &AppRow, haystack: &str, instance: &str, now: i64) -> bool {
        if self.attention && !row.needs_attention() {
            return false;
        }
        if self.sla && !row.sla_breached(now) {
            return false;
        }
        if !self.text.iter().all(|t| haystack.contains(t.as_str())) {
            return false;
        }
        self.facets.iter().all(|(facet, values)| {
            values.iter().any(|v| match facet {
                Facet::Status => {
                    glob_ci(v, row.sync.as_str())
                        || glob_ci(v, row.health.as_str())
                        || row.operation.is_some_and(|o| glob_ci(v, o.as_str()))
                }
                Facet::Sync => glob_ci(v, row.sync.as_str()),
                Facet::Health => glob_ci(v, row.health.as_str()),
                Facet::Op => match row.operation {
                    Some(o) => glob_ci(v, o.as_str()),
                    None => v.eq_ignore_ascii_case("none"),
                },
                Facet::Env => glob_ci(v, &row.env),
                Facet::Instance => glob_ci(v, instance),
                Facet::Cluster => glob_ci(v, &row.cluster),
                Facet::Project => glob_ci(v, &row.project),
                Facet::Namespace => glob_ci(v, &row.dest_namespace),
                Facet::Auto => {
                    let on = matches!(v.to_ascii_lowercase().as_str(), "on" | "yes" | "true");
                    on == row.auto_sync
                }
                Facet::AppSet if row.appset.is_empty() => v.eq_ignore_ascii_case("none"),
                Facet::AppSet => glob_ci(v, &row.appset),
            })
        })
    }

    /// Adds or removes one facet value.
    pub fn toggle(&mut self, facet: Facet, value: &str) {
        let values = self.facets.entry(facet).or_default();
        if let Some(i) = values.iter().position(|v| v.eq_ignore_ascii_case(value)) {
            values.remove(i);
        } else {
            values.push(value.to_string());
        }
        if values.is_empty() {
            self.facets.remove(&facet);
        }
    }

    pub fn has(&self, facet: Facet, value: &str) -> bool {
        self.facets
            .get(&facet)
            .is_some_and(|vs| vs.iter().any(|v| v.eq_ignore_ascii_case(value)))
    }
}

impl fmt::Display for Filter {
    /// The canonical expression, which parses back to the same filter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if self.attention {
            parts.push("is:attention".into());
        }
        if self.sla {
            parts.push("is:sla".into());
        }
        for (facet, values) in &self.facets {
            parts.push(format!("{}:{}", facet.key(), values.join(",")));
        }
        parts.extend(self.text.iter().cloned());
        f.write_str(&parts.join(" "))
    }
}

/// The lower-case text a filter's free terms search in.
pub fn haystack(row: &AppRow, instance: &str) -> String {
    format!(
        "{} {} {} {} {} {}",
        row.key.name, row.cluster, row.project, row.dest_namespace, instance, row.env
    )
    .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::app::Application;
    use crate::model::fleet::AppRow;

    #[test]
    fn is_sla_and_the_appset_facet() {
        let f = Filter::parse("is:sla appset:envs").unwrap();
        assert!(f.sla);
        assert_eq!(f.to_string(), "is:sla appset:envs");
        assert_eq!(Filter::parse(&f.to_string()).unwrap(), f);
        let mut a = Application::default();
        a.metadata.name = "pay-dev".into();
        a.status.sync.status = "OutOfSync".into();
        a.metadata.owner_references = vec![crate::model::app::OwnerReference {
            kind: "ApplicationSet".into(),
            name: "envs".into(),
            ..Default::default()
        }];
        let mut r = AppRow::from_app(0, &a);
        r.out_of_sync_since = Some(1000);
        r.sla = Some(600);
        let hay = haystack(&r, "i");
        assert!(f.matches(&r, &hay, "i", 1601));
        assert!(!f.matches(&r, &hay, "i", 1600));
        r.appset.clear();
        assert!(!f.matches(&r, &hay, "i", 1601));
        assert!(
            Filter::parse("appset:none")
                .unwrap()
                .matches(&r, &hay, "i", 0)
        );
        assert!(Filter::parse("is:late").unwrap_err().contains("is:sla"));
    }

    fn row(name: &str, sync: &str, health: &str, env: &str) -> AppRow {
        let mut a = Application::default();
        a.metadata.name = name.into();
        a.status.sync.status = sync.into();
        a.status.health.status = health.into();
        a.spec.destination.name = format!("{env}-eu-west-1-1");
        a.spec.project = "shop".into();
        a.metadata.labels.insert("env".into(), env.into());
        AppRow::from_app(0, &a)
    }

    fn m(f: &Filter, r: &AppRow) -> bool {
        f.matches(r, &haystack(r, "argocd-eu"), "argocd-eu", 0)
    }

    #[test]
    fn or_within_and_across_facets() {
        let f = Filter::parse("status:OutOfSync,Degraded env:prod").unwrap();
        assert!(m(&f, &row("a", "OutOfSync", "Healthy", "prod")));
        assert!(m(&f, &row("b", "Synced", "Degraded", "prod")));
        assert!(!m(&f, &row("c", "Synced", "Healthy", "prod")));
        assert!(!m(&f, &row("d", "OutOfSync", "Healthy", "dev")));
    }

    #[test]
    fn text_terms_all_match() {
        let f = Filter::parse("PAY eu").unwrap();
        assert!(m(&f, &row("payments-prod", "Synced", "Healthy", "prod")));
        assert!(!m(&f, &row("orders-prod", "Synced", "Healthy", "prod")));
    }

    #[test]
    fn globs_and_attention() {
        let f = Filter::parse("cluster:prod-* is:attention").unwrap();
        assert!(m(&f, &row("a", "OutOfSync", "Healthy", "prod")));
        assert!(
            !m(&f, &row("a", "Synced", "Healthy", "prod")),
            "no attention needed"
        );
        assert!(!m(&f, &row("a", "OutOfSync", "Healthy", "dev")));
        assert!(glob_ci("*eu*1", "prod-eu-west-1"));
        assert!(!glob_ci("*us*", "prod-eu-west-1"));
    }

    #[test]
    fn round_trips_and_errors() {
        let f = Filter::parse("pay status:OutOfSync,degraded is:attention env:prod").unwrap();
        assert_eq!(Filter::parse(&f.to_string()).unwrap(), f);
        assert!(
            Filter::parse("color:red")
                .unwrap_err()
                .contains("unknown facet `color`")
        );
        let mut g = Filter::default();
        g.toggle(Facet::Health, "Degraded");
        assert!(g.has(Facet::Health, "degraded"));
        g.toggle(Facet::Health, "degraded");
        assert!(g.is_empty());
    }
}
