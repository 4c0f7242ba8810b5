//! The few words the backend shows itself (tray menu, notifications), in the UI's languages.

use lanyard_core::model::NeedsLoginReason;
use lanyard_core::settings::Language;
use tauri::{AppHandle, Manager as _, Runtime};

use crate::state::AppState;

/// The language of the backend's own words: the setting, else the system locale.
pub fn lang_for(setting: Language) -> Lang {
    Lang::from_setting(setting, sys_locale::get_locale().as_deref())
}

/// The language the settings ask for now (the system's without a Manager).
pub async fn lang_of<R: Runtime>(app: &AppHandle<R>) -> Lang {
    let setting = match app.try_state::<AppState>().map(|s| s.manager()) {
        Some(Ok(m)) => m.settings().await.map(|s| s.language).unwrap_or_default(),
        _ => Language::System,
    };
    lang_for(setting)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

impl Lang {
    /// The setting, or for `system` the operating system's locale.
    pub fn from_setting(setting: Language, system_locale: Option<&str>) -> Lang {
        match setting {
            Language::En => Lang::En,
            Language::ZhCn => Lang::ZhCn,
            Language::System => match system_locale {
                Some(tag) if tag.to_ascii_lowercase().starts_with("zh") => Lang::ZhCn,
                _ => Lang::En,
            },
        }
    }

    pub fn open_lanyard(self) -> &'static str {
        match self {
            Lang::En => "Open Lanyard",
            Lang::ZhCn => "打开 Lanyard",
        }
    }

    pub fn quit(self) -> &'static str {
        match self {
            Lang::En => "Quit",
            Lang::ZhCn => "退出",
        }
    }

    pub fn no_active_accounts(self) -> &'static str {
        match self {
            Lang::En => "No active accounts",
            Lang::ZhCn => "没有活动账号",
        }
    }

    /// A tray entry: clicking it copies the account's token.
    pub fn copy_entry(self, service: &str, user: &str, needs_login: bool) -> String {
        match (self, needs_login) {
            (Lang::En, false) => format!("{service}: {user} — copy token"),
            (Lang::En, true) => format!("{service}: {user} — needs login"),
            (Lang::ZhCn, false) => format!("{service}：{user} — 复制令牌"),
            (Lang::ZhCn, true) => format!("{service}：{user} — 需要登录"),
        }
    }

    pub fn tray_tooltip(self) -> &'static str {
        match self {
            Lang::En => "Lanyard keeps your sessions alive",
            Lang::ZhCn => "Lanyard 正在保持你的会话",
        }
    }

    pub fn close_notice_title(self) -> &'static str {
        match self {
            Lang::En => "Lanyard is still running",
            Lang::ZhCn => "Lanyard 仍在运行",
        }
    }

    pub fn close_notice_body(self) -> &'static str {
        match self {
            Lang::En => {
                "Lanyard keeps your sessions alive in the tray. Choose Quit in the tray menu to stop it."
            }
            Lang::ZhCn => "Lanyard 在托盘中继续保持你的会话。要退出，请在托盘菜单中选择“退出”。",
        }
    }

    pub fn expiring_title(self, account: &str) -> String {
        match self {
            Lang::En => format!("{account} will need you soon"),
            Lang::ZhCn => format!("{account} 即将需要重新登录"),
        }
    }

    /// An unattended session's end, `remaining_secs` from now.
    pub fn expiring_body(self, remaining_secs: i64) -> String {
        let minutes = (remaining_secs.max(0) + 59) / 60;
        let (hours, mins) = (minutes / 60, minutes % 60);
        match self {
            Lang::En => {
                let span = match (hours, mins) {
                    (0, m) => format!("{m} min"),
                    (h, 0) => format!("{h} h"),
                    (h, m) => format!("{h} h {m} min"),
                };
                format!("The session ends in {span} and cannot be renewed without you.")
            }
            Lang::ZhCn => {
                let span = match (hours, mins) {
                    (0, m) => format!("{m} 分钟"),
                    (h, 0) => format!("{h} 小时"),
                    (h, m) => format!("{h} 小时 {m} 分钟"),
                };
                format!("会话将在 {span}后结束，没有你无法续期。")
            }
        }
    }

    /// Why a person must log in again (the window's `reason.*` texts).
    pub fn needs_login_reason(self, reason: &NeedsLoginReason) -> &'static str {
        use NeedsLoginReason as R;
        match (self, reason) {
            (Lang::En, R::Expired) => "The session expired",
            (Lang::En, R::Revoked) => "The server no longer accepts the token",
            (Lang::En, R::RefreshTokenExpired) => "The refresh token expired",
            (Lang::En, R::PasswordChanged) => "The remembered password was rejected",
            (Lang::En, R::LoggedInElsewhere) => "Signed in elsewhere",
            (Lang::En, R::ChallengeRequired) => "The service asks for a captcha or a code",
            (Lang::En, R::NoRememberedPassword) => "No password remembered for a silent sign-in",
            (Lang::ZhCn, R::Expired) => "会话已过期",
            (Lang::ZhCn, R::Revoked) => "服务器已不再接受该令牌",
            (Lang::ZhCn, R::RefreshTokenExpired) => "刷新令牌已过期",
            (Lang::ZhCn, R::PasswordChanged) => "已保存的密码被拒绝",
            (Lang::ZhCn, R::LoggedInElsewhere) => "账号已在别处登录",
            (Lang::ZhCn, R::ChallengeRequired) => "服务要求输入验证码",
            (Lang::ZhCn, R::NoRememberedPassword) => "未保存密码，无法自动重新登录",
        }
    }

    pub fn needs_login_title(self, account: &str) -> String {
        match self {
            Lang::En => format!("{account} needs a new login"),
            Lang::ZhCn => format!("{account} 需要重新登录"),
        }
    }

    pub fn copied_title(self) -> &'static str {
        match self {
            Lang::En => "Token copied",
            Lang::ZhCn => "令牌已复制",
        }
    }

    pub fn copied_body(self, account: &str, clear_after_secs: u64) -> String {
        match (self, clear_after_secs) {
            (Lang::En, 0) => format!("The token of {account} is on the clipboard."),
            (Lang::En, secs) => {
                format!("The token of {account} is on the clipboard; it is cleared in {secs} s.")
            }
            (Lang::ZhCn, 0) => format!("{account} 的令牌已复制到剪贴板。"),
            (Lang::ZhCn, secs) => format!("{account} 的令牌已复制到剪贴板，{secs} 秒后清除。"),
        }
    }

    pub fn copy_failed_title(self, account: &str) -> String {
        match self {
            Lang::En => format!("Could not copy the token of {account}"),
            Lang::ZhCn => format!("无法复制 {account} 的令牌"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_follows_the_locale() {
        assert_eq!(
            Lang::from_setting(Language::System, Some("zh-CN")),
            Lang::ZhCn
        );
        assert_eq!(
            Lang::from_setting(Language::System, Some("zh_CN.UTF-8")),
            Lang::ZhCn
        );
        assert_eq!(
            Lang::from_setting(Language::System, Some("de-DE")),
            Lang::En
        );
        assert_eq!(Lang::from_setting(Language::System, None), Lang::En);
        assert_eq!(Lang::from_setting(Language::En, Some("zh-CN")), Lang::En);
        assert_eq!(Lang::from_setting(Language::ZhCn, None), Lang::ZhCn);
    }
}
