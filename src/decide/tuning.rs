//! The policy bundle's tunables (`data.driftdeck.config` in `assets/policies/data.json`), read
//! by the Rego policy and by the heuristic advisor alike, so that a user who changes a threshold
//! or a pattern changes both.

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

/// The builtin policy data (`assets/policies/data.json`): the tunables and the rules' lists.
pub const DEFAULT_DATA: &str = include_str!("../../assets/policies/data.json");

#[derive(Debug, Clone, Deserialize)]
struct Raw {
    scaling_ratio: f64,
    low_traffic_ratio: f64,
    load_signal: String,
    quality_signal: String,
    environment_labels: Vec<String>,
    non_production: Vec<String>,
    production: Vec<String>,
    autoscaler_managers: String,
    human_managers: String,
    #[serde(default = "default_argocd_managers")]
    argocd_managers: String,
    secret_controllers: Vec<SecretController>,
    operational_metadata: String,
    security_metadata: String,
    security_key: String,
    negative_security_key: String,
    credential_key: String,
    falsy_values: Vec<String>,
    truthy_values: Vec<String>,
    security_kinds: Vec<String>,
    rbac_kinds: Vec<String>,
    binding_kinds: Vec<String>,
    #[serde(default)]
    trusted_registries: Vec<String>,
    #[serde(default)]
    object_kinds: Vec<String>,
}

fn default_argocd_managers() -> String {
    DEFAULT_ARGOCD_MANAGERS.to_string()
}

/// Argo CD's field managers: `argocd-controller` (server-side apply) and the application
/// controller's client-side apply.
pub const DEFAULT_ARGOCD_MANAGERS: &str = "(?i)^argocd(-application)?-controller$";

/// A controller that owns Secrets and the field managers it writes them as.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SecretController {
    pub owner_kind: String,
    pub managers: String,
}

/// Compiled tunables.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub scaling_ratio: f64,
    pub low_traffic_ratio: f64,
    pub load_signal: Regex,
    pub quality_signal: Regex,
    pub environment_labels: Vec<String>,
    pub non_production: Vec<String>,
    pub production: Vec<String>,
    pub autoscaler_managers: Regex,
    pub human_managers: Regex,
    /// Field managers of Argo CD's own writes (a sync, a rollback): not a hand change.
    pub argocd_managers: Regex,
    pub secret_controllers: Vec<(String, Regex)>,
    pub operational_metadata: Regex,
    pub security_metadata: Regex,
    pub security_key: Regex,
    pub negative_security_key: Regex,
    pub credential_key: Regex,
    pub falsy_values: Vec<String>,
    pub truthy_values: Vec<String>,
    pub security_kinds: Vec<String>,
    pub rbac_kinds: Vec<String>,
    pub binding_kinds: Vec<String>,
    pub trusted_registries: Vec<String>,
    /// More kinds whose whole objects go into the policy input (`*`: every kind).
    pub object_kinds: Vec<String>,
}

impl Tuning {
    /// From the merged data document of a bundle (its `driftdeck.config` object).
    pub fn from_data(data: &Value) -> Result<Tuning, String> {
        let cfg = data.pointer("/driftdeck/config").ok_or(
            "the policy data has no `driftdeck.config` object (see assets/policies/data.json)",
        )?;
        let raw: Raw = serde_json::from_value(cfg.clone())
            .map_err(|e| format!("the policy data's `driftdeck.config` is not valid: {e}"))?;
        let re = |name: &str, s: &str| {
            Regex::new(s).map_err(|e| {
                format!("`driftdeck.config.{name}` is not a valid regular expression: {e}")
            })
        };
        let mut secret_controllers = Vec::new();
        for c in &raw.secret_controllers {
            secret_controllers.push((
                c.owner_kind.clone(),
                re("secret_controllers.managers", &c.managers)?,
            ));
        }
        if raw.scaling_ratio.is_nan()
            || raw.scaling_ratio <= 1.0
            || raw.low_traffic_ratio.is_nan()
            || raw.low_traffic_ratio <= 0.0
            || raw.low_traffic_ratio >= 1.0
        {
            return Err("`driftdeck.config.scaling_ratio` must be above 1 and `low_traffic_ratio` between 0 and 1".into());
        }
        Ok(Tuning {
            scaling_ratio: raw.scaling_ratio,
            low_traffic_ratio: raw.low_traffic_ratio,
            load_signal: re("load_signal", &raw.load_signal)?,
            quality_signal: re("quality_signal", &raw.quality_signal)?,
            environment_labels: raw.environment_labels,
            non_production: raw.non_production,
            production: raw.production,
            autoscaler_managers: re("autoscaler_managers", &raw.autoscaler_managers)?,
            human_managers: re("human_managers", &raw.human_managers)?,
            argocd_managers: re("argocd_managers", &raw.argocd_managers)?,
            secret_controllers,
            operational_metadata: re("operational_metadata", &raw.operational_metadata)?,
            security_metadata: re("security_metadata", &raw.security_metadata)?,
            security_key: re("security_key", &raw.security_key)?,
            negative_security_key: re("negative_security_key", &raw.negative_security_key)?,
            credential_key: re("credential_key", &raw.credential_key)?,
            falsy_values: raw.falsy_values,
            truthy_values: raw.truthy_values,
            security_kinds: raw.security_kinds,
            rbac_kinds: raw.rbac_kinds,
            binding_kinds: raw.binding_kinds,
            trusted_registries: raw.trusted_registries,
            object_kinds: raw.object_kinds,
        })
    }

    /// Whether the policy input carries the whole `desired` and `live` objects of a kind: the
    /// RBAC, binding and security kinds (their rules compare objects), and `object_kinds`.
    /// Every other kind is described by its changes, settings, images, owners and managers,
    /// which keeps the input small (converting it is a third of a policy decision).
    pub fn objects_in_input(&self, kind: &str) -> bool {
        let has = |l: &[String]| l.iter().any(|k| k == kind || k == "*");
        has(&self.rbac_kinds)
            || has(&self.binding_kinds)
            || has(&self.security_kinds)
            || has(&self.object_kinds)
    }

    /// The tunables shipped in `assets/policies/data.json`.
    pub fn builtin() -> Tuning {
        let data: Value = serde_json::from_str(DEFAULT_DATA)
            .expect("the embedded policy data is valid JSON (tested)");
        Tuning::from_data(&data).expect("the embedded policy data is valid (tested)")
    }

    pub fn is_falsy(&self, v: &str) -> bool {
        let v = v.trim().to_ascii_lowercase();
        self.falsy_values.contains(&v)
    }

    pub fn is_truthy(&self, v: &str) -> bool {
        let v = v.trim().to_ascii_lowercase();
        self.truthy_values.contains(&v)
    }
}
