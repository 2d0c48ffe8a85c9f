//! Logs go to a file in the log directory (never to the screen), through a non-blocking
//! writer. The filter comes from `DRIFTDECK_LOG` (tracing `EnvFilter` syntax; default `info`).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The log file's name in the log directory.
pub const FILE: &str = "driftdeck.log";

/// The writer's guard: dropping it writes out what is queued.
static GUARD: std::sync::Mutex<Option<WorkerGuard>> = std::sync::Mutex::new(None);

/// Writes out every queued line and stops the writer (at exit, and from the panic hook before
/// it ends the process). Later lines are dropped.
pub fn flush() {
    let guard = GUARD.lock().unwrap_or_else(|p| p.into_inner()).take();
    drop(guard);
}

/// Starts logging to `<dir>/driftdeck.log`; [`flush`] before the process ends. When the
/// directory cannot be created nothing is logged, and that is said on stderr.
pub fn init(dir: &Path) {
    if let Some(g) = start(dir) {
        *GUARD.lock().unwrap_or_else(|p| p.into_inner()) = Some(g);
    }
}

fn start(dir: &Path) -> Option<WorkerGuard> {
    // The directory 0700 (refused when others can write it), the file 0600 and never opened
    // through a link: logs name servers, apps and operators.
    let file = match crate::private::open_append(&dir.join(FILE)) {
        Ok(f) => f,
        Err(e) => {
            errln!("driftdeck: cannot open the log file: {e}; logging is off");
            return None;
        }
    };
    let (writer, guard) = tracing_appender::non_blocking(file);
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
