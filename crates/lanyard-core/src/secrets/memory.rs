//! A secret store in memory, for unit tests. Values are zeroized when replaced or dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{SecretBackend, SecretStoreKind};
use crate::error::Result;
use crate::secret::SecretString;

#[derive(Default)]
pub struct MemoryBackend {
    map: Mutex<HashMap<String, SecretString>>,
    /// Sets and deletes so far (tests count what a change costs).
    writes: AtomicUsize,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored secrets.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Sets and deletes so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SecretString>> {
        // A panic elsewhere cannot leave a HashMap half-updated in a way that matters here.
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("secrets", &self.len())
            .finish()
    }
}

impl SecretBackend for MemoryBackend {
    fn kind(&self) -> SecretStoreKind {
        SecretStoreKind::Memory
    }

    fn get(&self, key: &str) -> Result<Option<SecretString>> {
        Ok(self.lock().get(key).cloned())
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<()> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(key.to_owned(), value.clone());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_overwrite_delete() {
        let m = MemoryBackend::new();
        assert!(m.is_empty());
        assert_eq!(m.get("k").unwrap(), None);
        m.set("k", &"v1".into()).unwrap();
        m.set("other", &"x".into()).unwrap();
        assert_eq!(m.get("k").unwrap().unwrap().expose(), "v1");
        m.set("k", &"v2".into()).unwrap();
        assert_eq!(m.get("k").unwrap().unwrap().expose(), "v2");
        m.delete("k").unwrap();
        m.delete("k").unwrap(); // missing key: still Ok
        assert_eq!(m.get("k").unwrap(), None);
        assert_eq!(m.get("other").unwrap().unwrap().expose(), "x");
        assert_eq!(m.len(), 1);
        assert_eq!(m.kind(), SecretStoreKind::Memory);
    }

    #[test]
    fn debug_is_redacted() {
        let m = MemoryBackend::new();
        m.set("account/1/password", &"hunter2".into()).unwrap();
        let dbg = format!("{m:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("account/1"),
            "{dbg}"
        );
    }
}
