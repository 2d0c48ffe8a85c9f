//! The terminal's modes: raw mode, the alternate screen, bracketed paste. Restored on every exit
//! path: drop, panic (through the hook), and signals (the event loop calls `restore`).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: AtomicBool = AtomicBool::new(false);

/// Mouse reporting: button presses and the wheel (1000), SGR coordinates (1006) so columns past
/// 223 work. No motion tracking: moving the mouse sends nothing over the link.
const MOUSE_ON: &[u8] = b"\x1b[?1000h\x1b[?1006h";
const MOUSE_OFF: &[u8] = b"\x1b[?1006l\x1b[?1000l";

/// Puts the terminal into TUI mode; restores it when dropped.
pub struct TerminalGuard(());

impl TerminalGuard {
    pub fn enter(mouse: bool) -> std::io::Result<TerminalGuard> {
        crossterm::terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        MOUSE.store(mouse, Ordering::SeqCst);
        enter_modes()?;
        Ok(TerminalGuard(()))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves TUI mode if it is on. Safe to call more than once and from a panic hook.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = std::io::stdout();
        if MOUSE.load(Ordering::SeqCst) {
            let _ = out.write_all(MOUSE_OFF);
        }
        let _ = out.write_all(b"\x1b[?2026l\x1b[r\x1b[0m\x1b[?7h\x1b[?2004l\x1b[?25h\x1b[?1049l");
        let _ = out.flush();
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Hands the terminal to another program (a pager, a diff tool): normal screen, cooked mode.
pub fn suspend() {
    restore();
}

/// Takes the terminal back after `suspend`.
pub fn resume() -> std::io::Result<()> {
    crossterm::terminal::enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    enter_modes()
}

/// Alternate screen, hidden cursor, bracketed paste, no line wrap, a clear screen, and mouse
/// reporting when it is on.
fn enter_modes() -> std::io::Result<()> {
    let mut out = std::io::stdout();
    out.write_all(b"\x1b[?1049h\x1b[?25l\x1b[?2004h\x1b[?7l\x1b[H\x1b[2J")?;
    if MOUSE.load(Ordering::SeqCst) {
        out.write_all(MOUSE_ON)?;
    }
    out.flush()
}

/// Puts text on the terminal's clipboard with OSC 52 (works over SSH and in tmux with
/// `set-clipboard on`).
pub fn osc52(text: &str) -> std::io::Result<()> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = std::io::stdout();
    write!(out, "\x1b]52;c;{b64}\x07")?;
    out.flush()
}

/// A panic hook that restores the terminal first, then logs, then runs the original hook (the
/// message, on the normal screen). A panic while the TUI has the terminal ends the process
/// (exit 101) wherever it happened: a panic in a background task would otherwise leave the TUI
/// drawing on a restored terminal. The journal is synced on every append; the log is flushed.
pub fn install_panic_hook() {
    let original = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let tui = ACTIVE.load(Ordering::SeqCst);
        restore();
        tracing::error!(panic = %info, "driftdeck panicked");
        original(info);
        if tui {
            crate::logging::flush();
            std::process::exit(101);
        }
    }));
}
