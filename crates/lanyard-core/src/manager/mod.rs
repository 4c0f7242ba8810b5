//! The façade both the CLI and the desktop app use: accounts, login flows, sessions, tokens,
//! keep-alive on demand, the event log.
//!
//! Storage rules kept here:
//! - secrets (passwords, tokens, secret options) go to the secret store, everything else to the
//!   metadata database; a session's secrets are written BEFORE its metadata, and before the
//!   token is shown or used, so a crash at any moment leaves either the old or the new session;
//! - renewals are single flight per account: one in-process mutex per account plus a lease in
//!   the database for other processes (the app and the CLI);
//! - every attempt (login, refresh, validation, re-login, logout) writes an event row; no secret
//!   ever appears in a message.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tokio::sync::{Notify, broadcast};
use url::Url;

use crate::error::{Error, ErrorCode, Result};
use crate::http::{Http, HttpConfig};
use crate::keepalive::engine::{Snapshot, SnapshotEntry};
use crate::keepalive::{CheckKind, Clock, Policy, SystemClock};
use crate::model::{
    Account, AccountView, Capabilities, NeedsLoginReason, OptionKind, OptionSpec, ServiceId,
    ServiceSpec, Session, SessionInfo, SessionTokens, State,
};
use crate::secret::SecretString;
use crate::secrets::{SecretBackend, SecretStoreHealth, SecretStoreKind, Secrets};
use crate::services::{self, Challenge, Ctx, LoginOutcome, Pending, Progress, Service, Validation};
use crate::store::{self, AccountRow, Schedule, SessionRow, Store, StoredState};
use crate::token::{self, TokenParts};

pub use crate::store::EventRecord;
pub use crate::token::TokenFormat;

/// The file the encrypted secret store uses inside the data dir.
pub const SECRETS_FILE: &str = "secrets.enc";
/// The setting overriding the warning window (seconds before expiry when a session shows as
/// `expiring`).
pub const WARNING_WINDOW_SETTING: &str = "warning_window_secs";
/// Without the setting: a tenth of the session's lifetime, at most this.
const MAX_WARNING_WINDOW: chrono::Duration = chrono::Duration::hours(24);
/// `token()` renews first when the session expires within a tenth of its lifetime, at most this.
const MAX_REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);
/// A login waiting for an answer (and the password or hash it holds) is forgotten after this
/// long by the manager's clock, whether or not anything else happens meanwhile.
pub const ABANDONED_LOGIN_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// A session the secret store did not take is written this many times in a row (then again at
/// the next renewal attempt), waiting `SAVE_BACKOFF`, then 4× that, between tries.
const SAVE_ATTEMPTS: u32 = 3;
const SAVE_BACKOFF: Duration = Duration::from_millis(200);
/// How often the sweeper looks for abandoned logins (real time).
const FLOW_SWEEP_EVERY: Duration = Duration::from_secs(2);

/// How the façade is set up. `Default` is the keyring and the platform's data dir.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `None`: `$LANYARD_DATA_DIR`, else the platform's data directory + `lanyard`.
    pub data_dir: Option<PathBuf>,
    /// `None`: the keyring.
    pub secret_store: Option<SecretStoreKind>,
    /// For the file store.
    pub passphrase: Option<SecretString>,
    pub http: HttpConfig,
}

impl Config {
    /// `LANYARD_DATA_DIR`, `LANYARD_SECRET_STORE=keyring|file`, `LANYARD_PASSPHRASE` or
    /// `LANYARD_PASSPHRASE_FILE` (see [`crate::secrets::file::passphrase_from_env`]).
    pub fn from_env() -> Result<Config> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(Config {
            data_dir: var("LANYARD_DATA_DIR").map(PathBuf::from),
            secret_store: var("LANYARD_SECRET_STORE").map(|s| s.parse()).transpose()?,
            passphrase: crate::secrets::file::passphrase_from_env()?,
            http: HttpConfig::default(),
        })
    }
}

/// A new account. `options` may hold secret options too: the manager splits them by the spec.
#[derive(Clone)]
pub struct NewAccount {
    /// Defaults to `<service>/<user>`.
    pub name: Option<String>,
    pub service: ServiceId,
    pub user: String,
    /// Defaults to the service's default endpoint, if it has one.
    pub endpoint: Option<String>,
    pub options: BTreeMap<String, String>,
    pub remember_password: bool,
}

// Option values may be secret: never print them.
impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("name", &self.name)
            .field("service", &self.service)
            .field("user", &self.user)
            .field("endpoint", &self.endpoint)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .field("remember_password", &self.remember_password)
            .finish()
    }
}

impl std::fmt::Debug for AccountEdit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountEdit")
            .field("name", &self.name)
            .field("user", &self.user)
            .field("endpoint", &self.endpoint)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .field("remember_password", &self.remember_password)
            .finish()
    }
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Clone, Default)]
pub struct AccountEdit {
    pub name: Option<String>,
    pub user: Option<String>,
    pub endpoint: Option<String>,
    /// `Some(value)` sets, `None` unsets (back to the default).
    pub options: BTreeMap<String, Option<String>>,
    pub remember_password: Option<bool>,
}

/// Identifies a login waiting for an answer.
pub type FlowId = String;

/// Where a login stands.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // The shape is the façade's contract; a step is short-lived.
pub enum LoginStep {
    Done(AccountView),
    Challenge { flow: FlowId, challenge: Challenge },
}

/// `{"step":"done","account":{…}}` or
/// `{"step":"challenge","flow":"…","challenge":{"kind":"captcha",…},"image":"data:image/png;base64,…"}`
/// (`image` only for captchas).
impl Serialize for LoginStep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        match self {
            LoginStep::Done(view) => {
                map.serialize_entry("step", "done")?;
                map.serialize_entry("account", view)?;
            }
            LoginStep::Challenge { flow, challenge } => {
                map.serialize_entry("step", "challenge")?;
                map.serialize_entry("flow", flow)?;
                map.serialize_entry("challenge", challenge)?;
                if let Challenge::Captcha {
                    image, media_type, ..
                } = challenge
                {
                    use base64::Engine;
                    let data = base64::engine::general_purpose::STANDARD.encode(image);
                    map.serialize_entry("image", &format!("data:{media_type};base64,{data}"))?;
                }
            }
        }
        map.end()
    }
}

/// What changed, broadcast to the UI.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    AccountAdded {
        account: String,
    },
    /// State, session, options or the active flag changed.
    AccountChanged {
        account: String,
    },
    AccountRenamed {
        from: String,
        to: String,
    },
    AccountRemoved {
        account: String,
    },
    /// A row was added to the event log.
    Logged {
        event: EventRecord,
    },
    /// The state an account shows changed (a renewal, a failure, or the clock alone: valid →
    /// expiring → expired). Sent by the keep-alive engine.
    StateChanged {
        account: String,
        state: State,
    },
    /// A session was renewed without a person (`how`: `refresh` or `relogin`).
    Refreshed {
        account: String,
        how: String,
        expires_at: Option<DateTime<Utc>>,
    },
    /// A renewal failed. `permanent`: the account needs a login now (the message says why);
    /// otherwise it is tried again at `next_attempt`.
    RefreshFailed {
        account: String,
        permanent: bool,
        message: String,
        next_attempt: Option<DateTime<Utc>>,
    },
    /// "This session will die in X and cannot be renewed without you": the desktop app turns
    /// it into a notification.
    ExpiringUnattended {
        account: String,
        expires_at: DateTime<Utc>,
        remaining_secs: i64,
        message: String,
    },
}

/// What a renewal did (the keep-alive engine plans the next check from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renewal {
    /// Another flight renewed or checked the account meanwhile, or nothing was due: nothing
    /// was sent.
    Skipped,
    /// A new session was stored (the service's refresh, or a stored session kept from one).
    Renewed,
    /// A new session was stored by a silent re-login with the remembered password.
    Relogged,
    /// The server confirmed the session.
    Validated,
    /// Nothing can renew the session without a person now (a re-login met a captcha or a code,
    /// or the service has no unattended way), but it stays usable until it expires.
    Unattended,
}

/// The add form's proposals (see [`Manager::add_draft`]).
#[derive(Debug, Clone, Serialize)]
pub struct AddDraft {
    /// The endpoint as it would be stored (scheme added, case and slashes normalised).
    pub endpoint: Option<String>,
    /// Why the typed endpoint cannot be used, in one line.
    pub endpoint_error: Option<String>,
    /// A free account name for the user (`None` until a user is typed).
    pub name: Option<String>,
    /// The endpoints the service's accounts already use, sorted.
    pub known_endpoints: Vec<String>,
}

/// What "refresh now" did, for the person who asked (the UI and the CLI name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshDone {
    /// The service handed out a new session (refresh token or the like).
    Renewed,
    /// The server confirmed the session; nothing new was handed out (e.g. ShopXO).
    Checked,
    /// A silent login with the remembered password gave a new session.
    Relogged,
    /// Nothing could check or renew the session without a person (no check call, the server
    /// could not tell, or a re-login asked for a captcha or a code); it is kept as it was.
    NotChecked,
    /// Another renewal had just done it; nothing was sent.
    Unchanged,
}

impl From<Renewal> for RefreshDone {
    fn from(renewal: Renewal) -> Self {
        match renewal {
            Renewal::Skipped => RefreshDone::Unchanged,
            Renewal::Renewed => RefreshDone::Renewed,
            Renewal::Relogged => RefreshDone::Relogged,
            Renewal::Validated => RefreshDone::Checked,
            Renewal::Unattended => RefreshDone::NotChecked,
        }
    }
}

/// What a logout or a removal did to the session on the server. Its `code` is the outcome
/// recorded in the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogoutOutcome {
    /// The service's logout call succeeded: the token no longer works anywhere.
    EndedOnServer,
    /// The service has no logout call (ShopXO): the session is forgotten here only, and the
    /// token stays valid on the server until it expires or the user logs in again.
    ForgottenHere,
    /// The logout call failed (network, server error): forgotten here; the server may still
    /// accept the token.
    Unconfirmed,
    /// There was no session to end.
    NoSession,
}

impl LogoutOutcome {
    pub fn code(self) -> &'static str {
        match self {
            LogoutOutcome::EndedOnServer => "ended_on_server",
            LogoutOutcome::ForgottenHere => "forgotten_here",
            LogoutOutcome::Unconfirmed => "unconfirmed",
            LogoutOutcome::NoSession => "no_session",
        }
    }

    /// What became of the session, in a few words for a terminal.
    pub fn describe(self) -> &'static str {
        match self {
            LogoutOutcome::EndedOnServer => "the server ended the session",
            LogoutOutcome::ForgottenHere => {
                "the session is forgotten here only: the service has no logout call, so its \
                 token stays valid on the server until it expires or you log in again"
            }
            LogoutOutcome::Unconfirmed => {
                "the session is forgotten here, but the server did not confirm the logout: its \
                 token may still work there"
            }
            LogoutOutcome::NoSession => "there was no session",
        }
    }
}

/// Why a renewal runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    /// `refresh --force`: renew now, whatever the state.
    Force,
    /// `token()` and `refresh()`: renew what is due (expired, near expiry, failing).
    OnDemand,
    /// The keep-alive engine's planned early renewal (refresh token, else re-login).
    Renew,
    /// The keep-alive engine's scheduled check: ask the server; renew only what is due.
    Validate,
}

/// A login waiting for the person's answer.
struct Flow {
    account_id: String,
    pending: Pending,
    /// Kept to remember it once the login is done (only when the account remembers passwords).
    password: Option<SecretString>,
    reloadable: bool,
    /// By the manager's clock (tests jump it).
    started: DateTime<Utc>,
}

type Flows = Arc<Mutex<HashMap<FlowId, Flow>>>;

/// Forgets the logins that waited longer than [`ABANDONED_LOGIN_AFTER`]. Returns the account
/// ids whose flows went.
fn sweep_flows(flows: &Mutex<HashMap<FlowId, Flow>>, now: DateTime<Utc>) -> Vec<String> {
    let mut gone = Vec::new();
    lock(flows).retain(|_, f| {
        let alive = now - f.started < ABANDONED_LOGIN_AFTER;
        if !alive {
            gone.push(f.account_id.clone());
        }
        alive
    });
    gone
}

/// The façade. `Send + Sync`; share it with an `Arc`.
pub struct Manager {
    data_dir: PathBuf,
    store: Arc<Store>,
    secrets: Secrets,
    http: Http,
    flows: Flows,
    /// Whether the abandoned-login sweeper runs (started with the first waiting login).
    sweeper: std::sync::atomic::AtomicBool,
    /// `services::service`; unit tests put fakes here.
    resolver: fn(ServiceId) -> &'static dyn Service,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    events: broadcast::Sender<Event>,
    /// Every "now" of states, expiries and renewals (tests jump it).
    clock: Arc<dyn Clock>,
    /// Wakes the keep-alive engine early (an account added, logged in, switched, a refresh
    /// asked for).
    keepalive: Arc<Notify>,
    /// `None`: long enough for a whole renewal at the HTTP timeout (see `lease_ttl`).
    lease_ttl: Option<Duration>,
    /// Sessions the secret store has not taken yet, by account id (see `UnsavedSession`).
    unsaved: Mutex<HashMap<String, UnsavedSession>>,
}

/// A renewed session whose tokens the secret store did not take (it timed out or failed): the
/// server may already have retired the old tokens (CoolKit and SiYuan rotate them), so the new
/// ones are kept here, handed to readers, and written again before anything renews the account.
struct UnsavedSession {
    /// The `SessionTokens` JSON, as stored under `key_session`.
    tokens: SecretString,
    info: SessionInfo,
    refreshed: Option<DateTime<Utc>>,
    kind: String,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("data_dir", &self.data_dir)
            .field("secrets", &self.secrets)
            .finish()
    }
}

fn key_password(id: &str) -> String {
    format!("account/{id}/password")
}
fn key_session(id: &str) -> String {
    format!("account/{id}/session")
}
fn key_option(id: &str, option: &str) -> String {
    format!("account/{id}/option/{option}")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn when(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Manager {
    /// Opens the data dir (created 0700 if missing), the database (migrated) and the secret
    /// store. A secret store that cannot be opened does not stop the manager: accounts can
    /// still be listed, every secret access reports the problem, and
    /// [`Manager::secret_store_health`] says what to do.
    pub async fn open(config: Config) -> Result<Manager> {
        let data_dir = match config.data_dir {
            Some(dir) => dir,
            None => store::default_data_dir()?,
        };
        let kind = config.secret_store.unwrap_or(SecretStoreKind::Keyring);
        let passphrase = config.passphrase;
        let dir = data_dir.clone();
        let (store, secrets) = tokio::task::spawn_blocking(move || -> Result<(Store, Secrets)> {
            store::ensure_data_dir(&dir)?;
            let store = Store::open(&dir.join(store::DB_FILE))?;
            let secrets = match kind {
                SecretStoreKind::Keyring => Secrets::keyring(),
                SecretStoreKind::File => match passphrase {
                    Some(p) => Secrets::file(&dir.join(SECRETS_FILE), p),
                    None => Err(Error::secret_store(
                        crate::secrets::file::PASSPHRASE_MISSING,
                    )),
                },
                SecretStoreKind::Memory => Ok(Secrets::memory()),
            };
            let secrets = secrets.unwrap_or_else(|e| {
                tracing::warn!(error = %e.message, "the secret store is unavailable");
                Secrets::from_backend(Arc::new(Unavailable { kind, error: e }))
            });
            Ok((store, secrets))
        })
        .await
        .map_err(|_| Error::internal("opening the data dir failed unexpectedly"))??;
        Self::build(data_dir, store, secrets, config.http)
    }

    /// A manager over the database at `db_path` and the given secret store (tests).
    pub fn with_parts(db_path: &Path, secrets: Secrets, http: HttpConfig) -> Result<Manager> {
        let data_dir = db_path.parent().map(Path::to_path_buf).unwrap_or_default();
        if !data_dir.as_os_str().is_empty() {
            store::ensure_data_dir(&data_dir)?;
        }
        let store = Store::open(db_path)?;
        Self::build(data_dir, store, secrets, http)
    }

    fn build(
        data_dir: PathBuf,
        store: Store,
        secrets: Secrets,
        http: HttpConfig,
    ) -> Result<Manager> {
        Ok(Manager {
            data_dir,
            store: Arc::new(store),
            secrets,
            http: Http::new(http)?,
            flows: Flows::default(),
            sweeper: std::sync::atomic::AtomicBool::new(false),
            resolver: services::service,
            locks: Mutex::default(),
            events: broadcast::channel(256).0,
            clock: Arc::new(SystemClock),
            keepalive: Arc::new(Notify::new()),
            lease_ttl: None,
            unsaved: Mutex::default(),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The same manager with another clock for every "now" it computes (tests, simulations).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Manager {
        self.clock = clock;
        self
    }

    /// The same manager with another time-to-live for its renewal leases (tests of long
    /// renewals; the lease is extended every third of it while held).
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Manager {
        self.lease_ttl = Some(ttl);
        self
    }

    fn lease_ttl(&self) -> Duration {
        // Long enough for a whole renewal (a re-login may take several requests).
        self.lease_ttl
            .unwrap_or_else(|| self.http.config().timeout * 4 + Duration::from_secs(30))
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// Now, by the manager's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The `warning_window_secs` setting: how long before expiry a session shows as `expiring`
    /// (and an unattended one is announced). `None`: a tenth of each session's lifetime, at most
    /// 24 h.
    pub async fn warning_window(&self) -> Result<Option<Duration>> {
        let secs = self.db(|s| Ok(warning_setting(s))).await?;
        Ok(secs.map(|s| Duration::from_secs(s.unsigned_abs())))
    }

    /// Sets (or with `None` clears) the warning window. Keep-alive plans follow it.
    pub async fn set_warning_window(&self, window: Option<Duration>) -> Result<()> {
        let value = window.map(|d| d.as_secs().to_string());
        self.db(move |s| {
            s.set_setting(WARNING_WINDOW_SETTING, value.as_deref())?;
            s.clear_plans()
        })
        .await?;
        self.wake_keepalive();
        Ok(())
    }

    /// A row of the settings table (see `settings.rs` for the public API).
    pub(crate) async fn raw_setting(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.db(move |s| s.setting(&key)).await
    }

    pub(crate) async fn set_raw_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        let (key, value) = (key.to_owned(), value.map(str::to_owned));
        self.db(move |s| s.set_setting(&key, value.as_deref()))
            .await
    }

    /// Asks the keep-alive engine (if one runs on this manager) to look at the accounts now.
    pub fn wake_keepalive(&self) {
        self.keepalive.notify_one();
    }

    pub(crate) fn keepalive_notify(&self) -> Arc<Notify> {
        self.keepalive.clone()
    }

    pub async fn secret_store_health(&self) -> SecretStoreHealth {
        self.secrets.health().await
    }

    pub fn services(&self) -> [&'static ServiceSpec; 5] {
        services::specs()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    // ----- accounts -----

    /// What the add form proposes while a person types: the endpoint as it will be stored (or
    /// why it cannot be), a free account name, and the endpoints the service's accounts use.
    pub async fn add_draft(
        &self,
        service: ServiceId,
        user: &str,
        endpoint: Option<&str>,
    ) -> Result<AddDraft> {
        let spec = self.service(service).spec();
        let typed = endpoint.map(str::trim).filter(|e| !e.is_empty());
        let (endpoint, endpoint_error) = match typed.or(spec.default_endpoint) {
            Some(e) => match normalize_endpoint(spec, e) {
                Ok(normalized) => (Some(normalized), None),
                Err(err) => (None, Some(err.message)),
            },
            None => (None, None),
        };
        let accounts = self.list().await?;
        let taken: Vec<String> = accounts.iter().map(|v| v.account.name.clone()).collect();
        let mut known_endpoints: Vec<String> = accounts
            .iter()
            .filter(|v| v.account.service == service)
            .map(|v| v.account.endpoint.clone())
            .collect();
        known_endpoints.sort();
        known_endpoints.dedup();
        let user = user.trim();
        let name = (!user.is_empty()).then(|| free_name(spec, user, endpoint.as_deref(), &taken));
        Ok(AddDraft {
            endpoint,
            endpoint_error,
            name,
            known_endpoints,
        })
    }

    pub async fn add_account(&self, new: NewAccount) -> Result<AccountView> {
        let spec = self.service(new.service).spec();
        let user = check_user(&new.user)?;
        let endpoint = match new
            .endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            Some(e) => normalize_endpoint(spec, e)?,
            None => match spec.default_endpoint {
                Some(default) => normalize_endpoint(spec, default)?,
                None => {
                    return Err(Error::invalid_input(format!(
                        "{} needs an endpoint: {}",
                        spec.display_name, spec.endpoint_help
                    )));
                }
            },
        };
        let name = check_name(&new.name.unwrap_or_else(|| format!("{}/{user}", spec.id)))?;
        let (options, secret_options) = split_options(spec, new.options)?;
        let account = Account {
            id: uuid::Uuid::new_v4().to_string(),
            name,
            service: spec.id,
            user,
            endpoint,
            options,
            remember_password: new.remember_password,
            active: false,
            created_at: self.now(),
        };
        // Secrets first: an account row never exists without its secret options.
        let mut written = Vec::new();
        let mut result = Ok(());
        for (key, value) in &secret_options {
            let k = key_option(&account.id, key);
            result = self.put_secret(&account.id, &k, value).await;
            if result.is_err() {
                break;
            }
            written.push(k);
        }
        let inserted = match result {
            Ok(()) => {
                let a = account.clone();
                self.db(move |s| s.insert_account(&a)).await
            }
            Err(e) => Err(e),
        };
        let account = match inserted {
            Ok(a) => a,
            Err(e) => {
                for k in written {
                    let _ = self.secrets.delete(&k).await;
                }
                return Err(e);
            }
        };
        self.log(
            Some(&account),
            "add",
            "ok",
            format!("added {} account for '{}'", spec.display_name, account.user),
        )
        .await;
        self.emit(Event::AccountAdded {
            account: account.name.clone(),
        });
        self.wake_keepalive();
        self.view_by_id(&account.id).await
    }

    /// Takes back an account that [`Manager::add_account`] has just made, as if it had never
    /// been added: its secrets, its row and its events go. For an `add` whose first login
    /// failed, so that no half-made account stays behind.
    pub async fn undo_add(&self, name: &str) -> Result<()> {
        let account = self.account(name).await?;
        self.remove_account(name).await?;
        self.db(move |s| s.delete_events_of(&account.id)).await?;
        Ok(())
    }

    pub async fn edit_account(&self, name: &str, edit: AccountEdit) -> Result<AccountView> {
        let current = self.account(name).await?;
        let spec = self.service(current.service).spec();
        let new_name = edit.name.as_deref().map(check_name).transpose()?;
        let new_user = edit.user.as_deref().map(check_user).transpose()?;
        let new_endpoint = match edit.endpoint.as_deref().map(str::trim) {
            Some("") => match spec.default_endpoint {
                Some(d) => Some(normalize_endpoint(spec, d)?),
                None => {
                    return Err(Error::invalid_input(format!(
                        "{} needs an endpoint",
                        spec.display_name
                    )));
                }
            },
            Some(e) => Some(normalize_endpoint(spec, e)?),
            None => None,
        };
        let mut plain: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut secret_set: BTreeMap<String, SecretString> = BTreeMap::new();
        let mut secret_unset: Vec<String> = Vec::new();
        for (key, value) in edit.options {
            let opt = option_spec(spec, &key)?;
            match value {
                Some(v) => {
                    let v = check_option_value(spec, opt, &v)?;
                    if opt.secret {
                        secret_set.insert(key, SecretString::new(v));
                    } else {
                        plain.insert(key, Some(v));
                    }
                }
                None if opt.required && opt.default.is_none() => {
                    return Err(Error::invalid_input(format!(
                        "{} needs option '{}' ({}); it cannot be unset",
                        spec.display_name, opt.key, opt.label
                    )));
                }
                None if opt.secret => secret_unset.push(key),
                // Back to the default, which add_account would have filled in.
                None => {
                    plain.insert(key, opt.default.map(str::to_owned));
                }
            }
        }
        let remember = edit.remember_password;
        // Under the account's lock and lease: no renewal or login can write the old server's
        // session or password back while (or after) the account changes.
        let (_guard, lease) = self.guard(&current).await?;
        let result = async {
            // Renamed or edited while this call waited: edit what it is now.
            let before = self.row_by_id(&current.id).await?.account;
            let moves = new_endpoint.as_ref().is_some_and(|e| *e != before.endpoint);
            let switches_user = new_user.as_ref().is_some_and(|u| *u != before.user);
            // A secret option is the old server's: it is never sent to a new one. Required ones
            // must come with the same edit, the others are dropped.
            let mut dropped_options = Vec::new();
            if moves {
                for opt in services::all_options(spec).filter(|o| o.secret) {
                    if secret_set.contains_key(opt.key) || secret_unset.iter().any(|k| k == opt.key) {
                        continue;
                    }
                    if opt.required {
                        return Err(Error::invalid_input(format!(
                            "a new endpoint needs option '{}' ({}) again: it is never sent to another server; give it in the same edit",
                            opt.key, opt.label
                        )));
                    }
                    dropped_options.push(opt.key.to_owned());
                }
            }
            // A session (and a password) belongs to one user at one server: another user or
            // endpoint starts signed out, and a password is never sent to a server it was not
            // typed for. Dropped first, before the account points anywhere new; so an edit the
            // database would refuse is refused before anything is dropped.
            if moves || switches_user {
                let mut prospective = before.clone();
                if let Some(n) = &new_name {
                    prospective.name = n.clone();
                }
                if let Some(u) = &new_user {
                    prospective.user = u.clone();
                }
                if let Some(e) = &new_endpoint {
                    prospective.endpoint = e.clone();
                }
                self.db(move |s| s.check_unique(&prospective)).await?;
                self.drop_flows_of(&before.id);
                lock(&self.unsaved).remove(&before.id);
                self.secrets.delete(&key_session(&before.id)).await?;
                self.secrets.delete(&key_password(&before.id)).await?;
                for key in &dropped_options {
                    self.secrets.delete(&key_option(&before.id, key)).await?;
                }
                let id = before.id.clone();
                self.db(move |s| s.set_state(&id, &StoredState::SignedOut))
                    .await?;
            }
            let update = self
                .db({
                    let name = before.name.clone();
                    move |s| {
                        s.update_account(&name, |a| {
                            if let Some(n) = &new_name {
                                a.name = n.clone();
                            }
                            if let Some(u) = &new_user {
                                a.user = u.clone();
                            }
                            if let Some(e) = &new_endpoint {
                                a.endpoint = e.clone();
                            }
                            for (k, v) in &plain {
                                match v {
                                    Some(v) => a.options.insert(k.clone(), v.clone()),
                                    None => a.options.remove(k),
                                };
                            }
                            if let Some(r) = remember {
                                a.remember_password = r;
                            }
                            Ok(())
                        })
                    }
                })
                .await?;
            let after = update.after;
            for (key, value) in &secret_set {
                self.put_secret(&after.id, &key_option(&after.id, key), value)
                    .await?;
            }
            for key in &secret_unset {
                self.secrets.delete(&key_option(&after.id, key)).await?;
            }
            if !after.remember_password {
                self.secrets.delete(&key_password(&after.id)).await?;
            }
            Ok((update.before, after, dropped_options))
        }
        .await;
        lease.release().await;
        let (before, after, dropped_options) = result?;
        let mut changed = Vec::new();
        if before.name != after.name {
            changed.push("name".to_owned());
        }
        if before.user != after.user {
            changed.push("user".to_owned());
        }
        if before.endpoint != after.endpoint {
            changed.push("endpoint".to_owned());
        }
        if before.options != after.options || !secret_set.is_empty() || !secret_unset.is_empty() {
            changed.push("options".to_owned());
        }
        if before.remember_password != after.remember_password {
            changed.push("remember_password".to_owned());
        }
        if before.user != after.user || before.endpoint != after.endpoint {
            changed.push("signed out".to_owned());
        }
        if !dropped_options.is_empty() {
            changed.push(format!(
                "dropped {} (it belonged to the old endpoint)",
                dropped_options.join(", ")
            ));
        }
        let message = if changed.is_empty() {
            "nothing changed".to_owned()
        } else {
            format!("changed {}", changed.join(", "))
        };
        self.log(Some(&after), "edit", "ok", message).await;
        if before.name != after.name {
            self.emit(Event::AccountRenamed {
                from: before.name.clone(),
                to: after.name.clone(),
            });
        }
        self.emit(Event::AccountChanged {
            account: after.name.clone(),
        });
        self.wake_keepalive();
        self.view_by_id(&after.id).await
    }

    /// Deletes the account and all its secrets. The secrets go first: if the secret store
    /// fails, the account stays and the removal can be repeated. Runs under the account's lock
    /// and lease, so a renewal in flight finishes first and a later one finds no account.
    /// A live session is ended on the server first where the service has a logout call; the
    /// outcome says whether it was (a failed call does not stop the removal).
    pub async fn remove_account(&self, name: &str) -> Result<LogoutOutcome> {
        let found = self.account(name).await?;
        let (_guard, lease) = self.guard(&found).await?;
        let result = self.remove_locked(&found).await;
        lease.release().await;
        let (account, outcome, ended) = result?;
        lock(&self.locks).remove(&account.id);
        self.log(
            Some(&account),
            "remove",
            outcome.code(),
            format!("removed the account and its secrets; {ended}"),
        )
        .await;
        self.emit(Event::AccountRemoved {
            account: account.name.clone(),
        });
        Ok(outcome)
    }

    async fn remove_locked(&self, found: &Account) -> Result<(Account, LogoutOutcome, String)> {
        // Renamed or edited while this call waited: remove what it is now.
        let row = self.row_by_id(&found.id).await?;
        // A session that cannot be read must not keep the account: the deletion below still
        // fails if the secret store itself is down.
        let (outcome, ended) = match self.end_on_server(&row).await {
            Ok(done) => done,
            Err(e) => (
                LogoutOutcome::Unconfirmed,
                format!(
                    "the session could not be read to end it on the server ({})",
                    e.display_line()
                ),
            ),
        };
        let account = row.account;
        self.drop_flows_of(&account.id);
        lock(&self.unsaved).remove(&account.id);
        let keys = self.all_secret_keys(&account).await?;
        for key in &keys {
            self.secrets.delete(key).await?;
        }
        let id = account.id.clone();
        self.db(move |s| {
            s.delete_account(&id)?;
            s.forget_secret_keys(&id, &keys)
        })
        .await?;
        Ok((account, outcome, ended))
    }

    /// Every secret-store key the account may have: its session and password, each secret
    /// option of the spec, and every key ever recorded for it (options the spec no longer has).
    async fn all_secret_keys(&self, account: &Account) -> Result<Vec<String>> {
        let id = account.id.clone();
        let mut keys = self.db(move |s| s.secret_keys(&id)).await?;
        keys.push(key_session(&account.id));
        keys.push(key_password(&account.id));
        for opt in services::all_options(self.service(account.service).spec()).filter(|o| o.secret)
        {
            keys.push(key_option(&account.id, opt.key));
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Every account, ordered by service, endpoint, name.
    pub async fn list(&self) -> Result<Vec<AccountView>> {
        let (rows, window) = self.db(|s| Ok((s.accounts()?, warning_setting(s)))).await?;
        let now = self.now();
        Ok(rows
            .into_iter()
            .map(|row| self.view(row, window, now))
            .collect())
    }

    pub async fn get(&self, name: &str) -> Result<AccountView> {
        let name = name.to_owned();
        let (row, window) = self
            .db(move |s| {
                Ok((
                    s.account_by_name(&name)?.ok_or_else(|| no_account(&name))?,
                    warning_setting(s),
                ))
            })
            .await?;
        Ok(self.view(row, window, self.now()))
    }

    /// An account by name, or the account a service id stands for: the one the user chose last
    /// for that service (`set_active`), whichever endpoint it is on.
    pub async fn resolve(&self, name_or_service: &str) -> Result<AccountView> {
        match self.get(name_or_service).await {
            Err(e) if e.code == ErrorCode::NotFound => {}
            other => return other,
        }
        let Ok(service) = name_or_service.parse::<ServiceId>() else {
            return Err(no_account(name_or_service));
        };
        let all: Vec<AccountView> = self
            .list()
            .await?
            .into_iter()
            .filter(|v| v.account.service == service)
            .collect();
        if all.is_empty() {
            return Err(Error::not_found(format!(
                "there is no {service} account; add one first"
            )));
        }
        all.into_iter()
            .find(|v| v.default_for_service)
            // Every (service, endpoint) with accounts has an active one, so one is the default.
            .ok_or_else(|| {
                Error::internal(format!(
                    "no {service} account is active; run `lanyard use NAME`"
                ))
            })
    }

    /// Makes the account the active one of its (service, endpoint) and the one its service id
    /// stands for (the user's last choice for the service).
    pub async fn set_active(&self, name: &str) -> Result<AccountView> {
        let before = self.get(name).await?;
        // The accounts whose active or default mark moves away: the window redraws them.
        let previous: Vec<String> = self
            .list()
            .await?
            .into_iter()
            .filter(|v| {
                v.account.service == before.account.service
                    && v.account.id != before.account.id
                    && ((v.account.active && v.account.endpoint == before.account.endpoint)
                        || v.default_for_service)
            })
            .map(|v| v.account.name)
            .collect();
        let name_owned = name.to_owned();
        let account = self.db(move |s| s.set_active(&name_owned)).await?;
        if !before.account.active || !before.default_for_service {
            self.log(
                Some(&account),
                "use",
                "ok",
                format!(
                    "now the {} account in use, at {}",
                    account.service, account.endpoint
                ),
            )
            .await;
        }
        for other in previous {
            self.emit(Event::AccountChanged { account: other });
        }
        self.emit(Event::AccountChanged {
            account: account.name.clone(),
        });
        self.wake_keepalive();
        self.view_by_id(&account.id).await
    }

    // ----- login flows -----

    /// Starts a login. Without a password, the remembered one is used if there is one (code
    /// logins need none). A login already waiting for this account is cancelled.
    pub async fn begin_login(
        &self,
        name: &str,
        password: Option<SecretString>,
    ) -> Result<LoginStep> {
        let account = self.account(name).await?;
        self.drop_flows_of(&account.id);
        let password = match password {
            Some(p) => Some(p),
            None if account.remember_password => {
                self.secrets.get(&key_password(&account.id)).await?
            }
            None => None,
        };
        let secret_options = self.secret_options(&account).await?;
        let ctx = Ctx {
            http: &self.http,
            account: &account,
            secret_options: &secret_options,
            now: self.now(),
        };
        let result = self
            .service(account.service)
            .begin_login(&ctx, password.as_ref())
            .await;
        self.login_progress(&account, None, result, password, false)
            .await
    }

    /// Answers the challenge of a waiting login (captcha text or code). When the answer is wrong
    /// and the service lets the step be retried, the flow stays open: answer again or reload.
    pub async fn answer_login(&self, flow: &FlowId, answer: SecretString) -> Result<LoginStep> {
        self.continue_login(flow, Some(answer)).await
    }

    /// A fresh captcha image for a waiting login.
    pub async fn reload_captcha(&self, flow: &FlowId) -> Result<LoginStep> {
        self.continue_login(flow, None).await
    }

    /// `answer` `None` reloads the captcha.
    async fn continue_login(
        &self,
        flow: &FlowId,
        answer: Option<SecretString>,
    ) -> Result<LoginStep> {
        let (id, mut f) = self.take_flow(flow, answer.is_none())?;
        let account = self.account_by_id(&f.account_id).await?;
        let secret_options = self.secret_options(&account).await?;
        let ctx = Ctx {
            http: &self.http,
            account: &account,
            secret_options: &secret_options,
            now: self.now(),
        };
        let service = self.service(account.service);
        let backup = f.pending.try_clone();
        let pending = std::mem::replace(&mut f.pending, Pending::new(()));
        let result = match &answer {
            Some(answer) => service.answer(&ctx, pending, answer).await,
            None => service.reload_captcha(&ctx, pending).await,
        };
        // The server keeps the challenge alive (see `Pending::retryable`): keep the flow.
        let keep = match &result {
            Err(e) => {
                answer.is_none() || e.code == ErrorCode::ChallengeFailed || e.code.is_transient()
            }
            Ok(_) => false,
        };
        if let (true, Some(backup), Err(e)) = (keep, backup, result.as_ref()) {
            let e = e.clone();
            self.log(
                Some(&account),
                "login",
                "failed",
                format!("{}; the step can be tried again", e.display_line()),
            )
            .await;
            f.pending = backup;
            f.started = self.now();
            lock(&self.flows).insert(id, f);
            return Err(e);
        }
        let reload = answer.is_none();
        self.login_progress(&account, Some(id), result, f.password, reload)
            .await
    }

    /// Whether the login `flow` still waits for an answer: after a wrong one, whether the
    /// service kept the step so that it can be answered again (or its captcha reloaded).
    pub fn login_waiting(&self, flow: &FlowId) -> bool {
        let now = self.now();
        lock(&self.flows)
            .get(flow)
            .is_some_and(|f| now - f.started < ABANDONED_LOGIN_AFTER)
    }

    /// Forgets a waiting login. Unknown ids are ignored.
    pub fn cancel_login(&self, flow: &FlowId) {
        let removed = lock(&self.flows).remove(flow);
        if let Some(f) = removed
            && let Ok(Some(row)) = self.store.account_by_id(&f.account_id)
        {
            self.emit(Event::AccountChanged {
                account: row.account.name,
            });
        }
    }

    fn take_flow(&self, flow: &FlowId, reload: bool) -> Result<(FlowId, Flow)> {
        sweep_flows(&self.flows, self.now());
        let mut flows = lock(&self.flows);
        match flows.get(flow) {
            None => {
                return Err(Error::not_found(format!(
                    "no login is waiting with that id (it finished, was cancelled, or waited more than {} minutes for an answer); start it again",
                    ABANDONED_LOGIN_AFTER.num_minutes()
                )));
            }
            Some(f) if reload && !f.reloadable => {
                return Err(Error::invalid_input(
                    "this login step has no captcha to reload",
                ));
            }
            Some(_) => {}
        }
        let f = flows.remove(flow).expect("checked above");
        Ok((flow.clone(), f))
    }

    fn drop_flows_of(&self, account_id: &str) {
        let now = self.now();
        lock(&self.flows)
            .retain(|_, f| f.account_id != account_id && now - f.started < ABANDONED_LOGIN_AFTER);
    }

    /// A task that forgets abandoned logins on its own (a closed dialog or a CLI that died sends
    /// no cancel). It holds the flows weakly and ends with the manager.
    fn start_flow_sweeper(&self) {
        use std::sync::atomic::Ordering;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.sweeper.swap(true, Ordering::SeqCst) {
            return;
        }
        let flows = Arc::downgrade(&self.flows);
        let clock = self.clock.clone();
        let store = self.store.clone();
        let events = self.events.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(FLOW_SWEEP_EVERY).await;
                let Some(flows) = flows.upgrade() else { return };
                for id in sweep_flows(&flows, clock.now()) {
                    tracing::debug!("forgot a login that waited too long for an answer");
                    if let Ok(Some(row)) = store.account_by_id(&id) {
                        let _ = events.send(Event::AccountChanged {
                            account: row.account.name,
                        });
                    }
                }
            }
        });
    }

    fn awaiting(&self, account_id: &str) -> bool {
        lock(&self.flows)
            .values()
            .any(|f| f.account_id == account_id && self.now() - f.started < ABANDONED_LOGIN_AFTER)
    }

    async fn login_progress(
        &self,
        account: &Account,
        flow: Option<FlowId>,
        result: Result<Progress>,
        password: Option<SecretString>,
        reload: bool,
    ) -> Result<LoginStep> {
        // Every captcha of every service passes here on its way out.
        let result = result.and_then(services::refuse_unsafe_captcha);
        match result {
            Ok(Progress::Done(outcome)) => {
                let (_guard, lease) = self.guard(account).await.map_err(|e| {
                    if e.code == ErrorCode::NotFound {
                        Error::not_found(format!(
                            "'{}' was removed meanwhile; nothing was saved",
                            account.name
                        ))
                    } else {
                        e
                    }
                })?;
                let finished = self
                    .finish_login(account, *outcome, password.as_ref(), "login")
                    .await;
                lease.release().await;
                finished?;
                // Seen without the lease now (it shows as `refreshing` while held).
                self.emit(Event::AccountChanged {
                    account: account.name.clone(),
                });
                Ok(LoginStep::Done(self.view_by_id(&account.id).await?))
            }
            Ok(Progress::Challenge { challenge, pending }) => {
                let flow = flow.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let reloadable = matches!(
                    challenge,
                    Challenge::Captcha {
                        reloadable: true,
                        ..
                    }
                );
                let f = Flow {
                    account_id: account.id.clone(),
                    pending,
                    password: if account.remember_password {
                        password
                    } else {
                        None
                    },
                    reloadable,
                    started: self.now(),
                };
                lock(&self.flows).insert(flow.clone(), f);
                self.start_flow_sweeper();
                // A new image for the same step is not another request for verification.
                if !reload {
                    self.log(
                        Some(account),
                        "login",
                        "challenge",
                        describe_challenge(&challenge),
                    )
                    .await;
                }
                self.emit(Event::AccountChanged {
                    account: account.name.clone(),
                });
                Ok(LoginStep::Challenge { flow, challenge })
            }
            Err(e) => {
                self.log(Some(account), "login", "failed", e.display_line())
                    .await;
                if flow.is_some() {
                    self.emit(Event::AccountChanged {
                        account: account.name.clone(),
                    });
                }
                Err(e)
            }
        }
    }

    /// Persists what a login produced: session secrets, then the remembered password, then the
    /// metadata (session facts, learnt options), then the event.
    async fn finish_login(
        &self,
        account: &Account,
        outcome: LoginOutcome,
        password: Option<&SecretString>,
        kind: &str,
    ) -> Result<()> {
        // The caller holds the account's guard (lock + lease), which edits and removals take
        // too: checked once here, the account stays as it is through every write below.
        let current = self.still_current(account).await?;
        let now = self.now();
        let mut info = outcome.session.info.clone();
        info.obtained_at.get_or_insert(now);
        let unsaved = UnsavedSession {
            tokens: tokens_json(&outcome.session.tokens)?,
            info: info.clone(),
            refreshed: Some(now),
            kind: kind.to_owned(),
        };
        lock(&self.unsaved).insert(account.id.clone(), unsaved);
        if let Err(e) = self.write_unsaved(&account.id).await {
            if kind == "login" {
                // Nothing was lost: the previous session (if any) is still stored.
                lock(&self.unsaved).remove(&account.id);
                return Err(e);
            }
            let kept = Error::secret_store(format!(
                "{}; the renewed session is kept in memory and saved again before the next renewal",
                e.message
            ));
            return Err(self.transient(account, kind, kept).await);
        }
        if current.account.remember_password
            && let Some(p) = password
        {
            self.put_secret(&account.id, &key_password(&account.id), p)
                .await?;
        }
        self.save_info(&account.id, info.clone(), Some(now)).await?;
        self.remember_options(account, outcome.remember_options)
            .await?;
        let who = info
            .display_name
            .clone()
            .unwrap_or_else(|| account.user.clone());
        let until = info.expires_at.map_or_else(
            || "no known expiry".to_owned(),
            |t| format!("valid until {}", when(t)),
        );
        let verb = if kind == "login" {
            "logged in"
        } else {
            "renewed the session"
        };
        self.log(
            Some(account),
            kind,
            "ok",
            format!("{verb} as {who}; {until}"),
        )
        .await;
        self.emit(Event::AccountChanged {
            account: account.name.clone(),
        });
        if kind != "login" {
            self.emit(Event::Refreshed {
                account: account.name.clone(),
                how: kind.to_owned(),
                expires_at: info.expires_at,
            });
        }
        self.wake_keepalive();
        Ok(())
    }

    async fn remember_options(
        &self,
        account: &Account,
        learnt: BTreeMap<String, String>,
    ) -> Result<()> {
        let spec = self.service(account.service).spec();
        let learnt: BTreeMap<String, String> = learnt
            .into_iter()
            .filter(|(k, v)| match services::option_spec(spec, k) {
                Some(o) if !o.secret => account.options.get(k) != Some(v),
                _ => {
                    tracing::warn!(service = %spec.id, option = %k, "a service asked to remember an unknown or secret option");
                    false
                }
            })
            .collect();
        if learnt.is_empty() {
            return Ok(());
        }
        let id = account.id.clone();
        let name = account.name.clone();
        let keys = learnt.keys().cloned().collect::<Vec<_>>().join(", ");
        let result = self
            .db(move |s| {
                // By id: a rename meanwhile must not lose what was learnt.
                let current = s
                    .account_by_id(&id)?
                    .map(|r| r.account.name)
                    .unwrap_or(name);
                s.update_account(&current, |a| {
                    a.options.extend(learnt.clone());
                    Ok(())
                })
            })
            .await;
        if result.is_ok() {
            self.log(
                Some(account),
                "edit",
                "ok",
                format!("remembered {keys} from the server"),
            )
            .await;
        }
        result.map(|_| ())
    }

    // ----- sessions -----

    /// Stores a session: its secrets first, then its facts (state valid).
    pub async fn save_session(&self, account_id: &str, session: &Session) -> Result<()> {
        let account = self.account_by_id(account_id).await?;
        let (_guard, lease) = self.guard(&account).await?;
        let result = self.save_session_locked(&account, session).await;
        lease.release().await;
        result
    }

    async fn save_session_locked(&self, account: &Account, session: &Session) -> Result<()> {
        let account_id = account.id.as_str();
        self.still_current(account).await?;
        let mut info = session.info.clone();
        info.obtained_at.get_or_insert_with(|| self.now());
        self.put_session_tokens(account_id, &session.tokens).await?;
        self.save_info(account_id, info, None).await?;
        self.wake_keepalive();
        if let Ok(row) = self.row_by_id(account_id).await {
            self.emit(Event::AccountChanged {
                account: row.account.name,
            });
        }
        Ok(())
    }

    async fn put_session_tokens(&self, account_id: &str, tokens: &SessionTokens) -> Result<()> {
        let json = tokens_json(tokens)?;
        self.put_secret(account_id, &key_session(account_id), &json)
            .await
    }

    /// Writes the account's unsaved session tokens (if any) to the secret store, trying again
    /// with back-off when it times out or fails. Writes of the key are ordered (the caller
    /// holds the account's lock, and `Secrets` keeps each key's writes in order), so an older
    /// value never lands over a newer one. The slot is emptied once its value is stored.
    async fn write_unsaved(&self, account_id: &str) -> Result<()> {
        let mut attempt = 0;
        loop {
            let Some(json) = lock(&self.unsaved)
                .get(account_id)
                .map(|u| u.tokens.clone())
            else {
                return Ok(());
            };
            match self
                .put_secret(account_id, &key_session(account_id), &json)
                .await
            {
                Ok(()) => {
                    let mut unsaved = lock(&self.unsaved);
                    if unsaved.get(account_id).is_some_and(|u| u.tokens == json) {
                        unsaved.remove(account_id);
                    }
                    return Ok(());
                }
                Err(e) if attempt + 1 >= SAVE_ATTEMPTS => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e.message, attempt, "the secret store did not take a session; trying again");
                    tokio::time::sleep(SAVE_BACKOFF * 4u32.pow(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Under the account's guard, before anything else renews it: saves a session a previous
    /// renewal could not store. `Some(Renewed)` once it is stored.
    async fn save_unsaved(&self, account: &Account) -> Result<Option<Renewal>> {
        let Some((info, refreshed, kind)) = lock(&self.unsaved)
            .get(&account.id)
            .map(|u| (u.info.clone(), u.refreshed, u.kind.clone()))
        else {
            return Ok(None);
        };
        if let Err(e) = self.write_unsaved(&account.id).await {
            let kept = Error::secret_store(format!(
                "{}; the renewed session is still kept in memory",
                e.message
            ));
            return Err(self.transient(account, "save", kept).await);
        }
        self.save_info(&account.id, info.clone(), refreshed).await?;
        self.log(
            Some(account),
            &kind,
            "ok",
            "stored the renewed session the secret store had not taken before".to_owned(),
        )
        .await;
        self.emit(Event::AccountChanged {
            account: account.name.clone(),
        });
        self.emit(Event::Refreshed {
            account: account.name.clone(),
            how: kind,
            expires_at: info.expires_at,
        });
        self.wake_keepalive();
        Ok(Some(Renewal::Renewed))
    }

    async fn save_info(
        &self,
        account_id: &str,
        info: SessionInfo,
        refreshed: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let id = account_id.to_owned();
        match self
            .db(move |s| s.save_session(&id, &info, refreshed))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                if e.code == ErrorCode::NotFound {
                    // Removed meanwhile: do not leave its tokens behind.
                    let _ = self.secrets.delete(&key_session(account_id)).await;
                }
                Err(e)
            }
        }
    }

    /// The account's session (tokens from the secret store, facts from the database), if it has
    /// one.
    pub async fn session(&self, name: &str) -> Result<Option<Session>> {
        let name = name.to_owned();
        let row = self
            .db(move |s| s.account_by_name(&name)?.ok_or_else(|| no_account(&name)))
            .await?;
        self.load_session(&row).await
    }

    async fn load_session(&self, row: &AccountRow) -> Result<Option<Session>> {
        let Some(stored) = row.session.info.clone() else {
            return Ok(None);
        };
        // A renewed session not stored yet comes with its own facts.
        let info = lock(&self.unsaved)
            .get(&row.account.id)
            .map_or(stored, |u| u.info.clone());
        let Some(tokens) = self.load_tokens(&row.account).await? else {
            return Ok(None);
        };
        Ok(Some(Session { tokens, info }))
    }

    async fn load_tokens(&self, account: &Account) -> Result<Option<SessionTokens>> {
        // A renewed session not stored yet is the current one (the old may be retired).
        let unsaved = lock(&self.unsaved)
            .get(&account.id)
            .map(|u| u.tokens.clone());
        let json = match unsaved {
            Some(json) => json,
            None => match self.secrets.get(&key_session(&account.id)).await? {
                Some(json) => json,
                None => return Ok(None),
            },
        };
        serde_json::from_str(json.expose()).map(Some).map_err(|_| {
            Error::secret_store(format!(
                "the stored session of '{}' is damaged; log in again",
                account.name
            ))
        })
    }

    /// A usable token of the account (or of a service's active account), renewed first when it
    /// is expired or about to expire.
    pub async fn token(&self, name_or_service: &str, format: TokenFormat) -> Result<String> {
        let (row, session) = self.fresh_session(name_or_service, None).await?;
        if format == TokenFormat::Curl {
            return Ok(self.curl_command(&row, &session).await?.expose().to_owned());
        }
        let credential = self
            .service(row.account.service)
            .credential(&row.account, &session);
        let rendered = token::render(
            format,
            &TokenParts {
                account: &row.account,
                token: &session.tokens.access,
                expires_at: session.info.expires_at,
                credential: &credential,
            },
        )?;
        Ok(rendered.expose().to_owned())
    }

    /// The account (or the one a service id stands for) with a usable session, renewed first
    /// when it expires within `min_ttl` (`None`: the refresh margin of `token`).
    pub(crate) async fn fresh_session(
        &self,
        name_or_service: &str,
        min_ttl: Option<chrono::Duration>,
    ) -> Result<(AccountRow, Session)> {
        let view = self.resolve(name_or_service).await?;
        let id = view.account.id.clone();
        let mut row = self.row_by_id(&id).await?;
        usable(&row)?;
        let now = self.now();
        let info = row.session.info.clone().unwrap_or_default();
        let expired = info.expires_at.is_some_and(|t| t <= now);
        let (margin, why) = match min_ttl {
            Some(ttl) => (ttl, Due::Within(ttl)),
            None => (refresh_margin(&info), Due::ForToken),
        };
        let due = info.expires_at.is_some_and(|t| now >= t - margin);
        if due {
            self.wake_keepalive();
            match self.flight(&row, false, why).await {
                Ok(_) => {}
                // Renewed, but not stored yet: the new session is in memory.
                Err(_) if lock(&self.unsaved).contains_key(&id) => {}
                // The token still works and was not declared lost: hand it out; keep-alive tries
                // again later.
                Err(e) if !expired && e.code != ErrorCode::NeedsLogin => {}
                Err(e) => return Err(e),
            }
            row = self.row_by_id(&id).await?;
            usable(&row)?;
            let unsaved_expiry = lock(&self.unsaved).get(&id).map(|u| u.info.expires_at);
            if let Some(t) = unsaved_expiry
                .unwrap_or_else(|| row.session.info.as_ref().and_then(|i| i.expires_at))
                && t <= self.now()
            {
                let why = match &row.session.state {
                    StoredState::Retrying { last_error, .. } => format!(": {last_error}"),
                    _ => String::new(),
                };
                return Err(Error::needs_login(format!(
                    "the session of '{}' expired and could not be renewed{why}",
                    row.account.name
                )));
            }
        }
        let Some(session) = self.load_session(&row).await? else {
            return Err(Error::needs_login(format!(
                "'{}' has no stored session; log in again",
                row.account.name
            )));
        };
        Ok((row, session))
    }

    /// Keep-alive now. Without `force`, only when the session is due (inside its warning
    /// window, expired, failing, or without a known expiry) and no other flight just did it.
    pub async fn refresh(&self, name: &str, force: bool) -> Result<AccountView> {
        Ok(self.refresh_report(name, force).await?.0)
    }

    /// [`Manager::refresh`], saying what was done: renewed, checked, logged in again, or not
    /// checkable without a person.
    pub async fn refresh_report(
        &self,
        name: &str,
        force: bool,
    ) -> Result<(AccountView, RefreshDone)> {
        let name = name.to_owned();
        let row = self
            .db(move |s| s.account_by_name(&name)?.ok_or_else(|| no_account(&name)))
            .await?;
        if row.session.info.is_none() {
            return Err(not_logged_in(&row.account));
        }
        self.wake_keepalive();
        let renewal = self.flight(&row, force, Due::ForRefresh).await?;
        Ok((
            self.view_by_id(&row.account.id).await?,
            RefreshDone::from(renewal),
        ))
    }

    /// Tells the server where the protocol allows, then forgets the session. The outcome says
    /// whether the server ended it or it was only forgotten here.
    pub async fn logout(&self, name: &str) -> Result<LogoutOutcome> {
        let account = self.account(name).await?;
        self.drop_flows_of(&account.id);
        let account_lock = self.account_lock(&account.id);
        let _guard = account_lock.lock().await;
        let lease = self.lease(&account).await?;
        let result = self.logout_locked(&account).await;
        lease.release().await;
        result
    }

    async fn logout_locked(&self, account: &Account) -> Result<LogoutOutcome> {
        let row = self.row_by_id(&account.id).await?;
        let (outcome, message) = self.end_on_server(&row).await?;
        lock(&self.unsaved).remove(&account.id);
        self.secrets.delete(&key_session(&account.id)).await?;
        let id = account.id.clone();
        self.db(move |s| s.set_state(&id, &StoredState::SignedOut))
            .await?;
        self.log(Some(account), "logout", outcome.code(), message)
            .await;
        self.emit(Event::AccountChanged {
            account: account.name.clone(),
        });
        Ok(outcome)
    }

    /// Asks the server to end the account's session where the service has a logout call
    /// (its capabilities say so), and says in words what became of the session.
    async fn end_on_server(&self, row: &AccountRow) -> Result<(LogoutOutcome, String)> {
        let account = &row.account;
        let Some(session) = self.load_session(row).await? else {
            return Ok((LogoutOutcome::NoSession, "there was no session".to_owned()));
        };
        let service = self.service(account.service);
        let forgotten_here = || {
            (
                LogoutOutcome::ForgottenHere,
                format!(
                    "{} has no logout call: the session is forgotten here only; its token stays \
                     valid on the server until it expires or the user logs in again",
                    service.spec().display_name
                ),
            )
        };
        if !service.spec().capabilities.logout {
            return Ok(forgotten_here());
        }
        let secret_options = self.secret_options(account).await?;
        let ctx = Ctx {
            http: &self.http,
            account,
            secret_options: &secret_options,
            now: self.now(),
        };
        Ok(match service.logout(&ctx, &session).await {
            Ok(()) => (
                LogoutOutcome::EndedOnServer,
                "the server ended the session; its token no longer works".to_owned(),
            ),
            Err(e) if e.code == ErrorCode::Unsupported => forgotten_here(),
            Err(e) => (
                LogoutOutcome::Unconfirmed,
                format!(
                    "the server did not confirm the logout ({}); the session is forgotten here, \
                     but its token may still work on the server",
                    e.display_line()
                ),
            ),
        })
    }

    /// The newest `limit` events, newest first; of one account when a name is given.
    pub async fn events(&self, name: Option<&str>, limit: usize) -> Result<Vec<EventRecord>> {
        let id = match name {
            Some(n) => Some(self.account(n).await?.id),
            None => None,
        };
        self.db(move |s| s.events(id.as_deref(), limit)).await
    }

    // ----- renewal -----

    /// One renewal at a time per account: in this process (mutex) and across processes (lease).
    /// A waiter whose account was renewed meanwhile (the generation moved: another thread or
    /// another process renewed it while this one waited for the lock or the lease) takes that
    /// result: it re-reads the stored session instead of renewing again.
    async fn flight(&self, seen: &AccountRow, force: bool, due: Due) -> Result<Renewal> {
        let account_lock = self.account_lock(&seen.account.id);
        let _guard = account_lock.lock().await;
        let lease = self.lease(&seen.account).await?;
        let result = async {
            let row = self.row_by_id(&seen.account.id).await?;
            if let Some(saved) = self.save_unsaved(&row.account).await? {
                return Ok(saved);
            }
            if !force && row.session.generation != seen.session.generation {
                return Ok(Renewal::Skipped);
            }
            let window = self.db(|s| Ok(warning_setting(s))).await?;
            if !force && !due.is_due(&row.session, window, self.now()) {
                return Ok(Renewal::Skipped);
            }
            let intent = if force { Intent::Force } else { due.intent() };
            self.renew(&row, intent, window).await
        }
        .await;
        lease.release().await;
        result
    }

    /// Refresh → validation → silent re-login → needs login, per the service's capabilities
    /// and why the renewal runs.
    async fn renew(
        &self,
        row: &AccountRow,
        intent: Intent,
        window: Option<i64>,
    ) -> Result<Renewal> {
        let account = &row.account;
        let service = self.service(account.service);
        let caps = service.spec().capabilities;
        let now = self.now();
        let info = row.session.info.clone().unwrap_or_default();
        let session = self.load_session(row).await?;
        let expired = info.expires_at.is_some_and(|t| t <= now);
        let refresh_expired = info.refresh_expires_at.is_some_and(|t| t <= now);
        let near_expiry = info
            .expires_at
            .is_some_and(|t| now >= t - warning_window(&info, window));
        // Renew now even if the session is not near its end yet.
        let early = matches!(intent, Intent::Force | Intent::Renew);
        let password = if account.remember_password {
            self.secrets.get(&key_password(&account.id)).await?
        } else {
            None
        };
        let secret_options = self.secret_options(account).await?;
        let ctx = Ctx {
            http: &self.http,
            account,
            secret_options: &secret_options,
            now,
        };

        // Why the session cannot be used any more, once we know it cannot.
        let mut lost: Option<NeedsLoginReason> = if session.is_none() {
            Some(NeedsLoginReason::Revoked)
        } else {
            None
        };
        // A refresh answered without a later expiry (Steedos when its refreshTokens is broken):
        // a re-login is the way to renew.
        let mut refresh_stalled = false;

        // 1. Refresh, where the service can (a scheduled validation only when the session is
        //    at its end anyway).
        if let Some(session) = &session
            && caps.refresh
            && (intent != Intent::Validate || expired || near_expiry)
        {
            if refresh_expired {
                lost = Some(NeedsLoginReason::RefreshTokenExpired);
            } else {
                match service.refresh(&ctx, session).await {
                    Ok(outcome) => {
                        let later = match (outcome.session.info.expires_at, info.expires_at) {
                            (Some(new), Some(old)) => new > old,
                            _ => true,
                        };
                        if later || password.is_none() || !(early || expired || near_expiry) {
                            self.finish_login(account, outcome, None, "refresh").await?;
                            return Ok(Renewal::Renewed);
                        }
                        self.log(
                            Some(account),
                            "refresh",
                            "ok",
                            "the server accepted the session but gave no later expiry; logging in again"
                                .to_owned(),
                        )
                        .await;
                        refresh_stalled = true;
                    }
                    // Treated like a service without refresh.
                    Err(e) if e.code == ErrorCode::Unsupported => {}
                    Err(e) if e.code.is_transient() => {
                        return Err(self.transient(account, "refresh", e).await);
                    }
                    Err(e) => {
                        self.log(Some(account), "refresh", "failed", e.display_line())
                            .await;
                        lost = Some(lost_reason(&e));
                    }
                }
            }
        }

        // 2. No refresh: re-login when due and a password is remembered; otherwise ask the
        //    server whether the session still works (services without expiry, forced checks).
        if let Some(session) = &session
            && lost.is_none()
        {
            let relogin_now =
                password.is_some() && (expired || near_expiry || early || refresh_stalled);
            if !relogin_now {
                if expired {
                    lost = Some(NeedsLoginReason::Expired);
                } else if !caps.validate {
                    // Still valid and nothing can renew it unattended: nothing to do yet.
                    return Ok(Renewal::Unattended);
                } else {
                    match service.validate(&ctx, session).await {
                        Ok(Validation::Valid(fresh)) => {
                            let mut info = info.clone();
                            if let Some(fresh) = fresh {
                                merge_info(&mut info, fresh);
                            }
                            self.save_info(&account.id, info, Some(now)).await?;
                            self.log(
                                Some(account),
                                "validate",
                                "ok",
                                "the server accepts the session".to_owned(),
                            )
                            .await;
                            self.emit(Event::AccountChanged {
                                account: account.name.clone(),
                            });
                            return Ok(Renewal::Validated);
                        }
                        Ok(Validation::Invalid(reason)) => {
                            self.log(
                                Some(account),
                                "validate",
                                "failed",
                                reason.describe().to_owned(),
                            )
                            .await;
                            lost = Some(reason);
                        }
                        Ok(Validation::Unverifiable(why)) => {
                            // Not a revocation: the session stays until its known expiry.
                            let until = info.expires_at.map_or_else(
                                || "the session is kept".to_owned(),
                                |t| format!("the session is kept until it expires at {}", when(t)),
                            );
                            self.log(
                                Some(account),
                                "validate",
                                "unverifiable",
                                format!("could not check the session: {why}; {until}"),
                            )
                            .await;
                            return Ok(Renewal::Unattended);
                        }
                        Err(e) if e.code == ErrorCode::Unsupported => {
                            return Ok(Renewal::Unattended);
                        }
                        Err(e) if e.code.is_transient() => {
                            return Err(self.transient(account, "validate", e).await);
                        }
                        Err(e) => {
                            self.log(Some(account), "validate", "failed", e.display_line())
                                .await;
                            if !matches!(
                                e.code,
                                ErrorCode::NeedsLogin | ErrorCode::CredentialsRejected
                            ) {
                                return Err(e);
                            }
                            lost = Some(NeedsLoginReason::Revoked);
                        }
                    }
                }
            }
        }

        // 3. Silent re-login with the remembered password, when no person is needed.
        if let Some(password) = &password {
            match service.begin_login(&ctx, Some(password)).await {
                Ok(Progress::Done(outcome)) => {
                    self.finish_login(account, *outcome, Some(password), "relogin")
                        .await?;
                    return Ok(Renewal::Relogged);
                }
                Ok(Progress::Challenge { challenge, .. }) => {
                    if lost.is_none() && !expired {
                        // An early renewal met a person's step: the session still works; keep
                        // it and let keep-alive warn before it ends.
                        let until = info.expires_at.map_or_else(
                            || "it stays usable".to_owned(),
                            |t| format!("the session stays usable until {}", when(t)),
                        );
                        self.log(
                            Some(account),
                            "relogin",
                            "challenge",
                            format!("{}; {until}", describe_challenge(&challenge)),
                        )
                        .await;
                        return Ok(Renewal::Unattended);
                    }
                    self.log(
                        Some(account),
                        "relogin",
                        "failed",
                        describe_challenge(&challenge),
                    )
                    .await;
                    lost = Some(NeedsLoginReason::ChallengeRequired);
                }
                Err(e) if e.code.is_transient() => {
                    return Err(self.transient(account, "relogin", e).await);
                }
                Err(e) => {
                    self.log(Some(account), "relogin", "failed", e.display_line())
                        .await;
                    lost = Some(match (e.code, lost) {
                        (ErrorCode::CredentialsRejected, _) => NeedsLoginReason::PasswordChanged,
                        (ErrorCode::ChallengeFailed, _) => NeedsLoginReason::ChallengeRequired,
                        (ErrorCode::NeedsLogin, known) => {
                            known.unwrap_or(NeedsLoginReason::Revoked)
                        }
                        (_, Some(known)) => known,
                        // The session is not known to be lost (it was only due): keep it.
                        (_, None) => return Err(e),
                    });
                }
            }
        }

        // 4. A person must log in.
        let reason = lost.unwrap_or(NeedsLoginReason::Expired);
        let id = account.id.clone();
        let stored = StoredState::NeedsLogin(reason.clone());
        self.db(move |s| s.set_state(&id, &stored)).await?;
        self.log(
            Some(account),
            "keepalive",
            "needs_login",
            reason.describe().to_owned(),
        )
        .await;
        self.emit(Event::AccountChanged {
            account: account.name.clone(),
        });
        self.emit(Event::RefreshFailed {
            account: account.name.clone(),
            permanent: true,
            message: format!("needs a new login: {}", reason.describe()),
            next_attempt: None,
        });
        Err(Error::needs_login(format!(
            "'{}' needs a new login: {}",
            account.name,
            reason.describe()
        )))
    }

    /// Records a transient failure (state retrying, next attempt backed off) and returns it.
    async fn transient(&self, account: &Account, kind: &str, e: Error) -> Error {
        let id = account.id.clone();
        let attempts = self
            .row_by_id(&id)
            .await
            .ok()
            .map_or(0, |r| match r.session.state {
                StoredState::Retrying { attempts, .. } => attempts,
                _ => 0,
            });
        let next = self.now() + retry_delay(attempts);
        let message = e.display_line();
        let stored = message.clone();
        if let Err(db) = self.db(move |s| s.record_retry(&id, next, &stored)).await {
            tracing::warn!(error = %db.message, "cannot record a retry");
        }
        self.log(
            Some(account),
            kind,
            "retrying",
            format!("{message}; next attempt at {}", when(next)),
        )
        .await;
        self.emit(Event::AccountChanged {
            account: account.name.clone(),
        });
        self.emit(Event::RefreshFailed {
            account: account.name.clone(),
            permanent: false,
            message,
            next_attempt: Some(next),
        });
        e
    }

    /// The account's lock and then its lease: what every write of a session, a password or a
    /// secret option holds, so none of them can interleave with an edit or a removal.
    async fn guard(&self, account: &Account) -> Result<(tokio::sync::OwnedMutexGuard<()>, Lease)> {
        let guard = self.account_lock(&account.id).lock_owned().await;
        let lease = self.lease(account).await?;
        Ok((guard, lease))
    }

    /// Under the guard: the account as stored now, if it is still the one `seen` was (same id,
    /// user and endpoint). A login or renewal that finishes after a removal or such an edit
    /// saves nothing.
    async fn still_current(&self, seen: &Account) -> Result<AccountRow> {
        let id = seen.id.clone();
        let row = self.db(move |s| s.account_by_id(&id)).await?;
        match row {
            None => Err(Error::not_found(format!(
                "'{}' was removed meanwhile; nothing was saved",
                seen.name
            ))),
            Some(row) if row.account.user != seen.user || row.account.endpoint != seen.endpoint => {
                Err(Error::needs_login(format!(
                    "'{}' was changed to another user or endpoint meanwhile; nothing was saved, log in again",
                    row.account.name
                )))
            }
            Some(row) => Ok(row),
        }
    }

    /// Writes a secret of the account; its key is recorded first, so a removal finds it.
    async fn put_secret(&self, account_id: &str, key: &str, value: &SecretString) -> Result<()> {
        let (id, k) = (account_id.to_owned(), key.to_owned());
        self.db(move |s| s.note_secret_key(&id, &k)).await?;
        self.secrets.set(key, value).await
    }

    fn account_lock(&self, account_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.locks)
            .entry(account_id.to_owned())
            .or_default()
            .clone()
    }

    /// Waits for the account's cross-process lease.
    /// Held, the lease is extended every third of its time-to-live (a renewal can outlast it:
    /// a slow server, several requests of a re-login, a secret store that retries), so no other
    /// process starts a second renewal meanwhile. A crashed holder stops extending it; a dead
    /// holder's lease is taken over at once (see `store::holder_is_dead`).
    async fn lease(&self, account: &Account) -> Result<Lease> {
        let holder = store::new_lease_holder();
        let ttl = self.lease_ttl();
        let deadline = Instant::now() + ttl + Duration::from_secs(5);
        loop {
            let (id, h) = (account.id.clone(), holder.clone());
            if self.db(move |s| s.try_acquire_lease(&id, &h, ttl)).await? {
                let heartbeat = {
                    let (store, id, holder) =
                        (self.store.clone(), account.id.clone(), holder.clone());
                    tokio::spawn(async move {
                        loop {
                            tokio::time::sleep(ttl / 3).await;
                            let (store, id, holder) = (store.clone(), id.clone(), holder.clone());
                            let extended = tokio::task::spawn_blocking(move || {
                                store.try_acquire_lease(&id, &holder, ttl)
                            })
                            .await;
                            match extended {
                                Ok(Ok(true)) => {}
                                Ok(Ok(false)) => {
                                    tracing::warn!("another process took over a renewal lease");
                                    return;
                                }
                                // The account was removed, or the database failed.
                                _ => return,
                            }
                        }
                    })
                };
                return Ok(Lease {
                    store: Some(self.store.clone()),
                    account_id: account.id.clone(),
                    holder,
                    heartbeat: Some(heartbeat),
                });
            }
            if Instant::now() >= deadline {
                return Err(Error::storage(format!(
                    "another Lanyard process is still renewing '{}'; try again",
                    account.name
                )));
            }
            tokio::time::sleep(store::LEASE_POLL).await;
        }
    }

    // ----- keep-alive engine -----

    /// Every account with its schedule and the state it shows now, in one read.
    pub(crate) async fn keepalive_snapshot(&self) -> Result<Snapshot> {
        let (rows, mut schedules, window) = self
            .db(|s| Ok((s.accounts()?, s.schedules()?, warning_setting(s))))
            .await?;
        let now = self.now();
        let accounts = rows
            .into_iter()
            .map(|row| {
                let schedule = schedules.remove(&row.account.id).unwrap_or_default();
                let state = self.state_of(&row, window, now);
                SnapshotEntry {
                    row,
                    schedule,
                    state,
                }
            })
            .collect();
        Ok(Snapshot {
            accounts,
            window_setting: window,
        })
    }

    /// One account with its schedule; `None` once removed.
    pub(crate) async fn keepalive_row(&self, id: &str) -> Result<Option<(AccountRow, Schedule)>> {
        let id = id.to_owned();
        self.db(move |s| {
            let Some(row) = s.account_by_id(&id)? else {
                return Ok(None);
            };
            let schedule = s.schedule(&id)?.unwrap_or_default();
            Ok(Some((row, schedule)))
        })
        .await
    }

    /// The engine's planned check, through the same single-flight path as `token()` and
    /// `refresh()`: if another thread or process renewed or checked the account since `seen`
    /// was read, nothing is sent.
    pub(crate) async fn keepalive_check(
        &self,
        seen: &AccountRow,
        kind: CheckKind,
    ) -> Result<Renewal> {
        self.flight(seen, false, Due::Planned(kind)).await
    }

    pub(crate) async fn set_schedule(&self, account_id: &str, schedule: Schedule) -> Result<()> {
        let id = account_id.to_owned();
        self.db(move |s| s.set_schedule(&id, &schedule)).await
    }

    pub(crate) async fn log_event(
        &self,
        account: &Account,
        kind: &str,
        outcome: &str,
        message: String,
    ) {
        self.log(Some(account), kind, outcome, message).await;
    }

    pub(crate) fn emit_event(&self, event: Event) {
        self.emit(event);
    }

    /// The capabilities of a service as this manager sees it.
    pub(crate) fn capabilities(&self, id: ServiceId) -> Capabilities {
        self.service(id).spec().capabilities
    }

    fn state_of(&self, row: &AccountRow, window: Option<i64>, now: DateTime<Utc>) -> State {
        compute_state(
            &row.session,
            self.capabilities(row.account.service),
            row.account.remember_password,
            self.awaiting(&row.account.id),
            window,
            now,
        )
    }

    // ----- helpers -----

    fn service(&self, id: ServiceId) -> &'static dyn Service {
        (self.resolver)(id)
    }

    async fn db<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| Error::internal("a database call failed unexpectedly"))?
    }

    async fn account(&self, name: &str) -> Result<Account> {
        let name = name.to_owned();
        self.db(move |s| {
            s.account_by_name(&name)?
                .map(|r| r.account)
                .ok_or_else(|| no_account(&name))
        })
        .await
    }

    async fn account_by_id(&self, id: &str) -> Result<Account> {
        Ok(self.row_by_id(id).await?.account)
    }

    async fn row_by_id(&self, id: &str) -> Result<AccountRow> {
        let id = id.to_owned();
        self.db(move |s| {
            s.account_by_id(&id)?
                .ok_or_else(|| Error::not_found("the account was removed"))
        })
        .await
    }

    async fn view_by_id(&self, id: &str) -> Result<AccountView> {
        let id = id.to_owned();
        let (row, window) = self
            .db(move |s| {
                Ok((
                    s.account_by_id(&id)?
                        .ok_or_else(|| Error::not_found("the account was removed"))?,
                    warning_setting(s),
                ))
            })
            .await?;
        Ok(self.view(row, window, self.now()))
    }

    fn view(&self, row: AccountRow, window: Option<i64>, now: DateTime<Utc>) -> AccountView {
        let caps = self.service(row.account.service).spec().capabilities;
        let state = compute_state(
            &row.session,
            caps,
            row.account.remember_password,
            self.awaiting(&row.account.id),
            window,
            now,
        );
        AccountView {
            password_required: services::password_required(&row.account),
            plaintext_remote: crate::http::plaintext_remote(&row.account),
            default_for_service: row.default_for_service,
            state,
            session: row.session.info,
            last_refresh_at: row.session.last_refresh_at,
            account: row.account,
        }
    }

    async fn secret_options(&self, account: &Account) -> Result<BTreeMap<String, SecretString>> {
        let mut out = BTreeMap::new();
        for opt in services::all_options(self.service(account.service).spec()).filter(|o| o.secret)
        {
            if let Some(v) = self.secrets.get(&key_option(&account.id, opt.key)).await? {
                out.insert(opt.key.to_owned(), v);
            }
        }
        Ok(out)
    }

    /// Writes an event row and broadcasts it. A failure to log is reported, never fatal.
    async fn log(&self, account: Option<&Account>, kind: &str, outcome: &str, message: String) {
        let ids = account.map(|a| (a.id.clone(), a.name.clone()));
        let (kind, outcome) = (kind.to_owned(), outcome.to_owned());
        let at = self.now();
        let written = self
            .db(move |s| {
                let account = ids.as_ref().map(|(id, name)| (id.as_str(), name.as_str()));
                s.add_event(account, at, &kind, &outcome, &message)
            })
            .await;
        match written {
            Ok(event) => self.emit(Event::Logged { event }),
            Err(e) => tracing::warn!(error = %e.message, "cannot write an event"),
        }
    }

    fn emit(&self, event: Event) {
        // No receiver is fine (the CLI never subscribes).
        let _ = self.events.send(event);
    }
}

/// Releases the lease on drop too (a cancelled call), so only a crash leaves one to expire.
struct Lease {
    store: Option<Arc<Store>>,
    account_id: String,
    holder: String,
    /// Extends the lease while it is held.
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl Lease {
    async fn release(mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
        if let Some(store) = self.store.take() {
            let (id, holder) = (self.account_id.clone(), self.holder.clone());
            let _ = tokio::task::spawn_blocking(move || store.release_lease(&id, &holder)).await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
        if let Some(store) = self.store.take() {
            let (id, holder) = (
                std::mem::take(&mut self.account_id),
                std::mem::take(&mut self.holder),
            );
            let release = move || {
                let _ = store.release_lease(&id, &holder);
            };
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn_blocking(release);
                }
                Err(_) => release(),
            }
        }
    }
}

/// When a flight should go ahead (re-checked after waiting for the lock).
#[derive(Clone, Copy)]
enum Due {
    /// `token()`: expired or within the refresh margin.
    ForToken,
    /// `exec --min-ttl`: expired or expiring within this much; renewed early like a planned
    /// renewal, since the caller needs the session to last.
    Within(chrono::Duration),
    /// `api`: the server refused the session; renew unless another flight did meanwhile (the
    /// generation tells).
    Rejected,
    /// `refresh()`: inside the warning window, expired, failing, or no known expiry.
    ForRefresh,
    /// The keep-alive engine's planned check: due by its plan (unless another flight changed
    /// the session meanwhile, which the generation tells).
    Planned(CheckKind),
}

impl Due {
    fn is_due(self, row: &SessionRow, window: Option<i64>, now: DateTime<Utc>) -> bool {
        let Some(info) = &row.info else { return false };
        match self {
            Due::ForToken => info
                .expires_at
                .is_some_and(|t| now >= t - refresh_margin(info)),
            Due::Within(ttl) => info.expires_at.is_some_and(|t| now >= t - ttl),
            Due::Rejected => true,
            Due::ForRefresh => {
                !matches!(row.state, StoredState::Valid)
                    || info
                        .expires_at
                        .is_none_or(|t| now >= t - warning_window(info, window))
            }
            Due::Planned(_) => !matches!(
                row.state,
                StoredState::SignedOut | StoredState::NeedsLogin(_)
            ),
        }
    }

    fn intent(self) -> Intent {
        match self {
            Due::ForToken | Due::ForRefresh => Intent::OnDemand,
            Due::Within(_) => Intent::Renew,
            Due::Rejected => Intent::Force,
            Due::Planned(CheckKind::Refresh | CheckKind::Relogin) => Intent::Renew,
            Due::Planned(_) => Intent::Validate,
        }
    }
}

/// A secret store that could not be opened: every call reports why.
struct Unavailable {
    kind: SecretStoreKind,
    error: Error,
}

impl SecretBackend for Unavailable {
    fn kind(&self) -> SecretStoreKind {
        self.kind
    }
    fn get(&self, _key: &str) -> Result<Option<SecretString>> {
        Err(self.error.clone())
    }
    fn set(&self, _key: &str, _value: &SecretString) -> Result<()> {
        Err(self.error.clone())
    }
    fn delete(&self, _key: &str) -> Result<()> {
        Err(self.error.clone())
    }
}

fn tokens_json(tokens: &SessionTokens) -> Result<SecretString> {
    serde_json::to_string(tokens)
        .map(SecretString::new)
        .map_err(|_| Error::internal("cannot serialize a session"))
}

fn warning_setting(store: &Store) -> Option<i64> {
    store
        .setting(WARNING_WINDOW_SETTING)
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok())
        .filter(|v: &i64| *v >= 0)
}

fn lifetime(info: &SessionInfo) -> Option<chrono::Duration> {
    match (info.obtained_at, info.expires_at) {
        (Some(from), Some(to)) if to > from => Some(to - from),
        _ => None,
    }
}

/// How long before expiry a session shows as `expiring`: the `warning_window_secs` setting,
/// else a tenth of its lifetime, at most 24 h.
pub(crate) fn warning_window(info: &SessionInfo, setting: Option<i64>) -> chrono::Duration {
    if let Some(secs) = setting {
        return chrono::Duration::seconds(secs);
    }
    lifetime(info).map_or(MAX_WARNING_WINDOW, |l| (l / 10).min(MAX_WARNING_WINDOW))
}

/// How long before expiry `token()` renews first: a tenth of the lifetime, at most 5 min.
pub(crate) fn refresh_margin(info: &SessionInfo) -> chrono::Duration {
    lifetime(info).map_or(MAX_REFRESH_MARGIN, |l| (l / 10).min(MAX_REFRESH_MARGIN))
}

/// Back-off after a transient failure: the keep-alive policy's (exponential, capped, jittered,
/// so many accounts do not retry in step).
fn retry_delay(attempts: u32) -> chrono::Duration {
    Policy::default().backoff(attempts, rand::random())
}

/// The state people see, from the stored facts and the clock.
pub(crate) fn compute_state(
    row: &SessionRow,
    caps: Capabilities,
    remember_password: bool,
    awaiting: bool,
    window: Option<i64>,
    now: DateTime<Utc>,
) -> State {
    if awaiting {
        return State::AwaitingChallenge;
    }
    if row.lease_until.is_some() && !matches!(row.state, StoredState::SignedOut) {
        return State::Refreshing;
    }
    match &row.state {
        StoredState::SignedOut => State::SignedOut,
        StoredState::NeedsLogin(reason) => State::NeedsLogin {
            reason: reason.clone(),
        },
        StoredState::Retrying {
            next_attempt,
            attempts,
            last_error,
        } => State::Retrying {
            next_attempt: *next_attempt,
            attempts: *attempts,
            last_error: last_error.clone(),
        },
        StoredState::Valid => {
            let Some(info) = &row.info else {
                return State::SignedOut;
            };
            let Some(expires) = info.expires_at else {
                return State::Valid;
            };
            if now >= expires {
                let refresh_alive = caps.refresh && info.refresh_expires_at.is_none_or(|t| now < t);
                if refresh_alive || remember_password {
                    // Renewed on the next use or keep-alive round.
                    State::Expiring
                } else if caps.refresh {
                    State::NeedsLogin {
                        reason: NeedsLoginReason::RefreshTokenExpired,
                    }
                } else {
                    State::NeedsLogin {
                        reason: NeedsLoginReason::Expired,
                    }
                }
            } else if now >= expires - warning_window(info, window) {
                State::Expiring
            } else {
                State::Valid
            }
        }
    }
}

fn merge_info(into: &mut SessionInfo, fresh: SessionInfo) {
    let SessionInfo {
        obtained_at: _,
        expires_at,
        refresh_expires_at,
        user_id,
        display_name,
        extra,
    } = fresh;
    if expires_at.is_some() {
        into.expires_at = expires_at;
    }
    if refresh_expires_at.is_some() {
        into.refresh_expires_at = refresh_expires_at;
    }
    if user_id.is_some() {
        into.user_id = user_id;
    }
    if display_name.is_some() {
        into.display_name = display_name;
    }
    into.extra.extend(extra);
}

/// Why a refresh that failed for good lost the session: the service says `NeedsLogin` when the
/// refresh token is no longer accepted, anything else means the session was revoked.
fn lost_reason(e: &Error) -> NeedsLoginReason {
    if e.code == ErrorCode::NeedsLogin {
        NeedsLoginReason::RefreshTokenExpired
    } else {
        NeedsLoginReason::Revoked
    }
}

fn usable(row: &AccountRow) -> Result<()> {
    match &row.session.state {
        _ if row.session.info.is_none() => Err(not_logged_in(&row.account)),
        StoredState::NeedsLogin(reason) => Err(Error::needs_login(format!(
            "'{}' needs a new login: {}",
            row.account.name,
            reason.describe()
        ))),
        _ => Ok(()),
    }
}

fn not_logged_in(account: &Account) -> Error {
    Error::needs_login(format!("'{}' is not logged in; log in first", account.name))
}

fn no_account(name: &str) -> Error {
    Error::not_found(format!("no account named '{name}'"))
}

fn describe_challenge(challenge: &Challenge) -> String {
    match challenge {
        Challenge::Captcha { .. } => "the server asks for a captcha".to_owned(),
        Challenge::Code {
            channel,
            destination,
        } => {
            let channel = match channel {
                services::CodeChannel::Totp => "an authenticator code",
                services::CodeChannel::Sms => "a code sent by SMS",
                services::CodeChannel::Email => "a code sent by email",
            };
            match destination {
                Some(d) => format!("the server asks for {channel} ({d})"),
                None => format!("the server asks for {channel}"),
            }
        }
    }
}

// ----- input checks -----

fn check_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::invalid_input("an account name cannot be empty"));
    }
    if name.chars().count() > 200 {
        return Err(Error::invalid_input(
            "an account name is limited to 200 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "an account name cannot contain control characters",
        ));
    }
    if name.starts_with('-') {
        return Err(Error::invalid_input(format!(
            "account name '{name}' cannot start with '-'"
        )));
    }
    if name.parse::<ServiceId>().is_ok() {
        return Err(Error::invalid_input(format!(
            "'{name}' is a service id (it picks the service's active account); choose another account name"
        )));
    }
    Ok(name.to_owned())
}

fn check_user(raw: &str) -> Result<String> {
    let user = raw.trim();
    if user.is_empty() {
        return Err(Error::invalid_input("the user cannot be empty"));
    }
    if user.chars().count() > 320 || user.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "the user must be at most 320 characters, without control characters",
        ));
    }
    Ok(user.to_owned())
}

/// Trims, checks it is an http(s) URL without credentials, query or fragment, and writes it in
/// one canonical form without a trailing `/`. CoolKit keeps its `{region}` template.
pub(crate) fn normalize_endpoint(spec: &ServiceSpec, raw: &str) -> Result<String> {
    const PLACEHOLDER: &str = "lanyard-region-placeholder";
    let with_scheme = with_assumed_scheme(raw.trim());
    let trimmed = with_scheme.trim_end_matches('/');
    let bad = |why: &str| Error::invalid_input(format!("invalid endpoint '{}': {why}", raw.trim()));
    if trimmed.is_empty() {
        return Err(bad("it is empty"));
    }
    let templated = spec.id == ServiceId::Coolkit && trimmed.contains("{region}");
    let probe = if templated {
        trimmed.replace("{region}", PLACEHOLDER)
    } else {
        trimmed.to_owned()
    };
    if probe.contains(['{', '}']) {
        return Err(bad(if spec.id == ServiceId::Coolkit {
            "the only template it may hold is {region}"
        } else {
            "templates like {region} are for CoolKit endpoints only"
        }));
    }
    let url = Url::parse(&probe)
        .map_err(|e| bad(&format!("{e}; expected an http:// or https:// URL")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("use an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("put no user name or password in the URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query (?…) or fragment (#…)"));
    }
    let text = url.as_str().trim_end_matches('/').to_owned();
    Ok(if templated {
        text.replace(PLACEHOLDER, "{region}")
    } else {
        text
    })
}

fn option_spec(spec: &ServiceSpec, key: &str) -> Result<&'static OptionSpec> {
    services::option_spec(spec, key).ok_or_else(|| {
        let known: Vec<&str> = services::all_options(spec).map(|o| o.key).collect();
        Error::invalid_input(format!(
            "unknown option '{key}' for {}; it takes: {}",
            spec.display_name,
            known.join(", ")
        ))
    })
}

fn check_option_value(spec: &ServiceSpec, opt: &OptionSpec, value: &str) -> Result<String> {
    let v = if opt.secret {
        value.to_owned()
    } else {
        value.trim().to_owned()
    };
    if v.is_empty() {
        return Err(Error::invalid_input(format!(
            "option '{}' needs a value",
            opt.key
        )));
    }
    match opt.kind {
        OptionKind::Choice(choices) if !choices.contains(&v.as_str()) => {
            Err(Error::invalid_input(format!(
                "option '{}' of {} must be one of: {}",
                opt.key,
                spec.display_name,
                choices.join(", ")
            )))
        }
        OptionKind::Url => {
            // The value is not repeated: the person sees what they typed.
            let url = Url::parse(&v).map_err(|e| {
                Error::invalid_input(format!(
                    "option '{}' must be an http:// or https:// URL ({e})",
                    opt.key
                ))
            })?;
            // Every URL option (proxy, captcha host) is reached over HTTP(S); file://, ftp://
            // or socks:// would fail only at the first login, or do something else entirely.
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty)
            {
                return Err(Error::invalid_input(format!(
                    "option '{}' must be an http:// or https:// URL with a host, not a {}: URL",
                    opt.key,
                    url.scheme()
                )));
            }
            if url.password().is_some() {
                // It would be stored in plain text.
                return Err(Error::invalid_input(format!(
                    "option '{}' must not contain a password (it would be stored in plain text)",
                    opt.key
                )));
            }
            Ok(v.trim_end_matches('/').to_owned())
        }
        _ if !opt.secret && v.chars().any(char::is_control) => Err(Error::invalid_input(format!(
            "option '{}' cannot contain control characters",
            opt.key
        ))),
        // Must exist and hold at least one certificate; kept as an absolute path.
        _ if opt.key == crate::http::CA_FILE_OPTION => crate::http::check_ca_file(&v),
        _ => Ok(v),
    }
}

/// Checks the options against the spec and splits them: non-secret ones (defaults filled in)
/// for the database, secret ones for the secret store.
fn split_options(
    spec: &ServiceSpec,
    given: BTreeMap<String, String>,
) -> Result<(BTreeMap<String, String>, BTreeMap<String, SecretString>)> {
    let mut plain = BTreeMap::new();
    let mut secret = BTreeMap::new();
    for (key, value) in given {
        let opt = option_spec(spec, &key)?;
        let value = check_option_value(spec, opt, &value)?;
        if opt.secret {
            secret.insert(key, SecretString::new(value));
        } else {
            plain.insert(key, value);
        }
    }
    for opt in services::all_options(spec) {
        let present = if opt.secret {
            secret.contains_key(opt.key)
        } else {
            plain.contains_key(opt.key)
        };
        if present {
            continue;
        }
        match opt.default {
            Some(d) if !opt.secret => {
                plain.insert(opt.key.to_owned(), d.to_owned());
            }
            _ if opt.required => {
                return Err(Error::invalid_input(format!(
                    "{} needs option '{}' ({}): {}",
                    spec.display_name, opt.key, opt.label, opt.help
                )));
            }
            _ => {}
        }
    }
    Ok((plain, secret))
}

mod handoff;
#[cfg(test)]
mod tests;
mod transfer;
pub use transfer::{
    EXPORT_FORMAT, EXPORT_VERSION, ExportSummary, ImportReport, ImportSkip, MAX_EXPORT_BYTES,
    typed_path,
};

/// An address typed without a scheme gets the one its intent makes clear: plain http for this
/// machine (`localhost:8080`, `127.0.0.1:9000`, `[::1]`), where servers under test and
/// development run without TLS; https for everything else (`shop.example.com`).
fn with_assumed_scheme(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.is_empty() || raw.contains("://") {
        return raw.into();
    }
    let host_port = raw.split('/').next().unwrap_or(raw);
    let host = match host_port.find(']') {
        Some(end) if host_port.starts_with('[') => &host_port[..=end],
        _ => host_port.split(':').next().unwrap_or(host_port),
    }
    .to_ascii_lowercase();
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{raw}").into()
}

/// A name for a new account that no other account has: `service/user`, else
/// `service/user@host` (the same user on another server), else `service/user-2`, `-3`, ….
pub(crate) fn free_name(
    spec: &ServiceSpec,
    user: &str,
    endpoint: Option<&str>,
    taken: &[String],
) -> String {
    let base = format!("{}/{user}", spec.id);
    let free = |candidate: &str| {
        check_name(candidate).is_ok() && !taken.iter().any(|t| t.eq_ignore_ascii_case(candidate))
    };
    if free(&base) {
        return base;
    }
    if let Some(host) = endpoint
        .and_then(|e| Url::parse(&e.replace("{region}", "region")).ok())
        .and_then(|u| u.host_str().map(str::to_owned))
    {
        let candidate = format!("{base}@{host}");
        if free(&candidate) {
            return candidate;
        }
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|c| free(c))
        .unwrap_or(base)
}
