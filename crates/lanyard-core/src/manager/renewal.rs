//! Renewal: single flight per account (an in-process mutex plus a lease in the database for
//! other processes), refresh, re-login with the remembered password, and when a renewal is due.

use super::login::said_challenge;
use super::renewal_decision::{Call, Decision, Facts as DecisionFacts, Heard, Next};
use super::*;
use crate::error::{Said, wire_name};

/// What "refresh now" did, for the person who asked (the UI and the CLI name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
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

impl Manager {
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

    /// One renewal at a time per account: in this process (mutex) and across processes (lease).
    /// A waiter whose account was renewed meanwhile (the generation moved: another thread or
    /// another process renewed it while this one waited for the lock or the lease) takes that
    /// result: it re-reads the stored session instead of renewing again.
    pub(super) async fn flight(&self, seen: &AccountRow, force: bool, due: Due) -> Result<Renewal> {
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
    /// and why the renewal runs: [`Decision`] says which step comes next; this asks the
    /// service, stores, logs and emits.
    async fn renew(
        &self,
        row: &AccountRow,
        intent: Intent,
        window: Option<i64>,
    ) -> Result<Renewal> {
        let account = &row.account;
        let service = self.service(account.service);
        let now = self.now();
        let info = row.session.info.clone().unwrap_or_default();
        let session = self.load_session(row).await?;
        let password = if account.remember_password {
            self.secrets.get(&key_password(&account.id)).await?
        } else {
            None
        };
        let secret_options = self.secret_options(account).await?;
        let ctx = Ctx {
            now,
            ..self.ctx(account, &secret_options)
        };
        let mut decision = Decision::new(DecisionFacts::new(
            &info,
            window,
            now,
            service.spec().capabilities,
            intent,
            session.is_some(),
            password.is_some(),
        ));

        let mut next = decision.start();
        // The error of the last call, for `Retry` and `Fail`.
        let mut failure: Option<(&'static str, Error)> = None;
        loop {
            let call = match next {
                Next::Ask(call) => call,
                Next::Finish(renewal) => return Ok(renewal),
                Next::Retry => {
                    let (kind, e) =
                        failure.ok_or_else(|| Error::internal("no failure to retry"))?;
                    return Err(self.transient(account, kind, e).await);
                }
                Next::Fail => {
                    let (_, e) = failure.ok_or_else(|| Error::internal("no failure to return"))?;
                    return Err(e);
                }
                Next::NeedsLogin(reason) => return Err(self.needs_login(account, reason).await),
            };
            next = match call {
                Call::Refresh => {
                    let Some(session) = &session else {
                        return Err(Error::internal("a refresh without a session"));
                    };
                    match service.refresh(&ctx, session).await {
                        Ok(outcome) => {
                            let later = match (outcome.session.info.expires_at, info.expires_at) {
                                (Some(new), Some(old)) => new > old,
                                _ => true,
                            };
                            let next = decision.next(call, Heard::Refreshed { later });
                            if next == Next::Finish(Renewal::Renewed) {
                                self.finish_login(account, outcome, None, "refresh").await?;
                            } else {
                                self.log_said(
                                    Some(account),
                                    "refresh",
                                    "ok",
                                    Said::new("refresh_no_later_expiry"),
                                    "the server accepted the session but gave no later expiry; logging in again"
                                        .to_owned(),
                                )
                                .await;
                            }
                            next
                        }
                        Err(e) => {
                            let next = decision.next(call, Heard::Failed(e.code));
                            if !matches!(next, Next::Retry) && e.code != ErrorCode::Unsupported {
                                self.log_error(account, "refresh", &e).await;
                            }
                            failure = Some(("refresh", e));
                            next
                        }
                    }
                }
                Call::Validate => {
                    let Some(session) = &session else {
                        return Err(Error::internal("a validation without a session"));
                    };
                    match service.validate(&ctx, session).await {
                        Ok(Validation::Valid(fresh)) => {
                            let mut info = info.clone();
                            if let Some(fresh) = fresh {
                                merge_info(&mut info, fresh);
                            }
                            self.save_info(&account.id, info, Some(now)).await?;
                            self.log_said(
                                Some(account),
                                "validate",
                                "ok",
                                Said::new("session_accepted"),
                                "the server accepts the session".to_owned(),
                            )
                            .await;
                            self.emit(Event::AccountChanged {
                                account: account.name.clone(),
                            });
                            decision.next(call, Heard::Valid)
                        }
                        Ok(Validation::Invalid(reason)) => {
                            self.log_said(
                                Some(account),
                                "validate",
                                "failed",
                                Said::new("needs_login").with("reason", wire_name(&reason)),
                                reason.describe().to_owned(),
                            )
                            .await;
                            decision.next(call, Heard::Invalid(reason))
                        }
                        Ok(Validation::Unverifiable(why)) => {
                            let until = info.expires_at.map_or_else(
                                || "the session is kept".to_owned(),
                                |t| format!("the session is kept until it expires at {}", when(t)),
                            );
                            self.log_said(
                                Some(account),
                                "validate",
                                "unverifiable",
                                with_until(
                                    Said::new("unverifiable").with("why", why.clone()),
                                    info.expires_at,
                                ),
                                format!("could not check the session: {why}; {until}"),
                            )
                            .await;
                            decision.next(call, Heard::Unverifiable)
                        }
                        Err(e) => {
                            let next = decision.next(call, Heard::Failed(e.code));
                            if !e.code.is_transient() && e.code != ErrorCode::Unsupported {
                                self.log_error(account, "validate", &e).await;
                            }
                            failure = Some(("validate", e));
                            next
                        }
                    }
                }
                Call::Relogin => {
                    let Some(password) = &password else {
                        return Err(Error::internal("a re-login without a password"));
                    };
                    match service.begin_login(&ctx, Some(password)).await {
                        Ok(Progress::Done(outcome)) => {
                            self.finish_login(account, *outcome, Some(password), "relogin")
                                .await?;
                            decision.next(call, Heard::LoggedIn)
                        }
                        Ok(Progress::Challenge { challenge, .. }) => {
                            let next = decision.next(call, Heard::Challenge);
                            if next == Next::Finish(Renewal::Unattended) {
                                let until = info.expires_at.map_or_else(
                                    || "it stays usable".to_owned(),
                                    |t| format!("the session stays usable until {}", when(t)),
                                );
                                self.log_said(
                                    Some(account),
                                    "relogin",
                                    "challenge",
                                    with_until(said_challenge(&challenge), info.expires_at),
                                    format!("{}; {until}", describe_challenge(&challenge)),
                                )
                                .await;
                            } else {
                                self.log_said(
                                    Some(account),
                                    "relogin",
                                    "failed",
                                    said_challenge(&challenge),
                                    describe_challenge(&challenge),
                                )
                                .await;
                            }
                            next
                        }
                        Err(e) => {
                            let next = decision.next(call, Heard::Failed(e.code));
                            if !e.code.is_transient() {
                                self.log_error(account, "relogin", &e).await;
                            }
                            failure = Some(("relogin", e));
                            next
                        }
                    }
                }
            };
        }
    }

    /// A person must log in: the state says why, the log and the window are told.
    async fn needs_login(&self, account: &Account, reason: NeedsLoginReason) -> Error {
        let id = account.id.clone();
        let stored = StoredState::NeedsLogin(reason.clone());
        if let Err(e) = self.db(move |s| s.set_state(&id, &stored)).await {
            return e;
        }
        self.log_said(
            Some(account),
            "keepalive",
            "needs_login",
            Said::new("needs_login").with("reason", wire_name(&reason)),
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
            reason: Some(reason.clone()),
        });
        Error::needs_login(format!(
            "'{}' needs a new login: {}",
            account.name,
            reason.describe()
        ))
    }

    /// Records a transient failure (state retrying, next attempt backed off) and returns it.
    pub(super) async fn transient(&self, account: &Account, kind: &str, e: Error) -> Error {
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
        let last_error = Said::error("error", &e);
        if let Err(db) = self
            .db(move |s| s.record_retry(&id, next, &last_error))
            .await
        {
            tracing::warn!(error = %db.message, "cannot record a retry");
        }
        self.log_said(
            Some(account),
            kind,
            "retrying",
            Said::error("retrying", &e).with("next", iso(next)),
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
            reason: None,
        });
        e
    }

    /// The account's lock and then its lease: what every write of a session, a password or a
    /// secret option holds, so none of them can interleave with an edit or a removal.
    pub(super) async fn guard(
        &self,
        account: &Account,
    ) -> Result<(tokio::sync::OwnedMutexGuard<()>, Lease)> {
        let guard = self.account_lock(&account.id).lock_owned().await;
        let lease = self.lease(account).await?;
        Ok((guard, lease))
    }

    /// Under the guard: the account as stored now, if it is still the one `seen` was (same id,
    /// user and endpoint). A login or renewal that finishes after a removal or such an edit
    /// saves nothing.
    pub(super) async fn still_current(&self, seen: &Account) -> Result<AccountRow> {
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

    pub(super) fn account_lock(&self, account_id: &str) -> Arc<tokio::sync::Mutex<()>> {
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
    pub(super) async fn lease(&self, account: &Account) -> Result<Lease> {
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
}

/// Releases the lease on drop too (a cancelled call), so only a crash leaves one to expire.
pub(super) struct Lease {
    store: Option<Arc<Store>>,
    account_id: String,
    holder: String,
    /// Extends the lease while it is held.
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl Lease {
    pub(super) async fn release(mut self) {
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
pub(super) enum Due {
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

/// Back-off after a transient failure: the keep-alive policy's (exponential, capped, jittered,
/// so many accounts do not retry in step).
fn retry_delay(attempts: u32) -> chrono::Duration {
    Policy::default().backoff(attempts, rand::random())
}

/// An instant as said in an event: RFC 3339, UTC, seconds.
fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Adds until when the session stays usable, if it has an expiry.
fn with_until(said: Said, expires_at: Option<DateTime<Utc>>) -> Said {
    match expires_at {
        Some(at) => said.with("until", iso(at)),
        None => said,
    }
}
