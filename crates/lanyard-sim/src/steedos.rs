//! Steedos accounts simulator (docs/services/steedos.md): the vendored accounts-js fork under
//! `/accounts`, plus `/api/v4/users/validate`.
//!
//! | route | behaviour |
//! |---|---|
//! | `POST /accounts/password/login` | `user` string (email if it looks like one, else mobile) or object `{id|username|email|mobile}`; `password` = lowercase hex SHA-256, or `password-unencrypted`; `token` = code login. Errors: always 400 `{"message"}` |
//! | `POST /accounts/password/sendVerificationCode` | `{"user":{"mobile"}|{"email"}}` → 200 userId JSON string or `null`; 6 digits, 10 min, 10 failures |
//! | `POST /accounts/refreshTokens` | broken as the notes infer (`Tokens are not valid` / `Session not found`) unless `refresh_tokens_work` |
//! | `GET\|POST /accounts/user` | cookie `X-Auth-Token`, else `Authorization` (`Bearer ` stripped, FIRST comma part) → user; else 400 `userNotFound` |
//! | `POST /api/v4/users/validate` | `Authorization: Bearer <spaceId>,<token>` (or `X-Auth-Token` + `X-Space-Id` headers/cookies) → session object; else the 401 body of the real server |
//! | `POST /accounts/logout` | cookie or bare `Authorization: <token>` invalidates; `Bearer <token>` does NOT (the real `replace('Bearer ', 'token')` bug); always 200 `null` |
//!
//! Sessions never expire by themselves (the `/accounts` side checks only `valid`); the JWTs in
//! `tokens` are real HS256 JWTs (access 90 d, refresh 7 d) signed with a per-process secret, and
//! nothing but `refreshTokens` reads them.
//!
//! Lockout: after `lockout_attempts` (default 10) consecutive wrong passwords the user is
//! locked for 15 minutes of simulator time (the profile default `lockout_interval`); while
//! locked every password login answers `账户已锁定，请联系管理员`, even with the right password.
//! The failing attempts themselves answer `accounts.invalid_credentials`.
//!
//! Control routes: `GET|POST /__sim/config` (partial update, answers the full config),
//! `GET /__sim/last-code?user=U`, `POST /__sim/expire {"user"}` and `POST /__sim/revoke {"user"}`
//! (both mark every session of U `valid:false`), `POST /__sim/password {"user","password"}`.
//! `U` is an email, username, mobile or user id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::common::json_res;
use crate::common::{DemoUser, Shared, jwt_hs256, jwt_verify_hs256, random_hex, sha256_hex};

/// The tenant space every demo user belongs to.
pub const SPACE_ID: &str = "demo-space";
const SPACE_NAME: &str = "Demo Space";
/// 90 days, the cookie `maxAge` and default access-token lifetime.
const ACCESS_TTL_SECS: i64 = 90 * 86400;
const REFRESH_TTL_SECS: i64 = 7 * 86400;
const CODE_TTL_SECS: i64 = 10 * 60;
const CODE_MAX_FAILURES: u32 = 10;
const LOCKOUT_SECS: i64 = 15 * 60;
const LOCKED_MESSAGE: &str = "账户已锁定，请联系管理员";
const VALIDATE_401: &str = r#"{"error":"Validate Request -- Missing X-Auth-Token","instance":"1329598861","success":false}"#;

/// Switches set through `/__sim/config`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Users (email, username, mobile or id) whose profile has `enable_MFA`.
    pub mfa_users: Vec<String>,
    /// Also accept the plaintext password in `password` (a server whose stored hash is of the
    /// plaintext). Off: plaintext in `password` is a wrong password, as on a real server.
    pub accept_plain_password: bool,
    pub lockout_attempts: u32,
    /// `/accounts/refreshTokens` works (answers new JWTs) instead of failing as inferred.
    pub refresh_tokens_work: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mfa_users: vec!["bob@example.com".into()],
            accept_plain_password: false,
            lockout_attempts: 10,
            refresh_tokens_work: false,
        }
    }
}

use crate::switches::{self, HasSwitches, Switches};
use crate::wire::SteedosConfigPatch as ConfigPatch;

#[derive(Debug, Clone)]
struct User {
    id: String,
    username: String,
    name: String,
    email: String,
    mobile: String,
    plain_password: String,
    created: &'static str,
    failed_logins: u32,
    locked_until: Option<DateTime<Utc>>,
}

impl User {
    fn seed(id: &str, username: &str, name: &str, email: &str, mobile: &str, pw: &str) -> User {
        User {
            id: id.into(),
            username: username.into(),
            name: name.into(),
            email: email.into(),
            mobile: mobile.into(),
            plain_password: pw.into(),
            created: "2024-03-01T08:00:00.000Z",
            failed_logins: 0,
            locked_until: None,
        }
    }

    fn matches(&self, key: &str) -> bool {
        !key.is_empty()
            && (self.id == key
                || self.username.eq_ignore_ascii_case(key)
                || self.email.eq_ignore_ascii_case(key)
                || self.mobile == key)
    }

    /// The users document minus `services`, as login returns it.
    fn doc(&self) -> Value {
        json!({
            "_id": self.id,
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "email": self.email,
            "emails": [{"address": self.email, "verified": true}],
            "email_verified": true,
            "mobile": self.mobile,
            "mobile_verified": true,
            "locale": "zh-cn",
            "utcOffset": 8,
            "steedos_id": self.email,
            "created": self.created,
            "modified": self.created,
            "login_failed_number": 0,
            "lockout": false,
        })
    }
}

#[derive(Debug, Clone)]
struct Session {
    id: String,
    user_id: String,
    token: String,
    valid: bool,
    access_token: String,
}

#[derive(Debug, Clone)]
struct Code {
    code: String,
    destination: String,
    expires: DateTime<Utc>,
    failures: u32,
}

struct Inner {
    config: Config,
    users: Vec<User>,
    /// By session token.
    sessions: HashMap<String, Session>,
    /// By user id: the current verification code.
    codes: HashMap<String, Code>,
}

#[derive(Clone)]
struct Sim {
    shared: Shared,
    /// `tenant.tokenSecret`: random per process when unset, as on a real server.
    secret: Arc<Vec<u8>>,
    inner: Arc<Mutex<Inner>>,
}

impl Sim {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn seed_users() -> Vec<User> {
    vec![
        User::seed(
            "tnhPJpFhT6cZx3Wdn",
            "alice",
            "Alice",
            "alice@example.com",
            "13800000001",
            "secret123",
        ),
        User::seed(
            "bQk7cGTq2Ef9RgMmw",
            "bob",
            "Bob",
            "bob@example.com",
            "13800000002",
            "hunter22",
        ),
    ]
}

pub fn demo_users() -> Vec<DemoUser> {
    vec![
        DemoUser {
            service: "steedos",
            user: "alice@example.com".into(),
            password: "secret123".into(),
            note: format!("username alice, mobile 13800000001, space {SPACE_ID}"),
        },
        DemoUser {
            service: "steedos",
            user: "bob@example.com".into(),
            password: "hunter22".into(),
            note: "username bob, mobile 13800000002, MFA on (code by SMS)".into(),
        },
    ]
}

pub fn router(shared: Shared) -> Router {
    let sim = Sim {
        shared,
        secret: Arc::new(random_hex(32).into_bytes()),
        inner: Arc::new(Mutex::new(Inner {
            config: Config::default(),
            users: seed_users(),
            sessions: HashMap::new(),
            codes: HashMap::new(),
        })),
    };
    Router::new()
        .route("/accounts/password/login", post(login))
        .route("/accounts/password/sendVerificationCode", post(send_code))
        .route("/accounts/refreshTokens", post(refresh_tokens))
        .route("/accounts/user", get(current_user).post(current_user))
        .route("/accounts/logout", post(logout))
        .route("/api/v4/users/validate", post(validate))
        .route("/api/setup/validate", post(validate))
        .route("/__sim/config", switches::config_route())
        .route("/__sim/last-code", get(last_code))
        .route("/__sim/expire", post(sim_invalidate))
        .route("/__sim/revoke", post(sim_invalidate))
        .route("/__sim/password", post(sim_password))
        .with_state(sim)
}

// ---------------------------------------------------------------------------------------------
// Responses

/// `sendError(res, {message})`: always 400.
fn error(message: &str) -> Response {
    json_res(StatusCode::BAD_REQUEST, &json!({ "message": message }))
}

fn set_cookie(r: &mut Response, name: &str, value: &str, now: DateTime<Utc>) {
    let expires = (now + TimeDelta::seconds(ACCESS_TTL_SECS)).format("%a, %d %b %Y %H:%M:%S GMT");
    let c =
        format!("{name}={value}; Max-Age={ACCESS_TTL_SECS}; Path=/; Expires={expires}; HttpOnly");
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn clear_cookie(r: &mut Response, name: &str) {
    let c = format!("{name}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
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

fn parse_body(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| json!({}))
}

/// JS truthiness of a JSON value, as `if (!params.user)` sees it.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(_) => true,
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        None => false,
    }
}

/// `toMobileAndEmail` + the database lookups: index of the user `user` designates.
fn find_user(users: &[User], user: &Value) -> Option<usize> {
    let nonempty = |k: &str| {
        user.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match user {
        Value::String(s) if looks_like_email(s) => {
            users.iter().position(|u| u.email.eq_ignore_ascii_case(s))
        }
        Value::String(s) => users.iter().position(|u| u.mobile == *s),
        Value::Object(_) => {
            if let Some(id) = nonempty("id") {
                users.iter().position(|u| u.id == id)
            } else if let Some(name) = nonempty("username") {
                users
                    .iter()
                    .position(|u| u.username.to_lowercase() == name.to_lowercase())
            } else if let Some(email) = nonempty("email") {
                users
                    .iter()
                    .position(|u| u.email.eq_ignore_ascii_case(email))
            } else if let Some(mobile) = nonempty("mobile") {
                users.iter().position(|u| u.mobile == mobile)
            } else {
                None
            }
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Login

async fn login(State(sim): State<Sim>, body: Bytes) -> Response {
    sim.shared.stats.hit("steedos.login");
    let body = parse_body(&body);
    let now = sim.shared.clock.now();
    let user_param = body.get("user").cloned().unwrap_or(Value::Null);
    let code = body.get("token").filter(|t| truthy(Some(t))).cloned();

    // Verification-code login: `user` and `token` both non-empty; `password` is ignored.
    if let Some(code) = code.filter(|_| truthy(Some(&user_param))) {
        return code_login(&sim, &user_param, &code, now);
    }

    // `password-unencrypted` is hashed by the server and replaces `password`.
    let password = match body.get("password-unencrypted") {
        Some(Value::String(p)) if !p.is_empty() => Some(Value::String(sha256_hex(p))),
        _ => body.get("password").cloned(),
    };
    if !truthy(Some(&user_param)) || !truthy(password.as_ref()) {
        return error("accounts.unrecognizedOptionsForLogin");
    }
    let password = match password {
        Some(Value::String(p)) => p,
        _ => return error("accounts.matchFailed"),
    };
    if !matches!(user_param, Value::String(_) | Value::Object(_)) {
        return error("accounts.matchFailed");
    }

    let mut inner = sim.lock();
    let Some(ix) = find_user(&inner.users, &user_param) else {
        return error("accounts.invalid_credentials");
    };
    let config = inner.config.clone();
    let u = &mut inner.users[ix];
    if u.locked_until.is_some_and(|t| now < t) {
        return error(LOCKED_MESSAGE);
    }
    let ok = password == sha256_hex(&u.plain_password)
        || (config.accept_plain_password && password == u.plain_password);
    if !ok {
        u.failed_logins += 1;
        if config.lockout_attempts > 0 && u.failed_logins >= config.lockout_attempts {
            u.locked_until = Some(now + TimeDelta::seconds(LOCKOUT_SECS));
            u.failed_logins = 0;
            tracing::info!(user = %u.id, "steedos: user locked out");
        }
        return error("accounts.invalid_credentials");
    }
    u.failed_logins = 0;
    u.locked_until = None;
    let user = u.clone();
    if config.mfa_users.iter().any(|k| user.matches(k)) {
        return json_res(
            StatusCode::OK,
            &json!({"_next": "TO_MOBILE_CODE_LOGIN", "mobile": user.mobile, "mobile_verified": true}),
        );
    }
    issue_session(&sim, &mut inner, &user, now)
}

fn code_login(sim: &Sim, user_param: &Value, code: &Value, now: DateTime<Utc>) -> Response {
    let mut inner = sim.lock();
    let Some(ix) = find_user(&inner.users, user_param) else {
        return error("accounts.invalid_code");
    };
    let user = inner.users[ix].clone();
    let given = match code {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Some(stored) = inner.codes.get_mut(&user.id) else {
        return error("accounts.invalid_code");
    };
    if now >= stored.expires || stored.failures >= CODE_MAX_FAILURES {
        inner.codes.remove(&user.id);
        return error("accounts.invalid_code");
    }
    if stored.code != given {
        stored.failures += 1;
        return error("accounts.invalid_code");
    }
    inner.codes.remove(&user.id);
    let u = &mut inner.users[ix];
    u.failed_logins = 0;
    u.locked_until = None;
    issue_session(sim, &mut inner, &user, now)
}

fn make_jwts(sim: &Sim, user: &User, now: DateTime<Utc>) -> (String, String) {
    let iat = now.timestamp();
    let access = jwt_hs256(
        &sim.secret,
        &json!({
            "data": {"isImpersonated": false, "userId": user.id, "name": user.name, "email": user.email},
            "iat": iat,
            "exp": iat + ACCESS_TTL_SECS,
        }),
    );
    let refresh = jwt_hs256(
        &sim.secret,
        &json!({"iat": iat, "exp": iat + REFRESH_TTL_SECS}),
    );
    (access, refresh)
}

fn spaces_doc() -> Value {
    json!([{"_id": SPACE_ID, "name": SPACE_NAME, "user_accepted": true, "invite_state": "accepted"}])
}

fn issue_session(sim: &Sim, inner: &mut Inner, user: &User, now: DateTime<Utc>) -> Response {
    let token = random_hex(43);
    let session_id = random_hex(12);
    let (access, refresh) = make_jwts(sim, user, now);
    inner.sessions.insert(
        token.clone(),
        Session {
            id: session_id.clone(),
            user_id: user.id.clone(),
            token: token.clone(),
            valid: true,
            access_token: access.clone(),
        },
    );
    tracing::debug!(user = %user.id, "steedos: session issued");
    let body = json!({
        "sessionId": session_id,
        "token": token,
        "tokens": {"refreshToken": refresh, "accessToken": access},
        "space": SPACE_ID,
        "spaces": spaces_doc(),
        "user": user.doc(),
    });
    let mut r = json_res(StatusCode::OK, &body);
    set_cookie(&mut r, "X-User-Id", &user.id, now);
    set_cookie(&mut r, "X-Auth-Token", &token, now);
    set_cookie(&mut r, "X-Access-Token", &access, now);
    r
}

async fn send_code(State(sim): State<Sim>, body: Bytes) -> Response {
    sim.shared.stats.hit("steedos.send_code");
    let body = parse_body(&body);
    let user_param = body.get("user").cloned().unwrap_or(Value::Null);
    let now = sim.shared.clock.now();
    let mut inner = sim.lock();
    let Some(ix) = find_user(&inner.users, &user_param) else {
        return json_res(StatusCode::OK, &Value::Null);
    };
    let user = inner.users[ix].clone();
    let by_email = user_param
        .get("email")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
        || user_param.as_str().is_some_and(looks_like_email);
    let destination = if by_email {
        user.email.clone()
    } else {
        user.mobile.clone()
    };
    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    inner.codes.insert(
        user.id.clone(),
        Code {
            code,
            destination,
            expires: now + TimeDelta::seconds(CODE_TTL_SECS),
            failures: 0,
        },
    );
    json_res(StatusCode::OK, &Value::String(user.id))
}

// ---------------------------------------------------------------------------------------------
// Later calls

/// `userLoader`: cookie `X-Auth-Token` first, else `Authorization` with `Bearer ` stripped and
/// the FIRST comma-separated part taken.
fn user_loader_token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = cookie(headers, "X-Auth-Token") {
        return Some(t.to_owned());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let t = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("BEARER "))
        .unwrap_or(auth);
    let t = t.split(',').next().unwrap_or("").trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn valid_session_user(inner: &Inner, token: &str) -> Option<User> {
    let s = inner.sessions.get(token).filter(|s| s.valid)?;
    inner.users.iter().find(|u| u.id == s.user_id).cloned()
}

async fn current_user(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    sim.shared.stats.hit("steedos.user");
    let inner = sim.lock();
    let user = user_loader_token(&headers).and_then(|t| valid_session_user(&inner, &t));
    let Some(user) = user else {
        return error("userNotFound");
    };
    let mut doc = user.doc();
    doc["userId"] = json!(user.id);
    doc["spaces"] = json!([{"_id": SPACE_ID, "name": SPACE_NAME, "logo_url": ""}]);
    json_res(StatusCode::OK, &doc)
}

/// `@steedos/auth` `auth()`: `Bearer <spaceId>,<token>`, or `X-Auth-Token`/`X-Space-Id` as
/// headers or cookies.
async fn validate(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    sim.shared.stats.hit("steedos.validate");
    let header_str = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    let mut space = None;
    let mut token = None;
    let space_token = header_str("authorization")
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("BEARER "))
        })
        .and_then(|rest| rest.split_once(','));
    if let Some((s, t)) = space_token {
        space = Some(s.trim().to_owned());
        token = Some(t.trim().to_owned());
    }
    if token.is_none() {
        token = header_str("x-auth-token")
            .or_else(|| cookie(&headers, "X-Auth-Token"))
            .map(str::to_owned);
        space = header_str("x-space-id")
            .or_else(|| cookie(&headers, "X-Space-Id"))
            .map(str::to_owned);
    }
    let now = sim.shared.clock.now();
    let inner = sim.lock();
    let user = token.as_deref().and_then(|t| valid_session_user(&inner, t));
    match (user, space.as_deref(), token) {
        (Some(user), Some(SPACE_ID), Some(token)) => {
            let body = json!({
                "userId": user.id,
                "spaceId": SPACE_ID,
                "authToken": token,
                "name": user.name,
                "username": user.username,
                "email": user.email,
                "mobile": user.mobile,
                "locale": "zh-cn",
                "utcOffset": 8,
                "roles": ["user"],
                "profile": "user",
                "is_space_admin": false,
                "space": {"_id": SPACE_ID, "name": SPACE_NAME},
                "password_expired": false,
            });
            let mut r = json_res(StatusCode::OK, &body);
            set_cookie(&mut r, "X-User-Id", &user.id, now);
            set_cookie(&mut r, "X-Auth-Token", &token, now);
            set_cookie(&mut r, "X-Space-Id", SPACE_ID, now);
            r
        }
        _ => {
            let mut r = (StatusCode::UNAUTHORIZED, VALIDATE_401).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            r
        }
    }
}

async fn logout(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    sim.shared.stats.hit("steedos.logout");
    // logout.ts: cookie first, else `authorization.replace('Bearer ', 'token')` (sic).
    let token = cookie(&headers, "X-Auth-Token")
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(|a| a.replacen("Bearer ", "token", 1))
        });
    if let Some(token) = token {
        let mut inner = sim.lock();
        if let Some(s) = inner.sessions.get_mut(&token) {
            s.valid = false;
        }
    }
    let mut r = json_res(StatusCode::OK, &Value::Null);
    for c in ["X-User-Id", "X-Auth-Token", "X-Access-Token", "X-Space-Id"] {
        clear_cookie(&mut r, c);
    }
    r
}

async fn refresh_tokens(State(sim): State<Sim>, body: Bytes) -> Response {
    sim.shared.stats.hit("steedos.refresh");
    let body = parse_body(&body);
    let (Some(access), Some(refresh)) = (
        body.get("accessToken").and_then(Value::as_str),
        body.get("refreshToken").and_then(Value::as_str),
    ) else {
        return error("An accessToken and refreshToken are required");
    };
    let now = sim.shared.clock.now();
    let refresh_ok = jwt_verify_hs256(&sim.secret, refresh)
        .and_then(|p| p.get("exp").and_then(Value::as_i64))
        .is_some_and(|exp| exp > now.timestamp());
    // The access token is only decoded (expiry ignored), but it must be ours.
    let access_payload = jwt_verify_hs256(&sim.secret, access);
    if !refresh_ok || access_payload.is_none() {
        return error("Tokens are not valid");
    }
    let mut inner = sim.lock();
    if !inner.config.refresh_tokens_work {
        // accounts-server reads `data.token` from the access JWT; Steedos stopped putting it
        // there in 2022, so no session is ever found.
        return error("Session not found");
    }
    let Some(session) = inner
        .sessions
        .values()
        .find(|s| s.access_token == access)
        .cloned()
    else {
        return error("Session not found");
    };
    if !session.valid {
        return error("Invalid Session");
    }
    let Some(user) = inner
        .users
        .iter()
        .find(|u| u.id == session.user_id)
        .cloned()
    else {
        return error("User not found");
    };
    let (new_access, new_refresh) = make_jwts(&sim, &user, now);
    if let Some(s) = inner.sessions.get_mut(&session.token) {
        s.access_token = new_access.clone();
    }
    json_res(
        StatusCode::OK,
        &json!({
            "sessionId": session.id,
            "token": session.token,
            "tokens": {"refreshToken": new_refresh, "accessToken": new_access},
            "user": user.doc(),
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Control routes

impl Switches for Config {
    type Patch = ConfigPatch;
    fn apply(&mut self, patch: ConfigPatch) -> Result<(), String> {
        if let Some(v) = patch.mfa_users {
            self.mfa_users = v;
        }
        if let Some(v) = patch.accept_plain_password {
            self.accept_plain_password = v;
        }
        if let Some(v) = patch.lockout_attempts {
            self.lockout_attempts = v;
        }
        if let Some(v) = patch.refresh_tokens_work {
            self.refresh_tokens_work = v;
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
struct UserQuery {
    user: Option<String>,
}

async fn last_code(State(sim): State<Sim>, Query(q): Query<UserQuery>) -> Response {
    let inner = sim.lock();
    let now = sim.shared.clock.now();
    let code = match q.user.as_deref() {
        Some(key) => inner
            .users
            .iter()
            .find(|u| u.matches(key))
            .and_then(|u| inner.codes.get(&u.id)),
        None => inner.codes.values().max_by_key(|c| c.expires),
    };
    match code.filter(|c| c.expires > now) {
        Some(c) => json_res(
            StatusCode::OK,
            &json!({"code": c.code, "destination": c.destination}),
        ),
        None => json_res(StatusCode::NOT_FOUND, &json!({"error": "no code"})),
    }
}

#[derive(Deserialize)]
struct UserBody {
    user: String,
    #[serde(default)]
    password: Option<String>,
}

/// `/__sim/expire` and `/__sim/revoke`: every session of the user becomes `valid:false`.
async fn sim_invalidate(State(sim): State<Sim>, body: Bytes) -> Response {
    let Ok(b) = serde_json::from_slice::<UserBody>(&body) else {
        return json_res(
            StatusCode::BAD_REQUEST,
            &json!({"error": "want {\"user\"}"}),
        );
    };
    let mut inner = sim.lock();
    let Some(id) = inner
        .users
        .iter()
        .find(|u| u.matches(&b.user))
        .map(|u| u.id.clone())
    else {
        return json_res(StatusCode::NOT_FOUND, &json!({"error": "no such user"}));
    };
    let mut n = 0;
    for s in inner
        .sessions
        .values_mut()
        .filter(|s| s.user_id == id && s.valid)
    {
        s.valid = false;
        n += 1;
    }
    json_res(StatusCode::OK, &json!({"invalidated": n}))
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
    fn string_user_is_email_or_mobile_never_username() {
        let users = seed_users();
        assert_eq!(find_user(&users, &json!("alice@example.com")), Some(0));
        assert_eq!(find_user(&users, &json!("13800000002")), Some(1));
        assert_eq!(find_user(&users, &json!("alice")), None);
        assert_eq!(find_user(&users, &json!({"username": "ALICE"})), Some(0));
        assert_eq!(
            find_user(&users, &json!({"username": "", "mobile": "13800000001"})),
            Some(0)
        );
    }

    #[test]
    fn user_loader_takes_first_comma_part() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer space,tok"),
        );
        assert_eq!(user_loader_token(&h).as_deref(), Some("space"));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; X-Auth-Token=ck"),
        );
        assert_eq!(user_loader_token(&h).as_deref(), Some("ck"));
    }
}
