//! `driftdeck mcp` driven by a scripted MCP client over stdio (JSON-RPC, one message a line),
//! and by the official TypeScript SDK's client (the one `argocd-mcp` ships with) over stdio and
//! over streamable HTTP under `serve`. Reads are checked against the demo; `decide` journals in
//! shadow mode and changes nothing; actions happen only after the elicitation is answered
//! with the app's name, and are refused on decline, a wrong name, a client that cannot ask, or
//! a read-only driftdeck.
#![allow(clippy::disallowed_macros)] // test harness notices, not product output
use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next: u64,
    /// The elicitation requests the server sent.
    pub asked: Vec<Value>,
}

impl Session {
    fn start(config: &Path, data: &Path, extra: &[&str], elicitation: bool) -> Session {
        let mut child = Command::new(env!("CARGO_BIN_EXE_driftdeck"))
            .args(extra)
            .arg("mcp")
            .env("DRIFTDECK_CONFIG", config)
            .env("DRIFTDECK_DATA_DIR", data)
            .env("DRIFTDECK_LOG_DIR", data.join("logs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut s = Session {
            child,
            stdin,
            stdout,
            next: 1,
            asked: Vec::new(),
        };
        let caps = if elicitation {
            json!({"elicitation": {}})
        } else {
            json!({})
        };
        let init = s.call(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": caps,
                   "clientInfo": {"name": "scripted", "version": "1"}}),
            &mut |_| json!({}),
        );
        assert_eq!(init["serverInfo"]["name"], "driftdeck", "{init}");
        assert_eq!(init["protocolVersion"], "2025-06-18");
        s.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        s
    }

    fn send(&mut self, v: Value) {
        let w = self.stdin.as_mut().unwrap();
        writeln!(w, "{v}").unwrap();
        w.flush().unwrap();
    }

    /// A request; server requests met on the way are answered by `answer`.
    fn call(
        &mut self,
        method: &str,
        params: Value,
        answer: &mut dyn FnMut(&Value) -> Value,
    ) -> Value {
        let id = self.next;
        self.next += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "the server went away"
            );
            let v: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON-RPC: {e}: {line}"));
            if v["method"] == "elicitation/create" {
                self.asked.push(v["params"].clone());
                let result = answer(&v["params"]);
                self.send(json!({"jsonrpc": "2.0", "id": v["id"], "result": result}));
                continue;
            }
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn tool_with(
        &mut self,
        name: &str,
        args: Value,
        answer: &mut dyn FnMut(&Value) -> Value,
    ) -> (bool, String) {
        let r = self.call(
            "tools/call",
            json!({"name": name, "arguments": args}),
            answer,
        );
        (
            r["isError"] == true,
            r["content"][0]["text"].as_str().unwrap_or("").to_string(),
        )
    }

    fn tool(&mut self, name: &str, args: Value) -> Value {
        let (err, text) = self.tool_with(name, args, &mut |_| json!({"action": "cancel"}));
        assert!(!err, "{name}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// Closes stdin; the exit code.
    fn close(mut self) -> Option<i32> {
        drop(self.stdin.take());
        self.child.wait().unwrap().code()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn journal(data: &Path) -> Vec<driftdeck::decide::journal::Record> {
    driftdeck::decide::journal::Journal::in_dir(data)
        .records()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_client_reads_decides_and_acts_only_when_confirmed() {
    let fleet = common::demo_with(30, 3, 1, |o| o.now = None).await;
    let dir = tempfile::tempdir().unwrap();
    let config = fleet.write_config(dir.path()).unwrap();
    let data = dir.path().join("data");
    let mut s = Session::start(&config, &data, &[], true);
    let tools = s.call("tools/list", json!({}), &mut |_| json!({}));
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for t in [
        "list_apps",
        "get_app",
        "get_drift_diff",
        "decide",
        "explain_decision",
        "drift_queue",
        "sync_app",
        "defer_app",
        "annotate_app",
    ] {
        assert!(names.contains(&t), "{t} missing: {names:?}");
    }
    let sync_schema = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "sync_app")
        .unwrap();
    assert_eq!(sync_schema["inputSchema"]["required"], json!(["app"]));

    // Reads: the fleet as the demo has it.
    let all = s.tool("list_apps", json!({}));
    assert_eq!(all["total"], 30);
    let drifted = s.tool("list_apps", json!({"filter": "status:OutOfSync"}));
    let n = drifted["total"].as_u64().unwrap();
    assert!(n > 0 && n < 30, "{drifted}");
    assert!(
        drifted["apps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["sync"] == "OutOfSync")
    );
    let (err, text) = s.tool_with("list_apps", json!({"filter": "colour:red"}), &mut |_| {
        json!({})
    });
    assert!(err && text.contains("filter"), "{text}");
    // An app with a drifted Deployment or ConfigMap, auto-sync off so it stays drifted.
    let app = drifted["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["auto_sync"] == false)
        .or_else(|| drifted["apps"].as_array().unwrap().first())
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let got = s.tool("get_app", json!({"app": app}));
    assert_eq!(got["sync"]["status"], "OutOfSync");
    assert!(!got["drifted_resources"].as_array().unwrap().is_empty());
    let diff = s.tool("get_drift_diff", json!({"app": app}));
    let diff = diff.as_str().unwrap();
    assert!(diff.contains("\n-") || diff.contains("\n+"), "{diff}");
    let (err, text) = s.tool_with("get_app", json!({"app": "no-such-app"}), &mut |_| json!({}));
    assert!(err && text.contains("no-such-app"), "{text}");

    // Decide: shadow whatever the config says, journaled, nothing changed.
    let d = s.tool("decide", json!({"app": app}));
    assert_eq!(d["mode"], "shadow");
    let seq = d["journal_record"].as_u64().unwrap();
    let recs = journal(&data);
    let rec = recs.iter().find(|r| r.seq == seq).unwrap();
    assert_eq!(rec.body["origin"], "mcp");
    assert_eq!(rec.body["app"], app.as_str());
    let again = s.tool("get_app", json!({"app": app}));
    assert_eq!(
        again["sync"]["status"], "OutOfSync",
        "deciding changed nothing"
    );
    let why = s.tool("explain_decision", json!({"record": seq}));
    let why = why.as_str().unwrap();
    assert!(
        why.contains(&format!("Decision #{seq} about {app}")),
        "{why}"
    );
    assert!(
        why.contains("Policy:") && why.contains("Guardrails"),
        "{why}"
    );
    let q = s.tool("drift_queue", json!({}));
    assert_eq!(q["drifted"].as_u64().unwrap(), n);
    let decided = q["queue"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == app.as_str())
        .unwrap();
    assert_eq!(decided["decision"]["record"], seq);

    // Actions: declined, a wrong name, then confirmed.
    let (err, text) = s.tool_with(
        "sync_app",
        json!({"app": app}),
        &mut |_| json!({"action": "decline"}),
    );
    assert!(err && text.contains("declined"), "{text}");
    let asked = s.asked.last().unwrap().clone();
    assert_eq!(asked["mode"], "form");
    assert!(
        asked["message"]
            .as_str()
            .unwrap()
            .contains(&format!("Type {app}")),
        "{asked}"
    );
    assert!(
        asked["message"].as_str().unwrap().contains("sync windows"),
        "the plan is shown: {asked}"
    );
    let (err, text) = s.tool_with(
        "sync_app",
        json!({"app": app}),
        &mut |_| json!({"action": "accept", "content": {"confirm": "something-else"}}),
    );
    assert!(err && text.contains("not the app's name"), "{text}");
    assert_eq!(
        s.tool("get_app", json!({"app": app}))["sync"]["status"],
        "OutOfSync"
    );
    let name = app.clone();
    let (err, text) = s.tool_with(
        "sync_app",
        json!({"app": app}),
        &mut move |_| json!({"action": "accept", "content": {"confirm": name}}),
    );
    assert!(!err, "{text}");
    assert!(text.contains("sync started"), "{text}");
    // The action is journaled, by the MCP client, as an action on the app.
    let recs = journal(&data);
    assert!(
        recs.iter().any(|r| r.kind == "action"
            && r.body["app"] == app.as_str()
            && r.body["operator"]
                .as_str()
                .is_some_and(|o| o.starts_with("mcp:scripted"))),
        "{:?}",
        recs.iter()
            .map(|r| (&r.kind, &r.body["operator"]))
            .collect::<Vec<_>>()
    );
    // A deferral needs a reason; an annotation a valid incident.
    let (err, text) = s.tool_with(
        "defer_app",
        json!({"app": app, "reason": " ", "until": "2h"}),
        &mut |_| json!({}),
    );
    assert!(err && text.contains("reason"), "{text}");
    let (err, text) = s.tool_with(
        "annotate_app",
        json!({"app": app, "incident": "bad id!"}),
        &mut |_| json!({}),
    );
    assert!(err, "{text}");
    assert_eq!(s.close(), Some(0), "stdin closed: exit 0");

    // A client that cannot ask its user: refused, nothing done.
    let other = drifted["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .find(|a| *a != app)
        .unwrap();
    let mut s = Session::start(&config, &data, &[], false);
    let (err, text) = s.tool_with("sync_app", json!({"app": other}), &mut |_| {
        panic!("it must not ask")
    });
    assert!(err && text.contains("cannot ask its user"), "{text}");
    assert_eq!(
        s.tool("get_app", json!({"app": other}))["sync"]["status"],
        "OutOfSync"
    );
    drop(s);
    // Read-only: refused before anything is asked.
    let mut s = Session::start(&config, &data, &["--read-only"], true);
    let (err, text) = s.tool_with(
        "defer_app",
        json!({"app": other, "reason": "r", "until": "2h"}),
        &mut |_| panic!("it must not ask"),
    );
    assert!(err && text.contains("read-only"), "{text}");
    assert!(s.asked.is_empty());
}

fn node_client() -> Option<(PathBuf, PathBuf)> {
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/argocd-mcp/node_modules");
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if node
        && modules
            .join("@modelcontextprotocol/sdk/package.json")
            .is_file()
    {
        return Some((
            modules,
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/mcp_client.mjs"),
        ));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but the MCP TypeScript SDK is not in target/argocd-mcp (.ci/run installs it)"
        );
    }
    eprintln!("skipped: the MCP TypeScript SDK is not installed (run .ci/run)");
    None
}

/// Runs the SDK client script; its JSON report.
fn run_node(script: &Path, modules: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    // Node resolves packages from the script's directories upwards and NODE_PATH only for
    // CommonJS; the script imports the SDK by absolute path from this variable.
    let mut c = Command::new("node");
    c.arg(script)
        .args(args)
        .env("MCP_SDK", modules.join("@modelcontextprotocol/sdk"));
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(out.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdk_client_over_stdio_and_over_http_under_serve() {
    let Some((modules, script)) = node_client() else {
        return;
    };
    let fleet = common::demo_with(30, 3, 1, |o| o.now = None).await;
    let dir = tempfile::tempdir().unwrap();
    let config = fleet.write_config(dir.path()).unwrap();
    let data = dir.path().join("data");
    let bin = env!("CARGO_BIN_EXE_driftdeck");
    let r = run_node(
        &script,
        &modules,
        &["stdio", bin],
        &[
            ("DRIFTDECK_CONFIG", config.to_str().unwrap()),
            ("DRIFTDECK_DATA_DIR", data.to_str().unwrap()),
            ("DRIFTDECK_LOG_DIR", data.to_str().unwrap()),
        ],
    );
    assert_eq!(r["server"], "driftdeck");
    assert_eq!(r["apps"], 30);
    assert!(r["tools"].as_array().unwrap().len() >= 9);
    assert_eq!(r["decision_mode"], "shadow");
    assert!(r["explained"].as_str().unwrap().contains("Decision #"));
    // The SDK answered the elicitation with the app's name: the sync started.
    assert!(r["sync"].as_str().unwrap().contains("sync started"), "{r}");
    assert_eq!(r["asked"], 1);

    // Under serve, /mcp serves the daemon's fleet to a client with the token, and no other.
    let config = crate::serve::serve_config(&fleet, dir.path(), crate::serve::FAST_LEASE);
    let mut serve = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DRIFTDECK_CONFIG", &config)
        .env("DRIFTDECK_DATA_DIR", dir.path().join("serve"))
        .env("DRIFTDECK_LOG_DIR", dir.path().join("serve"))
        .env("DRIFTDECK_API_TOKEN", "s3cret-token")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split(" on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let url = format!("http://{addr}/mcp");
    for _ in 0..100 {
        if reqwest::get(format!("http://{addr}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = run_node(
        &script,
        &modules,
        &["http", &url],
        &[("MCP_TOKEN", "s3cret-token")],
    );
    assert_eq!(r["server"], "driftdeck");
    assert_eq!(r["apps"], 30);
    let denied = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let _ = serve.kill();
    let _ = serve.wait();
}
