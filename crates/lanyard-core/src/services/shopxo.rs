//! ShopXO user API: `api.php?s=user/login` (docs/services/shopxo.md).
//!
//! - **Every call** goes to `{endpoint}/api.php?s=<controller>/<action>` with
//!   `application=app` (without it no token comes back), `application_client_type` (option
//!   `client_type`, default `h5`), `system_type=default` and `uuid` in the **query** (PHP reads
//!   them from `$_REQUEST`, never from a JSON body). The uuid binds the image captcha to this
//!   client; it is the account id (already a UUID), so it is stable per account. Bodies are JSON.
//! - Answers are `{"msg","code","data"}`, always HTTP 200, `code` 0 = success; the guard's
//!   answers come as `text/html`, so JSON is parsed whatever the Content-Type.
//! - **Login** first reads `base/common` (`home_user_login_img_verify_state`,
//!   `common_img_verify_state`, `home_user_login_type`), then by option `login_type`:
//!   - `username`: with the login captcha on, fetch `user/userverifyentry&type=user_login` (a GIF
//!     served as `text/html`: the media type is sniffed from the bytes) →
//!     [`Challenge::Captcha`] (reloadable) → `user/login` with `verify`. If `user/login`
//!     answers -10/-11 about the captcha although `base/common` said it was off, a captcha is
//!     fetched and asked for all the same.
//!   - `sms` / `email`: `user/loginverifysend` (after an image captcha when
//!     `common_img_verify_state` is on) → [`Challenge::Code`] → `user/login` with `verify` = code.
//! - **Wrong answers**: a wrong captcha (-12), an expired one (-11 after one was sent), a wrong
//!   code (-11) or an expired code (-10 "验证码已过期") are `ChallengeFailed`. The flow state is
//!   [`Pending::retryable`]: the server keeps a captcha after a wrong answer and a code for
//!   several attempts, so the caller may keep its copy and answer again, or `reload_captcha` for
//!   a fresh image (the sensible move after "expired"). No new image is fetched behind the
//!   person's back.
//! - -3/-4 (unknown account, wrong password) and other refusals → `CredentialsRejected` with the
//!   server's `msg`; -2 (wrong mobile/e-mail format) → `InvalidInput`; -100 (send failure, rate
//!   limit), -1000, -10000 (site closed) → `ServerError`.
//! - **Tokens never expire by time** (`expires_at` stays `None`); validation is
//!   `personal/index&token=…` (-400 → `Invalid(Revoked)`). There is no refresh and **no API
//!   logout**: `logout` returns `Ok` and the caller forgets the token (a new login on the same
//!   client type replaces it server-side). The credential is the query parameter `token`.

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use url::Url;

use super::support::{clean_server_text, endpoint_url, mask_destination, sniff_image_type};
use super::{
    Challenge, CodeChannel, Credential, CredentialPlace, Ctx, LoginOutcome, Pending, Progress,
    Service, Validation,
};
use crate::error::{Error, Result};
use crate::http::{Http, Response};
use crate::model::{
    Account, Capabilities, NeedsLoginReason, OptionKind, OptionSpec, ServiceId, ServiceSpec,
    Session, SessionInfo, SessionTokens,
};
use crate::secret::SecretString;

pub static SPEC: ServiceSpec = ServiceSpec {
    id: ServiceId::Shopxo,
    display_name: "ShopXO",
    description: "ShopXO e-commerce (self-hosted)",
    user_label: "User name, mobile number or email",
    default_endpoint: None,
    endpoint_help: "Base URL of the shop (the folder holding api.php), e.g. https://shop.example.com",
    options: &[
        OptionSpec {
            key: "client_type",
            label: "Client type",
            help: "Which kind of app Lanyard signs in as (h5 is the mobile web shop); the shop keeps a separate login for each kind",
            kind: OptionKind::Choice(&[
                "h5", "ios", "android", "weixin", "alipay", "baidu", "qq", "toutiao", "kuaishou",
            ]),
            required: false,
            default: Some("h5"),
            secret: false,
        },
        OptionSpec {
            key: "login_type",
            label: "Login with",
            help: "username: password (and captcha when the shop asks); sms or email: a code sent to the account",
            kind: OptionKind::Choice(&["username", "sms", "email"]),
            required: false,
            default: Some("username"),
            secret: false,
        },
    ],
    capabilities: Capabilities {
        refresh: false,
        validate: true,
        logout: false,
        captcha: true,
        second_factor: false,
        code_login: true,
        expires: false,
    },
    token_form: "query parameter token=<token>",
};

/// The ShopXO service.
pub struct Shopxo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginType {
    Username,
    Sms,
    Email,
}

impl LoginType {
    fn from_account(account: &Account) -> Result<LoginType> {
        match account
            .option("login_type")
            .map(str::trim)
            .unwrap_or("username")
        {
            "username" | "" => Ok(LoginType::Username),
            "sms" => Ok(LoginType::Sms),
            "email" => Ok(LoginType::Email),
            other => Err(Error::invalid_input(format!(
                "unknown login_type '{other}'; expected username, sms or email"
            ))),
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            LoginType::Username => "username",
            LoginType::Sms => "sms",
            LoginType::Email => "email",
        }
    }
    fn channel(self) -> CodeChannel {
        match self {
            LoginType::Email => CodeChannel::Email,
            _ => CodeChannel::Sms,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the image captcha of a username login.
    LoginCaptcha,
    /// Waiting for the image captcha that gates sending an SMS/e-mail code.
    SendCaptcha,
    /// Waiting for the code that was sent.
    Code,
}

/// Flow state between steps (holds the password for a username login: never printed).
#[derive(Clone)]
struct Flow {
    login_type: LoginType,
    stage: Stage,
    password: Option<SecretString>,
}

/// What `base/common` says about logins.
#[derive(Debug, Default, PartialEq)]
struct LoginConfig {
    login_captcha: bool,
    common_captcha: bool,
    login_types: Vec<String>,
}

/// A ShopXO answer envelope.
struct Answer {
    code: i64,
    msg: String,
    data: Value,
}

fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        Some(Value::String(s)) => matches!(s.trim(), "1" | "true"),
        _ => false,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_config(data: &Value) -> LoginConfig {
    let cfg = data.get("config").unwrap_or(data);
    let login_types = match cfg.get("home_user_login_type") {
        Some(Value::Array(items)) => items.iter().filter_map(|v| text(Some(v))).collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    LoginConfig {
        login_captcha: flag(cfg.get("home_user_login_img_verify_state")),
        common_captcha: flag(cfg.get("common_img_verify_state")),
        login_types,
    }
}

/// Whether a -10/-11 message is about the image captcha / code rather than the user's status.
fn about_verification(msg: &str) -> bool {
    let lower = msg.to_lowercase();
    msg.is_empty()
        || msg.contains("验证码")
        || lower.contains("verification code")
        || lower.contains("captcha")
}

/// A refusal of a login-path call as an error keeping the server's `msg`.
fn refusal(code: i64, msg: &str) -> Error {
    let err = match code {
        -2 => Error::invalid_input(
            "ShopXO says the account is not a valid mobile number or e-mail for this login type",
        ),
        -100 => Error::server("ShopXO could not complete the request (try again later)"),
        -1000 => Error::server("the server does not know this ShopXO action; check the endpoint"),
        -10000 => Error::server("the shop is closed for this client type"),
        -400 => Error::needs_login("ShopXO says the login is no longer valid"),
        _ => Error::credentials_rejected(format!("ShopXO refused the login (code {code})")),
    };
    err.with_server_message(msg)
}

/// The `api.php` URL for one action, with the public parameters in the query.
fn api_url(account: &Account, action: &str, extra: &[(&str, &str)]) -> Result<Url> {
    let mut url = if account
        .endpoint
        .trim()
        .trim_end_matches('/')
        .ends_with("api.php")
    {
        Url::parse(account.endpoint.trim().trim_end_matches('/')).map_err(|e| {
            Error::invalid_input(format!("invalid endpoint '{}': {e}", account.endpoint))
        })?
    } else {
        endpoint_url(account, "api.php")?
    };
    let client_type = account
        .option("client_type")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("h5");
    url.set_query(None);
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("s", action)
            .append_pair("application", "app")
            .append_pair("application_client_type", client_type)
            .append_pair("system_type", "default")
            .append_pair("uuid", &account.id);
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    Ok(url)
}

fn envelope(resp: &Response) -> Result<Answer> {
    if !resp.is_success() {
        return Err(match resp.status {
            404 => Error::server(format!(
                "no ShopXO api.php at {} (HTTP 404); check the endpoint",
                resp.host()
            )),
            _ => resp.status_error(),
        });
    }
    let v: Value = resp.json()?;
    let code = match v.get("code") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| resp.unexpected("no `code` in the answer"))?;
    let msg = text(v.get("msg"))
        .map(|m| clean_server_text(&m))
        .unwrap_or_default();
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    Ok(Answer { code, msg, data })
}

fn apply_user(info: &mut SessionInfo, user: &Value) {
    if let Some(id) = text(user.get("id")).or_else(|| text(user.get("user_id"))) {
        info.user_id = Some(clean_server_text(&id));
    }
    let name = [
        "user_name_view",
        "nickname",
        "username",
        "mobile_security",
        "email_security",
    ]
    .iter()
    .find_map(|k| text(user.get(*k)));
    if let Some(name) = name {
        info.display_name = Some(clean_server_text(&name));
    }
}

fn session_from(ctx: &Ctx<'_>, resp: &Response, data: &Value) -> Result<Session> {
    let token = text(data.get("token")).ok_or_else(|| {
        resp.unexpected(
            "no token in the login answer (does the shop answer application=app requests?)",
        )
    })?;
    let mut info = SessionInfo {
        obtained_at: Some(ctx.now),
        ..Default::default()
    };
    apply_user(&mut info, data);
    let client_type = ctx
        .account
        .option("client_type")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("h5");
    info.extra.insert("client_type".into(), client_type.into());
    Ok(Session {
        tokens: SessionTokens {
            access: SecretString::new(token),
            ..Default::default()
        },
        info,
    })
}

fn done(session: Session) -> Progress {
    Progress::Done(Box::new(LoginOutcome::new(session)))
}

impl Shopxo {
    async fn call(
        &self,
        http: &Http,
        url: Url,
        body: Option<Map<String, Value>>,
    ) -> Result<(Response, Answer)> {
        let rb = match body {
            Some(body) => http.post(url).json(&body),
            None => http.get(url),
        };
        let resp = http.execute(rb).await?;
        let answer = envelope(&resp)?;
        Ok((resp, answer))
    }

    async fn login_config(&self, ctx: &Ctx<'_>, http: &Http) -> Result<LoginConfig> {
        let (_, answer) = self
            .call(http, api_url(ctx.account, "base/common", &[])?, None)
            .await?;
        if answer.code != 0 {
            return Err(Error::server(format!(
                "ShopXO refused to describe its login settings (code {})",
                answer.code
            ))
            .with_server_message(answer.msg));
        }
        Ok(parse_config(&answer.data))
    }

    /// Fetch a captcha image and ask for it.
    async fn captcha(&self, ctx: &Ctx<'_>, http: &Http, flow: Flow) -> Result<Progress> {
        let t = ctx.now.timestamp_millis().to_string();
        let url = api_url(
            ctx.account,
            "user/userverifyentry",
            &[("type", "user_login"), ("t", &t)],
        )?;
        let resp = http.execute(http.get(url)).await?;
        if !resp.is_success() {
            return Err(resp.status_error());
        }
        let media_type = sniff_image_type(&resp.body);
        if media_type == "application/octet-stream" {
            // An error envelope instead of an image?
            if let Ok(answer) = envelope(&resp) {
                return Err(Error::server(format!(
                    "ShopXO gave no captcha image (code {})",
                    answer.code
                ))
                .with_server_message(answer.msg));
            }
            return Err(resp.unexpected("the captcha is not an image"));
        }
        Ok(Progress::Challenge {
            challenge: Challenge::Captcha {
                image: resp.body.to_vec(),
                media_type: media_type.into(),
                reloadable: true,
            },
            pending: Pending::retryable(flow),
        })
    }

    async fn login_username(
        &self,
        ctx: &Ctx<'_>,
        http: &Http,
        password: SecretString,
        verify: Option<&str>,
    ) -> Result<Progress> {
        let mut body = Map::new();
        body.insert("accounts".into(), json!(ctx.account.user.trim()));
        body.insert("pwd".into(), json!(password.expose()));
        body.insert("type".into(), json!("username"));
        if let Some(v) = verify {
            body.insert("verify".into(), json!(v));
        }
        let (resp, answer) = self
            .call(http, api_url(ctx.account, "user/login", &[])?, Some(body))
            .await?;
        let flow = Flow {
            login_type: LoginType::Username,
            stage: Stage::LoginCaptcha,
            password: Some(password),
        };
        match (answer.code, verify) {
            (0, _) => Ok(done(session_from(ctx, &resp, &answer.data)?)),
            // The shop wants a captcha although base/common said no: ask for one.
            (-10 | -11, None) if about_verification(&answer.msg) => {
                self.captcha(ctx, http, flow).await
            }
            (-12, Some(_)) => Err(Error::challenge_failed("the captcha text is wrong")
                .with_server_message(answer.msg)),
            (-11, Some(_)) => Err(Error::challenge_failed(
                "the captcha expired; load a new one and try again",
            )
            .with_server_message(answer.msg)),
            (-10, Some(_)) if about_verification(&answer.msg) => {
                Err(Error::challenge_failed("the captcha is missing")
                    .with_server_message(answer.msg))
            }
            (code, _) => Err(refusal(code, &answer.msg)),
        }
    }

    async fn send_code(
        &self,
        ctx: &Ctx<'_>,
        http: &Http,
        login_type: LoginType,
        verify: Option<&str>,
    ) -> Result<Progress> {
        let mut body = Map::new();
        body.insert("accounts".into(), json!(ctx.account.user.trim()));
        body.insert("type".into(), json!(login_type.as_str()));
        if let Some(v) = verify {
            body.insert("verify".into(), json!(v));
        }
        let (_, answer) = self
            .call(
                http,
                api_url(ctx.account, "user/loginverifysend", &[])?,
                Some(body),
            )
            .await?;
        let flow = Flow {
            login_type,
            stage: Stage::SendCaptcha,
            password: None,
        };
        match (answer.code, verify) {
            (0, _) => Ok(Progress::Challenge {
                challenge: Challenge::Code {
                    channel: login_type.channel(),
                    destination: Some(mask_destination(&ctx.account.user)),
                },
                pending: Pending::retryable(Flow {
                    stage: Stage::Code,
                    ..flow
                }),
            }),
            (-10 | -11, None) if about_verification(&answer.msg) => {
                self.captcha(ctx, http, flow).await
            }
            (-12, Some(_)) => Err(Error::challenge_failed("the captcha text is wrong")
                .with_server_message(answer.msg)),
            (-11, Some(_)) => Err(Error::challenge_failed(
                "the captcha expired; load a new one and try again",
            )
            .with_server_message(answer.msg)),
            (-100, _) => Err(Error::server(
                "ShopXO could not send the code (sent too often? wait a minute)",
            )
            .with_server_message(answer.msg)),
            (code, _) => Err(refusal(code, &answer.msg)),
        }
    }

    async fn login_code(
        &self,
        ctx: &Ctx<'_>,
        http: &Http,
        login_type: LoginType,
        code: &str,
    ) -> Result<Progress> {
        let mut body = Map::new();
        body.insert("accounts".into(), json!(ctx.account.user.trim()));
        body.insert("type".into(), json!(login_type.as_str()));
        body.insert("verify".into(), json!(code));
        let (resp, answer) = self
            .call(http, api_url(ctx.account, "user/login", &[])?, Some(body))
            .await?;
        match answer.code {
            0 => Ok(done(session_from(ctx, &resp, &answer.data)?)),
            -11 | -12 => {
                Err(Error::challenge_failed("the code is wrong").with_server_message(answer.msg))
            }
            -10 if about_verification(&answer.msg) => Err(Error::challenge_failed(
                "the code expired; start the login again to get a new one",
            )
            .with_server_message(answer.msg)),
            code => Err(refusal(code, &answer.msg)),
        }
    }
}

#[async_trait]
impl Service for Shopxo {
    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    async fn begin_login(
        &self,
        ctx: &Ctx<'_>,
        password: Option<&SecretString>,
    ) -> Result<Progress> {
        let login_type = LoginType::from_account(ctx.account)?;
        if ctx.account.user.trim().is_empty() {
            return Err(Error::invalid_input(
                "ShopXO needs a user name, mobile number or e-mail",
            ));
        }
        let password = match (login_type, password) {
            (LoginType::Username, Some(p)) if !p.is_empty() => Some(p.clone()),
            (LoginType::Username, _) => {
                return Err(Error::invalid_input(
                    "a ShopXO username login needs a password",
                ));
            }
            _ => None,
        };
        let http = ctx.client()?;
        let cfg = self.login_config(ctx, &http).await?;
        if !cfg.login_types.is_empty() && !cfg.login_types.iter().any(|t| t == login_type.as_str())
        {
            return Err(Error::invalid_input(format!(
                "this shop does not allow logging in with {}; it allows: {} (option login_type)",
                login_type.as_str(),
                cfg.login_types.join(", ")
            )));
        }
        match (login_type, password) {
            (LoginType::Username, Some(password)) => {
                if cfg.login_captcha {
                    let flow = Flow {
                        login_type,
                        stage: Stage::LoginCaptcha,
                        password: Some(password),
                    };
                    self.captcha(ctx, &http, flow).await
                } else {
                    self.login_username(ctx, &http, password, None).await
                }
            }
            _ => {
                if cfg.common_captcha {
                    let flow = Flow {
                        login_type,
                        stage: Stage::SendCaptcha,
                        password: None,
                    };
                    self.captcha(ctx, &http, flow).await
                } else {
                    self.send_code(ctx, &http, login_type, None).await
                }
            }
        }
    }

    async fn answer(
        &self,
        ctx: &Ctx<'_>,
        pending: Pending,
        answer: &SecretString,
    ) -> Result<Progress> {
        let flow: Flow = pending.into_inner()?;
        let text = answer.expose().trim();
        if text.is_empty() {
            return Err(Error::challenge_failed(match flow.stage {
                Stage::Code => "enter the code that was sent",
                _ => "enter the text of the captcha image",
            }));
        }
        let http = ctx.client()?;
        match flow.stage {
            Stage::LoginCaptcha => {
                let password = flow
                    .password
                    .ok_or_else(|| Error::internal("the ShopXO flow lost its password"))?;
                self.login_username(ctx, &http, password, Some(text)).await
            }
            Stage::SendCaptcha => {
                self.send_code(ctx, &http, flow.login_type, Some(text))
                    .await
            }
            Stage::Code => self.login_code(ctx, &http, flow.login_type, text).await,
        }
    }

    async fn reload_captcha(&self, ctx: &Ctx<'_>, pending: Pending) -> Result<Progress> {
        let flow: Flow = pending.into_inner()?;
        if flow.stage == Stage::Code {
            return Err(Error::unsupported(
                "this ShopXO login step is a code, not a captcha",
            ));
        }
        let http = ctx.client()?;
        self.captcha(ctx, &http, flow).await
    }

    async fn validate(&self, ctx: &Ctx<'_>, session: &Session) -> Result<Validation> {
        let http = ctx.client()?;
        let url = api_url(
            ctx.account,
            "personal/index",
            &[("token", session.tokens.access.expose())],
        )?;
        let (_, answer) = self.call(&http, url, None).await?;
        match answer.code {
            0 => {
                let mut info = session.info.clone();
                let user = answer.data.get("data").unwrap_or(&answer.data);
                apply_user(&mut info, user);
                Ok(Validation::Valid(Some(info)))
            }
            -400 => Ok(Validation::Invalid(NeedsLoginReason::Revoked)),
            code => Err(
                Error::server(format!("ShopXO could not check the token (code {code})"))
                    .with_server_message(answer.msg),
            ),
        }
    }

    /// ShopXO has no API logout: forgetting the token locally is all there is.
    async fn logout(&self, _ctx: &Ctx<'_>, _session: &Session) -> Result<()> {
        Ok(())
    }

    fn credential(&self, _account: &Account, session: &Session) -> Credential {
        Credential::Query {
            name: "token".into(),
            value: session.tokens.access.clone(),
        }
    }

    /// `api.php` with the client parameters and no route.
    fn api_base(&self, ctx: &Ctx<'_>, _session: &Session) -> Result<Url> {
        let mut url = api_url(ctx.account, "", &[])?;
        url.set_query(None);
        Ok(url)
    }

    /// `path` is the `s=` route (`personal/index`), optionally followed by `?k=v&…`; the client
    /// parameters every app call carries and the `token` are added (docs/services/shopxo.md,
    /// "Request envelope").
    fn api_target(
        &self,
        ctx: &Ctx<'_>,
        session: &Session,
        path: &str,
    ) -> Result<crate::api::ApiTarget> {
        let (route, query) = path.trim().split_once('?').unwrap_or((path.trim(), ""));
        let route = route.trim_matches('/');
        if route.contains("://") {
            return Err(Error::invalid_input(format!(
                "for ShopXO, PATH is the route of api.php's s= parameter (e.g. personal/index), not '{route}'"
            )));
        }
        let extra: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let mut pairs: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("token", session.tokens.access.expose()));
        Ok(crate::api::ApiTarget {
            url: api_url(ctx.account, route, &pairs)?,
            headers: Vec::new(),
        })
    }

    /// The user centre, which needs the token.
    fn api_example(&self, _session: &Session) -> (&'static str, String) {
        ("GET", "personal/index".to_owned())
    }

    /// ShopXO answers HTTP 200 and says `code -400` ("please log in") for a dead token.
    fn api_session_lost(&self, status: u16, body: &[u8]) -> bool {
        status == 401 || crate::api::json_code(body, "code") == Some(-400)
    }

    /// The code logins (`login_type` sms or email) start without a password.
    fn password_required(&self, account: &Account) -> bool {
        !matches!(account.option("login_type"), Some("sms" | "email"))
    }

    /// ShopXO takes the token as a query parameter, not a header.
    fn credential_place(&self) -> CredentialPlace {
        CredentialPlace::Query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(endpoint: &str, options: &[(&str, &str)]) -> Account {
        Account {
            id: "6f1c1f7e-0000-4000-8000-000000000001".into(),
            name: "shopxo/alice01".into(),
            service: ServiceId::Shopxo,
            user: "alice01".into(),
            endpoint: endpoint.into(),
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
    fn public_parameters_go_in_the_query() {
        let url = api_url(
            &account("http://127.0.0.1:8080/shop/", &[]),
            "user/login",
            &[],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/shop/api.php?s=user%2Flogin&application=app&application_client_type=h5\
             &system_type=default&uuid=6f1c1f7e-0000-4000-8000-000000000001"
        );
        let url = api_url(
            &account("http://h/api.php", &[("client_type", "ios")]),
            "personal/index",
            &[("token", "abc")],
        )
        .unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(url.path(), "/api.php");
        assert!(q.contains(&("application_client_type".into(), "ios".into())));
        assert!(q.contains(&("token".into(), "abc".into())));
    }

    #[test]
    fn base_common_flags_in_any_spelling() {
        let cfg = parse_config(&json!({"config": {
            "home_user_login_img_verify_state": 1, "common_img_verify_state": "0",
            "home_user_login_type": ["username", "email", "sms"]}}));
        assert_eq!(
            cfg,
            LoginConfig {
                login_captcha: true,
                common_captcha: false,
                login_types: vec!["username".into(), "email".into(), "sms".into()]
            }
        );
        let cfg = parse_config(
            &json!({"config": {"home_user_login_img_verify_state": "1", "home_user_login_type": "username,sms"}}),
        );
        assert!(cfg.login_captcha);
        assert_eq!(cfg.login_types, vec!["username", "sms"]);
        assert_eq!(parse_config(&json!({})), LoginConfig::default());
    }

    #[test]
    fn refusals_keep_the_message() {
        let e = refusal(-4, "密码错误");
        assert_eq!(e.code, crate::ErrorCode::CredentialsRejected);
        assert_eq!(e.server_message.as_deref(), Some("密码错误"));
        assert_eq!(
            refusal(-3, "帐号不存在").code,
            crate::ErrorCode::CredentialsRejected
        );
        assert_eq!(
            refusal(-2, "手机号码格式错误").code,
            crate::ErrorCode::InvalidInput
        );
        assert_eq!(
            refusal(-10000, "closed").code,
            crate::ErrorCode::ServerError
        );
        assert!(about_verification("图片验证码不能为空"));
        assert!(about_verification("The verification code has expired"));
        assert!(!about_verification("用户被禁止登录"));
    }

    #[test]
    fn credential_is_the_token_query_parameter() {
        let mut s = Session::default();
        s.tokens.access = SecretString::new("t0k");
        match Shopxo.credential(&account("http://h", &[]), &s) {
            Credential::Query { name, value } => {
                assert_eq!((name.as_str(), value.expose()), ("token", "t0k"))
            }
            Credential::Header { .. } => panic!("ShopXO takes the token in the query"),
        }
    }
}
