//! A problem in a file a person wrote or gave (a config, theme, keymap, scenario, manifest or
//! policy file), located by path and line: the one error type every reader of such files
//! returns, so every front end prints it the same way (`path:line: what to do`).

use std::path::{Path, PathBuf};

/// A problem in a user file, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FileError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl FileError {
    pub fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// From a `toml` parse error: the line of its span, and its message without the excerpt.
    pub fn from_toml(path: &Path, text: &str, e: &toml::de::Error) -> Self {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        FileError::new(path, line, e.message().trim().to_string())
    }
}
