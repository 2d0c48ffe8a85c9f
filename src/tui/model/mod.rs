//! The UI state, owned by value by the event loop. Only `update` changes it; `ui::draw` reads it.

use std::collections::HashMap;

pub mod decisions;
pub mod dialog;
pub mod diff;

use crate::clients::argocd::ArgoError;
use crate::model::app::{Application, ApplicationTree, EventList};
use crate::model::filter::{self, Filter};
use crate::model::fleet::{AppKey, AppRow, InstanceId};
use crate::model::status::{Health, OpPhase, Sync};

/// How long a changed row stays marked.
pub const FLASH_MS: i64 = 2000;

/// Connection state of one instance, as the summary bar shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnState {
    Connecting {
        attempt: u32,
    },
    /// Listed; the stream is being opened.
    Listed,
    Live,
    /// Failed; retrying at `retry_at_ms`.
    Down {
        error: ArgoError,
        retry_at_ms: i64,
    },
    /// Cannot be used at all (bad config); no retry.
    Failed(ArgoError),
}

impl ConnState {
    pub fn label(&self) -> &'static str {
        match self {
            ConnState::Connecting { attempt: 0 } => "connecting",
            ConnState::Connecting { .. } => "reconnecting",
            ConnState::Listed => "listed",
            ConnState::Live => "live",
            ConnState::Down { .. } => "down",
            ConnState::Failed(_) => "failed",
        }
    }
    pub fn error(&self) -> Option<&ArgoError> {
        match self {
            ConnState::Down { error, .. } | ConnState::Failed(error) => Some(error),
            _ => None,
        }
    }
    pub fn is_up(&self) -> bool {
        matches!(self, ConnState::Listed | ConnState::Live)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceView {
    pub name: String,
    pub url: String,
    pub state: ConnState,
    pub version: Option<String>,
    /// Whether it was ever listed (its rows are known, possibly stale).
    pub listed: bool,
    pub insecure: bool,
    pub read_only: bool,
}

/// Every app of every instance, with what the filter searches precomputed.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub rows: Vec<AppRow>,
    /// The drift SLA per project (the config's `[fleet]`).
    pub sla: crate::config::fleet::Sla,
    /// The clock (unix seconds) the `is:sla` filter reads; set on each tick.
    pub now: i64,
    /// The ApplicationSet of each app, from the sets' `status.resources` (a listing carries
    /// no owner references).
    pub appset_of: HashMap<AppKey, String>,
    hay: Vec<String>,
    /// When each row last changed from the stream (ms), for the flash mark.
    pub changed_ms: Vec<i64>,
    index: HashMap<AppKey, usize>,
}

impl Fleet {
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    pub fn get(&self, key: &AppKey) -> Option<&AppRow> {
        self.index.get(key).map(|&i| &self.rows[i])
    }
    pub fn index_of(&self, key: &AppKey) -> Option<usize> {
        self.index.get(key).copied()
    }
    pub fn haystack(&self, i: usize) -> &str {
        &self.hay[i]
    }

    fn remove_at(&mut self, i: usize) {
        let key = self.rows[i].key.clone();
        self.index.remove(&key);
        self.rows.swap_remove(i);
        self.hay.swap_remove(i);
        self.changed_ms.swap_remove(i);
        if i < self.rows.len() {
            let moved = self.rows[i].key.clone();
            self.index.insert(moved, i);
        }
    }

    fn upsert(&mut self, mut row: AppRow, instance_name: &str, changed: Option<i64>) {
        let hay = filter::haystack(&row, instance_name);
        row.sla = self.sla.for_project(&row.project);
        if row.appset.is_empty()
            && let Some(set) = self.appset_of.get(&row.key)
        {
            row.appset = set.clone();
        }
        match self.index.get(&row.key) {
            Some(&i) => {
                // A change to OutOfSync seen on the stream is when the drift began.
                row.follow(&self.rows[i], changed.map(|t| t.div_euclid(1000)));
                self.rows[i] = row;
                self.hay[i] = hay;
                if let Some(t) = changed {
                    self.changed_ms[i] = t;
                }
            }
            None => {
                self.index.insert(row.key.clone(), self.rows.len());
                self.rows.push(row);
                self.hay.push(hay);
                self.changed_ms.push(changed.unwrap_or(i64::MIN / 2));
            }
        }
    }

    /// Records the ApplicationSets of an instance: each generated app knows its set.
    pub fn set_appsets(
        &mut self,
        instance: InstanceId,
        sets: &[crate::model::appset::ApplicationSet],
    ) {
        self.appset_of.retain(|k, _| k.instance != instance);
        for set in sets {
            for r in set.apps() {
                let key = AppKey {
                    instance,
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                };
                if let Some(&i) = self.index.get(&key) {
                    self.rows[i].appset = set.metadata.name.clone();
                }
                self.appset_of.insert(key, set.metadata.name.clone());
            }
        }
    }

    /// Sets when an app's drift began, read from its events (no longer an estimate).
    pub fn set_out_of_sync_since(&mut self, key: &AppKey, since: i64) -> bool {
        match self.index.get(key) {
            Some(&i) if self.rows[i].sync == Sync::OutOfSync && self.rows[i].since_estimated => {
                self.rows[i].out_of_sync_since = Some(since);
                self.rows[i].since_estimated = false;
                true
            }
            _ => false,
        }
    }

    /// Replaces every row of `instance` with `rows`.
    pub fn replace_instance(&mut self, instance: InstanceId, name: &str, rows: Vec<AppRow>) {
        // A new listing (a reconnect) keeps what the old rows knew of when drift began.
        let mut rows = rows;
        for r in rows.iter_mut() {
            if let Some(&i) = self.index.get(&r.key) {
                r.follow(&self.rows[i], None);
            }
        }
        let mut i = 0;
        while i < self.rows.len() {
            if self.rows[i].key.instance == instance {
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
        self.rows.reserve(rows.len());
        for r in rows {
            self.upsert(r, name, None);
        }
    }

    /// Applies stream changes; changed rows are stamped with `now_ms`.
    pub fn apply(&mut self, name: &str, upserts: Vec<AppRow>, deletes: &[AppKey], now_ms: i64) {
        for k in deletes {
            if let Some(&i) = self.index.get(k) {
                self.remove_at(i);
            }
        }
        for mut r in upserts {
            // Compared as it will be kept: with its SLA and what is known of its drift's start.
            r.sla = self.sla.for_project(&r.project);
            let unchanged = match self.get(&r.key) {
                Some(old) => {
                    r.follow(old, Some(now_ms.div_euclid(1000)));
                    *old == r
                }
                None => false,
            };
            self.upsert(r, name, (!unchanged).then_some(now_ms));
        }
    }
}

/// Columns of the fleet table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Instance,
    Cluster,
    Namespace,
    Project,
    Name,
    Sync,
    Health,
    Operation,
    Auto,
    LastSync,
    Drift,
    /// How long the app has been OutOfSync (its drift age), against its SLA.
    OutOfSyncFor,
}

impl Column {
    /// Display order.
    pub const ALL: [Column; 12] = [
        Column::Instance,
        Column::Cluster,
        Column::Namespace,
        Column::Project,
        Column::Name,
        Column::Sync,
        Column::Health,
        Column::Operation,
        Column::Auto,
        Column::LastSync,
        Column::Drift,
        Column::OutOfSyncFor,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Instance => "INSTANCE",
            Column::Cluster => "CLUSTER",
            Column::Namespace => "NAMESPACE",
            Column::Project => "PROJECT",
            Column::Name => "NAME",
            Column::Sync => "SYNC",
            Column::Health => "HEALTH",
            Column::Operation => "OPERATION",
            Column::Auto => "AUTO",
            Column::LastSync => "SYNCED",
            Column::Drift => "DRIFT",
            Column::OutOfSyncFor => "OOS FOR",
        }
    }

    pub fn parse(s: &str) -> Option<Column> {
        let s = s.to_ascii_lowercase().replace(['-', '_', ' '], "");
        Column::ALL
            .iter()
            .copied()
            .find(|c| c.title().to_ascii_lowercase().replace(' ', "") == s)
            .or(match s.as_str() {
                "ns" => Some(Column::Namespace),
                "op" => Some(Column::Operation),
                "age" | "lastsync" | "synced" => Some(Column::LastSync),
                "oos" | "driftage" | "outofsync" | "outofsyncfor" | "sla" => {
                    Some(Column::OutOfSyncFor)
                }
                _ => None,
            })
    }
}

/// Grouping of the fleet table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    None,
    Instance,
    Cluster,
    Project,
}

impl Group {
    pub fn next(self) -> Group {
        match self {
            Group::None => Group::Instance,
            Group::Instance => Group::Cluster,
            Group::Cluster => Group::Project,
            Group::Project => Group::None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Group::None => "none",
            Group::Instance => "instance",
            Group::Cluster => "cluster",
            Group::Project => "project",
        }
    }
}

/// A row of the fleet table as displayed.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewRow {
    Group { label: String, count: usize },
    App(usize),
}

/// The fleet table's view: filter, sort, grouping, the visible rows and the selection.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetView {
    pub filter: Filter,
    pub sort: Column,
    pub descending: bool,
    pub group: Group,
    pub rows: Vec<ViewRow>,
    /// Apps passing the filter.
    pub matched: usize,
    pub cursor: usize,
    pub offset: usize,
    /// The selected app; the cursor follows it when rows move.
    pub selected: Option<AppKey>,
    /// Counts over the whole fleet, for the summary bar (computed with the view, not per frame).
    pub counts: crate::model::fleet::Counts,
}

impl Default for FleetView {
    fn default() -> Self {
        FleetView {
            filter: Filter::default(),
            sort: Column::Name,
            descending: false,
            group: Group::None,
            rows: Vec::new(),
            matched: 0,
            cursor: 0,
            offset: 0,
            selected: None,
            counts: Default::default(),
        }
    }
}

/// The label an app is grouped under (borrowed: sorting must not allocate).
fn group_of<'a>(group: Group, r: &'a AppRow, instance_names: &'a [String]) -> &'a str {
    match group {
        Group::None => "",
        Group::Instance => instance_names
            .get(r.key.instance as usize)
            .map(String::as_str)
            .unwrap_or(""),
        Group::Cluster => &r.cluster,
        Group::Project => &r.project,
    }
}

fn sync_rank(s: Sync) -> u8 {
    match s {
        Sync::OutOfSync => 0,
        Sync::Unknown => 1,
        Sync::Synced => 2,
    }
}
fn health_rank(h: Health) -> u8 {
    // Worst first when sorting ascending: what needs attention comes to the top.
    5 - Health::ALL.iter().position(|x| *x == h).unwrap_or(0) as u8
}
fn op_rank(o: Option<OpPhase>) -> u8 {
    match o {
        Some(OpPhase::Failed) | Some(OpPhase::Error) => 0,
        Some(OpPhase::Running) => 1,
        Some(OpPhase::Terminating) => 2,
        Some(OpPhase::Succeeded) => 3,
        None => 4,
    }
}

impl FleetView {
    /// Recomputes the visible rows after the fleet, filter, sort or grouping changed. Keeps the
    /// selection on the same app when it is still visible.
    pub fn recompute(&mut self, fleet: &Fleet, instance_names: &[String]) {
        let inst = |id: InstanceId| {
            instance_names
                .get(id as usize)
                .map(String::as_str)
                .unwrap_or("")
        };
        let mut idx: Vec<usize> = (0..fleet.rows.len())
            .filter(|&i| {
                let r = &fleet.rows[i];
                self.filter
                    .matches(r, fleet.haystack(i), inst(r.key.instance), fleet.now)
            })
            .collect();
        self.matched = idx.len();
        self.counts = crate::model::fleet::Counts::of(fleet.rows.iter());
        let rows = &fleet.rows;
        let sort = self.sort;
        let desc = self.descending;
        let group = self.group;
        let group_key =
            |r: &'_ AppRow| -> String { group_of(group, r, instance_names).to_string() };
        idx.sort_by(|&a, &b| {
            let (x, y) = (&rows[a], &rows[b]);
            let g = if group == Group::None {
                std::cmp::Ordering::Equal
            } else {
                group_of(group, x, instance_names).cmp(group_of(group, y, instance_names))
            };
            let ord = match sort {
                Column::Instance => x.key.instance.cmp(&y.key.instance),
                Column::Cluster => x.cluster.cmp(&y.cluster),
                Column::Namespace => x.dest_namespace.cmp(&y.dest_namespace),
                Column::Project => x.project.cmp(&y.project),
                Column::Name => std::cmp::Ordering::Equal,
                Column::Sync => sync_rank(x.sync).cmp(&sync_rank(y.sync)),
                Column::Health => health_rank(x.health).cmp(&health_rank(y.health)),
                Column::Operation => op_rank(x.operation).cmp(&op_rank(y.operation)),
                Column::Auto => y.auto_sync.cmp(&x.auto_sync),
                // Most recent first.
                Column::LastSync => y.last_sync.cmp(&x.last_sync),
                Column::Drift => y.drift.cmp(&x.drift),
                // Longest drift first; apps in sync last.
                Column::OutOfSyncFor => {
                    let since = |r: &AppRow| {
                        (r.sync == Sync::OutOfSync)
                            .then_some(r.out_of_sync_since)
                            .flatten()
                            .unwrap_or(i64::MAX)
                    };
                    since(x).cmp(&since(y))
                }
            };
            let ord = if desc { ord.reverse() } else { ord };
            let name = x.key.name.cmp(&y.key.name);
            let name = if desc && sort == Column::Name {
                name.reverse()
            } else {
                name
            };
            g.then(ord)
                .then(name)
                .then(x.key.instance.cmp(&y.key.instance))
                .then(x.key.namespace.cmp(&y.key.namespace))
        });
        self.rows.clear();
        self.rows.reserve(idx.len() + 8);
        if group == Group::None {
            self.rows.extend(idx.into_iter().map(ViewRow::App));
        } else {
            let mut i = 0;
            while i < idx.len() {
                let k = group_key(&rows[idx[i]]);
                let mut j = i;
                while j < idx.len() && group_key(&rows[idx[j]]) == k {
                    j += 1;
                }
                self.rows.push(ViewRow::Group {
                    label: if k.is_empty() { "(none)".into() } else { k },
                    count: j - i,
                });
                self.rows
                    .extend(idx[i..j].iter().copied().map(ViewRow::App));
                i = j;
            }
        }
        // Keep the cursor on the selected app.
        let found = self.selected.as_ref().and_then(|sel| {
            self.rows.iter().position(|r| match r {
                ViewRow::App(i) => rows[*i].key == *sel,
                _ => false,
            })
        });
        match found {
            Some(p) => self.cursor = p,
            None => {
                self.cursor = self.cursor.min(self.rows.len().saturating_sub(1));
                self.settle_cursor(1, fleet);
            }
        }
    }

    /// Moves the cursor off group headers (in `dir`, else the other way) and records the
    /// selection.
    pub fn settle_cursor(&mut self, dir: i64, fleet: &Fleet) {
        if self.rows.is_empty() {
            self.cursor = 0;
            self.selected = None;
            return;
        }
        let n = self.rows.len() as i64;
        let mut c = self.cursor.min(self.rows.len() - 1) as i64;
        for d in [dir, -dir] {
            let mut k = c;
            while (0..n).contains(&k) && matches!(self.rows[k as usize], ViewRow::Group { .. }) {
                k += d;
            }
            if (0..n).contains(&k) {
                c = k;
                break;
            }
        }
        self.cursor = c as usize;
        self.selected = match &self.rows[self.cursor] {
            ViewRow::App(i) => Some(fleet.rows[*i].key.clone()),
            ViewRow::Group { .. } => None,
        };
    }

    /// Moves the cursor by `delta` rows (skipping headers) and keeps it visible in `page` rows.
    pub fn move_by(&mut self, delta: i64, fleet: &Fleet, page: usize) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() as i64 - 1;
        self.cursor = (self.cursor as i64 + delta).clamp(0, last) as usize;
        self.settle_cursor(if delta >= 0 { 1 } else { -1 }, fleet);
        self.scroll_into_view(page);
    }

    pub fn scroll_into_view(&mut self, page: usize) {
        let page = page.max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
            // Show the group header above the first app of a group.
            if self.offset > 0
                && matches!(self.rows.get(self.offset - 1), Some(ViewRow::Group { .. }))
            {
                self.offset -= 1;
            }
        } else if self.cursor >= self.offset + page {
            self.offset = self.cursor + 1 - page;
        }
        let max_off = self.rows.len().saturating_sub(page);
        self.offset = self.offset.min(max_off);
    }

    pub fn selected_row<'a>(&self, fleet: &'a Fleet) -> Option<&'a AppRow> {
        self.selected.as_ref().and_then(|k| fleet.get(k))
    }
}

/// A value that is being fetched.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(String),
}

impl<T> Load<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Load::Ready(t) => Some(t),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppTab {
    Resources,
    Conditions,
    History,
    Events,
    Decision,
    /// The live cluster: pods, container states, restarts, the namespace's events.
    Cluster,
}

impl AppTab {
    pub const ALL: [AppTab; 6] = [
        AppTab::Resources,
        AppTab::Conditions,
        AppTab::History,
        AppTab::Events,
        AppTab::Decision,
        AppTab::Cluster,
    ];
    pub fn title(self) -> &'static str {
        match self {
            AppTab::Resources => "Resources",
            AppTab::Conditions => "Conditions",
            AppTab::History => "History",
            AppTab::Events => "Events",
            AppTab::Decision => "Decision",
            AppTab::Cluster => "Cluster",
        }
    }
    pub fn index(self) -> usize {
        AppTab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// The app screen: one application's tree, conditions, history and events.
#[derive(Debug, Clone, PartialEq)]
pub struct AppScreen {
    pub key: AppKey,
    pub tab: AppTab,
    pub app: Load<Box<Application>>,
    pub tree: Load<ApplicationTree>,
    pub events: Load<EventList>,
    pub req_app: u64,
    pub req_tree: u64,
    pub req_events: u64,
    /// Cursor and scroll of the current tab's list.
    pub cursor: usize,
    pub offset: usize,
    /// The fleet stream saw a change of this app while a fetch was in flight.
    pub stale: bool,
    /// Opened from the drift queue: back returns there.
    pub from_queue: bool,
    /// Opened from its parent's tree (an app of apps): back returns there.
    pub parent: Option<AppKey>,
    /// The history with each revision's author, date and message (once read).
    pub history: Option<Vec<crate::actions::rollback::HistoryEntry>>,
    pub req_history: u64,
    /// What the app's cluster says (once the Cluster tab was opened).
    pub cluster: Option<Load<crate::clients::kube::ClusterView>>,
    pub req_cluster: u64,
    /// The app's Argo Rollouts, read live with the tree (empty: none); an error reading them.
    pub rollouts: Vec<crate::model::rollout::RolloutView>,
    pub rollouts_error: Option<String>,
    pub req_logs: u64,
}

/// One choice in the facet picker.
#[derive(Debug, Clone, PartialEq)]
pub enum FacetItem {
    Header(crate::model::filter::Facet),
    Value {
        facet: crate::model::filter::Facet,
        value: String,
        count: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FacetPicker {
    pub items: Vec<FacetItem>,
    pub cursor: usize,
    pub offset: usize,
    /// The filter being edited; applied on accept.
    pub draft: Filter,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help {
        scroll: usize,
    },
    Facets(FacetPicker),
    /// A plan to confirm, a form to fill, or text to read.
    Dialog(Box<dialog::Dialog>),
}

/// The filter being typed.
#[derive(Debug, Clone, PartialEq)]
pub struct TextInput {
    pub text: String,
    /// Cursor position in chars.
    pub cursor: usize,
    /// The expression before editing began, restored on cancel.
    pub before: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    Fleet,
    App(Box<AppScreen>),
    /// The diff of an app; the app screen it was opened from, to go back to.
    Diff(Box<diff::DiffScreen>, Option<Box<AppScreen>>),
    /// Every drifted app of the fleet, most urgent first.
    Queue(decisions::QueueScreen),
    /// How often the advice matched what operators did.
    Shadow(Box<decisions::ShadowScreen>),
    /// A container's log, followed live (pod triage on the Cluster tab).
    Logs(Box<LogScreen>),
    /// The ApplicationSets of every instance.
    AppSets(ListScreen),
    /// Versions per environment of each app family.
    Versions(ListScreen),
    /// DORA figures per project (`:dora`).
    Dora(ListScreen),
}

/// How many lines a followed log keeps (older ones are dropped).
pub const LOG_CAP: usize = 20_000;

/// Where a followed log's stream is.
#[derive(Debug, Clone, PartialEq)]
pub enum LogState {
    Streaming,
    /// The stream ended (the container stopped, or a previous log was read whole).
    Ended,
    Failed(String),
}

/// A container's log, followed live: newest at the bottom, pause to read, search with `/`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogScreen {
    pub req: u64,
    pub target: crate::tui::effect::ClusterTarget,
    pub pod: String,
    pub container: String,
    pub containers: Vec<String>,
    /// The previous run's log (a restarting container's crash).
    pub previous: bool,
    pub lines: std::collections::VecDeque<String>,
    /// Lines dropped off the front (beyond [`LOG_CAP`]).
    pub dropped: usize,
    /// The first line shown, when not following.
    pub offset: usize,
    /// At the bottom, moving with new lines; off when paused or scrolled up.
    pub follow: bool,
    /// Paused: new lines are kept but the view stays.
    pub paused: bool,
    pub search: Option<String>,
    /// The match the search and n/N are at (a line index).
    pub at: Option<usize>,
    pub state: LogState,
    /// The app screen it was opened from.
    pub back: Box<AppScreen>,
}

impl LogScreen {
    /// A log about to be followed: empty, following, streaming.
    pub fn new(
        req: u64,
        target: crate::tui::effect::ClusterTarget,
        pod: String,
        containers: Vec<String>,
        previous: bool,
        back: Box<AppScreen>,
    ) -> LogScreen {
        LogScreen {
            req,
            target,
            pod,
            container: containers.first().cloned().unwrap_or_default(),
            containers,
            previous,
            lines: Default::default(),
            dropped: 0,
            offset: 0,
            follow: true,
            paused: false,
            search: None,
            at: None,
            state: LogState::Streaming,
            back,
        }
    }

    /// Lines that match the search (indexes into `lines`).
    pub fn matches(&self) -> Vec<usize> {
        let Some(q) = self.search.as_ref().filter(|q| !q.is_empty()) else {
            return vec![];
        };
        let q = q.to_lowercase();
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.to_lowercase().contains(&q))
            .map(|(i, _)| i)
            .collect()
    }
}

/// A list screen's cursor and scroll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListScreen {
    pub cursor: usize,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    pub until_ms: i64,
}

/// Symbols for statuses: Unicode or plain ASCII (`--ascii`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbols {
    pub ascii: bool,
}

impl Symbols {
    pub fn sync(self, s: Sync) -> &'static str {
        match (s, self.ascii) {
            (Sync::Synced, false) => "✓",
            (Sync::OutOfSync, false) => "≠",
            (Sync::Unknown, false) => "?",
            (Sync::Synced, true) => "=",
            (Sync::OutOfSync, true) => "!",
            (Sync::Unknown, true) => "?",
        }
    }
    pub fn health(self, h: Health) -> &'static str {
        match (h, self.ascii) {
            (Health::Healthy, false) => "♥",
            (Health::Progressing, false) => "◔",
            (Health::Degraded, false) => "✖",
            (Health::Suspended, false) => "‖",
            (Health::Missing, false) => "∅",
            (Health::Unknown, false) => "?",
            (Health::Healthy, true) => "+",
            (Health::Progressing, true) => "~",
            (Health::Degraded, true) => "x",
            (Health::Suspended, true) => "|",
            (Health::Missing, true) => "0",
            (Health::Unknown, true) => "?",
        }
    }
    pub fn op(self, o: OpPhase) -> &'static str {
        match (o, self.ascii) {
            (OpPhase::Running, false) => "↻",
            (OpPhase::Terminating, false) => "⊘",
            (OpPhase::Failed | OpPhase::Error, false) => "✖",
            (OpPhase::Succeeded, false) => "✓",
            (OpPhase::Running, true) => ">",
            (OpPhase::Terminating, true) => "/",
            (OpPhase::Failed | OpPhase::Error, true) => "x",
            (OpPhase::Succeeded, true) => "=",
        }
    }
    pub fn conn(self, c: &ConnState) -> &'static str {
        match (c, self.ascii) {
            (ConnState::Live, false) => "●",
            (ConnState::Listed | ConnState::Connecting { .. }, false) => "◌",
            (ConnState::Down { .. } | ConnState::Failed(_), false) => "✖",
            (ConnState::Live, true) => "*",
            (ConnState::Listed | ConnState::Connecting { .. }, true) => "o",
            (ConnState::Down { .. } | ConnState::Failed(_), true) => "x",
        }
    }
    pub fn changed(self) -> &'static str {
        if self.ascii { "*" } else { "•" }
    }
    pub fn sep(self) -> &'static str {
        if self.ascii { "|" } else { "│" }
    }
}

/// Everything the UI shows.
#[derive(Debug, Clone)]
pub struct Model {
    pub now_ms: i64,
    pub instances: Vec<InstanceView>,
    pub fleet: Fleet,
    pub view: FleetView,
    pub screen: Screen,
    pub overlay: Overlay,
    pub input: Option<TextInput>,
    /// Keys of a sequence typed so far, and what may follow.
    pub pending: Vec<crate::tui::keymap::Key>,
    pub pending_next: Vec<(crate::tui::keymap::Key, crate::tui::action::Action)>,
    pub size: (u16, u16),
    pub flash: Option<Flash>,
    pub next_req: u64,
    pub dirty: bool,
    pub quit: bool,
    pub symbols: Symbols,
    pub read_only: bool,
    /// Set once every instance has been listed or has failed: the first complete frame.
    pub complete: bool,
    /// Demo mode shows it in the title.
    pub title: String,
    /// Decisions per app (made off the event loop, journaled).
    pub decisions: HashMap<AppKey, decisions::DecisionView>,
    /// The team's `driftdeck serve`: its latest decision per app, and the stream's state.
    pub team: TeamView,
    /// Health transitions seen on the streams (DORA's time to restore).
    pub health_log: crate::model::dora::HealthLog,
    /// The DORA figures per project (`:dora`): loading, or read with their apps' history.
    pub dora: Load<Vec<crate::model::dora::Figures>>,
    /// The decision mode, or why decisions are unavailable (a bad policy or config).
    pub decide: Result<crate::decide::decider::Mode, String>,
    /// Decide every drift as it appears, not only those looked at: the TUI in shadow mode
    /// (to record what the advice would have been) and autonomous mode (to act on it).
    pub decide_fleet: bool,
    /// Operations started here, with their progress.
    pub ops: Vec<dialog::OpView>,
    /// Apps marked for an action on several at once.
    pub marked: std::collections::BTreeSet<AppKey>,
    /// Deferrals whose restore has been asked for (not asked again).
    pub restoring: std::collections::HashSet<AppKey>,
    /// The ApplicationSets of each instance (read when it is listed, and on `:appsets`), or
    /// why they could not be read.
    pub appsets: std::collections::BTreeMap<
        InstanceId,
        Result<Vec<crate::model::appset::ApplicationSet>, String>,
    >,
    /// How apps form families across environments (`:versions`).
    pub families: crate::model::versions::Families,
    /// The versions view's rows (see `views::version_rows`).
    pub versions: Vec<crate::model::versions::FamilyRow>,
    /// Apps whose events were read for when their drift began (asked once each).
    pub since_asked: std::collections::HashSet<AppKey>,
    /// Slow links: no animation; times shown to the minute and redrawn once a minute.
    pub low_bandwidth: bool,
    /// Mouse reporting is on (clicks and the wheel reach `update`).
    pub mouse: bool,
    /// The `:` command line, while it is open.
    pub command: Option<CommandLine>,
    /// The themes `:theme` offers (builtins and the user's).
    pub theme_names: Vec<String>,
}

impl Model {
    /// `12s`, `4m` ago from unix seconds (`<1m` in low-bandwidth mode), or `-` when unknown.
    pub fn ago(&self, secs: Option<i64>) -> String {
        match secs {
            Some(s) if self.low_bandwidth && self.now_ms / 1000 - s < 60 => "<1m".into(),
            Some(s) => crate::util::age(self.now_ms / 1000 - s),
            None => "-".into(),
        }
    }

    /// A countdown of `secs`, to the minute in low-bandwidth mode.
    pub fn countdown(&self, secs: i64) -> String {
        crate::tui::decisions::countdown_at(secs, self.low_bandwidth)
    }

    pub fn new(instances: Vec<InstanceView>, size: (u16, u16), now_ms: i64) -> Model {
        Model {
            now_ms,
            instances,
            fleet: Fleet {
                now: now_ms.div_euclid(1000),
                ..Fleet::default()
            },
            view: FleetView::default(),
            screen: Screen::Fleet,
            overlay: Overlay::None,
            input: None,
            pending: Vec::new(),
            pending_next: Vec::new(),
            size,
            flash: None,
            next_req: 1,
            dirty: true,
            quit: false,
            symbols: Symbols { ascii: false },
            read_only: false,
            complete: false,
            title: "driftdeck".into(),
            decisions: HashMap::new(),
            team: TeamView::default(),
            health_log: Default::default(),
            dora: Load::Loading,
            decide: Ok(crate::decide::decider::Mode::default()),
            decide_fleet: false,
            ops: Vec::new(),
            marked: std::collections::BTreeSet::new(),
            restoring: std::collections::HashSet::new(),
            since_asked: std::collections::HashSet::new(),
            appsets: Default::default(),
            families: Default::default(),
            versions: Vec::new(),
            low_bandwidth: false,
            mouse: false,
            command: None,
            theme_names: crate::tui::theme::BUILTIN
                .iter()
                .map(|(n, _)| n.to_string())
                .collect(),
        }
    }

    pub fn instance_names(&self) -> Vec<String> {
        self.instances.iter().map(|i| i.name.clone()).collect()
    }

    pub fn instance_name(&self, id: InstanceId) -> &str {
        self.instances
            .get(id as usize)
            .map(|i| i.name.as_str())
            .unwrap_or("?")
    }

    pub fn req(&mut self) -> u64 {
        self.next_req += 1;
        self.next_req
    }

    /// The keymap mode that receives keys now.
    pub fn mode(&self) -> crate::tui::keymap::KeyMode {
        use crate::tui::keymap::KeyMode;
        match (&self.overlay, &self.input, &self.screen) {
            (Overlay::Help { .. }, _, _) => KeyMode::Help,
            (Overlay::Facets(_), _, _) => KeyMode::Facets,
            (Overlay::Dialog(_), _, _) => KeyMode::Dialog,
            _ if self.command.is_some() => KeyMode::Command,
            (_, Some(_), _) => KeyMode::Filter,
            (_, _, Screen::App(_)) => KeyMode::App,
            (_, _, Screen::Diff(..)) => KeyMode::Diff,
            (_, _, Screen::Queue(_)) => KeyMode::Queue,
            (_, _, Screen::Shadow(_)) => KeyMode::Report,
            (_, _, Screen::AppSets(_) | Screen::Versions(_) | Screen::Dora(_)) => KeyMode::Views,
            (_, _, Screen::Logs(_)) => KeyMode::Logs,
            _ => KeyMode::Fleet,
        }
    }

    pub fn recompute_view(&mut self) {
        let names = self.instance_names();
        self.view.recompute(&self.fleet, &names);
        let page = crate::tui::ui::layout::fleet_page(self);
        self.view.scroll_into_view(page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::app::Application;

    fn row(inst: InstanceId, name: &str, sync: &str, cluster: &str) -> AppRow {
        let mut a = Application::default();
        a.metadata.name = name.into();
        a.status.sync.status = sync.into();
        a.status.health.status = "Healthy".into();
        a.spec.destination.name = cluster.into();
        AppRow::from_app(inst, &a)
    }

    fn fleet() -> Fleet {
        let mut f = Fleet::default();
        f.replace_instance(
            0,
            "eu",
            vec![
                row(0, "b", "Synced", "c1"),
                row(0, "a", "OutOfSync", "c2"),
                row(0, "c", "Synced", "c1"),
            ],
        );
        f.replace_instance(1, "us", vec![row(1, "a", "Synced", "c3")]);
        f
    }

    fn names(v: &FleetView, f: &Fleet) -> Vec<String> {
        v.rows
            .iter()
            .map(|r| match r {
                ViewRow::App(i) => format!("{}/{}", f.rows[*i].key.instance, f.rows[*i].key.name),
                ViewRow::Group { label, count } => format!("[{label}:{count}]"),
            })
            .collect()
    }

    #[test]
    fn same_name_in_two_instances_stays_distinct() {
        let f = fleet();
        assert_eq!(f.len(), 4);
        let mut v = FleetView::default();
        v.recompute(&f, &["eu".into(), "us".into()]);
        assert_eq!(names(&v, &f), ["0/a", "1/a", "0/b", "0/c"]);
    }

    #[test]
    fn selection_follows_the_app_when_rows_move() {
        let mut f = fleet();
        let n = ["eu".to_string(), "us".to_string()];
        let mut v = FleetView {
            sort: Column::Sync,
            ..Default::default()
        };
        v.recompute(&f, &n);
        v.move_by(2, &f, 10);
        let sel = v.selected.clone().unwrap();
        // The stream moves apps around: `a@eu` becomes Synced, so the order changes.
        f.apply("eu", vec![row(0, "a", "Synced", "c2")], &[], 1000);
        v.recompute(&f, &n);
        assert_eq!(v.selected.as_ref(), Some(&sel));
        match &v.rows[v.cursor] {
            ViewRow::App(i) => assert_eq!(f.rows[*i].key, sel),
            _ => panic!(),
        }
    }

    #[test]
    fn grouping_adds_headers_and_the_cursor_skips_them() {
        let f = fleet();
        let mut v = FleetView {
            group: Group::Cluster,
            ..Default::default()
        };
        v.recompute(&f, &["eu".into(), "us".into()]);
        assert_eq!(
            names(&v, &f),
            ["[c1:2]", "0/b", "0/c", "[c2:1]", "0/a", "[c3:1]", "1/a"]
        );
        assert_eq!(
            v.cursor, 1,
            "the cursor starts on the first app, not a header"
        );
        v.move_by(2, &f, 10);
        assert_eq!(v.cursor, 4, "moving down skips the header");
        v.move_by(-1, &f, 10);
        assert_eq!(v.cursor, 2, "moving up skips the header too");
    }

    #[test]
    fn deletes_and_flash_marks() {
        let mut f = fleet();
        f.apply(
            "eu",
            vec![row(0, "b", "OutOfSync", "c1")],
            &[AppKey {
                instance: 0,
                namespace: String::new(),
                name: "c".into(),
            }],
            500,
        );
        assert_eq!(f.len(), 3);
        let i = f
            .index_of(&AppKey {
                instance: 0,
                namespace: String::new(),
                name: "b".into(),
            })
            .unwrap();
        assert_eq!(f.changed_ms[i], 500);
        // An identical update is not a change.
        f.apply("eu", vec![row(0, "b", "OutOfSync", "c1")], &[], 900);
        assert_eq!(f.changed_ms[i], 500);
    }
}

/// The command line being typed: the text, and the candidates `tab` cycles through.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandLine {
    pub input: TextInput,
    /// Candidates of the last `tab` that did not narrow anything, and the next one's index.
    pub cycle: Option<(Vec<String>, usize)>,
}

/// The team's decision stream (`[team]`: a `driftdeck serve` daemon).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TeamView {
    pub configured: bool,
    /// Its latest decision per (instance, app).
    pub decisions: HashMap<(String, String), crate::serve::DecisionSummary>,
    /// The next record to ask from.
    pub next: u64,
    pub asked_ms: i64,
    pub loading: bool,
    /// Why the last read failed.
    pub error: Option<String>,
}

/// How often the team's decisions are read.
pub const TEAM_EVERY_MS: i64 = 10_000;
