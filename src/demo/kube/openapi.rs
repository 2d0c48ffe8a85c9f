//! `/openapi/v2` and `/openapi/v3`: the schemas of the kinds the demo clusters serve,
//! generated from k8s-openapi's types (the same schemas a kube-apiserver of that version
//! publishes), with the paths and parameters clients look for: `kubectl explain` reads the
//! schemas, and `kubectl apply` finds `fieldValidation` on the PATCH operations and leaves the
//! validation to the server, which checks unknown fields against the same schemas.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use k8s_openapi::schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use super::{KINDS, Kind, verbs_of};

/// The path prefix of a group-version: `api/v1`, `apis/apps/v1`.
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The schema of an Argo CD Application or an Argo Rollouts Rollout as their CRDs declare it
/// at the top level: the spec and status are kept as they are
/// (`x-kubernetes-preserve-unknown-fields`).
fn crd_schema(kind: &str, meta_ref: &str) -> Value {
    json!({
        "description": format!("{kind} is a definition of {kind} resource."),
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."},
            "kind": {"type": "string", "description": "Kind is a string value representing the REST resource this object represents."},
            "metadata": {"$ref": meta_ref},
            "operation": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "description": "Operation contains information about a requested or running operation"},
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "description": "ApplicationSpec represents desired application state. Contains link to repository with application definition and additional parameters link definition revision."},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "description": "ApplicationStatus contains status information for the application"},
        },
    })
}

fn add<T: JsonSchema>(g: &mut SchemaGenerator) -> String {
    g.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// Adds the schema of `kind` (and everything it refers to) to the generator; its name.
fn schema_of(g: &mut SchemaGenerator, kind: &Kind) -> String {
    use k8s_openapi::api::{apps, autoscaling, batch, core, networking, policy, rbac};
    match kind.kind {
        "Namespace" => add::<core::v1::Namespace>(g),
        "ConfigMap" => add::<core::v1::ConfigMap>(g),
        "Secret" => add::<core::v1::Secret>(g),
        "Pod" => add::<core::v1::Pod>(g),
        "Event" => add::<core::v1::Event>(g),
        "ServiceAccount" => add::<core::v1::ServiceAccount>(g),
        "Service" => add::<core::v1::Service>(g),
        "Deployment" => add::<apps::v1::Deployment>(g),
        "StatefulSet" => add::<apps::v1::StatefulSet>(g),
        "ReplicaSet" => add::<apps::v1::ReplicaSet>(g),
        "CronJob" => add::<batch::v1::CronJob>(g),
        "Job" => add::<batch::v1::Job>(g),
        "Role" => add::<rbac::v1::Role>(g),
        "RoleBinding" => add::<rbac::v1::RoleBinding>(g),
        "HorizontalPodAutoscaler" => add::<autoscaling::v2::HorizontalPodAutoscaler>(g),
        "Ingress" => add::<networking::v1::Ingress>(g),
        "PodDisruptionBudget" => add::<policy::v1::PodDisruptionBudget>(g),
        "Lease" => add::<k8s_openapi::api::coordination::v1::Lease>(g),
        _ => {
            let meta = add::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>(g);
            let base = g.settings().definitions_path.to_string();
            let name = format!("io.argoproj.v1alpha1.{}", kind.kind);
            g.definitions_mut().insert(
                name.clone(),
                crd_schema(kind.kind, &format!("#{base}/{meta}")),
            );
            name
        }
    }
}

/// Every schema of the kinds in `kinds`, with `x-kubernetes-group-version-kind` on each kind's
/// own schema; the kind's schema names, in order.
fn definitions(settings: SchemaSettings, kinds: &[&Kind]) -> (Map<String, Value>, Vec<String>) {
    let mut g = settings.into_generator();
    let names: Vec<String> = kinds.iter().map(|k| schema_of(&mut g, k)).collect();
    let mut defs = g.take_definitions(true);
    for (k, n) in kinds.iter().zip(&names) {
        if let Some(d) = defs.get_mut(n).and_then(Value::as_object_mut) {
            d.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": k.group, "kind": k.kind, "version": k.version}]),
            );
        }
    }
    (defs, names)
}

fn query_param(name: &str, description: &str, v3: bool) -> Value {
    if v3 {
        json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
    } else {
        json!({"name": name, "in": "query", "description": description, "type": "string", "uniqueItems": true})
    }
}

fn ok_response(reference: &str, v3: bool) -> Value {
    if v3 {
        json!({"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": reference}}}}})
    } else {
        json!({"200": {"description": "OK", "schema": {"$ref": reference}}})
    }
}

/// The paths of one kind: list at the collection, get (and patch where the kind allows it) at
/// the object.
/// The query parameters of every write: `dryRun`, `fieldManager` and `fieldValidation`
/// (where kubectl looks for the server's field validation).
fn write_params(v3: bool) -> Vec<Value> {
    vec![
        query_param(
            "dryRun",
            "When present, indicates that modifications should not be persisted: All.",
            v3,
        ),
        query_param(
            "fieldManager",
            "The name of the actor or entity making these changes.",
            v3,
        ),
        query_param(
            "fieldValidation",
            "How the server handles unknown or duplicate fields: Ignore, Warn or Strict.",
            v3,
        ),
    ]
}

fn paths_of(kind: &Kind, schema_ref: &str, v3: bool, out: &mut Map<String, Value>) {
    let base = format!("/{}", gv_path(kind.group, kind.version));
    let (coll, item) = if kind.namespaced {
        (
            format!("{base}/namespaces/{{namespace}}/{}", kind.plural),
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", kind.plural),
        )
    } else {
        (
            format!("{base}/{}", kind.plural),
            format!("{base}/{}/{{name}}", kind.plural),
        )
    };
    let gvk = json!({"group": kind.group, "version": kind.version, "kind": kind.kind});
    let op_id = |verb: &str| {
        format!(
            "{verb}{}{}{}",
            if kind.namespaced { "Namespaced" } else { "" },
            kind.kind,
            ""
        )
    };
    let path_param = |name: &str| {
        if v3 {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}})
        } else {
            json!({"name": name, "in": "path", "required": true, "type": "string", "uniqueItems": true})
        }
    };
    let mut coll_params = vec![];
    let mut item_params = vec![path_param("name")];
    if kind.namespaced {
        coll_params.push(path_param("namespace"));
        item_params.push(path_param("namespace"));
    }
    let mut coll_ops = json!({
            "get": {
                "operationId": op_id("list"),
                "x-kubernetes-action": "list",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    query_param("labelSelector", "A selector to restrict the list of returned objects by their labels.", v3),
                    query_param("fieldSelector", "A selector to restrict the list of returned objects by their fields.", v3),
                    query_param("limit", "The maximum number of responses to return for a list call.", v3),
                    query_param("continue", "The continue option from a previous list call.", v3),
                    query_param("resourceVersion", "Where a list or watch starts.", v3),
                    query_param("watch", "Watch for changes to the described resources.", v3),
                ],
                "responses": ok_response(schema_ref, v3),
            },
            "parameters": coll_params,
    });
    // Kinds the cluster creates (Events, Leases): `kubectl create` finds `fieldValidation` on
    // the POST and leaves the checking of fields to the server.
    if verbs_of(kind).contains(&"create") {
        let mut post = json!({
            "operationId": op_id("create"),
            "x-kubernetes-action": "post",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": write_params(v3),
            "responses": ok_response(schema_ref, v3),
        });
        if v3 {
            post["requestBody"] =
                json!({"content": {"*/*": {"schema": {"$ref": schema_ref}}}, "required": true});
        } else {
            post["parameters"]
                .as_array_mut()
                .expect("an array")
                .push(json!({"name": "body", "in": "body", "required": true, "schema": {"$ref": schema_ref}}));
        }
        coll_ops["post"] = post;
    }
    out.insert(coll, coll_ops);
    let mut ops = json!({
        "get": {
            "operationId": op_id("read"),
            "x-kubernetes-action": "get",
            "x-kubernetes-group-version-kind": gvk,
            "responses": ok_response(schema_ref, v3),
        },
        "parameters": item_params,
    });
    if verbs_of(kind).contains(&"patch") {
        let mut patch_params = write_params(v3);
        patch_params.push(query_param(
            "force",
            "Force is going to force Apply requests.",
            v3,
        ));
        let mut patch = json!({
            "operationId": op_id("patch"),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": patch_params,
            "responses": ok_response(schema_ref, v3),
        });
        if v3 {
            let body = json!({"schema": {"type": "object"}});
            patch["requestBody"] = json!({"content": {
                "application/apply-patch+yaml": body,
                "application/json-patch+json": body,
                "application/merge-patch+json": body,
                "application/strategic-merge-patch+json": body,
            }});
        } else {
            patch["consumes"] = json!([
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml"
            ]);
        }
        ops["patch"] = patch;
    }
    out.insert(item, ops);
}

/// The published documents, made once.
pub struct Docs {
    /// Swagger 2.0, every kind.
    pub v2: Value,
    /// OpenAPI 3.0 per group-version path (`apis/apps/v1`), with its hash.
    pub v3: BTreeMap<String, (Value, String)>,
    /// Every schema (OpenAPI 3 references), for the server's own field validation.
    pub schemas: Map<String, Value>,
    /// The schema name of each kind.
    pub names: BTreeMap<(&'static str, &'static str), String>,
}

fn sha(v: &Value) -> String {
    use sha2::{Digest, Sha512};
    Sha512::digest(serde_json::to_vec(v).unwrap_or_default())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

pub fn docs() -> &'static Docs {
    static DOCS: OnceLock<Docs> = OnceLock::new();
    DOCS.get_or_init(|| {
        let all: Vec<&Kind> = KINDS.iter().collect();
        let (v2_defs, v2_names) = definitions(SchemaSettings::draft07(), &all);
        let mut v2_paths = Map::new();
        for (k, n) in all.iter().zip(&v2_names) {
            paths_of(k, &format!("#/definitions/{n}"), false, &mut v2_paths);
        }
        let v2 = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.31.4"},
            "paths": v2_paths,
            "definitions": v2_defs,
        });
        let (schemas, names3) = definitions(SchemaSettings::openapi3(), &all);
        let mut names = BTreeMap::new();
        for (k, n) in all.iter().zip(&names3) {
            names.insert((k.group, k.kind), n.clone());
        }
        let mut groups: BTreeMap<String, Vec<&Kind>> = BTreeMap::new();
        for k in &all {
            groups
                .entry(gv_path(k.group, k.version))
                .or_default()
                .push(k);
        }
        let mut v3 = BTreeMap::new();
        for (path, kinds) in groups {
            let (defs, ns) = definitions(SchemaSettings::openapi3(), &kinds);
            let mut paths = Map::new();
            for (k, n) in kinds.iter().zip(&ns) {
                paths_of(k, &format!("#/components/schemas/{n}"), true, &mut paths);
            }
            let doc = json!({
                "openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": "v1.31.4"},
                "paths": paths,
                "components": {"schemas": defs},
            });
            let h = sha(&doc);
            v3.insert(path, (doc, h));
        }
        Docs {
            v2,
            v3,
            schemas,
            names,
        }
    })
}

/// `/openapi/v3`: where each group-version's document is.
pub fn v3_index() -> Value {
    let paths: Map<String, Value> = docs()
        .v3
        .iter()
        .map(|(p, (_, h))| {
            (
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={h}")}),
            )
        })
        .collect();
    json!({"paths": paths})
}

/// Fields of `v` that the schema named `schema` does not declare, as dotted paths.
pub fn unknown_fields(kind: &Kind, v: &Value) -> Vec<String> {
    let d = docs();
    let Some(name) = d.names.get(&(kind.group, kind.kind)) else {
        return vec![];
    };
    let mut out = Vec::new();
    walk(
        &d.schemas,
        &json!({"$ref": format!("#/components/schemas/{name}")}),
        v,
        "",
        &mut out,
    );
    out
}

fn resolve<'a>(schemas: &'a Map<String, Value>, mut s: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match s["$ref"].as_str() {
            Some(r) => match r
                .strip_prefix("#/components/schemas/")
                .and_then(|n| schemas.get(n))
            {
                Some(t) => s = t,
                None => return &Value::Null,
            },
            None => match s["allOf"].as_array().and_then(|a| a.first()) {
                Some(first) if s.get("properties").is_none() => s = first,
                _ => return s,
            },
        }
    }
    s
}

fn walk(
    schemas: &Map<String, Value>,
    schema: &Value,
    v: &Value,
    path: &str,
    out: &mut Vec<String>,
) {
    let s = resolve(schemas, schema);
    if s.is_null() || s["x-kubernetes-preserve-unknown-fields"] == true {
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(props) = s["properties"].as_object() {
                for (k, child) in m {
                    if k.starts_with('$') {
                        continue; // strategic merge directives
                    }
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match props.get(k) {
                        Some(cs) => walk(schemas, cs, child, &p, out),
                        None => out.push(p),
                    }
                }
            } else if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
                for (k, child) in m {
                    walk(schemas, ap, child, &format!("{path}.{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for (i, child) in items.iter().enumerate() {
                    walk(schemas, is, child, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_schema_and_unknown_fields_are_found() {
        let d = docs();
        for k in KINDS {
            let n = &d.names[&(k.group, k.kind)];
            assert!(d.schemas.contains_key(n), "{n}");
            assert_eq!(
                d.schemas[n]["x-kubernetes-group-version-kind"][0]["kind"],
                k.kind
            );
        }
        let dep = KINDS.iter().find(|k| k.kind == "Deployment").unwrap();
        let v = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"replicass": 2, "template": {"spec": {"containers": [{"name": "x", "imagee": "y"}]}}}});
        assert_eq!(
            unknown_fields(dep, &v),
            vec!["spec.replicass", "spec.template.spec.containers[0].imagee"]
        );
        assert!(d.v3.contains_key("apis/apps/v1") && d.v3.contains_key("api/v1"));
    }
}
