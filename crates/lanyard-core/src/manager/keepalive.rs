//! The Manager as the keep-alive engine's host ([`KeepAliveHost`]): what the engine reads,
//! asks and records. The engine knows only that trait; the Manager knows the engine's types.

use async_trait::async_trait;
use chrono::TimeDelta;

use super::*;
use crate::keepalive::{Changes, KeepAliveHost, Watched};
use crate::store::changes::WatchRow;

impl Manager {
    /// Asks the keep-alive engine (if one runs on this manager) to look at the accounts now.
    pub fn wake_keepalive(&self) {
        self.keepalive.notify_one();
    }

    /// An account as the engine sees it, its state and warning window computed for `now`.
    fn watched_of(
        &self,
        WatchRow { row, schedule, seq }: WatchRow,
        window_setting: Option<i64>,
        now: DateTime<Utc>,
    ) -> Watched {
        let service = self.service(row.account.service);
        let state = self.state_of(&row, window_setting, now);
        let warning_window = row.session.info.as_ref().map_or(TimeDelta::zero(), |info| {
            warning_window(info, window_setting)
        });
        Watched {
            caps: service.spec().capabilities,
            revalidates_despite_expiry: service.revalidates_despite_expiry(),
            state,
            warning_window,
            row,
            schedule,
            seq,
        }
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
}

#[async_trait]
impl KeepAliveHost for Manager {
    fn now(&self) -> DateTime<Utc> {
        Manager::now(self)
    }

    fn wake_signal(&self) -> Arc<Notify> {
        self.keepalive.clone()
    }

    /// Every account with its schedule and the state it shows now, in one read.
    async fn snapshot(&self) -> Result<(Vec<Watched>, i64)> {
        let ((rows, seq), window) = self
            .db(|s| Ok((s.watch_all()?, warning_setting(s))))
            .await?;
        let now = Manager::now(self);
        let watched = rows
            .into_iter()
            .map(|row| self.watched_of(row, window, now))
            .collect();
        Ok((watched, seq))
    }

    async fn changes_since(&self, since: i64) -> Result<Changes> {
        let list = self.db(move |s| s.changes_since(since)).await?;
        Ok(Changes {
            accounts: list.accounts,
            every_account: list.every_account,
            seq: list.seq,
        })
    }

    async fn watched_some(&self, account_ids: Vec<String>) -> Result<Vec<Watched>> {
        if account_ids.is_empty() {
            return Ok(Vec::new());
        }
        let (rows, window) = self
            .db(move |s| Ok((s.watch_some(&account_ids)?, warning_setting(s))))
            .await?;
        let now = Manager::now(self);
        Ok(rows
            .into_iter()
            .map(|row| self.watched_of(row, window, now))
            .collect())
    }

    async fn watched(&self, account_id: &str) -> Result<Option<Watched>> {
        Ok(self
            .watched_some(vec![account_id.to_owned()])
            .await?
            .into_iter()
            .next())
    }

    fn awaiting_login(&self) -> Vec<String> {
        self.awaiting_accounts()
    }

    async fn check(&self, seen: &AccountRow, kind: CheckKind) -> Result<Renewal> {
        self.keepalive_check(seen, kind).await
    }

    async fn set_schedule(&self, account_id: &str, schedule: Schedule) -> Result<()> {
        let id = account_id.to_owned();
        self.db(move |s| s.set_schedule(&id, &schedule)).await
    }

    fn state_changed(&self, account: &Account, state: State) {
        self.emit_event(Event::StateChanged {
            account: account.name.clone(),
            state,
        });
    }

    async fn expiring_unattended(
        &self,
        account: &Account,
        expires_at: DateTime<Utc>,
        remaining: TimeDelta,
        message: String,
    ) {
        let said = crate::store::Said::new("expiring_unattended").with(
            "until",
            expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        self.log_said(
            Some(account),
            "keepalive",
            "expiring_unattended",
            said,
            message.clone(),
        )
        .await;
        self.emit_event(Event::ExpiringUnattended {
            account: account.name.clone(),
            expires_at,
            remaining_secs: remaining.num_seconds().max(0),
            message,
        });
    }

    async fn expired(&self, account: &Account, message: String) {
        let said = crate::store::Said::new("expired");
        self.log_said(Some(account), "keepalive", "expired", said, message)
            .await;
    }

    fn check_stalled(&self, account: &Account, message: String, next_attempt: DateTime<Utc>) {
        self.emit_event(Event::RefreshFailed {
            account: account.name.clone(),
            permanent: false,
            message,
            next_attempt: Some(next_attempt),
            reason: None,
        });
    }
}
