//! The clipboard as hostile territory: a token goes in marked as a secret, and comes out again
//! after a delay, but only if the clipboard still holds exactly that token.
//!
//! - Writing sets the password-manager hint (`x-kde-passwordManagerHint` on X11,
//!   `ExcludeClipboardContentFromMonitorProcessing` on Windows), so clipboard managers and
//!   clipboard history keep it out.
//! - On X11 the clipboard's contents belong to the process that set them, so one arboard
//!   `Clipboard` lives as long as the app does.
//! - Only a SHA-256 digest of the copied text is remembered; the text itself is dropped (and
//!   zeroed) right after the write. Nothing here ever logs or returns clipboard contents.

use std::sync::{Arc, Mutex};

use lanyard_core::Error;
use sha2::{Digest, Sha256};

/// Where the text goes: arboard in the app, a fake in unit tests.
pub trait ClipboardBackend: Send {
    /// Puts `text` on the clipboard marked as a secret.
    fn set_secret(&mut self, text: &str) -> Result<(), String>;
    /// The clipboard's text now, if it holds text.
    fn text(&mut self) -> Option<String>;
    /// Empties the clipboard.
    fn clear(&mut self) -> Result<(), String>;
}

/// The system clipboard through arboard, opened on first use (a unit test never needs a
/// display) and then kept open.
#[derive(Default)]
pub struct SystemClipboard {
    clipboard: Option<arboard::Clipboard>,
}

impl SystemClipboard {
    fn open(&mut self) -> Result<&mut arboard::Clipboard, String> {
        if self.clipboard.is_none() {
            self.clipboard = Some(arboard::Clipboard::new().map_err(|e| e.to_string())?);
        }
        Ok(self.clipboard.as_mut().expect("opened just above"))
    }
}

impl ClipboardBackend for SystemClipboard {
    fn set_secret(&mut self, text: &str) -> Result<(), String> {
        let clipboard = self.open()?;
        let set = clipboard.set();
        #[cfg(target_os = "linux")]
        let set = {
            use arboard::SetExtLinux;
            set.exclude_from_history()
        };
        // ExcludeClipboardContentFromMonitorProcessing: Windows keeps the text out of its
        // clipboard history (Win+V) and the cloud clipboard, and clipboard managers that honour
        // the format skip it, like the X11 hint above. It covers what the separate
        // CanIncludeInClipboardHistory / CanUploadToCloudClipboard flags would.
        #[cfg(target_os = "windows")]
        let set = {
            use arboard::SetExtWindows;
            set.exclude_from_monitoring()
        };
        #[cfg(target_os = "macos")]
        let set = {
            use arboard::SetExtApple;
            set.exclude_from_history()
        };
        set.text(text).map_err(|e| e.to_string())
    }

    fn text(&mut self) -> Option<String> {
        self.open().ok()?.get_text().ok()
    }

    fn clear(&mut self) -> Result<(), String> {
        self.open()?.clear().map_err(|e| e.to_string())
    }
}

struct Inner {
    backend: Box<dyn ClipboardBackend>,
    /// Bumped on every copy: a delayed clear of an older copy does nothing.
    generation: u64,
    /// SHA-256 of what the last copy wrote, until it is cleared.
    digest: Option<[u8; 32]>,
}

/// The app's one clipboard. Cheap to clone; every call blocks (run it off the async runtime).
#[derive(Clone)]
pub struct SecretClipboard {
    inner: Arc<Mutex<Inner>>,
}

impl Default for SecretClipboard {
    fn default() -> Self {
        Self::new(Box::new(SystemClipboard::default()))
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl SecretClipboard {
    pub fn new(backend: Box<dyn ClipboardBackend>) -> Self {
        SecretClipboard {
            inner: Arc::new(Mutex::new(Inner {
                backend,
                generation: 0,
                digest: None,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the secret and returns the copy's generation, for [`Self::clear_if_unchanged`].
    pub fn write(&self, text: &str) -> Result<u64, Error> {
        let mut inner = self.lock();
        inner.backend.set_secret(text).map_err(|why| {
            // `why` comes from the clipboard library and never holds the text.
            Error::internal(format!("could not write the clipboard: {why}"))
        })?;
        inner.generation += 1;
        inner.digest = Some(digest(text));
        Ok(inner.generation)
    }

    /// Clears the clipboard if copy `generation` was the last one and the clipboard still
    /// holds what it wrote. Returns whether it cleared.
    pub fn clear_if_unchanged(&self, generation: u64) -> bool {
        let mut inner = self.lock();
        if inner.generation != generation {
            return false;
        }
        self.clear_locked(&mut inner)
    }

    /// Clears the clipboard if it still holds the last copied secret (at quit).
    pub fn clear_if_ours(&self) -> bool {
        let mut inner = self.lock();
        self.clear_locked(&mut inner)
    }

    fn clear_locked(&self, inner: &mut Inner) -> bool {
        let Some(expected) = inner.digest else {
            return false;
        };
        let now = inner
            .backend
            .text()
            .map(zeroize::Zeroizing::new)
            .map(|t| digest(&t));
        if now != Some(expected) {
            // Someone else owns the clipboard now: their contents are not ours to touch.
            inner.digest = None;
            return false;
        }
        inner.digest = None;
        match inner.backend.clear() {
            Ok(()) => true,
            Err(why) => {
                tracing::warn!(error = %why, "could not clear the clipboard");
                false
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A clipboard in memory that others can write to as well.
    #[derive(Clone, Default)]
    pub(crate) struct FakeClipboard {
        pub(crate) contents: Arc<Mutex<Option<(String, bool)>>>,
    }

    impl ClipboardBackend for FakeClipboard {
        fn set_secret(&mut self, text: &str) -> Result<(), String> {
            *self.contents.lock().unwrap() = Some((text.to_owned(), true));
            Ok(())
        }
        fn text(&mut self) -> Option<String> {
            self.contents
                .lock()
                .unwrap()
                .as_ref()
                .map(|(t, _)| t.clone())
        }
        fn clear(&mut self) -> Result<(), String> {
            *self.contents.lock().unwrap() = None;
            Ok(())
        }
    }

    impl FakeClipboard {
        pub(crate) fn now(&self) -> Option<String> {
            self.contents
                .lock()
                .unwrap()
                .as_ref()
                .map(|(t, _)| t.clone())
        }
        fn someone_else_copies(&self, text: &str) {
            *self.contents.lock().unwrap() = Some((text.to_owned(), false));
        }
    }

    #[test]
    fn the_copy_is_marked_secret_and_cleared_when_untouched() {
        let fake = FakeClipboard::default();
        let clipboard = SecretClipboard::new(Box::new(fake.clone()));
        let generation = clipboard.write("tok-1").unwrap();
        assert_eq!(
            *fake.contents.lock().unwrap(),
            Some(("tok-1".to_owned(), true))
        );
        assert!(clipboard.clear_if_unchanged(generation));
        assert_eq!(fake.now(), None);
        // Nothing left to clear.
        assert!(!clipboard.clear_if_unchanged(generation));
    }

    #[test]
    fn what_someone_else_copied_meanwhile_is_left_alone() {
        let fake = FakeClipboard::default();
        let clipboard = SecretClipboard::new(Box::new(fake.clone()));
        let generation = clipboard.write("tok-1").unwrap();
        fake.someone_else_copies("a shopping list");
        assert!(!clipboard.clear_if_unchanged(generation));
        assert_eq!(fake.now().as_deref(), Some("a shopping list"));
        assert!(!clipboard.clear_if_ours());
    }

    #[test]
    fn an_older_copy_does_not_clear_a_newer_one() {
        let fake = FakeClipboard::default();
        let clipboard = SecretClipboard::new(Box::new(fake.clone()));
        let first = clipboard.write("tok-1").unwrap();
        let second = clipboard.write("tok-2").unwrap();
        assert!(!clipboard.clear_if_unchanged(first));
        assert_eq!(fake.now().as_deref(), Some("tok-2"));
        assert!(clipboard.clear_if_unchanged(second));
        assert_eq!(fake.now(), None);
    }

    #[test]
    fn quitting_clears_only_our_own_copy() {
        let fake = FakeClipboard::default();
        let clipboard = SecretClipboard::new(Box::new(fake.clone()));
        clipboard.write("tok-1").unwrap();
        assert!(clipboard.clear_if_ours());
        assert_eq!(fake.now(), None);
    }
}
