//! The Manager's events: forwarded to the webview, turned into notifications where a person is
//! needed, and keeping the tray current.

use lanyard_core::manager::Event;
use tauri::{AppHandle, Emitter, Manager as _, Runtime};
use tokio::sync::broadcast::error::RecvError;

use crate::notifications::{notification_for, notify, wants_notification};
use crate::state::AppState;
use crate::texts::lang_of;

/// Every `lanyard_core::manager::Event`, as serialized.
pub const EVENT: &str = "lanyard://event";

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
