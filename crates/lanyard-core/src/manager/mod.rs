//! The façade both the CLI and the desktop app use (docs/architecture.md, "The Manager façade").
//! This file holds the `Manager` itself, its construction and the helpers every topic shares;
//! each other file is one `impl Manager` for one topic: `accounts`, `login`, `session` (save,
//! load, token, logout), `renewal` (single flight, refresh, re-login), `settings` (and the
//! account state they decide), `keepalive` (what the engine reads and writes), `events`,
//! `validate` (names, users, endpoints, options), `handoff` (the environment for `lanyard exec`,
//! one call for `lanyard api`) and `transfer` (export and import).
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
use crate::keepalive::{CheckKind, Clock, Policy, Renewal, SystemClock};
use crate::model::{
    Account, AccountView, Capabilities, NeedsLoginReason, OptionKind, OptionSpec, ServiceId,
    ServiceSpec, Session, SessionInfo, SessionTokens, State,
};
use crate::secret::SecretString;
use crate::secrets::{SecretBackend, SecretStoreHealth, SecretStoreKind, Secrets};
use crate::services::{
    self, Challenge, Ctx, LoginOutcome, Pending, Progress, Registry, Service, Validation,
};
use crate::store::{self, AccountRow, Schedule, SessionRow, Store, StoredState};
use crate::token::{self, TokenParts};

pub use crate::store::EventRecord;
pub use crate::token::TokenFormat;

mod accounts;
mod events;
mod handoff;
mod keepalive;
mod login;
mod renewal;
mod renewal_decision;
mod session;
mod settings;
#[cfg(test)]
mod tests;
mod transfer;
pub mod unlock;
mod validate;

pub use accounts::{AccountEdit, AddDraft, NewAccount};
pub use events::Event;
#[cfg(test)]
use login::FLOW_SWEEP_EVERY;
pub use login::LoginStep;
use login::{Flows, Intent, describe_challenge};
use renewal::Due;
pub use renewal::RefreshDone;
pub use session::LogoutOutcome;
use session::{merge_info, tokens_json};
pub use settings::WARNING_WINDOW_SETTING;
use settings::warning_setting;
pub(crate) use settings::{compute_state, refresh_margin, warning_window};
pub use transfer::{
    EXPORT_FORMAT, EXPORT_VERSION, ExportSummary, ImportReport, ImportSkip, MAX_EXPORT_BYTES,
    typed_path,
};
pub(crate) use validate::normalize_endpoint;
use validate::{check_name, check_option_value, check_user, option_spec, split_options};

pub use crate::secrets::file::SECRETS_FILE;

/// A login waiting for an answer (and the password or hash it holds) is forgotten after this
/// long by the manager's clock, whether or not anything else happens meanwhile.
pub const ABANDONED_LOGIN_AFTER: chrono::Duration = chrono::Duration::minutes(5);

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

/// Identifies a login waiting for an answer.
pub type FlowId = String;

/// The façade. `Send + Sync`; share it with an `Arc`.
pub struct Manager {
    data_dir: PathBuf,
    store: Arc<Store>,
    secrets: Secrets,
    http: Http,
    flows: Flows,
    /// Whether the abandoned-login sweeper runs (started with the first waiting login).
    sweeper: std::sync::atomic::AtomicBool,
    /// The services this manager knows (the built-in five unless built with
    /// [`Manager::with_services`]); unit tests put fakes here.
    services: Registry,
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
                SecretStoreKind::Keyring => Secrets::keyring_for_data_dir(&dir),
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
        Self::with_services(db_path, secrets, http, Registry::builtin())
    }

    /// [`Manager::with_parts`] knowing the services of `services` instead of the built-in five
    /// (a test's own service: `Registry::builtin().with(…)`).
    pub fn with_services(
        db_path: &Path,
        secrets: Secrets,
        http: HttpConfig,
        services: Registry,
    ) -> Result<Manager> {
        let data_dir = db_path.parent().map(Path::to_path_buf).unwrap_or_default();
        if !data_dir.as_os_str().is_empty() {
            store::ensure_data_dir(&data_dir)?;
        }
        let store = Store::open(db_path)?.with_services(services.clone());
        let mut manager = Self::build(data_dir, store, secrets, http)?;
        manager.services = services;
        Ok(manager)
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
            services: Registry::builtin(),
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

    pub async fn secret_store_health(&self) -> SecretStoreHealth {
        self.secrets.health().await
    }

    /// The specs of this manager's services, in display order.
    pub fn services(&self) -> Vec<&'static ServiceSpec> {
        self.services.specs()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Writes a secret of the account; its key is recorded first, so a removal finds it.
    async fn put_secret(&self, account_id: &str, key: &str, value: &SecretString) -> Result<()> {
        let (id, k) = (account_id.to_owned(), key.to_owned());
        self.db(move |s| s.note_secret_key(&id, &k)).await?;
        self.secrets.set(key, value).await
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

    /// The implementation this manager uses for a service: the registry's (a unit test's fake),
    /// else the id's own.
    fn service(&self, id: ServiceId) -> &'static dyn Service {
        self.services.get(id).unwrap_or(id).service()
    }

    /// Reads a service id typed by a person, stored, or read from a file: one of this manager's
    /// services (its registry), never a guess from the built-in five.
    pub fn service_id(&self, name: &str) -> Result<ServiceId> {
        self.services.resolve(name)
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
            plaintext_remote: crate::http::plaintext_remote(
                &row.account.endpoint,
                row.account.option(crate::http::PROXY_OPTION),
            ),
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

    /// What a service call needs: the client, the account, its secret options (read with
    /// [`Manager::secret_options`]) and the time now.
    fn ctx<'a>(
        &'a self,
        account: &'a Account,
        secret_options: &'a BTreeMap<String, SecretString>,
    ) -> Ctx<'a> {
        Ctx {
            http: &self.http,
            account,
            secret_options,
            now: self.now(),
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
