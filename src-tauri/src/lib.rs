//! The Lanyard desktop app: a thin Tauri shell over `lanyard-core`.
//!
//! Everything that is not drawing pixels lives in lanyard-core; the commands here parse their
//! arguments, call the core and hand its errors (`{code, message, server_message}`) to the UI.

mod commands;

use tauri::Manager;

/// The label of the one main window (tauri.conf.json and the capabilities refer to it).
const MAIN_WINDOW: &str = "main";

/// Builds and runs the app until its last window closes.
pub fn run() -> tauri::Result<()> {
    tauri::Builder::default()
        // Registered first, as the plugin asks: a second launch must hand over before
        // anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            focus_main_window(app);
        }))
        .invoke_handler(tauri::generate_handler![
            commands::list_services,
            commands::system_locale
        ])
        .run(tauri::generate_context!())
}

/// Brings the main window to the front, e.g. when a second instance was launched.
fn focus_main_window(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        // Each step may fail on some window managers; the rest is still worth trying.
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}
