//! What the keep-alive engine (`crate::keepalive`) reads and writes through the manager.

use super::*;

impl Manager {
    /// Asks the keep-alive engine (if one runs on this manager) to look at the accounts now.
    pub fn wake_keepalive(&self) {
        self.keepalive.notify_one();
    }

    pub(crate) fn keepalive_notify(&self) -> Arc<Notify> {
        self.keepalive.clone()
    }

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
}
