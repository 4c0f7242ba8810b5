//! The desktop duties beyond commands: Manager events forwarded to the webview, notifications,
//! copying a token (from the UI and from the tray), the window that hides instead of closing.

use std::time::Duration;

use lanyard_core::Error;
use lanyard_core::manager::{Event, TokenFormat};
use lanyard_core::settings::Language;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager as _, Runtime};
use tokio::sync::broadcast::error::RecvError;
use zeroize::Zeroizing;

use crate::state::AppState;
use crate::texts::Lang;

/// The label of the one main window (tauri.conf.json and the capabilities refer to it).
pub const MAIN_WINDOW: &str = "main";
/// Every `lanyard_core::manager::Event`, as serialized.
pub const EVENT: &str = "lanyard://event";
/// `{account}`: the delayed clipboard clear happened.
pub const CLIPBOARD_CLEARED: &str = "lanyard://clipboard-cleared";
/// `{account}`: the window should show this account.
pub const NAVIGATE: &str = "lanyard://navigate";

#[derive(Debug, Clone, Serialize)]
pub struct AccountPayload {
    pub account: String,
}

/// What `copy_token` answers.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Copied {
    pub clear_after_secs: u64,
}

/// The language of the backend's own words: the setting, else the system locale.
pub fn lang_for(setting: Language) -> Lang {
    Lang::from_setting(setting, sys_locale::get_locale().as_deref())
}

async fn lang_of<R: Runtime>(app: &AppHandle<R>) -> Lang {
    let setting = match app.try_state::<AppState>().map(|s| s.manager()) {
        Some(Ok(m)) => m.settings().await.map(|s| s.language).unwrap_or_default(),
        _ => Language::System,
    };
    lang_for(setting)
}

/// Brings the main window to the front (a second launch, the tray's "Open Lanyard").
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        // Each step may fail on some window managers; the rest is still worth trying.
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// A desktop notification; a desktop without a notification service just does not show it.
pub fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    let Some(notification) = app.try_state::<tauri_plugin_notification::Notification<R>>() else {
        return;
    };
    if let Err(e) = notification.builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "could not show a notification");
    }
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
            show_main_window(app);
            let _ = app.emit(
                NAVIGATE,
                AccountPayload {
                    account: account.to_owned(),
                },
            );
        }
    }
}

/// Whether an event deserves a notification (cheap: no settings read for the others).
fn wants_notification(event: &Event) -> bool {
    matches!(
        event,
        Event::ExpiringUnattended { .. }
            | Event::RefreshFailed {
                permanent: true,
                ..
            }
    )
}

/// The notification an event deserves, if any: a session about to die unattended, or a
/// renewal that failed for good.
pub fn notification_for(event: &Event, lang: Lang) -> Option<(String, String)> {
    match event {
        Event::ExpiringUnattended {
            account, message, ..
        } => Some((lang.expiring_title(account), message.clone())),
        Event::RefreshFailed {
            account,
            permanent: true,
            message,
            ..
        } => Some((lang.needs_login_title(account), message.clone())),
        _ => None,
    }
}

/// Whether the tray may show something else after this event.
fn touches_tray(event: &Event) -> bool {
    !matches!(event, Event::Logged { .. } | Event::Refreshed { .. })
}

/// Forwards every Manager event to the webview, notifies where a person is needed, and keeps
/// the tray current. Runs until the Manager is gone.
pub fn forward_events<R: Runtime>(app: AppHandle<R>) {
    let Ok(manager) = app.state::<AppState>().manager() else {
        return;
    };
    let mut events = manager.subscribe();
    drop(manager);
    tauri::async_runtime::spawn(async move {
        crate::tray::refresh(&app).await;
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Err(e) = app.emit(EVENT, &event) {
                        tracing::warn!(error = %e, "could not forward an event to the window");
                    }
                    if wants_notification(&event)
                        && let Some((title, body)) = notification_for(&event, lang_of(&app).await)
                    {
                        notify(&app, &title, &body);
                    }
                    if touches_tray(&event) {
                        crate::tray::refresh(&app).await;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the window missed some events");
                    crate::tray::refresh(&app).await;
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
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

/// Makes launch-at-login match the setting (the autostart plugin's desktop entry).
pub fn apply_launch_at_login<R: Runtime>(app: &AppHandle<R>, enabled: bool) -> Result<(), Error> {
    let Some(autostart) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() else {
        return Ok(());
    };
    let now = autostart.is_enabled().unwrap_or(!enabled);
    if now == enabled {
        return Ok(());
    }
    // The plugin writes ~/.config/autostart/<app>.desktop but creates only the last directory;
    // a fresh home may not have ~/.config yet.
    #[cfg(target_os = "linux")]
    if enabled && let Some(home) = std::env::var_os("HOME") {
        let _ = std::fs::create_dir_all(std::path::Path::new(&home).join(".config"));
    }
    let result = if enabled {
        autostart.enable()
    } else {
        autostart.disable()
    };
    result.map_err(|e| Error::internal(format!("could not change launch at login: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unattended_expiry_and_permanent_failures_notify() {
        let expiring = Event::ExpiringUnattended {
            account: "steedos/ann".into(),
            expires_at: chrono_now(),
            remaining_secs: 60,
            message: "the session expires in 1 min".into(),
        };
        assert!(wants_notification(&expiring));
        let (title, body) = notification_for(&expiring, Lang::En).unwrap();
        assert!(title.contains("steedos/ann"));
        assert_eq!(body, "the session expires in 1 min");
        let permanent = Event::RefreshFailed {
            account: "coolkit/bob".into(),
            permanent: true,
            message: "the refresh token expired".into(),
            next_attempt: None,
        };
        let (title, _) = notification_for(&permanent, Lang::ZhCn).unwrap();
        assert!(title.contains("需要重新登录"));
        let transient = Event::RefreshFailed {
            account: "coolkit/bob".into(),
            permanent: false,
            message: "timeout".into(),
            next_attempt: None,
        };
        assert!(notification_for(&transient, Lang::En).is_none());
        assert!(wants_notification(&permanent) && !wants_notification(&transient));
        assert!(
            notification_for(
                &Event::AccountChanged {
                    account: "x".into()
                },
                Lang::En
            )
            .is_none()
        );
    }

    fn chrono_now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}
