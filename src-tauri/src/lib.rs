//! The Lanyard desktop app: a thin Tauri shell over `lanyard-core`.
//!
//! Everything that is not drawing pixels lives in lanyard-core; the commands here parse their
//! arguments, call the core and hand its errors (`{code, message, server_message}`) to the UI.
//! Beyond the commands the shell runs the keep-alive engine, forwards the Manager's events to
//! the webview, owns the clipboard, the tray and the notifications (docs/desktop-ipc.md).
//!
//! One module per concern, none importing back up the chain: `lifecycle` (startup, exit,
//! signals) → `core_events` (events to the window) → `tray` → `token_copy` → `window` →
//! `notifications`; `autostart` and `single_instance` wrap their plugins; `memory` hands memory
//! back once the window is closed; `webkit` changes three of WebKitGTK's defaults for a window
//! that costs little; `commands` stays a thin layer over them; `texts` reads only `state`,
//! which imports none of them.

mod autostart;
mod clipboard;
mod commands;
mod core_events;
#[cfg(test)]
mod ipc_types;
mod lifecycle;
mod memory;
mod notifications;
mod single_instance;
mod state;
mod texts;
mod token_copy;
mod tray;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod webkit;
mod window;

#[cfg(test)]
mod tests;

use tauri::{Manager as _, RunEvent, WindowEvent};

/// Sets what the webview reads from the environment when it starts (on Linux: classic
/// scrollbars and no optimizing JavaScript tiers, see webkit.rs).
///
/// # Safety
///
/// Sets environment variables: call it before any other thread exists, first thing in `main`.
pub unsafe fn prepare_environment() {
    // SAFETY: passed on from the caller.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        webkit::prepare_environment()
    };
}

/// Builds and runs the app until it is quit (from the tray, or by the system).
pub fn run() -> tauri::Result<()> {
    init_logging();
    let builder = tauri::Builder::default()
        // Registered first, as the plugin asks: a second launch must hand over before
        // anything else starts.
        .plugin(single_instance::plugin())
        .plugin(tauri_plugin_notification::init())
        .plugin(autostart::plugin())
        .manage(window::LastView::default())
        .setup(|app| {
            lifecycle::start(app.handle());
            // The window tauri.conf.json defines, built before this hook runs.
            if let Some(window) = app.get_webview_window(window::MAIN_WINDOW) {
                window::tune(&window);
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == window::MAIN_WINDOW
            {
                api.prevent_close();
                window::on_close_requested(window.app_handle());
            }
        });
    let app = commands::register(builder).build(tauri::generate_context!())?;
    app.run(|app, event| match event {
        // The last window going away (closed to the tray) is no reason to quit; an explicit
        // exit (the tray's Quit, a signal) carries a code and goes through.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => lifecycle::on_exit(app),
        _ => {}
    });
    Ok(())
}

/// Warnings and errors on stderr; `LANYARD_LOG` (e.g. `debug`) says more. Nothing logged ever
/// holds a secret.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LANYARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
