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
// PHP json_encode

/// A value with PHP's key order, encoded like `json_encode`.
#[derive(Debug, Clone, PartialEq)]
enum Php {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Php>),
    Obj(Vec<(String, Php)>),
}

impl From<&str> for Php {
    fn from(s: &str) -> Self {
        Php::Str(s.to_owned())
    }
}
impl From<String> for Php {
    fn from(s: String) -> Self {
        Php::Str(s)
    }
}
impl From<&String> for Php {
    fn from(s: &String) -> Self {
        Php::Str(s.clone())
    }
}
impl From<i64> for Php {
    fn from(n: i64) -> Self {
        Php::Int(n)
    }
}
impl From<i32> for Php {
    fn from(n: i32) -> Self {
        Php::Int(n.into())
    }
}
impl From<u64> for Php {
    fn from(n: u64) -> Self {
        Php::Int(n as i64)
    }
}
impl From<bool> for Php {
    fn from(b: bool) -> Self {
        Php::Bool(b)
    }
}
impl From<Vec<Php>> for Php {
    fn from(v: Vec<Php>) -> Self {
        Php::List(v)
    }
}

macro_rules! obj {
    ($($k:expr => $v:expr),* $(,)?) => {
        Php::Obj(vec![$(($k.to_string(), Php::from($v))),*])
    };
}

impl Php {
    /// `json_encode($v, JSON_UNESCAPED_UNICODE)` (ThinkPHP's `json()`) when `ascii` is false,
    /// plain `json_encode($v)` (`\uXXXX` for every non-ASCII character) when true.
    fn encode(&self, ascii: bool) -> String {
        let mut out = String::new();
        self.write(&mut out, ascii);
        out
    }

    fn write(&self, out: &mut String, ascii: bool) {
        match self {
            Php::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Php::Int(n) => out.push_str(&n.to_string()),
            Php::Str(s) => write_php_str(out, s, ascii),
            Php::List(v) => {
                out.push('[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write(out, ascii);
                }
                out.push(']');
            }
            Php::Obj(kv) => {
                out.push('{');
                for (i, (k, x)) in kv.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_php_str(out, k, ascii);
                    out.push(':');
                    x.write(out, ascii);
                }
                out.push('}');
            }
        }
    }
}

fn write_php_str(out: &mut String, s: &str, ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            // PHP escapes these two even with JSON_UNESCAPED_UNICODE.
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ascii && !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `DataReturn($msg, $code, $data)`.
fn ret(msg: impl Into<String>, code: i64, data: Php) -> Php {
    obj! { "msg" => msg.into(), "code" => code, "data" => data }
}
fn fail(msg: impl Into<String>, code: i64) -> Php {
    ret(msg, code, Php::from(""))
}

/// PHP's `empty()` on a request string.
fn php_empty(s: &str) -> bool {
    s.is_empty() || s == "0"
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    login_captcha: Option<bool>,
    common_captcha: Option<bool>,
    register_captcha: Option<bool>,
    svg_captcha: Option<bool>,
    login_types: Option<Vec<String>>,
    verify_interval_secs: Option<u32>,
    verify_expire_secs: Option<u32>,
}

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
        .route("/__sim/config", get(config_get).post(config_post))
        .route("/__sim/captcha", get(sim_captcha))
        .route("/__sim/last-code", get(sim_last_code))
        .route("/__sim/revoke", post(sim_revoke))
        .route("/__sim/expire", post(sim_revoke))
        .route("/__sim/password", post(sim_password))
        .with_state(sx)
}

// ---------------------------------------------------------------------------------------------
// Helpers: hashing, tokens, formats

/// `GetNumberCode(n)`: n digits, each 1–9 (ShopXO's `rand(1, 9)`).
fn number_code(n: usize) -> String {
    captcha::random_answer("123456789", n)
}

/// `LoginPwdEncryption`: `md5(salt . trim(pwd))`.
fn pwd_hash(pwd: &str, salt: &str) -> String {
    let trimmed = pwd.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B']);
    md5_hex(format!("{salt}{trimmed}"))
}

/// `ApiService::CreatedUserToken` with the default rules `2,3,4`.
fn make_token(user_id: u64, system_type: &str, platform: &str, now: i64) -> String {
    let parts = format!("{platform}{system_type}{now}{}", number_code(6));
    md5_hex(format!(
        "{}{}",
        md5_hex(md5_hex(parts)),
        md5_hex(user_id.to_string())
    ))
}

/// `^1((3|4|5|6|7|8|9){1}\d{1})\d{8}$`
fn check_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// ShopXO's `common_regex_email`: `^[_\.0-9a-zA-Z-]+@([0-9a-zA-Z][0-9a-zA-Z-]+\.)+[a-zA-Z]{2,6}$`.
fn check_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    let tld_ok = (2..=6).contains(&tld.len()) && tld.chars().all(|c| c.is_ascii_alphabetic());
    let rest_ok = !rest.is_empty()
        && rest.iter().all(|l| {
            l.len() >= 2
                && l.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && tld_ok && rest_ok
}

/// `CheckLoginPwd`: `^.{6,18}$` without the `u` flag, so bytes; `.` does not match `\n`.
fn check_login_pwd(s: &str) -> bool {
    let s = s.strip_suffix('\n').unwrap_or(s);
    (6..=18).contains(&s.len()) && !s.contains('\n')
}

/// `CheckUserName`: `^[A-Za-z0-9_]{2,18}$`.
fn check_username(s: &str) -> bool {
    (2..=18).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `date('Y-m-d H:i:s')` in the server's zone (Asia/Shanghai, as the observed server).
fn date_text(ts: i64) -> String {
    let tz = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A UUID-looking id like ShopXO's `UUId()` (8-4-4-4-12 lowercase hex).
fn new_uuid() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// PHP `rawurlencode`, as `setcookie()` encodes values.
fn rawurlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// PHP `parse_str` / `$_GET` decoding of one component (`+` is a space).
fn urldecode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len()
                && b[i + 1].is_ascii_hexdigit()
                && b[i + 2].is_ascii_hexdigit() =>
            {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (urldecode(k), urldecode(v)),
            None => (urldecode(p), String::new()),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Requests

struct Req {
    controller: String,
    action: String,
    /// PHP `$_REQUEST`: query + form-encoded POST fields.
    request: HashMap<String, String>,
    /// ThinkPHP `input()`: query + POST body (form or JSON).
    input: HashMap<String, String>,
    cookies: HashMap<String, String>,
    /// `http://host:port`, for avatar URLs.
    base_url: String,
}

impl Req {
    fn parse(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Req {
        let query = parse_query(uri.query().unwrap_or(""));
        let mut request: HashMap<String, String> = HashMap::new();
        let mut input: HashMap<String, String> = HashMap::new();
        let mut s = String::new();
        for (k, v) in &query {
            if k == "s" {
                s = v.clone();
            }
            request.insert(k.clone(), v.clone());
            input.insert(k.clone(), v.clone());
        }
        let ctype = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let has_body = matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        );
        if has_body && ctype.starts_with("application/x-www-form-urlencoded") {
            for (k, v) in parse_query(&String::from_utf8_lossy(body)) {
                if *method == Method::POST {
                    request.insert(k.clone(), v.clone());
                }
                input.insert(k, v);
            }
        } else if has_body
            && ctype.contains("json")
            && let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body)
        {
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(true) => "1".into(),
                    Value::Bool(false) | Value::Null => String::new(),
                    _ => continue,
                };
                input.insert(k, v);
            }
        }
        let cookies = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                Some((k.to_owned(), urldecode(v)))
            })
            .collect();
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        // `s=user/login`, `/user/login`, `user/login.html` → ("user", "login").
        let s = s.trim_matches('/');
        let s = s.strip_suffix(".html").unwrap_or(s);
        let mut seg = s.split('/');
        let controller = seg
            .next()
            .filter(|c| !c.is_empty())
            .unwrap_or("index")
            .to_ascii_lowercase();
        let action = seg
            .next()
            .filter(|a| !a.is_empty())
            .unwrap_or("index")
            .to_ascii_lowercase();
        Req {
            controller,
            action,
            request,
            input,
            cookies,
            base_url: format!("http://{host}"),
        }
    }

    /// An `input()` parameter ("" when absent).
    fn param(&self, k: &str) -> &str {
        self.input.get(k).map(String::as_str).unwrap_or("")
    }
    fn request_or(&self, k: &str, default: &'static str) -> String {
        match self.request.get(k) {
            Some(v) if !v.is_empty() => v.clone(),
            _ => default.to_owned(),
        }
    }
    /// `APPLICATION == 'app'`
    fn is_app(&self) -> bool {
        self.request.get("application").map(String::as_str) == Some("app")
    }
    /// `APPLICATION_CLIENT_TYPE`
    fn client_type(&self) -> String {
        self.request_or("application_client_type", "pc")
    }
    /// `SYSTEM_TYPE`
    fn system_type(&self) -> String {
        self.request_or("system_type", "default")
    }
    fn msg(&self, zh: &str) -> String {
        if self.param("lang") == "en" {
            english(zh).unwrap_or_else(|| zh.to_owned())
        } else {
            zh.to_owned()
        }
    }
    fn fail(&self, zh: &str, code: i64) -> Php {
        fail(self.msg(zh), code)
    }
}

/// Per-request PHP state set up by `SystemService::BaseInit`.
struct Ctx {
    now: i64,
    sessid: String,
    uuid: String,
    /// Cookies an action sets (between `user_token_data` and `PHPSESSID`).
    extra_cookies: Vec<String>,
}

enum Answer {
    /// `ApiDataReturn`: `application/json`, raw UTF-8, cookies.
    Json(Php),
    /// `IsLogin()`'s `exit(json_encode(...))`: `text/html`, ASCII-escaped, no cookies.
    Guard(Php),
    /// The captcha GIF, served (like the real server) as `text/html; charset=utf-8`.
    Gif(Vec<u8>),
    /// The `svg_captcha` switch: an SVG captcha with a script, as `image/svg+xml`.
    Svg(String),
}

/// Who is logged in for this request, and through which token.
#[derive(Debug, Clone)]
struct Auth {
    user_id: u64,
    token: String,
    system_type: String,
    platform: String,
}

// ---------------------------------------------------------------------------------------------
// The api.php entry point

async fn api(
    State(sx): State<Arc<Sx>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = Req::parse(&method, &uri, &headers, &body);
    sx.shared
        .stats
        .hit(&format!("shopxo.{}.{}", req.controller, req.action));
    let now = sx.shared.clock.unix();
    let mut db = sx.db();
    let mut ctx = base_init(&mut db, &req, now);
    let answer = dispatch(&mut db, &req, &mut ctx);
    drop(db);
    respond(&req, &ctx, answer)
}

/// `SystemService::BaseInit`: PHP session and the client `uuid`.
fn base_init(db: &mut Db, req: &Req, now: i64) -> Ctx {
    db.prune_sessions(now);
    let sessid = req
        .cookies
        .get("PHPSESSID")
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_alphanumeric()))
        .cloned()
        .unwrap_or_else(|| random_hex(16));
    let session = db.sessions.entry(sessid.clone()).or_default();
    session.seen = now;
    // The plain `uuid` cookie is ignored: the server reads it back through a decrypting
    // cookie helper, so it never matches (observed).
    let uuid = match req.param("uuid") {
        u if !u.is_empty() => u.to_owned(),
        _ if !session.uuid.is_empty() => session.uuid.clone(),
        _ => new_uuid(),
    };
    session.uuid = uuid.clone();
    Ctx {
        now,
        sessid,
        uuid,
        extra_cookies: Vec::new(),
    }
}

fn respond(req: &Req, ctx: &Ctx, answer: Answer) -> Response {
    let (ctype, body, cookies) = match answer {
        Answer::Guard(v) => (
            "text/html; charset=UTF-8",
            v.encode(true).into_bytes(),
            false,
        ),
        Answer::Json(v) => (
            "application/json; charset=utf-8",
            v.encode(false).into_bytes(),
            true,
        ),
        Answer::Gif(b) => ("text/html; charset=utf-8", b, true),
        Answer::Svg(svg) => ("image/svg+xml", svg.into_bytes(), true),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if cookies {
        let mut set = vec![format!("uuid={}; path=/", rawurlencode(&ctx.uuid))];
        let token = req.param("token");
        if !token.is_empty() {
            set.push(format!("user_token_data={}; path=/", rawurlencode(token)));
        }
        set.extend(ctx.extra_cookies.iter().cloned());
        let expires = DateTime::from_timestamp(ctx.now, 0).unwrap_or_default()
            + TimeDelta::seconds(SESSION_SECS);
        set.push(format!(
            "PHPSESSID={}; expires={}; Max-Age={SESSION_SECS}; path=/",
            ctx.sessid,
            expires.format("%a, %d %b %Y %H:%M:%S GMT")
        ));
        for c in set {
            if let Ok(v) = HeaderValue::from_str(&c) {
                h.append(header::SET_COOKIE, v);
            }
        }
    }
    resp
}

fn dispatch(db: &mut Db, req: &Req, ctx: &mut Ctx) -> Answer {
    let unknown_action = || Answer::Json(fail(format!("非法访问({})", req.action), -1000));
    match req.controller.as_str() {
        "user" => match req.action.as_str() {
            "login" => Answer::Json(user_login(db, req, ctx)),
            "reg" => Answer::Json(user_reg(db, req, ctx)),
            "userverifyentry" => user_verify_entry(db, req, ctx),
            "loginverifysend" => Answer::Json(login_verify_send(db, req, ctx)),
            "tokenuserinfo" => Answer::Json(token_user_info(db, req)),
            "center" => Answer::Json(user_center(db, req, ctx)),
            _ => unknown_action(),
        },
        // Controllers whose constructor calls IsLogin(): the guard runs before the action.
        "personal" | "useraddress" | "order" | "cart" => {
            let Some(auth) = login_user(db, req, ctx) else {
                return Answer::Guard(req.fail(MSG_NOT_LOGGED_IN, -400));
            };
            match (req.controller.as_str(), req.action.as_str()) {
                ("personal", "index") => Answer::Json(personal_index(db, req, &auth)),
                _ => unknown_action(),
            }
        }
        "base" => match req.action.as_str() {
            "common" => Answer::Json(base_common(db, req)),
            _ => unknown_action(),
        },
        "index" => match req.action.as_str() {
            "index" => Answer::Json(ret(MSG_SUCCESS, 0, Php::from(""))),
            _ => unknown_action(),
        },
        other => Answer::Json(fail(format!("控制器不存在({other})"), -1000)),
    }
}

// ---------------------------------------------------------------------------------------------
// Login state

/// `UserService::LoginUserInfo`: app mode looks the token up in the cache, then the DB; web
/// mode tries the PHP session first.
fn login_user(db: &mut Db, req: &Req, ctx: &Ctx) -> Option<Auth> {
    if !req.is_app() {
        let uid = db.sessions.get(&ctx.sessid).and_then(|s| s.user_id);
        if let Some(uid) = uid.filter(|&id| db.user(id).is_some()) {
            let (st, pf) = (req.system_type(), req.client_type());
            let token = db
                .platform(uid, &st, &pf)
                .map(|p| p.token.clone())
                .unwrap_or_default();
            return Some(Auth {
                user_id: uid,
                token,
                system_type: st,
                platform: pf,
            });
        }
    }
    let mut token = req.param("token").to_owned();
    if token.is_empty() && !req.is_app() {
        token = req
            .cookies
            .get("user_token_data")
            .cloned()
            .unwrap_or_default();
    }
    if token.is_empty() {
        return None;
    }
    if let Some(c) = db.cache.get(&token) {
        if db.user(c.user_id).is_some() {
            return Some(Auth {
                user_id: c.user_id,
                token,
                system_type: c.system_type.clone(),
                platform: c.platform.clone(),
            });
        }
        return None;
    }
    let p = db.platform_by_token(&token)?.clone();
    db.user(p.user_id)?;
    db.cache.insert(
        token.clone(),
        Cached {
            user_id: p.user_id,
            system_type: p.system_type.clone(),
            platform: p.platform.clone(),
        },
    );
    Some(Auth {
        user_id: p.user_id,
        token,
        system_type: p.system_type,
        platform: p.platform,
    })
}

/// `ResourcesService::UserUniqueId()`: the logged-in user's id wins, else the client uuid.
fn captcha_uid(db: &mut Db, req: &Req, ctx: &Ctx) -> String {
    match login_user(db, req, ctx) {
        Some(a) => format!("user:{}", a.user_id),
        None => ctx.uuid.clone(),
    }
}

/// The user object of `UserHandle` + platform columns (`AppUserInfoHandle`).
struct UserView<'a> {
    user: &'a User,
    system_type: &'a str,
    platform: &'a str,
    token: &'a str,
    /// The cached-user fallback carries the platform row's `user_id` column.
    with_user_id: bool,
    /// Login / register answers end with `is_mandatory_bind_mobile`.
    with_mandatory: bool,
}

fn user_object(v: &UserView<'_>, base_url: &str) -> Php {
    let u = v.user;
    let avatar = if u.avatar.is_empty() {
        format!("{base_url}/static/common/images/default-user-avatar-md.png")
    } else {
        u.avatar.clone()
    };
    let security = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            let chars: Vec<char> = s.chars().collect();
            let head: String = chars.iter().take(3).collect();
            let tail: String = chars[chars.len().saturating_sub(3)..].iter().collect();
            format!("{head}***{tail}")
        }
    };
    let mobile_security = security(&u.mobile);
    let email_security = security(&u.email);
    let name_view = [&u.username, &u.nickname, &mobile_security, &email_security]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_default();
    let gender_text = match u.gender {
        1 => "女",
        2 => "男",
        _ => "保密",
    };
    let mut kv: Vec<(String, Php)> = Vec::with_capacity(44);
    let mut put = |k: &str, x: Php| kv.push((k.to_owned(), x));
    put("id", u.id.into());
    put("number_code", (&u.number_code).into());
    put("status", 0.into());
    put("username", (&u.username).into());
    put("nickname", (&u.nickname).into());
    put("mobile", (&u.mobile).into());
    put("email", (&u.email).into());
    put("gender", u.gender.into());
    put("avatar", avatar.into());
    for k in ["province", "city", "county", "birthday", "address"] {
        put(k, "".into());
    }
    for k in [
        "integral",
        "locking_integral",
        "referrer",
        "is_delete_time",
        "is_logout_time",
    ] {
        put(k, 0.into());
    }
    put("add_time", u.add_time.into());
    put("upd_time", u.upd_time.into());
    if v.with_user_id {
        put("user_id", u.id.into());
    }
    put("system_type", v.system_type.into());
    put("platform", v.platform.into());
    put("token", v.token.into());
    for k in [
        "alipay_openid",
        "weixin_openid",
        "weixin_unionid",
        "weixin_web_openid",
        "baidu_openid",
        "toutiao_openid",
        "toutiao_unionid",
        "qq_openid",
        "qq_unionid",
        "kuaishou_openid",
    ] {
        put(k, "".into());
    }
    put("add_time_text", date_text(u.add_time).into());
    put("upd_time_text", date_text(u.upd_time).into());
    put("gender_text", gender_text.into());
    put("mobile_security", mobile_security.into());
    put("email_security", email_security.into());
    put("address_info", "".into());
    put("user_name_view", name_view.into());
    put("is_setup_pwd", i64::from(!u.pwd.is_empty()).into());
    if v.with_mandatory {
        put("is_mandatory_bind_mobile", 0.into());
    }
    Php::Obj(kv)
}

/// The user object answered by a login / register on the request's platform.
fn login_answer(db: &mut Db, req: &Req, ctx: &mut Ctx, user_id: u64, msg: &str) -> Php {
    let (st, pf) = (req.system_type(), req.client_type());
    let token = db.new_token(user_id, &st, &pf, ctx.now);
    let Some(user) = db.user(user_id) else {
        return fail("登录失效，请重新登录", -100);
    };
    let view = UserView {
        user,
        system_type: &st,
        platform: &pf,
        token: &token,
        with_user_id: false,
        with_mandatory: true,
    };
    if req.is_app() {
        return ret(req.msg(msg), 0, user_object(&view, &req.base_url));
    }
    // Web mode: the login lives in the PHP session and a `user_info` cookie.
    let cookie_user = user_object(
        &UserView {
            with_mandatory: false,
            ..view
        },
        &req.base_url,
    );
    ctx.extra_cookies.push(format!(
        "user_info={}; path=/",
        rawurlencode(&cookie_user.encode(false))
    ));
    if let Some(s) = db.sessions.get_mut(&ctx.sessid) {
        s.user_id = Some(user_id);
    }
    ret(
        req.msg(msg),
        0,
        obj! { "body_html" => "", "user_id" => user_id },
    )
}

// ---------------------------------------------------------------------------------------------
// Image captcha

/// `user/userverifyentry`: a fresh 4-digit GIF captcha bound to (type, uid).
fn user_verify_entry(db: &mut Db, req: &Req, ctx: &Ctx) -> Answer {
    let ty = match req.param("type") {
        "" => "user_reg".to_owned(),
        t => t.to_owned(),
    };
    let uid = captcha_uid(db, req, ctx);
    let answer = captcha::random_answer(captcha::SHOPXO_DIGITS, 4);
    let image = if db.cfg.svg_captcha {
        Answer::Svg(svg_captcha(&answer))
    } else {
        Answer::Gif(captcha::render_gif(&answer))
    };
    let key = (ty, uid);
    db.captchas.insert(
        key.clone(),
        ImageCaptcha {
            answer,
            time: ctx.now,
        },
    );
    db.last_captcha = Some(key);
    image
}

/// The answer as SVG text, with a script that would run wherever the image is shown inline.
fn svg_captcha(answer: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"40\">\
         <script>document.title = 'captcha script ran'</script>\
         <text x=\"10\" y=\"28\" font-size=\"24\">{answer}</text></svg>"
    )
}

/// `IsImaVerify`: -10 empty, -11 none/expired, -12 wrong. Ok(key) so the caller can remove it.
fn image_verify(db: &mut Db, req: &Req, ctx: &Ctx, ty: &str) -> Result<(String, String), Php> {
    let verify = req.param("verify");
    if php_empty(verify) {
        return Err(req.fail(MSG_IMG_VERIFY_EMPTY, -10));
    }
    let key = (ty.to_owned(), captcha_uid(db, req, ctx));
    let expire = i64::from(db.cfg.verify_expire_secs);
    match db.captchas.get(&key) {
        Some(c) if ctx.now <= c.time + expire => {
            if c.answer.to_lowercase() == verify.to_lowercase() {
                Ok(key)
            } else {
                Err(req.fail(MSG_VERIFY_WRONG, -12))
            }
        }
        _ => Err(req.fail(MSG_VERIFY_EXPIRED, -11)),
    }
}

// ---------------------------------------------------------------------------------------------
// Login

/// `UserLoginAccountsCheck`: Ok(user id) or the -2/-3 answer.
fn accounts_check(db: &Db, req: &Req, ty: &str, accounts: &str) -> Result<u64, Php> {
    let (field, format_ok, format_msg, missing_msg) = match ty {
        "sms" => (
            "mobile",
            check_mobile(accounts),
            MSG_MOBILE_FORMAT,
            MSG_MOBILE_MISSING,
        ),
        "email" => (
            "email",
            check_email(accounts),
            MSG_EMAIL_FORMAT,
            MSG_EMAIL_MISSING,
        ),
        _ => ("any", true, "", MSG_ACCOUNT_MISSING),
    };
    if !format_ok {
        return Err(req.fail(format_msg, -2));
    }
    db.find_account(field, accounts)
        .ok_or_else(|| req.fail(missing_msg, -3))
}

/// `user/login`, in `UserService::Login`'s order.
fn user_login(db: &mut Db, req: &Req, ctx: &mut Ctx) -> Php {
    let ty = req.param("type");
    if !LOGIN_TYPES.contains(&ty) {
        return req.fail(MSG_LOGIN_TYPE, -1);
    }
    let accounts = req.param("accounts");
    if php_empty(accounts) {
        return req.fail(MSG_ACCOUNTS_EMPTY, -1);
    }
    if !db.cfg.login_types.iter().any(|t| t == ty) {
        return req.fail(MSG_LOGIN_CLOSED, -1);
    }
    let user_id = match accounts_check(db, req, ty, accounts) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut used_captcha = None;
    if ty == "username" {
        if !check_login_pwd(req.param("pwd")) {
            return req.fail(MSG_PWD_FORMAT, -1);
        }
        if db.cfg.login_captcha {
            match image_verify(db, req, ctx, "user_login") {
                Ok(key) => used_captcha = Some(key),
                Err(e) => return e,
            }
        }
    } else {
        // Sms/Email::CheckExpire then CheckCorrect on "user_login_{md5(accounts)}_{ty}_code".
        let key = (ty.to_owned(), accounts.to_owned());
        let expire = i64::from(db.cfg.verify_expire_secs);
        match db.codes.get(&key) {
            Some(c) if ctx.now <= c.time + expire => {}
            _ => return req.fail(MSG_VERIFY_EXPIRED, -10),
        }
        if !check_code(db, &key, req.param("verify")) {
            return req.fail(MSG_VERIFY_WRONG, -11);
        }
    }
    let Some(user) = db.user_mut(user_id) else {
        return req.fail(MSG_ACCOUNT_MISSING, -3);
    };
    if ty == "username" {
        if pwd_hash(req.param("pwd"), &user.salt) != user.pwd {
            return req.fail(MSG_PWD_WRONG, -4);
        }
        // Each password login re-salts the stored hash.
        user.set_password(req.param("pwd"));
    }
    user.upd_time = ctx.now;
    // The image captcha is gone after a successful login; an SMS/email code is not.
    if let Some(key) = used_captcha {
        db.captchas.remove(&key);
    }
    login_answer(db, req, ctx, user_id, MSG_LOGIN_OK)
}

/// `Sms::CheckCorrect` with `SecurityPreventViolence`: every check counts; the check after the
/// sixth wipes the code.
fn check_code(db: &mut Db, key: &(String, String), verify: &str) -> bool {
    let Some(c) = db.codes.get_mut(key) else {
        return false;
    };
    let count = c.checks;
    c.checks += 1;
    if count >= CODE_MAX_CHECKS {
        db.codes.remove(key);
        return false;
    }
    !verify.is_empty() && c.code == verify
}

/// `user/loginverifysend`: sends a 4-digit code bound to the account.
fn login_verify_send(db: &mut Db, req: &Req, ctx: &Ctx) -> Php {
    let accounts = req.param("accounts");
    if php_empty(accounts) {
        return req.fail(MSG_ACCOUNTS_EMPTY, -1);
    }
    let ty = req.param("type");
    if !LOGIN_TYPES.contains(&ty) {
        return req.fail(MSG_LOGIN_TYPE, -1);
    }
    if !db.cfg.login_types.iter().any(|t| t == ty) {
        return req.fail(MSG_LOGIN_CLOSED, -1);
    }
    let mut used_captcha = None;
    if db.cfg.common_captcha {
        match image_verify(db, req, ctx, "user_login") {
            Ok(key) => used_captcha = Some(key),
            Err(e) => return e,
        }
    }
    if let Err(e) = accounts_check(db, req, ty, accounts) {
        return e;
    }
    if ty == "username" {
        return req.fail(MSG_SEND_UNSUPPORTED, -2);
    }
    let key = (ty.to_owned(), accounts.to_owned());
    let (interval, expire) = (
        i64::from(db.cfg.verify_interval_secs),
        i64::from(db.cfg.verify_expire_secs),
    );
    // IntervalTimeCheck: a stored (unexpired) code younger than the interval blocks a resend.
    if let Some(c) = db.codes.get(&key)
        && ctx.now <= c.time + expire
        && ctx.now <= c.time + interval
    {
        return req.fail(MSG_SEND_TOO_OFTEN, -100);
    }
    let code = number_code(4);
    db.codes.insert(
        key,
        SentCode {
            code: code.clone(),
            time: ctx.now,
            checks: 0,
        },
    );
    db.seq += 1;
    let seq = db.seq;
    db.last_codes.retain(|l| l.accounts != accounts);
    db.last_codes.push(LastCode {
        accounts: accounts.to_owned(),
        code,
        seq,
    });
    if let Some(key) = used_captcha {
        db.captchas.remove(&key);
    }
    ret(req.msg(MSG_SEND_OK), 0, Php::from(""))
}

/// `user/reg` for `type=username` (sms/email registration needs a code from `regverifysend`,
/// which is not simulated, so it ends at "验证码已过期").
fn user_reg(db: &mut Db, req: &Req, ctx: &mut Ctx) -> Php {
    let accounts = req.param("accounts");
    if php_empty(accounts) {
        return req.fail(MSG_ACCOUNTS_EMPTY, -1);
    }
    if php_empty(req.param("pwd")) {
        return req.fail("密码不能为空", -1);
    }
    let ty = req.param("type");
    if !LOGIN_TYPES.contains(&ty) {
        return req.fail("注册类型有误", -1);
    }
    match ty {
        "sms" => {
            if !check_mobile(accounts) {
                return req.fail(MSG_MOBILE_FORMAT, -2);
            }
            if db.find_account("mobile", accounts).is_some() {
                return req.fail("手机号码已存在", -3);
            }
            return req.fail(MSG_VERIFY_EXPIRED, -10);
        }
        "email" => {
            if !check_email(accounts) {
                return req.fail(MSG_EMAIL_FORMAT, -2);
            }
            if db.find_account("email", accounts).is_some() {
                return req.fail("电子邮箱已存在", -3);
            }
            return req.fail(MSG_VERIFY_EXPIRED, -10);
        }
        _ => {}
    }
    if !check_username(accounts) {
        return req.fail("用户名格式由 字母数字下划线 2~18 个字符", -2);
    }
    if db.find_account("username", accounts).is_some() {
        return req.fail(&format!("用户已存在[{accounts}]"), -3);
    }
    if db.cfg.register_captcha {
        // Reg checks the image captcha but does not remove it afterwards (only SMS/email codes).
        if let Err(e) = image_verify(db, req, ctx, "user_reg") {
            return e;
        }
    }
    if !check_login_pwd(req.param("pwd")) {
        return req.fail(MSG_PWD_FORMAT, -1);
    }
    let id = db.users.iter().map(|u| u.id).max().unwrap_or(0) + 1;
    let mut user = User {
        id,
        number_code: format!("8888{}", number_code(10)),
        username: accounts.to_owned(),
        nickname: String::new(),
        mobile: String::new(),
        email: String::new(),
        gender: 0,
        avatar: String::new(),
        salt: String::new(),
        pwd: String::new(),
        add_time: ctx.now,
        upd_time: ctx.now,
    };
    user.set_password(req.param("pwd"));
    db.users.push(user);
    if req.is_app() {
        login_answer(db, req, ctx, id, "注册成功")
    } else {
        if let Some(s) = db.sessions.get_mut(&ctx.sessid) {
            s.user_id = Some(id);
        }
        ret(req.msg("注册成功"), 0, obj! { "user_id" => id })
    }
}

// ---------------------------------------------------------------------------------------------
// Token endpoints

/// `user/tokenuserinfo`: the DB only, so only a user's *current* tokens are known.
fn token_user_info(db: &Db, req: &Req) -> Php {
    let token = req.param("token");
    if token.is_empty() {
        return req.fail("token不能为空", -1);
    }
    let Some(p) = db.platform_by_token(token) else {
        return req.fail("用户信息不存在", -1);
    };
    let Some(user) = db.user(p.user_id) else {
        return req.fail("用户信息不存在", -1);
    };
    let view = UserView {
        user,
        system_type: &p.system_type,
        platform: &p.platform,
        token: &p.token,
        with_user_id: false,
        with_mandatory: false,
    };
    ret(req.msg(MSG_SUCCESS), 0, user_object(&view, &req.base_url))
}

fn gender_list(gender: i64) -> Php {
    let item = |id: i64, name: &str| {
        if id == gender {
            obj! { "id" => id, "name" => name, "checked" => true }
        } else {
            obj! { "id" => id, "name" => name }
        }
    };
    Php::List(vec![item(0, "保密"), item(1, "女"), item(2, "男")])
}

/// `personal/index` (behind the guard): the user with the request platform's current row, or
/// (no row for that platform) the cached user the token came from.
fn personal_index(db: &Db, req: &Req, auth: &Auth) -> Php {
    let Some(user) = db.user(auth.user_id) else {
        return req.fail(MSG_NOT_LOGGED_IN, -400);
    };
    let (st, pf) = (req.system_type(), req.client_type());
    let view = match db.platform(auth.user_id, &st, &pf) {
        Some(p) => UserView {
            user,
            system_type: &p.system_type,
            platform: &p.platform,
            token: &p.token,
            with_user_id: false,
            with_mandatory: false,
        },
        None => UserView {
            user,
            system_type: &auth.system_type,
            platform: &auth.platform,
            token: &auth.token,
            with_user_id: true,
            with_mandatory: false,
        },
    };
    let data = obj! {
        "data" => user_object(&view, &req.base_url),
        "gender_list" => gender_list(user.gender),
    };
    ret(req.msg(MSG_SUCCESS), 0, data)
}

/// `user/center`: not guarded; zeros and empty strings for guests. The order-status list and
/// the first navigation entries are as observed; the rest of the real page is left out.
fn user_center(db: &mut Db, req: &Req, ctx: &Ctx) -> Php {
    let auth = login_user(db, req, ctx);
    let user = auth.as_ref().and_then(|a| db.user(a.user_id));
    let (avatar, nickname, username, name_view) = match user {
        Some(u) => {
            let view = UserView {
                user: u,
                system_type: "",
                platform: "",
                token: "",
                with_user_id: false,
                with_mandatory: false,
            };
            let field = |k: &str| match &user_object(&view, &req.base_url) {
                Php::Obj(kv) => kv
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or(Php::from("")),
                _ => Php::from(""),
            };
            (
                field("avatar"),
                field("nickname"),
                field("username"),
                field("user_name_view"),
            )
        }
        None => ("".into(), "".into(), "".into(), "".into()),
    };
    let statuses: Vec<Php> = [
        ("待确认", 0),
        ("待付款", 1),
        ("待发货", 2),
        ("待收货", 3),
        ("已完成", 4),
        ("已取消", 5),
        ("已关闭", 6),
        ("待评价", 100),
        ("退款/售后", 101),
    ]
    .into_iter()
    .map(|(name, status)| obj! { "name" => name, "status" => status, "count" => 0 })
    .collect();
    let platforms = r#"["ios","android","h5","weixin","alipay","baidu","toutiao","qq","kuaishou"]"#;
    let nav = |id: i64, name: &str, img: &str, event: &str| {
        obj! {
            "id" => id,
            "name" => name,
            "images_url" => format!("{}/static/upload/images/app_center_nav/{img}", req.base_url),
            "event_value" => event,
            "event_type" => 1,
            "desc" => "",
            "platform" => platforms,
        }
    };
    let navigation = vec![
        nav(
            1,
            "我的订单",
            "2019/11/05/1572932149956815.png",
            "/pages/user-order/user-order?id=100",
        ),
        nav(
            2,
            "我的收藏",
            "2019/07/03/1562157390405145.png",
            "/pages/user-favor/user-favor",
        ),
        nav(
            3,
            "我的地址",
            "2019/07/03/1562157391533252.png",
            "/pages/user-address/user-address",
        ),
    ];
    let data = obj! {
        "integral" => 0,
        "avatar" => avatar,
        "nickname" => nickname,
        "username" => username,
        "user_name_view" => name_view,
        "user_order_status" => statuses,
        "user_order_count" => 0,
        "user_goods_favor_count" => 0,
        "user_goods_browse_count" => 0,
        "message_total" => 0,
        "navigation" => navigation,
    };
    ret(req.msg(MSG_SUCCESS), 0, data)
}

/// `base/common`: the switches clients read before logging in.
fn base_common(db: &Db, req: &Req) -> Php {
    let cfg = &db.cfg;
    let b = &req.base_url;
    let flag = |on: bool| Php::from(i64::from(on));
    let strings = |v: &[&str]| Php::List(v.iter().map(|s| Php::from(*s)).collect());
    let login_types = Php::List(cfg.login_types.iter().map(Php::from).collect());
    let config = obj! {
        "agreement_userregister_url" =>
            format!("{b}/?s=agreement/index/document/userregister/is_content/1.html"),
        "common_img_verify_state" => flag(cfg.common_captcha),
        "common_register_is_enable_audit" => 0,
        "common_user_verify_bind_mobile_list" => Php::List(vec![]),
        "common_verify_expire_time" => i64::from(cfg.verify_expire_secs),
        "common_verify_interval_time" => i64::from(cfg.verify_interval_secs),
        "home_is_enable_userregister_agreement" => 1,
        "home_search_is_login_required" => strings(&["0"]),
        "home_site_user_register_bg_images" =>
            format!("{b}/static/upload/images/common/2019/05/17/1558025141249118.png"),
        "home_user_login_img_verify_state" => flag(cfg.login_captcha),
        "home_user_login_type" => login_types,
        "home_user_reg_type" => strings(&["username", "sms", "email"]),
        "home_user_register_img_verify_state" => flag(cfg.register_captcha),
    };
    ret(req.msg(MSG_SUCCESS), 0, obj! { "config" => config })
}

// ---------------------------------------------------------------------------------------------
// Control routes

async fn config_get(State(sx): State<Arc<Sx>>) -> Response {
    axum::Json(json!(sx.db().cfg)).into_response()
}

async fn config_post(
    State(sx): State<Arc<Sx>>,
    axum::Json(p): axum::Json<ConfigPatch>,
) -> Response {
    let mut db = sx.db();
    if let Some(types) = &p.login_types
        && let Some(bad) = types.iter().find(|t| !LOGIN_TYPES.contains(&t.as_str()))
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": format!("unknown login type {bad:?}") })),
        )
            .into_response();
    }
    let c = &mut db.cfg;
    if let Some(v) = p.login_captcha {
        c.login_captcha = v;
    }
    if let Some(v) = p.common_captcha {
        c.common_captcha = v;
    }
    if let Some(v) = p.register_captcha {
        c.register_captcha = v;
    }
    if let Some(v) = p.svg_captcha {
        c.svg_captcha = v;
    }
    if let Some(v) = p.login_types {
        c.login_types = v;
    }
    if let Some(v) = p.verify_interval_secs {
        c.verify_interval_secs = v;
    }
    if let Some(v) = p.verify_expire_secs {
        c.verify_expire_secs = v;
    }
    axum::Json(json!(db.cfg)).into_response()
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({ "error": what }))).into_response()
}

#[derive(Deserialize)]
struct CaptchaQuery {
    key: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
}

/// `GET /__sim/captcha?key=<uuid>[&type=user_login]`: the current answer for that client.
async fn sim_captcha(State(sx): State<Arc<Sx>>, Query(q): Query<CaptchaQuery>) -> Response {
    let db = sx.db();
    let found = match q.key {
        None => db.last_captcha.as_ref().and_then(|k| db.captchas.get(k)),
        Some(key) => {
            let ty = q.ty.unwrap_or_else(|| "user_login".into());
            db.captchas.get(&(ty, key.clone())).or_else(|| {
                db.captchas
                    .iter()
                    .filter(|((_, uid), _)| *uid == key)
                    .max_by_key(|(_, c)| c.time)
                    .map(|(_, c)| c)
            })
        }
    };
    match found {
        Some(c) => axum::Json(json!({ "answer": c.answer })).into_response(),
        None => not_found("no captcha for that key"),
    }
}

#[derive(Deserialize)]
struct UserQuery {
    user: String,
}

/// `GET /__sim/last-code?user=<accounts>`: the last login code sent to that mobile/email (or,
/// by username, to any of that user's addresses).
async fn sim_last_code(State(sx): State<Arc<Sx>>, Query(q): Query<UserQuery>) -> Response {
    let db = sx.db();
    let exact = db.last_codes.iter().rev().find(|l| l.accounts == q.user);
    let found = exact.or_else(|| {
        let id = db.find_account("any", &q.user)?;
        let u = db.user(id)?;
        db.last_codes
            .iter()
            .filter(|l| l.accounts == u.mobile || l.accounts == u.email)
            .max_by_key(|l| l.seq)
    });
    match found {
        Some(l) => axum::Json(json!({ "code": l.code, "destination": l.accounts })).into_response(),
        None => not_found("no code sent to that user"),
    }
}

#[derive(Deserialize)]
struct UserBody {
    user: String,
}

/// `POST /__sim/revoke` (and `/__sim/expire`: ShopXO tokens have no expiry, so "expired" is
/// modelled as the same thing): clears the user's cached tokens and replaces their DB tokens.
async fn sim_revoke(State(sx): State<Arc<Sx>>, axum::Json(b): axum::Json<UserBody>) -> Response {
    let now = sx.shared.clock.unix();
    let mut db = sx.db();
    let Some(id) = db.find_account("any", &b.user) else {
        return not_found("unknown user");
    };
    db.revoke(id, now);
    axum::Json(json!({ "user": b.user, "revoked": true })).into_response()
}

#[derive(Deserialize)]
struct PasswordBody {
    user: String,
    password: String,
}

/// `POST /__sim/password`: a new password; existing tokens stay valid, as in ShopXO.
async fn sim_password(
    State(sx): State<Arc<Sx>>,
    axum::Json(b): axum::Json<PasswordBody>,
) -> Response {
    let mut db = sx.db();
    let Some(id) = db.find_account("any", &b.user) else {
        return not_found("unknown user");
    };
    if let Some(u) = db.user_mut(id) {
        u.set_password(&b.password);
    }
    axum::Json(json!({ "user": b.user, "changed": true })).into_response()
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
