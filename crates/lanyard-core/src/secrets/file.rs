//! The encrypted file store, for machines without a keyring (`LANYARD_SECRET_STORE=file`).
//!
//! One file holds every secret: a JSON map encrypted as a whole with ChaCha20-Poly1305 under a
//! key derived from the user's passphrase with Argon2id.
//!
//! File format, version 1 (integers little-endian):
//!
//! ```text
//! offset size
//!      0    8  magic "LANYARDS"
//!      8    2  format version (1)
//!     10    1  KDF id (1 = Argon2id v0x13)
//!     11   12  Argon2 m_cost (KiB), t_cost, p_cost: u32 each
//!     23   16  salt (random, fixed for the life of the file)
//!     39   32  passphrase check = HMAC-SHA256(master key, "…passphrase-check")
//!     71   12  nonce (random, new for every write)
//!     83    4  ciphertext length in bytes (tag included)
//!     87   32  SHA-256 of bytes 0..87 (tells a damaged header from a wrong passphrase)
//!    119    …  ciphertext of the JSON map + 16-byte Poly1305 tag; the header is the AAD
//! ```
//!
//! The master key is Argon2id(passphrase, salt); the encryption key and the passphrase check
//! are two HMAC-SHA256 sub-keys of it, so the check can tell "wrong passphrase" apart from
//! "damaged file" without weakening anything (an attacker can test guesses against the AEAD
//! tag just as well; each guess costs an Argon2 run either way).
//!
//! Guarantees:
//! - a wrong passphrase, a truncated file and a flipped byte are each reported as such, never
//!   read as an empty store, and a store that cannot be read refuses every write, so the
//!   damaged file stays as it is for the person to restore or move aside;
//! - writes are atomic (temporary file in the same directory, fsync, rename, fsync of the
//!   directory) and the file is created with mode 0600 on unix;
//! - several handles and processes may write at once: each read-modify-write holds an exclusive
//!   advisory lock on the sibling file `<name>.lock` and re-reads the file under it; reads take
//!   the lock shared;
//! - the derived key is cached (zeroized on drop), so Argon2 runs once per handle, plus once
//!   more if another process re-creates the file with a new salt.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, TryLockError};

use crate::data_dir::open_private;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{SecretBackend, SecretStoreKind, human_duration};
pub use crate::data_dir::SECRETS_FILE;
use crate::data_dir::{create_private_dir, secure_file};
use crate::error::{Error, Result};
use crate::secret::SecretString;

const MAGIC: [u8; 8] = *b"LANYARDS";
const FORMAT_VERSION: u16 = 1;
const KDF_ARGON2ID: u8 = 1;
const SALT_LEN: usize = 16;
const CHECK_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const SUM_LEN: usize = 32;
const TAG_LEN: usize = 16;

const OFF_VERSION: usize = 8;
const OFF_KDF: usize = 10;
const OFF_PARAMS: usize = 11;
const OFF_SALT: usize = 23;
const OFF_CHECK: usize = OFF_SALT + SALT_LEN; // 39
const OFF_NONCE: usize = OFF_CHECK + CHECK_LEN; // 71
const OFF_CT_LEN: usize = OFF_NONCE + NONCE_LEN; // 83
const OFF_SUM: usize = OFF_CT_LEN + 4; // 87
/// Length of the version-1 header.
pub const HEADER_LEN: usize = OFF_SUM + SUM_LEN; // 119

const LABEL_ENCRYPTION: &[u8] = b"lanyard/secret-file/v1/encryption-key";
const LABEL_CHECK: &[u8] = b"lanyard/secret-file/v1/passphrase-check";

/// How long an operation waits for another process's lock before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(10);
const LOCK_POLL: Duration = Duration::from_millis(15);

/// The variable holding the file store's passphrase.
pub const PASSPHRASE_ENV: &str = "LANYARD_PASSPHRASE";
/// The variable naming a file whose first line is the passphrase.
pub const PASSPHRASE_FILE_ENV: &str = "LANYARD_PASSPHRASE_FILE";
/// What to do when the file store is chosen and no passphrase was given.
pub const PASSPHRASE_MISSING: &str = "the encrypted secret file needs its passphrase: set LANYARD_PASSPHRASE, or \
     LANYARD_PASSPHRASE_FILE to a private file holding it (on a terminal lanyard asks for it, and the desktop app \
     asks in its window)";

/// The passphrase from the environment: `LANYARD_PASSPHRASE`, else the first line of the file
/// `LANYARD_PASSPHRASE_FILE` names; `None` when neither is set (empty counts as unset).
pub fn passphrase_from_env() -> Result<Option<SecretString>> {
    if let Some(value) = std::env::var_os(PASSPHRASE_ENV).filter(|v| !v.is_empty()) {
        let value = value
            .into_string()
            .map_err(|_| Error::secret_store(format!("{PASSPHRASE_ENV} is not valid UTF-8")))?;
        return Ok(Some(SecretString::new(value)));
    }
    match std::env::var_os(PASSPHRASE_FILE_ENV).filter(|v| !v.is_empty()) {
        Some(path) => read_passphrase_file(Path::new(&path)).map(Some),
        None => Ok(None),
    }
}

/// The first line of `path` (its line ending stripped), as `LANYARD_PASSPHRASE_FILE` gives it.
/// A file other users can read or write is refused: they could read the passphrase.
pub fn read_passphrase_file(path: &Path) -> Result<SecretString> {
    let cannot = |e: std::io::Error| {
        Error::secret_store(format!(
            "cannot read {PASSPHRASE_FILE_ENV} {}: {e}",
            path.display()
        ))
    };
    let meta = fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err(Error::secret_store(format!(
            "{PASSPHRASE_FILE_ENV} {} is not a file",
            path.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::secret_store(format!(
                "{PASSPHRASE_FILE_ENV} {path} is open to other users (mode {mode:04o}); make it private with \
                 `chmod 600 {path}` and try again",
                path = path.display()
            )));
        }
    }
    let bytes = Zeroizing::new(fs::read(path).map_err(cannot)?);
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| {
        Error::secret_store(format!(
            "{PASSPHRASE_FILE_ENV} {}: the passphrase is not valid UTF-8",
            path.display()
        ))
    })?;
    if text.is_empty() {
        return Err(Error::secret_store(format!(
            "{PASSPHRASE_FILE_ENV} {}: the first line is empty; put the passphrase there",
            path.display()
        )));
    }
    Ok(SecretString::new(text))
}

/// Whether an encrypted secret file exists at `path`: when it does not, a front end asks a
/// person to choose a passphrase (and confirm it) rather than to enter one.
pub fn store_exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Whether `passphrase` opens the store at `path`, for a front end that asks a person and lets
/// them try again: `Ok(false)` for a wrong passphrase, an error for a file that cannot be read
/// at all (damaged, foreign, unreadable). A missing file takes any passphrase (it will be
/// created with it). Changes nothing on disk.
pub fn check_passphrase(path: &Path, passphrase: &SecretString) -> Result<bool> {
    if passphrase.is_empty() {
        return Err(Error::invalid_input(
            "the passphrase for the secret file cannot be empty",
        ));
    }
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => {
            return Err(Error::secret_store(format!(
                "cannot read the secret file {}: {e}",
                path.display()
            )));
        }
    };
    let handle = FileBackend {
        path: path.to_path_buf(),
        lock_path: PathBuf::new(),
        passphrase: passphrase.clone(),
        new_params: KdfParams::DEFAULT,
        key: Mutex::new(None),
    };
    let (header, _, _) = handle.parse(&bytes)?;
    let mut cache = None;
    let derived = handle.derive_for(&mut cache, header.params, header.salt)?;
    Ok(constant_time_eq(&derived.check, &header.check))
}

/// Argon2id cost parameters, recorded in each file's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl KdfParams {
    /// 64 MiB, 3 passes, 1 lane (RFC 9106's second recommendation with one lane): a few hundred
    /// milliseconds once per process.
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };
    /// Cheap parameters for tests only.
    #[cfg(test)]
    pub(crate) const TEST: KdfParams = KdfParams {
        m_cost_kib: 256,
        t_cost: 1,
        p_cost: 1,
    };

    /// Bounds accepted from a file header (a crafted header must not make us allocate 4 GiB).
    fn is_sane(self) -> bool {
        (1..=16).contains(&self.p_cost)
            && (1..=64).contains(&self.t_cost)
            && self.m_cost_kib >= 8 * self.p_cost
            && self.m_cost_kib <= 1024 * 1024
    }
}

/// The map inside the ciphertext.
#[derive(Default, Serialize, Deserialize)]
struct Contents {
    secrets: BTreeMap<String, SecretString>,
}

/// The header fields of a readable file.
struct Header {
    params: KdfParams,
    salt: [u8; SALT_LEN],
    check: [u8; CHECK_LEN],
}

/// Keys derived from the passphrase for one (salt, params).
struct DerivedKey {
    params: KdfParams,
    salt: [u8; SALT_LEN],
    encryption: Zeroizing<[u8; 32]>,
    check: [u8; CHECK_LEN],
}

pub struct FileBackend {
    path: PathBuf,
    lock_path: PathBuf,
    /// Kept (zeroized on drop) to re-derive the key if another process re-creates the file.
    passphrase: SecretString,
    /// Parameters for a file this handle creates.
    new_params: KdfParams,
    /// The cached key; the mutex also serializes this handle's operations.
    key: Mutex<Option<DerivedKey>>,
}

impl std::fmt::Debug for FileBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBackend")
            .field("path", &self.path)
            .field("passphrase", &"<redacted>")
            .field("kdf", &self.new_params)
            .finish_non_exhaustive()
    }
}

enum LockMode {
    Shared,
    Exclusive,
}

impl FileBackend {
    /// Opens (or creates, with an empty map) the store at `path`, verifying the passphrase.
    pub fn open(path: &Path, passphrase: SecretString) -> Result<Self> {
        Self::open_with_params(path, passphrase, KdfParams::DEFAULT)
    }

    /// Like [`FileBackend::open`], with the Argon2 parameters used if the file must be created
    /// (an existing file always uses the parameters in its header).
    pub fn open_with_params(
        path: &Path,
        passphrase: SecretString,
        params: KdfParams,
    ) -> Result<Self> {
        if passphrase.is_empty() {
            return Err(Error::invalid_input(
                "the passphrase for the secret file cannot be empty",
            ));
        }
        if !params.is_sane() {
            return Err(Error::invalid_input(format!(
                "unusable Argon2 parameters {params:?}"
            )));
        }
        let file_name = path.file_name().ok_or_else(|| {
            Error::invalid_input(format!("{} is not a file path", path.display()))
        })?;
        let dir = parent_dir(path);
        create_private_dir(dir).map_err(|e| {
            Error::secret_store(format!(
                "cannot create the directory {} for the secret file: {e}",
                dir.display()
            ))
        })?;
        let mut lock_name = file_name.to_os_string();
        lock_name.push(".lock");
        let lock_path = dir.join(lock_name);
        // Files left looser by something else (a copy, a restored backup) are made private.
        for existing in [path, lock_path.as_path()] {
            secure_file(existing).map_err(|e| {
                Error::secret_store(format!(
                    "cannot make {} private (mode 0600): {e}",
                    existing.display()
                ))
            })?;
        }
        let backend = FileBackend {
            path: path.to_path_buf(),
            lock_path,
            passphrase,
            new_params: params,
            key: Mutex::new(None),
        };
        {
            let mut key = backend.key();
            let _lock = backend.lock(LockMode::Exclusive)?;
            if backend.load(&mut key)?.is_none() {
                backend.store(&mut key, &Contents::default())?;
            }
        }
        Ok(backend)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn key(&self) -> std::sync::MutexGuard<'_, Option<DerivedKey>> {
        self.key.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the advisory lock on the sibling lock file, polling so a stuck peer turns into an
    /// error instead of a hang. Released when the returned file is dropped.
    fn lock(&self, mode: LockMode) -> Result<File> {
        let file = open_private(
            &self.lock_path,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )
        .map_err(|e| {
            Error::secret_store(format!(
                "cannot open the lock file {}: {e}",
                self.lock_path.display()
            ))
        })?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            let attempt = match mode {
                LockMode::Shared => file.try_lock_shared(),
                LockMode::Exclusive => file.try_lock(),
            };
            match attempt {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(LOCK_POLL)
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::secret_store(format!(
                        "another process has held the lock on the secret file for over {} ({}); if no \
                         Lanyard process is running, try again",
                        human_duration(LOCK_WAIT),
                        self.lock_path.display()
                    )));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::secret_store(format!(
                        "cannot lock the secret file ({}): {e}",
                        self.lock_path.display()
                    )));
                }
            }
        }
    }

    /// Reads and decrypts the file. `Ok(None)` only when the file does not exist; every other
    /// problem is an error.
    fn load(&self, key: &mut Option<DerivedKey>) -> Result<Option<Contents>> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::secret_store(format!(
                    "cannot read the secret file {}: {e}",
                    self.path.display()
                )));
            }
        };
        let (header, header_bytes, ciphertext) = self.parse(&bytes)?;
        let derived = self.derive_for(key, header.params, header.salt)?;
        if !constant_time_eq(&derived.check, &header.check) {
            return Err(Error::secret_store(format!(
                "wrong passphrase for the secret file {}",
                self.path.display()
            )));
        }
        let cipher = ChaCha20Poly1305::new(Key::from_slice(derived.encryption.as_slice()));
        let nonce = Nonce::from_slice(&header_bytes[OFF_NONCE..OFF_NONCE + NONCE_LEN]);
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(
                    nonce,
                    Payload {
                        msg: ciphertext,
                        aad: header_bytes,
                    },
                )
                .map_err(|_| {
                    self.damaged("its contents fail authentication (a changed or flipped byte)")
                })?,
        );
        let contents: Contents = serde_json::from_slice(&plaintext).map_err(|_| {
            self.damaged("it decrypts, but not to a map of secrets (written by a buggy tool?)")
        })?;
        Ok(Some(contents))
    }

    /// Checks the header; returns it, the header bytes (the AAD) and the ciphertext.
    fn parse<'b>(&self, bytes: &'b [u8]) -> Result<(Header, &'b [u8], &'b [u8])> {
        let magic_len = MAGIC.len().min(bytes.len());
        if bytes[..magic_len] != MAGIC[..magic_len] {
            return Err(Error::secret_store(format!(
                "{} is not a Lanyard secret file (wrong magic bytes); it was left untouched — point \
                 Lanyard at another path or move that file aside",
                self.path.display()
            )));
        }
        if bytes.len() < OFF_VERSION + 2 {
            return Err(self.truncated(bytes.len(), HEADER_LEN + TAG_LEN));
        }
        let version = u16::from_le_bytes([bytes[OFF_VERSION], bytes[OFF_VERSION + 1]]);
        if version != FORMAT_VERSION {
            return Err(Error::secret_store(format!(
                "the secret file {} has format version {version}, which this Lanyard cannot read (written by a \
                 newer Lanyard, or damaged); upgrade Lanyard or restore the file from a backup — it was left \
                 untouched",
                self.path.display()
            )));
        }
        if bytes.len() < HEADER_LEN {
            return Err(self.truncated(bytes.len(), HEADER_LEN + TAG_LEN));
        }
        let (header_bytes, ciphertext) = bytes.split_at(HEADER_LEN);
        let sum = Sha256::digest(&header_bytes[..OFF_SUM]);
        if !constant_time_eq(&sum, &header_bytes[OFF_SUM..]) {
            return Err(self.damaged("its header checksum does not match"));
        }
        let u32_at = |off: usize| {
            u32::from_le_bytes(header_bytes[off..off + 4].try_into().expect("4 bytes"))
        };
        let ct_len = u32_at(OFF_CT_LEN) as usize;
        if ciphertext.len() < ct_len {
            return Err(self.truncated(bytes.len(), HEADER_LEN + ct_len));
        }
        if ciphertext.len() > ct_len {
            return Err(self.damaged(&format!(
                "it has {} unexpected bytes at its end",
                ciphertext.len() - ct_len
            )));
        }
        if ct_len < TAG_LEN {
            return Err(self.damaged("its recorded length is too short"));
        }
        if header_bytes[OFF_KDF] != KDF_ARGON2ID {
            return Err(self.damaged(&format!(
                "it names an unknown key derivation ({})",
                header_bytes[OFF_KDF]
            )));
        }
        let params = KdfParams {
            m_cost_kib: u32_at(OFF_PARAMS),
            t_cost: u32_at(OFF_PARAMS + 4),
            p_cost: u32_at(OFF_PARAMS + 8),
        };
        if !params.is_sane() {
            return Err(self.damaged(&format!(
                "its Argon2 parameters are out of range ({params:?})"
            )));
        }
        let header = Header {
            params,
            salt: header_bytes[OFF_SALT..OFF_SALT + SALT_LEN]
                .try_into()
                .expect("salt"),
            check: header_bytes[OFF_CHECK..OFF_CHECK + CHECK_LEN]
                .try_into()
                .expect("check"),
        };
        Ok((header, header_bytes, ciphertext))
    }

    /// The key for (params, salt), from the cache or by running Argon2.
    fn derive_for<'k>(
        &self,
        cache: &'k mut Option<DerivedKey>,
        params: KdfParams,
        salt: [u8; SALT_LEN],
    ) -> Result<&'k DerivedKey> {
        let fresh = match cache {
            Some(k) => k.params != params || k.salt != salt,
            None => true,
        };
        if fresh {
            *cache = Some(derive(&self.passphrase, params, salt)?);
        }
        Ok(cache.as_ref().expect("just set"))
    }

    /// Encrypts `contents` with a fresh nonce and replaces the file atomically. Uses the key of
    /// the file just read; creates a new salt when there is none yet.
    fn store(&self, key: &mut Option<DerivedKey>, contents: &Contents) -> Result<()> {
        if key.is_none() {
            *key = Some(derive(&self.passphrase, self.new_params, rand::random())?);
        }
        let derived = key.as_ref().expect("just set");

        let estimate = 64
            + contents
                .secrets
                .iter()
                .map(|(k, v)| 2 * (k.len() + v.expose().len()) + 8)
                .sum::<usize>();
        let mut plaintext = Zeroizing::new(Vec::with_capacity(estimate));
        serde_json::to_writer(&mut *plaintext, contents)
            .map_err(|e| Error::internal(format!("cannot serialize the secret map: {e}")))?;

        let nonce: [u8; NONCE_LEN] = rand::random();
        let ct_len = u32::try_from(plaintext.len() + TAG_LEN).map_err(|_| {
            Error::secret_store("the secrets no longer fit in one secret file (over 4 GiB)")
        })?;
        let mut header = [0u8; HEADER_LEN];
        header[..OFF_VERSION].copy_from_slice(&MAGIC);
        header[OFF_VERSION..OFF_KDF].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        header[OFF_KDF] = KDF_ARGON2ID;
        header[OFF_PARAMS..OFF_PARAMS + 4]
            .copy_from_slice(&derived.params.m_cost_kib.to_le_bytes());
        header[OFF_PARAMS + 4..OFF_PARAMS + 8]
            .copy_from_slice(&derived.params.t_cost.to_le_bytes());
        header[OFF_PARAMS + 8..OFF_SALT].copy_from_slice(&derived.params.p_cost.to_le_bytes());
        header[OFF_SALT..OFF_CHECK].copy_from_slice(&derived.salt);
        header[OFF_CHECK..OFF_NONCE].copy_from_slice(&derived.check);
        header[OFF_NONCE..OFF_CT_LEN].copy_from_slice(&nonce);
        header[OFF_CT_LEN..OFF_SUM].copy_from_slice(&ct_len.to_le_bytes());
        let sum = Sha256::digest(&header[..OFF_SUM]);
        header[OFF_SUM..].copy_from_slice(&sum);

        let cipher = ChaCha20Poly1305::new(Key::from_slice(derived.encryption.as_slice()));
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &header,
                },
            )
            .map_err(|_| Error::internal("encrypting the secret file failed"))?;
        debug_assert_eq!(ciphertext.len(), ct_len as usize);

        let mut bytes = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&ciphertext);
        write_atomically(&self.path, &bytes).map_err(|e| {
            Error::secret_store(format!(
                "cannot write the secret file {}: {e}",
                self.path.display()
            ))
        })
    }

    /// Read-modify-write under the exclusive lock. `change` returns whether anything changed.
    fn update(&self, change: impl FnOnce(&mut Contents) -> bool) -> Result<()> {
        let mut key = self.key();
        let _lock = self.lock(LockMode::Exclusive)?;
        let mut contents = self.load(&mut key)?.unwrap_or_default();
        if change(&mut contents) {
            self.store(&mut key, &contents)?;
        }
        Ok(())
    }

    fn damaged(&self, why: &str) -> Error {
        Error::secret_store(format!(
            "the secret file {} is corrupted: {why}; it was left untouched — restore it from a backup, or move it \
             aside to start an empty store (and log in again)",
            self.path.display()
        ))
    }

    fn truncated(&self, found: usize, expected: usize) -> Error {
        Error::secret_store(format!(
            "the secret file {} is truncated ({found} bytes, expected at least {expected}); it was left untouched — \
             restore it from a backup, or move it aside to start an empty store (and log in again)",
            self.path.display()
        ))
    }
}

impl SecretBackend for FileBackend {
    fn kind(&self) -> SecretStoreKind {
        SecretStoreKind::File
    }

    fn get(&self, key: &str) -> Result<Option<SecretString>> {
        let mut cache = self.key();
        let _lock = self.lock(LockMode::Shared)?;
        Ok(self
            .load(&mut cache)?
            .and_then(|mut c| c.secrets.remove(key)))
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<()> {
        self.update(|c| {
            if c.secrets.get(key) == Some(value) {
                return false;
            }
            c.secrets.insert(key.to_owned(), value.clone());
            true
        })
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.update(|c| c.secrets.remove(key).is_some())
    }
}

fn derive(
    passphrase: &SecretString,
    params: KdfParams,
    salt: [u8; SALT_LEN],
) -> Result<DerivedKey> {
    let argon_params = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| Error::secret_store(format!("unusable Argon2 parameters {params:?}: {e}")))?;
    let mut master = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
        .hash_password_into(passphrase.expose().as_bytes(), &salt, master.as_mut_slice())
        .map_err(|e| {
            Error::secret_store(format!(
                "deriving the secret file's key failed ({e}); if memory is short, close other programs and try again"
            ))
        })?;
    let sub_key = |label: &[u8]| -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master.as_slice())
            .expect("HMAC takes any key length");
        mac.update(label);
        mac.finalize().into_bytes().into()
    };
    Ok(DerivedKey {
        params,
        salt,
        encryption: Zeroizing::new(sub_key(LABEL_ENCRYPTION)),
        check: sub_key(LABEL_CHECK),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes a temporary file next to `path`, flushes it to disk, renames it over `path` and
/// flushes the directory, so a crash leaves either the old or the new file, never a mix.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut file = open_private(&tmp, OpenOptions::new().write(true).create_new(true))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::secrets::Secrets;
    use std::sync::Arc;

    fn open(path: &Path, pass: &str) -> Result<FileBackend> {
        FileBackend::open_with_params(path, SecretString::new(pass), KdfParams::TEST)
    }

    fn temp_store() -> (tempfile::TempDir, PathBuf, FileBackend) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("secrets.enc");
        let store = open(&path, "correct horse").unwrap();
        (dir, path, store)
    }

    fn value(v: &str) -> SecretString {
        SecretString::new(v)
    }

    #[test]
    fn round_trip_survives_reopening() {
        let (_dir, path, s) = temp_store();
        assert!(path.exists(), "opening creates the file");
        assert_eq!(s.kind(), SecretStoreKind::File);
        assert_eq!(s.get("a").unwrap(), None);
        s.set("a", &value("one")).unwrap();
        s.set("b", &value("två ✓ \"quoted\"\n")).unwrap();
        s.set("a", &value("uno")).unwrap();
        assert_eq!(s.get("a").unwrap().unwrap().expose(), "uno");
        s.delete("missing").unwrap();
        drop(s);

        let again = open(&path, "correct horse").unwrap();
        assert_eq!(again.get("a").unwrap().unwrap().expose(), "uno");
        assert_eq!(
            again.get("b").unwrap().unwrap().expose(),
            "två ✓ \"quoted\"\n"
        );
        again.delete("a").unwrap();
        again.delete("a").unwrap();
        assert_eq!(again.get("a").unwrap(), None);
    }

    #[test]
    fn each_write_uses_a_new_nonce() {
        let (_dir, path, s) = temp_store();
        s.set("a", &value("same")).unwrap();
        let first = fs::read(&path).unwrap();
        s.set("b", &value("x")).unwrap();
        s.delete("b").unwrap();
        let second = fs::read(&path).unwrap();
        assert_eq!(first.len(), second.len());
        assert_eq!(
            first[..OFF_NONCE],
            second[..OFF_NONCE],
            "same salt and passphrase check"
        );
        assert_ne!(first[OFF_NONCE..OFF_CT_LEN], second[OFF_NONCE..OFF_CT_LEN]);
    }

    #[test]
    fn wrong_passphrase_is_a_clear_error() {
        let (_dir, path, s) = temp_store();
        s.set("a", &value("one")).unwrap();
        let before = fs::read(&path).unwrap();
        let err = open(&path, "battery staple").unwrap_err();
        assert_eq!(err.code, ErrorCode::SecretStore);
        assert_eq!(
            err.message,
            format!("wrong passphrase for the secret file {}", path.display())
        );
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_file_recreated_with_another_passphrase_is_refused() {
        let (_dir, path, a) = temp_store();
        a.set("k", &value("v")).unwrap();
        fs::remove_file(&path).unwrap();
        let b = open(&path, "someone else").unwrap();
        b.set("theirs", &value("w")).unwrap();
        let before = fs::read(&path).unwrap();
        for err in [
            a.get("theirs").unwrap_err(),
            a.set("k", &value("v2")).unwrap_err(),
            a.delete("theirs").unwrap_err(),
        ] {
            assert!(
                err.message
                    .starts_with("wrong passphrase for the secret file"),
                "{}",
                err.message
            );
        }
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    /// Every way to use a damaged file fails with `what` in the message and leaves it as it is.
    fn assert_refused_and_untouched(path: &Path, handle: &FileBackend, damaged: &[u8], what: &str) {
        fs::write(path, damaged).unwrap();
        let errors = [
            handle.get("a").map(|_| ()).unwrap_err(),
            handle.set("a", &value("new")).unwrap_err(),
            handle.set("fresh", &value("new")).unwrap_err(),
            handle.delete("a").unwrap_err(),
            open(path, "correct horse").map(|_| ()).unwrap_err(),
        ];
        for err in errors {
            assert_eq!(err.code, ErrorCode::SecretStore);
            assert!(
                err.message.contains(what),
                "expected {what:?} in: {}",
                err.message
            );
            assert!(
                err.message.contains(&path.display().to_string()),
                "{}",
                err.message
            );
            assert!(!err.message.contains("wrong passphrase"), "{}", err.message);
        }
        assert_eq!(
            fs::read(path).unwrap(),
            damaged,
            "the damaged file must be left untouched"
        );
    }

    #[test]
    fn a_truncated_file_is_reported_and_left_untouched() {
        let (_dir, path, s) = temp_store();
        s.set("a", &value("one")).unwrap();
        let good = fs::read(&path).unwrap();
        for cut in [
            0,
            5,
            9,
            50,
            HEADER_LEN - 1,
            HEADER_LEN,
            HEADER_LEN + 3,
            good.len() - 1,
        ] {
            assert_refused_and_untouched(&path, &s, &good[..cut], "truncated");
        }
    }

    #[test]
    fn a_flipped_byte_is_reported_and_left_untouched() {
        let (_dir, path, s) = temp_store();
        s.set("a", &value("one")).unwrap();
        let good = fs::read(&path).unwrap();
        // Header fields (params, salt, check, nonce, length, checksum), then the ciphertext and
        // the tag: each flip is caught, by the header checksum or by the AEAD tag.
        for pos in [
            12,
            OFF_SALT + 3,
            OFF_CHECK,
            OFF_NONCE + 1,
            OFF_CT_LEN,
            OFF_SUM + 5,
            HEADER_LEN,
            (HEADER_LEN + good.len()) / 2,
            good.len() - 1,
        ] {
            let mut bad = good.clone();
            bad[pos] ^= 0x01;
            assert_refused_and_untouched(&path, &s, &bad, "corrupted");
        }
        let mut longer = good.clone();
        longer.extend_from_slice(b"junk");
        assert_refused_and_untouched(&path, &s, &longer, "corrupted");
    }

    #[test]
    fn foreign_and_future_files_are_refused() {
        let (_dir, path, s) = temp_store();
        s.set("a", &value("one")).unwrap();
        let good = fs::read(&path).unwrap();
        assert_refused_and_untouched(
            &path,
            &s,
            b"{\"not\": \"ours\"}",
            "not a Lanyard secret file",
        );
        let mut future = good.clone();
        future[OFF_VERSION] = 2;
        assert_refused_and_untouched(&path, &s, &future, "format version 2");
        fs::write(&path, &good).unwrap();
        assert_eq!(
            s.get("a").unwrap().unwrap().expose(),
            "one",
            "a restored file is readable again"
        );
    }

    #[test]
    fn two_handles_writing_at_once_lose_nothing() {
        let (_dir, path, first) = temp_store();
        let second = open(&path, "correct horse").unwrap();
        let handles = [Arc::new(first), Arc::new(second)];
        let writers: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(n, h)| {
                let h = Arc::clone(h);
                std::thread::spawn(move || {
                    for i in 0..25 {
                        h.set(
                            &format!("writer{n}/key{i}"),
                            &SecretString::new(format!("value {n} {i}")),
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let reader = open(&path, "correct horse").unwrap();
        for n in 0..2 {
            for i in 0..25 {
                let got = reader.get(&format!("writer{n}/key{i}")).unwrap();
                assert_eq!(
                    got.as_ref().map(SecretString::expose),
                    Some(format!("value {n} {i}").as_str())
                );
            }
        }
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary files left behind: {leftovers:?}"
        );
    }

    #[test]
    fn no_plaintext_reaches_the_disk() {
        let (_dir, path, s) = temp_store();
        s.set(
            "account/alice/password",
            &value("correct-horse-battery-staple-42"),
        )
        .unwrap();
        let bytes = fs::read(&path).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        for needle in [
            "correct-horse-battery-staple-42",
            "account/alice",
            "correct horse",
            "secrets",
        ] {
            assert!(!hay.contains(needle), "{needle:?} found in the file");
        }
        assert!(
            !String::from_utf8_lossy(&fs::read(path.with_extension("enc.lock")).unwrap())
                .contains("correct")
        );
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path, s) = temp_store();
        s.set("a", &value("one")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&path.with_extension("enc.lock")), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }

    #[test]
    fn check_passphrase_tells_right_from_wrong_and_changes_nothing() {
        let (_dir, path, s) = temp_store();
        s.set("a", &value("one")).unwrap();
        let before = fs::read(&path).unwrap();
        assert!(check_passphrase(&path, &value("correct horse")).unwrap());
        assert!(!check_passphrase(&path, &value("battery staple")).unwrap());
        assert_eq!(fs::read(&path).unwrap(), before);
        let missing = path.with_file_name("new.enc");
        assert!(!store_exists(&missing));
        assert!(check_passphrase(&missing, &value("anything")).unwrap());
        assert!(!missing.exists(), "checking creates nothing");
        assert!(store_exists(&path));
        fs::write(&path, b"LANYARDS").unwrap();
        let err = check_passphrase(&path, &value("correct horse")).unwrap_err();
        assert_eq!(err.code, ErrorCode::SecretStore);
        assert!(err.message.contains("truncated"), "{}", err.message);
    }

    #[cfg(unix)]
    #[test]
    fn a_passphrase_file_gives_its_first_line_and_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("passphrase");
        let write = |content: &[u8], mode: u32| {
            fs::write(&file, content).unwrap();
            fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
        };
        write(b"correct horse\n", 0o600);
        assert_eq!(
            read_passphrase_file(&file).unwrap().expose(),
            "correct horse"
        );
        write(b"with spaces  \r\nsecond line\n", 0o400);
        assert_eq!(
            read_passphrase_file(&file).unwrap().expose(),
            "with spaces  "
        );
        write(b"no newline", 0o600);
        assert_eq!(read_passphrase_file(&file).unwrap().expose(), "no newline");
        write(b"hunter2\n", 0o644);
        let err = read_passphrase_file(&file).unwrap_err();
        assert_eq!(err.code, ErrorCode::SecretStore);
        assert!(
            err.message.contains("mode 0644") && err.message.contains("chmod 600"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("hunter2"));
        write(b"\nsecond", 0o600);
        assert!(
            read_passphrase_file(&file)
                .unwrap_err()
                .message
                .contains("empty")
        );
        let err = read_passphrase_file(&dir.path().join("missing")).unwrap_err();
        assert!(
            err.message.contains("LANYARD_PASSPHRASE_FILE"),
            "{}",
            err.message
        );
    }

    #[cfg(unix)]
    #[test]
    fn looser_files_are_made_private_at_open() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path, s) = temp_store();
        s.set("a", &value("one")).unwrap();
        drop(s);
        let lock = path.with_extension("enc.lock");
        for p in [&path, &lock] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap();
        }
        let again = open(&path, "correct horse").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&lock), 0o600);
        assert_eq!(again.get("a").unwrap().unwrap().expose(), "one");
    }

    #[test]
    fn empty_passphrase_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = open(&dir.path().join("s.enc"), "").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(!dir.path().join("s.enc").exists());
    }

    #[test]
    fn debug_is_redacted() {
        let (_dir, _path, s) = temp_store();
        s.set("a", &value("hunter2")).unwrap();
        let dbg = format!("{s:?}");
        assert!(
            dbg.contains("<redacted>")
                && !dbg.contains("correct horse")
                && !dbg.contains("hunter2"),
            "{dbg}"
        );
        let cached = s.key();
        assert!(cached.is_some(), "the derived key is cached");
    }

    /// The public constructor with the real Argon2 parameters, through the async façade; it also
    /// opens a file created with other parameters (they are read from the header).
    #[tokio::test]
    async fn facade_with_default_parameters() {
        let (_dir, path, cheap) = temp_store();
        cheap.set("made-cheaply", &value("x")).unwrap();
        let s = Secrets::file(&path, SecretString::new("correct horse")).unwrap();
        assert_eq!(s.kind(), SecretStoreKind::File);
        assert_eq!(s.get("made-cheaply").await.unwrap().unwrap().expose(), "x");
        assert!(s.health().await.ok);

        let other = path.with_file_name("real.enc");
        let started = Instant::now();
        let real = Secrets::file(&other, SecretString::new("pass phrase")).unwrap();
        let derive_time = started.elapsed();
        real.set("k", &value("v")).await.unwrap();
        assert_eq!(real.get("k").await.unwrap().unwrap().expose(), "v");
        let bytes = fs::read(&other).unwrap();
        assert_eq!(
            u32::from_le_bytes(bytes[OFF_PARAMS..OFF_PARAMS + 4].try_into().unwrap()),
            64 * 1024
        );
        let dbg = format!("{real:?}");
        assert!(!dbg.contains("pass phrase"), "{dbg}");
        eprintln!("Argon2id with the default parameters took {derive_time:?}");
    }
}
