//! Messages into `update`: terminal input, time, and the results of effects.

use crate::clients::argocd::ArgoError;
use crate::clients::argocd::watch::FleetUpdate;
use crate::model::app::{Application, ApplicationTree, EventList};
use crate::model::fleet::InstanceId;
use crate::tui::keymap::Key;

/// What the mouse did (reporting mode 1000 with SGR coordinates: buttons and the wheel only,
/// never motion, so an idle mouse costs no bytes on the link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseKind {
    Click,
    ScrollUp,
    ScrollDown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mouse {
    pub kind: MouseKind,
    /// The cell, from the top left (0, 0).
    pub x: u16,
    pub y: u16,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(Key),
    Mouse(Mouse),
    Resize(u16, u16),
    Paste(String),
    /// Wall-clock time in milliseconds since the epoch; `update` never reads the clock itself.
    Tick(i64),
    Fleet(InstanceId, FleetUpdate),
    /// The instance cannot be used at all (its client could not be built).
    InstanceFailed(InstanceId, ArgoError),
    AppLoaded {
        req: u64,
        result: Result<Box<Application>, ArgoError>,
    },
    TreeLoaded {
        req: u64,
        result: Result<ApplicationTree, ArgoError>,
    },
    /// The ApplicationSets of an instance, or why they could not be read.
    AppSetsLoaded {
        instance: crate::model::fleet::InstanceId,
        result: Result<Vec<crate::model::appset::ApplicationSet>, String>,
    },
    /// When the drift of these apps began, from their events (`None`: the events no longer say).
    DriftSince(Vec<(crate::model::fleet::AppKey, Option<i64>)>),
    /// Lines of a followed log.
    LogLines {
        req: u64,
        lines: Vec<String>,
    },
    /// A followed log's stream ended (`Err`: why).
    LogEnded {
        req: u64,
        result: Result<(), String>,
    },
    /// A live object's YAML or description, as lines.
    ObjectLoaded {
        req: u64,
        title: String,
        result: Result<Vec<String>, String>,
    },
    /// The open app's Rollouts (read with its tree; the tree's request id).
    RolloutsLoaded {
        req: u64,
        result: Result<Vec<crate::model::rollout::RolloutView>, String>,
    },
    EventsLoaded {
        req: u64,
        result: Result<EventList, ArgoError>,
    },
    /// The diffs of an app, computed off the event loop.
    DiffLoaded {
        req: u64,
        result: Result<Vec<crate::tui::diffview::DiffDoc>, String>,
    },
    /// Syntax tokens of the diffs (old, new) per document, in the same order.
    DiffHighlighted {
        req: u64,
        toks: Vec<crate::tui::diffview::Highlighted>,
    },
    Decided {
        req: u64,
        key: crate::model::fleet::AppKey,
        result: Result<Box<crate::tui::decisions::DecisionInfo>, String>,
    },
    Reviewed {
        key: crate::model::fleet::AppKey,
        chosen: crate::decide::Verdict,
        result: Result<u64, String>,
        /// Posted to the team's `driftdeck serve` (else journaled here).
        team: bool,
    },
    /// Every instance's deployment history, and the instances that could not be read.
    DoraLoaded {
        apps: Vec<crate::model::dora::AppHistory>,
        errors: Vec<String>,
    },
    /// The team's decisions after a record, and the next record to ask from.
    TeamLoaded {
        result: Result<(Vec<crate::serve::DecisionSummary>, u64), String>,
    },
    ShadowLoaded {
        req: u64,
        result: Result<Box<crate::tui::decisions::ShadowReport>, String>,
    },
    Prepared {
        req: u64,
        result: Result<crate::tui::ops::Prepared, String>,
    },
    /// A step or phase of a running operation.
    ActProgress {
        op: u64,
        text: String,
    },
    ActDone {
        op: u64,
        result: Result<String, String>,
        then: Option<crate::tui::ops::Then>,
    },
    ClusterLoaded {
        req: u64,
        result: Result<crate::clients::kube::ClusterView, String>,
    },
    HistoryLoaded {
        req: u64,
        entries: Vec<crate::actions::rollback::HistoryEntry>,
    },
    /// `:theme`: the name of the theme now in use, or why it could not be loaded.
    ThemeChanged(Result<String, String>),
    /// A program the TUI handed the terminal to has ended.
    Resumed {
        what: String,
        result: Result<(), String>,
    },
}
