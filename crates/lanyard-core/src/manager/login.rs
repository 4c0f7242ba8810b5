//! Login flows: begin, answer a challenge, reload a captcha, cancel; a flow waits in memory for
//! its answer and is forgotten when abandoned. A finished login saves its session and options.

use super::*;
use crate::store::Said;

/// How often the sweeper looks for abandoned logins (real time).
pub(super) const FLOW_SWEEP_EVERY: Duration = Duration::from_secs(2);

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

/// Why a renewal runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Intent {
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
pub(super) struct Flow {
    account_id: String,
    pending: Pending,
    /// Kept to remember it once the login is done (only when the account remembers passwords).
    password: Option<SecretString>,
    reloadable: bool,
    /// By the manager's clock (tests jump it).
    started: DateTime<Utc>,
}

pub(super) type Flows = Arc<Mutex<HashMap<FlowId, Flow>>>;

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

impl Manager {
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
        let ctx = self.ctx(&account, &secret_options);
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
        let ctx = self.ctx(&account, &secret_options);
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
            self.log_said(
                Some(&account),
                "login",
                "failed",
                Said::error("error_retryable", &e),
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

    pub(super) fn drop_flows_of(&self, account_id: &str) {
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

    pub(super) fn awaiting(&self, account_id: &str) -> bool {
        lock(&self.flows)
            .values()
            .any(|f| f.account_id == account_id && self.now() - f.started < ABANDONED_LOGIN_AFTER)
    }

    /// The accounts shown as awaiting a challenge now (see [`Self::awaiting`]).
    pub(super) fn awaiting_accounts(&self) -> Vec<String> {
        let now = self.now();
        lock(&self.flows)
            .values()
            .filter(|f| now - f.started < ABANDONED_LOGIN_AFTER)
            .map(|f| f.account_id.clone())
            .collect()
    }

    pub(super) async fn login_progress(
        &self,
        account: &Account,
        flow: Option<FlowId>,
        result: Result<Progress>,
        password: Option<SecretString>,
        reload: bool,
    ) -> Result<LoginStep> {
        // Every captcha of every service passes here on its way out.
        let result = result.and_then(services::support::refuse_unsafe_captcha);
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
                    self.log_said(
                        Some(account),
                        "login",
                        "challenge",
                        said_challenge(&challenge),
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
                self.log_said(
                    Some(account),
                    "login",
                    "failed",
                    Said::error("error", &e),
                    e.display_line(),
                )
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
    pub(super) async fn finish_login(
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
        let mut said = Said::new(if kind == "login" {
            "logged_in"
        } else {
            "renewed"
        })
        .with("who", who.clone());
        if let Some(expires) = info.expires_at {
            said = said.with("until", expires.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        self.log_said(
            Some(account),
            kind,
            "ok",
            said,
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

    pub(super) async fn remember_options(
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
            self.log_said(
                Some(account),
                "edit",
                "ok",
                Said::new("remembered_options").with("keys", keys.clone()),
                format!("remembered {keys} from the server"),
            )
            .await;
        }
        result.map(|_| ())
    }
}

/// What a challenge asks for, said as a code: `challenge` with `kind` (`captcha`, or the code's
/// channel: `totp`, `sms`, `email`) and where the code went, if the server said.
pub(crate) fn said_challenge(challenge: &Challenge) -> Said {
    match challenge {
        Challenge::Captcha { .. } => Said::new("challenge").with("kind", "captcha"),
        Challenge::Code {
            channel,
            destination,
        } => {
            let kind = match channel {
                services::CodeChannel::Totp => "totp",
                services::CodeChannel::Sms => "sms",
                services::CodeChannel::Email => "email",
            };
            let said = Said::new("challenge").with("kind", kind);
            match destination {
                Some(d) => said.with("destination", d.clone()),
                None => said,
            }
        }
    }
}

pub(super) fn describe_challenge(challenge: &Challenge) -> String {
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
