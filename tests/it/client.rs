//! The Argo CD client against the demo server, over real HTTP on loopback.

use crate::common;

use std::time::Duration;

use common::*;
use driftdeck::clients::argocd::{
    AppQuery, ArgoError, LIST_FIELDS, Refresh, STREAM_FIELDS, StreamItem,
};
use driftdeck::config::InstanceConfig;

#[tokio::test]
async fn version_settings_and_userinfo() {
    let fleet = demo(20, 2, 1).await;
    let c = client(&fleet.config().instances[0]);
    let v = c.version().await.unwrap();
    assert!(v.version.starts_with("v3."));
    let s = c.settings().await.unwrap();
    assert_eq!(s.app_label_key, "app.kubernetes.io/instance");
    let u = c.user_info().await.unwrap();
    assert!(u.logged_in);
    assert_eq!(u.username, "admin");
}

#[tokio::test]
async fn list_with_projection_keeps_only_what_was_asked() {
    let fleet = demo(40, 3, 1).await;
    let c = client(&fleet.config().instances[0]);
    let full = c.list_apps(&AppQuery::default(), None).await.unwrap();
    assert_eq!(full.items.len(), 40);
    assert!(full.items.iter().all(|a| !a.status.history.is_empty()));
    let names: Vec<_> = full.items.iter().map(|a| a.metadata.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "items are sorted by name");
    let proj = c
        .list_apps(&AppQuery::default(), Some(LIST_FIELDS))
        .await
        .unwrap();
    assert_eq!(proj.items.len(), 40);
    assert!(
        !proj.metadata.resource_version.is_empty(),
        "the list resourceVersion is always written"
    );
    for (p, f) in proj.items.iter().zip(&full.items) {
        assert_eq!(p.metadata.name, f.metadata.name);
        assert_eq!(p.status.sync.status, f.status.sync.status);
        assert_eq!(p.status.health, f.status.health);
        assert_eq!(p.status.resources, f.status.resources);
        assert!(
            p.status.history.is_empty(),
            "history cannot be projected on list"
        );
        assert!(p.metadata.uid.is_empty(), "uid was not asked for");
        let (po, fo) = (
            p.status.operation_state.as_ref().unwrap(),
            f.status.operation_state.as_ref().unwrap(),
        );
        assert_eq!(po.phase, fo.phase);
        assert!(
            po.message.is_empty(),
            "operationState.message is not in the whitelist"
        );
    }
    // A path outside the whitelist is silently dropped.
    let odd = c
        .list_apps(
            &AppQuery::default(),
            Some(&["items.status.history", "items.metadata.name"]),
        )
        .await
        .unwrap();
    assert!(
        odd.items
            .iter()
            .all(|a| a.status.history.is_empty() && !a.metadata.name.is_empty())
    );
}

#[tokio::test]
async fn server_side_filters() {
    let fleet = demo(60, 4, 1).await;
    let c = client(&fleet.config().instances[0]);
    let all = c.list_apps(&AppQuery::default(), None).await.unwrap().items;
    let project = all[0].spec.project.clone();
    let by_project = c
        .list_apps(
            &AppQuery {
                projects: vec![project.clone()],
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap()
        .items;
    assert!(!by_project.is_empty());
    assert!(by_project.iter().all(|a| a.spec.project == project));
    assert_eq!(
        by_project.len(),
        all.iter().filter(|a| a.spec.project == project).count()
    );
    let prod = c
        .list_apps(
            &AppQuery {
                selector: Some("env=prod".into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(
        prod.len(),
        all.iter()
            .filter(|a| a.metadata.labels.get("env").map(String::as_str) == Some("prod"))
            .count()
    );
    let one = c
        .list_apps(
            &AppQuery {
                name: Some(all[3].metadata.name.clone()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(one.len(), 1);
}

#[tokio::test]
async fn get_managed_resources_tree_events_metadata_clusters_projects() {
    let fleet = demo(30, 2, 1).await;
    let c = client(&fleet.config().instances[0]);
    let list = c.list_apps(&AppQuery::default(), None).await.unwrap();
    let drifted = list
        .items
        .iter()
        .find(|a| a.status.sync.status == "OutOfSync")
        .expect("an OutOfSync app");
    let name = &drifted.metadata.name;
    let app = c.get_app(name, None, None).await.unwrap();
    assert_eq!(&app.metadata.name, name);
    let app2 = c
        .get_app(name, Some("argocd"), Some(Refresh::Hard))
        .await
        .unwrap();
    assert!(
        app2.metadata.resource_version.parse::<u64>().unwrap()
            > app.metadata.resource_version.parse::<u64>().unwrap()
    );

    let mr = c.managed_resources(name, None).await.unwrap();
    assert_eq!(mr.items.len(), app.status.resources.len());
    let modified: Vec<_> = mr.items.iter().filter(|i| i.modified).collect();
    assert!(
        !modified.is_empty(),
        "an OutOfSync app has a modified resource"
    );
    for i in &mr.items {
        for s in [
            &i.target_state,
            &i.live_state,
            &i.normalized_live_state,
            &i.predicted_live_state,
        ] {
            assert!(
                s == "null" || serde_json::from_str::<serde_json::Value>(s).is_ok(),
                "states are JSON strings"
            );
        }
    }

    let tree = c.resource_tree(name, None).await.unwrap();
    assert!(tree.nodes.len() >= app.status.resources.len());
    assert!(
        tree.nodes.iter().all(|n| !n.reference.kind.is_empty()),
        "ResourceRef is inlined"
    );

    let ev = c.app_events(name, None).await.unwrap();
    assert!(!ev.items.is_empty());
    assert!(
        ev.items
            .iter()
            .all(|e| e.involved_object.kind == "Application")
    );

    let rev = &app.status.history.last().unwrap().revision;
    let meta = c.revision_metadata(name, rev, None).await.unwrap();
    assert!(!meta.author.is_empty() && !meta.message.is_empty());

    let clusters = c.clusters().await.unwrap();
    assert!(!clusters.items.is_empty());
    assert!(
        clusters
            .items
            .iter()
            .all(|cl| cl.connection_state.as_ref().unwrap().status == "Successful")
    );
    let projects = c.projects().await.unwrap();
    assert!(
        projects
            .items
            .iter()
            .any(|p| p.metadata.name == app.spec.project)
    );
    let p = c.project(&app.spec.project).await.unwrap();
    assert!(!p.spec.sync_windows.is_empty());
}

#[tokio::test]
async fn errors_are_typed_and_say_what_to_do() {
    let fleet = demo(10, 1, 1).await;
    let cfg = fleet.config().instances[0].clone();
    let c = client(&cfg);
    match c.get_app("no-such-app", None, None).await.unwrap_err() {
        ArgoError::NotFound { message } => assert!(message.contains("\"no-such-app\" not found")),
        e => panic!("{e:?}"),
    }
    match c.project("nope").await.unwrap_err() {
        ArgoError::NotFound { .. } => {}
        e => panic!("{e:?}"),
    }
    // No token at all.
    let anon = client(&InstanceConfig {
        token: None,
        argocd_config: Some("/nonexistent".into()),
        ..cfg.clone()
    });
    match anon
        .list_apps(&AppQuery::default(), None)
        .await
        .unwrap_err()
    {
        ArgoError::Unauthenticated { message, .. } => assert_eq!(message, "no session information"),
        e => panic!("{e:?}"),
    }
    // The unauthenticated endpoints still work.
    assert!(anon.version().await.is_ok());
    // A token the server never issued.
    let bad = client(&InstanceConfig {
        token: Some("aaa.bbb.ccc".into()),
        ..cfg.clone()
    });
    let e = bad.list_apps(&AppQuery::default(), None).await.unwrap_err();
    assert!(matches!(e, ArgoError::Unauthenticated { .. }), "{e:?}");
    assert!(e.to_string().contains("argocd login"), "{e}");
    // An expired session.
    fleet.instance(0).expire_tokens();
    let e = c.list_apps(&AppQuery::default(), None).await.unwrap_err();
    assert!(matches!(e, ArgoError::TokenExpired { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("token expired: run `argocd login 127.0.0.1:"),
        "{e}"
    );
}

#[tokio::test]
async fn token_from_a_command_and_from_the_argocd_cli_config() {
    let fleet = demo(5, 1, 1).await;
    let token = fleet.tokens[0].clone();
    let cmd = InstanceConfig {
        name: "cmd".into(),
        url: fleet.url(0),
        token_command: Some(format!("echo {token}")),
        ..Default::default()
    };
    assert_eq!(
        client(&cmd)
            .list_apps(&AppQuery::default(), None)
            .await
            .unwrap()
            .items
            .len(),
        5
    );

    let dir = tempfile::tempdir().unwrap();
    let server = fleet.url(0).trim_start_matches("http://").to_string();
    let cli = format!(
        "contexts:\n- name: demo\n  server: {server}\n  user: demo\ncurrent-context: demo\nservers:\n- server: {server}\n  plain-text: true\nusers:\n- name: demo\n  auth-token: {token}\n"
    );
    let path = dir.path().join("config");
    std::fs::write(&path, cli).unwrap();
    let via_cli = InstanceConfig {
        name: "cli".into(),
        url: fleet.url(0),
        argocd_config: Some(path.clone()),
        ..Default::default()
    };
    assert_eq!(
        client(&via_cli)
            .list_apps(&AppQuery::default(), None)
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    let named = InstanceConfig {
        argocd_context: Some("demo".into()),
        ..via_cli.clone()
    };
    assert_eq!(
        client(&named)
            .list_apps(&AppQuery::default(), None)
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    let missing = InstanceConfig {
        argocd_context: Some("nope".into()),
        ..via_cli
    };
    let e = client(&missing)
        .list_apps(&AppQuery::default(), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no context `nope`"), "{e}");
}

#[tokio::test]
async fn watch_stream_sends_added_then_changes() {
    let fleet = demo_with(12, 1, 1, |o| o.keepalive = Duration::from_millis(150)).await;
    let c = client(&fleet.config().instances[0]);
    // Without a resourceVersion: an ADDED event for every app first.
    let mut s = c
        .watch_apps(&AppQuery::default(), None, Some(STREAM_FIELDS))
        .await
        .unwrap();
    let mut added = 0;
    while added < 12 {
        match tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            StreamItem::Event(ev) => {
                assert_eq!(ev.kind, "ADDED");
                assert!(ev.application.status.history.is_empty(), "projected away");
                added += 1;
            }
            StreamItem::KeepAlive => {}
        }
    }
    drop(s);
    // From the list's resourceVersion: only what changed after it.
    let list = c
        .list_apps(&AppQuery::default(), Some(LIST_FIELDS))
        .await
        .unwrap();
    let mut s = c
        .watch_apps(
            &AppQuery::default(),
            Some(&list.metadata.resource_version),
            Some(STREAM_FIELDS),
        )
        .await
        .unwrap();
    let name = list.items[2].metadata.name.clone();
    fleet.instance(0).modify(&name, |a| {
        a.w.drifts
            .push(driftdeck::demo::generator::Drift::ConfigValue {
                key: "LOG_LEVEL".into(),
                value: "trace".into(),
                at: NOW,
            });
    });
    let mut saw_keepalive = false;
    let ev = loop {
        match tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            StreamItem::Event(ev) => break ev,
            StreamItem::KeepAlive => saw_keepalive = true,
        }
    };
    assert_eq!(ev.kind, "MODIFIED");
    assert_eq!(ev.application.metadata.name, name);
    assert_eq!(ev.application.status.sync.status, "OutOfSync");
    assert!(!ev.application.metadata.resource_version.is_empty());
    // Keep-alives arrive while nothing changes.
    if !saw_keepalive {
        let item = tokio::time::timeout(Duration::from_secs(2), s.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(item, StreamItem::KeepAlive);
    }
}

#[tokio::test]
async fn stream_framing_on_the_wire_is_the_real_one() {
    let fleet = demo(3, 1, 1).await;
    let cfg = fleet.config().instances[0].clone();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}/api/v1/stream/applications", cfg.url);
    let mut resp = http
        .get(&url)
        .bearer_auth(cfg.token.as_deref().unwrap())
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let mut bytes = Vec::new();
    while bytes.windows(4).filter(|w| w == b"} \n\n").count() < 3 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        bytes.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.starts_with("data: {\"result\":{\"type\":\"ADDED\""),
        "{}",
        &text[..80]
    );
    assert!(
        text.contains("}} \n\n\ndata: "),
        "a space before the blank line, then grpc-gateway's newline"
    );
    // Without the SSE Accept header: newline-delimited JSON.
    let mut resp = http
        .get(&url)
        .bearer_auth(cfg.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(chunk.starts_with(b"{\"result\":"));
    // An error before the first message sets the HTTP status.
    let resp = http
        .get(&url)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn non_get_needs_json_content_type() {
    let fleet = demo(3, 1, 1).await;
    let cfg = fleet.config().instances[0].clone();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = http
        .post(format!("{}/api/v1/session", cfg.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = http
        .post(format!("{}/api/v1/session", cfg.url))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["message"], "no credentials supplied");
    assert_eq!(body["code"], 16);
}

/// TLS: verification is on, a private CA works through `ca_file`, and only an explicit
/// `insecure = true` skips verification.
#[tokio::test]
async fn tls_with_a_private_ca() {
    use driftdeck::demo::argocd::ArgoServer;
    driftdeck::clients::argocd::init_crypto();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "driftdeck test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let server_cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let fleet = demo(4, 1, 1).await;
    let inst = fleet.instance(0).clone();
    let server = ArgoServer::start_tls(
        inst,
        "127.0.0.1:0".parse().unwrap(),
        std::sync::Arc::new(server_cfg),
    )
    .await
    .unwrap();
    let url = format!("https://localhost:{}", server.addr.port());
    let base = InstanceConfig {
        name: "tls".into(),
        url,
        token: Some(fleet.tokens[0].clone()),
        ..Default::default()
    };

    let e = client(&base)
        .list_apps(&AppQuery::default(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ArgoError::Tls { .. }),
        "an unknown CA is refused: {e:?}"
    );
    assert!(e.to_string().contains("ca_file"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let with_ca = InstanceConfig {
        ca_file: Some(ca_path),
        ..base.clone()
    };
    assert_eq!(
        client(&with_ca)
            .list_apps(&AppQuery::default(), None)
            .await
            .unwrap()
            .items
            .len(),
        4
    );

    let insecure = InstanceConfig {
        insecure: true,
        ..base.clone()
    };
    assert_eq!(
        client(&insecure)
            .list_apps(&AppQuery::default(), None)
            .await
            .unwrap()
            .items
            .len(),
        4
    );

    let bad_ca = dir.path().join("bad.pem");
    std::fs::write(&bad_ca, "not a certificate").unwrap();
    let e = driftdeck::clients::argocd::ArgoClient::new(&InstanceConfig {
        ca_file: Some(bad_ca),
        ..base
    })
    .unwrap_err();
    assert!(matches!(e, ArgoError::Config { .. }), "{e:?}");
}
