//! Opening the Manager when the encrypted file store is chosen and the environment holds no
//! passphrase: a front end (the desktop app's dialog) asks a person, first to choose one for a
//! new store, later to unlock the existing one, and may let them try again after a wrong one.

use std::path::PathBuf;

use serde::Serialize;

use super::{Config, Manager};
use crate::error::{Error, Result};
use crate::secret::SecretString;
use crate::secrets::SecretStoreKind;
use crate::secrets::file::{SECRETS_FILE, check_passphrase, store_exists};
use crate::store;

/// What the Manager waits for before it can open: a passphrase for the secret file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PassphraseRequest {
    /// No secret file yet: the person chooses a passphrase (and should type it twice).
    pub first_use: bool,
    /// The secret file the passphrase is for.
    pub secrets_file: PathBuf,
}

/// `Some` when `config` selects the file store and holds no passphrase, so a person must be
/// asked before [`open_with_passphrase`]; `None` when [`Manager::open`] can go ahead.
pub fn passphrase_request(config: &Config) -> Result<Option<PassphraseRequest>> {
    if config.secret_store != Some(SecretStoreKind::File) || config.passphrase.is_some() {
        return Ok(None);
    }
    let data_dir = match &config.data_dir {
        Some(dir) => dir.clone(),
        None => store::default_data_dir()?,
    };
    let secrets_file = data_dir.join(SECRETS_FILE);
    Ok(Some(PassphraseRequest {
        first_use: !store_exists(&secrets_file),
        secrets_file,
    }))
}

/// Checks `passphrase` against the secret file and opens the Manager with it. A new store takes
/// any non-empty passphrase (and is created with it). A wrong passphrase is an
/// [`crate::ErrorCode::SecretStore`] error saying so, and opens nothing, so the person can try
/// again; so is a file that cannot be read at all.
pub async fn open_with_passphrase(mut config: Config, passphrase: SecretString) -> Result<Manager> {
    let request = passphrase_request(&config)?.ok_or_else(|| {
        Error::invalid_input("the secret store is not the encrypted file, or it has its passphrase")
    })?;
    if passphrase.is_empty() {
        return Err(Error::invalid_input(
            "the passphrase for the secret file cannot be empty",
        ));
    }
    let (file, candidate) = (request.secrets_file.clone(), passphrase.clone());
    let correct = tokio::task::spawn_blocking(move || check_passphrase(&file, &candidate))
        .await
        .map_err(|_| Error::internal("checking the passphrase failed unexpectedly"))??;
    if !correct {
        return Err(Error::secret_store(format!(
            "wrong passphrase for the secret file {}",
            request.secrets_file.display()
        )));
    }
    config.data_dir = request.secrets_file.parent().map(PathBuf::from);
    config.passphrase = Some(passphrase);
    Manager::open(config).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn file_config(dir: &std::path::Path) -> Config {
        Config {
            data_dir: Some(dir.to_path_buf()),
            secret_store: Some(SecretStoreKind::File),
            ..Config::default()
        }
    }

    #[tokio::test]
    async fn first_use_then_unlock_then_a_wrong_passphrase() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        let config = file_config(&dir);
        let request = passphrase_request(&config).unwrap().unwrap();
        assert!(request.first_use);
        assert_eq!(request.secrets_file, dir.join(SECRETS_FILE));

        let manager = open_with_passphrase(config.clone(), SecretString::new("chosen one"))
            .await
            .unwrap();
        assert!(manager.secret_store_health().await.ok);
        drop(manager);

        let request = passphrase_request(&config).unwrap().unwrap();
        assert!(!request.first_use, "the store exists now");
        let before = std::fs::read(&request.secrets_file).unwrap();
        let err = open_with_passphrase(config.clone(), SecretString::new("a guess"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::SecretStore);
        assert!(
            err.message.starts_with("wrong passphrase"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("a guess"));
        assert_eq!(std::fs::read(&request.secrets_file).unwrap(), before);

        let manager = open_with_passphrase(config, SecretString::new("chosen one"))
            .await
            .unwrap();
        assert!(manager.secret_store_health().await.ok);
    }

    #[test]
    fn only_the_file_store_without_a_passphrase_asks() {
        let root = tempfile::tempdir().unwrap();
        let mut config = file_config(root.path());
        config.passphrase = Some(SecretString::new("given"));
        assert_eq!(passphrase_request(&config).unwrap(), None);
        config.passphrase = None;
        config.secret_store = Some(SecretStoreKind::Keyring);
        assert_eq!(passphrase_request(&config).unwrap(), None);
        config.secret_store = None;
        assert_eq!(passphrase_request(&config).unwrap(), None);
    }
}
