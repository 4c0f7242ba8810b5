//! Desktop notifications: which core events deserve one, and showing it.

use lanyard_core::manager::Event;
#[cfg(test)]
use lanyard_core::model::NeedsLoginReason;
use tauri::{AppHandle, Manager as _, Runtime};

use crate::texts::Lang;

/// A desktop notification; a desktop without a notification service just does not show it.
pub fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    let Some(notification) = app.try_state::<tauri_plugin_notification::Notification<R>>() else {
        return;
    };
    if let Err(e) = notification.builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "could not show a notification");
    }
}

/// Whether an event deserves a notification (cheap: no settings read for the others).
pub fn wants_notification(event: &Event) -> bool {
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
            account,
            remaining_secs,
            ..
        } => Some((
            lang.expiring_title(account),
            lang.expiring_body(*remaining_secs),
        )),
        Event::RefreshFailed {
            account,
            permanent: true,
            message,
            reason,
            ..
        } => Some((
            lang.needs_login_title(account),
            reason.as_ref().map_or_else(
                || message.clone(),
                |r| lang.needs_login_reason(r).to_owned(),
            ),
        )),
        _ => None,
    }
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
        assert_eq!(
            body,
            "The session ends in 1 min and cannot be renewed without you."
        );
        let (_, body) = notification_for(&expiring, Lang::ZhCn).unwrap();
        assert_eq!(body, "会话将在 1 分钟后结束，没有你无法续期。");
        let permanent = Event::RefreshFailed {
            account: "coolkit/bob".into(),
            permanent: true,
            message: "the refresh token expired".into(),
            next_attempt: None,
            reason: Some(NeedsLoginReason::RefreshTokenExpired),
        };
        let (title, body) = notification_for(&permanent, Lang::ZhCn).unwrap();
        assert!(title.contains("需要重新登录"));
        assert_eq!(body, "刷新令牌已过期");
        let (_, body) = notification_for(&permanent, Lang::En).unwrap();
        assert_eq!(body, "The refresh token expired");
        let transient = Event::RefreshFailed {
            account: "coolkit/bob".into(),
            permanent: false,
            message: "timeout".into(),
            next_attempt: None,
            reason: None,
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
