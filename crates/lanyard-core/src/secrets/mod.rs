//! Secret stores: where passwords, tokens and app secrets live.
//!
//! Three backends behind one blocking trait, [`SecretBackend`]:
//! - [`keyring`]: the OS keyring (Secret Service on Linux, Keychain on macOS, Credential
//!   Manager on Windows), the default;
//! - [`file`]: an encrypted file (Argon2id + ChaCha20-Poly1305) for machines without a keyring
//!   (`LANYARD_SECRET_STORE=file`);
//! - [`memory`]: a map in memory, for unit tests.
//!
//! On Linux the keyring's session tokens are also cached in the kernel's session keyring
//! ([`session_cache`]), read through [`Secrets::get_stamped`].
//!
//! The async façade [`Secrets`] runs every call off the async runtime (`spawn_blocking`) and
//! under a timeout, so a hung or prompting keyring can never stall the runtime. Error messages
//! say what to do and never contain a secret value.

pub mod file;
pub mod keyring;
pub mod memory;
pub mod session_cache;
pub mod shelves;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::secret::SecretString;

/// Which kind of store holds the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum SecretStoreKind {
    Keyring,
    File,
    Memory,
}

impl SecretStoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretStoreKind::Keyring => "keyring",
            SecretStoreKind::File => "file",
            SecretStoreKind::Memory => "memory",
        }
    }
}

impl fmt::Display for SecretStoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the user's choice (`LANYARD_SECRET_STORE`): `keyring` or `file`. The memory store is
/// for tests and cannot be selected.
impl std::str::FromStr for SecretStoreKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "keyring" => Ok(SecretStoreKind::Keyring),
            "file" => Ok(SecretStoreKind::File),
            _ => Err(Error::invalid_input(format!(
                "unknown secret store {s:?}: LANYARD_SECRET_STORE must be \"keyring\" or \"file\""
            ))),
        }
    }
}

/// A blocking secret store. Implementations may block (D-Bus calls, file locks, Argon2), so
/// callers on an async runtime go through [`Secrets`].
pub trait SecretBackend: Send + Sync + 'static {
    fn kind(&self) -> SecretStoreKind;
    /// `Ok(None)` when no secret is stored under `key`.
    fn get(&self, key: &str) -> Result<Option<SecretString>>;
    /// Creates or replaces the secret under `key`.
    fn set(&self, key: &str, value: &SecretString) -> Result<()>;
    /// Removes the secret under `key`; deleting a missing key is `Ok`.
    fn delete(&self, key: &str) -> Result<()>;
}

/// Default deadline for one secret-store call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Keys starting with this prefix are reserved for [`Secrets::health`]'s probe.
pub const RESERVED_KEY_PREFIX: &str = "__lanyard_probe__";

/// Keys longer than this are refused (keyrings have attribute limits).
const MAX_KEY_LEN: usize = 512;

/// The async façade over a [`SecretBackend`]: cheap to clone, every call runs on the blocking
/// pool under a timeout.
#[derive(Clone)]
pub struct Secrets {
    backend: Arc<dyn SecretBackend>,
    timeout: Duration,
    /// Per key, shared by the clones: see [`KeyOrder`].
    order: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<KeyOrder>>>>,
    /// The kernel's session keyring in front of the OS keyring (Linux), if it can be used.
    cache: Option<Arc<session_cache::SessionCache>>,
}

/// Keeps the writes of one key in the order they were asked for. Each `set`/`delete` takes a
/// number when called; on the blocking pool it runs under the key's mutex and is skipped when a
/// later-numbered write of the key already landed. A write that timed out keeps running (a
/// blocking call cannot be cancelled), so without this a slow, older value could land after a
/// newer one and overwrite it.
#[derive(Default)]
struct KeyOrder {
    issued: std::sync::atomic::AtomicU64,
    landed: std::sync::Mutex<u64>,
}

/// Result of [`Secrets::health`], shown by the UI and `lanyard status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SecretStoreHealth {
    pub kind: SecretStoreKind,
    pub ok: bool,
    /// In English, for `lanyard status`.
    pub message: String,
    /// Why the store cannot be used (its code, for a window to say in its language).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<Error>,
}

impl Secrets {
    /// The OS keyring, an item per secret. Connects now (on a helper thread, bounded by the
    /// default timeout), so a machine without a keyring is reported here with an actionable
    /// message. (The app and the CLI keep a data dir's secrets as
    /// [`Secrets::keyring_for_data_dir`] does.)
    pub fn keyring() -> Result<Secrets> {
        let backend = keyring::KeyringBackend::connect(DEFAULT_TIMEOUT)?;
        Ok(Secrets::from_backend(Arc::new(backend)).with_session_cache())
    }

    /// The OS keyring as the data dir `dir` uses it, connected on the first call that needs it
    /// (under that call's timeout): a run that finds its session in the kernel cache never opens
    /// a D-Bus connection. A machine without a keyring is reported by the first secret access
    /// and by [`Secrets::health`]. On the Secret Service (Linux) the data dir's secrets are kept
    /// on [`shelves`], a few items shared by many secrets, since gnome-keyring's writes cost in
    /// proportion to its items.
    pub fn keyring_for_data_dir(dir: &Path) -> Result<Secrets> {
        let keyring: Arc<dyn SecretBackend> = Arc::new(keyring::KeyringBackend::on_first_use());
        #[cfg(target_os = "linux")]
        let keyring: Arc<dyn SecretBackend> =
            Arc::new(shelves::ShelvedBackend::open(keyring, dir)?);
        #[cfg(not(target_os = "linux"))]
        let _ = dir;
        Ok(Secrets::from_backend(keyring).with_session_cache())
    }

    fn with_session_cache(mut self) -> Secrets {
        self.cache = session_cache::SessionCache::open().map(Arc::new);
        self
    }

    /// The encrypted file store at `path`, created (mode 0600) if missing. Runs Argon2 once
    /// (a fraction of a second) and verifies the passphrase against an existing file, so a wrong
    /// passphrase or a damaged file is reported here.
    pub fn file(path: &Path, passphrase: SecretString) -> Result<Secrets> {
        let backend = file::FileBackend::open(path, passphrase)?;
        Ok(Secrets::from_backend(Arc::new(backend)))
    }

    /// A store in memory, gone with the process. For tests.
    pub fn memory() -> Secrets {
        Secrets::from_backend(Arc::new(memory::MemoryBackend::new()))
    }

    /// Wraps any backend (tests use this for failing or slow stores).
    pub fn from_backend(backend: Arc<dyn SecretBackend>) -> Secrets {
        Secrets {
            backend,
            timeout: DEFAULT_TIMEOUT,
            order: Arc::default(),
            cache: None,
        }
    }

    /// Deadline for each call (default 10 s).
    pub fn with_timeout(mut self, d: Duration) -> Secrets {
        self.timeout = d;
        self
    }

    pub fn kind(&self) -> SecretStoreKind {
        self.backend.kind()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub async fn get(&self, key: &str) -> Result<Option<SecretString>> {
        check_key(key)?;
        let key = key.to_owned();
        self.run("read a secret", move |b| b.get(&key)).await
    }

    /// A secret that changes together with a stamp the caller keeps elsewhere (a session and
    /// its generation in the database): served from the kernel cache when it holds this key
    /// under this stamp, else read from the store and cached for at most `ttl`.
    pub async fn get_stamped(
        &self,
        key: &str,
        stamp: i64,
        ttl: Duration,
    ) -> Result<Option<SecretString>> {
        check_key(key)?;
        let Some(cache) = &self.cache else {
            return self.get(key).await;
        };
        if let Some(value) = cache.get(key, stamp) {
            return Ok(Some(value));
        }
        let value = self.get(key).await?;
        if let Some(value) = &value {
            cache.put(key, stamp, value, ttl);
        }
        Ok(value)
    }

    /// Drops the kernel cache's copies of `key` (before the store's own copy changes).
    fn forget_cached(&self, key: &str) {
        if let Some(cache) = &self.cache {
            cache.forget(key);
        }
    }

    pub async fn set(&self, key: &str, value: &SecretString) -> Result<()> {
        check_key(key)?;
        self.forget_cached(key);
        let key = key.to_owned();
        let value = value.clone();
        let (order, seq) = self.next_write(&key);
        self.run("store a secret", move |b| {
            in_order(&order, seq, || b.set(&key, &value))
        })
        .await
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        self.forget_cached(key);
        let key = key.to_owned();
        let (order, seq) = self.next_write(&key);
        self.run("delete a secret", move |b| {
            in_order(&order, seq, || b.delete(&key))
        })
        .await
    }

    /// The key's order and the number of a new write of it.
    fn next_write(&self, key: &str) -> (Arc<KeyOrder>, u64) {
        let order = self
            .order
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone();
        let seq = order
            .issued
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        (order, seq)
    }

    /// Probes the store: writes, reads back and deletes a reserved key (unique per call, so
    /// concurrent probes from several processes do not disturb each other).
    pub async fn health(&self) -> SecretStoreHealth {
        let kind = self.kind();
        match self.probe().await {
            Ok(()) => SecretStoreHealth {
                kind,
                ok: true,
                message: format!(
                    "the {} works (a probe secret was written, read back and deleted)",
                    describe(kind)
                ),
                error: None,
            },
            Err(e) => SecretStoreHealth {
                kind,
                ok: false,
                message: e.message.clone(),
                error: Some(e),
            },
        }
    }

    async fn probe(&self) -> Result<()> {
        let key = format!("{RESERVED_KEY_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let value = SecretString::new(uuid::Uuid::new_v4().simple().to_string());
        let kind = self.kind();
        self.run("check the secret store", move |b| {
            b.set(&key, &value)?;
            let outcome = match b.get(&key) {
                Ok(Some(read)) if read == value => Ok(()),
                Ok(Some(_)) => Err(Error::secret_store(format!(
                    "the {} returned a different value than was just stored in it",
                    describe(kind)
                ))),
                Ok(None) => Err(Error::secret_store(format!(
                    "the {} lost a probe secret right after storing it",
                    describe(kind)
                ))),
                Err(e) => Err(e),
            };
            let deleted = b.delete(&key);
            outcome?;
            deleted?;
            match b.get(&key)? {
                None => Ok(()),
                Some(_) => Err(Error::secret_store(format!(
                    "the {} still holds a probe secret after deleting it",
                    describe(kind)
                ))),
            }
        })
        .await
    }

    async fn run<T, F>(&self, what: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SecretBackend) -> Result<T> + Send + 'static,
    {
        let backend = Arc::clone(&self.backend);
        let kind = backend.kind();
        let task = tokio::task::spawn_blocking(move || f(backend.as_ref()));
        match tokio::time::timeout(self.timeout, task).await {
            Ok(Ok(result)) => result,
            // Never format the panic payload: it could quote anything. Still a secret-store
            // failure for the caller (the CLI's exit 7), though the cause is a bug.
            Ok(Err(_)) => Err(Error::secret_store(format!(
                "the {} failed unexpectedly while trying to {what} (a bug; please report it)",
                describe(kind)
            ))),
            Err(_) => Err(timeout_error(kind, self.timeout)),
        }
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("kind", &self.kind())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Runs write number `seq` of a key unless a later one already landed (see [`KeyOrder`]).
fn in_order(order: &KeyOrder, seq: u64, write: impl FnOnce() -> Result<()>) -> Result<()> {
    let mut landed = order
        .landed
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *landed > seq {
        return Ok(());
    }
    write()?;
    *landed = seq;
    Ok(())
}

fn describe(kind: SecretStoreKind) -> &'static str {
    match kind {
        SecretStoreKind::Keyring => "keyring",
        SecretStoreKind::File => "encrypted secret file",
        SecretStoreKind::Memory => "in-memory secret store",
    }
}

/// "10 s", "1.5 s", "200 ms".
pub(crate) fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else if ms >= 1000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{ms} ms")
    }
}

fn timeout_error(kind: SecretStoreKind, d: Duration) -> Error {
    let within = human_duration(d);
    Error::secret_store(match kind {
        SecretStoreKind::Keyring => format!(
            "the keyring did not answer within {within} (it may be waiting for an unlock prompt, or the \
             Secret Service is hung); unlock or restart it, or set LANYARD_SECRET_STORE=file"
        ),
        SecretStoreKind::File => format!(
            "the encrypted secret file did not answer within {within} (another Lanyard process may be \
             holding its lock, or the disk is slow); try again"
        ),
        SecretStoreKind::Memory => {
            format!("the in-memory secret store did not answer within {within}")
        }
    })
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid_input("a secret key cannot be empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::invalid_input(format!(
            "a secret key is limited to {MAX_KEY_LEN} bytes"
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "a secret key cannot contain control characters",
        ));
    }
    if key.starts_with(RESERVED_KEY_PREFIX) {
        return Err(Error::invalid_input(format!(
            "secret keys starting with {RESERVED_KEY_PREFIX} are reserved"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn kind_parses_user_choices_only() {
        assert_eq!(
            "keyring".parse::<SecretStoreKind>().unwrap(),
            SecretStoreKind::Keyring
        );
        assert_eq!(
            " File ".parse::<SecretStoreKind>().unwrap(),
            SecretStoreKind::File
        );
        let err = "memory".parse::<SecretStoreKind>().unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(
            err.message.contains("LANYARD_SECRET_STORE"),
            "{}",
            err.message
        );
        assert!("".parse::<SecretStoreKind>().is_err());
        assert_eq!(
            serde_json::to_string(&SecretStoreKind::Keyring).unwrap(),
            "\"keyring\""
        );
        assert_eq!(SecretStoreKind::File.to_string(), "file");
    }

    #[tokio::test]
    async fn facade_round_trip_on_memory() {
        let s = Secrets::memory();
        assert_eq!(s.kind(), SecretStoreKind::Memory);
        assert_eq!(s.get("a").await.unwrap(), None);
        s.set("a", &SecretString::new("one")).await.unwrap();
        assert_eq!(s.get("a").await.unwrap().unwrap().expose(), "one");
        s.delete("a").await.unwrap();
        s.delete("a").await.unwrap();
        assert_eq!(s.get("a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn bad_and_reserved_keys_are_refused() {
        let s = Secrets::memory();
        for key in [
            "",
            "a\nb",
            &format!("{RESERVED_KEY_PREFIX}x"),
            &"k".repeat(MAX_KEY_LEN + 1),
        ] {
            let err = s.set(key, &SecretString::new("v")).await.unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidInput, "{key:?}");
        }
    }

    #[tokio::test]
    async fn health_probes_and_cleans_up() {
        let backend = Arc::new(memory::MemoryBackend::new());
        let s = Secrets::from_backend(backend.clone());
        let h = s.health().await;
        assert!(h.ok, "{}", h.message);
        assert_eq!(h.kind, SecretStoreKind::Memory);
        assert_eq!(backend.len(), 0, "the probe key must be deleted");
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["kind"], "memory");
        assert_eq!(json["ok"], true);
    }

    struct Slow;
    impl SecretBackend for Slow {
        fn kind(&self) -> SecretStoreKind {
            SecretStoreKind::Keyring
        }
        fn get(&self, _: &str) -> Result<Option<SecretString>> {
            std::thread::sleep(Duration::from_secs(2));
            Ok(None)
        }
        fn set(&self, _: &str, _: &SecretString) -> Result<()> {
            std::thread::sleep(Duration::from_secs(2));
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_hung_store_times_out_with_an_actionable_message() {
        let s = Secrets::from_backend(Arc::new(Slow)).with_timeout(Duration::from_millis(100));
        let started = std::time::Instant::now();
        let err = s.get("k").await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(err.code, ErrorCode::SecretStore);
        assert!(
            err.message
                .contains("the keyring did not answer within 100 ms"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("LANYARD_SECRET_STORE=file"),
            "{}",
            err.message
        );
        let h = s.health().await;
        assert!(!h.ok);
        assert!(h.message.contains("did not answer"), "{}", h.message);
    }

    /// The first write of a key hangs past the deadline; later writes are quick.
    #[derive(Default)]
    struct FirstWriteHangs {
        inner: memory::MemoryBackend,
        writes: std::sync::atomic::AtomicUsize,
    }
    impl SecretBackend for FirstWriteHangs {
        fn kind(&self) -> SecretStoreKind {
            SecretStoreKind::Keyring
        }
        fn get(&self, key: &str) -> Result<Option<SecretString>> {
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &SecretString) -> Result<()> {
            if self
                .writes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                == 0
            {
                std::thread::sleep(Duration::from_millis(400));
            }
            self.inner.set(key, value)
        }
        fn delete(&self, key: &str) -> Result<()> {
            self.inner.delete(key)
        }
    }

    #[tokio::test]
    async fn a_write_that_timed_out_never_overwrites_a_newer_one() {
        let backend = Arc::new(FirstWriteHangs::default());
        let s = Secrets::from_backend(backend.clone()).with_timeout(Duration::from_millis(100));
        let err = s.set("k", &SecretString::new("old")).await.unwrap_err();
        assert!(err.message.contains("did not answer"), "{}", err.message);
        // Asked for after the old one: it must be the value that stays.
        s.set("k", &SecretString::new("new"))
            .await
            .unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(backend.get("k").unwrap().unwrap().expose(), "new");
        assert_eq!(s.get("k").await.unwrap().unwrap().expose(), "new");
    }

    struct Panics;
    impl SecretBackend for Panics {
        fn kind(&self) -> SecretStoreKind {
            SecretStoreKind::Memory
        }
        fn get(&self, _: &str) -> Result<Option<SecretString>> {
            panic!("hunter2")
        }
        fn set(&self, _: &str, _: &SecretString) -> Result<()> {
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_panicking_store_is_a_secret_store_error_without_the_payload() {
        let err = Secrets::from_backend(Arc::new(Panics))
            .get("k")
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::SecretStore);
        assert!(
            err.message.contains("a bug; please report it"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("hunter2"));
    }

    #[test]
    fn debug_shows_no_secrets() {
        let s = Secrets::memory();
        let dbg = format!("{s:?}");
        assert!(dbg.contains("Memory") && dbg.contains("timeout"), "{dbg}");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(10)), "10 s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250 ms");
    }
}
