//! Steedos: `POST /accounts/password/login` (docs/services/steedos.md).
//!
//! - **User field**: always the object form, by the shape of `account.user`: an e-mail →
//!   `{"email"}`, a phone number (digits, optional `+`, spaces or dashes) → `{"mobile"}`, anything
//!   else → `{"username"}`. A bare string would be looked up as an e-mail or a mobile only.
//! - **Password**: lowercase hex SHA-256 in `password` (what the official client sends), or the
//!   plaintext as `password-unencrypted` with option `password_mode=plain`.
//! - **MFA**: a `{"_next":"TO_MOBILE_CODE_LOGIN","mobile":…}` answer sends an SMS code
//!   (`/accounts/password/sendVerificationCode`) and asks for it ([`Challenge::Code`], Sms, masked
//!   number); the code is then a code login `{"user":{"mobile"},"token":code}`. A wrong code is
//!   `ChallengeFailed` keeping `accounts.invalid_code`; the step is retryable
//!   ([`Pending::retryable`]): the server allows several attempts per code.
//! - **Tokens**: the credential is the opaque session `token` (the JWTs are not accepted by the
//!   APIs). `tokens.access` = session token, `tokens.refresh` = refresh JWT,
//!   `tokens.extra["access_jwt"]` = access JWT (only needed for `/accounts/refreshTokens`).
//! - **Expiry — what `expires_at` means here**: the session token has no server-side expiry
//!   (`sessions` records are only checked for `valid`), but the Meteor resume token behind it,
//!   which the platform APIs check, is assumed to last 90 days, the same as the default access
//!   JWT lifetime. So `expires_at` = the access JWT's `exp` (read without checking the signature):
//!   "the token may stop working for the platform APIs after this". `refresh_expires_at` is left
//!   `None` on purpose: the refresh JWT (7 days by default) does not limit the session, and
//!   showing it would announce a death that does not happen; its `exp` is kept for display in
//!   `info.extra["refresh_jwt_expires_at"]`.
//! - **Refresh**: `/accounts/refreshTokens` is tried first (it appears broken on real servers since
//!   2022: the access JWT no longer carries the session token). When it answers with new tokens,
//!   they are used. When it refuses (any 4xx), the session is validated instead: still valid →
//!   the same tokens with refreshed user facts and the same `expires_at` (so a caller sees that
//!   nothing was renewed and may plan a silent re-login before `expires_at`); not valid →
//!   `NeedsLogin`. Network and 5xx failures are returned as they are (transient).
//! - **Validate**: `GET /accounts/user` with `Authorization: Bearer <token>` (no space id: the
//!   /accounts loader would take the space id for the token). It answers any user token: 200
//!   with the user, or 400 `userNotFound` for a token it does not know; 400/401 →
//!   `Invalid(Revoked)`. A 403 is not this route's answer about the token (a proxy or firewall
//!   refusing): an error, and the session is kept.
//! - **Logout**: `POST /accounts/logout` with the bare `Authorization: <token>`: the handler
//!   mangles a `Bearer ` prefix and would silently not log out.
//! - **Credential**: `Authorization: Bearer <spaceId>,<token>` with the space from option
//!   `space_id`, else the login's `space` (`info.extra["space"]`); with no space known,
//!   `X-Auth-Token: <token>`, which the platform also accepts. `info.extra` also keeps
//!   `user_id` under `X-User-Id` form for scripts that prefer the header pair.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::support::{
    clean_server_text, endpoint_url, jwt_exp, mask_destination, server_message, sha256_hex,
};
use super::{
    Challenge, CodeChannel, Credential, Ctx, LoginOutcome, Pending, Progress, RefreshOutcome,
    Service, Validation,
};
use crate::error::{Error, ErrorCode, Result};
use crate::http::Response;
use crate::model::{
    Account, Capabilities, NeedsLoginReason, OptionKind, OptionSpec, ServiceId, ServiceSpec,
    Session, SessionInfo, SessionTokens,
};
use crate::secret::SecretString;

pub static SPEC: ServiceSpec = ServiceSpec {
    id: ServiceId::Steedos,
    display_name: "Steedos",
    description: "Steedos low-code platform (self-hosted)",
    user_label: "Email, mobile number or user name",
    default_endpoint: None,
    endpoint_help: "Base URL of the Steedos server, e.g. http://localhost:5000",
    options: &[
        OptionSpec {
            key: "space_id",
            label: "Space ID",
            help: "Workspace id used in the `Authorization: Bearer <spaceId>,<token>` header; defaults to the space the server picks at login",
            kind: OptionKind::Text,
            required: false,
            default: None,
            secret: false,
        },
        OptionSpec {
            key: "password_mode",
            label: "Password encoding",
            help: "sha256: send the lowercase hex SHA-256 of the password, as the official web client does; plain: send it as `password-unencrypted`",
            kind: OptionKind::Choice(&["sha256", "plain"]),
            required: false,
            default: Some("sha256"),
            secret: false,
        },
    ],
    capabilities: Capabilities {
        refresh: true,
        validate: true,
        logout: true,
        captcha: false,
        second_factor: true,
        code_login: false,
        expires: true,
    },
    token_form: "Authorization: Bearer <spaceId>,<token>",
};

/// The Steedos service.
pub struct Steedos;

const LOGIN: &str = "accounts/password/login";
const SEND_CODE: &str = "accounts/password/sendVerificationCode";
const REFRESH: &str = "accounts/refreshTokens";
const USER: &str = "accounts/user";
const LOGOUT: &str = "accounts/logout";
/// `SessionTokens::extra` key of the access JWT.
pub const ACCESS_JWT: &str = "access_jwt";

/// The login `user` object for what the person typed (see the module docs).
pub fn user_field(user: &str) -> Value {
    let user = user.trim();
    if is_email(user) {
        json!({ "email": user })
    } else if let Some(mobile) = mobile_number(user) {
        json!({ "mobile": mobile })
    } else {
        json!({ "username": user })
    }
}

fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
                && domain.contains('.')
        }
        None => false,
    }
}

/// Digits (with an optional leading `+`) if `s` is a phone number, spaces and dashes removed.
fn mobile_number(s: &str) -> Option<String> {
    let (plus, rest) = match s.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", s),
    };
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    (5..=20)
        .contains(&digits.len())
        .then(|| format!("{plus}{digits}"))
}

/// The MFA step: where the code went.
#[derive(Clone)]
struct MfaPending {
    mobile: String,
}

enum LoginAnswer {
    Done(Session),
    Mfa { mobile: String },
}

fn not_found(resp: &Response) -> Error {
    Error::server(format!(
        "no Steedos accounts API at {} (HTTP 404); check the endpoint",
        resp.host()
    ))
}

/// A refused login (HTTP 400 `{"message"}`) as an error keeping the server's words.
fn login_error(message: Option<String>) -> Error {
    let err = match message.as_deref() {
        Some("accounts.invalid_credentials") => {
            Error::credentials_rejected("Steedos rejected the user name or password")
        }
        Some("accounts.invalid_code") => {
            Error::challenge_failed("the verification code is wrong or has expired")
        }
        Some("accounts.noPasswordSet") => {
            Error::credentials_rejected("this Steedos user has no password set")
        }
        Some("accounts.matchFailed" | "accounts.unrecognizedOptionsForLogin") => Error::server(
            "Steedos did not understand the login request; try the option password_mode=plain",
        ),
        Some(m) if m.contains("锁定") || m.to_lowercase().contains("locked") => {
            Error::credentials_rejected("the Steedos account is locked")
        }
        Some(m) if m.to_lowercase().contains("deactivated") => {
            Error::credentials_rejected("the Steedos account is deactivated")
        }
        Some(_) => Error::credentials_rejected("Steedos refused the login"),
        None => Error::credentials_rejected("Steedos refused the login without saying why"),
    };
    match message {
        Some(m) => err.with_server_message(m),
        None => err,
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Non-secret user facts from a user document (login answer `user`, or `/accounts/user`).
fn apply_user(info: &mut SessionInfo, user: &Value) {
    if let Some(id) = str_field(user, "_id")
        .or_else(|| str_field(user, "id"))
        .or_else(|| str_field(user, "userId"))
    {
        info.user_id = Some(clean_server_text(id));
    }
    if let Some(name) = str_field(user, "name")
        .or_else(|| str_field(user, "username"))
        .or_else(|| str_field(user, "email"))
    {
        info.display_name = Some(clean_server_text(name));
    }
}

/// Interpret a login (or refresh) answer.
fn parse_login(
    ctx: &Ctx<'_>,
    resp: &Response,
    previous: Option<&SessionInfo>,
) -> Result<LoginAnswer> {
    match resp.status {
        200..=299 => {}
        400 | 401 | 403 => {
            let message = resp.json::<Value>().ok().as_ref().and_then(server_message);
            return Err(login_error(message));
        }
        404 => return Err(not_found(resp)),
        _ => return Err(resp.status_error()),
    }
    let v: Value = resp.json()?;
    if !v.is_object() {
        return Err(resp.unexpected("the login answer is not a JSON object"));
    }
    if let Some(next) = v.get("_next") {
        return match next.as_str() {
            Some("TO_MOBILE_CODE_LOGIN") => match str_field(&v, "mobile") {
                Some(mobile) => Ok(LoginAnswer::Mfa {
                    mobile: mobile.to_string(),
                }),
                None => Err(Error::server(
                    "Steedos asks for an SMS code, but the account has no mobile number to send it to",
                )),
            },
            other => Err(resp.unexpected(&format!(
                "an unsupported next login step '{}'",
                other.unwrap_or("?").chars().take(40).collect::<String>()
            ))),
        };
    }
    let token = str_field(&v, "token")
        .ok_or_else(|| resp.unexpected("no session token in the login answer"))?;
    let tokens_obj = v.get("tokens").cloned().unwrap_or(Value::Null);
    let access_jwt = str_field(&tokens_obj, "accessToken");
    let refresh_jwt = str_field(&tokens_obj, "refreshToken");

    let mut tokens = SessionTokens {
        access: SecretString::new(token),
        ..Default::default()
    };
    if let Some(rt) = refresh_jwt {
        tokens.refresh = Some(SecretString::new(rt));
    }
    if let Some(at) = access_jwt {
        tokens
            .extra
            .insert(ACCESS_JWT.to_string(), SecretString::new(at));
    }

    let mut info = SessionInfo {
        obtained_at: Some(ctx.now),
        ..Default::default()
    };
    if let Some(prev) = previous {
        // A refresh answer has no space: keep what the login said.
        info.extra = prev.extra.clone();
        info.user_id = prev.user_id.clone();
        info.display_name = prev.display_name.clone();
    }
    info.expires_at = access_jwt.and_then(jwt_exp);
    info.extra.remove("refresh_jwt_expires_at");
    if let Some(exp) = refresh_jwt.and_then(jwt_exp) {
        info.extra
            .insert("refresh_jwt_expires_at".into(), exp.to_rfc3339());
    }
    if let Some(space) = str_field(&v, "space") {
        info.extra.insert("space".into(), space.to_string());
    }
    if let Some(user) = v.get("user") {
        apply_user(&mut info, user);
    }
    if let Some(id) = &info.user_id {
        info.extra.insert("user_id".into(), id.clone());
    }
    Ok(LoginAnswer::Done(Session { tokens, info }))
}

impl Steedos {
    async fn login_request(
        &self,
        ctx: &Ctx<'_>,
        body: Value,
        previous: Option<&SessionInfo>,
    ) -> Result<LoginAnswer> {
        let http = ctx.client()?;
        let url = endpoint_url(ctx.account, LOGIN)?;
        let resp = http.execute(http.post(url).json(&body)).await?;
        parse_login(ctx, &resp, previous)
    }

    /// Send the SMS code of the MFA step.
    async fn send_code(&self, ctx: &Ctx<'_>, mobile: &str) -> Result<()> {
        let http = ctx.client()?;
        let url = endpoint_url(ctx.account, SEND_CODE)?;
        let resp = http
            .execute(
                http.post(url)
                    .json(&json!({ "user": { "mobile": mobile } })),
            )
            .await?;
        match resp.status {
            200..=299 => {
                // 200 with the user id, or null; a Geetest failure is 200 {"result":"fail"}.
                let v: Value = resp.json().unwrap_or(Value::Null);
                if v.get("result").and_then(Value::as_str) == Some("fail") {
                    return Err(Error::unsupported(
                        "Steedos asks for a Geetest check before sending the code, which Lanyard cannot show",
                    ));
                }
                Ok(())
            }
            404 => Err(not_found(&resp)),
            _ => {
                let message = resp.json::<Value>().ok().as_ref().and_then(server_message);
                let err = Error::server(format!(
                    "Steedos could not send the SMS code (HTTP {})",
                    resp.status
                ));
                Err(match message {
                    Some(m) => err.with_server_message(m),
                    None => err,
                })
            }
        }
    }

    fn progress(&self, answer: LoginAnswer) -> Progress {
        match answer {
            LoginAnswer::Done(session) => Progress::Done(Box::new(LoginOutcome::new(session))),
            LoginAnswer::Mfa { mobile } => Progress::Challenge {
                challenge: Challenge::Code {
                    channel: CodeChannel::Sms,
                    destination: Some(mask_destination(&mobile)),
                },
                pending: Pending::retryable(MfaPending { mobile }),
            },
        }
    }
}

#[async_trait]
impl Service for Steedos {
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
            _ => return Err(Error::invalid_input("Steedos needs a password")),
        };
        if ctx.account.user.trim().is_empty() {
            return Err(Error::invalid_input(
                "Steedos needs a user name, e-mail or mobile number",
            ));
        }
        let mut body = json!({ "user": user_field(&ctx.account.user) });
        match ctx.account.option("password_mode").unwrap_or("sha256") {
            "sha256" | "" => body["password"] = Value::String(sha256_hex(password.expose())),
            "plain" => body["password-unencrypted"] = Value::String(password.expose().to_string()),
            other => {
                return Err(Error::invalid_input(format!(
                    "unknown password_mode '{other}'; expected sha256 or plain"
                )));
            }
        }
        let answer = self.login_request(ctx, body, None).await?;
        if let LoginAnswer::Mfa { mobile } = &answer {
            self.send_code(ctx, mobile).await?;
        }
        Ok(self.progress(answer))
    }

    async fn answer(
        &self,
        ctx: &Ctx<'_>,
        pending: Pending,
        answer: &SecretString,
    ) -> Result<Progress> {
        let MfaPending { mobile } = pending.into_inner()?;
        let code = answer.expose().trim();
        if code.is_empty() {
            return Err(Error::challenge_failed("enter the code sent by SMS"));
        }
        let body = json!({ "user": { "mobile": mobile }, "token": code });
        match self.login_request(ctx, body, None).await? {
            LoginAnswer::Done(session) => Ok(Progress::Done(Box::new(LoginOutcome::new(session)))),
            LoginAnswer::Mfa { .. } => Err(Error::server(
                "Steedos asked for another code after a code login",
            )),
        }
    }

    async fn refresh(&self, ctx: &Ctx<'_>, session: &Session) -> Result<RefreshOutcome> {
        let access_jwt = session.tokens.extra.get(ACCESS_JWT);
        if let (Some(at), Some(rt)) = (access_jwt, session.tokens.refresh.as_ref()) {
            let http = ctx.client()?;
            let url = endpoint_url(ctx.account, REFRESH)?;
            let body = json!({ "accessToken": at.expose(), "refreshToken": rt.expose() });
            let resp = http.execute(http.post(url).json(&body)).await?;
            if resp.is_success()
                && let Ok(LoginAnswer::Done(mut fresh)) =
                    parse_login(ctx, &resp, Some(&session.info))
            {
                if fresh.tokens.refresh.is_none() {
                    fresh.tokens.refresh = session.tokens.refresh.clone();
                }
                return Ok(RefreshOutcome::new(fresh));
            }
            tracing::debug!(
                status = resp.status,
                "steedos refreshTokens refused; validating the session instead"
            );
        }
        match self.validate(ctx, session).await? {
            Validation::Valid(info) => {
                let info = info.unwrap_or_else(|| session.info.clone());
                Ok(RefreshOutcome::new(Session {
                    tokens: session.tokens.clone(),
                    info,
                }))
            }
            Validation::Invalid(reason) => Err(Error::needs_login(format!(
                "the Steedos session is over: {}",
                reason.describe()
            ))),
            // Treated by the Manager like a service without refresh: it validates instead.
            Validation::Unverifiable(why) => Err(Error::unsupported(why)),
        }
    }

    async fn validate(&self, ctx: &Ctx<'_>, session: &Session) -> Result<Validation> {
        let http = ctx.client()?;
        let url = endpoint_url(ctx.account, USER)?;
        let rb = http.get(url).header(
            "Authorization",
            format!("Bearer {}", session.tokens.access.expose()),
        );
        let resp = http.execute(rb).await?;
        match resp.status {
            200..=299 => {
                let user: Value = resp.json()?;
                if !user.is_object() {
                    return Ok(Validation::Invalid(NeedsLoginReason::Revoked));
                }
                let mut info = session.info.clone();
                apply_user(&mut info, &user);
                Ok(Validation::Valid(Some(info)))
            }
            400 | 401 => Ok(Validation::Invalid(NeedsLoginReason::Revoked)),
            403 => Err(Error::server(format!(
                "{} refused the session check (HTTP 403) without saying the session is over; it is kept",
                resp.host()
            ))),
            404 => Err(not_found(&resp)),
            _ => Err(resp.status_error()),
        }
    }

    async fn logout(&self, ctx: &Ctx<'_>, session: &Session) -> Result<()> {
        let http = ctx.client()?;
        let url = endpoint_url(ctx.account, LOGOUT)?;
        // Bare token: the handler turns "Bearer x" into "tokenx" and silently keeps the session.
        let rb = http
            .post(url)
            .header("Authorization", session.tokens.access.expose())
            .json(&json!({}));
        let resp = http.execute(rb).await?;
        if resp.is_success() {
            Ok(())
        } else if resp.status == 404 {
            Err(not_found(&resp))
        } else {
            Err(Error::new(
                ErrorCode::ServerError,
                format!("Steedos refused the logout (HTTP {})", resp.status),
            ))
        }
    }

    fn credential(&self, account: &Account, session: &Session) -> Credential {
        let space = account
            .option("space_id")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .or_else(|| {
                session
                    .info
                    .extra
                    .get("space")
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
            });
        match space {
            Some(space) => Credential::Header {
                name: "Authorization".into(),
                value: SecretString::new(format!(
                    "Bearer {space},{}",
                    session.tokens.access.expose()
                )),
            },
            None => Credential::Header {
                name: "X-Auth-Token".into(),
                value: session.tokens.access.clone(),
            },
        }
    }

    /// The `/accounts/*` routes read the token from `Authorization: Bearer <token>` and take the
    /// FIRST part of a comma pair (docs/services/steedos.md "Where the token goes"), so they get
    /// the bare token; every other route gets the documented `Bearer <spaceId>,<token>` (or
    /// `X-Auth-Token`).
    fn api_target(
        &self,
        ctx: &Ctx<'_>,
        session: &Session,
        path: &str,
    ) -> Result<crate::api::ApiTarget> {
        let base = self.api_base(ctx, session)?;
        let credential = if path.trim().trim_start_matches('/').starts_with("accounts/") {
            Credential::Header {
                name: "Authorization".into(),
                value: SecretString::new(format!("Bearer {}", session.tokens.access.expose())),
            }
        } else {
            self.credential(ctx.account, session)
        };
        crate::api::default_target(&base, credential, path)
    }

    /// The current user.
    fn api_example(&self, _session: &Session) -> (&'static str, String) {
        ("GET", "/accounts/user".to_owned())
    }

    /// 401 from the platform routes; `/accounts/*` says 400 `{"message":"userNotFound"}`.
    fn api_session_lost(&self, status: u16, body: &[u8]) -> bool {
        status == 401
            || (status == 400
                && serde_json::from_slice::<Value>(body)
                    .is_ok_and(|v| v["message"] == "userNotFound"))
    }

    /// The expiry is the access JWT's; the session token itself has none on the server, so only
    /// asking tells whether it still works.
    fn revalidates_despite_expiry(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_field_by_kind() {
        assert_eq!(
            user_field("alice@example.com"),
            json!({"email": "alice@example.com"})
        );
        assert_eq!(
            user_field(" 13800000001 "),
            json!({"mobile": "13800000001"})
        );
        assert_eq!(
            user_field("+86 138-0000-0001"),
            json!({"mobile": "+8613800000001"})
        );
        assert_eq!(user_field("alice"), json!({"username": "alice"}));
        assert_eq!(
            user_field("alice@localhost"),
            json!({"username": "alice@localhost"})
        );
        assert_eq!(user_field("a1234567"), json!({"username": "a1234567"}));
        assert_eq!(user_field("1234"), json!({"username": "1234"}));
        // Never a bare string.
        assert!(user_field("x").is_object());
    }

    #[test]
    fn login_errors_keep_the_server_words() {
        let e = login_error(Some("accounts.invalid_credentials".into()));
        assert_eq!(e.code, ErrorCode::CredentialsRejected);
        assert_eq!(
            e.server_message.as_deref(),
            Some("accounts.invalid_credentials")
        );
        let e = login_error(Some("账户已锁定，请联系管理员".into()));
        assert_eq!(e.code, ErrorCode::CredentialsRejected);
        assert!(e.message.contains("locked"));
        assert_eq!(
            e.server_message.as_deref(),
            Some("账户已锁定，请联系管理员")
        );
        assert_eq!(
            login_error(Some("Your account has been deactivated".into())).code,
            ErrorCode::CredentialsRejected
        );
        let e = login_error(Some("accounts.invalid_code".into()));
        assert_eq!(e.code, ErrorCode::ChallengeFailed);
        assert_eq!(e.server_message.as_deref(), Some("accounts.invalid_code"));
        assert_eq!(
            login_error(Some("accounts.matchFailed".into())).code,
            ErrorCode::ServerError
        );
    }

    fn account(options: &[(&str, &str)]) -> Account {
        Account {
            id: "00000000-0000-4000-8000-000000000000".into(),
            name: "steedos/alice".into(),
            service: ServiceId::Steedos,
            user: "alice".into(),
            endpoint: "http://127.0.0.1:1".into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            remember_password: false,
            active: true,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn credential_prefers_the_option_space() {
        let mut session = Session::default();
        session.tokens.access = SecretString::new("tok");
        session
            .info
            .extra
            .insert("space".into(), "login-space".into());
        let show = |c: Credential| match c {
            Credential::Header { name, value } => format!("{name}: {}", value.expose()),
            Credential::Query { .. } => unreachable!(),
        };
        assert_eq!(
            show(Steedos.credential(&account(&[]), &session)),
            "Authorization: Bearer login-space,tok"
        );
        assert_eq!(
            show(Steedos.credential(&account(&[("space_id", "opt-space")]), &session)),
            "Authorization: Bearer opt-space,tok"
        );
        session.info.extra.clear();
        assert_eq!(
            show(Steedos.credential(&account(&[]), &session)),
            "X-Auth-Token: tok"
        );
    }
}
