//! The commands behind the CLI. Each returns the process exit code; diagnostics go to stderr as
//! sentences that say what to do next, results to stdout.

use crate::cli::{BenchCommand, Cli, DefaultKind, DemoArgs, SnapshotOutput};
use crate::config::paths::Paths;
use crate::config::{Config, DEFAULT_CONFIG, FileError};
use crate::demo::{DemoFleet, DemoOptions, FleetSpec};
use crate::headless::snapshot::{self, Output, SnapshotOptions};
use crate::tui::app::TuiOptions;
use crate::tui::color::Depth;
use crate::tui::{keymap, load, theme};

fn depth(cli: &Cli) -> Depth {
    let detected = Depth::detect(|k| std::env::var(k).ok());
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return Depth::None;
    }
    Depth::parse(&cli.colors).unwrap_or(detected)
}

fn print_errors(errs: &[FileError]) {
    for e in errs {
        eprintln!("driftdeck: {e}");
    }
}

/// Loads the config file. A missing default config is not an error for commands that do not
/// need instances; a missing explicit one is.
fn load_config(paths: &Paths) -> Result<Option<Config>, Vec<FileError>> {
    if !paths.config_file.exists() {
        if paths.config_explicit {
            return Err(vec![FileError::new(
                &paths.config_file,
                None,
                "the config file does not exist; create it (see `driftdeck print-default config`) or try `driftdeck demo`",
            )]);
        }
        return Ok(None);
    }
    Config::load(&paths.config_file).map(Some)
}

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
    TuiOptions {
        theme: l.theme,
        keymap: l.keymap,
        depth: depth(cli),
        ascii: cli.ascii,
        title: title.to_string(),
        read_only: cli.read_only || cfg.read_only,
        notices: l.notices,
    }
}

fn log_notice(paths: &Paths) {
    eprintln!(
        "driftdeck: logging to {}",
        paths.log_dir.join(crate::logging::FILE).display()
    );
}

/// `driftdeck`: the TUI over the configured fleet.
pub async fn tui(cli: &Cli, paths: &Paths) -> u8 {
    let cfg = match load_config(paths) {
        Ok(Some(c)) => c,
        Ok(None) => {
            eprintln!(
                "driftdeck: no config at {}. Write one (`driftdeck print-default config > {}`) or try the demo: `driftdeck demo`.",
                paths.config_file.display(),
                paths.config_file.display()
            );
            return 2;
        }
        Err(errs) => {
            print_errors(&errs);
            eprintln!("driftdeck: fix the config (`driftdeck check-config` lists every problem).");
            return 2;
        }
    };
    if cfg.instances.is_empty() {
        eprintln!(
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
            eprintln!("driftdeck: {e}");
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
        ..Default::default()
    })
}

/// `driftdeck demo [--serve]`.
pub async fn demo(cli: &Cli, paths: &Paths, d: &DemoArgs, serve: bool, listen: &str) -> u8 {
    let opts = match demo_options(d, "3s", listen) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("driftdeck: {e}");
            return 2;
        }
    };
    let fleet = match DemoFleet::start(opts).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "driftdeck: cannot start the demo servers: {e}; is the --listen address free?"
            );
            return 2;
        }
    };
    if serve {
        return serve_until_signal(&fleet).await;
    }
    let mut cfg = fleet.config();
    cfg.read_only = cli.read_only;
    let user_cfg = load_config(paths).ok().flatten();
    cfg.theme = user_cfg.as_ref().and_then(|c| c.theme.clone());
    cfg.keymap = user_cfg.as_ref().and_then(|c| c.keymap.clone());
    let opts = tui_options(cli, &cfg, paths, "driftdeck demo");
    log_notice(paths);
    match crate::tui::app::run(&cfg, opts).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("driftdeck: {e}");
            2
        }
    }
}

async fn serve_until_signal(fleet: &DemoFleet) -> u8 {
    use tokio::signal::unix::{SignalKind, signal};
    let dir = std::env::temp_dir().join(format!("driftdeck-demo-{}", std::process::id()));
    let path = match fleet.write_config(&dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "driftdeck: cannot write the demo config in {}: {e}",
                dir.display()
            );
            return 2;
        }
    };
    // The contract: the config path is the first line of stdout.
    println!("{}", path.display());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    for i in 0..fleet.servers.len() {
        eprintln!(
            "driftdeck demo: {} at {} (user admin, password {})",
            fleet.instance(i).read().name,
            fleet.url(i),
            fleet.password
        );
    }
    eprintln!("driftdeck demo: serving until Ctrl-C or SIGTERM");
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
    let _ = std::fs::remove_dir_all(&dir);
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
) -> u8 {
    let fail = |e: String| {
        eprintln!("driftdeck: {e}");
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
        cfg.theme = user_cfg.as_ref().and_then(|c| c.theme.clone());
        cfg.keymap = user_cfg.as_ref().and_then(|c| c.keymap.clone());
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
        eprintln!("driftdeck: {n}");
    }
    let depth = match (output, cli.colors.as_str()) {
        (_, c) if c != "auto" => depth(cli),
        _ if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => Depth::None,
        _ => Depth::TrueColor,
    };
    let o = SnapshotOptions {
        output: match output {
            SnapshotOutput::Json => Output::Json,
            SnapshotOutput::Text => Output::Text,
            SnapshotOutput::Ansi => Output::Ansi,
        },
        size,
        keys,
        filter: filter.map(str::to_string),
        theme: l.theme,
        keymap: l.keymap,
        depth,
        ascii: cli.ascii,
        title: title.into(),
        now_ms: None,
    };
    match snapshot::snapshot(&cfg, o).await {
        Ok(s) => {
            print!("{}", s.stdout);
            if s.exit == 3 {
                eprintln!(
                    "driftdeck: at least one instance could not be reached; the snapshot shows what the others returned."
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
            Some(c) => println!(
                "{}: valid ({} instance{})",
                paths.config_file.display(),
                c.instances.len(),
                if c.instances.len() == 1 { "" } else { "s" }
            ),
            None => println!(
                "no config at {} (the builtin defaults are valid)",
                paths.config_file.display()
            ),
        }
        0
    } else {
        for e in &errs {
            println!("{e}");
        }
        1
    }
}

/// `driftdeck print-default theme|keymap|config [NAME]`.
pub fn print_default(kind: DefaultKind, name: Option<&str>) -> u8 {
    let name = name.unwrap_or("default");
    match kind {
        DefaultKind::Config => {
            print!("{DEFAULT_CONFIG}");
            0
        }
        DefaultKind::Theme => match theme::BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((_, t)) => {
                print!("{t}");
                0
            }
            None => {
                eprintln!(
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
        DefaultKind::Keymap => match keymap::Keymap::builtin(name) {
            Some(k) => {
                print!("{}", k.to_toml());
                0
            }
            None => {
                eprintln!(
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

/// `driftdeck bench ...`.
pub async fn bench(which: &BenchCommand) -> u8 {
    match which {
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
                print!("{report}");
                0
            }
            Err(e) => {
                eprintln!("driftdeck: bench failed: {e}");
                2
            }
        },
    }
}
