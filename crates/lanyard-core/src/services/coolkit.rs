//! CoolKit / eWeLink cloud, API v1 and v2, HMAC-signed (docs/services/coolkit.md).
//!
//! - [`sign`]: HMAC-SHA256/Base64 over the exact bytes sent (POST body, or sorted GET query).
//! - [`v1`]: `/api/user/login` (301 region redirect), `GET /api/user/refresh`, and a device
//!   list call as the token check; v1 has no logout.
//! - [`v2`]: `/v2/user/login` (10004 redirect), `/v2/user/refresh` (rt may rotate),
//!   `/v2/user/profile`, `DELETE /v2/user/logout`.
//!
//! Region redirects are followed here, re-signed for the new host, and the region ends up in
//! both the session (`info.extra["region"]`, so keep-alive talks to the host that issued the
//! tokens) and `LoginOutcome::remember_options["region"]` (so the next login starts there).
//! The session also records `info.extra["api"]`: a session is refreshed with the API that
//! issued it. The server sends no expiry; the documented lifetimes (at 30 days, rt 60 days)
//! give `expires_at` and `refresh_expires_at`.

mod sign;
mod v1;
mod v2;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderValue;
use serde_json::Value;
use url::Url;

use super::support::clean_server_text;
use super::{
    Credential, Ctx, LoginOutcome, Pending, Progress, RefreshOutcome, Service, Validation,
};
use crate::error::{Error, Result};
use crate::http::{Http, Response};
use crate::model::{
    Account, Capabilities, OptionKind, OptionSpec, ServiceId, ServiceSpec, Session, SessionInfo,
    SessionTokens,
};
use crate::secret::SecretString;

pub static SPEC: ServiceSpec = ServiceSpec {
    id: ServiceId::Coolkit,
    display_name: "CoolKit / eWeLink",
    description: "CoolKit / eWeLink cloud account (API v2, or legacy v1)",
    user_label: "Email, or phone number with country code (+86…)",
    default_endpoint: Some("https://{region}-apia.coolkit.cc"),
    endpoint_help: "URL template; {region} is replaced by cn, as, eu or us. The default follows the official hosts (cn uses .cn)",
    options: &[
        OptionSpec {
            key: "api",
            label: "API version",
            help: "v2 is what the servers require today; v1 is the legacy signed API on port 8080",
            kind: OptionKind::Choice(&["v2", "v1"]),
            required: false,
            default: Some("v2"),
            secret: false,
        },
        OptionSpec {
            key: "appid",
            label: "App ID",
            help: "APPID issued by CoolKit",
            kind: OptionKind::Text,
            required: true,
            default: None,
            secret: false,
        },
        OptionSpec {
            key: "appsecret",
            label: "App secret",
            help: "Key for the HMAC-SHA256 request signature",
            kind: OptionKind::Secret,
            required: true,
            default: None,
            secret: true,
        },
        OptionSpec {
            key: "region",
            label: "Region",
            help: "Region to try first; a redirect from the server updates it",
            kind: OptionKind::Choice(&["cn", "as", "eu", "us"]),
            required: false,
            default: Some("us"),
            secret: false,
        },
        OptionSpec {
            key: "country_code",
            label: "Country code",
            help: "Telephone country code sent with v2 logins, e.g. +86 or +1",
            kind: OptionKind::Text,
            required: false,
            default: Some("+1"),
            secret: false,
        },
    ],
    capabilities: Capabilities {
        refresh: true,
        validate: true,
        logout: true,
        captcha: false,
        second_factor: false,
        code_login: false,
        expires: true,
    },
    token_form: "Authorization: Bearer <at>",
};

/// The template the Manager stores when the user gives no endpoint. It stands for "the official
/// hosts", which differ per API version and region (docs/services/coolkit.md "Hosts and regions"):
/// v2 `https://{region}-apia.coolkit.cc` (cn: `https://cn-apia.coolkit.cn`),
/// v1 `https://{region}-api.coolkit.cc:8080` (cn: `https://cn-api.coolkit.cn:8080`).
/// Any other template is a plain `{region}` substitution (simulators, proxies, mirrors).
pub const OFFICIAL_TEMPLATE: &str = "https://{region}-apia.coolkit.cc";

/// Documented token lifetimes: "at is valid for one month and rt for two months".
/// The server sends no expiry, so these are estimates; validation tells the truth.
const AT_LIFETIME_DAYS: i64 = 30;
const RT_LIFETIME_DAYS: i64 = 60;

/// Region redirects (v1 `301`, v2 `10004`) followed per login before giving up.
const MAX_REGION_HOPS: usize = 2;

/// Which API generation an account speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V1,
    V2,
}

impl Api {
    pub fn parse(s: &str) -> Result<Api> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "v2" | "2" => Ok(Api::V2),
            "v1" | "1" => Ok(Api::V1),
            other => Err(Error::invalid_input(format!(
                "CoolKit option api must be v1 or v2, not '{other}'"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Api::V1 => "v1",
            Api::V2 => "v2",
        }
    }
}

/// The base URL for a region: the official host for [`OFFICIAL_TEMPLATE`] (or no template),
/// else the template with `{region}` replaced. No trailing slash.
pub fn base_url(api: Api, template: &str, region: &str) -> String {
    let template = template.trim().trim_end_matches('/');
    if template.is_empty() || template == OFFICIAL_TEMPLATE {
        return match (api, region) {
            (Api::V2, "cn") => "https://cn-apia.coolkit.cn".to_string(),
            (Api::V2, r) => format!("https://{r}-apia.coolkit.cc"),
            (Api::V1, "cn") => "https://cn-api.coolkit.cn:8080".to_string(),
            (Api::V1, r) => format!("https://{r}-api.coolkit.cc:8080"),
        };
    }
    template.replace("{region}", region)
}

/// A region name we are willing to put into a host name: short, lowercase ASCII letters. A
/// redirect to anything else is refused rather than followed.
fn is_region(r: &str) -> bool {
    (2..=8).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase())
}

/// What the account logs in with: `email` or `phoneNumber` (with country code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginId {
    Email(String),
    Phone(String),
}

impl LoginId {
    /// `@` → email; a leading `+` → phone as given; bare digits → phone with the country code
    /// prefixed (the servers want `+8613…`). Spaces and dashes in phone numbers are dropped.
    pub fn parse(user: &str, country_code: &str) -> Result<LoginId> {
        let user = user.trim();
        if user.contains('@') {
            return Ok(LoginId::Email(user.to_string()));
        }
        let digits: String = user.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let (plus, rest) = match digits.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, digits.as_str()),
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid_input(
                "CoolKit logs in with an email address or a phone number with its country code (+86…)",
            ));
        }
        if plus {
            Ok(LoginId::Phone(digits))
        } else {
            Ok(LoginId::Phone(format!("{country_code}{rest}")))
        }
    }
}

/// `+86`, `86` or ` +1 ` → `+86` / `+1`.
fn normalize_country_code(cc: &str) -> Result<String> {
    let digits = cc.trim().trim_start_matches('+');
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_input(format!(
            "CoolKit country_code must look like +1 or +86, not '{}'",
            cc.trim()
        )));
    }
    Ok(format!("+{digits}"))
}

/// Everything a CoolKit call needs, resolved from the account, its secret options and (for
/// calls on an existing session) the session's own facts.
pub(crate) struct Config<'a> {
    /// The account's client (its `proxy` option applies).
    http: Http,
    api: Api,
    appid: String,
    secret: &'a SecretString,
    /// Where to talk first: the session's region, else the account's `region` option.
    region: String,
    template: String,
    /// Normalised `+<digits>`.
    country_code: String,
}

impl<'a> Config<'a> {
    fn new(ctx: &'a Ctx<'_>, session: Option<&Session>) -> Result<Config<'a>> {
        let account = ctx.account;
        let session_fact = |key: &str| {
            session
                .and_then(|s| s.info.extra.get(key))
                .map(String::as_str)
        };
        // A session is tied to the API and region that issued it.
        let api = Api::parse(
            session_fact("api")
                .or(account.option("api"))
                .unwrap_or("v2"),
        )?;
        let appid = account
            .option("appid")
            .map(str::trim)
            .unwrap_or("")
            .to_string();
        if appid.is_empty() {
            return Err(Error::invalid_input(
                "CoolKit needs the app id issued by CoolKit (option appid)",
            ));
        }
        let secret = match ctx.secret_option("appsecret") {
            Some(s) if !s.expose().trim().is_empty() => s,
            _ => {
                return Err(Error::invalid_input(
                    "CoolKit needs the app secret that signs requests (option appsecret)",
                ));
            }
        };
        let region = session_fact("region")
            .or(account.option("region"))
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("us")
            .to_ascii_lowercase();
        if !is_region(&region) {
            return Err(Error::invalid_input(format!(
                "CoolKit region must be cn, as, eu or us, not '{region}'"
            )));
        }
        let country_code = match account
            .option("country_code")
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(cc) => normalize_country_code(cc)?,
            // No explicit code: a +86 phone number or the cn region says China, else +1 (the spec default).
            None if account.user.trim().starts_with("+86") || region == "cn" => "+86".to_string(),
            None => "+1".to_string(),
        };
        let http = ctx.client()?;
        Ok(Config {
            http,
            api,
            appid,
            secret,
            region,
            template: account.endpoint.clone(),
            country_code,
        })
    }

    fn base_url(&self, region: &str) -> String {
        base_url(self.api, &self.template, region)
    }

    /// `base + path_and_query`. The error names the base only: a query may carry a token.
    fn url(&self, region: &str, path_and_query: &str) -> Result<Url> {
        let base = self.base_url(region);
        Url::parse(&format!("{base}{path_and_query}")).map_err(|e| {
            Error::invalid_input(format!("CoolKit endpoint '{base}' is not a valid URL: {e}"))
        })
    }

    fn login_id(&self, user: &str) -> Result<LoginId> {
        LoginId::parse(user, &self.country_code)
    }
}

/// A header value that reqwest's `Debug` will not print.
fn sensitive(value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::invalid_input(
            "a CoolKit token or signature contains characters a header cannot carry",
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn bearer(session: &Session) -> Result<HeaderValue> {
    if session.tokens.access.is_empty() {
        return Err(Error::needs_login(
            "there is no CoolKit access token; log in again",
        ));
    }
    sensitive(&format!("Bearer {}", session.tokens.access.expose()))
}

/// A CoolKit answer: the body's `error` code (0 when absent: v1 successes carry none) and
/// the JSON. The body decides, whatever the HTTP status; a non-JSON 4xx answer
/// stands for its status code.
struct Answer {
    code: i64,
    json: Value,
}

impl Answer {
    fn from_response(resp: &Response) -> Result<Answer> {
        match resp.json::<Value>() {
            Ok(json) => {
                let code = match &json["error"] {
                    Value::Number(n) => n.as_i64().unwrap_or(-1),
                    // The v1 refresh table types `error` as a string.
                    Value::String(s) => s.trim().parse().unwrap_or(-1),
                    _ => 0,
                };
                Ok(Answer { code, json })
            }
            Err(_) if resp.status == 403 => Err(quota_error(403, None)),
            Err(_) if resp.status >= 400 => Ok(Answer {
                code: resp.status.into(),
                json: Value::Null,
            }),
            Err(e) => Err(e),
        }
    }

    /// The server's words: `msg` or `info` (both occur).
    fn text(&self) -> String {
        ["msg", "info"]
            .iter()
            .filter_map(|k| self.json[*k].as_str())
            .map(clean_server_text)
            .find(|s| !s.is_empty())
            .map(|s| s.chars().take(200).collect())
            .unwrap_or_default()
    }

    /// The region a redirect points at (v1: top-level `region`; v2: `data.region`).
    fn redirect_region(&self) -> Option<String> {
        self.json["data"]["region"]
            .as_str()
            .or(self.json["region"].as_str())
            .map(|r| r.trim().to_ascii_lowercase())
    }
}

fn quota_error(code: i64, text: Option<String>) -> Error {
    Error::server(format!(
        "CoolKit refused the request ({code}): this app id's request quota is used up; try again later or use another app id"
    ))
    .with_server_message(text.unwrap_or_default())
}

/// Errors both generations share: signature and app id problems, quota, server faults.
fn common_error(code: i64, answer: &Answer) -> Option<Error> {
    let text = answer.text();
    let err = match code {
        406 => Error::invalid_input(
            "CoolKit rejected the app id or signature (406) — check appid/appsecret",
        ),
        407 => Error::invalid_input(
            "CoolKit does not allow this app id to call this API (407) — password login needs an app id that CoolKit has enabled for it",
        ),
        400 if text.to_ascii_lowercase().contains("sign") => Error::invalid_input(
            "CoolKit could not verify the request signature (400) — check appsecret",
        ),
        400 => {
            Error::server("CoolKit says the request is missing a parameter or has a bad one (400)")
        }
        403 | 412 => return Some(quota_error(code, Some(text))),
        500..=599 => Error::server(format!("CoolKit had a server error ({code})")),
        _ => return None,
    };
    Some(err.with_server_message(text))
}

fn unexpected(code: i64, answer: &Answer, what: &str) -> Error {
    Error::server(format!("CoolKit answered {what} with error {code}"))
        .with_server_message(answer.text())
}

/// A non-empty string field, or a ServerError naming it (never its value).
fn token_field(v: &Value, key: &str, what: &str) -> Result<SecretString> {
    match v[key].as_str().map(str::trim) {
        Some(t) if !t.is_empty() => Ok(SecretString::new(t)),
        _ => Err(Error::server(format!(
            "CoolKit's {what} answer has no {key}"
        ))),
    }
}

/// Display name and user id from a CoolKit `user` object.
fn user_facts(info: &mut SessionInfo, user: &Value) {
    let text = |k: &str| {
        user[k]
            .as_str()
            .map(clean_server_text)
            .filter(|s| !s.is_empty())
    };
    if let Some(name) = text("nickname")
        .or_else(|| text("email"))
        .or_else(|| text("phoneNumber"))
    {
        info.display_name = Some(name);
    }
    if let Some(id) = text("userid").or_else(|| text("apikey")) {
        info.user_id = Some(id);
    }
}

/// The session a login produced; expiries from the documented lifetimes.
fn new_session(
    now: DateTime<Utc>,
    api: Api,
    region: &str,
    at: SecretString,
    rt: SecretString,
    user: &Value,
) -> Session {
    let mut info = SessionInfo {
        obtained_at: Some(now),
        expires_at: Some(now + TimeDelta::days(AT_LIFETIME_DAYS)),
        refresh_expires_at: Some(now + TimeDelta::days(RT_LIFETIME_DAYS)),
        ..SessionInfo::default()
    };
    user_facts(&mut info, user);
    info.extra.insert("api".into(), api.as_str().into());
    info.extra.insert("region".into(), region.into());
    Session {
        tokens: SessionTokens {
            access: at,
            refresh: Some(rt),
            extra: BTreeMap::new(),
        },
        info,
    }
}

/// The session after a refresh: a new at from now; the rt replaced (and its expiry restarted)
/// only when the server rotated it.
fn refreshed_session(
    now: DateTime<Utc>,
    old: &Session,
    at: SecretString,
    rt: Option<SecretString>,
) -> Session {
    let mut session = old.clone();
    session.tokens.access = at;
    session.info.obtained_at = Some(now);
    session.info.expires_at = Some(now + TimeDelta::days(AT_LIFETIME_DAYS));
    if let Some(rt) = rt {
        let rotated = old
            .tokens
            .refresh
            .as_ref()
            .is_none_or(|old_rt| old_rt.expose() != rt.expose());
        if rotated {
            session.info.refresh_expires_at = Some(now + TimeDelta::days(RT_LIFETIME_DAYS));
        }
        session.tokens.refresh = Some(rt);
    }
    session
}

fn outcome(session: Session) -> LoginOutcome {
    let mut outcome = LoginOutcome::new(session);
    if let Some(region) = outcome.session.info.extra.get("region") {
        outcome
            .remember_options
            .insert("region".into(), region.clone());
    }
    outcome
}

fn refresh_token(session: &Session) -> Result<&SecretString> {
    match &session.tokens.refresh {
        Some(rt) if !rt.is_empty() => Ok(rt),
        _ => Err(Error::needs_login(
            "there is no CoolKit refresh token; log in again",
        )),
    }
}

/// Picks the next region after a redirect answer, or says why not.
fn next_region(answer: &Answer, current: &str, hops: usize) -> Result<String> {
    let region = answer.redirect_region().unwrap_or_default();
    if !is_region(&region) {
        return Err(Error::server(
            "CoolKit redirected the login to another region but did not say a valid one",
        )
        .with_server_message(answer.text()));
    }
    if region == current || hops >= MAX_REGION_HOPS {
        return Err(Error::server(format!(
            "CoolKit keeps redirecting the login between regions (last: {current} → {region}); set the region option by hand"
        )));
    }
    tracing::debug!(from = current, to = %region, "coolkit region redirect");
    Ok(region)
}

/// The CoolKit service.
pub struct Coolkit;

#[async_trait]
impl Service for Coolkit {
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
            _ => return Err(Error::invalid_input("CoolKit logs in with a password")),
        };
        let cfg = Config::new(ctx, None)?;
        let outcome = match cfg.api {
            Api::V1 => v1::login(ctx, &cfg, password).await?,
            Api::V2 => v2::login(ctx, &cfg, password).await?,
        };
        Ok(Progress::Done(Box::new(outcome)))
    }

    async fn answer(
        &self,
        _ctx: &Ctx<'_>,
        _pending: Pending,
        _answer: &SecretString,
    ) -> Result<Progress> {
        Err(Error::unsupported(
            "CoolKit logins never ask for a captcha or a code",
        ))
    }

    async fn refresh(&self, ctx: &Ctx<'_>, session: &Session) -> Result<RefreshOutcome> {
        let cfg = Config::new(ctx, Some(session))?;
        match cfg.api {
            Api::V1 => v1::refresh(ctx, &cfg, session).await,
            Api::V2 => v2::refresh(ctx, &cfg, session).await,
        }
    }

    async fn validate(&self, ctx: &Ctx<'_>, session: &Session) -> Result<Validation> {
        let cfg = Config::new(ctx, Some(session))?;
        match cfg.api {
            Api::V1 => v1::validate(&cfg, session).await,
            Api::V2 => v2::validate(&cfg, session).await,
        }
    }

    async fn logout(&self, ctx: &Ctx<'_>, session: &Session) -> Result<()> {
        let cfg = Config::new(ctx, Some(session))?;
        match cfg.api {
            // v1 documents no logout: forgetting the tokens is all there is.
            Api::V1 => Ok(()),
            Api::V2 => v2::logout(&cfg, session).await,
        }
    }

    fn credential(&self, _account: &Account, session: &Session) -> Credential {
        Credential::Header {
            name: "Authorization".into(),
            value: SecretString::new(format!("Bearer {}", session.tokens.access.expose())),
        }
    }

    /// The host of the region the session was issued in (a session belongs to its region).
    fn api_base(&self, ctx: &Ctx<'_>, session: &Session) -> Result<Url> {
        let cfg = Config::new(ctx, Some(session))?;
        cfg.url(&cfg.region, "")
    }

    /// `Authorization: Bearer <at>`, and on v2 the `X-CK-Appid` header. Only the calls made
    /// before there is a session (login, refresh, region lookup) are signed; after login every
    /// call is Bearer (docs/services/coolkit.md "Signatures").
    fn api_target(
        &self,
        ctx: &Ctx<'_>,
        session: &Session,
        path: &str,
    ) -> Result<crate::api::ApiTarget> {
        let cfg = Config::new(ctx, Some(session))?;
        let mut target = crate::api::default_target(
            &cfg.url(&cfg.region, "")?,
            self.credential(ctx.account, session),
            path,
        )?;
        if cfg.api == Api::V2 {
            target
                .headers
                .push(("X-CK-Appid".into(), SecretString::new(cfg.appid.clone())));
        }
        Ok(target)
    }

    /// The user's profile (v2), or the device list (v1, which has no user-info call).
    fn api_example(&self, session: &Session) -> (&'static str, String) {
        match session.info.extra.get("api").map(String::as_str) {
            Some("v1") => ("GET", "/api/user/device".to_owned()),
            _ => ("GET", "/v2/user/profile".to_owned()),
        }
    }

    /// HTTP 401, or the body's `error` 401 (token invalid, e.g. logged in elsewhere) or 402
    /// (access token expired), which CoolKit sends with HTTP 200.
    fn api_session_lost(&self, status: u16, body: &[u8]) -> bool {
        status == 401 || matches!(crate::api::json_code(body, "error"), Some(401 | 402))
    }

    /// The endpoint is a template: `{region}` becomes the account's region per request.
    fn endpoint_placeholder(&self) -> Option<&'static str> {
        Some("{region}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_template_maps_per_api_and_region() {
        assert_eq!(
            base_url(Api::V2, OFFICIAL_TEMPLATE, "cn"),
            "https://cn-apia.coolkit.cn"
        );
        assert_eq!(
            base_url(Api::V2, OFFICIAL_TEMPLATE, "eu"),
            "https://eu-apia.coolkit.cc"
        );
        assert_eq!(
            base_url(Api::V1, OFFICIAL_TEMPLATE, "cn"),
            "https://cn-api.coolkit.cn:8080"
        );
        assert_eq!(
            base_url(Api::V1, OFFICIAL_TEMPLATE, "us"),
            "https://us-api.coolkit.cc:8080"
        );
        assert_eq!(
            base_url(Api::V1, "", "as"),
            "https://as-api.coolkit.cc:8080"
        );
        assert_eq!(
            base_url(Api::V2, "https://{region}-apia.coolkit.cc/", "as"),
            "https://as-apia.coolkit.cc"
        );
    }

    #[test]
    fn other_templates_substitute_the_region() {
        assert_eq!(
            base_url(Api::V1, "http://127.0.0.1:9/{region}", "eu"),
            "http://127.0.0.1:9/eu"
        );
        assert_eq!(
            base_url(Api::V2, "http://127.0.0.1:9/{region}/", "cn"),
            "http://127.0.0.1:9/cn"
        );
        assert_eq!(
            base_url(Api::V2, "https://proxy.example", "cn"),
            "https://proxy.example"
        );
    }

    #[test]
    fn login_id_by_shape() {
        assert_eq!(
            LoginId::parse("a@b.c", "+1").unwrap(),
            LoginId::Email("a@b.c".into())
        );
        assert_eq!(
            LoginId::parse(" +86 138-0000-0001 ", "+1").unwrap(),
            LoginId::Phone("+8613800000001".into())
        );
        assert_eq!(
            LoginId::parse("13800000001", "+86").unwrap(),
            LoginId::Phone("+8613800000001".into())
        );
        assert_eq!(
            LoginId::parse("alice", "+1").unwrap_err().code,
            crate::ErrorCode::InvalidInput
        );
        assert!(LoginId::parse("+", "+1").is_err());
    }

    #[test]
    fn country_codes_are_normalised() {
        assert_eq!(normalize_country_code("86").unwrap(), "+86");
        assert_eq!(normalize_country_code(" +1 ").unwrap(), "+1");
        assert!(normalize_country_code("+abc").is_err());
    }

    #[test]
    fn api_option_parses() {
        assert_eq!(Api::parse("v1").unwrap(), Api::V1);
        assert_eq!(Api::parse("V2").unwrap(), Api::V2);
        assert_eq!(Api::parse("").unwrap(), Api::V2);
        assert!(Api::parse("v3").is_err());
    }

    #[test]
    fn regions_are_checked_before_entering_a_host_name() {
        assert!(is_region("eu"));
        assert!(!is_region("e"));
        assert!(!is_region("evil.example/"));
        assert!(!is_region("EU"));
    }

    fn answer(json: Value) -> Answer {
        let code = json["error"].as_i64().unwrap_or(0);
        Answer { code, json }
    }

    #[test]
    fn redirect_region_from_v1_and_v2_shapes() {
        assert_eq!(
            answer(serde_json::json!({"error":301,"region":"eu"}))
                .redirect_region()
                .as_deref(),
            Some("eu")
        );
        assert_eq!(
            answer(serde_json::json!({"error":10004,"msg":"redirection","data":{"region":"as"}}))
                .redirect_region()
                .as_deref(),
            Some("as")
        );
        let a = answer(serde_json::json!({"error":301,"region":"eu"}));
        assert_eq!(next_region(&a, "us", 0).unwrap(), "eu");
        assert!(
            next_region(&a, "eu", 0).is_err(),
            "a redirect to the same region is a loop"
        );
        assert!(next_region(&a, "us", MAX_REGION_HOPS).is_err());
        let bad = answer(serde_json::json!({"error":301,"region":"x.evil"}));
        assert!(next_region(&bad, "us", 0).is_err());
    }

    #[test]
    fn server_text_from_msg_or_info() {
        assert_eq!(
            answer(serde_json::json!({"error":401,"info":"user is null in local"})).text(),
            "user is null in local"
        );
        assert_eq!(
            answer(serde_json::json!({"error":404,"msg":"user is not exit"})).text(),
            "user is not exit"
        );
    }

    #[test]
    fn signature_errors_say_what_to_check() {
        let e = common_error(406, &answer(serde_json::json!({"error":406,"msg":"x"}))).unwrap();
        assert_eq!(e.code, crate::ErrorCode::InvalidInput);
        assert!(e.message.contains("appid/appsecret"), "{}", e.message);
        let e = common_error(
            400,
            &answer(serde_json::json!({"error":400,"msg":"sign verification failed"})),
        )
        .unwrap();
        assert_eq!(e.code, crate::ErrorCode::InvalidInput);
        assert!(common_error(10001, &answer(serde_json::json!({"error":10001}))).is_none());
    }

    #[test]
    fn refresh_restarts_rt_expiry_only_when_rotated() {
        let t0 = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let s = new_session(
            t0,
            Api::V2,
            "eu",
            "at1".into(),
            "rt1".into(),
            &serde_json::json!({"email":"a@b.c"}),
        );
        assert_eq!(s.info.display_name.as_deref(), Some("a@b.c"));
        assert_eq!(s.info.refresh_expires_at, Some(t0 + TimeDelta::days(60)));
        let t1 = t0 + TimeDelta::days(10);
        let same = refreshed_session(t1, &s, "at2".into(), Some("rt1".into()));
        assert_eq!(same.info.expires_at, Some(t1 + TimeDelta::days(30)));
        assert_eq!(same.info.refresh_expires_at, Some(t0 + TimeDelta::days(60)));
        let rotated = refreshed_session(t1, &s, "at2".into(), Some("rt2".into()));
        assert_eq!(rotated.tokens.refresh.as_ref().unwrap().expose(), "rt2");
        assert_eq!(
            rotated.info.refresh_expires_at,
            Some(t1 + TimeDelta::days(60))
        );
        assert_eq!(
            rotated.info.extra.get("region").map(String::as_str),
            Some("eu")
        );
    }

    #[test]
    fn credential_is_a_bearer_header() {
        let s = new_session(
            Utc::now(),
            Api::V2,
            "us",
            "tok".into(),
            "r".into(),
            &Value::Null,
        );
        let account = Account {
            id: "1".into(),
            name: "coolkit/a".into(),
            service: crate::ServiceId::Coolkit,
            user: "a@b.c".into(),
            endpoint: OFFICIAL_TEMPLATE.into(),
            options: BTreeMap::new(),
            remember_password: false,
            active: true,
            created_at: Utc::now(),
        };
        match Coolkit.credential(&account, &s) {
            Credential::Header { name, value } => {
                assert_eq!(name, "Authorization");
                assert_eq!(value.expose(), "Bearer tok");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
