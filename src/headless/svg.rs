//! A rendered frame as an SVG image (colours and attributes included), for reports and incident
//! write-ups: one rectangle per run of background colour and one `<text>` per run of same-styled
//! characters, on a monospace grid.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

/// The terminal's own colours, for cells that use them (a dark terminal).
const DEFAULT_FG: (u8, u8, u8) = (0xc9, 0xd1, 0xd9);
const DEFAULT_BG: (u8, u8, u8) = (0x0d, 0x11, 0x17);
const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;

fn rgb(c: Color, default: (u8, u8, u8)) -> (u8, u8, u8) {
    match c {
        Color::Reset => default,
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) => crate::tui::color::indexed_rgb(i),
        named => crate::tui::color::indexed_rgb(crate::tui::color::nearest_16_of(named)),
    }
}

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            c if (c as u32) < 0x20 => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// The frame as an SVG document.
pub fn svg(buf: &Buffer) -> String {
    let area = buf.area;
    let (w, h) = (area.width as f32 * CELL_W, area.height as f32 * CELL_H);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.1} {h:.1}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"14\">\n<rect width=\"100%\" height=\"100%\" fill=\"{}\"/>\n",
        hex(DEFAULT_BG)
    );
    for y in 0..area.height {
        let top = y as f32 * CELL_H;
        // Backgrounds: runs of the same colour.
        let mut x = 0;
        while x < area.width {
            let cell = &buf[(area.x + x, area.y + y)];
            let reversed = cell.modifier.contains(Modifier::REVERSED);
            let bg = if reversed {
                rgb(cell.fg, DEFAULT_FG)
            } else {
                rgb(cell.bg, DEFAULT_BG)
            };
            let start = x;
            while x < area.width {
                let c = &buf[(area.x + x, area.y + y)];
                let r = c.modifier.contains(Modifier::REVERSED);
                let b = if r {
                    rgb(c.fg, DEFAULT_FG)
                } else {
                    rgb(c.bg, DEFAULT_BG)
                };
                if b != bg {
                    break;
                }
                x += 1;
            }
            if bg != DEFAULT_BG {
                out.push_str(&format!(
                    "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{CELL_H:.1}\" fill=\"{}\"/>\n",
                    start as f32 * CELL_W,
                    (x - start) as f32 * CELL_W,
                    hex(bg)
                ));
            }
        }
        // Text: runs of the same style, placed at their first cell.
        let mut x = 0;
        while x < area.width {
            let cell = &buf[(area.x + x, area.y + y)];
            let key = (cell.fg, cell.bg, cell.modifier);
            let start = x;
            let mut text = String::new();
            while x < area.width {
                let c = &buf[(area.x + x, area.y + y)];
                if (c.fg, c.bg, c.modifier) != key {
                    break;
                }
                text.push_str(c.symbol());
                x += 1;
            }
            if text.trim().is_empty() {
                continue;
            }
            let reversed = key.2.contains(Modifier::REVERSED);
            let fg = if reversed {
                rgb(key.1, DEFAULT_BG)
            } else {
                rgb(key.0, DEFAULT_FG)
            };
            let mut attrs = String::new();
            if key.2.contains(Modifier::BOLD) {
                attrs.push_str(" font-weight=\"bold\"");
            }
            if key.2.contains(Modifier::ITALIC) {
                attrs.push_str(" font-style=\"italic\"");
            }
            if key.2.contains(Modifier::UNDERLINED) {
                attrs.push_str(" text-decoration=\"underline\"");
            }
            if key.2.contains(Modifier::DIM) {
                attrs.push_str(" opacity=\"0.6\"");
            }
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\" xml:space=\"preserve\" textLength=\"{:.1}\" lengthAdjust=\"spacingAndGlyphs\"{attrs}>{}</text>\n",
                start as f32 * CELL_W,
                top + CELL_H * 0.78,
                hex(fg),
                (x - start) as f32 * CELL_W,
                escape(&text)
            ));
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn runs_colours_and_escaping() {
        let mut b = Buffer::empty(Rect::new(0, 0, 10, 2));
        b.set_string(
            0,
            0,
            "a<b",
            Style::default()
                .fg(Color::Rgb(255, 0, 0))
                .bg(Color::Rgb(0, 0, 255)),
        );
        b.set_string(3, 0, "ok", Style::default().add_modifier(Modifier::BOLD));
        let s = svg(&b);
        assert!(s.starts_with("<svg "));
        assert!(s.contains("fill=\"#0000ff\""), "{s}");
        assert!(s.contains(">a&lt;b</text>"), "{s}");
        assert!(s.contains("fill=\"#ff0000\""), "{s}");
        assert!(s.contains("font-weight=\"bold\">ok</text>"), "{s}");
        assert!(s.trim_end().ends_with("</svg>"));
    }
}
