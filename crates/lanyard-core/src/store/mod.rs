//! The metadata database: SQLite (WAL) in the data dir.
//!
//! It holds accounts, the non-secret facts of their sessions, keep-alive state, the event log,
//! settings and single-flight leases. Nothing secret is ever written here: the API takes
//! [`SessionInfo`] (never `SessionTokens`) and non-secret options only.
//!
//! Several processes (the app and any number of CLI calls) write the same file. Every
//! read-modify-write runs in one `BEGIN IMMEDIATE` transaction; a busy database is waited for
//! (`busy_timeout`) and then retried, so nothing is lost and nothing fails on a short overlap.
//! The calls block: async callers run them on the blocking pool.

pub mod changes;
pub mod migrations;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::Serialize;

use crate::error::{Error, ErrorCode, Result};
pub use crate::model::Said;
use crate::model::{Account, NeedsLoginReason, ServiceId, SessionInfo};
use crate::services::Registry;

/// How long one statement waits for another process's write lock before SQLite says busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many more times a busy transaction is retried after the busy timeout ran out.
const BUSY_RETRIES: u32 = 5;
/// The event log keeps this many newest rows.
const MAX_EVENTS: i64 = 20_000;

pub use crate::data_dir::DB_FILE;

/// The data dir: `$LANYARD_DATA_DIR`, else the platform's data directory + `lanyard`.
pub fn default_data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LANYARD_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir().map(|d| d.join("lanyard")).ok_or_else(|| {
        Error::storage("cannot find the platform's data directory; set LANYARD_DATA_DIR to a folder for Lanyard's data")
    })
}

/// Creates the data dir (and its parents) if missing, private (0700); an existing one is made
/// private with every file in it (0600), each change logged as a warning
/// ([`crate::data_dir::secure_dir`], which also returns them for a front end to show).
pub fn ensure_data_dir(dir: &Path) -> Result<()> {
    crate::data_dir::secure_dir(dir).map(drop)
}

/// Creates the file with mode 0600 if missing; makes an existing one 0600 if it is looser.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, crate::data_dir::FILE_MODE);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            crate::data_dir::secure_file(path).map(drop)
        }
        Err(e) => Err(e),
    }
}

/// An RFC 3339 UTC timestamp with milliseconds: fixed width, so text order is time order.
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_ts(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn opt_ts(text: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    text.as_deref().map(parse_ts).transpose()
}

fn to_json(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).expect("a string map always serializes")
}

/// A retry reason as stored (schema version 8): the `Said` as JSON.
fn said_json(said: &Said) -> String {
    serde_json::to_string(said).unwrap_or_default()
}

/// A stored retry reason. Text that is not a `Said` (nothing writes that since version 8, whose
/// migration turned older rows into one) is kept as words without a code.
fn said_from_json(text: &str) -> Said {
    serde_json::from_str(text).unwrap_or_else(|_| Said::uncoded(text))
}

fn from_json(text: &str) -> rusqlite::Result<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The keep-alive state as stored. The state shown to people is computed from this, the
/// session's expiry and the clock (see `Manager`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredState {
    SignedOut,
    Valid,
    NeedsLogin(NeedsLoginReason),
    Retrying {
        next_attempt: DateTime<Utc>,
        attempts: u32,
        last_error: Said,
    },
}

/// An account's session facts and keep-alive bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// `None` when there is no session (never logged in, or logged out).
    pub info: Option<SessionInfo>,
    pub state: StoredState,
    pub last_refresh_at: Option<DateTime<Utc>>,
    /// Bumped by every change of the session; a waiter compares it to see another's result.
    pub generation: i64,
    /// Until when another flight holds this account's lease, if one does.
    pub lease_until: Option<DateTime<Utc>>,
}

/// An account with its session row, as the list queries return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub account: Account,
    pub session: SessionRow,
    /// Whether a service id resolves to this account: the active account of its service chosen
    /// last (`set_active`), or, when none was chosen, the oldest active one (schema version 5).
    pub default_for_service: bool,
}

/// The keep-alive engine's bookkeeping for one account (schema version 3). Writing it never
/// bumps the session's generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// When the engine looks at the account next; `None`: nothing to watch.
    pub next_check_at: Option<DateTime<Utc>>,
    /// What it does then (`keepalive::CheckKind` as text).
    pub kind: Option<String>,
    /// The session generation the plan was made for; `None`: never planned.
    pub generation: Option<i64>,
    /// The expiry an "expiring unattended" warning was given for.
    pub warned_for: Option<DateTime<Utc>>,
    /// The expiry a refresh could not move.
    pub refresh_stalled_for: Option<DateTime<Utc>>,
    /// The expiry at which a silent re-login met a captcha or a code.
    pub relogin_blocked_for: Option<DateTime<Utc>>,
}

/// One row of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct EventRecord {
    pub id: i64,
    pub account_id: Option<String>,
    /// The account's current name, or its name at the time if it was removed since.
    pub account_name: Option<String>,
    pub at: DateTime<Utc>,
    /// `login`, `refresh`, `validate`, `relogin`, `logout`, `add`, `edit`, `remove`, `use`...
    pub kind: String,
    /// `ok`, `failed`, `challenge`, `needs_login`, `retrying`, `unverifiable` (the server has
    /// no call that can check the session; it is kept until its expiry)...
    pub outcome: String,
    /// What happened, in English (the CLI's words; rows written before `said` have only this).
    pub message: String,
    /// The same as a code and its parameters, which a window renders in its own language.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub said: Option<Said>,
}

/// What `update_account` did.
#[derive(Debug, Clone)]
pub struct AccountUpdate {
    pub before: Account,
    pub after: Account,
}

/// Errors inside a transaction: SQLite's (busy ones are retried) or the caller's own.
#[derive(Debug)]
pub enum TxError {
    Sql(rusqlite::Error),
    App(Error),
}

impl From<rusqlite::Error> for TxError {
    fn from(e: rusqlite::Error) -> Self {
        TxError::Sql(e)
    }
}
impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::App(e)
    }
}

type TxResult<T> = std::result::Result<T, TxError>;

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn sql_error(e: rusqlite::Error) -> Error {
    if is_busy(&e) {
        Error::storage(
            "the database stayed busy: another Lanyard process held it too long; try again"
                .to_string(),
        )
    } else {
        Error::from(e)
    }
}

/// The metadata database. `Send + Sync`; one connection, used by one call at a time.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// The services whose ids the `service` column may hold.
    services: Registry,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.service, a.user, a.endpoint, a.options, a.remember_password, \
     a.active, a.created_at, s.obtained_at, s.expires_at, s.refresh_expires_at, s.user_id, s.display_name, \
     s.extra, s.state, s.state_reason, s.next_attempt, s.attempts, s.last_error, s.last_refresh_at, \
     s.generation, l.expires_at, \
     (a.active = 1 AND NOT EXISTS (SELECT 1 FROM accounts o WHERE o.service = a.service AND o.active = 1 \
        AND o.id != a.id AND (COALESCE(o.chosen_seq, 0) > COALESCE(a.chosen_seq, 0) \
        OR (COALESCE(o.chosen_seq, 0) = COALESCE(a.chosen_seq, 0) \
            AND (o.created_at < a.created_at OR (o.created_at = a.created_at AND o.rowid < a.rowid))))))";
const ACCOUNT_FROM: &str = "FROM accounts a LEFT JOIN sessions s ON s.account_id = a.id \
     LEFT JOIN leases l ON l.account_id = a.id";

impl Store {
    /// Opens (creating if needed) the database at `path`, sets it up and brings its schema to
    /// the current version.
    pub fn open(path: &Path) -> Result<Store> {
        Self::open_with(path, migrations::MIGRATIONS)
    }

    /// Opens and migrates only up to the given migrations (tests of the upgrade path).
    pub fn open_with(path: &Path, steps: &[migrations::Migration]) -> Result<Store> {
        // Created (or tightened) 0600 before SQLite opens it: SQLite gives the -wal and -shm
        // files the database file's mode. Nothing secret is in them, but account names and
        // hosts are nobody else's business.
        create_private_file(path).map_err(|e| {
            Error::storage(format!(
                "cannot create the database {}: {e}",
                path.display()
            ))
        })?;
        let mut conn = Connection::open(path).map_err(|e| {
            Error::storage(format!("cannot open the database {}: {e}", path.display()))
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        retry_busy(|| {
            let mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(mode = %mode, "the database did not switch to WAL mode");
            }
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            Ok(())
        })?;
        migrate(&mut conn, steps)?;
        Ok(Store {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            services: Registry::builtin(),
        })
    }

    /// The same store reading the ids of these services (the Manager's registry).
    pub fn with_services(mut self, services: Registry) -> Store {
        self.services = services;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<u32> {
        self.read(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read<T>(&self, mut f: impl FnMut(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.lock();
        retry_busy(|| f(&conn))
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so the
    /// reads inside see what the writes will be based on), retrying when the database is busy.
    pub fn write<T>(&self, mut f: impl FnMut(&Transaction<'_>) -> TxResult<T>) -> Result<T> {
        let mut conn = self.lock();
        let mut attempt = 0;
        loop {
            let outcome = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = f(&tx)?;
                tx.commit()?;
                Ok(value)
            })();
            match outcome {
                Ok(value) => return Ok(value),
                Err(TxError::Sql(e)) if is_busy(&e) && attempt < BUSY_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(backoff(attempt));
                }
                Err(TxError::Sql(e)) => return Err(sql_error(e)),
                Err(TxError::App(e)) => return Err(e),
            }
        }
    }

    // ----- accounts -----

    pub fn accounts(&self) -> Result<Vec<AccountRow>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} {ACCOUNT_FROM}");
        let mut rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            stmt.query_map([], |r| account_row(r, &self.services))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.sort_by(|a, b| {
            (a.account.service, &a.account.endpoint, &a.account.name).cmp(&(
                b.account.service,
                &b.account.endpoint,
                &b.account.name,
            ))
        });
        Ok(rows)
    }

    pub fn account_by_name(&self, name: &str) -> Result<Option<AccountRow>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} {ACCOUNT_FROM} WHERE a.name = ?1");
        self.read(|c| {
            c.query_row(&sql, [name], |r| account_row(r, &self.services))
                .optional()
        })
    }

    pub fn account_by_id(&self, id: &str) -> Result<Option<AccountRow>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} {ACCOUNT_FROM} WHERE a.id = ?1");
        self.read(|c| {
            c.query_row(&sql, [id], |r| account_row(r, &self.services))
                .optional()
        })
    }

    /// Inserts a new account (and its empty session row). It becomes the active account of its
    /// (service, endpoint) when that pair has none; the returned account says which.
    pub fn insert_account(&self, account: &Account) -> Result<Account> {
        self.write(|tx| {
            check_unique(tx, account, None)?;
            let mut account = account.clone();
            account.active = active_of(tx, account.service, &account.endpoint)?.is_none();
            tx.execute(
                "INSERT INTO accounts (id, name, service, user, endpoint, options, remember_password, active, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    account.id,
                    account.name,
                    account.service.as_str(),
                    account.user,
                    account.endpoint,
                    to_json(&account.options),
                    account.remember_password,
                    account.active,
                    ts(account.created_at),
                ],
            )?;
            tx.execute("INSERT INTO sessions (account_id) VALUES (?1)", [&account.id])?;
            Ok(account)
        })
    }

    /// Read-modify-write of one account in one transaction. `f` may change anything but the id,
    /// service and creation time. When the endpoint changes, the account leaves its old pair
    /// (whose oldest remaining account becomes active if it was the active one) and is active in
    /// the new pair only if that has no active account.
    pub fn update_account(
        &self,
        name: &str,
        mut f: impl FnMut(&mut Account) -> Result<()>,
    ) -> Result<AccountUpdate> {
        self.write(|tx| {
            let before = account_in_tx(tx, name, &self.services)?;
            let mut after = before.clone();
            f(&mut after)?;
            after.id = before.id.clone();
            after.service = before.service;
            after.created_at = before.created_at;
            after.active = before.active;
            check_unique(tx, &after, Some(&before.id))?;
            let moved = after.endpoint != before.endpoint;
            if moved {
                after.active = active_of(tx, after.service, &after.endpoint)?.is_none();
                // Leave the old pair first, so the one-active index never sees two.
                tx.execute("UPDATE accounts SET active = 0 WHERE id = ?1", [&before.id])?;
            }
            tx.execute(
                "UPDATE accounts SET name = ?2, user = ?3, endpoint = ?4, options = ?5, remember_password = ?6,
                 active = ?7 WHERE id = ?1",
                params![
                    after.id,
                    after.name,
                    after.user,
                    after.endpoint,
                    to_json(&after.options),
                    after.remember_password,
                    after.active,
                ],
            )?;
            if moved && before.active {
                promote_oldest(tx, before.service, &before.endpoint)?;
            }
            Ok(AccountUpdate { before: before.clone(), after: after.clone() })
        })
    }

    /// Makes the account the active one of its (service, endpoint) and the one its service id
    /// resolves to (the user's last choice), in one transaction.
    pub fn set_active(&self, name: &str) -> Result<Account> {
        self.write(|tx| {
            let mut account = account_in_tx(tx, name, &self.services)?;
            tx.execute(
                "UPDATE accounts SET active = 0 WHERE service = ?1 AND endpoint = ?2 AND id != ?3",
                params![account.service.as_str(), account.endpoint, account.id],
            )?;
            tx.execute(
                "UPDATE accounts SET active = 1,
                 chosen_seq = (SELECT COALESCE(MAX(chosen_seq), 0) + 1 FROM accounts) WHERE id = ?1",
                [&account.id],
            )?;
            account.active = true;
            Ok(account)
        })
    }

    /// Deletes the account (its session row and lease go with it). When it was active, the
    /// oldest remaining account of its pair becomes active. Returns whether it existed.
    pub fn delete_account(&self, id: &str) -> Result<bool> {
        self.write(|tx| {
            let found: Option<(String, String, bool)> = tx
                .query_row(
                    "SELECT service, endpoint, active FROM accounts WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((service, endpoint, active)) = found else {
                return Ok(false);
            };
            tx.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
            if active {
                let service = self.services.resolve(&service)?;
                promote_oldest(tx, service, &endpoint)?;
            }
            Ok(true)
        })
    }

    // ----- sessions -----

    /// Records a new or renewed session: its facts, state valid, retry bookkeeping cleared,
    /// generation bumped. Returns the new generation.
    pub fn save_session(
        &self,
        account_id: &str,
        info: &SessionInfo,
        refreshed_at: Option<DateTime<Utc>>,
    ) -> Result<i64> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE sessions SET obtained_at = ?2, expires_at = ?3, refresh_expires_at = ?4, user_id = ?5,
                 display_name = ?6, extra = ?7, state = 'valid', state_reason = NULL, next_attempt = NULL,
                 attempts = 0, last_error = NULL, last_refresh_at = COALESCE(?8, last_refresh_at),
                 generation = generation + 1
                 WHERE account_id = ?1",
                params![
                    account_id,
                    info.obtained_at.map(ts),
                    info.expires_at.map(ts),
                    info.refresh_expires_at.map(ts),
                    info.user_id,
                    info.display_name,
                    to_json(&info.extra),
                    refreshed_at.map(ts),
                ],
            )?;
            if changed == 0 {
                return Err(Error::not_found("the account was removed meanwhile").into());
            }
            Ok(tx.query_row("SELECT generation FROM sessions WHERE account_id = ?1", [account_id], |r| r.get(0))?)
        })
    }

    /// Sets the keep-alive state. `SignedOut` also forgets the session's facts. Returns the
    /// new generation.
    pub fn set_state(&self, account_id: &str, state: &StoredState) -> Result<i64> {
        let (name, reason, next, attempts, error) = match state {
            StoredState::SignedOut => ("signed_out", None, None, 0, None),
            StoredState::Valid => ("valid", None, None, 0, None),
            StoredState::NeedsLogin(reason) => {
                ("needs_login", Some(reason_str(reason)), None, 0, None)
            }
            StoredState::Retrying {
                next_attempt,
                attempts,
                last_error,
            } => (
                "retrying",
                None,
                Some(ts(*next_attempt)),
                *attempts,
                Some(said_json(last_error)),
            ),
        };
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE sessions SET state = ?2, state_reason = ?3, next_attempt = ?4, attempts = ?5,
                 last_error = ?6, generation = generation + 1 WHERE account_id = ?1",
                params![account_id, name, reason, next, attempts, error],
            )?;
            if changed == 0 {
                return Err(Error::not_found("the account was removed meanwhile").into());
            }
            if name == "signed_out" {
                tx.execute(
                    "UPDATE sessions SET obtained_at = NULL, expires_at = NULL, refresh_expires_at = NULL,
                     user_id = NULL, display_name = NULL, extra = '{}' WHERE account_id = ?1",
                    [account_id],
                )?;
            }
            Ok(tx.query_row("SELECT generation FROM sessions WHERE account_id = ?1", [account_id], |r| r.get(0))?)
        })
    }

    /// Records a transient failure: state retrying, attempts + 1. Returns the attempt count.
    pub fn record_retry(
        &self,
        account_id: &str,
        next_attempt: DateTime<Utc>,
        last_error: &Said,
    ) -> Result<u32> {
        let last_error = said_json(last_error);
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE sessions SET state = 'retrying', state_reason = NULL, next_attempt = ?2,
                 attempts = attempts + 1, last_error = ?3 WHERE account_id = ?1",
                params![account_id, ts(next_attempt), last_error],
            )?;
            if changed == 0 {
                return Err(Error::not_found("the account was removed meanwhile").into());
            }
            Ok(tx.query_row(
                "SELECT attempts FROM sessions WHERE account_id = ?1",
                [account_id],
                |r| r.get(0),
            )?)
        })
    }

    // ----- keep-alive schedule -----

    /// Every account's schedule, by account id.
    pub fn schedules(&self) -> Result<std::collections::HashMap<String, Schedule>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT account_id, next_check_at, check_kind, planned_generation, warned_for,
                 refresh_stalled_for, relogin_blocked_for FROM sessions",
            )?;
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, schedule_row(r)?)))?
                .collect()
        })
    }

    /// One account's schedule; `None` if the account does not exist.
    pub fn schedule(&self, account_id: &str) -> Result<Option<Schedule>> {
        self.read(|c| {
            c.query_row(
                "SELECT account_id, next_check_at, check_kind, planned_generation, warned_for,
                 refresh_stalled_for, relogin_blocked_for FROM sessions WHERE account_id = ?1",
                [account_id],
                schedule_row,
            )
            .optional()
        })
    }

    /// Stores an account's schedule (the session's generation is left alone). A removed
    /// account is ignored.
    pub fn set_schedule(&self, account_id: &str, schedule: &Schedule) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sessions SET next_check_at = ?2, check_kind = ?3, planned_generation = ?4,
                 warned_for = ?5, refresh_stalled_for = ?6, relogin_blocked_for = ?7
                 WHERE account_id = ?1",
                params![
                    account_id,
                    schedule.next_check_at.map(ts),
                    schedule.kind,
                    schedule.generation,
                    schedule.warned_for.map(ts),
                    schedule.refresh_stalled_for.map(ts),
                    schedule.relogin_blocked_for.map(ts),
                ],
            )?;
            Ok(())
        })
    }

    /// Makes every plan stale (the engine plans again), e.g. after the warning window changed.
    pub fn clear_plans(&self) -> Result<()> {
        self.write(|tx| {
            tx.execute("UPDATE sessions SET planned_generation = NULL", [])?;
            Ok(())
        })
    }

    // ----- events -----

    pub fn add_event(
        &self,
        account: Option<(&str, &str)>,
        at: DateTime<Utc>,
        kind: &str,
        outcome: &str,
        message: &str,
    ) -> Result<EventRecord> {
        self.add_said_event(account, at, kind, outcome, message, None)
    }

    /// An event row that also says what happened as a code and parameters.
    pub fn add_said_event(
        &self,
        account: Option<(&str, &str)>,
        at: DateTime<Utc>,
        kind: &str,
        outcome: &str,
        message: &str,
        said: Option<&Said>,
    ) -> Result<EventRecord> {
        let (account_id, account_name) = account.unzip();
        let said_json = said.map(|s| serde_json::to_string(s).unwrap_or_default());
        self.write(|tx| {
            tx.execute(
                "INSERT INTO events (account_id, account_name, at, kind, outcome, message, said)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    account_id,
                    account_name,
                    ts(at),
                    kind,
                    outcome,
                    message,
                    said_json
                ],
            )?;
            let id = tx.last_insert_rowid();
            if id % 100 == 0 {
                tx.execute("DELETE FROM events WHERE id <= ?1", [id - MAX_EVENTS])?;
            }
            Ok(EventRecord {
                id,
                account_id: account_id.map(str::to_owned),
                account_name: account_name.map(str::to_owned),
                at,
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
                message: message.to_owned(),
                said: said.cloned(),
            })
        })
    }

    /// Deletes every event of one account (an account taken back as if never added). Returns
    /// how many went.
    pub fn delete_events_of(&self, account_id: &str) -> Result<usize> {
        self.write(|tx| Ok(tx.execute("DELETE FROM events WHERE account_id = ?1", [account_id])?))
    }

    /// The newest `limit` events, newest first; of one account when `account_id` is given.
    pub fn events(&self, account_id: Option<&str>, limit: usize) -> Result<Vec<EventRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT e.id, e.account_id, COALESCE(a.name, e.account_name), e.at, e.kind, e.outcome, e.message, e.said
                 FROM events e LEFT JOIN accounts a ON a.id = e.account_id
                 WHERE ?1 IS NULL OR e.account_id = ?1 ORDER BY e.id DESC LIMIT ?2",
            )?;
            stmt.query_map(params![account_id, limit], |r| {
                Ok(EventRecord {
                    id: r.get(0)?,
                    account_id: r.get(1)?,
                    account_name: r.get(2)?,
                    at: parse_ts(&r.get::<_, String>(3)?)?,
                    kind: r.get(4)?,
                    outcome: r.get(5)?,
                    message: r.get(6)?,
                    // A row this build cannot read says only its message.
                    said: r
                        .get::<_, Option<String>>(7)?
                        .and_then(|json| serde_json::from_str(&json).ok()),
                })
            })?
            .collect()
        })
    }

    // ----- settings -----

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    pub fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        self.write(|tx| {
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [key, v],
                )?,
                None => tx.execute("DELETE FROM settings WHERE key = ?1", [key])?,
            };
            Ok(())
        })
    }

    /// Whether `account` (an edited copy of a stored one) would break a uniqueness rule (name;
    /// service, endpoint and user), with the same clear errors an update gives. Lets a caller
    /// check before it does what cannot be undone.
    pub fn check_unique(&self, account: &Account) -> Result<()> {
        self.write(|tx| check_unique(tx, account, Some(&account.id)))
    }

    // ----- secret keys (names only) -----

    /// Records that `key` of the secret store belongs to the account (before it is written).
    pub fn note_secret_key(&self, account_id: &str, key: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO secret_keys (account_id, key) VALUES (?1, ?2)",
                [account_id, key],
            )?;
            Ok(())
        })
    }

    /// Every secret-store key recorded for the account.
    pub fn secret_keys(&self, account_id: &str) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT key FROM secret_keys WHERE account_id = ?1 ORDER BY key")?;
            let rows = stmt.query_map([account_id], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Forgets recorded keys (after they were deleted from the secret store).
    pub fn forget_secret_keys(&self, account_id: &str, keys: &[String]) -> Result<()> {
        self.write(|tx| {
            for key in keys {
                tx.execute(
                    "DELETE FROM secret_keys WHERE account_id = ?1 AND key = ?2",
                    [account_id, key.as_str()],
                )?;
            }
            Ok(())
        })
    }

    // ----- leases (single flight across processes) -----

    /// Takes the account's lease for `ttl` unless another holder has a live one. A holder may
    /// take its own lease again (that extends it). A lease whose holder process is certainly
    /// gone (killed mid-renewal; Linux only, see `holder_is_dead`) is taken over at once instead
    /// of waiting out its expiry. Returns whether the lease is now `holder`'s.
    pub fn try_acquire_lease(&self, account_id: &str, holder: &str, ttl: Duration) -> Result<bool> {
        self.write(|tx| {
            let now = Utc::now();
            let current: Option<(String, String)> = tx
                .query_row("SELECT holder, expires_at FROM leases WHERE account_id = ?1", [account_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((other, until)) = current
                && other != holder
                && parse_ts(&until)? > now
                && !holder_is_dead(&other)
            {
                return Ok(false);
            }
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?1)", [account_id], |r| r.get(0))?;
            if !exists {
                return Err(Error::not_found("the account was removed meanwhile").into());
            }
            let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
            tx.execute(
                "INSERT INTO leases (account_id, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
                params![account_id, holder, ts(until)],
            )?;
            Ok(true)
        })
    }

    /// Waits (blocking, polling) up to `wait` for the lease. Async callers poll
    /// [`Store::try_acquire_lease`] themselves instead of blocking a thread.
    pub fn acquire_lease(
        &self,
        account_id: &str,
        holder: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<bool> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if self.try_acquire_lease(account_id, holder, ttl)? {
                return Ok(true);
            }
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(LEASE_POLL);
        }
    }

    /// Gives the lease back if `holder` still has it.
    pub fn release_lease(&self, account_id: &str, holder: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM leases WHERE account_id = ?1 AND holder = ?2",
                [account_id, holder],
            )?;
            Ok(())
        })
    }
}

/// How often a lease waiter looks again.
pub const LEASE_POLL: Duration = Duration::from_millis(100);

fn backoff(attempt: u32) -> Duration {
    let jitter = rand::random::<u64>() % 50;
    Duration::from_millis(50 * u64::from(attempt) + jitter)
}

fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> Result<T> {
    let mut attempt = 0;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if is_busy(&e) && attempt < BUSY_RETRIES => {
                attempt += 1;
                std::thread::sleep(backoff(attempt));
            }
            Err(e) => return Err(sql_error(e)),
        }
    }
}

/// Brings the schema up to the last of `steps`, one transaction per migration. Safe with
/// several processes opening an old file at once: each step re-reads the version under the
/// write lock and skips what another process already did.
fn migrate(conn: &mut Connection, steps: &[migrations::Migration]) -> Result<()> {
    let target = steps.last().map_or(0, |m| m.version);
    let current: u32 = retry_busy(|| conn.pragma_query_value(None, "user_version", |r| r.get(0)))?;
    if current > migrations::LATEST {
        return Err(Error::storage(format!(
            "the database was written by a newer Lanyard (schema version {current}; this one knows up to \
             {}); update Lanyard",
            migrations::LATEST
        )));
    }
    if current >= target {
        return Ok(());
    }
    for step in steps {
        let mut attempt = 0;
        loop {
            let outcome = (|| -> rusqlite::Result<()> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let version: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
                if version < step.version {
                    tx.execute_batch(step.sql)?;
                    tx.pragma_update(None, "user_version", step.version)?;
                }
                tx.commit()
            })();
            match outcome {
                Ok(()) => break,
                Err(e) if is_busy(&e) && attempt < BUSY_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(backoff(attempt));
                }
                Err(e) => {
                    return Err(Error::storage(format!(
                        "cannot upgrade the database to schema version {} ({}): {e}",
                        step.version, step.description
                    )));
                }
            }
        }
    }
    Ok(())
}

fn reason_str(reason: &NeedsLoginReason) -> String {
    match serde_json::to_value(reason) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "expired".to_owned(),
    }
}

fn parse_reason(text: Option<&str>) -> NeedsLoginReason {
    text.and_then(|t| serde_json::from_value(serde_json::Value::String(t.to_owned())).ok())
        .unwrap_or(NeedsLoginReason::Expired)
}

fn schedule_row(r: &Row<'_>) -> rusqlite::Result<Schedule> {
    Ok(Schedule {
        next_check_at: opt_ts(r.get(1)?)?,
        kind: r.get(2)?,
        generation: r.get(3)?,
        warned_for: opt_ts(r.get(4)?)?,
        refresh_stalled_for: opt_ts(r.get(5)?)?,
        relogin_blocked_for: opt_ts(r.get(6)?)?,
    })
}

/// A new lease holder id for this process: `"<pid>:<start>:<nonce>"`, where `start` is when
/// the process started (Linux: clock ticks since boot, `/proc/self/stat` field 22), so a pid
/// that was reused by another process is not mistaken for the holder.
pub fn new_lease_holder() -> String {
    static START: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let start = START.get_or_init(|| {
        process_start(std::process::id()).map_or_else(|| "0".to_owned(), |t| t.to_string())
    });
    format!(
        "{}:{start}:{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// When process `pid` started (clock ticks since boot), if it runs; `None` elsewhere than Linux.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name in parentheses: state is field 3, starttime field 22.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a lease holder (see [`new_lease_holder`]; older ones are `"<pid>:<nonce>"`) is
/// certainly gone: a process of this machine that no longer runs, is a zombie, or whose pid now
/// belongs to a process started at another time. Only Linux can tell cheaply (`/proc`);
/// elsewhere, and for holders of another shape, the lease runs to its expiry.
pub(crate) fn holder_is_dead(holder: &str) -> bool {
    let parts: Vec<&str> = holder.split(':').collect();
    let (pid, start) = match parts.as_slice() {
        [pid, _nonce] => (pid.parse::<u32>().ok(), None),
        [pid, start, _nonce] => (pid.parse::<u32>().ok(), start.parse::<u64>().ok()),
        _ => (None, None),
    };
    let Some(pid) = pid else { return false };
    if pid == std::process::id() || !cfg!(target_os = "linux") {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let mut fields = rest.split_whitespace();
            let zombie = fields
                .next()
                .is_some_and(|state| matches!(state, "Z" | "X" | "x"));
            let reused = match (start, fields.nth(18).and_then(|t| t.parse::<u64>().ok())) {
                // A recorded start of 0 means "unknown" (a platform without /proc).
                (Some(recorded), Some(now)) => recorded != 0 && recorded != now,
                _ => false,
            };
            zombie || reused
        }
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

fn account_row(r: &Row<'_>, services: &Registry) -> rusqlite::Result<AccountRow> {
    let service: String = r.get(2)?;
    let service = services.resolve(&service).map_err(|e: Error| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
    })?;
    let account = Account {
        id: r.get(0)?,
        name: r.get(1)?,
        service,
        user: r.get(3)?,
        endpoint: r.get(4)?,
        options: from_json(&r.get::<_, String>(5)?)?,
        remember_password: r.get(6)?,
        active: r.get(7)?,
        created_at: parse_ts(&r.get::<_, String>(8)?)?,
    };
    let obtained_at = opt_ts(r.get(9)?)?;
    let expires_at = opt_ts(r.get(10)?)?;
    let refresh_expires_at = opt_ts(r.get(11)?)?;
    let info = SessionInfo {
        obtained_at,
        expires_at,
        refresh_expires_at,
        user_id: r.get(12)?,
        display_name: r.get(13)?,
        extra: from_json(
            &r.get::<_, Option<String>>(14)?
                .unwrap_or_else(|| "{}".to_owned()),
        )?,
    };
    let state_name: Option<String> = r.get(15)?;
    let state = match state_name.as_deref() {
        Some("valid") => StoredState::Valid,
        Some("needs_login") => {
            StoredState::NeedsLogin(parse_reason(r.get::<_, Option<String>>(16)?.as_deref()))
        }
        Some("retrying") => StoredState::Retrying {
            next_attempt: opt_ts(r.get(17)?)?.unwrap_or_else(Utc::now),
            attempts: r.get::<_, Option<u32>>(18)?.unwrap_or(0),
            last_error: said_from_json(r.get::<_, Option<String>>(19)?.as_deref().unwrap_or("")),
        },
        _ => StoredState::SignedOut,
    };
    let session = SessionRow {
        // A session exists from its first save (which always sets obtained_at) until logout.
        info: obtained_at.map(|_| info),
        state,
        last_refresh_at: opt_ts(r.get(20)?)?,
        generation: r.get::<_, Option<i64>>(21)?.unwrap_or(0),
        lease_until: opt_ts(r.get(22)?)?.filter(|until| *until > Utc::now()),
    };
    Ok(AccountRow {
        account,
        session,
        default_for_service: r.get(23)?,
    })
}

fn account_in_tx(tx: &Transaction<'_>, name: &str, services: &Registry) -> TxResult<Account> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} {ACCOUNT_FROM} WHERE a.name = ?1");
    tx.query_row(&sql, [name], |r| account_row(r, services))
        .optional()?
        .map(|row| row.account)
        .ok_or_else(|| Error::not_found(format!("no account named '{name}'")).into())
}

/// The id and name of the active account of a (service, endpoint), if any.
fn active_of(
    tx: &Transaction<'_>,
    service: ServiceId,
    endpoint: &str,
) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT id FROM accounts WHERE service = ?1 AND endpoint = ?2 AND active = 1",
        params![service.as_str(), endpoint],
        |r| r.get(0),
    )
    .optional()
}

fn promote_oldest(
    tx: &Transaction<'_>,
    service: ServiceId,
    endpoint: &str,
) -> rusqlite::Result<()> {
    if active_of(tx, service, endpoint)?.is_none() {
        tx.execute(
            "UPDATE accounts SET active = 1 WHERE id = (SELECT id FROM accounts WHERE service = ?1 AND endpoint = ?2
             ORDER BY created_at, rowid LIMIT 1)",
            params![service.as_str(), endpoint],
        )?;
    }
    Ok(())
}

/// Clear errors for the two uniqueness rules, before SQLite's constraint would fire.
fn check_unique(tx: &Transaction<'_>, account: &Account, except_id: Option<&str>) -> TxResult<()> {
    let except = except_id.unwrap_or("");
    let same_name: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE name = ?1 AND id != ?2)",
        params![account.name, except],
        |r| r.get(0),
    )?;
    if same_name {
        return Err(Error::new(
            ErrorCode::AlreadyExists,
            format!("an account named '{}' exists already", account.name),
        )
        .into());
    }
    let same_login: Option<String> = tx
        .query_row(
            "SELECT name FROM accounts WHERE service = ?1 AND endpoint = ?2 AND user = ?3 AND id != ?4",
            params![account.service.as_str(), account.endpoint, account.user, except],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(other) = same_login {
        return Err(Error::new(
            ErrorCode::AlreadyExists,
            format!(
                "account '{other}' is already {} user '{}' at {}",
                account.service, account.user, account.endpoint
            ),
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
