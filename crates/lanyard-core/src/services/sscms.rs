//! SiteServer CMS v6/v7 user API: `POST /api/v1/users/actions/login` (docs/services/sscms.md).
//!
//! - **Request**: `{"account", "password": lowercase hex MD5, "isAutoLogin": true,
//!   "isPersistent": true}` (v6 reads the first flag, v7 the second: a 7-day token instead of 1).
//! - **Two answer shapes**, told apart by their keys and remembered in `info.extra["api"]`:
//!   v6 `{"value": user, "accessToken", "expiresAt": "yyyy-MM-dd HH:mm:ss"}` (also the 2018
//!   shape `{"value": {"user", "accessToken"}}`), v7 `{"user", "accessToken"}`.
//! - **Expiry, v6.** `expiresAt` is the server's *local* time (now + 7 days) with no zone, so it
//!   is read in this order of preference:
//!   1. the token's own `ExpiresAt` claim, `"/Date(<ms>)/"` (UTC now + 7 days, in UTC
//!      milliseconds: unambiguous). The difference to `expiresAt` gives the server's UTC
//!      offset, kept in `info.extra["server_utc_offset"]` for display;
//!   2. without that claim, the offset is derived from the same answer: its `Date` header is
//!      the server's UTC "now", and `expiresAt − 7 days` its local "now"; the difference,
//!      rounded to 15 minutes and within −12 h…+14 h, is the offset;
//!   3. failing both, `expiresAt` is read as UTC+08:00 (China Standard Time, where SSCMS is
//!      made and mostly run).
//!
//!   The server actually accepts a v6 token until about 14 days (it compares `ExpiresAt + 7 d`
//!   with its clock); the 7-day value is the conservative one.
//! - **Expiry, v7**: the JWT `exp` claim.
//! - **No refresh endpoint**: tokens are stateless; renewing is a silent re-login, which the
//!   Manager does with the remembered password. `refresh` is therefore `Unsupported`.
//! - **Validate, v6**: `GET /api/v1/users/{id}` with `X-SS-USER-TOKEN` (the route answers the
//!   token's own user). 200 → valid; 401/404 (its answers for a refused token or a user
//!   that is gone) → `Invalid(Expired)` if `expires_at` has passed, else `Invalid(Revoked)`.
//!   A 403 is not among its answers (a proxy or firewall refusing): an error, the session kept.
//! - **Validate, v7**: `Unverifiable`, without a request. v7's `GET /api/v1/users/{account}`
//!   answers API keys only, so a valid user token gets 401 there, and v7 has no other
//!   user route that only checks a token (logout ends the cached session). The session is kept
//!   until its JWT `exp`; a silent re-login with the remembered password renews it.
//! - **Logout**: `POST /api/v1/users/actions/logout`. It only clears a cookie (v6) or a cached
//!   session id (v7): the token itself is not revoked, the caller forgets it locally. A refusal
//!   below 500 is not an error (the token may already be dead).
//! - **Errors**: login failures are HTTP 400 `{"message"}` (wrong password, locked, not
//!   approved) → `CredentialsRejected` keeping the server's text (e.g. "帐号或密码错误").

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::support::{
    clean_server_text, endpoint_url, jwt_claims, jwt_exp, md5_hex, server_message,
};
use super::{Credential, Ctx, LoginOutcome, Pending, Progress, Service, Validation};
use crate::error::{Error, Result};
use crate::http::Response;
use crate::model::{
    Account, Capabilities, NeedsLoginReason, ServiceId, ServiceSpec, Session, SessionInfo,
    SessionTokens,
};
use crate::secret::SecretString;

pub static SPEC: ServiceSpec = ServiceSpec {
    id: ServiceId::Sscms,
    display_name: "SiteServer CMS",
    description: "SiteServer CMS v6 and v7 user API",
    user_label: "User name, mobile number or email",
    default_endpoint: None,
    endpoint_help: "Base URL of the CMS, e.g. https://cms.example.com",
    options: &[],
    capabilities: Capabilities {
        refresh: false,
        validate: true,
        logout: true,
        captcha: false,
        second_factor: false,
        code_login: false,
        expires: true,
    },
    token_form: "X-SS-USER-TOKEN: <token> (v6) or Authorization: Bearer <token> (v7)",
};

/// The SiteServer CMS service.
pub struct Sscms;

const LOGIN: &str = "api/v1/users/actions/login";
const LOGOUT: &str = "api/v1/users/actions/logout";
/// v6 `Constants.AccessTokenExpireDays`.
const V6_LIFETIME_DAYS: i64 = 7;
/// Used when the answer says nothing about the server's zone (see the module docs).
const DEFAULT_UTC_OFFSET_SECS: i32 = 8 * 3600;

/// Which API generation answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V6,
    V7,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::V6 => "v6",
            Api::V7 => "v7",
        }
    }
    fn of(info: &SessionInfo) -> Api {
        match info.extra.get("api").map(String::as_str) {
            Some("v7") => Api::V7,
            _ => Api::V6,
        }
    }
}

/// A v6 `"yyyy-MM-dd HH:mm:ss"` (server local time, no zone).
pub fn parse_local_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// A .NET JavaScriptSerializer date, `"/Date(1529367474165)/"` (UTC milliseconds, an optional
/// `+0800` suffix that does not change the instant).
pub fn parse_dotnet_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim().replace("\\/", "/");
    let inner = text.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let digits_end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(inner.len(), |(i, _)| i);
    let ms: i64 = inner[..digits_end].parse().ok()?;
    DateTime::from_timestamp_millis(ms)
}

fn round_offset(delta: TimeDelta) -> Option<FixedOffset> {
    let quarter = 15 * 60;
    let secs = delta.num_seconds();
    let rounded = ((secs as f64) / quarter as f64).round() as i64 * quarter;
    if !(-12 * 3600..=14 * 3600).contains(&rounded) {
        return None;
    }
    FixedOffset::east_opt(rounded as i32)
}

/// The v6 session expiry and, when known, the server's UTC offset (see the module docs).
pub fn v6_expiry(
    token: &str,
    expires_at_text: Option<&str>,
    date_header: Option<&str>,
) -> (Option<DateTime<Utc>>, Option<FixedOffset>) {
    let local = expires_at_text.and_then(parse_local_datetime);
    let from_jwt = jwt_claims(token).and_then(|c| {
        c.get("ExpiresAt")
            .and_then(Value::as_str)
            .and_then(parse_dotnet_date)
    });
    if let Some(exact) = from_jwt {
        let offset = local.and_then(|l| round_offset(l - exact.naive_utc()));
        return (Some(exact), offset);
    }
    let Some(local) = local else {
        return (None, None);
    };
    let server_now_utc = date_header
        .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
        .map(|d| d.naive_utc());
    let derived = server_now_utc
        .and_then(|utc| round_offset((local - TimeDelta::days(V6_LIFETIME_DAYS)) - utc));
    let offset = derived
        .unwrap_or_else(|| FixedOffset::east_opt(DEFAULT_UTC_OFFSET_SECS).expect("valid offset"));
    let expiry = local
        .and_local_timezone(offset)
        .single()
        .map(|d| d.with_timezone(&Utc));
    (expiry, derived)
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn apply_user(info: &mut SessionInfo, user: &Value) {
    if let Some(id) = user.get("id").or_else(|| user.get("Id")).and_then(id_text) {
        info.user_id = Some(clean_server_text(&id));
    }
    let name = ["displayName", "userName", "DisplayName", "UserName"]
        .iter()
        .find_map(|k| {
            user.get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        });
    if let Some(name) = name {
        info.display_name = Some(clean_server_text(name));
    }
}

/// Interpret a successful login answer (either generation).
fn parse_login(ctx: &Ctx<'_>, resp: &Response) -> Result<Session> {
    let v: Value = resp.json()?;
    let (api, user, token, expires_text) = if let Some(user) =
        v.get("user").filter(|u| u.is_object())
    {
        (Api::V7, user, v.get("accessToken"), None)
    } else if let Some(value) = v.get("value").filter(|u| u.is_object()) {
        match value.get("user").filter(|u| u.is_object()) {
            // The 2018 shape: {"value":{"user":{…},"accessToken":"…"}}.
            Some(user) if value.get("accessToken").is_some() => (
                Api::V6,
                user,
                value.get("accessToken"),
                value.get("expiresAt"),
            ),
            _ => (Api::V6, value, v.get("accessToken"), v.get("expiresAt")),
        }
    } else {
        return Err(resp.unexpected("the login answer has neither `value` (v6) nor `user` (v7)"));
    };
    let token = token
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| resp.unexpected("no accessToken in the login answer"))?;

    let mut info = SessionInfo {
        obtained_at: Some(ctx.now),
        ..Default::default()
    };
    info.extra.insert("api".into(), api.as_str().into());
    apply_user(&mut info, user);
    if info.user_id.is_none() {
        info.user_id = jwt_claims(token).and_then(|c| c.get("UserId").and_then(id_text));
    }
    match api {
        Api::V6 => {
            let (expiry, offset) = v6_expiry(
                token,
                expires_text.and_then(Value::as_str),
                resp.header("date"),
            );
            info.expires_at = expiry;
            if let Some(offset) = offset {
                info.extra
                    .insert("server_utc_offset".into(), offset.to_string());
            }
        }
        Api::V7 => info.expires_at = jwt_exp(token),
    }
    let tokens = SessionTokens {
        access: SecretString::new(token),
        ..Default::default()
    };
    Ok(Session { tokens, info })
}

fn token_header(api: Api, token: &SecretString) -> (&'static str, String) {
    match api {
        Api::V6 => ("X-SS-USER-TOKEN", token.expose().to_string()),
        Api::V7 => ("Authorization", format!("Bearer {}", token.expose())),
    }
}

#[async_trait]
impl Service for Sscms {
    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    async fn begin_login(
        &self,
        ctx: &Ctx<'_>,
        password: Option<&SecretString>,
    ) -> Result<Progress> {
        let password = match password {
            Some(p) if !p.is_empty() => p,
            _ => return Err(Error::invalid_input("SiteServer CMS needs a password")),
        };
        let user = ctx.account.user.trim();
        if user.is_empty() {
            return Err(Error::invalid_input(
                "SiteServer CMS needs a user name, mobile number or e-mail",
            ));
        }
        let http = ctx.client()?;
        let url = endpoint_url(ctx.account, LOGIN)?;
        let body = json!({
            "account": user,
            "password": md5_hex(password.expose()),
            "isAutoLogin": true,
            "isPersistent": true,
        });
        let resp = http.execute(http.post(url).json(&body)).await?;
        match resp.status {
            200..=299 => Ok(Progress::Done(Box::new(LoginOutcome::new(parse_login(
                ctx, &resp,
            )?)))),
            400 | 401 | 403 => {
                let err = Error::credentials_rejected("SiteServer CMS refused the login");
                Err(
                    match resp.json::<Value>().ok().as_ref().and_then(server_message) {
                        Some(m) => err.with_server_message(m),
                        None => err,
                    },
                )
            }
            404 => Err(Error::server(format!(
                "no SiteServer CMS user API at {} (HTTP 404); check the endpoint",
                resp.host()
            ))),
            429 => Err(Error::server(
                "SiteServer CMS is rate limiting logins (HTTP 429); try again later",
            )),
            _ => Err(resp.status_error()),
        }
    }

    async fn answer(
        &self,
        _ctx: &Ctx<'_>,
        _pending: Pending,
        _answer: &SecretString,
    ) -> Result<Progress> {
        Err(Error::internal(
            "SiteServer CMS logins have no challenge step",
        ))
    }

    async fn validate(&self, ctx: &Ctx<'_>, session: &Session) -> Result<Validation> {
        let api = Api::of(&session.info);
        if api == Api::V7 {
            return Ok(Validation::Unverifiable(
                "SiteServer CMS v7 answers user look-ups for API keys only, so it cannot say whether a user token still works"
                    .to_owned(),
            ));
        }
        let id = session
            .info
            .user_id
            .clone()
            .or_else(|| {
                jwt_claims(session.tokens.access.expose())
                    .and_then(|c| c.get("UserId").and_then(id_text))
            })
            .ok_or_else(|| {
                Error::internal("the SiteServer CMS session has no user id to validate")
            })?;
        let http = ctx.client()?;
        let mut url = endpoint_url(ctx.account, "api/v1/users/")?;
        url.path_segments_mut()
            .map_err(|_| Error::internal("endpoint cannot take a path"))?
            .pop_if_empty()
            .push(&id);
        let (name, value) = token_header(api, &session.tokens.access);
        let resp = http.execute(http.get(url).header(name, value)).await?;
        match resp.status {
            200..=299 => {
                let v: Value = resp.json()?;
                let user = v.get("value").filter(|u| u.is_object()).unwrap_or(&v);
                let mut info = session.info.clone();
                apply_user(&mut info, user);
                Ok(Validation::Valid(Some(info)))
            }
            403 => Err(Error::server(format!(
                "{} refused the session check (HTTP 403) without saying the session is over; it is kept",
                resp.host()
            ))),
            401 | 404 => {
                let expired = session.info.expires_at.is_some_and(|t| t <= ctx.now);
                Ok(Validation::Invalid(if expired {
                    NeedsLoginReason::Expired
                } else {
                    NeedsLoginReason::Revoked
                }))
            }
            _ => Err(resp.status_error()),
        }
    }

    async fn logout(&self, ctx: &Ctx<'_>, session: &Session) -> Result<()> {
        let http = ctx.client()?;
        let url = endpoint_url(ctx.account, LOGOUT)?;
        let (name, value) = token_header(Api::of(&session.info), &session.tokens.access);
        let resp = http
            .execute(http.post(url).header(name, value).json(&json!({})))
            .await?;
        if !resp.is_success() {
            tracing::debug!(
                status = resp.status,
                "sscms logout refused; the token is forgotten locally anyway"
            );
        }
        Ok(())
    }

    fn credential(&self, _account: &Account, session: &Session) -> Credential {
        let (name, value) = token_header(Api::of(&session.info), &session.tokens.access);
        Credential::Header {
            name: name.into(),
            value: SecretString::new(value),
        }
    }

    /// The user's own record (on v7 that route wants an API key, which a curl user adds).
    fn api_example(&self, session: &Session) -> (&'static str, String) {
        let id = session.info.user_id.as_deref().unwrap_or("1");
        ("GET", format!("/api/v1/users/{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn jwt(payload: &Value) -> String {
        format!(
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload.to_string())
        )
    }

    #[test]
    fn dotnet_and_local_dates() {
        assert_eq!(
            parse_dotnet_date("/Date(1529367474165)/")
                .unwrap()
                .timestamp_millis(),
            1529367474165
        );
        assert_eq!(
            parse_dotnet_date("/Date(1529367474165+0800)/")
                .unwrap()
                .timestamp_millis(),
            1529367474165
        );
        assert_eq!(
            parse_dotnet_date(r"\/Date(1000)\/")
                .unwrap()
                .timestamp_millis(),
            1000
        );
        assert!(parse_dotnet_date("2020-01-01").is_none());
        assert_eq!(
            parse_local_datetime("2020-06-07 12:00:00")
                .unwrap()
                .to_string(),
            "2020-06-07 12:00:00"
        );
        assert!(parse_local_datetime("07/06/2020").is_none());
    }

    #[test]
    fn v6_expiry_prefers_the_token_claim() {
        // Issued 2020-05-31 04:00:00 UTC on a UTC+08:00 server.
        let exact = DateTime::parse_from_rfc3339("2020-06-07T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let token = jwt(&json!({"UserId": 1, "UserName": "demo",
            "ExpiresAt": format!("/Date({})/", exact.timestamp_millis())}));
        let (exp, offset) = v6_expiry(&token, Some("2020-06-07 12:00:00"), None);
        assert_eq!(exp, Some(exact));
        assert_eq!(offset.unwrap().to_string(), "+08:00");
    }

    #[test]
    fn v6_expiry_from_the_date_header_then_the_default() {
        let token = jwt(&json!({"UserId": 1}));
        // Server in UTC-05:00: local now 07:00:03, UTC now 12:00:00.
        let (exp, offset) = v6_expiry(
            &token,
            Some("2020-06-08 07:00:03"),
            Some("Mon, 01 Jun 2020 12:00:00 GMT"),
        );
        assert_eq!(offset.unwrap().to_string(), "-05:00");
        assert_eq!(exp.unwrap().to_rfc3339(), "2020-06-08T12:00:03+00:00");
        // No claim, no Date: read as UTC+08:00.
        let (exp, offset) = v6_expiry(&token, Some("2020-06-08 08:00:00"), None);
        assert!(offset.is_none());
        assert_eq!(exp.unwrap().to_rfc3339(), "2020-06-08T00:00:00+00:00");
        // A Date header that makes no sense (offset beyond 14 h) falls back too.
        let (exp, offset) = v6_expiry(
            &token,
            Some("2020-06-08 08:00:00"),
            Some("Mon, 01 Jan 2001 00:00:00 GMT"),
        );
        assert!(offset.is_none());
        assert_eq!(exp.unwrap().to_rfc3339(), "2020-06-08T00:00:00+00:00");
        // Nothing at all.
        assert_eq!(v6_expiry(&token, None, None), (None, None));
    }

    #[test]
    fn headers_by_generation() {
        let t = SecretString::new("tok");
        assert_eq!(
            token_header(Api::V6, &t),
            ("X-SS-USER-TOKEN", "tok".to_string())
        );
        assert_eq!(
            token_header(Api::V7, &t),
            ("Authorization", "Bearer tok".to_string())
        );
    }
}
