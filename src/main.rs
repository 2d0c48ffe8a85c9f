//! The `driftdeck` binary. Initialisation happens here and only here, in this order:
//! CLI → paths → logging → panic hook → config, theme, keymap → dispatch.

use std::process::ExitCode;

use clap::Parser;
use driftdeck::cli::{Cli, Command};
use driftdeck::commands;
use driftdeck::config::paths::Paths;
use driftdeck::headless::act;

/// mimalloc: the policy engine and the diff builder allocate many small values; glibc's
/// allocator took a third of a policy decision's time (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = Paths::resolve(cli.config.as_deref());
    driftdeck::logging::init(&paths.log_dir);
    driftdeck::tui::runtime::terminal::install_panic_hook();
    driftdeck::clients::argocd::init_crypto();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            driftdeck::errln!("driftdeck: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = rt.block_on(async move {
        match cli.command {
            None => commands::tui(&cli, &paths).await,
            Some(Command::Demo {
                ref demo,
                serve,
                ref listen,
            }) => commands::demo(&cli, &paths, demo, serve, listen).await,
            Some(Command::Snapshot {
                demo,
                ref demo_args,
                output,
                ref size,
                ref keys,
                ref filter,
                fail_on,
            }) => {
                commands::snapshot(
                    &cli,
                    &paths,
                    demo,
                    demo_args,
                    output,
                    size,
                    keys,
                    filter.as_deref(),
                    fail_on,
                )
                .await
            }
            Some(Command::Diff {
                ref app,
                ref instance,
                ref live,
                ref desired,
                ref ignore_differences,
                output,
            }) => {
                commands::diff(
                    &cli,
                    &paths,
                    app.as_deref(),
                    instance.as_deref(),
                    live.as_deref(),
                    desired.as_deref(),
                    ignore_differences.as_deref(),
                    output,
                )
                .await
            }
            Some(Command::Health { ref file, output }) => commands::health(file, output),
            Some(Command::CheckConfig) => commands::check_config(&paths),
            Some(Command::PrintDefault { kind, ref name }) => {
                commands::print_default(kind, name.as_deref())
            }
            #[cfg(feature = "bench")]
            Some(Command::Bench { ref which }) => commands::bench(which).await,
            Some(Command::Windows {
                ref project,
                ref app,
                ref at,
                output,
            }) => driftdeck::headless::decide::windows_cmd(project, app, at.as_deref(), output),
            Some(Command::Decide {
                ref scenario,
                mode,
                output,
                no_journal,
            }) => commands::decide(&paths, scenario, mode, output, !no_journal).await,
            Some(Command::Mcp) => commands::mcp(&cli, &paths).await,
            Some(Command::Serve { ref listen }) => {
                commands::serve(&cli, &paths, listen.clone()).await
            }
            Some(Command::Replay {
                ref dir,
                output,
                advisor,
            }) => commands::replay(&paths, dir, output, advisor).await,
            Some(Command::Journal { ref which }) => {
                driftdeck::headless::decide::journal_cmd(&paths, which)
            }
            Some(Command::Policy { ref which }) => commands::policy(&paths, which),
            Some(Command::Sync {
                ref apps,
                ref act,
                prune,
                force,
                apply_only,
                ref resources,
                ref sync_options,
                ref revision,
            }) => {
                act::sync(
                    &paths,
                    cli.read_only,
                    apps,
                    act,
                    prune,
                    force,
                    apply_only,
                    resources,
                    sync_options,
                    revision.as_deref(),
                )
                .await
            }
            Some(Command::Refresh {
                ref app,
                ref act,
                hard,
            }) => act::refresh(&paths, cli.read_only, app, act, hard).await,
            Some(Command::Terminate { ref app, ref act }) => {
                act::terminate(&paths, cli.read_only, app, act).await
            }
            Some(Command::Rollback {
                ref app,
                ref act,
                id,
                ref reason,
                restore_auto_sync,
                restore_only,
            }) => {
                act::rollback(
                    &paths,
                    cli.read_only,
                    app,
                    act,
                    id,
                    reason.as_deref(),
                    restore_auto_sync,
                    restore_only,
                )
                .await
            }
            Some(Command::Defer {
                ref app,
                ref act,
                ref reason,
                ref until,
            }) => {
                act::defer(
                    &paths,
                    cli.read_only,
                    app,
                    act,
                    reason.as_deref(),
                    until.as_deref(),
                )
                .await
            }
            Some(Command::Annotate {
                ref app,
                ref act,
                ref incident,
                ref note,
                label_resources,
            }) => {
                act::annotate(
                    &paths,
                    cli.read_only,
                    app,
                    act,
                    incident.as_deref(),
                    note.as_deref(),
                    label_resources,
                )
                .await
            }
            Some(Command::ResourceActions { ref which }) => {
                act::resource_actions(&paths, cli.read_only, which).await
            }
            Some(Command::Deferrals {
                which,
                ref instance,
                dry_run,
            }) => act::deferrals(&paths, cli.read_only, which, instance.as_deref(), dry_run).await,
            Some(Command::Adopt {
                ref app,
                ref instance,
                output,
            }) => act::adopt(&paths, app, instance.as_deref(), output).await,
        }
    });
    // Background tasks (demo servers, watchers) must not keep the process alive.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    driftdeck::logging::flush();
    ExitCode::from(code)
}
