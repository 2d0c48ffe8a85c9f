//! Side effects as data: `update` returns them, the runtime performs them.

use crate::model::fleet::{AppKey, InstanceId};

/// Where an app runs: its cluster as Argo CD names it, the server URL, the namespace, and the
/// app's pods (from its resource tree; empty: every pod of the namespace).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterTarget {
    pub cluster: String,
    pub server: String,
    pub namespace: String,
    pub pods: Vec<String>,
    /// The app's managed resources (from Argo CD), to read as the cluster has them.
    pub resources: Vec<crate::clients::argocd::ResourceId>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    /// List and watch an instance's fleet for as long as the app runs.
    WatchInstance(InstanceId),
    /// Cut the reconnect wait of these instances' watchers short.
    Reconnect(Vec<InstanceId>),
    FetchApp {
        req: u64,
        key: AppKey,
    },
    FetchTree {
        req: u64,
        key: AppKey,
    },
    FetchEvents {
        req: u64,
        key: AppKey,
    },
    /// Fetch an app's managed resources and compute their diffs (then highlight them).
    FetchDiff {
        req: u64,
        key: AppKey,
    },
    /// Highlight regions of the diff (opened context), off the event loop.
    Highlight {
        req: u64,
        jobs: Vec<crate::tui::diffview::HighlightJob>,
    },
    /// Decide an app's drift (fetch, context, policy, advisor, journal; in autonomous mode the
    /// gate and its action), off the event loop.
    Decide {
        req: u64,
        key: AppKey,
    },
    /// Journal an operator's verdict on a decision.
    Review {
        key: AppKey,
        decision_seq: u64,
        advised: crate::decide::Verdict,
        chosen: crate::decide::Verdict,
    },
    /// Read the team's `driftdeck serve` decisions after record `since`.
    FetchTeam {
        since: u64,
    },
    /// Post an operator's verdict on one of the team's decisions to `driftdeck serve`.
    ReviewTeam {
        key: AppKey,
        decision_seq: u64,
        chosen: crate::decide::Verdict,
    },
    /// Read every instance's deployment history (`:dora`).
    FetchDora,
    /// Read the journal for the shadow report.
    LoadShadow {
        req: u64,
    },
    /// Read what a dialog shows before an action: the plan, the RBAC answer (`can-i`).
    Prepare {
        req: u64,
        what: crate::tui::ops::Prepare,
    },
    /// Perform a confirmed action, reporting progress until it ends. `decision` is the
    /// journal record of the app's pending decision, which the action answers (the
    /// operator's verdict on it).
    Act {
        op: u64,
        act: crate::tui::ops::Act,
        decision: Option<u64>,
    },
    /// Read revision metadata (author, date, message) of the revisions of an app's history.
    FetchHistory {
        req: u64,
        key: AppKey,
    },
    /// Read the app's pods and its namespace's events from its cluster (kube API).
    FetchCluster {
        req: u64,
        target: ClusterTarget,
    },
    /// Follow a container's log (its previous run's, read whole, when `previous`).
    FollowLogs {
        req: u64,
        target: ClusterTarget,
        pod: String,
        container: String,
        previous: bool,
    },
    /// Read a live object for its YAML or its description.
    FetchObject {
        req: u64,
        target: ClusterTarget,
        res: crate::clients::argocd::ResourceId,
        describe: bool,
    },
    /// Read the ApplicationSets of an instance.
    FetchAppSets(InstanceId),
    /// Read the events of OutOfSync apps first seen so: when their drift began.
    FetchDriftSince(Vec<AppKey>),
    /// Switch the theme (`:theme NAME`): loaded by the event loop, which owns it.
    Theme(String),
    /// Abandon a request whose result is no longer wanted.
    Cancel(u64),
    /// Put text on the clipboard of the terminal (OSC 52; works over SSH).
    Clipboard(String),
    /// Show text in the pager (the TUI gives the terminal to it meanwhile).
    Pager(String),
    /// Open the two sides of a diff in the configured diff tool.
    ExternalDiff {
        name: String,
        live: String,
        desired: String,
    },
}
