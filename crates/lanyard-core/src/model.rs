//! The domain: services and their specs, accounts, sessions and states.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::error::Said;
use crate::secret::SecretString;
use crate::services::Service;

/// Which service an account belongs to: the service's short id (`steedos`, `sscms`…, as stored
/// and typed) together with its implementation, so that every lookup of a service or its spec
/// is total. Ids compare, hash and sort by name (the built-in five first, in display order).
/// Strings become ids only through a [`crate::services::Registry`] (a Manager's:
/// `Manager::service_id`), so an id always names a service someone registered.
#[derive(Clone, Copy)]
pub struct ServiceId {
    name: &'static str,
    service: &'static dyn Service,
}

// Which services exist (the built-in five: `ServiceId::Steedos`…, `ServiceId::ALL`) and how a
// name becomes an id (`Deserialize`) is the services' knowledge: those live in `services`.
impl ServiceId {
    /// The id of a service: `name` must be the one its spec's `id` carries.
    pub const fn new(name: &'static str, service: &'static dyn Service) -> ServiceId {
        ServiceId { name, service }
    }

    pub fn as_str(self) -> &'static str {
        self.name
    }

    /// The implementation of the service.
    pub fn service(self) -> &'static dyn Service {
        self.service
    }

    /// The service's spec.
    pub fn spec(self) -> &'static ServiceSpec {
        self.service.spec()
    }

    /// Built-in services sort in display order, any other after them by name.
    fn rank(self) -> (usize, &'static str) {
        let builtin = ServiceId::ALL.iter().position(|b| b.name == self.name);
        (builtin.unwrap_or(ServiceId::ALL.len()), self.name)
    }
}

impl PartialEq for ServiceId {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ServiceId {}

impl std::hash::Hash for ServiceId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl PartialOrd for ServiceId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ServiceId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl fmt::Debug for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// In TypeScript, the ids of the built-in services (a window only ever shows those).
impl ts_rs::TS for ServiceId {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;
    fn name(_: &ts_rs::Config) -> String {
        let names: Vec<String> = ServiceId::ALL
            .iter()
            .map(|id| format!("\"{}\"", id.as_str()))
            .collect();
        names.join(" | ")
    }
    fn inline(cfg: &ts_rs::Config) -> String {
        <Self as ts_rs::TS>::name(cfg)
    }
}

impl Serialize for ServiceId {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}

/// What kind of value an option takes; the UI builds its form controls from this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "type", content = "choices", rename_all = "snake_case")]
pub enum OptionKind {
    Text,
    Url,
    Secret,
    Choice(&'static [&'static str]),
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct OptionSpec {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: OptionKind,
    pub required: bool,
    pub default: Option<&'static str>,
    /// Secret options go to the secret store, never to the metadata database.
    pub secret: bool,
}

#[derive(Debug, Clone, Copy, Serialize, ts_rs::TS)]
pub struct Capabilities {
    /// The service can renew a session without the password (CoolKit rt, SiYuan getCloudUser...).
    pub refresh: bool,
    /// The service can tell whether a token is still good.
    pub validate: bool,
    /// The service has a server-side logout.
    pub logout: bool,
    /// Login may ask for an image captcha.
    pub captcha: bool,
    /// Login may ask for a second-factor code (TOTP, SMS, email).
    pub second_factor: bool,
    /// Login can be done with a code instead of a password.
    pub code_login: bool,
    /// Sessions carry an expiry.
    pub expires: bool,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ServiceSpec {
    pub id: ServiceId,
    pub display_name: &'static str,
    pub description: &'static str,
    /// What `user` means for this service, e.g. "Email, mobile or user name".
    pub user_label: &'static str,
    /// `None` means the endpoint is required (self-hosted services).
    pub default_endpoint: Option<&'static str>,
    pub endpoint_help: &'static str,
    pub options: &'static [OptionSpec],
    pub capabilities: Capabilities,
    /// How the token is handed to the service, for the help texts.
    pub token_form: &'static str,
}

impl ServiceSpec {
    pub fn option(&self, key: &str) -> Option<&OptionSpec> {
        self.options.iter().find(|o| o.key == key)
    }
}

/// A user's login at one endpoint of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Account {
    /// Stable internal id (a UUID); secret-store keys are derived from it.
    pub id: String,
    /// Unique, human-chosen; defaults to `<service>/<user>`.
    pub name: String,
    pub service: ServiceId,
    pub user: String,
    /// Base URL (CoolKit: a template containing `{region}`).
    pub endpoint: String,
    /// Non-secret options only; secret ones live in the secret store.
    pub options: BTreeMap<String, String>,
    pub remember_password: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl Account {
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }
}

/// The secret half of a session: stored only in the secret store.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct SessionTokens {
    /// The credential later calls carry (Steedos session token, SSCMS JWT, CoolKit at...).
    pub access: SecretString,
    /// CoolKit rt, Steedos refresh JWT...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<SecretString>,
    /// Anything else secret a service needs to keep (e.g. Steedos access JWT).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, SecretString>,
}

impl fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionTokens(<redacted>)")
    }
}

/// The non-secret half of a session: stored in the metadata database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SessionInfo {
    pub obtained_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    /// Non-secret facts a service needs later (SSCMS api version, Steedos space id...).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct Session {
    pub tokens: SessionTokens,
    pub info: SessionInfo,
}

/// Why an account needs a person to log in again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum NeedsLoginReason {
    /// The session expired and the service has no unattended way to renew it.
    Expired,
    /// The server no longer accepts the token (logged out, revoked, cache cleared).
    Revoked,
    RefreshTokenExpired,
    /// Silent re-login failed: the remembered password was rejected.
    PasswordChanged,
    /// The service allows one session and another client took it.
    LoggedInElsewhere,
    /// Silent re-login would need a captcha or a code.
    ChallengeRequired,
    /// No password is remembered, so re-login needs a person.
    NoRememberedPassword,
}

impl NeedsLoginReason {
    pub fn describe(&self) -> &'static str {
        match self {
            NeedsLoginReason::Expired => "the session expired",
            NeedsLoginReason::Revoked => "the server no longer accepts the token",
            NeedsLoginReason::RefreshTokenExpired => "the refresh token expired",
            NeedsLoginReason::PasswordChanged => "the remembered password was rejected",
            NeedsLoginReason::LoggedInElsewhere => "the account was logged in elsewhere",
            NeedsLoginReason::ChallengeRequired => "the service asks for a captcha or a code",
            NeedsLoginReason::NoRememberedPassword => {
                "no password is remembered for a silent re-login"
            }
        }
    }
}

/// The state of an account, shown everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    SignedOut,
    AwaitingChallenge,
    Valid,
    /// Inside the warning window before expiry.
    Expiring,
    Refreshing,
    NeedsLogin {
        reason: NeedsLoginReason,
    },
    /// A transient failure; the next attempt is scheduled.
    Retrying {
        next_attempt: DateTime<Utc>,
        attempts: u32,
        /// Why the last attempt failed, as [`Said::error`] says it (older rows: [`Said::uncoded`]).
        last_error: Said,
    },
}

impl State {
    /// The short machine name (`valid`, `needs_login`...), as in `list --json`.
    pub fn name(&self) -> &'static str {
        match self {
            State::SignedOut => "signed_out",
            State::AwaitingChallenge => "awaiting_challenge",
            State::Valid => "valid",
            State::Expiring => "expiring",
            State::Refreshing => "refreshing",
            State::NeedsLogin { .. } => "needs_login",
            State::Retrying { .. } => "retrying",
        }
    }
}

/// An account as lists show it: the account, its session facts and its state.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AccountView {
    #[serde(flatten)]
    pub account: Account,
    pub state: State,
    pub session: Option<SessionInfo>,
    pub last_refresh_at: Option<DateTime<Utc>>,
    /// Whether a login asks for a password (not for ShopXO's SMS or email code logins).
    pub password_required: bool,
    /// Whether the password and tokens travel unencrypted to another machine: a plain
    /// `http://` endpoint whose host (or proxy) is not loopback (`http::plaintext_remote`).
    pub plaintext_remote: bool,
    /// Whether the service's id resolves to this account (`lanyard token <service>`, `exec`,
    /// `api`): the active account the user chose last for the service, on any endpoint.
    pub default_for_service: bool,
}
