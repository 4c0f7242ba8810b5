//! Sessions: saving (secrets before metadata, with retries and a pending copy when the store
//! fails), loading, the token handed out, and logout.

use super::*;

/// A session the secret store did not take is written this many times in a row (then again at
/// the next renewal attempt), waiting `SAVE_BACKOFF`, then 4× that, between tries.
const SAVE_ATTEMPTS: u32 = 3;
const SAVE_BACKOFF: Duration = Duration::from_millis(200);

/// What a logout or a removal did to the session on the server. Its `code` is the outcome
/// recorded in the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
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

impl Manager {
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
    pub(super) async fn write_unsaved(&self, account_id: &str) -> Result<()> {
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
    pub(super) async fn save_unsaved(&self, account: &Account) -> Result<Option<Renewal>> {
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
        self.log_said(
            Some(account),
            &kind,
            "ok",
            crate::store::Said::new("stored_late"),
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

    pub(super) async fn save_info(
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

    pub(super) async fn load_session(&self, row: &AccountRow) -> Result<Option<Session>> {
        let Some(stored) = row.session.info.clone() else {
            return Ok(None);
        };
        // A renewed session not stored yet comes with its own facts.
        let info = lock(&self.unsaved)
            .get(&row.account.id)
            .map_or(stored, |u| u.info.clone());
        let Some(tokens) = self.load_tokens(row).await? else {
            return Ok(None);
        };
        Ok(Some(Session { tokens, info }))
    }

    async fn load_tokens(&self, row: &AccountRow) -> Result<Option<SessionTokens>> {
        let account = &row.account;
        // A renewed session not stored yet is the current one (the old may be retired).
        let unsaved = lock(&self.unsaved)
            .get(&account.id)
            .map(|u| u.tokens.clone());
        let json = match unsaved {
            Some(json) => json,
            None => {
                // Cached under the generation just read with the facts: any later change of the
                // session bumps it, so an older token is never taken for the current one.
                let lifetime = row
                    .session
                    .info
                    .as_ref()
                    .and_then(|i| i.expires_at)
                    .map_or(crate::secrets::session_cache::MAX_TTL, |t| {
                        (t - self.now()).to_std().unwrap_or_default()
                    });
                let key = key_session(&account.id);
                match self
                    .secrets
                    .get_stamped(&key, row.session.generation, lifetime)
                    .await?
                {
                    Some(json) => json,
                    None => return Ok(None),
                }
            }
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
                    StoredState::Retrying { last_error, .. } => {
                        format!(": {}", last_error.error_line())
                    }
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
    pub(super) async fn end_on_server(&self, row: &AccountRow) -> Result<(LogoutOutcome, String)> {
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
        let ctx = self.ctx(account, &secret_options);
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
}

pub(super) fn tokens_json(tokens: &SessionTokens) -> Result<SecretString> {
    serde_json::to_string(tokens)
        .map(SecretString::new)
        .map_err(|_| Error::internal("cannot serialize a session"))
}

pub(super) fn merge_info(into: &mut SessionInfo, fresh: SessionInfo) {
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
