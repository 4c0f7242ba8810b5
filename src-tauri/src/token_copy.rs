//! Copying a token: from the window's command and from the tray. The token goes to the
//! clipboard marked as a secret and never into the webview; it is cleared after the configured
//! delay if the clipboard still holds it.

use std::time::Duration;

use lanyard_core::Error;
use lanyard_core::manager::TokenFormat;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager as _, Runtime};
use zeroize::Zeroizing;

use crate::notifications::notify;
use crate::state::AppState;
use crate::texts::lang_of;
use crate::window::{AccountPayload, show_account};

/// `{account}`: the delayed clipboard clear happened.
pub const CLIPBOARD_CLEARED: &str = "lanyard://clipboard-cleared";

/// What `copy_token` answers.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct Copied {
    pub clear_after_secs: u64,
}

/// Resolves the account's token in the given form, puts it on the clipboard marked as a
/// secret, and clears it after the configured delay if it still holds the token.
pub async fn copy_token<R: Runtime>(
    app: &AppHandle<R>,
    name: &str,
    format: TokenFormat,
) -> Result<Copied, Error> {
    let state = app.state::<AppState>();
    let manager = state.manager()?;
    let account = manager.get(name).await?.account.name;
    let token = Zeroizing::new(manager.token(&account, format).await?);
    let clear_after_secs = manager.settings().await?.clipboard_clear_secs;
    let clipboard = state.clipboard.clone();
    let generation = tauri::async_runtime::spawn_blocking(move || clipboard.write(&token))
        .await
        .map_err(|_| Error::internal("writing the clipboard failed unexpectedly"))??;
    if clear_after_secs > 0 {
        let (app, clipboard) = (app.clone(), state.clipboard.clone());
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(Duration::from_secs(clear_after_secs)).await;
            let cleared = tauri::async_runtime::spawn_blocking(move || {
                clipboard.clear_if_unchanged(generation)
            })
            .await
            .unwrap_or(false);
            if cleared {
                let _ = app.emit(CLIPBOARD_CLEARED, AccountPayload { account });
            }
        });
    }
    Ok(Copied { clear_after_secs })
}

/// The tray's copy: the form the service expects; a failure shows the account in the window.
pub async fn copy_from_tray<R: Runtime>(app: &AppHandle<R>, account: &str) {
    let lang = lang_of(app).await;
    let service = match app.state::<AppState>().manager() {
        Ok(m) => m.get(account).await.map(|v| v.account.service),
        Err(e) => Err(e),
    };
    let result = match service {
        Ok(service) => copy_token(app, account, TokenFormat::for_service(service)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(copied) => notify(
            app,
            lang.copied_title(),
            &lang.copied_body(account, copied.clear_after_secs),
        ),
        Err(e) => {
            notify(app, &lang.copy_failed_title(account), &e.display_line());
            show_account(app, account);
        }
    }
}
