//! Every reply the demo Argo CD server gives is checked against the operation's schema in the
//! real OpenAPI spec (`../shared/fixtures/argo-cd/assets/swagger.json`), strictly: an unknown
//! field is an error too. The documented differences between the real server and its spec
//! (`docs/argocd-api.md` §2.1) are the only exceptions:
//! - int64 values are JSON numbers although the spec may say string;
//! - `ResourceNode` inlines `ResourceRef` (group/version/kind/namespace/name/uid at the top level);
//! - streams wrap each message in `{"result": ...}` / `{"error": ...}` (the spec's stream schema).

use crate::common;

use common::*;
use serde_json::Value;

struct Spec {
    doc: Value,
}

impl Spec {
    fn def(&self, r: &str) -> &Value {
        let name = r.trim_start_matches("#/definitions/");
        &self.doc["definitions"][name]
    }

    /// The schema of `method path` for `status` (200, else the default error schema).
    fn response_schema(&self, method: &str, path: &str, status: u16) -> Value {
        let paths = self.doc["paths"].as_object().unwrap();
        let segs: Vec<&str> = path.split('/').collect();
        for (tmpl, ops) in paths {
            let t: Vec<&str> = tmpl.split('/').collect();
            if t.len() != segs.len() {
                continue;
            }
            let ok = t
                .iter()
                .zip(&segs)
                .all(|(a, b)| (a.starts_with('{') && a.ends_with('}')) || a == b);
            // Prefer literal matches (e.g. /applications/{name}/events over /{name}/{x}).
            if ok && let Some(op) = ops.get(method) {
                let key = if status == 200 { "200" } else { "default" };
                return op["responses"][key]["schema"].clone();
            }
        }
        panic!("no operation {method} {path} in the spec");
    }

    fn check(&self, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>, parent: &str) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/definitions/");
            // Kubernetes types with their own JSON form, which the protobuf-generated spec
            // describes by their Go fields: apiextensions JSON is any JSON value, and
            // IntOrString an integer or a string ("50%").
            match name {
                "v1JSON" => return,
                "intstrIntOrString" => {
                    if !(v.is_string() || v.is_i64()) {
                        errs.push(format!("{at}: expected an integer or a string, got {v}"));
                    }
                    return;
                }
                _ => {}
            }
            return self.check(self.def(r), v, at, errs, name);
        }
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or(
            if schema.get("properties").is_some() {
                "object"
            } else {
                ""
            },
        );
        let fmt = schema.get("format").and_then(Value::as_str).unwrap_or("");
        match ty {
            "object" => {
                let Some(obj) = v.as_object() else {
                    errs.push(format!("{at}: expected an object, got {v}"));
                    return;
                };
                let props = schema.get("properties").and_then(Value::as_object);
                let addl = schema.get("additionalProperties");
                for (k, val) in obj {
                    let sub = format!("{at}.{k}");
                    if let Some(ps) = props.and_then(|p| p.get(k)) {
                        self.check(ps, val, &sub, errs, "");
                    } else if let Some(a) = addl {
                        self.check(a, val, &sub, errs, "");
                    } else if parent == "v1alpha1ResourceNode"
                        && ["group", "version", "kind", "namespace", "name", "uid"]
                            .contains(&k.as_str())
                    {
                        // Inlined ResourceRef: the server's documented difference.
                        if !val.is_string() {
                            errs.push(format!("{sub}: expected a string"));
                        }
                    } else if props.is_some() {
                        errs.push(format!(
                            "{sub}: not in the schema of {}",
                            if parent.is_empty() {
                                "this object"
                            } else {
                                parent
                            }
                        ));
                    }
                }
            }
            "array" => match v.as_array() {
                Some(items) => {
                    for (i, it) in items.iter().enumerate() {
                        self.check(&schema["items"], it, &format!("{at}[{i}]"), errs, "");
                    }
                }
                None => errs.push(format!("{at}: expected an array, got {v}")),
            },
            "string" => {
                let ok = v.is_string()
                    || (fmt == "int64" && v.is_i64())
                    || (fmt == "uint64" && v.is_u64());
                if !ok {
                    errs.push(format!("{at}: expected a string ({fmt}), got {v}"));
                }
            }
            "integer" if !(v.is_i64() || v.is_u64()) => {
                errs.push(format!("{at}: expected an integer, got {v}"));
            }
            "number" if !v.is_number() => {
                errs.push(format!("{at}: expected a number, got {v}"));
            }
            "boolean" if !v.is_boolean() => {
                errs.push(format!("{at}: expected a boolean, got {v}"));
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn every_demo_reply_matches_the_real_spec() {
    let Some(path) = shared("fixtures/argo-cd/assets/swagger.json") else {
        return;
    };
    let spec = Spec {
        doc: serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap(),
    };
    let fleet = demo(40, 3, 1).await;
    let cfg = fleet.config().instances[0].clone();
    let token = cfg.token.clone().unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let apps: Value = http
        .get(format!("{}/api/v1/applications", cfg.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<String> = apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let app: &Value = apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["status"]["sync"]["status"] == "OutOfSync")
        .unwrap();
    let name = app["metadata"]["name"].as_str().unwrap().to_string();
    let rev = app["status"]["history"][0]["revision"]
        .as_str()
        .unwrap()
        .to_string();
    let project = app["spec"]["project"].as_str().unwrap().to_string();
    let cluster = fleet.instance(0).read().clusters[0].name.clone();
    let cm = app["status"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "ConfigMap")
        .unwrap();
    let res_query = format!(
        "namespace={}&resourceName={}&version=v1&kind=ConfigMap",
        cm["namespace"].as_str().unwrap(),
        cm["name"].as_str().unwrap()
    );
    let res_patch_query = format!("{res_query}&patchType=application%2Fmerge-patch%2Bjson");
    let manifests_query = format!("revision={rev}");
    let mut calls: Vec<(&str, String, Option<&str>, Option<&str>)> = vec![
        ("get", "/api/version".into(), None, None),
        ("get", "/api/v1/settings".into(), None, None),
        ("get", "/api/v1/session/userinfo".into(), None, None),
        ("get", "/api/v1/applications".into(), None, None),
        (
            "get",
            "/api/v1/applications".into(),
            Some(
                "fields=metadata.resourceVersion,items.metadata.name,items.spec,items.status.sync.status,items.status.health,items.status.resources,items.status.operationState.phase",
            ),
            None,
        ),
        (
            "get",
            "/api/v1/applications".into(),
            Some("fields=-items.status.history"),
            None,
        ),
        (
            "get",
            "/api/v1/applications".into(),
            Some("selector=env%3Dprod&projects=payments&projects=commerce"),
            None,
        ),
        ("get", format!("/api/v1/applications/{name}"), None, None),
        (
            "get",
            format!("/api/v1/applications/{name}"),
            Some("refresh=hard"),
            None,
        ),
        (
            "get",
            format!("/api/v1/applications/{name}/managed-resources"),
            None,
            None,
        ),
        (
            "get",
            format!("/api/v1/applications/{name}/resource-tree"),
            None,
            None,
        ),
        (
            "get",
            format!("/api/v1/applications/{name}/events"),
            None,
            None,
        ),
        (
            "get",
            format!("/api/v1/applications/{name}/revisions/{rev}/metadata"),
            None,
            None,
        ),
        ("get", "/api/v1/applicationsets".into(), None, None),
        (
            "get",
            "/api/v1/applicationsets".into(),
            Some("projects=platform"),
            None,
        ),
        (
            "get",
            "/api/v1/applicationsets/cluster-addons".into(),
            None,
            None,
        ),
        (
            "get",
            "/api/v1/applicationsets/storefront".into(),
            None,
            None,
        ),
        ("get", "/api/v1/applicationsets/nope".into(), None, None),
        ("get", "/api/v1/clusters".into(), None, None),
        (
            "get",
            format!("/api/v1/clusters/{cluster}"),
            Some("id.type=name"),
            None,
        ),
        ("get", "/api/v1/projects".into(), None, None),
        ("get", format!("/api/v1/projects/{project}"), None, None),
        (
            "get",
            "/api/v1/account/can-i/applications/sync/payments%2Fx".into(),
            None,
            None,
        ),
        (
            "get",
            format!("/api/v1/applications/{name}/manifests"),
            Some(manifests_query.as_str()),
            None,
        ),
        (
            "get",
            format!("/api/v1/applications/{name}/resource"),
            Some(res_query.as_str()),
            None,
        ),
        (
            "get",
            format!("/api/v1/applications/{name}/resource/actions"),
            Some(res_query.as_str()),
            None,
        ),
        (
            "get",
            format!("/api/v1/applications/{name}/syncwindows"),
            None,
            None,
        ),
        (
            "get",
            format!("/api/v1/projects/{project}/syncwindows"),
            None,
            None,
        ),
        (
            "post",
            format!("/api/v1/applications/{name}/resource"),
            Some(res_patch_query.as_str()),
            Some(r#""{\"metadata\":{\"labels\":{\"driftdeck.io/incident\":\"INC-1\"}}}""#),
        ),
        (
            "patch",
            format!("/api/v1/applications/{name}"),
            None,
            Some(
                r#"{"patch":"{\"metadata\":{\"labels\":{\"team\":\"sre\"}}}","patchType":"merge"}"#,
            ),
        ),
        (
            "post",
            format!("/api/v1/applications/{name}/sync"),
            None,
            Some(r#"{"dryRun":true}"#),
        ),
        (
            "post",
            "/api/v1/session".into(),
            None,
            Some(r#"{"username":"admin","password":"wrong"}"#),
        ),
        (
            "get",
            "/api/v1/applications/does-not-exist".into(),
            None,
            None,
        ),
        (
            "get",
            "/api/v1/applications/does-not-exist/resource-tree".into(),
            None,
            None,
        ),
        (
            "get",
            format!("/api/v1/applications/{name}"),
            Some("project=a&project=b"),
            None,
        ),
    ];
    for n in names.iter().take(40) {
        calls.push(("get", format!("/api/v1/applications/{n}"), None, None));
        calls.push((
            "get",
            format!("/api/v1/applications/{n}/resource-tree"),
            None,
            None,
        ));
        calls.push((
            "get",
            format!("/api/v1/applications/{n}/managed-resources"),
            None,
            None,
        ));
    }
    let mut errs = Vec::new();
    let mut checked = 0;
    for (method, path, query, body) in &calls {
        let url = match query {
            Some(q) => format!("{}{path}?{q}", cfg.url),
            None => format!("{}{path}", cfg.url),
        };
        let req = match *method {
            "post" => http
                .post(&url)
                .header("Content-Type", "application/json")
                .body(body.unwrap_or("{}").to_string()),
            "patch" => http
                .patch(&url)
                .header("Content-Type", "application/json")
                .body(body.unwrap_or("{}").to_string()),
            _ => http.get(&url),
        };
        let resp = req.bearer_auth(&token).send().await.unwrap();
        let status = resp.status().as_u16();
        let v: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: not JSON: {e}"));
        let spec_path = path.split('?').next().unwrap();
        let schema = spec.response_schema(method, spec_path, status);
        let before = errs.len();
        spec.check(
            &schema,
            &v,
            &format!("{method} {path} {status}"),
            &mut errs,
            "",
        );
        if status != 200 {
            // Error bodies: grpc-gateway's runtimeError with all four fields.
            for k in ["error", "code", "message", "details"] {
                if v.get(k).is_none() {
                    errs.push(format!(
                        "{method} {path} {status}: the error body has no `{k}`"
                    ));
                }
            }
        }
        if errs.len() == before {
            checked += 1;
        }
    }
    // The stream: each frame's JSON against the stream schema.
    let mut resp = http
        .get(format!("{}/api/v1/stream/applications", cfg.url))
        .bearer_auth(&token)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let schema = spec.response_schema("get", "/api/v1/stream/applications", 200);
    let mut parser = driftdeck::clients::argocd::sse::SseParser::new();
    let mut frames = Vec::new();
    while frames
        .iter()
        .filter(|f| matches!(f, driftdeck::clients::argocd::sse::Frame::Data(_)))
        .count()
        < 40
    {
        let chunk = resp.chunk().await.unwrap().unwrap();
        parser.push(&chunk, &mut frames).unwrap();
    }
    for f in &frames {
        if let driftdeck::clients::argocd::sse::Frame::Data(d) = f {
            let v: Value = serde_json::from_slice(d).unwrap();
            spec.check(&schema, &v, "stream", &mut errs, "");
            checked += 1;
        }
    }
    // Finite newline-delimited streams: pod logs and the resource tree's first message.
    for (path, query, take) in [
        (
            format!("/api/v1/applications/{name}/logs"),
            "tailLines=3",
            usize::MAX,
        ),
        (
            format!("/api/v1/stream/applications/{name}/resource-tree"),
            "",
            1,
        ),
    ] {
        let mut resp = http
            .get(format!("{}{path}?{query}", cfg.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let schema = spec.response_schema("get", &path, 200);
        let mut buf = Vec::new();
        let mut seen = 0;
        while seen < take {
            let Some(chunk) = resp.chunk().await.unwrap() else {
                break;
            };
            buf.extend_from_slice(&chunk);
            while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=i).collect();
                let v: Value = serde_json::from_slice(&line).unwrap();
                spec.check(&schema, &v, &path, &mut errs, "");
                seen += 1;
                checked += 1;
            }
        }
        assert!(seen > 0, "{path}: no message");
    }
    assert!(
        errs.is_empty(),
        "{} schema violations, first ones:\n{}",
        errs.len(),
        errs.iter().take(25).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(checked > 100, "only {checked} replies checked");
}

#[test]
fn the_validator_catches_violations() {
    let doc: Value = serde_json::json!({
        "definitions": {
            "x": {"type": "object", "properties": {"a": {"type": "string"}, "n": {"type": "string", "format": "int64"}, "l": {"type": "array", "items": {"type": "boolean"}}}}
        }
    });
    let spec = Spec { doc };
    let schema = serde_json::json!({"$ref": "#/definitions/x"});
    let mut errs = Vec::new();
    spec.check(
        &schema,
        &serde_json::json!({"a": "s", "n": 5, "l": [true]}),
        "ok",
        &mut errs,
        "",
    );
    assert!(errs.is_empty(), "{errs:?}");
    spec.check(
        &schema,
        &serde_json::json!({"a": 1, "b": 2, "l": ["x"]}),
        "bad",
        &mut errs,
        "",
    );
    assert_eq!(errs.len(), 3, "{errs:?}");
}
