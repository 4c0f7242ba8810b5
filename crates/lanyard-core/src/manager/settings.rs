//! Settings (the warning window) and how they, with a session's lifetime, decide an account's
//! state.

use super::*;

/// The setting overriding the warning window (seconds before expiry when a session shows as
/// `expiring`).
pub const WARNING_WINDOW_SETTING: &str = "warning_window_secs";

/// Without the setting: a tenth of the session's lifetime, at most this.
const MAX_WARNING_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// `token()` renews first when the session expires within a tenth of its lifetime, at most this.
const MAX_REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

impl Manager {
    /// The `warning_window_secs` setting: how long before expiry a session shows as `expiring`
    /// (and an unattended one is announced). `None`: a tenth of each session's lifetime, at most
    /// 24 h.
    pub async fn warning_window(&self) -> Result<Option<Duration>> {
        let secs = self.db(|s| Ok(warning_setting(s))).await?;
        Ok(secs.map(|s| Duration::from_secs(s.unsigned_abs())))
    }

    /// Sets (or with `None` clears) the warning window. Keep-alive plans follow it.
    pub async fn set_warning_window(&self, window: Option<Duration>) -> Result<()> {
        let value = window.map(|d| d.as_secs().to_string());
        self.db(move |s| {
            s.set_setting(WARNING_WINDOW_SETTING, value.as_deref())?;
            s.clear_plans()
        })
        .await?;
        self.wake_keepalive();
        Ok(())
    }

    /// A row of the settings table (see `settings.rs` for the public API).
    pub(crate) async fn raw_setting(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.db(move |s| s.setting(&key)).await
    }

    pub(crate) async fn set_raw_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        let (key, value) = (key.to_owned(), value.map(str::to_owned));
        self.db(move |s| s.set_setting(&key, value.as_deref()))
            .await
    }
}

pub(super) fn warning_setting(store: &Store) -> Option<i64> {
    store
        .setting(WARNING_WINDOW_SETTING)
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok())
        .filter(|v: &i64| *v >= 0)
}

fn lifetime(info: &SessionInfo) -> Option<chrono::Duration> {
    match (info.obtained_at, info.expires_at) {
        (Some(from), Some(to)) if to > from => Some(to - from),
        _ => None,
    }
}

/// How long before expiry a session shows as `expiring`: the `warning_window_secs` setting,
/// else a tenth of its lifetime, at most 24 h.
pub(crate) fn warning_window(info: &SessionInfo, setting: Option<i64>) -> chrono::Duration {
    if let Some(secs) = setting {
        return chrono::Duration::seconds(secs);
    }
    lifetime(info).map_or(MAX_WARNING_WINDOW, |l| (l / 10).min(MAX_WARNING_WINDOW))
}

/// How long before expiry `token()` renews first: a tenth of the lifetime, at most 5 min.
pub(crate) fn refresh_margin(info: &SessionInfo) -> chrono::Duration {
    lifetime(info).map_or(MAX_REFRESH_MARGIN, |l| (l / 10).min(MAX_REFRESH_MARGIN))
}

/// The state people see, from the stored facts and the clock.
pub(crate) fn compute_state(
    row: &SessionRow,
    caps: Capabilities,
    remember_password: bool,
    awaiting: bool,
    window: Option<i64>,
    now: DateTime<Utc>,
) -> State {
    if awaiting {
        return State::AwaitingChallenge;
    }
    if row.lease_until.is_some() && !matches!(row.state, StoredState::SignedOut) {
        return State::Refreshing;
    }
    match &row.state {
        StoredState::SignedOut => State::SignedOut,
        StoredState::NeedsLogin(reason) => State::NeedsLogin {
            reason: reason.clone(),
        },
        StoredState::Retrying {
            next_attempt,
            attempts,
            last_error,
        } => State::Retrying {
            next_attempt: *next_attempt,
            attempts: *attempts,
            last_error: last_error.clone(),
        },
        StoredState::Valid => {
            let Some(info) = &row.info else {
                return State::SignedOut;
            };
            let Some(expires) = info.expires_at else {
                return State::Valid;
            };
            if now >= expires {
                let refresh_alive = caps.refresh && info.refresh_expires_at.is_none_or(|t| now < t);
                if refresh_alive || remember_password {
                    // Renewed on the next use or keep-alive round.
                    State::Expiring
                } else if caps.refresh {
                    State::NeedsLogin {
                        reason: NeedsLoginReason::RefreshTokenExpired,
                    }
                } else {
                    State::NeedsLogin {
                        reason: NeedsLoginReason::Expired,
                    }
                }
            } else if now >= expires - warning_window(info, window) {
                State::Expiring
            } else {
                State::Valid
            }
        }
    }
}
