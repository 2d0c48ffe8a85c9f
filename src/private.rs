//! Files only their owner can read, on a host other users share: private directories (0700,
//! refused when another user owns them or can write into them), files created new (never
//! opened through a symbolic link, never reused from someone else) with mode 0600 whatever
//! the umask, atomic replacement, and private temporary directories with random names.
//!
//! Every file driftdeck writes (the journal and its head, logs, the demo's tokens and
//! kubeconfig, exported scenarios, the external diff tool's inputs) goes through here.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a directory or file was refused, as a sentence that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PrivateError {
    #[error(
        "{path} is owned by another user (uid {owner}); driftdeck keeps tokens and its journal \
         there, so it refuses it: choose a directory of your own"
    )]
    ForeignOwner { path: PathBuf, owner: u32 },
    #[error(
        "{path} can be written by other users (mode {mode:o}); driftdeck refuses it: run \
         `chmod go-w {path}` or choose a directory of your own"
    )]
    WritableByOthers { path: PathBuf, mode: u32 },
    #[error("{path} is not a directory; choose a directory for driftdeck's files")]
    NotADirectory { path: PathBuf },
    #[error(
        "{path} is a symbolic link; driftdeck never writes through a link (someone could point \
         it at another file): remove the link and try again"
    )]
    Symlink { path: PathBuf },
    #[error(
        "{path} is not a regular file; driftdeck refuses to write into it: remove it and try again"
    )]
    NotAFile { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PrivateError {
    fn io(path: &Path, source: std::io::Error) -> PrivateError {
        PrivateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// As an I/O error (for callers that speak `std::io`), keeping the sentence.
    pub fn into_io(self) -> std::io::Error {
        match self {
            PrivateError::Io { source, .. } => source,
            e => std::io::Error::new(std::io::ErrorKind::PermissionDenied, e.to_string()),
        }
    }
}

#[cfg(unix)]
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Checks that an existing directory is ours and nobody else can write into it.
pub fn check_dir(path: &Path) -> Result<(), PrivateError> {
    let meta = std::fs::metadata(path).map_err(|e| PrivateError::io(path, e))?;
    if !meta.is_dir() {
        return Err(PrivateError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = euid();
        // Root's own directories (the home of a container user, say) are trusted as the
        // system's; any other user's are not.
        if meta.uid() != me && meta.uid() != 0 {
            return Err(PrivateError::ForeignOwner {
                path: path.to_path_buf(),
                owner: meta.uid(),
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(PrivateError::WritableByOthers {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    Ok(())
}

/// Creates `path` (and its missing parents) with mode 0700 whatever the umask, or checks an
/// existing one with [`check_dir`].
pub fn ensure_dir(path: &Path) -> Result<(), PrivateError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => check_dir(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(path).map_err(|e| PrivateError::io(path, e))?;
            // The umask may have taken bits away (never added): the mode is exact now.
            set_mode(path, 0o700)?;
            check_dir(path)
        }
        Err(e) => Err(PrivateError::io(path, e)),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), PrivateError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| PrivateError::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    o
}

/// Refuses a path that is a link or not a regular file (before opening it).
fn check_file(path: &Path) -> Result<bool, PrivateError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(PrivateError::Symlink {
            path: path.to_path_buf(),
        }),
        Ok(m) if !m.is_file() => Err(PrivateError::NotAFile {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(PrivateError::io(path, e)),
    }
}

fn open_error(path: &Path, e: std::io::Error) -> PrivateError {
    // O_NOFOLLOW on a link: ELOOP. A link created between the check and the open.
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        PrivateError::Symlink {
            path: path.to_path_buf(),
        }
    } else {
        PrivateError::io(path, e)
    }
}

/// Opens `path` for reading and appending, creating it with mode 0600; never through a link.
/// An existing file must be ours; its mode is set to 0600.
pub fn open_append(path: &Path) -> Result<File, PrivateError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        ensure_dir(dir)?;
    }
    let existed = check_file(path)?;
    let f = options()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    if existed {
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let m = f.metadata().map_err(|e| PrivateError::io(path, e))?;
            if m.uid() != euid() {
                return Err(PrivateError::ForeignOwner {
                    path: path.to_path_buf(),
                    owner: m.uid(),
                });
            }
            if m.mode() & 0o077 != 0 {
                f.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| PrivateError::io(path, e))?;
            }
        }
    }
    Ok(f)
}

/// Creates a new file (mode 0600) that must not exist yet: never a link, never someone else's.
pub fn create_new(path: &Path) -> Result<File, PrivateError> {
    check_file(path)?;
    options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| open_error(path, e))
}

/// Replaces `path` with `bytes` atomically (a reader sees the old content or the new, never a
/// part), mode 0600: the bytes go to a new file of a random name beside it, synced, then
/// renamed over it. A link at `path` is refused, not followed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PrivateError> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    ensure_dir(dir)?;
    check_file(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // tempfile opens with O_CREAT|O_EXCL and mode 0600 under a random name.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| PrivateError::io(path, e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| PrivateError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| PrivateError::io(path, e.error))?;
    Ok(())
}

/// A new private directory of a random name (mkdtemp, mode 0700) under the system's temporary
/// directory, removed when the returned value is dropped.
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir, PrivateError> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let base = std::env::temp_dir();
    let d = b
        .tempdir_in(&base)
        .map_err(|e| PrivateError::io(&base, e))?;
    // Exact whatever the umask.
    set_mode(d.path(), 0o700)?;
    Ok(d)
}

/// A name safe as one path component (a resource or app name from a server may hold `/` or
/// `..`): anything but letters, digits, `.`, `_` and `-` becomes `_`, and leading dots go.
pub fn file_component(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.');
    if s.is_empty() {
        "_".to_string()
    } else {
        s.chars().take(120).collect()
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_directories_and_files_are_private_whatever_the_umask() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b/data");
        ensure_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        let f = d.join("journal.jsonl");
        drop(open_append(&f).unwrap());
        assert_eq!(mode(&f), 0o600);
        write_atomic(&d.join("head"), b"x").unwrap();
        assert_eq!(mode(&d.join("head")), 0o600);
        let td = temp_dir("driftdeck-test-").unwrap();
        assert_eq!(mode(td.path()), 0o700);
    }

    #[test]
    fn a_directory_others_can_write_is_refused_with_a_sentence() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("shared");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_dir(&d).unwrap_err().to_string();
        assert!(e.contains("can be written by other users"), "{e}");
        assert!(e.contains("chmod go-w"), "{e}");
        let e = open_append(&d.join("journal.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("can be written by other users"), "{e}");
        assert!(!d.join("journal.jsonl").exists());
    }

    #[test]
    fn a_link_is_never_followed() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("victim");
        std::fs::write(&target, "precious").unwrap();
        let link = t.path().join("journal.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for e in [
            open_append(&link).unwrap_err(),
            create_new(&link).unwrap_err(),
            write_atomic(&link, b"overwritten").unwrap_err(),
        ] {
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        // A dangling link too (the attacker's file does not exist yet).
        let dangling = t.path().join("kubeconfig");
        std::os::unix::fs::symlink(t.path().join("later"), &dangling).unwrap();
        assert!(create_new(&dangling).is_err());
        assert!(open_append(&dangling).is_err());
        assert!(!t.path().join("later").exists());
    }

    #[test]
    fn create_new_never_reuses_a_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x");
        std::fs::write(&p, "theirs").unwrap();
        assert!(create_new(&p).is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "theirs");
    }

    #[test]
    fn names_from_servers_stay_one_component() {
        assert_eq!(file_component("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_component(".."), "_");
        assert_eq!(file_component("web-1.live"), "web-1.live");
    }
}
