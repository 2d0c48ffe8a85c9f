//! `driftdeck snapshot`: the fleet as JSON, or the rendered TUI frame as text or ANSI after
//! replaying `--keys`, through the same `update` and `draw` as the TUI.

use serde::Serialize;

use crate::config::Config;
use crate::model::filter::Filter;
use crate::model::fleet::Counts;
use crate::tui::app::{now_ms, render};
use crate::tui::color::Depth;
use crate::tui::keymap::{Key, Keymap};
use crate::tui::model::{ConnState, Model, ViewRow};
use crate::tui::msg::Msg;
use crate::tui::runtime::{Headless, Instances};
use crate::tui::theme::Theme;
use crate::tui::update::{init, update};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Json,
    Text,
    Ansi,
    /// The rendered frame as an SVG image.
    Svg,
}

pub struct SnapshotOptions {
    pub output: Output,
    pub size: (u16, u16),
    pub keys: Vec<Key>,
    pub filter: Option<String>,
    pub theme: Theme,
    pub keymap: Keymap,
    pub depth: Depth,
    pub ascii: bool,
    /// Render as `--low-bandwidth` does (times to the minute, no change highlight).
    pub low_bandwidth: bool,
    pub title: String,
    /// A fixed clock (ms) instead of the wall clock, for reproducible output.
    pub now_ms: Option<i64>,
    /// Where decisions made while the keys run are journaled. A snapshot decides in the mode
    /// the TUI would run in (so it shows that mode) but never acts.
    pub data_dir: Option<std::path::PathBuf>,
    /// Resize the screen to this size after the keys, as a terminal window does, and render at
    /// the new size.
    pub resize: Option<(u16, u16)>,
    /// Exit 4 when an app (of those shown) is OutOfSync for longer than its SLA.
    pub fail_on_sla: bool,
}

#[derive(Serialize)]
struct JsonInstance {
    name: String,
    url: String,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    apps: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct JsonApp<'a> {
    instance: &'a str,
    name: &'a str,
    project: &'a str,
    cluster: &'a str,
    namespace: &'a str,
    sync: &'static str,
    health: &'static str,
    operation: Option<&'static str>,
    auto_sync: bool,
    self_heal: bool,
    drift: u32,
    env: &'a str,
    last_sync: Option<String>,
    app_namespace: &'a str,
    /// The revision the app is synced to.
    revision: &'a str,
    images: &'a [String],
    /// When the app became OutOfSync (RFC 3339), or null.
    out_of_sync_since: Option<String>,
    /// The ApplicationSet that generated the app, or null.
    appset: Option<&'a str>,
    /// OutOfSync for longer than its project's SLA (false without an SLA).
    sla_breached: bool,
}

#[derive(Serialize)]
struct JsonSummary {
    #[serde(flatten)]
    counts: Counts,
    /// Apps OutOfSync for longer than their SLA.
    sla_breaches: usize,
}

#[derive(Serialize)]
struct JsonSnapshot<'a> {
    instances: Vec<JsonInstance>,
    apps: Vec<JsonApp<'a>>,
    summary: JsonSummary,
}

/// The result: what to print on stdout and the exit code (0, or 3 when an instance could not be
/// reached).
pub struct Snapshot {
    pub stdout: String,
    pub exit: u8,
    /// The apps shown that are OutOfSync for longer than their SLA.
    pub breaches: Vec<String>,
}

async fn settle(
    m: &mut Model,
    km: &Keymap,
    rt: &mut Headless,
    fx: Vec<crate::tui::effect::Effect>,
) {
    let mut fx = fx;
    // Effects can lead to more effects (a loaded app refetching); bounded to stay finite.
    for _ in 0..8 {
        if fx
            .iter()
            .all(|e| matches!(e, crate::tui::effect::Effect::Cancel(_)))
        {
            break;
        }
        let msgs = rt.run(fx).await;
        fx = Vec::new();
        for msg in msgs {
            fx.extend(update(m, km, msg));
        }
    }
}

/// Extra attempts of each read in a snapshot (the TUI's client makes 3).
pub const SNAPSHOT_RETRIES: u32 = 5;

pub async fn snapshot(cfg: &Config, o: SnapshotOptions) -> Result<Snapshot, String> {
    let filter = match &o.filter {
        Some(f) => Some(Filter::parse(f).map_err(|e| format!("--filter: {e}"))?),
        None => None,
    };
    // A script would rather wait a few seconds more than get part of the fleet: more retries
    // of each read than the TUI, whose watcher reconnects by itself.
    let inst = Instances::with_options(
        cfg,
        crate::clients::argocd::ClientOptions {
            retries: SNAPSHOT_RETRIES,
            ..Default::default()
        },
    );
    let mut m = Model::new(inst.views.clone(), o.size, o.now_ms.unwrap_or_else(now_ms));
    m.fleet.sla = crate::config::fleet::Sla::from_config(cfg.fleet.as_ref());
    m.families = crate::model::versions::Families::from_config(
        cfg.fleet.as_ref().and_then(|f| f.families.as_ref()),
    );
    m.symbols.ascii = o.ascii;
    m.low_bandwidth = o.low_bandwidth;
    m.title = o.title.clone();
    let kit = match &o.data_dir {
        Some(dir) => {
            crate::tui::decisions::DecideKit::from_config(cfg, dir.clone()).map(|mut k| {
                k.acts = false;
                k.now_ms = o.now_ms;
                std::sync::Arc::new(k)
            })
        }
        None => Err("this snapshot has no data directory to journal decisions in".to_string()),
    };
    m.decide = kit.as_ref().map(|k| k.mode).map_err(Clone::clone);
    let mut rt = Headless {
        inst,
        kube: std::sync::Arc::new(crate::clients::kube::Clusters::load(cfg.kube.as_ref())),
        decide: kit.ok(),
    };
    let fx = init(&mut m);
    settle(&mut m, &o.keymap, &mut rt, fx).await;
    if let Some(f) = filter {
        m.view.filter = f;
        m.recompute_view();
    }
    for k in &o.keys {
        let fx = update(&mut m, &o.keymap, Msg::Key(*k));
        settle(&mut m, &o.keymap, &mut rt, fx).await;
    }
    let size = match o.resize {
        Some((w, h)) => {
            let fx = update(&mut m, &o.keymap, Msg::Resize(w, h));
            settle(&mut m, &o.keymap, &mut rt, fx).await;
            (w, h)
        }
        None => o.size,
    };
    let unreachable = m.instances.iter().any(|i| !i.listed);
    let stdout = match o.output {
        Output::Json => json(&m)?,
        Output::Text | Output::Ansi | Output::Svg => {
            let mut buf =
                ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, size.0, size.1));
            render(&mut buf, &m, &o.theme, &o.keymap);
            if o.output == Output::Text {
                crate::tui::ui::buffer_text(&buf)
            } else if o.output == Output::Svg {
                crate::headless::svg::svg(&buf)
            } else {
                crate::tui::runtime::screen::ansi_lines(&buf, o.depth)
            }
        }
    };
    let now = m.now_ms.div_euclid(1000);
    let breaches = shown(&m)
        .iter()
        .filter(|r| r.sla_breached(now))
        .map(|r| r.key.name.clone())
        .collect::<Vec<_>>();
    Ok(Snapshot {
        stdout,
        exit: if o.fail_on_sla && !breaches.is_empty() {
            4
        } else if unreachable {
            3
        } else {
            0
        },
        breaches,
    })
}

/// The apps shown (the filtered view).
fn shown(m: &Model) -> Vec<&crate::model::fleet::AppRow> {
    m.view
        .rows
        .iter()
        .filter_map(|r| match r {
            ViewRow::App(i) => Some(&m.fleet.rows[*i]),
            _ => None,
        })
        .collect()
}

fn json(m: &Model) -> Result<String, String> {
    let now = m.now_ms.div_euclid(1000);
    let mut per = vec![0usize; m.instances.len()];
    for r in &m.fleet.rows {
        per[r.key.instance as usize] += 1;
    }
    let instances = m
        .instances
        .iter()
        .enumerate()
        .map(|(i, inst)| JsonInstance {
            name: inst.name.clone(),
            url: inst.url.clone(),
            state: match (&inst.state, inst.listed) {
                (_, true) => "connected",
                (ConnState::Failed(_), _) => "failed",
                _ => "unreachable",
            },
            version: inst.version.clone(),
            apps: per[i],
            error: inst.state.error().map(|e| e.to_string()),
        })
        .collect();
    let rows = shown(m);
    let apps = rows
        .iter()
        .map(|r| JsonApp {
            instance: m.instance_name(r.key.instance),
            name: &r.key.name,
            project: &r.project,
            cluster: &r.cluster,
            namespace: &r.dest_namespace,
            sync: r.sync.as_str(),
            health: r.health.as_str(),
            operation: r.operation.map(|o| o.as_str()),
            auto_sync: r.auto_sync,
            self_heal: r.self_heal,
            drift: r.drift,
            env: &r.env,
            last_sync: r.last_sync.map(crate::demo::generator::ts),
            app_namespace: &r.key.namespace,
            revision: &r.revision,
            images: &r.images,
            out_of_sync_since: r
                .out_of_sync_for(now)
                .and(r.out_of_sync_since)
                .map(crate::demo::generator::ts),
            appset: (!r.appset.is_empty()).then_some(r.appset.as_str()),
            sla_breached: r.sla_breached(now),
        })
        .collect();
    let snap = JsonSnapshot {
        instances,
        apps,
        summary: JsonSummary {
            counts: Counts::of(rows.iter().copied()),
            sla_breaches: rows.iter().filter(|r| r.sla_breached(now)).count(),
        },
    };
    Ok(crate::term::json(&snap, true) + "\n")
}

/// Parses `--keys "j j enter"`.
pub fn parse_keys(s: &str) -> Result<Vec<Key>, String> {
    s.split_whitespace()
        .map(|k| Key::parse(k).map_err(|e| format!("--keys: {e}")))
        .collect()
}

/// Parses `--size 120x40`.
pub fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("--size `{s}` is not WIDTHxHEIGHT, e.g. 120x40"))?;
    let w: u16 = w
        .trim()
        .parse()
        .map_err(|_| format!("--size: bad width `{w}`"))?;
    let h: u16 = h
        .trim()
        .parse()
        .map_err(|_| format!("--size: bad height `{h}`"))?;
    if !(10..=1000).contains(&w) || !(3..=500).contains(&h) {
        return Err(format!("--size {w}x{h} is out of range (10x3 to 1000x500)"));
    }
    Ok((w, h))
}
