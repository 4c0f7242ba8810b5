//! What the app holds while it runs: the Manager (or why it could not be opened, or the
//! passphrase it waits for), the keep-alive engine and the clipboard.

use std::sync::{Arc, Mutex, RwLock};

use lanyard_core::manager::Config;
use lanyard_core::manager::unlock::{self, PassphraseRequest};
use lanyard_core::{Error, KeepAlive, KeepAliveHandle, Manager, SecretString};

use crate::clipboard::SecretClipboard;

/// The Manager as far as it got.
enum Core {
    Open(Arc<Manager>),
    /// The startup error is kept and handed to every command, so the window opens and shows it.
    Failed(Error),
    /// The encrypted file store is chosen and the environment has no passphrase: the window
    /// asks for it (`unlock_secret_store`), then the Manager opens with this configuration.
    AwaitingPassphrase(Config, PassphraseRequest),
}

pub struct AppState {
    core: RwLock<Core>,
    keepalive: Mutex<Option<KeepAliveHandle>>,
    pub clipboard: SecretClipboard,
}

impl AppState {
    /// Opens the Manager from the environment (`LANYARD_DATA_DIR`, `LANYARD_SECRET_STORE`...).
    /// With the file store and no passphrase in the environment, it waits for the window to
    /// ask for one.
    pub async fn open_from_env() -> AppState {
        let config = Config::from_env();
        let request = config
            .as_ref()
            .map_err(Clone::clone)
            .and_then(unlock::passphrase_request);
        let core = match (config, request) {
            (Ok(config), Ok(Some(request))) => Core::AwaitingPassphrase(config, request),
            (Ok(config), Ok(None)) => match Manager::open(config).await {
                Ok(manager) => Core::Open(Arc::new(manager)),
                Err(e) => Core::Failed(e),
            },
            (Err(e), _) | (_, Err(e)) => Core::Failed(e),
        };
        if let Core::Failed(e) = &core {
            tracing::error!(error = %e.message, "Lanyard could not open its data");
        }
        Self::new(core, SecretClipboard::default())
    }

    #[cfg(test)]
    pub fn with_core(core: Result<Arc<Manager>, Error>, clipboard: SecretClipboard) -> AppState {
        let core = match core {
            Ok(manager) => Core::Open(manager),
            Err(e) => Core::Failed(e),
        };
        Self::new(core, clipboard)
    }

    /// Waiting for the passphrase of the file store `config` selects (tests).
    #[cfg(test)]
    pub fn awaiting_passphrase(
        config: Config,
        clipboard: SecretClipboard,
    ) -> Result<AppState, Error> {
        let request = unlock::passphrase_request(&config)?
            .ok_or_else(|| Error::invalid_input("this configuration needs no passphrase"))?;
        Ok(Self::new(
            Core::AwaitingPassphrase(config, request),
            clipboard,
        ))
    }

    fn new(core: Core, clipboard: SecretClipboard) -> AppState {
        AppState {
            core: RwLock::new(core),
            keepalive: Mutex::new(None),
            clipboard,
        }
    }

    /// The Manager, or the error that kept it from opening.
    pub fn manager(&self) -> Result<Arc<Manager>, Error> {
        match &*self.core.read().unwrap_or_else(|p| p.into_inner()) {
            Core::Open(manager) => Ok(manager.clone()),
            Core::Failed(e) => Err(e.clone()),
            Core::AwaitingPassphrase(_, request) => Err(Error::secret_store(format!(
                "the secret file {} is locked: enter its passphrase in the window",
                request.secrets_file.display()
            ))),
        }
    }

    /// What the window must ask for before the Manager opens, if anything.
    pub fn passphrase_request(&self) -> Option<PassphraseRequest> {
        match &*self.core.read().unwrap_or_else(|p| p.into_inner()) {
            Core::AwaitingPassphrase(_, request) => Some(request.clone()),
            _ => None,
        }
    }

    /// Opens the Manager with the passphrase the person gave (see
    /// `lanyard_core::manager::unlock`). `Ok(true)` when this call opened it, `Ok(false)` when
    /// it was open already; a wrong passphrase leaves everything as it was.
    pub async fn unlock(&self, passphrase: SecretString) -> Result<bool, Error> {
        let config = match &*self.core.read().unwrap_or_else(|p| p.into_inner()) {
            Core::AwaitingPassphrase(config, _) => config.clone(),
            Core::Open(_) => return Ok(false),
            Core::Failed(e) => return Err(e.clone()),
        };
        let manager = Arc::new(unlock::open_with_passphrase(config, passphrase).await?);
        let mut core = self.core.write().unwrap_or_else(|p| p.into_inner());
        if matches!(*core, Core::Open(_)) {
            // Two unlocks raced; the first one's Manager stays.
            return Ok(false);
        }
        *core = Core::Open(manager);
        Ok(true)
    }

    /// Starts the keep-alive engine (on the current tokio runtime). Without a Manager, nothing.
    pub fn start_keepalive(&self) {
        if let Ok(manager) = self.manager() {
            let handle = KeepAlive::spawn(manager);
            *self.keepalive.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        }
    }

    /// Stops the engine, letting running checks finish for a moment.
    pub async fn stop_keepalive(&self) {
        let handle = self
            .keepalive
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(handle) = handle {
            handle.shutdown().await;
        }
    }
}
