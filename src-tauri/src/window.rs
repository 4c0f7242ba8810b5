//! The one main window: built on request, and destroyed (not hidden) when it is closed, so the
//! WebKit web process goes with it and the app in the tray is the Rust process alone. Opening
//! it again builds it anew from tauri.conf.json; the page asks for its last view (`view_state`)
//! so the person finds the list as they left it. The first close shows a notice.

use std::sync::Mutex;

use lanyard_core::ServiceId;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter as _, Manager as _, Runtime, WebviewWindowBuilder};

use crate::notifications::notify;
use crate::state::AppState;
use crate::texts::lang_for;

/// `{account}`: the window should show this account.
pub const NAVIGATE: &str = "lanyard://navigate";

/// The payload of events about one account.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AccountPayload {
    pub account: String,
}

/// The label of the one main window (tauri.conf.json and the capabilities refer to it).
pub const MAIN_WINDOW: &str = "main";

/// Where the person left the window: what the list showed and how far it was scrolled. The
/// page tells the app as it changes and reads it back when a rebuilt window starts. Kept in
/// memory only: a new start of the app opens on the overview.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ViewState {
    /// The sidebar's choice: a service, or `null` for all accounts.
    pub view: Option<ServiceId>,
    /// The selected account's name.
    pub selected: Option<String>,
    /// The list's filter text.
    pub filter: String,
    /// How far the account list was scrolled, in CSS pixels.
    pub scroll_top: f64,
    /// The account whose row was at the top of the list's viewport: the list measures its rows
    /// as they come on screen, so a new page may put the same offset a little elsewhere; this
    /// row is put back in its place.
    pub top_row: Option<String>,
    /// Where that row's top was, in CSS pixels below the viewport's top (negative: cut off).
    pub top_row_offset: f64,
}

/// The last view the page reported (app state).
#[derive(Default)]
pub struct LastView(Mutex<Option<ViewState>>);

impl LastView {
    pub fn get(&self) -> Option<ViewState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set(&self, view: ViewState) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(view);
    }
}

/// Brings the main window to the front, building it first if it was closed to the tray (a
/// second launch, the tray's "Open Lanyard", a failed copy from the tray).
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    let window = match app.get_webview_window(MAIN_WINDOW) {
        Some(window) => window,
        None => match build_main_window(app) {
            Ok(window) => window,
            Err(e) => {
                tracing::error!(error = %e, "could not open the window");
                return;
            }
        },
    };
    // Each step may fail on some window managers; the rest is still worth trying.
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}

/// Shows the window on one account: the open page is told to navigate there; a window closed
/// to the tray is built to start on it (a new page reads its place on start and would miss an
/// event sent before it listens).
pub fn show_account<R: Runtime>(app: &AppHandle<R>, account: &str) {
    if app.get_webview_window(MAIN_WINDOW).is_some() {
        show_main_window(app);
        let _ = app.emit(
            NAVIGATE,
            AccountPayload {
                account: account.to_owned(),
            },
        );
    } else {
        app.state::<LastView>().set(ViewState {
            selected: Some(account.to_owned()),
            ..ViewState::default()
        });
        show_main_window(app);
    }
}

/// Builds the main window from its definition in tauri.conf.json, as at startup. On Linux
/// the WebContext outlives its webviews (tauri-runtime-wry keeps it for the app's lifetime), so
/// the new page joins the same automation session under WebDriver; WebKit starts a new network
/// process for it if the tray ended the old one (memory.rs).
fn build_main_window<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<tauri::WebviewWindow<R>> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .cloned()
        .ok_or_else(|| tauri::Error::WindowNotFound)?;
    let window = WebviewWindowBuilder::from_config(app, &config)?.build()?;
    tune(&window);
    Ok(window)
}

/// What every build of the main window gets beyond tauri.conf.json: on Linux, WebKit's defaults
/// changed as webkit.rs explains.
pub fn tune<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    crate::webkit::tune(window);
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = window;
}

/// Closing the window destroys it (and with it the WebKit web process): keep-alive,
/// notifications and the tray go on in the Rust process. The first time, a notification says
/// so.
pub fn on_close_requested<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW)
        && let Err(e) = window.destroy()
    {
        tracing::warn!(error = %e, "could not close the window; hiding it");
        let _ = window.hide();
    }
    crate::memory::release_after_close(app);
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
