//! Themes: semantic dotted roles with parent fallback, a palette, and `inherits`.
//!
//! `style("sync.outofsync.selected")` falls back to `sync.outofsync`, then `sync`, then `text`.
//! Builtins are embedded; a user file beside the config is merged key by key over its parent.
//! A broken user file is reported (file and line) and the builtin is kept: never silently.

use std::collections::HashMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::config::FileError;

/// The embedded themes, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    inherits: Option<String>,
    #[serde(default)]
    palette: HashMap<String, String>,
    #[serde(default)]
    styles: HashMap<String, StyleSpec>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

/// A loaded theme.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    styles: HashMap<String, Style>,
    /// Drawn with the 16 ANSI colours: a role's text on a selection or a background is kept
    /// readable (see [`Theme::for_depth`]).
    sixteen: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::builtin("default").expect("the default theme is valid")
    }
}

fn parse_color(s: &str, palette: &HashMap<String, String>, depth: u8) -> Result<Color, String> {
    let s = s.trim();
    if let Some(p) = palette.get(s) {
        if depth > 8 {
            return Err(format!("palette entry `{s}` refers to itself"));
        }
        return parse_color(p, palette, depth + 1);
    }
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() == 6
            && let Ok(v) = u32::from_str_radix(hex, 16)
        {
            return Ok(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        return Err(format!("`{s}` is not a #rrggbb colour"));
    }
    if let Ok(i) = s.parse::<u8>() {
        return Ok(Color::Indexed(i));
    }
    Ok(
        match s.to_ascii_lowercase().replace(['_', '-'], "").as_str() {
            "reset" | "default" => Color::Reset,
            "black" => Color::Black,
            "red" => Color::Red,
            "green" => Color::Green,
            "yellow" => Color::Yellow,
            "blue" => Color::Blue,
            "magenta" => Color::Magenta,
            "cyan" => Color::Cyan,
            "gray" | "grey" => Color::Gray,
            "darkgray" | "darkgrey" | "brightblack" => Color::DarkGray,
            "lightred" | "brightred" => Color::LightRed,
            "lightgreen" | "brightgreen" => Color::LightGreen,
            "lightyellow" | "brightyellow" => Color::LightYellow,
            "lightblue" | "brightblue" => Color::LightBlue,
            "lightmagenta" | "brightmagenta" => Color::LightMagenta,
            "lightcyan" | "brightcyan" => Color::LightCyan,
            "white" | "brightwhite" => Color::White,
            _ => {
                return Err(format!(
                    "unknown colour `{s}`: use a palette name, #rrggbb, 0-255, or an ANSI name like red or brightblue"
                ));
            }
        },
    )
}

fn parse_modifier(s: &str) -> Result<Modifier, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" | "underline" => Modifier::UNDERLINED,
        "reversed" | "reverse" => Modifier::REVERSED,
        "crossed_out" | "strikethrough" => Modifier::CROSSED_OUT,
        "slow_blink" | "blink" => Modifier::SLOW_BLINK,
        "hidden" => Modifier::HIDDEN,
        other => {
            return Err(format!(
                "unknown modifier `{other}`: use bold, dim, italic, underlined, reversed or crossed_out"
            ));
        }
    })
}

fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with(&quoted)
                || t.starts_with(&format!("{key} "))
                || t.starts_with(&format!("{key}="))
        })
        .map(|i| i + 1)
}

impl Theme {
    /// A builtin theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        let text = BUILTIN.iter().find(|(n, _)| *n == name)?.1;
        Theme::parse(Path::new(&format!("<builtin theme {name}>")), text, &|_| {
            None
        })
        .ok()
    }

    /// Parses a theme file. `lookup` finds a parent theme's text by name (user files first, then
    /// builtins).
    pub fn parse(
        path: &Path,
        text: &str,
        lookup: &dyn Fn(&str) -> Option<(std::path::PathBuf, String)>,
    ) -> Result<Theme, Vec<FileError>> {
        Self::parse_depth(path, text, lookup, 0)
    }

    fn parse_depth(
        path: &Path,
        text: &str,
        lookup: &dyn Fn(&str) -> Option<(std::path::PathBuf, String)>,
        depth: u8,
    ) -> Result<Theme, Vec<FileError>> {
        let file: ThemeFile =
            toml::from_str(text).map_err(|e| vec![FileError::from_toml(path, text, &e)])?;
        let name = file.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        // The parent: named by `inherits`, else the default builtin (unless this is it).
        let parent_name = file
            .inherits
            .clone()
            .or_else(|| (name != "default").then(|| "default".to_string()));
        let mut styles = HashMap::new();
        let mut palette = HashMap::new();
        if let Some(pn) = &parent_name {
            if depth > 6 {
                return Err(vec![FileError::new(path, None, "themes inherit in a loop")]);
            }
            let (ppath, ptext) = match lookup(pn) {
                Some(found) => found,
                None => match BUILTIN.iter().find(|(n, _)| n == pn) {
                    Some((_, t)) => (format!("<builtin theme {pn}>").into(), t.to_string()),
                    None => {
                        return Err(vec![FileError::new(
                            path,
                            line_of_key(text, "inherits"),
                            format!(
                                "inherits from `{pn}`, which is neither a builtin theme nor a file in the themes directory"
                            ),
                        )]);
                    }
                },
            };
            let parent = if ppath == path {
                // A user file named like a builtin overrides it and inherits from the builtin.
                let t = BUILTIN
                    .iter()
                    .find(|(n, _)| n == pn)
                    .map(|(_, t)| *t)
                    .unwrap_or("");
                Theme::parse_depth(
                    Path::new(&format!("<builtin theme {pn}>")),
                    t,
                    &|_| None,
                    depth + 1,
                )?
            } else {
                Theme::parse_depth(&ppath, &ptext, lookup, depth + 1)?
            };
            styles = parent.styles;
            // The ancestors' specs are resolved again with this file's palette, so a theme
            // that only changes colours changes them everywhere they are used.
            let (ppal, pspecs) = ancestry(lookup, pn, depth + 1, ppath == path);
            palette = ppal;
            palette.extend(file.palette.clone());
            let mut errs = Vec::new();
            for (role, spec) in &pspecs {
                if file.styles.contains_key(role) {
                    continue;
                }
                match resolve(spec, &palette) {
                    Ok(st) => {
                        styles.insert(role.clone(), st);
                    }
                    Err(ms) => {
                        for m in ms {
                            errs.push(FileError::new(
                                path,
                                None,
                                format!("inherited style `{role}` with this palette: {m}"),
                            ));
                        }
                    }
                }
            }
            if !errs.is_empty() {
                return Err(errs);
            }
        }
        palette.extend(file.palette.clone());
        let mut errs = Vec::new();
        for (role, spec) in &file.styles {
            match resolve(spec, &palette) {
                Ok(st) => {
                    styles.insert(role.clone(), st);
                }
                Err(ms) => {
                    let line = line_of_key(text, role);
                    for m in ms {
                        errs.push(FileError::new(path, line, format!("style `{role}`: {m}")));
                    }
                }
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Theme {
            name,
            styles,
            sixteen: false,
        })
    }

    /// The style of a role, falling back to its parents and finally `text`.
    pub fn style(&self, role: &str) -> Style {
        let mut r = role;
        loop {
            if let Some(s) = self.styles.get(r) {
                return *s;
            }
            match r.rfind('.') {
                Some(i) => r = &r[..i],
                None => return self.styles.get("text").copied().unwrap_or_default(),
            }
        }
    }

    /// The style of a role drawn on a selected row: `ROLE.selected`, or the role over `selection`.
    /// The role's style on a selected row, else its plain style.
    pub fn pick(&self, role: &str, selected: bool) -> Style {
        if selected {
            self.selected(role)
        } else {
            self.style(role)
        }
    }

    pub fn selected(&self, role: &str) -> Style {
        let key = format!("{role}.selected");
        if self.styles.contains_key(&key) {
            return self.styles[&key];
        }
        let sel = self.style("selection");
        let base = self.style(role);
        let mut st = Style {
            bg: sel.bg,
            fg: if sel.fg.is_some() && base.fg.is_none() {
                sel.fg
            } else {
                base.fg.or(sel.fg)
            },
            add_modifier: base.add_modifier | sel.add_modifier,
            ..base
        };
        if self.sixteen
            && let (Some(fg), Some(bg)) = (st.fg, st.bg)
        {
            use crate::tui::color::{MIN_CONTRAST_16, contrast_16, index_16, is_grey_16, on_16};
            if let (Some(f), Some(b)) = (index_16(fg), index_16(bg))
                && contrast_16(f, b) < MIN_CONTRAST_16
            {
                if is_grey_16(f) {
                    // Plain or dimmed text: white or black on the selection.
                    st.fg = Some(on_16(b));
                } else {
                    // A state's colour that does not read on the selection becomes the
                    // cell's background, so states stay told apart by colour on the
                    // selected row too.
                    st.bg = Some(fg);
                    st.fg = Some(on_16(f));
                }
            }
        }
        st
    }

    /// Whether any role sets a colour (as opposed to attributes only).
    pub fn uses_colour(&self) -> bool {
        use ratatui::style::Color;
        self.styles.values().any(|s| {
            s.fg.is_some_and(|c| c != Color::Reset) || s.bg.is_some_and(|c| c != Color::Reset)
        })
    }

    /// The theme to draw with at `depth`. Without colour (`NO_COLOR`, `colors = "none"`, a
    /// monochrome terminal) a theme made of colours would lose its selection bar and state
    /// colours, so the builtin `mono` theme (the same states told by attributes) takes its
    /// place; a theme without colours is kept.
    ///
    /// With 16 colours, every colour is mapped to its 16-colour look here (by hue, see
    /// [`crate::tui::color::nearest_16`]), and text drawn on a background (the bar, a
    /// selected row, an emphasized diff change) that would not read on it is drawn in bright
    /// white or black instead.
    pub fn for_depth(self, depth: crate::tui::color::Depth) -> Theme {
        use crate::tui::color::{Depth, degrade, readable_16};
        match depth {
            Depth::None if self.uses_colour() => Theme::builtin("mono").unwrap_or(self),
            Depth::Ansi16 => {
                let mut t = self;
                for st in t.styles.values_mut() {
                    st.fg = st.fg.map(|c| degrade(c, Depth::Ansi16));
                    st.bg = st.bg.map(|c| degrade(c, Depth::Ansi16));
                    if let (Some(fg), Some(bg)) = (st.fg, st.bg) {
                        st.fg = Some(readable_16(fg, bg));
                    }
                }
                t.sixteen = true;
                t
            }
            _ => self,
        }
    }

    /// Role names defined (for `check-config` and tests).
    pub fn roles(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.styles.keys().map(String::as_str).collect();
        v.sort();
        v
    }
}

/// A style from its spec and a palette; every problem as a sentence.
fn resolve(spec: &StyleSpec, palette: &HashMap<String, String>) -> Result<Style, Vec<String>> {
    let mut st = Style::default();
    let mut errs = Vec::new();
    if let Some(fg) = &spec.fg {
        match parse_color(fg, palette, 0) {
            Ok(c) => st = st.fg(c),
            Err(m) => errs.push(m),
        }
    }
    if let Some(bg) = &spec.bg {
        match parse_color(bg, palette, 0) {
            Ok(c) => st = st.bg(c),
            Err(m) => errs.push(m),
        }
    }
    for m in &spec.modifiers {
        match parse_modifier(m) {
            Ok(md) => st = st.add_modifier(md),
            Err(m) => errs.push(m),
        }
    }
    if errs.is_empty() { Ok(st) } else { Err(errs) }
}

/// The palette and raw style specs a theme and its ancestors define, merged from the root
/// down. `builtin` reads the builtin of that name (a user file named like a builtin inherits
/// from the builtin).
fn ancestry(
    lookup: &dyn Fn(&str) -> Option<(std::path::PathBuf, String)>,
    name: &str,
    depth: u8,
    builtin: bool,
) -> (HashMap<String, String>, HashMap<String, StyleSpec>) {
    if depth > 8 {
        return Default::default();
    }
    let from_builtin = || {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.to_string())
    };
    let text = if builtin {
        from_builtin()
    } else {
        lookup(name).map(|(_, t)| t).or_else(from_builtin)
    };
    let Some(f) = text.and_then(|t| toml::from_str::<ThemeFile>(&t).ok()) else {
        return Default::default();
    };
    let own = f.name.clone().unwrap_or_else(|| name.to_string());
    let parent = f
        .inherits
        .clone()
        .or_else(|| (own != "default").then(|| "default".to_string()));
    let (mut pal, mut specs) = match parent {
        Some(p) => {
            let same = p == name;
            ancestry(lookup, &p, depth + 1, same)
        }
        None => Default::default(),
    };
    pal.extend(f.palette);
    specs.extend(f.styles);
    (pal, specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses() {
        for (name, _) in BUILTIN {
            let t = Theme::builtin(name).unwrap_or_else(|| panic!("{name}"));
            assert!(t.roles().contains(&"text"), "{name} defines text");
        }
    }

    #[test]
    fn roles_fall_back_to_parents() {
        let t = Theme::default();
        assert_eq!(
            t.style("sync.outofsync.whatever"),
            t.style("sync.outofsync")
        );
        assert_eq!(t.style("nonexistent.role"), t.style("text"));
    }

    #[test]
    fn user_theme_merges_over_default() {
        let text = "[palette]\nhot = \"#ff0000\"\n[styles]\n\"sync.outofsync\" = { fg = \"hot\", modifiers = [\"bold\"] }\n";
        let t = Theme::parse(Path::new("/x/themes/mine.toml"), text, &|_| None).unwrap();
        assert_eq!(t.style("sync.outofsync").fg, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(
            t.style("health.healthy"),
            Theme::default().style("health.healthy")
        );
    }

    #[test]
    fn bad_colour_is_reported_with_line() {
        let text = "[styles]\n\"text\" = { fg = \"#12\" }\n\"x\" = { fg = \"blurple\" }\n";
        let errs = Theme::parse(Path::new("/t/bad.toml"), text, &|_| None).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert!(
            errs.iter()
                .any(|e| e.line == Some(2) && e.message.contains("#rrggbb"))
        );
        assert!(
            errs.iter()
                .any(|e| e.line == Some(3) && e.message.contains("blurple"))
        );
    }

    #[test]
    fn unknown_parent_is_an_error() {
        let errs =
            Theme::parse(Path::new("/t/x.toml"), "inherits = \"nope\"\n", &|_| None).unwrap_err();
        assert!(errs[0].message.contains("nope"));
        assert_eq!(errs[0].line, Some(1));
    }
}
