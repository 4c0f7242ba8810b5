//! SiYuan simulator (docs/services/siyuan.md): the local kernel's cloud-account routes and, on the
//! same listener, the cloud account host's captcha image.
//!
//! Kernel routes (all `POST`, JSON, HTTP 200 `{"code","msg","data"}` unless said otherwise):
//!
//! | route | notes |
//! |---|---|
//! | `/api/account/login` | `{userName, userPassword: md5 hex, captcha, cloudRegion: number}`; a missing or mistyped field panics in the kernel → HTTP 200 with an EMPTY body |
//! | `/api/setting/login2faCloudUser` | `{token, code}`; outer `code` always 0, `data` is the cloud's object verbatim |
//! | `/api/setting/getCloudUser` | `{token}` or `{}`; stores the user in the kernel ("logged in") |
//! | `/api/setting/logoutCloudUser` | local only; the cloud token stays valid |
//! | `/api/system/version` | (also GET) a cheap call to check the kernel and its API token |
//!
//! Kernel auth (`CheckAuth`): `Authorization: Token|token|Bearer|bearer <t>` must equal the
//! API token (else HTTP 401 `{"code":-1,"msg":"Auth failed [header: Authorization]"}`); else a
//! `?token=` query likewise (`[query: token]`); no credentials at all → allowed (loopback, no
//! lock-screen password).
//!
//! Cloud host: `GET /captcha/login?needCaptcha=<v>&t=<ms>` → a PNG of the current answer for
//! the key `v` (one is generated when there is none). The answer is bound to the `needCaptcha`
//! value, not to cookies, and is used up by one login attempt.
//!
//! Choices where the notes say UNCONFIRMED (the cloud is closed source):
//! - `getCloudUser {token}` with a valid token **rotates**: the answer carries a new `userToken`
//!   with a fresh `userTokenExpireTime`, and the token sent stops working. A refresh therefore
//!   succeeded iff `data.userToken` differs from the token sent.
//! - With an invalid/expired/revoked token: if it is the token of the user the kernel has stored,
//!   `data` is that stored user unchanged (the kernel keeps the old user); otherwise
//!   `data` is null (the real kernel would show whatever user it stored; null keeps the failure
//!   detectable). `getCloudUser {}` answers the stored user, refreshing it over the "network"
//!   first when it expires within 3 days, as the kernel does.
//! - Cloud failure objects: `{"code":-1,"msg":"…"}` without `token`; `needCaptcha` is the user
//!   id as a string (a stable pseudo id for unknown names, so it leaks nothing).
//! - `login2faCloudUser` with a missing/mistyped field answers `{"code":0,"msg":"","data":null}`
//!   (the handler's deferred `c.JSON` runs while the panic unwinds), unlike `login`'s empty body.
//! - Captcha answers: 4 characters from `A–Z 2–9` without look-alikes, case-insensitive, valid
//!   5 minutes of simulator time. 2FA codes: 6 digits, a TOTP-like HMAC of the 30 s step of the
//!   simulator clock; the current and the previous step are accepted.
//!
//! Control routes (besides the framework's `/__sim/faults|clock|stats`):
//! - `GET|POST /__sim/config` `{"captcha": bool, "two_factor_users": [..], "api_token": "..",
//!   "token_lifetime_secs": i64}` (partial updates; answers the full config, plus the kernel's
//!   `cloud_region` for information). Defaults: captcha off, 2FA for bob, token
//!   `lanyarddemotoken`, 30 days.
//! - `GET /__sim/captcha?key=<needCaptcha>` (no key: the most recent) → `{"answer"}`, 404 if none.
//! - `GET /__sim/last-code?user=bob` → `{"code", "destination": "totp"}` (the code valid now),
//!   404 unless the user has 2FA on.
//! - `POST /__sim/expire` `{"user"}`: the user's cloud tokens expire now (the kernel's stored
//!   copy shows the same expiry, as if the time had passed). `{"expired": n}`.
//! - `POST /__sim/revoke` `{"user"}`: every cloud token (and pending 2FA token) of the user is
//!   rejected from now on; the kernel's stored copy is untouched. `{"revoked": n}`.
//! - `POST /__sim/password` `{"user","password"}`.
//! - `GET /__sim/kernel-user` → `{"user": <stored conf.User or null>}` (what the kernel holds).

// Early-return helpers hand back a finished `Response` as their error; its size is irrelevant here.
#![allow(clippy::result_large_err)]

use crate::switches::{self, HasSwitches, Switches};
use crate::wire::SiyuanConfigPatch;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::captcha;
use crate::common::{DemoUser, Shared, md5_hex, random_hex};

/// The kernel's API token of the demo (docs/simulator-control.md).
pub const API_TOKEN: &str = "lanyarddemotoken";
pub const DEFAULT_TOKEN_LIFETIME_SECS: i64 = 30 * 24 * 3600;
/// `getCloudUser {}` refreshes when the token expires within this (cloud_service.go RefreshUser).
const REFRESH_WINDOW_SECS: i64 = 3 * 24 * 3600;
const CAPTCHA_CHARSET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CAPTCHA_LEN: usize = 4;
const CAPTCHA_TTL_SECS: i64 = 300;
const TWOFA_TTL_SECS: i64 = 300;
const TOTP_STEP_SECS: i64 = 30;

const MSG_NEED_CAPTCHA: &str = "请输入验证码";
const MSG_WRONG_CAPTCHA: &str = "验证码错误";
const MSG_WRONG_CREDENTIALS: &str = "用户名或密码错误";
const MSG_NEED_2FA: &str = "请输入两步验证码";
const MSG_WRONG_2FA: &str = "两步验证码错误";
const MSG_2FA_EXPIRED: &str = "两步验证已过期，请重新登录";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub captcha: bool,
    pub two_factor_users: Vec<String>,
    pub api_token: String,
    pub token_lifetime_secs: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            captcha: false,
            two_factor_users: vec!["bob".into()],
            api_token: API_TOKEN.into(),
            token_lifetime_secs: DEFAULT_TOKEN_LIFETIME_SECS,
        }
    }
}

#[derive(Debug, Clone)]
struct CloudUser {
    id: &'static str,
    name: &'static str,
    password: String,
    nickname: &'static str,
    create_time: &'static str,
    totp_secret: &'static [u8],
    /// `userSiYuanProExpireTime`: ms, -1 lifetime.
    pro_expire_ms: i64,
    subscription_plan: i64,
    subscription_status: i64,
    subscription_type: i64,
    one_time_pay: i64,
}

fn seed_users() -> Vec<CloudUser> {
    vec![
        CloudUser {
            id: "1650000000001",
            name: "alice",
            password: "secret123".into(),
            nickname: "Alice",
            create_time: "20220415 10:20:30",
            totp_secret: b"lanyard-sim-totp-alice",
            pro_expire_ms: -1,
            subscription_plan: 0,
            subscription_status: 0,
            subscription_type: 1,
            one_time_pay: 1,
        },
        CloudUser {
            id: "1650000000002",
            name: "bob",
            password: "hunter22".into(),
            nickname: "Bob",
            create_time: "20230102 08:00:00",
            totp_secret: b"lanyard-sim-totp-bob",
            pro_expire_ms: 4_102_444_800_000,
            subscription_plan: 0,
            subscription_status: 0,
            subscription_type: 0,
            one_time_pay: 0,
        },
    ]
}

pub fn demo_users() -> Vec<DemoUser> {
    let mut v = vec![DemoUser {
        service: "siyuan",
        user: "kernel API token".into(),
        password: API_TOKEN.into(),
        note: "Authorization: Token …".into(),
    }];
    for u in seed_users() {
        v.push(DemoUser {
            service: "siyuan",
            user: u.name.into(),
            password: u.password.clone(),
            note: if u.name == "bob" {
                "2FA (TOTP) on".into()
            } else {
                String::new()
            },
        });
    }
    v
}

struct CloudToken {
    user: usize,
    exp: i64,
}

struct Captcha {
    answer: String,
    exp: i64,
}

struct Pending2fa {
    user: usize,
    exp: i64,
}

/// What the kernel keeps in conf.json after `getCloudUser`.
struct KernelUser {
    token: String,
    json: Value,
}

#[derive(Default)]
struct Inner {
    config: Config,
    users: Vec<CloudUser>,
    tokens: HashMap<String, CloudToken>,
    captchas: HashMap<String, Captcha>,
    last_captcha: Option<String>,
    pending: HashMap<String, Pending2fa>,
    kernel_user: Option<KernelUser>,
    cloud_region: i64,
}

impl Inner {
    fn user_index(&self, name: &str) -> Option<usize> {
        self.users.iter().position(|u| u.name == name)
    }

    fn has_2fa(&self, user: usize) -> bool {
        let name = self.users[user].name;
        self.config.two_factor_users.iter().any(|n| n == name)
    }

    fn issue_token(&mut self, user: usize, now: i64) -> String {
        let t = random_hex(16);
        let exp = now + self.config.token_lifetime_secs;
        self.tokens.insert(t.clone(), CloudToken { user, exp });
        t
    }

    fn new_captcha(&mut self, key: &str, now: i64) -> String {
        let answer = captcha::random_answer(CAPTCHA_CHARSET, CAPTCHA_LEN);
        self.captchas.insert(
            key.to_owned(),
            Captcha {
                answer: answer.clone(),
                exp: now + CAPTCHA_TTL_SECS,
            },
        );
        self.last_captcha = Some(key.to_owned());
        answer
    }

    fn live_captcha(&self, key: &str, now: i64) -> Option<&str> {
        self.captchas
            .get(key)
            .filter(|c| now < c.exp)
            .map(|c| c.answer.as_str())
    }

    /// The cloud's `/apis/siyuan/user`: a valid token is exchanged for a new one (see module
    /// doc) and the user object is returned.
    fn cloud_user(&mut self, token: &str, now: i64) -> Option<(String, Value)> {
        let t = self.tokens.get(token).filter(|t| now < t.exp)?;
        let user = t.user;
        self.tokens.remove(token);
        let new = self.issue_token(user, now);
        let exp = self.tokens[&new].exp;
        Some((new.clone(), self.user_json(user, &new, exp)))
    }

    /// `conf.User` (kernel/conf/user.go).
    fn user_json(&self, user: usize, token: &str, exp: i64) -> Value {
        let u = &self.users[user];
        json!({
            "userId": u.id,
            "userName": u.name,
            "userAvatarURL": "",
            "userHomeBImgURL": "",
            "userTitles": [],
            "userIntro": "",
            "userNickname": u.nickname,
            "userCreateTime": u.create_time,
            "userSiYuanProExpireTime": u.pro_expire_ms,
            "userToken": token,
            "userTokenExpireTime": exp.to_string(),
            "userSiYuanRepoSize": 0,
            "userSiYuanPointExchangeRepoSize": 0,
            "userSiYuanAssetSize": 0,
            "userTrafficUpload": 0,
            "userTrafficDownload": 0,
            "userTrafficAPIGet": 0,
            "userTrafficAPIPut": 0,
            "userTrafficTime": 0,
            "userSiYuanSubscriptionPlan": u.subscription_plan,
            "userSiYuanSubscriptionStatus": u.subscription_status,
            "userSiYuanSubscriptionType": u.subscription_type,
            "userSiYuanOneTimePayStatus": u.one_time_pay,
        })
    }

    fn store_kernel_user(&mut self, token: String, json: Value) {
        self.kernel_user = Some(KernelUser { token, json });
    }
}

struct Sim {
    shared: Shared,
    inner: Mutex<Inner>,
}

impl Sim {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn now(&self) -> i64 {
        self.shared.clock.unix()
    }
}

type St = State<Arc<Sim>>;

pub fn router(shared: Shared) -> Router {
    let sim = Arc::new(Sim {
        shared,
        inner: Mutex::new(Inner {
            users: seed_users(),
            ..Default::default()
        }),
    });
    Router::new()
        .route("/api/account/login", post(login))
        .route("/api/setting/login2faCloudUser", post(login_2fa))
        .route("/api/setting/getCloudUser", post(get_cloud_user))
        .route("/api/setting/logoutCloudUser", post(logout_cloud_user))
        .route("/api/system/version", post(version).get(version))
        .route("/captcha/login", get(captcha_image))
        .route("/__sim/config", switches::config_route())
        .route("/__sim/captcha", get(captcha_answer))
        .route("/__sim/last-code", get(last_code))
        .route("/__sim/expire", post(expire))
        .route("/__sim/revoke", post(revoke))
        .route("/__sim/password", post(password))
        .route("/__sim/kernel-user", get(kernel_user))
        .with_state(sim)
}

// ------------------------------------------------------------------------------------------
// Helpers

/// `gulu.Result` as gin writes it: fields in struct order, `application/json; charset=utf-8`.
fn result(code: i64, msg: &str, data: Value) -> Response {
    let body = format!(
        r#"{{"code":{code},"msg":{},"data":{}}}"#,
        Value::from(msg),
        data
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

/// What the kernel answers when a handler without a deferred reply panics: nothing.
fn empty_body() -> Response {
    (StatusCode::OK, Body::empty()).into_response()
}

/// Query parameters, decoded the way Go's `url.ParseQuery` does (`+` is a space).
fn query_params(q: Option<&str>) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
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
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                    i += 3;
                    continue;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    let mut m = HashMap::new();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.entry(decode(k)).or_insert_with(|| decode(v));
    }
    m
}

/// `model.CheckAuth` for a loopback caller without a lock-screen password.
fn check_auth(sim: &Sim, headers: &HeaderMap, query: Option<&str>) -> Result<(), Response> {
    let expected = sim.lock().config.api_token.clone();
    let unauthorized = |which: &str| {
        (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            format!(r#"{{"code":-1,"msg":"Auth failed [{which}]"}}"#),
        )
            .into_response()
    };
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let token = ["Token ", "token ", "Bearer ", "bearer "]
            .iter()
            .find_map(|p| v.strip_prefix(p));
        if let Some(t) = token {
            return if t == expected {
                Ok(())
            } else {
                Err(unauthorized("header: Authorization"))
            };
        }
    }
    if let Some(t) = query_params(query).get("token").filter(|t| !t.is_empty()) {
        return if *t == expected {
            Ok(())
        } else {
            Err(unauthorized("query: token"))
        };
    }
    Ok(())
}

/// `util.JsonArg`: the body as a JSON object, or the kernel's `code -1` reply.
fn json_arg(path: &str, body: &[u8]) -> Result<Map<String, Value>, Response> {
    let fail = |detail: String| {
        result(
            -1,
            &format!("Parses request [{path}] failed: {detail}"),
            Value::Null,
        )
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(fail(
            "the request body is empty or truncated (EOF)".to_owned(),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => {
            let kind = match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                _ => "null",
            };
            if kind == "null" {
                // Go decodes `null` into a nil map without error; every lookup then misses.
                return Ok(Map::new());
            }
            Err(fail(format!(
                "json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
            )))
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

/// A stable numeric pseudo id for a user name the cloud does not know.
fn pseudo_id(name: &str) -> String {
    let h = md5_hex(name.as_bytes());
    let n = u64::from_str_radix(&h[..12], 16).unwrap_or(0) % 1_000_000_000_000;
    format!("1{n:012}")
}

/// TOTP-like 6-digit code of `secret` for the 30 s step `step`.
fn totp(secret: &[u8], step: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes any key");
    mac.update(&step.to_be_bytes());
    let d = mac.finalize().into_bytes();
    let off = (d[d.len() - 1] & 0x0f) as usize;
    let bin = u32::from_be_bytes([d[off] & 0x7f, d[off + 1], d[off + 2], d[off + 3]]);
    format!("{:06}", bin % 1_000_000)
}

// ------------------------------------------------------------------------------------------
// Kernel routes

/// `POST /api/account/login` → the kernel proxies to the cloud's `/apis/siyuan/login` and
/// re-maps the reply (cloud_service.go `Login`).
async fn login(State(sim): St, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    sim.shared.stats.hit("siyuan.login");
    if let Err(r) = check_auth(&sim, &headers, q.as_deref()) {
        return r;
    }
    let arg = match json_arg("/api/account/login", &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    // `arg["userName"].(string)` etc.: a panic → the recovery middleware → empty body.
    let (Some(name), Some(password), Some(captcha), Some(region)) = (
        arg.get("userName").and_then(Value::as_str),
        arg.get("userPassword").and_then(Value::as_str),
        arg.get("captcha").and_then(Value::as_str),
        arg.get("cloudRegion").and_then(Value::as_f64),
    ) else {
        return empty_body();
    };

    let now = sim.now();
    let mut g = sim.lock();
    g.cloud_region = region as i64;
    let cloud = cloud_login(&mut g, name, password, captcha, now);

    // Kernel mapping: code -1 → 1; data = the three top-level fields of the cloud reply.
    let mut code = cloud["code"].as_i64().unwrap_or(-1);
    if code == -1 {
        code = 1;
    }
    let data = json!({
        "userName": cloud.get("userName").cloned().unwrap_or(Value::Null),
        "token": cloud.get("token").cloned().unwrap_or(Value::Null),
        "needCaptcha": cloud.get("needCaptcha").cloned().unwrap_or(Value::Null),
    });
    result(code, cloud["msg"].as_str().unwrap_or(""), data)
}

/// The cloud's `/apis/siyuan/login` (top-level `code, msg, userName?, token?, needCaptcha?`).
fn cloud_login(g: &mut Inner, name: &str, password_md5: &str, captcha: &str, now: i64) -> Value {
    let user = g.user_index(name);
    let uid = user.map_or_else(|| pseudo_id(name), |u| g.users[u].id.to_owned());
    if g.config.captcha {
        let expected = g.live_captcha(&uid, now).map(str::to_owned);
        let good = expected
            .as_deref()
            .is_some_and(|a| !captcha.is_empty() && a.eq_ignore_ascii_case(captcha.trim()));
        if !good {
            g.new_captcha(&uid, now);
            let msg = if captcha.is_empty() {
                MSG_NEED_CAPTCHA
            } else {
                MSG_WRONG_CAPTCHA
            };
            return json!({ "code": -1, "msg": msg, "needCaptcha": uid });
        }
        g.captchas.remove(&uid); // one attempt per answer
    }
    let ok = user.filter(|&u| md5_hex(g.users[u].password.as_bytes()) == password_md5);
    let Some(u) = ok else {
        let mut r = json!({ "code": -1, "msg": MSG_WRONG_CREDENTIALS });
        if g.config.captcha {
            g.new_captcha(&uid, now);
            r["needCaptcha"] = json!(uid);
        }
        return r;
    };
    let user_name = g.users[u].name;
    if g.has_2fa(u) {
        let temp = random_hex(16);
        g.pending.insert(
            temp.clone(),
            Pending2fa {
                user: u,
                exp: now + TWOFA_TTL_SECS,
            },
        );
        return json!({ "code": 10, "msg": MSG_NEED_2FA, "userName": user_name, "token": temp });
    }
    let token = g.issue_token(u, now);
    json!({ "code": 0, "msg": "", "userName": user_name, "token": token })
}

/// `POST /api/setting/login2faCloudUser {token, code}` → `data` = the cloud's object verbatim.
async fn login_2fa(
    State(sim): St,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.shared.stats.hit("siyuan.login2fa");
    if let Err(r) = check_auth(&sim, &headers, q.as_deref()) {
        return r;
    }
    let arg = match json_arg("/api/setting/login2faCloudUser", &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (Some(temp), Some(code)) = (
        arg.get("token").and_then(Value::as_str),
        arg.get("code").and_then(Value::as_str),
    ) else {
        // The panic unwinds through the handler's `defer c.JSON(200, ret)`.
        return result(0, "", Value::Null);
    };
    let now = sim.now();
    let mut g = sim.lock();
    let Some(p) = g.pending.get(temp).filter(|p| now < p.exp) else {
        return result(0, "", json!({ "code": -1, "msg": MSG_2FA_EXPIRED }));
    };
    let user = p.user;
    let secret = g.users[user].totp_secret;
    let step = now.div_euclid(TOTP_STEP_SECS);
    let good = [step, step - 1]
        .iter()
        .any(|s| totp(secret, *s) == code.trim());
    if !good {
        return result(0, "", json!({ "code": -1, "msg": MSG_WRONG_2FA }));
    }
    g.pending.remove(temp);
    let token = g.issue_token(user, now);
    result(0, "", json!({ "code": 0, "msg": "", "token": token }))
}

/// `POST /api/setting/getCloudUser {token}` or `{}` (cloud_service.go `RefreshUser`).
async fn get_cloud_user(
    State(sim): St,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.shared.stats.hit("siyuan.getCloudUser");
    if let Err(r) = check_auth(&sim, &headers, q.as_deref()) {
        return r;
    }
    let arg = match json_arg("/api/setting/getCloudUser", &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let token = match arg.get("token") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        // `t.(string)` panics under `defer c.JSON(200, ret)`.
        Some(_) => return result(0, "", Value::Null),
    };
    let now = sim.now();
    let mut g = sim.lock();
    let data = if token.is_empty() {
        let Some(stored) = g.kernel_user.as_ref() else {
            return result(0, "", Value::Null);
        };
        let exp: i64 = stored.json["userTokenExpireTime"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if exp - now < REFRESH_WINDOW_SECS {
            let t = stored.token.clone();
            if let Some((new, user)) = g.cloud_user(&t, now) {
                g.store_kernel_user(new, user);
            }
        }
        g.kernel_user.as_ref().map(|k| k.json.clone())
    } else if let Some((new, user)) = g.cloud_user(&token, now) {
        g.store_kernel_user(new, user.clone());
        Some(user)
    } else {
        // Invalid: the kernel keeps (and answers) its stored user; see the module doc.
        g.kernel_user
            .as_ref()
            .filter(|k| k.token == token)
            .map(|k| k.json.clone())
    };
    result(0, "", data.unwrap_or(Value::Null))
}

/// `POST /api/setting/logoutCloudUser {}`: forgets the stored user; the cloud is not told.
async fn logout_cloud_user(State(sim): St, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    sim.shared.stats.hit("siyuan.logoutCloudUser");
    if let Err(r) = check_auth(&sim, &headers, q.as_deref()) {
        return r;
    }
    sim.lock().kernel_user = None;
    result(0, "", Value::Null)
}

async fn version(State(sim): St, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    sim.shared.stats.hit("siyuan.version");
    if let Err(r) = check_auth(&sim, &headers, q.as_deref()) {
        return r;
    }
    result(0, "", json!("3.3.0"))
}

// ------------------------------------------------------------------------------------------
// Cloud host

/// `GET /captcha/login?needCaptcha=<v>&t=<ms>`.
async fn captcha_image(State(sim): St, RawQuery(q): RawQuery) -> Response {
    sim.shared.stats.hit("siyuan.captcha");
    let p = query_params(q.as_deref());
    let Some(key) = p.get("needCaptcha").filter(|k| !k.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "needCaptcha is required").into_response();
    };
    let now = sim.now();
    let answer = {
        let mut g = sim.lock();
        match g.live_captcha(key, now) {
            Some(a) => a.to_owned(),
            None => g.new_captcha(key, now),
        }
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        captcha::render_png(&answer),
    )
        .into_response()
}

// ------------------------------------------------------------------------------------------
// Control routes

fn control_error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

fn config_json(g: &Inner) -> Value {
    let mut v = serde_json::to_value(&g.config).unwrap_or_default();
    v["cloud_region"] = json!(g.cloud_region);
    v
}

impl Switches for Config {
    type Patch = SiyuanConfigPatch;
    fn apply(&mut self, patch: SiyuanConfigPatch) -> Result<(), String> {
        if let Some(v) = patch.captcha {
            self.captcha = v;
        }
        if let Some(v) = patch.two_factor_users {
            self.two_factor_users = v;
        }
        if let Some(v) = patch.api_token {
            self.api_token = v;
        }
        if let Some(v) = patch.token_lifetime_secs {
            self.token_lifetime_secs = v;
        }
        Ok(())
    }
}

/// The configuration shows the cloud region the kernel was logged in to as well.
impl HasSwitches for Arc<Sim> {
    type Switches = Config;
    fn with_switches<R>(&self, change: impl FnOnce(&mut Config) -> R) -> (R, Value) {
        let mut g = self.lock();
        let result = change(&mut g.config);
        (result, config_json(&g))
    }
}

async fn captcha_answer(State(s): St, RawQuery(q): RawQuery) -> Response {
    let p = query_params(q.as_deref());
    let now = s.now();
    let g = s.lock();
    let key = p.get("key").cloned().or_else(|| g.last_captcha.clone());
    match key.and_then(|k| g.live_captcha(&k, now).map(str::to_owned)) {
        Some(answer) => Json(json!({ "answer": answer })).into_response(),
        None => control_error(StatusCode::NOT_FOUND, "no captcha for that key"),
    }
}

async fn last_code(State(s): St, RawQuery(q): RawQuery) -> Response {
    let p = query_params(q.as_deref());
    let now = s.now();
    let g = s.lock();
    let user = p
        .get("user")
        .and_then(|u| g.user_index(u))
        .filter(|&u| g.has_2fa(u));
    match user {
        Some(u) => Json(json!({
            "code": totp(g.users[u].totp_secret, now.div_euclid(TOTP_STEP_SECS)),
            "destination": "totp",
        }))
        .into_response(),
        None => control_error(StatusCode::NOT_FOUND, "no 2FA code for that user"),
    }
}

#[derive(Deserialize)]
struct UserBody {
    user: String,
    #[serde(default)]
    password: Option<String>,
}

async fn expire(State(s): St, Json(b): Json<UserBody>) -> Response {
    let now = s.now();
    let mut g = s.lock();
    let Some(u) = g.user_index(&b.user) else {
        return control_error(StatusCode::NOT_FOUND, "unknown user");
    };
    let mut n = 0;
    for t in g.tokens.values_mut().filter(|t| t.user == u) {
        t.exp = t.exp.min(now - 1);
        n += 1;
    }
    let name = g.users[u].name;
    if let Some(k) = g.kernel_user.as_mut()
        && k.json["userName"] == name
    {
        k.json["userTokenExpireTime"] = json!((now - 1).to_string());
    }
    Json(json!({ "expired": n })).into_response()
}

async fn revoke(State(s): St, Json(b): Json<UserBody>) -> Response {
    let mut g = s.lock();
    let Some(u) = g.user_index(&b.user) else {
        return control_error(StatusCode::NOT_FOUND, "unknown user");
    };
    let before = g.tokens.len();
    g.tokens.retain(|_, t| t.user != u);
    g.pending.retain(|_, p| p.user != u);
    let n = before - g.tokens.len();
    Json(json!({ "revoked": n })).into_response()
}

async fn password(State(s): St, Json(b): Json<UserBody>) -> Response {
    let Some(p) = b.password else {
        return control_error(StatusCode::BAD_REQUEST, "password: string");
    };
    let mut g = s.lock();
    let Some(u) = g.user_index(&b.user) else {
        return control_error(StatusCode::NOT_FOUND, "unknown user");
    };
    g.users[u].password = p;
    Json(json!({ "ok": true })).into_response()
}

async fn kernel_user(State(s): St) -> Json<Value> {
    let g = s.lock();
    Json(json!({ "user": g.kernel_user.as_ref().map(|k| k.json.clone()) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_is_six_digits_and_changes_with_the_step() {
        let a = totp(b"k", 1);
        assert_eq!(a.len(), 6);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(a, totp(b"k", 1));
        assert!((0..20).any(|s| totp(b"k", s) != a));
    }

    #[test]
    fn pseudo_ids_are_stable_and_numeric() {
        assert_eq!(pseudo_id("mallory"), pseudo_id("mallory"));
        assert_ne!(pseudo_id("mallory"), pseudo_id("trent"));
        assert_eq!(pseudo_id("x").len(), 13);
        assert!(pseudo_id("x").bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn query_decoding_follows_go() {
        let p = query_params(Some("a=1+2&b=%41%zz&token="));
        assert_eq!(p["a"], "1 2");
        assert_eq!(p["b"], "A%zz");
        assert_eq!(p["token"], "");
    }
}
