//! Argo CD's status enumerations, parsed leniently: an unknown string is `Unknown`, never an error.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `status.sync.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Sync {
    Synced,
    OutOfSync,
    Unknown,
}

impl Sync {
    pub const ALL: [Sync; 3] = [Sync::Synced, Sync::OutOfSync, Sync::Unknown];

    pub fn parse(s: &str) -> Sync {
        match s {
            "Synced" => Sync::Synced,
            "OutOfSync" => Sync::OutOfSync,
            _ => Sync::Unknown,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Sync::Synced => "Synced",
            Sync::OutOfSync => "OutOfSync",
            Sync::Unknown => "Unknown",
        }
    }
}

/// `status.health.status`. The declaration order is Argo CD's aggregation order, best to worst
/// (`IsWorse`): Healthy < Suspended < Progressing < Missing < Degraded < Unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Health {
    Healthy,
    Suspended,
    Progressing,
    Missing,
    Degraded,
    Unknown,
}

impl Health {
    pub const ALL: [Health; 6] = [
        Health::Healthy,
        Health::Suspended,
        Health::Progressing,
        Health::Missing,
        Health::Degraded,
        Health::Unknown,
    ];

    pub fn parse(s: &str) -> Health {
        match s {
            "Healthy" => Health::Healthy,
            "Progressing" => Health::Progressing,
            "Degraded" => Health::Degraded,
            "Suspended" => Health::Suspended,
            "Missing" => Health::Missing,
            _ => Health::Unknown,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Progressing => "Progressing",
            Health::Degraded => "Degraded",
            Health::Suspended => "Suspended",
            Health::Missing => "Missing",
            Health::Unknown => "Unknown",
        }
    }
}

/// `status.operationState.phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OpPhase {
    Running,
    Terminating,
    Failed,
    Error,
    Succeeded,
}

impl OpPhase {
    pub const ALL: [OpPhase; 5] = [
        OpPhase::Running,
        OpPhase::Terminating,
        OpPhase::Failed,
        OpPhase::Error,
        OpPhase::Succeeded,
    ];

    pub fn parse(s: &str) -> Option<OpPhase> {
        Some(match s {
            "Running" => OpPhase::Running,
            "Terminating" => OpPhase::Terminating,
            "Failed" => OpPhase::Failed,
            "Error" => OpPhase::Error,
            "Succeeded" => OpPhase::Succeeded,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            OpPhase::Running => "Running",
            OpPhase::Terminating => "Terminating",
            OpPhase::Failed => "Failed",
            OpPhase::Error => "Error",
            OpPhase::Succeeded => "Succeeded",
        }
    }
    pub fn completed(self) -> bool {
        matches!(self, OpPhase::Failed | OpPhase::Error | OpPhase::Succeeded)
    }
}

impl fmt::Display for Sync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for OpPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_order_is_argo_cds_is_worse() {
        let mut v = vec![
            Health::Unknown,
            Health::Degraded,
            Health::Healthy,
            Health::Missing,
            Health::Progressing,
            Health::Suspended,
        ];
        v.sort();
        assert_eq!(v, Health::ALL.to_vec());
    }

    #[test]
    fn unknown_strings_parse_leniently() {
        assert_eq!(Sync::parse("weird"), Sync::Unknown);
        assert_eq!(Health::parse(""), Health::Unknown);
        assert_eq!(OpPhase::parse("Paused"), None);
        assert_eq!(OpPhase::parse("Running"), Some(OpPhase::Running));
    }
}
