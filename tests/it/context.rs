//! Context gathering against real servers: Prometheus (data backfilled with promtool) and
//! Alertmanager started on loopback, PagerDuty as the demo's API, and sources that fail, time
//! out or go stale. Without the Debian packages the real-server tests skip with a notice; with
//! CI=true they must run.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use driftdeck::decide::Verdict;
use driftdeck::decide::context::{ObjRef, Sources};
use driftdeck::decide::decider::{Decider, Mode};
use driftdeck::decide::policy::Bundle;
use driftdeck::decide::scenario::{DriftedResource, Scenario, SourceState};
use driftdeck::decide::settings::*;
use driftdeck::model::app::Application;
use serde_json::json;

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(bin))
            .find(|p| p.is_file())
    })
}

/// The binary, or None with a notice (a panic under CI=true).
fn need(bin: &str) -> Option<PathBuf> {
    match which(bin) {
        Some(p) => Some(p),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but `{bin}` is not installed (.ci/run installs prometheus and prometheus-alertmanager)"
            )
        }
        None => {
            eprintln!(
                "skipped: `{bin}` is not installed (apt-get install prometheus prometheus-alertmanager)"
            );
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_ready(url: &str, child: &mut Child, what: &str) {
    let start = Instant::now();
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("{url}/-/ready")).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before it was ready: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} not ready after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The decision instant of these tests: a whole minute, half an hour ago.
fn t0() -> DateTime<Utc> {
    let now = Utc::now().timestamp();
    Utc.timestamp_opt(now - now % 60 - 1800, 0).unwrap()
}

fn openmetrics(t0: i64) -> String {
    let mut s = String::new();
    s.push_str("# TYPE app_request_rate gauge\n");
    let week = 7 * 86_400;
    // Ordered by series, then time: a week ago (the baseline) and the last half hour.
    for (labels, now_value, week_value) in [
        ("{service=\"other-api\",namespace=\"other\"}", 100.0, 100.0),
        (
            "{service=\"payments-api\",namespace=\"payments\"}",
            3150.0,
            780.0,
        ),
    ] {
        for m in (0..=30).rev() {
            s.push_str(&format!(
                "app_request_rate{labels} {week_value} {}\n",
                t0 - week - m * 60
            ));
        }
        for m in (0..=30).rev() {
            s.push_str(&format!(
                "app_request_rate{labels} {now_value} {}\n",
                t0 - m * 60
            ));
        }
    }
    // CPU stopped being scraped twenty minutes before t0.
    s.push_str("# TYPE app_cpu gauge\n");
    for m in (20..=60).rev() {
        s.push_str(&format!(
            "app_cpu{{service=\"payments-api\",namespace=\"payments\"}} 0.91 {}\n",
            t0 - m * 60
        ));
    }
    s.push_str("# EOF\n");
    s
}

async fn start_prometheus(t0: i64) -> Option<Server> {
    let prom = need("prometheus")?;
    let promtool = need("promtool")?;
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("data.om");
    std::fs::write(&om, openmetrics(t0)).unwrap();
    let tsdb = dir.path().join("tsdb");
    let out = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1h\n").unwrap();
    let port = free_port();
    let mut child = Command::new(prom)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url, &mut child, "prometheus").await;
    Some(Server {
        child,
        url,
        _dir: dir,
    })
}

async fn start_alertmanager() -> Option<Server> {
    let am = need("prometheus-alertmanager").or_else(|| which("alertmanager"))?;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = free_port();
    let mut child = Command::new(am)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url, &mut child, "alertmanager").await;
    Some(Server {
        child,
        url,
        _dir: dir,
    })
}

fn app() -> Application {
    serde_json::from_value(json!({
        "metadata": {"name": "payments-api", "namespace": "argocd", "labels": {"env": "prod"}},
        "spec": {"project": "payments", "destination": {"server": "https://prod.example", "namespace": "payments"}}
    }))
    .unwrap()
}

fn signal(query: &str, baseline: Option<&str>) -> SignalQuery {
    SignalQuery {
        query: query.into(),
        baseline: baseline.map(str::to_string),
        unit: None,
    }
}

fn prom_config(url: &str) -> PrometheusConfig {
    PrometheusConfig {
        url: url.into(),
        stale_after: Some("30m".into()),
        signals: [
            (
                "request_rate".to_string(),
                signal(
                    "app_request_rate{service=\"{service}\"}",
                    Some("app_request_rate{service=\"{service}\"} offset 1w"),
                ),
            ),
            (
                "cpu_utilisation".to_string(),
                signal("app_cpu{service=\"{service}\"}", None),
            ),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    }
}

/// A scenario of `app()` scaled up by hand, with the given context.
fn scaled_up(now: DateTime<Utc>, context: driftdeck::decide::scenario::Context) -> Scenario {
    let deploy = |replicas: i64, manager: bool| {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "payments-api", "namespace": "payments"},
            "spec": {"replicas": replicas}});
        if manager {
            d["metadata"]["managedFields"] = json!([{"manager": "kubectl-scale", "operation": "Update",
                "subresource": "scale", "time": now.to_rfc3339(), "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
        }
        d
    };
    Scenario {
        name: "payments-scaled-up".into(),
        description: None,
        now,
        app: serde_json::to_value(app()).unwrap(),
        project: None,
        resources: vec![DriftedResource {
            desired: Some(deploy(6, false)),
            live: Some(deploy(18, true)),
        }],
        context: Some(context),
        actions: Vec::new(),
        expect: None,
    }
}

#[tokio::test]
async fn prometheus_signals_baselines_and_staleness() {
    let t0 = t0();
    let Some(prom) = start_prometheus(t0.timestamp()).await else {
        return;
    };
    let sources = Sources::from_config(Some(&ContextConfig {
        prometheus: Some(prom_config(&prom.url)),
        ..Default::default()
    }))
    .unwrap();
    let g = sources.gather(&app(), None, &[], t0).await;
    let rr = &g.context.signals["request_rate"];
    assert_eq!(rr.value, 3150.0);
    assert_eq!(rr.baseline, Some(780.0));
    // The CPU series stopped 20 minutes ago: reported stale, with its last value.
    assert_eq!(
        g.context.sources["prometheus"],
        SourceState::Stale,
        "{:?}",
        g.report
    );
    assert_eq!(g.context.signals["cpu_utilisation"].value, 0.91);
    assert!(
        g.report[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("cpu_utilisation")
    );

    // Scaling decided on stale metrics goes to a human; with fresh ones it is allowed.
    let decider = Decider::new(Bundle::builtin().unwrap());
    let d = decider
        .decide(&scaled_up(t0, g.context.clone()), Mode::Advisory)
        .await
        .unwrap();
    assert_eq!(d.verdict, Verdict::NeedsHuman, "{:?}", d.guardrails);
    let mut fresh = g.context.clone();
    fresh.sources.insert("prometheus".into(), SourceState::Ok);
    fresh.signals.remove("cpu_utilisation");
    let d = decider
        .decide(&scaled_up(t0, fresh), Mode::Advisory)
        .await
        .unwrap();
    assert_eq!(
        d.verdict,
        Verdict::Allow,
        "{:?} {}",
        d.guardrails,
        d.advisor.reasoning
    );
    assert!(
        d.advisor
            .evidence
            .contains(&"signal:request_rate".to_string())
    );

    // A query Prometheus refuses fails the source, with Prometheus' own message.
    let mut bad = prom_config(&prom.url);
    bad.signals.insert(
        "broken".into(),
        signal("sum(rate(app_request_rate[5m]", None),
    );
    let sources = Sources::from_config(Some(&ContextConfig {
        prometheus: Some(bad),
        ..Default::default()
    }))
    .unwrap();
    let g = sources.gather(&app(), None, &[], t0).await;
    assert_eq!(g.context.sources["prometheus"], SourceState::Failed);
    let detail = g.report[0].detail.clone().unwrap();
    assert!(
        detail.contains("broken") && detail.contains("bad_data"),
        "{detail}"
    );
}

#[tokio::test]
async fn alertmanager_firing_alerts_of_the_app() {
    let Some(am) = start_alertmanager().await else {
        return;
    };
    let now = Utc::now();
    let http = reqwest::Client::new();
    let post = json!([
        {"labels": {"alertname": "PaymentsHighRequestRate", "service": "payments-api", "severity": "warning"},
         "startsAt": (now - chrono::Duration::minutes(10)).to_rfc3339(), "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339()},
        {"labels": {"alertname": "CheckoutDown", "service": "checkout", "severity": "critical"},
         "startsAt": (now - chrono::Duration::minutes(5)).to_rfc3339(), "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339()},
        {"labels": {"alertname": "NamespaceQuotaNearlyFull", "namespace": "payments", "severity": "info"},
         "startsAt": (now - chrono::Duration::minutes(5)).to_rfc3339(), "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339()}
    ]);
    let r = http
        .post(format!("{}/api/v2/alerts", am.url))
        .json(&post)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let sources = Sources::from_config(Some(&ContextConfig {
        alertmanager: Some(AlertmanagerConfig {
            url: am.url.clone(),
            token_env: None,
        }),
        ..Default::default()
    }))
    .unwrap();
    // Alertmanager processes posted alerts asynchronously.
    let start = Instant::now();
    let g = loop {
        let g = sources.gather(&app(), None, &[], now).await;
        if g.context.alerts.len() >= 2 || start.elapsed() > Duration::from_secs(10) {
            break g;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(g.context.sources["alertmanager"], SourceState::Ok);
    let names: Vec<&str> = g.context.alerts.iter().map(|a| a.name.as_str()).collect();
    assert!(names.contains(&"PaymentsHighRequestRate"), "{names:?}");
    assert!(names.contains(&"NamespaceQuotaNearlyFull"), "{names:?}");
    assert!(
        !names.contains(&"CheckoutDown"),
        "another service's alert: {names:?}"
    );
    let a = g
        .context
        .alerts
        .iter()
        .find(|a| a.name == "PaymentsHighRequestRate")
        .unwrap();
    assert_eq!(a.severity.as_deref(), Some("warning"));
    assert!(a.starts_at.is_some());
}

#[tokio::test]
async fn pagerduty_incidents_and_events_from_the_demo() {
    let fleet = common::demo(40, 3, 2).await;
    let cfg = fleet.context.config();
    let sources = Sources::from_config(Some(&cfg)).unwrap();
    // An app with an incident in the demo's situation.
    let (app, _) = {
        let mut found = None;
        for i in 0..fleet.servers.len() {
            let st = fleet.instance(i).read();
            for a in st.apps.values() {
                if driftdeck::demo::context::situation(a).incident.is_some() {
                    found = Some((a.app.clone(), i));
                    break;
                }
            }
            if found.is_some() {
                break;
            }
        }
        found.expect("the demo fleet has an app with an incident")
    };
    let g = sources.gather(&app, None, &[], Utc::now()).await;
    assert_eq!(
        g.context.sources["pagerduty"],
        SourceState::Ok,
        "{:?}",
        g.report
    );
    assert!(!g.context.incidents.is_empty());
    assert!(
        g.context
            .incidents
            .iter()
            .all(|i| i.status == "triggered" || i.status == "acknowledged")
    );
    assert!(g.context.incidents.iter().any(|i| i.id.starts_with("PD-")));
    // A wrong key: the source fails with a sentence about the key.
    let mut bad = cfg.clone();
    bad.pagerduty.as_mut().unwrap().token = Some("wrong".into());
    let g = Sources::from_config(Some(&bad))
        .unwrap()
        .gather(&app, None, &[], Utc::now())
        .await;
    assert_eq!(g.context.sources["pagerduty"], SourceState::Failed);
    assert!(
        g.report
            .iter()
            .any(|r| r.detail.as_deref().is_some_and(|d| d.contains("API key")))
    );
}

#[tokio::test]
async fn slow_and_dead_sources_fail_within_the_time_limit() {
    // A server that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            if let Ok((s, _)) = silent.accept().await {
                held.push(s);
            }
        }
    });
    let dead_port = free_port();
    let cfg = ContextConfig {
        timeout: Some("300ms".into()),
        prometheus: Some(prom_config(&format!("http://{silent_addr}"))),
        alertmanager: Some(AlertmanagerConfig {
            url: format!("http://127.0.0.1:{dead_port}"),
            token_env: None,
        }),
        ..Default::default()
    };
    let sources = Sources::from_config(Some(&cfg)).unwrap();
    let start = Instant::now();
    let g = sources.gather(&app(), None, &[], Utc::now()).await;
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(g.context.sources["prometheus"], SourceState::Failed);
    assert_eq!(g.context.sources["alertmanager"], SourceState::Failed);
    for r in &g.report {
        assert!(r.detail.is_some(), "{r:?}");
    }
    // Failed sources never loosen a decision: scaling with no metrics goes to a human.
    let decider = Decider::new(Bundle::builtin().unwrap());
    let d = decider
        .decide(&scaled_up(Utc::now(), g.context), Mode::Advisory)
        .await
        .unwrap();
    assert_eq!(d.verdict, Verdict::NeedsHuman);
}

#[tokio::test]
async fn the_demo_sources_answer_through_the_real_clients() {
    let fleet = common::demo(30, 3, 1).await;
    let sources = Sources::from_config(Some(&fleet.context.config())).unwrap();
    let client = driftdeck::clients::argocd::ArgoClient::new(&fleet.config().instances[0]).unwrap();
    let app = {
        let st = fleet.instance(0).read();
        st.apps.values().next().unwrap().app.clone()
    };
    let drifted = vec![ObjRef {
        kind: "Deployment".into(),
        namespace: app.spec.destination.namespace.clone(),
        name: app.metadata.name.clone(),
        uid: String::new(),
    }];
    let g = sources
        .gather(&app, Some(&client), &drifted, Utc::now())
        .await;
    for name in [
        "prometheus",
        "alertmanager",
        "pagerduty",
        "kubernetes-events",
    ] {
        assert_eq!(
            g.context.sources.get(name),
            Some(&SourceState::Ok),
            "{name}: {:?}",
            g.report
        );
    }
    assert!(g.context.signals.contains_key("request_rate"));
    assert!(g.context.signals["request_rate"].baseline.is_some());
}

/// The MCP TypeScript SDK and the test's MCP server, or None with a notice (a panic under
/// CI=true).
fn mcp_server_script() -> Option<(PathBuf, PathBuf)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sdk = root.join("target/argocd-mcp/node_modules/@modelcontextprotocol/sdk");
    if which("node").is_some() && sdk.join("package.json").is_file() {
        return Some((sdk, root.join("tests/tools/mcp_context_server.mjs")));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but node or the MCP TypeScript SDK is missing (.ci/run installs them)");
    }
    eprintln!("skipped: node or the MCP TypeScript SDK is not installed (run .ci/run)");
    None
}

fn mcp_source(name: &str) -> McpSourceConfig {
    let query = |q: &str| {
        let mut m = serde_json::Map::new();
        m.insert("query".into(), json!(q));
        m
    };
    let by_service = || {
        let mut m = serde_json::Map::new();
        m.insert("service".into(), json!("{service}"));
        m
    };
    McpSourceConfig {
        name: name.into(),
        stale_after: Some("5m".into()),
        signals: [(
            "request_rate".to_string(),
            McpSignal {
                tool: "query".into(),
                arguments: query("rate{service=\"{service}\"}"),
                baseline: Some(query("rate{service=\"{service}\"} offset 1w")),
                unit: Some("req/s".into()),
            },
        )]
        .into_iter()
        .collect(),
        alerts: Some(McpCall {
            tool: "firing_alerts".into(),
            arguments: by_service(),
        }),
        incidents: Some(McpCall {
            tool: "open_incidents".into(),
            arguments: by_service(),
        }),
        ..Default::default()
    }
}

fn mcp_context(timeout: &str, m: McpSourceConfig) -> Sources {
    Sources::from_config(Some(&ContextConfig {
        timeout: Some(timeout.into()),
        events: Some(false),
        mcp: vec![m],
        ..Default::default()
    }))
    .unwrap()
}

#[tokio::test]
async fn mcp_tools_give_signals_alerts_and_incidents_over_stdio_and_http() {
    let Some((sdk, script)) = mcp_server_script() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.json");
    let log = dir.path().join("calls.jsonl");
    let write = |v: serde_json::Value| std::fs::write(&data, v.to_string()).unwrap();
    let answers = json!({
        "series": {
            "rate{service=\"payments-api\"}": {"value": 2400, "age_s": 5},
            "rate{service=\"payments-api\"} offset 1w": {"value": 800}
        },
        "alerts": [{"labels": {"alertname": "PaymentsLatencyHigh", "service": "payments-api", "severity": "page"},
                    "startsAt": "2026-11-27T09:00:00Z", "status": {"state": "active"}},
                   {"labels": {"alertname": "Other", "service": "search"}, "status": {"state": "active"}}],
        "incidents": [{"id": "PD-42", "title": "Checkout latency", "service": "payments-api", "status": "triggered"}]
    });
    write(answers.clone());
    // The stdio server gets them through `env` on its command line.
    let env = [
        ("MCP_SDK", sdk.display().to_string()),
        ("MCP_CONTEXT_DATA", data.display().to_string()),
        ("MCP_CONTEXT_LOG", log.display().to_string()),
    ];
    let mut stdio = mcp_source("prom");
    stdio.command = ["env".to_string()]
        .into_iter()
        .chain(env.iter().map(|(k, v)| format!("{k}={v}")))
        .chain([
            "node".to_string(),
            script.display().to_string(),
            "stdio".into(),
        ])
        .collect();

    let sources = mcp_context("5s", stdio.clone());
    let now = Utc::now();
    let g = sources.gather(&app(), None, &[], now).await;
    for kind in ["signals", "alerts", "incidents"] {
        assert_eq!(
            g.context.sources[&format!("mcp:prom/{kind}")],
            SourceState::Ok,
            "{:?}",
            g.report
        );
    }
    let rate = &g.context.signals["request_rate"];
    assert_eq!((rate.value, rate.baseline), (2400.0, Some(800.0)));
    assert_eq!(rate.unit.as_deref(), Some("req/s"));
    assert_eq!(g.context.alerts.len(), 1, "{:?}", g.context.alerts);
    assert_eq!(g.context.alerts[0].name, "PaymentsLatencyHigh");
    assert_eq!(g.context.incidents.len(), 1);
    assert_eq!(g.context.incidents[0].id, "PD-42");
    // The templates were filled with the app's service; one server process for all calls.
    let calls: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert!(calls.iter().all(|c| c["pid"] == calls[0]["pid"]));
    assert!(
        calls
            .iter()
            .any(|c| c["arguments"]["service"] == "payments-api")
    );

    // The facts read the MCP sources by kind: metrics ok, incidents ok; the scaling under
    // 3x load with the app's incident open is allowed, citing the MCP signal.
    let decider = Decider::new(Bundle::builtin().unwrap());
    let sc = scaled_up(now, g.context.clone());
    let facts = decider.facts(&sc).unwrap();
    assert_eq!(facts.input.context.metrics, "ok");
    assert_eq!(facts.input.context.incidents_source, "ok");
    let d = decider.decide(&sc, Mode::Advisory).await.unwrap();
    assert_eq!(d.verdict, Verdict::Allow, "{:?}", d.guardrails);
    assert!(
        d.advisor
            .evidence
            .contains(&"signal:request_rate".to_string())
    );

    // The server fails: the last answer, if recent, is used and marked stale.
    write(json!({"error": "upstream Prometheus is down"}));
    let later = now + chrono::Duration::seconds(30);
    let g = sources.gather(&app(), None, &[], later).await;
    assert_eq!(g.context.sources["mcp:prom/signals"], SourceState::Stale);
    let detail = g
        .report
        .iter()
        .find(|r| r.name == "mcp:prom/signals")
        .unwrap();
    let detail = detail.detail.as_deref().unwrap();
    assert!(
        detail.contains("upstream Prometheus is down") && detail.contains("30 s ago"),
        "{detail}"
    );
    assert_eq!(g.context.signals["request_rate"].value, 2400.0);
    // Stale metrics send the scaling to a human.
    let d = decider
        .decide(&scaled_up(later, g.context), Mode::Advisory)
        .await
        .unwrap();
    assert_eq!(d.verdict, Verdict::NeedsHuman, "{:?}", d.guardrails);
    // Too old to reuse: failed, with the server's words.
    let g = sources
        .gather(&app(), None, &[], now + chrono::Duration::minutes(10))
        .await;
    assert_eq!(g.context.sources["mcp:prom/signals"], SourceState::Failed);
    assert_eq!(g.context.sources["mcp:prom/incidents"], SourceState::Failed);

    // A sample older than stale_after is stale.
    let mut old = answers.clone();
    old["series"]["rate{service=\"payments-api\"}"]["age_s"] = json!(900);
    write(old);
    let g = sources.gather(&app(), None, &[], Utc::now()).await;
    assert_eq!(g.context.sources["mcp:prom/signals"], SourceState::Stale);
    assert_eq!(g.context.sources["mcp:prom/alerts"], SourceState::Ok);

    // A slow server fails within the time limit, and the next call gets through.
    let mut slow = answers.clone();
    slow["delay_ms"] = json!(3000);
    write(slow);
    let sources = mcp_context("700ms", stdio.clone());
    let start = Instant::now();
    let g = sources.gather(&app(), None, &[], Utc::now()).await;
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(g.context.sources["mcp:prom/signals"], SourceState::Failed);
    assert!(
        g.report[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("no answer within 0.7 s"),
        "{:?}",
        g.report
    );
    write(answers.clone());
    let g = sources.gather(&app(), None, &[], Utc::now()).await;
    assert_eq!(
        g.context.sources["mcp:prom/signals"],
        SourceState::Ok,
        "{:?}",
        g.report
    );

    // A command that does not exist fails with a sentence.
    let mut missing = mcp_source("gone");
    missing.command = vec!["/nonexistent/mcp-server".into()];
    let g = mcp_context("2s", missing)
        .gather(&app(), None, &[], Utc::now())
        .await;
    assert_eq!(g.context.sources["mcp:gone/signals"], SourceState::Failed);
    assert!(
        g.report[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("could not start `/nonexistent/mcp-server`"),
        "{:?}",
        g.report
    );

    // Streamable HTTP, with a bearer token.
    // token_env names a variable; PATH, set in every process, stands in for one (a test must
    // not set variables while other tests' threads run).
    let token_var = "PATH";
    let token = std::env::var(token_var).unwrap();
    let mut child = Command::new("node")
        .arg(&script)
        .arg("http")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("MCP_TOKEN", &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port = serde_json::from_str::<serde_json::Value>(&line).unwrap()["port"]
        .as_u64()
        .unwrap();
    let mut http = mcp_source("prom-http");
    http.url = Some(format!("http://127.0.0.1:{port}/mcp"));
    http.token_env = Some(token_var.into());
    let g = mcp_context("5s", http.clone())
        .gather(&app(), None, &[], Utc::now())
        .await;
    assert_eq!(
        g.context.sources["mcp:prom-http/signals"],
        SourceState::Ok,
        "{:?}",
        g.report
    );
    assert_eq!(g.context.signals["request_rate"].baseline, Some(800.0));
    assert_eq!(g.context.incidents[0].id, "PD-42");
    // Without the token: failed.
    http.token_env = None;
    let g = mcp_context("5s", http)
        .gather(&app(), None, &[], Utc::now())
        .await;
    assert_eq!(
        g.context.sources["mcp:prom-http/signals"],
        SourceState::Failed
    );
    let _ = child.kill();
    let _ = child.wait();
}
