//! The data dir is private: the directory 0700, every file in it 0600 (the database and its
//! `-wal`/`-shm`, the secret file, lock files, anything else). What Lanyard creates is created
//! that way; what it finds looser (an older version, a copy, a restored backup, a umask of 002)
//! is tightened when the data dir is opened, and each change is reported so a person can ask
//! who else may have read it.
//!
//! Tightening only takes permissions away from group and others, never from the owner, and
//! stays at the top level of the dir. A data dir shared like /tmp (sticky or world-writable) is
//! left as it is, and only Lanyard's own files in it are made private.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The database inside the data dir.
pub const DB_FILE: &str = "lanyard.db";
/// The file the encrypted secret store uses inside the data dir.
pub const SECRETS_FILE: &str = "secrets.enc";
/// The file naming the data dir's keyring shelves (`secrets/shelves.rs`) and locked around
/// their changes.
pub const SHELF_FILE: &str = "keyring-shelves";

/// The mode of the data dir and of every directory in it.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file in the data dir.
pub const FILE_MODE: u32 = 0o600;

/// A file or directory whose permissions were looser than Lanyard's and were tightened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tightened {
    pub path: PathBuf,
    /// The permission bits found (e.g. 0o644).
    pub old_mode: u32,
    /// The permission bits set (0o600 or 0o700).
    pub new_mode: u32,
}

impl fmt::Display for Tightened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} was accessible to other users (mode {:04o}); it is now private (mode {:04o})",
            self.path.display(),
            self.old_mode,
            self.new_mode
        )
    }
}

/// Creates `dir` (and its parents) if missing, with mode 0700; then takes group and other
/// permissions away from `dir` and from every file and directory directly in it. Symbolic
/// links are neither followed nor changed. Each change is logged as a warning and returned, so
/// a front end can show it; an entry that cannot be changed (someone else's) is logged and
/// skipped.
pub fn secure_dir(dir: &Path) -> Result<Vec<Tightened>> {
    create_private_dir(dir).map_err(|e| {
        Error::storage(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })?;
    let cannot = |e: std::io::Error| {
        Error::storage(format!(
            "cannot make the data directory {} private: {e}",
            dir.display()
        ))
    };
    let mut tightened = Vec::new();
    let shared = is_shared(dir).map_err(cannot)?;
    if shared {
        tracing::warn!(
            dir = %dir.display(),
            "the data directory is shared with other users; only Lanyard's own files in it are made private"
        );
    } else {
        tightened.extend(tighten(dir).map_err(cannot)?);
    }
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if !(file_type.is_file() || file_type.is_dir()) {
            continue;
        }
        if shared && !is_lanyard_file(&entry.file_name().to_string_lossy()) {
            continue;
        }
        match tighten(&entry.path()) {
            Ok(t) => tightened.extend(t),
            // Gone meanwhile (SQLite's -shm at another process's close): nothing to do.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot make a file in the data directory private");
            }
        }
    }
    for t in &tightened {
        tracing::warn!(path = %t.path.display(), old_mode = %format!("{:04o}", t.old_mode), "{t}");
    }
    Ok(tightened)
}

/// Makes the file at `path` 0600 if it exists and is looser (logged as a warning).
pub fn secure_file(path: &Path) -> std::io::Result<Option<Tightened>> {
    let tightened = tighten(path)?;
    if let Some(t) = &tightened {
        tracing::warn!(path = %t.path.display(), old_mode = %format!("{:04o}", t.old_mode), "{t}");
    }
    Ok(tightened)
}

/// Creates a directory (and its parents) with mode 0700 on unix.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// The database and its journals, the secret file, its lock, the shelf file, and their
/// temporary files.
fn is_lanyard_file(name: &str) -> bool {
    name.starts_with(DB_FILE)
        || [SECRETS_FILE, SHELF_FILE]
            .iter()
            .any(|own| name.starts_with(own) || name.starts_with(&format!(".{own}")))
}

/// Opens with mode 0600 on unix (for files this call creates).
pub fn open_private(
    path: &Path,
    options: &mut std::fs::OpenOptions,
) -> std::io::Result<std::fs::File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, FILE_MODE);
    options.open(path)
}

/// `bytes` to `path`, readable by the owner only: a new temporary file beside it (0600 from
/// the start on unix), synced, then renamed over `path` (`replace`) or hard-linked where
/// nothing is, so nobody sees half a file, and without `replace` a file that appeared meanwhile
/// is not replaced either (`AlreadyExists`).
pub fn write_private(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = open_private(
        &temp,
        std::fs::OpenOptions::new().write(true).create_new(true),
    )
    .and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let placed = written.and_then(|()| {
        if replace {
            std::fs::rename(&temp, path)
        } else {
            std::fs::hard_link(&temp, path)
        }
    });
    if !replace || placed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    placed
}

/// A directory others may write to, like /tmp: not Lanyard's to close.
#[cfg(unix)]
fn is_shared(dir: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    Ok(mode & 0o1000 != 0 || mode & 0o002 != 0)
}

#[cfg(not(unix))]
fn is_shared(_dir: &Path) -> std::io::Result<bool> {
    Ok(false)
}

/// Takes the group and other permissions (and setuid, setgid, sticky) away from `path` itself,
/// not through a link: 0644 becomes 0600, 0755 becomes 0700.
#[cfg(unix)]
fn tighten(path: &Path) -> std::io::Result<Option<Tightened>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Ok(None);
    }
    let old_mode = meta.permissions().mode() & 0o7777;
    let new_mode = old_mode & 0o700;
    if new_mode == old_mode {
        return Ok(None);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(new_mode))?;
    Ok(Some(Tightened {
        path: path.to_path_buf(),
        old_mode,
        new_mode,
    }))
}

#[cfg(not(unix))]
fn tighten(_path: &Path) -> std::io::Result<Option<Tightened>> {
    Ok(None)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn set_mode(p: &Path, m: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }

    #[test]
    fn a_new_dir_is_private_and_nothing_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b/lanyard");
        assert_eq!(secure_dir(&dir).unwrap(), vec![]);
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn looser_dirs_and_files_are_tightened_and_reported() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lanyard");
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o755);
        for (name, m) in [
            ("lanyard.db", 0o644),
            ("lanyard.db-wal", 0o664),
            ("secrets.enc", 0o640),
            ("already-private", 0o600),
            ("read-only", 0o400),
        ] {
            std::fs::write(dir.join(name), b"x").unwrap();
            set_mode(&dir.join(name), m);
        }
        std::fs::write(dir.join("tool"), b"x").unwrap();
        set_mode(&dir.join("tool"), 0o755);
        std::fs::create_dir(dir.join("sub")).unwrap();
        set_mode(&dir.join("sub"), 0o775);
        std::fs::write(dir.join("sub/note"), b"x").unwrap();
        set_mode(&dir.join("sub/note"), 0o666);
        // A link is not followed: its target outside the data dir keeps its mode.
        let outside = root.path().join("outside");
        std::fs::write(&outside, b"x").unwrap();
        set_mode(&outside, 0o644);
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();

        let mut fixed = secure_dir(&dir).unwrap();
        fixed.sort_by(|a, b| a.path.cmp(&b.path));
        let summary: Vec<(String, u32, u32)> = fixed
            .iter()
            .map(|t| {
                let rel = t.path.strip_prefix(root.path()).unwrap();
                (rel.display().to_string(), t.old_mode, t.new_mode)
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("lanyard".into(), 0o755, 0o700),
                ("lanyard/lanyard.db".into(), 0o644, 0o600),
                ("lanyard/lanyard.db-wal".into(), 0o664, 0o600),
                ("lanyard/secrets.enc".into(), 0o640, 0o600),
                ("lanyard/sub".into(), 0o775, 0o700),
                ("lanyard/tool".into(), 0o755, 0o700),
            ]
        );
        assert_eq!(mode(&dir.join("sub/note")), 0o666, "only the top level");
        assert_eq!(
            mode(&dir.join("read-only")),
            0o400,
            "stricter stays stricter"
        );
        assert_eq!(mode(&outside), 0o644);
        let line = fixed[1].to_string();
        assert!(
            line.contains("lanyard.db") && line.contains("mode 0644") && line.contains("mode 0600"),
            "{line}"
        );
        assert_eq!(
            secure_dir(&dir).unwrap(),
            vec![],
            "a second pass finds nothing"
        );
    }

    #[test]
    fn a_shared_dir_like_tmp_keeps_its_mode_and_other_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("shared");
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o1777);
        for name in [
            "lanyard.db",
            "secrets.enc.lock",
            "keyring-shelves",
            "someone-elses",
        ] {
            std::fs::write(dir.join(name), b"x").unwrap();
            set_mode(&dir.join(name), 0o644);
        }
        let fixed = secure_dir(&dir).unwrap();
        assert_eq!(fixed.len(), 3, "{fixed:?}");
        assert_eq!(mode(&dir), 0o1777);
        assert_eq!(mode(&dir.join("lanyard.db")), 0o600);
        assert_eq!(mode(&dir.join("secrets.enc.lock")), 0o600);
        assert_eq!(mode(&dir.join("keyring-shelves")), 0o600);
        assert_eq!(mode(&dir.join("someone-elses")), 0o644);
    }
}
