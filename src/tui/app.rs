//! The event loop: it owns the model, turns terminal events, task results, ticks and signals into
//! messages, runs `update`, hands effects to the runtime, and draws when something changed (at
//! most about 60 frames a second, never on a timer alone).

use std::io::Write;
use std::time::{Duration, Instant};

use futures::StreamExt;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::color::Depth;
use super::keymap::{Key, KeyCode, Keymap};
use super::model::{Flash, Model};
use super::msg::Msg;
use super::runtime::screen::ScreenWriter;
use super::runtime::terminal::TerminalGuard;
use super::runtime::{Instances, Runtime};
use super::theme::Theme;
use super::update::{init, update};
use super::{ui, ui::layout};
use crate::config::Config;

/// The tick: time-dependent text (ages, countdowns) is refreshed at this rate.
pub const TICK: Duration = Duration::from_millis(250);
/// Minimum time between two frames (about 60 a second).
pub const FRAME: Duration = Duration::from_millis(16);
/// Minimum time between two frames in low-bandwidth mode: bursts of changes (a fleet of
/// events, a held-down key) become one frame.
pub const FRAME_LOW_BANDWIDTH: Duration = Duration::from_millis(100);

/// How long quitting waits for writes in flight to be answered and journaled.
pub const INFLIGHT_WAIT: Duration = Duration::from_secs(10);

/// How the TUI looks and behaves, decided before it starts.
pub struct TuiOptions {
    pub theme: Theme,
    pub keymap: Keymap,
    pub depth: Depth,
    pub ascii: bool,
    /// Slow links: no animation, times to the minute, fewer frames.
    pub low_bandwidth: bool,
    /// Report clicks and the wheel.
    pub mouse: bool,
    pub title: String,
    pub read_only: bool,
    /// Problems found while loading user files, shown on the first screen.
    pub notices: Vec<String>,
    /// The pager command (split into words, run without a shell).
    pub pager: Vec<String>,
    /// The external diff tool command, if configured.
    pub diff_tool: Option<Vec<String>>,
    /// Where the decision journal lives.
    pub data_dir: std::path::PathBuf,
    /// Where user themes and keymaps live (`:theme NAME` loads from there).
    pub config_dir: std::path::PathBuf,
}

/// The themes `:theme` offers: the builtins, then the user's files (by name).
pub fn theme_names(config_dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = crate::tui::theme::BUILTIN
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    if let Ok(rd) = std::fs::read_dir(config_dir.join("themes")) {
        let mut user: Vec<String> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .filter(|n| !v.contains(n))
            .collect();
        user.sort();
        v.extend(user);
    }
    v
}

/// The pager: the config's, else `$PAGER`, else `less -R`.
pub fn pager_command(configured: Option<&str>) -> Vec<String> {
    let from = configured
        .map(str::to_string)
        .or_else(|| std::env::var("PAGER").ok())
        .filter(|s| !s.trim().is_empty());
    from.and_then(|s| crate::util::split_command(&s).ok())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| vec!["less".into(), "-R".into()])
}

/// Runs a program on the terminal (without a shell) and waits for it.
async fn run_program(argv: &[String], stdin_text: Option<&str>) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let (prog, args) = argv.split_first().ok_or("no command configured")?;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args);
    if stdin_text.is_some() {
        cmd.stdin(std::process::Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{prog}`: {e}"))?;
    if let (Some(text), Some(mut sin)) = (stdin_text, child.stdin.take()) {
        let _ = sin.write_all(text.as_bytes()).await;
        drop(sin);
    }
    let status = child.wait().await.map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{prog}` exited with {status}"))
    }
}

use crate::tui::runtime::TerminalWork;

/// Performs an effect that needs the terminal; returns the message to feed back, if any.
async fn terminal_effect(e: TerminalWork, opts: &TuiOptions) -> Option<Msg> {
    use crate::tui::runtime::terminal;
    match e {
        TerminalWork::Clipboard(text) => {
            let result = terminal::osc52(&text).map_err(|e| e.to_string());
            result.err().map(|e| Msg::Resumed {
                what: "copy".into(),
                result: Err(e),
            })
        }
        TerminalWork::Pager(text) => {
            terminal::suspend();
            let result = run_program(&opts.pager, Some(&text)).await;
            let _ = terminal::resume();
            Some(Msg::Resumed {
                what: "pager".into(),
                result,
            })
        }
        TerminalWork::ExternalDiff {
            name,
            live,
            desired,
        } => {
            let Some(tool) = &opts.diff_tool else {
                return Some(Msg::Resumed {
                    what: "diff tool".into(),
                    result: Err(
                        "no diff_tool in the config; add e.g. diff_tool = \"vimdiff\"".into(),
                    ),
                });
            };
            // A private directory of a random name; the files created new inside it, named
            // after the resource as one safe path component.
            let dir = match crate::private::temp_dir("driftdeck-diff-") {
                Ok(d) => d,
                Err(e) => {
                    return Some(Msg::Resumed {
                        what: "diff tool".into(),
                        result: Err(e.to_string()),
                    });
                }
            };
            let name = crate::private::file_component(&name);
            let lp = dir.path().join(format!("{name}.live.yaml"));
            let dp = dir.path().join(format!("{name}.desired.yaml"));
            let write = |p: &std::path::Path, text: &str| {
                use std::io::Write;
                crate::private::create_new(p)
                    .map_err(|e| e.to_string())
                    .and_then(|mut f| f.write_all(text.as_bytes()).map_err(|e| e.to_string()))
            };
            if let Err(e) = write(&lp, &live).and_then(|_| write(&dp, &desired)) {
                return Some(Msg::Resumed {
                    what: "diff tool".into(),
                    result: Err(e.to_string()),
                });
            }
            let mut argv = tool.clone();
            argv.push(lp.display().to_string());
            argv.push(dp.display().to_string());
            terminal::suspend();
            let result = run_program(&argv, None).await;
            let _ = terminal::resume();
            Some(Msg::Resumed {
                what: "diff tool".into(),
                result,
            })
        }
        // The event loop loads themes itself (it owns the theme).
        TerminalWork::Theme(_) => None,
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Converts a crossterm key event to ours (press and repeat only).
pub fn convert_key(k: crossterm::event::KeyEvent) -> Option<Key> {
    use crossterm::event::{KeyCode as C, KeyEventKind, KeyModifiers as M};
    if k.kind == KeyEventKind::Release {
        return None;
    }
    let code = match k.code {
        C::Char(c) => KeyCode::Char(c),
        C::Enter => KeyCode::Enter,
        C::Esc => KeyCode::Esc,
        C::Tab => KeyCode::Tab,
        C::BackTab => KeyCode::BackTab,
        C::Backspace => KeyCode::Backspace,
        C::Delete => KeyCode::Delete,
        C::Up => KeyCode::Up,
        C::Down => KeyCode::Down,
        C::Left => KeyCode::Left,
        C::Right => KeyCode::Right,
        C::Home => KeyCode::Home,
        C::End => KeyCode::End,
        C::PageUp => KeyCode::PageUp,
        C::PageDown => KeyCode::PageDown,
        C::F(n) => KeyCode::F(n),
        _ => return None,
    };
    Some(
        Key {
            code,
            ctrl: k.modifiers.contains(M::CONTROL),
            alt: k.modifiers.contains(M::ALT),
            shift: k.modifiers.contains(M::SHIFT),
        }
        .normalized(),
    )
}

/// Converts a crossterm mouse event to ours: left clicks and the wheel.
pub fn convert_mouse(e: crossterm::event::MouseEvent) -> Option<crate::tui::msg::Mouse> {
    use crate::tui::msg::{Mouse, MouseKind};
    use crossterm::event::{MouseButton, MouseEventKind as K};
    let kind = match e.kind {
        K::Down(MouseButton::Left) => MouseKind::Click,
        K::ScrollUp => MouseKind::ScrollUp,
        K::ScrollDown => MouseKind::ScrollDown,
        _ => return None,
    };
    Some(Mouse {
        kind,
        x: e.column,
        y: e.row,
    })
}

/// Where the text cursor goes: in the filter input while typing.
pub fn cursor_position(m: &Model) -> Option<(u16, u16)> {
    if let Some(cl) = &m.command {
        let before: String = cl.input.text.chars().take(cl.input.cursor).collect();
        let x = 2 + ui::str_width(&before) as u16;
        return Some((
            x.min(m.size.0.saturating_sub(1)),
            m.size.1.saturating_sub(1),
        ));
    }
    let input = m.input.as_ref()?;
    let l = layout::fleet(m.size, true);
    let f = l.filter?;
    let before: String = input.text.chars().take(input.cursor).collect();
    let x = 3 + ui::str_width(&before) as u16;
    Some((x.min(f.width.saturating_sub(1)), f.y))
}

/// Renders the model into `buf` (resizing it to the model's size).
pub fn render(buf: &mut Buffer, m: &Model, theme: &Theme, km: &Keymap) {
    let area = Rect::new(0, 0, m.size.0, m.size.1);
    if buf.area != area {
        buf.resize(area);
    }
    buf.reset();
    ui::draw(buf, m, theme, km);
}

/// Runs the TUI over the instances of `cfg` until the user quits or a signal arrives.
pub async fn run(cfg: &Config, opts: TuiOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let inst = Instances::from_config(cfg);
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let size = crossterm::terminal::size().unwrap_or((120, 40));
    let mut model = Model::new(inst.views.clone(), size, now_ms());
    model.fleet.sla = crate::config::fleet::Sla::from_config(cfg.fleet.as_ref());
    model.families = crate::model::versions::Families::from_config(
        cfg.fleet.as_ref().and_then(|f| f.families.as_ref()),
    );
    model.symbols.ascii = opts.ascii;
    model.low_bandwidth = opts.low_bandwidth;
    model.mouse = opts.mouse;
    model.title = opts.title.clone();
    model.read_only = opts.read_only;
    model.theme_names = theme_names(&opts.config_dir);
    if !opts.notices.is_empty() {
        model.flash = Some(Flash {
            text: opts.notices.join("; "),
            error: true,
            until_ms: now_ms() + 15_000,
        });
    }
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;

    let guard = TerminalGuard::enter(opts.mouse)?;
    let mut runtime = Runtime::new(inst, tx);
    runtime.kube = std::sync::Arc::new(crate::clients::kube::Clusters::load(cfg.kube.as_ref()));
    if let Some(t) = &cfg.team {
        match crate::clients::team::TeamClient::from_config(t) {
            Ok(c) => {
                runtime.team = Some(std::sync::Arc::new(c));
                model.team.configured = true;
            }
            Err(e) => tracing::warn!(error = %e, "[team] is not usable"),
        }
    }
    let inflight = crate::actions::Inflight::default();
    runtime.acts = crate::tui::runtime::ops::ActKit {
        kube: Some(runtime.kube.clone()),
        protected: cfg.protected.clone(),
        protect_production: cfg.protect_production.unwrap_or(true),
        journal: Some(std::sync::Arc::new(
            crate::decide::journal::Journal::configured(&opts.data_dir, Some(cfg))
                .map_err(std::io::Error::other)?,
        )),
        inflight: inflight.clone(),
    };
    let fx = init(&mut model);
    runtime.run(fx);
    // Loading and compiling the policy bundle happens while the instances are being listed,
    // not before their requests leave.
    match crate::tui::decisions::DecideKit::from_config(cfg, opts.data_dir.clone()) {
        Ok(kit) => {
            model.decide = Ok(kit.mode);
            model.decide_fleet = matches!(
                kit.mode,
                crate::decide::decider::Mode::Shadow | crate::decide::decider::Mode::Autonomous
            );
            runtime.decide = Some(std::sync::Arc::new(kit));
        }
        Err(e) => {
            tracing::warn!(error = %e, "decisions unavailable");
            model.decide = Err(e);
        }
    }
    let mut events = crossterm::event::EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut screen = ScreenWriter::new(opts.depth);
    screen.sync_output =
        crate::tui::runtime::screen::sync_output_for(&std::env::var("TERM").unwrap_or_default());
    let frame = if opts.low_bandwidth {
        FRAME_LOW_BANDWIDTH
    } else {
        FRAME
    };
    let mut buf = Buffer::empty(Rect::new(0, 0, size.0, size.1));
    let mut last_draw: Option<Instant> = None;
    let mut logged_complete = false;
    let mut stdout = std::io::stdout();
    let mut opts = opts;
    let reason;
    'outer: loop {
        if model.dirty {
            let due = last_draw.is_none_or(|t| t.elapsed() >= frame);
            if due {
                render(&mut buf, &model, &opts.theme, &opts.keymap);
                let cursor = cursor_position(&model);
                let n = screen.present(&buf, cursor, &mut stdout.lock())?;
                tracing::trace!(bytes = n, "frame");
                model.dirty = false;
                last_draw = Some(Instant::now());
                if model.complete && !logged_complete {
                    logged_complete = true;
                    tracing::info!(
                        ms = started.elapsed().as_millis() as u64,
                        apps = model.fleet.len(),
                        "first complete frame"
                    );
                }
            }
        }
        let wait = match (model.dirty, last_draw) {
            (true, Some(t)) => frame.saturating_sub(t.elapsed()),
            _ => Duration::from_secs(3600),
        };
        let mut msgs = Vec::new();
        tokio::select! {
            biased;
            _ = sigterm.recv() => { reason = "SIGTERM"; break 'outer; }
            _ = sighup.recv() => { reason = "SIGHUP"; break 'outer; }
            _ = sigint.recv() => { reason = "SIGINT"; break 'outer; }
            ev = events.next() => match ev {
                Some(Ok(crossterm::event::Event::Key(k))) => {
                    if let Some(k) = convert_key(k) {
                        msgs.push(Msg::Key(k));
                    }
                }
                Some(Ok(crossterm::event::Event::Resize(w, h))) => {
                    screen.invalidate();
                    msgs.push(Msg::Resize(w, h));
                }
                Some(Ok(crossterm::event::Event::Paste(s))) => msgs.push(Msg::Paste(s)),
                Some(Ok(crossterm::event::Event::Mouse(e))) => {
                    if let Some(ev) = convert_mouse(e) {
                        msgs.push(Msg::Mouse(ev));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "terminal input error");
                }
                None => { reason = "terminal closed"; break 'outer; }
            },
            Some(m) = rx.recv() => msgs.push(m),
            _ = tick.tick() => msgs.push(Msg::Tick(now_ms())),
            _ = tokio::time::sleep(wait), if model.dirty => {}
        }
        // Drain what else is waiting, without blocking, so bursts become one frame.
        while msgs.len() < 512 {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
        let mut queue: std::collections::VecDeque<Msg> = msgs.into();
        while let Some(m) = queue.pop_front() {
            let fx = update(&mut model, &opts.keymap, m);
            let out = runtime.run(fx);
            if out.quit || model.quit {
                reason = "quit";
                break 'outer;
            }
            for e in out.terminal {
                if let TerminalWork::Theme(name) = &e {
                    let (t, errs) = crate::tui::load::theme(Some(name), &opts.config_dir);
                    let result = match errs.first() {
                        Some(err) => Err(format!("theme {name}: {err}")),
                        None => {
                            opts.theme = t.for_depth(opts.depth);
                            screen.invalidate();
                            Ok(name.clone())
                        }
                    };
                    queue.push_back(Msg::ThemeChanged(result));
                    continue;
                }
                let takes_terminal = !matches!(e, TerminalWork::Clipboard(_));
                if takes_terminal {
                    // The program reads the keyboard itself meanwhile.
                    drop(std::mem::replace(
                        &mut events,
                        crossterm::event::EventStream::new(),
                    ));
                }
                if let Some(msg) = terminal_effect(e, &opts).await {
                    queue.push_back(msg);
                }
                if takes_terminal {
                    events = crossterm::event::EventStream::new();
                    screen.invalidate();
                    model.dirty = true;
                }
            }
        }
    }
    drop(runtime);
    drop(guard);
    let _ = stdout.flush();
    // A write whose request may be on its way is journaled before and after it: wait for its
    // answer (bounded), so quitting never leaves it half recorded.
    if inflight.count() > 0 {
        errln!(
            "driftdeck: waiting for {} action(s) in flight to be answered and journaled…",
            inflight.count()
        );
        let left = inflight.wait_idle(INFLIGHT_WAIT).await;
        if left > 0 {
            tracing::warn!(left, "actions still in flight at exit");
            errln!(
                "driftdeck: {left} action(s) still had no answer after {} s; their requests are journaled, check `driftdeck journal tail`",
                INFLIGHT_WAIT.as_secs()
            );
        }
    }
    tracing::info!(reason, "driftdeck exited");
    Ok(())
}
