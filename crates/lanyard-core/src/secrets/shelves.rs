//! Many secrets in a few keyring items: on the Secret Service, the secrets of one data dir live
//! in at most [`SHELVES`] items ("shelves"), each a JSON map from key to value, instead of one
//! item per secret.
//!
//! Why: gnome-keyring encrypts and rewrites its whole keyring file for every write, at a cost in
//! proportion to the items in it (measured with 300-byte items: 2.7 ms per write with 100 items,
//! 14 ms with 1,000, 26 ms with 2,000). With an item per secret, a CoolKit account brought two
//! items, and a burst of 1,000 renewals took 37 s, nearly all of it the daemon's. On shelves,
//! the keyring holds at most 64 of Lanyard's items per data dir whatever the number of accounts
//! (the same burst: 7.4 s in `make bench`).
//!
//! A shelf is read, changed and written back, so writers of one data dir in several processes
//! (the app, the CLI) take turns: they lock the data dir's shelf file, which also holds the
//! random id that names this data dir's shelves (two data dirs never share one). Secrets stored
//! before shelves, in an item of their own, are still read; each moves onto its shelf at its next
//! write, and its own item is deleted then, or when the secret is deleted.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{RESERVED_KEY_PREFIX, SecretBackend, SecretStoreKind};
use crate::error::{Error, Result};
use crate::secret::SecretString;

/// How many shelves a data dir has. A key's shelf is fixed by its hash.
pub const SHELVES: u8 = 64;

pub use crate::data_dir::SHELF_FILE;

/// The shelf format this code reads and writes.
const FORMAT: u32 = 1;

/// A shelf as stored: its format, and the secrets on it by key.
#[derive(Serialize, Deserialize, Default)]
struct Shelf {
    lanyard_shelf: u32,
    secrets: BTreeMap<String, SecretString>,
}

pub struct ShelvedBackend {
    inner: Arc<dyn SecretBackend>,
    /// The data dir's shelf file (see [`SHELF_FILE`]).
    file: PathBuf,
    /// This data dir's shelves' id (32 hex digits), from the shelf file.
    id: String,
}

impl std::fmt::Debug for ShelvedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShelvedBackend")
            .field("file", &self.file)
            .field("id", &self.id)
            .finish()
    }
}

impl ShelvedBackend {
    /// Shelves over `inner` for the data dir `dir`, whose shelf file is read, or created with a
    /// new id.
    pub fn open(inner: Arc<dyn SecretBackend>, dir: &Path) -> Result<ShelvedBackend> {
        let file = dir.join(SHELF_FILE);
        let id = read_or_create_id(&file)?;
        Ok(ShelvedBackend { inner, file, id })
    }

    /// The item name of the shelf that holds `key`.
    pub fn shelf_of(&self, key: &str) -> String {
        format!("shelf/{}/{:02}", self.id, shelf_number(key))
    }

    /// The shelf as stored (empty if there is none), or `None` if what is stored is not a shelf.
    fn load(&self, shelf: &str) -> Result<Option<Shelf>> {
        let Some(text) = self.inner.get(shelf)? else {
            return Ok(Some(Shelf::default()));
        };
        match serde_json::from_str::<Shelf>(text.expose()) {
            Ok(s) if s.lanyard_shelf == FORMAT => Ok(Some(s)),
            Ok(s) if s.lanyard_shelf > FORMAT => Err(Error::secret_store(format!(
                "the keyring item {shelf:?} was written by a newer Lanyard (shelf format {}); \
                 use that version",
                s.lanyard_shelf
            ))),
            Ok(_) | Err(_) => Ok(None),
        }
    }

    fn read(&self, shelf: &str) -> Result<Shelf> {
        self.load(shelf)?.ok_or_else(|| damaged(shelf))
    }

    /// The shelf to change: as stored, or empty when what is stored cannot be read (its secrets
    /// are lost either way; writing keeps the others working).
    fn read_for_change(&self, shelf: &str) -> Result<Shelf> {
        Ok(self.load(shelf)?.unwrap_or_else(|| {
            tracing::warn!(shelf, "a keyring shelf could not be read; it is replaced");
            Shelf::default()
        }))
    }

    fn write(&self, shelf_key: &str, shelf: &Shelf) -> Result<()> {
        if shelf.secrets.is_empty() {
            return self.inner.delete(shelf_key);
        }
        let text = SecretString::new(
            serde_json::to_string(shelf)
                .map_err(|e| Error::internal(format!("cannot write a keyring shelf: {e}")))?,
        );
        self.inner.set(shelf_key, &text)
    }

    /// Waits for this data dir's other writers; the lock holds until the file is dropped.
    fn lock(&self) -> Result<File> {
        let file = File::open(&self.file).map_err(|e| cannot_lock(&self.file, e))?;
        file.lock().map_err(|e| cannot_lock(&self.file, e))?;
        Ok(file)
    }

    /// Stores (`Some`) or deletes (`None`) the secret under `key`: its shelf is read, changed
    /// and written back under the lock. Its item of its own, from before shelves, is deleted
    /// when the key first comes onto the shelf, and whenever it is deleted (so that no older
    /// value can come back).
    fn change(&self, key: &str, value: Option<&SecretString>) -> Result<()> {
        if !shelved(key) {
            return match value {
                Some(value) => self.inner.set(key, value),
                None => self.inner.delete(key),
            };
        }
        let shelf_key = self.shelf_of(key);
        let _lock = self.lock()?;
        let mut shelf = self.read_for_change(&shelf_key)?;
        shelf.lanyard_shelf = FORMAT;
        // Whether the shelf changes, and whether the key's own item may still exist.
        let (changed, own_item_may_exist) = match value {
            Some(value) => {
                let before = shelf.secrets.insert(key.to_owned(), value.clone());
                (before.as_ref() != Some(value), before.is_none())
            }
            None => (shelf.secrets.remove(key).is_some(), true),
        };
        if changed {
            self.write(&shelf_key, &shelf)?;
        }
        if own_item_may_exist {
            self.inner.delete(key)?;
        }
        Ok(())
    }
}

/// The number of the shelf that holds `key`, fixed by its hash.
pub fn shelf_number(key: &str) -> u8 {
    Sha256::digest(key.as_bytes())[0] % SHELVES
}

/// The probe's keys stay items of their own: it checks the store itself.
fn shelved(key: &str) -> bool {
    !key.starts_with(RESERVED_KEY_PREFIX)
}

impl SecretBackend for ShelvedBackend {
    fn kind(&self) -> SecretStoreKind {
        self.inner.kind()
    }

    fn get(&self, key: &str) -> Result<Option<SecretString>> {
        if !shelved(key) {
            return self.inner.get(key);
        }
        let shelf = self.shelf_of(key);
        if let Some(value) = self.read(&shelf)?.secrets.remove(key) {
            return Ok(Some(value));
        }
        if let Some(value) = self.inner.get(key)? {
            return Ok(Some(value));
        }
        // Another process may have moved it from its own item onto the shelf meanwhile.
        Ok(self.read(&shelf)?.secrets.remove(key))
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<()> {
        self.change(key, Some(value))
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.change(key, None)
    }
}

fn damaged(shelf: &str) -> Error {
    Error::secret_store(format!(
        "the keyring item {shelf:?} (Lanyard's secrets) cannot be read; delete it (e.g. \
         `secret-tool clear service {} username '{shelf}'`) and log in again",
        super::keyring::SERVICE
    ))
}

fn cannot_lock(file: &Path, e: std::io::Error) -> Error {
    Error::secret_store(format!(
        "cannot lock {} to change the keyring's secrets: {e}",
        file.display()
    ))
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The id in the shelf file, or a new one in a new file, linked into place only where no file
/// is ([`crate::data_dir::write_private`]): two processes starting at once agree on one id and
/// nobody reads a half-written file.
fn read_or_create_id(file: &Path) -> Result<String> {
    for _ in 0..3 {
        match std::fs::read_to_string(file) {
            Ok(text) if valid_id(text.trim()) => return Ok(text.trim().to_owned()),
            Ok(_) => {
                return Err(Error::secret_store(format!(
                    "{} is damaged: it names this data dir's secrets in the keyring; restore it \
                     from a backup, or delete it and log in to every account again",
                    file.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(cannot_read(file, e)),
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        match crate::data_dir::write_private(file, id.as_bytes(), false) {
            Ok(()) => return Ok(id),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(cannot_read(file, e)),
        }
    }
    Err(Error::secret_store(format!(
        "cannot create {}: it keeps changing",
        file.display()
    )))
}

fn cannot_read(file: &Path, e: std::io::Error) -> Error {
    Error::secret_store(format!("cannot use {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::memory::MemoryBackend;

    fn shelves(dir: &Path) -> (Arc<MemoryBackend>, ShelvedBackend) {
        let inner = Arc::new(MemoryBackend::new());
        let shelved = ShelvedBackend::open(inner.clone(), dir).unwrap();
        (inner, shelved)
    }

    fn v(s: &str) -> SecretString {
        SecretString::new(s)
    }

    #[test]
    fn a_thousand_secrets_take_one_item_per_shelf() {
        let dir = tempfile::tempdir().unwrap();
        let (inner, s) = shelves(dir.path());
        for i in 0..1000 {
            s.set(&format!("account/{i}/session"), &v(&format!("token {i}")))
                .unwrap();
        }
        assert_eq!(inner.len(), usize::from(SHELVES));
        for i in [0, 499, 999] {
            let got = s.get(&format!("account/{i}/session")).unwrap().unwrap();
            assert_eq!(got.expose(), format!("token {i}"));
        }
        for i in 0..1000 {
            s.delete(&format!("account/{i}/session")).unwrap();
        }
        assert_eq!(inner.len(), 0, "an empty shelf is no item");
        assert_eq!(s.get("account/7/session").unwrap(), None);
    }

    #[test]
    fn a_known_key_costs_one_write_and_a_new_one_also_clears_its_own_item() {
        let dir = tempfile::tempdir().unwrap();
        let (inner, s) = shelves(dir.path());
        let before = inner.writes();
        s.set("account/a/password", &v("one")).unwrap();
        assert_eq!(
            inner.writes() - before,
            2,
            "the shelf, and the old item's delete"
        );
        let before = inner.writes();
        s.set("account/a/password", &v("two")).unwrap();
        assert_eq!(inner.writes() - before, 1, "the shelf only");
        let before = inner.writes();
        s.set("account/a/password", &v("two")).unwrap();
        assert_eq!(inner.writes() - before, 0, "the same value again");
        let before = inner.writes();
        s.delete("account/a/never-stored").unwrap();
        assert_eq!(
            inner.writes() - before,
            1,
            "no shelf write, only the own item's delete"
        );
    }

    #[test]
    fn a_secret_in_an_item_of_its_own_is_read_then_moved_onto_its_shelf() {
        let dir = tempfile::tempdir().unwrap();
        let (inner, s) = shelves(dir.path());
        inner.set("account/a/session", &v("old")).unwrap();
        inner.set("account/b/password", &v("kept")).unwrap();
        assert_eq!(s.get("account/a/session").unwrap().unwrap().expose(), "old");
        s.set("account/a/session", &v("new")).unwrap();
        assert_eq!(inner.get("account/a/session").unwrap(), None, "moved");
        assert_eq!(s.get("account/a/session").unwrap().unwrap().expose(), "new");
        s.delete("account/b/password").unwrap();
        assert_eq!(inner.get("account/b/password").unwrap(), None);
        assert_eq!(s.get("account/b/password").unwrap(), None);
    }

    #[test]
    fn probe_keys_stay_items_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let (inner, s) = shelves(dir.path());
        let key = format!("{RESERVED_KEY_PREFIX}x");
        s.set(&key, &v("p")).unwrap();
        assert_eq!(inner.get(&key).unwrap().unwrap().expose(), "p");
    }

    #[test]
    fn two_data_dirs_never_share_a_shelf_and_one_dir_keeps_its_id() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let inner: Arc<dyn SecretBackend> = Arc::new(MemoryBackend::new());
        let sa = ShelvedBackend::open(inner.clone(), a.path()).unwrap();
        let sb = ShelvedBackend::open(inner.clone(), b.path()).unwrap();
        assert_ne!(sa.shelf_of("k"), sb.shelf_of("k"));
        let again = ShelvedBackend::open(inner, a.path()).unwrap();
        assert_eq!(sa.shelf_of("k"), again.shelf_of("k"));
    }

    #[test]
    fn a_damaged_shelf_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SHELF_FILE), "not an id").unwrap();
        let err = ShelvedBackend::open(Arc::new(MemoryBackend::new()), dir.path()).unwrap_err();
        assert!(err.message.contains("is damaged"), "{}", err.message);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(SHELF_FILE)).unwrap(),
            "not an id"
        );
    }

    #[test]
    fn an_unreadable_shelf_is_reported_on_read_and_replaced_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let (inner, s) = shelves(dir.path());
        let shelf = s.shelf_of("account/a/session");
        inner.set(&shelf, &v("{not json")).unwrap();
        let err = s.get("account/a/session").unwrap_err();
        assert!(err.message.contains("secret-tool clear"), "{}", err.message);
        assert!(!err.message.contains("not json"));
        s.set("account/a/session", &v("fresh")).unwrap();
        assert_eq!(
            s.get("account/a/session").unwrap().unwrap().expose(),
            "fresh"
        );

        inner
            .set(&shelf, &v(r#"{"lanyard_shelf":2,"secrets":{}}"#))
            .unwrap();
        let err = s.set("account/a/session", &v("x")).unwrap_err();
        assert!(err.message.contains("newer Lanyard"), "{}", err.message);
    }

    #[test]
    fn writers_of_one_data_dir_in_parallel_lose_nothing() {
        // Two backends over one store and one data dir stand for two processes: each has its own
        // open file, so the shelf file's lock is what keeps them apart.
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn SecretBackend> = Arc::new(MemoryBackend::new());
        let writers: Vec<_> = (0..2)
            .map(|_| Arc::new(ShelvedBackend::open(inner.clone(), dir.path()).unwrap()))
            .collect();
        let threads: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(w, s)| {
                let s = Arc::clone(s);
                std::thread::spawn(move || {
                    for i in 0..100 {
                        s.set(&format!("account/{w}-{i}/session"), &v("t")).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for w in 0..2 {
            for i in 0..100 {
                let key = format!("account/{w}-{i}/session");
                assert!(writers[0].get(&key).unwrap().is_some(), "{key} lost");
            }
        }
    }
}
