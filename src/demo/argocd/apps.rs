//! The application endpoints: get, list, sync, rollback, terminate, patch, manifests, resources.

use super::*;

/// `POST /api/v1/applications/{name}/sync`: starts a sync operation (a dry run too, as Argo CD
/// runs it), which goes through its phases over the next seconds (see [`finish_later`]).
pub(super) fn sync_app(inst: &Arc<Instance>, name: &str, body: &Bytes, now: i64) -> Response<Body> {
    let req: crate::model::app::SyncRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("invalid request body: {e}"),
            );
        }
    };
    if let Some(refusal) = refuse(inst, name, "sync") {
        return refusal;
    }
    if let Some(refusal) = window_refusal(inst, name, now) {
        return refusal;
    }
    let mut rng = crate::util::Rng::new(now as u64 ^ name.len() as u64);
    inst.modify(name, |a| {
        crate::demo::drift::start_operation(a, now, false, &mut rng);
        if let Some(op) = a.app.status.operation_state.as_mut() {
            op.operation.initiated_by = Some(crate::model::app::OperationInitiator {
                username: "admin".into(),
                automated: false,
            });
            if let Some(s) = op.operation.sync.as_mut() {
                s.resources = req.resources.clone();
                s.prune = req.prune;
                s.dry_run = req.dry_run;
                s.sync_strategy = req.strategy.clone();
                if let Some(o) = &req.sync_options {
                    s.sync_options = o.items.clone();
                }
            }
            a.app.operation = Some(op.operation.clone());
        }
        a.w.op_tag = None;
    });
    finish_later(inst, name);
    with_app(inst, name, &Query::default(), |a| json_reply(&a.app))
}

/// Refuses an action on an app that is missing, that the admin's RBAC denies, or that already
/// runs an operation, with Argo CD's errors.
pub(super) fn refuse(inst: &Instance, name: &str, action: &str) -> Option<Response<Body>> {
    let st = inst.read();
    let Some(a) = st.apps.get(name) else {
        return Some(not_found_app(name));
    };
    let object = format!("{}/{}", a.app.spec.project, name);
    if !st.can(action, &object) {
        return Some(error(
            grpc::PERMISSION_DENIED,
            &format!("permission denied: applications, {action}, {object}, sub: admin"),
        ));
    }
    if action == "sync" && crate::demo::drift::running(a) {
        return Some(error(
            grpc::FAILED_PRECONDITION,
            "another operation is already in progress",
        ));
    }
    None
}

/// A manual sync inside a deny window that does not allow manual syncs is refused as Argo CD
/// refuses it.
pub(super) fn window_refusal(inst: &Instance, name: &str, now: i64) -> Option<Response<Body>> {
    let st = inst.read();
    let app = &st.apps.get(name)?.app;
    let project = st
        .projects
        .iter()
        .find(|p| p.metadata.name == app.spec.project)?;
    let at = chrono::DateTime::from_timestamp(now, 0)?;
    let w = crate::windows::evaluate(
        &project.spec.sync_windows,
        &crate::windows::AppTarget::of(app),
        at,
    );
    (!w.can_sync_manual).then(|| {
        error(
            grpc::PERMISSION_DENIED,
            "cannot sync: blocked by sync window",
        )
    })
}

/// Moves a started operation through its phases as the controller does: resources applied
/// first (the message counts them), then the end a moment later; a terminated operation
/// fails with "Operation terminated".
pub(super) fn finish_later(inst: &Arc<Instance>, name: &str) {
    let i = inst.clone();
    let n = name.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let t = i.now();
        i.modify(&n, |a| {
            // The PreSync hooks end first; a failed one ends the operation.
            if !crate::demo::drift::resolve_hooks(a, t) {
                return;
            }
            let total = resources::resources(&a.w).len() + a.w.orphans.len();
            if let Some(o) = a.app.status.operation_state.as_mut()
                && o.phase == "Running"
            {
                o.message = format!("waiting for healthy state of {total} resources (all applied)");
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        let t = i.now();
        i.modify(&n, |a| {
            if a.app
                .status
                .operation_state
                .as_ref()
                .is_some_and(|o| o.phase == "Terminating")
            {
                if let Some(o) = a.app.status.operation_state.as_mut() {
                    o.phase = "Failed".into();
                    o.message = "Operation terminated".into();
                    o.finished_at = Some(crate::demo::generator::ts(t));
                }
                a.w.rolling = false;
                a.w.op_tag = None;
            } else {
                crate::demo::drift::finish_operation(a, t);
            }
            a.app.operation = None;
        });
    });
}

/// `POST /api/v1/applications/{name}/rollback`: a sync to a deployment of the history, refused
/// while auto-sync is on, as Argo CD refuses it.
pub(super) fn rollback_app(
    inst: &Arc<Instance>,
    name: &str,
    body: &Bytes,
    now: i64,
) -> Response<Body> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct RollbackRequest {
        id: i64,
        dry_run: bool,
        prune: bool,
    }
    let req: RollbackRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("invalid request body: {e}"),
            );
        }
    };
    let (target, tag, auto, running) = {
        let st = inst.read();
        let Some(a) = st.apps.get(name) else {
            return not_found_app(name);
        };
        let object = format!("{}/{}", a.app.spec.project, name);
        if !st.can("sync", &object) {
            return error(
                grpc::PERMISSION_DENIED,
                &format!("permission denied: applications, sync, {object}, sub: admin"),
            );
        }
        let idx = a.app.status.history.iter().position(|h| h.id == req.id);
        (
            idx.map(|i| a.app.status.history[i].clone()),
            idx.and_then(|i| a.w.tag_history.get(i).cloned()),
            a.app.auto_sync(),
            crate::demo::drift::running(a),
        )
    };
    if auto {
        return error(
            grpc::INVALID_ARGUMENT,
            "rollback cannot be initiated when auto-sync is enabled",
        );
    }
    let Some(target) = target else {
        return error(
            grpc::INVALID_ARGUMENT,
            &format!(
                "application {name} does not have deployment with id {}",
                req.id
            ),
        );
    };
    if running {
        return error(
            grpc::FAILED_PRECONDITION,
            "another operation is already in progress",
        );
    }
    let mut rng = crate::util::Rng::new(now as u64 ^ req.id as u64);
    inst.modify(name, |a| {
        crate::demo::drift::start_operation(a, now, false, &mut rng);
        if let Some(op) = a.app.status.operation_state.as_mut() {
            op.operation.initiated_by = Some(crate::model::app::OperationInitiator {
                username: "admin".into(),
                automated: false,
            });
            if let Some(s) = op.operation.sync.as_mut() {
                s.revision = target.revision.clone();
                s.source = target.source.clone();
                s.prune = req.prune;
                s.dry_run = req.dry_run;
                s.sync_strategy = Some(SyncStrategy {
                    apply: Some(SyncStrategyApply::default()),
                    hook: None,
                });
            }
            a.app.operation = Some(op.operation.clone());
        }
        a.w.op_tag = tag.clone();
    });
    finish_later(inst, name);
    with_app(inst, name, &Query::default(), |a| json_reply(&a.app))
}

/// `DELETE /api/v1/applications/{name}/operation`.
pub(super) fn terminate_operation(inst: &Arc<Instance>, name: &str, _now: i64) -> Response<Body> {
    let running = {
        let st = inst.read();
        match st.apps.get(name) {
            Some(a) => {
                let object = format!("{}/{}", a.app.spec.project, name);
                if !st.can("sync", &object) {
                    return error(
                        grpc::PERMISSION_DENIED,
                        &format!("permission denied: applications, sync, {object}, sub: admin"),
                    );
                }
                crate::demo::drift::running(a)
            }
            None => return not_found_app(name),
        }
    };
    if !running {
        return error(
            grpc::INVALID_ARGUMENT,
            "Unable to terminate operation. No operation is in progress",
        );
    }
    inst.modify(name, |a| {
        if let Some(o) = a.app.status.operation_state.as_mut() {
            o.phase = "Terminating".into();
        }
    });
    finish_later(inst, name);
    json_reply(&serde_json::json!({}))
}

/// `PATCH /api/v1/applications/{name}` (`ApplicationPatchRequest`): a merge or JSON patch of
/// the Application's metadata and spec; the status is the controller's and stays.
pub(super) fn patch_app(inst: &Arc<Instance>, name: &str, body: &Bytes) -> Response<Body> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct PatchRequest {
        patch: String,
        patch_type: String,
    }
    let req: PatchRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("invalid request body: {e}"),
            );
        }
    };
    if let Some(refusal) = refuse(inst, name, "update") {
        return refusal;
    }
    let patch: Value = match serde_json::from_str(&req.patch) {
        Ok(v) => v,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("error unmarshaling patch: {e}"),
            );
        }
    };
    let current = match inst.read().apps.get(name) {
        Some(a) => a.app.clone(),
        None => return not_found_app(name),
    };
    let mut doc = serde_json::to_value(&current).unwrap_or_default();
    match req.patch_type.as_str() {
        "json" | "" => {
            if let Err(e) = crate::demo::patch::json_patch(&mut doc, &patch) {
                return error(grpc::INVALID_ARGUMENT, &e);
            }
        }
        "merge" => crate::demo::patch::merge(&mut doc, &patch),
        other => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("Patch type '{other}' is not supported"),
            );
        }
    }
    let patched: Application = match serde_json::from_value(doc) {
        Ok(a) => a,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("the patched application is not valid: {e}"),
            );
        }
    };
    if patched.metadata.name != current.metadata.name || patched.spec.project.is_empty() {
        return error(
            grpc::INVALID_ARGUMENT,
            "the patch may not change the application's name or clear its project",
        );
    }
    inst.modify(name, |a| {
        a.app.metadata.labels = patched.metadata.labels.clone();
        a.app.metadata.annotations = patched.metadata.annotations.clone();
        a.app.spec = patched.spec.clone();
    });
    with_app(inst, name, &Query::default(), |a| json_reply(&a.app))
}

/// `GET /api/v1/applications/{name}/manifests?revision=`: the manifests Git has at a revision
/// of the app's history (the current target when none is given).
pub(super) fn manifests(a: &crate::demo::generator::DemoApp, revision: &str) -> Response<Body> {
    let mut w = a.w.clone();
    let mut resolved = a.app.status.sync.revision.clone();
    if !revision.is_empty() && revision != a.app.status.sync.revision {
        let idx = a
            .app
            .status
            .history
            .iter()
            .rposition(|h| h.revision == revision);
        match idx.and_then(|i| a.w.tag_history.get(i)) {
            Some(tag) => w.tag = tag.clone(),
            None => {
                return error(
                    grpc::UNKNOWN,
                    &format!("unable to resolve '{revision}' to a commit SHA"),
                );
            }
        }
        resolved = revision.to_string();
    }
    let manifests: Vec<String> = resources::resources(&w)
        .iter()
        .map(|r| {
            let mut t = resources::target(&a.app.metadata.name, &w, r);
            crate::diff::normalize::hide_secret_data(Some(&mut t), None);
            t.to_string()
        })
        .collect();
    json_reply(&json!({
        "manifests": manifests,
        "namespace": a.w.namespace,
        "server": a.app.spec.destination.server,
        "revision": resolved,
        "sourceType": if a.app.spec.source.as_ref().is_some_and(|s| s.helm.is_some()) { "Helm" } else { "Directory" },
    }))
}

/// The live object a resource query names, or Argo CD's error.
#[allow(clippy::result_large_err)]
pub(super) fn find_live(
    a: &crate::demo::generator::DemoApp,
    q: &Query,
    now: i64,
) -> Result<Value, Response<Body>> {
    let kind = q.get("kind").unwrap_or("");
    let rname = q.get("resourceName").unwrap_or("");
    let group = q.get("group").unwrap_or("");
    let ns = q.get("namespace").unwrap_or("");
    let nf = || {
        error(
            grpc::NOT_FOUND,
            &format!(
                "{kind} {rname} not found as part of application {}",
                a.app.metadata.name
            ),
        )
    };
    if !ns.is_empty() && ns != a.w.namespace {
        return Err(nf());
    }
    if kind == "ConfigMap" && group.is_empty() && a.w.orphans.iter().any(|o| o == rname) {
        return Ok(resources::orphan_live(a, rname));
    }
    // Every node of the resource tree can be read, not only the managed resources: the
    // Pods, ReplicaSets and Jobs the controllers made.
    if let Some(v) = crate::demo::kube::child(a, group, kind, rname, now) {
        return Ok(v);
    }
    resources::resources(&a.w)
        .iter()
        .find(|r| r.kind == kind && r.name == rname && r.group == group)
        .and_then(|r| resources::live(a, r, now))
        .map(|mut v| {
            // As Argo CD's server does: Secret values never leave it.
            crate::diff::normalize::hide_secret_data(None, Some(&mut v));
            v
        })
        .ok_or_else(nf)
}

/// `POST /api/v1/applications/{name}/resource`: patches a live object of the app. The body is
/// the patch as a JSON string (grpc-gateway's `body: "patch"`). The demo's clusters take
/// patches of `metadata.labels` and `metadata.annotations`.
pub(super) fn patch_resource(
    inst: &Arc<Instance>,
    name: &str,
    q: &Query,
    body: &Bytes,
    now: i64,
) -> Response<Body> {
    let patch_str: String = match serde_json::from_slice(body) {
        Ok(s) => s,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("the body must be the patch as a JSON string: {e}"),
            );
        }
    };
    let patch: Value = match serde_json::from_str(&patch_str) {
        Ok(v) => v,
        Err(e) => {
            return error(
                grpc::INVALID_ARGUMENT,
                &format!("error unmarshaling patch: {e}"),
            );
        }
    };
    let pt = q.get("patchType").unwrap_or("");
    if !matches!(
        pt,
        "application/merge-patch+json" | "application/strategic-merge-patch+json" | "merge"
    ) {
        return error(
            grpc::INVALID_ARGUMENT,
            &format!("the demo cluster takes merge and strategic merge patches, not {pt:?}"),
        );
    }
    let only_meta = patch.as_object().is_some_and(|m| {
        m.keys().all(|k| k == "metadata")
            && m.get("metadata")
                .and_then(Value::as_object)
                .is_some_and(|mm| mm.keys().all(|k| k == "labels" || k == "annotations"))
    });
    if !only_meta {
        return error(
            grpc::INVALID_ARGUMENT,
            "the demo cluster patches metadata.labels and metadata.annotations only",
        );
    }
    if let Some(refusal) = refuse(inst, name, "update") {
        return refusal;
    }
    let key = {
        let st = inst.read();
        let Some(a) = st.apps.get(name) else {
            return not_found_app(name);
        };
        if let Err(r) = find_live(a, q, now) {
            return r;
        }
        format!(
            "{}/{}",
            q.get("kind").unwrap_or(""),
            q.get("resourceName").unwrap_or("")
        )
    };
    inst.modify(name, |a| {
        let entry = a.w.live_meta.entry(key).or_insert_with(|| json!({}));
        crate::demo::patch::merge(entry, &patch["metadata"]);
    });
    with_app(inst, name, q, |a| match find_live(a, q, now) {
        Ok(v) => json_reply(&json!({"manifest": v.to_string()})),
        Err(r) => r,
    })
}

pub(super) fn list(inst: &Instance, q: &Query) -> Response<Body> {
    let fields = fields_param(q);
    let st = inst.read();
    let rv = st.rv.to_string();
    match fields {
        Fields::Include(ref paths) => {
            // Only whitelisted `items.` paths count; the list metadata is always written.
            let lf = ListFields {
                set: paths
                    .iter()
                    .filter(|p| p.first() == Some(&"items"))
                    .map(|p| p[1..].join("."))
                    .filter(|p| LIST_WHITELIST.contains(&p.as_str()))
                    .collect(),
            };
            #[derive(Serialize)]
            struct L<'a> {
                metadata: ListMeta,
                items: Vec<ItemView<'a>>,
            }
            json_reply(&L {
                metadata: ListMeta {
                    resource_version: rv,
                },
                items: st
                    .apps
                    .values()
                    .filter(|a| matches(&a.app, q))
                    .map(|a| lf.view(&a.app))
                    .collect(),
            })
        }
        Fields::Exclude(ref paths) => {
            let item_paths: Vec<Vec<&str>> = paths
                .iter()
                .filter(|p| p.first() == Some(&"items") && p.len() > 1)
                .map(|p| p[1..].to_vec())
                .collect();
            let items: Vec<Value> = st
                .apps
                .values()
                .filter(|a| matches(&a.app, q))
                .map(|a| {
                    let mut v = serde_json::to_value(&a.app).unwrap_or_default();
                    exclude(&mut v, &item_paths);
                    v
                })
                .collect();
            json_reply(&json!({"metadata": {"resourceVersion": rv}, "items": items}))
        }
        Fields::None => {
            #[derive(Serialize)]
            struct L<'a> {
                metadata: ListMeta,
                items: Vec<&'a Application>,
            }
            json_reply(&L {
                metadata: ListMeta {
                    resource_version: rv,
                },
                items: st
                    .apps
                    .values()
                    .filter(|a| matches(&a.app, q))
                    .map(|a| &a.app)
                    .collect(),
            })
        }
    }
}

pub(super) fn get_app(inst: &Instance, name: &str, q: &Query, now: i64) -> Response<Body> {
    let projects: Vec<&str> = q
        .all("project")
        .into_iter()
        .chain(q.all("projects"))
        .filter(|p| !p.is_empty())
        .collect();
    if projects.len() > 1 {
        return error(
            grpc::INVALID_ARGUMENT,
            "multiple projects specified - the get endpoint accepts either zero or one project",
        );
    }
    if let Some(r) = q.get("refresh") {
        if r != "normal" && r != "hard" && !r.is_empty() {
            return error(grpc::INVALID_ARGUMENT, &format!("unknown refresh type {r}"));
        }
        if !r.is_empty() {
            // The real server waits for the controller's reconciliation; the demo's is instant.
            inst.modify(name, |a| {
                a.app.status.reconciled_at = Some(crate::demo::generator::ts(now))
            });
        }
    }
    with_app(inst, name, q, |a| {
        if let Some(p) = projects.first()
            && a.app.spec.project != *p
        {
            return not_found_app(name);
        }
        json_reply(&a.app)
    })
}

pub(super) fn cluster(
    c: &ClusterData,
    apps: &std::collections::BTreeMap<String, crate::demo::generator::DemoApp>,
    now: i64,
) -> Cluster {
    let count = apps
        .values()
        .filter(|a| {
            a.app.spec.destination.server == c.server || a.app.spec.destination.name == c.name
        })
        .count() as i64;
    let state = ConnectionState {
        status: "Successful".into(),
        message: String::new(),
        attempted_at: Some(crate::demo::generator::ts(now - 30)),
    };
    Cluster {
        server: c.server.clone(),
        name: c.name.clone(),
        connection_state: Some(state.clone()),
        info: Some(ClusterInfo {
            connection_state: Some(state),
            server_version: c
                .version
                .trim_start_matches('v')
                .rsplit_once('.')
                .map(|x| x.0.to_string())
                .unwrap_or_default(),
            cache_info: Some(ClusterCacheInfo {
                resources_count: count * 9 + 140,
                apis_count: 61,
                last_cache_sync_time: Some(crate::demo::generator::ts(now - 45)),
            }),
            applications_count: count,
            api_versions: vec![],
        }),
        labels: [
            ("env".to_string(), c.env.to_string()),
            ("region".to_string(), c.region.to_string()),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    }
}
