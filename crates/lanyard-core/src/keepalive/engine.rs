//! The supervisor: one task that watches every account's deadline and runs the checks.
//!
//! Each round it reads every account with its stored schedule, plans the accounts whose session
//! changed since their plan was made (a login, a refresh by the CLI, a validation...), starts the
//! checks that are due (a few at a time; one per account), emits `StateChanged` for every account
//! whose shown state moved, and sleeps until the earliest deadline or state change, at most
//! `max_sleep`, or until the Manager wakes it (an account added, logged in, switched, a refresh
//! asked for) or a check finishes. Deadlines are wall-clock times in the store, so after a
//! suspend, a restart or a clock jump, the first round sees what is overdue and runs each such
//! account's check once (its plan is replaced by the next one, not replayed).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::host::{KeepAliveHost, Renewal, Watched};
use super::policy::{CheckKind, Plan, Policy};
use crate::error::{Error, ErrorCode};
use crate::model::State;
use crate::store::{AccountRow, Schedule, StoredState};

/// How the engine runs. `Default` is what the app uses.
#[derive(Debug, Clone)]
pub struct KeepAliveConfig {
    /// The longest sleep between two looks at the clock.
    pub max_sleep: Duration,
    /// Checks running at once (each on another account).
    pub max_parallel: usize,
    /// How long `shutdown` lets running checks finish before cancelling them.
    pub shutdown_grace: Duration,
    pub policy: Policy,
}

impl Default for KeepAliveConfig {
    fn default() -> Self {
        KeepAliveConfig {
            max_sleep: Duration::from_secs(30),
            max_parallel: 4,
            shutdown_grace: Duration::from_secs(5),
            policy: Policy::default(),
        }
    }
}

/// Starts the engine.
pub struct KeepAlive;

impl KeepAlive {
    /// Runs the engine over `host` (the Manager) on the current tokio runtime until the handle
    /// is shut down or dropped.
    pub fn spawn<H: KeepAliveHost>(host: Arc<H>) -> KeepAliveHandle {
        Self::spawn_with(host, KeepAliveConfig::default())
    }

    pub fn spawn_with<H: KeepAliveHost>(host: Arc<H>, config: KeepAliveConfig) -> KeepAliveHandle {
        let (stop_tx, stop_rx) = watch::channel(false);
        let wake = host.wake_signal();
        let stats = Arc::new(EngineStats::default());
        let engine = Engine {
            host,
            config,
            wake: wake.clone(),
            stop: stop_rx,
            stats: stats.clone(),
            states: HashMap::new(),
            in_flight: HashSet::new(),
            tasks: HashMap::new(),
            cooldown: HashMap::new(),
            idle_rounds: HashMap::new(),
        };
        let task = tokio::spawn(engine.run());
        KeepAliveHandle {
            stop: stop_tx,
            wake,
            stats,
            task: Some(task),
        }
    }
}

/// Counters for tests and benchmarks.
#[derive(Debug, Default)]
struct EngineStats {
    rounds: std::sync::atomic::AtomicU64,
    checks: std::sync::atomic::AtomicU64,
}

/// Controls a running engine. Dropping it stops the engine (without waiting).
pub struct KeepAliveHandle {
    stop: watch::Sender<bool>,
    wake: Arc<Notify>,
    stats: Arc<EngineStats>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for KeepAliveHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAliveHandle")
            .field("rounds", &self.rounds())
            .field("checks", &self.checks())
            .finish()
    }
}

impl KeepAliveHandle {
    /// Look at the clock and the accounts now (e.g. after the machine woke up).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// How many rounds the engine ran (each reads the accounts once).
    pub fn rounds(&self) -> u64 {
        self.stats.rounds.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many checks it started (refresh, re-login, validation, warning, expiry).
    pub fn checks(&self) -> u64 {
        self.stats.checks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops the engine: running checks get `shutdown_grace` to finish (a refresh cut short is
    /// safe: rotated tokens are saved before they are used, docs/architecture.md "Storage"),
    /// then it returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for KeepAliveHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

struct Engine {
    host: Arc<dyn KeepAliveHost>,
    config: KeepAliveConfig,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
    stats: Arc<EngineStats>,
    /// The state last shown per account id, to emit `StateChanged` on a change.
    states: HashMap<String, State>,
    in_flight: HashSet<String>,
    /// Which account each running check task is for.
    tasks: HashMap<tokio::task::Id, String>,
    /// Accounts left alone until then (their last check panicked).
    cooldown: HashMap<String, DateTime<Utc>>,
    /// Checks in a row that changed nothing, per account (a guard against tight loops).
    idle_rounds: HashMap<String, u32>,
}

/// What a finished check reports back to the loop.
struct Done {
    account_id: String,
    progressed: bool,
}

impl Engine {
    async fn run(mut self) {
        let mut checks: JoinSet<Done> = JoinSet::new();
        loop {
            if *self.stop.borrow() {
                break;
            }
            self.stats
                .rounds
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let next = match self.round(&mut checks).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e.message, "keep-alive round failed");
                    self.host.now() + TimeDelta::seconds(5)
                }
            };
            let now = self.host.now();
            let sleep = (next - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(self.config.max_sleep);
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
                Some(done) = checks.join_next_with_id(), if !checks.is_empty() => {
                    self.finished(done);
                }
                _ = self.stop.changed() => {}
            }
            // Collect whatever else finished meanwhile.
            while let Some(done) = checks.try_join_next_with_id() {
                self.finished(done);
            }
        }
        // Shutting down: let running checks finish for a moment, then cancel them.
        let grace = tokio::time::sleep(self.config.shutdown_grace);
        tokio::pin!(grace);
        while !checks.is_empty() {
            tokio::select! {
                _ = &mut grace => break,
                Some(done) = checks.join_next_with_id() => self.finished(done),
            }
        }
        checks.shutdown().await;
    }

    fn finished(&mut self, done: Result<(tokio::task::Id, Done), tokio::task::JoinError>) {
        match done {
            Ok((task, d)) => {
                self.tasks.remove(&task);
                self.in_flight.remove(&d.account_id);
                if d.progressed {
                    self.idle_rounds.remove(&d.account_id);
                } else {
                    *self.idle_rounds.entry(d.account_id).or_default() += 1;
                }
            }
            Err(e) => {
                // A check that panicked: its account is planned again next round, after a pause.
                tracing::warn!(error = %e, "a keep-alive check ended abnormally");
                if let Some(id) = self.tasks.remove(&e.id()) {
                    self.in_flight.remove(&id);
                    let idle = self.idle_rounds.entry(id.clone()).or_default();
                    let pause = self.config.policy.backoff(*idle, rand::random());
                    *idle += 1;
                    self.cooldown.insert(id, self.host.now() + pause);
                }
            }
        }
    }

    /// One look at every account: plan, start due checks, emit state changes. Returns when the
    /// engine should look again.
    async fn round(&mut self, checks: &mut JoinSet<Done>) -> crate::Result<DateTime<Utc>> {
        let accounts = self.host.snapshot().await?;
        let now = self.host.now();
        let mut next = now + TimeDelta::from_std(self.config.max_sleep).unwrap_or(TimeDelta::MAX);
        let mut seen = HashSet::new();
        for entry in accounts {
            let id = entry.row.account.id.clone();
            seen.insert(id.clone());

            // State changes (also those of the clock alone: valid → expiring → expired).
            let state = entry.state.clone();
            match self.states.insert(id.clone(), state.clone()) {
                Some(old) if old != state => self.host.state_changed(&entry.row.account, state),
                _ => {}
            }
            for t in state_change_points(&entry.row, entry.warning_window) {
                if t > now {
                    next = next.min(t);
                }
            }

            // A running check writes the account's next plan itself.
            if self.in_flight.contains(&id) {
                continue;
            }
            if let Some(until) = self.cooldown.get(&id).copied() {
                if until > now {
                    next = next.min(until);
                    continue;
                }
                self.cooldown.remove(&id);
            }
            // The plan: the stored one if it was made for this session, else a new one.
            let plan = if entry.schedule.generation == Some(entry.row.session.generation) {
                stored_plan(&entry.schedule)
            } else {
                let plan = self.config.policy.plan(&entry.facts(), now, rand::random());
                self.store_plan(&entry, plan).await;
                plan
            };
            // A transient failure recorded by someone else (a CLI refresh) may come sooner.
            let plan = match (&entry.row.session.state, plan) {
                (StoredState::Retrying { next_attempt, .. }, Some(p))
                    if *next_attempt < p.at && p.kind.contacts_server() =>
                {
                    Some(Plan {
                        at: *next_attempt,
                        kind: p.kind,
                    })
                }
                (_, p) => p,
            };
            let Some(plan) = plan else { continue };
            if plan.at > now {
                next = next.min(plan.at);
                continue;
            }
            if self.in_flight.len() >= self.config.max_parallel.max(1) {
                // A finishing check wakes the loop.
                continue;
            }
            self.in_flight.insert(id.clone());
            self.stats
                .checks
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let job = Check {
                host: self.host.clone(),
                policy: self.config.policy.clone(),
                account: entry,
                plan,
                idle: self.idle_rounds.get(&id).copied().unwrap_or(0),
            };
            let handle = checks.spawn(job.run());
            self.tasks.insert(handle.id(), id);
        }
        self.states.retain(|id, _| seen.contains(id));
        self.idle_rounds.retain(|id, _| seen.contains(id));
        self.cooldown.retain(|id, _| seen.contains(id));
        Ok(next)
    }

    async fn store_plan(&self, entry: &Watched, plan: Option<Plan>) {
        let mut schedule = entry.schedule.clone();
        schedule.generation = Some(entry.row.session.generation);
        schedule.next_check_at = plan.map(|p| p.at);
        schedule.kind = plan.map(|p| p.kind.as_str().to_owned());
        if let Err(e) = self
            .host
            .set_schedule(&entry.row.account.id, schedule)
            .await
        {
            tracing::warn!(error = %e.message, "cannot store a keep-alive plan");
        }
    }
}

/// The times at which the shown state of a valid session changes by the clock alone.
fn state_change_points(row: &AccountRow, window: TimeDelta) -> Vec<DateTime<Utc>> {
    match (
        &row.session.state,
        row.session.info.as_ref().and_then(|i| i.expires_at),
    ) {
        (StoredState::Valid, Some(exp)) => vec![exp - window, exp],
        _ => vec![],
    }
}

fn stored_plan(s: &Schedule) -> Option<Plan> {
    Some(Plan {
        at: s.next_check_at?,
        kind: CheckKind::parse(s.kind.as_deref()?)?,
    })
}

fn human(d: TimeDelta) -> String {
    let secs = d.num_seconds().max(0);
    if secs >= 2 * 86_400 {
        format!("{} days", secs / 86_400)
    } else if secs >= 2 * 3600 {
        format!("{} hours", secs / 3600)
    } else if secs >= 120 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{secs} seconds")
    }
}

/// One due check of one account, run as its own task.
struct Check {
    host: Arc<dyn KeepAliveHost>,
    policy: Policy,
    account: Watched,
    plan: Plan,
    /// Earlier checks of this account in a row that changed nothing.
    idle: u32,
}

impl Check {
    async fn run(self) -> Done {
        let id = self.account.row.account.id.clone();
        let progressed = match self.plan.kind {
            CheckKind::Warn => self.warn().await,
            CheckKind::Expire => self.expire().await,
            kind => self.renew(kind).await,
        };
        Done {
            account_id: id,
            progressed,
        }
    }

    /// "This session will die in X and cannot be renewed without you."
    async fn warn(mut self) -> bool {
        let host = &self.host;
        let Some(expires) = self
            .account
            .row
            .session
            .info
            .as_ref()
            .and_then(|i| i.expires_at)
        else {
            return false;
        };
        let now = host.now();
        if expires <= now {
            // Too late to warn (the app was closed through the window).
            return self.expire().await;
        }
        let reason = self.policy.unattended_reason(&self.account.facts());
        let message = format!(
            "this session ends in {} ({}) and cannot be renewed without you: {reason}",
            human(expires - now),
            expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        host.expiring_unattended(&self.account.row.account, expires, expires - now, message)
            .await;
        self.account.schedule.warned_for = Some(expires);
        self.store_next(now).await;
        true
    }

    /// The session reached its expiry with nothing to renew it: say so once (the engine's
    /// state tracking emits the `StateChanged`).
    async fn expire(mut self) -> bool {
        let host = &self.host;
        let (row, schedule) = (&self.account.row, &mut self.account.schedule);
        host.expired(&row.account, "the session expired; log in again".to_owned())
            .await;
        schedule.warned_for = row.session.info.as_ref().and_then(|i| i.expires_at);
        schedule.next_check_at = None;
        schedule.kind = None;
        schedule.generation = Some(row.session.generation);
        if let Err(e) = host.set_schedule(&row.account.id, schedule.clone()).await {
            tracing::warn!(error = %e.message, "cannot store a keep-alive plan");
        }
        true
    }

    /// Refresh, re-login or validation through the Manager's single-flight path.
    async fn renew(mut self, kind: CheckKind) -> bool {
        let host = self.host.clone();
        let expires_before = self
            .account
            .row
            .session
            .info
            .as_ref()
            .and_then(|i| i.expires_at);
        let result = host.check(&self.account.row, kind).await;
        // Read what the check (or another process) left.
        let fresh = match host.watched(&self.account.row.account.id).await {
            Ok(Some(r)) => r,
            // Removed meanwhile.
            Ok(None) => return true,
            Err(e) => {
                tracing::warn!(error = %e.message, "keep-alive cannot re-read an account");
                return false;
            }
        };
        let row = fresh.row.clone();
        self.account = fresh;
        let progressed = match &result {
            Ok(Renewal::Skipped) => true,
            Ok(Renewal::Renewed | Renewal::Relogged) => {
                let expires_after = row.session.info.as_ref().and_then(|i| i.expires_at);
                if kind == CheckKind::Refresh
                    && expires_before.is_some()
                    && expires_after <= expires_before
                {
                    // The refresh gave no later expiry (Steedos when refreshTokens is broken).
                    self.account.schedule.refresh_stalled_for = expires_after;
                }
                true
            }
            Ok(Renewal::Validated) => true,
            Ok(Renewal::Unattended) => {
                let expires = row.session.info.as_ref().and_then(|i| i.expires_at);
                match kind {
                    CheckKind::Relogin => self.account.schedule.relogin_blocked_for = expires,
                    CheckKind::Refresh => {
                        self.account.schedule.refresh_stalled_for = expires;
                        if row.account.remember_password {
                            self.account.schedule.relogin_blocked_for = expires;
                        }
                    }
                    _ => {}
                }
                true
            }
            Err(e) if e.code == ErrorCode::NeedsLogin => true,
            Err(e) if e.code.is_transient() => true,
            Err(e) => {
                tracing::debug!(error = %e.message, "keep-alive check failed");
                false
            }
        };
        let now = host.now();
        let planned = self.store_next(now).await;
        // Nothing moved and the same check would be due again: back off instead of looping.
        if let (false, Some(p)) = (progressed, planned)
            && p.at <= now + self.policy.min_interval
        {
            let delay = self.policy.backoff(self.idle, rand::random());
            let at = now + delay.max(self.policy.min_interval);
            self.account.schedule.next_check_at = Some(at);
            self.account.schedule.kind = Some(p.kind.as_str().to_owned());
            let _ = host
                .set_schedule(&self.account.row.account.id, self.account.schedule.clone())
                .await;
            let err = result
                .err()
                .unwrap_or_else(|| Error::internal("no progress"));
            host.check_stalled(&self.account.row.account, err.display_line(), at);
        }
        progressed
    }

    /// Plans the next check from the current facts and stores it. Returns the plan.
    async fn store_next(&mut self, now: DateTime<Utc>) -> Option<Plan> {
        let plan = self.policy.plan(&self.account.facts(), now, rand::random());
        let schedule = &mut self.account.schedule;
        schedule.generation = Some(self.account.row.session.generation);
        schedule.next_check_at = plan.map(|p| p.at);
        schedule.kind = plan.map(|p| p.kind.as_str().to_owned());
        if let Err(e) = self
            .host
            .set_schedule(&self.account.row.account.id, schedule.clone())
            .await
        {
            tracing::warn!(error = %e.message, "cannot store a keep-alive plan");
        }
        plan
    }
}
