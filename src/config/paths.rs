//! Where files live: an explicit flag or environment variable first, then the platform's
//! directories (XDG on Linux) from `directories`.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    /// The config file (it may not exist).
    pub config_file: PathBuf,
    /// Whether the config file was named explicitly (flag or `DRIFTDECK_CONFIG`).
    pub config_explicit: bool,
    /// Journal and deferrals.
    pub data_dir: PathBuf,
    /// Log files.
    pub log_dir: PathBuf,
}

impl Paths {
    /// `config_flag` is `--config` (clap already merged `DRIFTDECK_CONFIG` into it).
    pub fn resolve(config_flag: Option<&Path>) -> Paths {
        Self::resolve_with(config_flag, |k| std::env::var_os(k).map(PathBuf::from))
    }

    pub fn resolve_with(
        config_flag: Option<&Path>,
        env: impl Fn(&str) -> Option<PathBuf>,
    ) -> Paths {
        let dirs = ProjectDirs::from("dev", "driftdeck", "driftdeck");
        let home_fallback = || {
            env("HOME")
                .unwrap_or_else(std::env::temp_dir)
                .join(".driftdeck")
        };
        let (config_file, config_explicit) = match config_flag {
            Some(p) => (p.to_path_buf(), true),
            None => (
                dirs.as_ref()
                    .map(|d| d.config_dir().to_path_buf())
                    .unwrap_or_else(home_fallback)
                    .join("config.toml"),
                false,
            ),
        };
        let data_dir = env("DRIFTDECK_DATA_DIR").unwrap_or_else(|| {
            dirs.as_ref()
                .map(|d| d.data_dir().to_path_buf())
                .unwrap_or_else(|| home_fallback().join("data"))
        });
        let log_dir = env("DRIFTDECK_LOG_DIR").unwrap_or_else(|| {
            dirs.as_ref()
                .map(|d| {
                    d.state_dir()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| d.cache_dir().to_path_buf())
                })
                .unwrap_or_else(|| home_fallback().join("logs"))
        });
        Paths {
            config_file,
            config_explicit,
            data_dir,
            log_dir,
        }
    }

    /// The directory user themes and keymaps live in: beside the config file.
    pub fn config_dir(&self) -> PathBuf {
        self.config_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_win() {
        let p = Paths::resolve_with(Some(Path::new("/etc/dd.toml")), |k| match k {
            "DRIFTDECK_DATA_DIR" => Some("/d".into()),
            "DRIFTDECK_LOG_DIR" => Some("/l".into()),
            _ => None,
        });
        assert_eq!(p.config_file, PathBuf::from("/etc/dd.toml"));
        assert!(p.config_explicit);
        assert_eq!(p.data_dir, PathBuf::from("/d"));
        assert_eq!(p.log_dir, PathBuf::from("/l"));
        assert_eq!(p.config_dir(), PathBuf::from("/etc"));
    }

    #[test]
    fn defaults_end_in_config_toml() {
        let p = Paths::resolve_with(None, |_| None);
        assert!(p.config_file.ends_with("config.toml"));
        assert!(!p.config_explicit);
    }
}
