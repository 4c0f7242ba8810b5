//! Captcha images on disk, for the person to open: private, exclusive and short-lived.
//!
//! Each image goes to a file created exclusively (`create_new`: an existing path, a symlink
//! included, is refused, never followed), readable by us only (0600), under a random name, in a
//! private directory: `$XDG_RUNTIME_DIR/lanyard` when that is a real directory of ours with mode
//! 0700, else a fresh 0700 directory in the temp dir. A [`CaptchaFile`] removes itself when
//! dropped: after the answer is read, when the login fails, and when Ctrl-C drops the login.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use lanyard_core::{Error, Result};
use tempfile::{NamedTempFile, TempDir};

/// Where this process writes its captcha images.
pub struct CaptchaDir {
    path: PathBuf,
    /// The fallback directory: removed, with anything left in it, when this is dropped.
    _temp: Option<TempDir>,
}

/// One image on disk, removed on drop.
pub struct CaptchaFile(NamedTempFile<File>);

impl CaptchaFile {
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl CaptchaDir {
    pub fn new() -> Result<CaptchaDir> {
        if let Some(path) = runtime_dir() {
            return Ok(CaptchaDir { path, _temp: None });
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix("lanyard-");
        #[cfg(unix)]
        {
            // Made with this mode (not chmod-ed afterwards), under a random name.
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let temp = builder.tempdir().map_err(|e| {
            Error::internal(format!(
                "cannot create a private directory for the captcha image in {}: {e}",
                std::env::temp_dir().display()
            ))
        })?;
        Ok(CaptchaDir {
            path: temp.path().to_owned(),
            _temp: Some(temp),
        })
    }

    pub fn write(&self, image: &[u8], media_type: &str) -> Result<CaptchaFile> {
        let extension = match media_type {
            "image/png" => ".png",
            "image/gif" => ".gif",
            "image/jpeg" => ".jpg",
            "image/webp" => ".webp",
            "image/bmp" => ".bmp",
            // The core hands out no other type (services::refuse_unsafe_captcha).
            _ => ".img",
        };
        let cannot = |e: std::io::Error| {
            Error::internal(format!(
                "cannot write the captcha image in {}: {e}",
                self.path.display()
            ))
        };
        let mut file = tempfile::Builder::new()
            .prefix("captcha-")
            .suffix(extension)
            .rand_bytes(16)
            .make_in(&self.path, create_private)
            .map_err(cannot)?;
        file.as_file_mut()
            .write_all(image)
            .and_then(|()| file.as_file_mut().flush())
            .map_err(cannot)?;
        Ok(CaptchaFile(file))
    }
}

/// A new file only we can read; fails if anything (a symlink too) is at `path` already.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// `$XDG_RUNTIME_DIR/lanyard`, made with mode 0700 if missing. `None` unless it is a directory
/// (not a symlink to one) owned by us with mode 0700 exactly.
#[cfg(unix)]
fn runtime_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let base = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    if !base.is_absolute() {
        return None;
    }
    let dir = base.join("lanyard");
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let ours = meta.uid() == our_uid()?;
    (meta.file_type().is_dir() && meta.mode() & 0o777 == 0o700 && ours).then_some(dir)
}

#[cfg(not(unix))]
fn runtime_dir() -> Option<PathBuf> {
    None
}

/// Our user id, as the owner of a file we create (std has no getuid): an unnamed temporary
/// file, gone when closed.
#[cfg(unix)]
fn our_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    Some(tempfile::tempfile().ok()?.metadata().ok()?.uid())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_private_exclusive_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let captchas = CaptchaDir {
            path: dir.path().to_owned(),
            _temp: None,
        };
        let file = captchas.write(b"GIF89a", "image/gif").unwrap();
        let path = file.path().to_owned();
        assert_eq!(std::fs::read(&path).unwrap(), b"GIF89a");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(path.extension().is_some_and(|e| e == "gif"));
        drop(file);
        assert!(!path.exists(), "removed on drop");

        // create_new never follows a symlink planted where the file would go.
        let target = dir.path().join("target");
        std::fs::write(&target, b"untouched").unwrap();
        let link = dir.path().join("planted.png");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = create_private(&link).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
    }
}
