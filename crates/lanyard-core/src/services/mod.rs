//! The five login protocols behind one trait.
//!
//! A login is a small state machine: `begin_login` returns a [`Progress`]; while it is a
//! [`Progress::Challenge`], the caller shows the challenge and calls `answer` with the person's
//! text and the [`Pending`] state it got back, until [`Progress::Done`].
//! Region redirects are not steps: a service follows them itself.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::http::Http;
use crate::model::{Account, NeedsLoginReason, ServiceId, ServiceSpec, Session, SessionInfo};
use crate::secret::SecretString;

pub mod coolkit;
pub mod shopxo;
pub mod siyuan;
pub mod sscms;
pub mod steedos;

/// Everything a service call may use. Built by the Manager for one account.
pub struct Ctx<'a> {
    pub http: &'a Http,
    pub account: &'a Account,
    /// Secret options (CoolKit `appsecret`, SiYuan `api_token`) read from the secret store.
    pub secret_options: &'a BTreeMap<String, SecretString>,
    pub now: DateTime<Utc>,
}

impl Ctx<'_> {
    pub fn secret_option(&self, key: &str) -> Option<&SecretString> {
        self.secret_options.get(key)
    }
}

/// Where a second-factor code was sent, or which kind it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeChannel {
    Totp,
    Sms,
    Email,
}

/// What a login needs from a person before it can go on.
#[derive(Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Challenge {
    Captcha {
        #[serde(skip)]
        image: Vec<u8>,
        /// e.g. `image/png`, `image/gif` (sniffed from the bytes, never trusted from the server).
        media_type: String,
        /// Whether a fresh image can be requested (`reload_captcha`).
        reloadable: bool,
    },
    Code {
        channel: CodeChannel,
        /// A hint of where the code went, e.g. "138****0000".
        destination: Option<String>,
    },
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Challenge::Captcha { image, media_type, .. } => {
                write!(f, "Captcha({media_type}, {} bytes)", image.len())
            }
            Challenge::Code { channel, destination } => write!(f, "Code({channel:?}, {destination:?})"),
        }
    }
}

/// Service-private state carried between login steps. It may hold the password (a captcha retry
/// needs it again), so it prints nothing.
pub struct Pending(Box<dyn Any + Send + Sync>);

impl Pending {
    pub fn new<T: Any + Send + Sync>(state: T) -> Self {
        Pending(Box::new(state))
    }
    /// Recover the service's own state; a mismatch is a bug in the caller.
    pub fn into_inner<T: Any + Send + Sync>(self) -> Result<T> {
        self.0
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| Error::internal("login flow state belongs to another service"))
    }
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pending(<redacted>)")
    }
}

/// A finished login.
#[derive(Debug)]
pub struct LoginOutcome {
    pub session: Session,
    /// Non-secret account options the service learnt and wants remembered (CoolKit `region`).
    pub remember_options: BTreeMap<String, String>,
}

impl LoginOutcome {
    pub fn new(session: Session) -> Self {
        LoginOutcome { session, remember_options: BTreeMap::new() }
    }
}

#[derive(Debug)]
pub enum Progress {
    Done(Box<LoginOutcome>),
    Challenge { challenge: Challenge, pending: Pending },
}

/// What a refresh produced: a new session (tokens possibly rotated) plus options to remember.
pub type RefreshOutcome = LoginOutcome;

#[derive(Debug, Clone)]
pub enum Validation {
    /// The token works; the info may carry fresher facts (display name, expiry).
    Valid(Option<SessionInfo>),
    Invalid(NeedsLoginReason),
}

/// How the token travels to the service.
#[derive(Debug, Clone)]
pub enum Credential {
    Header { name: String, value: SecretString },
    Query { name: String, value: SecretString },
}

#[async_trait]
pub trait Service: Send + Sync {
    fn spec(&self) -> &'static ServiceSpec;

    /// Start a login. `password` is `None` for code-only logins (ShopXO sms/email).
    async fn begin_login(&self, ctx: &Ctx<'_>, password: Option<&SecretString>) -> Result<Progress>;

    /// Answer the challenge of the previous step (captcha text or code).
    async fn answer(&self, ctx: &Ctx<'_>, pending: Pending, answer: &SecretString) -> Result<Progress>;

    /// Fetch a new captcha image for the same step.
    async fn reload_captcha(&self, _ctx: &Ctx<'_>, _pending: Pending) -> Result<Progress> {
        Err(Error::unsupported(format!("{} has no captcha to reload", self.spec().display_name)))
    }

    /// Renew the session without a person. Errors with code `NeedsLogin` are permanent
    /// (refresh token rejected); transient codes (`Network`, `ServerError`) may be retried.
    async fn refresh(&self, _ctx: &Ctx<'_>, _session: &Session) -> Result<RefreshOutcome> {
        Err(Error::unsupported(format!("{} sessions cannot be refreshed", self.spec().display_name)))
    }

    /// Ask the server whether the token still works.
    async fn validate(&self, ctx: &Ctx<'_>, session: &Session) -> Result<Validation>;

    /// Tell the server the session is over, where the protocol allows.
    async fn logout(&self, _ctx: &Ctx<'_>, _session: &Session) -> Result<()> {
        Ok(())
    }

    /// The credential in the form later calls carry it.
    fn credential(&self, account: &Account, session: &Session) -> Credential;
}

/// The service implementation for an id.
pub fn service(id: ServiceId) -> &'static dyn Service {
    match id {
        ServiceId::Steedos => &steedos::Steedos,
        ServiceId::Sscms => &sscms::Sscms,
        ServiceId::Coolkit => &coolkit::Coolkit,
        ServiceId::Siyuan => &siyuan::Siyuan,
        ServiceId::Shopxo => &shopxo::Shopxo,
    }
}

/// The specs of all five services, in display order.
pub fn specs() -> [&'static ServiceSpec; 5] {
    ServiceId::ALL.map(spec)
}

pub fn spec(id: ServiceId) -> &'static ServiceSpec {
    match id {
        ServiceId::Steedos => &steedos::SPEC,
        ServiceId::Sscms => &sscms::SPEC,
        ServiceId::Coolkit => &coolkit::SPEC,
        ServiceId::Siyuan => &siyuan::SPEC,
        ServiceId::Shopxo => &shopxo::SPEC,
    }
}
