//! Writing frames to the terminal with as few bytes as possible: only changed cells, the
//! shortest cursor moves and SGR changes, and a terminal scroll (scroll region + SU/SD) when the
//! content moved by whole rows, so scrolling a table costs one row, not a page. SSH users pay for
//! every byte. Optionally wrapped in synchronized output (DEC mode 2026) against tearing.

use std::io::{self, Write};

use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::Rect;
use ratatui::style::Color;
use unicode_width::UnicodeWidthStr;

use crate::tui::color::{Depth, Pen, degrade, sgr};

/// Writes successive frames, remembering what the terminal shows.
pub struct ScreenWriter {
    prev: Option<Buffer>,
    /// Rows whose content on the terminal is unknown (after a scroll): redrawn fully.
    dirty_rows: Vec<bool>,
    pub depth: Depth,
    pub sync_output: bool,
    /// Use scroll regions to move content instead of redrawing it.
    pub scroll_regions: bool,
    /// The terminal has been cleared once; later full frames (after a resize or another
    /// program) overwrite every cell instead of clearing first, so nothing flickers.
    cleared: bool,
}

/// Whether synchronized output (DEC mode 2026) is worth sending to this terminal type: the
/// terminals that implement it hold the frame back until it is complete, the others ignore an
/// unknown private mode, except the few that print or mishandle it (the Linux console,
/// monochrome hardware terminals and `dumb`).
pub fn sync_output_for(term: &str) -> bool {
    let t = term.to_ascii_lowercase();
    !(t.is_empty() || t == "dumb" || t == "linux" || t.starts_with("vt") || t == "cons25")
}

fn row_hash(buf: &Buffer, y: u16) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    let a = buf.area;
    for x in a.left()..a.right() {
        let c = &buf[(x, y)];
        for b in c.symbol().bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        let style = (color_key(c.fg) << 32) ^ (color_key(c.bg) << 8) ^ c.modifier.bits() as u64;
        h = (h ^ style).wrapping_mul(0x100000001b3);
    }
    h
}

fn color_key(c: Color) -> u64 {
    match c {
        Color::Rgb(r, g, b) => 0x100_0000 | (r as u64) << 16 | (g as u64) << 8 | b as u64,
        Color::Indexed(i) => 0x200_0000 | i as u64,
        Color::Reset => 0x300_0000,
        other => {
            // Named colours: their 16-colour index.
            0x400_0000 | crate::tui::color::nearest_16_of(other) as u64
        }
    }
}

/// A scroll of rows `top..bottom` by `shift` (positive: content moves up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scroll {
    pub top: u16,
    pub bottom: u16,
    pub shift: i32,
}

/// Finds the scroll that saves the most rows, if it saves at least `min_gain`.
pub fn find_scroll(prev: &Buffer, next: &Buffer, min_gain: usize) -> Option<Scroll> {
    let h = next.area.height as usize;
    if h < 4 || prev.area != next.area {
        return None;
    }
    let ph: Vec<u64> = (0..h as u16).map(|y| row_hash(prev, y)).collect();
    let nh: Vec<u64> = (0..h as u16).map(|y| row_hash(next, y)).collect();
    let mut best: Option<(usize, Scroll)> = None;
    let max_shift = (h / 2) as i32;
    for shift in (1..=max_shift).flat_map(|k| [k, -k]) {
        // Rows y of next that equal row y+shift of prev, in runs.
        let mut y = 0usize;
        while y < h {
            let src = y as i32 + shift;
            let ok = |y: usize| {
                let s = y as i32 + shift;
                s >= 0 && (s as usize) < h && nh[y] == ph[s as usize]
            };
            if !(src >= 0 && (src as usize) < h && ok(y)) {
                y += 1;
                continue;
            }
            let start = y;
            while y < h && ok(y) {
                y += 1;
            }
            let run = y - start;
            // Rows already right without scrolling don't count as a gain.
            let already = (start..y).filter(|&r| nh[r] == ph[r]).count();
            let gain = run - already;
            if gain >= min_gain && best.as_ref().is_none_or(|(g, _)| gain > *g) {
                let (top, bottom) = if shift > 0 {
                    (start, y + shift as usize)
                } else {
                    ((start as i32 + shift) as usize, y)
                };
                best = Some((
                    gain,
                    Scroll {
                        top: top as u16,
                        bottom: bottom as u16,
                        shift,
                    },
                ));
            }
        }
    }
    best.map(|(_, s)| s)
}

impl ScreenWriter {
    pub fn new(depth: Depth) -> ScreenWriter {
        ScreenWriter {
            prev: None,
            dirty_rows: Vec::new(),
            depth,
            sync_output: true,
            scroll_regions: true,
            cleared: false,
        }
    }

    /// Forgets what the terminal shows: the next frame is drawn in full.
    pub fn invalidate(&mut self) {
        self.prev = None;
    }

    fn pen_of(&self, c: &Cell) -> Pen {
        Pen {
            fg: degrade(c.fg, self.depth),
            bg: degrade(c.bg, self.depth),
            modifier: c.modifier,
        }
    }

    /// Writes `next`, given what the terminal showed after the previous call. `cursor` shows the
    /// text cursor there (or hides it). Returns the bytes written.
    pub fn present<W: Write>(
        &mut self,
        next: &Buffer,
        cursor: Option<(u16, u16)>,
        out: &mut W,
    ) -> io::Result<usize> {
        let mut s = String::with_capacity(4096);
        let area = next.area;
        let full = self.prev.as_ref().is_none_or(|p| p.area != area);
        if self.sync_output {
            s.push_str("\x1b[?2026h");
        }
        s.push_str("\x1b[?25l");
        let mut pen = Pen::default();
        s.push_str("\x1b[0m");
        if full {
            if !self.cleared {
                s.push_str("\x1b[H\x1b[2J");
                self.cleared = true;
            }
            self.dirty_rows = vec![true; area.height as usize];
            self.prev = Some(Buffer::empty(area));
        } else if self.scroll_regions {
            let prev = self.prev.as_mut().expect("prev");
            if let Some(sc) = find_scroll(prev, next, 3) {
                // Default pen so the rows scrolled in are blank with the default background.
                s.push_str(&format!("\x1b[{};{}r", sc.top + 1, sc.bottom));
                if sc.shift > 0 {
                    s.push_str(&format!("\x1b[{}S", sc.shift));
                } else {
                    s.push_str(&format!("\x1b[{}T", -sc.shift));
                }
                s.push_str("\x1b[r");
                shift_rows(prev, &mut self.dirty_rows, sc);
            }
        }
        let prev = self.prev.as_ref().expect("prev");
        let mut cur: Option<(u16, u16)> = None;
        for y in area.top()..area.bottom() {
            let row_dirty = self.dirty_rows.get(y as usize).copied().unwrap_or(true);
            let mut x = area.left();
            while x < area.right() {
                let c = &next[(x, y)];
                let w = c.symbol().width().max(1) as u16;
                if !row_dirty && prev[(x, y)] == *c {
                    x += 1;
                    continue;
                }
                match cur {
                    Some((cx, cy)) if cy == y && cx == x => {}
                    Some((cx, cy))
                        if cy == y
                            && x > cx
                            && x - cx <= 3
                            && (cx..x).all(|gx| next[(gx, y)].symbol().width() == 1) =>
                    {
                        // Cheaper to rewrite the few cells in between than to move.
                        for gx in cx..x {
                            let g = &next[(gx, y)];
                            let gp = self.pen_of(g);
                            s.push_str(&sgr(pen, gp));
                            pen = gp;
                            s.push_str(g.symbol());
                        }
                    }
                    Some((cx, cy)) if cy == y && x > cx => s.push_str(&format!("\x1b[{}C", x - cx)),
                    _ => s.push_str(&format!("\x1b[{};{}H", y + 1, x + 1)),
                }
                let p = self.pen_of(c);
                s.push_str(&sgr(pen, p));
                pen = p;
                s.push_str(c.symbol());
                x += w;
                cur = Some((x, y));
            }
        }
        s.push_str(&sgr(pen, Pen::default()));
        if let Some((x, y)) = cursor {
            s.push_str(&format!("\x1b[{};{}H\x1b[?25h", y + 1, x + 1));
        }
        if self.sync_output {
            s.push_str("\x1b[?2026l");
        }
        out.write_all(s.as_bytes())?;
        out.flush()?;
        self.prev = Some(next.clone());
        self.dirty_rows = vec![false; area.height as usize];
        Ok(s.len())
    }
}

/// Applies a terminal scroll to our picture of the screen; the rows scrolled in are unknown.
fn shift_rows(prev: &mut Buffer, dirty: &mut [bool], sc: Scroll) {
    let area = prev.area;
    let (top, bottom) = (sc.top as i32, sc.bottom as i32);
    let rows: Vec<Vec<Cell>> = (top..bottom)
        .map(|y| {
            (area.left()..area.right())
                .map(|x| prev[(x, y as u16)].clone())
                .collect()
        })
        .collect();
    let was_dirty = dirty.to_vec();
    for y in top..bottom {
        let src = y + sc.shift;
        let yi = y as u16;
        let d = if src >= top && src < bottom {
            for (i, x) in (area.left()..area.right()).enumerate() {
                prev[(x, yi)] = rows[(src - top) as usize][i].clone();
            }
            was_dirty.get(src as usize).copied().unwrap_or(true)
        } else {
            true
        };
        if let Some(slot) = dirty.get_mut(y as usize) {
            *slot = d;
        }
    }
}

/// Renders a buffer as ANSI text lines (for `snapshot --output ansi`), no cursor movement.
pub fn ansi_lines(buf: &Buffer, depth: Depth) -> String {
    let mut s = String::new();
    let a: Rect = buf.area;
    for y in a.top()..a.bottom() {
        let mut pen = Pen::default();
        let mut x = a.left();
        while x < a.right() {
            let c = &buf[(x, y)];
            let p = Pen {
                fg: degrade(c.fg, depth),
                bg: degrade(c.bg, depth),
                modifier: c.modifier,
            };
            s.push_str(&sgr(pen, p));
            pen = p;
            s.push_str(c.symbol());
            x += c.symbol().width().max(1) as u16;
        }
        s.push_str(&sgr(pen, Pen::default()));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    fn buf_from(lines: &[&str]) -> Buffer {
        let w = lines.iter().map(|l| l.len()).max().unwrap_or(0) as u16;
        let mut b = Buffer::empty(Rect::new(0, 0, w, lines.len() as u16));
        for (y, l) in lines.iter().enumerate() {
            b.set_string(0, y as u16, l, Style::default());
        }
        b
    }

    /// A tiny terminal emulator: applies our output to a grid of chars.
    fn emulate(grid: &mut [Vec<char>], bytes: &[u8]) {
        let s = String::from_utf8_lossy(bytes);
        let mut chars = s.chars().peekable();
        let (mut cx, mut cy) = (0usize, 0usize);
        let h = grid.len();
        let mut region = (0usize, h);
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    let mut params = String::new();
                    let mut fin = ' ';
                    for d in chars.by_ref() {
                        if d.is_ascii_alphabetic() {
                            fin = d;
                            break;
                        }
                        params.push(d);
                    }
                    let nums: Vec<usize> = params
                        .trim_start_matches('?')
                        .split(';')
                        .filter_map(|p| p.parse().ok())
                        .collect();
                    match fin {
                        'H' => {
                            cy = nums.first().copied().unwrap_or(1) - 1;
                            cx = nums.get(1).copied().unwrap_or(1) - 1;
                        }
                        'C' => cx += nums.first().copied().unwrap_or(1),
                        'J' => grid
                            .iter_mut()
                            .for_each(|r| r.iter_mut().for_each(|c| *c = ' ')),
                        'r' => {
                            region = if nums.is_empty() {
                                (0, h)
                            } else {
                                (nums[0] - 1, nums[1])
                            };
                            cx = 0;
                            cy = 0;
                        }
                        'S' | 'T' => {
                            let n = nums.first().copied().unwrap_or(1);
                            for _ in 0..n {
                                if fin == 'S' {
                                    grid[region.0..region.1].rotate_left(1);
                                    grid[region.1 - 1].iter_mut().for_each(|c| *c = ' ');
                                } else {
                                    grid[region.0..region.1].rotate_right(1);
                                    grid[region.0].iter_mut().for_each(|c| *c = ' ');
                                }
                            }
                        }
                        _ => {}
                    }
                }
            } else {
                grid[cy][cx] = c;
                cx += 1;
            }
        }
    }

    fn text(grid: &[Vec<char>]) -> Vec<String> {
        grid.iter().map(|r| r.iter().collect()).collect()
    }

    #[test]
    fn a_repaint_after_resize_overwrites_every_cell_without_clearing() {
        let mut sc = ScreenWriter::new(Depth::TrueColor);
        let mut out = Vec::new();
        sc.present(&buf_from(&["first frame", "second row"]), None, &mut out)
            .unwrap();
        assert!(String::from_utf8_lossy(&out).contains("\x1b[2J"));
        sc.invalidate();
        let next = buf_from(&["a b", "", "c"]);
        let mut out = Vec::new();
        sc.present(&next, None, &mut out).unwrap();
        assert!(
            !String::from_utf8_lossy(&out).contains("\x1b[2J"),
            "no clear: the old picture is overwritten in place"
        );
        // Whatever the terminal showed before, it now shows exactly the frame.
        let mut grid = vec![vec!['#'; 3]; 3];
        emulate(&mut grid, &out);
        assert_eq!(text(&grid), ["a b", "   ", "c  "]);
    }

    #[test]
    fn sync_output_is_sent_except_to_terminals_that_mishandle_it() {
        assert!(sync_output_for("xterm-256color"));
        assert!(sync_output_for("tmux-256color"));
        assert!(!sync_output_for("linux"));
        assert!(!sync_output_for("vt100"));
        assert!(!sync_output_for(""));
    }

    #[test]
    fn unchanged_frame_writes_almost_nothing() {
        let mut sc = ScreenWriter::new(Depth::TrueColor);
        let b = buf_from(&["hello", "world"]);
        let mut out = Vec::new();
        sc.present(&b, None, &mut out).unwrap();
        let mut out2 = Vec::new();
        let n = sc.present(&b, None, &mut out2).unwrap();
        assert!(n < 40, "{n} bytes: {:?}", String::from_utf8_lossy(&out2));
        assert!(!String::from_utf8_lossy(&out2).contains("hello"));
    }

    #[test]
    fn scrolling_uses_the_terminal_and_stays_correct() {
        let rows: Vec<String> = (0..30)
            .map(|i| format!("row {i:02} {}", "x".repeat(60)))
            .collect();
        let frame = |off: usize| {
            let mut lines = vec!["HEADER".to_string()];
            lines.extend(rows[off..off + 20].iter().cloned());
            lines.push("STATUS".into());
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            buf_from(&refs)
        };
        let mut sc = ScreenWriter::new(Depth::TrueColor);
        let w = frame(0).area.width as usize;
        let mut grid = vec![vec![' '; w]; 22];
        let mut out = Vec::new();
        sc.present(&frame(0), None, &mut out).unwrap();
        emulate(&mut grid, &out);
        let mut out = Vec::new();
        let n = sc.present(&frame(1), None, &mut out).unwrap();
        emulate(&mut grid, &out);
        assert!(n < 200, "a one-row scroll wrote {n} bytes");
        let want: Vec<String> = (0..22)
            .map(|y| {
                frame(1).content[y * w..(y + 1) * w]
                    .iter()
                    .map(|c| c.symbol())
                    .collect()
            })
            .collect();
        assert_eq!(text(&grid), want);
        // And back up.
        let mut out = Vec::new();
        sc.present(&frame(0), None, &mut out).unwrap();
        emulate(&mut grid, &out);
        let want: Vec<String> = (0..22)
            .map(|y| {
                frame(0).content[y * w..(y + 1) * w]
                    .iter()
                    .map(|c| c.symbol())
                    .collect()
            })
            .collect();
        assert_eq!(text(&grid), want);
    }

    #[test]
    fn random_edits_render_exactly() {
        let mut rng = crate::util::Rng::new(3);
        let mut sc = ScreenWriter::new(Depth::Ansi256);
        let (w, h) = (40usize, 15usize);
        let mut grid = vec![vec![' '; w]; h];
        let mut lines: Vec<String> = (0..h)
            .map(|i| format!("{i:02}{}", "-".repeat(w - 2)))
            .collect();
        for _ in 0..200 {
            match rng.below(3) {
                0 => lines.rotate_left(rng.range(1, 3) as usize),
                1 => lines.rotate_right(1),
                _ => {
                    let y = rng.below(h as u64) as usize;
                    let x = rng.below(w as u64) as usize;
                    lines[y].replace_range(x..x + 1, "#");
                }
            }
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let b = buf_from(&refs);
            let mut out = Vec::new();
            sc.present(&b, None, &mut out).unwrap();
            emulate(&mut grid, &out);
            assert_eq!(text(&grid), lines);
        }
    }
}
