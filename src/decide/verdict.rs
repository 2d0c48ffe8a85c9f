//! The four verdicts and their order of strictness.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What to do about a drift, from loosest to strictest: `allow` < `defer` < `enforce` <
/// `needs-human`. The derived order is that strictness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The drift is legitimate: do not revert it.
    Allow,
    /// Revert it at the next instant the sync windows allow an automated sync.
    Defer,
    /// Revert it now.
    Enforce,
    /// No safe automatic answer: an operator decides.
    NeedsHuman,
}

impl Verdict {
    pub const ALL: [Verdict; 4] = [
        Verdict::Allow,
        Verdict::Defer,
        Verdict::Enforce,
        Verdict::NeedsHuman,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Defer => "defer",
            Verdict::Enforce => "enforce",
            Verdict::NeedsHuman => "needs-human",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The stricter of two verdicts.
    pub fn stricter(self, other: Verdict) -> Verdict {
        self.max(other)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Verdict::Allow),
            "defer" => Ok(Verdict::Defer),
            "enforce" => Ok(Verdict::Enforce),
            "needs-human" => Ok(Verdict::NeedsHuman),
            other => Err(format!(
                "`{other}` is not a verdict: use allow, defer, enforce or needs-human"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictness_order() {
        assert!(Verdict::Allow < Verdict::Defer);
        assert!(Verdict::Defer < Verdict::Enforce);
        assert!(Verdict::Enforce < Verdict::NeedsHuman);
        assert_eq!(Verdict::Defer.stricter(Verdict::Allow), Verdict::Defer);
        for v in Verdict::ALL {
            assert_eq!(v.as_str().parse::<Verdict>(), Ok(v));
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
        assert!("block".parse::<Verdict>().is_err());
    }
}
