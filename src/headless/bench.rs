//! `driftdeck bench fleet`: the figures of docs/performance.md, measured through the same code
//! the TUI runs (clients over real HTTP, `update`, `draw`, the screen writer), never as timed
//! assertions in tests.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::clients::argocd::watch::{FleetUpdate, WatchOptions, watch_fleet};
use crate::clients::argocd::{AppQuery, ArgoClient, LIST_FIELDS};
use crate::config::Config;
use crate::demo::{DemoFleet, DemoOptions, FleetSpec};
use crate::tui::app::{now_ms, render};
use crate::tui::color::Depth;
use crate::tui::keymap::{Key, Keymap};
use crate::tui::model::Model;
use crate::tui::msg::Msg;
use crate::tui::runtime::screen::ScreenWriter;
use crate::tui::runtime::{Instances, list_once};
use crate::tui::theme::Theme;
use crate::tui::update::{init, update};

/// Resident set size of this process, from /proc (Linux).
pub fn rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

struct Frame {
    buf: Buffer,
    screen: ScreenWriter,
    theme: Theme,
    km: Keymap,
}

impl Frame {
    fn draw(&mut self, m: &Model) -> usize {
        render(&mut self.buf, m, &self.theme, &self.km);
        let mut sink = Vec::new();
        self.screen
            .present(&self.buf, crate::tui::app::cursor_position(m), &mut sink)
            .unwrap_or(0)
    }
}

/// Starts `driftdeck demo --serve` as a child process (so the measured process holds only the
/// client side) and returns it with the config it wrote.
#[derive(Debug, Clone, Copy)]
enum Down {
    /// The port is closed: connections are refused at once.
    Refused,
    /// Connections are accepted and never answered (a dead host behind a load balancer).
    Blackholed,
}

/// The first frame with the first instance unreachable: when the other instances' apps are
/// all on screen, and (refused) when the dead one shows as down.
async fn first_frame_with_one_down(cfg: &Config, how: Down) -> Result<String, String> {
    let mut cfg = cfg.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let hold = match how {
        Down::Refused => {
            drop(listener);
            None
        }
        Down::Blackholed => Some(tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        })),
    };
    let dead = cfg.instances[0].name.clone();
    cfg.instances[0].url = format!("http://{addr}");
    let n = cfg.instances.len();
    let t0 = Instant::now();
    let inst = Instances::from_config(&cfg);
    let mut m = Model::new(inst.views.clone(), (120, 40), now_ms());
    let km = Keymap::default();
    let (tx, mut rx) = mpsc::channel::<(u16, Msg)>(16);
    for id in 0..n as u16 {
        let c = inst.client(id).cloned().ok_or("no client")?;
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx
                .send((id, list_once(&c, id, &AppQuery::default()).await))
                .await;
        });
    }
    drop(tx);
    let mut frame = Frame {
        buf: Buffer::empty(Rect::new(0, 0, 120, 40)),
        screen: ScreenWriter::new(Depth::TrueColor),
        theme: Theme::default(),
        km: Keymap::default(),
    };
    let mut others_at = None;
    let mut down_at = None;
    let mut listed = 0;
    let deadline = Duration::from_secs(match how {
        Down::Refused => 60,
        Down::Blackholed => 5,
    });
    while let Ok(Some((id, msg))) =
        tokio::time::timeout(deadline.saturating_sub(t0.elapsed()), rx.recv()).await
    {
        update(&mut m, &km, msg);
        if id == 0 {
            frame.draw(&m);
            down_at = Some(t0.elapsed());
        } else {
            listed += 1;
            if listed == n - 1 {
                frame.draw(&m);
                others_at = Some(t0.elapsed());
            }
        }
        if others_at.is_some() && (down_at.is_some() || matches!(how, Down::Blackholed)) {
            break;
        }
    }
    if let Some(h) = hold {
        h.abort();
    }
    let others = others_at.ok_or("the other instances were not listed")?;
    Ok(match (how, down_at) {
        (Down::Refused, Some(d)) => format!(
            "with {dead} refusing connections: the other {} apps on screen after {:.0} ms; {dead} shown down after {:.0} ms",
            m.fleet.len(),
            ms(others),
            ms(d)
        ),
        (_, _) => format!(
            "with {dead} not answering at all: the other {} apps on screen after {:.0} ms, {dead} still connecting (its requests time out after 30 s and are retried)",
            m.fleet.len(),
            ms(others)
        ),
    })
}

async fn serve_child(
    apps: usize,
    clusters: usize,
    instances: usize,
) -> Result<(ServeChild, Config), String> {
    serve_child_with(apps, clusters, instances, 0, &[]).await
}

/// The demo servers' process. Dropping it kills them (kill_on_drop) and removes the config
/// directory they wrote, which a killed process cannot clean up itself.
pub struct ServeChild {
    _child: tokio::process::Child,
    dir: Option<std::path::PathBuf>,
    /// The config file it wrote.
    pub config: std::path::PathBuf,
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        if let Some(d) = &self.dir
            && d.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("driftdeck-demo-"))
        {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The same, with every demo context source answering after `source_latency_ms`, and more
/// demo flags (`extra`, which may set `--drift-every` again).
pub(crate) async fn serve_child_with(
    apps: usize,
    clusters: usize,
    instances: usize,
    source_latency_ms: u64,
    extra: &[&str],
) -> Result<(ServeChild, Config), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // A still fleet unless `extra` says how often to drift (the flag is taken once).
    let still: &[&str] = if extra.contains(&"--drift-every") {
        &[]
    } else {
        &["--drift-every", "0"]
    };
    let mut child = tokio::process::Command::new(exe)
        .env(
            crate::demo::context::DELAY_ENV,
            source_latency_ms.to_string(),
        )
        .args([
            "demo",
            "--serve",
            "--apps",
            &apps.to_string(),
            "--clusters",
            &clusters.to_string(),
            "--instances",
            &instances.to_string(),
        ])
        .args(still)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the demo servers: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let path = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .map_err(|_| "the demo servers did not start within 60 s")?
        .map_err(|e| e.to_string())?
        .ok_or("the demo servers exited")?;
    let cfg = Config::load(std::path::Path::new(&path)).map_err(|e| format!("{e:?}"))?;
    let dir = std::path::Path::new(&path)
        .parent()
        .map(|p| p.to_path_buf());
    Ok((
        ServeChild {
            _child: child,
            dir,
            config: std::path::PathBuf::from(path),
        },
        cfg,
    ))
}

pub async fn fleet(
    apps: usize,
    clusters: usize,
    instances: usize,
    rate: u32,
    seconds: u64,
) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "driftdeck bench fleet: {apps} apps, {clusters} clusters, {instances} instances"
    );
    let rss0 = rss_mib().unwrap_or(0.0);

    // A. The demo servers in another process; this one is the client.
    let (child, cfg) = serve_child(apps, clusters, instances).await?;
    let t0 = Instant::now();
    let inst = Instances::from_config(&cfg);
    let mut m = Model::new(inst.views.clone(), (120, 40), now_ms());
    let fx = init(&mut m);
    let mut list_futs = Vec::new();
    for e in fx {
        if let crate::tui::effect::Effect::WatchInstance(id) = e {
            let c = inst.client(id).cloned().ok_or("no client")?;
            list_futs.push(tokio::spawn(async move {
                list_once(&c, id, &AppQuery::default()).await
            }));
        }
    }
    let km = Keymap::default();
    for f in list_futs {
        let msg = f.await.map_err(|e| e.to_string())?;
        update(&mut m, &km, msg);
    }
    let mut frame = Frame {
        buf: Buffer::empty(Rect::new(0, 0, 120, 40)),
        screen: ScreenWriter::new(Depth::TrueColor),
        theme: Theme::default(),
        km: Keymap::default(),
    };
    let first_bytes = frame.draw(&m);
    let first = t0.elapsed();
    if !m.complete || m.fleet.len() != apps {
        return Err(format!(
            "the first frame has {} of {apps} apps",
            m.fleet.len()
        ));
    }
    let _ = writeln!(
        out,
        "first complete frame: {:.0} ms ({} apps, {} bytes)",
        ms(first),
        m.fleet.len(),
        first_bytes
    );

    // Filter keystrokes: type a filter and erase it, one frame per key.
    let mut times = Vec::new();
    let keys: Vec<Key> = "/"
        .chars()
        .chain("payments prod".chars())
        .map(Key::ch)
        .chain(std::iter::repeat_n(
            Key::plain(crate::tui::keymap::KeyCode::Backspace),
            13,
        ))
        .collect();
    for k in keys {
        let t = Instant::now();
        update(&mut m, &km, Msg::Key(k));
        frame.draw(&m);
        times.push(ms(t.elapsed()));
    }
    update(
        &mut m,
        &km,
        Msg::Key(Key::plain(crate::tui::keymap::KeyCode::Esc)),
    );
    frame.draw(&m);
    let mut t2 = times.clone();
    let _ = writeln!(
        out,
        "filter keystroke (update + draw + write): median {:.2} ms, max {:.2} ms over {} keys",
        percentile(&mut t2, 0.5),
        percentile(&mut times, 1.0),
        times.len()
    );

    // Scrolling bytes: a one-row move inside the page, then a one-row scroll of the table.
    let page = crate::tui::ui::layout::fleet_page(&m);
    update(&mut m, &km, Msg::Key(Key::ch('j')));
    let move_bytes = frame.draw(&m);
    for _ in 0..page {
        update(&mut m, &km, Msg::Key(Key::ch('j')));
        frame.draw(&m);
    }
    let mut scroll = Vec::new();
    for _ in 0..20 {
        update(&mut m, &km, Msg::Key(Key::ch('j')));
        scroll.push(frame.draw(&m) as f64);
    }
    update(
        &mut m,
        &km,
        Msg::Key(Key::plain(crate::tui::keymap::KeyCode::PageDown)),
    );
    let page_bytes = frame.draw(&m);
    let mut s2 = scroll.clone();
    let _ = writeln!(
        out,
        "bytes written at 120x40 truecolor: one-row move {move_bytes}, one-row scroll median {:.0} max {:.0}, page down {page_bytes}",
        percentile(&mut s2, 0.5),
        percentile(&mut scroll, 1.0)
    );
    // The ApplicationSets (read after the first frame, as the TUI does), and the list views at
    // this size: a keystroke on :appsets and on :versions (whose rows are derived per frame).
    let t = Instant::now();
    let mut sets = 0;
    for id in 0..instances as u16 {
        let c = inst.client(id).cloned().ok_or("no client")?;
        let result = c.appsets().await.map_err(|e| e.to_string());
        sets += result.as_ref().map(Vec::len).unwrap_or(0);
        update(
            &mut m,
            &km,
            Msg::AppSetsLoaded {
                instance: id,
                result,
            },
        );
    }
    frame.draw(&m);
    let appsets_read = t.elapsed();
    let in_sets = m.fleet.rows.iter().filter(|r| !r.appset.is_empty()).count();
    let _ = writeln!(
        out,
        "ApplicationSets read and applied: {sets} sets generating {in_sets} apps, {:.0} ms",
        ms(appsets_read)
    );
    for (cmd, name) in [
        (
            crate::tui::update::open_appsets as fn(&mut Model) -> Vec<crate::tui::effect::Effect>,
            ":appsets",
        ),
        (crate::tui::update::open_versions, ":versions"),
    ] {
        let t = Instant::now();
        cmd(&mut m);
        frame.draw(&m);
        let open = t.elapsed();
        let mut times = Vec::new();
        for k in ['j', 'j', 'k', 'j', 'G', 'g', 'g', 'j', 'k', 'j'] {
            let t = Instant::now();
            update(&mut m, &km, Msg::Key(Key::ch(k)));
            frame.draw(&m);
            times.push(ms(t.elapsed()));
        }
        let mut t2 = times.clone();
        let _ = writeln!(
            out,
            "{name} view: open {:.1} ms; keystroke median {:.2} ms, max {:.2} ms",
            ms(open),
            percentile(&mut t2, 0.5),
            percentile(&mut times, 1.0)
        );
        update(
            &mut m,
            &km,
            Msg::Key(Key::plain(crate::tui::keymap::KeyCode::Esc)),
        );
    }
    let rss = rss_mib().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "resident memory of the client: {rss:.0} MiB (at start {rss0:.0} MiB)"
    );
    // The list calls alone (the obvious alternative's core), all instances at once.
    let clients: Vec<ArgoClient> = (0..instances as u16)
        .filter_map(|i| inst.client(i).cloned())
        .collect();
    let t = Instant::now();
    let mut futs = Vec::new();
    for c in &clients {
        let c = c.clone();
        futs.push(tokio::spawn(async move {
            c.list_apps(&AppQuery::default(), Some(LIST_FIELDS))
                .await
                .map(|l| l.items.len())
        }));
    }
    let mut n = 0;
    for f in futs {
        n += f
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    let _ = writeln!(
        out,
        "list calls alone (projected, {n} apps): {:.0} ms",
        ms(t.elapsed())
    );
    let t = Instant::now();
    let mut futs = Vec::new();
    for c in &clients {
        let c = c.clone();
        futs.push(tokio::spawn(async move {
            c.list_apps(&AppQuery::default(), None)
                .await
                .map(|l| l.items.len())
        }));
    }
    for f in futs {
        f.await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    let _ = writeln!(
        out,
        "list calls alone (full objects): {:.0} ms",
        ms(t.elapsed())
    );

    // A2. One instance down: the other instances' apps reach the screen as fast, whether the
    // dead one refuses connections or never answers.
    for how in [Down::Refused, Down::Blackholed] {
        let line = first_frame_with_one_down(&cfg, how).await?;
        let _ = writeln!(out, "{line}");
    }

    drop(child);

    // B. Stream absorption: changes injected into in-process demo servers at `rate`/s, carried
    // by the real watch streams and coalescing into the same update/draw loop.
    let fleet = DemoFleet::start(DemoOptions {
        spec: FleetSpec {
            apps,
            clusters,
            instances,
            seed: 1,
        },
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let cfg = fleet.config();
    let inst = Instances::from_config(&cfg);
    let mut m = Model::new(inst.views.clone(), (120, 40), now_ms());
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let mut watchers = Vec::new();
    for id in 0..instances as u16 {
        let c = inst.client(id).cloned().ok_or("no client")?;
        let tx = tx.clone();
        watchers.push(tokio::spawn(watch_fleet(
            c,
            id,
            AppQuery::default(),
            WatchOptions::default(),
            tx,
            move |u| Msg::Fleet(id, u),
        )));
    }
    // Wait until every instance is live.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut live = 0;
    while live < instances && Instant::now() < deadline {
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            if matches!(msg, Msg::Fleet(_, FleetUpdate::Live)) {
                live += 1;
            }
            update(&mut m, &km, msg);
        }
    }
    let injected: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::new()));
    let names: Vec<Vec<String>> = (0..instances)
        .map(|i| fleet.instance(i).read().apps.keys().cloned().collect())
        .collect();
    let insts: Vec<_> = (0..instances).map(|i| fleet.instance(i).clone()).collect();
    let inj = injected.clone();
    let total = rate as u64 * seconds;
    let injector = tokio::spawn(async move {
        let start = Instant::now();
        for seq in 0..total {
            let due = start + Duration::from_secs_f64(seq as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
            let i = (seq as usize) % insts.len();
            let list = &names[i];
            let name = &list[(seq as usize / insts.len()) % list.len()];
            inj.lock().map(|mut v| v.push(Instant::now())).ok();
            insts[i].modify(name, |a| {
                a.app.status.sync.revision = format!("bench-{seq}")
            });
        }
    });
    let start = Instant::now();
    let mut busy = Duration::ZERO;
    let mut lags = Vec::new();
    let mut received = 0u64;
    let mut frames = 0u64;
    let mut last_draw = Instant::now();
    let mut frame = Frame {
        buf: Buffer::empty(Rect::new(0, 0, 120, 40)),
        screen: ScreenWriter::new(Depth::TrueColor),
        theme: Theme::default(),
        km: Keymap::default(),
    };
    let end = start + Duration::from_secs(seconds) + Duration::from_secs(2);
    while Instant::now() < end {
        let first = match tokio::time::timeout(Duration::from_millis(16), rx.recv()).await {
            Ok(Some(m)) => vec![m],
            _ => vec![],
        };
        let t = Instant::now();
        let mut msgs = first;
        while let Ok(x) = rx.try_recv() {
            msgs.push(x);
        }
        for msg in msgs {
            if let Msg::Fleet(_, FleetUpdate::Changed { upserts, .. }) = &msg {
                let inj = injected.lock().map(|v| v.clone()).unwrap_or_default();
                for r in upserts {
                    if let Some(seq) = r
                        .revision
                        .strip_prefix("bench-")
                        .and_then(|s| s.parse::<usize>().ok())
                    {
                        if let Some(t0) = inj.get(seq) {
                            lags.push(ms(t.duration_since(*t0)));
                        }
                        received += 1;
                    }
                }
            }
            update(&mut m, &km, msg);
        }
        if m.dirty && last_draw.elapsed() >= crate::tui::app::FRAME {
            frame.draw(&m);
            m.dirty = false;
            frames += 1;
            last_draw = Instant::now();
        }
        busy += t.elapsed();
    }
    injector.await.map_err(|e| e.to_string())?;
    for w in watchers {
        w.abort();
    }
    let wall = start.elapsed();
    let mut l2 = lags.clone();
    let _ = writeln!(
        out,
        "stream: {total} changes injected at {rate}/s; {received} app updates reached the model (bursts on one app coalesce); lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {frames} frames; loop busy {:.1}% of wall time",
        percentile(&mut l2, 0.5),
        percentile(&mut lags.clone(), 0.99),
        percentile(&mut lags, 1.0),
        100.0 * busy.as_secs_f64() / wall.as_secs_f64()
    );
    Ok(out)
}

/// A Deployment-like manifest of about `lines` lines of YAML: containers with env, ports and
/// probes. `drift` changes a few fields the way hand edits do.
pub fn big_manifest(lines: usize, drift: bool) -> serde_json::Value {
    use serde_json::json;
    let per_container = 40;
    let n = (lines / per_container).max(1);
    let containers: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let env: Vec<serde_json::Value> = (0..12)
                .map(|j| json!({"name": format!("VAR_{i}_{j}"), "value": if drift && i == n / 2 && j == 3 { "hand-edited".to_string() } else { format!("value-{i}-{j}") }}))
                .collect();
            json!({
                "name": format!("c{i}"),
                "image": if drift && i == n / 3 { format!("registry.acme.dev/app:{i}-hotfix") } else { format!("registry.acme.dev/app:{i}") },
                "ports": [{"containerPort": 8000 + i, "protocol": "TCP"}],
                "env": env,
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8000 + i}},
            })
        })
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "big", "namespace": "bench", "labels": {"app": "big"}},
        "spec": {
            "replicas": if drift { 12 } else { 4 },
            "selector": {"matchLabels": {"app": "big"}},
            "template": {"metadata": {"labels": {"app": "big"}}, "spec": {"containers": containers}}
        }
    })
}

/// `driftdeck bench diff`.
pub fn diff(lines: usize, runs: usize) -> Result<String, String> {
    use crate::diff::{Normalizer, diff as compute, highlight};
    use crate::tui::diffview::{DiffDoc, DiffScreen};
    let desired = big_manifest(lines, false);
    let mut live = big_manifest(lines, true);
    live["metadata"]["annotations"] = serde_json::json!({
        "kubectl.kubernetes.io/last-applied-configuration": serde_json::to_string(&desired).map_err(|e| e.to_string())?
    });
    let norm = Normalizer::default();
    let mut out = String::new();
    let probe =
        DiffDoc::new(compute(Some(&desired), Some(&live), &norm).map_err(|e| e.to_string())?);
    let _ = writeln!(
        out,
        "driftdeck bench diff: two manifests of {} and {} YAML lines, {} hunks",
        probe.old.len(),
        probe.new.len(),
        probe.hunks.len()
    );
    highlight::yaml("warm: up\n");
    let (mut t_diff, mut t_doc, mut t_hl, mut t_total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let t0 = Instant::now();
        let d = compute(Some(&desired), Some(&live), &norm).map_err(|e| e.to_string())?;
        let t1 = Instant::now();
        let doc = DiffDoc::new(d);
        let t2 = Instant::now();
        let toks: Vec<_> = crate::tui::diffview::hunk_jobs(std::slice::from_ref(&doc))
            .iter()
            .map(|j| j.run())
            .collect();
        let t3 = Instant::now();
        std::hint::black_box(toks);
        t_diff.push(ms(t1 - t0));
        t_doc.push(ms(t2 - t1));
        t_hl.push(ms(t3 - t2));
        t_total.push(ms(t3 - t0));
    }
    let _ = writeln!(
        out,
        "normalize + three-way diff: median {:.1} ms; YAML + hunks + word changes: {:.1} ms; highlighting what the diff shows: {:.1} ms; total {:.1} ms (median of {runs})",
        percentile(&mut t_diff, 0.5),
        percentile(&mut t_doc, 0.5),
        percentile(&mut t_hl, 0.5),
        percentile(&mut t_total, 0.5)
    );
    let t = Instant::now();
    let full = (
        highlight::yaml(&probe.old.join("\n")),
        highlight::yaml(&probe.new.join("\n")),
    );
    let _ = writeln!(
        out,
        "for comparison, highlighting both whole manifests: {:.0} ms (why driftdeck highlights only the shown regions, off the event loop)",
        ms(t.elapsed())
    );
    std::hint::black_box(full);
    // Scrolling the highlighted diff with every context fold open (the longest screen).
    let mut doc = probe;
    doc.old_toks = highlight::yaml(&doc.old.join("\n"))
        .into_iter()
        .map(Some)
        .collect();
    doc.new_toks = highlight::yaml(&doc.new.join("\n"))
        .into_iter()
        .map(Some)
        .collect();
    let mut m = Model::new(vec![], (120, 40), now_ms());
    let key = crate::model::fleet::AppKey {
        instance: 0,
        namespace: String::new(),
        name: "big".into(),
    };
    let mut s = DiffScreen::new(key, 1);
    s.docs = crate::tui::model::Load::Ready(vec![doc]);
    for gap in 0..10 {
        s.expanded.insert((0, gap));
    }
    let rows = s.rows().len();
    m.screen = crate::tui::model::Screen::Diff(Box::new(s), None);
    let mut frame = Frame {
        buf: Buffer::empty(Rect::new(0, 0, 120, 40)),
        screen: ScreenWriter::new(Depth::TrueColor),
        theme: Theme::default(),
        km: Keymap::default(),
    };
    frame.draw(&m);
    let mut times = Vec::new();
    let mut bytes = Vec::new();
    for _ in 0..200.min(rows) {
        let t = Instant::now();
        update(&mut m, &frame.km.clone(), Msg::Key(Key::ch('j')));
        let n = frame.draw(&m);
        times.push(ms(t.elapsed()));
        bytes.push(n as f64);
    }
    let _ = writeln!(
        out,
        "scrolling the highlighted diff ({rows} rows, 120x40): frame median {:.2} ms, max {:.2} ms; {:.0} bytes per one-row scroll (median)",
        percentile(&mut times.clone(), 0.5),
        percentile(&mut times, 1.0),
        percentile(&mut bytes, 0.5)
    );
    // The same YAML through `diff -u`, when it is installed.
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (pa, pb) = (
        dir.path().join("live.yaml"),
        dir.path().join("desired.yaml"),
    );
    let d = compute(Some(&desired), Some(&live), &norm).map_err(|e| e.to_string())?;
    let (ya, yb) = d.yaml();
    std::fs::write(&pa, ya).map_err(|e| e.to_string())?;
    std::fs::write(&pb, yb).map_err(|e| e.to_string())?;
    let mut du = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        match std::process::Command::new("diff")
            .arg("-u")
            .arg(&pa)
            .arg(&pb)
            .output()
        {
            Ok(_) => du.push(ms(t.elapsed())),
            Err(_) => break,
        }
    }
    if du.is_empty() {
        let _ = writeln!(out, "diff -u: not installed, no comparison");
    } else {
        let diff_u = percentile(&mut du, 0.5);
        let mine = percentile(&mut t_total, 0.5);
        let _ = writeln!(
            out,
            "diff -u on the same YAML (process included): median {diff_u:.1} ms; driftdeck's whole pipeline takes {:.1}x that, and does normalization, the three-way prediction, word changes and highlighting on top",
            mine / diff_u
        );
    }
    Ok(out)
}

/// `driftdeck bench decide`: policy decisions per second on one core, and full live decisions
/// (fetch the app, its managed resources and project, gather Prometheus, Alertmanager,
/// PagerDuty and events in parallel, decide) against the demo servers in another process.
pub async fn decide(seconds: f64, apps: usize, source_latency_ms: u64) -> Result<String, String> {
    use crate::decide::context::Sources;
    use crate::decide::decider::{Decider, Mode};
    use crate::decide::policy::Bundle;

    let mut out = String::new();
    let (child, cfg) = serve_child_with(apps, 4, 1, source_latency_ms, &[]).await?;
    let sources = Sources::from_config(cfg.context.as_ref())?;
    let client = ArgoClient::new(&cfg.instances[0]).map_err(|e| e.to_string())?;
    let decider = Decider::new(Bundle::builtin().map_err(|e| e.to_string())?);
    let list = client
        .list_apps(&AppQuery::default(), None)
        .await
        .map_err(|e| e.to_string())?;
    let drifted: Vec<String> = list
        .items
        .iter()
        .filter(|a| a.status.sync.status == "OutOfSync")
        .map(|a| a.metadata.name.clone())
        .collect();
    let _ = writeln!(
        out,
        "driftdeck bench decide: {} apps, {} drifted; context sources answer after {source_latency_ms} ms",
        list.items.len(),
        drifted.len()
    );

    // Full decisions, one after the other (each one's sources in parallel).
    let mut times = Vec::new();
    let mut scenarios = Vec::new();
    let mut verdicts = std::collections::BTreeMap::new();
    for name in &drifted {
        let t = Instant::now();
        let (sc, _report) =
            match crate::decide::live::fetch(&client, name, None, &sources, chrono::Utc::now())
                .await
            {
                Ok(x) => x,
                Err(e) if e.contains("no drifted resource") => continue,
                Err(e) => return Err(e),
            };
        let d = decider.decide(&sc, Mode::Shadow).await?;
        times.push(ms(t.elapsed()));
        *verdicts.entry(d.verdict.as_str()).or_insert(0usize) += 1;
        scenarios.push(sc);
    }
    drop(child);
    if scenarios.is_empty() {
        return Err("no drifted app to decide in the demo fleet".into());
    }
    let n = times.len();
    let _ = writeln!(
        out,
        "full decision with context: median {:.1} ms, p95 {:.1} ms, max {:.1} ms over {n} apps ({verdicts:?})",
        percentile(&mut times.clone(), 0.5),
        percentile(&mut times.clone(), 0.95),
        percentile(&mut times, 1.0),
    );

    // Policy throughput on one core: the inputs of those decisions, evaluated in a loop.
    let inputs: Vec<serde_json::Value> = scenarios
        .iter()
        .filter_map(|sc| decider.facts(sc).ok())
        .map(|f| f.input_json())
        .collect();
    let bundle = decider.bundle.clone();
    let secs = seconds;
    let policy_rate = std::thread::spawn(move || -> Result<(f64, usize), String> {
        let mut ev = bundle.evaluator();
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed().as_secs_f64() < secs {
            for i in &inputs {
                ev.evaluate(i).map_err(|e| e.to_string())?;
                n += 1;
            }
        }
        Ok((n as f64 / start.elapsed().as_secs_f64(), n))
    })
    .join()
    .map_err(|_| "the policy thread panicked")??;
    let _ = writeln!(
        out,
        "policy decisions on one core: {:.0}/s ({} evaluations of {} distinct inputs)",
        policy_rate.0,
        policy_rate.1,
        scenarios.len()
    );

    // The same inputs and bundle in real OPA, if its library is here.
    let inputs: Vec<serde_json::Value> = scenarios
        .iter()
        .filter_map(|sc| decider.facts(sc).ok())
        .map(|f| f.input_json())
        .collect();
    match opa_rate(&decider.bundle, &inputs, seconds) {
        Ok(Some((rate, bridge, n, version))) => {
            // The bridge's own cost per call (the input's JSON through Python and cgo), taken
            // out to estimate OPA's evaluation alone.
            let net = 1.0 / (1.0 / rate - 1.0 / bridge).max(1e-9);
            let _ = writeln!(
                out,
                "OPA {version} (its Go library through Python bindings, GOMAXPROCS=1, one core), same inputs and bundle: {rate:.0}/s ({n} evaluations); the bridge alone {bridge:.0}/s, so OPA's evaluation alone about {net:.0}/s",
            );
            let _ = writeln!(
                out,
                "regorus VM / OPA: {:.1}x as measured, {:.1}x against OPA's evaluation alone",
                policy_rate.0 / rate,
                policy_rate.0 / net
            );
        }
        Ok(None) => {
            let _ = writeln!(
                out,
                "OPA: not measured (set DRIFTDECK_OPA_BINDINGS to the unpacked opa-golib-python-bindings wheel; .ci/run puts it in target/opa-wheel)"
            );
        }
        Err(e) => return Err(format!("OPA: {e}")),
    }

    // The whole local pipeline (facts, policy, heuristic, guardrails) on one core.
    let local_rate = {
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed().as_secs_f64() < seconds {
            for sc in &scenarios {
                decider.decide(sc, Mode::Shadow).await?;
                n += 1;
            }
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    let _ = writeln!(
        out,
        "local decisions (facts + policy + heuristic + guardrails) on one core: {local_rate:.0}/s"
    );
    Ok(out)
}

/// Evaluates the bundle's decision for every input in real OPA (the Go library of the
/// `opa-golib-python-bindings` wheel) for `seconds`, on one core: (evaluations/s, count, OPA's
/// version), or `None` when the bindings are not here.
#[allow(clippy::type_complexity)]
fn opa_rate(
    bundle: &crate::decide::policy::Bundle,
    inputs: &[serde_json::Value],
    seconds: f64,
) -> Result<Option<(f64, f64, usize, String)>, String> {
    use std::io::Write;
    let dir = std::env::var_os("DRIFTDECK_OPA_BINDINGS")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::current_dir()
                .ok()
                .map(|d| d.join("target/opa-wheel"))
        })
        .filter(|d| d.join("opa_bindings").is_dir());
    let Some(dir) = dir else {
        return Ok(None);
    };
    let job = serde_json::json!({
        "policies": bundle.modules().iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "data": bundle.data,
        "inputs": inputs,
        "entry": crate::decide::policy::ENTRYPOINT.trim_start_matches("data."),
        "seconds": seconds,
    });
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", OPA_BENCH])
        .env("PYTHONPATH", &dir)
        .env("GOMAXPROCS", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start python3: {e}"))?;
    // One core: the process is pinned to the CPU this thread runs on, where the OS allows.
    #[cfg(target_os = "linux")]
    {
        let _ = std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", "0"])
            .arg(child.id().to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(job.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("its report: {e}"))?;
    Ok(Some((
        v["rate"].as_f64().unwrap_or(0.0),
        v["bridge"].as_f64().unwrap_or(f64::INFINITY),
        v["n"].as_u64().unwrap_or(0) as usize,
        v["version"].as_str().unwrap_or("?").to_string(),
    )))
}

/// The OPA side of `bench decide`: checks OPA decides what regorus decides, then evaluates
/// the inputs in a loop.
const OPA_BENCH: &str = r#"
import json, sys, time
from opa_bindings import OpaEngine
job = json.load(sys.stdin)
e = OpaEngine()
for path, src in sorted(job["policies"].items()):
    e.add_policy(path, src)
e.add_data(job["data"])
import os, re, opa_bindings
lib = open(os.path.join(os.path.dirname(opa_bindings.__file__), "libopabridge.so"), "rb").read()
m = re.search(rb"open-policy-agent/opa@v([0-9.]+)", lib)
version = m.group(1).decode() if m else "?"
for i in job["inputs"][:1]:
    e.eval_document(job["entry"], i)
n = 0
start = time.perf_counter()
while time.perf_counter() - start < job["seconds"]:
    for i in job["inputs"]:
        e.eval_document(job["entry"], i)
        n += 1
el = time.perf_counter() - start
# What crossing the bridge costs: the same inputs, a constant rule.
e.add_policy("bridge.rego", "package driftdeck_bench\nk := 1\n")
b = 0
start = time.perf_counter()
while time.perf_counter() - start < job["seconds"]:
    for i in job["inputs"]:
        e.eval_document("driftdeck_bench.k", i)
        b += 1
bl = time.perf_counter() - start
json.dump({"rate": n / el, "n": n, "bridge": b / bl, "version": version}, sys.stdout)
"#;

/// One way of drawing for `bench keys`.
struct Variant {
    name: &'static str,
    depth: Depth,
    low_bandwidth: bool,
}

/// What one variant wrote.
struct KeyBytes {
    first: usize,
    move_one: usize,
    scroll_median: f64,
    scroll_max: f64,
    page_median: f64,
    page_max: f64,
    idle_minute: usize,
}

/// Drives `m` through the keystrokes of the measurement, writing each frame as the TUI would.
fn key_bytes(m: &Model, km: &Keymap, v: &Variant, size: (u16, u16)) -> KeyBytes {
    let mut m = m.clone();
    m.low_bandwidth = v.low_bandwidth;
    m.dirty = true;
    let mut frame = Frame {
        buf: Buffer::empty(Rect::new(0, 0, size.0, size.1)),
        screen: ScreenWriter::new(v.depth),
        // As the TUI draws at that depth (no colour: the mono theme's attributes).
        theme: Theme::default().for_depth(v.depth),
        km: km.clone(),
    };
    let key = |m: &mut Model, frame: &mut Frame, k: Key| -> usize {
        update(m, km, Msg::Key(k));
        frame.draw(m)
    };
    let first = frame.draw(&m);
    let move_one = key(&mut m, &mut frame, Key::ch('j'));
    let page = crate::tui::ui::layout::fleet_page(&m);
    for _ in 0..page {
        key(&mut m, &mut frame, Key::ch('j'));
    }
    let mut scroll = Vec::new();
    for _ in 0..20 {
        scroll.push(key(&mut m, &mut frame, Key::ch('j')) as f64);
    }
    let mut pages = Vec::new();
    for _ in 0..10 {
        pages.push(key(
            &mut m,
            &mut frame,
            Key::plain(crate::tui::keymap::KeyCode::PageDown),
        ) as f64);
    }
    // A minute with no input: one tick every 250 ms, a frame whenever the model says so.
    let mut idle_minute = 0;
    let t0 = m.now_ms.div_euclid(60_000) * 60_000 + 60_000;
    for i in 0..240 {
        update(&mut m, km, Msg::Tick(t0 + i * 250));
        if m.dirty {
            idle_minute += frame.draw(&m);
            m.dirty = false;
        }
    }
    let mut s2 = scroll.clone();
    let mut p2 = pages.clone();
    KeyBytes {
        first,
        move_one,
        scroll_median: percentile(&mut s2, 0.5),
        scroll_max: percentile(&mut scroll, 1.0),
        page_median: percentile(&mut p2, 0.5),
        page_max: percentile(&mut pages, 1.0),
        idle_minute,
    }
}

/// `driftdeck bench keys`: bytes written to the terminal per keystroke in the fleet view, at
/// each colour depth and in low-bandwidth mode, through the same `update`, `draw` and screen
/// writer as the TUI (the demo fleet in-process, the default theme and keymap).
pub async fn keys(apps: usize, size: (u16, u16)) -> Result<String, String> {
    let fleet = DemoFleet::start(DemoOptions {
        spec: FleetSpec {
            apps,
            clusters: 4,
            instances: 2,
            seed: 1,
        },
        drift_every: None,
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let cfg = fleet.config();
    let inst = Instances::from_config(&cfg);
    let mut m = Model::new(inst.views.clone(), size, now_ms());
    let km = Keymap::default();
    let fx = init(&mut m);
    for e in fx {
        if let crate::tui::effect::Effect::WatchInstance(id) = e {
            let c = inst.client(id).cloned().ok_or("no client")?;
            let msg = list_once(&c, id, &AppQuery::default()).await;
            update(&mut m, &km, msg);
        }
    }
    if m.fleet.len() != apps {
        return Err(format!("listed {} of {apps} apps", m.fleet.len()));
    }
    let variants = [
        ("truecolor", Depth::TrueColor, false),
        ("256 colours", Depth::Ansi256, false),
        ("16 colours", Depth::Ansi16, false),
        ("no colour (NO_COLOR)", Depth::None, false),
        ("--low-bandwidth, truecolor", Depth::TrueColor, true),
        ("--low-bandwidth, 256 colours", Depth::Ansi256, true),
        ("--low-bandwidth, 16 colours", Depth::Ansi16, true),
    ]
    .map(|(name, depth, low_bandwidth)| Variant {
        name,
        depth,
        low_bandwidth,
    });
    let mut out = String::new();
    let _ = writeln!(
        out,
        "driftdeck bench keys: bytes written per keystroke, fleet view, {}x{}, {apps} apps, default theme",
        size.0, size.1
    );
    let _ = writeln!(
        out,
        "{:<30} {:>8} {:>9} {:>15} {:>15} {:>12}",
        "", "first", "j (move)", "j (scroll) med/max", "pgdn med/max", "idle minute"
    );
    for v in &variants {
        let b = key_bytes(&m, &km, v, size);
        let _ = writeln!(
            out,
            "{:<30} {:>8} {:>9} {:>15} {:>15} {:>12}",
            v.name,
            b.first,
            b.move_one,
            format!("{:.0}/{:.0}", b.scroll_median, b.scroll_max),
            format!("{:.0}/{:.0}", b.page_median, b.page_max),
            b.idle_minute
        );
    }
    Ok(out)
}

/// `driftdeck bench faults`: what each demo fault profile costs a reader of the application list
/// (without retries, and with the client's default retries), and how long after a server comes
/// back from an outage the watcher has the fleet live again (with the default watch options).
pub async fn faults(
    reads: usize,
    apps: usize,
    outages: &[u64],
    repeats: usize,
) -> Result<String, String> {
    use crate::clients::argocd::ClientOptions;
    use crate::demo::faults::FaultProfile;
    use futures::StreamExt;
    use std::collections::BTreeMap;
    use std::sync::atomic::Ordering;
    const LANES: usize = 8;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Reads of the application list ({apps} apps), {reads} per profile, {LANES} at a time; default client options (30 s request timeout, 3 retries from 250 ms, doubling, with jitter; Retry-After honoured):\n"
    );
    let _ = writeln!(
        out,
        "| profile | ok without retries | their errors | ok with retries | their errors | requests per read | p50 | p95 | max | ok with the snapshot's {} retries |",
        crate::headless::snapshot::SNAPSHOT_RETRIES
    );
    let _ = writeln!(
        out,
        "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for profile in [
        FaultProfile::None,
        FaultProfile::Flaky,
        FaultProfile::Slow,
        FaultProfile::Hostile,
    ] {
        let fleet = DemoFleet::start(DemoOptions {
            spec: FleetSpec {
                apps,
                clusters: 4,
                instances: 1,
                seed: 1,
            },
            faults: profile,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let ic = fleet.config().instances[0].clone();
        let client = |retries| {
            ArgoClient::with_options(
                &ic,
                ClientOptions {
                    retries,
                    ..Default::default()
                },
            )
            .map_err(|e| e.to_string())
        };
        // Each read: its outcome and how long it took.
        let run = |c: ArgoClient| async move {
            futures::stream::iter(0..reads)
                .map(|_| {
                    let c = c.clone();
                    async move {
                        let t = Instant::now();
                        let r = c.list_apps(&AppQuery::default(), Some(LIST_FIELDS)).await;
                        let outcome = match r {
                            Ok(l) if l.items.len() == apps => "ok",
                            Ok(_) => "incomplete",
                            Err(e) => e.short(),
                        };
                        (outcome, t.elapsed())
                    }
                })
                .buffer_unordered(LANES)
                .collect::<Vec<_>>()
                .await
        };
        let once = run(client(0)?).await;
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for (k, _) in &once {
            *kinds.entry(k).or_default() += 1;
        }
        let ok_once = kinds.remove("ok").unwrap_or(0);
        let inst = fleet.instance(0);
        let before = inst.requests.load(Ordering::Relaxed);
        let patient = run(client(ClientOptions::default().retries)?).await;
        let requests = inst.requests.load(Ordering::Relaxed) - before;
        let ok = patient.iter().filter(|(k, _)| *k == "ok").count();
        let snapshot_like = run(client(crate::headless::snapshot::SNAPSHOT_RETRIES)?).await;
        let ok_snapshot = snapshot_like.iter().filter(|(k, _)| *k == "ok").count();
        let mut left: BTreeMap<&str, usize> = BTreeMap::new();
        for (k, _) in patient.iter().filter(|(k, _)| *k != "ok") {
            *left.entry(k).or_default() += 1;
        }
        let mut lat: Vec<f64> = patient.iter().map(|(_, d)| ms(*d)).collect();
        let list = |kinds: &BTreeMap<&str, usize>| {
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let (errors, left) = (list(&kinds), list(&left));
        let pct = |n: usize| 100.0 * n as f64 / reads.max(1) as f64;
        let _ = writeln!(
            out,
            "| {} | {:.1} % | {errors} | {:.1} % | {left} | {:.2} | {:.0} ms | {:.0} ms | {:.0} ms | {:.1} % |",
            profile.name(),
            pct(ok_once),
            pct(ok),
            requests as f64 / reads.max(1) as f64,
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.95),
            percentile(&mut lat, 1.0),
            pct(ok_snapshot),
        );
    }

    // Recovery: a watcher with the default options, the server stopped (listener closed, every
    // connection dropped) for each outage length, then started again on the same port.
    let mut fleet = DemoFleet::start(DemoOptions {
        spec: FleetSpec {
            apps,
            clusters: 4,
            instances: 1,
            seed: 1,
        },
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let c = ArgoClient::new(&fleet.config().instances[0]).map_err(|e| e.to_string())?;
    let opts = WatchOptions::default();
    let (tx, mut rx) = mpsc::channel::<FleetUpdate>(256);
    let watcher = tokio::spawn(watch_fleet(
        c.clone(),
        0,
        AppQuery::default(),
        opts,
        tx,
        |u| u,
    ));
    // Waits for Live; returns the Down updates seen on the way.
    async fn live(rx: &mut mpsc::Receiver<FleetUpdate>, limit: Duration) -> Result<usize, String> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut downs = 0;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(FleetUpdate::Live)) => return Ok(downs),
                Ok(Some(FleetUpdate::Down { .. })) => downs += 1,
                Ok(Some(_)) => {}
                Ok(None) => return Err("the watcher ended".into()),
                Err(_) => return Err(format!("not live within {} s", limit.as_secs())),
            }
        }
    }
    live(&mut rx, Duration::from_secs(30)).await?;
    let _ = writeln!(
        out,
        "\nRecovery after an outage: a watcher with the default options (reconnect backoff 0.5 s doubling to {} s, jitter ±20 %, reset after {} s up); the server stopped (connections dropped, port closed) and started again; the time from its restart to the fleet live again (listed and watching):\n",
        opts.backoff_max.as_secs(),
        opts.stable_after.as_secs()
    );
    let _ = writeln!(
        out,
        "| outage | reconnect attempts during it | recovery, each run | median |"
    );
    let _ = writeln!(out, "| ---: | ---: | --- | ---: |");
    // The longest outage once more, with the operator asking to reconnect (ctrl-r) as soon as
    // the server is back.
    let longest = outages.iter().max().copied();
    let runs = outages
        .iter()
        .map(|&s| (s, false))
        .chain(longest.map(|s| (s, true)));
    for (secs, asked) in runs {
        let mut times = Vec::new();
        let mut attempts = Vec::new();
        for _ in 0..repeats.max(1) {
            // Up long enough for the backoff to start again from its minimum.
            tokio::time::sleep(opts.stable_after + Duration::from_millis(500)).await;
            while rx.try_recv().is_ok() {}
            fleet.servers[0].stop();
            tokio::time::sleep(Duration::from_secs(secs)).await;
            fleet.servers[0]
                .restart()
                .await
                .map_err(|e| format!("cannot restart the demo server: {e}"))?;
            let back = Instant::now();
            if asked {
                c.reconnect_now();
            }
            let downs = live(&mut rx, opts.backoff_max * 2).await?;
            times.push(ms(back.elapsed()));
            attempts.push(downs);
        }
        let shown = times
            .iter()
            .map(|t| format!("{:.1} s", t / 1000.0))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sorted = times.clone();
        let label = if asked {
            format!("{secs} s, then `ctrl-r`")
        } else {
            format!("{secs} s")
        };
        let _ = writeln!(
            out,
            "| {label} | {} | {shown} | {:.1} s |",
            attempts
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            percentile(&mut sorted, 0.5) / 1000.0
        );
    }
    watcher.abort();
    Ok(out)
}

/// A log followed at `rate` lines a second for `seconds` (simulated time), with the search on
/// and the view paused and scrolled now and then: what one batch of lines costs, and what a
/// keystroke costs (update + draw + write) with the log at its cap.
pub fn logs(rate: u32, seconds: u64) -> Result<String, String> {
    use crate::tui::model::{LOG_CAP, LogScreen, Screen};
    let mut out = String::new();
    let km = Keymap::default();
    let mut m = Model::new(vec![], (120, 40), now_ms());
    let key = crate::model::fleet::AppKey {
        instance: 0,
        namespace: "argocd".into(),
        name: "payments".into(),
    };
    crate::tui::update::open_app(&mut m, key);
    let Screen::App(back) = std::mem::replace(&mut m.screen, Screen::Fleet) else {
        return Err("no app screen".into());
    };
    m.screen = Screen::Logs(Box::new(LogScreen::new(
        1,
        crate::tui::effect::ClusterTarget {
            cluster: "c".into(),
            server: "s".into(),
            namespace: "payments".into(),
            pods: vec![],
            resources: vec![],
        },
        "payments-7d4b9c-x2x9q".into(),
        vec!["payments".into()],
        false,
        back,
    )));
    let mut frame = Frame {
        buf: Buffer::empty(Rect::new(0, 0, 120, 40)),
        screen: ScreenWriter::new(Depth::TrueColor),
        theme: Theme::default(),
        km: Keymap::default(),
    };
    let mut rng = crate::util::Rng::new(7);
    let paths = [
        "/api/v1/orders",
        "/api/v1/items",
        "/healthz",
        "/metrics",
        "/api/v1/payments",
    ];
    let mut n = 0u64;
    let mut line = || {
        n += 1;
        let code = if rng.below(50) == 0 { 503 } else { 200 };
        format!(
            "2026-12-04T05:{:02}:{:02}.{:03}Z {} GET {} {code} {}ms trace_id={:016x} user_agent=\"Mozilla/5.0 (X11; Linux x86_64)\"",
            (n / 60_000) % 60,
            (n / 1000) % 60,
            n % 1000,
            if code == 200 { "INFO" } else { "ERROR" },
            paths[rng.below(paths.len() as u64) as usize],
            rng.below(120),
            rng.next_u64()
        )
    };
    // Batches every 50 ms, as the runtime sends them; a key every 100 ms.
    let batch = (rate as usize / 20).max(1);
    let steps = seconds * 20;
    let keys: Vec<Key> = vec![
        Key::ch('k'),
        Key::ch('k'),
        Key::ch('n'),
        Key::ch('N'),
        Key::plain(crate::tui::keymap::KeyCode::PageUp),
        Key::ch(' '),
        Key::ch('j'),
        Key::ch(' '),
        Key::ch('G'),
        Key::ch('n'),
    ];
    let mut batch_ms = Vec::new();
    let mut key_ms = Vec::new();
    // The log at its cap first, with a search on: the costliest case.
    let fill: Vec<String> = (0..LOG_CAP).map(|_| line()).collect();
    update(
        &mut m,
        &km,
        Msg::LogLines {
            req: 1,
            lines: fill,
        },
    );
    crate::tui::update::perform(&mut m, crate::tui::action::Action::Filter);
    for c in "503".chars() {
        update(&mut m, &km, Msg::Key(Key::ch(c)));
    }
    update(
        &mut m,
        &km,
        Msg::Key(Key::plain(crate::tui::keymap::KeyCode::Enter)),
    );
    update(&mut m, &km, Msg::Key(Key::ch('G')));
    frame.draw(&m);
    for step in 0..steps {
        let lines: Vec<String> = (0..batch).map(|_| line()).collect();
        let t = Instant::now();
        update(&mut m, &km, Msg::LogLines { req: 1, lines });
        frame.draw(&m);
        batch_ms.push(ms(t.elapsed()));
        if step % 2 == 1 {
            let k = keys[(step as usize / 2) % keys.len()];
            let t = Instant::now();
            update(&mut m, &km, Msg::Key(k));
            frame.draw(&m);
            key_ms.push(ms(t.elapsed()));
        }
    }
    let (Screen::Logs(l), _) = (&m.screen, ()) else {
        return Err("the log screen closed".into());
    };
    let _ = writeln!(
        out,
        "driftdeck bench logs: {rate} lines/s for {seconds} s (batches of {batch} every 50 ms), the log at its cap of {LOG_CAP} lines, a search on ({} matching)",
        l.matches().len()
    );
    let mut b2 = batch_ms.clone();
    let _ = writeln!(
        out,
        "a batch of lines (update + draw + write): median {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} batches",
        percentile(&mut b2, 0.5),
        percentile(&mut b2, 0.99),
        percentile(&mut batch_ms, 1.0),
        batch_ms.len()
    );
    let mut k2 = key_ms.clone();
    let _ = writeln!(
        out,
        "a keystroke while following (update + draw + write): median {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} keys",
        percentile(&mut k2, 0.5),
        percentile(&mut k2, 0.99),
        percentile(&mut key_ms, 1.0),
        key_ms.len()
    );
    let _ = writeln!(
        out,
        "lines kept {} (dropped {}); resident memory {:.0} MiB",
        l.lines.len(),
        l.dropped,
        rss_mib().unwrap_or(0.0)
    );
    Ok(out)
}
