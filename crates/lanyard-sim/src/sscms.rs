//! SiteServer CMS (SSCMS) user API simulator (docs/services/sscms.md), v6 by default, v7 by
//! `POST /__sim/config {"version":"v7"}`.
//!
//! | route | v6 | v7 |
//! |---|---|---|
//! | `POST /api/v1/users/actions/login` | `{"value":user,"accessToken","expiresAt"}` + cookie `SS-USER-TOKEN` | `{"user","accessToken"}` |
//! | `GET /api/v1/users/{id}` | token from cookie `SS-USER-TOKEN` > header `X-SS-USER-TOKEN` > query `userToken` → `{"value":user}` | API key only (`X-SS-API-KEY` or `?apiKey=`, [`API_KEY`]) → user; a user token is 401 |
//! | `POST /api/v1/users/actions/logout` | `{"value":user\|null}`, clears the cookie, token stays valid | `{"value":true}`, token stays valid |
//!
//! Login body keys are case-insensitive: `account` (user name, then mobile, then email),
//! `password` (lowercase hex MD5 of the UTF-8 plaintext), `isAutoLogin` (v6) / `isPersistent`
//! (v7). Errors are 400 `{"message"}` with the server's Chinese texts; an unauthenticated
//! user call is 401 with an empty body; an unknown id is 404 (empty body).
//!
//! **Time zone.** Real SSCMS servers mostly run in China, and v6 mixes local and UTC times.
//! The simulator's "server local time" is a fixed UTC+08:00: `expiresAt` and the user dates
//! are printed in it, and a v6 token is accepted while `ExpiresAt(UTC) + 7 d`, compared as a
//! wall-clock value with local now, is in the future, i.e. until issue + 14 d − 8 h.
//!
//! v6 tokens: `{"typ":"JWT","alg":"HS256"}` + `{"UserId":1,"UserName":"demo","ExpiresAt":"\/Date(ms)\/"}`
//! (JavaScriptSerializer output, byte for byte), no `exp`. v7 tokens: standard HS256 JWT with
//! string claims `UserId`, `UserName`, `Role`, `IsPersistent` and `iat`/`exp` (1 d, 7 d if
//! persistent).
//!
//! Lockout (SSCMS `IsUserLockLogin` with the default timed lock): once a user has
//! `lockout_attempts` (default 3) failed logins, logins answer
//! `此账号错误登录次数过多，已被锁定，请等待{hours}小时后重试` until `lockout_hours` (default 3) have passed
//! since the last failure; `lockout_attempts: 0` disables it. A success resets the count.
//!
//! Seeded users: demo (id 1, 演示, demo1234), alice (id 2, secret123), and two for the error
//! paths: pending (id 3, not approved) and locked (id 4, locked out), both secret123.
//!
//! Control routes: `GET|POST /__sim/config {"version","lockout_attempts","lockout_hours"}`
//! (partial; answers the full config), `GET /__sim/token` (whether the request's user token is
//! accepted now: 200 `{"userName","id"}` or 401), `POST /__sim/expire {"user"}` (the user's tokens issued
//! so far are past their expiry), `POST /__sim/revoke {"user"}` (they are rejected, as for a
//! locked or renamed user), `POST /__sim/password {"user","password"}`. `user` is a user name,
//! mobile, email or id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::common::json_res;
use crate::common::{
    DemoUser, Shared, jwt_hs256, jwt_hs256_raw, jwt_verify_hs256, md5_hex, random_hex,
};

/// `Constants.AccessTokenExpireDays`.
const TOKEN_DAYS: i64 = 7;
const DAY_MS: i64 = 86_400_000;
/// The simulated server's local offset (see the module docs).
const LOCAL_OFFSET_SECS: i32 = 8 * 3600;
const V6_HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;
/// The one API key (scope users) the simulated v7 server has issued.
pub const API_KEY: &str = "LanyardSimSscmsApiKey";

pub use crate::wire::SscmsVersion as Version;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub version: Version,
    /// Failed logins before the timed lock; 0 = no lock.
    pub lockout_attempts: u32,
    /// `UserLockLoginHours`.
    pub lockout_hours: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: Version::V6,
            lockout_attempts: 3,
            lockout_hours: 3,
        }
    }
}

use crate::switches::{self, HasSwitches, Switches};
use crate::wire::SscmsConfigPatch as ConfigPatch;

#[derive(Debug, Clone)]
struct User {
    id: i64,
    user_name: String,
    display_name: String,
    mobile: String,
    email: String,
    plain_password: String,
    is_checked: bool,
    is_locked_out: bool,
    create_date: DateTime<Utc>,
    last_activity: DateTime<Utc>,
    count_of_login: u32,
    count_of_failed_login: u32,
    /// Tokens issued at or before this instant (ms) are rejected (`/__sim/expire|revoke`).
    invalid_before_ms: Option<i64>,
}

impl User {
    fn seed(id: i64, name: &str, display: &str, mobile: &str, email: &str, pw: &str) -> User {
        let created = DateTime::parse_from_rfc3339("2018-06-17T08:42:03Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        User {
            id,
            user_name: name.into(),
            display_name: display.into(),
            mobile: mobile.into(),
            email: email.into(),
            plain_password: pw.into(),
            is_checked: true,
            is_locked_out: false,
            create_date: created,
            last_activity: created,
            count_of_login: 0,
            count_of_failed_login: 0,
            invalid_before_ms: None,
        }
    }

    fn matches(&self, key: &str) -> bool {
        !key.is_empty()
            && (self.id.to_string() == key
                || self.user_name.eq_ignore_ascii_case(key)
                || self.mobile == key
                || self.email.eq_ignore_ascii_case(key))
    }

    /// `UserInfo` minus `password`, `passwordFormat`, `passwordSalt`, `settingsXml`, camelCase.
    fn doc_v6(&self) -> Value {
        json!({
            "id": self.id,
            "userName": self.user_name,
            "createDate": local_fmt(self.create_date),
            "lastResetPasswordDate": local_fmt(self.create_date),
            "lastActivityDate": local_fmt(self.last_activity),
            "countOfLogin": self.count_of_login,
            "countOfFailedLogin": self.count_of_failed_login,
            "groupId": 0,
            "isChecked": self.is_checked,
            "isLockedOut": self.is_locked_out,
            "displayName": self.display_name,
            "mobile": self.mobile,
            "email": self.email,
            "avatarUrl": "",
            "gender": "",
            "birthday": "",
            "weiXin": "",
            "qq": "",
            "weiBo": "",
            "bio": "",
        })
    }

    /// v7 `User` entity, camelCase, password fields not serialized.
    fn doc_v7(&self) -> Value {
        json!({
            "id": self.id,
            "guid": format!("00000000-0000-4000-8000-{:012}", self.id),
            "createdDate": local_fmt(self.create_date),
            "lastModifiedDate": local_fmt(self.last_activity),
            "userName": self.user_name,
            "lastResetPasswordDate": local_fmt(self.create_date),
            "lastActivityDate": local_fmt(self.last_activity),
            "countOfLogin": self.count_of_login,
            "countOfFailedLogin": self.count_of_failed_login,
            "groupId": 0,
            "checked": self.is_checked,
            "locked": self.is_locked_out,
            "displayName": self.display_name,
            "mobile": self.mobile,
            "email": self.email,
            "avatarUrl": "",
            "gender": "",
            "birthday": "",
            "weiXin": "",
            "qq": "",
            "weiBo": "",
            "bio": "",
        })
    }
}

/// `yyyy-MM-dd HH:mm:ss` in the simulated server's local zone (UTC+08:00).
fn local_fmt(t: DateTime<Utc>) -> String {
    let tz = FixedOffset::east_opt(LOCAL_OFFSET_SECS).expect("valid offset");
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

struct Inner {
    config: Config,
    users: Vec<User>,
}

#[derive(Clone)]
struct Sim {
    shared: Shared,
    /// `WebConfigUtils.SecretKey` (v6) / the JWT signing key (v7).
    secret: Arc<Vec<u8>>,
    inner: Arc<Mutex<Inner>>,
}

impl Sim {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn seed_users() -> Vec<User> {
    let mut pending = User::seed(
        3,
        "pending",
        "待审核",
        "13900000003",
        "pending@example.com",
        "secret123",
    );
    pending.is_checked = false;
    let mut locked = User::seed(
        4,
        "locked",
        "已锁定",
        "13900000004",
        "locked@example.com",
        "secret123",
    );
    locked.is_locked_out = true;
    vec![
        User::seed(
            1,
            "demo",
            "演示",
            "13900000001",
            "demo@example.com",
            "demo1234",
        ),
        User::seed(
            2,
            "alice",
            "Alice",
            "13900000002",
            "alice@example.com",
            "secret123",
        ),
        pending,
        locked,
    ]
}

pub fn demo_users() -> Vec<DemoUser> {
    let u = |user: &str, password: &str, note: &str| DemoUser {
        service: "sscms",
        user: user.into(),
        password: password.into(),
        note: note.into(),
    };
    vec![
        u("demo", "demo1234", "id 1, 演示; v6 by default"),
        u("alice", "secret123", "id 2"),
        u("pending", "secret123", "id 3, not approved (login refused)"),
        u("locked", "secret123", "id 4, locked out (login refused)"),
    ]
}

pub fn router(shared: Shared) -> Router {
    let sim = Sim {
        shared,
        secret: Arc::new(random_hex(32).into_bytes()),
        inner: Arc::new(Mutex::new(Inner {
            config: Config::default(),
            users: seed_users(),
        })),
    };
    Router::new()
        .route("/api/v1/users/actions/login", post(login))
        .route("/api/v1/users/actions/logout", post(logout))
        .route("/api/v1/users/{id}", get(get_user))
        .route("/__sim/config", switches::config_route())
        .route("/__sim/expire", post(sim_invalidate))
        .route("/__sim/revoke", post(sim_invalidate))
        .route("/__sim/password", post(sim_password))
        .route("/__sim/token", get(sim_token))
        .with_state(sim)
}

// ---------------------------------------------------------------------------------------------

fn bad_request(message: &str) -> Response {
    json_res(StatusCode::BAD_REQUEST, &json!({ "message": message }))
}

fn empty(status: StatusCode) -> Response {
    status.into_response()
}

/// `AuthenticatedRequest.PostData`: JSON object with case-insensitive keys, values as strings.
fn post_string(body: &Value, key: &str) -> String {
    let Some(obj) = body.as_object() else {
        return String::new();
    };
    match obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
    {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn post_bool(body: &Value, key: &str) -> bool {
    post_string(body, key).eq_ignore_ascii_case("true")
}

/// `UserDao.GetByAccount`: user name, then mobile, then email.
fn find_by_account(users: &[User], account: &str) -> Option<usize> {
    users
        .iter()
        .position(|u| u.user_name.eq_ignore_ascii_case(account))
        .or_else(|| users.iter().position(|u| u.mobile == account))
        .or_else(|| {
            users
                .iter()
                .position(|u| u.email.eq_ignore_ascii_case(account))
        })
}

async fn login(State(sim): State<Sim>, body: Bytes) -> Response {
    sim.shared.stats.hit("sscms.login");
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let account = post_string(&body, "account");
    let password = post_string(&body, "password");
    let now = sim.shared.clock.now();
    let mut inner = sim.lock();
    let config = inner.config.clone();

    // UserDao.Validate, in order.
    if account.is_empty() {
        return bad_request("账号不能为空");
    }
    if password.is_empty() {
        return bad_request("密码不能为空");
    }
    let Some(ix) = find_by_account(&inner.users, &account) else {
        return bad_request("帐号或密码错误");
    };
    let u = &mut inner.users[ix];
    if !u.is_checked {
        return bad_request("此账号未审核，无法登录");
    }
    if u.is_locked_out {
        return bad_request("此账号被锁定，无法登录");
    }
    if config.lockout_attempts > 0 && u.count_of_failed_login >= config.lockout_attempts {
        let since_h = (now - u.last_activity).num_seconds() as f64 / 3600.0;
        let hours = (f64::from(config.lockout_hours) - since_h).round() as i64;
        if hours > 0 {
            return bad_request(&format!(
                "此账号错误登录次数过多，已被锁定，请等待{hours}小时后重试"
            ));
        }
    }
    if password != md5_hex(&u.plain_password) {
        u.count_of_failed_login += 1;
        u.last_activity = now;
        return bad_request("帐号或密码错误");
    }
    u.count_of_failed_login = 0;
    u.count_of_login += 1;
    u.last_activity = now;

    // A token issued after an expire/revoke must count as newer than it (its issue time is
    // nudged forward by at most the claim's resolution: 1 ms for v6, 1 s for v7).
    let now_ms = now.timestamp_millis();
    let invalid_before = u.invalid_before_ms;
    let user = u.clone();
    drop(inner);

    match config.version {
        Version::V6 => {
            let issued_ms = invalid_before.map_or(now_ms, |t| now_ms.max(t + 1));
            let expires_ms = issued_ms + TOKEN_DAYS * DAY_MS;
            let token = v6_token(&sim.secret, &user, expires_ms);
            let expires_at = local_fmt(now + TimeDelta::days(TOKEN_DAYS));
            let mut r = json_res(
                StatusCode::OK,
                &json!({"value": user.doc_v6(), "accessToken": token, "expiresAt": expires_at}),
            );
            // The real cookie holds an encrypted copy; the simulator stores the JWT itself.
            let cookie = if post_bool(&body, "isAutoLogin") {
                let exp = (now + TimeDelta::days(TOKEN_DAYS)).format("%a, %d %b %Y %H:%M:%S GMT");
                format!("SS-USER-TOKEN={token}; expires={exp}; path=/")
            } else {
                format!("SS-USER-TOKEN={token}; path=/")
            };
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Version::V7 => {
            let persistent = post_bool(&body, "isPersistent");
            let mut iat = now_ms.div_euclid(1000);
            if let Some(t) = invalid_before.filter(|t| iat * 1000 <= *t) {
                iat = t.div_euclid(1000) + 1;
            }
            let exp = iat + if persistent { 7 } else { 1 } * 86_400;
            let token = jwt_hs256(
                &sim.secret,
                &json!({
                    "UserId": user.id.to_string(),
                    "UserName": user.user_name,
                    "Role": "User",
                    "IsPersistent": if persistent { "True" } else { "False" },
                    "iat": iat,
                    "exp": exp,
                }),
            );
            json_res(
                StatusCode::OK,
                &json!({"user": user.doc_v7(), "accessToken": token}),
            )
        }
    }
}

fn v6_token(secret: &[u8], user: &User, expires_ms: i64) -> String {
    let payload = format!(
        r#"{{"UserId":{},"UserName":{},"ExpiresAt":"\/Date({expires_ms})\/"}}"#,
        user.id,
        serde_json::to_string(&user.user_name).unwrap_or_default(),
    );
    jwt_hs256_raw(secret, V6_HEADER, &payload)
}

/// A token's claims, whichever version issued it.
struct Claims {
    user_id: i64,
    user_name: String,
    issued_ms: i64,
    valid_until_ms: i64,
}

fn parse_v6(payload: &Value) -> Option<Claims> {
    let date = payload.get("ExpiresAt")?.as_str()?;
    let ms: i64 = date
        .strip_prefix("/Date(")?
        .strip_suffix(")/")?
        .parse()
        .ok()?;
    Some(Claims {
        user_id: payload.get("UserId")?.as_i64()?,
        user_name: payload.get("UserName")?.as_str()?.to_owned(),
        issued_ms: ms - TOKEN_DAYS * DAY_MS,
        // `ExpiresAt.AddDays(7) < DateTime.Now`: UTC wall clock against local wall clock.
        valid_until_ms: ms + TOKEN_DAYS * DAY_MS - i64::from(LOCAL_OFFSET_SECS) * 1000,
    })
}

fn parse_v7(payload: &Value) -> Option<Claims> {
    let iat = payload.get("iat")?.as_i64()?;
    Some(Claims {
        user_id: payload.get("UserId")?.as_str()?.parse().ok()?,
        user_name: payload.get("UserName")?.as_str()?.to_owned(),
        issued_ms: iat * 1000,
        valid_until_ms: payload.get("exp")?.as_i64()? * 1000,
    })
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The raw token the current version reads from the request.
fn request_token(
    version: Version,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<String> {
    let header_str = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    match version {
        Version::V6 => cookie(headers, "SS-USER-TOKEN")
            .or_else(|| header_str("x-ss-user-token"))
            .or_else(|| {
                query
                    .get("userToken")
                    .map(String::as_str)
                    .filter(|v| !v.is_empty())
            })
            .map(str::to_owned),
        Version::V7 => header_str("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .or_else(|| query.get("access_token").map(String::as_str))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
    }
}

/// The user a request's token belongs to, if the token is good right now.
fn authenticate(
    sim: &Sim,
    inner: &Inner,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<User> {
    let version = inner.config.version;
    let token = request_token(version, headers, query)?;
    if version == Version::V6 {
        // A v6 token must carry exactly the v6 header.
        let header_b64 = token.split('.').next()?;
        use base64::Engine;
        let h = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header_b64)
            .ok()?;
        if h != V6_HEADER.as_bytes() {
            return None;
        }
    }
    let payload = jwt_verify_hs256(&sim.secret, &token)?;
    let claims = match version {
        Version::V6 => parse_v6(&payload)?,
        Version::V7 => parse_v7(&payload)?,
    };
    let now_ms = sim.shared.clock.unix_ms();
    if claims.valid_until_ms <= now_ms {
        return None;
    }
    let user = inner.users.iter().find(|u| u.id == claims.user_id)?;
    let usable = user.is_checked
        && !user.is_locked_out
        && user.user_name == claims.user_name
        && user.invalid_before_ms.is_none_or(|t| claims.issued_ms > t);
    usable.then(|| user.clone())
}

async fn get_user(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    sim.shared.stats.hit("sscms.user");
    let inner = sim.lock();
    let version = inner.config.version;
    // v7 looks users up for API keys only (docs/services/sscms.md "Refresh and validation"): a
    // user's own token, valid or not, is refused like no credential at all.
    let me = match version {
        Version::V6 => authenticate(&sim, &inner, &headers, &query),
        Version::V7 => None,
    };
    let by_api_key = version == Version::V7 && has_api_key(&headers, &query);
    if me.is_none() && !by_api_key {
        return empty(StatusCode::UNAUTHORIZED);
    }
    let target = match version {
        Version::V6 => id
            .parse::<i64>()
            .ok()
            .and_then(|id| inner.users.iter().find(|u| u.id == id)),
        // v7 routes by `{account}`: an id or a user name.
        Version::V7 => inner
            .users
            .iter()
            .find(|u| u.id.to_string() == id || u.user_name.eq_ignore_ascii_case(&id)),
    };
    let Some(target) = target else {
        return empty(StatusCode::NOT_FOUND);
    };
    if me.is_some_and(|me| me.id != target.id) {
        return empty(StatusCode::UNAUTHORIZED);
    }
    match version {
        Version::V6 => json_res(StatusCode::OK, &json!({"value": target.doc_v6()})),
        Version::V7 => json_res(StatusCode::OK, &target.doc_v7()),
    }
}

/// Whether the request carries the simulator's API key (`X-SS-API-KEY` or `?apiKey=`).
fn has_api_key(headers: &HeaderMap, query: &HashMap<String, String>) -> bool {
    headers
        .get("x-ss-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query.get("apiKey").map(String::as_str))
        == Some(API_KEY)
}

/// `GET /__sim/token`: whether the server would take the request's user token right now
/// (what its token-guarded content routes decide), for tests of v7 token lifetimes now that
/// the user route no longer answers user tokens. 200 with the user, or 401.
async fn sim_token(
    State(sim): State<Sim>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let inner = sim.lock();
    match authenticate(&sim, &inner, &headers, &query) {
        Some(user) => json_res(
            StatusCode::OK,
            &json!({"userName": user.user_name, "id": user.id}),
        ),
        None => empty(StatusCode::UNAUTHORIZED),
    }
}

async fn logout(
    State(sim): State<Sim>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    sim.shared.stats.hit("sscms.logout");
    let inner = sim.lock();
    match inner.config.version {
        Version::V6 => {
            let user = authenticate(&sim, &inner, &headers, &query).map(|u| u.doc_v6());
            let mut r = json_res(StatusCode::OK, &json!({"value": user}));
            r.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static(
                    "SS-USER-TOKEN=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/",
                ),
            );
            r
        }
        Version::V7 => json_res(StatusCode::OK, &json!({"value": true})),
    }
}

// ---------------------------------------------------------------------------------------------
// Control routes

impl Switches for Config {
    type Patch = ConfigPatch;
    fn apply(&mut self, patch: ConfigPatch) -> Result<(), String> {
        if let Some(v) = patch.version {
            self.version = v;
        }
        if let Some(v) = patch.lockout_attempts {
            self.lockout_attempts = v;
        }
        if let Some(v) = patch.lockout_hours {
            self.lockout_hours = v;
        }
        Ok(())
    }
}

impl HasSwitches for Sim {
    type Switches = Config;
    fn with_switches<R>(&self, change: impl FnOnce(&mut Config) -> R) -> (R, Value) {
        let mut inner = self.lock();
        let result = change(&mut inner.config);
        (result, switches::shown(&inner.config))
    }
}

#[derive(Deserialize)]
struct UserBody {
    user: String,
    #[serde(default)]
    password: Option<String>,
}

async fn sim_invalidate(State(sim): State<Sim>, body: Bytes) -> Response {
    let Ok(b) = serde_json::from_slice::<UserBody>(&body) else {
        return json_res(
            StatusCode::BAD_REQUEST,
            &json!({"error": "want {\"user\"}"}),
        );
    };
    let now_ms = sim.shared.clock.unix_ms();
    let mut inner = sim.lock();
    match inner.users.iter_mut().find(|u| u.matches(&b.user)) {
        Some(u) => {
            // Never move the mark backwards (a later login may already be stamped t+1).
            u.invalid_before_ms = Some(u.invalid_before_ms.map_or(now_ms, |t| t.max(now_ms)));
            json_res(StatusCode::OK, &json!({"ok": true}))
        }
        None => json_res(StatusCode::NOT_FOUND, &json!({"error": "no such user"})),
    }
}

async fn sim_password(State(sim): State<Sim>, body: Bytes) -> Response {
    let Ok(UserBody {
        user,
        password: Some(password),
    }) = serde_json::from_slice(&body)
    else {
        return json_res(
            StatusCode::BAD_REQUEST,
            &json!({"error": "want {\"user\",\"password\"}"}),
        );
    };
    let mut inner = sim.lock();
    match inner.users.iter_mut().find(|u| u.matches(&user)) {
        Some(u) => {
            u.plain_password = password;
            json_res(StatusCode::OK, &json!({"ok": true}))
        }
        None => json_res(StatusCode::NOT_FOUND, &json!({"error": "no such user"})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v6_token_payload_is_javascriptserializer_bytes() {
        let u = &seed_users()[0];
        let t = v6_token(b"k", u, 1_591_531_200_000);
        let p = t.split('.').nth(1).unwrap();
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            r#"{"UserId":1,"UserName":"demo","ExpiresAt":"\/Date(1591531200000)\/"}"#
        );
        let claims = parse_v6(&jwt_verify_hs256(b"k", &t).unwrap()).unwrap();
        assert_eq!(claims.user_id, 1);
        assert_eq!(claims.issued_ms, 1_591_531_200_000 - 7 * DAY_MS);
    }

    #[test]
    fn local_time_is_utc_plus_8() {
        let t = DateTime::parse_from_rfc3339("2020-06-07T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(local_fmt(t), "2020-06-07 12:00:00");
    }

    #[test]
    fn account_lookup_order() {
        let users = seed_users();
        assert_eq!(find_by_account(&users, "DEMO"), Some(0));
        assert_eq!(find_by_account(&users, "13900000002"), Some(1));
        assert_eq!(find_by_account(&users, "alice@example.com"), Some(1));
        assert_eq!(find_by_account(&users, "nobody"), None);
    }
}
