//! What the engine needs from whoever owns the accounts (the Manager), as one small trait, so
//! that the engine depends on it and not the other way round: the Manager implements
//! [`KeepAliveHost`] (`manager/keepalive.rs`); nothing in `keepalive` names the Manager.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;

use super::policy::{CheckKind, Facts};
use crate::error::Result;
use crate::model::{Account, Capabilities, State};
use crate::store::{AccountRow, Schedule};

/// What a renewal did (the keep-alive engine plans the next check from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
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

/// One account as the engine sees it: the stored account, session and schedule, plus what the
/// host knows about it that the stored rows do not say.
#[derive(Debug, Clone)]
pub struct Watched {
    pub row: AccountRow,
    pub schedule: Schedule,
    /// The state as shown now.
    pub state: State,
    /// How long before expiry the session shows as `expiring`.
    pub warning_window: TimeDelta,
    /// The service's capabilities (as the host resolves the service).
    pub caps: Capabilities,
    /// See [`crate::services::Service::revalidates_despite_expiry`].
    pub revalidates_despite_expiry: bool,
    /// The account's change number when it was read ([`KeepAliveHost::changes_since`]).
    pub seq: i64,
}

/// What changed since the engine's last look.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Accounts changed (or removed) since, with their change numbers.
    pub accounts: Vec<(String, i64)>,
    /// Every account's shown state may have moved (the warning window changed): read all.
    pub every_account: bool,
    /// The highest change number now; the next look asks for what is newer.
    pub seq: i64,
}

impl Watched {
    /// The facts the policy plans from.
    pub fn facts(&self) -> Facts<'_> {
        Facts {
            revalidates_despite_expiry: self.revalidates_despite_expiry,
            caps: self.caps,
            remember_password: self.row.account.remember_password,
            state: &self.row.session.state,
            info: self.row.session.info.as_ref(),
            last_refresh_at: self.row.session.last_refresh_at,
            warning_window: self.warning_window,
            warned_for: self.schedule.warned_for,
            refresh_stalled_for: self.schedule.refresh_stalled_for,
            relogin_blocked_for: self.schedule.relogin_blocked_for,
        }
    }
}

/// Everything the engine reads, asks and records, and nothing else.
#[async_trait]
pub trait KeepAliveHost: Send + Sync + 'static {
    /// Now, by the host's clock.
    fn now(&self) -> DateTime<Utc>;

    /// Notified when the engine should look at the accounts early (an account added, logged
    /// in, switched, a refresh asked for).
    fn wake_signal(&self) -> Arc<Notify>;

    /// Every account, in one read, and the highest change number at that read.
    async fn snapshot(&self) -> Result<(Vec<Watched>, i64)>;

    /// What changed after change number `since`, by this process or any other.
    async fn changes_since(&self, since: i64) -> Result<Changes>;

    /// These accounts, in one read; removed ones are left out.
    async fn watched_some(&self, account_ids: Vec<String>) -> Result<Vec<Watched>>;

    /// One account; `None` once removed.
    async fn watched(&self, account_id: &str) -> Result<Option<Watched>>;

    /// The accounts shown as awaiting a login challenge: a login in progress lives in the
    /// host's memory, not in the store, so the engine compares this list between rounds.
    fn awaiting_login(&self) -> Vec<String>;

    /// Runs a planned check through the host's single-flight path: if another thread or
    /// process renewed or checked the account since `seen` was read, nothing is sent.
    async fn check(&self, seen: &AccountRow, kind: CheckKind) -> Result<Renewal>;

    async fn set_schedule(&self, account_id: &str, schedule: Schedule) -> Result<()>;

    /// The shown state of an account moved (also by the clock alone).
    fn state_changed(&self, account: &Account, state: State);

    /// The session will end at `expires_at` and nothing can renew it unattended.
    async fn expiring_unattended(
        &self,
        account: &Account,
        expires_at: DateTime<Utc>,
        remaining: TimeDelta,
        message: String,
    );

    /// The session reached its expiry with nothing to renew it.
    async fn expired(&self, account: &Account, message: String);

    /// A check changed nothing and is put off until `next_attempt`.
    fn check_stalled(&self, account: &Account, message: String, next_attempt: DateTime<Utc>);
}
