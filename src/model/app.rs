//! Argo CD's Application and the types around it, as the API server writes them.
//!
//! Field names follow the Go json tags; `omitempty` is mirrored with `skip_serializing_if`, so a
//! value serialised here has the same shape as one from a real server. Every struct is
//! `#[serde(default)]`: a list call with a `fields` projection returns only some fields, and the
//! client must read that. Unknown fields are ignored, so newer servers do not break the client.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
pub(crate) fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `metav1.ObjectMeta`, the parts any client uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub generation: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListMeta {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Application {
    #[serde(rename = "apiVersion", skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ApplicationSpec,
    pub status: ApplicationStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationList {
    pub metadata: ListMeta,
    pub items: Vec<Application>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    pub destination: ApplicationDestination,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<ResourceIgnoreDifferences>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationSource {
    #[serde(rename = "repoURL", skip_serializing_if = "String::is_empty")]
    pub repo_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target_revision: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub chart: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    #[serde(rename = "ref")]
    pub reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm: Option<ApplicationSourceHelm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationSourceHelm {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub value_files: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub release_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<HelmParameter>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HelmParameter {
    pub name: String,
    pub value: String,
    #[serde(skip_serializing_if = "is_false")]
    pub force_string: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationDestination {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
}

impl ApplicationDestination {
    /// What the fleet view calls the cluster: the destination's name, else its server URL.
    pub fn cluster_label(&self) -> &str {
        if self.name.is_empty() {
            &self.server
        } else {
            &self.name
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SyncPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automated: Option<SyncPolicyAutomated>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SyncPolicyAutomated {
    #[serde(skip_serializing_if = "is_false")]
    pub prune: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub self_heal: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_empty: bool,
    /// Explicit on/off (Argo CD 3.x); absent means on when `automated` is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RetryStrategy {
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    #[serde(skip_serializing_if = "is_false")]
    pub refresh: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Backoff {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub duration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factor: Option<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub max_duration: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceIgnoreDifferences {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub managed_fields_managers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationStatus {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
    pub sync: SyncStatus,
    pub health: AppHealthStatus,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RevisionHistory>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ApplicationCondition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<OperationState>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_type: String,
    pub summary: ApplicationSummary,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_health_source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub controller_namespace: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceStatus {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    #[serde(skip_serializing_if = "is_false")]
    pub hook: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub requires_pruning: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub sync_wave: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HealthStatus {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

pub type AppHealthStatus = HealthStatus;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SyncStatus {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared_to: Option<ComparedTo>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ComparedTo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    pub destination: ApplicationDestination,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<ResourceIgnoreDifferences>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RevisionHistory {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
    pub deployed_at: String,
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<OperationInitiator>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationCondition {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationSummary {
    #[serde(rename = "externalURLs", skip_serializing_if = "Vec::is_empty")]
    pub external_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncOperation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<OperationInitiator>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<Info>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Info {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OperationInitiator {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "is_false")]
    pub automated: bool,
}

impl OperationInitiator {
    /// Who started it, as history lists show it: `automated`, or the user.
    pub fn who(&self) -> String {
        if self.automated {
            "automated".to_string()
        } else {
            self.username.clone()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SyncOperation {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(skip_serializing_if = "is_false")]
    pub prune: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_strategy: Option<SyncStrategy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<SyncOperationResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub auto_heal_attempts_count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply: Option<SyncStrategyApply>,
    /// `SyncStrategyHook` inlines `SyncStrategyApply`, so this is `{"force":bool}` too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<SyncStrategyApply>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncStrategyApply {
    #[serde(skip_serializing_if = "is_false")]
    pub force: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncOperationResource {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OperationState {
    pub operation: Operation,
    pub phase: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_result: Option<SyncOperationResult>,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub retry_count: i64,
}

impl OperationState {
    /// The phase, typed (`None` for a phase this version does not know).
    pub fn op_phase(&self) -> Option<crate::model::status::OpPhase> {
        crate::model::status::OpPhase::parse(&self.phase)
    }

    /// Running or terminating: the operation has not ended.
    pub fn in_progress(&self) -> bool {
        use crate::model::status::OpPhase;
        matches!(
            self.op_phase(),
            Some(OpPhase::Running | OpPhase::Terminating)
        )
    }

    /// Ended: succeeded, failed or errored.
    pub fn ended(&self) -> bool {
        use crate::model::status::OpPhase;
        matches!(
            self.op_phase(),
            Some(OpPhase::Succeeded | OpPhase::Failed | OpPhase::Error)
        )
    }

    pub fn succeeded(&self) -> bool {
        self.op_phase() == Some(crate::model::status::OpPhase::Succeeded)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SyncOperationResult {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceResult>,
    pub revision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceResult {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hook_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hook_phase: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sync_phase: String,
}

/// One message of the application watch stream (`result` of a stream frame).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationWatchEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub application: Application,
}

/// One entry of `GET /applications/{name}/managed-resources` (Argo CD's `v1alpha1.ResourceDiff`;
/// `diff::ResourceDiff` is driftdeck's computed diff of it). The four states are JSON
/// documents encoded as strings; the literal `"null"` means absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ManagedResource {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target_state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub live_state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
    #[serde(skip_serializing_if = "is_false")]
    pub hook: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub normalized_live_state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub predicted_live_state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(skip_serializing_if = "is_false")]
    pub modified: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManagedResourcesResponse {
    pub items: Vec<ManagedResource>,
}

/// `v1alpha1ApplicationTree`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationTree {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<ResourceNode>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orphaned_nodes: Vec<ResourceNode>,
    #[serde(skip_serializing_if = "is_zero")]
    pub shards_count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceRef {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// A node of the resource tree. `ResourceRef` is inlined by the server (Go struct embedding).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceNode {
    #[serde(flatten)]
    pub reference: ResourceRef,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ResourceRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<Info>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// `eventsEventList`: Kubernetes events of an application or one of its resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventList {
    pub metadata: ListMeta,
    pub items: Vec<Event>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Event {
    pub metadata: ObjectMeta,
    pub involved_object: ObjectReference,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<EventSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub count: i64,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reporting_component: String,
    /// The newer form (events.k8s.io written through to core/v1): a micro-time instead of
    /// first/last timestamps, and a series instead of a count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<EventSeries>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EventSeries {
    pub count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_observed_time: Option<String>,
}

impl Event {
    /// When the event was last seen, in either form: the series' last observation, else
    /// `lastTimestamp`, `eventTime`, `firstTimestamp`, the object's creation.
    pub fn last_seen(&self) -> Option<&str> {
        self.series
            .as_ref()
            .and_then(|s| s.last_observed_time.as_deref())
            .or(self.last_timestamp.as_deref())
            .or(self.event_time.as_deref())
            .or(self.first_timestamp.as_deref())
            .or(self.metadata.creation_timestamp.as_deref())
    }

    /// How many times it happened, in either form.
    pub fn times(&self) -> i64 {
        self.series
            .as_ref()
            .map(|s| s.count)
            .filter(|c| *c > 0)
            .unwrap_or(self.count)
            .max(1)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventSource {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub component: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
}

/// `v1alpha1Cluster`, the parts a fleet view uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Cluster {
    pub server: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<ClusterInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConnectionState {
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempted_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClusterInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_info: Option<ClusterCacheInfo>,
    #[serde(skip_serializing_if = "is_zero")]
    pub applications_count: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClusterCacheInfo {
    #[serde(skip_serializing_if = "is_zero")]
    pub resources_count: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub apis_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_cache_sync_time: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterList {
    pub metadata: ListMeta,
    pub items: Vec<Cluster>,
}

/// `v1alpha1AppProject`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppProject {
    pub metadata: ObjectMeta,
    pub spec: AppProjectSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AppProjectSpec {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_repos: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<ApplicationDestination>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_whitelist: Vec<GroupKind>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sync_windows: Vec<SyncWindow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

/// `v1alpha1SyncWindow`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SyncWindow {
    pub kind: String,
    pub schedule: String,
    pub duration: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub manual_sync: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub time_zone: String,
    #[serde(skip_serializing_if = "is_false")]
    pub and_operator: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "is_false")]
    pub sync_overrun: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppProjectList {
    pub metadata: ListMeta,
    pub items: Vec<AppProject>,
}

/// `GET /api/version`: capitalised keys, as the server writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct VersionMessage {
    pub version: String,
    pub build_date: String,
    pub git_commit: String,
    pub git_tag: String,
    pub git_tree_state: String,
    pub go_version: String,
    pub compiler: String,
    pub platform: String,
    pub kustomize_version: String,
    pub helm_version: String,
    pub kubectl_version: String,
    pub jsonnet_version: String,
}

/// `GET /api/v1/settings`, the parts driftdeck reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub app_label_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub controller_namespace: String,
    #[serde(skip_serializing_if = "is_false")]
    pub status_badge_enabled: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub user_logins_disabled: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub exec_enabled: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub apps_in_any_namespace_enabled: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tracking_method: String,
    #[serde(rename = "installationID", skip_serializing_if = "String::is_empty")]
    pub installation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_overrides: Option<serde_json::Value>,
    #[serde(rename = "uiBannerContent", skip_serializing_if = "String::is_empty")]
    pub ui_banner_content: String,
}

/// `POST /api/v1/session` reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionResponse {
    pub token: String,
}

/// `GET /api/v1/session/userinfo`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UserInfo {
    pub logged_in: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub iss: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// `GET /api/v1/applications/{name}/revisions/{revision}/metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RevisionMetadata {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// The error body of grpc-gateway (`runtimeError`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeError {
    pub error: String,
    pub code: i32,
    pub message: String,
    pub details: Vec<serde_json::Value>,
}

/// The error of a stream frame (`runtimeStreamError`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamError {
    pub grpc_code: i32,
    pub http_code: i32,
    pub message: String,
    pub http_status: String,
    pub details: Vec<serde_json::Value>,
}

impl Application {
    /// Whether automated sync is on (present and not explicitly disabled).
    pub fn auto_sync(&self) -> bool {
        self.spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.automated.as_ref())
            .is_some_and(|a| a.enabled != Some(false))
    }

    /// Whether self-heal is on (requires auto-sync).
    pub fn self_heal(&self) -> bool {
        self.auto_sync()
            && self
                .spec
                .sync_policy
                .as_ref()
                .and_then(|p| p.automated.as_ref())
                .is_some_and(|a| a.self_heal)
    }

    /// The number of managed resources Argo CD reports out of sync.
    pub fn drifted_resources(&self) -> usize {
        self.status
            .resources
            .iter()
            .filter(|r| r.status == "OutOfSync")
            .count()
    }
}

/// The body of `POST /api/v1/applications/{name}/sync` (`ApplicationSyncRequest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SyncRequest {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(skip_serializing_if = "is_false")]
    pub dry_run: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub prune: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<SyncOperationResource>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub app_namespace: String,
    /// `{"apply":{"force":..}}` (apply only) or `{"hook":{"force":..}}` (with hooks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<SyncStrategy>,
    /// Sync options, wrapped as the server wants them: `{"items":["Validate=false",..]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_options: Option<SyncOptionItems>,
}

/// `ApplicationSyncRequest.syncOptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncOptionItems {
    pub items: Vec<String>,
}
