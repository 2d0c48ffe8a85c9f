//! The commands behind the CLI. Each returns the process exit code; diagnostics go to stderr as
//! sentences that say what to do next, results to stdout.

use crate::cli::{Cli, DefaultKind, DemoArgs, DiffOutput, HealthOutput, SnapshotOutput};
use crate::config::paths::Paths;
use crate::config::{Config, DEFAULT_CONFIG, FileError};
use crate::demo::{DemoFleet, DemoOptions, FleetSpec};
use crate::headless::snapshot::{self, Output, SnapshotOptions};
use crate::tui::app::TuiOptions;
use crate::tui::color::Depth;
use crate::tui::{keymap, load, theme};

fn flag_depth(cli: &Cli) -> Option<Depth> {
    Depth::parse(&cli.colors)
}

fn config_depth(cfg: Option<&Config>) -> Option<Depth> {
    use crate::config::ColorDepth as C;
    match cfg?.colors? {
        C::Auto => None,
        C::Truecolor => Some(Depth::TrueColor),
        C::C256 => Some(Depth::Ansi256),
        C::C16 => Some(Depth::Ansi16),
        C::None => Some(Depth::None),
    }
}

/// The TUI's colour depth: `NO_COLOR`, `--colors`, the config's `colors`, then detection.
fn depth(cli: &Cli, cfg: Option<&Config>) -> Depth {
    Depth::choose(flag_depth(cli), config_depth(cfg), |k| {
        std::env::var(k).ok()
    })
}

/// The depth of coloured output written for later (`--output ansi|svg`): as `depth`, but
/// truecolor instead of detecting the terminal, which is not where the output goes.
fn output_depth(cli: &Cli, cfg: Option<&Config>) -> Depth {
    Depth::choose(flag_depth(cli), config_depth(cfg), |k| match k {
        "NO_COLOR" => std::env::var(k).ok(),
        "COLORTERM" => Some("truecolor".into()),
        _ => None,
    })
}

fn print_errors(errs: &[FileError]) {
    for e in errs {
        errln!("driftdeck: {e}");
    }
}

pub use crate::config::load_user as load_config;

struct Looks {
    theme: theme::Theme,
    keymap: keymap::Keymap,
    notices: Vec<String>,
}

fn looks(cfg: Option<&Config>, paths: &Paths) -> Looks {
    let dir = paths.config_dir();
    let (theme, te) = load::theme(cfg.and_then(|c| c.theme.as_deref()), &dir);
    let (keymap, ke) = load::keymap(cfg.and_then(|c| c.keymap.as_deref()), &dir);
    let notices = te.iter().chain(&ke).map(|e| e.to_string()).collect();
    Looks {
        theme,
        keymap,
        notices,
    }
}

fn tui_options(cli: &Cli, cfg: &Config, paths: &Paths, title: &str) -> TuiOptions {
    let l = looks(Some(cfg), paths);
    let depth = depth(cli, Some(cfg));
    TuiOptions {
        theme: l.theme.for_depth(depth),
        keymap: l.keymap,
        depth,
        ascii: cli.ascii,
        low_bandwidth: cli.low_bandwidth || cfg.low_bandwidth,
        mouse: cfg.mouse.unwrap_or(true),
        title: title.to_string(),
        read_only: cli.read_only || cfg.read_only,
        notices: l.notices,
        pager: crate::tui::app::pager_command(cfg.pager.as_deref()),
        diff_tool: cfg
            .diff_tool
            .as_deref()
            .and_then(|t| crate::util::split_command(t).ok())
            .filter(|w| !w.is_empty()),
        data_dir: paths.data_dir.clone(),
        config_dir: paths.config_dir(),
    }
}

fn log_notice(paths: &Paths) {
    errln!(
        "driftdeck: logging to {}",
        paths.log_dir.join(crate::logging::FILE).display()
    );
}

/// `driftdeck`: the TUI over the configured fleet.
pub async fn tui(cli: &Cli, paths: &Paths) -> u8 {
    let cfg = match load_config(paths) {
        Ok(Some(c)) => c,
        Ok(None) => {
            errln!(
                "driftdeck: no config at {}. Write one (`driftdeck print-default config > {}`) or try the demo: `driftdeck demo`.",
                paths.config_file.display(),
                paths.config_file.display()
            );
            return 2;
        }
        Err(errs) => {
            print_errors(&errs);
            errln!("driftdeck: fix the config (`driftdeck check-config` lists every problem).");
            return 2;
        }
    };
    if cfg.instances.is_empty() {
        errln!(
            "driftdeck: the config names no [[instances]]; add an Argo CD instance or try `driftdeck demo`."
        );
        return 2;
    }
    let mut cfg = cfg;
    cfg.read_only |= cli.read_only;
    let opts = tui_options(cli, &cfg, paths, "driftdeck");
    log_notice(paths);
    match crate::tui::app::run(&cfg, opts).await {
        Ok(()) => 0,
        Err(e) => {
            errln!("driftdeck: {e}");
            2
        }
    }
}

fn demo_options(d: &DemoArgs, default_drift: &str, listen: &str) -> Result<DemoOptions, String> {
    let drift = d.drift_every.as_deref().unwrap_or(default_drift);
    let drift_every = match drift {
        "0" | "off" | "none" => None,
        s => Some(crate::util::parse_duration(s).map_err(|e| format!("--drift-every: {e}"))?),
    };
    if d.apps > 200_000 || d.clusters > 10_000 || d.instances > 64 {
        return Err("the demo is limited to 200,000 apps, 10,000 clusters and 64 instances".into());
    }
    let listen = listen
        .parse()
        .map_err(|_| format!("--listen `{listen}` is not an address like 127.0.0.1:0"))?;
    Ok(DemoOptions {
        spec: FleetSpec {
            apps: d.apps,
            clusters: d.clusters.max(1),
            instances: d.instances.max(1),
            seed: d.seed,
        },
        drift_every,
        listen,
        faults: crate::demo::faults::FaultProfile::parse(&d.faults)
            .map_err(|e| format!("--faults: {e}"))?,
        drifted: match d.drifted {
            Some(s) if !(0.0..=1.0).contains(&s) => {
                return Err(format!(
                    "--drifted {s}: give a share between 0 and 1, e.g. 0.05"
                ));
            }
            s => s,
        },
        ..Default::default()
    })
}

/// `driftdeck demo [--serve]`.
pub async fn demo(cli: &Cli, paths: &Paths, d: &DemoArgs, serve: bool, listen: &str) -> u8 {
    let opts = match demo_options(d, "3s", listen) {
        Ok(o) => o,
        Err(e) => {
            errln!("driftdeck: {e}");
            return 2;
        }
    };
    let fleet = match DemoFleet::start(opts).await {
        Ok(f) => f,
        Err(e) => {
            errln!("driftdeck: cannot start the demo servers: {e}; is the --listen address free?");
            return 2;
        }
    };
    if serve {
        return serve_until_signal(&fleet).await;
    }
    let mut cfg = fleet.config();
    // The user's own settings (looks, keys, tools, and how decisions are made: mode, policy,
    // context) apply to the demo too; a broken config is said on the first screen, not ignored.
    let mut config_problems = Vec::new();
    match load_config(paths) {
        Ok(Some(u)) => cfg.carry_personal_settings(&u),
        Ok(None) => {}
        Err(errs) => config_problems = errs.iter().map(|e| e.to_string()).collect(),
    }
    cfg.read_only |= cli.read_only;
    let mut opts = tui_options(cli, &cfg, paths, "driftdeck demo");
    // The demo's decisions and actions go to its own journal, never the user's.
    opts.data_dir = fleet.data_dir();
    opts.notices.splice(0..0, config_problems);
    log_notice(paths);
    match crate::tui::app::run(&cfg, opts).await {
        Ok(()) => 0,
        Err(e) => {
            errln!("driftdeck: {e}");
            2
        }
    }
}

async fn serve_until_signal(fleet: &DemoFleet) -> u8 {
    use tokio::signal::unix::{SignalKind, signal};
    // Beside the tokens, in the demo's private directory (removed when the demo stops).
    let dir = fleet.dir().to_path_buf();
    let path = match fleet.write_config(&dir) {
        Ok(p) => p,
        Err(e) => {
            errln!(
                "driftdeck: cannot write the demo config in {}: {e}",
                dir.display()
            );
            return 2;
        }
    };
    // The contract: the config path is the first line of stdout.
    outln!("{}", path.display());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    for i in 0..fleet.servers.len() {
        errln!(
            "driftdeck demo: {} at {} (user admin, password {})",
            fleet.instance(i).read().name,
            fleet.url(i),
            fleet.password
        );
    }
    errln!("driftdeck demo: serving until Ctrl-C or SIGTERM");
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return 2;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    0
}

/// `driftdeck snapshot`.
#[allow(clippy::too_many_arguments)]
pub async fn snapshot(
    cli: &Cli,
    paths: &Paths,
    demo: bool,
    d: &DemoArgs,
    output: SnapshotOutput,
    size: &str,
    keys: &str,
    filter: Option<&str>,
    fail_on: Option<crate::cli::FailOn>,
) -> u8 {
    let fail = |e: String| {
        errln!("driftdeck: {e}");
        2
    };
    let size = match snapshot::parse_size(size) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let keys = match snapshot::parse_keys(keys) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let user_cfg = match load_config(paths) {
        Ok(c) => c,
        Err(errs) => {
            print_errors(&errs);
            return 2;
        }
    };
    let mut data_dir = paths.data_dir.clone();
    let (_fleet, cfg, title) = if demo {
        let opts = match demo_options(d, "0", "127.0.0.1:0") {
            Ok(o) => o,
            Err(e) => return fail(e),
        };
        let fleet = match DemoFleet::start(opts).await {
            Ok(f) => f,
            Err(e) => return fail(format!("cannot start the demo servers: {e}")),
        };
        let mut cfg = fleet.config();
        if let Some(u) = &user_cfg {
            cfg.carry_personal_settings(u);
        }
        // The demo's own journal, never the user's.
        data_dir = fleet.data_dir();
        (Some(fleet), cfg, "driftdeck demo")
    } else {
        match user_cfg {
            Some(c) if !c.instances.is_empty() => (None, c, "driftdeck"),
            _ => {
                return fail(format!(
                    "no instances configured (config: {}); pass --demo for the embedded demo fleet",
                    paths.config_file.display()
                ));
            }
        }
    };
    let l = looks(Some(&cfg), paths);
    for n in &l.notices {
        errln!("driftdeck: {n}");
    }
    let depth = output_depth(cli, Some(&cfg));
    let o = SnapshotOptions {
        output: match output {
            SnapshotOutput::Json => Output::Json,
            SnapshotOutput::Text => Output::Text,
            SnapshotOutput::Ansi => Output::Ansi,
            SnapshotOutput::Svg => Output::Svg,
        },
        size,
        keys,
        filter: filter.map(str::to_string),
        theme: l.theme.for_depth(depth),
        keymap: l.keymap,
        depth,
        ascii: cli.ascii,
        low_bandwidth: cli.low_bandwidth || cfg.low_bandwidth,
        title: title.into(),
        now_ms: None,
        data_dir: Some(data_dir),
        resize: None,
        fail_on_sla: fail_on == Some(crate::cli::FailOn::Sla),
    };
    if fail_on == Some(crate::cli::FailOn::Sla)
        && cfg
            .fleet
            .as_ref()
            .is_none_or(|f| f.out_of_sync_sla.is_none() && f.project_sla.is_empty())
    {
        return fail(
            "--fail-on sla needs an SLA: set `out_of_sync_sla = \"30m\"` under [fleet] in the config"
                .into(),
        );
    }
    match snapshot::snapshot(&cfg, o).await {
        Ok(s) => {
            // JSON escaped by term::json; frames drawn from cells scrubbed by ui::draw
            // (ansi carries our own colours, so it goes out as it is).
            crate::term::write_raw(&s.stdout);
            if s.exit == 3 {
                errln!(
                    "driftdeck: at least one instance could not be reached; the snapshot shows what the others returned."
                );
            }
            if s.exit == 4 {
                errln!(
                    "driftdeck: {} OutOfSync longer than the SLA: {}",
                    crate::util::count(s.breaches.len(), "app"),
                    s.breaches.join(", ")
                );
            }
            s.exit
        }
        Err(e) => fail(e),
    }
}

/// `driftdeck check-config`: every problem with file and line; 0 valid, 1 invalid.
pub fn check_config(paths: &Paths) -> u8 {
    let mut errs: Vec<FileError> = Vec::new();
    let cfg = match load_config(paths) {
        Ok(c) => c,
        Err(e) => {
            errs.extend(e);
            None
        }
    };
    let dir = paths.config_dir();
    let (_, te) = load::theme(cfg.as_ref().and_then(|c| c.theme.as_deref()), &dir);
    let (_, ke) = load::keymap(cfg.as_ref().and_then(|c| c.keymap.as_deref()), &dir);
    errs.extend(te);
    errs.extend(ke);
    // The decision sections: the policy bundle loads and passes its own checks, the LLM and
    // context sources can be built.
    if let Some(c) = &cfg {
        let policy = c.policy.clone().unwrap_or_default();
        if let Err(e) = crate::decide::policy::Bundle::load(&policy) {
            let path = e
                .file
                .as_ref()
                .map(std::path::PathBuf::from)
                .or_else(|| policy.dir.clone())
                .unwrap_or_else(|| paths.config_file.clone());
            let rule = e
                .rule
                .as_deref()
                .map(|r| format!(" (rule {r})"))
                .unwrap_or_default();
            errs.push(FileError::new(
                &path,
                e.line,
                format!("the policy bundle{rule}: {}", e.message),
            ));
        } else if let Err(e) = crate::headless::decide::decider_from(Some(c)) {
            errs.push(FileError::new(
                &paths.config_file,
                None,
                format!("[decide]: {e}"),
            ));
        }
        if let Err(e) = crate::decide::context::Sources::from_config(c.context.as_ref()) {
            errs.push(FileError::new(&paths.config_file, None, e.to_string()));
        }
        if let Some(p) = crate::clients::kube::Clusters::load(c.kube.as_ref()).problem() {
            errs.push(FileError::new(
                &paths.config_file,
                None,
                format!("[kube]: {p}"),
            ));
        }
    }
    // Every user theme and keymap file present is checked, chosen or not.
    for (kind, is_theme) in [("themes", true), ("keymaps", false)] {
        let Ok(rd) = std::fs::read_dir(dir.join(kind)) else {
            continue;
        };
        let mut files: Vec<_> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for p in files {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let chosen = if is_theme {
                cfg.as_ref().and_then(|c| c.theme.clone())
            } else {
                cfg.as_ref().and_then(|c| c.keymap.clone())
            };
            if chosen.as_deref() == Some(name.as_str()) {
                continue;
            }
            let e = if is_theme {
                load::theme(Some(&name), &dir).1
            } else {
                load::keymap(Some(&name), &dir).1
            };
            errs.extend(e);
        }
    }
    if errs.is_empty() {
        match &cfg {
            Some(c) => outln!(
                "{}: valid ({} instance{})",
                paths.config_file.display(),
                c.instances.len(),
                if c.instances.len() == 1 { "" } else { "s" }
            ),
            None => outln!(
                "no config at {} (the builtin defaults are valid)",
                paths.config_file.display()
            ),
        }
        0
    } else {
        for e in &errs {
            outln!("{e}");
        }
        1
    }
}

/// `driftdeck print-default theme|keymap|config [NAME]`.
pub fn print_default(kind: DefaultKind, name: Option<&str>) -> u8 {
    let name = name.unwrap_or("default");
    match kind {
        DefaultKind::Config => {
            out!("{DEFAULT_CONFIG}");
            0
        }
        DefaultKind::Theme => match theme::BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((_, t)) => {
                out!("{t}");
                0
            }
            None => {
                errln!(
                    "driftdeck: no builtin theme `{name}`; builtins: {}",
                    theme::BUILTIN
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                2
            }
        },
        DefaultKind::Policy => {
            use crate::decide::policy::DEFAULT_FILES;
            if name == "default" {
                for (file, text) in DEFAULT_FILES {
                    outln!("# ==> assets/policies/{file} <==");
                    out!("{text}");
                    outln!();
                }
                return 0;
            }
            match DEFAULT_FILES.iter().find(|(f, _)| *f == name) {
                Some((_, text)) => {
                    out!("{text}");
                    0
                }
                None => {
                    errln!(
                        "driftdeck: no policy file `{name}`; files: {}",
                        DEFAULT_FILES
                            .iter()
                            .map(|(f, _)| *f)
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    2
                }
            }
        }
        DefaultKind::Keymap => match keymap::Keymap::builtin(name) {
            Some(k) => {
                out!("{}", k.to_toml());
                0
            }
            None => {
                errln!(
                    "driftdeck: no builtin keymap `{name}`; builtins: {}",
                    keymap::BUILTIN
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                2
            }
        },
    }
}

/// The config for a headless command: absent is fine, broken is an error (exit 2).
fn config_or_exit(paths: &Paths) -> Result<Option<Config>, u8> {
    load_config(paths).map_err(|errs| {
        print_errors(&errs);
        2
    })
}

/// `driftdeck decide --scenario FILE`.
pub async fn decide(
    paths: &Paths,
    scenario: &std::path::Path,
    mode: Option<crate::decide::decider::Mode>,
    output: crate::headless::decide::Output,
    journal: bool,
) -> u8 {
    match config_or_exit(paths) {
        Ok(cfg) => {
            crate::headless::decide::decide_cmd(
                cfg.as_ref(),
                paths,
                scenario,
                mode,
                output,
                journal,
            )
            .await
        }
        Err(code) => code,
    }
}

/// `driftdeck replay DIR`.
pub async fn replay(
    paths: &Paths,
    dir: &std::path::Path,
    output: crate::headless::decide::Output,
    advisor: Option<crate::config::decide::AdvisorKind>,
) -> u8 {
    match config_or_exit(paths) {
        Ok(cfg) => crate::headless::decide::replay_cmd(cfg.as_ref(), dir, output, advisor).await,
        Err(code) => code,
    }
}

/// `driftdeck policy test [DIR]`.
pub fn policy(paths: &Paths, which: &crate::headless::decide::PolicyCommand) -> u8 {
    match config_or_exit(paths) {
        Ok(cfg) => crate::headless::decide::policy_cmd(cfg.as_ref(), which),
        Err(code) => code,
    }
}

/// `driftdeck bench ...`.
#[cfg(feature = "bench")]
pub async fn bench(which: &crate::cli::BenchCommand) -> u8 {
    use crate::cli::BenchCommand;
    match which {
        BenchCommand::Decide {
            seconds,
            apps,
            source_latency,
        } => match crate::headless::bench::decide(*seconds, *apps, *source_latency).await {
            Ok(text) => {
                out!("{text}");
                0
            }
            Err(e) => {
                errln!("driftdeck: bench decide: {e}");
                2
            }
        },
        BenchCommand::Keys { apps, size } => {
            let size = match snapshot::parse_size(size) {
                Ok(s) => s,
                Err(e) => {
                    errln!("driftdeck: {e}");
                    return 2;
                }
            };
            match crate::headless::bench::keys(*apps, size).await {
                Ok(report) => {
                    out!("{report}");
                    0
                }
                Err(e) => {
                    errln!("driftdeck: bench keys: {e}");
                    2
                }
            }
        }
        BenchCommand::Faults {
            reads,
            apps,
            outages,
            repeats,
        } => match crate::headless::bench::faults(*reads, *apps, outages, *repeats).await {
            Ok(report) => {
                out!("{report}");
                0
            }
            Err(e) => {
                errln!("driftdeck: bench faults: {e}");
                2
            }
        },
        BenchCommand::Serve {
            apps,
            drifted,
            minutes,
            drift_every,
        } => {
            match crate::headless::bench_serve::serve(*apps, *drifted, *minutes, drift_every).await
            {
                Ok(report) => {
                    out!("{report}");
                    0
                }
                Err(e) => {
                    errln!("driftdeck: bench serve: {e}");
                    2
                }
            }
        }
        BenchCommand::Logs { rate, seconds } => match crate::headless::bench::logs(*rate, *seconds)
        {
            Ok(report) => {
                out!("{report}");
                0
            }
            Err(e) => {
                errln!("driftdeck: bench logs: {e}");
                2
            }
        },
        BenchCommand::Diff { lines, runs } => match crate::headless::bench::diff(*lines, *runs) {
            Ok(report) => {
                out!("{report}");
                0
            }
            Err(e) => {
                errln!("driftdeck: bench failed: {e}");
                2
            }
        },
        BenchCommand::Fleet {
            apps,
            clusters,
            instances,
            rate,
            seconds,
        } => match crate::headless::bench::fleet(*apps, *clusters, *instances, *rate, *seconds)
            .await
        {
            Ok(report) => {
                out!("{report}");
                0
            }
            Err(e) => {
                errln!("driftdeck: bench failed: {e}");
                2
            }
        },
    }
}

/// `driftdeck diff`: files, or a live app's drifted resources. 0 same, 1 differs, 2 error.
#[allow(clippy::too_many_arguments)]
pub async fn diff(
    cli: &Cli,
    paths: &Paths,
    app: Option<&str>,
    instance: Option<&str>,
    live: Option<&std::path::Path>,
    desired: Option<&std::path::Path>,
    ignore: Option<&std::path::Path>,
    output: DiffOutput,
) -> u8 {
    use crate::diff::{Normalizer, diff as compute_diff};
    use crate::headless::{diffout, files};
    let fail = |e: String| {
        errln!("driftdeck: {e}");
        2
    };
    let norm = match ignore {
        Some(p) => match files::ignore_differences(p) {
            Ok(rules) => match Normalizer::new(&rules) {
                Ok(n) => n,
                Err(e) => return fail(format!("{}: {e}", p.display())),
            },
            Err(e) => return fail(e.to_string()),
        },
        None => Normalizer::default(),
    };
    let user_cfg = load_config(paths).ok().flatten();
    let depth = output_depth(cli, user_cfg.as_ref());
    let theme = looks(user_cfg.as_ref(), paths).theme.for_depth(depth);
    // Both forms clean what came from the manifests (diffout), so they go out as they are.
    let render = |ds: &[crate::diff::ResourceDiff]| -> String {
        match output {
            DiffOutput::Text => ds.iter().map(diffout::text).collect(),
            DiffOutput::Ansi => ds.iter().map(|d| diffout::ansi(d, &theme, depth)).collect(),
            DiffOutput::Json => String::new(),
        }
    };
    match (app, live, desired) {
        (None, Some(l), Some(d)) => {
            let (live, desired) = match (files::object(l), files::object(d)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => return fail(e.to_string()),
            };
            if live.is_none() && desired.is_none() {
                return fail("both files are empty (null): nothing to compare".into());
            }
            let d = match compute_diff(desired.as_ref(), live.as_ref(), &norm) {
                Ok(d) => d,
                Err(e) => return fail(e.to_string()),
            };
            match output {
                DiffOutput::Json => {
                    let mut j = diffout::json(&d);
                    if let Some(m) = j.as_object_mut() {
                        m.shift_remove("resource");
                    }
                    outln_json!(&j);
                }
                _ => crate::term::write_raw(&render(std::slice::from_ref(&d))),
            }
            u8::from(d.modified)
        }
        (Some(name), None, None) => diff_app(paths, name, instance, output, &render).await,
        _ => fail("give either APP, or both --live FILE and --desired FILE".into()),
    }
}

async fn diff_app(
    paths: &Paths,
    name: &str,
    instance: Option<&str>,
    output: DiffOutput,
    render: &dyn Fn(&[crate::diff::ResourceDiff]) -> String,
) -> u8 {
    let fail = |e: String| {
        errln!("driftdeck: {e}");
        2
    };
    let cfg = match load_config(paths) {
        Ok(Some(c)) if !c.instances.is_empty() => c,
        Ok(_) => {
            return fail(format!(
                "no instances configured (config: {}); `driftdeck diff APP` asks an Argo CD server",
                paths.config_file.display()
            ));
        }
        Err(errs) => {
            print_errors(&errs);
            return 2;
        }
    };
    let (client, app_ns) = match crate::actions::locate(&cfg, name, instance).await {
        Ok((_, client, t)) => (client, t.app_namespace),
        Err(e) => return fail(e),
    };
    let ns = (!app_ns.is_empty()).then_some(app_ns.as_str());
    let mr = match client.managed_resources(name, ns).await {
        Ok(m) => m,
        Err(e) => return fail(e.to_string()),
    };
    let diffs = match crate::diff::from_managed(&mr.items) {
        Ok(d) => d,
        Err(e) => return fail(format!("{}: {e}", client.instance())),
    };
    let drifted: Vec<crate::diff::ResourceDiff> = diffs
        .into_iter()
        .filter(|d| d.modified || d.live.is_none() || d.desired.is_none())
        .collect();
    match output {
        DiffOutput::Json => {
            let j = serde_json::json!({
                "app": name,
                "instance": client.instance(),
                "modified": drifted.iter().any(|d| d.modified),
                "resources": drifted.iter().map(crate::headless::diffout::json).collect::<Vec<_>>(),
            });
            outln_json!(&j);
        }
        _ => crate::term::write_raw(&render(&drifted)),
    }
    u8::from(drifted.iter().any(|d| d.modified))
}

/// `driftdeck health --file FILE`.
pub fn health(file: &std::path::Path, output: HealthOutput) -> u8 {
    let obj = match crate::headless::files::object(file) {
        Ok(Some(o)) => o,
        Ok(None) => {
            errln!(
                "driftdeck: {}: is empty (null); give a Kubernetes object",
                file.display()
            );
            return 2;
        }
        Err(e) => {
            errln!("driftdeck: {e}");
            return 2;
        }
    };
    let a = crate::health::assess(&obj);
    match output {
        HealthOutput::Json => {
            let j = match &a {
                Some(a) => serde_json::json!({"status": a.status.as_str(), "message": a.message}),
                None => serde_json::json!({"status": null}),
            };
            crate::term::write_json(&j, false);
        }
        HealthOutput::Text => match &a {
            Some(a) if a.message.is_empty() => outln!("{}", a.status),
            Some(a) => outln!("{}: {}", a.status, a.message),
            None => outln!(
                "no health check for {}: Argo CD assesses no health for this kind",
                obj.get("kind")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?")
            ),
        },
    }
    0
}

/// `driftdeck serve [--listen ADDR]`.
pub async fn serve(cli: &Cli, paths: &Paths, listen: Option<String>) -> u8 {
    match config_or_exit(paths) {
        Ok(Some(cfg)) => {
            crate::serve::run(
                cfg,
                crate::serve::Options {
                    listen,
                    data_dir: paths.data_dir.clone(),
                    read_only: cli.read_only,
                },
            )
            .await
        }
        Ok(None) => {
            errln!(
                "driftdeck serve: no config at {}; write one with [[instances]] (see `driftdeck check-config`) or pass --config",
                paths.config_file.display()
            );
            2
        }
        Err(code) => code,
    }
}

/// `driftdeck mcp`: the Model Context Protocol on stdin/stdout; 0 when stdin closes.
pub async fn mcp(cli: &Cli, paths: &Paths) -> u8 {
    let cfg = match config_or_exit(paths) {
        Ok(Some(c)) => c,
        Ok(None) => {
            errln!(
                "driftdeck mcp: no config at {}; write one with [[instances]] (see `driftdeck check-config`) or pass --config",
                paths.config_file.display()
            );
            return 2;
        }
        Err(code) => return code,
    };
    let kit = match crate::mcp::Kit::new(cfg, paths.data_dir.clone(), cli.read_only, None) {
        Ok(k) => k,
        Err(e) => {
            errln!("driftdeck mcp: {e}");
            return 2;
        }
    };
    match crate::mcp::run_stdio(kit).await {
        Ok(()) => 0,
        Err(e) => {
            errln!("driftdeck mcp: {e}");
            2
        }
    }
}
