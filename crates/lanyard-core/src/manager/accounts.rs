//! Accounts: the add form's draft, add (and its undo), edit, remove, list, look-up by name or
//! service, and the account chosen last.

use super::*;
use crate::store::Said;

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

/// The add form's proposals (see [`Manager::add_draft`]).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
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

impl Manager {
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
            Some(e) => match normalize_endpoint(self.service(service), e) {
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
        let name = (!user.is_empty())
            .then(|| free_name(spec, user, endpoint.as_deref(), &taken, &self.services));
        Ok(AddDraft {
            endpoint,
            endpoint_error,
            name,
            known_endpoints,
        })
    }

    pub async fn add_account(&self, new: NewAccount) -> Result<AccountView> {
        // Only a registered service's accounts can be read back from the database.
        self.service_id(new.service.as_str())?;
        let spec = self.service(new.service).spec();
        let user = check_user(&new.user)?;
        let endpoint = match new
            .endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            Some(e) => normalize_endpoint(self.service(new.service), e)?,
            None => match spec.default_endpoint {
                Some(default) => normalize_endpoint(self.service(new.service), default)?,
                None => {
                    return Err(Error::invalid_input(format!(
                        "{} needs an endpoint: {}",
                        spec.display_name, spec.endpoint_help
                    ))
                    .for_field("endpoint"));
                }
            },
        };
        let name = check_name(
            &new.name.unwrap_or_else(|| format!("{}/{user}", spec.id)),
            &self.services,
        )?;
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
        self.log_said(
            Some(&account),
            "add",
            "ok",
            Said::new("added")
                .with("service", spec.display_name)
                .with("user", account.user.clone()),
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
        let new_name = edit
            .name
            .as_deref()
            .map(|name| check_name(name, &self.services))
            .transpose()?;
        let new_user = edit.user.as_deref().map(check_user).transpose()?;
        let new_endpoint = match edit.endpoint.as_deref().map(str::trim) {
            Some("") => match spec.default_endpoint {
                Some(d) => Some(normalize_endpoint(self.service(current.service), d)?),
                None => {
                    return Err(Error::invalid_input(format!(
                        "{} needs an endpoint",
                        spec.display_name
                    ))
                    .for_field("endpoint"));
                }
            },
            Some(e) => Some(normalize_endpoint(self.service(current.service), e)?),
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
                    ))
                    .for_option(opt.key));
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
                        ))
                        .for_option(opt.key));
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
        // The window's words for the same list: field codes, and the options dropped.
        let fields = changed_fields(&before, &after, &secret_set, &secret_unset);
        let code = if fields.is_empty() && dropped_options.is_empty() {
            "nothing_changed"
        } else {
            "edited"
        };
        let mut said = Said::new(code).with("changed", fields.join(","));
        if !dropped_options.is_empty() {
            said = said.with("dropped", dropped_options.join(", "));
        }
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
        self.log_said(Some(&after), "edit", "ok", said, message)
            .await;
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
        let Ok(service) = self.service_id(name_or_service) else {
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
            self.log_said(
                Some(&account),
                "use",
                "ok",
                Said::new("in_use")
                    .with("service", account.service.spec().display_name)
                    .with("endpoint", account.endpoint.clone()),
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
}

/// A name for a new account that no other account has: `service/user`, else
/// `service/user@host` (the same user on another server), else `service/user-2`, `-3`, ….
pub(crate) fn free_name(
    spec: &ServiceSpec,
    user: &str,
    endpoint: Option<&str>,
    taken: &[String],
    services: &Registry,
) -> String {
    let base = format!("{}/{user}", spec.id);
    let free = |candidate: &str| {
        check_name(candidate, services).is_ok()
            && !taken.iter().any(|t| t.eq_ignore_ascii_case(candidate))
    };
    if free(&base) {
        return base;
    }
    if let Some(host) = endpoint
        .and_then(|e| {
            // A template's placeholder (CoolKit's `{region}`) stands for some host part.
            let e = match spec.id.service().endpoint_placeholder() {
                Some(placeholder) => e.replace(placeholder, "region"),
                None => e.to_owned(),
            };
            Url::parse(&e).ok()
        })
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

/// What an edit changed, as field codes (`name`, `user`, `endpoint`, `options`,
/// `remember_password`, and `signed_out` when a new user or server ended the session).
fn changed_fields(
    before: &Account,
    after: &Account,
    secret_set: &BTreeMap<String, SecretString>,
    secret_unset: &[String],
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if before.name != after.name {
        changed.push("name");
    }
    if before.user != after.user {
        changed.push("user");
    }
    if before.endpoint != after.endpoint {
        changed.push("endpoint");
    }
    if before.options != after.options || !secret_set.is_empty() || !secret_unset.is_empty() {
        changed.push("options");
    }
    if before.remember_password != after.remember_password {
        changed.push("remember_password");
    }
    if before.user != after.user || before.endpoint != after.endpoint {
        changed.push("signed_out");
    }
    changed
}
