//! The app's life: what starts once the Manager is open, the signals that quit it, and what
//! quitting must leave behind (no keep-alive running, no token on the clipboard).

use tauri::{AppHandle, Manager as _, Runtime};

use crate::autostart::apply_launch_at_login;
use crate::core_events::forward_events;
use crate::state::AppState;
use crate::texts::lang_for;

/// At startup: opens the Manager (or keeps why it could not, or waits for a passphrase), puts
/// the tray up and starts what runs beside an open Manager.
pub fn start(app: &AppHandle) {
    // Opening never fails the app: without a Manager the window still opens, and every
    // command answers with the reason. With the encrypted file store and no passphrase in the
    // environment, the window asks for it first (`unlock_secret_store`).
    let state = tauri::async_runtime::block_on(AppState::open_from_env());
    let language = state
        .manager()
        .ok()
        .and_then(|m| tauri::async_runtime::block_on(m.settings()).ok())
        .unwrap_or_default()
        .language;
    app.manage(state);
    crate::tray::create(app, lang_for(language));
    tauri::async_runtime::block_on(manager_ready(app));
    quit_on_signals(app.clone());
}

/// Starts what runs beside an open Manager: launch at login as the settings say, events to the
/// window and the tray, the keep-alive engine. At startup, or once the window has unlocked the
/// secret file; without a Manager, nothing.
pub async fn manager_ready<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let Ok(manager) = state.manager() else {
        return;
    };
    let settings = manager.settings().await.unwrap_or_default();
    drop(manager);
    if let Err(e) = apply_launch_at_login(app, settings.launch_at_login) {
        tracing::warn!(error = %e.message, "launch at login");
    }
    // Subscribed before the engine starts, so its first events reach the window.
    forward_events(app.clone());
    state.start_keepalive();
}

/// The app is exiting (the tray's Quit, a signal, the system): the keep-alive engine stops and
/// a token must not outlive the app on the clipboard (nor be handed to a clipboard manager as
/// the X11 owner goes away).
pub fn on_exit<R: Runtime>(app: &AppHandle<R>) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    tauri::async_runtime::block_on(state.stop_keepalive());
    let cleared = state.clipboard.clear_if_ours();
    tracing::info!(
        clipboard_cleared = cleared,
        "quitting: keep-alive stopped, no token left on the clipboard"
    );
}

/// SIGTERM (a session ending, `kill`) and SIGINT quit the way the tray's Quit does: the
/// keep-alive engine stops and a token left on the clipboard is taken off.
fn quit_on_signals(app: AppHandle) {
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
