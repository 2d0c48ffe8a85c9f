//! Advisors: given the facts of a drift, a verdict, a confidence and the reasoning, citing
//! evidence by id. `heuristic` is deterministic and offline (the default); `llm` asks any
//! OpenAI-compatible chat-completions endpoint and is checked against the facts.

pub mod heuristic;
pub mod llm;

use futures::future::BoxFuture;
use serde::Serialize;

use super::Verdict;
use super::facts::Facts;

/// What an advisor says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    pub name: String,
    pub verdict: Verdict,
    /// How sure it is, 0 to 1.
    pub confidence: f64,
    pub reasoning: String,
    /// Evidence ids from the facts' catalogue (`signal:request_rate`, `incident:PD-1`, ...).
    pub evidence: Vec<String>,
}

/// Why an advisor could not answer; the decision then goes to a human with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdvisorError {
    #[error("the advisor did not answer within {0} s")]
    Timeout(u64),
    #[error("the advisor could not be reached: {0}")]
    Unreachable(String),
    #[error("the advisor's endpoint refused the request: {0}")]
    Refused(String),
    #[error("the advisor's answer is not valid: {0}")]
    Invalid(String),
}

/// An advisor.
pub trait Advisor: Send + Sync {
    fn name(&self) -> &str;
    /// How it reaches its answers, for reports (the LLM: the structured-output form its
    /// server accepted).
    fn detail(&self) -> Option<String> {
        None
    }
    fn advise<'a>(&'a self, facts: &'a Facts) -> BoxFuture<'a, Result<Advice, AdvisorError>>;
}
