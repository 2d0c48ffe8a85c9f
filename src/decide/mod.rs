//! Drift decisions: the policy input built from the facts of a drift, the Rego policy
//! (a hard bound), the advisors (heuristic, LLM), the guardrails that combine them, the modes
//! (shadow, advisory, autonomous), the journal, and scenario replay with scoring.

pub mod advisor;
pub mod autonomy;
pub mod calibration;
pub mod context;
pub mod decider;
pub mod facts;
pub mod handling;
pub mod journal;
pub mod live;
pub mod policy;
pub mod replay;
pub mod scenario;
pub mod service;
/// The `[decide]`, `[context]` and `[policy]` sections live with the config.
pub use crate::config::decide as settings;
pub mod tuning;
pub mod verdict;

pub use verdict::Verdict;

#[cfg(test)]
mod tests;
