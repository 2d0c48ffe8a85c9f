//! Keymaps: a section per mode, key specs with modifiers (`ctrl-r`), sequences (`g g`), and
//! `"none"` to unbind. The help overlay and the status-bar hints are generated from the loaded
//! keymap, so they never lie.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::action::Action;
use crate::config::FileError;

/// The embedded keymaps, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../keymaps/default.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
    ("emacs", include_str!("../../keymaps/emacs.toml")),
];

/// A key, independent of the terminal library (so `--keys` and tests can make them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    F(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
    /// Shift for non-character keys; a character carries its own case.
    pub shift: bool,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            ctrl: false,
            alt: false,
            shift: false,
        }
    }
    pub const fn ch(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
            alt: false,
            shift: false,
        }
    }

    /// Normalises shift: `shift-tab` is `backtab`, and characters carry their own case.
    pub fn normalized(mut self) -> Key {
        match self.code {
            KeyCode::Char(c) => {
                self.shift = false;
                if self.ctrl {
                    self.code = KeyCode::Char(c.to_ascii_lowercase());
                }
            }
            KeyCode::Tab if self.shift => {
                self.code = KeyCode::BackTab;
                self.shift = false;
            }
            KeyCode::BackTab => self.shift = false,
            _ => {}
        }
        self
    }

    /// A printable character typed with no modifier other than shift (text input).
    pub fn text(&self) -> Option<char> {
        match self.code {
            KeyCode::Char(c) if !self.ctrl && !self.alt && !c.is_control() => Some(c),
            _ => None,
        }
    }

    /// Parses one key spec: `q`, `?`, `ctrl-r`, `alt-x`, `shift-tab`, `enter`, `space`, `f5`, `-`.
    pub fn parse(spec: &str) -> Result<Key, String> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err("empty key".into());
        }
        let (mods, name): (Vec<&str>, &str) =
            if spec.len() > 1 && spec.ends_with('-') && !spec.ends_with("--") || spec == "-" {
                if spec == "-" {
                    (vec![], "-")
                } else {
                    let body = &spec[..spec.len() - 1];
                    (
                        body.trim_end_matches('-')
                            .split('-')
                            .filter(|s| !s.is_empty())
                            .collect(),
                        "-",
                    )
                }
            } else if let Some(body) = spec.strip_suffix("--") {
                (body.split('-').filter(|s| !s.is_empty()).collect(), "-")
            } else {
                let mut parts: Vec<&str> = spec.split('-').collect();
                let name = parts.pop().unwrap_or("");
                (parts, name)
            };
        let mut key = Key::plain(KeyCode::Char(' '));
        for m in mods {
            match m.to_ascii_lowercase().as_str() {
                "ctrl" | "c" | "control" => key.ctrl = true,
                "alt" | "a" | "meta" | "m" => key.alt = true,
                "shift" | "s" => key.shift = true,
                other => {
                    return Err(format!(
                        "unknown modifier `{other}` in `{spec}` (use ctrl, alt or shift)"
                    ));
                }
            }
        }
        key.code = match name.to_ascii_lowercase().as_str() {
            "enter" | "return" | "ret" | "cr" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "backspace" | "bs" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" | "pgdown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            "minus" => KeyCode::Char('-'),
            "lt" => KeyCode::Char('<'),
            "gt" => KeyCode::Char('>'),
            n if n.len() >= 2
                && n.starts_with('f')
                && n[1..].parse::<u8>().is_ok_and(|v| (1..=24).contains(&v)) =>
            {
                KeyCode::F(n[1..].parse().unwrap_or(1))
            }
            _ => {
                let mut chars = name.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    _ => return Err(format!("unknown key `{name}` in `{spec}`")),
                }
            }
        };
        if key.shift
            && let KeyCode::Char(c) = key.code
        {
            key.code = KeyCode::Char(c.to_ascii_uppercase());
        }
        Ok(key.normalized())
    }

    /// Parses a sequence: `g g`, `ctrl-x ctrl-c`.
    pub fn parse_seq(spec: &str) -> Result<Vec<Key>, String> {
        let keys: Result<Vec<Key>, String> = spec.split_whitespace().map(Key::parse).collect();
        let keys = keys?;
        if keys.is_empty() {
            return Err("empty key sequence".into());
        }
        Ok(keys)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        if self.shift {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::F(n) => write!(f, "f{n}"),
        }
    }
}

/// Formats a key sequence as a user writes it.
pub fn seq_to_string(seq: &[Key]) -> String {
    seq.iter().map(Key::to_string).collect::<Vec<_>>().join(" ")
}

/// The modes a keymap has a section for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyMode {
    Global,
    Fleet,
    App,
    Diff,
    Filter,
    Facets,
    Help,
    Queue,
    Report,
    /// The list views: ApplicationSets, versions per environment.
    Views,
    /// A followed log.
    Logs,
    Dialog,
    /// The `:` command line.
    Command,
}

impl KeyMode {
    pub const ALL: [KeyMode; 13] = [
        KeyMode::Global,
        KeyMode::Fleet,
        KeyMode::App,
        KeyMode::Diff,
        KeyMode::Filter,
        KeyMode::Facets,
        KeyMode::Help,
        KeyMode::Queue,
        KeyMode::Report,
        KeyMode::Views,
        KeyMode::Logs,
        KeyMode::Dialog,
        KeyMode::Command,
    ];

    pub fn section(self) -> &'static str {
        match self {
            KeyMode::Global => "global",
            KeyMode::Fleet => "fleet",
            KeyMode::App => "app",
            KeyMode::Diff => "diff",
            KeyMode::Filter => "filter",
            KeyMode::Facets => "facets",
            KeyMode::Help => "help",
            KeyMode::Queue => "queue",
            KeyMode::Report => "report",
            KeyMode::Views => "views",
            KeyMode::Logs => "logs",
            KeyMode::Dialog => "dialog",
            KeyMode::Command => "command",
        }
    }
    fn from_section(s: &str) -> Option<KeyMode> {
        KeyMode::ALL.iter().copied().find(|m| m.section() == s)
    }
    /// Text modes take unbound printable keys as input and ignore the global section.
    pub fn is_text(self) -> bool {
        matches!(self, KeyMode::Filter | KeyMode::Dialog | KeyMode::Command)
    }
}

/// The outcome of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Matched(Action),
    /// The keys so far start a sequence; these continuations are possible.
    Pending(Vec<(Key, Action)>),
    NotFound,
}

/// A loaded keymap.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    pub name: String,
    bindings: BTreeMap<KeyMode, BTreeMap<Vec<Key>, Action>>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::builtin("default").expect("the default keymap is valid")
    }
}

impl Keymap {
    pub fn builtin(name: &str) -> Option<Keymap> {
        let text = BUILTIN.iter().find(|(n, _)| *n == name)?.1;
        // Every builtin but the default is written over the default, key by key.
        let parent = if name == "default" {
            None
        } else {
            Some(Keymap::builtin("default")?)
        };
        Keymap::parse(
            Path::new(&format!("<builtin keymap {name}>")),
            text,
            parent.as_ref(),
        )
        .ok()
    }

    /// Parses a keymap file over `parent` (key by key). Every problem is reported.
    pub fn parse(
        path: &Path,
        text: &str,
        parent: Option<&Keymap>,
    ) -> Result<Keymap, Vec<FileError>> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| vec![FileError::from_toml(path, text, &e)])?;
        let mut km = parent.cloned().unwrap_or(Keymap {
            name: String::new(),
            bindings: BTreeMap::new(),
        });
        km.name = path
            .file_stem()
            .map(|s| {
                s.to_string_lossy()
                    .trim_start_matches("<builtin keymap ")
                    .trim_end_matches('>')
                    .to_string()
            })
            .unwrap_or_default();
        let mut errs = Vec::new();
        let line_of = |needle: &str| -> Option<usize> {
            text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
        };
        for (section, value) in &table {
            if section == "name" || section == "inherits" {
                if let Some(s) = value.as_str()
                    && section == "name"
                {
                    km.name = s.to_string();
                }
                continue;
            }
            let Some(mode) = KeyMode::from_section(section) else {
                errs.push(FileError::new(
                    path,
                    line_of(&format!("[{section}]")),
                    format!("unknown section [{section}]: use global, fleet, app, diff, filter, facets or help"),
                ));
                continue;
            };
            let Some(entries) = value.as_table() else {
                errs.push(FileError::new(
                    path,
                    line_of(section),
                    format!("[{section}] must be a table of \"key\" = \"action\""),
                ));
                continue;
            };
            for (spec, action) in entries {
                let line = line_of(&format!("\"{spec}\"")).or_else(|| line_of(spec));
                let seq = match Key::parse_seq(spec) {
                    Ok(s) => s,
                    Err(m) => {
                        errs.push(FileError::new(path, line, format!("[{section}] {m}")));
                        continue;
                    }
                };
                let Some(name) = action.as_str() else {
                    errs.push(FileError::new(
                        path,
                        line,
                        format!("[{section}] \"{spec}\": the action must be a string"),
                    ));
                    continue;
                };
                let map = km.bindings.entry(mode).or_default();
                if name == "none" {
                    map.remove(&seq);
                    continue;
                }
                match Action::from_name(name) {
                    Some(a) => {
                        map.insert(seq, a);
                    }
                    None => errs.push(FileError::new(
                        path,
                        line,
                        format!("[{section}] \"{spec}\": unknown action `{name}` (see `driftdeck print-default keymap`)"),
                    )),
                }
            }
        }
        // A sequence whose beginning is itself bound can never be typed: the shorter binding
        // fires first.
        for (mode, map) in &km.bindings {
            for (seq, _) in map.iter().filter(|(k, _)| k.len() > 1) {
                for n in 1..seq.len() {
                    if let Some(a) = map.get(&seq[..n]) {
                        let spec = seq_to_string(seq);
                        let prefix = seq_to_string(&seq[..n]);
                        let line = line_of(&format!("\"{spec}\""))
                            .or_else(|| line_of(&format!("\"{prefix}\"")));
                        errs.push(FileError::new(
                            path,
                            line,
                            format!(
                                "[{}] \"{spec}\" can never be typed: \"{prefix}\" is bound to {}; unbind it (\"{prefix}\" = \"none\") or choose another sequence",
                                mode.section(),
                                a.name()
                            ),
                        ));
                        break;
                    }
                }
            }
        }
        if errs.is_empty() { Ok(km) } else { Err(errs) }
    }

    fn lookup_in(&self, mode: KeyMode, seq: &[Key]) -> Option<Resolution> {
        let map = self.bindings.get(&mode)?;
        if let Some(a) = map.get(seq) {
            return Some(Resolution::Matched(*a));
        }
        let next: Vec<(Key, Action)> = map
            .iter()
            .filter(|(k, _)| k.len() > seq.len() && k.starts_with(seq))
            .map(|(k, a)| (k[seq.len()], *a))
            .collect();
        (!next.is_empty()).then_some(Resolution::Pending(next))
    }

    /// Resolves `key` after the `pending` keys of a sequence, in `mode` then (outside text modes)
    /// in the global section.
    pub fn resolve(&self, mode: KeyMode, pending: &[Key], key: Key) -> Resolution {
        let mut seq = pending.to_vec();
        seq.push(key.normalized());
        if let Some(r) = self.lookup_in(mode, &seq) {
            return r;
        }
        if !mode.is_text()
            && let Some(r) = self.lookup_in(KeyMode::Global, &seq)
        {
            return r;
        }
        Resolution::NotFound
    }

    /// The key sequences bound to `action` in `mode` (then global), as shown to people.
    pub fn keys_for(&self, mode: KeyMode, action: Action) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for m in [mode, KeyMode::Global] {
            if m == KeyMode::Global && mode.is_text() {
                break;
            }
            if let Some(map) = self.bindings.get(&m) {
                for (k, a) in map {
                    if *a == action {
                        let s = seq_to_string(k);
                        if !out.contains(&s) {
                            out.push(s);
                        }
                    }
                }
            }
            if m == KeyMode::Global {
                break;
            }
        }
        // The simplest key first: it is what hints show.
        out.sort_by(|a, b| {
            (a.contains('-') && a.len() > 1, a.len())
                .cmp(&(b.contains('-') && b.len() > 1, b.len()))
        });
        out
    }

    /// Every binding of a mode's own section, grouped by action, in action order.
    pub fn bindings(&self, mode: KeyMode) -> Vec<(Action, Vec<String>)> {
        let mut by: BTreeMap<Action, Vec<String>> = BTreeMap::new();
        if let Some(map) = self.bindings.get(&mode) {
            for (k, a) in map {
                by.entry(*a).or_default().push(seq_to_string(k));
            }
        }
        by.into_iter().collect()
    }

    /// The keymap as TOML (for `print-default keymap`), every bindable action listed.
    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "# driftdeck keymap `{}`\n# Every bindable action:\n",
            self.name
        );
        for a in Action::ALL {
            out.push_str(&format!("#   {:<18} {}\n", a.name(), a.description()));
        }
        for mode in KeyMode::ALL {
            let Some(map) = self.bindings.get(&mode) else {
                continue;
            };
            out.push_str(&format!("\n[{}]\n", mode.section()));
            for (k, a) in map {
                out.push_str(&format!(
                    "{:<14} = \"{}\"\n",
                    format!("\"{}\"", seq_to_string(k)),
                    a.name()
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sequence_behind_a_bound_key_is_reported() {
        let p = std::path::Path::new("/c/keymaps/mine.toml");
        let parent = Keymap::default();
        let errs = Keymap::parse(
            p,
            "[fleet]\n\"n\" = \"select_next\"\n\"space x\" = \"select_last\"\n",
            Some(&parent),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        let e = errs[0].to_string();
        assert!(e.contains("mine.toml:3"), "{e}");
        assert!(e.contains("\"space\" is bound to toggle_mark"), "{e}");
        // Unbinding the prefix makes the sequence typable.
        let km = Keymap::parse(
            p,
            "[fleet]\n\"space\" = \"none\"\n\"space x\" = \"select_last\"\n",
            Some(&parent),
        )
        .unwrap();
        assert!(matches!(
            km.resolve(KeyMode::Fleet, &[], Key::ch(' ')),
            Resolution::Pending(_)
        ));
    }

    #[test]
    fn key_specs() {
        assert_eq!(Key::parse("q").unwrap(), Key::ch('q'));
        assert_eq!(Key::parse("ctrl-r").unwrap(), Key::ctrl('r'));
        assert_eq!(
            Key::parse("shift-tab").unwrap(),
            Key::plain(KeyCode::BackTab)
        );
        assert_eq!(Key::parse("-").unwrap(), Key::ch('-'));
        assert_eq!(
            Key::parse("ctrl--").unwrap(),
            Key {
                ctrl: true,
                ..Key::ch('-')
            }
        );
        assert_eq!(Key::parse("space").unwrap(), Key::ch(' '));
        assert_eq!(Key::parse("f5").unwrap(), Key::plain(KeyCode::F(5)));
        assert_eq!(Key::parse("shift-g").unwrap(), Key::ch('G'));
        assert_eq!(Key::parse("pgdn").unwrap(), Key::plain(KeyCode::PageDown));
        assert!(Key::parse("hyper-x").is_err());
        assert!(Key::parse("enterr").is_err());
        assert_eq!(
            Key::parse_seq("g g").unwrap(),
            vec![Key::ch('g'), Key::ch('g')]
        );
        for spec in [
            "ctrl-r",
            "g",
            "shift-tab",
            "enter",
            "pgdn",
            "f5",
            "space",
            "alt-x",
        ] {
            assert_eq!(Key::parse(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn the_default_keymap_parses_and_resolves() {
        let km = Keymap::default();
        assert_eq!(
            km.resolve(KeyMode::Fleet, &[], Key::ch('j')),
            Resolution::Matched(Action::SelectNext)
        );
        assert_eq!(
            km.resolve(KeyMode::Fleet, &[], Key::ch('q')),
            Resolution::Matched(Action::Quit)
        );
        // Text modes do not fall back to global bindings.
        assert_eq!(
            km.resolve(KeyMode::Filter, &[], Key::ch('q')),
            Resolution::NotFound
        );
        assert!(matches!(
            km.resolve(KeyMode::Fleet, &[], Key::ch('g')),
            Resolution::Pending(_)
        ));
        assert_eq!(
            km.resolve(KeyMode::Fleet, &[Key::ch('g')], Key::ch('g')),
            Resolution::Matched(Action::SelectFirst)
        );
    }

    #[test]
    fn user_keymap_merges_and_unbinds() {
        let base = Keymap::default();
        let text = "[fleet]\n\"x\" = \"quit\"\n\"j\" = \"none\"\n";
        let km = Keymap::parse(Path::new("/k/mine.toml"), text, Some(&base)).unwrap();
        assert_eq!(
            km.resolve(KeyMode::Fleet, &[], Key::ch('x')),
            Resolution::Matched(Action::Quit)
        );
        assert_eq!(
            km.resolve(KeyMode::Fleet, &[], Key::ch('j')),
            Resolution::NotFound
        );
        assert_eq!(
            km.resolve(KeyMode::Fleet, &[], Key::ch('k')),
            Resolution::Matched(Action::SelectPrev)
        );
    }

    #[test]
    fn bad_keymap_reports_every_problem_with_lines() {
        let text =
            "[fleet]\n\"hyper-x\" = \"quit\"\n\"y\" = \"fly\"\n[nowhere]\n\"a\" = \"quit\"\n";
        let errs = Keymap::parse(Path::new("/k/bad.toml"), text, None).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs.iter()
                .any(|e| e.line == Some(2) && e.message.contains("hyper"))
        );
        assert!(
            errs.iter()
                .any(|e| e.line == Some(3) && e.message.contains("fly"))
        );
        assert!(
            errs.iter()
                .any(|e| e.line == Some(4) && e.message.contains("nowhere"))
        );
    }

    #[test]
    fn print_default_lists_every_action_and_reparses() {
        let km = Keymap::default();
        let text = km.to_toml();
        for a in Action::ALL {
            assert!(text.contains(a.name()), "{}", a.name());
        }
        let again = Keymap::parse(Path::new("default.toml"), &text, None).unwrap();
        assert_eq!(again.bindings, km.bindings);
    }
}
