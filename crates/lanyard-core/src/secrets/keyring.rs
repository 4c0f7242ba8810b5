//! The OS keyring through keyring-core 1.x: Secret Service (zbus) on Linux, the Keychain on
//! macOS, the Credential Manager on Windows.
//!
//! Every item has service `lanyard` and the secret's key as its user/account attribute. All
//! calls here block; [`super::Secrets`] runs them on the blocking pool under a timeout. (If
//! anything in the dependency graph turns on zbus's `tokio` feature, calling the store from an
//! async task panics; through `spawn_blocking` it works.)
//!
//! Failures become messages a person can act on: no Secret Service, a locked keyring,
//! duplicates, unreadable items. No message ever contains a secret value.

#[cfg(target_os = "linux")]
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry, Error as KError};

use super::{SecretBackend, SecretStoreKind, human_duration};
use crate::error::{Error, Result};
use crate::secret::SecretString;

/// The `service` attribute of every Lanyard item.
pub const SERVICE: &str = "lanyard";

/// How often a "no default collection" answer is retried (a Secret Service that has just
/// started can answer `NoStorageAccess(NoResult)` for a moment, before its login keyring is up).
const NOT_READY_ATTEMPTS: u32 = 3;
const NOT_READY_PAUSE: Duration = Duration::from_millis(250);

const USE_FILE_HINT: &str = "or set LANYARD_SECRET_STORE=file";

/// At most this many connections to the keyring. The store makes one call at a time on a
/// connection, each a round trip; calls made at once (the keep-alive engine's) take further
/// connections, so this process prepares and decrypts some while the daemon answers another.
/// One call at a time (the CLI) keeps to the first.
const CONNECTIONS: usize = 4;

pub struct KeyringBackend {
    connections: [Connection; CONNECTIONS],
    /// Where a call goes when every connection is busy.
    next: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Connection {
    /// `None` after a connection-level failure: the next call reconnects (the keyring daemon
    /// may have been restarted).
    store: Mutex<Option<Arc<CredentialStore>>>,
    /// Held by the call using the connection.
    busy: Mutex<()>,
}

impl std::fmt::Debug for KeyringBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let connected = self.connections[0]
            .store
            .lock()
            .map(|s| s.is_some())
            .unwrap_or(false);
        f.debug_struct("KeyringBackend")
            .field("service", &SERVICE)
            .field("connected", &connected)
            .finish()
    }
}

impl KeyringBackend {
    /// Connects to the platform's keyring on a helper thread (never on an async worker), giving
    /// up after `timeout`.
    pub fn connect(timeout: Duration) -> Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("lanyard-keyring-connect".into())
            .spawn(move || {
                let _ = tx.send(new_store());
            })
            .map_err(|e| {
                Error::secret_store(format!("cannot start a thread to reach the keyring: {e}"))
            })?;
        match rx.recv_timeout(timeout) {
            Ok(Ok(store)) => {
                let backend = KeyringBackend::on_first_use();
                *backend.connections[0]
                    .store
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(store);
                Ok(backend)
            }
            Ok(Err(e)) => Err(map_error(&e, None)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Error::secret_store(format!(
                "the keyring did not answer within {} while connecting (is the Secret Service hung?); \
                 restart it, {USE_FILE_HINT}",
                human_duration(timeout)
            ))),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::secret_store(
                "connecting to the keyring failed unexpectedly (a bug; please report it)",
            )),
        }
    }

    /// A backend that connects on its first call (each call runs under the caller's timeout).
    pub fn on_first_use() -> Self {
        KeyringBackend {
            connections: Default::default(),
            next: Default::default(),
        }
    }

    /// The first free connection, else one in turn (waiting for it), held until the guard goes.
    fn take_connection(&self) -> (usize, std::sync::MutexGuard<'_, ()>) {
        for (i, c) in self.connections.iter().enumerate() {
            match c.busy.try_lock() {
                Ok(guard) => return (i, guard),
                Err(std::sync::TryLockError::Poisoned(p)) => return (i, p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % CONNECTIONS;
        let guard = self.connections[i]
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        (i, guard)
    }

    fn store(&self, slot: usize) -> Result<Arc<CredentialStore>> {
        let mut guard = self.connections[slot]
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(store) = guard.as_ref() {
            return Ok(Arc::clone(store));
        }
        let store = new_store().map_err(|e| map_error(&e, None))?;
        *guard = Some(Arc::clone(&store));
        Ok(store)
    }

    fn forget_connection(&self, slot: usize) {
        *self.connections[slot]
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Runs `op` on the entry for `key`, retrying briefly while the keyring is not ready, and
    /// dropping the connection after a connection-level failure.
    fn with_entry<T>(
        &self,
        key: &str,
        op: impl Fn(&Entry) -> keyring_core::Result<T>,
    ) -> Result<T> {
        let (slot, _busy) = self.take_connection();
        let mut attempt = 1;
        loop {
            let store = self.store(slot)?;
            let result = build_entry(store.as_ref(), key).and_then(|entry| op(&entry));
            match result {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let class = classify(&e);
                    if class == Class::NoLoginKeyring && attempt < NOT_READY_ATTEMPTS {
                        std::thread::sleep(NOT_READY_PAUSE * attempt);
                        attempt += 1;
                        continue;
                    }
                    if matches!(class, Class::NoBus | Class::Unavailable | Class::Other)
                        && matches!(e, KError::PlatformFailure(_))
                    {
                        self.forget_connection(slot);
                    }
                    tracing::debug!(key, error = %SafeDisplay(&e), "keyring call failed");
                    return Err(map_error(&e, Some(key)));
                }
            }
        }
    }
}

impl SecretBackend for KeyringBackend {
    fn kind(&self) -> SecretStoreKind {
        SecretStoreKind::Keyring
    }

    fn get(&self, key: &str) -> Result<Option<SecretString>> {
        self.with_entry(key, |entry| match entry.get_password() {
            Ok(password) => Ok(Some(SecretString::new(password))),
            Err(KError::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<()> {
        self.with_entry(key, |entry| match entry.set_password(value.expose()) {
            // Two writers racing on a new key can leave duplicates; collapse them into one.
            Err(KError::Ambiguous(dups)) => {
                for dup in dups {
                    match dup.delete_credential() {
                        Ok(()) | Err(KError::NoEntry) => {}
                        Err(e) => return Err(e),
                    }
                }
                entry.set_password(value.expose())
            }
            other => other,
        })
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.with_entry(key, |entry| match entry.delete_credential() {
            Ok(()) | Err(KError::NoEntry) => Ok(()),
            Err(KError::Ambiguous(dups)) => {
                for dup in dups {
                    match dup.delete_credential() {
                        Ok(()) | Err(KError::NoEntry) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            Err(e) => Err(e),
        })
    }
}

#[cfg(target_os = "linux")]
fn new_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn new_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn new_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn new_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(KError::NotSupportedByStore(
        "no OS keyring is supported on this platform".into(),
    ))
}

/// Builds the entry for `key`, with a readable label in Seahorse / KeePassXC (only the Secret
/// Service store takes one).
#[cfg(target_os = "linux")]
fn build_entry(store: &CredentialStore, key: &str) -> keyring_core::Result<Entry> {
    let label = format!("Lanyard: {key}");
    let modifiers = HashMap::from([("label", label.as_str())]);
    store.build(SERVICE, key, Some(&modifiers))
}
#[cfg(not(target_os = "linux"))]
fn build_entry(store: &CredentialStore, key: &str) -> keyring_core::Result<Entry> {
    store.build(SERVICE, key, None)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// The D-Bus session bus cannot be reached (none running, or a stale address).
    NoBus,
    /// No Secret Service answering on the bus.
    Unavailable,
    /// Locked collection, dismissed prompt, access denied.
    Locked,
    /// The service answered "no result": it has no default collection. Either no login keyring
    /// was ever created (a fresh home), or the daemon started a moment ago and is still making it.
    NoLoginKeyring,
    Other,
}

fn chain_text(e: &KError) -> String {
    let mut text = SafeDisplay(e).to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(" / ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn classify(e: &KError) -> Class {
    match e {
        KError::NoStorageAccess(_) => {
            if chain_text(e).contains("result not returned") {
                Class::NoLoginKeyring
            } else {
                Class::Locked
            }
        }
        KError::PlatformFailure(_) => {
            let text = chain_text(e);
            if text.contains("Failed to connect to address") {
                return Class::NoBus;
            }
            let unavailable_text = [
                "no secret service provider or dbus session found",
                "ServiceUnknown",
                "NameHasNoOwner",
                "not provided by any .service files",
                "Connection refused",
            ]
            .iter()
            .any(|needle| text.contains(needle));
            if unavailable_text || has_connect_io_error(e) {
                Class::Unavailable
            } else if text.contains("object locked") || text.contains("IsLocked") {
                Class::Locked
            } else {
                Class::Other
            }
        }
        _ => Class::Other,
    }
}

fn has_connect_io_error(e: &KError) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                NotFound | ConnectionRefused | ConnectionReset | BrokenPipe | AddrNotAvailable
            ) {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// Display of a keyring error that never shows secret bytes (`BadEncoding` and `BadDataFormat`
/// carry the raw secret).
struct SafeDisplay<'a>(&'a KError);

impl std::fmt::Display for SafeDisplay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            KError::BadEncoding(_) => f.write_str("the stored secret is not valid UTF-8"),
            KError::BadDataFormat(_, _) => f.write_str("the stored secret is malformed"),
            other => write!(f, "{other}"),
        }
    }
}

/// Turns a keyring-core error into an error a person can act on. `key` is the secret's name
/// (not its value), when the call concerned one item.
pub(crate) fn map_error(e: &KError, key: Option<&str>) -> Error {
    // The health probe's key means nothing to a person.
    let key = key.filter(|k| !k.starts_with(super::RESERVED_KEY_PREFIX));
    let item = key.map(|k| format!(" for {k:?}")).unwrap_or_default();
    let clear_cmd = key
        .map(|k| format!(" (e.g. `secret-tool clear service {SERVICE} username '{k}'`)"))
        .unwrap_or_default();
    let message = match (classify(e), e) {
        (Class::NoBus, _) => format!(
            "cannot use the OS keyring: the D-Bus session bus cannot be reached, so no Secret Service is running \
             (is gnome-keyring or KeePassXC running?); {USE_FILE_HINT} to keep secrets in an encrypted file"
        ),
        (Class::Unavailable, _) => format!(
            "cannot use the OS keyring: no Secret Service is running (is gnome-keyring or KeePassXC running?); \
             {USE_FILE_HINT} to keep secrets in an encrypted file"
        ),
        (Class::Locked, _) => format!(
            "the keyring is locked or refused access{item}; unlock it: log in to the desktop session, answer \
             the unlock prompt, or unlock the Login keyring in Passwords and Keys (Seahorse); without a \
             desktop, restart the daemon with `gnome-keyring-daemon --replace --unlock`, which reads the \
             keyring's password from standard input; then try again, {USE_FILE_HINT}"
        ),
        (Class::NoLoginKeyring, _) => format!(
            "the keyring has no login keyring yet{item} (none was ever created for this user, or the keyring \
             daemon is still starting); create one: in Passwords and Keys (Seahorse) add a password keyring \
             named Login and make it the default; without a desktop, run `gnome-keyring-daemon --replace \
             --unlock`, which reads a new password from standard input; then try again, {USE_FILE_HINT}"
        ),
        (_, KError::NoEntry) => format!("no keyring item{item}"),
        (_, KError::Ambiguous(items)) => format!(
            "{} keyring items match service {SERVICE:?} and account{item}; remove the duplicates{clear_cmd} and \
             try again",
            items.len()
        ),
        (_, KError::BadEncoding(_) | KError::BadDataFormat(_, _)) => format!(
            "the keyring item{item} does not hold text Lanyard can read; delete it{clear_cmd} and log in again"
        ),
        (_, KError::TooLong(name, limit)) => {
            format!(
                "the keyring refused the item{item}: its {name} is longer than the platform limit of {limit}"
            )
        }
        (_, KError::Invalid(attr, reason)) => {
            format!("the keyring refused the item{item}: {attr} {reason}")
        }
        (_, KError::NoDefaultStore) => {
            return Error::internal("no keyring store was configured (a bug; please report it)");
        }
        (_, KError::NotSupportedByStore(why)) => {
            format!("the OS keyring cannot do this: {why}; {USE_FILE_HINT}")
        }
        (_, other) => format!(
            "the OS keyring failed{item}: {}; {USE_FILE_HINT}",
            SafeDisplay(other)
        ),
    };
    Error::secret_store(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn calls_one_at_a_time_keep_to_one_connection_and_calls_at_once_spread() {
        let backend = KeyringBackend::on_first_use();
        for _ in 0..3 {
            assert_eq!(backend.take_connection().0, 0);
        }
        let held: Vec<_> = (0..CONNECTIONS)
            .map(|_| backend.take_connection())
            .collect();
        let slots: Vec<usize> = held.iter().map(|(slot, _)| *slot).collect();
        assert_eq!(slots, (0..CONNECTIONS).collect::<Vec<_>>());
        drop(held);
        assert_eq!(backend.take_connection().0, 0);
    }

    fn boxed(msg: &str) -> keyring_core::error::PlatformError {
        Box::new(std::io::Error::other(msg.to_owned()))
    }

    #[test]
    fn no_secret_service_says_what_to_do() {
        for cause in [
            "no secret service provider or dbus session found",
            "zbus error: Failed to connect to address `unix:path=/nonexistent`: No such file or directory (os error 2)",
            "org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files",
        ] {
            let err = map_error(&KError::PlatformFailure(boxed(cause)), None);
            assert_eq!(err.code, ErrorCode::SecretStore);
            assert!(
                err.message.contains(
                    "no Secret Service is running (is gnome-keyring or KeePassXC running?)"
                )
            );
            assert!(
                err.message.contains("LANYARD_SECRET_STORE=file"),
                "{}",
                err.message
            );
        }
        let refused = KError::PlatformFailure(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(classify(&refused), Class::Unavailable);
    }

    #[test]
    fn locked_and_no_login_keyring_are_told_apart() {
        let locked = KError::NoStorageAccess(boxed("SS Error: object locked"));
        assert_eq!(classify(&locked), Class::Locked);
        let msg = map_error(&locked, Some("account/a/password")).message;
        assert!(
            msg.contains("the keyring is locked") && msg.contains("unlock it"),
            "{msg}"
        );
        assert!(
            msg.contains("gnome-keyring-daemon --replace --unlock"),
            "{msg}"
        );
        let missing = KError::NoStorageAccess(boxed("SS error: result not returned from SS API"));
        assert_eq!(classify(&missing), Class::NoLoginKeyring);
        let msg = map_error(&missing, None).message;
        assert!(
            msg.contains("no login keyring yet") && msg.contains("create one"),
            "{msg}"
        );
        assert!(msg.contains("LANYARD_SECRET_STORE=file"), "{msg}");
    }

    #[test]
    fn messages_never_show_secret_bytes() {
        let secret = b"hunter2-secret".to_vec();
        for e in [
            KError::BadEncoding(secret.clone()),
            KError::BadDataFormat(secret.clone(), boxed("bad")),
        ] {
            let msg = map_error(&e, Some("k")).message;
            assert!(
                !msg.contains("hunter2") && !msg.contains("104, 117"),
                "{msg}"
            );
            assert!(
                msg.contains("secret-tool clear service lanyard username 'k'"),
                "{msg}"
            );
            assert!(!SafeDisplay(&e).to_string().contains("104"));
        }
    }

    #[test]
    fn other_failures_keep_the_platform_detail() {
        let e = KError::PlatformFailure(boxed("zbus error: something odd"));
        assert_eq!(classify(&e), Class::Other);
        let msg = map_error(&e, Some("k")).message;
        assert!(
            msg.contains("something odd") && msg.contains("\"k\""),
            "{msg}"
        );
    }
}
