//! Moving accounts to another machine: one file, encrypted with a passphrase in the age format
//! (<https://age-encryption.org/v1>, the scrypt recipient), so `age -d` opens it too.
//!
//! Inside is versioned JSON: `{"format":"lanyard-export","version":1,"exported_at":…,
//! "accounts":[{name, service, user, endpoint, options, secret_options, remember_password,
//! password, active, default_for_service}]}`. Sessions and tokens are not in it: they belong to
//! the old machine, and the user logs in again on the new one (silently where a remembered
//! password allows it).
//!
//! Import adds each account as `add_account` would (its options checked again) and never
//! replaces one: an account with the same name, or the same service, endpoint and user, is
//! skipped and reported. The active and default choices come along for services the machine
//! had no account of yet; where it had, its own choices stay.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{Manager, NewAccount, key_password};
use crate::error::{Error, ErrorCode, Result};
use crate::model::ServiceId;
use crate::secret::SecretString;

/// The `format` member of the JSON inside an export.
pub const EXPORT_FORMAT: &str = "lanyard-export";
/// The version this Lanyard writes and reads.
pub const EXPORT_VERSION: u32 = 1;
/// The largest scrypt work factor (log2 N) accepted on import: what age itself accepts by
/// default (about 16 times one second of work); a file asking for more is refused unread.
const MAX_SCRYPT_LOG_N: u8 = 22;
/// An export larger than this is not decrypted (thousands of accounts fit in a few MB).
pub const MAX_EXPORT_BYTES: usize = 64 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct ExportFile {
    format: String,
    version: u32,
    exported_at: DateTime<Utc>,
    accounts: Vec<ExportedAccount>,
}

#[derive(Serialize, Deserialize)]
struct ExportedAccount {
    name: String,
    /// The service's id, read through the importing Manager's registry (`Manager::service_id`).
    service: String,
    user: String,
    endpoint: String,
    #[serde(default)]
    options: BTreeMap<String, String>,
    #[serde(default)]
    secret_options: BTreeMap<String, SecretString>,
    #[serde(default)]
    remember_password: bool,
    /// Only when the password is remembered.
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    active: bool,
    #[serde(default)]
    default_for_service: bool,
}

/// What [`Manager::export_to_file`] wrote.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ExportSummary {
    pub path: PathBuf,
    /// How many accounts are in the file.
    pub accounts: usize,
    /// How many of them carry a remembered password.
    pub with_password: usize,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, ts_rs::TS)]
pub struct ImportReport {
    /// Names of the accounts added, in the file's order.
    pub imported: Vec<String>,
    /// Accounts left out, each with the reason (a conflict, or an option this machine refuses).
    pub skipped: Vec<ImportSkip>,
    /// Imported accounts that came with a remembered password (they can log in unattended).
    pub with_password: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ImportSkip {
    pub name: String,
    /// `already_exists` for a conflict, else the code of the error that stopped it.
    pub code: ErrorCode,
    pub reason: String,
}

impl Manager {
    /// Every account with its options, secret options and remembered password, as an age file
    /// encrypted with `passphrase`. Sessions and tokens are left out.
    pub async fn export_accounts(&self, passphrase: &SecretString) -> Result<Vec<u8>> {
        Ok(self.export_sealed(passphrase).await?.0)
    }

    /// [`Manager::export_accounts`] written to `path`: readable by the user only (0600 on
    /// Unix), through a temporary file beside it and a rename, so nobody sees half a file;
    /// an existing file is replaced only with `replace`.
    pub async fn export_to_file(
        &self,
        path: &Path,
        passphrase: &SecretString,
        replace: bool,
    ) -> Result<ExportSummary> {
        if !replace && std::fs::symlink_metadata(path).is_ok() {
            return Err(exists(path));
        }
        let (sealed, accounts, with_password) = self.export_sealed(passphrase).await?;
        let target = path.to_owned();
        tokio::task::spawn_blocking(move || write_private(&target, &sealed, replace))
            .await
            .map_err(|_| Error::internal("writing the export failed unexpectedly"))??;
        Ok(ExportSummary {
            path: path.to_owned(),
            accounts,
            with_password,
        })
    }

    /// [`Manager::import_accounts`] from the file at `path`.
    pub async fn import_from_file(
        &self,
        path: &Path,
        passphrase: &SecretString,
    ) -> Result<ImportReport> {
        let target = path.to_owned();
        let bytes = tokio::task::spawn_blocking(move || read_limited(&target))
            .await
            .map_err(|_| Error::internal("reading the export failed unexpectedly"))??;
        self.import_accounts(bytes, passphrase).await
    }

    /// The sealed export, how many accounts it holds and how many with a password.
    async fn export_sealed(&self, passphrase: &SecretString) -> Result<(Vec<u8>, usize, usize)> {
        if passphrase.is_empty() {
            return Err(Error::invalid_input("the export passphrase is empty"));
        }
        let mut accounts = Vec::new();
        for view in self.list().await? {
            let account = view.account;
            let secret_options = self.secret_options(&account).await?;
            let password = if account.remember_password {
                self.secrets.get(&key_password(&account.id)).await?
            } else {
                None
            };
            accounts.push(ExportedAccount {
                name: account.name,
                service: account.service.as_str().to_owned(),
                user: account.user,
                endpoint: account.endpoint,
                options: account.options,
                secret_options,
                remember_password: account.remember_password,
                password,
                active: account.active,
                default_for_service: view.default_for_service,
            });
        }
        let counts = (
            accounts.len(),
            accounts.iter().filter(|a| a.password.is_some()).count(),
        );
        let file = ExportFile {
            format: EXPORT_FORMAT.to_owned(),
            version: EXPORT_VERSION,
            exported_at: self.now(),
            accounts,
        };
        // The plaintext holds passwords: zeroed when dropped.
        let json = Zeroizing::new(
            serde_json::to_vec_pretty(&file).map_err(|e| Error::internal(e.to_string()))?,
        );
        let passphrase = age::secrecy::SecretString::from(passphrase.expose().to_owned());
        let sealed = tokio::task::spawn_blocking(move || encrypt(&json, passphrase))
            .await
            .map_err(|_| Error::internal("encrypting the export failed unexpectedly"))??;
        Ok((sealed, counts.0, counts.1))
    }

    /// Adds the accounts of an export made by [`Manager::export_accounts`]. A wrong passphrase
    /// or a damaged file changes nothing; an account that conflicts with an existing one is
    /// skipped and listed, never overwritten.
    pub async fn import_accounts(
        &self,
        bytes: Vec<u8>,
        passphrase: &SecretString,
    ) -> Result<ImportReport> {
        let passphrase = age::secrecy::SecretString::from(passphrase.expose().to_owned());
        let json = tokio::task::spawn_blocking(move || decrypt(&bytes, passphrase))
            .await
            .map_err(|_| Error::internal("decrypting the export failed unexpectedly"))??;
        let file: ExportFile = serde_json::from_slice(&json).map_err(|e| {
            // Not the error's text: it may quote a value from the file.
            Error::invalid_input(format!(
                "the file decrypts but is not a Lanyard export (at line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if file.format != EXPORT_FORMAT {
            return Err(Error::invalid_input(
                "the file decrypts but is not a Lanyard export",
            ));
        }
        if file.version != EXPORT_VERSION {
            return Err(Error::invalid_input(format!(
                "the export has version {}, this Lanyard reads version {EXPORT_VERSION}; \
                 import it with a newer Lanyard",
                file.version
            )));
        }

        let services_before: BTreeSet<ServiceId> = self
            .list()
            .await?
            .into_iter()
            .map(|v| v.account.service)
            .collect();
        let mut report = ImportReport::default();
        // Choices to carry over once every account is in: (name, was the service's default).
        let mut choices = Vec::new();
        for exported in file.accounts {
            let name = exported.name.clone();
            let imported = match self.service_id(&exported.service) {
                Ok(service) => self
                    .import_one(service, &exported)
                    .await
                    .map(|imported| (service, imported)),
                Err(e) => Err(e),
            };
            match imported {
                Ok((service, imported)) => {
                    if exported.password.is_some() && exported.remember_password {
                        report.with_password.push(imported.clone());
                    }
                    if exported.active && !services_before.contains(&service) {
                        choices.push((imported.clone(), exported.default_for_service));
                    }
                    report.imported.push(imported);
                }
                Err(e) => report.skipped.push(ImportSkip {
                    name,
                    code: e.code,
                    reason: e.display_line(),
                }),
            }
        }
        // The defaults last: `set_active` makes an account the one its service id stands for.
        choices.sort_by_key(|(_, default)| *default);
        for (name, _) in choices {
            if let Err(e) = self.set_active(&name).await {
                tracing::warn!(account = %name, error = %e.message, "cannot carry the active choice over");
            }
        }
        if !report.imported.is_empty() {
            self.log_said(
                None,
                "import",
                "ok",
                crate::store::Said::new("imported")
                    .with("imported", report.imported.len().to_string())
                    .with("skipped", report.skipped.len().to_string()),
                format!(
                    "imported {} account(s), skipped {}",
                    report.imported.len(),
                    report.skipped.len()
                ),
            )
            .await;
        }
        Ok(report)
    }

    /// Whether the account keeps a password in the secret store that a login can use without
    /// asking (an imported account has one but no session yet).
    pub async fn remembers_password(&self, name: &str) -> Result<bool> {
        let account = self.account(name).await?;
        Ok(account.remember_password
            && self
                .secrets
                .get(&key_password(&account.id))
                .await?
                .is_some())
    }

    /// One account: added (options checked again), then its remembered password stored. If the
    /// password cannot be stored the account is taken back, so nothing half-made stays.
    async fn import_one(&self, service: ServiceId, exported: &ExportedAccount) -> Result<String> {
        let mut options = exported.options.clone();
        for (key, value) in &exported.secret_options {
            options.insert(key.clone(), value.expose().to_owned());
        }
        let view = self
            .add_account(NewAccount {
                name: Some(exported.name.clone()),
                service,
                user: exported.user.clone(),
                endpoint: Some(exported.endpoint.clone()),
                options,
                remember_password: exported.remember_password,
            })
            .await?;
        let account = view.account;
        if exported.remember_password
            && let Some(password) = &exported.password
            && let Err(e) = self
                .put_secret(&account.id, &key_password(&account.id), password)
                .await
        {
            let _ = self.undo_add(&account.name).await;
            return Err(e);
        }
        Ok(account.name)
    }
}

/// A file path a person typed in a window (the desktop's settings), where no shell expands it:
/// `~/` is the home directory, and the path must be absolute, as the app's working directory is
/// nothing the person chose.
pub fn typed_path(text: &str) -> Result<PathBuf> {
    let text = text.trim();
    let path = match text.strip_prefix("~/") {
        Some(rest) => dirs::home_dir()
            .ok_or_else(|| Error::invalid_input("there is no home directory to expand ~/ in"))?
            .join(rest),
        None => PathBuf::from(text),
    };
    if text.is_empty() || !path.is_absolute() {
        return Err(Error::invalid_input(
            "give the file's full path, e.g. ~/lanyard-accounts.age",
        ));
    }
    Ok(path)
}

fn exists(path: &Path) -> Error {
    Error::new(
        ErrorCode::AlreadyExists,
        format!(
            "{} exists already; choose another file or replace it",
            path.display()
        ),
    )
}

/// `bytes` to `path`, readable by us only ([`crate::data_dir::write_private`]).
fn write_private(path: &Path, bytes: &[u8], replace: bool) -> Result<()> {
    crate::data_dir::write_private(path, bytes, replace).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            exists(path)
        } else {
            Error::invalid_input(format!("cannot write {}: {e}", path.display()))
        }
    })
}

fn read_limited(path: &Path) -> Result<Vec<u8>> {
    let cannot =
        |e: std::io::Error| Error::invalid_input(format!("cannot read {}: {e}", path.display()));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_EXPORT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > MAX_EXPORT_BYTES {
        return Err(Error::invalid_input(format!(
            "{} is larger than an export can be",
            path.display()
        )));
    }
    Ok(bytes)
}

fn encrypt(plaintext: &[u8], passphrase: age::secrecy::SecretString) -> Result<Vec<u8>> {
    let cannot = |e: std::io::Error| Error::internal(format!("cannot encrypt the export: {e}"));
    let encryptor = age::Encryptor::with_user_passphrase(passphrase);
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out).map_err(cannot)?;
    writer.write_all(plaintext).map_err(cannot)?;
    writer.finish().map_err(cannot)?;
    Ok(out)
}

fn decrypt(bytes: &[u8], passphrase: age::secrecy::SecretString) -> Result<Zeroizing<Vec<u8>>> {
    use age::DecryptError as D;
    let not_an_export = || {
        Error::invalid_input(
            "the file is not a Lanyard export: it is not in the age format (age-encryption.org/v1)",
        )
    };
    if bytes.len() > MAX_EXPORT_BYTES {
        return Err(Error::invalid_input(format!(
            "the file is larger than an export can be ({} MB)",
            MAX_EXPORT_BYTES / (1024 * 1024)
        )));
    }
    let decryptor = age::Decryptor::new_buffered(bytes).map_err(|e| match e {
        D::UnknownFormat | D::InvalidHeader | D::Io(_) => not_an_export(),
        other => Error::invalid_input(format!("the export cannot be read: {other}")),
    })?;
    if !decryptor.is_scrypt() {
        return Err(Error::invalid_input(
            "the file is encrypted to an age key, not with a passphrase; Lanyard exports use a passphrase",
        ));
    }
    let mut identity = age::scrypt::Identity::new(passphrase);
    identity.set_max_work_factor(MAX_SCRYPT_LOG_N);
    let wrong = || {
        Error::new(
            ErrorCode::CredentialsRejected,
            "wrong passphrase for the export file (nothing was imported)",
        )
    };
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            D::DecryptionFailed | D::KeyDecryptionFailed | D::NoMatchingKeys | D::InvalidMac => {
                wrong()
            }
            D::ExcessiveWork { required, .. } => Error::invalid_input(format!(
                "the export asks for too much work to open (scrypt work factor {required}, at most \
                 {MAX_SCRYPT_LOG_N} accepted)"
            )),
            D::UnknownFormat | D::InvalidHeader | D::Io(_) => not_an_export(),
            other => Error::invalid_input(format!("the export cannot be read: {other}")),
        })?;
    let mut json = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut json)
        .map_err(|_| Error::invalid_input("the export is damaged: its contents do not decrypt"))?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_paths_are_absolute_or_under_home() {
        assert_eq!(
            typed_path(" /tmp/a.age ").unwrap(),
            PathBuf::from("/tmp/a.age")
        );
        if let Some(home) = dirs::home_dir() {
            assert_eq!(typed_path("~/a.age").unwrap(), home.join("a.age"));
        }
        for relative in ["", "a.age", "./a.age", "~a.age"] {
            let e = typed_path(relative).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{relative:?}");
        }
    }

    #[test]
    fn an_export_round_trips_and_a_wrong_passphrase_is_named() {
        let secret = || age::secrecy::SecretString::from("correct horse".to_owned());
        let sealed = encrypt(b"{\"x\":1}", secret()).unwrap();
        assert!(sealed.starts_with(b"age-encryption.org/v1\n-> scrypt "));
        assert_eq!(&decrypt(&sealed, secret()).unwrap()[..], b"{\"x\":1}");
        let e = decrypt(
            &sealed,
            age::secrecy::SecretString::from("wrong".to_owned()),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::CredentialsRejected, "{}", e.message);
        let e = decrypt(b"{\"format\":\"lanyard-export\"}", secret()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("age format"), "{}", e.message);
    }
}
