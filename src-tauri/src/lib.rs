//! The Lanyard desktop app: a thin Tauri shell over `lanyard-core`.
//!
//! Everything that is not drawing pixels lives in lanyard-core; the commands here parse their
//! arguments, call the core and hand its errors (`{code, message, server_message}`) to the UI.
//! Beyond the commands the shell runs the keep-alive engine, forwards the Manager's events to
//! the webview, owns the clipboard, the tray and the notifications (docs/desktop-ipc.md).

mod clipboard;
mod commands;
mod desktop;
mod state;
mod texts;
mod tray;

#[cfg(test)]
mod tests;

use tauri::{Manager as _, RunEvent, WindowEvent};

use state::AppState;

/// Builds and runs the app until it is quit (from the tray, or by the system).
pub fn run() -> tauri::Result<()> {
    init_logging();
    let builder = tauri::Builder::default()
        // Registered first, as the plugin asks: a second launch must hand over before
        // anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            desktop::show_main_window(app);
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .setup(|app| {
            // Opening never fails the app: without a Manager the window still opens, and every
            // command answers with the reason. With the encrypted file store and no passphrase
            // in the environment, the window asks for it first (`unlock_secret_store`).
            let state = tauri::async_runtime::block_on(AppState::open_from_env());
            let language = state
                .manager()
                .ok()
                .and_then(|m| tauri::async_runtime::block_on(m.settings()).ok())
                .unwrap_or_default()
                .language;
            app.manage(state);
            let handle = app.handle().clone();
            tray::create(&handle, desktop::lang_for(language));
            tauri::async_runtime::block_on(desktop::manager_ready(&handle));
            quit_on_signals(handle);
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == desktop::MAIN_WINDOW
            {
                api.prevent_close();
                desktop::on_close_requested(window.app_handle());
            }
        });
    let app = commands::register(builder).build(tauri::generate_context!())?;
    app.run(|app, event| {
        if let RunEvent::Exit = event
            && let Some(state) = app.try_state::<AppState>()
        {
            tauri::async_runtime::block_on(state.stop_keepalive());
            // A token must not outlive the app on the clipboard (nor be handed to a clipboard
            // manager as the X11 owner goes away).
            let cleared = state.clipboard.clear_if_ours();
            tracing::info!(
                clipboard_cleared = cleared,
                "quitting: keep-alive stopped, no token left on the clipboard"
            );
        }
    });
    Ok(())
}

/// SIGTERM (a session ending, `kill`) and SIGINT quit the way the tray's Quit does: the
/// keep-alive engine stops and a token left on the clipboard is taken off.
fn quit_on_signals(app: tauri::AppHandle) {
    #[cfg(unix)]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        app.exit(0);
    });
    #[cfg(not(unix))]
    let _ = app;
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
