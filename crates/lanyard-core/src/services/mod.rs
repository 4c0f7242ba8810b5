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

use crate::api::ApiTarget;
pub use crate::api::Credential;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::model::{Account, NeedsLoginReason, ServiceId, ServiceSpec, Session, SessionInfo};
use crate::secret::SecretString;

pub mod coolkit;
pub mod shopxo;
pub mod siyuan;
pub mod sscms;
pub mod steedos;
pub mod support;

pub use support::{COMMON_OPTIONS, all_options, option_spec};

/// The services Lanyard ships.
#[allow(non_upper_case_globals)]
impl ServiceId {
    pub const Steedos: ServiceId = ServiceId::new("steedos", &steedos::Steedos);
    pub const Sscms: ServiceId = ServiceId::new("sscms", &sscms::Sscms);
    pub const Coolkit: ServiceId = ServiceId::new("coolkit", &coolkit::Coolkit);
    pub const Siyuan: ServiceId = ServiceId::new("siyuan", &siyuan::Siyuan);
    pub const Shopxo: ServiceId = ServiceId::new("shopxo", &shopxo::Shopxo);

    /// The built-in services, in display order.
    pub const ALL: [ServiceId; 5] = [
        ServiceId::Steedos,
        ServiceId::Sscms,
        ServiceId::Coolkit,
        ServiceId::Siyuan,
        ServiceId::Shopxo,
    ];
}

/// Only a window's arguments arrive this way, and a window knows the built-in services only
/// (the TypeScript type of `ServiceId`); everything else a person types or a file holds is read
/// through its Manager's registry (`Manager::service_id`).
impl<'de> serde::Deserialize<'de> for ServiceId {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Registry::builtin()
            .resolve(&name)
            .map_err(|e| serde::de::Error::custom(e.message))
    }
}

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
    /// The HTTP client for this account: `http`, or one going through the account's `proxy`
    /// option, or trusting its `ca_file` (see [`Http::for_account_options`]).
    pub fn client(&self) -> Result<Http> {
        self.http.for_account_options(
            self.account.option(crate::http::PROXY_OPTION),
            self.account.option(crate::http::CA_FILE_OPTION),
        )
    }
}

/// Where a second-factor code was sent, or which kind it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum CodeChannel {
    Totp,
    Sms,
    Email,
}

/// What a login needs from a person before it can go on.
#[derive(Clone, Serialize, ts_rs::TS)]
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
            Challenge::Captcha {
                image, media_type, ..
            } => {
                write!(f, "Captcha({media_type}, {} bytes)", image.len())
            }
            Challenge::Code {
                channel,
                destination,
            } => write!(f, "Code({channel:?}, {destination:?})"),
        }
    }
}

/// Service-private state carried between login steps. It may hold the password (a captcha retry
/// needs it again), so it prints nothing.
///
/// **Retrying a step.** `answer` consumes the pending state. When a wrong captcha or code can be
/// tried again (the server keeps the challenge alive), the service builds the state with
/// [`Pending::retryable`]; the caller then takes `pending.try_clone()` before calling `answer`,
/// and if that fails with `ErrorCode::ChallengeFailed` it keeps the copy: the person may answer
/// again, or `reload_captcha` with it for a fresh image. `try_clone` is `None` for states built
/// with [`Pending::new`] (the flow must start over).
pub struct Pending {
    state: AnyState,
    cloner: Option<Cloner>,
}

type AnyState = Box<dyn Any + Send + Sync>;
type Cloner = fn(&(dyn Any + Send + Sync)) -> AnyState;

impl Pending {
    pub fn new<T: Any + Send + Sync>(state: T) -> Self {
        Pending {
            state: Box::new(state),
            cloner: None,
        }
    }
    /// A state the caller may copy (see [`Pending::try_clone`]) to retry a failed answer.
    pub fn retryable<T: Any + Send + Sync + Clone>(state: T) -> Self {
        fn clone_as<T: Any + Send + Sync + Clone>(s: &(dyn Any + Send + Sync)) -> AnyState {
            match s.downcast_ref::<T>() {
                Some(t) => Box::new(t.clone()),
                // Unreachable: the cloner is only ever stored next to a state of type T.
                None => Box::new(()),
            }
        }
        Pending {
            state: Box::new(state),
            cloner: Some(clone_as::<T>),
        }
    }
    /// A copy of a [`Pending::retryable`] state; `None` if the step cannot be retried.
    pub fn try_clone(&self) -> Option<Pending> {
        self.cloner.map(|c| Pending {
            state: c(&*self.state),
            cloner: self.cloner,
        })
    }
    /// Recover the service's own state; a mismatch is a bug in the caller.
    pub fn into_inner<T: Any + Send + Sync>(self) -> Result<T> {
        self.state
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
        LoginOutcome {
            session,
            remember_options: BTreeMap::new(),
        }
    }
}

#[derive(Debug)]
pub enum Progress {
    Done(Box<LoginOutcome>),
    Challenge {
        challenge: Challenge,
        pending: Pending,
    },
}

/// What a refresh produced: a new session (tokens possibly rotated) plus options to remember.
pub type RefreshOutcome = LoginOutcome;

#[derive(Debug, Clone)]
pub enum Validation {
    /// The token works; the info may carry fresher facts (display name, expiry).
    Valid(Option<SessionInfo>),
    Invalid(NeedsLoginReason),
    /// The server has no call that answers for a user's own token (SSCMS v7 looks users up for
    /// API keys only), so nothing was asked: the session is kept until its known expiry. A
    /// refusal from a call that needs other credentials is not a revocation. The text says why.
    Unverifiable(String),
}

/// Where a service's calls carry the token: the form it is copied in as is (the tray's copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialPlace {
    /// A header line (`X-SS-USER-TOKEN: …`).
    Header,
    /// A query parameter (`token=…`).
    Query,
}

#[async_trait]
pub trait Service: Send + Sync {
    fn spec(&self) -> &'static ServiceSpec;

    /// Start a login. `password` is `None` for code-only logins (ShopXO sms/email).
    async fn begin_login(&self, ctx: &Ctx<'_>, password: Option<&SecretString>)
    -> Result<Progress>;

    /// Answer the challenge of the previous step (captcha text or code).
    async fn answer(
        &self,
        ctx: &Ctx<'_>,
        pending: Pending,
        answer: &SecretString,
    ) -> Result<Progress>;

    /// Fetch a new captcha image for the same step.
    async fn reload_captcha(&self, _ctx: &Ctx<'_>, _pending: Pending) -> Result<Progress> {
        Err(Error::unsupported(format!(
            "{} has no captcha to reload",
            self.spec().display_name
        )))
    }

    /// Renew the session without a person. Errors with code `NeedsLogin` are permanent
    /// (refresh token rejected); transient codes (`Network`, `ServerError`) may be retried.
    async fn refresh(&self, _ctx: &Ctx<'_>, _session: &Session) -> Result<RefreshOutcome> {
        Err(Error::unsupported(format!(
            "{} sessions cannot be refreshed",
            self.spec().display_name
        )))
    }

    /// Ask the server whether the token still works.
    async fn validate(&self, ctx: &Ctx<'_>, session: &Session) -> Result<Validation>;

    /// Tell the server the session is over, where the protocol allows.
    async fn logout(&self, _ctx: &Ctx<'_>, _session: &Session) -> Result<()> {
        Ok(())
    }

    /// The credential in the form later calls carry it.
    fn credential(&self, account: &Account, session: &Session) -> Credential;

    /// The base URL of the account's API: where `lanyard api` paths start, and the
    /// `LANYARD_ENDPOINT` that `lanyard exec` hands its command. Default: the endpoint.
    fn api_base(&self, ctx: &Ctx<'_>, _session: &Session) -> Result<url::Url> {
        support::endpoint_url(ctx.account, "")
    }

    /// Where one API call goes and how it carries the credential. Default: `path` under
    /// [`Service::api_base`], the credential as [`Service::credential`] hands it out.
    fn api_target(&self, ctx: &Ctx<'_>, session: &Session, path: &str) -> Result<ApiTarget> {
        crate::api::default_target(
            &self.api_base(ctx, session)?,
            self.credential(ctx.account, session),
            path,
        )
    }

    /// A call of the service's API that needs the session, as the method and the path under
    /// [`Service::api_base`]: what "Copy as curl command" hands out. Default: `GET /`.
    fn api_example(&self, _session: &Session) -> (&'static str, String) {
        ("GET", "/".to_owned())
    }

    /// Whether an API answer says the session is no longer valid, so that renewing it and
    /// retrying once may help. Default: HTTP 401.
    fn api_session_lost(&self, status: u16, _body: &[u8]) -> bool {
        status == 401
    }

    /// Whether a login of this account starts with a password. Default: yes (ShopXO's code
    /// logins start without one).
    fn password_required(&self, _account: &Account) -> bool {
        true
    }

    /// Where the token travels, so the form it is handed over in as is (the tray's copy).
    /// Default: a header.
    fn credential_place(&self) -> CredentialPlace {
        CredentialPlace::Header
    }

    /// Whether the keep-alive asks the server on a schedule even though the session carries an
    /// expiry, because the expiry does not say when the server stops taking the token.
    /// Default: no (sessions with an expiry are renewed before it, not re-validated).
    fn revalidates_despite_expiry(&self) -> bool {
        false
    }

    /// The one placeholder the endpoint may hold, filled in by the service per request (CoolKit's
    /// `{region}`). Default: none; an endpoint is a plain URL.
    fn endpoint_placeholder(&self) -> Option<&'static str> {
        None
    }
}

/// The services a Manager knows: the built-in five, plus any a caller adds (a test's own
/// service). Strings (the database's `service` column, `lanyard token <service>`) become
/// [`ServiceId`]s only through here.
#[derive(Clone, Debug)]
pub struct Registry {
    ids: Vec<ServiceId>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl Registry {
    /// The five services Lanyard ships, in display order.
    pub fn builtin() -> Registry {
        Registry {
            ids: ServiceId::ALL.to_vec(),
        }
    }

    /// This registry with one more service, after the others; a service of the same id is
    /// replaced in place.
    pub fn with(mut self, id: ServiceId) -> Registry {
        match self.ids.iter_mut().find(|known| **known == id) {
            Some(known) => *known = id,
            None => self.ids.push(id),
        }
        self
    }

    /// The registered id named `name`.
    pub fn resolve(&self, name: &str) -> Result<ServiceId> {
        resolve_among(&self.ids, name)
    }

    /// The registered service of this id: the registered implementation, which is the id's own
    /// unless [`Registry::with`] replaced it.
    pub fn get(&self, id: ServiceId) -> Option<ServiceId> {
        self.ids.iter().copied().find(|known| *known == id)
    }

    pub fn ids(&self) -> &[ServiceId] {
        &self.ids
    }

    /// The specs of the registered services, in order.
    pub fn specs(&self) -> Vec<&'static ServiceSpec> {
        self.ids.iter().map(|id| id.spec()).collect()
    }
}

pub(crate) fn resolve_among(ids: &[ServiceId], name: &str) -> Result<ServiceId> {
    ids.iter()
        .copied()
        .find(|id| id.as_str() == name)
        .ok_or_else(|| {
            let known: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
            Error::invalid_input(format!(
                "unknown service '{name}'; expected one of: {}",
                known.join(", ")
            ))
        })
}

/// The implementation behind an id (same as [`ServiceId::service`]).
pub fn service(id: ServiceId) -> &'static dyn Service {
    id.service()
}

/// Whether a login of this account starts with a password (see
/// [`Service::password_required`]). The CLI and the UI both ask this before prompting.
pub fn password_required(account: &Account) -> bool {
    account.service.service().password_required(account)
}

/// The specs of the five built-in services, in display order.
pub fn specs() -> [&'static ServiceSpec; 5] {
    ServiceId::ALL.map(spec)
}

/// The spec of a service (same as [`ServiceId::spec`]).
pub fn spec(id: ServiceId) -> &'static ServiceSpec {
    id.spec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_states_clone_only_when_retryable() {
        #[derive(Clone)]
        struct S(u32, SecretString);
        let p = Pending::retryable(S(7, SecretString::new("pw")));
        let copy = p.try_clone().expect("retryable");
        assert_eq!(p.into_inner::<S>().unwrap().0, 7);
        let s = copy.try_clone().unwrap().into_inner::<S>().unwrap();
        assert_eq!((s.0, s.1.expose()), (7, "pw"));
        assert!(Pending::new(3u8).try_clone().is_none());
        assert_eq!(
            Pending::new(3u8).into_inner::<u16>().unwrap_err().code,
            crate::ErrorCode::Internal
        );
        assert_eq!(
            format!("{:?}", Pending::new(SecretString::new("pw"))),
            "Pending(<redacted>)"
        );
    }
}
