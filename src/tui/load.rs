//! Loading the user's theme and keymap: a file beside the config overrides or extends the
//! builtin of the same name; a broken or missing file is reported with its path and line, and the
//! builtin is kept. Never a silent fallback.

use std::path::{Path, PathBuf};

use super::keymap::{self, Keymap};
use super::theme::{self, Theme};
use crate::config::FileError;

fn user_file(config_dir: &Path, kind: &str, name: &str) -> PathBuf {
    config_dir.join(kind).join(format!("{name}.toml"))
}

/// The theme `name` (default: `default`).
pub fn theme(name: Option<&str>, config_dir: &Path) -> (Theme, Vec<FileError>) {
    let name = name.unwrap_or("default");
    let lookup = |n: &str| -> Option<(PathBuf, String)> {
        let p = user_file(config_dir, "themes", n);
        std::fs::read_to_string(&p).ok().map(|t| (p, t))
    };
    let path = user_file(config_dir, "themes", name);
    match std::fs::read_to_string(&path) {
        Ok(text) => match Theme::parse(&path, &text, &lookup) {
            Ok(t) => (t, vec![]),
            Err(errs) => (Theme::builtin(name).unwrap_or_default(), errs),
        },
        Err(_) => match Theme::builtin(name) {
            Some(t) => (t, vec![]),
            None => {
                let names: Vec<&str> = theme::BUILTIN.iter().map(|(n, _)| *n).collect();
                (
                    Theme::default(),
                    vec![FileError::new(
                        &path,
                        None,
                        format!(
                            "theme `{name}` is neither builtin ({}) nor a file here; using the default theme",
                            names.join(", ")
                        ),
                    )],
                )
            }
        },
    }
}

/// The keymap `name` (default: `default`). A user file named like a builtin extends that
/// builtin; any other user file extends the default keymap.
pub fn keymap(name: Option<&str>, config_dir: &Path) -> (Keymap, Vec<FileError>) {
    let name = name.unwrap_or("default");
    let path = user_file(config_dir, "keymaps", name);
    let builtin = Keymap::builtin(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let parent = builtin.clone().unwrap_or_default();
            match Keymap::parse(&path, &text, Some(&parent)) {
                Ok(k) => (k, vec![]),
                Err(errs) => (parent, errs),
            }
        }
        Err(_) => match builtin {
            Some(k) => (k, vec![]),
            None => {
                let names: Vec<&str> = keymap::BUILTIN.iter().map(|(n, _)| *n).collect();
                (
                    Keymap::default(),
                    vec![FileError::new(
                        &path,
                        None,
                        format!(
                            "keymap `{name}` is neither builtin ({}) nor a file here; using the default keymap",
                            names.join(", ")
                        ),
                    )],
                )
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::action::Action;
    use crate::tui::keymap::{Key, KeyMode, Resolution};

    #[test]
    fn user_files_override_and_broken_ones_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("keymaps")).unwrap();
        std::fs::create_dir_all(dir.path().join("themes")).unwrap();
        std::fs::write(
            dir.path().join("keymaps/mine.toml"),
            "[fleet]\n\"x\" = \"quit\"\n",
        )
        .unwrap();
        let (k, errs) = keymap(Some("mine"), dir.path());
        assert!(errs.is_empty());
        assert_eq!(
            k.resolve(KeyMode::Fleet, &[], Key::ch('x')),
            Resolution::Matched(Action::Quit)
        );
        assert_eq!(
            k.resolve(KeyMode::Fleet, &[], Key::ch('j')),
            Resolution::Matched(Action::SelectNext)
        );

        std::fs::write(
            dir.path().join("themes/broken.toml"),
            "[styles]\n\"text\" = { fg = \"nocolour\" }\n",
        )
        .unwrap();
        let (t, errs) = theme(Some("broken"), dir.path());
        assert_eq!(t, Theme::default());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(2));
        assert!(errs[0].path.ends_with("themes/broken.toml"));

        let (_, errs) = keymap(Some("nosuch"), dir.path());
        assert!(errs[0].message.contains("neither builtin"));
    }
}
