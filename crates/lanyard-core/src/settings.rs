//! The person's preferences, kept in the settings table of the metadata database (never a
//! secret): the keep-alive warning window the engine reads, and the desktop app's own choices
//! (clipboard clearing, launch at login, language, theme).
//!
//! [`Manager::settings`] reads them all (defaults for anything unset or unreadable);
//! [`Manager::set_settings`] validates a whole [`Settings`] and stores what changed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::manager::{Manager, WARNING_WINDOW_SETTING};

/// Seconds after a copy when the clipboard is cleared (if it still holds the token).
pub const DEFAULT_CLIPBOARD_CLEAR_SECS: u64 = 30;
/// The longest clipboard delay accepted: a token should not sit in the clipboard for longer.
pub const MAX_CLIPBOARD_CLEAR_SECS: u64 = 60 * 60;
/// The longest warning window accepted (30 days).
pub const MAX_WARNING_WINDOW_SECS: u64 = 30 * 24 * 60 * 60;

const CLIPBOARD_CLEAR: &str = "desktop.clipboard_clear_secs";
const LAUNCH_AT_LOGIN: &str = "desktop.launch_at_login";
const LANGUAGE: &str = "desktop.language";
const THEME: &str = "desktop.theme";
const CLOSE_NOTICE_SHOWN: &str = "desktop.close_to_tray_notice_shown";

/// The UI language: the system's, or a fixed one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub enum Language {
    #[default]
    #[serde(rename = "system")]
    System,
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

/// The UI theme: the system's, or a fixed one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// Everything the settings screen shows. The desktop IPC contract (docs/desktop-ipc.md) is this
/// shape, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// 0 = never clear.
    pub clipboard_clear_secs: u64,
    /// `None` = automatic (a tenth of each session's lifetime, at most 24 h).
    pub warning_window_secs: Option<u64>,
    pub launch_at_login: bool,
    pub language: Language,
    pub theme: Theme,
    /// Whether the person was told once that closing the window keeps Lanyard in the tray.
    pub close_to_tray_notice_shown: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            clipboard_clear_secs: DEFAULT_CLIPBOARD_CLEAR_SECS,
            warning_window_secs: None,
            launch_at_login: false,
            language: Language::System,
            theme: Theme::System,
            close_to_tray_notice_shown: false,
        }
    }
}

impl Settings {
    /// Refuses values no one means (a token left in the clipboard for a day, a warning window
    /// of a year).
    pub fn validate(&self) -> Result<()> {
        if self.clipboard_clear_secs > MAX_CLIPBOARD_CLEAR_SECS {
            return Err(Error::invalid_input(format!(
                "the clipboard is cleared after at most {MAX_CLIPBOARD_CLEAR_SECS} seconds (0 = never)"
            )));
        }
        if let Some(secs) = self.warning_window_secs
            && !(1..=MAX_WARNING_WINDOW_SECS).contains(&secs)
        {
            return Err(Error::invalid_input(format!(
                "the warning window must be between 1 and {MAX_WARNING_WINDOW_SECS} seconds, or automatic"
            )));
        }
        Ok(())
    }
}

fn as_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn from_text<T: for<'de> Deserialize<'de>>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .ok()
        .or_else(|| serde_json::from_str(text).ok())
}

impl Manager {
    /// The stored settings; anything unset or unreadable has its default.
    pub async fn settings(&self) -> Result<Settings> {
        let defaults = Settings::default();
        let read = |key: &'static str| async move { self.setting(key).await };
        Ok(Settings {
            clipboard_clear_secs: read(CLIPBOARD_CLEAR)
                .await?
                .and_then(|v| v.trim().parse().ok())
                .filter(|v| *v <= MAX_CLIPBOARD_CLEAR_SECS)
                .unwrap_or(defaults.clipboard_clear_secs),
            warning_window_secs: self.warning_window().await?.map(|d| d.as_secs()),
            launch_at_login: read(LAUNCH_AT_LOGIN)
                .await?
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(defaults.launch_at_login),
            language: read(LANGUAGE)
                .await?
                .and_then(|v| from_text(&v))
                .unwrap_or(defaults.language),
            theme: read(THEME)
                .await?
                .and_then(|v| from_text(&v))
                .unwrap_or(defaults.theme),
            close_to_tray_notice_shown: read(CLOSE_NOTICE_SHOWN)
                .await?
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(defaults.close_to_tray_notice_shown),
        })
    }

    /// Validates and stores the settings (only what changed), and returns them as stored.
    /// A new warning window re-plans the keep-alive engine's checks.
    pub async fn set_settings(&self, new: Settings) -> Result<Settings> {
        new.validate()?;
        let old = self.settings().await?;
        if old.warning_window_secs != new.warning_window_secs {
            self.set_warning_window(new.warning_window_secs.map(Duration::from_secs))
                .await?;
        }
        let pairs: [(&str, String, String); 5] = [
            (
                CLIPBOARD_CLEAR,
                old.clipboard_clear_secs.to_string(),
                new.clipboard_clear_secs.to_string(),
            ),
            (
                LAUNCH_AT_LOGIN,
                old.launch_at_login.to_string(),
                new.launch_at_login.to_string(),
            ),
            (LANGUAGE, as_text(&old.language), as_text(&new.language)),
            (THEME, as_text(&old.theme), as_text(&new.theme)),
            (
                CLOSE_NOTICE_SHOWN,
                old.close_to_tray_notice_shown.to_string(),
                new.close_to_tray_notice_shown.to_string(),
            ),
        ];
        for (key, before, after) in pairs {
            if before != after {
                self.set_setting(key, Some(&after)).await?;
            }
        }
        self.settings().await
    }

    /// A plain setting of the settings table, e.g. a desktop preference. Never a secret.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        self.raw_setting(key).await
    }

    /// Sets (or with `None` removes) a plain setting. The warning window has its own setter
    /// ([`Manager::set_warning_window`]), which also re-plans the keep-alive checks.
    pub async fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        if key == WARNING_WINDOW_SETTING {
            return Err(Error::invalid_input(
                "the warning window is set with set_warning_window",
            ));
        }
        self.set_raw_setting(key, value).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpConfig;
    use crate::secrets::Secrets;

    fn manager(dir: &tempfile::TempDir) -> Manager {
        Manager::with_parts(
            &dir.path().join("lanyard.db"),
            Secrets::memory(),
            HttpConfig::default(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn defaults_until_something_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let m = manager(&dir);
        let s = m.settings().await.unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.clipboard_clear_secs, 30);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "clipboard_clear_secs": 30,
                "warning_window_secs": null,
                "launch_at_login": false,
                "language": "system",
                "theme": "system",
                "close_to_tray_notice_shown": false,
            })
        );
    }

    #[tokio::test]
    async fn settings_round_trip_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = Settings {
            clipboard_clear_secs: 0,
            warning_window_secs: Some(600),
            launch_at_login: true,
            language: Language::ZhCn,
            theme: Theme::Dark,
            close_to_tray_notice_shown: true,
        };
        {
            let m = manager(&dir);
            assert_eq!(m.set_settings(wanted.clone()).await.unwrap(), wanted);
            assert_eq!(
                m.warning_window().await.unwrap(),
                Some(Duration::from_secs(600))
            );
        }
        let m = manager(&dir);
        assert_eq!(m.settings().await.unwrap(), wanted);
        let json = serde_json::to_value(m.settings().await.unwrap()).unwrap();
        assert_eq!(json["language"], "zh-CN");
        assert_eq!(json["theme"], "dark");
        // Back to automatic.
        let auto = Settings {
            warning_window_secs: None,
            ..wanted
        };
        assert_eq!(
            m.set_settings(auto).await.unwrap().warning_window_secs,
            None
        );
        assert_eq!(m.warning_window().await.unwrap(), None);
    }

    #[tokio::test]
    async fn out_of_range_values_are_refused_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let m = manager(&dir);
        for bad in [
            Settings {
                clipboard_clear_secs: MAX_CLIPBOARD_CLEAR_SECS + 1,
                ..Settings::default()
            },
            Settings {
                warning_window_secs: Some(0),
                ..Settings::default()
            },
            Settings {
                warning_window_secs: Some(MAX_WARNING_WINDOW_SECS + 1),
                ..Settings::default()
            },
        ] {
            let e = m.set_settings(bad).await.unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidInput, "{}", e.message);
        }
        assert_eq!(m.settings().await.unwrap(), Settings::default());
        let e = serde_json::from_value::<Settings>(serde_json::json!({
            "clipboard_clear_secs": 30, "warning_window_secs": null, "launch_at_login": false,
            "language": "fr", "theme": "system", "close_to_tray_notice_shown": false,
        }));
        assert!(e.is_err(), "an unknown language is refused when parsed");
    }

    #[tokio::test]
    async fn the_warning_window_is_not_a_plain_setting() {
        let dir = tempfile::tempdir().unwrap();
        let m = manager(&dir);
        let e = m
            .set_setting(WARNING_WINDOW_SETTING, Some("10"))
            .await
            .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidInput);
        m.set_setting("desktop.something", Some("x")).await.unwrap();
        assert_eq!(
            m.setting("desktop.something").await.unwrap().as_deref(),
            Some("x")
        );
        m.set_setting("desktop.something", None).await.unwrap();
        assert_eq!(m.setting("desktop.something").await.unwrap(), None);
    }
}
