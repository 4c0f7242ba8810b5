//! The one main window: brought to the front on request, hidden instead of closed (keep-alive
//! goes on in the tray), with a notice the first time it is closed.

use tauri::{AppHandle, Manager as _, Runtime};

use crate::notifications::notify;
use crate::state::AppState;
use crate::texts::lang_for;

/// The label of the one main window (tauri.conf.json and the capabilities refer to it).
pub const MAIN_WINDOW: &str = "main";

/// Brings the main window to the front (a second launch, the tray's "Open Lanyard").
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        // Each step may fail on some window managers; the rest is still worth trying.
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Closing the window hides it: keep-alive goes on in the tray. The first time, a notification
/// says so.
pub fn on_close_requested<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.hide();
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Ok(manager) = app.state::<AppState>().manager() else {
            return;
        };
        let Ok(settings) = manager.settings().await else {
            return;
        };
        if settings.close_to_tray_notice_shown {
            return;
        }
        let lang = lang_for(settings.language);
        notify(&app, lang.close_notice_title(), lang.close_notice_body());
        let shown = lanyard_core::Settings {
            close_to_tray_notice_shown: true,
            ..settings
        };
        if let Err(e) = manager.set_settings(shown).await {
            tracing::warn!(error = %e.message, "could not remember the close notice");
        }
    });
}
