//! A followed log: newest at the bottom, the search's matches highlighted, its state (following,
//! paused, ended) in the title.

use ratatui::buffer::Buffer;

use super::{Piece, flash_piece, hints, layout, put, status_bar};
use crate::tui::action::Action;
use crate::tui::keymap::{KeyMode, Keymap};
use crate::tui::model::{LogScreen, LogState, Model};
use crate::tui::theme::Theme;

pub fn draw(buf: &mut Buffer, m: &Model, l: &LogScreen, theme: &Theme, km: &Keymap) {
    let lay = layout::diff(m.size);
    let page = lay.body.height as usize;
    let state = match (&l.state, l.paused, l.follow) {
        (LogState::Failed(e), _, _) => format!("stopped: {e}"),
        (LogState::Ended, _, _) if l.previous => "the previous run, whole".into(),
        (LogState::Ended, _, _) => "ended".into(),
        (_, true, _) => "PAUSED (space resumes)".into(),
        (_, false, true) => "following".into(),
        _ => "scrolled (G follows)".into(),
    };
    let matches = l.matches();
    let search = match &l.search {
        Some(q) => format!("/{q}: {} matching  ·  ", matches.len()),
        None => String::new(),
    };
    // What changes first (the state, the search), so a narrow terminal keeps it; the pod last.
    let title = format!(
        " {state}  ·  {search}{} lines{}  ·  log of {}/{}{}",
        l.lines.len() + l.dropped,
        if l.dropped > 0 {
            format!(" ({} oldest dropped)", l.dropped)
        } else {
            String::new()
        },
        l.pod,
        l.container,
        if l.previous { " (previous run)" } else { "" },
    );
    buf.set_style(lay.title, theme.style("title"));
    put(
        buf,
        0,
        lay.title.y,
        &title,
        lay.title.width as usize,
        theme.style("title"),
    );
    let top = crate::tui::update::log_top(l, page);
    let w = lay.body.width as usize;
    if l.lines.is_empty() {
        let msg = match &l.state {
            LogState::Streaming => "waiting for the container's log…",
            _ => "(the container has written nothing)",
        };
        put(buf, 1, lay.body.y, msg, w, theme.style("text.dim"));
    }
    let q = l.search.as_ref().map(|q| q.to_lowercase());
    for (row, line) in l.lines.iter().skip(top).take(page).enumerate() {
        let y = lay.body.y + row as u16;
        let hit = q.as_ref().is_some_and(|q| line.to_lowercase().contains(q));
        let role = if hit && l.at == Some(top + row) {
            "selection"
        } else if hit {
            "header.sorted"
        } else if line.contains("ERROR") || line.contains("error") || line.contains("panic") {
            "error"
        } else {
            "text"
        };
        put(buf, 1, y, line, w.saturating_sub(1), theme.style(role));
    }
    let left = if let Some(input) = &m.input {
        vec![(format!(" /{}_", input.text), theme.style("text"))]
    } else {
        hints(
            km,
            KeyMode::Logs,
            &[
                (Action::Back, "back"),
                (Action::PauseLogs, if l.paused { "resume" } else { "pause" }),
                (Action::Filter, "search"),
                (Action::NextMatch, "next"),
                (
                    Action::PreviousLogs,
                    if l.previous { "live log" } else { "previous" },
                ),
                (Action::NextContainer, "container"),
                (Action::SelectLast, "follow"),
            ],
            theme,
        )
    };
    let right: Vec<Piece> = flash_piece(m, theme).into_iter().collect();
    status_bar(buf, lay.status, &left, &right, theme);
}
