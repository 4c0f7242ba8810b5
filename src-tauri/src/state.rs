//! What the app holds while it runs: the Manager (or why it could not be opened), the
//! keep-alive engine, the clipboard and the tray's last contents.

use std::sync::{Arc, Mutex};

use lanyard_core::manager::Config;
use lanyard_core::{Error, KeepAlive, KeepAliveHandle, Manager};

use crate::clipboard::SecretClipboard;
use crate::texts::Lang;
use crate::tray::TrayEntry;

pub struct AppState {
    /// The startup error is kept and handed to every command, so the window opens and shows it.
    core: Result<Arc<Manager>, Error>,
    keepalive: Mutex<Option<KeepAliveHandle>>,
    pub clipboard: SecretClipboard,
    /// What the tray menu shows now (rebuilt only when this changes).
    pub tray: Mutex<Option<(Lang, Vec<TrayEntry>)>>,
}

impl AppState {
    /// Opens the Manager from the environment (`LANYARD_DATA_DIR`, `LANYARD_SECRET_STORE`...).
    pub async fn open_from_env() -> AppState {
        let core = match Config::from_env() {
            Ok(config) => Manager::open(config).await.map(Arc::new),
            Err(e) => Err(e),
        };
        if let Err(e) = &core {
            tracing::error!(error = %e.message, "Lanyard could not open its data");
        }
        Self::with_core(core, SecretClipboard::default())
    }

    pub fn with_core(core: Result<Arc<Manager>, Error>, clipboard: SecretClipboard) -> AppState {
        AppState {
            core,
            keepalive: Mutex::new(None),
            clipboard,
            tray: Mutex::new(None),
        }
    }

    /// The Manager, or the error that kept it from opening.
    pub fn manager(&self) -> Result<Arc<Manager>, Error> {
        self.core.clone()
    }

    /// Starts the keep-alive engine (on the current tokio runtime). Without a Manager, nothing.
    pub fn start_keepalive(&self) {
        if let Ok(manager) = &self.core {
            let handle = KeepAlive::spawn(manager.clone());
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
