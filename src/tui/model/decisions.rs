//! The payload of decisions in the TUI: a decision as shown, its state per app, the queue's
//! rows and screen, the shadow report's screen. Data only; `tui::decisions` builds them.

use crate::decide::autonomy::Gate;
use crate::decide::decider::Decision;
use crate::decide::service::ShadowReport;
use crate::model::fleet::AppKey;

use super::Load;

/// A decision about one app, as the TUI shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionInfo {
    pub decision: Decision,
    /// Its journal record (reviews refer to it); `None` when it could not be written.
    pub seq: Option<u64>,
    /// Why it could not be journaled.
    pub journal_error: Option<String>,
    /// What autonomous mode did with it.
    pub gate: Option<Gate>,
    /// The gate was only worked out, not acted on (a snapshot never acts).
    pub dry: bool,
    /// The context sources and their states (`prometheus: ok`, ...).
    pub sources: Vec<(String, String)>,
}

/// The decision state of one app.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionView {
    pub req: u64,
    pub state: Load<Box<DecisionInfo>>,
    /// When it was asked for (ms).
    pub asked_ms: i64,
    /// What the fleet row said when it was asked (revision, drift count, health): a change
    /// makes the decision stale.
    pub basis: String,
}

impl DecisionView {
    pub fn info(&self) -> Option<&DecisionInfo> {
        self.state.ready().map(|b| &**b)
    }
}

/// One line of the drift queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub key: AppKey,
    pub rank: u8,
    pub why: &'static str,
}

/// The drift queue screen.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueScreen {
    pub cursor: usize,
    pub offset: usize,
}

/// The shadow report screen.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowScreen {
    pub req: u64,
    pub report: Load<Box<ShadowReport>>,
    pub scroll: usize,
}
