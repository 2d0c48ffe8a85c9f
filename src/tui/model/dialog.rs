//! The payload of acting from the TUI: dialogs, their fields, the plans prepared for them, the
//! actions they confirm, and the operations running with their progress. Data only, with the
//! model; what builds and changes them is `tui::ops`.

use crate::actions::rollback::RollbackPlan;
use crate::actions::sync::SyncPlan;
use crate::model::fleet::AppKey;

/// What a dialog field stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldId {
    Prune,
    DryRun,
    Force,
    ApplyOnly,
    /// A sync option, e.g. `ServerSideApply=true`.
    SyncOption(&'static str),
    /// The n-th changing resource of a one-app sync (off: left out of the sync).
    Resource(usize),
    Reason,
    Until,
    Incident,
    Note,
    LabelResources,
    /// The app's name, typed to confirm an action on a protected app.
    ConfirmName,
    /// The n-th action offered for a resource (chosen by toggling it, or by accepting on it).
    ResourceAction(usize),
    /// The value of the n-th parameter the resource's actions take.
    ActionParam(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Toggle(bool),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub id: FieldId,
    pub label: String,
    pub value: FieldValue,
}

impl Field {
    pub fn toggle(id: FieldId, label: impl Into<String>, on: bool) -> Field {
        Field {
            id,
            label: label.into(),
            value: FieldValue::Toggle(on),
        }
    }
    pub fn text(id: FieldId, label: impl Into<String>, value: impl Into<String>) -> Field {
        Field {
            id,
            label: label.into(),
            value: FieldValue::Text(value.into()),
        }
    }
}

/// The sync options offered as toggles.
pub const SYNC_OPTIONS: &[&str] = &[
    "ServerSideApply=true",
    "Validate=false",
    "Replace=true",
    "PruneLast=true",
    "ApplyOutOfSyncOnly=true",
];

/// What accepting a dialog does.
#[derive(Debug, Clone, PartialEq)]
pub enum DialogKind {
    /// Waiting for the plan (and the RBAC answer).
    Loading,
    Sync {
        plans: Vec<(AppKey, SyncPlan)>,
        /// Apps that cannot be synced, and why (shown; the others can go ahead).
        refused: Vec<(AppKey, String)>,
        /// The prune has been asked for and is on its own confirmation step.
        prune_step: bool,
    },
    Rollback {
        key: AppKey,
        plan: Box<RollbackPlan>,
    },
    RestoreAutoSync {
        key: AppKey,
    },
    Terminate {
        key: AppKey,
    },
    Defer {
        key: AppKey,
    },
    Annotate {
        key: AppKey,
    },
    /// Text to read (and copy with enter): adoption, or why an action cannot be offered.
    Info {
        copy: Option<String>,
    },
    /// Preformatted text (YAML, a description): shown as it is, never re-wrapped.
    Text {
        copy: Option<String>,
    },
    /// The actions Argo CD offers for a resource: pick one (and its parameters).
    PickResourceAction {
        key: AppKey,
        spec: crate::actions::resource::ResourceSpec,
        actions: Vec<crate::clients::argocd::ResourceAction>,
        /// The parameter names of the `ActionParam` fields, in order.
        params: Vec<String>,
    },
    /// A resource action's plan, to confirm.
    ResourceAction {
        key: AppKey,
        plan: Box<crate::actions::resource::ActionPlan>,
    },
    /// The advice is `needs-human` and the operator approves: which verdict do they choose?
    ChooseVerdict {
        key: AppKey,
        decision_seq: u64,
        /// A decision of the team's `driftdeck serve` (the review is posted to it).
        team: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dialog {
    /// The request whose answer fills the dialog.
    pub req: u64,
    pub title: String,
    pub lines: Vec<String>,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<String>,
    pub kind: DialogKind,
    pub scroll: usize,
    /// The name a protected app wants typed.
    pub confirm_name: Option<String>,
}

impl Dialog {
    pub fn loading(req: u64, title: impl Into<String>, what: &str) -> Dialog {
        Dialog {
            req,
            title: title.into(),
            lines: vec![format!("{what}…")],
            fields: vec![],
            focus: 0,
            error: None,
            kind: DialogKind::Loading,
            scroll: 0,
            confirm_name: None,
        }
    }

    pub fn toggle(&self, id: FieldId) -> bool {
        self.fields
            .iter()
            .any(|f| f.id == id && f.value == FieldValue::Toggle(true))
    }

    pub fn text(&self, id: FieldId) -> &str {
        self.fields
            .iter()
            .find(|f| f.id == id)
            .and_then(|f| match &f.value {
                FieldValue::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .unwrap_or("")
    }

    /// The focused field when it takes text.
    pub fn text_focus(&mut self) -> Option<&mut String> {
        match self.fields.get_mut(self.focus).map(|f| &mut f.value) {
            Some(FieldValue::Text(t)) => Some(t),
            _ => None,
        }
    }
}

/// What the runtime prepares before a dialog can be shown (each asks Argo CD's `can-i`).
#[derive(Debug, Clone, PartialEq)]
pub enum Prepare {
    Sync(Vec<AppKey>),
    Rollback {
        key: AppKey,
        id: i64,
    },
    Terminate(AppKey),
    Defer(AppKey),
    Annotate(AppKey),
    Adopt(AppKey),
    /// The actions offered for a resource of the app.
    ResourceActions {
        key: AppKey,
        spec: crate::actions::resource::ResourceSpec,
    },
    /// The plan of one resource action.
    ResourceAction {
        key: AppKey,
        spec: crate::actions::resource::ResourceSpec,
        action: String,
        params: Vec<(String, String)>,
    },
}

/// What it prepared.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    Sync(Vec<(AppKey, Result<SyncPlan, String>)>),
    Rollback {
        key: AppKey,
        plan: Box<RollbackPlan>,
        /// The diff between live and the chosen deployment, as lines.
        diff: Vec<String>,
    },
    /// The plan lines of a simpler action, and whether the app is protected.
    Simple {
        prepare: Prepare,
        lines: Vec<String>,
        protected: bool,
    },
    Adopt {
        text: String,
        resources: usize,
    },
    ResourceActions {
        key: AppKey,
        spec: crate::actions::resource::ResourceSpec,
        resource: crate::clients::argocd::ResourceId,
        actions: Vec<crate::clients::argocd::ResourceAction>,
    },
    ResourceAction {
        key: AppKey,
        plan: Box<crate::actions::resource::ActionPlan>,
    },
}

/// An action confirmed in a dialog (or a refresh, which needs none).
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    Sync {
        key: AppKey,
        plan: Box<SyncPlan>,
    },
    Refresh {
        key: AppKey,
        hard: bool,
    },
    Terminate {
        key: AppKey,
    },
    Rollback {
        key: AppKey,
        plan: Box<RollbackPlan>,
        reason: String,
    },
    RestoreAutoSync {
        key: AppKey,
    },
    Defer {
        key: AppKey,
        until: chrono::DateTime<chrono::Utc>,
        reason: String,
    },
    RestoreDeferral {
        key: AppKey,
    },
    Annotate {
        key: AppKey,
        incident: String,
        note: String,
        label: bool,
    },
    ResourceAction {
        key: AppKey,
        plan: Box<crate::actions::resource::ActionPlan>,
    },
}

impl Act {
    pub fn key(&self) -> &AppKey {
        match self {
            Act::Sync { key, .. }
            | Act::Refresh { key, .. }
            | Act::Terminate { key }
            | Act::Rollback { key, .. }
            | Act::RestoreAutoSync { key }
            | Act::Defer { key, .. }
            | Act::RestoreDeferral { key }
            | Act::Annotate { key, .. }
            | Act::ResourceAction { key, .. } => key,
        }
    }
    pub fn verb(&self) -> &'static str {
        match self {
            Act::Sync { plan, .. } if plan.spec.dry_run => "dry-run sync",
            Act::Sync { .. } => "sync",
            Act::Refresh { hard: true, .. } => "hard refresh",
            Act::Refresh { .. } => "refresh",
            Act::Terminate { .. } => "terminate",
            Act::Rollback { .. } => "rollback",
            Act::RestoreAutoSync { .. } => "restore auto-sync",
            Act::Defer { .. } => "defer",
            Act::RestoreDeferral { .. } => "end deferral",
            Act::Annotate { .. } => "annotate",
            Act::ResourceAction { .. } => "resource action",
        }
    }
}

/// What to offer when an operation ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Then {
    /// The rollback paused auto-sync: offer to restore it.
    OfferRestore(AppKey),
}

/// An operation started from the TUI, with its live progress.
#[derive(Debug, Clone, PartialEq)]
pub struct OpView {
    pub id: u64,
    pub key: AppKey,
    pub verb: &'static str,
    pub progress: String,
    /// `Some(Ok(summary))` or `Some(Err(why))` once it has ended.
    pub done: Option<Result<String, String>>,
    pub ended_ms: i64,
}

/// How long a finished operation stays on screen.
pub const OP_LINGER_MS: i64 = 20_000;
