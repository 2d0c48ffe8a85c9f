//! Versions per environment: the same app across dev, staging and prod is a family (by a label,
//! or by its name without the environment), and each environment runs a version (the image
//! tag, else the synced revision). An environment is behind when the one before it in the
//! promotion order runs a newer version: a promotion gap. Plain data; no screen, no I/O.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::fleet::{AppKey, AppRow};

/// How apps form families (the config's `[fleet.families]`).
#[derive(Debug, Clone)]
pub struct Families {
    pub label: Option<String>,
    pub pattern: Option<regex::Regex>,
    /// The environments in promotion order.
    pub envs: Vec<String>,
}

impl Default for Families {
    fn default() -> Self {
        Families {
            label: None,
            pattern: None,
            envs: ["dev", "staging", "prod"].map(String::from).to_vec(),
        }
    }
}

impl PartialEq for Families {
    fn eq(&self, o: &Self) -> bool {
        self.label == o.label
            && self.pattern.as_ref().map(regex::Regex::as_str)
                == o.pattern.as_ref().map(regex::Regex::as_str)
            && self.envs == o.envs
    }
}

impl Families {
    pub fn from_config(c: Option<&crate::config::fleet::FamilyConfig>) -> Families {
        let mut f = Families::default();
        if let Some(c) = c {
            f.label = c.label.clone();
            // The config check reports a bad pattern; here it is only left out.
            f.pattern = c.pattern.as_deref().and_then(|p| regex::Regex::new(p).ok());
            if !c.environments.is_empty() {
                f.envs = c.environments.clone();
            }
        }
        f
    }

    /// The family of an app: its label, else the pattern's `family` group, else its name up
    /// to `-ENV` (`payments-api-prod-ew1` → `payments-api`). None when nothing says.
    pub fn family_of(&self, row: &AppRow) -> Option<String> {
        if let Some(l) = &self.label
            && let Some(v) = row.labels.get(l)
            && !v.is_empty()
        {
            return Some(v.clone());
        }
        if let Some(re) = &self.pattern {
            return re
                .captures(&row.key.name)
                .and_then(|c| c.name("family"))
                .map(|m| m.as_str().to_string());
        }
        if row.env.is_empty() {
            return None;
        }
        let marker = format!("-{}", row.env);
        let name = &row.key.name;
        let mut at = None;
        for (i, _) in name.match_indices(&marker) {
            let end = i + marker.len();
            if end == name.len() || name[end..].starts_with('-') {
                at = Some(i);
            }
        }
        at.filter(|i| *i > 0).map(|i| name[..i].to_string())
    }

    /// The rank of an environment in the promotion order (unknown ones after, by name).
    fn rank(&self, env: &str) -> (usize, String) {
        match self.envs.iter().position(|e| e.eq_ignore_ascii_case(env)) {
            Some(i) => (i, String::new()),
            None => (self.envs.len(), env.to_ascii_lowercase()),
        }
    }
}

/// What an app runs: the tag of its first image, else its revision (a short sha).
pub fn version_of(row: &AppRow) -> String {
    if let Some(img) = row.images.first() {
        let last = img.rsplit('/').next().unwrap_or(img);
        if let Some((_, tag)) = last.split_once(':') {
            return tag.split('@').next().unwrap_or(tag).to_string();
        }
        if let Some((_, digest)) = img.split_once('@') {
            return digest.chars().take(19).collect();
        }
    }
    let r = &row.revision;
    if r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit()) {
        r[..7].to_string()
    } else {
        r.clone()
    }
}

/// Compares two versions as semantic versions (`v1.2.3`, `16.5.0`, `1.2`); `None` when either
/// is not one (a sha cannot be ordered).
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let parse = |s: &str| -> Option<Vec<u64>> {
        let core = s.trim_start_matches('v').split(['-', '+']).next()?;
        let parts: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
        parts.filter(|p| !p.is_empty() && p.len() <= 4)
    };
    let (x, y) = (parse(a)?, parse(b)?);
    let n = x.len().max(y.len());
    let get = |v: &Vec<u64>, i: usize| v.get(i).copied().unwrap_or(0);
    Some(
        (0..n)
            .map(|i| get(&x, i).cmp(&get(&y, i)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal),
    )
}

/// One environment of a family: its apps and their versions.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvCell {
    pub env: String,
    pub apps: Vec<AppKey>,
    /// Distinct versions, newest first when they can be ordered.
    pub versions: Vec<String>,
    /// The previous environment runs a newer version (or, unordered, a different one).
    pub behind: Option<String>,
}

/// A family with its environments in promotion order.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyRow {
    pub family: String,
    pub envs: Vec<EnvCell>,
}

impl FamilyRow {
    /// Environments behind the one before them.
    pub fn gaps(&self) -> usize {
        self.envs.iter().filter(|e| e.behind.is_some()).count()
    }
}

/// The families of the fleet with apps in at least two environments, those with promotion
/// gaps first.
pub fn families(rows: &[AppRow], f: &Families) -> Vec<FamilyRow> {
    /// Per family, per environment (by rank): the environment's name and its apps.
    type Envs<'a> = BTreeMap<(usize, String), (String, Vec<&'a AppRow>)>;
    let mut by: BTreeMap<String, Envs> = BTreeMap::new();
    for r in rows {
        let (Some(fam), false) = (f.family_of(r), r.env.is_empty()) else {
            continue;
        };
        by.entry(fam)
            .or_default()
            .entry(f.rank(&r.env))
            .or_insert_with(|| (r.env.clone(), vec![]))
            .1
            .push(r);
    }
    let mut out: Vec<FamilyRow> = by
        .into_iter()
        .filter(|(_, envs)| envs.len() >= 2)
        .map(|(family, envs)| {
            let mut cells: Vec<EnvCell> = envs
                .into_values()
                .map(|(env, apps)| {
                    let mut versions: Vec<String> = apps.iter().map(|r| version_of(r)).collect();
                    versions.sort_by(|a, b| compare(b, a).unwrap_or_else(|| a.cmp(b)));
                    versions.dedup();
                    EnvCell {
                        env,
                        apps: apps.iter().map(|r| r.key.clone()).collect(),
                        versions,
                        behind: None,
                    }
                })
                .collect();
            for i in 1..cells.len() {
                let (before, this) = (&cells[i - 1].versions, &cells[i].versions);
                let (Some(newer), Some(mine)) = (before.first(), this.last()) else {
                    continue;
                };
                let behind = match compare(newer, mine) {
                    Some(Ordering::Greater) => true,
                    Some(_) => false,
                    None => newer != mine,
                };
                if behind {
                    cells[i].behind = Some(newer.clone());
                }
            }
            FamilyRow {
                family,
                envs: cells,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (b.gaps() > 0)
            .cmp(&(a.gaps() > 0))
            .then(a.family.cmp(&b.family))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::app::Application;

    fn row(name: &str, env: &str, image: &str) -> AppRow {
        let mut a = Application::default();
        a.metadata.name = name.into();
        a.metadata.labels.insert("env".into(), env.into());
        a.status.summary.images = vec![image.into()];
        AppRow::from_app(0, &a)
    }

    #[test]
    fn families_by_name_and_the_gaps_between_environments() {
        let rows = vec![
            row("shop-dev", "dev", "reg/shop:v1.5.0"),
            row("shop-staging", "staging", "reg/shop:v1.5.0"),
            row("shop-prod-ew1", "prod", "reg/shop:v1.4.2"),
            row("shop-prod-ue1", "prod", "reg/shop:v1.4.2"),
            row("solo-prod", "prod", "reg/solo:v2"),
            row("cart-staging", "staging", "reg/cart:v3.0.0"),
            row("cart-prod", "prod", "reg/cart:v3.0.0"),
        ];
        let fams = families(&rows, &Families::default());
        assert_eq!(
            fams.iter().map(|f| f.family.as_str()).collect::<Vec<_>>(),
            ["shop", "cart"],
            "solo has one environment; gaps first"
        );
        let shop = &fams[0];
        let envs: Vec<&str> = shop.envs.iter().map(|e| e.env.as_str()).collect();
        assert_eq!(envs, ["dev", "staging", "prod"]);
        assert_eq!(shop.envs[2].apps.len(), 2);
        assert_eq!(shop.envs[2].versions, ["v1.4.2"]);
        assert_eq!(shop.envs[2].behind.as_deref(), Some("v1.5.0"));
        assert_eq!(shop.envs[1].behind, None);
        assert_eq!(fams[1].gaps(), 0);
    }

    #[test]
    fn a_label_or_a_pattern_names_the_family() {
        let mut a = row("pay-eu", "prod", "reg/pay:1.0");
        a.labels
            .insert("app.kubernetes.io/part-of".into(), "payments".into());
        let f = Families {
            label: Some("app.kubernetes.io/part-of".into()),
            ..Families::default()
        };
        assert_eq!(f.family_of(&a).as_deref(), Some("payments"));
        let f = Families {
            pattern: Some(regex::Regex::new("^(?P<family>[a-z]+)-").unwrap()),
            ..Families::default()
        };
        assert_eq!(f.family_of(&a).as_deref(), Some("pay"));
        assert_eq!(
            Families::default()
                .family_of(&row("metrics-agent-prod-eu-west-1-1", "prod", "x"))
                .as_deref(),
            Some("metrics-agent")
        );
        assert_eq!(
            Families::default().family_of(&row("production", "prod", "x")),
            None
        );
    }

    #[test]
    fn versions_compare_as_semver_and_shas_only_differ() {
        assert_eq!(compare("v1.10.0", "v1.9.9"), Some(Ordering::Greater));
        assert_eq!(compare("16.5.0", "16.5"), Some(Ordering::Equal));
        assert_eq!(compare("v2.0.0-rc.1", "v1.0.0"), Some(Ordering::Greater));
        assert_eq!(compare("abc1234", "v1"), None);
        let mut r = row("x-prod", "prod", "");
        r.images.clear();
        r.revision = "0123456789abcdef0123456789abcdef01234567".into();
        assert_eq!(version_of(&r), "0123456");
        assert_eq!(
            version_of(&row("x", "prod", "reg.io:5000/a/b:1.2@sha256:ff")),
            "1.2"
        );
    }
}
