//! SiYuan cloud account through the local kernel: `/api/account/login` (docs/services/siyuan.md).
//!
//! Flow: `POST /api/account/login {userName, userPassword: md5hex, captcha, cloudRegion}` →
//! `code 0` token | `code 1` + `needCaptcha` (image from the cloud account site) | `code 10`
//! TOTP (`/api/setting/login2faCloudUser`) → `POST /api/setting/getCloudUser {token}`, which
//! makes the kernel adopt the user and gives `userToken` + `userTokenExpireTime` (seconds).
//! Every kernel call carries `Authorization: Token <api_token>` when that option is set.
//! The choices the notes leave open are listed on [`Siyuan`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use url::Url;

use super::support::clean_server_text;
use super::{
    Challenge, CodeChannel, Credential, Ctx, LoginOutcome, Pending, Progress, RefreshOutcome,
    Service, Validation,
};
use crate::error::{Error, Result};
use crate::model::{
    Account, Capabilities, NeedsLoginReason, OptionKind, OptionSpec, ServiceId, ServiceSpec,
    Session, SessionInfo, SessionTokens,
};
use crate::secret::SecretString;

pub static SPEC: ServiceSpec = ServiceSpec {
    id: ServiceId::Siyuan,
    display_name: "SiYuan",
    description: "SiYuan cloud account, through the local SiYuan kernel",
    user_label: "Cloud account user name",
    default_endpoint: Some("http://127.0.0.1:6806"),
    endpoint_help: "The SiYuan kernel, e.g. http://127.0.0.1:6806",
    options: &[
        OptionSpec {
            key: "api_token",
            label: "Kernel API token",
            help: "Settings → About → API token; sent as `Authorization: Token …`",
            kind: OptionKind::Secret,
            required: false,
            default: None,
            secret: true,
        },
        OptionSpec {
            key: "cloud_region",
            label: "Cloud region",
            help: "0: ld246.com (China), 1: liuyun.io (North America)",
            kind: OptionKind::Choice(&["0", "1"]),
            required: false,
            default: Some("0"),
            secret: false,
        },
        OptionSpec {
            key: "captcha_endpoint",
            label: "Captcha host",
            help: "Where captcha images come from; defaults to https://ld246.com or https://liuyun.io by region",
            kind: OptionKind::Url,
            required: false,
            default: None,
            secret: false,
        },
    ],
    capabilities: Capabilities {
        refresh: true,
        validate: true,
        logout: true,
        captcha: true,
        second_factor: true,
        code_login: false,
        expires: true,
    },
    token_form: "cookie symphony=<userToken> (cloud); the kernel holds the login",
};

/// The kernel when the account names none (`kernel/util/working.go`).
pub const DEFAULT_KERNEL: &str = "http://127.0.0.1:6806";

fn kernel_base(account: &Account) -> String {
    let e = account.endpoint.trim().trim_end_matches('/');
    if e.is_empty() {
        DEFAULT_KERNEL.to_string()
    } else {
        e.to_string()
    }
}

/// `cloud_region` as the number the kernel wants (0 ld246.com, 1 liuyun.io).
fn cloud_region(account: &Account) -> Result<u8> {
    match account.option("cloud_region").map(str::trim).unwrap_or("") {
        "" | "0" => Ok(0),
        "1" => Ok(1),
        other => Err(Error::invalid_input(format!(
            "SiYuan cloud_region must be 0 or 1, not '{other}'"
        ))),
    }
}

/// Where captcha images come from: the `captcha_endpoint` option, else the cloud account site
/// of the region (`getCloudURL`: ld246.com / liuyun.io).
fn captcha_host(account: &Account) -> Result<String> {
    if let Some(host) = account
        .option("captcha_endpoint")
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        return Ok(host.trim_end_matches('/').to_string());
    }
    Ok(match cloud_region(account)? {
        0 => "https://ld246.com".to_string(),
        _ => "https://liuyun.io".to_string(),
    })
}

/// The media type of a captcha, sniffed from its bytes. SVG is refused (it can carry script),
/// and so is anything that is not a known raster image.
fn captcha_media_type(bytes: &[u8]) -> Option<&'static str> {
    match super::support::sniff_image_type(bytes) {
        t @ ("image/png" | "image/gif" | "image/jpeg" | "image/webp" | "image/bmp") => Some(t),
        _ => None,
    }
}

/// JavaScript truthiness, as the app tests `needCaptcha`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `needCaptcha` as the text that goes into the image URL (its type is unconfirmed).
fn need_captcha_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn non_empty_str<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v[key].as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A kernel answer `{code, msg, data}`.
struct Envelope {
    code: i64,
    msg: String,
    data: Value,
}

/// POST a JSON body to the kernel with `Authorization: Token …` when an API token is set.
async fn kernel_post(ctx: &Ctx<'_>, path: &str, body: &Value) -> Result<Envelope> {
    let base = kernel_base(ctx.account);
    let url = Url::parse(&format!("{base}{path}")).map_err(|e| {
        Error::invalid_input(format!(
            "SiYuan kernel address '{base}' is not a valid URL: {e}"
        ))
    })?;
    let bytes =
        serde_json::to_vec(body).map_err(|_| Error::internal("cannot encode a SiYuan request"))?;
    let http = ctx.client()?;
    let mut rb = http
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(bytes);
    let token = ctx
        .secret_option("api_token")
        .filter(|t| !t.expose().trim().is_empty());
    if let Some(token) = token {
        let mut value = HeaderValue::from_str(&format!("Token {}", token.expose().trim()))
            .map_err(|_| {
                Error::invalid_input(
                    "the SiYuan api_token contains characters a header cannot carry",
                )
            })?;
        value.set_sensitive(true);
        rb = rb.header(AUTHORIZATION, value);
    }
    let resp = http.execute(rb).await?;
    match resp.status {
        200..=299 => {}
        401 if token.is_some() => {
            return Err(Error::invalid_input(
                "the SiYuan kernel rejected its API token (HTTP 401): check the api_token option \
                 (SiYuan → Settings → About → API token); this is the kernel's token, not your cloud password",
            )
            .with_server_message(resp.server_text().unwrap_or_default()));
        }
        401 => {
            return Err(Error::invalid_input(
                "the SiYuan kernel wants authentication (HTTP 401): set the api_token option \
                 (SiYuan → Settings → About → API token)",
            )
            .with_server_message(resp.server_text().unwrap_or_default()));
        }
        403 => {
            return Err(Error::invalid_input(
                "the SiYuan kernel refused the call (HTTP 403): account calls need the administrator role, \
                 which the kernel grants to its API token (option api_token)",
            ));
        }
        _ => return Err(resp.status_error()),
    }
    if resp.body.trim_ascii().is_empty() {
        // The handlers type-assert every field and a recovered panic answers 200 with no body.
        return Err(Error::server(format!(
            "the SiYuan kernel rejected the request shape on {path} (an empty answer: it failed on a \
             missing or mistyped field); this kernel version and Lanyard disagree"
        )));
    }
    let json: Value = resp.json()?;
    let Some(code) = json["code"].as_i64() else {
        return Err(resp.unexpected("no numeric `code` in the answer; is this a SiYuan kernel?"));
    };
    let msg = clean_server_text(json["msg"].as_str().unwrap_or(""))
        .chars()
        .take(300)
        .collect();
    Ok(Envelope {
        code,
        msg,
        data: json["data"].clone(),
    })
}

/// `code -1`: the kernel could not reach the cloud (or could not read its answer).
fn kernel_failure(env: &Envelope) -> Error {
    if env.msg.starts_with("Parses request") {
        Error::server("the SiYuan kernel could not parse Lanyard's request")
            .with_server_message(env.msg.clone())
    } else {
        Error::network("the SiYuan kernel could not reach the SiYuan cloud")
            .with_server_message(env.msg.clone())
    }
}

/// What `/api/account/login` said.
enum LoginReply {
    /// The cloud accepted; this token goes to `getCloudUser`.
    Token(SecretString),
    /// A captcha is required: `need` names it (the cloud says it is the user id); `msg` says
    /// why (first request, wrong captcha, or a wrong password with the captcha on).
    Captcha { need: String, msg: String },
    /// Two-factor authentication; a temporary token for `login2faCloudUser`.
    TwoFactor(SecretString),
    /// `code 1` without a captcha request: the cloud's message.
    Rejected(String),
}

async fn cloud_login(
    ctx: &Ctx<'_>,
    password_md5: &SecretString,
    captcha: &str,
) -> Result<LoginReply> {
    // All four fields, typed: a missing or mistyped one makes the kernel panic (empty answer).
    let body = json!({
        "userName": ctx.account.user.trim(),
        "userPassword": password_md5.expose(),
        "captcha": captcha,
        "cloudRegion": cloud_region(ctx.account)?,
    });
    let env = kernel_post(ctx, "/api/account/login", &body).await?;
    let token = |what: &str| {
        non_empty_str(&env.data, "token")
            .map(SecretString::new)
            .ok_or_else(|| Error::server(format!("the SiYuan kernel's {what} answer has no token")))
    };
    match env.code {
        0 => Ok(LoginReply::Token(token("login")?)),
        1 if truthy(&env.data["needCaptcha"]) => Ok(LoginReply::Captcha {
            need: need_captcha_text(&env.data["needCaptcha"]),
            msg: env.msg,
        }),
        1 => Ok(LoginReply::Rejected(env.msg)),
        10 => Ok(LoginReply::TwoFactor(token("two-factor")?)),
        -1 => Err(kernel_failure(&env)),
        code => Err(Error::server(format!(
            "the SiYuan kernel answered the login with code {code}"
        ))
        .with_server_message(env.msg)),
    }
}

/// Login state between steps. The captcha step keeps the password's MD5 (what the protocol
/// sends, so it is as secret as the password) to repeat the login with the answer.
///
/// Both steps are [`Pending::retryable`]: after a wrong answer the caller may answer again with
/// its copy (2FA: the temporary token stays valid on the cloud) or reload the captcha. The
/// `needCaptcha` value sits in a cell shared by all copies: when a wrong answer brings a new
/// one, the caller's copy sees it, so its `reload_captcha` shows the captcha now in force.
#[derive(Clone)]
enum Step {
    Captcha {
        password_md5: SecretString,
        need_captcha: Arc<Mutex<String>>,
    },
    TwoFactor {
        token: SecretString,
    },
}

fn current(cell: &Mutex<String>) -> String {
    cell.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

async fn captcha_challenge(
    ctx: &Ctx<'_>,
    password_md5: SecretString,
    need_captcha: Arc<Mutex<String>>,
) -> Result<Progress> {
    let image = fetch_captcha(ctx, &current(&need_captcha)).await?;
    Ok(Progress::Challenge {
        challenge: image,
        pending: Pending::retryable(Step::Captcha {
            password_md5,
            need_captcha,
        }),
    })
}

/// `GET {captcha host}/captcha/login?needCaptcha=<v>&t=<ms>`, straight from the cloud account
/// site as the app does; no kernel credential goes there.
async fn fetch_captcha(ctx: &Ctx<'_>, need_captcha: &str) -> Result<Challenge> {
    let host = captcha_host(ctx.account)?;
    let mut url = Url::parse(&format!("{host}/captcha/login")).map_err(|e| {
        Error::invalid_input(format!(
            "SiYuan captcha_endpoint '{host}' is not a valid URL: {e}"
        ))
    })?;
    url.query_pairs_mut()
        .append_pair("needCaptcha", need_captcha)
        .append_pair("t", &Utc::now().timestamp_millis().to_string());
    let http = ctx.client()?;
    let resp = http.execute(http.get(url)).await?;
    if !resp.is_success() {
        return Err(resp.status_error());
    }
    let Some(media_type) = captcha_media_type(&resp.body) else {
        return Err(resp.unexpected("the captcha is not a PNG, GIF, JPEG, WebP or BMP image"));
    };
    Ok(Challenge::Captcha {
        image: resp.body.to_vec(),
        media_type: media_type.into(),
        reloadable: true,
    })
}

/// The `conf.User` facts Lanyard keeps.
struct CloudUser {
    user_name: String,
    display_name: String,
    user_id: Option<String>,
    token: SecretString,
    expires_at: Option<DateTime<Utc>>,
}

/// `userTokenExpireTime` is a decimal string of Unix seconds (numbers accepted too; a value
/// that can only be milliseconds is read as such).
fn parse_expiry(v: &Value) -> Option<DateTime<Utc>> {
    let n: i64 = match v {
        Value::String(s) => s.trim().parse().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    if n <= 0 {
        return None;
    }
    let secs = if n > 100_000_000_000 { n / 1000 } else { n };
    DateTime::from_timestamp(secs, 0)
}

fn parse_user(data: &Value) -> Option<CloudUser> {
    let user_name = clean_server_text(non_empty_str(data, "userName")?);
    let token = SecretString::new(non_empty_str(data, "userToken")?);
    let display_name = non_empty_str(data, "userNickname")
        .map(clean_server_text)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| user_name.clone());
    let user_id = match &data["userId"] {
        Value::String(s) if !s.is_empty() => Some(clean_server_text(s)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Some(CloudUser {
        user_name,
        display_name,
        user_id,
        token,
        expires_at: parse_expiry(&data["userTokenExpireTime"]),
    })
}

/// `getCloudUser {token}`: the kernel fetches the user from the cloud and adopts it. `Ok(None)`
/// when the kernel returns no user (the cloud refused the token).
async fn get_cloud_user(ctx: &Ctx<'_>, token: &SecretString) -> Result<Option<CloudUser>> {
    let env = kernel_post(
        ctx,
        "/api/setting/getCloudUser",
        &json!({ "token": token.expose() }),
    )
    .await?;
    match env.code {
        0 => Ok(parse_user(&env.data)),
        -1 => Err(kernel_failure(&env)),
        code => Err(Error::server(format!(
            "the SiYuan kernel answered getCloudUser with code {code}"
        ))
        .with_server_message(env.msg)),
    }
}

/// `getCloudUser {}`: the user the kernel holds (it renews it over the network itself when
/// the token expires within 3 days). `None` when it holds none.
async fn kernel_user(ctx: &Ctx<'_>) -> Result<Option<CloudUser>> {
    let env = kernel_post(ctx, "/api/setting/getCloudUser", &json!({})).await?;
    match env.code {
        0 => Ok(parse_user(&env.data)),
        -1 => Err(kernel_failure(&env)),
        code => Err(Error::server(format!(
            "the SiYuan kernel answered getCloudUser with code {code}"
        ))
        .with_server_message(env.msg)),
    }
}

/// What `getCloudUser {token}` made of a token.
enum Renewal {
    /// A new token, or the same one with a later expiry.
    Renewed(CloudUser),
    /// The kernel answered its stored copy unchanged: what it does when the cloud refuses the
    /// token (on failure `data` keeps the old user).
    Refused,
    /// No user at all: neither the cloud nor the kernel knows the token.
    Unknown,
}

/// `getCloudUser {token}`. A renewal is a different token or a later expiry; the same token
/// with the same (or no) expiry is the kernel's unchanged stored copy, i.e. a refusal.
async fn renew(
    ctx: &Ctx<'_>,
    token: &SecretString,
    known_expiry: Option<DateTime<Utc>>,
) -> Result<Renewal> {
    let Some(user) = get_cloud_user(ctx, token).await? else {
        return Ok(Renewal::Unknown);
    };
    let rotated = user.token.expose() != token.expose();
    let extended = match (user.expires_at, known_expiry) {
        (Some(new), Some(old)) => new > old,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let expired = user.expires_at.is_some_and(|e| e <= ctx.now);
    Ok(if (rotated || extended) && !expired {
        Renewal::Renewed(user)
    } else {
        Renewal::Refused
    })
}

fn same_user(account: &Account, user: &CloudUser) -> bool {
    user.user_name.eq_ignore_ascii_case(account.user.trim())
}

fn session_for(now: DateTime<Utc>, user: CloudUser) -> Session {
    let mut info = SessionInfo {
        obtained_at: Some(now),
        expires_at: user.expires_at,
        refresh_expires_at: None,
        user_id: user.user_id,
        display_name: Some(user.display_name),
        extra: BTreeMap::new(),
    };
    info.extra.insert("user_name".into(), user.user_name);
    Session {
        tokens: SessionTokens {
            access: user.token,
            refresh: None,
            extra: BTreeMap::new(),
        },
        info,
    }
}

/// The last step of every login: turn the cloud token into the stored user.
async fn finish(ctx: &Ctx<'_>, token: &SecretString) -> Result<Progress> {
    let Some(user) = get_cloud_user(ctx, token).await? else {
        return Err(Error::server(
            "the SiYuan kernel accepted the login but could not fetch the cloud user; try again",
        ));
    };
    if !same_user(ctx.account, &user) {
        return Err(Error::server(format!(
            "the SiYuan kernel returned the cloud user '{}' instead of '{}'",
            user.user_name,
            ctx.account.user.trim()
        )));
    }
    Ok(Progress::Done(Box::new(LoginOutcome::new(session_for(
        ctx.now, user,
    )))))
}

/// What a login reply means. `answered`: the `needCaptcha` cell of the captcha step being
/// answered (`None` at the first step).
async fn next(
    ctx: &Ctx<'_>,
    reply: LoginReply,
    password_md5: SecretString,
    answered: Option<&Mutex<String>>,
) -> Result<Progress> {
    match reply {
        LoginReply::Token(token) => finish(ctx, &token).await,
        LoginReply::TwoFactor(token) => Ok(Progress::Challenge {
            challenge: Challenge::Code {
                channel: CodeChannel::Totp,
                destination: None,
            },
            pending: Pending::retryable(Step::TwoFactor { token }),
        }),
        LoginReply::Captcha { need, msg } => match answered {
            // The cloud cannot be told apart here: a wrong captcha and a wrong password (with
            // the captcha on) both come back as "captcha needed"; its message says which.
            Some(cell) => {
                *cell.lock().unwrap_or_else(|p| p.into_inner()) = need;
                Err(Error::challenge_failed(
                    "SiYuan refused the login and asks for a new captcha (the captcha or the password was wrong); reload it and try again",
                )
                .with_server_message(msg))
            }
            None => captcha_challenge(ctx, password_md5, Arc::new(Mutex::new(need))).await,
        },
        LoginReply::Rejected(msg) => Err(Error::credentials_rejected(
            "SiYuan rejected the user name or password",
        )
        .with_server_message(msg)),
    }
}

/// The SiYuan service.
///
/// Choices where the protocol leaves room (docs/services/siyuan.md says what they mean for users):
/// - **Wrong captcha**: the cloud answers `code 1` with a fresh `needCaptcha`; `answer` returns
///   `ChallengeFailed` and stores the new value in the step's shared cell. The step is
///   [`Pending::retryable`]: the caller's copy stays usable, and it should `reload_captcha`
///   before the next attempt (the old image's answer is void). A wrong 2FA code is
///   `ChallengeFailed` too, and the copy can be answered again with the next code.
/// - **Kernel API token rejected** (HTTP 401) is `InvalidInput` naming the kernel token, never
///   `CredentialsRejected`: the cloud password is not in question, and keep-alive must not
///   conclude it changed.
/// - **Refresh** is `getCloudUser {token}`, which may rotate the token (the simulator does,
///   and the old token dies). It succeeded iff the answer carries a different token or a later
///   expiry: on failure the kernel answers its stored copy unchanged, which is then
///   `NeedsLogin`. When the kernel knows nothing of our token but holds a newer one for the
///   same user (it renews on its own: a 2-hourly job, and `getCloudUser {}` near expiry), that
///   one is verified the same way and adopted.
/// - **Validate** asks the kernel (`getCloudUser {}`), not the cloud: the only cloud check is
///   `getCloudUser {token}`, which may rotate the token, and `Validation` cannot hand a new
///   token back, so validating that way would leave the account holding a dead token. It is
///   `Invalid` when the kernel holds another user (`LoggedInElsewhere`), an expired token
///   (`Expired`) or a different token (`Revoked`; a refresh adopts it). A kernel that holds no
///   user says nothing about the token (`Unverifiable`). A revocation on the cloud side is found
///   by the next refresh, which the keep-alive always tries first for SiYuan.
/// - **Logout** is the kernel's local `logoutCloudUser` (the cloud is not told); it is skipped
///   when the kernel is logged in as someone else, so it never signs out another account.
/// - **Credential**: `Cookie: symphony=<userToken>`, how the kernel itself authenticates to
///   the cloud.
pub struct Siyuan;

#[async_trait]
impl Service for Siyuan {
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
            _ => return Err(Error::invalid_input("SiYuan logs in with a password")),
        };
        if ctx.account.user.trim().is_empty() {
            return Err(Error::invalid_input(
                "SiYuan needs the cloud account's user name",
            ));
        }
        let password_md5 = SecretString::new(super::support::md5_hex(password.expose()));
        let reply = cloud_login(ctx, &password_md5, "").await?;
        next(ctx, reply, password_md5, None).await
    }

    async fn answer(
        &self,
        ctx: &Ctx<'_>,
        pending: Pending,
        answer: &SecretString,
    ) -> Result<Progress> {
        let text = answer.expose().trim();
        if text.is_empty() {
            return Err(Error::invalid_input("the answer is empty"));
        }
        match pending.into_inner::<Step>()? {
            Step::Captcha {
                password_md5,
                need_captcha,
            } => {
                let reply = cloud_login(ctx, &password_md5, text).await?;
                next(ctx, reply, password_md5, Some(&need_captcha)).await
            }
            Step::TwoFactor { token } => {
                let env = kernel_post(
                    ctx,
                    "/api/setting/login2faCloudUser",
                    &json!({ "token": token.expose(), "code": text }),
                )
                .await?;
                // The kernel relays the cloud's object as `data` with code 0 even when the code
                // was wrong: only `data.token` says it worked.
                match env.code {
                    0 => {}
                    -1 => return Err(kernel_failure(&env)),
                    code => {
                        return Err(Error::server(format!(
                            "the SiYuan kernel answered the 2FA step with code {code}"
                        ))
                        .with_server_message(env.msg));
                    }
                }
                match non_empty_str(&env.data, "token") {
                    Some(t) => finish(ctx, &SecretString::new(t)).await,
                    None => Err(Error::challenge_failed(
                        "SiYuan did not accept the two-factor code; try again",
                    )
                    .with_server_message(clean_server_text(
                        env.data["msg"].as_str().unwrap_or_default(),
                    ))),
                }
            }
        }
    }

    async fn reload_captcha(&self, ctx: &Ctx<'_>, pending: Pending) -> Result<Progress> {
        match pending.into_inner::<Step>()? {
            Step::Captcha {
                password_md5,
                need_captcha,
            } => captcha_challenge(ctx, password_md5, need_captcha).await,
            Step::TwoFactor { .. } => Err(Error::unsupported(
                "this SiYuan login step asks for a code, not a captcha",
            )),
        }
    }

    async fn refresh(&self, ctx: &Ctx<'_>, session: &Session) -> Result<RefreshOutcome> {
        let ours = &session.tokens.access;
        if ours.is_empty() {
            return Err(Error::needs_login(
                "there is no SiYuan cloud token; log in again",
            ));
        }
        let user = match renew(ctx, ours, session.info.expires_at).await? {
            Renewal::Renewed(user) => user,
            Renewal::Refused => {
                return Err(Error::needs_login(
                    "SiYuan no longer accepts the cloud token (the kernel answered its stored copy unchanged); log in again",
                ));
            }
            Renewal::Unknown => {
                // Our token is unknown to the cloud and to the kernel. If the kernel renewed the
                // login itself (its 2-hourly refresh, or `getCloudUser {}` near expiry), it holds
                // a newer token for the same user: verify that one and adopt it.
                match kernel_user(ctx).await? {
                    Some(k) if same_user(ctx.account, &k) && k.token.expose() != ours.expose() => {
                        match renew(ctx, &k.token, k.expires_at).await? {
                            Renewal::Renewed(user) => user,
                            _ => {
                                return Err(Error::needs_login(
                                    "SiYuan no longer accepts the cloud token; log in again",
                                ));
                            }
                        }
                    }
                    _ => {
                        return Err(Error::needs_login(
                            "SiYuan no longer accepts the cloud token; log in again",
                        ));
                    }
                }
            }
        };
        if !same_user(ctx.account, &user) {
            return Err(Error::needs_login(format!(
                "the SiYuan kernel is now logged in as '{}'; log in again",
                user.user_name
            )));
        }
        let mut renewed = session_for(ctx.now, user);
        // Keep facts the answer may lack.
        renewed.info.user_id = renewed
            .info
            .user_id
            .or_else(|| session.info.user_id.clone());
        Ok(LoginOutcome::new(renewed))
    }

    /// The kernel's view (`getCloudUser {}`), which does not rotate the token; see [`Siyuan`].
    async fn validate(&self, ctx: &Ctx<'_>, session: &Session) -> Result<Validation> {
        if session.tokens.access.is_empty() {
            return Ok(Validation::Invalid(NeedsLoginReason::Revoked));
        }
        let Some(user) = kernel_user(ctx).await? else {
            // The kernel was logged out (here or in the SiYuan app): that is the kernel's own
            // state, not the cloud's verdict on the token, which only a refresh asks for.
            return Ok(Validation::Unverifiable(
                "the SiYuan kernel holds no cloud login (it was logged out here or in the app), so it cannot say whether the token still works; the next refresh asks the cloud"
                    .to_owned(),
            ));
        };
        if !same_user(ctx.account, &user) {
            return Ok(Validation::Invalid(NeedsLoginReason::LoggedInElsewhere));
        }
        if user.expires_at.is_some_and(|e| e <= ctx.now) {
            return Ok(Validation::Invalid(NeedsLoginReason::Expired));
        }
        if user.token.expose() != session.tokens.access.expose() {
            // The kernel holds another token for this user: ours was superseded. A refresh
            // adopts the kernel's.
            return Ok(Validation::Invalid(NeedsLoginReason::Revoked));
        }
        let mut info = session.info.clone();
        info.expires_at = user.expires_at.or(info.expires_at);
        info.display_name = Some(user.display_name);
        Ok(Validation::Valid(Some(info)))
    }

    async fn logout(&self, ctx: &Ctx<'_>, _session: &Session) -> Result<()> {
        // Only sign the kernel out if it is logged in as this account (or as nobody).
        if let Some(user) = kernel_user(ctx).await?
            && !same_user(ctx.account, &user)
        {
            return Ok(());
        }
        let env = kernel_post(ctx, "/api/setting/logoutCloudUser", &json!({})).await?;
        match env.code {
            0 => Ok(()),
            code => Err(Error::server(format!(
                "the SiYuan kernel answered the logout with code {code}"
            ))
            .with_server_message(env.msg)),
        }
    }

    fn credential(&self, _account: &Account, session: &Session) -> Credential {
        Credential::Header {
            name: "Cookie".into(),
            value: SecretString::new(format!("symphony={}", session.tokens.access.expose())),
        }
    }

    /// The kernel.
    fn api_base(&self, ctx: &Ctx<'_>, _session: &Session) -> Result<Url> {
        Url::parse(&format!("{}/", kernel_base(ctx.account))).map_err(|e| {
            Error::invalid_input(format!(
                "invalid SiYuan kernel '{}': {e}",
                ctx.account.endpoint
            ))
        })
    }

    /// A kernel API call: the kernel knows the cloud session itself and wants its API token,
    /// `Authorization: Token <api_token>`, when the account has one.
    fn api_target(
        &self,
        ctx: &Ctx<'_>,
        session: &Session,
        path: &str,
    ) -> Result<crate::api::ApiTarget> {
        let mut target = crate::api::ApiTarget {
            url: crate::api::join(&self.api_base(ctx, session)?, path)?,
            headers: Vec::new(),
        };
        if let Some(token) = ctx
            .secret_option("api_token")
            .filter(|t| !t.expose().trim().is_empty())
        {
            target.headers.push((
                AUTHORIZATION.as_str().to_owned(),
                SecretString::new(format!("Token {}", token.expose().trim())),
            ));
        }
        Ok(target)
    }

    /// The kernel's version (every kernel route is a POST).
    fn api_example(&self, _session: &Session) -> (&'static str, String) {
        ("POST", "/api/system/version".to_owned())
    }

    /// A kernel 401 is about its API token, not the cloud session: renewing would not help.
    fn api_session_lost(&self, _status: u16, _body: &[u8]) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(options: &[(&str, &str)]) -> Account {
        Account {
            id: "1".into(),
            name: "siyuan/alice".into(),
            service: crate::ServiceId::Siyuan,
            user: "alice".into(),
            endpoint: String::new(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            remember_password: false,
            active: true,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn password_is_lowercase_hex_md5() {
        assert_eq!(
            super::super::support::md5_hex("secret123"),
            "5d7845ac6ee7cfffafc5fe5f35cf666d"
        );
    }

    #[test]
    fn kernel_and_captcha_hosts() {
        assert_eq!(kernel_base(&account(&[])), DEFAULT_KERNEL);
        assert_eq!(captcha_host(&account(&[])).unwrap(), "https://ld246.com");
        assert_eq!(
            captcha_host(&account(&[("cloud_region", "1")])).unwrap(),
            "https://liuyun.io"
        );
        assert_eq!(
            captcha_host(&account(&[("captcha_endpoint", "http://127.0.0.1:9/")])).unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            cloud_region(&account(&[("cloud_region", "2")]))
                .unwrap_err()
                .code,
            crate::ErrorCode::InvalidInput
        );
    }

    #[test]
    fn need_captcha_truthiness_and_text() {
        assert!(!truthy(&Value::Null));
        assert!(!truthy(&json!("")));
        assert!(!truthy(&json!(false)));
        assert!(!truthy(&json!(0)));
        assert!(truthy(&json!("1650000000000")));
        assert!(truthy(&json!(true)));
        assert_eq!(need_captcha_text(&json!("abc")), "abc");
        assert_eq!(need_captcha_text(&json!(12)), "12");
    }

    #[test]
    fn images_are_sniffed_not_trusted() {
        assert_eq!(
            captcha_media_type(b"\x89PNG\r\n\x1a\nrest"),
            Some("image/png")
        );
        assert_eq!(captcha_media_type(b"GIF87a...."), Some("image/gif"));
        assert_eq!(
            captcha_media_type(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some("image/jpeg")
        );
        assert_eq!(
            captcha_media_type(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            None
        );
        assert_eq!(captcha_media_type(b"{\"code\":1}"), None);
    }

    #[test]
    fn expiry_is_seconds_in_a_string() {
        assert_eq!(
            parse_expiry(&json!("1700000000")).unwrap().timestamp(),
            1_700_000_000
        );
        assert_eq!(
            parse_expiry(&json!(1_700_000_000)).unwrap().timestamp(),
            1_700_000_000
        );
        assert_eq!(
            parse_expiry(&json!("1700000000000")).unwrap().timestamp(),
            1_700_000_000
        );
        assert!(parse_expiry(&json!("")).is_none());
        assert!(parse_expiry(&Value::Null).is_none());
    }

    #[test]
    fn cloud_user_fields() {
        let u = parse_user(&json!({
            "userId": "42", "userName": "alice", "userNickname": "", "userToken": "tok",
            "userTokenExpireTime": "1700000000"
        }))
        .unwrap();
        assert_eq!(u.display_name, "alice");
        assert_eq!(u.user_id.as_deref(), Some("42"));
        assert_eq!(u.token.expose(), "tok");
        assert!(parse_user(&Value::Null).is_none());
        assert!(
            parse_user(&json!({"userName": "alice"})).is_none(),
            "no token, no user"
        );
        let s = session_for(Utc::now(), u);
        assert_eq!(s.info.expires_at.unwrap().timestamp(), 1_700_000_000);
        assert!(s.tokens.refresh.is_none());
    }

    #[test]
    fn credential_is_the_symphony_cookie() {
        let s = Session {
            tokens: SessionTokens {
                access: "tok".into(),
                ..Default::default()
            },
            info: SessionInfo::default(),
        };
        match Siyuan.credential(&account(&[]), &s) {
            Credential::Header { name, value } => {
                assert_eq!(name, "Cookie");
                assert_eq!(value.expose(), "symphony=tok");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
