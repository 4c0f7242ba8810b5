//! ShopXO v6.9.0 user API (`api.php`), byte-compatible with a real server where
//! its answers were recorded, and following the protocol of docs/services/shopxo.md elsewhere.
//!
//! What is modelled:
//! - Routing `/api.php?s=<controller>/<action>` (case-insensitive). `application`,
//!   `application_client_type` and `system_type` come from PHP's `$_REQUEST` (query, plus a
//!   form-encoded POST body; never a JSON body). Every other parameter comes from ThinkPHP
//!   `input()`: query merged with the POST body, form or JSON.
//! - Answers: HTTP 200, `{"msg":…,"code":…,"data":…}` encoded like PHP's `json_encode`
//!   (raw UTF-8, `\/`), `Set-Cookie: uuid=…` / `user_token_data=…` / `PHPSESSID=…` like the real
//!   server. The `-400` login guard answers like PHP's `exit(json_encode(...))`: `text/html`,
//!   `\uXXXX`-escaped, no cookies.
//! - `user/login` (username | sms | email) in the real check order, `user/reg` (username),
//!   `user/userverifyentry` (GIF captcha bound to the `uuid` param, else to the PHP session),
//!   `user/loginverifysend` (4-digit code bound to the account), `user/tokenuserinfo` (DB only),
//!   `user/center` (not guarded), `personal/index` (guarded, cache first), `base/common`.
//! - Tokens: one per (user, system_type, platform) in the "DB", plus a "cache" of every token
//!   ever issued. Re-login replaces the DB token; the old token stays valid for cache-based
//!   lookups (`personal/index`) but not for `user/tokenuserinfo`. No time-based expiry.
//!
//! Control routes: `/__sim/config`, `/__sim/captcha`, `/__sim/last-code`, `/__sim/revoke`,
//! `/__sim/expire` (ShopXO tokens never expire: same as revoke), `/__sim/password`.
//!
//! Layout: this file holds the seed data, messages, state ("DB" and "cache") and the router;
//! `php` PHP's `json_encode` and the format/hash helpers; `request` parsing, routing and
//! answering one `api.php` request; `login` login state, the image captcha and the login
//! actions; `user` the token endpoints; `control_routes` the `/__sim/*` routes.

// First: `obj!` is defined there and used by the others.
#[macro_use]
mod php;
mod control_routes;
mod login;
mod request;
mod user;

use control_routes::*;
use login::*;
use php::*;
use request::*;
use user::*;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use chrono::{DateTime, FixedOffset, TimeDelta};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::captcha;
use crate::common::{DemoUser, Shared, md5_hex, random_hex};

// ---------------------------------------------------------------------------------------------
// Seed data and constants

const SEED_USERNAME: &str = "alice01";
const SEED_PASSWORD: &str = "secret123";
const SEED_MOBILE: &str = "13800000001";
const SEED_EMAIL: &str = "alice01@example.com";
const SEED_NUMBER_CODE: &str = "88881836479381";

/// PHP session lifetime (`common_session_expire`), used for the PHPSESSID cookie.
const SESSION_SECS: i64 = 43200;
/// `security_prevent_violence_max`: checks allowed on one SMS/email code.
const CODE_MAX_CHECKS: u32 = 6;
/// Bound on remembered PHP sessions (every cookie-less request mints one, like PHP).
const MAX_SESSIONS: usize = 20_000;

const LOGIN_TYPES: [&str; 3] = ["username", "sms", "email"];

pub fn demo_users() -> Vec<DemoUser> {
    vec![DemoUser {
        service: "shopxo",
        user: SEED_USERNAME.into(),
        password: SEED_PASSWORD.into(),
        note: format!(
            "mobile {SEED_MOBILE}, {SEED_EMAIL}; login captcha ON (fresh-install default)"
        ),
    }]
}

// ---------------------------------------------------------------------------------------------
// Messages (zh from the observed server; en where the observed server showed it with lang=en)

const MSG_LOGIN_TYPE: &str = "登录类型有误";
const MSG_ACCOUNTS_EMPTY: &str = "账号不能为空";
const MSG_LOGIN_CLOSED: &str = "暂时关闭登录";
const MSG_ACCOUNT_MISSING: &str = "帐号不存在";
const MSG_MOBILE_FORMAT: &str = "手机号码格式错误";
const MSG_EMAIL_FORMAT: &str = "电子邮箱格式错误";
const MSG_MOBILE_MISSING: &str = "手机号码不存在、请先注册！";
const MSG_EMAIL_MISSING: &str = "电子邮箱不存在、请先注册！";
const MSG_PWD_FORMAT: &str = "登录密码格式6~18个字符之间";
const MSG_IMG_VERIFY_EMPTY: &str = "图片验证码不能为空";
const MSG_VERIFY_EXPIRED: &str = "验证码已过期";
const MSG_VERIFY_WRONG: &str = "验证码错误";
const MSG_PWD_WRONG: &str = "密码错误";
const MSG_LOGIN_OK: &str = "登录成功";
const MSG_NOT_LOGGED_IN: &str = "登录失效，请重新登录";
const MSG_SEND_OK: &str = "发送成功";
const MSG_SEND_TOO_OFTEN: &str = "发送失败[操作频繁，请稍后再试！]";
const MSG_SEND_UNSUPPORTED: &str = "该类型不支持验证码发送";
const MSG_SUCCESS: &str = "success";

fn english(zh: &str) -> Option<String> {
    Some(
        match zh {
            MSG_PWD_WRONG => "Password error",
            MSG_ACCOUNT_MISSING => "Account does not exist",
            MSG_PWD_FORMAT => "Login password format is between 6 and 18 characters",
            MSG_ACCOUNTS_EMPTY => "Account cannot be empty",
            MSG_LOGIN_TYPE => "Wrong login type",
            MSG_IMG_VERIFY_EMPTY => "The picture verification code cannot be empty",
            MSG_VERIFY_EXPIRED => "The verification code has expired",
            MSG_VERIFY_WRONG => "Verification code error",
            MSG_NOT_LOGGED_IN => "Login Failed, please login again",
            _ => {
                let name = zh.strip_prefix("用户已存在[")?.strip_suffix(']')?;
                return Some(format!("User already exists[{name}]"));
            }
        }
        .to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// State

/// Switches posted to `/__sim/config`.
#[derive(Debug, Clone, Serialize)]
struct Config {
    /// `home_user_login_img_verify_state`
    login_captcha: bool,
    /// `common_img_verify_state` (captcha before sending an SMS/email code)
    common_captcha: bool,
    /// `home_user_register_img_verify_state` (extra switch, not in the contract)
    register_captcha: bool,
    /// A hostile server: the captcha comes as an SVG with a script in it (Lanyard must refuse
    /// it). Not something a real ShopXO does.
    svg_captcha: bool,
    /// `home_user_login_type`
    login_types: Vec<String>,
    /// `common_verify_interval_time`
    verify_interval_secs: u32,
    /// `common_verify_expire_time`
    verify_expire_secs: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            login_captcha: true,
            common_captcha: true,
            register_captcha: true,
            svg_captcha: false,
            login_types: vec!["username".into(), "email".into(), "sms".into()],
            verify_interval_secs: 60,
            verify_expire_secs: 600,
        }
    }
}

use crate::wire::ShopxoConfigPatch as ConfigPatch;

#[derive(Debug, Clone)]
struct User {
    id: u64,
    number_code: String,
    username: String,
    nickname: String,
    mobile: String,
    email: String,
    gender: i64,
    avatar: String,
    salt: String,
    /// `md5(salt . trim(pwd))`; empty = no password set.
    pwd: String,
    add_time: i64,
    upd_time: i64,
}

impl User {
    fn set_password(&mut self, pwd: &str) {
        self.salt = number_code(6);
        self.pwd = pwd_hash(pwd, &self.salt);
    }
}

/// A row of `sxo_user_platform`: the current token of one (user, system_type, platform).
#[derive(Debug, Clone)]
struct Platform {
    user_id: u64,
    system_type: String,
    platform: String,
    token: String,
}

/// `cache_user_info_{token}`: written at every login, never deleted (until a cache clear).
#[derive(Debug, Clone)]
struct Cached {
    user_id: u64,
    system_type: String,
    platform: String,
}

#[derive(Debug, Clone)]
struct ImageCaptcha {
    answer: String,
    time: i64,
}

#[derive(Debug, Clone)]
struct SentCode {
    code: String,
    time: i64,
    checks: u32,
}

#[derive(Debug, Clone)]
struct LastCode {
    accounts: String,
    code: String,
    seq: u64,
}

#[derive(Debug, Clone, Default)]
struct Session {
    uuid: String,
    /// Web-mode login (`application` != `app`).
    user_id: Option<u64>,
    seen: i64,
}

#[derive(Default)]
struct Db {
    cfg: Config,
    users: Vec<User>,
    platforms: Vec<Platform>,
    cache: HashMap<String, Cached>,
    /// `"{type}_verify_code" + md5(uid)` → answer; keyed (type, uid).
    captchas: HashMap<(String, String), ImageCaptcha>,
    last_captcha: Option<(String, String)>,
    /// `"user_login_" + md5(accounts) + "_{sms|email}_code"`; keyed (channel, accounts).
    codes: HashMap<(String, String), SentCode>,
    last_codes: Vec<LastCode>,
    sessions: HashMap<String, Session>,
    seq: u64,
}

impl Db {
    fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }
    fn user_mut(&mut self, id: u64) -> Option<&mut User> {
        self.users.iter_mut().find(|u| u.id == id)
    }
    /// Login lookup: `username|mobile|email`, or one field.
    fn find_account(&self, field: &str, accounts: &str) -> Option<u64> {
        self.users
            .iter()
            .find(|u| match field {
                "mobile" => u.mobile == accounts,
                "email" => u.email == accounts,
                "username" => u.username == accounts,
                _ => u.username == accounts || u.mobile == accounts || u.email == accounts,
            })
            .map(|u| u.id)
    }
    fn platform(&self, user_id: u64, system_type: &str, platform: &str) -> Option<&Platform> {
        self.platforms.iter().find(|p| {
            p.user_id == user_id && p.system_type == system_type && p.platform == platform
        })
    }
    fn platform_by_token(&self, token: &str) -> Option<&Platform> {
        self.platforms.iter().find(|p| p.token == token)
    }

    /// `UserTokenUpdate`: a new token for (user, system_type, platform), in DB and cache.
    fn new_token(&mut self, user_id: u64, system_type: &str, platform: &str, now: i64) -> String {
        let token = make_token(user_id, system_type, platform, now);
        match self.platforms.iter_mut().find(|p| {
            p.user_id == user_id && p.system_type == system_type && p.platform == platform
        }) {
            Some(p) => p.token = token.clone(),
            None => self.platforms.push(Platform {
                user_id,
                system_type: system_type.into(),
                platform: platform.into(),
                token: token.clone(),
            }),
        }
        self.cache.insert(
            token.clone(),
            Cached {
                user_id,
                system_type: system_type.into(),
                platform: platform.into(),
            },
        );
        token
    }

    /// "Cache cleared + token replaced" for one user: every token they had stops working.
    fn revoke(&mut self, user_id: u64, now: i64) {
        self.cache.retain(|_, c| c.user_id != user_id);
        let rows: Vec<(String, String)> = self
            .platforms
            .iter()
            .filter(|p| p.user_id == user_id)
            .map(|p| (p.system_type.clone(), p.platform.clone()))
            .collect();
        for (st, pf) in rows {
            let token = make_token(user_id, &st, &pf, now);
            if let Some(p) = self
                .platforms
                .iter_mut()
                .find(|p| p.user_id == user_id && p.system_type == st && p.platform == pf)
            {
                p.token = token;
            }
        }
        for s in self.sessions.values_mut() {
            if s.user_id == Some(user_id) {
                s.user_id = None;
            }
        }
    }

    fn prune_sessions(&mut self, now: i64) {
        if self.sessions.len() > MAX_SESSIONS {
            self.sessions.retain(|_, s| s.seen + SESSION_SECS > now);
            if self.sessions.len() > MAX_SESSIONS {
                self.sessions.retain(|_, s| s.user_id.is_some());
            }
        }
    }
}

struct Sx {
    shared: Shared,
    db: Mutex<Db>,
}

impl Sx {
    fn db(&self) -> MutexGuard<'_, Db> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn router(shared: Shared) -> Router {
    let now = shared.clock.unix();
    let mut alice = User {
        id: 1,
        number_code: SEED_NUMBER_CODE.into(),
        username: SEED_USERNAME.into(),
        nickname: String::new(),
        mobile: SEED_MOBILE.into(),
        email: SEED_EMAIL.into(),
        gender: 0,
        avatar: String::new(),
        salt: String::new(),
        pwd: String::new(),
        add_time: now,
        upd_time: now,
    };
    alice.set_password(SEED_PASSWORD);
    let db = Db {
        users: vec![alice],
        ..Db::default()
    };
    let sx = Arc::new(Sx {
        shared,
        db: Mutex::new(db),
    });
    Router::new()
        .route("/api.php", any(api))
        .route("/__sim/config", crate::switches::config_route())
        .route("/__sim/captcha", get(sim_captcha))
        .route("/__sim/last-code", get(sim_last_code))
        .route("/__sim/revoke", post(sim_revoke))
        .route("/__sim/expire", post(sim_revoke))
        .route("/__sim/password", post(sim_password))
        .with_state(sx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_json_escapes_like_php() {
        let v = ret("登录失效，请重新登录", -400, Php::from(""));
        assert_eq!(
            v.encode(true),
            r#"{"msg":"\u767b\u5f55\u5931\u6548\uff0c\u8bf7\u91cd\u65b0\u767b\u5f55","code":-400,"data":""}"#
        );
        assert_eq!(
            Php::from("a/b \"q\" 😀").encode(true),
            r#""a\/b \"q\" \ud83d\ude00""#
        );
        assert_eq!(Php::from("退款/售后").encode(false), r#""退款\/售后""#);
    }

    #[test]
    fn formats() {
        assert!(check_mobile("13800000001"));
        assert!(!check_mobile("12800000001"));
        assert!(!check_mobile("1380000000"));
        assert!(check_email("alice01@example.com"));
        assert!(!check_email("alice01@example"));
        assert!(!check_email("alice01example.com"));
        assert!(check_login_pwd("secret123"));
        assert!(!check_login_pwd("abc"));
        assert!(!check_login_pwd("0123456789012345678"));
        assert!(check_username("alice01"));
        assert!(!check_username("a"));
        assert_eq!(urldecode("a+b%2Fc%"), "a b/c%");
        assert_eq!(rawurlencode("a b/\"保"), "a%20b%2F%22%E4%BF%9D");
        assert_eq!(date_text(1795287527), "2026-11-22 02:58:47");
    }

    #[test]
    fn token_shape() {
        let t = make_token(1, "default", "h5", 1_795_287_527);
        assert_eq!(t.len(), 32);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
