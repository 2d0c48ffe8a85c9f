//! Logs go to a file in the log directory (never to the screen), through a non-blocking
//! writer. The filter comes from `DRIFTDECK_LOG` (tracing `EnvFilter` syntax; default `info`).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The log file's name in the log directory.
pub const FILE: &str = "driftdeck.log";

/// Starts logging to `<dir>/driftdeck.log`. Returns the guard that flushes on drop, or `None`
/// when the directory cannot be created (then nothing is logged, and that is said on stderr).
pub fn init(dir: &Path) -> Option<WorkerGuard> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!(
            "driftdeck: cannot create the log directory {}: {e}; logging is off",
            dir.display()
        );
        return None;
    }
    let appender = tracing_appender::rolling::never(dir, FILE);
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter =
        EnvFilter::try_from_env("DRIFTDECK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let ok = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .with_target(true)
        .try_init()
        .is_ok();
    ok.then_some(guard)
}
