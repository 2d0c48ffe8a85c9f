//! Colour depth: detection (COLORTERM, TERM, tmux, NO_COLOR), degrading a theme colour to the
//! nearest one the terminal has, and the SGR sequences that set a style.

use ratatui::style::{Color, Modifier};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Depth {
    /// No colour at all: attributes only (`NO_COLOR`, dumb terminals).
    None,
    Ansi16,
    Ansi256,
    TrueColor,
}

impl Depth {
    /// Detects the depth from the environment. `NO_COLOR` (any value) wins. `COLORTERM` is
    /// trusted when it says truecolor; otherwise `TERM` decides: terminal types whose terminfo
    /// entries carry 24-bit colour, `*-256color` (what ssh forwards from most desktop terminals,
    /// and what tmux and screen set when configured for it), monochrome types (`dumb`, `vt100`,
    /// `vt220`), and 16 colours for the rest (`xterm`, `screen`, `linux`, `ansi`, unset).
    pub fn detect(env: impl Fn(&str) -> Option<String>) -> Depth {
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Depth::None;
        }
        let colorterm = env("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            return Depth::TrueColor;
        }
        let term = env("TERM").unwrap_or_default().to_ascii_lowercase();
        const MONO: [&str; 6] = ["dumb", "vt100", "vt102", "vt220", "vt52", "cons25"];
        if MONO.contains(&term.as_str()) {
            return Depth::None;
        }
        // Terminal types whose terminfo entries declare RGB colour.
        const DIRECT: [&str; 7] = [
            "xterm-kitty",
            "xterm-ghostty",
            "alacritty",
            "wezterm",
            "foot",
            "contour",
            "iterm2",
        ];
        if term.contains("direct")
            || term.contains("truecolor")
            || DIRECT
                .iter()
                .any(|d| term == *d || term.starts_with(&format!("{d}-")))
        {
            return Depth::TrueColor;
        }
        if term.contains("256") {
            return Depth::Ansi256;
        }
        // `xterm`, `screen`, `tmux`, `linux`, `ansi`, `rxvt` and an unset TERM: the 16 colours
        // every one of them has.
        Depth::Ansi16
    }

    /// The depth to draw with: `NO_COLOR` first (it means no colour in any output), then an
    /// explicit `--colors` (anything but `auto`), then the config's `colors`, then detection.
    pub fn choose(
        flag: Option<Depth>,
        config: Option<Depth>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Depth {
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Depth::None;
        }
        flag.or(config).unwrap_or_else(|| Depth::detect(env))
    }

    pub fn parse(s: &str) -> Option<Depth> {
        Some(match s.to_ascii_lowercase().as_str() {
            "none" | "mono" | "0" => Depth::None,
            "16" | "ansi" => Depth::Ansi16,
            "256" => Depth::Ansi256,
            "truecolor" | "24bit" | "rgb" => Depth::TrueColor,
            _ => return None,
        })
    }
}

const ANSI16_RGB: [(u8, u8, u8); 16] = [
    (0, 0, 0),
    (205, 0, 0),
    (0, 205, 0),
    (205, 205, 0),
    (0, 0, 238),
    (205, 0, 205),
    (0, 205, 205),
    (229, 229, 229),
    (127, 127, 127),
    (255, 0, 0),
    (0, 255, 0),
    (255, 255, 0),
    (92, 92, 255),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
];

fn ansi16_color(i: u8) -> Color {
    match i {
        0 => Color::Black,
        1 => Color::Red,
        2 => Color::Green,
        3 => Color::Yellow,
        4 => Color::Blue,
        5 => Color::Magenta,
        6 => Color::Cyan,
        7 => Color::Gray,
        8 => Color::DarkGray,
        9 => Color::LightRed,
        10 => Color::LightGreen,
        11 => Color::LightYellow,
        12 => Color::LightBlue,
        13 => Color::LightMagenta,
        14 => Color::LightCyan,
        _ => Color::White,
    }
}

/// The ANSI index (0-15) of a named colour.
pub fn nearest_16_of(c: Color) -> u8 {
    (0..16u8).find(|&i| ansi16_color(i) == c).unwrap_or(7)
}

fn dist(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    // Weighted (redmean-like) distance: closer to how people see colour than plain RGB.
    let dr = a.0 as i32 - b.0 as i32;
    let dg = a.1 as i32 - b.1 as i32;
    let db = a.2 as i32 - b.2 as i32;
    (2 * dr * dr + 4 * dg * dg + 3 * db * db) as u32
}

/// RGB of an xterm-256 index.
pub fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16_RGB[i as usize],
        16..=231 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (level(i / 36), level((i / 6) % 6), level(i % 6))
        }
        _ => {
            let g = 8 + (i - 232) * 10;
            (g, g, g)
        }
    }
}

/// Nearest xterm-256 index of an RGB colour (cube or grey ramp).
pub fn nearest_256(rgb: (u8, u8, u8)) -> u8 {
    let cube = |v: u8| -> u8 {
        if v < 48 {
            0
        } else if v < 115 {
            1
        } else {
            (v - 35) / 40
        }
    };
    let (r, g, b) = (cube(rgb.0), cube(rgb.1), cube(rgb.2));
    let ci = 16 + 36 * r + 6 * g + b;
    let avg = (rgb.0 as u32 + rgb.1 as u32 + rgb.2 as u32) / 3;
    let gi = if avg > 238 {
        255
    } else {
        232 + ((avg.saturating_sub(3)) / 10).min(23) as u8
    };
    if dist(indexed_rgb(gi), rgb) < dist(indexed_rgb(ci), rgb) {
        gi
    } else {
        ci
    }
}

/// The one of the 16 ANSI colours that looks most like `rgb`: dark colours are black, greys
/// go by lightness (black, bright black, white, bright white), colours by hue (red, yellow,
/// green, cyan, blue, magenta), the light ones to the bright variant. Nearest-by-distance
/// would paint a muted green (a theme's "healthy") the same grey as dimmed text, since the 16
/// colours are far apart and saturated.
pub fn nearest_16(rgb: (u8, u8, u8)) -> u8 {
    let (r, g, b) = (
        rgb.0 as f64 / 255.0,
        rgb.1 as f64 / 255.0,
        rgb.2 as f64 / 255.0,
    );
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let v = max;
    let s = if max == 0.0 { 0.0 } else { (max - min) / max };
    if v < 0.22 {
        return 0;
    }
    // Greys, and pale tints (a light selection or diff background) that would otherwise
    // become a loud bright colour.
    if s < 0.22 || (s < 0.35 && v > 0.8) {
        let l = (max + min) / 2.0;
        return if l < 0.25 {
            0
        } else if l < 0.6 {
            8
        } else if l < 0.88 {
            7
        } else {
            15
        };
    }
    let d = max - min;
    let h = if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    let base = if !(20.0..330.0).contains(&h) {
        1
    } else if h < 70.0 {
        3
    } else if h < 165.0 {
        2
    } else if h < 200.0 {
        6
    } else if h < 260.0 {
        4
    } else {
        5
    };
    if v >= 0.8 { base + 8 } else { base }
}

/// The relative luminance (WCAG) of one of the 16 colours, as xterm draws it.
pub fn luminance_16(i: u8) -> f64 {
    let (r, g, b) = ANSI16_RGB[(i & 15) as usize];
    let lin = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// The contrast ratio (WCAG, 1 to 21) of two of the 16 colours.
pub fn contrast_16(a: u8, b: u8) -> f64 {
    let (x, y) = (luminance_16(a), luminance_16(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// The ANSI index of a named or 16-colour indexed colour (`None` for others).
pub fn index_16(c: Color) -> Option<u8> {
    match c {
        Color::Indexed(i) if i < 16 => Some(i),
        Color::Reset | Color::Indexed(_) | Color::Rgb(..) => None,
        c => Some(nearest_16_of(c)),
    }
}

/// Text on a background, both among the 16 colours, is readable from this contrast on.
pub const MIN_CONTRAST_16: f64 = 3.0;

/// Whether a 16-colour index is a grey (black, white and the two greys).
pub fn is_grey_16(i: u8) -> bool {
    matches!(i, 0 | 7 | 8 | 15)
}

/// Black or bright white, whichever reads better on `bg` (one of the 16).
pub fn on_16(bg: u8) -> Color {
    if contrast_16(15, bg) >= contrast_16(0, bg) {
        Color::White
    } else {
        Color::Black
    }
}

/// `fg` if it reads on `bg` (16 colours), else bright white or black, whichever reads better.
pub fn readable_16(fg: Color, bg: Color) -> Color {
    let (Some(f), Some(b)) = (index_16(fg), index_16(bg)) else {
        return fg;
    };
    if contrast_16(f, b) >= MIN_CONTRAST_16 {
        return fg;
    }
    if contrast_16(15, b) >= contrast_16(0, b) {
        Color::White
    } else {
        Color::Black
    }
}

/// Degrades a colour to what `depth` can show.
pub fn degrade(c: Color, depth: Depth) -> Color {
    match (c, depth) {
        (Color::Reset, _) => Color::Reset,
        (_, Depth::None) => Color::Reset,
        (Color::Rgb(r, g, b), Depth::Ansi256) => Color::Indexed(nearest_256((r, g, b))),
        (Color::Rgb(r, g, b), Depth::Ansi16) => ansi16_color(nearest_16((r, g, b))),
        (Color::Indexed(i), Depth::Ansi16) => ansi16_color(if i < 16 {
            i
        } else {
            nearest_16(indexed_rgb(i))
        }),
        (c, _) => c,
    }
}

/// Appends the SGR parameters for a foreground (`base` 30) or background (`base` 40) colour.
fn color_params(c: Color, bg: bool, out: &mut String) {
    use std::fmt::Write;
    let (base, bright) = if bg { (40, 100) } else { (30, 90) };
    match c {
        Color::Reset => {
            let _ = write!(out, "{}", base + 9);
        }
        Color::Black => {
            let _ = write!(out, "{base}");
        }
        Color::Red => {
            let _ = write!(out, "{}", base + 1);
        }
        Color::Green => {
            let _ = write!(out, "{}", base + 2);
        }
        Color::Yellow => {
            let _ = write!(out, "{}", base + 3);
        }
        Color::Blue => {
            let _ = write!(out, "{}", base + 4);
        }
        Color::Magenta => {
            let _ = write!(out, "{}", base + 5);
        }
        Color::Cyan => {
            let _ = write!(out, "{}", base + 6);
        }
        Color::Gray => {
            let _ = write!(out, "{}", base + 7);
        }
        Color::DarkGray => {
            let _ = write!(out, "{bright}");
        }
        Color::LightRed => {
            let _ = write!(out, "{}", bright + 1);
        }
        Color::LightGreen => {
            let _ = write!(out, "{}", bright + 2);
        }
        Color::LightYellow => {
            let _ = write!(out, "{}", bright + 3);
        }
        Color::LightBlue => {
            let _ = write!(out, "{}", bright + 4);
        }
        Color::LightMagenta => {
            let _ = write!(out, "{}", bright + 5);
        }
        Color::LightCyan => {
            let _ = write!(out, "{}", bright + 6);
        }
        Color::White => {
            let _ = write!(out, "{}", bright + 7);
        }
        Color::Indexed(i) => {
            let _ = write!(out, "{};5;{i}", base + 8);
        }
        Color::Rgb(r, g, b) => {
            let _ = write!(out, "{};2;{r};{g};{b}", base + 8);
        }
    }
}

/// The pen: what the terminal currently draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pen {
    pub fg: Color,
    pub bg: Color,
    pub modifier: Modifier,
}

impl Default for Pen {
    fn default() -> Self {
        Pen {
            fg: Color::Reset,
            bg: Color::Reset,
            modifier: Modifier::empty(),
        }
    }
}

const MODS: [(Modifier, u8); 8] = [
    (Modifier::BOLD, 1),
    (Modifier::DIM, 2),
    (Modifier::ITALIC, 3),
    (Modifier::UNDERLINED, 4),
    (Modifier::SLOW_BLINK, 5),
    (Modifier::REVERSED, 7),
    (Modifier::HIDDEN, 8),
    (Modifier::CROSSED_OUT, 9),
];

/// The shortest SGR sequence that changes `from` into `to` (empty when equal). Colours must
/// already be degraded.
pub fn sgr(from: Pen, to: Pen) -> String {
    if from == to {
        return String::new();
    }
    let mut p = String::new();
    let removed = from.modifier - to.modifier;
    let (mut cur_fg, mut cur_bg, mut cur_mod) = (from.fg, from.bg, from.modifier);
    if !removed.is_empty() {
        p.push('0');
        cur_fg = Color::Reset;
        cur_bg = Color::Reset;
        cur_mod = Modifier::empty();
    }
    for (m, code) in MODS {
        if to.modifier.contains(m) && !cur_mod.contains(m) {
            if !p.is_empty() {
                p.push(';');
            }
            p.push_str(&code.to_string());
        }
    }
    if to.fg != cur_fg {
        if !p.is_empty() {
            p.push(';');
        }
        color_params(to.fg, false, &mut p);
    }
    if to.bg != cur_bg {
        if !p.is_empty() {
            p.push(';');
        }
        color_params(to.bg, true, &mut p);
    }
    if p.is_empty() {
        return p;
    }
    format!("\x1b[{p}m")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(a, _)| *a == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn detection() {
        assert_eq!(
            Depth::detect(env(&[("COLORTERM", "truecolor"), ("TERM", "xterm")])),
            Depth::TrueColor
        );
        assert_eq!(
            Depth::detect(env(&[("TERM", "xterm-256color")])),
            Depth::Ansi256
        );
        assert_eq!(
            Depth::detect(env(&[("TERM", "tmux-256color")])),
            Depth::Ansi256
        );
        assert_eq!(Depth::detect(env(&[("TERM", "screen")])), Depth::Ansi16);
        assert_eq!(
            Depth::detect(env(&[("TERM", "xterm-256color"), ("NO_COLOR", "1")])),
            Depth::None
        );
        assert_eq!(Depth::detect(env(&[("TERM", "dumb")])), Depth::None);
        assert_eq!(Depth::detect(env(&[("TERM", "vt100")])), Depth::None);
        assert_eq!(Depth::detect(env(&[("TERM", "linux")])), Depth::Ansi16);
        assert_eq!(Depth::detect(env(&[])), Depth::Ansi16);
        assert_eq!(
            Depth::detect(env(&[("TERM", "xterm-kitty")])),
            Depth::TrueColor
        );
        assert_eq!(
            Depth::detect(env(&[("TERM", "xterm-direct")])),
            Depth::TrueColor
        );
        // ssh without COLORTERM forwarded: TERM still says 256.
        assert_eq!(
            Depth::detect(env(&[
                ("TERM", "xterm-256color"),
                ("SSH_TTY", "/dev/pts/3")
            ])),
            Depth::Ansi256
        );
        assert_eq!(
            Depth::detect(env(&[("TERM", "screen-256color"), ("TMUX", "/tmp/x,1,0")])),
            Depth::Ansi256
        );
        assert_eq!(
            Depth::detect(env(&[("TERM", "screen"), ("TMUX", "/tmp/x,1,0")])),
            Depth::Ansi16
        );
    }

    #[test]
    fn choosing_the_depth() {
        let tc = env(&[("COLORTERM", "truecolor")]);
        assert_eq!(Depth::choose(None, None, &tc), Depth::TrueColor);
        assert_eq!(
            Depth::choose(None, Some(Depth::Ansi256), &tc),
            Depth::Ansi256,
            "the config overrides detection"
        );
        assert_eq!(
            Depth::choose(Some(Depth::Ansi16), Some(Depth::Ansi256), &tc),
            Depth::Ansi16,
            "the flag overrides the config"
        );
        let nc = env(&[("COLORTERM", "truecolor"), ("NO_COLOR", "1")]);
        assert_eq!(
            Depth::choose(Some(Depth::TrueColor), Some(Depth::Ansi256), &nc),
            Depth::None,
            "NO_COLOR wins"
        );
    }

    #[test]
    fn degrading_finds_near_colours() {
        assert_eq!(
            degrade(Color::Rgb(255, 0, 0), Depth::Ansi16),
            Color::LightRed
        );
        assert_eq!(
            degrade(Color::Rgb(0, 0, 0), Depth::Ansi256),
            Color::Indexed(16)
        );
        assert_eq!(
            degrade(Color::Rgb(128, 128, 128), Depth::Ansi256),
            Color::Indexed(244)
        );
        assert_eq!(degrade(Color::Rgb(1, 2, 3), Depth::None), Color::Reset);
        assert_eq!(degrade(Color::Green, Depth::TrueColor), Color::Green);
        for i in 16..=255u8 {
            assert_eq!(nearest_256(indexed_rgb(i)), i, "index {i} maps to itself");
        }
    }

    #[test]
    fn sgr_is_minimal() {
        let a = Pen::default();
        let b = Pen {
            fg: Color::Red,
            ..a
        };
        assert_eq!(sgr(a, b), "\x1b[31m");
        assert_eq!(sgr(b, b), "");
        let c = Pen {
            modifier: Modifier::BOLD,
            ..b
        };
        assert_eq!(sgr(b, c), "\x1b[1m");
        assert_eq!(sgr(c, b), "\x1b[0;31m", "removing bold resets");
        let d = Pen {
            bg: Color::Rgb(1, 2, 3),
            ..a
        };
        assert_eq!(sgr(a, d), "\x1b[48;2;1;2;3m");
    }
}
