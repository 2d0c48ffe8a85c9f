//! Rendering: `draw` reads the model and writes a `Buffer`. Nothing here changes state or does
//! I/O. The same function renders the TUI, `snapshot --output text|ansi|svg` and the tests.

pub mod app;
pub mod decide;
pub mod diff;
pub mod fleet;
pub mod layout;
pub mod logs;
pub mod overlay;
pub mod views;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use unicode_width::UnicodeWidthChar;

use super::keymap::{KeyMode, Keymap};
use super::model::{Model, Overlay, Screen};
use super::theme::Theme;

/// Draws the whole screen into `buf` (whose area is the terminal size).
pub fn draw(buf: &mut Buffer, m: &Model, theme: &Theme, km: &Keymap) {
    let area = buf.area;
    buf.set_style(area, theme.style("text"));
    if layout::too_small((area.width, area.height)) {
        let msg = format!(
            "Terminal too small: {}×{}. driftdeck needs at least {}×{}.",
            area.width,
            area.height,
            layout::MIN_WIDTH,
            layout::MIN_HEIGHT
        );
        let y = area.height / 2;
        let lines = wrap(&msg, area.width as usize);
        for (i, l) in lines.iter().enumerate() {
            let w = str_width(l) as u16;
            put(
                buf,
                area.width.saturating_sub(w) / 2,
                y + i as u16,
                l,
                area.width as usize,
                theme.style("warning"),
            );
        }
        return;
    }
    match &m.screen {
        Screen::Fleet => fleet::draw(buf, m, theme, km),
        Screen::App(s) => app::draw(buf, m, s, theme, km),
        Screen::Diff(d, _) => diff::draw(buf, m, d, theme, km),
        Screen::Queue(q) => decide::queue_screen(buf, m, q, theme, km),
        Screen::Shadow(s) => decide::shadow_screen(buf, m, s, theme, km),
        Screen::AppSets(_) | Screen::Versions(_) | Screen::Dora(_) => {
            views::draw(buf, m, theme, km)
        }
        Screen::Logs(l) => logs::draw(buf, m, l, theme, km),
    }
    match &m.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => overlay::help(buf, m, *scroll, theme, km),
        Overlay::Facets(p) => overlay::facets(buf, m, p, theme, km),
        Overlay::Dialog(d) => overlay::dialog(buf, m, d, theme),
    }
    overlay::operations(buf, m, theme);
    if m.command.is_some() {
        command_bar(buf, m, theme);
    }
    scrub(buf);
    if m.symbols.ascii {
        to_ascii(buf);
    }
}

/// The ASCII form of one glyph, one cell wide like most of them: arrows, ellipses, dots, box
/// drawing, state symbols, typographic quotes. Anything else non-ASCII (text from data in a
/// script the terminal may not have) becomes `?`.
pub fn ascii_glyph(c: char) -> char {
    match c {
        '…' | '⋯' => '~',
        '·' | '•' | '●' => '*',
        '—' | '–' | '─' | '━' | '═' | '‐' | '−' => '-',
        '→' | '▸' | '▶' | '›' | '»' | '⟶' => '>',
        '←' | '◂' | '◀' | '‹' | '«' => '<',
        '↑' | '▲' | '▴' => '^',
        '↓' | '▼' | '▾' => 'v',
        '↔' | '↕' => '-',
        '│' | '┃' | '║' | '‖' | '▌' | '▏' | '▎' | '▍' => '|',
        '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' | '╭' | '╮' | '╰' | '╯' => {
            '+'
        }
        '✓' | '✔' => '=',
        '≠' => '!',
        '♥' | '±' => '+',
        '◔' | '⟳' | '↻' | '≈' => '~',
        '✖' | '✗' | '×' => 'x',
        '∅' | '⊘' => '0',
        '◌' | '○' | '◯' => 'o',
        '⏸' => '|',
        '≤' => '<',
        '≥' => '>',
        '“' | '”' | '„' => '"',
        '‘' | '’' | '‚' => '\'',
        '█' | '▓' | '▒' | '░' => '#',
        '\u{2800}'..='\u{28FF}' => '*',
        c if c.is_ascii() => c,
        _ => '?',
    }
}

/// Drops the characters that must not reach a terminal (`term::is_unsafe`: controls, bidi
/// overrides, invisible characters) from every cell, whatever drew it: a name with an
/// unterminated U+202E in a dialog's title would otherwise reverse the rest of the row, and
/// ratatui keeps zero-width characters in the cell before them. A cell left empty shows a space.
pub fn scrub(buf: &mut Buffer) {
    for cell in buf.content.iter_mut() {
        let sym = cell.symbol();
        if sym.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            continue;
        }
        if sym.chars().any(crate::term::is_unsafe) {
            let kept = crate::term::strip(sym).into_owned();
            if kept.is_empty() {
                cell.set_char(' ');
            } else {
                cell.set_symbol(&kept);
            }
        }
    }
}

/// `--ascii`: every cell of the frame in ASCII, whatever drew it (a glyph in a hint, a box
/// border, a name from data). A wide glyph becomes one ASCII character and a space.
pub fn to_ascii(buf: &mut Buffer) {
    let area = buf.area;
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            let sym = cell.symbol();
            if sym.is_ascii() {
                continue;
            }
            let wide = str_width(sym) > 1;
            // Combining marks and variation selectors after the first character go.
            let first = sym.chars().next().map_or(' ', ascii_glyph);
            cell.set_char(first);
            // The cell a wide glyph covered is a cell of its own again.
            if wide && x + 1 < area.right() {
                buf[(x + 1, y)].set_char(' ');
            }
        }
    }
}

/// The `:` command line, on the last row: the text, then what `tab` offers or the error.
pub fn command_bar(buf: &mut Buffer, m: &Model, theme: &Theme) {
    let Some(cl) = &m.command else { return };
    let area = buf.area;
    let row = Rect {
        x: 0,
        y: area.bottom().saturating_sub(1),
        width: area.width,
        height: 1,
    };
    buf.set_style(row, theme.style("bar"));
    for x in row.left()..row.right() {
        buf[(x, row.y)].set_symbol(" ");
    }
    let mut p: Vec<Piece> = vec![
        (" :".into(), theme.style("filter.prompt")),
        (cl.input.text.clone(), theme.style("filter.text")),
        ("   ".into(), theme.style("bar")),
    ];
    match &cl.input.error {
        Some(e) => p.push((e.clone(), theme.style("bar.error"))),
        None => p.push((super::command::hint(m), theme.style("bar.desc"))),
    }
    put_pieces(buf, row, &p);
}

/// Display width of a string in cells.
pub fn str_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Writes `text` at (x, y), at most `max` cells, with `style`; returns the x after it.
pub fn put(buf: &mut Buffer, x: u16, y: u16, text: &str, max: usize, style: Style) -> u16 {
    let area = buf.area;
    if y >= area.bottom() || x >= area.right() {
        return x;
    }
    let room = (area.right() - x) as usize;
    let (end, _) = buf.set_stringn(x, y, text, max.min(room), style);
    end
}

/// Cuts `s` to `w` cells, ending with `…` when cut.
pub fn fit(s: &str, w: usize) -> String {
    if str_width(s) <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

/// `s` padded with spaces (or cut) to exactly `w` cells.
pub fn pad(s: &str, w: usize) -> String {
    let f = fit(s, w);
    let n = str_width(&f);
    format!("{f}{}", " ".repeat(w.saturating_sub(n)))
}

/// Greedy word wrap to `w` cells.
pub fn wrap(s: &str, w: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        if !cur.is_empty() && str_width(&cur) + 1 + str_width(word) > w {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Wraps `text` to `w` cells keeping its leading indentation; continuation rows are indented
/// two cells more. Returns each row's text (trimmed) and its indent; a blank line is one empty
/// row.
pub fn wrap_indented(text: &str, w: usize) -> Vec<(String, usize)> {
    let lead = text.len() - text.trim_start().len();
    if text.trim().is_empty() {
        return vec![(String::new(), 0)];
    }
    wrap(text.trim_start(), w.saturating_sub(lead + 2).max(10))
        .into_iter()
        .enumerate()
        .map(|(j, part)| (part, lead + if j > 0 { 2 } else { 0 }))
        .collect()
}

/// A run of styled text for a line built piece by piece.
pub type Piece = (String, Style);

/// Writes pieces left to right within `area` (one line); returns the x after the last.
pub fn put_pieces(buf: &mut Buffer, area: Rect, pieces: &[Piece]) -> u16 {
    let mut x = area.x;
    for (t, s) in pieces {
        if x >= area.right() {
            break;
        }
        x = put(buf, x, area.y, t, (area.right() - x) as usize, *s);
    }
    x
}

/// The hint line of a mode: the keys bound to each of `actions`, straight from the keymap.
pub fn hints(
    km: &Keymap,
    mode: KeyMode,
    actions: &[(super::action::Action, &str)],
    theme: &Theme,
) -> Vec<Piece> {
    let mut out = Vec::new();
    for (a, label) in actions {
        let keys = km.keys_for(mode, *a);
        let Some(k) = keys.first() else { continue };
        if !out.is_empty() {
            out.push(("  ".to_string(), theme.style("bar")));
        }
        out.push((k.clone(), theme.style("bar.key")));
        out.push((format!(" {label}"), theme.style("bar.desc")));
    }
    out
}

/// The selection's background across row `y` of `area`, when `selected`.
pub fn selection_bar(buf: &mut Buffer, area: Rect, y: u16, selected: bool, theme: &Theme) {
    if selected {
        buf.set_style(
            Rect {
                y,
                height: 1,
                ..area
            },
            theme.selected("text"),
        );
    }
}

/// The status bar's message, if one is showing. While a key sequence is pending its which-key
/// hint has the bar, and the message waits.
pub fn flash_piece(m: &Model, theme: &Theme) -> Option<Piece> {
    let f = m.flash.as_ref().filter(|_| m.pending.is_empty())?;
    Some((
        format!(" {} ", f.text),
        theme.style(if f.error { "bar.error" } else { "bar.message" }),
    ))
}

/// The which-key line while a key sequence is pending.
pub fn pending_hint(m: &Model, theme: &Theme) -> Vec<Piece> {
    let mut out = vec![(
        format!("{} …  ", super::keymap::seq_to_string(&m.pending)),
        theme.style("bar.key"),
    )];
    for (k, a) in &m.pending_next {
        out.push((k.to_string(), theme.style("bar.key")));
        out.push((
            format!(" {}  ", a.name().replace('_', " ")),
            theme.style("bar.desc"),
        ));
    }
    out
}

/// Draws the status bar: hints on the left, `right` on the right.
pub fn status_bar(buf: &mut Buffer, area: Rect, left: &[Piece], right: &[Piece], theme: &Theme) {
    buf.set_style(area, theme.style("bar"));
    let rw: usize = right.iter().map(|(t, _)| str_width(t)).sum();
    let lw = (area.width as usize).saturating_sub(rw + 1);
    // Hints that do not fit whole are left out (never half a hint such as "s s"): cut at the
    // last gap between pieces that fits.
    let total: usize = left.iter().map(|(t, _)| str_width(t)).sum();
    let left = if total > lw {
        let mut w = 0;
        let mut cut = left.len();
        for (i, (t, _)) in left.iter().enumerate() {
            if w > lw {
                break;
            }
            if i > 0 && t.trim().is_empty() {
                cut = i;
            }
            w += str_width(t);
        }
        &left[..cut]
    } else {
        left
    };
    put_pieces(
        buf,
        Rect {
            width: lw as u16,
            x: area.x + 1,
            ..area
        },
        left,
    );
    if rw > 0 && rw < area.width as usize {
        let x = area.right() - rw as u16;
        put_pieces(
            buf,
            Rect {
                x,
                width: rw as u16,
                ..area
            },
            right,
        );
    }
}

/// The buffer as plain text, one line per row, trailing spaces kept (the snapshot format).
pub fn buffer_text(buf: &Buffer) -> String {
    let mut out = String::new();
    let a = buf.area;
    for y in a.top()..a.bottom() {
        let mut skip = 0;
        for x in a.left()..a.right() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            out.push_str(sym);
            skip = str_width(sym).saturating_sub(1);
        }
        out.push('\n');
    }
    out
}
